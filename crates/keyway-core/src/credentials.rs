//! Credentials, access levels, and the access decision.
//!
//! A site may hold a million credentials, so they are stored compactly: numbers and holders
//! in one text arena, fixed-size records, an open-addressing index of record numbers, and
//! door lists interned (thousands of cards share a handful of door lists). A lookup is one
//! hash and a short probe: the decision stays O(1) in the number of credentials.

use std::collections::HashMap;
use std::hash::BuildHasher;

use serde::Serialize;

use crate::emergency::Admits;
use crate::physics::Millis;
use crate::site::{DoorIdx, ScheduleIdx};

/// Position of an access level in the controller's level list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LevelIdx(pub u32);

/// Which doors a credential or an access level opens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DoorScope {
    /// Every door (`"*"`).
    All,
    /// These doors.
    Doors(Vec<DoorIdx>),
}

/// A named set of doors with a schedule, held by many credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLevel {
    pub id: String,
    pub doors: DoorScope,
    /// The level opens its doors only while this schedule is active.
    pub schedule: Option<ScheduleIdx>,
}

impl AccessLevel {
    /// A level that opens nothing: what a removed level's place holds until the next start
    /// (credentials name levels by their place in the list).
    pub fn none() -> AccessLevel {
        AccessLevel {
            id: String::new(),
            doors: DoorScope::Doors(Vec::new()),
            schedule: None,
        }
    }
}

/// A credential as it is added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCredential {
    /// Card number or PIN, as the reader reports it.
    pub number: String,
    pub holder: String,
    pub doors: DoorScope,
    pub levels: Vec<LevelIdx>,
    /// The credential is valid only while this schedule is active.
    pub schedule: Option<ScheduleIdx>,
    pub valid_from: Option<Millis>,
    pub valid_until: Option<Millis>,
    /// Admitted during lockdown.
    pub responder: bool,
    /// Kept, but refused everywhere (`disabled`): a lost card, a holder on leave.
    pub disabled: bool,
    /// Admitted through a door that hold mode locks (with responders).
    pub staff: bool,
    /// What few credentials carry: PINs and a number of uses.
    pub extra: CredentialExtra,
}

/// PINs and a visitor pass's number of uses, kept beside the records of the few
/// credentials that have them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialExtra {
    /// The PIN a `card_and_pin` door asks for after the card.
    pub pin: Option<String>,
    /// A PIN that grants as the PIN does and raises a `duress` alarm.
    pub duress_pin: Option<String>,
    /// A pass good for this many grants (a visitor's); `None`: any number.
    pub uses: Option<u32>,
}

impl CredentialExtra {
    pub fn is_empty(&self) -> bool {
        *self == CredentialExtra::default()
    }
}

/// Why a badge was refused, in the order the checks are made (replay spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    UnknownCredential,
    /// The credential is known and disabled (checked right after it is found).
    Disabled,
    NotYetValid,
    Expired,
    NotPermitted,
    OutsideSchedule,
    Lockdown,
    /// The controller cannot unlock the door now: it would have to power a fail-secure lock
    /// whose circuit is dead.
    NoPower,
    /// The holder is going into a hard anti-passback zone they were not seen leaving.
    AntiPassback,
    /// Another door of the door's interlock is open or unlocked.
    Interlock,
    /// A pass with a number of uses has had them all.
    UsedUp,
    /// The PIN after the card is wrong, came too late, or came with no card.
    WrongPin,
}

impl DenyReason {
    pub fn name(self) -> &'static str {
        match self {
            DenyReason::UnknownCredential => "unknown_credential",
            DenyReason::Disabled => "disabled",
            DenyReason::NotYetValid => "not_yet_valid",
            DenyReason::Expired => "expired",
            DenyReason::NotPermitted => "not_permitted",
            DenyReason::OutsideSchedule => "outside_schedule",
            DenyReason::Lockdown => "lockdown",
            DenyReason::NoPower => "no_power",
            DenyReason::AntiPassback => "anti_passback",
            DenyReason::Interlock => "interlock",
            DenyReason::UsedUp => "used_up",
            DenyReason::WrongPin => "wrong_pin",
        }
    }
}

/// The outcome of a badge. The core never fails a badge with an error: a refusal is a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Granted; `responder` when it was admitted because the credential is a responder's.
    Grant {
        responder: bool,
    },
    Deny(DenyReason),
}

