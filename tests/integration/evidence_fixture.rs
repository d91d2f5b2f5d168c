//! A database with the evidence of a few events, written through the store's writer (the same
//! path the daemon takes), for the `report` tests, the report benchmark and the sample report's
//! screenshots:
//!
//! - [`FULL`]: `stress-ng-cpu` climbing to critical, 90 snapshots, a capture whose ring buffer
//!   holds [`SAMPLES`] × [`PROCESSES`] = 45,000 process rows, a stack tree of 4 threads and
//!   40 log lines;
//! - [`NO_CAPTURE`]: an event without captures;
//! - [`FAILED_BUFFER`]: a capture whose buffer part failed (its stacks were skipped);
//! - [`IN_PROGRESS`]: a capture the daemon has only just started (every part pending).
//!
//! Values are deterministic (a fixed pseudo-random sequence), so the page is the same every run.

#![allow(dead_code)]

use crate::blocking_writer::BlockingWriter;
use rogue_hunter::model::{
    Band, ExitReason, ProcState, ProcessScore, Resource, Sample, Trigger, UnitKind,
};
use rogue_hunter::store::capture_data::{
    CaptureData, Frame, StackHeader, StackProcess, StackThread,
};
use rogue_hunter::store::{
    BufferCapture, BulkWrite, CapturePart, Culprit, EventUnit, LogCapture, LogEntry, NewCapture,
    NewEvent, NewSnapshot, Op, PartOutcome, PartStatus, SnapshotType, StackCapture, Writer,
    WriterConfig, open_writer,
};
use std::path::Path;
use std::sync::Arc;

/// Samples in the big capture's ring buffer, and processes in each.
pub const SAMPLES: usize = 90;
pub const PROCESSES: usize = 500;
/// When the big capture was triggered (2025-11-24 16:00:00 UTC).
pub const TRIGGER: f64 = 1_764_000_000.0;
/// The event ids.
pub const FULL: i64 = 1;
pub const NO_CAPTURE: i64 = 2;
pub const FAILED_BUFFER: i64 = 3;
pub const IN_PROGRESS: i64 = 4;
/// The culprit of [`FULL`].
pub const CULPRIT: &str = "stress-ng-cpu";
pub const CULPRIT_PID: u32 = 4242;

const NAMES: [&str; 16] = [
    "firefox",
    "Xorg",
    "postgres",
    "cc1plus",
    "kworker/1:2",
    "systemd-journal",
    "gnome-shell",
    "pipewire",
    "sshd",
    "bash",
    "dockerd",
    "containerd",
    "nginx",
    "python3",
    "node",
    "chrome",
];

/// A small deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 1_000_000) as f64 / 1_000_000.0
    }
}

fn band(score: u8) -> Band {
    match score {
        70.. => Band::Critical,
        60.. => Band::High,
        50.. => Band::Elevated,
        40.. => Band::Medium,
        _ => Band::Low,
    }
}

/// A process reading with the fields the report shows.
pub fn reading(pid: u32, command: &str, t: f64, cpu: f64, mem: u64, score: u8) -> ProcessScore {
    ProcessScore {
        pid,
        command: command.to_string(),
        captured_at: t,
        cpu,
        mem,
        mem_peak: mem,
        disk_io_rate: cpu * 1500.0,
        wakeups_rate: cpu * 2.0,
        threads: 4,
        state: if cpu > 50.0 {
            ProcState::Running
        } else {
            ProcState::Sleeping
        },
        score,
        band: band(score),
        cpu_share: cpu / 100.0,
        // A blame (0–1), as the impact model stores it.
        disproportionality: f64::from(score) / 100.0,
        dominant_resource: Resource::Cpu,
        ppid: 1,
        uid: 1000,
        start_time: TRIGGER - 3600.0 - f64::from(pid),
        ..Default::default()
    }
}

/// The culprit's reading `s` seconds after the event began (it climbs, then eases off).
fn culprit_at(s: f64) -> ProcessScore {
    let x = (s / 75.0).clamp(0.0, 1.0);
    let cpu = 40.0 + 355.0 * x * x;
    let score = (42.0 + 50.0 * x * x) as u8;
    let mem = 200_000_000 + (s.max(0.0) * 9_000_000.0) as u64;
    let mut p = reading(CULPRIT_PID, CULPRIT, TRIGGER - 60.0 + s, cpu, mem, score);
    p.start_time = TRIGGER - 120.0;
    p
}

