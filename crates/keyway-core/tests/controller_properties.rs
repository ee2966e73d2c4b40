//! Property tests of the controller's safety invariants: random sites, random credentials,
//! random input sequences, and the invariants checked after every step.

mod common;

use std::sync::Arc;

use common::generated::gen_site;
use keyway_core::controller::Detail;
use keyway_core::controller::{Controller, EventKind, Input};
use keyway_core::credentials::{CredentialExtra, DenyReason};
use keyway_core::credentials::{CredentialStore, DoorScope, NewCredential};
use keyway_core::emergency::Mode;
use keyway_core::physics::{Command, LockPosition, controller_can_unlock};
use keyway_core::site::{
    AreaIdx, Arrangement, CircuitIdx, DoorIdx, FailMode, Side, Site, StationIdx, ZoneIdx,
};
use proptest::prelude::*;
use std::collections::HashMap;

/// One random input, with indices taken modulo the site's sizes.
#[derive(Clone, Debug)]
enum RawInput {
    Badge(usize, u8),
    Rex(usize),
    PushToExit(usize),
    DoorOpen(usize),
    DoorClose(usize),
    KeyOverride(usize),
    PowerOff(usize),
    PowerOn(usize),
    FireAlarm,
    FireAlarmReset,
    Lockdown,
    LockdownEnd,
    Override(usize),
    OverrideEnd,
    Unlock(usize),
    Lock(usize),
    Release(usize),
    /// A hold (unlock when `true`) ending this many milliseconds after it is set.
    HoldFor(usize, bool, i64),
    Momentary(usize),
    MomentaryEnd(usize),
    LockSensed(usize, bool),
    BatteryLow(usize),
    DoorFoundOpen(usize),
    ExitBadge(usize, u8),
    Muster(usize, u8),
    /// An operator's forgiveness: a holder, a zone, or (neither) everyone.
    Forgive(Option<u8>, Option<usize>),
    /// An emergency mode (by its place in `Mode::ALL`), for one area or the whole site.
    Mode(usize, Option<usize>),
    /// Digits at a keypad: the credential's PIN (`true`) or a wrong one.
    Pin(usize, bool),
}

fn raw_input() -> impl Strategy<Value = RawInput> {
    let door = 0usize..64;
    prop_oneof![
        4 => (door.clone(), 0u8..6).prop_map(|(d, c)| RawInput::Badge(d, c)),
        3 => door.clone().prop_map(RawInput::Rex),
        2 => door.clone().prop_map(RawInput::PushToExit),
        3 => door.clone().prop_map(RawInput::DoorOpen),
        3 => door.clone().prop_map(RawInput::DoorClose),
        1 => door.clone().prop_map(RawInput::KeyOverride),
        2 => (0usize..8).prop_map(RawInput::PowerOff),
        2 => (0usize..8).prop_map(RawInput::PowerOn),
        1 => Just(RawInput::FireAlarm),
        1 => Just(RawInput::FireAlarmReset),
        1 => Just(RawInput::Lockdown),
        1 => Just(RawInput::LockdownEnd),
        1 => door.clone().prop_map(RawInput::Override),
        1 => Just(RawInput::OverrideEnd),
        1 => door.clone().prop_map(RawInput::Unlock),
        1 => door.clone().prop_map(RawInput::Lock),
        1 => door.clone().prop_map(RawInput::Release),
        1 => (door.clone(), any::<bool>(), 0i64..120_000).prop_map(|(d, u, ms)| RawInput::HoldFor(d, u, ms)),
        1 => door.clone().prop_map(RawInput::Momentary),
        1 => door.clone().prop_map(RawInput::MomentaryEnd),
        2 => (door, any::<bool>()).prop_map(|(d, l)| RawInput::LockSensed(d, l)),
        1 => (0usize..8).prop_map(RawInput::BatteryLow),
        1 => (0usize..64).prop_map(RawInput::DoorFoundOpen),
        3 => (0usize..64, 0u8..6).prop_map(|(d, c)| RawInput::ExitBadge(d, c)),
        1 => (0usize..4, 0u8..6).prop_map(|(s, c)| RawInput::Muster(s, c)),
        1 => (prop::option::of(0u8..6), prop::option::of(0usize..4)).prop_map(|(c, z)| RawInput::Forgive(c, z)),
        2 => (0usize..6, prop::option::of(0usize..8)).prop_map(|(m, a)| RawInput::Mode(m, a)),
        2 => (0usize..64, any::<bool>()).prop_map(|(d, right)| RawInput::Pin(d, right)),
    ]
}

