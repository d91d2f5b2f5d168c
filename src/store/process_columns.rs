//! The `ProcessScore` ↔ column mapping shared by every table that stores whole processes
//! (`process_snapshots`, `machine_snapshot_processes`, `buffer_sample_processes`).
//!
//! Reading is lenient on purpose: rows written by the original (v20) may hold a REAL where we
//! write an INTEGER, NULL identity columns, or a state name we do not know. None of that may make
//! a history query fail.

use crate::model::{Band, ProcState, ProcessScore, Resource};
use rusqlite::types::ValueRef;
use rusqlite::{Row, Statement, ToSql};

/// The original's 41-column METRICS block, in its order, with declared types.
pub const METRIC_COLUMNS: [(&str, &str); 41] = [
    ("cpu", "REAL"),
    ("mem", "INTEGER"),
    ("mem_peak", "INTEGER"),
    ("pageins", "INTEGER"),
    ("pageins_rate", "REAL"),
    ("faults", "INTEGER"),
    ("faults_rate", "REAL"),
    ("disk_io", "INTEGER"),
    ("disk_io_rate", "REAL"),
    ("csw", "INTEGER"),
    ("csw_rate", "REAL"),
    ("syscalls", "INTEGER"),
    ("syscalls_rate", "REAL"),
    ("threads", "INTEGER"),
    ("mach_msgs", "INTEGER"),
    ("mach_msgs_rate", "REAL"),
    ("instructions", "INTEGER"),
    ("cycles", "INTEGER"),
    ("ipc", "REAL"),
    ("energy", "INTEGER"),
    ("energy_rate", "REAL"),
    ("wakeups", "INTEGER"),
    ("wakeups_rate", "REAL"),
    ("runnable_time", "INTEGER"),
    ("runnable_time_rate", "REAL"),
    ("qos_interactive", "INTEGER"),
    ("qos_interactive_rate", "REAL"),
    ("gpu_time", "INTEGER"),
    ("gpu_time_rate", "REAL"),
    ("zombie_children", "INTEGER"),
    ("state", "TEXT"),
    ("priority", "INTEGER"),
    ("score", "INTEGER"),
    ("band", "TEXT"),
    ("cpu_share", "REAL"),
    ("gpu_share", "REAL"),
    ("mem_share", "REAL"),
    ("disk_share", "REAL"),
    ("wakeups_share", "REAL"),
    ("disproportionality", "REAL"),
    ("dominant_resource", "TEXT"),
];

/// Identity columns we add after the metrics: (pid, start_time) is a process's identity.
pub const IDENTITY_COLUMNS: [(&str, &str); 3] = [
    ("ppid", "INTEGER"),
    ("uid", "INTEGER"),
    ("start_time", "REAL"),
];

/// Columns added in v22 after the identity columns: the score's reason and the member count
/// of the unit it belongs to (NULL in older rows).
pub const UNIT_COLUMNS: [(&str, &str); 2] = [("reason", "TEXT"), ("members", "INTEGER")];

