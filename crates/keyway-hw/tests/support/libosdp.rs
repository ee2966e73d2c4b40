//! What the LibOSDP test binaries share (`keyway-hw/tests/libosdp.rs`,
//! `keyway/tests/osdp_serve.rs`): a test harness that says "not run" in its summary line
//! when LibOSDP is absent and fails when it was asked for and is broken, and the LibOSDP
//! card reader (`libosdp_pd.py`) as a child process.
//!
//! These binaries have `harness = false`: libtest can only pass or ignore a test, and a test
//! that returns early without LibOSDP would count as passed.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};

/// One test: its name, and the body, given the Python that has LibOSDP.
pub type Case = (&'static str, fn(&str));

/// Runs the cases whose name contains the command line's filter (as libtest does; `--list`
/// lists them), one at a time, and prints libtest's lines. Without `KEYWAY_LIBOSDP_PYTHON`
/// none runs, and the summary says so.
pub fn run(cases: &[Case]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let exact = args.iter().any(|a| a == "--exact");
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|(name, _)| match &filter {
            None => true,
            Some(f) if exact => name == f,
            Some(f) => name.contains(f.as_str()),
        })
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    println!("\nrunning {} tests", selected.len());
    let python = match std::env::var("KEYWAY_LIBOSDP_PYTHON") {
        Err(_) => {
            for (name, _) in &selected {
                println!("test {name} ... not run");
            }
            println!(
                "\ntest result: not run. 0 passed; 0 failed; {} not run: set KEYWAY_LIBOSDP_PYTHON to a Python with libosdp==3.2.9 (.ci/run does)\n",
                selected.len()
            );
            return ExitCode::SUCCESS;
        }
        Ok(python) => python,
    };
    if let Err(problem) = check_python(&python) {
        for (name, _) in &selected {
            println!("test {name} ... FAILED");
        }
        println!(
            "\ntest result: FAILED. 0 passed; {} failed: {problem}\n",
            selected.len()
        );
        return ExitCode::FAILURE;
    }
    let mut failed = Vec::new();
    for (name, case) in &selected {
        println!("test {name} ... started");
        let outcome = std::panic::catch_unwind(|| case(&python));
        match outcome {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed{}\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(": {}", failed.join(", "))
        }
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Whether `python` has LibOSDP 3.2.9.
fn check_python(python: &str) -> Result<(), String> {
    let check = Command::new(python)
        .args([
            "-c",
            "import osdp, importlib.metadata as m; v = m.version('libosdp'); assert v == '3.2.9', v",
        ])
        .output()
        .map_err(|error| format!("KEYWAY_LIBOSDP_PYTHON={python} cannot be run: {error}"))?;
    if !check.status.success() {
        return Err(format!(
            "KEYWAY_LIBOSDP_PYTHON={python} has no libosdp 3.2.9: {}",
            String::from_utf8_lossy(&check.stderr).trim()
        ));
    }
    Ok(())
}

/// A LibOSDP card reader on a PTY of its own (`libosdp_pd.py`), killed when dropped.
pub struct Reader {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The PTY the control panel opens.
    pub path: String,
}

/// How the reader is started.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReaderSetup<'a> {
    /// The key it holds (hex); None is install mode.
    pub key: Option<&'a str>,
    /// Refuses commands in the clear (with a key).
    pub enforce: bool,
    /// Seconds after printing its PTY before it starts answering.
    pub delay: f64,
}

impl Reader {
    pub fn start(python: &str, setup: ReaderSetup<'_>) -> Reader {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libosdp_pd.py");
        let script = if std::path::Path::new(script).exists() {
            script.to_string()
        } else {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../keyway-hw/tests/libosdp_pd.py"
            )
            .to_string()
        };
        let mut command = Command::new(python);
        if let Some(key) = setup.key {
            command.env("PD_SCBK", key);
        }
        command.env("PD_ENFORCE", if setup.enforce { "1" } else { "0" });
        command.env("PD_DELAY", setup.delay.to_string());
        let mut child = command
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the LibOSDP reader");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut path = String::new();
        stdout.read_line(&mut path).unwrap();
        Reader {
            child,
            stdin,
            stdout,
            path: path.trim().to_string(),
        }
    }

    /// Sends a line to the reader script and returns its answer.
    pub fn say(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        answer.trim().to_string()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
