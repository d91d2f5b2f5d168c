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
        TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_file(&self) -> PathBuf {
        self.root().join("config/rogue-hunter/config.toml")
    }

    /// The binary with this environment and nothing inherited that could redirect it.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin!("rogue-hunter"));
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
