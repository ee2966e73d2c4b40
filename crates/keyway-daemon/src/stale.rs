//! Stored state that refers to what the site file no longer has: an operator hold on a door
//! that was removed, a credential naming a removed door, schedule or access level. Found at
//! start, reported in the log and as a `stale_state` event, listed by `GET /api/stale`, and
//! cleared by `POST /api/stale/clear`. Nothing of it is dropped silently: a hold on a removed
//! door is kept (it would come back if the door did) until it is cleared, and a credential
//! with one removed door still works at the doors that exist.

use keyway_store::CredentialRow;
use serde::Serialize;

use crate::service::{SiteIds, credential_from_row};

/// At most this many stale credentials are listed (and cleared at once); the count is kept.
pub const MAX_LISTED: usize = 1_000;

/// An operator hold on a door the site no longer has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaleHold {
    pub door: String,
    pub hold: String,
}

/// A stored credential that names what the site no longer has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaleCredential {
    pub number: String,
    /// Door ids it names that the site does not have; it works at the others.
    pub missing_doors: Vec<String>,
    /// Why it is not loaded at all (a missing schedule or access level), if it is not.
    pub not_loaded: Option<String>,
    /// The row as it is once the missing doors are taken out (what clearing stores).
    #[serde(skip)]
    pub without_missing: Option<CredentialRow>,
}

/// Everything stale found at start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StaleState {
    pub holds: Vec<StaleHold>,
    pub credentials: Vec<StaleCredential>,
    /// All the stale credentials, listed or not.
    pub credentials_total: usize,
}

impl StaleState {
    pub fn is_empty(&self) -> bool {
        self.holds.is_empty() && self.credentials_total == 0
    }

    /// In words, for the log and the `stale_state` event.
    pub fn summary(&self) -> String {
        format!(
            "{} operator holds and {} credentials refer to what the site no longer has",
            self.holds.len(),
            self.credentials_total
        )
    }

    fn note(&mut self, credential: StaleCredential) {
        self.credentials_total += 1;
        if self.credentials.len() < MAX_LISTED {
            self.credentials.push(credential);
        }
    }
}

/// A stored credential for this site: the doors the site lacks are left out (and noted), and
/// a missing schedule or access level keeps it from loading (and is noted): a credential
/// that opened more than written would be worse than one that opens less.
pub fn load_credential(
    ids: &SiteIds,
    row: CredentialRow,
    stale: &mut StaleState,
) -> Option<keyway_core::credentials::NewCredential> {
    let missing: Vec<String> = row
        .doors
        .iter()
        .flatten()
        .filter(|id| !ids.has_door(id))
        .cloned()
        .collect();
    let row = if missing.is_empty() {
        row
    } else {
        CredentialRow {
            doors: row
                .doors
                .map(|doors| doors.into_iter().filter(|id| ids.has_door(id)).collect()),
            ..row
        }
    };
    match credential_from_row(ids, &row) {
        Ok(credential) => {
            if !missing.is_empty() {
                stale.note(StaleCredential {
                    number: row.number.clone(),
                    missing_doors: missing,
                    not_loaded: None,
                    without_missing: Some(row),
                });
            }
            Some(credential)
        }
        Err(problem) => {
            stale.note(StaleCredential {
                number: row.number.clone(),
                missing_doors: missing,
                not_loaded: Some(problem),
                without_missing: None,
            });
            None
        }
    }
}
