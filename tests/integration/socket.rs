//! The socket protocol against the real daemon (real sampler, real pipeline, real server):
//! what clients receive, what a client that never reads costs the others, and garbage input.
//! The in-process server tests are in `ipc.rs`; these check the wiring in the daemon.

use crate::daemon_fixture::{Daemon, TEST_CONFIG};
use rogue_hunter::ipc::{Client, PROTOCOL_VERSION, ServerMessage};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// A failure-only limit: tests end as soon as what they wait for happens.
const PATIENCE: Duration = Duration::from_secs(30);

async fn next(c: &mut Client) -> ServerMessage {
    tokio::time::timeout(PATIENCE, c.next())
        .await
        .expect("a message in time")
        .expect("a message")
}

/// The next sample's (seq, timestamp), skipping other messages.
async fn next_sample(c: &mut Client) -> (u64, f64) {
    loop {
        if let ServerMessage::Sample(s) = next(c).await {
            return (s.seq, s.timestamp);
        }
    }
}

fn assert_strictly_increasing(seqs: &[u64]) {
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq not strictly increasing: {seqs:?}"
    );
}

/// The daemon's JSON log lines so far.
fn log_lines(d: &Daemon) -> Vec<serde_json::Value> {
    std::fs::read_to_string(d.env.root().join("state/rogue-hunter/daemon.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `seq` of every heartbeat logged so far.
fn heartbeat_seqs(d: &Daemon) -> Vec<u64> {
    log_lines(d)
        .iter()
        .filter(|v| v["message"] == "heartbeat")
        .filter_map(|v| v["seq"].as_u64())
        .collect()
}

async fn connect(d: &Daemon) -> Client {
    tokio::time::timeout(PATIENCE, Client::connect(d.socket()))
        .await
        .expect("connected in time")
        .expect("connected")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_get_hello_initial_state_then_the_same_increasing_samples() {
    let d = Daemon::start(TEST_CONFIG);
    let mut a = connect(&d).await;
    let mut b = connect(&d).await;
    for c in [&a, &b] {
        let h = c.hello();
        assert_eq!(h.protocol, PROTOCOL_VERSION);
        assert_eq!(h.pid, d.pid, "the daemon's own pid");
        assert_eq!(h.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(h.sample_interval_ms, 200, "[system] sample_interval = 0.2");
        assert!(h.ring_buffer_size > 0);
    }
    let mut last_seqs = Vec::new();
    for c in [&mut a, &mut b] {
        match next(c).await {
            ServerMessage::InitialState(s) => {
                assert!(s.history.len() <= d_ring(c));
                last_seqs.push(s.last_seq);
            }
            other => panic!("expected initial_state second, got {other:?}"),
        }
    }
    let mut seqs = [Vec::new(), Vec::new()];
    for (i, c) in [&mut a, &mut b].into_iter().enumerate() {
        for _ in 0..15 {
            match next(c).await {
                ServerMessage::Sample(s) => {
                    assert!(s.process_count > 0 && !s.rogues.is_empty());
                    seqs[i].push(s.seq);
                }
                other => panic!("expected only samples, got {other:?}"),
            }
        }
        assert!(seqs[i][0] > last_seqs[i], "live samples follow the history");
        assert_strictly_increasing(&seqs[i]);
    }
    // Both got the same broadcast: where their ranges overlap, the same seqs.
    let overlap = |x: &[u64], y: &[u64]| -> Vec<u64> {
        let (lo, hi) = (x[0].max(y[0]), x[x.len() - 1].min(y[y.len() - 1]));
        x.iter()
            .copied()
            .filter(|s| (lo..=hi).contains(s))
            .collect()
    };
    let (oa, ob) = (overlap(&seqs[0], &seqs[1]), overlap(&seqs[1], &seqs[0]));
    assert!(oa.len() >= 10, "{seqs:?}");
    assert_eq!(oa, ob);
}

fn d_ring(c: &Client) -> usize {
    c.hello().ring_buffer_size as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_delays_nobody_and_is_dropped() {
    let d = Daemon::start(TEST_CONFIG);
    // Connected, never reads: its socket buffer fills after a few samples, then the daemon's
    // per-client queue, then the write timeout drops it.
    let stuck = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    let mut good = connect(&d).await;
    assert!(matches!(
        next(&mut good).await,
        ServerMessage::InitialState(_)
    ));

    let mut seqs = Vec::new();
    let dropped_at_seq = loop {
        let (seq, _) = next_sample(&mut good).await;
        seqs.push(seq);
        let dropped = log_lines(&d)
            .iter()
            .any(|v| v["message"] == "client read nothing for the write timeout; disconnected");
        if dropped {
            break seq;
        }
        assert!(
            seqs.len() < 600,
            "the stuck client was never dropped; daemon output:\n{}",
            d.output()
        );
    };
    // The good client missed nothing while the other one was stuck: every sample, in order.
    assert_strictly_increasing(&seqs);
    let gaps: Vec<(u64, u64)> = seqs
        .windows(2)
        .filter(|w| w[1] != w[0] + 1)
        .map(|w| (w[0], w[1]))
        .collect();
    assert!(gaps.is_empty(), "the good client lost samples: {gaps:?}");
    assert!(
        seqs.len() >= 10,
        "the drop took a while (socket buffer, queue, write timeout): {seqs:?}"
    );

    // It kept pace with the sampler: what the daemon has already logged (heartbeat) and
    // recorded (last sample time) reaches the good client within a few messages, without gaps.
    let beats = heartbeat_seqs(&d);
    let newest_beat = *beats.last().expect("heartbeats were logged");
    let recorded = d
        .last_sample_time()
        .expect("the daemon records its samples");
    let mut behind = 0;
    let mut last = (dropped_at_seq, 0.0);
    while last.0 < newest_beat || last.1 < recorded {
        last = next_sample(&mut good).await;
        assert_eq!(last.0, *seqs.last().unwrap() + 1, "no gap after the drop");
        seqs.push(last.0);
        behind += 1;
    }
    assert!(
        behind <= 5,
        "the good client was {behind} samples behind the daemon (heartbeat {newest_beat})"
    );

    // From the stuck client's side: what the kernel had buffered, then the end.
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut &stuck, &mut got).expect("end of stream, not a timeout");
    assert!(got.starts_with(br#"{"type":"hello""#));
    let lines = got.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    assert!(
        lines >= 3,
        "it had been sent a few samples before it stalled"
    );
}

async fn raw(
    path: &Path,
) -> (
    BufReader<tokio::net::unix::OwnedReadHalf>,
    tokio::net::unix::OwnedWriteHalf,
) {
    let (rd, wr) = UnixStream::connect(path).await.unwrap().into_split();
    (BufReader::new(rd), wr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_garbage_is_answered_or_disconnected_while_sampling_goes_on() {
    let d = Daemon::start(TEST_CONFIG);
    let mut good = connect(&d).await;
    let (first, _) = next_sample(&mut good).await;

    // Answered with an error; the connection stays usable.
    let (mut rd, mut wr) = raw(&d.socket()).await;
    let answered: [(&[u8], &str); 7] = [
        (b"{not json\n", "invalid JSON"),
        (b"\xff\xfe\x00\x01binary\x02\n", "invalid JSON"),
        (b"[1,2,3]\n", "expected a JSON object"),
        (b"\"ping\"\n", "expected a JSON object"),
        (
            b"{\"type\":\"shutdown\"}\n",
            "unknown message type \"shutdown\"",
        ),
        (b"{\"no\":\"type\"}\n", "missing string field \"type\""),
        (
            b"{\"type\":\"log\",\"level\":\"trace\",\"event\":\"x\"}\n",
            "trace",
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
    wr.write_all(b"{\"type\":\"ping\"}\n").await.unwrap();
    assert_eq!(
        crate::common::next_answer(&mut rd, PATIENCE)
            .await
            .as_deref(),
        Some("pong")
    );
    // A valid log line from a client lands in the daemon's log, marked as such.
    wr.write_all(
        b"{\"type\":\"log\",\"level\":\"warn\",\"event\":\"garbage_test\",\"fields\":{\"k\":1}}\n",
    )
    .await
    .unwrap();
    wr.write_all(b"{\"type\":\"ping\"}\n").await.unwrap();
    assert_eq!(
        crate::common::next_answer(&mut rd, PATIENCE)
            .await
            .as_deref(),
        Some("pong")
    );

    // Over 1 MiB without a newline, as text and as binary: an error, then the hang-up.
    let text = vec![b'a'; 2 * 1024 * 1024];
    let binary: Vec<u8> = (0..2 * 1024 * 1024u32)
        .map(|i| (i % 251) as u8 | 1)
        .filter(|&b| b != b'\n')
        .collect();
    for data in [text, binary] {
        let (mut rd, mut wr) = raw(&d.socket()).await;
        let _ = wr.write_all(&data).await; // the daemon may hang up before it is all written
        let message = crate::common::next_answer(&mut rd, PATIENCE)
            .await
            .expect("an error before the hang-up");
        assert!(message.contains("longer than"), "{message}");
        assert_eq!(
            crate::common::next_answer(&mut rd, PATIENCE).await,
            None,
            "then end of stream"
        );
    }

    // The good client never noticed, and the daemon kept sampling and recording.
    let mut seqs = vec![first];
    for _ in 0..10 {
        seqs.push(next_sample(&mut good).await.0);
    }
    assert_strictly_increasing(&seqs);
    let before = d.last_sample_time().unwrap();
    d.wait_until(PATIENCE, "the daemon to record more samples", || {
        d.last_sample_time().unwrap_or(0.0) > before
    });
    let logged = log_lines(&d);
    assert!(
        logged.iter().any(|v| v["source"] == "client"
            && v["event"] == "garbage_test"
            && v["level"] == "WARN"),
        "the client's log line is in the daemon log"
    );
    // A new client is served as usual.
    let mut fresh = connect(&d).await;
    assert!(fresh.ping().await.is_ok());
}
