//! The impact model end to end: the real daemon with the default scoring, real workloads (the
//! test helper), and the events it writes. Each test takes the machine alone (it judges the
//! machine's pressure), and as root gives the daemon and the workload nice -20 autogroups so
//! other people's builds on a shared machine do not decide the outcome.

use crate::common::{is_root, machine_alone};
use crate::daemon_fixture::Daemon;
use crate::helper::Helper;
use std::time::{Duration, Instant};

/// The default configuration, plus a heartbeat often enough to show in failure output.
const DEFAULTS: &str = "[system]\nheartbeat_samples = 30\n";

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// An event as the tests read it.
#[derive(Debug, Clone)]
struct Event {
    id: i64,
    pid: u32,
    command: String,
    entry_time: f64,
    peak_band: String,
    members: Option<i64>,
    reason: Option<String>,
    unit_key: Option<String>,
    /// The peak snapshot's dominant resource.
    dominant: String,
    captures: i64,
}

fn events(d: &Daemon) -> Vec<Event> {
    let db = d.db();
    let mut stmt = db
        .prepare(
            "SELECT e.id, e.pid, e.command, e.entry_time, e.peak_band, e.members, e.reason,
                 e.unit_key, s.dominant_resource,
                 (SELECT COUNT(*) FROM forensic_captures c WHERE c.event_id = e.id)
             FROM process_events e JOIN process_snapshots s ON s.id = e.peak_snapshot_id
             ORDER BY e.id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Event {
            id: r.get(0)?,
            pid: r.get(1)?,
            command: r.get(2)?,
            entry_time: r.get(3)?,
            peak_band: r.get(4)?,
            members: r.get(5)?,
            reason: r.get(6)?,
            unit_key: r.get(7)?,
            dominant: r.get(8)?,
            captures: r.get(9)?,
        })
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

fn now() -> f64 {
    rogue_hunter::sys::now_epoch()
}

/// Waits until `pick` finds an event, or fails after `limit` with the daemon's output.
fn wait_for_event(d: &Daemon, limit: Duration, what: &str, pick: impl Fn(&Event) -> bool) -> Event {
    let start = Instant::now();
    loop {
        if let Some(e) = events(d).into_iter().find(|e| pick(e)) {
            return e;
        }
        assert!(
            start.elapsed() < limit,
            "no event for {what} within {limit:?}; events: {:?}\ndaemon output:\n{}",
            events(d),
            d.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn one_busy_loop_is_a_cpu_event_within_ten_seconds_and_no_capture() {
    let _alone = machine_alone();
    let d = Daemon::start_boosted(DEFAULTS);
    std::thread::sleep(Duration::from_secs(2));
    let started = now();
    let hog = Helper::spawn_boosted(&["busy", "--threads", "1"]);
    let e = wait_for_event(&d, Duration::from_secs(15), "the busy loop", |e| {
        e.pid == hog.pid
    });
    let after = e.entry_time - started;
    assert!(after <= 10.5, "tracked {after:.1} s after the start");
    assert_eq!(e.dominant, "cpu", "{e:?}");
    assert!(
        ["medium", "elevated", "high", "critical"].contains(&e.peak_band.as_str()),
        "{e:?}"
    );
    let reason = e.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("cpu: 1.0 of ") || reason.starts_with("cpu: 0.9 of "),
        "{reason}"
    );
    assert_eq!(e.members, Some(1), "a process alone is a unit of one");
    // On two or more CPUs one loop can hold at most half the machine: no capture.
    std::thread::sleep(Duration::from_secs(6));
    if cpus() >= 2 {
        let e = events(&d).into_iter().find(|x| x.id == e.id).unwrap();
        assert_eq!(e.captures, 0, "{e:?}");
    }
}

#[test]
fn workers_of_one_program_saturating_the_cpus_are_one_event_with_their_members() {
    let _alone = machine_alone();
    let d = Daemon::start_boosted(DEFAULTS);
    std::thread::sleep(Duration::from_secs(2));
    let n = 2 * cpus();
    let started = now();
    let workers = Helper::spawn_boosted(&["workers", "--count", &n.to_string()]);
    let e = wait_for_event(&d, Duration::from_secs(25), "the workers", |e| {
        e.command == "rh-worker" && matches!(e.peak_band.as_str(), "high" | "critical")
    });
    let high_at: f64 = d
        .db()
        .query_row(
            "SELECT MIN(captured_at) FROM process_snapshots
             WHERE event_id = ?1 AND band IN ('high', 'critical')",
            [e.id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        high_at - started <= 15.0,
        "high or critical {:.1} s after the start",
        high_at - started
    );
    assert_eq!(e.dominant, "cpu");
    assert_eq!(
        e.unit_key.as_deref(),
        Some(format!("pgrp:{}:rh-worker", workers.pid).as_str()),
        "one program in the helper's process group"
    );
    let ours: Vec<Event> = events(&d)
        .into_iter()
        .filter(|x| x.command == "rh-worker")
        .collect();
    assert_eq!(ours.len(), 1, "one event for all the workers: {ours:?}");
    assert_eq!(ours[0].members, Some(n as i64), "{:?}", ours[0]);
    // The peak snapshot keeps each worker's own row.
    let peak: i64 = d
        .db()
        .query_row(
            "SELECT peak_snapshot_id FROM process_events WHERE id = ?1",
            [e.id],
            |r| r.get(0),
        )
        .unwrap();
    let rows = rogue_hunter::store::queries::snapshot_members(&d.db(), peak).unwrap();
    assert_eq!(rows.len(), n, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.command == "rh-worker" && r.ppid == workers.pid)
    );
    let reason = e.reason.unwrap_or_default();
    assert!(
        reason.starts_with("cpu: ") && reason.contains(" cores"),
        "{reason}"
    );
}

#[test]
fn a_fork_storm_is_a_cpu_event_of_the_forking_program() {
    let _alone = machine_alone();
    let d = Daemon::start_boosted(DEFAULTS);
    std::thread::sleep(Duration::from_secs(2));
    let storm = Helper::spawn_boosted(&["fork-loop"]);
    let e = wait_for_event(&d, Duration::from_secs(25), "the fork storm", |e| {
        e.pid == storm.pid
    });
    assert_eq!(e.command, "rogue-hunter-te", "the forking program is named");
    assert_eq!(e.dominant, "cpu", "{e:?}");
    let reason = e.reason.unwrap_or_default();
    assert!(
        reason.contains("in exited children") || reason.contains("new processes/s"),
        "the reason says where the CPU went: {reason}"
    );
}

#[test]
fn an_idle_minute_opens_no_event() {
    let _alone = machine_alone();
    let d = Daemon::start_boosted(&format!("{DEFAULTS}machine_snapshot_interval = 5\n"));
    // What an idle desktop has: processes that wake now and then.
    let sleepers = Helper::spawn_in_own_session(&["sleepers", "--count", "20", "--wake-ms", "100"]);
    let their_group = format!("pgrp:{}:", sleepers.pid);
    std::thread::sleep(Duration::from_secs(60));
    let all = events(&d);
    let ours: Vec<&Event> = all
        .iter()
        .filter(|e| {
            e.pid == d.pid
                || e.pid == sleepers.pid
                || e.unit_key
                    .as_deref()
                    .is_some_and(|k| k.starts_with(&their_group))
        })
        .collect();
    assert!(
        ours.is_empty(),
        "the daemon or the sleepers were tracked: {ours:?}"
    );
    // Anything else is someone else's work on a shared machine: allowed only when the
    // daemon saw the machine busy.
    if !all.is_empty() {
        let busy: f64 = d
            .db()
            .query_row(
                "SELECT MAX(MAX(cpu_busy), MAX(pressure_cpu) / 100.0) FROM machine_snapshots",
                [],
                |r| r.get::<_, Option<f64>>(0),
            )
            .unwrap()
            .unwrap_or(0.0);
        assert!(
            busy >= 0.5,
            "events on an idle machine (busy {busy:.2}): {all:?}"
        );
        eprintln!("note: the machine was not idle (others' load); their events: {all:?}");
    }
}

/// A memory cgroup with a limit, made for one test and removed after it (v2 where the memory
/// controller is delegated to the root's children, else v1).
struct MemoryCgroup {
    dir: std::path::PathBuf,
}

impl MemoryCgroup {
    /// `Err` says why there is none (not root, no memory controller).
    fn create(limit: u64) -> Result<MemoryCgroup, String> {
        if !is_root() {
            return Err("not root".into());
        }
        let name = format!("rh-test-{}", std::process::id());
        let has = |base: &str, file: &str| {
            std::fs::read_to_string(format!("{base}/{file}"))
                .is_ok_and(|t| t.split_whitespace().any(|c| c == "memory"))
        };
        for (base, knob) in [
            ("/sys/fs/cgroup", "memory.max"),
            ("/sys/fs/cgroup/unified", "memory.max"),
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes"),
        ] {
            if knob == "memory.max"
                && !(has(base, "cgroup.controllers") && has(base, "cgroup.subtree_control"))
            {
                continue;
            }
            if knob != "memory.max" && !std::path::Path::new(base).join(knob).exists() {
                continue;
            }
            let dir = std::path::Path::new(base).join(&name);
            std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let cg = MemoryCgroup { dir };
            std::fs::write(cg.dir.join(knob), limit.to_string())
                .map_err(|e| format!("{knob}: {e}"))?;
            return Ok(cg);
        }
        Err("no memory cgroup controller (v1 or v2)".into())
    }

    fn procs(&self) -> String {
        self.dir.join("cgroup.procs").display().to_string()
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Its last process may take a moment to leave after being killed.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn a_hog_thrashing_in_a_small_cgroup_is_named_for_memory_and_the_daemon_is_not_blamed() {
    // 150 MiB held + 96 MiB read at random through a mapping, in 224 MiB: every read faults.
    let cg = match MemoryCgroup::create(224 << 20) {
        Ok(cg) => cg,
        Err(why) => {
            eprintln!("skipped: a thrashing hog needs a memory cgroup: {why}");
            return;
        }
    };
    let _alone = machine_alone();
    let d = Daemon::start_boosted(DEFAULTS);
    std::thread::sleep(Duration::from_secs(2));
    let dir = tempfile::tempdir().unwrap();
    let hog = Helper::spawn_boosted(&[
        "thrash",
        "--mib",
        "150",
        "--file-mib",
        "96",
        "--dir",
        dir.path().to_str().unwrap(),
        "--cgroup",
        &cg.procs(),
        "--timeout",
        "120",
    ]);
    let e = wait_for_event(&d, Duration::from_secs(40), "the thrashing hog", |e| {
        e.pid == hog.pid && matches!(e.peak_band.as_str(), "high" | "critical")
    });
    assert_eq!(e.dominant, "memory", "{e:?}");
    let reason = e.reason.clone().unwrap_or_default();
    assert!(reason.contains("major faults/s"), "{reason}");
    // Its refaults keep the disk busy; the daemon's own small writes are not to blame.
    let own: Vec<Event> = events(&d).into_iter().filter(|e| e.pid == d.pid).collect();
    assert!(own.is_empty(), "the daemon blamed itself: {own:?}");
    hog.stop();
}
