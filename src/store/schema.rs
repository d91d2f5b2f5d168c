//! Schema version 22: the original's v20 tables, columns, indexes and cascades, the v21 plan's
//! `buffer_samples` / `buffer_sample_processes`, and our additions (identity columns, exit
//! reasons, per-part statuses with error texts, `stack_source`, Linux thread columns), then v22's
//! (sampled-profile columns, units, reasons and machine state: see [`v22_ddl`]).
//!
//! Additions to v20 tables come after the v20 columns, in the order the 20 → 21 migration adds
//! them, so a migrated database and a fresh one have the same columns in the same order. From
//! v22 on, a fresh database is the v21 script followed by the very statements the 21 → 22
//! migration runs, which keeps that true by construction.
//!
//! Value conventions: times are epoch seconds (REAL, UTC); text timestamps are RFC 3339 with an
//! offset; booleans are 0/1; capture part statuses are `pending`, `success`, `failed`, `skipped`
//! or `timeout` (NULL in rows of the original means "never updated", and `spindump_status` is
//! NULL where there is no decode step).

use super::machine_columns;
use super::process_columns::{IDENTITY_COLUMNS, UNIT_COLUMNS, metrics_ddl};
use rusqlite::{Connection, OptionalExtension, params};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 22;

/// The oldest version we can migrate from: the original's last schema.
pub const OLDEST_MIGRATABLE: i64 = 20;

/// `daemon_state` key holding the version (TEXT, as the original stores it).
pub const SCHEMA_VERSION_KEY: &str = "schema_version";

/// Every table, parents before children.
pub const TABLES: [&str; 21] = [
    "daemon_state",
    "process_events",
    "process_snapshots",
    "process_snapshot_members",
    "forensic_captures",
    "tailspin_header",
    "tailspin_shared_cache",
    "tailspin_io_stats",
    "tailspin_process",
    "tailspin_process_note",
    "tailspin_thread",
    "tailspin_frame",
    "tailspin_binary_image",
    "tailspin_io_histogram",
    "tailspin_io_aggregate",
    "log_entries",
    "buffer_context",
    "buffer_samples",
    "buffer_sample_processes",
    "machine_snapshots",
    "machine_snapshot_processes",
];

/// Nullable identity columns for tables that also hold rows of the original (unknown there).
fn nullable_identity() -> String {
    IDENTITY_COLUMNS
        .iter()
        .map(|c| format!("{} {}", c.name, c.sql_type))
        .collect::<Vec<_>>()
        .join(",\n    ")
}

/// `process_events` under a given name (the migration builds it beside the old table).
///
/// `peak_snapshot_id` is DEFERRABLE INITIALLY DEFERRED: the event and its peak snapshot point at
/// each other, and with the check at commit an event can name its entry snapshot before that
/// row is inserted in the same transaction.
pub(crate) fn process_events_ddl(name: &str) -> String {
    format!(
        "CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    command TEXT NOT NULL,
    boot_time INTEGER NOT NULL,
    entry_time REAL NOT NULL,
    exit_time REAL,
    entry_band TEXT NOT NULL,
    peak_band TEXT NOT NULL,
    peak_score INTEGER NOT NULL,
    peak_snapshot_id INTEGER REFERENCES process_snapshots(id) DEFERRABLE INITIALLY DEFERRED,
    start_time REAL,
    exit_reason TEXT
);"
    )
}

/// Indexes of `process_events` (recreated after the migration's rebuild).
pub(crate) const PROCESS_EVENTS_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS idx_process_events_pid_boot ON process_events(pid, boot_time);
CREATE INDEX IF NOT EXISTS idx_process_events_open ON process_events(exit_time) WHERE exit_time IS NULL;
CREATE INDEX IF NOT EXISTS idx_process_events_entry_time ON process_events(entry_time);
";

/// The two v21 tables that hold a capture's frozen ring buffer.
///
/// Their ids are plain `INTEGER PRIMARY KEY` (no AUTOINCREMENT): nobody refers to them from
/// outside, and skipping the `sqlite_sequence` bookkeeping matters at 45,000+ rows a capture.
pub(crate) fn buffer_tables_ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS buffer_samples (
    id INTEGER PRIMARY KEY,
    context_id INTEGER NOT NULL REFERENCES buffer_context(id) ON DELETE CASCADE,
    sample_index INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    elapsed_ms REAL NOT NULL,
    process_count INTEGER NOT NULL,
    max_score INTEGER NOT NULL,
    seq INTEGER,
    captured_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_buffer_samples_context ON buffer_samples(context_id);
CREATE TABLE IF NOT EXISTS buffer_sample_processes (
    id INTEGER PRIMARY KEY,
    sample_id INTEGER NOT NULL REFERENCES buffer_samples(id) ON DELETE CASCADE,
    pid INTEGER NOT NULL,
    command TEXT NOT NULL,
    captured_at REAL NOT NULL,
    {metrics},
    ppid INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    start_time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_buffer_sample_processes_sample ON buffer_sample_processes(sample_id);
",
        metrics = metrics_ddl()
    )
}

