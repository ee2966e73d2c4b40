//! A seeded, deterministic simulation of the whole service on virtual time: random inputs
//! (badges, REX, doors, power, fire alarm, lockdown, operator holds, credential changes,
//! steps of the wall clock) mixed with random storage faults (a full disk, I/O errors, a
//! write that succeeds before the failure), with the invariants checked after every step:
//!
//! - the doors and relays are exactly what a reference controller fed the same inputs at
//!   the same instants says, whatever storage does (so every fire-released door is unlocked
//!   while the alarm is latched, as the controller commands);
//! - nothing acknowledged is lost: every event answered as durable is in the log with its
//!   sequence number and hash;
//! - after storage recovers, the log has no gap, verifies, and holds every change of a
//!   lock's position the reference controller made, in its order.
//!
//! Now and then the daemon restarts (cleanly, on healthy storage: a restart loses what only
//! memory held, so storage is healed first): the store is opened again, credentials loaded
//! and the latched state restored as `keyway serve` does, and the reference controller
//! restarts with the latched state it has kept (fire alarm, lockdown, holds).
//!
//! `KEYWAY_SIM_SEEDS` (default 1-8) and `KEYWAY_SIM_STEPS` (default 400 a seed) say how
//! much; a failure prints its seed (`KEYWAY_SIM_SEEDS=N` replays it), is shrunk by dropping
//! steps while it still fails, and the smallest failing plan is printed, to be pasted into a
//! named regression test that runs it with `run_plan`. `SIM_DEBUG=1` prints
//! every step, the latched state at each restart, and compares the log with the reference
//! after every step storage takes (slower; it finds the first step that diverges).
//!
//! Found by it: a reset refused while the panel was still in alarm deleted the stored alarm,
//! so a restart came back without it (`a_refused_reset_keeps_the_stored_alarm`).

use std::path::PathBuf;
use std::sync::Arc;

use keyway_core::controller::{Controller, EventKind, Input};
use keyway_core::credentials::CredentialStore;
use keyway_core::physics::{Millis, relay_energized};
use keyway_core::site::{CircuitIdx, DoorIdx, Site};
use keyway_daemon::clock::{Clock, VirtualClock};
use keyway_daemon::hardware::SimulatedOutputs;
use keyway_daemon::service::{Origin, Service, ServiceError, Source};
use keyway_daemon::storage::{Fault, Faults, FaultyStorage};
use keyway_daemon::writer::Writer;
use keyway_store::{CredentialRow, Store, StoredEvent, Verification};

/// 2026-12-07 07:00 in Chicago, a Monday: the schedule starts an hour into the run.
const START: Millis = 1_796_648_400_000;

/// splitmix64: small, seedable, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn credential(number: &str, doors: Option<Vec<&str>>) -> CredentialRow {
    CredentialRow {
        number: number.to_string(),
        holder: format!("holder {number}"),
        doors: doors.map(|d| d.into_iter().map(str::to_string).collect()),
        levels: Vec::new(),
        schedule: None,
        valid_from: None,
        valid_until: None,
        responder: number == "3003",
        disabled: false,
        staff: false,
        pin: None,
        duress_pin: None,
        uses: None,
    }
}

/// One random input the site can take.
fn random_input(rng: &mut Rng, site: &Site) -> Input {
    let doors: Vec<DoorIdx> = site.door_indices().collect();
    let door = rng.pick(&doors);
    let circuit = CircuitIdx(rng.below(site.circuits.len()) as u32);
    let numbers = ["1001", "2002", "3003", "9999"];
    match rng.below(19) {
        0..=3 => Input::Badge {
            door,
            side: keyway_core::site::Side::Entry,
            credential: numbers[rng.below(numbers.len())].to_string(),
        },
        4 => Input::Rex { door },
        5 => Input::DoorOpen { door },
        6 => Input::DoorClose { door },
        7 => Input::PowerOff { circuit },
        8 => Input::PowerOn { circuit },
        9 => Input::FireAlarm,
        10 => Input::FireAlarmReset,
        11 => Input::Lockdown,
        12 => Input::LockdownEnd,
        13 => Input::Unlock { door },
        14 => Input::Lock { door },
        15 => Input::Release { door },
        16 => Input::FireAlarmInput { active: true },
        17 => Input::FireAlarmInput { active: false },
        _ => Input::KeyOverride { door },
    }
}

