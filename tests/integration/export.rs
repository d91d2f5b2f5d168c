//! The Prometheus exporter over loopback: scraped by a real HTTP client while samples are fed
//! in, its output checked by `promtool check metrics`, and its label set bounded.

use rogue_hunter::export::{MetricsState, serve};
use rogue_hunter::model::{Band, ProcessScore, Sample};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A sample whose top processes run commands `cmd-<first>` … `cmd-<first + n - 1>`.
fn sample(seq: u64, first: usize, n: usize) -> Arc<Sample> {
    let processes: Vec<ProcessScore> = (0..n)
        .map(|i| ProcessScore {
            pid: 1000 + i as u32,
            command: format!("cmd-{}", first + i),
            score: 90u8.saturating_sub(i as u8),
            cpu: 10.0 * i as f64,
            mem: 1 << 20,
            disk_io_rate: 4096.0,
            wakeups_rate: 3.0,
            ..Default::default()
        })
        .collect();
    Arc::new(Sample {
        seq,
        timestamp: 1_800_000_000.0 + seq as f64,
        elapsed_ms: 4.0,
        process_count: processes.len(),
        max_score: processes.first().map_or(0, |p| p.score),
        rogue_count: n.min(20),
        access_denied: 0,
        processes,
        ..Default::default()
    })
}

/// A running exporter on 127.0.0.1 with its shutdown switch.
struct Exporter {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Exporter {
    fn start(state: Arc<MetricsState>) -> Exporter {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = rt
            .block_on(serve("127.0.0.1:0".parse().unwrap(), state, async {
                let _ = rx.await;
            }))
            .unwrap();
        Exporter {
            rt,
            addr: server.local_addr,
            stop: Some(tx),
            task: Some(server.task),
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await });
        }
    }
}

/// A plain HTTP/1.1 request over TCP; returns the status line, the headers and the body.
fn raw_request(addr: SocketAddr, method: &str, path: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_lowercase(), body.to_string())
}

