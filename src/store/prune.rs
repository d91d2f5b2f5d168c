//! Retention: closed events older than `events_days`, captures older than `captures_days`,
//! machine snapshots older than `machine_snapshot_hours`, all removed with their dependent rows.
//!
//! Nothing here holds the write lock for long: the big child tables (buffer processes, frames,
//! log lines, …) are emptied in statements of at most `batch_rows` rows, each its own
//! transaction, before the parent row goes (its cascade then has little left to do). Between
//! batches the caller gets control back (the writer applies pending per-sample writes there).

use super::error::{Context, Result, StoreError};
use super::migrate::ORPHANS_PENDING_KEY;
use super::startup::get_state;
use crate::config::RetentionConfig;
use rusqlite::{Connection, params};

/// Rows deleted per statement (and so per transaction).
pub const PRUNE_BATCH_ROWS: usize = 5_000;

/// How long each kind of row is kept.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PrunePolicy {
    pub events_days: u32,
    pub captures_days: u32,
    pub machine_snapshot_hours: f64,
}

impl From<&RetentionConfig> for PrunePolicy {
    fn from(r: &RetentionConfig) -> Self {
        PrunePolicy {
            events_days: r.events_days,
            captures_days: r.captures_days,
            machine_snapshot_hours: r.machine_snapshot_hours,
        }
    }
}

impl PrunePolicy {
    fn validate(&self) -> Result<()> {
        if self.events_days < 1 || self.captures_days < 1 {
            return Err(StoreError::Invalid(
                "retention days must be >= 1".to_string(),
            ));
        }
        if !(self.machine_snapshot_hours.is_finite() && self.machine_snapshot_hours > 0.0) {
            return Err(StoreError::Invalid(
                "machine snapshot retention must be > 0 hours".to_string(),
            ));
        }
        Ok(())
    }

    fn event_cutoff(&self, now: f64) -> f64 {
        now - f64::from(self.events_days) * 86_400.0
    }

    fn capture_cutoff(&self, now: f64) -> f64 {
        now - f64::from(self.captures_days) * 86_400.0
    }

    fn machine_cutoff(&self, now: f64) -> f64 {
        now - self.machine_snapshot_hours * 3_600.0
    }
}

/// What a prune removed (or, in a dry run, would remove). Dependent rows are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneCounts {
    pub events: u64,
    pub captures: u64,
    pub machine_snapshots: u64,
    /// Rows without a parent left by the original (foreign keys were off there).
    pub orphan_rows: u64,
}

const PRUNABLE_EVENTS: &str =
    "SELECT id FROM process_events WHERE exit_time IS NOT NULL AND exit_time < ?1";

/// Captures to prune: old ones, and every capture of an event being pruned.
const PRUNABLE_CAPTURES: &str = "SELECT id FROM forensic_captures
     WHERE captured_at < ?2
        OR event_id IN (SELECT id FROM process_events
                        WHERE exit_time IS NOT NULL AND exit_time < ?1)";

/// Counts what [`prune`] would remove, without writing.
pub fn dry_run(conn: &Connection, policy: &PrunePolicy, now: f64) -> Result<PruneCounts> {
    policy.validate()?;
    let count = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<u64> {
        let n: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM ({sql})"), p, |r| r.get(0))
            .ctx("counting rows to prune")?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let ev = policy.event_cutoff(now);
    let cap = policy.capture_cutoff(now);
    Ok(PruneCounts {
        events: count(PRUNABLE_EVENTS, &[&ev])?,
        captures: count(PRUNABLE_CAPTURES, &[&ev, &cap])?,
        machine_snapshots: count(
            "SELECT id FROM machine_snapshots WHERE captured_at < ?1",
            &[&policy.machine_cutoff(now)],
        )?,
        orphan_rows: pending_orphans(conn)?,
    })
}

fn pending_orphans(conn: &Connection) -> Result<u64> {
    Ok(get_state(conn, ORPHANS_PENDING_KEY)?
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0))
}

