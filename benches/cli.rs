//! The history commands on a large database (issue 6): the real binary, run as a user runs it,
//! on a file with 100,000 events (one snapshot each) spread over the last 7 days, 2,000 of them
//! in the current boot, and one capture with a 90 × 500 ring buffer and stacks.
//!
//! Timed as whole processes (start-up included): `events` (the current boot, newest 20, with
//! the count of what it left out), `history -H 168` (the summary of all 100,000), `history -H
//! 168 -f csv` (all 100,000 as CSV, to /dev/null), `events show ID -f -t -l --json` (the event
//! with the big capture) and `status` (no daemon: the database part). Goal: every one under
//! 1 s on the 2-vCPU VM; a user should never wait on these.
//!
//! Run: `cargo bench --bench cli`.

#[path = "../tests/integration/blocking_writer.rs"]
mod blocking_writer;
use blocking_writer::BlockingWriter;
use criterion::{Criterion, SamplingMode};
use rogue_hunter::model::{Band, ProcessScore, Resource, Sample};
use rogue_hunter::store::capture_data::{CaptureData, Frame, StackProcess, StackThread};
use rogue_hunter::store::{
    BufferCapture, BulkWrite, Culprit, ExitReason, NewCapture, NewEvent, NewSnapshot, Op,
    PartOutcome, SnapshotType, StackCapture, Writer, WriterConfig, open_writer,
};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const EVENTS: i64 = 100_000;
const CURRENT_BOOT_EVENTS: i64 = 2_000;
const BUFFER_SAMPLES: usize = 90;
const BUFFER_PROCESSES: usize = 500;
const WEEK: f64 = 7.0 * 86_400.0;
const BIN: &str = env!("CARGO_BIN_EXE_rogue-hunter");

fn process(pid: u32, t: f64, score: u8) -> ProcessScore {
    ProcessScore {
        pid,
        command: format!("worker-{}", pid % 97),
        captured_at: t,
        cpu: f64::from(pid % 200),
        mem: u64::from(pid) * 4096,
        score,
        band: Band::High,
        disproportionality: 2.5,
        dominant_resource: Resource::Cpu,
        start_time: t - 100.0,
        ..Default::default()
    }
}

fn build(dir: &Path, now: f64, boot: i64) -> i64 {
    let path = dir.join("data/rogue-hunter/data.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (conn, _) = open_writer(&path, now).unwrap();
    let writer = Writer::spawn(conn, WriterConfig::default()).unwrap();
    let h = writer.handle();
    let mut ops = Vec::new();
    for id in 1..=EVENTS {
        // Oldest first, the newest CURRENT_BOOT_EVENTS in this boot.
        let entry = now - WEEK + (id as f64) * (WEEK - 60.0) / EVENTS as f64;
        let pid = (id % 30_000) as u32 + 100;
        let p = process(pid, entry, 60);
        ops.push(Op::OpenEvent(NewEvent {
            id,
            pid,
            start_time: p.start_time,
            command: p.command.clone(),
            boot_time: if id > EVENTS - CURRENT_BOOT_EVENTS {
                boot
            } else {
                boot - 86_400
            },
            entry_time: entry,
            entry_band: Band::High,
            peak_score: 60,
            peak_band: Band::High,
            peak_snapshot_id: Some(id),
            unit: Default::default(),
            reason: String::new(),
        }));
        ops.push(Op::InsertSnapshot(NewSnapshot {
            id,
            event_id: id,
            snapshot_type: SnapshotType::Entry,
            process: p,
            members: Vec::new(),
        }));
        ops.push(Op::CloseEvent {
            event_id: id,
            exit_time: entry + 30.0,
            reason: ExitReason::ScoreDropped,
        });
        if ops.len() >= 3_000 {
            h.submit(std::mem::take(&mut ops)).unwrap();
        }
    }
    h.submit(ops).unwrap();

    let event = EVENTS;
    let t = now - 90.0;
    h.submit(vec![Op::CreateCapture(NewCapture {
        id: 1,
        event_id: event,
        captured_at: t,
        trigger: rogue_hunter::model::Trigger::BandEntry(Band::Critical),
        has_decode_step: false,
    })])
    .unwrap();
    let samples: Arc<[Arc<Sample>]> = (0..BUFFER_SAMPLES)
        .map(|i| {
            let ts = t - 30.0 + i as f64 / 3.0;
            let processes: Vec<ProcessScore> = (0..BUFFER_PROCESSES)
                .map(|j| process(1000 + j as u32, ts, (90 - j % 90) as u8))
                .collect();
            Arc::new(Sample {
                seq: i as u64,
                timestamp: ts,
                elapsed_ms: 3.0,
                process_count: processes.len(),
                max_score: 90,
                rogue_count: 20,
                access_denied: 0,
                processes,
                ..Default::default()
            })
        })
        .collect();
    let culprits = (0..20)
        .map(|j| Culprit {
            pid: 1000 + j,
            command: format!("worker-{j}"),
            score: 90,
            dominant_resource: Resource::Cpu,
            disproportionality: 3.0,
        })
        .collect();
    let frames: Vec<Frame> = (0..40usize)
        .map(|d| Frame {
            parent: d.checked_sub(1),
            depth: d as u32,
            sample_count: 5,
            symbol_name: Some(format!("function_{d}")),
            address: format!("0x{d:x}"),
            ..Default::default()
        })
        .collect();
    let stacks = CaptureData {
        processes: (0..4)
            .map(|p| StackProcess {
                pid: 1000 + p,
                name: format!("worker-{p}"),
                threads: (0..50)
                    .map(|t| StackThread {
                        thread_id: (100_000 + p * 100 + t).to_string(),
                        num_samples: Some(5),
                        state: Some("sleeping".into()),
                        frames: frames.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    for part in [
        BulkWrite::Buffer(BufferCapture {
            capture_id: 1,
            culprits,
            samples,
        }),
        BulkWrite::Stacks(Box::new(StackCapture {
            capture_id: 1,
            source: "procfs".into(),
            data: stacks,
            outcome: PartOutcome::success(),
        })),
    ] {
        let out = h.send_bulk_blocking(part).unwrap().blocking_recv().unwrap();
        assert!(out.error.is_none(), "{out:?}");
    }
    h.flush_blocking().unwrap();
    drop(writer.shutdown());
    event
}

fn run(dir: &Path, now: f64, args: &[&str]) {
    let status = Command::new(BIN)
        .args(args)
        .env_remove("ROGUE_HUNTER_CONFIG")
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env("ROGUE_HUNTER_NOW", now.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{args:?}");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("run")).unwrap();
    let now = rogue_hunter::sys::now_epoch();
    let boot = rogue_hunter::sys::boot_time().unwrap_or(1);
    let event = build(dir.path(), now, boot).to_string();

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let mut g = c.benchmark_group("cli");
    g.sampling_mode(SamplingMode::Flat);
    let cases: [(&str, Vec<&str>); 5] = [
        ("events", vec!["events"]),
        ("history_summary_100k", vec!["history", "-H", "168"]),
        (
            "history_csv_100k",
            vec!["history", "-H", "168", "-f", "csv"],
        ),
        (
            "events_show_ftl_json",
            vec!["events", "show", &event, "-f", "-t", "-l", "--json"],
        ),
        ("status_no_daemon", vec!["status"]),
    ];
    for (name, args) in &cases {
        g.bench_function(*name, |b| b.iter(|| run(dir.path(), now, args)));
    }
    g.finish();
    c.final_summary();
}
