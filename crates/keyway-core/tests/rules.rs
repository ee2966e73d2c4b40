//! One test per rule that fires, and one beside it that must not.

mod common;

use common::{finding_keys, findings, site_text};

/// Asserts that `rule` fires on `target` (a door id, an area id, or "site").
fn assert_fires(text: &str, rule: &str, target: &str) {
    let (site, found) = findings(text);
    let keys = finding_keys(&site, &found);
    let wanted = format!("{rule} {target}");
    assert!(
        keys.contains(&wanted),
        "expected {wanted}, found {keys:#?}\n---\n{text}"
    );
}

/// Asserts that `rule` does not fire anywhere.
fn assert_quiet(text: &str, rule: &str) {
    let (site, found) = findings(text);
    let keys = finding_keys(&site, &found);
    assert!(
        !keys.iter().any(|k| k.split(' ').next() == Some(rule)),
        "expected no {rule}, found {keys:#?}\n---\n{text}"
    );
}

const ROOM: &str = "[[area]]\nid = \"room\"\noccupants = 10\n";

/// A site with one occupied room and one door from it to the street.
fn room_door(site_fields: &str, psu_fields: &str, door_fields: &str) -> String {
    site_text(
        site_fields,
        psu_fields,
        &format!(
            "{ROOM}\n[[door]]\nid = \"d\"\ninside = \"room\"\noutside = \"street\"\ndps = true\n{door_fields}"
        ),
    )
}

const SENSOR_MAGLOCK: &str = r#"exit_hardware = "none"
[door.lock]
type = "maglock"
fail = "safe"
power = "psu"
listed = ["UL294"]
[door.release]
arrangement = "sensor"
rex_sensor = true
push_to_exit = { height_in = 44, distance_in = 36, direct_power_cut = true, hold_seconds = 30 }
fire_alarm = true
"#;

#[test]
fn a_compliant_sensor_release_maglock_has_no_egress_findings() {
    let (site, found) = findings(&room_door("key_box = true", "", SENSOR_MAGLOCK));
    assert_eq!(finding_keys(&site, &found), vec!["OUTAGE-PERIMETER-OPEN d"]);
}

#[test]
fn egress_no_arrangement() {
    let door = "exit_hardware = \"none\"\n[door.lock]\ntype = \"maglock\"\nfail = \"safe\"\npower = \"psu\"\n";
    assert_fires(&room_door("", "", door), "EGRESS-NO-ARRANGEMENT", "d");
    assert_quiet(&room_door("", "", SENSOR_MAGLOCK), "EGRESS-NO-ARRANGEMENT");
}

#[test]
fn egress_fail_secure() {
    assert_fires(
        &room_door("", "", &SENSOR_MAGLOCK.replace("\"safe\"", "\"secure\"")),
        "EGRESS-FAIL-SECURE",
        "d",
    );
    assert_quiet(&room_door("", "", SENSOR_MAGLOCK), "EGRESS-FAIL-SECURE");
}

#[test]
fn egress_fire_alarm_counts_a_cutoff_circuit_as_a_release() {
    let no_release = SENSOR_MAGLOCK.replace("fire_alarm = true", "");
    assert_fires(
        &room_door("fire_alarm = true", "", &no_release),
        "EGRESS-FIRE-ALARM",
        "d",
    );
    assert_fires(
        &room_door("sprinklered = true", "", &no_release),
        "EGRESS-FIRE-ALARM",
        "d",
    );
    assert_quiet(
        &room_door("fire_alarm = true", "fire_alarm_cutoff = true", &no_release),
        "EGRESS-FIRE-ALARM",
    );
    assert_quiet(&room_door("", "", &no_release), "EGRESS-FIRE-ALARM");
}

#[test]
fn egress_fire_alarm_a_battery_below_the_cutoff_keeps_the_lock_powered() {
    // mains -> psu (cutoff) -> local (battery): the battery keeps the lock powered in a fire.
    let text = site_text(
        "fire_alarm = true",
        "fire_alarm_cutoff = true",
        &format!(
            "[[power]]\nid = \"local\"\nfed_by = \"psu\"\nbattery_minutes = 5\n{ROOM}\n[[door]]\nid = \"d\"\ninside = \"room\"\noutside = \"street\"\n{}",
            SENSOR_MAGLOCK
                .replace("fire_alarm = true", "")
                .replace("\"psu\"", "\"local\"")
        ),
    );
    assert_fires(&text, "EGRESS-FIRE-ALARM", "d");
}

