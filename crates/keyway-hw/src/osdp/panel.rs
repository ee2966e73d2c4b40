//! The OSDP control panel of one bus, sans-IO: [`Panel::handle_bytes`] takes the bytes that
//! arrived with the time, [`Panel::poll_transmit`] gives the next frame to send,
//! [`Panel::poll_timeout`] the next deadline (hand it to [`Panel::handle_timeout`] when it
//! passes), [`Panel::poll_event`] what the readers did. It reads no clock and no port, so
//! every timing case is tested on virtual time ([`super::sim`]).
//!
//! Exchanges go one at a time, round the readers in turn: each on-line reader gets one per
//! cycle (its queued LED and buzzer command, an identification query, or a poll), and the
//! next starts the moment a reply is taken, so the cycle is as fast as the line. A reader not
//! on-line is asked once a second; one whose key is refused, at [`Timing::refused_retry`].
//!
//! Each reader's link, as [`LinkState`] reports it:
//!
//! ```text
//! +---------+  CHLNG sent  +-----------+  CCRYPT and RMAC_I verify  +--------+
//! | unknown |------------->| handshake |--------------------------->| secure |
//! +---------+              +-----------+                            +--------+
//!   ^     |                 ^  ^  |   |                                  |
//!   +-----+                 |  |  |   | install mode: SCBK-D             |
//!   no reply: asked         |  |  |   | refused three times              |
//!   once a second           |  |  |   v                                  |
//!                           |  |  | +-------+                            |
//!                           |  |  | | plain |                            |
//!                           |  |  | +-------+                            |
//!                           |  |  | three fresh handshakes fail          |
//!                           |  |  | the same way (mismatch, NAK)         |
//!                           |  |  v                                      |
//!                           |  | +---------+                             |
//!                           |  +-| refused |  tried again every 10 s     |
//!                           |    +---------+                             |
//!                           +--------------------------------------------+
//!                             a MAC or a reply lost: a new handshake (still on-line)
//!
//! any state: no valid reply for offline_after (8 s) --> offline, asked once a second
//! ```
//!
//! No stale reply is taken for a fresh one: the line is drained before every command (the
//! receive buffer is cleared when a frame goes out, and [`super::Line`] discards the port's
//! input); a reply must come from the addressed reader with the command's sequence number;
//! inside the secure channel its MAC must verify, and a handshake reply must verify against
//! this handshake's own challenge. A reply that fails those checks is set aside and the panel
//! keeps listening until the deadline: the fresh reply may be right behind a stale one. A
//! cryptogram that verifies against one of the reader's last challenges is a late reply to it;
//! past a matching cryptogram the key is known to be right. Only when nothing better came does
//! a check's failure count, and a key is called wrong only after [`WRONG_KEY_AFTER`] fresh
//! handshakes in a row failed (one right after a silence is not fresh).

use std::collections::VecDeque;

use osdp::command::led::LedRecord;
use osdp::command::{
    BuzzerControl, BuzzerTone, Cap, Command, Id, InputStatus, KeySet, LedColor, LedControl,
    LedPermanent, LedTemporary, LocalStatus, Poll,
};
use osdp::packet::{
    Address, ControlByte, CtrlFlags, PacketBuilder, ParsedPacket, Scb, ScsType, Sqn,
};
use osdp::reply::{CCrypt, NakErrorCode, RMacI, Reply, ReplyCode};
use osdp::secure::session::Cryptogrammed;
use osdp::secure::{Direction, SCBK_D, Secure, Session};

use super::wire::{reply_event, take_packet};
use super::{Capability, Feedback, Identity, Micros, ReaderEvent, Security};

/// Fresh handshakes in a row that must fail the same way before a key is called wrong.
pub const WRONG_KEY_AFTER: u32 = 3;

/// How many of a reader's last challenges a late cryptogram is checked against.
const RECENT_CHALLENGES: usize = 8;

/// The longest reply waited for, in bytes (a sealed card read is under 60, a PDCAP under 100).
const LONGEST_REPLY: usize = 128;

const CMD_CHLNG: u8 = 0x76;
const CMD_SCRYPT: u8 = 0x77;

/// The bus's timing.
///
/// The defaults are the specification's: SIA OSDP 2.2 (published as IEC 60839-11-5), §5.7,
/// "REPLY_DELAY": a reader starts its reply within 200 ms of the end of the command; and a
/// reader from which the panel has had no valid reply for 8 seconds is off-line. On top of
/// the reply delay the panel allows the bytes' own time on the line at the bus's baud rate
/// (the command's, and the longest reply's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub baud: u32,
    /// How long a reader has to start its reply (µs). `[[bus]] reply_timeout_ms`.
    pub reply_timeout: Micros,
    /// No valid reply for this long and an on-line reader is off-line (µs).
    /// `[[bus]] offline_after_ms`.
    pub offline_after: Micros,
    /// How often a reader that is not on-line is asked whether it is there (µs).
    pub offline_retry: Micros,
    /// How often a reader whose key was refused is tried again (µs): a reader whose key is
    /// corrected comes on-line within this, without a restart.
    pub refused_retry: Micros,
}