/// Prunes on a connection of its own (CLI `prune`): no other work between batches.
pub fn prune(conn: &Connection, policy: &PrunePolicy, now: f64) -> Result<PruneCounts> {
    prune_with(conn, policy, now, PRUNE_BATCH_ROWS, &mut |_| {})
}

/// Prunes in batches of `batch_rows`, calling `between` after every batch with no transaction
/// open.
pub(crate) fn prune_with(
    conn: &Connection,
    policy: &PrunePolicy,
    now: f64,
    batch_rows: usize,
    between: &mut dyn FnMut(&Connection),
) -> Result<PruneCounts> {
    policy.validate()?;
    let batch = i64::try_from(batch_rows.max(1)).unwrap_or(i64::MAX);
    let ev = policy.event_cutoff(now);
    let cap = policy.capture_cutoff(now);
    let mut counts = PruneCounts::default();

    let captures: Vec<i64> = {
        let mut stmt = conn
            .prepare(PRUNABLE_CAPTURES)
            .ctx("listing captures to prune")?;
        stmt.query_map(params![ev, cap], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>())
            .ctx("listing captures to prune")?
    };
    for id in captures {
        delete_capture_rows(conn, id, &ALL_PARTS, batch, between)?;
        counts.captures += run(
            conn,
            "DELETE FROM forensic_captures WHERE id = ?1",
            params![id],
            between,
        )?;
    }

    // Snapshots of prunable events except each event's peak (the event still points at it).
    repeat(
        conn,
        "DELETE FROM process_snapshots WHERE id IN (
             SELECT s.id FROM process_events e JOIN process_snapshots s ON s.event_id = e.id
             WHERE e.exit_time IS NOT NULL AND e.exit_time < ?1
               AND s.id IS NOT e.peak_snapshot_id
             LIMIT ?2)",
        params![ev, batch],
        batch,
        between,
    )?;
    counts.events = repeat(
        conn,
        "DELETE FROM process_events WHERE id IN (
             SELECT id FROM process_events WHERE exit_time IS NOT NULL AND exit_time < ?1
             LIMIT ?2)",
        params![ev, (batch / 10).max(1)],
        (batch / 10).max(1),
        between,
    )?;

    counts.machine_snapshots =
        prune_machine_snapshots(conn, policy.machine_cutoff(now), batch, between)?;

    if pending_orphans(conn)? > 0 {
        counts.orphan_rows = delete_orphans(conn, batch, between)?;
        conn.execute(
            "DELETE FROM daemon_state WHERE key = ?1",
            [ORPHANS_PENDING_KEY],
        )
        .ctx("clearing the orphan marker")?;
    }
    Ok(counts)
}

/// Runs one DELETE (its own transaction); returns the rows it removed.
fn run(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    between: &mut dyn FnMut(&Connection),
) -> Result<u64> {
    let n = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(p))
        .ctx("pruning")?;
    between(conn);
    Ok(n as u64)
}

/// Repeats a `LIMIT`ed DELETE until it removes fewer than `limit` rows.
fn repeat(
    conn: &Connection,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
    limit: i64,
    between: &mut dyn FnMut(&Connection),
) -> Result<u64> {
    let mut total = 0;
    loop {
        let n = run(conn, sql, p, between)?;
        total += n;
        if n < limit as u64 {
            return Ok(total);
        }
    }
}

