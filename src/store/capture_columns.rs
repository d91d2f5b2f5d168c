//! The columns of the capture tables (`tailspin_*`, `log_entries`) by name, one line each (see
//! [`super::columns`]). The id, the owner's foreign key (`capture_id`, `process_id`,
//! `thread_id`) and a frame's parent link are not fields: the writer binds them first, before
//! these columns, and the readers select them first.

use super::capture_data::{
    BinaryImage, Frame, HistogramBucket, IoAggregate, IoStat, NamedPid, SharedCache, StackHeader,
    StackProcess, StackThread,
};
use super::columns::{Codec, Column, NotNull, Stored, column};
use super::records::LogEntry;
use rusqlite::types::{Null, ToSqlOutput, Value, ValueRef};
use std::sync::LazyLock;

type Columns<T> = LazyLock<Vec<Column<T>>>;

/// `tailspin_header`: the first seven columns are NOT NULL.
pub static HEADER: Columns<StackHeader> = LazyLock::new(|| {
    vec![
        column!(StackHeader, start_time, NotNull),
        column!(StackHeader, end_time, NotNull),
        column!(StackHeader, duration_sec, NotNull),
        column!(StackHeader, steps, NotNull),
        column!(StackHeader, sampling_interval_ms, NotNull),
        column!(StackHeader, os_version, NotNull),
        column!(StackHeader, architecture, NotNull),
        column!(StackHeader, report_version),
        column!(StackHeader, hardware_model),
        column!(StackHeader, active_cpus),
        column!(StackHeader, memory_gb),
        column!(StackHeader, hw_page_size),
        column!(StackHeader, vm_page_size),
        column!(StackHeader, time_since_boot_sec),
        column!(StackHeader, time_awake_since_boot_sec),
        column!(StackHeader, total_cpu_time_sec),
        column!(StackHeader, total_cycles),
        column!(StackHeader, total_instructions),
        column!(StackHeader, total_cpi),
        column!(StackHeader, memory_pressure_avg_pct),
        column!(StackHeader, memory_pressure_max_pct),
        column!(StackHeader, available_memory_avg_gb),
        column!(StackHeader, available_memory_min_gb),
        column!(StackHeader, free_disk_gb),
        column!(StackHeader, total_disk_gb),
        column!(StackHeader, advisory_battery),
        column!(StackHeader, advisory_user),
        column!(StackHeader, advisory_thermal),
        column!(StackHeader, advisory_combined),
        column!(StackHeader, shared_cache_residency_pct),
        column!(StackHeader, vnodes_available_pct),
        column!(StackHeader, data_source),
        column!(StackHeader, reason),
        column!(StackHeader, sample_rate_hz),
        column!(StackHeader, samples_on_cpu),
        column!(StackHeader, samples_off_cpu),
        column!(StackHeader, samples_lost),
        column!(StackHeader, stacks_truncated),
    ]
});

/// `tailspin_shared_cache`.
pub static SHARED_CACHE: Columns<SharedCache> = LazyLock::new(|| {
    vec![
        column!(SharedCache, uuid),
        column!(SharedCache, base_address),
        column!(SharedCache, slide),
        column!(SharedCache, name),
    ]
});

/// `tailspin_io_stats`.
pub static IO_STATS: Columns<IoStat> = LazyLock::new(|| {
    vec![
        column!(IoStat, tier),
        column!(IoStat, io_count),
        column!(IoStat, io_rate),
        column!(IoStat, bytes),
        column!(IoStat, bytes_rate),
    ]
});

/// `tailspin_io_histogram`.
pub static HISTOGRAM: Columns<HistogramBucket> = LazyLock::new(|| {
    vec![
        column!(HistogramBucket, histogram_type),
        column!(HistogramBucket, begin_value),
        column!(HistogramBucket, end_value),
        column!(HistogramBucket, frequency),
        column!(HistogramBucket, cdf),
    ]
});

