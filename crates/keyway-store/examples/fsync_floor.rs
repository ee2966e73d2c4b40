//! The disk's own floor for a durable answer at 500 a second: a 4 KB write and `fdatasync`
//! (what one small commit costs at least), paced every 2 ms, timed open loop from when each
//! was due and from when it started. No SQLite, no HTTP: whatever this shows, a badge that
//! waits for its event to be durable cannot beat.
//!
//! `cargo run --release -p keyway-store --example fsync_floor -- [DIR]`

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("keyway-fsync-floor-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("create the test file");
    // Allocated and synced up front, as a WAL in steady use is: the syncs below change data only.
    file.set_len(4096 * 4096).unwrap();
    file.sync_all().unwrap();
    let block = [0x5au8; 4096];
    let (mut from_due, mut alone) = (Vec::new(), Vec::new());
    let first = Instant::now();
    for i in 0..10_000u32 {
        let due = first + Duration::from_micros(2_000) * i;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let started = Instant::now();
        file.write_all_at(&block, u64::from(i % 4096) * 4096)
            .unwrap();
        file.sync_data().unwrap();
        from_due.push(due.elapsed().as_secs_f64() * 1000.0);
        alone.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = std::fs::remove_file(&path);
    for list in [&mut from_due, &mut alone] {
        list.sort_by(f64::total_cmp);
    }
    let at = |list: &[f64], p: f64| list[((list.len() - 1) as f64 * p) as usize];
    println!(
        "4 KB write + fdatasync at 500/s in {}: from when due p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; the write and sync alone p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        dir.display(),
        at(&from_due, 0.5),
        at(&from_due, 0.99),
        at(&from_due, 0.999),
        from_due[from_due.len() - 1],
        at(&alone, 0.5),
        at(&alone, 0.99),
        alone[alone.len() - 1]
    );
}