fn prune_machine_snapshots(
    conn: &Connection,
    cutoff: f64,
    batch: i64,
    between: &mut dyn FnMut(&Connection),
) -> Result<u64> {
    let mut total = 0;
    loop {
        // Take the oldest snapshots until their process rows fill a batch.
        let mut last = None;
        let mut rows = 0i64;
        {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, process_count FROM machine_snapshots WHERE captured_at < ?1
                     ORDER BY id LIMIT 1000",
                )
                .ctx("listing machine snapshots to prune")?;
            let mut q = stmt
                .query([cutoff])
                .ctx("listing machine snapshots to prune")?;
            while let Some(r) = q.next().ctx("listing machine snapshots to prune")? {
                let id: i64 = r.get(0).ctx("reading a machine snapshot id")?;
                let n: i64 = r.get::<_, Option<i64>>(1).ok().flatten().unwrap_or(0);
                if last.is_some() && rows + n.max(1) > batch {
                    break;
                }
                last = Some(id);
                rows += n.max(1);
            }
        }
        let Some(last) = last else {
            return Ok(total);
        };
        total += run(
            conn,
            "DELETE FROM machine_snapshots WHERE id <= ?1 AND captured_at < ?2",
            params![last, cutoff],
            between,
        )?;
    }
}

/// The parts of a capture whose rows can be deleted on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartRows {
    Buffer,
    Stacks,
    Logs,
}

const ALL_PARTS: [PartRows; 3] = [PartRows::Buffer, PartRows::Stacks, PartRows::Logs];

/// Batched DELETEs (`?1` capture id, `?2` limit), children before parents.
fn part_deletes(part: PartRows) -> &'static [&'static str] {
    match part {
        PartRows::Buffer => &[
            "DELETE FROM buffer_sample_processes WHERE id IN (
                 SELECT p.id FROM buffer_context c
                 JOIN buffer_samples s ON s.context_id = c.id
                 JOIN buffer_sample_processes p ON p.sample_id = s.id
                 WHERE c.capture_id = ?1 LIMIT ?2)",
            "DELETE FROM buffer_samples WHERE id IN (
                 SELECT s.id FROM buffer_context c JOIN buffer_samples s ON s.context_id = c.id
                 WHERE c.capture_id = ?1 LIMIT ?2)",
            "DELETE FROM buffer_context WHERE id IN (
                 SELECT id FROM buffer_context WHERE capture_id = ?1 LIMIT ?2)",
        ],
        // Frames go deepest first: children were inserted after their parents.
        PartRows::Stacks => &[
            "DELETE FROM tailspin_frame WHERE id IN (
                 SELECT f.id FROM tailspin_process p
                 JOIN tailspin_thread t ON t.process_id = p.id
                 JOIN tailspin_frame f ON f.thread_id = t.id
                 WHERE p.capture_id = ?1 ORDER BY f.id DESC LIMIT ?2)",
            "DELETE FROM tailspin_thread WHERE id IN (
                 SELECT t.id FROM tailspin_process p JOIN tailspin_thread t ON t.process_id = p.id
                 WHERE p.capture_id = ?1 LIMIT ?2)",
            "DELETE FROM tailspin_binary_image WHERE id IN (
                 SELECT i.id FROM tailspin_process p
                 JOIN tailspin_binary_image i ON i.process_id = p.id
                 WHERE p.capture_id = ?1 LIMIT ?2)",
            "DELETE FROM tailspin_process_note WHERE id IN (
                 SELECT n.id FROM tailspin_process p
                 JOIN tailspin_process_note n ON n.process_id = p.id
                 WHERE p.capture_id = ?1 LIMIT ?2)",
            "DELETE FROM tailspin_process WHERE id IN (
                 SELECT id FROM tailspin_process WHERE capture_id = ?1 LIMIT ?2)",
            "DELETE FROM tailspin_header WHERE capture_id = ?1 AND ?2 > 0",
            "DELETE FROM tailspin_shared_cache WHERE id IN (
                 SELECT id FROM tailspin_shared_cache WHERE capture_id = ?1 LIMIT ?2)",
            "DELETE FROM tailspin_io_stats WHERE id IN (
                 SELECT id FROM tailspin_io_stats WHERE capture_id = ?1 LIMIT ?2)",
            "DELETE FROM tailspin_io_histogram WHERE id IN (
                 SELECT id FROM tailspin_io_histogram WHERE capture_id = ?1 LIMIT ?2)",
            "DELETE FROM tailspin_io_aggregate WHERE id IN (
                 SELECT id FROM tailspin_io_aggregate WHERE capture_id = ?1 LIMIT ?2)",
        ],
        PartRows::Logs => &["DELETE FROM log_entries WHERE id IN (
                 SELECT id FROM log_entries WHERE capture_id = ?1 LIMIT ?2)"],
    }
}

