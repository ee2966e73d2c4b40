//! A Wiegand decoder from GPIO edge timestamps, sans-IO.
//!
//! Wiegand uses two lines, D0 and D1, both idle high. A bit is a short low pulse on D0 (a 0)
//! or on D1 (a 1); a frame is a train of such pulses and ends with silence. The decoder is fed
//! every edge with its time in microseconds ([`WiegandDecoder::edge`]) and asked, at or after
//! [`WiegandDecoder::deadline`], for the frame it completed ([`WiegandDecoder::poll`]).
//!
//! A frame is refused, whole, when anything in it is not a clean Wiegand pulse: a pulse too
//! short (a glitch) or too long (a line held low), both lines low at once, bits closer together
//! than a reader sends them, a length other than 26, 34, 35 or 37 bits (a partial frame), or a
//! parity error. A refused frame never becomes a credential number: nobody is let in on noise.
//!
//! A keypad sends each key as a burst of its own: 4 bits (the key's value, most significant
//! bit first: 0 to 9, 10 for `*`, 11 for `#`) or 8 bits (the complement of those four, then
//! the four). Such a burst is a [`Frame`] whose `key` is the key; any other value of 4 or 8
//! bits is refused.

use crate::card::{self, CardError};

/// Microseconds on the caller's clock.
pub type Micros = u64;

/// One of the two data lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Line {
    /// A low pulse here is a 0.
    D0,
    /// A low pulse here is a 1.
    D1,
}

/// Timing limits. The defaults accept the 20 to 200 µs pulses and 0.3 to 20 ms bit intervals
/// readers use, with margin, and end a frame after 25 ms of silence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub min_pulse: Micros,
    pub max_pulse: Micros,
    /// The least time from the start of one bit to the start of the next.
    pub min_interval: Micros,
    /// Silence after the last pulse that ends the frame.
    pub frame_gap: Micros,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            min_pulse: 15,
            max_pulse: 1_000,
            min_interval: 200,
            frame_gap: 25_000,
        }
    }
}

/// Why a frame was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WiegandError {
    #[error("noise on the lines: {0}")]
    Noise(&'static str),
    #[error(
        "a partial or unknown frame of {bits} bits (26, 34, 35 or 37 expected, or a key of 4 or 8)"
    )]
    Length { bits: usize },
    #[error("a keypad burst that is no key: {0}")]
    Key(&'static str),
    #[error(transparent)]
    Card(#[from] CardError),
}

/// A frame read cleanly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// First received first.
    pub bits: Vec<bool>,
    /// `FACILITY:CARD` for a 26-bit card, else `raw:BITS:HEX`; empty for a key.
    pub credential: String,
    /// A keypad's key: `0` to `9`, `*` or `#`.
    pub key: Option<char>,
}

/// The key a 4- or 8-bit keypad burst stands for.
fn key_of(bits: &[bool]) -> Result<char, WiegandError> {
    let value = |bits: &[bool]| bits.iter().fold(0u8, |v, b| (v << 1) | u8::from(*b));
    let key = match bits.len() {
        4 => value(bits),
        _ => {
            let (high, low) = (value(&bits[..4]), value(&bits[4..]));
            if high != !low & 0x0f {
                return Err(WiegandError::Key(
                    "the first four bits are not the complement of the last four",
                ));
            }
            low
        }
    };
    match key {
        0..=9 => Ok(char::from(b'0' + key)),
        10 => Ok('*'),
        11 => Ok('#'),
        _ => Err(WiegandError::Key("a value above 11")),
    }
}

/// Frame lengths Keyway accepts from a Wiegand reader.
pub const LENGTHS: [usize; 4] = [26, 34, 35, 37];

/// The decoder of one reader's two lines.
#[derive(Clone, Debug, Default)]
pub struct WiegandDecoder {
    timing: Timing,
    bits: Vec<bool>,
    /// When each line went low, while it is low.
    low_since: [Option<Micros>; 2],
    last_bit_start: Option<Micros>,
    last_activity: Option<Micros>,
    noise: Option<&'static str>,
}

fn slot(line: Line) -> usize {
    match line {
        Line::D0 => 0,
        Line::D1 => 1,
    }
}

impl WiegandDecoder {
    pub fn new(timing: Timing) -> Self {
        WiegandDecoder {
            timing,
            ..Default::default()
        }
    }

    /// One edge: `high` is the line's new level.
    pub fn edge(&mut self, line: Line, high: bool, at: Micros) {
        self.last_activity = Some(at);
        let this = slot(line);
        let other = 1 - this;
        if !high {
            if self.low_since[this].is_some() {
                // Two falling edges in a row: an edge was lost.
                self.noise.get_or_insert("a lost edge");
            }
            if self.low_since[other].is_some() {
                self.noise.get_or_insert("both lines low at once");
            }
            if let Some(previous) = self.last_bit_start
                && at.saturating_sub(previous) < self.timing.min_interval
            {
                self.noise
                    .get_or_insert("pulses closer together than a reader sends them");
            }
            self.low_since[this] = Some(at);
            self.last_bit_start = Some(at);
            return;
        }
        let Some(fell) = self.low_since[this].take() else {
            // A rising edge on a line that was not low: harmless, but not a bit.
            return;
        };
        let width = at.saturating_sub(fell);
        if width < self.timing.min_pulse {
            self.noise
                .get_or_insert("a glitch shorter than a Wiegand pulse");
        } else if width > self.timing.max_pulse {
            self.noise
                .get_or_insert("a line held low longer than a Wiegand pulse");
        } else {
            self.bits.push(line == Line::D1);
            if self.bits.len() > 64 {
                self.noise.get_or_insert("more bits than any card sends");
            }
        }
    }

