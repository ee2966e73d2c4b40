//! MQTT: the site's state and events published to a broker, Home Assistant discovery, and
//! (when the operator enables them) door commands. See docs/integrations.md.
//!
//! What is published is computed by pure functions from the site, the controller's snapshot
//! and the events ([`discovery`], [`states`], [`access_event`]); [`run`] connects, keeps the
//! last published value of every retained topic, and publishes what changed. The broker is
//! never in the way of the doors: a broker that is down or slow only delays what it is told,
//! and a command is an input like any other, which the controller's precedence decides.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keyway_core::Site;
use keyway_core::controller::{Alarm, Input, Reason};
use keyway_core::physics::{LockPosition, Millis, Rule};
use keyway_store::{NewEvent, StoredEvent};
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS, Transport};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::clock::Clock;
use crate::service::{Origin, Service, Snapshot, Source};

/// Where the broker is, parsed from `mqtt://[user:password@]host[:port]` or `mqtts://…`.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for BrokerUrl {
    // Never the password: a URL ends up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        match &self.user {
            Some(user) => write!(f, "{scheme}://{user}@{}:{}", self.host, self.port),
            None => write!(f, "{scheme}://{}:{}", self.host, self.port),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BrokerUrlError {
    #[error("MQTT URL {url:?}: it must start with mqtt:// or mqtts://")]
    Scheme { url: String },
    #[error("MQTT URL {url:?}: no host")]
    NoHost { url: String },
    #[error("MQTT URL {url:?}: port {port:?} is not a number from 1 to 65535")]
    Port { url: String, port: String },
    #[error("MQTT URL {url:?}: {what} has a bad %-escape")]
    Escape { url: String, what: &'static str },
    #[error("MQTT URL {url:?}: a path, query or fragment has no meaning here")]
    Path { url: String },
}

impl std::str::FromStr for BrokerUrl {
    type Err = BrokerUrlError;

    fn from_str(url: &str) -> Result<BrokerUrl, BrokerUrlError> {
        // Errors name the URL without its password.
        let shown = match url.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split(':').next().unwrap_or("");
                    format!("{scheme}://{user}:…@{host}")
                }
                None => url.to_string(),
            },
            None => url.to_string(),
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else {
            return Err(BrokerUrlError::Scheme { url: shown });
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(BrokerUrlError::Path { url: shown });
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(userinfo) => {
                let (user, password) = match userinfo.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (userinfo, None),
                };
                let decode = |text: &str, what| {
                    percent_decode(text).ok_or(BrokerUrlError::Escape {
                        url: shown.clone(),
                        what,
                    })
                };
                (
                    Some(decode(user, "the user")?),
                    password.map(|p| decode(p, "the password")).transpose()?,
                )
            }
        };
        // `[::1]:1883`, `host:1883`, `host`.
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            match v6.split_once(']') {
                Some((host, rest)) => (host, rest.strip_prefix(':')),
                None => return Err(BrokerUrlError::NoHost { url: shown }),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(BrokerUrlError::NoHost { url: shown });
        }
        let port = match port {
            None => {
                if tls {
                    8883
                } else {
                    1883
                }
            }
            Some(port) => match port.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => {
                    return Err(BrokerUrlError::Port {
                        url: shown,
                        port: port.to_string(),
                    });
                }
            },
        };
        Ok(BrokerUrl {
            tls,
            host: host.to_string(),
            port,
            user,
            password,
        })
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `keyway serve --mqtt …`.
#[derive(Clone, Debug)]
pub struct MqttConfig {
    pub broker: BrokerUrl,
    /// The topics' base; `None`: `keyway/<site>` (the site's name as a slug).
    pub base: Option<String>,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: String,
    /// Act on `<base>/door/<door>/set` (`--mqtt-commands`); without it every command is
    /// logged as refused.
    pub commands: bool,
    /// With `mqtts://`: the CA certificates (PEM) the broker's certificate must chain to;
    /// `None`: the system's.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("MQTT over TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("the MQTT base topic {0:?} must be non-empty, without + # or a leading or trailing /")]
    BadBase(String),
}

/// The site's name as a topic and id word: lower case letters and digits, other runs `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "site".to_string()
    } else {
        out
    }
}

