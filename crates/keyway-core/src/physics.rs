//! The one model of power and locks: which circuits are live, what the controller commands,
//! and what position each lock takes. The simulator, the checker and the controller all ask
//! these functions; none of them branches on the fail mode itself.
//!
//! Time is an argument everywhere: an instant is a count of milliseconds on whatever clock the
//! caller uses (scenario seconds from t = 0 for the simulator, the controller's clock later).

use crate::site::{CircuitIdx, FailMode, Site};

/// Milliseconds on the caller's clock.
pub type Millis = i64;

/// What has happened to the power: which circuits have lost their feed and since when, and
/// since when a fire alarm has been active. This is all the state power needs: a battery is
/// full again whenever its feed returns, so no history is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PowerInputs {
    /// Per circuit: the feed has been cut since this instant (`power_off`; for a mains circuit,
    /// the circuit itself).
    pub feed_cut_since: Vec<Option<Millis>>,
    /// The fire alarm has been active since this instant, until it is reset by hand.
    pub fire_alarm_since: Option<Millis>,
}

impl PowerInputs {
    /// All power on, no alarm.
    pub fn normal(site: &Site) -> Self {
        PowerInputs {
            feed_cut_since: vec![None; site.circuits.len()],
            fire_alarm_since: None,
        }
    }

    /// Every mains circuit cut at `at`: an outage.
    pub fn mains_lost(site: &Site, at: Millis) -> Self {
        let feed_cut_since = site
            .circuits
            .iter()
            .map(|c| c.is_mains().then_some(at))
            .collect();
        PowerInputs {
            feed_cut_since,
            fire_alarm_since: None,
        }
    }
}

/// When each circuit goes down under some [`PowerInputs`], computed in one pass down the
/// `fed_by` tree (simulation spec, "Power"):
///
/// - a circuit's feed is down from the earliest of its own cut and its feed circuit going down;
/// - it stays live for `battery_minutes` after that;
/// - a circuit with `fire_alarm_cutoff` is down while the fire alarm is active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PowerTimeline {
    feed_down_at: Vec<Option<Millis>>,
    down_at: Vec<Option<Millis>>,
}

impl PowerTimeline {
    pub fn new(site: &Site, inputs: &PowerInputs) -> Self {
        let n = site.circuits.len();
        let mut feed_down_at: Vec<Option<Millis>> = vec![None; n];
        let mut down_at: Vec<Option<Millis>> = vec![None; n];
        for &c in site.circuits_feed_first() {
            let circuit = site.circuit(c);
            let own_cut = inputs.feed_cut_since[c.index()];
            let feed_down = match circuit.fed_by {
                None => own_cut,
                Some(feed) => earliest(own_cut, down_at[feed.index()]),
            };
            let battery_out = feed_down.map(|t| t.saturating_add(circuit.battery_millis()));
            let fire_cut = if circuit.fire_alarm_cutoff {
                inputs.fire_alarm_since
            } else {
                None
            };
            feed_down_at[c.index()] = feed_down;
            down_at[c.index()] = earliest(battery_out, fire_cut);
        }
        PowerTimeline {
            feed_down_at,
            down_at,
        }
    }

    /// The instant the circuit goes down, if it does under these inputs.
    pub fn down_at(&self, circuit: CircuitIdx) -> Option<Millis> {
        self.down_at[circuit.index()]
    }

    /// The instant the circuit's feed went down, if it did: from then on it runs on its battery.
    pub fn feed_down_at(&self, circuit: CircuitIdx) -> Option<Millis> {
        self.feed_down_at[circuit.index()]
    }

    pub fn is_live(&self, circuit: CircuitIdx, now: Millis) -> bool {
        self.down_at[circuit.index()].is_none_or(|down| now < down)
    }

    /// Every circuit's liveness at `now`, by circuit index.
    pub fn live_at(&self, now: Millis) -> Vec<bool> {
        self.down_at
            .iter()
            .map(|d| d.is_none_or(|down| now < down))
            .collect()
    }

    /// Every instant at which some circuit goes down, sorted, without repeats.
    pub fn down_instants(&self) -> Vec<Millis> {
        let mut instants: Vec<Millis> = self.down_at.iter().flatten().copied().collect();
        instants.sort_unstable();
        instants.dedup();
        instants
    }
}