impl Timing {
    /// REPLY_DELAY, SIA OSDP 2.2 §5.7.
    pub const REPLY_TIMEOUT_MS: u64 = 200;
    /// The off-line time, SIA OSDP 2.2 §5.7.
    pub const OFFLINE_AFTER_MS: u64 = 8_000;
    /// Keyway's choice: a reader not on-line costs the others one reply timeout a second.
    pub const OFFLINE_RETRY_MS: u64 = 1_000;
    /// Keyway's choice: a reader refusing the key costs three handshakes every ten seconds.
    pub const REFUSED_RETRY_MS: u64 = 10_000;

    /// The specification's timing at `baud`.
    pub fn spec(baud: u32) -> Timing {
        Timing {
            baud: baud.max(1200),
            reply_timeout: Self::REPLY_TIMEOUT_MS * 1000,
            offline_after: Self::OFFLINE_AFTER_MS * 1000,
            offline_retry: Self::OFFLINE_RETRY_MS * 1000,
            refused_retry: Self::REFUSED_RETRY_MS * 1000,
        }
    }

    /// The time `bytes` take on the line: 10 bits each (start, 8 data, stop).
    pub fn wire_time(&self, bytes: usize) -> Micros {
        (bytes as Micros * 10 * 1_000_000).div_ceil(Micros::from(self.baud.max(1200)))
    }

    /// How long after a frame of `len` bytes starts going out its reply may still come.
    fn reply_window(&self, len: usize) -> Micros {
        self.wire_time(len) + self.reply_timeout + self.wire_time(LONGEST_REPLY)
    }
}

/// Where a reader's link stands, for the API and the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Never heard from on this connection.
    Unknown,
    /// A secure channel handshake is under way.
    Handshake,
    Secure(Security),
    /// In the clear (install mode only).
    Plain,
    /// Heard from before, silent now.
    Offline,
    /// It answers, but not with the bus's key.
    Refused,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Unknown => "unknown",
            LinkState::Handshake => "handshake",
            LinkState::Secure(_) => "secure",
            LinkState::Plain => "plain",
            LinkState::Offline => "offline",
            LinkState::Refused => "refused",
        }
    }
}

/// What the panel knows of one reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderStatus {
    pub address: u8,
    pub state: LinkState,
    pub online: bool,
    pub identity: Option<Identity>,
    pub capabilities: Vec<Capability>,
    pub tamper: Option<bool>,
    pub power_fault: Option<bool>,
    /// Exchanges started with the reader (not counting retries).
    pub exchanges: u64,
    /// Frames sent again because the first went unanswered or garbled.
    pub retries: u64,
    /// What went wrong in its last exchange that gave nothing usable.
    pub last_problem: Option<String>,
}

/// Which key a handshake uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyUse {
    /// The bus's SCBK.
    Site,
    /// The default install key SCBK-D.
    Default,
}

/// Where a reader's link stands on this connection.
enum Link {
    /// Nothing agreed yet: the next exchange is a handshake.
    Unknown,
    /// In the clear (install mode only).
    Plain,
    Secure(Box<Session<Secure>>, KeyUse),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        match self {
            Link::Unknown => f.write_str("Unknown"),
            Link::Plain => f.write_str("Plain"),
            Link::Secure(_, key) => write!(f, "Secure({key:?})"),
        }
    }
}

#[derive(Debug)]
struct Reader {
    address: u8,
    sqn: Sqn,
    link: Link,
    online: bool,
    /// The key was refused; asked again at `refused_retry`.
    refused: bool,
    refusal_reported: bool,
    last_reply: Option<Micros>,
    /// When anything came from its address with valid check characters (a refused reader is
    /// heard from, though none of its replies is valid).
    last_heard: Option<Micros>,
    /// Not asked before this (a reader not on-line; or one whose last exchange could not be
    /// built).
    next_try: Micros,
    /// Fresh handshakes in a row that failed.
    refusals: u32,
    /// The last exchange got no answer at all: a failed check right after it may be a reply
    /// to an older command.
    after_silence: bool,
    /// Provisioning: the next handshake tries the default key.
    try_default_key: bool,
    /// The last challenges sent to it (which key, RND.A): a cryptogram that verifies against
    /// one of them is a late reply to it, never a sign of a wrong key.
    challenges: VecDeque<(KeyUse, [u8; 8])>,
    exchanges: u64,
    retries: u64,
    last_problem: Option<String>,
    /// LED and buzzer commands, sent instead of polls.
    feedback: VecDeque<Command>,
    /// Identification, capabilities and local status, asked when the reader comes on-line.
    queries: VecDeque<Command>,
    identity: Option<Identity>,
    capabilities: Vec<Capability>,
    tamper: Option<bool>,
    power_fault: Option<bool>,
    inputs: Option<Vec<bool>>,
}

