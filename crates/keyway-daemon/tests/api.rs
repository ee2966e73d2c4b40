//! The HTTP API against a real server on a loopback port, with a real SQLite file: every
//! path, every role and every kind of error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use keyway_daemon::SiteSource;
use keyway_daemon::clock::{Clock, VirtualClock};
use keyway_daemon::storage::{Fault, Faults};
use serde_json::{Value, json};

mod support;

use support::{ADMIN, SUNDAY_NIGHT, Server};

#[test]
fn health_and_openapi_need_no_token_metrics_need_one() {
    let server = Server::start("open");
    assert_eq!(server.get("/healthz", None).0, 200);
    let (status, spec) = server.get("/api/openapi.json", None);
    assert_eq!(status, 200);
    assert_eq!(spec["openapi"], "3.1.0");
    // Metrics tell whether the building is in lockdown: not for anyone.
    assert_eq!(server.get("/metrics", None).0, 401);
    let viewer = server.token("viewer");
    let (status, metrics) = server.get("/metrics", Some(&viewer));
    assert_eq!(status, 200);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("keyway_controller_alive 1"),
        "{metrics}"
    );
}

#[test]
fn every_route_of_the_router_is_in_the_openapi_document() {
    let spec: Value = serde_json::from_str(keyway_daemon::OPENAPI).unwrap();
    // Every `.route(PATH, METHODS)` of the router (all in api.rs), however it is laid out
    // on lines: the path and each method of it.
    let mut routes = 0;
    for source in [include_str!("../src/api.rs")] {
        for (start, _) in source.match_indices(".route(") {
            let rest = source[start + ".route(".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else {
                continue;
            };
            let (path, rest) = rest.split_once('"').unwrap();
            // The methods: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let methods = &rest[..end];
            let mut found = 0;
            for method in ["get", "post", "put", "delete", "patch"] {
                for (i, _) in methods.match_indices(&format!("{method}(")) {
                    let before = methods[..i].chars().last();
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    found += 1;
                    assert!(
                        spec["paths"][path].get(method).is_some(),
                        "{method} {path} is routed but not in openapi.json"
                    );
                }
            }
            assert!(found > 0, "no method found for {path} in {methods:?}");
            routes += 1;
        }
    }
    assert!(
        routes >= 56,
        "only {routes} routes found: the parse is wrong"
    );
}

#[test]
fn tokens_and_roles() {
    let server = Server::start("roles");
    let viewer = server.token("viewer");
    let operator = server.token("operator");
    assert_eq!(server.get("/api/doors", None).0, 401);
    assert_eq!(server.get("/api/doors", Some("not-a-token")).0, 401);
    assert_eq!(server.get("/api/doors", Some(&viewer)).0, 200);
    // A viewer may not command; an operator may not manage credentials or tokens.
    let (status, body) = server.post("/api/doors/front/unlock", Some(&viewer), json!({}));
    assert_eq!(status, 403);
    assert!(
        body["error"].as_str().unwrap().contains("operator"),
        "{body}"
    );
    assert_eq!(
        server
            .post("/api/doors/front/unlock", Some(&operator), json!({}))
            .0,
        200
    );
    assert_eq!(
        server
            .post("/api/credentials", Some(&operator), json!({"number": "1"}))
            .0,
        403
    );
    assert_eq!(
        server
            .post("/api/tokens", Some(&operator), json!({"role": "admin"}))
            .0,
        403
    );
    assert_eq!(
        server
            .post("/api/tokens", Some(ADMIN), json!({"role": "root"}))
            .0,
        400
    );
}

#[test]
fn a_badge_through_the_simulated_reader_unlocks_and_relocks() {
    let server = Server::start("badge");
    let (status, _) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "holder": "Alice", "doors": ["server"]}),
    );
    assert_eq!(status, 201);
    let (status, decision) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "server", "credential": "1001"}),
    );
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["kind"], "access_granted");
    assert_eq!(decision["credential"], "1001");
    let seq = decision["seq"].as_u64().unwrap();
    assert_eq!(decision["hash"].as_str().unwrap().len(), 64);
    // Acknowledged means stored: it is in the log at once.
    let (_, events) = server.get(&format!("/api/events?after={}", seq - 1), Some(ADMIN));
    assert_eq!(events[0]["seq"].as_u64(), Some(seq));
    assert_eq!(server.door("server")["lock"], "unlocked");
    // The server door unlocks for 4 s.
    server.clock.advance(3_999);
    assert_eq!(server.door("server")["lock"], "unlocked");
    server.clock.advance(1);
    assert_eq!(server.door("server")["lock"], "locked");
    let (_, denied) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "front", "credential": "1001"}),
    );
    assert_eq!(
        (denied["kind"].as_str(), denied["reason"].as_str()),
        (Some("access_denied"), Some("not_permitted"))
    );
    let (_, unknown) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "front", "credential": "9999"}),
    );
    assert_eq!(unknown["reason"], "unknown_credential");
}

#[test]
fn events_page_back_from_the_newest() {
    let server = Server::start("events-newest");
    for _ in 0..30 {
        server.post("/api/sim/rex/front", Some(ADMIN), json!({}));
    }
    let (_, all) = server.get("/api/events?limit=10000", Some(ADMIN));
    let all: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let last = *all.last().unwrap();
    let seqs = |body: &Value| -> Vec<u64> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    // The newest first, then the page before it.
    let (status, page) = server.get("/api/events?order=newest&limit=10", Some(ADMIN));
    assert_eq!(status, 200, "{page}");
    let page = seqs(&page);
    assert_eq!(page, (last - 9..=last).rev().collect::<Vec<_>>());
    let (_, next) = server.get(
        &format!("/api/events?order=newest&limit=10&before={}", page[9]),
        Some(ADMIN),
    );
    assert_eq!(
        seqs(&next),
        (last - 19..=last - 10).rev().collect::<Vec<_>>()
    );
    // Past the first event: what is left, then nothing.
    let (_, start) = server.get("/api/events?order=newest&before=3", Some(ADMIN));
    assert_eq!(seqs(&start), vec![2, 1]);
    let (_, none) = server.get("/api/events?order=newest&before=1", Some(ADMIN));
    assert_eq!(seqs(&none), Vec::<u64>::new());
    for bad in [
        "/api/events?order=sideways",
        "/api/events?order=newest&after=3",
        "/api/events?before=3",
        "/api/events?order=newest&before=9223372036854775808",
    ] {
        let (status, body) = server.get(bad, Some(ADMIN));
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[test]
fn each_door_says_why_its_lock_is_where_it_is() {
    let server = Server::start("reasons");
    let reason = |door: &str| server.door(door)["reason"].as_str().unwrap().to_string();
    assert_eq!(reason("server"), "locked");
    assert_eq!(reason("stair-exit"), "no_lock");
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["server"]}),
    );
    server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "server", "credential": "1001"}),
    );
    assert_eq!(reason("server"), "access_granted");
    server.post("/api/doors/server/unlock", Some(ADMIN), json!({}));
    assert_eq!(reason("server"), "operator_hold");
    server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    assert_eq!(reason("server"), "lockdown");
    server.post("/api/sim/rex/office-entry", Some(ADMIN), json!({}));
    assert_eq!(reason("office-entry"), "egress_release");
    // The lock supply's feed cut: on battery the commands still decide; once its hour of
    // battery is gone, each lock is in its unpowered position, whatever is commanded.
    server.post(
        "/api/sim/power/lock-psu",
        Some(ADMIN),
        json!({"live": false}),
    );
    assert_eq!(reason("server"), "lockdown");
    server.clock.advance(3_600_000);
    assert_eq!(reason("server"), "no_power");
    assert_eq!(server.door("server")["lock"], "locked");
    assert_eq!(reason("office-entry"), "no_power");
    assert_eq!(server.door("office-entry")["lock"], "unlocked");
    server.post(
        "/api/sim/power/lock-psu",
        Some(ADMIN),
        json!({"live": true}),
    );
    assert_eq!(reason("server"), "lockdown");
    // The fire alarm releases the office maglock, and cuts the lock supply
    // (`fire_alarm_cutoff`): that is why every lock on it is where it is.
    server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": true}));
    assert_eq!(reason("office-entry"), "fire_alarm");
    assert_eq!(reason("server"), "fire_alarm");
    assert_eq!(server.door("server")["lock"], "locked");
}