/// A running service over the data directory, as `keyway serve` boots it.
struct Running {
    service: Service,
    writer_thread: std::thread::JoinHandle<()>,
    relay_changes: Arc<std::sync::Mutex<Vec<(DoorIdx, bool)>>>,
}

fn boot(
    site: &Arc<Site>,
    data: &std::path::Path,
    faults: &Faults,
    clock: &Arc<dyn Clock>,
) -> Running {
    let store = Store::open(data).unwrap();
    let levels = Vec::new();
    let ids = keyway_daemon::service::SiteIds::new(site, &levels);
    let mut credentials = CredentialStore::new();
    let mut stale = keyway_daemon::stale::StaleState::default();
    store
        .for_each_credential(|row| {
            if let Some(credential) = keyway_daemon::stale::load_credential(&ids, row, &mut stale) {
                credentials.insert(credential).unwrap();
            }
        })
        .unwrap();
    let restore =
        keyway_daemon::restore_inputs(site, clock.wall(), &store.state().unwrap(), &mut stale);
    let storage = FaultyStorage::new(
        store,
        faults.clone(),
        data.join(keyway_store::DATABASE_FILE),
    );
    let (live, _) = tokio::sync::broadcast::channel(16);
    let (writer, writer_thread) = Writer::start(Box::new(storage), live, Arc::clone(clock));
    let outputs = SimulatedOutputs::default();
    let relay_changes = Arc::clone(&outputs.changes);
    let service = Service::start(
        Arc::clone(site),
        credentials,
        levels,
        writer,
        Box::new(outputs),
        restore,
        Arc::clone(clock),
    );
    Running {
        service,
        writer_thread,
        relay_changes,
    }
}

/// The latched state the reference keeps, as the daemon stores it.
#[derive(Default)]
struct Latched {
    holds: std::collections::BTreeMap<u32, Input>,
}

impl Latched {
    fn note(&mut self, input: &Input) {
        match input {
            Input::Unlock { door } | Input::Lock { door } => {
                self.holds.insert(door.0, input.clone());
            }
            Input::Release { door } => {
                self.holds.remove(&door.0);
            }
            _ => {}
        }
    }

