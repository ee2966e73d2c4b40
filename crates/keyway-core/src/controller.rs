//! The door controller: a deterministic state machine over timestamped inputs.
//!
//! Sans-IO, in the manner of `quinn-proto`: the caller hands in inputs with their time
//! ([`Controller::handle`]), lets time pass ([`Controller::advance`]), asks when the next timer
//! is due ([`Controller::next_timer`]) and takes the events ([`Controller::take_events`]). The
//! controller never reads a clock, so `keyway replay`, the property tests and the daemon all run
//! the very same code.
//!
//! Every lock's commanded position is computed from the whole state by
//! [`physics::commanded`] (the precedence list), and its physical position by
//! [`physics::lock_state`] (power decides). Handlers only change state; they never set a
//! position directly. A change of physical position is logged once, while the controller is
//! alive; a dead controller logs nothing, and on coming back logs what changed meanwhile.
//!
//! One door's alarm state:
//!
//! ```text
//!              door_open while locked,           open longer than held_open_seconds,
//!              no access/REX/key within          not held unlocked by schedule,
//!              unlock_seconds                    operator or fire alarm
//!   ┌──────┐ ─────────────────────────▶ ┌────────┐        ┌───────────┐
//!   │ none │                            │ forced │        │ held_open │
//!   └──────┘ ◀───────────────────────── └────────┘        └───────────┘
//!      ▲  │        door_close (alarm_cleared)                   │
//!      │  └──────────────────────────────────────────────────▶ │
//!      └──────────────────── door_close (alarm_cleared) ◀───────┘
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::credentials::{AccessLevel, CredentialStore, Decision, DenyReason, LevelIdx, Moment};
use crate::emergency::{self, Effect, Mode};
use crate::people::{People, PeopleChange, ToMuster};
use crate::physics::{
    Command, CommandInputs, LockPosition, Millis, PowerInputs, PowerTimeline, Rule,
    controller_can_unlock, decide, lock_state, power_cut_unlocks, relay_energized,
};
use crate::schedule;
use crate::site::{
    AntiPassback, AreaIdx, Arrangement, CircuitIdx, DoorIdx, Schedule, ScheduleIdx, Side, Site,
    StationIdx, ZoneIdx,
};

/// Something that happens at the controller, at a given time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A credential is presented at the door's entry reader (`Side::Entry`, on its outside)
    /// or its exit reader (`Side::Exit`, on its inside).
    Badge {
        door: DoorIdx,
        side: Side,
        credential: String,
    },
    /// A PIN is entered at the door's keypad (at its entry or exit reader): it completes a
    /// card presented there (`card_and_pin`).
    Pin {
        door: DoorIdx,
        side: Side,
        pin: String,
    },
    /// A credential is presented at a muster station: its holder is out, and safe.
    Muster {
        station: StationIdx,
        credential: String,
    },
    /// An operator forgives anti-passback: one holder's (`credential`), one zone's, or, with
    /// neither, everyone's.
    ForgivePassback {
        credential: Option<String>,
        zone: Option<ZoneIdx>,
    },
    /// The request-to-exit sensor fires (on a delayed-egress door: the delay starts).
    Rex {
        door: DoorIdx,
    },
    /// The manual release is pressed.
    PushToExit {
        door: DoorIdx,
    },
    DoorOpen {
        door: DoorIdx,
    },
    DoorClose {
        door: DoorIdx,
    },
    /// The door is already open when the controller starts reading its contact (at boot):
    /// logged as opened, held-open counted from now, never forced (nobody knows how it
    /// came to be open).
    DoorFoundOpen {
        door: DoorIdx,
    },
    /// The door is opened with the mechanical key.
    KeyOverride {
        door: DoorIdx,
    },
    /// The circuit's feed is lost (for a mains circuit, the circuit itself).
    PowerOff {
        circuit: CircuitIdx,
    },
    PowerOn {
        circuit: CircuitIdx,
    },
    /// The fire alarm panel signals an alarm (latched until the reset).
    FireAlarm,
    /// The fire alarm input's level, from a source that reports it (a wired contact, the
    /// simulated panel): active latches the alarm as `FireAlarm` does; while it is active a
    /// reset is refused, so the release cannot end while the panel is still in alarm.
    FireAlarmInput {
        active: bool,
    },
    /// The fire alarm is reset by hand.
    FireAlarmReset,
    Lockdown,
    LockdownEnd,
    /// An emergency mode of the Standard Response Protocol, for the doors with one of `areas`
    /// on either side (`None`: every door); `Mode::None` ends the one in force. `Lockdown` and
    /// `LockdownEnd` are this with `Mode::Lockdown` and `Mode::None` for the whole site.
    Emergency {
        mode: Mode,
        areas: Option<Vec<AreaIdx>>,
    },
    /// Emergency services take these doors: unlocked, above lockdown.
    EmergencyOverride {
        doors: Vec<DoorIdx>,
    },
    EmergencyOverrideEnd,
    /// Operator hold unlocked.
    Unlock {
        door: DoorIdx,
    },
    /// Operator hold locked.
    Lock {
        door: DoorIdx,
    },
    /// Operator hold, unlocked or locked, that ends by itself at `until`, an instant on the
    /// wall clock (what the operator asked for): the door then goes back to normal operation
    /// (`hold_ended`). It is turned into the controller's clock when it is set, so a later
    /// step of the wall clock neither stretches nor cuts it.
    HoldUntil {
        door: DoorIdx,
        command: Command,
        until: Millis,
    },
    /// Back to normal operation.
    Release {
        door: DoorIdx,
    },
    /// An operator's momentary unlock: the door unlocks for its `unlock_seconds`, as a
    /// granted access does (it changes no hold, and lockdown outranks it).
    MomentaryUnlock {
        door: DoorIdx,
    },
    /// Ends the door's granted-access unlock (a momentary unlock or an access granted) now,
    /// as its timer would: a remote `LOCK`. Nothing else changes (holds, releases, modes).
    MomentaryEnd {
        door: DoorIdx,
    },
    /// The door's reader stopped answering. Logged; it changes no lock (losing a reader
    /// never unlocks a door).
    ReaderOffline {
        door: DoorIdx,
    },
    /// The door's reader answers again.
    ReaderOnline {
        door: DoorIdx,
    },
    /// The door's reader reports its tamper switch (OSDP local status). Logged; it changes
    /// no lock.
    ReaderTamper {
        door: DoorIdx,
        active: bool,
    },
    /// The door's reader reports a fault of its own power (OSDP local status). Logged.
    ReaderPowerFault {
        door: DoorIdx,
        active: bool,
    },
    /// The circuit's power supply reports its battery low. Logged; the model's own battery
    /// timer still decides when the circuit goes down.
    BatteryLow {
        circuit: CircuitIdx,
    },
    /// The lock's status contact reports its position (`true`: locked). When it disagrees
    /// with the position the controller expects for longer than [`LOCK_SETTLE_MILLIS`], a
    /// `lock_fault` is logged; `lock_fault_cleared` when they agree again.
    LockSensed {
        door: DoorIdx,
        locked: bool,
    },
}

/// How long a lock may take to reach a new position before its status contact disagreeing
/// counts as a fault.
pub const LOCK_SETTLE_MILLIS: Millis = 2_000;

