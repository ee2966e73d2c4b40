//! `/metrics` by Prometheus's conventions, against a real server: the families an operator
//! graphs and alerts on, per door and circuit, and never a credential or its holder.

mod support;

use serde_json::json;
use support::{ADMIN, Server};

fn scrape(server: &Server) -> String {
    let (status, body) = server.get("/metrics", Some(ADMIN));
    assert_eq!(status, 200);
    body.as_str().unwrap().to_string()
}

/// The value of one sample, by its name and labels as written.
fn value(metrics: &str, sample: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn doors_circuits_and_counts_are_labelled_by_what_they_are_never_by_who() {
    let server = Server::start("metrics");
    let (status, _) = server.post(
        "/api/credentials",
        Some(ADMIN),
        json!({"number": "77123", "holder": "Zelda Quintero", "doors": ["*"]}),
    );
    assert_eq!(status, 201);
    server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "server", "credential": "77123"}),
    );
    server.post(
        "/api/sim/badge",
        Some(ADMIN),
        json!({"door": "server", "credential": "55555"}),
    );
    // Opened without a grant: forced.
    server.post(
        "/api/sim/door/stair-exit",
        Some(ADMIN),
        json!({"open": true}),
    );
    server.post("/api/sim/power/mains", Some(ADMIN), json!({"live": false}));
    server.wait_for_event(|e| e["kind"] == "power_lost");
    let metrics = scrape(&server);

    assert!(
        metrics.contains("keyway_build_info{version=\""),
        "{metrics}"
    );
    assert_eq!(
        value(&metrics, "keyway_door_unlocked{door=\"server\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "keyway_door_unlocked{door=\"front\"}"),
        Some(0.0)
    );
    assert_eq!(
        value(&metrics, "keyway_access_granted_total{door=\"server\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "keyway_access_denied_total{door=\"server\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "keyway_door_open{door=\"stair-exit\"}"),
        Some(1.0)
    );
    // The rear door has no position switch: no open or alarm sample for it.
    assert_eq!(value(&metrics, "keyway_door_open{door=\"rear\"}"), None);
    assert_eq!(
        value(&metrics, "keyway_reader_online{door=\"server\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "keyway_circuit_on_battery{circuit=\"lock-psu\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(
            &metrics,
            "keyway_circuit_battery_seconds_left{circuit=\"lock-psu\"}"
        ),
        Some(3600.0)
    );
    assert_eq!(
        value(&metrics, "keyway_circuit_live{circuit=\"mains\"}"),
        Some(0.0)
    );
    assert!(
        value(&metrics, "keyway_events_total{kind=\"access_granted\"}") >= Some(1.0),
        "{metrics}"
    );
    assert!(
        !metrics.contains("77123") && !metrics.contains("Zelda"),
        "{metrics}"
    );

    // Every family is declared once, with a counter's name ending in _total, and every
    // sample belongs to a declared family.
    let mut declared = std::collections::BTreeMap::new();
    for line in metrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(name.starts_with("keyway_"), "{line}");
            assert!(
                (kind == "counter") == name.ends_with("_total"),
                "{name} is a {kind}"
            );
            assert!(
                declared
                    .insert(name.to_string(), kind.to_string())
                    .is_none(),
                "{name} twice"
            );
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(declared.contains_key(name), "{line}: no # TYPE");
        }
    }
}
