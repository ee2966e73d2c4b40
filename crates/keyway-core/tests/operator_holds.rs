//! An operator's timed hold and momentary unlock: a hold that ends by itself at its time, on
//! the controller's clock, and an unlock for the door's `unlock_seconds`.

use std::sync::Arc;

use keyway_core::controller::{Controller, EventKind, Input, Reason};
use keyway_core::credentials::CredentialStore;
use keyway_core::parse_site;
use keyway_core::physics::{Command, LockPosition, Millis, Rule};

const OFFICE: &str = include_str!("../../../examples/office.toml");

/// 2026-12-06 03:00 in Chicago (a Sunday: no schedule is active).
const SUNDAY_NIGHT: Millis = 1_796_547_600_000;
const HOUR: Millis = 3_600_000;

fn office() -> Controller {
    let site = Arc::new(parse_site("office.toml", OFFICE).unwrap());
    let mut controller =
        Controller::new(site, CredentialStore::default(), Vec::new(), SUNDAY_NIGHT);
    controller.take_events();
    controller
}

fn kinds(controller: &mut Controller) -> Vec<EventKind> {
    controller
        .take_events()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn a_timed_hold_ends_at_its_time_and_says_so() {
    let mut controller = office();
    let server = controller.site().find_door("server").unwrap();
    let until = SUNDAY_NIGHT + 2 * HOUR;
    controller.handle(
        SUNDAY_NIGHT,
        Input::HoldUntil {
            door: server,
            command: Command::Unlock,
            until,
        },
    );
    let status = controller.door_status(server);
    assert_eq!(status.lock, LockPosition::Unlocked);
    assert_eq!(status.reason, Reason::Rule(Rule::OperatorHold));
    assert_eq!(status.hold, Some(Command::Unlock));
    assert_eq!(status.hold_until, Some(until));
    assert_eq!(kinds(&mut controller), [EventKind::DoorUnlocked]);
    assert_eq!(controller.next_timer(), Some(until));

    controller.advance(until - 1);
    assert_eq!(controller.door_status(server).lock, LockPosition::Unlocked);
    assert!(kinds(&mut controller).is_empty());
    controller.advance(until);
    let status = controller.door_status(server);
    assert_eq!(status.lock, LockPosition::Locked);
    assert_eq!(status.hold, None);
    assert_eq!(status.hold_until, None);
    assert_eq!(
        kinds(&mut controller),
        [EventKind::HoldEnded, EventKind::DoorLocked]
    );
}

#[test]
fn a_hold_set_again_before_its_end_is_not_ended_by_the_old_timer() {
    let mut controller = office();
    let server = controller.site().find_door("server").unwrap();
    let hold = |until| Input::HoldUntil {
        door: server,
        command: Command::Unlock,
        until,
    };
    controller.handle(SUNDAY_NIGHT, hold(SUNDAY_NIGHT + HOUR));
    controller.handle(SUNDAY_NIGHT + 1_000, hold(SUNDAY_NIGHT + 3 * HOUR));
    controller.advance(SUNDAY_NIGHT + 2 * HOUR);
    assert_eq!(controller.door_status(server).lock, LockPosition::Unlocked);
    // An untimed hold replaces a timed one: it has no end.
    controller.handle(SUNDAY_NIGHT + 2 * HOUR, Input::Unlock { door: server });
    controller.advance(SUNDAY_NIGHT + 5 * HOUR);
    let status = controller.door_status(server);
    assert_eq!(status.lock, LockPosition::Unlocked);
    assert_eq!(status.hold_until, None);
    assert!(!kinds(&mut controller).contains(&EventKind::HoldEnded));
    // Released by hand: no hold_ended (it did not end by itself).
    controller.handle(SUNDAY_NIGHT + 5 * HOUR, Input::Release { door: server });
    assert_eq!(kinds(&mut controller), [EventKind::DoorLocked]);
}

#[test]
fn a_timed_lock_hold_outranks_the_schedule_until_its_end() {
    let mut controller = office();
    let front = controller.site().find_door("front").unwrap();
    // Monday 07:00 Chicago: business hours start at 08:00 (office.toml).
    let monday_seven = SUNDAY_NIGHT + 28 * HOUR;
    controller.advance(monday_seven);
    controller.handle(
        monday_seven,
        Input::HoldUntil {
            door: front,
            command: Command::Lock,
            until: monday_seven + 2 * HOUR,
        },
    );
    controller.advance(monday_seven + HOUR + 1);
    assert_eq!(controller.door_status(front).lock, LockPosition::Locked);
    assert_eq!(
        controller.door_status(front).reason,
        Reason::Rule(Rule::OperatorHold)
    );
    controller.advance(monday_seven + 2 * HOUR);
    let status = controller.door_status(front);
    assert_eq!(status.lock, LockPosition::Unlocked);
    assert_eq!(status.reason, Reason::Rule(Rule::Schedule));
}

#[test]
fn a_hold_whose_end_has_passed_releases_the_door() {
    let mut controller = office();
    let server = controller.site().find_door("server").unwrap();
    controller.handle(SUNDAY_NIGHT, Input::Lock { door: server });
    controller.handle(
        SUNDAY_NIGHT + 10,
        Input::HoldUntil {
            door: server,
            command: Command::Unlock,
            until: SUNDAY_NIGHT,
        },
    );
    assert_eq!(controller.door_status(server).hold, None);
}

#[test]
fn the_hold_end_is_asked_and_told_on_the_wall_clock_and_kept_through_a_step() {
    let mut controller = office();
    let server = controller.site().find_door("server").unwrap();
    controller.set_wall_offset(HOUR);
    controller.handle(
        SUNDAY_NIGHT,
        Input::HoldUntil {
            door: server,
            command: Command::Unlock,
            until: SUNDAY_NIGHT + 2 * HOUR,
        },
    );
    assert_eq!(
        controller.door_status(server).hold_until,
        Some(SUNDAY_NIGHT + 2 * HOUR)
    );
    // The wall clock steps back an hour: the hold still lasts its hour.
    controller.set_wall_offset(0);
    controller.advance(SUNDAY_NIGHT + HOUR - 1);
    assert_eq!(controller.door_status(server).lock, LockPosition::Unlocked);
    controller.advance(SUNDAY_NIGHT + HOUR);
    assert_eq!(controller.door_status(server).lock, LockPosition::Locked);
}

#[test]
fn a_momentary_unlock_lasts_the_doors_unlock_seconds() {
    let mut controller = office();
    let server = controller.site().find_door("server").unwrap();
    controller.handle(SUNDAY_NIGHT, Input::MomentaryUnlock { door: server });
    let status = controller.door_status(server);
    assert_eq!(status.lock, LockPosition::Unlocked);
    assert_eq!(status.reason, Reason::Rule(Rule::AccessGranted));
    assert_eq!(status.hold, None);
    // Opened within it: not forced.
    controller.handle(SUNDAY_NIGHT + 1_000, Input::DoorOpen { door: server });
    controller.handle(SUNDAY_NIGHT + 2_000, Input::DoorClose { door: server });
    controller.advance(SUNDAY_NIGHT + 3_999);
    assert_eq!(controller.door_status(server).lock, LockPosition::Unlocked);
    controller.advance(SUNDAY_NIGHT + 4_000);
    assert_eq!(controller.door_status(server).lock, LockPosition::Locked);
    assert_eq!(
        kinds(&mut controller),
        [
            EventKind::DoorUnlocked,
            EventKind::DoorOpened,
            EventKind::DoorClosed,
            EventKind::DoorLocked
        ]
    );
}

#[test]
fn a_momentary_end_locks_at_once_and_leaves_a_hold_alone() {
    let mut controller = office();
    let server = controller.site().find_door("server").unwrap();
    controller.handle(SUNDAY_NIGHT, Input::MomentaryUnlock { door: server });
    controller.handle(SUNDAY_NIGHT + 1_000, Input::MomentaryEnd { door: server });
    let status = controller.door_status(server);
    assert_eq!(status.lock, LockPosition::Locked);
    assert_eq!(status.reason, Reason::Rule(Rule::Locked));
    // Its timer, still queued, finds nothing to end.
    controller.advance(SUNDAY_NIGHT + 4_000);
    assert_eq!(
        kinds(&mut controller),
        [EventKind::DoorUnlocked, EventKind::DoorLocked]
    );
    // An operator's unlock hold is not a grant: it stays.
    controller.handle(SUNDAY_NIGHT + 5_000, Input::Unlock { door: server });
    controller.handle(SUNDAY_NIGHT + 6_000, Input::MomentaryEnd { door: server });
    assert_eq!(controller.door_status(server).lock, LockPosition::Unlocked);
    assert_eq!(
        controller.door_status(server).reason,
        Reason::Rule(Rule::OperatorHold)
    );
}

#[test]
fn lockdown_and_a_lock_hold_outrank_a_momentary_unlock() {
    let mut controller = office();
    let server = controller.site().find_door("server").unwrap();
    controller.handle(SUNDAY_NIGHT, Input::Lockdown);
    controller.handle(SUNDAY_NIGHT, Input::MomentaryUnlock { door: server });
    assert_eq!(controller.door_status(server).lock, LockPosition::Locked);
    controller.handle(SUNDAY_NIGHT, Input::LockdownEnd);
    controller.handle(SUNDAY_NIGHT, Input::Lock { door: server });
    controller.handle(
        SUNDAY_NIGHT + 5_000,
        Input::MomentaryUnlock { door: server },
    );
    assert_eq!(controller.door_status(server).lock, LockPosition::Locked);
}
