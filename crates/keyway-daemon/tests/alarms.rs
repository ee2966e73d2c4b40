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
