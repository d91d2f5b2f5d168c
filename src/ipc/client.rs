//! The client side of the socket, for the CLI and the TUI.
//!
//! [`Client::connect`] tells "not running" (no socket, or a stale one nobody listens on) apart
//! from "not allowed" and from real failures, and returns once the daemon said `hello`.
//! [`Client::next`] is cancel-safe, so a TUI can `select!` on it alongside key events.

use super::protocol::{
    self, CaptureAnswer, ClientMessage, DecodeError, EncodeError, Hello, LogLevel, MAX_SERVER_LINE,
    PROTOCOL_VERSION, ServerMessage,
};
use crate::escape::Escaped;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// How long `connect` waits for the daemon's `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a send may wait for the socket.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `ping` waits for `pong`.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `request_capture` waits for the daemon's decision (the server gives the daemon 25 s,
/// enough to finish a profiled capture already in flight on a loaded machine).
pub const CAPTURE_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking to the daemon. The messages are meant for users.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the daemon is not running (no socket at {path})")]
    NoSocket { path: PathBuf },
    #[error("the daemon is not running (stale socket at {path}: nothing listens on it)")]
    Refused { path: PathBuf },
    #[error("permission denied connecting to {path} (is the daemon running as another user?)")]
    PermissionDenied { path: PathBuf },
    #[error("cannot connect to {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("not connecting: {0}")]
    UntrustedDir(#[source] crate::paths::PathsError),
    #[error(
        "not talking to the process answering on {path}: it runs as uid {uid}, and the daemon \
         runs as uid {expected}; someone else may have planted it (remove the socket's directory)"
    )]
    WrongPeer {
        path: PathBuf,
        uid: u32,
        expected: u32,
    },
    #[error("the daemon turned this connection away: {}", Escaped(.0))]
    Rejected(String),
    #[error(
        "the daemon speaks protocol {theirs} and this client {ours}: run the same rogue-hunter version"
    )]
    VersionMismatch { ours: u32, theirs: u32 },
    #[error("the daemon did not answer in time ({0})")]
    Timeout(&'static str),
    #[error("the daemon closed the connection")]
    Closed,
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    #[error("unexpected message from the daemon: {}", Escaped(.0))]
    Protocol(String),
    #[error("a line from the daemon is longer than {MAX_SERVER_LINE} bytes")]
    LineTooLong,
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("cannot start a runtime for the blocking client: {0}")]
    Runtime(#[source] io::Error),
    #[error("the blocking client was called inside an async runtime; use Client there")]
    InsideRuntime,
}

impl ClientError {
    /// True when the daemon is simply not running (no socket, or a stale one).
    pub fn is_not_running(&self) -> bool {
        matches!(
            self,
            ClientError::NoSocket { .. } | ClientError::Refused { .. }
        )
    }

    /// Maps a failed `connect` to what it means for the user.
    fn from_connect(path: &Path, source: io::Error) -> ClientError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound => ClientError::NoSocket { path },
            io::ErrorKind::ConnectionRefused => ClientError::Refused { path },
            io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { path },
            _ => ClientError::Connect { path, source },
        }
    }
}

