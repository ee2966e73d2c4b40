//! An OSDP control panel for one RS-485 bus, on the pure-Rust `osdp` crate's frame codec and
//! secure-channel primitives: polls every reader on the bus in turn, turns card reads and
//! keypad entries into credential numbers, sends LED and buzzer feedback, and reports readers
//! going off-line and coming back.
//!
//! The exchange loop is our own (the crate's `Acu::exchange` speaks only in the clear): each
//! command is framed once and, on a retry, sent again byte for byte with the same sequence
//! number, which is what lets a retry work inside the secure channel too.
//!
//! Secure channel (OSDP Annex D): with the bus's SCBK every reader must complete the
//! CHLNG/CCRYPT/SCRYPT/RMAC_I handshake before any of its card reads counts, and every exchange
//! after it is MACed (and encrypted when it carries data). A reader that refuses the key is
//! never used in the clear. Without an SCBK the bus is in install mode: the handshake is tried
//! with the default key SCBK-D, and a reader that refuses it is polled in the clear. Any break
//! in the channel (a MAC that does not verify, a reply lost, a plain NAK) drops the session,
//! and the next exchange starts a new handshake from sequence number 0; a reader coming back
//! after a disconnect does the same.
//!
//! A reader is off-line after three exchanges in a row without an answer; a dead reader then
//! costs the others at most one reply timeout per second: it is only asked again once a
//! second, with no retry.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use osdp::command::led::LedRecord;
use osdp::command::{
    BuzzerControl, BuzzerTone, Command, LedColor, LedControl, LedPermanent, LedTemporary, Poll,
};
use osdp::packet::{
    Address, ControlByte, CtrlFlags, PacketBuilder, ParsedPacket, Scb, ScsType, Sqn,
};
use osdp::reply::{CCrypt, RMacI, Reply, ReplyCode};
use osdp::secure::{Direction, SCBK_D, Secure, Session};
use osdp::transport::Transport;

use crate::card;

/// How a reader's traffic is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// In the clear: install mode, with a reader that has no secure channel.
    Plain,
    /// Secure channel with the default install key SCBK-D (install mode).
    DefaultKey,
    /// Secure channel with the bus's own SCBK.
    SiteKey,
}

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
        security: Security,
    },
    Offline {
        address: u8,
    },
    /// The reader answers but the secure channel with the bus's SCBK could not be set up
    /// (a different key, or no secure channel): it stays off-line. Reported once until the
    /// reader next comes on-line.
    SecureChannelRefused {
        address: u8,
        problem: String,
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

/// Where a reader's link stands on this connection.
enum Channel {
    /// Nothing agreed yet: the next exchange is a handshake.
    Unknown,
    /// In the clear (install mode only).
    Plain,
    Secure(Box<Session<Secure>>, Security),
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        match self {
            Channel::Unknown => f.write_str("Unknown"),
            Channel::Plain => f.write_str("Plain"),
            Channel::Secure(_, security) => write!(f, "Secure({security:?})"),
        }
    }
}

#[derive(Debug)]
struct Reader {
    address: u8,
    sqn: Sqn,
    channel: Channel,
    online: bool,
    /// Exchanges in a row without an answer.
    misses: u32,
    /// Every exchange tried with this reader.
    exchanges: u64,
    /// When an off-line reader was last asked.
    last_try: Option<Instant>,
    /// Whether a refused secure channel was reported since the reader was last on-line.
    refusal_reported: bool,
    /// What went wrong in the last exchange that gave nothing usable.
    last_problem: Option<String>,
    pending: VecDeque<Command>,
}

impl Reader {
    /// Back to the state of a reader never heard from: sequence 0, no session.
    fn restart(&mut self) {
        self.sqn = Sqn::ZERO;
        self.channel = Channel::Unknown;
    }
}

/// Why an exchange gave nothing usable.
#[derive(Debug)]
enum Failure {
    /// No reply in time.
    Silent,
    /// A reply that cannot be used: wrong sequence number, bad MAC, undecodable.
    Garbled(String),
    /// The reader will not take the secure channel with this key.
    Refused(String),
}

