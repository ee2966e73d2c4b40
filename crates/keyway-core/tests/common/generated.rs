//! Random sites for property tests, written as TOML so the loader is exercised too.

use proptest::prelude::*;

#[derive(Clone, Debug)]
pub struct GenCircuit {
    /// Index of an earlier circuit (the first is mains and has none).
    pub feed: usize,
    pub battery_minutes: u32,
    pub fire_alarm_cutoff: bool,
}

#[derive(Clone, Debug)]
pub struct GenDoor {
    pub inside: usize,
    pub outside: usize,
    pub exit_hardware: &'static str,
    pub key_override: bool,
    pub exit_only: bool,
    pub lock: Option<(&'static str, &'static str, usize)>,
    pub arrangement: &'static str,
    pub rex_sensor: bool,
    pub push_to_exit: Option<bool>,
    pub fire_alarm: bool,
    pub reader: bool,
    pub exit_reader: bool,
    pub two_person: bool,
    pub card_and_pin: bool,
}

/// An anti-passback zone: area indices (taken modulo the site's, the exterior left out),
/// hard or soft, forgiving after some minutes or never.
#[derive(Clone, Debug)]
pub struct GenZone {
    pub areas: Vec<usize>,
    pub hard: bool,
    pub forgive_minutes: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct GenSite {
    pub n_areas: usize,
    pub circuits: Vec<GenCircuit>,
    pub controller_circuit: usize,
    pub doors: Vec<GenDoor>,
    pub zones: Vec<GenZone>,
    /// Door indices of each interlock (taken modulo the site's, repeats dropped).
    pub interlocks: Vec<Vec<usize>>,
    /// The areas of the muster stations (`None`: outside the site's areas).
    pub stations: Vec<Option<usize>>,
}

pub fn gen_site() -> impl Strategy<Value = GenSite> {
    (2usize..8, 1usize..6).prop_flat_map(|(n_areas, n_circuits)| {
        let circuits = prop::collection::vec(
            (
                0usize..100,
                // 43,200 minutes is the bound of the format (30 days): the extreme must not wrap.
                prop::sample::select(vec![0u32, 0, 5, 30, 60, 43_200]),
                any::<bool>(),
            ),
            n_circuits,
        )
        .prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (feed, battery, cutoff))| GenCircuit {
                    feed: if i == 0 { 0 } else { feed % i },
                    battery_minutes: if i == 0 { 0 } else { battery },
                    fire_alarm_cutoff: i > 0 && cutoff,
                })
                .collect::<Vec<_>>()
        });
        let door = (
            0..n_areas,
            0..n_areas,
            prop::sample::select(vec!["lever", "panic", "knob", "key", "none"]),
            any::<bool>(),
            any::<bool>(),
            prop::option::of((
                prop::sample::select(vec![
                    "maglock",
                    "electric_strike",
                    "electrified_lockset",
                    "electrified_panic",
                    "electric_bolt",
                ]),
                prop::sample::select(vec!["safe", "secure"]),
                0..n_circuits,
            )),
            prop::sample::select(vec![
                "none",
                "sensor",
                "door_hardware",
                "delayed",
                "controlled",
                "elevator_lobby",
            ]),
            any::<bool>(),
            prop::option::of(any::<bool>()),
            any::<bool>(),
            any::<bool>(),
            (
                any::<bool>(),
                prop::bool::weighted(0.15),
                prop::bool::weighted(0.15),
            ),
        )
            .prop_map(
                |(
                    inside,
                    outside,
                    exit_hardware,
                    key_override,
                    exit_only,
                    lock,
                    arrangement,
                    rex_sensor,
                    push_to_exit,
                    fire_alarm,
                    reader,
                    (exit_reader, two_person, card_and_pin),
                )| GenDoor {
                    inside,
                    outside,
                    exit_hardware,
                    key_override,
                    exit_only,
                    lock,
                    arrangement,
                    rex_sensor,
                    push_to_exit,
                    fire_alarm,
                    reader,
                    exit_reader,
                    two_person,
                    card_and_pin,
                },
            );
        let zone = (
            prop::collection::vec(1usize..8, 1..4),
            any::<bool>(),
            prop::option::of(prop::sample::select(vec![1u32, 30])),
        )
            .prop_map(|(areas, hard, forgive_minutes)| GenZone {
                areas,
                hard,
                forgive_minutes,
            });
        let people = (
            prop::collection::vec(zone, 0..3),
            prop::collection::vec(prop::collection::vec(0usize..12, 2..4), 0..3),
            prop::collection::vec(prop::option::of(0usize..8), 1..3),
        );
        (
            circuits,
            0..n_circuits,
            prop::collection::vec(door, 1..12),
            people,
        )
            .prop_map(
                move |(circuits, controller_circuit, doors, (zones, interlocks, stations))| {
                    GenSite {
                        n_areas,
                        circuits,
                        controller_circuit,
                        doors,
                        zones,
                        interlocks,
                        stations,
                    }
                },
            )
    })
}

