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
    /// Print the rule reference (every rule id, severity, meaning and citation) as Markdown.
    Rules,
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
}

impl From<ScenarioArg> for Scenario {
    fn from(arg: ScenarioArg) -> Scenario {
        match arg {
            ScenarioArg::Normal => Scenario::Normal,
            ScenarioArg::Outage => Scenario::Outage,
            ScenarioArg::Fire => Scenario::Fire,
            ScenarioArg::OutageFire => Scenario::OutageFire,
            ScenarioArg::Lockdown => Scenario::Lockdown,
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
        Command::Rules => {
            print(&keyway_core::rules::reference_markdown())?;
            Ok(ExitCode::SUCCESS)
        }
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