/// One bus of readers.
pub struct OsdpBus<T: Transport> {
    transport: T,
    rx: Vec<u8>,
    readers: Vec<Reader>,
    scbk: Option<[u8; 16]>,
    baud: u32,
}

impl<T: Transport> std::fmt::Debug for OsdpBus<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsdpBus")
            .field("readers", &self.readers)
            .field("secure", &self.scbk.is_some())
            .finish()
    }
}

/// Exchanges in a row without an answer before a reader counts as off-line.
const OFFLINE_AFTER_MISSES: u32 = 3;

/// How often an off-line reader is asked whether it is back.
const OFFLINE_RETRY: Duration = Duration::from_secs(1);

/// Time a reader has to start answering, on top of the bytes' time on the wire.
const TURNAROUND: Duration = Duration::from_millis(60);

/// The longest reply we wait for, in bytes (a sealed card read is under 60).
const LONGEST_REPLY: usize = 128;

const CMD_CHLNG: u8 = 0x76;
const CMD_SCRYPT: u8 = 0x77;

impl<T: Transport> OsdpBus<T> {
    /// A bus of readers at `addresses`; `scbk` is the bus's secure channel base key (None for
    /// install mode); `baud` sets how long a reply may take.
    pub fn new(transport: T, addresses: &[u8], scbk: Option<[u8; 16]>, baud: u32) -> Self {
        let readers = addresses
            .iter()
            .map(|&address| Reader {
                address,
                sqn: Sqn::ZERO,
                channel: Channel::Unknown,
                online: false,
                misses: 0,
                exchanges: 0,
                last_try: None,
                refusal_reported: false,
                last_problem: None,
                pending: VecDeque::new(),
            })
            .collect();
        OsdpBus {
            transport,
            rx: Vec::with_capacity(osdp::MAX_BUS_PACKET),
            readers,
            scbk,
            baud: baud.max(1200),
        }
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

    /// How a reader's traffic is protected right now (None before any agreement).
    pub fn security(&self, address: u8) -> Option<Security> {
        match self.readers.iter().find(|r| r.address == address)?.channel {
            Channel::Unknown => None,
            Channel::Plain => Some(Security::Plain),
            Channel::Secure(_, security) => Some(security),
        }
    }

    /// What went wrong in a reader's last failed exchange: no answer, a MAC that did not
    /// verify, a refused key. For the logs when it goes off-line.
    pub fn last_problem(&self, address: u8) -> Option<&str> {
        self.readers
            .iter()
            .find(|r| r.address == address)?
            .last_problem
            .as_deref()
    }

    /// How many exchanges were tried with a reader.
    pub fn exchanges(&self, address: u8) -> u64 {
        self.readers
            .iter()
            .find(|r| r.address == address)
            .map_or(0, |r| r.exchanges)
    }

    /// One pass over the bus: every on-line reader gets one exchange (its pending command, or
    /// a poll, or the secure-channel handshake), every off-line one at most once a second.
    pub fn poll_cycle(&mut self) -> Vec<ReaderEvent> {
        self.poll_cycle_at(Instant::now())
    }

    /// [`OsdpBus::poll_cycle`] with the time given, for deciding which off-line readers to ask.
    pub fn poll_cycle_at(&mut self, now: Instant) -> Vec<ReaderEvent> {
        let mut events = Vec::new();
        self.poll_cycle_each(now, |event| events.push(event));
        events
    }

    /// One pass over the bus, handing each event to `on_event` as soon as its exchange is
    /// done: a card read at the first reader is not held back by the exchanges with the
    /// others.
    pub fn poll_cycle_each(&mut self, now: Instant, mut on_event: impl FnMut(ReaderEvent)) {
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
            reader.exchanges += 1;
            // An on-line reader gets one retry, as the spec allows; an off-line one none.
            let retries = u8::from(reader.online);
            let outcome = self.converse(i, retries);
            let reader = &mut self.readers[i];
            let address = reader.address;
            match outcome {
                Ok(reply) => {
                    reader.misses = 0;
                    if !reader.online {
                        reader.online = true;
                        reader.refusal_reported = false;
                        let security = match &reader.channel {
                            Channel::Secure(_, security) => *security,
                            _ => Security::Plain,
                        };
                        on_event(ReaderEvent::Online { address, security });
                    }
                    if let Some(event) = reply.and_then(|r| reply_event(address, r)) {
                        on_event(event);
                    }
                }
                Err(Failure::Refused(problem)) => {
                    reader.last_problem = Some(problem.clone());
                    // It answers, but not on terms we can trust: off-line, asked once a second.
                    reader.restart();
                    reader.misses = OFFLINE_AFTER_MISSES;
                    if reader.online {
                        reader.online = false;
                        on_event(ReaderEvent::Offline { address });
                    }
                    reader.last_try = Some(now);
                    if !reader.refusal_reported {
                        reader.refusal_reported = true;
                        on_event(ReaderEvent::SecureChannelRefused { address, problem });
                    }
                }
                // No answer, or a garbled one. Off-line after three in a row (about a second
                // with the reply timeout and one retry each), and then found again from scratch.
                Err(failure) => {
                    reader.last_problem = Some(match failure {
                        Failure::Garbled(problem) => problem,
                        _ => "no answer".to_string(),
                    });
                    reader.misses += 1;
                    if reader.online && reader.misses >= OFFLINE_AFTER_MISSES {
                        reader.online = false;
                        reader.last_try = Some(now);
                        on_event(ReaderEvent::Offline { address });
                    }
                    if !reader.online {
                        reader.restart();
                    }
                }
            }
        }
    }