impl Reader {
    /// Back to the state of a reader never heard from on this link: sequence 0, no session.
    fn restart(&mut self) {
        self.sqn = Sqn::ZERO;
        self.link = Link::Unknown;
    }
}

/// Where a command came from, so that it leaves its queue once the reader has taken it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    Feedback,
    Query,
    None,
}

enum Step {
    Command {
        command: Command,
        queue: Queue,
    },
    Challenge {
        key: KeyUse,
        rnd_a: [u8; 8],
    },
    ServerCryptogram {
        key: KeyUse,
        session: Box<Session<Cryptogrammed>>,
    },
}

/// A reply with the right address and sequence number that failed its check.
enum Rejected {
    /// A handshake reply that does not verify against this challenge, or a NAK to it.
    Refusal(String),
    /// A MAC that does not verify, a reply in the clear inside the channel, a reply of the
    /// wrong kind.
    Garbled(String),
}

struct Exchange {
    reader: usize,
    step: Step,
    sqn: Sqn,
    frame: Vec<u8>,
    /// When the frame went out; None until [`Panel::poll_transmit`] has handed it over.
    sent: Option<Micros>,
    deadline: Micros,
    retries: u8,
    rejected: Option<Rejected>,
}

/// The control panel of one bus.
pub struct Panel {
    readers: Vec<Reader>,
    scbk: Option<[u8; 16]>,
    provision: bool,
    timing: Timing,
    random: Box<dyn FnMut() -> Option<[u8; 8]> + Send>,
    rx: Vec<u8>,
    turn: usize,
    exchange: Option<Exchange>,
    events: VecDeque<ReaderEvent>,
}

impl std::fmt::Debug for Panel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Panel")
            .field("readers", &self.readers)
            .field("secure", &self.scbk.is_some())
            .field("provision", &self.provision)
            .field("timing", &self.timing)
            .finish()
    }
}

impl Panel {
    /// A bus of readers at `addresses`. `scbk` is the bus's secure channel base key (None is
    /// install mode: the default key SCBK-D, else in the clear); with `provision` (and an
    /// `scbk`), a reader found with the default key is given the bus's key. `random` gives
    /// each handshake's challenge ([`super::urandom8`] on a real bus); None fails that
    /// handshake.
    pub fn new(
        addresses: &[u8],
        scbk: Option<[u8; 16]>,
        provision: bool,
        timing: Timing,
        random: Box<dyn FnMut() -> Option<[u8; 8]> + Send>,
    ) -> Panel {
        let readers = addresses
            .iter()
            .map(|&address| Reader {
                address,
                sqn: Sqn::ZERO,
                link: Link::Unknown,
                online: false,
                refused: false,
                refusal_reported: false,
                last_reply: None,
                last_heard: None,
                next_try: 0,
                refusals: 0,
                after_silence: false,
                try_default_key: false,
                challenges: VecDeque::new(),
                exchanges: 0,
                retries: 0,
                last_problem: None,
                feedback: VecDeque::new(),
                queries: VecDeque::new(),
                identity: None,
                capabilities: Vec::new(),
                tamper: None,
                power_fault: None,
                inputs: None,
            })
            .collect();
        Panel {
            readers,
            scbk,
            provision: provision && scbk.is_some(),
            timing,
            random,
            rx: Vec::with_capacity(osdp::MAX_BUS_PACKET),
            turn: 0,
            exchange: None,
            events: VecDeque::new(),
        }
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// Queues the LED and buzzer answer for a reader; it is sent instead of its next polls.
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
            .feedback
            .push_back(Command::Led(LedControl::new(vec![record])));
        reader.feedback.push_back(Command::Buzzer(BuzzerControl {
            reader: 0,
            tone: BuzzerTone::Default,
            on_time: 2,
            off_time: 1,
            count: beeps,
        }));
    }

    /// Whether a reader is on-line.
    pub fn is_online(&self, address: u8) -> bool {
        self.readers
            .iter()
            .any(|r| r.address == address && r.online)
    }

    /// When the panel last heard anything from any of its readers (valid reply or not).
    pub fn last_heard(&self) -> Option<Micros> {
        self.readers.iter().filter_map(|r| r.last_heard).max()
    }

