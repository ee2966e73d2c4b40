//! The running controller: one task owns the core `Controller`, takes inputs from the API and
//! the hardware, fires its timers on the monotonic clock (schedules on the wall clock, see
//! `clock`), drives the outputs, and hands every event to the writer. Replies wait until the
//! events are durable.

use std::sync::Arc;

use keyway_core::Site;
use keyway_core::controller::{Alarm, Controller, Event, Input};
use keyway_core::credentials::{AccessLevel, CredentialStore, DoorScope, LevelIdx, NewCredential};
use keyway_core::physics::{Command, LockPosition, Millis, relay_energized};
use keyway_core::site::{CircuitIdx, DoorIdx, ScheduleIdx};
use keyway_store::{CredentialRow, NewEvent, StoredEvent};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::hardware::Outputs;
use crate::writer::{Job, Writer};

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

    /// Tells the controller about a step of the wall clock, then brings it to now.
    fn catch_up(&self, controller: &mut Controller) {
        let offset = self.wall_offset();
        if (offset - controller.wall_offset()).abs() >= WALL_STEP_MILLIS {
            tracing::info!(
                step_ms = offset - controller.wall_offset(),
                "the wall clock stepped; schedules read again"
            );
            controller.advance(self.now());
            controller.set_wall_offset(offset);
        }
        controller.advance(self.now());
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
    pub fire_alarm: bool,
    pub doors: Vec<DoorSnapshot>,
    pub circuits: Vec<CircuitSnapshot>,
}

type EventsReply = oneshot::Sender<Result<Vec<StoredEvent>, String>>;

enum Request {
    Input { input: Input, reply: EventsReply },
    Snapshot { reply: oneshot::Sender<Snapshot> },
    PutCredential { credential: NewCredential },
    DeleteCredential { number: String },
}

/// A handle on the running controller, cloned into every API handler.
#[derive(Clone, Debug)]
pub struct Service {
    site: Arc<Site>,
    ids: Arc<SiteIds>,
    requests: mpsc::Sender<Request>,
    writer: Writer,
    clock: Arc<dyn Clock>,
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
        let ids = Arc::new(SiteIds::new(&site, &levels));
        let time = ControllerClock::new(Arc::clone(&clock));
        let mut controller = Controller::new(Arc::clone(&site), credentials, levels, time.now());
        let task_writer = writer.clone();
        tokio::spawn(async move {
            let mut relays = vec![false; controller.site().doors.len()];
            for input in restore {
                controller.handle(time.now(), input);
            }
            flush(
                &mut controller,
                &task_writer,
                None,
                &mut *outputs,
                &mut relays,
            );
            loop {
                // The next timer, and at least once a second a look at the wall clock.
                let tick = time.now().saturating_add(WALL_STEP_MILLIS);
                let deadline = controller.next_timer().map_or(tick, |at| at.min(tick));
                tokio::select! {
                    request = queue.recv() => {
                        let Some(request) = request else { break };
                        time.catch_up(&mut controller);
                        match request {
                            Request::Input { input, reply } => {
                                controller.handle(time.now(), input);
                                flush(&mut controller, &task_writer, Some(reply), &mut *outputs, &mut relays);
                            }
                            Request::Snapshot { reply } => {
                                flush(&mut controller, &task_writer, None, &mut *outputs, &mut relays);
                                let _ = reply.send(snapshot(&controller, &relays));
                            }
                            Request::PutCredential { credential } => {
                                if let Err(error) = controller.credentials_mut().insert(credential) {
                                    tracing::warn!(%error, "credential not loaded into the controller");
                                }
                            }
                            Request::DeleteCredential { number } => {
                                controller.credentials_mut().remove(&number);
                            }
                        }
                    }
                    _ = time.sleep_until(deadline) => {
                        time.catch_up(&mut controller);
                        flush(&mut controller, &task_writer, None, &mut *outputs, &mut relays);
                    }
                }
            }
            // Shutting down: every relay back at rest.
            for door in controller.site().door_indices() {
                outputs.set_relay(door, false);
            }
        });
        Service {
            site,
            ids,
            requests,
            writer,
            clock,
        }
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

