//! A fresh file gets the current table list; files we must not touch are refused byte-for-byte.

use super::{NOW, count, temp_db};
use rogue_hunter::store::schema::TABLES;
use rogue_hunter::store::{SCHEMA_VERSION, StoreError, open_reader, open_writer};
use rusqlite::Connection;
use std::path::Path;

fn table_names(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn a_fresh_file_gets_every_table_and_the_writer_pragmas() {
    let (_dir, path) = temp_db();
    let nested = path.parent().unwrap().join("a/b/data.db");
    let (conn, report) = open_writer(&nested, NOW).unwrap();
    assert!(report.created && report.migration.is_none() && !report.read_only);

    let mut expected: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(table_names(&conn), expected);
    // The 18 tables of v20, the two v21 buffer tables and v22's snapshot members.
    assert_eq!(expected.len(), 21);

    let version: String = conn
        .query_row(
            "SELECT value FROM daemon_state WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION.to_string());
    let pragma = |name: &str| -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .unwrap()
    };
    assert_eq!(pragma("journal_mode"), "wal");
    assert_eq!(pragma("foreign_keys"), "1");
    assert_eq!(pragma("synchronous"), "1", "NORMAL");
    assert_eq!(pragma("journal_size_limit"), (16 * 1024 * 1024).to_string());
    assert_eq!(pragma("busy_timeout"), "5000");

    // The columns the other parts rely on exist.
    for (table, col) in [
        ("process_events", "exit_reason"),
        ("process_events", "start_time"),
        ("process_snapshots", "start_time"),
        ("forensic_captures", "buffer_status"),
        ("forensic_captures", "buffer_error"),
        ("forensic_captures", "stack_source"),
        ("forensic_captures", "triggers"),
        ("tailspin_thread", "wchan"),
        ("buffer_sample_processes", "dominant_resource"),
        ("buffer_sample_processes", "start_time"),
        ("machine_snapshot_processes", "uid"),
    ] {
        assert!(
            super::columns(&conn, table).iter().any(|c| c == col),
            "{table}.{col} missing"
        );
    }
    // METRICS block + pid, command, captured_at + identity = every ProcessScore field.
    let bsp = super::columns(&conn, "buffer_sample_processes");
    assert_eq!(
        bsp.len(),
        2 + 49,
        "id, sample_id and the 49 ProcessScore fields"
    );
    let members = super::columns(&conn, "process_snapshot_members");
    assert_eq!(
        members.len(),
        2 + 49,
        "id, snapshot_id and the 49 ProcessScore fields"
    );

    // Reopening is a no-op that keeps data.
    conn.execute(
        "INSERT INTO daemon_state (key, value, updated_at) VALUES ('mine', 'kept', 1)",
        [],
    )
    .unwrap();
    drop(conn);
    let (conn, report) = open_writer(&nested, NOW).unwrap();
    assert!(!report.created && report.migration.is_none());
    assert_eq!(count(&conn, "daemon_state"), 2);
}

#[test]
fn a_zero_length_file_is_initialised() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, b"").unwrap();
    let (conn, report) = open_writer(&path, NOW).unwrap();
    assert!(report.created);
    assert_eq!(count(&conn, "process_events"), 0);
}

fn checkpointed_file_with_version(path: &Path, version: &str) {
    let (conn, _) = open_writer(path, NOW).unwrap();
    conn.execute(
        "UPDATE daemon_state SET value = ?1 WHERE key = 'schema_version'",
        [version],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO daemon_state (key, value, updated_at) VALUES ('payload', 'precious', 0)",
        [],
    )
    .unwrap();
    // Closing the last connection checkpoints and removes the WAL: all bytes are in the file.
    drop(conn);
    assert!(!sidecar(path, "-wal").exists());
}

fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    s.into()
}

/// The file is byte-for-byte the same and no -wal / -shm appeared next to it.
fn assert_untouched(path: &Path, before: &[u8]) {
    assert_eq!(std::fs::read(path).unwrap(), before, "file bytes changed");
    assert!(!sidecar(path, "-wal").exists(), "a -wal file appeared");
    assert!(!sidecar(path, "-shm").exists(), "a -shm file appeared");
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    let newer = SCHEMA_VERSION + 1;
    checkpointed_file_with_version(&path, &newer.to_string());
    let before = std::fs::read(&path).unwrap();

    let err = open_writer(&path, NOW).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TooNew {
                found,
                supported: SCHEMA_VERSION,
                ..
            } if found == newer
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("newer") && msg.contains("untouched"), "{msg}");
    assert_untouched(&path, &before);

    let err = open_reader(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    assert_untouched(&path, &before);
}

#[test]
fn an_unmigratable_old_schema_is_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    checkpointed_file_with_version(&path, "18");
    let before = std::fs::read(&path).unwrap();
    let err = open_writer(&path, NOW).unwrap_err();
    assert!(matches!(err, StoreError::TooOld { found: 18, .. }), "{err}");
    assert_untouched(&path, &before);
}

#[test]
fn files_that_are_not_sqlite_are_refused_and_left_untouched() {
    let (dir, _) = temp_db();
    let mut noise = Vec::with_capacity(8192);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..8192 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    let mut fake_header = b"SQLite format 3\0".to_vec();
    fake_header.extend(std::iter::repeat_n(0xAB, 4096));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "notes.txt",
            b"these are my notes, not a database\n".to_vec(),
        ),
        ("tiny", b"SQLite".to_vec()),
        ("noise.bin", noise),
        ("fake-header.db", fake_header),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = open_writer(&path, NOW).unwrap_err();
        assert!(
            matches!(err, StoreError::NotSqlite { .. }),
            "{name}: expected NotSqlite, got {err}"
        );
        assert!(err.to_string().contains("untouched"), "{err}");
        assert_untouched(&path, &bytes);
        assert!(matches!(
            open_reader(&path).unwrap_err(),
            StoreError::NotSqlite { .. }
        ));
        assert_untouched(&path, &bytes);
    }
    let dir_path = dir.path().join("a-directory");
    std::fs::create_dir(&dir_path).unwrap();
    assert!(matches!(
        open_writer(&dir_path, NOW).unwrap_err(),
        StoreError::NotSqlite { .. }
    ));
}

#[test]
fn someone_elses_sqlite_database_is_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread');",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = open_writer(&path, NOW).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("recipes"), "{err}");
    assert_untouched(&path, &before);
}

#[test]
fn readers_need_an_existing_current_database_and_cannot_write() {
    let (_dir, path) = temp_db();
    assert!(matches!(
        open_reader(&path).unwrap_err(),
        StoreError::NotFound(_)
    ));
    let (writer_conn, _) = open_writer(&path, NOW).unwrap();
    let reader = open_reader(&path).unwrap();
    let err = reader
        .execute(
            "INSERT INTO daemon_state (key, value) VALUES ('x', 'y')",
            [],
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("readonly") || err.to_string().contains("read-only"),
        "{err}"
    );
    let fk: i64 = reader
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    // WAL: the reader sees what the writer commits while both are open.
    writer_conn
        .execute(
            "INSERT INTO daemon_state (key, value) VALUES ('seen', 'yes')",
            [],
        )
        .unwrap();
    assert_eq!(count(&reader, "daemon_state"), 2);
}
