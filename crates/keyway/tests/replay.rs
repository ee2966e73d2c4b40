//! `keyway replay` through the real binary: each behaviour of the controller as a script
//! against `replay/site.toml`, with the expected events written out by hand and the whole
//! JSON output pinned by a snapshot.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixture(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir)
        .join(name)
}

fn replay(script: &str) -> Value {
    replay_in("replay", script)
}

/// A script of `tests/people/` against `people/site.toml`.
fn people(script: &str) -> Value {
    replay_in("people", script)
}

fn replay_in(dir: &str, script: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args([
            "replay",
            fixture(dir, "site.toml").to_str().unwrap(),
            fixture(dir, script).to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .expect("keyway runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    let name = match dir {
        "replay" => format!("replay-{script}"),
        _ => format!("{dir}-{script}"),
    };
    insta::assert_json_snapshot!(name, json);
    json
}

/// Each event as `HH:MM:SS kind door [credential] [reason] [circuit] [side] [station] [zone] [mode]`
/// (the date dropped when it is the script's first day).
fn events(json: &Value) -> Vec<String> {
    json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let at = e["at"].as_str().unwrap();
            let mut parts = vec![
                at.split('T').nth(1).unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
            ];
            for key in [
                "door",
                "credential",
                "reason",
                "circuit",
                "side",
                "station",
                "zone",
                "mode",
            ] {
                if let Some(value) = e[key].as_str() {
                    parts.push(value.to_string());
                }
            }
            parts.join(" ")
        })
        .collect()
}

/// `door: lock open alarm` at probe `i`.
fn probe(json: &Value, i: usize, door: &str) -> String {
    let state = &json["probes"][i]["doors"][door];
    format!(
        "{} {} {}",
        state["lock"].as_str().unwrap(),
        if state["open"].as_bool().unwrap() {
            "open"
        } else {
            "closed"
        },
        state["alarm"].as_str().unwrap_or("-")
    )
}

#[test]
fn a_granted_badge_unlocks_for_unlock_seconds_and_opening_is_not_forced() {
    let json = replay("granted-access.toml");
    assert_eq!(
        events(&json),
        [
            "07:10:00 access_granted lab 1001",
            "07:10:00 door_unlocked lab",
            "07:10:02 door_opened lab",
            "07:10:04 door_locked lab",
            "07:10:06 door_closed lab",
        ]
    );
    assert_eq!(probe(&json, 0, "lab"), "unlocked open -");
    assert_eq!(json["probes"][0]["at"], "2026-12-01T07:10:03");
}

#[test]
fn forced_and_held_open_alarms_and_their_clearing() {
    let json = replay("forced-and-held-open.toml");
    assert_eq!(
        events(&json),
        [
            "07:05:00 door_opened lab",
            "07:05:00 door_forced lab",
            "07:05:20 door_closed lab",
            "07:05:20 alarm_cleared lab",
            "07:10:00 access_granted lab 1001",
            "07:10:00 door_unlocked lab",
            "07:10:01 door_opened lab",
            "07:10:04 door_locked lab",
            "07:10:31 door_held_open lab",
            "07:11:00 door_closed lab",
            "07:11:00 alarm_cleared lab",
        ]
    );
    assert_eq!(probe(&json, 0, "lab"), "locked open forced");
    assert_eq!(probe(&json, 1, "lab"), "locked open held_open");
}

#[test]
fn fire_alarm_during_lockdown_unlocks_until_the_manual_reset() {
    let json = replay("fire-during-lockdown.toml");
    assert_eq!(
        events(&json),
        [
            "06:10:00 lockdown_started",
            "06:11:00 access_denied office 1001 lockdown",
            // REX still works during lockdown.
            "06:12:00 rex office",
            "06:12:00 door_unlocked office",
            "06:12:05 door_locked office",
            "06:15:00 fire_alarm",
            "06:15:00 door_unlocked office",
            "06:15:00 door_unlocked side",
            // The operator's lock at 06:15:30 does not undo the fire alarm: no event.
            // A responder is admitted during lockdown.
            "06:20:00 access_granted front 911",
            "06:20:00 door_unlocked front",
            "06:20:05 door_locked front",
            "06:30:00 fire_alarm_reset",
            "06:30:00 door_locked office",
            "06:30:00 door_locked side",
        ]
    );
    assert_eq!(probe(&json, 0, "office"), "unlocked closed -");
    assert_eq!(probe(&json, 1, "front"), "unlocked closed -");
    assert_eq!(probe(&json, 2, "office"), "locked closed -");
}

