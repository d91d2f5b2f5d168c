//! The writer thread on real files: transactions, queue policy, chunking, failures.

use super::{
    NOW, capture_data, count, create_capture, is_root, open_event, process, sample, spawn, temp_db,
};
use crate::blocking_writer::BlockingWriter;
use rogue_hunter::model::{Band, Resource};
use rogue_hunter::store::queries;
use rogue_hunter::store::{
    BufferCapture, BulkWrite, CapturePart, Culprit, ExitReason, LogCapture, LogEntry,
    MachineSnapshot, NewSnapshot, Op, PartOutcome, PartStatus, SnapshotType, StackCapture, Writer,
    WriterConfig, open_reader, open_writer,
};
use rusqlite::{Connection, OpenFlags};

fn culprits() -> Vec<Culprit> {
    vec![Culprit {
        pid: 100,
        command: "proc-100".into(),
        score: 90,
        dominant_resource: Resource::Cpu,
        disproportionality: 4.0,
    }]
}

fn buffer(capture_id: i64, samples: usize, processes: usize) -> BulkWrite {
    BulkWrite::Buffer(BufferCapture {
        capture_id,
        culprits: culprits(),
        samples: (0..samples)
            .map(|i| sample(i as u64 + 1, NOW - 30.0 + i as f64 / 3.0, processes))
            .collect(),
    })
}

#[test]
fn a_sample_batch_commits_at_once_even_with_the_peak_named_before_its_snapshot() {
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    let mut ops = open_event(1, 1, 4242, NOW);
    ops.push(Op::SetDaemonState {
        key: "last_sample_time".into(),
        value: NOW.to_string(),
        at: NOW,
    });
    let ack = h.submit_acked(ops).unwrap().blocking_recv().unwrap();
    assert_eq!((ack.ops_applied, ack.ops_failed), (3, 0), "{ack:?}");
    let checkpoint = process(4242, 80, NOW + 1.0);
    let ack = h
        .submit_acked(vec![
            Op::InsertSnapshot(NewSnapshot {
                id: 2,
                event_id: 1,
                snapshot_type: SnapshotType::Peak,
                process: checkpoint.clone(),
                members: Vec::new(),
            }),
            Op::SetPeak {
                event_id: 1,
                peak_score: 80,
                peak_band: Band::Critical,
                peak_snapshot_id: 2,
                reason: String::new(),
                members: 1,
            },
            Op::CloseEvent {
                event_id: 1,
                exit_time: NOW + 2.0,
                reason: ExitReason::ScoreDropped,
            },
        ])
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(ack.ops_failed, 0, "{ack:?}");
    let stats = w.shutdown();
    assert_eq!(stats.batches_written, 2);
    assert_eq!(stats.write_errors, 0);
    assert_eq!(stats.transactions, 2, "one transaction per batch");

    let r = open_reader(&path).unwrap();
    let d = queries::event_detail(&r, 1).unwrap().unwrap();
    assert_eq!(d.event.peak_score, 80);
    assert_eq!(d.event.exit_reason, Some(ExitReason::ScoreDropped));
    assert_eq!(d.event.exit_time, Some(NOW + 2.0));
    assert_eq!(d.event.start_time, Some(checkpoint.start_time));
    let peak = d.peak_snapshot.unwrap();
    assert_eq!(peak.snapshot_type, SnapshotType::Peak.into());
    assert_eq!(peak.process, checkpoint);
    assert_eq!(
        rogue_hunter::store::startup::last_sample_time(&r).unwrap(),
        Some(NOW)
    );
}

