//! `keyway replay`: a script of timed inputs run through the controller on a simulated clock.

use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::controller::{Alarm, Controller, Detail, DoorStatus, Event, Input};
use crate::load::Script;
use crate::physics::{LockPosition, Millis};
use crate::report::Style;
use crate::site::Site;

/// The state of every door, and where people are, at a probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub at: Millis,
    /// By door index.
    pub doors: Vec<DoorStatus>,
    /// By area index: the credentials known to be there, sorted.
    pub occupants: Vec<Vec<String>>,
    /// While a fire alarm or an evacuation lasts: the credentials still to muster, sorted.
    pub muster: Option<Vec<String>>,
}

/// What the controller did during a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    pub events: Vec<Event>,
    pub probes: Vec<Probe>,
    /// The steps that came while the controller had no power: it saw none of them (a dead
    /// controller logs nothing), and the table says so. Not in the JSON, whose shape the
    /// replay spec fixes.
    pub unseen: Vec<(Millis, String)>,
}

/// Runs a script: at each instant the due timers fire first, then the steps at that instant
/// in file order, then the probes; the clock then runs on to the script's end.
pub fn run(site: Arc<Site>, script: Script) -> Replay {
    let mut controller = Controller::new(site, script.credentials, script.levels, script.start);
    let mut events = controller.take_events();
    let mut probes = Vec::with_capacity(script.probes.len());
    let mut pending_probes = script.probes.into_iter().peekable();
    let mut unseen = Vec::new();
    let probe = |controller: &Controller, at: Millis| Probe {
        at,
        doors: controller
            .site()
            .door_indices()
            .map(|d| controller.door_status(d))
            .collect(),
        occupants: controller
            .occupants()
            .into_iter()
            .map(|area| area.into_iter().map(str::to_string).collect())
            .collect(),
        muster: controller.muster_list().map(|list| {
            list.into_iter()
                .map(|person| person.credential.to_string())
                .collect()
        }),
    };
    for step in script.steps {
        while let Some(at) = pending_probes.next_if(|at| *at < step.at) {
            controller.advance(at);
            events.append(&mut controller.take_events());
            probes.push(probe(&controller, at));
        }
        controller.advance(step.at);
        events.append(&mut controller.take_events());
        // Power itself is not an input to the controller: it acts whether or not the
        // controller is alive.
        let power = matches!(step.input, Input::PowerOff { .. } | Input::PowerOn { .. });
        if !controller.alive() && !power {
            unseen.push((step.at, step.what));
        }
        controller.handle(step.at, step.input);
        events.append(&mut controller.take_events());
    }
    for at in pending_probes {
        controller.advance(at);
        events.append(&mut controller.take_events());
        probes.push(probe(&controller, at));
    }
    controller.advance(script.end);
    events.append(&mut controller.take_events());
    Replay {
        events,
        probes,
        unseen,
    }
}

/// A local time in the site's zone, as the script writes it.
pub fn local_time(site: &Site, at: Millis) -> String {
    match jiff::Timestamp::from_millisecond(at) {
        Ok(timestamp) => timestamp
            .to_zoned_datetime(site.info.timezone.clone())
            .datetime()
            .to_string(),
        Err(_) => format!("{at} ms"),
    }
}

/// `{"events": [{"at", "kind", "door", "credential", "reason", "circuit"}], "probes": [...]}`,
/// each event with only the fields that apply.
#[derive(Debug)]
pub struct ReplayJson<'a> {
    pub site: &'a Site,
    pub replay: &'a Replay,
}

struct EventJson<'a>(&'a Site, &'a Event);

impl Serialize for EventJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (site, event) = (self.0, self.1);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("at", &local_time(site, event.at))?;
        map.serialize_entry("kind", event.kind.name())?;
        if let Some(door) = event.door {
            map.serialize_entry("door", &site.door(door).id)?;
        }
        if let Some(credential) = &event.credential {
            map.serialize_entry("credential", credential)?;
        }
        if let Some(reason) = event.reason {
            map.serialize_entry("reason", reason.name())?;
        }
        if let Some(circuit) = event.circuit {
            map.serialize_entry("circuit", &site.circuit(circuit).id)?;
        }
        match event.detail {
            Some(Detail::Exit) => map.serialize_entry("side", "exit")?,
            Some(Detail::Station(station)) => {
                map.serialize_entry("station", &site.muster_stations[station.index()].id)?
            }
            Some(Detail::Zone(zone)) => map.serialize_entry("zone", &site.zone(zone).id)?,
            Some(Detail::Mode(mode)) => map.serialize_entry("mode", mode.name())?,
            None => {}
        }
        map.end()
    }
}

#[derive(Serialize)]
struct DoorProbeJson {
    lock: LockPosition,
    open: bool,
    alarm: Option<Alarm>,
}

struct ProbeJson<'a>(&'a Site, &'a Probe);

impl Serialize for ProbeJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (site, probe) = (self.0, self.1);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("at", &local_time(site, probe.at))?;
        map.serialize_entry("doors", &DoorsJson(site, &probe.doors))?;
        map.serialize_entry("areas", &AreasJson(site, &probe.occupants))?;
        if let Some(muster) = &probe.muster {
            map.serialize_entry("muster", muster)?;
        }
        map.end()
    }
}

/// `{"AREA": {"occupants": [CREDENTIAL, …]}}` for every area that is not exterior.
struct AreasJson<'a>(&'a Site, &'a [Vec<String>]);

