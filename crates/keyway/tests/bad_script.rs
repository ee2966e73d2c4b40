//! Bad replay scripts: exit code 2, every message pointing at the file, line and field.

use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = r#"start = "2026-12-01T07:00:00"

[[credential]]
number = "1001"
doors = ["lab"]

[[step]]
at = "2026-12-01T07:10:00"
input = "badge"
door = "lab"
credential = "1001"
"#;

fn run(name: &str, script: &str) -> (i32, String, String) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("script-{name}.toml"));
    std::fs::write(&path, script).unwrap();
    let site = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/replay/site.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["replay", site.to_str().unwrap(), path.to_str().unwrap()])
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stderr).unwrap(),
        path.display().to_string(),
    )
}

fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle") as u32
        + 1
}

fn assert_pointed(name: &str, script: &str, line: u32, fragments: &[&str]) {
    let (code, stderr, path) = run(name, script);
    assert_eq!(code, 2, "{stderr}");
    let location = format!("{path}:{line}:");
    let error = stderr
        .lines()
        .find(|l| l.starts_with(&location))
        .unwrap_or_else(|| panic!("no error at {location}:\n{stderr}"));
    for fragment in fragments {
        assert!(
            error.contains(fragment),
            "{fragment:?} missing from {error:?}"
        );
    }
}

#[test]
fn the_good_script_runs() {
    let (code, stderr, _) = run("good", SCRIPT);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn unknown_input() {
    let text = SCRIPT.replace("input = \"badge\"", "input = \"bagde\"");
    assert_pointed(
        "unknown_input",
        &text,
        line_of(&text, "bagde"),
        &["step #1", "field `input` = \"bagde\"", "\"badge\""],
    );
}

#[test]
fn unknown_door() {
    let text = SCRIPT.replace("door = \"lab\"", "door = \"labb\"");
    assert_pointed(
        "unknown_door",
        &text,
        line_of(&text, "labb"),
        &["field `door` = \"labb\"", "no door with this id"],
    );
}

#[test]
fn a_door_without_the_device_the_input_needs() {
    let text = SCRIPT.replace(
        "input = \"badge\"\ndoor = \"lab\"\ncredential = \"1001\"",
        "input = \"rex\"\ndoor = \"lab\"",
    );
    assert_pointed(
        "no_rex",
        &text,
        line_of(&text, "door = \"lab\""),
        &["`rex` needs a request-to-exit sensor"],
    );
}

#[test]
fn a_field_that_the_input_does_not_take() {
    let text = SCRIPT.replace(
        "input = \"badge\"\ndoor = \"lab\"\ncredential = \"1001\"",
        "input = \"fire_alarm\"\ndoor = \"lab\"",
    );
    assert_pointed(
        "extra_field",
        &text,
        line_of(&text, "door = \"lab\""),
        &["field `door`", "unknown field"],
    );
}

#[test]
fn a_bad_time_and_a_step_before_the_start() {
    let text = SCRIPT.replace("at = \"2026-12-01T07:10:00\"", "at = \"2026-12-01 7:10\"");
    assert_pointed(
        "bad_time",
        &text,
        line_of(&text, "7:10\""),
        &["field `at`", "local date-time"],
    );
    let text = SCRIPT.replace(
        "at = \"2026-12-01T07:10:00\"",
        "at = \"2026-11-30T07:10:00\"",
    );
    assert_pointed(
        "before_start",
        &text,
        line_of(&text, "[[step]]"),
        &["before the script's `start`"],
    );
}

#[test]
fn missing_start() {
    let text = SCRIPT.replace("start = \"2026-12-01T07:00:00\"\n", "");
    assert_pointed(
        "missing_start",
        &text,
        1,
        &["start", "missing required field"],
    );
}

#[test]
fn duplicate_credential_and_unknown_level() {
    let text = format!("{SCRIPT}\n[[credential]]\nnumber = \"1001\"\nlevels = [\"cleaners\"]\n");
    let second = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("number = \"1001\""))
        .nth(1)
        .unwrap()
        .0 as u32
        + 1;
    assert_pointed(
        "duplicate",
        &text,
        second,
        &["duplicate credential number", "line 4"],
    );
    assert_pointed(
        "unknown_level",
        &text,
        line_of(&text, "cleaners"),
        &["field `levels`", "no access level has this id"],
    );
}

