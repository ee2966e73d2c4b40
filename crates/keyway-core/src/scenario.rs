//! The five scenarios of the simulation spec and their moments, and one for each emergency
//! mode besides lockdown (`hold`, `secure`, `evacuate`, `shelter`), power on, whole site.

use std::fmt;

use crate::analysis::{AreaView, DoorConditions, DoorView, area_views, door_view};
use crate::emergency::{self, Admits, Mode};
use crate::physics::{CommandInputs, Millis, PowerInputs, PowerTimeline, commanded};
use crate::site::Site;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// All power on, no alarm, every door at rest.
    Normal,
    /// Mains lost at t = 0.
    Outage,
    /// Fire alarm active from t = 0, mains on.
    Fire,
    /// Mains lost and fire alarm, from t = 0.
    OutageFire,
    /// Lockdown active, power on.
    Lockdown,
    /// Each other emergency mode in force for the whole site, power on.
    Hold,
    Secure,
    Evacuate,
    Shelter,
}

impl Scenario {
    /// The order in which the checker looks for the first moment a finding holds.
    /// The spec's five first, in its order; then the other emergency modes.
    pub const CHECK_ORDER: [Scenario; 9] = [
        Scenario::Normal,
        Scenario::Fire,
        Scenario::Lockdown,
        Scenario::Outage,
        Scenario::OutageFire,
        Scenario::Hold,
        Scenario::Secure,
        Scenario::Evacuate,
        Scenario::Shelter,
    ];

    pub const ALL: [(&'static str, Scenario); 9] = [
        ("normal", Scenario::Normal),
        ("outage", Scenario::Outage),
        ("fire", Scenario::Fire),
        ("outage-fire", Scenario::OutageFire),
        ("lockdown", Scenario::Lockdown),
        ("hold", Scenario::Hold),
        ("secure", Scenario::Secure),
        ("evacuate", Scenario::Evacuate),
        ("shelter", Scenario::Shelter),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    pub fn from_name(name: &str) -> Option<Scenario> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// What happens to the power in this scenario, from t = 0.
    pub fn power_inputs(self, site: &Site) -> PowerInputs {
        let mut inputs = if self.mains_lost() {
            PowerInputs::mains_lost(site, 0)
        } else {
            PowerInputs::normal(site)
        };
        if self.fire_alarm() {
            inputs.fire_alarm_since = Some(0);
        }
        inputs
    }

    fn mains_lost(self) -> bool {
        matches!(self, Scenario::Outage | Scenario::OutageFire)
    }

    fn fire_alarm(self) -> bool {
        matches!(self, Scenario::Fire | Scenario::OutageFire)
    }

    /// The emergency mode in force.
    pub fn mode(self) -> Mode {
        match self {
            Scenario::Lockdown => Mode::Lockdown,
            Scenario::Hold => Mode::Hold,
            Scenario::Secure => Mode::Secure,
            Scenario::Evacuate => Mode::Evacuate,
            Scenario::Shelter => Mode::Shelter,
            _ => Mode::None,
        }
    }

    fn first_cause(self) -> &'static str {
        match self {
            Scenario::Normal => "normal operation",
            Scenario::Outage => "mains lost",
            Scenario::Fire => "fire alarm",
            Scenario::OutageFire => "mains lost and fire alarm",
            Scenario::Lockdown => "lockdown",
            Scenario::Hold => "hold",
            Scenario::Secure => "secure",
            Scenario::Evacuate => "evacuate",
            Scenario::Shelter => "shelter",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The state of the site at one moment of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Moment {
    pub at: Millis,
    pub cause: String,
    /// By door index.
    pub doors: Vec<DoorView>,
    /// By area index.
    pub areas: Vec<AreaView>,
}

/// Every moment of one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioRun {
    pub scenario: Scenario,
    pub moments: Vec<Moment>,
}

/// Plays a scenario: t = 0 and each later instant at which some circuit goes down.
///
/// The spec says `fire` has the single moment t = 0; that holds unless a circuit cut by the fire
/// alarm feeds another circuit that has a battery. That battery then runs out later, and
/// Keyway reports that moment too, because the locks on it change.
pub fn run(site: &Site, scenario: Scenario) -> ScenarioRun {
    let timeline = PowerTimeline::new(site, &scenario.power_inputs(site));
    let mut instants = vec![0];
    instants.extend(timeline.down_instants().into_iter().filter(|t| *t > 0));

    let moments = instants
        .into_iter()
        .map(|at| {
            let cause = if at == 0 {
                scenario.first_cause().to_string()
            } else {
                later_cause(site, &timeline, at)
            };
            moment(site, scenario, &timeline, at, cause)
        })
        .collect();
    ScenarioRun { scenario, moments }
}

fn moment(
    site: &Site,
    scenario: Scenario,
    timeline: &PowerTimeline,
    at: Millis,
    cause: String,
) -> Moment {
    let live = timeline.live_at(at);
    let controller_alive = live[site.controller_power.index()];
    let doors: Vec<DoorView> = site
        .doors
        .iter()
        .map(|door| {
            // In a scenario every door is at rest: only the fire alarm and the emergency mode
            // command it.
            let effect = emergency::effect(site, scenario.mode(), door, true);
            let command = commanded(&CommandInputs {
                fire_alarm_release: scenario.fire_alarm() && door.release.fire_alarm,
                mode_release: effect.releases,
                lockdown: effect.locks,
                ..CommandInputs::default()
            });
            let circuit_live = door
                .lock
                .as_ref()
                .is_some_and(|lock| live[lock.power.index()]);
            door_view(
                door,
                DoorConditions {
                    circuit_live,
                    controller_alive,
                    command,
                    // A reader that admits only responders (or staff) lets nobody else in.
                    lockdown: effect.admits != Admits::Anyone,
                    power_path_opened: false,
                },
            )
        })
        .collect();
    let areas = area_views(site, &doors);
    Moment {
        at,
        cause,
        doors,
        areas,
    }
}

/// Says which circuits went down at `at`, and why.
fn later_cause(site: &Site, timeline: &PowerTimeline, at: Millis) -> String {
    let parts: Vec<String> = site
        .circuits_feed_first()
        .iter()
        .filter(|c| timeline.down_at(**c) == Some(at))
        .map(|c| {
            let circuit = site.circuit(*c);
            if circuit.battery_minutes > 0.0 {
                format!("battery of {} ran out", circuit.id)
            } else {
                format!("{} lost its feed", circuit.id)
            }
        })
        .collect();
    parts.join(", ")
}
