//! `config …`, `completions`, `--version` and exit codes through the real binary.

use crate::common::TestEnv;
use predicates::prelude::*;
use rogue_hunter::config::{Config, load_file};

/// Each bad file: (name, contents, what the error must name, its line).
const BAD_FILES: &[(&str, &str, &str, usize)] = &[
    (
        "syntax error",
        "[bands]\nmedium = = 3\n",
        "TOML syntax error",
        2,
    ),
    (
        "wrong type",
        "[bands]\nmedium = \"forty\"\n",
        "bands.medium",
        2,
    ),
    (
        "unknown key",
        "[system]\nsample_intervall = 1.0\n",
        "system.sample_intervall",
        2,
    ),
    ("unknown section", "[alerts]\nemail = \"x\"\n", "alerts", 1),
    (
        "unknown band name",
        "[bands]\ntracking_band = \"elavated\"\n",
        "bands.tracking_band",
        2,
    ),
    (
        "thresholds out of order",
        "[bands]\nhigh = 80\ncritical = 70\n",
        "bands.critical",
        3,
    ),
    (
        "interval 0",
        "[system]\nsample_interval = 0\n",
        "system.sample_interval",
        2,
    ),
    (
        "checkpoint 0",
        "[bands]\nelevated_checkpoint_samples = 0\n",
        "bands.elevated_checkpoint_samples",
        2,
    ),
    (
        "negative delay",
        "[system]\nforensics_debounce = -2.0\n",
        "system.forensics_debounce",
        2,
    ),
    (
        "bad colour",
        "[tui.colors.trends]\nworsening = \"bold blurple\"\n",
        "tui.colors.trends.worsening",
        2,
    ),
    (
        "bad sparkline orientation",
        "[tui.sparkline]\norientation = \"diagonal\"\n",
        "tui.sparkline.orientation",
        2,
    ),
    (
        "invalid metrics listen address",
        "[metrics]\nlisten = \"9464\"\n",
        "metrics.listen",
        2,
    ),
    (
        "ring buffer 0",
        "\n[system]\nring_buffer_size = 0\n",
        "system.ring_buffer_size",
        3,
    ),
    (
        "bad direction",
        "[tui.sparkline]\ndirection = \"up\"\n",
        "tui.sparkline.direction",
        2,
    ),
];

