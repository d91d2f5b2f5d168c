//! The daemon's lifecycle with the real binary and real processes: events for a busy helper,
//! shutdown, crash recovery and single instance.

use crate::daemon_fixture::{Daemon, TEST_CONFIG};
use crate::helper::Helper;
use std::time::Duration;

fn open_event_of(d: &Daemon, pid: u32) -> Option<(i64, Option<f64>, Option<String>)> {
    d.db()
        .query_row(
            "SELECT id, exit_time, exit_reason FROM process_events WHERE pid = ?1 ORDER BY id DESC LIMIT 1",
            [pid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok()
}

#[test]
fn a_busy_helper_gets_an_event_that_closes_as_process_gone() {
    let _load = crate::common::heavy_load();
    let d = Daemon::start(TEST_CONFIG);
    let hog = Helper::spawn(&["busy", "--threads", "1"]);
    let pid = hog.pid;
    d.wait_until(
        Duration::from_secs(10),
        "an event for the busy helper",
        || open_event_of(&d, pid).is_some(),
    );
    let (event_id, exit, _) = open_event_of(&d, pid).unwrap();
    assert_eq!(exit, None, "the event is open while the helper runs");
    let entry: (String, i64, f64) = d
        .db()
        .query_row(
            "SELECT snapshot_type, score, cpu FROM process_snapshots WHERE event_id = ?1 ORDER BY id LIMIT 1",
            [event_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(entry.0, "entry");
    assert!(
        entry.1 >= 30,
        "entry score {} reached the tracking threshold",
        entry.1
    );
    assert!(
        entry.2 > 5.0, // under a loaded test machine the helper may get only part of a core
        "entry snapshot shows the CPU use ({}%)",
        entry.2
    );

    hog.stop();
    d.wait_until(Duration::from_secs(10), "the event to close", || {
        open_event_of(&d, pid).is_some_and(|(_, exit, _)| exit.is_some())
    });
    let (_, _, reason) = open_event_of(&d, pid).unwrap();
    assert_eq!(reason.as_deref(), Some("process_gone"));
}

#[test]
fn sigterm_exits_0_and_closes_open_events_as_daemon_stopped() {
    let _load = crate::common::heavy_load();
    let mut d = Daemon::start(TEST_CONFIG);
    let hog = Helper::spawn(&["busy", "--threads", "1"]);
    d.wait_until(
        Duration::from_secs(10),
        "an event for the busy helper",
        || open_event_of(&d, hog.pid).is_some(),
    );
    let (status, took) = d.stop_with(libc::SIGTERM, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "output:\n{}", d.output());
    assert!(took < Duration::from_secs(5));
    let (_, exit, reason) = open_event_of(&d, hog.pid).unwrap();
    assert!(exit.is_some(), "closed at shutdown");
    assert_eq!(reason.as_deref(), Some("daemon_stopped"));
    assert!(!d.socket().exists(), "the socket is removed");
    let open: i64 = d
        .db()
        .query_row(
            "SELECT COUNT(*) FROM process_events WHERE exit_time IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(open, 0);
}

#[test]
fn after_kill_9_the_leftover_event_closes_at_the_last_sample_time() {
    let _load = crate::common::heavy_load();
    let mut d = Daemon::start(TEST_CONFIG);
    let hog = Helper::spawn(&["busy", "--threads", "1"]);
    d.wait_until(
        Duration::from_secs(10),
        "an event for the busy helper",
        || open_event_of(&d, hog.pid).is_some(),
    );
    // Let a few more samples be recorded, then crash.
    std::thread::sleep(Duration::from_millis(800));
    let (status, _) = d.stop_with(libc::SIGKILL, Duration::from_secs(5));
    assert_eq!(status.code(), None, "killed by a signal");
    let last = d
        .last_sample_time()
        .expect("the daemon recorded its last sample time");
    let (event_id, exit, _) = open_event_of(&d, hog.pid).unwrap();
    assert_eq!(exit, None, "a crash leaves the event open");

    std::thread::sleep(Duration::from_millis(1500));
    let env = d.into_env();
    let mut d2 = Daemon::start_in(env);
    let (exit, reason): (Option<f64>, Option<String>) = d2
        .db()
        .query_row(
            "SELECT exit_time, exit_reason FROM process_events WHERE id = ?1",
            [event_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let exit = exit.expect("closed by the restart");
    assert!(
        (exit - last).abs() < 1e-3,
        "closed at the last sample time {last}, not the restart time (got {exit})"
    );
    assert_eq!(reason.as_deref(), Some("daemon_stopped"));
    d2.stop_with(libc::SIGTERM, Duration::from_secs(5));
}

#[test]
fn a_second_daemon_exits_1_and_the_first_keeps_sampling() {
    let d = Daemon::start(TEST_CONFIG);
    let before = d.last_sample_time().unwrap_or(0.0);
    let out = Daemon::command(&d.env)
        .output()
        .expect("run a second daemon");
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(d.env.root().join("daemon.out")).unwrap();
    assert!(
        text.contains("already running") && text.contains(&format!("pid {}", d.pid)),
        "{text}"
    );
    assert!(
        d.socket().exists(),
        "the first daemon's socket is untouched"
    );
    d.wait_until(
        Duration::from_secs(5),
        "the first daemon to keep sampling",
        || d.last_sample_time().unwrap_or(0.0) > before + 0.5,
    );
}

#[test]
fn sighup_reopens_the_log_file() {
    let d = Daemon::start(TEST_CONFIG);
    let log = d.env.root().join("state/rogue-hunter/daemon.log");
    let moved = d.env.root().join("state/rogue-hunter/daemon.log.old");
    d.wait_until(Duration::from_secs(5), "the log file", || log.exists());
    std::fs::rename(&log, &moved).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_until(
        Duration::from_secs(5),
        "a new log file with the reopen line",
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("log file reopened")),
    );
    let line = std::fs::read_to_string(&log).unwrap();
    let first: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert!(
        first["timestamp"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
    );
}
