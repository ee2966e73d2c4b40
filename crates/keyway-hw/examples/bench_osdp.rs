//! The OSDP poll cycle and card reads with 8 readers on one bus: on a simulated 115,200-baud
//! line, against LibOSDP's readers on a PTY, and the same readers driven by LibOSDP's own
//! control panel in the same run.
//!
//! ```sh
//! python3 -m venv /tmp/venv-libosdp && /tmp/venv-libosdp/bin/pip install libosdp==3.2.9
//! cargo run --release -p keyway-hw --example bench_osdp -- /tmp/venv-libosdp/bin/python
//! ```
//!
//! 1. Simulated wire (`keyway_hw::osdp::sim`, virtual time, no Python): bytes delivered at
//!    115,200 baud, half-duplex, each reader starting its reply 2 ms after the command. The
//!    8-reader secure cycle against the line-rate bound (a sealed POLL and ACK, 14 bytes
//!    each, per reader: 19.4 ms) plus the turnarounds; card to credential number; a reader's
//!    power-up to its first card read, secure and in the clear; and the panel's CPU time per
//!    exchange.
//! 2. Eight LibOSDP readers share a PTY as a multi-drop line (`tests/libosdp_bus.py`), all in
//!    the secure channel: Keyway's cycle (a PTY has no baud rate) and card to credential.
//! 3. The same readers, the same PTY, driven by LibOSDP's control panel
//!    (`tests/libosdp_cp.py`): card to the panel's card event, and the ratio.
//! 4. One LibOSDP reader (`tests/libosdp_pd.py`) powered up after the panel: from its start
//!    to its first card read, secure and in the clear.

#[path = "../tests/support/libosdp.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use keyway_hw::card;
use keyway_hw::osdp::sim::{SimBus, SimReader, counting_random};
use keyway_hw::osdp::{Line, Micros, Panel, Port, ReaderEvent, SerialTransport, Timing, urandom8};
use support::{Reader, ReaderSetup};

const SCBK: &str = "000102030405060708090a0b0c0d0e0f";
const TURNAROUND: Micros = 2_000;