    /// Applies an input and returns the events it caused, once they are durable.
    pub async fn input(&self, input: Input) -> Result<Vec<StoredEvent>, String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Input { input, reply })
            .await
            .map_err(|_| "the controller has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the controller has stopped".to_string())?
    }

    /// Hands an input to the controller from a thread outside the runtime, in order, without
    /// waiting: the outputs move as soon as the controller takes it, and the receiver gets
    /// its events once they are durable. For the device threads, which must not stall on a
    /// commit.
    pub fn submit(
        &self,
        input: Input,
    ) -> Result<oneshot::Receiver<Result<Vec<StoredEvent>, String>>, String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .blocking_send(Request::Input { input, reply })
            .map_err(|_| "the controller has stopped".to_string())?;
        Ok(answer)
    }

    /// Applies an input from a wired device, first storing the state it latches (a fire
    /// alarm, a lockdown), as the API does for the same inputs.
    pub async fn device_input(&self, input: Input) -> Result<Vec<StoredEvent>, String> {
        match input {
            Input::FireAlarm => self.set_state("fire_alarm", Some("active")).await?,
            Input::Lockdown => self.set_state("lockdown", Some("1")).await?,
            _ => {}
        }
        self.input(input).await
    }

    pub async fn snapshot(&self) -> Result<Snapshot, String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Snapshot { reply })
            .await
            .map_err(|_| "the controller has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the controller has stopped".to_string())
    }

    /// Stores credentials durably, then loads them into the controller.
    pub async fn put_credentials(&self, rows: Vec<CredentialRow>) -> Result<(), String> {
        let mut credentials = Vec::with_capacity(rows.len());
        for row in &rows {
            credentials.push(credential_from_row(&self.ids, row)?);
        }
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::PutCredentials { rows, reply })?;
        answer
            .await
            .map_err(|_| "the writer has stopped".to_string())??;
        for credential in credentials {
            self.requests
                .send(Request::PutCredential { credential })
                .await
                .map_err(|_| "the controller has stopped".to_string())?;
        }
        Ok(())
    }

    /// Removes a credential durably, then from the controller. `false` when there was none.
    pub async fn delete_credential(&self, number: String) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::DeleteCredential {
            number: number.clone(),
            reply,
        })?;
        let existed = answer
            .await
            .map_err(|_| "the writer has stopped".to_string())??;
        self.requests
            .send(Request::DeleteCredential { number })
            .await
            .map_err(|_| "the controller has stopped".to_string())?;
        Ok(existed)
    }

    /// Stores one item of the latched operator state durably.
    pub async fn set_state(&self, key: &str, value: Option<&str>) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::SetState {
            key: key.to_string(),
            value: value.map(str::to_string),
            reply,
        })?;
        answer
            .await
            .map_err(|_| "the writer has stopped".to_string())?
    }
}

/// Drives the outputs to the controller's state and hands its events to the writer.
fn flush(
    controller: &mut Controller,
    writer: &Writer,
    reply: Option<EventsReply>,
    outputs: &mut dyn Outputs,
    relays: &mut [bool],
) {
    let alive = controller.alive();
    for door in controller.site().door_indices() {
        let status = controller.door_status(door);
        let energized =
            controller.site().door(door).lock.is_some() && relay_energized(alive, status.command);
        if relays[door.index()] != energized {
            relays[door.index()] = energized;
            outputs.set_relay(door, energized);
        }
    }
    let events: Vec<NewEvent> = controller
        .take_events()
        .iter()
        .map(|e| to_new_event(controller.site(), e))
        .collect();
    if events.is_empty() {
        if let Some(reply) = reply {
            let _ = reply.send(Ok(Vec::new()));
        }
        return;
    }
    if let Err(error) = writer.send(Job::Events { events, reply }) {
        tracing::error!(%error, "events could not be handed to the writer");
    }
}

fn to_new_event(site: &Site, event: &Event) -> NewEvent {
    NewEvent {
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
}

impl SiteIds {
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
        }
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
    })
}
