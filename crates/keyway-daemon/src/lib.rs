//! `keyway serve`: the controller daemon.
//!
//! Start-up, in order: every relay at rest (boot safety: no pulse on restart), the store
//! opened and migrated, the latched state restored (operator holds, lockdown, a fire alarm not
//! yet reset), credentials loaded, then the controller task, the writer thread and the HTTP
//! server. Architecture invariant: this is the only crate that spawns tasks or threads.

pub mod accounts;
pub mod alarms;
pub mod api;
pub mod auth;
pub mod clock;
pub mod console;
pub mod gpio;
pub mod hardware;
pub mod http;
pub mod import;
pub mod metrics;
pub mod mqtt;
pub mod people;
pub mod readers;
pub mod real_devices;
pub mod schedules;
pub mod service;
pub mod stale;
pub mod storage;
pub mod tls;
pub mod webhooks;
pub mod writer;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use keyway_core::controller::Input;
use keyway_core::credentials::{AccessLevel, CredentialStore};
use keyway_core::physics::{Command, Millis};
use keyway_core::{Site, parse_site};
use keyway_store::{Store, StoreError};
use tokio::sync::broadcast;

use crate::api::AppState;
use crate::auth::{Role, hash_token};
use crate::clock::Clock;
use crate::hardware::SimulatedOutputs;
use crate::service::{Service, SiteIds};
use crate::writer::Writer;

/// The demo site `keyway serve` runs when no site is given: the example office.
pub const DEMO_SITE: &str = include_str!("../../../examples/office.toml");

/// The API's OpenAPI description, served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Which site to run.
#[derive(Clone, Debug)]
pub enum SiteSource {
    Demo,
    File(PathBuf),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub site: SiteSource,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// From `KEYWAY_ADMIN_TOKEN`: this token is an admin token.
    pub admin_token: Option<String>,
    /// Where the daemon reads the time: `SystemClock` in service, a `VirtualClock` in tests.
    pub clock: Arc<dyn Clock>,
    /// Fault injection for tests: the writer's storage fails, stalls or holds as these say.
    /// `None` in service.
    pub faults: Option<storage::Faults>,
    /// The audit log's key file; `None`: `audit.key` in the data directory, made at first
    /// start. Kept elsewhere (another disk, another owner), it is what makes a rewritten log
    /// detectable by someone who can write the data directory.
    pub log_key: Option<PathBuf>,
    /// Start even though the log's tail does not verify (`--accept-broken-log`); the start
    /// logs `log_tail_accepted` with what was wrong.
    pub accept_broken_log: bool,
    /// The HTTP edge: connections at once, header-read timeout.
    pub http: http::HttpLimits,
    /// Publish to an MQTT broker (`--mqtt`); `None`: no MQTT.
    pub mqtt: Option<mqtt::MqttConfig>,
}

