//! Real relays and contacts on GPIO lines, where the site's wiring maps them: the lock relays
//! are driven from the controller's commands, and every wired input (door position switch,
//! REX, key override, lock status, Wiegand data, fire alarm, lockdown, AC-fail, battery-low)
//! becomes a controller input. What the wiring does not map stays simulated.
//!
//! [`InputRouter`] is the pure part (edges and time in, controller inputs out), tested with
//! fake lines; the threads around it are kept small.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keyway_core::Site;
use keyway_core::controller::Input;
use keyway_core::emergency::Mode;
use keyway_core::physics::Millis;
use keyway_core::site::{CircuitIdx, DoorIdx, GpioLine, Side};
use keyway_hw::gpio::{
    Debouncer, GpioError, GpiocdevInputs, GpiocdevOutput, InputEdge, InputLines, LineConfig,
    Micros, OutputLine,
};
use keyway_hw::wiegand::{Line, Timing, WiegandDecoder};

use crate::hardware::{Outputs, SimulatedOutputs};
use crate::service::{Origin, Service, Source};

/// What a wired input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Dps(DoorIdx),
    Rex(DoorIdx),
    KeyOverride(DoorIdx),
    LockStatus(DoorIdx),
    WiegandD0(DoorIdx),
    WiegandD1(DoorIdx),
    FireAlarm,
    Lockdown,
    /// A button that starts another emergency mode for the whole site.
    Mode(Mode),
    AcFail(CircuitIdx),
    BatteryLow(CircuitIdx),
}

impl Role {
    /// The controller input for a debounced contact going active or inactive; Wiegand data
    /// lines go through their decoder instead.
    fn input(self, active: bool) -> Option<Input> {
        Some(match (self, active) {
            (Role::Dps(door), true) => Input::DoorOpen { door },
            (Role::Dps(door), false) => Input::DoorClose { door },
            (Role::Rex(door), true) => Input::Rex { door },
            (Role::KeyOverride(door), true) => Input::KeyOverride { door },
            (Role::LockStatus(door), locked) => Input::LockSensed { door, locked },
            // The panel's contact reports its level: active latches the alarm, and while it
            // stays active a reset is refused.
            (Role::FireAlarm, active) => Input::FireAlarmInput { active },
            (Role::Lockdown, true) => Input::Lockdown,
            (Role::Mode(mode), true) => Input::Emergency { mode, areas: None },
            (Role::AcFail(circuit), true) => Input::PowerOff { circuit },
            (Role::AcFail(circuit), false) => Input::PowerOn { circuit },
            (Role::BatteryLow(circuit), true) => Input::BatteryLow { circuit },
            // Momentary devices and the lockdown button do nothing when released: a lockdown
            // ends by hand.
            _ => return None,
        })
    }

    /// What an input already active at start-up means. A REX or key override held at
    /// boot is not an event; a fire alarm, an open door, a lost feed are.
    fn at_start(self, active: bool) -> Option<Input> {
        match self {
            Role::Rex(_) | Role::KeyOverride(_) | Role::WiegandD0(_) | Role::WiegandD1(_) => None,
            Role::LockStatus(_) => self.input(active),
            Role::Dps(door) if active => Some(Input::DoorFoundOpen { door }),
            _ if active => self.input(true),
            _ => None,
        }
    }

    fn is_wiegand(self) -> bool {
        matches!(self, Role::WiegandD0(_) | Role::WiegandD1(_))
    }
}

