//! Webhooks end to end: `keyway serve` as a process (so that it can be killed with deliveries
//! pending) delivering to receivers in this test, which check every signature with the
//! secret as the Standard Webhooks specification says (computed here, independently of the
//! daemon's code). The daemon runs on a virtual clock: its retries wait for the test to move
//! time on, never for the wall clock.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{CLOCK_START, Daemon, data_dir, post, serve_command};
use hmac::{KeyInit, Mac};
use serde_json::Value;

/// One delivery as the receiver got it.
#[derive(Clone, Debug)]
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Delivery {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// The Standard Webhooks signature, computed here: HMAC-SHA256 under the base64 after
/// `whsec_`, of `id.timestamp.body`, base64, after `v1,`.
fn verify(secret: &str, id: &str, timestamp: &str, body: &str, header: &str) -> bool {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    // The header may carry several signatures, space-separated.
    header.split(' ').any(|s| s == expected)
}

const UP: u8 = 0;
/// Answers 503.
const FAILING: u8 = 1;
/// Reads the request and never answers.
const SILENT: u8 = 2;

/// An HTTP receiver on a free loopback port.
struct Receiver {
    port: u16,
    mode: Arc<AtomicU8>,
    got: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    fn start(mode: u8) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(mode));
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let (m, g) = (Arc::clone(&mode), Arc::clone(&got));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let (m, g) = (Arc::clone(&m), Arc::clone(&g));
                std::thread::spawn(move || serve_connection(stream, &m, &g));
            }
        });
        Receiver { port, mode, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/keyway", self.port)
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn got(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

/// Requests on one connection, kept alive, until the client closes it.
fn serve_connection(stream: TcpStream, mode: &AtomicU8, got: &Mutex<Vec<Delivery>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        assert!(line.starts_with("POST /hooks/keyway "), "{line}");
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end().to_string();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let length: usize = get("content-length").parse().unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        assert_eq!(get("content-type"), "application/json");
        match mode.load(Ordering::SeqCst) {
            UP => {
                got.lock().unwrap().push(Delivery {
                    id: get("webhook-id"),
                    timestamp: get("webhook-timestamp"),
                    signature: get("webhook-signature"),
                    body: String::from_utf8(body).unwrap(),
                });
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
            }
            FAILING => {
                let _ = stream.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown",
                );
            }
            _ => {
                // Holds the connection and never answers.
                std::thread::sleep(Duration::from_secs(3_600));
                return;
            }
        }
    }
}

fn serve(data: &Path) -> Daemon {
    let mut command = serve_command(data, common::ADMIN);
    command.args(["--clock-start", CLOCK_START, "--virtual-clock"]);
    Daemon::spawn(command)
}

/// `serve`, with card 1001 let through every door.
fn serve_with_card(data: &Path) -> Daemon {
    let daemon = serve(data);
    post(
        &daemon,
        "/api/credentials",
        r#"{"number": "1001", "doors": ["*"]}"#,
    );
    daemon
}

/// Adds an endpoint for the access events; its id and secret.
fn add_webhook(daemon: &Daemon, url: &str) -> (String, String) {
    let answer = post(
        daemon,
        "/api/webhooks",
        &format!(r#"{{"url": "{url}", "kinds": ["access_granted", "access_denied"]}}"#),
    );
    (
        answer["id"].as_str().unwrap().to_string(),
        answer["secret"].as_str().unwrap().to_string(),
    )
}

/// `n` badges, alternating a known and an unknown card; their sequence numbers.
fn badges(daemon: &Daemon, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let card = if i % 2 == 0 { "1001" } else { "9999" };
            let event = post(
                daemon,
                "/api/sim/badge",
                &format!(r#"{{"door": "server", "credential": "{card}"}}"#),
            );
            event["seq"].as_u64().unwrap()
        })
        .collect()
}

