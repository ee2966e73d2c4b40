//! A panic in the controller task must not leave a daemon that answers but drives nothing:
//! the process aborts, and its restart puts every relay at rest. The panic is made by an
//! output driver that panics on its first command after boot (the controller task calls
//! it); the scenario runs in a child process, since it aborts.

use std::sync::Arc;

use keyway_core::credentials::CredentialStore;
use keyway_core::site::DoorIdx;
use keyway_daemon::clock::{Clock, VirtualClock};
use keyway_daemon::hardware::Outputs;
use keyway_daemon::service::{Origin, Service, Source};
use keyway_daemon::writer::Writer;
use keyway_store::Store;

const CHILD: &str = "KEYWAY_SUPERVISION_CHILD";

/// Relays that work at boot (every relay at rest) and panic on the first real command.
struct PanickingRelays {
    at_rest: usize,
    doors: usize,
}

impl Outputs for PanickingRelays {
    fn set_relay(&mut self, _door: DoorIdx, energized: bool) {
        if self.at_rest < self.doors && !energized {
            self.at_rest += 1;
            return;
        }
        panic!("the relay driver failed");
    }
}

fn child() {
    let site = Arc::new(keyway_core::parse_site("demo", keyway_daemon::DEMO_SITE).unwrap());
    let data = std::env::temp_dir().join(format!("keyway-supervision-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new(1_796_547_600_000));
        let (live, _) = tokio::sync::broadcast::channel(16);
        let (writer, _thread) = Writer::start(
            Box::new(Store::open(&data).unwrap()),
            live,
            Arc::clone(&clock),
        );
        let service = Service::start(
            Arc::clone(&site),
            CredentialStore::new(),
            Vec::new(),
            writer,
            Box::new(PanickingRelays {
                at_rest: 0,
                doors: site.doors.len(),
            }),
            Vec::new(),
            clock,
        );
        let rear = site.find_door("rear").unwrap();
        // The hold energizes the rear relay: the driver panics inside the controller task.
        let _ = service
            .input(
                keyway_core::controller::Input::Unlock { door: rear },
                Origin::new(Source::Api),
            )
            .await;
        // Were the panic only the task's, the service would go on: let every other task of
        // this runtime (the supervisor among them) run, then say that it was not noticed.
        for _ in 0..1_000 {
            tokio::task::yield_now().await;
        }
        println!("STILL RUNNING");
    });
}

#[test]
fn a_panic_in_the_controller_task_aborts_the_process() {
    if std::env::var(CHILD).is_ok() {
        child();
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_panic_in_the_controller_task_aborts_the_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stdout.contains("STILL RUNNING"), "{stdout}{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        output.status.signal(),
        Some(6),
        "aborted (SIGABRT): {:?}\n{stdout}{stderr}",
        output.status
    );
    assert!(stderr.contains("the relay driver failed"), "{stderr}");
}