#[test]
fn a_virtual_clock_is_moved_through_the_api_and_its_timers_run() {
    let server = Server::start("sim-clock");
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["server"]}),
    );
    server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "server", "credential": "1001"}),
    );
    assert_eq!(server.door("server")["lock"], "unlocked");
    let before = server.clock.wall();
    let (status, body) = server.post(
        "/api/sim/clock",
        Some(ADMIN),
        json!({"advance_seconds": 4.0}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["wall"].as_i64(), Some(before + 4_000));
    // The 4-second unlock ended with the step.
    assert_eq!(server.door("server")["lock"], "locked");
    let (_, events) = server.get("/api/events?limit=100", Some(ADMIN));
    let advanced = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "clock_advanced")
        .cloned()
        .unwrap();
    assert_eq!(advanced["detail"], "4 s");
    assert_eq!(advanced["source"], "sim");
    // Only forward, finite and bounded.
    for bad in [
        json!({"advance_seconds": 0}),
        json!({"advance_seconds": -1}),
        json!({"advance_seconds": 1e12}),
        json!({"seconds": 1}),
    ] {
        let (status, body) = server.post("/api/sim/clock", Some(ADMIN), bad.clone());
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(server.clock.wall(), before + 4_000);
}

#[test]
fn a_step_of_the_wall_clock_reads_the_schedule_again_and_stretches_no_unlock() {
    let server = Server::start("wall-step");
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["*"]}),
    );
    assert_eq!(server.door("front")["lock"], "locked");
    // Monday 10:00 in Chicago: 31 hours later on the wall clock, one second on the monotonic.
    server.clock.advance(1_000);
    server.clock.step_wall(31 * 3_600_000 - 1_000);
    assert_eq!(server.door("front")["lock"], "unlocked", "business hours");
    // The writer commits it on its own thread: look until it is there.
    let unlocked = server.wait_for_event(|e| e["kind"] == "door_unlocked" && e["door"] == "front");
    assert_eq!(
        unlocked["at"], "2026-12-07T10:00:00.000-06:00",
        "stamped on the wall clock"
    );
    // A badge at the server room (4 s), then the wall clock steps an hour back: the door
    // still locks 4 s after the badge.
    let (_, granted) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "server", "credential": "1001"}),
    );
    assert_eq!(granted["kind"], "access_granted");
    server.clock.step_wall(-3_600_000);
    server.clock.advance(3_999);
    assert_eq!(server.door("server")["lock"], "unlocked");
    server.clock.advance(1);
    assert_eq!(server.door("server")["lock"], "locked");
    // Back before 08:00 on the wall clock, so the schedule no longer holds the front open.
    assert_eq!(
        server.door("front")["lock"],
        "unlocked",
        "09:00 is still open"
    );
    server.clock.step_wall(-2 * 3_600_000);
    assert_eq!(server.door("front")["lock"], "locked", "07:00: closed");
}

#[test]
fn errors_are_pointed_and_change_nothing() {
    let server = Server::start("errors");
    let (status, body) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "nowhere", "credential": "1"}),
    );
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("nowhere"));
    assert_eq!(
        server
            .post("/api/doors/nowhere/unlock", Some(ADMIN), json!({}))
            .0,
        404
    );
    assert_eq!(
        server
            .post("/api/sim/power/grid", Some(ADMIN), json!({"live": false}))
            .0,
        404
    );
    assert_eq!(
        server
            .request("DELETE", "/api/credentials/none", Some(ADMIN), None)
            .0,
        404
    );
    let (status, body) = server.post("/api/lockdown", Some(ADMIN), json!({"activ": true}));
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("activ"), "{body}");
    assert_eq!(
        server
            .request("POST", "/api/lockdown", Some(ADMIN), Some("{not json"))
            .0,
        400
    );
    let (status, body) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "7", "doors": ["vault"]}),
    );
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("vault"));
    let big = format!(
        "{{\"door\": \"front\", \"credential\": \"{}\"}}",
        "x".repeat(100_000)
    );
    assert_eq!(
        server
            .request("POST", "/api/sim/badge", Some(ADMIN), Some(&big))
            .0,
        413
    );
    assert_eq!(server.get("/api/events?limit=0", Some(ADMIN)).0, 400);
    assert_eq!(server.get("/api/nothing", Some(ADMIN)).0, 404);
    // Nothing above stored a credential or an event (the start logged controller_started).
    let (_, credentials) = server.get("/api/credentials", Some(ADMIN));
    assert_eq!(credentials, json!([]));
    assert_eq!(
        stored_kinds(&server),
        ["controller_started", "token_created"]
    );
}