/// Time between steps: mostly seconds, sometimes long enough for batteries to run out.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![6 => 0i64..20_000, 2 => 20_000i64..120_000, 1 => 600_000i64..7_200_000]
}

fn to_input(site: &Site, now: i64, raw: &RawInput) -> Input {
    let door = |d: usize| DoorIdx((d % site.doors.len()) as u32);
    let circuit = |c: usize| CircuitIdx((c % site.circuits.len()) as u32);
    match raw {
        // Credentials 0..4 exist (4 is a responder); 5 is unknown.
        RawInput::Badge(d, c) => Input::Badge {
            door: door(*d),
            side: keyway_core::site::Side::Entry,
            credential: format!("c{c}"),
        },
        RawInput::Rex(d) => Input::Rex { door: door(*d) },
        RawInput::PushToExit(d) => Input::PushToExit { door: door(*d) },
        RawInput::DoorOpen(d) => Input::DoorOpen { door: door(*d) },
        RawInput::DoorClose(d) => Input::DoorClose { door: door(*d) },
        RawInput::KeyOverride(d) => Input::KeyOverride { door: door(*d) },
        RawInput::PowerOff(c) => Input::PowerOff {
            circuit: circuit(*c),
        },
        RawInput::PowerOn(c) => Input::PowerOn {
            circuit: circuit(*c),
        },
        RawInput::FireAlarm => Input::FireAlarm,
        RawInput::FireAlarmReset => Input::FireAlarmReset,
        RawInput::Lockdown => Input::Lockdown,
        RawInput::LockdownEnd => Input::LockdownEnd,
        RawInput::Override(d) => Input::EmergencyOverride {
            doors: vec![door(*d)],
        },
        RawInput::OverrideEnd => Input::EmergencyOverrideEnd,
        RawInput::Unlock(d) => Input::Unlock { door: door(*d) },
        RawInput::Lock(d) => Input::Lock { door: door(*d) },
        RawInput::Release(d) => Input::Release { door: door(*d) },
        RawInput::HoldFor(d, unlock, ms) => Input::HoldUntil {
            door: door(*d),
            command: if *unlock {
                Command::Unlock
            } else {
                Command::Lock
            },
            until: now + ms,
        },
        RawInput::Momentary(d) => Input::MomentaryUnlock { door: door(*d) },
        RawInput::MomentaryEnd(d) => Input::MomentaryEnd { door: door(*d) },
        RawInput::LockSensed(d, locked) => Input::LockSensed {
            door: door(*d),
            locked: *locked,
        },
        RawInput::BatteryLow(c) => Input::BatteryLow {
            circuit: circuit(*c),
        },
        RawInput::DoorFoundOpen(d) => Input::DoorFoundOpen { door: door(*d) },
        RawInput::ExitBadge(d, c) => Input::Badge {
            door: door(*d),
            side: Side::Exit,
            credential: format!("c{c}"),
        },
        RawInput::Muster(station, c) => Input::Muster {
            station: StationIdx((station % site.muster_stations.len()) as u32),
            credential: format!("c{c}"),
        },
        RawInput::Mode(mode, area) => Input::Emergency {
            mode: Mode::ALL[*mode % Mode::ALL.len()].1,
            areas: area.map(|a| vec![AreaIdx((a % site.areas.len()) as u32)]),
        },
        // Every credential's PIN is 1234.
        RawInput::Pin(d, right) => Input::Pin {
            door: door(*d),
            side: Side::Entry,
            pin: if *right { "1234" } else { "0000" }.to_string(),
        },
        RawInput::Forgive(c, zone) => Input::ForgivePassback {
            credential: c.map(|c| format!("c{c}")),
            zone: zone
                .filter(|_| !site.zones.is_empty())
                .map(|z| ZoneIdx((z % site.zones.len()) as u32)),
        },
    }
}

