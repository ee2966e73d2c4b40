//! Loading a site file: TOML text in, a valid [`Site`] or every error of the file out.
//!
//! The walk is done by hand over the spanned TOML tree rather than with `serde` derive so that
//! every problem of a file is reported at once, each naming its line, column, field and value,
//! and so that an unknown field is an error: a typo must never silently weaken a safety rule.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::schedule::WeeklySpan;
use crate::site::*;

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
pub fn parse_site(file_name: &str, text: &str) -> Result<Site, SiteErrors> {
    let mut loader = Loader::new(file_name, text);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for error in syntax_errors {
            let span = error.span().unwrap_or(0..0);
            loader.push(span, None, "", None, error.message().trim().to_string());
        }
        return Err(loader.finish_errors());
    }
    let site = loader.site(document.get_ref());
    if loader.errors.is_empty() {
        Ok(site)
    } else {
        Err(loader.finish_errors())
    }
}

type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

/// Where in the file a group of fields sits: who owns them, their path prefix, and the span
/// to point at when one of them is missing.
#[derive(Clone)]
struct Scope {
    owner: Option<String>,
    prefix: String,
    span: Range<usize>,
}

impl Scope {
    fn field(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    fn nested(&self, key: &str, span: Range<usize>) -> Scope {
        Scope {
            owner: self.owner.clone(),
            prefix: format!("{}{}.", self.prefix, key),
            span,
        }
    }
}

struct Loader<'s> {
    file: &'s str,
    text: &'s str,
    line_starts: Vec<usize>,
    errors: Vec<SiteError>,
}

const TOP_LEVEL: &[&str] = &["site", "controller", "power", "area", "door", "schedule"];
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
];
const AREA_FIELDS: &[&str] = &["id", "name", "kind", "occupants", "occupancy", "assets"];
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
];
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
const READER_FIELDS: &[&str] = &["kind", "address", "bus"];
const SCHEDULE_FIELDS: &[&str] = &["id", "weekly", "holidays"];

