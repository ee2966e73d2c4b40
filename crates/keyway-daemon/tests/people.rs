//! Who is in the building, through `keyway serve` on the people test site: occupancy,
//! anti-passback and its operator reset, the muster list during a fire alarm, and all of it
//! kept across a restart.

use std::path::PathBuf;

use keyway_daemon::SiteSource;
use serde_json::{Value, json};

mod support;
use support::{ADMIN, Server};

fn people_site() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keyway/tests/people/site.toml")
}

fn start(data: PathBuf) -> Server {
    Server::start_site(data, SiteSource::File(people_site()), None)
}

fn badge(server: &Server, door: &str, side: &str, credential: &str) -> Value {
    let (status, event) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": door, "side": side, "credential": credential}),
    );
    assert_eq!(status, 200, "{event}");
    event
}

/// `AREA: CREDENTIAL (HOLDER), …` for every area with someone in it.
fn occupancy(server: &Server) -> Vec<String> {
    let (status, body) = server.get("/api/occupancy", Some(ADMIN));
    assert_eq!(status, 200, "{body}");
    body["areas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["count"].as_u64().unwrap() > 0)
        .map(|a| {
            let people: Vec<String> = a["occupants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    format!(
                        "{} ({})",
                        p["credential"].as_str().unwrap(),
                        p["holder"].as_str().unwrap()
                    )
                })
                .collect();
            format!("{}: {}", a["id"].as_str().unwrap(), people.join(", "))
        })
        .collect()
}

/// `CREDENTIAL in AREA` for everyone still to muster; `None` when no muster is on.
fn to_muster(server: &Server) -> Option<Vec<String>> {
    let (status, body) = server.get("/api/muster", Some(ADMIN));
    assert_eq!(status, 200, "{body}");
    if body["active"] != true {
        assert_eq!(body["to_muster"], json!([]));
        return None;
    }
    assert_eq!(
        body["count"].as_u64().unwrap() as usize,
        body["to_muster"].as_array().unwrap().len()
    );
    Some(
        body["to_muster"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} in {}{}",
                    p["credential"].as_str().unwrap(),
                    p["area"].as_str().unwrap(),
                    if p["maybe_left"] == true {
                        " (may have left)"
                    } else {
                        ""
                    }
                )
            })
            .collect(),
    )
}

