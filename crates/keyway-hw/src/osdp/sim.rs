//! A simulated OSDP bus on virtual time: readers that answer as a peripheral device does
//! ([`SimReader`], secure channel included), on a half-duplex line that delivers bytes at a
//! baud rate with a reader turnaround ([`SimBus`]). For the session tests (late replies, lost
//! bytes, noise, reboots, wrong keys, all deterministic, without Python) and the wire
//! benchmark. Not used by the daemon.

use std::collections::VecDeque;

use osdp::command::{Command, CommandCode};
use osdp::packet::{
    Address, ControlByte, CtrlFlags, PacketBuilder, ParsedPacket, Scb, ScsType, Sqn,
};
use osdp::reply::{Ack, Busy, CCrypt, IStatR, LStatR, Nak, NakErrorCode, PdCap, PdId, Raw, Reply};
use osdp::secure::session::Cryptogrammed;
use osdp::secure::{Direction, SCBK_D, Secure, Session};

use super::wire::take_packet;
use super::{Micros, Panel, ReaderEvent};

/// A peripheral device: answers the commands addressed to it the way the specification (and
/// LibOSDP) does. Sequence number 0 starts the reader over; a repeated sequence number gets
/// the last reply again; with a key and `enforce` it refuses everything in the clear.
pub struct SimReader {
    pub address: u8,
    /// Its secure channel base key; None is install mode (it uses SCBK-D).
    key: Option<[u8; 16]>,
    /// Refuses commands in the clear when it has a key.
    pub enforce: bool,
    /// Declares and runs the secure channel.
    pub secure_capable: bool,
    /// Answers at all (false: powered off, or its cable pulled).
    pub powered: bool,
    /// While not powered, bytes are kept and answered at power-up, as a PTY or a UART FIFO
    /// holds what was sent to a reader that was not reading yet.
    pub buffer_while_off: bool,
    /// Answer BUSY to this many commands first.
    pub busy: u32,
    pub tamper: bool,
    pub power_fault: bool,
    pub inputs: Vec<bool>,
    rx: Vec<u8>,
    pending: Option<(u8, Session<Cryptogrammed>)>,
    session: Option<Session<Secure>>,
    last: Option<(u8, Vec<u8>)>,
    queue: VecDeque<Reply>,
    counter: u64,
    /// LED, buzzer and key commands received, in order.
    pub received: Vec<Command>,
}

impl std::fmt::Debug for SimReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimReader")
            .field("address", &self.address)
            .field("keyed", &self.key.is_some())
            .field("powered", &self.powered)
            .field("secure", &self.session.is_some())
            .finish()
    }
}

impl SimReader {
    /// A reader at `address` holding `key` (None: install mode), enforcing the secure channel
    /// when it has a key.
    pub fn new(address: u8, key: Option<[u8; 16]>) -> SimReader {
        SimReader {
            address,
            key,
            enforce: key.is_some(),
            secure_capable: true,
            powered: true,
            buffer_while_off: false,
            busy: 0,
            tamper: false,
            power_fault: false,
            inputs: Vec::new(),
            rx: Vec::new(),
            pending: None,
            session: None,
            last: None,
            queue: VecDeque::new(),
            counter: u64::from(address) << 32,
            received: Vec::new(),
        }
    }

    /// The key it holds now (changed by `osdp_KEYSET`).
    pub fn key(&self) -> Option<[u8; 16]> {
        self.key
    }

    /// Gives it another key, as an installer with the vendor's tool would.
    pub fn set_key(&mut self, key: Option<[u8; 16]>) {
        self.key = key;
        self.session = None;
    }

    /// Whether its secure channel is up.
    pub fn is_secure(&self) -> bool {
        self.session.is_some()
    }