    /// This cycle's exchange with reader `i`: the handshake if no channel is agreed, else its
    /// pending command or a poll. Returns the reply worth reporting, if any.
    fn converse(&mut self, i: usize, retries: u8) -> Result<Option<Reply>, Failure> {
        if matches!(self.readers[i].channel, Channel::Unknown) {
            let (key, key_type, security) = match self.scbk {
                Some(key) => (key, 1, Security::SiteKey),
                None => (SCBK_D, 0, Security::DefaultKey),
            };
            match self.handshake(i, key, key_type, retries) {
                Ok(session) => {
                    self.readers[i].channel = Channel::Secure(Box::new(session), security);
                    return Ok(None);
                }
                // Install mode: a reader without the default key is polled in the clear, from
                // this exchange on (it counts as on-line only once it answers a command).
                Err(Failure::Refused(_)) if self.scbk.is_none() => {
                    let reader = &mut self.readers[i];
                    reader.sqn = Sqn::ZERO;
                    reader.channel = Channel::Plain;
                }
                Err(failure) => {
                    self.readers[i].restart();
                    return Err(failure);
                }
            }
        }
        let command = self.readers[i]
            .pending
            .front()
            .cloned()
            .unwrap_or(Command::Poll(Poll));
        let data = command
            .encode_data()
            .map_err(|e| Failure::Garbled(e.to_string()))?;
        let result = self.command(i, command.code().as_byte(), &data, retries);
        let reader = &mut self.readers[i];
        match result {
            Ok((code, data)) => {
                // A busy reader did not take the command: it stays queued.
                if code == ReplyCode::Busy {
                    return Ok(None);
                }
                if !matches!(command, Command::Poll(_)) {
                    reader.pending.pop_front();
                }
                let reply =
                    Reply::decode(code, &data).map_err(|e| Failure::Garbled(e.to_string()))?;
                // In the clear, a reader that insists on the secure channel answers nothing
                // but this NAK: it is not usable until the bus has its key.
                if matches!(reader.channel, Channel::Plain)
                    && let Reply::Nak(nak) = &reply
                    && nak.error == osdp::reply::NakErrorCode::EncryptedCommunicationRequired
                {
                    return Err(Failure::Refused(
                        "the reader requires the secure channel: set the bus's scbk to its key"
                            .into(),
                    ));
                }
                Ok(Some(reply))
            }
            Err(failure) => {
                // Any break inside the secure channel ends the session: the chain of MACs
                // can no longer be trusted to match on both ends.
                if matches!(reader.channel, Channel::Secure(..)) {
                    reader.restart();
                }
                Err(failure)
            }
        }
    }

