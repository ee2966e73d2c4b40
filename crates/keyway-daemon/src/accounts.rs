//! The console's operators: users with a role and a password hashed with argon2id, their
//! sessions (a cookie and a CSRF token, ending 12 hours after sign-in, at sign-out, or when
//! an admin changes the user), the sign-in throttle, and the one-time setup code that
//! creates the first admin. No HTTP here: `api::accounts` shapes the requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use keyway_core::physics::Millis;
use keyway_store::{SessionRow, UserRow};

use crate::auth::{Role, hash_token, random_bytes, random_hex};

/// The session cookie's name. HttpOnly, SameSite=Strict, Path=/.
pub const SESSION_COOKIE: &str = "keyway_session";
/// The header every mutating request of a session carries, with the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends this long after sign-in (a long shift), whatever happens in between.
pub const SESSION_LIFETIME: Millis = 12 * 3_600_000;
/// The shortest password taken.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest: argon2 takes any length, a request body does not need to.
pub const MAX_PASSWORD_CHARS: usize = 1_024;
/// Failed sign-ins in a row for one name before it is paused.
pub const FAILURES_BEFORE_PAUSE: u32 = 5;
/// How long a name is paused after that many failures.
pub const PAUSE: Millis = 60_000;
/// Names the throttle remembers at most; past it, it forgets them all (a flood of made-up
/// names cannot grow memory without bound).
const THROTTLE_NAMES: usize = 10_000;
/// The name the setup code's failures are counted under (no user can have it: it has a
/// control character).
const SETUP_THROTTLE: &str = "\u{0}setup";

/// A password's argon2id hash, as a PHC string with its own random salt (RFC 9106's
/// second recommended option's memory is too much for a door controller; the argon2
/// crate's defaults are OWASP's: 19 MiB, 2 passes, 1 lane).
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2id with default parameters hashes any password")
        .to_string()
}

/// Whether `password` is the one `phc` was made from. A malformed stored hash never matches.
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// What a sign-in for an unknown or disabled name is checked against, so that it takes as
/// long as one for a real user (the answer's time does not say which names exist).
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_hex::<16>()))
}

/// A password as the console takes it: 12 to 1,024 characters, not all the same.
pub fn check_password(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password has {length} characters; it needs at least {MIN_PASSWORD_CHARS} (a phrase of a few words is easiest)"
        ));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(format!(
            "the password has {length} characters; at most {MAX_PASSWORD_CHARS} are taken"
        ));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err("the password is one character repeated".to_string());
    }
    Ok(())
}

/// A user as the daemon holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub role: Role,
    pub password: String,
    pub created: Millis,
    pub disabled: bool,
}

impl User {
    pub fn row(&self, name: &str) -> UserRow {
        UserRow {
            name: name.to_string(),
            role: self.role.name().to_string(),
            password: self.password.clone(),
            created: self.created,
            disabled: self.disabled,
        }
    }
}

/// A session as the daemon holds it (keyed by the SHA-256 of its cookie).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub csrf: String,
    pub created: Millis,
    pub expires: Millis,
}

/// A new session: the cookie (given to the browser once) and what is stored.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub cookie: String,
    pub row: SessionRow,
}

/// Who a valid session is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCaller {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub hash: String,
    pub expires: Millis,
}

#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    count: u32,
    paused_until: Millis,
}

/// Why a sign-in is refused before its password is even checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paused {
    pub seconds_left: i64,
}

/// Users, sessions, the throttle and the setup code.
#[derive(Debug, Default)]
pub struct Accounts {
    users: BTreeMap<String, User>,
    sessions: HashMap<String, Session>,
    failures: HashMap<String, Failures>,
    setup_code: Option<String>,
}

impl Accounts {
    /// From the store. Sessions of users no longer there are dropped; a user whose stored
    /// role is not one this version knows is skipped (and said).
    pub fn load(users: Vec<UserRow>, sessions: Vec<SessionRow>) -> Accounts {
        let mut accounts = Accounts::default();
        for row in users {
            let Some(role) = Role::from_name(&row.role) else {
                tracing::warn!(user = %row.name, role = %row.role, "stored user with an unknown role skipped");
                continue;
            };
            accounts.users.insert(
                row.name,
                User {
                    role,
                    password: row.password,
                    created: row.created,
                    disabled: row.disabled,
                },
            );
        }
        for row in sessions {
            if accounts.users.contains_key(&row.user) {
                accounts.sessions.insert(
                    row.hash,
                    Session {
                        user: row.user,
                        csrf: row.csrf,
                        created: row.created,
                        expires: row.expires,
                    },
                );
            }
        }
        accounts
    }

