//! Fixtures for the dashboard's tests: processes in every band, samples, a connected app.

use super::app::{App, Clock};
use super::connection::ConnEvent;
use super::history::HistoryReply;
use crate::config::Config;
use crate::ipc::protocol::{Hello, InitialState, PROTOCOL_VERSION, SampleMessage, ServerMessage};
use crate::model::{Band, ProcState, ProcessScore, Resource};
use crate::store::queries::EventRow;
use std::time::{Duration, Instant};

/// 2023-11-14 22:13:20 UTC: sample times of the fixtures.
pub const T0: f64 = 1_700_000_000.0;

/// A process with values derived from its score, so every column has something to show.
pub fn process(pid: u32, command: &str, score: u8) -> ProcessScore {
    let s = f64::from(score);
    let (state, dominant) = match pid % 5 {
        0 => (ProcState::Running, Resource::Cpu),
        1 => (ProcState::Sleeping, Resource::Memory),
        2 => (ProcState::Stuck, Resource::Disk),
        3 => (ProcState::Idle, Resource::Wakeups),
        _ => (ProcState::Zombie, Resource::Gpu),
    };
    ProcessScore {
        pid,
        command: command.to_string(),
        captured_at: T0,
        cpu: s * 1.25,
        mem: u64::from(score) * 13_421_773,
        mem_peak: u64::from(score) * 20_000_000,
        disk_io_rate: s * 52_000.0,
        wakeups_rate: s * 3.5,
        gpu_time_rate: s / 10.0,
        threads: 4,
        state,
        score,
        band: Config::default().bands.band_for(score),
        dominant_resource: dominant,
        disproportionality: s / 7.0,
        ppid: 1,
        uid: 1000,
        start_time: T0 - 3600.0 + f64::from(pid),
        reason: format!(
            "{dominant}: {:.1} of 2 cores for 12 s, cpu pressure 40 %",
            s / 80.0
        ),
        members: if pid == 3401 { 8 } else { 1 },
        ..Default::default()
    }
}

/// A busy 2-CPU machine with PSI.
pub fn machine() -> crate::machine::Machine {
    crate::machine::Machine {
        cpus: 2,
        cpu_busy: 1.9,
        forks_rate: 35.0,
        ctxt_rate: 3_100.0,
        mem_total: 24 << 30,
        mem_available: 21 << 30,
        pressure_cpu: 40.0,
        pressure_memory: 0.5,
        pressure_io: 2.0,
        ..Default::default()
    }
}

/// The hello of a daemon sampling at 3 Hz.
pub fn hello() -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        version: "0.1.0".into(),
        pid: 4242,
        sample_interval_ms: 333,
        ring_buffer_size: 90,
    }
}

pub fn sample(seq: u64, timestamp: f64, rogues: Vec<ProcessScore>) -> SampleMessage {
    SampleMessage {
        storage: Default::default(),
        seq,
        timestamp,
        elapsed_ms: 4.0,
        process_count: 312,
        max_score: rogues.iter().map(|p| p.score).max().unwrap_or(0),
        rogues,
        machine: Some(Box::new(machine())),
        units: Vec::new(),
    }
}

/// Rogues in every band: critical, high, elevated, medium, low.
pub fn rogues_in_every_band() -> Vec<ProcessScore> {
    vec![
        process(1200, "firefox", 85),
        process(3401, "cc1plus", 65),
        process(872, "postgres", 55),
        process(2213, "Xorg", 45),
        process(7004, "kswapd0", 20),
        process(9010, "systemd-journal", 12),
        process(512, "sshd", 4),
    ]
}

/// A daemon connection on an app: hello, history, then the samples.
pub fn feed(app: &mut App, samples: Vec<SampleMessage>) {
    app.on_conn(ConnEvent::Connected(hello()));
    app.on_conn(ConnEvent::Message(ServerMessage::InitialState(
        InitialState {
            storage: Default::default(),
            history: (0..60u32).map(|i| ((i * 7) % 90) as u8).collect(),
            last_seq: 100,
        },
    )));
    for s in samples {
        app.on_conn(ConnEvent::Message(ServerMessage::Sample(s)));
    }
}

/// Events for EVENT HISTORY: open with a capture, open, ended.
pub fn events() -> Vec<EventRow> {
    let ev =
        |id: i64, pid: u32, cmd: &str, peak: i64, band: Band, entry: f64, exit: Option<f64>| {
            EventRow {
                id,
                pid,
                command: cmd.into(),
                boot_time: 0,
                entry_time: entry,
                exit_time: exit,
                entry_band: Band::Medium,
                peak_band: band,
                peak_score: peak,
                peak_snapshot_id: None,
                start_time: Some(T0 - 3600.0 + f64::from(pid)),
                exit_reason: exit.map(|_| crate::model::ExitReason::ScoreDropped),
                capture_count: i64::from(id == 7),
                ..Default::default()
            }
        };
    vec![
        ev(7, 1200, "firefox", 88, Band::Critical, T0 - 125.0, None),
        ev(8, 3401, "cc1plus", 66, Band::High, T0 - 42.0, None),
        ev(
            5,
            4000,
            "tar",
            52,
            Band::Elevated,
            T0 - 4000.0,
            Some(T0 - 3990.5),
        ),
        ev(
            4,
            4001,
            "updatedb.mlocate",
            47,
            Band::Medium,
            T0 - 5000.0,
            Some(T0 - 4700.0),
        ),
    ]
}