#[test]
fn operator_commands_lockdown_fire_alarm_and_simulated_hardware() {
    let server = Server::start("commands");
    assert_eq!(
        server
            .post("/api/doors/rear/unlock", Some(ADMIN), json!({}))
            .0,
        200
    );
    assert_eq!(server.door("rear")["lock"], "unlocked");
    assert_eq!(
        server
            .post("/api/doors/rear/lock", Some(ADMIN), json!({}))
            .0,
        200
    );
    assert_eq!(server.door("rear")["lock"], "locked");
    assert_eq!(
        server
            .post("/api/doors/rear/release", Some(ADMIN), json!({}))
            .0,
        200
    );
    let (_, body) = server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    assert_eq!(body["events"][0]["kind"], "lockdown_started");
    assert_eq!(
        server
            .post("/api/lockdown", Some(ADMIN), json!({"active": false}))
            .0,
        200
    );
    let (_, body) = server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": true}));
    assert_eq!(body["events"][0]["kind"], "fire_alarm");
    // The office maglock's supply is cut by the fire alarm: unlocked until the reset.
    assert_eq!(server.door("office-entry")["lock"], "unlocked");
    server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": false}));
    assert_eq!(server.door("office-entry")["lock"], "unlocked");
    let (_, body) = server.post("/api/fire-alarm/reset", Some(ADMIN), json!({}));
    assert_eq!(body["events"][0]["kind"], "fire_alarm_reset");
    assert_eq!(server.door("office-entry")["lock"], "locked");
    let (_, body) = server.post("/api/sim/rex/office-entry", Some(ADMIN), json!({}));
    assert_eq!(body["events"][0]["kind"], "rex");
    let (_, body) = server.post("/api/sim/door/server", Some(ADMIN), json!({"open": true}));
    let kinds: Vec<_> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["door_opened", "door_forced"]);
    assert_eq!(server.door("server")["alarm"], "forced");
    server.post("/api/sim/door/server", Some(ADMIN), json!({"open": false}));
    assert_eq!(server.door("server")["alarm"], Value::Null);
    let (_, body) = server.post("/api/sim/power/mains", Some(ADMIN), json!({"live": false}));
    assert_eq!(body["events"][0]["kind"], "power_lost");
    let (_, status) = server.get("/api/status", Some(ADMIN));
    let lock_psu = status["circuits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "lock-psu")
        .unwrap();
    assert_eq!(lock_psu["on_battery"], true);
    assert!(lock_psu["battery_seconds_left"].as_f64().unwrap() > 3500.0);
}

#[test]
fn credentials_list_delete_and_csv_import_all_or_nothing() {
    let server = Server::start("credentials");
    let csv = "number,holder,doors,schedule,valid_from,valid_until\n1001,\"Smith, Alice\",front;server,business-hours,,2027-01-01T00:00:00\n1002,Bob,*,,,\n";
    let (status, body) = server.request("POST", "/api/credentials/import", Some(ADMIN), Some(csv));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 2);
    let bad = "1003,Carol,front,,,\n1004,Dan,vault,,,\n";
    let (status, body) = server.request("POST", "/api/credentials/import", Some(ADMIN), Some(bad));
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("line 2")
            && body["error"].as_str().unwrap().contains("vault"),
        "{body}"
    );
    let (_, list) = server.get("/api/credentials", Some(ADMIN));
    let numbers: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(numbers, ["1001", "1002"], "the bad file imported nothing");
    assert_eq!(list[0]["holder"], "Smith, Alice");
    assert_eq!(
        server
            .request("DELETE", "/api/credentials/1002", Some(ADMIN), None)
            .0,
        204
    );
    let (_, denied) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "front", "credential": "1002"}),
    );
    assert_eq!(denied["reason"], "unknown_credential");
}

#[test]
fn an_import_preview_lists_every_bad_line_and_stores_nothing() {
    let server = Server::start("import-preview");
    let csv = "number,holder,doors,schedule,valid_from,valid_until\n1001,Ann,front,,,\n1002,Bo,vault,,,\n1003,Cy,front,weekends,,\n1001,Di,front,,,\n1004,Ed\n";
    let (status, body) = server.request(
        "POST",
        "/api/credentials/import?preview=true",
        Some(ADMIN),
        Some(csv),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["preview"], true);
    assert_eq!(body["rows"], 1);
    assert_eq!(body["bad_lines"], 4);
    let lines: Vec<u64> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert_eq!(
        body["problems"][1]["problem"],
        "schedule: the site has no schedule \"weekends\""
    );
    assert_eq!(
        body["problems"][2]["problem"],
        "number \"1001\" is already on line 2"
    );
    // A good file previewed is not stored either.
    let good = "1001,Ann,front,,,\n";
    let (_, body) = server.request(
        "POST",
        "/api/credentials/import?preview=true",
        Some(ADMIN),
        Some(good),
    );
    assert_eq!(
        (body["rows"].as_u64(), body["bad_lines"].as_u64()),
        (Some(1), Some(0))
    );
    let (_, list) = server.get("/api/credentials", Some(ADMIN));
    assert_eq!(list, json!([]), "a preview stores nothing");
    let (_, events) = server.get(
        "/api/events?kind=credentials_imported&order=newest",
        Some(ADMIN),
    );
    assert_eq!(events, json!([]), "nor logs an import");
    let operator = server.token("operator");
    let (status, _) = server.request(
        "POST",
        "/api/credentials/import?preview=true",
        Some(&operator),
        Some(good),
    );
    assert_eq!(status, 403, "previewing is an admin's, as importing is");
}

#[test]
fn a_disabled_credential_is_kept_refused_and_enabled_again() {
    let server = Server::start("credential-disabled");
    let card = |disabled: bool| {
        json!({"number": "1001", "holder": "Ann", "doors": ["front"],
               "valid_until": "2027-01-01T00:00", "disabled": disabled})
    };
    let (status, body) = server.post("/api/credentials", Some(ADMIN), card(true));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["disabled"], true);
    // Times are shown in the site's zone, with the offset, as the API takes them back.
    assert_eq!(body["valid_until"], "2027-01-01T00:00:00.000-06:00");
    let badge = json!({"door": "front", "credential": "1001"});
    let (_, denied) = server.post("/api/sim/badge", Some(ADMIN), badge.clone());
    assert_eq!(denied["reason"], "disabled");
    let (_, changed) = server.get(
        "/api/events?kind=credential_added&order=newest",
        Some(ADMIN),
    );
    assert_eq!(changed[0]["detail"], "holder \"Ann\", disabled");
    // Kept across a restart, still disabled.
    let server = Server::start_on(server.stop());
    let (_, page) = server.get("/api/credentials/search?q=ann", Some(ADMIN));
    assert_eq!(page["credentials"][0]["disabled"], true);
    let (_, denied) = server.post("/api/sim/badge", Some(ADMIN), badge.clone());
    assert_eq!(denied["reason"], "disabled");
    // Enabled again with what was listed (its times as they were shown).
    let mut again = page["credentials"][0].clone();
    again["disabled"] = json!(false);
    let (status, body) = server.post("/api/credentials", Some(ADMIN), again);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["valid_until"], "2027-01-01T00:00:00.000-06:00");
    let (_, granted) = server.post("/api/sim/badge", Some(ADMIN), badge);
    assert_eq!(granted["kind"], "access_granted");
}