fn credentials(site: &Site) -> CredentialStore {
    let mut store = CredentialStore::new();
    for c in 0..5u32 {
        let doors = if c == 0 {
            DoorScope::All
        } else {
            DoorScope::Doors(
                (0..site.doors.len() as u32)
                    .filter(|d| d % 4 == c % 4)
                    .map(DoorIdx)
                    .collect(),
            )
        };
        store
            .insert(NewCredential {
                number: format!("c{c}"),
                holder: String::new(),
                doors,
                levels: Vec::new(),
                schedule: None,
                valid_from: None,
                valid_until: None,
                responder: c == 4,
                disabled: false,
                staff: c == 2,
                extra: CredentialExtra {
                    pin: Some("1234".to_string()),
                    duress_pin: (c == 1).then(|| "9999".to_string()),
                    uses: (c == 3).then_some(3),
                },
            })
            .unwrap();
    }
    store
}

/// Where people are, worked out from the inputs and the events alone, the simplest way: the
/// controller's own bookkeeping (sequence numbers instead of visiting an area's occupants)
/// must give the same.
#[derive(Default)]
struct PeopleModel {
    /// Credential to (area last seen going into, may have left it since).
    last_seen: HashMap<String, (Option<AreaIdx>, bool)>,
    /// Per door, the last grant at its entry reader.
    entry_granted: HashMap<DoorIdx, i64>,
}

impl PeopleModel {
    fn left_unseen(&mut self, site: &Site, door: DoorIdx) {
        let site_door = site.door(door);
        if site_door.exit_reader.is_some() {
            return;
        }
        for (area, maybe_left) in self.last_seen.values_mut() {
            if *area == Some(site_door.inside) {
                *maybe_left = true;
            }
        }
    }

    fn step(
        &mut self,
        site: &Site,
        now: i64,
        alive_before: bool,
        input: &Input,
        events: &[keyway_core::controller::Event],
    ) {
        match input {
            Input::Rex { door } | Input::PushToExit { door } if alive_before => {
                self.left_unseen(site, *door)
            }
            _ => {}
        }
        for event in events {
            match event.kind {
                EventKind::AccessGranted => {
                    let door = event.door.unwrap();
                    let exit = event.detail == Some(Detail::Exit);
                    let area = if exit {
                        site.door(door).outside
                    } else {
                        self.entry_granted.insert(door, now);
                        site.door(door).inside
                    };
                    self.last_seen
                        .insert(event.credential.clone().unwrap(), (Some(area), false));
                }
                EventKind::Mustered => {
                    let Some(Detail::Station(station)) = event.detail else {
                        panic!("mustered without its station");
                    };
                    self.last_seen.insert(
                        event.credential.clone().unwrap(),
                        (site.muster_stations[station.index()].area, false),
                    );
                }
                EventKind::DoorOpened => {
                    let door = event.door.unwrap();
                    let unlock = (site.door(door).unlock_seconds * 1000.0).round() as i64;
                    let entering = self
                        .entry_granted
                        .get(&door)
                        .is_some_and(|at| now - at <= unlock);
                    if !entering {
                        self.left_unseen(site, door);
                    }
                }
                _ => {}
            }
        }
    }

    /// (credential, area, may have left) of everyone last seen inside, sorted.
    fn inside(&self, site: &Site) -> Vec<(String, AreaIdx, bool)> {
        let mut list: Vec<(String, AreaIdx, bool)> = self
            .last_seen
            .iter()
            .filter_map(|(credential, (area, maybe_left))| {
                let area = (*area)?;
                (!site.area(area).is_exterior()).then(|| (credential.clone(), area, *maybe_left))
            })
            .collect();
        list.sort();
        list
    }
}

