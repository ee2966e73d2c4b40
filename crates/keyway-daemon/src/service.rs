//! The running controller: one task owns the core `Controller`, takes inputs from the API and
//! the hardware, fires its timers on the monotonic clock (schedules on the wall clock, see
//! `clock`), drives the outputs, and hands every event to the writer.
//!
//! Life safety before storage: an input acts on the controller and the relays first; its
//! events, and the latched state it changes (a fire alarm, a lockdown, an operator hold),
//! go to the writer afterwards, in one transaction, retried until they land. A caller gets
//! the decision at once and its events once durable, or, when they are not durable within
//! `DURABLE_WITHIN_MILLIS`, the decision with `NotDurable`.

use std::sync::Arc;

use keyway_core::Site;
use keyway_core::controller::{Alarm, Controller, Detail, Event, EventKind, Input};
use keyway_core::credentials::{AccessLevel, CredentialStore, DoorScope, LevelIdx, NewCredential};
use keyway_core::emergency::Mode;
use keyway_core::physics::{Command, LockPosition, Millis, relay_energized};
use keyway_core::site::{AreaIdx, CircuitIdx, DoorIdx, Schedule, ScheduleIdx};
use keyway_store::{
    CredentialRow, LevelChange, LevelOutcome, NewEvent, ScheduleChange, StoreError, StoredEvent,
};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::hardware::Outputs;
use crate::storage::StateChange;
use crate::writer::{Job, NotDurable, Writer, WriterStopped};

/// How long a caller waits for its events to be durable before it is answered without.
pub const DURABLE_WITHIN_MILLIS: Millis = 2_000;

/// How far the wall clock may drift from the controller's clock before the controller is
/// told (a step of the wall clock re-reads the schedules).
const WALL_STEP_MILLIS: Millis = 1_000;

/// The controller's clock: the monotonic clock moved to read the wall time of boot.
#[derive(Clone, Debug)]
struct ControllerClock {
    clock: Arc<dyn Clock>,
    base: Millis,
}

impl ControllerClock {
    fn new(clock: Arc<dyn Clock>) -> ControllerClock {
        let base = clock.wall().saturating_sub(clock.monotonic());
        ControllerClock { clock, base }
    }

    fn now(&self) -> Millis {
        self.clock.monotonic().saturating_add(self.base)
    }

    /// The wall clock minus the controller's clock.
    fn wall_offset(&self) -> Millis {
        self.clock.wall().saturating_sub(self.now())
    }

    fn sleep_until(&self, at: Millis) -> crate::clock::Sleep {
        self.clock.sleep_until(at.saturating_sub(self.base))
    }
}

/// One door as the API shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DoorSnapshot {
    pub id: String,
    pub name: String,
    pub lock: LockPosition,
    pub open: bool,
    pub alarm: Option<Alarm>,
    /// The lock's status contact disagrees with its expected position (see `lock_fault`).
    pub lock_fault: bool,
    pub powered: bool,
    /// What the controller commands: `unlocked` or `locked`.
    pub command: &'static str,
    /// Why the lock is where it is: `fire_alarm`, `egress_release`, `emergency_override`,
    /// `lockdown`, `operator_hold`, `schedule`, `access_granted`, `locked` (the rule that
    /// gives the command), or `no_lock`, `controller_dead`, `no_power`, `power_cut`.
    pub reason: keyway_core::controller::Reason,
    /// The operator's hold, `unlock` or `lock`, whether or not it decides now.
    pub hold: Option<&'static str>,
    /// When a timed hold ends: local time with its offset in the site's zone.
    pub hold_until: Option<String>,
    /// The relay driving the lock is energized.
    pub relay: bool,
    pub inside: String,
    pub outside: String,
    pub reader: bool,
}

/// One circuit as the API shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CircuitSnapshot {
    pub id: String,
    pub name: String,
    pub live: bool,
    pub fed_by: Option<String>,
    /// Its feed is down and it runs on its battery.
    pub on_battery: bool,
    /// Seconds of battery left, while on battery.
    pub battery_seconds_left: Option<f64>,
}

/// The whole controller at one moment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Snapshot {
    pub at: Millis,
    pub controller_alive: bool,
    pub lockdown: bool,
    /// The emergency mode in force: `none`, `hold`, `secure`, `lockdown`, `evacuate`,
    /// `shelter`.
    pub mode: Mode,
    /// Its areas; `null` for the whole site.
    pub mode_areas: Option<Vec<String>>,
    pub fire_alarm: bool,
    pub doors: Vec<DoorSnapshot>,
    pub circuits: Vec<CircuitSnapshot>,
}

/// Where an input, and the events it causes, came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A card reader on a bus, or a wired Wiegand reader.
    Reader,
    /// A wired contact: a door position switch, REX, the fire alarm panel, a button.
    Contact,
    /// An operator's command through the API.
    Api,
    /// The simulated hardware (`/api/sim/*`).
    Sim,
    /// A schedule's boundary, or the schedule read again after the wall clock stepped.
    Schedule,
    /// A timer running out (an unlock, a battery, a held-open delay).
    Timer,
    /// Start-up: the latched state restored.
    Boot,
    /// A command from the MQTT broker (`--mqtt-commands`).
    Mqtt,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Reader => "reader",
            Source::Contact => "contact",
            Source::Api => "api",
            Source::Sim => "sim",
            Source::Schedule => "schedule",
            Source::Timer => "timer",
            Source::Boot => "boot",
            Source::Mqtt => "mqtt",
        }
    }
}

