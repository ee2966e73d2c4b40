//! Helpers for tests that run `keyway serve` as a real process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const ADMIN: &str = "crash-test-admin-token";

/// Where the daemon's wall clock starts: a Sunday night in Chicago (2026-12-06 03:00), when
/// the demo site's schedule is inactive, so what a test sees does not depend on the time of
/// day it runs at.
pub const CLOCK_START: &str = "2026-12-06T09:00:00Z";

/// `keyway serve` on a free loopback port.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
}

/// `keyway serve` on `data`, on a free loopback port, with the admin token `token` (not
/// started; the caller adds what it needs).
pub fn serve_command(data: &Path, token: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyway"));
    command
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("KEYWAY_ADMIN_TOKEN", token);
    command
}

/// `keyway verify-log` on `data`: its exit code and what it printed.
pub fn verify_log(data: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["verify-log", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

impl Daemon {
    pub fn start(data: &Path, site: Option<&Path>) -> Daemon {
        let mut command = serve_command(data, ADMIN);
        command.args(["--clock-start", CLOCK_START]);
        if let Some(site) = site {
            command.args(["--site", site.to_str().unwrap()]);
        }
        Daemon::spawn(command)
    }

    /// Starts `command` (a `keyway serve`) and waits for the address it prints.
    pub fn spawn(mut command: Command) -> Daemon {
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start keyway serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("no address in {line:?}"));
        Daemon { child, addr }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Option<(u16, Value)> {
        request(self.addr, method, path, body)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory for a test under the target's temporary directory.
pub fn data_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A POST that must succeed (2xx); its answer.
pub fn post(daemon: &Daemon, path: &str, body: &str) -> Value {
    let (status, answer) = daemon.request("POST", path, Some(body)).unwrap();
    assert!(
        (200..300).contains(&status),
        "{path} {body}: {status} {answer}"
    );
    answer
}

/// One HTTP/1.1 request with the admin token; `None` when the connection fails.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).to_string();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    ))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}
