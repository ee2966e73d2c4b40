//! The checker: every rule of the rule table applied to a site, and the scenario findings.
//!
//! Terms (rules reference, "Terms"): an *egress-locked* door has `egress = true`, an electric
//! lock, and the lock locks egress. The *occupancy of a door* is that of its inside area.

use crate::physics::{Millis, power_cut_unlocks};
use crate::rules::{self, Rule};
use crate::scenario::{self, Scenario, ScenarioRun};
use crate::site::*;

/// One finding of the checker or the simulator.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub rule: &'static Rule,
    pub door: Option<DoorIdx>,
    pub area: Option<AreaIdx>,
    /// For a scenario finding: the scenario and the first moment at which it holds.
    pub scenario: Option<Scenario>,
    pub at: Option<Millis>,
    pub message: String,
}

/// Reviews a site: every rule, with every scenario played. Findings come sorted by severity,
/// then rule, then door and area in file order.
pub fn check(site: &Site) -> Vec<Finding> {
    let runs: Vec<ScenarioRun> = Scenario::CHECK_ORDER
        .iter()
        .map(|s| scenario::run(site, *s))
        .collect();
    let mut findings = Vec::new();
    for door in site.door_indices() {
        door_rules(site, door, &mut findings);
    }
    site_rules(site, &mut findings);
    people_rules(site, &runs, &mut findings);
    path_rules(site, &mut findings);
    scenario_door_rules(site, &runs, &mut findings);
    findings.extend(scenario_findings(site, &runs));
    sort_findings(&mut findings);
    findings
}

pub fn sort_findings(findings: &mut [Finding]) {
    let rule_position = |rule: &Rule| {
        rules::RULES
            .iter()
            .position(|r| r.id == rule.id)
            .unwrap_or(usize::MAX)
    };
    findings.sort_by_key(|f| (f.rule.severity, rule_position(f.rule), f.door, f.area));
}

/// How a door is named in messages: its name, and its id when that differs.
pub fn door_label(door: &Door) -> String {
    if door.name == door.id {
        format!("Door \"{}\"", door.id)
    } else {
        format!("Door \"{}\" ({})", door.name, door.id)
    }
}

pub fn area_label(area: &Area) -> String {
    if area.name == area.id {
        format!("Area \"{}\"", area.id)
    } else {
        format!("Area \"{}\" ({})", area.name, area.id)
    }
}

/// "at once", "after 1 h 30 min", "after 45 s".
pub fn describe_moment(at: Millis) -> String {
    if at == 0 {
        return "from the start".to_string();
    }
    let total_seconds = at / 1000;
    let (hours, minutes, seconds) = (
        total_seconds / 3600,
        total_seconds % 3600 / 60,
        total_seconds % 60,
    );
    let mut parts = Vec::new();
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes} min"));
    }
    if seconds > 0 || parts.is_empty() {
        parts.push(format!("{seconds} s"));
    }
    format!("after {}", parts.join(" "))
}

fn egress_locked(door: &Door) -> Option<&Lock> {
    door.lock
        .as_ref()
        .filter(|lock| door.egress && lock.locks_egress)
}

/// The door has a fire alarm release: `release.fire_alarm`, or a fail-safe lock with a
/// `fire_alarm_cutoff` circuit in its chain and no battery between that circuit and the lock
/// (rules reference, "Terms": a battery in between would keep the lock powered).
pub fn fire_alarm_release(site: &Site, door: &Door) -> bool {
    if door.release.fire_alarm {
        return true;
    }
    let Some(lock) = &door.lock else { return false };
    if !power_cut_unlocks(lock.fail) {
        return false;
    }
    for circuit in site.circuit_chain(lock.power).map(|c| site.circuit(c)) {
        if circuit.fire_alarm_cutoff {
            return true;
        }
        if circuit.battery_minutes > 0.0 {
            return false;
        }
    }
    false
}