    /// The inputs a restarted reference takes, in the daemon's order (by state key).
    fn restore(&self, site: &Site, reference: &Controller) -> Vec<Input> {
        let mut keyed: Vec<(String, Input)> = Vec::new();
        if reference.fire_alarm() {
            keyed.push(("fire_alarm".to_string(), Input::FireAlarm));
        }
        if reference.lockdown() {
            keyed.push(("lockdown".to_string(), Input::Lockdown));
        }
        for (door, hold) in &self.holds {
            keyed.push((
                format!("hold:{}", site.door(DoorIdx(*door)).id),
                hold.clone(),
            ));
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.into_iter().map(|(_, input)| input).collect()
    }
}

/// What the disk does at a step.
#[derive(Clone, Copy, Debug)]
enum Disk {
    Fail(Fault),
    FailAfter(u64, Fault),
    Heal,
}

/// One step of a run: drawn from the seed first, so that a failing run can be shrunk by
/// dropping steps and run again.
#[derive(Clone, Debug)]
struct Step {
    /// A clean restart first, on healthy storage.
    restart: bool,
    disk: Option<Disk>,
    /// How far both clocks move (ms).
    advance: Millis,
    /// A step of the wall clock alone (ms).
    wall_step: Option<Millis>,
    input: Input,
}

/// The run a seed stands for, drawing from the generator in the order the steps use it.
fn plan(seed: u64, steps: usize, site: &Site) -> Vec<Step> {
    let mut rng = Rng(seed);
    (0..steps)
        .map(|_| {
            let restart = rng.below(50) == 0;
            let disk = match rng.below(40) {
                0 => Some(Disk::Fail(Fault::DiskFull)),
                1 => Some(Disk::Fail(Fault::Io)),
                2 => Some(Disk::FailAfter(rng.below(3) as u64, Fault::Io)),
                3..=5 => Some(Disk::Heal),
                _ => None,
            };
            let advance = rng.pick(&[0, 0, 10, 250, 1_000, 3_000, 4_000, 30_000, 600_000]);
            let wall_step =
                (rng.below(60) == 0).then(|| rng.pick(&[-3_600_000, 3_600_000, 86_400_000]));
            let input = random_input(&mut rng, site);
            Step {
                restart,
                disk,
                advance,
                wall_step,
                input,
            }
        })
        .collect()
}

/// Runs a plan in the data directory named `name`; panics where an invariant breaks.
fn run_plan(name: &str, plan: &[Step]) {
    let site = Arc::new(keyway_core::parse_site("demo", keyway_daemon::DEMO_SITE).unwrap());
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fault-sim-{name}"));
    let _ = std::fs::remove_dir_all(&data);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock = VirtualClock::new(START);
        let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
        let faults = Faults::default();
        let mut running = boot(&site, &data, &faults, &shared_clock);
        // The reference: the same core, the same inputs at the same instants, no storage.
        let mut reference =
            Controller::new(Arc::clone(&site), CredentialStore::new(), Vec::new(), START);
        let mut reference_moves: Vec<(EventKind, Option<DoorIdx>)> = Vec::new();
        let moves = |events: Vec<keyway_core::controller::Event>| {
            events
                .into_iter()
                .filter(|e| matches!(e.kind, EventKind::DoorUnlocked | EventKind::DoorLocked))
                .map(|e| (e.kind, e.door))
                .collect::<Vec<_>>()
        };
        reference_moves.extend(moves(reference.take_events()));
        let rows = vec![
            credential("1001", None),
            credential("2002", Some(vec!["front", "server"])),
            credential("3003", Some(vec!["front"])),
        ];
        running.service.put_credentials(rows.clone()).await.unwrap();
        let ids = keyway_daemon::service::SiteIds::new(&site, &[]);
        for row in &rows {
            reference
                .credentials_mut()
                .insert(keyway_daemon::service::credential_from_row(&ids, row).unwrap())
                .unwrap();
        }

        let mut acknowledged: Vec<StoredEvent> = Vec::new();
        let mut wall_offset: Millis = 0;
        let mut latched = Latched::default();
        let mut restarts = 0;
        // The reference's clock is the monotonic one moved to the wall time of its (re)start,
        // as the daemon's controller clock is.
        let mut base: Millis = START;
        for (step, planned) in plan.iter().enumerate() {
            let context = format!("{name}, step {step}");
            // Now and then a clean restart, on healthy storage.
            if planned.restart {
                restarts += 1;
                faults.heal();
                let Running {
                    service,
                    writer_thread,
                    ..
                } = running;
                // Flush what waited, then stop.
                service.snapshot().await.unwrap();
                let probe = service
                    .log("sim_restart", &Origin::new(Source::Sim), None, None)
                    .await;
                assert!(probe.is_ok(), "{context}: storage healed: {probe:?}");
                drop(service);
                tokio::task::spawn_blocking(move || writer_thread.join().unwrap())
                    .await
                    .unwrap();
                running = boot(&site, &data, &faults, &shared_clock);
                let before = base + clock.monotonic();
                reference.advance(before);
                reference_moves.extend(moves(reference.take_events()));
                let restore = latched.restore(&site, &reference);
                if std::env::var("SIM_DEBUG").is_ok() {
                    let state = Store::open(&data).unwrap().state().unwrap();
                    eprintln!("{context}: stored {state:?}\n reference {restore:?}");
                }
                let mut credentials = CredentialStore::new();
                for row in &rows {
                    credentials
                        .insert(keyway_daemon::service::credential_from_row(&ids, row).unwrap())
                        .unwrap();
                }
                // Both controllers start again on the wall clock of the restart.
                base = clock.wall() - clock.monotonic();
                let now = base + clock.monotonic();
                reference = Controller::new(Arc::clone(&site), credentials, Vec::new(), now);
                wall_offset = 0;
                for input in restore {
                    reference.handle(now, input);
                }
                reference_moves.extend(moves(reference.take_events()));
            }
            // Now and then the disk fails, or heals.
            match planned.disk {
                Some(Disk::Fail(fault)) => faults.fail(fault),
                Some(Disk::FailAfter(writes, fault)) => faults.fail_after(writes, fault),
                Some(Disk::Heal) => faults.heal(),
                None => {}
            }
            // Time moves on, and now and then the wall clock steps.
            let advance = planned.advance;
            clock.advance(advance);
            if let Some(step) = planned.wall_step {
                clock.step_wall(step);
            }
            let now = base + clock.monotonic();
            reference.advance(now);
            let offset = clock.wall() - now;
            if (offset - wall_offset).abs() >= 1_000 {
                wall_offset = offset;
                reference.set_wall_offset(offset);
            }
            reference_moves.extend(moves(reference.take_events()));

            if std::env::var("SIM_DEBUG").is_ok()
                && running
                    .service
                    .log("sim_probe", &Origin::new(Source::Sim), None, None)
                    .await
                    .is_ok()
            {
                let log = Store::open(&data)
                    .unwrap()
                    .events_after(0, 1_000_000)
                    .unwrap();
                let logged: Vec<(String, Option<String>)> = log
                    .iter()
                    .filter(|e| e.event.kind == "door_unlocked" || e.event.kind == "door_locked")
                    .map(|e| (e.event.kind.clone(), e.event.door.clone()))
                    .collect();
                let expected: Vec<(String, Option<String>)> = reference_moves
                    .iter()
                    .map(|(k, d)| (k.name().to_string(), d.map(|d| site.door(d).id.clone())))
                    .collect();
                if logged != expected {
                    eprintln!(
                        "{context}: diverged: logged {:?}\n expected {:?}",
                        &logged[logged.len().saturating_sub(8)..],
                        &expected[expected.len().saturating_sub(8)..]
                    );
                    for e in &log[log.len().saturating_sub(12)..] {
                        eprintln!(
                            "  {} {} {:?} {:?} {:?}",
                            e.seq, e.event.kind, e.event.door, e.event.circuit, e.event.source
                        );
                    }
                    panic!("diverged");
                }
            }
            let input = planned.input.clone();
            if std::env::var("SIM_DEBUG").is_ok() {
                eprintln!("{context}: advance {advance}, {input:?}");
            }
            latched.note(&input);
            reference.handle(now, input.clone());
            reference_moves.extend(moves(reference.take_events()));
            match running
                .service
                .input(input.clone(), Origin::new(Source::Sim))
                .await
            {
                Ok(stored) => acknowledged.extend(stored),
                Err(ServiceError::NotDurable { .. }) => {}
                Err(error) => panic!("{context}: {input:?}: {error}"),
            }

            // The doors and relays are what the reference says, whatever storage does.
            let snapshot = running.service.snapshot().await.unwrap();
            assert_eq!(
                snapshot.fire_alarm,
                reference.fire_alarm(),
                "{context}: fire alarm"
            );
            let relays = {
                let changes = running.relay_changes.lock().unwrap();
                let mut relays = vec![false; site.doors.len()];
                for (door, energized) in changes.iter() {
                    relays[door.index()] = *energized;
                }
                relays
            };
            for door in site.door_indices() {
                let expected = reference.door_status(door);
                let shown = &snapshot.doors[door.index()];
                assert_eq!(
                    shown.lock,
                    expected.lock,
                    "{context}: door {} after {input:?}",
                    site.door(door).id
                );
                let energized = site.door(door).lock.is_some()
                    && relay_energized(reference.alive(), expected.command);
                assert_eq!(
                    relays[door.index()],
                    energized,
                    "{context}: relay of {}",
                    site.door(door).id
                );
            }
        }

        // Storage comes back; one more input carries everything that waited.
        faults.heal();
        let now = base + clock.monotonic();
        reference.advance(now);
        reference_moves.extend(moves(reference.take_events()));
        let front = site.find_door("front").unwrap();
        reference.handle(now, Input::Rex { door: front });
        reference_moves.extend(moves(reference.take_events()));
        let Running {
            service,
            writer_thread,
            ..
        } = running;
        service
            .input(Input::Rex { door: front }, Origin::new(Source::Sim))
            .await
            .unwrap_or_else(|error| panic!("{name}: after healing: {error}"));
        drop(service);
        tokio::task::spawn_blocking(move || writer_thread.join().unwrap())
            .await
            .unwrap();
        if std::env::var("SIM_DEBUG").is_ok() {
            eprintln!("fault simulation: {name}: {restarts} restarts");
        }

        let store = Store::open(&data).unwrap();
        assert!(
            matches!(store.verify().unwrap(), Verification::Intact { .. }),
            "{name}: the chain verifies"
        );
        let log = store.events_after(0, 10_000_000).unwrap();
        for event in &acknowledged {
            let stored = &log[event.seq as usize - 1];
            assert_eq!(
                stored, event,
                "{name}: acknowledged event {} kept",
                event.seq
            );
        }
        let logged_moves: Vec<(String, Option<String>)> = log
            .iter()
            .filter(|e| e.event.kind == "door_unlocked" || e.event.kind == "door_locked")
            .map(|e| (e.event.kind.clone(), e.event.door.clone()))
            .collect();
        let expected_moves: Vec<(String, Option<String>)> = reference_moves
            .iter()
            .map(|(kind, door)| {
                (
                    kind.name().to_string(),
                    door.map(|d| site.door(d).id.clone()),
                )
            })
            .collect();
        assert_eq!(
            logged_moves, expected_moves,
            "{name}: every change of a lock's position is in the log, in order"
        );
    });
}

