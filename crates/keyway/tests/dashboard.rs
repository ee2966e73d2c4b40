//! The dashboard end to end in a real browser: headless Chromium driven by playwright-core
//! (`e2e/dashboard.mjs`) against `keyway serve`. It needs Chromium and Node.js, so it runs
//! when `KEYWAY_E2E=1` (which `.ci/run` sets after installing them).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{ADMIN, Daemon};

#[test]
fn sign_in_badge_see_the_door_unlock_cut_power_see_the_states_change() {
    if std::env::var("KEYWAY_E2E").as_deref() != Ok("1") {
        eprintln!(
            "dashboard end-to-end test not run: set KEYWAY_E2E=1 (needs chromium and `npm ci` in e2e/)"
        );
        return;
    }
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-e2e");
    let _ = std::fs::remove_dir_all(&data);
    // Time moves only when the test says so (`POST /api/sim/clock`): the test never waits
    // for a timer.
    let mut command = common::serve_command(&data, ADMIN);
    command.args(["--clock-start", common::CLOCK_START, "--virtual-clock"]);
    let daemon = Daemon::spawn(command);
    // On the machine's clock the step is refused.
    let plain = Daemon::start(
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-e2e-plain"),
        None,
    );
    let (status, body) = plain
        .request("POST", "/api/sim/clock", Some(r#"{"advance_seconds": 1}"#))
        .unwrap();
    assert_eq!(status, 409, "{body}");
    drop(plain);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/dashboard.mjs");
    let output = Command::new("node")
        .arg(&script)
        .current_dir(script.parent().unwrap())
        .env("KEYWAY_URL", format!("http://{}", daemon.addr))
        .env("KEYWAY_TOKEN", ADMIN)
        .output()
        .expect("node runs (install Node.js)");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the dashboard test failed:\n{report}"
    );
    assert!(
        report.contains("cut the mains") && report.contains("the door unlocks … ok"),
        "{report}"
    );
}
