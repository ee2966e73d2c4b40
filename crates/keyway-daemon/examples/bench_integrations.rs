//! Event to MQTT publish and event to webhook delivery, on loopback, at 500 badges per second;
//! then the badge round trip with no webhook, and with ten receivers of which one never
//! answers.
//!
//! ```sh
//! apt-get install mosquitto
//! cargo build --release && cargo run --release -p keyway-daemon --example bench_integrations
//! ```
//!
//! It starts Debian's mosquitto (`KEYWAY_MOSQUITTO`, default /usr/sbin/mosquitto) on a free
//! port and the release `keyway serve --mqtt` on the demo site (the machine's clock, from a
//! Sunday night so that the schedule stays out of it), subscribes to `<base>/events` and
//! runs a webhook receiver; each event's latency is taken from the moment its badge request
//! was sent to the moment the subscriber or the receiver has it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-Vq81zXw3";
const RATE_MICROS: u64 = 2_000;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A kept-alive connection to the daemon.
struct Api {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Api {
    fn connect(addr: &str) -> Api {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Api {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    fn post(&mut self, path: &str, body: &str) -> String {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(request.as_bytes()).unwrap();
        let mut length = 0;
        loop {
            let mut header = String::new();
            self.reader.read_line(&mut header).unwrap();
            if header == "\r\n" {
                break;
            }
            if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        String::from_utf8(body).unwrap()
    }
}

fn seq_of(json: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value["seq"].as_u64().unwrap()
}

/// Received (seq → when), by whatever listens.
type Arrivals = Arc<Mutex<HashMap<u64, Instant>>>;

/// A webhook receiver: records each event's arrival, or (`silent`) never answers.
fn receiver(silent: bool) -> (u16, Arrivals) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let arrivals: Arrivals = Arc::default();
    let kept = Arc::clone(&arrivals);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            let kept = Arc::clone(&kept);
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut length = 0;
                    let mut first = true;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" && !first {
                            break;
                        }
                        first = false;
                        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:")
                        {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    if silent {
                        std::thread::sleep(Duration::from_secs(3_600));
                        return;
                    }
                    let at = Instant::now();
                    kept.lock()
                        .unwrap()
                        .insert(seq_of(std::str::from_utf8(&body).unwrap()), at);
                    stream
                        .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    (port, arrivals)
}

struct Daemon {
    child: Child,
    addr: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &std::path::Path, mqtt: Option<u16>) -> Daemon {
    let binary = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/release/keyway");
    let mut command = Command::new(binary);
    command
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--clock-start", "2026-12-06T09:00:00Z"])
        .env("KEYWAY_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(port) = mqtt {
        command.args(["--mqtt", &format!("mqtt://127.0.0.1:{port}")]);
    }
    let mut child = command
        .spawn()
        .expect("run target/release/keyway (build it with cargo build --release)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_string();
    Daemon { child, addr }
}

/// `n` badges at 500/s, open loop; (seq, when sent, round trip in µs from when it was due).
fn badges(api: &mut Api, n: u32) -> Vec<(u64, Instant, u64)> {
    let doors = ["front", "server", "office-entry", "stair-2", "rear"];
    let first = Instant::now();
    (0..n)
        .map(|i| {
            let due = first + Duration::from_micros(RATE_MICROS * i as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let body = format!(
                r#"{{"door": "{}", "credential": "{}"}}"#,
                doors[i as usize % doors.len()],
                if i % 4 == 0 { "9999" } else { "1001" }
            );
            let sent = Instant::now();
            let answer = api.post("/api/sim/badge", &body);
            (seq_of(&answer), sent, due.elapsed().as_micros() as u64)
        })
        .collect()
}

fn percentiles(mut micros: Vec<u64>) -> String {
    micros.sort_unstable();
    let at = |p: f64| micros[((micros.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} events)",
        at(0.5),
        at(0.99),
        micros[micros.len() - 1] as f64 / 1000.0,
        micros.len()
    )
}

/// Waits until every seq has arrived (at most 10 s) and gives the latencies.
fn latencies(sent: &[(u64, Instant, u64)], arrivals: &Arrivals) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let got = arrivals.lock().unwrap();
        if sent.iter().all(|(seq, _, _)| got.contains_key(seq)) {
            break;
        }
        drop(got);
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = arrivals.lock().unwrap();
    let missing = sent
        .iter()
        .filter(|(seq, _, _)| !got.contains_key(seq))
        .count();
    assert_eq!(missing, 0, "{missing} events never arrived");
    sent.iter()
        .map(|(seq, at, _)| got[seq].duration_since(*at).as_micros() as u64)
        .collect()
}

fn main() {
    let root =
        std::env::temp_dir().join(format!("keyway-bench-integrations-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();

    // The broker.
    let program = std::env::var("KEYWAY_MOSQUITTO").unwrap_or("/usr/sbin/mosquitto".to_string());
    let port = free_port();
    let conf = root.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .unwrap();
    let mut broker = Command::new(&program)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto (apt-get install mosquitto)");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }

    // 1. Event to MQTT and to a webhook, at 500 badges per second.
    let daemon = serve(&root.join("data"), Some(port));
    let mut api = Api::connect(&daemon.addr);
    api.post("/api/credentials", r#"{"number": "1001", "doors": ["*"]}"#);
    let (hook_port, hook_arrivals) = receiver(false);
    api.post(
        "/api/webhooks",
        &format!(r#"{{"url": "http://127.0.0.1:{hook_port}/hook", "kinds": ["*"]}}"#),
    );
    let mqtt_arrivals: Arrivals = Arc::default();
    let kept = Arc::clone(&mqtt_arrivals);
    let mut options = rumqttc::MqttOptions::new("bench", "127.0.0.1", port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = rumqttc::Client::new(options, 10_000);
    client
        .subscribe("keyway/riverside-office/events", rumqttc::QoS::AtLeastOnce)
        .unwrap();
    std::thread::spawn(move || {
        for notification in connection.iter() {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = notification {
                let at = Instant::now();
                kept.lock()
                    .unwrap()
                    .insert(seq_of(std::str::from_utf8(&p.payload).unwrap()), at);
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    // Warm up, then measure.
    badges(&mut api, 500);
    let sent = badges(&mut api, 5_000);
    println!(
        "badge request to MQTT message on <base>/events, 500/s: {}",
        percentiles(latencies(&sent, &mqtt_arrivals))
    );
    println!(
        "badge request to webhook delivery, 500/s: {}",
        percentiles(latencies(&sent, &hook_arrivals))
    );
    println!(
        "badge round trip meanwhile: {}",
        percentiles(sent.iter().map(|s| s.2).collect())
    );
    drop(daemon);

    // 2. The badge round trip with no webhook, then with ten of which one never answers.
    for receivers in [0, 10] {
        let _ = Command::new("sync").status();
        let data = root.join(format!("data-{receivers}"));
        let daemon = serve(&data, None);
        let mut api = Api::connect(&daemon.addr);
        api.post("/api/credentials", r#"{"number": "1001", "doors": ["*"]}"#);
        for i in 0..receivers {
            let (port, _) = receiver(i == 0);
            api.post(
                "/api/webhooks",
                &format!(r#"{{"url": "http://127.0.0.1:{port}/hook", "kinds": ["*"]}}"#),
            );
        }
        badges(&mut api, 500);
        let sent = badges(&mut api, 5_000);
        println!(
            "badge round trip at 500/s with {receivers} webhook receivers{}: {}",
            if receivers > 0 {
                " (one never answers)"
            } else {
                ""
            },
            percentiles(sent.iter().map(|s| s.2).collect())
        );
    }
    let _ = broker.kill();
    let _ = broker.wait();
    let _ = std::fs::remove_dir_all(&root);
}
