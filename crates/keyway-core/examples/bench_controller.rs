//! Speed and memory of the controller.
//!
//! `cargo run --release -p keyway-core --example bench_controller`
//!
//! 1. Access decisions with 1,000,000 credentials loaded: the latency of one decision
//!    (p50, p99, p99.9 over 1,000,000 decisions of known, unknown and refused cards), and the
//!    memory the credentials take (resident memory before and after loading them).
//! 2. A fire alarm applied to a 10,000-door site: the time of the one `handle` call that
//!    recomputes every door and logs the changes (median and slowest of 50).
//! 3. Replay throughput: inputs per second through `Controller::handle` on that site, with the
//!    timers they cause.
//! 4. Anti-passback on every door: the same 10,000 doors with every room in one hard zone and
//!    1,000,000 credentials, each badge (at one of the credential's own doors) timed through
//!    `Controller::handle`: the decision, the anti-passback and interlock checks, the
//!    sighting and the events (p50, p99, p99.9 over 1,000,000 badges, after 1,000,000 to fill
//!    the sightings).
//! 5. The muster list of 100,000 people last seen inside, during a fire alarm (median and
//!    slowest of 20).

use std::sync::Arc;
use std::time::Instant;

use keyway_core::controller::{Controller, Input};
use keyway_core::credentials::{CredentialStore, DoorScope, Moment, NewCredential};
use keyway_core::site::{DoorIdx, ScheduleIdx};

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Random(u64);
impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn site(n_doors: usize) -> keyway_core::Site {
    keyway_core::parse_site("bench.toml", &site_text(n_doors)).expect("valid bench site")
}

fn site_text(n_doors: usize) -> String {
    let mut text = String::from(
        "[site]\nname = \"bench\"\nfire_alarm = true\nsprinklered = true\n[controller]\npower = \"ups\"\n\
         [[power]]\nid = \"mains\"\n[[power]]\nid = \"ups\"\nfed_by = \"mains\"\nbattery_minutes = 240\n\
         [[power]]\nid = \"psu\"\nfed_by = \"mains\"\nbattery_minutes = 60\n\
         [[area]]\nid = \"street\"\nkind = \"exterior\"\n[[area]]\nid = \"hall\"\noccupants = 100\n\
         [[schedule]]\nid = \"hours\"\nweekly = [\"Mon-Fri 08:00-18:00\"]\n",
    );
    for i in 0..n_doors {
        text += &format!(
            "[[area]]\nid = \"room-{i}\"\noccupants = 3\n[[door]]\nid = \"d{i}\"\ninside = \"room-{i}\"\noutside = \"hall\"\ndps = true\n{}\n[door.reader]\nkind = \"osdp\"\n",
            if i % 2 == 0 {
                "exit_hardware = \"none\"\n[door.lock]\ntype = \"maglock\"\nfail = \"safe\"\npower = \"psu\"\n[door.release]\narrangement = \"sensor\"\nrex_sensor = true\nfire_alarm = true"
            } else {
                "[door.lock]\ntype = \"electric_strike\"\nfail = \"secure\"\npower = \"psu\""
            }
        );
    }
    text
}

/// A credential of the bench: its number and its four doors (one in a hundred has every
/// door).
fn credential(i: u64) -> NewCredential {
    let doors = if i.is_multiple_of(100) {
        DoorScope::All
    } else {
        DoorScope::Doors(
            (0..4)
                .map(|k| DoorIdx(((i / 7 + k * 2_501) % 10_000) as u32))
                .collect(),
        )
    };
    NewCredential {
        number: format!("{}:{}", 100 + i % 155, 10_000 + i),
        holder: format!("Holder {i}"),
        doors,
        levels: Vec::new(),
        schedule: i.is_multiple_of(3).then_some(ScheduleIdx(0)),
        valid_from: None,
        valid_until: i.is_multiple_of(11).then_some(1_800_000_000_000),
        responder: false,
        disabled: false,
        staff: false,
        extra: Default::default(),
    }
}