    /// What the panel knows of a reader.
    pub fn status(&self, address: u8) -> Option<ReaderStatus> {
        let (i, reader) = self
            .readers
            .iter()
            .enumerate()
            .find(|(_, r)| r.address == address)?;
        let handshaking = self
            .exchange
            .as_ref()
            .is_some_and(|ex| ex.reader == i && !matches!(ex.step, Step::Command { .. }));
        let state = if reader.refused {
            LinkState::Refused
        } else if handshaking {
            LinkState::Handshake
        } else if reader.online {
            match &reader.link {
                Link::Secure(_, key) => LinkState::Secure(security(*key)),
                Link::Plain => LinkState::Plain,
                Link::Unknown => LinkState::Handshake,
            }
        } else if reader.last_reply.is_some() {
            LinkState::Offline
        } else {
            LinkState::Unknown
        };
        Some(ReaderStatus {
            address,
            state,
            online: reader.online,
            identity: reader.identity.clone(),
            capabilities: reader.capabilities.clone(),
            tamper: reader.tamper,
            power_fault: reader.power_fault,
            exchanges: reader.exchanges,
            retries: reader.retries,
            last_problem: reader.last_problem.clone(),
        })
    }

    /// The next thing a reader did, if any.
    pub fn poll_event(&mut self) -> Option<ReaderEvent> {
        self.events.pop_front()
    }

    /// The frame to send now, if any. The receive buffer is emptied as it goes: nothing that
    /// came before it is its answer.
    pub fn poll_transmit(&mut self, now: Micros) -> Option<Vec<u8>> {
        if self.exchange.is_none() {
            self.exchange = self.next_exchange(now);
        }
        let exchange = self.exchange.as_mut()?;
        if exchange.sent.is_some() {
            return None;
        }
        exchange.sent = Some(now);
        exchange.deadline = now + self.timing.reply_window(exchange.frame.len());
        self.rx.clear();
        Some(exchange.frame.clone())
    }

    /// When the panel must next be called: the reply deadline of the exchange in flight, or
    /// when the next reader is due (now, if one is). None with no readers.
    pub fn poll_timeout(&self) -> Option<Micros> {
        if let Some(exchange) = &self.exchange {
            return Some(if exchange.sent.is_some() {
                exchange.deadline
            } else {
                0
            });
        }
        // An on-line reader's `next_try` is in the past (it is due) unless its last exchange
        // could not even be built.
        self.readers.iter().map(|r| r.next_try).min()
    }

    /// Bytes that arrived at `now`. Bytes with no command in flight are nobody's answer and
    /// are dropped.
    pub fn handle_bytes(&mut self, now: Micros, bytes: &[u8]) {
        if !self.awaiting_reply() {
            return;
        }
        self.rx.extend_from_slice(bytes);
        while let Some(packet) = take_packet(&mut self.rx) {
            self.take_reply(now, &packet);
            if !self.awaiting_reply() {
                // The exchange is over (or its next step is about to go out): whatever else
                // came is not the answer to the next frame.
                self.rx.clear();
                return;
            }
        }
    }

    /// Whether a frame is out and its reply awaited.
    fn awaiting_reply(&self) -> bool {
        self.exchange.as_ref().is_some_and(|ex| ex.sent.is_some())
    }

    /// The time is `now`: an exchange whose deadline passed ends (or is retried).
    pub fn handle_timeout(&mut self, now: Micros) {
        let Some(exchange) = &self.exchange else {
            return;
        };
        if exchange.sent.is_none() || now < exchange.deadline {
            return;
        }
        let mut exchange = self.exchange.take().expect("checked above");
        let i = exchange.reader;
        match (exchange.rejected.take(), &exchange.step) {
            (Some(Rejected::Refusal(problem)), _) => self.handshake_refused(i, problem, now),
            (Some(Rejected::Garbled(problem)), Step::Command { .. }) if exchange.retries > 0 => {
                self.readers[i].last_problem = Some(problem);
                self.retry(exchange);
            }
            (Some(Rejected::Garbled(problem)), _) => self.failed(i, problem, false, now),
            (None, _) if exchange.retries > 0 => self.retry(exchange),
            (None, _) => self.failed(i, "no answer".into(), true, now),
        }
    }

    /// Sends the same bytes again with the same sequence number: the reader repeats its last
    /// reply if it had answered, so the MAC chain stays in step whichever way the first
    /// attempt was lost.
    fn retry(&mut self, mut exchange: Exchange) {
        exchange.retries -= 1;
        self.readers[exchange.reader].retries += 1;
        exchange.sent = None;
        self.exchange = Some(exchange);
    }

    /// The next exchange: with the next reader in turn that is due.
    fn next_exchange(&mut self, now: Micros) -> Option<Exchange> {
        let n = self.readers.len();
        for k in 0..n {
            let i = (self.turn + k) % n;
            let reader = &self.readers[i];
            if now < reader.next_try {
                continue;
            }
            self.turn = (i + 1) % n;
            match self.build_exchange(i) {
                Ok(exchange) => {
                    self.readers[i].exchanges += 1;
                    return Some(exchange);
                }
                Err(problem) => {
                    let reader = &mut self.readers[i];
                    reader.last_problem = Some(problem);
                    reader.next_try = now + self.timing.offline_retry;
                }
            }
        }
        None
    }

