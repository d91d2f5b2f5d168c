//! An original v20 database (schema from the reference's table list, a row in every table)
//! migrates to the current schema in place with every row, id and counter intact; so does a v21
//! database of ours (`tests/fixtures/v21_schema.sql`, the schema a v21 daemon created).

use super::{NOW, columns, count, rows, temp_db};
use rogue_hunter::store::migrate::ORPHANS_PENDING_KEY;
use rogue_hunter::store::queries::{self, EventFilter};
use rogue_hunter::store::schema::TABLES;
use rogue_hunter::store::{SCHEMA_VERSION, open_reader, open_writer, startup};
use rusqlite::Connection;
use rusqlite::types::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const V20_SCHEMA: &str = include_str!("../../fixtures/original_v20_schema.sql");
const V21_SCHEMA: &str = include_str!("../../fixtures/v21_schema.sql");

/// The 18 v20 tables, parents first.
const V20_TABLES: [&str; 18] = [
    "daemon_state",
    "process_events",
    "process_snapshots",
    "forensic_captures",
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
    "buffer_context",
    "machine_snapshots",
    "machine_snapshot_processes",
];

fn value_for(table: &str, col: &str, ty: &str, i: i64, fk: Option<&str>) -> Value {
    if let Some(parent) = fk {
        return match (table, col) {
            ("tailspin_frame", "parent_frame_id") if i == 1 => Value::Null,
            ("tailspin_frame", "parent_frame_id") => Value::Integer(1),
            ("process_events", "peak_snapshot_id") => Value::Null,
            _ => {
                let _ = parent;
                Value::Integer(i)
            }
        };
    }
    match col {
        "id" => Value::Integer(i),
        "entry_band" | "peak_band" | "band" => Value::Text("high".into()),
        "state" if table != "tailspin_frame" => Value::Text("running".into()),
        "dominant_resource" => Value::Text("cpu".into()),
        "snapshot_type" => Value::Text("entry".into()),
        "exit_time" if i == 2 => Value::Null,
        "tailspin_status" | "logs_status" => Value::Text("success".into()),
        "spindump_status" => Value::Null,
        "culprits" => Value::Text(format!(
            r#"[{{"pid": {i}, "command": "c{i}", "score": 80, "dominant_resource": "cpu", "disproportionality": 2.5}}]"#
        )),
        _ => match ty {
            "INTEGER" => Value::Integer(1000 * i + col.len() as i64),
            "REAL" => Value::Real(i as f64 + 0.25 + col.len() as f64),
            _ => Value::Text(format!("{table}.{col}.{i}")),
        },
    }
}

/// Builds an original v20 file: the fixture schema in WAL mode, two rows in every table, and an
/// AUTOINCREMENT counter ahead of MAX(id) (a deleted newest event).
pub fn build_v20(path: &Path) -> Connection {
    build(path, V20_SCHEMA, &V20_TABLES, "20")
}

/// The 20 tables of v21: v20's and the two buffer tables.
fn v21_tables() -> Vec<&'static str> {
    let mut t = V20_TABLES.to_vec();
    t.extend(["buffer_samples", "buffer_sample_processes"]);
    t
}

/// Builds a v21 file of ours the same way.
fn build_v21(path: &Path) -> Connection {
    build(path, V21_SCHEMA, &v21_tables(), "21")
}

fn build(path: &Path, schema: &str, tables: &[&str], version: &str) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    conn.execute_batch(schema).unwrap();
    for table in tables.iter().filter(|t| **t != "daemon_state") {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .unwrap();
        let cols: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT \"from\", \"table\" FROM pragma_foreign_key_list('{table}')"
            ))
            .unwrap();
        let fks: BTreeMap<String, String> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for i in 1..=2 {
            let values: Vec<Value> = cols
                .iter()
                .map(|(c, ty)| value_for(table, c, ty, i, fks.get(c).map(String::as_str)))
                .collect();
            let names: Vec<&str> = cols.iter().map(|(c, _)| c.as_str()).collect();
            let marks: Vec<String> = (1..=values.len()).map(|k| format!("?{k}")).collect();
            conn.execute(
                &format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    names.join(", "),
                    marks.join(", ")
                ),
                rusqlite::params_from_iter(values),
            )
            .unwrap();
        }
    }
    conn.execute_batch(
        "UPDATE process_events SET peak_snapshot_id = id;
         INSERT INTO process_events (id, pid, command, boot_time, entry_time, entry_band,
             peak_band, peak_score) VALUES (3, 3, 'gone', 1, 1.0, 'low', 'low', 1);
         DELETE FROM process_events WHERE id = 3;
         INSERT INTO daemon_state VALUES ('custom', 'kept', 2.0);",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO daemon_state VALUES ('schema_version', ?1, 1.0)",
        [version],
    )
    .unwrap();
    conn
}