#[test]
fn config_validate_rejects_every_bad_file_with_exit_2() {
    let env = TestEnv::new();
    for (name, text, needle, line) in BAD_FILES {
        let file = env.root().join(format!("{}.toml", name.replace(' ', "_")));
        std::fs::write(&file, text).unwrap();
        let out = env
            .cmd()
            .args(["config", "validate"])
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.starts_with("Error: "), "{name}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{name}: expected {needle} in {stderr}"
        );
        assert!(
            stderr.contains(&format!("line {line}, column")),
            "{name}: expected line {line} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn a_bad_config_in_use_stops_other_commands_with_exit_2() {
    let env = TestEnv::new();
    env.write_config("[bands]\nmedium = 90\n");
    env.cmd()
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bands.elevated"));
}

#[test]
fn config_validate_accepts_a_good_file_and_the_missing_default() {
    let env = TestEnv::new();
    env.cmd()
        .args(["config", "validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("defaults are in use"));
    env.write_config("[bands]\nmedium = 30\n[tui.colors.bands]\ncritical = \"magenta\"\n");
    env.cmd()
        .args(["config", "validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Config is valid"));
    env.cmd()
        .args(["config", "validate", "/nonexistent/file.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such file"));
}

#[test]
fn config_show_without_a_file_prints_the_defaults() {
    let env = TestEnv::new();
    env.cmd()
        .args(["config", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("# Config file: "))
        .stdout(predicate::str::contains("does not exist"))
        .stdout(predicate::str::contains("[retention]\nevents_days = 90"))
        .stdout(predicate::str::contains("[bands]\nmedium = 40"))
        .stdout(predicate::str::contains("critical = 70"))
        .stdout(predicate::str::contains("# default").not());
}

#[test]
fn config_show_marks_values_that_differ_from_the_defaults() {
    let env = TestEnv::new();
    env.write_config("[retention]\nevents_days = 60\n[bands]\nmedium = 15\n");
    env.cmd()
        .args(["config", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("# The effective configuration"))
        .stdout(predicate::str::contains("medium = 15  # default: 40"))
        .stdout(predicate::str::contains("events_days = 60  # default: 90"))
        .stdout(predicate::str::contains("critical = 70\n"));
}

#[test]
fn config_path_honours_xdg_the_flag_and_the_environment() {
    let env = TestEnv::new();
    env.cmd()
        .args(["config", "path"])
        .assert()
        .success()
        .stdout(format!("{}\n", env.config_file().display()));
    env.cmd()
        .args(["--config", "/etc/elsewhere.toml", "config", "path"])
        .assert()
        .success()
        .stdout("/etc/elsewhere.toml\n");
    env.cmd()
        .env("ROGUE_HUNTER_CONFIG", "/srv/rh.toml")
        .args(["config", "path"])
        .assert()
        .success()
        .stdout("/srv/rh.toml\n");
}

/// A fake editor that records its arguments, and optionally writes given text to the file.
fn fake_editor(env: &TestEnv, writes: Option<&str>) -> std::path::PathBuf {
    let script = env.root().join("editor.sh");
    let log = env.root().join("editor.log");
    let mut body = format!("#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n", log.display());
    if let Some(text) = writes {
        body.push_str(&format!(
            "printf '{}' > \"$1\"\n",
            text.replace('\n', "\\n")
        ));
    }
    std::fs::write(&script, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn config_edit_creates_the_file_and_runs_the_editor_once_with_the_path() {
    let env = TestEnv::new();
    let editor = fake_editor(&env, None);
    env.cmd()
        .env("EDITOR", &editor)
        .args(["config", "edit"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Created default config at {}",
            env.config_file().display()
        )))
        .stdout(predicate::str::contains("Config is valid"));
    assert!(env.config_file().exists());
    let log = std::fs::read_to_string(env.root().join("editor.log")).unwrap();
    assert_eq!(log, format!("{}\n", env.config_file().display()));
    assert_eq!(load_file(&env.config_file()).unwrap(), Config::default());
}

#[test]
fn config_edit_prefers_visual_and_reports_problems_after_editing() {
    let env = TestEnv::new();
    env.write_config("");
    let editor = fake_editor(&env, Some("[bands]\nmedium = 0\n"));
    env.cmd()
        .env("VISUAL", &editor)
        .env("EDITOR", "/bin/false")
        .args(["config", "edit"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bands.medium"))
        .stderr(predicate::str::contains("line 2"));
}

#[test]
fn config_reset_asks_first_and_restores_the_defaults() {
    let env = TestEnv::new();
    let path = env.write_config("[bands]\nmedium = 15\n");
    env.cmd()
        .args(["config", "reset"])
        .write_stdin("")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Reset config to defaults? [y/N]"))
        .stderr(predicate::str::contains("aborted"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "[bands]\nmedium = 15\n"
    );
    env.cmd()
        .args(["config", "reset"])
        .write_stdin("y\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("Config reset to defaults at"));
    assert_eq!(load_file(&path).unwrap(), Config::default());
    std::fs::write(&path, "[bands]\nmedium = 15\n").unwrap();
    env.cmd()
        .args(["config", "reset", "--yes"])
        .assert()
        .success();
    assert_eq!(load_file(&path).unwrap(), Config::default());
}

#[test]
fn version_help_completions_and_usage_errors() {
    let env = TestEnv::new();
    env.cmd()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("rogue-hunter {}\n", env!("CARGO_PKG_VERSION")));
    env.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: rogue-hunter"));
    for shell in ["bash", "zsh", "fish"] {
        env.cmd()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("rogue-hunter"));
    }
    env.cmd()
        .arg("frobnicate")
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("Error: "));
    env.cmd()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("Error: "));
    env.cmd().assert().code(2);
}