/// What the controller logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    AccessGranted,
    AccessDenied,
    DoorUnlocked,
    DoorLocked,
    DoorOpened,
    DoorClosed,
    DoorForced,
    DoorHeldOpen,
    AlarmCleared,
    Rex,
    KeyOverride,
    PowerLost,
    PowerRestored,
    BatteryDepleted,
    FireAlarm,
    FireAlarmReset,
    /// A reset was asked for while the fire alarm input is still active: the alarm stays.
    FireAlarmResetRefused,
    LockdownStarted,
    LockdownEnded,
    ReaderOffline,
    ReaderOnline,
    ReaderTamper,
    ReaderTamperCleared,
    ReaderPowerFault,
    ReaderPowerRestored,
    BatteryLow,
    LockFault,
    LockFaultCleared,
    /// A timed operator hold reached its end: the door is back to normal operation.
    HoldEnded,
    /// The first credential at a two-person door: it waits for a second one.
    AccessPending,
    /// A holder went into a soft anti-passback zone they had not left: granted, logged.
    AntiPassbackViolation,
    /// An operator forgave anti-passback (a holder's, a zone's or everyone's).
    AntiPassbackForgiven,
    /// A holder badged at a muster station.
    Mustered,
    /// An emergency mode other than lockdown started, changed or ended (with its mode).
    EmergencyMode,
    /// A duress PIN was entered: granted as usual, and an alarm for the operators.
    Duress,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::AccessGranted => "access_granted",
            EventKind::AccessDenied => "access_denied",
            EventKind::DoorUnlocked => "door_unlocked",
            EventKind::DoorLocked => "door_locked",
            EventKind::DoorOpened => "door_opened",
            EventKind::DoorClosed => "door_closed",
            EventKind::DoorForced => "door_forced",
            EventKind::DoorHeldOpen => "door_held_open",
            EventKind::AlarmCleared => "alarm_cleared",
            EventKind::Rex => "rex",
            EventKind::KeyOverride => "key_override",
            EventKind::PowerLost => "power_lost",
            EventKind::PowerRestored => "power_restored",
            EventKind::BatteryDepleted => "battery_depleted",
            EventKind::FireAlarm => "fire_alarm",
            EventKind::FireAlarmReset => "fire_alarm_reset",
            EventKind::FireAlarmResetRefused => "fire_alarm_reset_refused",
            EventKind::LockdownStarted => "lockdown_started",
            EventKind::LockdownEnded => "lockdown_ended",
            EventKind::ReaderOffline => "reader_offline",
            EventKind::ReaderOnline => "reader_online",
            EventKind::ReaderTamper => "reader_tamper",
            EventKind::ReaderTamperCleared => "reader_tamper_cleared",
            EventKind::ReaderPowerFault => "reader_power_fault",
            EventKind::ReaderPowerRestored => "reader_power_restored",
            EventKind::BatteryLow => "battery_low",
            EventKind::LockFault => "lock_fault",
            EventKind::LockFaultCleared => "lock_fault_cleared",
            EventKind::HoldEnded => "hold_ended",
            EventKind::AccessPending => "access_pending",
            EventKind::AntiPassbackViolation => "anti_passback_violation",
            EventKind::AntiPassbackForgiven => "anti_passback_forgiven",
            EventKind::Mustered => "mustered",
            EventKind::EmergencyMode => "emergency_mode",
            EventKind::Duress => "duress",
        }
    }
}

/// One logged event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: Millis,
    pub kind: EventKind,
    pub door: Option<DoorIdx>,
    pub credential: Option<String>,
    pub reason: Option<DenyReason>,
    pub circuit: Option<CircuitIdx>,
    pub detail: Option<Detail>,
}

/// What else an event names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The badge was at the door's exit reader.
    Exit,
    Station(StationIdx),
    Zone(ZoneIdx),
    Mode(Mode),
}

impl Event {
    fn new(at: Millis, kind: EventKind) -> Self {
        Event {
            at,
            kind,
            door: None,
            credential: None,
            reason: None,
            circuit: None,
            detail: None,
        }
    }

    fn door(at: Millis, kind: EventKind, door: DoorIdx) -> Self {
        Event {
            door: Some(door),
            ..Event::new(at, kind)
        }
    }
}

/// A door alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alarm {
    Forced,
    HeldOpen,
}

/// A door as the controller sees it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoorStatus {
    /// The physical position: power decides.
    pub lock: LockPosition,
    pub powered: bool,
    pub command: Command,
    pub open: bool,
    pub alarm: Option<Alarm>,
    /// The lock's status contact has disagreed with `lock` for longer than it takes to move.
    pub lock_fault: bool,
    /// Why the lock is where it is.
    pub reason: Reason,
    /// The operator's hold (unlock or lock), if there is one, whether or not it decides now.
    pub hold: Option<Command>,
    /// When a timed hold ends, on the wall clock.
    pub hold_until: Option<Millis>,
}

/// Why a door's lock is where it is: the rule that decides the controller's command, unless
/// something outside the controller decides the position first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The door has no electric lock.
    NoLock,
    /// The controller has no power: every relay at rest, the lock in its unpowered position.
    ControllerDead,
    /// The lock's circuit is down: the lock in its unpowered position.
    NoPower,
    /// Its power path is held open by hand (a push-to-exit cutting power, a delayed release).
    PowerCut,
    /// The rule of the precedence list that gives the command.
    #[serde(untagged)]
    Rule(Rule),
}

#[derive(Clone, Debug)]
struct DoorState {
    granted_until: Option<Millis>,
    /// A responder admitted during lockdown: unlocked as by the emergency override.
    responder_until: Option<Millis>,
    /// REX, a push-to-exit wired to the controller, or a delayed release whose delay has run.
    release_until: Option<Millis>,
    /// A delayed-egress release has started and unlocks at this time.
    delayed_release_at: Option<Millis>,
    /// Something outside the controller holds the lock's power path open until then.
    power_cut_until: Option<Millis>,
    operator_hold: Option<Command>,
    /// A timed operator hold ends then.
    hold_until: Option<Millis>,
    emergency_override: bool,
    /// The last access_granted, REX, push-to-exit or key override: opening the door within
    /// `unlock_seconds` of it is not forced.
    last_permit: Option<Millis>,
    /// The last access granted at the entry reader: opening the door within `unlock_seconds`
    /// of it is that person going in, not someone going out.
    last_entry: Option<Millis>,
    /// A two-person door: the first credential, at which reader, and when.
    pending: Option<(String, Side, Millis)>,
    /// A `card_and_pin` door: the card waiting for its PIN, at which reader, and when.
    pin_pending: Option<(String, Side, Millis)>,
    open: bool,
    open_since: Option<Millis>,
    alarm: Option<Alarm>,
    command: Command,
    reason: Reason,
    position: LockPosition,
    powered: bool,
    /// The position last logged; differs from `position` only while the controller is dead.
    logged_position: LockPosition,
    /// What the lock's status contact last said (`true`: locked), if it has one.
    sensed_locked: Option<bool>,
    /// Since when the contact has disagreed with `position`.
    disagrees_since: Option<Millis>,
    lock_fault: bool,
}

/// When a timer is due, what to look at again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Some circuit goes down (a battery runs out).
    Power,
    /// A schedule may change state.
    Schedule(ScheduleIdx),
    /// Something of this door expires.
    Door(DoorIdx),
}

