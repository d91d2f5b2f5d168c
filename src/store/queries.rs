//! Read-only queries for the CLI and TUI. Every function takes any connection (normally one from
//! [`super::connection::open_reader`]) and returns plain `Serialize` structs for `--json`.
//!
//! Rows written by the original (v20) read fine: NULL identity columns come back as 0, NULL
//! part statuses as `None` (shown as "pending" by the original), unknown names leniently.

use super::capture_data::{
    BinaryImage, CaptureData, Frame, HistogramBucket, IoAggregate, IoStat, NamedPid, SharedCache,
    StackHeader, StackProcess, StackThread,
};
use super::error::{Context, Result};
use super::process_columns::{
    identity_list, int_at, metrics_list, opt_int_at, opt_real_at, opt_text_at, read_identity,
    read_metrics, real_at, text_at,
};
use super::records::{ExitReason, LogEntry, PartStatus};
use super::schema::{self, DbVersion, TABLES};
use crate::model::{Band, ProcessScore};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

fn limit_value(limit: Option<u32>) -> i64 {
    limit.map_or(-1, i64::from)
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// An event as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub pid: u32,
    pub command: String,
    pub boot_time: i64,
    pub entry_time: f64,
    /// None while the event is open.
    pub exit_time: Option<f64>,
    pub entry_band: Band,
    pub peak_band: Band,
    pub peak_score: i64,
    pub peak_snapshot_id: Option<i64>,
    /// Process start (None for rows of the original).
    pub start_time: Option<f64>,
    pub exit_reason: Option<ExitReason>,
    /// Forensic captures of this event (the TUI's capture marker).
    pub capture_count: i64,
}

const EVENT_COLUMNS: &str = "e.id, e.pid, e.command, e.boot_time, e.entry_time, e.exit_time,
    e.entry_band, e.peak_band, e.peak_score, e.peak_snapshot_id, e.start_time, e.exit_reason,
    (SELECT COUNT(*) FROM forensic_captures c WHERE c.event_id = e.id)";

fn parse_exit_reason(s: Option<String>) -> Option<ExitReason> {
    match s.as_deref() {
        Some("score_dropped") => Some(ExitReason::ScoreDropped),
        Some("process_gone") => Some(ExitReason::ProcessGone),
        Some("daemon_stopped") => Some(ExitReason::DaemonStopped),
        _ => None,
    }
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: int_at(r, 0)?,
        pid: u32_of(int_at(r, 1)?),
        command: text_at(r, 2)?,
        boot_time: int_at(r, 3)?,
        entry_time: real_at(r, 4)?,
        exit_time: opt_real_at(r, 5)?,
        entry_band: text_at(r, 6)?.parse().unwrap_or_default(),
        peak_band: text_at(r, 7)?.parse().unwrap_or_default(),
        peak_score: int_at(r, 8)?,
        peak_snapshot_id: opt_int_at(r, 9)?,
        start_time: opt_real_at(r, 10)?,
        exit_reason: parse_exit_reason(opt_text_at(r, 11)?),
        capture_count: int_at(r, 12)?,
    })
}

/// A boot, as events record it: the kernel's boot id (events since schema 22) and the boot time
/// (older events have only that; it is also what events show).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Boot {
    pub id: Option<String>,
    pub time: Option<i64>,
}

impl Boot {
    /// This machine's current boot; None when neither can be read.
    pub fn current() -> Option<Boot> {
        let boot = Boot {
            id: crate::sys::boot_id(),
            time: crate::sys::boot_time(),
        };
        (boot.id.is_some() || boot.time.is_some()).then_some(boot)
    }
}

/// Which events to list. The default lists every event, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    pub limit: Option<u32>,
    pub open_only: bool,
    /// Only events of this boot: the same boot id; an event without one (written before schema
    /// 22, or where the id could not be read) by its exact boot time.
    pub boot: Option<Boot>,
    /// Only events that started at or after this time (epoch seconds).
    pub since: Option<f64>,
}

const EVENT_WHERE: &str = "(?1 = 0 OR e.exit_time IS NULL)
           AND (?2 = 0
                OR (?4 IS NOT NULL AND e.boot_id = ?4)
                OR ((?4 IS NULL OR e.boot_id IS NULL) AND e.boot_time = ?5))
           AND (?3 IS NULL OR e.entry_time >= ?3)";

