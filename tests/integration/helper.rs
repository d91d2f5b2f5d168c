//! The test helper program (`rogue-hunter-test-helper`): processes with known behaviour, killed
//! when the handle drops. Shared by the integration tests and the benchmarks.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Path of the helper binary Cargo built for these tests.
pub const HELPER: &str = env!("CARGO_BIN_EXE_rogue-hunter-test-helper");

/// A running helper; killed and reaped on drop.
pub struct Helper {
    child: Child,
    pub pid: u32,
}

impl Helper {
    /// Starts `rogue-hunter-test-helper ARGS…` and waits until it prints `ready`.
    pub fn spawn(args: &[&str]) -> Helper {
        let mut child = Command::new(HELPER)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {HELPER} {args:?}: {e}"));
        let pid = child.id();
        let stdout = child.stdout.take().expect("helper stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        if !matches!(read, Ok(n) if n > 0) || line.trim() != "ready" {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "helper {args:?} did not get ready: read {read:?} line {line:?} status {status:?}"
            );
        }
        Helper { child, pid }
    }

    /// Kills the helper and waits for it (it is reaped, so its pid is free afterwards).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