/// Indexes added in v21 on tables that already existed in v20.
pub(crate) const V21_NEW_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS idx_forensic_captures_captured_at ON forensic_captures(captured_at);
";

/// v22: sampled profiles (Linux perf). The stack header records the sampling (rate, samples
/// taken on and off the CPU, lost, truncated stacks); every frame its on- and off-CPU counts and
/// the source line of its address. NULL where a capture has no profile (procfs, spindump, and
/// every row written before v22).
pub(crate) const V22_PROFILE_COLUMNS: &str = "
ALTER TABLE tailspin_header ADD COLUMN sample_rate_hz REAL;
ALTER TABLE tailspin_header ADD COLUMN samples_on_cpu INTEGER;
ALTER TABLE tailspin_header ADD COLUMN samples_off_cpu INTEGER;
ALTER TABLE tailspin_header ADD COLUMN samples_lost INTEGER;
ALTER TABLE tailspin_header ADD COLUMN stacks_truncated INTEGER;
ALTER TABLE tailspin_frame ADD COLUMN on_cpu_count INTEGER;
ALTER TABLE tailspin_frame ADD COLUMN off_cpu_count INTEGER;
ALTER TABLE tailspin_frame ADD COLUMN source_file TEXT;
ALTER TABLE tailspin_frame ADD COLUMN source_line INTEGER;
";

/// Everything schema 22 adds to 21, as the one script the 21 → 22 migration runs and a fresh
/// file runs after the v21 script (so both end with the same columns in the same order).
pub(crate) fn v22_ddl() -> String {
    format!("{V22_PROFILE_COLUMNS}{}", impact_v22_ddl())
}

/// v22, impact scoring: events name their unit (key, kind, label, member count) and the reason
/// of their peak; process rows gain `reason` and `members`; each snapshot of a unit keeps its
/// members' rows in `process_snapshot_members`; machine snapshots and stored ring-buffer samples
/// gain the machine's state (CPUs, memory, fork and switch rates, PSI).
pub(crate) fn impact_v22_ddl() -> String {
    let unit_cols = |table: &str| -> String {
        UNIT_COLUMNS
            .iter()
            .map(|c| {
                format!(
                    "ALTER TABLE {table} ADD COLUMN {} {};\n",
                    c.name, c.sql_type
                )
            })
            .collect()
    };
    let identity = IDENTITY_COLUMNS
        .iter()
        .chain(UNIT_COLUMNS.iter())
        .map(|c| format!("{} {}", c.name, c.sql_type))
        .collect::<Vec<_>>()
        .join(",\n    ");
    format!(
        "ALTER TABLE process_events ADD COLUMN unit_key TEXT;
ALTER TABLE process_events ADD COLUMN unit_kind TEXT;
ALTER TABLE process_events ADD COLUMN unit_label TEXT;
ALTER TABLE process_events ADD COLUMN members INTEGER;
ALTER TABLE process_events ADD COLUMN reason TEXT;
{snapshots}{machine_procs}{buffer_procs}{machine}{buffer}CREATE TABLE IF NOT EXISTS process_snapshot_members (
    id INTEGER PRIMARY KEY,
    snapshot_id INTEGER NOT NULL REFERENCES process_snapshots(id) ON DELETE CASCADE,
    pid INTEGER NOT NULL,
    command TEXT NOT NULL,
    captured_at REAL NOT NULL,
    {metrics},
    {identity}
);
CREATE INDEX IF NOT EXISTS idx_process_snapshot_members_snapshot ON process_snapshot_members(snapshot_id);
",
        snapshots = unit_cols("process_snapshots"),
        machine_procs = unit_cols("machine_snapshot_processes"),
        buffer_procs = unit_cols("buffer_sample_processes"),
        machine = machine_columns::add_columns_sql("machine_snapshots"),
        buffer = machine_columns::add_columns_sql("buffer_samples"),
        metrics = metrics_ddl(),
    )
}

