//! Who is where: the last place each credential's holder was seen, for occupancy, the muster
//! list and anti-passback.
//!
//! A granted badge at a door's entry reader puts its holder in the door's `inside` area, at its
//! exit reader in its `outside` area; a badge at a muster station puts them at the station
//! (outside the building unless the station names an area). Nobody is seen leaving through a
//! door without an exit reader: a REX, a push-to-exit or a door opened without a grant there
//! means that anyone last seen in the door's `inside` area may have gone, so their location
//! becomes unknown. They are then no longer counted in that area, but they were still last
//! seen inside the building, so they stay on the muster list until they badge at a station.
//!
//! Every operation is constant time except the listings, which are one pass over the holders
//! ever seen: a REX marks its area with a sequence number instead of visiting its occupants.

use std::collections::HashMap;

use crate::physics::Millis;
use crate::site::{AreaIdx, Site, ZoneIdx};

/// Where a holder was last seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// `None`: outside the site's areas (a muster station that names none).
    pub area: Option<AreaIdx>,
    pub at: Millis,
    /// The order of sightings and of the events that forgive or unsee them.
    pub seq: u64,
    /// An operator forgave this holder's anti-passback since this sighting.
    pub forgiven: bool,
}

/// One change of what [`People`] knows, for a caller that keeps it (the daemon stores them
/// with the events, so that a restart knows who is where), and to bring it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeopleChange {
    Seen {
        credential: String,
        sighting: Sighting,
    },
    /// Someone may have left the area unseen, at this sequence number.
    LeftUnseen { area: AreaIdx, seq: u64 },
    /// Everyone forgiven up to this sequence number.
    ForgivenAll { seq: u64 },
    /// Everyone forgiven in one zone up to this sequence number.
    ZoneForgiven { zone: ZoneIdx, seq: u64 },
}

/// Where a holder is, as far as the controller knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whereabouts {
    /// Never seen, or last seen outside the building.
    Outside,
    /// Last seen going into this area, and not seen leaving it.
    In(AreaIdx),
    /// Last seen going into this area, but a door out of it has opened since without an exit
    /// reader to say who went through.
    MaybeLeft(AreaIdx),
}

/// The holders' last sightings and what forgives or unsees them.
#[derive(Clone, Debug, Default)]
pub struct People {
    /// By credential: the sighting, and the credential's sort key ([`sort_key`]).
    sightings: HashMap<Box<str>, (Sighting, u128), foldhash::fast::RandomState>,
    seq: u64,
    /// Per area: the sequence number of the last time someone may have left it unseen.
    left_unseen: Vec<u64>,
    /// Every holder's anti-passback forgiven by sightings up to this sequence number.
    forgiven: u64,
    /// Per zone, the same for one zone.
    zone_forgiven: Vec<u64>,
    /// Per area: it is exterior (read once from the site, for the listings).
    exterior: Vec<bool>,
    /// The changes not yet taken, when they are kept (`keep_changes`).
    changes: Option<Vec<PeopleChange>>,
}

/// One person still to muster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToMuster<'a> {
    pub credential: &'a str,
    /// Where they were last seen.
    pub area: AreaIdx,
    pub at: Millis,
    /// They may have left that area without being seen.
    pub maybe_left: bool,
}

