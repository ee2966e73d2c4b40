//! An OSDP control panel for one RS-485 bus, on the pure-Rust `osdp` crate: polls every reader
//! on the bus in turn, turns card reads and keypad entries into credential numbers, sends LED
//! and buzzer feedback, and reports readers going off-line and coming back.
//!
//! Secure channel is not implemented yet: readers are polled in the clear (install mode).
//! A reader is off-line after three exchanges in a row without an answer; a dead reader then
//! costs the others at most one reply delay per second: it is only asked again once a second,
//! with no retry.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use osdp::clock::SystemClock;
use osdp::command::led::LedRecord;
use osdp::command::{
    BuzzerControl, BuzzerTone, Command, LedColor, LedControl, LedPermanent, LedTemporary, Poll,
};
use osdp::driver::acu::{Acu, ExchangeOutcome, PdState};
use osdp::reply::Reply;
use osdp::transport::Transport;

use crate::card;

/// What a reader did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A card was read: `FACILITY:CARD` for 26-bit H10301, else `raw:BITS:HEX`.
    Card {
        address: u8,
        credential: String,
    },
    /// Digits entered on the keypad, as `pin:DIGITS`.
    Keypad {
        address: u8,
        credential: String,
    },
    /// Card data that did not pass its parity check: refused, never a credential.
    BadCard {
        address: u8,
        problem: String,
    },
    Online {
        address: u8,
    },
    Offline {
        address: u8,
    },
}

/// The answer shown to the person at the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// Green LED for two seconds, one short beep.
    Grant,
    /// Red LED for two seconds, three beeps.
    Deny,
}

#[derive(Debug)]
struct Reader {
    address: u8,
    state: PdState,
    online: bool,
    /// Exchanges in a row without an answer.
    misses: u32,
    /// Every exchange tried with this reader.
    exchanges: u64,
    /// When an off-line reader was last asked.
    last_try: Option<Instant>,
    pending: VecDeque<Command>,
}

/// One bus of readers.
pub struct OsdpBus<T: Transport> {
    acu: Acu<T, SystemClock>,
    readers: Vec<Reader>,
}

impl<T: Transport> std::fmt::Debug for OsdpBus<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsdpBus")
            .field("readers", &self.readers)
            .finish()
    }
}

/// Exchanges in a row without an answer before a reader counts as off-line.
const OFFLINE_AFTER_MISSES: u32 = 3;

/// How often an off-line reader is asked whether it is back.
const OFFLINE_RETRY: Duration = Duration::from_secs(1);

impl<T: Transport> OsdpBus<T> {
    pub fn new(transport: T, addresses: &[u8]) -> Self {
        let mut acu = Acu::new(transport, SystemClock::new());
        // One retry, as the spec allows; an off-line reader gets none (see `poll_cycle`).
        acu.retry.max_retries = 1;
        let readers = addresses
            .iter()
            .map(|&address| Reader {
                address,
                state: PdState::default(),
                online: false,
                misses: 0,
                exchanges: 0,
                last_try: None,
                pending: VecDeque::new(),
            })
            .collect();
        OsdpBus { acu, readers }
    }

    /// Queues the LED and buzzer answer for a reader; it is sent instead of its next poll.
    pub fn feedback(&mut self, address: u8, feedback: Feedback) {
        let Some(reader) = self.readers.iter_mut().find(|r| r.address == address) else {
            return;
        };
        let (color, beeps) = match feedback {
            Feedback::Grant => (LedColor::Green, 1),
            Feedback::Deny => (LedColor::Red, 3),
        };
        // Temporary colour for 2 s (20 × 100 ms), then back to the permanent state (off).
        let record = LedRecord {
            reader: 0,
            led: 0,
            temporary: LedTemporary {
                control: 2,
                on_time: 20,
                off_time: 0,
                on_color: color,
                off_color: LedColor::Black,
                timer: 20,
            },
            permanent: LedPermanent {
                control: 0,
                on_time: 0,
                off_time: 0,
                on_color: LedColor::Black,
                off_color: LedColor::Black,
            },
        };
        reader
            .pending
            .push_back(Command::Led(LedControl::new(vec![record])));
        reader.pending.push_back(Command::Buzzer(BuzzerControl {
            reader: 0,
            tone: BuzzerTone::Default,
            on_time: 2,
            off_time: 1,
            count: beeps,
        }));
    }

