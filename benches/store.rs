//! Storage benchmarks: the writer thread (see ARCHITECTURE.md) against the `sqlite3` shell.
//!
//! 1. `store/capture_buffer`: one capture's ring buffer, 90 samples × 500 processes (45,000
//!    `buffer_sample_processes` rows plus 90 samples and the context row), through the writer
//!    thread, timed from `send_bulk` to the part's outcome. Compared in the same run with
//!    `store/sqlite3_import`: the `sqlite3` shell importing the same 45,000 rows from CSV into
//!    the same table (`.import`, one transaction), timed as the whole shell process. Both start
//!    from a copy of the same v21 file (WAL, synchronous=NORMAL, foreign keys on). Goal: ours
//!    at most 1.2× the shell.
//! 2. Latency of a small per-sample transaction (open event + entry snapshot + daemon_state)
//!    submitted every 5 ms while captures like the one above are written back to back:
//!    submit → commit acknowledged. Goal: p99 ≤ 50 ms. Measured by this file's own loop
//!    (criterion has no percentiles) and printed after criterion's output.
//!
//! Run: `cargo bench --bench store`. Without `sqlite3` on PATH the comparison is skipped.

#[path = "../tests/integration/blocking_writer.rs"]
mod blocking_writer;
use blocking_writer::BlockingWriter;
use criterion::{Criterion, SamplingMode};
use rogue_hunter::model::{Band, ProcState, ProcessScore, Resource, Sample};
use rogue_hunter::store::process_columns::{IDENTITY_COLUMNS, METRIC_COLUMNS};
use rogue_hunter::store::{
    BufferCapture, BulkWrite, Culprit, NewCapture, NewEvent, NewSnapshot, Op, PartStatus,
    SnapshotType, Writer, WriterConfig, open_writer,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLES: usize = 90;
const PROCESSES: usize = 500;
const NOW: f64 = 1_764_000_000.0;

const COMMANDS: [&str; 8] = [
    "systemd",
    "kworker/0:1-events",
    "firefox",
    "Web Content",
    "cargo",
    "rustc",
    "sqlite3",
    "gnome-shell",
];

fn process(i: usize, seq: usize, t: f64) -> ProcessScore {
    let x = (i * 7919 + seq * 104_729) as u64;
    ProcessScore {
        pid: 100 + i as u32,
        command: COMMANDS[i % COMMANDS.len()].to_string(),
        captured_at: t,
        cpu: (x % 2000) as f64 / 10.0,
        mem: 4096 * (x % 100_000),
        mem_peak: 8192 * (x % 100_000),
        pageins: x % 1000,
        pageins_rate: (x % 50) as f64 / 3.0,
        faults: x * 3,
        faults_rate: (x % 5000) as f64 / 7.0,
        disk_io: x * 512,
        disk_io_rate: (x % 100_000) as f64 * 1.5,
        csw: x * 2,
        csw_rate: (x % 3000) as f64 / 3.0,
        syscalls: x * 5,
        syscalls_rate: (x % 9000) as f64 / 3.0,
        threads: 1 + (i % 64) as u32,
        wakeups: x,
        wakeups_rate: (x % 1000) as f64 / 3.0,
        runnable_time: x * 1000,
        runnable_time_rate: (x % 100) as f64 / 9.0,
        gpu_time: if i.is_multiple_of(50) { x * 10 } else { 0 },
        gpu_time_rate: 0.0,
        state: if i.is_multiple_of(9) {
            ProcState::Running
        } else {
            ProcState::Sleeping
        },
        priority: 20,
        score: (x % 101) as u8,
        band: Band::Low,
        cpu_share: (x % 100) as f64 / 100.0,
        gpu_share: 0.0,
        mem_share: (x % 37) as f64 / 100.0,
        disk_share: (x % 13) as f64 / 100.0,
        wakeups_share: (x % 7) as f64 / 100.0,
        disproportionality: (x % 400) as f64 / 100.0,
        dominant_resource: Resource::Cpu,
        ppid: 1,
        uid: 1000,
        start_time: 1_763_000_000.0 + i as f64,
        ..Default::default()
    }
}

fn frozen_buffer() -> Arc<[Arc<Sample>]> {
    (0..SAMPLES)
        .map(|s| {
            let t = NOW - 30.0 + s as f64 / 3.0;
            let processes: Vec<ProcessScore> = (0..PROCESSES).map(|i| process(i, s, t)).collect();
            Arc::new(Sample {
                seq: s as u64 + 1,
                timestamp: t,
                elapsed_ms: 11.0,
                process_count: PROCESSES,
                max_score: processes.iter().map(|p| p.score).max().unwrap_or(0),
                rogue_count: 20,
                access_denied: 0,
                processes,
                ..Default::default()
            })
        })
        .collect()
}

fn culprits() -> Vec<Culprit> {
    vec![Culprit {
        pid: 100,
        command: "systemd".into(),
        score: 90,
        dominant_resource: Resource::Cpu,
        disproportionality: 3.0,
    }]
}

/// A v21 file with one event and one capture, plus (for the shell) the context row and the 90
/// sample rows its process rows refer to. Checkpointed, so a file copy is complete.
fn template(dir: &Path, with_samples: bool) -> PathBuf {
    let path = dir.join(if with_samples {
        "shell.db"
    } else {
        "writer.db"
    });
    let (conn, _) = open_writer(&path, NOW).expect("create template");
    conn.execute_batch(
        "INSERT INTO process_events (id, pid, command, boot_time, entry_time, entry_band,
             peak_band, peak_score) VALUES (1, 100, 'systemd', 1, 1.0, 'critical', 'critical', 90);
         INSERT INTO forensic_captures (id, event_id, captured_at, trigger, buffer_status)
             VALUES (1, 1, 1.0, 'band_entry_critical', 'pending');",
    )
    .expect("template rows");
    if with_samples {
        conn.execute(
            "INSERT INTO buffer_context (id, capture_id, sample_count, peak_score, culprits)
             VALUES (1, 1, 90, 90, '[]')",
            [],
        )
        .expect("context");
        for s in 0..SAMPLES {
            conn.execute(
                "INSERT INTO buffer_samples (id, context_id, sample_index, timestamp, elapsed_ms,
                     process_count, max_score, seq, captured_at)
                 VALUES (?1, 1, ?2, 'x', 11.0, 500, 90, ?1, 1.0)",
                [s as i64 + 1, s as i64],
            )
            .expect("sample");
        }
    }
    drop(conn);
    path
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The 45,000 rows as the shell imports them: every column of buffer_sample_processes.
fn write_csv(path: &Path, buffer: &[Arc<Sample>]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("csv"));
    let mut id = 0i64;
    for (s, sample) in buffer.iter().enumerate() {
        for p in &sample.processes {
            id += 1;
            let v = serde_json::to_value(p).expect("json");
            let mut fields = vec![
                id.to_string(),
                (s + 1).to_string(),
                p.pid.to_string(),
                csv_field(&p.command),
                p.captured_at.to_string(),
            ];
            for name in METRIC_COLUMNS
                .iter()
                .chain(IDENTITY_COLUMNS.iter())
                .map(|c| c.name)
            {
                fields.push(match &v[name] {
                    serde_json::Value::String(t) => csv_field(t),
                    other => other.to_string(),
                });
            }
            writeln!(out, "{}", fields.join(",")).expect("csv line");
        }
    }
}