    /// Sends one command on reader `i`'s channel (sealed when secure) and returns the reply's
    /// code and plain data.
    fn command(
        &mut self,
        i: usize,
        code: u8,
        data: &[u8],
        retries: u8,
    ) -> Result<(ReplyCode, Vec<u8>), Failure> {
        let reader = &mut self.readers[i];
        let address = reader.address;
        let sqn = reader.sqn;
        let addr = Address::pd(address).map_err(|e| Failure::Garbled(e.to_string()))?;
        let frame = match &mut reader.channel {
            Channel::Secure(session, _) => osdp::secure::seal(
                session,
                addr,
                sqn,
                Direction::AcuToPd,
                !data.is_empty(),
                code,
                data,
            ),
            _ => PacketBuilder::plain(
                addr,
                ControlByte::new(sqn, CtrlFlags::USE_CRC),
                code,
                data.to_vec(),
            )
            .encode(),
        }
        .map_err(|e| Failure::Garbled(e.to_string()))?;
        let raw = self.transact(address, sqn, &frame, retries)?;
        let parsed = parse_reply(&raw)?;
        let reader = &mut self.readers[i];
        let plain = match &mut reader.channel {
            Channel::Secure(session, _) => {
                if parsed.scb.is_some_and(|scb| scb.ty.has_mac()) {
                    osdp::secure::unseal(session, &parsed, &raw)
                        .map_err(|e| Failure::Garbled(format!("secure reply refused: {e}")))?
                } else {
                    return Err(Failure::Garbled(
                        "a reply in the clear inside the secure channel".into(),
                    ));
                }
            }
            _ => parsed.data.to_vec(),
        };
        let code =
            ReplyCode::from_byte(parsed.code).map_err(|e| Failure::Garbled(e.to_string()))?;
        if code != ReplyCode::Busy {
            reader.sqn = sqn.next();
        }
        Ok((code, plain))
    }

    /// The Annex D handshake with reader `i`, starting from sequence number 0.
    fn handshake(
        &mut self,
        i: usize,
        key: [u8; 16],
        key_type: u8,
        retries: u8,
    ) -> Result<Session<Secure>, Failure> {
        let address = self.readers[i].address;
        let addr = Address::pd(address).map_err(|e| Failure::Garbled(e.to_string()))?;
        let rnd_a = random8().map_err(|e| Failure::Garbled(format!("no randomness: {e}")))?;
        let session = Session::new(key).challenge(rnd_a);

        let (code, data) = self.handshake_step(
            i,
            addr,
            ScsType::Scs11,
            key_type,
            CMD_CHLNG,
            &rnd_a,
            retries,
        )?;
        if code != ReplyCode::CCrypt {
            return Err(refusal(code, &data, "challenge"));
        }
        let ccrypt = CCrypt::decode(&data).map_err(|e| Failure::Garbled(e.to_string()))?;
        let session = session.receive_ccrypt(&ccrypt).map_err(|_| {
            Failure::Refused(
                "the reader's cryptogram does not match: it has a different key".into(),
            )
        })?;

        let server = session.server_cryptogram();
        let (code, data) = self.handshake_step(
            i,
            addr,
            ScsType::Scs13,
            key_type,
            CMD_SCRYPT,
            &server,
            retries,
        )?;
        if code != ReplyCode::RMacI {
            return Err(refusal(code, &data, "server cryptogram"));
        }
        let rmac = RMacI::decode(&data).map_err(|e| Failure::Garbled(e.to_string()))?;
        session
            .confirm_rmac_i(&rmac.r_mac_i)
            .map_err(|_| Failure::Refused("the reader's initial R-MAC does not match".into()))
    }