/// The key file the daemon uses for `data_dir`.
pub fn log_key_path(data_dir: &std::path::Path, given: Option<&std::path::Path>) -> PathBuf {
    given.map_or_else(|| data_dir.join(keyway_store::KEY_FILE), PathBuf::from)
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot read site file {path}: {source}")]
    ReadSite {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Site(keyway_core::SiteErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    WeakAdminToken(String),
    #[error(
        "the audit log does not verify at record {seq}: {problem}. Keep the data directory as it is for investigation; to start anyway, run with --accept-broken-log (which is logged)"
    )]
    BrokenLog { seq: u64, problem: String },
    #[error("cannot open the wired GPIO lines: {0}")]
    Gpio(#[from] keyway_hw::gpio::GpioError),
    /// A user that cannot be added as given (name, password, or the name is taken).
    #[error("{0}")]
    BadUser(String),
    #[error(transparent)]
    Mqtt(#[from] mqtt::MqttError),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// What the daemon tells its caller once it listens.
#[derive(Clone, Debug)]
pub struct Ready {
    pub addr: SocketAddr,
    pub site_name: String,
    /// While the console has no admin: the one-time code its first visit enters to create
    /// one (`POST /api/setup`). New at each start until an admin exists.
    pub setup_code: Option<String>,
}

fn load_site(source: &SiteSource) -> Result<Site, DaemonError> {
    match source {
        SiteSource::Demo => {
            parse_site("demo site (examples/office.toml)", DEMO_SITE).map_err(DaemonError::Site)
        }
        SiteSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| DaemonError::ReadSite {
                path: path.clone(),
                source,
            })?;
            parse_site(&path.display().to_string(), &text).map_err(DaemonError::Site)
        }
    }
}

/// Runs the daemon until `shutdown` completes, then stops serving, lets the controller put
/// every relay at rest, and lets the writer finish what it was given.
pub async fn serve(
    config: Config,
    on_ready: impl FnOnce(Ready),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    // One instance per data directory: the lock before anything else (a second daemon
    // stops here, naming the first), released by the kernel when this process ends.
    let _lock = keyway_store::DataDirLock::acquire(&config.data_dir, "keyway serve")?;
    if let Some(token) = &config.admin_token {
        auth::strong_enough(token).map_err(DaemonError::WeakAdminToken)?;
    }
    let site = Arc::new(load_site(&config.site)?);
    // A bad MQTT configuration (base topic, CA file) stops the start, before any relay moves.
    let mqtt = config
        .mqtt
        .as_ref()
        .map(|mqtt| mqtt::prepare(&site, mqtt).map(|prepared| (mqtt.clone(), prepared)))
        .transpose()?;
    // The wiring's lines: relays requested at rest, inputs opened, before the store is
    // opened, so that a corrupt or unreadable database still leaves every relay at rest.
    let outputs = gpio::WiredOutputs::open(&site, SimulatedOutputs::default())?;
    let wired_inputs = gpio::open_inputs(&site)?;
    let mut store = Store::open(&config.data_dir)?;
    let key_path = log_key_path(&config.data_dir, config.log_key.as_deref());
    let key = keyway_store::LogKey::load_or_create(&key_path)?;
    store.use_key(key.clone())?;
    // The log's tail must verify before anything is appended to it: a cut, rewritten or
    // deleted log is refused, unless the operator says otherwise (and that is logged).
    let mut accepted_break = None;
    if let keyway_store::Verification::Broken { seq, problem } = store.verify_tail(1_000)? {
        if !config.accept_broken_log {
            return Err(DaemonError::BrokenLog { seq, problem });
        }
        tracing::warn!(seq, %problem, "starting on a log that does not verify (--accept-broken-log)");
        // From here the checkpoints describe the log as it now is.
        store.write_checkpoint()?;
        accepted_break = Some(format!("record {seq}: {problem}"));
    }
    let mut reader = Store::open(&config.data_dir)?;
    reader.read_with_key(key.clone());
    // The schedules changed or added from the console replace or join the file's: the site
    // the controller, the check and the API see.
    let file_schedules = Arc::new(site.schedules.clone());
    let site = Arc::new(schedules::apply_stored(
        Arc::unwrap_or_clone(site),
        &store.schedules()?,
    ));

    // Tokens: the environment's admin token is made known (and one it set before, now
    // changed, is revoked). Without one there is no admin token: people sign in with a
    // name and a password, and an admin makes tokens for machines.
    let mut token_events = Vec::new();
    let now = config.clock.wall();
    if let Some(token) = &config.admin_token {
        let hash = hash_token(token);
        for old in store.tokens()? {
            if old.from_env && old.hash != hash {
                store.delete_token(&old.hash)?;
                token_events.push((
                    "token_revoked",
                    old.name,
                    auth::token_id(&old.hash).to_string(),
                ));
            }
        }
        if !store.tokens()?.iter().any(|t| t.hash == hash) {
            store.put_token(&keyway_store::TokenRow {
                hash: hash.clone(),
                role: Role::Admin.name().to_string(),
                created: now,
                name: "KEYWAY_ADMIN_TOKEN".to_string(),
                from_env: true,
            })?;
            token_events.push((
                "token_created",
                "KEYWAY_ADMIN_TOKEN".to_string(),
                auth::token_id(&hash).to_string(),
            ));
        }
    }
    // The console's users: without an enabled admin, a setup code for the first visit.
    let mut accounts = accounts::Accounts::load(store.users()?, store.sessions()?);
    let setup_code = accounts.issue_setup_code();
    // The alarms: the newest 10,000 events seed the list, the stored acknowledgements mark
    // it; each request reads the events stored since (`api::alarms`).
    let mut alarm_book = alarms::AlarmBook::default();
    for event in reader.events_before(i64::MAX as u64, 10_000)?.iter().rev() {
        alarm_book.observe(event);
    }
    for (key, value) in store.state()? {
        if let Some(seq) = key.strip_prefix("ack:").and_then(|s| s.parse().ok())
            && let Ok(ack) = serde_json::from_str(&value)
        {
            alarm_book.acknowledge(seq, ack);
        }
    }
    let tokens: HashMap<String, auth::TokenInfo> = store
        .tokens()?
        .into_iter()
        .filter_map(|t| {
            Role::from_name(&t.role).map(|role| (t.hash, auth::TokenInfo { role, name: t.name }))
        })
        .collect();

    // Doors sorted, and what the site no longer has left out (`level_from_row`).
    let site_ids = SiteIds::new(&site, &[]);
    let levels: Vec<AccessLevel> = store
        .access_levels()?
        .iter()
        .map(|row| service::level_from_row(&site_ids, row))
        .collect();
    let ids = SiteIds::new(&site, &levels);
    let mut credentials = CredentialStore::with_capacity(store.credential_count()?);
    // A credential naming a door the site no longer has still works at the others; what
    // does not fit is noted, reported below and listed by the API.
    let mut stale = stale::StaleState::default();
    store.for_each_credential(|row| {
        if let Some(credential) = stale::load_credential(&ids, row, &mut stale)
            && let Err(error) = credentials.insert(credential)
        {
            tracing::warn!(%error, "stored credential skipped");
        }
    })?;
    let stored_state = store.state()?;
    let restore = restore_inputs(&site, config.clock.wall(), &stored_state, &mut stale);
    let people = people::restore_changes(&site, &stored_state);
    // How many times each pass with a number of uses has been granted (`used:CREDENTIAL`).
    let used: Vec<(String, u32)> = stored_state
        .iter()
        .filter_map(|(key, value)| {
            Some((key.strip_prefix("used:")?.to_string(), value.parse().ok()?))
        })
        .collect();
    drop(stored_state);
    if !stale.is_empty() {
        tracing::warn!(summary = %stale.summary(), "stored state refers to what the site no longer has; see GET /api/stale");
        for credential in stale.credentials.iter().take(10) {
            tracing::warn!(number = %credential.number, missing_doors = ?credential.missing_doors, not_loaded = ?credential.not_loaded, "stale credential");
        }
        for hold in &stale.holds {
            tracing::warn!(door = %hold.door, hold = %hold.hold, "operator hold on a door the site no longer has; kept until cleared");
        }
    }
    tracing::info!(
        credentials = credentials.len(),
        restored = restore.len(),
        "state loaded"
    );

    // Commits never wait for a checkpoint: the writer's connection does not checkpoint, a
    // thread of its own does, every second, without blocking the writer.
    store.set_auto_checkpoint(false)?;
    let checkpointer = Store::open(&config.data_dir)?;
    let (stop_checkpoints, checkpoints_stopped) = std::sync::mpsc::channel::<()>();
    let checkpoint_thread = std::thread::Builder::new()
        .name("keyway-checkpoint".to_string())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                checkpoints_stopped.recv_timeout(std::time::Duration::from_secs(1))
            {
                if let Err(error) = checkpointer.checkpoint() {
                    tracing::warn!(%error, "checkpoint failed");
                }
            }
        })
        .map_err(|source| DaemonError::Listen {
            addr: config.listen,
            source,
        })?;

    // The wiring's lines: relays requested at rest, inputs opened, before anything runs.

    // The webhook endpoints, and a connection of their own to read the events they are owed.
    let webhook_rows = store.webhooks()?;
    let mut webhook_reader = Store::open(&config.data_dir)?;
    webhook_reader.read_with_key(key.clone());
    let last_seq = store.last_seq();

    let (live, _) = broadcast::channel(16_384);
    let storage: Box<dyn storage::Storage> = match &config.faults {
        Some(faults) => Box::new(storage::FaultyStorage::new(
            store,
            faults.clone(),
            config.data_dir.join(keyway_store::DATABASE_FILE),
        )),
        None => Box::new(store),
    };
    let (writer, writer_thread) = Writer::start(storage, live.clone(), Arc::clone(&config.clock));
    writer.health().note_last_seq(last_seq);
    let webhooks = webhooks::Webhooks::start(
        webhook_rows,
        webhook_reader,
        writer.clone(),
        live.clone(),
        Arc::clone(&config.clock),
        site.info.timezone.clone(),
    )
    .map_err(DaemonError::Thread)?;
    let service = Service::start(
        Arc::clone(&site),
        credentials,
        levels,
        writer,
        Box::new(outputs),
        restore,
        Arc::clone(&config.clock),
    );
    if let Err(error) = service.restore_people(people, used).await {
        // Only a controller task that is gone refuses it, and its supervisor ends the process.
        tracing::error!(%error, "where people were was not brought back");
    }
    if !stale.is_empty() {
        let origin = service::Origin::new(service::Source::Boot);
        if let Err(error) = service
            .log("stale_state", &origin, None, Some(stale.summary()))
            .await
        {
            tracing::warn!(%error, "stale_state was not logged durably");
        }
    }
    if let Some(problem) = accepted_break {
        let origin = service::Origin::new(service::Source::Boot);
        if let Err(error) = service
            .log("log_tail_accepted", &origin, None, Some(problem))
            .await
        {
            tracing::warn!(%error, "log_tail_accepted was not logged durably");
        }
    }
    for (kind, name, id) in token_events {
        let origin = service::Origin::new(service::Source::Boot);
        let detail = Some(format!("token {id} {name:?}"));
        if let Err(error) = service.log(kind, &origin, None, detail).await {
            tracing::warn!(%error, kind, "a token change at start was not logged durably");
        }
    }
    let stop_readers = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut reader_threads = readers::start(&site, &service, Arc::clone(&stop_readers));
    reader_threads.extend(gpio::start_inputs(
        wired_inputs,
        &service,
        Arc::clone(&stop_readers),
    ));
    let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
    // `Some` with MQTT: whether it is connected, for `/metrics`.
    let mqtt_connected = mqtt
        .is_some()
        .then(|| Arc::new(std::sync::atomic::AtomicBool::new(false)));
    let mqtt_task = mqtt.map(|(mqtt, (names, options))| {
        tokio::spawn(mqtt::run(
            mqtt,
            names,
            options,
            mqtt::Context {
                service: service.clone(),
                site: Arc::clone(&site),
                clock: Arc::clone(&config.clock),
                live: live.subscribe(),
                stopping: stopping_rx.clone(),
                connected: mqtt_connected.clone().unwrap_or_default(),
            },
        ))
    });
    let metrics = Arc::new(metrics::Metrics::default());
    let state = AppState {
        service,
        reader: Arc::new(Mutex::new(reader)),
        tokens: Arc::new(RwLock::new(tokens)),
        live,
        metrics,
        stopping: stopping_rx,
        stale: Arc::new(Mutex::new(stale)),
        accounts: Arc::new(RwLock::new(accounts)),
        alarms: Arc::new(RwLock::new(alarm_book)),
        file_schedules,
        webhooks: webhooks.clone(),
        mqtt_connected,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| DaemonError::Listen {
            addr: config.listen,
            source,
        })?;
    on_ready(Ready {
        addr,
        site_name: site.info.name.clone(),
        setup_code,
    });
    tracing::info!(%addr, site = %site.info.name, "serving");
    http::serve(
        listener,
        api::router(state),
        config.http,
        Arc::clone(&config.clock),
        stopping,
        shutdown,
    )
    .await;
    tracing::info!("stopped serving; finishing writes");
    // Each endpoint records what it delivered, then lets go of the writer.
    webhooks.stop_all().await;
    drop(webhooks);
    if let Some(task) = mqtt_task {
        // It saw `stopping`: it says `offline` and disconnects.
        let _ = task.await;
    }
    stop_readers.store(true, std::sync::atomic::Ordering::Relaxed);
    for thread in reader_threads {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    // The router (and with it the service and the writer's senders) is gone: the writer drains
    // its queue and ends.
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    drop(stop_checkpoints);
    let _ = tokio::task::spawn_blocking(move || checkpoint_thread.join()).await;
    Ok(())
}