fn copy_of(template: &Path, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::copy(template, &path).expect("copy template");
    path
}

fn sqlite3_available() -> bool {
    Command::new("sqlite3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn shell_import(db: &Path, csv: &Path) -> Duration {
    let script = format!(
        "PRAGMA synchronous = NORMAL;\nPRAGMA foreign_keys = ON;\n.import --csv {} buffer_sample_processes\n",
        csv.display()
    );
    let start = Instant::now();
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sqlite3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script");
    let out = child.wait_with_output().expect("sqlite3 ran");
    let elapsed = start.elapsed();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn count_rows(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).expect("open");
    c.query_row("SELECT COUNT(*) FROM buffer_sample_processes", [], |r| {
        r.get(0)
    })
    .expect("count")
}

fn writer_store(db: &Path, buffer: &Arc<[Arc<Sample>]>, config: &WriterConfig) -> Duration {
    let (conn, _) = open_writer(db, NOW).expect("open copy");
    let writer = Writer::spawn(conn, config.clone()).expect("writer");
    let h = writer.handle();
    let start = Instant::now();
    let outcome = h
        .send_bulk_blocking(BulkWrite::Buffer(BufferCapture {
            capture_id: 1,
            culprits: culprits(),
            samples: Arc::clone(buffer),
        }))
        .expect("send")
        .blocking_recv()
        .expect("outcome");
    let elapsed = start.elapsed();
    assert_eq!(outcome.status, PartStatus::Success, "{outcome:?}");
    drop(writer.shutdown());
    elapsed
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn small_batch(id: i64, t: f64) -> Vec<Op> {
    let p = process(id as usize % PROCESSES, 0, t);
    vec![
        Op::OpenEvent(NewEvent {
            id,
            pid: p.pid,
            start_time: p.start_time,
            command: p.command.clone(),
            boot_time: 1,
            entry_time: t,
            entry_band: Band::Critical,
            peak_score: 75,
            peak_band: Band::Critical,
            peak_snapshot_id: Some(id),
            unit: Default::default(),
            reason: String::new(),
        }),
        Op::InsertSnapshot(NewSnapshot {
            id,
            event_id: id,
            snapshot_type: SnapshotType::Entry,
            process: p,
            members: Vec::new(),
        }),
        Op::SetDaemonState {
            key: "last_sample_time".into(),
            value: t.to_string(),
            at: t,
        },
    ]
}
/// Per-sample transaction latency while `captures` buffers are written back to back; returns
/// the sorted latencies and how many WAL checkpoints ran meanwhile.
/// Per-sample transaction latency while `captures` buffers are written back to back.
fn latency_under_capture(
    dir: &Path,
    template: &Path,
    buffer: &Arc<[Arc<Sample>]>,
    config: &WriterConfig,
    captures: usize,
) -> (Vec<Duration>, u64) {
    let db = copy_of(template, dir, "latency.db");
    let (conn, _) = open_writer(&db, NOW).expect("open");
    let writer = Writer::spawn(conn, config.clone()).expect("writer");
    let h = writer.handle();
    let in_flight = Arc::new(AtomicBool::new(false));
    let loader = {
        let h = h.clone();
        let in_flight = Arc::clone(&in_flight);
        let buffer = Arc::clone(buffer);
        std::thread::spawn(move || {
            for c in 0..captures {
                let capture_id = 10 + c as i64;
                h.submit_acked(vec![Op::CreateCapture(NewCapture {
                    id: capture_id,
                    event_id: 1,
                    captured_at: NOW,
                    trigger: rogue_hunter::model::Trigger::Manual,
                    has_decode_step: false,
                })])
                .expect("capture row")
                .blocking_recv()
                .expect("ack");
                in_flight.store(true, Ordering::SeqCst);
                let out = h
                    .send_bulk_blocking(BulkWrite::Buffer(BufferCapture {
                        capture_id,
                        culprits: culprits(),
                        samples: Arc::clone(&buffer),
                    }))
                    .expect("send")
                    .blocking_recv()
                    .expect("outcome");
                in_flight.store(false, Ordering::SeqCst);
                assert_eq!(out.status, PartStatus::Success);
            }
        })
    };
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut id = 1000i64;
    while !loader.is_finished() {
        let during = in_flight.load(Ordering::SeqCst);
        id += 1;
        let start = Instant::now();
        let ack = h
            .submit_acked(small_batch(id, NOW + id as f64))
            .expect("submit")
            .blocking_recv()
            .expect("ack");
        let took = start.elapsed();
        assert_eq!(ack.ops_failed, 0, "{ack:?}");
        if during && in_flight.load(Ordering::SeqCst) {
            latencies.lock().expect("lock").push(took);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    loader.join().expect("loader");
    let checkpoints = h.stats().checkpoints;
    drop(writer.shutdown());
    let mut v = latencies.lock().expect("lock").clone();
    v.sort();
    (v, checkpoints)
}

fn pct(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let sqlite = Command::new("sqlite3")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    format!(
        "nproc {nproc}, kernel {}, bundled SQLite {}, sqlite3 shell {sqlite}",
        kernel.trim(),
        rusqlite::version()
    )
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(15));
    let dir = tempfile::tempdir().expect("temp dir");
    let buffer = frozen_buffer();
    let writer_template = template(dir.path(), false);
    let shell_template = template(dir.path(), true);
    let csv = dir.path().join("rows.csv");
    write_csv(&csv, &buffer);
    let config = WriterConfig::default();
    let have_shell = sqlite3_available();
    if !have_shell {
        eprintln!("skipped: sqlite3 not found on PATH; the shell comparison is not run");
    }

    let ours = Arc::new(Mutex::new(Vec::new()));
    let shell = Arc::new(Mutex::new(Vec::new()));
    {
        let mut g = c.benchmark_group("store");
        g.sampling_mode(SamplingMode::Flat);
        g.throughput(criterion::Throughput::Elements(
            (SAMPLES * PROCESSES) as u64,
        ));
        let ours_log = Arc::clone(&ours);
        let buffer_ref = &buffer;
        let dir_ref = dir.path();
        g.bench_function("capture_buffer_90x500", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let db = copy_of(&writer_template, dir_ref, "run.db");
                    let t = writer_store(&db, buffer_ref, &config);
                    ours_log.lock().expect("lock").push(t);
                    total += t;
                }
                total
            })
        });
        if have_shell {
            let shell_log = Arc::clone(&shell);
            g.bench_function("sqlite3_import_45000", |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let db = copy_of(&shell_template, dir_ref, "shell-run.db");
                        let t = shell_import(&db, &csv);
                        assert_eq!(count_rows(&db), (SAMPLES * PROCESSES) as i64);
                        shell_log.lock().expect("lock").push(t);
                        total += t;
                    }
                    total
                })
            });
        }
        g.finish();
    }

    let lat = latency_under_capture(dir.path(), &writer_template, &buffer, &config, 20);
    let big_chunks = WriterConfig {
        chunk_rows: 10_000,
        ..config.clone()
    };
    let lat_big = latency_under_capture(dir.path(), &writer_template, &buffer, &big_chunks, 20);

    println!("\n== store benchmark summary ({}) ==", machine());
    let mut o = ours.lock().expect("lock").clone();
    let mut s = shell.lock().expect("lock").clone();
    let mo = median(&mut o);
    println!(
        "writer, capture buffer 90x500 ({} rows): median {:.1} ms over {} runs",
        SAMPLES * PROCESSES,
        mo.as_secs_f64() * 1e3,
        o.len()
    );
    if !s.is_empty() {
        let ms = median(&mut s);
        println!(
            "sqlite3 .import of the same rows: median {:.1} ms over {} runs",
            ms.as_secs_f64() * 1e3,
            s.len()
        );
        println!(
            "ratio writer / shell: {:.2} (goal <= 1.20)",
            mo.as_secs_f64() / ms.as_secs_f64()
        );
    }
    for ((v, ckpt), chunk) in [(&lat, config.chunk_rows), (&lat_big, big_chunks.chunk_rows)] {
        println!(
            "per-sample transaction during capture writes ({} batches, chunk_rows {chunk}, {ckpt} WAL checkpoints): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 <= 50 ms)",
            v.len(),
            pct(v, 0.5).as_secs_f64() * 1e3,
            pct(v, 0.99).as_secs_f64() * 1e3,
            v.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }
    c.final_summary();
}