fn check_people(
    controller: &Controller,
    model: &PeopleModel,
    fire_alarm: bool,
) -> Result<(), TestCaseError> {
    let site = controller.site();
    let inside: Vec<(String, AreaIdx, bool)> = controller
        .people()
        .last_seen_inside()
        .into_iter()
        .map(|p| (p.credential.to_string(), p.area, p.maybe_left))
        .collect();
    prop_assert_eq!(&inside, &model.inside(site), "last seen inside");
    // Occupancy is the holders known to be in each area.
    let occupants = controller.occupants();
    for area in site.area_indices() {
        let expected: Vec<&str> = inside
            .iter()
            .filter(|(_, a, maybe_left)| *a == area && !maybe_left)
            .map(|(c, _, _)| c.as_str())
            .collect();
        prop_assert_eq!(
            &occupants[area.index()],
            &expected,
            "occupants of {}",
            site.area(area).id
        );
    }
    // The muster list is exactly the holders last seen inside, while the fire alarm lasts.
    match controller.muster_list() {
        Some(list) => {
            prop_assert!(fire_alarm, "a muster without a fire alarm or an evacuation");
            let listed: Vec<String> = list.iter().map(|p| p.credential.to_string()).collect();
            let expected: Vec<String> = inside.iter().map(|(c, _, _)| c.clone()).collect();
            prop_assert_eq!(listed, expected);
        }
        None => prop_assert!(
            !fire_alarm,
            "a fire alarm or an evacuation without a muster"
        ),
    }
    Ok(())
}

/// What the test has seen logged, to check each change is logged exactly once.
struct Watch {
    logged: Vec<LockPosition>,
    fire_alarm: bool,
    /// The emergency mode in force, as the inputs set it.
    mode: Mode,
}

fn check_invariants(controller: &Controller, watch: &Watch) -> Result<(), TestCaseError> {
    let site = controller.site();
    for door in site.door_indices() {
        let status = controller.door_status(door);
        let site_door = site.door(door);
        let Some(lock) = &site_door.lock else {
            prop_assert_eq!(status.lock, LockPosition::Unlocked);
            continue;
        };
        // An unpowered lock is in its default position.
        if !status.powered {
            let default = match lock.fail {
                FailMode::Safe => LockPosition::Unlocked,
                FailMode::Secure => LockPosition::Locked,
            };
            prop_assert_eq!(status.lock, default, "{} unpowered", site_door.id);
        }
        let circuit_live = controller.circuit_live(lock.power);
        if !circuit_live {
            prop_assert!(
                !status.powered,
                "{} on a dead circuit has power",
                site_door.id
            );
        }
        // A fire-released door is unlocked from the alarm until its reset.
        if watch.fire_alarm && site_door.release.fire_alarm {
            prop_assert_eq!(
                status.command,
                Command::Unlock,
                "{} during the fire alarm",
                site_door.id
            );
            if controller_can_unlock(lock.fail, circuit_live, controller.alive()) {
                prop_assert_eq!(
                    status.lock,
                    LockPosition::Unlocked,
                    "{} during the fire alarm",
                    site_door.id
                );
            }
        }
        // Every change of physical position is logged, while the controller is alive.
        if controller.alive() {
            prop_assert_eq!(
                watch.logged[door.index()],
                status.lock,
                "{} logged position",
                site_door.id
            );
        }
    }
    Ok(())
}

/// Applies the events to the watch, failing on a change logged twice.
fn absorb(
    controller: &mut Controller,
    watch: &mut Watch,
) -> Result<Vec<keyway_core::controller::Event>, TestCaseError> {
    let events = controller.take_events();
    for event in &events {
        let position = match event.kind {
            EventKind::DoorUnlocked => LockPosition::Unlocked,
            EventKind::DoorLocked => LockPosition::Locked,
            _ => continue,
        };
        let door = event.door.expect("door events name their door");
        prop_assert_ne!(
            watch.logged[door.index()],
            position,
            "a change of door {} logged twice",
            door.0
        );
        watch.logged[door.index()] = position;
    }
    Ok(events)
}

