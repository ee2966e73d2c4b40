//! Prometheus metrics at `/metrics`, in the text exposition format, by Prometheus's naming
//! conventions: the `keyway_` prefix, base units (seconds), `_total` for counters, one
//! `# HELP` and `# TYPE` per family. Labels name doors, readers, circuits, webhooks and event
//! kinds, never a credential or its holder. See docs/integrations.md for the list and an
//! alert rule.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::readers::ReaderInfo;
use crate::service::Snapshot;
use crate::webhooks::Progress;
use crate::writer::StorageHealth;

/// The counters the daemon keeps since it started (the stored events' are the writer's).
#[derive(Debug, Default)]
pub struct Metrics {
    inputs: AtomicU64,
}

/// What one scrape shows, gathered by the handler.
#[derive(Debug)]
pub struct Scrape<'a> {
    pub site: &'a keyway_core::Site,
    pub snapshot: Option<&'a Snapshot>,
    pub stream_subscribers: usize,
    pub storage: &'a StorageHealth,
    pub readers: &'a [ReaderInfo],
    /// Each webhook endpoint's progress, by id.
    pub webhooks: &'a [(String, std::sync::Arc<Progress>)],
    /// With MQTT: whether the broker is connected.
    pub mqtt_connected: Option<bool>,
}

/// The exposition format, a family at a time.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{label}=\"{}\"", escape(text));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A family of one unlabelled sample.
    fn one(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// A label value as the format needs it: `\`, `"` and new lines escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

impl Metrics {
    pub fn count_input(&self) {
        self.inputs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, scrape: &Scrape<'_>) -> String {
        let mut out = Out(String::new());
        out.family(
            "keyway_build_info",
            "gauge",
            "The daemon's version and the site it runs; always 1.",
        );
        out.sample(
            "keyway_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("site", &scrape.site.info.name),
            ],
            1.0,
        );
        out.one(
            "keyway_inputs_total",
            "counter",
            "Inputs applied through the API.",
            self.inputs.load(Ordering::Relaxed) as f64,
        );
        out.family(
            "keyway_events_total",
            "counter",
            "Events stored since the daemon started, by kind.",
        );
        let stored = scrape.storage.stored_counts();
        let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
        for ((kind, _), n) in &stored {
            *by_kind.entry(kind).or_default() += n;
        }
        for (kind, n) in &by_kind {
            out.sample("keyway_events_total", &[("kind", kind)], *n as f64);
        }
        out.one(
            "keyway_stream_subscribers",
            "gauge",
            "Clients on the live event stream.",
            scrape.stream_subscribers as f64,
        );
        let storage = scrape.storage;
        out.one(
            "keyway_storage_write_failures_total",
            "counter",
            "Writes to the database that failed.",
            storage.write_failures() as f64,
        );
        out.one(
            "keyway_storage_buffered_events",
            "gauge",
            "Events kept in memory until storage takes them.",
            storage.buffered() as f64,
        );
        out.one(
            "keyway_storage_dropped_events_total",
            "counter",
            "Events dropped because storage failed and the buffer was full.",
            storage.dropped() as f64,
        );
        out.one(
            "keyway_storage_healthy",
            "gauge",
            "The last write to the database succeeded.",
            flag(storage.fault().is_none()),
        );
        out.one(
            "keyway_events_last_seq",
            "gauge",
            "The sequence number of the newest stored event.",
            storage.last_seq() as f64,
        );
        if let Some(snapshot) = scrape.snapshot {
            render_site(&mut out, scrape, snapshot, &stored);
        }
        render_webhooks(&mut out, scrape);
        if let Some(connected) = scrape.mqtt_connected {
            out.one(
                "keyway_mqtt_connected",
                "gauge",
                "The daemon is connected to its MQTT broker (--mqtt).",
                flag(connected),
            );
        }
        out.0
    }
}

