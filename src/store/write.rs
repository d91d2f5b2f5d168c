//! The SQL behind every write. These functions run inside a transaction the writer opened; they
//! never commit except through [`Chunker`], which splits a large part into transactions of at
//! most `limit` rows and lets the writer apply pending small batches between them.

use super::capture_data::{CaptureData, NamedPid, StackProcess, StackThread};
use super::error::data_error;
use super::process_columns::{
    bind_identity, bind_metrics, identity_list, int, metrics_list, placeholders,
};
use super::records::{
    BufferCapture, CapturePart, LogCapture, MachineSnapshot, NewCapture, NewEvent, NewSnapshot, Op,
    PartOutcome, PartStatus,
};
use super::startup::set_state_raw;
use super::time::rfc3339;
use rusqlite::{Connection, params};
use std::sync::OnceLock;

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
    conn.prepare_cached(
        "INSERT INTO process_events (id, pid, command, boot_time, entry_time, entry_band,
             peak_band, peak_score, peak_snapshot_id, start_time, boot_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
        e.boot_id
    ])
}

fn snapshot_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO process_snapshots (id, event_id, snapshot_type, captured_at, {}, {})
             VALUES ({})",
            metrics_list(),
            identity_list(),
            placeholders(1, 48)
        )
    })
}

fn insert_snapshot(conn: &Connection, s: &NewSnapshot) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(snapshot_sql())?;
    stmt.raw_bind_parameter(1, s.id)?;
    stmt.raw_bind_parameter(2, s.event_id)?;
    stmt.raw_bind_parameter(3, s.snapshot_type.as_str())?;
    stmt.raw_bind_parameter(4, s.process.captured_at)?;
    let next = bind_metrics(&mut stmt, 5, &s.process)?;
    bind_identity(&mut stmt, next, &s.process)?;
    stmt.raw_execute()
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
        c.trigger,
        c.has_decode_step.then_some(pending),
        pending
    ])
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
    let (status_col, error_col) = part.columns();
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
        } => {
            let n = conn
                .prepare_cached(
                    "UPDATE process_events SET peak_score = ?2, peak_band = ?3,
                         peak_snapshot_id = ?4 WHERE id = ?1",
                )?
                .execute(params![
                    event_id,
                    peak_score,
                    peak_band.as_str(),
                    peak_snapshot_id
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
            "INSERT INTO machine_snapshot_processes (snapshot_id, pid, command, {}, {})
             VALUES ({})",
            metrics_list(),
            identity_list(),
            placeholders(1, 47)
        )
    })
}

