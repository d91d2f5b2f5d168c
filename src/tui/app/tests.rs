use super::*;
use crate::ipc::protocol::{CaptureNotice, InitialState, SampleMessage};
use crate::model::{CapturePart, PartStatus};
use crate::tui::testing::{
    T0, events, feed, hello, live_app, process, rogues_in_every_band, sample,
};
use crossterm::event::{KeyEventState, KeyModifiers};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(app: &mut App, codes: &[KeyCode]) {
    for c in codes {
        app.on_key(key(*c));
    }
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
}

fn pids(app: &App) -> Vec<u32> {
    app.rows().iter().map(|r| r.process.pid).collect()
}

fn selected_pid(app: &App) -> Option<u32> {
    app.selected().map(|i| app.rows()[i].process.pid)
}

fn msg(m: ServerMessage) -> ConnEvent {
    ConnEvent::Message(m)
}

fn fresh() -> (App, Instant) {
    let now = Instant::now();
    let mut app = App::new(Config::default(), now, T0);
    app.clock = Clock::FixedOffset(0);
    (app, now)
}

#[test]
fn trends_compare_with_the_same_process_and_a_reused_pid_is_a_new_one() {
    let (mut app, _) = fresh();
    let a = process(10, "a", 50);
    let b = process(11, "b", 50);
    let c = process(12, "c", 50);
    feed(
        &mut app,
        vec![sample(1, T0, vec![a.clone(), b.clone(), c.clone()])],
    );
    assert!(
        app.board().rows.iter().all(|r| r.trend == Trend::Stable),
        "first sighting"
    );
    let mut a2 = a.clone();
    a2.score = 60;
    let mut b2 = b.clone();
    b2.score = 40;
    let mut reused = c.clone();
    reused.start_time += 50.0;
    reused.score = 90;
    app.on_conn(msg(ServerMessage::Sample(sample(
        2,
        T0 + 1.0,
        vec![a2, b2, reused],
    ))));
    let trend = |pid| {
        app.board()
            .rows
            .iter()
            .find(|r| r.process.pid == pid)
            .map(|r| r.trend)
    };
    assert_eq!(trend(10), Some(Trend::Worsening));
    assert_eq!(trend(11), Some(Trend::Improving));
    assert_eq!(
        trend(12),
        Some(Trend::Stable),
        "pid 12 is another process now"
    );
    assert_eq!(Trend::Worsening.glyph(), "▲");
    assert_eq!(Trend::Improving.glyph(), "▽");
    assert_eq!(Trend::Stable.glyph(), "●");
}

#[test]
fn recently_rogue_keeps_processes_that_left_for_decay_seconds() {
    let (mut app, _) = fresh();
    assert_eq!(app.config.tui.decay_seconds, 10.0);
    feed(
        &mut app,
        vec![sample(
            1,
            T0,
            vec![
                process(1, "one", 70),
                process(2, "two", 40),
                process(3, "three", 55),
            ],
        )],
    );
    assert!(app.board().recent.is_empty(), "all are in the list");
    let only_one = |seq, t| sample(seq, t, vec![process(1, "one", 70)]);
    app.on_conn(msg(ServerMessage::Sample(only_one(2, T0 + 1.0))));
    let recent: Vec<u32> = app.board().recent.iter().map(|p| p.pid).collect();
    assert_eq!(recent, [3, 2], "highest frozen score first");
    app.on_conn(msg(ServerMessage::Sample(only_one(3, T0 + 9.9))));
    assert_eq!(app.board().recent.len(), 2, "still within 10 s");
    app.on_conn(msg(ServerMessage::Sample(only_one(4, T0 + 10.0))));
    assert!(app.board().recent.is_empty(), "expired at 10 s");
    // Trend memory is pruned with them: only the process still listed is remembered.
    assert_eq!(app.stream.remembered(), 1);
    // Coming back after the decay counts as a first sighting.
    let mut back = process(2, "two", 90);
    back.score = 90;
    app.on_conn(msg(ServerMessage::Sample(sample(5, T0 + 11.0, vec![back]))));
    assert_eq!(app.board().rows[0].trend, Trend::Stable);
}

