//! Storage on real SQLite files: schema, migration, refusal, writer thread, queries, pruning.

mod migration;
mod prune;
mod queries;
mod schema;
mod writer;

use rogue_hunter::model::{Band, ProcState, ProcessScore, Resource, Sample};
use rogue_hunter::store::capture_data::{
    BinaryImage, CaptureData, Frame, HistogramBucket, IoAggregate, IoStat, NamedPid, SharedCache,
    StackHeader, StackProcess, StackThread,
};
use rogue_hunter::store::{
    NewCapture, NewEvent, NewSnapshot, Op, SnapshotType, Writer, WriterConfig, open_writer,
};
use rusqlite::Connection;
use rusqlite::types::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;

/// A fixed "now" so retention arithmetic is exact.
pub const NOW: f64 = 1_764_000_000.0;

pub fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.db");
    (dir, path)
}

/// A process with every field set to something recognisable.
pub fn process(pid: u32, score: u8, t: f64) -> ProcessScore {
    let f = f64::from(pid);
    ProcessScore {
        pid,
        command: format!("proc-{pid}, \"quoted\""),
        captured_at: t,
        cpu: f * 1.5,
        mem: u64::from(pid) * 4096,
        mem_peak: u64::from(pid) * 8192,
        pageins: 3,
        pageins_rate: 0.5,
        faults: 100 + u64::from(pid),
        faults_rate: 12.25,
        disk_io: 1 << 20,
        disk_io_rate: 4096.0,
        csw: 77,
        csw_rate: 7.5,
        syscalls: 55,
        syscalls_rate: 5.5,
        threads: 4,
        mach_msgs: 0,
        mach_msgs_rate: 0.0,
        instructions: 0,
        cycles: 0,
        ipc: 0.0,
        energy: 0,
        energy_rate: 0.0,
        wakeups: 40,
        wakeups_rate: 4.0,
        runnable_time: 123_456,
        runnable_time_rate: 1.25,
        qos_interactive: 0,
        qos_interactive_rate: 0.0,
        gpu_time: 0,
        gpu_time_rate: 0.0,
        zombie_children: 0,
        state: ProcState::Sleeping,
        priority: 20,
        score,
        band: if score >= 70 {
            Band::Critical
        } else if score >= 40 {
            Band::Medium
        } else {
            Band::Low
        },
        cpu_share: 0.25,
        gpu_share: 0.0,
        mem_share: 0.125,
        disk_share: 0.0625,
        wakeups_share: 0.5,
        disproportionality: 2.5,
        dominant_resource: Resource::Wakeups,
        ppid: 1,
        uid: 1000,
        start_time: 1_763_000_000.0 + f,
        reason: format!("cpu: {} of 2 cores", f * 0.015),
        members: 1,
    }
}

/// A sample of `n` processes (pids 100..), highest score first.
pub fn sample(seq: u64, t: f64, n: usize) -> Arc<Sample> {
    let processes: Vec<ProcessScore> = (0..n)
        .map(|i| process(100 + i as u32, (90 - (i % 90)) as u8, t))
        .collect();
    Arc::new(Sample {
        seq,
        timestamp: t,
        elapsed_ms: 12.5,
        process_count: n,
        max_score: processes.first().map_or(0, |p| p.score),
        rogue_count: 5.min(n),
        access_denied: 0,
        processes,
        ..Default::default()
    })
}

/// Ops opening event `id` whose entry snapshot `snap` is also its peak (peak named first: the
/// reference is checked at commit).
pub fn open_event(id: i64, snap: i64, pid: u32, t: f64) -> Vec<Op> {
    let p = process(pid, 75, t);
    vec![
        Op::OpenEvent(NewEvent {
            id,
            pid,
            start_time: p.start_time,
            command: p.command.clone(),
            boot_time: 1_763_900_000,
            boot_id: None,
            entry_time: t,
            entry_band: Band::Critical,
            peak_score: 75,
            peak_band: Band::Critical,
            peak_snapshot_id: Some(snap),
            unit: Default::default(),
            reason: String::new(),
        }),
        Op::InsertSnapshot(NewSnapshot {
            id: snap,
            event_id: id,
            snapshot_type: SnapshotType::Entry,
            process: p,
            members: Vec::new(),
        }),
    ]
}

pub fn create_capture(id: i64, event_id: i64, t: f64) -> Op {
    Op::CreateCapture(NewCapture {
        id,
        event_id,
        captured_at: t,
        trigger: rogue_hunter::model::Trigger::BandEntry(rogue_hunter::model::Band::Critical),
        has_decode_step: false,
    })
}

pub fn spawn(path: &Path, config: WriterConfig) -> Writer {
    let (conn, _) = open_writer(path, NOW).unwrap();
    Writer::spawn(conn, config).unwrap()
}

