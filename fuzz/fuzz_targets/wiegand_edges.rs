//! Edges on a Wiegand reader's two lines at arbitrary times: the decoder must never panic, and
//! whatever it accepts is a frame of a known length whose parity checks.
#![no_main]

use keyway_hw::card;
use keyway_hw::wiegand::{LENGTHS, Line, Timing, WiegandDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut decoder = WiegandDecoder::new(Timing::default());
    let mut at = 0u64;
    // Three bytes an edge: which line and level, and the time since the previous edge.
    for edge in bytes.chunks_exact(3) {
        at += u64::from(u16::from_le_bytes([edge[1], edge[2]]));
        let line = if edge[0] & 1 == 0 { Line::D0 } else { Line::D1 };
        decoder.edge(line, edge[0] & 2 != 0, at);
        if let Some(Ok(frame)) = decoder.poll(at) {
            assert!(LENGTHS.contains(&frame.bits.len()));
            assert_eq!(card::credential_number(&frame.bits).as_ref(), Ok(&frame.credential));
        }
    }
    if let Some(deadline) = decoder.deadline()
        && let Some(Ok(frame)) = decoder.poll(deadline)
    {
        assert!(LENGTHS.contains(&frame.bits.len()));
    }
});
