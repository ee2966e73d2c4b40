//! The wired devices through the daemon's own service, with fake GPIO lines standing in for
//! the chip (no GPIO hardware exists on CI machines): a Wiegand card read on two data lines
//! opens the door through its relay line, a fire alarm contact starts the fire alarm and
//! latches it in the database, a door contact opens the door.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keyway_core::parse_site;
use keyway_core::site::DoorIdx;
use keyway_daemon::gpio::{self, WiredOutputs};
use keyway_daemon::hardware::SimulatedOutputs;
use keyway_daemon::service::Service;
use keyway_daemon::writer::Writer;
use keyway_hw::card;
use keyway_hw::gpio::{FakeInputs, FakeOutput, InputEdge, OutputLine};
use keyway_hw::wiegand::{Line, edges_for};
use keyway_store::{CredentialRow, Store};

fn site_text() -> String {
    let office = include_str!("../../../examples/office.toml");
    // The office entry gets a Wiegand reader and its devices on GPIO lines; the site its fire
    // alarm input.
    let office = office.replacen(
        "fire_alarm = true\n\n[door.reader]\nkind = \"osdp\"\naddress = 2\n",
        "fire_alarm = true\n\n[door.reader]\nkind = \"wiegand\"\n\n[door.wiring]\nrelay = { line = 17 }\ndps = { line = 22, active_low = true }\nrex = { line = 23 }\nwiegand_d0 = { line = 5 }\nwiegand_d1 = { line = 6 }\n",
        1,
    );
    assert!(office.contains("wiegand_d0"), "the office example changed");
    format!("{office}\n[wiring]\nfire_alarm = {{ line = 4, active_low = true }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wired_devices_reach_the_controller_and_the_relay() {
    let site = Arc::new(parse_site("wired.toml", &site_text()).unwrap_or_else(|e| panic!("{e}")));
    let entry = site.find_door("office-entry").unwrap();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wired");
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir).unwrap();
    let (live, _) = tokio::sync::broadcast::channel(1024);
    // A Sunday night in the site's zone: no schedule is active.
    let virtual_clock = keyway_daemon::clock::VirtualClock::new(1_796_547_600_000);
    let clock: Arc<dyn keyway_daemon::clock::Clock> = Arc::new(virtual_clock.clone());
    let (writer, writer_thread) = Writer::start(Box::new(store), live, Arc::clone(&clock));

    // The office entry's relay is a (fake) line; the other doors stay simulated.
    let relay = FakeOutput::default();
    let mut lines: Vec<Option<Box<dyn OutputLine>>> = (0..site.doors.len()).map(|_| None).collect();
    lines[entry.index()] = Some(Box::new(relay.clone()));
    let simulated = SimulatedOutputs::default();
    let outputs = WiredOutputs::with_lines(lines, simulated.clone());
    let service = Service::start(
        Arc::clone(&site),
        keyway_core::credentials::CredentialStore::new(),
        Vec::new(),
        writer,
        Box::new(outputs),
        Vec::new(),
        clock,
    );
    service
        .put_credentials(vec![CredentialRow {
            number: "123:4567".into(),
            holder: "Alice".into(),
            doors: Some(vec!["office-entry".into()]),
            levels: Vec::new(),
            schedule: None,
            valid_from: None,
            valid_until: None,
            responder: false,
            disabled: false,
            staff: false,
            pin: None,
            duress_pin: None,
            uses: None,
        }])
        .await
        .unwrap();

    // The lines, in the order the wiring lists them: the door contact is already active
    // (the door stands open) at start.
    let inputs = gpio::wired_inputs(&site);
    let index = |role: gpio::Role| inputs.iter().position(|(_, r)| *r == role).unwrap();
    let fake = FakeInputs::default();
    *fake.levels.lock().unwrap() = inputs
        .iter()
        .map(|(_, role)| *role == gpio::Role::Dps(entry))
        .collect();
    {
        let mut queue = fake.queue.lock().unwrap();
        // The door closes.
        queue.push_back(InputEdge {
            input: index(gpio::Role::Dps(entry)),
            active: false,
            at: 500_000,
        });
        // A 26-bit card, as a reader sends it: 50 µs low pulses every 2 ms.
        for (line, high, at) in edges_for(&card::h10301(123, 4567), 1_000_000, 50, 2_000) {
            let role = match line {
                Line::D0 => gpio::Role::WiegandD0(entry),
                Line::D1 => gpio::Role::WiegandD1(entry),
            };
            queue.push_back(InputEdge {
                input: index(role),
                active: high,
                at,
            });
        }
        // The fire alarm panel's contact, a second later.
        queue.push_back(InputEdge {
            input: index(gpio::Role::FireAlarm),
            active: true,
            at: 2_000_000,
        });
    }

    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (service, stop) = (service.clone(), Arc::clone(&stop));
        std::thread::spawn(move || gpio::run_inputs(Box::new(fake), &inputs, &service, &stop))
    };

    // Wait for the fire alarm to be logged, then look at everything.
    let reader = Store::open(&dir).unwrap();
    let started = Instant::now();
    let events = loop {
        let events = reader.events_after(0, 1000).unwrap();
        if events.iter().any(|e| e.event.kind == "fire_alarm") {
            break events;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{events:#?}");
        // Time after the last edge passes on the virtual clock: the fire alarm contact's
        // debounce runs on it.
        virtual_clock.advance(10);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();

    let at_entry: Vec<(&str, Option<&str>)> = events
        .iter()
        .filter(|e| e.event.door.as_deref() == Some("office-entry") || e.event.door.is_none())
        .map(|e| (e.event.kind.as_str(), e.event.credential.as_deref()))
        .collect();
    assert_eq!(
        &at_entry[..5],
        [
            ("controller_started", None),
            ("door_opened", None),
            ("door_closed", None),
            ("access_granted", Some("123:4567")),
            ("door_unlocked", None),
        ],
        "{events:#?}"
    );
    assert!(at_entry.contains(&("fire_alarm", None)), "{events:#?}");
    // The relay line: at rest at boot, energized by the grant.
    let history = relay.history.lock().unwrap().clone();
    assert_eq!(&history[..2], [false, true], "{history:?}");
    // The fire alarm is latched in the database, as when it comes through the API.
    assert!(
        reader
            .state()
            .unwrap()
            .contains(&("fire_alarm".to_string(), "active".to_string()))
    );
    // Every relay change is also recorded by the simulated outputs, wired or not: the
    // entry's grant among them, and the other doors set at rest at boot.
    let changes = simulated.changes.lock().unwrap().clone();
    assert!(changes.contains(&(entry, true)), "{changes:?}");
    assert!(changes.contains(&(DoorIdx(0), false)), "{changes:?}");
    drop(service);
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
}
