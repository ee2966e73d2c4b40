//! Keyway's durable storage, in one SQLite file (WAL, `synchronous = FULL`):
//!
//! - the audit log: append-only, every event with a sequence number and a hash chained to
//!   the previous event: an HMAC-SHA-256 under a key kept outside the database (`keyed.rs`),
//!   with signed checkpoints outside it too, so that a changed, rehashed, truncated or
//!   deleted log is found by [`Store::verify`] (records written before the key was kept are
//!   chained with plain SHA-256, and said to be);
//! - credentials and access levels;
//! - the latched operator state (holds, lockdown, an unreset fire alarm);
//! - API tokens, stored only hashed;
//! - webhook endpoints, each with its cursor in the log (the outbox: `webhooks.rs`).
//!
//! The store is synchronous and does no threading: [`Store::append`] writes a whole batch in
//! one transaction and returns once it is durable, which is what lets the daemon group many
//! events into one commit. Schema changes are versioned migrations (`PRAGMA user_version`).

mod keyed;
mod webhooks;

use std::path::{Path, PathBuf};

use hmac::Mac;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

pub use keyed::{CHECKPOINT_EVERY, CHECKPOINT_FILE, Checkpoint, Checkpoints, KEY_FILE, LogKey};
pub use webhooks::{Attempt, DELIVERIES_KEPT, DeliveryRow, WebhookChange, WebhookRow};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "keyway.db";

/// Each migration brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the audit log, credentials, access levels, operator state, tokens.
    "CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        door TEXT,
        credential TEXT,
        reason TEXT,
        circuit TEXT,
        hash TEXT NOT NULL
     );
     CREATE TABLE credentials (
        number TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        doors TEXT NOT NULL,
        levels TEXT NOT NULL,
        schedule TEXT,
        valid_from INTEGER,
        valid_until INTEGER,
        responder INTEGER NOT NULL
     );
     CREATE TABLE access_levels (
        id TEXT PRIMARY KEY,
        doors TEXT NOT NULL,
        schedule TEXT
     );
     CREATE TABLE operator_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
     );
     CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        created INTEGER NOT NULL
     );",
    // 2: where each event came from, who caused it, and a free-text detail (a count, a
    // version). Records from before keep NULL, and hash as they did.
    "ALTER TABLE events ADD COLUMN source TEXT;
     ALTER TABLE events ADD COLUMN actor TEXT;
     ALTER TABLE events ADD COLUMN detail TEXT;",
    // 3: tokens have a name, and the one KEYWAY_ADMIN_TOKEN set is marked, so that changing
    // the variable revokes it.
    "ALTER TABLE tokens ADD COLUMN name TEXT;
     ALTER TABLE tokens ADD COLUMN from_env INTEGER NOT NULL DEFAULT 0;",
    // 4: facts about the database itself; `keyed_from` is the first record chained under
    // the log key (records before it are plain SHA-256).
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 5: the console's operators (a password hashed with argon2id, never the password) and
    // their sessions (the SHA-256 of the cookie, never the cookie).
    "CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password TEXT NOT NULL,
        created INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE sessions (
        hash TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL
     );",
    // 6: the log searched by door, kind, credential, actor and time without reading it all
    // (each index ends in seq, so the newest matches come first; on a long log this
    // migration takes a while, once).
    "CREATE INDEX events_door ON events (door, seq);
     CREATE INDEX events_kind ON events (kind, seq);
     CREATE INDEX events_credential ON events (credential, seq);
     CREATE INDEX events_actor ON events (actor, seq);
     CREATE INDEX events_at ON events (at);",
    // 7: credentials found by any word of the holder's name or the start of the number, with
    // a full-text index that triggers keep in step (REPLACE fires the delete trigger because
    // every connection sets recursive_triggers).
    "CREATE VIRTUAL TABLE credential_search USING fts5(
        number, holder, content = 'credentials', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2'
     );
     CREATE TRIGGER credential_search_insert AFTER INSERT ON credentials BEGIN
        INSERT INTO credential_search (rowid, number, holder) VALUES (new.rowid, new.number, new.holder);
     END;
     CREATE TRIGGER credential_search_delete AFTER DELETE ON credentials BEGIN
        INSERT INTO credential_search (credential_search, rowid, number, holder)
        VALUES ('delete', old.rowid, old.number, old.holder);
     END;
     CREATE TRIGGER credential_search_update AFTER UPDATE ON credentials BEGIN
        INSERT INTO credential_search (credential_search, rowid, number, holder)
        VALUES ('delete', old.rowid, old.number, old.holder);
        INSERT INTO credential_search (rowid, number, holder) VALUES (new.rowid, new.number, new.holder);
     END;
     INSERT INTO credential_search (credential_search) VALUES ('rebuild');",
    // 8: a credential may be disabled: kept, refused everywhere.
    "ALTER TABLE credentials ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;",
    // 9: schedules changed or added from the console: each replaces the site file's of the
    // same id, or adds one. Spans and holidays as the site file writes them, `;` between.
    "CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        weekly TEXT NOT NULL,
        holidays TEXT NOT NULL
     );",
    // 10: a credential may be staff's: admitted through the doors hold mode locks.
    "ALTER TABLE credentials ADD COLUMN staff INTEGER NOT NULL DEFAULT 0;",
    // 11: a credential may carry a PIN, a duress PIN and a number of uses (a visitor pass).
    "ALTER TABLE credentials ADD COLUMN pin TEXT;
     ALTER TABLE credentials ADD COLUMN duress_pin TEXT;
     ALTER TABLE credentials ADD COLUMN uses INTEGER;",
    // 12: webhook endpoints, each with its cursor in the log (`webhooks.rs`), and the
    // outcome of each delivery.
    "CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        kinds TEXT NOT NULL,
        secret TEXT NOT NULL,
        created INTEGER NOT NULL,
        cursor INTEGER NOT NULL
     );
     CREATE TABLE webhook_deliveries (
        webhook TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        updated INTEGER NOT NULL,
        PRIMARY KEY (webhook, seq)
     );",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the data directory {dir} is in use by another Keyway ({holder}); stop it first, or for credentials use the running daemon's POST /api/credentials/import"
    )]
    Locked { dir: PathBuf, holder: String },
    #[error("cannot lock the data directory {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the audit log's key {path}: {problem}")]
    Key { path: PathBuf, problem: String },
    #[error("no Keyway database in {dir} (no {file}); check --data")]
    NoDatabase { dir: PathBuf, file: &'static str },
    #[error(
        "database {path} has schema version {found}, newer than this Keyway knows ({known}); refusing to touch it"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

impl StoreError {
    /// The error SQLite answers on a full disk, for a storage that injects faults.
    pub fn disk_full(path: &Path) -> StoreError {
        StoreError::Sqlite {
            path: path.to_path_buf(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full".to_string()),
            ),
        }
    }

    /// The error SQLite answers when the disk fails a read or write (or is read-only), for a
    /// storage that injects faults.
    pub fn io_failure(path: &Path) -> StoreError {
        StoreError::Sqlite {
            path: path.to_path_buf(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
                Some("disk I/O error".to_string()),
            ),
        }
    }
}

/// An event to append. Doors, credentials and circuits are stored by id, so the log reads
/// the same whatever becomes of the site file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewEvent {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub kind: String,
    pub door: Option<String>,
    pub credential: Option<String>,
    pub reason: Option<String>,
    pub circuit: Option<String>,
    /// Where it came from: `reader`, `contact`, `api`, `sim`, `schedule`, `timer`, `boot`,
    /// `storage` (`None` on records written before sources were kept).
    pub source: Option<String>,
    /// The token's (or user's) name for `api` and `sim`.
    pub actor: Option<String>,
    /// What the kind alone does not say: a count, a version.
    pub detail: Option<String>,
}

/// An event as stored, with its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub event: NewEvent,
    /// Hex SHA-256 of the previous hash and this event.
    pub hash: String,
}

/// The outcome of checking the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// `unkeyed` of the `events` (the first ones) were written before the log key was kept:
    /// their chain is plain SHA-256, which someone who can write the database could redo.
    Intact { events: u64, unkeyed: u64 },
    /// The first record whose hash does not follow from the records before it (or whose
    /// sequence number is not the next one).
    Broken { seq: u64, problem: String },
}