/// The smallest sub-sequence of `items` for which `fails` still holds that dropping chunks
/// finds (delta debugging: halves, then quarters, ... then single items), `items` failing.
fn shrink<T: Clone>(items: Vec<T>, mut fails: impl FnMut(&[T]) -> bool) -> Vec<T> {
    let mut items = items;
    let mut chunk = items.len().div_ceil(2).max(1);
    loop {
        let mut at = 0;
        let mut dropped = false;
        while at < items.len() {
            let mut candidate = items.clone();
            candidate.drain(at..(at + chunk).min(items.len()));
            if fails(&candidate) {
                items = candidate;
                dropped = true;
            } else {
                at += chunk;
            }
        }
        if chunk == 1 && !dropped {
            return items;
        }
        if !dropped {
            chunk = chunk.div_ceil(2);
        }
    }
}

/// Runs `plan`, and on a failure shrinks it and panics with the smallest failing plan, to
/// be pasted into a named regression test.
fn check_seed(seed: u64, plan: Vec<Step>) {
    let first = std::panic::catch_unwind(|| run_plan(&format!("seed {seed}"), &plan));
    let Err(error) = first else { return };
    let message = error
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| error.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    eprintln!(
        "fault simulation: seed {seed} fails ({message}); shrinking {} steps",
        plan.len()
    );
    // Quiet while the candidates run: each failing one would print its panic.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut tries = 0;
    let small = shrink(plan, |candidate| {
        tries += 1;
        std::panic::catch_unwind(|| run_plan(&format!("seed {seed} shrink"), candidate)).is_err()
    });
    std::panic::set_hook(hook);
    panic!(
        "fault simulation: seed {seed} fails: {message}\nshrunk in {tries} runs to {} steps (replay with run_plan):\n{small:#?}",
        small.len()
    );
}

