//! Loading a replay script (docs/replay.md): credentials, access levels, timed steps and
//! probes, validated against the site with the same pointed errors as a site file.

use std::collections::HashMap;

use super::*;
use crate::controller::Input;
use crate::credentials::{
    AccessLevel, CredentialExtra, CredentialStore, DoorScope, LevelIdx, NewCredential,
};
use crate::emergency::Mode;
use crate::physics::Millis;

/// A loaded replay script.
#[derive(Clone, Debug)]
pub struct Script {
    /// The clock starts here.
    pub start: Millis,
    /// The replay runs until here: the script's `end`, or by default the last step or probe
    /// plus the longest door timer of the site, so that the consequences of the last input
    /// (a relock, a held-open alarm) show.
    pub end: Millis,
    pub credentials: CredentialStore,
    pub levels: Vec<AccessLevel>,
    /// In time order; steps at the same instant in file order.
    pub steps: Vec<Step>,
    /// In time order.
    pub probes: Vec<Millis>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: Millis,
    pub input: Input,
    /// The step as people read it: its input, and the door, circuit or credential it names.
    pub what: String,
}

const SCRIPT_TOP_LEVEL: &[&str] = &[
    "start",
    "end",
    "credential",
    "access_level",
    "step",
    "probe",
];
const CREDENTIAL_FIELDS: &[&str] = &[
    "number",
    "holder",
    "doors",
    "levels",
    "schedule",
    "valid_from",
    "valid_until",
    "responder",
    "staff",
    "pin",
    "duress_pin",
    "uses",
];
const LEVEL_FIELDS: &[&str] = &["id", "doors", "schedule"];
const PROBE_FIELDS: &[&str] = &["at"];
const INPUTS: &[&str] = &[
    "badge",
    "rex",
    "push_to_exit",
    "door_open",
    "door_close",
    "key_override",
    "power_off",
    "power_on",
    "fire_alarm",
    "fire_alarm_reset",
    "lockdown",
    "lockdown_end",
    "battery_low",
    "lock_status",
    "emergency_override",
    "emergency_override_end",
    "unlock",
    "lock",
    "release",
    "muster",
    "forgive_passback",
    "emergency",
    "pin",
];

struct DraftCredential<'s> {
    credential: NewCredential,
    levels: Vec<Reference<'s>>,
    number_span: Range<usize>,
}

#[derive(Default)]
struct ScriptDrafts<'s> {
    start: Option<Millis>,
    end: Option<Millis>,
    credentials: Vec<DraftCredential<'s>>,
    levels: Vec<AccessLevel>,
    level_names: Vec<Option<Named<'s>>>,
    steps: Vec<(Step, Range<usize>)>,
    probes: Vec<(Millis, Range<usize>)>,
    /// How many of each have been met in the file, good or bad (their numbers in errors).
    seen_credentials: usize,
    seen_steps: usize,
    seen_probes: usize,
}

/// Ids of the site, for lookups by name.
struct SiteIds<'a> {
    doors: HashMap<&'a str, DoorIdx>,
    circuits: HashMap<&'a str, CircuitIdx>,
    schedules: HashMap<&'a str, ScheduleIdx>,
    stations: HashMap<&'a str, StationIdx>,
    zones: HashMap<&'a str, ZoneIdx>,
}

/// Parses and validates a replay script against its site.
pub fn parse_script(file_name: &str, text: &str, site: &Site) -> Result<Script, SiteErrors> {
    let ids = SiteIds {
        doors: site
            .doors
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str(), DoorIdx(i as u32)))
            .collect(),
        circuits: site
            .circuits
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), CircuitIdx(i as u32)))
            .collect(),
        schedules: site
            .schedules
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), ScheduleIdx(i as u32)))
            .collect(),
        stations: site
            .muster_stations
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), StationIdx(i as u32)))
            .collect(),
        zones: site
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.id.as_str(), ZoneIdx(i as u32)))
            .collect(),
    };
    let mut loader = Loader::new(file_name, text);
    let mut drafts = ScriptDrafts::default();
    if !walk_sections(&mut loader, text, |loader, document| {
        loader.script_section(document, &mut drafts, site, &ids)
    }) {
        return Err(loader.finish_errors());
    }
    let script = loader.resolve_script(drafts, site);
    if loader.errors.is_empty() {
        Ok(script)
    } else {
        Err(loader.finish_errors())
    }
}