/// Opens `/api/stream` with these extra header lines; returns the reader past the headers.
fn open_stream(server: &Server, extra: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            format!(
                "GET /api/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN}\r\n{extra}\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("200"), "{line}");
    reader
}

/// The next event's data on a stream.
fn next_event(reader: &mut BufReader<TcpStream>) -> Value {
    let mut line = String::new();
    for _ in 0..50 {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(json) = line.trim_end().strip_prefix("data: ") {
            return serde_json::from_str::<Value>(json).unwrap();
        }
    }
    panic!("no event on the stream");
}

#[test]
fn the_stream_delivers_new_events_live() {
    let server = Server::start("stream");
    // Last-Event-ID 2 (after the start's controller_started and token_created): everything
    // after it, so no event can fall between connecting and subscribing.
    let mut reader = open_stream(&server, "Last-Event-ID: 2\r\n");
    server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    let event = next_event(&mut reader);
    assert_eq!(event["kind"], "lockdown_started");
    assert_eq!(event["seq"], 3);
}

#[test]
fn a_reconnecting_stream_misses_nothing_and_repeats_nothing() {
    let server = Server::start("stream-resume");
    server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    server.post("/api/lockdown", Some(ADMIN), json!({"active": false}));
    server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    // 1 is controller_started, 2 token_created (the admin token), 3 to 5 the lockdowns.
    let mut reader = open_stream(&server, "Last-Event-ID: 3\r\n");
    assert_eq!(next_event(&mut reader)["seq"], 4);
    assert_eq!(next_event(&mut reader)["seq"], 5);
    server.post("/api/lockdown", Some(ADMIN), json!({"active": false}));
    let live = next_event(&mut reader);
    assert_eq!(
        (live["seq"].as_u64(), live["kind"].as_str()),
        (Some(6), Some("lockdown_ended"))
    );
    // A Last-Event-ID that is no sequence number is refused.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "GET /api/stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nLast-Event-ID: 99999999999999999999\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
}

#[test]
fn restart_keeps_credentials_events_holds_lockdown_and_an_unreset_fire_alarm() {
    let server = Server::start("restart");
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["*"]}),
    );
    server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "front", "credential": "1001"}),
    );
    server.post("/api/doors/rear/unlock", Some(ADMIN), json!({}));
    server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": true}));
    let (_, before) = server.get("/api/events?limit=1000", Some(ADMIN));
    let data = server.stop();

    let server = Server::start_on(data);
    let (_, status) = server.get("/api/status", Some(ADMIN));
    assert_eq!(status["lockdown"], true);
    assert_eq!(status["fire_alarm"], true);
    // The operator hold on the rear door came back; lockdown outranks it, so it is locked now.
    let before = before.as_array().unwrap();
    // The start's own event is committed by the writer on its thread: wait for it.
    let first_new = before.len() as u64 + 1;
    server.wait_for_event(|e| e["seq"] == first_new);
    let (_, after) = server.get("/api/events?limit=1000", Some(ADMIN));
    assert_eq!(
        &after.as_array().unwrap()[..before.len()],
        &before[..],
        "events kept as they were"
    );
    // The restart says what it restored, once, instead of logging the lockdown and the fire
    // alarm again as if they had just begun.
    let new: Vec<&Value> = after.as_array().unwrap()[before.len()..].iter().collect();
    assert_eq!(new[0]["kind"], "controller_started", "{new:?}");
    let detail = new[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("fire alarm not reset")
            && detail.contains("lockdown")
            && detail.contains("hold unlock rear"),
        "{detail}"
    );
    assert!(
        new.iter()
            .all(|e| e["kind"] != "lockdown_started" && e["kind"] != "fire_alarm"),
        "{new:?}"
    );
    let (_, credentials) = server.get("/api/credentials", Some(ADMIN));
    assert_eq!(credentials[0]["number"], "1001");
    // The fire alarm cut the lock supply, so the fail-secure rear door is locked whatever is
    // commanded; after the reset and the end of the lockdown the hold shows.
    server.post("/api/fire-alarm/reset", Some(ADMIN), json!({}));
    server.post("/api/lockdown", Some(ADMIN), json!({"active": false}));
    assert_eq!(
        server.door("rear")["lock"],
        "unlocked",
        "the hold survived the restart"
    );
    let data = server.stop();
    assert!(matches!(
        keyway_daemon::verify_log(&data, None).unwrap(),
        keyway_store::Verification::Intact { .. }
    ));
}

#[test]
fn boot_puts_every_relay_at_rest_before_anything_else() {
    use keyway_core::site::DoorIdx;
    use keyway_daemon::hardware::SimulatedOutputs;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let site =
            std::sync::Arc::new(keyway_core::parse_site("demo", keyway_daemon::DEMO_SITE).unwrap());
        let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("boot-relays");
        let _ = std::fs::remove_dir_all(&data);
        let store = keyway_store::Store::open(&data).unwrap();
        let (live, _) = tokio::sync::broadcast::channel(16);
        let clock: std::sync::Arc<dyn keyway_daemon::clock::Clock> =
            std::sync::Arc::new(VirtualClock::new(SUNDAY_NIGHT));
        let (writer, _thread) = keyway_daemon::writer::Writer::start(
            Box::new(store),
            live,
            std::sync::Arc::clone(&clock),
        );
        let outputs = SimulatedOutputs::default();
        let changes = std::sync::Arc::clone(&outputs.changes);
        // Restored: an operator hold that unlocks the rear door as soon as the controller runs.
        let rear = site.find_door("rear").unwrap();
        let service = keyway_daemon::service::Service::start(
            std::sync::Arc::clone(&site),
            keyway_core::credentials::CredentialStore::new(),
            Vec::new(),
            writer,
            Box::new(outputs),
            vec![keyway_core::controller::Input::Unlock { door: rear }],
            clock,
        );
        service.snapshot().await.unwrap();
        let changes = changes.lock().unwrap().clone();
        let n = site.doors.len();
        let at_rest: Vec<(DoorIdx, bool)> = (0..n as u32).map(|d| (DoorIdx(d), false)).collect();
        assert_eq!(changes[..n], at_rest[..], "every relay at rest first");
        assert!(
            changes[n..].contains(&(rear, true)),
            "then the restored hold energizes the rear relay: {changes:?}"
        );
    });
}