#[test]
fn egress_battery_hold() {
    let no_release = SENSOR_MAGLOCK.replace("fire_alarm = true", "");
    assert_fires(
        &room_door("", "battery_minutes = 30", &no_release),
        "EGRESS-BATTERY-HOLD",
        "d",
    );
    assert_quiet(
        &room_door("", "battery_minutes = 10", &no_release),
        "EGRESS-BATTERY-HOLD",
    );
    assert_quiet(
        &room_door("", "battery_minutes = 30", SENSOR_MAGLOCK),
        "EGRESS-BATTERY-HOLD",
    );
}

#[test]
fn egress_key() {
    assert_fires(
        &room_door("", "", "exit_hardware = \"key\""),
        "EGRESS-KEY",
        "d",
    );
    let signed_main =
        "exit_hardware = \"key\"\nmain_entrance = true\n[door.release]\nsign = true\n";
    assert_quiet(&room_door("", "", signed_main), "EGRESS-KEY");
    // Group A over 300 occupants may not use it even at the signed main entrance.
    let big_assembly = site_text(
        "occupancy = \"A\"",
        "",
        &format!(
            "[[area]]\nid = \"hall\"\noccupants = 400\n[[door]]\nid = \"d\"\ninside = \"hall\"\noutside = \"street\"\nexit_hardware = \"panic\"\n[[door]]\nid = \"k\"\ninside = \"hall\"\noutside = \"street\"\n{signed_main}"
        ),
    );
    assert_fires(&big_assembly, "EGRESS-KEY", "k");
}

#[test]
fn sr_sensor() {
    assert_fires(
        &room_door("", "", &SENSOR_MAGLOCK.replace("rex_sensor = true", "")),
        "SR-SENSOR",
        "d",
    );
    assert_quiet(&room_door("", "", SENSOR_MAGLOCK), "SR-SENSOR");
}