fn boot_params(f: &EventFilter) -> (bool, Option<&str>, Option<i64>) {
    match &f.boot {
        None => (false, None, None),
        Some(b) => (true, b.id.as_deref(), b.time),
    }
}

/// Events, newest entry first.
pub fn events(conn: &Connection, f: &EventFilter) -> Result<Vec<EventRow>> {
    events_page(conn, f, 0)
}

/// Events, newest entry first, skipping the first `offset` (pagination: with
/// [`count_events`], a caller can say how many it left out).
pub fn events_page(conn: &Connection, f: &EventFilter, offset: u32) -> Result<Vec<EventRow>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM process_events e WHERE {EVENT_WHERE}
         ORDER BY e.entry_time DESC, e.id DESC LIMIT ?6 OFFSET ?7"
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("listing events")?;
    let (has_boot, boot_id, boot_time) = boot_params(f);
    let rows = stmt
        .query_map(
            params![
                f.open_only,
                has_boot,
                f.since,
                boot_id,
                boot_time,
                limit_value(f.limit),
                offset
            ],
            event_row,
        )
        .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("listing events")?;
    Ok(rows)
}

/// How many events match `f`, ignoring its `limit`.
pub fn count_events(conn: &Connection, f: &EventFilter) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM process_events e WHERE {EVENT_WHERE}"
        ))
        .and_then(|mut s| {
            let (has_boot, boot_id, boot_time) = boot_params(f);
            s.query_row(
                params![f.open_only, has_boot, f.since, boot_id, boot_time],
                |r| r.get(0),
            )
        })
        .ctx("counting events")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A process snapshot of an event; `process.pid` and `process.command` come from the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotRow {
    pub id: i64,
    pub event_id: i64,
    pub snapshot_type: String,
    pub captured_at: f64,
    pub process: ProcessScore,
}

fn snapshot_sql(filter: &str) -> String {
    format!(
        "SELECT s.id, s.event_id, s.snapshot_type, s.captured_at, e.pid, e.command, {}, {}
         FROM process_snapshots s JOIN process_events e ON e.id = s.event_id
         WHERE {filter} ORDER BY s.captured_at, s.id",
        prefixed("s", &metrics_list()),
        prefixed("s", &identity_list())
    )
}

fn prefixed(alias: &str, list: &str) -> String {
    list.split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn snapshot_row(r: &Row<'_>) -> rusqlite::Result<SnapshotRow> {
    let captured_at = real_at(r, 3)?;
    let mut p = ProcessScore {
        pid: u32_of(int_at(r, 4)?),
        command: text_at(r, 5)?,
        captured_at,
        ..Default::default()
    };
    let next = read_metrics(r, 6, &mut p)?;
    read_identity(r, next, &mut p)?;
    Ok(SnapshotRow {
        id: int_at(r, 0)?,
        event_id: int_at(r, 1)?,
        snapshot_type: text_at(r, 2)?,
        captured_at,
        process: p,
    })
}

/// One snapshot by id.
pub fn snapshot(conn: &Connection, id: i64) -> Result<Option<SnapshotRow>> {
    conn.prepare_cached(&snapshot_sql("s.id = ?1"))
        .and_then(|mut s| s.query_row([id], snapshot_row).optional())
        .ctx("reading a snapshot")
}

/// Every snapshot of an event, oldest first.
pub fn snapshots_of_event(conn: &Connection, event_id: i64) -> Result<Vec<SnapshotRow>> {
    let mut stmt = conn
        .prepare_cached(&snapshot_sql("s.event_id = ?1"))
        .ctx("reading snapshots")?;
    stmt.query_map([event_id], snapshot_row)
        .and_then(|r| r.collect())
        .ctx("reading snapshots")
}

/// An event with its peak snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventDetail {
    pub event: EventRow,
    pub peak_snapshot: Option<SnapshotRow>,
}

/// One event with its peak snapshot; None if there is no such event.
pub fn event_detail(conn: &Connection, id: i64) -> Result<Option<EventDetail>> {
    let event = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM process_events e WHERE e.id = ?1"
        ))
        .and_then(|mut s| s.query_row([id], event_row).optional())
        .ctx("reading an event")?;
    let Some(event) = event else { return Ok(None) };
    let peak_snapshot = match event.peak_snapshot_id {
        Some(sid) => snapshot(conn, sid)?,
        None => None,
    };
    Ok(Some(EventDetail {
        event,
        peak_snapshot,
    }))
}