fn main() {
    let site = Arc::new(site(10_000));
    let mut random = Random(0x2545_f491_4f6c_dd1d);

    // 1. A million credentials.
    let before = resident_kib();
    let mut store = CredentialStore::new();
    let started = Instant::now();
    for i in 0..1_000_000u64 {
        store.insert(credential(i)).unwrap();
    }
    let load_time = started.elapsed();
    let after = resident_kib();
    println!(
        "credentials: {} loaded in {:.2} s; resident memory +{:.1} MiB (store's own estimate {:.1} MiB)",
        store.len(),
        load_time.as_secs_f64(),
        (after - before) as f64 / 1024.0,
        store.heap_bytes() as f64 / 1_048_576.0
    );

    let schedule_active = [true];
    let numbers: Vec<String> = (0..4096)
        .map(|_| {
            let i = random.next() % 1_100_000; // about 9 % unknown
            format!("{}:{}", 100 + i % 155, 10_000 + i)
        })
        .collect();
    let mut latencies = Vec::with_capacity(1_000_000);
    let mut granted = 0u64;
    for k in 0..1_000_000usize {
        let number = &numbers[k % numbers.len()];
        let door = DoorIdx((random.next() % 10_000) as u32);
        let moment = Moment {
            now: 1_780_000_000_000,
            schedule_active: &schedule_active,
            admits: keyway_core::emergency::Admits::Anyone,
            can_unlock: true,
        };
        let started = Instant::now();
        let decision = store.decide(&[], std::hint::black_box(number), door, moment);
        latencies.push(started.elapsed().as_nanos() as u64);
        if matches!(decision, keyway_core::credentials::Decision::Grant { .. }) {
            granted += 1;
        }
    }
    latencies.sort_unstable();
    println!(
        "decision: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns ({} of 1,000,000 granted)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        latencies[latencies.len() - 1],
        granted
    );

    // 2. A fire alarm on 10,000 doors.
    let start = 1_780_000_000_000;
    let mut fire_times = Vec::new();
    let mut changed = 0;
    for run in 0..50 {
        let mut controller =
            Controller::new(Arc::clone(&site), CredentialStore::new(), Vec::new(), start);
        controller.take_events();
        let started = Instant::now();
        controller.handle(start + 1_000, Input::FireAlarm);
        fire_times.push(started.elapsed().as_micros() as u64);
        if run == 0 {
            changed = controller.take_events().len();
        }
    }
    fire_times.sort_unstable();
    println!(
        "fire alarm on {} doors: median {:.2} ms, slowest {:.2} ms ({changed} events)",
        site.doors.len(),
        percentile(&fire_times, 0.5) as f64 / 1000.0,
        fire_times[fire_times.len() - 1] as f64 / 1000.0
    );

    // 3. Replay throughput: a mix of badges, REX and doors opening and closing.
    let mut store = CredentialStore::new();
    for i in 0..10_000u32 {
        store
            .insert(NewCredential {
                number: format!("c{i}"),
                holder: String::new(),
                doors: DoorScope::Doors(vec![DoorIdx(i)]),
                levels: Vec::new(),
                schedule: None,
                valid_from: None,
                valid_until: None,
                responder: false,
                disabled: false,
                staff: false,
                extra: Default::default(),
            })
            .unwrap();
    }
    let mut controller = Controller::new(Arc::clone(&site), store, Vec::new(), start);
    let n_inputs = 1_000_000u64;
    let mut n_events = 0usize;
    let mut now = start;
    let started = Instant::now();
    for k in 0..n_inputs {
        now += (random.next() % 2_000) as i64;
        let door = DoorIdx((random.next() % 10_000) as u32);
        let input = match k % 4 {
            0 => Input::Badge {
                door,
                side: keyway_core::site::Side::Entry,
                credential: format!("c{}", random.next() % 11_000),
            },
            1 => Input::Rex { door },
            2 => Input::DoorOpen { door },
            _ => Input::DoorClose { door },
        };
        controller.handle(now, input);
        n_events += controller.take_events().len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "replay: {} inputs in {:.2} s: {:.0} inputs/s, {:.0} events/s ({} events, {:.1} simulated hours)",
        n_inputs,
        elapsed,
        n_inputs as f64 / elapsed,
        n_events as f64 / elapsed,
        n_events,
        (now - start) as f64 / 3_600_000.0
    );

    // 4. Anti-passback on every door.
    let mut text = site_text(10_000);
    let rooms: Vec<String> = (0..10_000).map(|i| format!("\"room-{i}\"")).collect();
    text += &format!(
        "[[zone]]\nid = \"rooms\"\nareas = [{}]\nanti_passback = \"hard\"\n",
        rooms.join(", ")
    );
    let apb_site = Arc::new(keyway_core::parse_site("bench.toml", &text).expect("valid site"));
    let mut store = CredentialStore::with_capacity(1_000_000);
    for i in 0..1_000_000u64 {
        store.insert(credential(i)).unwrap();
    }
    let mut controller = Controller::new(Arc::clone(&apb_site), store, Vec::new(), start);
    controller.take_events();
    let badge_at_own_door = |random: &mut Random| {
        let i = random.next() % 1_000_000;
        let door = if i.is_multiple_of(100) {
            random.next() % 10_000
        } else {
            (i / 7 + (random.next() % 4) * 2_501) % 10_000
        };
        Input::Badge {
            door: DoorIdx(door as u32),
            side: keyway_core::site::Side::Entry,
            credential: format!("{}:{}", 100 + i % 155, 10_000 + i),
        }
    };
    let mut now = start;
    for _ in 0..1_000_000 {
        now += 1;
        controller.handle(now, badge_at_own_door(&mut random));
        controller.take_events();
    }
    let mut latencies = Vec::with_capacity(1_000_000);
    let (mut granted, mut refused) = (0u64, 0u64);
    for _ in 0..1_000_000 {
        now += 1;
        let input = badge_at_own_door(&mut random);
        let started = Instant::now();
        controller.handle(now, std::hint::black_box(input));
        latencies.push(started.elapsed().as_nanos() as u64);
        for event in controller.take_events() {
            match event.reason {
                Some(keyway_core::credentials::DenyReason::AntiPassback) => refused += 1,
                None if event.kind == keyway_core::controller::EventKind::AccessGranted => {
                    granted += 1
                }
                _ => {}
            }
        }
    }
    latencies.sort_unstable();
    println!(
        "badge with anti-passback on every door, 1,000,000 credentials, {} holders seen: p50 {} ns, p99 {} ns, p99.9 {} ns ({granted} granted, {refused} refused for anti-passback)",
        controller.people().len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
    );

    // 5. The muster list of 100,000 people.
    let mut store = CredentialStore::with_capacity(100_000);
    for i in 0..100_000u64 {
        // Valid everywhere at any time: every badge below puts its holder inside.
        store
            .insert(NewCredential {
                doors: DoorScope::All,
                schedule: None,
                valid_until: None,
                ..credential(i)
            })
            .unwrap();
    }
    let mut controller = Controller::new(Arc::clone(&site), store, Vec::new(), start);
    let mut now = start;
    for i in 0..100_000u64 {
        now += 1;
        let door = if i.is_multiple_of(100) {
            0
        } else {
            (i / 7) % 10_000
        };
        controller.handle(
            now,
            Input::Badge {
                door: DoorIdx(door as u32),
                side: keyway_core::site::Side::Entry,
                credential: format!("{}:{}", 100 + i % 155, 10_000 + i),
            },
        );
    }
    controller.handle(now + 1, Input::FireAlarm);
    controller.take_events();
    let mut times = Vec::new();
    let mut listed = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let list = controller
            .muster_list()
            .expect("a muster during the fire alarm");
        times.push(started.elapsed().as_micros() as u64);
        listed = list.len();
    }
    times.sort_unstable();
    println!(
        "muster list of {listed} people: median {:.2} ms, slowest {:.2} ms",
        percentile(&times, 0.5) as f64 / 1000.0,
        times[times.len() - 1] as f64 / 1000.0
    );
}