/// Panic hardware is required: group A or E with 50 occupants or more (100 with NFPA 101
/// alone), or group H.
fn panic_required(site: &Site, door: &Door) -> bool {
    let inside = site.area(door.inside);
    let threshold = if site.info.ibc() { 50 } else { 100 };
    match inside.occupancy {
        Occupancy::A | Occupancy::E => inside.occupants >= threshold,
        Occupancy::H => true,
        _ => false,
    }
}

fn push(
    findings: &mut Vec<Finding>,
    rule: &'static Rule,
    door: Option<DoorIdx>,
    area: Option<AreaIdx>,
    message: String,
) {
    findings.push(Finding {
        rule,
        door,
        area,
        scenario: None,
        at: None,
        message,
    });
}

fn door_rules(site: &Site, idx: DoorIdx, findings: &mut Vec<Finding>) {
    let door = site.door(idx);
    let label = door_label(door);
    let inside = site.area(door.inside);
    let outside = site.area(door.outside);
    let release = &door.release;
    let has_fire_release = fire_alarm_release(site, door);
    let mut fire =
        |rule: &'static Rule, message: String| push(findings, rule, Some(idx), None, message);

    if let Some(lock) = egress_locked(door) {
        let lock_name = lock.kind.describe();
        if release.arrangement == Arrangement::None {
            fire(
                &rules::EGRESS_NO_ARRANGEMENT,
                format!(
                    "{label}: the {lock_name} stops people getting out, and the door has no code-permitted release arrangement (sensor, door hardware, delayed, controlled or elevator lobby)."
                ),
            );
        }
        if lock.fail == FailMode::Secure {
            fire(
                &rules::EGRESS_FAIL_SECURE,
                format!(
                    "{label}: the fail-secure {lock_name} stops people getting out and stays locked when its power fails: a power cut locks people in. Use a fail-safe lock."
                ),
            );
        }
        if (site.info.fire_alarm || site.info.sprinklered) && !has_fire_release {
            fire(
                &rules::EGRESS_FIRE_ALARM,
                format!(
                    "{label}: the {lock_name} stops people getting out and the fire alarm does not release it."
                ),
            );
        }
        let chain_battery: f64 = site
            .circuit_chain(lock.power)
            .map(|c| site.circuit(c).battery_minutes)
            .sum();
        if lock.fail == FailMode::Safe && chain_battery > 10.0 && !has_fire_release {
            fire(
                &rules::EGRESS_BATTERY_HOLD,
                format!(
                    "{label}: batteries keep the fail-safe {lock_name} locked for up to {chain_battery} minutes after a power cut, and the fire alarm does not release it."
                ),
            );
        }
    }

    if door.exit_hardware == ExitHardware::Key {
        let group_allows = match inside.occupancy {
            Occupancy::A => inside.occupants <= 300,
            Occupancy::B | Occupancy::F | Occupancy::M | Occupancy::S => true,
            _ => false,
        };
        if !(door.main_entrance && group_allows && release.sign) {
            let why = if !door.main_entrance {
                "it is not the main entrance".to_string()
            } else if !group_allows {
                format!(
                    "{} is group {} with {} occupants",
                    inside.id,
                    inside.occupancy.name(),
                    inside.occupants
                )
            } else {
                "the required sign is not posted".to_string()
            };
            fire(
                &rules::EGRESS_KEY,
                format!(
                    "{label}: a key is needed to get out, which is only allowed on a signed main entrance of a group A (300 occupants or fewer), B, F, M or S area; here {why}."
                ),
            );
        }
    }

    match release.arrangement {
        Arrangement::Sensor => {
            if !release.rex_sensor {
                fire(
                    &rules::SR_SENSOR,
                    format!(
                        "{label}: sensor release without a request-to-exit sensor on the inside."
                    ),
                );
            }
            let problems = push_to_exit_problems(release.push_to_exit.as_ref());
            if !problems.is_empty() {
                fire(
                    &rules::SR_PUSH_TO_EXIT,
                    format!(
                        "{label}: sensor release needs a compliant push-to-exit button: {}.",
                        problems.join("; ")
                    ),
                );
            }
            if site.info.cites(CodeEdition::Ibc2024) && panic_required(site, door) {
                fire(
                    &rules::SR_PANIC,
                    format!(
                        "{label}: this door needs panic hardware ({} is group {} with {} occupants), and IBC 2024 does not allow a sensor-release lock on it.",
                        inside.id,
                        inside.occupancy.name(),
                        inside.occupants
                    ),
                );
            }
        }
        Arrangement::DoorHardware
            if !matches!(
                door.exit_hardware,
                ExitHardware::Lever | ExitHardware::Panic | ExitHardware::Knob
            ) =>
        {
            fire(
                &rules::DHR_HARDWARE,
                format!(
                    "{label}: door-hardware release needs a lever, panic bar or knob on the door to release it; the door has \"{}\".",
                    door.exit_hardware.name()
                ),
            );
        }
        _ => {}
    }
    if matches!(
        release.arrangement,
        Arrangement::Sensor | Arrangement::DoorHardware
    ) && inside.occupancy == Occupancy::H
    {
        fire(
            &rules::ELOCK_GROUP_H,
            format!(
                "{label}: sensor and door-hardware releases are not allowed from a group H area ({}).",
                inside.id
            ),
        );
    }
    if release.arrangement != Arrangement::None
        && let Some(lock) = &door.lock
    {
        let ibc_2024 = site.info.cites(CodeEdition::Ibc2024);
        let listed = lock.listed.contains(&Listing::Ul294)
            || (ibc_2024 && lock.listed.contains(&Listing::Ul1034));
        if !listed {
            let wanted = if ibc_2024 {
                "UL 294 or UL 1034"
            } else {
                "UL 294"
            };
            fire(
                &rules::ELOCK_LISTING,
                format!(
                    "{label}: the {} of this special locking arrangement is not listed {wanted}.",
                    lock.kind.describe()
                ),
            );
        }
    }

    if release.arrangement == Arrangement::Delayed {
        let protected = site.info.sprinklered || site.info.fire_alarm;
        let group_allows = match inside.occupancy {
            Occupancy::B
            | Occupancy::F
            | Occupancy::I1
            | Occupancy::I2
            | Occupancy::I3
            | Occupancy::M
            | Occupancy::R
            | Occupancy::S
            | Occupancy::U => true,
            Occupancy::E => inside.occupants < 50,
            _ => false,
        };
        if !protected {
            fire(
                &rules::DE_PROTECTION,
                format!(
                    "{label}: delayed egress needs a building with sprinklers or a fire alarm system; this site has neither."
                ),
            );
        } else if !group_allows {
            fire(
                &rules::DE_PROTECTION,
                format!(
                    "{label}: delayed egress is not allowed from {} (group {}, {} occupants).",
                    inside.id,
                    inside.occupancy.name(),
                    inside.occupants
                ),
            );
        }
        let delay_problem = match release.delay_seconds {
            None => Some("no `delay_seconds` is given".to_string()),
            Some(delay) if delay > 30.0 => {
                Some(format!("its delay of {delay} s is over the 30 s limit"))
            }
            Some(delay) if delay > 15.0 && !release.ahj_approved_delay => Some(format!(
                "its delay of {delay} s is over 15 s without the approval of the authority having jurisdiction"
            )),
            _ => None,
        };
        if let Some(problem) = delay_problem {
            fire(
                &rules::DE_DELAY,
                format!("{label}: delayed egress: {problem}."),
            );
        }
        let mut missing = Vec::new();
        if !has_fire_release {
            missing.push("the fire alarm does not release it");
        }
        if site.info.ibc() && !release.remote {
            missing.push("it has no remote release");
        }
        if !missing.is_empty() {
            fire(
                &rules::DE_RELEASES,
                format!("{label}: delayed egress: {}.", missing.join(" and ")),
            );
        }
        if !release.sign {
            fire(
                &rules::DE_SIGN,
                format!(
                    "{label}: delayed egress without the required sign telling people how to open the door."
                ),
            );
        }
    }

    if release.arrangement == Arrangement::Controlled {
        if !matches!(inside.occupancy, Occupancy::I1 | Occupancy::I2) {
            fire(
                &rules::CE_OCCUPANCY,
                format!(
                    "{label}: controlled egress is only allowed from group I-1 and I-2 areas; {} is group {}.",
                    inside.id,
                    inside.occupancy.name()
                ),
            );
        }
        let mut missing = Vec::new();
        if !has_fire_release {
            missing.push("the fire alarm does not release it");
        }
        if !release.remote {
            missing.push("it has no remote release");
        }
        if !missing.is_empty() {
            fire(
                &rules::CE_RELEASES,
                format!("{label}: controlled egress: {}.", missing.join(" and ")),
            );
        }
    }

    if release.arrangement == Arrangement::ElevatorLobby {
        let mut missing = Vec::new();
        if !site.info.sprinklered {
            missing.push("the building is not sprinklered");
        }
        if !site.info.fire_alarm {
            missing.push("it has no fire alarm");
        }
        if !has_fire_release {
            missing.push("the fire alarm does not release the door");
        }
        if !missing.is_empty() {
            fire(
                &rules::ELEV_LOBBY,
                format!("{label}: elevator lobby locking: {}.", missing.join(", ")),
            );
        }
    }

    if let Some(lock) = &door.lock {
        if inside.kind == AreaKind::Stair && outside.is_exterior() && lock.locks_egress {
            fire(
                &rules::STAIR_DISCHARGE,
                format!(
                    "{label}: the {} on this stair discharge stops people leaving the stair to the outside.",
                    lock.kind.describe()
                ),
            );
        }
        if outside.kind == AreaKind::Stair
            && inside.kind == AreaKind::Interior
            && !release.remote
            && !has_fire_release
        {
            fire(
                &rules::STAIR_REENTRY,
                format!(
                    "{label}: people in the stair cannot get back into the building: the {} has neither a remote nor a fire alarm release.",
                    lock.kind.describe()
                ),
            );
        }
        if door.fire_rated && lock.kind == LockType::ElectricStrike && lock.fail == FailMode::Safe {
            fire(
                &rules::FIRE_DOOR_FAILSAFE_STRIKE,
                format!(
                    "{label}: a fail-safe electric strike unlatches this fire door whenever power is lost; a fire door must stay latched."
                ),
            );
        }
        if outside.is_exterior() && lock.fail == FailMode::Secure && !door.key_override {
            fire(
                &rules::OVERRIDE_MISSING,
                format!(
                    "{label}: fail-secure lock on a door to the outside with no key override: nobody gets in through it during an outage."
                ),
            );
        }
        if !door.dps {
            fire(
                &rules::SEC_DPS,
                format!(
                    "{label}: no door position switch, so a forced or propped-open door goes unnoticed."
                ),
            );
        }
        if door.unlock_seconds < 3.0 {
            fire(
                &rules::SEC_RELEASE_TIME,
                format!(
                    "{label}: unlocks for only {} s after a granted access; people need at least 3 s.",
                    door.unlock_seconds
                ),
            );
        }
    }

    if door.egress && panic_required(site, door) && door.exit_hardware != ExitHardware::Panic {
        fire(
            &rules::PANIC_REQUIRED,
            format!(
                "{label}: {} (group {}, {} occupants) needs panic hardware on this door; it has \"{}\".",
                inside.id,
                inside.occupancy.name(),
                inside.occupants,
                door.exit_hardware.name()
            ),
        );
    }
}

