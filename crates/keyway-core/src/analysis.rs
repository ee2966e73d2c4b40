//! What a person can do at each door and in each area at one moment: get out, get in.
//!
//! These are the per-door and per-area tables of the simulation spec. The lock positions come
//! from [`crate::physics`]; nothing here knows about fail modes except through it.

use std::collections::VecDeque;

use serde::Serialize;

use crate::physics::{
    Command, LockPosition, controller_can_unlock, lock_state, power_cut_unlocks, relay_energized,
};
use crate::site::{Arrangement, Door, ExitHardware, Site};

/// How a person on the inside gets out. Decided in this order, the first that holds wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Egress {
    /// `exit_hardware = "key"`, whatever the lock does.
    Key,
    /// The lock is unlocked or does not lock egress.
    Free,
    /// A release works now.
    Release,
    /// A delayed-egress release works now.
    Delayed,
    Blocked,
}

impl Egress {
    /// The name used in the JSON output and the tables.
    pub fn name(self) -> &'static str {
        match self {
            Egress::Key => "key",
            Egress::Free => "free",
            Egress::Release => "release",
            Egress::Delayed => "delayed",
            Egress::Blocked => "blocked",
        }
    }

    /// Counts as a way out for `can_exit`.
    pub fn lets_out(self) -> bool {
        self != Egress::Blocked
    }
}

/// How a person on the outside gets in. Decided in this order, the first that holds wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// The door is unlocked.
    Open,
    /// It has a reader and the controller can unlock it now (not during lockdown).
    Credential,
    /// A key override.
    Key,
    Blocked,
}

impl Entry {
    /// The name used in the JSON output and the tables.
    pub fn name(self) -> &'static str {
        match self {
            Entry::Open => "open",
            Entry::Credential => "credential",
            Entry::Key => "key",
            Entry::Blocked => "blocked",
        }
    }
}

/// One door at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct DoorView {
    pub lock: LockPosition,
    pub powered: bool,
    pub egress: Egress,
    pub entry: Entry,
}

/// One area at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct AreaView {
    pub can_exit: bool,
    pub open_to_exterior: bool,
}

/// The facts about one door's surroundings that decide its view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoorConditions {
    /// The lock's circuit is live.
    pub circuit_live: bool,
    pub controller_alive: bool,
    pub command: Command,
    pub lockdown: bool,
    /// Something outside the controller holds the lock's power path open (a push-to-exit with
    /// `direct_power_cut` being held).
    pub power_path_opened: bool,
}

/// A door's lock, egress and entry under some conditions (simulation spec, "Per door").
pub fn door_view(door: &Door, conditions: DoorConditions) -> DoorView {
    let Some(lock) = &door.lock else {
        // No electric lock: a passage door, or exit-only trim that only a key opens.
        let egress = if door.exit_hardware == ExitHardware::Key {
            Egress::Key
        } else {
            Egress::Free
        };
        let entry = match (door.exit_only, door.key_override) {
            (false, _) => Entry::Open,
            (true, true) => Entry::Key,
            (true, false) => Entry::Blocked,
        };
        return DoorView {
            lock: LockPosition::Unlocked,
            powered: false,
            egress,
            entry,
        };
    };
    let state = lock_state(
        lock.fail,
        conditions.circuit_live,
        relay_energized(conditions.controller_alive, conditions.command),
        conditions.power_path_opened,
    );
    let can_unlock = controller_can_unlock(
        lock.fail,
        conditions.circuit_live,
        conditions.controller_alive,
    );
    let release = &door.release;
    let push_to_exit_wired = release
        .push_to_exit
        .as_ref()
        .is_some_and(|p| !p.direct_power_cut);
    let push_to_exit_cuts_power = release
        .push_to_exit
        .as_ref()
        .is_some_and(|p| p.direct_power_cut);
    let release_works = ((release.rex_sensor || push_to_exit_wired) && can_unlock)
        || ((push_to_exit_cuts_power || release.arrangement == Arrangement::DoorHardware)
            && power_cut_unlocks(lock.fail))
        || (matches!(
            release.arrangement,
            Arrangement::Controlled | Arrangement::ElevatorLobby
        ) && can_unlock);
    // A delayed-egress timer is part of the lock: it works while the lock has power.
    let delayed_works = release.arrangement == Arrangement::Delayed && state.powered;

    let egress = if door.exit_hardware == ExitHardware::Key {
        Egress::Key
    } else if state.position == LockPosition::Unlocked || !lock.locks_egress {
        Egress::Free
    } else if release_works {
        Egress::Release
    } else if delayed_works {
        Egress::Delayed
    } else {
        Egress::Blocked
    };
    let entry = if state.position == LockPosition::Unlocked {
        Entry::Open
    } else if door.reader.is_some() && can_unlock && !conditions.lockdown {
        Entry::Credential
    } else if door.key_override {
        Entry::Key
    } else {
        Entry::Blocked
    };
    DoorView {
        lock: state.position,
        powered: state.powered,
        egress,
        entry,
    }
}

/// `can_exit` and `open_to_exterior` of every area, by area index (simulation spec, "Per area").
/// Each is one breadth-first search from the exterior areas, so the cost is linear in the site.
pub fn area_views(site: &Site, doors: &[DoorView]) -> Vec<AreaView> {
    let exteriors: Vec<usize> = site
        .areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.is_exterior())
        .map(|(i, _)| i)
        .collect();

    // can_exit: walk backwards from the exterior. An area reaches a reached area B through a
    // door from its inside to B (egress that lets out), or from its outside into B (entry open).
    let mut can_exit = vec![false; site.areas.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for &area in &exteriors {
        can_exit[area] = true;
        queue.push_back(area);
    }
    while let Some(reached) = queue.pop_front() {
        let area = crate::site::AreaIdx(reached as u32);
        for &d in site.doors_with_outside(area) {
            let inside = site.door(d).inside.index();
            if doors[d.index()].egress.lets_out() && !can_exit[inside] {
                can_exit[inside] = true;
                queue.push_back(inside);
            }
        }
        for &d in site.doors_with_inside(area) {
            let outside = site.door(d).outside.index();
            if doors[d.index()].entry == Entry::Open && !can_exit[outside] {
                can_exit[outside] = true;
                queue.push_back(outside);
            }
        }
    }

    // open_to_exterior: walk forwards from the exterior without a credential or key.
    let mut open = vec![false; site.areas.len()];
    for &area in &exteriors {
        open[area] = true;
        queue.push_back(area);
    }
    while let Some(reached) = queue.pop_front() {
        let area = crate::site::AreaIdx(reached as u32);
        for &d in site.doors_with_outside(area) {
            let inside = site.door(d).inside.index();
            if doors[d.index()].entry == Entry::Open && !open[inside] {
                open[inside] = true;
                queue.push_back(inside);
            }
        }
        for &d in site.doors_with_inside(area) {
            let outside = site.door(d).outside.index();
            if matches!(doors[d.index()].egress, Egress::Free | Egress::Release) && !open[outside] {
                open[outside] = true;
                queue.push_back(outside);
            }
        }
    }

    can_exit
        .into_iter()
        .zip(open)
        .map(|(can_exit, open_to_exterior)| AreaView {
            can_exit,
            open_to_exterior,
        })
        .collect()
}
