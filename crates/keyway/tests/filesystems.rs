//! The daemon on a real filesystem that fails: a small tmpfs that fills up under it, and an
//! ext4 filesystem (on a loop device) that turns read-only under it after an error, as
//! `errors=remount-ro` does. The fire alarm still releases the doors, badges still decide,
//! the events land once space returns, and nothing acknowledged is lost. Mounting needs
//! root, so this runs when `KEYWAY_FS_TESTS=1` (which `.ci/run`, running as root, sets).
//!
//! Linux refuses to remount read-only a filesystem with files open for writing, so the
//! read-only case is the one that happens to a running daemon: an ext4 error (triggered
//! through `/sys/fs/ext4/DEV/trigger_fs_error`) aborts the journal and turns the mount
//! read-only. It only comes back by being checked and mounted again, which a running daemon
//! cannot follow: the test stops it, repairs and remounts the filesystem, and starts it again.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Daemon;
use serde_json::{Value, json};

fn enabled(test: &str) -> bool {
    if std::env::var("KEYWAY_FS_TESTS").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("{test} not run: set KEYWAY_FS_TESTS=1 (needs root to mount a tmpfs)");
    false
}

/// A tmpfs of `size` mounted at a fresh folder, unmounted when dropped.
struct Mount {
    dir: PathBuf,
}

