//! Loading a site file: TOML text in, a valid [`Site`] or every error of the file out.
//!
//! The walk is done by hand over the spanned TOML tree rather than with `serde` derive so that
//! every problem of a file is reported at once, each naming its line, column, field and value,
//! and so that an unknown field is an error: a typo must never silently weaken a safety rule.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::schedule::WeeklySpan;

mod people;
mod script;
use crate::site::*;
pub use script::{Script, Step, parse_script};

/// One problem in a site file, pointing at where it is.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct SiteError {
    pub file: String,
    /// 1-based line of the offending key or value.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// The element the field belongs to, such as `door "front"` or `power #2`.
    pub owner: Option<String>,
    /// The field's path in the file, such as `lock.fail`.
    pub field: String,
    /// The offending value as written in the file, when there is one.
    pub value: Option<String>,
    /// What is wrong and what was expected.
    pub problem: String,
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(owner) = &self.owner {
            write!(f, "{owner}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "field `{}`", self.field)?;
            if let Some(value) = &self.value {
                write!(f, " = {value}")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.problem)
    }
}

/// Every problem found in one site file, in file order.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct SiteErrors(pub Vec<SiteError>);

impl fmt::Display for SiteErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Parses and validates a site file. `file_name` is only used in error messages.
///
/// The file is parsed one top-level section at a time (see [`split_sections`]): each
/// section's spanned tree is walked into draft elements and dropped, so memory and time stay
/// linear in the size of the file. References are resolved once every section is read.
pub fn parse_site(file_name: &str, text: &str) -> Result<Site, SiteErrors> {
    let mut loader = Loader::new(file_name, text);
    let mut drafts = Drafts::default();
    if !walk_sections(&mut loader, text, |loader, document| {
        loader.section(document, &mut drafts)
    }) {
        return Err(loader.finish_errors());
    }
    let site = loader.resolve_site(drafts);
    if loader.errors.is_empty() {
        Ok(site)
    } else {
        Err(loader.finish_errors())
    }
}

/// Parses `text` one top-level section at a time and hands each section's tree to `walk`.
/// On a syntax error, the syntax errors are all that is kept (the rest would be guesses about
/// a file that could not be read) and `false` is returned. Afterwards the loader's offset is
/// back at the start of the file, for errors found while resolving.
fn walk_sections<'s>(
    loader: &mut Loader<'s>,
    text: &'s str,
    mut walk: impl FnMut(&mut Loader<'s>, &Table<'s>),
) -> bool {
    let mut syntax_errors_found = false;
    for section in split_sections(text) {
        loader.offset = section.start;
        let (document, syntax_errors) = DeTable::parse_recoverable(&text[section]);
        if !syntax_errors.is_empty() {
            syntax_errors_found = true;
            for error in syntax_errors {
                loader.push(
                    error.span().unwrap_or(0..0),
                    None,
                    "",
                    None,
                    error.message().trim().to_string(),
                );
            }
        } else if !syntax_errors_found {
            walk(loader, document.get_ref());
        }
    }
    loader.offset = 0;
    if syntax_errors_found {
        loader.errors.retain(|e| e.field.is_empty());
    }
    !syntax_errors_found
}

/// Splits a site file where a top-level table starts (`[site]`, `[[door]]`, …, but not a
/// dotted one such as `[door.lock]`, which belongs to the door before it), so that each part
/// parses on its own. Header brackets are told from array brackets by the lexer: a header is
/// a `[` at the start of a line outside any value.
fn split_sections(text: &str) -> Vec<Range<usize>> {
    use toml_parser::lexer::TokenKind;
    let mut starts = vec![0];
    let mut line_start = true;
    let mut in_value = false;
    let mut value_depth = 0u32;
    // The start of the header being read, and whether its key is dotted.
    let mut header: Option<(usize, bool)> = None;
    for token in toml_parser::Source::new(text).lex() {
        let kind = token.kind();
        if let Some((start, dotted)) = &mut header {
            match kind {
                TokenKind::Dot => *dotted = true,
                TokenKind::Newline | TokenKind::Eof => {
                    if !*dotted && *start > 0 {
                        starts.push(*start);
                    }
                    header = None;
                    line_start = true;
                }
                _ => {}
            }
            continue;
        }
        match kind {
            TokenKind::Whitespace | TokenKind::Comment => continue,
            TokenKind::Newline => {
                if value_depth == 0 {
                    in_value = false;
                }
                line_start = true;
                continue;
            }
            TokenKind::LeftSquareBracket if line_start && !in_value => {
                header = Some((token.span().start(), false));
            }
            TokenKind::Equals if value_depth == 0 => in_value = true,
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket if in_value => {
                value_depth += 1;
            }
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket if in_value => {
                value_depth = value_depth.saturating_sub(1);
            }
            _ => {}
        }
        line_start = false;
    }
    if let Some((start, false)) = header
        && start > 0
    {
        starts.push(start);
    }
    starts.dedup();
    let mut sections: Vec<Range<usize>> = starts.windows(2).map(|w| w[0]..w[1]).collect();
    sections.push(*starts.last().unwrap_or(&0)..text.len());
    sections
}

/// A reference to an element by id, resolved once the whole file is read.
#[derive(Clone)]
struct Reference<'s> {
    owner: Option<Owner<'s>>,
    /// The field's path, as `prefix` then `key`: put together only for an error.
    prefix: &'static str,
    key: &'static str,
    id: Cow<'s, str>,
    /// Absolute span of the value in the file.
    span: Range<usize>,
    kind: &'static str,
}

/// A circuit before its `fed_by` is resolved.
struct DraftCircuit<'s> {
    circuit: Circuit,
    fed_by: Option<Reference<'s>>,
}

/// A door before its references are resolved.
struct DraftDoor<'s> {
    door: Door,
    inside: Option<Reference<'s>>,
    outside: Option<Reference<'s>>,
    schedule: Option<Reference<'s>>,
    lock_power: Option<Reference<'s>>,
}

/// What the sections of a file have given so far.
#[derive(Default)]
struct Drafts<'s> {
    info: Option<SiteInfo>,
    controller_seen: bool,
    controller_power: Option<Reference<'s>>,
    circuits: Vec<DraftCircuit<'s>>,
    circuit_names: Vec<Option<Named<'s>>>,
    areas: Vec<Area>,
    area_names: Vec<Option<Named<'s>>>,
    /// Areas whose `occupancy` was not given: they take the site's once it is known.
    areas_with_site_occupancy: Vec<usize>,
    schedules: Vec<Schedule>,
    schedule_names: Vec<Option<Named<'s>>>,
    doors: Vec<DraftDoor<'s>>,
    door_names: Vec<Option<Named<'s>>>,
    buses: Vec<Bus>,
    bus_names: Vec<Option<Named<'s>>>,
    wiring: Option<SiteWiring>,
    zones: Vec<people::DraftZone<'s>>,
    zone_names: Vec<Option<Named<'s>>>,
    interlocks: Vec<people::DraftInterlock<'s>>,
    interlock_names: Vec<Option<Named<'s>>>,
    stations: Vec<people::DraftStation<'s>>,
    station_names: Vec<Option<Named<'s>>>,
    default_chip: Option<String>,
    /// `[wiring] fire_alarm`, to check against `[site] fire_alarm` once both are read.
    fire_alarm_input: Option<Range<usize>>,
    lines: Vec<LineUseSite>,
}

type Table<'i> = DeTable<'i>;

/// Ids to indices. foldhash (already used by the toml parser) rather than SipHash: the keys
/// come from the site file, but a slow resolve is all a hostile file could cause here.
type IdMap<'n> = HashMap<&'n str, u32, foldhash::fast::RandomState>;
type Value<'i> = Spanned<DeValue<'i>>;

/// The element fields belong to: its kind, its number among its kind, and its id once read.
/// It is only put into words when there is an error to report.
#[derive(Clone)]
struct Owner<'s> {
    kind: &'static str,
    number: usize,
    id: Option<Cow<'s, str>>,
}

impl Owner<'_> {
    fn describe(&self) -> String {
        match &self.id {
            Some(id) => format!("{} \"{id}\"", self.kind),
            None => format!("{} #{}", self.kind, self.number),
        }
    }
}

/// Where in the file a group of fields sits: who owns them, their path prefix, and the span
/// to point at when one of them is missing.
#[derive(Clone)]
struct Scope<'s> {
    owner: Option<Owner<'s>>,
    prefix: &'static str,
    span: Range<usize>,
}

