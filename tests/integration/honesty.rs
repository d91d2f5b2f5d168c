//! Data honesty (issue 14): which boot an event belongs to, and manual captures that cannot
//! flood the database.

use crate::common::TestEnv;
use crate::daemon_fixture::Daemon;
use serde_json::Value;
use std::time::Duration;

/// Nothing gets tracked: the only events are the ones a test writes.
const QUIET: &str = "[system]\nsample_interval = 0.2\n[scoring]\nscore_multiplier = 0.01\n\
                     [forensics]\nenabled = false\n";

fn ids_listed(env: &TestEnv, args: &[&str]) -> Vec<i64> {
    let out = env.cmd().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// Issue 14, item 9: "the current boot" is the kernel's boot id, not an exact match on the
/// boot time (which moves with the clock: an event of this boot recorded with a boot time a few
/// seconds off was listed as "from an earlier boot"). Events written before boot ids (no id)
/// are matched to this boot by the daemon at start when their boot time is close.
#[test]
fn events_of_this_boot_are_found_by_boot_id_even_when_the_boot_time_moved() {
    let Some(boot_id) = rogue_hunter::sys::boot_id() else {
        eprintln!("skipped: this system has no boot id");
        return;
    };
    let btime = rogue_hunter::sys::boot_time().expect("boot time");
    let mut d = Daemon::start(QUIET);
    d.stop_with(libc::SIGTERM, Duration::from_secs(10));
    let env = d.into_env();
    let db = env.root().join("data/rogue-hunter/data.db");
    let now = rogue_hunter::sys::now_epoch();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let insert = |id: i64, boot_id: Option<&str>, boot_time: i64, entry: f64| {
            conn.execute(
                "INSERT INTO process_events (id, pid, command, boot_time, boot_id, entry_time,
                     exit_time, entry_band, peak_band, peak_score, exit_reason)
                 VALUES (?1, 4000 + ?1, 'job', ?2, ?3, ?4, ?4 + 5, 'high', 'high', 60,
                     'score_dropped')",
                rusqlite::params![id, boot_time, boot_id, entry],
            )
            .unwrap();
        };
        // This boot, 20 minutes ago, recorded when the clock said the boot was 7 s earlier.
        insert(101, Some(&boot_id), btime - 7, now - 1200.0);
        // This boot, before boot ids, with a boot time 4 s off.
        insert(102, None, btime + 4, now - 600.0);
        // An earlier boot, with an id and without.
        let other = "00000000-0000-4000-8000-000000000000";
        insert(103, Some(other), btime - 86_400, btime as f64 - 3600.0);
        insert(104, None, btime - 86_400, btime as f64 - 1800.0);
    }
    assert_eq!(
        ids_listed(&env, &["events", "--json", "-n", "0"]),
        [101],
        "by boot id, whatever the boot time says"
    );
    assert_eq!(
        ids_listed(&env, &["events", "--json", "-n", "0", "--all-boots"]),
        [101, 102, 103, 104]
    );
    // The daemon adopts the older event of this boot.
    let mut d = Daemon::start_in(env);
    d.wait_until(Duration::from_secs(10), "the boot id adopted", || {
        ids_listed(&d.env, &["events", "--json", "-n", "0"]) == [101, 102]
    });
    d.stop_with(libc::SIGTERM, Duration::from_secs(10));
    let env = d.into_env();
    let out = env.cmd().args(["status", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["boot_id"], Value::String(boot_id), "{v}");
}

/// Issue 14, item 11: manual captures are held to `[forensics] min_interval_s` apart (40
/// requests made 16 captures in 4 s); a request that comes too soon is refused with the time
/// the client may ask again, and asking then works.
#[test]
fn manual_captures_are_rate_limited_and_say_when_to_ask_again() {
    use rogue_hunter::ipc::{CaptureAnswer, Client};
    let d = Daemon::start(
        "[system]\nsample_interval = 0.2\n[scoring]\nscore_multiplier = 0.01\n\
         [forensics]\nmin_interval_s = 3.0\nstack_samples = 1\nuser_stacks = \"none\"\n",
    );
    let socket = d.socket();
    let pid = d.pid;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answers = rt.block_on(async move {
        let mut c = Client::connect(&socket).await.unwrap();
        let mut answers = Vec::new();
        for _ in 0..20 {
            answers.push(c.request_capture(Some(pid)).await.unwrap());
        }
        // Then once more, when told.
        let wait = answers.iter().find_map(|a| match a {
            CaptureAnswer::TooSoon { retry_after, .. } => Some(*retry_after),
            _ => None,
        });
        if let Some(w) = wait {
            tokio::time::sleep(w + Duration::from_millis(300)).await;
            answers.push(c.request_capture(Some(pid)).await.unwrap());
        }
        answers
    });
    let accepted = answers
        .iter()
        .filter(|a| matches!(a, CaptureAnswer::Accepted { .. }))
        .count();
    assert_eq!(accepted, 2, "one at once, one when told: {answers:?}");
    assert!(
        matches!(answers[0], CaptureAnswer::Accepted { .. }),
        "{answers:?}"
    );
    assert!(
        matches!(answers[20], CaptureAnswer::Accepted { .. }),
        "{answers:?}"
    );
    for a in &answers[1..20] {
        match a {
            CaptureAnswer::TooSoon {
                reason,
                retry_after,
            } => {
                assert!(*retry_after <= Duration::from_secs(3), "{a:?}");
                assert!(*retry_after > Duration::ZERO, "{a:?}");
                assert!(reason.contains("ask again in"), "{reason}");
                assert!(reason.contains("min_interval_s"), "{reason}");
            }
            other => panic!("expected too soon, got {other:?}"),
        }
    }
    // The CLI says it too, and fails.
    let out = d
        .env
        .cmd()
        .args(["capture", "--pid", &pid.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ask again in"), "{err}");
    let captures: i64 = d
        .db()
        .query_row("SELECT COUNT(*) FROM forensic_captures", [], |r| r.get(0))
        .unwrap();
    assert_eq!(captures, 2);
}