    fn build_exchange(&mut self, i: usize) -> Result<Exchange, String> {
        // An on-line reader gets one retry, as the spec allows; one not on-line none.
        let retries = u8::from(self.readers[i].online);
        let address = self.readers[i].address;
        let addr = Address::pd(address).map_err(|e| e.to_string())?;
        if matches!(self.readers[i].link, Link::Unknown) {
            let key = match self.scbk {
                Some(_) if self.provision && self.readers[i].try_default_key => KeyUse::Default,
                Some(_) => KeyUse::Site,
                None => KeyUse::Default,
            };
            let rnd_a = (self.random)().ok_or("no randomness for the challenge")?;
            let reader = &mut self.readers[i];
            reader.sqn = Sqn::ZERO;
            if reader.challenges.len() == RECENT_CHALLENGES {
                reader.challenges.pop_front();
            }
            reader.challenges.push_back((key, rnd_a));
            let frame = handshake_frame(addr, reader.sqn, ScsType::Scs11, key, CMD_CHLNG, &rnd_a)?;
            return Ok(Exchange {
                reader: i,
                step: Step::Challenge { key, rnd_a },
                sqn: reader.sqn,
                frame,
                sent: None,
                deadline: 0,
                retries,
                rejected: None,
            });
        }
        let provisioning =
            matches!(self.readers[i].link, Link::Secure(_, KeyUse::Default)) && self.scbk.is_some();
        let reader = &mut self.readers[i];
        let (command, queue) = if provisioning {
            let key = self.scbk.expect("provisioning needs the bus's key");
            (Command::KeySet(KeySet::scbk(key)), Queue::None)
        } else if let Some(command) = reader.feedback.front() {
            (command.clone(), Queue::Feedback)
        } else if let Some(command) = reader.queries.front() {
            (command.clone(), Queue::Query)
        } else {
            (Command::Poll(Poll), Queue::None)
        };
        let data = command.encode_data().map_err(|e| e.to_string())?;
        let code = command.code().as_byte();
        let sqn = reader.sqn;
        let frame = match &mut reader.link {
            Link::Secure(session, _) => osdp::secure::seal(
                session,
                addr,
                sqn,
                Direction::AcuToPd,
                !data.is_empty(),
                code,
                &data,
            ),
            _ => PacketBuilder::plain(addr, ControlByte::new(sqn, CtrlFlags::USE_CRC), code, data)
                .encode(),
        }
        .map_err(|e| e.to_string())?;
        Ok(Exchange {
            reader: i,
            step: Step::Command { command, queue },
            sqn,
            frame,
            sent: None,
            deadline: 0,
            retries,
            rejected: None,
        })
    }