#[test]
fn occupancy_anti_passback_and_muster_through_the_api_and_across_a_restart() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("people-api");
    let _ = std::fs::remove_dir_all(&data);
    let server = start(data.clone());
    for (number, holder) in [("1001", "Alice"), ("1002", "Bob")] {
        let (status, body) = server.post(
            "/api/credentials",
            Some(ADMIN),
            json!({"number": number, "holder": holder, "doors": ["*"]}),
        );
        assert!(status == 200 || status == 201, "{body}");
    }
    assert_eq!(
        badge(&server, "front", "entry", "1001")["kind"],
        "access_granted"
    );
    assert_eq!(
        badge(&server, "front", "entry", "1002")["kind"],
        "access_granted"
    );
    assert_eq!(
        badge(&server, "lab", "entry", "1002")["kind"],
        "access_granted"
    );
    assert_eq!(
        occupancy(&server),
        ["lobby: 1001 (Alice)", "lab: 1002 (Bob)"]
    );

    // The server-room zone is hard: a second entry without leaving is refused until an
    // operator forgives the holder.
    assert_eq!(
        badge(&server, "trap-outer", "entry", "1001")["kind"],
        "access_granted"
    );
    server.clock.advance(10_000);
    let refused = badge(&server, "trap-outer", "entry", "1001");
    assert_eq!(refused["kind"], "access_denied");
    assert_eq!(refused["reason"], "anti_passback");
    let viewer = server.token("viewer");
    let (status, _) = server.post(
        "/api/anti-passback/forgive",
        Some(&viewer),
        json!({"credential": "1001"}),
    );
    assert_eq!(status, 403, "a viewer cannot forgive");
    let (status, body) = server.post(
        "/api/anti-passback/forgive",
        Some(ADMIN),
        json!({"zone": "attic"}),
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = server.post(
        "/api/anti-passback/forgive",
        Some(ADMIN),
        json!({"credential": "1001"}),
    );
    assert_eq!(status, 200, "{body}");
    let forgiven = server.wait_for_event(|e| e["kind"] == "anti_passback_forgiven");
    assert_eq!(forgiven["credential"], "1001");
    assert_eq!(forgiven["actor"], "KEYWAY_ADMIN_TOKEN");
    assert_eq!(
        badge(&server, "trap-outer", "entry", "1001")["kind"],
        "access_granted"
    );
    // An exit reader: logged with its side.
    server.clock.advance(10_000);
    let out = badge(&server, "trap-outer", "exit", "1001");
    assert_eq!(out["kind"], "access_granted");
    assert_eq!(out["detail"], "exit reader");
    assert_eq!(
        badge(&server, "trap-outer", "entry", "1001")["kind"],
        "access_granted"
    );
    assert_eq!(
        occupancy(&server),
        ["lab: 1002 (Bob)", "mantrap: 1001 (Alice)"]
    );
    assert_eq!(to_muster(&server), None, "no fire alarm, no muster");

    let (status, _) = server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": true}));
    assert_eq!(status, 200);
    assert_eq!(
        to_muster(&server).unwrap(),
        ["1001 in mantrap", "1002 in lab"]
    );
    let (status, mustered) = server.post(
        "/api/sim/muster",
        Some(ADMIN),
        json!({"station": "assembly", "credential": "1001"}),
    );
    assert_eq!(status, 200, "{mustered}");
    assert_eq!(mustered["kind"], "mustered");
    assert_eq!(mustered["credential"], "1001");
    assert_eq!(mustered["detail"], "station assembly");
    let (status, body) = server.post(
        "/api/sim/muster",
        Some(ADMIN),
        json!({"station": "nowhere", "credential": "1001"}),
    );
    assert_eq!(status, 404, "{body}");
    // Bob leaves the lab by its REX: his area is unknown, but he is still to muster.
    let (status, _) = server.post("/api/sim/rex/lab", Some(ADMIN), json!({}));
    assert_eq!(status, 200);
    assert_eq!(to_muster(&server).unwrap(), ["1002 in lab (may have left)"]);
    let (_, body) = server.get("/api/occupancy", Some(ADMIN));
    assert_eq!(
        body["unknown"],
        json!([{"credential": "1002", "holder": "Bob"}])
    );

    // A restart keeps who is where, and the fire alarm's muster goes on.
    let data = server.stop();
    let server = start(data);
    assert_eq!(to_muster(&server).unwrap(), ["1002 in lab (may have left)"]);
    assert_eq!(occupancy(&server), Vec::<String>::new());
    let (status, _) = server.post("/api/fire-alarm/reset", Some(ADMIN), json!({}));
    assert_eq!(status, 200);
    assert_eq!(to_muster(&server), None);
    // Alice, who mustered at the car park, comes back in; Bob is still not known inside.
    assert_eq!(
        badge(&server, "front", "entry", "1001")["kind"],
        "access_granted"
    );
    assert_eq!(occupancy(&server), ["lobby: 1001 (Alice)"]);
    let data = server.stop();
    assert!(matches!(
        keyway_daemon::verify_log(&data, None).unwrap(),
        keyway_store::Verification::Intact { .. }
    ));
}

