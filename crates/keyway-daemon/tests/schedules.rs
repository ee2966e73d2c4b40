//! Schedules and holidays through the API: a site file's schedule changed (a holiday added
//! today locks its door at once), kept across a restart and set back to the file's; a
//! schedule of the console's own, named by credentials and levels, not removed while named.
//! A real server and SQLite file, on a virtual clock.

use serde_json::{Value, json};

mod support;

use support::{ADMIN, Server};

/// 2026-12-07 10:00 in Chicago: a Monday, business hours.
const MONDAY_MORNING: i64 = 1_796_659_200_000;

fn fresh(name: &str) -> Server {
    let data = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("api-{name}"));
    let _ = std::fs::remove_dir_all(&data);
    Server::start_at(data, MONDAY_MORNING)
}

fn schedule(server: &Server, id: &str) -> Value {
    let (_, all) = server.get("/api/schedules", Some(ADMIN));
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn a_holiday_added_today_locks_the_door_at_once_and_the_file_comes_back_on_reset() {
    let server = fresh("schedules-holiday");
    let front = server.door("front");
    assert_eq!(
        (front["lock"].as_str(), front["reason"].as_str()),
        (Some("unlocked"), Some("schedule"))
    );
    assert_eq!(
        schedule(&server, "business-hours"),
        json!({"id": "business-hours", "weekly": ["Mon-Fri 08:00-18:00"],
               "holidays": ["2026-12-25", "2027-01-01"], "origin": "site", "doors": ["front"]})
    );

    let (status, body) = server.post(
        "/api/schedules",
        Some(ADMIN),
        json!({"id": "business-hours", "weekly": ["Mon-Fri 08:00-18:00"],
               "holidays": ["2026-12-25", "2026-12-07"]}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["origin"], "site, changed");
    assert_eq!(body["holidays"], json!(["2026-12-07", "2026-12-25"]));
    let locked = server.wait_for_event(|e| e["kind"] == "door_locked" && e["door"] == "front");
    assert_eq!(locked["source"], "schedule");
    assert_eq!(server.door("front")["reason"], "locked");
    let (_, changed) = server.get(
        "/api/events?kind=schedule_changed&order=newest",
        Some(ADMIN),
    );
    assert_eq!(
        changed[0]["detail"],
        "schedule business-hours: Mon-Fri 08:00-18:00; holidays 2026-12-07, 2026-12-25"
    );
    assert_eq!(changed[0]["actor"], "KEYWAY_ADMIN_TOKEN");

    // Kept across a restart: still a holiday.
    let data = server.stop();
    let server = Server::start_at(data, MONDAY_MORNING);
    assert_eq!(server.door("front")["lock"], "locked");
    assert_eq!(
        schedule(&server, "business-hours")["origin"],
        "site, changed"
    );

    // Back to the file's: the door unlocks at once.
    let (status, body) =
        server.request("DELETE", "/api/schedules/business-hours", Some(ADMIN), None);
    assert_eq!(status, 204, "{body}");
    server.wait_for_event(|e| e["kind"] == "door_unlocked" && e["door"] == "front");
    assert_eq!(server.door("front")["reason"], "schedule");
    assert_eq!(schedule(&server, "business-hours")["origin"], "site");
    let (status, body) =
        server.request("DELETE", "/api/schedules/business-hours", Some(ADMIN), None);
    assert_eq!(status, 409);
    assert_eq!(
        body["error"],
        "schedule \"business-hours\" is the site file's, unchanged: change the file to remove it"
    );
    let (_, reset) = server.get("/api/events?kind=schedule_reset&order=newest", Some(ADMIN));
    assert_eq!(
        reset[0]["detail"],
        "schedule business-hours: Mon-Fri 08:00-18:00; holidays 2026-12-25, 2027-01-01, as the site file has it"
    );
}

#[test]
fn a_schedule_of_the_consoles_own_is_named_by_credentials_and_levels_and_kept_while_named() {
    let server = fresh("schedules-own");
    let weekends = json!({"id": "weekends", "weekly": ["Sat-Sun 09:00-17:00"]});
    let (status, body) = server.post("/api/schedules", Some(ADMIN), weekends);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["origin"], "console");
    let (_, site) = server.get("/api/site", Some(ADMIN));
    assert!(
        site["schedules"]
            .as_array()
            .unwrap()
            .contains(&json!({"id": "weekends"}))
    );

    let (status, body) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["server"], "schedule": "weekends"}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.post(
        "/api/levels",
        Some(ADMIN),
        json!({"id": "weekend-staff", "doors": ["front"], "schedule": "weekends"}),
    );
    assert_eq!(status, 201, "{body}");
    let badge = || {
        server
            .post(
                "/api/sim/badge",
                Some(ADMIN),
                json!({"door": "server", "credential": "1001"}),
            )
            .1
    };
    assert_eq!(badge()["reason"], "outside_schedule");
    // Every day, all day: the running controller grants at once.
    server.post(
        "/api/schedules",
        Some(ADMIN),
        json!({"id": "weekends", "weekly": ["Mon-Sun 00:00-24:00"]}),
    );
    assert_eq!(badge()["kind"], "access_granted");

    let (status, body) = server.request("DELETE", "/api/schedules/weekends", Some(ADMIN), None);
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"],
        "schedule \"weekends\" is named by 2 credentials or access levels: take it from them first"
    );
    server.request("DELETE", "/api/credentials/1001", Some(ADMIN), None);
    server.request("DELETE", "/api/levels/weekend-staff", Some(ADMIN), None);
    let (status, body) = server.request("DELETE", "/api/schedules/weekends", Some(ADMIN), None);
    assert_eq!(status, 204, "{body}");
    assert_eq!(schedule(&server, "weekends"), Value::Null);
    let (status, body) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["server"], "schedule": "weekends"}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "schedule: the site has no schedule \"weekends\""
    );
    let (status, _) = server.request("DELETE", "/api/schedules/weekends", Some(ADMIN), None);
    assert_eq!(status, 404);
}

#[test]
fn a_schedule_is_checked_as_the_site_file_would_be_and_is_an_admins() {
    let server = fresh("schedules-checked");
    let (status, body) = server.post(
        "/api/schedules",
        Some(ADMIN),
        json!({"id": "Night Shift", "weekly": ["Mon-Fry 22:00-06:00"], "holidays": ["25/12/2026"]}),
    );
    assert_eq!(status, 400);
    let error = body["error"].as_str().unwrap();
    for part in [
        "id \"Night Shift\": bad id: expected 1 to 64 characters of a-z, 0-9, - and _",
        "weekly \"Mon-Fry 22:00-06:00\": unknown day \"Fry\"",
        "holidays \"25/12/2026\": expected a date as YYYY-MM-DD",
    ] {
        assert!(error.contains(part), "{error}");
    }
    let (_, all) = server.get("/api/schedules", Some(ADMIN));
    assert_eq!(all.as_array().unwrap().len(), 1, "nothing stored: {all}");
    let operator = server.token("operator");
    let viewer = server.token("viewer");
    assert_eq!(server.get("/api/schedules", Some(&operator)).0, 200);
    assert_eq!(server.get("/api/schedules", Some(&viewer)).0, 403);
    let night = json!({"id": "night", "weekly": ["Mon-Fri 22:00-06:00"]});
    assert_eq!(server.post("/api/schedules", Some(&operator), night).0, 403);
}
