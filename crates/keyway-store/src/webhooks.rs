//! Webhook endpoints and their outbox. The outbox is the audit log itself: each endpoint
//! keeps a cursor, the sequence number of the last event it has been given (or that was
//! given up on), and the events after it are what it is still owed. Nothing is copied, so
//! an event is owed to every endpoint from the commit that stores it, through any crash.
//! Each attempt's outcome is kept (the newest 1,000 per endpoint) for
//! `GET /api/webhooks/{id}/deliveries`.

use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError};

/// A webhook endpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    /// The event kinds it is sent; `*` alone: every kind.
    pub kinds: Vec<String>,
    /// `whsec_…`: the signing secret.
    pub secret: String,
    pub created: i64,
    /// The last event it was given or that was given up on.
    pub cursor: u64,
}

/// One event's delivery to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    pub seq: u64,
    pub kind: String,
    /// `delivered`, `retrying` or `failed` (given up on).
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The last attempt, ms since the epoch.
    pub updated: i64,
}

/// A change to the endpoints or their outbox, in one transaction each.
#[derive(Clone, Debug)]
pub enum WebhookChange {
    /// A new endpoint: its cursor is set to the log's last event, so it is owed what
    /// happens from now on.
    Add {
        row: WebhookRow,
    },
    Delete {
        id: String,
    },
    /// Attempts' outcomes, each with its endpoint's id, in one transaction: a delivery moves
    /// the cursor, a failure is kept as a row (deliveries are recorded a batch at a time; a cursor may lag what was delivered, so a crash delivers
    /// those again: at least once). Those of an endpoint no longer stored are dropped; the
    /// answer says whether any endpoint was found.
    Attempts {
        attempts: Vec<(String, Attempt)>,
    },
}

/// One attempt at delivering event `seq`: `error` `None` is a delivery (the cursor moves to
/// `seq`); `Some` with `give_up` marks it failed and moves the cursor past it; `Some`
/// without is a retry to come.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub seq: u64,
    pub kind: String,
    pub attempts: u32,
    pub error: Option<String>,
    pub give_up: bool,
    pub at: i64,
}

impl Attempt {
    /// `delivered`, `failed` (given up on) or `retrying`.
    pub fn status(&self) -> &'static str {
        match (&self.error, self.give_up) {
            (None, _) => "delivered",
            (Some(_), true) => "failed",
            (Some(_), false) => "retrying",
        }
    }
}

/// How many delivery rows each endpoint keeps.
pub const DELIVERIES_KEPT: u64 = 1_000;