    /// Whether no enabled admin user exists: the console can only be set up.
    pub fn needs_setup(&self) -> bool {
        !self
            .users
            .values()
            .any(|u| u.role == Role::Admin && !u.disabled)
    }

    /// A new setup code when the console needs one (`XXXX-XXXX-XXXX-XXXX`, 80 bits): what
    /// the first visit enters to create the first admin. `None` when an admin exists.
    pub fn issue_setup_code(&mut self) -> Option<String> {
        if !self.needs_setup() {
            self.setup_code = None;
            return None;
        }
        let code = setup_code();
        self.setup_code = Some(code.clone());
        Some(code)
    }

    pub fn setup_pending(&self) -> bool {
        self.setup_code.is_some()
    }

    /// Checks a setup code (case and dashes do not matter); the right one is used up, and
    /// returned (to `restore_setup_code` if what it was for failed).
    pub fn take_setup_code(&mut self, given: &str, now: Millis) -> Result<String, SetupRefusal> {
        let Some(code) = &self.setup_code else {
            return Err(SetupRefusal::Done);
        };
        if let Some(paused) = self.paused(SETUP_THROTTLE, now) {
            return Err(SetupRefusal::Paused(paused));
        }
        let normal = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_uppercase())
                .collect()
        };
        if !constant_time_eq(normal(given).as_bytes(), normal(code).as_bytes()) {
            self.failed(SETUP_THROTTLE, now);
            return Err(SetupRefusal::Wrong);
        }
        self.succeeded(SETUP_THROTTLE);
        self.setup_code.take().ok_or(SetupRefusal::Done)
    }

    /// Makes a taken setup code good again, while no admin exists.
    pub fn restore_setup_code(&mut self, code: String) {
        if self.needs_setup() {
            self.setup_code = Some(code);
        }
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    pub fn users(&self) -> impl Iterator<Item = (&String, &User)> {
        self.users.iter()
    }

    /// Sessions open for `name` now.
    pub fn session_count(&self, name: &str, now: Millis) -> usize {
        self.sessions
            .values()
            .filter(|s| s.user == name && s.expires > now)
            .count()
    }

    /// The stored password hash to check a sign-in against: the user's, or a decoy for a
    /// name that does not exist or is disabled (which then never matches).
    pub fn password_to_check(&self, name: &str) -> (String, bool) {
        match self.users.get(name) {
            Some(user) if !user.disabled => (user.password.clone(), true),
            _ => (decoy_hash().to_string(), false),
        }
    }

    /// `Some` while `name` is paused after failed sign-ins.
    pub fn paused(&self, name: &str, now: Millis) -> Option<Paused> {
        let failures = self.failures.get(name)?;
        (failures.paused_until > now).then(|| Paused {
            seconds_left: (failures.paused_until - now + 999) / 1000,
        })
    }

    /// Counts a failed sign-in; the fifth in a row pauses the name for a minute.
    pub fn failed(&mut self, name: &str, now: Millis) {
        if self.failures.len() >= THROTTLE_NAMES && !self.failures.contains_key(name) {
            self.failures.clear();
        }
        let failures = self.failures.entry(name.to_string()).or_default();
        failures.count += 1;
        if failures.count >= FAILURES_BEFORE_PAUSE {
            failures.count = 0;
            failures.paused_until = now + PAUSE;
        }
    }

    pub fn succeeded(&mut self, name: &str) {
        self.failures.remove(name);
    }

    /// A new session for `user`, from `now` to 12 hours later (not yet held: `open` it once
    /// stored).
    pub fn new_session(user: &str, now: Millis) -> NewSession {
        let cookie = random_hex::<32>();
        NewSession {
            row: SessionRow {
                hash: hash_token(&cookie),
                user: user.to_string(),
                csrf: random_hex::<24>(),
                created: now,
                expires: now + SESSION_LIFETIME,
            },
            cookie,
        }
    }

    pub fn open(&mut self, row: &SessionRow) {
        self.sessions.insert(
            row.hash.clone(),
            Session {
                user: row.user.clone(),
                csrf: row.csrf.clone(),
                created: row.created,
                expires: row.expires,
            },
        );
    }

    /// Ends a session; the user it was, if it was one.
    pub fn close(&mut self, hash: &str) -> Option<String> {
        self.sessions.remove(hash).map(|s| s.user)
    }

    /// Forgets sessions that have ended; whether there were any (then the store should too).
    pub fn close_expired(&mut self, now: Millis) -> bool {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| s.expires > now);
        self.sessions.len() != before
    }

    /// Who the session with this cookie is, if it is open and its user enabled.
    pub fn session(&self, cookie: &str, now: Millis) -> Option<SessionCaller> {
        let hash = hash_token(cookie);
        let session = self.sessions.get(&hash)?;
        let user = self.users.get(&session.user)?;
        (session.expires > now && !user.disabled).then(|| SessionCaller {
            user: session.user.clone(),
            role: user.role,
            csrf: session.csrf.clone(),
            hash,
            expires: session.expires,
        })
    }

    /// Adds or replaces a user; unless `keep_sessions`, their sessions end.
    pub fn put_user(&mut self, name: &str, user: User, keep_sessions: bool) {
        if !keep_sessions {
            self.sessions.retain(|_, s| s.user != name);
        }
        self.users.insert(name.to_string(), user);
        if !self.needs_setup() {
            self.setup_code = None;
        }
    }

    /// Removes a user and their sessions.
    pub fn delete_user(&mut self, name: &str) -> Option<User> {
        self.sessions.retain(|_, s| s.user != name);
        self.users.remove(name)
    }

    /// Whether `name` is the only enabled admin: it may not be removed, disabled or demoted,
    /// or no one could administer the console.
    pub fn is_last_admin(&self, name: &str) -> bool {
        let admins: Vec<&String> = self
            .users
            .iter()
            .filter(|(_, u)| u.role == Role::Admin && !u.disabled)
            .map(|(n, _)| n)
            .collect();
        admins.len() == 1 && admins[0] == name
    }
}

