//! Who is where, as the daemon keeps it: the core's changes of where people are, stored as
//! latched state with the events that caused them (so that a restart knows who is inside),
//! and the occupancy and muster lists the API shows.
//!
//! Stored keys and values (`keyway_store` state rows):
//!
//! | key | value |
//! |---|---|
//! | `seen:CREDENTIAL` | `AREA|MS|SEQ|F`: the area id (empty: outside the site's areas), the wall time, the sequence number, `1` if an operator forgave the holder since |
//! | `unseen:AREA` | the sequence number of the last time someone may have left the area unseen |
//! | `forgiven` | every holder forgiven up to this sequence number |
//! | `forgiven:ZONE` | the same for one zone |

use crate::storage::StateChange;
use std::collections::HashMap;

use keyway_core::Site;
use keyway_core::controller::Controller;
use keyway_core::people::{PeopleChange, Sighting};
use keyway_core::physics::Millis;
use keyway_core::site::AreaIdx;
use serde::Serialize;

/// The state rows that store these changes.
pub fn state_changes(site: &Site, changes: Vec<PeopleChange>) -> Vec<StateChange> {
    changes
        .into_iter()
        .map(|change| match change {
            PeopleChange::Seen {
                credential,
                sighting,
            } => (
                format!("seen:{credential}"),
                Some(format!(
                    "{}|{}|{}|{}",
                    sighting.area.map_or("", |a| site.area(a).id.as_str()),
                    sighting.at,
                    sighting.seq,
                    u8::from(sighting.forgiven)
                )),
            ),
            PeopleChange::LeftUnseen { area, seq } => (
                format!("unseen:{}", site.area(area).id),
                Some(seq.to_string()),
            ),
            PeopleChange::ForgivenAll { seq } => ("forgiven".to_string(), Some(seq.to_string())),
            PeopleChange::ZoneForgiven { zone, seq } => (
                format!("forgiven:{}", site.zone(zone).id),
                Some(seq.to_string()),
            ),
        })
        .collect()
}

/// The changes the stored rows bring back. A row naming an area or a zone the site no
/// longer has, or that cannot be read, is left out (the holder is then not known to be
/// anywhere).
pub fn restore_changes(site: &Site, state: &[(String, String)]) -> Vec<PeopleChange> {
    // One lookup table for the whole start: a row per holder ever seen, each naming an area.
    let areas: HashMap<&str, AreaIdx> = site
        .area_indices()
        .map(|a| (site.area(a).id.as_str(), a))
        .collect();
    let area_of = |id: &str| areas.get(id).copied();
    let mut changes = Vec::new();
    for (key, value) in state {
        let change = if let Some(credential) = key.strip_prefix("seen:") {
            parse_sighting(&area_of, value).map(|sighting| PeopleChange::Seen {
                credential: credential.to_string(),
                sighting,
            })
        } else if let Some(area) = key.strip_prefix("unseen:") {
            area_of(area)
                .zip(value.parse().ok())
                .map(|(area, seq)| PeopleChange::LeftUnseen { area, seq })
        } else if key == "forgiven" {
            value
                .parse()
                .ok()
                .map(|seq| PeopleChange::ForgivenAll { seq })
        } else if let Some(zone) = key.strip_prefix("forgiven:") {
            site.find_zone(zone)
                .zip(value.parse().ok())
                .map(|(zone, seq)| PeopleChange::ZoneForgiven { zone, seq })
        } else {
            None
        };
        changes.extend(change);
    }
    changes
}

fn parse_sighting(area_of: &dyn Fn(&str) -> Option<AreaIdx>, value: &str) -> Option<Sighting> {
    let mut parts = value.split('|');
    let area = match parts.next()? {
        "" => None,
        id => Some(area_of(id)?),
    };
    let at: Millis = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let forgiven = parts.next()? == "1";
    Some(Sighting {
        area,
        at,
        seq,
        forgiven,
    })
}

/// One holder, as the occupancy and muster lists show them.
#[derive(Clone, Debug, Serialize)]
pub struct Person {
    pub credential: String,
    /// The credential's holder; empty for a number the controller does not know.
    pub holder: String,
}

/// One area's occupants.
#[derive(Clone, Debug, Serialize)]
pub struct AreaOccupancy {
    pub id: String,
    pub name: String,
    pub count: usize,
    pub occupants: Vec<Person>,
}

/// Someone still to muster.
#[derive(Clone, Debug, Serialize)]
pub struct ToMuster {
    pub credential: String,
    pub holder: String,
    /// The area they were last seen going into.
    pub area: String,
    pub area_name: String,
    /// When, in the site's zone.
    pub seen_at: String,
    /// They may have left that area since: a door out of it opened without an exit reader.
    pub maybe_left: bool,
}

