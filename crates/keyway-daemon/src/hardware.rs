//! Hardware adapters: commands out, nothing else. Real drivers (GPIO relays, OSDP readers)
//! sit behind the same traits; a site part that maps to no device is simulated.

use std::sync::{Arc, Mutex};

use keyway_core::site::DoorIdx;

/// The lock relays. `true` energizes the relay (the unlocked command); `false` is at rest.
pub trait Outputs: Send {
    fn set_relay(&mut self, door: DoorIdx, energized: bool);
}

/// Relays that only remember their state, and every change, for the simulated site and tests.
#[derive(Clone, Debug, Default)]
pub struct SimulatedOutputs {
    /// Every change in order: (door, energized).
    pub changes: Arc<Mutex<Vec<(DoorIdx, bool)>>>,
}

impl Outputs for SimulatedOutputs {
    fn set_relay(&mut self, door: DoorIdx, energized: bool) {
        if let Ok(mut changes) = self.changes.lock() {
            changes.push((door, energized));
        }
    }
}
