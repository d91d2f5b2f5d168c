//! `service install|uninstall|status` and `man` through the real binary. Nothing here touches
//! the machine's systemd: the user unit lands in the test's XDG_CONFIG_HOME, and a test that
//! would really enable a unit skips where systemd runs.

use crate::common::TestEnv;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn binary() -> PathBuf {
    std::fs::canonicalize(assert_cmd::cargo::cargo_bin!("rogue-hunter")).unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks a unit with `systemd-analyze verify`, which names every unknown or malformed key.
fn verify_unit(text: &str, user: bool) {
    if crate::common::which("systemd-analyze").is_none() {
        eprintln!("skipped: systemd-analyze is not installed; the unit was not verified");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("rogue-hunter.service");
    std::fs::write(&file, text).unwrap();
    let runtime = t.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    let mut cmd = std::process::Command::new("systemd-analyze");
    if user {
        cmd.arg("--user").env("XDG_RUNTIME_DIR", &runtime);
    }
    let out = cmd
        .args(["verify", "--man=no"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}\n{text}"
    );
}

#[test]
fn install_print_shows_the_user_unit_and_changes_nothing() {
    let env = TestEnv::new();
    let out = env
        .cmd()
        .args(["service", "install", "--print"])
        .env("XDG_DATA_HOME", env.root().join("my data"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    let unit_path = env.root().join("config/systemd/user/rogue-hunter.service");
    assert!(
        text.starts_with(&format!(
            "# `service install` would write this unit to {}\n",
            unit_path.display()
        )),
        "{text}"
    );
    assert!(text.contains("systemctl --user enable --now rogue-hunter.service"));
    assert!(text.contains(&format!("ExecStart={} daemon\n", binary().display())));
    assert!(text.contains(&format!(
        "Environment=\"XDG_DATA_HOME={}\"\n",
        env.root().join("my data").display()
    )));
    assert!(text.contains("Restart=on-failure"));
    assert!(!unit_path.exists(), "--print wrote the unit");
    verify_unit(&text, true);
}

#[test]
fn install_print_system_shows_the_hardened_unit() {
    let env = TestEnv::new();
    let out = env
        .cmd()
        .args(["--system", "service", "install", "--print"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with(
        "# `service install` would write this unit to /etc/systemd/system/rogue-hunter.service\n"
    ));
    assert!(text.contains(&format!(
        "ExecStart={} --system daemon\n",
        binary().display()
    )));
    assert!(text.contains(
        "CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_SYS_ADMIN CAP_SYSLOG CAP_PERFMON\n"
    ));
    for option in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
    ] {
        assert!(text.contains(option), "{option}");
    }
    assert!(!text.contains("Environment="), "system paths are fixed");
    verify_unit(&text, false);
}

#[test]
fn install_status_uninstall_without_systemd() {
    if Path::new("/run/systemd/system").exists() {
        eprintln!("skipped: systemd runs here, and this test must not enable a real service");
        return;
    }
    let env = TestEnv::new();
    let config = env.write_config("[bands]\nmedium = 41\n");
    let unit_path = env.root().join("config/systemd/user/rogue-hunter.service");

    env.cmd()
        .args(["service", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Unit:    not installed"));

    let out = env
        .cmd()
        .args(["--config"])
        .arg(&config)
        .args(["service", "install"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.contains(&format!("Wrote {}", unit_path.display())),
        "{text}"
    );
    assert!(
        text.contains("systemd is not running on this machine"),
        "{text}"
    );
    assert!(text.contains("systemctl --user enable --now rogue-hunter.service"));
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(
        unit.contains(&format!(
            "ExecStart={} --config {} daemon\n",
            binary().display(),
            config.display()
        )),
        "{unit}"
    );
    assert!(unit.contains(&format!(
        "Environment=XDG_STATE_HOME={}\n",
        env.root().join("state").display()
    )));

    // The same install again changes nothing.
    env.cmd()
        .args(["--config"])
        .arg(&config)
        .args(["service", "install"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Unchanged"));

    env.cmd()
        .args(["service", "status"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Unit:    installed")
                .and(predicate::str::contains(format!(
                    "Runs:    {}",
                    binary().display()
                )))
                .and(predicate::str::contains("systemd is not running")),
        );

    // The database and logs survive a plain uninstall.
    let data = env.root().join("data/rogue-hunter");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("data.db"), b"keep me").unwrap();
    env.cmd()
        .args(["service", "uninstall"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Removed").and(predicate::str::contains("Kept the database")),
        );
    assert!(!unit_path.exists());
    assert!(data.join("data.db").exists());
    env.cmd()
        .args(["service", "uninstall"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Service was not installed"));
}

#[test]
fn uninstall_delete_data_removes_database_and_logs_but_not_the_config() {
    let env = TestEnv::new();
    let config = env.write_config("");
    let data = env.root().join("data/rogue-hunter");
    let state = env.root().join("state/rogue-hunter");
    for d in [&data, &state] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("f"), b"x").unwrap();
    }
    env.cmd()
        .args(["service", "uninstall", "--delete-data", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Removed {}",
            data.display()
        )));
    assert!(!data.exists() && !state.exists());
    assert!(config.exists());
}

#[test]
fn uninstall_delete_data_asks_first() {
    let env = TestEnv::new();
    let data = env.root().join("data/rogue-hunter");
    std::fs::create_dir_all(&data).unwrap();
    env.cmd()
        .args(["service", "uninstall", "--delete-data"])
        .write_stdin("n\n")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Delete {}?",
            data.display()
        )));
    assert!(data.exists(), "answering no keeps the data");
}

#[test]
fn the_system_service_needs_root() {
    let Some(copy) = crate::common::PrivilegedCopy::new() else {
        return;
    };
    let env = TestEnv::new();
    env.cmd_of("setpriv")
        .args(crate::common::NOBODY)
        .arg(&copy.binary)
        .args(["--system", "service", "install"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Error: `service install` of the system service needs root: run `sudo rogue-hunter --system service install`",
        ));
}

#[test]
fn man_page_is_generated_from_the_cli() {
    let env = TestEnv::new();
    let out = env.cmd().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.contains(".TH rogue-hunter 1"));
    for command in ["service", "perms", "config", "completions"] {
        assert!(
            page.contains(&format!("rogue\\-hunter\\-{command}(1)")),
            "{command}"
        );
    }
    let dir = env.root().join("man");
    env.cmd()
        .args(["man", "--out-dir"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("rogue-hunter-service-install.1"));
    assert!(dir.join("rogue-hunter.1").exists());
    assert!(dir.join("rogue-hunter-perms-status.1").exists());
    if crate::common::which("man").is_some() {
        let rendered = std::process::Command::new("man")
            .arg("-l")
            .arg(dir.join("rogue-hunter.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("EXIT STATUS"), "{text}");
    } else {
        eprintln!("skipped: man is not installed; the page was not rendered");
    }
}