/// The source of an input and who caused it (the token's name for `api` and `sim`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub source: Source,
    pub actor: Option<String>,
}

impl Origin {
    pub fn new(source: Source) -> Origin {
        Origin {
            source,
            actor: None,
        }
    }

    pub fn by(source: Source, actor: impl Into<String>) -> Origin {
        Origin {
            source,
            actor: Some(actor.into()),
        }
    }
}

/// What the service answers when it cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the controller has stopped")]
    Stopped,
    /// The input was applied (the doors moved); its events are not durable yet.
    #[error("{}", .reason.reason)]
    NotDurable {
        events: Vec<NewEvent>,
        reason: NotDurable,
    },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Credential(String),
}

impl From<WriterStopped> for ServiceError {
    fn from(_: WriterStopped) -> Self {
        ServiceError::Stopped
    }
}

type DurableAnswer = oneshot::Receiver<Result<Vec<StoredEvent>, NotDurable>>;

/// An input taken by the controller: the events it caused (the decision, the doors that
/// moved) and, when there was anything to write, where their durability will be told.
#[derive(Debug)]
pub struct Accepted {
    pub events: Vec<NewEvent>,
    pub durable: Option<DurableAnswer>,
}

enum Request {
    Input {
        input: Input,
        origin: Origin,
        reply: oneshot::Sender<Accepted>,
    },
    /// An event of the daemon's own, logged in order with the controller's.
    Log {
        event: NewEvent,
        state: Vec<StateChange>,
        reply: oneshot::Sender<Accepted>,
    },
    Snapshot {
        reply: oneshot::Sender<Snapshot>,
    },
    People {
        reply: oneshot::Sender<crate::people::PeopleSnapshot>,
    },
    /// Where people were before the restart, brought back before any input.
    RestorePeople {
        changes: Vec<keyway_core::people::PeopleChange>,
        used: Vec<(String, u32)>,
    },
    PutCredential {
        credential: NewCredential,
    },
    PutLevel {
        at: LevelIdx,
        level: AccessLevel,
    },
    PutSchedule {
        at: ScheduleIdx,
        schedule: Schedule,
    },
    DeleteCredential {
        number: String,
    },
}

/// What the device threads say of their devices, for `/healthz`: a problem per device (a bus
/// whose serial device cannot be opened, a GPIO chip whose lines cannot be read), removed
/// when it is solved.
#[derive(Debug, Default)]
pub struct DeviceHealth {
    problems: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl DeviceHealth {
    pub fn failing(&self, device: &str, problem: impl Into<String>) {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(device.to_string(), problem.into());
    }

    pub fn healthy(&self, device: &str) {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(device);
    }

    /// Every device with a problem, and the problem.
    pub fn problems(&self) -> Vec<(String, String)> {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(device, problem)| (device.clone(), problem.clone()))
            .collect()
    }
}

/// A handle on the running controller, cloned into every API handler.
#[derive(Clone, Debug)]
pub struct Service {
    site: Arc<Site>,
    /// The ids credentials name; access levels change while the daemon runs.
    ids: Arc<std::sync::RwLock<SiteIds>>,
    requests: mpsc::Sender<Request>,
    writer: Writer,
    clock: Arc<dyn Clock>,
    devices: Arc<DeviceHealth>,
    readers: Arc<crate::readers::Registry>,
}

/// The controller task's own state.
struct Task {
    controller: Controller,
    time: ControllerClock,
    writer: Writer,
    outputs: Box<dyn Outputs>,
    relays: Vec<bool>,
}

impl Task {
    /// Fires the timers due by now, each batch of events with its source, and tells the
    /// controller about a step of the wall clock.
    fn catch_up(&mut self) {
        let now = self.time.now();
        while let Some(at) = self.controller.next_timer().filter(|at| *at <= now) {
            let source = if self.controller.next_timer_is_schedule() {
                Source::Schedule
            } else {
                Source::Timer
            };
            self.controller.advance(at);
            self.flush(&Origin::new(source), Vec::new());
        }
        self.controller.advance(now);
        self.flush(&Origin::new(Source::Timer), Vec::new());
        let offset = self.time.wall_offset();
        if (offset - self.controller.wall_offset()).abs() >= WALL_STEP_MILLIS {
            tracing::info!(
                step_ms = offset - self.controller.wall_offset(),
                "the wall clock stepped; schedules read again"
            );
            self.controller.set_wall_offset(offset);
            self.flush(&Origin::new(Source::Schedule), Vec::new());
        }
    }

    /// Drives the outputs to the controller's state, then hands `own` events and the
    /// controller's to the writer, for nobody to wait on (timers, boot).
    fn flush(&mut self, origin: &Origin, own: Vec<NewEvent>) {
        let events = self.drive_and_take(origin, own);
        let state = ended_holds(self.controller.site(), &events);
        if !events.is_empty()
            && self
                .writer
                .send(Job::Commit {
                    events,
                    state,
                    reply: None,
                })
                .is_err()
        {
            tracing::error!("events could not be handed to the writer: it has stopped");
        }
    }