/// The kinds of every stored event, in order, once their sequence numbers run 1, 2, 3, …
fn stored_kinds(server: &Server) -> Vec<String> {
    let (_, events) = server.get("/api/events?limit=1000", Some(ADMIN));
    let events = events.as_array().unwrap();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], i as u64 + 1, "no gap in the log: {events:?}");
    }
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_full_disk_never_vetoes_the_fire_alarm_and_no_door_moves_unrecorded() {
    let faults = Faults::default();
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-disk-full");
    let _ = std::fs::remove_dir_all(&data);
    let server = Server::start_with(data, Some(faults.clone()));
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["*"]}),
    );
    assert_eq!(server.get("/healthz", None).0, 200);
    assert_eq!(server.door("office-entry")["lock"], "locked");

    faults.fail(Fault::DiskFull);
    // A badge still decides and its door moves; the answer says the record is not durable.
    let (status, body) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "server", "credential": "1001"}),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["durable"], false);
    assert!(
        body["error"].as_str().unwrap().contains("disk is full"),
        "{body}"
    );
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["access_granted", "door_unlocked"], "{body}");
    assert_eq!(server.door("server")["lock"], "unlocked");
    // The fire alarm acts at the doors although nothing can be written.
    let (status, body) = server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": true}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["durable"], false, "{body}");
    assert_eq!(body["events"][0]["kind"], "fire_alarm", "{body}");
    let (_, status_now) = server.get("/api/status", Some(ADMIN));
    assert_eq!(status_now["fire_alarm"], true);
    assert_eq!(
        server.door("office-entry")["lock"],
        "unlocked",
        "the fail-safe maglock is released"
    );
    // Health and metrics say so.
    let (status, health) = server.get("/healthz", None);
    assert_eq!(status, 503);
    assert_eq!(health["reasons"][0]["component"], "storage", "{health}");
    let (_, metrics) = server.get("/metrics", Some(ADMIN));
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(metrics.contains("keyway_storage_healthy 0"), "{metrics}");
    assert!(
        !metrics.contains("keyway_storage_write_failures_total 0\n"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("keyway_storage_buffered_events 0\n"),
        "{metrics}"
    );

    // Space returns: the next command lands, and everything that waited lands before it.
    faults.heal();
    let (status, body) = server.post("/api/sim/rex/office-entry", Some(ADMIN), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.get("/healthz", None).0, 200);
    let kinds = stored_kinds(&server);
    assert_eq!(
        kinds,
        [
            "controller_started",
            "token_created",
            "credential_added",
            "access_granted",
            "door_unlocked",
            "storage_fault",
            "fire_alarm",
            // The fire alarm cuts the lock supply: the office maglock and the stair's
            // fail-safe lock open, the server room's fail-secure strike locks.
            "door_unlocked",
            "door_locked",
            "door_unlocked",
            // Taken while storage was still failing: it waited with the rest.
            "rex",
            "storage_restored",
        ],
        "every door that moved is recorded, in order"
    );
    let (_, events) = server.get("/api/events?limit=1000", Some(ADMIN));
    let restored = &events[11];
    assert_eq!(restored["source"], "storage");
    assert_eq!(restored["detail"], "7 events waited; 0 dropped");
    assert!(
        events[5]["detail"]
            .as_str()
            .unwrap()
            .contains("disk is full"),
        "{events}"
    );
    assert_eq!(events[0]["source"], "boot");
    assert_eq!(
        events[1]["source"], "boot",
        "the admin token made known at start"
    );
    assert_eq!(
        (
            events[2]["source"].as_str(),
            events[2]["credential"].as_str()
        ),
        (Some("api"), Some("1001"))
    );
    assert_eq!(events[3]["source"], "sim");
    assert_eq!(events[3]["actor"], "KEYWAY_ADMIN_TOKEN", "{events}");
    // The latched fire alarm was stored with its events: a restart brings it back.
    let data = server.stop();
    assert!(matches!(
        keyway_daemon::verify_log(&data, None).unwrap(),
        keyway_store::Verification::Intact {
            events: 12,
            unkeyed: 0
        }
    ));
    let server = Server::start_on(data);
    let (_, status_now) = server.get("/api/status", Some(ADMIN));
    assert_eq!(status_now["fire_alarm"], true);
}

#[test]
fn a_stalled_disk_delays_no_door_and_the_answer_comes_without_durability() {
    let faults = Faults::default();
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-disk-stalled");
    let _ = std::fs::remove_dir_all(&data);
    let server = Server::start_with(data, Some(faults.clone()));
    // The disk stops answering (without failing) for as long as the test says.
    let (writes_before, _) = faults.counts();
    faults.hold();
    let addr = server.addr;
    let alarm = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let body = r#"{"active": true}"#;
        write!(
            stream,
            "POST /api/sim/fire-alarm HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    faults.wait_for_held_write(writes_before);
    // The writer is stuck in its write; the doors have moved already.
    assert_eq!(server.door("office-entry")["lock"], "unlocked");
    // The caller is answered once its wait (2 s on the service's clock) is over.
    while !alarm.is_finished() {
        server.clock.advance(500);
        std::thread::yield_now();
    }
    let response = alarm.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains(r#""durable":false"#), "{response}");
    assert!(response.contains("fire_alarm"), "{response}");
    faults.release();
    let fire = server.wait_for_event(|e| e["kind"] == "fire_alarm");
    assert_eq!(
        fire["seq"], 3,
        "after controller_started and token_created, without a gap"
    );
}

#[test]
fn a_disk_that_fails_its_writes_loses_no_lockdown_and_no_event() {
    let faults = Faults::default();
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-disk-io");
    let _ = std::fs::remove_dir_all(&data);
    let server = Server::start_with(data, Some(faults.clone()));
    server.wait_for_event(|e| e["kind"] == "controller_started");
    // One more write succeeds, then the disk answers I/O errors (as a failing disk, or one
    // turned read-only, does).
    faults.fail_after(1, Fault::Io);
    let (status, body) = server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    assert_eq!(status, 200, "the write before the failure lands: {body}");
    let (status, body) = server.post("/api/lockdown", Some(ADMIN), json!({"active": false}));
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("disk I/O error"),
        "{body}"
    );
    assert_eq!(body["events"][0]["kind"], "lockdown_ended");
    let (_, now) = server.get("/api/status", Some(ADMIN));
    assert_eq!(
        now["lockdown"], false,
        "the lockdown ended although storage failed"
    );
    let (status, body) = server.post("/api/lockdown", Some(ADMIN), json!({"active": true}));
    assert_eq!(status, 503, "{body}");
    faults.heal();
    let (status, body) = server.post("/api/doors/rear/unlock", Some(ADMIN), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        stored_kinds(&server),
        [
            "controller_started",
            "token_created",
            "lockdown_started",
            "lockdown_ended",
            "storage_fault",
            "lockdown_started",
            // The rear hold moves nothing during the lockdown, but who set it is logged.
            "operator_hold",
            "storage_restored",
        ]
    );
    // The latched state is the last one: lockdown on, the hold kept beneath it.
    let data = server.stop();
    let server = Server::start_on(data);
    let (_, now) = server.get("/api/status", Some(ADMIN));
    assert_eq!(now["lockdown"], true);
    server.post("/api/lockdown", Some(ADMIN), json!({"active": false}));
    assert_eq!(
        server.door("rear")["lock"],
        "unlocked",
        "the hold stored while storage failed"
    );
}

#[test]
fn a_reset_while_the_panel_is_still_in_alarm_is_refused_and_logged() {
    let server = Server::start("fire-level");
    server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": true}));
    assert_eq!(server.door("office-entry")["lock"], "unlocked");
    let (status, body) = server.post("/api/fire-alarm/reset", Some(ADMIN), json!({}));
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("still active"),
        "{body}"
    );
    let (_, now) = server.get("/api/status", Some(ADMIN));
    assert_eq!(now["fire_alarm"], true, "the release did not end");
    assert_eq!(server.door("office-entry")["lock"], "unlocked");
    // The panel goes quiet: that alone ends nothing; the reset by hand then does.
    let (_, body) = server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": false}));
    assert_eq!(body["events"], json!([]));
    assert_eq!(server.door("office-entry")["lock"], "unlocked");
    let (status, body) = server.post("/api/fire-alarm/reset", Some(ADMIN), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.door("office-entry")["lock"], "locked");
    let refused = server.wait_for_event(|e| e["kind"] == "fire_alarm_reset_refused");
    assert_eq!(refused["actor"], "KEYWAY_ADMIN_TOKEN", "{refused}");
}