impl Mount {
    fn new(name: &str, size: &str) -> Mount {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fs-{name}"));
        let _ = Command::new("umount").arg(&dir).status();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        run_mount(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            &dir,
        );
        Mount { dir }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn run_mount(args: &[&str], dir: &Path) {
    let status = Command::new("mount")
        .args(args)
        .arg(dir)
        .status()
        .expect("mount runs");
    assert!(status.success(), "mount {args:?} {}", dir.display());
}

/// An ext4 image on a loop device, mounted with `errors=remount-ro` at a fresh folder.
struct Ext4 {
    image: PathBuf,
    dir: PathBuf,
}

impl Ext4 {
    fn new(name: &str) -> Ext4 {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join(format!("fs-{name}"));
        let image = base.join(format!("fs-{name}.img"));
        let _ = Command::new("umount").arg(&dir).status();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(&image);
        std::fs::File::create(&image)
            .unwrap()
            .set_len(64 << 20)
            .unwrap();
        let status = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&image)
            .status()
            .expect("mkfs.ext4 runs (e2fsprogs)");
        assert!(status.success(), "mkfs.ext4");
        let ext4 = Ext4 { image, dir };
        ext4.mount();
        ext4
    }

    fn mount(&self) {
        run_mount(
            &["-o", "loop,errors=remount-ro", self.image.to_str().unwrap()],
            &self.dir,
        );
    }

    /// Makes the filesystem fail as a disk error would: ext4 aborts its journal and the
    /// mount turns read-only.
    fn fail(&self) {
        let source = Command::new("findmnt")
            .args(["-no", "SOURCE"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let device = String::from_utf8(source.stdout).unwrap();
        let device = device.trim().rsplit('/').next().unwrap().to_string();
        std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "1")
            .expect("trigger an ext4 error");
        let options = Command::new("findmnt")
            .args(["-no", "OPTIONS"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let options = String::from_utf8(options.stdout).unwrap();
        // `ro`, or (newer kernels) `emergency_ro` beside the original `rw`.
        assert!(
            options
                .trim()
                .split(',')
                .any(|o| o == "ro" || o == "emergency_ro"),
            "{options}"
        );
    }

    /// What an administrator does after the error: unmount, check, mount again.
    fn repair(&self) {
        let status = Command::new("umount").arg(&self.dir).status().unwrap();
        assert!(status.success(), "umount");
        let status = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(&self.image)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        // 0: clean; 1: errors corrected.
        assert!(matches!(status.code(), Some(0 | 1)), "e2fsck: {status}");
        self.mount();
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_file(&self.image);
    }
}

fn post(daemon: &Daemon, path: &str, body: Value) -> (u16, Value) {
    daemon
        .request("POST", path, Some(&body.to_string()))
        .expect("the daemon answers")
}

fn lock_of(daemon: &Daemon, door: &str) -> String {
    let (_, doors) = daemon.request("GET", "/api/doors", None).unwrap();
    doors
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == door)
        .unwrap()["lock"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every stored event's kind, checking that the sequence numbers run without a gap.
fn stored_kinds(daemon: &Daemon) -> Vec<String> {
    let (_, events) = daemon
        .request("GET", "/api/events?limit=10000", None)
        .unwrap();
    let events = events.as_array().unwrap();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], i as u64 + 1, "{events:?}");
    }
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// While the disk refuses writes: the fire alarm releases the office maglock, a badge
/// unlocks the server room, and both answers say the events are not durable yet.
fn life_safety_without_a_disk(daemon: &Daemon) {
    let (status, body) = post(
        daemon,
        "/api/sim/badge",
        json!({"door": "server", "credential": "1001"}),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["durable"], false, "{body}");
    assert_eq!(body["events"][0]["kind"], "access_granted", "{body}");
    assert_eq!(lock_of(daemon, "server"), "unlocked");
    let (status, body) = post(daemon, "/api/sim/fire-alarm", json!({"active": true}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["durable"], false, "{body}");
    assert_eq!(lock_of(daemon, "office-entry"), "unlocked");
    let (_, status_now) = daemon.request("GET", "/api/status", None).unwrap();
    assert_eq!(status_now["fire_alarm"], true);
    let (code, health) = daemon.request("GET", "/healthz", None).unwrap();
    assert_eq!(code, 503, "{health}");
}

/// Once the disk is back: the next command lands, after everything that waited.
fn everything_lands(daemon: &Daemon, data: &Path, before: &[String]) {
    let (status, body) = post(daemon, "/api/sim/rex/office-entry", json!({}));
    assert_eq!(status, 200, "{body}");
    let kinds = stored_kinds(daemon);
    assert_eq!(
        &kinds[..before.len()],
        before,
        "nothing acknowledged is lost"
    );
    let new = &kinds[before.len()..];
    for kind in [
        "storage_fault",
        "access_granted",
        "fire_alarm",
        "storage_restored",
        "rex",
    ] {
        assert!(new.iter().any(|k| k == kind), "{kind} missing from {new:?}");
    }
    assert_eq!(daemon.request("GET", "/healthz", None).unwrap().0, 200);
    assert_log_verifies(data);
}

/// `keyway verify-log` passes on `data`.
fn assert_log_verifies(data: &Path) {
    let (code, report) = common::verify_log(data);
    assert_eq!(code, Some(0), "{report}");
}

fn start_with_a_credential(data: &Path) -> (Daemon, Vec<String>) {
    let daemon = Daemon::start(data, None);
    let (status, body) = post(
        &daemon,
        "/api/credentials",
        json!({"number": "1001", "doors": ["*"]}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _) = post(&daemon, "/api/lockdown", json!({"active": true}));
    assert_eq!(status, 200);
    let (status, _) = post(&daemon, "/api/lockdown", json!({"active": false}));
    assert_eq!(status, 200);
    let before = stored_kinds(&daemon);
    (daemon, before)
}

#[test]
fn a_full_disk_stops_no_door_and_the_events_land_when_space_returns() {
    if !enabled("full-disk test") {
        return;
    }
    let mount = Mount::new("full", "4m");
    let data = mount.dir.join("data");
    let (daemon, before) = start_with_a_credential(&data);
    // Fill every byte that is left.
    let filler = mount.dir.join("filler");
    let _ = Command::new("dd")
        .args([
            "if=/dev/zero",
            &format!("of={}", filler.display()),
            "bs=64k",
        ])
        .stderr(std::process::Stdio::null())
        .status();
    life_safety_without_a_disk(&daemon);
    std::fs::remove_file(&filler).unwrap();
    everything_lands(&daemon, &data, &before);
}

#[test]
fn a_filesystem_turned_read_only_stops_no_door_and_loses_nothing_acknowledged() {
    if !enabled("read-only filesystem test") {
        return;
    }
    let fs = Ext4::new("read-only");
    let data = fs.dir.join("data");
    let (daemon, before) = start_with_a_credential(&data);
    fs.fail();
    life_safety_without_a_disk(&daemon);
    // What was not durable was answered 503 (not acknowledged); the daemon keeps it in
    // memory while the disk refuses it. Stopped, repaired, started again: every event that
    // was acknowledged is there, in order, and the chain verifies.
    daemon.kill();
    fs.repair();
    let daemon = Daemon::start(&data, None);
    let kinds = stored_kinds(&daemon);
    assert_eq!(
        &kinds[..before.len()],
        before,
        "nothing acknowledged is lost"
    );
    let (status, body) = post(&daemon, "/api/sim/rex/office-entry", json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(daemon.request("GET", "/healthz", None).unwrap().0, 200);
    assert_log_verifies(&data);
}