/// The facts about the moment of a badge that the decision needs from the controller.
#[derive(Clone, Copy, Debug)]
pub struct Moment<'a> {
    pub now: Millis,
    /// Whether each schedule is active now, by schedule index.
    pub schedule_active: &'a [bool],
    /// Who an emergency mode still admits at this door (`Anyone`: no mode holds it).
    pub admits: Admits,
    /// The controller can unlock this door now (power, see `physics::controller_can_unlock`).
    pub can_unlock: bool,
}

const NO_SCHEDULE: u32 = u32::MAX;
const ALL_DOORS: u32 = u32::MAX;
/// One place of the index: the record (`index + 1`, 0 for an empty place) and the high half
/// of the number's hash, so that a probe past other numbers does not touch their records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    entry: u32,
    fingerprint: u32,
}

const EMPTY_SLOT: Slot = Slot {
    entry: 0,
    fingerprint: 0,
};

/// One credential, 48 bytes. Strings live in the store's arena.
#[derive(Clone, Copy, Debug)]
struct Record {
    number_at: u32,
    holder_at: u32,
    number_len: u16,
    holder_len: u16,
    /// Interned door list, or `ALL_DOORS`.
    doors: u32,
    /// Interned level list.
    levels: u32,
    schedule: u32,
    valid_from: Millis,
    valid_until: Millis,
    responder: bool,
    disabled: bool,
    staff: bool,
}

/// A credential as stored, borrowed from the store.
#[derive(Clone, Copy, Debug)]
pub struct CredentialRef<'a> {
    index: u32,
    store: &'a CredentialStore,
    record: &'a Record,
}

impl<'a> CredentialRef<'a> {
    pub fn number(&self) -> &'a str {
        self.store
            .text(self.record.number_at, self.record.number_len)
    }

    pub fn holder(&self) -> &'a str {
        self.store
            .text(self.record.holder_at, self.record.holder_len)
    }

    pub fn responder(&self) -> bool {
        self.record.responder
    }

    /// Its PINs and number of uses (all `None` for most credentials).
    pub fn extra(&self) -> &'a CredentialExtra {
        static NONE: CredentialExtra = CredentialExtra {
            pin: None,
            duress_pin: None,
            uses: None,
        };
        self.store.extras.get(&self.index).unwrap_or(&NONE)
    }

    /// Admitted through a door that hold mode locks.
    pub fn staff(&self) -> bool {
        self.record.staff
    }

    pub fn disabled(&self) -> bool {
        self.record.disabled
    }

    pub fn valid_from(&self) -> Option<Millis> {
        (self.record.valid_from != Millis::MIN).then_some(self.record.valid_from)
    }

    pub fn valid_until(&self) -> Option<Millis> {
        (self.record.valid_until != Millis::MAX).then_some(self.record.valid_until)
    }

    pub fn schedule(&self) -> Option<ScheduleIdx> {
        (self.record.schedule != NO_SCHEDULE).then_some(ScheduleIdx(self.record.schedule))
    }

    /// The doors given to the credential directly (not through its levels).
    pub fn doors(&self) -> DoorScope {
        match self.record.doors {
            ALL_DOORS => DoorScope::All,
            set => DoorScope::Doors(self.store.door_sets[set as usize].to_vec()),
        }
    }

    pub fn levels(&self) -> &'a [LevelIdx] {
        &self.store.level_sets[self.record.levels as usize]
    }

    fn opens_directly(&self, door: DoorIdx) -> bool {
        match self.record.doors {
            ALL_DOORS => true,
            set => self.store.door_sets[set as usize]
                .binary_search(&door)
                .is_ok(),
        }
    }
}

/// Every credential of a site.
#[derive(Clone, Debug)]
pub struct CredentialStore {
    text: String,
    records: Vec<Record>,
    /// Records no longer in use, to be reused.
    free_records: Vec<u32>,
    /// Open addressing with linear probing, at most half full.
    slots: Vec<Slot>,
    len: usize,
    /// Arena bytes that belong to replaced or removed credentials.
    garbage_bytes: usize,
    door_sets: Vec<Box<[DoorIdx]>>,
    door_set_ids: HashMap<Box<[DoorIdx]>, u32>,
    level_sets: Vec<Box<[LevelIdx]>>,
    level_set_ids: HashMap<Box<[LevelIdx]>, u32>,
    /// By record index: the extras of the credentials that have any.
    extras: HashMap<u32, CredentialExtra>,
    hasher: foldhash::fast::FixedState,
}

