//! The SQL behind every write. These functions run inside a transaction the writer opened; they
//! never commit except through [`Chunker`], which splits a large part into transactions of at
//! most `limit` rows and lets the writer apply pending small batches between them.

use super::capture_columns as cc;
use super::capture_data::{CaptureData, StackProcess, StackThread};
use super::columns::{self, Column};
use super::columns::{clamp_u64 as int, placeholders};
use super::error::data_error;
use super::machine_columns;
use super::process_columns::{bind_process, process_column_count, process_list};
use super::records::{
    BufferCapture, CapturePart, LogCapture, MachineSnapshot, NewCapture, NewEvent, NewSnapshot, Op,
    PartOutcome, PartStatus,
};
use super::startup::set_state_raw;
use super::time::rfc3339;
use rusqlite::{Connection, ToSql, params};
use std::sync::{LazyLock, OnceLock};

/// Below this many rows in the open transaction a chunk is not cut short for waiting writes
/// (so a steady trickle of small writes cannot turn a capture into thousands of commits).
const MIN_EARLY_COMMIT_ROWS: usize = 128;

/// Commits every `limit` rows, or earlier when `urgent` says small writes are waiting, and
/// calls `between` with no transaction open.
pub(crate) struct Chunker<'a> {
    conn: &'a Connection,
    limit: usize,
    urgent: &'a dyn Fn() -> bool,
    in_tx: usize,
    /// Rows written so far (all chunks).
    pub rows: usize,
    /// Transactions committed so far.
    pub chunks: usize,
    between: &'a mut dyn FnMut(&Connection),
}

impl<'a> Chunker<'a> {
    /// Opens the first transaction.
    pub fn begin(
        conn: &'a Connection,
        limit: usize,
        between: &'a mut dyn FnMut(&Connection),
        urgent: &'a dyn Fn() -> bool,
    ) -> rusqlite::Result<Chunker<'a>> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Chunker {
            conn,
            limit: limit.max(1),
            urgent,
            in_tx: 0,
            rows: 0,
            chunks: 0,
            between,
        })
    }

    pub fn conn(&self) -> &'a Connection {
        self.conn
    }

    /// Counts `n` written rows; at the limit (or earlier if small writes wait), commits, lets
    /// small writes through, and begins the next transaction.
    pub fn wrote(&mut self, n: usize) -> rusqlite::Result<()> {
        self.rows += n;
        self.in_tx += n;
        if self.in_tx >= self.limit
            || (self.in_tx >= MIN_EARLY_COMMIT_ROWS.min(self.limit) && (self.urgent)())
        {
            self.conn.execute_batch("COMMIT")?;
            self.chunks += 1;
            self.in_tx = 0;
            (self.between)(self.conn);
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        Ok(())
    }

    /// Commits the last transaction; returns (rows, transactions).
    pub fn finish(mut self) -> rusqlite::Result<(usize, usize)> {
        self.conn.execute_batch("COMMIT")?;
        self.chunks += 1;
        Ok((self.rows, self.chunks))
    }
}

/// Rolls back whatever transaction is open (after an error); never fails loudly.
pub(crate) fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

fn missing(what: &str, id: i64) -> rusqlite::Error {
    data_error(format!("no {what} with id {id}"))
}

fn insert_event(conn: &Connection, e: &NewEvent) -> rusqlite::Result<usize> {
    let u = &e.unit;
    conn.prepare_cached(
        "INSERT INTO process_events (id, pid, command, boot_time, entry_time, entry_band,
             peak_band, peak_score, peak_snapshot_id, start_time, unit_key, unit_kind,
             unit_label, members, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        e.id,
        e.pid,
        e.command,
        e.boot_time,
        e.entry_time,
        e.entry_band.as_str(),
        e.peak_band.as_str(),
        e.peak_score,
        e.peak_snapshot_id,
        e.start_time,
        (!u.key.is_empty()).then_some(u.key.as_str()),
        u.kind.as_str(),
        u.label,
        u.members,
        (!e.reason.is_empty()).then_some(e.reason.as_str()),
    ])
}