/// Every input line the site wires, with its role.
pub fn wired_inputs(site: &Site) -> Vec<(GpioLine, Role)> {
    let mut inputs = Vec::new();
    for door in site.door_indices() {
        let Some(wiring) = site.door(door).wiring.as_deref() else {
            continue;
        };
        for (line, role) in [
            (&wiring.dps, Role::Dps(door)),
            (&wiring.rex, Role::Rex(door)),
            (&wiring.key_override, Role::KeyOverride(door)),
            (&wiring.lock_status, Role::LockStatus(door)),
            (&wiring.wiegand_d0, Role::WiegandD0(door)),
            (&wiring.wiegand_d1, Role::WiegandD1(door)),
        ] {
            if let Some(line) = line {
                inputs.push((line.clone(), role));
            }
        }
    }
    for (i, circuit) in site.circuits.iter().enumerate() {
        let Some(wiring) = circuit.wiring.as_deref() else {
            continue;
        };
        let circuit = CircuitIdx(i as u32);
        for (line, role) in [
            (&wiring.ac_fail, Role::AcFail(circuit)),
            (&wiring.battery_low, Role::BatteryLow(circuit)),
        ] {
            if let Some(line) = line {
                inputs.push((line.clone(), role));
            }
        }
    }
    for (line, role) in [
        (&site.wiring.fire_alarm, Role::FireAlarm),
        (&site.wiring.lockdown, Role::Lockdown),
        (&site.wiring.hold, Role::Mode(Mode::Hold)),
        (&site.wiring.secure, Role::Mode(Mode::Secure)),
        (&site.wiring.evacuate, Role::Mode(Mode::Evacuate)),
        (&site.wiring.shelter, Role::Mode(Mode::Shelter)),
    ] {
        if let Some(line) = line {
            inputs.push((line.clone(), role));
        }
    }
    inputs
}

pub fn line_config(line: &GpioLine) -> LineConfig {
    LineConfig {
        chip: line.chip.clone().into(),
        line: line.line,
        active_low: line.active_low,
        debounce: Duration::from_millis(u64::from(line.debounce_ms)),
    }
}

/// What the router makes of the edges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routed {
    Input(Input),
    /// A Wiegand frame that was not a card: noise, a partial frame, bad parity.
    Refused {
        door: DoorIdx,
        problem: String,
    },
}

/// Edges in, controller inputs out: debouncing for contacts, the Wiegand decoder for data
/// lines. Pure: the caller gives the time.
#[derive(Debug)]
pub struct InputRouter {
    roles: Vec<Role>,
    active_low: Vec<bool>,
    /// One per input; None for Wiegand data lines.
    debouncers: Vec<Option<Debouncer>>,
    /// One per Wiegand door: (door, decoder).
    wiegand: Vec<(DoorIdx, WiegandDecoder)>,
    /// The keys typed so far at each Wiegand door's keypad, and when the last one came.
    keys: Vec<(DoorIdx, String, Micros)>,
    /// The doors whose keypad completes a card with its PIN (`access.card_and_pin`).
    pin_doors: Vec<DoorIdx>,
}

/// Keys further apart than this start a new entry.
pub const KEY_TIMEOUT: Micros = 5_000_000;
/// The longest PIN typed.
const MAX_DIGITS: usize = 12;

impl InputRouter {
    /// A router for `inputs` whose levels at start-up are `levels`; returns it with what those
    /// levels mean to the controller.
    pub fn new(inputs: &[(GpioLine, Role)], levels: &[bool]) -> (InputRouter, Vec<Input>) {
        let mut start = Vec::new();
        let mut debouncers = Vec::new();
        let mut wiegand: Vec<(DoorIdx, WiegandDecoder)> = Vec::new();
        for (i, (line, role)) in inputs.iter().enumerate() {
            let level = levels.get(i).copied().unwrap_or(false);
            match role {
                Role::WiegandD0(door) | Role::WiegandD1(door) => {
                    debouncers.push(None);
                    if !wiegand.iter().any(|(d, _)| d == door) {
                        wiegand.push((*door, WiegandDecoder::new(Timing::default())));
                    }
                }
                _ => {
                    debouncers.push(Some(Debouncer::new(
                        Duration::from_millis(u64::from(line.debounce_ms)),
                        level,
                    )));
                }
            }
            start.extend(role.at_start(level));
        }
        let router = InputRouter {
            roles: inputs.iter().map(|(_, role)| *role).collect(),
            active_low: inputs.iter().map(|(line, _)| line.active_low).collect(),
            debouncers,
            wiegand,
            keys: Vec::new(),
            pin_doors: Vec::new(),
        };
        (router, start)
    }