#[test]
fn the_sparkline_starts_from_the_daemons_history_and_grows_per_sample() {
    let (mut app, _) = fresh();
    app.on_conn(ConnEvent::Connected(hello()));
    app.on_conn(msg(ServerMessage::InitialState(InitialState {
        storage: Default::default(),
        history: vec![5, 10, 15],
        last_seq: 3,
    })));
    assert_eq!(app.board().spark, [5, 10, 15]);
    assert_eq!(app.board().seq, 3, "the counter is the daemon's seq");
    app.on_conn(msg(ServerMessage::Sample(sample(
        4,
        T0,
        vec![process(1, "x", 42)],
    ))));
    assert_eq!(app.board().spark, [5, 10, 15, 42]);
    assert_eq!(app.board().seq, 4);
    for i in 0..(SPARK_KEEP as u64 + 10) {
        app.on_conn(msg(ServerMessage::Sample(sample(5 + i, T0, vec![]))));
    }
    assert_eq!(app.board().spark.len(), SPARK_KEEP, "bounded");
}

#[test]
fn s_cycles_the_sort_column_and_capital_s_reverses_it() {
    let (mut app, _) = live_app();
    assert_eq!(app.sort, Sort::default());
    assert_eq!(
        pids(&app),
        [1200, 3401, 872, 2213, 7004, 9010, 512],
        "score, highest first"
    );
    let mut seen = vec![app.sort.key];
    for _ in 0..SortKey::ALL.len() {
        press(&mut app, &[KeyCode::Char('s')]);
        seen.push(app.sort.key);
    }
    assert_eq!(&seen[..SortKey::ALL.len()], SortKey::ALL);
    assert_eq!(seen.last(), Some(&SortKey::Score), "the cycle wraps");
    // Process names: alphabetical, case-insensitive.
    while app.sort.key != SortKey::Process {
        press(&mut app, &[KeyCode::Char('s')]);
    }
    assert!(!app.sort.descending);
    let names: Vec<String> = app
        .rows()
        .iter()
        .map(|r| r.process.command.clone())
        .collect();
    assert_eq!(
        names,
        [
            "cc1plus",
            "firefox",
            "kswapd0",
            "postgres",
            "sshd",
            "systemd-journal",
            "Xorg"
        ]
    );
    press(&mut app, &[KeyCode::Char('S')]);
    assert!(app.sort.descending);
    assert_eq!(app.rows()[0].process.command, "Xorg");
    while app.sort.key != SortKey::Pid {
        press(&mut app, &[KeyCode::Char('s')]);
    }
    assert_eq!(pids(&app), [512, 872, 1200, 2213, 3401, 7004, 9010]);
}

#[test]
fn ties_fall_back_to_the_score_then_the_pid() {
    let mut a = process(30, "a", 10);
    let mut b = process(20, "b", 50);
    let mut c = process(10, "c", 50);
    for p in [&mut a, &mut b, &mut c] {
        p.cpu = 5.0;
    }
    let sort = Sort {
        key: SortKey::Cpu,
        descending: true,
    };
    let rows: Vec<Row> = [a, b, c]
        .into_iter()
        .map(|process| Row {
            process,
            trend: Trend::Stable,
        })
        .collect();
    let got: Vec<u32> = arrange(&rows, sort, "")
        .iter()
        .map(|r| r.process.pid)
        .collect();
    assert_eq!(got, [10, 20, 30]);
}

