//! Edges on a Wiegand reader's two lines at arbitrary times: the decoder must never panic, and
//! whatever it accepts is a frame of a known length whose parity checks, or a keypad's key of
//! 4 or 8 bits.
#![no_main]

use keyway_hw::card;
use keyway_hw::wiegand::{LENGTHS, Line, Timing, WiegandDecoder};
use libfuzzer_sys::fuzz_target;

/// An accepted frame is a card of a known length whose number is its bits', or a key.
fn check(frame: &keyway_hw::wiegand::Frame) {
    match frame.key {
        Some(key) => {
            assert!(frame.bits.len() == 4 || frame.bits.len() == 8);
            assert!(key.is_ascii_digit() || key == '*' || key == '#');
        }
        None => {
            assert!(LENGTHS.contains(&frame.bits.len()));
            assert_eq!(
                card::credential_number(&frame.bits).as_ref(),
                Ok(&frame.credential)
            );
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let mut decoder = WiegandDecoder::new(Timing::default());
    let mut at = 0u64;
    // Three bytes an edge: which line and level, and the time since the previous edge.
    for edge in bytes.chunks_exact(3) {
        at += u64::from(u16::from_le_bytes([edge[1], edge[2]]));
        let line = if edge[0] & 1 == 0 { Line::D0 } else { Line::D1 };
        decoder.edge(line, edge[0] & 2 != 0, at);
        if let Some(Ok(frame)) = decoder.poll(at) {
            check(&frame);
        }
    }
    if let Some(deadline) = decoder.deadline()
        && let Some(Ok(frame)) = decoder.poll(deadline)
    {
        check(&frame);
    }
});