fn push_to_exit_problems(device: Option<&PushToExit>) -> Vec<String> {
    let Some(device) = device else {
        return vec!["there is no push-to-exit button".to_string()];
    };
    let mut problems = Vec::new();
    match device.height_in {
        None => problems.push("its mounting height (`height_in`) is not given".to_string()),
        Some(h) if !(40.0..=48.0).contains(&h) => {
            problems.push(format!("it is mounted {h} in high, outside 40–48 in"))
        }
        _ => {}
    }
    match device.distance_in {
        None => {
            problems.push("its distance from the door (`distance_in`) is not given".to_string())
        }
        Some(d) if d > 60.0 => {
            problems.push(format!("it is {d} in from the door, more than 60 in"))
        }
        _ => {}
    }
    if !device.direct_power_cut {
        problems.push("it does not cut the lock's power directly".to_string());
    }
    match device.hold_seconds {
        None => problems
            .push("how long it keeps the door unlocked (`hold_seconds`) is not given".to_string()),
        Some(s) if s < 30.0 => problems.push(format!(
            "it keeps the door unlocked for {s} s, less than 30 s"
        )),
        _ => {}
    }
    problems
}

fn site_rules(site: &Site, findings: &mut Vec<Finding>) {
    if site.info.key_box {
        return;
    }
    let locked_perimeter = site
        .doors
        .iter()
        .filter(|d| d.lock.is_some() && site.area(d.outside).is_exterior())
        .count();
    if locked_perimeter > 0 {
        push(
            findings,
            &rules::FD_KEY_BOX,
            None,
            None,
            format!(
                "The site has {locked_perimeter} electrically locked door(s) to the outside and no key box: the fire department has no approved way to get keys."
            ),
        );
    }
}

