//! A real `rogue-hunter daemon` in a temporary environment, for integration tests.

#![allow(dead_code)]

use crate::common::TestEnv;
use rusqlite::Connection;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Config for daemon tests of the plumbing (events, shutdown, captures, the socket): fast
/// sampling, and the fair-share model with scores scaled so that a busy loop is tracked within a
/// sample or two whatever else the machine is doing (its CPU share is at least ~1 among a few
/// hogs, ×50). The impact model's own behaviour is tested in `impact.rs`.
pub const TEST_CONFIG: &str = r#"
[system]
sample_interval = 0.2
heartbeat_samples = 10
[scoring]
model = "fair-share"
score_multiplier = 50.0
[bands]
medium = 30
elevated = 31
high = 32
critical = 99
[tracking]
exit_stability_samples = 2
[forensics]
enabled = false
"#;

/// A running daemon; SIGKILLed on drop if still running.
pub struct Daemon {
    pub env: TestEnv,
    child: Option<Child>,
    pub pid: u32,
}

impl Daemon {
    /// Writes `config` and starts the daemon; returns once its socket answers.
    pub fn start(config: &str) -> Daemon {
        let env = TestEnv::new();
        env.write_config(config);
        Daemon::start_in(env)
    }

    /// Starts a daemon in an existing environment (e.g. after a previous one).
    pub fn start_in(env: TestEnv) -> Daemon {
        Daemon::spawn(env, None)
    }

    /// Starts a daemon whose tools are looked up on `path` only.
    pub fn start_with_path(env: TestEnv, path: &str) -> Daemon {
        Daemon::spawn(env, Some(path))
    }

    /// Starts a daemon in a session of its own whose scheduler autogroup gets nice -20 (as root;
    /// otherwise it says so): it then keeps sampling on time beside a boosted workload and
    /// other people's builds on a shared machine.
    pub fn start_boosted(config: &str) -> Daemon {
        let env = TestEnv::new();
        env.write_config(config);
        let mut cmd = Daemon::command(&env);
        crate::helper::in_own_session(&mut cmd);
        let d = Daemon::start_command(env, cmd);
        crate::helper::boost_autogroup(d.pid);
        d
    }

    fn spawn(env: TestEnv, path: Option<&str>) -> Daemon {
        let mut cmd = Daemon::command(&env);
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        Daemon::start_command(env, cmd)
    }

    /// Starts a daemon from a command made by [`Daemon::command`] or [`Daemon::command_via`].
    pub fn start_command(env: TestEnv, mut cmd: Command) -> Daemon {
        let child = cmd.spawn().expect("start the daemon");
        let pid = child.id();
        let mut d = Daemon {
            env,
            child: Some(child),
            pid,
        };
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(d.socket()).is_err() {
            if let Some(status) = d.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!(
                    "the daemon exited ({status}) before answering:\n{}",
                    d.output()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the daemon did not answer on its socket within 20 s:\n{}",
                d.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// The daemon command in `env`, output to files in the test directory.
    pub fn command(env: &TestEnv) -> Command {
        Daemon::command_via(env, assert_cmd::cargo::cargo_bin!("rogue-hunter"), &[])
    }

    /// `program PREFIX… daemon` in `env`: e.g. `setpriv --reuid=… BINARY daemon`.
    pub fn command_via(
        env: &TestEnv,
        program: impl AsRef<std::ffi::OsStr>,
        prefix: &[&std::ffi::OsStr],
    ) -> Command {
        let mut c = Command::new(program);
        let out = std::fs::File::create(env.root().join("daemon.out")).unwrap();
        c.args(prefix)
            .arg("daemon")
            .env_remove("ROGUE_HUNTER_CONFIG")
            .env_remove("ROGUE_HUNTER_LOG")
            .env("HOME", env.root())
            .env("XDG_CONFIG_HOME", env.root().join("config"))
            .env("XDG_DATA_HOME", env.root().join("data"))
            .env("XDG_STATE_HOME", env.root().join("state"))
            .env("XDG_RUNTIME_DIR", env.root().join("run"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        c
    }

    pub fn socket(&self) -> PathBuf {
        self.env.root().join("run/rogue-hunter/daemon.sock")
    }

    pub fn db_path(&self) -> PathBuf {
        self.env.root().join("data/rogue-hunter/data.db")
    }

    /// Console output so far (for failure messages).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.env.root().join("daemon.out")).unwrap_or_default()
    }

    /// A read-only connection to the daemon's database.
    pub fn db(&self) -> Connection {
        rogue_hunter::store::open_reader(&self.db_path()).expect("open the database")
    }

    /// Polls `cond` every 100 ms until it holds, or fails the test after `limit`.
    pub fn wait_until(&self, limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while !cond() {
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}; daemon output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.pid as i32, sig);
        }
    }

    /// Sends `sig` and waits for the exit, up to `limit`.
    pub fn stop_with(&mut self, sig: i32, limit: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        self.signal(sig);
        let mut child = self.child.take().expect("daemon running");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return (status, started.elapsed());
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "daemon did not exit within {limit:?} of signal {sig}; output:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Hands the environment over (the process must have exited).
    pub fn into_env(mut self) -> TestEnv {
        assert!(self.child.is_none(), "stop the daemon first");
        std::mem::replace(&mut self.env, TestEnv::new())
    }

    /// The latest sample timestamp the daemon recorded.
    pub fn last_sample_time(&self) -> Option<f64> {
        rogue_hunter::store::startup::last_sample_time(&self.db())
            .ok()
            .flatten()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
