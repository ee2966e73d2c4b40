//! The site model: one property's circuits, areas, doors and schedules, validated and indexed.
//!
//! A [`Site`] only exists in a valid state: every reference is resolved to an index, ids are
//! unique, the `fed_by` graph has no cycle. It is built by [`crate::load::parse_site`].
//! The field meanings are those of the site file format (`docs/site-format.md`).

use crate::schedule::WeeklySpan;

macro_rules! index_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_type!(
    /// Position of an area in [`Site::areas`].
    AreaIdx
);
index_type!(
    /// Position of a door in [`Site::doors`].
    DoorIdx
);
index_type!(
    /// Position of a power circuit in [`Site::circuits`].
    CircuitIdx
);
index_type!(
    /// Position of a schedule in [`Site::schedules`].
    ScheduleIdx
);
index_type!(
    /// Position of an anti-passback zone in [`Site::zones`].
    ZoneIdx
);
index_type!(
    /// Position of an interlock in [`Site::interlocks`].
    InterlockIdx
);
index_type!(
    /// Position of a muster station in [`Site::muster_stations`].
    StationIdx
);

/// A code edition the checker cites and applies (`site.codes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CodeEdition {
    Ibc2021,
    Ibc2024,
    Nfpa101_2021,
}

impl CodeEdition {
    pub const ALL: [(&'static str, CodeEdition); 3] = [
        ("IBC-2021", CodeEdition::Ibc2021),
        ("IBC-2024", CodeEdition::Ibc2024),
        ("NFPA101-2021", CodeEdition::Nfpa101_2021),
    ];
}

/// IBC occupancy group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Occupancy {
    A,
    B,
    E,
    F,
    H,
    I1,
    I2,
    I3,
    M,
    R,
    S,
    U,
}