#[test]
fn lockdown_ending_during_the_schedule_unlocks_the_door_again() {
    let json = replay("lockdown-ends-during-schedule.toml");
    assert_eq!(
        events(&json),
        [
            "08:00:00 door_unlocked front",
            "09:00:00 lockdown_started",
            "09:00:00 door_locked front",
            "10:00:00 lockdown_ended",
            "10:00:00 door_unlocked front",
            "18:00:00 door_locked front",
        ]
    );
    assert_eq!(probe(&json, 0, "front"), "locked closed -");
    assert_eq!(probe(&json, 1, "front"), "unlocked closed -");
    // The schedule span is [08:00, 18:00): locked again at 18:00 sharp.
    assert_eq!(probe(&json, 2, "front"), "locked closed -");
}

#[test]
fn a_fail_secure_lock_on_a_dead_circuit_refuses_with_no_power() {
    let json = replay("no-power.toml");
    assert_eq!(
        events(&json),
        [
            "07:10:00 power_lost strike-psu",
            "07:11:00 access_denied lab 1001 no_power",
            "07:12:00 power_restored strike-psu",
            "07:13:00 access_granted lab 1001",
            "07:13:00 door_unlocked lab",
            "07:13:04 door_locked lab",
        ]
    );
}

#[test]
fn the_battery_running_out_during_a_granted_access_relocks_the_door() {
    let json = replay("battery-runs-out-during-access.toml");
    assert_eq!(
        events(&json),
        [
            "07:00:00 power_lost mains",
            "07:29:57 access_granted front 1001",
            "07:29:57 door_unlocked front",
            "07:30:00 battery_depleted lock-psu",
            // Fail-secure: power gone, locked, two seconds before the access ends.
            "07:30:00 door_locked front",
            // Fail-safe: power gone, unlocked.
            "07:30:00 door_unlocked office",
            "07:30:00 door_unlocked side",
            "07:31:00 access_denied front 1001 no_power",
        ]
    );
    assert_eq!(probe(&json, 0, "front"), "unlocked closed -");
    assert_eq!(probe(&json, 1, "front"), "locked closed -");
}

#[test]
fn validity_and_schedule_refusals_in_the_order_of_the_spec() {
    let json = replay("credential-validity.toml");
    assert_eq!(
        events(&json),
        [
            "07:10:00 access_denied lab 2001 not_yet_valid",
            "07:11:00 access_denied lab 2002 expired",
            "07:12:00 access_denied lab 2003 outside_schedule",
            "07:13:00 access_denied lab 2004 not_permitted",
            "07:14:00 access_denied lab 9999 unknown_credential",
            "08:00:00 door_unlocked front",
            "08:00:00 access_granted lab 2003",
            "08:00:00 door_unlocked lab",
            "08:00:04 door_locked lab",
        ]
    );
}

#[test]
fn a_holiday_keeps_the_schedule_off() {
    let json = replay("holiday.toml");
    assert_eq!(
        events(&json),
        [
            "09:00:00 access_denied front 2003 outside_schedule",
            "08:00:00 door_unlocked front"
        ]
    );
    assert_eq!(json["events"][1]["at"], "2026-12-28T08:00:00");
    assert_eq!(probe(&json, 0, "front"), "locked closed -");
    assert_eq!(probe(&json, 1, "front"), "unlocked closed -");
}

#[test]
fn the_schedule_follows_local_time_across_the_end_of_daylight_saving() {
    let json = replay("daylight-saving.toml");
    let times: Vec<&str> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-10-30T08:00:00",
            "2026-10-30T18:00:00",
            "2026-11-02T08:00:00"
        ]
    );
}

#[test]
fn delayed_egress_releases_after_its_delay() {
    let json = replay("delayed-egress.toml");
    assert_eq!(
        events(&json),
        [
            "07:10:00 rex side",
            "07:10:15 door_unlocked side",
            "07:10:16 door_opened side",
            "07:10:18 door_closed side",
            "07:10:20 door_locked side",
        ]
    );
    assert_eq!(probe(&json, 0, "side"), "locked closed -");
    assert_eq!(probe(&json, 1, "side"), "unlocked closed -");
}

