//! Prometheus metrics, rendered by hand in the text exposition format.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::service::Snapshot;
use crate::writer::StorageHealth;

#[derive(Debug, Default)]
pub struct Metrics {
    inputs: AtomicU64,
}

impl Metrics {
    pub fn count_input(&self) {
        self.inputs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(
        &self,
        snapshot: Option<&Snapshot>,
        stream_subscribers: usize,
        storage: &StorageHealth,
    ) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        };
        metric(
            "keyway_inputs_total",
            "counter",
            "Inputs applied through the API.",
            self.inputs.load(Ordering::Relaxed) as f64,
        );
        metric(
            "keyway_stream_subscribers",
            "gauge",
            "Clients on the live event stream.",
            stream_subscribers as f64,
        );
        metric(
            "keyway_storage_write_failures_total",
            "counter",
            "Writes to the database that failed.",
            storage.write_failures() as f64,
        );
        metric(
            "keyway_storage_buffered_events",
            "gauge",
            "Events kept in memory until storage takes them.",
            storage.buffered() as f64,
        );
        metric(
            "keyway_storage_dropped_events_total",
            "counter",
            "Events dropped because storage failed and the buffer was full.",
            storage.dropped() as f64,
        );
        metric(
            "keyway_storage_healthy",
            "gauge",
            "The last write to the database succeeded.",
            if storage.fault().is_none() { 1.0 } else { 0.0 },
        );
        if let Some(snapshot) = snapshot {
            let bool_value = |b: bool| if b { 1.0 } else { 0.0 };
            metric(
                "keyway_controller_alive",
                "gauge",
                "The controller has power.",
                bool_value(snapshot.controller_alive),
            );
            metric(
                "keyway_lockdown",
                "gauge",
                "A lockdown is active.",
                bool_value(snapshot.lockdown),
            );
            metric(
                "keyway_fire_alarm",
                "gauge",
                "A fire alarm is active and not yet reset.",
                bool_value(snapshot.fire_alarm),
            );
            let unlocked = snapshot
                .doors
                .iter()
                .filter(|d| d.lock == keyway_core::physics::LockPosition::Unlocked)
                .count();
            metric(
                "keyway_doors_unlocked",
                "gauge",
                "Doors whose lock is unlocked.",
                unlocked as f64,
            );
            let alarms = snapshot.doors.iter().filter(|d| d.alarm.is_some()).count();
            metric(
                "keyway_door_alarms",
                "gauge",
                "Doors in a forced or held-open alarm.",
                alarms as f64,
            );
            let down = snapshot.circuits.iter().filter(|c| !c.live).count();
            metric(
                "keyway_circuits_down",
                "gauge",
                "Power circuits without power.",
                down as f64,
            );
        }
        out
    }
}
