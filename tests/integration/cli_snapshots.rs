//! Snapshots of what `status`, `events`, `events show`, `history` and `prune` print, run as the
//! real binary on a real database with known rows (written through the store's writer).
//!
//! The output is made stable, not edited: "now" is fixed with `ROGUE_HUNTER_NOW`, the time zone
//! with `TZ` (a POSIX rule, +05:30, so offsets are visibly not UTC), and only what belongs to the
//! test machine is replaced afterwards: the temp directory, this boot's time, the file size.

use crate::blocking_writer::BlockingWriter;
use crate::common::TestEnv;
use rogue_hunter::model::{Band, ProcState, ProcessScore, Resource, Sample, Trigger};
use rogue_hunter::store::capture_data::{CaptureData, Frame, StackProcess, StackThread};
use rogue_hunter::store::{
    BufferCapture, BulkWrite, CapturePart, Culprit, ExitReason, LogCapture, LogEntry,
    MachineSnapshot, NewCapture, NewEvent, NewSnapshot, Op, PartOutcome, PartStatus, SnapshotType,
    StackCapture, Writer, WriterConfig, open_writer,
};
use std::path::PathBuf;
use std::sync::Arc;

/// 2025-11-24 16:00:00 UTC (21:30 at +05:30).
const NOW: f64 = 1_764_000_000.0;
const TZ: &str = "IST-5:30";
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;
/// A command name a CSV writer must quote.
const NASTY: &str = "evil, \"quoted\" name";
/// How long before this boot the earlier boot of event 1 was.
const EARLIER_BOOT: i64 = 10 * 86_400;

fn current_boot() -> i64 {
    rogue_hunter::sys::boot_time().expect("boot time of this machine")
}

fn process(pid: u32, command: &str, score: u8, t: f64) -> ProcessScore {
    ProcessScore {
        pid,
        command: command.to_string(),
        captured_at: t,
        cpu: 80.5,
        mem: 123_456_789,
        mem_peak: 223_456_789,
        faults: 1000,
        faults_rate: 12.5,
        disk_io: 1 << 20,
        disk_io_rate: 4096.0,
        csw: 500,
        csw_rate: 50.0,
        threads: 4,
        wakeups: 300,
        wakeups_rate: 30.0,
        state: ProcState::Running,
        priority: 20,
        score,
        band: if score >= 70 {
            Band::Critical
        } else {
            Band::High
        },
        cpu_share: 12.345,
        mem_share: 0.5,
        disproportionality: 12.345,
        dominant_resource: Resource::Cpu,
        ppid: 1,
        uid: 1000,
        start_time: 1_763_000_000.0 + f64::from(pid),
        ..Default::default()
    }
}

fn event(id: i64, pid: u32, command: &str, boot: i64, entry: f64, peak: u8, snap: i64) -> Vec<Op> {
    let p = process(pid, command, peak, entry);
    vec![
        Op::OpenEvent(NewEvent {
            id,
            pid,
            start_time: p.start_time,
            command: command.to_string(),
            boot_time: boot,
            entry_time: entry,
            entry_band: Band::Elevated,
            peak_score: peak,
            peak_band: if peak >= 70 {
                Band::Critical
            } else {
                Band::High
            },
            peak_snapshot_id: Some(snap),
            unit: Default::default(),
            reason: String::new(),
        }),
        Op::InsertSnapshot(NewSnapshot {
            id: snap,
            event_id: id,
            snapshot_type: SnapshotType::Entry,
            process: p,
            members: Vec::new(),
        }),
    ]
}

fn buffer_sample(seq: u64, t: f64) -> Arc<Sample> {
    let processes = vec![
        process(4242, NASTY, 88, t),
        process(88, "bridge", 74, t),
        process(1234, "chrome", 40, t),
        process(1, "init", 0, t),
    ];
    Arc::new(Sample {
        seq,
        timestamp: t,
        elapsed_ms: 3.5,
        process_count: processes.len(),
        max_score: 88,
        rogue_count: 3,
        access_denied: 0,
        processes,
        ..Default::default()
    })
}

