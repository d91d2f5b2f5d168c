//! Shared helpers: an isolated environment per test (its own HOME and XDG directories).

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A private home for one test; every path rogue-hunter uses lands inside it.
pub struct TestEnv {
    pub dir: TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        // XDG_RUNTIME_DIR exists on a real system (the login manager creates it).
        std::fs::create_dir(dir.path().join("run")).expect("runtime dir");
        TestEnv { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_file(&self) -> PathBuf {
        self.root().join("config/rogue-hunter/config.toml")
    }

    /// The binary with this environment and nothing inherited that could redirect it.
    pub fn cmd(&self) -> Command {
        self.cmd_of(assert_cmd::cargo::cargo_bin!("rogue-hunter"))
    }

    /// Any program (a copy of the binary, `setpriv …`) with this environment.
    pub fn cmd_of(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_remove("ROGUE_HUNTER_CONFIG")
            .env_remove("VISUAL")
            .env_remove("EDITOR")
            .env_remove("ROGUE_HUNTER_LOG")
            .env("HOME", self.root())
            .env("XDG_CONFIG_HOME", self.root().join("config"))
            .env("XDG_DATA_HOME", self.root().join("data"))
            .env("XDG_STATE_HOME", self.root().join("state"))
            .env("XDG_RUNTIME_DIR", self.root().join("run"));
        c
    }

    /// Writes a config file at the default location.
    pub fn write_config(&self, text: &str) -> PathBuf {
        let path = self.config_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// `setpriv` arguments that run the rest of the command line as nobody (uid and gid 65534).
pub const NOBODY: &[&str] = &["--reuid=65534", "--regid=65534", "--clear-groups"];

/// Finds a program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A copy of the binary in a directory everyone can enter, for tests that give it file
/// capabilities and run it as another user. `None` (after saying why) unless running as root
/// with `setpriv`.
pub struct PrivilegedCopy {
    _dir: TempDir,
    pub binary: PathBuf,
}

impl PrivilegedCopy {
    pub fn new() -> Option<PrivilegedCopy> {
        use std::os::unix::fs::PermissionsExt;
        if !is_root() {
            eprintln!("skipped: needs root to run the binary as another user");
            return None;
        }
        if which("setpriv").is_none() {
            eprintln!("skipped: setpriv (util-linux) is not installed");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = dir.path().join("rogue-hunter");
        std::fs::copy(assert_cmd::cargo::cargo_bin!("rogue-hunter"), &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(PrivilegedCopy { _dir: dir, binary })
    }
}

impl TestEnv {
    /// Hands the environment's directory to nobody, for commands run through `setpriv`.
    pub fn give_to_nobody(&self) {
        std::os::unix::fs::chown(self.root(), Some(65534), Some(65534)).unwrap();
    }
}

/// Whether the tests run as root (the tests that need it skip otherwise, saying why).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// One machine for all tests of this binary: tests that load the CPU hard (busy loops, some
/// boosted to nice -20) share it; tests that judge timing (the sampler never stalls) take it
/// alone, so a neighbour's busy loop cannot pass for a stall.
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held by a test that puts heavy CPU load on the machine.
pub fn heavy_load() -> std::sync::RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|p| p.into_inner())
}

/// Held by a timing-sensitive test: no heavy test runs meanwhile.
pub fn machine_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(|p| p.into_inner())
}

/// Reads a socket client's raw lines until the server's answer to what it sent — an `error`
/// (its message) or a `pong` — skipping samples and notices; `None` when the server hung up.
pub async fn next_answer(
    rd: &mut tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    patience: std::time::Duration,
) -> Option<String> {
    use tokio::io::AsyncBufReadExt;
    loop {
        let mut line = String::new();
        let n = match tokio::time::timeout(patience, rd.read_line(&mut line))
            .await
            .expect("a line in time")
        {
            Ok(n) => n,
            // The server hung up with our unread input in its buffer: Linux resets the
            // connection (after delivering what the server wrote). A disconnect all the same.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read failed: {e}"),
        };
        if n == 0 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&line).expect("the server sends JSON");
        match v["type"].as_str() {
            Some("error") => return Some(v["message"].as_str().unwrap_or("").to_string()),
            Some("pong") => return Some("pong".to_string()),
            _ => continue,
        }
    }
}