/// Writes a machine snapshot (header row plus every process); returns the rows written.
pub(crate) fn insert_machine_snapshot(
    conn: &Connection,
    snap: &MachineSnapshot,
) -> rusqlite::Result<usize> {
    let s = &snap.sample;
    conn.prepare_cached(
        "INSERT INTO machine_snapshots (captured_at, process_count, max_score) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![s.timestamp, s.processes.len() as i64, s.max_score])?;
    let snapshot_id = conn.last_insert_rowid();
    let mut stmt = conn.prepare_cached(machine_process_sql())?;
    for p in &s.processes {
        stmt.raw_bind_parameter(1, snapshot_id)?;
        stmt.raw_bind_parameter(2, p.pid)?;
        stmt.raw_bind_parameter(3, p.command.as_str())?;
        let next = bind_metrics(&mut stmt, 4, p)?;
        bind_identity(&mut stmt, next, p)?;
        stmt.raw_execute()?;
    }
    Ok(1 + s.processes.len())
}

fn buffer_process_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO buffer_sample_processes (sample_id, pid, command, captured_at, {}, {})
             VALUES ({})",
            metrics_list(),
            identity_list(),
            placeholders(1, 48)
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
        conn.prepare_cached(
            "INSERT INTO buffer_samples (context_id, sample_index, timestamp, elapsed_ms,
                 process_count, max_score, seq, captured_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            context_id,
            index as i64,
            rfc3339(s.timestamp),
            s.elapsed_ms,
            s.process_count as i64,
            s.max_score,
            int(s.seq),
            s.timestamp
        ])?;
        let sample_id = conn.last_insert_rowid();
        ch.wrote(1)?;
        let mut stmt = conn.prepare_cached(buffer_process_sql())?;
        for p in &s.processes {
            stmt.raw_bind_parameter(1, sample_id)?;
            stmt.raw_bind_parameter(2, p.pid)?;
            stmt.raw_bind_parameter(3, p.command.as_str())?;
            stmt.raw_bind_parameter(4, p.captured_at)?;
            let next = bind_metrics(&mut stmt, 5, p)?;
            bind_identity(&mut stmt, next, p)?;
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
    let conn = ch.conn();
    for e in &l.entries {
        conn.prepare_cached(
            "INSERT INTO log_entries (capture_id, timestamp, mach_timestamp, subsystem, category,
                 process_name, process_id, message_type, event_message, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            l.capture_id,
            e.timestamp,
            e.mach_timestamp,
            e.subsystem,
            e.category,
            e.process_name,
            e.process_id,
            e.message_type,
            e.event_message,
            e.source
        ])?;
        ch.wrote(1)?;
    }
    record_outcome(conn, l.capture_id, CapturePart::Logs, &l.outcome, at)
}

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
    if let Some(h) = &data.header {
        conn.prepare_cached(
            "INSERT INTO tailspin_header (capture_id, start_time, end_time, duration_sec, steps,
                 sampling_interval_ms, os_version, architecture, report_version, hardware_model,
                 active_cpus, memory_gb, hw_page_size, vm_page_size, time_since_boot_sec,
                 time_awake_since_boot_sec, total_cpu_time_sec, total_cycles, total_instructions,
                 total_cpi, memory_pressure_avg_pct, memory_pressure_max_pct,
                 available_memory_avg_gb, available_memory_min_gb, free_disk_gb, total_disk_gb,
                 advisory_battery, advisory_user, advisory_thermal, advisory_combined,
                 shared_cache_residency_pct, vnodes_available_pct, data_source, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33,
                 ?34)",
        )?
        .execute(params![
            capture_id,
            h.start_time.as_deref().unwrap_or(""),
            h.end_time.as_deref().unwrap_or(""),
            h.duration_sec.unwrap_or(0.0),
            h.steps.unwrap_or(0),
            h.sampling_interval_ms.unwrap_or(0),
            h.os_version.as_deref().unwrap_or(""),
            h.architecture.as_deref().unwrap_or(""),
            h.report_version,
            h.hardware_model,
            h.active_cpus,
            h.memory_gb,
            h.hw_page_size,
            h.vm_page_size,
            h.time_since_boot_sec,
            h.time_awake_since_boot_sec,
            h.total_cpu_time_sec,
            h.total_cycles,
            h.total_instructions,
            h.total_cpi,
            h.memory_pressure_avg_pct,
            h.memory_pressure_max_pct,
            h.available_memory_avg_gb,
            h.available_memory_min_gb,
            h.free_disk_gb,
            h.total_disk_gb,
            h.advisory_battery,
            h.advisory_user,
            h.advisory_thermal,
            h.advisory_combined,
            h.shared_cache_residency_pct,
            h.vnodes_available_pct,
            h.data_source,
            h.reason
        ])?;
        ch.wrote(1)?;
    }
    for c in &data.shared_caches {
        conn.prepare_cached(
            "INSERT INTO tailspin_shared_cache (capture_id, uuid, base_address, slide, name)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![capture_id, c.uuid, c.base_address, c.slide, c.name])?;
        ch.wrote(1)?;
    }
    for s in &data.io_stats {
        conn.prepare_cached(
            "INSERT INTO tailspin_io_stats (capture_id, tier, io_count, io_rate, bytes, bytes_rate)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            capture_id,
            s.tier,
            s.io_count,
            s.io_rate,
            s.bytes,
            s.bytes_rate
        ])?;
        ch.wrote(1)?;
    }
    for p in &data.processes {
        store_process(ch, capture_id, p)?;
    }
    for h in &data.histograms {
        conn.prepare_cached(
            "INSERT INTO tailspin_io_histogram (capture_id, histogram_type, begin_value,
                 end_value, frequency, cdf)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            capture_id,
            h.histogram_type,
            h.begin_value,
            h.end_value,
            h.frequency,
            h.cdf
        ])?;
        ch.wrote(1)?;
    }
    for a in &data.aggregates {
        conn.prepare_cached(
            "INSERT INTO tailspin_io_aggregate (capture_id, tier, num_ios, latency_mean_us,
                 latency_max_us, latency_sd_us, read_count, read_bytes, write_count, write_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            capture_id,
            a.tier,
            a.num_ios,
            a.latency_mean_us,
            a.latency_max_us,
            a.latency_sd_us,
            a.read_count,
            a.read_bytes,
            a.write_count,
            a.write_bytes
        ])?;
        ch.wrote(1)?;
    }
    record_outcome(ch.conn(), capture_id, CapturePart::Stacks, outcome, at)
}

fn pid_of(n: &Option<NamedPid>) -> Option<i64> {
    n.as_ref().map(|n| n.pid)
}