fn clock() -> Micros {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as Micros
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A port that counts the bytes both ways.
struct Counting {
    inner: SerialTransport,
    bytes: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Port for Counting {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.bytes.set(self.bytes.get() + bytes.len() as u64);
        self.inner.send(bytes)
    }

    fn receive(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<usize> {
        let n = self.inner.receive(buf, wait)?;
        self.bytes.set(self.bytes.get() + n as u64);
        Ok(n)
    }

    fn discard_input(&mut self) -> std::io::Result<()> {
        self.inner.discard_input()
    }
}

fn key() -> [u8; 16] {
    std::array::from_fn(|i| i as u8)
}

fn simulated() {
    println!("# simulated line, 115,200 baud, 2 ms reader turnaround (virtual time)");
    let readers = (1..=8).map(|a| SimReader::new(a, Some(key()))).collect();
    let panel = Panel::new(
        &(1..=8).collect::<Vec<u8>>(),
        Some(key()),
        false,
        Timing::spec(115_200),
        counting_random(1),
    );
    let mut bus = SimBus::new(panel, readers, TURNAROUND);
    bus.run_until(2_000_000);
    assert!((1..=8).all(|a| bus.panel.is_online(a)), "readers off-line");
    // The cycle: 2,000 exchanges after the queries that follow coming on-line.
    let (start, frames, bytes) = (bus.now, bus.frames_sent, bus.bytes_on_line);
    let cpu = Instant::now();
    while bus.frames_sent - frames < 2_000 {
        bus.run_until(bus.now + 1_000);
    }
    let cpu = cpu.elapsed();
    let exchanges = (bus.frames_sent - frames) as f64;
    let cycle_ms = (bus.now - start) as f64 / (exchanges / 8.0) / 1000.0;
    let per_cycle = (bus.bytes_on_line - bytes) as f64 / (exchanges / 8.0);
    let line_ms = per_cycle * 10.0 / 115.2;
    let bound_ms = line_ms + 8.0 * TURNAROUND as f64 / 1000.0;
    println!(
        "cycle, 8 readers secure: {cycle_ms:.2} ms; bytes per cycle {per_cycle:.0} = {line_ms:.2} ms on the line; \
         bound with turnarounds {bound_ms:.2} ms; ratio {:.3}",
        cycle_ms / bound_ms
    );
    println!(
        "panel and simulation CPU time per exchange: {:.1} µs",
        cpu.as_secs_f64() * 1e6 / exchanges
    );
    let mut latencies = Vec::new();
    let mut n = 99u64;
    for i in 0..200u64 {
        let address = 1 + (i % 8) as u8;
        // Cards presented at pseudo-random instants over two cycles.
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        bus.run_until(bus.now + (n >> 33) % 71_000);
        bus.reader(address).present_card(&card::h10301(123, 4567));
        let took = bus
            .run_until_event(
                1_000_000,
                |e| matches!(e, ReaderEvent::Card { address: a, .. } if *a == address),
            )
            .expect("the card is read");
        latencies.push(took as f64 / 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "card presented to credential number: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    for (name, scbk, reader_key) in [
        ("secure", Some(key()), Some(key())),
        ("in the clear (install mode)", None, Some(key())),
    ] {
        let mut reader = SimReader::new(1, reader_key);
        reader.enforce = scbk.is_some();
        reader.powered = false;
        reader.buffer_while_off = true;
        let panel = Panel::new(&[1], scbk, false, Timing::spec(115_200), counting_random(2));
        let mut bus = SimBus::new(panel, vec![reader], TURNAROUND);
        let mut worst: f64 = 0.0;
        // Power-up at instants spread over the once-a-second retry of an absent reader.
        for k in 0..20u64 {
            bus.run_until(bus.now + 1_500_000 + k * 50_000);
            bus.power_up(1);
            bus.reader(1).present_card(&card::h10301(123, 4567));
            let took = bus
                .run_until_event(5_000_000, |e| matches!(e, ReaderEvent::Card { .. }))
                .expect("first card read");
            worst = worst.max(took as f64 / 1000.0);
            bus.reader(1).powered = false;
            bus.reader(1).reboot();
            bus.run_until_event(20_000_000, |e| matches!(e, ReaderEvent::Offline { .. }))
                .expect("off-line again");
        }
        println!("power-up to first card read, {name}: longest of 20, {worst:.1} ms");
    }
}

fn keyway_on_libosdp(python: &str) -> (String, std::process::Child, f64) {
    println!("# 8 LibOSDP readers on a PTY, Keyway's panel");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libosdp_bus.py");
    let mut child = Command::new(python)
        .env("PD_SCBK", SCBK)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the LibOSDP bus");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut path = String::new();
    stdout.read_line(&mut path).unwrap();
    let path = path.trim().to_string();
    let addresses: Vec<u8> = (1..=8).collect();
    let bytes = std::rc::Rc::new(std::cell::Cell::new(0));
    let panel = Panel::new(
        &addresses,
        Some(key()),
        false,
        Timing::spec(115_200),
        Box::new(urandom8),
    );
    let mut line = Line::new(
        panel,
        Counting {
            inner: SerialTransport::open(&path, 115_200).unwrap(),
            bytes: bytes.clone(),
        },
        clock,
    );
    let started = Instant::now();
    while addresses.iter().any(|a| !line.panel.is_online(*a)) {
        line.step().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the readers did not come on-line"
        );
    }
    // Let the on-line queries pass, then time 200 cycles as reader 1's exchanges.
    line.run_for(Duration::from_millis(300)).unwrap();
    let mut cycles = Vec::new();
    let before = bytes.get();
    let mut last = (line.panel.status(1).unwrap().exchanges, Instant::now());
    while cycles.len() < 200 {
        line.step().unwrap();
        let n = line.panel.status(1).unwrap().exchanges;
        if n != last.0 {
            cycles.push(last.1.elapsed().as_secs_f64() * 1000.0);
            last = (n, Instant::now());
        }
    }
    let per_cycle = (bytes.get() - before) as f64 / 200.0;
    cycles.sort_by(f64::total_cmp);
    println!(
        "poll cycle on the PTY: median {:.2} ms, p99 {:.2} ms; bytes per cycle {per_cycle:.0} ({:.2} ms at 115,200 baud)",
        percentile(&cycles, 0.5),
        percentile(&cycles, 0.99),
        per_cycle * 10.0 / 115.2
    );
    // The bus script's answers are drained by a thread: the panel keeps polling while a card
    // is presented, and each card is timed from the moment its command is written.
    std::thread::spawn(move || for _ in stdout.lines() {});
    let mut stdin = child.stdin.take().unwrap();
    let mut latencies = Vec::new();
    for i in 0..40u8 {
        let address = 1 + i % 8;
        line.run_for(Duration::from_millis(13)).unwrap();
        let t = Instant::now();
        writeln!(stdin, "card {address}").unwrap();
        stdin.flush().unwrap();
        line.until(
            Duration::from_secs(5),
            |e| matches!(e, ReaderEvent::Card { address: a, .. } if *a == address),
        )
        .unwrap()
        .expect("the card is read");
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let median = percentile(&latencies, 0.5);
    println!(
        "card presented to credential number: median {median:.2} ms, max {:.2} ms",
        latencies[39]
    );
    child.stdin = Some(stdin);
    (path, child, median)
}

fn libosdp_panel(python: &str, path: &str, bus: &mut std::process::Child, keyway: f64) {
    println!("# the same readers, LibOSDP's control panel");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libosdp_cp.py");
    let mut cp = Command::new(python)
        .env("PD_SCBK", SCBK)
        .args([script, path, "8"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start LibOSDP's control panel");
    let (lines, cards) = mpsc::channel();
    let out = BufReader::new(cp.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in out.lines() {
            let Ok(line) = line else { break };
            if lines.send((line, Instant::now())).is_err() {
                break;
            }
        }
    });
    let (first, _) = cards.recv_timeout(Duration::from_secs(40)).unwrap();
    assert_eq!(first, "online");
    std::thread::sleep(Duration::from_millis(500));
    let mut stdin = bus.stdin.take().unwrap();
    let mut latencies = Vec::new();
    for i in 0..40u8 {
        let address = 1 + i % 8;
        std::thread::sleep(Duration::from_millis(13));
        let t = Instant::now();
        writeln!(stdin, "card {address}").unwrap();
        stdin.flush().unwrap();
        loop {
            let (line, at) = cards
                .recv_timeout(Duration::from_secs(5))
                .expect("LibOSDP's panel reads the card");
            if line == format!("card {address}") {
                latencies.push(at.duration_since(t).as_secs_f64() * 1000.0);
                break;
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let median = percentile(&latencies, 0.5);
    println!(
        "card presented to the panel's card event: median {median:.2} ms, max {:.2} ms",
        latencies[39]
    );
    println!(
        "LibOSDP's panel / Keyway's, median: {:.1}×",
        median / keyway
    );
    let _ = cp.kill();
    let _ = cp.wait();
}

fn power_up_on_libosdp(python: &str) {
    println!("# one LibOSDP reader powered up 1 s after the panel");
    for (name, scbk, enforce) in [("secure", Some(SCBK), true), ("in the clear", None, false)] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let reader = Reader::start(
                python,
                ReaderSetup {
                    key: Some(SCBK),
                    enforce,
                    delay: 1.0,
                },
            );
            let panel = Panel::new(
                &[1],
                scbk.map(|_| key()),
                false,
                Timing::spec(115_200),
                Box::new(urandom8),
            );
            let mut line = Line::new(
                panel,
                SerialTransport::open(&reader.path, 115_200).unwrap(),
                clock,
            );
            // The card is queued the moment the reader starts (its script reads the line
            // only then); `say` returns once it is.
            let (done, started) = mpsc::channel();
            let mut reader = reader;
            let presenter = std::thread::spawn(move || {
                reader.say("card");
                let _ = done.send(Instant::now());
                reader
            });
            line.until(Duration::from_secs(6), |e| {
                matches!(e, ReaderEvent::Card { .. })
            })
            .unwrap()
            .expect("first card read");
            let read = Instant::now();
            let started = started.recv().unwrap();
            times.push(read.duration_since(started).as_secs_f64() * 1000.0);
            drop(presenter.join().unwrap());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "reader start to first card read, {name}: median {:.0} ms, longest {:.0} ms (of 5)",
            percentile(&times, 0.5),
            times[times.len() - 1]
        );
    }
}

fn main() {
    simulated();
    let Some(python) = std::env::args().nth(1) else {
        println!("LibOSDP parts not run: give the Python that has libosdp==3.2.9");
        return;
    };
    let (path, mut bus, keyway) = keyway_on_libosdp(&python);
    libosdp_panel(&python, &path, &mut bus, keyway);
    let _ = bus.kill();
    let _ = bus.wait();
    power_up_on_libosdp(&python);
}