    /// A whole packet arrived while the exchange is in flight.
    fn take_reply(&mut self, now: Micros, raw: &[u8]) {
        let Ok((parsed, _)) = ParsedPacket::parse(raw) else {
            return;
        };
        let exchange = self.exchange.as_mut().expect("an exchange is in flight");
        let i = exchange.reader;
        let busy = parsed.code == ReplyCode::Busy.as_byte();
        // Our own command echoed by a half-duplex adapter, another reader's late reply, or
        // one to an earlier command: not the answer to this one.
        if !parsed.addr.is_reply()
            || parsed.addr.pd_addr() != self.readers[i].address
            || !(busy || parsed.ctrl.sqn == exchange.sqn)
        {
            return;
        }
        self.readers[i].last_heard = Some(now);
        let Ok(code) = ReplyCode::from_byte(parsed.code) else {
            exchange.rejected = Some(Rejected::Garbled(format!(
                "unknown reply code {:#04x}",
                parsed.code
            )));
            return;
        };
        let mut exchange = self.exchange.take().expect("an exchange is in flight");
        match exchange.step {
            Step::Challenge { key, rnd_a } => {
                let outcome = match code {
                    ReplyCode::CCrypt => match CCrypt::decode(parsed.data) {
                        Ok(ccrypt) => Session::new(self.key_bytes(key))
                            .challenge(rnd_a)
                            .receive_ccrypt(&ccrypt)
                            .map_err(|_| {
                                // A late answer to one of our earlier challenges verifies
                                // against it: the key is right, the reply is stale.
                                let stale = self.readers[i].challenges.iter().any(|(k, old)| {
                                    *old != rnd_a
                                        && Session::new(self.key_bytes(*k))
                                            .challenge(*old)
                                            .receive_ccrypt(&ccrypt)
                                            .is_ok()
                                });
                                if stale {
                                    Rejected::Garbled(
                                        "a late cryptogram, for an earlier challenge".into(),
                                    )
                                } else {
                                    Rejected::Refusal(
                                        "the reader's cryptogram does not match this bus's key"
                                            .into(),
                                    )
                                }
                            }),
                        Err(e) => Err(Rejected::Garbled(e.to_string())),
                    },
                    ReplyCode::Nak => Err(Rejected::Refusal(nak_problem(parsed.data, "challenge"))),
                    other => Err(Rejected::Garbled(format!(
                        "unexpected reply {other:?} to the challenge"
                    ))),
                };
                match outcome {
                    Ok(session) => {
                        let reader = &mut self.readers[i];
                        reader.sqn = exchange.sqn.next();
                        let server = session.server_cryptogram();
                        match Address::pd(reader.address)
                            .map_err(|e| e.to_string())
                            .and_then(|addr| {
                                handshake_frame(
                                    addr,
                                    reader.sqn,
                                    ScsType::Scs13,
                                    key,
                                    CMD_SCRYPT,
                                    &server,
                                )
                            }) {
                            Ok(frame) => {
                                // The handshake goes on at once, with the same reader.
                                self.exchange = Some(Exchange {
                                    reader: i,
                                    step: Step::ServerCryptogram {
                                        key,
                                        session: Box::new(session),
                                    },
                                    sqn: reader.sqn,
                                    frame,
                                    sent: None,
                                    deadline: 0,
                                    retries: exchange.retries,
                                    rejected: None,
                                });
                            }
                            Err(problem) => self.failed(i, problem, false, now),
                        }
                    }
                    Err(rejected) => {
                        exchange.step = Step::Challenge { key, rnd_a };
                        exchange.rejected = Some(rejected);
                        self.exchange = Some(exchange);
                    }
                }
            }
            Step::ServerCryptogram { key, session } => {
                let outcome = match code {
                    // Past a matching cryptogram the key is known to be right: a failure
                    // now is a stale or garbled reply, or a reader that restarted, never a
                    // refusal of the key.
                    ReplyCode::RMacI => match RMacI::decode(parsed.data) {
                        Ok(rmac) => {
                            (*session)
                                .clone()
                                .confirm_rmac_i(&rmac.r_mac_i)
                                .map_err(|_| {
                                    Rejected::Garbled(
                                        "the reader's initial R-MAC does not match".into(),
                                    )
                                })
                        }
                        Err(e) => Err(Rejected::Garbled(e.to_string())),
                    },
                    ReplyCode::Nak => Err(Rejected::Garbled(nak_problem(
                        parsed.data,
                        "server cryptogram",
                    ))),
                    other => Err(Rejected::Garbled(format!(
                        "unexpected reply {other:?} to the server cryptogram"
                    ))),
                };
                match outcome {
                    Ok(secure) => {
                        let reader = &mut self.readers[i];
                        reader.sqn = exchange.sqn.next();
                        reader.link = Link::Secure(Box::new(secure), key);
                        reader.refusals = 0;
                        self.alive(i, now);
                        // Under the default key with a bus key set, the only command is the
                        // bus's key (provisioning); the reader is not on-line under it.
                        if !(key == KeyUse::Default && self.scbk.is_some()) {
                            self.came_online(i);
                        }
                    }
                    Err(rejected) => {
                        exchange.step = Step::ServerCryptogram { key, session };
                        exchange.rejected = Some(rejected);
                        self.exchange = Some(exchange);
                    }
                }
            }
            Step::Command { command, queue } => {
                let reader = &mut self.readers[i];
                let data = match &mut reader.link {
                    Link::Secure(session, _) => {
                        if parsed.scb.is_some_and(|scb| scb.ty.has_mac()) {
                            osdp::secure::unseal(session, &parsed, raw)
                                .map_err(|e| format!("secure reply refused: {e}"))
                        } else if busy {
                            // A busy reader may answer in the clear; it took nothing.
                            Ok(Vec::new())
                        } else {
                            Err("a reply in the clear inside the secure channel".to_string())
                        }
                    }
                    _ => Ok(parsed.data.to_vec()),
                };
                let data = match data {
                    Ok(data) => data,
                    Err(problem) => {
                        exchange.step = Step::Command { command, queue };
                        exchange.rejected = Some(Rejected::Garbled(problem));
                        self.exchange = Some(exchange);
                        return;
                    }
                };
                self.alive(i, now);
                let reader = &mut self.readers[i];
                // A busy reader did not take the command: it stays queued, and the sequence
                // number stays.
                if busy {
                    return;
                }
                reader.sqn = exchange.sqn.next();
                match queue {
                    Queue::Feedback => drop(reader.feedback.pop_front()),
                    Queue::Query => drop(reader.queries.pop_front()),
                    Queue::None => {}
                }
                let reply = match Reply::decode(code, &data) {
                    Ok(reply) => reply,
                    Err(e) => {
                        reader.last_problem = Some(format!("undecodable {code:?} reply: {e}"));
                        return;
                    }
                };
                self.command_reply(i, &command, reply, now);
            }
        }
    }

