//! Access levels through the API: checked as the site file would be, applied to the running
//! controller at once, kept across a restart, and not removed while a credential holds one.
//! A real server and SQLite file, on a virtual clock (Sunday 03:00 in Chicago: business
//! hours are not on).

use serde_json::{Value, json};

mod support;

use support::{ADMIN, Server};

fn badge(server: &Server, door: &str, credential: &str) -> Value {
    let (status, body) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": door, "credential": credential}),
    );
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_level_opens_its_doors_on_its_schedule_and_changes_take_effect_at_once() {
    let server = Server::start("levels");
    let (status, body) = server.post(
        "/api/levels",
        Some(ADMIN),
        json!({"id": "staff", "doors": ["stair-2", "server"], "schedule": "business-hours"}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["doors"], json!(["server", "stair-2"]));
    let (status, body) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "holder": "Ann", "levels": ["staff"]}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        badge(&server, "server", "1001")["reason"],
        "outside_schedule"
    );
    assert_eq!(badge(&server, "front", "1001")["reason"], "not_permitted");

    // Replaced without its schedule: the running controller opens the doors now.
    let (status, _) = server.post(
        "/api/levels",
        Some(ADMIN),
        json!({"id": "staff", "doors": ["stair-2", "server"]}),
    );
    assert_eq!(status, 201);
    assert_eq!(badge(&server, "server", "1001")["kind"], "access_granted");
    assert_eq!(badge(&server, "stair-2", "1001")["kind"], "access_granted");

    // A second level, taken by the credential: both open.
    server.post(
        "/api/levels",
        Some(ADMIN),
        json!({"id": "lobby", "doors": ["front"]}),
    );
    let (status, body) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "holder": "Ann", "levels": ["staff", "lobby"]}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(badge(&server, "front", "1001")["kind"], "access_granted");

    // Held: not removed, and the refusal says by how many.
    let (status, body) = server.request("DELETE", "/api/levels/staff", Some(ADMIN), None);
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"],
        "level \"staff\" is held by 1 credential: take it from them first"
    );
    let (status, _) = server.request("DELETE", "/api/levels/nowhere", Some(ADMIN), None);
    assert_eq!(status, 404);

    // Kept across a restart, and still opening.
    let server = Server::start_on(server.stop());
    let (_, levels) = server.get("/api/levels", Some(ADMIN));
    let ids: Vec<&str> = levels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["lobby", "staff"]);
    assert_eq!(badge(&server, "stair-2", "1001")["kind"], "access_granted");

    // Taken from the credential, then removed: the door is no longer opened by it.
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "holder": "Ann", "levels": ["lobby"]}),
    );
    let (status, body) = server.request("DELETE", "/api/levels/staff", Some(ADMIN), None);
    assert_eq!(status, 204, "{body}");
    assert_eq!(badge(&server, "stair-2", "1001")["reason"], "not_permitted");
    assert_eq!(badge(&server, "front", "1001")["kind"], "access_granted");
    // A new level after a removal takes a place of its own: `lobby` is not disturbed.
    server.post(
        "/api/levels",
        Some(ADMIN),
        json!({"id": "night", "doors": ["server"]}),
    );
    assert_eq!(badge(&server, "front", "1001")["kind"], "access_granted");
    assert_eq!(badge(&server, "server", "1001")["reason"], "not_permitted");

    let (_, events) = server.get("/api/events?order=newest&limit=500", Some(ADMIN));
    let changes: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("access_level_"))
        .map(|e| format!("{} {}", e["kind"], e["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [
            "\"access_level_added\" level night: doors server",
            "\"access_level_removed\" level staff",
            "\"access_level_added\" level lobby: doors front",
            "\"access_level_replaced\" level staff: doors server, stair-2",
            "\"access_level_added\" level staff: doors server, stair-2, schedule business-hours",
        ]
    );
}

#[test]
fn a_level_is_checked_as_the_site_file_would_be_and_is_an_admins() {
    let server = Server::start("levels-checked");
    for (body, problem) in [
        (
            json!({"id": "Staff!", "doors": ["front"]}),
            "id \"Staff!\": bad id: expected 1 to 64 characters of a-z, 0-9, - and _",
        ),
        (
            json!({"id": "staff", "doors": ["vault"]}),
            "doors: the site has no door \"vault\"",
        ),
        (
            json!({"id": "staff", "doors": ["*", "front"]}),
            "doors [\"*\", \"front\"]: \"*\" (every door) cannot be mixed with door ids",
        ),
        (
            json!({"id": "staff", "doors": []}),
            "doors: a level opens at least one door (or \"*\", every door)",
        ),
        (
            json!({"id": "staff", "doors": ["front"], "schedule": "weekends"}),
            "schedule: the site has no schedule \"weekends\"",
        ),
    ] {
        let (status, answer) = server.post("/api/levels", Some(ADMIN), body.clone());
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"], problem, "{body}");
    }
    let (_, levels) = server.get("/api/levels", Some(ADMIN));
    assert_eq!(levels, json!([]), "nothing stored");
    // A credential naming a level that does not exist is refused.
    let (status, answer) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "levels": ["staff"]}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "levels: there is no access level \"staff\""
    );

    let operator = server.token("operator");
    let viewer = server.token("viewer");
    assert_eq!(server.get("/api/levels", Some(&operator)).0, 200);
    assert_eq!(server.get("/api/levels", Some(&viewer)).0, 403);
    let every = json!({"id": "all", "doors": ["*"]});
    assert_eq!(
        server.post("/api/levels", Some(&operator), every.clone()).0,
        403
    );
    assert_eq!(server.post("/api/levels", Some(ADMIN), every).0, 201);
}
