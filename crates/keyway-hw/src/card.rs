//! Card formats: the bits a reader sends, turned into a credential number.
//!
//! A 26-bit H10301 card becomes `FACILITY:CARD` (for example `123:4567`), which is how cards
//! are printed and sold; every other format becomes `raw:BITS:HEX`, the bits as one big-endian
//! number in hexadecimal (`raw:35:1a2b3c4d5`), which names the card exactly without guessing
//! at a layout. Parity is checked for the formats whose parity is known: 26-bit H10301, 34-bit
//! H10306, 35-bit HID Corporate 1000 and 37-bit H10302/H10304.

/// Why card bits were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("{bits}-bit card: parity check failed")]
    Parity { bits: usize },
    #[error("no bits")]
    Empty,
    #[error("{bits} bits is more than a card carries (at most 128)")]
    TooLong { bits: usize },
}

/// The bits of a card, first transmitted first.
pub fn credential_number(bits: &[bool]) -> Result<String, CardError> {
    match bits.len() {
        0 => return Err(CardError::Empty),
        n if n > 128 => return Err(CardError::TooLong { bits: n }),
        _ => {}
    }
    if !parity_ok(bits) {
        return Err(CardError::Parity { bits: bits.len() });
    }
    if bits.len() == 26 {
        let facility = field(bits, 1, 8);
        let card = field(bits, 9, 16);
        return Ok(format!("{facility}:{card}"));
    }
    Ok(raw_number(bits))
}

/// `raw:BITS:HEX` for any bits, without a parity check (OSDP raw reads whose format the
/// reader did not say).
pub fn raw_number(bits: &[bool]) -> String {
    let digits = bits.len().div_ceil(4);
    let padding = digits * 4 - bits.len();
    let mut hex = String::with_capacity(digits);
    let padded: Vec<bool> = std::iter::repeat_n(false, padding)
        .chain(bits.iter().copied())
        .collect();
    for nibble in padded.chunks(4) {
        let value = nibble.iter().fold(0u8, |v, b| (v << 1) | u8::from(*b));
        hex.push(char::from_digit(u32::from(value), 16).unwrap_or('0'));
    }
    format!("raw:{}:{hex}", bits.len())
}

/// The unsigned number in `len` bits from `start`.
fn field(bits: &[bool], start: usize, len: usize) -> u64 {
    bits[start..start + len]
        .iter()
        .fold(0u64, |v, b| (v << 1) | u64::from(*b))
}

fn ones(bits: &[bool], positions: impl Iterator<Item = usize>) -> usize {
    positions.filter(|p| bits[*p]).count()
}

/// Whether the parity bits of a known format hold; formats whose parity is not known pass.
pub fn parity_ok(bits: &[bool]) -> bool {
    let n = bits.len();
    let even = |positions: &mut dyn Iterator<Item = usize>| ones(bits, positions).is_multiple_of(2);
    let odd = |positions: &mut dyn Iterator<Item = usize>| ones(bits, positions) % 2 == 1;
    match n {
        // H10301: leading even parity over the first 12 data bits, trailing odd over the last 12.
        26 => even(&mut (0..=12)) && odd(&mut (13..=25)),
        // H10306: even over the first 16 data bits, odd over the last 16.
        34 => even(&mut (0..=16)) && odd(&mut (17..=33)),
        // H10302 and H10304: even over bits 1-18, odd over bits 18-35 (bit 18 in both).
        37 => even(&mut (0..=18)) && odd(&mut (18..=36)),
        // HID Corporate 1000: bit 1 even over every bit 2-33 whose position is not 1 mod 3;
        // bit 34 odd over every bit 1-32 whose position is not 0 mod 3; bit 0 odd over all.
        35 => {
            even(&mut std::iter::once(1).chain((2..=33).filter(|p| p % 3 != 1)))
                && odd(&mut std::iter::once(34).chain((1..=32).filter(|p| p % 3 != 0)))
                && odd(&mut (0..=34))
        }
        _ => true,
    }
}

