//! Bad site files: exit code 2, and every message names the file, line and field.

use std::path::PathBuf;
use std::process::Command;

const GOOD: &str = r#"[site]
name = "Bad input test"

[controller]
power = "mains"

[[power]]
id = "mains"

[[power]]
id = "psu"
fed_by = "mains"
battery_minutes = 30

[[area]]
id = "street"
kind = "exterior"

[[area]]
id = "lobby"
occupants = 5

[[door]]
id = "front"
inside = "lobby"
outside = "street"

[door.lock]
type = "maglock"
fail = "safe"
power = "psu"
"#;

/// Writes `text` to a file named after the test and runs `keyway check` on it.
fn check(name: &str, text: &str) -> (i32, String, String) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write the site file");
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["check", path.to_str().unwrap()])
        .output()
        .expect("keyway runs");
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    (
        output.status.code().expect("exit code"),
        stderr,
        path.display().to_string(),
    )
}

/// Asserts exit 2 and a message that starts `FILE:LINE:` and mentions every fragment.
fn assert_pointed(name: &str, text: &str, line: u32, fragments: &[&str]) {
    let (code, stderr, path) = check(name, text);
    assert_eq!(code, 2, "exit code, stderr:\n{stderr}");
    let location = format!("{path}:{line}:");
    let error_line = stderr
        .lines()
        .find(|l| l.starts_with(&location))
        .unwrap_or_else(|| panic!("no error at {location} in:\n{stderr}"));
    for fragment in fragments {
        assert!(
            error_line.contains(fragment),
            "{fragment:?} missing from {error_line:?}"
        );
    }
}

/// Finds the 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text") as u32
        + 1
}

#[test]
fn the_good_file_is_good() {
    let (code, stderr, _) = check("good", GOOD);
    assert_ne!(code, 2, "{stderr}");
}

#[test]
fn unknown_field_names_the_field_and_suggests_the_right_one() {
    let text = GOOD.replace("fail = \"safe\"", "fial = \"safe\"");
    assert_pointed(
        "unknown_field",
        &text,
        line_of(&text, "fial"),
        &[
            "door \"front\"",
            "lock.fial",
            "unknown field",
            "did you mean `lock.fail`",
        ],
    );
}

#[test]
fn unknown_top_level_table() {
    let text = format!("{GOOD}\n[[doors]]\nid = \"x\"\n");
    assert_pointed(
        "unknown_table",
        &text,
        line_of(&text, "[[doors]]"),
        &["`doors`", "unknown field", "did you mean `door`"],
    );
}

#[test]
fn dangling_reference() {
    let text = GOOD.replace("inside = \"lobby\"", "inside = \"lobbby\"");
    assert_pointed(
        "dangling",
        &text,
        line_of(&text, "lobbby"),
        &[
            "field `inside` = \"lobbby\"",
            "no area has this id",
            "lobby",
        ],
    );
}

#[test]
fn duplicate_id() {
    let text =
        format!("{GOOD}\n[[door]]\nid = \"front\"\ninside = \"lobby\"\noutside = \"street\"\n");
    let second = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("id = \"front\""))
        .nth(1)
        .unwrap()
        .0 as u32
        + 1;
    assert_pointed(
        "duplicate",
        &text,
        second,
        &[
            "field `id` = \"front\"",
            "duplicate id",
            &format!("line {}", line_of(&text, "id = \"front\"")),
        ],
    );
}

#[test]
fn bad_enum_value() {
    let text = GOOD.replace("fail = \"safe\"", "fail = \"sfe\"");
    assert_pointed(
        "bad_enum",
        &text,
        line_of(&text, "sfe"),
        &["field `lock.fail` = \"sfe\"", "\"safe\", \"secure\""],
    );
}

#[test]
fn fed_by_cycle() {
    let text = GOOD.replace("id = \"mains\"\n\n", "id = \"mains\"\nfed_by = \"psu\"\n\n");
    assert_pointed(
        "cycle",
        &text,
        line_of(&text, "fed_by = \"psu\""),
        &["fed_by", "cycle", "mains → psu → mains"],
    );
}

