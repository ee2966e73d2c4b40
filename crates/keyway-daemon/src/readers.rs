//! Real OSDP readers: one thread per `[[bus]]` polls its readers, hands card reads to the
//! controller as badges, answers each with LED and buzzer feedback from the decision, and logs
//! readers going off-line and coming back. A bus whose device cannot be opened is retried every
//! two seconds, and reopened when no reader has answered for ten seconds; its readers stay
//! off-line meanwhile (which unlocks nothing).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keyway_core::Site;
use keyway_core::controller::Input;
use keyway_core::site::{Bus, DoorIdx, ReaderKind};
use keyway_hw::osdp::{Feedback, OsdpBus, ReaderEvent, Rs485Mode, Security, SerialTransport};

use crate::service::Service;

/// How long a bus may stay without any answering reader before its device is reopened.
const REOPEN_AFTER: Duration = Duration::from_secs(10);

/// Starts a thread for every bus of the site; they stop when `stop` is set.
pub fn start(
    site: &Site,
    service: &Service,
    runtime: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    site.buses
        .iter()
        .map(|bus| {
            let doors: HashMap<u8, Vec<DoorIdx>> =
                site.door_indices().fold(HashMap::new(), |mut map, d| {
                    if let Some(reader) = &site.door(d).reader
                        && reader.kind == ReaderKind::Osdp
                        && reader.bus == bus.id
                    {
                        map.entry(reader.address as u8).or_default().push(d);
                    }
                    map
                });
            let (bus, service, runtime, stop) = (
                bus.clone(),
                service.clone(),
                runtime.clone(),
                Arc::clone(&stop),
            );
            std::thread::Builder::new()
                .name(format!("keyway-bus-{}", bus.id))
                .spawn(move || run_bus(&bus, &doors, &service, &runtime, &stop))
                .expect("start a bus thread")
        })
        .collect()
}

fn run_bus(
    bus: &Bus,
    doors: &HashMap<u8, Vec<DoorIdx>>,
    service: &Service,
    runtime: &tokio::runtime::Handle,
    stop: &AtomicBool,
) {
    let mut addresses: Vec<u8> = doors.keys().copied().collect();
    addresses.sort_unstable();
    while !stop.load(Ordering::Relaxed) {
        let rs485 = match bus.rs485 {
            keyway_core::site::Rs485::None => Rs485Mode::None,
            keyway_core::site::Rs485::Rts => Rs485Mode::Rts,
            keyway_core::site::Rs485::RtsInverted => Rs485Mode::RtsInverted,
        };
        let transport = match SerialTransport::open_with(&bus.device, bus.baud, rs485) {
            Ok(transport) => transport,
            Err(error) => {
                tracing::warn!(bus = %bus.id, device = %bus.device, %error, "cannot open the bus; retrying");
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        tracing::info!(bus = %bus.id, device = %bus.device, readers = addresses.len(), "polling");
        let mut osdp = OsdpBus::new(transport, &addresses, bus.scbk, bus.baud);
        // A device that vanished (a USB adapter pulled) only comes back by opening it again:
        // when no reader has answered for a while, the bus is reopened.
        let mut last_answer = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if addresses.iter().any(|a| osdp.is_online(*a)) {
                last_answer = std::time::Instant::now();
            } else if last_answer.elapsed() > REOPEN_AFTER {
                tracing::warn!(bus = %bus.id, "no reader answers; reopening the device");
                break;
            }
            for event in osdp.poll_cycle() {
                let input = |input: Input| runtime.block_on(service.input(input));
                match event {
                    ReaderEvent::Card {
                        address,
                        credential,
                    }
                    | ReaderEvent::Keypad {
                        address,
                        credential,
                    } => {
                        for &door in doors.get(&address).into_iter().flatten() {
                            let events = input(Input::Badge {
                                door,
                                credential: credential.clone(),
                            })
                            .unwrap_or_default();
                            let granted = events.iter().any(|e| e.event.kind == "access_granted");
                            let denied = events.iter().any(|e| e.event.kind == "access_denied");
                            if granted || denied {
                                osdp.feedback(
                                    address,
                                    if granted {
                                        Feedback::Grant
                                    } else {
                                        Feedback::Deny
                                    },
                                );
                            }
                        }
                    }
                    ReaderEvent::BadCard { address, problem } => {
                        tracing::warn!(bus = %bus.id, address, %problem, "card read refused");
                    }
                    ReaderEvent::Online { address, security } => {
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
                        for &door in doors.get(&address).into_iter().flatten() {
                            let _ = input(Input::ReaderOnline { door });
                        }
                    }
                    ReaderEvent::SecureChannelRefused { address, problem } => {
                        tracing::error!(bus = %bus.id, address, %problem, "reader refuses the secure channel; it is not used");
                    }
                    ReaderEvent::Offline { address } => {
                        tracing::warn!(bus = %bus.id, address, problem = osdp.last_problem(address).unwrap_or("unknown"), "reader off-line");
                        for &door in doors.get(&address).into_iter().flatten() {
                            let _ = input(Input::ReaderOffline { door });
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
