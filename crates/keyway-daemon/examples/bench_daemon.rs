//! The daemon's figures: CSV import and start-up with 1,000,000 credentials, resident memory,
//! badge round trips over the API at 500 requests per second, and durable events per second
//! through the controller and the writer.
//!
//! ```sh
//! cargo build --release && cargo build --release -p keyway-daemon --example bench_daemon
//! ./target/release/examples/bench_daemon
//! ```
//!
//! It runs the release `keyway` binary beside it (`target/release/keyway`) for the start-up,
//! memory and round-trip figures, so those are the real program's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyway_core::controller::Input;
use keyway_core::credentials::CredentialStore;
use keyway_core::site::DoorIdx;
use keyway_daemon::hardware::SimulatedOutputs;
use keyway_daemon::service::Service;
use keyway_daemon::writer::Writer;
use keyway_store::Store;

const TOKEN: &str = "bench-admin-token-Vq81zXw3";

fn main() {
    let root = std::env::temp_dir().join(format!("keyway-bench-daemon-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let site = keyway_core::parse_site("demo", keyway_daemon::DEMO_SITE).unwrap();

    // 1. CSV import of a million credentials (the same code as `keyway import-credentials`).
    // BENCH_CREDENTIALS sets another number, to look at the later figures quickly.
    let count: u32 = std::env::var("BENCH_CREDENTIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let doors = ["front", "office-entry", "server", "stair-2", "rear"];
    let mut csv = String::from("number,holder,doors,schedule,valid_from,valid_until\n");
    for i in 0..count {
        csv += &format!(
            "{}:{},Holder {i},{};{},,,\n",
            100 + i % 155,
            10_000 + i,
            doors[i as usize % 5],
            doors[(i as usize + 2) % 5]
        );
    }
    let data = root.join("data");
    let started = Instant::now();
    let rows = keyway_daemon::import::parse_csv(&site, &csv).expect("valid CSV");
    let checked = started.elapsed();
    let mut store = Store::open(&data).unwrap();
    store.put_credentials(&rows).unwrap();
    drop(store);
    println!(
        "import {count} credentials from CSV: {:.2} s ({:.2} s checking, {:.2} s writing)",
        started.elapsed().as_secs_f64(),
        checked.as_secs_f64(),
        (started.elapsed() - checked).as_secs_f64()
    );
    drop(rows);
    drop(csv);

    // 2. Start-up of the real daemon on those credentials, and its memory.
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("keyway");
    let started = Instant::now();
    let mut child = Command::new(&binary)
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("KEYWAY_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run target/release/keyway (build it with cargo build --release)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let start_up = started.elapsed();
    let addr: std::net::SocketAddr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let rss = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("0")
            .parse::<f64>()
            .unwrap()
            / 1024.0
    };
    println!(
        "start-up to serving with {count} credentials: {:.2} s; resident {:.0} MiB (peak {:.0} MiB)",
        start_up.as_secs_f64(),
        rss("VmRSS:"),
        rss("VmHWM:")
    );

    // 3. Badge round trips at 500 requests per second, open loop, on a kept-alive connection.
    // The import above left hundreds of megabytes for the kernel to write back; that would
    // stall every fsync for a while, so let it finish first.
    let _ = Command::new("sync").status();
    let mut connection = TcpStream::connect(addr).unwrap();
    connection.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(connection.try_clone().unwrap());
    let mut latencies = Vec::new();
    let mut service_times = Vec::new();
    let interval = Duration::from_micros(2_000);
    let first = Instant::now();
    for i in 0..10_000u32 {
        let due = first + interval * i;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let body = format!(
            r#"{{"door": "{}", "credential": "{}:{}"}}"#,
            doors[i as usize % 5],
            100 + i % 155,
            10_000 + i * 97 % 1_000_000
        );
        let request = format!(
            "POST /api/sim/badge HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let sent = Instant::now();
        connection.write_all(request.as_bytes()).unwrap();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header == "\r\n" {
                break;
            }
            if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        // From when the request was due, so a stall is counted for every request it delays.
        latencies.push(due.elapsed().as_micros() as u64);
        service_times.push(sent.elapsed().as_micros() as u64);
    }
    latencies.sort_unstable();
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    println!(
        "badge round trip at 500/s over {} requests: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        latencies[latencies.len() - 1] as f64 / 1000.0
    );
    service_times.sort_unstable();
    let mut worst: Vec<u64> = service_times.iter().rev().take(20).copied().collect();
    worst.reverse();
    println!(
        "service time (send to answer): p50 {:.2} ms, p99 {:.2} ms; slowest 20 (us): {:?}",
        service_times[5000] as f64 / 1000.0,
        service_times[9900] as f64 / 1000.0,
        worst
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // 4. Durable events per second through the controller and the writer (group commit).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Store::open(&root.join("throughput")).unwrap();
        let (live, _) = tokio::sync::broadcast::channel(1024);
        let clock: Arc<dyn keyway_daemon::clock::Clock> = Arc::new(keyway_daemon::clock::SystemClock::new());
        let (writer, _thread) = Writer::start(Box::new(store), live, Arc::clone(&clock));
        let site = Arc::new(site);
        let service = Service::start(Arc::clone(&site), CredentialStore::new(), Vec::new(), writer, Box::new(SimulatedOutputs::default()), Vec::new(), clock);
        let started = Instant::now();
        let tasks: Vec<_> = (0..512u32)
            .map(|t| {
                let service = service.clone();
                tokio::spawn(async move {
                    let mut events = 0;
                    for i in 0..400u32 {
                        let door = DoorIdx((t + i) % 6);
                        let input = if i % 2 == 0 { Input::DoorOpen { door } } else { Input::DoorClose { door } };
                        events += service.input(input, keyway_daemon::service::Origin::new(keyway_daemon::service::Source::Sim)).await.unwrap().len();
                    }
                    events
                })
            })
            .collect();
        let mut events = 0;
        for task in tasks {
            events += task.await.unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!("durable events through the daemon: {events} in {elapsed:.2} s = {:.0} events/s (each acknowledged after its commit)", events as f64 / elapsed);
    });
    let _ = std::fs::remove_dir_all(&root);
    let _: PathBuf = root;
}
