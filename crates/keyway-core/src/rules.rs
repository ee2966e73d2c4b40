//! The checker's rule table: ids, severities, meanings and citations.
//!
//! The ids are a contract (`docs/rules.md` is generated from this table, and a test keeps the
//! two equal). Citations come per code family so that the site's `codes` select the editions
//! cited. IBC 2024 sections are cited by their title, not a number: the numbers below were
//! collected for the 2021 edition, and Keyway does not guess at the 2024 numbering.

use std::fmt;

use serde::Serialize;

use crate::site::{CodeEdition, SiteInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A code violation, or people can be trapped.
    Error,
    /// A risk the owner should decide on.
    Warning,
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a rule comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// International Building Code: the 2021 section numbers, and the topic of those sections,
    /// by which the 2024 edition is cited.
    Ibc {
        sections_2021: &'static str,
        topic_2024: &'static str,
    },
    /// A provision of IBC 2024 with no 2021 counterpart: cited only when IBC 2024 is selected.
    Ibc2024Only { topic: &'static str },
    /// NFPA 101 Life Safety Code, 2021 edition.
    Nfpa101 { sections: &'static str },
    /// Another standard or plain practice, cited whatever the site selects.
    Other(&'static str),
}

/// One rule of the checker.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    /// The section of `docs/rules.md` it belongs to.
    pub group: &'static str,
    /// When it fires, in a sentence.
    pub fires_when: &'static str,
    pub sources: &'static [Source],
}

impl Rule {
    /// The citation for the editions the site selects. A rule whose only sources are editions
    /// the site does not select still cites them, so that a finding never comes without a basis.
    pub fn citation(&self, site: &SiteInfo) -> String {
        let mut parts = Vec::new();
        for source in self.sources {
            match source {
                Source::Ibc {
                    sections_2021,
                    topic_2024,
                } => {
                    if site.cites(CodeEdition::Ibc2021) {
                        parts.push(format!("IBC 2021 {sections_2021}"));
                    }
                    if site.cites(CodeEdition::Ibc2024) {
                        parts.push(format!("IBC 2024 ({topic_2024})"));
                    }
                }
                Source::Ibc2024Only { topic } => {
                    if site.cites(CodeEdition::Ibc2024) {
                        parts.push(format!("IBC 2024 ({topic})"));
                    }
                }
                Source::Nfpa101 { sections } => {
                    if site.cites(CodeEdition::Nfpa101_2021) {
                        parts.push(format!("NFPA 101 2021 {sections}"));
                    }
                }
                Source::Other(text) => parts.push(text.to_string()),
            }
        }
        if parts.is_empty() {
            return self.full_citation();
        }
        parts.join("; ")
    }

    /// The citation with every edition, as in the rule reference.
    pub fn full_citation(&self) -> String {
        self.sources
            .iter()
            .map(|source| match source {
                Source::Ibc {
                    sections_2021,
                    topic_2024,
                } => format!("IBC 2021 {sections_2021} / IBC 2024 ({topic_2024})"),
                Source::Ibc2024Only { topic } => format!("IBC 2024 ({topic})"),
                Source::Nfpa101 { sections } => format!("NFPA 101 2021 {sections}"),
                Source::Other(text) => text.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

const DOOR_OPERATIONS: Source = Source::Ibc {
    sections_2021: "§1010.2",
    topic_2024: "door operations",
};
const ELECTRIC_RELEASES: Source = Source::Ibc {
    sections_2021: "§1010.2.11–§1010.2.13",
    topic_2024: "door hardware release, sensor release and delayed egress of electrically locked doors",
};
const DOOR_HARDWARE_RELEASE: Source = Source::Ibc {
    sections_2021: "§1010.2.11",
    topic_2024: "door hardware release of electrically locked egress doors",
};
const SENSOR_RELEASE: Source = Source::Ibc {
    sections_2021: "§1010.2.12",
    topic_2024: "sensor release of electrically locked egress doors",
};
const DELAYED_EGRESS: Source = Source::Ibc {
    sections_2021: "§1010.2.13",
    topic_2024: "delayed egress",
};
const CONTROLLED_EGRESS: Source = Source::Ibc {
    sections_2021: "§1010.2.14",
    topic_2024: "controlled egress doors in Groups I-1 and I-2",
};
const STAIRWAY_DOORS: Source = Source::Ibc {
    sections_2021: "§1010.2.7",
    topic_2024: "stairway doors",
};
const NFPA101_SPECIAL_LOCKING: Source = Source::Nfpa101 {
    sections: "§7.2.1.6",
};
const NFPA101_SENSOR: Source = Source::Nfpa101 {
    sections: "§7.2.1.6.2",
};
const NFPA101_DELAYED: Source = Source::Nfpa101 {
    sections: "§7.2.1.6.1",
};
const PRACTICE: Source = Source::Other("(practice)");
const IFC_KEY_BOX: Source = Source::Other("IFC 2021 §506.1");
const IEC_MONITORING: Source = Source::Other("IEC 60839-11-1:2013 Table 2");
const POSITIVE_LATCHING: Source = Source::Other("NFPA 80 2022 (positive latching)");

macro_rules! rule {
    ($name:ident, $id:literal, $severity:ident, $group:literal, $when:literal, [$($source:expr),+ $(,)?]) => {
        pub const $name: Rule = Rule {
            id: $id,
            severity: Severity::$severity,
            group: $group,
            fires_when: $when,
            sources: &[$($source),+],
        };
    };
}

rule!(
    EGRESS_NO_ARRANGEMENT,
    "EGRESS-NO-ARRANGEMENT",
    Error,
    "Egress locking",
    "An egress-locked door has no special locking arrangement (`release.arrangement` is `none`).",
    [
        DOOR_OPERATIONS,
        Source::Nfpa101 {
            sections: "§7.2.1.5, §7.2.1.6"
        }
    ]
);
rule!(
    EGRESS_FAIL_SECURE,
    "EGRESS-FAIL-SECURE",
    Error,
    "Egress locking",
    "An egress-locked door has a fail-secure lock: a power loss would lock people in.",
    [ELECTRIC_RELEASES, NFPA101_SPECIAL_LOCKING]
);
rule!(
    EGRESS_FIRE_ALARM,
    "EGRESS-FIRE-ALARM",
    Error,
    "Egress locking",
    "The site has a fire alarm or sprinklers, and an egress-locked door has no fire alarm release.",
    [
        Source::Other("NFPA 72 2022 §21.9.1"),
        Source::Ibc {
            sections_2021: "§1010.2.12, §1010.2.13",
            topic_2024: "sensor release and delayed egress of electrically locked doors"
        }
    ]
);
rule!(
    EGRESS_BATTERY_HOLD,
    "EGRESS-BATTERY-HOLD",
    Warning,
    "Egress locking",
    "An egress-locked fail-safe lock whose circuit chain holds more than 10 minutes of battery, with no fire alarm release: in a fire the batteries keep it locked.",
    [Source::Other("NFPA 72 2022 §21.9.3")]
);
rule!(
    EGRESS_KEY,
    "EGRESS-KEY",
    Error,
    "Egress locking",
    "`exit_hardware = \"key\"` on a door that is not a signed `main_entrance` of a group A (300 occupants or fewer), B, F, M or S area.",
    [
        Source::Ibc {
            sections_2021: "§1010.2.4",
            topic_2024: "locks and latches"
        },
        Source::Nfpa101 {
            sections: "§7.2.1.5"
        }
    ]
);
rule!(
    SR_SENSOR,
    "SR-SENSOR",
    Error,
    "Sensor release (`arrangement = \"sensor\"`)",
    "A sensor-release door has no `rex_sensor`.",
    [SENSOR_RELEASE, NFPA101_SENSOR]
);
rule!(
    SR_PUSH_TO_EXIT,
    "SR-PUSH-TO-EXIT",
    Error,
    "Sensor release (`arrangement = \"sensor\"`)",
    "A sensor-release door has no `push_to_exit`, or its `height_in` is outside 40–48, its `distance_in` over 60, `direct_power_cut` false, or `hold_seconds` under 30 (a missing measurement fails).",
    [SENSOR_RELEASE, NFPA101_SENSOR]
);
rule!(
    SR_PANIC,
    "SR-PANIC",
    Error,
    "Sensor release (`arrangement = \"sensor\"`)",
    "IBC 2024 only: a sensor-release door requires panic hardware.",
    [Source::Ibc2024Only {
        topic: "sensor release of electrically locked egress doors"
    }]
);
rule!(
    DHR_HARDWARE,
    "DHR-HARDWARE",
    Error,
    "Door-hardware release (`arrangement = \"door_hardware\"`)",
    "A door-hardware release door's `exit_hardware` is not `lever`, `panic` or `knob`: the release must be operable hardware on the door leaf.",
    [
        DOOR_HARDWARE_RELEASE,
        Source::Nfpa101 {
            sections: "§7.2.1.5.6"
        }
    ]
);
rule!(
    ELOCK_GROUP_H,
    "ELOCK-GROUP-H",
    Error,
    "Door-hardware release (`arrangement = \"door_hardware\"`)",
    "A sensor or door-hardware release in a group H area.",
    [Source::Ibc {
        sections_2021: "§1010.2.11, §1010.2.12",
        topic_2024: "door hardware release and sensor release of electrically locked egress doors"
    }]
);
rule!(
    ELOCK_LISTING,
    "ELOCK-LISTING",
    Warning,
    "Door-hardware release (`arrangement = \"door_hardware\"`)",
    "A door with any arrangement other than `none` whose lock is not listed `UL294` (with IBC 2024: `UL294` or `UL1034`).",
    [ELECTRIC_RELEASES]
);
rule!(
    DE_PROTECTION,
    "DE-PROTECTION",
    Error,
    "Delayed egress (`arrangement = \"delayed\"`)",
    "A delayed-egress door in a site with neither sprinklers nor a fire alarm, or in an occupancy other than B, F, I-1, I-2, I-3, M, R, S, U, or E with fewer than 50 occupants.",
    [DELAYED_EGRESS, NFPA101_DELAYED]
);
rule!(
    DE_DELAY,
    "DE-DELAY",
    Error,
    "Delayed egress (`arrangement = \"delayed\"`)",
    "`delay_seconds` is missing, over 30, or over 15 without `ahj_approved_delay`.",
    [DELAYED_EGRESS, NFPA101_DELAYED]
);
rule!(
    DE_RELEASES,
    "DE-RELEASES",
    Error,
    "Delayed egress (`arrangement = \"delayed\"`)",
    "A delayed-egress door has no fire alarm release, or (with an IBC edition) no `remote` release.",
    [DELAYED_EGRESS]
);
rule!(
    DE_SIGN,
    "DE-SIGN",
    Warning,
    "Delayed egress (`arrangement = \"delayed\"`)",
    "A delayed-egress door has no `sign`.",
    [DELAYED_EGRESS, NFPA101_DELAYED]
);
rule!(
    DE_ONE_PER_PATH,
    "DE-ONE-PER-PATH",
    Error,
    "Delayed egress (`arrangement = \"delayed\"`)",
    "An egress path from an occupied area to the exterior passes more than one delayed-egress door (from I-2 and I-3 areas: more than two, or more than 30 s of delay in all).",
    [DELAYED_EGRESS]
);
rule!(
    CE_OCCUPANCY,
    "CE-OCCUPANCY",
    Error,
    "Controlled egress (`arrangement = \"controlled\"`)",
    "A controlled-egress door in an occupancy other than I-1 or I-2.",
    [CONTROLLED_EGRESS]
);
rule!(
    CE_RELEASES,
    "CE-RELEASES",
    Error,
    "Controlled egress (`arrangement = \"controlled\"`)",
    "A controlled-egress door has no fire alarm release, or no `remote` release.",
    [CONTROLLED_EGRESS]
);
rule!(
    CE_ONE_BEFORE_EXIT,
    "CE-ONE-BEFORE-EXIT",
    Error,
    "Controlled egress (`arrangement = \"controlled\"`)",
    "An egress path from an occupied area passes more than one controlled-egress door.",
    [CONTROLLED_EGRESS]
);
rule!(
    ELEV_LOBBY,
    "ELEV-LOBBY",
    Error,
    "Elevator lobby (`arrangement = \"elevator_lobby\"`)",
    "An elevator-lobby door in a site that is not sprinklered or has no fire alarm, or the door has no fire alarm release.",
    [Source::Nfpa101 {
        sections: "§7.2.1.6.3"
    }]
);
rule!(
    STAIR_DISCHARGE,
    "STAIR-DISCHARGE",
    Error,
    "Stairs",
    "A door from a stair to the exterior locks egress.",
    [STAIRWAY_DOORS]
);
rule!(
    STAIR_REENTRY,
    "STAIR-REENTRY",
    Error,
    "Stairs",
    "A door from a stair back into the building has an electric lock with neither a `remote` nor a fire alarm release.",
    [
        STAIRWAY_DOORS,
        Source::Nfpa101 {
            sections: "§7.2.1.5.8"
        }
    ]
);
rule!(
    FIRE_DOOR_FAILSAFE_STRIKE,
    "FIRE-DOOR-FAILSAFE-STRIKE",
    Error,
    "Fire doors",
    "A fire-rated door with a fail-safe electric strike: it unlatches whenever power is lost.",
    [POSITIVE_LATCHING, Source::Other("UL 10C")]
);
rule!(
    FIRE_DOOR_UNLATCH,
    "FIRE-DOOR-UNLATCH",
    Error,
    "Fire doors",
    "A fire-rated door with an electric strike or electrified panic bar that is unlocked in the `fire` scenario.",
    [POSITIVE_LATCHING]
);
rule!(
    PANIC_REQUIRED,
    "PANIC-REQUIRED",
    Error,
    "Panic hardware",
    "An egress door requires panic hardware and its `exit_hardware` is not `panic`.",
    [
        Source::Ibc {
            sections_2021: "§1010.2.9",
            topic_2024: "panic and fire exit hardware"
        },
        Source::Nfpa101 {
            sections: "§7.2.1.7"
        }
    ]
);
rule!(
    OVERRIDE_MISSING,
    "OVERRIDE-MISSING",
    Warning,
    "Outages, overrides and emergency access",
    "A door to the exterior has a fail-secure lock and no `key_override`: nobody gets in during an outage.",
    [PRACTICE]
);
rule!(
    OUTAGE_PERIMETER_OPEN,
    "OUTAGE-PERIMETER-OPEN",
    Warning,
    "Outages, overrides and emergency access",
    "A door to the exterior has an electric lock that is unlocked at some moment of the `outage` scenario.",
    [PRACTICE]
);
rule!(
    FD_KEY_BOX,
    "FD-KEY-BOX",
    Info,
    "Outages, overrides and emergency access",
    "Some door to the exterior has an electric lock and the site has no `key_box` (one finding for the site).",
    [IFC_KEY_BOX]
);
rule!(
    EGRESS_TRAPPED,
    "EGRESS-TRAPPED",
    Error,
    "Outages, overrides and emergency access",
    "In some scenario and moment, an occupied area cannot reach the exterior. One finding per area, for the first scenario and moment in the order `normal`, `fire`, `lockdown`, `outage`, `outage-fire`, then the other emergency modes `hold`, `secure`, `evacuate`, `shelter`.",
    [
        DOOR_OPERATIONS,
        Source::Nfpa101 {
            sections: "§7.2.1.1"
        }
    ]
);
rule!(
    OUTAGE_EXPOSED,
    "OUTAGE-EXPOSED",
    Warning,
    "Outages, overrides and emergency access",
    "In some moment of the `outage` scenario, an area with `assets = \"high\"` is open to the exterior.",
    [PRACTICE]
);
rule!(
    SITE_LOCKOUT,
    "SITE-LOCKOUT",
    Warning,
    "Outages, overrides and emergency access",
    "In some moment of the `outage` scenario, no door to the exterior admits entry (open, credential or key) and the site has no `key_box`.",
    [IFC_KEY_BOX]
);
rule!(
    SEC_DPS,
    "SEC-DPS",
    Warning,
    "Monitoring",
    "A door with an electric lock has no `dps`: forced and held-open doors go unnoticed.",
    [IEC_MONITORING]
);
rule!(
    SEC_RELEASE_TIME,
    "SEC-RELEASE-TIME",
    Warning,
    "Monitoring",
    "A door with an electric lock has `unlock_seconds` under 3.",
    [IEC_MONITORING]
);

rule!(
    EGRESS_CARD_OUT,
    "EGRESS-CARD-OUT",
    Error,
    "People: exit readers, interlocks, two-person doors, muster and shelter",
    "An egress-locked door with an exit reader and no egress release (no `rex_sensor`, no `push_to_exit`, no door-hardware, delayed, controlled or elevator-lobby arrangement): its only way out is a card (card-out egress).",
    [
        DOOR_OPERATIONS,
        Source::Nfpa101 {
            sections: "§7.2.1.5.3"
        }
    ]
);
rule!(
    INTERLOCK_EGRESS,
    "INTERLOCK-EGRESS",
    Error,
    "People: exit readers, interlocks, two-person doors, muster and shelter",
    "An egress-locked door of an `[[interlock]]` lacks a fire alarm release or an egress release (REX, push-to-exit, door-hardware or delayed release): the interlock, or a fire, could hold people in.",
    [ELECTRIC_RELEASES, NFPA101_SPECIAL_LOCKING]
);
rule!(
    TWO_PERSON_EGRESS,
    "TWO-PERSON-EGRESS",
    Warning,
    "People: exit readers, interlocks, two-person doors, muster and shelter",
    "A two-person door (`access.two_person`) is egress-locked: one person alone may get out only by its egress releases, never by a badge.",
    [DOOR_OPERATIONS, NFPA101_SPECIAL_LOCKING]
);
rule!(
    MUSTER_INSIDE,
    "MUSTER-INSIDE",
    Warning,
    "People: exit readers, interlocks, two-person doors, muster and shelter",
    "A `[[muster_station]]` stands in an area that is not exterior: people would muster inside the building they are leaving.",
    [PRACTICE]
);
rule!(
    SHELTER_TRAPPED,
    "SHELTER-TRAPPED",
    Error,
    "People: exit readers, interlocks, two-person doors, muster and shelter",
    "An area marked `shelter` cannot reach the exterior in the `shelter` scenario.",
    [DOOR_OPERATIONS, NFPA101_SPECIAL_LOCKING]
);

/// Every rule, in the order of the rule reference.
pub const RULES: &[&Rule] = &[
    &EGRESS_NO_ARRANGEMENT,
    &EGRESS_FAIL_SECURE,
    &EGRESS_FIRE_ALARM,
    &EGRESS_BATTERY_HOLD,
    &EGRESS_KEY,
    &SR_SENSOR,
    &SR_PUSH_TO_EXIT,
    &SR_PANIC,
    &DHR_HARDWARE,
    &ELOCK_GROUP_H,
    &ELOCK_LISTING,
    &DE_PROTECTION,
    &DE_DELAY,
    &DE_RELEASES,
    &DE_SIGN,
    &DE_ONE_PER_PATH,
    &CE_OCCUPANCY,
    &CE_RELEASES,
    &CE_ONE_BEFORE_EXIT,
    &ELEV_LOBBY,
    &STAIR_DISCHARGE,
    &STAIR_REENTRY,
    &FIRE_DOOR_FAILSAFE_STRIKE,
    &FIRE_DOOR_UNLATCH,
    &PANIC_REQUIRED,
    &OVERRIDE_MISSING,
    &OUTAGE_PERIMETER_OPEN,
    &FD_KEY_BOX,
    &EGRESS_TRAPPED,
    &OUTAGE_EXPOSED,
    &SITE_LOCKOUT,
    &SEC_DPS,
    &SEC_RELEASE_TIME,
    &EGRESS_CARD_OUT,
    &INTERLOCK_EGRESS,
    &TWO_PERSON_EGRESS,
    &MUSTER_INSIDE,
    &SHELTER_TRAPPED,
];

pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|rule| rule.id == id)
}

/// The rule reference, `docs/rules.md`, generated from the table above.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "<!-- Generated from crates/keyway-core/src/rules.rs by `keyway rules > docs/rules.md`; a test keeps it equal. -->\n\
         # Rule reference\n\n\
         `keyway check` reports each finding with one of these rule ids. The ids are stable: filter on them.\n\n\
         Severity: **error** is a code violation or a way people can be trapped (`keyway check` exits 1); \
         **warning** is a risk the owner should decide on; **info** is for the record.\n\n\
         The citation printed with a finding names only the code editions the site selects in `site.codes` \
         (IBC-2021, IBC-2024, NFPA101-2021); other standards are always cited. IBC 2024 sections are cited \
         by their title. Terms such as *egress-locked* and *fire alarm release* are defined in \
         [how the checker decides](checker.md).\n",
    );
    let mut group = "";
    for rule in RULES {
        if rule.group != group {
            group = rule.group;
            out.push_str(&format!(
                "\n## {group}\n\n| id | severity | fires when | citation |\n|---|---|---|---|\n"
            ));
        }
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            rule.id,
            rule.severity,
            rule.fires_when.replace('|', "\\|"),
            rule.full_citation()
        ));
    }
    out
}
