//! Cost of `ServerHandle::broadcast_sample` — the one socket call on the daemon's per-sample
//! path — with 0, 1 and 8 connected clients and 20 rogues per sample, plus the encoding alone.
//!
//! Run: `cargo bench --bench ipc`. The clients read and discard raw bytes as fast as they can (a
//! TUI also decodes, but that is its own CPU, not the daemon's). Results: BENCHMARKS.md.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rogue_hunter::ipc::protocol::{Hello, encode_sample};
use rogue_hunter::ipc::{Server, ServerOptions};
use rogue_hunter::model::{Band, ProcessScore, Sample};
use std::hint::black_box;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// A sample like the daemon's: 300 processes, the top 20 sent to clients.
fn sample() -> Sample {
    let processes: Vec<ProcessScore> = (0..300u32)
        .map(|i| ProcessScore {
            pid: 1000 + i,
            command: format!("/usr/lib/some-process-{i} --flag"),
            captured_at: 1_700_000_000.25,
            cpu: 97.5 / f64::from(i + 1),
            mem: 123_456_789 + u64::from(i),
            mem_peak: 223_456_789,
            faults: 1_234_567,
            faults_rate: 1234.5,
            disk_io: 987_654_321,
            disk_io_rate: 65_536.25,
            csw: 4_567_890,
            csw_rate: 321.75,
            threads: 17,
            score: 90u32.saturating_sub(i) as u8,
            band: Band::High,
            cpu_share: 12.5,
            mem_share: 3.25,
            disproportionality: 7.125,
            ppid: 1,
            uid: 1000,
            start_time: 1_699_999_000.5,
            ..Default::default()
        })
        .collect();
    Sample {
        seq: 1,
        timestamp: 1_700_000_000.25,
        elapsed_ms: 4.5,
        process_count: processes.len(),
        max_score: 90,
        rogue_count: 20,
        access_denied: 0,
        processes,
        ..Default::default()
    }
}

fn broadcast(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut s = sample();
    eprintln!(
        "one sample line with 20 rogues: {} bytes",
        encode_sample(&s).unwrap().len()
    );
    let mut group = c.benchmark_group("ipc_broadcast_20_rogues");
    group.bench_function("encode_only", |b| {
        b.iter(|| encode_sample(black_box(&s)).unwrap())
    });
    for clients in [0usize, 1, 8] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.sock");
        let hello = Hello::for_this_process(Duration::from_millis(333), 90);
        let (server, _requests) = rt
            .block_on(Server::bind_with(&path, hello, ServerOptions::default()))
            .unwrap();
        for _ in 0..clients {
            let path = path.clone();
            rt.spawn(async move {
                let mut stream = tokio::net::UnixStream::connect(&path).await.unwrap();
                let mut buf = vec![0u8; 256 * 1024];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
        while server.client_count() < clients {
            std::thread::sleep(Duration::from_millis(1));
        }
        group.bench_with_input(BenchmarkId::new("clients", clients), &clients, |b, _| {
            b.iter(|| {
                s.seq += 1;
                server.broadcast_sample(black_box(&s));
            })
        });
        let stats = server.stats();
        eprintln!("clients={clients}: {stats:?}");
        rt.block_on(server.shutdown());
    }
    group.finish();
}

criterion_group!(benches, broadcast);
criterion_main!(benches);