#[test]
fn slash_filters_by_name_enter_keeps_it_and_esc_clears_it() {
    let (mut app, _) = live_app();
    press(&mut app, &[KeyCode::Char('/')]);
    assert!(app.filter_editing);
    typed(&mut app, "S");
    // Case-insensitive substring: cc1plus, postgres, kswapd0, systemd-journal, sshd.
    assert_eq!(pids(&app), [3401, 872, 7004, 9010, 512]);
    typed(&mut app, "sh");
    assert_eq!(pids(&app), [512]);
    press(&mut app, &[KeyCode::Backspace, KeyCode::Backspace]);
    assert_eq!(app.filter, "S");
    typed(&mut app, "qd"); // 'q' is text while typing, not quit
    assert!(app.take_commands().is_empty());
    assert!(pids(&app).is_empty());
    press(&mut app, &[KeyCode::Backspace, KeyCode::Backspace]);
    typed(&mut app, "y");
    press(&mut app, &[KeyCode::Enter]);
    assert!(!app.filter_editing);
    assert_eq!(app.filter, "Sy");
    assert_eq!(pids(&app), [9010]);
    // Keys act again once the filter is kept; Esc then clears it.
    press(&mut app, &[KeyCode::Esc]);
    assert!(app.filter.is_empty());
    assert_eq!(pids(&app).len(), 7);
    // Esc while typing clears too.
    press(&mut app, &[KeyCode::Char('/')]);
    typed(&mut app, "fire");
    press(&mut app, &[KeyCode::Esc]);
    assert!(!app.filter_editing && app.filter.is_empty());
    assert!(matches(&process(1, "FireFox", 1), "fox"));
    assert!(matches(&process(1, "anything", 1), ""));
}

#[test]
fn arrows_pages_and_ends_move_the_selection_within_bounds() {
    let (mut app, _) = live_app();
    app.set_page(3);
    assert_eq!(
        selected_pid(&app),
        Some(1200),
        "the first row to start with"
    );
    press(&mut app, &[KeyCode::Up]);
    assert_eq!(app.selected(), Some(0), "clamped at the top");
    press(&mut app, &[KeyCode::Down, KeyCode::Char('j')]);
    assert_eq!(app.selected(), Some(2));
    assert_eq!(app.table_offset, 0);
    press(&mut app, &[KeyCode::Down]);
    assert_eq!(app.selected(), Some(3));
    assert_eq!(
        app.table_offset, 1,
        "scrolled to keep the selection visible"
    );
    press(&mut app, &[KeyCode::PageDown]);
    assert_eq!(app.selected(), Some(6));
    press(&mut app, &[KeyCode::PageDown]);
    assert_eq!(app.selected(), Some(6), "clamped at the bottom");
    assert_eq!(app.table_offset, 4);
    press(&mut app, &[KeyCode::PageUp]);
    assert_eq!(app.selected(), Some(3));
    press(&mut app, &[KeyCode::Home]);
    assert_eq!((app.selected(), app.table_offset), (Some(0), 0));
    press(&mut app, &[KeyCode::End]);
    assert_eq!(app.selected(), Some(6));
    press(&mut app, &[KeyCode::Char('k')]);
    assert_eq!(app.selected(), Some(5));
}

#[test]
fn the_selection_follows_its_process_and_stays_put_when_it_leaves() {
    let (mut app, now) = live_app();
    press(&mut app, &[KeyCode::Down, KeyCode::Down]);
    assert_eq!(selected_pid(&app), Some(872));
    // postgres climbs to the top.
    let mut rogues = rogues_in_every_band();
    rogues[2].score = 99;
    app.tick(now + Duration::from_millis(333), T0 + 0.333);
    app.on_conn(msg(ServerMessage::Sample(sample(
        103,
        T0 + 0.333,
        rogues.clone(),
    ))));
    assert_eq!(app.selected(), Some(0));
    assert_eq!(selected_pid(&app), Some(872));
    // It leaves: the selection stays on that row, now another process.
    rogues.remove(2);
    app.on_conn(msg(ServerMessage::Sample(sample(
        104,
        T0 + 0.666,
        rogues.clone(),
    ))));
    assert_eq!(app.selected(), Some(0));
    assert_eq!(selected_pid(&app), Some(1200));
    // Sorting keeps the selected process selected.
    press(&mut app, &[KeyCode::Char('s'), KeyCode::Char('s')]);
    assert_eq!(selected_pid(&app), Some(1200));
}