fn render_site(
    out: &mut Out,
    scrape: &Scrape<'_>,
    snapshot: &Snapshot,
    stored: &BTreeMap<(String, String), u64>,
) {
    out.one(
        "keyway_controller_alive",
        "gauge",
        "The controller has power.",
        flag(snapshot.controller_alive),
    );
    out.one(
        "keyway_lockdown",
        "gauge",
        "A lockdown (or a mode that locks doors) is active.",
        flag(snapshot.lockdown),
    );
    out.one(
        "keyway_fire_alarm",
        "gauge",
        "A fire alarm is active and not yet reset.",
        flag(snapshot.fire_alarm),
    );
    let unlocked = snapshot
        .doors
        .iter()
        .filter(|d| d.lock == keyway_core::physics::LockPosition::Unlocked)
        .count();
    out.one(
        "keyway_doors_unlocked",
        "gauge",
        "Doors whose lock is unlocked.",
        unlocked as f64,
    );
    out.one(
        "keyway_door_alarms",
        "gauge",
        "Doors in a forced or held-open alarm.",
        snapshot.doors.iter().filter(|d| d.alarm.is_some()).count() as f64,
    );
    out.one(
        "keyway_circuits_down",
        "gauge",
        "Power circuits without power.",
        snapshot.circuits.iter().filter(|c| !c.live).count() as f64,
    );

    let doors = &snapshot.doors;
    let per_door =
        |out: &mut Out,
         name: &str,
         kind: &str,
         help: &str,
         value: &dyn Fn(&crate::service::DoorSnapshot) -> Option<f64>| {
            out.family(name, kind, help);
            for door in doors {
                if let Some(v) = value(door) {
                    out.sample(name, &[("door", &door.id)], v);
                }
            }
        };
    let has_dps = |id: &str| {
        scrape
            .site
            .find_door(id)
            .is_some_and(|d| scrape.site.door(d).dps)
    };
    per_door(
        out,
        "keyway_door_unlocked",
        "gauge",
        "The door's lock is unlocked (1) or locked (0).",
        &|d| Some(flag(d.lock == keyway_core::physics::LockPosition::Unlocked)),
    );
    per_door(
        out,
        "keyway_door_open",
        "gauge",
        "The door is open, by its position switch.",
        &|d| has_dps(&d.id).then(|| flag(d.open)),
    );
    per_door(
        out,
        "keyway_door_alarm",
        "gauge",
        "The door is in a forced or held-open alarm.",
        &|d| has_dps(&d.id).then(|| flag(d.alarm.is_some())),
    );
    per_door(
        out,
        "keyway_door_lock_fault",
        "gauge",
        "The lock's status contact disagrees with its expected position.",
        &|d| Some(flag(d.lock_fault)),
    );
    for (name, kind, help) in [
        (
            "keyway_door_forced_total",
            "door_forced",
            "Forced-open alarms at the door since the daemon started.",
        ),
        (
            "keyway_door_held_open_total",
            "door_held_open",
            "Held-open alarms at the door since the daemon started.",
        ),
        (
            "keyway_access_granted_total",
            "access_granted",
            "Access granted at the door since the daemon started.",
        ),
        (
            "keyway_access_denied_total",
            "access_denied",
            "Access denied at the door since the daemon started.",
        ),
    ] {
        per_door(out, name, "counter", help, &|d| {
            Some(
                stored
                    .get(&(kind.to_string(), d.id.clone()))
                    .copied()
                    .unwrap_or(0) as f64,
            )
        });
    }
    out.family(
        "keyway_reader_online",
        "gauge",
        "The door's reader answers (a simulated one works while the controller does).",
    );
    for door in doors.iter().filter(|d| d.reader) {
        let online =
            crate::mqtt::reader_online(scrape.readers, &door.id, snapshot.controller_alive);
        out.sample("keyway_reader_online", &[("door", &door.id)], flag(online));
    }
    for (name, help, value) in [
        (
            "keyway_reader_exchanges_total",
            "Exchanges started with an OSDP reader on a bus.",
            (|r: &ReaderInfo| r.exchanges) as fn(&ReaderInfo) -> u64,
        ),
        (
            "keyway_reader_retries_total",
            "Frames sent again to an OSDP reader (unanswered or garbled).",
            |r: &ReaderInfo| r.retries,
        ),
    ] {
        out.family(name, "counter", help);
        for reader in scrape.readers {
            let address = reader.address.to_string();
            out.sample(
                name,
                &[("bus", &reader.bus), ("address", &address)],
                value(reader) as f64,
            );
        }
    }
    out.family(
        "keyway_circuit_live",
        "gauge",
        "The circuit has power (from its feed or its battery).",
    );
    for c in &snapshot.circuits {
        out.sample("keyway_circuit_live", &[("circuit", &c.id)], flag(c.live));
    }
    out.family(
        "keyway_circuit_on_battery",
        "gauge",
        "The circuit's feed is down and it runs on its battery.",
    );
    for c in &snapshot.circuits {
        out.sample(
            "keyway_circuit_on_battery",
            &[("circuit", &c.id)],
            flag(c.on_battery),
        );
    }
    out.family(
        "keyway_circuit_battery_seconds_left",
        "gauge",
        "Seconds of battery left, while the circuit runs on its battery.",
    );
    for c in &snapshot.circuits {
        if let Some(left) = c.battery_seconds_left {
            out.sample(
                "keyway_circuit_battery_seconds_left",
                &[("circuit", &c.id)],
                left,
            );
        }
    }
}

fn render_webhooks(out: &mut Out, scrape: &Scrape<'_>) {
    let last = scrape.storage.last_seq();
    out.family(
        "keyway_webhook_backlog_events",
        "gauge",
        "Events stored after the last one the endpoint was given.",
    );
    for (id, progress) in scrape.webhooks {
        let delivered = progress.delivered_to.load(Ordering::Relaxed);
        out.sample(
            "keyway_webhook_backlog_events",
            &[("webhook", id)],
            last.saturating_sub(delivered) as f64,
        );
    }
    for (name, help, value) in [
        (
            "keyway_webhook_deliveries_total",
            "Events delivered to the endpoint since the daemon started.",
            (|p: &Progress| p.deliveries.load(Ordering::Relaxed)) as fn(&Progress) -> u64,
        ),
        (
            "keyway_webhook_failures_total",
            "Failed delivery attempts to the endpoint since the daemon started.",
            |p: &Progress| p.failures.load(Ordering::Relaxed),
        ),
        (
            "keyway_webhook_given_up_total",
            "Events given up on after 24 hours of retries, since the daemon started.",
            |p: &Progress| p.given_up.load(Ordering::Relaxed),
        ),
    ] {
        out.family(name, "counter", help);
        for (id, progress) in scrape.webhooks {
            out.sample(name, &[("webhook", id)], value(progress) as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_each_family_is_declared_once() {
        let mut out = Out(String::new());
        out.family("keyway_x", "gauge", "X.");
        out.sample("keyway_x", &[("door", "a\"b\\c\nd")], 1.0);
        out.sample("keyway_x", &[("door", "e"), ("bus", "f")], 0.5);
        assert_eq!(
            out.0,
            "# HELP keyway_x X.\n# TYPE keyway_x gauge\nkeyway_x{door=\"a\\\"b\\\\c\\nd\"} 1\nkeyway_x{door=\"e\",bus=\"f\"} 0.5\n"
        );
    }
}