    /// Drives the outputs to the controller's state; returns `own` events followed by the
    /// controller's.
    fn drive_and_take(&mut self, origin: &Origin, mut events: Vec<NewEvent>) -> Vec<NewEvent> {
        let alive = self.controller.alive();
        for door in self.controller.site().door_indices() {
            let status = self.controller.door_status(door);
            let energized = self.controller.site().door(door).lock.is_some()
                && relay_energized(alive, status.command);
            if self.relays[door.index()] != energized {
                self.relays[door.index()] = energized;
                self.outputs.set_relay(door, energized);
            }
        }
        events.extend(
            self.controller
                .take_events()
                .iter()
                .map(|e| to_new_event(self.controller.site(), e, origin)),
        );
        events
    }

    /// `flush` for a caller that waits: with `state` in the same transaction, and the events
    /// returned with where their durability will be told.
    fn flush_with(
        &mut self,
        origin: &Origin,
        own: Vec<NewEvent>,
        state: Vec<StateChange>,
    ) -> Accepted {
        let events = self.drive_and_take(origin, own);
        // A hold that ended on the way comes first: a new one in this batch wins.
        let mut ended = ended_holds(self.controller.site(), &events);
        ended.extend(state);
        let state = ended;
        if events.is_empty() && state.is_empty() {
            return Accepted {
                events,
                durable: None,
            };
        }
        let (reply, durable) = oneshot::channel();
        let job = Job::Commit {
            events: events.clone(),
            state,
            reply: Some(reply),
        };
        if self.writer.send(job).is_err() {
            tracing::error!("events could not be handed to the writer: it has stopped");
        }
        Accepted {
            events,
            durable: Some(durable),
        }
    }
}

/// `operator_hold` for an operator's unlock, lock, timed hold, release or momentary unlock
/// of a door.
fn hold_event(site: &Site, input: &Input, at: Millis, origin: &Origin) -> Option<NewEvent> {
    let command = OperatorCommand::of(input)?;
    Some(NewEvent {
        at,
        kind: "operator_hold".to_string(),
        door: Some(site.door(command.door).id.clone()),
        detail: Some(command.describe(site)),
        source: Some(origin.source.name().to_string()),
        actor: origin.actor.clone(),
        ..NewEvent::default()
    })
}