    /// When the current frame will be complete, if one is being received.
    pub fn deadline(&self) -> Option<Micros> {
        self.last_activity.map(|at| at + self.timing.frame_gap)
    }

    /// The completed frame, once `now` is past the frame gap; `None` while one is still coming
    /// or nothing was received.
    pub fn poll(&mut self, now: Micros) -> Option<Result<Frame, WiegandError>> {
        let deadline = self.deadline()?;
        if now < deadline {
            return None;
        }
        let bits = std::mem::take(&mut self.bits);
        let noise = self.noise.take();
        let stuck = self.low_since.iter().any(Option::is_some);
        self.low_since = [None, None];
        self.last_bit_start = None;
        self.last_activity = None;
        if let Some(reason) = noise {
            return Some(Err(WiegandError::Noise(reason)));
        }
        if stuck {
            return Some(Err(WiegandError::Noise("a line held low")));
        }
        if bits.len() == 4 || bits.len() == 8 {
            return Some(key_of(&bits).map(|key| Frame {
                bits,
                credential: String::new(),
                key: Some(key),
            }));
        }
        if !LENGTHS.contains(&bits.len()) {
            return Some(Err(WiegandError::Length { bits: bits.len() }));
        }
        Some(
            card::credential_number(&bits)
                .map(|credential| Frame {
                    bits,
                    credential,
                    key: None,
                })
                .map_err(WiegandError::from),
        )
    }
}

