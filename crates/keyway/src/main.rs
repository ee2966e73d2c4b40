//! The `keyway` binary: argument parsing, reading files, printing. All behaviour lives in
//! `keyway-core`; this file is glue.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use keyway_core::load::parse_script;
use keyway_core::replay::{self, ReplayJson};
use keyway_core::report::{CheckJson, SimulateJson, Style, check_table, simulate_table};
use keyway_core::rules::Severity;
use keyway_core::scenario::{self, Scenario};
use keyway_core::{Site, check, parse_site};

/// Keyway: access control that puts life safety first.
#[derive(Parser, Debug)]
#[command(name = "keyway", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
// Parsed once at start: `serve`'s many options cost nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Review a site file against the life-safety codes and plain sense about outages.
    ///
    /// Plays every scenario (normal, fire, lockdown, outage, outage-fire) and applies every rule
    /// of docs/rules.md. Exits 0 when there is no error finding, 1 when there is one or more,
    /// and 2 when the site file cannot be read or is invalid (every problem is listed with its
    /// file, line, field and value).
    Check {
        /// The site file (TOML), see docs/site-format.md.
        site: PathBuf,
        /// `table` for people (colour on a terminal unless NO_COLOR is set), `json` for tools.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show what the doors and areas do, moment by moment, in one scenario.
    ///
    /// The moments are t = 0 and every later time at which some circuit goes down (a battery
    /// running out). For each: every lock's position and power, how people get out and in at
    /// each door, and whether each area can reach the outside. Exit codes as for `check`,
    /// counting only this scenario's findings.
    Simulate {
        /// The site file (TOML), see docs/site-format.md.
        site: PathBuf,
        /// The scenario to play.
        #[arg(long, value_enum)]
        scenario: ScenarioArg,
        /// `table` for people (colour on a terminal unless NO_COLOR is set), `json` for tools.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run a script of timed inputs through the controller on a simulated clock.
    ///
    /// The same controller core the daemon runs: badges, REX, doors opening, power cuts, fire
    /// alarm, lockdown and operator commands, with timers (relocks, held-open alarms, battery
    /// run-outs, schedules) firing at their own moments. Prints every event and the state of
    /// every door at each probe. See docs/replay.md for the script format. Exits 0, or 2 when
    /// the site or the script cannot be read or is invalid.
    Replay {
        /// The site file (TOML), see docs/site-format.md.
        site: PathBuf,
        /// The replay script (TOML), see docs/replay.md.
        script: PathBuf,
        /// `table` for people (colour on a terminal unless NO_COLOR is set), `json` for tools.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run the controller daemon: the controller, its durable audit log and its HTTP API.
    ///
    /// Every part of the site that maps to no real device is simulated (readers, relays,
    /// sensors, power feeds: drive them through /api/sim/*). While the console has no admin,
    /// each start prints a one-time setup code for the first visit (or add one first with
    /// `keyway user add`); KEYWAY_ADMIN_TOKEN makes an admin token for machines. Stops
    /// cleanly on SIGTERM or Ctrl-C, putting every relay at rest.
    Serve {
        /// The site file; without it, the built-in demo site (examples/office.toml).
        #[arg(long)]
        site: Option<PathBuf>,
        /// Where the SQLite database lives.
        #[arg(long, default_value = "./keyway-data")]
        data: PathBuf,
        /// The address the HTTP API listens on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Start the controller's wall clock at this instant (RFC 3339, e.g.
        /// 2026-12-07T16:00:00Z) instead of the machine's, and run it on from there: for demos,
        /// training, and tests that must not depend on the time of day. Schedules and event
        /// times follow it; it is logged at start.
        #[arg(long, value_name = "INSTANT")]
        clock_start: Option<jiff::Timestamp>,
        /// With --clock-start: time stands still and moves only when told
        /// (`POST /api/sim/clock {"advance_seconds": N}`), so that a demo, a training run or a
        /// browser test never waits for a timer. For simulated sites only: the API refuses it
        /// on a site with real devices.
        #[arg(long, requires = "clock_start")]
        virtual_clock: bool,
        /// The audit log's key file (default: audit.key in the data directory, made at first
        /// start). Keep it where whoever can write the data directory cannot.
        #[arg(long, value_name = "FILE")]
        log_key: Option<PathBuf>,
        /// Start even if the audit log's tail does not verify (cut, rewritten or deleted);
        /// the start is logged as log_tail_accepted.
        #[arg(long)]
        accept_broken_log: bool,
        /// Connections served at once; more wait to be accepted.
        #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=65_536))]
        max_connections: u32,
        /// Seconds a client has to send its request's headers before it is cut off.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=3_600))]
        header_timeout_seconds: u32,
        /// Publish the doors, the circuits and every event to this MQTT broker, with Home
        /// Assistant discovery: mqtt://[user:password@]host[:port], or mqtts:// for TLS
        /// (see docs/integrations.md). A broker that is down is retried with backoff; it
        /// never stops the doors.
        #[arg(
            long,
            env = "KEYWAY_MQTT_URL",
            hide_env_values = true,
            value_name = "URL"
        )]
        mqtt: Option<keyway_daemon::mqtt::BrokerUrl>,
        /// The topics' base (default: keyway/<the site's name as a slug>).
        #[arg(long, requires = "mqtt", value_name = "TOPIC")]
        mqtt_base: Option<String>,
        /// Home Assistant's discovery prefix.
        #[arg(
            long,
            requires = "mqtt",
            default_value = "homeassistant",
            value_name = "PREFIX"
        )]
        mqtt_discovery_prefix: String,
        /// Act on UNLOCK and LOCK sent to <base>/door/<door>/set (as a momentary unlock,
        /// never over a higher rule such as a fire alarm or a lockdown). Without it, every
        /// command is logged as refused.
        #[arg(long, requires = "mqtt")]
        mqtt_commands: bool,
        /// With mqtts://: the CA certificates (PEM) the broker's certificate must chain to
        /// (default: the system's).
        #[arg(long, requires = "mqtt", value_name = "FILE")]
        mqtt_ca: Option<PathBuf>,
    },
    /// Check the audit log's hash chain. Exits 0 when intact, 1 naming the first broken
    /// record, 2 when the database cannot be read.
    VerifyLog {
        /// The daemon's data directory.
        #[arg(long, default_value = "./keyway-data")]
        data: PathBuf,
        /// The audit log's key file, if not audit.key in the data directory.
        #[arg(long, value_name = "FILE")]
        log_key: Option<PathBuf>,
    },
    /// Import credentials from a CSV file into the daemon's database, with a progress bar.
    ///
    /// Columns: number, holder, doors separated by `;` (`*` for every door), schedule,
    /// valid_from, valid_until; a header row is skipped. Every row is checked against the
    /// site first: one bad row imports nothing, and every problem is listed with its line.
    /// Existing numbers are replaced. The data directory must hold the daemon's database
    /// (none is created), and no daemon may be running on it: a running daemon takes imports
    /// through POST /api/credentials/import, and this command is refused (exit 2, naming the
    /// process).
    ImportCredentials {
        /// The CSV file.
        csv: PathBuf,
        /// The site the credentials are for; without it, the built-in demo site.
        #[arg(long)]
        site: Option<PathBuf>,
        /// The daemon's data directory.
        #[arg(long, default_value = "./keyway-data")]
        data: PathBuf,
    },
    /// Print the rule reference (every rule id, severity, meaning and citation) as Markdown.
    Rules,
    /// Manage the console's users while no daemon runs (a running one: its console, or
    /// /api/users).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user, e.g. the first admin of an unattended install.
    ///
    /// The password comes from standard input when it is not a terminal (its first line:
    /// `printf '%s\n' "$PW" | keyway user add ann --role admin`), else it is asked twice
    /// without echo; at least 12 characters. No daemon may be running on the data directory
    /// (exit 2, naming it). Logged as user_created, source cli, actor the account running the
    /// command.
    Add {
        /// The user's name: 1 to 64 characters, unique among users and tokens.
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The daemon's data directory (created if it does not exist yet).
        #[arg(long, default_value = "./keyway-data")]
        data: PathBuf,
        /// The audit log's key file, if not audit.key in the data directory.
        #[arg(long, value_name = "FILE")]
        log_key: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RoleArg {
    /// Sees doors, alarms and events.
    Viewer,
    /// Also commands doors, lockdown and the fire-alarm reset.
    Operator,
    /// Also manages users, tokens, credentials and access.
    Admin,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScenarioArg {
    /// All power on, no alarm, every door at rest.
    Normal,
    /// Mains lost at t = 0; batteries run out in turn.
    Outage,
    /// Fire alarm active from t = 0, mains on.
    Fire,
    /// Mains lost and fire alarm, both from t = 0.
    OutageFire,
    /// Lockdown active, power on.
    Lockdown,
    /// Hold: interior doors locked, admitting responders and staff; power on.
    Hold,
    /// Secure: doors to the exterior locked, admitting responders; power on.
    Secure,
    /// Evacuate: egress doors released as in a fire, entry from outside for responders only.
    Evacuate,
    /// Shelter: the doors of shelter areas unlocked; power on.
    Shelter,
}

impl From<ScenarioArg> for Scenario {
    fn from(arg: ScenarioArg) -> Scenario {
        match arg {
            ScenarioArg::Normal => Scenario::Normal,
            ScenarioArg::Outage => Scenario::Outage,
            ScenarioArg::Fire => Scenario::Fire,
            ScenarioArg::OutageFire => Scenario::OutageFire,
            ScenarioArg::Lockdown => Scenario::Lockdown,
            ScenarioArg::Hold => Scenario::Hold,
            ScenarioArg::Secure => Scenario::Secure,
            ScenarioArg::Evacuate => Scenario::Evacuate,
            ScenarioArg::Shelter => Scenario::Shelter,
        }
    }
}

/// The exit code for a site that could not be read or is invalid.
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("keyway: {error:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let style = Style {
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    match cli.command {
        Command::Check { site, format } => {
            let Some(site) = load(&site)? else {
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            };
            let findings = check::check(&site);
            let output = match format {
                Format::Json => json(&CheckJson {
                    site: &site,
                    findings: &findings,
                })?,
                Format::Table => check_table(&site, &findings, style),
            };
            print(&output)?;
            Ok(exit_for(findings.iter().map(|f| f.rule.severity)))
        }
        Command::Simulate {
            site,
            scenario,
            format,
        } => {
            let Some(site) = load(&site)? else {
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            };
            let run = scenario::run(&site, scenario.into());
            let findings = check::scenario_findings(&site, std::slice::from_ref(&run));
            let output = match format {
                Format::Json => json(&SimulateJson {
                    site: &site,
                    run: &run,
                    findings: &findings,
                })?,
                Format::Table => simulate_table(&site, &run, &findings, style),
            };
            print(&output)?;
            Ok(exit_for(findings.iter().map(|f| f.rule.severity)))
        }
        Command::Replay {
            site,
            script,
            format,
        } => {
            let Some(site) = load(&site)? else {
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            };
            let text = read(&script, "replay script")?;
            let script = match parse_script(&script.display().to_string(), &text, &site) {
                Ok(script) => script,
                Err(errors) => {
                    eprintln!("{errors}");
                    eprintln!(
                        "keyway: {} problem(s) in {}; nothing was replayed",
                        errors.0.len(),
                        script.display()
                    );
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
            };
            let site = Arc::new(site);
            let replay = replay::run(Arc::clone(&site), script);
            let output = match format {
                Format::Json => json(&ReplayJson {
                    site: &site,
                    replay: &replay,
                })?,
                Format::Table => replay::replay_table(&site, &replay, style),
            };
            print(&output)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            site,
            data,
            listen,
            clock_start,
            virtual_clock,
            log_key,
            accept_broken_log,
            max_connections,
            header_timeout_seconds,
            mqtt,
            mqtt_base,
            mqtt_discovery_prefix,
            mqtt_commands,
            mqtt_ca,
        } => serve(ServeArgs {
            site,
            data,
            listen,
            clock_start: clock_start.map(|start| (start, virtual_clock)),
            log_key,
            accept_broken_log,
            http: keyway_daemon::http::HttpLimits {
                max_connections: max_connections as usize,
                header_read_timeout: std::time::Duration::from_secs(header_timeout_seconds.into()),
            },
            mqtt: mqtt.map(|broker| keyway_daemon::mqtt::MqttConfig {
                broker,
                base: mqtt_base,
                discovery_prefix: mqtt_discovery_prefix,
                commands: mqtt_commands,
                ca_file: mqtt_ca,
            }),
        }),
        Command::VerifyLog { data, log_key } => {
            match keyway_daemon::verify_log(&data, log_key.as_deref())? {
                keyway_store::Verification::Intact { events, unkeyed } => {
                    println!(
                        "audit log intact: {events} events, every hash follows from the one before, and the last signed checkpoint matches"
                    );
                    if unkeyed > 0 {
                        println!(
                            "note: records 1-{unkeyed} were written before the log was keyed (an older Keyway): their chain is plain SHA-256, so a rewrite of them by someone who can write the database would not show"
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                keyway_store::Verification::Broken { seq, problem } => {
                    println!("audit log BROKEN at record {seq}: {problem}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::ImportCredentials { csv, site, data } => {
            import_credentials(&csv, site.as_deref(), &data)
        }
        Command::Rules => {
            print(&keyway_core::rules::reference_markdown())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    data,
                    log_key,
                },
        } => add_user(name, role, &data, log_key.as_deref()),
    }
}

fn add_user(
    name: String,
    role: RoleArg,
    data: &Path,
    log_key: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))?;
        let again = rpassword::prompt_password("the same again: ")?;
        if first != again {
            eprintln!("keyway: the two passwords differ; nothing was added");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    let role = match role {
        RoleArg::Viewer => keyway_daemon::auth::Role::Viewer,
        RoleArg::Operator => keyway_daemon::auth::Role::Operator,
        RoleArg::Admin => keyway_daemon::auth::Role::Admin,
    };
    let actor = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "keyway user add".to_string());
    let user = keyway_daemon::NewUser {
        name,
        role,
        password,
        actor,
    };
    keyway_daemon::add_user(
        data,
        log_key,
        &keyway_daemon::clock::SystemClock::new(),
        &user,
    )?;
    println!(
        "added {} ({}) to {}",
        user.name,
        role.name(),
        data.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `keyway serve`'s arguments, checked.
struct ServeArgs {
    site: Option<PathBuf>,
    data: PathBuf,
    listen: std::net::SocketAddr,
    /// `--clock-start`, and whether `--virtual-clock` was given with it.
    clock_start: Option<(jiff::Timestamp, bool)>,
    log_key: Option<PathBuf>,
    accept_broken_log: bool,
    http: keyway_daemon::http::HttpLimits,
    mqtt: Option<keyway_daemon::mqtt::MqttConfig>,
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let ServeArgs {
        site,
        data,
        listen,
        clock_start,
        log_key,
        accept_broken_log,
        http,
        mqtt,
    } = args;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = keyway_daemon::Config {
        site: site.map_or(
            keyway_daemon::SiteSource::Demo,
            keyway_daemon::SiteSource::File,
        ),
        data_dir: data,
        listen,
        admin_token: std::env::var("KEYWAY_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        clock: match clock_start {
            Some((start, true)) => {
                tracing::warn!(%start, "a virtual clock: time moves only through POST /api/sim/clock");
                Arc::new(keyway_daemon::clock::VirtualClock::new(
                    start.as_millisecond(),
                ))
            }
            Some((start, false)) => {
                tracing::warn!(%start, "the controller's wall clock starts at --clock-start, not the machine's");
                Arc::new(keyway_daemon::clock::SystemClock::starting_at(
                    start.as_millisecond(),
                ))
            }
            None => Arc::new(keyway_daemon::clock::SystemClock::new()),
        },
        faults: None,
        log_key,
        accept_broken_log,
        http,
        mqtt,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Written, not printed: a reader of standard output that has gone (a pipe closed
        // after the address was read) must not stop the daemon.
        let on_ready = |ready: keyway_daemon::Ready| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "Keyway is serving {} on http://{}",
                ready.site_name, ready.addr
            );
            if let Some(code) = ready.setup_code {
                let _ = writeln!(
                    out,
                    "No admin yet: open http://{}/ and enter the setup code {code} to create the first one (or stop and run `keyway user add NAME --role admin`)",
                    ready.addr
                );
            }
            let _ = out.flush();
        };
        keyway_daemon::serve(config, on_ready, shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn import_credentials(csv: &Path, site: Option<&Path>, data: &Path) -> anyhow::Result<ExitCode> {
    let site = match site {
        Some(path) => match load(path)? {
            Some(site) => site,
            None => return Ok(ExitCode::from(EXIT_BAD_INPUT)),
        },
        None => {
            parse_site("demo site", keyway_daemon::DEMO_SITE).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    let text = read(csv, "CSV file")?;
    // The daemon's database, never a new one (an import from the wrong folder must say so),
    // and never while a daemon runs on it (its controller would not see the credentials).
    // Its schedules (the console's changes and its own) are the ones a credential may name.
    let _lock = keyway_store::DataDirLock::acquire(data, "keyway import-credentials")?;
    let mut store = keyway_store::Store::open_existing(data)?;
    let site = keyway_daemon::schedules::apply_stored(site, &store.schedules()?);
    let progress = Progress::new("checking", text.lines().count());
    let rows = match keyway_daemon::import::parse_csv(&site, &text) {
        Ok(rows) => rows,
        Err(problems) => {
            progress.clear();
            for problem in &problems {
                eprintln!("{}:{problem}", csv.display());
            }
            eprintln!("keyway: nothing was imported");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    progress.finish();
    let progress = Progress::new("writing", rows.len());
    store.put_credentials_with_progress(&rows, &mut |done| progress.show(done))?;
    progress.finish();
    println!(
        "imported {} credentials into {}",
        rows.len(),
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A one-line progress bar on stderr, drawn only on a terminal.
struct Progress {
    label: &'static str,
    total: usize,
    terminal: bool,
}

impl Progress {
    fn new(label: &'static str, total: usize) -> Progress {
        Progress {
            label,
            total,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, done: usize) {
        if !self.terminal {
            return;
        }
        let fraction = if self.total == 0 {
            1.0
        } else {
            done as f64 / self.total as f64
        };
        let filled = (fraction * 30.0).round() as usize;
        eprint!(
            "\r{:>8} [{}{}] {done}/{} ({:.0} %)",
            self.label,
            "#".repeat(filled),
            " ".repeat(30 - filled.min(30)),
            self.total,
            fraction * 100.0
        );
    }

    fn finish(&self) {
        self.show(self.total);
        if self.terminal {
            eprintln!();
        }
    }

    fn clear(&self) {
        if self.terminal {
            eprint!("\r{}\r", " ".repeat(70));
        }
    }
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// Reads and validates a site file. Invalid files print every problem and give `None`.
fn load(path: &Path) -> anyhow::Result<Option<Site>> {
    let text = read(path, "site file")?;
    match parse_site(&path.display().to_string(), &text) {
        Ok(site) => Ok(Some(site)),
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "keyway: {} problem(s) in site file {}",
                errors.0.len(),
                path.display()
            );
            Ok(None)
        }
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {what} {}: {e}", path.display()))
}

fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`keyway check site.toml | head`) is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn exit_for(severities: impl Iterator<Item = Severity>) -> ExitCode {
    let mut severities = severities;
    if severities.any(|s| s == Severity::Error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