proptest! {
    #[test]
    fn safety_invariants_hold_after_every_step(
        generated in gen_site(),
        steps in prop::collection::vec((gap(), raw_input()), 1..60),
    ) {
        let site = Arc::new(common::load(&generated.to_toml()));
        let start = 1_764_576_000_000; // 2025-12-01T08:00:00Z
        let mut controller = Controller::new(Arc::clone(&site), credentials(&site), Vec::new(), start);
        let mut watch = Watch {
            logged: site.door_indices().map(|d| controller.door_status(d).lock).collect(),
            fire_alarm: false,
            mode: Mode::None,
        };
        // The start logs the changes from the at-rest position (none here: no schedules).
        absorb(&mut controller, &mut watch)?;
        check_invariants(&controller, &watch)?;
        let mut now = start;
        let mut people = PeopleModel::default();
        for (gap, raw) in steps {
            now += gap;
            // Timers first, checked, then the input alone, so its effect can be told apart.
            controller.advance(now);
            absorb(&mut controller, &mut watch)?;
            check_invariants(&controller, &watch)?;
            let input = to_input(&site, now, &raw);
            let before: Vec<_> = site.door_indices().map(|d| controller.door_status(d)).collect();
            let alive_before = controller.alive();
            controller.handle(now, input.clone());
            match input {
                Input::FireAlarm => watch.fire_alarm = true,
                Input::Emergency { mode, .. } => watch.mode = mode,
                Input::Lockdown => watch.mode = Mode::Lockdown,
                Input::LockdownEnd if watch.mode == Mode::Lockdown => watch.mode = Mode::None,
                Input::FireAlarmReset => watch.fire_alarm = false,
                _ => {}
            }
            let events = absorb(&mut controller, &mut watch)?;
            check_invariants(&controller, &watch)?;
            people.step(&site, now, alive_before, &input, &events);
            check_people(&controller, &people, watch.fire_alarm || watch.mode == Mode::Evacuate)?;

            // Anti-passback never keeps anyone in: an exit reader never refuses for it.
            for event in &events {
                prop_assert!(
                    !(event.reason == Some(DenyReason::AntiPassback) && event.detail == Some(Detail::Exit)),
                    "refused at an exit reader for anti-passback: {:?}", event
                );
            }

            // A denied badge never changes a lock.
            if events.iter().any(|e| e.kind == EventKind::AccessDenied) {
                for door in site.door_indices() {
                    prop_assert_eq!(controller.door_status(door).lock, before[door.index()].lock, "denied badge moved door {}", door.0);
                }
            }
            // REX releases an egress-locked door whose controller can unlock it, lockdown or
            // not (a delayed-egress door starts its delay instead).
            if let Input::Rex { door } = input {
                let site_door = site.door(door);
                if let Some(lock) = &site_door.lock
                    && lock.locks_egress
                    && site_door.release.arrangement != Arrangement::Delayed
                    && controller_can_unlock(lock.fail, controller.circuit_live(lock.power), controller.alive())
                {
                    prop_assert_eq!(controller.door_status(door).lock, LockPosition::Unlocked, "REX on {}", site_door.id);
                }
            }
            // A push-to-exit that cuts power releases a fail-safe lock, lockdown or not.
            if let Input::PushToExit { door } = input {
                let site_door = site.door(door);
                if let (Some(lock), Some(device)) = (&site_door.lock, &site_door.release.push_to_exit)
                    && device.direct_power_cut
                    && lock.fail == FailMode::Safe
                {
                    prop_assert_eq!(controller.door_status(door).lock, LockPosition::Unlocked, "push-to-exit on {}", site_door.id);
                }
            }
        }
    }
}