/// The latched state brought back at start, in words for `controller_started`.
fn describe_restored(site: &Site, restore: &[Input]) -> String {
    let parts: Vec<String> = restore
        .iter()
        .filter_map(|input| match input {
            Input::FireAlarm => Some("fire alarm not reset".to_string()),
            Input::Lockdown => Some("lockdown".to_string()),
            Input::Emergency { mode, areas } => Some(match areas {
                None => format!("emergency mode {}", mode.name()),
                Some(areas) => format!(
                    "emergency mode {} in {}",
                    mode.name(),
                    areas
                        .iter()
                        .map(|a| site.area(*a).id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            _ => OperatorCommand::of(input).map(|command| {
                format!(
                    "hold {} {}",
                    command.describe(site),
                    site.door(command.door).id
                )
            }),
        })
        .collect();
    if parts.is_empty() {
        "nothing".to_string()
    } else {
        parts.join(", ")
    }
}

/// The latched state an input changed, stored with its events so that a restart restores
/// it: read from the controller after the input, not from the input, so that a refused
/// reset (the panel still in alarm) leaves the stored alarm in place.
fn latch(
    controller: &Controller,
    (fire_before, mode_before): (bool, ModeInForce),
    mut holds: Vec<StateChange>,
) -> Vec<StateChange> {
    let set = |key: &str, on: bool, value: &str| (key.to_string(), on.then(|| value.to_string()));
    if controller.fire_alarm() != fire_before {
        holds.push(set("fire_alarm", controller.fire_alarm(), "active"));
    }
    let mode = mode_in_force(controller);
    if mode != mode_before {
        // A lockdown of the whole site is stored as it always was (`lockdown`); any other
        // mode as `emergency` = `MODE` or `MODE AREA,AREA`.
        let whole_lockdown = mode == (Mode::Lockdown, None);
        holds.push(set("lockdown", whole_lockdown, "1"));
        let value = match &mode {
            (Mode::None, _) => None,
            _ if whole_lockdown => None,
            (mode, None) => Some(mode.name().to_string()),
            (mode, Some(areas)) => Some(format!(
                "{} {}",
                mode.name(),
                areas
                    .iter()
                    .map(|a| controller.site().area(*a).id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        };
        holds.push(("emergency".to_string(), value));
    }
    holds
}

/// The emergency mode in force and its areas (`None`: the whole site).
type ModeInForce = (Mode, Option<Vec<AreaIdx>>);

fn mode_in_force(controller: &Controller) -> ModeInForce {
    (controller.mode(), controller.mode_areas())
}

/// A stored `emergency` value as the input that restores it; areas the site no longer has
/// are left out, and a mode left with none of its areas is not restored.
pub fn parse_emergency(site: &Site, value: &str) -> Option<Input> {
    let (mode, areas) = match value.split_once(' ') {
        Some((mode, areas)) => (mode, Some(areas)),
        None => (value, None),
    };
    let mode = Mode::from_name(mode)?;
    let areas = match areas {
        None => None,
        Some(list) => {
            let areas: Vec<AreaIdx> = list
                .split(',')
                .filter_map(|id| site.find_area(id))
                .collect();
            if areas.is_empty() {
                return None;
            }
            Some(areas)
        }
    };
    Some(Input::Emergency { mode, areas })
}

/// The key of a door's stored operator hold.
pub fn hold_key(site: &Site, door: DoorIdx) -> String {
    format!("hold:{}", site.door(door).id)
}

/// An operator hold is stored as commanded, whether or not a higher rule outranks it now:
/// `unlock`, `lock`, or `unlock until MS` / `lock until MS` (the end on the wall clock). A
/// momentary unlock changes no hold.
fn hold_latch(site: &Site, input: &Input) -> Vec<StateChange> {
    let value = match input {
        Input::Unlock { .. } => Some("unlock".to_string()),
        Input::Lock { .. } => Some("lock".to_string()),
        Input::HoldUntil { command, until, .. } => {
            Some(format!("{} until {until}", command_name(*command)))
        }
        Input::Release { .. } => None,
        _ => return Vec::new(),
    };
    OperatorCommand::of(input)
        .map(|command| (hold_key(site, command.door), value))
        .into_iter()
        .collect()
}

/// A timed hold that ended by itself is no longer stored.
fn ended_holds(site: &Site, events: &[NewEvent]) -> Vec<StateChange> {
    events
        .iter()
        .filter(|event| event.kind == EventKind::HoldEnded.name())
        .filter_map(|event| event.door.as_deref().and_then(|id| site.find_door(id)))
        .map(|door| (hold_key(site, door), None))
        .collect()
}

fn command_name(command: Command) -> &'static str {
    match command {
        Command::Unlock => "unlock",
        Command::Lock => "lock",
    }
}

/// An operator's command to one door, as the log tells it.
struct OperatorCommand {
    door: DoorIdx,
    what: OperatorWhat,
}

enum OperatorWhat {
    Hold(Command),
    HoldUntil(Command, Millis),
    Release,
    Momentary,
    MomentaryEnd,
}

impl OperatorCommand {
    fn of(input: &Input) -> Option<OperatorCommand> {
        let (door, what) = match input {
            Input::Unlock { door } => (*door, OperatorWhat::Hold(Command::Unlock)),
            Input::Lock { door } => (*door, OperatorWhat::Hold(Command::Lock)),
            Input::HoldUntil {
                door,
                command,
                until,
            } => (*door, OperatorWhat::HoldUntil(*command, *until)),
            Input::Release { door } => (*door, OperatorWhat::Release),
            Input::MomentaryUnlock { door } => (*door, OperatorWhat::Momentary),
            Input::MomentaryEnd { door } => (*door, OperatorWhat::MomentaryEnd),
            _ => return None,
        };
        Some(OperatorCommand { door, what })
    }

    /// `unlock`, `lock`, `unlock until 2026-12-02T17:00:00.000-06:00`, `release`, `momentary`,
    /// `momentary end`.
    fn describe(&self, site: &Site) -> String {
        match self.what {
            OperatorWhat::Hold(command) => command_name(command).to_string(),
            OperatorWhat::HoldUntil(command, until) => format!(
                "{} until {}",
                command_name(command),
                crate::clock::time_in(&site.info.timezone, until)
            ),
            OperatorWhat::Release => "release".to_string(),
            OperatorWhat::Momentary => "momentary".to_string(),
            OperatorWhat::MomentaryEnd => "momentary end".to_string(),
        }
    }
}

impl Service {
    /// Starts the controller task at the clock's current time. `restore` are inputs that
    /// bring back the latched state; they are applied before anything else is taken.
    pub fn start(
        site: Arc<Site>,
        credentials: CredentialStore,
        levels: Vec<AccessLevel>,
        writer: Writer,
        mut outputs: Box<dyn Outputs>,
        restore: Vec<Input>,
        clock: Arc<dyn Clock>,
    ) -> Service {
        // Boot safety: every output at rest before the controller runs (no relay pulse).
        for door in site.door_indices() {
            outputs.set_relay(door, false);
        }
        let (requests, mut queue) = mpsc::channel::<Request>(1024);
        let ids = Arc::new(std::sync::RwLock::new(SiteIds::new(&site, &levels)));
        let time = ControllerClock::new(Arc::clone(&clock));
        let mut controller = Controller::new(Arc::clone(&site), credentials, levels, time.now());
        // Where people are is stored with the events that move them.
        controller.keep_people_changes();
        controller.keep_use_changes();
        let mut task = Task {
            relays: vec![false; controller.site().doors.len()],
            controller,
            time,
            writer: writer.clone(),
            outputs,
        };
        let controller_task = tokio::spawn(async move {
            let restored = describe_restored(task.controller.site(), &restore);
            for input in restore {
                let now = task.time.now();
                task.controller.handle(now, input);
            }
            // One `controller_started` with what was restored, instead of logging the
            // restored lockdown or fire alarm again as if they had just begun; the doors that
            // moved from rest are logged, since they did move.
            task.controller.retain_events(|kind| {
                matches!(kind, EventKind::DoorUnlocked | EventKind::DoorLocked)
            });
            // A restored fire alarm forgives everyone again; what was stored says so already.
            task.controller.take_people_changes();
            let started = NewEvent {
                at: task.time.clock.wall(),
                kind: "controller_started".to_string(),
                source: Some(Source::Boot.name().to_string()),
                detail: Some(format!(
                    "keyway {}; restored: {restored}",
                    env!("CARGO_PKG_VERSION")
                )),
                ..NewEvent::default()
            };
            task.flush(&Origin::new(Source::Boot), vec![started]);
            loop {
                // The next timer, and at least once a second a look at the wall clock.
                let tick = task.time.now().saturating_add(WALL_STEP_MILLIS);
                let deadline = task.controller.next_timer().map_or(tick, |at| at.min(tick));
                tokio::select! {
                    request = queue.recv() => {
                        let Some(request) = request else { break };
                        task.catch_up();
                        match request {
                            Request::Input { input, origin, reply } => {
                                let before = (task.controller.fire_alarm(), mode_in_force(&task.controller));
                                // An operator's hold is logged with who set it, whether or
                                // not a higher rule (a lockdown, the fire alarm) lets it
                                // move the door now.
                                let own = hold_event(task.controller.site(), &input, task.time.clock.wall(), &origin);
                                let holds = hold_latch(task.controller.site(), &input);
                                let now = task.time.now();
                                task.controller.handle(now, input);
                                let mut state = latch(&task.controller, before, holds);
                                let people = task.controller.take_people_changes();
                                state.extend(crate::people::state_changes(task.controller.site(), people));
                                state.extend(task.controller.take_use_changes().into_iter().map(|(credential, used)| (format!("used:{credential}"), Some(used.to_string()))));
                                let _ = reply.send(task.flush_with(&origin, own.into_iter().collect(), state));
                            }
                            Request::Log { event, state, reply } => {
                                // The controller was just caught up: it has no events of its
                                // own pending, so the batch is this one event, in its place.
                                let origin = Origin::new(Source::Timer);
                                let _ = reply.send(task.flush_with(&origin, vec![event], state));
                            }
                            Request::Snapshot { reply } => {
                                let _ = reply.send(snapshot(&task.controller, &task.relays));
                            }
                            Request::People { reply } => {
                                let _ = reply.send(crate::people::snapshot(&task.controller));
                            }
                            Request::RestorePeople { changes, used } => {
                                task.controller.restore_people(changes);
                                task.controller.restore_uses(used);
                            }
                            Request::PutCredential { credential } => {
                                if let Err(error) = task.controller.credentials_mut().insert(credential) {
                                    tracing::warn!(%error, "credential not loaded into the controller");
                                }
                            }
                            Request::PutLevel { at, level } => task.controller.put_level(at, level),
                            Request::PutSchedule { at, schedule } => {
                                task.controller.put_schedule(at, schedule);
                                // A door the change moved is driven and logged now.
                                task.flush(&Origin::new(Source::Schedule), Vec::new());
                            }
                            Request::DeleteCredential { number } => {
                                task.controller.credentials_mut().remove(&number);
                            }
                        }
                    }
                    _ = task.time.sleep_until(deadline) => task.catch_up(),
                }
            }
            // Shutting down: every relay back at rest.
            for door in task.controller.site().door_indices() {
                task.outputs.set_relay(door, false);
            }
        });
        // Supervision: a controller that panicked must not leave a daemon that answers but
        // drives nothing. The process ends, and its restart puts every relay at rest (boot
        // safety) before restoring the latched state.
        tokio::spawn(async move {
            if let Err(error) = controller_task.await
                && error.is_panic()
            {
                tracing::error!("the controller task panicked; stopping the process");
                std::process::abort();
            }
        });
        Service {
            site,
            ids,
            requests,
            writer,
            clock,
            devices: Arc::new(DeviceHealth::default()),
            readers: Arc::new(crate::readers::Registry::default()),
        }
    }

    /// What the device threads report of their devices.
    pub fn devices(&self) -> &DeviceHealth {
        &self.devices
    }

    /// The real readers, as their bus threads last saw them.
    pub fn reader_registry(&self) -> &crate::readers::Registry {
        &self.readers
    }

    /// The clock the controller runs on.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub fn site(&self) -> &Site {
        &self.site
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Applies an input at once, then waits (at most `DURABLE_WITHIN_MILLIS`) for its events
    /// to be durable.
    pub async fn input(
        &self,
        input: Input,
        origin: Origin,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Input {
                input,
                origin,
                reply,
            })
            .await
            .map_err(|_| ServiceError::Stopped)?;
        let accepted = answer.await.map_err(|_| ServiceError::Stopped)?;
        self.durable(accepted).await
    }

    /// Waits for an accepted input's events to be durable, on the service's clock.
    pub async fn durable(&self, accepted: Accepted) -> Result<Vec<StoredEvent>, ServiceError> {
        let Some(mut durable) = accepted.durable else {
            return Ok(Vec::new());
        };
        let deadline = self.clock.monotonic().saturating_add(DURABLE_WITHIN_MILLIS);
        loop {
            tokio::select! {
                answer = &mut durable => {
                    return match answer {
                        Ok(Ok(stored)) => Ok(stored),
                        Ok(Err(reason)) => Err(ServiceError::NotDurable { events: accepted.events, reason }),
                        Err(_) => Err(ServiceError::Stopped),
                    };
                }
                _ = self.clock.sleep_until(deadline) => {
                    if self.clock.monotonic() >= deadline {
                        return Err(ServiceError::NotDurable {
                            events: accepted.events,
                            reason: NotDurable {
                                reason: format!(
                                    "the events were not durable within {} ms (storage is slow); they are queued",
                                    DURABLE_WITHIN_MILLIS
                                ),
                            },
                        });
                    }
                }
            }
        }
    }

    /// Hands an input to the controller from a thread outside the runtime, in order, without
    /// waiting: the outputs move as soon as the controller takes it, and the receiver gets
    /// the decision at once (durability follows in `Accepted::durable`). For the device
    /// threads, which must not stall on a commit.
    pub fn submit(
        &self,
        input: Input,
        origin: Origin,
    ) -> Result<oneshot::Receiver<Accepted>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .blocking_send(Request::Input {
                input,
                origin,
                reply,
            })
            .map_err(|_| ServiceError::Stopped)?;
        Ok(answer)
    }

    /// Who is where now: occupancy and, during a fire alarm, who is still to muster.
    pub async fn people(&self) -> Result<crate::people::PeopleSnapshot, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::People { reply })
            .await
            .map_err(|_| ServiceError::Stopped)?;
        answer.await.map_err(|_| ServiceError::Stopped)
    }

    /// Brings back where people were before the restart. Called once, at start, before
    /// any device or the API can send an input.
    pub async fn restore_people(
        &self,
        changes: Vec<keyway_core::people::PeopleChange>,
        used: Vec<(String, u32)>,
    ) -> Result<(), ServiceError> {
        self.requests
            .send(Request::RestorePeople { changes, used })
            .await
            .map_err(|_| ServiceError::Stopped)
    }

    pub async fn snapshot(&self) -> Result<Snapshot, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Snapshot { reply })
            .await
            .map_err(|_| ServiceError::Stopped)?;
        answer.await.map_err(|_| ServiceError::Stopped)
    }

    /// Stores credentials durably, then loads them into the controller. For a single row,
    /// says whether it replaced one.
    pub async fn put_credentials(&self, rows: Vec<CredentialRow>) -> Result<bool, ServiceError> {
        let mut credentials = Vec::with_capacity(rows.len());
        for row in &rows {
            credentials
                .push(credential_from_row(&self.ids(), row).map_err(ServiceError::Credential)?);
        }
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::PutCredentials { rows, reply })?;
        let replaced = answer.await.map_err(|_| ServiceError::Stopped)??;
        for credential in credentials {
            self.requests
                .send(Request::PutCredential { credential })
                .await
                .map_err(|_| ServiceError::Stopped)?;
        }
        Ok(replaced)
    }

    /// Logs an event of the daemon's own (who changed a credential or a token), stamped now
    /// and with `origin`, and waits for it to be durable as an input's events are.
    pub async fn log(
        &self,
        kind: &str,
        origin: &Origin,
        credential: Option<String>,
        detail: Option<String>,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        self.log_with_state(kind, origin, credential, detail, Vec::new())
            .await
    }

    /// An event of the daemon's own, stamped now and with `origin`.
    fn own_event(
        &self,
        kind: &str,
        origin: &Origin,
        credential: Option<String>,
        detail: Option<String>,
    ) -> NewEvent {
        NewEvent {
            at: self.clock.wall(),
            kind: kind.to_string(),
            credential,
            detail,
            source: Some(origin.source.name().to_string()),
            actor: origin.actor.clone(),
            ..NewEvent::default()
        }
    }

    /// Logs an event of the daemon's own from a device thread (a reader provisioned), in
    /// order with the inputs, without waiting for it to be durable (the writer keeps it and
    /// retries, as it does an input's events).
    pub fn log_now(&self, kind: &str, origin: &Origin, detail: String) -> Result<(), ServiceError> {
        let event = self.own_event(kind, origin, None, Some(detail));
        let (reply, _answer) = oneshot::channel();
        self.requests
            .blocking_send(Request::Log {
                event,
                state: Vec::new(),
                reply,
            })
            .map_err(|_| ServiceError::Stopped)
    }

    /// `log`, with latched state changed in the same transaction (clearing stale holds).
    pub async fn log_with_state(
        &self,
        kind: &str,
        origin: &Origin,
        credential: Option<String>,
        detail: Option<String>,
        state: Vec<StateChange>,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        let event = self.own_event(kind, origin, credential, detail);
        self.log_event(event, state).await
    }

    /// Logs `event` (stamped by the caller) in order with the inputs, with latched state
    /// changed in the same transaction, and waits for it to be durable as an input's events.
    pub async fn log_event(
        &self,
        event: NewEvent,
        state: Vec<StateChange>,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Log {
                event,
                state,
                reply,
            })
            .await
            .map_err(|_| ServiceError::Stopped)?;
        let accepted = answer.await.map_err(|_| ServiceError::Stopped)?;
        self.durable(accepted).await
    }

    fn ids(&self) -> std::sync::RwLockReadGuard<'_, SiteIds> {
        self.ids.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an access level of this id is loaded.
    pub fn has_level(&self, id: &str) -> bool {
        self.ids().levels.contains_key(id)
    }

    /// Stores an access level change, then applies it to the controller: a new level takes
    /// the next place in the list, a replaced one keeps its place, a removed one leaves a
    /// level that opens nothing in its place (until the next start). A level put is checked
    /// against the site first (`api::levels`).
    pub async fn change_level(&self, change: LevelChange) -> Result<LevelOutcome, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::AccessLevel {
            change: change.clone(),
            reply,
        })?;
        let outcome = answer.await.map_err(|_| ServiceError::Stopped)??;
        let apply = {
            let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
            match (&change, outcome) {
                (LevelChange::Put(row), LevelOutcome::Added | LevelOutcome::Replaced) => {
                    let at = match ids.levels.get(&row.id) {
                        Some(at) => *at,
                        None => {
                            let at = LevelIdx(ids.next_level);
                            ids.next_level += 1;
                            ids.levels.insert(row.id.clone(), at);
                            at
                        }
                    };
                    Some((at, level_from_row(&ids, row)))
                }
                (LevelChange::Delete(id), LevelOutcome::Removed) => {
                    ids.levels.remove(id).map(|at| (at, AccessLevel::none()))
                }
                _ => None,
            }
        };
        if let Some((at, level)) = apply {
            self.requests
                .send(Request::PutLevel { at, level })
                .await
                .map_err(|_| ServiceError::Stopped)?;
        }
        Ok(outcome)
    }

    /// Whether a schedule of this id is in effect (the site file's or the console's).
    pub fn has_schedule(&self, id: &str) -> bool {
        self.ids().schedules.contains_key(id)
    }

    /// Stores a schedule change, then, if the store took it, applies `effect` to the
    /// controller: a schedule put at its place (a new one at the next), or one of the
    /// console's removed (its place never active until the next start).
    pub async fn change_schedule(
        &self,
        change: ScheduleChange,
        effect: ScheduleEffect,
    ) -> Result<LevelOutcome, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::Schedule { change, reply })?;
        let outcome = answer.await.map_err(|_| ServiceError::Stopped)??;
        if !matches!(
            outcome,
            LevelOutcome::Added | LevelOutcome::Replaced | LevelOutcome::Removed
        ) {
            return Ok(outcome);
        }
        let apply = {
            let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
            match effect {
                ScheduleEffect::Put(schedule) => {
                    let at = match ids.schedules.get(&schedule.id) {
                        Some(at) => *at,
                        None => {
                            let at = ScheduleIdx(ids.next_schedule);
                            ids.next_schedule += 1;
                            ids.schedules.insert(schedule.id.clone(), at);
                            at
                        }
                    };
                    Some((at, schedule))
                }
                ScheduleEffect::Remove(id) => ids.schedules.remove(&id).map(|at| {
                    let never = Schedule {
                        id: String::new(),
                        weekly: Vec::new(),
                        holidays: Vec::new(),
                    };
                    (at, never)
                }),
            }
        };
        if let Some((at, schedule)) = apply {
            self.requests
                .send(Request::PutSchedule { at, schedule })
                .await
                .map_err(|_| ServiceError::Stopped)?;
        }
        Ok(outcome)
    }

    /// Removes a credential durably, then from the controller. `false` when there was none.
    pub async fn delete_credential(&self, number: String) -> Result<bool, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::DeleteCredential {
            number: number.clone(),
            reply,
        })?;
        let existed = answer.await.map_err(|_| ServiceError::Stopped)??;
        self.requests
            .send(Request::DeleteCredential { number })
            .await
            .map_err(|_| ServiceError::Stopped)?;
        Ok(existed)
    }
}

