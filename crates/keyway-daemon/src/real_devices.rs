//! Which parts of the site are real devices, so that the simulated hardware (`/api/sim/*`)
//! never drives them: a simulated badge at a door with a real reader would log an access no
//! card made, and a simulated power cut on a circuit that feeds a real relay would move a
//! real lock. Each function names the real device that forbids the simulation, or `None`.

use keyway_core::Site;
use keyway_core::site::{CircuitIdx, Door, DoorIdx, GpioLine, Reader, ReaderKind, StationIdx};

/// What the simulated hardware would play at a door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimAtDoor {
    /// A badge at its reader (it may unlock the door).
    Badge,
    /// Its request-to-exit sensor (it unlocks the door).
    Rex,
    /// Its door position switch opening or closing.
    DoorContact,
}

/// The real device that forbids simulating `what` at a door: a reader on a `[[bus]]` or a
/// wired Wiegand reader (for a badge), a wired REX or door contact, or a wired relay (for
/// anything that unlocks the door).
pub fn at_door(site: &Site, door: DoorIdx, what: SimAtDoor) -> Option<String> {
    let d = site.door(door);
    let real_bus = |reader: &Reader| {
        (reader.kind == ReaderKind::Osdp)
            .then(|| site.buses.iter().find(|b| b.id == reader.bus))
            .flatten()
    };
    for (reader, which) in d
        .reader
        .iter()
        .map(|r| (r, "reader"))
        .chain(d.exit_reader.as_deref().map(|r| (r, "exit reader")))
    {
        let Some(bus) = real_bus(reader) else {
            continue;
        };
        if what == SimAtDoor::Badge {
            return Some(format!(
                "door {:?} has a real {which} (OSDP address {} on bus {:?}, {})",
                d.id, reader.address, bus.id, bus.device
            ));
        }
        // A REX or door contact wired to a real reader's own inputs.
        if let Some((device, input)) = match what {
            SimAtDoor::Rex => reader.rex_input.map(|i| ("REX", i)),
            SimAtDoor::DoorContact => reader.dps_input.map(|i| ("door contact", i)),
            SimAtDoor::Badge => None,
        } {
            return Some(format!(
                "door {:?} has a real {device} (input {input} of the OSDP reader at address {} on bus {:?})",
                d.id, reader.address, bus.id
            ));
        }
    }
    let wiring = d.wiring.as_deref()?;
    let line = match what {
        SimAtDoor::Badge => wiring
            .wiegand_d0
            .as_ref()
            .map(|l| ("Wiegand reader", l))
            .or(wiring.relay.as_ref().map(|l| ("relay", l))),
        SimAtDoor::Rex => wiring
            .rex
            .as_ref()
            .map(|l| ("REX", l))
            .or(wiring.relay.as_ref().map(|l| ("relay", l))),
        SimAtDoor::DoorContact => wiring.dps.as_ref().map(|l| ("door contact", l)),
    };
    line.map(|(device, line)| {
        format!(
            "door {:?} has a real {device} (GPIO line {} on {})",
            d.id, line.line, line.chip
        )
    })
}

/// The real reader of a muster station, which forbids simulating a badge there.
pub fn at_station(site: &Site, station: StationIdx) -> Option<String> {
    let station = &site.muster_stations[station.index()];
    let reader = &station.reader;
    let bus = site
        .buses
        .iter()
        .find(|b| reader.kind == ReaderKind::Osdp && b.id == reader.bus)?;
    Some(format!(
        "muster station {:?} has a real reader (OSDP address {} on bus {:?}, {})",
        station.id, reader.address, bus.id, bus.device
    ))
}

/// Whether `circuit` is `target` or feeds it, through `fed_by`.
fn feeds(site: &Site, circuit: CircuitIdx, target: CircuitIdx) -> bool {
    site.circuit_chain(target).any(|c| c == circuit)
}

/// The real device a simulated cut of `circuit` would reach: its own wired power signals,
/// or a door's wired relay that it powers (its lock's supply, or the controller's own).
pub fn on_circuit(site: &Site, circuit: CircuitIdx) -> Option<String> {
    let c = site.circuit(circuit);
    if let Some(wiring) = c.wiring.as_deref()
        && (wiring.ac_fail.is_some() || wiring.battery_low.is_some())
    {
        return Some(format!(
            "circuit {:?} has real power-supply signals wired",
            c.id
        ));
    }
    wired_relays(site).find_map(|(d, relay)| {
        let lock = d.lock.as_ref()?;
        let reaches =
            feeds(site, circuit, lock.power) || feeds(site, circuit, site.controller_power);
        reaches.then(|| {
            format!(
                "circuit {:?} powers door {:?}, whose relay is real (GPIO line {} on {})",
                c.id, d.id, relay.line, relay.chip
            )
        })
    })
}