/// The topics and ids of one site.
#[derive(Clone, Debug)]
pub struct Names {
    pub base: String,
    pub prefix: String,
    /// `keyway_<slug>`: the discovery node and the device's identifier.
    pub node: String,
}

impl Names {
    pub fn new(site: &Site, config: &MqttConfig) -> Result<Names, MqttError> {
        let slug = slug(&site.info.name);
        let base = config
            .base
            .clone()
            .unwrap_or_else(|| format!("keyway/{slug}"));
        for topic in [&base, &config.discovery_prefix] {
            if topic.is_empty()
                || topic.contains(['+', '#'])
                || topic.starts_with('/')
                || topic.ends_with('/')
            {
                return Err(MqttError::BadBase(topic.clone()));
            }
        }
        Ok(Names {
            base,
            prefix: config.discovery_prefix.clone(),
            node: format!("keyway_{slug}"),
        })
    }

    pub fn status(&self) -> String {
        format!("{}/status", self.base)
    }

    fn door(&self, door: &str, what: &str) -> String {
        format!("{}/door/{door}/{what}", self.base)
    }

    fn config(&self, component: &str, object: &str) -> String {
        format!("{}/{component}/{}/{object}/config", self.prefix, self.node)
    }

    /// The door a command topic is for.
    fn command_door<'a>(&self, topic: &'a str) -> Option<&'a str> {
        topic
            .strip_prefix(&self.base)?
            .strip_prefix("/door/")?
            .strip_suffix("/set")
            .filter(|door| !door.contains('/'))
    }
}

const ON_OFF: (&str, &str) = ("ON", "OFF");