fn to_new_event(site: &Site, event: &Event, origin: &Origin) -> NewEvent {
    NewEvent {
        source: Some(origin.source.name().to_string()),
        actor: origin.actor.clone(),
        // What else the event names, in words: `exit reader`, `station ID`, `zone ID`.
        detail: event.detail.map(|detail| match detail {
            Detail::Exit => "exit reader".to_string(),
            Detail::Station(station) => {
                format!("station {}", site.muster_stations[station.index()].id)
            }
            Detail::Zone(zone) => format!("zone {}", site.zone(zone).id),
            Detail::Mode(mode) => format!("mode {}", mode.name()),
        }),
        at: event.at,
        kind: event.kind.name().to_string(),
        door: event.door.map(|d| site.door(d).id.clone()),
        credential: event.credential.clone(),
        reason: event.reason.map(|r| r.name().to_string()),
        circuit: event.circuit.map(|c| site.circuit(c).id.clone()),
    }
}

fn snapshot(controller: &Controller, relays: &[bool]) -> Snapshot {
    let site = controller.site();
    let now = controller.now();
    let doors = site
        .door_indices()
        .map(|d| {
            let door = site.door(d);
            let status = controller.door_status(d);
            DoorSnapshot {
                id: door.id.clone(),
                name: door.name.clone(),
                lock: status.lock,
                open: status.open,
                alarm: status.alarm,
                lock_fault: status.lock_fault,
                powered: status.powered,
                command: match status.command {
                    Command::Unlock => "unlocked",
                    Command::Lock => "locked",
                },
                reason: status.reason,
                hold: status.hold.map(command_name),
                hold_until: status
                    .hold_until
                    .map(|until| crate::clock::time_in(&site.info.timezone, until)),
                relay: relays[d.index()],
                inside: site.area(door.inside).id.clone(),
                outside: site.area(door.outside).id.clone(),
                reader: door.reader.is_some(),
            }
        })
        .collect();
    let timeline = controller.power_timeline();
    let circuits = site
        .circuits
        .iter()
        .enumerate()
        .map(|(i, circuit)| {
            let idx = CircuitIdx(i as u32);
            let live = timeline.is_live(idx, now);
            let on_battery = live && timeline.feed_down_at(idx).is_some_and(|t| t <= now);
            CircuitSnapshot {
                id: circuit.id.clone(),
                name: circuit.name.clone(),
                live,
                fed_by: circuit.fed_by.map(|f| site.circuit(f).id.clone()),
                on_battery,
                battery_seconds_left: on_battery.then(|| {
                    timeline
                        .down_at(idx)
                        .map_or(0.0, |t| (t - now) as f64 / 1000.0)
                }),
            }
        })
        .collect();
    Snapshot {
        at: now,
        controller_alive: controller.alive(),
        lockdown: controller.lockdown(),
        mode: controller.mode(),
        mode_areas: controller
            .mode_areas()
            .map(|areas| areas.into_iter().map(|a| site.area(a).id.clone()).collect()),
        fire_alarm: controller.fire_alarm(),
        doors,
        circuits,
    }
}