    #[allow(clippy::too_many_arguments)]
    fn handshake_step(
        &mut self,
        i: usize,
        addr: Address,
        scs: ScsType,
        key_type: u8,
        code: u8,
        data: &[u8],
        retries: u8,
    ) -> Result<(ReplyCode, Vec<u8>), Failure> {
        let sqn = self.readers[i].sqn;
        let frame = PacketBuilder {
            addr,
            ctrl: ControlByte::new(sqn, CtrlFlags::USE_CRC | CtrlFlags::HAS_SCB),
            scb: Some(Scb::new(scs, [key_type])),
            code,
            data: data.to_vec(),
        }
        .encode()
        .map_err(|e| Failure::Garbled(e.to_string()))?;
        let raw = self.transact(addr.pd_addr(), sqn, &frame, retries)?;
        let parsed = parse_reply(&raw)?;
        let code =
            ReplyCode::from_byte(parsed.code).map_err(|e| Failure::Garbled(e.to_string()))?;
        self.readers[i].sqn = sqn.next();
        Ok((code, parsed.data.to_vec()))
    }

    /// Writes `frame` and waits for the reply from `address` with `sqn`; on silence sends the
    /// same bytes again, up to `retries` times. Returns the reply packet's bytes.
    fn transact(
        &mut self,
        address: u8,
        sqn: Sqn,
        frame: &[u8],
        retries: u8,
    ) -> Result<Vec<u8>, Failure> {
        // Bytes on the wire at 10 bits each, both ways, plus the reader's turnaround.
        let wire = Duration::from_micros(
            ((frame.len() + LONGEST_REPLY) as u64 * 10 * 1_000_000) / u64::from(self.baud),
        );
        let timeout = TURNAROUND + wire;
        for _ in 0..=retries {
            self.rx.clear();
            self.transport
                .write_all(frame)
                .map_err(|e| Failure::Garbled(format!("cannot write to the bus: {e}")))?;
            let deadline = Instant::now() + timeout;
            while Instant::now() < deadline {
                let mut chunk = [0u8; 64];
                let n = self
                    .transport
                    .read(&mut chunk)
                    .map_err(|_| Failure::Silent)?;
                self.rx.extend_from_slice(&chunk[..n]);
                while let Some(packet) = take_packet(&mut self.rx) {
                    // Our own command echoed by a half-duplex adapter, another reader's late
                    // reply, or a stale one: not the answer to this command.
                    let Ok((parsed, _)) = ParsedPacket::parse(&packet) else {
                        continue;
                    };
                    let busy = parsed.code == ReplyCode::Busy.as_byte();
                    if parsed.addr.is_reply()
                        && parsed.addr.pd_addr() == address
                        && (busy || parsed.ctrl.sqn == sqn)
                    {
                        return Ok(packet);
                    }
                }
            }
        }
        Err(Failure::Silent)
    }
}

/// A refusal of a handshake step, named from the reader's answer.
fn refusal(code: ReplyCode, data: &[u8], step: &str) -> Failure {
    if code == ReplyCode::Nak {
        Failure::Refused(format!(
            "the reader refused the secure channel's {step} (NAK {:#04x})",
            data.first().copied().unwrap_or(0)
        ))
    } else {
        Failure::Garbled(format!("unexpected reply {code:?} to the {step}"))
    }
}

fn parse_reply(raw: &[u8]) -> Result<ParsedPacket<'_>, Failure> {
    ParsedPacket::parse(raw)
        .map(|(parsed, _)| parsed)
        .map_err(|e| Failure::Garbled(e.to_string()))
}

/// Takes the next whole packet off the front of `buf`, skipping noise before a start of
/// message and packets whose length or check characters are wrong. Returns None while the
/// packet at the front is incomplete, unless a whole, valid packet follows it: a stray start
/// of message in line noise, claiming a long packet, does not hide the reply behind it.
pub fn take_packet(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    while let Some(start) = buf.iter().position(|&b| b == osdp::SOM) {
        buf.drain(..start);
        match ParsedPacket::parse(buf) {
            Ok((_, used)) => return Some(buf.drain(..used).collect()),
            Err(osdp::Error::Truncated { .. }) => {
                let later = (1..buf.len()).find_map(|at| {
                    (buf[at] == osdp::SOM)
                        .then(|| ParsedPacket::parse(&buf[at..]).ok())
                        .flatten()
                        .map(|(_, used)| (at, used))
                });
                let (at, used) = later?;
                buf.drain(..at);
                return Some(buf.drain(..used).collect());
            }
            // Not a packet after all (bad length, check characters, header): resynchronise
            // on the next start of message.
            Err(_) => {
                buf.remove(0);
            }
        }
    }
    buf.clear();
    None
}

