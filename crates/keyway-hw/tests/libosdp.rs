//! Keyway's OSDP control panel against an independent implementation: LibOSDP (the C reference
//! implementation, PyPI `libosdp==3.2.9`) plays the card reader on a PTY. It needs that
//! package, so it runs when `KEYWAY_LIBOSDP_PYTHON` names a Python that has it (`.ci/run`
//! makes the venv and sets it).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use keyway_hw::osdp::{Feedback, OsdpBus, ReaderEvent, Security, SerialTransport};

struct Reader {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Reader {
    /// Starts the reader; with `scbk` it holds that key and enforces the secure channel.
    fn start(python: &str, scbk: Option<&str>) -> (Reader, String) {
        Self::start_with(python, scbk, true)
    }

    /// Starts the reader; with `scbk` it holds that key, and refuses anything in the clear if
    /// `enforce`.
    fn start_with(python: &str, scbk: Option<&str>, enforce: bool) -> (Reader, String) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libosdp_pd.py");
        let mut command = Command::new(python);
        if let Some(scbk) = scbk {
            command.env("PD_SCBK", scbk);
        }
        command.env("PD_ENFORCE", if enforce { "1" } else { "0" });
        let mut child = command
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the LibOSDP reader");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut path = String::new();
        stdout.read_line(&mut path).unwrap();
        (
            Reader {
                child,
                stdin,
                stdout,
            },
            path.trim().to_string(),
        )
    }