type Shape = BTreeMap<
    String,
    (
        Vec<(String, String, bool, bool)>,
        BTreeSet<String>,
        BTreeSet<String>,
    ),
>;

fn affinity(ty: &str) -> String {
    let t = ty.to_ascii_uppercase();
    if t.contains("INT") {
        "INTEGER"
    } else if t.contains("CHAR") || t.contains("TEXT") || t.contains("CLOB") {
        "TEXT"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "REAL"
    } else {
        "NUMERIC"
    }
    .to_string()
}

/// Columns (name, affinity, not null, pk), foreign keys and index definitions of every table.
fn shape(conn: &Connection) -> Shape {
    let mut out = Shape::new();
    for table in TABLES {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .unwrap();
        let cols = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    affinity(&r.get::<_, String>(1)?),
                    r.get::<_, bool>(2)?,
                    r.get::<_, i64>(3)? > 0,
                ))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list('{table}')"
            ))
            .unwrap();
        let fks = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} -> {}({:?}) on delete {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?
                ))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT l.\"unique\", l.partial, (SELECT group_concat(name, ',') FROM
                     (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno))
                 FROM pragma_index_list('{table}') l"
            ))
            .unwrap();
        let indexes = stmt
            .query_map([], |r| {
                Ok(format!(
                    "({}) unique={} partial={}",
                    r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    r.get::<_, bool>(0)?,
                    r.get::<_, bool>(1)?
                ))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        out.insert(table.to_string(), (cols, fks, indexes));
    }
    out
}

