//! The daemon's socket server: accepts local clients, greets them, fans samples and capture
//! notices out to them, and hands their requests to the daemon.
//!
//! The rule it keeps is the daemon's: **nothing stalls the sampler.** [`ServerHandle::broadcast_sample`]
//! is a plain function that encodes the message once and appends it to every client's own
//! bounded queue; it never awaits a client. A client that does not keep up loses its oldest
//! messages (counted), and one whose socket accepts nothing for the write timeout is dropped.
//!
//! Safety: the socket belongs in the private runtime dir (`Paths::ensure_runtime_dir`, 0700);
//! the socket file is 0600; every peer's credentials are checked (same uid or root); an existing
//! socket file is replaced only once a connection attempt proved no daemon answers on it. The
//! server does not stop two daemons racing to start: the daemon's `flock` does.

use super::protocol::{
    self, CaptureAnswer, ClientMessage, Hello, InitialState, LogLevel, MAX_CLIENT_LINE,
    ServerMessage,
};
use crate::model::Sample;
use crate::sync::lock;
use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Tunables of the server. The defaults suit the daemon; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Messages waiting per client before the oldest is dropped (64 ≈ 20 s of samples at 3 Hz).
    /// Frames are shared between clients, so memory is bounded by this, not by clients × this.
    pub queue_capacity: usize,
    /// A client whose socket accepts no message for this long is disconnected.
    pub write_timeout: Duration,
    /// Clients served at once. A new connection beyond this is still let in: the client that
    /// has been silent longest (one that never sent anything first) is told so and dropped, so
    /// a pile of idle connections cannot lock `status` or the dashboard out.
    pub max_clients: usize,
    /// How long a client's `capture` request waits for the daemon's answer. A capture is
    /// answered when it starts, after the one in flight: a 3 s profile, up to 4 s of
    /// symbolizing, the buffer and log parts, longer on a loaded machine.
    pub request_timeout: Duration,
    /// Client requests waiting for the daemon; when full, further requests are refused at once.
    pub request_backlog: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            queue_capacity: 64,
            write_timeout: Duration::from_secs(5),
            max_clients: 64,
            request_timeout: Duration::from_secs(25),
            request_backlog: 16,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error("another daemon is answering on {path}; stop it first (rogue-hunter status shows it)")]
    AlreadyRunning { path: PathBuf },
    #[error("{path} is a directory, not a socket; remove it")]
    IsADirectory { path: PathBuf },
    #[error("cannot check the existing socket {path}: {source}")]
    Probe {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot remove the stale socket {path}: {source}")]
    RemoveStale {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot listen on {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot make {path} private (0600): {source}")]
    Permissions {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Who is on the other end of a connection (from the kernel, not from the client's word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Connection number, unique for this server's life.
    pub id: u64,
    pub uid: u32,
    pub pid: Option<i32>,
}

/// A client's request the daemon must decide; answer through `reply` (dropping it refuses).
#[derive(Debug)]
pub enum ClientRequest {
    /// A manual forensic capture, of `pid` or of the current culprits.
    Capture {
        pid: Option<u32>,
        peer: Peer,
        reply: oneshot::Sender<CaptureAnswer>,
    },
}

/// Counters for metrics and the heartbeat. All but `clients` only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Clients connected now.
    pub clients: usize,
    /// Connections accepted (peer allowed) since start.
    pub accepted: u64,
    /// Connections dropped because the peer was another user.
    pub refused: u64,
    /// Idle clients dropped to make room for a new one (over `max_clients`).
    pub evicted: u64,
    /// Messages dropped from slow clients' queues (oldest first).
    pub messages_dropped: u64,
    /// Clients disconnected because their socket accepted nothing for the write timeout.
    pub slow_disconnects: u64,
    /// Client lines answered with an `error` (invalid JSON, not an object, unknown type, bad fields).
    pub bad_messages: u64,
    /// Clients dropped for a line over 1 MiB.
    pub oversize_disconnects: u64,
}

/// One encoded line, shared by every queue it is in.
type Frame = Arc<[u8]>;

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    evicted: AtomicU64,
    dropped: AtomicU64,
    slow: AtomicU64,
    bad: AtomicU64,
    oversize: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A client's bounded queue: the broadcaster appends without waiting, the client's writer task
/// takes from the front. Full → the oldest frame goes.
struct Outbox {
    state: Mutex<OutboxState>,
    ready: Notify,
    capacity: usize,
}

#[derive(Default)]
struct OutboxState {
    frames: VecDeque<Frame>,
    /// No more pushes; `pop` returns what is left, then `None`.
    closed: bool,
    dropped: u64,
}

impl Outbox {
    fn new(capacity: usize) -> Outbox {
        Outbox {
            state: Mutex::new(OutboxState::default()),
            ready: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    /// Appends `frame`; returns how many old frames were dropped to make room.
    fn push(&self, frame: &Frame) -> u64 {
        let mut st = lock(&self.state);
        if st.closed {
            return 0;
        }
        let mut dropped = 0;
        while st.frames.len() >= self.capacity {
            st.frames.pop_front();
            dropped += 1;
        }
        st.frames.push_back(Arc::clone(frame));
        st.dropped += dropped;
        drop(st);
        self.ready.notify_one();
        dropped
    }

    /// Stops further pushes; with `discard` also forgets what is queued.
    fn close(&self, discard: bool) {
        let mut st = lock(&self.state);
        st.closed = true;
        if discard {
            st.frames.clear();
        }
        drop(st);
        self.ready.notify_one();
    }

    /// The next frame; `None` once closed and empty.
    async fn pop(&self) -> Option<Frame> {
        loop {
            {
                let mut st = lock(&self.state);
                if let Some(f) = st.frames.pop_front() {
                    return Some(f);
                }
                if st.closed {
                    return None;
                }
            }
            // notify_one keeps a permit when nobody waits, so a push between the check above and
            // this await is not lost.
            self.ready.notified().await;
        }
    }

    fn dropped(&self) -> u64 {
        lock(&self.state).dropped
    }
}

/// When a client was last heard from, for choosing whom to drop when full.
#[derive(Debug)]
struct Activity {
    connected: Instant,
    /// The last line received; None while the client has never sent anything.
    heard: Mutex<Option<Instant>>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            connected: Instant::now(),
            heard: Mutex::new(None),
        }
    }

    fn heard_now(&self) {
        *lock(&self.heard) = Some(Instant::now());
    }

    /// Eviction order, first evicted first: never heard from (oldest connection first), then
    /// the longest silence.
    fn eviction_key(&self) -> (bool, Instant) {
        match *lock(&self.heard) {
            None => (false, self.connected),
            Some(t) => (true, t),
        }
    }
}

/// One connected client, as the registry knows it.
struct Entry {
    id: u64,
    outbox: Arc<Outbox>,
    activity: Arc<Activity>,
}

/// State the broadcaster and the accept path share, under one short lock so that a new client's
/// `initial_state` and its first live sample never overlap or leave a gap.
struct Registry {
    clients: Vec<Entry>,
    history: VecDeque<u8>,
    history_capacity: usize,
    last_seq: u64,
    /// The writer's health as of the newest sample, for new clients' `initial_state`.
    storage: protocol::StorageHealth,
}

impl Registry {
    fn record(&mut self, seq: u64, max_score: u8) {
        if self.history_capacity == 0 {
            return;
        }
        while self.history.len() >= self.history_capacity {
            self.history.pop_front();
        }
        self.history.push_back(max_score);
        self.last_seq = seq;
    }

    /// Appends `frame` to every client's queue; returns the number of frames dropped.
    fn push_all(&self, frame: &Frame) -> u64 {
        self.clients.iter().map(|c| c.outbox.push(frame)).sum()
    }
}

/// The socket file this server created, removed once (and only if it is still ours).
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
    removed: AtomicBool,
}

impl SocketFile {
    fn remove(&self) {
        if self.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the socket file");
                }
            }
            // Gone, or replaced by someone else's: leave it.
            _ => {}
        }
    }
}