/// `tailspin_io_aggregate`.
pub static AGGREGATE: Columns<IoAggregate> = LazyLock::new(|| {
    vec![
        column!(IoAggregate, tier),
        column!(IoAggregate, num_ios),
        column!(IoAggregate, latency_mean_us),
        column!(IoAggregate, latency_max_us),
        column!(IoAggregate, latency_sd_us),
        column!(IoAggregate, read_count),
        column!(IoAggregate, read_bytes),
        column!(IoAggregate, write_count),
        column!(IoAggregate, write_bytes),
    ]
});

/// `tailspin_process` (notes, images and threads are tables of their own).
pub static PROCESS: Columns<StackProcess> = LazyLock::new(|| {
    vec![
        column!(StackProcess, pid),
        column!(StackProcess, name),
        column!(StackProcess, uuid),
        column!(StackProcess, path),
        column!(StackProcess, identifier),
        column!(StackProcess, version),
        column!(StackProcess, "parent_pid", parent, PidOf),
        column!(StackProcess, "parent_name", parent, NameOf),
        column!(StackProcess, "responsible_pid", responsible, PidOf),
        column!(StackProcess, "responsible_name", responsible, NameOf),
        column!(StackProcess, "execed_from_pid", execed_from, PidOf),
        column!(StackProcess, "execed_from_name", execed_from, NameOf),
        column!(StackProcess, "execed_to_pid", execed_to, PidOf),
        column!(StackProcess, "execed_to_name", execed_to, NameOf),
        column!(StackProcess, architecture),
        column!(StackProcess, shared_cache_uuid),
        column!(StackProcess, runningboard_managed),
        column!(StackProcess, sudden_term),
        column!(StackProcess, footprint_mb),
        column!(StackProcess, footprint_delta_mb),
        column!(StackProcess, io_count),
        column!(StackProcess, io_bytes),
        column!(StackProcess, time_since_fork_sec),
        column!(StackProcess, start_time),
        column!(StackProcess, end_time),
        column!(StackProcess, num_samples),
        column!(StackProcess, sample_range_start),
        column!(StackProcess, sample_range_end),
        column!(StackProcess, cpu_time_sec),
        column!(StackProcess, cycles),
        column!(StackProcess, instructions),
        column!(StackProcess, cpi),
        column!(StackProcess, num_threads),
    ]
});

/// `tailspin_binary_image`.
pub static IMAGE: Columns<BinaryImage> = LazyLock::new(|| {
    vec![
        column!(BinaryImage, start_address),
        column!(BinaryImage, end_address),
        column!(BinaryImage, name),
        column!(BinaryImage, version),
        column!(BinaryImage, uuid),
        column!(BinaryImage, path),
        column!(BinaryImage, is_kernel),
    ]
});

/// `tailspin_thread` (its frames are a table of their own).
pub static THREAD: Columns<StackThread> = LazyLock::new(|| {
    vec![
        column!(StackThread, thread_id),
        column!(StackThread, dispatch_queue_name),
        column!(StackThread, dispatch_queue_serial),
        column!(StackThread, thread_name),
        column!(StackThread, num_samples),
        column!(StackThread, sample_range_start),
        column!(StackThread, sample_range_end),
        column!(StackThread, priority),
        column!(StackThread, base_priority),
        column!(StackThread, cpu_time_sec),
        column!(StackThread, cycles),
        column!(StackThread, instructions),
        column!(StackThread, cpi),
        column!(StackThread, io_count),
        column!(StackThread, io_bytes),
        column!(StackThread, state),
        column!(StackThread, wchan),
        column!(StackThread, syscall),
    ]
});

