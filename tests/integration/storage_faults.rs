//! Storage faults (issue 14): a daemon killed mid-capture, a full disk, a read-only or damaged
//! database, one from a newer rogue-hunter. Each case is judged the way a user sees it: the
//! daemon's exit and message, `status --json`, `events show --json`, and the file's bytes.

use crate::common::{TestEnv, is_root};
use crate::daemon_fixture::{Daemon, TEST_CONFIG};
use rogue_hunter::ipc::{CaptureAnswer, Client};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Default scoring (nothing on a test machine reaches `critical`, so no automatic capture gets
/// in the way), and a manual capture whose stack part takes ~20 s (200 samples 100 ms apart):
/// long enough to stop the daemon in the middle of it.
const SLOW_CAPTURE_CONFIG: &str = "
[system]
sample_interval = 0.2
[forensics]
min_interval_s = 0.0
stack_samples = 200
stack_sample_interval_ms = 100
user_stacks = \"none\"
shutdown_wait_s = 0.5
";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Asks the daemon for a manual capture of its own process; returns the capture id.
fn request_capture(d: &Daemon) -> i64 {
    let socket = d.socket();
    let pid = d.pid;
    rt().block_on(async move {
        let mut c = Client::connect(&socket).await.expect("connect");
        match c.request_capture(Some(pid)).await.expect("answer") {
            CaptureAnswer::Accepted { capture_id } => capture_id,
            other => panic!("capture refused: {other:?}"),
        }
    })
}

/// The id of a capture with a part still pending, if any.
fn pending_capture(db: &Path) -> Option<i64> {
    let conn = rogue_hunter::store::open_reader(db).ok()?;
    conn.query_row(
        "SELECT id FROM forensic_captures WHERE tailspin_status = 'pending'",
        [],
        |r| r.get(0),
    )
    .ok()
}

/// The capture's four part statuses, as stored.
fn part_statuses(db: &Path, id: i64) -> Option<[Option<String>; 4]> {
    let conn = rogue_hunter::store::open_reader(db).ok()?;
    conn.query_row(
        "SELECT buffer_status, tailspin_status, spindump_status, logs_status
         FROM forensic_captures WHERE id = ?1",
        [id],
        |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
    )
    .ok()
}

/// `rogue-hunter status --json` in `env`: (exit code, the JSON).
fn status_json(env: &TestEnv) -> (i32, Value) {
    let out = env.cmd().args(["status", "--json"]).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json printed no JSON ({e}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn event_of_capture(db: &Path, id: i64) -> i64 {
    let conn = rogue_hunter::store::open_reader(db).unwrap();
    conn.query_row(
        "SELECT event_id FROM forensic_captures WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .unwrap()
}

/// Issue 14, item 6: a daemon killed (SIGKILL) in the middle of a capture leaves its parts
/// `pending`; the next start finishes them as `failed` with the reason, and `status --json`
/// shows the count going from 1 to 0.
#[test]
fn a_capture_cut_short_by_sigkill_is_finished_as_failed_at_the_next_start() {
    let mut d = Daemon::start(SLOW_CAPTURE_CONFIG);
    let id = request_capture(&d);
    let db = d.db_path();
    d.wait_until(Duration::from_secs(20), "the capture row", || {
        part_statuses(&db, id).is_some_and(|s| s[1].as_deref() == Some("pending"))
    });
    d.stop_with(libc::SIGKILL, Duration::from_secs(5));
    let stacks = part_statuses(&db, id).unwrap()[1].clone();
    assert_eq!(stacks.as_deref(), Some("pending"), "killed mid-capture");
    let env = d.into_env();
    let (code, v) = status_json(&env);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["database"]["captures_pending"], 1, "{v}");

    let d = Daemon::start_in(env);
    let (_, v) = status_json(&d.env);
    assert_eq!(v["daemon"]["state"], "running", "{v}");
    assert_eq!(v["database"]["captures_pending"], 0, "{v}");
    let event = event_of_capture(&db, id);
    let out = d
        .env
        .cmd()
        .args(["events", "show", &event.to_string(), "--json"])
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&out.stdout).unwrap();
    let capture = show["captures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap();
    let stacks = &capture["parts"]["stacks"];
    assert_eq!(stacks["status"], "failed", "{capture}");
    assert_eq!(
        stacks["error"], "daemon stopped before the capture finished",
        "{capture}"
    );
    assert!(!capture["completed_at"].is_null(), "{capture}");
    for part in ["buffer", "logs"] {
        assert_ne!(capture["parts"][part]["status"], "pending", "{capture}");
    }
}

/// A daemon that ran a few seconds with every process stored every second: a database of a few
/// hundred pages, closed cleanly (no `-wal` left).
fn a_used_database() -> TestEnv {
    let mut d = Daemon::start(
        &TEST_CONFIG.replace("[system]\n", "[system]\nmachine_snapshot_interval = 1.0\n"),
    );
    let db = d.db_path();
    d.wait_until(Duration::from_secs(20), "a few machine snapshots", || {
        rogue_hunter::store::open_reader(&db)
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM machine_snapshots", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(|e| rogue_hunter::store::StoreError::Invalid(e.to_string()))
            })
            .is_ok_and(|n| n >= 3)
    });
    let (status, _) = d.stop_with(libc::SIGTERM, Duration::from_secs(10));
    assert!(status.success());
    d.into_env()
}

/// Starts a daemon that must refuse to run: returns its exit code and console output.
fn refused_start(env: &TestEnv) -> (Option<i32>, String) {
    let mut child = Daemon::command(env).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the daemon kept running:\n{}",
                std::fs::read_to_string(env.root().join("daemon.out")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(env.root().join("daemon.out")).unwrap_or_default();
    (status.code(), out)
}

fn db_file(env: &TestEnv) -> std::path::PathBuf {
    env.root().join("data/rogue-hunter/data.db")
}

/// Overwrites `pages` (0-based) of the file with garbage; returns the new bytes.
fn damage(path: &Path, pages: &[usize]) -> Vec<u8> {
    let page = 4096;
    let mut bytes = std::fs::read(path).unwrap();
    for &p in pages {
        for (i, b) in bytes[p * page..(p + 1) * page].iter_mut().enumerate() {
            *b = (i * 7 + p) as u8 | 0x80;
        }
    }
    std::fs::write(path, &bytes).unwrap();
    bytes
}

fn page_count(path: &Path) -> usize {
    std::fs::metadata(path).unwrap().len() as usize / 4096
}

/// Issue 14, item 8: a database with pages damaged in the middle of the file (where opening it
/// and reading its version never look) is refused at start by `quick_check`, with the way out;
/// its bytes are not touched.
#[test]
fn a_database_damaged_mid_file_is_refused_untouched() {
    let env = a_used_database();
    let path = db_file(&env);
    let pages = page_count(&path);
    assert!(pages >= 20, "{pages} pages is too small to damage mid-file");
    // Three leaf pages of the largest table from the middle of the file (dbstat numbers pages
    // from 1): data pages, which opening the file and reading its version never touch.
    let conn = rogue_hunter::store::open_reader(&path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT pageno FROM dbstat WHERE name = 'machine_snapshot_processes'
             AND pagetype = 'leaf' ORDER BY abs(pageno - ?1) LIMIT 3",
        )
        .unwrap();
    let leaves: Vec<usize> = stmt
        .query_map([pages as i64 / 2], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|p| p.unwrap() as usize - 1)
        .collect();
    drop(stmt);
    drop(conn);
    assert_eq!(leaves.len(), 3);
    let damaged = damage(&path, &leaves);

    let (code, out) = refused_start(&env);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is damaged (integrity check:"), "{out}");
    assert!(out.contains("data.db.damaged"), "the way out: {out}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        damaged,
        "the bytes were changed"
    );
    let (code, v) = status_json(&env);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["daemon"]["state"], "stopped", "{v}");
}

/// A damaged table root (opening the file already fails) says "damaged", not "not SQLite".
#[test]
fn a_database_with_a_damaged_table_root_is_called_damaged() {
    let env = a_used_database();
    let path = db_file(&env);
    let root: i64 = rogue_hunter::store::open_reader(&path)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'daemon_state'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let damaged = damage(&path, &[root as usize - 1]);
    let (code, out) = refused_start(&env);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is damaged"), "{out}");
    assert!(!out.contains("not a SQLite database"), "{out}");
    assert_eq!(std::fs::read(&path).unwrap(), damaged);
}

/// Root, to mount a small tmpfs; otherwise a reason to skip.
fn can_mount() -> bool {
    if !is_root() {
        eprintln!("skipped: needs root to mount a small tmpfs");
        return false;
    }
    true
}

/// A tmpfs of `size` mounted at `dir` (created), unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs (not allowed in this container?)");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }

    fn remount(&self, opts: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {opts}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

/// Storage faults, a full disk: the daemon keeps sampling, a capture whose rows cannot be
/// written is never left `pending` by a clean stop, and the next start (with room again) runs.
#[test]
fn a_full_disk_leaves_no_capture_pending_through_a_clean_stop() {
    if !can_mount() {
        return;
    }
    let env = TestEnv::new();
    // A capture whose stacks take ~3 s: its row is written, then the disk fills up.
    env.write_config(
        "[system]\nsample_interval = 0.2\n[forensics]\nmin_interval_s = 0.0\nstack_samples = 30\n\
         stack_sample_interval_ms = 100\nuser_stacks = \"none\"\nshutdown_wait_s = 1.0\n",
    );
    let data = env.root().join("data");
    let Some(disk) = Tmpfs::mount(&data, "3m") else {
        return;
    };
    let mut d = Daemon::start_in(env);
    let wal = d.db_path().with_file_name("data.db-wal");
    d.wait_until(Duration::from_secs(20), "the WAL file", || wal.exists());
    // `capture --wait`, as a user would ask; it answers once the capture is done.
    let mut capture = d.env.cmd();
    capture.args(["capture", "--pid", &d.pid.to_string(), "--wait"]);
    let capture = std::thread::spawn(move || capture.output().unwrap());
    let db = d.db_path();
    let id = {
        let mut id = None;
        d.wait_until(Duration::from_secs(20), "the capture row", || {
            id = pending_capture(&db);
            id.is_some()
        });
        id.unwrap()
    };
    fill(&data.join("filler"));
    let capture = capture.join().unwrap();
    let said = String::from_utf8_lossy(&capture.stdout);
    assert!(
        d.output().contains("database or disk is full"),
        "the disk did not fill up:\n{}",
        d.output()
    );
    // Item 7: the capture that could not be stored says so, and points nowhere.
    assert_eq!(capture.status.code(), Some(1), "{said}");
    assert!(
        said.contains("Not stored: the database could not store this capture (")
            && said.contains("database or disk is full"),
        "{said}"
    );
    assert!(!said.contains("events show"), "{said}");
    // Item 7: status shows the writer failing, and exits 1.
    let (code, v) = status_json(&d.env);
    assert_eq!(v["daemon"]["state"], "running", "{v}");
    assert_eq!(code, 1, "storage failing: {v}");
    let writes = &v["database"]["writes"];
    assert_eq!(writes["failing"], true, "{v}");
    assert!(writes["failed_since_start"].as_u64().unwrap() > 0, "{v}");
    assert!(
        writes["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("database or disk is full")),
        "{v}"
    );
    let text = d.env.cmd().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Database writes: FAILING: "), "{text}");
    let (status, _) = d.stop_with(libc::SIGTERM, Duration::from_secs(15));
    assert!(status.success(), "{}", d.output());
    let env = d.into_env();
    let (code, v) = status_json(&env);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["database"]["captures_pending"], 0, "capture {id}: {v}");
    let parts = part_statuses(&db, id).unwrap();
    assert!(parts.iter().flatten().all(|s| s != "pending"), "{parts:?}");
    assert!(parts.iter().flatten().any(|s| s == "failed"), "{parts:?}");

    // Room again: the next start is a normal one.
    std::fs::remove_file(data.join("filler")).unwrap();
    let d = Daemon::start_in(env);
    let (code, v) = status_json(&d.env);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["database"]["captures_pending"], 0, "{v}");
    drop(d);
    drop(disk);
}

/// Storage faults, a newer schema: refused at start with the reason, the file untouched, and
/// `status --json` names the problem.
#[test]
fn a_database_of_a_newer_version_is_refused_untouched() {
    let env = a_used_database();
    let path = db_file(&env);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE daemon_state SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let (code, out) = refused_start(&env);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("schema version 99, newer than"), "{out}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the bytes were changed"
    );
    let (code, v) = status_json(&env);
    assert_eq!(code, 3, "{v}");
    assert!(
        v["database"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("newer than this rogue-hunter understands")),
        "{v}"
    );
}

/// Storage faults, a read-only file system: the daemon does not pretend (it either refuses
/// with the reason or runs and says so), and the bytes stay as they were.
#[test]
fn a_database_on_a_read_only_file_system_is_left_untouched() {
    if !can_mount() {
        return;
    }
    let env = TestEnv::new();
    env.write_config(TEST_CONFIG);
    let data = env.root().join("data");
    let Some(disk) = Tmpfs::mount(&data, "16m") else {
        return;
    };
    let mut d = Daemon::start_in(env);
    let db = d.db_path();
    d.wait_until(Duration::from_secs(20), "a recorded sample", || {
        d.last_sample_time().is_some()
    });
    d.stop_with(libc::SIGTERM, Duration::from_secs(10));
    let env = d.into_env();
    disk.remount("ro");
    let bytes = std::fs::read(&db).unwrap();
    let (code, out) = refused_start(&env);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("cannot write in") && out.contains("Read-only file system"),
        "{out}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
    let (code, v) = status_json(&env);
    assert_eq!(code, 3, "{v}");
    disk.remount("rw");
}

/// Storage faults, a full disk that gets room again while the daemon runs (item 7): `status`
/// shows the failure and then the recovery (with the count kept), and an event opened while
/// the disk was full is stored once writes work again, so its later rows are not orphans.
#[test]
fn writes_resume_after_a_full_disk_without_orphan_rows() {
    if !can_mount() {
        return;
    }
    let env = TestEnv::new();
    env.write_config(TEST_CONFIG);
    let data = env.root().join("data");
    let Some(disk) = Tmpfs::mount(&data, "3m") else {
        return;
    };
    let d = Daemon::start_in(env);
    let wal = d.db_path().with_file_name("data.db-wal");
    d.wait_until(Duration::from_secs(20), "the WAL file", || wal.exists());
    fill(&data.join("filler"));
    d.wait_until(Duration::from_secs(20), "status to say writes fail", || {
        status_json(&d.env).1["database"]["writes"]["failing"] == true
    });
    // A process that becomes a rogue while nothing can be written: its event is lost at first.
    let hog = crate::helper::Helper::spawn(&["busy", "--threads", "1"]);
    d.wait_until(Duration::from_secs(20), "the hog's event to open", || {
        d.output().contains(&format!("({}) score", hog.pid))
    });
    std::fs::remove_file(data.join("filler")).unwrap();
    d.wait_until(Duration::from_secs(20), "status to say writes work", || {
        let (code, v) = status_json(&d.env);
        code == 0 && v["database"]["writes"]["failing"] == false
    });
    let (_, v) = status_json(&d.env);
    let writes = &v["database"]["writes"];
    assert!(writes["failed_since_start"].as_u64().unwrap() > 0, "{v}");
    assert!(writes["last_error"].as_str().is_some(), "{v}");
    // The hog ends: its event is closed, which needs its row.
    let pid = hog.pid;
    hog.stop();
    let db = d.db_path();
    d.wait_until(
        Duration::from_secs(40),
        "the hog's event, stored and closed",
        || {
            rogue_hunter::store::open_reader(&db).ok().is_some_and(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM process_events WHERE pid = ?1 AND exit_time IS NOT NULL",
                    [pid],
                    |r| r.get::<_, i64>(0),
                )
                .is_ok_and(|n| n == 1)
            })
        },
    );
    let orphans: i64 = d
        .db()
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(orphans, 0, "rows referring to a missing parent");
    assert!(
        d.output()
            .contains("stored a row an earlier failed write lost"),
        "{}",
        d.output()
    );
    drop(d);
    drop(disk);
}