fn earliest(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// What the controller asks of a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    Lock,
    Unlock,
}

/// A lock's physical position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockPosition {
    Locked,
    Unlocked,
}

/// A lock's power and position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LockState {
    pub powered: bool,
    pub position: LockPosition,
}

/// Whether the controller's relay for a lock is energized. A dead controller leaves every relay
/// at rest, and a relay at rest is the locked command.
pub fn relay_energized(controller_alive: bool, command: Command) -> bool {
    controller_alive && command == Command::Unlock
}

/// The physics of one lock: this is the only function that maps the fail mode to a position.
///
/// The relay is at rest when the door is locked: a fail-safe lock is fed through its relay's
/// normally-closed contact, a fail-secure lock through the normally-open one. A lock is powered
/// when its circuit is live, its relay contact is closed, and nothing outside the controller
/// (a push-to-exit with `direct_power_cut`, a door-hardware release) has opened its power path.
/// Powered, a lock is in its secondary position; unpowered, in its default one.
pub fn lock_state(
    fail: FailMode,
    circuit_live: bool,
    relay_energized: bool,
    power_path_opened: bool,
) -> LockState {
    let contact_closed = match fail {
        FailMode::Safe => !relay_energized,
        FailMode::Secure => relay_energized,
    };
    let powered = circuit_live && contact_closed && !power_path_opened;
    let position = match (fail, powered) {
        (FailMode::Safe, true) | (FailMode::Secure, false) => LockPosition::Locked,
        (FailMode::Safe, false) | (FailMode::Secure, true) => LockPosition::Unlocked,
    };
    LockState { powered, position }
}

/// The controller can unlock a lock now: commanding it unlocked would unlock it. For a
/// fail-secure lock that needs the controller alive and the lock's circuit live.
pub fn controller_can_unlock(fail: FailMode, circuit_live: bool, controller_alive: bool) -> bool {
    controller_alive
        && lock_state(
            fail,
            circuit_live,
            relay_energized(true, Command::Unlock),
            false,
        )
        .position
            == LockPosition::Unlocked
}

/// Opening the lock's power path by hand (a push-to-exit that cuts power directly, or a
/// door-hardware release) unlocks it: true for a fail-safe lock, never for a fail-secure one.
pub fn power_cut_unlocks(fail: FailMode) -> bool {
    lock_state(fail, true, false, true).position == LockPosition::Unlocked
}

/// Everything the controller's command for one door depends on, already reduced to facts about
/// that door. See [`commanded`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandInputs {
    /// A fire alarm is active (not yet reset) and the door has `release.fire_alarm`.
    pub fire_alarm_release: bool,
    /// A REX, a push-to-exit wired to the controller, or a delayed-egress release whose delay
    /// has run, is holding the door unlocked.
    pub egress_release: bool,
    /// The emergency-services override names this door.
    pub emergency_override: bool,
    /// An emergency mode releases the door as a fire alarm would (evacuate, shelter).
    pub mode_release: bool,
    /// An emergency mode locks the door (lockdown, and hold, secure, evacuate at their doors).
    pub lockdown: bool,
    /// An operator hold, until the operator releases it.
    pub operator_hold: Option<Command>,
    /// The door's schedule is active now.
    pub schedule_active: bool,
    /// A granted access is within its `unlock_seconds`.
    pub access_granted: bool,
}

/// Which rule of the precedence list decides a door's command (see [`decide`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    FireAlarm,
    /// Released by an emergency mode (evacuate, shelter), at the fire alarm's rank.
    ModeRelease,
    EgressRelease,
    EmergencyOverride,
    Lockdown,
    OperatorHold,
    Schedule,
    AccessGranted,
    /// No rule unlocks it: locked, the normal state.
    Locked,
}