    /// The doors whose keypad completes a card with its PIN: `#` there ends a PIN for the
    /// card before it; at any other door the digits are a credential of their own
    /// (`pin:DIGITS`, as an OSDP keypad's are).
    pub fn asking_for_pins(mut self, doors: Vec<DoorIdx>) -> InputRouter {
        self.pin_doors = doors;
        self
    }

    /// One key from a door's keypad: digits gather, `*` clears, `#` ends the entry.
    fn key(&mut self, door: DoorIdx, key: char, now: Micros) -> Option<Routed> {
        let slot = match self.keys.iter().position(|(d, _, _)| *d == door) {
            Some(i) => i,
            None => {
                self.keys.push((door, String::new(), now));
                self.keys.len() - 1
            }
        };
        let (_, digits, last) = &mut self.keys[slot];
        if now.saturating_sub(*last) > KEY_TIMEOUT {
            digits.clear();
        }
        *last = now;
        match key {
            '*' => digits.clear(),
            '#' if digits.is_empty() => {}
            '#' => {
                let pin = std::mem::take(digits);
                return Some(Routed::Input(if self.pin_doors.contains(&door) {
                    Input::Pin {
                        door,
                        side: Side::Entry,
                        pin,
                    }
                } else {
                    Input::Badge {
                        door,
                        side: Side::Entry,
                        credential: format!("pin:{pin}"),
                    }
                }));
            }
            digit if digits.len() < MAX_DIGITS => digits.push(digit),
            _ => {
                digits.clear();
                return Some(Routed::Refused {
                    door,
                    problem: format!("more than {MAX_DIGITS} digits typed"),
                });
            }
        }
        None
    }

    /// One raw edge.
    pub fn edge(&mut self, edge: InputEdge) {
        let Some(role) = self.roles.get(edge.input).copied() else {
            return;
        };
        if role.is_wiegand() {
            let (door, line) = match role {
                Role::WiegandD0(door) => (door, Line::D0),
                Role::WiegandD1(door) => (door, Line::D1),
                _ => return,
            };
            // The decoder reads electrical levels: undo an `active_low` inversion.
            let high = edge.active != self.active_low[edge.input];
            if let Some((_, decoder)) = self.wiegand.iter_mut().find(|(d, _)| *d == door) {
                decoder.edge(line, high, edge.at);
            }
        } else if let Some(Some(debouncer)) = self.debouncers.get_mut(edge.input) {
            debouncer.edge(edge.active, edge.at);
        }
    }

    /// The earliest time something may be due.
    pub fn deadline(&self) -> Option<Micros> {
        let contacts = self
            .debouncers
            .iter()
            .flatten()
            .filter_map(Debouncer::deadline);
        let frames = self.wiegand.iter().filter_map(|(_, d)| d.deadline());
        contacts.chain(frames).min()
    }

    /// Everything due by `now`.
    pub fn poll(&mut self, now: Micros) -> Vec<Routed> {
        let mut routed = Vec::new();
        for (i, debouncer) in self.debouncers.iter_mut().enumerate() {
            if let Some(debouncer) = debouncer
                && let Some(level) = debouncer.poll(now)
                && let Some(input) = self.roles[i].input(level)
            {
                routed.push(Routed::Input(input));
            }
        }
        let mut keys = Vec::new();
        for (door, decoder) in &mut self.wiegand {
            match decoder.poll(now) {
                Some(Ok(frame)) if frame.key.is_some() => {
                    keys.extend(frame.key.map(|key| (*door, key)));
                }
                Some(Ok(frame)) => routed.push(Routed::Input(Input::Badge {
                    door: *door,
                    side: Side::Entry,
                    credential: frame.credential,
                })),
                Some(Err(problem)) => routed.push(Routed::Refused {
                    door: *door,
                    problem: problem.to_string(),
                }),
                None => {}
            }
        }
        for (door, key) in keys {
            routed.extend(self.key(door, key, now));
        }
        routed
    }
}

