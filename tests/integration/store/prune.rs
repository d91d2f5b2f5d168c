//! Cascades and retention: exactly the expired rows go, with everything that hangs off them.

use super::{NOW, capture_data, count, create_capture, open_event, sample, spawn, temp_db};
use crate::blocking_writer::BlockingWriter;
use rogue_hunter::store::prune;
use rogue_hunter::store::{
    BufferCapture, BulkWrite, ExitReason, LogCapture, LogEntry, MachineSnapshot, Op, PartOutcome,
    PartStatus, PrunePolicy, StackCapture, WriterConfig, WriterHandle,
};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::Path;

const DAY: f64 = 86_400.0;

/// Stores a buffer (3 samples × 4 processes), stacks and two log lines for `capture_id`.
fn fill_capture(h: &WriterHandle, capture_id: i64, t: f64) {
    let parts = [
        BulkWrite::Buffer(BufferCapture {
            capture_id,
            culprits: vec![],
            samples: (0..3).map(|i| sample(i, t, 4)).collect(),
        }),
        BulkWrite::Stacks(Box::new(StackCapture {
            capture_id,
            source: "procfs".into(),
            data: capture_data(capture_id),
            outcome: PartOutcome::success(),
        })),
        BulkWrite::Logs(LogCapture {
            capture_id,
            entries: vec![
                LogEntry {
                    timestamp: "2025-01-01T00:00:00+00:00".into(),
                    event_message: "one".into(),
                    ..Default::default()
                },
                LogEntry {
                    timestamp: "2025-01-01T00:00:01+00:00".into(),
                    event_message: "two".into(),
                    ..Default::default()
                },
            ],
            outcome: PartOutcome::success(),
        }),
    ];
    for p in parts {
        let out = h.send_bulk_blocking(p).unwrap().blocking_recv().unwrap();
        assert_eq!(out.status, PartStatus::Success, "{out:?}");
    }
}

const CAPTURE_TABLES: [&str; 13] = [
    "tailspin_header",
    "tailspin_shared_cache",
    "tailspin_io_stats",
    "tailspin_process",
    "tailspin_process_note",
    "tailspin_thread",
    "tailspin_frame",
    "tailspin_binary_image",
    "tailspin_io_histogram",
    "tailspin_io_aggregate",
    "log_entries",
    "buffer_samples",
    "buffer_sample_processes",
];

fn counts(conn: &Connection) -> BTreeMap<&'static str, i64> {
    let mut m: BTreeMap<&'static str, i64> = CAPTURE_TABLES
        .iter()
        .map(|t| (*t, count(conn, t)))
        .collect();
    for t in [
        "process_events",
        "process_snapshots",
        "forensic_captures",
        "buffer_context",
        "machine_snapshots",
        "machine_snapshot_processes",
    ] {
        m.insert(t, count(conn, t));
    }
    m
}

fn fk_violations(conn: &Connection) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })
    .unwrap()
}