impl<'s> Scope<'s> {
    const ROOT: Scope<'static> = Scope {
        owner: None,
        prefix: "",
        span: 0..0,
    };

    fn field(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    fn owner_words(&self) -> Option<String> {
        self.owner.as_ref().map(Owner::describe)
    }

    /// The scope of a sub-table such as `[door.lock]`, whose fields are written `lock.…`.
    fn nested(&self, prefix: &'static str, span: Range<usize>) -> Scope<'s> {
        Scope {
            owner: self.owner.clone(),
            prefix,
            span,
        }
    }
}

struct Loader<'s> {
    file: &'s str,
    text: &'s str,
    line_starts: Vec<usize>,
    errors: Vec<SiteError>,
    /// Where the section being walked starts in the file: spans from its tree are relative to it.
    offset: usize,
}

const TOP_LEVEL: &[&str] = &[
    "site",
    "controller",
    "power",
    "area",
    "door",
    "schedule",
    "bus",
    "wiring",
    "zone",
    "interlock",
    "muster_station",
];
/// The longest duration a site file may give (a battery, an unlock, a delay): 30 days. Past
/// it a value is a mistake (minutes typed as seconds, a stray exponent), and bounding it keeps
/// every instant the controller computes far from the ends of its 64-bit clock.
pub const MAX_DURATION_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// `battery_minutes` at most: the same 30 days.
pub const MAX_BATTERY_MINUTES: f64 = MAX_DURATION_SECONDS / 60.0;

const BUS_FIELDS: &[&str] = &[
    "id",
    "device",
    "baud",
    "scbk",
    "rs485",
    "provision",
    "reply_timeout_ms",
    "offline_after_ms",
];
const SITE_FIELDS: &[&str] = &[
    "name",
    "timezone",
    "codes",
    "occupancy",
    "stories",
    "sprinklered",
    "fire_alarm",
    "key_box",
];
const CONTROLLER_FIELDS: &[&str] = &["power"];
const CIRCUIT_FIELDS: &[&str] = &[
    "id",
    "name",
    "fed_by",
    "battery_minutes",
    "fire_alarm_cutoff",
    "wiring",
];
const AREA_FIELDS: &[&str] = &[
    "id",
    "name",
    "kind",
    "occupants",
    "occupancy",
    "assets",
    "shelter",
];
const DOOR_FIELDS: &[&str] = &[
    "id",
    "name",
    "inside",
    "outside",
    "egress",
    "main_entrance",
    "fire_rated",
    "exit_hardware",
    "key_override",
    "exit_only",
    "dps",
    "unlock_seconds",
    "held_open_seconds",
    "schedule",
    "lock",
    "release",
    "reader",
    "exit_reader",
    "access",
    "wiring",
];
const ACCESS_FIELDS: &[&str] = &["two_person", "two_person_seconds", "card_and_pin"];
const LOCK_FIELDS: &[&str] = &["type", "fail", "power", "locks_egress", "listed"];
const RELEASE_FIELDS: &[&str] = &[
    "arrangement",
    "rex_sensor",
    "push_to_exit",
    "fire_alarm",
    "remote",
    "delay_seconds",
    "ahj_approved_delay",
    "sign",
];
const PUSH_TO_EXIT_FIELDS: &[&str] = &[
    "height_in",
    "distance_in",
    "direct_power_cut",
    "hold_seconds",
];
const READER_FIELDS: &[&str] = &["kind", "address", "bus", "dps_input", "rex_input"];
const LINE_FIELDS: &[&str] = &["chip", "line", "active_low", "debounce_ms"];
const SITE_WIRING_FIELDS: &[&str] = &[
    "chip",
    "fire_alarm",
    "lockdown",
    "hold",
    "secure",
    "evacuate",
    "shelter",
];
const DOOR_WIRING_FIELDS: &[&str] = &[
    "relay",
    "dps",
    "rex",
    "key_override",
    "lock_status",
    "wiegand_d0",
    "wiegand_d1",
];
const CIRCUIT_WIRING_FIELDS: &[&str] = &["ac_fail", "battery_low"];

/// The chip of a line that names none, unless `[wiring] chip` says otherwise.
const DEFAULT_CHIP: &str = "/dev/gpiochip0";

/// What a GPIO line is used for, which decides its fields.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineUse {
    /// A relay: no debounce.
    Output,
    /// A contact read through the debouncer (default 20 ms).
    Contact,
    /// Wiegand data: every edge counts, no debounce.
    Data,
}

/// A line as written, to find two uses of one line once the default chip is known.
struct LineUseSite {
    chip: Option<String>,
    line: u32,
    span: Range<usize>,
    owner: Option<String>,
    field: String,
}
const SCHEDULE_FIELDS: &[&str] = &["id", "weekly", "holidays"];

/// A parsed id with where it was written, to point at duplicates.
struct Named<'s> {
    id: Cow<'s, str>,
    /// Absolute span of the id in the file.
    span: Range<usize>,
}

impl<'s> Loader<'s> {
    fn new(file: &'s str, text: &'s str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Loader {
            file,
            text,
            line_starts,
            errors: Vec::new(),
            offset: 0,
        }
    }

    fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line as u32, column as u32)
    }

    /// A span of the section being walked, as a span of the whole file.
    fn absolute(&self, span: Range<usize>) -> Range<usize> {
        span.start + self.offset..span.end + self.offset
    }

    /// The line of an absolute span.
    fn line_of(&self, span: &Range<usize>) -> u32 {
        self.position(span.start).0
    }

    fn source(&self, span: &Range<usize>) -> String {
        let raw = self
            .text
            .get(self.absolute(span.clone()))
            .unwrap_or("")
            .trim();
        let first_line = raw.lines().next().unwrap_or("");
        if first_line.chars().count() > 60 || first_line.len() < raw.len() {
            format!("{}…", first_line.chars().take(60).collect::<String>())
        } else {
            first_line.to_string()
        }
    }

    fn push(
        &mut self,
        span: Range<usize>,
        owner: Option<String>,
        field: &str,
        value: Option<String>,
        problem: String,
    ) {
        let (line, column) = self.position(span.start + self.offset);
        self.errors.push(SiteError {
            file: self.file.to_string(),
            line,
            column,
            owner,
            field: field.to_string(),
            value,
            problem,
        });
    }

    /// An error about a value that is present: it is quoted back.
    fn bad_value(&mut self, scope: &Scope<'s>, key: &str, span: Range<usize>, problem: String) {
        let value = Some(self.source(&span));
        self.push(span, scope.owner_words(), &scope.field(key), value, problem);
    }

    fn missing(&mut self, scope: &Scope<'s>, key: &str, what: &str) {
        self.push(
            scope.span.clone(),
            scope.owner_words(),
            &scope.field(key),
            None,
            format!("missing required field: {what}"),
        );
    }

    fn finish_errors(mut self) -> SiteErrors {
        self.errors.sort_by_key(|e| (e.line, e.column));
        SiteErrors(self.errors)
    }

    /// Reports every key of `table` that is not in `allowed`, with a suggestion for a typo.
    fn check_fields(&mut self, scope: &Scope<'s>, table: &Table, allowed: &[&str]) {
        for (key, _) in table.iter() {
            let name = key.get_ref().as_ref();
            if allowed.contains(&name) {
                continue;
            }
            let suggestion = allowed
                .iter()
                .map(|candidate| (edit_distance(name, candidate), candidate))
                .filter(|(distance, _)| *distance <= 2)
                .min()
                .map(|(_, candidate)| format!(" (did you mean `{}`?)", scope.field(candidate)))
                .unwrap_or_default();
            self.push(
                key.span(),
                scope.owner_words(),
                &scope.field(name),
                None,
                format!(
                    "unknown field{suggestion}; expected one of {}",
                    allowed
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }

    fn wrong_type(&mut self, scope: &Scope<'s>, key: &str, value: &Value, expected: &str) {
        let found = type_name(value.get_ref());
        self.bad_value(
            scope,
            key,
            value.span(),
            format!("expected {expected}, found {found}"),
        );
    }

    fn string<'t>(
        &mut self,
        scope: &Scope<'s>,
        table: &'t Table,
        key: &str,
    ) -> Option<(&'t str, Range<usize>)> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some((s.as_ref(), value.span())),
            _ => {
                self.wrong_type(scope, key, value, "a string");
                None
            }
        }
    }

    fn required_string<'t>(
        &mut self,
        scope: &Scope<'s>,
        table: &'t Table,
        key: &str,
        what: impl FnOnce() -> String,
    ) -> Option<(&'t str, Range<usize>)> {
        if table.get(key).is_none() {
            self.missing(scope, key, &what());
            return None;
        }
        self.string(scope, table, key)
    }

    fn boolean(&mut self, scope: &Scope<'s>, table: &Table, key: &str, default: bool) -> bool {
        let Some(value) = table.get(key) else {
            return default;
        };
        match value.get_ref() {
            DeValue::Boolean(b) => *b,
            _ => {
                self.wrong_type(scope, key, value, "true or false");
                default
            }
        }
    }

    /// A number (integer or float) checked by `valid`, which says what was expected.
    fn number(
        &mut self,
        scope: &Scope<'s>,
        table: &Table,
        key: &str,
        valid: impl Fn(f64) -> Result<(), &'static str>,
    ) -> Option<f64> {
        let value = table.get(key)?;
        let number = match value.get_ref() {
            DeValue::Integer(i) => parse_integer(i.as_str(), i.radix()).map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            _ => {
                self.wrong_type(scope, key, value, "a number");
                return None;
            }
        };
        match number {
            Some(n) if n.is_finite() => match valid(n) {
                Ok(()) => Some(n),
                Err(expected) => {
                    self.bad_value(scope, key, value.span(), format!("expected {expected}"));
                    None
                }
            },
            _ => {
                self.bad_value(
                    scope,
                    key,
                    value.span(),
                    "expected a finite number".to_string(),
                );
                None
            }
        }
    }

    fn integer(
        &mut self,
        scope: &Scope<'s>,
        table: &Table,
        key: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let value = table.get(key)?;
        let DeValue::Integer(i) = value.get_ref() else {
            self.wrong_type(scope, key, value, "an integer");
            return None;
        };
        match parse_integer(i.as_str(), i.radix()) {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.bad_value(
                    scope,
                    key,
                    value.span(),
                    format!("expected an integer from {min} to {max}"),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(
        &mut self,
        scope: &Scope<'s>,
        table: &Table,
        key: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let (text, span) = self.string(scope, table, key)?;
        self.choice_of(scope, key, text, span, options)
    }

    fn choice_of<T: Copy>(
        &mut self,
        scope: &Scope<'s>,
        key: &str,
        text: &str,
        span: Range<usize>,
        options: &[(&str, T)],
    ) -> Option<T> {
        if let Some((_, value)) = options.iter().find(|(name, _)| *name == text) {
            return Some(*value);
        }
        let names: Vec<String> = options
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect();
        self.bad_value(
            scope,
            key,
            span,
            format!("unknown value; expected one of {}", names.join(", ")),
        );
        None
    }

    fn string_list<'t>(
        &mut self,
        scope: &Scope<'s>,
        table: &'t Table,
        key: &str,
    ) -> Option<Vec<(&'t str, Range<usize>)>> {
        let value = table.get(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(scope, key, value, "a list of strings");
            return None;
        };
        let mut strings = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => strings.push((s.as_ref(), item.span())),
                _ => self.wrong_type(scope, key, item, "a string"),
            }
        }
        Some(strings)
    }

    fn subtable<'t>(
        &mut self,
        scope: &Scope<'s>,
        table: &'t Table<'s>,
        key: &str,
    ) -> Option<(&'t Table<'s>, Range<usize>)> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::Table(t) => Some((t, value.span())),
            _ => {
                self.wrong_type(scope, key, value, "a table");
                None
            }
        }
    }

    /// The required `id` of an element: present, a string, and of the id alphabet.
    fn id(&mut self, scope: &Scope<'s>, table: &Table<'s>, what: &str) -> Option<Named<'s>> {
        let (text, span) =
            self.required_string(scope, table, "id", || format!("the {what}'s id"))?;
        self.check_id(scope, "id", text, span.clone())?;
        Some(Named {
            id: owned_string(table, "id"),
            span: self.absolute(span),
        })
    }

    fn check_id(
        &mut self,
        scope: &Scope<'s>,
        key: &str,
        text: &str,
        span: Range<usize>,
    ) -> Option<()> {
        if crate::site::is_valid_id(text) {
            Some(())
        } else {
            self.bad_value(scope, key, span, crate::site::ID_RULE.to_string());
            None
        }
    }

    /// Checks that each id is unique within its kind, pointing at the repeats. Called once the
    /// whole file is read (spans are absolute, the offset is 0).
    fn unique_ids<'n>(&mut self, kind: &str, named: &'n [Option<Named<'s>>]) -> IdMap<'n> {
        let mut first_seen = IdMap::with_capacity_and_hasher(named.len(), Default::default());
        for (i, entry) in named.iter().enumerate() {
            let Some(entry) = entry else { continue };
            if let Some(first) = first_seen.get(entry.id.as_ref()) {
                let first_line = named[*first as usize]
                    .as_ref()
                    .map(|n| self.line_of(&n.span))
                    .unwrap_or(0);
                let value = Some(self.source(&entry.span));
                self.push(
                    entry.span.clone(),
                    Some(format!("{kind} #{}", i + 1)),
                    "id",
                    value,
                    format!("duplicate id: another {kind} has it, at line {first_line}"),
                );
            } else {
                first_seen.insert(entry.id.as_ref(), i as u32);
            }
        }
        first_seen
    }

    /// Reads a reference field, to be resolved once the whole file is read.
    fn reference(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        key: &'static str,
        kind: &'static str,
        required: bool,
    ) -> Option<Reference<'s>> {
        let found = if required {
            self.required_string(scope, table, key, || format!("the id of a {kind}"))
        } else {
            self.string(scope, table, key)
        };
        let (_, span) = found?;
        Some(Reference {
            owner: scope.owner.clone(),
            prefix: scope.prefix,
            key,
            id: owned_string(table, key),
            span: self.absolute(span),
            kind,
        })
    }

    /// Resolves a reference to an index, pointing at a dangling one.
    fn resolve(&mut self, reference: Option<&Reference<'s>>, ids: &IdMap) -> Option<u32> {
        let reference = reference?;
        if let Some(index) = ids.get(reference.id.as_ref()) {
            return Some(*index);
        }
        let kind = reference.kind;
        let hint = if ids.is_empty() {
            format!("the file defines no {kind}")
        } else if ids.len() <= 12 {
            let mut known: Vec<&str> = ids.keys().copied().collect();
            known.sort_unstable();
            format!("known: {}", known.join(", "))
        } else {
            format!("{} are defined", ids.len())
        };
        let value = Some(self.source(&reference.span));
        self.push(
            reference.span.clone(),
            reference.owner.as_ref().map(Owner::describe),
            &format!("{}{}", reference.prefix, reference.key),
            value,
            format!("no {kind} has this id ({hint})"),
        );
        None
    }

    /// Walks one section of the file (normally a single top-level table) into the drafts.
    fn section(&mut self, document: &Table<'s>, drafts: &mut Drafts<'s>) {
        self.check_fields(&Scope::ROOT, document, TOP_LEVEL);
        for (key, value) in document.iter() {
            let name = key.get_ref().as_ref();
            let defined_before = match name {
                "site" => drafts.info.is_some(),
                "controller" => drafts.controller_seen,
                "wiring" => drafts.wiring.is_some(),
                _ => false,
            };
            if defined_before {
                self.push(
                    key.span(),
                    None,
                    name,
                    None,
                    format!("the table [{name}] is defined twice"),
                );
                continue;
            }
            match name {
                "site" => drafts.info = Some(self.site_info(value)),
                "controller" => {
                    drafts.controller_seen = true;
                    drafts.controller_power = self.controller(value);
                }
                "power" => self.circuits(value, drafts),
                "area" => self.areas(value, drafts),
                "schedule" => self.schedules(value, drafts),
                "door" => self.doors(value, drafts),
                "bus" => self.buses(value, drafts),
                "wiring" => self.site_wiring(value, drafts),
                "zone" => self.zones(value, drafts),
                "interlock" => self.interlocks(value, drafts),
                "muster_station" => self.muster_stations(value, drafts),
                _ => {}
            }
        }
    }

    /// Resolves every reference and builds the site, once every section is read.
    fn resolve_site(&mut self, drafts: Drafts<'s>) -> Site {
        let info = drafts.info.unwrap_or_else(|| {
            self.push(
                0..0,
                None,
                "site",
                None,
                "missing required table [site]".to_string(),
            );
            SiteInfo::default()
        });
        if !drafts.controller_seen {
            self.push(
                0..0,
                None,
                "controller",
                None,
                "missing required table [controller] (its `power` names the circuit that feeds the controller)".to_string(),
            );
        }
        let circuit_ids = self.unique_ids("power", &drafts.circuit_names);
        let area_ids = self.unique_ids("area", &drafts.area_names);
        let schedule_ids = self.unique_ids("schedule", &drafts.schedule_names);
        let door_ids = self.unique_ids("door", &drafts.door_names);
        self.unique_ids("bus", &drafts.bus_names);
        self.unique_ids("zone", &drafts.zone_names);
        self.unique_ids("interlock", &drafts.interlock_names);
        self.unique_ids("muster_station", &drafts.station_names);
        let zones = self.resolve_zones(drafts.zones, &area_ids);
        let interlocks = self.resolve_interlocks(drafts.interlocks, &door_ids);
        let stations = self.resolve_stations(drafts.stations, &area_ids);

        let controller_power = self.resolve(drafts.controller_power.as_ref(), &circuit_ids);
        let mut circuits = Vec::with_capacity(drafts.circuits.len());
        let mut fed_by_references = Vec::with_capacity(drafts.circuits.len());
        for draft in drafts.circuits {
            let mut circuit = draft.circuit;
            circuit.fed_by = self
                .resolve(draft.fed_by.as_ref(), &circuit_ids)
                .map(CircuitIdx);
            circuits.push(circuit);
            fed_by_references.push(draft.fed_by);
        }
        self.fed_by_cycles(&circuits, &fed_by_references);

        let mut areas = drafts.areas;
        for area in drafts.areas_with_site_occupancy {
            areas[area].occupancy = info.occupancy;
        }
        let mut doors = Vec::with_capacity(drafts.doors.len());
        for draft in drafts.doors {
            let mut door = draft.door;
            door.inside = AreaIdx(self.resolve(draft.inside.as_ref(), &area_ids).unwrap_or(0));
            door.outside = AreaIdx(self.resolve(draft.outside.as_ref(), &area_ids).unwrap_or(0));
            door.schedule = self
                .resolve(draft.schedule.as_ref(), &schedule_ids)
                .map(ScheduleIdx);
            let power = self.resolve(draft.lock_power.as_ref(), &circuit_ids);
            if let Some(lock) = &mut door.lock {
                lock.power = CircuitIdx(power.unwrap_or(0));
            }
            doors.push(door);
        }
        let controller_power = CircuitIdx(controller_power.unwrap_or(0));
        if let Some(span) = drafts.fire_alarm_input.clone()
            && !info.fire_alarm
        {
            self.push(
                span,
                None,
                "wiring.fire_alarm",
                None,
                "a fire alarm input needs a fire alarm system: `fire_alarm = true` in [site]"
                    .to_string(),
            );
        }
        let chip = drafts
            .default_chip
            .clone()
            .unwrap_or_else(|| DEFAULT_CHIP.to_string());
        self.lines_used_once(&drafts.lines, &chip);
        if !self.errors.is_empty() {
            // The indexes need a valid graph; this site is never handed out.
            return Site::index(
                info,
                controller_power,
                Vec::new(),
                Vec::new(),
                Vec::new(),
                Vec::new(),
            );
        }
        let mut site = Site::index(
            info,
            controller_power,
            circuits,
            areas,
            doors,
            drafts.schedules,
        );
        site.buses = drafts.buses;
        site.wiring = drafts.wiring.unwrap_or_default();
        site.set_people_rules(zones, interlocks, stations);
        self.readers_on_buses(&site, &drafts.door_names, &drafts.station_names);
        fill_default_chip(&mut site, &chip);
        if !self.errors.is_empty() {
            site.buses.clear();
        }
        site
    }

    /// Two readers at the same address on one real bus could never be told apart.
    fn readers_on_buses(
        &mut self,
        site: &Site,
        door_names: &[Option<Named<'s>>],
        station_names: &[Option<Named<'s>>],
    ) {
        let span_of = |names: &[Option<Named<'s>>], i: usize| {
            names
                .get(i)
                .and_then(|n| n.as_ref())
                .map_or(0..0, |n| n.span.clone())
        };
        // Every reader with its owner's words, the field it is written in, and a span.
        let mut readers: Vec<(&Reader, String, &str, Range<usize>)> = Vec::new();
        for (i, door) in site.doors.iter().enumerate() {
            let owner = format!("door \"{}\"", door.id);
            if let Some(reader) = &door.reader {
                readers.push((reader, owner.clone(), "reader", span_of(door_names, i)));
            }
            if let Some(reader) = &door.exit_reader {
                readers.push((reader, owner, "exit_reader", span_of(door_names, i)));
            }
        }
        for (i, station) in site.muster_stations.iter().enumerate() {
            let owner = format!("muster_station \"{}\"", station.id);
            readers.push((&station.reader, owner, "reader", span_of(station_names, i)));
        }
        let mut seen: HashMap<(&str, u32), String> = HashMap::new();
        for (reader, owner, field, span) in readers {
            if reader.kind != ReaderKind::Osdp || !site.buses.iter().any(|b| b.id == reader.bus) {
                continue;
            }
            if let Some(first) = seen.insert((reader.bus.as_str(), reader.address), owner.clone()) {
                self.push(
                    span,
                    Some(owner),
                    &format!("{field}.address"),
                    Some(reader.address.to_string()),
                    format!(
                        "{first} has a reader at this address on bus \"{}\" already",
                        reader.bus
                    ),
                );
            }
        }
    }

    fn lines_used_once(&mut self, lines: &[LineUseSite], default_chip: &str) {
        let mut seen: HashMap<(&str, u32), &LineUseSite> = HashMap::new();
        for used in lines {
            let chip = used.chip.as_deref().unwrap_or(default_chip);
            if let Some(first) = seen.insert((chip, used.line), used) {
                let first_owner = first
                    .owner
                    .as_deref()
                    .map_or(String::new(), |o| format!("{o} "));
                self.push(
                    used.span.clone(),
                    used.owner.clone(),
                    &used.field,
                    Some(used.line.to_string()),
                    format!(
                        "line {} of {chip} is already {first_owner}`{}` (line {})",
                        used.line,
                        first.field,
                        self.line_of(&first.span)
                    ),
                );
                seen.insert((chip, used.line), first);
            }
        }
    }

    /// `[wiring]`: the default chip and the site's own inputs.
    fn site_wiring(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(&Scope::ROOT, "wiring", value, "a table, written [wiring]");
            drafts.wiring = Some(SiteWiring::default());
            return;
        };
        let scope = Scope {
            owner: None,
            prefix: "wiring.",
            span: value.span(),
        };
        self.check_fields(&scope, table, SITE_WIRING_FIELDS);
        if let Some((chip, _)) = self.string(&scope, table, "chip") {
            drafts.default_chip = Some(chip_path(chip));
        }
        let mut lines = std::mem::take(&mut drafts.lines);
        let fire_alarm = self.gpio_line(
            &scope,
            table,
            "fire_alarm",
            "wiring.fire_alarm.",
            LineUse::Contact,
            &mut lines,
        );
        if fire_alarm.is_some() {
            drafts.fire_alarm_input = table.get("fire_alarm").map(|v| self.absolute(v.span()));
        }
        let mut button = |key: &str, prefix: &'static str| {
            self.gpio_line(&scope, table, key, prefix, LineUse::Contact, &mut lines)
        };
        let lockdown = button("lockdown", "wiring.lockdown.");
        let hold = button("hold", "wiring.hold.");
        let secure = button("secure", "wiring.secure.");
        let evacuate = button("evacuate", "wiring.evacuate.");
        let shelter = button("shelter", "wiring.shelter.");
        drafts.lines = lines;
        drafts.wiring = Some(SiteWiring {
            fire_alarm,
            lockdown,
            hold,
            secure,
            evacuate,
            shelter,
        });
    }

    /// `[door.wiring]`, each line checked against the device the door declares.
    fn door_wiring(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        door: &Door,
        drafts: &mut Drafts<'s>,
    ) -> Option<DoorWiring> {
        self.check_fields(scope, table, DOOR_WIRING_FIELDS);
        let mut lines = std::mem::take(&mut drafts.lines);
        let wiegand = door
            .reader
            .as_ref()
            .is_some_and(|r| r.kind == ReaderKind::Wiegand);
        let specs: [(&str, &'static str, LineUse, Option<&str>); 7] = [
            (
                "relay",
                "wiring.relay.",
                LineUse::Output,
                door.lock.is_none().then_some("lock ([door.lock])"),
            ),
            (
                "dps",
                "wiring.dps.",
                LineUse::Contact,
                (!door.dps).then_some("door position switch (`dps = true`)"),
            ),
            (
                "rex",
                "wiring.rex.",
                LineUse::Contact,
                (!door.release.rex_sensor)
                    .then_some("request-to-exit sensor (`release.rex_sensor = true`)"),
            ),
            (
                "key_override",
                "wiring.key_override.",
                LineUse::Contact,
                (!door.key_override).then_some("key override (`key_override = true`)"),
            ),
            (
                "lock_status",
                "wiring.lock_status.",
                LineUse::Contact,
                door.lock.is_none().then_some("lock ([door.lock])"),
            ),
            (
                "wiegand_d0",
                "wiring.wiegand_d0.",
                LineUse::Data,
                (!wiegand).then_some("Wiegand reader ([door.reader] kind = \"wiegand\")"),
            ),
            (
                "wiegand_d1",
                "wiring.wiegand_d1.",
                LineUse::Data,
                (!wiegand).then_some("Wiegand reader ([door.reader] kind = \"wiegand\")"),
            ),
        ];
        let mut found: [Option<GpioLine>; 7] = Default::default();
        for (slot, (key, prefix, use_, lacks)) in found.iter_mut().zip(specs) {
            *slot = self.gpio_line(scope, table, key, prefix, use_, &mut lines);
            if let (Some(_), Some(device)) = (slot.as_ref(), lacks) {
                let span = table.get(key).map(|v| v.span()).unwrap_or(0..0);
                self.bad_value(
                    scope,
                    key,
                    span,
                    format!("`{key}` is wired but the door has no {device}"),
                );
            }
        }
        drafts.lines = lines;
        // One device, one input: not a GPIO line and the reader's input both.
        let reader = door.reader.as_ref();
        for (key, slot, on_reader) in [
            ("dps", &found[1], reader.and_then(|r| r.dps_input)),
            ("rex", &found[2], reader.and_then(|r| r.rex_input)),
        ] {
            if let (Some(_), Some(input)) = (slot, on_reader) {
                let span = table.get(key).map(|v| v.span()).unwrap_or(0..0);
                self.bad_value(
                    scope,
                    key,
                    span,
                    format!("`{key}` is wired here and to the reader's input {input} (`reader.{key}_input`): choose one"),
                );
            }
        }
        let [
            relay,
            dps,
            rex,
            key_override,
            lock_status,
            wiegand_d0,
            wiegand_d1,
        ] = found;
        if wiegand_d0.is_some() != wiegand_d1.is_some() {
            let (present, absent) = if wiegand_d0.is_some() {
                ("wiegand_d0", "wiegand_d1")
            } else {
                ("wiegand_d1", "wiegand_d0")
            };
            let span = table.get(present).map(|v| v.span()).unwrap_or(0..0);
            self.bad_value(
                scope,
                present,
                span,
                format!("a Wiegand reader needs both data lines: `{absent}` is missing"),
            );
        }
        Some(DoorWiring {
            relay,
            dps,
            rex,
            key_override,
            lock_status,
            wiegand_d0,
            wiegand_d1,
        })
    }

    /// A GPIO line, written `{ line = 17, chip = "gpiochip1", active_low = true,
    /// debounce_ms = 20 }` (only `line` is required).
    fn gpio_line(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        key: &str,
        prefix: &'static str,
        use_: LineUse,
        lines: &mut Vec<LineUseSite>,
    ) -> Option<GpioLine> {
        let (line_table, span) = self.subtable(scope, table, key)?;
        let line_scope = scope.nested(prefix, span.clone());
        self.check_fields(&line_scope, line_table, LINE_FIELDS);
        if use_ != LineUse::Contact
            && let Some(value) = line_table.get("debounce_ms")
        {
            self.bad_value(
                &line_scope,
                "debounce_ms",
                value.span(),
                match use_ {
                    LineUse::Output => "an output has no debounce".to_string(),
                    _ => "Wiegand data lines are read edge by edge, without debounce".to_string(),
                },
            );
        }
        let line = if line_table.get("line").is_none() {
            self.missing(
                &line_scope,
                "line",
                "the line's offset on its chip, such as 17",
            );
            None
        } else {
            self.integer(&line_scope, line_table, "line", 0, 65_535)
        };
        let chip = self
            .string(&line_scope, line_table, "chip")
            .map(|(c, _)| chip_path(c));
        let active_low = self.boolean(&line_scope, line_table, "active_low", false);
        let debounce_ms = match use_ {
            LineUse::Contact => self
                .integer(&line_scope, line_table, "debounce_ms", 0, 1_000)
                .unwrap_or(20) as u32,
            _ => 0,
        };
        let line = line? as u32;
        lines.push(LineUseSite {
            chip: chip.clone(),
            line,
            span: self.absolute(span),
            owner: scope.owner_words(),
            field: prefix.trim_end_matches('.').to_string(),
        });
        Some(GpioLine {
            // Filled in from `[wiring] chip` once the whole file is read.
            chip: chip.unwrap_or_default(),
            line,
            active_low,
            debounce_ms,
        })
    }

    fn buses(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        for (table, span) in self.elements("bus", value) {
            let (scope, id) = self.element_start(
                "bus",
                drafts.buses.len() + 1,
                span,
                table,
                BUS_FIELDS,
                "bus",
            );
            let device = self.required_string(&scope, table, "device", || {
                "the serial device, such as \"/dev/ttyUSB0\"".to_string()
            });
            let baud = self
                .integer(&scope, table, "baud", 1200, 4_000_000)
                .unwrap_or(115_200) as u32;
            let mut scbk = None;
            if let Some((text, span)) = self.string(&scope, table, "scbk") {
                match parse_key(text) {
                    Some(key) => scbk = Some(key),
                    None => self.bad_value(
                        &scope,
                        "scbk",
                        span,
                        "expected 32 hexadecimal digits (a 16-byte key)".to_string(),
                    ),
                }
            }
            let provision = self.boolean(&scope, table, "provision", false);
            if provision
                && scbk.is_none()
                && let Some(span) = table.get("provision").map(|v| v.span())
            {
                self.bad_value(
                    &scope,
                    "provision",
                    span,
                    "provisioning gives readers the bus's key: set scbk too".to_string(),
                );
            }
            // SIA OSDP 2.2 §5.7: REPLY_DELAY 200 ms, off-line after 8 s without a valid reply.
            let reply_timeout_ms = self
                .integer(&scope, table, "reply_timeout_ms", 10, 5_000)
                .unwrap_or(200) as u32;
            let offline_after_ms = self
                .integer(&scope, table, "offline_after_ms", 100, 600_000)
                .unwrap_or(8_000) as u32;
            drafts.buses.push(Bus {
                id: id.as_ref().map(|n| n.id.to_string()).unwrap_or_default(),
                device: device.map(|(d, _)| d.to_string()).unwrap_or_default(),
                baud,
                scbk,
                rs485: self
                    .choice(&scope, table, "rs485", &Rs485::ALL)
                    .unwrap_or_default(),
                provision,
                reply_timeout_ms,
                offline_after_ms,
            });
            drafts.bus_names.push(id);
        }
    }

    fn site_info(&mut self, value: &Value<'s>) -> SiteInfo {
        let mut info = SiteInfo::default();
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(&Scope::ROOT, "site", value, "a table, written [site]");
            return info;
        };
        let scope = Scope {
            owner: None,
            prefix: "site.",
            span: value.span(),
        };
        self.check_fields(&scope, table, SITE_FIELDS);
        if let Some((name, _)) = self.required_string(&scope, table, "name", || {
            "the site's display name".to_string()
        }) {
            info.name = name.to_string();
        }
        if let Some((zone, zone_span)) = self.string(&scope, table, "timezone") {
            match jiff::tz::TimeZone::get(zone) {
                Ok(tz) => {
                    info.timezone = tz;
                    info.timezone_name = zone.to_string();
                }
                Err(_) => self.bad_value(
                    &scope,
                    "timezone",
                    zone_span,
                    "unknown time zone; expected an IANA name such as \"America/Chicago\" or \"UTC\"".to_string(),
                ),
            }
        }
        if let Some(codes) = self.string_list(&scope, table, "codes") {
            if codes.is_empty() {
                let codes_span = table.get("codes").map(|v| v.span()).unwrap_or(0..0);
                self.bad_value(
                    &scope,
                    "codes",
                    codes_span,
                    "expected at least one code edition".to_string(),
                );
            }
            let mut selected = Vec::new();
            for (text, code_span) in codes {
                if let Some(code) =
                    self.choice_of(&scope, "codes", text, code_span, &CodeEdition::ALL)
                    && !selected.contains(&code)
                {
                    selected.push(code);
                }
            }
            selected.sort();
            info.codes = selected;
        }
        if let Some(occupancy) = self.choice(&scope, table, "occupancy", &Occupancy::ALL) {
            info.occupancy = occupancy;
        }
        if let Some(stories) = self.integer(&scope, table, "stories", 1, 1000) {
            info.stories = stories as u32;
        }
        info.sprinklered = self.boolean(&scope, table, "sprinklered", false);
        info.fire_alarm = self.boolean(&scope, table, "fire_alarm", false);
        info.key_box = self.boolean(&scope, table, "key_box", false);
        info
    }

    fn controller(&mut self, value: &Value<'s>) -> Option<Reference<'s>> {
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(
                &Scope::ROOT,
                "controller",
                value,
                "a table, written [controller]",
            );
            return None;
        };
        let scope = Scope {
            owner: None,
            prefix: "controller.",
            span: value.span(),
        };
        self.check_fields(&scope, table, CONTROLLER_FIELDS);
        self.reference(&scope, table, "power", "power circuit", true)
    }

    /// The tables of a top-level `[[key]]` array.
    fn elements<'t>(
        &mut self,
        key: &str,
        value: &'t Value<'s>,
    ) -> Vec<(&'t Table<'s>, Range<usize>)> {
        let top = Scope {
            owner: None,
            prefix: "",
            span: value.span(),
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(
                &top,
                key,
                value,
                &format!("an array of tables, written [[{key}]]"),
            );
            return Vec::new();
        };
        let mut tables = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(t) => tables.push((t, item.span())),
                _ => self.wrong_type(&top, key, item, "a table"),
            }
        }
        tables
    }

    /// The scope of the `number`-th element of a kind, named by its id once that is read.
    fn element_scope(kind: &'static str, number: usize, span: Range<usize>) -> Scope<'s> {
        Scope {
            owner: Some(Owner {
                kind,
                number,
                id: None,
            }),
            prefix: "",
            span,
        }
    }

    /// The start of every element: its scope, its fields checked, its id read, and the scope
    /// named after the id from then on.
    fn element_start(
        &mut self,
        kind: &'static str,
        number: usize,
        span: Range<usize>,
        table: &Table<'s>,
        allowed: &[&str],
        what: &str,
    ) -> (Scope<'s>, Option<Named<'s>>) {
        let mut scope = Self::element_scope(kind, number, span);
        self.check_fields(&scope, table, allowed);
        let id = self.id(&scope, table, what);
        if let Some(id) = &id {
            scope.owner = Some(Owner {
                kind,
                number,
                id: Some(id.id.clone()),
            });
        }
        (scope, id)
    }

    fn circuits(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        for (table, span) in self.elements("power", value) {
            let (scope, id) = self.element_start(
                "power",
                drafts.circuits.len() + 1,
                span,
                table,
                CIRCUIT_FIELDS,
                "circuit",
            );
            let fed_by = self.reference(&scope, table, "fed_by", "power circuit", false);
            let battery_minutes = self
                .number(&scope, table, "battery_minutes", |n| {
                    if (0.0..=MAX_BATTERY_MINUTES).contains(&n) {
                        Ok(())
                    } else {
                        Err("minutes from 0 to 43200 (30 days)")
                    }
                })
                .unwrap_or(0.0);
            if battery_minutes > 0.0 && table.get("fed_by").is_none() {
                let span = table
                    .get("battery_minutes")
                    .map(|v| v.span())
                    .unwrap_or(0..0);
                self.bad_value(
                    &scope,
                    "battery_minutes",
                    span,
                    "a mains circuit (no `fed_by`) cannot have a battery: it is what an outage cuts; put the battery on a circuit fed by it".to_string(),
                );
            }
            let id_text = id.as_ref().map(|n| n.id.to_string()).unwrap_or_default();
            let mut circuit = Circuit {
                name: self
                    .string(&scope, table, "name")
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_else(|| id_text.clone()),
                id: id_text,
                fed_by: None,
                battery_minutes,
                fire_alarm_cutoff: self.boolean(&scope, table, "fire_alarm_cutoff", false),
                wiring: None,
            };
            if let Some((wiring, wiring_span)) = self.subtable(&scope, table, "wiring") {
                let wiring_scope = scope.nested("wiring.", wiring_span);
                self.check_fields(&wiring_scope, wiring, CIRCUIT_WIRING_FIELDS);
                let mut lines = std::mem::take(&mut drafts.lines);
                let ac_fail = self.gpio_line(
                    &wiring_scope,
                    wiring,
                    "ac_fail",
                    "wiring.ac_fail.",
                    LineUse::Contact,
                    &mut lines,
                );
                let battery_low = self.gpio_line(
                    &wiring_scope,
                    wiring,
                    "battery_low",
                    "wiring.battery_low.",
                    LineUse::Contact,
                    &mut lines,
                );
                drafts.lines = lines;
                if battery_low.is_some() && battery_minutes == 0.0 {
                    let span = wiring.get("battery_low").map(|v| v.span()).unwrap_or(0..0);
                    self.bad_value(
                        &wiring_scope,
                        "battery_low",
                        span,
                        "this circuit has no battery (`battery_minutes`) to report low".to_string(),
                    );
                }
                circuit.wiring = Some(Box::new(CircuitWiring {
                    ac_fail,
                    battery_low,
                }));
            }
            drafts.circuits.push(DraftCircuit { circuit, fed_by });
            drafts.circuit_names.push(id);
        }
    }

    /// A `fed_by` cycle has no mains to start from: reports each cycle once.
    fn fed_by_cycles(&mut self, circuits: &[Circuit], fed_by: &[Option<Reference<'s>>]) {
        // 0: not visited, 1: on the current walk, 2: done.
        let mut state = vec![0u8; circuits.len()];
        for start in 0..circuits.len() {
            let mut walk = Vec::new();
            let mut current = Some(start);
            while let Some(c) = current {
                match state[c] {
                    0 => {
                        state[c] = 1;
                        walk.push(c);
                        current = circuits[c].fed_by.map(CircuitIdx::index);
                    }
                    1 => {
                        let cycle_start = walk.iter().position(|w| *w == c).unwrap_or(0);
                        let cycle = &walk[cycle_start..];
                        let mut names: Vec<&str> =
                            cycle.iter().map(|i| circuits[*i].id.as_str()).collect();
                        names.push(&circuits[c].id);
                        // Point at the first `fed_by` of the cycle in the file.
                        let at = cycle
                            .iter()
                            .filter_map(|i| fed_by[*i].as_ref())
                            .min_by_key(|r| r.span.start);
                        if let Some(reference) = at {
                            let value = Some(self.source(&reference.span));
                            self.push(
                                reference.span.clone(),
                                reference.owner.as_ref().map(Owner::describe),
                                &format!("{}{}", reference.prefix, reference.key),
                                value,
                                format!("`fed_by` cycle: {}; every chain of circuits must start at a mains circuit", names.join(" → ")),
                            );
                        }
                        break;
                    }
                    _ => break,
                }
            }
            for c in walk {
                state[c] = 2;
            }
        }
    }

    fn areas(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        for (table, span) in self.elements("area", value) {
            let (scope, id) = self.element_start(
                "area",
                drafts.areas.len() + 1,
                span,
                table,
                AREA_FIELDS,
                "area",
            );
            let id_text = id.as_ref().map(|n| n.id.to_string()).unwrap_or_default();
            let occupancy = self.choice(&scope, table, "occupancy", &Occupancy::ALL);
            if occupancy.is_none() {
                drafts.areas_with_site_occupancy.push(drafts.areas.len());
            }
            drafts.areas.push(Area {
                name: self
                    .string(&scope, table, "name")
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_else(|| id_text.clone()),
                id: id_text,
                kind: self
                    .choice(&scope, table, "kind", &AreaKind::ALL)
                    .unwrap_or(AreaKind::Interior),
                occupants: self
                    .integer(&scope, table, "occupants", 0, 1_000_000)
                    .unwrap_or(0) as u32,
                occupancy: occupancy.unwrap_or(Occupancy::B),
                assets: self
                    .choice(&scope, table, "assets", &Assets::ALL)
                    .unwrap_or(Assets::Low),
                shelter: self.boolean(&scope, table, "shelter", false),
            });
            drafts.area_names.push(id);
        }
    }

    fn schedules(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        for (table, span) in self.elements("schedule", value) {
            let (scope, id) = self.element_start(
                "schedule",
                drafts.schedules.len() + 1,
                span,
                table,
                SCHEDULE_FIELDS,
                "schedule",
            );
            let mut weekly = Vec::new();
            for (text, span) in self
                .string_list(&scope, table, "weekly")
                .unwrap_or_default()
            {
                match WeeklySpan::parse(text) {
                    Ok(span) => weekly.push(span),
                    Err(problem) => self.bad_value(&scope, "weekly", span, problem),
                }
            }
            let mut holidays = Vec::new();
            for (text, span) in self
                .string_list(&scope, table, "holidays")
                .unwrap_or_default()
            {
                match parse_date(text) {
                    Some(date) => holidays.push(date),
                    None => self.bad_value(
                        &scope,
                        "holidays",
                        span,
                        "expected a date as YYYY-MM-DD".to_string(),
                    ),
                }
            }
            drafts.schedules.push(Schedule {
                id: id.as_ref().map(|n| n.id.to_string()).unwrap_or_default(),
                weekly,
                holidays,
            });
            drafts.schedule_names.push(id);
        }
    }

    fn doors(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        for (table, span) in self.elements("door", value) {
            let (scope, id) = self.element_start(
                "door",
                drafts.doors.len() + 1,
                span,
                table,
                DOOR_FIELDS,
                "door",
            );
            let id_text = id.as_ref().map(|n| n.id.to_string()).unwrap_or_default();
            drafts.door_names.push(id);

            let inside = self.reference(&scope, table, "inside", "area", true);
            let outside = self.reference(&scope, table, "outside", "area", true);
            if let (Some(inside), Some(outside)) = (&inside, &outside)
                && inside.id == outside.id
            {
                let span = table.get("outside").map(|v| v.span()).unwrap_or(0..0);
                self.bad_value(
                    &scope,
                    "outside",
                    span,
                    "a door must lead from its `inside` area to a different `outside` area"
                        .to_string(),
                );
            }
            let exit_hardware = self
                .choice(&scope, table, "exit_hardware", &ExitHardware::ALL)
                .unwrap_or(ExitHardware::Lever);
            let positive_seconds = |n: f64| {
                if n > 0.0 && n <= MAX_DURATION_SECONDS {
                    Ok(())
                } else {
                    Err("seconds greater than 0, at most 2592000 (30 days)")
                }
            };
            let mut door = Door {
                name: self
                    .string(&scope, table, "name")
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_else(|| id_text.clone()),
                id: id_text,
                inside: AreaIdx(0),
                outside: AreaIdx(0),
                egress: self.boolean(&scope, table, "egress", true),
                main_entrance: self.boolean(&scope, table, "main_entrance", false),
                fire_rated: self.boolean(&scope, table, "fire_rated", false),
                exit_hardware,
                key_override: self.boolean(&scope, table, "key_override", false),
                exit_only: self.boolean(&scope, table, "exit_only", false),
                dps: self.boolean(&scope, table, "dps", false),
                unlock_seconds: self
                    .number(&scope, table, "unlock_seconds", positive_seconds)
                    .unwrap_or(5.0),
                held_open_seconds: self
                    .number(&scope, table, "held_open_seconds", positive_seconds)
                    .unwrap_or(30.0),
                schedule: None,
                lock: None,
                release: Release::default(),
                reader: None,
                exit_reader: None,
                access: DoorAccess::default(),
                wiring: None,
            };
            let schedule = self.reference(&scope, table, "schedule", "schedule", false);
            let mut lock_power = None;
            if let Some((lock_table, lock_span)) = self.subtable(&scope, table, "lock") {
                let lock_scope = scope.nested("lock.", lock_span);
                lock_power =
                    self.reference(&lock_scope, lock_table, "power", "power circuit", true);
                door.lock = self.lock(&lock_scope, lock_table, exit_hardware);
            }
            if let Some((release_table, release_span)) = self.subtable(&scope, table, "release") {
                door.release = self.release(&scope.nested("release.", release_span), release_table);
            }
            if let Some((reader_table, reader_span)) = self.subtable(&scope, table, "reader") {
                door.reader = self.reader(
                    &scope.nested("reader.", reader_span),
                    reader_table,
                    Some(&door),
                );
            }
            if let Some((reader_table, reader_span)) = self.subtable(&scope, table, "exit_reader") {
                door.exit_reader = self
                    .reader(
                        &scope.nested("exit_reader.", reader_span),
                        reader_table,
                        Some(&door),
                    )
                    .map(Box::new);
            }
            if let Some((access_table, access_span)) = self.subtable(&scope, table, "access") {
                door.access = self.access(&scope.nested("access.", access_span), access_table);
            }
            if let Some((wiring_table, wiring_span)) = self.subtable(&scope, table, "wiring") {
                let wiring_scope = scope.nested("wiring.", wiring_span);
                door.wiring = self
                    .door_wiring(&wiring_scope, wiring_table, &door, drafts)
                    .map(Box::new);
            }
            drafts.doors.push(DraftDoor {
                door,
                inside,
                outside,
                schedule,
                lock_power,
            });
        }
    }

    fn lock(
        &mut self,
        scope: &Scope<'s>,
        table: &Table,
        exit_hardware: ExitHardware,
    ) -> Option<Lock> {
        self.check_fields(scope, table, LOCK_FIELDS);
        let kind = if table.get("type").is_none() {
            self.missing(scope, "type", "the lock type");
            None
        } else {
            self.choice(scope, table, "type", &LockType::ALL)
        };
        let fail = if table.get("fail").is_none() {
            self.missing(scope, "fail", "\"safe\" or \"secure\"");
            None
        } else {
            self.choice(scope, table, "fail", &FailMode::ALL)
        };
        let mut listed = Vec::new();
        for (text, span) in self.string_list(scope, table, "listed").unwrap_or_default() {
            if let Some(listing) = self.choice_of(scope, "listed", text, span, &Listing::ALL) {
                listed.push(listing);
            }
        }
        let kind = kind?;
        // Site format, `locks_egress`: a maglock or an electric bolt always stops egress, and so
        // does any lock on a door whose only way out is the electric release.
        let derived = matches!(kind, LockType::Maglock | LockType::ElectricBolt)
            || exit_hardware == ExitHardware::None;
        let mut locks_egress = derived;
        if let Some(value) = table.get("locks_egress") {
            let written = self.boolean(scope, table, "locks_egress", derived);
            if derived && !written && matches!(value.get_ref(), DeValue::Boolean(_)) {
                self.bad_value(
                    scope,
                    "locks_egress",
                    value.span(),
                    format!(
                        "a {} with exit hardware \"{}\" always locks egress; it cannot be declared otherwise",
                        kind.describe(),
                        exit_hardware.name()
                    ),
                );
            }
            locks_egress = derived || written;
        }
        Some(Lock {
            kind,
            fail: fail?,
            // Resolved with the door's other references once the whole file is read.
            power: CircuitIdx(0),
            locks_egress,
            listed,
        })
    }

    fn release(&mut self, scope: &Scope<'s>, table: &Table<'s>) -> Release {
        self.check_fields(scope, table, RELEASE_FIELDS);
        let mut push_to_exit = None;
        if let Some((device, span)) = self.subtable(scope, table, "push_to_exit") {
            let device_scope = scope.nested("release.push_to_exit.", span);
            self.check_fields(&device_scope, device, PUSH_TO_EXIT_FIELDS);
            let non_negative = |n: f64| {
                if n >= 0.0 {
                    Ok(())
                } else {
                    Err("a number of 0 or more")
                }
            };
            push_to_exit = Some(PushToExit {
                height_in: self.number(&device_scope, device, "height_in", non_negative),
                distance_in: self.number(&device_scope, device, "distance_in", non_negative),
                direct_power_cut: self.boolean(&device_scope, device, "direct_power_cut", false),
                hold_seconds: self.number(&device_scope, device, "hold_seconds", |n| {
                    if (0.0..=MAX_DURATION_SECONDS).contains(&n) {
                        Ok(())
                    } else {
                        Err("seconds from 0 to 2592000 (30 days)")
                    }
                }),
            });
        }
        Release {
            arrangement: self
                .choice(scope, table, "arrangement", &Arrangement::ALL)
                .unwrap_or_default(),
            rex_sensor: self.boolean(scope, table, "rex_sensor", false),
            push_to_exit,
            fire_alarm: self.boolean(scope, table, "fire_alarm", false),
            remote: self.boolean(scope, table, "remote", false),
            delay_seconds: self.number(scope, table, "delay_seconds", |n| {
                if (0.0..=MAX_DURATION_SECONDS).contains(&n) {
                    Ok(())
                } else {
                    Err("seconds from 0 to 2592000 (30 days)")
                }
            }),
            ahj_approved_delay: self.boolean(scope, table, "ahj_approved_delay", false),
            sign: self.boolean(scope, table, "sign", false),
        }
    }

    fn access(&mut self, scope: &Scope<'s>, table: &Table<'s>) -> DoorAccess {
        self.check_fields(scope, table, ACCESS_FIELDS);
        let defaults = DoorAccess::default();
        DoorAccess {
            two_person: self.boolean(scope, table, "two_person", defaults.two_person),
            two_person_seconds: self
                .number(scope, table, "two_person_seconds", |n| {
                    if n > 0.0 && n <= MAX_DURATION_SECONDS {
                        Ok(())
                    } else {
                        Err("seconds greater than 0, at most 2592000 (30 days)")
                    }
                })
                .unwrap_or(defaults.two_person_seconds),
            card_and_pin: self.boolean(scope, table, "card_and_pin", defaults.card_and_pin),
        }
    }

    /// A reader's table. `door` is the door it is on: a muster station's reader has none, so
    /// it reports no door devices.
    fn reader(&mut self, scope: &Scope<'s>, table: &Table, door: Option<&Door>) -> Option<Reader> {
        let fields = if door.is_some() {
            READER_FIELDS
        } else {
            &READER_FIELDS[..3]
        };
        self.check_fields(scope, table, fields);
        let kind = if table.get("kind").is_none() {
            self.missing(scope, "kind", "\"osdp\" or \"wiegand\"");
            None
        } else {
            self.choice(scope, table, "kind", &ReaderKind::ALL)
        };
        // OSDP addresses run from 0 to 126; 127 is the broadcast address.
        let address = self.integer(scope, table, "address", 0, 126).unwrap_or(0) as u32;
        let bus = self
            .string(scope, table, "bus")
            .map(|(b, _)| b.to_string())
            .unwrap_or_else(|| "default".to_string());
        // The reader's own inputs, wired to the door's devices (OSDP readers only).
        let mut input = |key: &str, lacks: Option<&str>| {
            let value = self.integer(scope, table, key, 0, 63)? as u8;
            let span = table.get(key).map(|v| v.span()).unwrap_or(0..0);
            if kind != Some(ReaderKind::Osdp) {
                self.bad_value(
                    scope,
                    key,
                    span,
                    format!("`{key}` is a reader's own input: only an OSDP reader reports them"),
                );
            } else if let Some(device) = lacks {
                self.bad_value(
                    scope,
                    key,
                    span,
                    format!("`{key}` is wired but the door has no {device}"),
                );
            }
            Some(value)
        };
        let (dps_input, rex_input) = match door {
            Some(door) => (
                input(
                    "dps_input",
                    (!door.dps).then_some("door position switch (`dps = true`)"),
                ),
                input(
                    "rex_input",
                    (!door.release.rex_sensor)
                        .then_some("request-to-exit sensor (`release.rex_sensor = true`)"),
                ),
            ),
            None => (None, None),
        };
        if let (Some(dps), Some(rex)) = (dps_input, rex_input)
            && dps == rex
        {
            let span = table.get("rex_input").map(|v| v.span()).unwrap_or(0..0);
            self.bad_value(
                scope,
                "rex_input",
                span,
                format!("input {rex} is already the door position switch (`dps_input`)"),
            );
        }
        Some(Reader {
            kind: kind?,
            address,
            bus,
            dps_input,
            rex_input,
        })
    }
}

/// The string at `key`, sharing the file's text where it has no escapes. The caller has
/// already checked that it is a string.
fn owned_string<'s>(table: &Table<'s>, key: &str) -> Cow<'s, str> {
    match table.get(key).map(|v| v.get_ref()) {
        Some(DeValue::String(s)) => s.clone(),
        _ => Cow::Borrowed(""),
    }
}