/// The big capture's buffer: every process of every sample, oldest first.
fn ring() -> Vec<Arc<Sample>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..SAMPLES)
        .map(|i| {
            let t = TRIGGER - (SAMPLES - 1 - i) as f64 / 3.0;
            let mut processes = vec![culprit_at(t - (TRIGGER - 60.0))];
            for k in 1..PROCESSES {
                let pid = 1000 + k as u32;
                let name = NAMES[k % NAMES.len()];
                let (cpu, mem) = match k {
                    1 => (60.0 + 25.0 * rng.next(), 1_400_000_000),
                    3 => (
                        if (i / 15) % 2 == 0 { 95.0 } else { 10.0 } + 10.0 * rng.next(),
                        600_000_000,
                    ),
                    2 => (20.0 + 10.0 * rng.next(), 900_000_000),
                    _ => (
                        2.0 * rng.next() * rng.next(),
                        2_000_000 + (k as u64 % 37) * 400_000,
                    ),
                };
                let score = (cpu / 4.0) as u8;
                processes.push(reading(pid, name, t, cpu, mem, score));
            }
            processes.sort_by_key(|p| std::cmp::Reverse(p.score));
            Arc::new(Sample {
                seq: 1000 + i as u64,
                timestamp: t,
                elapsed_ms: 9.5,
                process_count: processes.len(),
                max_score: processes[0].score,
                rogue_count: 20,
                access_denied: 0,
                processes,
                machine: machine_at(i),
                units: Vec::new(),
            })
        })
        .collect()
}

fn frame(parent: Option<usize>, depth: u32, count: i64, sym: &str, kernel: bool) -> Frame {
    Frame {
        depth,
        parent,
        sample_count: count,
        is_kernel: kernel,
        symbol_name: Some(sym.to_string()),
        library_name: Some(if kernel { "kernel" } else { "stress-ng" }.to_string()),
        address: format!("0x{:x}", 0x40_0000 + u64::from(depth) * 0x40),
        ..Default::default()
    }
}

