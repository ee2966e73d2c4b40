//! An operator's controls over one door through the API: a hold until a time (which ends by
//! itself, is logged, and survives a restart until its end) and a momentary unlock. A real
//! server and SQLite file, on a virtual clock.

use serde_json::{Value, json};

mod support;

use support::{ADMIN, SUNDAY_NIGHT, Server};

const HOUR: i64 = 3_600_000;

fn events_of(server: &Server, kind: &str) -> Vec<Value> {
    let (_, events) = server.get(
        &format!("/api/events?kind={kind}&order=newest"),
        Some(ADMIN),
    );
    events.as_array().unwrap().clone()
}

fn newest_seq(server: &Server) -> u64 {
    let (_, events) = server.get("/api/events?order=newest&limit=1", Some(ADMIN));
    events[0]["seq"].as_u64().unwrap()
}

#[test]
fn a_hold_until_a_time_ends_by_itself_and_survives_a_restart_until_then() {
    let server = Server::start("hold-until");
    // Sunday 03:00 in Chicago (the demo site's zone): held unlocked until 05:00, local time.
    let (status, body) = server.post(
        "/api/doors/server/unlock",
        Some(ADMIN),
        json!({"until": "2026-12-06T05:00"}),
    );
    assert_eq!(status, 200, "{body}");
    let door = server.door("server");
    assert_eq!(door["lock"], "unlocked");
    assert_eq!(door["reason"], "operator_hold");
    assert_eq!(door["hold"], "unlock");
    assert_eq!(door["hold_until"], "2026-12-06T05:00:00.000-06:00");
    let hold = &events_of(&server, "operator_hold")[0];
    assert_eq!(hold["detail"], "unlock until 2026-12-06T05:00:00.000-06:00");
    assert_eq!(hold["actor"], "KEYWAY_ADMIN_TOKEN");

    // Refused, and nothing changes: an end that has passed, a release with an end, a body
    // that is not the one asked for.
    for (path, body) in [
        (
            "/api/doors/server/lock",
            json!({"until": "2026-12-06T02:00"}),
        ),
        (
            "/api/doors/server/release",
            json!({"until": "2026-12-06T06:00"}),
        ),
        ("/api/doors/server/lock", json!({"until": "soon"})),
        ("/api/doors/server/lock", json!({"for": 60})),
    ] {
        let (status, answer) = server.post(path, Some(ADMIN), body.clone());
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }
    assert_eq!(server.door("server")["hold"], "unlock");

    // A restart before the end brings the hold back with its end.
    let last = newest_seq(&server);
    let server = Server::start_on(server.stop());
    let door = server.door("server");
    assert_eq!(door["lock"], "unlocked");
    assert_eq!(door["hold_until"], "2026-12-06T05:00:00.000-06:00");
    let started = server
        .wait_for_event(|e| e["kind"] == "controller_started" && e["seq"].as_u64() > Some(last));
    assert!(
        started["detail"]
            .as_str()
            .unwrap()
            .contains("hold unlock until 2026-12-06T05:00:00.000-06:00 server"),
        "{started}"
    );

    // At its end the door goes back to normal operation, and the log says why it locked.
    server.clock.advance(2 * HOUR - 1);
    assert_eq!(server.door("server")["lock"], "unlocked");
    server.clock.advance(1);
    let ended = server.wait_for_event(|e| e["kind"] == "hold_ended");
    assert_eq!(ended["door"], "server");
    assert_eq!(ended["source"], "timer");
    server.wait_for_event(|e| e["kind"] == "door_locked" && e["door"] == "server");
    let door = server.door("server");
    assert_eq!(door["lock"], "locked");
    assert_eq!(door["hold"], Value::Null);
    assert_eq!(door["hold_until"], Value::Null);

    // The ended hold is no longer stored: a restart at the old time does not bring it back.
    let server = Server::start_on(server.stop());
    assert_eq!(server.door("server")["hold"], Value::Null);
    let data = server.stop();
    assert!(matches!(
        keyway_daemon::verify_log(&data, None).unwrap(),
        keyway_store::Verification::Intact { .. }
    ));
}

#[test]
fn a_hold_that_ended_while_the_daemon_was_down_is_not_restored() {
    let server = Server::start("hold-ended-while-down");
    let (status, body) = server.post(
        "/api/doors/server/lock",
        Some(ADMIN),
        json!({"until": "2026-12-06T09:30:00Z"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.door("server")["hold"], "lock");
    // Down for an hour: back at 10:00 UTC, half an hour after the hold's end.
    let last = newest_seq(&server);
    let server = Server::start_at(server.stop(), SUNDAY_NIGHT + HOUR);
    let door = server.door("server");
    assert_eq!(door["hold"], Value::Null);
    assert_eq!(door["reason"], "locked");
    let started = server
        .wait_for_event(|e| e["kind"] == "controller_started" && e["seq"].as_u64() > Some(last));
    assert!(
        started["detail"]
            .as_str()
            .unwrap()
            .ends_with("restored: nothing"),
        "{started}"
    );
}

#[test]
fn a_momentary_unlock_lasts_the_doors_unlock_seconds_and_is_for_operators() {
    let server = Server::start("momentary");
    let viewer = server.token("viewer");
    let (status, _) = server.post("/api/doors/server/momentary", Some(&viewer), json!({}));
    assert_eq!(status, 403);
    let (status, _) = server.post("/api/doors/nowhere/momentary", Some(ADMIN), json!({}));
    assert_eq!(status, 404);
    assert_eq!(server.door("server")["lock"], "locked");

    let (status, body) = server.post("/api/doors/server/momentary", Some(ADMIN), json!({}));
    assert_eq!(status, 200, "{body}");
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["operator_hold", "door_unlocked"]);
    assert_eq!(body["events"][0]["detail"], "momentary");
    let door = server.door("server");
    assert_eq!(door["reason"], "access_granted");
    assert_eq!(door["hold"], Value::Null);
    // The server room's unlock_seconds is 4 (examples/office.toml).
    server.clock.advance(3_999);
    assert_eq!(server.door("server")["lock"], "unlocked");
    server.clock.advance(1);
    server.wait_for_event(|e| e["kind"] == "door_locked" && e["door"] == "server");
    assert_eq!(server.door("server")["lock"], "locked");
}

#[test]
fn a_time_of_day_is_its_next_occurrence_in_the_sites_zone() {
    let server = Server::start("hold-time-of-day");
    // It is Sunday 03:00 in Chicago: 04:00 is within the hour, 02:30 is Monday's.
    for (until, end) in [
        ("04:00", "2026-12-06T04:00:00.000-06:00"),
        ("02:30", "2026-12-07T02:30:00.000-06:00"),
    ] {
        let (status, body) = server.post(
            "/api/doors/server/lock",
            Some(ADMIN),
            json!({ "until": until }),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(server.door("server")["hold_until"], end, "{until}");
    }
    let (status, _) = server.post(
        "/api/doors/server/lock",
        Some(ADMIN),
        json!({"until": "25:00"}),
    );
    assert_eq!(status, 400);
}
