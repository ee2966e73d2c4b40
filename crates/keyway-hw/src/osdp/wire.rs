//! Bytes off the wire: packets found in a stream with line noise, and replies turned into
//! what a reader did. Shared by the control panel ([`super::panel`]) and the fuzz target.

use osdp::packet::ParsedPacket;
use osdp::reply::{CCrypt, Reply, ReplyCode};
use osdp::secure::{SCBK_D, Secure, Session};

use super::ReaderEvent;
use crate::card;

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
pub(super) fn fixed_session_with(key: [u8; 16]) -> Session<Secure> {
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

/// A card's bits as what the reader did: its credential number, or a refused read.
fn card_event(address: u8, bits: &[bool]) -> ReaderEvent {
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

/// The event a card read or keypad reply stands for, if it is one.
pub(super) fn reply_event(address: u8, reply: Reply) -> Option<ReaderEvent> {
    match reply {
        Reply::Raw(raw) => {
            let bits: Vec<bool> = raw.iter_bits().collect();
            Some(card_event(address, &bits))
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

#[cfg(test)]
mod tests {
    use super::*;
    use osdp::packet::{Address, ControlByte, CtrlFlags, PacketBuilder, Sqn};
    use osdp::secure::Direction;
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
            prop_assert_eq!(read_wire(&wire), vec![card_event(address, &bits)]);

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
        let plain = include_bytes!("../../../../fuzz/seeds/osdp_wire/card-plain");
        let sealed = include_bytes!("../../../../fuzz/seeds/osdp_wire/card-sealed");
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