/// The controller of one site.
#[derive(Debug)]
pub struct Controller {
    site: Arc<Site>,
    credentials: CredentialStore,
    levels: Vec<AccessLevel>,
    now: Millis,
    power: PowerInputs,
    timeline: PowerTimeline,
    alive: bool,
    fire_alarm: bool,
    /// The fire alarm input is active now (only known from a source that reports its level).
    fire_alarm_input: bool,
    /// The emergency mode in force, and its areas by index (`None`: the whole site).
    mode: Mode,
    mode_areas: Option<Vec<bool>>,
    schedule_active: Vec<bool>,
    doors_by_schedule: Vec<Vec<DoorIdx>>,
    doors: Vec<DoorState>,
    timers: BinaryHeap<Reverse<(Millis, Timer)>>,
    /// When each schedule is next looked at; a queued schedule timer for another instant is
    /// stale (the wall clock stepped since it was set) and does nothing.
    schedule_due: Vec<Option<Millis>>,
    /// The wall clock minus the controller's clock. Timers run on the controller's clock
    /// (monotonic in the daemon); schedules are read, and events stamped, on the wall clock.
    wall_offset: Millis,
    events: Vec<Event>,
    /// How many of `events` are already stamped on the wall clock.
    events_stamped: usize,
    /// Where each holder was last seen.
    people: People,
    /// Since when the muster list is kept (a fire alarm or an evacuation), on the controller's clock.
    muster_since: Option<Millis>,
    /// How many times each pass with a number of uses has been granted.
    used: HashMap<String, u32>,
    /// The changes of `used` not yet taken, when they are kept.
    use_changes: Option<Vec<(String, u32)>>,
}

/// A badge that passed every check but the second factor.
#[derive(Clone, Copy, Debug)]
struct Admission {
    /// Admitted because it is a responder's (an emergency mode holds the door).
    responder: bool,
    /// A responder's: held to none of the rules about people.
    exempt: bool,
    /// A soft anti-passback zone it re-enters.
    violation: Option<ZoneIdx>,
}

/// How long a `card_and_pin` door waits for the PIN after the card.
pub const PIN_MILLIS: Millis = 10_000;

impl Controller {
    /// Starts the controller at `now` with all power on, every relay at rest and no alarm,
    /// then applies the commands of that moment (an active schedule unlocks its doors, and
    /// that is logged).
    pub fn new(
        site: Arc<Site>,
        credentials: CredentialStore,
        levels: Vec<AccessLevel>,
        now: Millis,
    ) -> Self {
        let power = PowerInputs::normal(&site);
        let timeline = PowerTimeline::new(&site, &power);
        let mut doors_by_schedule = vec![Vec::new(); site.schedules.len()];
        let mut doors = Vec::with_capacity(site.doors.len());
        for (i, door) in site.doors.iter().enumerate() {
            if let Some(schedule) = door.schedule {
                doors_by_schedule[schedule.index()].push(DoorIdx(i as u32));
            }
            // At rest: the relay de-energized, which is the locked command.
            let at_rest = door
                .lock
                .as_ref()
                .map(|lock| lock_state(lock.fail, timeline.is_live(lock.power, now), false, false))
                .map_or(LockPosition::Unlocked, |state| state.position);
            doors.push(DoorState {
                granted_until: None,
                responder_until: None,
                release_until: None,
                delayed_release_at: None,
                power_cut_until: None,
                operator_hold: None,
                hold_until: None,
                emergency_override: false,
                last_permit: None,
                last_entry: None,
                pending: None,
                pin_pending: None,
                open: false,
                open_since: None,
                alarm: None,
                command: Command::Lock,
                reason: Reason::Rule(Rule::Locked),
                position: at_rest,
                powered: false,
                logged_position: at_rest,
                sensed_locked: None,
                disagrees_since: None,
                lock_fault: false,
            });
        }
        let site_schedules = site.schedules.len();
        let people = People::new(&site);
        let mut controller = Controller {
            schedule_active: vec![false; site.schedules.len()],
            alive: timeline.is_live(site.controller_power, now),
            site,
            credentials,
            levels,
            now,
            power,
            timeline,
            fire_alarm: false,
            fire_alarm_input: false,
            mode: Mode::None,
            mode_areas: None,
            doors_by_schedule,
            doors,
            timers: BinaryHeap::new(),
            schedule_due: vec![None; site_schedules],
            wall_offset: 0,
            events: Vec::new(),
            events_stamped: 0,
            people,
            muster_since: None,
            used: HashMap::new(),
            use_changes: None,
        };
        for s in 0..controller.site.schedules.len() {
            controller.refresh_schedule(ScheduleIdx(s as u32));
        }
        controller.push_power_timer();
        controller.refresh_all_doors();
        controller
    }