    /// A reply to a command, taken: what it means.
    fn command_reply(&mut self, i: usize, command: &Command, reply: Reply, now: Micros) {
        let scbk_set = self.scbk.is_some();
        let reader = &mut self.readers[i];
        let address = reader.address;
        if let Command::KeySet(_) = command {
            match reply {
                Reply::Ack(_) => {
                    // The reader holds the bus's key now: a new handshake under it.
                    reader.restart();
                    reader.try_default_key = false;
                    reader.refusals = 0;
                    reader.next_try = now;
                    self.events.push_back(ReaderEvent::Provisioned { address });
                }
                other => {
                    reader.restart();
                    self.handshake_refused(
                        i,
                        format!("the reader did not take the bus's key: {:?}", other.code()),
                        now,
                    );
                }
            }
            return;
        }
        if matches!(reader.link, Link::Plain)
            && let Reply::Nak(nak) = &reply
            && nak.error == NakErrorCode::EncryptedCommunicationRequired
        {
            // In the clear, a reader that insists on the secure channel answers nothing but
            // this NAK: it is not usable until the bus has its key.
            self.handshake_refused(
                i,
                "the reader requires the secure channel: set the bus's scbk to its key".into(),
                now,
            );
            return;
        }
        if !reader.online {
            self.came_online(i);
        }
        let reader = &mut self.readers[i];
        // Card reads count only on a link the bus trusts (never the default key when the bus
        // has its own).
        let trusted = !(scbk_set && matches!(reader.link, Link::Secure(_, KeyUse::Default)));
        match reply {
            Reply::PdId(id) => {
                let identity = Identity {
                    vendor: format!(
                        "{:02x}{:02x}{:02x}",
                        id.vendor_oui[0], id.vendor_oui[1], id.vendor_oui[2]
                    ),
                    model: id.model,
                    version: id.version,
                    serial: id.serial,
                    firmware: format!("{}.{}.{}", id.firmware[0], id.firmware[1], id.firmware[2]),
                };
                reader.identity = Some(identity.clone());
                self.events
                    .push_back(ReaderEvent::Identified { address, identity });
            }
            Reply::PdCap(cap) => {
                let capabilities: Vec<Capability> = cap
                    .capabilities
                    .iter()
                    .map(|c| Capability {
                        function: c.code,
                        compliance: c.compliance,
                        number: c.number_of,
                    })
                    .collect();
                reader.capabilities = capabilities.clone();
                // Contact status monitoring (function 1) with inputs: ask their state too.
                if capabilities.iter().any(|c| c.function == 1 && c.number > 0) {
                    reader.queries.push_back(Command::InputStatus(InputStatus));
                }
                self.events.push_back(ReaderEvent::Capabilities {
                    address,
                    capabilities,
                });
            }
            Reply::LStatR(status) => {
                // Changes are events; a first report of "normal" is not.
                let tamper = status.tamper != 0;
                let was = reader.tamper.replace(tamper);
                if was.unwrap_or(false) != tamper {
                    self.events.push_back(ReaderEvent::Tamper {
                        address,
                        active: tamper,
                    });
                }
                let power = status.power != 0;
                let was = reader.power_fault.replace(power);
                if was.unwrap_or(false) != power {
                    self.events.push_back(ReaderEvent::PowerFault {
                        address,
                        active: power,
                    });
                }
            }
            Reply::IStatR(status) => {
                let inputs: Vec<bool> = status.inputs.iter().map(|b| *b != 0).collect();
                if reader.inputs.as_ref() != Some(&inputs) {
                    let previous = reader.inputs.replace(inputs.clone());
                    self.events.push_back(ReaderEvent::Inputs {
                        address,
                        inputs,
                        previous,
                    });
                }
            }
            Reply::Nak(nak) => {
                reader.last_problem = Some(format!(
                    "the reader refused {:?} (NAK {:?})",
                    command.code(),
                    nak.error
                ));
            }
            other if trusted => {
                if let Some(event) = reply_event(address, other) {
                    self.events.push_back(event);
                }
            }
            _ => {}
        }
    }

    /// A valid reply from reader `i`.
    fn alive(&mut self, i: usize, now: Micros) {
        let reader = &mut self.readers[i];
        reader.last_reply = Some(now);
        reader.after_silence = false;
    }