/// Status and error text of one capture part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartState {
    /// None: never set (rows of the original; for `decode`, a platform without that step).
    pub status: Option<PartStatus>,
    pub error: Option<String>,
}

/// A forensic capture with each part's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureRow {
    pub id: i64,
    pub event_id: i64,
    pub captured_at: f64,
    pub trigger: String,
    /// Every trigger the capture answered (coalesced ones included).
    pub triggers: Vec<String>,
    pub stack_source: Option<String>,
    pub completed_at: Option<f64>,
    pub buffer: PartState,
    /// `tailspin_status` / `tailspin_error`.
    pub stacks: PartState,
    /// `spindump_status` / `spindump_error`.
    pub decode: PartState,
    pub logs: PartState,
}

const CAPTURE_COLUMNS: &str = "id, event_id, captured_at, trigger, triggers, stack_source,
    completed_at, buffer_status, buffer_error, tailspin_status, tailspin_error, spindump_status,
    spindump_error, logs_status, logs_error";

fn part_at(r: &Row<'_>, idx: usize) -> rusqlite::Result<PartState> {
    Ok(PartState {
        status: opt_text_at(r, idx)?.and_then(|s| s.parse().ok()),
        error: opt_text_at(r, idx + 1)?,
    })
}

fn capture_row(r: &Row<'_>) -> rusqlite::Result<CaptureRow> {
    let trigger = text_at(r, 3)?;
    let triggers = opt_text_at(r, 4)?
        .and_then(|j| serde_json::from_str::<Vec<String>>(&j).ok())
        .unwrap_or_else(|| vec![trigger.clone()]);
    Ok(CaptureRow {
        id: int_at(r, 0)?,
        event_id: int_at(r, 1)?,
        captured_at: real_at(r, 2)?,
        trigger,
        triggers,
        stack_source: opt_text_at(r, 5)?,
        completed_at: opt_real_at(r, 6)?,
        buffer: part_at(r, 7)?,
        stacks: part_at(r, 9)?,
        decode: part_at(r, 11)?,
        logs: part_at(r, 13)?,
    })
}

/// The captures of an event, oldest first.
pub fn captures_of_event(conn: &Connection, event_id: i64) -> Result<Vec<CaptureRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {CAPTURE_COLUMNS} FROM forensic_captures WHERE event_id = ?1
             ORDER BY captured_at, id"
        ))
        .ctx("reading captures")?;
    stmt.query_map([event_id], capture_row)
        .and_then(|r| r.collect())
        .ctx("reading captures")
}

/// One capture by id.
pub fn capture(conn: &Connection, id: i64) -> Result<Option<CaptureRow>> {
    conn.prepare_cached(&format!(
        "SELECT {CAPTURE_COLUMNS} FROM forensic_captures WHERE id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], capture_row).optional())
    .ctx("reading a capture")
}

/// How many captures have a part still `pending`: being taken while the daemon runs,
/// unfinished when it does not (the next start marks them failed).
pub fn pending_captures(conn: &Connection) -> Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM forensic_captures
         WHERE 'pending' IN (IFNULL(buffer_status, ''), IFNULL(tailspin_status, ''),
                             IFNULL(spindump_status, ''), IFNULL(logs_status, ''))",
    )
    .and_then(|mut s| s.query_row([], |r| r.get(0)))
    .ctx("counting pending captures")
}

/// The buffer summary of a capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BufferContextRow {
    pub id: i64,
    pub capture_id: i64,
    pub sample_count: i64,
    pub peak_score: i64,
    /// The stored JSON array (a JSON string if the text does not parse).
    pub culprits: serde_json::Value,
}

/// The buffer context of a capture (the newest, should there be several).
pub fn buffer_context(conn: &Connection, capture_id: i64) -> Result<Option<BufferContextRow>> {
    conn.prepare_cached(
        "SELECT id, capture_id, sample_count, peak_score, culprits FROM buffer_context
         WHERE capture_id = ?1 ORDER BY id DESC LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row([capture_id], |r| {
            let raw = text_at(r, 4)?;
            Ok(BufferContextRow {
                id: int_at(r, 0)?,
                capture_id: int_at(r, 1)?,
                sample_count: int_at(r, 2)?,
                peak_score: int_at(r, 3)?,
                culprits: serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw)),
            })
        })
        .optional()
    })
    .ctx("reading a buffer context")
}