#[test]
fn a_direct_cut_push_to_exit_works_with_the_controller_dead() {
    let json = replay("push-to-exit.toml");
    assert_eq!(
        events(&json),
        [
            "07:00:00 power_lost ups",
            // The controller logs its own battery running out, then nothing until it is back.
            "08:00:00 battery_depleted ups",
            "08:20:00 power_restored ups",
            // Back alive during business hours: the schedule unlocks the front door.
            "08:20:00 door_unlocked front",
        ]
    );
    // The REX at 08:10:00 did nothing: the controller that reads it was dead.
    assert_eq!(probe(&json, 0, "office"), "locked closed -");
    assert_eq!(probe(&json, 1, "office"), "unlocked closed -");
    // The push-to-exit holds for 30 s, [08:10:05, 08:10:35).
    assert_eq!(probe(&json, 2, "office"), "locked closed -");
}

#[test]
fn operator_holds_outrank_the_schedule_until_released() {
    let json = replay("operator-holds.toml");
    assert_eq!(
        events(&json),
        [
            "07:30:00 door_unlocked lab",
            "08:00:00 door_unlocked front",
            "08:30:00 door_locked front",
            "09:00:00 door_unlocked front",
            "09:01:00 door_locked lab",
        ]
    );
    assert_eq!(probe(&json, 0, "front"), "locked closed -");
}

#[test]
fn the_table_is_a_readable_timeline() {
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args([
            "replay",
            fixture("replay", "site.toml").to_str().unwrap(),
            fixture("replay", "forced-and-held-open.toml")
                .to_str()
                .unwrap(),
        ])
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(!table.contains('\x1b'));
    assert!(
        table.contains("2026-12-01T07:05:00  door_forced"),
        "{table}"
    );
    assert!(table.contains("probe 2026-12-01T07:05:01"), "{table}");
    assert!(table.contains("FORCED"), "{table}");
}

#[test]
fn a_lock_status_contact_that_disagrees_for_too_long_is_a_lock_fault() {
    let json = replay("lock-status-and-battery-low.toml");
    assert_eq!(
        events(&json),
        [
            // The contact lagging the relay by a second (07:10:00 → 07:10:01, and
            // 07:10:04 → 07:10:05) is no fault.
            "07:10:00 access_granted lab 1001",
            "07:10:00 door_unlocked lab",
            "07:10:04 door_locked lab",
            // "Unlocked" at 07:20:00 while the door should be locked: a fault two seconds on.
            "07:20:02 lock_fault lab",
            "07:20:30 lock_fault_cleared lab",
            "07:30:00 battery_low lock-psu",
        ]
    );
    // The fault changes no lock.
    assert_eq!(probe(&json, 1, "lab"), "locked closed -");
}

