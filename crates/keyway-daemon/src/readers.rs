//! Real OSDP readers: one thread per `[[bus]]` runs the bus's sans-IO panel
//! (`keyway_hw::osdp::Panel`) through a thin loop over the serial port, on the daemon's
//! monotonic clock. Card reads go to the controller as badges (without waiting for the
//! decision to be durable: the relay moves when the controller decides, and the bus keeps
//! polling); each is answered with LED and buzzer feedback once the decision is known; readers
//! going off-line and coming back, tamper and power reports become inputs (and events); what
//! each reader says of itself (identification, capabilities, link) is kept for
//! `GET /api/readers`. A bus whose device cannot be opened, or fails, is retried every two
//! seconds, and reopened when no reader has been heard from for ten seconds; its readers stay
//! off-line meanwhile (which unlocks nothing).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyway_core::Site;
use keyway_core::controller::Input;
use keyway_core::site::{Bus, DoorIdx, Reader, ReaderKind, Side, StationIdx};
use keyway_hw::osdp::{
    Feedback, Line, LinkState, Micros, Panel, ReaderEvent, ReaderStatus, Rs485Mode, Security,
    SerialTransport, Timing, urandom8,
};
use serde::Serialize;

use crate::service::{Origin, Service, Source};

/// A card read's decision, answered as soon as the controller has taken it (the reader's
/// LED and buzzer follow the decision, not its durability).
type Decision = tokio::sync::oneshot::Receiver<crate::service::Accepted>;

/// How long a bus may stay without hearing from any reader before its device is reopened.
const REOPEN_AFTER: Micros = 10_000_000;

/// How long after a failure the device is opened again.
const REOPEN_DELAY: Duration = Duration::from_secs(2);

