//! An OSDP control panel for one RS-485 bus, on the pure-Rust `osdp` crate's frame codec and
//! secure-channel primitives.
//!
//! - [`panel`]: the protocol, sans-IO, in the manner of the controller core: bytes in with the
//!   time, frames out, the next deadline, events out. It polls every reader on the bus in
//!   turn, runs the secure channel handshake, provisions keys, and turns replies into
//!   [`ReaderEvent`]s. It never reads a clock or a port.
//! - [`Line`]: the thin loop that owns a [`Port`] and a clock and drives a panel.
//! - [`serial`]: the serial port (or PTY) as a [`Port`], with the kernel's RS-485 mode.
//! - [`wire`]: packets out of a noisy byte stream; shared with the fuzz target.
//! - [`sim`]: a simulated reader and a simulated half-duplex wire at a baud rate, on virtual
//!   time, for the session tests and the benchmarks.

pub mod panel;
pub mod serial;
pub mod sim;
pub mod wire;

use std::time::Duration;

pub use panel::{LinkState, Panel, ReaderStatus, Timing};
pub use serial::{Rs485Mode, SerialTransport};
pub use wire::{read_wire, take_packet};

/// Microseconds on a clock that never steps, from an arbitrary origin: the panel's time.
pub type Micros = u64;

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

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Plain => "plain",
            Security::DefaultKey => "default-key",
            Security::SiteKey => "site-key",
        }
    }
}

/// Who made a reader and what it runs, from its `osdp_PDID` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The vendor's IEEE OUI, as six hexadecimal digits.
    pub vendor: String,
    pub model: u8,
    pub version: u8,
    pub serial: u32,
    /// `MAJOR.MINOR.BUILD`.
    pub firmware: String,
}

/// One capability a reader declares in its `osdp_PDCAP` reply (OSDP Annex B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    /// The function code (1 contact status monitoring, 9 communication security, ...).
    pub function: u8,
    pub compliance: u8,
    pub number: u8,
}

/// What a reader did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A card was read: `FACILITY:CARD` for 26-bit H10301, else `raw:BITS:HEX`.
    Card { address: u8, credential: String },
    /// Digits entered on the keypad, as `pin:DIGITS`.
    Keypad { address: u8, credential: String },
    /// Card data that did not pass its parity check: refused, never a credential.
    BadCard { address: u8, problem: String },
    /// The reader answers on an agreed link (the secure channel, or in the clear in install
    /// mode).
    Online { address: u8, security: Security },
    /// No valid reply for the bus's off-line time.
    Offline { address: u8 },
    /// The reader answers, but fresh handshakes failed the same way repeatedly (a different
    /// key, or no secure channel): it stays off-line and is asked again at the slow interval.
    /// Reported once until the reader next comes on-line.
    SecureChannelRefused { address: u8, problem: String },
    /// A reader found with the default install key was given the bus's key (`osdp_KEYSET`,
    /// inside the secure channel); it comes back on-line under that key.
    Provisioned { address: u8 },
    /// The reader's identification (`osdp_ID`), asked when it comes on-line.
    Identified { address: u8, identity: Identity },
    /// The reader's capabilities (`osdp_CAP`), asked when it comes on-line.
    Capabilities {
        address: u8,
        capabilities: Vec<Capability>,
    },
    /// The reader's tamper switch changed (`osdp_LSTATR`); the first report after it comes
    /// on-line is given too.
    Tamper { address: u8, active: bool },
    /// The reader's power changed (`osdp_LSTATR`).
    PowerFault { address: u8, active: bool },
    /// The reader's own inputs changed (`osdp_ISTATR`), one per input, `true` active;
    /// `previous` is None for the first report since the reader came on-line.
    Inputs {
        address: u8,
        inputs: Vec<bool>,
        previous: Option<Vec<bool>>,
    },
}

impl ReaderEvent {
    /// The reader the event is about.
    pub fn address(&self) -> u8 {
        match self {
            ReaderEvent::Card { address, .. }
            | ReaderEvent::Keypad { address, .. }
            | ReaderEvent::BadCard { address, .. }
            | ReaderEvent::Online { address, .. }
            | ReaderEvent::Offline { address }
            | ReaderEvent::SecureChannelRefused { address, .. }
            | ReaderEvent::Provisioned { address }
            | ReaderEvent::Identified { address, .. }
            | ReaderEvent::Capabilities { address, .. }
            | ReaderEvent::Tamper { address, .. }
            | ReaderEvent::PowerFault { address, .. }
            | ReaderEvent::Inputs { address, .. } => *address,
        }
    }
}