/// Deletes the rows of some parts of a capture in batches (the capture row stays).
pub(crate) fn delete_capture_rows(
    conn: &Connection,
    capture_id: i64,
    parts: &[PartRows],
    batch: i64,
    between: &mut dyn FnMut(&Connection),
) -> Result<u64> {
    let mut total = 0;
    for part in parts {
        for sql in part_deletes(*part) {
            total += repeat(conn, sql, params![capture_id, batch], batch, between)?;
        }
    }
    Ok(total)
}

/// (child table, column, parent table), parents first so a deleted orphan's own children go by
/// cascade in the same statement.
const FOREIGN_KEYS: [(&str, &str, &str); 20] = [
    ("process_snapshots", "event_id", "process_events"),
    (
        "process_snapshot_members",
        "snapshot_id",
        "process_snapshots",
    ),
    ("forensic_captures", "event_id", "process_events"),
    ("tailspin_header", "capture_id", "forensic_captures"),
    ("tailspin_shared_cache", "capture_id", "forensic_captures"),
    ("tailspin_io_stats", "capture_id", "forensic_captures"),
    ("tailspin_io_histogram", "capture_id", "forensic_captures"),
    ("tailspin_io_aggregate", "capture_id", "forensic_captures"),
    ("log_entries", "capture_id", "forensic_captures"),
    ("buffer_context", "capture_id", "forensic_captures"),
    ("tailspin_process", "capture_id", "forensic_captures"),
    ("tailspin_process_note", "process_id", "tailspin_process"),
    ("tailspin_binary_image", "process_id", "tailspin_process"),
    ("tailspin_thread", "process_id", "tailspin_process"),
    ("tailspin_frame", "thread_id", "tailspin_thread"),
    ("tailspin_frame", "parent_frame_id", "tailspin_frame"),
    ("buffer_samples", "context_id", "buffer_context"),
    ("buffer_sample_processes", "sample_id", "buffer_samples"),
    (
        "machine_snapshot_processes",
        "snapshot_id",
        "machine_snapshots",
    ),
    ("process_events", "peak_snapshot_id", "process_snapshots"),
];

/// Removes rows whose parent is gone, scanning each table in rowid windows of `batch`.
fn delete_orphans(
    conn: &Connection,
    batch: i64,
    between: &mut dyn FnMut(&Connection),
) -> Result<u64> {
    let mut total = 0;
    for (child, col, parent) in FOREIGN_KEYS {
        let max: Option<i64> = conn
            .query_row(&format!("SELECT MAX(rowid) FROM {child}"), [], |r| r.get(0))
            .ctx("scanning for orphan rows")?;
        let Some(max) = max else { continue };
        // A dangling peak is cleared, not deleted: the event itself is fine.
        let sql = if child == "process_events" {
            format!(
                "UPDATE {child} SET {col} = NULL WHERE rowid > ?1 AND rowid <= ?2
                 AND {col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} WHERE id = {child}.{col})"
            )
        } else {
            format!(
                "DELETE FROM {child} WHERE rowid > ?1 AND rowid <= ?2
                 AND {col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} WHERE id = {child}.{col})"
            )
        };
        let mut lo = 0i64;
        while lo < max {
            let hi = lo.saturating_add(batch * 4);
            total += run(conn, &sql, params![lo, hi], between)?;
            lo = hi;
        }
    }
    Ok(total)
}