/// The lock relays: real lines where the wiring maps them, simulated for the rest.
pub struct WiredOutputs {
    relays: Vec<Option<Box<dyn OutputLine>>>,
    simulated: SimulatedOutputs,
}

impl std::fmt::Debug for WiredOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let wired = self.relays.iter().filter(|r| r.is_some()).count();
        f.debug_struct("WiredOutputs")
            .field("wired", &wired)
            .finish()
    }
}

impl WiredOutputs {
    /// Opens every relay line of the site, each at rest (inactive) from the moment it is
    /// requested. A line that cannot be opened is an error: a door whose relay the file maps
    /// must not silently become simulated.
    pub fn open(site: &Site, simulated: SimulatedOutputs) -> Result<WiredOutputs, GpioError> {
        let mut relays: Vec<Option<Box<dyn OutputLine>>> = Vec::new();
        for door in site.door_indices() {
            let relay = site
                .door(door)
                .wiring
                .as_deref()
                .and_then(|w| w.relay.as_ref());
            relays.push(match relay {
                Some(line) => Some(Box::new(GpiocdevOutput::open(line_config(line))?)),
                None => None,
            });
        }
        Ok(WiredOutputs { relays, simulated })
    }

    /// With the given lines (for tests).
    pub fn with_lines(
        relays: Vec<Option<Box<dyn OutputLine>>>,
        simulated: SimulatedOutputs,
    ) -> WiredOutputs {
        WiredOutputs { relays, simulated }
    }
}

impl Outputs for WiredOutputs {
    fn set_relay(&mut self, door: DoorIdx, energized: bool) {
        if let Some(Some(relay)) = self.relays.get_mut(door.index())
            && let Err(error) = relay.set(energized)
        {
            tracing::error!(door = door.index(), %error, "relay line could not be set");
        }
        self.simulated.set_relay(door, energized);
    }
}

/// The wired input lines of one chip, opened.
pub struct ChipInputs {
    lines: Box<dyn InputLines>,
    inputs: Vec<(GpioLine, Role)>,
}

impl std::fmt::Debug for ChipInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChipInputs")
            .field("inputs", &self.inputs)
            .finish()
    }
}

/// Opens the input lines of every chip the site wires. A chip or line that cannot be opened
/// is an error at start: the file says those devices are real.
pub fn open_inputs(site: &Site) -> Result<Vec<ChipInputs>, GpioError> {
    let inputs = wired_inputs(site);
    let mut chips: Vec<&str> = inputs.iter().map(|(l, _)| l.chip.as_str()).collect();
    chips.sort_unstable();
    chips.dedup();
    chips
        .into_iter()
        .map(|chip| {
            let on_chip: Vec<(GpioLine, Role)> = inputs
                .iter()
                .filter(|(l, _)| l.chip == chip)
                .cloned()
                .collect();
            let lines =
                GpiocdevInputs::open(on_chip.iter().map(|(l, _)| line_config(l)).collect())?;
            Ok(ChipInputs {
                lines: Box::new(lines),
                inputs: on_chip,
            })
        })
        .collect()
}

