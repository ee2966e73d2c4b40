//! OSDP poll cycle with 8 readers on one bus, against LibOSDP.
//!
//! ```sh
//! python3 -m venv /tmp/venv-libosdp && /tmp/venv-libosdp/bin/pip install libosdp==3.2.9
//! cargo run --release -p keyway-hw --example bench_osdp -- /tmp/venv-libosdp/bin/python
//! ```
//!
//! Eight LibOSDP peripheral devices share a PTY as a multi-drop line
//! (`tests/libosdp_bus.py`). Measures the poll cycle (one POLL/ACK with every reader) and the
//! time from a card presented to its credential number, and compares the cycle with what the
//! bytes would take on a real 115,200-baud line (11.52 bytes per millisecond; a PTY has no
//! baud rate of its own).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyway_hw::osdp::{OsdpBus, ReaderEvent, SerialTransport};

fn main() {
    let python = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "python3".to_string());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libosdp_bus.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the LibOSDP bus");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut path = String::new();
    stdout.read_line(&mut path).unwrap();
    let addresses: Vec<u8> = (1..=8).collect();
    let mut bus = OsdpBus::new(
        SerialTransport::open(path.trim(), 115_200).unwrap(),
        &addresses,
    );
    let started = Instant::now();
    while addresses.iter().any(|a| !bus.is_online(*a)) {
        bus.poll_cycle();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the readers did not come on-line"
        );
    }
    let mut cycles = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        bus.poll_cycle();
        cycles.push(t.elapsed().as_micros() as f64 / 1000.0);
    }
    cycles.sort_by(f64::total_cmp);
    // A POLL is 8 bytes with CRC (SOM, address, 2 length, control, command, 2 CRC), an ACK 8:
    // 16 bytes per reader per cycle on the line.
    let line_rate_ms = 8.0 * 16.0 / 11.52;
    println!(
        "poll cycle, 8 readers: median {:.2} ms, p99 {:.2} ms; the same bytes at 115,200 baud take {:.2} ms",
        cycles[100], cycles[198], line_rate_ms
    );
    let mut latencies = Vec::new();
    for i in 0..40u8 {
        let address = 1 + i % 8;
        writeln!(stdin, "card {address}").unwrap();
        stdin.flush().unwrap();
        let mut ok = String::new();
        stdout.read_line(&mut ok).unwrap();
        let t = Instant::now();
        'read: loop {
            for event in bus.poll_cycle() {
                if let ReaderEvent::Card { address: from, .. } = event
                    && from == address
                {
                    break 'read;
                }
            }
        }
        latencies.push(t.elapsed().as_micros() as f64 / 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "card presented to credential number: median {:.2} ms, max {:.2} ms",
        latencies[20], latencies[39]
    );
    let _ = child.kill();
    let _ = child.wait();
}
