//! The outputs of `keyway check` and `keyway simulate`: the JSON shapes of the simulation spec
//! ("Output") and the tables for people. Building text is not I/O: the binary prints it.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::check::{Finding, describe_moment};
use crate::physics::{LockPosition, Millis};
use crate::rules::Severity;
use crate::scenario::ScenarioRun;
use crate::site::Site;

/// Seconds as JSON: an integer when whole, else a fraction.
#[derive(Clone, Copy, Debug)]
struct Seconds(Millis);

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % 1000 == 0 {
            serializer.serialize_i64(self.0 / 1000)
        } else {
            serializer.serialize_f64(self.0 as f64 / 1000.0)
        }
    }
}

/// `{"site", "findings": [{"rule", "severity", "door", "area", "message", "citation"}], "summary"}`.
#[derive(Debug)]
pub struct CheckJson<'a> {
    pub site: &'a Site,
    pub findings: &'a [Finding],
}

#[derive(Serialize)]
struct CheckFindingJson<'a> {
    rule: &'static str,
    severity: Severity,
    door: Option<&'a str>,
    area: Option<&'a str>,
    message: &'a str,
    citation: String,
}

/// Counts of findings by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Summary {
        let count = |s: Severity| findings.iter().filter(|f| f.rule.severity == s).count();
        Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
        }
    }
}

impl Serialize for CheckJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let findings: Vec<CheckFindingJson> = self
            .findings
            .iter()
            .map(|f| CheckFindingJson {
                rule: f.rule.id,
                severity: f.rule.severity,
                door: f.door.map(|d| self.site.door(d).id.as_str()),
                area: f.area.map(|a| self.site.area(a).id.as_str()),
                message: &f.message,
                citation: f.rule.citation(&self.site.info),
            })
            .collect();
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("site", &self.site.info.name)?;
        map.serialize_entry("findings", &findings)?;
        map.serialize_entry("summary", &Summary::of(self.findings))?;
        map.end()
    }
}

/// `{"site", "scenario", "moments": [{"at_seconds", "cause", "doors", "areas"}], "findings"}`.
#[derive(Debug)]
pub struct SimulateJson<'a> {
    pub site: &'a Site,
    pub run: &'a ScenarioRun,
    pub findings: &'a [Finding],
}

#[derive(Serialize)]
struct SimulateFindingJson<'a> {
    rule: &'static str,
    severity: Severity,
    area: Option<&'a str>,
    door: Option<&'a str>,
    at_seconds: Option<Seconds>,
    message: &'a str,
}

/// A map from ids to values, in file order.
struct IdMap<'a, T>(Vec<(&'a str, &'a T)>);

impl<T: Serialize> Serialize for IdMap<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (id, value) in &self.0 {
            map.serialize_entry(id, value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct MomentJson<'a> {
    at_seconds: Seconds,
    cause: &'a str,
    doors: IdMap<'a, crate::analysis::DoorView>,
    areas: IdMap<'a, crate::analysis::AreaView>,
}

impl Serialize for SimulateJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let moments: Vec<MomentJson> = self
            .run
            .moments
            .iter()
            .map(|m| MomentJson {
                at_seconds: Seconds(m.at),
                cause: &m.cause,
                doors: IdMap(
                    self.site
                        .doors
                        .iter()
                        .map(|d| d.id.as_str())
                        .zip(&m.doors)
                        .collect(),
                ),
                areas: IdMap(
                    self.site
                        .areas
                        .iter()
                        .map(|a| a.id.as_str())
                        .zip(&m.areas)
                        .collect(),
                ),
            })
            .collect();
        let findings: Vec<SimulateFindingJson> = self
            .findings
            .iter()
            .map(|f| SimulateFindingJson {
                rule: f.rule.id,
                severity: f.rule.severity,
                area: f.area.map(|a| self.site.area(a).id.as_str()),
                door: f.door.map(|d| self.site.door(d).id.as_str()),
                at_seconds: f.at.map(Seconds),
                message: &f.message,
            })
            .collect();
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("site", &self.site.info.name)?;
        map.serialize_entry("scenario", self.run.scenario.name())?;
        map.serialize_entry("moments", &moments)?;
        map.serialize_entry("findings", &findings)?;
        map.end()
    }
}