#[test]
fn sr_push_to_exit() {
    for bad in [
        "height_in = 50, distance_in = 36, direct_power_cut = true, hold_seconds = 30",
        "height_in = 44, distance_in = 61, direct_power_cut = true, hold_seconds = 30",
        "height_in = 44, distance_in = 36, direct_power_cut = false, hold_seconds = 30",
        "height_in = 44, distance_in = 36, direct_power_cut = true, hold_seconds = 29",
        "distance_in = 36, direct_power_cut = true, hold_seconds = 30",
    ] {
        let door = SENSOR_MAGLOCK.replace(
            "height_in = 44, distance_in = 36, direct_power_cut = true, hold_seconds = 30",
            bad,
        );
        assert_fires(&room_door("", "", &door), "SR-PUSH-TO-EXIT", "d");
    }
    let without = SENSOR_MAGLOCK
        .lines()
        .filter(|l| !l.starts_with("push_to_exit"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_fires(&room_door("", "", &without), "SR-PUSH-TO-EXIT", "d");
    assert_quiet(&room_door("", "", SENSOR_MAGLOCK), "SR-PUSH-TO-EXIT");
}

#[test]
fn sr_panic_only_with_ibc_2024() {
    let assembly = |codes: &str| {
        site_text(
            &format!("codes = [{codes}]\noccupancy = \"A\""),
            "",
            &format!(
                "[[area]]\nid = \"hall\"\noccupants = 60\n[[door]]\nid = \"d\"\ninside = \"hall\"\noutside = \"street\"\n{SENSOR_MAGLOCK}"
            ),
        )
    };
    assert_fires(&assembly("\"IBC-2024\""), "SR-PANIC", "d");
    assert_quiet(&assembly("\"IBC-2021\""), "SR-PANIC");
}

#[test]
fn dhr_hardware() {
    let release = |hardware: &str| {
        format!(
            "exit_hardware = \"{hardware}\"\n[door.lock]\ntype = \"maglock\"\nfail = \"safe\"\npower = \"psu\"\nlisted = [\"UL294\"]\n[door.release]\narrangement = \"door_hardware\"\n"
        )
    };
    assert_fires(&room_door("", "", &release("none")), "DHR-HARDWARE", "d");
    assert_quiet(&room_door("", "", &release("panic")), "DHR-HARDWARE");
}

#[test]
fn elock_group_h() {
    let hazard = |group: &str| {
        site_text(
            "",
            "",
            &format!(
                "[[area]]\nid = \"lab\"\noccupancy = \"{group}\"\noccupants = 5\n[[door]]\nid = \"d\"\ninside = \"lab\"\noutside = \"street\"\n{SENSOR_MAGLOCK}"
            ),
        )
    };
    assert_fires(&hazard("H"), "ELOCK-GROUP-H", "d");
    assert_quiet(&hazard("B"), "ELOCK-GROUP-H");
}

#[test]
fn elock_listing_accepts_ul1034_only_with_ibc_2024() {
    let unlisted = SENSOR_MAGLOCK.replace("listed = [\"UL294\"]", "");
    assert_fires(&room_door("", "", &unlisted), "ELOCK-LISTING", "d");
    let ul1034 = SENSOR_MAGLOCK.replace("\"UL294\"", "\"UL1034\"");
    assert_fires(&room_door("", "", &ul1034), "ELOCK-LISTING", "d");
    assert_quiet(
        &room_door("codes = [\"IBC-2024\"]", "", &ul1034),
        "ELOCK-LISTING",
    );
    assert_quiet(&room_door("", "", SENSOR_MAGLOCK), "ELOCK-LISTING");
}

const DELAYED_MAGLOCK: &str = r#"exit_hardware = "none"
[door.lock]
type = "maglock"
fail = "safe"
power = "psu"
listed = ["UL294"]
[door.release]
arrangement = "delayed"
delay_seconds = 15
fire_alarm = true
remote = true
sign = true
"#;

#[test]
fn de_protection() {
    assert_fires(&room_door("", "", DELAYED_MAGLOCK), "DE-PROTECTION", "d");
    assert_quiet(
        &room_door("sprinklered = true", "", DELAYED_MAGLOCK),
        "DE-PROTECTION",
    );
    let assembly = site_text(
        "sprinklered = true\noccupancy = \"A\"",
        "",
        &format!(
            "{ROOM}\n[[door]]\nid = \"d\"\ninside = \"room\"\noutside = \"street\"\n{DELAYED_MAGLOCK}"
        ),
    );
    assert_fires(&assembly, "DE-PROTECTION", "d");
}

#[test]
fn de_delay() {
    let delay = |fields: &str| {
        room_door(
            "sprinklered = true",
            "",
            &DELAYED_MAGLOCK.replace("delay_seconds = 15", fields),
        )
    };
    assert_fires(&delay("delay_seconds = 20"), "DE-DELAY", "d");
    assert_fires(
        &delay("delay_seconds = 31\nahj_approved_delay = true"),
        "DE-DELAY",
        "d",
    );
    assert_fires(&delay(""), "DE-DELAY", "d");
    assert_quiet(
        &delay("delay_seconds = 20\nahj_approved_delay = true"),
        "DE-DELAY",
    );
    assert_quiet(&delay("delay_seconds = 15"), "DE-DELAY");
}

#[test]
fn de_releases_remote_is_an_ibc_clause() {
    let no_remote = DELAYED_MAGLOCK.replace("remote = true", "");
    assert_fires(
        &room_door("sprinklered = true", "", &no_remote),
        "DE-RELEASES",
        "d",
    );
    assert_quiet(
        &room_door(
            "sprinklered = true\ncodes = [\"NFPA101-2021\"]",
            "",
            &no_remote,
        ),
        "DE-RELEASES",
    );
    let no_fire = DELAYED_MAGLOCK.replace("fire_alarm = true", "");
    assert_fires(
        &room_door(
            "sprinklered = true\ncodes = [\"NFPA101-2021\"]",
            "",
            &no_fire,
        ),
        "DE-RELEASES",
        "d",
    );
    assert_quiet(
        &room_door("sprinklered = true", "", DELAYED_MAGLOCK),
        "DE-RELEASES",
    );
}

#[test]
fn de_sign() {
    assert_fires(
        &room_door(
            "sprinklered = true",
            "",
            &DELAYED_MAGLOCK.replace("sign = true", ""),
        ),
        "DE-SIGN",
        "d",
    );
    assert_quiet(
        &room_door("sprinklered = true", "", DELAYED_MAGLOCK),
        "DE-SIGN",
    );
}

/// room -> hall -> street, both doors with the given door fields; the room's occupancy given.
fn two_in_series(occupancy: &str, first: &str, second: &str) -> String {
    site_text(
        "sprinklered = true\nfire_alarm = true",
        "",
        &format!(
            "[[area]]\nid = \"room\"\noccupants = 10\noccupancy = \"{occupancy}\"\n[[area]]\nid = \"hall\"\n\
             [[door]]\nid = \"first\"\ninside = \"room\"\noutside = \"hall\"\n{first}\n\
             [[door]]\nid = \"second\"\ninside = \"hall\"\noutside = \"street\"\n{second}"
        ),
    )
}

#[test]
fn de_one_per_path() {
    assert_fires(
        &two_in_series("B", DELAYED_MAGLOCK, DELAYED_MAGLOCK),
        "DE-ONE-PER-PATH",
        "room",
    );
    assert_quiet(
        &two_in_series("B", DELAYED_MAGLOCK, "exit_hardware = \"panic\""),
        "DE-ONE-PER-PATH",
    );
    // Group I-2 may pass two delayed doors, but not more than 30 s of delay in all.
    assert_quiet(
        &two_in_series("I-2", DELAYED_MAGLOCK, DELAYED_MAGLOCK),
        "DE-ONE-PER-PATH",
    );
    let longer = DELAYED_MAGLOCK.replace(
        "delay_seconds = 15",
        "delay_seconds = 16\nahj_approved_delay = true",
    );
    assert_fires(
        &two_in_series("I-2", DELAYED_MAGLOCK, &longer),
        "DE-ONE-PER-PATH",
        "room",
    );
}

#[test]
fn de_one_per_path_ignores_doors_that_are_not_egress() {
    let not_egress = format!("egress = false\n{DELAYED_MAGLOCK}");
    let text = two_in_series("B", DELAYED_MAGLOCK, &not_egress);
    // With the second door out of the means of egress there is no path to the street at all.
    assert_quiet(&text, "DE-ONE-PER-PATH");
}

const CONTROLLED_MAGLOCK: &str = r#"exit_hardware = "none"
[door.lock]
type = "maglock"
fail = "safe"
power = "psu"
listed = ["UL294"]
[door.release]
arrangement = "controlled"
fire_alarm = true
remote = true
"#;

#[test]
fn ce_occupancy() {
    assert_fires(
        &two_in_series("B", CONTROLLED_MAGLOCK, ""),
        "CE-OCCUPANCY",
        "first",
    );
    assert_quiet(
        &two_in_series("I-2", CONTROLLED_MAGLOCK, ""),
        "CE-OCCUPANCY",
    );
}

#[test]
fn ce_releases() {
    let no_remote = CONTROLLED_MAGLOCK.replace("remote = true", "");
    assert_fires(
        &two_in_series("I-2", &no_remote, ""),
        "CE-RELEASES",
        "first",
    );
    let no_fire = CONTROLLED_MAGLOCK.replace("fire_alarm = true", "");
    assert_fires(&two_in_series("I-2", &no_fire, ""), "CE-RELEASES", "first");
    assert_quiet(&two_in_series("I-2", CONTROLLED_MAGLOCK, ""), "CE-RELEASES");
}

#[test]
fn ce_one_before_exit() {
    assert_fires(
        &two_in_series("I-2", CONTROLLED_MAGLOCK, CONTROLLED_MAGLOCK),
        "CE-ONE-BEFORE-EXIT",
        "room",
    );
    assert_quiet(
        &two_in_series("I-2", CONTROLLED_MAGLOCK, ""),
        "CE-ONE-BEFORE-EXIT",
    );
}

#[test]
fn elev_lobby() {
    let lobby = CONTROLLED_MAGLOCK.replace("\"controlled\"", "\"elevator_lobby\"");
    assert_fires(
        &room_door("fire_alarm = true", "", &lobby),
        "ELEV-LOBBY",
        "d",
    );
    assert_fires(
        &room_door(
            "sprinklered = true\nfire_alarm = true",
            "",
            &lobby.replace("fire_alarm = true", ""),
        ),
        "ELEV-LOBBY",
        "d",
    );
    assert_quiet(
        &room_door("sprinklered = true\nfire_alarm = true", "", &lobby),
        "ELEV-LOBBY",
    );
}

fn stair_site(door_from: &str, door_to: &str, door_fields: &str) -> String {
    site_text(
        "",
        "",
        &format!(
            "{ROOM}\n[[area]]\nid = \"stair\"\nkind = \"stair\"\n\
             [[door]]\nid = \"exit\"\ninside = \"stair\"\noutside = \"street\"\nexit_hardware = \"panic\"\n\
             [[door]]\nid = \"d\"\ninside = \"{door_from}\"\noutside = \"{door_to}\"\n{door_fields}"
        ),
    )
}

#[test]
fn stair_discharge() {
    assert_fires(
        &stair_site("stair", "street", SENSOR_MAGLOCK),
        "STAIR-DISCHARGE",
        "d",
    );
    let strike = "exit_hardware = \"panic\"\n[door.lock]\ntype = \"electric_strike\"\nfail = \"secure\"\npower = \"psu\"\n";
    assert_quiet(&stair_site("stair", "street", strike), "STAIR-DISCHARGE");
}

#[test]
fn stair_reentry() {
    let strike = "[door.lock]\ntype = \"electric_strike\"\nfail = \"secure\"\npower = \"psu\"\n";
    assert_fires(&stair_site("room", "stair", strike), "STAIR-REENTRY", "d");
    assert_quiet(
        &stair_site(
            "room",
            "stair",
            &format!("{strike}[door.release]\nremote = true\n"),
        ),
        "STAIR-REENTRY",
    );
    assert_quiet(
        &stair_site(
            "room",
            "stair",
            &format!("{strike}[door.release]\nfire_alarm = true\n"),
        ),
        "STAIR-REENTRY",
    );
}

#[test]
fn fire_door_failsafe_strike() {
    let strike = |fail: &str| {
        format!(
            "fire_rated = true\n[door.lock]\ntype = \"electric_strike\"\nfail = \"{fail}\"\npower = \"psu\"\n"
        )
    };
    assert_fires(
        &room_door("", "", &strike("safe")),
        "FIRE-DOOR-FAILSAFE-STRIKE",
        "d",
    );
    assert_quiet(
        &room_door("", "", &strike("secure")),
        "FIRE-DOOR-FAILSAFE-STRIKE",
    );
}

#[test]
fn fire_door_unlatch() {
    // A fail-secure strike released by the fire alarm is powered open in a fire.
    let released = "fire_rated = true\n[door.lock]\ntype = \"electric_strike\"\nfail = \"secure\"\npower = \"psu\"\n[door.release]\nfire_alarm = true\n";
    assert_fires(&room_door("", "", released), "FIRE-DOOR-UNLATCH", "d");
    // A fail-safe panic bar on a circuit the fire alarm cuts unlatches too.
    let cut = "fire_rated = true\nexit_hardware = \"panic\"\n[door.lock]\ntype = \"electrified_panic\"\nfail = \"safe\"\npower = \"psu\"\n";
    assert_fires(
        &room_door("", "fire_alarm_cutoff = true", cut),
        "FIRE-DOOR-UNLATCH",
        "d",
    );
    assert_quiet(
        &room_door(
            "",
            "",
            &released.replace("[door.release]\nfire_alarm = true\n", ""),
        ),
        "FIRE-DOOR-UNLATCH",
    );
}

#[test]
fn panic_required_thresholds_depend_on_the_codes() {
    let hall = |codes: &str, occupants: u32, hardware: &str| {
        site_text(
            &format!("codes = [{codes}]\noccupancy = \"A\""),
            "",
            &format!(
                "[[area]]\nid = \"hall\"\noccupants = {occupants}\n[[door]]\nid = \"d\"\ninside = \"hall\"\noutside = \"street\"\nexit_hardware = \"{hardware}\"\n"
            ),
        )
    };
    assert_fires(&hall("\"IBC-2021\"", 50, "lever"), "PANIC-REQUIRED", "d");
    assert_quiet(&hall("\"IBC-2021\"", 49, "lever"), "PANIC-REQUIRED");
    assert_quiet(&hall("\"NFPA101-2021\"", 99, "lever"), "PANIC-REQUIRED");
    assert_fires(
        &hall("\"NFPA101-2021\"", 100, "lever"),
        "PANIC-REQUIRED",
        "d",
    );
    assert_quiet(&hall("\"IBC-2021\"", 50, "panic"), "PANIC-REQUIRED");
}

const SECURE_STRIKE: &str =
    "[door.lock]\ntype = \"electric_strike\"\nfail = \"secure\"\npower = \"psu\"\n";

#[test]
fn override_missing() {
    assert_fires(&room_door("", "", SECURE_STRIKE), "OVERRIDE-MISSING", "d");
    assert_quiet(
        &room_door("", "", &format!("key_override = true\n{SECURE_STRIKE}")),
        "OVERRIDE-MISSING",
    );
}

#[test]
fn outage_perimeter_open() {
    let safe_strike = SECURE_STRIKE.replace("secure", "safe");
    assert_fires(
        &room_door("", "", &safe_strike),
        "OUTAGE-PERIMETER-OPEN",
        "d",
    );
    assert_quiet(&room_door("", "", SECURE_STRIKE), "OUTAGE-PERIMETER-OPEN");
}

#[test]
fn fd_key_box() {
    assert_fires(&room_door("", "", SECURE_STRIKE), "FD-KEY-BOX", "site");
    assert_quiet(
        &room_door("key_box = true", "", SECURE_STRIKE),
        "FD-KEY-BOX",
    );
    assert_quiet(
        &room_door("", "", "exit_hardware = \"panic\""),
        "FD-KEY-BOX",
    );
}

#[test]
fn egress_trapped() {
    // A fail-secure maglock with a REX: fine while the controller lives, a trap in an outage.
    let trap = "exit_hardware = \"none\"\n[door.lock]\ntype = \"maglock\"\nfail = \"secure\"\npower = \"psu\"\n[door.release]\nrex_sensor = true\n";
    assert_fires(&room_door("", "", trap), "EGRESS-TRAPPED", "room");
    assert_quiet(&room_door("", "", SECURE_STRIKE), "EGRESS-TRAPPED");
    // An empty room cannot trap anyone.
    let empty = site_text(
        "",
        "",
        &format!(
            "[[area]]\nid = \"room\"\n[[door]]\nid = \"d\"\ninside = \"room\"\noutside = \"street\"\n{trap}"
        ),
    );
    assert_quiet(&empty, "EGRESS-TRAPPED");
}

#[test]
fn outage_exposed() {
    let vault = |fail: &str| {
        site_text(
            "",
            "",
            &format!(
                "[[area]]\nid = \"vault\"\nassets = \"high\"\n[[door]]\nid = \"d\"\ninside = \"vault\"\noutside = \"street\"\n[door.lock]\ntype = \"electric_strike\"\nfail = \"{fail}\"\npower = \"psu\"\n"
            ),
        )
    };
    assert_fires(&vault("safe"), "OUTAGE-EXPOSED", "vault");
    assert_quiet(&vault("secure"), "OUTAGE-EXPOSED");
}

#[test]
fn site_lockout() {
    assert_fires(&room_door("", "", SECURE_STRIKE), "SITE-LOCKOUT", "site");
    assert_quiet(
        &room_door("key_box = true", "", SECURE_STRIKE),
        "SITE-LOCKOUT",
    );
    assert_quiet(
        &room_door("", "", &format!("key_override = true\n{SECURE_STRIKE}")),
        "SITE-LOCKOUT",
    );
}

#[test]
fn sec_dps() {
    let text = room_door("", "", SECURE_STRIKE).replace("dps = true\n", "");
    assert_fires(&text, "SEC-DPS", "d");
    assert_quiet(&room_door("", "", SECURE_STRIKE), "SEC-DPS");
}

#[test]
fn sec_release_time() {
    assert_fires(
        &room_door("", "", &format!("unlock_seconds = 2.5\n{SECURE_STRIKE}")),
        "SEC-RELEASE-TIME",
        "d",
    );
    assert_quiet(
        &room_door("", "", &format!("unlock_seconds = 3\n{SECURE_STRIKE}")),
        "SEC-RELEASE-TIME",
    );
}

#[test]
fn every_rule_in_the_table_has_a_test_here() {
    let source = include_str!("rules.rs");
    for rule in keyway_core::rules::RULES {
        let quoted = format!("\"{}\"", rule.id);
        assert!(source.contains(&quoted), "no test names {}", rule.id);
    }
}

#[test]
fn the_rule_reference_in_docs_is_generated_from_the_rule_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    let generated = keyway_core::rules::reference_markdown();
    if std::env::var_os("KEYWAY_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/rules.md");
    }
    let in_docs = std::fs::read_to_string(&path).expect("docs/rules.md exists");
    assert!(
        in_docs == generated,
        "docs/rules.md is out of date: run `cargo run -- rules > docs/rules.md` (or KEYWAY_BLESS=1 cargo test)"
    );
}