/// The inputs that bring back the latched operator state.
pub fn restore_inputs(
    site: &Site,
    now: Millis,
    state: &[(String, String)],
    stale: &mut stale::StaleState,
) -> Vec<Input> {
    let mut inputs = Vec::new();
    for (key, value) in state {
        match (key.as_str(), value.as_str()) {
            ("lockdown", "1") => inputs.push(Input::Lockdown),
            ("fire_alarm", "active") => inputs.push(Input::FireAlarm),
            ("emergency", value) => inputs.extend(service::parse_emergency(site, value)),
            (key, hold) if key.starts_with("hold:") => {
                let Some(door) = site.find_door(&key["hold:".len()..]) else {
                    stale.holds.push(stale::StaleHold {
                        door: key["hold:".len()..].to_string(),
                        hold: hold.to_string(),
                    });
                    continue;
                };
                match parse_hold(hold) {
                    Some((command, None)) => inputs.push(match command {
                        Command::Unlock => Input::Unlock { door },
                        Command::Lock => Input::Lock { door },
                    }),
                    Some((command, Some(until))) if until > now => inputs.push(Input::HoldUntil {
                        door,
                        command,
                        until,
                    }),
                    // A timed hold that ended while the daemon was down is not restored
                    // (its key stays until the door's next hold replaces it).
                    Some((_, Some(_))) => {}
                    None => stale.holds.push(stale::StaleHold {
                        door: key["hold:".len()..].to_string(),
                        hold: hold.to_string(),
                    }),
                }
            }
            _ => {}
        }
    }
    inputs
}

