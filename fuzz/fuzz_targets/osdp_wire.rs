//! Bytes from an RS-485 line, as the OSDP control panel reads them: packets found in noise,
//! replies decoded (plain and sealed), card and keypad data turned into credential numbers.
#![no_main]

use keyway_hw::osdp::{ReaderEvent, read_wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for event in read_wire(bytes) {
        // A credential only ever comes out in one of Keyway's spellings.
        if let ReaderEvent::Card { credential, .. } = &event {
            assert!(
                credential.starts_with("raw:") || credential.split(':').count() == 2,
                "{credential}"
            );
        }
    }
});