struct Shared {
    registry: Mutex<Registry>,
    hello: Frame,
    pong: Frame,
    options: ServerOptions,
    counters: Counters,
    /// Taken at shutdown, so the daemon's receiver ends.
    requests: Mutex<Option<mpsc::Sender<ClientRequest>>>,
    shutdown: watch::Sender<bool>,
    socket: SocketFile,
    uid: u32,
    next_id: AtomicU64,
    eviction_log: Mutex<EvictionLog>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.socket.remove();
    }
}

/// The daemon's handle on the running server. Cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    accept_task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// Starts the socket server (see the module docs for the safety rules it applies).
pub struct Server;

impl Server {
    /// Binds `path` with default options. Must run inside a tokio runtime.
    pub async fn bind(
        path: &Path,
        hello: Hello,
    ) -> Result<(ServerHandle, mpsc::Receiver<ClientRequest>), IpcError> {
        Self::bind_with(path, hello, ServerOptions::default()).await
    }

    /// Binds `path`, replacing a stale socket file, and starts accepting. Client requests arrive
    /// on the returned receiver; dropping it makes the server refuse them.
    pub async fn bind_with(
        path: &Path,
        hello: Hello,
        options: ServerOptions,
    ) -> Result<(ServerHandle, mpsc::Receiver<ClientRequest>), IpcError> {
        let hello_frame = encode_frame(&ServerMessage::Hello(hello.clone()));
        let pong = encode_frame(&ServerMessage::Pong);
        clear_stale_socket(path).await?;
        let listener = UnixListener::bind(path).map_err(|source| IpcError::Bind {
            path: path.to_path_buf(),
            source,
        })?;
        // The runtime dir is 0700, so nobody else could connect in the instant before this.
        let meta = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::symlink_metadata(path));
        let meta = match meta {
            Ok(m) => m,
            Err(source) => {
                let _ = std::fs::remove_file(path);
                return Err(IpcError::Permissions {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let (requests, request_rx) = mpsc::channel(options.request_backlog.max(1));
        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry {
                clients: Vec::new(),
                history: VecDeque::new(),
                history_capacity: hello.ring_buffer_size as usize,
                last_seq: 0,
                storage: protocol::StorageHealth::default(),
            }),
            hello: hello_frame,
            pong,
            options,
            counters: Counters::default(),
            requests: Mutex::new(Some(requests)),
            shutdown: watch::channel(false).0,
            socket: SocketFile {
                path: path.to_path_buf(),
                dev: meta.dev(),
                ino: meta.ino(),
                removed: AtomicBool::new(false),
            },
            uid: crate::paths::effective_uid(),
            next_id: AtomicU64::new(1),
            eviction_log: Mutex::new(EvictionLog::default()),
        });
        let accept_task = tokio::spawn(accept_loop(Arc::clone(&shared), listener));
        tracing::info!(path = %path.display(), "socket server listening");
        Ok((
            ServerHandle {
                shared,
                accept_task: Arc::new(Mutex::new(Some(accept_task))),
            },
            request_rx,
        ))
    }
}

