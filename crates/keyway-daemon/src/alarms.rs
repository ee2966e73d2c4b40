//! Alarms for the operator: the events that need a person (a door forced or held open, a
//! lock fault, a reader off-line, tampered with or without power, power lost or a battery
//! low or empty, storage failing, the fire alarm, a duress PIN), each active until the event
//! that clears it (a duress alarm is over as it is raised: it needs only its acknowledgement), and each acknowledged by an operator with an optional note. Pure: the daemon feeds it
//! every stored event (`observe`) and the stored acknowledgements (`ack:SEQ` in the latched
//! state, written with the `alarm_acknowledged` event in one transaction).

use std::collections::VecDeque;

use keyway_store::StoredEvent;

/// Alarms kept (the newest); older ones are in the log.
pub const KEPT: usize = 1_000;
/// The longest note taken with an acknowledgement.
pub const MAX_NOTE_CHARS: usize = 500;

/// The latched-state key of an alarm's acknowledgement.
pub fn ack_key(seq: u64) -> String {
    format!("ack:{seq}")
}

/// What an alarm is about, and which events clear it: the same family, the same door or
/// circuit.
fn family(kind: &str) -> Option<(&'static str, bool)> {
    // (family, raises: true for the alarm, false for what clears it)
    Some(match kind {
        "door_forced" | "door_held_open" => ("door", true),
        "alarm_cleared" => ("door", false),
        "lock_fault" => ("lock", true),
        "lock_fault_cleared" => ("lock", false),
        "reader_offline" => ("reader", true),
        "reader_online" => ("reader", false),
        "reader_tamper" => ("tamper", true),
        "reader_tamper_cleared" => ("tamper", false),
        "reader_power_fault" => ("reader_power", true),
        "reader_power_restored" => ("reader_power", false),
        "power_lost" | "battery_low" | "battery_depleted" => ("power", true),
        "power_restored" => ("power", false),
        "storage_fault" => ("storage", true),
        "storage_restored" => ("storage", false),
        "fire_alarm" => ("fire", true),
        "fire_alarm_reset" => ("fire", false),
        "duress" => ("duress", true),
        _ => return None,
    })
}

/// An operator's acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ack {
    pub by: String,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub note: String,
}

/// One alarm: the event that raised it, whether it is still active, and its acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    pub seq: u64,
    pub at: i64,
    pub kind: String,
    pub door: Option<String>,
    pub circuit: Option<String>,
    pub detail: Option<String>,
    /// The event that cleared it.
    pub cleared_by: Option<u64>,
    pub ack: Option<Ack>,
}

impl Alarm {
    /// Active, or not yet acknowledged.
    pub fn needs_attention(&self) -> bool {
        self.cleared_by.is_none() || self.ack.is_none()
    }
}

/// Why an acknowledgement is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("no alarm #{0} (alarms are the events that need a person; the newest 1,000 are kept)")]
    NoSuchAlarm(u64),
    #[error("alarm #{seq} was acknowledged by {by}")]
    Already { seq: u64, by: String },
    #[error("the note has {0} characters; at most 500 are taken")]
    NoteTooLong(usize),
}

/// The alarms, oldest first, and the newest event seen.
#[derive(Debug, Default)]
pub struct AlarmBook {
    alarms: VecDeque<Alarm>,
    last_seq: u64,
}

impl AlarmBook {
    /// The newest event seen (to catch up from after a lag).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Takes one stored event, in order; one seen before is ignored.
    pub fn observe(&mut self, stored: &StoredEvent) {
        if stored.seq <= self.last_seq {
            return;
        }
        self.last_seq = stored.seq;
        let event = &stored.event;
        let Some((family_of, raises)) = family(&event.kind) else {
            return;
        };
        let same = |alarm: &Alarm| {
            family(&alarm.kind).map(|f| f.0) == Some(family_of)
                && alarm.door == event.door
                && alarm.circuit == event.circuit
                && alarm.cleared_by.is_none()
        };
        if raises {
            // A repeat of an active alarm (a second battery warning) is the same alarm.
            if self.alarms.iter().any(|a| same(a) && a.kind == event.kind) {
                return;
            }
            // A duress PIN is a moment, not a state: nothing clears it but a person.
            let momentary = family_of == "duress";
            self.alarms.push_back(Alarm {
                seq: stored.seq,
                at: event.at,
                kind: event.kind.clone(),
                door: event.door.clone(),
                circuit: event.circuit.clone(),
                detail: event.detail.clone().or_else(|| {
                    event
                        .credential
                        .as_ref()
                        .map(|credential| format!("credential {credential}"))
                }),
                cleared_by: momentary.then_some(stored.seq),
                ack: None,
            });
            while self.alarms.len() > KEPT {
                self.alarms.pop_front();
            }
        } else {
            for alarm in self.alarms.iter_mut().filter(|a| same(a)) {
                alarm.cleared_by = Some(stored.seq);
            }
        }
    }

