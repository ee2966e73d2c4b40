//! The console end to end in a real browser: headless Chromium driven by playwright-core
//! (`e2e/console.mjs`), which starts `keyway serve` on a virtual clock, stops it and starts
//! it again. It needs Chromium and Node.js, so it runs when `KEYWAY_E2E=1` (which `.ci/run`
//! sets after installing them). Screenshots of every screen at desktop size and at 390 px
//! go to `target/console-screenshots/`.

mod common;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_console_from_setup_to_a_restart_at_two_sizes() {
    if std::env::var("KEYWAY_E2E").as_deref() != Ok("1") {
        eprintln!(
            "console end-to-end test not run: set KEYWAY_E2E=1 (needs chromium and `npm ci` in e2e/)"
        );
        return;
    }
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-e2e");
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(data.with_file_name("console-e2e-clinic"));
    let screenshots =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/console.mjs");
    let output = Command::new("node")
        .arg(&script)
        .current_dir(script.parent().unwrap())
        .env("KEYWAY_BIN", env!("CARGO_BIN_EXE_keyway"))
        .env("KEYWAY_DATA", &data)
        .env("KEYWAY_CLOCK_START", common::CLOCK_START)
        .env("KEYWAY_SCREENSHOTS", &screenshots)
        .env(
            "KEYWAY_CLINIC",
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/clinic.toml"),
        )
        .output()
        .expect("node runs (install Node.js)");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the console test failed:\n{report}"
    );
    assert!(
        report.contains("ok: 200 clicks while events stream are 200 requests")
            && report.contains("ok: stopping the daemon shows disconnected within 5 s")
            && report.contains(
                "ok: starting it again: live, and what it logged meanwhile is in the feed"
            ),
        "{report}"
    );
}

#[test]
fn on_the_machine_clock_the_virtual_clock_step_is_refused() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-plain-clock");
    let _ = std::fs::remove_dir_all(&data);
    let plain = common::Daemon::start(&data, None);
    let (status, body) = plain
        .request("POST", "/api/sim/clock", Some(r#"{"advance_seconds": 1}"#))
        .unwrap();
    assert_eq!(status, 409, "{body}");
}
