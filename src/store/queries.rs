//! Read-only queries for the CLI and TUI. Every function takes any connection (normally one from
//! [`super::connection::open_reader`]) and returns plain `Serialize` structs for `--json`.
//!
//! Rows written by the original (v20) read fine: NULL identity columns come back as 0, NULL
//! part statuses as `None` (shown as "pending" by the original), unknown names leniently.

use super::capture_columns as cc;
use super::capture_data::{CaptureData, Frame};
use super::columns::{self, Column};
use super::error::{Context, Result};
use super::machine_columns;
use super::process_columns::{
    int_at, opt_int_at, opt_real_at, opt_text_at, process_list, read_process, real_at, text_at,
};
use super::records::{ExitReason, LogEntry, PartStatus};
use super::schema::{self, DbVersion, TABLES};
use crate::machine::Machine;
use crate::model::{Band, ProcessScore, Resource, SnapshotType, Trigger, UnitKind};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

fn limit_value(limit: Option<u32>) -> i64 {
    limit.map_or(-1, i64::from)
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// An event as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
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
    /// The unit's identity (None for rows written before units existed).
    pub unit_key: Option<String>,
    pub unit_kind: Option<UnitKind>,
    /// The cgroup's leaf name or `process group N`; empty for a single process.
    pub unit_label: Option<String>,
    /// Processes in the unit (the most seen at a peak); None for rows before units.
    pub members: Option<u32>,
    /// The reason of the peak score.
    pub reason: Option<String>,
}

impl EventRow {
    /// `stress-ng-cpu ×4` for a unit of several processes, else the command.
    pub fn culprit(&self) -> String {
        match self.members {
            Some(n) if n > 1 => format!("{} ×{n}", self.command),
            _ => self.command.clone(),
        }
    }
}

const EVENT_COLUMNS: &str = "e.id, e.pid, e.command, e.boot_time, e.entry_time, e.exit_time,
    e.entry_band, e.peak_band, e.peak_score, e.peak_snapshot_id, e.start_time, e.exit_reason,
    (SELECT COUNT(*) FROM forensic_captures c WHERE c.event_id = e.id),
    e.unit_key, e.unit_kind, e.unit_label, e.members, e.reason";

/// A name stored in a TEXT column: one of `T`'s when we wrote it, or the text another version
/// (or another SQL tool) put there, kept as it is. Either way it prints and serialises as the
/// stored text, so reading never fails on a name we do not know and never changes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Named<T> {
    Known(T),
    Other(String),
}

impl<T: FromStr> Named<T> {
    /// Parses stored text leniently.
    pub fn parse(text: String) -> Named<T> {
        match text.parse() {
            Ok(v) => Named::Known(v),
            Err(_) => Named::Other(text),
        }
    }
}

impl<T: fmt::Display> fmt::Display for Named<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Named::Known(v) => v.fmt(f),
            Named::Other(text) => f.write_str(text),
        }
    }
}

impl<T> From<T> for Named<T> {
    fn from(v: T) -> Named<T> {
        Named::Known(v)
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
        exit_reason: opt_text_at(r, 11)?.and_then(|s| s.parse().ok()),
        capture_count: int_at(r, 12)?,
        unit_key: opt_text_at(r, 13)?,
        unit_kind: opt_text_at(r, 14)?.and_then(|s| s.parse().ok()),
        unit_label: opt_text_at(r, 15)?,
        members: opt_int_at(r, 16)?.map(u32_of),
        reason: opt_text_at(r, 17)?,
    })
}

/// Which events to list. The default lists every event, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    pub limit: Option<u32>,
    pub open_only: bool,
    /// Only events of this boot (`process_events.boot_time`).
    pub boot_time: Option<i64>,
    /// Only events that started at or after this time (epoch seconds).
    pub since: Option<f64>,
}

const EVENT_WHERE: &str = "(?1 = 0 OR e.exit_time IS NULL)
           AND (?2 IS NULL OR e.boot_time = ?2)
           AND (?3 IS NULL OR e.entry_time >= ?3)";

/// Events, newest entry first.
pub fn events(conn: &Connection, f: &EventFilter) -> Result<Vec<EventRow>> {
    events_page(conn, f, 0)
}

