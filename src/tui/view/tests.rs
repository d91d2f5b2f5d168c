//! Snapshots of whole screens (text) and checks of the colours that carry meaning.

use super::*;
use crate::config::Config;
use crate::forensics::hot_paths::HotPath;
use crate::ipc::protocol::{CaptureNotice, CaptureState, ServerMessage};
use crate::store::queries::{CaptureRow, PartState};
use crate::store::records::PartStatus;
use crate::tui::app::{App, Conn, DbState};
use crate::tui::connection::ConnEvent;
use crate::tui::history::{EventRecord, HistoryReply, HotCapture};
use crate::tui::testing::{T0, events, live_app, process, rogues_in_every_band, sample};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::collections::BTreeMap;
use std::time::Duration;

fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    render_with(app, w, h, &Theme::new(&Config::default(), false))
}

fn render_with(app: &mut App, w: u16, h: u16, theme: &Theme) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let area = Rect::new(0, 0, w, h);
    app.set_page(table_rows(area, 3));
    app.set_history_shown(history_shown(area, 3));
    if let Some(max) = detail_scroll_max(area, app, theme) {
        app.clamp_detail_scroll(max);
    }
    t.draw(|f| draw(f, app, theme)).unwrap();
    t
}

fn text(t: &Terminal<TestBackend>) -> String {
    t.backend().to_string()
}

fn keys(app: &mut App, codes: &[KeyCode]) {
    for c in codes {
        app.on_key(KeyEvent::new(*c, KeyModifiers::NONE));
    }
}