#[test]
fn a_bad_operation_is_rolled_back_alone_and_counted() {
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    h.submit(open_event(1, 1, 10, NOW)).unwrap();
    let mut ops = open_event(1, 5, 10, NOW); // duplicate event id: constraint failure
    ops.extend(open_event(2, 2, 11, NOW));
    ops.push(Op::CloseEvent {
        event_id: 999,
        exit_time: NOW,
        reason: ExitReason::ProcessGone,
    });
    let ack = h.submit_acked(ops).unwrap().blocking_recv().unwrap();
    // Only the duplicate event and the close of a missing event fail; snapshot 5 (of the
    // existing event 1) and event 2 with its snapshot commit.
    assert_eq!(ack.ops_failed, 2, "{ack:?}");
    assert_eq!(ack.ops_applied, 3);
    assert!(ack.error.unwrap().contains("UNIQUE"));
    let stats = w.shutdown();
    assert_eq!(stats.ops_failed, 2);
    assert_eq!(stats.batches_failed, 0);
    assert!(stats.last_error.is_some());
    let conn = Connection::open(&path).unwrap();
    assert_eq!(count(&conn, "process_events"), 2);
    assert_eq!(count(&conn, "process_snapshots"), 3);
}

#[test]
fn when_the_writer_is_behind_batches_wait_in_order() {
    let (_dir, path) = temp_db();
    let w = spawn(
        &path,
        WriterConfig {
            behind_after: 1,
            chunk_rows: 100_000,
            ..Default::default()
        },
    );
    let h = w.handle();
    h.submit(open_event(1, 1, 1, NOW)).unwrap();
    h.submit(vec![create_capture(1, 1, NOW)]).unwrap();
    h.flush_blocking().unwrap();
    // Keep the writer busy with a big part while batches pile up.
    let bulk = h.send_bulk_blocking(buffer(1, 60, 300)).unwrap();
    let n = 300i64;
    for k in 2..=n {
        // Each batch closes the previous event and opens the next: out of order would fail.
        let mut ops = vec![Op::CloseEvent {
            event_id: k - 1,
            exit_time: NOW + k as f64,
            reason: ExitReason::ScoreDropped,
        }];
        ops.extend(open_event(k, k, k as u32, NOW + k as f64));
        h.submit(ops).unwrap();
    }
    let stats = h.flush_blocking().unwrap();
    assert!(stats.batches_delayed > 0, "{stats:?}");
    assert_eq!(stats.ops_failed, 0, "{stats:?}");
    assert_eq!(stats.batches_dropped, 0);
    assert_eq!(stats.queued_ops, 0);
    assert_eq!(bulk.blocking_recv().unwrap().status, PartStatus::Success);
    drop(w);
    let conn = Connection::open(&path).unwrap();
    assert_eq!(count(&conn, "process_events"), n);
    let open: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM process_events WHERE exit_time IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(open, 1);
}

#[test]
fn a_queue_over_its_limit_drops_batches_loudly() {
    let (_dir, path) = temp_db();
    let w = spawn(
        &path,
        WriterConfig {
            behind_after: 1,
            max_queued_ops: 4,
            chunk_rows: 1_000_000,
            ..Default::default()
        },
    );
    let h = w.handle();
    h.submit(open_event(1, 1, 1, NOW)).unwrap();
    h.submit(vec![create_capture(1, 1, NOW)]).unwrap();
    h.flush_blocking().unwrap();
    let _bulk = h.send_bulk_blocking(buffer(1, 90, 400)).unwrap();
    let mut acks = Vec::new();
    for k in 2..40 {
        acks.push(h.submit_acked(open_event(k, k, 1, NOW)).unwrap());
    }
    let stats = w.shutdown();
    assert!(stats.batches_dropped > 0, "{stats:?}");
    let dropped = acks
        .into_iter()
        .map(|a| a.blocking_recv().unwrap())
        .filter(|o| o.error.as_deref() == Some("dropped: writer backlog full"))
        .count() as u64;
    assert_eq!(dropped, stats.batches_dropped);
}