#[test]
fn pause_freezes_the_display_while_samples_keep_arriving() {
    let (mut app, now) = live_app();
    let before = app.board().clone();
    press(&mut app, &[KeyCode::Char('p')]);
    assert!(app.paused());
    app.take_redraw();
    app.tick(now + Duration::from_millis(333), T0 + 0.333);
    app.on_conn(msg(ServerMessage::Sample(sample(
        103,
        T0 + 0.333,
        vec![process(1, "new", 99)],
    ))));
    assert!(!app.take_redraw(), "nothing on screen changes");
    assert_eq!(app.board(), &before);
    assert_eq!(app.stream.board().seq, 103, "still receiving");
    // EVENT HISTORY holds still too, and catches up on resume.
    app.on_history(HistoryReply::Events(Ok(vec![])));
    assert!(!app.take_redraw());
    assert_eq!(app.history.state, DbState::Ready(events()));
    press(&mut app, &[KeyCode::Char('p')]);
    assert!(!app.paused());
    assert_eq!(app.board().seq, 103);
    assert_eq!(pids(&app), [1]);
    assert_eq!(app.history.state, DbState::Ready(vec![]));
}

#[test]
fn data_goes_stale_after_three_missed_samples_and_recovers() {
    let (mut app, now) = live_app();
    assert_eq!(app.sample_interval(), Duration::from_millis(333));
    assert_eq!(app.stale_for(), None);
    // 3 × 333 ms = 999 ms, raised to the 1 s minimum.
    assert_eq!(app.next_wakeup(), Some(now + Duration::from_secs(1)));
    app.tick(now + Duration::from_millis(900), T0 + 0.9);
    assert!(!app.take_redraw(), "nothing visible changed yet");
    app.tick(now + Duration::from_secs(1), T0 + 1.0);
    assert_eq!(app.stale_for(), Some(Duration::from_secs(1)));
    assert!(app.take_redraw(), "the marker appears");
    assert_eq!(app.next_wakeup(), Some(now + Duration::from_secs(2)));
    app.tick(now + Duration::from_millis(1500), T0 + 1.5);
    assert!(!app.take_redraw(), "the shown seconds did not change");
    app.tick(now + Duration::from_secs(2), T0 + 2.0);
    assert!(app.take_redraw(), "1 s → 2 s");
    app.on_conn(msg(ServerMessage::Sample(sample(
        103,
        T0 + 2.0,
        rogues_in_every_band(),
    ))));
    assert_eq!(app.stale_for(), None);
    // A slower daemon has a longer threshold.
    let (mut slow, t) = fresh();
    let mut h = hello();
    h.sample_interval_ms = 2000;
    slow.on_conn(ConnEvent::Connected(h));
    slow.tick(t + Duration::from_secs(5), T0 + 5.0);
    assert_eq!(slow.stale_for(), None);
    slow.tick(t + Duration::from_secs(6), T0 + 6.0);
    assert_eq!(
        slow.stale_for(),
        Some(Duration::from_secs(6)),
        "no sample since connecting"
    );
}

#[test]
fn connection_states_and_the_reconnect_countdown() {
    let (mut app, now) = fresh();
    assert_eq!(app.conn, Conn::Connecting);
    app.on_conn(ConnEvent::Connecting);
    assert_eq!(app.conn, Conn::Connecting);
    app.on_conn(ConnEvent::Lost {
        reason: "daemon not running".into(),
        not_running: true,
    });
    assert_eq!(
        app.conn,
        Conn::Disconnected {
            reason: "daemon not running".into(),
            not_running: true
        }
    );
    assert!(app.message().is_none(), "no alarm when it never connected");
    app.on_conn(ConnEvent::Waiting {
        delay: Duration::from_secs(4),
    });
    assert_eq!(app.reconnect_in(), Some(4));
    assert_eq!(app.conn.reason(), Some(("daemon not running", true)));
    app.take_redraw();
    app.tick(now + Duration::from_millis(500), T0);
    assert_eq!(app.reconnect_in(), Some(4));
    assert!(!app.take_redraw());
    assert_eq!(app.next_wakeup(), Some(now + Duration::from_secs(1)));
    app.tick(now + Duration::from_secs(1), T0);
    assert_eq!(app.reconnect_in(), Some(3));
    assert!(app.take_redraw(), "the countdown ticks");
    assert_eq!(app.next_wakeup(), Some(now + Duration::from_secs(2)));
    press(&mut app, &[KeyCode::Char('r')]);
    assert_eq!(app.take_commands(), [Command::ReconnectNow]);
    app.on_conn(ConnEvent::Connecting);
    assert!(matches!(
        app.conn,
        Conn::Reconnecting { retry_at: None, .. }
    ));
    app.on_conn(ConnEvent::Connected(hello()));
    assert!(app.conn.is_live());
    assert_eq!(app.message().map(|m| m.tone), Some(Tone::Good));
    assert_eq!(app.take_commands(), [Command::RefreshHistory]);
    press(&mut app, &[KeyCode::Char('r')]);
    assert!(app.take_commands().is_empty(), "no reconnect while live");
    app.on_conn(ConnEvent::Lost {
        reason: "lost connection to the daemon".into(),
        not_running: false,
    });
    assert!(!app.conn.is_live());
    assert_eq!(app.message().map(|m| m.tone), Some(Tone::Bad));
}