/// A connection to the daemon, past its `hello`.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    hello: Hello,
    /// Messages read while waiting for a reply, handed out by `next` first.
    pending: VecDeque<ServerMessage>,
    /// The line being read; kept across calls so a cancelled read loses nothing.
    line: Vec<u8>,
    path: PathBuf,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("path", &self.path)
            .field("hello", &self.hello)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to this user's daemon at `path`; see [`Client::connect_to`].
    pub async fn connect(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        Self::connect_to(path, crate::paths::effective_uid()).await
    }

    /// Connects to the daemon at `path` that runs as `daemon_uid` (see
    /// [`crate::paths::Paths::daemon_uid`]) and waits (up to [`HELLO_TIMEOUT`]) for its `hello`.
    ///
    /// Whatever listens there is trusted with capture requests and has its words printed, so
    /// first the socket's directory must pass the daemon's own checks (a directory, not a
    /// symlink, owned by `daemon_uid`, not writable by others) — a planted
    /// `/tmp/rogue-hunter-<uid>` is never connected to — and then the kernel must confirm that
    /// the process on the other end runs as `daemon_uid` (`SO_PEERCRED`).
    pub async fn connect_to(
        path: impl AsRef<Path>,
        daemon_uid: u32,
    ) -> Result<Client, ClientError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            match crate::paths::check_private_dir(dir, daemon_uid) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(ClientError::NoSocket {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) => return Err(ClientError::UntrustedDir(e)),
            }
        }
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| ClientError::from_connect(path, e))?;
        let peer = stream.peer_cred()?.uid();
        if peer != daemon_uid {
            return Err(ClientError::WrongPeer {
                path: path.to_path_buf(),
                uid: peer,
                expected: daemon_uid,
            });
        }
        let (rd, writer) = stream.into_split();
        let mut client = Client {
            reader: BufReader::new(rd),
            writer,
            hello: Hello {
                protocol: 0,
                version: String::new(),
                pid: 0,
                sample_interval_ms: 0,
                ring_buffer_size: 0,
            },
            pending: VecDeque::new(),
            line: Vec::new(),
            path: path.to_path_buf(),
        };
        let first = tokio::time::timeout(HELLO_TIMEOUT, client.read_message())
            .await
            .map_err(|_| ClientError::Timeout("waiting for hello"))?;
        match first {
            Ok(ServerMessage::Hello(hello)) if hello.protocol == PROTOCOL_VERSION => {
                client.hello = hello;
                Ok(client)
            }
            Ok(ServerMessage::Hello(hello)) => Err(ClientError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs: hello.protocol,
            }),
            Ok(ServerMessage::Error { message }) => Err(ClientError::Rejected(message)),
            Ok(other) => Err(ClientError::Protocol(format!(
                "expected hello first, got {}",
                type_name(&other)
            ))),
            Err(e) => Err(e),
        }
    }

    /// The daemon's greeting.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The socket this client is connected to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next message from the daemon (after `hello`: `initial_state`, then live messages).
    /// Cancel-safe. Message types this version does not know are skipped.
    pub async fn next(&mut self) -> Result<ServerMessage, ClientError> {
        if let Some(msg) = self.pending.pop_front() {
            return Ok(msg);
        }
        self.read_message().await
    }

    /// Sends one message (up to [`SEND_TIMEOUT`]).
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        let line = protocol::encode(msg)?;
        tokio::time::timeout(SEND_TIMEOUT, self.writer.write_all(&line))
            .await
            .map_err(|_| ClientError::Timeout("sending"))??;
        Ok(())
    }

    /// Writes a line to the daemon's log.
    pub async fn log(
        &mut self,
        level: LogLevel,
        event: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ClientError> {
        self.send(&ClientMessage::Log {
            level,
            event: event.to_string(),
            fields,
        })
        .await
    }

    /// Round trip to the daemon. Messages arriving meanwhile stay queued for `next`.
    pub async fn ping(&mut self) -> Result<Duration, ClientError> {
        let start = Instant::now();
        self.send(&ClientMessage::Ping).await?;
        self.wait_for(PING_TIMEOUT, "waiting for pong", |m| {
            matches!(m, ServerMessage::Pong).then_some(())
        })
        .await?;
        Ok(start.elapsed())
    }

    /// Asks for a manual capture (of `pid`, or of the current culprits) and returns the daemon's
    /// decision. When accepted, `capture` notices with the returned id follow on `next`.
    pub async fn request_capture(
        &mut self,
        pid: Option<u32>,
    ) -> Result<CaptureAnswer, ClientError> {
        self.send(&ClientMessage::Capture { pid }).await?;
        self.wait_for(
            CAPTURE_REPLY_TIMEOUT,
            "waiting for the capture decision",
            |m| match m {
                ServerMessage::CaptureAccepted { capture_id, .. } => {
                    Some(CaptureAnswer::Accepted {
                        capture_id: *capture_id,
                    })
                }
                ServerMessage::CaptureRefused {
                    reason,
                    retry_after_s: Some(s),
                    ..
                } if s.is_finite() && *s >= 0.0 => Some(CaptureAnswer::TooSoon {
                    reason: reason.clone(),
                    retry_after: Duration::from_secs_f64(s.min(86_400.0)),
                }),
                ServerMessage::CaptureRefused { reason, .. } => Some(CaptureAnswer::Refused {
                    reason: reason.clone(),
                }),
                _ => None,
            },
        )
        .await
    }

    /// Reads until `pick` accepts a message; the others are kept for `next`.
    async fn wait_for<T>(
        &mut self,
        limit: Duration,
        what: &'static str,
        mut pick: impl FnMut(&ServerMessage) -> Option<T>,
    ) -> Result<T, ClientError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.read_message())
                .await
                .map_err(|_| ClientError::Timeout(what))??;
            if let Some(found) = pick(&msg) {
                return Ok(found);
            }
            self.pending.push_back(msg);
        }
    }

    /// Reads and decodes one line. Cancel-safe: partial input stays in `self.line`.
    async fn read_message(&mut self) -> Result<ServerMessage, ClientError> {
        loop {
            let budget = (MAX_SERVER_LINE + 1).saturating_sub(self.line.len()) as u64;
            let n = (&mut self.reader)
                .take(budget)
                .read_until(b'\n', &mut self.line)
                .await?;
            if self.line.last() == Some(&b'\n') {
                let decoded = protocol::decode_server(&self.line[..self.line.len() - 1]);
                self.line.clear();
                match decoded {
                    Ok(msg) => return Ok(msg),
                    // A newer daemon's addition: not for us.
                    Err(DecodeError::UnknownType(_)) => continue,
                    Err(e) => return Err(ClientError::Protocol(e.to_string())),
                }
            }
            if self.line.len() > MAX_SERVER_LINE {
                return Err(ClientError::LineTooLong);
            }
            if n == 0 {
                return Err(ClientError::Closed);
            }
        }
    }
}

