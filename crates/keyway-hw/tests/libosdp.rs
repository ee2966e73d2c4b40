//! Keyway's OSDP control panel against an independent implementation: LibOSDP (the C reference
//! implementation, PyPI `libosdp==3.2.9`) plays the card reader on a PTY, driven by the same
//! thin loop (`Line`) and sans-IO panel as the daemon's, on the real clock. It runs when
//! `KEYWAY_LIBOSDP_PYTHON` names a Python that has it (`.ci/run` makes the venv and sets it);
//! without it the summary line says "not run" (see `support/libosdp.rs`).

#[path = "support/libosdp.rs"]
mod support;

use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use keyway_hw::osdp::{
    Feedback, Line, LinkState, Micros, Panel, ReaderEvent, Security, SerialTransport, Timing,
    urandom8,
};
use support::{Reader, ReaderSetup};

fn main() -> ExitCode {
    support::run(&[
        ("install_mode_against_libosdp", install_mode_against_libosdp),
        ("in_the_clear_against_libosdp", in_the_clear_against_libosdp),
        (
            "secure_channel_against_libosdp",
            secure_channel_against_libosdp,
        ),
        (
            "a_reader_started_after_the_panel_reads_within_three_seconds",
            a_reader_started_after_the_panel_reads_within_three_seconds,
        ),
        (
            "a_reader_in_install_mode_is_provisioned",
            a_reader_in_install_mode_is_provisioned,
        ),
        ("tamper_is_reported", tamper_is_reported),
        (
            "a_reader_with_another_key_is_never_used",
            a_reader_with_another_key_is_never_used,
        ),
        (
            "a_dead_reader_does_not_stall_a_live_one",
            a_dead_reader_does_not_stall_a_live_one,
        ),
        (
            "a_reader_that_insists_on_the_secure_channel_is_not_used_without_a_key",
            a_reader_that_insists_on_the_secure_channel_is_not_used_without_a_key,
        ),
    ])
}

const KEY: &str = "000102030405060708090a0b0c0d0e0f";

fn key(hex: &str) -> [u8; 16] {
    std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
}

/// Microseconds since the test binary started.
fn clock() -> Micros {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as Micros
}

type TestLine = Line<SerialTransport, fn() -> Micros>;

/// The panel for `addresses` on the reader's PTY. The off-line time is shortened to two
/// seconds so that the cable tests do not wait the specification's eight.
fn line(path: &str, addresses: &[u8], scbk: Option<[u8; 16]>, provision: bool) -> TestLine {
    let timing = Timing {
        offline_after: 2_000_000,
        ..Timing::spec(115_200)
    };
    let panel = Panel::new(addresses, scbk, provision, timing, Box::new(urandom8));
    Line::new(
        panel,
        SerialTransport::open(path, 115_200).unwrap(),
        clock as fn() -> Micros,
    )
}

/// Steps until `want` holds for an event, or fails after `limit`; returns that event.
fn until(line: &mut TestLine, limit: Duration, want: impl Fn(&ReaderEvent) -> bool) -> ReaderEvent {
    match line.until(limit, want).unwrap() {
        Some(mut seen) => seen.pop().unwrap(),
        None => panic!("no such event within {limit:?}: {:?}", line.panel.status(1)),
    }
}

/// Steps for `time`, returning every event.
fn run_for(line: &mut TestLine, time: Duration) -> Vec<ReaderEvent> {
    line.run_for(time).unwrap()
}

/// A LibOSDP reader holding `KEY` that refuses anything in the clear.
fn enforcing_reader(python: &str) -> Reader {
    Reader::start(
        python,
        ReaderSetup {
            key: Some(KEY),
            enforce: true,
            ..ReaderSetup::default()
        },
    )
}

/// The next LED or buzzer command the reader received (the local status query the panel
/// sends when a reader comes on-line reaches LibOSDP's application too: 9 is status).
fn feedback_command(reader: &mut Reader) -> String {
    loop {
        let command = reader.say("cmd");
        if !command.contains("'command': 9,") {
            return command;
        }
    }
}

/// Presents card "123 4567" at the reader (address 1) and checks the panel reads its number.
fn present_card(reader: &mut Reader, line: &mut TestLine) {
    reader.say("card");
    let card = until(line, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::Card { .. })
    });
    assert_eq!(
        card,
        ReaderEvent::Card {
            address: 1,
            credential: "123:4567".to_string()
        }
    );
}

fn install_mode_against_libosdp(python: &str) {
    // Neither end has a key: the default key SCBK-D secures the channel. (LibOSDP does not
    // count a session under SCBK-D as secure in its status, so the reader says false; every
    // reply was still MACed, or this side would have refused it.)
    reader_session(python, None, None, Security::DefaultKey, "sc False");
}

fn in_the_clear_against_libosdp(python: &str) {
    // Install mode on the bus; the reader has a key of its own, so it refuses the default
    // key, and it accepts commands in the clear: polled in the clear.
    let mut reader = Reader::start(
        python,
        ReaderSetup {
            key: Some(KEY),
            ..ReaderSetup::default()
        },
    );
    let mut line = line(&reader.path, &[1], None, false);
    let online = until(&mut line, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::Online { .. })
    });
    assert_eq!(
        online,
        ReaderEvent::Online {
            address: 1,
            security: Security::Plain
        }
    );
    present_card(&mut reader, &mut line);
    assert_eq!(reader.say("sc"), "sc False");
}