    pub fn site(&self) -> &Site {
        &self.site
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    pub fn credentials(&self) -> &CredentialStore {
        &self.credentials
    }

    /// Puts an access level at its place in the level list (where credentials name it by
    /// `LevelIdx`), growing the list with levels that open nothing if it is short.
    pub fn put_level(&mut self, at: LevelIdx, level: AccessLevel) {
        let at = at.0 as usize;
        if self.levels.len() <= at {
            self.levels.resize(at + 1, AccessLevel::none());
        }
        self.levels[at] = level;
    }

    /// Puts a schedule at its place in the site's list (where doors, credentials and levels
    /// name it by `ScheduleIdx`), growing the list with schedules that are never active if it
    /// is short, and looks at it again at once: a door it unlocks moves now if it must.
    pub fn put_schedule(&mut self, at: ScheduleIdx, schedule: Schedule) {
        let at_index = at.index();
        let site = Arc::make_mut(&mut self.site);
        if site.schedules.len() <= at_index {
            let never = Schedule {
                id: String::new(),
                weekly: Vec::new(),
                holidays: Vec::new(),
            };
            site.schedules.resize(at_index + 1, never);
            self.schedule_active.resize(at_index + 1, false);
            self.schedule_due.resize(at_index + 1, None);
            self.doors_by_schedule.resize(at_index + 1, Vec::new());
        }
        site.schedules[at_index] = schedule;
        self.refresh_schedule(at);
    }

    pub fn levels(&self) -> &[AccessLevel] {
        &self.levels
    }

    pub fn credentials_mut(&mut self) -> &mut CredentialStore {
        &mut self.credentials
    }

    /// The controller has power.
    pub fn alive(&self) -> bool {
        self.alive
    }

    pub fn fire_alarm(&self) -> bool {
        self.fire_alarm
    }

    /// The fire alarm input is active (from a source that reports its level).
    pub fn fire_alarm_input(&self) -> bool {
        self.fire_alarm_input
    }

    pub fn lockdown(&self) -> bool {
        self.mode == Mode::Lockdown
    }

    /// The emergency mode in force.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The areas of the mode in force, `None` for the whole site.
    pub fn mode_areas(&self) -> Option<Vec<AreaIdx>> {
        self.mode_areas.as_ref().map(|mask| {
            mask.iter()
                .enumerate()
                .filter(|(_, on)| **on)
                .map(|(i, _)| AreaIdx(i as u32))
                .collect()
        })
    }

    /// What the mode in force does at a door.
    fn mode_effect(&self, door: DoorIdx) -> Effect {
        let site_door = self.site.door(door);
        emergency::effect(
            &self.site,
            self.mode,
            site_door,
            emergency::in_scope(site_door, self.mode_areas.as_deref()),
        )
    }

    /// Where each holder was last seen.
    pub fn people(&self) -> &People {
        &self.people
    }

    /// From now on each grant of a pass with a number of uses is kept until taken
    /// ([`Controller::take_use_changes`]): the credential and how many times it has been used.
    pub fn keep_use_changes(&mut self) {
        self.use_changes.get_or_insert_with(Vec::new);
    }

    pub fn take_use_changes(&mut self) -> Vec<(String, u32)> {
        self.use_changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Brings back how many times passes were used (before a restart).
    pub fn restore_uses(&mut self, used: impl IntoIterator<Item = (String, u32)>) {
        self.used.extend(used);
    }

    /// How many times a pass has been used.
    pub fn used(&self, credential: &str) -> u32 {
        self.used.get(credential).copied().unwrap_or(0)
    }

    /// From now on the changes of where people are are kept until taken
    /// ([`Controller::take_people_changes`]); their times are on the wall clock.
    pub fn keep_people_changes(&mut self) {
        self.people.keep_changes();
    }

    /// The changes of where people are since the last call, stamped on the wall clock.
    pub fn take_people_changes(&mut self) -> Vec<PeopleChange> {
        let offset = self.wall_offset;
        let mut changes = self.people.take_changes();
        for change in &mut changes {
            if let PeopleChange::Seen { sighting, .. } = change {
                sighting.at = sighting.at.saturating_add(offset);
            }
        }
        changes
    }

    /// Brings back where people were (changes taken before a restart, times on the wall
    /// clock). Done before anything else happens.
    pub fn restore_people(&mut self, changes: Vec<PeopleChange>) {
        let offset = self.wall_offset;
        for mut change in changes {
            if let PeopleChange::Seen { sighting, .. } = &mut change {
                sighting.at = sighting.at.saturating_sub(offset);
            }
            self.people.restore(change);
        }
    }

    /// Per area, by index: the credentials known to be there, sorted.
    pub fn occupants(&self) -> Vec<Vec<&str>> {
        self.people.occupants(&self.site)
    }

    /// While a fire alarm or an evacuation lasts: everyone last seen inside who has not mustered since,
    /// sorted by credential. `None` when there is no muster.
    pub fn muster_list(&self) -> Option<Vec<ToMuster<'_>>> {
        self.muster_since?;
        Some(self.people.last_seen_inside())
    }

    /// When the muster began (the fire alarm or the evacuation), on the wall clock.
    pub fn muster_since(&self) -> Option<Millis> {
        self.muster_since
            .map(|at| at.saturating_add(self.wall_offset))
    }

    pub fn circuit_live(&self, circuit: CircuitIdx) -> bool {
        self.timeline.is_live(circuit, self.now)
    }

    pub fn power_timeline(&self) -> &PowerTimeline {
        &self.timeline
    }

    pub fn door_status(&self, door: DoorIdx) -> DoorStatus {
        let state = &self.doors[door.index()];
        DoorStatus {
            lock: state.position,
            powered: state.powered,
            command: state.command,
            open: state.open,
            alarm: state.alarm,
            lock_fault: state.lock_fault,
            reason: state.reason,
            hold: state.operator_hold,
            hold_until: state
                .hold_until
                .map(|until| until.saturating_add(self.wall_offset)),
        }
    }

    /// Whether `circuit`, or one that feeds it, is cut by the fire alarm
    /// (`fire_alarm_cutoff`).
    fn fire_alarm_cuts(&self, circuit: CircuitIdx) -> bool {
        self.site
            .circuit_chain(circuit)
            .any(|c| self.site.circuit(c).fire_alarm_cutoff)
    }

    /// The wall clock now reads `offset` ahead of the controller's clock (it was set, or an
    /// NTP step moved it). Schedules are looked at again at the new wall time, and events are
    /// stamped with it from now on; timers already running keep their length, so a timed
    /// unlock is never stretched by a step of the wall clock.
    pub fn set_wall_offset(&mut self, offset: Millis) {
        if offset == self.wall_offset {
            return;
        }
        self.stamp_events();
        self.wall_offset = offset;
        for s in 0..self.site.schedules.len() {
            self.refresh_schedule(ScheduleIdx(s as u32));
        }
    }

    /// The wall clock minus the controller's clock (see `set_wall_offset`).
    pub fn wall_offset(&self) -> Millis {
        self.wall_offset
    }

    /// The next instant at which a timer is due, if any.
    pub fn next_timer(&self) -> Option<Millis> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Whether the next timer due is a schedule's boundary (so that what it causes can be
    /// said to come from the schedule).
    pub fn next_timer_is_schedule(&self) -> bool {
        self.timers
            .peek()
            .is_some_and(|Reverse((_, timer))| matches!(timer, Timer::Schedule(_)))
    }

    /// The events logged since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.stamp_events();
        self.events_stamped = 0;
        std::mem::take(&mut self.events)
    }

    /// Keeps only the events not yet taken whose kind passes `keep`, dropping the others (the
    /// daemon drops the latched state's events when it restores them at start).
    pub fn retain_events(&mut self, keep: impl Fn(EventKind) -> bool) {
        self.stamp_events();
        self.events.retain(|event| keep(event.kind));
        self.events_stamped = self.events.len();
    }

    /// Events carry the controller's clock until they are stamped with the wall clock's
    /// offset of the moment they were logged.
    fn stamp_events(&mut self) {
        for event in &mut self.events[self.events_stamped..] {
            event.at = event.at.saturating_add(self.wall_offset);
        }
        self.events_stamped = self.events.len();
    }

