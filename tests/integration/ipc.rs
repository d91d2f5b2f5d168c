//! The socket server and client over real Unix sockets, with an in-process server fed by a fake
//! sample stream (the daemon wires the real sampler in later).

use rogue_hunter::ipc::protocol::{CaptureNotice, CaptureState, Hello, InitialState};
use rogue_hunter::ipc::{
    CaptureAnswer, Client, ClientError, ClientRequest, IpcError, Server, ServerHandle,
    ServerMessage, ServerOptions, client,
};
use rogue_hunter::model::{Band, ProcessScore, Sample};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

/// Long enough for a loaded CI machine; tests finish as soon as the condition holds.
const PATIENCE: Duration = Duration::from_secs(20);
const RING: u32 = 90;

fn hello() -> Hello {
    Hello::for_this_process(Duration::from_millis(333), RING)
}

/// A sample shaped like the daemon's: 20 rogues at the front of 200 processes.
fn sample(seq: u64) -> Sample {
    let processes: Vec<ProcessScore> = (0..200u32)
        .map(|i| ProcessScore {
            pid: 1000 + i,
            command: format!("worker-{i}, \"quoted\""),
            captured_at: 1_700_000_000.0 + seq as f64 / 3.0,
            cpu: 100.0 - f64::from(i) / 2.0,
            mem: 1 << 28,
            score: 90u32.saturating_sub(i) as u8,
            band: Band::High,
            start_time: 1_699_000_000.0 + f64::from(i),
            ..Default::default()
        })
        .collect();
    Sample {
        seq,
        timestamp: 1_700_000_000.0 + seq as f64 / 3.0,
        elapsed_ms: 4.0,
        process_count: processes.len(),
        max_score: (seq % 101) as u8,
        rogue_count: 20,
        access_denied: 0,
        processes,
        ..Default::default()
    }
}

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    server: ServerHandle,
    requests: Option<mpsc::Receiver<ClientRequest>>,
}

async fn start(options: ServerOptions) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("daemon.sock");
    let (server, requests) = Server::bind_with(&path, hello(), options).await.unwrap();
    Fixture {
        _dir: dir,
        path,
        server,
        requests: Some(requests),
    }
}

/// Broadcasts samples `from..` every `every` until `stop` is set; returns the last seq sent.
fn feed(
    server: ServerHandle,
    from: u64,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut seq = from;
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            server.broadcast_sample(&sample(seq));
            if stop.load(Ordering::SeqCst) {
                return seq;
            }
            seq += 1;
        }
    })
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next(c: &mut Client) -> ServerMessage {
    tokio::time::timeout(PATIENCE, c.next())
        .await
        .expect("a message in time")
        .expect("a message")
}

/// Reads samples until one with `seq >= until`; returns every seq seen.
async fn read_samples_until(c: &mut Client, until: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    loop {
        match next(c).await {
            ServerMessage::Sample(s) => {
                assert_eq!(s.rogues.len(), 20);
                seqs.push(s.seq);
                if s.seq >= until {
                    return seqs;
                }
            }
            other => panic!("expected a sample, got {other:?}"),
        }
    }
}