#[test]
fn machine_snapshots_are_written_whole_or_skipped_when_behind() {
    let (_dir, path) = temp_db();
    let w = spawn(
        &path,
        WriterConfig {
            behind_after: 1,
            ..Default::default()
        },
    );
    let h = w.handle();
    assert!(
        h.submit_machine_snapshot(MachineSnapshot {
            sample: sample(1, NOW, 250)
        })
        .unwrap()
    );
    h.flush_blocking().unwrap();
    h.submit(open_event(1, 1, 1, NOW)).unwrap();
    h.submit(vec![create_capture(1, 1, NOW)]).unwrap();
    let _bulk = h.send_bulk_blocking(buffer(1, 60, 300)).unwrap();
    let mut skipped = 0;
    for i in 0..20 {
        if !h
            .submit_machine_snapshot(MachineSnapshot {
                sample: sample(2 + i, NOW, 10),
            })
            .unwrap()
        {
            skipped += 1;
        }
    }
    let stats = w.shutdown();
    assert!(skipped > 0);
    assert_eq!(stats.machine_snapshots_skipped, skipped);
    assert_eq!(stats.machine_snapshots_written, 21 - skipped);
    let r = open_reader(&path).unwrap();
    let snaps = queries::machine_snapshots(&r, None, None).unwrap();
    assert_eq!(snaps.len() as u64, 21 - skipped);
    let first = snaps.iter().find(|s| s.process_count == 250).unwrap();
    let procs = queries::machine_snapshot_processes(&r, first.id).unwrap();
    assert_eq!(procs.len(), 250);
    assert_eq!(procs[0], process(100, 90, NOW));
}

#[test]
fn a_capture_buffer_is_stored_in_chunks_with_every_process_of_every_sample() {
    let (_dir, path) = temp_db();
    let w = spawn(
        &path,
        WriterConfig {
            chunk_rows: 1_000,
            ..Default::default()
        },
    );
    let h = w.handle();
    h.submit(open_event(1, 1, 100, NOW)).unwrap();
    h.submit(vec![create_capture(7, 1, NOW)]).unwrap();
    let before = h.flush_blocking().unwrap();
    let outcome = h
        .send_bulk_blocking(buffer(7, 90, 50))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(outcome.status, PartStatus::Success);
    assert_eq!(outcome.rows, 1 + 90 + 90 * 50);
    let stats = w.shutdown();
    assert!(
        stats.transactions - before.transactions >= 5,
        "chunks of 1,000 rows: {stats:?}"
    );

    let r = open_reader(&path).unwrap();
    let ctx = queries::buffer_context(&r, 7).unwrap().unwrap();
    assert_eq!((ctx.sample_count, ctx.peak_score), (90, 90));
    assert_eq!(ctx.culprits[0].command, "proc-100");
    assert_eq!(ctx.culprits[0].dominant_resource, Resource::Cpu.into());
    assert_eq!(ctx.unreadable_culprits, 0);
    let samples = queries::buffer_samples(&r, 7).unwrap();
    assert_eq!(samples.len(), 90);
    assert_eq!(samples[0].sample_index, 0);
    assert_eq!(samples[89].seq, Some(90));
    assert!(chrono::DateTime::parse_from_rfc3339(&samples[0].timestamp).is_ok());
    assert_eq!(count(&r, "buffer_sample_processes"), 4500);
    let one_pid = queries::buffer_processes(&r, 7, Some(101)).unwrap();
    assert_eq!(one_pid.len(), 90);
    assert_eq!(one_pid[3].sample_index, 3);
    assert_eq!(one_pid[3].process, process(101, 89, samples[3].captured_at));
    let of_sample = queries::buffer_sample_processes(&r, samples[0].id).unwrap();
    assert_eq!(of_sample.len(), 50);
    let cap = queries::capture(&r, 7).unwrap().unwrap();
    assert_eq!(cap.buffer.status, Some(PartStatus::Success));
    assert!(cap.completed_at.is_none(), "stacks and logs still pending");
}