impl ServerHandle {
    /// Records the sample's max score for new clients' `initial_state` and queues its `sample`
    /// message to every client. Never waits: call it on every sample, with or without clients.
    pub fn broadcast_sample(&self, sample: &Sample, storage: &protocol::StorageHealth) {
        let mut reg = lock(&self.shared.registry);
        reg.record(sample.seq, sample.max_score);
        if reg.storage != *storage {
            reg.storage = storage.clone();
        }
        if reg.clients.is_empty() {
            return;
        }
        match protocol::encode_sample(sample, storage) {
            Ok(bytes) => {
                let dropped = reg.push_all(&Frame::from(bytes));
                add(&self.shared.counters.dropped, dropped);
            }
            Err(e) => tracing::warn!(error = %e, seq = sample.seq, "sample not sent to clients"),
        }
    }

    /// Queues a capture notice to every client. Never waits.
    pub fn notify_capture(&self, notice: &protocol::CaptureNotice) {
        self.broadcast(&ServerMessage::Capture(notice.clone()));
    }

    /// Queues any message to every client. Never waits.
    pub fn broadcast(&self, msg: &ServerMessage) {
        let reg = lock(&self.shared.registry);
        if reg.clients.is_empty() {
            return;
        }
        let dropped = reg.push_all(&encode_frame(msg));
        add(&self.shared.counters.dropped, dropped);
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        lock(&self.shared.registry).clients.len()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        ServerStats {
            clients: self.client_count(),
            accepted: c.accepted.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            messages_dropped: c.dropped.load(Ordering::Relaxed),
            slow_disconnects: c.slow.load(Ordering::Relaxed),
            bad_messages: c.bad.load(Ordering::Relaxed),
            oversize_disconnects: c.oversize.load(Ordering::Relaxed),
        }
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.shared.socket.path
    }

