//! MQTT against Debian's mosquitto, started here on a free loopback port, with `keyway serve`
//! as a real process (so that `kill -9` leaves the broker to say the will). A client in the
//! test watches every topic.
//!
//! Needs the broker: `KEYWAY_MOSQUITTO=/usr/sbin/mosquitto` (`.ci/run` installs and sets
//! it). Without it these tests say "not run" and pass; with it set to a path that does not
//! run, they fail.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{CLOCK_START, Daemon, data_dir, post, serve_command};
use serde_json::Value;

/// The demo site's topics.
const BASE: &str = "keyway/riverside-office";
const NODE: &str = "homeassistant/{}/keyway_riverside-office";

fn config_topic(component: &str, object: &str) -> String {
    format!("{}/{object}/config", NODE.replace("{}", component))
}

/// A mosquitto on its own port, no persistence: a restart forgets what was retained.
struct Broker {
    child: Child,
    port: u16,
    conf: PathBuf,
    program: String,
}

impl Broker {
    fn start(dir: &Path) -> Option<Broker> {
        let Ok(program) = std::env::var("KEYWAY_MOSQUITTO") else {
            eprintln!("MQTT test not run: set KEYWAY_MOSQUITTO to mosquitto's path (.ci/run does)");
            return None;
        };
        std::fs::create_dir_all(dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .unwrap();
        let child = Broker::spawn(&program, &conf, port);
        Some(Broker {
            child,
            port,
            conf,
            program,
        })
    }

    fn spawn(program: &str, conf: &Path, port: u16) -> Child {
        let child = Command::new(program)
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("KEYWAY_MOSQUITTO={program} does not start: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        self.child = Broker::spawn(&self.program, &self.conf, self.port);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as the watcher got it.
#[derive(Clone, Debug)]
struct Message {
    topic: String,
    payload: String,
    retained: bool,
}

/// A client subscribed to every topic, keeping every message in order.
struct Watcher {
    messages: Arc<Mutex<Vec<Message>>>,
    client: rumqttc::Client,
}

impl Watcher {
    fn connect(broker: &Broker, name: &str) -> Watcher {
        let mut options = rumqttc::MqttOptions::new(name, "127.0.0.1", broker.port);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = rumqttc::Client::new(options, 1_000);
        client.subscribe("#", rumqttc::QoS::AtLeastOnce).unwrap();
        let messages: Arc<Mutex<Vec<Message>>> = Arc::default();
        let kept = Arc::clone(&messages);
        std::thread::spawn(move || {
            for notification in connection.iter() {
                match notification {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        kept.lock().unwrap().push(Message {
                            topic: p.topic.clone(),
                            payload: String::from_utf8_lossy(&p.payload).to_string(),
                            retained: p.retain,
                        });
                    }
                    Ok(_) => {}
                    // The broker went away: this watcher is done.
                    Err(_) => break,
                }
            }
        });
        Watcher { messages, client }
    }

    fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    /// Waits (at most 20 s) for a message from index `from` on that satisfies `test`.
    fn wait_from(&self, from: usize, what: &str, test: impl Fn(&Message) -> bool) -> Message {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(m) = self.messages.lock().unwrap()[from..]
                .iter()
                .find(|m| test(m))
            {
                return m.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 20 s; got {:#?}",
                self.messages.lock().unwrap()[from..]
                    .iter()
                    .map(|m| format!("{} {}", m.topic, m.payload))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for `topic` to carry `payload` (from message `from` on).
    fn wait_for(&self, from: usize, topic: &str, payload: &str) -> Message {
        self.wait_from(from, &format!("{topic} = {payload}"), |m| {
            m.topic == topic && m.payload == payload
        })
    }

    /// The last payload of every topic.
    fn latest(&self) -> BTreeMap<String, String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| (m.topic.clone(), m.payload.clone()))
            .collect()
    }

    fn publish(&self, topic: &str, retain: bool, payload: &str) {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, retain, payload.as_bytes())
            .unwrap();
    }
}

/// `keyway serve` on the demo site with a virtual clock, publishing to `broker`.
fn serve(data: &Path, broker: &Broker, extra: &[&str]) -> Daemon {
    let mut command = serve_command(data, common::ADMIN);
    command.args(["--clock-start", CLOCK_START, "--virtual-clock"]);
    command.args(["--mqtt", &broker.url()]);
    command.args(extra);
    Daemon::spawn(command)
}

fn json(message: &Message) -> Value {
    serde_json::from_str(&message.payload)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", message.topic, message.payload))
}

#[test]
fn home_assistant_discovers_every_entity_and_follows_the_doors() {
    let dir = data_dir("mqtt-discovery");
    let Some(broker) = Broker::start(&dir.join("broker")) else {
        return;
    };
    let watcher = Watcher::connect(&broker, "watcher-discovery");
    let daemon = serve(&dir.join("data"), &broker, &[]);
    watcher.wait_for(0, &format!("{BASE}/status"), "online");
    let lock = watcher.wait_from(0, "the front door's lock config", |m| {
        m.topic == config_topic("lock", "front")
    });
    assert!(lock.retained || watcher.count() > 0);
    let lock = json(&lock);
    assert_eq!(lock["unique_id"], "keyway_riverside-office_front_lock");
    assert_eq!(lock["state_topic"], format!("{BASE}/door/front/lock"));
    assert_eq!(lock["command_topic"], format!("{BASE}/door/front/set"));
    assert_eq!(lock["availability_topic"], format!("{BASE}/status"));
    assert_eq!(lock["device"]["identifiers"][0], "keyway_riverside-office");
    assert_eq!(lock["device"]["name"], "Riverside Office");

    // Every kind of entity of the demo site, with what Home Assistant needs of it.
    let expected = [
        ("binary_sensor", "front_contact", "device_class", "door"),
        (
            "binary_sensor",
            "front_door_alarm",
            "device_class",
            "problem",
        ),
        (
            "binary_sensor",
            "front_reader",
            "device_class",
            "connectivity",
        ),
        (
            "binary_sensor",
            "fire_alarm",
            "state_topic",
            "keyway/riverside-office/fire_alarm",
        ),
        (
            "binary_sensor",
            "lockdown",
            "state_topic",
            "keyway/riverside-office/lockdown",
        ),
        ("sensor", "ups_battery", "device_class", "duration"),
        ("sensor", "lock-psu_battery", "unit_of_measurement", "s"),
        ("sensor", "mains_power", "device_class", "enum"),
        (
            "event",
            "front_access",
            "state_topic",
            "keyway/riverside-office/door/front/access",
        ),
        (
            "lock",
            "server",
            "state_topic",
            "keyway/riverside-office/door/server/lock",
        ),
    ];
    for (component, object, field, value) in expected {
        let topic = config_topic(component, object);
        let config = json(&watcher.wait_from(0, &topic, |m| m.topic == topic));
        assert_eq!(config[field], value, "{topic}: {config}");
        assert!(
            config["unique_id"]
                .as_str()
                .unwrap()
                .starts_with("keyway_riverside-office_")
        );
        assert_eq!(config["availability_topic"], format!("{BASE}/status"));
    }
    let event = json(&watcher.wait_from(0, "event config", |m| {
        m.topic == config_topic("event", "server_access")
    }));
    assert_eq!(
        event["event_types"],
        serde_json::json!(["granted", "denied", "forced", "held_open"])
    );
    // The mains has no battery: no battery sensor for it.
    let latest = watcher.latest();
    assert!(!latest.contains_key(&config_topic("sensor", "mains_battery")));
    // States, retained, at start.
    for (topic, payload) in [
        ("door/server/lock", "LOCKED"),
        ("door/server/contact", "OFF"),
        ("door/server/alarm", "none"),
        ("reader/server/online", "ON"),
        ("circuit/lock-psu/power", "mains"),
        ("fire_alarm", "OFF"),
        ("lockdown", "OFF"),
    ] {
        watcher.wait_for(0, &format!("{BASE}/{topic}"), payload);
    }

    // A badge: the event, the access event, the lock.
    post(
        &daemon,
        "/api/credentials",
        r#"{"number": "1001", "holder": "Ada", "doors": ["*"]}"#,
    );
    let from = watcher.count();
    post(
        &daemon,
        "/api/sim/badge",
        r#"{"door": "server", "credential": "1001"}"#,
    );
    let granted = json(&watcher.wait_from(from, "access_granted on events", |m| {
        m.topic == format!("{BASE}/events") && m.payload.contains("access_granted")
    }));
    assert_eq!(granted["door"], "server");
    assert_eq!(granted["credential"], "1001");
    assert!(granted["seq"].as_u64().unwrap() > 0);
    let access = watcher.wait_from(from, "the access event", |m| {
        m.topic == format!("{BASE}/door/server/access")
    });
    assert!(!access.retained);
    assert_eq!(json(&access)["event_type"], "granted");
    watcher.wait_for(from, &format!("{BASE}/door/server/lock"), "UNLOCKED");
    // The door opens; the grant runs out (virtual time) and it relocks.
    post(&daemon, "/api/sim/door/server", r#"{"open": true}"#);
    watcher.wait_for(from, &format!("{BASE}/door/server/contact"), "ON");
    post(&daemon, "/api/sim/door/server", r#"{"open": false}"#);
    watcher.wait_for(from, &format!("{BASE}/door/server/contact"), "OFF");
    post(&daemon, "/api/sim/clock", r#"{"advance_seconds": 10}"#);
    watcher.wait_for(from, &format!("{BASE}/door/server/lock"), "LOCKED");
    // An unknown card: denied.
    post(
        &daemon,
        "/api/sim/badge",
        r#"{"door": "front", "credential": "9999"}"#,
    );
    let denied = watcher.wait_from(from, "the denied access event", |m| {
        m.topic == format!("{BASE}/door/front/access")
    });
    assert_eq!(json(&denied)["event_type"], "denied");

    // A power cut: the lock supply runs on its battery, its time left published.
    let from = watcher.count();
    post(&daemon, "/api/sim/power/mains", r#"{"live": false}"#);
    watcher.wait_for(from, &format!("{BASE}/circuit/mains/power"), "off");
    watcher.wait_for(from, &format!("{BASE}/circuit/lock-psu/power"), "battery");
    let attributes = json(&watcher.wait_from(from, "lock-psu attributes", |m| {
        m.topic == format!("{BASE}/circuit/lock-psu/attributes")
    }));
    assert_eq!(attributes["battery_seconds_left"], 3600, "{attributes}");
    post(&daemon, "/api/sim/power/mains", r#"{"live": true}"#);
    watcher.wait_for(from, &format!("{BASE}/circuit/lock-psu/power"), "mains");

    // The fire alarm: published, and the doors it releases unlock.
    let from = watcher.count();
    post(&daemon, "/api/sim/fire-alarm", r#"{"active": true}"#);
    watcher.wait_for(from, &format!("{BASE}/fire_alarm"), "ON");
    watcher.wait_for(from, &format!("{BASE}/door/office-entry/lock"), "UNLOCKED");

    // Home Assistant restarts: the discovery configs come again.
    let from = watcher.count();
    watcher.publish("homeassistant/status", false, "online");
    watcher.wait_from(from, "discovery again", |m| {
        m.topic == config_topic("lock", "front")
    });

    // The unique ids are the same after a restart.
    drop(daemon);
    let from = watcher.count();
    let _daemon = serve(&dir.join("data"), &broker, &[]);
    let again = json(
        &watcher.wait_from(from, "the lock config after a restart", |m| {
            m.topic == config_topic("lock", "front")
        }),
    );
    assert_eq!(again["unique_id"], lock["unique_id"]);
}

#[test]
fn the_will_says_offline_on_kill_and_a_broker_restart_is_survived() {
    let dir = data_dir("mqtt-availability");
    let Some(mut broker) = Broker::start(&dir.join("broker")) else {
        return;
    };
    let watcher = Watcher::connect(&broker, "watcher-availability");
    let daemon = serve(&dir.join("data"), &broker, &[]);
    watcher.wait_for(0, &format!("{BASE}/status"), "online");
    let from = watcher.count();
    daemon.kill();
    let will = watcher.wait_for(from, &format!("{BASE}/status"), "offline");
    assert!(!will.retained, "delivered live to a subscriber");

    // A clean stop says offline itself; a start says online.
    let mut daemon = serve(&dir.join("data"), &broker, &[]);
    watcher.wait_for(from, &format!("{BASE}/status"), "online");
    let (_, metrics) = daemon.request("GET", "/metrics", None).unwrap();
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("keyway_mqtt_connected 1"),
        "{metrics}"
    );

    // The broker restarts (and forgets everything): the daemon reconnects with backoff on
    // its clock, and publishes its state again.
    broker.restart();
    let watcher = Watcher::connect(&broker, "watcher-after-restart");
    // The backoff is on the daemon's virtual clock: move it on until it is back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while watcher
        .latest()
        .get(&format!("{BASE}/status"))
        .is_none_or(|s| s != "online")
    {
        assert!(
            Instant::now() < deadline,
            "no reconnect after the broker restarted"
        );
        post(&daemon, "/api/sim/clock", r#"{"advance_seconds": 1}"#);
        std::thread::sleep(Duration::from_millis(50));
    }
    watcher.wait_for(0, &format!("{BASE}/door/front/lock"), "LOCKED");
    watcher.wait_from(0, "the discovery configs again", |m| {
        m.topic == config_topic("lock", "front")
    });

    // SIGTERM: offline, retained, before the process ends.
    let pid = daemon.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    daemon.child.wait().unwrap();
    let later = Watcher::connect(&broker, "watcher-late");
    let status = later.wait_from(0, "the retained status", |m| {
        m.topic == format!("{BASE}/status")
    });
    assert_eq!(
        (status.payload.as_str(), status.retained),
        ("offline", true)
    );
}

/// The events of `kind` the daemon logged.
fn events_of(daemon: &Daemon, kind: &str) -> Vec<Value> {
    let (status, events) = daemon
        .request(
            "GET",
            &format!("/api/events?order=newest&kind={kind}"),
            None,
        )
        .unwrap();
    assert_eq!(status, 200, "{events}");
    events.as_array().unwrap().clone()
}

/// Waits for the `n`th event of `kind`.
fn wait_events(daemon: &Daemon, kind: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = events_of(daemon, kind);
        if events.len() >= n {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{n} {kind} events not logged: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn commands_act_only_when_enabled_and_never_over_a_higher_rule() {
    let dir = data_dir("mqtt-commands");
    let Some(broker) = Broker::start(&dir.join("broker")) else {
        return;
    };
    let watcher = Watcher::connect(&broker, "watcher-commands");
    let set = format!("{BASE}/door/server/set");
    let lock_topic = format!("{BASE}/door/server/lock");

    // A retained UNLOCK waits on the broker before the daemon starts.
    watcher.publish(&set, true, "UNLOCK");
    let daemon = serve(&dir.join("data"), &broker, &["--mqtt-commands"]);
    watcher.wait_for(0, &format!("{BASE}/status"), "online");
    let refused = wait_events(&daemon, "command_refused", 1);
    assert_eq!(refused[0]["source"], "mqtt");
    assert_eq!(refused[0]["door"], "server");
    assert!(
        refused[0]["reason"].as_str().unwrap().contains("retained"),
        "{refused:?}"
    );
    watcher.wait_for(0, &lock_topic, "LOCKED");
    assert_eq!(watcher.latest()[&lock_topic], "LOCKED");
    // Cleared, so that a later subscription does not see it again.
    watcher.publish(&set, true, "");

    // UNLOCK: a momentary unlock, logged with source mqtt; LOCK ends it.
    let from = watcher.count();
    watcher.publish(&set, false, "UNLOCK");
    watcher.wait_for(from, &lock_topic, "UNLOCKED");
    let holds = wait_events(&daemon, "operator_hold", 1);
    assert_eq!(holds[0]["source"], "mqtt");
    assert_eq!(holds[0]["detail"], "momentary");
    watcher.publish(&set, false, "LOCK");
    watcher.wait_for(from, &lock_topic, "LOCKED");
    let holds = wait_events(&daemon, "operator_hold", 2);
    assert_eq!(holds[0]["detail"], "momentary end");

    // Lockdown outranks it: refused, logged, the door stays locked.
    post(&daemon, "/api/lockdown", r#"{"active": true}"#);
    watcher.publish(&set, false, "UNLOCK");
    let refused = wait_events(&daemon, "command_refused", 2);
    assert_eq!(refused[0]["reason"], "lockdown decides the door");
    post(&daemon, "/api/lockdown", r#"{"active": false}"#);

    // The fire alarm outranks a LOCK of a door it releases.
    post(&daemon, "/api/sim/fire-alarm", r#"{"active": true}"#);
    let office = format!("{BASE}/door/office-entry/set");
    watcher.wait_for(0, &format!("{BASE}/door/office-entry/lock"), "UNLOCKED");
    watcher.publish(&office, false, "LOCK");
    let refused = wait_events(&daemon, "command_refused", 3);
    assert_eq!(refused[0]["reason"], "fire_alarm decides the door");
    assert_eq!(refused[0]["door"], "office-entry");
    // Nonsense is refused too, and says what it was.
    watcher.publish(&set, false, "OPEN SESAME");
    let refused = wait_events(&daemon, "command_refused", 4);
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown command")
    );
    drop(daemon);

    // Without --mqtt-commands every command is refused.
    let from = watcher.count();
    let daemon = serve(&dir.join("data"), &broker, &[]);
    watcher.wait_for(from, &format!("{BASE}/status"), "online");
    post(&daemon, "/api/sim/fire-alarm", r#"{"active": false}"#);
    post(&daemon, "/api/fire-alarm/reset", "{}");
    watcher.publish(&set, false, "UNLOCK");
    let refused = wait_events(&daemon, "command_refused", 5);
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("--mqtt-commands"),
        "{refused:?}"
    );
    assert_eq!(watcher.latest()[&lock_topic], "LOCKED");
}

#[test]
fn a_door_that_leaves_the_site_leaves_home_assistant() {
    let dir = data_dir("mqtt-removed");
    let Some(broker) = Broker::start(&dir.join("broker")) else {
        return;
    };
    let site = dir.join("site.toml");
    std::fs::write(&site, keyway_daemon::DEMO_SITE).unwrap();
    let watcher = Watcher::connect(&broker, "watcher-removed");
    let start = |site: &Path| {
        let mut command = serve_command(&dir.join("data"), common::ADMIN);
        command.args(["--clock-start", CLOCK_START, "--virtual-clock"]);
        command.args(["--mqtt", &broker.url(), "--site", site.to_str().unwrap()]);
        Daemon::spawn(command)
    };
    let daemon = start(&site);
    let rear = config_topic("lock", "rear");
    watcher.wait_from(0, "the rear door's config", |m| {
        m.topic == rear && !m.payload.is_empty()
    });
    drop(daemon);

    // The same site without the rear door (its block is the one with id = "rear").
    let text = keyway_daemon::DEMO_SITE;
    let start_at = text.find("id = \"rear\"").unwrap();
    let block_start = text[..start_at].rfind("[[door]]").unwrap();
    let block_end = text[start_at..]
        .find("[[door]]")
        .map_or(text.len(), |i| start_at + i);
    let without = format!("{}{}", &text[..block_start], &text[block_end..]);
    let smaller = dir.join("smaller.toml");
    std::fs::write(&smaller, without).unwrap();
    let from = watcher.count();
    let _daemon = start(&smaller);
    let removed = watcher.wait_from(from, "the rear door's config removed", |m| {
        m.topic == rear && m.payload.is_empty()
    });
    assert!(!removed.retained);
    watcher.wait_from(from, "its lock state removed", |m| {
        m.topic == format!("{BASE}/door/rear/lock") && m.payload.is_empty()
    });
    // The others stay.
    let front = config_topic("lock", "front");
    assert!(!watcher.latest()[&front].is_empty());
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian's openssl package) makes the test's certificates");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn mqtts_checks_the_brokers_certificate_against_the_given_ca() {
    let dir = data_dir("mqtt-tls");
    let Some(mut plain) = Broker::start(&dir.join("plain")) else {
        return;
    };
    plain.stop();
    // A CA of the test's own and a certificate for localhost signed by it.
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &tls,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-subj",
                "/CN=keyway-test-ca",
                "-days",
                "2",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    );
    openssl(
        &tls,
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        tls.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        &tls,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    // The same broker with TLS only (as root it would drop to a user who cannot read the key).
    let t = |name: &str| tls.join(name).display().to_string();
    std::fs::write(
        &plain.conf,
        format!(
            "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\ncafile {}\ncertfile {}\nkeyfile {}\n",
            plain.port,
            t("ca.pem"),
            t("server.pem"),
            t("server.key")
        ),
    )
    .unwrap();
    plain.restart();
    let broker = plain;

    // The watcher speaks TLS too.
    let mut options = rumqttc::MqttOptions::new("watcher-tls", "localhost", broker.port);
    let ca = std::fs::read(tls.join("ca.pem")).unwrap();
    options.set_transport(rumqttc::Transport::tls(ca, None, None));
    let (client, mut connection) = rumqttc::Client::new(options, 100);
    client
        .subscribe(format!("{BASE}/status"), rumqttc::QoS::AtLeastOnce)
        .unwrap();
    let (seen_tx, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for notification in connection.iter() {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = notification {
                let _ = seen_tx.send(String::from_utf8_lossy(&p.payload).to_string());
            }
        }
    });

    let url = format!("mqtts://localhost:{}", broker.port);
    let mut command = serve_command(&dir.join("data"), common::ADMIN);
    command.args([
        "--clock-start",
        CLOCK_START,
        "--virtual-clock",
        "--mqtt",
        &url,
    ]);
    command.args(["--mqtt-ca", &t("ca.pem")]);
    let _daemon = Daemon::spawn(command);
    let status = seen
        .recv_timeout(Duration::from_secs(20))
        .expect("online over TLS");
    assert_eq!(status, "online");
}