#[test]
fn the_simulated_hardware_never_drives_a_real_reader() {
    // The demo office with its readers on a real bus: a serial device nobody is on (the bus
    // is retried, its readers stay off-line).
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-real-bus");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let site = dir.join("site.toml");
    std::fs::write(
        &site,
        format!(
            "{}\n[[bus]]\nid = \"default\"\ndevice = \"/nonexistent/ttyKEYWAY\"\n",
            keyway_daemon::DEMO_SITE
        ),
    )
    .unwrap();
    let server = Server::start_site(dir.join("data"), SiteSource::File(site), None);
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["*"]}),
    );
    let (status, body) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "front", "credential": "1001"}),
    );
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("\"front\"")
            && error.contains("OSDP address 1")
            && error.contains("/nonexistent/ttyKEYWAY"),
        "{error}"
    );
    assert_eq!(server.door("front")["lock"], "locked");
    // What is not real is still simulated: the REX and the door contact, the power.
    assert_eq!(
        server.post("/api/sim/rex/front", Some(ADMIN), json!({})).0,
        200
    );
    assert_eq!(
        server
            .post("/api/sim/power/mains", Some(ADMIN), json!({"live": false}))
            .0,
        200
    );
    // The bus's device cannot be opened: the daemon says it is unhealthy, and why.
    let started = std::time::Instant::now();
    let health = loop {
        let (status, health) = server.get("/healthz", None);
        if status == 503 {
            break health;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{health}");
        std::thread::yield_now();
    };
    assert_eq!(health["reasons"][0]["component"], "bus default", "{health}");
    assert!(
        health["reasons"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/ttyKEYWAY"),
        "{health}"
    );
    // The refused badge left no event; the REX did, from the simulation.
    let rex = server.wait_for_event(|e| e["kind"] == "rex");
    assert_eq!(rex["source"], "sim");
    assert_eq!(
        stored_kinds(&server)
            .iter()
            .filter(|k| k.starts_with("access"))
            .count(),
        0
    );
}

#[test]
fn tokens_have_names_are_listed_without_secrets_and_revoked_at_once() {
    let server = Server::start("token-names");
    let (status, created) = server.post(
        "/api/tokens",
        Some(ADMIN),
        json!({"role": "operator", "name": "front desk"}),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "front desk");
    assert_eq!(created["role"], "operator");
    let id = created["id"].as_str().unwrap().to_string();
    let desk = created["token"].as_str().unwrap().to_string();
    // Names are unique, bounded and printable.
    let (status, _) = server.post(
        "/api/tokens",
        Some(ADMIN),
        json!({"role": "viewer", "name": "front desk"}),
    );
    assert_eq!(status, 409);
    for bad in ["", " padded", "a\u{7}bell", &"x".repeat(65)] {
        let (status, body) = server.post(
            "/api/tokens",
            Some(ADMIN),
            json!({"role": "viewer", "name": bad}),
        );
        assert_eq!(status, 400, "{bad:?}: {body}");
    }
    assert_eq!(
        server
            .post("/api/tokens", Some(ADMIN), json!({"role": "viewer"}))
            .0,
        400
    );
    let (_, list) = server.get("/api/tokens", Some(ADMIN));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["KEYWAY_ADMIN_TOKEN", "front desk"]);
    assert!(!list.to_string().contains(&desk), "no secret in the list");
    assert_eq!(server.get("/api/tokens", Some(&desk)).0, 403);
    // The desk's command carries its name.
    server.post("/api/doors/rear/unlock", Some(&desk), json!({}));
    let hold = server.wait_for_event(|e| e["kind"] == "door_unlocked" && e["door"] == "rear");
    assert_eq!(
        (hold["source"].as_str(), hold["actor"].as_str()),
        (Some("api"), Some("front desk"))
    );
    // Credential changes say who made them.
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["*"]}),
    );
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["front"]}),
    );
    server.request("DELETE", "/api/credentials/1001", Some(ADMIN), None);
    server.request(
        "POST",
        "/api/credentials/import",
        Some(ADMIN),
        Some("1002,Bob,*,,,\n1003,Carol,front,,,\n"),
    );
    // Revoked: refused at once.
    assert_eq!(
        server
            .request("DELETE", &format!("/api/tokens/{id}"), Some(ADMIN), None)
            .0,
        204
    );
    assert_eq!(server.get("/api/doors", Some(&desk)).0, 401);
    assert_eq!(
        server
            .request("DELETE", &format!("/api/tokens/{id}"), Some(ADMIN), None)
            .0,
        404
    );
    let (_, events) = server.get("/api/events?limit=100", Some(ADMIN));
    let audit: Vec<(String, String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["kind"].as_str().unwrap().contains("credential")
                || e["kind"].as_str().unwrap().starts_with("token")
        })
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap_or("").to_string(),
                e["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let kinds: Vec<&str> = audit.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "token_created",
            "token_created",
            "credential_added",
            "credential_replaced",
            "credential_removed",
            "credentials_imported",
            "token_revoked"
        ]
    );
    assert!(
        audit[1..]
            .iter()
            .all(|(_, actor, _)| actor == "KEYWAY_ADMIN_TOKEN"),
        "{audit:?}"
    );
    assert_eq!(audit[5].2, "2 credentials");
    assert!(
        audit[6].2.contains("front desk") && audit[6].2.contains(&id),
        "{audit:?}"
    );
}