#[test]
fn c_asks_for_a_capture_and_reports_every_step() {
    let (mut app, now) = live_app();
    press(&mut app, &[KeyCode::Down, KeyCode::Char('c')]);
    assert_eq!(app.take_commands(), [Command::Capture { pid: 3401 }]);
    assert!(app.message().unwrap().text.contains("requested"));
    // A second press while waiting does not send again.
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(app.take_commands().is_empty());
    assert!(app.message().unwrap().text.contains("still waiting"));
    app.on_conn(msg(ServerMessage::CaptureAccepted {
        capture_id: 12,
        pid: Some(3401),
    }));
    assert_eq!(
        app.message().unwrap().text,
        "capture #12 of cc1plus (3401) accepted; collecting…"
    );
    app.on_conn(msg(ServerMessage::Capture(CaptureNotice {
        not_stored: None,
        capture_id: 12,
        event_id: Some(8),
        trigger: crate::model::Trigger::Manual,
        state: CaptureState::Started,
        statuses: BTreeMap::new(),
    })));
    assert!(
        app.history.capturing.contains(&8),
        "the marker shows a capture under way"
    );
    assert_eq!(app.take_commands(), [Command::RefreshHistory]);
    app.on_conn(msg(ServerMessage::Capture(CaptureNotice {
        not_stored: None,
        capture_id: 12,
        event_id: Some(8),
        trigger: crate::model::Trigger::Manual,
        state: CaptureState::Done,
        statuses: BTreeMap::from([
            (CapturePart::Buffer, PartStatus::Success),
            (CapturePart::Logs, PartStatus::Failed),
        ]),
    })));
    let m = app.message().unwrap();
    assert_eq!(
        m.text,
        "capture #12 of cc1plus (3401) done: buffer ok · logs failed"
    );
    assert_eq!(m.tone, Tone::Bad, "a failed part");
    assert!(!app.history.capturing.contains(&8));
    assert_eq!(app.take_commands(), [Command::RefreshHistory]);
    // Refused.
    press(&mut app, &[KeyCode::Char('c')]);
    app.take_commands();
    app.on_conn(msg(ServerMessage::CaptureRefused {
        reason: "a capture is in progress".into(),
        pid: Some(3401),
        retry_after_s: None,
    }));
    assert_eq!(
        app.message().unwrap().text,
        "capture of cc1plus (3401) refused: a capture is in progress"
    );
    // No answer at all.
    press(&mut app, &[KeyCode::Char('c')]);
    app.take_commands();
    app.tick(now + CAPTURE_ANSWER_TIMEOUT, T0 + 20.0);
    assert!(
        app.message()
            .unwrap()
            .text
            .starts_with("no answer from the daemon")
    );
    // Not connected.
    app.on_conn(ConnEvent::Lost {
        reason: "x".into(),
        not_running: true,
    });
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(app.take_commands().is_empty());
    assert!(app.message().unwrap().text.contains("not connected"));
}

#[test]
fn messages_expire() {
    let (mut app, now) = live_app();
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(app.message().is_some());
    let until = app.message().unwrap().until;
    assert!(app.next_wakeup().unwrap() <= until);
    app.take_redraw();
    app.tick(now + MESSAGE_TTL, T0 + 8.0);
    assert!(app.message().is_none());
    assert!(app.take_redraw(), "the footer goes back to the keys");
}

