//! The fire alarm input to the relay command while the disk is stalled: every write to the
//! database is held 100 ms (an fsync that stalls), and the fire alarm must reach the relays
//! anyway, because life safety does not wait on storage. The target: p99 under 5 ms.
//!
//! ```sh
//! cargo run --release -p keyway-daemon --example bench_fire_stalled_disk
//! ```
//!
//! The demo site runs in the daemon's service over a real SQLite file behind a
//! `FaultyStorage` that stalls every write. Each round the panel's contact goes active (as the
//! GPIO thread hands it over), the time to the first relay change is taken, then the panel
//! clears and the alarm is reset, and the relays settle before the next round.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use keyway_core::controller::Input;
use keyway_core::credentials::CredentialStore;
use keyway_core::site::DoorIdx;
use keyway_daemon::clock::{Clock, SystemClock};
use keyway_daemon::hardware::Outputs;
use keyway_daemon::service::{Origin, Service, Source};
use keyway_daemon::storage::{Faults, FaultyStorage};
use keyway_daemon::writer::Writer;
use keyway_store::Store;

/// Relay changes with the instant they were commanded.
struct TimedRelays(mpsc::Sender<(DoorIdx, bool, Instant)>);

impl Outputs for TimedRelays {
    fn set_relay(&mut self, door: DoorIdx, energized: bool) {
        let _ = self.0.send((door, energized, Instant::now()));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("keyway-bench-fire-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let site = Arc::new(keyway_core::parse_site("demo", keyway_daemon::DEMO_SITE).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (relays, changes) = mpsc::channel();
    let faults = Faults::default();
    let service = runtime.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        let storage = FaultyStorage::new(
            Store::open(&dir).unwrap(),
            faults.clone(),
            dir.join(keyway_store::DATABASE_FILE),
        );
        let (live, _) = tokio::sync::broadcast::channel(1024);
        let (writer, _thread) = Writer::start(Box::new(storage), live, Arc::clone(&clock));
        let service = Service::start(
            Arc::clone(&site),
            CredentialStore::new(),
            Vec::new(),
            writer,
            Box::new(TimedRelays(relays)),
            Vec::new(),
            clock,
        );
        service.snapshot().await.unwrap();
        service
    });
    // Boot: every relay at rest.
    std::thread::sleep(Duration::from_millis(200));
    while changes.try_recv().is_ok() {}
    faults.stall(Duration::from_millis(100));
    let contact = Origin::new(Source::Contact);
    let mut latencies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let sent = Instant::now();
        let _accepted = service
            .submit(Input::FireAlarmInput { active: true }, contact.clone())
            .unwrap();
        let (_, _, at) = changes
            .recv_timeout(Duration::from_secs(5))
            .expect("a relay moved for the fire alarm");
        latencies.push(at.duration_since(sent).as_secs_f64() * 1000.0);
        service
            .submit(Input::FireAlarmInput { active: false }, contact.clone())
            .unwrap();
        service
            .submit(Input::FireAlarmReset, Origin::new(Source::Api))
            .unwrap();
        // Let the relays settle back (and the stalled writer fall further behind).
        std::thread::sleep(Duration::from_millis(20));
        while changes.try_recv().is_ok() {}
    }
    latencies.sort_by(f64::total_cmp);
    let (writes, _) = faults.counts();
    println!(
        "fire alarm input to relay command, every write stalled 100 ms ({rounds} alarms, {writes} writes reached storage meanwhile): median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
