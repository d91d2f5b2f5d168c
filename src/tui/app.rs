//! The dashboard's state and everything that changes it: daemon messages, database answers,
//! keys and the passing of time. Pure: no terminal, socket or clock of its own (the runtime
//! passes `now` in), so every rule here is tested without a machine.
//!
//! Handlers change the state, note whether the screen must be redrawn, and queue
//! [`Command`]s (capture, database lookups, quit) for the runtime to carry out.

mod board;
mod replay;
mod table;
#[cfg(test)]
mod tests;

pub use board::{Board, Row, SPARK_KEEP, Stream, Trend};
pub use replay::{JUMP, Replay, ReplayState};
pub use table::{Sort, SortKey, arrange, matches};

use super::connection::ConnEvent;
use super::format;
use super::history::{DbProblem, EventRecord, HistoryReply};
use crate::config::Config;
use crate::ipc::protocol::{CaptureNotice, CaptureState, Hello, ServerMessage};
use crate::model::{CaptureOutcome, ProcessKey, ProcessScore};
use crate::store::queries::EventRow;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// How long a message stays in the footer.
pub const MESSAGE_TTL: Duration = Duration::from_secs(8);
/// How long to wait for the daemon's answer to a capture request.
pub const CAPTURE_ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// Samples missed before the data is marked stale.
pub const STALE_AFTER_SAMPLES: u32 = 3;
/// The stale threshold is never shorter than this (very fast sampling would flicker).
pub const STALE_MIN: Duration = Duration::from_secs(1);

/// Where the link to the daemon is.
#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    /// The first attempt is under way.
    Connecting,
    /// Connected since `since`.
    Live { hello: Hello, since: Instant },
    /// Lost or failed; nothing scheduled yet.
    Disconnected { reason: String, not_running: bool },
    /// Waiting for the next attempt (`retry_at`), or attempting (`None`).
    Reconnecting {
        reason: String,
        not_running: bool,
        retry_at: Option<Instant>,
    },
}

impl Conn {
    pub fn is_live(&self) -> bool {
        matches!(self, Conn::Live { .. })
    }

    /// Why there is no connection, if there is none.
    pub fn reason(&self) -> Option<(&str, bool)> {
        match self {
            Conn::Disconnected {
                reason,
                not_running,
            }
            | Conn::Reconnecting {
                reason,
                not_running,
                ..
            } => Some((reason, *not_running)),
            _ => None,
        }
    }
}

/// Which list the arrows move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Processes,
    History,
}

/// What fills the body of the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Dashboard,
    Help,
    Detail(Box<Detail>),
    /// Stepping through a capture's ring buffer; the live stream keeps arriving underneath.
    Replay(Box<Replay>),
}

/// A detail view.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub target: DetailTarget,
    /// First line shown.
    pub scroll: usize,
    /// The database's side: the process's event and its captures.
    pub record: DbState<Option<EventRecord>>,
    /// The capture `r` replays (an index into the record's captures; the newest by default).
    pub capture: Option<usize>,
}

impl Detail {
    fn new(target: DetailTarget) -> Detail {
        Detail {
            target,
            scroll: 0,
            record: DbState::Loading,
            capture: None,
        }
    }

    /// The capture chosen for replay, once the record is there.
    pub fn chosen_capture(&self) -> Option<&crate::store::queries::CaptureRow> {
        let DbState::Ready(Some(rec)) = &self.record else {
            return None;
        };
        let n = rec.captures.len();
        let i = self
            .capture
            .unwrap_or(n.checked_sub(1)?)
            .min(n.checked_sub(1)?);
        rec.captures.get(i)
    }
}

/// What a detail view is about.
#[derive(Debug, Clone, PartialEq)]
pub enum DetailTarget {
    /// A process: its latest reading (kept up to date while it is in the stream).
    Process {
        key: ProcessKey,
        process: Box<ProcessScore>,
        /// Still among the rogues of the latest sample.
        in_stream: bool,
    },
    /// An event of EVENT HISTORY (its row is None until the database answers, when the view
    /// was opened by id: `tui --event ID`).
    Event { id: i64, row: Option<Box<EventRow>> },
}

/// An answer from the database, or why there is none (yet).
#[derive(Debug, Clone, PartialEq)]
pub enum DbState<T> {
    Loading,
    Ready(T),
    Problem(DbProblem),
}

/// The kind of a footer message (its colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

/// A short-lived footer message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub tone: Tone,
    pub until: Instant,
}