/// Findings from the lock positions in the scenarios: FIRE-DOOR-UNLATCH from `fire`,
/// OUTAGE-PERIMETER-OPEN from `outage`.
fn scenario_door_rules(site: &Site, runs: &[ScenarioRun], findings: &mut Vec<Finding>) {
    let first_unlocked = |scenario: Scenario, door: DoorIdx| {
        runs.iter()
            .filter(|run| run.scenario == scenario)
            .flat_map(|run| &run.moments)
            .find(|moment| {
                moment.doors[door.index()].lock == crate::physics::LockPosition::Unlocked
            })
            .map(|moment| moment.at)
    };
    for idx in site.door_indices() {
        let door = site.door(idx);
        let Some(lock) = &door.lock else { continue };
        let label = door_label(door);
        if door.fire_rated
            && matches!(
                lock.kind,
                LockType::ElectricStrike | LockType::ElectrifiedPanic
            )
            && let Some(at) = first_unlocked(Scenario::Fire, idx)
        {
            findings.push(Finding {
                rule: &rules::FIRE_DOOR_UNLATCH,
                door: Some(idx),
                area: None,
                scenario: Some(Scenario::Fire),
                at: Some(at),
                message: format!("{label}: in a fire the {} unlatches this fire door ({}); a fire door must stay latched.", lock.kind.describe(), describe_moment(at)),
            });
        }
        if site.area(door.outside).is_exterior()
            && let Some(at) = first_unlocked(Scenario::Outage, idx)
        {
            findings.push(Finding {
                rule: &rules::OUTAGE_PERIMETER_OPEN,
                door: Some(idx),
                area: None,
                scenario: Some(Scenario::Outage),
                at: Some(at),
                message: format!(
                    "{label}: in a power outage this door to the outside is unlocked {}.",
                    describe_moment(at)
                ),
            });
        }
    }
}