impl Serialize for AreasJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct AreaJson<'a> {
            occupants: &'a [String],
        }
        let mut map = serializer.serialize_map(None)?;
        for (area, occupants) in self.0.areas.iter().zip(self.1) {
            if !area.is_exterior() {
                map.serialize_entry(&area.id, &AreaJson { occupants })?;
            }
        }
        map.end()
    }
}

struct DoorsJson<'a>(&'a Site, &'a [DoorStatus]);

impl Serialize for DoorsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.1.len()))?;
        for (door, status) in self.0.doors.iter().zip(self.1) {
            map.serialize_entry(
                &door.id,
                &DoorProbeJson {
                    lock: status.lock,
                    open: status.open,
                    alarm: status.alarm,
                },
            )?;
        }
        map.end()
    }
}

impl Serialize for ReplayJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let events: Vec<EventJson> = self
            .replay
            .events
            .iter()
            .map(|e| EventJson(self.site, e))
            .collect();
        let probes: Vec<ProbeJson> = self
            .replay
            .probes
            .iter()
            .map(|p| ProbeJson(self.site, p))
            .collect();
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("events", &events)?;
        map.serialize_entry("probes", &probes)?;
        map.end()
    }
}

/// The replay as a timeline for people: one line per event, probes as small tables.
pub fn replay_table(site: &Site, replay: &Replay, style: Style) -> String {
    let mut out = style.bold(&format!(
        "Keyway replay: {} (times in {})",
        site.info.name, site.info.timezone_name
    ));
    out.push('\n');
    let door_width = site
        .doors
        .iter()
        .map(|d| d.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let kind_width = replay
        .events
        .iter()
        .map(|e| e.kind.name().len())
        .max()
        .unwrap_or(0)
        .max(16);
    let mut events = replay.events.iter().peekable();
    let mut probes = replay.probes.iter().peekable();
    let mut unseen = replay.unseen.iter().peekable();
    loop {
        // A step the dead controller did not see, at its place in time (before what is
        // reported at the same instant, since steps come before probes).
        let next = match (events.peek(), probes.peek()) {
            (Some(event), Some(probe)) => Some(event.at.min(probe.at)),
            (Some(event), None) => Some(event.at),
            (None, Some(probe)) => Some(probe.at),
            (None, None) => None,
        };
        if let Some((at, what)) = unseen.next_if(|(at, _)| next.is_none_or(|next| *at <= next)) {
            out.push_str(&format!(
                "{}  {}  {what} (nothing logged)\n",
                local_time(site, *at),
                style.paint("1;33", "controller off, not seen:")
            ));
            continue;
        }
        let take_probe = match (events.peek(), probes.peek()) {
            (Some(event), Some(probe)) => probe.at < event.at,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if take_probe {
            let Some(probe) = probes.next() else { break };
            out.push_str(&format!(
                "\n{} {}\n",
                style.bold("probe"),
                local_time(site, probe.at)
            ));
            for (door, status) in site.doors.iter().zip(&probe.doors) {
                let lock = match status.lock {
                    LockPosition::Locked => style.paint("31", "locked  "),
                    LockPosition::Unlocked => style.paint("32", "unlocked"),
                };
                let alarm = match status.alarm {
                    Some(Alarm::Forced) => style.paint("1;31", "FORCED"),
                    Some(Alarm::HeldOpen) => style.paint("1;33", "HELD OPEN"),
                    None => String::new(),
                };
                out.push_str(&format!(
                    "    {:<door_width$}  {lock}  {:<6}  {alarm}\n",
                    door.id,
                    if status.open { "open" } else { "closed" }
                ));
            }
            for (area, occupants) in site.areas.iter().zip(&probe.occupants) {
                if !occupants.is_empty() {
                    out.push_str(&format!("    in {}: {}\n", area.id, occupants.join(", ")));
                }
            }
            if let Some(muster) = &probe.muster {
                let list = if muster.is_empty() {
                    "nobody".to_string()
                } else {
                    muster.join(", ")
                };
                out.push_str(&format!(
                    "    {} {list}\n",
                    style.paint("1;33", "still to muster:")
                ));
            }
            out.push('\n');
            continue;
        }
        let Some(event) = events.next() else { break };
        let mut details = Vec::new();
        if let Some(credential) = &event.credential {
            details.push(format!("credential {credential}"));
        }
        if let Some(reason) = event.reason {
            details.push(format!("reason {}", reason.name()));
        }
        if let Some(circuit) = event.circuit {
            details.push(format!("circuit {}", site.circuit(circuit).id));
        }
        match event.detail {
            Some(Detail::Exit) => details.push("exit reader".to_string()),
            Some(Detail::Station(station)) => details.push(format!(
                "station {}",
                site.muster_stations[station.index()].id
            )),
            Some(Detail::Zone(zone)) => details.push(format!("zone {}", site.zone(zone).id)),
            Some(Detail::Mode(mode)) => details.push(format!("mode {}", mode.name())),
            None => {}
        }
        let kind = match event.kind.name() {
            name @ ("access_denied"
            | "door_forced"
            | "door_held_open"
            | "fire_alarm"
            | "lockdown_started"
            | "battery_depleted"
            | "power_lost"
            | "anti_passback_violation"
            | "emergency_mode"
            | "duress") => style.paint("1;31", &format!("{name:<kind_width$}")),
            name => format!("{name:<kind_width$}"),
        };
        out.push_str(&format!(
            "{}  {kind}  {:<door_width$}  {}\n",
            local_time(site, event.at),
            event.door.map(|d| site.door(d).id.as_str()).unwrap_or(""),
            details.join(", ")
        ));
    }
    out
}
