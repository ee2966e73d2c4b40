//! Durable appends per second, by batch size (one transaction, one fsync per batch).
//!
//! `cargo run --release -p keyway-store --example bench_append -- [DIR]`
//!
//! DIR defaults to a fresh directory under the system temp dir; it must be on the disk whose
//! fsync you want to measure.

use std::time::Instant;

use keyway_store::{NewEvent, Store};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("keyway-bench-append-{}", std::process::id()))
        });
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir).expect("open the store");
    for batch in [1usize, 16, 256, 1024, 4096] {
        let total = if batch == 1 { 3_000 } else { 300_000 };
        let events: Vec<NewEvent> = (0..batch)
            .map(|i| NewEvent {
                at: 1_780_000_000_000 + i as i64,
                kind: "access_granted".to_string(),
                door: Some(format!("door-{}", i % 500)),
                credential: Some(format!("123:{}", 10_000 + i)),
                reason: None,
                circuit: None,
                ..Default::default()
            })
            .collect();
        let started = Instant::now();
        let mut written = 0;
        while written < total {
            store.append(events.clone()).expect("append");
            written += batch;
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "batch {batch:>5}: {written} events in {elapsed:.2} s = {:>9.0} events/s ({:.0} commits/s)",
            written as f64 / elapsed,
            (written / batch) as f64 / elapsed
        );
    }
    println!(
        "{}",
        match store.verify().expect("verify") {
            keyway_store::Verification::Intact { events, .. } =>
                format!("chain intact over {events} events"),
            broken => format!("{broken:?}"),
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
}
