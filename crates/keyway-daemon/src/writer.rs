//! The single writer: one thread owns the store and turns every queued job into as few
//! transactions as it can (group commit). An event is acknowledged, and broadcast to live
//! subscribers, only after the transaction that holds it has committed.

use std::sync::mpsc;
use std::thread;

use keyway_store::{CredentialRow, NewEvent, Store, StoreError, StoredEvent};
use tokio::sync::{broadcast, oneshot};

/// The most events one transaction takes: bounds the latency of the first in a batch.
const MAX_BATCH: usize = 4096;

/// Work for the writer.
#[derive(Debug)]
pub enum Job {
    /// Events to append; the reply carries them as stored, once durable.
    Events {
        events: Vec<NewEvent>,
        reply: Option<oneshot::Sender<Result<Vec<StoredEvent>, String>>>,
    },
    PutCredentials {
        rows: Vec<CredentialRow>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    DeleteCredential {
        number: String,
        reply: oneshot::Sender<Result<bool, String>>,
    },
    SetState {
        key: String,
        value: Option<String>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    PutToken {
        hash: String,
        role: String,
        created: i64,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// The sending side, cloned wherever something must be written.
#[derive(Clone, Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `store`. Stored events are also sent to `live`.
    pub fn start(
        store: Store,
        live: broadcast::Sender<StoredEvent>,
    ) -> (Writer, thread::JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel();
        let handle = thread::Builder::new()
            .name("keyway-writer".to_string())
            .spawn(move || run(store, queue, live))
            .expect("start the writer thread");
        (Writer { jobs }, handle)
    }

    pub fn send(&self, job: Job) -> Result<(), String> {
        self.jobs
            .send(job)
            .map_err(|_| "the writer has stopped".to_string())
    }
}

fn run(mut store: Store, queue: mpsc::Receiver<Job>, live: broadcast::Sender<StoredEvent>) {
    // Blocks for the first job, then takes whatever else is already queued.
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        let mut queued_events = 0;
        while queued_events < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => {
                    if let Job::Events { events, .. } = &job {
                        queued_events += events.len();
                    }
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        process(&mut store, jobs, &live);
    }
}

fn process(store: &mut Store, jobs: Vec<Job>, live: &broadcast::Sender<StoredEvent>) {
    // All the events of this round go into one transaction, in queue order.
    let mut events = Vec::new();
    let mut waiters = Vec::new();
    let mut others = Vec::new();
    for job in jobs {
        match job {
            Job::Events {
                events: batch,
                reply,
            } => {
                waiters.push((events.len(), batch.len(), reply));
                events.extend(batch);
            }
            other => others.push(other),
        }
    }
    if !events.is_empty() {
        match store.append(events) {
            Ok(stored) => {
                // Only clone for the live stream when someone is listening.
                if live.receiver_count() > 0 {
                    for event in &stored {
                        let _ = live.send(event.clone());
                    }
                }
                let mut stored = stored.into_iter();
                for (_, len, reply) in waiters {
                    let mine: Vec<StoredEvent> = stored.by_ref().take(len).collect();
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(mine));
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "appending events failed; nothing of the batch was stored");
                for (_, _, reply) in waiters {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(error.to_string()));
                    }
                }
            }
        }
    }
    let text = |e: StoreError| e.to_string();
    for job in others {
        match job {
            Job::PutCredentials { rows, reply } => {
                let _ = reply.send(store.put_credentials(&rows).map_err(text));
            }
            Job::DeleteCredential { number, reply } => {
                let _ = reply.send(store.delete_credential(&number).map_err(text));
            }
            Job::SetState { key, value, reply } => {
                let _ = reply.send(store.set_state(&key, value.as_deref()).map_err(text));
            }
            Job::PutToken {
                hash,
                role,
                created,
                reply,
            } => {
                let _ = reply.send(store.put_token(&hash, &role, created).map_err(text));
            }
            Job::Events { .. } => {}
        }
    }
}