/// Builds a 26-bit H10301 card, for tests and simulated readers.
pub fn h10301(facility: u8, card: u16) -> Vec<bool> {
    let mut bits = vec![false; 26];
    for i in 0..8 {
        bits[1 + i] = facility >> (7 - i) & 1 == 1;
    }
    for i in 0..16 {
        bits[9 + i] = card >> (15 - i) & 1 == 1;
    }
    bits[0] = ones(&bits, 1..=12) % 2 == 1;
    bits[25] = ones(&bits, 13..=24).is_multiple_of(2);
    bits
}

/// Sets the parity bits of a 34-, 35- or 37-bit frame whose data bits are in place.
pub fn with_parity(mut bits: Vec<bool>) -> Vec<bool> {
    match bits.len() {
        26 => {
            bits[0] = ones(&bits, 1..=12) % 2 == 1;
            bits[25] = ones(&bits, 13..=24).is_multiple_of(2);
        }
        34 => {
            bits[0] = ones(&bits, 1..=16) % 2 == 1;
            bits[33] = ones(&bits, 17..=32).is_multiple_of(2);
        }
        37 => {
            bits[0] = ones(&bits, 1..=18) % 2 == 1;
            bits[36] = ones(&bits, 18..=35).is_multiple_of(2);
        }
        35 => {
            bits[1] = ones(&bits, (2..=33).filter(|p| p % 3 != 1)) % 2 == 1;
            bits[34] = ones(&bits, (1..=32).filter(|p| p % 3 != 0)) % 2 == 0;
            bits[0] = ones(&bits, 1..=34).is_multiple_of(2);
        }
        _ => {}
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn from_str(bits: &str) -> Vec<bool> {
        bits.chars()
            .filter(|c| *c == '0' || *c == '1')
            .map(|c| c == '1')
            .collect()
    }

    #[test]
    fn a_known_h10301_card() {
        // Facility 123, card 4567: a card printed "123 4567".
        // 0 01111011 0001000111010111 1: leading even parity over 0111 1011 0001 (7 ones: 1),
        // trailing odd parity over 0001 1101 0111 (7 ones: 0). Worked out by hand.
        let bits = from_str("1 01111011 0001000111010111 0");
        assert_eq!(bits, h10301(123, 4567));
        assert_eq!(credential_number(&bits).unwrap(), "123:4567");
        let mut flipped = bits.clone();
        flipped[5] = !flipped[5];
        assert_eq!(
            credential_number(&flipped),
            Err(CardError::Parity { bits: 26 })
        );
    }

    #[test]
    fn raw_numbers_are_big_endian_hex() {
        assert_eq!(raw_number(&from_str("1 0000 0001")), "raw:9:101");
        assert_eq!(raw_number(&from_str("1111")), "raw:4:f");
    }

    proptest! {
        #[test]
        fn h10301_round_trips(facility in any::<u8>(), card in any::<u16>()) {
            prop_assert_eq!(credential_number(&h10301(facility, card)).unwrap(), format!("{facility}:{card}"));
        }

        #[test]
        fn every_single_bit_error_is_caught(len in prop::sample::select(vec![26usize, 34, 35, 37]), data in prop::collection::vec(any::<bool>(), 37), flip in 0usize..37) {
            let bits = with_parity(data[..len].to_vec());
            prop_assert!(parity_ok(&bits));
            let mut damaged = bits.clone();
            damaged[flip % len] = !damaged[flip % len];
            prop_assert!(!parity_ok(&damaged), "a flipped bit {} of {} passed parity", flip % len, len);
        }

        #[test]
        fn raw_numbers_keep_every_bit(bits in prop::collection::vec(any::<bool>(), 1..128)) {
            let number = raw_number(&bits);
            let hex = number.rsplit(':').next().unwrap();
            let decoded: Vec<bool> = hex.chars().flat_map(|c| { let v = c.to_digit(16).unwrap(); (0..4).rev().map(move |i| v >> i & 1 == 1) }).collect();
            prop_assert_eq!(&decoded[decoded.len() - bits.len()..], &bits[..]);
        }
    }
}
