//! What makes the audit log tamper-evident against someone who can write the database: the
//! chain is an HMAC-SHA-256 under a key kept outside the database (its own file, mode 0600),
//! and signed checkpoints (sequence number and hash) are appended to a file outside the
//! database as the log grows. A rewritten record cannot be rehashed without the key, and a
//! truncated or deleted log is told by the last checkpoint that names a record it lacks.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{StoreError, decode_hash, encode_hash};

/// The key file's name in the data directory, unless a path is given.
pub const KEY_FILE: &str = "audit.key";

/// The checkpoints' file in the data directory.
pub const CHECKPOINT_FILE: &str = "audit.checkpoints";

/// A checkpoint is written each time the log passes a multiple of this many records, and
/// when the daemon stops.
pub const CHECKPOINT_EVERY: u64 = 1_000;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The audit log's key: 32 random bytes.
#[derive(Clone)]
pub struct LogKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogKey(…)")
    }
}

fn key_error(path: &Path, problem: impl Into<String>) -> StoreError {
    StoreError::Key {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

impl LogKey {
    /// Reads the key at `path`.
    pub fn load(path: &Path) -> Result<LogKey, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| key_error(path, e.to_string()))?;
        decode_hash(text.trim())
            .map(LogKey)
            .ok_or_else(|| key_error(path, "expected 64 hex digits"))
    }

    /// Reads the key at `path`, or, when there is no file there, makes one (mode 0600).
    pub fn load_or_create(path: &Path) -> Result<LogKey, StoreError> {
        if path.exists() {
            return LogKey::load(path);
        }
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .map_err(|e| key_error(path, format!("no random bytes: {e}")))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| key_error(path, e.to_string()))?;
        }
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| key_error(path, e.to_string()))?;
        writeln!(file, "{}", encode_hash(&bytes))
            .and_then(|()| file.sync_all())
            .map_err(|e| key_error(path, e.to_string()))?;
        Ok(LogKey(bytes))
    }

    pub(crate) fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }

    fn checkpoint_mac(&self, seq: u64, hash: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"keyway checkpoint");
        mac.update(&seq.to_be_bytes());
        mac.update(hash.as_bytes());
        encode_hash(&mac.finalize().into_bytes().into())
    }
}

/// One signed checkpoint: the log had record `seq` with `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
}

/// The checkpoints' file of a data directory.
#[derive(Debug)]
pub struct Checkpoints {
    path: PathBuf,
}

impl Checkpoints {
    pub fn in_dir(dir: &Path) -> Checkpoints {
        Checkpoints {
            path: dir.join(CHECKPOINT_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a checkpoint and syncs it.
    pub fn append(&self, key: &LogKey, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| key_error(&self.path, e.to_string()))?;
        writeln!(
            file,
            "{} {} {}",
            checkpoint.seq,
            checkpoint.hash,
            key.checkpoint_mac(checkpoint.seq, &checkpoint.hash)
        )
        .and_then(|()| file.sync_data())
        .map_err(|e| key_error(&self.path, e.to_string()))
    }

    /// The last checkpoint whose signature holds; `Err` names a line that is signed wrongly
    /// (a forged or edited checkpoint). `Ok(None)` when there is no file or no checkpoint.
    pub fn last(&self, key: &LogKey) -> Result<Option<Checkpoint>, String> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Ok(None);
        };
        let mut last = None;
        for (i, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split(' ').collect();
            let parsed = match fields.as_slice() {
                [seq, hash, mac] => seq.parse::<u64>().ok().map(|seq| (seq, *hash, *mac)),
                _ => None,
            };
            // A line cut short by a crash mid-write is the last one: it is ignored.
            let Some((seq, hash, mac)) = parsed else {
                if i + 1 == text.lines().count() {
                    break;
                }
                return Err(format!(
                    "{} line {}: not a checkpoint",
                    self.path.display(),
                    i + 1
                ));
            };
            if key.checkpoint_mac(seq, hash) != mac {
                return Err(format!(
                    "{} line {}: the checkpoint's signature does not match (edited, or another key)",
                    self.path.display(),
                    i + 1
                ));
            }
            last = Some(Checkpoint {
                seq,
                hash: hash.to_string(),
            });
        }
        Ok(last)
    }
}
