//! The dashboard's runtime: the terminal, the input thread, the connection task, the history
//! worker and the loop that feeds them all into the [`App`] and redraws when something visible
//! changed.
//!
//! Input comes from a dedicated thread blocked in `crossterm::event::read` (poll(2) on the tty
//! and crossterm's SIGWINCH pipe), forwarding into a channel. That costs nothing while idle,
//! needs no extra crate feature, and keeps the loop a plain `select!` over channels, signals
//! and one timer; crossterm's `EventStream` would do the same with a helper thread of its own.
//! The loop sleeps until the next message, key or the next moment a time-driven text changes
//! (reconnect countdown, stale marker, message expiry, history refresh): no frame is drawn on
//! a timer alone.

use super::app::{App, Command};
use super::connection::{self, Backoff, ConnCommand};
use super::history::{self, HistoryRequest};
use super::view::{self, Theme};
use crate::config::Config;
use crossterm::event::Event;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// EVENT HISTORY is re-read this often (and on every capture notice and reconnect).
pub const HISTORY_REFRESH: Duration = Duration::from_secs(2);

/// What the dashboard needs to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    /// The uid the daemon runs as (root for `--system`).
    pub daemon_uid: u32,
    pub db: PathBuf,
    pub config: Config,
    /// Draw without colours (also when `NO_COLOR` is set).
    pub mono: bool,
    /// Open straight into this event's view.
    pub event: Option<i64>,
}

/// Why the dashboard could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("the dashboard needs a terminal (stdin and stdout must be a tty)")]
    NotATerminal,
    #[error("terminal error: {0}")]
    Terminal(#[source] io::Error),
    #[error("cannot start the dashboard: {0}")]
    Start(#[source] io::Error),
}

/// Runs the dashboard until the user quits or a signal (SIGINT, SIGTERM, SIGHUP) arrives. The
/// terminal is restored on every way out, panics included.
pub fn run(opts: Options) -> Result<(), TuiError> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(TuiError::Start)?;
    let guard = TerminalGuard::enter().map_err(TuiError::Terminal)?;
    let result = rt.block_on(main_loop(opts));
    drop(guard);
    result
}

type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

async fn main_loop(opts: Options) -> Result<(), TuiError> {
    let backend = CrosstermBackend::new(BufWriter::with_capacity(1 << 16, io::stdout()));
    let mut term: Term = Terminal::new(backend).map_err(TuiError::Terminal)?;
    term.clear().map_err(TuiError::Terminal)?;

    let theme = Theme::new(&opts.config, opts.mono || Theme::no_color_requested());
    let mut app = App::new(opts.config.clone(), Instant::now(), crate::sys::now_epoch());
    if let Some(id) = opts.event {
        app.open_event(id);
    }

    let (conn_tx, conn_rx) = mpsc::channel(16);
    let (ev_tx, mut ev_rx) = mpsc::channel(256);
    tokio::spawn(connection::run(
        opts.socket.clone(),
        opts.daemon_uid,
        Backoff::from_config(&opts.config.tui),
        conn_rx,
        ev_tx,
    ));
    let (hist_reply_tx, mut hist_rx) = mpsc::unbounded_channel();
    let hist = history::spawn(opts.db.clone(), hist_reply_tx).map_err(TuiError::Start)?;
    let limit = opts.config.tui.tracked_max_history.max(1);
    let (key_tx, mut key_rx) = mpsc::channel(64);
    spawn_input(key_tx).map_err(TuiError::Start)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(TuiError::Start)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(TuiError::Start)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(TuiError::Start)?;

    let mut history_due = Instant::now();
    loop {
        let now = Instant::now();
        app.tick(now, crate::sys::now_epoch());
        if now >= history_due {
            let _ = hist.send(HistoryRequest::Events { limit });
            history_due = now + HISTORY_REFRESH;
        }
        for cmd in app.take_commands() {
            match cmd {
                Command::Quit => return Ok(()),
                Command::Capture { pid } => {
                    if conn_tx.try_send(ConnCommand::Capture { pid }).is_err() {
                        app.on_conn(connection::ConnEvent::CaptureNotSent {
                            pid,
                            reason: "the connection is busy; try again".into(),
                        });
                    }
                }
                Command::ReconnectNow => {
                    let _ = conn_tx.try_send(ConnCommand::ReconnectNow);
                }
                Command::RefreshHistory => {
                    let _ = hist.send(HistoryRequest::Events { limit });
                    history_due = now + HISTORY_REFRESH;
                }
                Command::LoadProcess { key, start_time } => {
                    let _ = hist.send(HistoryRequest::Process { key, start_time });
                }
                Command::LoadEvent { id } => {
                    let _ = hist.send(HistoryRequest::Event { id });
                }
                Command::LoadReplay { capture_id } => {
                    let _ = hist.send(HistoryRequest::Replay { capture_id });
                }
            }
        }
        if app.take_redraw() {
            draw(&mut term, &mut app, &theme)?;
        }
        let wake = app
            .next_wakeup()
            .map_or(history_due, |w| w.min(history_due));
        tokio::select! {
            input = key_rx.recv() => match input {
                Some(Event::Key(k)) => app.on_key(k),
                Some(Event::Resize(..)) => app.request_redraw(),
                Some(_) => {}
                // The terminal is gone.
                None => return Ok(()),
            },
            Some(ev) = ev_rx.recv() => app.on_conn(ev),
            Some(reply) = hist_rx.recv() => app.on_history(reply),
            () = tokio::time::sleep_until(wake.into()) => {}
            _ = sigterm.recv() => return Ok(()),
            _ = sigint.recv() => return Ok(()),
            _ = sighup.recv() => return Ok(()),
        }
    }
}