impl<'s> Loader<'s> {
    fn script_section(
        &mut self,
        document: &Table<'s>,
        drafts: &mut ScriptDrafts<'s>,
        site: &Site,
        ids: &SiteIds,
    ) {
        self.check_fields(&Scope::ROOT, document, SCRIPT_TOP_LEVEL);
        for (key, value) in document.iter() {
            match key.get_ref().as_ref() {
                "start" => drafts.start = self.local_time(&Scope::ROOT, document, "start", site),
                "end" => drafts.end = self.local_time(&Scope::ROOT, document, "end", site),
                "credential" => {
                    for (table, span) in self.elements("credential", value) {
                        // Numbered as they stand in the file, good or not: the file is read section
                        // by section, so the count goes across them.
                        drafts.seen_credentials += 1;
                        let number = drafts.seen_credentials - 1;
                        let scope = Self::element_scope("credential", number + 1, span);
                        if let Some(credential) = self.credential(scope, table, site, ids) {
                            drafts.credentials.push(credential);
                        }
                    }
                }
                "access_level" => {
                    for (table, span) in self.elements("access_level", value) {
                        let (scope, id) = self.element_start(
                            "access_level",
                            drafts.levels.len() + 1,
                            span,
                            table,
                            LEVEL_FIELDS,
                            "access level",
                        );
                        let doors = self
                            .door_scope(&scope, table, ids, true)
                            .unwrap_or(DoorScope::Doors(Vec::new()));
                        let schedule = self.site_reference(
                            &scope,
                            table,
                            "schedule",
                            "schedule",
                            &ids.schedules,
                            false,
                        );
                        drafts.levels.push(AccessLevel {
                            id: id.as_ref().map(|n| n.id.to_string()).unwrap_or_default(),
                            doors,
                            schedule,
                        });
                        drafts.level_names.push(id);
                    }
                }
                "step" => {
                    for (table, span) in self.elements("step", value) {
                        // Numbered as they stand in the file, good or not: the file is read section
                        // by section, so the count goes across them.
                        drafts.seen_steps += 1;
                        let number = drafts.seen_steps - 1;
                        let scope = Self::element_scope("step", number + 1, span.clone());
                        if let Some(step) = self.step(&scope, table, site, ids) {
                            drafts.steps.push((step, self.absolute(span)));
                        }
                    }
                }
                "probe" => {
                    for (table, span) in self.elements("probe", value) {
                        // Numbered as they stand in the file, good or not: the file is read section
                        // by section, so the count goes across them.
                        drafts.seen_probes += 1;
                        let number = drafts.seen_probes - 1;
                        let scope = Self::element_scope("probe", number + 1, span.clone());
                        self.check_fields(&scope, table, PROBE_FIELDS);
                        if table.get("at").is_none() {
                            self.missing(&scope, "at", "the local time of the probe");
                        } else if let Some(at) = self.local_time(&scope, table, "at", site) {
                            drafts.probes.push((at, self.absolute(span)));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// A local date-time in the site's zone, written `"2026-12-01T09:00:00"` (a TOML local
    /// date-time without quotes is accepted too), or an instant with its offset. A local time
    /// that a daylight-saving change skips is an error, and so is one it repeats unless it is
    /// written with its offset: a script never means a time it does not say.
    fn local_time(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        key: &str,
        site: &Site,
    ) -> Option<Millis> {
        let value = table.get(key)?;
        let text = match value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Datetime(datetime) => datetime.to_string(),
            _ => {
                self.wrong_type(
                    scope,
                    key,
                    value,
                    "a local date-time such as \"2026-12-01T09:00:00\"",
                );
                return None;
            }
        };
        // With its offset, an instant (the way to name one of the two times of a fold).
        if text.len() > 19
            && let Ok(instant) = text.parse::<jiff::Timestamp>()
        {
            return Some(instant.as_millisecond());
        }
        let zone = &site.info.timezone;
        let zone_name = &site.info.timezone_name;
        let parsed = text.parse::<jiff::civil::DateTime>().ok();
        use jiff::tz::AmbiguousOffset;
        let problem = match parsed
            .map(|local| (local, zone.to_ambiguous_zoned_datetime(local).offset()))
        {
            Some((local, AmbiguousOffset::Unambiguous { offset })) => {
                match offset.to_timestamp(local) {
                    Ok(instant) => return Some(instant.as_millisecond()),
                    Err(_) => format!("{local} is out of range"),
                }
            }
            Some((local, AmbiguousOffset::Gap { before, after })) => format!(
                "{local} does not exist in {zone_name}: the clocks jump from UTC{} to UTC{} over it; write a time outside the jump",
                offset_text(before),
                offset_text(after)
            ),
            Some((local, AmbiguousOffset::Fold { before, after })) => format!(
                "{local} happens twice in {zone_name} (the clocks go back): write it with its offset, {local}{} for the first or {local}{} for the second",
                offset_text(before),
                offset_text(after)
            ),
            None => format!(
                "expected a local date-time such as \"2026-12-01T09:00:00\" (in {zone_name})"
            ),
        };
        self.bad_value(scope, key, value.span(), problem);
        None
    }

    /// A reference to something of the site, resolved at once (the site is already loaded).
    fn site_reference<T: Copy>(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        key: &str,
        kind: &str,
        ids: &HashMap<&str, T>,
        required: bool,
    ) -> Option<T> {
        let found = if required {
            self.required_string(scope, table, key, || format!("the id of a {kind}"))
        } else {
            self.string(scope, table, key)
        };
        let (text, span) = found?;
        match ids.get(text) {
            Some(index) => Some(*index),
            None => {
                let hint = if ids.len() <= 12 {
                    let mut known: Vec<&str> = ids.keys().copied().collect();
                    known.sort_unstable();
                    format!("known: {}", known.join(", "))
                } else {
                    format!("the site has {} of them", ids.len())
                };
                self.bad_value(
                    scope,
                    key,
                    span,
                    format!("the site has no {kind} with this id ({hint})"),
                );
                None
            }
        }
    }

    /// `doors = ["front", "server"]`, or `["*"]` for every door.
    fn door_scope(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        ids: &SiteIds,
        required: bool,
    ) -> Option<DoorScope> {
        if table.get("doors").is_none() {
            if required {
                self.missing(
                    scope,
                    "doors",
                    "a list of door ids, or [\"*\"] for every door",
                );
            }
            return None;
        }
        let list = self.string_list(scope, table, "doors")?;
        if list.iter().any(|(text, _)| *text == "*") {
            return Some(DoorScope::All);
        }
        let mut doors = Vec::new();
        for (text, span) in list {
            match ids.doors.get(text) {
                Some(door) => doors.push(*door),
                None => self.bad_value(
                    scope,
                    "doors",
                    span,
                    "the site has no door with this id".to_string(),
                ),
            }
        }
        Some(DoorScope::Doors(doors))
    }

    /// A credential number: a string, or an integer written without quotes.
    fn credential_number(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        key: &str,
    ) -> Option<(String, Range<usize>)> {
        let Some(value) = table.get(key) else {
            self.missing(
                scope,
                key,
                "the credential number, as the reader reports it",
            );
            return None;
        };
        match value.get_ref() {
            DeValue::String(s) if !s.is_empty() && s.len() <= 64 => {
                Some((s.to_string(), value.span()))
            }
            DeValue::Integer(i) => Some((i.as_str().replace('_', ""), value.span())),
            DeValue::String(_) => {
                self.bad_value(
                    scope,
                    key,
                    value.span(),
                    "expected 1 to 64 characters".to_string(),
                );
                None
            }
            _ => {
                self.wrong_type(scope, key, value, "a string");
                None
            }
        }
    }

    /// A PIN: 1 to 12 digits, written as a string (a leading zero counts).
    fn pin_code(&mut self, scope: &Scope<'s>, table: &Table<'s>, key: &str) -> Option<String> {
        let (text, span) = self.string(scope, table, key)?;
        if (1..=12).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            Some(text.to_string())
        } else {
            self.bad_value(
                scope,
                key,
                span,
                "expected 1 to 12 digits, as a string such as \"0451\"".to_string(),
            );
            None
        }
    }

    fn credential(
        &mut self,
        mut scope: Scope<'s>,
        table: &Table<'s>,
        site: &Site,
        ids: &SiteIds,
    ) -> Option<DraftCredential<'s>> {
        self.check_fields(&scope, table, CREDENTIAL_FIELDS);
        let (number, number_span) = self.credential_number(&scope, table, "number")?;
        scope.owner = Some(Owner {
            kind: "credential",
            number: scope.owner.as_ref().map_or(0, |o| o.number),
            id: Some(Cow::Owned(number.clone())),
        });
        let doors = self
            .door_scope(&scope, table, ids, false)
            .unwrap_or(DoorScope::Doors(Vec::new()));
        let mut levels = Vec::new();
        for (text, span) in self
            .string_list(&scope, table, "levels")
            .unwrap_or_default()
        {
            levels.push(Reference {
                owner: scope.owner.clone(),
                prefix: "",
                key: "levels",
                id: Cow::Owned(text.to_string()),
                span: self.absolute(span),
                kind: "access level",
            });
        }
        let credential = NewCredential {
            holder: self
                .string(&scope, table, "holder")
                .map(|(h, _)| h.to_string())
                .unwrap_or_default(),
            doors,
            levels: Vec::new(),
            schedule: self.site_reference(
                &scope,
                table,
                "schedule",
                "schedule",
                &ids.schedules,
                false,
            ),
            valid_from: self.local_time(&scope, table, "valid_from", site),
            valid_until: self.local_time(&scope, table, "valid_until", site),
            responder: self.boolean(&scope, table, "responder", false),
            disabled: false,
            staff: self.boolean(&scope, table, "staff", false),
            extra: CredentialExtra {
                pin: self.pin_code(&scope, table, "pin"),
                duress_pin: self.pin_code(&scope, table, "duress_pin"),
                uses: self
                    .integer(&scope, table, "uses", 1, 1_000_000)
                    .map(|n| n as u32),
            },
            number,
        };
        Some(DraftCredential {
            credential,
            levels,
            number_span: self.absolute(number_span),
        })
    }

    fn step(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        site: &Site,
        ids: &SiteIds,
    ) -> Option<Step> {
        let input_name = if table.get("input").is_none() {
            self.missing(scope, "input", "what happens, such as \"badge\"");
            None
        } else {
            self.choice(
                scope,
                table,
                "input",
                &INPUTS.iter().map(|i| (*i, *i)).collect::<Vec<_>>(),
            )
        };
        let at = if table.get("at").is_none() {
            self.missing(scope, "at", "the local time of the step");
            None
        } else {
            self.local_time(scope, table, "at", site)
        };
        let Some(input_name) = input_name else {
            self.check_fields(
                scope,
                table,
                &[
                    "at",
                    "input",
                    "door",
                    "side",
                    "credential",
                    "circuit",
                    "doors",
                    "locked",
                    "station",
                    "zone",
                    "mode",
                    "areas",
                    "pin",
                ],
            );
            return None;
        };
        let fields: &[&str] = match input_name {
            "badge" => &["at", "input", "door", "side", "credential"],
            "pin" => &["at", "input", "door", "side", "pin"],
            "muster" => &["at", "input", "station", "credential"],
            "forgive_passback" => &["at", "input", "credential", "zone"],
            "emergency" => &["at", "input", "mode", "areas"],
            "power_off" | "power_on" | "battery_low" => &["at", "input", "circuit"],
            "lock_status" => &["at", "input", "door", "locked"],
            "emergency_override" => &["at", "input", "doors"],
            "fire_alarm"
            | "fire_alarm_reset"
            | "lockdown"
            | "lockdown_end"
            | "emergency_override_end" => &["at", "input"],
            _ => &["at", "input", "door"],
        };
        self.check_fields(scope, table, fields);
        let side = match input_name {
            "badge" | "pin" => self
                .choice(scope, table, "side", &Side::ALL)
                .unwrap_or_default(),
            _ => Side::Entry,
        };
        let door = if fields.contains(&"door") {
            let door = self.site_reference(scope, table, "door", "door", &ids.doors, true)?;
            let site_door = site.door(door);
            let lacks = match input_name {
                "badge" if side == Side::Entry && site_door.reader.is_none() => {
                    Some("a reader (`[door.reader]`)")
                }
                "badge" if side == Side::Exit && site_door.exit_reader.is_none() => {
                    Some("an exit reader (`[door.exit_reader]`)")
                }
                "pin" if !site_door.access.card_and_pin => {
                    Some("a keypad that asks for a PIN (`access.card_and_pin`)")
                }
                "rex"
                    if !site_door.release.rex_sensor
                        && site_door.release.arrangement != Arrangement::Delayed =>
                {
                    Some(
                        "a request-to-exit sensor (`release.rex_sensor`) or a delayed-egress release",
                    )
                }
                "push_to_exit" if site_door.release.push_to_exit.is_none() => {
                    Some("a push-to-exit (`release.push_to_exit`)")
                }
                "door_open" | "door_close" if !site_door.dps => {
                    Some("a door position switch (`dps`)")
                }
                "lock_status" if site_door.lock.is_none() => Some("a lock"),
                "key_override" if !site_door.key_override => {
                    Some("a key override (`key_override`)")
                }
                _ => None,
            };
            if let Some(device) = lacks {
                let span = table.get("door").map(|v| v.span()).unwrap_or(0..0);
                self.bad_value(
                    scope,
                    "door",
                    span,
                    format!("`{input_name}` needs {device}, and this door has none"),
                );
                return None;
            }
            Some(door)
        } else {
            None
        };
        let mut circuit = || {
            self.site_reference(
                scope,
                table,
                "circuit",
                "power circuit",
                &ids.circuits,
                true,
            )
        };
        let input = match input_name {
            "badge" => {
                let (credential, _) = self.credential_number(scope, table, "credential")?;
                Input::Badge {
                    door: door?,
                    side,
                    credential,
                }
            }
            "pin" => {
                if table.get("pin").is_none() {
                    self.missing(scope, "pin", "the digits entered, as a string");
                    return None;
                }
                Input::Pin {
                    door: door?,
                    side,
                    pin: self.pin_code(scope, table, "pin")?,
                }
            }
            "muster" => {
                let station = self.site_reference(
                    scope,
                    table,
                    "station",
                    "muster station",
                    &ids.stations,
                    true,
                );
                let (credential, _) = self.credential_number(scope, table, "credential")?;
                Input::Muster {
                    station: station?,
                    credential,
                }
            }
            "emergency" => {
                if table.get("mode").is_none() {
                    self.missing(
                        scope,
                        "mode",
                        "\"hold\", \"secure\", \"lockdown\", \"evacuate\", \"shelter\" or \"none\"",
                    );
                    return None;
                }
                let mode = self.choice(scope, table, "mode", &Mode::ALL)?;
                let areas = match self.string_list(scope, table, "areas") {
                    Some(list) => {
                        let mut areas = Vec::with_capacity(list.len());
                        for (text, span) in list {
                            match site.find_area(text) {
                                Some(area) => areas.push(area),
                                None => {
                                    self.bad_value(
                                        scope,
                                        "areas",
                                        span,
                                        "the site has no area with this id".to_string(),
                                    );
                                    return None;
                                }
                            }
                        }
                        Some(areas)
                    }
                    None if table.get("areas").is_some() => return None,
                    None => None,
                };
                Input::Emergency { mode, areas }
            }
            "forgive_passback" => {
                let zone = self.site_reference(scope, table, "zone", "zone", &ids.zones, false);
                if table.get("zone").is_some() && zone.is_none() {
                    return None;
                }
                let credential = match table.get("credential") {
                    Some(_) => Some(self.credential_number(scope, table, "credential")?.0),
                    None => None,
                };
                Input::ForgivePassback { credential, zone }
            }
            "rex" => Input::Rex { door: door? },
            "push_to_exit" => Input::PushToExit { door: door? },
            "door_open" => Input::DoorOpen { door: door? },
            "door_close" => Input::DoorClose { door: door? },
            "key_override" => Input::KeyOverride { door: door? },
            "power_off" => Input::PowerOff {
                circuit: circuit()?,
            },
            "power_on" => Input::PowerOn {
                circuit: circuit()?,
            },
            "battery_low" => Input::BatteryLow {
                circuit: circuit()?,
            },
            "lock_status" => {
                if table.get("locked").is_none() {
                    self.missing(
                        scope,
                        "locked",
                        "true or false: what the lock's status contact says",
                    );
                    return None;
                }
                Input::LockSensed {
                    door: door?,
                    locked: self.boolean(scope, table, "locked", false),
                }
            }
            "fire_alarm" => Input::FireAlarm,
            "fire_alarm_reset" => Input::FireAlarmReset,
            "lockdown" => Input::Lockdown,
            "lockdown_end" => Input::LockdownEnd,
            "emergency_override" => {
                let doors = match self.door_scope(scope, table, ids, true)? {
                    DoorScope::All => (0..site.doors.len() as u32).map(DoorIdx).collect(),
                    DoorScope::Doors(doors) => doors,
                };
                Input::EmergencyOverride { doors }
            }
            "emergency_override_end" => Input::EmergencyOverrideEnd,
            "unlock" => Input::Unlock { door: door? },
            "lock" => Input::Lock { door: door? },
            _ => Input::Release { door: door? },
        };
        let what = match &input {
            Input::Badge {
                door,
                side: Side::Entry,
                credential,
            } => {
                format!("badge {credential} at {}", site.door(*door).id)
            }
            Input::Badge {
                door,
                side: Side::Exit,
                credential,
            } => {
                format!(
                    "badge {credential} at {}'s exit reader",
                    site.door(*door).id
                )
            }
            Input::Muster {
                station,
                credential,
            } => {
                format!(
                    "muster {credential} at {}",
                    site.muster_stations[station.index()].id
                )
            }
            Input::PowerOff { circuit }
            | Input::PowerOn { circuit }
            | Input::BatteryLow { circuit } => {
                format!("{input_name} {}", site.circuit(*circuit).id)
            }
            _ => match door {
                Some(door) => format!("{input_name} at {}", site.door(door).id),
                None => input_name.to_string(),
            },
        };
        Some(Step {
            at: at?,
            input,
            what,
        })
    }

    fn resolve_script(&mut self, drafts: ScriptDrafts<'s>, site: &Site) -> Script {
        let Some(start) = drafts.start else {
            if self.errors.is_empty() {
                self.push(
                    0..0,
                    None,
                    "start",
                    None,
                    "missing required field: the local time at which the clock starts".to_string(),
                );
            }
            return Script {
                start: 0,
                end: 0,
                credentials: CredentialStore::new(),
                levels: Vec::new(),
                steps: Vec::new(),
                probes: Vec::new(),
            };
        };
        let level_ids = self.unique_ids("access_level", &drafts.level_names);
        let mut credentials = CredentialStore::new();
        let mut first_line: HashMap<String, u32> = HashMap::new();
        for mut draft in drafts.credentials {
            for reference in &draft.levels {
                if let Some(level) = self.resolve(Some(reference), &level_ids) {
                    draft.credential.levels.push(LevelIdx(level));
                }
            }
            if let Some(line) = first_line.get(&draft.credential.number) {
                let value = Some(self.source(&draft.number_span));
                self.push(
                    draft.number_span.clone(),
                    Some(format!("credential {:?}", draft.credential.number)),
                    "number",
                    value,
                    format!(
                        "duplicate credential number: another credential has it, at line {line}"
                    ),
                );
                continue;
            }
            first_line.insert(
                draft.credential.number.clone(),
                self.line_of(&draft.number_span),
            );
            let span = draft.number_span.clone();
            if let Err(error) = credentials.insert(draft.credential) {
                self.push(span, None, "number", None, error.to_string());
            }
        }
        let mut steps = drafts.steps;
        let mut probes = drafts.probes;
        for (at, span) in steps
            .iter()
            .map(|(s, span)| (s.at, span))
            .chain(probes.iter().map(|(at, span)| (*at, span)))
        {
            if at < start {
                self.push(
                    span.clone(),
                    None,
                    "at",
                    None,
                    "this moment is before the script's `start`".to_string(),
                );
            }
        }
        steps.sort_by_key(|(step, _)| step.at);
        probes.sort_by_key(|(at, _)| *at);
        let last = steps
            .last()
            .map(|(s, _)| s.at)
            .into_iter()
            .chain(probes.last().map(|(at, _)| *at))
            .max()
            .unwrap_or(start);
        let end = drafts
            .end
            .unwrap_or_else(|| last + longest_door_timer(site));
        Script {
            start,
            end,
            credentials,
            levels: drafts.levels,
            steps: steps.into_iter().map(|(step, _)| step).collect(),
            probes: probes.into_iter().map(|(at, _)| at).collect(),
        }
    }
}

/// The longest time a door input takes to play out on this site: unlock, held-open, a
/// push-to-exit's hold, a delayed release's delay and unlock.
fn longest_door_timer(site: &Site) -> Millis {
    site.doors
        .iter()
        .map(|door| {
            let release = &door.release;
            let hold = release
                .push_to_exit
                .as_ref()
                .and_then(|p| p.hold_seconds)
                .unwrap_or(0.0);
            let delayed = release.delay_seconds.unwrap_or(0.0) + door.unlock_seconds;
            door.unlock_seconds
                .max(door.held_open_seconds)
                .max(hold)
                .max(delayed)
        })
        .map(crate::controller::seconds_to_millis)
        .max()
        .unwrap_or(0)
}

/// An offset as a time is written with it: `-05:00`.
fn offset_text(offset: jiff::tz::Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    format!("{sign}{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}
