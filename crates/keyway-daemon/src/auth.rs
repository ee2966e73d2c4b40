//! API tokens and roles. Tokens are random, shown once, and stored only as SHA-256 hashes.

use std::io::Read;

use sha2::{Digest, Sha256};

/// What a token may do; each role may do everything the ones below it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read doors, events and the live stream.
    Viewer,
    /// Also command doors, lockdown, fire reset, and the simulated hardware.
    Operator,
    /// Also manage credentials and tokens.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token: 32 bytes from the kernel's generator, as hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("the kernel's random generator is readable");
    format!(
        "kw_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}