/// The edges a reader sends for `bits`, starting at `start`: each bit a `pulse` µs low pulse,
/// one every `interval` µs. For tests and simulated readers.
pub fn edges_for(
    bits: &[bool],
    start: Micros,
    pulse: Micros,
    interval: Micros,
) -> Vec<(Line, bool, Micros)> {
    bits.iter()
        .enumerate()
        .flat_map(|(i, bit)| {
            let line = if *bit { Line::D1 } else { Line::D0 };
            let at = start + i as Micros * interval;
            [(line, false, at), (line, true, at + pulse)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{h10301, with_parity};
    use proptest::prelude::*;

    fn decode(edges: &[(Line, bool, Micros)]) -> Vec<Result<Frame, WiegandError>> {
        let mut decoder = WiegandDecoder::default();
        let mut frames = Vec::new();
        for &(line, high, at) in edges {
            // Like a driver: poll before each edge, in case a frame ended.
            if let Some(frame) = decoder.poll(at) {
                frames.push(frame);
            }
            decoder.edge(line, high, at);
        }
        if let Some(deadline) = decoder.deadline()
            && let Some(frame) = decoder.poll(deadline + 10_000)
        {
            frames.push(frame);
        }
        frames
    }

    /// Card "123 4567" (26 bits) written out edge by edge in the form a logic analyser prints,
    /// with the jitter a real reader has (48-52 µs pulses, bit starts within 2 µs of every
    /// 2 ms). Written by hand: no capture from a real reader was available here.
    const CAPTURE_STYLE_H10301: &[(Line, bool, Micros)] = &[
        (Line::D1, false, 1000),
        (Line::D1, true, 1050),
        (Line::D0, false, 3001),
        (Line::D0, true, 3049),
        (Line::D1, false, 5000),
        (Line::D1, true, 5051),
        (Line::D1, false, 7002),
        (Line::D1, true, 7052),
        (Line::D1, false, 9000),
        (Line::D1, true, 9050),
        (Line::D1, false, 11001),
        (Line::D1, true, 11050),
        (Line::D0, false, 13000),
        (Line::D0, true, 13048),
        (Line::D1, false, 15002),
        (Line::D1, true, 15052),
        (Line::D1, false, 17000),
        (Line::D1, true, 17051),
        (Line::D0, false, 19001),
        (Line::D0, true, 19050),
        (Line::D0, false, 21000),
        (Line::D0, true, 21049),
        (Line::D0, false, 23002),
        (Line::D0, true, 23051),
        (Line::D1, false, 25000),
        (Line::D1, true, 25050),
        (Line::D0, false, 27001),
        (Line::D0, true, 27050),
        (Line::D0, false, 29000),
        (Line::D0, true, 29052),
        (Line::D0, false, 31002),
        (Line::D0, true, 31050),
        (Line::D1, false, 33000),
        (Line::D1, true, 33051),
        (Line::D1, false, 35001),
        (Line::D1, true, 35049),
        (Line::D1, false, 37000),
        (Line::D1, true, 37050),
        (Line::D0, false, 39002),
        (Line::D0, true, 39051),
        (Line::D1, false, 41000),
        (Line::D1, true, 41050),
        (Line::D0, false, 43001),
        (Line::D0, true, 43052),
        (Line::D1, false, 45000),
        (Line::D1, true, 45049),
        (Line::D1, false, 47002),
        (Line::D1, true, 47050),
        (Line::D1, false, 49000),
        (Line::D1, true, 49051),
        (Line::D0, false, 51001),
        (Line::D0, true, 51050),
    ];

    #[test]
    fn keypad_bursts_of_four_and_eight_bits_are_keys() {
        let bits = |text: &str| text.bytes().map(|b| b == b'1').collect::<Vec<bool>>();
        let key = |text: &str| {
            let frames = decode(&edges_for(&bits(text), 0, 50, 1_000));
            frames[0].as_ref().map(|f| f.key).map_err(|e| e.to_string())
        };
        assert_eq!(key("0111"), Ok(Some('7')));
        assert_eq!(key("1011"), Ok(Some('#')));
        assert_eq!(key("1010"), Ok(Some('*')));
        // Eight bits: the complement of the key, then the key.
        assert_eq!(key("10000111"), Ok(Some('7')));
        assert_eq!(key("11110000"), Ok(Some('0')));
        assert!(key("00000111").unwrap_err().contains("complement"));
        assert!(key("1100").unwrap_err().contains("above 11"));
    }

    #[test]
    fn a_capture_style_h10301_frame() {
        let frames = decode(CAPTURE_STYLE_H10301);
        assert_eq!(frames.len(), 1);
        let frame = frames[0].as_ref().unwrap();
        assert_eq!(frame.credential, "123:4567");
        assert_eq!(frame.bits, h10301(123, 4567));
    }

    #[test]
    fn two_frames_separated_by_silence() {
        let mut edges = edges_for(&h10301(1, 2), 0, 50, 1_000);
        edges.extend(edges_for(&h10301(3, 4), 200_000, 50, 1_000));
        let credentials: Vec<String> = decode(&edges)
            .into_iter()
            .map(|f| f.unwrap().credential)
            .collect();
        assert_eq!(credentials, ["1:2", "3:4"]);
    }

    #[test]
    fn a_glitch_rejects_the_frame() {
        let mut edges = edges_for(&h10301(123, 4567), 0, 50, 2_000);
        // A 3 µs spike on D0 between two bits.
        edges.insert(10, (Line::D0, false, 9_500));
        edges.insert(11, (Line::D0, true, 9_503));
        assert!(matches!(decode(&edges)[..], [Err(WiegandError::Noise(_))]));
    }

    #[test]
    fn both_lines_low_rejects_the_frame() {
        let mut edges = edges_for(&h10301(123, 4567), 0, 50, 2_000);
        edges.insert(3, (Line::D1, false, 2_010));
        edges.insert(4, (Line::D1, true, 2_060));
        assert!(matches!(
            decode(&edges)[..],
            [Err(WiegandError::Noise("both lines low at once"))]
        ));
    }

    #[test]
    fn a_partial_frame_is_refused() {
        let bits = h10301(123, 4567);
        let edges = edges_for(&bits[..20], 0, 50, 2_000);
        assert_eq!(decode(&edges), [Err(WiegandError::Length { bits: 20 })]);
    }

    #[test]
    fn a_line_stuck_low_is_noise() {
        let mut edges = edges_for(&h10301(123, 4567), 0, 50, 2_000);
        edges.pop();
        let frames = decode(&edges);
        assert!(
            matches!(frames[..], [Err(WiegandError::Noise(_))]),
            "{frames:?}"
        );
    }

    proptest! {
        #[test]
        fn generated_frames_decode_with_any_reader_timing(
            len in prop::sample::select(LENGTHS.to_vec()),
            data in prop::collection::vec(any::<bool>(), 37),
            pulse in 20u64..200,
            interval in 300u64..5_000,
            start in 0u64..1_000_000_000,
        ) {
            let bits = with_parity(data[..len].to_vec());
            let frames = decode(&edges_for(&bits, start, pulse, interval));
            prop_assert_eq!(frames.len(), 1);
            let frame = frames[0].clone().unwrap();
            prop_assert_eq!(&frame.bits, &bits);
            prop_assert_eq!(frame.credential, card::credential_number(&bits).unwrap());
        }

        #[test]
        fn random_noise_never_yields_a_wrong_card(
            bits in prop::collection::vec(any::<bool>(), 26..=26),
            spikes in prop::collection::vec((any::<bool>(), 0u64..60_000, 1u64..14), 1..5),
        ) {
            let bits = with_parity(bits);
            let mut edges = edges_for(&bits, 0, 50, 2_000);
            for (d1, at, width) in spikes {
                let line = if d1 { Line::D1 } else { Line::D0 };
                edges.push((line, false, at));
                edges.push((line, true, at + width));
            }
            edges.sort_by_key(|e| e.2);
            // Noise is refused; it never turns into some other card.
            for frame in decode(&edges).into_iter().flatten() {
                prop_assert_eq!(frame.bits, bits.clone());
            }
        }
    }
}