/// The cell where `needle` starts on the first line containing it.
fn find(buf: &Buffer, needle: &str) -> (u16, u16) {
    let area = buf.area;
    for y in 0..area.height {
        let line: String = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("{needle:?} not on screen");
}

fn rgb(hex: &str) -> Color {
    let c = crate::config::colour::parse_hex(hex).unwrap();
    Color::Rgb(c.0, c.1, c.2)
}

#[test]
fn connected_with_rows_in_every_band() {
    let (mut app, _) = live_app();
    let t = render(&mut app, 120, 40);
    insta::assert_snapshot!("connected_120x40", text(&t));
    let buf = t.backend().buffer();
    // Score cells in each band's colour, bold from elevated up.
    for (name, score, band_hex, bold) in [
        ("1200 firefox", "85", "#ff5555", true),
        ("3401 cc1plus", "65", "#ffb86c", true),
        ("872 postgres", "55", "#f1fa8c", true),
        ("2213 Xorg", "45", "#8be9fd", false),
        ("7004 kswapd0", "20", "#50fa7b", false),
    ] {
        // The table row (the header's culprit line names firefox too), at the command.
        let (x, y) = find(buf, name);
        let x = x + name.find(' ').unwrap() as u16 + 1;
        let cell = &buf[(x, y)];
        assert_eq!(cell.fg, rgb(band_hex), "{name}");
        assert_eq!(cell.modifier.contains(Modifier::BOLD), bold, "{name}");
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        let sx = line.find(&format!(" {score} ")).unwrap() as u16 + 1;
        let sx = line[..sx as usize].chars().count() as u16;
        assert_eq!(buf[(sx, y)].fg, rgb(band_hex), "{name} score");
        assert!(
            buf[(sx, y)].modifier.contains(Modifier::BOLD),
            "{name} score is bold"
        );
    }
    // Trends: firefox went up, cc1plus down, the rest unchanged.
    let (_, y) = find(buf, "1200 firefox");
    let (tx, _) = find(buf, "▲");
    assert_eq!(buf[(tx, y)].symbol(), "▲");
    assert_eq!(buf[(tx, y)].fg, rgb("#ff5555"));
    let (_, y) = find(buf, "3401 cc1plus");
    assert_eq!(buf[(tx, y)].symbol(), "▽");
    assert_eq!(buf[(tx, y)].fg, rgb("#50fa7b"));
    // The metric columns keep the original's colours.
    let (x, y) = find(buf, "106.25%");
    assert_eq!(buf[(x, y)].fg, rgb("#8be9fd"));
    // The header border is critical (max score 85 ≥ 70), the gauge is coloured by the
    // gradient: green at the start.
    assert_eq!(buf[(0, 0)].fg, rgb("#ff5555"));
    let (gx, gy) = find(buf, "STRESS █");
    assert_eq!(buf[(gx + 7, gy)].fg, rgb("#50fa7b"));
    // The selected row stands out.
    let (_, y) = find(buf, "1200 firefox");
    assert_ne!(buf[(1, y)].bg, Color::Reset);
}

#[test]
fn layout_80x24() {
    let (mut app, _) = live_app();
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("layout_80x24", text(&t));
}

#[test]
fn layout_60x20() {
    let (mut app, _) = live_app();
    let t = render(&mut app, 60, 20);
    insta::assert_snapshot!("layout_60x20", text(&t));
}

#[test]
fn disconnected() {
    let (mut app, _) = live_app();
    app.on_conn(ConnEvent::Lost {
        reason: "daemon not running".into(),
        not_running: true,
    });
    app.message = None;
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("disconnected_80x24", text(&t));
    let buf = t.backend().buffer();
    assert_eq!(buf[(0, 0)].fg, rgb("#ff5555"), "disconnected border");
}

#[test]
fn reconnecting() {
    let (mut app, now) = live_app();
    app.on_conn(ConnEvent::Lost {
        reason: "lost connection to the daemon".into(),
        not_running: false,
    });
    app.on_conn(ConnEvent::Waiting {
        delay: Duration::from_secs(4),
    });
    app.tick(now + Duration::from_millis(200), T0 + 0.2);
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("reconnecting_80x24", text(&t));
    assert!(text(&t).contains("reconnecting in 4s"));
}

#[test]
fn stale() {
    let (mut app, now) = live_app();
    app.tick(now + Duration::from_millis(5400), T0 + 5.4);
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("stale_80x24", text(&t));
    assert!(text(&t).contains("STALE: no sample for 5s"));
    assert_eq!(
        t.backend().buffer()[(0, 0)].fg,
        rgb("#f1fa8c"),
        "stale border"
    );
}

fn capture(id: i64, done: bool) -> CaptureRow {
    let ok = PartState {
        status: Some(PartStatus::Success),
        error: None,
    };
    CaptureRow {
        id,
        event_id: 7,
        captured_at: T0 - 100.0,
        trigger: crate::model::Trigger::BandEntry(crate::model::Band::Critical).into(),
        triggers: vec!["band_entry_critical".into(), "manual".into()],
        stack_source: Some("proc".into()),
        completed_at: done.then_some(T0 - 98.0),
        buffer: ok.clone(),
        stacks: PartState {
            status: Some(PartStatus::Skipped),
            error: Some("no permission".into()),
        },
        decode: PartState {
            status: None,
            error: None,
        },
        logs: ok,
    }
}

#[test]
fn detail_view() {
    let (mut app, _) = live_app();
    keys(&mut app, &[KeyCode::Enter]);
    let key = process(1200, "firefox", 85).key();
    app.on_history(HistoryReply::Process {
        key,
        result: Ok(Some(EventRecord {
            event: events()[0].clone(),
            peak: None,
            captures: vec![capture(3, true), capture(4, false)],
            hot: Some(HotCapture {
                capture_id: 3,
                source: Some("perf".into()),
                paths: vec![
                    HotPath {
                        pid: 1200,
                        process: "firefox".into(),
                        thread_id: "1201".into(),
                        samples: 180,
                        off_cpu: Some(0),
                        percent: 61.2,
                        frames: ["gamma", "beta", "alpha", "main"]
                            .map(String::from)
                            .to_vec(),
                    },
                    HotPath {
                        pid: 1200,
                        process: "firefox".into(),
                        thread_id: "1203".into(),
                        samples: 90,
                        off_cpu: Some(90),
                        percent: 30.6,
                        frames: ["schedule", "do_nanosleep", "hrtimer_nanosleep"]
                            .map(String::from)
                            .to_vec(),
                    },
                ],
            }),
            snapshots: vec![],
            reason: None,
            logs: None,
        })),
    });
    let t = render(&mut app, 120, 40);
    insta::assert_snapshot!("detail_120x40", text(&t));
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("detail_80x24_top", text(&t));
    keys(&mut app, &[KeyCode::End]);
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("detail_80x24_end", text(&t));
    // Every field of the model is listed.
    let Mode::Detail(d) = &app.mode else { panic!() };
    let theme = Theme::new(&Config::default(), false);
    let all: String = detail::lines(&app, d, 200, &theme)
        .iter()
        .map(|l| l.to_string() + "\n")
        .collect();
    let json = serde_json::to_value(process(1, "x", 1)).unwrap();
    for field in json.as_object().unwrap().keys() {
        assert!(
            all.contains(&format!("{field} ")),
            "{field} missing from the detail view"
        );
    }
}

#[test]
fn event_detail_view() {
    let (mut app, _) = live_app();
    keys(
        &mut app,
        &[KeyCode::Tab, KeyCode::Down, KeyCode::Down, KeyCode::Enter],
    );
    let row = events()[2].clone();
    app.on_history(HistoryReply::Event {
        id: row.id,
        result: Ok(Some(EventRecord {
            event: row,
            peak: Some(process(4000, "tar", 52)),
            captures: vec![],
            hot: None,
            snapshots: vec![],
            reason: None,
            logs: None,
        })),
    });
    let t = render(&mut app, 100, 30);
    insta::assert_snapshot!("event_detail_100x30", text(&t));
}

#[test]
fn help() {
    let (mut app, _) = live_app();
    keys(&mut app, &[KeyCode::Char('?')]);
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("help_80x24", text(&t));
}

#[test]
fn filter_active() {
    let (mut app, _) = live_app();
    keys(
        &mut app,
        &[KeyCode::Char('/'), KeyCode::Char('s'), KeyCode::Char('s')],
    );
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("filter_typing_80x24", text(&t));
    keys(&mut app, &[KeyCode::Enter, KeyCode::Char('s')]);
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("filter_kept_sorted_by_cpu_80x24", text(&t));
}

#[test]
fn paused_and_capturing() {
    let (mut app, _) = live_app();
    keys(
        &mut app,
        &[KeyCode::Char('p'), KeyCode::Down, KeyCode::Char('c')],
    );
    app.take_commands();
    app.on_conn(ConnEvent::Message(ServerMessage::CaptureAccepted {
        capture_id: 9,
        pid: Some(3401),
    }));
    app.on_conn(ConnEvent::Message(ServerMessage::Capture(CaptureNotice {
        not_stored: None,
        capture_id: 9,
        event_id: Some(8),
        trigger: crate::model::Trigger::Manual,
        state: CaptureState::Started,
        statuses: BTreeMap::new(),
    })));
    let t = render(&mut app, 100, 30);
    insta::assert_snapshot!("paused_capturing_100x30", text(&t));
}

#[test]
fn waiting_for_the_database_and_the_first_sample() {
    let now = std::time::Instant::now();
    let mut app = App::new(Config::default(), now, T0);
    app.clock = crate::tui::app::Clock::FixedOffset(0);
    app.on_conn(ConnEvent::Connected(crate::tui::testing::hello()));
    app.on_history(HistoryReply::Events(Err(
        crate::tui::history::DbProblem::Missing,
    )));
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("first_start_80x24", text(&t));
}

#[test]
fn every_terminal_size_draws_without_panicking() {
    let (mut app, _) = live_app();
    let themes = [
        Theme::new(&Config::default(), false),
        Theme::new(&Config::default(), true),
    ];
    let modes: [&[KeyCode]; 4] = [
        &[],
        &[KeyCode::Char('?')],
        &[KeyCode::Esc, KeyCode::Enter],
        &[KeyCode::Esc, KeyCode::Esc, KeyCode::Char('/')],
    ];
    // Every size up to the layout thresholds, then a sampling of the bigger ones.
    let widths: Vec<u16> = (0..=32)
        .chain([45, 59, 60, 61, 69, 70, 71, 80, 100, 130])
        .collect();
    let heights: Vec<u16> = (0..=24).chain([30, 45]).collect();
    for m in modes {
        keys(&mut app, m);
        for &w in &widths {
            for &h in &heights {
                render_with(&mut app, w, h, &themes[(w as usize + h as usize) % 2]);
            }
        }
    }
}

#[test]
fn tiny_terminals_get_a_summary() {
    let (mut app, _) = live_app();
    let t = render(&mut app, 24, 5);
    insta::assert_snapshot!("tiny_24x5", text(&t));
}

#[test]
fn no_color_draws_no_colour_at_all() {
    let (mut app, _) = live_app();
    let mono = Theme::new(&Config::default(), true);
    let t = render_with(&mut app, 120, 40, &mono);
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
    // The selection still shows, by reversing.
    let (_, y) = find(buf, "1200 firefox");
    assert!(buf[(1, y)].modifier.contains(Modifier::REVERSED));
    // Same text as in colour.
    let colour = render(&mut app, 120, 40);
    assert_eq!(text(&t), text(&colour));
}

#[test]
fn layouts_shrink_in_order() {
    let a = areas(Rect::new(0, 0, 120, 40), 3).unwrap();
    assert_eq!((a.header.height, a.info_rows, a.spark_rows), (8, 2, 3));
    assert_eq!(a.history.unwrap().height, 12);
    assert!(a.recent.is_some());
    let a = areas(Rect::new(0, 0, 80, 24), 3).unwrap();
    assert_eq!((a.header.height, a.table.height), (8, 10));
    assert_eq!(a.history.unwrap().height, 5);
    let a = areas(Rect::new(0, 0, 60, 20), 3).unwrap();
    assert_eq!(
        (a.info_rows, a.spark_rows),
        (1, 0),
        "the culprit line before the sparkline"
    );
    assert!(a.recent.is_none(), "too narrow for both panels");
    assert_eq!(a.history.unwrap().width, 60);
    let a = areas(Rect::new(0, 0, 50, 12), 4).unwrap();
    assert_eq!(a.spark_rows, 0);
    assert!(a.history.is_none());
    assert!(areas(Rect::new(0, 0, 29, 30), 3).is_none());
    assert!(areas(Rect::new(0, 0, 100, 7), 3).is_none());
    assert_eq!(table_rows(Rect::new(0, 0, 80, 24), 3), 7);
}

#[test]
fn clip_marks_the_cut() {
    assert_eq!(clip("firefox", 10), "firefox");
    assert_eq!(clip("firefox", 5), "fire…");
    assert_eq!(clip("firefox", 0), "");
    assert_eq!(clip("📸📸📸", 4), "📸…");
}

#[test]
fn db_states_show_in_event_history() {
    let (mut app, _) = live_app();
    app.history.state = DbState::Problem(crate::tui::history::DbProblem::Error(
        "database is locked".into(),
    ));
    let t = render(&mut app, 120, 40);
    assert!(text(&t).contains("(cannot read: database is locked)"));
    app.history.state = DbState::Ready(vec![]);
    let t = render(&mut app, 120, 40);
    assert!(text(&t).contains("(no events recorded)"));
    assert!(matches!(app.conn, Conn::Live { .. }));
    let _ = (rogues_in_every_band(), sample(1, T0, vec![]));
}

/// Event 7 opened by id, with its snapshots, two captures (the second in progress), the peak
/// reading and log lines.
fn event_view_app() -> App {
    let (mut app, _) = live_app();
    app.open_event(7);
    app.on_history(HistoryReply::Event {
        id: 7,
        result: Ok(Some(EventRecord {
            event: events()[0].clone(),
            peak: Some(process(1200, "firefox", 88)),
            captures: vec![capture(3, true), capture(4, false)],
            hot: Some(HotCapture {
                capture_id: 3,
                source: Some("perf".into()),
                paths: vec![HotPath {
                    pid: 1200,
                    process: "firefox".into(),
                    thread_id: "1201".into(),
                    samples: 180,
                    off_cpu: Some(0),
                    percent: 61.2,
                    frames: ["gamma", "beta", "alpha", "main"]
                        .map(String::from)
                        .to_vec(),
                }],
            }),
            snapshots: crate::tui::testing::snapshots(),
            reason: Some("cpu: 1.1 of 2 cores for 12 s, cpu pressure 40 %".into()),
            logs: Some(crate::tui::history::CaptureLogs {
                capture_id: 3,
                entries: crate::tui::testing::log_entries(),
            }),
        })),
    });
    app
}

#[test]
fn event_view() {
    let mut app = event_view_app();
    let t = render(&mut app, 120, 60);
    insta::assert_snapshot!("event_view_120x60", text(&t));
    let screen = text(&t);
    for part in [
        "why: cpu: 1.1 of 2 cores for 12 s, cpu pressure 40 %",
        "Score over the event (16 snapshots)",
        "▃▄▄▅▅▆▆▆▇▇▆▆▅▆▆▆",
        "max 88",
        "▶ #4",
        "stacks skipped (no permission)",
        "WebGL context lost",
        "61.2%",
    ] {
        assert!(screen.contains(part), "{part:?} missing:\n{screen}");
    }
    // Tab moves the replay mark to the other capture.
    keys(&mut app, &[KeyCode::Tab]);
    let t = render(&mut app, 120, 60);
    assert!(text(&t).contains("▶ #3"));
}

#[test]
fn replay_at_several_positions() {
    let mut app = event_view_app();
    keys(&mut app, &[KeyCode::Char('r')]);
    app.on_history(HistoryReply::ReplayProgress {
        capture_id: 4,
        done: 27,
        total: 90,
    });
    let t = render(&mut app, 100, 30);
    insta::assert_snapshot!("replay_loading_100x30", text(&t));
    assert!(text(&t).contains("27 of 90 samples (30%)"));
    let mut data = crate::tui::testing::replay_data(90);
    data.capture_id = 4;
    app.on_history(HistoryReply::Replay {
        capture_id: 4,
        result: Ok(data),
    });
    let t = render(&mut app, 100, 30);
    insta::assert_snapshot!("replay_at_trigger_100x30", text(&t));
    assert!(text(&t).contains("sample 90/90 · 0.0 s from the trigger"));
    keys(
        &mut app,
        &[KeyCode::Char('['), KeyCode::Char('['), KeyCode::Left],
    );
    let t = render(&mut app, 100, 30);
    insta::assert_snapshot!("replay_minus_7s_100x30", text(&t));
    assert!(text(&t).contains("sample 69/90 · −7.0 s"), "{}", text(&t));
    // The machine's pressure at that sample: 60 % × (68/89)² of cpu.
    assert!(
        text(&t).contains("pressure cpu 45.8% · memory 1.5% · io 4.0%"),
        "{}",
        text(&t)
    );
    keys(&mut app, &[KeyCode::Home]);
    let t = render(&mut app, 100, 30);
    insta::assert_snapshot!("replay_first_sample_100x30", text(&t));
    assert!(text(&t).contains("sample 1/90 · −29.7 s"));
    assert!(text(&t).contains("TOP PROCESSES at −29.7 s"));
    assert_eq!(app.rows().len(), 4, "make appears halfway");
    // Every size draws.
    for (w, h) in [(30, 8), (60, 12), (80, 24), (200, 60)] {
        render(&mut app, w, h);
    }
}
