//! Forensic captures through the real daemon: every part ends final, the whole ring buffer is
//! stored, stacks and logs are what the machine allows, tools that are absent or hang end as
//! `skipped`/`timeout`, and captures never stall the samples.

use crate::common::{TestEnv, is_root, machine_alone};
use crate::daemon_fixture::Daemon;
use crate::helper::Helper;
use rogue_hunter::ipc::client::Client;
use rogue_hunter::ipc::{CaptureAnswer, CaptureState, ServerMessage};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Busy helpers become critical (so captures trigger by themselves): the fair-share model
/// scaled up, which tracks a busy loop within a sample whatever else runs.
const AUTO: &str = r#"
[system]
sample_interval = 0.2
ring_buffer_size = 30
[scoring]
model = "fair-share"
score_multiplier = 50.0
[bands]
medium = 30
elevated = 31
high = 32
critical = 33
[forensics]
min_interval_s = 0
"#;

/// Only manual captures (critical is out of reach).
fn manual_config(extra: &str) -> String {
    format!(
        "[system]\nsample_interval = 0.2\nring_buffer_size = 30\n\
         [scoring]\nmodel = \"fair-share\"\n[bands]\ncritical = 99\n\
         [forensics]\nmin_interval_s = 0\n{extra}"
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Asks the daemon for a capture of `pid` and waits until it is done; returns its id and the
/// part statuses the daemon announced, by name (the names on the wire).
pub fn capture_and_wait(d: &Daemon, pid: u32) -> (i64, BTreeMap<String, String>) {
    // The daemon may run as another user (`profile` starts one as nobody): connect to it as the
    // user owning its runtime dir, which the fixture made.
    let daemon_uid = d
        .socket()
        .parent()
        .and_then(|dir| std::fs::metadata(dir).ok())
        .map_or_else(rogue_hunter::paths::effective_uid, |m| {
            std::os::unix::fs::MetadataExt::uid(&m)
        });
    rt().block_on(async {
        let mut c = Client::connect_to(d.socket(), daemon_uid)
            .await
            .expect("connect");
        let id = match c.request_capture(Some(pid)).await.expect("capture request") {
            CaptureAnswer::Accepted { capture_id } => capture_id,
            CaptureAnswer::Refused { reason } | CaptureAnswer::TooSoon { reason, .. } => {
                panic!("capture refused: {reason}")
            }
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(60), c.next())
                .await
                .expect("capture notice in time")
                .unwrap_or_else(|e| panic!("lost the daemon: {e}; its output:\n{}", d.output()));
            if let ServerMessage::Capture(n) = msg
                && n.capture_id == id
                && n.state == CaptureState::Done
            {
                let by_name = n.statuses.iter();
                return (
                    id,
                    by_name
                        .map(|(p, s)| (p.to_string(), s.to_string()))
                        .collect(),
                );
            }
            assert!(Instant::now() < deadline, "capture {id} did not finish");
        }
    })
}

/// (status, error) of one part of a capture, by column prefix (`tailspin`, `logs`, `buffer`).
fn part(d: &Daemon, capture_id: i64, col: &str) -> (String, Option<String>) {
    d.db()
        .query_row(
            &format!("SELECT {col}_status, {col}_error FROM forensic_captures WHERE id = ?1"),
            [capture_id],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    r.get(1)?,
                ))
            },
        )
        .unwrap()
}

fn count(d: &Daemon, sql: &str, id: i64) -> i64 {
    d.db().query_row(sql, [id], |r| r.get(0)).unwrap()
}

