//! The console's API figures on a big log: the events page and its searches over 10,000,000
//! events, the credential search over 1,000,000 credentials (p50 and p99 of the real
//! server's answers), and the bytes of the console's first load.
//!
//! ```sh
//! cargo build --release && cargo build --release -p keyway-daemon --example bench_console
//! ./target/release/examples/bench_console
//! ```
//!
//! BENCH_EVENTS and BENCH_CREDENTIALS set other sizes. It writes the log and the
//! credentials straight into a data directory, then runs the release `keyway serve` on it
//! (`target/release/keyway`) and asks it over HTTP, one request at a time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyway_store::{CredentialRow, NewEvent, Store};

const TOKEN: &str = "bench-console-token-Vq81zXw3pL";
const FIRST: [&str; 8] = [
    "Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hana",
];
const LAST: [&str; 8] = [
    "Martin", "Ng", "Okafor", "Silva", "Kowalski", "Haddad", "Ito", "Berg",
];

fn size(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let events = size("BENCH_EVENTS", 10_000_000);
    let credentials = size("BENCH_CREDENTIALS", 1_000_000);
    let root = std::env::temp_dir().join(format!("keyway-bench-console-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let data = root.join("data");

    let started = Instant::now();
    let mut store = Store::open(&data).unwrap();
    let rows: Vec<CredentialRow> = (0..credentials)
        .map(|i| CredentialRow {
            number: format!("{}", 1_000_000 + i),
            holder: format!(
                "{} {} {i}",
                FIRST[(i % 8) as usize],
                LAST[((i / 8) % 8) as usize]
            ),
            doors: None,
            levels: Vec::new(),
            schedule: None,
            valid_from: None,
            valid_until: None,
            responder: false,
            disabled: false,
            staff: false,
            pin: None,
            duress_pin: None,
            uses: None,
        })
        .collect();
    store.put_credentials(&rows).unwrap();
    drop(rows);
    println!(
        "{credentials} credentials written in {:.1?}",
        started.elapsed()
    );

    // A day of a busy site: badges at six doors, now and then a forced door.
    let started = Instant::now();
    let doors = [
        "front",
        "office-entry",
        "server",
        "stair-2",
        "stair-exit",
        "rear",
    ];
    let start_ms = 1_780_000_000_000_i64;
    let mut seq = 0_u64;
    while seq < events {
        let batch: Vec<NewEvent> = (0..50_000.min(events - seq))
            .map(|k| {
                let i = seq + k;
                let rare = i.is_multiple_of(10_007);
                NewEvent {
                    at: start_ms + i as i64 * 100,
                    kind: if rare {
                        "door_forced"
                    } else if i.is_multiple_of(3) {
                        "access_denied"
                    } else {
                        "access_granted"
                    }
                    .to_string(),
                    door: Some(doors[(i % 6) as usize].to_string()),
                    credential: (!rare)
                        .then(|| format!("{}", 1_000_000 + (i * 7_919) % credentials.max(1))),
                    reason: None,
                    circuit: None,
                    source: Some("reader".to_string()),
                    actor: None,
                    detail: None,
                }
            })
            .collect();
        seq += batch.len() as u64;
        store.append(batch).unwrap();
    }
    drop(store);
    println!("{events} events written in {:.1?}", started.elapsed());

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
        .args(["--clock-start", "2026-12-06T09:00:00Z"])
        .env("KEYWAY_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "run {} (cargo build --release first): {e}",
                binary.display()
            )
        });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    println!(
        "keyway serve up in {:.1?} (migrations included)",
        started.elapsed()
    );

    let middle = events / 2;
    let cases = [
        (
            "events: the newest 100",
            "/api/events?order=newest&limit=100".to_string(),
        ),
        (
            "events: 100 back from the middle",
            format!("/api/events?order=newest&limit=100&before={middle}"),
        ),
        (
            "events: one door",
            "/api/events?order=newest&limit=100&door=server".to_string(),
        ),
        (
            "events: a rare kind (door_forced)",
            "/api/events?order=newest&limit=100&kind=door_forced".to_string(),
        ),
        (
            "events: one credential",
            "/api/events?order=newest&limit=100&credential=1000007".to_string(),
        ),
        (
            "events: a holder's name",
            "/api/events?order=newest&limit=100&holder=Hana%20Berg%20999".to_string(),
        ),
        (
            "events: an hour, a day ago",
            format!(
                "/api/events?order=newest&limit=100&since={}&until={}",
                ts(start_ms + middle as i64 * 100),
                ts(start_ms + middle as i64 * 100 + 3_600_000)
            ),
        ),
        (
            "events: a door and a rare kind",
            "/api/events?order=newest&limit=100&door=rear&kind=door_forced".to_string(),
        ),
        (
            "credentials: a page by number",
            "/api/credentials/search?limit=50".to_string(),
        ),
        (
            "credentials: a common name",
            "/api/credentials/search?q=alice&limit=50".to_string(),
        ),
        (
            "credentials: a full name",
            "/api/credentials/search?q=hana%20berg%20999&limit=50".to_string(),
        ),
        (
            "credentials: a number's start",
            "/api/credentials/search?q=100099&limit=50".to_string(),
        ),
    ];
    println!("\n| request | p50 | p99 | answer bytes |\n|---|---|---|---|");
    for (name, path) in &cases {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..200 {
            let started = Instant::now();
            let (status, body) = get(addr, path);
            times.push(started.elapsed());
            assert_eq!(status, 200, "{path}: {body}");
            bytes = body.len();
        }
        times.sort();
        println!(
            "| {name} | {:.2?} | {:.2?} | {bytes} |",
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        );
    }

    // The console's first load: the page, its files, and what it asks for before the doors
    // show (session aside).
    let mut paths: Vec<String> = vec!["/".into()];
    paths.extend(
        keyway_daemon::console::FILES
            .iter()
            .map(|f| format!("/console/{}", f.name)),
    );
    paths.extend(
        [
            "/api/site",
            "/api/check",
            "/api/events?order=newest&limit=50",
            "/api/status",
            "/api/readers",
            "/api/alarms",
        ]
        .map(String::from),
    );
    let started = Instant::now();
    let total: usize = paths.iter().map(|p| get(addr, p).1.len()).sum();
    println!(
        "\nfirst load on the demo site: {} requests, {total} bytes of bodies (no compression), served in {:.1?} one after another",
        paths.len(),
        started.elapsed()
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&root);
}

fn ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).to_string();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_string(),
    )
}