/// One sample of a capture's stored ring buffer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BufferSampleRow {
    pub id: i64,
    pub sample_index: i64,
    pub seq: Option<i64>,
    /// RFC 3339.
    pub timestamp: String,
    pub captured_at: f64,
    pub elapsed_ms: f64,
    pub process_count: i64,
    pub max_score: i64,
}

/// The stored samples of a capture, oldest first.
pub fn buffer_samples(conn: &Connection, capture_id: i64) -> Result<Vec<BufferSampleRow>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT s.id, s.sample_index, s.seq, s.timestamp, s.captured_at, s.elapsed_ms,
                 s.process_count, s.max_score
             FROM buffer_context c JOIN buffer_samples s ON s.context_id = c.id
             WHERE c.capture_id = ?1 ORDER BY s.sample_index, s.id",
        )
        .ctx("reading buffer samples")?;
    stmt.query_map([capture_id], |r| {
        Ok(BufferSampleRow {
            id: int_at(r, 0)?,
            sample_index: int_at(r, 1)?,
            seq: opt_int_at(r, 2)?,
            timestamp: text_at(r, 3)?,
            captured_at: real_at(r, 4)?,
            elapsed_ms: real_at(r, 5)?,
            process_count: int_at(r, 6)?,
            max_score: int_at(r, 7)?,
        })
    })
    .and_then(|r| r.collect())
    .ctx("reading buffer samples")
}

/// A process of a stored buffer sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BufferProcessRow {
    pub sample_id: i64,
    pub sample_index: i64,
    pub process: ProcessScore,
}

fn buffer_process_row(r: &Row<'_>) -> rusqlite::Result<BufferProcessRow> {
    let mut p = ProcessScore {
        pid: u32_of(int_at(r, 2)?),
        command: text_at(r, 3)?,
        captured_at: real_at(r, 4)?,
        ..Default::default()
    };
    let next = read_metrics(r, 5, &mut p)?;
    read_identity(r, next, &mut p)?;
    Ok(BufferProcessRow {
        sample_id: int_at(r, 0)?,
        sample_index: int_at(r, 1)?,
        process: p,
    })
}

/// Processes of a capture's buffer: all of them, or one pid's across the samples. Ordered by
/// sample, then score (highest first).
pub fn buffer_processes(
    conn: &Connection,
    capture_id: i64,
    pid: Option<u32>,
) -> Result<Vec<BufferProcessRow>> {
    let sql = format!(
        "SELECT s.id, s.sample_index, p.pid, p.command, p.captured_at, {}, {}
         FROM buffer_context c
         JOIN buffer_samples s ON s.context_id = c.id
         JOIN buffer_sample_processes p ON p.sample_id = s.id
         WHERE c.capture_id = ?1 AND (?2 IS NULL OR p.pid = ?2)
         ORDER BY s.sample_index, p.score DESC, p.id",
        prefixed("p", &metrics_list()),
        prefixed("p", &identity_list())
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("reading buffer processes")?;
    stmt.query_map(params![capture_id, pid], buffer_process_row)
        .and_then(|r| r.collect())
        .ctx("reading buffer processes")
}

/// Processes of one stored buffer sample, highest score first.
pub fn buffer_sample_processes(conn: &Connection, sample_id: i64) -> Result<Vec<ProcessScore>> {
    let sql = format!(
        "SELECT p.sample_id, s.sample_index, p.pid, p.command, p.captured_at, {}, {}
         FROM buffer_sample_processes p JOIN buffer_samples s ON s.id = p.sample_id
         WHERE p.sample_id = ?1 ORDER BY p.score DESC, p.id",
        prefixed("p", &metrics_list()),
        prefixed("p", &identity_list())
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("reading buffer processes")?;
    stmt.query_map([sample_id], |r| buffer_process_row(r).map(|b| b.process))
        .and_then(|r| r.collect())
        .ctx("reading buffer processes")
}

/// The log entries of a capture in time order.
pub fn log_entries(
    conn: &Connection,
    capture_id: i64,
    limit: Option<u32>,
) -> Result<Vec<LogEntry>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT timestamp, mach_timestamp, subsystem, category, process_name, process_id,
                 message_type, event_message, source
             FROM log_entries WHERE capture_id = ?1 ORDER BY timestamp, id LIMIT ?2",
        )
        .ctx("reading log entries")?;
    stmt.query_map(params![capture_id, limit_value(limit)], |r| {
        Ok(LogEntry {
            timestamp: text_at(r, 0)?,
            mach_timestamp: opt_int_at(r, 1)?,
            subsystem: opt_text_at(r, 2)?,
            category: opt_text_at(r, 3)?,
            process_name: opt_text_at(r, 4)?,
            process_id: opt_int_at(r, 5)?,
            message_type: opt_text_at(r, 6)?,
            event_message: text_at(r, 7)?,
            source: opt_text_at(r, 8)?,
        })
    })
    .and_then(|r| r.collect())
    .ctx("reading log entries")
}

