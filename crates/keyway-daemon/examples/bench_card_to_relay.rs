//! From a card presented at a real OSDP reader to the relay command, through the daemon's own
//! reader thread, controller and outputs; compared with the bus's poll cycle.
//!
//! ```sh
//! python3 -m venv /tmp/venv-libosdp && /tmp/venv-libosdp/bin/pip install libosdp==3.2.9
//! cargo run --release -p keyway-daemon --example bench_card_to_relay -- /tmp/venv-libosdp/bin/python
//! ```
//!
//! Eight LibOSDP readers share a PTY as a multi-drop line (`keyway-hw/tests/libosdp_bus.py`),
//! in the secure channel. First the poll cycle is measured with the bus alone; then a site
//! with eight doors on that bus runs in the daemon's service (real SQLite file), and each
//! card's time is taken from the moment the reader has it (LibOSDP has queued the card read
//! and said so) to the moment the door's relay is commanded. The target: within one poll
//! cycle plus 2 ms. Last, the daemon's own part alone: from a card number handed to the
//! controller (as the bus thread hands it) to the relay command.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use keyway_core::credentials::CredentialStore;
use keyway_core::site::DoorIdx;
use keyway_daemon::hardware::Outputs;
use keyway_daemon::service::Service;
use keyway_daemon::writer::Writer;
use keyway_hw::osdp::{Line, Micros, Panel, SerialTransport, Timing, urandom8};
use keyway_store::{CredentialRow, Store};

const SCBK: &str = "000102030405060708090a0b0c0d0e0f";

struct Bus {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    path: String,
}

impl Bus {
    fn start(python: &str) -> Bus {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../keyway-hw/tests/libosdp_bus.py"
        );
        let mut child = Command::new(python)
            .env("PD_SCBK", SCBK)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the LibOSDP bus");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut path = String::new();
        stdout.read_line(&mut path).unwrap();
        Bus {
            child,
            stdin,
            stdout,
            path: path.trim().to_string(),
        }
    }

    /// Presents a card at `address`; returns once the reader has queued the read.
    fn card(&mut self, address: u8) {
        writeln!(self.stdin, "card {address}").unwrap();
        self.stdin.flush().unwrap();
        let mut ok = String::new();
        self.stdout.read_line(&mut ok).unwrap();
    }
}

impl Bus {
    /// The poll cycle as reader 1 saw it since the last call: median, p99, longest (ms).
    fn cycles(&mut self) -> (f64, f64, f64) {
        writeln!(self.stdin, "cycles").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let numbers: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect();
        (numbers[0], numbers[1], numbers[2])
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Relays that report when each is commanded.
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
    let python = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "python3".to_string());
    let key: [u8; 16] = std::array::from_fn(|i| i as u8);
    let addresses: Vec<u8> = (1..=8).collect();