    /// Whether a reader answered its last exchange.
    pub fn is_online(&self, address: u8) -> bool {
        self.readers
            .iter()
            .any(|r| r.address == address && r.online)
    }

    /// How many exchanges were tried with a reader.
    pub fn exchanges(&self, address: u8) -> u64 {
        self.readers
            .iter()
            .find(|r| r.address == address)
            .map_or(0, |r| r.exchanges)
    }

    /// One pass over the bus: every on-line reader gets one exchange (its pending command, or
    /// a poll), every off-line one at most once a second.
    pub fn poll_cycle(&mut self) -> Vec<ReaderEvent> {
        self.poll_cycle_at(Instant::now())
    }

    /// [`OsdpBus::poll_cycle`] with the time given, for deciding which off-line readers to ask.
    pub fn poll_cycle_at(&mut self, now: Instant) -> Vec<ReaderEvent> {
        let mut events = Vec::new();
        for i in 0..self.readers.len() {
            let reader = &mut self.readers[i];
            if !reader.online {
                if reader
                    .last_try
                    .is_some_and(|t| now.duration_since(t) < OFFLINE_RETRY)
                {
                    continue;
                }
                reader.last_try = Some(now);
            }
            let command = reader
                .pending
                .front()
                .cloned()
                .unwrap_or(Command::Poll(Poll));
            let retries = self.acu.retry.max_retries;
            if !reader.online {
                self.acu.retry.max_retries = 0;
            }
            reader.exchanges += 1;
            let outcome = self
                .acu
                .exchange(reader.address, &mut reader.state, &command);
            self.acu.retry.max_retries = retries;
            let address = reader.address;
            match outcome {
                Ok(ExchangeOutcome::Reply(reply)) => {
                    reader.misses = 0;
                    if !reader.online {
                        reader.online = true;
                        events.push(ReaderEvent::Online { address });
                    }
                    if !matches!(command, Command::Poll(_)) {
                        reader.pending.pop_front();
                    }
                    if let Some(event) = reply_event(address, reply) {
                        events.push(event);
                    }
                }
                Ok(ExchangeOutcome::Busy) => {}
                // No answer, or a garbled one. Off-line after three in a row (about a second
                // with the reply delay and one retry each), and then found again from scratch.
                Ok(_) | Err(_) => {
                    reader.misses += 1;
                    if reader.online && reader.misses >= OFFLINE_AFTER_MISSES {
                        reader.online = false;
                        reader.last_try = Some(now);
                        events.push(ReaderEvent::Offline { address });
                    }
                    if !reader.online {
                        reader.state.reset();
                    }
                }
            }
        }
        events
    }
}

fn reply_event(address: u8, reply: Reply) -> Option<ReaderEvent> {
    match reply {
        Reply::Raw(raw) => {
            let bits: Vec<bool> = raw.iter_bits().collect();
            Some(match card::credential_number(&bits) {
                Ok(credential) => ReaderEvent::Card {
                    address,
                    credential,
                },
                Err(problem) => ReaderEvent::BadCard {
                    address,
                    problem: problem.to_string(),
                },
            })
        }
        Reply::Keypad(keypad) => {
            let digits: String = keypad
                .digits
                .iter()
                .filter(|d| d.is_ascii_digit())
                .map(|d| *d as char)
                .collect();
            Some(ReaderEvent::Keypad {
                address,
                credential: format!("pin:{digits}"),
            })
        }
        _ => None,
    }
}

/// A serial port (or a PTY) as an OSDP transport: reads wait at most `timeout`.
pub struct SerialTransport(Box<dyn serialport::SerialPort>);

impl std::fmt::Debug for SerialTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SerialTransport")
    }
}

impl SerialTransport {
    pub fn open(path: &str, baud: u32) -> Result<Self, serialport::Error> {
        serialport::new(path, baud)
            .timeout(Duration::from_millis(20))
            .open()
            .map(SerialTransport)
    }
}

impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), osdp::Error> {
        std::io::Write::write_all(&mut self.0, bytes).map_err(|_| osdp::Error::Timeout)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, osdp::Error> {
        match std::io::Read::read(&mut self.0, buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
            Err(_) => Err(osdp::Error::Timeout),
        }
    }
}