/// Every Home Assistant discovery message for the site: (topic, config), retained.
pub fn discovery(site: &Site, names: &Names) -> Vec<(String, Value)> {
    let device = json!({
        "identifiers": [names.node],
        "name": site.info.name,
        "manufacturer": "Keyway",
        "model": "keyway serve",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let entity = |object: &str, name: &str, extra: Value| {
        let mut config = json!({
            "name": name,
            "unique_id": format!("{}_{object}", names.node),
            "availability_topic": names.status(),
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": {"name": "Keyway", "sw_version": env!("CARGO_PKG_VERSION")},
        });
        if let (Value::Object(config), Value::Object(extra)) = (&mut config, extra) {
            config.extend(extra);
        }
        config
    };
    let mut out = Vec::new();
    for d in site.door_indices() {
        let door = site.door(d);
        let id = &door.id;
        if door.lock.is_some() {
            out.push((
                names.config("lock", id),
                entity(
                    &format!("{id}_lock"),
                    &door.name,
                    json!({
                        "state_topic": names.door(id, "lock"),
                        "command_topic": names.door(id, "set"),
                        "json_attributes_topic": names.door(id, "attributes"),
                        "payload_lock": "LOCK",
                        "payload_unlock": "UNLOCK",
                        "state_locked": "LOCKED",
                        "state_unlocked": "UNLOCKED",
                        "state_jammed": "JAMMED",
                        "optimistic": false,
                        "retain": false,
                        "qos": 1,
                    }),
                ),
            ));
        }
        if door.dps {
            out.push((
                names.config("binary_sensor", &format!("{id}_contact")),
                entity(
                    &format!("{id}_contact"),
                    &format!("{} contact", door.name),
                    json!({
                        "state_topic": names.door(id, "contact"),
                        "device_class": "door",
                        "payload_on": ON_OFF.0,
                        "payload_off": ON_OFF.1,
                    }),
                ),
            ));
            out.push((
                names.config("binary_sensor", &format!("{id}_door_alarm")),
                entity(
                    &format!("{id}_door_alarm"),
                    &format!("{} alarm", door.name),
                    json!({
                        "state_topic": names.door(id, "alarm"),
                        "device_class": "problem",
                        "value_template": "{{ 'OFF' if value == 'none' else 'ON' }}",
                        "payload_on": ON_OFF.0,
                        "payload_off": ON_OFF.1,
                    }),
                ),
            ));
        }
        if door.reader.is_some() {
            out.push((
                names.config("binary_sensor", &format!("{id}_reader")),
                entity(
                    &format!("{id}_reader"),
                    &format!("{} reader", door.name),
                    json!({
                        "state_topic": format!("{}/reader/{id}/online", names.base),
                        "device_class": "connectivity",
                        "entity_category": "diagnostic",
                        "payload_on": ON_OFF.0,
                        "payload_off": ON_OFF.1,
                    }),
                ),
            ));
        }
        if door.reader.is_some() || door.dps {
            out.push((
                names.config("event", &format!("{id}_access")),
                entity(
                    &format!("{id}_access"),
                    &format!("{} access", door.name),
                    json!({
                        "state_topic": names.door(id, "access"),
                        "event_types": ACCESS_EVENT_TYPES,
                    }),
                ),
            ));
        }
    }
    for circuit in &site.circuits {
        let id = &circuit.id;
        let attributes = format!("{}/circuit/{id}/attributes", names.base);
        out.push((
            names.config("sensor", &format!("{id}_power")),
            entity(
                &format!("{id}_power"),
                &format!("{} power", circuit.name),
                json!({
                    "state_topic": format!("{}/circuit/{id}/power", names.base),
                    "json_attributes_topic": attributes,
                    "device_class": "enum",
                    "options": ["mains", "battery", "off"],
                }),
            ),
        ));
        if circuit.battery_minutes > 0.0 {
            out.push((
                names.config("sensor", &format!("{id}_battery")),
                entity(
                    &format!("{id}_battery"),
                    &format!("{} battery time left", circuit.name),
                    json!({
                        "state_topic": attributes,
                        "value_template": "{{ value_json.battery_seconds_left }}",
                        "device_class": "duration",
                        "unit_of_measurement": "s",
                        "state_class": "measurement",
                    }),
                ),
            ));
        }
    }
    for (object, name, topic) in [
        ("fire_alarm", "Fire alarm", "fire_alarm"),
        ("lockdown", "Lockdown", "lockdown"),
    ] {
        let mut extra = json!({
            "state_topic": format!("{}/{topic}", names.base),
            "payload_on": ON_OFF.0,
            "payload_off": ON_OFF.1,
        });
        if object == "fire_alarm" {
            extra["device_class"] = json!("safety");
        }
        out.push((
            names.config("binary_sensor", object),
            entity(object, name, extra),
        ));
    }
    out.push((
        names.config("sensor", "mode"),
        entity(
            "mode",
            "Emergency mode",
            json!({
                "state_topic": format!("{}/mode", names.base),
                "device_class": "enum",
                "options": keyway_core::emergency::Mode::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            }),
        ),
    ));
    out
}

/// The `event` entity's types, and the event kinds they stand for.
const ACCESS_EVENT_TYPES: [&str; 4] = ["granted", "denied", "forced", "held_open"];

/// Whether the door's reader answers (also `/metrics`). A reader not on a bus is
/// simulated: it works while the controller does.
pub fn reader_online(registry: &[crate::readers::ReaderInfo], door: &str, alive: bool) -> bool {
    registry
        .iter()
        .find(|reader| reader.doors.iter().any(|d| d == door))
        .map_or(alive, |reader| reader.online && alive)
}

/// Every retained state topic and its payload now.
pub fn states(
    site: &Site,
    names: &Names,
    snapshot: &Snapshot,
    readers: &[crate::readers::ReaderInfo],
) -> BTreeMap<String, String> {
    let on_off = |b: bool| if b { ON_OFF.0 } else { ON_OFF.1 }.to_string();
    let mut out = BTreeMap::new();
    for door in &snapshot.doors {
        let Some(d) = site.find_door(&door.id) else {
            continue;
        };
        let site_door = site.door(d);
        let id = &door.id;
        if site_door.lock.is_some() {
            let lock = if door.lock_fault {
                "JAMMED"
            } else if door.lock == LockPosition::Unlocked {
                "UNLOCKED"
            } else {
                "LOCKED"
            };
            out.insert(names.door(id, "lock"), lock.to_string());
            out.insert(
                names.door(id, "attributes"),
                json!({
                    "reason": door.reason,
                    "command": door.command,
                    "hold": door.hold,
                    "hold_until": door.hold_until,
                    "powered": door.powered,
                })
                .to_string(),
            );
        }
        if site_door.dps {
            out.insert(names.door(id, "contact"), on_off(door.open));
            let alarm = match door.alarm {
                None => "none",
                Some(Alarm::Forced) => "forced",
                Some(Alarm::HeldOpen) => "held_open",
            };
            out.insert(names.door(id, "alarm"), alarm.to_string());
        }
        if site_door.reader.is_some() {
            out.insert(
                format!("{}/reader/{id}/online", names.base),
                on_off(reader_online(readers, id, snapshot.controller_alive)),
            );
        }
    }
    for circuit in &snapshot.circuits {
        let power = match (circuit.live, circuit.on_battery) {
            (false, _) => "off",
            (true, true) => "battery",
            (true, false) => "mains",
        };
        out.insert(
            format!("{}/circuit/{}/power", names.base, circuit.id),
            power.to_string(),
        );
        out.insert(
            format!("{}/circuit/{}/attributes", names.base, circuit.id),
            json!({
                // Whole seconds: a sensor that changes every millisecond is noise.
                "battery_seconds_left": circuit.battery_seconds_left.map(|s| s.floor() as i64),
                "fed_by": circuit.fed_by,
            })
            .to_string(),
        );
    }
    out.insert(
        format!("{}/fire_alarm", names.base),
        on_off(snapshot.fire_alarm),
    );
    out.insert(
        format!("{}/lockdown", names.base),
        on_off(snapshot.lockdown),
    );
    out.insert(
        format!("{}/mode", names.base),
        snapshot.mode.name().to_string(),
    );
    out
}

/// The `event` entity's message for an access event at a door: (topic, payload).
pub fn access_event(names: &Names, event: &StoredEvent, json: &Value) -> Option<(String, Value)> {
    let event_type = match event.event.kind.as_str() {
        "access_granted" => "granted",
        "access_denied" => "denied",
        "door_forced" => "forced",
        "door_held_open" => "held_open",
        _ => return None,
    };
    let door = event.event.door.as_deref()?;
    let mut payload = json.clone();
    payload["event_type"] = json!(event_type);
    Some((names.door(door, "access"), payload))
}

/// What a command on `<base>/door/<door>/set` asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Unlock,
    Lock,
}

/// Whether a command may act on a door the controller now decides for `reason`: only a
/// door that an access grant decides or that nothing unlocks; any higher rule (fire alarm,
/// egress release, override, lockdown or a locking mode, a hold, a schedule) outranks it,
/// and a door without power or controller cannot be moved.
pub fn refusal(reason: Reason) -> Option<String> {
    match reason {
        Reason::Rule(Rule::AccessGranted | Rule::Locked) => None,
        other => Some(
            serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{other:?}")),
        ),
    }
}

/// What the connection task tells the publisher.
#[derive(Debug)]
enum Notice {
    Connected,
    Disconnected(String),
    Message {
        topic: String,
        payload: Vec<u8>,
        retained: bool,
    },
}

/// A command to act on, in order.
#[derive(Debug)]
struct Order {
    door: String,
    payload: Vec<u8>,
    retained: bool,
}

/// The first wait before a reconnect, and the longest.
const BACKOFF_MILLIS: (Millis, Millis) = (500, 30_000);
/// How often the battery times are published while nothing else happens.
const REFRESH_MILLIS: Millis = 60_000;

/// Builds the client's options from the configuration.
fn options(config: &MqttConfig, names: &Names, site: &Site) -> Result<MqttOptions, MqttError> {
    let client_id = format!("keyway-{}", slug(&site.info.name));
    let mut options = MqttOptions::new(client_id, &config.broker.host, config.broker.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_last_will(LastWill::new(
        names.status(),
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    // Discovery configs come back when the daemon reads what is left on the broker.
    options.set_max_packet_size(256 * 1024, 256 * 1024);
    if let Some(user) = &config.broker.user {
        options.set_credentials(user, config.broker.password.clone().unwrap_or_default());
    }
    if config.broker.tls {
        options.set_transport(Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(crate::tls::client_config(
                config.ca_file.as_deref(),
            )?)),
        ));
    }
    Ok(options)
}

/// What `run` needs of the daemon.
#[derive(Debug)]
pub struct Context {
    pub service: Service,
    pub site: Arc<Site>,
    pub clock: Arc<dyn Clock>,
    pub live: broadcast::Receiver<StoredEvent>,
    pub stopping: watch::Receiver<bool>,
    /// Set while connected to the broker (`keyway_mqtt_connected`).
    pub connected: Arc<std::sync::atomic::AtomicBool>,
}

/// Checks the configuration (names, TLS) before the daemon starts, so that a bad one stops
/// the start with its error rather than failing later in the background.
pub fn prepare(site: &Site, config: &MqttConfig) -> Result<(Names, MqttOptions), MqttError> {
    let names = Names::new(site, config)?;
    let options = options(config, &names, site)?;
    Ok((names, options))
}

/// Publishes until `stopping` turns true, then says `offline` and disconnects.
pub async fn run(config: MqttConfig, names: Names, options: MqttOptions, context: Context) {
    let Context {
        service,
        site,
        clock,
        mut live,
        mut stopping,
        connected,
    } = context;
    // Room for every discovery config and state at once (a connection publishes them all),
    // and a burst of events on top: a full queue drops a message.
    let entities = discovery(&site, &names).len();
    let (client, eventloop) = AsyncClient::new(options, 4 * entities + 4_096);
    let (notices_tx, mut notices) = mpsc::channel(1_024);
    let (finished_tx, finished) = watch::channel(false);
    let connection = tokio::spawn(connection(
        eventloop,
        Arc::clone(&clock),
        notices_tx,
        finished,
    ));
    let (orders_tx, orders) = mpsc::channel(64);
    let commands = tokio::spawn(act_on_orders(service.clone(), orders, config.commands));
    tracing::info!(broker = %config.broker, base = %names.base, commands = config.commands, "MQTT: connecting");

    let mut publisher = Publisher {
        client: client.clone(),
        names: names.clone(),
        site: Arc::clone(&site),
        published: BTreeMap::new(),
        connected: false,
        discovered: BTreeSet::new(),
        discovery_due: false,
    };
    let mut next_refresh = clock.monotonic().saturating_add(REFRESH_MILLIS);
    let mut warned = false;
    loop {
        tokio::select! {
            notice = notices.recv() => {
                let Some(notice) = notice else { break };
                match notice {
                    Notice::Connected => {
                        tracing::info!(broker = %config.broker, "MQTT: connected");
                        publisher.connected = true;
                        connected.store(true, std::sync::atomic::Ordering::Relaxed);
                        warned = false;
                        publisher.on_connect(&service).await;
                    }
                    Notice::Disconnected(problem) => {
                        // Once an outage: the retries that follow are debug.
                        if publisher.connected || !warned {
                            tracing::warn!(broker = %config.broker, %problem, "MQTT: no connection to the broker; retrying with backoff");
                            warned = true;
                        } else {
                            tracing::debug!(broker = %config.broker, %problem, "MQTT: still no connection");
                        }
                        publisher.connected = false;
                        connected.store(false, std::sync::atomic::Ordering::Relaxed);
                    }
                    Notice::Message { topic, payload, retained } => {
                        if topic == format!("{}/status", names.prefix) {
                            if payload == b"online" {
                                tracing::info!("MQTT: Home Assistant started; discovery published again");
                                publisher.published.clear();
                                publisher.publish_discovery();
                                publisher.publish_states(&service).await;
                            }
                        } else if let Some(door) = names.command_door(&topic) {
                            // An empty payload is how a retained message is cleared, not a
                            // command.
                            if payload.is_empty() {
                                continue;
                            }
                            let order = Order { door: door.to_string(), payload, retained };
                            if orders_tx.try_send(order).is_err() {
                                tracing::warn!(door, "MQTT: too many commands waiting; this one is dropped");
                            }
                        } else if topic.starts_with(&names.prefix) && !payload.is_empty() {
                            publisher.remove_if_gone(&topic);
                        }
                    }
                }
            }
            event = live.recv() => {
                match event {
                    Ok(event) => {
                        publisher.publish_event(&event);
                        // Everything already waiting, then one look at the state.
                        while let Ok(event) = live.try_recv() {
                            publisher.publish_event(&event);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "MQTT: events came faster than the broker took them; some were not published");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
                publisher.publish_states(&service).await;
            }
            _ = clock.sleep_until(next_refresh) => {
                if clock.monotonic() >= next_refresh {
                    next_refresh = clock.monotonic().saturating_add(REFRESH_MILLIS);
                    publisher.publish_states(&service).await;
                }
            }
            _ = stopping.changed() => {
                if *stopping.borrow() { break; }
            }
        }
    }
    connected.store(false, std::sync::atomic::Ordering::Relaxed);
    // Said before the will would be: a clean stop is `offline` at once.
    let _ = client.try_publish(names.status(), QoS::AtLeastOnce, true, "offline");
    let _ = client.try_disconnect();
    let _ = finished_tx.send(true);
    drop(orders_tx);
    let _ = commands.await;
    // Bounded: a broker that does not answer must not hold the daemon's stop.
    let _ = tokio::time::timeout(Duration::from_secs(2), connection).await;
}

/// Polls the client's event loop: connects, reconnects with backoff on the daemon's clock,
/// and hands what arrives to the publisher.
async fn connection(
    mut eventloop: rumqttc::EventLoop,
    clock: Arc<dyn Clock>,
    notices: mpsc::Sender<Notice>,
    finished: watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_MILLIS.0;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = BACKOFF_MILLIS.0;
                if notices.send(Notice::Connected).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let notice = Notice::Message {
                    topic: publish.topic,
                    payload: publish.payload.to_vec(),
                    retained: publish.retain,
                };
                if notices.send(notice).await.is_err() {
                    return;
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(error) => {
                if *finished.borrow() {
                    return;
                }
                let _ = notices.send(Notice::Disconnected(error.to_string())).await;
                let until = clock.monotonic().saturating_add(backoff);
                while clock.monotonic() < until && !*finished.borrow() {
                    clock.sleep_until(until).await;
                }
                if *finished.borrow() {
                    return;
                }
                backoff = (backoff * 2).min(BACKOFF_MILLIS.1);
            }
        }
    }
}

/// The publishing side: what was last published on each retained topic.
struct Publisher {
    client: AsyncClient,
    names: Names,
    site: Arc<Site>,
    published: BTreeMap<String, String>,
    connected: bool,
    /// The discovery topics of this site now.
    discovered: BTreeSet<String>,
    /// Some discovery config was not published.
    discovery_due: bool,
}

impl Publisher {
    fn publish(&self, topic: String, retain: bool, payload: impl Into<Vec<u8>>) -> bool {
        match self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%error, "MQTT: not published");
                false
            }
        }
    }

    async fn on_connect(&mut self, service: &Service) {
        self.publish(self.names.status(), true, "online");
        let subscribe = |topic: String| {
            if let Err(error) = self.client.try_subscribe(topic, QoS::AtLeastOnce) {
                tracing::warn!(%error, "MQTT: cannot subscribe");
            }
        };
        subscribe(format!("{}/status", self.names.prefix));
        // What a previous run left on the broker: configs of doors that left the site are
        // removed as they arrive (`remove_if_gone`).
        subscribe(format!(
            "{}/+/{}/+/config",
            self.names.prefix, self.names.node
        ));
        // Commands are always listened to: when they are disabled, each is logged as refused.
        subscribe(format!("{}/door/+/set", self.names.base));
        self.publish_discovery();
        self.published.clear();
        self.publish_states(service).await;
    }

    fn publish_discovery(&mut self) {
        self.discovered.clear();
        let mut complete = true;
        for (topic, config) in discovery(&self.site, &self.names) {
            self.discovered.insert(topic.clone());
            complete &= self.publish(topic, true, config.to_string());
        }
        // A config the queue could not take is published again with the next states.
        self.discovery_due = !complete;
    }

    /// A retained config of this node that the site no longer has: removed, and the state
    /// topics of its door with it.
    fn remove_if_gone(&mut self, topic: &str) {
        let ours = format!("{}/", self.names.prefix);
        let node = format!("/{}/", self.names.node);
        if !topic.starts_with(&ours) || !topic.contains(&node) || self.discovered.contains(topic) {
            return;
        }
        tracing::info!(
            topic,
            "MQTT: removing the discovery config of what the site no longer has"
        );
        self.publish(topic.to_string(), true, Vec::new());
        if let Some(door) = topic
            .strip_prefix(&format!("{}/lock{node}", self.names.prefix))
            .and_then(|rest| rest.strip_suffix("/config"))
        {
            for what in ["lock", "attributes", "contact", "alarm"] {
                self.publish(self.names.door(door, what), true, Vec::new());
            }
            self.publish(
                format!("{}/reader/{door}/online", self.names.base),
                true,
                Vec::new(),
            );
        }
    }

    fn publish_event(&self, event: &StoredEvent) {
        if !self.connected {
            return;
        }
        let json = crate::api::stored_event_json(&self.site.info.timezone, event);
        if let Some((topic, payload)) = access_event(&self.names, event, &json) {
            self.publish(topic, false, payload.to_string());
        }
        self.publish(
            format!("{}/events", self.names.base),
            false,
            json.to_string(),
        );
    }

    /// Publishes the retained states that changed since they were last published.
    async fn publish_states(&mut self, service: &Service) {
        if !self.connected {
            return;
        }
        if self.discovery_due {
            self.publish_discovery();
        }
        let Ok(snapshot) = service.snapshot().await else {
            return;
        };
        let readers = service.reader_registry().all();
        for (topic, payload) in states(&self.site, &self.names, &snapshot, &readers) {
            if self.published.get(&topic) != Some(&payload)
                && self.publish(topic.clone(), true, payload.clone())
            {
                self.published.insert(topic, payload);
            }
        }
    }
}