/// A machine snapshot (every process at one moment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineSnapshotRow {
    pub id: i64,
    pub captured_at: f64,
    pub process_count: i64,
    pub max_score: i64,
}

/// Machine snapshots, newest first.
pub fn machine_snapshots(
    conn: &Connection,
    since: Option<f64>,
    limit: Option<u32>,
) -> Result<Vec<MachineSnapshotRow>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, captured_at, process_count, max_score FROM machine_snapshots
             WHERE ?1 IS NULL OR captured_at >= ?1 ORDER BY captured_at DESC, id DESC LIMIT ?2",
        )
        .ctx("reading machine snapshots")?;
    stmt.query_map(params![since, limit_value(limit)], |r| {
        Ok(MachineSnapshotRow {
            id: int_at(r, 0)?,
            captured_at: real_at(r, 1)?,
            process_count: int_at(r, 2)?,
            max_score: int_at(r, 3)?,
        })
    })
    .and_then(|r| r.collect())
    .ctx("reading machine snapshots")
}

/// The processes of a machine snapshot, highest score first (`captured_at` is the snapshot's).
pub fn machine_snapshot_processes(
    conn: &Connection,
    snapshot_id: i64,
) -> Result<Vec<ProcessScore>> {
    let sql = format!(
        "SELECT p.pid, p.command, m.captured_at, {}, {}
         FROM machine_snapshot_processes p JOIN machine_snapshots m ON m.id = p.snapshot_id
         WHERE p.snapshot_id = ?1 ORDER BY p.score DESC, p.id",
        prefixed("p", &metrics_list()),
        prefixed("p", &identity_list())
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .ctx("reading machine snapshot processes")?;
    stmt.query_map([snapshot_id], |r| {
        let mut p = ProcessScore {
            pid: u32_of(int_at(r, 0)?),
            command: text_at(r, 1)?,
            captured_at: real_at(r, 2)?,
            ..Default::default()
        };
        let next = read_metrics(r, 3, &mut p)?;
        read_identity(r, next, &mut p)?;
        Ok(p)
    })
    .and_then(|r| r.collect())
    .ctx("reading machine snapshot processes")
}

/// Row counts of every table, plus the version and open events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbCounts {
    pub schema_version: Option<i64>,
    pub open_events: i64,
    pub tables: BTreeMap<String, i64>,
}

/// Counts rows in every table.
pub fn counts(conn: &Connection) -> Result<DbCounts> {
    let mut tables = BTreeMap::new();
    for t in TABLES {
        let n: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .ctx("counting rows")?;
        tables.insert(t.to_string(), n);
    }
    let open_events = conn
        .query_row(
            "SELECT COUNT(*) FROM process_events WHERE exit_time IS NULL",
            [],
            |r| r.get(0),
        )
        .ctx("counting open events")?;
    let schema_version = match schema::detect_version(conn).ctx("reading the schema version")? {
        DbVersion::Version(v) => Some(v),
        _ => None,
    };
    Ok(DbCounts {
        schema_version,
        open_events,
        tables,
    })
}

