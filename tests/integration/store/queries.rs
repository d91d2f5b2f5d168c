//! Start-up helpers and read-only queries against files the writer produced.

use super::{NOW, count, create_capture, open_event, process, spawn, temp_db};
use crate::blocking_writer::BlockingWriter;
use rogue_hunter::model::Band;
use rogue_hunter::store::queries::{self, EventFilter};
use rogue_hunter::store::startup::{self, LAST_SAMPLE_TIME_KEY};
use rogue_hunter::store::{
    ExitReason, NewEvent, NewSnapshot, Op, SnapshotType, WriterConfig, open_reader, open_writer,
};
use rusqlite::Connection;

fn event(id: i64, pid: u32, boot: i64, entry: f64) -> Vec<Op> {
    let p = process(pid, 55, entry);
    vec![
        Op::OpenEvent(NewEvent {
            id,
            pid,
            start_time: p.start_time,
            command: p.command.clone(),
            boot_time: boot,
            entry_time: entry,
            entry_band: Band::Medium,
            peak_score: 55,
            peak_band: Band::Medium,
            peak_snapshot_id: None,
            unit: Default::default(),
            reason: String::new(),
        }),
        Op::InsertSnapshot(NewSnapshot {
            id: id * 10,
            event_id: id,
            snapshot_type: SnapshotType::Entry,
            process: p,
            members: Vec::new(),
        }),
        Op::SetPeak {
            event_id: id,
            peak_score: 55,
            peak_band: Band::Medium,
            peak_snapshot_id: id * 10,
            reason: String::new(),
            members: 1,
        },
    ]
}