fn secure_channel_against_libosdp(python: &str) {
    // The reader holds the site key and refuses anything in the clear.
    reader_session(
        python,
        Some(KEY),
        Some(key(KEY)),
        Security::SiteKey,
        "sc True",
    );
}

/// A card read, feedback, keypad, identification, a pulled cable and its return, with one
/// LibOSDP reader.
fn reader_session(
    python: &str,
    reader_key: Option<&str>,
    bus_key: Option<[u8; 16]>,
    security: Security,
    reader_status: &str,
) {
    let mut reader = Reader::start(
        python,
        ReaderSetup {
            key: reader_key,
            enforce: reader_key.is_some(),
            ..ReaderSetup::default()
        },
    );
    let mut line = line(&reader.path, &[1], bus_key, false);
    assert_eq!(
        until(&mut line, Duration::from_secs(5), |e| matches!(
            e,
            ReaderEvent::Online { .. }
        )),
        ReaderEvent::Online {
            address: 1,
            security
        }
    );
    assert_eq!(reader.say("sc"), reader_status, "the reader's side");

    // Its identification and capabilities, as LibOSDP declares them.
    let identified = until(&mut line, Duration::from_secs(2), |e| {
        matches!(e, ReaderEvent::Identified { .. })
    });
    let ReaderEvent::Identified { identity, .. } = identified else {
        unreachable!()
    };
    assert_eq!(
        (identity.serial, identity.firmware.as_str(), identity.model),
        (0x0102_0304, "3.2.9", 153),
        "{identity:?}"
    );
    until(
        &mut line,
        Duration::from_secs(2),
        |e| matches!(e, ReaderEvent::Capabilities { capabilities, .. } if capabilities.iter().any(|c| c.function == 9)),
    );

    // A card read reaches the panel as the credential number printed on the card.
    present_card(&mut reader, &mut line);

    // The reader receives the feedback: the LED command, then the buzzer.
    line.panel.feedback(1, Feedback::Grant);
    run_for(&mut line, Duration::from_millis(200));
    // LibOSDP prints commands as dicts: 2 is LED, 3 is buzzer; colour 2 green, 1 red.
    let led = feedback_command(&mut reader);
    assert!(
        led.contains("'command': 2")
            && led.contains("'on_color': 2")
            && led.contains("'temporary': True"),
        "{led}"
    );
    let buzzer = feedback_command(&mut reader);
    assert!(
        buzzer.contains("'command': 3") && buzzer.contains("'rep_count': 1"),
        "{buzzer}"
    );
    line.panel.feedback(1, Feedback::Deny);
    run_for(&mut line, Duration::from_millis(200));
    let led = feedback_command(&mut reader);
    assert!(
        led.contains("'command': 2") && led.contains("'on_color': 1"),
        "{led}"
    );
    let buzzer = feedback_command(&mut reader);
    assert!(
        buzzer.contains("'command': 3") && buzzer.contains("'rep_count': 3"),
        "{buzzer}"
    );

    // Keypad digits become a PIN credential.
    reader.say("keys");
    let keys = until(&mut line, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::Keypad { .. })
    });
    assert_eq!(
        keys,
        ReaderEvent::Keypad {
            address: 1,
            credential: "pin:1234".to_string()
        }
    );

    // Pulling the cable: off-line; plugging it back: on-line again.
    reader.say("unplug");
    until(&mut line, Duration::from_secs(15), |e| {
        matches!(e, ReaderEvent::Offline { address: 1 })
    });
    reader.say("plug");
    until(&mut line, Duration::from_secs(15), |e| {
        matches!(e, ReaderEvent::Online { address: 1, .. })
    });
    // The secure channel was set up again after the reconnect.
    assert_eq!(
        line.panel.status(1).unwrap().state,
        match security {
            Security::Plain => LinkState::Plain,
            other => LinkState::Secure(other),
        }
    );
    assert_eq!(reader.say("sc"), reader_status);
    present_card(&mut reader, &mut line);
}

fn a_reader_started_after_the_panel_reads_within_three_seconds(python: &str) {
    // The ordinary case of a reader powered up after the controller: it starts 1 to 3 s after
    // the panel, and meanwhile the panel's challenges wait in the PTY; at start it answers
    // them all. With the key and without enforcing it (the case that never came on-line),
    // then enforcing it.
    for (delay, enforce) in [
        (1.0, false),
        (2.0, false),
        (3.0, false),
        (1.5, true),
        (3.0, true),
    ] {
        let mut reader = Reader::start(
            python,
            ReaderSetup {
                key: Some(KEY),
                enforce,
                delay,
            },
        );
        let mut line = line(&reader.path, &[1], Some(key(KEY)), false);
        let started = Instant::now();
        let seen = line
            .until(Duration::from_secs_f64(delay + 3.0), |e| {
                matches!(e, ReaderEvent::Online { .. })
            })
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "delay {delay} s, enforce {enforce}: not on-line within 3 s of the reader's start: {:?}",
                    line.panel.status(1)
                )
            });
        assert!(
            !seen
                .iter()
                .any(|e| matches!(e, ReaderEvent::SecureChannelRefused { .. })),
            "{seen:?}"
        );
        reader.say("card");
        until(&mut line, Duration::from_secs(3), |e| {
            matches!(e, ReaderEvent::Card { .. })
        });
        let took = started.elapsed().as_secs_f64() - delay;
        assert!(
            took < 3.0,
            "delay {delay} s: the first card was read {took:.2} s after the reader started"
        );
    }
}