    // 1. The poll cycle of the bus alone.
    let cycle = {
        let bus = Bus::start(&python);
        let origin = Instant::now();
        let panel = Panel::new(
            &addresses,
            Some(key),
            false,
            Timing::spec(115_200),
            Box::new(urandom8),
        );
        let mut line = Line::new(
            panel,
            SerialTransport::open(&bus.path, 115_200).unwrap(),
            move || origin.elapsed().as_micros() as Micros,
        );
        let started = Instant::now();
        while addresses.iter().any(|a| !line.panel.is_online(*a)) {
            line.step().unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "readers off-line"
            );
        }
        // Past the queries that follow coming on-line; then a cycle is the time between two
        // exchanges with reader 1.
        line.run_for(Duration::from_millis(300)).unwrap();
        let mut cycles = Vec::new();
        let mut last = (line.panel.status(1).unwrap().exchanges, Instant::now());
        while cycles.len() < 300 {
            line.step().unwrap();
            let n = line.panel.status(1).unwrap().exchanges;
            if n != last.0 {
                cycles.push(last.1.elapsed().as_secs_f64() * 1000.0);
                last = (n, Instant::now());
            }
        }
        cycles.sort_by(f64::total_cmp);
        println!(
            "poll cycle, 8 readers, secure channel: median {:.2} ms, p99 {:.2} ms",
            percentile(&cycles, 0.5),
            percentile(&cycles, 0.99)
        );
        percentile(&cycles, 0.5)
    };

    // 2. Card to relay through the daemon's reader thread and controller.
    let mut bus = Bus::start(&python);
    let mut site = String::from(
        "[site]\nname = \"Card to relay\"\n\n[controller]\npower = \"mains\"\n\n[[power]]\nid = \"mains\"\n\n[[area]]\nid = \"street\"\nkind = \"exterior\"\n\n[[area]]\nid = \"hall\"\n",
    );
    for address in &addresses {
        site += &format!(
            "\n[[door]]\nid = \"d{address}\"\ninside = \"hall\"\noutside = \"street\"\nunlock_seconds = 0.2\n[door.lock]\ntype = \"electric_strike\"\nfail = \"secure\"\npower = \"mains\"\n[door.reader]\nkind = \"osdp\"\naddress = {address}\n"
        );
    }
    site += &format!(
        "\n[[bus]]\nid = \"default\"\ndevice = \"{}\"\nscbk = \"{SCBK}\"\n",
        bus.path
    );
    let site = Arc::new(keyway_core::parse_site("card-to-relay", &site).unwrap());
    let dir = std::env::temp_dir().join(format!("keyway-card-to-relay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (relays, relay_changes) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let (service, threads) = runtime.block_on(async {
        let (live, _) = tokio::sync::broadcast::channel(1024);
        let clock: Arc<dyn keyway_daemon::clock::Clock> =
            Arc::new(keyway_daemon::clock::SystemClock::new());
        let (writer, _writer_thread) = Writer::start(
            Box::new(Store::open(&dir).unwrap()),
            live,
            Arc::clone(&clock),
        );
        let service = Service::start(
            Arc::clone(&site),
            CredentialStore::new(),
            Vec::new(),
            writer,
            Box::new(TimedRelays(relays)),
            Vec::new(),
            clock,
        );
        service
            .put_credentials(vec![CredentialRow {
                number: "123:4567".into(),
                holder: "Bench".into(),
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
            }])
            .await
            .unwrap();
        let threads = keyway_daemon::readers::start(&site, &service, Arc::clone(&stop));
        (service, threads)
    });
    // Every reader on-line and in the secure channel.
    let reader = Store::open(&dir).unwrap();
    let started = Instant::now();
    while reader
        .events_after(0, 1000)
        .unwrap()
        .iter()
        .filter(|e| e.event.kind == "reader_online")
        .count()
        < addresses.len()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "readers off-line"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut latencies = Vec::new();
    bus.cycles();
    for i in 0..200usize {
        let address = addresses[i % addresses.len()];
        let door = site.find_door(&format!("d{address}")).unwrap();
        // Let the previous unlock at this door end, and forget older changes.
        std::thread::sleep(Duration::from_millis(30));
        while relay_changes.try_recv().is_ok() {}
        bus.card(address);
        let presented = Instant::now();
        let commanded = loop {
            let (d, energized, at) = relay_changes
                .recv_timeout(Duration::from_secs(5))
                .expect("the relay was commanded");
            if d == door && energized {
                break at;
            }
        };
        latencies.push(commanded.duration_since(presented).as_secs_f64() * 1000.0);
        // The door relocks after 0.2 s; wait for that before its next card.
        if i % addresses.len() == addresses.len() - 1 {
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let (cycle_median, cycle_p99, cycle_max) = bus.cycles();
    println!(
        "poll cycle meanwhile, as reader 1 saw it: median {cycle_median:.2} ms, p99 {cycle_p99:.2} ms, longest {cycle_max:.2} ms"
    );
    latencies.sort_by(f64::total_cmp);
    let (median, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
    );
    let target = cycle + 2.0;
    let within = latencies.iter().filter(|l| **l <= target).count();
    println!(
        "card presented to relay command ({} cards): median {median:.2} ms, p90 {:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.9),
    );
    println!(
        "within one poll cycle (bus alone, median) + 2 ms ({target:.2} ms): {within} of {} cards; longest card {max:.2} ms against the longest cycle meanwhile + 2 ms = {:.2} ms",
        latencies.len(),
        cycle_max + 2.0
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for thread in threads {
        let _ = thread.join();
    }

    // 3. The daemon's part alone: a badge handed over as the bus thread does it (in order,
    // without waiting for durability) to the relay command.
    while relay_changes.try_recv().is_ok() {}
    let mut decisions = Vec::new();
    for i in 0..1000usize {
        let address = addresses[i % addresses.len()];
        let door = site.find_door(&format!("d{address}")).unwrap();
        if i % addresses.len() == 0 {
            std::thread::sleep(Duration::from_millis(250));
            while relay_changes.try_recv().is_ok() {}
        }
        let handed = Instant::now();
        let _accepted = service
            .submit(
                keyway_core::controller::Input::Badge {
                    door,
                    side: keyway_core::site::Side::Entry,
                    credential: "123:4567".into(),
                },
                keyway_daemon::service::Origin::new(keyway_daemon::service::Source::Reader),
            )
            .unwrap();
        let commanded = loop {
            let (d, energized, at) = relay_changes
                .recv_timeout(Duration::from_secs(5))
                .expect("the relay was commanded");
            if d == door && energized {
                break at;
            }
        };
        decisions.push(commanded.duration_since(handed).as_secs_f64() * 1000.0);
    }
    decisions.sort_by(f64::total_cmp);
    println!(
        "card number handed to the controller to relay command ({} badges): median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        decisions.len(),
        percentile(&decisions, 0.5),
        percentile(&decisions, 0.99),
        decisions[decisions.len() - 1]
    );
    drop(service);
    drop(runtime);
    let _ = std::fs::remove_dir_all(&dir);
}