fn name_of(n: &Option<NamedPid>) -> Option<&str> {
    n.as_ref().map(|n| n.name.as_str())
}

fn store_process(ch: &mut Chunker<'_>, capture_id: i64, p: &StackProcess) -> rusqlite::Result<()> {
    let conn = ch.conn();
    conn.prepare_cached(
        "INSERT INTO tailspin_process (capture_id, pid, name, uuid, path, identifier, version,
             parent_pid, parent_name, responsible_pid, responsible_name, execed_from_pid,
             execed_from_name, execed_to_pid, execed_to_name, architecture, shared_cache_uuid,
             runningboard_managed, sudden_term, footprint_mb, footprint_delta_mb, io_count,
             io_bytes, time_since_fork_sec, start_time, end_time, num_samples,
             sample_range_start, sample_range_end, cpu_time_sec, cycles, instructions, cpi,
             num_threads)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34)",
    )?
    .execute(params![
        capture_id,
        p.pid,
        p.name,
        p.uuid,
        p.path,
        p.identifier,
        p.version,
        pid_of(&p.parent),
        name_of(&p.parent),
        pid_of(&p.responsible),
        name_of(&p.responsible),
        pid_of(&p.execed_from),
        name_of(&p.execed_from),
        pid_of(&p.execed_to),
        name_of(&p.execed_to),
        p.architecture,
        p.shared_cache_uuid,
        p.runningboard_managed,
        p.sudden_term,
        p.footprint_mb,
        p.footprint_delta_mb,
        p.io_count,
        p.io_bytes,
        p.time_since_fork_sec,
        p.start_time,
        p.end_time,
        p.num_samples,
        p.sample_range_start,
        p.sample_range_end,
        p.cpu_time_sec,
        p.cycles,
        p.instructions,
        p.cpi,
        p.num_threads
    ])?;
    let process_id = conn.last_insert_rowid();
    ch.wrote(1)?;
    for note in &p.notes {
        conn.prepare_cached(
            "INSERT INTO tailspin_process_note (process_id, note) VALUES (?1, ?2)",
        )?
        .execute(params![process_id, note])?;
        ch.wrote(1)?;
    }
    for i in &p.images {
        conn.prepare_cached(
            "INSERT INTO tailspin_binary_image (process_id, start_address, end_address, name,
                 version, uuid, path, is_kernel)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            process_id,
            i.start_address,
            i.end_address,
            i.name,
            i.version,
            i.uuid,
            i.path,
            i.is_kernel
        ])?;
        ch.wrote(1)?;
    }
    for t in &p.threads {
        store_thread(ch, process_id, t)?;
    }
    Ok(())
}

fn store_thread(ch: &mut Chunker<'_>, process_id: i64, t: &StackThread) -> rusqlite::Result<()> {
    let conn = ch.conn();
    conn.prepare_cached(
        "INSERT INTO tailspin_thread (process_id, thread_id, dispatch_queue_name,
             dispatch_queue_serial, thread_name, num_samples, sample_range_start,
             sample_range_end, priority, base_priority, cpu_time_sec, cycles, instructions, cpi,
             io_count, io_bytes, state, wchan, syscall)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19)",
    )?
    .execute(params![
        process_id,
        t.thread_id,
        t.dispatch_queue_name,
        t.dispatch_queue_serial,
        t.thread_name,
        t.num_samples,
        t.sample_range_start,
        t.sample_range_end,
        t.priority,
        t.base_priority,
        t.cpu_time_sec,
        t.cycles,
        t.instructions,
        t.cpi,
        t.io_count,
        t.io_bytes,
        t.state,
        t.wchan,
        t.syscall
    ])?;
    let thread_id = conn.last_insert_rowid();
    ch.wrote(1)?;
    let mut ids: Vec<i64> = Vec::with_capacity(t.frames.len());
    for f in &t.frames {
        let parent = f.parent.and_then(|i| ids.get(i).copied());
        conn.prepare_cached(
            "INSERT INTO tailspin_frame (thread_id, parent_frame_id, depth, sample_count,
                 is_kernel, symbol_name, symbol_offset, library_name, library_offset, address,
                 state, core_type, blocked_on)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            thread_id,
            parent,
            f.depth,
            f.sample_count,
            f.is_kernel,
            f.symbol_name,
            f.symbol_offset,
            f.library_name,
            f.library_offset,
            f.address,
            f.state,
            f.core_type,
            f.blocked_on
        ])?;
        ids.push(conn.last_insert_rowid());
        ch.wrote(1)?;
    }
    Ok(())
}