#[test]
fn an_automatic_capture_ends_final_and_stores_the_whole_buffer() {
    let _load = crate::common::heavy_load();
    let d = Daemon::start(AUTO);
    let hog = Helper::spawn(&["busy", "--threads", "1"]);
    // Its trigger starts a capture of its own, or rides along with one already running.
    let capture_of_hog = || -> Option<(i64, bool)> {
        d.db()
            .query_row(
                "SELECT c.id, e.pid = ?1 FROM forensic_captures c JOIN process_events e \
                 ON e.id = c.event_id \
                 WHERE (e.pid = ?1 OR c.triggers LIKE '%pid ' || ?1 || ')%') \
                 AND c.completed_at IS NOT NULL ORDER BY c.id LIMIT 1",
                [hog.pid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    };
    d.wait_until(
        Duration::from_secs(30),
        "a finished capture of the hog's event",
        || capture_of_hog().is_some(),
    );
    let (id, own) = capture_of_hog().unwrap();
    for col in ["buffer", "tailspin", "logs"] {
        let (status, error) = part(&d, id, col);
        assert!(
            ["success", "partial", "failed", "skipped", "timeout"].contains(&status.as_str()),
            "{col} ended {status} ({error:?})"
        );
    }
    let (spindump, _) = part(&d, id, "spindump");
    assert_eq!(spindump, "", "no decode step on Linux (NULL)");
    assert_eq!(part(&d, id, "buffer").0, "success");

    let frozen = count(
        &d,
        "SELECT sample_count FROM buffer_context WHERE capture_id = ?1",
        id,
    );
    assert!(frozen >= 1);
    let samples = count(
        &d,
        "SELECT COUNT(*) FROM buffer_samples s JOIN buffer_context b ON b.id = s.context_id \
         WHERE b.capture_id = ?1",
        id,
    );
    assert_eq!(samples, frozen, "one buffer_samples row per frozen sample");
    let expected = count(
        &d,
        "SELECT SUM(s.process_count) FROM buffer_samples s JOIN buffer_context b \
         ON b.id = s.context_id WHERE b.capture_id = ?1",
        id,
    );
    let stored = count(
        &d,
        "SELECT COUNT(*) FROM buffer_sample_processes p JOIN buffer_samples s ON s.id = p.sample_id \
         JOIN buffer_context b ON b.id = s.context_id WHERE b.capture_id = ?1",
        id,
    );
    assert_eq!(stored, expected, "every process of every frozen sample");
    let culprits: String = d
        .db()
        .query_row(
            "SELECT culprits FROM buffer_context WHERE capture_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    if own {
        assert!(
            culprits.contains(&format!("\"pid\":{}", hog.pid)),
            "the hog is among the culprits of its own capture: {culprits}"
        );
    }
}

#[test]
fn as_root_stacks_show_every_sleeping_thread_in_the_kernel_and_the_hog_in_user_space() {
    if !is_root() {
        eprintln!("skipped: kernel stacks need root");
        return;
    }
    let _load = crate::common::heavy_load();
    // The /proc path (the profile has its own tests in profile.rs).
    let d = Daemon::start(&manual_config("profile_seconds = 0\n"));
    let sleeper = Helper::spawn(&["threads", "--count", "4"]);
    let marker = format!("rogue-hunter-forensics-test-{}", std::process::id());
    let kmsg_ok = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(format!("<6>{marker}\n").as_bytes())
        })
        .is_ok();

    // User stacks are asked for (eu-stack, the default): without the tool the part is partial.
    let complete_stacks = if rogue_hunter::forensics::tool::find_on_path("eu-stack").is_some() {
        "success"
    } else {
        "partial"
    };
    let (id, statuses) = capture_and_wait(&d, sleeper.pid);
    assert_eq!(
        statuses.get("stacks").map(String::as_str),
        Some(complete_stacks),
        "{statuses:?}: {:?}",
        part(&d, id, "tailspin").1
    );
    let threads: Vec<(String, i64, i64)> = {
        let db = d.db();
        let mut st = db
            .prepare(
                "SELECT t.thread_id, \
                   (SELECT COUNT(*) FROM tailspin_frame f WHERE f.thread_id = t.id AND f.is_kernel = 1), \
                   (SELECT COUNT(*) FROM tailspin_frame f WHERE f.thread_id = t.id AND f.is_kernel = 0) \
                 FROM tailspin_thread t JOIN tailspin_process p ON p.id = t.process_id \
                 WHERE p.capture_id = ?1 AND p.pid = ?2",
            )
            .unwrap();
        st.query_map([id, i64::from(sleeper.pid)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    assert_eq!(threads.len(), 5, "main thread + 4 sleepers: {threads:?}");
    for (tid, kernel, _) in &threads {
        assert!(*kernel > 0, "thread {tid} has kernel frames: {threads:?}");
    }
    let images = count(
        &d,
        "SELECT COUNT(*) FROM tailspin_binary_image i JOIN tailspin_process p ON p.id = i.process_id \
         WHERE p.capture_id = ?1 AND i.uuid IS NOT NULL AND i.is_kernel = 0",
        id,
    );
    assert!(images > 0, "binary images with build-ids");
    if kmsg_ok {
        let found = count(
            &d,
            &format!(
                "SELECT COUNT(*) FROM log_entries WHERE capture_id = ?1 AND event_message LIKE '%{marker}%'"
            ),
            id,
        );
        assert_eq!(found, 1, "the kernel log line written before the capture");
    } else {
        eprintln!("note: /dev/kmsg not writable here; kernel log rows not checked");
    }

    let hog = Helper::spawn_in_own_session(&["busy", "--threads", "1"]);
    let (id, statuses) = capture_and_wait(&d, hog.pid);
    assert_eq!(
        statuses.get("stacks").map(String::as_str),
        Some(complete_stacks),
        "{statuses:?}: {:?}",
        part(&d, id, "tailspin").1
    );
    // A thread spinning in user space is never inside a system call: its kernel stack is empty,
    // or (when a timer interrupt preempted it just then, as on a loaded machine) only the
    // interrupt's return path.
    let (state, user_frames, syscall_frames): (String, i64, i64) = d
        .db()
        .query_row(
            "SELECT t.state, \
               (SELECT COUNT(*) FROM tailspin_frame f WHERE f.thread_id = t.id AND f.is_kernel = 0), \
               (SELECT COUNT(*) FROM tailspin_frame f WHERE f.thread_id = t.id AND f.is_kernel = 1 \
                  AND (f.symbol_name LIKE '%syscall%' OR f.symbol_name LIKE '%sys\\_%' ESCAPE '\\')) \
             FROM tailspin_thread t JOIN tailspin_process p ON p.id = t.process_id \
             WHERE p.capture_id = ?1 AND p.pid = ?2 AND t.thread_id != ?3",
            [id, i64::from(hog.pid), i64::from(hog.pid)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(state, "running");
    assert_eq!(
        syscall_frames, 0,
        "a thread that is always running shows no system call in its kernel stack"
    );
    if rogue_hunter::forensics::tool::find_on_path("eu-stack").is_some() {
        assert!(user_frames > 0, "eu-stack gave the busy thread user frames");
        let source: String = d
            .db()
            .query_row(
                "SELECT stack_source FROM forensic_captures WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(source, "procfs+eu-stack");
    } else {
        eprintln!("note: eu-stack is not installed; user frames not checked");
    }
}

#[test]
fn without_eu_stack_user_stacks_are_skipped_with_the_reason() {
    let env = TestEnv::new();
    env.write_config(&manual_config("profile_seconds = 0\n"));
    let d = Daemon::start_with_path(env, "/nonexistent-bin");
    let sleeper = Helper::spawn(&["sleep"]);
    let (id, _) = capture_and_wait(&d, sleeper.pid);
    let (status, error) = part(&d, id, "tailspin");
    let error = error.unwrap_or_default();
    if is_root() {
        // Kernel stacks were taken, user stacks were asked for and are missing: not a success.
        assert_eq!(status, "partial", "kernel stacks still taken: {error}");
    }
    assert!(
        error.contains("user stacks skipped: eu-stack is not installed"),
        "{status}: {error}"
    );
}

#[test]
fn a_hanging_tool_times_out_and_the_daemon_keeps_sampling() {
    let env = TestEnv::new();
    env.write_config(&manual_config(
        "tool_timeout_s = 1.0\nprofile_seconds = 0\n",
    ));
    let bin = env.root().join("fake-bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("eu-stack");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 60\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let d = Daemon::start_with_path(env, &path);
    let sleeper = Helper::spawn(&["sleep"]);
    let before = d.last_sample_time().unwrap_or(0.0);
    let (id, statuses) = capture_and_wait(&d, sleeper.pid);
    assert_eq!(
        statuses.get("stacks").map(String::as_str),
        Some("timeout"),
        "{statuses:?}"
    );
    let (_, error) = part(&d, id, "tailspin");
    assert!(
        error
            .unwrap_or_default()
            .contains("eu-stack did not finish within 1.0 s")
    );
    d.wait_until(Duration::from_secs(5), "sampling to go on", || {
        d.last_sample_time().unwrap_or(0.0) > before + 1.5
    });
}

#[test]
fn a_process_exiting_mid_capture_fails_the_stacks_with_the_reason() {
    let d = Daemon::start(&manual_config(
        "stack_samples = 40\nstack_sample_interval_ms = 100\n",
    ));
    let target = Helper::spawn(&["sleep"]);
    let pid = target.pid;
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        target.stop();
    });
    let (id, statuses) = capture_and_wait(&d, pid);
    killer.join().unwrap();
    assert_eq!(
        statuses.get("stacks").map(String::as_str),
        Some("failed"),
        "{statuses:?}"
    );
    let (_, error) = part(&d, id, "tailspin");
    let error = error.unwrap_or_default();
    assert!(error.contains(&format!("process {pid} exited")), "{error}");
    assert_eq!(
        part(&d, id, "buffer").0,
        "success",
        "the buffer is still stored"
    );
}

/// Captures back to back at 10 Hz with ~300 extra processes, each with a sampled profile of
/// the 9-thread target: no sample goes missing and none arrives more than 3 intervals after the
/// previous one.
#[test]
fn captures_back_to_back_never_stall_the_samples() {
    let _alone = machine_alone();
    // 2 s profiles (the default is 3) so at least three captures fit in the 11 s of driving.
    let d = Daemon::start(
        "[system]\nsample_interval = 0.1\n[bands]\ncritical = 99\n[forensics]\nmin_interval_s = 0\n\
         profile_seconds = 2\n",
    );
    let _crowd = Helper::spawn(&["sleepers", "--count", "300"]);
    let target = Helper::spawn(&["threads", "--count", "8"]);
    let (arrivals, captures) = rt().block_on(async {
        let mut recorder = Client::connect(d.socket()).await.expect("recorder");
        let mut control = Client::connect(d.socket()).await.expect("control");
        let record = async {
            let mut seen: Vec<(u64, Instant)> = Vec::new();
            let end = Instant::now() + Duration::from_secs(12);
            while Instant::now() < end {
                match tokio::time::timeout(Duration::from_secs(2), recorder.next()).await {
                    Ok(Ok(ServerMessage::Sample(s))) => seen.push((s.seq, Instant::now())),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => panic!("recorder lost the daemon: {e}"),
                    Err(_) => panic!("no message for 2 s"),
                }
            }
            seen
        };
        let drive = async {
            let mut done = 0;
            let end = Instant::now() + Duration::from_secs(11);
            while Instant::now() < end {
                let id = match control.request_capture(Some(target.pid)).await {
                    Ok(CaptureAnswer::Accepted { capture_id }) => capture_id,
                    other => panic!("capture not accepted: {other:?}"),
                };
                loop {
                    let msg = tokio::time::timeout(Duration::from_secs(30), control.next())
                        .await
                        .unwrap_or_else(|_| panic!("capture {id} never announced done"));
                    match msg {
                        Ok(ServerMessage::Capture(n))
                            if n.capture_id == id && n.state == CaptureState::Done =>
                        {
                            done += 1;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) => panic!("control lost the daemon: {e}"),
                    }
                }
            }
            done
        };
        tokio::join!(record, drive)
    });
    assert!(captures >= 3, "captures ran back to back ({captures})");
    let profiled: i64 = d
        .db()
        .query_row(
            "SELECT COUNT(*) FROM forensic_captures WHERE stack_source = 'perf'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let paranoid_allows = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .is_ok_and(|p| p.trim().parse::<i32>().is_ok_and(|p| p <= 2));
    if is_root() || paranoid_allows {
        assert!(
            profiled >= 3,
            "the captures took sampled profiles ({profiled})"
        );
    }
    assert!(arrivals.len() > 50, "{} samples", arrivals.len());
    for w in arrivals.windows(2) {
        assert_eq!(
            w[1].0,
            w[0].0 + 1,
            "no sample missing (seq {} then {})",
            w[0].0,
            w[1].0
        );
        let gap = w[1].1 - w[0].1;
        assert!(
            gap <= Duration::from_millis(300),
            "a gap of {gap:?} after seq {} (more than 3 intervals)",
            w[0].0
        );
    }
}

#[test]
fn pressure_above_psi_trigger_captures_the_top_process() {
    if !std::path::Path::new("/proc/pressure/cpu").exists() {
        eprintln!("skipped: this kernel has no PSI (/proc/pressure)");
        return;
    }
    let _load = crate::common::heavy_load();
    let d = Daemon::start(&manual_config("psi_trigger = 0.01\n"));
    // Three spinning threads on a 2-core machine make CPU pressure.
    let _hog = Helper::spawn(&["busy", "--threads", "3"]);
    let pressure_capture = || -> Option<(i64, String)> {
        d.db()
            .query_row(
                "SELECT id, trigger FROM forensic_captures WHERE trigger LIKE 'pressure_%' LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    };
    d.wait_until(Duration::from_secs(30), "a pressure capture", || {
        pressure_capture().is_some()
    });
    let (id, trigger) = pressure_capture().unwrap();
    assert!(
        ["pressure_cpu", "pressure_memory", "pressure_io"].contains(&trigger.as_str()),
        "{trigger}"
    );
    d.wait_until(
        Duration::from_secs(30),
        "the pressure capture to finish",
        || {
            count(
                &d,
                "SELECT COUNT(*) FROM forensic_captures WHERE id = ?1 AND completed_at IS NOT NULL",
                id,
            ) == 1
        },
    );
}