/// Scrapes with curl when installed (a real client), else with the raw request.
fn scrape(addr: SocketAddr) -> String {
    if crate::common::which("curl").is_some() {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "10"])
            .arg(format!("http://{addr}/metrics"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return String::from_utf8(out.stdout).unwrap();
    }
    eprintln!("note: curl is not installed; scraping with a raw HTTP request");
    let (status, _, body) = raw_request(addr, "GET", "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    body
}

fn promtool_check(text: &str) {
    if crate::common::which("promtool").is_none() {
        eprintln!(
            "skipped: promtool is not installed (apt-get install prometheus); format not checked"
        );
        return;
    }
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn scraped_over_loopback_while_samples_arrive_and_promtool_accepts_it() {
    let state = Arc::new(MetricsState::new(5).unwrap());
    let exporter = Exporter::start(Arc::clone(&state));

    // The "pipeline": a sample every 5 ms with changing commands, until told to stop.
    let running = Arc::new(AtomicBool::new(true));
    let feeder = {
        let state = Arc::clone(&state);
        let running = Arc::clone(&running);
        std::thread::spawn(move || {
            let mut seq = 0u64;
            while running.load(Ordering::Relaxed) && seq < 20_000 {
                seq += 1;
                state.observe_sample(&sample(seq, (seq % 7) as usize, 8), 0.004);
                state.set_tracked(&[(Band::Critical, 1), (Band::High, 2)]);
                if seq.is_multiple_of(10) {
                    state.inc_events();
                    state.inc_capture(rogue_hunter::model::CaptureOutcome::Success);
                    state.add_overruns(1);
                }
                state.set_writer((seq % 3) as usize, 0);
                state.set_dropped_client_messages(seq / 100);
                std::thread::sleep(Duration::from_millis(5));
            }
            seq
        })
    };

    // Wait for the first samples, then scrape several times while they keep coming.
    while value(&state.render(), "rogue_hunter_samples_total").unwrap_or(0.0) < 3.0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut last_samples = 0.0;
    let mut body = String::new();
    for _ in 0..5 {
        body = scrape(exporter.addr);
        let samples = value(&body, "rogue_hunter_samples_total").unwrap();
        assert!(samples >= last_samples, "counter went backwards");
        last_samples = samples;
        promtool_check(&body);
        std::thread::sleep(Duration::from_millis(30));
    }
    running.store(false, Ordering::Relaxed);
    let fed = feeder.join().unwrap();
    assert!(last_samples >= 3.0 && last_samples <= fed as f64);

    for needed in [
        "rogue_hunter_sampler_pass_seconds_bucket{le=\"0.005\"}",
        "rogue_hunter_sampler_overruns_total",
        "rogue_hunter_processes 8",
        "rogue_hunter_tracked_processes{band=\"high\"} 2",
        "rogue_hunter_captures_total{status=\"success\"}",
        "rogue_hunter_client_messages_dropped_total",
        "rogue_hunter_writer_queue_depth",
        "rogue_hunter_top_process_score{command=\"cmd-",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(body.contains(needed), "{needed} missing:\n{body}");
    }
    assert!(!body.contains("pid="), "never labelled by pid");
}

#[test]
fn only_metrics_is_served() {
    let state = Arc::new(MetricsState::new(3).unwrap());
    let exporter = Exporter::start(state);
    let (status, headers, body) = raw_request(exporter.addr, "GET", "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    assert!(body.contains("# TYPE rogue_hunter_samples_total counter"));
    let (status, _, body) = raw_request(exporter.addr, "GET", "/");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(body.contains("/metrics"));
    let (status, headers, _) = raw_request(exporter.addr, "POST", "/metrics");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert!(headers.contains("allow: get, head"));
    let (status, _, body) = raw_request(exporter.addr, "HEAD", "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.is_empty());
}

#[test]
fn label_set_stays_bounded_when_many_commands_pass_through() {
    let top_n = 5;
    let state = Arc::new(MetricsState::new(top_n).unwrap());
    let exporter = Exporter::start(Arc::clone(&state));
    let mut seen = std::collections::BTreeSet::new();
    for seq in 0..2_000u64 {
        // Every sample brings 5 commands never seen before, and 3 more outside the top-N.
        state.observe_sample(&sample(seq, seq as usize * 8, 8), 0.001);
        if seq.is_multiple_of(200) {
            let body = scrape(exporter.addr);
            for line in body.lines().filter(|l| l.contains("command=\"")) {
                seen.insert(line.split('"').nth(1).unwrap().to_string());
            }
            for family in [
                "rogue_hunter_top_process_score{",
                "rogue_hunter_top_process_cpu_percent{",
                "rogue_hunter_top_process_memory_bytes{",
                "rogue_hunter_top_processes{",
            ] {
                let series = body.lines().filter(|l| l.starts_with(family)).count();
                assert_eq!(series, top_n, "{family} has {series} series");
            }
        }
    }
    assert!(
        seen.len() > top_n * 5,
        "the top-N really changed ({seen:?})"
    );
    let body = scrape(exporter.addr);
    let labels: std::collections::BTreeSet<_> = body
        .lines()
        .filter(|l| l.contains("command=\""))
        .map(|l| l.split('"').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(labels.len(), top_n, "{labels:?}");
    promtool_check(&body);
}

/// The exporter of a real daemon, scraped while it samples.
#[test]
fn a_running_daemon_serves_metrics_that_promtool_accepts() {
    let config = format!(
        "{}\n[metrics]\nlisten = \"127.0.0.1:0\"\ntop_n = 5\n",
        crate::daemon_fixture::TEST_CONFIG
    );
    let d = crate::daemon_fixture::Daemon::start(&config);
    let addr = || -> Option<SocketAddr> {
        let out = d.output();
        let line = out
            .lines()
            .find(|l| l.contains("serving Prometheus metrics"))?;
        line.split("addr=")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    d.wait_until(
        std::time::Duration::from_secs(10),
        "the metrics address",
        || addr().is_some(),
    );
    let addr = addr().unwrap();
    let first = scrape(addr);
    promtool_check(&first);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let second = scrape(addr);
    let samples = |t: &str| value(t, "rogue_hunter_samples_total").unwrap_or(0.0);
    assert!(
        samples(&second) > samples(&first),
        "samples_total grows while the daemon samples"
    );
    assert!(value(&second, "rogue_hunter_processes").is_some_and(|n| n > 1.0));
    assert!(value(&second, "process_resident_memory_bytes").is_some_and(|n| n > 1e6));
    assert!(!second.contains("pid=\""), "no series is labelled by pid");
}
