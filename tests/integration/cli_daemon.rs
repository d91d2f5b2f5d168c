//! The CLI against the real daemon: `status` of a live daemon and of one killed with SIGKILL
//! (its socket file left behind), and `capture --wait` of a busy helper.

use crate::daemon_fixture::{Daemon, TEST_CONFIG};
use crate::helper::Helper;
use std::sync::Mutex;
use std::time::Duration;

/// One busy helper from this file at a time: the machine has two cores, and other tests
/// (`daemon.rs`) assert on a helper's CPU share.
static ONE_HOG: Mutex<()> = Mutex::new(());

fn one_hog() -> std::sync::MutexGuard<'static, ()> {
    ONE_HOG.lock().unwrap_or_else(|p| p.into_inner())
}

/// TEST_CONFIG with forensics on and no pause between captures.
fn forensics_config() -> String {
    TEST_CONFIG.replace(
        "[forensics]\nenabled = false\n",
        "[forensics]\nenabled = true\nmin_interval_s = 0\n",
    )
}

fn run(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let out = d
        .env
        .cmd()
        .args(args)
        .timeout(Duration::from_secs(180))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn open_event_of(d: &Daemon, pid: u32) -> Option<i64> {
    d.db()
        .query_row(
            "SELECT id FROM process_events WHERE pid = ?1 AND exit_time IS NULL
             ORDER BY id DESC LIMIT 1",
            [pid],
            |r| r.get(0),
        )
        .ok()
}

#[test]
fn status_of_a_live_daemon_shows_it_and_what_it_tracks() {
    let _hog = one_hog();
    let d = Daemon::start(TEST_CONFIG);
    let hog = Helper::spawn(&["busy", "--threads", "1"]);
    d.wait_until(Duration::from_secs(20), "an event for the helper", || {
        open_event_of(&d, hog.pid).is_some()
    });
    let (code, out, err) = run(&d, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "Daemon: running (pid {}, version {})\nSampling: every 200 ms (5 per second), ring buffer ",
            d.pid,
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
    assert!(out.contains("\nCurrent: max score "), "{out}");
    assert!(out.contains("\nActive tracked processes: "), "{out}");
    assert!(out.contains(&format!("(PID {})", hog.pid)), "{out}");

    let (code, json, _) = run(&d, &["status", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["daemon"]["state"], "running");
    assert_eq!(v["daemon"]["pid"], d.pid);
    assert_eq!(v["daemon"]["samples_per_second"], 5.0);
    let current = &v["current"];
    let max = current["max_score"].as_u64().expect("a live sample");
    assert!(max >= 30, "the busy helper keeps the max score high: {max}");
    assert!(current["process_count"].as_u64().unwrap() > 1);
    assert!(
        v["open_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["pid"] == hog.pid && e["open"] == true),
        "{json}"
    );
    assert_eq!(v["database"]["exists"], true);
}

#[test]
fn a_socket_left_by_a_killed_daemon_reads_as_stopped_and_a_new_daemon_starts() {
    let mut d = Daemon::start(TEST_CONFIG);
    let first_pid = d.pid;
    d.stop_with(libc::SIGKILL, Duration::from_secs(5));
    assert!(d.socket().exists(), "SIGKILL leaves the socket file behind");

    let (code, out, err) = run(&d, &["status"]);
    assert_eq!(code, 3, "not running: the systemctl convention\n{err}");
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "Daemon: stopped (stale socket at {}: nothing listens on it)",
            d.socket().display()
        )
    );
    let (_, json, _) = run(&d, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["daemon"]["state"], "stopped");
    assert!(v["current"].is_null());

    let (code, _, err) = run(&d, &["capture"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error: the daemon is not running (stale socket"),
        "{err}"
    );

    let env = d.into_env();
    let d2 = Daemon::start_in(env);
    assert_ne!(d2.pid, first_pid);
    let (code, out, _) = run(&d2, &["status"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("Daemon: running (pid {}", d2.pid)),
        "{out}"
    );
}

#[test]
fn capture_wait_reports_the_status_of_every_part() {
    let _hog = one_hog();
    let d = Daemon::start(&forensics_config());
    let hog = Helper::spawn(&["busy", "--threads", "1"]);
    d.wait_until(Duration::from_secs(20), "an event for the helper", || {
        open_event_of(&d, hog.pid).is_some()
    });
    let pid = hog.pid.to_string();
    let (code, out, err) = run(&d, &["capture", "--pid", &pid, "--wait"]);
    assert_eq!(
        code,
        0,
        "stdout:\n{out}\nstderr:\n{err}\ndaemon:\n{}",
        d.output()
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Capture #"), "{out}");
    assert!(
        lines[0].ends_with("requested; waiting for it to finish…"),
        "{out}"
    );
    let done = lines
        .iter()
        .position(|l| l.contains(") done:"))
        .expect("a done line");
    // `Capture #C of event #E (trigger) done:`
    let head = lines[done];
    let capture_id: i64 = head["Capture #".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let event_id: i64 = head
        .split("event #")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    // The capture is the helper's event's, or (when the request arrived just after an automatic
    // capture of another event started) that capture, which then lists the manual trigger.
    let (event_pid, triggers): (u32, String) = d
        .db()
        .query_row(
            "SELECT e.pid, c.triggers FROM forensic_captures c
             JOIN process_events e ON e.id = c.event_id WHERE c.id = ?1",
            [capture_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let c_event: i64 = d
        .db()
        .query_row(
            "SELECT event_id FROM forensic_captures WHERE id = ?1",
            [capture_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(c_event, event_id, "the printed event is the capture's");
    // A manual request always gets a capture of its own, of the process it named.
    assert_eq!(
        event_pid, hog.pid,
        "capture {capture_id} belongs to the requested process (triggers {triggers})"
    );
    assert!(head.contains("(manual)"), "{head}");

    // Every part's status as printed is the status the database holds.
    let (buffer, stacks, logs, completed): (String, String, String, Option<f64>) = d
        .db()
        .query_row(
            "SELECT buffer_status, tailspin_status, logs_status, completed_at
             FROM forensic_captures WHERE id = ?1",
            [capture_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert!(completed.is_some());
    assert_eq!(buffer, "success", "the ring buffer is always there");
    for (label, status) in [("Buffer", &buffer), ("Stacks", &stacks), ("Logs", &logs)] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("  {label}: ")))
            .unwrap_or_else(|| panic!("no {label} line in:\n{out}"));
        assert!(
            line.starts_with(&format!("  {label}: {status}")),
            "{line} vs database {status}"
        );
        assert_ne!(status, "pending");
    }
    assert_eq!(
        lines.last().copied(),
        Some(format!("See it with: rogue-hunter events show {event_id} -f -t -l").as_str())
    );

    // The capture shows up in `events show` with the same part statuses.
    let (code, show, _) = run(&d, &["events", "show", &event_id.to_string()]);
    assert_eq!(code, 0);
    assert!(show.contains(&format!("  #{capture_id} [")), "{show}");
    assert!(show.contains(&format!("    Buffer: {buffer}")), "{show}");

    // Without --wait it returns once the daemon has accepted.
    let (code, out, err) = run(&d, &["capture", "--pid", &pid]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Capture #"), "{out}");

    // A process the daemon does not see: refused, with its reason.
    let (code, _, err) = run(&d, &["capture", "--pid", "4000000000"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error: the daemon refused the capture: no process with pid 4000000000"),
        "{err}"
    );
}
