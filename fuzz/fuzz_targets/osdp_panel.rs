//! Bytes from an RS-485 line as the OSDP control panel's session takes them, with time
//! passing: whatever arrives, whenever, the panel never panics, and nothing that is not
//! sealed under the bus's key becomes a card read.
#![no_main]

use keyway_hw::osdp::sim::counting_random;
use keyway_hw::osdp::{Panel, ReaderEvent, Timing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut panel = Panel::new(
        &[1, 2],
        Some([0x11; 16]),
        true,
        Timing::spec(115_200),
        counting_random(1),
    );
    let mut now = 0u64;
    // Each chunk: how long to wait (ms) after the bytes, then the bytes.
    for chunk in data.chunks(40) {
        let _ = panel.poll_transmit(now);
        let (wait, bytes) = chunk.split_first().expect("chunks are never empty");
        panel.handle_bytes(now, bytes);
        now += u64::from(*wait) * 1000;
        panel.handle_timeout(now);
        while let Some(event) = panel.poll_event() {
            assert!(
                !matches!(event, ReaderEvent::Card { .. } | ReaderEvent::Keypad { .. }),
                "{event:?}"
            );
        }
    }
});
