//! `keyway serve` with a real OSDP reader: LibOSDP (the C reference implementation, PyPI
//! `libosdp==3.2.9`) plays the reader on a PTY that the site maps as a `[[bus]]`. Runs when
//! `KEYWAY_LIBOSDP_PYTHON` names a Python that has it (`.ci/run` sets it); without it the
//! summary line says "not run" (`keyway-hw/tests/support/libosdp.rs`).

mod common;
#[path = "../../keyway-hw/tests/support/libosdp.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::Daemon;
use serde_json::Value;
use support::{Reader, ReaderSetup};

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

const KEY: &str = "00112233445566778899aabbccddeeff";

fn main() -> ExitCode {
    support::run(&[
        (
            "a_card_at_a_real_reader_is_decided_logged_and_answered",
            |python| card_at_a_real_reader(python, Some(KEY), false, None, "plain"),
        ),
        // Neither has a key: the channel is secured with the default key SCBK-D.
        ("the_same_in_install_mode", |python| {
            card_at_a_real_reader(python, None, false, None, "install")
        }),
        // The reader refuses anything in the clear.
        ("the_same_through_the_secure_channel", |python| {
            card_at_a_real_reader(python, Some(KEY), true, Some(KEY), "secure")
        }),
        (
            "a_reader_powered_up_after_serve_reads_within_three_seconds",
            a_reader_powered_up_after_serve_reads_within_three_seconds,
        ),
        (
            "a_provisioned_reader_reports_tamper_and_shows_who_it_is",
            a_provisioned_reader_reports_tamper_and_shows_who_it_is,
        ),
    ])
}

/// The office demo with its OSDP readers on a real bus at `pty`, with `bus` lines added to
/// the `[[bus]]`; returns the site file's path in a fresh directory named `name`.
fn office_with_bus(name: &str, pty: &str, bus: &str) -> PathBuf {
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
        format!("{office}\n[[bus]]\nid = \"default\"\ndevice = \"{pty}\"\n{bus}"),
    )
    .unwrap();
    site
}

fn grant_front(daemon: &Daemon) {
    let (status, _) = daemon
        .request(
            "POST",
            "/api/credentials",
            Some(r#"{"number": "123:4567", "doors": ["front"]}"#),
        )
        .unwrap();
    assert_eq!(status, 201);
}

fn a_reader_powered_up_after_serve_reads_within_three_seconds(python: &str) {
    // The reader holds the bus's key and starts 1 to 3 s after `keyway serve`, without
    // enforcing the secure channel (the case that never came on-line), then enforcing it:
    // meanwhile the daemon's challenges wait in the PTY, and the reader answers them all at
    // start.
    for (delay, enforce) in [(1.0, false), (3.0, false), (2.0, true)] {
        let mut reader = Reader::start(
            python,
            ReaderSetup {
                key: Some(KEY),
                enforce,
                delay,
            },
        );
        let site = office_with_bus(
            &format!("late-{delay}-{enforce}"),
            &reader.path,
            &format!("scbk = \"{KEY}\"\n"),
        );
        let daemon = Daemon::start(&site.parent().unwrap().join("data"), Some(&site));
        let started = Instant::now();
        grant_front(&daemon);
        // Wait for the reader's own start, then present the card at once.
        let wait = Duration::from_secs_f64(delay).saturating_sub(started.elapsed());
        std::thread::sleep(wait);
        reader.say("card");
        let granted = wait_for_event(&daemon, |e| e["kind"] == "access_granted");
        let took = started.elapsed().as_secs_f64() - delay;
        assert_eq!(granted["credential"], "123:4567");
        assert!(
            took < 3.0,
            "delay {delay} s: the card was read {took:.2} s after the reader started"
        );
        let (_, events) = daemon
            .request("GET", "/api/events?limit=10000", None)
            .unwrap();
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "reader_online"),
            "{events:#?}"
        );
    }
}