    /// Stops accepting, closes every connection, ends the request channel (the daemon's
    /// receiver then returns `None`) and removes the socket file. Idempotent.
    pub async fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        lock(&self.shared.requests).take();
        let clients = std::mem::take(&mut lock(&self.shared.registry).clients);
        for c in &clients {
            c.outbox.close(true);
        }
        let task = lock(&self.accept_task).take();
        if let Some(task) = task {
            // The accept loop sees the flag at once; its end drops the listener.
            let _ = task.await;
            tracing::info!(path = %self.path().display(), "socket server stopped");
        }
        self.shared.socket.remove();
    }
}

/// Encodes a server message; our own types always encode, but never panic if one did not.
fn encode_frame(msg: &ServerMessage) -> Frame {
    match protocol::encode(msg) {
        Ok(bytes) => Frame::from(bytes),
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode a message");
            Frame::from(&b"{\"type\":\"error\",\"message\":\"internal encoding error\"}\n"[..])
        }
    }
}

/// Makes room for the new socket: nothing there is fine; a socket (or anything else that is not
/// a directory) is removed only when connecting to it proves nobody listens.
async fn clear_stale_socket(path: &Path) -> Result<(), IpcError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(IpcError::Probe {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if meta.is_dir() {
        return Err(IpcError::IsADirectory {
            path: path.to_path_buf(),
        });
    }
    match tokio::time::timeout(Duration::from_secs(2), UnixStream::connect(path)).await {
        // Someone accepted (or is too busy to, which also means someone listens).
        Ok(Ok(_)) | Err(_) => {
            return Err(IpcError::AlreadyRunning {
                path: path.to_path_buf(),
            });
        }
        // Refused: a socket nobody listens on, or a plain file. NotFound: a dangling symlink,
        // or removed meanwhile.
        Ok(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) => {}
        Ok(Err(source)) => {
            return Err(IpcError::Probe {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "replaced a stale socket file (no daemon answered)");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(IpcError::RemoveStale {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Resolves once shutdown is signalled (or the server is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        let now = *rx.borrow_and_update();
        if now || rx.changed().await.is_err() {
            return;
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: UnixListener) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => admit(&shared, stream),
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Checks the peer's credentials and starts serving it, or turns it away.
fn admit(shared: &Arc<Shared>, stream: UnixStream) {
    let cred = match stream.peer_cred() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read peer credentials; connection dropped");
            add(&shared.counters.refused, 1);
            return;
        }
    };
    let peer = Peer {
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
        uid: cred.uid(),
        pid: cred.pid(),
    };
    if peer.uid != shared.uid && peer.uid != 0 {
        tracing::warn!(
            peer_uid = peer.uid,
            peer_pid = peer.pid,
            "connection from another user refused"
        );
        turn_away(
            shared,
            &stream,
            "connections from another user are not allowed",
        );
        return;
    }
    let outbox = Arc::new(Outbox::new(shared.options.queue_capacity));
    let activity = Arc::new(Activity::new());
    {
        let mut reg = lock(&shared.registry);
        while reg.clients.len() >= shared.options.max_clients.max(1) {
            evict_idlest(shared, &mut reg);
        }
        let initial = encode_frame(&ServerMessage::InitialState(InitialState {
            history: reg.history.iter().copied().collect(),
            last_seq: reg.last_seq,
            storage: reg.storage.clone(),
        }));
        outbox.push(&shared.hello);
        outbox.push(&initial);
        reg.clients.push(Entry {
            id: peer.id,
            outbox: Arc::clone(&outbox),
            activity: Arc::clone(&activity),
        });
    }
    add(&shared.counters.accepted, 1);
    tracing::debug!(
        client = peer.id,
        peer_uid = peer.uid,
        peer_pid = peer.pid,
        "client connected"
    );
    tokio::spawn(serve(Arc::clone(shared), stream, peer, outbox, activity));
}

/// Drops the client silent longest (see [`Activity::eviction_key`]) to make room: it is told
/// why, its queue is closed and it leaves the registry at once.
fn evict_idlest(shared: &Shared, reg: &mut Registry) {
    let Some(i) = reg
        .clients
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| c.activity.eviction_key())
        .map(|(i, _)| i)
    else {
        return;
    };
    let gone = reg.clients.swap_remove(i);
    let (spoke, since) = gone.activity.eviction_key();
    gone.outbox.push(&encode_frame(&ServerMessage::Error {
        message: "disconnected: too many clients, and this one was idle longest".into(),
    }));
    gone.outbox.close(false);
    add(&shared.counters.evicted, 1);
    let mut log = lock(&shared.eviction_log);
    log.suppressed += 1;
    if log.last.is_none_or(|t| t.elapsed() >= EVICTION_LOG_EVERY) {
        tracing::warn!(
            client = gone.id,
            idle_s = format!("{:.1}", since.elapsed().as_secs_f64()),
            ever_sent = spoke,
            evicted = log.suppressed,
            max_clients = shared.options.max_clients,
            "too many clients: dropped the one idle longest to let a new one in"
        );
        log.last = Some(Instant::now());
        log.suppressed = 0;
    }
}

/// At most one eviction line per this interval (a flood of connections would flood the log).
const EVICTION_LOG_EVERY: Duration = Duration::from_secs(10);

/// The eviction line's rate limit: when it was last written, evictions since.
#[derive(Default)]
struct EvictionLog {
    last: Option<Instant>,
    suppressed: u64,
}

/// One best-effort line of explanation, never waiting on the peer, then the connection drops.
fn turn_away(shared: &Shared, stream: &UnixStream, why: &str) {
    add(&shared.counters.refused, 1);
    if let Ok(line) = protocol::encode(&ServerMessage::Error {
        message: why.to_string(),
    }) {
        let _ = stream.try_write(&line);
    }
}

/// Why a client's input ended.
enum InputEnd {
    Eof,
    TooLong,
    Failed(io::Error),
}

async fn serve(
    shared: Arc<Shared>,
    stream: UnixStream,
    peer: Peer,
    outbox: Arc<Outbox>,
    activity: Arc<Activity>,
) {
    let (rd, wr) = stream.into_split();
    let mut stop = shared.shutdown.subscribe();
    let mut writing = pin!(write_loop(&shared, &outbox, wr));
    let reading = read_loop(&shared, &outbox, rd, peer, &activity);
    let reason = tokio::select! {
        end = reading => {
            let reason = match end {
                InputEnd::Eof => "closed".to_string(),
                InputEnd::TooLong => "sent a line over 1 MiB".to_string(),
                InputEnd::Failed(e) => format!("read error: {e}"),
            };
            // Deliver what is already queued (an error reply, say), within the write timeout.
            outbox.close(false);
            let _ = tokio::time::timeout(shared.options.write_timeout, &mut writing).await;
            reason
        }
        end = &mut writing => end,
        () = stopped(&mut stop) => "server shutdown".to_string(),
    };
    outbox.close(true);
    lock(&shared.registry).clients.retain(|c| c.id != peer.id);
    let dropped = outbox.dropped();
    tracing::debug!(client = peer.id, reason = %reason, dropped, "client disconnected");
}

/// Writes queued frames until the queue closes (`"closed"`) or the peer fails or stalls.
async fn write_loop(shared: &Shared, outbox: &Outbox, mut wr: OwnedWriteHalf) -> String {
    while let Some(frame) = outbox.pop().await {
        match tokio::time::timeout(shared.options.write_timeout, wr.write_all(&frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return format!("write error: {e}"),
            Err(_) => {
                add(&shared.counters.slow, 1);
                tracing::warn!(
                    timeout_ms = shared.options.write_timeout.as_millis() as u64,
                    dropped = outbox.dropped(),
                    "client read nothing for the write timeout; disconnected"
                );
                return "too slow".to_string();
            }
        }
    }
    "closed".to_string()
}

async fn read_loop(
    shared: &Shared,
    outbox: &Arc<Outbox>,
    rd: OwnedReadHalf,
    peer: Peer,
    activity: &Activity,
) -> InputEnd {
    let mut reader = BufReader::new(rd);
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if line.capacity() > 64 * 1024 {
            line = Vec::with_capacity(1024);
        }
        let limit = MAX_CLIENT_LINE as u64 + 1;
        match (&mut reader).take(limit).read_until(b'\n', &mut line).await {
            Ok(0) => return InputEnd::Eof,
            Ok(_) => {}
            Err(e) => return InputEnd::Failed(e),
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() > MAX_CLIENT_LINE {
            add(&shared.counters.oversize, 1);
            tracing::warn!(
                client = peer.id,
                "client sent a line over 1 MiB; disconnected"
            );
            reply(
                shared,
                outbox,
                &ServerMessage::Error {
                    message: format!("line longer than {MAX_CLIENT_LINE} bytes; disconnecting"),
                },
            );
            return InputEnd::TooLong;
        }
        // (A last line without a newline before EOF is still handled.)
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        activity.heard_now();
        handle_line(shared, outbox, &line, peer);
    }
}

fn reply(shared: &Shared, outbox: &Outbox, msg: &ServerMessage) {
    add(&shared.counters.dropped, outbox.push(&encode_frame(msg)));
}

fn handle_line(shared: &Shared, outbox: &Arc<Outbox>, line: &[u8], peer: Peer) {
    match protocol::decode_client(line) {
        Ok(ClientMessage::Ping) => add(&shared.counters.dropped, outbox.push(&shared.pong)),
        Ok(ClientMessage::Log {
            level,
            event,
            fields,
        }) => log_for_client(peer, level, &event, &fields),
        Ok(ClientMessage::Capture { pid }) => forward_capture(shared, outbox, peer, pid),
        Err(e) => {
            add(&shared.counters.bad, 1);
            tracing::debug!(client = peer.id, error = %e, "bad client message");
            reply(
                shared,
                outbox,
                &ServerMessage::Error {
                    message: e.to_string(),
                },
            );
        }
    }
}

/// Longest client-chosen text written to the daemon's log per field.
const MAX_LOGGED: usize = 4096;

fn clip(s: &str) -> &str {
    if s.len() <= MAX_LOGGED {
        return s;
    }
    let mut end = MAX_LOGGED;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Writes a client's `log` line at its (allow-listed) level. The client's fields stay inside
/// `fields`, so they can never pose as the daemon's own keys (`source`, `level`, …).
fn log_for_client(
    peer: Peer,
    level: LogLevel,
    event: &str,
    fields: &serde_json::Map<String, serde_json::Value>,
) {
    let fields = serde_json::Value::Object(fields.clone()).to_string();
    let (event, fields) = (clip(event), clip(&fields));
    macro_rules! emit {
        ($lvl:ident) => {
            tracing::$lvl!(
                source = "client",
                client = peer.id,
                peer_pid = peer.pid,
                event = %event,
                fields = %fields,
                "client: {event}"
            )
        };
    }
    match level {
        LogLevel::Debug => emit!(debug),
        LogLevel::Info => emit!(info),
        LogLevel::Warn => emit!(warn),
        LogLevel::Error => emit!(error),
    }
}

/// Hands a capture request to the daemon and answers the client when the daemon does, without
/// holding up this client's other messages.
fn forward_capture(shared: &Shared, outbox: &Arc<Outbox>, peer: Peer, pid: Option<u32>) {
    let refused = move |reason: &str| ServerMessage::CaptureRefused {
        reason: reason.to_string(),
        pid,
        retry_after_s: None,
    };
    let (tx, rx) = oneshot::channel();
    let request = ClientRequest::Capture {
        pid,
        peer,
        reply: tx,
    };
    let sent = match lock(&shared.requests).as_ref() {
        Some(tx) => tx.try_send(request),
        None => Err(mpsc::error::TrySendError::Closed(request)),
    };
    match sent {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            return reply(
                shared,
                outbox,
                &refused("the daemon is busy with other requests; try again"),
            );
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            return reply(
                shared,
                outbox,
                &refused("the daemon does not take capture requests now"),
            );
        }
    }
    let outbox = Arc::clone(outbox);
    let wait = shared.options.request_timeout;
    tokio::spawn(async move {
        let msg = match tokio::time::timeout(wait, rx).await {
            Ok(Ok(CaptureAnswer::Accepted { capture_id })) => {
                ServerMessage::CaptureAccepted { capture_id, pid }
            }
            Ok(Ok(CaptureAnswer::Refused { reason })) => ServerMessage::CaptureRefused {
                reason,
                pid,
                retry_after_s: None,
            },
            Ok(Ok(CaptureAnswer::TooSoon {
                reason,
                retry_after,
            })) => ServerMessage::CaptureRefused {
                reason,
                pid,
                // Rounded up to a tenth, so asking again then is never a little too early.
                retry_after_s: Some((retry_after.as_secs_f64() * 10.0).ceil() / 10.0),
            },
            Ok(Err(_)) => refused("the daemon dropped the request"),
            Err(_) => refused(&format!(
                "the daemon did not answer within {} s",
                wait.as_secs_f64()
            )),
        };
        // A closed outbox (client gone) ignores the push.
        outbox.push(&encode_frame(&msg));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Frame {
        Frame::from(vec![n])
    }

    #[tokio::test]
    async fn outbox_drops_the_oldest_and_counts() {
        let q = Outbox::new(3);
        let dropped: u64 = (1..=5).map(|n| q.push(&frame(n))).sum();
        assert_eq!(dropped, 2);
        assert_eq!(q.dropped(), 2);
        for want in 3..=5 {
            assert_eq!(&*q.pop().await.unwrap(), &[want]);
        }
        q.close(false);
        assert!(q.pop().await.is_none());
        assert_eq!(q.push(&frame(9)), 0, "closed queues take nothing");
    }

    #[tokio::test]
    async fn outbox_close_keeps_or_discards_what_is_queued() {
        let q = Outbox::new(4);
        q.push(&frame(1));
        q.close(false);
        assert_eq!(&*q.pop().await.unwrap(), &[1]);
        assert!(q.pop().await.is_none());
        let q = Outbox::new(4);
        q.push(&frame(1));
        q.close(true);
        assert!(q.pop().await.is_none());
    }

    #[tokio::test]
    async fn outbox_wakes_a_waiting_writer() {
        let q = Arc::new(Outbox::new(2));
        let waiter = tokio::spawn({
            let q = Arc::clone(&q);
            async move { q.pop().await }
        });
        tokio::task::yield_now().await;
        q.push(&frame(7));
        assert_eq!(&*waiter.await.unwrap().unwrap(), &[7]);
    }

    #[test]
    fn history_keeps_the_newest_ring_buffer_size_scores() {
        let mut reg = Registry {
            storage: Default::default(),
            clients: Vec::new(),
            history: VecDeque::new(),
            history_capacity: 3,
            last_seq: 0,
        };
        for seq in 1..=5u64 {
            reg.record(seq, seq as u8 * 10);
        }
        assert_eq!(reg.history, [30, 40, 50]);
        assert_eq!(reg.last_seq, 5);
    }

    #[test]
    fn client_log_lines_are_written_at_their_level_with_source_client() {
        use crate::ipc::client::Client;
        use crate::logging::Captured;
        use tokio::io::AsyncWriteExt;
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("d.sock");
                let hello = Hello::for_this_process(Duration::from_millis(333), 90);
                let (server, _rx) = Server::bind(&path, hello).await.unwrap();
                let mut c = Client::connect(&path).await.unwrap();
                for (level, event) in [
                    (LogLevel::Debug, "ev_debug"),
                    (LogLevel::Info, "ev_info"),
                    (LogLevel::Warn, "ev_warn"),
                    (LogLevel::Error, "ev_error"),
                ] {
                    let mut fields = serde_json::Map::new();
                    fields.insert("source".into(), serde_json::json!("daemon"));
                    fields.insert("path".into(), serde_json::json!("/x"));
                    c.log(level, event, fields).await.unwrap();
                }
                // Not on the allow-list: answered with an error, never logged.
                let mut raw = tokio::net::UnixStream::connect(&path).await.unwrap();
                raw.write_all(b"{\"type\":\"log\",\"level\":\"trace\",\"event\":\"ev_trace\"}\n")
                    .await
                    .unwrap();
                // Lines are handled in order: after the pong, every log above is written.
                c.ping().await.unwrap();
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while server.stats().bad_messages < 1 {
                    assert!(tokio::time::Instant::now() < deadline);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                server.shutdown().await;
            });
        });
        let text = out.text();
        for (level, event) in [
            ("DEBUG", "ev_debug"),
            ("INFO", "ev_info"),
            ("WARN", "ev_warn"),
            ("ERROR", "ev_error"),
        ] {
            let line = text
                .lines()
                .find(|l| l.contains(&format!("event={event}")))
                .unwrap_or_else(|| panic!("no line for {event} in:\n{text}"));
            assert!(line.contains(level), "{line}");
            assert!(line.contains("source=\"client\""), "{line}");
            // The client's own keys stay inside `fields`; they cannot pose as ours.
            assert!(
                line.contains(r#"fields={"path":"/x","source":"daemon"}"#),
                "{line}"
            );
        }
        assert!(!text.contains("event=ev_trace"), "{text}");
    }

    #[test]
    fn clip_respects_char_boundaries() {
        let s = "é".repeat(MAX_LOGGED);
        let c = clip(&s);
        assert!(c.len() <= MAX_LOGGED && c.len() >= MAX_LOGGED - 1);
        assert_eq!(clip("short"), "short");
    }
}