#[test]
fn bad_input_at_the_edge_is_refused_with_400_and_a_message() {
    let server = Server::start("edge");
    let cases = [
        (json!({"number": "x".repeat(65)}), "number"),
        (json!({"number": "a\u{1}b"}), "number"),
        (json!({"number": "7", "holder": "h".repeat(129)}), "holder"),
        (json!({"number": "7", "holder": "tab\there"}), "holder"),
        (
            json!({"number": "7", "doors": ["*", "front"]}),
            "cannot be mixed",
        ),
        (
            json!({"number": "7", "valid_from": "2027-01-02T00:00:00", "valid_until": "2027-01-01T00:00:00"}),
            "before valid_from",
        ),
        (
            json!({"number": "7", "levels": ["night-shift"]}),
            "night-shift",
        ),
    ];
    for (body, fragment) in cases {
        let (status, answer) = server.post("/api/credentials", Some(ADMIN), body.clone());
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(fragment),
            "{body}: {answer}"
        );
    }
    let (status, answer) = server.get("/api/events?after=9223372036854775808", Some(ADMIN));
    assert_eq!(status, 400, "{answer}");
    // Duplicate numbers inside one import, named with both lines; nothing imported.
    let (status, answer) = server.request(
        "POST",
        "/api/credentials/import",
        Some(ADMIN),
        Some("1001,A,front,,,\n1001,B,front,,,\n"),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("already on line 1"),
        "{answer}"
    );
    // A byte-order mark and quoted fields are read as a spreadsheet writes them.
    let (status, answer) = server.request(
        "POST",
        "/api/credentials/import",
        Some(ADMIN),
        Some("\u{feff}number,holder,doors,schedule,valid_from,valid_until\r\n\"1002\",\"Doe, Jane\",\"front;server\",,,\r\n"),
    );
    assert_eq!((status, &answer["imported"]), (200, &json!(1)), "{answer}");
    let (_, list) = server.get("/api/credentials", Some(ADMIN));
    assert_eq!(list[0]["holder"], "Doe, Jane");
    // 405 and 413 answer in JSON like every other error.
    let (status, answer) = server.request("PUT", "/api/doors", Some(ADMIN), None);
    assert_eq!(status, 405);
    assert!(answer["error"].is_string(), "{answer}");
    assert_eq!(
        stored_kinds(&server)
            .iter()
            .filter(|k| k.starts_with("credential"))
            .count(),
        1
    );
}

#[test]
fn a_body_is_never_read_before_its_token_is_checked() {
    let server = Server::start("auth-first");
    // A huge body announced by a caller without a token (or with a viewer's, for the admin's
    // import): refused from the headers alone, without waiting for the body that never comes.
    let viewer = server.token("viewer");
    for (path, token) in [
        ("/api/credentials/import", None),
        ("/api/credentials/import", Some(viewer.as_str())),
        ("/api/sim/badge", None),
    ] {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: t\r\n{auth}Content-Type: text/csv\r\nContent-Length: 250000000\r\n\r\n"
        )
        .unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).unwrap();
        let expected: &[u8] = if token.is_some() {
            b"HTTP/1.1 403"
        } else {
            b"HTTP/1.1 401"
        };
        assert_eq!(&head, expected, "{path}");
    }
    // A body too large for the import is 413, in JSON.
    let big = "1,a,front,,,\n".repeat(300_000 / 12 + 1);
    let (status, _) = server.request("POST", "/api/sim/badge", Some(ADMIN), Some(&big));
    assert_eq!(status, 413);
}

#[test]
fn a_client_that_sends_no_headers_is_cut_off_and_connections_are_capped() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-edge-limits");
    let _ = std::fs::remove_dir_all(&data);
    let limits = keyway_daemon::http::HttpLimits {
        max_connections: 3,
        header_read_timeout: Duration::from_secs(10),
    };
    let server = Server::start_full(data, SiteSource::Demo, None, limits);
    // Three idle connections take every slot: a fourth request waits.
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    let addr = server.addr;
    let waiting = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    // Ten seconds on the daemon's clock later, the idle ones are cut off and it is served.
    // (Until then it has not been answered: it is still waiting.)
    // The daemon's clock moves in steps while the server's tasks run between them (a
    // millisecond of real time each: pacing, not waiting for the timeout, which is virtual).
    let mut advanced = 0;
    let started = std::time::Instant::now();
    while !waiting.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still waiting after {advanced} ms on the daemon's clock"
        );
        server.clock.advance(100);
        advanced += 100;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        advanced >= 10_000,
        "served after {advanced} ms: before the idle ones were cut off"
    );
    let response = waiting.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // Every idle connection is closed by the server (an answer, or nothing), instead of being
    // kept open forever. One accepted later than the others has a later deadline: the
    // daemon's clock goes on moving until it is cut off too.
    let started = std::time::Instant::now();
    for mut stream in idle {
        stream
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let mut rest = Vec::new();
        loop {
            match stream.read_to_end(&mut rest) {
                Ok(_) => break,
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "an idle connection was never closed by the server"
                    );
                    server.clock.advance(100);
                }
                Err(error) => panic!("reading an idle connection: {error}"),
            }
        }
    }
}