/// What the runtime must do for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Quit,
    Capture { pid: u32 },
    LoadProcess { key: ProcessKey, start_time: f64 },
    LoadEvent { id: i64 },
    LoadReplay { capture_id: i64 },
    RefreshHistory,
    ReconnectNow,
}

/// Time zone for clocks: the machine's, or a fixed offset (tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Local,
    FixedOffset(i32),
}

impl Clock {
    /// `HH:MM:SS` of an epoch time.
    pub fn hms(self, epoch: f64) -> String {
        self.format(epoch, "%H:%M:%S")
    }

    /// `MM-DD HH:MM:SS` of an epoch time.
    pub fn short(self, epoch: f64) -> String {
        self.format(epoch, "%m-%d %H:%M:%S")
    }

    /// `YYYY-MM-DD HH:MM:SS` of an epoch time.
    pub fn datetime(self, epoch: f64) -> String {
        self.format(epoch, "%Y-%m-%d %H:%M:%S")
    }

    fn format(self, epoch: f64, fmt: &str) -> String {
        if !epoch.is_finite() {
            return "--:--:--".into();
        }
        let secs = epoch.floor() as i64;
        let Some(utc) = chrono::DateTime::from_timestamp(secs, 0) else {
            return "--:--:--".into();
        };
        match self {
            Clock::Local => utc.with_timezone(&chrono::Local).format(fmt).to_string(),
            Clock::FixedOffset(off) => match chrono::FixedOffset::east_opt(off) {
                Some(tz) => utc.with_timezone(&tz).format(fmt).to_string(),
                None => utc.format(fmt).to_string(),
            },
        }
    }
}

/// EVENT HISTORY's contents.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPanel {
    pub state: DbState<Vec<EventRow>>,
    /// Events with a capture under way (from `capture` notices).
    pub capturing: HashSet<i64>,
    pub selected: usize,
}

/// Capture requests of this dashboard.
#[derive(Debug, Clone, Default, PartialEq)]
struct Captures {
    /// Sent, not answered yet: pid, command, when.
    waiting: Option<(u32, String, Instant)>,
    /// Accepted: capture id → (pid, command).
    mine: BTreeMap<i64, (u32, String)>,
}

/// The whole dashboard.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub clock: Clock,
    pub conn: Conn,
    /// The daemon's database writes, as its newest message told (shown in the header).
    pub storage: crate::ipc::protocol::StorageHealth,
    stream: Stream,
    /// The board shown while paused.
    frozen: Option<Board>,
    last_sample_at: Option<Instant>,
    sample_interval: Duration,
    pub history: HistoryPanel,
    /// A history answer that arrived while paused.
    history_pending: Option<DbState<Vec<EventRow>>>,
    history_shown: bool,
    pub mode: Mode,
    pub focus: Focus,
    pub sort: Sort,
    pub filter: String,
    pub filter_editing: bool,
    selected_key: Option<ProcessKey>,
    selected_index: usize,
    /// First row shown in TOP PROCESSES.
    pub table_offset: usize,
    /// Rows TOP PROCESSES can show (set by the runtime from the layout).
    pub page: usize,
    pub message: Option<Message>,
    captures: Captures,
    pub started: Instant,
    /// Monotonic now, as of the last event.
    pub now: Instant,
    /// Wall-clock now (epoch seconds), as of the last event.
    pub wall_now: f64,
    redraw: bool,
    commands: Vec<Command>,
}

impl App {
    pub fn new(config: Config, now: Instant, wall_now: f64) -> App {
        let decay = config.tui.decay_seconds;
        App {
            config,
            clock: Clock::Local,
            conn: Conn::Connecting,
            stream: Stream::new(decay),
            frozen: None,
            last_sample_at: None,
            sample_interval: Duration::from_millis(333),
            history: HistoryPanel {
                state: DbState::Loading,
                capturing: HashSet::new(),
                selected: 0,
            },
            history_pending: None,
            history_shown: true,
            mode: Mode::Dashboard,
            focus: Focus::Processes,
            sort: Sort::default(),
            filter: String::new(),
            filter_editing: false,
            selected_key: None,
            selected_index: 0,
            table_offset: 0,
            page: 10,
            message: None,
            storage: Default::default(),
            captures: Captures::default(),
            started: now,
            now,
            wall_now,
            redraw: true,
            commands: Vec::new(),
        }
    }

    // ----- what the views read -----

