//! The console's first admin, both ways: the setup code `keyway serve` prints, and
//! `keyway user add` for unattended installs (the password on standard input).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Daemon;

/// `keyway user add NAME --role ROLE` with `password` on its standard input (not a terminal).
fn user_add(data: &Path, name: &str, role: &str, password: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args([
            "user",
            "add",
            name,
            "--role",
            role,
            "--data",
            data.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// A request without the admin token (the console's own paths).
fn post(daemon: &Daemon, path: &str, body: &str) -> u16 {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(daemon.addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_first_start_prints_a_setup_code_that_creates_the_admin() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("users-setup-code");
    let _ = std::fs::remove_dir_all(&data);
    let mut command = common::serve_command(&data, common::ADMIN);
    command.args(["--clock-start", common::CLOCK_START]);
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = [String::new(), String::new()];
    for line in &mut lines {
        stdout.read_line(line).unwrap();
    }
    let addr = lines[0]
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let daemon = Daemon { child, addr };
    let code = lines[1]
        .split("setup code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no setup code in {lines:?}"));
    let body = |code: &str| {
        format!(r#"{{"code": "{code}", "name": "ann", "password": "correct horse battery"}}"#)
    };
    assert_eq!(post(&daemon, "/api/setup", &body("WRONG")), 401);
    assert_eq!(post(&daemon, "/api/setup", &body(code)), 200);
    assert_eq!(post(&daemon, "/api/setup", &body(code)), 409);
}

#[test]
fn user_add_reads_the_password_from_stdin_and_refuses_while_a_daemon_runs() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("users-add");
    let _ = std::fs::remove_dir_all(&data);
    // Before any daemon ever ran: the data directory is made.
    let (code, output) = user_add(&data, "ann", "admin", "correct horse battery");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("added ann (admin)"), "{output}");
    let (code, output) = user_add(&data, "ann", "viewer", "correct horse battery");
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("already named \"ann\""), "{output}");
    let (code, output) = user_add(&data, "bob", "viewer", "short");
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("at least 12"), "{output}");

    let daemon = Daemon::start(&data, None);
    let (code, output) = user_add(&data, "bob", "viewer", "correct horse battery");
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("keyway serve"),
        "names the running daemon: {output}"
    );
    let (_, setup) = daemon.request("GET", "/api/setup", None).unwrap();
    assert_eq!(setup["pending"], false, "an admin exists: no setup code");
    let signed_in = post(
        &daemon,
        "/api/session",
        r#"{"name": "ann", "password": "correct horse battery"}"#,
    );
    assert_eq!(signed_in, 200);
    let (_, events) = daemon
        .request("GET", "/api/events?limit=100", None)
        .unwrap();
    let created = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "user_created")
        .expect("user_created logged");
    assert_eq!(created["source"], "cli", "{created}");
    assert_eq!(created["detail"], "user \"ann\", admin", "{created}");
    daemon.kill();
    let (code, output) = common::verify_log(&data);
    assert_eq!(code, Some(0), "{output}");
}