    fn came_online(&mut self, i: usize) {
        let reader = &mut self.readers[i];
        if reader.online {
            return;
        }
        reader.online = true;
        reader.refused = false;
        reader.refusal_reported = false;
        reader.refusals = 0;
        reader.try_default_key = false;
        // The inputs are read afresh on every connection.
        reader.inputs = None;
        reader.queries = VecDeque::from([
            Command::Id(Id::standard()),
            Command::Cap(Cap::standard()),
            Command::LocalStatus(LocalStatus),
        ]);
        let security = match &reader.link {
            Link::Secure(_, key) => security(*key),
            _ => Security::Plain,
        };
        let address = reader.address;
        self.events
            .push_back(ReaderEvent::Online { address, security });
    }

    /// A handshake (or, in the clear, a command) failed on its own terms: a cryptogram that
    /// does not match, a NAK. Counted when fresh; after [`WRONG_KEY_AFTER`] the key is
    /// refused (or, in install mode, the reader is tried in the clear).
    fn handshake_refused(&mut self, i: usize, problem: String, now: Micros) {
        let install_mode = self.scbk.is_none();
        let provision = self.provision;
        let reader = &mut self.readers[i];
        let was_plain = matches!(reader.link, Link::Plain);
        let under_default = reader.try_default_key;
        reader.last_problem = Some(problem.clone());
        reader.restart();
        reader.next_try = now;
        if reader.after_silence {
            // Right after a silence it may be the answer to an older challenge: not fresh.
            reader.after_silence = false;
        } else if !(provision && under_default) {
            reader.refusals += 1;
        }
        if provision {
            // Provisioning: the bus's key and the default key in turn.
            reader.try_default_key = !under_default;
        }
        if reader.refusals < WRONG_KEY_AFTER {
            if was_plain {
                reader.link = Link::Plain;
            }
            return;
        }
        reader.refusals = 0;
        if install_mode && !was_plain {
            // Install mode: a reader without the default key is polled in the clear (it
            // counts as on-line only once it answers a command).
            reader.link = Link::Plain;
            return;
        }
        reader.refused = true;
        reader.next_try = now + self.timing.refused_retry;
        let address = reader.address;
        if reader.online {
            reader.online = false;
            self.events.push_back(ReaderEvent::Offline { address });
        }
        if !reader.refusal_reported {
            reader.refusal_reported = true;
            self.events
                .push_back(ReaderEvent::SecureChannelRefused { address, problem });
        }
    }

    /// An exchange gave nothing usable: no answer (`silent`), or a garbled one after its
    /// retry. The link starts again; an on-line reader goes off-line once it has given no
    /// valid reply for the off-line time.
    fn failed(&mut self, i: usize, problem: String, silent: bool, now: Micros) {
        let timing = self.timing;
        let reader = &mut self.readers[i];
        reader.last_problem = Some(problem);
        if silent {
            reader.after_silence = true;
            reader.refusals = 0;
            // A reader that went silent is off-line, not refusing.
            reader.refused = false;
        }
        if matches!(reader.link, Link::Plain) {
            // Sequence number 0 tells the reader the panel starts over.
            reader.sqn = Sqn::ZERO;
        } else {
            reader.restart();
        }
        if reader.online
            && reader
                .last_reply
                .is_none_or(|at| now.saturating_sub(at) >= timing.offline_after)
        {
            reader.online = false;
            reader.restart();
            let address = reader.address;
            self.events.push_back(ReaderEvent::Offline { address });
        }
        if !reader.online {
            reader.next_try = now + timing.offline_retry;
        }
    }

    fn key_bytes(&self, key: KeyUse) -> [u8; 16] {
        match (key, self.scbk) {
            (KeyUse::Site, Some(key)) => key,
            _ => SCBK_D,
        }
    }
}

/// A handshake command (CHLNG or SCRYPT): a security block naming the key, no MAC.
fn handshake_frame(
    addr: Address,
    sqn: Sqn,
    scs: ScsType,
    key: KeyUse,
    code: u8,
    data: &[u8],
) -> Result<Vec<u8>, String> {
    let key_type = match key {
        KeyUse::Site => 1,
        KeyUse::Default => 0,
    };
    PacketBuilder {
        addr,
        ctrl: ControlByte::new(sqn, CtrlFlags::USE_CRC | CtrlFlags::HAS_SCB),
        scb: Some(Scb::new(scs, [key_type])),
        code,
        data: data.to_vec(),
    }
    .encode()
    .map_err(|e| e.to_string())
}

fn security(key: KeyUse) -> Security {
    match key {
        KeyUse::Site => Security::SiteKey,
        KeyUse::Default => Security::DefaultKey,
    }
}

fn nak_problem(data: &[u8], step: &str) -> String {
    format!(
        "the reader refused the secure channel's {step} (NAK {:#04x})",
        data.first().copied().unwrap_or(0)
    )
}
