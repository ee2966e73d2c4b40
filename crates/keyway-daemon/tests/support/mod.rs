//! A real daemon on a loopback port with a real SQLite file, for the API's tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use keyway_daemon::clock::VirtualClock;
use keyway_daemon::storage::Faults;
use keyway_daemon::{Config, Ready, SiteSource, serve};
use serde_json::{Value, json};

pub const ADMIN: &str = "test-admin-token-Qx7p9Lm2";

/// 2026-12-06 03:00 in Chicago, a Sunday night: the demo site's schedule is inactive, so no
/// door is unlocked at start whatever the time of day the tests run at.
pub const SUNDAY_NIGHT: i64 = 1_796_547_600_000;

/// A status, the response's head (status line and headers) and its body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

impl Answer {
    /// The value of a response header (the first, by name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// A daemon on a free loopback port, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub data: PathBuf,
    /// The daemon's clock: it moves only when a test advances it.
    pub clock: VirtualClock,
    /// What the daemon printed for the console's first admin, if no admin existed.
    pub setup_code: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(name: &str) -> Server {
        let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("api-{name}"));
        let _ = std::fs::remove_dir_all(&data);
        Server::start_on(data)
    }

    pub fn start_on(data: PathBuf) -> Server {
        Server::start_with(data, None)
    }

    /// A daemon whose storage fails, stalls or holds as `faults` say.
    pub fn start_with(data: PathBuf, faults: Option<Faults>) -> Server {
        Server::start_site(data, SiteSource::Demo, faults)
    }

    pub fn start_site(data: PathBuf, site: SiteSource, faults: Option<Faults>) -> Server {
        Server::start_full(
            data,
            site,
            faults,
            keyway_daemon::http::HttpLimits::default(),
        )
    }

    pub fn start_full(
        data: PathBuf,
        site: SiteSource,
        faults: Option<Faults>,
        http: keyway_daemon::http::HttpLimits,
    ) -> Server {
        Server::start_clocked(data, site, faults, http, SUNDAY_NIGHT)
    }

    /// The demo site on `data`, its clock starting at `wall`.
    pub fn start_at(data: PathBuf, wall: i64) -> Server {
        Server::start_clocked(
            data,
            SiteSource::Demo,
            None,
            keyway_daemon::http::HttpLimits::default(),
            wall,
        )
    }

    fn start_clocked(
        data: PathBuf,
        site: SiteSource,
        faults: Option<Faults>,
        http: keyway_daemon::http::HttpLimits,
        wall: i64,
    ) -> Server {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Ready>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let clock = VirtualClock::new(wall);
        let config = Config {
            site,
            data_dir: data.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            admin_token: Some(ADMIN.to_string()),
            clock: std::sync::Arc::new(clock.clone()),
            faults,
            log_key: None,
            accept_broken_log: false,
            http,
            mqtt: None,
        };
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime
                .block_on(serve(
                    config,
                    move |ready| ready_tx.send(ready).unwrap(),
                    async move {
                        let _ = stopped.await;
                    },
                ))
                .unwrap();
        });
        let ready = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the daemon starts");
        Server {
            addr: ready.addr,
            data,
            clock,
            setup_code: ready.setup_code,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) -> PathBuf {
        self.shutdown();
        self.data.clone()
    }

    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    /// One request; returns the status and the body (JSON when it parses, else a string).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .as_deref()
            .map(|a| ("Authorization", a))
            .into_iter()
            .collect();
        let answer = self.call(method, path, &headers, body);
        (answer.status, answer.body)
    }

    /// One request with these headers; the answer with its headers.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        for (name, value) in headers {
            request += &format!("{name}: {value}\r\n");
        }
        let body = body.unwrap_or("");
        if !body.is_empty() {
            request += &format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        request += "\r\n";
        request += body;
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let response = String::from_utf8_lossy(&response).to_string();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Answer {
            status,
            head: head.to_string(),
            body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.request("GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.request("POST", path, token, Some(&body.to_string()))
    }

    pub fn token(&self, role: &str) -> String {
        let name = format!("{role} of the test {}", self.addr.port());
        let (status, body) = self.post(
            "/api/tokens",
            Some(ADMIN),
            json!({ "role": role, "name": name }),
        );
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// The first stored event that `matches`, looked for until the writer has committed it.
    pub fn wait_for_event(&self, matches: impl Fn(&Value) -> bool) -> Value {
        let started = std::time::Instant::now();
        loop {
            let (_, events) = self.get("/api/events?limit=1000", Some(ADMIN));
            if let Some(event) = events.as_array().unwrap().iter().find(|e| matches(e)) {
                return event.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no such event: {events}"
            );
            std::thread::yield_now();
        }
    }

    pub fn door(&self, id: &str) -> Value {
        let (_, doors) = self.get("/api/doors", Some(ADMIN));
        doors
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}