/// Who is where now.
#[derive(Clone, Debug, Serialize)]
pub struct PeopleSnapshot {
    /// Every area that is not exterior, in site order.
    pub areas: Vec<AreaOccupancy>,
    /// People last seen inside whose area is unknown now.
    pub unknown: Vec<Person>,
    /// Whether a muster is on (a fire alarm), and since when (the site's zone).
    pub muster_active: bool,
    pub muster_since: Option<String>,
    /// While a muster is on: everyone still to muster, by credential.
    pub to_muster: Vec<ToMuster>,
}

pub fn snapshot(controller: &Controller) -> PeopleSnapshot {
    let site = controller.site();
    let zone = &site.info.timezone;
    let holder = |credential: &str| {
        controller
            .credentials()
            .get(credential)
            .map(|c| c.holder().to_string())
            .unwrap_or_default()
    };
    let person = |credential: &str| Person {
        credential: credential.to_string(),
        holder: holder(credential),
    };
    let occupants = controller.occupants();
    let areas = site
        .areas
        .iter()
        .zip(&occupants)
        .filter(|(area, _)| !area.is_exterior())
        .map(|(area, list)| AreaOccupancy {
            id: area.id.clone(),
            name: area.name.clone(),
            count: list.len(),
            occupants: list.iter().map(|c| person(c)).collect(),
        })
        .collect();
    let inside = controller.people().last_seen_inside();
    let unknown = inside
        .iter()
        .filter(|p| p.maybe_left)
        .map(|p| person(p.credential))
        .collect();
    let to_muster = match controller.muster_list() {
        Some(list) => list
            .into_iter()
            .map(|p| ToMuster {
                credential: p.credential.to_string(),
                holder: holder(p.credential),
                area: site.area(p.area).id.clone(),
                area_name: site.area(p.area).name.clone(),
                seen_at: crate::clock::time_in(zone, p.at.saturating_add(controller.wall_offset())),
                maybe_left: p.maybe_left,
            })
            .collect(),
        None => Vec::new(),
    };
    PeopleSnapshot {
        areas,
        unknown,
        muster_active: controller.muster_since().is_some(),
        muster_since: controller
            .muster_since()
            .map(|at| crate::clock::time_in(zone, at)),
        to_muster,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_core::site::ZoneIdx;

    const SITE: &str = r#"
[site]
name = "t"
[controller]
power = "mains"
[[power]]
id = "mains"
[[area]]
id = "street"
kind = "exterior"
[[area]]
id = "lobby"
[[zone]]
id = "all"
areas = ["lobby"]
anti_passback = "hard"
"#;

    #[test]
    fn stored_rows_bring_back_the_same_changes() {
        let site = keyway_core::parse_site("site.toml", SITE).unwrap();
        let changes = vec![
            PeopleChange::Seen {
                credential: "12:345".to_string(),
                sighting: Sighting {
                    area: Some(AreaIdx(1)),
                    at: 1_764_000_000_000,
                    seq: 7,
                    forgiven: true,
                },
            },
            PeopleChange::Seen {
                credential: "9".to_string(),
                sighting: Sighting {
                    area: None,
                    at: 5,
                    seq: 8,
                    forgiven: false,
                },
            },
            PeopleChange::LeftUnseen {
                area: AreaIdx(1),
                seq: 9,
            },
            PeopleChange::ForgivenAll { seq: 10 },
            PeopleChange::ZoneForgiven {
                zone: ZoneIdx(0),
                seq: 11,
            },
        ];
        let rows: Vec<(String, String)> = state_changes(&site, changes.clone())
            .into_iter()
            .map(|(k, v)| (k, v.unwrap()))
            .collect();
        assert_eq!(
            rows[0],
            (
                "seen:12:345".to_string(),
                "lobby|1764000000000|7|1".to_string()
            )
        );
        assert_eq!(restore_changes(&site, &rows), changes);
    }

    #[test]
    fn rows_naming_what_the_site_lacks_are_left_out() {
        let site = keyway_core::parse_site("site.toml", SITE).unwrap();
        let rows = [
            ("seen:1".to_string(), "attic|5|1|0".to_string()),
            ("seen:2".to_string(), "lobby|five|1|0".to_string()),
            ("unseen:attic".to_string(), "3".to_string()),
            ("forgiven:gone".to_string(), "3".to_string()),
            ("hold:front".to_string(), "unlock".to_string()),
        ];
        assert_eq!(restore_changes(&site, &rows), Vec::new());
    }
}