    fn say(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        answer
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls until `want` holds for an event, or fails after `limit`.
fn poll_until(
    bus: &mut OsdpBus<SerialTransport>,
    limit: Duration,
    want: impl Fn(&ReaderEvent) -> bool,
) -> ReaderEvent {
    let started = Instant::now();
    while started.elapsed() < limit {
        for event in bus.poll_cycle() {
            if want(&event) {
                return event;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no such event within {limit:?}");
}

/// The Python that has LibOSDP, from `KEYWAY_LIBOSDP_PYTHON`. Absent: the test is not run
/// (and says so). Set but unable to import LibOSDP 3.2.9: the test fails, since it was asked
/// to run and cannot.
fn python() -> Option<String> {
    let Ok(python) = std::env::var("KEYWAY_LIBOSDP_PYTHON") else {
        eprintln!(
            "LibOSDP test not run: set KEYWAY_LIBOSDP_PYTHON to a Python with libosdp==3.2.9"
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

const KEY: &str = "000102030405060708090a0b0c0d0e0f";

fn key(hex: &str) -> [u8; 16] {
    std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
}

/// Presents card "123 4567" at the reader (address 1) and checks the panel reads its number.
fn present_card(reader: &mut Reader, bus: &mut OsdpBus<SerialTransport>) {
    reader.say("card");
    let card = poll_until(bus, Duration::from_secs(5), |e| {
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

#[test]
fn install_mode_against_libosdp() {
    if let Some(python) = python() {
        // Neither end has a key: the default key SCBK-D secures the channel. (LibOSDP does not
        // count a session under SCBK-D as secure in its status, so the reader says false; every
        // reply was still MACed, or this side would have refused it.)
        reader_session(&python, None, None, Security::DefaultKey, "sc False");
    }
}

#[test]
fn in_the_clear_against_libosdp() {
    if let Some(python) = python() {
        // Install mode on the bus; the reader has a key of its own, so it refuses the default
        // key, and it accepts commands in the clear: polled in the clear.
        let (mut reader, path) = Reader::start_with(&python, Some(KEY), false);
        let mut bus = OsdpBus::new(
            SerialTransport::open(&path, 115_200).unwrap(),
            &[1],
            None,
            115_200,
        );
        let online = poll_until(&mut bus, Duration::from_secs(5), |e| {
            matches!(e, ReaderEvent::Online { .. })
        });
        assert_eq!(
            online,
            ReaderEvent::Online {
                address: 1,
                security: Security::Plain
            }
        );
        present_card(&mut reader, &mut bus);
        assert_eq!(reader.say("sc").trim(), "sc False");
    }
}

#[test]
fn secure_channel_against_libosdp() {
    if let Some(python) = python() {
        // The reader holds the site key and refuses anything in the clear.
        reader_session(
            &python,
            Some(KEY),
            Some(key(KEY)),
            Security::SiteKey,
            "sc True",
        );
    }
}

/// A card read, feedback, keypad, a pulled cable and its return, with one LibOSDP reader.
fn reader_session(
    python: &str,
    reader_key: Option<&str>,
    bus_key: Option<[u8; 16]>,
    security: Security,
    reader_status: &str,
) {
    let (mut reader, path) = Reader::start(python, reader_key);
    let mut bus = OsdpBus::new(
        SerialTransport::open(&path, 115_200).unwrap(),
        &[1],
        bus_key,
        115_200,
    );
    assert_eq!(
        poll_until(&mut bus, Duration::from_secs(5), |e| matches!(
            e,
            ReaderEvent::Online { .. }
        )),
        ReaderEvent::Online {
            address: 1,
            security
        }
    );
    assert_eq!(reader.say("sc").trim(), reader_status, "the reader's side");

    // A card read reaches the panel as the credential number printed on the card.
    present_card(&mut reader, &mut bus);

    // The reader receives the feedback: the LED command, then the buzzer.
    bus.feedback(1, Feedback::Grant);
    for _ in 0..5 {
        bus.poll_cycle();
    }
    // LibOSDP prints commands as dicts: 2 is LED, 3 is buzzer; colour 2 green, 1 red.
    let led = reader.say("cmd");
    assert!(
        led.contains("'command': 2")
            && led.contains("'on_color': 2")
            && led.contains("'temporary': True"),
        "{led}"
    );
    let buzzer = reader.say("cmd");
    assert!(
        buzzer.contains("'command': 3") && buzzer.contains("'rep_count': 1"),
        "{buzzer}"
    );
    bus.feedback(1, Feedback::Deny);
    for _ in 0..5 {
        bus.poll_cycle();
    }
    let led = reader.say("cmd");
    assert!(
        led.contains("'command': 2") && led.contains("'on_color': 1"),
        "{led}"
    );
    let buzzer = reader.say("cmd");
    assert!(
        buzzer.contains("'command': 3") && buzzer.contains("'rep_count': 3"),
        "{buzzer}"
    );

    // Keypad digits become a PIN credential.
    reader.say("keys");
    let keys = poll_until(&mut bus, Duration::from_secs(5), |e| {
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
    poll_until(&mut bus, Duration::from_secs(15), |e| {
        matches!(e, ReaderEvent::Offline { address: 1 })
    });
    reader.say("plug");
    poll_until(&mut bus, Duration::from_secs(15), |e| {
        matches!(e, ReaderEvent::Online { address: 1, .. })
    });
    // The secure channel was set up again after the reconnect.
    assert_eq!(bus.security(1), Some(security));
    assert_eq!(reader.say("sc").trim(), reader_status);
    present_card(&mut reader, &mut bus);
}

/// The reader at address 1 is reported once as refusing the secure channel, with `why` in
/// the problem; a card presented there then never becomes a credential, and the reader never
/// comes on-line: nothing is read from it in the clear.
fn refused_and_never_read(reader: &mut Reader, bus: &mut OsdpBus<SerialTransport>, why: &str) {
    let refused = poll_until(bus, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::SecureChannelRefused { .. })
    });
    assert!(
        matches!(&refused, ReaderEvent::SecureChannelRefused { address: 1, problem } if problem.contains(why)),
        "{refused:?}"
    );
    reader.say("card");
    let started = Instant::now();
    let mut events = Vec::new();
    while started.elapsed() < Duration::from_secs(3) {
        events.extend(bus.poll_cycle());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(events.is_empty(), "{events:?}");
    assert!(!bus.is_online(1));
}

#[test]
fn a_reader_with_another_key_is_never_used() {
    let Some(python) = python() else { return };
    let (mut reader, path) = Reader::start(&python, Some(KEY));
    let mut bus = OsdpBus::new(
        SerialTransport::open(&path, 115_200).unwrap(),
        &[1],
        Some(key("ffeeddccbbaa99887766554433221100")),
        115_200,
    );
    refused_and_never_read(&mut reader, &mut bus, "key");
    assert_eq!(reader.say("sc").trim(), "sc False");
}

#[test]
fn a_dead_reader_does_not_stall_a_live_one() {
    let Some(python) = python() else { return };
    let (mut reader, path) = Reader::start(&python, Some(KEY));
    // Address 2 is on the bus list but nothing answers there.
    let mut bus = OsdpBus::new(
        SerialTransport::open(&path, 115_200).unwrap(),
        &[1, 2],
        Some(key(KEY)),
        115_200,
    );
    poll_until(&mut bus, Duration::from_secs(5), |e| {
        matches!(e, ReaderEvent::Online { address: 1, .. })
    });
    assert!(!bus.is_online(2));
    // Within one second the dead reader is asked once, whatever the number of cycles, while
    // the live one is polled on every cycle: a card there is read on the next cycle.
    let now = Instant::now();
    bus.poll_cycle_at(now);
    let (live, dead) = (bus.exchanges(1), bus.exchanges(2));
    reader.say("card");
    let mut card = None;
    for _ in 0..20 {
        for event in bus.poll_cycle_at(now) {
            if let ReaderEvent::Card { credential, .. } = event {
                card = Some(credential);
            }
        }
    }
    assert_eq!(card.as_deref(), Some("123:4567"));
    assert_eq!(bus.exchanges(1), live + 20);
    assert_eq!(
        bus.exchanges(2),
        dead,
        "the dead reader was asked again within the second"
    );
}

#[test]
fn a_reader_that_insists_on_the_secure_channel_is_not_used_without_a_key() {
    let Some(python) = python() else { return };
    // The reader has a key and refuses the clear; the bus has no key (install mode): the
    // default key is refused, and in the clear the reader only NAKs. Reported once, never
    // on-line, no card read.
    let (mut reader, path) = Reader::start(&python, Some(KEY));
    let mut bus = OsdpBus::new(
        SerialTransport::open(&path, 115_200).unwrap(),
        &[1],
        None,
        115_200,
    );
    refused_and_never_read(&mut reader, &mut bus, "scbk");
}