/// The stack tree of a capture (empty if it has none), in the shape forensics wrote it.
pub fn capture_stacks(conn: &Connection, capture_id: i64) -> Result<CaptureData> {
    let ctx = "reading capture stacks";
    let mut data = CaptureData {
        header: read_header(conn, capture_id).ctx(ctx)?,
        ..Default::default()
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT uuid, base_address, slide, name FROM tailspin_shared_cache
             WHERE capture_id = ?1 ORDER BY id",
        )
        .ctx(ctx)?;
    data.shared_caches = stmt
        .query_map([capture_id], |r| {
            Ok(SharedCache {
                uuid: text_at(r, 0)?,
                base_address: text_at(r, 1)?,
                slide: text_at(r, 2)?,
                name: text_at(r, 3)?,
            })
        })
        .and_then(|r| r.collect())
        .ctx(ctx)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT tier, io_count, io_rate, bytes, bytes_rate FROM tailspin_io_stats
             WHERE capture_id = ?1 ORDER BY id",
        )
        .ctx(ctx)?;
    data.io_stats = stmt
        .query_map([capture_id], |r| {
            Ok(IoStat {
                tier: text_at(r, 0)?,
                io_count: int_at(r, 1)?,
                io_rate: opt_real_at(r, 2)?,
                bytes: int_at(r, 3)?,
                bytes_rate: opt_real_at(r, 4)?,
            })
        })
        .and_then(|r| r.collect())
        .ctx(ctx)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT histogram_type, begin_value, end_value, frequency, cdf
             FROM tailspin_io_histogram WHERE capture_id = ?1 ORDER BY id",
        )
        .ctx(ctx)?;
    data.histograms = stmt
        .query_map([capture_id], |r| {
            Ok(HistogramBucket {
                histogram_type: text_at(r, 0)?,
                begin_value: int_at(r, 1)?,
                end_value: opt_int_at(r, 2)?,
                frequency: int_at(r, 3)?,
                cdf: int_at(r, 4)?,
            })
        })
        .and_then(|r| r.collect())
        .ctx(ctx)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT tier, num_ios, latency_mean_us, latency_max_us, latency_sd_us, read_count,
                 read_bytes, write_count, write_bytes
             FROM tailspin_io_aggregate WHERE capture_id = ?1 ORDER BY id",
        )
        .ctx(ctx)?;
    data.aggregates = stmt
        .query_map([capture_id], |r| {
            Ok(IoAggregate {
                tier: text_at(r, 0)?,
                num_ios: int_at(r, 1)?,
                latency_mean_us: opt_int_at(r, 2)?,
                latency_max_us: opt_int_at(r, 3)?,
                latency_sd_us: opt_int_at(r, 4)?,
                read_count: opt_int_at(r, 5)?,
                read_bytes: opt_int_at(r, 6)?,
                write_count: opt_int_at(r, 7)?,
                write_bytes: opt_int_at(r, 8)?,
            })
        })
        .and_then(|r| r.collect())
        .ctx(ctx)?;
    read_processes(conn, capture_id, &mut data).ctx(ctx)?;
    Ok(data)
}

fn read_header(conn: &Connection, capture_id: i64) -> rusqlite::Result<Option<StackHeader>> {
    conn.prepare_cached(
        "SELECT start_time, end_time, duration_sec, steps, sampling_interval_ms, os_version,
             architecture, report_version, hardware_model, active_cpus, memory_gb, hw_page_size,
             vm_page_size, time_since_boot_sec, time_awake_since_boot_sec, total_cpu_time_sec,
             total_cycles, total_instructions, total_cpi, memory_pressure_avg_pct,
             memory_pressure_max_pct, available_memory_avg_gb, available_memory_min_gb,
             free_disk_gb, total_disk_gb, advisory_battery, advisory_user, advisory_thermal,
             advisory_combined, shared_cache_residency_pct, vnodes_available_pct, data_source,
             reason
         FROM tailspin_header WHERE capture_id = ?1",
    )?
    .query_row([capture_id], |r| {
        Ok(StackHeader {
            start_time: Some(text_at(r, 0)?),
            end_time: Some(text_at(r, 1)?),
            duration_sec: Some(real_at(r, 2)?),
            steps: Some(int_at(r, 3)?),
            sampling_interval_ms: Some(int_at(r, 4)?),
            os_version: Some(text_at(r, 5)?),
            architecture: Some(text_at(r, 6)?),
            report_version: opt_int_at(r, 7)?,
            hardware_model: opt_text_at(r, 8)?,
            active_cpus: opt_int_at(r, 9)?,
            memory_gb: opt_int_at(r, 10)?,
            hw_page_size: opt_int_at(r, 11)?,
            vm_page_size: opt_int_at(r, 12)?,
            time_since_boot_sec: opt_int_at(r, 13)?,
            time_awake_since_boot_sec: opt_int_at(r, 14)?,
            total_cpu_time_sec: opt_real_at(r, 15)?,
            total_cycles: opt_int_at(r, 16)?,
            total_instructions: opt_int_at(r, 17)?,
            total_cpi: opt_real_at(r, 18)?,
            memory_pressure_avg_pct: opt_int_at(r, 19)?,
            memory_pressure_max_pct: opt_int_at(r, 20)?,
            available_memory_avg_gb: opt_real_at(r, 21)?,
            available_memory_min_gb: opt_real_at(r, 22)?,
            free_disk_gb: opt_real_at(r, 23)?,
            total_disk_gb: opt_real_at(r, 24)?,
            advisory_battery: opt_int_at(r, 25)?,
            advisory_user: opt_int_at(r, 26)?,
            advisory_thermal: opt_int_at(r, 27)?,
            advisory_combined: opt_int_at(r, 28)?,
            shared_cache_residency_pct: opt_real_at(r, 29)?,
            vnodes_available_pct: opt_real_at(r, 30)?,
            data_source: opt_text_at(r, 31)?,
            reason: opt_text_at(r, 32)?,
        })
    })
    .optional()
}