#[test]
fn seeded_inputs_and_storage_faults_never_move_a_door_unrecorded() {
    let seeds: Vec<u64> = match std::env::var("KEYWAY_SIM_SEEDS") {
        Ok(text) => text
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("KEYWAY_SIM_SEEDS: numbers, comma-separated")
            })
            .collect(),
        Err(_) => (1..=8).collect(),
    };
    let steps = std::env::var("KEYWAY_SIM_STEPS")
        .ok()
        .map_or(400, |s| s.parse().expect("KEYWAY_SIM_STEPS: a number"));
    let site = keyway_core::parse_site("demo", keyway_daemon::DEMO_SITE).unwrap();
    for seed in seeds {
        eprintln!("fault simulation: seed {seed}, {steps} steps");
        check_seed(seed, plan(seed, steps, &site));
    }
}

#[test]
fn shrinking_keeps_what_the_failure_needs_and_drops_the_rest() {
    // Fails when it holds both 7 and 13, in that order.
    let fails = |items: &[u32]| {
        items
            .iter()
            .position(|&i| i == 7)
            .is_some_and(|at| items[at..].contains(&13))
    };
    let items: Vec<u32> = (0..100).collect();
    assert_eq!(shrink(items, fails), vec![7, 13]);
    assert_eq!(shrink(vec![7, 13], fails), vec![7, 13]);
    // A failure that needs nothing shrinks to nothing.
    assert_eq!(
        shrink((0..10).collect::<Vec<u32>>(), |_| true),
        Vec::<u32>::new()
    );
}

#[test]
fn a_shrunk_plan_is_run_again_as_it_stands() {
    // What a shrunk failure is pasted as: a plan written out. This one raises the fire
    // alarm on a full disk, restarts on a healed one, and resets it.
    let site = keyway_core::parse_site("demo", keyway_daemon::DEMO_SITE).unwrap();
    let step = |restart: bool, disk: Option<Disk>, input: Input| Step {
        restart,
        disk,
        advance: 1_000,
        wall_step: None,
        input,
    };
    let front = site.find_door("front").unwrap();
    run_plan(
        "written",
        &[
            step(false, Some(Disk::Fail(Fault::DiskFull)), Input::FireAlarm),
            step(false, None, Input::Rex { door: front }),
            step(true, Some(Disk::Heal), Input::FireAlarmReset),
            step(false, Some(Disk::FailAfter(1, Fault::Io)), Input::Lockdown),
        ],
    );
}