/// A maglock with only an electric release, and an exit reader: card-out egress.
const CARD_OUT: &str = r#"exit_hardware = "none"
[door.lock]
type = "maglock"
fail = "safe"
power = "psu"
listed = ["UL294"]
[door.release]
fire_alarm = true
[door.reader]
kind = "osdp"
address = 1
[door.exit_reader]
kind = "osdp"
address = 2
"#;

#[test]
fn egress_card_out() {
    assert_fires(&room_door("", "", CARD_OUT), "EGRESS-CARD-OUT", "d");
    // An exit reader beside a REX is fine: the REX lets anyone out.
    let with_rex = CARD_OUT.replace(
        "fire_alarm = true",
        "fire_alarm = true\narrangement = \"sensor\"\nrex_sensor = true",
    );
    assert_quiet(&room_door("", "", &with_rex), "EGRESS-CARD-OUT");
    // A strike with a lever does not lock egress: the exit reader is only for counting.
    let strike = CARD_OUT
        .replace("exit_hardware = \"none\"", "exit_hardware = \"lever\"")
        .replace("\"maglock\"", "\"electric_strike\"");
    assert_quiet(&room_door("", "", &strike), "EGRESS-CARD-OUT");
}

/// Two doors in a row, the mantrap between, both in one interlock.
fn mantrap(inner_release: &str) -> String {
    site_text(
        "fire_alarm = true",
        "",
        &format!(
            "{ROOM}\n[[area]]\nid = \"trap\"\n\n[[interlock]]\nid = \"pair\"\ndoors = [\"inner\", \"outer\"]\n\n\
             [[door]]\nid = \"inner\"\ninside = \"room\"\noutside = \"trap\"\nexit_hardware = \"none\"\n\
             [door.lock]\ntype = \"maglock\"\nfail = \"safe\"\npower = \"psu\"\n[door.release]\n{inner_release}\n\n\
             [[door]]\nid = \"outer\"\ninside = \"trap\"\noutside = \"street\"\n\
             [door.lock]\ntype = \"electric_strike\"\nfail = \"secure\"\npower = \"psu\"\n"
        ),
    )
}