/// What a real reader says of itself, for `GET /api/readers`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ReaderInfo {
    pub bus: String,
    pub address: u8,
    /// The doors whose reader it is.
    pub doors: Vec<String>,
    /// `unknown`, `handshake`, `secure`, `plain`, `offline` or `refused`.
    pub state: &'static str,
    pub online: bool,
    /// `site-key`, `default-key` or `plain` while on-line.
    pub security: Option<&'static str>,
    pub identity: Option<IdentityInfo>,
    pub capabilities: Vec<CapabilityInfo>,
    pub tamper: Option<bool>,
    pub power_fault: Option<bool>,
    pub last_problem: Option<String>,
    /// Exchanges started with it, and frames sent again, since the daemon started.
    pub exchanges: u64,
    pub retries: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct IdentityInfo {
    /// The vendor's IEEE OUI, six hexadecimal digits.
    pub vendor: String,
    pub model: u8,
    pub version: u8,
    pub serial: u32,
    pub firmware: String,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CapabilityInfo {
    /// OSDP Annex B function code.
    pub function: u8,
    pub compliance: u8,
    pub number: u8,
}

/// The real readers of every bus, as their bus threads last saw them.
#[derive(Debug, Default)]
pub struct Registry {
    readers: Mutex<BTreeMap<(String, u8), ReaderInfo>>,
}

impl Registry {
    /// Every real reader, by bus and address.
    pub fn all(&self) -> Vec<ReaderInfo> {
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn put(&self, info: ReaderInfo) {
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((info.bus.clone(), info.address), info);
    }
}

fn info(bus: &str, doors: Vec<String>, status: ReaderStatus) -> ReaderInfo {
    ReaderInfo {
        bus: bus.to_string(),
        address: status.address,
        doors,
        state: status.state.as_str(),
        online: status.online,
        security: match status.state {
            LinkState::Secure(security) => Some(security.as_str()),
            LinkState::Plain => Some(Security::Plain.as_str()),
            _ => None,
        },
        identity: status.identity.map(|id| IdentityInfo {
            vendor: id.vendor,
            model: id.model,
            version: id.version,
            serial: id.serial,
            firmware: id.firmware,
        }),
        capabilities: status
            .capabilities
            .iter()
            .map(|c| CapabilityInfo {
                function: c.function,
                compliance: c.compliance,
                number: c.number,
            })
            .collect(),
        tamper: status.tamper,
        power_fault: status.power_fault,
        last_problem: status.last_problem,
        exchanges: status.exchanges,
        retries: status.retries,
    }
}

/// Starts a thread for every bus of the site; they stop when `stop` is set.
pub fn start(
    site: &Site,
    service: &Service,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    site.buses
        .iter()
        .map(|bus| {
            let doors = places_on(site, bus);
            let (bus, service, stop) = (bus.clone(), service.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name(format!("keyway-bus-{}", bus.id))
                .spawn(move || run_bus(&bus, &doors, &service, &stop))
                .expect("start a bus thread")
        })
        .collect()
}

/// Where a reader stands: on a door's side, or at a muster station.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Door(DoorIdx, Side),
    Station(StationIdx),
}

/// The places of the bus's readers, by address.
fn places_on(site: &Site, bus: &Bus) -> HashMap<u8, Vec<Place>> {
    let mut map: HashMap<u8, Vec<Place>> = HashMap::new();
    let mut add = |reader: &Reader, place: Place| {
        if reader.kind == ReaderKind::Osdp && reader.bus == bus.id {
            map.entry(reader.address as u8).or_default().push(place);
        }
    };
    for d in site.door_indices() {
        let door = site.door(d);
        if let Some(reader) = &door.reader {
            add(reader, Place::Door(d, Side::Entry));
        }
        if let Some(reader) = &door.exit_reader {
            add(reader, Place::Door(d, Side::Exit));
        }
    }
    for (i, station) in site.muster_stations.iter().enumerate() {
        add(&station.reader, Place::Station(StationIdx(i as u32)));
    }
    map
}

/// The bus's timing from its site entry.
pub fn timing(bus: &Bus) -> Timing {
    Timing {
        reply_timeout: u64::from(bus.reply_timeout_ms) * 1000,
        offline_after: u64::from(bus.offline_after_ms) * 1000,
        ..Timing::spec(bus.baud)
    }
}

fn run_bus(bus: &Bus, doors: &HashMap<u8, Vec<Place>>, service: &Service, stop: &AtomicBool) {
    let mut addresses: Vec<u8> = doors.keys().copied().collect();
    addresses.sort_unstable();
    let door_names = |address: u8| -> Vec<String> {
        doors
            .get(&address)
            .into_iter()
            .flatten()
            .map(|place| match *place {
                Place::Door(d, Side::Entry) => service.site().door(d).id.clone(),
                Place::Door(d, Side::Exit) => format!("{} (exit)", service.site().door(d).id),
                Place::Station(s) => {
                    format!(
                        "muster station {}",
                        service.site().muster_stations[s.index()].id
                    )
                }
            })
            .collect()
    };
    let rs485 = match bus.rs485 {
        keyway_core::site::Rs485::None => Rs485Mode::None,
        keyway_core::site::Rs485::Rts => Rs485Mode::Rts,
        keyway_core::site::Rs485::RtsInverted => Rs485Mode::RtsInverted,
    };
    let device = format!("bus {}", bus.id);
    let clock = {
        let service = service.clone();
        move || (service.clock().monotonic().max(0) as Micros).saturating_mul(1000)
    };
    while !stop.load(Ordering::Relaxed) {
        let port = match SerialTransport::open_with(&bus.device, bus.baud, rs485) {
            Ok(port) => port,
            Err(error) => {
                service
                    .devices()
                    .failing(&device, format!("cannot open {}: {error}", bus.device));
                tracing::warn!(bus = %bus.id, device = %bus.device, %error, "cannot open the bus; retrying");
                std::thread::sleep(REOPEN_DELAY);
                continue;
            }
        };
        service.devices().healthy(&device);
        tracing::info!(bus = %bus.id, device = %bus.device, readers = addresses.len(), "polling");
        let panel = Panel::new(
            &addresses,
            bus.scbk,
            bus.provision,
            timing(bus),
            Box::new(urandom8),
        );
        let mut line = Line::new(panel, port, clock.clone());
        // A device that vanished (a USB adapter pulled) only comes back by opening it again:
        // when no reader has been heard from for a while, the bus is reopened.
        let mut last_answer = line.now();
        // Decisions on their way to durability: the bus keeps polling meanwhile, and the
        // reader's feedback is queued when the decision is known.
        let mut decisions: Vec<(u8, Decision)> = Vec::new();
        // What the readers say of themselves, for the API: after each of their events, and
        // every second (a link's state changes without an event, as during a handshake).
        let publish = |panel: &Panel, address: u8| {
            if let Some(status) = panel.status(address) {
                service
                    .reader_registry()
                    .put(info(&bus.id, door_names(address), status));
            }
        };
        let mut published: Option<Micros> = None;
        while !stop.load(Ordering::Relaxed) {
            let now = line.now();
            if published.is_none_or(|at| now.saturating_sub(at) >= 1_000_000) {
                published = Some(now);
                for &address in &addresses {
                    publish(&line.panel, address);
                }
            }
            // Heard from, on-line or not (a reader refusing the key still answers).
            if let Some(heard) = line.panel.last_heard() {
                last_answer = last_answer.max(heard);
            }
            if now.saturating_sub(last_answer) > REOPEN_AFTER {
                tracing::warn!(bus = %bus.id, "no reader answers; reopening the device");
                break;
            }
            decisions.retain_mut(|(address, decision)| match decision.try_recv() {
                Ok(accepted) => {
                    // A muster station's reader shows the holder's safe arrival as a grant.
                    let granted = accepted
                        .events
                        .iter()
                        .any(|e| e.kind == "access_granted" || e.kind == "mustered");
                    let denied = accepted.events.iter().any(|e| e.kind == "access_denied");
                    if granted || denied {
                        line.panel.feedback(
                            *address,
                            if granted {
                                Feedback::Grant
                            } else {
                                Feedback::Deny
                            },
                        );
                    }
                    false
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => true,
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => false,
            });
            if let Err(error) = line.step() {
                service
                    .devices()
                    .failing(&device, format!("{} failed: {error}", bus.device));
                tracing::warn!(bus = %bus.id, device = %bus.device, %error, "the bus failed; reopening");
                std::thread::sleep(REOPEN_DELAY);
                break;
            }
            while let Some(event) = line.panel.poll_event() {
                let address = event.address();
                handle(bus, doors, service, &line.panel, event, &mut decisions);
                publish(&line.panel, address);
            }
        }
        // The readers of a bus that failed are off-line until it is open again.
        for &address in &addresses {
            if !stop.load(Ordering::Relaxed) && line.panel.is_online(address) {
                for door in doors_at(doors, address) {
                    let _ =
                        service.submit(Input::ReaderOffline { door }, Origin::new(Source::Reader));
                }
            }
        }
    }
}

/// One reader event: the inputs it stands for, and the logs.
/// What a card read or keypad entry (`pin:DIGITS`) at a reader means: at a door, a badge at
/// its side, except that digits at a door that asks for a PIN after the card complete that
/// card; at a muster station, a muster.
fn read_input(site: &Site, place: Place, credential: &str) -> Input {
    let pin = credential.strip_prefix("pin:");
    match (place, pin) {
        (Place::Door(door, side), Some(pin)) if site.door(door).access.card_and_pin => Input::Pin {
            door,
            side,
            pin: pin.to_string(),
        },
        (Place::Door(door, side), _) => Input::Badge {
            door,
            side,
            credential: credential.to_string(),
        },
        (Place::Station(station), _) => Input::Muster {
            station,
            credential: credential.to_string(),
        },
    }
}

/// The doors of the readers at an address (a muster station's reader is on none).
fn doors_at(doors: &HashMap<u8, Vec<Place>>, address: u8) -> impl Iterator<Item = DoorIdx> + '_ {
    doors
        .get(&address)
        .into_iter()
        .flatten()
        .filter_map(|place| match *place {
            Place::Door(door, _) => Some(door),
            Place::Station(_) => None,
        })
}

fn handle(
    bus: &Bus,
    doors: &HashMap<u8, Vec<Place>>,
    service: &Service,
    panel: &Panel,
    event: ReaderEvent,
    decisions: &mut Vec<(u8, Decision)>,
) {
    let address = event.address();
    let submit = |input: Input| match service.submit(input, Origin::new(Source::Reader)) {
        Ok(decision) => Some(decision),
        Err(error) => {
            tracing::error!(bus = %bus.id, %error, "a reader input was not applied");
            None
        }
    };
    let each_door = |f: &mut dyn FnMut(DoorIdx)| {
        for door in doors_at(doors, address) {
            f(door);
        }
    };
    match event {
        ReaderEvent::Card { credential, .. } | ReaderEvent::Keypad { credential, .. } => {
            for place in doors.get(&address).into_iter().flatten() {
                let input = read_input(service.site(), *place, &credential);
                if let Some(decision) = submit(input) {
                    decisions.push((address, decision));
                }
            }
        }
        ReaderEvent::BadCard { problem, .. } => {
            tracing::warn!(bus = %bus.id, address, %problem, "card read refused");
        }
        ReaderEvent::Online { security, .. } => {
            match security {
                Security::SiteKey => {
                    tracing::info!(bus = %bus.id, address, "reader on-line, secure channel");
                }
                Security::DefaultKey => {
                    tracing::warn!(bus = %bus.id, address, "reader on-line, secure channel with the default install key SCBK-D: set scbk on the bus");
                }
                Security::Plain => {
                    tracing::warn!(bus = %bus.id, address, "reader on-line in the clear: it has no secure channel");
                }
            }
            each_door(&mut |door| {
                submit(Input::ReaderOnline { door });
            });
        }
        ReaderEvent::SecureChannelRefused { problem, .. } => {
            tracing::error!(bus = %bus.id, address, %problem, retry_seconds = panel.timing().refused_retry / 1_000_000, "reader refuses the secure channel; it is not used, and tried again");
        }
        ReaderEvent::Offline { .. } => {
            let problem = panel.status(address).and_then(|s| s.last_problem);
            tracing::warn!(bus = %bus.id, address, problem = problem.as_deref().unwrap_or("unknown"), "reader off-line");
            each_door(&mut |door| {
                submit(Input::ReaderOffline { door });
            });
        }
        ReaderEvent::Provisioned { .. } => {
            tracing::warn!(bus = %bus.id, address, "reader provisioned: it was given the bus's key inside the secure channel");
            let origin = Origin::new(Source::Reader);
            let detail = format!("bus {} address {address}", bus.id);
            if let Err(error) = service.log_now("reader_provisioned", &origin, detail) {
                tracing::error!(bus = %bus.id, %error, "the provisioning was not logged");
            }
        }
        ReaderEvent::Identified { identity, .. } => {
            tracing::info!(bus = %bus.id, address, vendor = %identity.vendor, model = identity.model, serial = identity.serial, firmware = %identity.firmware, "reader identified");
        }
        ReaderEvent::Capabilities { .. } => {}
        ReaderEvent::Tamper { active, .. } => {
            if active {
                tracing::warn!(bus = %bus.id, address, "reader tamper");
            }
            each_door(&mut |door| {
                submit(Input::ReaderTamper { door, active });
            });
        }
        ReaderEvent::PowerFault { active, .. } => {
            if active {
                tracing::warn!(bus = %bus.id, address, "reader power fault");
            }
            each_door(&mut |door| {
                submit(Input::ReaderPowerFault { door, active });
            });
        }
        ReaderEvent::Inputs {
            inputs, previous, ..
        } => {
            tracing::debug!(bus = %bus.id, address, ?inputs, "reader inputs");
            let level = |inputs: &[bool], n: Option<u8>| {
                n.and_then(|n| inputs.get(usize::from(n)).copied())
            };
            for place in doors.get(&address).into_iter().flatten() {
                let Place::Door(door, side) = *place else {
                    continue;
                };
                let site_door = service.site().door(door);
                let reader = match side {
                    Side::Entry => site_door.reader.as_ref(),
                    Side::Exit => site_door.exit_reader.as_deref(),
                };
                let Some(reader) = reader else {
                    continue;
                };
                // The door contact: an edge is an open or a close. The first report of a
                // connection says where the door stands (the controller ignores what it
                // knows already): open is a door found open (never forced: nobody knows how
                // it came to be open while the reader was away), closed is a close.
                let (now, before) = (
                    level(&inputs, reader.dps_input),
                    previous.as_deref().and_then(|p| level(p, reader.dps_input)),
                );
                match (before, now) {
                    (None, Some(true)) => drop(submit(Input::DoorFoundOpen { door })),
                    (Some(false), Some(true)) => drop(submit(Input::DoorOpen { door })),
                    (_, Some(false)) if before != Some(false) => {
                        drop(submit(Input::DoorClose { door }))
                    }
                    _ => {}
                }
                // The REX: a rising edge.
                let (now, before) = (
                    level(&inputs, reader.rex_input),
                    previous.as_deref().and_then(|p| level(p, reader.rex_input)),
                );
                if now == Some(true) && before != Some(true) && previous.is_some() {
                    drop(submit(Input::Rex { door }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = r#"
[site]
name = "readers"
[controller]
power = "mains"
[[power]]
id = "mains"
[[area]]
id = "street"
kind = "exterior"
[[area]]
id = "lab"
[[bus]]
id = "b"
device = "/dev/ttyUSB0"
[[door]]
id = "lab"
inside = "lab"
outside = "street"
[door.access]
card_and_pin = true
[door.reader]
kind = "osdp"
bus = "b"
address = 1
[door.exit_reader]
kind = "osdp"
bus = "b"
address = 2
[[muster_station]]
id = "yard"
area = "street"
[muster_station.reader]
kind = "osdp"
bus = "b"
address = 3
"#;

    #[test]
    fn entry_and_exit_readers_and_muster_stations_have_their_places_on_the_bus() {
        let site = keyway_core::parse_site("site.toml", SITE).unwrap();
        let places = places_on(&site, &site.buses[0]);
        assert_eq!(places[&1], [Place::Door(DoorIdx(0), Side::Entry)]);
        assert_eq!(places[&2], [Place::Door(DoorIdx(0), Side::Exit)]);
        assert_eq!(places[&3], [Place::Station(StationIdx(0))]);
        assert_eq!(doors_at(&places, 3).count(), 0, "a station is on no door");
    }

    #[test]
    fn keypad_digits_complete_a_card_where_a_pin_is_asked_for() {
        let site = keyway_core::parse_site("site.toml", SITE).unwrap();
        let exit = Place::Door(DoorIdx(0), Side::Exit);
        assert_eq!(
            read_input(&site, exit, "pin:0451"),
            Input::Pin {
                door: DoorIdx(0),
                side: Side::Exit,
                pin: "0451".into()
            }
        );
        assert_eq!(
            read_input(&site, exit, "123:4567"),
            Input::Badge {
                door: DoorIdx(0),
                side: Side::Exit,
                credential: "123:4567".into()
            }
        );
        assert_eq!(
            read_input(&site, Place::Station(StationIdx(0)), "pin:77"),
            Input::Muster {
                station: StationIdx(0),
                credential: "pin:77".into()
            }
        );
    }
}
