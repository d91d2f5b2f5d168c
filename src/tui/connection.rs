//! The dashboard's link to the daemon: a task that connects, forwards every message, sends
//! capture requests, and on any failure waits with exponential backoff and tries again, forever.

use crate::config::TuiConfig;
use crate::escape::escape_in_place;
use crate::ipc::protocol::{ClientMessage, Hello, LogLevel, ServerMessage};
use crate::ipc::{Client, ClientError};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Reconnect delays: `initial`, then × `multiplier` after each failure, capped at `max`
/// (defaults 1, 2, 4, 8, 16, 30, 30 … s). A successful connection starts over.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    initial: f64,
    max: f64,
    multiplier: f64,
    next: f64,
}

impl Backoff {
    pub fn new(initial: f64, max: f64, multiplier: f64) -> Backoff {
        // Validated config keeps these sane; guard anyway so a bad value never spins or sleeps
        // forever.
        let initial = if initial.is_finite() && initial > 0.0 {
            initial
        } else {
            1.0
        };
        let max = if max.is_finite() && max >= initial {
            max
        } else {
            initial.max(30.0)
        };
        let multiplier = if multiplier.is_finite() && multiplier >= 1.0 {
            multiplier
        } else {
            2.0
        };
        Backoff {
            initial,
            max,
            multiplier,
            next: initial,
        }
    }

    pub fn from_config(c: &TuiConfig) -> Backoff {
        Backoff::new(
            c.reconnect_initial_delay,
            c.reconnect_max_delay,
            c.reconnect_multiplier,
        )
    }

    /// The delay before the next attempt; the one after grows.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * self.multiplier).min(self.max);
        Duration::from_secs_f64(d)
    }

    /// After a successful connection.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// What the connection task reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnEvent {
    /// An attempt started.
    Connecting,
    /// Connected; the daemon said hello.
    Connected(Hello),
    /// A message from the daemon.
    Message(ServerMessage),
    /// The connection failed or ended.
    Lost { reason: String, not_running: bool },
    /// The next attempt is in `delay`.
    Waiting { delay: Duration },
    /// A capture request could not be sent (not connected, or the send failed).
    CaptureNotSent { pid: u32, reason: String },
}

/// What the UI asks of the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnCommand {
    /// Ask the daemon to capture this process.
    Capture { pid: u32 },
    /// Skip the rest of the backoff wait.
    ReconnectNow,
}

/// A user-facing reason for a failed or ended connection.
pub fn describe(e: &ClientError) -> String {
    match e {
        ClientError::NoSocket { .. } | ClientError::Refused { .. } => {
            "daemon not running".to_string()
        }
        other => other.to_string(),
    }
}

/// Runs until the UI drops its end of either channel. Only a daemon running as `daemon_uid`
/// is talked to (see [`Client::connect_to`]).
pub async fn run(
    socket: PathBuf,
    daemon_uid: u32,
    mut backoff: Backoff,
    mut commands: mpsc::Receiver<ConnCommand>,
    events: mpsc::Sender<ConnEvent>,
) {
    loop {
        if events.send(ConnEvent::Connecting).await.is_err() {
            return;
        }
        let (reason, not_running) = match Client::connect_to(&socket, daemon_uid).await {
            Ok(client) => {
                backoff.reset();
                match serve(client, &mut commands, &events).await {
                    Some(end) => end,
                    None => return,
                }
            }
            Err(e) => (describe(&e), e.is_not_running()),
        };
        if events
            .send(ConnEvent::Lost {
                reason,
                not_running,
            })
            .await
            .is_err()
        {
            return;
        }
        let delay = backoff.next_delay();
        if events.send(ConnEvent::Waiting { delay }).await.is_err() {
            return;
        }
        let wake = tokio::time::sleep(delay);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                () = &mut wake => break,
                cmd = commands.recv() => match cmd {
                    None => return,
                    Some(ConnCommand::ReconnectNow) => break,
                    Some(ConnCommand::Capture { pid }) => {
                        let refused = ConnEvent::CaptureNotSent {
                            pid,
                            reason: "not connected to the daemon".into(),
                        };
                        if events.send(refused).await.is_err() {
                            return;
                        }
                    }
                },
            }
        }
    }
}