    /// A card presented: reported on the next poll.
    pub fn present_card(&mut self, bits: &[bool]) {
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (i, &bit) in bits.iter().enumerate() {
            if bit {
                bytes[i / 8] |= 0x80 >> (i % 8);
            }
        }
        self.queue.push_back(Reply::Raw(Raw {
            reader: 0,
            format_code: 0,
            bit_count: bits.len() as u16,
            bits: bytes,
        }));
    }

    /// Its tamper switch or power changed: reported on the next poll, as a reader does.
    pub fn report_status(&mut self) {
        self.queue.push_back(Reply::LStatR(LStatR {
            tamper: u8::from(self.tamper),
            power: u8::from(self.power_fault),
        }));
    }

    /// Its inputs changed: reported on the next poll (`osdp_ISTATR`).
    pub fn report_inputs(&mut self) {
        self.queue.push_back(Reply::IStatR(IStatR {
            inputs: self.inputs.iter().map(|b| u8::from(*b)).collect(),
        }));
    }

    /// Loses everything it held in memory: session, sequence, queued reads.
    pub fn reboot(&mut self) {
        self.rx.clear();
        self.pending = None;
        self.session = None;
        self.last = None;
        self.queue.clear();
    }

    /// Bytes off the line; returns the replies to every whole command addressed to it.
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        if !self.powered && !self.buffer_while_off {
            return Vec::new();
        }
        self.rx.extend_from_slice(bytes);
        if !self.powered {
            return Vec::new();
        }
        let mut replies = Vec::new();
        while let Some(packet) = take_packet(&mut self.rx) {
            if let Some(reply) = self.command(&packet) {
                replies.push(reply);
            }
        }
        replies
    }

    fn command(&mut self, raw: &[u8]) -> Option<Vec<u8>> {
        let (parsed, _) = ParsedPacket::parse(raw).ok()?;
        if parsed.addr.is_reply() || parsed.addr.pd_addr() != self.address {
            return None;
        }
        let sqn = parsed.ctrl.sqn.value();
        if sqn == 0 {
            // The panel starts over.
            self.session = None;
            self.pending = None;
            self.last = None;
        } else if let Some((last_sqn, reply)) = &self.last
            && *last_sqn == sqn
        {
            return Some(reply.clone());
        }
        let reply = self.answer(&parsed, raw, sqn);
        let busy = ParsedPacket::parse(&reply).is_ok_and(|(p, _)| p.code == 0x79);
        if !busy {
            self.last = Some((sqn, reply.clone()));
        }
        Some(reply)
    }

    fn answer(&mut self, parsed: &ParsedPacket<'_>, raw: &[u8], sqn: u8) -> Vec<u8> {
        let sqn = Sqn::new(sqn).expect("a parsed sequence number");
        let scb = parsed.scb;
        match (parsed.code, scb.map(|s| s.ty)) {
            (0x76, Some(ScsType::Scs11)) => {
                if !self.secure_capable {
                    return self.plain(sqn, &nak(NakErrorCode::SecurityBlockTypeNotSupported));
                }
                let key_type = scb.and_then(|s| s.data.first().copied()).unwrap_or(1);
                let key = match (self.key, key_type) {
                    (Some(key), 1) => key,
                    // A keyed reader refuses the default key outside install mode.
                    (Some(_), _) => {
                        return self.plain(sqn, &nak(NakErrorCode::SecurityBlockTypeNotSupported));
                    }
                    (None, _) => SCBK_D,
                };
                let Ok(rnd_a) = <[u8; 8]>::try_from(parsed.data) else {
                    return self.plain(sqn, &nak(NakErrorCode::CommandLengthError));
                };
                self.counter += 1;
                let rnd_b = self.counter.to_le_bytes();
                let keys = osdp::secure::crypto::SessionKeys::derive(&key, &rnd_a);
                let ccrypt = CCrypt {
                    cuid: [self.address; 8],
                    rnd_b,
                    client_cryptogram: osdp::secure::crypto::client_cryptogram(
                        &keys.s_enc,
                        &rnd_a,
                        &rnd_b,
                    ),
                };
                let mirror = Session::new(key)
                    .challenge(rnd_a)
                    .receive_ccrypt(&ccrypt)
                    .expect("its own cryptogram verifies");
                self.pending = Some((key_type, mirror));
                self.session = None;
                let data = ccrypt.encode().expect("a CCRYPT encodes");
                self.handshake(sqn, ScsType::Scs12, key_type, 0x76, data)
            }
            (0x77, Some(ScsType::Scs13)) => {
                let Some((key_type, mirror)) = self.pending.take() else {
                    return self.plain(sqn, &nak(NakErrorCode::UnexpectedSequenceNumber));
                };
                if parsed.data != mirror.server_cryptogram() {
                    return self.plain(sqn, &nak(NakErrorCode::SecurityBlockTypeNotSupported));
                }
                let rmac = mirror.initial_rmac();
                self.session = Some(
                    mirror
                        .confirm_rmac_i(&rmac)
                        .expect("its own initial R-MAC verifies"),
                );
                self.handshake(sqn, ScsType::Scs14, key_type, 0x78, rmac.to_vec())
            }
            (code, Some(ty)) if ty.has_mac() => {
                let Some(session) = self.session.as_mut() else {
                    return self.plain(sqn, &nak(NakErrorCode::SecurityBlockTypeNotSupported));
                };
                let Ok(data) = osdp::secure::unseal(session, parsed, raw) else {
                    self.session = None;
                    return self.plain(sqn, &nak(NakErrorCode::SecurityBlockTypeNotSupported));
                };
                let reply = self.dispatch(code, &data, true);
                let session = self.session.as_mut().expect("still secure");
                let data = reply.encode_data().expect("a reply encodes");
                osdp::secure::seal(
                    session,
                    Address::reply(self.address).expect("a valid address"),
                    sqn,
                    Direction::PdToAcu,
                    !data.is_empty(),
                    reply.code().as_byte(),
                    &data,
                )
                .expect("a sealed reply encodes")
            }
            (code, None) => {
                if self.enforce && self.key.is_some() {
                    return self.plain(sqn, &nak(NakErrorCode::EncryptedCommunicationRequired));
                }
                let reply = self.dispatch(code, parsed.data, false);
                self.plain(sqn, &reply)
            }
            _ => self.plain(sqn, &nak(NakErrorCode::SecurityBlockTypeNotSupported)),
        }
    }

    fn dispatch(&mut self, code: u8, data: &[u8], secure: bool) -> Reply {
        if self.busy > 0 {
            self.busy -= 1;
            return Reply::Busy(Busy);
        }
        let Ok(code) = CommandCode::from_byte(code) else {
            return nak(NakErrorCode::UnknownCommandCode);
        };
        let Ok(command) = Command::decode(code, data) else {
            return nak(NakErrorCode::CommandLengthError);
        };
        match &command {
            Command::Poll(_) => self.queue.pop_front().unwrap_or(Reply::Ack(Ack)),
            Command::Id(_) => Reply::PdId(PdId {
                vendor_oui: [0x0a, 0x00, 0x07],
                model: 7,
                version: 1,
                serial: 0x1000 + u32::from(self.address),
                firmware: [3, 2, 9],
            }),
            Command::Cap(_) => {
                let mut caps = vec![
                    cap(1, 1, self.inputs.len() as u8),
                    cap(4, 1, 1),
                    cap(5, 1, 1),
                    cap(3, 1, 1),
                ];
                if self.secure_capable {
                    caps.push(cap(9, 1, 1));
                }
                Reply::PdCap(PdCap::new(caps))
            }
            Command::LocalStatus(_) => Reply::LStatR(LStatR {
                tamper: u8::from(self.tamper),
                power: u8::from(self.power_fault),
            }),
            Command::InputStatus(_) => Reply::IStatR(IStatR {
                inputs: self.inputs.iter().map(|b| u8::from(*b)).collect(),
            }),
            Command::Led(_) | Command::Buzzer(_) => {
                self.received.push(command);
                Reply::Ack(Ack)
            }
            Command::KeySet(keyset) if secure => match <[u8; 16]>::try_from(&keyset.key[..]) {
                Ok(key) if keyset.key_type == 1 => {
                    // Takes effect from the next session, as the specification has it.
                    self.key = Some(key);
                    self.received.push(command);
                    Reply::Ack(Ack)
                }
                _ => nak(NakErrorCode::UnableToProcessCommandRecord),
            },
            _ => nak(NakErrorCode::UnknownCommandCode),
        }
    }

    fn plain(&self, sqn: Sqn, reply: &Reply) -> Vec<u8> {
        PacketBuilder::plain(
            Address::reply(self.address).expect("a valid address"),
            ControlByte::new(sqn, CtrlFlags::USE_CRC),
            reply.code().as_byte(),
            reply.encode_data().expect("a reply encodes"),
        )
        .encode()
        .expect("a reply encodes")
    }

    fn handshake(&self, sqn: Sqn, scs: ScsType, key_type: u8, code: u8, data: Vec<u8>) -> Vec<u8> {
        PacketBuilder {
            addr: Address::reply(self.address).expect("a valid address"),
            ctrl: ControlByte::new(sqn, CtrlFlags::USE_CRC | CtrlFlags::HAS_SCB),
            scb: Some(Scb::new(scs, [key_type])),
            code,
            data,
        }
        .encode()
        .expect("a handshake reply encodes")
    }
}