#[test]
fn interlock_egress() {
    let no_fire = "arrangement = \"sensor\"\nrex_sensor = true";
    assert_fires(&mantrap(no_fire), "INTERLOCK-EGRESS", "inner");
    assert_fires(&mantrap("fire_alarm = true"), "INTERLOCK-EGRESS", "inner");
    let both = "arrangement = \"sensor\"\nrex_sensor = true\nfire_alarm = true";
    assert_quiet(&mantrap(both), "INTERLOCK-EGRESS");
}

#[test]
fn two_person_egress() {
    let two_person = format!("{SENSOR_MAGLOCK}[door.access]\ntwo_person = true\n");
    assert_fires(&room_door("", "", &two_person), "TWO-PERSON-EGRESS", "d");
    assert_quiet(&room_door("", "", SENSOR_MAGLOCK), "TWO-PERSON-EGRESS");
}

#[test]
fn muster_inside() {
    let station = |area: &str| {
        room_door(
            "",
            "",
            &format!(
                "{SENSOR_MAGLOCK}\n[[muster_station]]\nid = \"m\"\narea = \"{area}\"\n[muster_station.reader]\nkind = \"wiegand\"\n"
            ),
        )
    };
    assert_fires(&station("room"), "MUSTER-INSIDE", "room");
    assert_quiet(&station("street"), "MUSTER-INSIDE");
}

#[test]
fn shelter_trapped() {
    // The shelter room opens onto a hall; the hall's door to the street has only a card
    // reader on its inside. Shelter mode releases the room's door, not the hall's.
    let site = |out_door: &str| {
        site_text(
            "fire_alarm = true",
            "",
            &format!(
                "[[area]]\nid = \"room\"\noccupants = 10\nshelter = true\n[[area]]\nid = \"hall\"\n\n\
                 [[door]]\nid = \"inner\"\ninside = \"room\"\noutside = \"hall\"\n\n\
                 [[door]]\nid = \"d\"\ninside = \"hall\"\noutside = \"street\"\n{out_door}"
            ),
        )
    };
    assert_fires(&site(CARD_OUT), "SHELTER-TRAPPED", "room");
    assert_quiet(&site(SENSOR_MAGLOCK), "SHELTER-TRAPPED");
}