    /// Fires every timer due up to `now`, each at its own time, then sets the clock to `now`.
    /// Time never goes back: an earlier `now` is taken as the current time.
    pub fn advance(&mut self, now: Millis) {
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.now = self.now.max(at);
            match timer {
                Timer::Power => self.power_timer(),
                Timer::Schedule(schedule) => {
                    if self.schedule_due[schedule.index()] == Some(at) {
                        self.refresh_schedule(schedule);
                    }
                }
                Timer::Door(door) => self.refresh_door(door),
            }
        }
        self.now = self.now.max(now);
    }

    /// Applies one input at `now`, after the timers due by then.
    pub fn handle(&mut self, now: Millis, input: Input) {
        self.advance(now);
        let now = self.now;
        match input {
            Input::Badge {
                door,
                side,
                credential,
            } => self.badge(door, side, credential),
            Input::Muster {
                station,
                credential,
            } => self.muster(station, credential),
            Input::Pin { door, side, pin } => self.pin(door, side, pin),
            Input::ForgivePassback { credential, zone } => self.forgive_passback(credential, zone),
            Input::Rex { door } => self.rex(door),
            Input::PushToExit { door } => self.push_to_exit(door),
            Input::DoorOpen { door } => self.door_open(door, false),
            Input::DoorFoundOpen { door } => self.door_open(door, true),
            Input::DoorClose { door } => self.door_close(door),
            Input::KeyOverride { door } => {
                self.doors[door.index()].last_permit = Some(now);
                self.log(Event::door(now, EventKind::KeyOverride, door));
            }
            Input::PowerOff { circuit } => {
                // A power loss forgives every holder's anti-passback: the readers that saw
                // them leave may have been dark.
                self.people.forgive_everyone();
                if self.power.feed_cut_since[circuit.index()].is_none() {
                    self.power.feed_cut_since[circuit.index()] = Some(now);
                    self.power_changed(Some(Event {
                        circuit: Some(circuit),
                        ..Event::new(now, EventKind::PowerLost)
                    }));
                }
            }
            Input::PowerOn { circuit } => {
                if self.power.feed_cut_since[circuit.index()].is_some() {
                    self.power.feed_cut_since[circuit.index()] = None;
                    self.power_changed(Some(Event {
                        circuit: Some(circuit),
                        ..Event::new(now, EventKind::PowerRestored)
                    }));
                }
            }
            Input::FireAlarm => self.fire_alarm_latch(now),
            Input::FireAlarmInput { active } => {
                self.fire_alarm_input = active;
                if active {
                    self.fire_alarm_latch(now);
                }
            }
            Input::FireAlarmReset if self.fire_alarm && self.fire_alarm_input => {
                self.log(Event::new(now, EventKind::FireAlarmResetRefused));
            }
            Input::FireAlarmReset => {
                if self.fire_alarm {
                    self.fire_alarm = false;
                    self.refresh_muster(now);
                    self.power.fire_alarm_since = None;
                    self.power_changed(Some(Event::new(now, EventKind::FireAlarmReset)));
                }
            }
            Input::Lockdown => self.set_mode(Mode::Lockdown, None),
            Input::LockdownEnd => {
                if self.mode == Mode::Lockdown {
                    self.set_mode(Mode::None, None);
                }
            }
            Input::Emergency { mode, areas } => self.set_mode(mode, areas),
            Input::EmergencyOverride { doors } => {
                for door in doors {
                    self.doors[door.index()].emergency_override = true;
                    self.refresh_door(door);
                }
            }
            Input::EmergencyOverrideEnd => {
                for i in 0..self.doors.len() {
                    if std::mem::take(&mut self.doors[i].emergency_override) {
                        self.refresh_door(DoorIdx(i as u32));
                    }
                }
            }
            Input::Unlock { door } => self.hold(door, Some(Command::Unlock), None),
            Input::Lock { door } => self.hold(door, Some(Command::Lock), None),
            Input::HoldUntil {
                door,
                command,
                until,
            } => {
                let until = until.saturating_sub(self.wall_offset);
                if until > now {
                    self.push_timer(until, Timer::Door(door));
                    self.hold(door, Some(command), Some(until));
                } else {
                    // Already over: nothing to hold, and a hold that was there ends.
                    self.hold(door, None, None);
                }
            }
            Input::Release { door } => self.hold(door, None, None),
            Input::MomentaryUnlock { door } => self.momentary_unlock(door),
            Input::MomentaryEnd { door } => {
                // Its permit stays: opened within `unlock_seconds` of it, the door is not
                // forced (a REX or a key may have given it, not only the grant).
                self.doors[door.index()].granted_until = None;
                self.refresh_door(door);
            }
            Input::ReaderOffline { door } => {
                self.log(Event::door(now, EventKind::ReaderOffline, door))
            }
            Input::ReaderOnline { door } => {
                self.log(Event::door(now, EventKind::ReaderOnline, door))
            }
            Input::ReaderTamper { door, active } => {
                let kind = if active {
                    EventKind::ReaderTamper
                } else {
                    EventKind::ReaderTamperCleared
                };
                self.log(Event::door(now, kind, door))
            }
            Input::ReaderPowerFault { door, active } => {
                let kind = if active {
                    EventKind::ReaderPowerFault
                } else {
                    EventKind::ReaderPowerRestored
                };
                self.log(Event::door(now, kind, door))
            }
            Input::BatteryLow { circuit } => self.log(Event {
                circuit: Some(circuit),
                ..Event::new(now, EventKind::BatteryLow)
            }),
            Input::LockSensed { door, locked } => {
                self.doors[door.index()].sensed_locked = Some(locked);
                self.refresh_door(door);
            }
        }
    }

    /// Puts an emergency mode in force. Lockdown logs `lockdown_started` and
    /// `lockdown_ended` as it always has; every other change logs `emergency_mode`.
    fn set_mode(&mut self, mode: Mode, areas: Option<Vec<AreaIdx>>) {
        let now = self.now;
        let mask = areas.filter(|_| mode != Mode::None).map(|areas| {
            let mut mask = vec![false; self.site.areas.len()];
            for area in areas {
                mask[area.index()] = true;
            }
            mask
        });
        if mode == self.mode && mask == self.mode_areas {
            return;
        }
        let was = self.mode;
        self.mode = mode;
        self.mode_areas = mask;
        if was == Mode::Lockdown && mode != Mode::Lockdown {
            self.log(Event::new(now, EventKind::LockdownEnded));
        }
        if mode == Mode::Lockdown && was != Mode::Lockdown {
            self.log(Event::new(now, EventKind::LockdownStarted));
        } else if !(mode == Mode::None && was == Mode::Lockdown) {
            self.log(Event {
                detail: Some(Detail::Mode(mode)),
                ..Event::new(now, EventKind::EmergencyMode)
            });
        }
        if mode == Mode::Evacuate && was != Mode::Evacuate {
            // As in a fire: everyone leaves by the nearest way.
            self.people.forgive_everyone();
        }
        self.refresh_muster(now);
        if mode != was {
            // Whoever was admitted through the old mode's locks goes back to the normal rules.
            for state in &mut self.doors {
                state.responder_until = None;
            }
        }
        self.refresh_all_doors();
    }

    /// A muster lasts while a fire alarm or an evacuation does, from the first of them.
    fn refresh_muster(&mut self, now: Millis) {
        if self.fire_alarm || self.mode == Mode::Evacuate {
            self.muster_since.get_or_insert(now);
        } else {
            self.muster_since = None;
        }
    }

    fn fire_alarm_latch(&mut self, now: Millis) {
        if !self.fire_alarm {
            self.fire_alarm = true;
            // Everyone leaves by the nearest way: nobody is held to the way they came in.
            self.people.forgive_everyone();
            self.refresh_muster(now);
            self.power.fire_alarm_since = Some(now);
            self.power_changed(Some(Event::new(now, EventKind::FireAlarm)));
        }
    }

    fn log(&mut self, event: Event) {
        // A dead controller logs nothing.
        if self.alive {
            self.events.push(event);
        }
    }

    fn push_timer(&mut self, at: Millis, timer: Timer) {
        self.timers.push(Reverse((at, timer)));
    }

    fn hold(&mut self, door: DoorIdx, hold: Option<Command>, until: Option<Millis>) {
        let state = &mut self.doors[door.index()];
        state.operator_hold = hold;
        state.hold_until = until;
        self.refresh_door(door);
    }

    fn momentary_unlock(&mut self, door: DoorIdx) {
        if !self.alive {
            return;
        }
        let now = self.now;
        let until = now.saturating_add(self.unlock_millis(door));
        let state = &mut self.doors[door.index()];
        state.granted_until = Some(state.granted_until.map_or(until, |u| u.max(until)));
        state.last_permit = Some(now);
        self.push_timer(until, Timer::Door(door));
        self.refresh_door(door);
    }

    fn can_unlock(&self, door: DoorIdx) -> bool {
        match &self.site.door(door).lock {
            Some(lock) => controller_can_unlock(
                lock.fail,
                self.timeline.is_live(lock.power, self.now),
                self.alive,
            ),
            None => self.alive,
        }
    }

    fn unlock_millis(&self, door: DoorIdx) -> Millis {
        seconds_to_millis(self.site.door(door).unlock_seconds)
    }

    fn badge(&mut self, door: DoorIdx, side: Side, credential: String) {
        if !self.alive {
            // Nobody can badge through a dead controller: the reader is dark.
            return;
        }
        let admission = match self.check_badge(door, side, &credential) {
            Ok(admission) => admission,
            Err(reason) => return self.deny(door, side, Some(credential), reason),
        };
        if self.site.door(door).access.card_and_pin && !admission.exempt {
            // The card is good: the PIN comes next, at the same reader.
            let now = self.now;
            self.doors[door.index()].pin_pending = Some((credential.clone(), side, now));
            self.log(Event {
                credential: Some(credential),
                detail: (side == Side::Exit).then_some(Detail::Exit),
                ..Event::door(now, EventKind::AccessPending, door)
            });
            return;
        }
        self.admit(door, side, credential, admission, false);
    }

    /// A PIN entered at a door's keypad: it completes the card presented there within
    /// [`PIN_MILLIS`]. The card is checked again (a lockdown may have begun meanwhile); the
    /// duress PIN grants as the PIN does, and raises `duress`.
    fn pin(&mut self, door: DoorIdx, side: Side, pin: String) {
        if !self.alive {
            return;
        }
        let now = self.now;
        let pending = self.doors[door.index()].pin_pending.take();
        let Some((credential, _, _)) =
            pending.filter(|(_, at_side, at)| *at_side == side && now - at <= PIN_MILLIS)
        else {
            return self.deny(door, side, None, DenyReason::WrongPin);
        };
        let extra = self
            .credentials
            .get(&credential)
            .map(|c| c.extra().clone())
            .unwrap_or_default();
        let duress = if extra.pin.as_deref() == Some(pin.as_str()) {
            false
        } else if extra.duress_pin.as_deref() == Some(pin.as_str()) {
            true
        } else {
            return self.deny(door, side, Some(credential), DenyReason::WrongPin);
        };
        match self.check_badge(door, side, &credential) {
            Ok(admission) => self.admit(door, side, credential, admission, duress),
            Err(reason) => self.deny(door, side, Some(credential), reason),
        }
    }

    /// Every check of a badge but the second factor (a PIN, a second person): the
    /// credential's decision, its uses, anti-passback and the interlock.
    fn check_badge(
        &self,
        door: DoorIdx,
        side: Side,
        credential: &str,
    ) -> Result<Admission, DenyReason> {
        let moment = Moment {
            now: self.now,
            schedule_active: &self.schedule_active,
            admits: self.mode_effect(door).admits,
            can_unlock: self.can_unlock(door),
        };
        let responder = match self
            .credentials
            .decide(&self.levels, credential, door, moment)
        {
            Decision::Grant { responder } => responder,
            Decision::Deny(reason) => return Err(reason),
        };
        let record = self.credentials.get(credential);
        if let Some(uses) = record.and_then(|c| c.extra().uses)
            && self.used.get(credential).copied().unwrap_or(0) >= uses
        {
            return Err(DenyReason::UsedUp);
        }
        // A responder is held to none of the rules about people: emergency services get in.
        let exempt = record.is_some_and(|c| c.responder());
        let mut violation = None;
        if !exempt {
            match self.passback(door, side, credential) {
                Some((_, AntiPassback::Hard)) => return Err(DenyReason::AntiPassback),
                Some((zone, AntiPassback::Soft)) => violation = Some(zone),
                None => {}
            }
            if self.interlocked(door) {
                return Err(DenyReason::Interlock);
            }
        }
        Ok(Admission {
            responder,
            exempt,
            violation,
        })
    }

    /// Lets a checked credential in: at a two-person door it waits for a second one, then
    /// both are granted; the door unlocks once.
    fn admit(
        &mut self,
        door: DoorIdx,
        side: Side,
        credential: String,
        admission: Admission,
        duress: bool,
    ) {
        let now = self.now;
        let Admission {
            responder,
            exempt,
            violation,
        } = admission;
        let mut partner = None;
        let access = &self.site.door(door).access;
        if access.two_person && !exempt {
            let window = seconds_to_millis(access.two_person_seconds);
            let state = &mut self.doors[door.index()];
            match state.pending.take() {
                Some((first, first_side, at))
                    if first != credential && first_side == side && now - at <= window =>
                {
                    partner = Some(first);
                }
                _ => {
                    state.pending = Some((credential.clone(), side, now));
                    self.log(Event {
                        credential: Some(credential.clone()),
                        detail: (side == Side::Exit).then_some(Detail::Exit),
                        ..Event::door(now, EventKind::AccessPending, door)
                    });
                    if duress {
                        self.log(Event {
                            credential: Some(credential),
                            ..Event::door(now, EventKind::Duress, door)
                        });
                    }
                    return;
                }
            }
        }
        if let Some(zone) = violation {
            self.log(Event {
                credential: Some(credential.clone()),
                detail: Some(Detail::Zone(zone)),
                ..Event::door(now, EventKind::AntiPassbackViolation, door)
            });
        }
        let until = now.saturating_add(self.unlock_millis(door));
        let state = &mut self.doors[door.index()];
        state.granted_until = Some(until);
        if responder {
            state.responder_until = Some(until);
        }
        state.last_permit = Some(now);
        if side == Side::Entry {
            state.last_entry = Some(now);
        }
        let site_door = self.site.door(door);
        let into = match side {
            Side::Entry => site_door.inside,
            Side::Exit => site_door.outside,
        };
        for holder in partner
            .into_iter()
            .chain(std::iter::once(credential.clone()))
        {
            self.people.see(&holder, Some(into), now);
            self.use_once(&holder);
            self.log(Event {
                credential: Some(holder),
                detail: (side == Side::Exit).then_some(Detail::Exit),
                ..Event::door(now, EventKind::AccessGranted, door)
            });
        }
        if duress {
            // Granted as asked, so that nobody watching can tell; the alarm goes to the
            // operators.
            self.log(Event {
                credential: Some(credential),
                ..Event::door(now, EventKind::Duress, door)
            });
        }
        self.push_timer(until, Timer::Door(door));
        self.refresh_door(door);
    }

    /// One use of a pass with a number of uses.
    fn use_once(&mut self, credential: &str) {
        let limited = self
            .credentials
            .get(credential)
            .is_some_and(|c| c.extra().uses.is_some());
        if limited {
            let used = self.used.entry(credential.to_string()).or_insert(0);
            *used += 1;
            let used = *used;
            if let Some(changes) = &mut self.use_changes {
                changes.push((credential.to_string(), used));
            }
        }
    }

    fn deny(&mut self, door: DoorIdx, side: Side, credential: Option<String>, reason: DenyReason) {
        self.log(Event {
            credential,
            reason: Some(reason),
            detail: (side == Side::Exit).then_some(Detail::Exit),
            ..Event::door(self.now, EventKind::AccessDenied, door)
        });
    }

    /// The anti-passback zone this badge would re-enter, the hardest first. Only an entry
    /// reader into a zone from outside it counts: anti-passback never keeps anyone in.
    fn passback(
        &self,
        door: DoorIdx,
        side: Side,
        credential: &str,
    ) -> Option<(ZoneIdx, AntiPassback)> {
        if side == Side::Exit {
            return None;
        }
        let site_door = self.site.door(door);
        let from = self.site.zones_of(site_door.outside);
        let mut found = None;
        for &zone in self.site.zones_of(site_door.inside) {
            if from.contains(&zone)
                || !self
                    .people
                    .inside_zone(&self.site, credential, zone, self.now)
            {
                continue;
            }
            let kind = self.site.zone(zone).anti_passback;
            if kind == AntiPassback::Hard {
                return Some((zone, kind));
            }
            found.get_or_insert((zone, kind));
        }
        found
    }

    /// Another door of one of this door's interlocks is open or unlocked. A fire alarm
    /// suspends every interlock: its doors are released for everyone to get out.
    fn interlocked(&self, door: DoorIdx) -> bool {
        !self.fire_alarm
            && self.site.interlocks_of(door).iter().any(|&group| {
                self.site.interlock(group).doors.iter().any(|&other| {
                    let state = &self.doors[other.index()];
                    other != door && (state.open || state.position == LockPosition::Unlocked)
                })
            })
    }

    /// Someone may have gone out through this door without being seen: a door without an
    /// exit reader says nothing of who.
    fn unseen_exit(&mut self, door: DoorIdx) {
        let site_door = self.site.door(door);
        if self.alive && site_door.exit_reader.is_none() {
            self.people.left_unseen(site_door.inside);
        }
    }

    fn muster(&mut self, station: StationIdx, credential: String) {
        if !self.alive {
            return;
        }
        let area = self.site.muster_stations[station.index()].area;
        self.people.see(&credential, area, self.now);
        self.log(Event {
            credential: Some(credential),
            detail: Some(Detail::Station(station)),
            ..Event::new(self.now, EventKind::Mustered)
        });
    }

    fn forgive_passback(&mut self, credential: Option<String>, zone: Option<ZoneIdx>) {
        match (&credential, zone) {
            (Some(holder), _) => {
                self.people.forgive_holder(holder);
            }
            (None, Some(zone)) => self.people.forgive_zone(zone),
            (None, None) => self.people.forgive_everyone(),
        }
        self.log(Event {
            credential,
            detail: zone.map(Detail::Zone),
            ..Event::new(self.now, EventKind::AntiPassbackForgiven)
        });
    }

    fn rex(&mut self, door: DoorIdx) {
        let now = self.now;
        let site_door = self.site.door(door);
        if site_door.release.arrangement == Arrangement::Delayed {
            // The delay timer is part of the lock: it runs while the lock has power.
            let delay = seconds_to_millis(site_door.release.delay_seconds.unwrap_or(15.0));
            self.log(Event::door(now, EventKind::Rex, door));
            self.unseen_exit(door);
            let state = &mut self.doors[door.index()];
            state.last_permit = Some(now);
            if state.powered && state.delayed_release_at.is_none() {
                state.delayed_release_at = Some(now.saturating_add(delay));
                self.push_timer(now.saturating_add(delay), Timer::Door(door));
            }
            return;
        }
        if !self.alive {
            // The REX sensor is read by the controller.
            return;
        }
        self.log(Event::door(now, EventKind::Rex, door));
        self.unseen_exit(door);
        self.release_for(door, now.saturating_add(self.unlock_millis(door)));
    }

    fn release_for(&mut self, door: DoorIdx, until: Millis) {
        let state = &mut self.doors[door.index()];
        state.last_permit = Some(self.now);
        state.release_until = Some(state.release_until.map_or(until, |u| u.max(until)));
        self.push_timer(until, Timer::Door(door));
        self.refresh_door(door);
    }

    fn push_to_exit(&mut self, door: DoorIdx) {
        let now = self.now;
        let device = self
            .site
            .door(door)
            .release
            .push_to_exit
            .clone()
            .unwrap_or_default();
        let cuts_power = self
            .site
            .door(door)
            .lock
            .as_ref()
            .is_some_and(|lock| power_cut_unlocks(lock.fail));
        self.unseen_exit(door);
        if device.direct_power_cut {
            // Hard-wired: it opens the lock's power path whatever the controller does. That
            // unlocks a fail-safe lock and does nothing to a fail-secure one (simulation spec).
            self.doors[door.index()].last_permit = Some(now);
            if !cuts_power {
                return;
            }
            let hold = device
                .hold_seconds
                .map_or(self.unlock_millis(door), seconds_to_millis);
            let state = &mut self.doors[door.index()];
            state.last_permit = Some(now);
            state.power_cut_until =
                Some(state.power_cut_until.map_or(now.saturating_add(hold), |u| {
                    u.max(now.saturating_add(hold))
                }));
            self.push_timer(now.saturating_add(hold), Timer::Door(door));
            self.refresh_door(door);
        } else if self.alive {
            // Wired to the controller, it is a request to exit.
            self.log(Event::door(now, EventKind::Rex, door));
            self.release_for(door, now.saturating_add(self.unlock_millis(door)));
        }
    }

    fn door_open(&mut self, door: DoorIdx, found_open: bool) {
        let now = self.now;
        let site_door = self.site.door(door);
        let unlock = seconds_to_millis(site_door.unlock_seconds);
        let held = seconds_to_millis(site_door.held_open_seconds);
        let has_lock = site_door.lock.is_some();
        let state = &mut self.doors[door.index()];
        if state.open {
            return;
        }
        state.open = true;
        state.open_since = Some(now);
        let permitted = state.last_permit.is_some_and(|at| now - at <= unlock);
        let entering = state.last_entry.is_some_and(|at| now - at <= unlock);
        let forced =
            has_lock && state.position == LockPosition::Locked && !permitted && !found_open;
        if forced && self.alive {
            state.alarm = Some(Alarm::Forced);
        }
        self.log(Event::door(now, EventKind::DoorOpened, door));
        if forced {
            self.log(Event::door(now, EventKind::DoorForced, door));
        }
        if !entering {
            // Opened from the inside (free egress), or by someone nobody saw.
            self.unseen_exit(door);
        }
        self.push_timer(now.saturating_add(held), Timer::Door(door));
    }

    fn door_close(&mut self, door: DoorIdx) {
        let now = self.now;
        let state = &mut self.doors[door.index()];
        if !state.open {
            return;
        }
        state.open = false;
        state.open_since = None;
        let had_alarm = state.alarm.take().is_some();
        self.log(Event::door(now, EventKind::DoorClosed, door));
        if had_alarm {
            self.log(Event::door(now, EventKind::AlarmCleared, door));
        }
    }

    /// After a change of power inputs: the new timeline, the controller's own power, the
    /// event that caused it, then every door.
    ///
    /// A power event is logged when the controller is alive before or after it: a controller
    /// losing its own power logs that as its last event, and one coming back logs why.
    fn power_changed(&mut self, cause: Option<Event>) {
        let was_alive = self.alive;
        self.timeline = PowerTimeline::new(&self.site, &self.power);
        self.alive = self.timeline.is_live(self.site.controller_power, self.now);
        if let Some(event) = cause
            && (was_alive || self.alive)
        {
            self.events.push(event);
        }
        self.push_power_timer();
        self.refresh_all_doors();
    }

    fn push_power_timer(&mut self) {
        let now = self.now;
        if let Some(next) = self.timeline.down_instants().into_iter().find(|t| *t > now) {
            self.push_timer(next, Timer::Power);
        }
    }

    /// A circuit goes down now: batteries that ran out are logged (a circuit cut by the fire
    /// alarm logs nothing), then every door is looked at again.
    fn power_timer(&mut self) {
        let now = self.now;
        // The controller sees its own battery run out: it logs that before it stops.
        let was_alive = self.alive;
        self.alive = self.timeline.is_live(self.site.controller_power, now);
        let mut depleted = Vec::new();
        for (i, circuit) in self.site.circuits.iter().enumerate() {
            let idx = CircuitIdx(i as u32);
            let ran_out = circuit.battery_minutes > 0.0
                && self.timeline.down_at(idx) == Some(now)
                && self
                    .timeline
                    .feed_down_at(idx)
                    .map(|t| t.saturating_add(circuit.battery_millis()))
                    == Some(now);
            if ran_out {
                depleted.push(idx);
            }
        }
        if was_alive {
            for circuit in depleted {
                self.events.push(Event {
                    circuit: Some(circuit),
                    ..Event::new(now, EventKind::BatteryDepleted)
                });
            }
        }
        self.push_power_timer();
        self.refresh_all_doors();
    }

    fn refresh_schedule(&mut self, schedule_idx: ScheduleIdx) {
        let schedule = &self.site.schedules[schedule_idx.index()];
        let zone = &self.site.info.timezone;
        let wall = self.now.saturating_add(self.wall_offset);
        let active = schedule::is_active(schedule, zone, wall);
        let next = schedule::next_boundary(schedule, zone, wall)
            .map(|at| at.saturating_sub(self.wall_offset));
        let changed = self.schedule_active[schedule_idx.index()] != active;
        self.schedule_active[schedule_idx.index()] = active;
        self.schedule_due[schedule_idx.index()] = next;
        if let Some(next) = next {
            self.push_timer(next, Timer::Schedule(schedule_idx));
        }
        if changed {
            for i in 0..self.doors_by_schedule[schedule_idx.index()].len() {
                let door = self.doors_by_schedule[schedule_idx.index()][i];
                self.refresh_door(door);
            }
        }
    }

    fn refresh_all_doors(&mut self) {
        for i in 0..self.doors.len() {
            self.refresh_door(DoorIdx(i as u32));
        }
    }

    /// Looks at one door again: expires what is due, computes the command from the whole
    /// state, the position from power, and logs what changed.
    fn refresh_door(&mut self, door: DoorIdx) {
        let now = self.now;
        let site = Arc::clone(&self.site);
        let site_door = site.door(door);
        let unlock = seconds_to_millis(site_door.unlock_seconds);
        let held_open = seconds_to_millis(site_door.held_open_seconds);
        let alive = self.alive;
        let effect = self.mode_effect(door);
        // The fire alarm cut the lock's supply (`fire_alarm_cutoff`): said as its reason.
        let fire_cut = self.fire_alarm
            && site_door
                .lock
                .as_ref()
                .is_some_and(|lock| self.fire_alarm_cuts(lock.power));
        let state = &mut self.doors[door.index()];
        let expire = |slot: &mut Option<Millis>| {
            if slot.is_some_and(|until| until <= now) {
                *slot = None;
            }
        };
        expire(&mut state.granted_until);
        expire(&mut state.responder_until);
        expire(&mut state.release_until);
        expire(&mut state.power_cut_until);
        let mut events = Vec::new();
        if state.hold_until.is_some_and(|until| until <= now) {
            state.hold_until = None;
            state.operator_hold = None;
            if alive {
                events.push(Event::door(now, EventKind::HoldEnded, door));
            }
        }
        let mut new_timer = None;
        if let Some(at) = state.delayed_release_at
            && at <= now
        {
            // The delay has run: the lock releases itself (for a fail-safe lock, by opening its
            // own power path), and the controller holds it open.
            state.delayed_release_at = None;
            if site_door
                .lock
                .as_ref()
                .is_some_and(|lock| power_cut_unlocks(lock.fail))
            {
                state.power_cut_until = Some(at.saturating_add(unlock));
            }
            if alive {
                state.release_until = Some(at.saturating_add(unlock));
            }
            new_timer = Some(at.saturating_add(unlock));
        }

        let inputs = CommandInputs {
            fire_alarm_release: self.fire_alarm && site_door.release.fire_alarm,
            mode_release: effect.releases,
            egress_release: state.release_until.is_some(),
            emergency_override: state.emergency_override || state.responder_until.is_some(),
            lockdown: effect.locks,
            operator_hold: state.operator_hold,
            schedule_active: site_door
                .schedule
                .is_some_and(|s| self.schedule_active[s.index()]),
            access_granted: state.granted_until.is_some(),
        };
        let (command, rule) = decide(&inputs);
        let (position, powered, reason) = match &site_door.lock {
            Some(lock) => {
                let live = self.timeline.is_live(lock.power, now);
                let cut = state.power_cut_until.is_some();
                let physical = lock_state(lock.fail, live, relay_energized(alive, command), cut);
                let reason = if !alive {
                    Reason::ControllerDead
                } else if !live && fire_cut {
                    Reason::Rule(Rule::FireAlarm)
                } else if !live {
                    Reason::NoPower
                } else if cut && power_cut_unlocks(lock.fail) {
                    Reason::PowerCut
                } else {
                    Reason::Rule(rule)
                };
                (physical.position, physical.powered, reason)
            }
            None => (LockPosition::Unlocked, false, Reason::NoLock),
        };
        state.command = command;
        state.reason = reason;
        state.position = position;
        state.powered = powered;

        if alive && position != state.logged_position {
            state.logged_position = position;
            let kind = match position {
                LockPosition::Unlocked => EventKind::DoorUnlocked,
                LockPosition::Locked => EventKind::DoorLocked,
            };
            events.push(Event::door(now, kind, door));
        }
        // Held open: counted from door_open; not while the door is held unlocked by a
        // schedule, an operator or the fire alarm.
        let held_unlocked = inputs.fire_alarm_release
            || inputs.mode_release
            || inputs.emergency_override
            || (!inputs.lockdown
                && (inputs.operator_hold == Some(Command::Unlock)
                    || (inputs.operator_hold.is_none() && inputs.schedule_active)));
        if alive
            && state.open
            && state.alarm.is_none()
            && !held_unlocked
            && state
                .open_since
                .is_some_and(|since| now - since >= held_open)
        {
            state.alarm = Some(Alarm::HeldOpen);
            events.push(Event::door(now, EventKind::DoorHeldOpen, door));
        }
        // The lock's status contact against the position it should be in. A dead controller
        // reads no contact.
        let mut fault_check = None;
        if let Some(locked) = state.sensed_locked
            && alive
        {
            if locked == (position == LockPosition::Locked) {
                state.disagrees_since = None;
                if std::mem::take(&mut state.lock_fault) {
                    events.push(Event::door(now, EventKind::LockFaultCleared, door));
                }
            } else if !state.lock_fault {
                let since = *state.disagrees_since.get_or_insert(now);
                if now - since >= LOCK_SETTLE_MILLIS {
                    state.lock_fault = true;
                    events.push(Event::door(now, EventKind::LockFault, door));
                } else {
                    fault_check = Some(since + LOCK_SETTLE_MILLIS);
                }
            }
        }
        self.events.extend(events);
        for at in [new_timer, fault_check].into_iter().flatten() {
            self.push_timer(at, Timer::Door(door));
        }
    }
}

/// Seconds from the site file to milliseconds.
pub fn seconds_to_millis(seconds: f64) -> Millis {
    (seconds * 1000.0).round() as Millis
}
