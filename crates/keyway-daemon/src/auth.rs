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

/// `N` bytes from the kernel's random generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("the kernel's random generator is readable");
    bytes
}

/// `N` random bytes as hex.
pub fn random_hex<const N: usize>() -> String {
    random_bytes::<N>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token: 32 bytes from the kernel's generator, as hex.
pub fn new_token() -> String {
    format!("kw_{}", random_hex::<32>())
}

/// A token as the daemon holds it in memory: its role and its name (the actor its events
/// carry). Its id is the start of its hash: it names the token without revealing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub role: Role,
    pub name: String,
}

/// The id shown for a token: the first 12 hex digits of its hash.
pub fn token_id(hash: &str) -> &str {
    &hash[..12.min(hash.len())]
}

/// The shortest `KEYWAY_ADMIN_TOKEN` taken: 22 characters of a 64-letter alphabet carry 132
/// bits, if they are random.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 22;

/// Whether a token given by hand can carry 128 bits: long enough, and not an obvious
/// pattern (at least 10 different characters). Randomness itself cannot be checked.
pub fn strong_enough(token: &str) -> Result<(), String> {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() < MIN_ADMIN_TOKEN_CHARS {
        return Err(format!(
            "KEYWAY_ADMIN_TOKEN has {} characters; it needs at least {MIN_ADMIN_TOKEN_CHARS} random ones (128 bits), e.g. from `openssl rand -base64 24`",
            chars.len()
        ));
    }
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 10 || chars.iter().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(
            "KEYWAY_ADMIN_TOKEN is a pattern, not random characters (fewer than 10 different characters, or spaces or control characters)".to_string(),
        );
    }
    Ok(())
}

/// A token's or a user's name (`what` says which), as given at its creation: 1 to 64
/// characters, no control characters. It is the actor the log names.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if !(1..=64).contains(&length) || name.chars().any(char::is_control) || name.trim() != name {
        return Err(format!(
            "{what} name {name:?}: expected 1 to 64 characters, no control characters, no spaces at either end"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_or_patterned_admin_token_is_refused() {
        assert!(strong_enough("a").is_err());
        assert!(strong_enough(&"ab".repeat(20)).is_err());
        assert!(strong_enough("hunter2 hunter2 hunter2 x").is_err());
        assert!(strong_enough("q8ZkP2vN7xL0mR4tY6wB9c").is_ok());
        assert!(strong_enough(&new_token()).is_ok());
    }
}