#[test]
fn deleting_an_event_cascades_to_everything_that_hangs_off_it() {
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    for (id, pid) in [(1, 100), (2, 200)] {
        h.submit(open_event(id, id, pid, NOW)).unwrap();
        h.submit(vec![create_capture(id, id, NOW)]).unwrap();
        fill_capture(&h, id, NOW);
    }
    h.submit_machine_snapshot(MachineSnapshot {
        sample: sample(1, NOW, 3),
    })
    .unwrap();
    drop(w.shutdown());

    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    let before = counts(&conn);
    for t in CAPTURE_TABLES {
        assert!(before[t] > 0 && before[t] % 2 == 0, "{t}: {}", before[t]);
    }
    conn.execute("DELETE FROM process_events WHERE id = 1", [])
        .unwrap();
    let after = counts(&conn);
    for (t, n) in &before {
        let expected = match *t {
            "machine_snapshots" | "machine_snapshot_processes" => *n,
            _ => n / 2,
        };
        assert_eq!(after[t], expected, "{t}");
    }
    assert_eq!(fk_violations(&conn), 0);
    conn.execute("DELETE FROM process_events", []).unwrap();
    for t in CAPTURE_TABLES {
        assert_eq!(count(&conn, t), 0, "{t}");
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    writer: rogue_hunter::store::Writer,
}

/// E1 closed 40 d ago (capture C1) · E2 closed 10 d ago (C2 10 d old, C3 1 d old) · E3 open
/// since 100 d (C4 100 d old) · E4 closed just inside 30 d · machine snapshots 13 h and 11 h old.
fn retention_fixture(prune_batch_rows: usize) -> Fixture {
    let (dir, path) = temp_db();
    let writer = spawn(
        &path,
        WriterConfig {
            prune_batch_rows,
            ..Default::default()
        },
    );
    let h = writer.handle();
    let close = |id: i64, t: f64| Op::CloseEvent {
        event_id: id,
        exit_time: t,
        reason: ExitReason::ScoreDropped,
    };
    h.submit(open_event(1, 1, 1, NOW - 41.0 * DAY)).unwrap();
    for k in 0..30 {
        h.submit(vec![Op::InsertSnapshot(rogue_hunter::store::NewSnapshot {
            id: 1000 + k,
            event_id: 1,
            snapshot_type: rogue_hunter::store::SnapshotType::Checkpoint,
            process: super::process(1, 80, NOW - 41.0 * DAY + k as f64),
            members: Vec::new(),
        })])
        .unwrap();
    }
    h.submit(vec![
        close(1, NOW - 40.0 * DAY),
        create_capture(1, 1, NOW - 40.0 * DAY),
    ])
    .unwrap();
    h.submit(open_event(2, 2, 2, NOW - 11.0 * DAY)).unwrap();
    h.submit(vec![
        close(2, NOW - 10.0 * DAY),
        create_capture(2, 2, NOW - 10.0 * DAY),
        create_capture(3, 2, NOW - DAY),
    ])
    .unwrap();
    h.submit(open_event(3, 3, 3, NOW - 100.0 * DAY)).unwrap();
    h.submit(vec![create_capture(4, 3, NOW - 100.0 * DAY)])
        .unwrap();
    h.submit(open_event(4, 4, 4, NOW - 31.0 * DAY)).unwrap();
    h.submit(vec![close(4, NOW - 30.0 * DAY + 1.0)]).unwrap();
    for c in 1..=4 {
        fill_capture(&h, c, NOW);
    }
    for (seq, age_h) in [(1, 13.0), (2, 11.0)] {
        assert!(
            h.submit_machine_snapshot(MachineSnapshot {
                sample: sample(seq, NOW - age_h * 3600.0, 20),
            })
            .unwrap()
        );
        h.flush_blocking().unwrap();
    }
    Fixture {
        _dir: dir,
        path,
        writer,
    }
}

const POLICY: PrunePolicy = PrunePolicy {
    events_days: 30,
    captures_days: 7,
    machine_snapshot_hours: 12.0,
};

fn ids(conn: &Connection, sql: &str) -> Vec<i64> {
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn assert_pruned_exactly(path: &Path, one_capture: &BTreeMap<&'static str, i64>) {
    let conn = Connection::open(path).unwrap();
    assert_eq!(
        ids(&conn, "SELECT id FROM process_events ORDER BY id"),
        vec![2, 3, 4]
    );
    assert_eq!(
        ids(&conn, "SELECT id FROM forensic_captures ORDER BY id"),
        vec![3]
    );
    assert_eq!(
        ids(&conn, "SELECT event_id FROM process_snapshots ORDER BY id"),
        vec![2, 3, 4],
        "E1's 31 snapshots went, the others' entry snapshots stay"
    );
    let m = ids(&conn, "SELECT id FROM machine_snapshots");
    assert_eq!(m.len(), 1);
    let kept_time: f64 = conn
        .query_row("SELECT captured_at FROM machine_snapshots", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(kept_time, NOW - 11.0 * 3600.0);
    assert_eq!(count(&conn, "machine_snapshot_processes"), 20);
    for t in CAPTURE_TABLES {
        assert_eq!(
            count(&conn, t),
            one_capture[t],
            "{t}: one capture's rows remain"
        );
    }
    let kept_capture_rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tailspin_process WHERE capture_id = 3",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept_capture_rows, one_capture["tailspin_process"]);
    assert_eq!(fk_violations(&conn), 0);
}

fn per_capture_counts(path: &Path) -> BTreeMap<&'static str, i64> {
    let conn = Connection::open(path).unwrap();
    let all = counts(&conn);
    CAPTURE_TABLES
        .iter()
        .map(|t| {
            assert_eq!(all[t] % 4, 0, "{t}");
            (*t, all[t] / 4)
        })
        .collect()
}

#[test]
fn the_writer_prunes_exactly_the_expired_rows_in_small_batches() {
    let f = retention_fixture(7);
    let one_capture = per_capture_counts(&f.path);
    {
        let conn = Connection::open(&f.path).unwrap();
        let dry = prune::dry_run(&conn, &POLICY, NOW).unwrap();
        assert_eq!(
            (
                dry.events,
                dry.captures,
                dry.machine_snapshots,
                dry.orphan_rows
            ),
            (1, 3, 1, 0)
        );
        // A dry run changes nothing.
        assert_eq!(count(&conn, "process_events"), 4);
    }
    let h = f.writer.handle();
    let counts = h.prune_blocking(POLICY, NOW).unwrap();
    assert_eq!(
        (counts.events, counts.captures, counts.machine_snapshots),
        (1, 3, 1)
    );
    let stats = f.writer.shutdown();
    assert_eq!(stats.prunes, 1);
    assert_eq!(stats.write_errors, 0);
    assert_pruned_exactly(&f.path, &one_capture);

    // A second run finds nothing.
    let conn = Connection::open(&f.path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    let again = prune::prune(&conn, &POLICY, NOW).unwrap();
    assert_eq!(again, rogue_hunter::store::PruneCounts::default());
}

#[test]
fn prune_on_its_own_connection_matches_the_dry_run() {
    let f = retention_fixture(5_000);
    let one_capture = per_capture_counts(&f.path);
    drop(f.writer.shutdown());
    let (conn, _) = rogue_hunter::store::open_writer(&f.path, NOW).unwrap();
    let dry = prune::dry_run(&conn, &POLICY, NOW).unwrap();
    let done = prune::prune(&conn, &POLICY, NOW).unwrap();
    assert_eq!(dry, done);
    drop(conn);
    assert_pruned_exactly(&f.path, &one_capture);
}

#[test]
fn bad_retention_values_are_refused() {
    let (_dir, path) = temp_db();
    let (conn, _) = rogue_hunter::store::open_writer(&path, NOW).unwrap();
    for policy in [
        PrunePolicy {
            events_days: 0,
            ..POLICY
        },
        PrunePolicy {
            captures_days: 0,
            ..POLICY
        },
        PrunePolicy {
            machine_snapshot_hours: -1.0,
            ..POLICY
        },
    ] {
        let err = prune::prune(&conn, &policy, NOW).unwrap_err();
        assert!(err.to_string().contains("retention"), "{err}");
        assert!(prune::dry_run(&conn, &policy, NOW).is_err());
    }
    let from_config = PrunePolicy::from(&rogue_hunter::config::RetentionConfig::default());
    assert_eq!(
        (from_config.events_days, from_config.captures_days),
        (90, 30)
    );
}