/// `tailspin_frame` (after `thread_id` and `parent_frame_id`).
pub static FRAME: Columns<Frame> = LazyLock::new(|| {
    vec![
        column!(Frame, depth),
        column!(Frame, sample_count),
        column!(Frame, is_kernel),
        column!(Frame, symbol_name),
        column!(Frame, symbol_offset),
        column!(Frame, library_name),
        column!(Frame, library_offset),
        column!(Frame, address),
        column!(Frame, state),
        column!(Frame, core_type),
        column!(Frame, blocked_on),
        column!(Frame, on_cpu_count),
        column!(Frame, off_cpu_count),
        column!(Frame, source_file),
        column!(Frame, source_line),
    ]
});

/// `log_entries`.
pub static LOG_ENTRY: Columns<LogEntry> = LazyLock::new(|| {
    vec![
        column!(LogEntry, timestamp),
        column!(LogEntry, mach_timestamp),
        column!(LogEntry, subsystem),
        column!(LogEntry, category),
        column!(LogEntry, process_name),
        column!(LogEntry, process_id),
        column!(LogEntry, message_type),
        column!(LogEntry, event_message),
        column!(LogEntry, source),
    ]
});

/// The pid half of a `*_pid` / `*_name` pair. A pair with one half stored reads back with the
/// other half empty; with neither, as `None`.
pub struct PidOf;

impl Codec<Option<NamedPid>> for PidOf {
    const SQL_TYPE: &'static str = "INTEGER";
    fn bind(v: &Option<NamedPid>) -> ToSqlOutput<'_> {
        match v {
            Some(n) => ToSqlOutput::Owned(Value::Integer(n.pid)),
            None => ToSqlOutput::from(Null),
        }
    }
    fn read(into: &mut Option<NamedPid>, v: ValueRef<'_>) {
        if let Some(pid) = Option::<i64>::from_sql(v) {
            into.get_or_insert_with(NamedPid::default).pid = pid;
        }
    }
}

/// The name half of a `*_pid` / `*_name` pair.
pub struct NameOf;

impl Codec<Option<NamedPid>> for NameOf {
    const SQL_TYPE: &'static str = "TEXT";
    fn bind(v: &Option<NamedPid>) -> ToSqlOutput<'_> {
        match v {
            Some(n) => n.name.to_sql(),
            None => ToSqlOutput::from(Null),
        }
    }
    fn read(into: &mut Option<NamedPid>, v: ValueRef<'_>) {
        if let Some(name) = Option::<String>::from_sql(v) {
            into.get_or_insert_with(NamedPid::default).name = name;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;
    use rusqlite::Connection;

    fn table_columns(conn: &Connection, table: &str) -> Vec<String> {
        conn.prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// Every list names exactly the table's columns after the id and the lead ones: a column
    /// added to the schema and not here (or the other way round) fails this.
    #[test]
    fn the_lists_are_the_tables() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&schema::ddl()).unwrap();
        fn check<T>(conn: &Connection, table: &str, lead: &[&str], cols: &[Column<T>]) {
            let mut want = vec!["id".to_string()];
            want.extend(lead.iter().map(|s| s.to_string()));
            want.extend(cols.iter().map(|c| c.name.to_string()));
            assert_eq!(table_columns(conn, table), want, "{table}");
        }
        check(&conn, "tailspin_header", &["capture_id"], &HEADER);
        check(
            &conn,
            "tailspin_shared_cache",
            &["capture_id"],
            &SHARED_CACHE,
        );
        check(&conn, "tailspin_io_stats", &["capture_id"], &IO_STATS);
        check(&conn, "tailspin_io_histogram", &["capture_id"], &HISTOGRAM);
        check(&conn, "tailspin_io_aggregate", &["capture_id"], &AGGREGATE);
        check(&conn, "tailspin_process", &["capture_id"], &PROCESS);
        check(&conn, "tailspin_binary_image", &["process_id"], &IMAGE);
        check(&conn, "tailspin_thread", &["process_id"], &THREAD);
        check(
            &conn,
            "tailspin_frame",
            &["thread_id", "parent_frame_id"],
            &FRAME,
        );
        check(&conn, "log_entries", &["capture_id"], &LOG_ENTRY);
    }
}