fn draw(term: &mut Term, app: &mut App, theme: &Theme) -> Result<(), TuiError> {
    let size = term.size().map_err(TuiError::Terminal)?;
    let area = Rect::new(0, 0, size.width, size.height);
    let spark = u16::try_from(app.config.tui.sparkline.height).unwrap_or(3);
    app.set_page(view::table_rows(area, spark));
    app.set_history_shown(view::history_shown(area, spark));
    if let Some(max) = view::detail_scroll_max(area, app, theme) {
        app.clamp_detail_scroll(max);
    }
    term.draw(|f| view::draw(f, app, theme))
        .map_err(TuiError::Terminal)?;
    Ok(())
}

/// Reads terminal events on a thread of its own until the loop stops listening.
fn spawn_input(tx: mpsc::Sender<Event>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("tui-input".into())
        .spawn(move || {
            while let Ok(ev) = crossterm::event::read() {
                if tx.blocking_send(ev).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Raw mode and the alternate screen while alive; the terminal as it was afterwards, also
/// after a panic.
struct TerminalGuard;

/// Whether the terminal is in the dashboard's modes, so it is restored exactly once (leaving
/// the alternate screen twice would move the cursor back over a panic message).
static ENTERED: AtomicBool = AtomicBool::new(false);

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        install_panic_restore();
        crossterm::terminal::enable_raw_mode()?;
        ENTERED.store(true, Ordering::SeqCst);
        let guard = TerminalGuard;
        crossterm::execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Leaves the alternate screen, shows the cursor and ends raw mode, once. Errors are ignored:
/// on a hang-up there is no terminal left to restore.
pub fn restore_terminal() {
    restore_into(&mut io::stdout());
}

fn restore_into(out: &mut impl Write) {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = crossterm::execute!(out, LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = out.flush();
    let _ = crossterm::terminal::disable_raw_mode();
}

/// A panic restores the terminal before its message is printed, so the message is readable.
fn install_panic_restore() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_is_restored_exactly_once() {
        // A second "leave the alternate screen" would move the cursor back over whatever was
        // printed after the first (a panic message): the guard's drop after the panic hook
        // must write nothing.
        ENTERED.store(true, Ordering::SeqCst);
        let mut first = Vec::new();
        restore_into(&mut first);
        let text = String::from_utf8(first).unwrap();
        assert!(text.contains("\x1b[?1049l"), "{text:?}");
        assert!(text.contains("\x1b[?25h"), "{text:?}");
        let mut second = Vec::new();
        restore_into(&mut second);
        assert!(second.is_empty());
    }
}