    /// The board on screen: frozen while paused, else live.
    pub fn board(&self) -> &Board {
        self.frozen.as_ref().unwrap_or_else(|| self.stream.board())
    }

    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    /// What TOP PROCESSES shows: the replayed sample during a replay, else [`App::board`].
    pub fn table_board(&self) -> &Board {
        match &self.mode {
            Mode::Replay(r) if r.data().is_some() => r.board(),
            _ => self.board(),
        }
    }

    /// The replay under way, if any.
    pub fn replay(&self) -> Option<&Replay> {
        match &self.mode {
            Mode::Replay(r) => Some(r),
            _ => None,
        }
    }

    /// TOP PROCESSES as shown: filtered and sorted.
    pub fn rows(&self) -> Vec<&Row> {
        arrange(&self.table_board().rows, self.sort, &self.filter)
    }

    /// Index of the selected row in [`App::rows`] (None when the table is empty).
    pub fn selected(&self) -> Option<usize> {
        let n = self.rows().len();
        (n > 0).then(|| self.selected_index.min(n - 1))
    }

    /// How long the data has been stale, if it is (connected but no sample for
    /// [`STALE_AFTER_SAMPLES`] intervals).
    pub fn stale_for(&self) -> Option<Duration> {
        let Conn::Live { since, .. } = &self.conn else {
            return None;
        };
        let last = self.last_sample_at.unwrap_or(*since).max(*since);
        let quiet = self.now.saturating_duration_since(last);
        (quiet >= self.stale_after()).then_some(quiet)
    }

    fn stale_after(&self) -> Duration {
        (self.sample_interval * STALE_AFTER_SAMPLES).max(STALE_MIN)
    }

    /// Whole seconds until the next reconnect attempt (rounded up), while waiting for one.
    pub fn reconnect_in(&self) -> Option<u64> {
        match &self.conn {
            Conn::Reconnecting {
                retry_at: Some(at), ..
            } => Some(ceil_secs(at.saturating_duration_since(self.now))),
            _ => None,
        }
    }