impl Store {
    /// Applies a change; says whether it found what it changed (an unknown endpoint: false).
    pub fn change_webhook(&mut self, change: &WebhookChange) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        let changed = match change {
            WebhookChange::Add { row } => {
                transaction
                    .execute(
                        "INSERT INTO webhooks (id, url, kinds, secret, created, cursor)
                         VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(seq), 0) FROM events))",
                        params![
                            row.id,
                            row.url,
                            row.kinds.join(","),
                            row.secret,
                            row.created
                        ],
                    )
                    .map_err(sqlite)?;
                true
            }
            WebhookChange::Delete { id } => {
                transaction
                    .execute(
                        "DELETE FROM webhook_deliveries WHERE webhook = ?1",
                        params![id],
                    )
                    .map_err(sqlite)?;
                transaction
                    .execute("DELETE FROM webhooks WHERE id = ?1", params![id])
                    .map_err(sqlite)?
                    > 0
            }
            WebhookChange::Attempts { attempts } => {
                let mut found = std::collections::HashMap::new();
                let mut latest: std::collections::BTreeMap<&String, u64> =
                    std::collections::BTreeMap::new();
                for (id, attempt) in attempts {
                    let exists = match found.get(id) {
                        Some(exists) => *exists,
                        None => {
                            let exists = transaction
                                .query_row(
                                    "SELECT 1 FROM webhooks WHERE id = ?1",
                                    params![id],
                                    |_| Ok(()),
                                )
                                .optional()
                                .map_err(sqlite)?
                                .is_some();
                            found.insert(id.clone(), exists);
                            exists
                        }
                    };
                    if !exists {
                        continue;
                    }
                    // A delivery moves the cursor; its row is the daemon's, in memory.
                    if attempt.error.is_none() {
                        latest.insert(id, attempt.seq);
                        // Delivered after failing: its row says so now.
                        if attempt.attempts > 1 {
                            transaction
                                .execute(
                                    "UPDATE webhook_deliveries
                                     SET status = 'delivered', attempts = ?3,
                                         last_error = NULL, updated = ?4
                                     WHERE webhook = ?1 AND seq = ?2",
                                    params![id, attempt.seq as i64, attempt.attempts, attempt.at],
                                )
                                .map_err(sqlite)?;
                        }
                        continue;
                    }
                    transaction
                        .execute(
                            "INSERT OR REPLACE INTO webhook_deliveries
                               (webhook, seq, kind, status, attempts, last_error, updated)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            params![
                                id,
                                attempt.seq as i64,
                                attempt.kind,
                                attempt.status(),
                                attempt.attempts,
                                attempt.error,
                                attempt.at
                            ],
                        )
                        .map_err(sqlite)?;
                    if attempt.give_up {
                        latest.insert(id, attempt.seq);
                    }
                }
                // One cursor update per endpoint, however many deliveries.
                for (id, seq) in &latest {
                    transaction
                        .execute(
                            "UPDATE webhooks SET cursor = MAX(cursor, ?2) WHERE id = ?1",
                            params![id, *seq as i64],
                        )
                        .map_err(sqlite)?;
                }
                for id in latest.keys() {
                    transaction
                        .execute(
                            "DELETE FROM webhook_deliveries WHERE webhook = ?1 AND seq <=
                               (SELECT seq FROM webhook_deliveries WHERE webhook = ?1
                                ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                            params![id, DELIVERIES_KEPT as i64],
                        )
                        .map_err(sqlite)?;
                }
                found.values().any(|exists| *exists)
            }
        };
        transaction.commit().map_err(sqlite)?;
        Ok(changed)
    }

    /// Every endpoint, oldest first.
    pub fn webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        let sqlite = |source| self.sqlite(source);
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, url, kinds, secret, created, cursor FROM webhooks ORDER BY created, id",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map([], |row| {
                let kinds: String = row.get(2)?;
                Ok(WebhookRow {
                    id: row.get(0)?,
                    url: row.get(1)?,
                    kinds: kinds
                        .split(',')
                        .filter(|k| !k.is_empty())
                        .map(str::to_string)
                        .collect(),
                    secret: row.get(3)?,
                    created: row.get(4)?,
                    cursor: row.get::<_, i64>(5)? as u64,
                })
            })
            .map_err(sqlite)?;
        rows.collect::<Result<_, _>>().map_err(sqlite)
    }

    /// The newest `limit` deliveries of an endpoint, newest first.
    pub fn webhook_deliveries(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let sqlite = |source| self.sqlite(source);
        let mut statement = self
            .connection
            .prepare(
                "SELECT seq, kind, status, attempts, last_error, updated FROM webhook_deliveries
                 WHERE webhook = ?1 ORDER BY seq DESC LIMIT ?2",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map(params![id, limit as i64], |row| {
                Ok(DeliveryRow {
                    seq: row.get::<_, i64>(0)? as u64,
                    kind: row.get(1)?,
                    status: row.get(2)?,
                    attempts: row.get(3)?,
                    last_error: row.get(4)?,
                    updated: row.get(5)?,
                })
            })
            .map_err(sqlite)?;
        rows.collect::<Result<_, _>>().map_err(sqlite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewEvent;

    fn event(kind: &str) -> NewEvent {
        NewEvent {
            at: 1,
            kind: kind.to_string(),
            ..NewEvent::default()
        }
    }

    #[test]
    fn an_endpoint_is_owed_what_comes_after_it_and_its_cursor_moves_on_delivery_or_giving_up() {
        let dir = std::env::temp_dir().join(format!("keyway-webhooks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).unwrap();
        store.append(vec![event("a"), event("b")]).unwrap();
        let row = WebhookRow {
            id: "wh1".into(),
            url: "http://127.0.0.1:9/".into(),
            kinds: vec!["*".into()],
            secret: "whsec_x".into(),
            created: 5,
            cursor: 0,
        };
        assert!(
            store
                .change_webhook(&WebhookChange::Add { row: row.clone() })
                .unwrap()
        );
        let stored = store.webhooks().unwrap();
        assert_eq!(stored[0].cursor, 2, "owed only what comes after it");
        store.append(vec![event("c"), event("d")]).unwrap();
        let attempt = |seq, error: Option<&str>, give_up| WebhookChange::Attempts {
            // The second attempt at 3 delivers it.
            attempts: vec![(
                "wh1".to_string(),
                Attempt {
                    seq,
                    kind: "c".into(),
                    attempts: if error.is_none() { 2 } else { 1 },
                    error: error.map(str::to_string),
                    give_up,
                    at: 10,
                },
            )],
        };
        store
            .change_webhook(&attempt(3, Some("refused"), false))
            .unwrap();
        assert_eq!(
            store.webhooks().unwrap()[0].cursor,
            2,
            "a retry moves nothing"
        );
        store.change_webhook(&attempt(3, None, false)).unwrap();
        assert_eq!(store.webhooks().unwrap()[0].cursor, 3);
        store
            .change_webhook(&attempt(4, Some("gone"), true))
            .unwrap();
        assert_eq!(store.webhooks().unwrap()[0].cursor, 4);
        let deliveries = store.webhook_deliveries("wh1", 10).unwrap();
        assert_eq!(
            deliveries
                .iter()
                .map(|d| (d.seq, d.status.as_str()))
                .collect::<Vec<_>>(),
            [(4, "failed"), (3, "delivered")]
        );
        // An attempt for an endpoint deleted meanwhile changes nothing.
        assert!(
            store
                .change_webhook(&WebhookChange::Delete { id: "wh1".into() })
                .unwrap()
        );
        assert!(!store.change_webhook(&attempt(4, None, false)).unwrap());
        assert!(store.webhook_deliveries("wh1", 10).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