/// A chip as a device path: `gpiochip1` is `/dev/gpiochip1`.
fn chip_path(chip: &str) -> String {
    if chip.contains('/') {
        chip.to_string()
    } else {
        format!("/dev/{chip}")
    }
}

/// Every line that named no chip is on the default one.
fn fill_default_chip(site: &mut Site, chip: &str) {
    let fill = |line: &mut Option<GpioLine>| {
        if let Some(line) = line
            && line.chip.is_empty()
        {
            line.chip = chip.to_string();
        }
    };
    for door in &mut site.doors {
        if let Some(w) = door.wiring.as_deref_mut() {
            for line in [
                &mut w.relay,
                &mut w.dps,
                &mut w.rex,
                &mut w.key_override,
                &mut w.lock_status,
                &mut w.wiegand_d0,
                &mut w.wiegand_d1,
            ] {
                fill(line);
            }
        }
    }
    for circuit in &mut site.circuits {
        if let Some(w) = circuit.wiring.as_deref_mut() {
            fill(&mut w.ac_fail);
            fill(&mut w.battery_low);
        }
    }
    let wiring = &mut site.wiring;
    for line in [
        &mut wiring.fire_alarm,
        &mut wiring.lockdown,
        &mut wiring.hold,
        &mut wiring.secure,
        &mut wiring.evacuate,
        &mut wiring.shelter,
    ] {
        fill(line);
    }
}