/// Acts on commands one at a time, in the order they came. Each is an event: an accepted
/// one the `operator_hold` its input logs (source `mqtt`), a refused one `command_refused`
/// with why.
async fn act_on_orders(service: Service, mut orders: mpsc::Receiver<Order>, enabled: bool) {
    while let Some(order) = orders.recv().await {
        let text = String::from_utf8_lossy(&order.payload).trim().to_string();
        let command = match text.as_str() {
            "UNLOCK" => Some(Command::Unlock),
            "LOCK" => Some(Command::Lock),
            _ => None,
        };
        let door = service.site().find_door(&order.door);
        let refused = if !enabled {
            Some("commands are not enabled (keyway serve --mqtt-commands)".to_string())
        } else if order.retained {
            // A command left on the broker is never acted on: a restart must never unlock.
            Some("a retained message is never acted on".to_string())
        } else if door.is_none() {
            Some("the site has no such door".to_string())
        } else if command.is_none() {
            Some(format!("unknown command {text:?} (UNLOCK or LOCK)"))
        } else {
            match service.snapshot().await {
                Ok(snapshot) => snapshot
                    .doors
                    .iter()
                    .find(|d| d.id == order.door)
                    .and_then(|d| refusal(d.reason))
                    .map(|rule| format!("{rule} decides the door")),
                Err(error) => Some(error.to_string()),
            }
        };
        let origin = Origin::new(Source::Mqtt);
        let result = match (refused, door, command) {
            (None, Some(door), Some(command)) => {
                let input = match command {
                    Command::Unlock => Input::MomentaryUnlock { door },
                    Command::Lock => Input::MomentaryEnd { door },
                };
                service.input(input, origin).await.map(|_| ())
            }
            (refused, _, _) => {
                let reason = refused.unwrap_or_default();
                tracing::info!(door = %order.door, command = %text, %reason, "MQTT: command refused");
                let event = NewEvent {
                    at: service.clock().wall(),
                    kind: "command_refused".to_string(),
                    door: door.map(|_| order.door.clone()),
                    reason: Some(reason),
                    source: Some(Source::Mqtt.name().to_string()),
                    detail: Some(format!(
                        "{} on door {}",
                        text.chars().take(64).collect::<String>(),
                        order.door
                    )),
                    ..NewEvent::default()
                };
                service.log_event(event, Vec::new()).await.map(|_| ())
            }
        };
        if let Err(error) = result {
            tracing::warn!(%error, door = %order.door, "MQTT: a command's events are not durable yet");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_and_bad_ones_say_why() {
        let url: BrokerUrl = "mqtt://ha:p%40ss@broker.lan:1884".parse().unwrap();
        assert_eq!(
            url,
            BrokerUrl {
                tls: false,
                host: "broker.lan".into(),
                port: 1884,
                user: Some("ha".into()),
                password: Some("p@ss".into())
            }
        );
        assert_eq!(format!("{url:?}"), "mqtt://ha@broker.lan:1884");
        let url: BrokerUrl = "mqtts://[::1]".parse().unwrap();
        assert_eq!((url.tls, url.host.as_str(), url.port), (true, "::1", 8883));
        assert_eq!("mqtt://h".parse::<BrokerUrl>().unwrap().port, 1883);
        let error = "http://h:1".parse::<BrokerUrl>().unwrap_err();
        assert!(error.to_string().contains("mqtt:// or mqtts://"), "{error}");
        let error = "mqtt://u:secret@h:99999".parse::<BrokerUrl>().unwrap_err();
        assert!(error.to_string().contains("99999"), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
        assert!(matches!(
            "mqtt://:1883".parse::<BrokerUrl>(),
            Err(BrokerUrlError::NoHost { .. })
        ));
        assert!(matches!(
            "mqtt://h/topic".parse::<BrokerUrl>(),
            Err(BrokerUrlError::Path { .. })
        ));
        assert!(matches!(
            "mqtt://u:%zz@h".parse::<BrokerUrl>(),
            Err(BrokerUrlError::Escape { .. })
        ));
    }

    #[test]
    fn a_bad_ca_file_or_base_stops_the_start_and_names_it() {
        let site = keyway_core::parse_site("demo", crate::DEMO_SITE).unwrap();
        let config = |base: Option<&str>, ca: Option<&str>| MqttConfig {
            broker: "mqtts://localhost".parse().unwrap(),
            base: base.map(str::to_string),
            discovery_prefix: "homeassistant".to_string(),
            commands: false,
            ca_file: ca.map(PathBuf::from),
        };
        let error = prepare(&site, &config(None, Some("/nonexistent/ca.pem"))).unwrap_err();
        assert!(
            matches!(error, MqttError::Tls(crate::tls::TlsError::CaFile { .. })),
            "{error}"
        );
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
        let error = prepare(&site, &config(Some("keyway/#"), None)).unwrap_err();
        assert!(error.to_string().contains("keyway/#"), "{error}");
        let error = prepare(&site, &config(None, Some("/dev/null"))).unwrap_err();
        assert!(error.to_string().contains("no PEM certificate"), "{error}");
        let mut plain = config(Some("site/a"), None);
        plain.broker = "mqtt://localhost".parse().unwrap();
        let (names, _) = prepare(&site, &plain).unwrap();
        assert_eq!(names.status(), "site/a/status");
        assert_eq!(names.node, "keyway_riverside-office");
    }

    #[test]
    fn slugs_are_topic_words() {
        assert_eq!(slug("Riverside Office"), "riverside-office");
        assert_eq!(slug("  St. Mary's — Wing B "), "st-mary-s-wing-b");
        assert_eq!(slug("—"), "site");
    }

    #[test]
    fn only_a_grant_or_nothing_leaves_a_door_to_a_command() {
        assert_eq!(refusal(Reason::Rule(Rule::Locked)), None);
        assert_eq!(refusal(Reason::Rule(Rule::AccessGranted)), None);
        assert_eq!(
            refusal(Reason::Rule(Rule::Lockdown)).as_deref(),
            Some("lockdown")
        );
        assert_eq!(
            refusal(Reason::Rule(Rule::FireAlarm)).as_deref(),
            Some("fire_alarm")
        );
        assert_eq!(
            refusal(Reason::ControllerDead).as_deref(),
            Some("controller_dead")
        );
    }

    #[test]
    fn command_topics_name_one_door() {
        let names = Names {
            base: "keyway/x".into(),
            prefix: "homeassistant".into(),
            node: "keyway_x".into(),
        };
        assert_eq!(names.command_door("keyway/x/door/front/set"), Some("front"));
        assert_eq!(names.command_door("keyway/x/door/a/b/set"), None);
        assert_eq!(names.command_door("keyway/y/door/front/set"), None);
    }
}
