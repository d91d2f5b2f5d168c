//! `perms install|uninstall|status` through the real binary: a copy of it runs as nobody,
//! first without file capabilities, then with the ones `perms install` grants.

use crate::common::{NOBODY, PrivilegedCopy, TestEnv};
use predicates::prelude::*;
use std::path::Path;

/// A root-owned process for nobody to look at.
struct RootSleeper(std::process::Child);

impl RootSleeper {
    fn start() -> RootSleeper {
        RootSleeper(
            std::process::Command::new("sleep")
                .arg("120")
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for RootSleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_as_nobody(env: &TestEnv, binary: &Path) -> String {
    let out = env
        .cmd_of("setpriv")
        .args(NOBODY)
        .arg(binary)
        .args(["perms", "status"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The report line after the mark for `what`, e.g. `line(text, "the kernel log")`.
fn mark_of(text: &str, what: &str) -> String {
    text.lines()
        .find(|l| {
            l.contains(what)
                && (l.starts_with("  yes") || l.starts_with("  no") || l.starts_with("  part"))
        })
        .unwrap_or_else(|| panic!("no line about {what}:\n{text}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn status_without_and_with_capabilities() {
    let Some(copy) = PrivilegedCopy::new() else {
        return;
    };
    let env = TestEnv::new();
    let _target = RootSleeper::start();
    let dmesg_restricted =
        std::fs::read_to_string("/proc/sys/kernel/dmesg_restrict").is_ok_and(|v| v.trim() == "1");

    let before = status_as_nobody(&env, &copy.binary);
    assert!(before.contains("(uid 65534)"), "{before}");
    assert!(before.contains("File capabilities:   none"), "{before}");
    assert!(before.contains("This process has:    none"), "{before}");
    assert_eq!(mark_of(&before, "disk I/O"), "no");
    assert!(before.contains("needs CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE"));
    assert_eq!(mark_of(&before, "kernel stacks"), "no");
    // perf_event_open on root's process: refused without CAP_SYS_PTRACE, whatever the
    // paranoid level.
    assert_eq!(mark_of(&before, "sampled profiles"), "no", "{before}");
    assert!(
        before.contains("needs CAP_SYS_PTRACE, CAP_PERFMON"),
        "{before}"
    );
    if dmesg_restricted {
        assert_eq!(mark_of(&before, "the kernel log"), "no");
    }
    assert!(before.contains("perms install"), "says how to fix it");

    let install = env
        .cmd_of(&copy.binary)
        .args(["perms", "install"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&install.stderr);
    if stderr.contains("does not support") {
        eprintln!("skipped: this filesystem cannot hold file capabilities: {stderr}");
        return;
    }
    assert!(install.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&install.stdout);
    assert!(text.contains("CAP_SYSLOG: read the kernel log"), "{text}");
    assert!(
        text.contains("CAP_PERFMON: sampled profiles with kernel frames"),
        "{text}"
    );

    let after = status_as_nobody(&env, &copy.binary);
    assert!(
        after.contains(
            "File capabilities:   cap_dac_read_search,cap_sys_ptrace,cap_sys_admin,cap_syslog,cap_perfmon=ep"
        ),
        "{after}"
    );
    assert!(
        after.contains(
            "This process has:    cap_dac_read_search,cap_sys_ptrace,cap_sys_admin,cap_syslog,cap_perfmon"
        ),
        "{after}"
    );
    assert_eq!(mark_of(&after, "disk I/O"), "yes", "{after}");
    assert_eq!(mark_of(&after, "kernel stacks"), "yes", "{after}");
    assert_eq!(mark_of(&after, "the kernel log"), "yes", "{after}");
    assert_eq!(mark_of(&after, "sampled profiles"), "yes", "{after}");
    if crate::common::which("eu-stack").is_some() {
        assert_eq!(mark_of(&after, "user-space stacks"), "yes", "{after}");
    }

    env.cmd_of(&copy.binary)
        .args(["perms", "uninstall"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Removed the file capabilities"));
    let removed = status_as_nobody(&env, &copy.binary);
    assert!(removed.contains("File capabilities:   none"), "{removed}");
    assert_eq!(mark_of(&removed, "disk I/O"), "no");
    env.cmd_of(&copy.binary)
        .args(["perms", "uninstall"])
        .assert()
        .success()
        .stdout(predicate::str::contains("had no file capabilities"));
}

#[test]
fn install_needs_root() {
    let Some(copy) = PrivilegedCopy::new() else {
        return;
    };
    let env = TestEnv::new();
    for action in ["install", "uninstall"] {
        env.cmd_of("setpriv")
            .args(NOBODY)
            .arg(&copy.binary)
            .args(["perms", action])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "Error: perms {action} needs root: run `sudo rogue-hunter perms {action}`"
            )));
    }
}

#[test]
fn other_commands_give_the_capabilities_up() {
    let Some(copy) = PrivilegedCopy::new() else {
        return;
    };
    let env = TestEnv::new();
    env.give_to_nobody();
    let install = env
        .cmd_of(&copy.binary)
        .args(["perms", "install"])
        .output()
        .unwrap();
    if !install.status.success() {
        eprintln!(
            "skipped: cannot set file capabilities here: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        return;
    }
    // The "editor" records the capabilities of its parent, the running `config edit`.
    let record = env.root().join("caps.txt");
    let editor = format!(
        "grep -E '^Cap(Prm|Eff)' /proc/$PPID/status > {};",
        record.display()
    );
    env.cmd_of("setpriv")
        .args(NOBODY)
        .arg(&copy.binary)
        .args(["config", "edit"])
        .env("VISUAL", &editor)
        .assert()
        .success();
    let caps = std::fs::read_to_string(&record).unwrap();
    assert_eq!(
        caps, "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n",
        "config edit kept its capabilities"
    );
}