/// Why a setup code is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupRefusal {
    /// An admin exists: the console is set up.
    Done,
    Wrong,
    Paused(Paused),
}

/// 16 letters and digits of Crockford's base32 (no I, L, O, U) in groups of four.
fn setup_code() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    // 256 is a multiple of 32: the low five bits of a random byte are uniform.
    let letters: Vec<char> = random_bytes::<16>()
        .iter()
        .map(|byte| ALPHABET[(byte & 31) as usize] as char)
        .collect();
    letters
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Equal in time whatever the bytes (the length may show).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(password: &str) -> User {
        User {
            role: Role::Admin,
            password: hash_password(password),
            created: 0,
            disabled: false,
        }
    }

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let phc = hash_password("correct horse battery");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password(&phc, "correct horse battery"));
        assert!(!verify_password(&phc, "correct horse batterx"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        assert_ne!(
            phc,
            hash_password("correct horse battery"),
            "each hash has its own salt"
        );
    }

    #[test]
    fn short_or_repeated_passwords_are_refused() {
        assert!(check_password("short").is_err());
        assert!(check_password(&"a".repeat(20)).is_err());
        assert!(check_password(&"ab".repeat(600)).is_err());
        assert!(check_password("correct horse battery").is_ok());
    }

    #[test]
    fn a_session_ends_after_its_lifetime_and_when_its_user_changes() {
        let mut accounts = Accounts::default();
        accounts.put_user("ann", admin("correct horse battery"), false);
        let new = Accounts::new_session("ann", 1_000);
        accounts.open(&new.row);
        let caller = accounts.session(&new.cookie, 1_000).expect("open");
        assert_eq!((caller.user.as_str(), caller.role), ("ann", Role::Admin));
        assert!(
            accounts
                .session(&new.cookie, 1_000 + SESSION_LIFETIME - 1)
                .is_some()
        );
        assert!(
            accounts
                .session(&new.cookie, 1_000 + SESSION_LIFETIME)
                .is_none()
        );
        assert!(accounts.session("not the cookie", 1_000).is_none());
        accounts.put_user("ann", admin("another password"), false);
        assert!(accounts.session(&new.cookie, 1_000).is_none());
    }

    #[test]
    fn five_failures_pause_a_name_for_a_minute() {
        let mut accounts = Accounts::default();
        for _ in 0..FAILURES_BEFORE_PAUSE - 1 {
            accounts.failed("ann", 0);
        }
        assert_eq!(accounts.paused("ann", 0), None);
        accounts.failed("ann", 0);
        assert_eq!(accounts.paused("ann", 1), Some(Paused { seconds_left: 60 }));
        assert_eq!(accounts.paused("bob", 1), None);
        assert_eq!(accounts.paused("ann", PAUSE), None);
    }

    #[test]
    fn the_setup_code_is_used_once_and_only_while_no_admin_exists() {
        let mut accounts = Accounts::default();
        let code = accounts.issue_setup_code().expect("no admin yet");
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(
            accounts.take_setup_code("WRONG-CODE", 0),
            Err(SetupRefusal::Wrong)
        );
        accounts
            .take_setup_code(&code.to_lowercase().replace('-', ""), 0)
            .expect("the code, in any case, without dashes");
        assert_eq!(accounts.take_setup_code(&code, 0), Err(SetupRefusal::Done));
        accounts.put_user("ann", admin("correct horse battery"), false);
        assert_eq!(accounts.issue_setup_code(), None);
        assert!(accounts.is_last_admin("ann"));
    }
}