#[test]
fn an_original_v20_database_migrates_to_the_current_schema_with_every_row_intact() {
    let (_dir, path) = temp_db();
    let conn = build_v20(&path);
    let mut before = BTreeMap::new();
    for table in V20_TABLES {
        let cols = columns(&conn, table);
        let data = rows(&conn, table, &cols);
        assert!(data.len() >= 2, "{table} has rows");
        before.insert(table, (cols, data));
    }
    let seq_before: i64 = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'process_events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seq_before, 3);
    drop(conn);

    let (conn, report) = open_writer(&path, NOW).unwrap();
    let m = report.migration.expect("migrated");
    assert_eq!((m.from, m.to, m.orphan_rows), (20, SCHEMA_VERSION, 0));
    assert!(!report.created);

    for (table, (cols, data)) in &before {
        let after = rows(&conn, table, cols);
        let expected: Vec<Vec<Value>> = if *table == "daemon_state" {
            // Only the version row changes.
            data.iter()
                .map(|r| {
                    if r[0] == Value::Text("schema_version".into()) {
                        vec![
                            r[0].clone(),
                            Value::Text(SCHEMA_VERSION.to_string()),
                            Value::Real(NOW),
                        ]
                    } else {
                        r.clone()
                    }
                })
                .collect()
        } else {
            data.clone()
        };
        assert_eq!(&after, &expected, "rows of {table} changed");
        let new_cols: Vec<String> = columns(&conn, table)
            .into_iter()
            .filter(|c| !cols.contains(c))
            .collect();
        if !new_cols.is_empty() {
            let added = rows(&conn, table, &new_cols);
            assert!(
                added.iter().flatten().all(|v| *v == Value::Null),
                "new columns of {table} are NULL for old rows"
            );
        }
    }
    for t in [
        "buffer_samples",
        "buffer_sample_processes",
        "process_snapshot_members",
    ] {
        assert_eq!(count(&conn, t), 0);
    }
    let seq_after: i64 = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'process_events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        seq_after, 3,
        "the AUTOINCREMENT counter survives the rebuild"
    );
    assert_eq!(startup::next_ids(&conn).unwrap().event, 4);

    // Same structure as a fresh file.
    let (_dir2, fresh_path) = temp_db();
    let (fresh, _) = open_writer(&fresh_path, NOW).unwrap();
    assert_eq!(shape(&conn), shape(&fresh));
    let events_sql = |c: &Connection| -> String {
        c.query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'process_events'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(events_sql(&conn).contains("DEFERRABLE INITIALLY DEFERRED"));
    assert!(events_sql(&fresh).contains("DEFERRABLE INITIALLY DEFERRED"));
    let violations: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(violations, 0);

    // The migrated file reads through the query layer, and cascades work with FK on.
    drop(conn);
    let reader = open_reader(&path).unwrap();
    let events = queries::events(&reader, &EventFilter::default()).unwrap();
    assert_eq!(events.len(), 2);
    let open = queries::events(
        &reader,
        &EventFilter {
            open_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(open.len(), 1);
    let detail = queries::event_detail(&reader, 1).unwrap().unwrap();
    assert_eq!(detail.peak_snapshot.unwrap().process.start_time, 0.0);
    let caps = queries::captures_of_event(&reader, 1).unwrap();
    assert_eq!(caps.len(), 1);
    assert_eq!(caps[0].triggers, vec![caps[0].trigger.to_string()]);
    assert!(caps[0].buffer.status.is_none() && caps[0].decode.status.is_none());
    let stacks = queries::capture_stacks(&reader, 1).unwrap();
    assert_eq!(stacks.processes.len(), 1);
    assert_eq!(stacks.processes[0].threads[0].frames.len(), 1);
    drop(reader);

    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM process_events;")
        .unwrap();
    for t in [
        "process_snapshots",
        "forensic_captures",
        "tailspin_header",
        "tailspin_frame",
        "log_entries",
        "buffer_context",
    ] {
        assert_eq!(count(&conn, t), 0, "{t} cascaded");
    }
}

#[test]
fn a_migrated_database_accepts_an_event_naming_its_peak_before_the_snapshot() {
    let (_dir, path) = temp_db();
    drop(build_v20(&path));
    let (conn, _) = open_writer(&path, NOW).unwrap();
    conn.execute_batch(
        "BEGIN;
         INSERT INTO process_events (id, pid, command, boot_time, entry_time, entry_band,
             peak_band, peak_score, peak_snapshot_id) VALUES (10, 1, 'x', 1, 1.0, 'high', 'high', 65, 99);
         INSERT INTO process_snapshots (id, event_id, snapshot_type, captured_at, cpu, mem,
             mem_peak, pageins, pageins_rate, faults, faults_rate, disk_io, disk_io_rate, csw,
             csw_rate, syscalls, syscalls_rate, threads, mach_msgs, mach_msgs_rate, instructions,
             cycles, ipc, energy, energy_rate, wakeups, wakeups_rate, runnable_time,
             runnable_time_rate, qos_interactive, qos_interactive_rate, gpu_time, gpu_time_rate,
             zombie_children, state, priority, score, band, cpu_share, gpu_share, mem_share,
             disk_share, wakeups_share, disproportionality, dominant_resource)
         VALUES (99, 10, 'entry', 1.0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
             'running', 0, 65, 'high', 0,0,0,0,0,0, 'cpu');
         COMMIT;",
    )
    .unwrap();
    // A dangling peak is still refused at commit.
    let err = conn
        .execute_batch(
            "BEGIN; UPDATE process_events SET peak_snapshot_id = 12345 WHERE id = 10; COMMIT;",
        )
        .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
}

#[test]
fn orphans_of_the_original_are_counted_kept_and_removed_by_the_next_prune() {
    let (_dir, path) = temp_db();
    let conn = build_v20(&path);
    // The original pruned with foreign keys off: children stayed behind.
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         DELETE FROM machine_snapshots WHERE id = 1;
         DELETE FROM forensic_captures WHERE id = 2;",
    )
    .unwrap();
    let msp_before = count(&conn, "machine_snapshot_processes");
    drop(conn);

    let (conn, report) = open_writer(&path, NOW).unwrap();
    let m = report.migration.unwrap();
    assert!(m.orphan_rows >= 2, "{m:?}");
    assert_eq!(
        count(&conn, "machine_snapshot_processes"),
        msp_before,
        "kept"
    );
    assert!(
        startup::get_state(&conn, ORPHANS_PENDING_KEY)
            .unwrap()
            .is_some()
    );

    let policy = rogue_hunter::store::PrunePolicy {
        events_days: 36_500,
        captures_days: 36_500,
        machine_snapshot_hours: 1e9,
    };
    let dry = rogue_hunter::store::prune::dry_run(&conn, &policy, NOW).unwrap();
    assert_eq!(dry.orphan_rows, m.orphan_rows as u64);
    let counts = rogue_hunter::store::prune::prune(&conn, &policy, NOW).unwrap();
    assert!(counts.orphan_rows >= 2);
    assert_eq!(
        counts.events + counts.captures + counts.machine_snapshots,
        0
    );
    let violations: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(violations, 0);
    assert_eq!(count(&conn, "machine_snapshot_processes"), msp_before - 1);
    assert!(
        startup::get_state(&conn, ORPHANS_PENDING_KEY)
            .unwrap()
            .is_none()
    );
    // Everything with a parent is still there.
    assert_eq!(count(&conn, "process_events"), 2);
    assert_eq!(count(&conn, "forensic_captures"), 1);
    assert_eq!(SCHEMA_VERSION, 22);
}

#[test]
fn a_v21_database_migrates_to_v22_with_every_row_intact_and_takes_units_and_profiles() {
    let (_dir, path) = temp_db();
    let conn = build_v21(&path);
    let mut before = BTreeMap::new();
    for table in v21_tables() {
        let cols = columns(&conn, table);
        let data = rows(&conn, table, &cols);
        assert!(data.len() >= 2, "{table} has rows");
        before.insert(table, (cols, data));
    }
    drop(conn);

    let (conn, report) = open_writer(&path, NOW).unwrap();
    let m = report.migration.expect("migrated");
    assert_eq!((m.from, m.to, m.orphan_rows), (21, 22, 0));
    for (table, (cols, data)) in &before {
        let after = rows(&conn, table, cols);
        if *table == "daemon_state" {
            assert_eq!(after.len(), data.len());
            continue;
        }
        assert_eq!(&after, data, "rows of {table} changed");
        let new_cols: Vec<String> = columns(&conn, table)
            .into_iter()
            .filter(|c| !cols.contains(c))
            .collect();
        if !new_cols.is_empty() {
            assert!(
                rows(&conn, table, &new_cols)
                    .iter()
                    .flatten()
                    .all(|v| *v == Value::Null),
                "new columns of {table} are NULL for old rows"
            );
        }
    }
    for (table, added) in [
        (
            "process_events",
            &["unit_key", "unit_kind", "unit_label", "members", "reason"][..],
        ),
        ("process_snapshots", &["reason", "members"][..]),
        ("buffer_sample_processes", &["reason", "members"][..]),
        (
            "machine_snapshots",
            &["cpus", "mem_available", "psi_io_full_60s"][..],
        ),
        ("buffer_samples", &["forks_rate", "pressure_source"][..]),
        (
            "tailspin_header",
            &["sample_rate_hz", "samples_lost", "stacks_truncated"][..],
        ),
        (
            "tailspin_frame",
            &["on_cpu_count", "off_cpu_count", "source_line"][..],
        ),
    ] {
        let cols = columns(&conn, table);
        for c in added {
            assert!(cols.iter().any(|x| x == c), "{table}.{c}");
        }
    }
    let (_dir2, fresh_path) = temp_db();
    let (fresh, _) = open_writer(&fresh_path, NOW).unwrap();
    assert_eq!(
        shape(&conn),
        shape(&fresh),
        "same structure as a fresh file"
    );

    // Old rows read through the query layer with the new fields empty.
    let reader = open_reader(&path).unwrap();
    let events = queries::events(&reader, &EventFilter::default()).unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.members.is_none() && e.unit_key.is_none())
    );
    let detail = queries::event_detail(&reader, 1).unwrap().unwrap();
    let peak = detail.peak_snapshot.unwrap();
    assert_eq!(
        (peak.process.reason.as_str(), peak.process.members),
        ("", 0)
    );
    assert!(
        queries::snapshot_members(&reader, peak.id)
            .unwrap()
            .is_empty()
    );
    let snaps = queries::machine_snapshots(&reader, None, None).unwrap();
    assert_eq!(snaps.len(), 2);
    assert!(snaps.iter().all(|s| s.machine.psi.is_none()));
}