/// The controller's command for one door, and the rule that gives it, by the precedence list
/// of the simulation spec ("What the controller commands"): the first rule that applies wins,
/// so a lower rule never undoes a higher one.
pub fn decide(inputs: &CommandInputs) -> (Command, Rule) {
    // Rules 1 to 3: fire alarm, egress releases (lockdown never blocks them), override.
    if inputs.fire_alarm_release {
        (Command::Unlock, Rule::FireAlarm)
    } else if inputs.mode_release {
        (Command::Unlock, Rule::ModeRelease)
    } else if inputs.egress_release {
        (Command::Unlock, Rule::EgressRelease)
    } else if inputs.emergency_override {
        (Command::Unlock, Rule::EmergencyOverride)
    } else if inputs.lockdown {
        // Rule 4.
        (Command::Lock, Rule::Lockdown)
    } else if let Some(hold) = inputs.operator_hold {
        // Rule 5.
        (hold, Rule::OperatorHold)
    } else if inputs.schedule_active {
        // Rule 6.
        (Command::Unlock, Rule::Schedule)
    } else if inputs.access_granted {
        // Rule 7.
        (Command::Unlock, Rule::AccessGranted)
    } else {
        // Rule 8.
        (Command::Lock, Rule::Locked)
    }
}

/// The command of [`decide`].
pub fn commanded(inputs: &CommandInputs) -> Command {
    decide(inputs).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_safe_and_fail_secure_positions() {
        use LockPosition::*;
        // Commanded locked, controller alive, circuit live: both locked.
        assert_eq!(
            lock_state(FailMode::Safe, true, false, false),
            LockState {
                powered: true,
                position: Locked
            }
        );
        assert_eq!(
            lock_state(FailMode::Secure, true, false, false),
            LockState {
                powered: false,
                position: Locked
            }
        );
        // Commanded unlocked: both unlocked.
        assert_eq!(
            lock_state(FailMode::Safe, true, true, false).position,
            Unlocked
        );
        assert_eq!(
            lock_state(FailMode::Secure, true, true, false),
            LockState {
                powered: true,
                position: Unlocked
            }
        );
        // Dead circuit: each in its default position, whatever is commanded.
        for energized in [false, true] {
            assert_eq!(
                lock_state(FailMode::Safe, false, energized, false).position,
                Unlocked
            );
            assert_eq!(
                lock_state(FailMode::Secure, false, energized, false).position,
                Locked
            );
        }
    }

    #[test]
    fn what_the_controller_can_unlock() {
        assert!(controller_can_unlock(FailMode::Safe, false, true));
        assert!(!controller_can_unlock(FailMode::Secure, false, true));
        assert!(controller_can_unlock(FailMode::Secure, true, true));
        assert!(!controller_can_unlock(FailMode::Safe, true, false));
        assert!(power_cut_unlocks(FailMode::Safe));
        assert!(!power_cut_unlocks(FailMode::Secure));
    }

    #[test]
    fn precedence_fire_alarm_outranks_lockdown_and_operator_lock() {
        let inputs = CommandInputs {
            fire_alarm_release: true,
            lockdown: true,
            operator_hold: Some(Command::Lock),
            ..Default::default()
        };
        assert_eq!(commanded(&inputs), Command::Unlock);
        let lockdown = CommandInputs {
            lockdown: true,
            schedule_active: true,
            operator_hold: Some(Command::Unlock),
            ..Default::default()
        };
        assert_eq!(commanded(&lockdown), Command::Lock);
        let rex_in_lockdown = CommandInputs {
            lockdown: true,
            egress_release: true,
            ..Default::default()
        };
        assert_eq!(commanded(&rex_in_lockdown), Command::Unlock);
        let hold_locked_over_schedule = CommandInputs {
            operator_hold: Some(Command::Lock),
            schedule_active: true,
            ..Default::default()
        };
        assert_eq!(commanded(&hold_locked_over_schedule), Command::Lock);
        assert_eq!(commanded(&CommandInputs::default()), Command::Lock);
        // The rule that decides, in precedence order.
        assert_eq!(decide(&inputs).1, Rule::FireAlarm);
        assert_eq!(decide(&lockdown).1, Rule::Lockdown);
        assert_eq!(decide(&rex_in_lockdown).1, Rule::EgressRelease);
        assert_eq!(decide(&hold_locked_over_schedule).1, Rule::OperatorHold);
        assert_eq!(decide(&CommandInputs::default()).1, Rule::Locked);
        let granted_in_schedule = CommandInputs {
            schedule_active: true,
            access_granted: true,
            ..CommandInputs::default()
        };
        assert_eq!(
            decide(&granted_in_schedule),
            (Command::Unlock, Rule::Schedule)
        );
    }
}
