//! The latency of one durable append (one event, one transaction, one fsync), one after the
//! other: what a single badge waits for at the disk.
//!
//! `cargo run --release -p keyway-store --example append_latency -- [DIR] [N]`

use std::time::Instant;

use keyway_store::{NewEvent, Store};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("keyway-append-latency-{}", std::process::id()))
        });
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir).expect("open the store");
    let event = NewEvent {
        at: 0,
        kind: "access_granted".into(),
        door: Some("front".into()),
        credential: Some("1001".into()),
        reason: None,
        circuit: None,
        ..Default::default()
    };
    let mut latencies: Vec<u64> = (0..n)
        .map(|_| {
            let started = Instant::now();
            store.append(vec![event.clone()]).expect("append");
            started.elapsed().as_micros() as u64
        })
        .collect();
    latencies.sort_unstable();
    let at = |p: f64| latencies[((n - 1) as f64 * p) as usize] as f64 / 1000.0;
    println!(
        "one-event commit over {n}: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.99),
        at(0.999),
        latencies[n - 1] as f64 / 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