fn snapshot_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO process_snapshots (id, event_id, snapshot_type, captured_at, {})
             VALUES ({})",
            process_list(""),
            placeholders(1, 4 + process_column_count())
        )
    })
}

fn member_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO process_snapshot_members (snapshot_id, pid, command, captured_at, {})
             VALUES ({})",
            process_list(""),
            placeholders(1, 4 + process_column_count())
        )
    })
}

fn insert_snapshot(conn: &Connection, s: &NewSnapshot) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(snapshot_sql())?;
    stmt.raw_bind_parameter(1, s.id)?;
    stmt.raw_bind_parameter(2, s.event_id)?;
    stmt.raw_bind_parameter(3, s.snapshot_type.as_str())?;
    stmt.raw_bind_parameter(4, s.process.captured_at)?;
    bind_process(&mut stmt, 5, &s.process)?;
    let mut n = stmt.raw_execute()?;
    if !s.members.is_empty() {
        let mut stmt = conn.prepare_cached(member_sql())?;
        for m in &s.members {
            stmt.raw_bind_parameter(1, s.id)?;
            stmt.raw_bind_parameter(2, m.pid)?;
            stmt.raw_bind_parameter(3, m.command.as_str())?;
            stmt.raw_bind_parameter(4, m.captured_at)?;
            bind_process(&mut stmt, 5, m)?;
            n += stmt.raw_execute()?;
        }
    }
    Ok(n)
}

fn insert_capture(conn: &Connection, c: &NewCapture) -> rusqlite::Result<usize> {
    let pending = PartStatus::Pending.as_str();
    conn.prepare_cached(
        "INSERT INTO forensic_captures (id, event_id, captured_at, trigger, spindump_status,
             tailspin_status, logs_status, buffer_status, triggers)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, json_array(?4))",
    )?
    .execute(params![
        c.id,
        c.event_id,
        c.captured_at,
        c.trigger.to_string(),
        c.has_decode_step.then_some(pending),
        pending
    ])
}

/// A part's (status column, error column) in `forensic_captures`.
fn part_columns(part: CapturePart) -> (&'static str, &'static str) {
    match part {
        CapturePart::Buffer => ("buffer_status", "buffer_error"),
        // The stack part keeps the original's column name on every platform.
        CapturePart::Stacks => ("tailspin_status", "tailspin_error"),
        CapturePart::Decode => ("spindump_status", "spindump_error"),
        CapturePart::Logs => ("logs_status", "logs_error"),
    }
}

/// Sets one part's status and error, and `completed_at` once no part is pending.
pub(crate) fn set_part(
    conn: &Connection,
    capture_id: i64,
    part: CapturePart,
    status: PartStatus,
    error: Option<&str>,
    at: f64,
) -> rusqlite::Result<()> {
    let (status_col, error_col) = part_columns(part);
    let n = conn
        .prepare_cached(&format!(
            "UPDATE forensic_captures SET {status_col} = ?2, {error_col} = ?3 WHERE id = ?1"
        ))?
        .execute(params![capture_id, status.as_str(), error])?;
    if n == 0 {
        return Err(missing("capture", capture_id));
    }
    conn.prepare_cached(
        "UPDATE forensic_captures SET completed_at = ?2
         WHERE id = ?1 AND completed_at IS NULL
           AND 'pending' NOT IN (IFNULL(buffer_status, ''), IFNULL(tailspin_status, ''),
                                 IFNULL(spindump_status, ''), IFNULL(logs_status, ''))",
    )?
    .execute(params![capture_id, at])?;
    Ok(())
}

