//! A replay's steps that come while the controller has no power: it sees none of them (it
//! logs nothing), and the table for people lists them as such, at their place in time.

use std::sync::Arc;

use keyway_core::load::parse_script;
use keyway_core::parse_site;
use keyway_core::replay::{local_time, replay_table, run};
use keyway_core::report::Style;

const SITE: &str = include_str!("../../keyway/tests/replay/site.toml");

const SCRIPT: &str = r#"start = "2026-12-01T07:00:00"

[[credential]]
number = "1001"
doors = ["lab"]

# The mains go at 07:05; the controller's UPS lasts 60 minutes.
[[step]]
at = "2026-12-01T07:05:00"
input = "power_off"
circuit = "mains"

[[step]]
at = "2026-12-01T08:10:00"
input = "badge"
door = "lab"
credential = "1001"

[[step]]
at = "2026-12-01T08:20:00"
input = "power_on"
circuit = "mains"

[[step]]
at = "2026-12-01T08:30:00"
input = "badge"
door = "lab"
credential = "1001"
"#;

#[test]
fn steps_while_the_controller_is_off_are_listed_as_not_seen() {
    let site = Arc::new(parse_site("site.toml", SITE).unwrap());
    let script = parse_script("dead.toml", SCRIPT, &site).unwrap();
    let replay = run(Arc::clone(&site), script);
    let unseen: Vec<(String, &str)> = replay
        .unseen
        .iter()
        .map(|(at, what)| (local_time(&site, *at), what.as_str()))
        .collect();
    // The power coming back is not an input to the controller: it is not listed.
    assert_eq!(
        unseen,
        [("2026-12-01T08:10:00".to_string(), "badge 1001 at lab")]
    );
    let granted: Vec<String> = replay
        .events
        .iter()
        .filter(|e| e.kind.name() == "access_granted")
        .map(|e| local_time(&site, e.at))
        .collect();
    assert_eq!(granted, ["2026-12-01T08:30:00"], "only the badge it saw");
    let table = replay_table(&site, &replay, Style { color: false });
    let line = table
        .lines()
        .find(|l| l.contains("not seen"))
        .unwrap_or_else(|| panic!("{table}"));
    assert_eq!(
        line,
        "2026-12-01T08:10:00  controller off, not seen:  badge 1001 at lab (nothing logged)"
    );
    // In its place: after the mains were lost, before the badge that was granted.
    let position = |needle: &str| table.find(needle).unwrap();
    assert!(position("power_lost") < position("not seen"));
    assert!(position("not seen") < position("access_granted"));
}