/// Waits (at most 30 s) until the receiver has every one of `seqs`, moving the daemon's
/// clock on by `step` seconds between looks (so that its retries come).
fn wait_for_all(daemon: &Daemon, receiver: &Receiver, seqs: &[u64], step: u32) -> Vec<Delivery> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = receiver.got();
        let seen: std::collections::BTreeSet<u64> = got
            .iter()
            .map(|d| d.json()["seq"].as_u64().unwrap())
            .collect();
        if seqs.iter().all(|s| seen.contains(s)) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered within 30 s: {:?} (got {seen:?})",
            seqs.iter()
                .filter(|s| !seen.contains(s))
                .collect::<Vec<_>>()
        );
        if step > 0 {
            post(
                daemon,
                "/api/sim/clock",
                &format!(r#"{{"advance_seconds": {step}}}"#),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every delivery is signed with the secret; the first deliveries of the events are in the
/// order of the log, each once (a repeat, allowed by at least once, comes with its id).
fn check_signed_and_in_order(got: &[Delivery], secret: &str, seqs: &[u64]) {
    let mut first_seen = Vec::new();
    for delivery in got {
        assert!(
            verify(
                secret,
                &delivery.id,
                &delivery.timestamp,
                &delivery.body,
                &delivery.signature
            ),
            "a bad signature: {delivery:?}"
        );
        let seq = delivery.json()["seq"].as_u64().unwrap();
        assert_eq!(
            delivery.id.split('_').nth(1).unwrap(),
            seq.to_string(),
            "the id names the event"
        );
        if !first_seen.contains(&seq) {
            first_seen.push(seq);
        }
    }
    let wanted: Vec<u64> = first_seen
        .iter()
        .copied()
        .filter(|s| seqs.contains(s))
        .collect();
    assert_eq!(wanted, seqs, "in the log's order");
}

#[test]
fn a_burst_arrives_signed_and_in_order_while_a_silent_receiver_delays_no_one() {
    let dir = data_dir("webhooks-burst");
    let daemon = serve_with_card(&dir);
    let receiver = Receiver::start(UP);
    let silent = Receiver::start(SILENT);
    let (id, secret) = add_webhook(&daemon, &receiver.url());
    let (silent_id, _) = add_webhook(&daemon, &silent.url());
    let seqs = badges(&daemon, 200);
    let got = wait_for_all(&daemon, &receiver, &seqs, 0);
    check_signed_and_in_order(&got, &secret, &seqs);
    assert_eq!(got[0].json()["kind"], "access_granted");
    assert_eq!(got[1].json()["kind"], "access_denied");
    assert_eq!(got[0].json()["door"], "server");
    // The test's own check would see a changed body, a changed time or another secret.
    let d = &got[0];
    assert!(!verify(
        &secret,
        &d.id,
        &d.timestamp,
        &d.body.replace("server", "front"),
        &d.signature
    ));
    assert!(!verify(&secret, &d.id, "1", &d.body, &d.signature));
    let other = post(
        &daemon,
        "/api/webhooks",
        &format!(r#"{{"url": "{}", "kinds": ["*"]}}"#, receiver.url()),
    );
    assert!(!verify(
        other["secret"].as_str().unwrap(),
        &d.id,
        &d.timestamp,
        &d.body,
        &d.signature
    ));

    // The list shows the endpoints without their secrets; the silent one is still owed.
    let (status, list) = daemon.request("GET", "/api/webhooks", None).unwrap();
    assert_eq!(status, 200);
    assert!(list.to_string().find("whsec_").is_none(), "{list}");
    let silent_row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == silent_id.as_str())
        .unwrap();
    assert!(
        silent_row["backlog"].as_u64().unwrap() >= 199,
        "{silent_row}"
    );
    // Each event's outcome, newest first, as soon as it is known.
    let deadline = Instant::now() + Duration::from_secs(20);
    let deliveries = loop {
        let (status, deliveries) = daemon
            .request(
                "GET",
                &format!("/api/webhooks/{id}/deliveries?limit=5"),
                None,
            )
            .unwrap();
        assert_eq!(status, 200);
        if deliveries[0]["seq"] == *seqs.last().unwrap() {
            break deliveries;
        }
        assert!(Instant::now() < deadline, "not recorded: {deliveries}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["attempts"], 1);
    assert_eq!(deliveries[0]["seq"], *seqs.last().unwrap());

    // Removed: no more deliveries, and it is gone from the list.
    let (status, _) = daemon
        .request("DELETE", &format!("/api/webhooks/{id}"), None)
        .unwrap();
    assert_eq!(status, 204);
    let (status, _) = daemon
        .request("GET", &format!("/api/webhooks/{id}"), None)
        .unwrap();
    assert_eq!(status, 404);
}

#[test]
fn a_receiver_down_for_a_minute_loses_nothing() {
    let dir = data_dir("webhooks-down");
    let daemon = serve_with_card(&dir);
    let receiver = Receiver::start(FAILING);
    let (id, secret) = add_webhook(&daemon, &receiver.url());
    let seqs = badges(&daemon, 20);
    // A minute of the daemon's time, a second at a time: it retries with backoff.
    for _ in 0..60 {
        post(&daemon, "/api/sim/clock", r#"{"advance_seconds": 1}"#);
        std::thread::sleep(Duration::from_millis(5));
    }
    let (_, deliveries) = daemon
        .request("GET", &format!("/api/webhooks/{id}/deliveries"), None)
        .unwrap();
    let first = &deliveries.as_array().unwrap()[0];
    assert_eq!(first["status"], "retrying", "{deliveries}");
    assert_eq!(first["seq"], seqs[0]);
    assert!(first["attempts"].as_u64().unwrap() >= 4, "{first}");
    assert_eq!(first["last_error"], "HTTP 503");
    assert!(receiver.got().is_empty());
    receiver.set(UP);
    let got = wait_for_all(&daemon, &receiver, &seqs, 5);
    check_signed_and_in_order(&got, &secret, &seqs);
}

#[test]
fn deliveries_pending_at_a_kill_are_made_after_the_restart() {
    let dir = data_dir("webhooks-kill");
    let daemon = serve_with_card(&dir);
    let receiver = Receiver::start(FAILING);
    let (_, secret) = add_webhook(&daemon, &receiver.url());
    let seqs = badges(&daemon, 10);
    daemon.kill();
    receiver.set(UP);
    let daemon = serve(&dir);
    let got = wait_for_all(&daemon, &receiver, &seqs, 1);
    check_signed_and_in_order(&got, &secret, &seqs);
}