    /// The footer message, unless it expired.
    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref().filter(|m| m.until > self.now)
    }

    /// Seconds the dashboard has been running.
    pub fn uptime(&self) -> Duration {
        self.now.saturating_duration_since(self.started)
    }

    /// The sample interval the daemon announced.
    pub fn sample_interval(&self) -> Duration {
        self.sample_interval
    }

    // ----- runtime plumbing -----

    /// Whether something visible changed since the last call.
    pub fn take_redraw(&mut self) -> bool {
        std::mem::take(&mut self.redraw)
    }

    /// Asks for a redraw (e.g. after a resize).
    pub fn request_redraw(&mut self) {
        self.redraw = true;
    }

    /// Commands queued for the runtime.
    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    /// Moves time forward. Redraws only when a time-driven text changes (the reconnect
    /// countdown, the stale marker, a message expiring).
    pub fn tick(&mut self, now: Instant, wall_now: f64) {
        let before = self.time_view();
        self.now = now;
        self.wall_now = wall_now;
        if let Some((pid, cmd, at)) = &self.captures.waiting
            && now.saturating_duration_since(*at) >= CAPTURE_ANSWER_TIMEOUT
        {
            let text = format!("no answer from the daemon to the capture of {cmd} ({pid})");
            self.captures.waiting = None;
            self.say(text, Tone::Bad);
        }
        if self.time_view() != before {
            self.redraw = true;
        }
    }

    /// The texts that change by themselves with time.
    fn time_view(&self) -> (Option<u64>, Option<u64>, bool) {
        (
            self.reconnect_in(),
            self.stale_for().map(|d| d.as_secs()),
            self.message().is_some(),
        )
    }

    /// When the screen will next change by itself (for the runtime's sleep).
    pub fn next_wakeup(&self) -> Option<Instant> {
        let mut at: Vec<Instant> = Vec::new();
        if let Conn::Reconnecting {
            retry_at: Some(r), ..
        } = &self.conn
        {
            let left = r.saturating_duration_since(self.now);
            let shown = ceil_secs(left);
            if shown > 0 {
                at.push(*r - Duration::from_secs(shown - 1));
            }
        }
        if let Conn::Live { since, .. } = &self.conn {
            let last = self.last_sample_at.unwrap_or(*since).max(*since);
            let stale_at = last + self.stale_after();
            if self.now < stale_at {
                at.push(stale_at);
            } else {
                let quiet = self.now.saturating_duration_since(last);
                at.push(last + Duration::from_secs(quiet.as_secs() + 1));
            }
        }
        if let Some(m) = self.message() {
            at.push(m.until);
        }
        if let Some((_, _, sent)) = &self.captures.waiting {
            at.push(*sent + CAPTURE_ANSWER_TIMEOUT);
        }
        at.into_iter().min()
    }

    fn say(&mut self, text: impl Into<String>, tone: Tone) {
        self.message = Some(Message {
            text: text.into(),
            tone,
            until: self.now + MESSAGE_TTL,
        });
        self.redraw = true;
    }

    // ----- the daemon -----

    /// An event of the connection task.
    pub fn on_conn(&mut self, ev: ConnEvent) {
        let is_message = matches!(ev, ConnEvent::Message(_));
        match ev {
            ConnEvent::Connecting => {
                self.conn = match std::mem::replace(&mut self.conn, Conn::Connecting) {
                    Conn::Reconnecting {
                        reason,
                        not_running,
                        ..
                    }
                    | Conn::Disconnected {
                        reason,
                        not_running,
                    } => Conn::Reconnecting {
                        reason,
                        not_running,
                        retry_at: None,
                    },
                    _ => Conn::Connecting,
                };
            }
            ConnEvent::Connected(hello) => {
                let was_lost = matches!(self.conn, Conn::Reconnecting { .. });
                if hello.sample_interval_ms > 0 {
                    self.sample_interval = Duration::from_millis(hello.sample_interval_ms);
                }
                self.conn = Conn::Live {
                    hello,
                    since: self.now,
                };
                self.last_sample_at = None;
                if was_lost {
                    self.say("reconnected to the daemon", Tone::Good);
                }
                self.commands.push(Command::RefreshHistory);
            }
            ConnEvent::Message(msg) => self.on_message(msg),
            ConnEvent::Lost {
                reason,
                not_running,
            } => {
                if self.conn.is_live() {
                    self.say(format!("{reason}; reconnecting"), Tone::Bad);
                }
                self.captures.waiting = None;
                self.conn = Conn::Disconnected {
                    reason,
                    not_running,
                };
            }
            ConnEvent::Waiting { delay } => {
                let (reason, not_running) = self
                    .conn
                    .reason()
                    .map(|(r, n)| (r.to_string(), n))
                    .unwrap_or_else(|| ("not connected".into(), false));
                self.conn = Conn::Reconnecting {
                    reason,
                    not_running,
                    retry_at: Some(self.now + delay),
                };
            }
            ConnEvent::CaptureNotSent { pid, reason } => {
                self.captures.waiting = None;
                self.say(
                    format!("capture of pid {pid} not sent: {reason}"),
                    Tone::Bad,
                );
            }
        }
        // Messages decide for themselves (a sample while paused changes nothing on screen).
        if !is_message {
            self.redraw = true;
        }
    }

    fn on_message(&mut self, msg: ServerMessage) {
        let is_sample = matches!(msg, ServerMessage::Sample(_));
        match msg {
            ServerMessage::InitialState(s) => {
                self.stream.initial_state(&s.history, s.last_seq);
                self.storage = s.storage;
                self.redraw = true;
            }
            ServerMessage::Sample(s) => {
                if s.storage != self.storage {
                    self.storage = s.storage.clone();
                    self.redraw = true;
                }
                let was_stale = self.stale_for().is_some();
                self.last_sample_at = Some(self.now);
                self.stream.sample(s);
                self.after_stream_change();
                // While paused the screen does not change, except that it is no longer stale.
                if !self.paused() || was_stale {
                    self.redraw = true;
                }
            }
            ServerMessage::Capture(notice) => self.on_capture_notice(notice),
            ServerMessage::CaptureAccepted { capture_id, pid } => {
                let (wpid, cmd) = match self.captures.waiting.take() {
                    Some((p, c, _)) => (p, c),
                    None => (pid.unwrap_or(0), String::from("?")),
                };
                self.captures.mine.insert(capture_id, (wpid, cmd.clone()));
                self.say(
                    format!("capture #{capture_id} of {cmd} ({wpid}) accepted; collecting…"),
                    Tone::Info,
                );
            }
            ServerMessage::CaptureRefused { reason, pid, .. } => {
                let who = match self.captures.waiting.take() {
                    Some((p, c, _)) => format!("{c} ({p})"),
                    None => pid.map_or_else(|| "?".to_string(), |p| p.to_string()),
                };
                self.say(format!("capture of {who} refused: {reason}"), Tone::Bad);
            }
            ServerMessage::Error { message } => {
                self.say(format!("daemon: {message}"), Tone::Bad);
            }
            ServerMessage::Hello(_) | ServerMessage::Pong => {}
        }
        if !is_sample {
            self.redraw = true;
        }
    }

    fn on_capture_notice(&mut self, n: CaptureNotice) {
        match n.state {
            CaptureState::Started => {
                if let Some(e) = n.event_id {
                    self.history.capturing.insert(e);
                }
                if let Some((pid, cmd)) = self.captures.mine.get(&n.capture_id) {
                    let text = format!("capture #{} of {cmd} ({pid}) started", n.capture_id);
                    self.say(text, Tone::Info);
                }
            }
            CaptureState::Done => {
                if let Some(e) = n.event_id {
                    self.history.capturing.remove(&e);
                }
                if let Some((pid, cmd)) = self.captures.mine.remove(&n.capture_id) {
                    let outcome = CaptureOutcome::of(n.statuses.values().copied());
                    let parts: Vec<String> = n
                        .statuses
                        .iter()
                        .map(|(part, st)| format!("{part} {}", format::part_status(*st)))
                        .collect();
                    let text = format!(
                        "capture #{} of {cmd} ({pid}) done: {}",
                        n.capture_id,
                        if parts.is_empty() {
                            "no parts".to_string()
                        } else {
                            parts.join(" · ")
                        }
                    );
                    let tone = match outcome {
                        CaptureOutcome::Success if n.not_stored.is_none() => Tone::Good,
                        _ => Tone::Bad,
                    };
                    let text = match &n.not_stored {
                        Some(e) => format!("{text} · NOT STORED: {e}"),
                        None => text,
                    };
                    self.say(text, tone);
                }
            }
        }
        // The capture marker and any open detail change.
        self.commands.push(Command::RefreshHistory);
        if let Mode::Detail(d) = &self.mode {
            self.commands.push(load_command(&d.target));
        }
        self.redraw = true;
    }

    /// Keeps the selection on the same process and the detail view current.
    fn after_stream_change(&mut self) {
        self.reselect();
        if let Mode::Detail(d) = &mut self.mode
            && let DetailTarget::Process {
                key,
                process,
                in_stream,
            } = &mut d.target
        {
            let board = self.frozen.as_ref().unwrap_or(self.stream.board());
            match board.rows.iter().find(|r| r.process.key() == *key) {
                Some(r) => {
                    **process = r.process.clone();
                    *in_stream = true;
                }
                None => *in_stream = false,
            }
        }
    }

    // ----- the database -----

    /// An answer of the history worker.
    pub fn on_history(&mut self, reply: HistoryReply) {
        match reply {
            HistoryReply::Events(result) => {
                let state = match result {
                    Ok(rows) => DbState::Ready(rows),
                    Err(p) => DbState::Problem(p),
                };
                if self.paused() {
                    // Shown when the display resumes.
                    self.history_pending = Some(state);
                } else if state != self.history.state {
                    self.history.state = state;
                    self.clamp_history_selection();
                    self.redraw = true;
                }
            }
            HistoryReply::Process { key, result } => {
                if let Mode::Detail(d) = &mut self.mode
                    && matches!(&d.target, DetailTarget::Process { key: k, .. } if *k == key)
                {
                    d.record = db_state(result);
                    self.redraw = true;
                }
            }
            HistoryReply::Event { id, result } => {
                if let Mode::Detail(d) = &mut self.mode
                    && matches!(&d.target, DetailTarget::Event { id: i, .. } if *i == id)
                {
                    if let Ok(Some(rec)) = &result {
                        d.target = DetailTarget::Event {
                            id,
                            row: Some(Box::new(rec.event.clone())),
                        };
                    }
                    d.record = db_state(result);
                    self.redraw = true;
                }
            }
            HistoryReply::ReplayProgress {
                capture_id,
                done,
                total,
            } => {
                if let Mode::Replay(r) = &mut self.mode
                    && r.capture_id == capture_id
                    && r.data().is_none()
                {
                    r.state = ReplayState::Loading { done, total };
                    self.redraw = true;
                }
            }
            HistoryReply::Replay { capture_id, result } => {
                if let Mode::Replay(r) = &mut self.mode
                    && r.capture_id == capture_id
                {
                    match result {
                        Ok(data) => r.ready(data),
                        Err(p) => r.state = ReplayState::Problem(p),
                    }
                    self.selected_index = 0;
                    self.selected_key = None;
                    self.table_offset = 0;
                    self.reselect();
                    self.redraw = true;
                }
            }
        }
    }

    fn history_rows(&self) -> &[EventRow] {
        match &self.history.state {
            DbState::Ready(rows) => rows,
            _ => &[],
        }
    }

    fn clamp_history_selection(&mut self) {
        let n = self.history_rows().len();
        self.history.selected = self.history.selected.min(n.saturating_sub(1));
    }

    // ----- keys -----

    /// A key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        self.redraw = true;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
            self.commands.push(Command::Quit);
            return;
        }
        match &self.mode {
            Mode::Help => {
                // Any key closes the help.
                self.mode = Mode::Dashboard;
            }
            Mode::Detail(_) => self.detail_key(key),
            Mode::Replay(_) if self.filter_editing => self.filter_key(key),
            Mode::Replay(_) => self.replay_key(key),
            Mode::Dashboard if self.filter_editing => self.filter_key(key),
            Mode::Dashboard => self.dashboard_key(key),
        }
    }

    fn dashboard_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Char('q') => self.commands.push(Command::Quit),
            KeyCode::Char('?') | KeyCode::F(1) => self.mode = Mode::Help,
            KeyCode::Char('p') | KeyCode::Char(' ') => self.toggle_pause(),
            KeyCode::Char('s') => {
                self.sort = self.sort.cycle();
                self.after_arrangement_change();
            }
            KeyCode::Char('S') => {
                self.sort = self.sort.reversed();
                self.after_arrangement_change();
            }
            KeyCode::Char('/') => {
                self.filter_editing = true;
                self.focus = Focus::Processes;
            }
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.after_arrangement_change();
            }
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Processes if self.history_shown => Focus::History,
                    _ => Focus::Processes,
                };
            }
            KeyCode::Char('r') => {
                if !self.conn.is_live() {
                    self.commands.push(Command::ReconnectNow);
                }
            }
            KeyCode::Enter => self.open_detail(),
            KeyCode::Char('c') => self.capture_selected(),
            _ => self.move_key(key.code),
        }
    }

    fn filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.filter_editing = false,
            KeyCode::Esc => {
                self.filter_editing = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.clear();
            }
            KeyCode::Char(c) if !c.is_control() => self.filter.push(c),
            other => {
                self.move_key(other);
                return;
            }
        }
        self.after_arrangement_change();
    }

    fn detail_key(&mut self, key: KeyEvent) {
        let Mode::Detail(d) = &mut self.mode else {
            return;
        };
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Backspace | KeyCode::Left => {
                self.mode = Mode::Dashboard;
            }
            KeyCode::Char('q') => self.commands.push(Command::Quit),
            KeyCode::Char('?') | KeyCode::F(1) => self.mode = Mode::Help,
            KeyCode::Up | KeyCode::Char('k') => d.scroll = d.scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => d.scroll += 1,
            KeyCode::PageUp => d.scroll = d.scroll.saturating_sub(self.page.max(1)),
            KeyCode::PageDown => d.scroll += self.page.max(1),
            KeyCode::Home | KeyCode::Char('g') => d.scroll = 0,
            // Clamped to the content by the runtime before the next frame.
            KeyCode::End | KeyCode::Char('G') => d.scroll = usize::MAX / 2,
            KeyCode::Char('p') | KeyCode::Char(' ') => self.toggle_pause(),
            KeyCode::Tab | KeyCode::BackTab => {
                if let DbState::Ready(Some(rec)) = &d.record
                    && let Some(last) = rec.captures.len().checked_sub(1)
                {
                    let at = d.capture.unwrap_or(last).min(last);
                    d.capture = Some(if key.code == KeyCode::Tab {
                        if at == last { 0 } else { at + 1 }
                    } else if at == 0 {
                        last
                    } else {
                        at - 1
                    });
                }
            }
            KeyCode::Char('r') => self.start_replay(),
            KeyCode::Char('c') => {
                let target = match &d.target {
                    DetailTarget::Process { process, .. } => {
                        Some((process.pid, process.command.clone()))
                    }
                    DetailTarget::Event { row: Some(row), .. } if row.exit_time.is_none() => {
                        Some((row.pid, row.command.clone()))
                    }
                    DetailTarget::Event { .. } => None,
                };
                match target {
                    Some((pid, cmd)) => self.request_capture(pid, cmd),
                    None => self.say("this event has ended: nothing to capture", Tone::Bad),
                }
            }
            _ => {}
        }
    }

    /// Replays the capture chosen in the detail view.
    fn start_replay(&mut self) {
        let Mode::Detail(d) = &self.mode else {
            return;
        };
        let Some(c) = d.chosen_capture() else {
            return self.say("no capture to replay", Tone::Info);
        };
        let command = match &d.target {
            DetailTarget::Process { process, .. } => process.command.clone(),
            DetailTarget::Event { row, .. } => {
                row.as_ref().map(|r| r.culprit()).unwrap_or_default()
            }
        };
        let capture_id = c.id;
        self.commands.push(Command::LoadReplay { capture_id });
        self.mode = Mode::Replay(Box::new(Replay::loading(capture_id, c.event_id, command)));
        self.focus = Focus::Processes;
    }

    /// Keys of a replay: time with ←/→ (Home/End, `[`/`]` by ten), the table as live.
    fn replay_key(&mut self, key: KeyEvent) {
        let Mode::Replay(r) = &mut self.mode else {
            return;
        };
        let moved = match key.code {
            KeyCode::Left | KeyCode::Char('h') => r.step(-1),
            KeyCode::Right | KeyCode::Char('l') => r.step(1),
            KeyCode::Char('[') => r.step(-JUMP),
            KeyCode::Char(']') => r.step(JUMP),
            KeyCode::Home => r.step(isize::MIN / 2),
            KeyCode::End => r.step(isize::MAX / 2),
            KeyCode::Esc | KeyCode::Backspace => {
                // Back to live: the table follows the stream again.
                self.mode = Mode::Dashboard;
                self.after_stream_change();
                return;
            }
            KeyCode::Char('q') => {
                self.commands.push(Command::Quit);
                return;
            }
            KeyCode::Char('s') => {
                self.sort = self.sort.cycle();
                self.after_arrangement_change();
                return;
            }
            KeyCode::Char('S') => {
                self.sort = self.sort.reversed();
                self.after_arrangement_change();
                return;
            }
            KeyCode::Char('/') => {
                self.filter_editing = true;
                return;
            }
            other => {
                self.move_key(other);
                return;
            }
        };
        if moved {
            self.reselect();
        }
    }

    /// Opens the event view of event `id` straight away (`tui --event ID`).
    pub fn open_event(&mut self, id: i64) {
        let target = DetailTarget::Event { id, row: None };
        self.commands.push(load_command(&target));
        self.focus = Focus::History;
        self.mode = Mode::Detail(Box::new(Detail::new(target)));
    }

    /// Arrows, pages, Home and End in the focused list.
    fn move_key(&mut self, code: KeyCode) {
        let page = self.page.max(1) as isize;
        let delta: isize = match code {
            KeyCode::Up | KeyCode::Char('k') => -1,
            KeyCode::Down | KeyCode::Char('j') => 1,
            KeyCode::PageUp => -page,
            KeyCode::PageDown => page,
            KeyCode::Home | KeyCode::Char('g') => isize::MIN / 2,
            KeyCode::End | KeyCode::Char('G') => isize::MAX / 2,
            _ => return,
        };
        match self.focus {
            Focus::Processes => {
                let n = self.rows().len();
                if n == 0 {
                    return;
                }
                let i = (self.selected_index.min(n - 1) as isize)
                    .saturating_add(delta)
                    .clamp(0, n as isize - 1) as usize;
                self.select_index(i);
            }
            Focus::History => {
                let n = self.history_rows().len();
                if n == 0 {
                    return;
                }
                self.history.selected = (self.history.selected as isize)
                    .saturating_add(delta)
                    .clamp(0, n as isize - 1) as usize;
            }
        }
    }

    fn select_index(&mut self, i: usize) {
        let key = self.rows().get(i).map(|r| r.process.key());
        self.selected_index = i;
        self.selected_key = key;
        self.fix_offset();
    }

    /// After a new sample: follow the selected process to its new row; if it left, keep the
    /// position.
    fn reselect(&mut self) {
        let rows = self.rows();
        let found = self
            .selected_key
            .and_then(|k| rows.iter().position(|r| r.process.key() == k));
        let n = rows.len();
        let i = found
            .unwrap_or(self.selected_index)
            .min(n.saturating_sub(1));
        let key = rows.get(i).map(|r| r.process.key());
        self.selected_index = i;
        if found.is_none() {
            self.selected_key = key;
        }
        self.fix_offset();
    }

    /// After the sort or filter changed: the selected process stays selected if still shown.
    fn after_arrangement_change(&mut self) {
        self.reselect();
    }

    /// Keeps a detail view's scroll within its content (the view knows how long it is).
    pub fn clamp_detail_scroll(&mut self, max: usize) {
        if let Mode::Detail(d) = &mut self.mode {
            d.scroll = d.scroll.min(max);
        }
    }

    /// Sets how many rows TOP PROCESSES shows (from the layout).
    pub fn set_page(&mut self, rows: usize) {
        if rows != self.page {
            self.page = rows;
            self.fix_offset();
        }
    }

    /// Whether EVENT HISTORY is on screen (small terminals drop it); focus cannot stay on a
    /// panel that is not shown.
    pub fn set_history_shown(&mut self, shown: bool) {
        self.history_shown = shown;
        if !shown {
            self.focus = Focus::Processes;
        }
    }

    /// Keeps the selected row inside the visible window.
    fn fix_offset(&mut self) {
        let page = self.page.max(1);
        let n = self.rows().len();
        let sel = self.selected_index.min(n.saturating_sub(1));
        if sel < self.table_offset {
            self.table_offset = sel;
        } else if sel >= self.table_offset + page {
            self.table_offset = sel + 1 - page;
        }
        self.table_offset = self.table_offset.min(n.saturating_sub(page));
    }

    fn toggle_pause(&mut self) {
        if self.frozen.take().is_none() {
            self.frozen = Some(self.stream.board().clone());
        } else {
            self.after_stream_change();
            if let Some(state) = self.history_pending.take() {
                self.history.state = state;
                self.clamp_history_selection();
            }
        }
    }

    fn selected_process(&self) -> Option<ProcessScore> {
        let i = self.selected()?;
        self.rows().get(i).map(|r| r.process.clone())
    }

    fn selected_event(&self) -> Option<EventRow> {
        self.history_rows().get(self.history.selected).cloned()
    }

    fn open_detail(&mut self) {
        let target = match self.focus {
            Focus::Processes => match self.selected_process() {
                Some(p) => DetailTarget::Process {
                    key: p.key(),
                    process: Box::new(p),
                    in_stream: true,
                },
                None => return self.say("no process selected", Tone::Info),
            },
            Focus::History => match self.selected_event() {
                Some(e) => DetailTarget::Event {
                    id: e.id,
                    row: Some(Box::new(e)),
                },
                None => return self.say("no event selected", Tone::Info),
            },
        };
        self.commands.push(load_command(&target));
        self.mode = Mode::Detail(Box::new(Detail::new(target)));
    }

    fn capture_selected(&mut self) {
        let target = match self.focus {
            Focus::Processes => self.selected_process().map(|p| (p.pid, p.command)),
            Focus::History => self
                .selected_event()
                .filter(|e| e.exit_time.is_none())
                .map(|e| (e.pid, e.command)),
        };
        match target {
            Some((pid, cmd)) => self.request_capture(pid, cmd),
            None => self.say("select a running process to capture", Tone::Info),
        }
    }

    fn request_capture(&mut self, pid: u32, command: String) {
        if !self.conn.is_live() {
            return self.say("not connected to the daemon: cannot capture", Tone::Bad);
        }
        if let Some((p, c, _)) = &self.captures.waiting {
            let text = format!("still waiting for the daemon to answer the capture of {c} ({p})");
            return self.say(text, Tone::Info);
        }
        self.say(
            format!("capture of {command} ({pid}) requested…"),
            Tone::Info,
        );
        self.captures.waiting = Some((pid, command, self.now));
        self.commands.push(Command::Capture { pid });
    }
}

fn load_command(t: &DetailTarget) -> Command {
    match t {
        DetailTarget::Process { key, process, .. } => Command::LoadProcess {
            key: *key,
            start_time: process.start_time,
        },
        DetailTarget::Event { id, .. } => Command::LoadEvent { id: *id },
    }
}

fn db_state<T>(r: Result<T, DbProblem>) -> DbState<T> {
    match r {
        Ok(v) => DbState::Ready(v),
        Err(p) => DbState::Problem(p),
    }
}

fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs();
    if d.subsec_nanos() > 0 { s + 1 } else { s }
}