#[test]
fn unknown_circuit_and_schedule() {
    let text = format!(
        "{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"power_off\"\ncircuit = \"grid\"\n"
    );
    assert_pointed(
        "unknown_circuit",
        &text,
        line_of(&text, "grid"),
        &["field `circuit` = \"grid\"", "no power circuit"],
    );
    let text = SCRIPT.replace(
        "doors = [\"lab\"]",
        "doors = [\"lab\"]\nschedule = \"nights\"",
    );
    assert_pointed(
        "unknown_schedule",
        &text,
        line_of(&text, "nights"),
        &["credential \"1001\"", "no schedule"],
    );
}

#[test]
fn steps_are_numbered_as_they_stand_in_the_file_after_a_bad_one() {
    // Two bad steps: the second is the file's step #2, though the first was not read.
    let text = format!(
        "{}\n[[step]]\nat = \"2026-12-01T07:20:00\"\ninput = \"rexx\"\ndoor = \"lab\"\n",
        SCRIPT.replace("input = \"badge\"", "input = \"bagde\"")
    );
    assert_pointed(
        "numbered_after_bad",
        &text,
        line_of(&text, "bagde"),
        &["step #1"],
    );
    assert_pointed(
        "numbered_after_bad",
        &text,
        line_of(&text, "rexx"),
        &["step #2", "\"rexx\""],
    );
}