pub fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Every row of `table` (the given columns), ordered by rowid.
pub fn rows(conn: &Connection, table: &str, columns: &[String]) -> Vec<Vec<Value>> {
    let sql = format!("SELECT {} FROM {table} ORDER BY rowid", columns.join(", "));
    let mut stmt = conn.prepare(&sql).unwrap();
    let n = columns.len();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

pub fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

pub use crate::common::is_root;

/// A two-thread stack capture with a small call tree, images, notes and I/O summaries.
pub fn capture_data(pid: i64) -> CaptureData {
    let frame = |parent: Option<usize>, depth: u32, sym: &str, kernel: bool| Frame {
        parent,
        depth,
        sample_count: 5 - i64::from(depth),
        is_kernel: kernel,
        symbol_name: Some(sym.to_string()),
        symbol_offset: Some(16 * i64::from(depth)),
        library_name: Some(if kernel { "vmlinux" } else { "libc.so.6" }.to_string()),
        library_offset: Some(0x1000 + i64::from(depth)),
        address: format!("0x{:x}", 0xffff_0000u64 + depth as u64),
        state: kernel.then(|| "blocked".to_string()),
        core_type: None,
        blocked_on: kernel.then(|| "futex_wait_queue".to_string()),
        on_cpu_count: Some(3 - i64::from(depth).min(3)),
        off_cpu_count: Some(2),
        source_file: (!kernel).then(|| "src/busy loop.c".to_string()),
        source_line: (!kernel).then_some(40 + i64::from(depth)),
    };
    CaptureData {
        header: Some(StackHeader {
            start_time: Some("2025-11-24T16:00:00.000+00:00".into()),
            end_time: Some("2025-11-24T16:00:00.100+00:00".into()),
            duration_sec: Some(0.1),
            steps: Some(5),
            sampling_interval_ms: Some(20),
            os_version: Some("Linux 6.18".into()),
            architecture: Some("x86_64".into()),
            active_cpus: Some(2),
            memory_gb: Some(8),
            memory_pressure_avg_pct: Some(3),
            data_source: Some("perf".into()),
            reason: Some("band_entry_critical".into()),
            sample_rate_hz: Some(99.0),
            samples_on_cpu: Some(280),
            samples_off_cpu: Some(17),
            samples_lost: Some(0),
            stacks_truncated: Some(3),
            ..Default::default()
        }),
        shared_caches: vec![SharedCache {
            uuid: "U".into(),
            base_address: "0x1".into(),
            slide: "0x2".into(),
            name: "cache".into(),
        }],
        io_stats: vec![IoStat {
            tier: "sda".into(),
            io_count: 10,
            io_rate: Some(1.5),
            bytes: 4096,
            bytes_rate: None,
        }],
        processes: vec![StackProcess {
            pid,
            name: "busy".into(),
            path: Some("/usr/bin/busy".into()),
            parent: Some(NamedPid {
                name: "systemd".into(),
                pid: 1,
            }),
            responsible: Some(NamedPid {
                name: "user@1000.service".into(),
                pid: 0,
            }),
            runningboard_managed: Some(false),
            footprint_mb: Some(12.5),
            num_threads: Some(2),
            notes: vec!["first note".into(), "second note".into()],
            images: vec![BinaryImage {
                start_address: "0x400000".into(),
                end_address: Some("0x500000".into()),
                name: "busy".into(),
                uuid: Some("buildid-abc".into()),
                path: Some("/usr/bin/busy".into()),
                is_kernel: false,
                ..Default::default()
            }],
            threads: vec![
                StackThread {
                    thread_id: pid.to_string(),
                    thread_name: Some("main".into()),
                    num_samples: Some(5),
                    priority: Some(20),
                    state: Some("stuck".into()),
                    wchan: Some("futex_wait_queue".into()),
                    syscall: Some("202 0x7f 0x80 0x0".into()),
                    frames: vec![
                        frame(None, 0, "main", false),
                        frame(Some(0), 1, "work", false),
                        frame(Some(1), 2, "futex_wait", true),
                        frame(Some(0), 1, "idle", false),
                    ],
                    ..Default::default()
                },
                StackThread {
                    thread_id: (pid + 1).to_string(),
                    thread_name: Some("worker".into()),
                    frames: vec![frame(None, 0, "thread_start", false)],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        histograms: vec![
            HistogramBucket {
                histogram_type: "io_size".into(),
                begin_value: 4,
                end_value: Some(8),
                frequency: 3,
                cdf: 3,
            },
            HistogramBucket {
                histogram_type: "io_size".into(),
                begin_value: 8,
                end_value: None,
                frequency: 1,
                cdf: 4,
            },
        ],
        aggregates: vec![IoAggregate {
            tier: "sda".into(),
            num_ios: 4,
            latency_mean_us: Some(100),
            ..Default::default()
        }],
    }
}