fn nak(error: NakErrorCode) -> Reply {
    Reply::Nak(Nak {
        error,
        completion_codes: Vec::new(),
    })
}

fn cap(function: u8, compliance: u8, number_of: u8) -> osdp::caps::Capability {
    osdp::caps::Capability {
        code: function,
        compliance,
        number_of,
    }
}

/// Which way bytes travel on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toward {
    Readers,
    Panel,
}

/// What a fault filter may do to a transmission: change its bytes (empty: lost), and delay
/// their arrival.
#[derive(Debug)]
pub struct Transmission<'a> {
    pub now: Micros,
    pub toward: Toward,
    /// For a reply, the reader that sent it.
    pub from: Option<u8>,
    pub bytes: &'a mut Vec<u8>,
    pub delay: &'a mut Micros,
}

type Filter = Box<dyn FnMut(Transmission<'_>) + Send>;

struct Delivery {
    at: Micros,
    toward: Toward,
    bytes: Vec<u8>,
}

/// A panel and its readers on one simulated half-duplex line: a transmission starts when the
/// line is free and takes 10 bits per byte at the baud rate; a reader starts its reply
/// `turnaround` after the command's last byte.
pub struct SimBus {
    pub now: Micros,
    pub panel: Panel,
    pub readers: Vec<SimReader>,
    pub turnaround: Micros,
    baud: u32,
    line_free_at: Micros,
    deliveries: Vec<Delivery>,
    filter: Option<Filter>,
    /// Bytes put on the line, both ways.
    pub bytes_on_line: u64,
    /// Frames the panel sent.
    pub frames_sent: u64,
}

impl std::fmt::Debug for SimBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimBus")
            .field("now", &self.now)
            .field("readers", &self.readers)
            .finish()
    }
}