fn type_name(msg: &ServerMessage) -> &'static str {
    match msg {
        ServerMessage::Hello(_) => "hello",
        ServerMessage::InitialState(_) => "initial_state",
        ServerMessage::Sample(_) => "sample",
        ServerMessage::Capture(_) => "capture",
        ServerMessage::CaptureAccepted { .. } => "capture_accepted",
        ServerMessage::CaptureRefused { .. } => "capture_refused",
        ServerMessage::Pong => "pong",
        ServerMessage::Error { .. } => "error",
    }
}

/// Runs `fut` to completion on a fresh current-thread runtime: for one-shot CLI commands.
/// Refuses (rather than panics) when called from inside a runtime.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, ClientError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(ClientError::InsideRuntime);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)?;
    Ok(rt.block_on(fut))
}

/// Is this user's daemon answering on `path`? Connects, reads its `hello`, disconnects, all
/// within `timeout`. Blocking; see [`block_on`].
pub fn probe(path: &Path, timeout: Duration) -> Result<Hello, ClientError> {
    block_on(async {
        match tokio::time::timeout(timeout, Client::connect(path)).await {
            Ok(Ok(client)) => Ok(client.hello),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ClientError::Timeout("connecting")),
        }
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_say_what_they_mean() {
        let p = Path::new("/run/x/daemon.sock");
        let kinds = [
            (libc::ENOENT, "NoSocket"),
            (libc::ECONNREFUSED, "Refused"),
            (libc::EACCES, "PermissionDenied"),
            (libc::EPERM, "PermissionDenied"),
            (libc::ENAMETOOLONG, "Connect"),
        ];
        for (errno, want) in kinds {
            let e = ClientError::from_connect(p, io::Error::from_raw_os_error(errno));
            assert!(format!("{e:?}").starts_with(want), "{errno}: {e:?}");
            assert_eq!(e.is_not_running(), want == "NoSocket" || want == "Refused");
            assert!(e.to_string().contains("/run/x/daemon.sock"), "{e}");
        }
    }

    #[test]
    fn probe_of_a_missing_socket_says_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let err = probe(&dir.path().join("none.sock"), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, ClientError::NoSocket { .. }), "{err:?}");
        assert!(err.is_not_running());
    }

    #[tokio::test]
    async fn blocking_helpers_refuse_inside_a_runtime() {
        let err = probe(Path::new("/nonexistent.sock"), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, ClientError::InsideRuntime), "{err:?}");
    }
}