/// Forwards messages until the connection ends: `Some((reason, not_running))`, or `None` when
/// the UI has gone.
async fn serve(
    mut client: Client,
    commands: &mut mpsc::Receiver<ConnCommand>,
    events: &mpsc::Sender<ConnEvent>,
) -> Option<(String, bool)> {
    let mut hello = client.hello().clone();
    escape_in_place(&mut hello.version);
    events.send(ConnEvent::Connected(hello)).await.ok()?;
    let mut fields = serde_json::Map::new();
    fields.insert(
        "path".into(),
        serde_json::Value::String(client.path().display().to_string()),
    );
    // Best effort: the daemon's log notes the dashboard; a failure shows up on the next read.
    let _ = client.log(LogLevel::Info, "tui_connected", fields).await;
    loop {
        tokio::select! {
            msg = client.next() => match msg {
                Ok(m) => events.send(ConnEvent::Message(printable(m))).await.ok()?,
                Err(e) => return Some((lost_reason(&e), false)),
            },
            cmd = commands.recv() => match cmd? {
                ConnCommand::ReconnectNow => {}
                ConnCommand::Capture { pid } => {
                    if let Err(e) = client.send(&ClientMessage::Capture { pid: Some(pid) }).await {
                        let reason = describe(&e);
                        events
                            .send(ConnEvent::CaptureNotSent { pid, reason: reason.clone() })
                            .await
                            .ok()?;
                        return Some((reason, false));
                    }
                }
            },
        }
    }
}

/// The daemon's message with every text a process or the daemon chose made printable, before
/// the dashboard keeps or draws any of it (see [`crate::escape`]).
pub fn printable(mut msg: ServerMessage) -> ServerMessage {
    match &mut msg {
        ServerMessage::Hello(h) => escape_in_place(&mut h.version),
        ServerMessage::Sample(s) => {
            for p in &mut s.rogues {
                escape_in_place(&mut p.command);
            }
            if let Some(e) = &mut s.storage.last_error {
                escape_in_place(e);
            }
        }
        ServerMessage::InitialState(s) => {
            if let Some(e) = &mut s.storage.last_error {
                escape_in_place(e);
            }
        }
        ServerMessage::CaptureRefused { reason, .. } => escape_in_place(reason),
        ServerMessage::Error { message } => escape_in_place(message),
        // Typed (trigger, part names, statuses) but for the database's error.
        ServerMessage::Capture(n) => {
            if let Some(e) = &mut n.not_stored {
                escape_in_place(e);
            }
        }
        ServerMessage::CaptureAccepted { .. } | ServerMessage::Pong => {}
    }
    msg
}