/// The complete current schema as one script (run on an empty database only).
pub fn ddl() -> String {
    format!("{}{}", ddl_v21(), v22_ddl())
}

/// The v21 schema as one script.
fn ddl_v21() -> String {
    let metrics = metrics_ddl();
    let identity = nullable_identity();
    format!(
        "CREATE TABLE IF NOT EXISTS daemon_state (
    key TEXT PRIMARY KEY,
    value TEXT,
    updated_at REAL
);
{events}
{events_indexes}
CREATE TABLE IF NOT EXISTS process_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES process_events(id) ON DELETE CASCADE,
    snapshot_type TEXT NOT NULL,
    captured_at REAL NOT NULL,
    {metrics},
    {identity}
);
CREATE INDEX IF NOT EXISTS idx_process_snapshots_event ON process_snapshots(event_id);
CREATE INDEX IF NOT EXISTS idx_process_snapshots_score ON process_snapshots(score);
CREATE TABLE IF NOT EXISTS forensic_captures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES process_events(id) ON DELETE CASCADE,
    captured_at REAL NOT NULL,
    trigger TEXT NOT NULL,
    spindump_status TEXT,
    tailspin_status TEXT,
    logs_status TEXT,
    buffer_status TEXT,
    spindump_error TEXT,
    tailspin_error TEXT,
    logs_error TEXT,
    buffer_error TEXT,
    stack_source TEXT,
    triggers TEXT,
    completed_at REAL
);
CREATE INDEX IF NOT EXISTS idx_forensic_captures_event ON forensic_captures(event_id);
CREATE TABLE IF NOT EXISTS tailspin_header (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id INTEGER NOT NULL UNIQUE REFERENCES forensic_captures(id) ON DELETE CASCADE,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    duration_sec REAL NOT NULL,
    steps INTEGER NOT NULL,
    sampling_interval_ms INTEGER NOT NULL,
    os_version TEXT NOT NULL,
    architecture TEXT NOT NULL,
    report_version INTEGER,
    hardware_model TEXT,
    active_cpus INTEGER,
    memory_gb INTEGER,
    hw_page_size INTEGER,
    vm_page_size INTEGER,
    time_since_boot_sec INTEGER,
    time_awake_since_boot_sec INTEGER,
    total_cpu_time_sec REAL,
    total_cycles INTEGER,
    total_instructions INTEGER,
    total_cpi REAL,
    memory_pressure_avg_pct INTEGER,
    memory_pressure_max_pct INTEGER,
    available_memory_avg_gb REAL,
    available_memory_min_gb REAL,
    free_disk_gb REAL,
    total_disk_gb REAL,
    advisory_battery INTEGER,
    advisory_user INTEGER,
    advisory_thermal INTEGER,
    advisory_combined INTEGER,
    shared_cache_residency_pct REAL,
    vnodes_available_pct REAL,
    data_source TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS idx_tailspin_header_capture ON tailspin_header(capture_id);
CREATE TABLE IF NOT EXISTS tailspin_shared_cache (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id INTEGER NOT NULL REFERENCES forensic_captures(id) ON DELETE CASCADE,
    uuid TEXT NOT NULL,
    base_address TEXT NOT NULL,
    slide TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tailspin_shared_cache_capture ON tailspin_shared_cache(capture_id);
CREATE TABLE IF NOT EXISTS tailspin_io_stats (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id INTEGER NOT NULL REFERENCES forensic_captures(id) ON DELETE CASCADE,
    tier TEXT NOT NULL,
    io_count INTEGER NOT NULL,
    io_rate REAL,
    bytes INTEGER NOT NULL,
    bytes_rate REAL
);
CREATE INDEX IF NOT EXISTS idx_tailspin_io_stats_capture ON tailspin_io_stats(capture_id);
CREATE TABLE IF NOT EXISTS tailspin_process (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id INTEGER NOT NULL REFERENCES forensic_captures(id) ON DELETE CASCADE,
    pid INTEGER NOT NULL,
    name TEXT NOT NULL,
    uuid TEXT,
    path TEXT,
    identifier TEXT,
    version TEXT,
    parent_pid INTEGER,
    parent_name TEXT,
    responsible_pid INTEGER,
    responsible_name TEXT,
    execed_from_pid INTEGER,
    execed_from_name TEXT,
    execed_to_pid INTEGER,
    execed_to_name TEXT,
    architecture TEXT,
    shared_cache_uuid TEXT,
    runningboard_managed INTEGER,
    sudden_term TEXT,
    footprint_mb REAL,
    footprint_delta_mb REAL,
    io_count INTEGER,
    io_bytes INTEGER,
    time_since_fork_sec INTEGER,
    start_time TEXT,
    end_time TEXT,
    num_samples INTEGER,
    sample_range_start INTEGER,
    sample_range_end INTEGER,
    cpu_time_sec REAL,
    cycles INTEGER,
    instructions INTEGER,
    cpi REAL,
    num_threads INTEGER
);
CREATE INDEX IF NOT EXISTS idx_tailspin_process_capture ON tailspin_process(capture_id);
CREATE INDEX IF NOT EXISTS idx_tailspin_process_pid ON tailspin_process(pid);
CREATE TABLE IF NOT EXISTS tailspin_process_note (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    process_id INTEGER NOT NULL REFERENCES tailspin_process(id) ON DELETE CASCADE,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tailspin_process_note_process ON tailspin_process_note(process_id);
CREATE TABLE IF NOT EXISTS tailspin_thread (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    process_id INTEGER NOT NULL REFERENCES tailspin_process(id) ON DELETE CASCADE,
    thread_id TEXT NOT NULL,
    dispatch_queue_name TEXT,
    dispatch_queue_serial INTEGER,
    thread_name TEXT,
    num_samples INTEGER,
    sample_range_start INTEGER,
    sample_range_end INTEGER,
    priority INTEGER,
    base_priority INTEGER,
    cpu_time_sec REAL,
    cycles INTEGER,
    instructions INTEGER,
    cpi REAL,
    io_count INTEGER,
    io_bytes INTEGER,
    state TEXT,
    wchan TEXT,
    syscall TEXT
);
CREATE INDEX IF NOT EXISTS idx_tailspin_thread_process ON tailspin_thread(process_id);
CREATE TABLE IF NOT EXISTS tailspin_frame (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id INTEGER NOT NULL REFERENCES tailspin_thread(id) ON DELETE CASCADE,
    parent_frame_id INTEGER REFERENCES tailspin_frame(id) ON DELETE CASCADE,
    depth INTEGER NOT NULL,
    sample_count INTEGER NOT NULL,
    is_kernel INTEGER NOT NULL,
    symbol_name TEXT,
    symbol_offset INTEGER,
    library_name TEXT,
    library_offset INTEGER,
    address TEXT NOT NULL,
    state TEXT,
    core_type TEXT,
    blocked_on TEXT
);
CREATE INDEX IF NOT EXISTS idx_tailspin_frame_thread ON tailspin_frame(thread_id);
CREATE INDEX IF NOT EXISTS idx_tailspin_frame_parent ON tailspin_frame(parent_frame_id);
CREATE TABLE IF NOT EXISTS tailspin_binary_image (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    process_id INTEGER NOT NULL REFERENCES tailspin_process(id) ON DELETE CASCADE,
    start_address TEXT NOT NULL,
    end_address TEXT,
    name TEXT NOT NULL,
    version TEXT,
    uuid TEXT,
    path TEXT,
    is_kernel INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tailspin_binary_image_process ON tailspin_binary_image(process_id);
CREATE TABLE IF NOT EXISTS tailspin_io_histogram (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id INTEGER NOT NULL REFERENCES forensic_captures(id) ON DELETE CASCADE,
    histogram_type TEXT NOT NULL,
    begin_value INTEGER NOT NULL,
    end_value INTEGER,
    frequency INTEGER NOT NULL,
    cdf INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tailspin_io_histogram_capture ON tailspin_io_histogram(capture_id);
CREATE TABLE IF NOT EXISTS tailspin_io_aggregate (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id INTEGER NOT NULL REFERENCES forensic_captures(id) ON DELETE CASCADE,
    tier TEXT NOT NULL,
    num_ios INTEGER NOT NULL,
    latency_mean_us INTEGER,
    latency_max_us INTEGER,
    latency_sd_us INTEGER,
    read_count INTEGER,
    read_bytes INTEGER,
    write_count INTEGER,
    write_bytes INTEGER
);
CREATE INDEX IF NOT EXISTS idx_tailspin_io_aggregate_capture ON tailspin_io_aggregate(capture_id);
CREATE TABLE IF NOT EXISTS log_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id INTEGER NOT NULL REFERENCES forensic_captures(id) ON DELETE CASCADE,
    timestamp TEXT NOT NULL,
    mach_timestamp INTEGER,
    subsystem TEXT,
    category TEXT,
    process_name TEXT,
    process_id INTEGER,
    message_type TEXT,
    event_message TEXT NOT NULL,
    source TEXT
);
CREATE INDEX IF NOT EXISTS idx_log_entries_capture ON log_entries(capture_id);
CREATE TABLE IF NOT EXISTS buffer_context (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id INTEGER NOT NULL REFERENCES forensic_captures(id) ON DELETE CASCADE,
    sample_count INTEGER NOT NULL,
    peak_score INTEGER NOT NULL,
    culprits TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_buffer_context_capture ON buffer_context(capture_id);
{buffer}
CREATE TABLE IF NOT EXISTS machine_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    captured_at REAL NOT NULL,
    process_count INTEGER NOT NULL,
    max_score INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_machine_snapshots_captured_at ON machine_snapshots(captured_at);
CREATE TABLE IF NOT EXISTS machine_snapshot_processes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_id INTEGER NOT NULL REFERENCES machine_snapshots(id) ON DELETE CASCADE,
    pid INTEGER NOT NULL,
    command TEXT NOT NULL,
    {metrics},
    {identity}
);
CREATE INDEX IF NOT EXISTS idx_machine_snapshot_processes_snapshot ON machine_snapshot_processes(snapshot_id);
{new_indexes}",
        events = process_events_ddl("IF NOT EXISTS process_events"),
        events_indexes = PROCESS_EVENTS_INDEXES,
        buffer = buffer_tables_ddl(),
        new_indexes = V21_NEW_INDEXES,
    )
}

/// What a database file holds, as far as versions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbVersion {
    /// No tables at all: a new (or zero-length) file.
    Empty,
    /// `daemon_state.schema_version`.
    Version(i64),
    /// Tables, but no readable version: not ours, or damaged.
    Unversioned { detail: String },
}

/// Reads the version without writing anything.
pub fn detect_version(conn: &Connection) -> rusqlite::Result<DbVersion> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )?;
    let tables = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if tables.is_empty() {
        return Ok(DbVersion::Empty);
    }
    if !tables.iter().any(|t| t == "daemon_state") {
        let shown: Vec<_> = tables.iter().take(5).cloned().collect();
        return Ok(DbVersion::Unversioned {
            detail: format!("no daemon_state table; tables: {}", shown.join(", ")),
        });
    }
    let value: Option<Option<String>> = conn
        .query_row(
            "SELECT CAST(value AS TEXT) FROM daemon_state WHERE key = ?1",
            [SCHEMA_VERSION_KEY],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match value.flatten() {
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) => DbVersion::Version(n),
            Err(_) => DbVersion::Unversioned {
                detail: format!("schema_version is '{v}'"),
            },
        },
        None => DbVersion::Unversioned {
            detail: "daemon_state has no schema_version".to_string(),
        },
    })
}

