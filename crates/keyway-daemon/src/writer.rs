//! The single writer: one thread owns the storage and turns every queued job into as few
//! transactions as it can (group commit). An event is acknowledged, and broadcast to live
//! subscribers, only after the transaction that holds it has committed.
//!
//! Storage failing is a trouble condition, never a veto: the doors have already moved when
//! the writer gets their events. A commit that fails keeps its events (and the latched state
//! that came with them) in memory, in order, and tries again with backoff, sooner when new
//! work arrives; the waiting callers are told at once that their events are not durable.
//! The first failure logs a `storage_fault` event and the recovery a `storage_restored`
//! event saying how many events waited; both land in the log with the events they bracket.
//! At most `MAX_BUFFERED_EVENTS` wait: past that, new events are dropped and counted (the
//! `storage_restored` event and `/metrics` say how many).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use keyway_store::{AccountChange, CredentialRow, NewEvent, StoreError, StoredEvent, TokenRow};
use tokio::sync::{broadcast, oneshot};

use crate::clock::Clock;
use crate::storage::{StateChange, Storage};

/// The most events one transaction takes while storage is healthy: bounds the latency of
/// the first in a batch.
const MAX_BATCH: usize = 4096;

/// The most events kept in memory while storage fails (about 30 MB).
pub const MAX_BUFFERED_EVENTS: usize = 100_000;

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The events of a job were not made durable (yet): they are buffered and retried, or, when
/// the buffer was full, dropped.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{reason}")]
pub struct NotDurable {
    pub reason: String,
}

pub type DurableReply = oneshot::Sender<Result<Vec<StoredEvent>, NotDurable>>;

