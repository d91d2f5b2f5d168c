//! What the daemon does with its connection before the writer thread starts: learn the next
//! ids, close the events and finish the captures a crash left open, read and write
//! `daemon_state`.

use super::error::{Context, Result};
use super::records::{CapturePart, ExitReason};
use rusqlite::{Connection, OptionalExtension, params};

/// `daemon_state` key: epoch seconds of the last sample the daemon recorded (written with every
/// per-sample batch); after a crash, open events are closed at this time.
pub const LAST_SAMPLE_TIME_KEY: &str = "last_sample_time";

/// `daemon_state` key: the machine's boot time (epoch seconds) the daemon last ran under.
pub const BOOT_TIME_KEY: &str = "boot_time";

/// `daemon_state` key: the kernel's id of the boot the daemon last ran in.
pub const BOOT_ID_KEY: &str = "boot_id";

/// How far (seconds) the boot time an older daemon recorded may be from this boot's own and
/// still be this boot: `btime` is the wall clock minus the uptime, so clock adjustments move it.
pub const BOOT_TIME_SLACK: i64 = 300;

/// Gives events written without a boot id (before schema 22) this boot's id when they belong
/// to it: their boot time is within [`BOOT_TIME_SLACK`] of `boot_time` and they started after
/// this boot did. Returns how many it adopted. (A previous boot could only be mistaken for this
/// one if it lasted less than the slack.)
pub fn adopt_boot_id(conn: &Connection, boot_id: &str, boot_time: i64) -> Result<usize> {
    conn.execute(
        "UPDATE process_events SET boot_id = ?1
         WHERE boot_id IS NULL AND boot_time BETWEEN ?2 - ?3 AND ?2 + ?3
           AND entry_time >= ?2 - ?3",
        params![boot_id, boot_time, BOOT_TIME_SLACK],
    )
    .ctx("giving older events of this boot its id")
}

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

/// The error text of a capture part the daemon never finished (it was killed, or its last
/// writes failed before it stopped).
pub const UNFINISHED_PART: &str = "daemon stopped before the capture finished";

/// Finishes every capture part still `pending` as `failed` with [`UNFINISHED_PART`] and sets
/// `completed_at` (to `at`) where it is missing. Returns how many captures it finished.
///
/// At start nothing can still be running, so a pending part is one a crash (or a write that
/// failed before a stop) left behind; at a clean stop it runs after the forensics worker has
/// finished, so nothing is ever left `pending`.
pub fn finish_pending_captures(conn: &Connection, at: f64) -> Result<usize> {
    finish_pending_raw(conn, at).ctx("finishing captures left pending")
}

/// [`finish_pending_captures`] on a connection of its own, for the daemon's last act (after
/// its writer has closed). Reads first, so a database without pending parts is not written.
pub fn finish_pending_at_exit(path: &std::path::Path, at: f64) -> Result<usize> {
    use rusqlite::OpenFlags;
    if !path.exists() {
        return Ok(0);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ctx("opening the database")?;
    conn.busy_timeout(super::connection::BUSY_TIMEOUT)
        .ctx("opening the database")?;
    let pending: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM forensic_captures WHERE 'pending' IN
                (IFNULL(buffer_status, ''), IFNULL(tailspin_status, ''),
                 IFNULL(spindump_status, ''), IFNULL(logs_status, '')))",
            [],
            |r| r.get(0),
        )
        .ctx("looking for pending captures")?;
    if !pending {
        return Ok(0);
    }
    finish_pending_captures(&conn, at)
}

fn finish_pending_raw(conn: &Connection, at: f64) -> rusqlite::Result<usize> {
    let mut sets = Vec::new();
    let mut pending = Vec::new();
    for part in CapturePart::ALL {
        let (status, error) = super::write::part_columns(part);
        sets.push(format!(
            "{error} = CASE WHEN {status} = 'pending' THEN ?1 ELSE {error} END, \
             {status} = CASE WHEN {status} = 'pending' THEN 'failed' ELSE {status} END"
        ));
        pending.push(format!("{status} = 'pending'"));
    }
    conn.prepare_cached(&format!(
        "UPDATE forensic_captures SET {}, completed_at = IFNULL(completed_at, ?2) WHERE {}",
        sets.join(", "),
        pending.join(" OR ")
    ))?
    .execute(params![UNFINISHED_PART, at])
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