impl People {
    pub fn new(site: &Site) -> Self {
        People {
            left_unseen: vec![0; site.areas.len()],
            zone_forgiven: vec![0; site.zones.len()],
            exterior: site.areas.iter().map(|a| a.is_exterior()).collect(),
            ..People::default()
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// From now on every change is kept until [`People::take_changes`].
    pub fn keep_changes(&mut self) {
        self.changes.get_or_insert_with(Vec::new);
    }

    pub fn take_changes(&mut self) -> Vec<PeopleChange> {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn record(&mut self, change: impl FnOnce() -> PeopleChange) {
        if let Some(changes) = &mut self.changes {
            changes.push(change());
        }
    }

    /// Brings back a change kept before (at start). Sequence numbers go on from the
    /// largest brought back; a change naming an area or zone the site no longer has is
    /// dropped.
    pub fn restore(&mut self, change: PeopleChange) {
        let seq = match &change {
            PeopleChange::Seen { sighting, .. } => sighting.seq,
            PeopleChange::LeftUnseen { seq, .. }
            | PeopleChange::ForgivenAll { seq }
            | PeopleChange::ZoneForgiven { seq, .. } => *seq,
        };
        self.seq = self.seq.max(seq);
        match change {
            PeopleChange::Seen {
                credential,
                sighting,
            } => {
                if sighting
                    .area
                    .is_none_or(|area| area.index() < self.left_unseen.len())
                {
                    let key = sort_key(&credential);
                    self.sightings.insert(credential.into(), (sighting, key));
                }
            }
            PeopleChange::LeftUnseen { area, seq } => {
                if let Some(slot) = self.left_unseen.get_mut(area.index()) {
                    *slot = (*slot).max(seq);
                }
            }
            PeopleChange::ForgivenAll { seq } => self.forgiven = self.forgiven.max(seq),
            PeopleChange::ZoneForgiven { zone, seq } => {
                if let Some(slot) = self.zone_forgiven.get_mut(zone.index()) {
                    *slot = (*slot).max(seq);
                }
            }
        }
    }

    /// The holder was seen going into `area` (`None`: outside the site's areas).
    pub fn see(&mut self, credential: &str, area: Option<AreaIdx>, at: Millis) {
        let seq = self.next_seq();
        let sighting = Sighting {
            area,
            at,
            seq,
            forgiven: false,
        };
        match self.sightings.get_mut(credential) {
            Some(slot) => slot.0 = sighting,
            None => {
                self.sightings
                    .insert(credential.into(), (sighting, sort_key(credential)));
            }
        }
        self.record(|| PeopleChange::Seen {
            credential: credential.to_string(),
            sighting,
        });
    }

    /// Someone may have left `area` through a door without an exit reader.
    pub fn left_unseen(&mut self, area: AreaIdx) {
        let seq = self.next_seq();
        self.left_unseen[area.index()] = seq;
        self.record(|| PeopleChange::LeftUnseen { area, seq });
    }

    pub fn sighting(&self, credential: &str) -> Option<&Sighting> {
        self.sightings.get(credential).map(|(sighting, _)| sighting)
    }

    pub fn whereabouts(&self, credential: &str) -> Whereabouts {
        self.sightings
            .get(credential)
            .map_or(Whereabouts::Outside, |(s, _)| self.whereabouts_of(s))
    }

    fn whereabouts_of(&self, sighting: &Sighting) -> Whereabouts {
        match sighting.area {
            Some(area) if !self.exterior[area.index()] => {
                if self.left_unseen[area.index()] > sighting.seq {
                    Whereabouts::MaybeLeft(area)
                } else {
                    Whereabouts::In(area)
                }
            }
            _ => Whereabouts::Outside,
        }
    }

    /// Whether going into `zone` now is a re-entry: the holder was seen going into one of
    /// its areas and not seen leaving it, and nothing has forgiven them since.
    pub fn inside_zone(&self, site: &Site, credential: &str, zone: ZoneIdx, now: Millis) -> bool {
        let Some((sighting, _)) = self.sightings.get(credential) else {
            return false;
        };
        let Whereabouts::In(area) = self.whereabouts_of(sighting) else {
            return false;
        };
        let rules = site.zone(zone);
        let forgiven = sighting.forgiven
            || sighting.seq <= self.forgiven
            || sighting.seq <= self.zone_forgiven[zone.index()]
            || rules
                .forgive_minutes
                .is_some_and(|minutes| now - sighting.at >= (minutes * 60_000.0).round() as Millis);
        !forgiven && rules.areas.binary_search(&area).is_ok()
    }

    /// Every holder is forgiven their anti-passback (a fire alarm, an evacuation, a power
    /// loss).
    pub fn forgive_everyone(&mut self) {
        let seq = self.next_seq();
        self.forgiven = seq;
        self.record(|| PeopleChange::ForgivenAll { seq });
    }

    /// Every holder is forgiven for one zone.
    pub fn forgive_zone(&mut self, zone: ZoneIdx) {
        let seq = self.next_seq();
        self.zone_forgiven[zone.index()] = seq;
        self.record(|| PeopleChange::ZoneForgiven { zone, seq });
    }

    /// One holder is forgiven; `false` if they were never seen.
    pub fn forgive_holder(&mut self, credential: &str) -> bool {
        match self.sightings.get_mut(credential) {
            Some((sighting, _)) => {
                sighting.forgiven = true;
                let sighting = *sighting;
                self.record(|| PeopleChange::Seen {
                    credential: credential.to_string(),
                    sighting,
                });
                true
            }
            None => false,
        }
    }

    /// Per area, by index: the credentials known to be there, sorted.
    pub fn occupants(&self, site: &Site) -> Vec<Vec<&str>> {
        let mut areas: Vec<Vec<(u128, &str)>> = vec![Vec::new(); site.areas.len()];
        for (credential, (sighting, key)) in &self.sightings {
            if let Whereabouts::In(area) = self.whereabouts_of(sighting) {
                areas[area.index()].push((*key, credential));
            }
        }
        areas
            .into_iter()
            .map(|mut list| {
                list.sort_unstable_by(|a, b| by_key(a.0, a.1, b.0, b.1));
                list.into_iter().map(|(_, credential)| credential).collect()
            })
            .collect()
    }

    /// Everyone last seen inside the building (known to be there or not), sorted by
    /// credential: who still has to muster.
    pub fn last_seen_inside(&self) -> Vec<ToMuster<'_>> {
        let mut list: Vec<(u128, ToMuster)> = self
            .sightings
            .iter()
            .filter_map(|(credential, (sighting, key))| {
                let (area, maybe_left) = match self.whereabouts_of(sighting) {
                    Whereabouts::In(area) => (area, false),
                    Whereabouts::MaybeLeft(area) => (area, true),
                    Whereabouts::Outside => return None,
                };
                Some((
                    *key,
                    ToMuster {
                        credential,
                        area,
                        at: sighting.at,
                        maybe_left,
                    },
                ))
            })
            .collect();
        list.sort_unstable_by(|a, b| by_key(a.0, a.1.credential, b.0, b.1.credential));
        list.into_iter().map(|(_, person)| person).collect()
    }

    /// How many holders have been seen at all.
    pub fn len(&self) -> usize {
        self.sightings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sightings.is_empty()
    }
}

/// A credential's sort key: its first sixteen bytes as one integer. Numbers differ there
/// (most are shorter), so sorting by the key, then by the text only when keys tie, orders a
/// list of 100,000 as the text would without following a pointer to the text for most
/// comparisons. Computed once, when the holder is first seen.
fn sort_key(credential: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let n = credential.len().min(16);
    bytes[..n].copy_from_slice(&credential.as_bytes()[..n]);
    u128::from_be_bytes(bytes)
}

fn by_key(a_key: u128, a: &str, b_key: u128, b: &str) -> std::cmp::Ordering {
    a_key.cmp(&b_key).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::{by_key, sort_key};

    #[test]
    fn credentials_sort_as_strings_do() {
        let mut numbers = vec![
            "123:45678",
            "123:4567",
            "9",
            "",
            "123:45677",
            "12",
            "abcdefghij",
            "abcdefgh",
        ];
        let mut expected = numbers.clone();
        expected.sort_unstable();
        numbers.sort_unstable_by(|a, b| by_key(sort_key(a), a, sort_key(b), b));
        assert_eq!(numbers, expected);
    }
}