#[test]
fn enter_opens_a_detail_view_kept_current_by_samples_and_the_database() {
    let (mut app, now) = live_app();
    press(&mut app, &[KeyCode::Enter]);
    let key = process(1200, "firefox", 85).key();
    assert_eq!(
        app.take_commands(),
        [Command::LoadProcess {
            key,
            start_time: process(1200, "", 0).start_time
        }]
    );
    let Mode::Detail(d) = &app.mode else {
        panic!("{:?}", app.mode)
    };
    assert_eq!(d.record, DbState::Loading);
    let record = EventRecord {
        event: events()[0].clone(),
        peak: None,
        captures: vec![],
        hot: None,
        snapshots: vec![],
        reason: None,
        logs: None,
    };
    // An answer for another process is ignored.
    app.on_history(HistoryReply::Process {
        key: process(1, "", 0).key(),
        result: Ok(None),
    });
    app.on_history(HistoryReply::Process {
        key,
        result: Ok(Some(record.clone())),
    });
    let Mode::Detail(d) = &app.mode else { panic!() };
    assert_eq!(d.record, DbState::Ready(Some(record)));
    // A new reading updates it; leaving the list is noted.
    let mut rogues = rogues_in_every_band();
    rogues[0].score = 91;
    app.tick(now + Duration::from_millis(333), T0 + 0.333);
    app.on_conn(msg(ServerMessage::Sample(sample(
        103,
        T0 + 0.333,
        rogues.clone(),
    ))));
    let Mode::Detail(d) = &app.mode else { panic!() };
    assert!(
        matches!(&d.target, DetailTarget::Process { process, in_stream: true, .. } if process.score == 91)
    );
    rogues.remove(0);
    app.on_conn(msg(ServerMessage::Sample(sample(104, T0 + 0.666, rogues))));
    let Mode::Detail(d) = &app.mode else { panic!() };
    assert!(matches!(
        &d.target,
        DetailTarget::Process {
            in_stream: false,
            ..
        }
    ));
    // Scrolling, then Esc goes back.
    press(&mut app, &[KeyCode::Down, KeyCode::Down, KeyCode::Up]);
    let Mode::Detail(d) = &app.mode else { panic!() };
    assert_eq!(d.scroll, 1);
    app.clamp_detail_scroll(0);
    let Mode::Detail(d) = &app.mode else { panic!() };
    assert_eq!(d.scroll, 0);
    press(&mut app, &[KeyCode::Esc]);
    assert_eq!(app.mode, Mode::Dashboard);
}

#[test]
fn tab_moves_to_event_history_where_enter_opens_an_event() {
    let (mut app, _) = live_app();
    press(&mut app, &[KeyCode::Tab]);
    assert_eq!(app.focus, Focus::History);
    press(
        &mut app,
        &[KeyCode::Down, KeyCode::Down, KeyCode::Down, KeyCode::Down],
    );
    assert_eq!(app.history.selected, 3, "clamped to the rows");
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(
        app.take_commands().is_empty(),
        "an ended event has no process to capture"
    );
    press(&mut app, &[KeyCode::Home, KeyCode::Enter]);
    assert_eq!(app.take_commands(), [Command::LoadEvent { id: 7 }]);
    press(&mut app, &[KeyCode::Char('c')]);
    assert_eq!(
        app.take_commands(),
        [Command::Capture { pid: 1200 }],
        "open: capture its process"
    );
    press(&mut app, &[KeyCode::Esc, KeyCode::BackTab]);
    assert_eq!(app.focus, Focus::Processes);
    // A terminal too small for the panel: no focus on it.
    press(&mut app, &[KeyCode::Tab]);
    app.set_history_shown(false);
    assert_eq!(app.focus, Focus::Processes);
    press(&mut app, &[KeyCode::Tab]);
    assert_eq!(app.focus, Focus::Processes);
}

#[test]
fn help_quit_and_key_releases() {
    let (mut app, _) = live_app();
    press(&mut app, &[KeyCode::Char('?')]);
    assert_eq!(app.mode, Mode::Help);
    press(&mut app, &[KeyCode::Char('q')]);
    assert_eq!(app.mode, Mode::Dashboard, "any key closes the help");
    assert!(app.take_commands().is_empty());
    let release = KeyEvent {
        code: KeyCode::Char('q'),
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Release,
        state: KeyEventState::NONE,
    };
    app.on_key(release);
    assert!(app.take_commands().is_empty(), "releases are not presses");
    press(&mut app, &[KeyCode::Char('q')]);
    assert_eq!(app.take_commands(), [Command::Quit]);
    press(&mut app, &[KeyCode::Char('/')]);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(
        app.take_commands(),
        [Command::Quit],
        "Ctrl-C quits from anywhere"
    );
}