#[test]
fn a_local_time_that_daylight_saving_skips_or_repeats_is_an_error_naming_the_choice() {
    // US daylight saving: 2027-03-14 02:30 does not exist; 2026-11-01 01:30 happens twice.
    let skipped = SCRIPT.replace("2026-12-01T07:10:00", "2027-03-14T02:30:00");
    assert_pointed(
        "dst_gap",
        &skipped,
        line_of(&skipped, "2027-03-14T02:30:00"),
        &[
            "step #1",
            "2027-03-14T02:30:00 does not exist in America/Chicago",
            "from UTC-06:00 to UTC-05:00",
            "write a time outside the jump",
        ],
    );
    let repeated = SCRIPT.replace("2026-12-01T07:10:00", "2026-11-01T01:30:00");
    assert_pointed(
        "dst_fold",
        &repeated,
        line_of(&repeated, "2026-11-01T01:30:00"),
        &[
            "2026-11-01T01:30:00 happens twice in America/Chicago",
            "2026-11-01T01:30:00-05:00 for the first",
            "2026-11-01T01:30:00-06:00 for the second",
        ],
    );
    // With its offset, the second one: the script runs.
    let named = SCRIPT
        .replace(
            "start = \"2026-12-01T07:00:00\"",
            "start = \"2026-11-01T00:00:00\"",
        )
        .replace("2026-12-01T07:10:00", "2026-11-01T01:30:00-06:00");
    let (code, stderr, _) = run("dst_fold_named", &named);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_badge_at_an_exit_reader_the_door_lacks_or_a_bad_side() {
    let text = SCRIPT.replace("door = \"lab\"\n", "door = \"lab\"\nside = \"exit\"\n");
    assert_pointed(
        "no_exit_reader",
        &text,
        line_of(&text, "door = \"lab\""),
        &["step #1", "field `door` = \"lab\"", "needs an exit reader"],
    );
    let text = SCRIPT.replace("door = \"lab\"\n", "door = \"lab\"\nside = \"inside\"\n");
    assert_pointed(
        "bad_side",
        &text,
        line_of(&text, "side ="),
        &["field `side` = \"inside\"", "\"entry\", \"exit\""],
    );
    let text = format!(
        "{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"rex\"\ndoor = \"office\"\nside = \"exit\"\n"
    );
    assert_pointed(
        "side_on_rex",
        &text,
        line_of(&text, "side ="),
        &["step #2", "field `side`", "unknown field"],
    );
}

#[test]
fn a_muster_or_a_forgiveness_naming_what_the_site_lacks() {
    let text = format!(
        "{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"muster\"\nstation = \"car-park\"\ncredential = \"1001\"\n"
    );
    assert_pointed(
        "unknown_station",
        &text,
        line_of(&text, "car-park"),
        &[
            "step #2",
            "field `station` = \"car-park\"",
            "no muster station with this id",
        ],
    );
    let text = format!(
        "{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"muster\"\ncredential = \"1001\"\n"
    );
    assert_pointed(
        "missing_station",
        &text,
        line_of(&text, "input = \"muster\"") - 2,
        &["step #2", "field `station`", "missing required field"],
    );
    let text = format!(
        "{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"forgive_passback\"\nzone = \"vault\"\n"
    );
    assert_pointed(
        "unknown_zone",
        &text,
        line_of(&text, "zone ="),
        &["field `zone` = \"vault\"", "no zone with this id"],
    );
}

#[test]
fn an_emergency_with_an_unknown_mode_or_area() {
    let text = format!(
        "{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"emergency\"\nmode = \"panic\"\n"
    );
    assert_pointed(
        "unknown_mode",
        &text,
        line_of(&text, "panic"),
        &[
            "step #2",
            "field `mode` = \"panic\"",
            "\"hold\"",
            "\"shelter\"",
        ],
    );
    let text = format!(
        "{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"emergency\"\nmode = \"hold\"\nareas = [\"lobby\", \"gym\"]\n"
    );
    assert_pointed(
        "unknown_mode_area",
        &text,
        line_of(&text, "gym"),
        &["step #2", "field `areas` = \"gym\"", "no area with this id"],
    );
    let text = format!("{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"emergency\"\n");
    assert_pointed(
        "missing_mode",
        &text,
        line_of(&text, "input = \"emergency\"") - 2,
        &["step #2", "field `mode`", "missing required field"],
    );
}

#[test]
fn pins_are_digits_uses_are_positive_and_a_pin_needs_a_keypad_door() {
    let text = SCRIPT.replace(
        "doors = [\"lab\"]",
        "doors = [\"lab\"]\npin = \"12a4\"\nuses = 0",
    );
    assert_pointed(
        "bad_pin",
        &text,
        line_of(&text, "12a4"),
        &[
            "credential \"1001\"",
            "field `pin` = \"12a4\"",
            "1 to 12 digits",
        ],
    );
    assert_pointed(
        "bad_uses",
        &text,
        line_of(&text, "uses = 0"),
        &["field `uses` = 0", "from 1 to 1000000"],
    );
    let text = format!(
        "{SCRIPT}\n[[step]]\nat = \"2026-12-01T07:11:00\"\ninput = \"pin\"\ndoor = \"lab\"\npin = \"1234\"\n"
    );
    assert_pointed(
        "pin_without_keypad",
        &text,
        line_of(&text, "input = \"pin\"") + 1,
        &["step #2", "`pin` needs a keypad", "card_and_pin"],
    );
}

#[test]
fn staff_is_true_or_false_and_a_duress_pin_is_digits() {
    let text = SCRIPT.replace(
        "doors = [\"lab\"]",
        "doors = [\"lab\"]\nstaff = \"yes\"\nduress_pin = \"help\"",
    );
    assert_pointed(
        "bad_staff",
        &text,
        line_of(&text, "staff"),
        &[
            "credential \"1001\"",
            "field `staff` = \"yes\"",
            "true or false",
        ],
    );
    assert_pointed(
        "bad_duress",
        &text,
        line_of(&text, "duress_pin"),
        &["field `duress_pin` = \"help\"", "1 to 12 digits"],
    );
}