#[test]
fn state_about_a_removed_door_is_reported_listed_and_cleared_never_dropped() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-stale");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let server = Server::start_on(data.clone());
    server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "1001", "doors": ["front", "rear"]}),
    );
    server.post("/api/doors/rear/unlock", Some(ADMIN), json!({}));
    server.stop();

    // The rear door is renamed in the site file: "rear" is gone.
    let site = dir.join("site.toml");
    std::fs::write(
        &site,
        keyway_daemon::DEMO_SITE.replace("id = \"rear\"", "id = \"back\""),
    )
    .unwrap();
    let server = Server::start_site(data.clone(), SiteSource::File(site), None);
    let (_, stale) = server.get("/api/stale", Some(ADMIN));
    assert_eq!(
        stale["holds"],
        json!([{"door": "rear", "hold": "unlock"}]),
        "{stale}"
    );
    assert_eq!(stale["credentials"][0]["number"], "1001", "{stale}");
    assert_eq!(stale["credentials"][0]["missing_doors"], json!(["rear"]));
    assert_eq!(stale["credentials_total"], 1);
    let reported = server.wait_for_event(|e| e["kind"] == "stale_state");
    assert!(
        reported["detail"]
            .as_str()
            .unwrap()
            .contains("1 operator holds and 1 credentials"),
        "{reported}"
    );
    // The credential still works where the door exists.
    let (_, granted) = server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "front", "credential": "1001"}),
    );
    assert_eq!(granted["kind"], "access_granted", "{granted}");
    // Cleared: the hold is deleted, the credential stored without the removed door.
    let (status, cleared) = server.post("/api/stale/clear", Some(ADMIN), json!({}));
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["left"]["credentials_total"], 0, "{cleared}");
    let (_, credentials) = server.get("/api/credentials", Some(ADMIN));
    assert_eq!(credentials[0]["doors"], json!(["front"]));
    let event = server.wait_for_event(|e| e["kind"] == "stale_state_cleared");
    assert_eq!(event["actor"], "KEYWAY_ADMIN_TOKEN");
    server.stop();
    // With the old site back, the cleared hold does not come back and unlock the door.
    let server = Server::start_on(data);
    assert_eq!(server.door("rear")["lock"], "locked");
    let (_, stale) = server.get("/api/stale", Some(ADMIN));
    assert_eq!(stale["holds"], json!([]));
}

#[test]
fn a_refused_reset_keeps_the_stored_alarm() {
    let server = Server::start("refused-reset-restart");
    server.post("/api/sim/fire-alarm", Some(ADMIN), json!({"active": true}));
    let (status, _) = server.post("/api/fire-alarm/reset", Some(ADMIN), json!({}));
    assert_eq!(status, 409);
    let data = server.stop();
    let server = Server::start_on(data);
    let (_, now) = server.get("/api/status", Some(ADMIN));
    assert_eq!(
        now["fire_alarm"], true,
        "the refused reset did not clear the stored alarm"
    );
    assert_eq!(server.door("office-entry")["lock"], "unlocked");
}

#[test]
fn the_running_site_is_checked_as_keyway_check_would() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-check-clinic");
    let _ = std::fs::remove_dir_all(&data);
    let clinic = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/clinic.toml");
    let server = Server::start_site(data, SiteSource::File(clinic), None);
    let (status, report) = server.get("/api/check", Some(ADMIN));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["summary"]["errors"], 5, "{report}");
    let trapped = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "EGRESS-TRAPPED")
        .expect("EGRESS-TRAPPED");
    assert_eq!(trapped["severity"], "error");
    assert!(
        trapped["citation"].as_str().is_some_and(|c| !c.is_empty()),
        "{trapped}"
    );
}

#[test]
fn the_log_is_searched_and_exported_as_csv() {
    let server = Server::start("search");
    let (status, _) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({ "number": "1001", "holder": "Alice Martin", "doors": ["server"] }),
    );
    assert_eq!(status, 201);
    for door in ["server", "server", "front"] {
        let (status, body) = server.post(
            "/api/sim/badge",
            Some(ADMIN),
            json!({ "door": door, "credential": "1001" }),
        );
        assert_eq!(status, 200, "{body}");
        server.clock.advance(10_000);
    }
    let search = |query: &str| -> Vec<(String, String)> {
        let (status, body) = server.get(&format!("/api/events?order=newest&{query}"), Some(ADMIN));
        assert_eq!(status, 200, "{query}: {body}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["door"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let granted = search("door=server&kind=access_granted");
    assert_eq!(granted.len(), 2, "{granted:?}");
    let alice = search("holder=alice");
    assert_eq!(
        alice.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        [
            "access_denied",
            "access_granted",
            "access_granted",
            "credential_added"
        ],
        "everything about the holder's credentials, newest first"
    );
    assert!(search("holder=nobody").is_empty());
    // A local time in the site's zone: the clock started at 03:00 in Chicago, the second
    // badge 10 s later.
    let window = search("kind=access_granted&since=2026-12-06T03:00:05&until=2026-12-06T03:00:15");
    assert_eq!(window.len(), 1, "{window:?}");
    let same = search("kind=access_granted&since=2026-12-06T09:00:05Z&until=2026-12-06T09:00:15Z");
    assert_eq!(same, window, "an instant with its offset says the same");
    let (status, body) = server.get("/api/events?order=newest&since=yesterday", Some(ADMIN));
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("since \"yesterday\""),
        "{body}"
    );
    let (status, _) = server.get("/api/events?door=server", Some(ADMIN));
    assert_eq!(status, 400, "a search pages back from the newest");

    let answer = server.call(
        "GET",
        "/api/events.csv?holder=alice",
        &[("Authorization", &format!("Bearer {ADMIN}"))],
        None,
    );
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = answer.body.as_str().unwrap().to_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "seq,at,kind,door,credential,reason,circuit,source,actor,detail,hash"
    );
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(
        lines[1].contains(",2026-12-06T03:00:20.000-06:00,access_denied,front,1001,"),
        "{csv}"
    );
    let (status, _) = server.get("/api/events.csv?limit=200001", Some(ADMIN));
    assert_eq!(status, 400);
}

#[test]
fn credentials_are_searched_a_page_at_a_time() {
    let server = Server::start("credential-search");
    for (number, holder) in [
        ("1001", "Alice Martin"),
        ("1002", "Bob Martin"),
        ("2001", "Alice Ng"),
    ] {
        let (status, body) = server.post(
            "/api/credentials",
            Some(ADMIN),
            json!({ "number": number, "holder": holder, "doors": ["server"] }),
        );
        assert_eq!(status, 201, "{body}");
    }
    let page = |query: &str| {
        let (status, body) = server.get(&format!("/api/credentials/search?{query}"), Some(ADMIN));
        assert_eq!(status, 200, "{query}: {body}");
        let numbers: Vec<String> = body["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["number"].as_str().unwrap().to_string())
            .collect();
        (numbers, body["next"].as_str().map(str::to_string))
    };
    assert_eq!(page("q=martin").0, ["1001", "1002"]);
    assert_eq!(page("q=ali%20mar").0, ["1001"]);
    let (first, next) = page("q=ali&limit=1");
    assert_eq!(first, ["1001"]);
    assert_eq!(
        page(&format!("q=ali&limit=1&after={}", next.unwrap())).0,
        ["2001"]
    );
    assert_eq!(
        page("limit=2"),
        (vec!["1001".into(), "1002".into()], Some("1002".into()))
    );
    let viewer = server.token("viewer");
    assert_eq!(server.get("/api/credentials/search", Some(&viewer)).0, 403);
    assert_eq!(
        server.get("/api/credentials/search?limit=0", Some(ADMIN)).0,
        400
    );
}