/// A connected app after two samples (so trends and RECENTLY ROGUE have content), with
/// EVENT HISTORY loaded, 192 s after it started, clocks in UTC.
pub fn live_app() -> (App, Instant) {
    let start = Instant::now();
    let mut app = App::new(Config::default(), start, T0);
    app.clock = Clock::FixedOffset(0);
    let mut first = rogues_in_every_band();
    first.push(process(6600, "make", 30));
    // Scores that move between the samples: firefox up, cc1plus down.
    first[0].score = 80;
    first[1].score = 70;
    let now = start + Duration::from_secs(192);
    app.tick(now - Duration::from_millis(400), T0 - 0.4);
    feed(&mut app, vec![sample(101, T0 - 0.333, first)]);
    app.tick(now, T0);
    app.on_conn(ConnEvent::Message(ServerMessage::Sample(sample(
        102,
        T0,
        rogues_in_every_band(),
    ))));
    app.on_history(HistoryReply::Events(Ok(events())));
    app.take_commands();
    app.take_redraw();
    (app, now)
}

/// Snapshots of event 7 (firefox): entry, a climb to a peak of 88, checkpoints and its current
/// reading, one every 5 s from 125 s before [`T0`].
pub fn snapshots() -> Vec<crate::store::queries::SnapshotRow> {
    use crate::model::SnapshotType;
    let scores: [u8; 16] = [
        42, 48, 55, 61, 67, 72, 78, 83, 88, 86, 80, 74, 70, 76, 81, 85,
    ];
    scores
        .iter()
        .enumerate()
        .map(|(i, &score)| {
            let at = T0 - 125.0 + 5.0 * i as f64;
            let mut p = process(1200, "firefox", score);
            p.captured_at = at;
            crate::store::queries::SnapshotRow {
                id: 100 + i as i64,
                event_id: 7,
                snapshot_type: match i {
                    0 => SnapshotType::Entry,
                    8 => SnapshotType::Peak,
                    _ => SnapshotType::Checkpoint,
                }
                .into(),
                captured_at: at,
                process: p,
            }
        })
        .collect()
}

/// Log lines of capture 3, one of them an error.
pub fn log_entries() -> Vec<crate::store::LogEntry> {
    let line = |sec: u32, level: &str, who: &str, msg: &str| crate::store::LogEntry {
        timestamp: format!("2023-11-14T22:11:{sec:02}+00:00"),
        mach_timestamp: None,
        subsystem: None,
        category: None,
        process_name: Some(who.into()),
        process_id: Some(1200),
        message_type: Some(level.into()),
        event_message: msg.into(),
        source: Some("journald".into()),
    };
    vec![
        line(38, "info", "firefox", "Content process 1207 started"),
        line(
            39,
            "warning",
            "kernel",
            "firefox[1200]: page allocation stalls for 1200ms",
        ),
        line(40, "err", "firefox", "WebGL context lost: GPU reset"),
    ]
}

/// A capture's ring buffer of `n` samples, 1/3 s apart, the last at the trigger (`T0 − 100`):
/// firefox climbs from 40 to 88, cc1plus falls, and one process appears halfway.
pub fn replay_data(n: usize) -> super::history::ReplayData {
    use super::history::{ReplayData, ReplaySample};
    use crate::store::queries::BufferSampleRow;
    let trigger = T0 - 100.0;
    let samples = (0..n)
        .map(|i| {
            let at = trigger - (n - 1 - i) as f64 / 3.0;
            let f = i as f64 / (n.max(2) - 1) as f64;
            let mut procs = vec![
                process(1200, "firefox", (40.0 + 48.0 * f) as u8),
                process(3401, "cc1plus", (70.0 - 30.0 * f) as u8),
                process(872, "postgres", 30),
                process(2213, "Xorg", 22),
            ];
            if i >= n / 2 {
                procs.push(process(6600, "make", 35));
            }
            for p in &mut procs {
                p.captured_at = at;
            }
            procs.sort_by_key(|p| std::cmp::Reverse(p.score));
            ReplaySample {
                sample: BufferSampleRow {
                    id: 1000 + i as i64,
                    sample_index: i as i64,
                    seq: Some(500 + i as i64),
                    timestamp: String::new(),
                    captured_at: at,
                    elapsed_ms: 4.0,
                    process_count: 300,
                    max_score: i64::from(procs[0].score),
                    machine: crate::machine::Machine {
                        cpus: 4,
                        pressure_cpu: 60.0 * f,
                        pressure_memory: 1.5,
                        pressure_io: 4.0,
                        ..Default::default()
                    },
                },
                processes: procs,
                pressure: None,
            }
        })
        .collect();
    let samples: Vec<ReplaySample> = samples;
    let samples = samples
        .into_iter()
        .map(|mut s| {
            s.pressure = crate::report::slots::pressure(&s.sample);
            s
        })
        .collect();
    ReplayData {
        capture_id: 3,
        event_id: 7,
        trigger_at: trigger,
        samples,
    }
}