/// A credential as stored: door and level ids as text, `"*"` for every door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRow {
    pub number: String,
    pub holder: String,
    /// Door ids, or `None` for every door.
    pub doors: Option<Vec<String>>,
    pub levels: Vec<String>,
    pub schedule: Option<String>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub responder: bool,
    /// Kept, but refused everywhere.
    pub disabled: bool,
    /// Admitted through the doors hold mode locks.
    pub staff: bool,
    /// The PIN a `card_and_pin` door asks for, and the one that raises a duress alarm.
    pub pin: Option<String>,
    pub duress_pin: Option<String>,
    /// A pass good for this many grants.
    pub uses: Option<u32>,
}

/// An API token as stored: its SHA-256 hash, never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub hash: String,
    pub role: String,
    /// Milliseconds since the Unix epoch.
    pub created: i64,
    pub name: String,
    /// Set from `KEYWAY_ADMIN_TOKEN`: replaced when the variable changes.
    pub from_env: bool,
}

/// What to look for in the log (every field given must match; `None` matches anything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub door: Option<String>,
    pub kind: Option<String>,
    /// Any of these credential numbers (one, or those of a holder).
    pub credentials: Option<Vec<String>>,
    pub actor: Option<String>,
    pub source: Option<String>,
    /// From this instant on (ms since the epoch, inclusive).
    pub since: Option<i64>,
    /// Before this instant (exclusive).
    pub until: Option<i64>,
}

/// An operator of the console as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    /// The password's argon2id hash as a PHC string (`$argon2id$v=19$...`).
    pub password: String,
    /// Milliseconds since the Unix epoch.
    pub created: i64,
    /// A disabled user cannot sign in; kept so that the log's names stay explained.
    pub disabled: bool,
}

/// A console session as stored: the SHA-256 of its cookie, never the cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub hash: String,
    pub user: String,
    /// The token every mutating request of the session carries (`X-CSRF-Token`).
    pub csrf: String,
    /// Milliseconds since the Unix epoch.
    pub created: i64,
    pub expires: i64,
}

/// One change to the users and sessions, applied in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountChange {
    /// Adds or replaces a user. A replaced user's sessions end unless `keep_sessions`.
    PutUser {
        user: UserRow,
        keep_sessions: bool,
    },
    /// Removes a user and every session of theirs.
    DeleteUser(String),
    PutSession(SessionRow),
    /// Ends one session, by its hash.
    DeleteSession(String),
    /// Ends every session that expired at or before this instant (ms since the epoch).
    DeleteExpiredSessions(i64),
}

/// An access level as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLevelRow {
    pub id: String,
    /// Door ids, or `None` for every door.
    pub doors: Option<Vec<String>>,
    pub schedule: Option<String>,
}

/// A schedule as stored: its spans and holidays as the site file writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleRow {
    pub id: String,
    pub weekly: Vec<String>,
    pub holidays: Vec<String>,
}

/// One change to the stored schedules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleChange {
    Put(ScheduleRow),
    /// Removes the stored schedule; when `unless_held`, not while a credential or an access
    /// level names it.
    Delete {
        id: String,
        unless_held: bool,
    },
}

/// One change to the access levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LevelChange {
    /// Adds the level, or replaces the one of the same id.
    Put(AccessLevelRow),
    /// Removes the level, unless a credential holds it.
    Delete(String),
}

/// What came of a `LevelChange`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelOutcome {
    Added,
    Replaced,
    Removed,
    /// No level has that id.
    Missing,
    /// Not removed: this many credentials hold it.
    InUse(usize),
}

/// The lock file in a data directory: whoever holds it is the one process that writes there.
pub const LOCK_FILE: &str = "keyway.lock";

/// An exclusive lock on a data directory (`flock` on its lock file, released by the kernel
/// when the process ends, however it ends). Taken before anything else by every command that
/// writes the database, so that two daemons never split one log.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    /// Takes the lock, creating the directory and the lock file if needed, and writes this
    /// process's id into it. `what` says who holds it (e.g. "keyway serve").
    pub fn acquire(dir: &Path, what: &str) -> Result<DataDirLock, StoreError> {
        use std::io::{Read, Seek, Write};
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(LOCK_FILE);
        let lock_error = |source| StoreError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(lock_error)?
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::Locked {
                    dir: dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        "a process that has not said which".to_string()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(lock_error(source)),
        }
        file.set_len(0).map_err(lock_error)?;
        file.rewind().map_err(lock_error)?;
        writeln!(file, "{what}, process {}", std::process::id()).map_err(lock_error)?;
        file.sync_all().map_err(lock_error)?;
        Ok(DataDirLock { _file: file })
    }
}

/// The store of one controller.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    connection: Connection,
    last_seq: u64,
    last_hash: [u8; 32],
    /// The log key, and the first record chained under it.
    key: Option<LogKey>,
    keyed_from: Option<u64>,
    checkpoints: Checkpoints,
    checkpoint_failures: u64,
}

impl Store {
    /// Opens the store in `data_dir`, which must already hold a database (for commands that
    /// must not create one by mistake, such as an import run from the wrong folder).
    pub fn open_existing(data_dir: &Path) -> Result<Store, StoreError> {
        if !data_dir.join(DATABASE_FILE).is_file() {
            return Err(StoreError::NoDatabase {
                dir: data_dir.to_path_buf(),
                file: DATABASE_FILE,
            });
        }
        Store::open(data_dir)
    }

