//! What the writer needs of storage, behind a small trait, so that faults are inputs too:
//! `keyway_store::Store` is the real one, `FaultyStorage` wraps any storage and fails, stalls
//! or holds its writes on command (a full disk, a disk that turns read-only, an fsync that
//! takes 100 ms).

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use keyway_store::{
    AccountChange, CredentialRow, LevelChange, LevelOutcome, NewEvent, ScheduleChange, Store,
    StoreError, StoredEvent, TokenRow, WebhookChange,
};

/// One item of the latched operator state: a key set to a value, or with `None` cleared.
pub type StateChange = (String, Option<String>);

/// The writes the daemon makes.
pub trait Storage: Send {
    /// Appends the events and applies the state changes in one transaction: all or nothing.
    fn commit(
        &mut self,
        events: &[NewEvent],
        state: &[StateChange],
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Stores the rows in one transaction; for a single row, says whether it replaced one.
    fn put_credentials(&mut self, rows: &[CredentialRow]) -> Result<bool, StoreError>;
    fn delete_credential(&mut self, number: &str) -> Result<bool, StoreError>;
    fn put_token(&mut self, token: &TokenRow) -> Result<(), StoreError>;
    fn delete_token(&mut self, hash: &str) -> Result<bool, StoreError>;
    /// A change to the console's users and sessions; says whether it replaced or removed one.
    fn change_accounts(&mut self, change: &AccountChange) -> Result<bool, StoreError>;
    fn change_access_level(&mut self, change: &LevelChange) -> Result<LevelOutcome, StoreError>;
    fn change_schedule(&mut self, change: &ScheduleChange) -> Result<LevelOutcome, StoreError>;
    /// A webhook endpoint added or removed, or a delivery's outcome; says whether the
    /// endpoint was there.
    fn change_webhook(&mut self, change: &WebhookChange) -> Result<bool, StoreError>;
    /// The writer stops: a last signed checkpoint of the log.
    fn finish(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Storage for Store {
    fn commit(
        &mut self,
        events: &[NewEvent],
        state: &[StateChange],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Store::commit(self, events, state)
    }

    fn put_credentials(&mut self, rows: &[CredentialRow]) -> Result<bool, StoreError> {
        let replaced = match rows {
            [row] => self.credential_exists(&row.number)?,
            _ => false,
        };
        Store::put_credentials(self, rows)?;
        Ok(replaced)
    }

    fn delete_credential(&mut self, number: &str) -> Result<bool, StoreError> {
        Store::delete_credential(self, number)
    }

    fn put_token(&mut self, token: &TokenRow) -> Result<(), StoreError> {
        Store::put_token(self, token)
    }

    fn delete_token(&mut self, hash: &str) -> Result<bool, StoreError> {
        Store::delete_token(self, hash)
    }

    fn change_access_level(&mut self, change: &LevelChange) -> Result<LevelOutcome, StoreError> {
        Store::change_access_level(self, change)
    }

    fn change_schedule(&mut self, change: &ScheduleChange) -> Result<LevelOutcome, StoreError> {
        Store::change_schedule(self, change)
    }

    fn change_accounts(&mut self, change: &AccountChange) -> Result<bool, StoreError> {
        Store::change_accounts(self, change)
    }

    fn change_webhook(&mut self, change: &WebhookChange) -> Result<bool, StoreError> {
        Store::change_webhook(self, change)
    }

    fn finish(&mut self) -> Result<(), StoreError> {
        self.write_checkpoint()
    }
}

/// The kind of failure a `FaultyStorage` answers with, as SQLite words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `database or disk is full`
    DiskFull,
    /// `disk I/O error` (a failing disk, or one remounted read-only)
    Io,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Writes that still succeed before `fault` applies (`None`: all fail while `fault`).
    succeed_first: Option<u64>,
    fault: Option<Fault>,
    stall: Duration,
    held: bool,
    writes: u64,
    failed: u64,
}

/// The switchboard of a `FaultyStorage`, kept by the test (cloning shares it).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<(Mutex<FaultState>, Condvar)>,
}

impl Faults {
    fn with<T>(&self, f: impl FnOnce(&mut FaultState) -> T) -> T {
        let mut state = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        let value = f(&mut state);
        self.inner.1.notify_all();
        value
    }

