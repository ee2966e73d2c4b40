//! Who did what: the admin token from the environment, its strength and its replacement.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// `keyway serve` with `token` as KEYWAY_ADMIN_TOKEN; its address once it listens.
fn serve(data: &Path, token: &str) -> (Child, std::net::SocketAddr) {
    let mut child = common::serve_command(data, token)
        .args(["--clock-start", common::CLOCK_START])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (child, addr)
}

fn get(addr: std::net::SocketAddr, path: &str, token: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn a_weak_admin_token_is_refused_at_start() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("weak-token");
    let _ = std::fs::remove_dir_all(&data);
    for weak in ["a", "password", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] {
        let output = common::serve_command(&data, weak).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{weak}: {stderr}");
        assert!(stderr.contains("KEYWAY_ADMIN_TOKEN"), "{stderr}");
        assert!(
            !data.join(keyway_store::DATABASE_FILE).exists(),
            "nothing written"
        );
    }
}

#[test]
fn changing_keyway_admin_token_revokes_the_one_it_set_before() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rotate-token");
    let _ = std::fs::remove_dir_all(&data);
    let first = "first-admin-token-7Hq2xZp9";
    let second = "second-admin-token-Kd83mQv1";
    let (mut daemon, addr) = serve(&data, first);
    assert_eq!(get(addr, "/api/doors", first).0, 200);
    daemon.kill().unwrap();
    daemon.wait().unwrap();

    let (mut daemon, addr) = serve(&data, second);
    assert_eq!(
        get(addr, "/api/doors", first).0,
        401,
        "the old token is revoked"
    );
    assert_eq!(get(addr, "/api/doors", second).0, 200);
    let (_, tokens) = get(addr, "/api/tokens", second);
    let tokens = tokens.as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["name"], "KEYWAY_ADMIN_TOKEN");
    assert!(tokens[0].get("token").is_none() && tokens[0].get("hash").is_none());
    let (_, events) = get(addr, "/api/events?limit=100", second);
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "controller_started",
            "token_created",
            "controller_started",
            "token_revoked",
            "token_created"
        ]
    );
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}
