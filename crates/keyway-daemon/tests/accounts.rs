//! The console's operators against a real daemon: the setup code, sign-in and sign-out,
//! CSRF, the throttle, sessions that end, and users managed by an admin, all audited.

mod support;

use keyway_daemon::storage::{Fault, Faults};
use serde_json::{Value, json};
use support::{ADMIN, Answer, Server};

const PASSWORD: &str = "correct horse battery";

/// A signed-in browser: its cookie and its CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

impl Browser {
    fn from(answer: &Answer) -> Browser {
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let set = answer.header("set-cookie").expect("a session cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(set.contains(attribute), "{set}");
        }
        Browser {
            cookie: set.split(';').next().unwrap().to_string(),
            csrf: answer.body["csrf"].as_str().unwrap().to_string(),
        }
    }

    /// A request as the console sends it: the cookie, and the CSRF token.
    fn send(&self, server: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
        let body = body.map(|b| b.to_string());
        server.call(
            method,
            path,
            &[("Cookie", &self.cookie), ("X-CSRF-Token", &self.csrf)],
            body.as_deref(),
        )
    }

    /// The cookie alone, as a page of another site could make the browser send it.
    fn forged(&self, server: &Server, method: &str, path: &str) -> Answer {
        server.call(method, path, &[("Cookie", &self.cookie)], Some("{}"))
    }
}

fn sign_in(server: &Server, name: &str, password: &str) -> Answer {
    let body = json!({ "name": name, "password": password }).to_string();
    server.call("POST", "/api/session", &[], Some(&body))
}

fn add_user(server: &Server, name: &str, role: &str) {
    let (status, body) = server.post(
        "/api/users",
        Some(ADMIN),
        json!({ "name": name, "role": role, "password": PASSWORD }),
    );
    assert_eq!(status, 201, "{body}");
}

fn kinds_and_actors(server: &Server) -> Vec<(String, String)> {
    let (_, events) = server.get("/api/events?limit=1000", Some(ADMIN));
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_setup_code_creates_the_first_admin_once_and_signs_them_in() {
    let server = Server::start("setup");
    let code = server
        .setup_code
        .clone()
        .expect("no admin user yet: a setup code");
    assert_eq!(server.get("/api/setup", None).1, json!({ "pending": true }));
    let setup = |code: &str, password: &str| {
        let body = json!({ "code": code, "name": "ann", "password": password }).to_string();
        server.call("POST", "/api/setup", &[], Some(&body))
    };
    assert_eq!(setup("0000-0000-0000-0000", PASSWORD).status, 401);
    // A refused password does not use the code up.
    let short = setup(&code, "short");
    assert_eq!(short.status, 400, "{:?}", short.body);
    let ann = Browser::from(&setup(&code, PASSWORD));
    let (status, me) = {
        let answer = ann.send(&server, "GET", "/api/session", None);
        (answer.status, answer.body)
    };
    assert_eq!(status, 200);
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("ann"), Some("admin"))
    );
    assert_eq!(setup(&code, PASSWORD).status, 409, "the code is used up");
    assert_eq!(
        server.get("/api/setup", None).1,
        json!({ "pending": false })
    );
    let log = kinds_and_actors(&server);
    assert!(
        log.contains(&("user_created".into(), "setup code".into())),
        "{log:?}"
    );
    assert!(log.contains(&("signed_in".into(), "ann".into())), "{log:?}");
    // A restart with an admin prints no code.
    let data = server.stop();
    let again = Server::start_on(data);
    assert_eq!(again.setup_code, None);
}

#[test]
fn a_session_needs_its_csrf_token_to_change_anything_and_ends_at_sign_out() {
    let server = Server::start("session");
    add_user(&server, "olga", "operator");
    let wrong = sign_in(&server, "olga", "not her password");
    assert_eq!(wrong.status, 401, "{:?}", wrong.body);
    assert_eq!(wrong.body["error"], "wrong name or password");
    assert_eq!(
        sign_in(&server, "nobody", PASSWORD).body,
        wrong.body,
        "the same answer"
    );
    let olga = Browser::from(&sign_in(&server, "olga", PASSWORD));
    assert_eq!(olga.send(&server, "GET", "/api/doors", None).status, 200);
    // Without the header, nothing changes.
    let forged = olga.forged(&server, "POST", "/api/lockdown");
    assert_eq!(forged.status, 403, "{:?}", forged.body);
    assert!(server.get("/api/status", Some(ADMIN)).1["lockdown"] == false);
    let lockdown = olga.send(
        &server,
        "POST",
        "/api/lockdown",
        Some(json!({ "active": true })),
    );
    assert_eq!(lockdown.status, 200, "{:?}", lockdown.body);
    // An operator manages no users.
    assert_eq!(olga.send(&server, "GET", "/api/users", None).status, 403);
    assert_eq!(olga.forged(&server, "DELETE", "/api/session").status, 403);
    assert_eq!(
        olga.send(&server, "DELETE", "/api/session", None).status,
        204
    );
    assert_eq!(olga.send(&server, "GET", "/api/doors", None).status, 401);
    let log = kinds_and_actors(&server);
    for expected in [
        ("user_created", ADMIN_NAME),
        ("sign_in_failed", ""),
        ("signed_in", "olga"),
        ("lockdown_started", "olga"),
        ("signed_out", "olga"),
    ] {
        assert!(
            log.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} not in {log:?}"
        );
    }
}