#[test]
fn missing_required_field_points_at_the_table() {
    let text = GOOD.replace("inside = \"lobby\"\n", "");
    assert_pointed(
        "missing",
        &text,
        line_of(&text, "[[door]]"),
        &["door \"front\"", "field `inside`", "missing required field"],
    );
    let text = GOOD.replace("type = \"maglock\"\n", "");
    assert_pointed(
        "missing_lock_type",
        &text,
        line_of(&text, "[door.lock]"),
        &["field `lock.type`", "missing required field"],
    );
}

#[test]
fn bad_id() {
    let text = GOOD.replace("id = \"front\"", "id = \"Front Door\"");
    assert_pointed(
        "bad_id",
        &text,
        line_of(&text, "Front Door"),
        &["field `id` = \"Front Door\"", "a-z, 0-9"],
    );
}

#[test]
fn wrong_type() {
    let text = GOOD.replace("occupants = 5", "occupants = \"five\"");
    assert_pointed(
        "wrong_type",
        &text,
        line_of(&text, "five"),
        &[
            "area \"lobby\"",
            "field `occupants`",
            "expected an integer, found a string",
        ],
    );
}

#[test]
fn battery_on_a_mains_circuit() {
    let text = GOOD.replace(
        "id = \"mains\"\n\n",
        "id = \"mains\"\nbattery_minutes = 10\n\n",
    );
    assert_pointed(
        "mains_battery",
        &text,
        line_of(&text, "battery_minutes = 10"),
        &["power \"mains\"", "battery_minutes", "mains circuit"],
    );
}

#[test]
fn a_typo_never_weakens_a_rule_silently() {
    // `locks_egress = false` on a maglock would hide every egress rule: it is refused.
    let text = GOOD.replace(
        "power = \"psu\"\n",
        "power = \"psu\"\nlocks_egress = false\n",
    );
    assert_pointed(
        "locks_egress",
        &text,
        line_of(&text, "locks_egress"),
        &["lock.locks_egress", "always locks egress"],
    );
}

#[test]
fn bad_schedule_span_and_timezone() {
    let text = GOOD.replace(
        "name = \"Bad input test\"",
        "name = \"Bad input test\"\ntimezone = \"Mars/Olympus\"",
    ) + "\n[[schedule]]\nid = \"hours\"\nweekly = [\"Mon-Fry 08:00-18:00\"]\nholidays = [\"2026-13-01\"]\n";
    assert_pointed(
        "timezone",
        &text,
        line_of(&text, "Mars"),
        &["site.timezone", "unknown time zone"],
    );
    assert_pointed(
        "schedule",
        &text,
        line_of(&text, "Mon-Fry"),
        &["schedule \"hours\"", "weekly", "Fry"],
    );
    assert_pointed(
        "holiday",
        &text,
        line_of(&text, "2026-13-01"),
        &["holidays", "YYYY-MM-DD"],
    );
}

#[test]
fn toml_syntax_error() {
    let text = GOOD.replace("kind = \"exterior\"", "kind = \"exterior");
    assert_pointed("syntax", &text, line_of(&text, "kind = \"exterior"), &[]);
}

#[test]
fn every_error_of_a_file_is_reported_in_file_order() {
    let text = GOOD
        .replace("fail = \"safe\"", "fail = \"sfe\"")
        .replace("inside = \"lobby\"", "inside = \"lobbby\"")
        .replace("occupants = 5", "occupants = -1");
    let (code, stderr, path) = check("many", &text);
    assert_eq!(code, 2);
    let lines: Vec<u32> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{path}:")))
        .map(|rest| rest.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            line_of(&text, "occupants"),
            line_of(&text, "lobbby"),
            line_of(&text, "sfe")
        ]
    );
    assert!(stderr.contains("3 problem(s)"), "{stderr}");
}

