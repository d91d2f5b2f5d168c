//! The test helper program (`rogue-hunter-test-helper`): processes with known behaviour, killed
//! when the handle drops. Shared by the integration tests and the benchmarks.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// Path of the helper binary, built on first use. The helper is a workspace member of its own
/// (so `cargo install` leaves it out), and Cargo builds another package's binaries for no test
/// of this one: each test process builds it once, into a target directory of its own under
/// Cargo's `target/tmp` (the outer `cargo test` holds the lock of the main one). When it is
/// fresh this takes a fraction of a second.
pub fn helper_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(build_helper)
}

fn build_helper() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-helper");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--package", "rogue-hunter-test-helper"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        cmd.arg("--release");
        "release"
    };
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the test helper: {e}"));
    assert!(
        status.success(),
        "building the test helper failed: {status}"
    );
    target.join(profile).join("rogue-hunter-test-helper")
}

/// A running helper; killed and reaped on drop.
pub struct Helper {
    child: Child,
    pub pid: u32,
}

impl Helper {
    /// Starts `rogue-hunter-test-helper ARGS…` and waits until it prints `ready`.
    pub fn spawn(args: &[&str]) -> Helper {
        Helper::start(Command::new(helper_path()), args)
    }

    /// Like `spawn`, but in a session of its own: with scheduler autogroups (one CPU share per
    /// session) its scheduling can then be set apart from the tests' (see `boost` in the sampler
    /// tests).
    pub fn spawn_in_own_session(args: &[&str]) -> Helper {
        let mut cmd = Command::new(helper_path());
        in_own_session(&mut cmd);
        Helper::start(cmd, args)
    }

    /// Like `spawn_in_own_session`, with its session's autogroup at nice -20 (as root): a
    /// workload that should get the CPUs as on a quiet machine, whoever else is building.
    pub fn spawn_boosted(args: &[&str]) -> Helper {
        let h = Helper::spawn_in_own_session(args);
        boost_autogroup(h.pid);
        h
    }

    fn start(mut cmd: Command, args: &[&str]) -> Helper {
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {} {args:?}: {e}", helper_path().display()));
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

/// Makes `cmd` start a session (and process group) of its own, as a shell starts a job.
pub fn in_own_session(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Nice -20 for the scheduler autogroup of `pid`'s session (root only; absent without
/// CONFIG_SCHED_AUTOGROUP, where nothing changes).
pub fn boost_autogroup(pid: u32) {
    // SAFETY: geteuid has no preconditions (inline: benches include this file without `common`).
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("note: not root, {pid} not boosted; a loaded machine may slow it down");
        return;
    }
    let _ = std::fs::write(format!("/proc/{pid}/autogroup"), "-20");
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
