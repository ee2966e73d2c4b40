//! Speed and memory of the full check on generated sites.
//!
//! `cargo run --release -p keyway-core --example bench_check -- DOORS [RUNS]`
//!
//! Generates a multi-storey site with about DOORS doors (rooms off corridors, stairs to the
//! street, lock supplies with batteries of different lengths), then times loading it and
//! running `check` (all five scenarios and every rule), and reports the peak resident memory
//! of the process (VmHWM). One size per process, so the peak belongs to that size.
//!
//! With `BENCH_WRITE=PATH` it only writes the generated site to PATH, to time the real
//! command on it: `time keyway check PATH --format json > /dev/null`.

use std::time::Instant;

fn generate(n_doors: usize) -> String {
    let rooms_per_floor = 50;
    let n_floors = n_doors.div_ceil(rooms_per_floor + 1).max(1);
    let mut out = String::with_capacity(n_doors * 300);
    out +=
        "[site]\nname = \"generated\"\nsprinklered = true\nfire_alarm = true\nkey_box = true\n\n";
    out += "[controller]\npower = \"ups\"\n\n[[power]]\nid = \"mains\"\n\n[[power]]\nid = \"ups\"\nfed_by = \"mains\"\nbattery_minutes = 240\n\n";
    let batteries = [30, 60, 90, 120];
    for floor in 0..n_floors {
        out += &format!(
            "[[power]]\nid = \"psu-{floor}\"\nfed_by = \"mains\"\nbattery_minutes = {}\nfire_alarm_cutoff = {}\n\n",
            batteries[floor % batteries.len()],
            floor % 2 == 0
        );
    }
    out += "[[area]]\nid = \"street\"\nkind = \"exterior\"\n\n";
    let mut doors = 0;
    for floor in 0..n_floors {
        out += &format!(
            "[[area]]\nid = \"corridor-{floor}\"\noccupants = 20\n\n[[area]]\nid = \"stair-{floor}\"\nkind = \"stair\"\n\n"
        );
        out += &format!(
            "[[door]]\nid = \"stair-exit-{floor}\"\ninside = \"stair-{floor}\"\noutside = \"street\"\nexit_hardware = \"panic\"\nexit_only = true\ndps = true\n\n\
             [[door]]\nid = \"stair-in-{floor}\"\ninside = \"corridor-{floor}\"\noutside = \"stair-{floor}\"\nfire_rated = true\ndps = true\n\
             [door.lock]\ntype = \"electrified_lockset\"\nfail = \"safe\"\npower = \"psu-{floor}\"\n[door.release]\nfire_alarm = true\n\n"
        );
        doors += 2;
        for room in 0..rooms_per_floor {
            if doors >= n_doors {
                break;
            }
            let id = format!("{floor}-{room}");
            out += &format!(
                "[[area]]\nid = \"room-{id}\"\noccupants = {}\nassets = \"{}\"\n\n",
                room % 7,
                if room % 10 == 0 { "high" } else { "low" }
            );
            let lock = match room % 4 {
                0 => format!(
                    "exit_hardware = \"none\"\n[door.lock]\ntype = \"maglock\"\nfail = \"safe\"\npower = \"psu-{floor}\"\nlisted = [\"UL294\"]\n\
                     [door.release]\narrangement = \"sensor\"\nrex_sensor = true\nfire_alarm = true\n\
                     push_to_exit = {{ height_in = 44, distance_in = 36, direct_power_cut = true, hold_seconds = 30 }}\n"
                ),
                1 => format!(
                    "key_override = true\n[door.lock]\ntype = \"electric_strike\"\nfail = \"secure\"\npower = \"psu-{floor}\"\n"
                ),
                2 => format!(
                    "[door.lock]\ntype = \"electrified_lockset\"\nfail = \"safe\"\npower = \"psu-{floor}\"\n"
                ),
                _ => String::new(),
            };
            out += &format!(
                "[[door]]\nid = \"door-{id}\"\ninside = \"room-{id}\"\noutside = \"corridor-{floor}\"\ndps = true\n{lock}\n[door.reader]\nkind = \"osdp\"\naddress = {}\n\n",
                room % 120
            );
            doors += 1;
        }
    }
    out
}

fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n_doors: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let text = generate(n_doors);
    if let Some(path) = std::env::var_os("BENCH_WRITE") {
        // For timing the real command on the same site: `keyway check PATH`.
        std::fs::write(&path, &text).expect("write the generated site");
        return;
    }
    if std::env::var_os("BENCH_PARSE_ONLY").is_some() {
        let started = Instant::now();
        let parsed = toml::de::DeTable::parse(&text).expect("valid TOML");
        println!(
            "toml parse only: {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        drop(parsed);
    }
    let started = Instant::now();
    let site =
        keyway_core::parse_site("generated.toml", &text).expect("the generated site is valid");
    let load_time = started.elapsed();
    drop(text);
    let mut check_times = Vec::new();
    let mut n_findings = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let findings = keyway_core::check::check(&site);
        check_times.push(started.elapsed());
        n_findings = findings.len();
    }
    check_times.sort();
    println!(
        "doors={} areas={} circuits={} load_ms={:.1} check_ms_median={:.1} check_ms_max={:.1} findings={} peak_rss_mib={:.1}",
        site.doors.len(),
        site.areas.len(),
        site.circuits.len(),
        load_time.as_secs_f64() * 1000.0,
        check_times[check_times.len() / 2].as_secs_f64() * 1000.0,
        check_times[check_times.len() - 1].as_secs_f64() * 1000.0,
        n_findings,
        peak_resident_kib().unwrap_or(0) as f64 / 1024.0,
    );
}