/// A `*_pid` / `*_name` column pair (pid first); None when both are NULL.
fn named_pid_at(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<NamedPid>> {
    let pid = opt_int_at(r, idx)?;
    let name = opt_text_at(r, idx + 1)?;
    Ok(match (pid, name) {
        (None, None) => None,
        (pid, name) => Some(NamedPid {
            name: name.unwrap_or_default(),
            pid: pid.unwrap_or(0),
        }),
    })
}

fn read_processes(
    conn: &Connection,
    capture_id: i64,
    data: &mut CaptureData,
) -> rusqlite::Result<()> {
    let mut by_id: HashMap<i64, usize> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id, pid, name, uuid, path, identifier, version, parent_pid, parent_name,
             responsible_pid, responsible_name, execed_from_pid, execed_from_name, execed_to_pid,
             execed_to_name, architecture, shared_cache_uuid, runningboard_managed, sudden_term,
             footprint_mb, footprint_delta_mb, io_count, io_bytes, time_since_fork_sec,
             start_time, end_time, num_samples, sample_range_start, sample_range_end,
             cpu_time_sec, cycles, instructions, cpi, num_threads
         FROM tailspin_process WHERE capture_id = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([capture_id])?;
    while let Some(r) = rows.next()? {
        by_id.insert(int_at(r, 0)?, data.processes.len());
        data.processes.push(StackProcess {
            pid: int_at(r, 1)?,
            name: text_at(r, 2)?,
            uuid: opt_text_at(r, 3)?,
            path: opt_text_at(r, 4)?,
            identifier: opt_text_at(r, 5)?,
            version: opt_text_at(r, 6)?,
            parent: named_pid_at(r, 7)?,
            responsible: named_pid_at(r, 9)?,
            execed_from: named_pid_at(r, 11)?,
            execed_to: named_pid_at(r, 13)?,
            architecture: opt_text_at(r, 15)?,
            shared_cache_uuid: opt_text_at(r, 16)?,
            runningboard_managed: opt_int_at(r, 17)?.map(|v| v != 0),
            sudden_term: opt_text_at(r, 18)?,
            footprint_mb: opt_real_at(r, 19)?,
            footprint_delta_mb: opt_real_at(r, 20)?,
            io_count: opt_int_at(r, 21)?,
            io_bytes: opt_int_at(r, 22)?,
            time_since_fork_sec: opt_int_at(r, 23)?,
            start_time: opt_text_at(r, 24)?,
            end_time: opt_text_at(r, 25)?,
            num_samples: opt_int_at(r, 26)?,
            sample_range_start: opt_int_at(r, 27)?,
            sample_range_end: opt_int_at(r, 28)?,
            cpu_time_sec: opt_real_at(r, 29)?,
            cycles: opt_int_at(r, 30)?,
            instructions: opt_int_at(r, 31)?,
            cpi: opt_real_at(r, 32)?,
            num_threads: opt_int_at(r, 33)?,
            ..Default::default()
        });
    }
    drop(rows);

    let mut stmt = conn.prepare_cached(
        "SELECT n.process_id, n.note FROM tailspin_process p
         JOIN tailspin_process_note n ON n.process_id = p.id
         WHERE p.capture_id = ?1 ORDER BY n.id",
    )?;
    let mut rows = stmt.query([capture_id])?;
    while let Some(r) = rows.next()? {
        if let Some(&i) = by_id.get(&int_at(r, 0)?) {
            data.processes[i].notes.push(text_at(r, 1)?);
        }
    }
    drop(rows);

    let mut stmt = conn.prepare_cached(
        "SELECT i.process_id, i.start_address, i.end_address, i.name, i.version, i.uuid, i.path,
             i.is_kernel
         FROM tailspin_process p JOIN tailspin_binary_image i ON i.process_id = p.id
         WHERE p.capture_id = ?1 ORDER BY i.id",
    )?;
    let mut rows = stmt.query([capture_id])?;
    while let Some(r) = rows.next()? {
        if let Some(&i) = by_id.get(&int_at(r, 0)?) {
            data.processes[i].images.push(BinaryImage {
                start_address: text_at(r, 1)?,
                end_address: opt_text_at(r, 2)?,
                name: text_at(r, 3)?,
                version: opt_text_at(r, 4)?,
                uuid: opt_text_at(r, 5)?,
                path: opt_text_at(r, 6)?,
                is_kernel: int_at(r, 7)? != 0,
            });
        }
    }
    drop(rows);

    // thread db id → (process index, thread index)
    let mut threads: HashMap<i64, (usize, usize)> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.process_id, t.thread_id, t.dispatch_queue_name, t.dispatch_queue_serial,
             t.thread_name, t.num_samples, t.sample_range_start, t.sample_range_end, t.priority,
             t.base_priority, t.cpu_time_sec, t.cycles, t.instructions, t.cpi, t.io_count,
             t.io_bytes, t.state, t.wchan, t.syscall
         FROM tailspin_process p JOIN tailspin_thread t ON t.process_id = p.id
         WHERE p.capture_id = ?1 ORDER BY t.id",
    )?;
    let mut rows = stmt.query([capture_id])?;
    while let Some(r) = rows.next()? {
        let Some(&pi) = by_id.get(&int_at(r, 1)?) else {
            continue;
        };
        let list = &mut data.processes[pi].threads;
        threads.insert(int_at(r, 0)?, (pi, list.len()));
        list.push(StackThread {
            thread_id: text_at(r, 2)?,
            dispatch_queue_name: opt_text_at(r, 3)?,
            dispatch_queue_serial: opt_int_at(r, 4)?,
            thread_name: opt_text_at(r, 5)?,
            num_samples: opt_int_at(r, 6)?,
            sample_range_start: opt_int_at(r, 7)?,
            sample_range_end: opt_int_at(r, 8)?,
            priority: opt_int_at(r, 9)?,
            base_priority: opt_int_at(r, 10)?,
            cpu_time_sec: opt_real_at(r, 11)?,
            cycles: opt_int_at(r, 12)?,
            instructions: opt_int_at(r, 13)?,
            cpi: opt_real_at(r, 14)?,
            io_count: opt_int_at(r, 15)?,
            io_bytes: opt_int_at(r, 16)?,
            state: opt_text_at(r, 17)?,
            wchan: opt_text_at(r, 18)?,
            syscall: opt_text_at(r, 19)?,
            frames: Vec::new(),
        });
    }
    drop(rows);

    // frame db id → (thread db id, index within that thread)
    let mut frame_index: HashMap<i64, (i64, usize)> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT f.id, f.thread_id, f.parent_frame_id, f.depth, f.sample_count, f.is_kernel,
             f.symbol_name, f.symbol_offset, f.library_name, f.library_offset, f.address,
             f.state, f.core_type, f.blocked_on
         FROM tailspin_process p
         JOIN tailspin_thread t ON t.process_id = p.id
         JOIN tailspin_frame f ON f.thread_id = t.id
         WHERE p.capture_id = ?1 ORDER BY f.id",
    )?;
    let mut rows = stmt.query([capture_id])?;
    while let Some(r) = rows.next()? {
        let thread_db_id = int_at(r, 1)?;
        let Some(&(pi, ti)) = threads.get(&thread_db_id) else {
            continue;
        };
        let frames = &mut data.processes[pi].threads[ti].frames;
        let parent = opt_int_at(r, 2)?
            .and_then(|id| frame_index.get(&id).copied())
            .filter(|&(t, _)| t == thread_db_id)
            .map(|(_, i)| i);
        frame_index.insert(int_at(r, 0)?, (thread_db_id, frames.len()));
        frames.push(Frame {
            parent,
            depth: u32_of(int_at(r, 3)?),
            sample_count: int_at(r, 4)?,
            is_kernel: int_at(r, 5)? != 0,
            symbol_name: opt_text_at(r, 6)?,
            symbol_offset: opt_int_at(r, 7)?,
            library_name: opt_text_at(r, 8)?,
            library_offset: opt_int_at(r, 9)?,
            address: text_at(r, 10)?,
            state: opt_text_at(r, 11)?,
            core_type: opt_text_at(r, 12)?,
            blocked_on: opt_text_at(r, 13)?,
        });
    }
    Ok(())
}
