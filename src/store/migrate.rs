//! Numbered forward migrations. A database is never wiped: each run of steps happens in one
//! transaction that either completes, with the new version recorded, or leaves every row as it
//! was.
//!
//! 20 → 21 (the original's last schema to ours):
//! - `process_events` is rebuilt so `peak_snapshot_id` becomes DEFERRABLE (the circular
//!   event ↔ peak snapshot reference then works with foreign keys on in any write order); it gains
//!   `start_time` and `exit_reason` and an index on `entry_time`. Rows, ids and the AUTOINCREMENT
//!   counter are kept.
//! - Columns are added (O(1), no table rewrite): identity on process rows, part statuses and
//!   errors, `stack_source`, `triggers`, `completed_at` on captures, Linux thread columns, log
//!   `source`.
//! - `buffer_samples` and `buffer_sample_processes` are created.
//! - The original ran without foreign keys, so its files usually hold orphans (snapshots of
//!   pruned events, machine snapshot rows of pruned snapshots). They are counted, kept, and
//!   recorded under [`ORPHANS_PENDING_KEY`] for the next prune to remove in small batches.
//!
//! 21 → 22: the profile columns of the stack header and frames, units, reasons and the machine's
//! state ([`schema::v22_ddl`]).

use super::schema::{
    self, OLDEST_MIGRATABLE, PROCESS_EVENTS_INDEXES, SCHEMA_VERSION, V21_NEW_INDEXES,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// `daemon_state` key: rows whose parent is missing were found; prune removes them.
pub const ORPHANS_PENDING_KEY: &str = "orphan_rows_pending";

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    pub from: i64,
    pub to: i64,
    /// Rows referring to a missing parent (left by the original's foreign-keys-off connection).
    pub orphan_rows: i64,
}

type Step = fn(&Connection) -> rusqlite::Result<()>;

/// (from, step): applying `step` to version `from` yields `from + 1`.
const STEPS: [(i64, Step); 2] = [(20, migrate_20_to_21), (21, migrate_21_to_22)];

/// 21 → 22: columns are added (O(1)) and one table created; no row is rewritten
/// ([`schema::v22_ddl`]: profile columns, units, reasons and the machine's state).
fn migrate_21_to_22(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&schema::v22_ddl())
}

fn migrate_20_to_21(conn: &Connection) -> rusqlite::Result<()> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'process_events'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    conn.execute_batch(&schema::process_events_ddl("process_events_v21"))?;
    conn.execute_batch(
        "INSERT INTO process_events_v21
             (id, pid, command, boot_time, entry_time, exit_time, entry_band, peak_band,
              peak_score, peak_snapshot_id)
         SELECT id, pid, command, boot_time, entry_time, exit_time, entry_band, peak_band,
              peak_score, peak_snapshot_id
         FROM process_events;
         DROP TABLE process_events;
         ALTER TABLE process_events_v21 RENAME TO process_events;",
    )?;
    conn.execute_batch(PROCESS_EVENTS_INDEXES)?;
    if let Some(seq) = seq {
        conn.execute(
            "UPDATE sqlite_sequence SET seq = MAX(seq, ?1) WHERE name = 'process_events'",
            [seq],
        )?;
        if conn.changes() == 0 {
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('process_events', ?1)",
                [seq],
            )?;
        }
    }
    conn.execute_batch(
        "ALTER TABLE process_snapshots ADD COLUMN ppid INTEGER;
         ALTER TABLE process_snapshots ADD COLUMN uid INTEGER;
         ALTER TABLE process_snapshots ADD COLUMN start_time REAL;
         ALTER TABLE forensic_captures ADD COLUMN buffer_status TEXT;
         ALTER TABLE forensic_captures ADD COLUMN spindump_error TEXT;
         ALTER TABLE forensic_captures ADD COLUMN tailspin_error TEXT;
         ALTER TABLE forensic_captures ADD COLUMN logs_error TEXT;
         ALTER TABLE forensic_captures ADD COLUMN buffer_error TEXT;
         ALTER TABLE forensic_captures ADD COLUMN stack_source TEXT;
         ALTER TABLE forensic_captures ADD COLUMN triggers TEXT;
         ALTER TABLE forensic_captures ADD COLUMN completed_at REAL;
         ALTER TABLE tailspin_thread ADD COLUMN state TEXT;
         ALTER TABLE tailspin_thread ADD COLUMN wchan TEXT;
         ALTER TABLE tailspin_thread ADD COLUMN syscall TEXT;
         ALTER TABLE log_entries ADD COLUMN source TEXT;
         ALTER TABLE machine_snapshot_processes ADD COLUMN ppid INTEGER;
         ALTER TABLE machine_snapshot_processes ADD COLUMN uid INTEGER;
         ALTER TABLE machine_snapshot_processes ADD COLUMN start_time REAL;",
    )?;
    conn.execute_batch(&schema::buffer_tables_ddl())?;
    conn.execute_batch(V21_NEW_INDEXES)?;
    Ok(())
}

/// Counts rows that violate a foreign key (`PRAGMA foreign_key_check`).
pub(crate) fn count_orphans(conn: &Connection) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while rows.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Migrates `conn` from `from` to [`SCHEMA_VERSION`], one transaction for the whole run.
///
/// Foreign keys are switched off while tables are rebuilt (the documented SQLite procedure) and
/// back on afterwards, whatever the outcome.
pub(crate) fn migrate(
    conn: &mut Connection,
    from: i64,
    now: f64,
) -> rusqlite::Result<MigrationReport> {
    debug_assert!((OLDEST_MIGRATABLE..SCHEMA_VERSION).contains(&from));
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = run_steps(conn, from, now);
    let restore = conn.pragma_update(None, "foreign_keys", true);
    let report = result?;
    restore?;
    Ok(report)
}

fn run_steps(conn: &mut Connection, from: i64, now: f64) -> rusqlite::Result<MigrationReport> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read inside the write lock: another process may have migrated meanwhile.
    let current = match schema::detect_version(&tx)? {
        schema::DbVersion::Version(v) => v,
        _ => from,
    };
    if current == SCHEMA_VERSION {
        return Ok(MigrationReport {
            from: SCHEMA_VERSION,
            to: SCHEMA_VERSION,
            orphan_rows: 0,
        });
    }
    let mut version = current;
    for (step_from, step) in STEPS {
        if step_from == version {
            step(&tx)?;
            version += 1;
        }
    }
    if version != SCHEMA_VERSION {
        return Err(super::error::data_error(format!(
            "no migration path from schema {current} to {SCHEMA_VERSION}"
        )));
    }
    let orphan_rows = count_orphans(&tx)?;
    if orphan_rows > 0 {
        tx.execute(
            "INSERT INTO daemon_state (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![ORPHANS_PENDING_KEY, orphan_rows.to_string(), now],
        )?;
    }
    schema::write_version(&tx, SCHEMA_VERSION, now)?;
    tx.commit()?;
    Ok(MigrationReport {
        from: current,
        to: SCHEMA_VERSION,
        orphan_rows,
    })
}