/// The answer shown to the person at the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// Green LED for two seconds, one short beep.
    Grant,
    /// Red LED for two seconds, three beeps.
    Deny,
}

/// A byte line under a bus: a serial port, a PTY, or a simulated wire.
pub trait Port {
    /// Sends a frame.
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Reads what has arrived, waiting at most `wait`; 0 when nothing came.
    fn receive(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<usize>;
    /// Throws away what has arrived and not been read: before a new command, nothing already
    /// on the line can be its answer.
    fn discard_input(&mut self) -> std::io::Result<()>;
}

/// The thin loop around a [`Panel`]: sends its frames on the port (draining the line first),
/// hands it the bytes that arrive and the deadlines that pass, on the clock it is given.
pub struct Line<P: Port, C: Fn() -> Micros> {
    pub panel: Panel,
    port: P,
    clock: C,
    buf: [u8; 256],
}

impl<P: Port, C: Fn() -> Micros> std::fmt::Debug for Line<P, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line").field("panel", &self.panel).finish()
    }
}

/// The longest a [`Line::step`] waits for bytes, so that its caller can look at stop flags
/// and queued feedback.
const LONGEST_WAIT: Duration = Duration::from_millis(20);

impl<P: Port, C: Fn() -> Micros> Line<P, C> {
    pub fn new(panel: Panel, port: P, clock: C) -> Self {
        Line {
            panel,
            port,
            clock,
            buf: [0; 256],
        }
    }

    /// The time on the line's clock.
    pub fn now(&self) -> Micros {
        (self.clock)()
    }

    /// Sends what the panel has to send, then waits for bytes until the panel's next deadline
    /// (at most 20 ms), and hands over what came. Events are then in `panel.poll_event()`.
    pub fn step(&mut self) -> std::io::Result<()> {
        let now = (self.clock)();
        if let Some(frame) = self.panel.poll_transmit(now) {
            self.port.discard_input()?;
            self.port.send(&frame)?;
        }
        let now = (self.clock)();
        let wait = match self.panel.poll_timeout() {
            Some(at) => Duration::from_micros(at.saturating_sub(now)).min(LONGEST_WAIT),
            None => LONGEST_WAIT,
        };
        let n = self.port.receive(&mut self.buf, wait)?;
        let now = (self.clock)();
        if n > 0 {
            self.panel.handle_bytes(now, &self.buf[..n]);
        }
        self.panel.handle_timeout(now);
        Ok(())
    }

    /// Steps until `want` holds for an event or `limit` has passed on the line's clock;
    /// returns every event seen, the matching one last, or None if none matched.
    pub fn until(
        &mut self,
        limit: Duration,
        want: impl Fn(&ReaderEvent) -> bool,
    ) -> std::io::Result<Option<Vec<ReaderEvent>>> {
        let (seen, found) = self.collect(limit, want)?;
        Ok(found.then_some(seen))
    }

    /// Steps for `limit` on the line's clock; returns every event seen.
    pub fn run_for(&mut self, limit: Duration) -> std::io::Result<Vec<ReaderEvent>> {
        Ok(self.collect(limit, |_| false)?.0)
    }

    /// The events seen until `want` holds for one or `limit` has passed, and whether it did.
    fn collect(
        &mut self,
        limit: Duration,
        want: impl Fn(&ReaderEvent) -> bool,
    ) -> std::io::Result<(Vec<ReaderEvent>, bool)> {
        let end = self.now() + limit.as_micros() as Micros;
        let mut seen = Vec::new();
        while self.now() < end {
            self.step()?;
            while let Some(event) = self.panel.poll_event() {
                let done = want(&event);
                seen.push(event);
                if done {
                    return Ok((seen, true));
                }
            }
        }
        Ok((seen, false))
    }
}

/// Eight random bytes from the kernel, for a handshake's challenge; None if `/dev/urandom`
/// cannot be read (the handshake then fails, and is tried again).
pub fn urandom8() -> Option<[u8; 8]> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .ok()?;
    Some(bytes)
}