/// A stored hold: `unlock`, `lock`, or either with ` until MS` (its end on the wall clock).
fn parse_hold(value: &str) -> Option<(Command, Option<Millis>)> {
    let (command, until) = match value.split_once(" until ") {
        Some((command, until)) => (command, Some(until.parse().ok()?)),
        None => (value, None),
    };
    let command = match command {
        "unlock" => Command::Unlock,
        "lock" => Command::Lock,
        _ => return None,
    };
    Some((command, until))
}

/// A user to add while no daemon runs (`keyway user add`).
#[derive(Clone, Debug)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    pub password: String,
    /// Who adds it: the log's actor (the account running the command).
    pub actor: String,
}

/// Adds a console user to the daemon's database with no daemon running (for the first
/// admin of an unattended install): the data directory's lock first, the log's tail
/// verified, the name checked against users and tokens, then the user stored and
/// `user_created` logged (source `cli`), chained under the log key.
pub fn add_user(
    data_dir: &std::path::Path,
    log_key: Option<&std::path::Path>,
    clock: &dyn Clock,
    user: &NewUser,
) -> Result<(), DaemonError> {
    auth::check_name("user", &user.name).map_err(DaemonError::BadUser)?;
    accounts::check_password(&user.password).map_err(DaemonError::BadUser)?;
    let _lock = keyway_store::DataDirLock::acquire(data_dir, "keyway user add")?;
    let mut store = Store::open(data_dir)?;
    let key = keyway_store::LogKey::load_or_create(&log_key_path(data_dir, log_key))?;
    store.use_key(key)?;
    if let keyway_store::Verification::Broken { seq, problem } = store.verify_tail(1_000)? {
        return Err(DaemonError::BrokenLog { seq, problem });
    }
    let taken = store.users()?.iter().any(|u| u.name == user.name)
        || store.tokens()?.iter().any(|t| t.name == user.name);
    if taken {
        return Err(DaemonError::BadUser(format!(
            "a user or a token is already named {:?} in {}: names say who did what, so they are unique",
            user.name,
            data_dir.display()
        )));
    }
    let now = clock.wall();
    store.change_accounts(&keyway_store::AccountChange::PutUser {
        user: keyway_store::UserRow {
            name: user.name.clone(),
            role: user.role.name().to_string(),
            password: accounts::hash_password(&user.password),
            created: now,
            disabled: false,
        },
        keep_sessions: false,
    })?;
    store.append(vec![keyway_store::NewEvent {
        at: now,
        kind: "user_created".to_string(),
        door: None,
        credential: None,
        reason: None,
        circuit: None,
        source: Some("cli".to_string()),
        actor: Some(user.actor.clone()),
        detail: Some(format!("user {:?}, {}", user.name, user.role.name())),
    }])?;
    store.write_checkpoint()?;
    Ok(())
}