/// Records the version (inside the caller's transaction).
pub(crate) fn write_version(conn: &Connection, version: i64, now: f64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO daemon_state (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![SCHEMA_VERSION_KEY, version.to_string(), now],
    )?;
    Ok(())
}

/// Creates every table in one transaction on an empty database.
pub(crate) fn create_fresh(conn: &mut Connection, now: f64) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(&ddl())?;
    write_version(&tx, SCHEMA_VERSION, now)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_schema_has_every_table_and_the_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(detect_version(&conn).unwrap(), DbVersion::Empty);
        create_fresh(&mut conn, 1.0).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'",
            )
            .unwrap();
        let mut names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        names.sort();
        let mut expected: Vec<String> = TABLES.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(names, expected);
        assert_eq!(
            detect_version(&conn).unwrap(),
            DbVersion::Version(SCHEMA_VERSION)
        );
    }

    #[test]
    fn a_foreign_database_is_unversioned() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE notes (x TEXT);").unwrap();
        assert!(matches!(
            detect_version(&conn).unwrap(),
            DbVersion::Unversioned { .. }
        ));
        conn.execute_batch("CREATE TABLE daemon_state (key TEXT PRIMARY KEY, value TEXT, updated_at REAL); INSERT INTO daemon_state VALUES ('schema_version', 'abc', 0);").unwrap();
        assert!(matches!(
            detect_version(&conn).unwrap(),
            DbVersion::Unversioned { detail } if detail.contains("abc")
        ));
    }
}