fn assert_strictly_increasing(seqs: &[u64]) {
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq not strictly increasing: {seqs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_get_hello_initial_state_then_increasing_samples() {
    let f = start(ServerOptions::default()).await;
    for seq in 1..=5 {
        f.server.broadcast_sample(&sample(seq));
    }
    let mut a = Client::connect(&f.path).await.unwrap();
    let mut b = Client::connect(&f.path).await.unwrap();
    for c in [&a, &b] {
        let h = c.hello();
        assert_eq!(h, &hello());
        assert_eq!(h.pid, std::process::id());
        assert_eq!(h.ring_buffer_size, RING);
        assert_eq!(h.sample_interval_ms, 333);
    }
    for c in [&mut a, &mut b] {
        assert_eq!(
            next(c).await,
            ServerMessage::InitialState(InitialState {
                history: vec![1, 2, 3, 4, 5],
                last_seq: 5
            })
        );
    }
    assert_eq!(f.server.client_count(), 2);

    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(f.server.clone(), 6, Duration::from_millis(5), stop.clone());
    let (sa, sb) = tokio::join!(
        read_samples_until(&mut a, 40),
        read_samples_until(&mut b, 40)
    );
    stop.store(true, Ordering::SeqCst);
    feeder.await.unwrap();
    for seqs in [sa, sb] {
        assert_eq!(seqs[0], 6, "the first live sample follows the history");
        assert_strictly_increasing(&seqs);
    }
    assert_eq!(f.server.stats().accepted, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_capped_at_the_ring_buffer_size() {
    let f = start(ServerOptions::default()).await;
    for seq in 1..=200 {
        f.server.broadcast_sample(&sample(seq));
    }
    let mut c = Client::connect(&f.path).await.unwrap();
    match next(&mut c).await {
        ServerMessage::InitialState(s) => {
            assert_eq!(s.history.len(), RING as usize);
            assert_eq!(s.last_seq, 200);
            let want: Vec<u8> = (111..=200).map(|seq| (seq % 101) as u8).collect();
            assert_eq!(s.history, want);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_holds_up_nobody_and_is_dropped() {
    let f = start(ServerOptions {
        // The queue overflows (32 samples at 5 ms) well before the write timeout fires.
        queue_capacity: 32,
        write_timeout: Duration::from_millis(500),
        ..ServerOptions::default()
    })
    .await;
    // Connected, never reads: its socket buffer fills within a few samples.
    let stuck = std::os::unix::net::UnixStream::connect(&f.path).unwrap();
    let mut good = Client::connect(&f.path).await.unwrap();
    assert!(matches!(
        next(&mut good).await,
        ServerMessage::InitialState(_)
    ));
    wait_until("both clients registered", || f.server.client_count() == 2).await;

    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(f.server.clone(), 1, Duration::from_millis(5), stop.clone());
    // Read until the stuck client has been dropped, then 50 samples more.
    let mut seqs = Vec::new();
    let mut until = None;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck client was never dropped: {:?}",
            f.server.stats()
        );
        match next(&mut good).await {
            ServerMessage::Sample(s) => seqs.push(s.seq),
            other => panic!("{other:?}"),
        }
        let last = *seqs.last().unwrap();
        if until.is_none() && f.server.stats().slow_disconnects == 1 {
            until = Some(last + 50);
        }
        if until.is_some_and(|u| last >= u) {
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let last_sent = feeder.await.unwrap();

    let stats = f.server.stats();
    assert_eq!(stats.slow_disconnects, 1, "{stats:?}");
    assert!(
        stats.messages_dropped > 0,
        "the stuck client lost its oldest messages while the broadcaster went on: {stats:?}"
    );
    assert_eq!(f.server.client_count(), 1);
    assert_strictly_increasing(&seqs);
    assert_eq!(seqs[0], 1);
    // The good client kept pace: it has everything up to what the feeder had sent when it
    // stopped reading, and the stuck one never made the broadcaster wait (it is a plain call).
    assert!(last_sent >= *seqs.last().unwrap());

    // From the stuck client's side: what the kernel buffered, then end of stream.
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let n = std::io::Read::read_to_end(&mut &stuck, &mut got).unwrap();
    assert!(n > 0);
    let first_line = got.split(|&b| b == b'\n').next().unwrap();
    assert!(first_line.starts_with(br#"{"type":"hello""#));
}

async fn raw_connect(
    path: &Path,
) -> (
    BufReader<tokio::net::unix::OwnedReadHalf>,
    tokio::net::unix::OwnedWriteHalf,
) {
    let (rd, wr) = UnixStream::connect(path).await.unwrap().into_split();
    (BufReader::new(rd), wr)
}

/// Writes `data`, then reads to the end: the server must answer with an error and hang up.
async fn assert_dropped_after(path: &Path, data: &[u8]) -> String {
    let (mut rd, mut wr) = raw_connect(path).await;
    // The server may hang up before the whole 2 MiB is written; that is the point.
    let _ = wr.write_all(data).await;
    let message = crate::common::next_answer(&mut rd, PATIENCE)
        .await
        .expect("an error before the hang-up");
    assert_eq!(
        crate::common::next_answer(&mut rd, PATIENCE).await,
        None,
        "then end of stream"
    );
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_answered_or_disconnected_while_samples_flow() {
    let f = start(ServerOptions::default()).await;
    let mut good = Client::connect(&f.path).await.unwrap();
    assert!(matches!(
        next(&mut good).await,
        ServerMessage::InitialState(_)
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(f.server.clone(), 1, Duration::from_millis(10), stop.clone());
    let before = read_samples_until(&mut good, 3).await;

    let (mut rd, mut wr) = raw_connect(&f.path).await;
    let answered: [(&[u8], &str); 7] = [
        (b"{not json\n", "invalid JSON"),
        (b"\xff\xfe\x00\x01\x02binary\n", "invalid JSON"),
        (b"[1,2,3]\n", "expected a JSON object"),
        (b"42\n", "expected a JSON object"),
        (b"{\"no\":\"type\"}\n", "missing string field \"type\""),
        (
            b"{\"type\":\"shutdown\"}\n",
            "unknown message type \"shutdown\"",
        ),
        (
            b"{\"type\":\"log\",\"level\":\"trace\",\"event\":\"x\"}\n",
            "unknown variant `trace`",
        ),
    ];
    for (line, want) in answered {
        wr.write_all(line).await.unwrap();
        let got = crate::common::next_answer(&mut rd, PATIENCE)
            .await
            .expect("an answer, not a hang-up");
        assert!(
            got.contains(want),
            "{:?} → {got}",
            String::from_utf8_lossy(line)
        );
    }
    // The same connection still works.
    wr.write_all(b"{\"type\":\"ping\"}\n").await.unwrap();
    assert_eq!(
        crate::common::next_answer(&mut rd, PATIENCE)
            .await
            .as_deref(),
        Some("pong")
    );

    let mut long = vec![b'a'; 2 * 1024 * 1024];
    long.push(b'\n');
    assert!(
        assert_dropped_after(&f.path, &long)
            .await
            .contains("longer than")
    );
    let binary: Vec<u8> = (0..2 * 1024 * 1024u32)
        .map(|i| (i % 251) as u8 | 1)
        .filter(|&b| b != b'\n')
        .collect();
    assert!(
        assert_dropped_after(&f.path, &binary)
            .await
            .contains("longer than")
    );

    // The good client never noticed.
    let after = read_samples_until(&mut good, before.last().unwrap() + 10).await;
    stop.store(true, Ordering::SeqCst);
    feeder.await.unwrap();
    let mut all = before;
    all.extend(after);
    assert_strictly_increasing(&all);
    let stats = f.server.stats();
    assert_eq!(stats.bad_messages, 7, "{stats:?}");
    assert_eq!(stats.oversize_disconnects, 2, "{stats:?}");
    drop((rd, wr));
    wait_until("garbage clients gone", || f.server.client_count() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_requests_reach_the_daemon_and_get_its_answer() {
    let mut f = start(ServerOptions::default()).await;
    let mut requests = f.requests.take().unwrap();
    let server = f.server.clone();
    let daemon = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(ClientRequest::Capture { pid, peer, reply }) = requests.recv().await {
            seen.push((pid, peer.uid, peer.pid));
            if pid == Some(0) {
                let _ = reply.send(CaptureAnswer::Refused {
                    reason: "pid 0 is not a process".into(),
                });
                continue;
            }
            let capture_id = 100 + i64::from(pid.unwrap_or(0));
            let _ = reply.send(CaptureAnswer::Accepted { capture_id });
            for state in [CaptureState::Started, CaptureState::Done] {
                server.notify_capture(&CaptureNotice {
                    capture_id,
                    event_id: None,
                    trigger: rogue_hunter::model::Trigger::Manual,
                    state,
                    statuses: if state == CaptureState::Done {
                        BTreeMap::from([(
                            rogue_hunter::model::CapturePart::Stacks,
                            rogue_hunter::model::PartStatus::Success,
                        )])
                    } else {
                        BTreeMap::new()
                    },
                });
            }
        }
        seen
    });

    let mut c = Client::connect(&f.path).await.unwrap();
    assert_eq!(
        c.request_capture(Some(5)).await.unwrap(),
        CaptureAnswer::Accepted { capture_id: 105 }
    );
    // Messages that arrived while waiting for the decision are not lost.
    let mut states = Vec::new();
    while states.len() < 2 {
        match next(&mut c).await {
            ServerMessage::Capture(n) => {
                assert_eq!(n.capture_id, 105);
                states.push(n.state);
            }
            ServerMessage::InitialState(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(states, [CaptureState::Started, CaptureState::Done]);
    assert_eq!(
        c.request_capture(Some(0)).await.unwrap(),
        CaptureAnswer::Refused {
            reason: "pid 0 is not a process".into()
        }
    );
    assert!(c.ping().await.is_ok());
    drop(c);

    // Stopping the daemon's side of the channel: requests are refused, not left hanging.
    f.server.shutdown().await;
    let seen = daemon.await.unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, Some(5));
    assert_eq!(seen[0].1, rogue_hunter::paths::effective_uid());
    assert_eq!(seen[0].2, Some(std::process::id() as i32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_requests_are_refused_when_the_daemon_cannot_answer() {
    let mut f = start(ServerOptions {
        request_timeout: Duration::from_millis(200),
        ..ServerOptions::default()
    })
    .await;
    let mut requests = f.requests.take().unwrap();
    let mut c = Client::connect(&f.path).await.unwrap();
    // The daemon takes the request but never answers.
    let (answer, held) = tokio::join!(c.request_capture(None), requests.recv());
    match answer.unwrap() {
        CaptureAnswer::Refused { reason } => assert!(reason.contains("did not answer"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The daemon drops a request unanswered.
    let (answer, _) = tokio::join!(c.request_capture(Some(3)), async {
        drop(requests.recv().await)
    });
    match answer.unwrap() {
        CaptureAnswer::Refused { reason } => assert!(reason.contains("dropped"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The daemon no longer listens for requests at all.
    drop(requests);
    drop(held);
    match c.request_capture(Some(3)).await.unwrap() {
        CaptureAnswer::Refused { reason } => assert!(reason.contains("does not take"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_is_private_and_removed_on_shutdown() {
    let f = start(ServerOptions::default()).await;
    let mode = std::fs::metadata(&f.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let mut c = Client::connect(&f.path).await.unwrap();
    assert!(matches!(next(&mut c).await, ServerMessage::InitialState(_)));
    f.server.shutdown().await;
    assert!(!f.path.exists(), "socket file removed");
    assert!(matches!(c.next().await, Err(ClientError::Closed)));
    let err = Client::connect(&f.path).await.unwrap_err();
    assert!(matches!(err, ClientError::NoSocket { .. }), "{err:?}");
    // A second shutdown is harmless.
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_left_behind_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("daemon.sock");
    // A daemon that died: its socket file stays, nobody listens.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let err = Client::connect(&path).await.unwrap_err();
    assert!(matches!(err, ClientError::Refused { .. }), "{err:?}");
    assert!(err.is_not_running());
    assert!(err.to_string().contains("not running"), "{err}");

    let (server, _rx) = Server::bind(&path, hello()).await.unwrap();
    let c = Client::connect(&path).await.unwrap();
    assert_eq!(c.hello(), &hello());
    server.shutdown().await;

    // A plain file in the way.
    std::fs::write(&path, b"not a socket").unwrap();
    let (server, _rx) = Server::bind(&path, hello()).await.unwrap();
    assert!(Client::connect(&path).await.is_ok());
    server.shutdown().await;

    // A directory is not ours to remove.
    std::fs::create_dir(&path).unwrap();
    let err = Server::bind(&path, hello()).await.err().unwrap();
    assert!(matches!(err, IpcError::IsADirectory { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_server_is_not_stolen() {
    let f = start(ServerOptions::default()).await;
    let mut second = hello();
    second.ring_buffer_size = 7;
    let err = Server::bind(&f.path, second).await.err().unwrap();
    assert!(matches!(err, IpcError::AlreadyRunning { .. }), "{err}");
    assert!(err.to_string().contains("another daemon"), "{err}");
    // The first server still owns the path and answers.
    let c = Client::connect(&f.path).await.unwrap();
    assert_eq!(c.hello().ring_buffer_size, RING);
    assert_eq!(f.server.stats().accepted, 2, "the probe and this client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_beyond_the_limit_are_told_so() {
    let f = start(ServerOptions {
        max_clients: 1,
        ..ServerOptions::default()
    })
    .await;
    let _first = Client::connect(&f.path).await.unwrap();
    let err = Client::connect(&f.path).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Rejected(m) if m.contains("too many clients")),
        "{err:?}"
    );
    assert_eq!(f.server.stats().refused, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_probe_sees_a_live_daemon_and_a_dead_one() {
    let f = start(ServerOptions::default()).await;
    let path = f.path.clone();
    let hello_seen = std::thread::spawn(move || client::probe(&path, Duration::from_secs(5)))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(hello_seen, hello());
    f.server.shutdown().await;
    let path = f.path.clone();
    let err = std::thread::spawn(move || client::probe(&path, Duration::from_secs(5)))
        .join()
        .unwrap()
        .unwrap_err();
    assert!(err.is_not_running(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_denied_is_reported_as_such() {
    if rogue_hunter::paths::effective_uid() == 0 {
        eprintln!("skipped: root ignores file permissions (the other-uid test covers root)");
        return;
    }
    let f = start(ServerOptions::default()).await;
    std::fs::set_permissions(&f.path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let err = Client::connect(&f.path).await.unwrap_err();
    assert!(
        matches!(err, ClientError::PermissionDenied { .. }),
        "{err:?}"
    );
}

/// What a child of another uid saw when connecting.
#[derive(Debug, PartialEq, Eq)]
enum Stranger {
    /// `connect` failed with this errno.
    ConnectFailed(i32),
    /// Connected; the server answered `error` and hung up without a `hello`.
    TurnedAway,
    /// Connected and was greeted: the check failed.
    Greeted,
    /// Anything else (exit code).
    Other(i32),
}

/// Forks a child that becomes uid/gid 65534 **before** connecting, then reads what the server
/// sends until it hangs up. The child only makes raw system calls (safe after fork).
fn connect_as_nobody(path: &Path) -> Stranger {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    assert!(bytes.len() < addr.sun_path.len());
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: after fork the child only calls async-signal-safe functions on memory prepared
    // before the fork, and leaves with _exit.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        unsafe {
            libc::alarm(10);
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                libc::_exit(90);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 {
                libc::_exit(91);
            }
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if libc::connect(fd, &addr as *const _ as *const libc::sockaddr, len) != 0 {
                let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(92);
                libc::_exit(if errno < 64 { errno } else { 92 });
            }
            let mut buf = [0u8; 4096];
            let mut used = 0usize;
            let has = |got: &[u8], needle: &[u8]| got.windows(needle.len()).any(|w| w == needle);
            // Until the server hangs up; a greeting ends it at once (a live connection would
            // never hang up).
            loop {
                let n = libc::read(fd, buf.as_mut_ptr().add(used) as *mut _, buf.len() - used);
                if n <= 0 {
                    break;
                }
                used += n as usize;
                if has(&buf[..used], b"\"hello\"") {
                    libc::_exit(101);
                }
                if used == buf.len() {
                    break;
                }
            }
            let code = if has(&buf[..used], b"\"type\":\"error\"") {
                100
            } else {
                102
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let rc = unsafe { libc::waitpid(child, &mut status, 0) };
    assert_eq!(rc, child);
    assert!(libc::WIFEXITED(status), "child died: {status}");
    match libc::WEXITSTATUS(status) {
        100 => Stranger::TurnedAway,
        101 => Stranger::Greeted,
        e if e < 64 => Stranger::ConnectFailed(e),
        other => Stranger::Other(other),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_another_uid_is_refused() {
    if rogue_hunter::paths::effective_uid() != 0 {
        eprintln!("skipped: needs root to connect as another uid (uid 65534)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("rt");
    // The real layout: a private runtime dir. Another user cannot even reach the socket.
    rogue_hunter::paths::ensure_private_dir(&runtime, 0).unwrap();
    let path = runtime.join("daemon.sock");
    let (server, _rx) = Server::bind(&path, hello()).await.unwrap();
    let p = path.clone();
    let seen = tokio::task::spawn_blocking(move || connect_as_nobody(&p))
        .await
        .unwrap();
    assert_eq!(seen, Stranger::ConnectFailed(libc::EACCES));

    // Open both file-system doors on purpose: the credential check alone must turn it away.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let p = path.clone();
    let seen = tokio::task::spawn_blocking(move || connect_as_nobody(&p))
        .await
        .unwrap();
    assert_eq!(seen, Stranger::TurnedAway);
    let stats = server.stats();
    assert_eq!(stats.refused, 1, "{stats:?}");
    assert_eq!(stats.accepted, 0, "{stats:?}");
    assert_eq!(server.client_count(), 0);
    // Root itself is allowed.
    assert!(Client::connect(&path).await.is_ok());
    server.shutdown().await;
}