/// The credentials known to be in `area` at probe `i`.
fn occupants(json: &Value, i: usize, area: &str) -> Vec<String> {
    json["probes"][i]["areas"][area]["occupants"]
        .as_array()
        .unwrap_or_else(|| panic!("probe {i} has area {area}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

/// The credentials still to muster at probe `i`, `None` when no muster is on.
fn muster(json: &Value, i: usize) -> Option<Vec<String>> {
    json["probes"][i].get("muster").map(|list| {
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    })
}

#[test]
fn an_entry_reader_puts_people_inside_an_exit_reader_outside_and_a_rex_makes_them_unknown() {
    let json = people("occupancy.toml");
    assert_eq!(
        events(&json),
        [
            "07:10:00 access_granted front 1001",
            "07:10:00 door_unlocked front",
            "07:10:05 door_locked front",
            "07:10:10 access_granted lab 1001",
            "07:10:10 door_unlocked lab",
            "07:10:15 door_locked lab",
            "07:10:20 access_granted front 1002",
            "07:10:20 door_unlocked front",
            "07:10:25 door_locked front",
            "07:11:00 rex lab",
            "07:11:00 door_unlocked lab",
            "07:11:05 door_locked lab",
            // Granted at the exit reader: logged like any other grant, with its side.
            "07:12:00 access_granted front 1002 exit",
            "07:12:00 door_unlocked front",
            "07:12:05 door_locked front",
            "07:13:00 access_granted lab 1001",
            "07:13:00 door_unlocked lab",
            "07:13:05 door_locked lab",
            "07:14:00 door_opened lab",
            "07:14:00 door_forced lab",
            "07:14:02 door_closed lab",
            "07:14:02 alarm_cleared lab",
        ]
    );
    assert_eq!(occupants(&json, 0, "lobby"), ["1002"]);
    assert_eq!(occupants(&json, 0, "lab"), ["1001"]);
    // The lab's REX: Alice may have gone, so she is no longer counted there.
    assert_eq!(occupants(&json, 1, "lab"), Vec::<String>::new());
    assert_eq!(occupants(&json, 1, "lobby"), ["1002"]);
    // Bob badged out.
    assert_eq!(occupants(&json, 2, "lobby"), Vec::<String>::new());
    // The lab door opened with no grant within its unlock time.
    assert_eq!(occupants(&json, 3, "lab"), Vec::<String>::new());
    // Every interior area is listed, the exterior ones are not; no muster without an alarm.
    let areas: Vec<&String> = json["probes"][0]["areas"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        areas,
        ["lab", "library", "lobby", "mantrap", "server", "vault"]
    );
    assert_eq!(muster(&json, 0), None);
}

#[test]
fn the_muster_list_is_everyone_last_seen_inside_until_they_badge_at_a_station() {
    let json = people("muster.toml");
    assert_eq!(
        events(&json),
        [
            "08:00:00 access_granted front 1001",
            "08:00:00 door_unlocked front",
            "08:00:05 door_locked front",
            "08:00:10 access_granted front 1002",
            "08:00:10 door_unlocked front",
            "08:00:15 door_locked front",
            "08:00:20 access_granted lab 1002",
            "08:00:20 door_unlocked lab",
            "08:00:25 door_locked lab",
            "08:01:00 access_granted front 1003",
            "08:01:00 door_unlocked front",
            "08:01:05 door_locked front",
            "08:01:10 access_granted front 1003 exit",
            "08:01:10 door_unlocked front",
            "08:01:15 door_locked front",
            "08:05:00 fire_alarm",
            "08:05:00 door_unlocked trap-outer",
            "08:05:00 door_unlocked trap-inner",
            "08:05:30 rex lab",
            "08:05:30 door_unlocked lab",
            "08:05:35 door_locked lab",
            "08:06:00 mustered 1001 assembly",
            "08:06:30 mustered 1002 gate",
            "08:10:00 fire_alarm_reset",
            "08:10:00 door_locked trap-outer",
            "08:10:00 door_locked trap-inner",
        ]
    );
    assert_eq!(muster(&json, 0), None, "no alarm yet");
    // Carol badged out before the alarm: only Alice and Bob are to muster.
    assert_eq!(muster(&json, 1).unwrap(), ["1001", "1002"]);
    // Bob left the lab unseen: not counted in it, still to muster.
    assert_eq!(occupants(&json, 2, "lab"), Vec::<String>::new());
    assert_eq!(muster(&json, 2).unwrap(), ["1001", "1002"]);
    // Both mustered; nobody is counted inside any more.
    assert_eq!(muster(&json, 3).unwrap(), Vec::<String>::new());
    assert_eq!(occupants(&json, 3, "lobby"), Vec::<String>::new());
    assert_eq!(muster(&json, 4), None, "the alarm was reset");
}

#[test]
fn anti_passback_refuses_or_logs_reentry_and_is_forgiven_by_time_operator_and_fire() {
    let json = people("anti-passback.toml");
    assert_eq!(
        events(&json),
        [
            "08:00:00 access_granted front 1001",
            "08:00:00 door_unlocked front",
            "08:00:05 door_locked front",
            // Soft: the building lets the passed-back card in, and says so.
            "08:00:30 anti_passback_violation front 1001 building",
            "08:00:30 access_granted front 1001",
            "08:00:30 door_unlocked front",
            "08:00:35 door_locked front",
            "08:01:00 access_granted trap-outer 1001",
            "08:01:00 door_unlocked trap-outer",
            "08:01:05 door_locked trap-outer",
            // Within the zone: no anti-passback check.
            "08:01:10 access_granted trap-inner 1001",
            "08:01:10 door_unlocked trap-inner",
            "08:01:15 door_locked trap-inner",
            "08:02:00 access_denied trap-outer 1001 anti_passback",
            "08:02:10 anti_passback_forgiven 1001",
            "08:02:20 access_granted trap-outer 1001",
            "08:02:20 door_unlocked trap-outer",
            "08:02:25 door_locked trap-outer",
            "08:03:00 access_granted trap-outer 1001 exit",
            "08:03:00 door_unlocked trap-outer",
            "08:03:05 door_locked trap-outer",
            "08:03:10 access_granted trap-outer 1001",
            "08:03:10 door_unlocked trap-outer",
            "08:03:15 door_locked trap-outer",
            "08:05:00 access_granted trap-outer 1002",
            "08:05:00 door_unlocked trap-outer",
            "08:05:05 door_locked trap-outer",
            "08:06:00 access_denied trap-outer 1002 anti_passback",
            // forgive_minutes = 60 after Bob was last seen going in.
            "09:05:00 access_granted trap-outer 1002",
            "09:05:00 door_unlocked trap-outer",
            "09:05:05 door_locked trap-outer",
            "09:10:00 access_denied trap-outer 1002 anti_passback",
            "09:11:00 fire_alarm",
            "09:11:00 door_unlocked trap-outer",
            "09:11:00 door_unlocked trap-inner",
            "09:11:30 access_granted trap-outer 1002",
            "09:12:00 fire_alarm_reset",
            "09:12:00 door_locked trap-outer",
            "09:12:00 door_locked trap-inner",
            // Seen going in during the alarm: held to the rule again.
            "09:13:00 access_denied trap-outer 1002 anti_passback",
            "09:14:00 anti_passback_forgiven server-room",
            "09:14:10 access_granted trap-outer 1002",
            "09:14:10 door_unlocked trap-outer",
            "09:14:15 door_locked trap-outer",
        ]
    );
    assert_eq!(occupants(&json, 0, "mantrap"), ["1001", "1002"]);
}

#[test]
fn an_interlock_refuses_badges_while_its_other_door_is_open_or_unlocked_but_never_egress() {
    let json = people("interlock.toml");
    assert_eq!(
        events(&json),
        [
            "08:00:00 access_granted trap-outer 1001",
            "08:00:00 door_unlocked trap-outer",
            "08:00:02 access_denied trap-inner 1002 interlock",
            "08:00:03 door_opened trap-outer",
            "08:00:05 door_locked trap-outer",
            // Locked again, but still open.
            "08:00:06 access_denied trap-inner 1002 interlock",
            "08:00:07 rex trap-inner",
            "08:00:07 door_unlocked trap-inner",
            "08:00:10 door_closed trap-outer",
            "08:00:12 door_locked trap-inner",
            "08:00:20 access_granted trap-inner 1002",
            "08:00:20 door_unlocked trap-inner",
            "08:00:25 door_locked trap-inner",
            "08:01:00 fire_alarm",
            "08:01:00 door_unlocked trap-outer",
            "08:01:00 door_unlocked trap-inner",
            "08:01:10 access_granted trap-inner 1001",
            "08:02:00 fire_alarm_reset",
            "08:02:00 door_locked trap-outer",
            "08:02:00 door_locked trap-inner",
        ]
    );
    assert_eq!(probe(&json, 0, "trap-outer"), "locked open -");
    assert_eq!(probe(&json, 0, "trap-inner"), "unlocked closed -");
}

#[test]
fn a_two_person_door_opens_for_two_different_credentials_within_its_window() {
    let json = people("two-person.toml");
    assert_eq!(
        events(&json),
        [
            "08:00:00 access_pending vault 1001",
            "08:00:05 access_granted vault 1001",
            "08:00:05 access_granted vault 1002",
            "08:00:05 door_unlocked vault",
            "08:00:10 door_locked vault",
            "08:01:00 access_pending vault 1001",
            "08:01:03 access_pending vault 1001",
            "08:01:20 access_pending vault 1002",
            "08:01:25 access_denied vault 1003 not_permitted",
            "08:01:28 access_granted vault 1002",
            "08:01:28 access_granted vault 1001",
            "08:01:28 door_unlocked vault",
            "08:01:33 door_locked vault",
            "08:02:00 access_granted vault 911",
            "08:02:00 door_unlocked vault",
            "08:02:05 door_locked vault",
        ]
    );
    assert_eq!(occupants(&json, 0, "vault"), ["1001", "1002"]);
}

#[test]
fn each_emergency_mode_locks_releases_and_admits_its_own_doors() {
    let json = people("modes.toml");
    assert_eq!(
        events(&json),
        [
            "08:00:00 emergency_mode hold",
            // Hold: interior doors admit only staff and responders.
            "08:00:10 access_denied lab 1001 lockdown",
            "08:00:20 access_granted lab 1002",
            "08:00:20 door_unlocked lab",
            "08:00:25 door_locked lab",
            // The door to the street is not held.
            "08:00:30 access_granted front 1001",
            "08:00:30 door_unlocked front",
            "08:00:35 door_locked front",
            "08:01:00 emergency_mode secure",
            "08:01:10 access_denied front 1001 lockdown",
            "08:01:20 access_granted front 911",
            "08:01:20 door_unlocked front",
            "08:01:25 door_locked front",
            // Secure leaves interior doors alone.
            "08:01:30 access_granted lab 1001",
            "08:01:30 door_unlocked lab",
            "08:01:35 door_locked lab",
            // Evacuate: the library's maglock locks egress, so it is released as in a fire.
            "08:02:00 emergency_mode evacuate",
            "08:02:00 door_unlocked library",
            "08:02:10 access_denied front 1001 lockdown",
            "08:02:20 rex lab",
            "08:02:20 door_unlocked lab",
            "08:02:25 door_locked lab",
            // Shelter: the library (a shelter area) stays unlocked, now for shelter.
            "08:03:00 emergency_mode shelter",
            "08:04:00 emergency_mode none",
            "08:04:00 door_locked library",
            // A lockdown of the server room only.
            "08:05:00 lockdown_started",
            "08:05:10 access_denied trap-inner 1001 lockdown",
            "08:05:20 access_granted front 1001",
            "08:05:20 door_unlocked front",
            "08:05:25 door_locked front",
            "08:06:00 lockdown_ended",
        ]
    );
    // An evacuation is a muster, as a fire alarm is; shelter is not.
    assert_eq!(muster(&json, 0).unwrap(), ["1001", "1002", "911"]);
    assert_eq!(probe(&json, 0, "library"), "unlocked closed -");
    assert_eq!(muster(&json, 1), None);
    assert_eq!(probe(&json, 1, "library"), "unlocked closed -");
}

#[test]
fn card_and_pin_duress_and_a_pass_with_a_number_of_uses() {
    let json = people("pin.toml");
    assert_eq!(
        events(&json),
        [
            // The card is good; the door waits for its PIN.
            "08:00:00 access_pending library 1001",
            "08:00:03 access_granted library 1001",
            "08:00:03 door_unlocked library",
            "08:00:08 door_locked library",
            "08:01:00 access_pending library 1001",
            "08:01:02 access_denied library 1001 wrong_pin",
            "08:02:00 access_pending library 1001",
            // Fifteen seconds is too late: the card no longer waits, so the PIN has none.
            "08:02:15 access_denied library wrong_pin",
            "08:03:00 access_pending library 1001",
            // The duress PIN opens the door as the PIN does, and raises the alarm.
            "08:03:02 access_granted library 1001",
            "08:03:02 duress library 1001",
            "08:03:02 door_unlocked library",
            "08:03:07 door_locked library",
            "08:04:00 access_denied library wrong_pin",
            // A responder needs no PIN.
            "08:05:00 access_granted library 911",
            "08:05:00 door_unlocked library",
            "08:05:05 door_locked library",
            "08:06:00 access_granted front 1002",
            "08:06:00 door_unlocked front",
            "08:06:05 door_locked front",
            "08:07:00 anti_passback_violation front 1002 building",
            "08:07:00 access_granted front 1002",
            "08:07:00 door_unlocked front",
            "08:07:05 door_locked front",
            // Two uses, then no more.
            "08:08:00 access_denied front 1002 used_up",
        ]
    );
}