#[test]
fn history_answers_redraw_only_when_they_change() {
    let (mut app, _) = live_app();
    app.on_history(HistoryReply::Events(Ok(events())));
    assert!(!app.take_redraw());
    let mut changed = events();
    changed[0].capture_count = 2;
    app.on_history(HistoryReply::Events(Ok(changed)));
    assert!(app.take_redraw());
    app.on_history(HistoryReply::Events(Err(DbProblem::Missing)));
    assert_eq!(app.history.state, DbState::Problem(DbProblem::Missing));
}

#[test]
fn the_clock_formats_in_a_fixed_zone() {
    assert_eq!(Clock::FixedOffset(0).hms(T0), "22:13:20");
    assert_eq!(Clock::FixedOffset(3600).hms(T0), "23:13:20");
    assert_eq!(Clock::FixedOffset(0).datetime(T0), "2023-11-14 22:13:20");
    assert_eq!(Clock::FixedOffset(0).short(T0), "11-14 22:13:20");
    assert_eq!(Clock::FixedOffset(0).hms(f64::NAN), "--:--:--");
    assert_eq!(Clock::Local.hms(T0).len(), 8);
}

#[test]
fn sample_helper_is_consistent() {
    let s: SampleMessage = sample(1, T0, rogues_in_every_band());
    assert_eq!(s.max_score, 85);
}

/// The event view of event 7 with two captures, as the database answers it.
fn event7_record() -> EventRecord {
    EventRecord {
        event: events()[0].clone(),
        peak: Some(process(1200, "firefox", 88)),
        captures: vec![capture_row(3, 7), capture_row(4, 7)],
        hot: None,
        snapshots: crate::tui::testing::snapshots(),
        reason: None,
        logs: None,
    }
}

fn capture_row(id: i64, event_id: i64) -> crate::store::queries::CaptureRow {
    let ok = crate::store::queries::PartState {
        status: Some(PartStatus::Success),
        error: None,
    };
    crate::store::queries::CaptureRow {
        id,
        event_id,
        captured_at: crate::tui::testing::T0 - 100.0,
        trigger: crate::model::Trigger::Manual.into(),
        triggers: vec!["manual".into()],
        stack_source: None,
        completed_at: Some(crate::tui::testing::T0 - 99.0),
        buffer: ok.clone(),
        stacks: ok.clone(),
        decode: crate::store::queries::PartState {
            status: None,
            error: None,
        },
        logs: ok,
    }
}

