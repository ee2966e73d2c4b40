//! The example sites, through the real binary. The expected findings were worked out by hand
//! from the specs (see docs/checker.md); the snapshots pin the full JSON of every scenario.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// Runs keyway and returns (exit code, parsed JSON stdout).
fn keyway_json(args: &[&str]) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(args)
        .output()
        .expect("keyway runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let json =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("JSON expected ({e}):\n{stdout}"));
    (output.status.code().expect("exit code"), json)
}

fn check(name: &str) -> (i32, Value) {
    let path = example(name);
    keyway_json(&["check", path.to_str().unwrap(), "--format", "json"])
}

fn simulate(name: &str, scenario: &str) -> (i32, Value) {
    let path = example(name);
    keyway_json(&[
        "simulate",
        path.to_str().unwrap(),
        "--scenario",
        scenario,
        "--format",
        "json",
    ])
}

/// `RULE door|area|site` for each finding.
fn keys(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            let target = f["door"].as_str().or(f["area"].as_str()).unwrap_or("site");
            format!("{} {target}", f["rule"].as_str().unwrap())
        })
        .collect()
}

fn at_seconds(report: &Value) -> Vec<i64> {
    report["moments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["at_seconds"].as_i64().unwrap())
        .collect()
}

#[test]
fn office_has_only_the_rear_door_warnings() {
    // The rear door: a fail-secure strike to the street with no key cylinder and no door
    // position switch. Every other door is compliant: the maglock has a sensor release, a
    // direct-cut push-to-exit and a fire alarm release; the other locks do not lock egress.
    let (code, report) = check("office.toml");
    assert_eq!(code, 0);
    assert_eq!(
        keys(&report["findings"]),
        ["OVERRIDE-MISSING rear", "SEC-DPS rear"]
    );
    assert_eq!(
        report["summary"],
        serde_json::json!({"errors": 0, "warnings": 2, "infos": 0})
    );
    assert_eq!(report["findings"][0]["citation"], "(practice)");
}

#[test]
fn clinic_findings_worked_out_by_hand() {
    let (code, report) = check("clinic.toml");
    assert_eq!(code, 1);
    assert_eq!(
        keys(&report["findings"]),
        [
            // The push-to-exit holds the maglock open for 10 s, not 30.
            "SR-PUSH-TO-EXIT entrance",
            // Controlled egress with a fire alarm release but no remote release.
            "CE-RELEASES ward-door",
            // A maglock on the stair discharge.
            "STAIR-DISCHARGE stair-exit",
            // A fail-secure strike from the stair back in, with no release at all.
            "STAIR-REENTRY stair-2",
            // The controller runs on mains: in an outage nobody can release the ward door.
            "EGRESS-TRAPPED ward",
            // The lock supply's battery runs out after 2 h: the fail-safe maglocks open.
            "OUTAGE-PERIMETER-OPEN entrance",
            "OUTAGE-PERIMETER-OPEN stair-exit",
            // ... and so does the fail-safe pharmacy strike, with the entrance open.
            "OUTAGE-EXPOSED pharmacy",
            // At t = 0 of an outage no outside door admits anyone: no key, no live reader.
            "SITE-LOCKOUT site",
            "SEC-DPS records-door",
            "FD-KEY-BOX site",
        ]
    );
    assert_eq!(
        report["summary"],
        serde_json::json!({"errors": 5, "warnings": 5, "infos": 1})
    );
    assert_eq!(
        report["findings"][0]["citation"],
        "IBC 2021 §1010.2.12; NFPA 101 2021 §7.2.1.6.2"
    );
}

#[test]
fn clinic_outage_traps_the_ward_until_the_lock_battery_runs_out() {
    let (code, report) = simulate("clinic.toml", "outage");
    assert_eq!(code, 1);
    assert_eq!(report["scenario"], "outage");
    assert_eq!(at_seconds(&report), [0, 7200]);
    let first = &report["moments"][0];
    assert_eq!(first["cause"], "mains lost");
    assert_eq!(first["areas"]["ward"]["can_exit"], false);
    assert_eq!(first["doors"]["ward-door"]["egress"], "blocked");
    // The direct-cut push-to-exit still releases the fail-safe entrance with the controller dead.
    assert_eq!(first["doors"]["entrance"]["egress"], "release");
    assert_eq!(first["doors"]["stair-exit"]["egress"], "delayed");
    let later = &report["moments"][1];
    assert_eq!(later["areas"]["ward"]["can_exit"], true);
    assert_eq!(later["areas"]["pharmacy"]["open_to_exterior"], true);
    assert_eq!(
        later["doors"]["entrance"],
        serde_json::json!({"lock": "unlocked", "powered": false, "egress": "free", "entry": "open"})
    );
    assert_eq!(
        keys(&report["findings"]),
        [
            "EGRESS-TRAPPED ward",
            "OUTAGE-EXPOSED pharmacy",
            "SITE-LOCKOUT site"
        ]
    );
    assert_eq!(report["findings"][0]["at_seconds"], 0);
    assert_eq!(report["findings"][1]["at_seconds"], 7200);
}

#[test]
fn clinic_outage_fire_reports_only_the_trapped_ward() {
    let (_, report) = simulate("clinic.toml", "outage-fire");
    assert_eq!(keys(&report["findings"]), ["EGRESS-TRAPPED ward"]);
}

#[test]
fn office_outage_moments_follow_the_batteries() {
    let (code, report) = simulate("office.toml", "outage");
    assert_eq!(code, 0);
    // The lock supply runs 60 min, the controller's UPS 240 min.
    assert_eq!(at_seconds(&report), [0, 3600, 14400]);
    let doors = |i: usize, door: &str| report["moments"][i]["doors"][door].clone();
    assert_eq!(doors(0, "office-entry")["lock"], "locked");
    assert_eq!(doors(1, "office-entry")["lock"], "unlocked");
    assert_eq!(doors(0, "front")["entry"], "credential");
    // With the lock supply dead, the reader cannot power the fail-secure front door open:
    // only the key gets in. The server room stays locked.
    assert_eq!(doors(1, "front")["entry"], "key");
    assert_eq!(doors(1, "server")["lock"], "locked");
    assert_eq!(doors(2, "front")["entry"], "key");
    assert_eq!(doors(2, "rear")["entry"], "blocked");
    assert!(report["findings"].as_array().unwrap().is_empty());
}

#[test]
fn office_fire_cuts_the_lock_supply() {
    let (_, report) = simulate("office.toml", "fire");
    assert_eq!(at_seconds(&report), [0]);
    let doors = &report["moments"][0]["doors"];
    assert_eq!(doors["office-entry"]["lock"], "unlocked");
    assert_eq!(doors["stair-2"]["lock"], "unlocked");
    assert_eq!(doors["front"]["lock"], "locked");
    assert_eq!(doors["stair-exit"]["entry"], "blocked");
}

#[test]
fn lockdown_takes_the_readers_away_but_not_the_releases() {
    let (_, report) = simulate("office.toml", "lockdown");
    let doors = &report["moments"][0]["doors"];
    assert_eq!(doors["front"]["entry"], "key");
    assert_eq!(doors["office-entry"]["entry"], "blocked");
    assert_eq!(doors["office-entry"]["egress"], "release");
}

#[test]
fn json_snapshots_of_every_scenario() {
    for site in ["office.toml", "clinic.toml"] {
        let (_, report) = check(site);
        insta::assert_json_snapshot!(format!("check-{site}"), report);
        for scenario in ["normal", "outage", "fire", "outage-fire", "lockdown"] {
            let (_, report) = simulate(site, scenario);
            insta::assert_json_snapshot!(format!("simulate-{site}-{scenario}"), report);
        }
    }
}

#[test]
fn the_example_replay_script_runs_on_the_office() {
    let site = example("office.toml");
    let script = example("replay/office-day.toml");
    let (code, report) = keyway_json(&[
        "replay",
        site.to_str().unwrap(),
        script.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let kinds: Vec<&str> = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..2], ["access_granted", "door_unlocked"]);
    assert!(kinds.contains(&"door_forced"), "{kinds:?}");
    assert!(
        kinds.contains(&"fire_alarm") && kinds.contains(&"lockdown_started"),
        "{kinds:?}"
    );
}