/// The real device a simulated fire alarm would override or reach: the panel's wired
/// input, or any door's wired relay.
pub fn for_fire_alarm(site: &Site) -> Option<String> {
    if let Some(line) = &site.wiring.fire_alarm {
        return Some(format!(
            "the fire alarm panel is wired (GPIO line {} on {})",
            line.line, line.chip
        ));
    }
    wired_relays(site).next().map(|(d, relay)| {
        format!(
            "a simulated fire alarm would move door {:?}'s real relay (GPIO line {} on {})",
            d.id, relay.line, relay.chip
        )
    })
}

/// The doors whose relay is a wired line, with it.
fn wired_relays(site: &Site) -> impl Iterator<Item = (&Door, &GpioLine)> {
    site.doors.iter().filter_map(|d| {
        let relay = d.wiring.as_deref()?.relay.as_ref()?;
        Some((d, relay))
    })
}

/// The first real device of the site, if it has any: a bus, a wired line of a door, a
/// circuit or the site. Time can be moved by hand (`POST /api/sim/clock`) only on a site
/// with none, since a real device's timing does not follow it.
pub fn any(site: &Site) -> Option<String> {
    if let Some(bus) = site.buses.first() {
        return Some(format!("bus {:?} on {}", bus.id, bus.device));
    }
    if let Some(door) = site.doors.iter().find(|d| d.wiring.is_some()) {
        return Some(format!("door {:?} has wired lines", door.id));
    }
    if let Some(circuit) = site.circuits.iter().find(|c| c.wiring.is_some()) {
        return Some(format!("circuit {:?} has wired power signals", circuit.id));
    }
    if site.wiring.fire_alarm.is_some() || site.wiring.lockdown.is_some() {
        return Some("the site has a wired fire alarm or lockdown input".to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIRED: &str = r#"
[site]
name = "bench"
[controller]
power = "mains"
[[power]]
id = "mains"
[[power]]
id = "psu"
fed_by = "mains"
battery_minutes = 30
[[power]]
id = "other"
fed_by = "mains"
[[area]]
id = "street"
kind = "exterior"
[[area]]
id = "lobby"
[[door]]
id = "front"
inside = "lobby"
outside = "street"
dps = true
[door.lock]
type = "electric_strike"
fail = "secure"
power = "psu"
[door.reader]
kind = "osdp"
address = 1
[door.wiring]
relay = { line = 17 }
[[door]]
id = "side"
inside = "lobby"
outside = "street"
dps = true
[door.lock]
type = "electric_strike"
fail = "secure"
power = "other"
[door.reader]
kind = "osdp"
address = 2
[wiring]
chip = "gpiochip0"
"#;

    #[test]
    fn a_wired_relay_refuses_what_would_move_it_and_nothing_else() {
        let site = keyway_core::parse_site("wired.toml", WIRED).unwrap();
        let front = site.find_door("front").unwrap();
        let side = site.find_door("side").unwrap();
        let badge = at_door(&site, front, SimAtDoor::Badge).unwrap();
        assert!(
            badge.contains("relay") && badge.contains("line 17"),
            "{badge}"
        );
        assert!(at_door(&site, front, SimAtDoor::Rex).is_some());
        assert_eq!(at_door(&site, front, SimAtDoor::DoorContact), None);
        assert_eq!(at_door(&site, side, SimAtDoor::Badge), None);
        // Cutting the relay's supply, or the mains above it (which also feeds the controller),
        // would move the real relay; the side door's own supply would not.
        let circuit =
            |id: &str| CircuitIdx(site.circuits.iter().position(|c| c.id == id).unwrap() as u32);
        assert!(on_circuit(&site, circuit("psu")).unwrap().contains("front"));
        assert!(on_circuit(&site, circuit("mains")).is_some());
        assert_eq!(on_circuit(&site, circuit("other")), None);
        assert!(for_fire_alarm(&site).unwrap().contains("real relay"));
    }
}
