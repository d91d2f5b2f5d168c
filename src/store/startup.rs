//! What the daemon does with its connection before the writer thread starts: learn the next
//! ids, close the events a crash left open, read and write `daemon_state`.

use super::error::{Context, Result};
use super::records::ExitReason;
use rusqlite::{Connection, OptionalExtension, params};

/// `daemon_state` key: epoch seconds of the last sample the daemon recorded (written with every
/// per-sample batch); after a crash, open events are closed at this time.
pub const LAST_SAMPLE_TIME_KEY: &str = "last_sample_time";

/// `daemon_state` key: the machine's boot time (epoch seconds) the daemon last ran under.
pub const BOOT_TIME_KEY: &str = "boot_time";

/// The next free ids, from which the daemon counts up in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NextIds {
    pub event: i64,
    pub snapshot: i64,
    pub capture: i64,
}

/// One past the largest id ever used in `table`: `MAX(id)` or the AUTOINCREMENT counter,
/// whichever is higher, so ids of pruned rows are never handed out again.
fn next_id(conn: &Connection, table: &str) -> rusqlite::Result<i64> {
    let max: Option<i64> =
        conn.query_row(&format!("SELECT MAX(id) FROM {table}"), [], |r| r.get(0))?;
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()?;
    Ok(max.unwrap_or(0).max(seq.unwrap_or(0)) + 1)
}

/// Reads the next ids of events, process snapshots and captures.
pub fn next_ids(conn: &Connection) -> Result<NextIds> {
    Ok(NextIds {
        event: next_id(conn, "process_events").ctx("reading the next event id")?,
        snapshot: next_id(conn, "process_snapshots").ctx("reading the next snapshot id")?,
        capture: next_id(conn, "forensic_captures").ctx("reading the next capture id")?,
    })
}

/// Closes every open event (any boot) at `at` (never before its own entry) with `reason`.
/// Returns how many were closed.
///
/// After a crash the daemon passes the last recorded sample time
/// ([`LAST_SAMPLE_TIME_KEY`]), so durations do not include the downtime.
pub fn close_open_events(conn: &Connection, at: f64, reason: ExitReason) -> Result<usize> {
    conn.execute(
        "UPDATE process_events SET exit_time = MAX(entry_time, ?1), exit_reason = ?2
         WHERE exit_time IS NULL",
        params![at, reason.as_str()],
    )
    .ctx("closing open events")
}

/// A `daemon_state` value.
pub fn get_state(conn: &Connection, key: &str) -> Result<Option<String>> {
    let v: Option<Option<String>> = conn
        .query_row(
            "SELECT CAST(value AS TEXT) FROM daemon_state WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()
        .ctx("reading daemon_state")?;
    Ok(v.flatten())
}

/// Sets a `daemon_state` value (upsert, `updated_at` = `at`).
pub fn set_state(conn: &Connection, key: &str, value: &str, at: f64) -> Result<()> {
    set_state_raw(conn, key, value, at).ctx("writing daemon_state")
}

pub(crate) fn set_state_raw(
    conn: &Connection,
    key: &str,
    value: &str,
    at: f64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO daemon_state (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )?
    .execute(params![key, value, at])?;
    Ok(())
}

/// The last recorded sample time, if any and well-formed.
pub fn last_sample_time(conn: &Connection) -> Result<Option<f64>> {
    Ok(get_state(conn, LAST_SAMPLE_TIME_KEY)?.and_then(|v| v.trim().parse::<f64>().ok()))
}