/// Terminal styling; plain text when colour is off (not a terminal, or `NO_COLOR`).
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity(self, severity: Severity) -> String {
        let code = match severity {
            Severity::Error => "1;31",
            Severity::Warning => "33",
            Severity::Info => "36",
        };
        self.paint(code, &format!("{:<7}", severity.name()))
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// The `check` table: grouped by severity, one line per finding with its citation under it.
pub fn check_table(site: &Site, findings: &[Finding], style: Style) -> String {
    let mut out = format!(
        "{}\n",
        style.bold(&format!("Keyway check: {}", site.info.name))
    );
    if findings.is_empty() {
        out.push_str("\nNo findings.\n");
    }
    let rule_width = findings.iter().map(|f| f.rule.id.len()).max().unwrap_or(0);
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.rule.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        let heading = match severity {
            Severity::Error => "Errors",
            Severity::Warning => "Warnings",
            Severity::Info => "Notes",
        };
        out.push_str(&format!("\n{} ({})\n", style.bold(heading), group.len()));
        for finding in group {
            out.push_str(&format!(
                "  {} {:<rule_width$}  {}\n  {:7} {:rule_width$}  {}\n",
                style.severity(severity),
                finding.rule.id,
                finding.message,
                "",
                "",
                style.dim(&finding.rule.citation(&site.info)),
            ));
        }
    }
    let summary = Summary::of(findings);
    out.push_str(&format!(
        "\n{} error(s), {} warning(s), {} note(s)\n",
        summary.errors, summary.warnings, summary.infos
    ));
    out
}

/// The `simulate` table: a timeline of the moments, the whole state at t = 0, then what changed
/// at each later moment, then the findings.
pub fn simulate_table(
    site: &Site,
    run: &ScenarioRun,
    findings: &[Finding],
    style: Style,
) -> String {
    let mut out = format!(
        "{}\n",
        style.bold(&format!(
            "Keyway simulate: {}, scenario {}",
            site.info.name, run.scenario
        ))
    );
    let door_width = site
        .doors
        .iter()
        .map(|d| d.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let area_width = site
        .areas
        .iter()
        .map(|a| a.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut previous: Option<&crate::scenario::Moment> = None;
    for moment in &run.moments {
        let when = if moment.at == 0 {
            "t = 0".to_string()
        } else {
            format!(
                "t = {} s ({})",
                moment.at as f64 / 1000.0,
                describe_moment(moment.at)
            )
        };
        out.push_str(&format!("\n{}  {}\n", style.bold(&when), moment.cause));
        let mut door_lines = Vec::new();
        for (i, door) in site.doors.iter().enumerate() {
            let view = moment.doors[i];
            if previous.is_some_and(|p| p.doors[i] == view) {
                continue;
            }
            let lock = match view.lock {
                LockPosition::Locked => style.paint("31", "locked  "),
                LockPosition::Unlocked => style.paint("32", "unlocked"),
            };
            door_lines.push(format!(
                "    {:<door_width$}  {}  {:<9}  egress {:<8}  entry {}",
                door.id,
                lock,
                if view.powered { "powered" } else { "unpowered" },
                view.egress.name(),
                view.entry.name(),
            ));
        }
        let mut area_lines = Vec::new();
        for (i, area) in site.areas.iter().enumerate() {
            let view = moment.areas[i];
            if previous.is_some_and(|p| p.areas[i] == view) {
                continue;
            }
            let exit = if view.can_exit {
                style.paint("32", "can exit   ")
            } else {
                style.paint("1;31", "CANNOT EXIT")
            };
            let open = if view.open_to_exterior {
                "open to the outside"
            } else {
                "closed to the outside"
            };
            area_lines.push(format!("    {:<area_width$}  {exit}  {open}", area.id));
        }
        if previous.is_some() && door_lines.is_empty() && area_lines.is_empty() {
            out.push_str("  nothing changes\n");
        }
        if !door_lines.is_empty() {
            out.push_str(&format!(
                "  {}\n",
                if previous.is_some() {
                    "doors that change:"
                } else {
                    "doors:"
                }
            ));
            door_lines
                .iter()
                .for_each(|l| out.push_str(&format!("{l}\n")));
        }
        if !area_lines.is_empty() {
            out.push_str(&format!(
                "  {}\n",
                if previous.is_some() {
                    "areas that change:"
                } else {
                    "areas:"
                }
            ));
            area_lines
                .iter()
                .for_each(|l| out.push_str(&format!("{l}\n")));
        }
        previous = Some(moment);
    }
    out.push_str(&format!("\n{}\n", style.bold("Findings")));
    if findings.is_empty() {
        out.push_str("  none\n");
    }
    for finding in findings {
        out.push_str(&format!(
            "  {} {}  {}\n",
            style.severity(finding.rule.severity),
            finding.rule.id,
            finding.message
        ));
    }
    out
}