#[test]
fn emergency_modes_through_the_api_are_kept_across_a_restart() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("people-modes");
    let _ = std::fs::remove_dir_all(&data);
    let server = start(data.clone());
    for (number, staff) in [("1001", false), ("1002", true)] {
        server.post(
            "/api/credentials",
            Some(ADMIN),
            json!({"number": number, "doors": ["*"], "staff": staff}),
        );
    }
    let viewer = server.token("viewer");
    let (status, _) = server.post("/api/emergency", Some(&viewer), json!({"mode": "hold"}));
    assert_eq!(status, 403);
    let (status, body) = server.post("/api/emergency", Some(ADMIN), json!({"mode": "panic"}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("\"hold\""),
        "{body}"
    );
    let (status, body) = server.post(
        "/api/emergency",
        Some(ADMIN),
        json!({"mode": "hold", "areas": ["gym"]}),
    );
    assert_eq!(status, 400, "{body}");

    // Hold for the lab only: its door admits staff, the vault's does not care.
    let (status, body) = server.post(
        "/api/emergency",
        Some(ADMIN),
        json!({"mode": "hold", "areas": ["lab"]}),
    );
    assert_eq!(status, 200, "{body}");
    let event = server.wait_for_event(|e| e["kind"] == "emergency_mode");
    assert_eq!(event["detail"], "mode hold");
    let (_, status) = server.get("/api/status", Some(ADMIN));
    assert_eq!(status["mode"], "hold");
    assert_eq!(status["mode_areas"], json!(["lab"]));
    assert_eq!(badge(&server, "lab", "entry", "1001")["reason"], "lockdown");
    assert_eq!(
        badge(&server, "lab", "entry", "1002")["kind"],
        "access_granted"
    );

    // Restarted, the hold is still in force for the lab.
    let data = server.stop();
    let server = start(data);
    let (_, status) = server.get("/api/status", Some(ADMIN));
    assert_eq!(status["mode"], "hold");
    assert_eq!(status["mode_areas"], json!(["lab"]));
    server.clock.advance(10_000);
    assert_eq!(badge(&server, "lab", "entry", "1001")["reason"], "lockdown");

    // Evacuate: a muster, and the library's maglock released; lockdown through its own API
    // still ends it.
    server.post("/api/emergency", Some(ADMIN), json!({"mode": "evacuate"}));
    let (_, muster) = server.get("/api/muster", Some(ADMIN));
    assert_eq!(muster["active"], true);
    assert_eq!(server.door("library")["lock"], "unlocked");
    assert_eq!(server.door("library")["reason"], "mode_release");
    server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    let (_, status) = server.get("/api/status", Some(ADMIN));
    assert_eq!(status["mode"], "lockdown");
    assert_eq!(status["lockdown"], true);
    assert_eq!(status["mode_areas"], Value::Null);
    assert_eq!(server.door("library")["lock"], "locked");
    let data = server.stop();
    let server = start(data);
    let (_, status) = server.get("/api/status", Some(ADMIN));
    assert_eq!(
        status["mode"], "lockdown",
        "a whole-site lockdown is restored as ever"
    );
    server.post("/api/lockdown", Some(ADMIN), json!({"active": false}));
    let (_, status) = server.get("/api/status", Some(ADMIN));
    assert_eq!(status["mode"], "none");
    let data = server.stop();
    let server = start(data);
    let (_, status) = server.get("/api/status", Some(ADMIN));
    assert_eq!(status["mode"], "none");
    server.stop();
}

#[test]
fn a_pin_after_the_card_duress_as_an_alarm_and_uses_kept_across_a_restart() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("people-pin");
    let _ = std::fs::remove_dir_all(&data);
    let server = start(data.clone());
    let (status, body) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["library"], "pin": "12x4"}),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "holder": "Alice", "doors": ["library"], "pin": "1234", "duress_pin": "9999", "uses": 3}),
    );
    assert!(status == 200 || status == 201, "{body}");
    assert_eq!(body["pin"], "1234");
    assert_eq!(body["uses"], 3);

    let pending = badge(&server, "library", "entry", "1001");
    assert_eq!(pending["kind"], "access_pending");
    let (status, body) = server.post(
        "/api/sim/pin",
        Some(ADMIN),
        json!({"door": "library", "pin": "1234"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"][0]["kind"], "access_granted");
    let (status, body) = server.post(
        "/api/sim/pin",
        Some(ADMIN),
        json!({"door": "front", "pin": "1234"}),
    );
    assert_eq!(status, 400, "{body}");

    // The duress PIN: granted, and an alarm that waits for a person.
    server.clock.advance(10_000);
    badge(&server, "library", "entry", "1001");
    let (_, body) = server.post(
        "/api/sim/pin",
        Some(ADMIN),
        json!({"door": "library", "pin": "9999"}),
    );
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.starts_with(&["access_granted", "duress"]),
        "{kinds:?}"
    );
    let (_, alarms) = server.get("/api/alarms", Some(ADMIN));
    let duress = alarms["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "duress")
        .unwrap_or_else(|| panic!("{alarms}"));
    assert_eq!(duress["detail"], "credential 1001");

    // Two of its three uses are spent; after a restart, one is left.
    let data = server.stop();
    let server = start(data);
    server.clock.advance(10_000);
    badge(&server, "library", "entry", "1001");
    let (_, body) = server.post(
        "/api/sim/pin",
        Some(ADMIN),
        json!({"door": "library", "pin": "1234"}),
    );
    assert_eq!(body["events"][0]["kind"], "access_granted", "{body}");
    server.clock.advance(10_000);
    let refused = badge(&server, "library", "entry", "1001");
    assert_eq!(refused["kind"], "access_denied");
    assert_eq!(refused["reason"], "used_up");
    server.stop();
}
