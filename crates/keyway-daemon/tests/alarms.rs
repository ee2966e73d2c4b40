//! Alarms against a real daemon: raised and cleared by their own events, acknowledged once
//! by an operator with a note, stored and logged, and still acknowledged after a restart.

mod support;

use serde_json::{Value, json};
use support::{ADMIN, Server};

fn alarms(server: &Server) -> Value {
    let (status, body) = server.get("/api/alarms", Some(ADMIN));
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_forced_door_is_an_alarm_until_it_closes_and_is_acknowledged_once() {
    let server = Server::start("alarms");
    let viewer = server.token("viewer");
    let operator = server.token("operator");
    // Opened without a badge or REX: forced.
    let (status, body) = server.post("/api/sim/door/server", Some(ADMIN), json!({ "open": true }));
    assert_eq!(status, 200, "{body}");
    let list = alarms(&server);
    assert_eq!(
        (list["active"].as_u64(), list["unacknowledged"].as_u64()),
        (Some(1), Some(1)),
        "{list}"
    );
    let alarm = &list["alarms"][0];
    assert_eq!(
        (alarm["kind"].as_str(), alarm["door"].as_str()),
        (Some("door_forced"), Some("server"))
    );
    let seq = alarm["seq"].as_u64().unwrap();
    let path = format!("/api/alarms/{seq}/acknowledge");

    assert_eq!(
        server.post(&path, Some(&viewer), json!({})).0,
        403,
        "a viewer only sees"
    );
    assert_eq!(
        server
            .post("/api/alarms/999999/acknowledge", Some(&operator), json!({}))
            .0,
        404
    );
    let long = server.post(&path, Some(&operator), json!({ "note": "x".repeat(501) }));
    assert_eq!(long.0, 400, "{}", long.1);
    let (status, acked) = server.post(&path, Some(&operator), json!({ "note": "guard sent" }));
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["acknowledged"]["note"], "guard sent");
    assert!(
        acked["acknowledged"]["by"]
            .as_str()
            .unwrap()
            .starts_with("operator of the test")
    );
    let (status, again) = server.post(&path, Some(&operator), json!({}));
    assert_eq!(status, 409, "{again}");
    let logged = server.wait_for_event(|e| e["kind"] == "alarm_acknowledged");
    assert_eq!(
        logged["detail"],
        format!("#{seq} door_forced server: guard sent")
    );

    // Still active until the door closes; then neither active nor waiting.
    assert_eq!(alarms(&server)["active"], 1);
    server.post(
        "/api/sim/door/server",
        Some(ADMIN),
        json!({ "open": false }),
    );
    server.wait_for_event(|e| e["kind"] == "alarm_cleared");
    let list = alarms(&server);
    assert_eq!(
        (list["active"].as_u64(), list["unacknowledged"].as_u64()),
        (Some(0), Some(0)),
        "{list}"
    );

    let data = server.stop();
    let server = Server::start_on(data);
    let list = alarms(&server);
    let kept = &list["alarms"][0];
    assert_eq!(kept["seq"].as_u64(), Some(seq), "{list}");
    assert_eq!(kept["acknowledged"]["note"], "guard sent", "{list}");
    assert_eq!(kept["active"], false);
}

#[test]
fn lost_mains_is_an_alarm_per_circuit_until_power_returns() {
    let server = Server::start("alarms-power");
    let (status, _) = server.post(
        "/api/sim/power/mains",
        Some(ADMIN),
        json!({ "live": false }),
    );
    assert_eq!(status, 200);
    let list = alarms(&server);
    let circuits: Vec<&str> = list["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "power_lost")
        .map(|a| a["circuit"].as_str().unwrap())
        .collect();
    assert!(circuits.contains(&"mains"), "{list}");
    server.post("/api/sim/power/mains", Some(ADMIN), json!({ "live": true }));
    server.wait_for_event(|e| e["kind"] == "power_restored" && e["circuit"] == "mains");
    let list = alarms(&server);
    let mains = list["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["circuit"] == "mains")
        .unwrap();
    assert_eq!(mains["active"], false, "{list}");
}

#[test]
fn a_storage_fault_is_listed_while_it_lasts_though_its_record_waits_for_the_disk() {
    use keyway_daemon::storage::{Fault, Faults};
    let faults = Faults::default();
    let data = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("alarms-storage");
    let _ = std::fs::remove_dir_all(&data);
    let server = Server::start_with(data, Some(faults.clone()));
    faults.fail(Fault::DiskFull);
    // The door acts; its record and the fault's wait in memory.
    server.post("/api/sim/rex/office-entry", Some(ADMIN), json!({}));
    let list = alarms(&server);
    let live = &list["alarms"][0];
    assert_eq!(
        (
            live["kind"].as_str(),
            live["seq"].is_null(),
            live["recorded"].as_bool()
        ),
        (Some("storage_fault"), true, Some(false)),
        "{list}"
    );
    assert_eq!(live["active"], true);
    assert!(live["detail"].as_str().unwrap().contains("full"), "{live}");
    assert_eq!(live["at"], "2026-12-06T03:00:00.000-06:00");
    assert_eq!(
        (list["active"].as_u64(), list["unacknowledged"].as_u64()),
        (Some(1), Some(1))
    );
    // The disk back: the fault is stored with its clearing, and listed as any other. (The
    // next write tries the disk at once, as it would in a building; the writer's own retry
    // runs on the machine's time, which the test does not wait for.)
    faults.heal();
    let (status, body) = server.post("/api/sim/rex/office-entry", Some(ADMIN), json!({}));
    assert_eq!(status, 200, "{body}");
    server.wait_for_event(|e| e["kind"] == "storage_restored");
    let list = alarms(&server);
    let stored = &list["alarms"][0];
    assert_eq!(stored["kind"], "storage_fault", "{list}");
    assert!(stored["seq"].is_u64(), "{list}");
    assert_eq!(
        stored["active"], false,
        "cleared by storage_restored: {list}"
    );
    assert!(
        list["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| !a["seq"].is_null()),
        "no unrecorded one left: {list}"
    );
}