/// 32 hexadecimal digits as 16 bytes.
fn parse_key(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut key = [0u8; 16];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

fn parse_integer(text: &str, radix: u32) -> Option<i64> {
    let digits = text.replace('_', "");
    let digits = match radix {
        10 => digits.as_str(),
        _ => digits.get(2..)?,
    };
    i64::from_str_radix(digits, radix).ok()
}

use crate::schedule::parse_date;

fn type_name(value: &DeValue) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Levenshtein distance, for "did you mean" hints on unknown fields.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiring_is_read_with_the_default_chip_filled_in() {
        let text = r#"
[site]
name = "Wired"
fire_alarm = true

[controller]
power = "mains"

[[power]]
id = "mains"

[[power]]
id = "psu"
fed_by = "mains"
battery_minutes = 30
wiring = { ac_fail = { line = 12, active_low = true }, battery_low = { line = 13, debounce_ms = 500 } }

[[area]]
id = "street"
kind = "exterior"

[[area]]
id = "lobby"

[[door]]
id = "front"
inside = "lobby"
outside = "street"
dps = true
key_override = true

[door.lock]
type = "electric_strike"
fail = "secure"
power = "psu"

[door.release]
rex_sensor = true

[door.reader]
kind = "wiegand"

[door.wiring]
relay = { line = 17 }
dps = { line = 22, active_low = true }
rex = { line = 23 }
key_override = { line = 24 }
lock_status = { chip = "/dev/gpiochip2", line = 17 }
wiegand_d0 = { line = 5 }
wiegand_d1 = { line = 6 }

[wiring]
chip = "gpiochip1"
fire_alarm = { line = 4, active_low = true }
lockdown = { line = 25 }
evacuate = { line = 26, debounce_ms = 50 }
"#;
        let site = parse_site("wired.toml", text).unwrap_or_else(|e| panic!("{e}"));
        let line = |chip: &str, line: u32, active_low: bool, debounce_ms: u32| {
            Some(GpioLine {
                chip: chip.to_string(),
                line,
                active_low,
                debounce_ms,
            })
        };
        let chip1 = "/dev/gpiochip1";
        assert_eq!(
            site.doors[0].wiring.as_deref(),
            Some(&DoorWiring {
                relay: line(chip1, 17, false, 0),
                dps: line(chip1, 22, true, 20),
                rex: line(chip1, 23, false, 20),
                key_override: line(chip1, 24, false, 20),
                lock_status: line("/dev/gpiochip2", 17, false, 20),
                wiegand_d0: line(chip1, 5, false, 0),
                wiegand_d1: line(chip1, 6, false, 0),
            })
        );
        assert_eq!(
            site.circuits[1].wiring.as_deref(),
            Some(&CircuitWiring {
                ac_fail: line(chip1, 12, true, 20),
                battery_low: line(chip1, 13, false, 500),
            })
        );
        assert_eq!(
            site.wiring,
            SiteWiring {
                fire_alarm: line(chip1, 4, true, 20),
                lockdown: line(chip1, 25, false, 20),
                evacuate: line(chip1, 26, false, 50),
                ..SiteWiring::default()
            }
        );
        // Without [wiring] the chip is /dev/gpiochip0.
        let text = text.replace("chip = \"gpiochip1\"\n", "");
        let site = parse_site("wired.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            site.doors[0].wiring.as_ref().unwrap().relay,
            line("/dev/gpiochip0", 17, false, 0)
        );
    }

    fn section_texts(text: &str) -> Vec<&str> {
        split_sections(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn sections_start_at_top_level_headers_only() {
        let text = "# prelude\n[site]\nname = \"x\"\n\n  [[door]] # the front door\nid = \"a\"\n[door.lock]\ntype = \"maglock\"\n[[door]]\nid = \"b\"\n";
        assert_eq!(
            section_texts(text),
            [
                "# prelude\n",
                "[site]\nname = \"x\"\n\n  ",
                "[[door]] # the front door\nid = \"a\"\n[door.lock]\ntype = \"maglock\"\n",
                "[[door]]\nid = \"b\"\n",
            ]
        );
    }

    #[test]
    fn brackets_inside_a_multi_line_value_are_not_headers() {
        let text = "[[schedule]]\nid = \"s\"\nweekly = [\n[\"nested\"],\n\"Mon 08:00-09:00\",\n]\nnote = '''\n[[door]]\n'''\n[[area]]\nid = \"a\"";
        let sections = section_texts(text);
        assert_eq!(sections.len(), 2, "{sections:#?}");
        assert!(sections[1].starts_with("[[area]]"));
    }

    #[test]
    fn a_header_on_the_last_line_without_a_newline_splits() {
        assert_eq!(
            section_texts("[site]\nname = \"x\"\n[controller]"),
            ["[site]\nname = \"x\"\n", "[controller]"]
        );
    }

    #[test]
    fn a_table_defined_twice_across_sections_is_an_error() {
        let text = "[site]\nname = \"a\"\n[controller]\npower = \"m\"\n[[power]]\nid = \"m\"\n[site]\nname = \"b\"\n";
        let errors = parse_site("twice.toml", text).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert_eq!(errors.0[0].line, 7);
        assert!(errors.0[0].problem.contains("defined twice"));
    }

    #[test]
    fn errors_in_later_sections_keep_their_lines() {
        let text = "[site]\nname = \"a\"\n[controller]\npower = \"m\"\n[[power]]\nid = \"m\"\n[[area]]\nid = \"x\"\nkind = \"outdoors\"\n";
        let errors = parse_site("lines.toml", text).unwrap_err();
        assert_eq!((errors.0[0].line, errors.0[0].column), (9, 8), "{errors}");
        assert_eq!(errors.0[0].value.as_deref(), Some("\"outdoors\""));
    }
}