impl Occupancy {
    pub const ALL: [(&'static str, Occupancy); 12] = [
        ("A", Occupancy::A),
        ("B", Occupancy::B),
        ("E", Occupancy::E),
        ("F", Occupancy::F),
        ("H", Occupancy::H),
        ("I-1", Occupancy::I1),
        ("I-2", Occupancy::I2),
        ("I-3", Occupancy::I3),
        ("M", Occupancy::M),
        ("R", Occupancy::R),
        ("S", Occupancy::S),
        ("U", Occupancy::U),
    ];

    pub fn name(self) -> &'static str {
        name_of(&Self::ALL, self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AreaKind {
    Interior,
    /// A safe place at the end of egress.
    Exterior,
    Stair,
}

impl AreaKind {
    pub const ALL: [(&'static str, AreaKind); 3] = [
        ("interior", AreaKind::Interior),
        ("exterior", AreaKind::Exterior),
        ("stair", AreaKind::Stair),
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Assets {
    Low,
    Medium,
    High,
}

impl Assets {
    pub const ALL: [(&'static str, Assets); 3] = [
        ("low", Assets::Low),
        ("medium", Assets::Medium),
        ("high", Assets::High),
    ];
}

/// Mechanical hardware on the inside (egress side) of a door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitHardware {
    Lever,
    Panic,
    Knob,
    /// A key is needed to get out.
    Key,
    /// Only an electric release opens the door.
    None,
}

impl ExitHardware {
    pub const ALL: [(&'static str, ExitHardware); 5] = [
        ("lever", ExitHardware::Lever),
        ("panic", ExitHardware::Panic),
        ("knob", ExitHardware::Knob),
        ("key", ExitHardware::Key),
        ("none", ExitHardware::None),
    ];

    pub fn name(self) -> &'static str {
        name_of(&Self::ALL, self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockType {
    Maglock,
    ElectricStrike,
    ElectrifiedLockset,
    /// Electric latch retraction on an exit device.
    ElectrifiedPanic,
    ElectricBolt,
}

impl LockType {
    pub const ALL: [(&'static str, LockType); 5] = [
        ("maglock", LockType::Maglock),
        ("electric_strike", LockType::ElectricStrike),
        ("electrified_lockset", LockType::ElectrifiedLockset),
        ("electrified_panic", LockType::ElectrifiedPanic),
        ("electric_bolt", LockType::ElectricBolt),
    ];

    /// Words a facility manager uses for this lock.
    pub fn describe(self) -> &'static str {
        match self {
            LockType::Maglock => "maglock",
            LockType::ElectricStrike => "electric strike",
            LockType::ElectrifiedLockset => "electrified lockset",
            LockType::ElectrifiedPanic => "electrified panic bar",
            LockType::ElectricBolt => "electric bolt",
        }
    }
}

/// Which position a lock takes without power.
///
/// This is configuration, and it is read in exactly one place: [`crate::physics::lock_state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailMode {
    /// Unlocked without power; power locks it.
    Safe,
    /// Locked without power; power unlocks it.
    Secure,
}

impl FailMode {
    pub const ALL: [(&'static str, FailMode); 2] =
        [("safe", FailMode::Safe), ("secure", FailMode::Secure)];

    pub fn describe(self) -> &'static str {
        match self {
            FailMode::Safe => "fail-safe",
            FailMode::Secure => "fail-secure",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Listing {
    Ul294,
    Ul1034,
}

impl Listing {
    pub const ALL: [(&'static str, Listing); 2] =
        [("UL294", Listing::Ul294), ("UL1034", Listing::Ul1034)];
}

/// The code-permitted special locking arrangement of a door (`release.arrangement`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Arrangement {
    #[default]
    None,
    Sensor,
    DoorHardware,
    Delayed,
    Controlled,
    ElevatorLobby,
}

impl Arrangement {
    pub const ALL: [(&'static str, Arrangement); 6] = [
        ("none", Arrangement::None),
        ("sensor", Arrangement::Sensor),
        ("door_hardware", Arrangement::DoorHardware),
        ("delayed", Arrangement::Delayed),
        ("controlled", Arrangement::Controlled),
        ("elevator_lobby", Arrangement::ElevatorLobby),
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReaderKind {
    Osdp,
    Wiegand,
}

impl ReaderKind {
    pub const ALL: [(&'static str, ReaderKind); 2] =
        [("osdp", ReaderKind::Osdp), ("wiegand", ReaderKind::Wiegand)];
}

/// How an RS-485 bus's transceiver is switched between sending and receiving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Rs485 {
    /// The adapter switches by itself (USB RS-485 adapters do).
    #[default]
    None,
    /// The kernel's RS-485 mode, RTS high while sending.
    Rts,
    /// The kernel's RS-485 mode, RTS low while sending.
    RtsInverted,
}

impl Rs485 {
    pub const ALL: [(&'static str, Rs485); 3] = [
        ("none", Rs485::None),
        ("rts", Rs485::Rts),
        ("rts-inverted", Rs485::RtsInverted),
    ];
}

fn name_of<T: PartialEq + Copy>(table: &[(&'static str, T)], value: T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(name, _)| *name)
        .unwrap_or("?")
}

/// The `[site]` table.
#[derive(Clone, Debug)]
pub struct SiteInfo {
    pub name: String,
    pub timezone: jiff::tz::TimeZone,
    pub timezone_name: String,
    pub codes: Vec<CodeEdition>,
    pub occupancy: Occupancy,
    pub stories: u32,
    pub sprinklered: bool,
    pub fire_alarm: bool,
    pub key_box: bool,
}

impl Default for SiteInfo {
    /// The defaults of the site file format.
    fn default() -> Self {
        SiteInfo {
            name: String::new(),
            timezone: jiff::tz::TimeZone::UTC,
            timezone_name: "UTC".to_string(),
            codes: vec![CodeEdition::Ibc2021, CodeEdition::Nfpa101_2021],
            occupancy: Occupancy::B,
            stories: 1,
            sprinklered: false,
            fire_alarm: false,
            key_box: false,
        }
    }
}

impl SiteInfo {
    pub fn cites(&self, edition: CodeEdition) -> bool {
        self.codes.contains(&edition)
    }

    /// Any IBC edition is selected: the clauses marked (IBC) in the rules apply.
    pub fn ibc(&self) -> bool {
        self.cites(CodeEdition::Ibc2021) || self.cites(CodeEdition::Ibc2024)
    }
}

/// A `[[power]]` circuit.
#[derive(Clone, Debug)]
pub struct Circuit {
    pub id: String,
    pub name: String,
    /// Upstream circuit; `None` is mains, what an outage cuts.
    pub fed_by: Option<CircuitIdx>,
    pub battery_minutes: f64,
    pub fire_alarm_cutoff: bool,
    pub wiring: Option<Box<CircuitWiring>>,
}

impl Circuit {
    pub fn is_mains(&self) -> bool {
        self.fed_by.is_none()
    }

    /// How long the battery keeps the circuit live after its feed is lost.
    pub fn battery_millis(&self) -> i64 {
        (self.battery_minutes * 60_000.0).round() as i64
    }
}

/// An `[[area]]`.
#[derive(Clone, Debug)]
pub struct Area {
    pub id: String,
    pub name: String,
    pub kind: AreaKind,
    pub occupants: u32,
    pub occupancy: Occupancy,
    pub assets: Assets,
    /// A shelter-in-place room: its doors unlock in shelter mode.
    pub shelter: bool,
}

impl Area {
    pub fn is_exterior(&self) -> bool {
        self.kind == AreaKind::Exterior
    }
}

/// A `[door.lock]`.
#[derive(Clone, Debug)]
pub struct Lock {
    pub kind: LockType,
    pub fail: FailMode,
    pub power: CircuitIdx,
    /// Stops a person on the inside from opening the door. Derived from the lock type and the
    /// door's exit hardware; a site file may only set it where the derivation says `false`.
    pub locks_egress: bool,
    pub listed: Vec<Listing>,
}

/// A `push_to_exit` device. A missing measurement is `None` and fails `SR-PUSH-TO-EXIT`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PushToExit {
    pub height_in: Option<f64>,
    pub distance_in: Option<f64>,
    /// Cuts the lock's power without the controller.
    pub direct_power_cut: bool,
    pub hold_seconds: Option<f64>,
}

/// A `[door.release]`; all defaults when the table is absent.
#[derive(Clone, Debug, Default)]
pub struct Release {
    pub arrangement: Arrangement,
    pub rex_sensor: bool,
    pub push_to_exit: Option<PushToExit>,
    pub fire_alarm: bool,
    pub remote: bool,
    pub delay_seconds: Option<f64>,
    pub ahj_approved_delay: bool,
    pub sign: bool,
}

/// A `[door.reader]`.
#[derive(Clone, Debug)]
pub struct Reader {
    pub kind: ReaderKind,
    pub address: u32,
    pub bus: String,
    /// The OSDP reader's own input (0-based, as `osdp_ISTATR` numbers them) wired to the
    /// door position switch: active is open.
    pub dps_input: Option<u8>,
    /// The OSDP reader's own input wired to the request-to-exit sensor.
    pub rex_input: Option<u8>,
}

/// Which side of a door a reader is on: an entry reader reads on the `outside` (a badge asks
/// to go in), an exit reader on the `inside` (a badge asks to go out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Side {
    #[default]
    Entry,
    Exit,
}

impl Side {
    pub const ALL: [(&'static str, Side); 2] = [("entry", Side::Entry), ("exit", Side::Exit)];

    pub fn name(self) -> &'static str {
        name_of(&Self::ALL, self)
    }
}

/// A `[door.access]`: how many people a grant needs.
#[derive(Clone, Debug, PartialEq)]
pub struct DoorAccess {
    /// A grant needs two different valid credentials within `two_person_seconds`.
    pub two_person: bool,
    pub two_person_seconds: f64,
    /// A grant needs the card, then its PIN at the keypad within 10 seconds.
    pub card_and_pin: bool,
}

impl Default for DoorAccess {
    fn default() -> Self {
        DoorAccess {
            two_person: false,
            two_person_seconds: 10.0,
            card_and_pin: false,
        }
    }
}

/// Whether re-entering an anti-passback zone is refused or only logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AntiPassback {
    /// Granted, with an `anti_passback_violation` event.
    Soft,
    /// Refused with reason `anti_passback`.
    Hard,
}

impl AntiPassback {
    pub const ALL: [(&'static str, AntiPassback); 2] =
        [("soft", AntiPassback::Soft), ("hard", AntiPassback::Hard)];
}

/// A `[[zone]]`: areas a holder may enter only once before leaving them.
#[derive(Clone, Debug)]
pub struct Zone {
    pub id: String,
    pub areas: Vec<AreaIdx>,
    pub anti_passback: AntiPassback,
    /// A holder inside is forgiven this long after they were last seen there.
    pub forgive_minutes: Option<f64>,
}

/// An `[[interlock]]`: doors of which only one may be open or unlocked at a time (a mantrap).
#[derive(Clone, Debug)]
pub struct Interlock {
    pub id: String,
    pub doors: Vec<DoorIdx>,
}

/// A `[[muster_station]]`: a reader that is not on a door, where people badge once they are
/// out in an emergency.
#[derive(Clone, Debug)]
pub struct MusterStation {
    pub id: String,
    /// Where it stands; the holder is there once they badge. `None`: outside the building.
    pub area: Option<AreaIdx>,
    pub reader: Reader,
}

/// A `[[bus]]`: a serial line with OSDP readers on it. A reader whose `bus` names one is real;
/// any other reader is simulated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bus {
    pub id: String,
    /// The serial device, such as `/dev/ttyUSB0`.
    pub device: String,
    pub baud: u32,
    /// The secure channel base key; `None` is install mode (the default key SCBK-D, else in
    /// the clear).
    pub scbk: Option<[u8; 16]>,
    pub rs485: Rs485,
    /// Give a reader found with the default install key the bus's `scbk` (`osdp_KEYSET`).
    pub provision: bool,
    /// How long a reader has to start its reply, in milliseconds (OSDP's REPLY_DELAY).
    pub reply_timeout_ms: u32,
    /// No valid reply for this long and a reader is off-line, in milliseconds.
    pub offline_after_ms: u32,
}

/// A `[[door]]`.
#[derive(Clone, Debug)]
pub struct Door {
    pub id: String,
    pub name: String,
    /// Egress side.
    pub inside: AreaIdx,
    /// Access side: reader, key cylinder.
    pub outside: AreaIdx,
    pub egress: bool,
    pub main_entrance: bool,
    pub fire_rated: bool,
    pub exit_hardware: ExitHardware,
    pub key_override: bool,
    pub exit_only: bool,
    pub dps: bool,
    pub unlock_seconds: f64,
    pub held_open_seconds: f64,
    pub schedule: Option<ScheduleIdx>,
    pub lock: Option<Lock>,
    pub release: Release,
    pub reader: Option<Reader>,
    /// The reader on the inside (boxed, as most doors have none).
    pub exit_reader: Option<Box<Reader>>,
    pub access: DoorAccess,
    /// Where its devices are wired to GPIO lines; `None`: all simulated (boxed: most doors in
    /// a large file have none, and a door is kept small for the checker).
    pub wiring: Option<Box<DoorWiring>>,
}

/// A GPIO line, as wired (`[door.wiring]`, `[power.wiring]`, `[wiring]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpioLine {
    /// The GPIO character device, such as `/dev/gpiochip0`.
    pub chip: String,
    /// The line's offset on the chip.
    pub line: u32,
    /// Active when the pin is low (a contact to ground, a relay driver that sinks).
    pub active_low: bool,
    /// An input must hold a new level this long to count; 0 for outputs and Wiegand data.
    pub debounce_ms: u32,
}

/// A door's devices on GPIO lines. "Active" means: relay energized, door open, REX or key
/// override operated, lock status locked, Wiegand line driven low by the reader.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DoorWiring {
    pub relay: Option<GpioLine>,
    pub dps: Option<GpioLine>,
    pub rex: Option<GpioLine>,
    pub key_override: Option<GpioLine>,
    pub lock_status: Option<GpioLine>,
    pub wiegand_d0: Option<GpioLine>,
    pub wiegand_d1: Option<GpioLine>,
}

/// A circuit's power-supply signals on GPIO lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CircuitWiring {
    /// Active: the circuit's feed is lost (its battery, if any, is running).
    pub ac_fail: Option<GpioLine>,
    /// Active: the supply reports its battery low.
    pub battery_low: Option<GpioLine>,
}

/// The site's own inputs on GPIO lines (`[wiring]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteWiring {
    /// The fire alarm panel's output: active starts the fire alarm (reset by hand).
    pub fire_alarm: Option<GpioLine>,
    /// A lockdown button or switch: active starts lockdown (ended by an operator).
    pub lockdown: Option<GpioLine>,
    /// Buttons for the other emergency modes, each starting its mode for the whole site
    /// (ended by an operator).
    pub hold: Option<GpioLine>,
    pub secure: Option<GpioLine>,
    pub evacuate: Option<GpioLine>,
    pub shelter: Option<GpioLine>,
}

/// A `[[schedule]]`.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub id: String,
    pub weekly: Vec<WeeklySpan>,
    pub holidays: Vec<jiff::civil::Date>,
}

/// A validated site.
#[derive(Clone, Debug)]
pub struct Site {
    pub info: SiteInfo,
    /// The circuit that feeds the controller.
    pub controller_power: CircuitIdx,
    pub circuits: Vec<Circuit>,
    pub areas: Vec<Area>,
    pub doors: Vec<Door>,
    pub schedules: Vec<Schedule>,
    /// Serial buses with real OSDP readers (hardware extension of the format).
    pub buses: Vec<Bus>,
    /// The site's own GPIO inputs.
    pub wiring: SiteWiring,
    pub zones: Vec<Zone>,
    pub interlocks: Vec<Interlock>,
    pub muster_stations: Vec<MusterStation>,
    /// The anti-passback zones each area is in.
    pub(crate) zones_by_area: Vec<Vec<ZoneIdx>>,
    /// The interlocks each door is in.
    pub(crate) interlocks_by_door: Vec<Vec<InterlockIdx>>,
    /// Every circuit once, each after the circuit that feeds it.
    pub(crate) circuits_feed_first: Vec<CircuitIdx>,
    /// Doors by their `inside` area: `doors_by_inside[area]` lists the doors whose inside is it.
    pub(crate) doors_by_inside: Vec<Vec<DoorIdx>>,
    pub(crate) doors_by_outside: Vec<Vec<DoorIdx>>,
}

impl Site {
    pub fn area(&self, idx: AreaIdx) -> &Area {
        &self.areas[idx.index()]
    }

    pub fn door(&self, idx: DoorIdx) -> &Door {
        &self.doors[idx.index()]
    }

    pub fn circuit(&self, idx: CircuitIdx) -> &Circuit {
        &self.circuits[idx.index()]
    }

    pub fn door_indices(&self) -> impl Iterator<Item = DoorIdx> + '_ {
        (0..self.doors.len() as u32).map(DoorIdx)
    }

    pub fn area_indices(&self) -> impl Iterator<Item = AreaIdx> + '_ {
        (0..self.areas.len() as u32).map(AreaIdx)
    }

    pub fn find_door(&self, id: &str) -> Option<DoorIdx> {
        self.doors
            .iter()
            .position(|d| d.id == id)
            .map(|i| DoorIdx(i as u32))
    }

    pub fn find_area(&self, id: &str) -> Option<AreaIdx> {
        self.areas
            .iter()
            .position(|a| a.id == id)
            .map(|i| AreaIdx(i as u32))
    }

    pub fn find_zone(&self, id: &str) -> Option<ZoneIdx> {
        self.zones
            .iter()
            .position(|z| z.id == id)
            .map(|i| ZoneIdx(i as u32))
    }

    pub fn find_station(&self, id: &str) -> Option<StationIdx> {
        self.muster_stations
            .iter()
            .position(|s| s.id == id)
            .map(|i| StationIdx(i as u32))
    }

    pub fn find_circuit(&self, id: &str) -> Option<CircuitIdx> {
        self.circuits
            .iter()
            .position(|c| c.id == id)
            .map(|i| CircuitIdx(i as u32))
    }

    /// Every circuit once, each after the circuit that feeds it.
    pub fn circuits_feed_first(&self) -> &[CircuitIdx] {
        &self.circuits_feed_first
    }

    /// The doors whose `inside` is this area (the ways out of it, in the egress direction).
    pub fn doors_with_inside(&self, area: AreaIdx) -> &[DoorIdx] {
        &self.doors_by_inside[area.index()]
    }

    /// The anti-passback zones the area is in.
    pub fn zones_of(&self, area: AreaIdx) -> &[ZoneIdx] {
        self.zones_by_area
            .get(area.index())
            .map_or(&[], Vec::as_slice)
    }

    /// The interlocks the door is in.
    pub fn interlocks_of(&self, door: DoorIdx) -> &[InterlockIdx] {
        self.interlocks_by_door
            .get(door.index())
            .map_or(&[], Vec::as_slice)
    }

    pub fn zone(&self, idx: ZoneIdx) -> &Zone {
        &self.zones[idx.index()]
    }

    pub fn interlock(&self, idx: InterlockIdx) -> &Interlock {
        &self.interlocks[idx.index()]
    }

    /// Sets the zones, interlocks and muster stations and indexes them (their references are
    /// resolved and valid).
    pub(crate) fn set_people_rules(
        &mut self,
        zones: Vec<Zone>,
        interlocks: Vec<Interlock>,
        muster_stations: Vec<MusterStation>,
    ) {
        let mut zones_by_area = vec![Vec::new(); self.areas.len()];
        for (i, zone) in zones.iter().enumerate() {
            for area in &zone.areas {
                zones_by_area[area.index()].push(ZoneIdx(i as u32));
            }
        }
        let mut interlocks_by_door = vec![Vec::new(); self.doors.len()];
        for (i, interlock) in interlocks.iter().enumerate() {
            for door in &interlock.doors {
                interlocks_by_door[door.index()].push(InterlockIdx(i as u32));
            }
        }
        self.zones = zones;
        self.interlocks = interlocks;
        self.muster_stations = muster_stations;
        self.zones_by_area = zones_by_area;
        self.interlocks_by_door = interlocks_by_door;
    }

    /// The doors whose `outside` is this area.
    pub fn doors_with_outside(&self, area: AreaIdx) -> &[DoorIdx] {
        &self.doors_by_outside[area.index()]
    }

    /// A lock's circuit and every circuit upstream of it through `fed_by`, nearest first.
    pub fn circuit_chain(&self, circuit: CircuitIdx) -> impl Iterator<Item = CircuitIdx> + '_ {
        std::iter::successors(Some(circuit), |c| self.circuit(*c).fed_by)
    }

    /// Builds the indexes a valid site carries. The loader calls it once every reference is
    /// resolved and the `fed_by` graph is known to be acyclic.
    pub(crate) fn index(
        info: SiteInfo,
        controller_power: CircuitIdx,
        circuits: Vec<Circuit>,
        areas: Vec<Area>,
        doors: Vec<Door>,
        schedules: Vec<Schedule>,
    ) -> Site {
        let mut doors_by_inside = vec![Vec::new(); areas.len()];
        let mut doors_by_outside = vec![Vec::new(); areas.len()];
        for (i, door) in doors.iter().enumerate() {
            doors_by_inside[door.inside.index()].push(DoorIdx(i as u32));
            doors_by_outside[door.outside.index()].push(DoorIdx(i as u32));
        }
        let circuits_feed_first = feed_first_order(&circuits);
        Site {
            info,
            controller_power,
            circuits,
            areas,
            doors,
            schedules,
            buses: Vec::new(),
            wiring: SiteWiring::default(),
            zones: Vec::new(),
            interlocks: Vec::new(),
            muster_stations: Vec::new(),
            zones_by_area: Vec::new(),
            interlocks_by_door: Vec::new(),
            circuits_feed_first,
            doors_by_inside,
            doors_by_outside,
        }
    }
}

/// Orders circuits so that each comes after its feed. The graph must be acyclic.
fn feed_first_order(circuits: &[Circuit]) -> Vec<CircuitIdx> {
    let mut children: Vec<Vec<CircuitIdx>> = vec![Vec::new(); circuits.len()];
    let mut order = Vec::with_capacity(circuits.len());
    for (i, circuit) in circuits.iter().enumerate() {
        match circuit.fed_by {
            Some(feed) => children[feed.index()].push(CircuitIdx(i as u32)),
            None => order.push(CircuitIdx(i as u32)),
        }
    }
    let mut next = 0;
    while next < order.len() {
        let circuit = order[next];
        order.extend_from_slice(&children[circuit.index()]);
        next += 1;
    }
    order
}

/// What an id may be, said as the site file's errors say it.
pub const ID_RULE: &str = "bad id: expected 1 to 64 characters of a-z, 0-9, - and _";

/// An id of the site format: 1 to 64 characters of `a-z`, `0-9`, `-` and `_`.
pub fn is_valid_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