/// Applies one small operation; returns the rows it wrote.
pub(crate) fn apply_op(conn: &Connection, op: &Op) -> rusqlite::Result<usize> {
    match op {
        Op::OpenEvent(e) => insert_event(conn, e),
        Op::InsertSnapshot(s) => insert_snapshot(conn, s),
        Op::SetPeak {
            event_id,
            peak_score,
            peak_band,
            peak_snapshot_id,
            reason,
            members,
        } => {
            let n = conn
                .prepare_cached(
                    "UPDATE process_events SET peak_score = ?2, peak_band = ?3,
                         peak_snapshot_id = ?4, reason = IFNULL(?5, reason),
                         members = MAX(IFNULL(members, 0), ?6)
                     WHERE id = ?1",
                )?
                .execute(params![
                    event_id,
                    peak_score,
                    peak_band.as_str(),
                    peak_snapshot_id,
                    (!reason.is_empty()).then_some(reason.as_str()),
                    members
                ])?;
            if n == 0 {
                return Err(missing("event", *event_id));
            }
            Ok(n)
        }
        Op::CloseEvent {
            event_id,
            exit_time,
            reason,
        } => {
            let n = conn
                .prepare_cached(
                    "UPDATE process_events SET exit_time = ?2, exit_reason = ?3 WHERE id = ?1",
                )?
                .execute(params![event_id, exit_time, reason.as_str()])?;
            if n == 0 {
                return Err(missing("event", *event_id));
            }
            Ok(n)
        }
        Op::SetDaemonState { key, value, at } => {
            set_state_raw(conn, key, value, *at)?;
            Ok(1)
        }
        Op::CreateCapture(c) => insert_capture(conn, c),
        Op::SetCapturePart {
            capture_id,
            part,
            status,
            error,
            at,
        } => {
            set_part(conn, *capture_id, *part, *status, error.as_deref(), *at)?;
            Ok(1)
        }
        Op::AddCaptureTriggers {
            capture_id,
            triggers,
        } => {
            let mut stmt = conn.prepare_cached(
                "UPDATE forensic_captures
                 SET triggers = json_insert(IFNULL(triggers, json_array(trigger)), '$[#]', ?2)
                 WHERE id = ?1",
            )?;
            for t in triggers {
                if stmt.execute(params![capture_id, t])? == 0 {
                    return Err(missing("capture", *capture_id));
                }
            }
            Ok(1)
        }
    }
}

fn machine_process_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO machine_snapshot_processes (snapshot_id, pid, command, {})
             VALUES ({})",
            process_list(""),
            placeholders(1, 3 + process_column_count())
        )
    })
}

/// Writes a machine snapshot (header row plus every process); returns the rows written.
pub(crate) fn insert_machine_snapshot(
    conn: &Connection,
    snap: &MachineSnapshot,
) -> rusqlite::Result<usize> {
    let s = &snap.sample;
    let mut stmt = conn.prepare_cached(machine_snapshot_sql())?;
    stmt.raw_bind_parameter(1, s.timestamp)?;
    stmt.raw_bind_parameter(2, s.processes.len() as i64)?;
    stmt.raw_bind_parameter(3, s.max_score)?;
    machine_columns::bind(&mut stmt, 4, &s.machine)?;
    stmt.raw_execute()?;
    let snapshot_id = conn.last_insert_rowid();
    let mut stmt = conn.prepare_cached(machine_process_sql())?;
    for p in &s.processes {
        stmt.raw_bind_parameter(1, snapshot_id)?;
        stmt.raw_bind_parameter(2, p.pid)?;
        stmt.raw_bind_parameter(3, p.command.as_str())?;
        bind_process(&mut stmt, 4, p)?;
        stmt.raw_execute()?;
    }
    Ok(1 + s.processes.len())
}

fn machine_snapshot_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO machine_snapshots (captured_at, process_count, max_score, {})
             VALUES ({})",
            machine_columns::list(),
            placeholders(1, 3 + machine_columns::count())
        )
    })
}

fn buffer_sample_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO buffer_samples (context_id, sample_index, timestamp, elapsed_ms,
                 process_count, max_score, seq, captured_at, {})
             VALUES ({})",
            machine_columns::list(),
            placeholders(1, 8 + machine_columns::count())
        )
    })
}

fn buffer_process_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO buffer_sample_processes (sample_id, pid, command, captured_at, {})
             VALUES ({})",
            process_list(""),
            placeholders(1, 4 + process_column_count())
        )
    })
}