/// Starts a thread for each chip's inputs; they stop when `stop` is set.
pub fn start_inputs(
    chips: Vec<ChipInputs>,
    service: &Service,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    chips
        .into_iter()
        .map(|chip| {
            let (service, stop) = (service.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("keyway-gpio".to_string())
                .spawn(move || run_inputs(chip.lines, &chip.inputs, &service, &stop))
                .expect("start a GPIO thread")
        })
        .collect()
}

/// Reads `lines` until `stop`: their levels at start, then every edge, through the router to
/// the controller.
pub fn run_inputs(
    mut lines: Box<dyn InputLines>,
    inputs: &[(GpioLine, Role)],
    service: &Service,
    stop: &AtomicBool,
) {
    let device = format!(
        "GPIO {}",
        inputs
            .first()
            .map_or("chip", |(line, _)| line.chip.as_str())
    );
    let mut failing = false;
    let levels = lines.levels().unwrap_or_else(|error| {
        failing = true;
        service.devices().failing(
            &device,
            format!("cannot read its input lines at start: {error}"),
        );
        tracing::error!(%error, "cannot read the input lines at start");
        vec![false; inputs.len()]
    });
    let (router, start) = InputRouter::new(inputs, &levels);
    let site = service.site();
    let mut router = router.asking_for_pins(
        site.door_indices()
            .filter(|d| site.door(*d).access.card_and_pin)
            .collect(),
    );
    let send = |input: Input| {
        // Handed over without waiting for durability: the controller acts at once (a fire
        // alarm or a lockdown too; the service stores their latch after the doors moved), and
        // reading the lines never stalls on a commit.
        let source = match input {
            Input::Badge { .. } => Source::Reader,
            _ => Source::Contact,
        };
        if let Err(error) = service.submit(input, Origin::new(source)) {
            tracing::error!(%error, "a wired input was not applied");
        }
    };
    for input in start {
        send(input);
    }
    // The kernel stamps edges on its monotonic clock; "now" is the last stamp plus the time
    // since it arrived, on the daemon's clock.
    let daemon_clock = service.clock();
    let mut clock: Option<(Micros, Millis)> = None;
    let now = |clock: &Option<(Micros, Millis)>| {
        clock.map(|(at, seen)| {
            let since = daemon_clock.monotonic().saturating_sub(seen).max(0) as Micros;
            at + since * 1000
        })
    };
    while !stop.load(Ordering::Relaxed) {
        let wait = match (router.deadline(), now(&clock)) {
            (Some(due), Some(now)) => Duration::from_micros(due.saturating_sub(now)),
            _ => Duration::from_millis(100),
        }
        .min(Duration::from_millis(100));
        let read = lines.next_edge(wait);
        // The registry is told only when the chip's health changes, not on every edge.
        if read.is_ok() && std::mem::take(&mut failing) {
            service.devices().healthy(&device);
        }
        match read {
            Ok(Some(edge)) => {
                clock = Some((edge.at, daemon_clock.monotonic()));
                router.edge(edge);
            }
            Ok(None) => {}
            Err(error) => {
                failing = true;
                service
                    .devices()
                    .failing(&device, format!("reading its input lines failed: {error}"));
                tracing::error!(%error, "reading the input lines failed; retrying");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        if let Some(now) = now(&clock) {
            for routed in router.poll(now) {
                match routed {
                    Routed::Input(input) => send(input),
                    Routed::Refused { door, problem } => {
                        tracing::warn!(door = door.index(), %problem, "Wiegand read refused");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_hw::card;
    use keyway_hw::wiegand::edges_for;

    fn line(n: u32, debounce_ms: u32) -> GpioLine {
        GpioLine {
            chip: "/dev/gpiochip0".into(),
            line: n,
            active_low: false,
            debounce_ms,
        }
    }

    const FRONT: DoorIdx = DoorIdx(0);
    const PSU: CircuitIdx = CircuitIdx(1);

    fn inputs() -> Vec<(GpioLine, Role)> {
        vec![
            (line(22, 20), Role::Dps(FRONT)),
            (line(23, 20), Role::Rex(FRONT)),
            (line(5, 0), Role::WiegandD0(FRONT)),
            (line(6, 0), Role::WiegandD1(FRONT)),
            (line(4, 20), Role::FireAlarm),
            (line(12, 20), Role::AcFail(PSU)),
            (line(25, 20), Role::LockStatus(FRONT)),
        ]
    }

    fn edge(input: usize, active: bool, at: Micros) -> InputEdge {
        InputEdge { input, active, at }
    }

    #[test]
    fn contacts_active_at_start_count_and_momentary_ones_do_not() {
        // Door open, REX held, fire alarm active, feed lost, lock reporting unlocked.
        let (_, start) = InputRouter::new(&inputs(), &[true, true, true, true, true, true, false]);
        assert_eq!(
            start,
            [
                Input::DoorFoundOpen { door: FRONT },
                Input::FireAlarmInput { active: true },
                Input::PowerOff { circuit: PSU },
                Input::LockSensed {
                    door: FRONT,
                    locked: false
                },
            ]
        );
        let (_, start) = InputRouter::new(&inputs(), &[false; 7]);
        assert_eq!(
            start,
            [Input::LockSensed {
                door: FRONT,
                locked: false
            }]
        );
    }

    #[test]
    fn a_mode_button_starts_its_mode_for_the_whole_site_and_its_release_does_nothing() {
        assert_eq!(
            Role::Mode(Mode::Evacuate).input(true),
            Some(Input::Emergency {
                mode: Mode::Evacuate,
                areas: None
            })
        );
        assert_eq!(Role::Mode(Mode::Hold).input(false), None);
        // Held at start, it counts, as the lockdown button does.
        assert_eq!(
            Role::Mode(Mode::Shelter).at_start(true),
            Some(Input::Emergency {
                mode: Mode::Shelter,
                areas: None
            })
        );
        let site = keyway_core::parse_site(
            "site.toml",
            "[site]\nname = \"w\"\n[controller]\npower = \"m\"\n[[power]]\nid = \"m\"\n[[area]]\nid = \"out\"\nkind = \"exterior\"\n[wiring]\nhold = { line = 7 }\nsecure = { line = 8 }\n",
        )
        .unwrap();
        let roles: Vec<(u32, Role)> = wired_inputs(&site)
            .into_iter()
            .map(|(line, role)| (line.line, role))
            .collect();
        assert_eq!(
            roles,
            [(7, Role::Mode(Mode::Hold)), (8, Role::Mode(Mode::Secure))]
        );
    }

    #[test]
    fn wiegand_keys_make_a_pin_for_the_card_or_a_credential_of_their_own() {
        let key = |value: u8| -> Vec<bool> { (0..4).rev().map(|i| value >> i & 1 == 1).collect() };
        let (router, _) = InputRouter::new(&inputs(), &[false; 7]);
        let mut router = router.asking_for_pins(vec![FRONT]);
        let type_keys = |router: &mut InputRouter, keys: &[u8], start: Micros| {
            let mut out = Vec::new();
            for (k, value) in keys.iter().enumerate() {
                let at = start + k as u64 * 300_000;
                for (line, high, t) in edges_for(&key(*value), at, 50, 1_000) {
                    let input = if line == Line::D0 { 2 } else { 3 };
                    router.edge(edge(input, high, t));
                }
                out.extend(router.poll(at + 100_000));
            }
            out
        };
        // 1 2 3 4 #: a PIN for the card before it.
        let routed = type_keys(&mut router, &[1, 2, 3, 4, 11], 1_000_000);
        assert!(
            matches!(&routed[..], [Routed::Input(Input::Pin { door: FRONT, pin, .. })] if pin == "1234"),
            "{routed:?}"
        );
        // 9 * 5 6 #: the star clears.
        let routed = type_keys(&mut router, &[9, 10, 5, 6, 11], 10_000_000);
        assert!(
            matches!(&routed[..], [Routed::Input(Input::Pin { pin, .. })] if pin == "56"),
            "{routed:?}"
        );
        // Keys more than 5 s apart start over.
        let mut routed = type_keys(&mut router, &[7], 20_000_000);
        routed.extend(type_keys(&mut router, &[8, 11], 30_000_000));
        assert!(
            matches!(&routed[..], [Routed::Input(Input::Pin { pin, .. })] if pin == "8"),
            "{routed:?}"
        );
        // At a door that asks for no PIN the digits are a credential of their own.
        let (mut plain, _) = InputRouter::new(&inputs(), &[false; 7]);
        let routed = type_keys(&mut plain, &[4, 2, 11], 1_000_000);
        assert!(
            matches!(&routed[..], [Routed::Input(Input::Badge { credential, .. })] if credential == "pin:42"),
            "{routed:?}"
        );
    }

    #[test]
    fn a_bouncing_contact_gives_one_input_once_it_settles() {
        let (mut router, _) = InputRouter::new(&inputs(), &[false; 7]);
        for (at, level) in [(1_000, true), (1_300, false), (2_000, true)] {
            router.edge(edge(0, level, at));
        }
        assert_eq!(router.deadline(), Some(22_000));
        assert_eq!(router.poll(21_999), []);
        assert_eq!(
            router.poll(22_000),
            [Routed::Input(Input::DoorOpen { door: FRONT })]
        );
        // The REX released is nothing; the fire alarm input going inactive is its level.
        router.edge(edge(1, true, 30_000));
        router.edge(edge(4, true, 30_000));
        assert_eq!(
            router.poll(50_000),
            [
                Routed::Input(Input::Rex { door: FRONT }),
                Routed::Input(Input::FireAlarmInput { active: true })
            ]
        );
        router.edge(edge(1, false, 60_000));
        router.edge(edge(4, false, 60_000));
        assert_eq!(
            router.poll(90_000),
            [Routed::Input(Input::FireAlarmInput { active: false })]
        );
        // AC fail, then the feed coming back.
        router.edge(edge(5, true, 100_000));
        assert_eq!(
            router.poll(150_000),
            [Routed::Input(Input::PowerOff { circuit: PSU })]
        );
        router.edge(edge(5, false, 200_000));
        assert_eq!(
            router.poll(300_000),
            [Routed::Input(Input::PowerOn { circuit: PSU })]
        );
    }

    #[test]
    fn wiegand_edges_become_a_badge_and_noise_a_refusal() {
        let (mut router, _) = InputRouter::new(&inputs(), &[false; 7]);
        // The reader idles high: a pulse is the line going inactive (low) and back.
        for (line, high, at) in edges_for(&card::h10301(123, 4567), 10_000, 50, 2_000) {
            let input = if line == Line::D0 { 2 } else { 3 };
            router.edge(edge(input, high, at));
        }
        let due = router.deadline().unwrap();
        assert_eq!(router.poll(due - 1), []);
        assert_eq!(
            router.poll(due),
            [Routed::Input(Input::Badge {
                door: FRONT,
                side: Side::Entry,
                credential: "123:4567".into()
            })]
        );
        // A 10 µs spike on D1: refused, never a credential.
        router.edge(edge(3, false, 500_000));
        router.edge(edge(3, true, 500_010));
        let due = router.deadline().unwrap();
        assert!(matches!(
            router.poll(due).as_slice(),
            [Routed::Refused { door: FRONT, .. }]
        ));
    }

    #[test]
    fn relays_drive_their_lines_and_unwired_doors_stay_simulated() {
        let front = keyway_hw::gpio::FakeOutput::default();
        let simulated = SimulatedOutputs::default();
        let mut outputs =
            WiredOutputs::with_lines(vec![Some(Box::new(front.clone())), None], simulated.clone());
        outputs.set_relay(DoorIdx(0), true);
        outputs.set_relay(DoorIdx(1), true);
        outputs.set_relay(DoorIdx(0), false);
        assert_eq!(*front.history.lock().unwrap(), [true, false]);
        assert_eq!(
            *simulated.changes.lock().unwrap(),
            [(DoorIdx(0), true), (DoorIdx(1), true), (DoorIdx(0), false)]
        );
    }
}