impl Default for CredentialStore {
    fn default() -> Self {
        CredentialStore {
            text: String::new(),
            records: Vec::new(),
            free_records: Vec::new(),
            slots: vec![EMPTY_SLOT; 16],
            len: 0,
            garbage_bytes: 0,
            door_sets: Vec::new(),
            door_set_ids: HashMap::new(),
            level_sets: Vec::new(),
            level_set_ids: HashMap::new(),
            extras: HashMap::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x6b65_7977_6179),
        }
    }
}

/// A credential that cannot be stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("credential number {0:?} is empty or longer than 64 bytes")]
    BadNumber(String),
    #[error("holder name of credential {0:?} is longer than 1024 bytes")]
    HolderTooLong(String),
}

impl CredentialStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store sized for `n` credentials, so that loading them never grows the index.
    pub fn with_capacity(n: usize) -> Self {
        CredentialStore {
            slots: vec![EMPTY_SLOT; (n * 2 + 1).next_power_of_two().max(16)],
            records: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn text(&self, at: u32, len: u16) -> &str {
        &self.text[at as usize..at as usize + len as usize]
    }

    fn slot_of(&self, number: &str) -> (usize, Option<u32>, u32) {
        let mask = self.slots.len() - 1;
        let hash = self.hasher.hash_one(number);
        let fingerprint = (hash >> 32) as u32;
        let mut slot = hash as usize & mask;
        loop {
            let place = self.slots[slot];
            if place.entry == 0 {
                return (slot, None, fingerprint);
            }
            if place.fingerprint == fingerprint {
                let record = &self.records[place.entry as usize - 1];
                if self.text(record.number_at, record.number_len) == number {
                    return (slot, Some(place.entry - 1), fingerprint);
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Where a stored entry's probe starts.
    fn home_of(&self, entry: u32, mask: usize) -> usize {
        let record = &self.records[entry as usize - 1];
        self.hasher
            .hash_one(self.text(record.number_at, record.number_len)) as usize
            & mask
    }

    pub fn get(&self, number: &str) -> Option<CredentialRef<'_>> {
        let (_, found, _) = self.slot_of(number);
        found.map(|index| CredentialRef {
            index,
            store: self,
            record: &self.records[index as usize],
        })
    }

    /// Adds a credential, or replaces the one with the same number.
    pub fn insert(&mut self, credential: NewCredential) -> Result<(), CredentialError> {
        if credential.number.is_empty() || credential.number.len() > 64 {
            return Err(CredentialError::BadNumber(credential.number));
        }
        if credential.holder.len() > 1024 {
            return Err(CredentialError::HolderTooLong(credential.number));
        }
        let doors = match credential.doors {
            DoorScope::All => ALL_DOORS,
            DoorScope::Doors(mut doors) => {
                doors.sort_unstable();
                doors.dedup();
                intern(
                    &mut self.door_sets,
                    &mut self.door_set_ids,
                    doors.into_boxed_slice(),
                )
            }
        };
        let mut levels = credential.levels;
        levels.sort_unstable();
        levels.dedup();
        let levels = intern(
            &mut self.level_sets,
            &mut self.level_set_ids,
            levels.into_boxed_slice(),
        );
        let number_at = self.text.len() as u32;
        self.text.push_str(&credential.number);
        let holder_at = self.text.len() as u32;
        self.text.push_str(&credential.holder);
        let record = Record {
            number_at,
            holder_at,
            number_len: credential.number.len() as u16,
            holder_len: credential.holder.len() as u16,
            doors,
            levels,
            schedule: credential.schedule.map_or(NO_SCHEDULE, |s| s.0),
            valid_from: credential.valid_from.unwrap_or(Millis::MIN),
            valid_until: credential.valid_until.unwrap_or(Millis::MAX),
            responder: credential.responder,
            staff: credential.staff,
            disabled: credential.disabled,
        };
        let (slot, existing, fingerprint) = self.slot_of(&credential.number);
        let extra = (!credential.extra.is_empty()).then_some(credential.extra);
        if let Some(index) = existing {
            let old = self.records[index as usize];
            self.garbage_bytes += old.number_len as usize + old.holder_len as usize;
            self.records[index as usize] = record;
            self.set_extra(index, extra);
            return Ok(());
        }
        let index = match self.free_records.pop() {
            Some(index) => {
                self.records[index as usize] = record;
                index
            }
            None => {
                self.records.push(record);
                self.records.len() as u32 - 1
            }
        };
        self.set_extra(index, extra);
        self.slots[slot] = Slot {
            entry: index + 1,
            fingerprint,
        };
        self.len += 1;
        // Keep the table at most half full so probes, found or not, stay short.
        if self.len * 2 > self.slots.len() {
            self.grow();
        }
        Ok(())
    }

    /// Removes a credential; `false` when there was none with that number.
    pub fn remove(&mut self, number: &str) -> bool {
        let (mut hole, Some(index), _) = self.slot_of(number) else {
            return false;
        };
        let old = self.records[index as usize];
        self.garbage_bytes += old.number_len as usize + old.holder_len as usize;
        self.free_records.push(index);
        self.extras.remove(&index);
        self.len -= 1;
        // Backward-shift deletion: move later entries of the probe run into the hole so that
        // every remaining entry stays reachable from its home slot.
        let mask = self.slots.len() - 1;
        self.slots[hole] = EMPTY_SLOT;
        let mut slot = (hole + 1) & mask;
        while self.slots[slot] != EMPTY_SLOT {
            let entry = self.slots[slot];
            let home = self.home_of(entry.entry, mask);
            // The entry may move to the hole when its home is not between the hole and it.
            let distance_to_entry = slot.wrapping_sub(home) & mask;
            let distance_to_hole = hole.wrapping_sub(home) & mask;
            if distance_to_hole < distance_to_entry {
                self.slots[hole] = entry;
                self.slots[slot] = EMPTY_SLOT;
                hole = slot;
            }
            slot = (slot + 1) & mask;
        }
        if self.garbage_bytes > self.text.len() / 2 && self.garbage_bytes > 1 << 20 {
            self.compact_text();
        }
        true
    }

    fn set_extra(&mut self, index: u32, extra: Option<CredentialExtra>) {
        match extra {
            Some(extra) => {
                self.extras.insert(index, extra);
            }
            None => {
                self.extras.remove(&index);
            }
        }
    }

    /// Every stored credential, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = CredentialRef<'_>> + '_ {
        self.slots
            .iter()
            .filter(|e| **e != EMPTY_SLOT)
            .map(|e| CredentialRef {
                index: e.entry - 1,
                store: self,
                record: &self.records[e.entry as usize - 1],
            })
    }

    fn grow(&mut self) {
        let new_len = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; new_len]);
        let mask = new_len - 1;
        for entry in old.into_iter().filter(|e| *e != EMPTY_SLOT) {
            let mut slot = self.home_of(entry.entry, mask);
            while self.slots[slot] != EMPTY_SLOT {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = entry;
        }
    }

    /// Rewrites the arena without the text of replaced and removed credentials.
    fn compact_text(&mut self) {
        let mut text = String::with_capacity(self.text.len() - self.garbage_bytes);
        for entry in self.slots.iter().filter(|e| **e != EMPTY_SLOT) {
            let record = &mut self.records[entry.entry as usize - 1];
            let number = &self.text[record.number_at as usize..][..record.number_len as usize];
            let holder = &self.text[record.holder_at as usize..][..record.holder_len as usize];
            record.number_at = text.len() as u32;
            text.push_str(number);
            record.holder_at = text.len() as u32;
            text.push_str(holder);
        }
        self.text = text;
        self.garbage_bytes = 0;
    }

    /// Approximate heap bytes held, for the memory benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.records.capacity() * size_of::<Record>()
            + self.slots.capacity() * size_of::<Slot>()
            + self.free_records.capacity() * size_of::<u32>()
    }

    /// Decides a badge at a door, checking in the order of the replay spec: unknown,
    /// not yet valid, expired, not permitted, outside schedule, lockdown, no power; a
    /// disabled credential (which no replay script makes) is refused right after it is found.
    pub fn decide(
        &self,
        levels: &[AccessLevel],
        number: &str,
        door: DoorIdx,
        moment: Moment<'_>,
    ) -> Decision {
        let Some(credential) = self.get(number) else {
            return Decision::Deny(DenyReason::UnknownCredential);
        };
        if credential.record.disabled {
            return Decision::Deny(DenyReason::Disabled);
        }
        if moment.now < credential.record.valid_from {
            return Decision::Deny(DenyReason::NotYetValid);
        }
        if moment.now >= credential.record.valid_until {
            return Decision::Deny(DenyReason::Expired);
        }
        let active = |schedule: Option<ScheduleIdx>| {
            schedule.is_none_or(|s| moment.schedule_active[s.index()])
        };
        let own_schedule = active(credential.schedule());
        let direct = credential.opens_directly(door);
        let mut permitted = direct;
        let mut in_schedule = direct && own_schedule;
        for level in credential.levels() {
            let level = &levels[level.0 as usize];
            let opens = match &level.doors {
                DoorScope::All => true,
                DoorScope::Doors(doors) => doors.binary_search(&door).is_ok(),
            };
            if opens {
                permitted = true;
                in_schedule |= own_schedule && active(level.schedule);
            }
        }
        if !permitted {
            return Decision::Deny(DenyReason::NotPermitted);
        }
        if !in_schedule {
            return Decision::Deny(DenyReason::OutsideSchedule);
        }
        let admitted = match moment.admits {
            Admits::Anyone => true,
            Admits::Responders => credential.responder(),
            Admits::RespondersAndStaff => credential.responder() || credential.staff(),
        };
        if !admitted {
            return Decision::Deny(DenyReason::Lockdown);
        }
        if !moment.can_unlock {
            return Decision::Deny(DenyReason::NoPower);
        }
        Decision::Grant {
            responder: moment.admits != Admits::Anyone,
        }
    }
}

fn intern<T: Clone + Eq + std::hash::Hash>(
    sets: &mut Vec<Box<[T]>>,
    ids: &mut HashMap<Box<[T]>, u32>,
    set: Box<[T]>,
) -> u32 {
    if let Some(id) = ids.get(&set) {
        return *id;
    }
    let id = sets.len() as u32;
    sets.push(set.clone());
    ids.insert(set, id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(number: &str, doors: &[u32]) -> NewCredential {
        NewCredential {
            number: number.to_string(),
            holder: format!("holder of {number}"),
            doors: DoorScope::Doors(doors.iter().map(|d| DoorIdx(*d)).collect()),
            levels: Vec::new(),
            schedule: None,
            valid_from: None,
            valid_until: None,
            responder: false,
            disabled: false,
            staff: false,
            extra: Default::default(),
        }
    }

    #[test]
    fn insert_get_replace_remove_many() {
        let mut store = CredentialStore::new();
        for i in 0..10_000 {
            store.insert(card(&i.to_string(), &[i % 7])).unwrap();
        }
        assert_eq!(store.len(), 10_000);
        assert_eq!(store.get("1234").unwrap().holder(), "holder of 1234");
        store
            .insert(NewCredential {
                holder: "Alice".into(),
                ..card("1234", &[1])
            })
            .unwrap();
        assert_eq!(store.len(), 10_000);
        assert_eq!(store.get("1234").unwrap().holder(), "Alice");
        for i in (0..10_000).step_by(2) {
            assert!(store.remove(&i.to_string()));
        }
        assert!(!store.remove("0"));
        assert_eq!(store.len(), 5_000);
        for i in 0..10_000 {
            assert_eq!(
                store.get(&i.to_string()).is_some(),
                i % 2 == 1,
                "credential {i}"
            );
        }
        assert_eq!(store.iter().count(), 5_000);
        // Door lists are interned: seven distinct lists for ten thousand cards.
        assert!(store.door_sets.len() <= 8);
    }

    #[test]
    fn removal_compacts_the_text_arena() {
        let mut store = CredentialStore::new();
        for i in 0..100_000 {
            store.insert(card(&format!("{i:08}"), &[0])).unwrap();
        }
        for i in 0..90_000 {
            store.remove(&format!("{i:08}"));
        }
        assert!(
            store.text.len() < 100_000 * 30 / 2,
            "arena {}",
            store.text.len()
        );
        assert_eq!(
            store.get("00095000").unwrap().holder(),
            "holder of 00095000"
        );
    }

    #[test]
    fn decision_order_follows_the_spec() {
        let mut store = CredentialStore::new();
        store
            .insert(NewCredential {
                valid_from: Some(100),
                valid_until: Some(200),
                schedule: Some(ScheduleIdx(0)),
                ..card("7", &[1])
            })
            .unwrap();
        const ACTIVE: &[bool] = &[true];
        const INACTIVE: &[bool] = &[false];
        let (active, inactive) = (ACTIVE, INACTIVE);
        let at = |now, schedules: &'static [bool], lockdown, can_unlock| Moment {
            now,
            schedule_active: schedules,
            admits: if lockdown {
                Admits::Responders
            } else {
                Admits::Anyone
            },
            can_unlock,
        };
        let decide = |door, moment| store.decide(&[], "7", DoorIdx(door), moment);
        assert_eq!(
            store.decide(&[], "8", DoorIdx(1), at(150, active, false, true)),
            Decision::Deny(DenyReason::UnknownCredential)
        );
        assert_eq!(
            decide(1, at(99, inactive, true, false)),
            Decision::Deny(DenyReason::NotYetValid)
        );
        assert_eq!(
            decide(1, at(200, inactive, true, false)),
            Decision::Deny(DenyReason::Expired)
        );
        assert_eq!(
            decide(2, at(150, inactive, true, false)),
            Decision::Deny(DenyReason::NotPermitted)
        );
        assert_eq!(
            decide(1, at(150, inactive, true, false)),
            Decision::Deny(DenyReason::OutsideSchedule)
        );
        assert_eq!(
            decide(1, at(150, active, true, false)),
            Decision::Deny(DenyReason::Lockdown)
        );
        assert_eq!(
            decide(1, at(150, active, false, false)),
            Decision::Deny(DenyReason::NoPower)
        );
        assert_eq!(
            decide(1, at(150, active, false, true)),
            Decision::Grant { responder: false }
        );
    }

    #[test]
    fn access_levels_open_their_doors_on_their_schedule() {
        let levels = vec![AccessLevel {
            id: "cleaners".into(),
            doors: DoorScope::Doors(vec![DoorIdx(3)]),
            schedule: Some(ScheduleIdx(0)),
        }];
        let mut store = CredentialStore::new();
        store
            .insert(NewCredential {
                levels: vec![LevelIdx(0)],
                ..card("9", &[])
            })
            .unwrap();
        let moment = |schedules| Moment {
            now: 0,
            schedule_active: schedules,
            admits: Admits::Anyone,
            can_unlock: true,
        };
        assert_eq!(
            store.decide(&levels, "9", DoorIdx(3), moment(&[true])),
            Decision::Grant { responder: false }
        );
        assert_eq!(
            store.decide(&levels, "9", DoorIdx(3), moment(&[false])),
            Decision::Deny(DenyReason::OutsideSchedule)
        );
        assert_eq!(
            store.decide(&levels, "9", DoorIdx(4), moment(&[true])),
            Decision::Deny(DenyReason::NotPermitted)
        );
    }

    #[test]
    fn responders_pass_lockdown() {
        let mut store = CredentialStore::new();
        store
            .insert(NewCredential {
                responder: true,
                doors: DoorScope::All,
                ..card("911", &[])
            })
            .unwrap();
        let moment = Moment {
            now: 0,
            schedule_active: &[],
            admits: Admits::Responders,
            can_unlock: true,
        };
        assert_eq!(
            store.decide(&[], "911", DoorIdx(0), moment),
            Decision::Grant { responder: true }
        );
    }

    #[test]
    fn a_disabled_credential_is_refused_before_anything_else_is_checked() {
        let mut store = CredentialStore::new();
        store
            .insert(NewCredential {
                disabled: true,
                responder: true,
                doors: DoorScope::All,
                valid_until: Some(10),
                ..card("7", &[])
            })
            .unwrap();
        let moment = Moment {
            now: 20,
            schedule_active: &[],
            admits: Admits::Responders,
            can_unlock: false,
        };
        assert!(store.get("7").unwrap().disabled());
        assert_eq!(
            store.decide(&[], "7", DoorIdx(0), moment),
            Decision::Deny(DenyReason::Disabled)
        );
        // Enabled again (replaced), the next check decides: it has expired.
        store
            .insert(NewCredential {
                doors: DoorScope::All,
                valid_until: Some(10),
                ..card("7", &[])
            })
            .unwrap();
        assert_eq!(
            store.decide(&[], "7", DoorIdx(0), moment),
            Decision::Deny(DenyReason::Expired)
        );
    }
}