/// Writes a frozen ring buffer through `ch`, then marks the buffer part `success` in the last
/// transaction.
pub(crate) fn store_buffer(
    ch: &mut Chunker<'_>,
    b: &BufferCapture,
    at: f64,
) -> rusqlite::Result<()> {
    let conn = ch.conn();
    let culprits = serde_json::to_string(&b.culprits)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let peak = b.culprits.iter().map(|c| c.score).max().unwrap_or(0);
    conn.prepare_cached(
        "INSERT INTO buffer_context (capture_id, sample_count, peak_score, culprits)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        b.capture_id,
        b.samples.len() as i64,
        peak,
        culprits
    ])?;
    let context_id = conn.last_insert_rowid();
    ch.wrote(1)?;
    for (index, s) in b.samples.iter().enumerate() {
        let mut stmt = conn.prepare_cached(buffer_sample_sql())?;
        stmt.raw_bind_parameter(1, context_id)?;
        stmt.raw_bind_parameter(2, index as i64)?;
        stmt.raw_bind_parameter(3, rfc3339(s.timestamp))?;
        stmt.raw_bind_parameter(4, s.elapsed_ms)?;
        stmt.raw_bind_parameter(5, s.process_count as i64)?;
        stmt.raw_bind_parameter(6, s.max_score)?;
        stmt.raw_bind_parameter(7, int(s.seq))?;
        stmt.raw_bind_parameter(8, s.timestamp)?;
        machine_columns::bind(&mut stmt, 9, &s.machine)?;
        stmt.raw_execute()?;
        let sample_id = conn.last_insert_rowid();
        ch.wrote(1)?;
        let mut stmt = conn.prepare_cached(buffer_process_sql())?;
        for p in &s.processes {
            stmt.raw_bind_parameter(1, sample_id)?;
            stmt.raw_bind_parameter(2, p.pid)?;
            stmt.raw_bind_parameter(3, p.command.as_str())?;
            stmt.raw_bind_parameter(4, p.captured_at)?;
            bind_process(&mut stmt, 5, p)?;
            stmt.raw_execute()?;
            ch.wrote(1)?;
        }
    }
    set_part(
        conn,
        b.capture_id,
        CapturePart::Buffer,
        PartStatus::Success,
        None,
        at,
    )
}

/// Writes log entries through `ch` and records `outcome` in the last transaction.
pub(crate) fn store_logs(ch: &mut Chunker<'_>, l: &LogCapture, at: f64) -> rusqlite::Result<()> {
    for e in &l.entries {
        insert(ch.conn(), &LOG_SQL, &[&l.capture_id], &cc::LOG_ENTRY, e)?;
        ch.wrote(1)?;
    }
    record_outcome(ch.conn(), l.capture_id, CapturePart::Logs, &l.outcome, at)
}

/// Inserts one row: the `lead` values (the owner's id) and then `value`'s columns, as
/// [`columns::insert_sql`] lists them; returns the new row's id.
fn insert<T>(
    conn: &Connection,
    sql: &str,
    lead: &[&dyn ToSql],
    cols: &[Column<T>],
    value: &T,
) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare_cached(sql)?;
    for (i, v) in lead.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, v)?;
    }
    columns::bind(&mut stmt, lead.len() + 1, cols, value)?;
    stmt.raw_execute()?;
    Ok(conn.last_insert_rowid())
}

macro_rules! insert_sql {
    ($name:ident, $table:literal, [$($lead:literal),*], $cols:expr) => {
        static $name: LazyLock<String> =
            LazyLock::new(|| columns::insert_sql($table, &[$($lead),*], &$cols));
    };
}

insert_sql!(LOG_SQL, "log_entries", ["capture_id"], cc::LOG_ENTRY);
insert_sql!(HEADER_SQL, "tailspin_header", ["capture_id"], cc::HEADER);
insert_sql!(
    SHARED_CACHE_SQL,
    "tailspin_shared_cache",
    ["capture_id"],
    cc::SHARED_CACHE
);
insert_sql!(
    IO_STATS_SQL,
    "tailspin_io_stats",
    ["capture_id"],
    cc::IO_STATS
);
insert_sql!(
    HISTOGRAM_SQL,
    "tailspin_io_histogram",
    ["capture_id"],
    cc::HISTOGRAM
);
insert_sql!(
    AGGREGATE_SQL,
    "tailspin_io_aggregate",
    ["capture_id"],
    cc::AGGREGATE
);
insert_sql!(PROCESS_SQL, "tailspin_process", ["capture_id"], cc::PROCESS);
insert_sql!(
    IMAGE_SQL,
    "tailspin_binary_image",
    ["process_id"],
    cc::IMAGE
);
insert_sql!(THREAD_SQL, "tailspin_thread", ["process_id"], cc::THREAD);
insert_sql!(
    FRAME_SQL,
    "tailspin_frame",
    ["thread_id", "parent_frame_id"],
    cc::FRAME
);