    /// Opens (creating if needed) the store in `data_dir`, and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        // Only its owner reads the log, the credentials and the token hashes: the file is
        // created 0600, and SQLite gives its WAL and shared-memory files the same mode.
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|source| StoreError::CreateDir {
                    path: path.clone(),
                    source,
                })?;
        }
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut connection = Connection::open(&path).map_err(sqlite)?;
        // WAL with a full sync on every commit: a committed transaction survives a power cut.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(sqlite)?;
        // A REPLACE's delete fires the delete triggers (the credential search index).
        connection
            .pragma_update(None, "recursive_triggers", "ON")
            .map_err(sqlite)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        // Read pages through a memory map rather than a copy per page: start-up reads every
        // credential once.
        connection
            .pragma_update(None, "mmap_size", 1i64 << 30)
            .map_err(sqlite)?;
        migrate(&mut connection, &path)?;
        let last: Option<(u64, String)> = connection
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get(1)?)),
            )
            .optional()
            .map_err(sqlite)?;
        // A last hash that does not decode is continued from zeros, so the next record does
        // not verify: the break is found, never papered over (and the daemon refuses to start
        // on it, see `verify_tail`).
        let (last_seq, last_hash) = match last {
            Some((seq, hash)) => (seq, decode_hash(&hash).unwrap_or([0; 32])),
            None => (0, [0; 32]),
        };
        let keyed_from = connection
            .query_row(
                "SELECT value FROM meta WHERE key = 'keyed_from'",
                [],
                |row| row.get::<_, String>(0),
            )
            .optional()
            .map_err(sqlite)?
            .and_then(|v| v.parse().ok());
        Ok(Store {
            checkpoints: Checkpoints::in_dir(data_dir),
            path,
            connection,
            last_seq,
            last_hash,
            key: None,
            keyed_from,
            checkpoint_failures: 0,
        })
    }

    /// Chains every record from now on under `key` (the daemon). The first time, the next
    /// record is noted as the first keyed one; those before stay plain SHA-256.
    pub fn use_key(&mut self, key: LogKey) -> Result<(), StoreError> {
        if self.keyed_from.is_none() {
            let from = self.last_seq + 1;
            self.connection
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('keyed_from', ?1)",
                    params![from.to_string()],
                )
                .map_err(|e| self.sqlite(e))?;
            self.keyed_from = Some(from);
        }
        self.key = Some(key);
        Ok(())
    }

    /// Verifies with `key` without writing anything (`keyway verify-log`).
    pub fn read_with_key(&mut self, key: LogKey) {
        self.key = Some(key);
    }

    /// The first record chained under the log key, if any is.
    pub fn keyed_from(&self) -> Option<u64> {
        self.keyed_from
    }

    /// Checkpoints that could not be written (a full disk); the next one covers them.
    pub fn checkpoint_failures(&self) -> u64 {
        self.checkpoint_failures
    }

    /// Appends a signed checkpoint of the last record now (the daemon does when it stops).
    pub fn write_checkpoint(&mut self) -> Result<(), StoreError> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        // Of an empty log too: after `--accept-broken-log` on a deleted log, it says that
        // the log starts again here.
        self.checkpoints.append(
            key,
            &Checkpoint {
                seq: self.last_seq,
                hash: encode_hash(&self.last_hash),
            },
        )
    }

    fn chain(&self, previous: &[u8; 32], seq: u64, event: &NewEvent) -> [u8; 32] {
        match (&self.key, self.keyed_from) {
            (Some(key), Some(from)) if seq >= from => keyed_chain_hash(key, previous, seq, event),
            _ => chain_hash(previous, seq, event),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this connection folds the WAL into the main file itself when it grows (SQLite's
    /// default). The daemon's writer turns it off and checkpoints from another connection
    /// ([`Store::checkpoint`]), so that a commit never waits for a checkpoint's writes.
    pub fn set_auto_checkpoint(&mut self, on: bool) -> Result<(), StoreError> {
        let pages = if on { 1000 } else { 0 };
        self.connection
            .pragma_update(None, "wal_autocheckpoint", pages)
            .map_err(|e| self.sqlite(e))
    }

    /// Copies committed WAL pages into the main file without blocking writers (a passive
    /// checkpoint). Returns the number of WAL pages still not copied.
    pub fn checkpoint(&self) -> Result<i64, StoreError> {
        self.connection
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok(row.get::<_, i64>(1)? - row.get::<_, i64>(2)?)
            })
            .map_err(|e| self.sqlite(e))
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The sequence number of the last stored event (0 when the log is empty).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Appends events in one transaction and returns them as stored, once they are durable.
    /// On error nothing of the batch is stored.
    pub fn append(&mut self, events: Vec<NewEvent>) -> Result<Vec<StoredEvent>, StoreError> {
        self.commit(&events, &[])
    }

    /// Appends `events` and applies `state` (latched operator state: a key set, or with
    /// `None` cleared) in one transaction: either all of it is durable or none of it is, and
    /// the caller still has every event to try again. The events get the next sequence
    /// numbers; a failed commit uses none.
    pub fn commit(
        &mut self,
        events: &[NewEvent],
        state: &[(String, Option<String>)],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut stored = Vec::with_capacity(events.len());
        let mut seq = self.last_seq;
        let mut previous = self.last_hash;
        let mut hashes = Vec::with_capacity(events.len());
        for event in events {
            seq += 1;
            let hash = self.chain(&previous, seq, event);
            hashes.push(hash);
            previous = hash;
        }
        let mut seq = self.last_seq;
        let path = self.path.clone();
        let sqlite = move |e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let transaction = self.connection.transaction().map_err(&sqlite)?;
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO events
                        (seq, at, kind, door, credential, reason, circuit, hash, source, actor, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(&sqlite)?;
            for (event, hash) in events.iter().zip(&hashes) {
                seq += 1;
                let hex = encode_hash(hash);
                insert
                    .execute(params![
                        seq as i64,
                        event.at,
                        event.kind,
                        event.door,
                        event.credential,
                        event.reason,
                        event.circuit,
                        hex,
                        event.source,
                        event.actor,
                        event.detail
                    ])
                    .map_err(&sqlite)?;
                stored.push(StoredEvent {
                    seq,
                    event: event.clone(),
                    hash: hex,
                });
            }
            for (key, value) in state {
                match value {
                    Some(value) => transaction.execute(
                        "INSERT OR REPLACE INTO operator_state (key, value) VALUES (?1, ?2)",
                        params![key, value],
                    ),
                    None => transaction
                        .execute("DELETE FROM operator_state WHERE key = ?1", params![key]),
                }
                .map_err(&sqlite)?;
            }
        }
        transaction.commit().map_err(&sqlite)?;
        let crossed = self.last_seq / CHECKPOINT_EVERY != seq / CHECKPOINT_EVERY;
        self.last_seq = seq;
        self.last_hash = previous;
        // A checkpoint that cannot be written loses nothing: the events are durable, and
        // the next checkpoint covers them.
        if crossed && self.write_checkpoint().is_err() {
            self.checkpoint_failures += 1;
        }
        Ok(stored)
    }

    /// Up to `limit` events with a sequence number above `after`, in order.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.events_where(
            "SELECT seq, at, kind, door, credential, reason, circuit, hash, source, actor, detail
             FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            after,
            limit,
        )
    }

    /// Up to `limit` of the newest events with a sequence number below `before`, newest
    /// first: paging backwards from the end of the log.
    pub fn events_before(&self, before: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.events_where(
            "SELECT seq, at, kind, door, credential, reason, circuit, hash, source, actor, detail
             FROM events WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
            before.min(i64::MAX as u64),
            limit,
        )
    }

    /// Up to `limit` of the newest events below `before` that match `filter`, newest first.
    pub fn events_matching(
        &self,
        filter: &EventFilter,
        before: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut sql = String::from(
            "SELECT seq, at, kind, door, credential, reason, circuit, hash, source, actor, detail
             FROM events WHERE seq < ?",
        );
        let mut values: Vec<rusqlite::types::Value> =
            vec![(before.min(i64::MAX as u64) as i64).into()];
        let mut equal = |column: &str, value: &Option<String>, sql: &mut String| {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                values.push(value.clone().into());
            }
        };
        equal("door", &filter.door, &mut sql);
        equal("kind", &filter.kind, &mut sql);
        equal("actor", &filter.actor, &mut sql);
        equal("source", &filter.source, &mut sql);
        if let Some(numbers) = &filter.credentials {
            if numbers.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND credential IN ({})",
                vec!["?"; numbers.len()].join(", ")
            ));
            values.extend(numbers.iter().map(|n| n.clone().into()));
        }
        if let Some(since) = filter.since {
            sql.push_str(" AND at >= ?");
            values.push(since.into());
        }
        if let Some(until) = filter.until {
            sql.push_str(" AND at < ?");
            values.push(until.into());
        }
        sql.push_str(" ORDER BY seq DESC LIMIT ?");
        values.push((limit as i64).into());
        let mut query = self
            .connection
            .prepare_cached(&sql)
            .map_err(|e| self.sqlite(e))?;
        let rows = query
            .query_map(rusqlite::params_from_iter(values), event_row)
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// The numbers of the credentials with a word of the holder's name (or the number)
    /// starting with each word of `words` (any case, accents ignored), at most `limit`; the
    /// full-text index answers, so a million credentials take no longer than a thousand.
    pub fn credentials_of_holder(
        &self,
        words: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        if fts_query(words).is_none() {
            return Ok(Vec::new());
        }
        let (page, _) = self.credentials_page(Some(words), None, limit)?;
        Ok(page.into_iter().map(|row| row.number).collect())
    }

    fn events_where(
        &self,
        sql: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut query = self
            .connection
            .prepare_cached(sql)
            .map_err(|e| self.sqlite(e))?;
        let rows = query
            .query_map(params![seq as i64, limit as i64], event_row)
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Checks the whole chain, from the first event, and the last signed checkpoint; names
    /// the first broken record, or what is missing.
    pub fn verify(&self) -> Result<Verification, StoreError> {
        self.verify_from(1)
    }

    /// Checks the last `records` of the chain and the last checkpoint: what the daemon does
    /// at start, so that a log whose tail was cut, rewritten or deleted is not written on.
    pub fn verify_tail(&self, records: u64) -> Result<Verification, StoreError> {
        self.verify_from(self.last_seq.saturating_sub(records).max(1))
    }

    fn verify_from(&self, from: u64) -> Result<Verification, StoreError> {
        if self.keyed_from.is_some() && self.key.is_none() {
            return Err(StoreError::Key {
                path: self.checkpoints.path().with_file_name(KEY_FILE),
                problem: format!(
                    "the log is chained under a key from record {}; give its key file",
                    self.keyed_from.unwrap_or(1)
                ),
            });
        }
        let mut previous = [0u8; 32];
        if from > 1 {
            let before = self.events_after(from - 2, 1)?;
            match before.first() {
                Some(stored) if stored.seq == from - 1 => {
                    previous = decode_hash(&stored.hash).unwrap_or([0; 32]);
                }
                _ => {
                    return Ok(Verification::Broken {
                        seq: from - 1,
                        problem: format!("record {} is missing", from - 1),
                    });
                }
            }
        }
        let mut expected_seq = from;
        let mut after = from - 1;
        let mut last_hash = None;
        loop {
            let batch = self.events_after(after, 10_000)?;
            if batch.is_empty() {
                break;
            }
            for stored in &batch {
                if stored.seq != expected_seq {
                    return Ok(Verification::Broken {
                        seq: stored.seq,
                        problem: format!(
                            "sequence number {} follows {}: record {} is missing",
                            stored.seq,
                            expected_seq - 1,
                            expected_seq
                        ),
                    });
                }
                let hash = self.chain(&previous, stored.seq, &stored.event);
                if encode_hash(&hash) != stored.hash {
                    return Ok(Verification::Broken {
                        seq: stored.seq,
                        problem: "its hash does not match its contents and the record before it"
                            .to_string(),
                    });
                }
                previous = hash;
                expected_seq += 1;
            }
            after = batch.last().map_or(after, |s| s.seq);
            last_hash = batch.last().map(|s| s.hash.clone());
        }
        let events = expected_seq - 1;
        if let Some(key) = &self.key {
            match self.checkpoints.last(key) {
                Err(problem) => {
                    return Ok(Verification::Broken {
                        seq: events,
                        problem,
                    });
                }
                Ok(Some(checkpoint)) if checkpoint.seq > 0 => {
                    if checkpoint.seq > events {
                        return Ok(Verification::Broken {
                            seq: checkpoint.seq,
                            problem: format!(
                                "the log ends at record {events}, but a signed checkpoint says record {} existed: records {}-{} were removed",
                                checkpoint.seq,
                                events + 1,
                                checkpoint.seq
                            ),
                        });
                    }
                    let at = if checkpoint.seq == events {
                        last_hash.clone()
                    } else {
                        self.events_after(checkpoint.seq - 1, 1)?
                            .first()
                            .map(|s| s.hash.clone())
                    };
                    if at.as_deref() != Some(checkpoint.hash.as_str()) {
                        return Ok(Verification::Broken {
                            seq: checkpoint.seq,
                            problem: "it is not the record a signed checkpoint recorded: the log was rewritten".to_string(),
                        });
                    }
                }
                Ok(None)
                    if self
                        .keyed_from
                        .is_some_and(|from| events >= from + CHECKPOINT_EVERY) =>
                {
                    return Ok(Verification::Broken {
                        seq: events,
                        problem: format!(
                            "{} has no checkpoint, though the keyed log has passed {CHECKPOINT_EVERY} records: it was removed",
                            self.checkpoints.path().display()
                        ),
                    });
                }
                Ok(_) => {}
            }
        }
        Ok(Verification::Intact {
            events,
            unkeyed: match self.keyed_from {
                Some(from) => (from - 1).min(events),
                None => events,
            },
        })
    }

    /// Adds or replaces credentials, all in one transaction.
    pub fn put_credentials(&mut self, rows: &[CredentialRow]) -> Result<(), StoreError> {
        self.put_credentials_with_progress(rows, &mut |_| {})
    }

    /// Like [`Store::put_credentials`], telling `progress` how many rows are written so far
    /// (every 10,000 rows and at the end). Still one transaction: all or nothing.
    pub fn put_credentials_with_progress(
        &mut self,
        rows: &[CredentialRow],
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO credentials
                     (number, holder, doors, levels, schedule, valid_from, valid_until, responder, disabled, staff, pin, duress_pin, uses)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(sqlite)?;
            for (i, row) in rows.iter().enumerate() {
                if i % 10_000 == 0 {
                    progress(i);
                }
                insert
                    .execute(params![
                        row.number,
                        row.holder,
                        encode_ids(row.doors.as_deref()),
                        row.levels.join(";"),
                        row.schedule,
                        row.valid_from,
                        row.valid_until,
                        row.responder,
                        row.disabled,
                        row.staff,
                        row.pin,
                        row.duress_pin,
                        row.uses,
                    ])
                    .map_err(sqlite)?;
            }
        }
        transaction.commit().map_err(sqlite)?;
        progress(rows.len());
        Ok(())
    }

    /// Removes a credential; `false` when there was none.
    pub fn delete_credential(&mut self, number: &str) -> Result<bool, StoreError> {
        let changed = self
            .connection
            .execute("DELETE FROM credentials WHERE number = ?1", params![number])
            .map_err(|e| self.sqlite(e))?;
        Ok(changed > 0)
    }

    /// Every credential, sorted by number.
    pub fn credentials(&self) -> Result<Vec<CredentialRow>, StoreError> {
        let mut rows = Vec::new();
        self.for_each_credential(|row| rows.push(row))?;
        rows.sort_by(|a, b| a.number.cmp(&b.number));
        Ok(rows)
    }

    /// One page of credentials: with `search`, those with a word of the holder's name or
    /// the number starting with each of its words (in the order they were stored); without,
    /// every credential by number. `after` is the `next` of the page before. Returns the rows
    /// and the `next` cursor when there may be more.
    pub fn credentials_page(
        &self,
        search: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<CredentialRow>, Option<String>), StoreError> {
        const COLUMNS: &str = "c.number, c.holder, c.doors, c.levels, c.schedule, c.valid_from, c.valid_until, c.responder, c.disabled, c.staff, c.pin, c.duress_pin, c.uses, c.rowid";
        let fts = fts_query(search.unwrap_or(""));
        let (sql, values): (String, Vec<rusqlite::types::Value>) = if let Some(fts) = &fts {
            let after: i64 = after.and_then(|a| a.parse().ok()).unwrap_or(0);
            (
                format!(
                    "SELECT {COLUMNS} FROM credential_search s JOIN credentials c ON c.rowid = s.rowid
                     WHERE credential_search MATCH ?1 AND s.rowid > ?2 ORDER BY s.rowid LIMIT ?3"
                ),
                vec![fts.clone().into(), after.into(), (limit as i64).into()],
            )
        } else {
            (
                format!(
                    "SELECT {COLUMNS} FROM credentials c WHERE c.number > ?1 ORDER BY c.number LIMIT ?2"
                ),
                vec![
                    after.unwrap_or("").to_string().into(),
                    (limit as i64).into(),
                ],
            )
        };
        let mut query = self
            .connection
            .prepare_cached(&sql)
            .map_err(|e| self.sqlite(e))?;
        let mut last = None;
        let rows = query
            .query_map(rusqlite::params_from_iter(values), |row| {
                Ok((credential_row(row)?, row.get::<_, i64>(13)?))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut page = Vec::new();
        for row in rows {
            let (credential, rowid) = row.map_err(|e| self.sqlite(e))?;
            last = Some(if fts.is_none() {
                credential.number.clone()
            } else {
                rowid.to_string()
            });
            page.push(credential);
        }
        let next = if page.len() == limit { last } else { None };
        Ok((page, next))
    }

    /// How many credentials are stored.
    pub fn credential_count(&self) -> Result<usize, StoreError> {
        self.connection
            .query_row("SELECT COUNT(*) FROM credentials", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(|e| self.sqlite(e))
    }

    /// Hands every credential to `each`, in storage order, without holding them all in memory.
    pub fn for_each_credential(
        &self,
        mut each: impl FnMut(CredentialRow),
    ) -> Result<(), StoreError> {
        let mut query = self
            .connection
            .prepare("SELECT number, holder, doors, levels, schedule, valid_from, valid_until, responder, disabled, staff, pin, duress_pin, uses FROM credentials")
            .map_err(|e| self.sqlite(e))?;
        let rows = query
            .query_map([], credential_row)
            .map_err(|e| self.sqlite(e))?;
        for row in rows {
            each(row.map_err(|e| self.sqlite(e))?);
        }
        Ok(())
    }

    pub fn put_access_level(&mut self, level: &AccessLevelRow) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO access_levels (id, doors, schedule) VALUES (?1, ?2, ?3)",
                params![level.id, encode_ids(level.doors.as_deref()), level.schedule],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Adds, replaces or removes an access level in one transaction; a level that a
    /// credential holds is not removed (the count is checked in the same transaction).
    pub fn change_access_level(
        &mut self,
        change: &LevelChange,
    ) -> Result<LevelOutcome, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        let exists = |id: &str| {
            transaction.query_row(
                "SELECT EXISTS (SELECT 1 FROM access_levels WHERE id = ?1)",
                params![id],
                |row| row.get::<_, bool>(0),
            )
        };
        let outcome = match change {
            LevelChange::Put(level) => {
                let existed = exists(&level.id).map_err(sqlite)?;
                transaction
                    .execute(
                        "INSERT OR REPLACE INTO access_levels (id, doors, schedule) VALUES (?1, ?2, ?3)",
                        params![level.id, encode_ids(level.doors.as_deref()), level.schedule],
                    )
                    .map_err(sqlite)?;
                if existed {
                    LevelOutcome::Replaced
                } else {
                    LevelOutcome::Added
                }
            }
            LevelChange::Delete(id) => {
                if !exists(id).map_err(sqlite)? {
                    LevelOutcome::Missing
                } else {
                    // Levels are stored as `a;b;c`.
                    let holders: i64 = transaction
                        .query_row(
                            "SELECT COUNT(*) FROM credentials WHERE ';' || levels || ';' LIKE '%;' || ?1 || ';%'",
                            params![id],
                            |row| row.get(0),
                        )
                        .map_err(sqlite)?;
                    if holders > 0 {
                        LevelOutcome::InUse(holders as usize)
                    } else {
                        transaction
                            .execute("DELETE FROM access_levels WHERE id = ?1", params![id])
                            .map_err(sqlite)?;
                        LevelOutcome::Removed
                    }
                }
            }
        };
        transaction.commit().map_err(sqlite)?;
        Ok(outcome)
    }

    /// Adds, replaces or removes a stored schedule in one transaction (the outcomes are an
    /// access level's: `InUse` counts the credentials and levels that name it).
    pub fn change_schedule(&mut self, change: &ScheduleChange) -> Result<LevelOutcome, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        let exists = |id: &str| {
            transaction.query_row(
                "SELECT EXISTS (SELECT 1 FROM schedules WHERE id = ?1)",
                params![id],
                |row| row.get::<_, bool>(0),
            )
        };
        let outcome = match change {
            ScheduleChange::Put(row) => {
                let existed = exists(&row.id).map_err(sqlite)?;
                transaction
                    .execute(
                        "INSERT OR REPLACE INTO schedules (id, weekly, holidays) VALUES (?1, ?2, ?3)",
                        params![row.id, row.weekly.join(";"), row.holidays.join(";")],
                    )
                    .map_err(sqlite)?;
                if existed {
                    LevelOutcome::Replaced
                } else {
                    LevelOutcome::Added
                }
            }
            ScheduleChange::Delete { id, unless_held } => {
                let holders: i64 = if *unless_held {
                    transaction
                        .query_row(
                            "SELECT (SELECT COUNT(*) FROM credentials WHERE schedule = ?1)
                                  + (SELECT COUNT(*) FROM access_levels WHERE schedule = ?1)",
                            params![id],
                            |row| row.get(0),
                        )
                        .map_err(sqlite)?
                } else {
                    0
                };
                if !exists(id).map_err(sqlite)? {
                    LevelOutcome::Missing
                } else if holders > 0 {
                    LevelOutcome::InUse(holders as usize)
                } else {
                    transaction
                        .execute("DELETE FROM schedules WHERE id = ?1", params![id])
                        .map_err(sqlite)?;
                    LevelOutcome::Removed
                }
            }
        };
        transaction.commit().map_err(sqlite)?;
        Ok(outcome)
    }

    /// Every stored schedule, by id.
    pub fn schedules(&self) -> Result<Vec<ScheduleRow>, StoreError> {
        let split = |text: String| -> Vec<String> {
            text.split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut query = self
            .connection
            .prepare("SELECT id, weekly, holidays FROM schedules ORDER BY id")
            .map_err(|e| self.sqlite(e))?;
        let rows = query
            .query_map([], |row| {
                Ok(ScheduleRow {
                    id: row.get(0)?,
                    weekly: split(row.get(1)?),
                    holidays: split(row.get(2)?),
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    pub fn access_levels(&self) -> Result<Vec<AccessLevelRow>, StoreError> {
        let mut query = self
            .connection
            .prepare("SELECT id, doors, schedule FROM access_levels ORDER BY id")
            .map_err(|e| self.sqlite(e))?;
        let rows = query
            .query_map([], |row| {
                let doors: String = row.get(1)?;
                Ok(AccessLevelRow {
                    id: row.get(0)?,
                    doors: decode_ids(&doors),
                    schedule: row.get(2)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Sets (or with `None` clears) one item of the latched operator state.
    pub fn set_state(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        match value {
            Some(value) => self.connection.execute(
                "INSERT OR REPLACE INTO operator_state (key, value) VALUES (?1, ?2)",
                params![key, value],
            ),
            None => self
                .connection
                .execute("DELETE FROM operator_state WHERE key = ?1", params![key]),
        }
        .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Every item of the latched operator state, sorted by key.
    pub fn state(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut query = self
            .connection
            .prepare("SELECT key, value FROM operator_state ORDER BY key")
            .map_err(|e| self.sqlite(e))?;
        let rows = query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Stores an API token (its hash, never the token).
    pub fn put_token(&mut self, token: &TokenRow) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO tokens (hash, role, created, name, from_env)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    token.hash,
                    token.role,
                    token.created,
                    token.name,
                    token.from_env
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Removes a token; `false` when there was none with that hash.
    pub fn delete_token(&mut self, hash: &str) -> Result<bool, StoreError> {
        let deleted = self
            .connection
            .execute("DELETE FROM tokens WHERE hash = ?1", params![hash])
            .map_err(|e| self.sqlite(e))?;
        Ok(deleted > 0)
    }

    /// Every stored token, in the order they were stored. A token from before names were kept is called
    /// after its role.
    pub fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let mut query = self
            .connection
            .prepare("SELECT hash, role, created, name, from_env FROM tokens ORDER BY rowid")
            .map_err(|e| self.sqlite(e))?;
        let rows = query
            .query_map([], |row| {
                let role: String = row.get(1)?;
                Ok(TokenRow {
                    hash: row.get(0)?,
                    created: row.get(2)?,
                    name: row
                        .get::<_, Option<String>>(3)?
                        .unwrap_or_else(|| format!("unnamed {role}")),
                    from_env: row.get(4)?,
                    role,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Applies one change to the users and sessions in one transaction; says whether it
    /// replaced or removed a row (a new session never replaces one).
    pub fn change_accounts(&mut self, change: &AccountChange) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        let changed = match change {
            AccountChange::PutUser {
                user,
                keep_sessions,
            } => {
                let existed = transaction
                    .execute("DELETE FROM users WHERE name = ?1", params![user.name])
                    .map_err(sqlite)?
                    > 0;
                if !keep_sessions {
                    transaction
                        .execute("DELETE FROM sessions WHERE user = ?1", params![user.name])
                        .map_err(sqlite)?;
                }
                transaction
                    .execute(
                        "INSERT INTO users (name, role, password, created, disabled)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![
                            user.name,
                            user.role,
                            user.password,
                            user.created,
                            user.disabled
                        ],
                    )
                    .map_err(sqlite)?;
                existed
            }
            AccountChange::DeleteUser(name) => {
                transaction
                    .execute("DELETE FROM sessions WHERE user = ?1", params![name])
                    .map_err(sqlite)?;
                transaction
                    .execute("DELETE FROM users WHERE name = ?1", params![name])
                    .map_err(sqlite)?
                    > 0
            }
            AccountChange::PutSession(session) => {
                transaction
                    .execute(
                        "INSERT OR REPLACE INTO sessions (hash, user, csrf, created, expires)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![
                            session.hash,
                            session.user,
                            session.csrf,
                            session.created,
                            session.expires
                        ],
                    )
                    .map_err(sqlite)?;
                // A session's hash is new each time: there is nothing to replace.
                false
            }
            AccountChange::DeleteSession(hash) => {
                transaction
                    .execute("DELETE FROM sessions WHERE hash = ?1", params![hash])
                    .map_err(sqlite)?
                    > 0
            }
            AccountChange::DeleteExpiredSessions(now) => {
                transaction
                    .execute("DELETE FROM sessions WHERE expires <= ?1", params![now])
                    .map_err(sqlite)?
                    > 0
            }
        };
        transaction.commit().map_err(sqlite)?;
        Ok(changed)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        self.all(
            "SELECT name, role, password, created, disabled FROM users ORDER BY name",
            |row| {
                Ok(UserRow {
                    name: row.get(0)?,
                    role: row.get(1)?,
                    password: row.get(2)?,
                    created: row.get(3)?,
                    disabled: row.get(4)?,
                })
            },
        )
    }

    /// Every stored session, expired or not.
    pub fn sessions(&self) -> Result<Vec<SessionRow>, StoreError> {
        self.all(
            "SELECT hash, user, csrf, created, expires FROM sessions ORDER BY created",
            |row| {
                Ok(SessionRow {
                    hash: row.get(0)?,
                    user: row.get(1)?,
                    csrf: row.get(2)?,
                    created: row.get(3)?,
                    expires: row.get(4)?,
                })
            },
        )
    }

    /// Every row `sql` selects, each made by `make`.
    fn all<T>(
        &self,
        sql: &str,
        make: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut query = self.connection.prepare(sql).map_err(|e| self.sqlite(e))?;
        let rows = query.query_map([], make).map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Whether a credential with this number is stored.
    pub fn credential_exists(&self, number: &str) -> Result<bool, StoreError> {
        self.connection
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM credentials WHERE number = ?1)",
                params![number],
                |row| row.get(0),
            )
            .map_err(|e| self.sqlite(e))
    }
}

/// A full-text query in which each word of `search` must start a word (FTS5 prefixes, each
/// quoted), or `None` when it has no word.
fn fts_query(search: &str) -> Option<String> {
    let words: Vec<String> = search
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A credential from `SELECT number, holder, doors, levels, schedule, valid_from,
/// valid_until, responder, disabled, staff, pin, duress_pin, uses`.
fn credential_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CredentialRow> {
    let doors: String = row.get(2)?;
    let levels: String = row.get(3)?;
    Ok(CredentialRow {
        number: row.get(0)?,
        holder: row.get(1)?,
        doors: decode_ids(&doors),
        levels: levels
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        schedule: row.get(4)?,
        valid_from: row.get(5)?,
        valid_until: row.get(6)?,
        responder: row.get(7)?,
        disabled: row.get(8)?,
        staff: row.get(9)?,
        pin: row.get(10)?,
        duress_pin: row.get(11)?,
        uses: row.get(12)?,
    })
}

/// An event from `SELECT seq, at, kind, door, credential, reason, circuit, hash, source,
/// actor, detail`.
fn event_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: row.get::<_, i64>(0)? as u64,
        event: NewEvent {
            at: row.get(1)?,
            kind: row.get(2)?,
            door: row.get(3)?,
            credential: row.get(4)?,
            reason: row.get(5)?,
            circuit: row.get(6)?,
            source: row.get(8)?,
            actor: row.get(9)?,
            detail: row.get(10)?,
        },
        hash: row.get(7)?,
    })
}

fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sqlite)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        // Each migration and its version bump commit together, or not at all.
        let transaction = connection.transaction().map_err(sqlite)?;
        transaction.execute_batch(migration).map_err(sqlite)?;
        transaction
            .pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(sqlite)?;
        transaction.commit().map_err(sqlite)?;
    }
    Ok(())
}

/// SHA-256 over the previous hash and the event's fields, each length-prefixed so that no two
/// different events encode alike.
/// What is hashed of a record, fed to a plain or a keyed hash.
trait Feed {
    fn feed(&mut self, bytes: &[u8]);
}

impl Feed for Sha256 {
    fn feed(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
}

impl Feed for keyed::HmacSha256 {
    fn feed(&mut self, bytes: &[u8]) {
        Mac::update(self, bytes);
    }
}

fn keyed_chain_hash(key: &LogKey, previous: &[u8; 32], seq: u64, event: &NewEvent) -> [u8; 32] {
    let mut mac = key.mac();
    feed_record(&mut mac, previous, seq, event);
    mac.finalize().into_bytes().into()
}

fn chain_hash(previous: &[u8; 32], seq: u64, event: &NewEvent) -> [u8; 32] {
    let mut hasher = Sha256::new();
    feed_record(&mut hasher, previous, seq, event);
    hasher.finalize().into()
}

fn feed_record(hasher: &mut impl Feed, previous: &[u8; 32], seq: u64, event: &NewEvent) {
    hasher.feed(previous);
    hasher.feed(&seq.to_be_bytes());
    hasher.feed(&event.at.to_be_bytes());
    for field in [
        Some(&event.kind),
        event.door.as_ref(),
        event.credential.as_ref(),
        event.reason.as_ref(),
        event.circuit.as_ref(),
    ] {
        hash_field(hasher, field);
    }
    // Added in schema 2: a record without any of them hashes as it did before.
    let later = [
        event.source.as_ref(),
        event.actor.as_ref(),
        event.detail.as_ref(),
    ];
    if later.iter().any(Option::is_some) {
        hasher.feed(&[2]);
        for field in later {
            hash_field(hasher, field);
        }
    }
}

fn hash_field(hasher: &mut impl Feed, field: Option<&String>) {
    match field {
        Some(text) => {
            hasher.feed(&[1]);
            hasher.feed(&(text.len() as u64).to_be_bytes());
            hasher.feed(text.as_bytes());
        }
        None => hasher.feed(&[0]),
    }
}

pub(crate) fn encode_hash(hash: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in hash {
        hex.push(DIGITS[(byte >> 4) as usize] as char);
        hex.push(DIGITS[(byte & 0xf) as usize] as char);
    }
    hex
}

pub(crate) fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Ids as `a;b;c`, or `*` for all. Ids cannot contain `;` (site format, "Ids").
fn encode_ids(ids: Option<&[String]>) -> String {
    match ids {
        None => "*".to_string(),
        Some(ids) => ids.join(";"),
    }
}

fn decode_ids(text: &str) -> Option<Vec<String>> {
    if text == "*" {
        return None;
    }
    Some(
        text.split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keyway-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn event(i: i64) -> NewEvent {
        NewEvent {
            at: 1_780_000_000_000 + i,
            kind: "access_granted".to_string(),
            door: Some("front".to_string()),
            credential: Some(format!("{i}")),
            reason: None,
            circuit: None,
            source: Some("api".to_string()),
            actor: Some("admin".to_string()),
            detail: None,
        }
    }

    #[test]
    fn the_log_is_searched_by_door_kind_credential_holder_actor_and_time_newest_first() {
        let dir = std::env::temp_dir().join(format!("keyway-store-search-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).unwrap();
        let events: Vec<NewEvent> = (1..=40)
            .map(|i| NewEvent {
                door: Some(if i % 2 == 0 { "front" } else { "rear" }.to_string()),
                kind: if i % 5 == 0 {
                    "access_denied"
                } else {
                    "access_granted"
                }
                .to_string(),
                credential: Some(format!("{}", i % 4)),
                actor: Some(if i > 30 { "olga" } else { "admin" }.to_string()),
                ..event(i)
            })
            .collect();
        store.append(events).unwrap();
        store
            .put_credentials(&[CredentialRow {
                number: "3".into(),
                holder: "Ann 100%_Smith".into(),
                doors: None,
                levels: Vec::new(),
                schedule: None,
                valid_from: None,
                valid_until: None,
                responder: false,
                disabled: false,
                staff: false,
                pin: None,
                duress_pin: None,
                uses: None,
            }])
            .unwrap();
        let seqs = |filter: &EventFilter, before: u64, limit: usize| -> Vec<u64> {
            store
                .events_matching(filter, before, limit)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        let front_denied = EventFilter {
            door: Some("front".into()),
            kind: Some("access_denied".into()),
            ..EventFilter::default()
        };
        assert_eq!(seqs(&front_denied, u64::MAX, 100), [40, 30, 20, 10]);
        assert_eq!(seqs(&front_denied, 30, 2), [20, 10], "the next page back");
        let holder = store.credentials_of_holder("100%_s", 10).unwrap();
        assert_eq!(holder, ["3"], "each word starts a word of the name");
        assert!(store.credentials_of_holder("1000", 10).unwrap().is_empty());
        let of_holder = EventFilter {
            credentials: Some(holder),
            actor: Some("olga".into()),
            ..EventFilter::default()
        };
        assert_eq!(seqs(&of_holder, u64::MAX, 100), [39, 35, 31]);
        let window = EventFilter {
            since: Some(1_780_000_000_000 + 5),
            until: Some(1_780_000_000_000 + 8),
            ..EventFilter::default()
        };
        assert_eq!(seqs(&window, u64::MAX, 100), [7, 6, 5]);
        let nobody = EventFilter {
            credentials: Some(Vec::new()),
            ..EventFilter::default()
        };
        assert!(seqs(&nobody, u64::MAX, 100).is_empty());
    }

    #[test]
    fn credentials_are_found_by_any_word_of_the_holder_or_the_start_of_the_number() {
        let dir = std::env::temp_dir().join(format!("keyway-store-people-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).unwrap();
        let row = |number: &str, holder: &str| CredentialRow {
            number: number.into(),
            holder: holder.into(),
            doors: None,
            levels: Vec::new(),
            schedule: None,
            valid_from: None,
            valid_until: None,
            responder: false,
            disabled: false,
            staff: false,
            pin: None,
            duress_pin: None,
            uses: None,
        };
        store
            .put_credentials(&[
                row("1001", "Ann Smith"),
                row("2002", "Bob Smith"),
                row("3003", "Ann Lee"),
            ])
            .unwrap();
        // Replaced and removed rows leave the index too.
        store.put_credentials(&[row("1001", "Zoë Smyth")]).unwrap();
        let numbers = |store: &Store, search: Option<&str>, after: Option<&str>, limit| {
            let (page, next) = store.credentials_page(search, after, limit).unwrap();
            (page.into_iter().map(|r| r.number).collect::<Vec<_>>(), next)
        };
        assert_eq!(numbers(&store, Some("smith"), None, 10).0, ["2002"]);
        assert_eq!(
            numbers(&store, Some("zoe SMY"), None, 10).0,
            ["1001"],
            "any case, no accents"
        );
        assert_eq!(numbers(&store, Some("100"), None, 10).0, ["1001"]);
        assert_eq!(numbers(&store, Some("ann"), None, 10).0, ["3003"]);
        assert_eq!(
            numbers(&store, Some("\"quoted\""), None, 10).0,
            Vec::<String>::new()
        );
        let (first, next) = numbers(&store, None, None, 2);
        assert_eq!(
            (first, next.as_deref()),
            (vec!["1001".to_string(), "2002".to_string()], Some("2002"))
        );
        assert_eq!(
            numbers(&store, None, Some("2002"), 2),
            (vec!["3003".to_string()], None)
        );
        store.delete_credential("2002").unwrap();
        assert!(numbers(&store, Some("smith"), None, 10).0.is_empty());
    }

    #[test]
    fn the_database_and_its_wal_are_for_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("keyway-store-mode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).unwrap();
        store.append(vec![event(1)]).unwrap();
        for file in [DATABASE_FILE, "keyway.db-wal"] {
            let mode = std::fs::metadata(dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    #[test]
    fn a_data_directory_is_locked_by_one_process_at_a_time() {
        let dir = std::env::temp_dir().join(format!("keyway-store-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = DataDirLock::acquire(&dir, "keyway serve").unwrap();
        // A second open file description on the same lock file is refused, naming the first.
        let error = DataDirLock::acquire(&dir, "keyway import-credentials").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&format!("keyway serve, process {}", std::process::id())),
            "{text}"
        );
        drop(first);
        DataDirLock::acquire(&dir, "keyway import-credentials").unwrap();
    }

    fn keyed_store(name: &str, events: i64) -> (PathBuf, Store, LogKey) {
        let dir = std::env::temp_dir().join(format!("keyway-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let key = LogKey::load_or_create(&dir.join(KEY_FILE)).unwrap();
        let mut store = Store::open(&dir).unwrap();
        store.use_key(key.clone()).unwrap();
        store.append((1..=events).map(event).collect()).unwrap();
        store.write_checkpoint().unwrap();
        (dir, store, key)
    }

    fn reopen(dir: &Path, key: &LogKey) -> Store {
        let mut store = Store::open(dir).unwrap();
        store.read_with_key(key.clone());
        store
    }

    fn sql(dir: &Path, statement: &str) {
        Connection::open(dir.join(DATABASE_FILE))
            .unwrap()
            .execute_batch(statement)
            .unwrap();
    }

    #[test]
    fn a_keyed_log_verifies_and_its_key_and_checkpoints_live_outside_the_database() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store, key) = keyed_store("keyed", 5);
        assert_eq!(
            store.verify().unwrap(),
            Verification::Intact {
                events: 5,
                unkeyed: 0
            }
        );
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let checkpoint = Checkpoints::in_dir(&dir).last(&key).unwrap().unwrap();
        assert_eq!(checkpoint.seq, 5);
        // Without its key the log cannot be verified, and says why.
        let error = Store::open(&dir).unwrap().verify().unwrap_err().to_string();
        assert!(error.contains("key"), "{error}");
    }

    #[test]
    fn a_record_rewritten_and_everything_after_it_rehashed_is_found() {
        let (dir, store, key) = keyed_store("rehash", 5);
        // Someone who can write the database, without the key: changes record 3 and redoes
        // the plain SHA-256 chain from there, as the old format would have let them.
        let mut events = store.events_after(0, 10).unwrap();
        drop(store);
        events[2].event.kind = "access_denied".to_string();
        let mut previous = decode_hash(&events[1].hash).unwrap();
        for stored in &mut events[2..] {
            let hash = chain_hash(&previous, stored.seq, &stored.event);
            sql(
                &dir,
                &format!(
                    "UPDATE events SET kind = '{}', hash = '{}' WHERE seq = {}",
                    stored.event.kind,
                    encode_hash(&hash),
                    stored.seq
                ),
            );
            previous = hash;
        }
        let verdict = reopen(&dir, &key).verify().unwrap();
        assert!(
            matches!(verdict, Verification::Broken { seq: 3, .. }),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_truncated_tail_and_a_deleted_log_are_found() {
        let (dir, store, key) = keyed_store("truncated", 5);
        drop(store);
        sql(&dir, "DELETE FROM events WHERE seq > 3");
        let verdict = reopen(&dir, &key).verify_tail(100).unwrap();
        let Verification::Broken { seq: 5, problem } = verdict else {
            panic!("{verdict:?}");
        };
        assert!(
            problem.contains("ends at record 3") && problem.contains("4-5"),
            "{problem}"
        );
        sql(&dir, "DELETE FROM events");
        let verdict = reopen(&dir, &key).verify().unwrap();
        assert!(
            matches!(verdict, Verification::Broken { seq: 5, .. }),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_log_from_before_the_key_says_how_much_of_it_is_unkeyed() {
        let dir = std::env::temp_dir().join(format!("keyway-store-legacy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).unwrap();
        store.append(vec![event(1), event(2)]).unwrap();
        let key = LogKey::load_or_create(&dir.join(KEY_FILE)).unwrap();
        store.use_key(key.clone()).unwrap();
        store.append(vec![event(3)]).unwrap();
        drop(store);
        assert_eq!(
            reopen(&dir, &key).verify().unwrap(),
            Verification::Intact {
                events: 3,
                unkeyed: 2
            }
        );
    }

    #[test]
    fn a_changed_user_loses_their_sessions_and_a_deleted_one_all_of_them() {
        let dir = std::env::temp_dir().join(format!("keyway-store-users-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).unwrap();
        let user = |name: &str, role: &str| UserRow {
            name: name.to_string(),
            role: role.to_string(),
            password: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string(),
            created: 1,
            disabled: false,
        };
        let session = |hash: &str, user: &str, expires: i64| {
            AccountChange::PutSession(SessionRow {
                hash: hash.to_string(),
                user: user.to_string(),
                csrf: "c".to_string(),
                created: 1,
                expires,
            })
        };
        let put = |user: UserRow, keep_sessions| AccountChange::PutUser {
            user,
            keep_sessions,
        };
        assert!(
            !store
                .change_accounts(&put(user("ann", "admin"), false))
                .unwrap()
        );
        store
            .change_accounts(&put(user("bob", "viewer"), false))
            .unwrap();
        store.change_accounts(&session("s1", "ann", 100)).unwrap();
        store.change_accounts(&session("s2", "bob", 100)).unwrap();
        store.change_accounts(&session("s3", "bob", 50)).unwrap();
        // A new password keeping the sessions (the user's own sign-in), then a role change.
        assert!(
            store
                .change_accounts(&put(user("ann", "admin"), true))
                .unwrap()
        );
        assert_eq!(store.sessions().unwrap().len(), 3);
        assert!(
            store
                .change_accounts(&put(user("ann", "operator"), false))
                .unwrap()
        );
        let hashes = |store: &Store| -> Vec<String> {
            store
                .sessions()
                .unwrap()
                .into_iter()
                .map(|s| s.hash)
                .collect()
        };
        assert_eq!(hashes(&store), ["s2", "s3"]);
        assert!(
            store
                .change_accounts(&AccountChange::DeleteExpiredSessions(50))
                .unwrap()
        );
        assert_eq!(hashes(&store), ["s2"]);
        assert!(
            store
                .change_accounts(&AccountChange::DeleteUser("bob".into()))
                .unwrap()
        );
        assert!(hashes(&store).is_empty());
        assert!(
            !store
                .change_accounts(&AccountChange::DeleteUser("bob".into()))
                .unwrap()
        );
        drop(store);
        let store = Store::open(&dir).unwrap();
        let users = store.users().unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(
            (users[0].name.as_str(), users[0].role.as_str()),
            ("ann", "operator")
        );
    }

    #[test]
    fn a_forged_checkpoint_is_refused() {
        let (dir, store, key) = keyed_store("forged", 2);
        drop(store);
        std::fs::write(dir.join(CHECKPOINT_FILE), "2 abcd 0000\n").unwrap();
        let verdict = reopen(&dir, &key).verify().unwrap();
        let Verification::Broken { problem, .. } = verdict else {
            panic!("{verdict:?}");
        };
        assert!(problem.contains("signature"), "{problem}");
    }

    #[test]
    fn a_record_from_before_sources_hashes_as_it_did() {
        // The hash of the first record of a schema-1 log, as schema 1 computed it.
        let old = NewEvent {
            at: 1_780_000_000_000,
            kind: "access_granted".to_string(),
            door: Some("front".to_string()),
            credential: Some("0".to_string()),
            ..NewEvent::default()
        };
        let with_source = NewEvent {
            source: Some("api".to_string()),
            ..old.clone()
        };
        assert_ne!(
            chain_hash(&[0; 32], 1, &old),
            chain_hash(&[0; 32], 1, &with_source)
        );
        let mut expected = Sha256::new();
        expected.update([0u8; 32]);
        expected.update(1u64.to_be_bytes());
        expected.update(1_780_000_000_000i64.to_be_bytes());
        for text in [Some("access_granted"), Some("front"), Some("0"), None, None] {
            match text {
                Some(text) => {
                    expected.update([1]);
                    expected.update((text.len() as u64).to_be_bytes());
                    expected.update(text.as_bytes());
                }
                None => expected.update([0]),
            }
        }
        let expected: [u8; 32] = expected.finalize().into();
        assert_eq!(chain_hash(&[0; 32], 1, &old), expected);
    }

    #[test]
    fn appended_events_survive_reopening_and_the_chain_verifies() {
        let dir = temp_dir("reopen");
        {
            let mut store = Store::open(&dir).unwrap();
            let stored = store.append(vec![event(1), event(2)]).unwrap();
            assert_eq!(stored.iter().map(|s| s.seq).collect::<Vec<_>>(), [1, 2]);
        }
        let mut store = Store::open(&dir).unwrap();
        assert_eq!(store.last_seq(), 2);
        let stored = store.append(vec![event(3)]).unwrap();
        assert_eq!(stored[0].seq, 3);
        assert_eq!(store.events_after(1, 10).unwrap().len(), 2);
        assert_eq!(
            store.verify().unwrap(),
            Verification::Intact {
                events: 3,
                unkeyed: 3
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_tampered_record_is_named() {
        let dir = temp_dir("tamper");
        let mut store = Store::open(&dir).unwrap();
        store
            .append((1..=5).map(event).collect::<Vec<_>>())
            .unwrap();
        store
            .connection
            .execute("UPDATE events SET credential = 'forged' WHERE seq = 3", [])
            .unwrap();
        assert!(matches!(
            store.verify().unwrap(),
            Verification::Broken { seq: 3, .. }
        ));
        store
            .connection
            .execute("DELETE FROM events WHERE seq IN (2, 3)", [])
            .unwrap();
        match store.verify().unwrap() {
            Verification::Broken { seq: 4, problem } => {
                assert!(problem.contains("record 2 is missing"), "{problem}")
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn credentials_state_and_tokens_round_trip() {
        let dir = temp_dir("rows");
        let mut store = Store::open(&dir).unwrap();
        let alice = CredentialRow {
            number: "123:4567".into(),
            holder: "Alice".into(),
            doors: Some(vec!["front".into(), "server".into()]),
            levels: vec!["cleaners".into()],
            schedule: Some("business-hours".into()),
            valid_from: Some(1),
            valid_until: None,
            responder: false,
            disabled: false,
            staff: false,
            pin: None,
            duress_pin: None,
            uses: None,
        };
        let fire = CredentialRow {
            number: "911".into(),
            holder: "Fire".into(),
            doors: None,
            levels: vec![],
            schedule: None,
            valid_from: None,
            valid_until: None,
            responder: true,
            disabled: false,
            staff: false,
            pin: None,
            duress_pin: None,
            uses: None,
        };
        store
            .put_credentials(&[alice.clone(), fire.clone()])
            .unwrap();
        assert_eq!(store.credentials().unwrap(), [alice.clone(), fire]);
        assert!(store.delete_credential("911").unwrap());
        assert!(!store.delete_credential("911").unwrap());
        store.set_state("lockdown", Some("1")).unwrap();
        store.set_state("hold:front", Some("unlock")).unwrap();
        store.set_state("hold:front", None).unwrap();
        let token = TokenRow {
            hash: "abc".to_string(),
            role: "admin".to_string(),
            created: 0,
            name: "front desk".to_string(),
            from_env: false,
        };
        store.put_token(&token).unwrap();
        let other = TokenRow {
            hash: "def".to_string(),
            name: "gone".to_string(),
            ..token.clone()
        };
        store.put_token(&other).unwrap();
        assert!(store.delete_token("def").unwrap());
        assert!(!store.delete_token("def").unwrap());
        assert!(store.credential_exists("123:4567").unwrap());
        assert!(!store.credential_exists("911").unwrap());
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.credentials().unwrap(), [alice]);
        assert_eq!(
            store.state().unwrap(),
            [("lockdown".to_string(), "1".to_string())]
        );
        assert_eq!(store.tokens().unwrap(), [token]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_database_from_a_newer_keyway_is_refused() {
        let dir = temp_dir("newer");
        drop(Store::open(&dir).unwrap());
        let connection = Connection::open(dir.join(DATABASE_FILE)).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        drop(connection);
        assert!(matches!(
            Store::open(&dir),
            Err(StoreError::TooNew { found: 99, .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