impl SimBus {
    pub fn new(panel: Panel, readers: Vec<SimReader>, turnaround: Micros) -> SimBus {
        let baud = panel.timing().baud;
        SimBus {
            now: 0,
            panel,
            readers,
            turnaround,
            baud,
            line_free_at: 0,
            deliveries: Vec::new(),
            filter: None,
            bytes_on_line: 0,
            frames_sent: 0,
        }
    }

    /// Every transmission passes through `filter` first (faults: lost bytes, noise, delays).
    pub fn set_filter(&mut self, filter: impl FnMut(Transmission<'_>) + Send + 'static) {
        self.filter = Some(Box::new(filter));
    }

    pub fn reader(&mut self, address: u8) -> &mut SimReader {
        self.readers
            .iter_mut()
            .find(|r| r.address == address)
            .expect("a simulated reader at that address")
    }

    fn wire_time(&self, bytes: usize) -> Micros {
        (bytes as Micros * 10 * 1_000_000).div_ceil(Micros::from(self.baud))
    }

    fn put(&mut self, earliest: Micros, toward: Toward, from: Option<u8>, mut bytes: Vec<u8>) {
        let start = earliest.max(self.line_free_at);
        let done = start + self.wire_time(bytes.len());
        self.line_free_at = done;
        self.bytes_on_line += bytes.len() as u64;
        let mut delay = 0;
        if let Some(filter) = self.filter.as_mut() {
            filter(Transmission {
                now: start,
                toward,
                from,
                bytes: &mut bytes,
                delay: &mut delay,
            });
        }
        if !bytes.is_empty() {
            self.deliveries.push(Delivery {
                at: done + delay,
                toward,
                bytes,
            });
        }
    }

    /// Runs the line until `end` (virtual µs), returning the panel's events.
    pub fn run_until(&mut self, end: Micros) -> Vec<ReaderEvent> {
        let mut events = Vec::new();
        self.run_while(end, |event| {
            events.push(event.clone());
            true
        });
        events
    }

    /// Runs until `want` holds for an event or `limit` µs have passed; returns the time it
    /// took, or None.
    pub fn run_until_event(
        &mut self,
        limit: Micros,
        want: impl Fn(&ReaderEvent) -> bool,
    ) -> Option<Micros> {
        let started = self.now;
        let mut found = None;
        self.run_while(started + limit, |event| {
            if want(event) {
                found = Some(());
                return false;
            }
            true
        });
        found.map(|_| self.now - started)
    }

    /// Runs until `end`, handing each event to `go_on`, and stops early when it says false.
    pub fn run_while(&mut self, end: Micros, mut go_on: impl FnMut(&ReaderEvent) -> bool) {
        loop {
            if let Some(frame) = self.panel.poll_transmit(self.now) {
                self.frames_sent += 1;
                self.put(self.now, Toward::Readers, None, frame);
            }
            while let Some(event) = self.panel.poll_event() {
                if !go_on(&event) {
                    return;
                }
            }
            let next_delivery = self.deliveries.iter().map(|d| d.at).min();
            let next = match (self.panel.poll_timeout(), next_delivery) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(end),
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(next);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) =
                self.deliveries.drain(..).partition(|d| d.at <= now);
            self.deliveries = later;
            for delivery in due {
                match delivery.toward {
                    Toward::Panel => self.panel.handle_bytes(now, &delivery.bytes),
                    Toward::Readers => {
                        let mut replies = Vec::new();
                        for reader in &mut self.readers {
                            for reply in reader.receive(&delivery.bytes) {
                                replies.push((reader.address, reply));
                            }
                        }
                        for (address, reply) in replies {
                            self.put(now + self.turnaround, Toward::Panel, Some(address), reply);
                        }
                    }
                }
            }
            self.panel.handle_timeout(now);
        }
    }

    /// Powers a reader up; what it buffered while off is answered now.
    pub fn power_up(&mut self, address: u8) {
        let now = self.now;
        let reader = self.reader(address);
        reader.powered = true;
        let replies = reader.receive(&[]);
        for reply in replies {
            self.put(now + self.turnaround, Toward::Panel, Some(address), reply);
        }
    }
}

/// A deterministic stand-in for the kernel's randomness, for the challenge.
pub fn counting_random(seed: u64) -> Box<dyn FnMut() -> Option<[u8; 8]> + Send> {
    let mut n = seed;
    Box::new(move || {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Some(n.to_le_bytes())
    })
}