/// Stacks of the culprit: four threads, three spinning in the same loop, one waiting.
fn stacks() -> CaptureData {
    let worker = |tid: u32| StackThread {
        thread_id: tid.to_string(),
        thread_name: Some("stress-ng-cpu".into()),
        num_samples: Some(10),
        state: Some("running".into()),
        frames: vec![
            frame(None, 0, 10, "start_thread", false),
            frame(Some(0), 1, 10, "stress_cpu_worker", false),
            frame(Some(1), 2, 7, "stress_cpu_matrix_prod", false),
            frame(Some(2), 3, 7, "matrix_mul_inner", false),
            frame(Some(1), 2, 3, "stress_cpu_sqrt", false),
        ],
        ..Default::default()
    };
    let mut waiter = StackThread {
        thread_id: CULPRIT_PID.to_string(),
        thread_name: Some("stress-ng".into()),
        num_samples: Some(10),
        state: Some("sleeping".into()),
        wchan: Some("do_wait".into()),
        syscall: Some("wait4".into()),
        frames: vec![
            frame(None, 0, 10, "main", false),
            frame(Some(0), 1, 10, "stress_run_parallel", false),
            frame(Some(1), 2, 10, "waitpid", false),
            frame(Some(2), 3, 10, "do_wait", true),
        ],
        ..Default::default()
    };
    waiter.frames[3].state = Some("blocked".into());
    CaptureData {
        header: Some(StackHeader {
            steps: Some(10),
            sampling_interval_ms: Some(20),
            data_source: Some("procfs".into()),
            ..Default::default()
        }),
        processes: vec![StackProcess {
            pid: i64::from(CULPRIT_PID),
            name: CULPRIT.into(),
            num_threads: Some(4),
            threads: vec![waiter, worker(4243), worker(4244), worker(4245)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn logs() -> Vec<LogEntry> {
    let levels = ["info", "notice", "warning", "err", "debug"];
    (0..40)
        .map(|i| {
            let t = TRIGGER - 58.0 + f64::from(i) * 1.5;
            LogEntry {
                timestamp: rogue_hunter::store::time::rfc3339(t),
                mach_timestamp: Some(i64::from(i) * 1_500_000),
                process_name: Some(if i % 3 == 0 { "kernel" } else { "systemd" }.into()),
                message_type: Some(levels[i as usize % levels.len()].into()),
                event_message: match i % 5 {
                    3 => format!("CPU{}: Core temperature above threshold, cpu clock throttled", i % 2),
                    2 => "watchdog: BUG: soft lockup - CPU#1 stuck for 22s! <script>alert(1)</script>".into(),
                    _ => format!("session-{i}.scope: consumed {:.1}s CPU time", f64::from(i) * 0.7),
                },
                source: Some(if i % 3 == 0 { "kmsg" } else { "journald" }.into()),
                ..Default::default()
            }
        })
        .collect()
}

/// The machine in buffer sample `i`: 8 CPUs whose cpu pressure climbs to ~65 % at the
/// trigger, a little memory pressure, and io pressure that comes and goes.
fn machine_at(i: usize) -> rogue_hunter::machine::Machine {
    let f = i as f64 / (SAMPLES - 1) as f64;
    rogue_hunter::machine::Machine {
        cpus: 8,
        cpu_busy: 2.0 + 5.0 * f,
        mem_total: 16 << 30,
        mem_available: 6 << 30,
        pressure_cpu: 5.0 + 60.0 * f * f,
        pressure_memory: 1.0 + 2.0 * f,
        pressure_io: if (i / 20) % 2 == 1 { 12.0 } else { 2.0 },
        ..Default::default()
    }
}

/// The big event's culprit: a process group of four stress-ng workers.
pub const UNIT_LABEL: &str = "process group 4240";
pub const UNIT_MEMBERS: u32 = 4;
pub const REASON: &str = "cpu: 3.9 of 8 cores for 60 s, cpu pressure 64 %";

/// The unit's members at the peak.
fn members_at(t: f64) -> Vec<ProcessScore> {
    (0..UNIT_MEMBERS)
        .map(|k| {
            reading(
                CULPRIT_PID + 1 + k,
                CULPRIT,
                t,
                95.0 + f64::from(k),
                30_000_000,
                60,
            )
        })
        .collect()
}

fn event(id: i64, pid: u32, command: &str, entry: f64, peak: u8, snap: i64) -> Op {
    let unit = if id == FULL {
        EventUnit {
            key: format!("pgrp:4240:{command}"),
            kind: UnitKind::ProcessGroup,
            label: UNIT_LABEL.into(),
            members: UNIT_MEMBERS,
        }
    } else {
        EventUnit {
            key: format!("pid:{pid}:0"),
            kind: UnitKind::Process,
            label: String::new(),
            members: 1,
        }
    };
    Op::OpenEvent(NewEvent {
        unit,
        reason: if id == FULL {
            REASON.into()
        } else {
            String::new()
        },
        id,
        pid,
        start_time: if id == FULL {
            TRIGGER - 120.0
        } else {
            TRIGGER - 3600.0 - f64::from(pid)
        },
        command: command.to_string(),
        boot_time: (TRIGGER - 86_400.0) as i64,
        boot_id: None,
        entry_time: entry,
        entry_band: Band::Medium,
        peak_score: peak,
        peak_band: band(peak),
        peak_snapshot_id: Some(snap),
    })
}

fn capture(id: i64, event_id: i64, at: f64, trigger: Trigger) -> Op {
    Op::CreateCapture(NewCapture {
        id,
        event_id,
        captured_at: at,
        trigger,
        has_decode_step: false,
    })
}

fn part(capture_id: i64, part: CapturePart, status: PartStatus, error: &str, at: f64) -> Op {
    Op::SetCapturePart {
        capture_id,
        part,
        status,
        error: (!error.is_empty()).then(|| error.to_string()),
        at,
    }
}

/// Writes the four events into a new database at `path`.
pub fn build(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("a directory")).expect("create the directory");
    let (conn, _) = open_writer(path, TRIGGER).expect("open the database");
    let writer = Writer::spawn(conn, WriterConfig::default()).expect("start the writer");
    let h = writer.handle();
    let entry = TRIGGER - 60.0;

    // FULL: one snapshot a second, the peak at 75 s, a capture at the trigger.
    let mut ops = vec![event(FULL, CULPRIT_PID, CULPRIT, entry, 92, 1)];
    for s in 0..90 {
        let p = culprit_at(f64::from(s));
        ops.push(Op::InsertSnapshot(NewSnapshot {
            id: 1 + i64::from(s),
            event_id: FULL,
            snapshot_type: match s {
                0 => SnapshotType::Entry,
                75 => SnapshotType::Peak,
                89 => SnapshotType::Exit,
                _ => SnapshotType::Checkpoint,
            },
            members: if s == 75 {
                members_at(p.captured_at)
            } else {
                Vec::new()
            },
            process: p,
        }));
    }
    ops.push(Op::SetPeak {
        event_id: FULL,
        peak_score: 92,
        peak_band: Band::Critical,
        peak_snapshot_id: 76,
        reason: REASON.into(),
        members: UNIT_MEMBERS,
    });
    ops.push(Op::CloseEvent {
        event_id: FULL,
        exit_time: entry + 89.0,
        reason: ExitReason::ProcessGone,
    });
    ops.push(capture(
        1,
        FULL,
        TRIGGER,
        Trigger::BandEntry(Band::Critical),
    ));

    // NO_CAPTURE, FAILED_BUFFER, IN_PROGRESS: a few snapshots each.
    for (id, pid, cmd, peak) in [
        (NO_CAPTURE, 7001u32, "updatedb", 55u8),
        (FAILED_BUFFER, 7002, "rsync", 78),
        (IN_PROGRESS, 7003, "ffmpeg", 81),
    ] {
        let first = 100 * id;
        ops.push(event(id, pid, cmd, entry + 200.0 * id as f64, peak, first));
        for k in 0..3 {
            let t = entry + 200.0 * id as f64 + f64::from(k);
            ops.push(Op::InsertSnapshot(NewSnapshot {
                id: first + i64::from(k),
                event_id: id,
                snapshot_type: if k == 0 {
                    SnapshotType::Entry
                } else {
                    SnapshotType::Checkpoint
                },
                process: reading(pid, cmd, t, 90.0, 50_000_000, peak),
                members: Vec::new(),
            }));
        }
    }
    let failed_at = entry + 600.0 + 1.0;
    ops.push(capture(2, FAILED_BUFFER, failed_at, Trigger::Manual));
    ops.push(part(
        2,
        CapturePart::Buffer,
        PartStatus::Failed,
        "database or disk is full",
        failed_at + 1.0,
    ));
    ops.push(part(
        2,
        CapturePart::Stacks,
        PartStatus::Skipped,
        "no permission to read the stacks of uid 0's processes",
        failed_at + 1.0,
    ));
    ops.push(part(
        2,
        CapturePart::Logs,
        PartStatus::Success,
        "",
        failed_at + 1.5,
    ));
    ops.push(capture(
        3,
        IN_PROGRESS,
        entry + 800.0 + 1.0,
        Trigger::Manual,
    ));
    h.submit(ops).expect("submit the events");

    let samples: Arc<[Arc<Sample>]> = ring().into();
    let culprits = vec![Culprit {
        pid: CULPRIT_PID,
        command: CULPRIT.into(),
        score: 92,
        dominant_resource: Resource::Cpu,
        disproportionality: 0.92,
    }];
    for bulk in [
        BulkWrite::Buffer(BufferCapture {
            capture_id: 1,
            culprits,
            samples,
        }),
        BulkWrite::Stacks(Box::new(StackCapture {
            capture_id: 1,
            source: "procfs".into(),
            data: stacks(),
            outcome: PartOutcome::success(),
        })),
        BulkWrite::Logs(LogCapture {
            capture_id: 1,
            entries: logs(),
            outcome: PartOutcome::success(),
        }),
    ] {
        let outcome = h
            .send_bulk_blocking(bulk)
            .expect("queue a capture part")
            .blocking_recv()
            .expect("the part's outcome");
        assert_eq!(outcome.status, PartStatus::Success, "{outcome:?}");
    }
    h.flush_blocking().expect("flush");
    drop(writer.shutdown());
}