/// `keyway verify-log`: checks the audit log's chain and its last signed checkpoint.
/// Reads only: it creates nothing, not even a missing key.
pub fn verify_log(
    data_dir: &std::path::Path,
    log_key: Option<&std::path::Path>,
) -> Result<keyway_store::Verification, StoreError> {
    let key_path = log_key_path(data_dir, log_key);
    let key = key_path
        .exists()
        .then(|| keyway_store::LogKey::load(&key_path))
        .transpose()?;
    if !data_dir.join(keyway_store::DATABASE_FILE).exists() {
        // A deleted log: its checkpoints still say what it held.
        if let Some(key) = &key
            && let Ok(Some(checkpoint)) = keyway_store::Checkpoints::in_dir(data_dir).last(key)
        {
            return Ok(keyway_store::Verification::Broken {
                seq: checkpoint.seq,
                problem: format!(
                    "the database is missing, but a signed checkpoint says the log held record {}",
                    checkpoint.seq
                ),
            });
        }
        return Err(StoreError::NoDatabase {
            dir: data_dir.to_path_buf(),
            file: keyway_store::DATABASE_FILE,
        });
    }
    let mut store = Store::open(data_dir)?;
    if let Some(key) = key {
        store.read_with_key(key);
    }
    store.verify()
}
