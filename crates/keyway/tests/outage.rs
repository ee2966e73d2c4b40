//! The daemon and the simulator share one model: after the mains are cut, the doors the API
//! reports match what `keyway simulate --scenario outage` predicts at t = 0.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Daemon;
use serde_json::Value;

fn check_site(name: &str) {
    let site = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args([
            "simulate",
            site.to_str().unwrap(),
            "--scenario",
            "outage",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let predicted: Value = serde_json::from_slice(&output.stdout).unwrap();
    let predicted = &predicted["moments"][0]["doors"];

    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("outage-{name}"));
    let _ = std::fs::remove_dir_all(&data);
    let daemon = Daemon::start(&data, Some(&site));
    let (_, status) = daemon.request("GET", "/api/status", None).unwrap();
    for circuit in status["circuits"].as_array().unwrap() {
        if circuit["fed_by"].is_null() {
            let (code, body) = daemon
                .request(
                    "POST",
                    &format!("/api/sim/power/{}", circuit["id"].as_str().unwrap()),
                    Some(r#"{"live": false}"#),
                )
                .unwrap();
            assert_eq!(code, 200, "{body}");
        }
    }
    let (_, doors) = daemon.request("GET", "/api/doors", None).unwrap();
    let doors = doors.as_array().unwrap();
    assert_eq!(doors.len(), predicted.as_object().unwrap().len());
    for door in doors {
        let id = door["id"].as_str().unwrap();
        assert_eq!(
            door["lock"], predicted[id]["lock"],
            "{name}: door {id} lock"
        );
        assert_eq!(
            door["powered"], predicted[id]["powered"],
            "{name}: door {id} power"
        );
    }
}

#[test]
fn office_outage_matches_the_simulation() {
    check_site("office.toml");
}

#[test]
fn clinic_outage_matches_the_simulation() {
    check_site("clinic.toml");
}