/// Work for the writer.
#[derive(Debug)]
pub enum Job {
    /// Events to append and latched state to apply, in one transaction; the reply carries
    /// the events as stored, once durable (or why not).
    Commit {
        events: Vec<NewEvent>,
        state: Vec<StateChange>,
        reply: Option<DurableReply>,
    },
    /// The reply says, for a single row, whether it replaced one.
    PutCredentials {
        rows: Vec<CredentialRow>,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    DeleteCredential {
        number: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    PutToken {
        token: TokenRow,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    DeleteToken {
        hash: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Accounts {
        change: AccountChange,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    AccessLevel {
        change: keyway_store::LevelChange,
        reply: oneshot::Sender<Result<keyway_store::LevelOutcome, StoreError>>,
    },
    Schedule {
        change: keyway_store::ScheduleChange,
        reply: oneshot::Sender<Result<keyway_store::LevelOutcome, StoreError>>,
    },
    Webhook {
        change: keyway_store::WebhookChange,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
}

/// What the writer tells the rest of the daemon about storage (`/healthz`, `/metrics`).
#[derive(Debug, Default)]
pub struct StorageHealth {
    failing: AtomicBool,
    buffered: AtomicU64,
    write_failures: AtomicU64,
    dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// When the current fault began (its `storage_fault` event's time), 0 while none.
    fault_since: AtomicI64,
    /// The sequence number of the newest stored event.
    last_seq: AtomicU64,
    /// (event kind, door or "") → events stored since the daemon started (`/metrics`).
    stored: Mutex<std::collections::BTreeMap<(String, String), u64>>,
}

impl StorageHealth {
    /// `None` while the last write succeeded; else what failed.
    pub fn fault(&self) -> Option<String> {
        if self.failing.load(Ordering::Relaxed) {
            Some(
                self.last_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_default(),
            )
        } else {
            None
        }
    }

    /// When the current fault began, on the daemon's wall clock.
    pub fn fault_since(&self) -> Option<i64> {
        let since = self.fault_since.load(Ordering::Relaxed);
        (self.failing.load(Ordering::Relaxed) && since != 0).then_some(since)
    }

    /// Events waiting in memory for storage.
    pub fn buffered(&self) -> u64 {
        self.buffered.load(Ordering::Relaxed)
    }

    pub fn write_failures(&self) -> u64 {
        self.write_failures.load(Ordering::Relaxed)
    }

    /// Events dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The sequence number of the newest stored event.
    pub fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Relaxed)
    }

    /// Where the log ends at start.
    pub fn note_last_seq(&self, seq: u64) {
        self.last_seq.fetch_max(seq, Ordering::Relaxed);
    }

    /// Events stored since the daemon started, by (kind, door or "").
    pub fn stored_counts(&self) -> std::collections::BTreeMap<(String, String), u64> {
        self.stored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn count_stored(&self, events: &[StoredEvent]) {
        let mut stored = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        for event in events {
            let key = (
                event.event.kind.clone(),
                event.event.door.clone().unwrap_or_default(),
            );
            *stored.entry(key).or_default() += 1;
        }
    }
}

/// The sending side, cloned wherever something must be written.
#[derive(Clone, Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    health: Arc<StorageHealth>,
}

impl Writer {
    /// Starts the writer thread on `storage`. Stored events are also sent to `live`; the
    /// writer's own events are stamped with `clock`.
    pub fn start(
        storage: Box<dyn Storage>,
        live: broadcast::Sender<StoredEvent>,
        clock: Arc<dyn Clock>,
    ) -> (Writer, thread::JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel();
        let health = Arc::new(StorageHealth::default());
        let thread_health = Arc::clone(&health);
        let handle = thread::Builder::new()
            .name("keyway-writer".to_string())
            .spawn(move || {
                WriterLoop {
                    storage,
                    live,
                    clock,
                    health: thread_health,
                    pending: VecDeque::new(),
                    pending_events: 0,
                    fault: None,
                    backoff: FIRST_BACKOFF,
                }
                .run(queue)
            })
            .expect("start the writer thread");
        (Writer { jobs, health }, handle)
    }

    pub fn send(&self, job: Job) -> Result<(), WriterStopped> {
        self.jobs.send(job).map_err(|_| WriterStopped)
    }

    pub fn health(&self) -> &StorageHealth {
        &self.health
    }
}

#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("the writer has stopped")]
pub struct WriterStopped;

/// Events (and state) not yet durable, in the order they were handed over.
#[derive(Debug)]
struct Pending {
    events: Vec<NewEvent>,
    state: Vec<StateChange>,
    reply: Option<DurableReply>,
}

/// Storage has been failing since this write.
#[derive(Debug)]
struct FaultSpan {
    dropped: u64,
}

struct WriterLoop {
    storage: Box<dyn Storage>,
    live: broadcast::Sender<StoredEvent>,
    clock: Arc<dyn Clock>,
    health: Arc<StorageHealth>,
    pending: VecDeque<Pending>,
    pending_events: usize,
    fault: Option<FaultSpan>,
    backoff: Duration,
}

impl WriterLoop {
    fn run(mut self, queue: mpsc::Receiver<Job>) {
        loop {
            // With nothing waiting, block for work; while storage fails, wake to retry.
            let first = if self.pending.is_empty() {
                match queue.recv() {
                    Ok(job) => Some(job),
                    Err(_) => break,
                }
            } else {
                match queue.recv_timeout(self.backoff) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut others = Vec::new();
            let mut taken = 0;
            let mut next = first;
            while let Some(job) = next {
                match job {
                    Job::Commit {
                        events,
                        state,
                        reply,
                    } => {
                        taken += events.len();
                        self.take(events, state, reply);
                    }
                    other => others.push(other),
                }
                next = if taken < MAX_BATCH {
                    queue.try_recv().ok()
                } else {
                    None
                };
            }
            self.write_pending();
            for job in others {
                self.other(job);
            }
        }
        // Shutting down: a last few tries for what still waits.
        for _ in 0..3 {
            if self.pending.is_empty() {
                break;
            }
            self.write_pending();
            if !self.pending.is_empty() {
                thread::sleep(self.backoff);
            }
        }
        if self.pending_events > 0 {
            tracing::error!(
                events = self.pending_events,
                "stopping with events that storage never took"
            );
        }
        if let Err(error) = self.storage.finish() {
            tracing::warn!(%error, "the last checkpoint of the log was not written");
        }
    }

    fn take(
        &mut self,
        events: Vec<NewEvent>,
        state: Vec<StateChange>,
        reply: Option<DurableReply>,
    ) {
        if let Some(fault) = &mut self.fault
            && self.pending_events + events.len() > MAX_BUFFERED_EVENTS
        {
            // The buffer is full: these events are lost, and said to be. Latched state is
            // tiny and is kept, so that a restart still restores it.
            fault.dropped += events.len() as u64;
            self.health
                .dropped
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            if let Some(reply) = reply {
                let _ = reply.send(Err(NotDurable {
                    reason: "storage is failing and the buffer of events is full: dropped"
                        .to_string(),
                }));
            }
            if !state.is_empty() {
                self.push(Vec::new(), state, None);
            }
            return;
        }
        // While storage fails, the write that follows is a retry: the caller hears from it.
        self.push(events, state, reply);
    }

    fn push(
        &mut self,
        events: Vec<NewEvent>,
        state: Vec<StateChange>,
        reply: Option<DurableReply>,
    ) {
        self.pending_events += events.len();
        self.pending.push_back(Pending {
            events,
            state,
            reply,
        });
        self.health
            .buffered
            .store(self.pending_events as u64, Ordering::Relaxed);
    }

    fn not_durable(&self) -> NotDurable {
        NotDurable {
            reason: format!(
                "storage is failing ({}): the events are buffered and retried",
                self.health.fault().unwrap_or_default()
            ),
        }
    }

    /// Commits what waits: in batches of `MAX_BATCH` while healthy, all at once (with the
    /// `storage_restored` event after it) when recovering.
    fn write_pending(&mut self) {
        while !self.pending.is_empty() {
            let recovering = self.fault.is_some();
            let mut count = 0;
            let mut events = 0;
            for job in &self.pending {
                if !recovering && count > 0 && events + job.events.len() > MAX_BATCH {
                    break;
                }
                count += 1;
                events += job.events.len();
            }
            let mut batch: Vec<NewEvent> = Vec::with_capacity(events + 1);
            let mut state: Vec<StateChange> = Vec::new();
            for job in self.pending.iter().take(count) {
                batch.extend(job.events.iter().cloned());
                state.extend(job.state.iter().cloned());
            }
            if let Some(fault) = &self.fault {
                batch.push(self.own_event(
                    "storage_restored",
                    format!(
                        "{} events waited; {} dropped",
                        events.saturating_sub(1),
                        fault.dropped
                    ),
                ));
            }
            match self.storage.commit(&batch, &state) {
                Ok(stored) => {
                    if self.fault.take().is_some() {
                        tracing::warn!(waited = events, "storage restored; buffered events stored");
                        self.health.failing.store(false, Ordering::Relaxed);
                    }
                    self.backoff = FIRST_BACKOFF;
                    if let Some(last) = stored.last() {
                        self.health.note_last_seq(last.seq);
                    }
                    // Counted before anyone is told: a reply's events are in the counts.
                    self.health.count_stored(&stored);
                    if self.live.receiver_count() > 0 {
                        for event in &stored {
                            let _ = self.live.send(event.clone());
                        }
                    }
                    let mut stored = stored.into_iter();
                    for job in self.pending.drain(..count) {
                        let mine: Vec<StoredEvent> =
                            stored.by_ref().take(job.events.len()).collect();
                        self.pending_events -= job.events.len();
                        if let Some(reply) = job.reply {
                            let _ = reply.send(Ok(mine));
                        }
                    }
                    self.health
                        .buffered
                        .store(self.pending_events as u64, Ordering::Relaxed);
                }
                Err(error) => {
                    self.failed(&error);
                    return;
                }
            }
        }
    }

    fn failed(&mut self, error: &StoreError) {
        self.health.write_failures.fetch_add(1, Ordering::Relaxed);
        *self
            .health
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
        if self.fault.is_none() {
            tracing::error!(%error, "storage failed; events are kept in memory and retried");
            self.health.failing.store(true, Ordering::Relaxed);
            self.fault = Some(FaultSpan { dropped: 0 });
            let event = self.own_event("storage_fault", error.to_string());
            self.health.fault_since.store(event.at, Ordering::Relaxed);
            self.push(vec![event], Vec::new(), None);
        } else {
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
        // Every waiting caller hears now that its events are not durable yet.
        let not_durable = self.not_durable();
        for job in &mut self.pending {
            if let Some(reply) = job.reply.take() {
                let _ = reply.send(Err(not_durable.clone()));
            }
        }
    }

    fn own_event(&self, kind: &str, detail: String) -> NewEvent {
        NewEvent {
            at: self.clock.wall(),
            kind: kind.to_string(),
            source: Some("storage".to_string()),
            detail: Some(detail),
            ..NewEvent::default()
        }
    }

    fn other(&mut self, job: Job) {
        match job {
            Job::PutCredentials { rows, reply } => {
                answer(&self.health, self.storage.put_credentials(&rows), reply)
            }
            Job::DeleteCredential { number, reply } => {
                answer(&self.health, self.storage.delete_credential(&number), reply)
            }
            Job::PutToken { token, reply } => {
                answer(&self.health, self.storage.put_token(&token), reply)
            }
            Job::DeleteToken { hash, reply } => {
                answer(&self.health, self.storage.delete_token(&hash), reply)
            }
            Job::Accounts { change, reply } => {
                answer(&self.health, self.storage.change_accounts(&change), reply)
            }
            Job::AccessLevel { change, reply } => answer(
                &self.health,
                self.storage.change_access_level(&change),
                reply,
            ),
            Job::Schedule { change, reply } => {
                answer(&self.health, self.storage.change_schedule(&change), reply)
            }
            Job::Webhook { change, reply } => {
                answer(&self.health, self.storage.change_webhook(&change), reply)
            }
            Job::Commit { .. } => {}
        }
    }
}

/// Answers a write that is not buffered (credentials, tokens), counting it if it failed.
fn answer<T>(
    health: &StorageHealth,
    outcome: Result<T, StoreError>,
    reply: oneshot::Sender<Result<T, StoreError>>,
) {
    if let Err(error) = &outcome {
        health.write_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%error, "a write failed");
    }
    let _ = reply.send(outcome);
}