/// `reason, members`.
pub(crate) fn unit_list() -> String {
    UNIT_COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds `reason, members` starting at `idx`; an empty reason is stored as NULL.
pub(crate) fn bind_unit(
    stmt: &mut Statement<'_>,
    mut idx: usize,
    p: &ProcessScore,
) -> rusqlite::Result<usize> {
    let i = &mut idx;
    bind(stmt, i, (!p.reason.is_empty()).then_some(p.reason.as_str()))?;
    bind(stmt, i, p.members)?;
    Ok(idx)
}

/// Reads `reason, members` starting at column `idx`; NULL reads as "" and 0.
pub(crate) fn read_unit(
    row: &Row<'_>,
    idx: usize,
    p: &mut ProcessScore,
) -> rusqlite::Result<usize> {
    p.reason = text_at(row, idx)?;
    p.members = u32_at(row, idx + 1)?;
    Ok(idx + 2)
}

/// `cpu REAL NOT NULL, mem INTEGER NOT NULL, …` for a CREATE TABLE.
pub(crate) fn metrics_ddl() -> String {
    METRIC_COLUMNS
        .iter()
        .map(|(name, ty)| format!("{name} {ty} NOT NULL"))
        .collect::<Vec<_>>()
        .join(",\n    ")
}

/// `cpu, mem, …` for INSERT and SELECT lists.
pub(crate) fn metrics_list() -> String {
    METRIC_COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ppid, uid, start_time`.
pub(crate) fn identity_list() -> String {
    IDENTITY_COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `?a, ?a+1, …` placeholders: `n` numbered parameters starting at `first` (1-based).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite integers are i64; counters that overflow it are clamped rather than wrapped.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn bind<T: ToSql>(stmt: &mut Statement<'_>, idx: &mut usize, v: T) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(*idx, v)?;
    *idx += 1;
    Ok(())
}

/// Binds the 41 metrics starting at parameter `idx` (1-based); returns the next free index.
pub(crate) fn bind_metrics(
    stmt: &mut Statement<'_>,
    mut idx: usize,
    p: &ProcessScore,
) -> rusqlite::Result<usize> {
    let i = &mut idx;
    bind(stmt, i, p.cpu)?;
    bind(stmt, i, int(p.mem))?;
    bind(stmt, i, int(p.mem_peak))?;
    bind(stmt, i, int(p.pageins))?;
    bind(stmt, i, p.pageins_rate)?;
    bind(stmt, i, int(p.faults))?;
    bind(stmt, i, p.faults_rate)?;
    bind(stmt, i, int(p.disk_io))?;
    bind(stmt, i, p.disk_io_rate)?;
    bind(stmt, i, int(p.csw))?;
    bind(stmt, i, p.csw_rate)?;
    bind(stmt, i, int(p.syscalls))?;
    bind(stmt, i, p.syscalls_rate)?;
    bind(stmt, i, p.threads)?;
    bind(stmt, i, int(p.mach_msgs))?;
    bind(stmt, i, p.mach_msgs_rate)?;
    bind(stmt, i, int(p.instructions))?;
    bind(stmt, i, int(p.cycles))?;
    bind(stmt, i, p.ipc)?;
    bind(stmt, i, int(p.energy))?;
    bind(stmt, i, p.energy_rate)?;
    bind(stmt, i, int(p.wakeups))?;
    bind(stmt, i, p.wakeups_rate)?;
    bind(stmt, i, int(p.runnable_time))?;
    bind(stmt, i, p.runnable_time_rate)?;
    bind(stmt, i, int(p.qos_interactive))?;
    bind(stmt, i, p.qos_interactive_rate)?;
    bind(stmt, i, int(p.gpu_time))?;
    bind(stmt, i, p.gpu_time_rate)?;
    bind(stmt, i, p.zombie_children)?;
    bind(stmt, i, p.state.as_str())?;
    bind(stmt, i, p.priority)?;
    bind(stmt, i, p.score)?;
    bind(stmt, i, p.band.as_str())?;
    bind(stmt, i, p.cpu_share)?;
    bind(stmt, i, p.gpu_share)?;
    bind(stmt, i, p.mem_share)?;
    bind(stmt, i, p.disk_share)?;
    bind(stmt, i, p.wakeups_share)?;
    bind(stmt, i, p.disproportionality)?;
    bind(stmt, i, p.dominant_resource.as_str())?;
    Ok(idx)
}

/// Binds `ppid, uid, start_time` starting at `idx`; returns the next free index.
pub(crate) fn bind_identity(
    stmt: &mut Statement<'_>,
    mut idx: usize,
    p: &ProcessScore,
) -> rusqlite::Result<usize> {
    let i = &mut idx;
    bind(stmt, i, p.ppid)?;
    bind(stmt, i, p.uid)?;
    bind(stmt, i, p.start_time)?;
    Ok(idx)
}

/// An integer column read leniently: NULL → 0, REAL truncated, numeric text parsed.
pub(crate) fn int_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<i64> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Integer(i) => i,
        ValueRef::Real(f) => f as i64,
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            s.trim()
                .parse::<i64>()
                .or_else(|_| s.trim().parse::<f64>().map(|f| f as i64))
                .unwrap_or(0)
        }
        ValueRef::Null | ValueRef::Blob(_) => 0,
    })
}

/// A nullable integer column read leniently.
pub(crate) fn opt_int_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<i64>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        _ => int_at(row, idx).map(Some),
    }
}

/// A REAL column read leniently: NULL → 0.
pub(crate) fn real_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<f64> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Integer(i) => i as f64,
        ValueRef::Real(f) => f,
        ValueRef::Text(t) => String::from_utf8_lossy(t).trim().parse().unwrap_or(0.0),
        ValueRef::Null | ValueRef::Blob(_) => 0.0,
    })
}

/// A nullable REAL column read leniently.
pub(crate) fn opt_real_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<f64>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        _ => real_at(row, idx).map(Some),
    }
}

/// A TEXT column read leniently: NULL → "", numbers formatted.
pub(crate) fn text_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    Ok(opt_text_at(row, idx)?.unwrap_or_default())
}

/// A nullable TEXT column read leniently.
pub(crate) fn opt_text_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    })
}

fn u64_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(int_at(row, idx)?).unwrap_or(0))
}

fn u32_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<u32> {
    Ok(u32::try_from(int_at(row, idx)?.max(0)).unwrap_or(u32::MAX))
}

/// Reads the 41 metrics starting at column `idx` (0-based) into `p`; returns the next column.
pub(crate) fn read_metrics(
    row: &Row<'_>,
    mut idx: usize,
    p: &mut ProcessScore,
) -> rusqlite::Result<usize> {
    let mut next = || {
        idx += 1;
        idx - 1
    };
    p.cpu = real_at(row, next())?;
    p.mem = u64_at(row, next())?;
    p.mem_peak = u64_at(row, next())?;
    p.pageins = u64_at(row, next())?;
    p.pageins_rate = real_at(row, next())?;
    p.faults = u64_at(row, next())?;
    p.faults_rate = real_at(row, next())?;
    p.disk_io = u64_at(row, next())?;
    p.disk_io_rate = real_at(row, next())?;
    p.csw = u64_at(row, next())?;
    p.csw_rate = real_at(row, next())?;
    p.syscalls = u64_at(row, next())?;
    p.syscalls_rate = real_at(row, next())?;
    p.threads = u32_at(row, next())?;
    p.mach_msgs = u64_at(row, next())?;
    p.mach_msgs_rate = real_at(row, next())?;
    p.instructions = u64_at(row, next())?;
    p.cycles = u64_at(row, next())?;
    p.ipc = real_at(row, next())?;
    p.energy = u64_at(row, next())?;
    p.energy_rate = real_at(row, next())?;
    p.wakeups = u64_at(row, next())?;
    p.wakeups_rate = real_at(row, next())?;
    p.runnable_time = u64_at(row, next())?;
    p.runnable_time_rate = real_at(row, next())?;
    p.qos_interactive = u64_at(row, next())?;
    p.qos_interactive_rate = real_at(row, next())?;
    p.gpu_time = u64_at(row, next())?;
    p.gpu_time_rate = real_at(row, next())?;
    p.zombie_children = u32_at(row, next())?;
    p.state = text_at(row, next())?.parse().unwrap_or(ProcState::Unknown);
    p.priority = i32::try_from(int_at(row, next())?).unwrap_or(0);
    p.score = u8::try_from(int_at(row, next())?.clamp(0, 100)).unwrap_or(0);
    p.band = text_at(row, next())?.parse().unwrap_or(Band::Low);
    p.cpu_share = real_at(row, next())?;
    p.gpu_share = real_at(row, next())?;
    p.mem_share = real_at(row, next())?;
    p.disk_share = real_at(row, next())?;
    p.wakeups_share = real_at(row, next())?;
    p.disproportionality = real_at(row, next())?;
    p.dominant_resource = text_at(row, next())?.parse().unwrap_or(Resource::Cpu);
    Ok(idx)
}

/// Reads `ppid, uid, start_time` starting at column `idx`; NULL (rows of the original) reads as 0.
pub(crate) fn read_identity(
    row: &Row<'_>,
    idx: usize,
    p: &mut ProcessScore,
) -> rusqlite::Result<usize> {
    p.ppid = u32_at(row, idx)?;
    p.uid = u32_at(row, idx + 1)?;
    p.start_time = real_at(row, idx + 2)?;
    Ok(idx + 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn metric_columns_are_the_process_score_fields() {
        let json = serde_json::to_value(ProcessScore::default()).unwrap();
        let obj = json.as_object().unwrap();
        for (name, _) in METRIC_COLUMNS
            .iter()
            .chain(IDENTITY_COLUMNS.iter())
            .chain(UNIT_COLUMNS.iter())
        {
            assert!(
                obj.contains_key(*name),
                "{name} is not a ProcessScore field"
            );
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
                .map(|(n, t)| format!("{n} {t}"))
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
            "INSERT INTO t ({}, {}, {}) VALUES ({})",
            metrics_list(),
            identity_list(),
            unit_list(),
            placeholders(1, 46)
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let next = bind_metrics(&mut stmt, 1, &p).unwrap();
        let next = bind_identity(&mut stmt, next, &p).unwrap();
        assert_eq!(bind_unit(&mut stmt, next, &p).unwrap(), 47);
        stmt.raw_execute().unwrap();
        let back = conn
            .query_row(
                &format!(
                    "SELECT {}, {}, {} FROM t",
                    metrics_list(),
                    identity_list(),
                    unit_list()
                ),
                [],
                |row| {
                    let mut q = ProcessScore::default();
                    let next = read_metrics(row, 0, &mut q)?;
                    let next = read_identity(row, next, &mut q)?;
                    read_unit(row, next, &mut q)?;
                    Ok(q)
                },
            )
            .unwrap();
        let expected = ProcessScore {
            mem: i64::MAX as u64,
            ..p
        };
        assert_eq!(back, expected);
    }

    #[test]
    fn lenient_reads_accept_what_the_original_wrote() {
        let conn = Connection::open_in_memory().unwrap();
        let (a, b, c, d): (i64, f64, String, Option<i64>) = conn
            .query_row("SELECT 42.9, '7', 12, NULL", [], |r| {
                Ok((
                    int_at(r, 0)?,
                    real_at(r, 1)?,
                    text_at(r, 2)?,
                    opt_int_at(r, 3)?,
                ))
            })
            .unwrap();
        assert_eq!((a, b, c.as_str(), d), (42, 7.0, "12", None));
    }
}