/// Everything Keyway reads from bytes off the wire, from the raw bytes: packets found in
/// them, replies decoded, card and keypad data turned into events; and the same bytes tried
/// as sealed replies on a fixed secure session. For the fuzz and property tests: it must
/// never panic, whatever the bytes.
pub fn read_wire(bytes: &[u8]) -> Vec<ReaderEvent> {
    let mut events = Vec::new();
    let mut buf = bytes.to_vec();
    let mut session = fixed_session();
    while let Some(packet) = take_packet(&mut buf) {
        let Ok((parsed, _)) = ParsedPacket::parse(&packet) else {
            continue;
        };
        let data = if parsed.scb.is_some_and(|scb| scb.ty.has_mac()) {
            match osdp::secure::unseal(&mut session, &parsed, &packet) {
                Ok(data) => data,
                Err(_) => continue,
            }
        } else {
            parsed.data.to_vec()
        };
        if let Ok(code) = ReplyCode::from_byte(parsed.code)
            && let Ok(reply) = Reply::decode(code, &data)
            && let Some(event) = reply_event(parsed.addr.pd_addr(), reply)
        {
            events.push(event);
        }
    }
    events
}

/// A secure session under SCBK-D with fixed randoms, for [`read_wire`].
fn fixed_session() -> Session<Secure> {
    fixed_session_with(SCBK_D)
}

/// A secure session under `key` with fixed randoms (both ends compute the same one).
fn fixed_session_with(key: [u8; 16]) -> Session<Secure> {
    let (rnd_a, rnd_b) = ([1u8; 8], [2u8; 8]);
    let keys = osdp::secure::crypto::SessionKeys::derive(&key, &rnd_a);
    let ccrypt = CCrypt {
        cuid: [3; 8],
        rnd_b,
        client_cryptogram: osdp::secure::crypto::client_cryptogram(&keys.s_enc, &rnd_a, &rnd_b),
    };
    let session = Session::new(key)
        .challenge(rnd_a)
        .receive_ccrypt(&ccrypt)
        .expect("a cryptogram made with the same key verifies");
    let rmac = session.initial_rmac();
    session
        .confirm_rmac_i(&rmac)
        .expect("its own initial R-MAC verifies")
}

/// Eight random bytes from the kernel, for the challenge.
fn random8() -> std::io::Result<[u8; 8]> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
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

/// How the line driver of an RS-485 transceiver is switched between sending and receiving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rs485Mode {
    /// The adapter switches by itself (as USB RS-485 adapters do): the port is left as it is.
    #[default]
    None,
    /// The kernel's RS-485 mode: RTS high while sending (a transceiver's driver enable on RTS).
    Rts,
    /// The kernel's RS-485 mode with RTS low while sending (an inverted driver enable).
    RtsInverted,
}

/// A serial port (or a PTY) as an OSDP transport: reads wait at most 20 ms.
pub struct SerialTransport(serialport::TTYPort);

impl std::fmt::Debug for SerialTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SerialTransport")
    }
}

impl SerialTransport {
    pub fn open(path: &str, baud: u32) -> Result<Self, serialport::Error> {
        Self::open_with(path, baud, Rs485Mode::None)
    }

    /// Opens the port and, unless `rs485` is `None`, switches it to the kernel's RS-485 mode;
    /// a port that does not support it is an error saying so.
    pub fn open_with(path: &str, baud: u32, rs485: Rs485Mode) -> Result<Self, serialport::Error> {
        let port = serialport::new(path, baud)
            .timeout(Duration::from_millis(20))
            .open_native()?;
        if rs485 != Rs485Mode::None {
            use std::os::unix::io::AsRawFd;
            set_rs485(port.as_raw_fd(), rs485).map_err(|e| {
                serialport::Error::new(
                    serialport::ErrorKind::Io(e.kind()),
                    format!("{path}: cannot switch to RS-485 mode: {e}"),
                )
            })?;
        }
        Ok(SerialTransport(port))
    }
}

