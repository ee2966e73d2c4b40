//! `keyway import-credentials`: all rows checked first, all or nothing.

use std::path::PathBuf;
use std::process::Command;

mod common;

/// Imports `csv` into a data directory that holds a database (as one the daemon has run on).
fn run(name: &str, csv: &str) -> (i32, String, String, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("import-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    drop(keyway_store::Store::open(&data).unwrap());
    import(&dir, csv, &data)
}

fn import(
    dir: &std::path::Path,
    csv: &str,
    data: &std::path::Path,
) -> (i32, String, String, PathBuf) {
    let path = dir.join("cards.csv");
    std::fs::write(&path, csv).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args([
            "import-credentials",
            path.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
        data.to_path_buf(),
    )
}

const GOOD: &str = "number,holder,doors,schedule,valid_from,valid_until\n1001,Alice,front,,,\n";

#[test]
fn an_import_into_a_folder_without_a_database_creates_none() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("import-nowhere");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("not-the-data");
    let (code, _, stderr, _) = import(&dir, GOOD, &data);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no Keyway database"), "{stderr}");
    assert!(!data.join(keyway_store::DATABASE_FILE).exists());
}

#[test]
fn an_import_against_a_running_daemon_is_refused_and_names_the_api() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("import-running");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let daemon = common::Daemon::start(&data, None);
    let (code, stdout, stderr, _) = import(&dir, GOOD, &data);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("in use by another Keyway"), "{stderr}");
    assert!(stderr.contains("keyway serve, process"), "{stderr}");
    assert!(stderr.contains("POST /api/credentials/import"), "{stderr}");
    let (_, credentials) = daemon.request("GET", "/api/credentials", None).unwrap();
    assert_eq!(
        credentials,
        serde_json::json!([]),
        "nothing imported behind its back"
    );
}

#[test]
fn a_second_daemon_on_one_data_directory_exits_2_naming_the_first() {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("two-daemons");
    let _ = std::fs::remove_dir_all(&data);
    let first = common::Daemon::start(&data, None);
    let second = common::serve_command(&data, common::ADMIN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("keyway serve, process {}", first.child.id())),
        "{stderr}"
    );
    // The first still writes: its log goes on without a gap.
    let (status, body) = first
        .request("POST", "/api/lockdown", Some(r#"{"active": true}"#))
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["events"][0]["seq"], 3,
        "after its controller_started and token_created"
    );
}

#[test]
fn a_good_file_is_imported() {
    let (code, stdout, stderr, data) = run(
        "good",
        "number,holder,doors,schedule,valid_from,valid_until\n1001,Alice,front;server,business-hours,,\n1002,Bob,*,,,2027-01-01T00:00:00\n",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("imported 2 credentials"), "{stdout}");
    let store = keyway_store::Store::open(&data).unwrap();
    let rows = store.credentials().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].doors,
        Some(vec!["front".to_string(), "server".to_string()])
    );
    assert_eq!(rows[1].doors, None);
}

#[test]
fn one_bad_row_imports_nothing_and_every_problem_is_named() {
    let (code, _, stderr, data) = run(
        "bad",
        "1001,Alice,front,,,\n1002,Bob,vault,,,\n1003,Carol,front,nights,,\n1004,Dan,front,,yesterday,\n",
    );
    assert_eq!(code, 2);
    for expected in [
        "cards.csv:line 2",
        "vault",
        "cards.csv:line 3",
        "nights",
        "cards.csv:line 4",
        "yesterday",
        "nothing was imported",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from:\n{stderr}"
        );
    }
    assert!(
        !data.exists()
            || keyway_store::Store::open(&data)
                .unwrap()
                .credentials()
                .unwrap()
                .is_empty()
    );
}