fn lost_reason(e: &ClientError) -> String {
    match e {
        ClientError::Closed => "lost connection to the daemon".to_string(),
        other => describe(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::protocol::{InitialState, encode};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::UnixListener;

    #[test]
    fn daemon_texts_are_made_printable_before_the_dashboard_sees_them() {
        use crate::tui::testing::{process, sample};
        let evil = "evil\x1b[2J\x1b]0;pwned\x07\nname";
        let shown = "evil\\x1b[2J\\x1b]0;pwned\\x07\\nname";
        let msg = printable(ServerMessage::Sample(sample(
            1,
            0.0,
            vec![process(1, evil, 80), process(2, "ok", 10)],
        )));
        let ServerMessage::Sample(s) = msg else {
            panic!("still a sample")
        };
        assert_eq!(s.rogues[0].command, shown);
        assert_eq!(s.rogues[1].command, "ok");
        let msg = printable(ServerMessage::CaptureRefused {
            reason: evil.into(),
            pid: None,
            retry_after_s: None,
        });
        assert_eq!(
            msg,
            ServerMessage::CaptureRefused {
                reason: shown.into(),
                pid: None,
                retry_after_s: None,
            }
        );
        let mut hello = Hello::for_this_process(Duration::from_millis(333), 90);
        hello.version = evil.into();
        let ServerMessage::Hello(h) = printable(ServerMessage::Hello(hello)) else {
            panic!("still a hello")
        };
        assert_eq!(h.version, shown);
    }

    fn delays(b: &mut Backoff, n: usize) -> Vec<f64> {
        (0..n).map(|_| b.next_delay().as_secs_f64()).collect()
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_starts_over_after_a_success() {
        let mut b = Backoff::from_config(&TuiConfig::default());
        assert_eq!(delays(&mut b, 7), [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]);
        b.reset();
        assert_eq!(delays(&mut b, 2), [1.0, 2.0]);
        let mut fast = Backoff::new(0.5, 3.0, 3.0);
        assert_eq!(delays(&mut fast, 4), [0.5, 1.5, 3.0, 3.0]);
    }

    #[test]
    fn nonsense_backoff_values_fall_back_to_sane_ones() {
        let mut b = Backoff::new(0.0, f64::NAN, 0.5);
        assert_eq!(delays(&mut b, 3), [1.0, 2.0, 4.0]);
        let mut b = Backoff::new(5.0, 1.0, 2.0);
        assert_eq!(delays(&mut b, 4), [5.0, 10.0, 20.0, 30.0]);
    }

    /// A minimal daemon on a real socket: hello, initial_state, one sample, then it hangs up.
    async fn fake_daemon(listener: UnixListener, hang_up: bool) -> Vec<String> {
        let (stream, _) = listener.accept().await.unwrap();
        let (rd, mut wr) = stream.into_split();
        let hello = Hello::for_this_process(Duration::from_millis(333), 90);
        wr.write_all(&encode(&ServerMessage::Hello(hello)).unwrap())
            .await
            .unwrap();
        wr.write_all(
            &encode(&ServerMessage::InitialState(InitialState {
                storage: Default::default(),
                history: vec![1, 2, 3],
                last_seq: 3,
            }))
            .unwrap(),
        )
        .await
        .unwrap();
        let mut lines = BufReader::new(rd).lines();
        let mut got = Vec::new();
        // tui_connected, then the capture request.
        for _ in 0..2 {
            got.push(lines.next_line().await.unwrap().unwrap());
        }
        if hang_up {
            return got;
        }
        std::future::pending::<()>().await;
        got
    }

    #[tokio::test]
    async fn connects_forwards_sends_and_reconnects_after_a_hang_up() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("d.sock");
        let (cmd_tx, cmd_rx) = mpsc::channel(8);
        let (ev_tx, mut ev_rx) = mpsc::channel(64);
        let task = tokio::spawn(run(
            sock.clone(),
            crate::paths::effective_uid(),
            Backoff::new(0.05, 0.2, 2.0),
            cmd_rx,
            ev_tx,
        ));
        // No daemon yet: not running, then a wait of the first delay.
        assert_eq!(ev_rx.recv().await.unwrap(), ConnEvent::Connecting);
        match ev_rx.recv().await.unwrap() {
            ConnEvent::Lost {
                reason,
                not_running,
            } => {
                assert!(not_running);
                assert_eq!(reason, "daemon not running");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ev_rx.recv().await.unwrap(),
            ConnEvent::Waiting {
                delay: Duration::from_millis(50)
            }
        );
        // A capture while waiting is answered locally.
        cmd_tx.send(ConnCommand::Capture { pid: 7 }).await.unwrap();
        assert!(matches!(
            ev_rx.recv().await.unwrap(),
            ConnEvent::CaptureNotSent { pid: 7, .. }
        ));
        let listener = UnixListener::bind(&sock).unwrap();
        let daemon = tokio::spawn(fake_daemon(listener, true));
        cmd_tx.send(ConnCommand::ReconnectNow).await.unwrap();
        loop {
            match ev_rx.recv().await.unwrap() {
                ConnEvent::Connected(h) => {
                    assert_eq!(h.pid, std::process::id());
                    break;
                }
                ConnEvent::Connecting | ConnEvent::Lost { .. } | ConnEvent::Waiting { .. } => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            ev_rx.recv().await.unwrap(),
            ConnEvent::Message(ServerMessage::InitialState(_))
        ));
        cmd_tx.send(ConnCommand::Capture { pid: 42 }).await.unwrap();
        let got = daemon.await.unwrap();
        assert!(got[0].contains("tui_connected"), "{got:?}");
        assert_eq!(got[1], r#"{"type":"capture","pid":42}"#);
        match ev_rx.recv().await.unwrap() {
            ConnEvent::Lost { reason, .. } => {
                assert_eq!(reason, "lost connection to the daemon")
            }
            other => panic!("{other:?}"),
        }
        // The backoff started over after the successful connection.
        assert_eq!(
            ev_rx.recv().await.unwrap(),
            ConnEvent::Waiting {
                delay: Duration::from_millis(50)
            }
        );
        drop(ev_rx);
        drop(cmd_tx);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the task ends when the UI is gone")
            .unwrap();
    }
}