/// The actor of the environment's admin token.
const ADMIN_NAME: &str = "KEYWAY_ADMIN_TOKEN";

#[test]
fn five_wrong_passwords_pause_the_name_for_a_minute() {
    let server = Server::start("throttle");
    add_user(&server, "olga", "operator");
    for _ in 0..5 {
        assert_eq!(sign_in(&server, "olga", "guess guess guess").status, 401);
    }
    let paused = sign_in(&server, "olga", PASSWORD);
    assert_eq!(paused.status, 429, "{:?}", paused.body);
    assert!(
        paused.body["error"].as_str().unwrap().contains("60 s"),
        "{:?}",
        paused.body
    );
    server.clock.advance(60_000);
    Browser::from(&sign_in(&server, "olga", PASSWORD));
}

#[test]
fn a_session_ends_after_twelve_hours_and_when_an_admin_changes_its_user() {
    let server = Server::start("lifetime");
    add_user(&server, "vic", "viewer");
    let first = Browser::from(&sign_in(&server, "vic", PASSWORD));
    server.clock.advance(12 * 3_600_000 - 1_000);
    assert_eq!(first.send(&server, "GET", "/api/doors", None).status, 200);
    server.clock.advance(1_000);
    let ended = first.send(&server, "GET", "/api/doors", None);
    assert_eq!(ended.status, 401);
    assert_eq!(ended.body["error"], "the session has ended; sign in again");
    let second = Browser::from(&sign_in(&server, "vic", PASSWORD));
    let (_, users) = server.get("/api/users", Some(ADMIN));
    assert_eq!(users[0]["sessions"], 1, "{users}");
    let (status, body) = server.request(
        "PATCH",
        "/api/users/vic",
        Some(ADMIN),
        Some(r#"{"role": "operator"}"#),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(second.send(&server, "GET", "/api/doors", None).status, 401);
    let log = kinds_and_actors(&server);
    assert!(
        log.contains(&("user_changed".into(), ADMIN_NAME.into())),
        "{log:?}"
    );
    // Disabled, vic cannot sign in; enabled again, vic can.
    let disable = |disabled: bool| {
        let body = json!({ "disabled": disabled }).to_string();
        server
            .request("PATCH", "/api/users/vic", Some(ADMIN), Some(&body))
            .0
    };
    assert_eq!(disable(true), 200);
    assert_eq!(sign_in(&server, "vic", PASSWORD).status, 401);
    assert_eq!(disable(false), 200);
    Browser::from(&sign_in(&server, "vic", PASSWORD));
}

#[test]
fn the_last_admin_stays_and_names_are_unique_across_users_and_tokens() {
    let server = Server::start("last-admin");
    add_user(&server, "ann", "admin");
    let ann = Browser::from(&sign_in(&server, "ann", PASSWORD));
    let demote = ann.send(
        &server,
        "PATCH",
        "/api/users/ann",
        Some(json!({ "role": "viewer" })),
    );
    assert_eq!(demote.status, 409, "{:?}", demote.body);
    assert_eq!(
        ann.send(&server, "DELETE", "/api/users/ann", None).status,
        409
    );
    // The environment's token has its name; a user may not take it, nor a token a user's.
    let taken = ann.send(
        &server,
        "POST",
        "/api/users",
        Some(json!({ "name": ADMIN_NAME, "role": "viewer", "password": PASSWORD })),
    );
    assert_eq!(taken.status, 409, "{:?}", taken.body);
    let (status, _) = server.post(
        "/api/tokens",
        Some(ADMIN),
        json!({ "name": "ann", "role": "viewer" }),
    );
    assert_eq!(status, 409);
    let bad = ann.send(
        &server,
        "POST",
        "/api/users",
        Some(json!({ "name": "bo", "role": "chief", "password": PASSWORD })),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["error"].as_str().unwrap().contains("\"chief\""),
        "{:?}",
        bad.body
    );
    // With a second admin, the first may go.
    let created = ann.send(
        &server,
        "POST",
        "/api/users",
        Some(json!({ "name": "bea", "role": "admin", "password": PASSWORD })),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        ann.send(&server, "DELETE", "/api/users/ann", None).status,
        204
    );
    assert_eq!(ann.send(&server, "GET", "/api/doors", None).status, 401);
    let log = kinds_and_actors(&server);
    assert!(
        log.contains(&("user_deleted".into(), "ann".into())),
        "{log:?}"
    );
}

#[test]
fn a_session_survives_a_restart_and_a_password_change_ends_the_others() {
    let server = Server::start("restart");
    add_user(&server, "olga", "operator");
    let phone = Browser::from(&sign_in(&server, "olga", PASSWORD));
    let data = server.stop();
    let server = Server::start_on(data);
    assert_eq!(phone.send(&server, "GET", "/api/doors", None).status, 200);
    let desk = Browser::from(&sign_in(&server, "olga", PASSWORD));
    let wrong = desk.send(
        &server,
        "POST",
        "/api/session/password",
        Some(json!({ "current": "not it at all", "new": "a new long passphrase" })),
    );
    assert_eq!(wrong.status, 403, "{:?}", wrong.body);
    let changed = desk.send(
        &server,
        "POST",
        "/api/session/password",
        Some(json!({ "current": PASSWORD, "new": "a new long passphrase" })),
    );
    let desk = Browser::from(&changed);
    assert_eq!(desk.send(&server, "GET", "/api/doors", None).status, 200);
    assert_eq!(phone.send(&server, "GET", "/api/doors", None).status, 401);
    assert_eq!(sign_in(&server, "olga", PASSWORD).status, 401);
    Browser::from(&sign_in(&server, "olga", "a new long passphrase"));
}

#[test]
fn on_a_full_disk_an_operator_still_signs_in_and_out() {
    let faults = Faults::default();
    let data = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("accounts-full-disk");
    let _ = std::fs::remove_dir_all(&data);
    let server = Server::start_with(data, Some(faults.clone()));
    add_user(&server, "olga", "operator");
    faults.fail(Fault::DiskFull);
    let answer = sign_in(&server, "olga", PASSWORD);
    let olga = Browser::from(&answer);
    assert_eq!(answer.body["stored"], false, "{:?}", answer.body);
    let lockdown = olga.send(
        &server,
        "POST",
        "/api/lockdown",
        Some(json!({ "active": true })),
    );
    // The doors act; the record waits for the disk (503 with "durable": false).
    assert_eq!(
        server.get("/api/status", Some(ADMIN)).1["lockdown"],
        true,
        "{:?}",
        lockdown.body
    );
    assert_eq!(
        olga.send(&server, "DELETE", "/api/session", None).status,
        204
    );
    assert_eq!(olga.send(&server, "GET", "/api/doors", None).status, 401);
    faults.heal();
}

#[test]
fn a_live_stream_ends_with_its_session_and_sends_nothing_after_it() {
    use std::io::{BufRead, BufReader, Read, Write};
    let server = Server::start("stream-session");
    add_user(&server, "vic", "viewer");
    let vic = Browser::from(&sign_in(&server, "vic", PASSWORD));
    let mut connection = std::net::TcpStream::connect(server.addr).unwrap();
    connection
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        connection,
        "GET /api/stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\nCookie: {}\r\n\r\n",
        vic.cookie
    )
    .unwrap();
    let mut reader = BufReader::new(connection);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("200"), "{line}");
    // While the session lasts, events reach the stream.
    server.post("/api/sim/rex/office-entry", Some(ADMIN), json!({}));
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the stream ended early"
        );
        // The REX's last event: the door it unlocked.
        if line.starts_with("data: ") && line.contains("\"door_unlocked\"") {
            break;
        }
    }
    // Signed out: the stream ends at the next event (its own `signed_out`) without sending
    // it or anything after it.
    assert_eq!(
        vic.send(&server, "DELETE", "/api/session", None).status,
        204
    );
    server.post("/api/sim/rex/office-entry", Some(ADMIN), json!({}));
    let mut rest = String::new();
    reader
        .read_to_string(&mut rest)
        .expect("the stream ends (the server closes it)");
    assert!(!rest.contains("data: "), "sent after the sign-out: {rest}");
}