    /// Every write fails with `fault` from now on, until `heal`.
    pub fn fail(&self, fault: Fault) {
        self.with(|s| {
            s.fault = Some(fault);
            s.succeed_first = None;
        });
    }

    /// `n` more writes succeed, then every write fails with `fault` until `heal`.
    pub fn fail_after(&self, n: u64, fault: Fault) {
        self.with(|s| {
            s.fault = Some(fault);
            s.succeed_first = Some(n);
        });
    }

    /// Writes succeed again.
    pub fn heal(&self) {
        self.with(|s| {
            s.fault = None;
            s.succeed_first = None;
        });
    }

    /// Every write takes `stall` longer (an fsync that stalls), on the real clock.
    pub fn stall(&self, stall: Duration) {
        self.with(|s| s.stall = stall);
    }

    /// Writes wait, without failing, until `release`: a disk that stalls for as long as a
    /// test needs, without a timer.
    pub fn hold(&self) {
        self.with(|s| s.held = true);
    }

    pub fn release(&self) {
        self.with(|s| s.held = false);
    }

    /// How many writes were asked for, and how many of them failed.
    pub fn counts(&self) -> (u64, u64) {
        self.with(|s| (s.writes, s.failed))
    }

    /// Waits for a held write to come, then returns (for tests: the writer is blocked now).
    pub fn wait_for_held_write(&self, writes_before: u64) {
        let mut state = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        while state.writes <= writes_before {
            state = self.inner.1.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Runs before each write: `Err` when this write is to fail.
    fn before_write(&self) -> Result<(), Fault> {
        let stall = {
            let mut state = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
            state.writes += 1;
            self.inner.1.notify_all();
            while state.held {
                state = self.inner.1.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            let outcome = match (state.fault, state.succeed_first) {
                (None, _) => Ok(()),
                (Some(_), Some(n)) if n > 0 => {
                    state.succeed_first = Some(n - 1);
                    Ok(())
                }
                (Some(fault), _) => Err(fault),
            };
            if outcome.is_err() {
                state.failed += 1;
            }
            outcome.map(|()| state.stall)
        }?;
        if !stall.is_zero() {
            std::thread::sleep(stall);
        }
        Ok(())
    }
}

/// A storage that fails, stalls or holds its writes as its `Faults` say.
#[derive(Debug)]
pub struct FaultyStorage<S> {
    inner: S,
    faults: Faults,
    path: PathBuf,
}

impl<S: Storage> FaultyStorage<S> {
    /// `path` is named in the errors it answers.
    pub fn new(inner: S, faults: Faults, path: PathBuf) -> FaultyStorage<S> {
        FaultyStorage {
            inner,
            faults,
            path,
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        self.faults.before_write().map_err(|fault| match fault {
            Fault::DiskFull => StoreError::disk_full(&self.path),
            Fault::Io => StoreError::io_failure(&self.path),
        })
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    fn commit(
        &mut self,
        events: &[NewEvent],
        state: &[StateChange],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.check()?;
        self.inner.commit(events, state)
    }

    fn put_credentials(&mut self, rows: &[CredentialRow]) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.put_credentials(rows)
    }

    fn delete_credential(&mut self, number: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete_credential(number)
    }

    fn put_token(&mut self, token: &TokenRow) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_token(token)
    }

    fn delete_token(&mut self, hash: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete_token(hash)
    }

    fn change_accounts(&mut self, change: &AccountChange) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.change_accounts(change)
    }

    fn change_access_level(&mut self, change: &LevelChange) -> Result<LevelOutcome, StoreError> {
        self.check()?;
        self.inner.change_access_level(change)
    }

    fn change_schedule(&mut self, change: &ScheduleChange) -> Result<LevelOutcome, StoreError> {
        self.check()?;
        self.inner.change_schedule(change)
    }

    fn change_webhook(&mut self, change: &WebhookChange) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.change_webhook(change)
    }

    fn finish(&mut self) -> Result<(), StoreError> {
        self.inner.finish()
    }
}
