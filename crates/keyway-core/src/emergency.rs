//! The five emergency modes of the Standard Response Protocol, and what each does at a door.
//!
//! | mode | doors it locks | doors it releases | who a locked door admits |
//! |---|---|---|---|
//! | `hold` | interior doors (neither side exterior) | | responders and staff |
//! | `secure` | doors to the exterior | | responders |
//! | `lockdown` | every door | | responders |
//! | `evacuate` | doors to the exterior that do not lock egress | egress doors that lock egress (as a fire alarm would) | responders, at doors to the exterior |
//! | `shelter` | | doors with a shelter area on either side | anyone |
//!
//! A mode applies to the doors with an area among its `areas` on either side, or to every
//! door when it names none. Egress releases keep their precedence in every mode: the mode's
//! lock is rule 4 of the precedence list, under the fire alarm, the egress releases and the
//! emergency override; its releases are with the fire alarm's, above them all.

use crate::site::{Door, Site};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    None,
    Hold,
    Secure,
    Lockdown,
    Evacuate,
    Shelter,
}

impl Mode {
    pub const ALL: [(&'static str, Mode); 6] = [
        ("none", Mode::None),
        ("hold", Mode::Hold),
        ("secure", Mode::Secure),
        ("lockdown", Mode::Lockdown),
        ("evacuate", Mode::Evacuate),
        ("shelter", Mode::Shelter),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    pub fn from_name(name: &str) -> Option<Mode> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }
}

/// Who a door locked by a mode still admits with a valid credential.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Admits {
    #[default]
    Anyone,
    Responders,
    RespondersAndStaff,
}

/// What the mode does at one door.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// Rule 4: the door is commanded locked (unless a higher rule unlocks it).
    pub locks: bool,
    /// Released as a fire alarm would release it.
    pub releases: bool,
    /// Who its reader still admits.
    pub admits: Admits,
}

/// What `mode` does at `door`; `in_scope` is whether the door is among the mode's doors.
pub fn effect(site: &Site, mode: Mode, door: &Door, in_scope: bool) -> Effect {
    if !in_scope {
        return Effect::default();
    }
    let exterior = site.area(door.outside).is_exterior() || site.area(door.inside).is_exterior();
    let locks_egress = door.lock.as_ref().is_some_and(|lock| lock.locks_egress);
    let shelter = site.area(door.inside).shelter || site.area(door.outside).shelter;
    let locked = |admits| Effect {
        locks: true,
        releases: false,
        admits,
    };
    match mode {
        Mode::None => Effect::default(),
        Mode::Lockdown => locked(Admits::Responders),
        Mode::Secure if exterior => locked(Admits::Responders),
        Mode::Hold if !exterior => locked(Admits::RespondersAndStaff),
        Mode::Secure | Mode::Hold => Effect::default(),
        Mode::Evacuate => {
            let releases = door.egress && locks_egress;
            Effect {
                locks: exterior && !releases,
                releases,
                admits: if exterior {
                    Admits::Responders
                } else {
                    Admits::Anyone
                },
            }
        }
        Mode::Shelter => Effect {
            locks: false,
            releases: shelter,
            admits: Admits::Anyone,
        },
    }
}

/// Whether a door is among the doors of a mode that names `areas` (by area index; `None`:
/// every door).
pub fn in_scope(door: &Door, areas: Option<&[bool]>) -> bool {
    areas.is_none_or(|areas| areas[door.inside.index()] || areas[door.outside.index()])
}
