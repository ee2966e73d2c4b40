//! The site file's rules about people: `[[zone]]` (anti-passback), `[[interlock]]` and
//! `[[muster_station]]`, read with the same pointed errors as the rest of the file.

use std::borrow::Cow;

use super::{Drafts, IdMap, Loader, MAX_DURATION_SECONDS, Reference, Scope, Table, Value};
use crate::site::{AntiPassback, AreaIdx, DoorIdx, Interlock, MusterStation, Reader, Zone};

const ZONE_FIELDS: &[&str] = &["id", "areas", "anti_passback", "forgive_minutes"];
const INTERLOCK_FIELDS: &[&str] = &["id", "doors"];
const STATION_FIELDS: &[&str] = &["id", "area", "reader"];

/// A zone before its areas are resolved.
pub(super) struct DraftZone<'s> {
    zone: Zone,
    areas: Vec<Reference<'s>>,
}

pub(super) struct DraftInterlock<'s> {
    interlock: Interlock,
    doors: Vec<Reference<'s>>,
}

pub(super) struct DraftStation<'s> {
    id: String,
    area: Option<Reference<'s>>,
    reader: Option<Reader>,
}

impl<'s> Loader<'s> {
    /// A list of ids, each a reference to resolve once the whole file is read; `at_least`
    /// of them are needed.
    fn reference_list(
        &mut self,
        scope: &Scope<'s>,
        table: &Table<'s>,
        key: &'static str,
        kind: &'static str,
        at_least: usize,
    ) -> Vec<Reference<'s>> {
        let Some(items) = self.string_list(scope, table, key) else {
            self.missing(
                scope,
                key,
                &format!("a list of at least {at_least} {kind} ids"),
            );
            return Vec::new();
        };
        let mut references: Vec<Reference<'s>> = Vec::with_capacity(items.len());
        for (text, span) in &items {
            if references.iter().any(|r| r.id == *text) {
                self.bad_value(
                    scope,
                    key,
                    span.clone(),
                    format!("this {kind} is listed twice"),
                );
                continue;
            }
            references.push(Reference {
                owner: scope.owner.clone(),
                prefix: scope.prefix,
                key,
                id: Cow::Owned(text.to_string()),
                span: self.absolute(span.clone()),
                kind,
            });
        }
        if items.len() < at_least {
            let span = table.get(key).map(|v| v.span()).unwrap_or(0..0);
            self.bad_value(
                scope,
                key,
                span,
                format!("expected at least {at_least} {kind} ids"),
            );
        }
        references
    }

    pub(super) fn zones(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        for (table, span) in self.elements("zone", value) {
            let (scope, id) = self.element_start(
                "zone",
                drafts.zones.len() + 1,
                span,
                table,
                ZONE_FIELDS,
                "zone",
            );
            let areas = self.reference_list(&scope, table, "areas", "area", 1);
            let anti_passback = if table.get("anti_passback").is_none() {
                self.missing(&scope, "anti_passback", "\"soft\" or \"hard\"");
                AntiPassback::Soft
            } else {
                self.choice(&scope, table, "anti_passback", &AntiPassback::ALL)
                    .unwrap_or(AntiPassback::Soft)
            };
            let forgive_minutes = self.number(&scope, table, "forgive_minutes", |n| {
                if n > 0.0 && n * 60.0 <= MAX_DURATION_SECONDS {
                    Ok(())
                } else {
                    Err("minutes greater than 0, at most 43200 (30 days)")
                }
            });
            drafts.zones.push(DraftZone {
                zone: Zone {
                    id: id.as_ref().map(|n| n.id.to_string()).unwrap_or_default(),
                    areas: Vec::new(),
                    anti_passback,
                    forgive_minutes,
                },
                areas,
            });
            drafts.zone_names.push(id);
        }
    }

    pub(super) fn interlocks(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        for (table, span) in self.elements("interlock", value) {
            let (scope, id) = self.element_start(
                "interlock",
                drafts.interlocks.len() + 1,
                span,
                table,
                INTERLOCK_FIELDS,
                "interlock",
            );
            let doors = self.reference_list(&scope, table, "doors", "door", 2);
            drafts.interlocks.push(DraftInterlock {
                interlock: Interlock {
                    id: id.as_ref().map(|n| n.id.to_string()).unwrap_or_default(),
                    doors: Vec::new(),
                },
                doors,
            });
            drafts.interlock_names.push(id);
        }
    }

    pub(super) fn muster_stations(&mut self, value: &Value<'s>, drafts: &mut Drafts<'s>) {
        for (table, span) in self.elements("muster_station", value) {
            let (scope, id) = self.element_start(
                "muster_station",
                drafts.stations.len() + 1,
                span,
                table,
                STATION_FIELDS,
                "muster station",
            );
            let area = self.reference(&scope, table, "area", "area", false);
            let reader = match self.subtable(&scope, table, "reader") {
                Some((reader_table, reader_span)) => {
                    self.reader(&scope.nested("reader.", reader_span), reader_table, None)
                }
                None => {
                    self.missing(
                        &scope,
                        "reader",
                        "the station's reader, as [muster_station.reader]",
                    );
                    None
                }
            };
            drafts.stations.push(DraftStation {
                id: id.as_ref().map(|n| n.id.to_string()).unwrap_or_default(),
                area,
                reader,
            });
            drafts.station_names.push(id);
        }
    }

    pub(super) fn resolve_zones(&mut self, drafts: Vec<DraftZone<'s>>, areas: &IdMap) -> Vec<Zone> {
        drafts
            .into_iter()
            .map(|draft| {
                let mut zone = draft.zone;
                zone.areas = self.resolve_all(&draft.areas, areas, AreaIdx);
                zone
            })
            .collect()
    }

    pub(super) fn resolve_interlocks(
        &mut self,
        drafts: Vec<DraftInterlock<'s>>,
        doors: &IdMap,
    ) -> Vec<Interlock> {
        drafts
            .into_iter()
            .map(|draft| {
                let mut interlock = draft.interlock;
                interlock.doors = self.resolve_all(&draft.doors, doors, DoorIdx);
                interlock
            })
            .collect()
    }

    pub(super) fn resolve_stations(
        &mut self,
        drafts: Vec<DraftStation<'s>>,
        areas: &IdMap,
    ) -> Vec<MusterStation> {
        drafts
            .into_iter()
            .filter_map(|draft| {
                let area = self.resolve(draft.area.as_ref(), areas).map(AreaIdx);
                Some(MusterStation {
                    id: draft.id,
                    area,
                    reader: draft.reader?,
                })
            })
            .collect()
    }

    /// Resolves each reference of a list, sorted by index (the controller looks them up).
    fn resolve_all<T: Ord>(
        &mut self,
        references: &[Reference<'s>],
        ids: &IdMap,
        make: impl Fn(u32) -> T,
    ) -> Vec<T> {
        let mut resolved: Vec<T> = references
            .iter()
            .filter_map(|r| self.resolve(Some(r), ids).map(&make))
            .collect();
        resolved.sort();
        resolved
    }
}