/// A parsed id with where it was written, to point at duplicates.
struct Named {
    id: String,
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
        }
    }

    fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line as u32, column as u32)
    }

    fn line_of(&self, span: &Range<usize>) -> u32 {
        self.position(span.start).0
    }

    fn source(&self, span: &Range<usize>) -> String {
        let raw = self.text.get(span.clone()).unwrap_or("").trim();
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
        let (line, column) = self.position(span.start);
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
    fn bad_value(&mut self, scope: &Scope, key: &str, span: Range<usize>, problem: String) {
        let value = Some(self.source(&span));
        self.push(span, scope.owner.clone(), &scope.field(key), value, problem);
    }

    fn missing(&mut self, scope: &Scope, key: &str, what: &str) {
        self.push(
            scope.span.clone(),
            scope.owner.clone(),
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
    fn check_fields(&mut self, scope: &Scope, table: &Table, allowed: &[&str]) {
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
                scope.owner.clone(),
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

    fn wrong_type(&mut self, scope: &Scope, key: &str, value: &Value, expected: &str) {
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
        scope: &Scope,
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
        scope: &Scope,
        table: &'t Table,
        key: &str,
        what: &str,
    ) -> Option<(&'t str, Range<usize>)> {
        if table.get(key).is_none() {
            self.missing(scope, key, what);
            return None;
        }
        self.string(scope, table, key)
    }

    fn boolean(&mut self, scope: &Scope, table: &Table, key: &str, default: bool) -> bool {
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
        scope: &Scope,
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
        scope: &Scope,
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
        scope: &Scope,
        table: &Table,
        key: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let (text, span) = self.string(scope, table, key)?;
        self.choice_of(scope, key, text, span, options)
    }

    fn choice_of<T: Copy>(
        &mut self,
        scope: &Scope,
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
        scope: &Scope,
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
        scope: &Scope,
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

    /// The tables of a `[[key]]` array at the top of the file.
    fn array_of_tables<'t>(
        &mut self,
        document: &'t Table<'s>,
        key: &str,
    ) -> Vec<(&'t Table<'s>, Range<usize>)> {
        let Some(value) = document.get(key) else {
            return Vec::new();
        };
        let top = Scope {
            owner: None,
            prefix: String::new(),
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

    /// The required `id` of an element: present, a string, and of the id alphabet.
    fn id(&mut self, scope: &Scope, table: &Table, what: &str) -> Option<Named> {
        let (text, span) = self.required_string(scope, table, "id", &format!("the {what}'s id"))?;
        self.check_id(scope, "id", text, span.clone())?;
        Some(Named {
            id: text.to_string(),
            span,
        })
    }

    fn check_id(&mut self, scope: &Scope, key: &str, text: &str, span: Range<usize>) -> Option<()> {
        let valid = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Some(())
        } else {
            self.bad_value(
                scope,
                key,
                span,
                "bad id: expected 1 to 64 characters of a-z, 0-9, - and _".to_string(),
            );
            None
        }
    }

    /// Checks that each id is unique within its kind, pointing at the repeats.
    fn unique_ids(&mut self, kind: &str, named: &[Option<Named>]) -> HashMap<String, u32> {
        let mut first_seen: HashMap<String, u32> = HashMap::new();
        for (i, entry) in named.iter().enumerate() {
            let Some(entry) = entry else { continue };
            if let Some(first) = first_seen.get(&entry.id) {
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
                first_seen.insert(entry.id.clone(), i as u32);
            }
        }
        first_seen
    }

    /// Resolves a reference field to an index, pointing at a dangling one.
    fn reference(
        &mut self,
        scope: &Scope,
        table: &Table,
        key: &str,
        kind: &str,
        ids: &HashMap<String, u32>,
        required: bool,
    ) -> Option<u32> {
        let found = if required {
            self.required_string(scope, table, key, &format!("the id of a {kind}"))
        } else {
            self.string(scope, table, key)
        };
        let (text, span) = found?;
        match ids.get(text) {
            Some(index) => Some(*index),
            None => {
                let mut known: Vec<&str> = ids.keys().map(String::as_str).collect();
                known.sort_unstable();
                let hint = if known.is_empty() {
                    format!("the file defines no {kind}")
                } else if known.len() <= 12 {
                    format!("known: {}", known.join(", "))
                } else {
                    format!("{} are defined", known.len())
                };
                self.bad_value(scope, key, span, format!("no {kind} has this id ({hint})"));
                None
            }
        }
    }

    fn site(&mut self, document: &Table<'s>) -> Site {
        let root = Scope {
            owner: None,
            prefix: String::new(),
            span: 0..0,
        };
        self.check_fields(&root, document, TOP_LEVEL);

        let info = self.site_info(document);
        let (circuits, circuit_ids) = self.circuits(document);
        let controller_power = self.controller(document, &circuit_ids);
        let (areas, area_ids) = self.areas(document, info.occupancy);
        let (schedules, schedule_ids) = self.schedules(document);
        let doors = self.doors(document, &circuit_ids, &area_ids, &schedule_ids);
        let controller_power = controller_power.unwrap_or(CircuitIdx(0));
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
        Site::index(info, controller_power, circuits, areas, doors, schedules)
    }

    fn site_info(&mut self, document: &Table<'s>) -> SiteInfo {
        let mut info = SiteInfo {
            name: String::new(),
            timezone: jiff::tz::TimeZone::UTC,
            timezone_name: "UTC".to_string(),
            codes: vec![CodeEdition::Ibc2021, CodeEdition::Nfpa101_2021],
            occupancy: Occupancy::B,
            stories: 1,
            sprinklered: false,
            fire_alarm: false,
            key_box: false,
        };
        let Some((table, span)) = self.subtable(
            &Scope {
                owner: None,
                prefix: String::new(),
                span: 0..0,
            },
            document,
            "site",
        ) else {
            if document.get("site").is_none() {
                self.push(
                    0..0,
                    None,
                    "site",
                    None,
                    "missing required table [site]".to_string(),
                );
            }
            return info;
        };
        let scope = Scope {
            owner: None,
            prefix: "site.".to_string(),
            span,
        };
        self.check_fields(&scope, table, SITE_FIELDS);
        if let Some((name, _)) =
            self.required_string(&scope, table, "name", "the site's display name")
        {
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

    fn controller(
        &mut self,
        document: &Table<'s>,
        circuit_ids: &HashMap<String, u32>,
    ) -> Option<CircuitIdx> {
        let root = Scope {
            owner: None,
            prefix: String::new(),
            span: 0..0,
        };
        let Some((table, span)) = self.subtable(&root, document, "controller") else {
            if document.get("controller").is_none() {
                self.push(0..0, None, "controller", None, "missing required table [controller] (its `power` names the circuit that feeds the controller)".to_string());
            }
            return None;
        };
        let scope = Scope {
            owner: None,
            prefix: "controller.".to_string(),
            span,
        };
        self.check_fields(&scope, table, CONTROLLER_FIELDS);
        self.reference(&scope, table, "power", "power circuit", circuit_ids, true)
            .map(CircuitIdx)
    }

    fn circuits(&mut self, document: &Table<'s>) -> (Vec<Circuit>, HashMap<String, u32>) {
        let tables = self.array_of_tables(document, "power");
        let mut named = Vec::new();
        let mut scopes = Vec::new();
        for (i, (table, span)) in tables.iter().enumerate() {
            let mut scope = Scope {
                owner: Some(format!("power #{}", i + 1)),
                prefix: String::new(),
                span: span.clone(),
            };
            self.check_fields(&scope, table, CIRCUIT_FIELDS);
            let id = self.id(&scope, table, "circuit");
            if let Some(id) = &id {
                scope.owner = Some(format!("power \"{}\"", id.id));
            }
            named.push(id);
            scopes.push(scope);
        }
        let ids = self.unique_ids("power", &named);
        let mut circuits = Vec::new();
        let mut fed_by_spans = Vec::new();
        for (i, (table, _)) in tables.iter().enumerate() {
            let scope = &scopes[i];
            let id = named[i].as_ref().map(|n| n.id.clone()).unwrap_or_default();
            let fed_by = self
                .reference(scope, table, "fed_by", "power circuit", &ids, false)
                .map(CircuitIdx);
            fed_by_spans.push(table.get("fed_by").map(|v| v.span()));
            let battery_minutes = self
                .number(scope, table, "battery_minutes", |n| {
                    if n >= 0.0 {
                        Ok(())
                    } else {
                        Err("minutes of 0 or more")
                    }
                })
                .unwrap_or(0.0);
            if battery_minutes > 0.0 && table.get("fed_by").is_none() {
                let span = table
                    .get("battery_minutes")
                    .map(|v| v.span())
                    .unwrap_or(0..0);
                self.bad_value(
                    scope,
                    "battery_minutes",
                    span,
                    "a mains circuit (no `fed_by`) cannot have a battery: it is what an outage cuts; put the battery on a circuit fed by it".to_string(),
                );
            }
            circuits.push(Circuit {
                name: self
                    .string(scope, table, "name")
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_else(|| id.clone()),
                id,
                fed_by,
                battery_minutes,
                fire_alarm_cutoff: self.boolean(scope, table, "fire_alarm_cutoff", false),
            });
        }
        self.fed_by_cycles(&circuits, &scopes, &fed_by_spans);
        (circuits, ids)
    }

    /// A `fed_by` cycle has no mains to start from: reports each cycle once.
    fn fed_by_cycles(
        &mut self,
        circuits: &[Circuit],
        scopes: &[Scope],
        fed_by_spans: &[Option<Range<usize>>],
    ) {
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
                        let at = *cycle
                            .iter()
                            .min_by_key(|i| fed_by_spans[**i].as_ref().map(|s| s.start))
                            .unwrap_or(&c);
                        let span = fed_by_spans[at].clone().unwrap_or(0..0);
                        self.bad_value(
                            &scopes[at],
                            "fed_by",
                            span,
                            format!("`fed_by` cycle: {}; every chain of circuits must start at a mains circuit", names.join(" → ")),
                        );
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

    fn areas(
        &mut self,
        document: &Table<'s>,
        site_occupancy: Occupancy,
    ) -> (Vec<Area>, HashMap<String, u32>) {
        let tables = self.array_of_tables(document, "area");
        let mut named = Vec::new();
        let mut areas = Vec::new();
        for (i, (table, span)) in tables.iter().enumerate() {
            let mut scope = Scope {
                owner: Some(format!("area #{}", i + 1)),
                prefix: String::new(),
                span: span.clone(),
            };
            self.check_fields(&scope, table, AREA_FIELDS);
            let id = self.id(&scope, table, "area");
            if let Some(id) = &id {
                scope.owner = Some(format!("area \"{}\"", id.id));
            }
            let id_text = id.as_ref().map(|n| n.id.clone()).unwrap_or_default();
            areas.push(Area {
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
                occupancy: self
                    .choice(&scope, table, "occupancy", &Occupancy::ALL)
                    .unwrap_or(site_occupancy),
                assets: self
                    .choice(&scope, table, "assets", &Assets::ALL)
                    .unwrap_or(Assets::Low),
            });
            named.push(id);
        }
        let ids = self.unique_ids("area", &named);
        (areas, ids)
    }

    fn schedules(&mut self, document: &Table<'s>) -> (Vec<Schedule>, HashMap<String, u32>) {
        let tables = self.array_of_tables(document, "schedule");
        let mut named = Vec::new();
        let mut schedules = Vec::new();
        for (i, (table, span)) in tables.iter().enumerate() {
            let mut scope = Scope {
                owner: Some(format!("schedule #{}", i + 1)),
                prefix: String::new(),
                span: span.clone(),
            };
            self.check_fields(&scope, table, SCHEDULE_FIELDS);
            let id = self.id(&scope, table, "schedule");
            if let Some(id) = &id {
                scope.owner = Some(format!("schedule \"{}\"", id.id));
            }
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
            schedules.push(Schedule {
                id: id.as_ref().map(|n| n.id.clone()).unwrap_or_default(),
                weekly,
                holidays,
            });
            named.push(id);
        }
        let ids = self.unique_ids("schedule", &named);
        (schedules, ids)
    }

    fn doors(
        &mut self,
        document: &Table<'s>,
        circuit_ids: &HashMap<String, u32>,
        area_ids: &HashMap<String, u32>,
        schedule_ids: &HashMap<String, u32>,
    ) -> Vec<Door> {
        let tables = self.array_of_tables(document, "door");
        let mut named = Vec::new();
        let mut doors = Vec::new();
        for (i, (table, span)) in tables.iter().enumerate() {
            let mut scope = Scope {
                owner: Some(format!("door #{}", i + 1)),
                prefix: String::new(),
                span: span.clone(),
            };
            self.check_fields(&scope, table, DOOR_FIELDS);
            let id = self.id(&scope, table, "door");
            if let Some(id) = &id {
                scope.owner = Some(format!("door \"{}\"", id.id));
            }
            let id_text = id.as_ref().map(|n| n.id.clone()).unwrap_or_default();
            named.push(id);

            let inside = self.reference(&scope, table, "inside", "area", area_ids, true);
            let outside = self.reference(&scope, table, "outside", "area", area_ids, true);
            if let (Some(inside), Some(outside)) = (inside, outside)
                && inside == outside
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
                if n > 0.0 {
                    Ok(())
                } else {
                    Err("seconds greater than 0")
                }
            };
            let mut door = Door {
                name: self
                    .string(&scope, table, "name")
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_else(|| id_text.clone()),
                id: id_text,
                inside: AreaIdx(inside.unwrap_or(0)),
                outside: AreaIdx(outside.unwrap_or(0)),
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
                schedule: self
                    .reference(&scope, table, "schedule", "schedule", schedule_ids, false)
                    .map(ScheduleIdx),
                lock: None,
                release: Release::default(),
                reader: None,
            };
            if let Some((lock_table, lock_span)) = self.subtable(&scope, table, "lock") {
                door.lock = self.lock(
                    &scope.nested("lock", lock_span),
                    lock_table,
                    exit_hardware,
                    circuit_ids,
                );
            }
            if let Some((release_table, release_span)) = self.subtable(&scope, table, "release") {
                door.release = self.release(&scope.nested("release", release_span), release_table);
            }
            if let Some((reader_table, reader_span)) = self.subtable(&scope, table, "reader") {
                door.reader = self.reader(&scope.nested("reader", reader_span), reader_table);
            }
            doors.push(door);
        }
        self.unique_ids("door", &named);
        doors
    }

    fn lock(
        &mut self,
        scope: &Scope,
        table: &Table,
        exit_hardware: ExitHardware,
        circuit_ids: &HashMap<String, u32>,
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
        let power = self.reference(scope, table, "power", "power circuit", circuit_ids, true);
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
            power: CircuitIdx(power?),
            locks_egress,
            listed,
        })
    }

    fn release(&mut self, scope: &Scope, table: &Table<'s>) -> Release {
        self.check_fields(scope, table, RELEASE_FIELDS);
        let mut push_to_exit = None;
        if let Some((device, span)) = self.subtable(scope, table, "push_to_exit") {
            let device_scope = scope.nested("push_to_exit", span);
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
                hold_seconds: self.number(&device_scope, device, "hold_seconds", non_negative),
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
                if n >= 0.0 {
                    Ok(())
                } else {
                    Err("seconds of 0 or more")
                }
            }),
            ahj_approved_delay: self.boolean(scope, table, "ahj_approved_delay", false),
            sign: self.boolean(scope, table, "sign", false),
        }
    }

    fn reader(&mut self, scope: &Scope, table: &Table) -> Option<Reader> {
        self.check_fields(scope, table, READER_FIELDS);
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
        Some(Reader {
            kind: kind?,
            address,
            bus,
        })
    }
}

fn parse_integer(text: &str, radix: u32) -> Option<i64> {
    let digits = text.replace('_', "");
    let digits = match radix {
        10 => digits.as_str(),
        _ => digits.get(2..)?,
    };
    i64::from_str_radix(digits, radix).ok()
}

fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    if text.len() != 10 {
        return None;
    }
    text.parse::<jiff::civil::Date>().ok()
}

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