fn a_reader_in_install_mode_is_provisioned(python: &str) {
    // A reader fresh from the box (no key: the default key SCBK-D), on a bus with a key and
    // `provision = true`: given the bus's key inside the secure channel, then on-line under it.
    let mut reader = Reader::start(python, ReaderSetup::default());
    let mut line = line(&reader.path, &[1], Some(key(KEY)), true);
    until(&mut line, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::Provisioned { address: 1 })
    });
    assert_eq!(
        until(&mut line, Duration::from_secs(5), |e| matches!(
            e,
            ReaderEvent::Online { .. }
        )),
        ReaderEvent::Online {
            address: 1,
            security: Security::SiteKey
        }
    );
    assert_eq!(
        reader.say("key"),
        format!("key {KEY}"),
        "the key LibOSDP was given"
    );
    // LibOSDP counts a session under a key of its own as secure.
    assert_eq!(reader.say("sc"), "sc True");
    present_card(&mut reader, &mut line);
}

fn tamper_is_reported(python: &str) {
    let mut reader = enforcing_reader(python);
    let mut line = line(&reader.path, &[1], Some(key(KEY)), false);
    until(&mut line, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::Online { .. })
    });
    reader.say("tamper");
    until(&mut line, Duration::from_secs(3), |e| {
        *e == ReaderEvent::Tamper {
            address: 1,
            active: true,
        }
    });
    assert_eq!(line.panel.status(1).unwrap().tamper, Some(true));
    reader.say("closed");
    until(&mut line, Duration::from_secs(3), |e| {
        *e == ReaderEvent::Tamper {
            address: 1,
            active: false,
        }
    });
}

/// The reader at address 1 is reported once as refusing the secure channel, with `why` in
/// the problem; a card presented there then never becomes a credential, and the reader never
/// comes on-line: nothing is read from it in the clear.
fn refused_and_never_read(reader: &mut Reader, line: &mut TestLine, why: &str) {
    let refused = until(line, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::SecureChannelRefused { .. })
    });
    assert!(
        matches!(&refused, ReaderEvent::SecureChannelRefused { address: 1, problem } if problem.contains(why)),
        "{refused:?}"
    );
    reader.say("card");
    let events = run_for(line, Duration::from_secs(3));
    assert!(events.is_empty(), "{events:?}");
    assert!(!line.panel.is_online(1));
    assert_eq!(line.panel.status(1).unwrap().state, LinkState::Refused);
}

fn a_reader_with_another_key_is_never_used(python: &str) {
    let mut reader = enforcing_reader(python);
    let mut line = line(
        &reader.path,
        &[1],
        Some(key("ffeeddccbbaa99887766554433221100")),
        false,
    );
    refused_and_never_read(&mut reader, &mut line, "key");
    assert_eq!(reader.say("sc"), "sc False");
}

fn a_dead_reader_does_not_stall_a_live_one(python: &str) {
    let mut reader = enforcing_reader(python);
    // Address 2 is on the bus list but nothing answers there.
    let mut line = line(&reader.path, &[1, 2], Some(key(KEY)), false);
    until(&mut line, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::Online { address: 1, .. })
    });
    assert!(!line.panel.is_online(2));
    // Within a second the dead reader is asked at most once, while the live one is polled
    // all the time: a card there is read at once.
    let (live, dead) = (
        line.panel.status(1).unwrap().exchanges,
        line.panel.status(2).unwrap().exchanges,
    );
    reader.say("card");
    let started = Instant::now();
    until(&mut line, Duration::from_secs(1), |e| {
        matches!(e, ReaderEvent::Card { .. })
    });
    run_for(
        &mut line,
        Duration::from_millis(900).saturating_sub(started.elapsed()),
    );
    assert!(line.panel.status(1).unwrap().exchanges > live + 10);
    assert!(
        line.panel.status(2).unwrap().exchanges <= dead + 1,
        "the dead reader was asked more than once in a second"
    );
}

fn a_reader_that_insists_on_the_secure_channel_is_not_used_without_a_key(python: &str) {
    // The reader has a key and refuses the clear; the bus has no key (install mode): the
    // default key is refused, and in the clear the reader only NAKs. Reported once, never
    // on-line, no card read.
    let mut reader = enforcing_reader(python);
    let mut line = line(&reader.path, &[1], None, false);
    refused_and_never_read(&mut reader, &mut line, "scbk");
}
