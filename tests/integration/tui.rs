//! The dashboard end to end: a real daemon, a busy helper, `rogue-hunter tui` in a tmux pane
//! read with `capture-pane`; then `q` (or a signal) and a check that the shell got its terminal
//! back.

use crate::common::which;
use crate::daemon_fixture::{Daemon, TEST_CONFIG};
use crate::helper::Helper;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server (its own socket, no user config) with one shell pane.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// A 120×40 pane running `sh` with the daemon's XDG environment and a known prompt.
    fn start(daemon: &Daemon) -> Tmux {
        let root = daemon.env.root();
        let t = Tmux {
            socket: root.join("tmux.sock"),
        };
        let shell = format!(
            "env -u ROGUE_HUNTER_CONFIG -u NO_COLOR HOME={r} XDG_CONFIG_HOME={r}/config \
             XDG_DATA_HOME={r}/data XDG_STATE_HOME={r}/state XDG_RUNTIME_DIR={r}/run \
             PS1='rh-test$ ' sh",
            r = root.display()
        );
        t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "120",
            "-y",
            "40",
            &shell,
        ]);
        t
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn pane(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    fn format(&self, f: &str) -> String {
        self.run(&["display-message", "-p", "-t", "main", f])
            .trim()
            .to_string()
    }

    /// Waits until `cond` holds for the pane's text; fails with the pane and the daemon's
    /// output after `limit`.
    fn wait_for(&self, daemon: &Daemon, limit: Duration, what: &str, cond: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let pane = self.pane();
            if cond(&pane) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}; pane:\n{pane}\ndaemon:\n{}",
                daemon.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

/// A row of TOP PROCESSES for this pid: the pid as a word, with the helper's name.
fn has_row(pane: &str, pid: u32) -> bool {
    let pid = pid.to_string();
    pane.lines().any(|l| {
        l.contains("rogue-hunter-te") && l.split(|c: char| !c.is_ascii_digit()).any(|w| w == pid)
    })
}

/// The child of `parent` whose command is `name`, if any.
fn child_named(parent: u32, name: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) =
            std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
        else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 2..]
            .split(' ')
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if comm == name && ppid == Some(parent) {
            return Some(pid);
        }
    }
    None
}

/// The shell has the terminal back: the normal screen, the exit status printed, and cooked
/// mode (canonical input and echo) restored.
fn assert_restored(tmux: &Tmux, daemon: &Daemon, tag: &str) {
    tmux.wait_for(
        daemon,
        Duration::from_secs(10),
        "the dashboard to exit",
        |p| p.contains(&format!("{tag}:0")),
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "left the alternate screen"
    );
    assert_eq!(
        tmux.format("#{cursor_flag}"),
        "1",
        "the cursor is visible again"
    );
    let pane = tmux.pane();
    assert!(
        !pane.contains("TOP PROCESSES"),
        "the dashboard is gone:\n{pane}"
    );
    tmux.send(&[
        "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo | tr '\\n' ' '; echo ':modes'",
        "Enter",
    ]);
    tmux.wait_for(daemon, Duration::from_secs(10), "stty's answer", |p| {
        p.lines().any(|l| l.trim_end() == "icanon echo :modes")
    });
}

#[test]
fn the_dashboard_shows_a_busy_process_and_gives_the_terminal_back() {
    if which("tmux").is_none() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let _load = crate::common::heavy_load();
    let daemon = Daemon::start(TEST_CONFIG);
    let helper = Helper::spawn(&["busy", "--threads", "1"]);
    let tmux = Tmux::start(&daemon);
    let bin = assert_cmd::cargo::cargo_bin!("rogue-hunter");
    let shell = tmux.format("#{pane_pid}").parse::<u32>().expect("pane pid");

    // Quit with q.
    tmux.send(&[
        &format!("{} tui; echo \"first:$?\"", bin.display()),
        "Enter",
    ]);
    tmux.wait_for(&daemon, Duration::from_secs(30), "the helper's row", |p| {
        has_row(p, helper.pid)
    });
    let pane = tmux.pane();
    assert!(pane.contains("● live"), "{pane}");
    assert!(
        pane.contains("STRESS") && pane.contains("EVENT HISTORY"),
        "{pane}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "the dashboard uses the alternate screen"
    );
    tmux.send(&["q"]);
    assert_restored(&tmux, &daemon, "first");

    // Stopped by SIGTERM (e.g. the session ends).
    tmux.send(&[
        &format!("{} tui; echo \"second:$?\"", bin.display()),
        "Enter",
    ]);
    tmux.wait_for(
        &daemon,
        Duration::from_secs(30),
        "the helper's row again",
        |p| has_row(p, helper.pid),
    );
    let tui = child_named(shell, "rogue-hunter").expect("the dashboard's pid");
    // SAFETY: kill(2) on a process this test started.
    unsafe {
        libc::kill(tui as i32, libc::SIGTERM);
    }
    assert_restored(&tmux, &daemon, "second");
}