/// Ids of a site, for turning stored rows back into indices quickly.
#[derive(Debug)]
pub struct SiteIds {
    doors: std::collections::HashMap<String, DoorIdx>,
    schedules: std::collections::HashMap<String, ScheduleIdx>,
    levels: std::collections::HashMap<String, LevelIdx>,
    /// The place the next new level takes in the controller's list.
    next_level: u32,
    /// The place the next new schedule takes in the site's list.
    next_schedule: u32,
}

impl SiteIds {
    pub fn has_door(&self, id: &str) -> bool {
        self.doors.contains_key(id)
    }

    pub fn new(site: &Site, levels: &[AccessLevel]) -> SiteIds {
        SiteIds {
            doors: site
                .doors
                .iter()
                .enumerate()
                .map(|(i, d)| (d.id.clone(), DoorIdx(i as u32)))
                .collect(),
            schedules: site
                .schedules
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), ScheduleIdx(i as u32)))
                .collect(),
            levels: levels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.id.clone(), LevelIdx(i as u32)))
                .collect(),
            next_level: levels.len() as u32,
            next_schedule: site.schedules.len() as u32,
        }
    }
}

/// What a stored schedule change does to the running controller.
#[derive(Clone, Debug)]
pub enum ScheduleEffect {
    /// This schedule, at the place of its id (a new id takes the next place).
    Put(Schedule),
    /// The console's schedule of this id is gone.
    Remove(String),
}