#[test]
fn events_are_listed_by_boot_time_openness_and_limit() {
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    h.submit(event(1, 11, 100, NOW - 300.0)).unwrap();
    h.submit(event(2, 12, 200, NOW - 200.0)).unwrap();
    h.submit(event(3, 13, 200, NOW - 100.0)).unwrap();
    h.submit(vec![
        Op::CloseEvent {
            event_id: 1,
            exit_time: NOW - 250.0,
            reason: ExitReason::ProcessGone,
        },
        create_capture(1, 3, NOW - 90.0),
        create_capture(2, 3, NOW - 80.0),
    ])
    .unwrap();
    for (i, kind) in [SnapshotType::Checkpoint, SnapshotType::Exit]
        .into_iter()
        .enumerate()
    {
        h.submit(vec![Op::InsertSnapshot(NewSnapshot {
            id: 100 + i as i64,
            event_id: 3,
            snapshot_type: kind,
            process: process(13, 60, NOW - 50.0 + i as f64),
            members: Vec::new(),
        })])
        .unwrap();
    }
    drop(w.shutdown());

    let r = open_reader(&path).unwrap();
    let all = queries::events(&r, &EventFilter::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3, 2, 1]);
    assert_eq!(all[0].capture_count, 2);
    assert_eq!(all[2].exit_reason, Some(ExitReason::ProcessGone));
    assert_eq!(all[2].exit_time, Some(NOW - 250.0));
    let ids = |f: EventFilter| -> Vec<i64> {
        queries::events(&r, &f)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(
        ids(EventFilter {
            open_only: true,
            ..Default::default()
        }),
        vec![3, 2]
    );
    assert_eq!(
        ids(EventFilter {
            boot_time: Some(100),
            ..Default::default()
        }),
        vec![1]
    );
    assert_eq!(
        ids(EventFilter {
            since: Some(NOW - 200.0),
            ..Default::default()
        }),
        vec![3, 2]
    );
    assert_eq!(
        ids(EventFilter {
            limit: Some(1),
            boot_time: Some(200),
            ..Default::default()
        }),
        vec![3]
    );
    // Pages: the count ignores the limit, the offset skips the newest.
    let page = EventFilter {
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(queries::count_events(&r, &page).unwrap(), 3);
    let second: Vec<i64> = queries::events_page(&r, &page, 1)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(second, vec![2]);
    assert!(queries::events_page(&r, &page, 3).unwrap().is_empty());
    let open_of_boot = EventFilter {
        open_only: true,
        boot_time: Some(200),
        ..Default::default()
    };
    assert_eq!(queries::count_events(&r, &open_of_boot).unwrap(), 2);

    let snaps = queries::snapshots_of_event(&r, 3).unwrap();
    assert_eq!(
        snaps
            .iter()
            .map(|s| s.snapshot_type.to_string())
            .collect::<Vec<_>>(),
        vec!["entry", "checkpoint", "exit"]
    );
    assert_eq!(snaps[1].process, process(13, 60, NOW - 50.0));
    let detail = queries::event_detail(&r, 3).unwrap().unwrap();
    assert_eq!(detail.peak_snapshot.unwrap().id, 30);
    assert!(queries::event_detail(&r, 99).unwrap().is_none());
    let caps = queries::captures_of_event(&r, 3).unwrap();
    assert_eq!(caps.iter().map(|c| c.id).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(
        caps[0].stacks.status,
        Some(rogue_hunter::store::PartStatus::Pending)
    );

    let counts = queries::counts(&r).unwrap();
    assert_eq!(
        counts.schema_version,
        Some(rogue_hunter::store::SCHEMA_VERSION)
    );
    assert_eq!(counts.open_events, 2);
    assert_eq!(counts.tables["process_events"], 3);
    assert_eq!(counts.tables["process_snapshots"], 5);
    assert_eq!(counts.tables.len(), 21);

    // JSON output keeps the original's field names.
    let json = serde_json::to_value(detail_for_json(&r)).unwrap();
    assert_eq!(json["event"]["peak_band"], "medium");
    assert_eq!(
        json["peak_snapshot"]["process"]["dominant_resource"],
        "wakeups"
    );
}

fn detail_for_json(r: &Connection) -> queries::EventDetail {
    queries::event_detail(r, 2).unwrap().unwrap()
}

#[test]
fn next_ids_never_reuse_an_id_and_a_crash_closes_events_at_the_last_sample() {
    let (_dir, path) = temp_db();
    {
        let (conn, _) = open_writer(&path, NOW).unwrap();
        let ids = startup::next_ids(&conn).unwrap();
        assert_eq!((ids.event, ids.snapshot, ids.capture), (1, 1, 1));
    }
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    h.submit(event(1, 1, 5, NOW - 100.0)).unwrap();
    h.submit(event(2, 2, 5, NOW - 10.0)).unwrap();
    h.submit(vec![
        create_capture(4, 1, NOW),
        Op::SetDaemonState {
            key: LAST_SAMPLE_TIME_KEY.into(),
            value: (NOW - 20.0).to_string(),
            at: NOW - 20.0,
        },
    ])
    .unwrap();
    drop(w.shutdown());

    let (conn, _) = open_writer(&path, NOW).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM process_events WHERE id = 2;")
        .unwrap();
    let ids = startup::next_ids(&conn).unwrap();
    assert_eq!(ids.event, 3, "id 2 was used and is not handed out again");
    assert_eq!(ids.snapshot, 21);
    assert_eq!(ids.capture, 5);

    // The daemon died: event 1 is open. It closes at the last recorded sample time.
    let last = startup::last_sample_time(&conn).unwrap().unwrap();
    assert_eq!(last, NOW - 20.0);
    h_insert_open_event(&conn);
    let closed = startup::close_open_events(&conn, last, ExitReason::DaemonStopped).unwrap();
    assert_eq!(closed, 2);
    let (exit1, reason1): (f64, String) = conn
        .query_row(
            "SELECT exit_time, exit_reason FROM process_events WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((exit1, reason1.as_str()), (NOW - 20.0, "daemon_stopped"));
    // An event that started after the last recorded sample never gets a negative duration.
    let exit9: f64 = conn
        .query_row(
            "SELECT exit_time FROM process_events WHERE id = 9",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(exit9, NOW - 5.0);
    assert_eq!(
        startup::close_open_events(&conn, NOW, ExitReason::DaemonStopped).unwrap(),
        0
    );

    startup::set_state(&conn, "boot_time", "1763900000", NOW).unwrap();
    assert_eq!(
        startup::get_state(&conn, "boot_time").unwrap().as_deref(),
        Some("1763900000")
    );
    startup::set_state(&conn, "boot_time", "1763900001", NOW).unwrap();
    assert_eq!(
        startup::get_state(&conn, "boot_time").unwrap().as_deref(),
        Some("1763900001")
    );
    assert_eq!(startup::get_state(&conn, "missing").unwrap(), None);
    assert_eq!(count(&conn, "process_events"), 2);
}

fn h_insert_open_event(conn: &Connection) {
    conn.execute(
        "INSERT INTO process_events (id, pid, command, boot_time, entry_time, entry_band,
             peak_band, peak_score) VALUES (9, 9, 'late', 5, ?1, 'medium', 'medium', 45)",
        [NOW - 5.0],
    )
    .unwrap();
}

#[test]
fn open_event_helper_round_trips_through_the_event_detail() {
    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    w.handle().submit(open_event(5, 6, 77, NOW)).unwrap();
    drop(w.shutdown());
    let r = open_reader(&path).unwrap();
    let d = queries::event_detail(&r, 5).unwrap().unwrap();
    assert_eq!(d.event.pid, 77);
    assert_eq!(d.peak_snapshot.unwrap().process, process(77, 75, NOW));
}

#[test]
fn a_unit_event_keeps_its_unit_members_reasons_and_the_machine() {
    use rogue_hunter::machine::{Machine, PressureSource, Psi};
    use rogue_hunter::model::{Sample, UnitKind};
    use rogue_hunter::store::{EventUnit, MachineSnapshot};
    use std::sync::Arc;

    let (_dir, path) = temp_db();
    let w = spawn(&path, WriterConfig::default());
    let h = w.handle();
    let mut row = process(201, 72, NOW - 10.0);
    row.reason = "cpu: 2.0 of 2 cores for 6 s, cpu pressure 64 %".into();
    row.members = 4;
    let members: Vec<_> = (201..=204)
        .map(|pid| {
            let mut m = process(pid, 72, NOW - 10.0);
            m.members = 4;
            m
        })
        .collect();
    h.submit(vec![
        Op::OpenEvent(NewEvent {
            id: 1,
            pid: 201,
            start_time: row.start_time,
            command: "stress-ng-cpu".into(),
            boot_time: 100,
            entry_time: NOW - 10.0,
            entry_band: Band::Critical,
            peak_score: 72,
            peak_band: Band::Critical,
            peak_snapshot_id: Some(10),
            unit: EventUnit {
                key: "pgrp:200:stress-ng-cpu".into(),
                kind: UnitKind::ProcessGroup,
                label: "process group 200".into(),
                members: 3,
            },
            reason: "cpu: 1.5 of 2 cores".into(),
        }),
        Op::InsertSnapshot(NewSnapshot {
            id: 10,
            event_id: 1,
            snapshot_type: SnapshotType::Entry,
            process: row.clone(),
            members: members.clone(),
        }),
        Op::SetPeak {
            event_id: 1,
            peak_score: 72,
            peak_band: Band::Critical,
            peak_snapshot_id: 10,
            reason: row.reason.clone(),
            members: 4,
        },
    ])
    .unwrap();
    let machine = Machine {
        cpus: 2,
        cpu_busy: 2.0,
        forks_rate: 12.0,
        mem_total: 24 << 30,
        mem_available: 20 << 30,
        psi: Some(Psi::default()),
        pressure_cpu: 64.0,
        pressure_source: PressureSource::Psi,
        ..Machine::default()
    };
    h.submit_machine_snapshot(MachineSnapshot {
        sample: Arc::new(Sample {
            seq: 1,
            timestamp: NOW,
            processes: members.clone(),
            machine: machine.clone(),
            ..Default::default()
        }),
    })
    .unwrap();
    h.flush_blocking().unwrap();

    let r = open_reader(&path).unwrap();
    let e = &queries::events(&r, &EventFilter::default()).unwrap()[0];
    assert_eq!(e.unit_key.as_deref(), Some("pgrp:200:stress-ng-cpu"));
    assert_eq!(e.unit_kind, Some(UnitKind::ProcessGroup));
    assert_eq!(e.unit_label.as_deref(), Some("process group 200"));
    assert_eq!(e.members, Some(4), "the peak's member count");
    assert_eq!(e.reason.as_deref(), Some(row.reason.as_str()));
    assert_eq!(e.culprit(), "stress-ng-cpu ×4");
    let snap = queries::snapshot(&r, 10).unwrap().unwrap();
    assert_eq!(snap.process.reason, row.reason);
    assert_eq!(snap.process.members, 4);
    let got = queries::snapshot_members(&r, 10).unwrap();
    assert_eq!(
        got.iter().map(|p| p.pid).collect::<Vec<_>>(),
        vec![204, 203, 202, 201],
        "highest score first, then cpu"
    );
    assert_eq!(got[0], members[3]);
    let m = &queries::machine_snapshots(&r, None, None).unwrap()[0];
    assert_eq!(m.machine, machine);
    drop(r);
    // Snapshot members go with their snapshot.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM process_events;")
        .unwrap();
    assert_eq!(count(&conn, "process_snapshot_members"), 0);
}