/// EGRESS-TRAPPED, OUTAGE-EXPOSED and SITE-LOCKOUT from the runs given, each at the first
/// scenario and moment at which it holds (runs in the order given, moments in time order).
pub fn scenario_findings(site: &Site, runs: &[ScenarioRun]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for area_idx in site.area_indices() {
        let area = site.area(area_idx);
        if area.is_exterior() {
            continue;
        }
        if area.occupants > 0
            && let Some((run, moment)) =
                first_moment(runs, None, |m| !m.areas[area_idx.index()].can_exit)
        {
            let blocked: Vec<&str> = site
                .doors_with_inside(area_idx)
                .iter()
                .filter(|d| !moment.doors[d.index()].egress.lets_out())
                .map(|d| site.door(*d).id.as_str())
                .collect();
            let doors = if blocked.is_empty() {
                String::new()
            } else {
                format!(" (blocked: {})", blocked.join(", "))
            };
            findings.push(Finding {
                rule: &rules::EGRESS_TRAPPED,
                door: None,
                area: Some(area_idx),
                scenario: Some(run.scenario),
                at: Some(moment.at),
                message: format!(
                    "{}: its {} occupants cannot get out in the {} scenario, {}{doors}.",
                    area_label(area),
                    area.occupants,
                    run.scenario,
                    describe_moment(moment.at)
                ),
            });
        }
        if area.assets == Assets::High
            && let Some((run, moment)) = first_moment(runs, Some(Scenario::Outage), |m| {
                m.areas[area_idx.index()].open_to_exterior
            })
        {
            findings.push(Finding {
                rule: &rules::OUTAGE_EXPOSED,
                door: None,
                area: Some(area_idx),
                scenario: Some(run.scenario),
                at: Some(moment.at),
                message: format!(
                    "{}: high-value assets are open to anyone from outside during a power outage, {}.",
                    area_label(area), describe_moment(moment.at)
                ),
            });
        }
    }
    if !site.info.key_box {
        let entrances: Vec<DoorIdx> = site
            .door_indices()
            .filter(|d| site.area(site.door(*d).outside).is_exterior())
            .collect();
        let locked_out = first_moment(runs, Some(Scenario::Outage), |m| {
            entrances
                .iter()
                .all(|d| m.doors[d.index()].entry == crate::analysis::Entry::Blocked)
        });
        if let Some((run, moment)) = locked_out {
            findings.push(Finding {
                rule: &rules::SITE_LOCKOUT,
                door: None,
                area: None,
                scenario: Some(run.scenario),
                at: Some(moment.at),
                message: format!(
                    "In a power outage, {}, no door to the outside lets anyone in, not even with a key, and there is no key box: emergency services cannot get in.",
                    describe_moment(moment.at)
                ),
            });
        }
    }
    sort_findings(&mut findings);
    findings
}

