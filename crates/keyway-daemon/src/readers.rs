//! Real OSDP readers: one thread per `[[bus]]` polls its readers, hands card reads to the
//! controller as badges (without waiting for the decision to be durable: the relay moves when
//! the controller decides, and the bus keeps polling), answers each with LED and buzzer
//! feedback once the decision is known, and logs readers going off-line and coming back. A bus
//! whose device cannot be opened is retried every two seconds, and reopened when no reader has
//! answered for ten seconds; its readers stay off-line meanwhile (which unlocks nothing).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keyway_core::Site;
use keyway_core::controller::Input;
use keyway_core::site::{Bus, DoorIdx, ReaderKind};
use keyway_hw::osdp::{Feedback, OsdpBus, ReaderEvent, Rs485Mode, Security, SerialTransport};

use crate::service::{Origin, Service, Source};

/// A card read's decision, answered as soon as the controller has taken it (the reader's
/// LED and buzzer follow the decision, not its durability).
type Decision = tokio::sync::oneshot::Receiver<crate::service::Accepted>;

/// How long a bus may stay without any answering reader before its device is reopened.
const REOPEN_AFTER: Duration = Duration::from_secs(10);

/// Starts a thread for every bus of the site; they stop when `stop` is set.
pub fn start(
    site: &Site,
    service: &Service,
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
            let (bus, service, stop) = (bus.clone(), service.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name(format!("keyway-bus-{}", bus.id))
                .spawn(move || run_bus(&bus, &doors, &service, &stop))
                .expect("start a bus thread")
        })
        .collect()
}

fn run_bus(bus: &Bus, doors: &HashMap<u8, Vec<DoorIdx>>, service: &Service, stop: &AtomicBool) {
    let mut addresses: Vec<u8> = doors.keys().copied().collect();
    addresses.sort_unstable();
    let rs485 = match bus.rs485 {
        keyway_core::site::Rs485::None => Rs485Mode::None,
        keyway_core::site::Rs485::Rts => Rs485Mode::Rts,
        keyway_core::site::Rs485::RtsInverted => Rs485Mode::RtsInverted,
    };
    while !stop.load(Ordering::Relaxed) {
        let transport = match SerialTransport::open_with(&bus.device, bus.baud, rs485) {
            Ok(transport) => transport,
            Err(error) => {
                service.devices().failing(
                    &format!("bus {}", bus.id),
                    format!("cannot open {}: {error}", bus.device),
                );
                tracing::warn!(bus = %bus.id, device = %bus.device, %error, "cannot open the bus; retrying");
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        service.devices().healthy(&format!("bus {}", bus.id));
        tracing::info!(bus = %bus.id, device = %bus.device, readers = addresses.len(), "polling");
        let mut osdp = OsdpBus::new(transport, &addresses, bus.scbk, bus.baud);
        // A device that vanished (a USB adapter pulled) only comes back by opening it again:
        // when no reader has answered for a while, the bus is reopened.
        let mut last_answer = std::time::Instant::now();
        // Decisions on their way to durability: the bus keeps polling meanwhile, and the
        // reader's feedback is queued when the decision is known.
        let mut decisions: Vec<(u8, Decision)> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if addresses.iter().any(|a| osdp.is_online(*a)) {
                last_answer = std::time::Instant::now();
            } else if last_answer.elapsed() > REOPEN_AFTER {
                tracing::warn!(bus = %bus.id, "no reader answers; reopening the device");
                break;
            }
            decisions.retain_mut(|(address, decision)| match decision.try_recv() {
                Ok(accepted) => {
                    let granted = accepted.events.iter().any(|e| e.kind == "access_granted");
                    let denied = accepted.events.iter().any(|e| e.kind == "access_denied");
                    if granted || denied {
                        osdp.feedback(
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
            let before = addresses.iter().map(|a| osdp.exchanges(*a)).sum::<u64>();
            let submit = |input: Input| match service.submit(input, Origin::new(Source::Reader)) {
                Ok(decision) => Some(decision),
                Err(error) => {
                    tracing::error!(bus = %bus.id, %error, "a reader input was not applied");
                    None
                }
            };
            // Card reads go to the controller the moment their exchange is done (the relay
            // must not wait for the rest of the cycle); the rest is handled after the cycle.
            let mut later = Vec::new();
            osdp.poll_cycle_each(std::time::Instant::now(), |event| match event {
                ReaderEvent::Card {
                    address,
                    credential,
                }
                | ReaderEvent::Keypad {
                    address,
                    credential,
                } => {
                    for &door in doors.get(&address).into_iter().flatten() {
                        if let Some(decision) = submit(Input::Badge {
                            door,
                            credential: credential.clone(),
                        }) {
                            decisions.push((address, decision));
                        }
                    }
                }
                other => later.push(other),
            });
            for event in later {
                match event {
                    ReaderEvent::Card { .. } | ReaderEvent::Keypad { .. } => {}
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
                            submit(Input::ReaderOnline { door });
                        }
                    }
                    ReaderEvent::SecureChannelRefused { address, problem } => {
                        tracing::error!(bus = %bus.id, address, %problem, "reader refuses the secure channel; it is not used");
                    }
                    ReaderEvent::Offline { address } => {
                        tracing::warn!(bus = %bus.id, address, problem = osdp.last_problem(address).unwrap_or("unknown"), "reader off-line");
                        for &door in doors.get(&address).into_iter().flatten() {
                            submit(Input::ReaderOffline { door });
                        }
                    }
                }
            }
            // On a real line the bytes' time paces the cycle; when nothing was asked (every
            // reader off-line and not yet due), do not spin.
            if addresses.iter().map(|a| osdp.exchanges(*a)).sum::<u64>() == before {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