impl GenSite {
    pub fn to_toml(&self) -> String {
        let mut out = String::from("[site]\nname = \"generated\"\nfire_alarm = true\n\n");
        out += &format!("[controller]\npower = \"c{}\"\n\n", self.controller_circuit);
        for (i, c) in self.circuits.iter().enumerate() {
            out += &format!("[[power]]\nid = \"c{i}\"\n");
            if i > 0 {
                out += &format!(
                    "fed_by = \"c{}\"\nbattery_minutes = {}\nfire_alarm_cutoff = {}\n",
                    c.feed, c.battery_minutes, c.fire_alarm_cutoff
                );
            }
        }
        out += "\n[[area]]\nid = \"a0\"\nkind = \"exterior\"\n";
        for i in 1..self.n_areas {
            out += &format!("[[area]]\nid = \"a{i}\"\noccupants = {}\n", i * 3);
        }
        for (i, d) in self.doors.iter().enumerate() {
            let outside = if d.outside == d.inside {
                (d.inside + 1) % self.n_areas
            } else {
                d.outside
            };
            out += &format!(
                "\n[[door]]\nid = \"d{i}\"\ninside = \"a{}\"\noutside = \"a{outside}\"\nexit_hardware = \"{}\"\nkey_override = {}\nexit_only = {}\n",
                d.inside, d.exit_hardware, d.key_override, d.exit_only
            );
            if let Some((kind, fail, circuit)) = d.lock {
                out += &format!(
                    "[door.lock]\ntype = \"{kind}\"\nfail = \"{fail}\"\npower = \"c{circuit}\"\n"
                );
            }
            out += &format!(
                "[door.release]\narrangement = \"{}\"\nrex_sensor = {}\nfire_alarm = {}\ndelay_seconds = 15\n",
                d.arrangement, d.rex_sensor, d.fire_alarm
            );
            if let Some(direct) = d.push_to_exit {
                out += &format!(
                    "push_to_exit = {{ direct_power_cut = {direct}, hold_seconds = 30 }}\n"
                );
            }
            if d.reader {
                out += "[door.reader]\nkind = \"osdp\"\n";
            }
            if d.exit_reader {
                out += "[door.exit_reader]\nkind = \"osdp\"\n";
            }
            if d.two_person || d.card_and_pin {
                out += &format!(
                    "[door.access]\ntwo_person = {}\ncard_and_pin = {}\n",
                    d.two_person, d.card_and_pin
                );
            }
        }
        for (i, zone) in self.zones.iter().enumerate() {
            let mut areas: Vec<usize> = zone
                .areas
                .iter()
                .map(|a| 1 + (a - 1) % (self.n_areas - 1))
                .collect();
            areas.sort_unstable();
            areas.dedup();
            let areas: Vec<String> = areas.iter().map(|a| format!("\"a{a}\"")).collect();
            out += &format!(
                "\n[[zone]]\nid = \"z{i}\"\nareas = [{}]\nanti_passback = \"{}\"\n",
                areas.join(", "),
                if zone.hard { "hard" } else { "soft" }
            );
            if let Some(minutes) = zone.forgive_minutes {
                out += &format!("forgive_minutes = {minutes}\n");
            }
        }
        for (i, doors) in self.interlocks.iter().enumerate() {
            let mut doors: Vec<usize> = doors.iter().map(|d| d % self.doors.len()).collect();
            doors.sort_unstable();
            doors.dedup();
            if doors.len() < 2 {
                continue;
            }
            let doors: Vec<String> = doors.iter().map(|d| format!("\"d{d}\"")).collect();
            out += &format!(
                "\n[[interlock]]\nid = \"i{i}\"\ndoors = [{}]\n",
                doors.join(", ")
            );
        }
        for (i, area) in self.stations.iter().enumerate() {
            out += &format!("\n[[muster_station]]\nid = \"m{i}\"\n");
            if let Some(area) = area {
                out += &format!("area = \"a{}\"\n", area % self.n_areas);
            }
            out += "[muster_station.reader]\nkind = \"wiegand\"\n";
        }
        out
    }
}