/// The door has an egress release that the controller or the lock itself honours: a REX, a
/// push-to-exit, or a door-hardware, delayed, controlled or elevator-lobby arrangement.
fn egress_release(door: &Door) -> bool {
    door.release.rex_sensor
        || door.release.push_to_exit.is_some()
        || matches!(
            door.release.arrangement,
            Arrangement::DoorHardware
                | Arrangement::Delayed
                | Arrangement::Controlled
                | Arrangement::ElevatorLobby
        )
}

/// The rules about people: exit readers, interlocks, two-person doors, muster stations and
/// shelter areas.
fn people_rules(site: &Site, runs: &[ScenarioRun], findings: &mut Vec<Finding>) {
    for idx in site.door_indices() {
        let door = site.door(idx);
        let label = door_label(door);
        let Some(lock) = egress_locked(door) else {
            continue;
        };
        if door.exit_reader.is_some() && !egress_release(door) {
            push(
                findings,
                &rules::EGRESS_CARD_OUT,
                Some(idx),
                None,
                format!(
                    "{label}: the {} locks egress and only its exit reader opens it from the inside: nobody without a valid card gets out.",
                    lock.kind.describe()
                ),
            );
        }
        if !site.interlocks_of(idx).is_empty() {
            let missing: Vec<&str> = [
                (!fire_alarm_release(site, door)).then_some("a fire alarm release"),
                (!egress_release(door)).then_some("an egress release"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !missing.is_empty() {
                let groups: Vec<&str> = site
                    .interlocks_of(idx)
                    .iter()
                    .map(|i| site.interlock(*i).id.as_str())
                    .collect();
                push(
                    findings,
                    &rules::INTERLOCK_EGRESS,
                    Some(idx),
                    None,
                    format!(
                        "{label}: in interlock {} its {} locks egress and it has no {}.",
                        groups.join(", "),
                        lock.kind.describe(),
                        missing.join(" and no ")
                    ),
                );
            }
        }
        if door.access.two_person {
            push(
                findings,
                &rules::TWO_PERSON_EGRESS,
                Some(idx),
                None,
                format!(
                    "{label}: a two-person door whose {} locks egress: one person alone gets out only by its egress releases.",
                    lock.kind.describe()
                ),
            );
        }
    }
    for station in &site.muster_stations {
        if let Some(area) = station.area
            && !site.area(area).is_exterior()
        {
            push(
                findings,
                &rules::MUSTER_INSIDE,
                None,
                Some(area),
                format!(
                    "Muster station \"{}\" stands in {}, which is not exterior: people would muster inside.",
                    station.id,
                    area_label(site.area(area))
                ),
            );
        }
    }
    for area_idx in site.area_indices() {
        let area = site.area(area_idx);
        if !area.shelter || area.is_exterior() {
            continue;
        }
        if let Some((_, moment)) = first_moment(runs, Some(Scenario::Shelter), |m| {
            !m.areas[area_idx.index()].can_exit
        }) {
            findings.push(Finding {
                rule: &rules::SHELTER_TRAPPED,
                door: None,
                area: Some(area_idx),
                scenario: Some(Scenario::Shelter),
                at: Some(moment.at),
                message: format!(
                    "{}: a shelter room that people cannot leave in shelter mode.",
                    area_label(area)
                ),
            });
        }
    }
}

fn first_moment(
    runs: &[ScenarioRun],
    only: Option<Scenario>,
    holds: impl Fn(&scenario::Moment) -> bool,
) -> Option<(&ScenarioRun, &scenario::Moment)> {
    runs.iter()
        .filter(|run| only.is_none_or(|s| run.scenario == s))
        .find_map(|run| run.moments.iter().find(|m| holds(m)).map(|m| (run, m)))
}

/// What the path rules count along a way out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PathLoad {
    delayed_doors: u32,
    delay_millis: i64,
    controlled_doors: u32,
}

impl PathLoad {
    fn of(door: &Door) -> PathLoad {
        match door.release.arrangement {
            // A delayed-egress lock with no delay given counts as 15 s, the delay the codes
            // allow without approval and the usual factory setting; DE-DELAY reports it anyway.
            Arrangement::Delayed => PathLoad {
                delayed_doors: 1,
                delay_millis: (door.release.delay_seconds.unwrap_or(15.0) * 1000.0).round() as i64,
                controlled_doors: 0,
            },
            Arrangement::Controlled => PathLoad {
                controlled_doors: 1,
                ..PathLoad::default()
            },
            _ => PathLoad::default(),
        }
    }

    fn add(self, other: PathLoad) -> PathLoad {
        PathLoad {
            delayed_doors: self.delayed_doors + other.delayed_doors,
            delay_millis: self.delay_millis + other.delay_millis,
            controlled_doors: self.controlled_doors + other.controlled_doors,
        }
    }

    /// Each count at its own maximum: the rules ask whether any path breaks any one limit.
    fn max(self, other: PathLoad) -> PathLoad {
        PathLoad {
            delayed_doors: self.delayed_doors.max(other.delayed_doors),
            delay_millis: self.delay_millis.max(other.delay_millis),
            controlled_doors: self.controlled_doors.max(other.controlled_doors),
        }
    }
}

/// DE-ONE-PER-PATH and CE-ONE-BEFORE-EXIT without enumerating paths.
///
/// Egress paths run along `egress = true` doors from inside to outside and end at the first
/// exterior area. The areas are condensed into strongly connected components, and the most of
/// each count any path can collect is computed once per component, sinks first: linear in the
/// size of the site. On an acyclic egress graph (the usual building) this is exact. Inside a
/// cycle of egress doors (a horizontal exit used both ways) a path is assumed able to pass every
/// counted door of the cycle: that can over-report, never miss, a violation.
fn path_rules(site: &Site, findings: &mut Vec<Finding>) {
    let n_areas = site.areas.len();
    let mut edges: Vec<Vec<(usize, DoorIdx)>> = vec![Vec::new(); n_areas];
    for idx in site.door_indices() {
        let door = site.door(idx);
        if door.egress && !site.area(door.inside).is_exterior() {
            edges[door.inside.index()].push((door.outside.index(), idx));
        }
    }
    let (component_of, n_components) = strongly_connected_components(&edges);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_components];
    for (area, component) in component_of.iter().enumerate() {
        members[*component].push(area);
    }

    // Components come sinks first, so every successor is done before its predecessors.
    let mut best: Vec<Option<PathLoad>> = vec![None; n_components];
    for component in 0..n_components {
        if members[component]
            .iter()
            .any(|a| site.areas[*a].is_exterior())
        {
            best[component] = Some(PathLoad::default());
            continue;
        }
        let mut internal = PathLoad::default();
        let mut onward: Option<PathLoad> = None;
        for &area in &members[component] {
            for &(target, door) in &edges[area] {
                let load = PathLoad::of(site.door(door));
                if component_of[target] == component {
                    internal = internal.add(load);
                } else if let Some(after) = best[component_of[target]] {
                    let through = load.add(after);
                    onward = Some(onward.map_or(through, |o| o.max(through)));
                }
            }
        }
        best[component] = onward.map(|o| o.add(internal));
    }

    for area_idx in site.area_indices() {
        let area = site.area(area_idx);
        if area.is_exterior() || area.occupants == 0 {
            continue;
        }
        let Some(load) = best[component_of[area_idx.index()]] else {
            continue;
        };
        let label = area_label(area);
        let institutional = matches!(area.occupancy, Occupancy::I2 | Occupancy::I3);
        let delayed_too_many = if institutional {
            load.delayed_doors > 2 || load.delay_millis > 30_000
        } else {
            load.delayed_doors > 1
        };
        if delayed_too_many {
            let limit = if institutional {
                "at most two, and 30 s of delay in all, from a group I-2 or I-3 area"
            } else {
                "at most one"
            };
            push(
                findings,
                &rules::DE_ONE_PER_PATH,
                None,
                Some(area_idx),
                format!(
                    "{label}: a way out passes up to {} delayed-egress doors, up to {} s of delay in all; {limit} is allowed.",
                    load.delayed_doors,
                    load.delay_millis as f64 / 1000.0
                ),
            );
        }
        if load.controlled_doors > 1 {
            push(
                findings,
                &rules::CE_ONE_BEFORE_EXIT,
                None,
                Some(area_idx),
                format!(
                    "{label}: a way out passes {} controlled-egress doors; at most one is allowed before the exit.",
                    load.controlled_doors
                ),
            );
        }
    }
}