fn stacks() -> CaptureData {
    let frame = |parent: Option<usize>, depth: u32, count: i64, sym: &str, kernel: bool| Frame {
        parent,
        depth,
        sample_count: count,
        is_kernel: kernel,
        symbol_name: Some(sym.to_string()),
        library_name: Some(if kernel { "kernel" } else { "libc.so.6" }.to_string()),
        address: format!("0x{:x}", 0x1000 + depth),
        ..Default::default()
    };
    CaptureData {
        processes: vec![StackProcess {
            pid: 4242,
            name: NASTY.to_string(),
            footprint_mb: Some(117.7),
            num_threads: Some(2),
            threads: vec![
                StackThread {
                    thread_id: "4243".into(),
                    thread_name: Some("worker".into()),
                    num_samples: Some(2),
                    state: Some("running".into()),
                    frames: vec![frame(None, 0, 2, "start_thread", false)],
                    ..Default::default()
                },
                StackThread {
                    thread_id: "4242".into(),
                    thread_name: Some("main".into()),
                    num_samples: Some(5),
                    state: Some("stuck".into()),
                    wchan: Some("io_schedule".into()),
                    frames: vec![
                        frame(None, 0, 5, "main", false),
                        frame(Some(0), 1, 1, "poll_loop", false),
                        frame(Some(0), 1, 4, "write_all", false),
                        frame(Some(2), 2, 4, "fsync", false),
                        frame(Some(3), 3, 4, "io_schedule", true),
                    ],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Writes the known rows into `env`'s database:
/// 1. `chrome`, an earlier boot, 5 h ago, closed after 47.8 s (score dropped), no capture;
/// 2. `evil, "quoted" name`, this boot, 2 h ago, closed after 125.7 s (process gone), a capture
///    with every part (buffer, stacks, logs skipped with a reason) and entry/peak/exit snapshots;
/// 3. `bridge`, this boot, open for 31.2 s, a capture with one failed part and two parts
///    without any status (as the original left them);
/// 4. `old-job`, this boot, 3 days ago, closed after 10 s;
///
/// plus a machine snapshot 13 h old.
fn build(env: &TestEnv) -> PathBuf {
    let path = env.root().join("data/rogue-hunter/data.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (conn, _) = open_writer(&path, NOW).unwrap();
    let writer = Writer::spawn(conn, WriterConfig::default()).unwrap();
    let h = writer.handle();
    let boot = current_boot();
    let t2 = NOW - 2.0 * HOUR;

    let mut ops = event(
        1,
        1234,
        "chrome",
        boot - EARLIER_BOOT,
        NOW - 5.0 * HOUR,
        65,
        10,
    );
    ops.push(Op::CloseEvent {
        event_id: 1,
        exit_time: NOW - 5.0 * HOUR + 47.8,
        reason: ExitReason::ScoreDropped,
    });
    // Event 2 is a unit: three processes of one program in one process group.
    let mut e2 = event(2, 4242, NASTY, boot, t2, 75, 20);
    if let Op::OpenEvent(e) = &mut e2[0] {
        e.unit = rogue_hunter::store::EventUnit {
            key: format!("pgrp:4242:{NASTY}"),
            kind: rogue_hunter::model::UnitKind::ProcessGroup,
            label: "process group 4242".into(),
            members: 2,
        };
        e.reason = "cpu: 1.5 of 2 cores for 4 s, cpu pressure 30 %".into();
    }
    ops.extend(e2);
    let mut peak = process(4242, NASTY, 88, t2 + 60.0);
    peak.reason = "cpu: 1.9 of 2 cores for 60 s, cpu pressure 64 %".into();
    peak.members = 3;
    let members: Vec<ProcessScore> = [(4242, 90.0), (4250, 60.0), (4251, 40.0)]
        .into_iter()
        .map(|(pid, cpu)| {
            let mut m = process(pid, NASTY, 88, t2 + 60.0);
            m.cpu = cpu;
            m.members = 3;
            m.reason.clone_from(&peak.reason);
            m
        })
        .collect();
    ops.push(Op::InsertSnapshot(NewSnapshot {
        id: 21,
        event_id: 2,
        snapshot_type: SnapshotType::Peak,
        process: peak.clone(),
        members,
    }));
    ops.push(Op::SetPeak {
        event_id: 2,
        peak_score: 88,
        peak_band: Band::Critical,
        peak_snapshot_id: 21,
        reason: peak.reason.clone(),
        members: 3,
    });
    ops.push(Op::InsertSnapshot(NewSnapshot {
        id: 22,
        event_id: 2,
        snapshot_type: SnapshotType::Exit,
        process: process(4242, NASTY, 30, t2 + 125.7),
        members: Vec::new(),
    }));
    ops.push(Op::CloseEvent {
        event_id: 2,
        exit_time: t2 + 125.7,
        reason: ExitReason::ProcessGone,
    });
    ops.push(Op::CreateCapture(NewCapture {
        id: 1,
        event_id: 2,
        captured_at: t2 + 1.0,
        trigger: Trigger::BandEntry(Band::Critical),
        has_decode_step: false,
    }));
    ops.push(Op::AddCaptureTriggers {
        capture_id: 1,
        triggers: vec!["peak_escalation_critical (event 2, pid 4242)".into()],
    });
    let mut e3 = event(3, 88, "bridge", boot, NOW - 31.2, 74, 30);
    if let Op::OpenEvent(e) = &mut e3[0] {
        e.reason = "disk: 12 MiB/s, blocked on I/O 40 % of the time, io pressure 14 %".into();
        e.unit.members = 1;
    }
    ops.extend(e3);
    ops.push(Op::CreateCapture(NewCapture {
        id: 2,
        event_id: 3,
        captured_at: NOW - 20.0,
        trigger: Trigger::Manual,
        has_decode_step: false,
    }));
    ops.push(Op::SetCapturePart {
        capture_id: 2,
        part: CapturePart::Buffer,
        status: PartStatus::Failed,
        error: Some("disk full".into()),
        at: NOW - 19.0,
    });
    ops.extend(event(4, 77, "old-job", boot, NOW - 3.0 * DAY, 50, 40));
    ops.push(Op::CloseEvent {
        event_id: 4,
        exit_time: NOW - 3.0 * DAY + 10.0,
        reason: ExitReason::ScoreDropped,
    });
    h.submit(ops).unwrap();

    let samples: Arc<[Arc<Sample>]> = (0..3)
        .map(|i| buffer_sample(100 + i, t2 - 2.0 + i as f64))
        .collect();
    let culprits = vec![
        Culprit {
            pid: 4242,
            command: NASTY.into(),
            score: 88,
            dominant_resource: Resource::Cpu,
            disproportionality: 12.345,
        },
        Culprit {
            pid: 88,
            command: "bridge".into(),
            score: 74,
            dominant_resource: Resource::Disk,
            disproportionality: 3.5,
        },
    ];
    let parts = [
        BulkWrite::Buffer(BufferCapture {
            capture_id: 1,
            culprits,
            samples,
        }),
        BulkWrite::Stacks(Box::new(StackCapture {
            capture_id: 1,
            source: "procfs".into(),
            data: stacks(),
            outcome: PartOutcome::success(),
        })),
        BulkWrite::Logs(LogCapture {
            capture_id: 1,
            entries: vec![LogEntry {
                timestamp: "2025-11-24T19:30:01.250+05:30".into(),
                subsystem: Some("kernel".into()),
                event_message: "EXT4-fs warning: \u{1b}[31mslow\u{1b}[0m write".into(),
                source: Some("kmsg".into()),
                ..Default::default()
            }],
            outcome: PartOutcome {
                status: PartStatus::Skipped,
                error: Some("journald is not running".into()),
            },
        }),
    ];
    for p in parts {
        let out = h.send_bulk_blocking(p).unwrap().blocking_recv().unwrap();
        assert!(out.error.is_none(), "{out:?}");
    }
    let old: Arc<Sample> = buffer_sample(1, NOW - 13.0 * HOUR);
    assert!(
        h.submit_machine_snapshot(MachineSnapshot { sample: old })
            .unwrap()
    );
    h.flush_blocking().unwrap();
    drop(writer.shutdown());

    // What the writer stamps with the wall clock, fixed; and capture 2's stack and log parts
    // as the original left its rows: no status at all.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE forensic_captures SET completed_at = captured_at + 2.5 WHERE id = 1",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE forensic_captures SET tailspin_status = NULL, logs_status = NULL,
             completed_at = NULL WHERE id = 2",
        [],
    )
    .unwrap();
    path
}

/// Output of one run: exit code, stdout, stderr (machine-specific parts replaced).
struct Run {
    code: i32,
    out: String,
    err: String,
}

fn stabilise(env: &TestEnv, text: &[u8]) -> String {
    let boot = current_boot();
    let text = String::from_utf8_lossy(text)
        .replace(&env.root().display().to_string(), "[ROOT]")
        .replace(
            &format!("\"boot_time\": {boot}"),
            "\"boot_time\": \"[BOOT]\"",
        )
        .replace(
            &format!("\"boot_time\": {}", boot - EARLIER_BOOT),
            "\"boot_time\": \"[BOOT - 10 days]\"",
        );
    let size = regex::Regex::new(r"(data\.db \()[0-9.]+ [KMG]?i?B\)").unwrap();
    let text = size.replace_all(&text, "${1}[SIZE])");
    let bytes = regex::Regex::new(r#""size_bytes": \d+"#).unwrap();
    bytes
        .replace_all(&text, r#""size_bytes": "[SIZE]""#)
        .into_owned()
}

fn rh(env: &TestEnv, args: &[&str], stdin: &str) -> Run {
    let out = env
        .cmd()
        .args(args)
        .env("TZ", TZ)
        .env("ROGUE_HUNTER_NOW", NOW.to_string())
        .write_stdin(stdin)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: stabilise(env, &out.stdout),
        err: stabilise(env, &out.stderr),
    }
}

/// Runs a command that must succeed and returns its stdout.
fn ok(env: &TestEnv, args: &[&str]) -> String {
    let r = rh(env, args, "");
    assert_eq!(
        r.code, 0,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        r.out, r.err
    );
    r.out
}

fn fixture() -> TestEnv {
    let env = TestEnv::new();
    build(&env);
    env
}

#[test]
fn events_lists_the_current_boot_newest_first() {
    let env = fixture();
    insta::assert_snapshot!("events_table", ok(&env, &["events"]));
    insta::assert_snapshot!("events_all_boots", ok(&env, &["events", "--all-boots"]));
    insta::assert_snapshot!("events_open", ok(&env, &["events", "--open"]));
    // C6: a limit of 2 gives exactly 2 data lines, and says how many it left out.
    let two = ok(&env, &["events", "-n", "2"]);
    insta::assert_snapshot!("events_limit_2", two);
    let json = ok(&env, &["events", "--json", "--all-boots"]);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 4);
    assert_eq!(parsed[1]["command"], NASTY);
    insta::assert_snapshot!("events_json", json);
}

#[test]
fn events_show_prints_the_event_its_snapshots_and_captures() {
    let env = fixture();
    insta::assert_snapshot!("events_show_2", ok(&env, &["events", "show", "2"]));
    insta::assert_snapshot!(
        "events_show_2_ftl",
        ok(&env, &["events", "show", "2", "-f", "-t", "-l"])
    );
    let json = ok(&env, &["events", "show", "2", "-f", "-t", "-l", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["captures"][0]["parts"]["logs"]["status"], "skipped");
    assert_eq!(v["captures"][0]["buffer"]["process_rows"], 12);
    insta::assert_snapshot!("events_show_2_json", json);
    // An open event whose capture has parts without a status: `pending`, never blank.
    let open = ok(&env, &["events", "show", "3"]);
    assert!(open.contains("    Stacks: pending\n"), "{open}");
    insta::assert_snapshot!("events_show_3", open);
    insta::assert_snapshot!(
        "events_show_3_json",
        ok(&env, &["events", "show", "3", "--json"])
    );
    // Asking for capture details of an event without captures says so.
    insta::assert_snapshot!("events_show_1_f", ok(&env, &["events", "show", "1", "-f"]));
    // C5: an unknown id.
    let missing = rh(&env, &["events", "show", "99999"], "");
    assert_eq!(missing.code, 1);
    assert_eq!(missing.out, "");
    assert_eq!(missing.err, "Error: Event 99999 not found\n");
}

#[test]
fn history_summarises_and_exports_the_window() {
    let env = fixture();
    insta::assert_snapshot!("history_table", ok(&env, &["history"]));
    let json = ok(&env, &["history", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3, "24 h, every boot");
    insta::assert_snapshot!("history_json", json);
    let csv = ok(&env, &["history", "-f", "csv"]);
    assert!(csv.contains("\"evil, \"\"quoted\"\" name\""), "{csv}");
    insta::assert_snapshot!("history_csv", csv.replace("\r\n", "⏎\n"));
    // The last hour holds only the open event.
    assert!(ok(&env, &["history", "-H", "1"]).starts_with("Events: 1 (1 still open)\n"));
    insta::assert_snapshot!("history_3_days", ok(&env, &["history", "-H", "100"]));
    // Pages: no silent cap; what is left out is counted on stderr.
    let page = rh(
        &env,
        &["history", "-f", "csv", "--limit", "1", "--offset", "1"],
        "",
    );
    assert_eq!(page.code, 0);
    assert_eq!(page.out.lines().count(), 2, "{}", page.out);
    assert!(page.out.contains(NASTY.split(',').next().unwrap()));
    assert_eq!(
        page.err,
        "1 more event in the last 24 hours: use --offset 2 for the next page.\n"
    );
}

#[test]
fn history_csv_reads_back_with_a_csv_parser() {
    let env = fixture();
    let csv = ok(&env, &["history", "-f", "csv"]);
    let records = parse_csv(&csv);
    assert_eq!(records.len(), 4, "header and three events");
    assert_eq!(records[0][..3], ["id", "pid", "command"]);
    let nasty = records.iter().find(|r| r[0] == "2").unwrap();
    assert_eq!(nasty[2], NASTY);
    assert_eq!(nasty[5], "125.7");
    assert_eq!(nasty[3], "2025-11-24T19:30:00.000+05:30");
    assert!(records.iter().all(|r| r.len() == records[0].len()));
}

/// A small RFC 4180 reader, so the test does not trust the writer it checks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "text ends with CRLF");
    records
}

#[test]
fn status_without_a_daemon_reads_the_database() {
    let env = fixture();
    insta::assert_snapshot!("status_stopped", ok(&env, &["status"]));
    insta::assert_snapshot!("status_stopped_json", ok(&env, &["status", "--json"]));
}

#[test]
fn prune_counts_asks_and_deletes() {
    let env = fixture();
    insta::assert_snapshot!("prune_dry_run", ok(&env, &["prune", "--dry-run"]));
    insta::assert_snapshot!(
        "prune_dry_run_1_day",
        ok(&env, &["prune", "--dry-run", "--events-days", "1"])
    );
    // C16: no answer is no.
    let declined = rh(&env, &["prune", "--events-days", "1"], "");
    assert_eq!(declined.code, 1);
    assert!(
        declined
            .out
            .contains("Delete closed events older than 1 day? [y/N]: "),
        "{}",
        declined.out
    );
    assert!(declined.err.contains("aborted"), "{}", declined.err);
    assert!(ok(&env, &["events", "--all-boots"]).contains("old-job"));
    // C17: yes.
    let yes = rh(&env, &["prune", "--events-days", "1"], "y\n");
    assert_eq!(yes.code, 0, "{}", yes.err);
    insta::assert_snapshot!("prune_yes", yes.out);
    let left = ok(&env, &["events", "--all-boots"]);
    assert!(
        !left.contains("old-job") && left.contains("chrome"),
        "{left}"
    );
    // Nothing left to prune: no question.
    assert_eq!(
        ok(&env, &["prune", "--events-days", "1"]).lines().last(),
        Some("Nothing to prune.")
    );
    // 0 days is a usage error, not "delete everything".
    let zero = rh(&env, &["prune", "--events-days", "0"], "");
    assert_eq!(zero.code, 2);
    assert!(zero.err.contains("at least 1 day"), "{}", zero.err);
}

#[test]
fn without_a_database_lists_say_so_and_show_fails() {
    let env = TestEnv::new();
    // C1, C7, C13, C29: soft, exit 0.
    for args in [
        &["events"][..],
        &["events", "--open"],
        &["history"],
        &["prune", "--dry-run"],
    ] {
        assert_eq!(
            ok(&env, args),
            "Database not found. Run 'rogue-hunter daemon' first.\n",
            "{args:?}"
        );
    }
    insta::assert_snapshot!("status_no_database", ok(&env, &["status"]));
    // Machine-readable output stays parseable; the note goes to stderr.
    let json = rh(&env, &["history", "-f", "json"], "");
    assert_eq!((json.code, json.out.as_str()), (0, "[]\n"));
    assert!(json.err.contains("Database not found"));
    let events_json = rh(&env, &["events", "--json"], "");
    assert_eq!(events_json.out, "[]\n");
    let status: serde_json::Value = serde_json::from_str(&ok(&env, &["status", "--json"])).unwrap();
    assert_eq!(status["database"]["exists"], false);
    assert_eq!(status["daemon"]["state"], "stopped");
    // Hard: `events show`.
    let show = rh(&env, &["events", "show", "1"], "");
    assert_eq!(show.code, 1);
    assert_eq!(
        show.err,
        "Error: Database not found at [ROOT]/data/rogue-hunter/data.db. Run 'rogue-hunter daemon' first.\n"
    );
    assert!(
        !env.root().join("data/rogue-hunter/data.db").exists(),
        "the CLI never creates the database"
    );
}

#[test]
fn an_empty_database_has_nothing_to_show() {
    let env = TestEnv::new();
    let path = env.root().join("data/rogue-hunter/data.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(open_writer(&path, NOW).unwrap());
    // C2, C8, C30.
    assert_eq!(ok(&env, &["events"]), "No events recorded.\n");
    assert_eq!(ok(&env, &["history"]), "No events in the last 24 hours\n");
    // C12: singular.
    assert_eq!(
        ok(&env, &["history", "-H", "1"]),
        "No events in the last 1 hour\n"
    );
    assert!(ok(&env, &["status"]).ends_with("\nNo active process tracking.\n"));
    assert_eq!(
        ok(&env, &["prune"]).lines().last(),
        Some("Nothing to prune.")
    );
}

#[test]
fn a_file_that_is_not_our_database_is_reported_and_left_alone() {
    let env = TestEnv::new();
    let path = env.root().join("data/rogue-hunter/data.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let junk = b"this is not a database, just some text that is longer than a header".repeat(4);
    std::fs::write(&path, &junk).unwrap();
    // `status` still says what it knows about the daemon, then fails on the file.
    let status = rh(&env, &["status"], "");
    assert_eq!(status.code, 1);
    assert_eq!(
        status.out,
        "Daemon: stopped (no socket at [ROOT]/run/rogue-hunter/daemon.sock)\n\
         Database: [ROOT]/data/rogue-hunter/data.db (unreadable, see below)\n"
    );
    assert!(
        status
            .err
            .starts_with("Error: [ROOT]/data/rogue-hunter/data.db is not a SQLite database"),
        "{}",
        status.err
    );
    let json = rh(&env, &["status", "--json"], "");
    assert_eq!(json.code, 1);
    let v: serde_json::Value = serde_json::from_str(&json.out).unwrap();
    assert!(
        v["database"]["error"]
            .as_str()
            .unwrap()
            .contains("not a SQLite database")
    );
    for args in [
        &["events"][..],
        &["events", "show", "1"],
        &["history", "-f", "csv"],
        &["prune", "--yes"],
    ] {
        let r = rh(&env, args, "");
        assert_eq!(r.code, 1, "{args:?}");
        assert!(r.err.contains("left untouched"), "{args:?}: {}", r.err);
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        junk,
        "the file was not modified"
    );
}