    /// Checks that alarm `seq` may be acknowledged with this note.
    pub fn check_ack(&self, seq: u64, note: &str) -> Result<(), AckError> {
        let length = note.chars().count();
        if length > MAX_NOTE_CHARS {
            return Err(AckError::NoteTooLong(length));
        }
        let alarm = self.get(seq).ok_or(AckError::NoSuchAlarm(seq))?;
        match &alarm.ack {
            Some(ack) => Err(AckError::Already {
                seq,
                by: ack.by.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Records an acknowledgement (from an operator, or restored from the store).
    pub fn acknowledge(&mut self, seq: u64, ack: Ack) {
        if let Some(alarm) = self.alarms.iter_mut().find(|a| a.seq == seq) {
            alarm.ack = Some(ack);
        }
    }

    pub fn get(&self, seq: u64) -> Option<&Alarm> {
        self.alarms.iter().find(|a| a.seq == seq)
    }

    /// The newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Alarm> {
        self.alarms.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_store::NewEvent;

    fn event(seq: u64, kind: &str, door: Option<&str>, circuit: Option<&str>) -> StoredEvent {
        StoredEvent {
            seq,
            event: NewEvent {
                at: seq as i64 * 1000,
                kind: kind.to_string(),
                door: door.map(str::to_string),
                credential: None,
                reason: None,
                circuit: circuit.map(str::to_string),
                source: None,
                actor: None,
                detail: None,
            },
            hash: String::new(),
        }
    }

    #[test]
    fn a_duress_alarm_is_over_at_once_and_needs_its_acknowledgement() {
        let mut book = AlarmBook::default();
        let mut duress = event(1, "duress", Some("library"), None);
        duress.event.credential = Some("1001".to_string());
        book.observe(&duress);
        book.observe(&event(2, "duress", Some("library"), None));
        let alarms: Vec<&Alarm> = book.newest_first().collect();
        assert_eq!(alarms.len(), 2, "each duress PIN is an alarm of its own");
        let first = book.get(1).unwrap();
        assert_eq!(first.cleared_by, Some(1));
        assert_eq!(first.detail.as_deref(), Some("credential 1001"));
        assert!(first.needs_attention());
        book.acknowledge(
            1,
            Ack {
                by: "desk".to_string(),
                at: 5,
                note: String::new(),
            },
        );
        assert!(!book.get(1).unwrap().needs_attention());
    }

    #[test]
    fn an_alarm_is_active_until_its_own_clearing_event() {
        let mut book = AlarmBook::default();
        book.observe(&event(1, "door_forced", Some("front"), None));
        book.observe(&event(2, "door_held_open", Some("rear"), None));
        book.observe(&event(3, "access_granted", Some("front"), None));
        book.observe(&event(4, "alarm_cleared", Some("front"), None));
        book.observe(&event(5, "power_lost", None, Some("mains")));
        book.observe(&event(6, "battery_low", None, Some("ups")));
        book.observe(&event(7, "battery_low", None, Some("ups")));
        book.observe(&event(8, "power_restored", None, Some("mains")));
        // Seen before: ignored.
        book.observe(&event(2, "alarm_cleared", Some("rear"), None));
        let state: Vec<(u64, Option<u64>)> =
            book.newest_first().map(|a| (a.seq, a.cleared_by)).collect();
        assert_eq!(
            state,
            [(6, None), (5, Some(8)), (2, None), (1, Some(4))],
            "the repeated battery warning is one alarm"
        );
    }

    #[test]
    fn an_alarm_is_acknowledged_once_with_a_short_note() {
        let mut book = AlarmBook::default();
        book.observe(&event(1, "reader_offline", Some("front"), None));
        assert_eq!(book.check_ack(9, ""), Err(AckError::NoSuchAlarm(9)));
        assert_eq!(
            book.check_ack(1, &"x".repeat(501)),
            Err(AckError::NoteTooLong(501))
        );
        book.check_ack(1, "cable checked").unwrap();
        let ack = Ack {
            by: "olga".into(),
            at: 5,
            note: "cable checked".into(),
        };
        book.acknowledge(1, ack.clone());
        assert!(book.get(1).unwrap().needs_attention(), "still off-line");
        assert!(matches!(
            book.check_ack(1, ""),
            Err(AckError::Already { .. })
        ));
        book.observe(&event(2, "reader_online", Some("front"), None));
        assert!(!book.get(1).unwrap().needs_attention());
    }

    #[test]
    fn only_the_newest_alarms_are_kept() {
        let mut book = AlarmBook::default();
        for seq in 1..=(KEPT as u64 + 5) {
            book.observe(&event(seq, "door_forced", Some(&format!("d{seq}")), None));
        }
        assert_eq!(book.newest_first().count(), KEPT);
        assert!(book.get(5).is_none() && book.get(6).is_some());
    }
}
