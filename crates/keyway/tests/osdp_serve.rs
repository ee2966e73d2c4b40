//! `keyway serve` with a real OSDP reader: LibOSDP (the C reference implementation, PyPI
//! `libosdp==3.2.9`) plays the reader on a PTY that the site maps as a `[[bus]]`. Runs when
//! `KEYWAY_LIBOSDP_PYTHON` names a Python that has it (`.ci/run` sets it).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Daemon;
use serde_json::Value;

/// Waits until the daemon has logged an event matching `want`.
fn wait_for_event(daemon: &Daemon, want: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let (_, events) = daemon
            .request("GET", "/api/events?limit=10000", None)
            .unwrap();
        if let Some(event) = events.as_array().unwrap().iter().find(|e| want(e)) {
            return event.clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no such event within 20 s");
}

/// The Python that has LibOSDP, from `KEYWAY_LIBOSDP_PYTHON`. Absent: the test is not run
/// (and says so). Set but unable to import LibOSDP 3.2.9: the test fails, since it was asked
/// to run and cannot.
fn python() -> Option<String> {
    let Ok(python) = std::env::var("KEYWAY_LIBOSDP_PYTHON") else {
        eprintln!(
            "OSDP daemon test not run: set KEYWAY_LIBOSDP_PYTHON to a Python with libosdp==3.2.9"
        );
        return None;
    };
    let check = Command::new(&python)
        .args([
            "-c",
            "import osdp, importlib.metadata as m; v = m.version('libosdp'); assert v == '3.2.9', v",
        ])
        .output()
        .unwrap_or_else(|error| panic!("KEYWAY_LIBOSDP_PYTHON={python} cannot be run: {error}"));
    assert!(
        check.status.success(),
        "KEYWAY_LIBOSDP_PYTHON={python} has no libosdp 3.2.9: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    Some(python)
}

const KEY: &str = "00112233445566778899aabbccddeeff";

#[test]
fn a_card_at_a_real_reader_is_decided_logged_and_answered() {
    if let Some(python) = python() {
        // No scbk on the bus (install mode) and a reader with a key of its own that accepts
        // commands in the clear: it refuses the default key and is polled in the clear.
        card_at_a_real_reader(&python, Some(KEY), false, None, "plain");
    }
}

#[test]
fn the_same_in_install_mode() {
    if let Some(python) = python() {
        // Neither has a key: the channel is secured with the default key SCBK-D.
        card_at_a_real_reader(&python, None, false, None, "install");
    }
}

#[test]
fn the_same_through_the_secure_channel() {
    if let Some(python) = python() {
        // The reader refuses anything in the clear.
        card_at_a_real_reader(&python, Some(KEY), true, Some(KEY), "secure");
    }
}

/// The office demo with its front-door reader on a real bus: `reader_key` in the reader
/// (refusing the clear when `enforce`), `bus_key` as the bus's scbk.
fn card_at_a_real_reader(
    python: &str,
    reader_key: Option<&str>,
    enforce: bool,
    bus_key: Option<&str>,
    name: &str,
) {
    let scbk = bus_key;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keyway-hw/tests/libosdp_pd.py");
    let mut command = Command::new(python);
    if let Some(key) = reader_key {
        command.env("PD_SCBK", key);
    }
    command.env("PD_ENFORCE", if enforce { "1" } else { "0" });
    let mut reader = KillOnDrop(
        command
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut reader_in = reader.0.stdin.take().unwrap();
    let mut reader_out = BufReader::new(reader.0.stdout.take().unwrap());
    let mut pty = String::new();
    reader_out.read_line(&mut pty).unwrap();
    let mut say = |line: &str| {
        writeln!(reader_in, "{line}").unwrap();
        reader_in.flush().unwrap();
        let mut answer = String::new();
        reader_out.read_line(&mut answer).unwrap();
        answer
    };

    // The office demo, with its OSDP readers on a real bus: only address 1 (the front door)
    // answers; the other three stay off-line without holding the front door up.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("osdp-serve-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let office = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/office.toml"),
    )
    .unwrap();
    let site = dir.join("site.toml");
    std::fs::write(
        &site,
        format!(
            "{office}\n[[bus]]\nid = \"default\"\ndevice = \"{}\"\n{}",
            pty.trim(),
            scbk.map(|k| format!("scbk = \"{k}\"\n"))
                .unwrap_or_default()
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&dir.join("data"), Some(&site));
    let (status, _) = daemon
        .request(
            "POST",
            "/api/credentials",
            Some(r#"{"number": "123:4567", "doors": ["front"]}"#),
        )
        .unwrap();
    assert_eq!(status, 201);
    wait_for_event(&daemon, |e| {
        e["kind"] == "reader_online" && e["door"] == "front"
    });
    if scbk.is_some() {
        assert_eq!(say("sc").trim(), "sc True");
    }

    // The card is read, decided and logged with its number; the reader gets a green LED.
    say("card");
    let granted = wait_for_event(&daemon, |e| e["kind"] == "access_granted");
    assert_eq!(
        (granted["door"].as_str(), granted["credential"].as_str()),
        (Some("front"), Some("123:4567"))
    );
    let led = say("cmd");
    assert!(
        led.contains("'command': 2") && led.contains("'on_color': 2"),
        "{led}"
    );

    // Pulling the cable: reader_offline; plugging it back: reader_online again.
    say("unplug");
    wait_for_event(&daemon, |e| {
        e["kind"] == "reader_offline" && e["door"] == "front"
    });
    say("plug");
    let (_, events) = daemon
        .request("GET", "/api/events?limit=10000", None)
        .unwrap();
    let online_before = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "reader_online")
        .count();
    let started = Instant::now();
    loop {
        let (_, events) = daemon
            .request("GET", "/api/events?limit=10000", None)
            .unwrap();
        if events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "reader_online")
            .count()
            > online_before
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the reader did not come back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Losing the reader unlocked nothing: no door_unlocked between reader_offline and the
    // reader coming back.
    let (_, events) = daemon
        .request("GET", "/api/events?limit=10000", None)
        .unwrap();
    let events = events.as_array().unwrap();
    let offline = events
        .iter()
        .position(|e| e["kind"] == "reader_offline" && e["door"] == "front")
        .unwrap();
    let back = events
        .iter()
        .rposition(|e| e["kind"] == "reader_online" && e["door"] == "front")
        .unwrap();
    assert!(
        events[offline..back]
            .iter()
            .all(|e| e["kind"] != "door_unlocked"),
        "{events:#?}"
    );

    // Back on-line (through a new handshake when secure), its cards are read again.
    if scbk.is_some() {
        assert_eq!(say("sc").trim(), "sc True");
    }
    say("card");
    wait_for_event(&daemon, |e| {
        e["kind"] == "access_granted" && e["seq"].as_u64() > events.last().unwrap()["seq"].as_u64()
    });
}

/// The reader process, ended even when the test fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