#[test]
fn without_a_daemon_the_dashboard_says_so_and_keeps_trying() {
    if which("tmux").is_none() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    // A daemon environment whose daemon is stopped at once: no socket, no database yet.
    let mut daemon = Daemon::start(TEST_CONFIG);
    daemon.stop_with(libc::SIGTERM, Duration::from_secs(20));
    let tmux = Tmux::start(&daemon);
    let bin = assert_cmd::cargo::cargo_bin!("rogue-hunter");
    tmux.send(&[
        &format!("{} tui; echo \"third:$?\"", bin.display()),
        "Enter",
    ]);
    tmux.wait_for(
        &daemon,
        Duration::from_secs(15),
        "the reconnect countdown",
        |p| {
            p.contains("reconnecting in")
                && p.contains("DISCONNECTED")
                && p.contains("Run: rogue-hunter daemon")
        },
    );
    tmux.send(&["q"]);
    assert_restored(&tmux, &daemon, "third");
}

#[test]
fn without_a_terminal_the_dashboard_refuses_clearly() {
    let env = crate::common::TestEnv::new();
    env.cmd()
        .arg("tui")
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "Error: the dashboard needs a terminal",
        ));
}

/// `N` of the banner's `sample X/N`, if the pane shows one.
fn replay_position(pane: &str) -> Option<(u32, u32)> {
    let at = pane.find(" sample ")? + " sample ".len();
    let word = pane[at..].split(' ').next()?;
    let (x, n) = word.split_once('/')?;
    Some((x.parse().ok()?, n.parse().ok()?))
}

#[test]
fn an_event_opens_by_id_and_its_capture_replays_to_the_first_sample_and_back() {
    if which("tmux").is_none() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let config = TEST_CONFIG.replace(
        "[forensics]\nenabled = false\n",
        "[forensics]\nenabled = true\nmin_interval_s = 0\n",
    );
    // A busy helper: timing-sensitive tests (machine_alone) wait until it is gone.
    let _load = crate::common::heavy_load();
    let daemon = Daemon::start(&config);
    let helper = Helper::spawn(&["busy", "--threads", "1"]);
    daemon.wait_until(Duration::from_secs(30), "an event for the helper", || {
        daemon
            .db()
            .query_row(
                "SELECT id FROM process_events WHERE pid = ?1 AND exit_time IS NULL",
                [helper.pid],
                |r| r.get::<_, i64>(0),
            )
            .is_ok()
    });
    let out = daemon
        .env
        .cmd()
        .args(["capture", "--pid", &helper.pid.to_string(), "--wait"])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run capture");
    assert!(
        out.status.success(),
        "capture: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The newest capture with a stored ring buffer, and its event.
    let (capture, event): (i64, i64) = daemon
        .db()
        .query_row(
            "SELECT c.id, c.event_id FROM forensic_captures c
             JOIN buffer_context b ON b.capture_id = c.id
             ORDER BY c.id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("a capture with a buffer");

    let tmux = Tmux::start(&daemon);
    let bin = assert_cmd::cargo::cargo_bin!("rogue-hunter");
    tmux.send(&[
        &format!("{} tui --event {event}; echo \"event:$?\"", bin.display()),
        "Enter",
    ]);
    tmux.wait_for(
        &daemon,
        Duration::from_secs(30),
        "the event view with its captures",
        |p| p.contains(&format!("EVENT #{event}")) && p.contains(&format!("▶ #{capture}")),
    );
    let pane = tmux.pane();
    assert!(
        pane.contains("Score over the event") && pane.contains("buffer ok"),
        "{pane}"
    );

    tmux.send(&["r"]);
    tmux.wait_for(
        &daemon,
        Duration::from_secs(30),
        "the replay at the trigger",
        |p| replay_position(p).is_some_and(|(x, n)| x == n && n > 1),
    );
    let (_, n) = replay_position(&tmux.pane()).unwrap_or_default();
    let pane = tmux.pane();
    assert!(
        pane.contains(&format!("REPLAY capture #{capture} of event #{event}")),
        "{pane}"
    );
    assert!(
        has_row(&pane, helper.pid),
        "the helper in the replayed sample:\n{pane}"
    );

    tmux.send(&["Left"]);
    tmux.wait_for(&daemon, Duration::from_secs(10), "one sample back", |p| {
        replay_position(p) == Some((n - 1, n))
    });
    tmux.send(&["Home"]);
    tmux.wait_for(&daemon, Duration::from_secs(10), "the first sample", |p| {
        replay_position(p) == Some((1, n)) && p.contains("TOP PROCESSES at −")
    });
    tmux.send(&["]"]);
    tmux.wait_for(&daemon, Duration::from_secs(10), "ten samples on", |p| {
        replay_position(p) == Some((11.min(n), n))
    });
    tmux.send(&["End"]);
    tmux.wait_for(
        &daemon,
        Duration::from_secs(10),
        "back at the trigger",
        |p| replay_position(p) == Some((n, n)),
    );

    // Esc: live again, and the live table still shows the helper.
    tmux.send(&["Escape"]);
    tmux.wait_for(
        &daemon,
        Duration::from_secs(30),
        "the live dashboard",
        |p| !p.contains("REPLAY") && p.contains("● live") && has_row(p, helper.pid),
    );
    assert!(!tmux.pane().contains("TOP PROCESSES at"));
    tmux.send(&["q"]);
    assert_restored(&tmux, &daemon, "event");
}
