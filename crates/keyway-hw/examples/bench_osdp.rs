//! OSDP poll cycle with 8 readers on one bus, against LibOSDP.
//!
//! ```sh
//! python3 -m venv /tmp/venv-libosdp && /tmp/venv-libosdp/bin/pip install libosdp==3.2.9
//! cargo run --release -p keyway-hw --example bench_osdp -- /tmp/venv-libosdp/bin/python
//! ```
//!
//! Eight LibOSDP peripheral devices share a PTY as a multi-drop line
//! (`tests/libosdp_bus.py`), all in the secure channel with one SCBK. Measures the poll cycle
//! (one sealed POLL/ACK with every reader) and the time from a card presented to its credential
//! number, and compares the cycle with what the bytes counted on the line would take on a real
//! 115,200-baud line (11.52 bytes per millisecond; a PTY has no baud rate of its own).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyway_hw::osdp::{OsdpBus, ReaderEvent, SerialTransport};
use osdp::transport::Transport;

const SCBK: &str = "000102030405060708090a0b0c0d0e0f";

/// A transport that counts the bytes both ways.
struct Counting {
    inner: SerialTransport,
    bytes: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Transport for Counting {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), osdp::Error> {
        self.bytes.set(self.bytes.get() + bytes.len() as u64);
        self.inner.write_all(bytes)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, osdp::Error> {
        let n = self.inner.read(buf)?;
        self.bytes.set(self.bytes.get() + n as u64);
        Ok(n)
    }
}

fn main() {
    let python = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "python3".to_string());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libosdp_bus.py");
    let mut child = Command::new(python)
        .env("PD_SCBK", SCBK)
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
    let bytes = std::rc::Rc::new(std::cell::Cell::new(0));
    let key: [u8; 16] = std::array::from_fn(|i| i as u8);
    let mut bus = OsdpBus::new(
        Counting {
            inner: SerialTransport::open(path.trim(), 115_200).unwrap(),
            bytes: bytes.clone(),
        },
        &addresses,
        Some(key),
        115_200,
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
    let before = bytes.get();
    for _ in 0..200 {
        let t = Instant::now();
        bus.poll_cycle();
        cycles.push(t.elapsed().as_micros() as f64 / 1000.0);
    }
    cycles.sort_by(f64::total_cmp);
    // The bytes on the line per cycle: a sealed POLL is 14 bytes (SOM, address, 2 length,
    // control, 2 security block, command, 4 MAC, 2 CRC), a sealed ACK the same.
    let per_cycle = (bytes.get() - before) as f64 / 200.0;
    let line_rate_ms = per_cycle / 11.52;
    println!("bytes on the line per cycle: {per_cycle:.1}");
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
