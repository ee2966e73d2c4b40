//! Crash safety, tested by killing the process: `kill -9` the daemon during a burst of badges,
//! restart it, and check that every acknowledged event is there and the chain verifies.
//! Repeated at several random moments, on the same data directory.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Daemon;
use serde_json::Value;

#[test]
fn acknowledged_events_survive_kill_minus_nine() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crash");
    let _ = std::fs::remove_dir_all(&data);
    // The moments of the kills: random, and printed so a failure can be replayed.
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    println!("crash test seed {seed}");
    let mut random = seed;
    let mut next = move || {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    // seq -> the acknowledged event.
    let acknowledged: Arc<Mutex<BTreeMap<u64, Value>>> = Arc::default();
    for round in 0..4 {
        let daemon = Daemon::start(&data, None);
        if round == 0 {
            let (status, _) = daemon
                .request(
                    "POST",
                    "/api/credentials",
                    Some(r#"{"number": "1001", "doors": ["*"]}"#),
                )
                .unwrap();
            assert_eq!(status, 201);
        }
        let addr = daemon.addr;
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let acknowledged = Arc::clone(&acknowledged);
                std::thread::spawn(move || {
                    let doors = ["front", "server", "rear", "office-entry"];
                    for i in 0.. {
                        let body = format!(
                            r#"{{"door": "{}", "credential": "{}"}}"#,
                            doors[(i + worker) % 4],
                            if i % 3 == 0 { "9999" } else { "1001" }
                        );
                        match common::request(addr, "POST", "/api/sim/badge", Some(&body)) {
                            Some((200, event)) => {
                                let seq = event["seq"].as_u64().unwrap();
                                acknowledged.lock().unwrap().insert(seq, event);
                            }
                            Some((status, body)) => panic!("unexpected answer {status}: {body}"),
                            // The daemon was killed: stop.
                            None => break,
                        }
                    }
                })
            })
            .collect();
        let delay = 100 + next() % 700;
        std::thread::sleep(Duration::from_millis(delay));
        daemon.kill();
        for worker in workers {
            worker.join().unwrap();
        }

        // Restart and look: every acknowledged event is stored, exactly as acknowledged.
        let daemon = Daemon::start(&data, None);
        let mut stored = BTreeMap::new();
        let mut after = 0;
        loop {
            let (_, page) = daemon
                .request(
                    "GET",
                    &format!("/api/events?after={after}&limit=10000"),
                    None,
                )
                .unwrap();
            let page = page.as_array().unwrap().clone();
            if page.is_empty() {
                break;
            }
            for event in page {
                after = event["seq"].as_u64().unwrap();
                stored.insert(after, event);
            }
        }
        let acknowledged = acknowledged.lock().unwrap();
        assert!(
            !acknowledged.is_empty(),
            "round {round}: no badge was acknowledged in {delay} ms"
        );
        for (seq, event) in acknowledged.iter() {
            assert_eq!(
                stored.get(seq),
                Some(event),
                "round {round} (killed after {delay} ms): acknowledged event {seq} lost or changed"
            );
        }
        println!(
            "round {round}: killed after {delay} ms; {} acknowledged, {} stored",
            acknowledged.len(),
            stored.len()
        );
        daemon.kill();
        let verify = Command::new(env!("CARGO_BIN_EXE_keyway"))
            .args(["verify-log", "--data", data.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            verify.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
}

#[test]
fn verify_log_names_the_first_broken_record() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verify-broken");
    let _ = std::fs::remove_dir_all(&data);
    let daemon = Daemon::start(&data, None);
    daemon
        .request("POST", "/api/lockdown", Some(r#"{"active": true}"#))
        .unwrap();
    daemon
        .request("POST", "/api/lockdown", Some(r#"{"active": false}"#))
        .unwrap();
    daemon.kill();
    // Tamper with the fourth record (after controller_started, token_created and
    // lockdown_started) behind Keyway's back.
    assert!(
        edit_lockdown_ended(&data),
        "lockdown_ended was not found in the database file"
    );
    let verify = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["verify-log", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(1));
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(text.contains("BROKEN at record 4"), "{text}");
}

/// Changes the `kind` of the `lockdown_ended` record in the database file by rewriting the bytes of its text:
/// the store offers no way to edit an event (by design), so the test edits the file.
fn edit_lockdown_ended(data: &std::path::Path) -> bool {
    let path = data.join("keyway.db");
    // The daemon was killed, so its last writes are in the WAL: opening and closing the store
    // once (verify-log does) checkpoints them into the main file.
    let _ = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["verify-log", "--data", data.to_str().unwrap()])
        .output();
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"lockdown_ended";
    let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) else {
        return false;
    };
    bytes[at..at + needle.len()].copy_from_slice(b"lockdown_endeD");
    std::fs::write(&path, bytes).unwrap();
    true
}

#[test]
fn sigterm_stops_the_daemon_cleanly_and_nothing_acknowledged_is_lost() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sigterm");
    let _ = std::fs::remove_dir_all(&data);
    let mut daemon = Daemon::start(&data, None);
    let (status, event) = daemon
        .request("POST", "/api/lockdown", Some(r#"{"active": true}"#))
        .unwrap();
    assert_eq!(status, 200);
    let seq = event["events"][0]["seq"].as_u64().unwrap();
    // A client on the live stream (the dashboard always holds one) must not keep it alive.
    let mut stream = std::net::TcpStream::connect(daemon.addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!(
            "GET /api/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\r\n",
            common::ADMIN
        )
        .as_bytes(),
    )
    .unwrap();
    let mut head = [0u8; 12];
    std::io::Read::read_exact(&mut stream, &mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let killed = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // It ends by itself; a daemon still running after 10 s is hung on the stream.
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = daemon.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIGTERM with a stream connected: the daemon did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stream);
    assert!(
        exit.success(),
        "the daemon should exit 0 on SIGTERM, got {exit:?}"
    );
    let daemon = Daemon::start(&data, None);
    let (_, events) = daemon.request("GET", "/api/events", None).unwrap();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["seq"].as_u64() == Some(seq))
    );
}

#[test]
fn a_deleted_log_is_found_by_verify_log_and_refused_at_start() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("deleted-log");
    let _ = std::fs::remove_dir_all(&data);
    let daemon = Daemon::start(&data, None);
    daemon
        .request("POST", "/api/lockdown", Some(r#"{"active": true}"#))
        .unwrap();
    // Stopped cleanly, so its last checkpoint names every record.
    let killed = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut daemon = daemon;
    daemon.child.wait().unwrap();
    for file in ["keyway.db", "keyway.db-wal", "keyway.db-shm"] {
        let _ = std::fs::remove_file(data.join(file));
    }
    let (code, text) = common::verify_log(&data);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("database is missing") && text.contains("record 3"),
        "{text}"
    );
    // The daemon will not start a new log over it without being told to.
    let refused = common::serve_command(&data, common::ADMIN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--accept-broken-log") && stderr.contains("record 3"),
        "{stderr}"
    );
    // Told to, it starts, and says so in the new log.
    let mut command = common::serve_command(&data, common::ADMIN);
    command.args(["--clock-start", common::CLOCK_START, "--accept-broken-log"]);
    let daemon = Daemon::spawn(command);
    let (_, events) = daemon.request("GET", "/api/events", None).unwrap();
    let accepted = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "log_tail_accepted")
        .cloned()
        .unwrap_or_else(|| panic!("{events}"));
    assert!(
        accepted["detail"].as_str().unwrap().contains("record 3"),
        "{accepted}"
    );
    daemon.kill();
    let (code, text) = common::verify_log(&data);
    assert_eq!(code, Some(0), "{text}");
}