#[test]
fn stacks_logs_and_part_statuses_complete_a_capture() {
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    h.submit(open_event(1, 1, 100, NOW)).unwrap();
    h.submit(vec![
        create_capture(3, 1, NOW),
        Op::AddCaptureTriggers {
            capture_id: 3,
            triggers: vec!["peak_escalation_critical".into(), "manual".into()],
        },
    ])
    .unwrap();
    let data = capture_data(100);
    let stacks = h
        .send_bulk_blocking(BulkWrite::Stacks(Box::new(StackCapture {
            capture_id: 3,
            source: "procfs".into(),
            data: data.clone(),
            outcome: PartOutcome::success(),
        })))
        .unwrap();
    let entries = vec![
        LogEntry {
            timestamp: "2025-11-24T16:00:01.000+00:00".into(),
            mach_timestamp: Some(5_000_000),
            subsystem: Some("kernel".into()),
            process_id: Some(0),
            message_type: Some("warning".into()),
            event_message: "task blocked for more than 120 seconds".into(),
            source: Some("kmsg".into()),
            ..Default::default()
        },
        LogEntry {
            timestamp: "2025-11-24T16:00:00.500+00:00".into(),
            event_message: "earlier line".into(),
            source: Some("journald".into()),
            ..Default::default()
        },
    ];
    let logs = h
        .send_bulk_blocking(BulkWrite::Logs(LogCapture {
            capture_id: 3,
            entries: entries.clone(),
            outcome: PartOutcome {
                status: PartStatus::Timeout,
                error: Some("journalctl timed out after 15 s".into()),
            },
        }))
        .unwrap();
    assert_eq!(stacks.blocking_recv().unwrap().status, PartStatus::Success);
    assert_eq!(logs.blocking_recv().unwrap().status, PartStatus::Timeout);
    {
        let r = open_reader(&path).unwrap();
        assert!(
            queries::capture(&r, 3)
                .unwrap()
                .unwrap()
                .completed_at
                .is_none()
        );
    }
    h.submit(vec![Op::SetCapturePart {
        capture_id: 3,
        part: CapturePart::Buffer,
        status: PartStatus::Skipped,
        error: Some("ring buffer empty".into()),
        at: NOW + 5.0,
    }])
    .unwrap();
    let stats = w.shutdown();
    assert_eq!(stats.write_errors, 0, "{stats:?}");

    let r = open_reader(&path).unwrap();
    assert_eq!(queries::capture_stacks(&r, 3).unwrap(), data);
    let cap = queries::capture(&r, 3).unwrap().unwrap();
    assert_eq!(cap.stack_source.as_deref(), Some("procfs"));
    assert_eq!(cap.stacks.status, Some(PartStatus::Success));
    assert_eq!(cap.logs.status, Some(PartStatus::Timeout));
    assert_eq!(
        cap.logs.error.as_deref(),
        Some("journalctl timed out after 15 s")
    );
    assert_eq!(cap.buffer.status, Some(PartStatus::Skipped));
    assert_eq!(cap.buffer.error.as_deref(), Some("ring buffer empty"));
    assert_eq!(cap.decode.status, None, "no decode step on this platform");
    assert_eq!(cap.completed_at, Some(NOW + 5.0));
    assert_eq!(
        cap.triggers,
        vec!["band_entry_critical", "peak_escalation_critical", "manual"]
    );
    let got = queries::log_entries(&r, 3, None).unwrap();
    assert_eq!(
        got,
        vec![entries[1].clone(), entries[0].clone()],
        "time order"
    );
    assert_eq!(queries::log_entries(&r, 3, Some(1)).unwrap().len(), 1);
}

#[test]
fn an_invalid_stack_tree_fails_its_part_without_leaving_rows() {
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    h.submit(open_event(1, 1, 100, NOW)).unwrap();
    h.submit(vec![create_capture(1, 1, NOW)]).unwrap();
    let mut data = capture_data(100);
    data.processes[0].threads[0].frames[1].parent = Some(3); // points forward
    let out = h
        .send_bulk_blocking(BulkWrite::Stacks(Box::new(StackCapture {
            capture_id: 1,
            source: "procfs".into(),
            data,
            outcome: PartOutcome::success(),
        })))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(out.status, PartStatus::Failed);
    assert!(out.error.unwrap().contains("parent"));
    drop(w);
    let r = open_reader(&path).unwrap();
    let cap = queries::capture(&r, 1).unwrap().unwrap();
    assert_eq!(cap.stacks.status, Some(PartStatus::Failed));
    assert_eq!(count(&r, "tailspin_process"), 0);
    assert_eq!(count(&r, "tailspin_header"), 0);
}

