//! The `ProcessScore` ↔ column mapping shared by every table that stores whole processes
//! (`process_snapshots`, `machine_snapshot_processes`, `buffer_sample_processes`): the
//! original's 41 metric columns in its order, and the identity columns we add after them.
//! Each column is one line of [`METRIC_COLUMNS`] or [`IDENTITY_COLUMNS`] (see
//! [`super::columns`]); the DDL, the INSERT and SELECT lists, binding and reading all follow.

use super::columns::{self, Column, EmptyNull, Score, table};
use crate::model::ProcessScore;
use rusqlite::{Row, Statement};

table!(
    /// The original's 41-column METRICS block, in its order.
    pub static METRIC_COLUMNS,
    fn bind_metrics: ProcessScore {
        cpu,
        mem,
        mem_peak,
        pageins,
        pageins_rate,
        faults,
        faults_rate,
        disk_io,
        disk_io_rate,
        csw,
        csw_rate,
        syscalls,
        syscalls_rate,
        threads,
        mach_msgs,
        mach_msgs_rate,
        instructions,
        cycles,
        ipc,
        energy,
        energy_rate,
        wakeups,
        wakeups_rate,
        runnable_time,
        runnable_time_rate,
        qos_interactive,
        qos_interactive_rate,
        gpu_time,
        gpu_time_rate,
        zombie_children,
        state,
        priority,
        score: Score,
        band,
        cpu_share,
        gpu_share,
        mem_share,
        disk_share,
        wakeups_share,
        disproportionality,
        dominant_resource,
    }
);

table!(
    /// Identity columns we add after the metrics: (pid, start_time) is a process's identity.
    /// NULL (rows of the original) reads as 0.
    pub static IDENTITY_COLUMNS,
    fn bind_identity: ProcessScore {
        ppid,
        uid,
        start_time,
    }
);

table!(
    /// Columns added in v22 after the identity columns: the score's reason and the member count
    /// of the unit it belongs to (NULL in older rows, read as "" and 0).
    pub static UNIT_COLUMNS,
    fn bind_unit: ProcessScore {
        reason: EmptyNull,
        members,
    }
);

/// `cpu REAL NOT NULL, mem INTEGER NOT NULL, …` for a CREATE TABLE.
pub(crate) fn metrics_ddl() -> String {
    METRIC_COLUMNS
        .iter()
        .map(|c| format!("{} {} NOT NULL", c.name, c.sql_type))
        .collect::<Vec<_>>()
        .join(",\n    ")
}

/// Every stored column of a process: the metrics, the identity, then the unit.
fn all() -> impl Iterator<Item = &'static Column<ProcessScore>> {
    METRIC_COLUMNS
        .iter()
        .chain(IDENTITY_COLUMNS.iter())
        .chain(UNIT_COLUMNS.iter())
}

/// `cpu, mem, …, ppid, uid, start_time` for INSERT lists (`prefix` `s.` for SELECT ones).
pub(crate) fn process_list(prefix: &str) -> String {
    all()
        .map(|c| format!("{prefix}{}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many columns [`process_list`] names.
pub(crate) fn process_column_count() -> usize {
    METRIC_COLUMNS.len() + IDENTITY_COLUMNS.len() + UNIT_COLUMNS.len()
}

/// Binds a process's stored columns starting at parameter `idx` (1-based); returns the next
/// free index.
pub(crate) fn bind_process(
    stmt: &mut Statement<'_>,
    idx: usize,
    p: &ProcessScore,
) -> rusqlite::Result<usize> {
    let idx = bind_metrics(stmt, idx, p)?;
    let idx = bind_identity(stmt, idx, p)?;
    bind_unit(stmt, idx, p)
}

/// Reads a process's stored columns starting at column `idx` (0-based) into `p`; returns the
/// next column.
pub(crate) fn read_process(
    row: &Row<'_>,
    idx: usize,
    p: &mut ProcessScore,
) -> rusqlite::Result<usize> {
    columns::read(row, idx, all(), p)
}

/// An integer column read leniently: NULL → 0, REAL truncated, numeric text parsed.
pub(crate) fn int_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<i64> {
    Ok(columns::int(row.get_ref(idx)?))
}

/// A nullable integer column read leniently.
pub(crate) fn opt_int_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<i64>> {
    Ok(columns::Stored::from_sql(row.get_ref(idx)?))
}

/// A REAL column read leniently: NULL → 0.
pub(crate) fn real_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<f64> {
    Ok(columns::real(row.get_ref(idx)?))
}

/// A nullable REAL column read leniently.
pub(crate) fn opt_real_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<f64>> {
    Ok(columns::Stored::from_sql(row.get_ref(idx)?))
}

/// A TEXT column read leniently: NULL → "", numbers formatted.
pub(crate) fn text_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    Ok(opt_text_at(row, idx)?.unwrap_or_default())
}

/// A nullable TEXT column read leniently.
pub(crate) fn opt_text_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    Ok(columns::opt_text(row.get_ref(idx)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Band, ProcState, Resource};
    use rusqlite::Connection;

    #[test]
    fn metric_columns_are_the_process_score_fields() {
        let json = serde_json::to_value(ProcessScore::default()).unwrap();
        let obj = json.as_object().unwrap();
        for name in METRIC_COLUMNS
            .iter()
            .chain(IDENTITY_COLUMNS.iter())
            .chain(UNIT_COLUMNS.iter())
            .map(|c| c.name)
        {
            assert!(obj.contains_key(name), "{name} is not a ProcessScore field");
        }
        // pid, command, captured_at are the three not in the block.
        assert_eq!(
            METRIC_COLUMNS.len() + IDENTITY_COLUMNS.len() + UNIT_COLUMNS.len() + 3,
            obj.len()
        );
    }

    #[test]
    fn a_process_round_trips_through_the_columns() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE t ({}, {});",
            metrics_ddl(),
            IDENTITY_COLUMNS
                .iter()
                .chain(UNIT_COLUMNS.iter())
                .map(|c| format!("{} {}", c.name, c.sql_type))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .unwrap();
        let p = ProcessScore {
            cpu: 153.25,
            mem: u64::MAX,
            threads: 12,
            state: ProcState::Stuck,
            score: 77,
            band: Band::Critical,
            dominant_resource: Resource::Wakeups,
            disproportionality: 3.5,
            priority: -20,
            ppid: 1,
            uid: 1000,
            start_time: 1_700_000_000.5,
            reason: "cpu: 1.5 of 2 cores".into(),
            members: 4,
            ..Default::default()
        };
        let sql = format!(
            "INSERT INTO t ({}) VALUES ({})",
            process_list(""),
            columns::placeholders(1, process_column_count())
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        assert_eq!(bind_process(&mut stmt, 1, &p).unwrap(), 47);
        stmt.raw_execute().unwrap();
        let back = conn
            .query_row(&format!("SELECT {} FROM t", process_list("")), [], |row| {
                let mut q = ProcessScore::default();
                assert_eq!(read_process(row, 0, &mut q)?, 46);
                Ok(q)
            })
            .unwrap();
        let expected = ProcessScore {
            mem: i64::MAX as u64,
            ..p
        };
        assert_eq!(back, expected);
    }
}
