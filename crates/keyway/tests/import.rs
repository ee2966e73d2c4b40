//! `keyway import-credentials`: all rows checked first, all or nothing.

use std::path::PathBuf;
use std::process::Command;

fn run(name: &str, csv: &str) -> (i32, String, String, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("import-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cards.csv");
    std::fs::write(&path, csv).unwrap();
    let data = dir.join("data");
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
        data,
    )
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