/// Linux `struct serial_rs485` (include/uapi/linux/serial.h).
#[repr(C)]
struct SerialRs485 {
    flags: u32,
    delay_rts_before_send: u32,
    delay_rts_after_send: u32,
    padding: [u32; 5],
}

const SER_RS485_ENABLED: u32 = 1 << 0;
const SER_RS485_RTS_ON_SEND: u32 = 1 << 1;
const SER_RS485_RTS_AFTER_SEND: u32 = 1 << 2;

/// Switches a serial port to the kernel's RS-485 mode (`TIOCSRS485`). The one `unsafe` in
/// Keyway: an ioctl that reads a plain C struct from a pointer valid for the call.
#[allow(unsafe_code)]
fn set_rs485(fd: std::os::unix::io::RawFd, mode: Rs485Mode) -> std::io::Result<()> {
    let rts = match mode {
        Rs485Mode::None => return Ok(()),
        Rs485Mode::Rts => SER_RS485_RTS_ON_SEND,
        Rs485Mode::RtsInverted => SER_RS485_RTS_AFTER_SEND,
    };
    let config = SerialRs485 {
        flags: SER_RS485_ENABLED | rts,
        delay_rts_before_send: 0,
        delay_rts_after_send: 0,
        padding: [0; 5],
    };
    // SAFETY: TIOCSRS485 takes a pointer to a `struct serial_rs485`, which `SerialRs485`
    // mirrors field for field (repr(C), 32 bytes); the kernel only reads it, during the call,
    // while `config` lives. `fd` is the open port's descriptor.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSRS485, &config as *const SerialRs485) };
    if rc == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A RAW card-read reply from the reader at `address`, in the clear or sealed in a session
    /// mirroring [`fixed_session`] (the reader's end of it).
    fn card_frame(address: u8, bits: &[bool], sealed: bool) -> Vec<u8> {
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (i, &bit) in bits.iter().enumerate() {
            if bit {
                bytes[i / 8] |= 0x80 >> (i % 8);
            }
        }
        let data = osdp::reply::Raw {
            reader: 0,
            format_code: 0,
            bit_count: bits.len() as u16,
            bits: bytes,
        }
        .encode()
        .unwrap();
        let addr = Address::reply(address).unwrap();
        let sqn = Sqn::new(1).unwrap();
        let code = ReplyCode::Raw.as_byte();
        if sealed {
            let mut reader = fixed_session();
            osdp::secure::seal(
                &mut reader,
                addr,
                sqn,
                Direction::PdToAcu,
                true,
                code,
                &data,
            )
            .unwrap()
        } else {
            PacketBuilder::plain(addr, ControlByte::new(sqn, CtrlFlags::USE_CRC), code, data)
                .encode()
                .unwrap()
        }
    }

    fn expected(address: u8, bits: &[bool]) -> ReaderEvent {
        match card::credential_number(bits) {
            Ok(credential) => ReaderEvent::Card {
                address,
                credential,
            },
            Err(problem) => ReaderEvent::BadCard {
                address,
                problem: problem.to_string(),
            },
        }
    }

    proptest! {
        /// Whatever arrives on the wire, reading it never panics.
        #[test]
        fn any_bytes_are_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            let _ = read_wire(&bytes);
        }

        /// A card read survives framing, in the clear or sealed, after line noise and split
        /// across reads anywhere.
        #[test]
        fn card_reads_round_trip_through_framing(
            address in 0u8..=0x7e,
            bits in proptest::collection::vec(any::<bool>(), 1..90),
            sealed in any::<bool>(),
            noise in proptest::collection::vec(any::<u8>().prop_filter("not a start of message", |b| *b != osdp::SOM), 0..40),
            split in any::<prop::sample::Index>(),
        ) {
            let frame = card_frame(address, &bits, sealed);
            let mut wire = noise.clone();
            wire.extend_from_slice(&frame);
            prop_assert_eq!(read_wire(&wire), vec![expected(address, &bits)]);

            let at = split.index(wire.len() + 1);
            let mut buf = wire[..at].to_vec();
            let first = take_packet(&mut buf);
            let packet = match first {
                Some(packet) => packet,
                None => {
                    buf.extend_from_slice(&wire[at..]);
                    take_packet(&mut buf).expect("the whole frame has arrived")
                }
            };
            prop_assert_eq!(packet, frame);
        }

        /// One flipped bit anywhere in a frame never turns it into a different card.
        #[test]
        fn a_flipped_bit_is_never_another_card(
            address in 0u8..=0x7e,
            bits in proptest::collection::vec(any::<bool>(), 1..90),
            sealed in any::<bool>(),
            flip in any::<prop::sample::Index>(),
        ) {
            let mut frame = card_frame(address, &bits, sealed);
            let bit = flip.index(frame.len() * 8);
            frame[bit / 8] ^= 1 << (bit % 8);
            prop_assert_eq!(read_wire(&frame), vec![]);
        }
    }

    #[test]
    fn the_fuzz_seeds_are_the_frames_they_stand_for() {
        // fuzz/seeds/osdp_wire: a card read in the clear and sealed, so that the fuzzer starts
        // from frames whose check characters and MACs hold.
        let bits = card::h10301(123, 4567);
        let plain = include_bytes!("../../../fuzz/seeds/osdp_wire/card-plain");
        let sealed = include_bytes!("../../../fuzz/seeds/osdp_wire/card-sealed");
        assert_eq!(plain.as_slice(), card_frame(1, &bits, false));
        assert_eq!(sealed.as_slice(), card_frame(1, &bits, true));
        let card = vec![ReaderEvent::Card {
            address: 1,
            credential: "123:4567".into(),
        }];
        assert_eq!(read_wire(plain), card);
        assert_eq!(read_wire(sealed), card);
    }

    #[test]
    fn a_port_without_rs485_support_says_so() {
        // A PTY has no RS-485 mode: asking for it is an error naming the port and the mode,
        // never a port silently left in the wrong mode.
        use serialport::SerialPort;
        let (_master, slave) = serialport::TTYPort::pair().expect("a PTY pair");
        let path = slave.name().expect("the PTY's name");
        let error = SerialTransport::open_with(&path, 115_200, Rs485Mode::Rts).unwrap_err();
        assert!(error.to_string().contains("RS-485"), "{error}");
        assert!(error.to_string().contains(&path), "{error}");
        // Without RS-485 mode it opens.
        SerialTransport::open_with(&path, 115_200, Rs485Mode::None).unwrap();
    }

    #[test]
    fn a_stray_start_of_message_does_not_hide_the_reply() {
        let frame = card_frame(1, &card::h10301(123, 4567), false);
        // Noise that reads as the start of a 64-byte packet.
        let mut wire = vec![osdp::SOM, 0x81, 0x40, 0x00];
        wire.extend_from_slice(&frame);
        let mut buf = wire.clone();
        assert_eq!(take_packet(&mut buf), Some(frame));
        assert_eq!(
            read_wire(&wire),
            vec![ReaderEvent::Card {
                address: 1,
                credential: "123:4567".into()
            }]
        );
    }

    #[test]
    fn a_sealed_reply_under_another_key_is_refused() {
        // Sealed by a reader whose session was derived from a different key.
        let mut reader = fixed_session_with([0x55u8; 16]);
        let data = osdp::reply::Raw {
            reader: 0,
            format_code: 0,
            bit_count: 26,
            bits: vec![0xbd, 0x88, 0xeb, 0x80],
        }
        .encode()
        .unwrap();
        let frame = osdp::secure::seal(
            &mut reader,
            Address::reply(1).unwrap(),
            Sqn::new(1).unwrap(),
            Direction::PdToAcu,
            true,
            ReplyCode::Raw.as_byte(),
            &data,
        )
        .unwrap();
        assert_eq!(read_wire(&frame), vec![]);
    }
}