fn a_provisioned_reader_reports_tamper_and_shows_who_it_is(python: &str) {
    // A reader fresh from the box on a bus with `provision = true`: given the key, on-line
    // under it, identified in `GET /api/readers`; its tamper switch becomes events.
    let mut reader = Reader::start(python, ReaderSetup::default());
    let site = office_with_bus(
        "provision",
        &reader.path,
        &format!("scbk = \"{KEY}\"\nprovision = true\n"),
    );
    // The front door's contact is wired to the reader's input 0.
    let text = std::fs::read_to_string(&site).unwrap();
    let text = text.replacen(
        "[door.reader]\nkind = \"osdp\"\naddress = 1\n",
        "[door.reader]\nkind = \"osdp\"\naddress = 1\ndps_input = 0\n",
        1,
    );
    assert!(text.contains("dps_input = 0"));
    std::fs::write(&site, text).unwrap();
    let daemon = Daemon::start(&site.parent().unwrap().join("data"), Some(&site));
    let provisioned = wait_for_event(&daemon, |e| e["kind"] == "reader_provisioned");
    assert_eq!(provisioned["detail"], "bus default address 1");
    wait_for_event(&daemon, |e| {
        e["kind"] == "reader_online" && e["door"] == "front"
    });
    assert_eq!(reader.say("key"), format!("key {KEY}"));
    assert_eq!(reader.say("sc"), "sc True");
    let started = Instant::now();
    let front = loop {
        let (status, readers) = daemon.request("GET", "/api/readers", None).unwrap();
        assert_eq!(status, 200);
        let front = readers
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == 1)
            .cloned()
            .unwrap();
        if !front["identity"].is_null() && !front["capabilities"].as_array().unwrap().is_empty() {
            break front;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{front:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(front["doors"], serde_json::json!(["front"]));
    assert_eq!(front["state"], "secure");
    assert_eq!(front["security"], "site-key");
    assert_eq!(front["identity"]["serial"], 0x0102_0304);
    assert_eq!(front["identity"]["firmware"], "3.2.9");
    // The OUI's octets in wire order; LibOSDP sends its integer vendor code 0xA00007 least
    // significant byte first.
    assert_eq!(front["identity"]["vendor"], "0700a0");
    // The three other readers of the office are on the bus list, and nobody answers there.
    let (_, readers) = daemon.request("GET", "/api/readers", None).unwrap();
    assert!(
        readers
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["address"] != 1)
            .all(|r| r["online"] == false && r["state"] == "unknown"),
        "{readers:#}"
    );

    // The door contact on the reader's input: an open, then a close.
    reader.say("input 0 on");
    let opened = wait_for_event(&daemon, |e| e["kind"] == "door_opened");
    assert_eq!(opened["door"], "front");
    reader.say("input 0 off");
    wait_for_event(&daemon, |e| {
        e["kind"] == "door_closed" && e["door"] == "front"
    });
    // It is a real device: the simulated door contact is refused.
    let (status, _) = daemon
        .request("POST", "/api/sim/door/front", Some(r#"{"open": true}"#))
        .unwrap();
    assert_eq!(status, 409);

    reader.say("tamper");
    let tamper = wait_for_event(&daemon, |e| e["kind"] == "reader_tamper");
    assert_eq!(tamper["door"], "front");
    reader.say("closed");
    wait_for_event(&daemon, |e| e["kind"] == "reader_tamper_cleared");
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
    let mut reader = Reader::start(
        python,
        ReaderSetup {
            key: reader_key,
            enforce,
            ..ReaderSetup::default()
        },
    );
    let path = reader.path.clone();
    let mut say = |line: &str| reader.say(line);
    // The office demo, with its OSDP readers on a real bus: only address 1 (the front door)
    // answers; the other three stay off-line without holding the front door up.
    let site = office_with_bus(
        name,
        &path,
        &scbk
            .map(|k| format!("scbk = \"{k}\"\n"))
            .unwrap_or_default(),
    );
    let dir = site.parent().unwrap().to_path_buf();
    let daemon = Daemon::start(&dir.join("data"), Some(&site));
    grant_front(&daemon);
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
    // (The local status query sent when the reader came on-line reaches LibOSDP's
    // application too: command 9.)
    let led = loop {
        let command = say("cmd");
        if !command.contains("'command': 9,") {
            break command;
        }
    };
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