#[test]
fn an_unreadable_file_exits_2_and_names_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["check", "/nonexistent/site.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/site.toml"));
}

#[test]
fn simulate_refuses_a_bad_file_and_an_unknown_scenario() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("simulate_bad.toml");
    std::fs::write(&path, GOOD.replace("fail = \"safe\"", "fail = \"sfe\"")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["simulate", path.to_str().unwrap(), "--scenario", "outage"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["simulate", path.to_str().unwrap(), "--scenario", "flood"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("outage-fire"));
}

#[test]
fn help_explains_every_option() {
    for command in ["check", "simulate"] {
        let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(output.stdout).unwrap();
        assert!(help.contains("--format") && help.contains("json"), "{help}");
        if command == "simulate" {
            assert!(
                help.contains("--scenario") && help.contains("outage-fire"),
                "{help}"
            );
        }
    }
}

#[test]
fn tables_have_no_colour_when_not_on_a_terminal() {
    let site = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/clinic.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["check", site.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(!table.contains('\x1b'));
    assert!(
        table.contains("Errors (5)") && table.contains("SITE-LOCKOUT"),
        "{table}"
    );
}

#[test]
fn bus_errors_bad_key_duplicate_id_and_two_readers_at_one_address() {
    let text = format!(
        "{GOOD}\n[door.reader]\nkind = \"osdp\"\nbus = \"entry\"\naddress = 1\n\n[[door]]\nid = \"back\"\ninside = \"lobby\"\noutside = \"street\"\n[door.reader]\nkind = \"osdp\"\nbus = \"entry\"\naddress = 1\n\n[[bus]]\nid = \"entry\"\ndevice = \"/dev/ttyUSB0\"\nscbk = \"0011\"\n"
    );
    assert_pointed(
        "bus_key",
        &text,
        line_of(&text, "scbk"),
        &["bus \"entry\"", "field `scbk`", "32 hexadecimal digits"],
    );
    let text = text.replace("scbk = \"0011\"\n", "")
        + "\n[[bus]]\nid = \"entry\"\ndevice = \"/dev/ttyUSB1\"\n";
    let second = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("id = \"entry\""))
        .nth(1)
        .unwrap()
        .0 as u32
        + 1;
    assert_pointed("bus_duplicate", &text, second, &["duplicate id"]);
    let text = text.replace("\n[[bus]]\nid = \"entry\"\ndevice = \"/dev/ttyUSB1\"\n", "");
    assert_pointed(
        "bus_address",
        &text,
        line_of(&text, "id = \"back\""),
        &["door \"back\"", "reader.address", "door \"front\""],
    );
}

#[test]
fn bus_timing_provisioning_and_reader_input_errors_are_pointed() {
    let bus = |fields: &str| {
        format!(
            "{GOOD}\n[door.reader]\nkind = \"osdp\"\naddress = 1\n\n[[bus]]\nid = \"default\"\ndevice = \"/dev/ttyUSB0\"\n{fields}\n"
        )
    };
    let text = bus("provision = true");
    assert_pointed(
        "bus_provision",
        &text,
        line_of(&text, "provision"),
        &["bus \"default\"", "field `provision`", "set scbk"],
    );
    let text = bus("reply_timeout_ms = 0");
    assert_pointed(
        "bus_reply_timeout",
        &text,
        line_of(&text, "reply_timeout_ms"),
        &["field `reply_timeout_ms`", "10"],
    );
    let text = bus("offline_after_ms = \"8s\"");
    assert_pointed(
        "bus_offline_after",
        &text,
        line_of(&text, "offline_after_ms"),
        &["field `offline_after_ms`"],
    );
    // A reader's input for a device the door does not have.
    let text = bus("").replace("address = 1\n", "address = 1\ndps_input = 0\n");
    assert_pointed(
        "reader_dps_input",
        &text,
        line_of(&text, "dps_input"),
        &["door \"front\"", "reader.dps_input", "dps = true"],
    );
    // Only an OSDP reader has inputs.
    let text = format!("{GOOD}\n[door.reader]\nkind = \"wiegand\"\nrex_input = 1\n");
    assert_pointed(
        "reader_rex_input_wiegand",
        &text,
        line_of(&text, "rex_input"),
        &["reader.rex_input", "only an OSDP reader"],
    );
    // The contact on the reader's input and on a GPIO line both.
    let text = bus("")
        .replace(
            "outside = \"street\"\n\n[door.lock]",
            "outside = \"street\"\ndps = true\n\n[door.lock]",
        )
        .replace(
            "address = 1\n",
            "address = 1\ndps_input = 0\n\n[door.wiring]\ndps = { line = 3 }\n",
        );
    assert_pointed(
        "reader_dps_input_and_line",
        &text,
        line_of(&text, "dps = { line"),
        &["wiring.dps", "reader's input 0", "choose one"],
    );
}

#[test]
fn wiring_errors_point_at_the_line_and_say_what_is_wrong() {
    let wired = |wiring: &str| format!("{GOOD}\n[door.wiring]\n{wiring}\n");

    // A second use of a line names the first.
    let text = wired("relay = { line = 17 }\nlock_status = { chip = \"gpiochip0\", line = 17 }");
    assert_pointed(
        "wiring_twice",
        &text,
        line_of(&text, "lock_status"),
        &[
            "door \"front\"",
            "wiring.lock_status",
            "17",
            "already",
            "wiring.relay",
        ],
    );
    // On another chip it is another line.
    let (code, stderr, _) = check(
        "wiring_other_chip",
        &wired("relay = { line = 17 }\nlock_status = { chip = \"gpiochip1\", line = 17 }"),
    );
    assert_ne!(code, 2, "{stderr}");

    // A device the door does not declare.
    let text = wired("dps = { line = 22 }");
    assert_pointed(
        "wiring_no_dps",
        &text,
        line_of(&text, "dps = {"),
        &["wiring.dps", "no door position switch", "dps = true"],
    );
    let text = wired("wiegand_d0 = { line = 5 }");
    assert_pointed(
        "wiring_no_wiegand",
        &text,
        line_of(&text, "wiegand_d0"),
        &["wiring.wiegand_d0", "Wiegand reader"],
    );

    // An output has no debounce; every line needs its number.
    let text = wired("relay = { line = 17, debounce_ms = 20 }");
    assert_pointed(
        "wiring_relay_debounce",
        &text,
        line_of(&text, "relay"),
        &["wiring.relay.debounce_ms", "no debounce"],
    );
    let text = wired("relay = { chip = \"gpiochip0\" }");
    assert_pointed(
        "wiring_no_line",
        &text,
        line_of(&text, "relay"),
        &["wiring.relay.line", "missing"],
    );
    let text = wired("relay = { line = -1 }");
    assert_pointed(
        "wiring_bad_line",
        &text,
        line_of(&text, "relay"),
        &["wiring.relay.line", "-1", "0 to 65535"],
    );

    // Site inputs: a fire alarm input on a site without a fire alarm system; a battery-low
    // signal from a circuit without a battery.
    let text = format!("{GOOD}\n[wiring]\nfire_alarm = {{ line = 4 }}\n");
    assert_pointed(
        "wiring_fire",
        &text,
        line_of(&text, "fire_alarm = {"),
        &["wiring.fire_alarm", "fire_alarm = true"],
    );
    let text = GOOD.replace(
        "[[power]]\nid = \"mains\"\n",
        "[[power]]\nid = \"mains\"\nwiring = { battery_low = { line = 6 } }\n",
    );
    assert_pointed(
        "wiring_battery",
        &text,
        line_of(&text, "battery_low"),
        &["power \"mains\"", "wiring.battery_low", "no battery"],
    );
}

#[test]
fn a_huge_duration_is_refused_not_wrapped() {
    // 2e14 minutes used to wrap the controller's time arithmetic: the controller was taken
    // for dead the moment the mains went (a debug build panicked).
    let text = GOOD.replace("battery_minutes = 30", "battery_minutes = 2e14");
    assert_pointed(
        "huge_battery",
        &text,
        line_of(&text, "battery_minutes = 2e14"),
        &["battery_minutes", "2e14", "43200 (30 days)"],
    );
    let text = GOOD.replace(
        "outside = \"street\"\n",
        "outside = \"street\"\nunlock_seconds = 1e300\n",
    );
    assert_pointed(
        "huge_unlock",
        &text,
        line_of(&text, "unlock_seconds"),
        &["unlock_seconds", "1e300", "30 days"],
    );
    // Exactly 30 days is still a duration.
    let text = GOOD.replace(
        "outside = \"street\"\n",
        "outside = \"street\"\nheld_open_seconds = 2592000\n",
    );
    let (code, stderr, _) = check("thirty_days", &text);
    assert_ne!(code, 2, "{stderr}");
}

/// The good file with people rules added: a second area and door, a zone, an interlock and a
/// muster station, each written as the test needs.
fn with_people(extra: &str) -> String {
    format!(
        "{GOOD}\n[[area]]\nid = \"lab\"\n\n[[door]]\nid = \"lab\"\ninside = \"lab\"\noutside = \"lobby\"\n{extra}"
    )
}

#[test]
fn the_people_rules_read_when_they_are_right() {
    let text = with_people(
        "[door.reader]\nkind = \"osdp\"\naddress = 1\n[door.exit_reader]\nkind = \"osdp\"\naddress = 2\n[door.access]\ntwo_person = true\ntwo_person_seconds = 20\n\n[[zone]]\nid = \"lab-zone\"\nareas = [\"lab\"]\nanti_passback = \"hard\"\nforgive_minutes = 30\n\n[[interlock]]\nid = \"pair\"\ndoors = [\"front\", \"lab\"]\n\n[[muster_station]]\nid = \"gate\"\narea = \"street\"\n[muster_station.reader]\nkind = \"wiegand\"\n",
    );
    let (code, stderr, _) = check("people_good", &text);
    assert_ne!(code, 2, "{stderr}");
}

#[test]
fn a_zone_with_a_bad_anti_passback_or_an_unknown_area_is_pointed_at() {
    let text = with_people(
        "\n[[zone]]\nid = \"z\"\nareas = [\"lab\", \"attic\"]\nanti_passback = \"strict\"\nforgive_minutes = -5\n",
    );
    assert_pointed(
        "zone_mode",
        &text,
        line_of(&text, "strict"),
        &[
            "zone \"z\"",
            "field `anti_passback` = \"strict\"",
            "\"soft\", \"hard\"",
        ],
    );
    assert_pointed(
        "zone_area",
        &text,
        line_of(&text, "attic"),
        &[
            "zone \"z\"",
            "field `areas` = \"attic\"",
            "no area has this id",
        ],
    );
    assert_pointed(
        "zone_forgive",
        &text,
        line_of(&text, "forgive_minutes"),
        &["field `forgive_minutes` = -5", "minutes greater than 0"],
    );
    let text = with_people("\n[[zone]]\nid = \"z\"\nareas = [\"lab\"]\n");
    assert_pointed(
        "zone_missing",
        &text,
        line_of(&text, "[[zone]]"),
        &[
            "zone \"z\"",
            "field `anti_passback`",
            "missing required field",
        ],
    );
}

#[test]
fn an_interlock_needs_two_known_doors_each_once() {
    let text = with_people("\n[[interlock]]\nid = \"pair\"\ndoors = [\"front\"]\n");
    assert_pointed(
        "interlock_short",
        &text,
        line_of(&text, "doors = [\"front\"]"),
        &["interlock \"pair\"", "field `doors`", "at least 2 door ids"],
    );
    let text = with_people("\n[[interlock]]\nid = \"pair\"\ndoors = [\"front\", \"front\"]\n");
    assert_pointed(
        "interlock_twice",
        &text,
        line_of(&text, "doors = ["),
        &[
            "interlock \"pair\"",
            "field `doors` = \"front\"",
            "listed twice",
        ],
    );
    let text = with_people("\n[[interlock]]\nid = \"pair\"\ndoors = [\"front\", \"back\"]\n");
    assert_pointed(
        "interlock_unknown",
        &text,
        line_of(&text, "doors = ["),
        &["field `doors` = \"back\"", "no door has this id"],
    );
}

#[test]
fn a_muster_station_needs_a_reader_and_has_no_door_inputs() {
    let text = with_people("\n[[muster_station]]\nid = \"gate\"\narea = \"yard\"\n");
    assert_pointed(
        "station_reader",
        &text,
        line_of(&text, "[[muster_station]]"),
        &[
            "muster_station \"gate\"",
            "field `reader`",
            "missing required field",
        ],
    );
    assert_pointed(
        "station_area",
        &text,
        line_of(&text, "yard"),
        &["field `area` = \"yard\"", "no area has this id"],
    );
    let text = with_people(
        "\n[[muster_station]]\nid = \"gate\"\n[muster_station.reader]\nkind = \"osdp\"\nrex_input = 1\n",
    );
    assert_pointed(
        "station_input",
        &text,
        line_of(&text, "rex_input"),
        &[
            "muster_station \"gate\"",
            "reader.rex_input",
            "unknown field",
        ],
    );
}

#[test]
fn door_access_and_exit_reader_fields_are_checked() {
    let text = with_people("[door.access]\ntwo_person = \"yes\"\ntwo_person_seconds = 0\n");
    assert_pointed(
        "two_person",
        &text,
        line_of(&text, "two_person = "),
        &[
            "door \"lab\"",
            "field `access.two_person` = \"yes\"",
            "true or false",
        ],
    );
    assert_pointed(
        "two_person_seconds",
        &text,
        line_of(&text, "two_person_seconds"),
        &[
            "field `access.two_person_seconds` = 0",
            "seconds greater than 0",
        ],
    );
    let text = with_people(
        "[door.reader]\nkind = \"osdp\"\naddress = 3\n[door.exit_reader]\nkind = \"osdp\"\naddress = 3\n\n[[bus]]\nid = \"default\"\ndevice = \"/dev/ttyUSB0\"\n",
    );
    // The door's id: the second `id = "lab"`, after the area's.
    let door_line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "id = \"lab\"")
        .nth(1)
        .map(|(i, _)| i as u32 + 1)
        .unwrap();
    assert_pointed(
        "exit_reader_address",
        &text,
        door_line,
        &[
            "door \"lab\"",
            "exit_reader.address",
            "has a reader at this address",
        ],
    );
    let text = with_people("[door.exit_reader]\nkind = \"bluetooth\"\n");
    assert_pointed(
        "exit_reader_kind",
        &text,
        line_of(&text, "bluetooth"),
        &["field `exit_reader.kind` = \"bluetooth\"", "\"osdp\""],
    );
}

#[test]
fn shelter_is_true_or_false() {
    let text = GOOD.replace("occupants = 5", "occupants = 5\nshelter = \"yes\"");
    assert_pointed(
        "shelter",
        &text,
        line_of(&text, "shelter"),
        &[
            "area \"lobby\"",
            "field `shelter` = \"yes\"",
            "true or false",
        ],
    );
}

#[test]
fn card_and_pin_is_true_or_false() {
    let text = with_people("[door.access]\ncard_and_pin = 1\n");
    assert_pointed(
        "card_and_pin",
        &text,
        line_of(&text, "card_and_pin"),
        &[
            "door \"lab\"",
            "field `access.card_and_pin` = 1",
            "true or false",
        ],
    );
}