/// Tarjan's algorithm without recursion (sites can be deep). Returns each node's component and
/// the number of components; components are numbered sinks first (reverse topological order).
fn strongly_connected_components(edges: &[Vec<(usize, DoorIdx)>]) -> (Vec<usize>, usize) {
    const UNVISITED: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut component = vec![UNVISITED; n];
    let mut next_index = 0;
    let mut n_components = 0;
    for start in 0..n {
        if index[start] != UNVISITED {
            continue;
        }
        let mut calls: Vec<(usize, usize)> = vec![(start, 0)];
        index[start] = next_index;
        low[start] = next_index;
        next_index += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (node, ref mut next_edge)) = calls.last_mut() {
            if let Some(&(target, _)) = edges[node].get(*next_edge) {
                *next_edge += 1;
                if index[target] == UNVISITED {
                    index[target] = next_index;
                    low[target] = next_index;
                    next_index += 1;
                    stack.push(target);
                    on_stack[target] = true;
                    calls.push((target, 0));
                } else if on_stack[target] {
                    low[node] = low[node].min(index[target]);
                }
            } else {
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == index[node] {
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component[member] = n_components;
                        if member == node {
                            break;
                        }
                    }
                    n_components += 1;
                }
            }
        }
    }
    (component, n_components)
}
