//! The controller's two clocks: timers on its own (monotonic) clock, schedules and event
//! stamps on the wall clock, which may step (NTP) without stretching a timed unlock.

use std::sync::Arc;

use keyway_core::controller::{Controller, EventKind, Input};
use keyway_core::credentials::{CredentialStore, DoorScope, NewCredential};
use keyway_core::parse_site;
use keyway_core::physics::{LockPosition, Millis};

const OFFICE: &str = include_str!("../../../examples/office.toml");

/// 2026-12-06 03:00 in Chicago (a Sunday), in milliseconds since the epoch.
const SUNDAY_NIGHT: Millis = 1_796_547_600_000;
/// 2026-12-07 10:00 in Chicago (a Monday, business hours).
const MONDAY_MORNING: Millis = 1_796_659_200_000;

fn office() -> Controller {
    let site = Arc::new(parse_site("office.toml", OFFICE).unwrap());
    let mut credentials = CredentialStore::default();
    credentials
        .insert(NewCredential {
            number: "1001".to_string(),
            holder: "Alice".to_string(),
            doors: DoorScope::All,
            levels: Vec::new(),
            schedule: None,
            valid_from: None,
            valid_until: None,
            responder: false,
            disabled: false,
            staff: false,
            extra: Default::default(),
        })
        .unwrap();
    Controller::new(site, credentials, Vec::new(), SUNDAY_NIGHT)
}

#[test]
fn the_instants_are_what_their_names_say() {
    use jiff::Timestamp;
    let zone = jiff::tz::TimeZone::get("America/Chicago").unwrap();
    let sunday = Timestamp::from_millisecond(SUNDAY_NIGHT)
        .unwrap()
        .to_zoned_datetime(zone.clone());
    assert_eq!(sunday.strftime("%a %H:%M").to_string(), "Sun 03:00");
    let monday = Timestamp::from_millisecond(MONDAY_MORNING)
        .unwrap()
        .to_zoned_datetime(zone);
    assert_eq!(monday.strftime("%a %H:%M").to_string(), "Mon 10:00");
}

#[test]
fn a_step_of_the_wall_clock_re_evaluates_the_schedule() {
    let mut controller = office();
    let front = controller.site().find_door("front").unwrap();
    assert_eq!(controller.door_status(front).lock, LockPosition::Locked);
    controller.take_events();
    // The controller's own clock moves one second; the wall clock jumps to Monday morning.
    controller.advance(SUNDAY_NIGHT + 1_000);
    controller.set_wall_offset(MONDAY_MORNING - (SUNDAY_NIGHT + 1_000));
    assert_eq!(controller.door_status(front).lock, LockPosition::Unlocked);
    let events = controller.take_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, EventKind::DoorUnlocked);
    assert_eq!(events[0].at, MONDAY_MORNING, "stamped on the wall clock");
    // The schedule's end (18:00 wall) is reached eight hours later on the controller's clock.
    let eight_hours = 8 * 3_600_000;
    controller.advance(SUNDAY_NIGHT + 1_000 + eight_hours - 1);
    assert_eq!(controller.door_status(front).lock, LockPosition::Unlocked);
    controller.advance(SUNDAY_NIGHT + 1_000 + eight_hours);
    assert_eq!(controller.door_status(front).lock, LockPosition::Locked);
    // Stepping back to Sunday leaves the door locked; the stale Monday timer does nothing.
    controller.set_wall_offset(0);
    controller.take_events();
    controller.advance(SUNDAY_NIGHT + 2 * eight_hours);
    assert_eq!(controller.door_status(front).lock, LockPosition::Locked);
    assert!(controller.take_events().is_empty());
}

#[test]
fn a_step_back_of_the_wall_clock_does_not_stretch_a_timed_unlock() {
    let mut controller = office();
    let server = controller.site().find_door("server").unwrap();
    let badge = Input::Badge {
        door: server,
        side: keyway_core::site::Side::Entry,
        credential: "1001".to_string(),
    };
    controller.handle(SUNDAY_NIGHT, badge);
    assert_eq!(controller.door_status(server).lock, LockPosition::Unlocked);
    // An hour back on the wall clock, one second on the controller's.
    controller.advance(SUNDAY_NIGHT + 1_000);
    controller.set_wall_offset(-3_600_000);
    // The server room unlocks for 4 s: it locks 4 s after the release, not an hour later.
    controller.advance(SUNDAY_NIGHT + 3_999);
    assert_eq!(controller.door_status(server).lock, LockPosition::Unlocked);
    controller.advance(SUNDAY_NIGHT + 4_000);
    assert_eq!(controller.door_status(server).lock, LockPosition::Locked);
    let locked = controller
        .take_events()
        .into_iter()
        .find(|e| e.kind == EventKind::DoorLocked)
        .unwrap();
    assert_eq!(locked.at, SUNDAY_NIGHT + 4_000 - 3_600_000);
}

#[test]
fn a_schedule_changed_while_running_moves_its_doors_at_once() {
    use keyway_core::schedule::schedule_from_text;
    use keyway_core::site::ScheduleIdx;
    let mut controller = office();
    let front = controller.site().find_door("front").unwrap();
    // Monday 10:00: business hours, the front door unlocked by its schedule.
    controller.advance(SUNDAY_NIGHT + 1_000);
    controller.set_wall_offset(MONDAY_MORNING - (SUNDAY_NIGHT + 1_000));
    assert_eq!(controller.door_status(front).lock, LockPosition::Unlocked);
    controller.take_events();
    let at = ScheduleIdx(
        controller
            .site()
            .schedules
            .iter()
            .position(|s| s.id == "business-hours")
            .unwrap() as u32,
    );
    // Today made a holiday: it locks now, and the change is logged once.
    let closed = schedule_from_text(
        "business-hours",
        &["Mon-Fri 08:00-18:00".to_string()],
        &["2026-12-07".to_string()],
    )
    .unwrap();
    controller.put_schedule(at, closed);
    assert_eq!(controller.door_status(front).lock, LockPosition::Locked);
    let kinds: Vec<EventKind> = controller.take_events().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::DoorLocked]);
    // The holiday taken back: unlocked again.
    let open =
        schedule_from_text("business-hours", &["Mon-Fri 08:00-18:00".to_string()], &[]).unwrap();
    controller.put_schedule(at, open);
    assert_eq!(controller.door_status(front).lock, LockPosition::Unlocked);
    // A new schedule past the end of the list: the list grows, no door moves.
    let n = controller.site().schedules.len() as u32;
    let weekend = schedule_from_text("weekend", &["Sat-Sun 00:00-24:00".to_string()], &[]).unwrap();
    controller.put_schedule(ScheduleIdx(n + 1), weekend);
    assert_eq!(controller.site().schedules.len() as u32, n + 2);
    assert_eq!(controller.site().schedules[n as usize + 1].id, "weekend");
    assert_eq!(
        controller.site().schedules[n as usize].id,
        "",
        "a never-active place"
    );
    assert_eq!(controller.door_status(front).lock, LockPosition::Unlocked);
}