#[test]
fn small_batches_are_written_between_the_chunks_of_a_large_capture() {
    let (_dir, path) = temp_db();
    let w = spawn(
        &path,
        WriterConfig {
            chunk_rows: 500,
            ..Default::default()
        },
    );
    let h = w.handle();
    h.submit(open_event(1, 1, 100, NOW)).unwrap();
    h.submit(vec![create_capture(1, 1, NOW)]).unwrap();
    h.flush_blocking().unwrap();
    let mut bulk = h.send_bulk_blocking(buffer(1, 90, 200)).unwrap();
    let ack = h.submit_acked(open_event(2, 2, 200, NOW)).unwrap();
    let outcome = ack.blocking_recv().unwrap();
    assert_eq!(outcome.ops_failed, 0);
    assert!(
        bulk.try_recv().is_err(),
        "the small batch committed while the capture was still being written"
    );
    assert_eq!(bulk.blocking_recv().unwrap().status, PartStatus::Success);
    drop(w);
}

#[test]
fn the_writer_survives_a_full_database_and_recovers_when_space_returns() {
    let (_dir, path) = temp_db();
    let (conn, _) = open_writer(&path, NOW).unwrap();
    conn.execute_batch(
        "CREATE TABLE ballast (b BLOB); INSERT INTO ballast VALUES (zeroblob(400000));",
    )
    .unwrap();
    let page_count: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let limit: i64 = conn
        .query_row(
            &format!("PRAGMA max_page_count = {}", page_count + 3),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(limit, page_count + 3);
    let w = Writer::spawn(
        conn,
        WriterConfig {
            chunk_rows: 200,
            ..Default::default()
        },
    )
    .unwrap();
    let h = w.handle();
    h.submit(open_event(1, 1, 100, NOW)).unwrap();
    h.submit(vec![create_capture(1, 1, NOW)]).unwrap();
    let first = h.flush_blocking().unwrap();
    assert_eq!(first.write_errors, 0, "{first:?}");

    // A capture part far bigger than the space left fails, and leaves nothing behind.
    let out = h
        .send_bulk_blocking(buffer(1, 30, 200))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(out.status, PartStatus::Failed);
    assert!(out.error.as_deref().unwrap().contains("full"), "{out:?}");
    // Per-sample batches keep failing while the disk is full; the writer keeps going.
    let mut failed = 0;
    for k in 2..1000 {
        let ack = h
            .submit_acked(open_event(k, k, 1, NOW))
            .unwrap()
            .blocking_recv()
            .unwrap();
        if ack.error.is_some() {
            failed += 1;
            if failed == 5 {
                break;
            }
        }
    }
    assert_eq!(failed, 5, "the database filled up");
    let stats = h.flush_blocking().unwrap();
    assert!(
        stats.batches_failed > 0 && stats.bulk_failed == 1,
        "{stats:?}"
    );
    assert!(
        stats.last_error.as_deref().unwrap().contains("full"),
        "{stats:?}"
    );

    // Free space from another connection: the writer uses it for the next batch.
    let other = Connection::open(&path).unwrap();
    other.execute_batch("DELETE FROM ballast;").unwrap();
    let ack = h
        .submit_acked(open_event(100, 100, 1, NOW))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(ack.ops_failed, 0, "{ack:?}");
    let stats = w.shutdown();
    assert!(stats.batches_written > first.batches_written);
    assert_eq!(count(&other, "buffer_sample_processes"), 0);
    assert_eq!(count(&other, "buffer_context"), 0);
    let status: Option<String> = other
        .query_row(
            "SELECT buffer_status FROM forensic_captures WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status.as_deref(), Some("failed"));
    assert!(
        other
            .query_row(
                "SELECT 1 FROM process_events WHERE id = 100",
                [],
                |_| Ok(())
            )
            .is_ok()
    );
}

#[test]
fn the_writer_survives_a_read_only_file() {
    let (_dir, path) = temp_db();
    let (conn, _) = open_writer(&path, NOW).unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();
    let conn = if is_root() {
        // Root ignores file modes; open the way SQLite falls back for a write-protected file.
        eprintln!(
            "note: running as root, the read-only file is simulated with SQLITE_OPEN_READ_ONLY"
        );
        let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        c.pragma_update(None, "foreign_keys", true).unwrap();
        c
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let (c, report) = open_writer(&path, NOW).unwrap();
        assert!(report.read_only);
        c
    };
    let w = Writer::spawn(conn, WriterConfig::default()).unwrap();
    let h = w.handle();
    let ack = h
        .submit_acked(open_event(1, 1, 1, NOW))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert!(
        ack.error.as_deref().unwrap().contains("readonly"),
        "{ack:?}"
    );
    assert!(
        h.submit_machine_snapshot(MachineSnapshot {
            sample: sample(1, NOW, 5)
        })
        .unwrap()
    );
    let out = h
        .send_bulk_blocking(buffer(1, 2, 2))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(out.status, PartStatus::Failed);
    let prune = h.prune_blocking(
        rogue_hunter::store::PrunePolicy {
            events_days: 1,
            captures_days: 1,
            machine_snapshot_hours: 1.0,
        },
        NOW,
    );
    // Nothing to delete: prune reads and succeeds; or it fails, counted. Either way no panic.
    let _ = prune;
    h.submit(open_event(2, 2, 1, NOW)).unwrap();
    let stats = w.shutdown();
    assert!(stats.batches_failed >= 2, "{stats:?}");
    assert_eq!(stats.batches_written, 0);
    assert!(stats.write_errors >= 3, "{stats:?}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn shutdown_writes_everything_that_was_queued() {
    let (_dir, path) = temp_db();
    let w = spawn(
        &path,
        WriterConfig {
            behind_after: 4,
            ..Default::default()
        },
    );
    let h = w.handle();
    for k in 1..=500 {
        h.submit(open_event(k, k, k as u32, NOW)).unwrap();
    }
    let stats = w.shutdown();
    assert_eq!(
        stats.ops_failed + stats.batches_failed + stats.batches_dropped,
        0
    );
    assert!(
        h.submit(open_event(999, 999, 1, NOW)).is_err(),
        "writer stopped"
    );
    let conn = Connection::open(&path).unwrap();
    assert_eq!(count(&conn, "process_events"), 500);
    assert_eq!(count(&conn, "process_snapshots"), 500);
    // The final checkpoint folded the WAL into the file.
    let wal = std::fs::metadata(path.with_extension("db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(wal, 0);
}

#[test]
fn checkpoints_run_on_their_own_thread_once_the_wal_is_large() {
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    h.submit(open_event(1, 1, 100, NOW)).unwrap();
    h.submit(vec![create_capture(1, 1, NOW)]).unwrap();
    let size_before = std::fs::metadata(&path).unwrap().len();
    let out = h
        .send_bulk_blocking(buffer(1, 90, 200))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(out.status, PartStatus::Success);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut stats = h.flush_blocking().unwrap();
    while stats.checkpoints == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        stats = h.stats();
    }
    assert!(stats.checkpoints >= 1, "{stats:?}");
    assert_eq!(stats.checkpoint_errors, 0);
    assert!(
        std::fs::metadata(&path).unwrap().len() > size_before + 1_000_000,
        "pages reached the database file while the writer was running"
    );
    drop(w.shutdown());
}

#[test]
fn dropping_the_writer_writes_what_was_queued_and_stops_the_thread() {
    let (_dir, path) = temp_db();
    let w = spawn(
        &path,
        WriterConfig {
            behind_after: 2,
            ..Default::default()
        },
    );
    let h = w.handle();
    for k in 1..=100 {
        h.submit(open_event(k, k, 1, NOW)).unwrap();
    }
    drop(w);
    assert!(matches!(
        h.submit(open_event(101, 101, 1, NOW)),
        Err(rogue_hunter::store::StoreError::WriterStopped)
    ));
    let conn = Connection::open(&path).unwrap();
    assert_eq!(count(&conn, "process_events"), 100);
}

/// Triggers and part statuses are typed in memory and stored as the same text as ever: rows of
/// earlier versions and of this one read alike, and SQL written against them keeps working.
#[test]
fn triggers_and_part_statuses_are_stored_as_the_same_text() {
    use rogue_hunter::model::{PsiResource, Trigger};
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    h.submit(open_event(1, 1, 100, NOW)).unwrap();
    let triggers = [
        (Trigger::BandEntry(Band::Critical), "band_entry_critical"),
        (Trigger::PeakEscalation(Band::High), "peak_escalation_high"),
        (Trigger::Manual, "manual"),
        (Trigger::Pressure(PsiResource::Io), "pressure_io"),
    ];
    let mut ops = Vec::new();
    for (i, (trigger, _)) in triggers.iter().enumerate() {
        ops.push(Op::CreateCapture(rogue_hunter::store::NewCapture {
            id: i as i64 + 1,
            event_id: 1,
            captured_at: NOW,
            trigger: *trigger,
            has_decode_step: i == 3,
        }));
    }
    let part = |capture_id, part, status| Op::SetCapturePart {
        capture_id,
        part,
        status,
        error: None,
        at: NOW,
    };
    ops.push(part(1, CapturePart::Buffer, PartStatus::Success));
    ops.push(part(1, CapturePart::Stacks, PartStatus::Failed));
    ops.push(part(1, CapturePart::Logs, PartStatus::Skipped));
    ops.push(part(2, CapturePart::Logs, PartStatus::Timeout));
    ops.push(part(4, CapturePart::Decode, PartStatus::Skipped));
    let ack = h.submit_acked(ops).unwrap().blocking_recv().unwrap();
    assert_eq!(ack.ops_failed, 0, "{ack:?}");
    drop(w);

    let conn = Connection::open(&path).unwrap();
    let rows: Vec<[Option<String>; 5]> = conn
        .prepare(
            "SELECT trigger, buffer_status, tailspin_status, spindump_status, logs_status
             FROM forensic_captures ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let text = |v: [Option<&str>; 5]| v.map(|s| s.map(str::to_string));
    assert_eq!(
        rows,
        [
            text([
                Some("band_entry_critical"),
                Some("success"),
                Some("failed"),
                None,
                Some("skipped")
            ]),
            text([
                Some("peak_escalation_high"),
                Some("pending"),
                Some("pending"),
                None,
                Some("timeout")
            ]),
            text([
                Some("manual"),
                Some("pending"),
                Some("pending"),
                None,
                Some("pending")
            ]),
            text([
                Some("pressure_io"),
                Some("pending"),
                Some("pending"),
                Some("skipped"),
                Some("pending")
            ]),
        ]
    );
    for (i, (trigger, stored)) in triggers.iter().enumerate() {
        let row = queries::capture(&conn, i as i64 + 1).unwrap().unwrap();
        assert_eq!(row.trigger, (*trigger).into(), "{stored}");
        assert_eq!(row.triggers, [*stored]);
    }
    // Text written by another version reads back as it is.
    conn.execute(
        "UPDATE forensic_captures SET trigger = 'test1' WHERE id = 3",
        [],
    )
    .unwrap();
    let row = queries::capture(&conn, 3).unwrap().unwrap();
    assert_eq!(row.trigger.to_string(), "test1");
}