/// Events, newest entry first, skipping the first `offset` (pagination: with
/// [`count_events`], a caller can say how many it left out).
pub fn events_page(conn: &Connection, f: &EventFilter, offset: u32) -> Result<Vec<EventRow>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM process_events e WHERE {EVENT_WHERE}
         ORDER BY e.entry_time DESC, e.id DESC LIMIT ?4 OFFSET ?5"
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("listing events")?;
    let rows = stmt
        .query_map(
            params![
                f.open_only,
                f.boot_time,
                f.since,
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
        .and_then(|mut s| s.query_row(params![f.open_only, f.boot_time, f.since], |r| r.get(0)))
        .ctx("counting events")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A process snapshot of an event; `process.pid` and `process.command` come from the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotRow {
    pub id: i64,
    pub event_id: i64,
    pub snapshot_type: Named<SnapshotType>,
    pub captured_at: f64,
    pub process: ProcessScore,
}

fn snapshot_sql(filter: &str) -> String {
    format!(
        "SELECT s.id, s.event_id, s.snapshot_type, e.pid, e.command, s.captured_at, {}
         FROM process_snapshots s JOIN process_events e ON e.id = s.event_id
         WHERE {filter} ORDER BY s.captured_at, s.id",
        process_list("s.")
    )
}

/// A whole process from column `idx` on: `pid, command, captured_at`, then every stored
/// column ([`process_list`]).
fn process_at(r: &Row<'_>, idx: usize) -> rusqlite::Result<ProcessScore> {
    let mut p = ProcessScore {
        pid: u32_of(int_at(r, idx)?),
        command: text_at(r, idx + 1)?,
        captured_at: real_at(r, idx + 2)?,
        ..Default::default()
    };
    read_process(r, idx + 3, &mut p)?;
    Ok(p)
}

fn snapshot_row(r: &Row<'_>) -> rusqlite::Result<SnapshotRow> {
    let process = process_at(r, 3)?;
    Ok(SnapshotRow {
        id: int_at(r, 0)?,
        event_id: int_at(r, 1)?,
        snapshot_type: Named::parse(text_at(r, 2)?),
        captured_at: process.captured_at,
        process,
    })
}

/// One snapshot by id.
pub fn snapshot(conn: &Connection, id: i64) -> Result<Option<SnapshotRow>> {
    conn.prepare_cached(&snapshot_sql("s.id = ?1"))
        .and_then(|mut s| s.query_row([id], snapshot_row).optional())
        .ctx("reading a snapshot")
}

/// The members' own rows of a unit's snapshot, highest score first, then by CPU (empty for a
/// single process, and for snapshots before units existed).
pub fn snapshot_members(conn: &Connection, snapshot_id: i64) -> Result<Vec<ProcessScore>> {
    let sql = format!(
        "SELECT pid, command, captured_at, {} FROM process_snapshot_members
         WHERE snapshot_id = ?1 ORDER BY score DESC, cpu DESC, id",
        process_list("")
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("reading snapshot members")?;
    stmt.query_map([snapshot_id], |r| process_at(r, 0))
        .and_then(|r| r.collect())
        .ctx("reading snapshot members")
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
    pub trigger: Named<Trigger>,
    /// Every trigger the capture answered (coalesced ones included), as stored: the first is
    /// `trigger`, the others name the event and process they came from.
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
    let trigger = Named::parse(trigger);
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

/// The buffer summary of a capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BufferContextRow {
    pub id: i64,
    pub capture_id: i64,
    pub sample_count: i64,
    pub peak_score: i64,
    /// The culprits the stored JSON list holds.
    pub culprits: Vec<StoredCulprit>,
    /// Entries of the stored list that could not be read (no pid, command or score), and a
    /// list that is not one counts as one.
    pub unreadable_culprits: usize,
}

/// A culprit as `buffer_context.culprits` stores it, read leniently: lists written by other
/// versions may lack `dominant_resource` (reads `unknown`) or `disproportionality` (0), or hold
/// numbers as floats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCulprit {
    pub pid: i64,
    pub command: String,
    pub score: i64,
    pub dominant_resource: Named<Resource>,
    pub disproportionality: f64,
}

/// Decodes the stored culprit list: (the readable entries, how many were not).
pub fn decode_culprits(json: &str) -> (Vec<StoredCulprit>, usize) {
    let value: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(_) => return (Vec::new(), 1),
    };
    let Some(list) = value.as_array() else {
        return (Vec::new(), usize::from(!value.is_null()));
    };
    let mut good = Vec::new();
    let mut bad = 0;
    for item in list {
        let number = |k: &str| item.get(k).and_then(serde_json::Value::as_f64);
        let culprit = (|| {
            Some(StoredCulprit {
                pid: number("pid")? as i64,
                command: item.get("command")?.as_str()?.to_string(),
                score: number("score")? as i64,
                dominant_resource: Named::parse(
                    item.get("dominant_resource")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("unknown")
                        .to_string(),
                ),
                disproportionality: number("disproportionality").unwrap_or(0.0),
            })
        })();
        match culprit {
            Some(c) => good.push(c),
            None => bad += 1,
        }
    }
    (good, bad)
}

/// The buffer context of a capture (the newest, should there be several).
pub fn buffer_context(conn: &Connection, capture_id: i64) -> Result<Option<BufferContextRow>> {
    conn.prepare_cached(
        "SELECT id, capture_id, sample_count, peak_score, culprits FROM buffer_context
         WHERE capture_id = ?1 ORDER BY id DESC LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row([capture_id], |r| {
            let (culprits, unreadable_culprits) = decode_culprits(&text_at(r, 4)?);
            Ok(BufferContextRow {
                id: int_at(r, 0)?,
                capture_id: int_at(r, 1)?,
                sample_count: int_at(r, 2)?,
                peak_score: int_at(r, 3)?,
                culprits,
                unreadable_culprits,
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
    /// The machine at that sample (defaults for samples stored before v22).
    pub machine: Machine,
}

/// The stored samples of a capture, oldest first.
pub fn buffer_samples(conn: &Connection, capture_id: i64) -> Result<Vec<BufferSampleRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT s.id, s.sample_index, s.seq, s.timestamp, s.captured_at, s.elapsed_ms,
                 s.process_count, s.max_score, {}
             FROM buffer_context c JOIN buffer_samples s ON s.context_id = c.id
             WHERE c.capture_id = ?1 ORDER BY s.sample_index, s.id",
            machine_columns::list_of("s.")
        ))
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
            machine: machine_columns::read(r, 8)?,
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
    Ok(BufferProcessRow {
        sample_id: int_at(r, 0)?,
        sample_index: int_at(r, 1)?,
        process: process_at(r, 2)?,
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
        "SELECT s.id, s.sample_index, p.pid, p.command, p.captured_at, {}
         FROM buffer_context c
         JOIN buffer_samples s ON s.context_id = c.id
         JOIN buffer_sample_processes p ON p.sample_id = s.id
         WHERE c.capture_id = ?1 AND (?2 IS NULL OR p.pid = ?2)
         ORDER BY s.sample_index, p.score DESC, p.id",
        process_list("p.")
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("reading buffer processes")?;
    stmt.query_map(params![capture_id, pid], buffer_process_row)
        .and_then(|r| r.collect())
        .ctx("reading buffer processes")
}

/// Processes of one stored buffer sample, highest score first.
pub fn buffer_sample_processes(conn: &Connection, sample_id: i64) -> Result<Vec<ProcessScore>> {
    let sql = format!(
        "SELECT p.sample_id, s.sample_index, p.pid, p.command, p.captured_at, {}
         FROM buffer_sample_processes p JOIN buffer_samples s ON s.id = p.sample_id
         WHERE p.sample_id = ?1 ORDER BY p.score DESC, p.id",
        process_list("p.")
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("reading buffer processes")?;
    stmt.query_map([sample_id], |r| process_at(r, 2))
        .and_then(|r| r.collect())
        .ctx("reading buffer processes")
}

/// The log entries of a capture in time order.
pub fn log_entries(
    conn: &Connection,
    capture_id: i64,
    limit: Option<u32>,
) -> Result<Vec<LogEntry>> {
    let sql = format!(
        "SELECT {} FROM log_entries WHERE capture_id = ?1 ORDER BY timestamp, id LIMIT ?2",
        columns::names(&cc::LOG_ENTRY)
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("reading log entries")?;
    stmt.query_map(params![capture_id, limit_value(limit)], |r| {
        columns::read_new(r, 0, &cc::LOG_ENTRY)
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
    /// The machine then (defaults for snapshots stored before v22).
    pub machine: Machine,
}

/// Machine snapshots, newest first.
pub fn machine_snapshots(
    conn: &Connection,
    since: Option<f64>,
    limit: Option<u32>,
) -> Result<Vec<MachineSnapshotRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT id, captured_at, process_count, max_score, {} FROM machine_snapshots
             WHERE ?1 IS NULL OR captured_at >= ?1 ORDER BY captured_at DESC, id DESC LIMIT ?2",
            machine_columns::list()
        ))
        .ctx("reading machine snapshots")?;
    stmt.query_map(params![since, limit_value(limit)], |r| {
        Ok(MachineSnapshotRow {
            id: int_at(r, 0)?,
            captured_at: real_at(r, 1)?,
            process_count: int_at(r, 2)?,
            max_score: int_at(r, 3)?,
            machine: machine_columns::read(r, 4)?,
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
        "SELECT p.pid, p.command, m.captured_at, {}
         FROM machine_snapshot_processes p JOIN machine_snapshots m ON m.id = p.snapshot_id
         WHERE p.snapshot_id = ?1 ORDER BY p.score DESC, p.id",
        process_list("p.")
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .ctx("reading machine snapshot processes")?;
    stmt.query_map([snapshot_id], |r| process_at(r, 0))
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
    let data = CaptureData {
        header: rows_of(conn, "tailspin_header", capture_id, &cc::HEADER)
            .ctx(ctx)?
            .into_iter()
            .next(),
        shared_caches: rows_of(conn, "tailspin_shared_cache", capture_id, &cc::SHARED_CACHE)
            .ctx(ctx)?,
        io_stats: rows_of(conn, "tailspin_io_stats", capture_id, &cc::IO_STATS).ctx(ctx)?,
        processes: Vec::new(),
        histograms: rows_of(conn, "tailspin_io_histogram", capture_id, &cc::HISTOGRAM).ctx(ctx)?,
        aggregates: rows_of(conn, "tailspin_io_aggregate", capture_id, &cc::AGGREGATE).ctx(ctx)?,
    };
    let mut data = data;
    read_processes(conn, capture_id, &mut data).ctx(ctx)?;
    Ok(data)
}

/// The rows of a capture's own table (`capture_id` is their owner), in insertion order.
fn rows_of<T: Default>(
    conn: &Connection,
    table: &str,
    capture_id: i64,
    cols: &[Column<T>],
) -> rusqlite::Result<Vec<T>> {
    let sql = format!(
        "SELECT {} FROM {table} WHERE capture_id = ?1 ORDER BY id",
        columns::names(cols)
    );
    conn.prepare_cached(&sql)?
        .query_map([capture_id], |r| columns::read_new(r, 0, cols))?
        .collect()
}

fn read_processes(
    conn: &Connection,
    capture_id: i64,
    data: &mut CaptureData,
) -> rusqlite::Result<()> {
    let mut by_id: HashMap<i64, usize> = HashMap::new();
    let sql = format!(
        "SELECT id, {} FROM tailspin_process WHERE capture_id = ?1 ORDER BY id",
        columns::names(&cc::PROCESS)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([capture_id])?;
    while let Some(r) = rows.next()? {
        by_id.insert(int_at(r, 0)?, data.processes.len());
        data.processes.push(columns::read_new(r, 1, &cc::PROCESS)?);
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

    let sql = format!(
        "SELECT i.process_id, {}
         FROM tailspin_process p JOIN tailspin_binary_image i ON i.process_id = p.id
         WHERE p.capture_id = ?1 ORDER BY i.id",
        columns::names_of("i", &cc::IMAGE)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([capture_id])?;
    while let Some(r) = rows.next()? {
        if let Some(&i) = by_id.get(&int_at(r, 0)?) {
            data.processes[i]
                .images
                .push(columns::read_new(r, 1, &cc::IMAGE)?);
        }
    }
    drop(rows);

    // thread db id → (process index, thread index)
    let mut threads: HashMap<i64, (usize, usize)> = HashMap::new();
    let sql = format!(
        "SELECT t.id, t.process_id, {}
         FROM tailspin_process p JOIN tailspin_thread t ON t.process_id = p.id
         WHERE p.capture_id = ?1 ORDER BY t.id",
        columns::names_of("t", &cc::THREAD)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([capture_id])?;
    while let Some(r) = rows.next()? {
        let Some(&pi) = by_id.get(&int_at(r, 1)?) else {
            continue;
        };
        let list = &mut data.processes[pi].threads;
        threads.insert(int_at(r, 0)?, (pi, list.len()));
        list.push(columns::read_new(r, 2, &cc::THREAD)?);
    }
    drop(rows);

    // frame db id → (thread db id, index within that thread)
    let mut frame_index: HashMap<i64, (i64, usize)> = HashMap::new();
    let sql = format!(
        "SELECT f.id, f.thread_id, f.parent_frame_id, {}
         FROM tailspin_process p
         JOIN tailspin_thread t ON t.process_id = p.id
         JOIN tailspin_frame f ON f.thread_id = t.id
         WHERE p.capture_id = ?1 ORDER BY f.id",
        columns::names_of("f", &cc::FRAME)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
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
        let mut frame: Frame = columns::read_new(r, 3, &cc::FRAME)?;
        frame.parent = parent;
        frames.push(frame);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn culprits_are_read_leniently() {
        let json = r#"[
            {"pid": 1, "command": "a", "score": 75, "dominant_resource": "cpu", "disproportionality": 2.5},
            {"pid": 2.0, "command": "b", "score": 60.0},
            {"pid": 3, "command": "c", "score": 1, "dominant_resource": "mem"},
            {"command": "no pid"},
            "garbage"
        ]"#;
        let (good, bad) = decode_culprits(json);
        assert_eq!(good.len(), 3);
        assert_eq!(good[0].dominant_resource, Named::Known(Resource::Cpu));
        assert_eq!(good[1].dominant_resource.to_string(), "unknown");
        assert_eq!(good[1].pid, 2);
        assert_eq!(good[2].dominant_resource, Named::Other("mem".into()));
        assert_eq!(bad, 2);
        assert_eq!(decode_culprits(r#""not a list""#), (vec![], 1));
        assert_eq!(decode_culprits("null"), (vec![], 0));
        assert_eq!(decode_culprits("{broken"), (vec![], 1));
    }
}