#[test]
fn an_event_opened_by_id_replays_its_chosen_capture_and_esc_returns_to_live() {
    let (mut app, _) = live_app();
    app.open_event(7);
    assert_eq!(app.take_commands(), [Command::LoadEvent { id: 7 }]);
    // `r` before the record is there: nothing to replay yet.
    press(&mut app, &[KeyCode::Char('r')]);
    assert!(app.take_commands().is_empty());
    app.on_history(HistoryReply::Event {
        id: 7,
        result: Ok(Some(event7_record())),
    });
    let Mode::Detail(d) = &app.mode else {
        panic!("{:?}", app.mode)
    };
    assert!(
        matches!(&d.target, DetailTarget::Event { row: Some(r), .. } if r.command == "firefox")
    );
    assert_eq!(
        d.chosen_capture().map(|c| c.id),
        Some(4),
        "the newest first"
    );
    // Tab goes round the captures.
    press(&mut app, &[KeyCode::Tab]);
    let Mode::Detail(d) = &app.mode else { panic!() };
    assert_eq!(d.chosen_capture().map(|c| c.id), Some(3));
    press(&mut app, &[KeyCode::Char('r')]);
    assert_eq!(app.take_commands(), [Command::LoadReplay { capture_id: 3 }]);
    let Some(r) = app.replay() else {
        panic!("{:?}", app.mode)
    };
    assert_eq!(r.state, ReplayState::Loading { done: 0, total: 0 });
    // Progress, an answer for another capture (ignored), then the data.
    app.on_history(HistoryReply::ReplayProgress {
        capture_id: 3,
        done: 30,
        total: 90,
    });
    assert_eq!(
        app.replay().map(|r| r.state.clone()),
        Some(ReplayState::Loading {
            done: 30,
            total: 90
        })
    );
    app.on_history(HistoryReply::Replay {
        capture_id: 9,
        result: Ok(crate::tui::testing::replay_data(2)),
    });
    assert!(app.replay().is_some_and(|r| r.data().is_none()));
    app.on_history(HistoryReply::Replay {
        capture_id: 3,
        result: Ok(crate::tui::testing::replay_data(90)),
    });
    let at = |app: &App| app.replay().map(|r| r.position);
    assert_eq!(at(&app), Some(89), "starts at the trigger");
    assert!(
        app.replay()
            .and_then(|r| r.relative_time())
            .is_some_and(|t| t.abs() < 1e-9)
    );
    // The table is the sample's: make (halfway on) is there, the live rows are not.
    let pids = |app: &App| app.rows().iter().map(|r| r.process.pid).collect::<Vec<_>>();
    assert_eq!(pids(&app), [1200, 3401, 6600, 872, 2213]);
    press(&mut app, &[KeyCode::Left]);
    assert_eq!(at(&app), Some(88));
    press(&mut app, &[KeyCode::Char('['), KeyCode::Char('[')]);
    assert_eq!(at(&app), Some(68));
    press(&mut app, &[KeyCode::Home]);
    assert_eq!(at(&app), Some(0));
    press(&mut app, &[KeyCode::Left]);
    assert_eq!(at(&app), Some(0), "clamped at the first sample");
    assert_eq!(
        pids(&app),
        [3401, 1200, 872, 2213],
        "no make yet; cc1plus led"
    );
    let t = app
        .replay()
        .and_then(|r| r.relative_time())
        .unwrap_or_default();
    assert!((t + 89.0 / 3.0).abs() < 1e-6, "{t}");
    press(&mut app, &[KeyCode::Char(']'), KeyCode::Right]);
    assert_eq!(at(&app), Some(11));
    // Sorted and filtered as live.
    press(&mut app, &[KeyCode::Char('/')]);
    for c in "fire".chars() {
        press(&mut app, &[KeyCode::Char(c)]);
    }
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(pids(&app), [1200]);
    press(&mut app, &[KeyCode::End]);
    assert_eq!(at(&app), Some(89));
    // Live samples keep arriving underneath without moving the replay.
    app.on_conn(crate::tui::connection::ConnEvent::Message(
        crate::ipc::protocol::ServerMessage::Sample(sample(
            103,
            crate::tui::testing::T0 + 0.333,
            rogues_in_every_band(),
        )),
    ));
    assert_eq!(at(&app), Some(89));
    assert_eq!(app.board().seq, 103, "the live board moved on");
    press(&mut app, &[KeyCode::Esc]);
    assert_eq!(app.mode, Mode::Dashboard);
    assert_eq!(pids(&app), [1200], "live again, still filtered");
}

#[test]
fn a_capture_without_a_buffer_says_why_it_cannot_be_replayed() {
    let (mut app, _) = live_app();
    app.open_event(7);
    app.on_history(HistoryReply::Event {
        id: 7,
        result: Ok(Some(event7_record())),
    });
    press(&mut app, &[KeyCode::Char('r')]);
    app.take_commands();
    app.on_history(HistoryReply::Replay {
        capture_id: 4,
        result: Err(crate::tui::history::ReplayProblem::NoBuffer(
            "buffer failed: disk full".into(),
        )),
    });
    let r = app.replay().expect("still in the replay");
    assert!(matches!(&r.state, ReplayState::Problem(_)));
    // Keys do nothing harmful; Esc returns to live.
    press(
        &mut app,
        &[KeyCode::Right, KeyCode::Home, KeyCode::Char(']')],
    );
    press(&mut app, &[KeyCode::Esc]);
    assert_eq!(app.mode, Mode::Dashboard);
    assert_eq!(app.rows().len(), 7);
}
