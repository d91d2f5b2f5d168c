//! What one sample costs the dashboard: decoding the `sample` line, folding it into the state,
//! and rendering a full frame of 20 rows (header, sparkline, TOP PROCESSES, RECENTLY ROGUE,
//! EVENT HISTORY, footer) into a ratatui `TestBackend`.
//!
//! Run: `cargo bench --bench tui`. The CPU of the real process at 3 Hz is measured by
//! `benches/tui_cpu.sh`. Results: BENCHMARKS.md.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rogue_hunter::config::Config;
use rogue_hunter::ipc::protocol::{
    Hello, InitialState, PROTOCOL_VERSION, SampleMessage, ServerMessage, decode_server, encode,
};
use rogue_hunter::model::{Band, ProcState, ProcessScore, Resource};
use rogue_hunter::store::queries::EventRow;
use rogue_hunter::tui::app::App;
use rogue_hunter::tui::connection::ConnEvent;
use rogue_hunter::tui::history::HistoryReply;
use rogue_hunter::tui::view::{self, Theme};
use std::hint::black_box;
use std::time::Instant;

const T0: f64 = 1_700_000_000.0;

/// 20 rogues spread over every band, with values in every column.
fn rogues(seq: u64) -> Vec<ProcessScore> {
    (0..20u32)
        .map(|i| {
            let score = (95u32.saturating_sub(i * 5) + (seq as u32 % 3)) as u8;
            ProcessScore {
                pid: 1000 + i * 37,
                command: format!("process-{i}"),
                captured_at: T0,
                cpu: 250.0 / f64::from(i + 1),
                mem: 1_234_567_890 / u64::from(i + 1),
                disk_io_rate: 1_048_576.0 * f64::from(i),
                wakeups_rate: 100.0 + f64::from(i),
                gpu_time_rate: f64::from(i) / 3.0,
                state: if i % 2 == 0 {
                    ProcState::Running
                } else {
                    ProcState::Sleeping
                },
                score,
                band: Config::default().bands.band_for(score),
                dominant_resource: Resource::ALL[i as usize % 5],
                disproportionality: 20.0 / f64::from(i + 1),
                start_time: T0 - 100.0 - f64::from(i),
                ..Default::default()
            }
        })
        .collect()
}

fn sample(seq: u64) -> SampleMessage {
    let rogues = rogues(seq);
    SampleMessage {
        seq,
        timestamp: T0 + seq as f64 / 3.0,
        elapsed_ms: 4.0,
        process_count: 400,
        max_score: rogues.iter().map(|p| p.score).max().unwrap_or(0),
        rogues,
        machine: Some(Box::default()),
        units: Vec::new(),
    }
}

fn events() -> Vec<EventRow> {
    (0..15i64)
        .map(|i| EventRow {
            id: i,
            pid: 1000 + i as u32,
            command: format!("process-{i}"),
            boot_time: 0,
            entry_time: T0 - 60.0 * i as f64,
            exit_time: (i % 3 != 0).then_some(T0 - 60.0 * i as f64 + 30.0),
            entry_band: Band::Medium,
            peak_band: Band::High,
            peak_score: 60 + i,
            peak_snapshot_id: None,
            start_time: Some(T0 - 1000.0),
            exit_reason: None,
            capture_count: i % 2,
            ..Default::default()
        })
        .collect()
}

/// A connected app with a full sparkline, 20 rows and 15 events.
fn app() -> App {
    let mut app = App::new(Config::default(), Instant::now(), T0);
    app.on_conn(ConnEvent::Connected(Hello {
        protocol: PROTOCOL_VERSION,
        version: "0.1.0".into(),
        pid: 1,
        sample_interval_ms: 333,
        ring_buffer_size: 90,
    }));
    app.on_conn(ConnEvent::Message(ServerMessage::InitialState(
        InitialState {
            history: (0..90u32).map(|i| (i * 7 % 100) as u8).collect(),
            last_seq: 90,
        },
    )));
    for seq in 91..100 {
        app.on_conn(ConnEvent::Message(ServerMessage::Sample(sample(seq))));
    }
    app.on_history(HistoryReply::Events(Ok(events())));
    app
}

fn frame(c: &mut Criterion) {
    let theme = Theme::new(&Config::default(), false);
    let mut g = c.benchmark_group("tui");
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let size = format!("{w}x{h}");
        // Every widget of the frame rendered into the buffer, then diffed against the previous
        // frame (unchanged here, so nothing reaches the backend): the frame render time.
        g.bench_function(BenchmarkId::new("render_frame", &size), |b| {
            let app = app();
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            b.iter(|| {
                term.draw(|f| view::draw(f, black_box(&app), &theme))
                    .unwrap();
            });
        });
        // What happens per sample: fold the next sample, then draw (ratatui sends only the
        // cells that changed).
        // Scores move between samples, so trends, the sparkline and rows change. The message
        // is cloned from a prepared set (about what decoding it would allocate).
        let prepared: Vec<SampleMessage> = (100..164).map(sample).collect();
        g.bench_function(BenchmarkId::new("sample_and_draw", &size), |b| {
            let mut app = app();
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            let mut i = 0usize;
            b.iter(|| {
                i += 1;
                let mut msg = prepared[i % prepared.len()].clone();
                msg.seq = 100 + i as u64;
                app.on_conn(ConnEvent::Message(ServerMessage::Sample(msg)));
                term.draw(|f| view::draw(f, &app, &theme)).unwrap();
            });
        });
    }
    let line = encode(&ServerMessage::Sample(sample(1))).unwrap();
    g.bench_function("decode_sample_line_20_rogues", |b| {
        b.iter(|| decode_server(black_box(&line[..line.len() - 1])).unwrap());
    });
    g.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