fn record_outcome(
    conn: &Connection,
    capture_id: i64,
    part: CapturePart,
    outcome: &PartOutcome,
    at: f64,
) -> rusqlite::Result<()> {
    set_part(
        conn,
        capture_id,
        part,
        outcome.status,
        outcome.error.as_deref(),
        at,
    )
}

/// Writes a stack capture through `ch`, sets `stack_source`, and records `outcome`.
pub(crate) fn store_stacks(
    ch: &mut Chunker<'_>,
    capture_id: i64,
    source: &str,
    data: &CaptureData,
    outcome: &PartOutcome,
    at: f64,
) -> rusqlite::Result<()> {
    data.validate().map_err(data_error)?;
    let conn = ch.conn();
    if conn
        .prepare_cached("UPDATE forensic_captures SET stack_source = ?2 WHERE id = ?1")?
        .execute(params![capture_id, source])?
        == 0
    {
        return Err(missing("capture", capture_id));
    }
    let rows = |ch: &mut Chunker<'_>, n: usize| ch.wrote(n);
    if let Some(h) = &data.header {
        insert(conn, &HEADER_SQL, &[&capture_id], &cc::HEADER, h)?;
        rows(ch, 1)?;
    }
    for c in &data.shared_caches {
        insert(
            conn,
            &SHARED_CACHE_SQL,
            &[&capture_id],
            &cc::SHARED_CACHE,
            c,
        )?;
        rows(ch, 1)?;
    }
    for s in &data.io_stats {
        insert(conn, &IO_STATS_SQL, &[&capture_id], &cc::IO_STATS, s)?;
        rows(ch, 1)?;
    }
    for p in &data.processes {
        store_process(ch, capture_id, p)?;
    }
    for h in &data.histograms {
        insert(conn, &HISTOGRAM_SQL, &[&capture_id], &cc::HISTOGRAM, h)?;
        rows(ch, 1)?;
    }
    for a in &data.aggregates {
        insert(conn, &AGGREGATE_SQL, &[&capture_id], &cc::AGGREGATE, a)?;
        rows(ch, 1)?;
    }
    record_outcome(ch.conn(), capture_id, CapturePart::Stacks, outcome, at)
}

fn store_process(ch: &mut Chunker<'_>, capture_id: i64, p: &StackProcess) -> rusqlite::Result<()> {
    let conn = ch.conn();
    let process_id = insert(conn, &PROCESS_SQL, &[&capture_id], &cc::PROCESS, p)?;
    ch.wrote(1)?;
    for note in &p.notes {
        conn.prepare_cached(
            "INSERT INTO tailspin_process_note (process_id, note) VALUES (?1, ?2)",
        )?
        .execute(params![process_id, note])?;
        ch.wrote(1)?;
    }
    for i in &p.images {
        insert(conn, &IMAGE_SQL, &[&process_id], &cc::IMAGE, i)?;
        ch.wrote(1)?;
    }
    for t in &p.threads {
        store_thread(ch, process_id, t)?;
    }
    Ok(())
}

fn store_thread(ch: &mut Chunker<'_>, process_id: i64, t: &StackThread) -> rusqlite::Result<()> {
    let conn = ch.conn();
    let thread_id = insert(conn, &THREAD_SQL, &[&process_id], &cc::THREAD, t)?;
    ch.wrote(1)?;
    let mut ids: Vec<i64> = Vec::with_capacity(t.frames.len());
    for f in &t.frames {
        let parent = f.parent.and_then(|i| ids.get(i).copied());
        ids.push(insert(
            conn,
            &FRAME_SQL,
            &[&thread_id, &parent],
            &cc::FRAME,
            f,
        )?);
        ch.wrote(1)?;
    }
    Ok(())
}