/// A stored access level in the controller's terms, its doors sorted (the decision searches
/// them). A level is checked against the site before it is stored; a door or schedule the
/// site has since lost is left out, as for credentials.
pub fn level_from_row(ids: &SiteIds, row: &keyway_store::AccessLevelRow) -> AccessLevel {
    AccessLevel {
        id: row.id.clone(),
        doors: match &row.doors {
            None => DoorScope::All,
            Some(list) => {
                let mut doors: Vec<DoorIdx> = list
                    .iter()
                    .filter_map(|id| ids.doors.get(id).copied())
                    .collect();
                doors.sort();
                doors.dedup();
                DoorScope::Doors(doors)
            }
        },
        schedule: row
            .schedule
            .as_ref()
            .and_then(|id| ids.schedules.get(id).copied()),
    }
}

/// A stored credential in the controller's terms. Unknown door or schedule ids are an error:
/// a credential that silently opened fewer or more doors than written would be worse.
pub fn credential_from_row(ids: &SiteIds, row: &CredentialRow) -> Result<NewCredential, String> {
    let doors = match &row.doors {
        None => DoorScope::All,
        Some(list) => DoorScope::Doors(
            list.iter()
                .map(|id| {
                    ids.doors.get(id).copied().ok_or_else(|| {
                        format!("credential {}: the site has no door {id:?}", row.number)
                    })
                })
                .collect::<Result<Vec<DoorIdx>, String>>()?,
        ),
    };
    let schedule = match &row.schedule {
        None => None,
        Some(id) => Some(ids.schedules.get(id).copied().ok_or_else(|| {
            format!("credential {}: the site has no schedule {id:?}", row.number)
        })?),
    };
    let levels = row
        .levels
        .iter()
        .map(|id| {
            ids.levels
                .get(id)
                .copied()
                .ok_or_else(|| format!("credential {}: no access level {id:?}", row.number))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(NewCredential {
        number: row.number.clone(),
        holder: row.holder.clone(),
        doors,
        levels,
        schedule,
        valid_from: row.valid_from,
        valid_until: row.valid_until,
        responder: row.responder,
        disabled: row.disabled,
        staff: row.staff,
        extra: keyway_core::credentials::CredentialExtra {
            pin: row.pin.clone(),
            duress_pin: row.duress_pin.clone(),
            uses: row.uses,
        },
    })
}
