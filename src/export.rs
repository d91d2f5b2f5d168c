//! Prometheus exporter for fleets: `GET /metrics` in the text exposition format, off unless
//! `[metrics] listen` is set.
//!
//! The pipeline updates a [`MetricsState`] after every sample; that costs a few atomic operations
//! and one `Arc` swap, never a wait on a scrape. Everything derived from the latest sample (the
//! per-command top-N series) and the daemon's own `process_*` metrics are computed at scrape
//! time, in the HTTP task. Per-process series are labelled by command only, for the current
//! top-N: a command that left the top-N loses its series at the next scrape, so the label set
//! stays bounded by `top_n` however many commands pass through.
//!
//! Libraries: `prometheus` (the classic text format 0.0.4 that every Prometheus and `promtool
//! check metrics` read) and `hyper` 1 on the daemon's tokio runtime.

use crate::model::{Band, CaptureOutcome, Sample};
use crate::sync::lock;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use prometheus::core::{Collector, Desc};
use prometheus::core::{MetricVec, MetricVecBuilder};
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder, proto::MetricFamily,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The fixed label set of `rogue_hunter_captures_total{status}`, every series created at 0. A
/// capture counts under its [`CaptureOutcome`] (`success`, `partial`, `failed`); `skipped`,
/// `timeout` and `other` stay at 0 and are kept so the series of earlier versions go on.
pub const CAPTURE_STATUSES: [&str; 6] = [
    "success", "partial", "failed", "skipped", "timeout", "other",
];

/// Seconds buckets for the cost of one sampler pass (a pass takes milliseconds).
const PASS_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Longest command label kept; longer ones are cut (on a character boundary).
const MAX_COMMAND_LABEL: usize = 128;

/// Everything `/metrics` reports. Shared as `Arc<MetricsState>` between the pipeline (which
/// updates it) and the HTTP server (which renders it).
pub struct MetricsState {
    registry: Registry,
    samples: IntCounter,
    pass_seconds: Histogram,
    last_pass_seconds: Gauge,
    overruns: IntCounter,
    processes: IntGauge,
    max_score: IntGauge,
    access_denied: IntGauge,
    last_sample_time: Gauge,
    tracked: IntGaugeVec,
    events: IntCounter,
    captures: IntCounterVec,
    dropped_client_messages: IntCounter,
    writer_queue_depth: IntGauge,
    writer_errors: IntCounter,
    latest: Arc<Mutex<Option<Arc<Sample>>>>,
}

/// A metric definition was rejected by the library (a bug in this file, caught by the tests).
#[derive(Debug, thiserror::Error)]
#[error("metric definition rejected: {0}")]
pub struct DefinitionError(#[from] prometheus::Error);

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help).namespace("rogue_hunter")
}

/// Registers each metric as it is made, so a family is defined in one expression.
struct Registrar<'a>(&'a Registry);

impl Registrar<'_> {
    fn add<M: Collector + Clone + 'static>(&self, m: M) -> Result<M, DefinitionError> {
        self.0.register(Box::new(m.clone()))?;
        Ok(m)
    }

    /// A collector nothing else keeps a handle on.
    fn add_top<C: Collector + 'static>(&self, c: C) -> Result<(), DefinitionError> {
        Ok(self.0.register(Box::new(c))?)
    }

    fn counter(&self, name: &str, help: &str) -> Result<IntCounter, DefinitionError> {
        self.add(IntCounter::with_opts(opts(name, help))?)
    }

    fn int_gauge(&self, name: &str, help: &str) -> Result<IntGauge, DefinitionError> {
        self.add(IntGauge::with_opts(opts(name, help))?)
    }

    fn gauge(&self, name: &str, help: &str) -> Result<Gauge, DefinitionError> {
        self.add(Gauge::with_opts(opts(name, help))?)
    }

    /// A labelled family with every series of `values` created at 0, so they exist before the
    /// first update.
    fn labelled<P: MetricVecBuilder + 'static>(
        &self,
        family: MetricVec<P>,
        values: &[&str],
    ) -> Result<MetricVec<P>, DefinitionError> {
        for value in values {
            family.get_metric_with_label_values(&[value])?;
        }
        self.add(family)
    }
}

impl MetricsState {
    /// All metrics, registered, with per-process series for the top `top_n` processes.
    pub fn new(top_n: usize) -> Result<MetricsState, DefinitionError> {
        let registry = Registry::new();
        let r = Registrar(&registry);
        r.labelled(
            IntGaugeVec::new(
                opts(
                    "build_info",
                    "Always 1; the version of rogue-hunter serving these metrics.",
                ),
                &["version"],
            )?,
            &[env!("CARGO_PKG_VERSION")],
        )?
        .get_metric_with_label_values(&[env!("CARGO_PKG_VERSION")])?
        .set(1);
        let latest = Arc::new(Mutex::new(None));
        r.add_top(TopCollector::new(latest.clone(), top_n)?)?;
        #[cfg(target_os = "linux")]
        r.add_top(self_process::SelfCollector::new()?)?;
        let bands = Band::ALL.map(Band::as_str);
        Ok(MetricsState {
            samples: r.counter("samples_total", "Sampler passes completed.")?,
            pass_seconds: r.add(Histogram::with_opts(
                HistogramOpts::new(
                    "sampler_pass_seconds",
                    "Time one sampler pass took (read every process, compute rates and scores).",
                )
                .namespace("rogue_hunter")
                .buckets(PASS_BUCKETS.to_vec()),
            )?)?,
            last_pass_seconds: r.gauge(
                "sampler_last_pass_seconds",
                "Time the latest sampler pass took.",
            )?,
            overruns: r.counter(
                "sampler_overruns_total",
                "Sampler ticks skipped because a pass ran past its slot.",
            )?,
            processes: r.int_gauge(
                "processes",
                "Processes read and scored in the latest sample.",
            )?,
            max_score: r.int_gauge(
                "max_score",
                "Highest process score (0-100) in the latest sample.",
            )?,
            access_denied: r.int_gauge(
                "sampler_access_denied",
                "Per-process file reads refused (EACCES/EPERM) in the latest sample; see `rogue-hunter perms status`.",
            )?,
            last_sample_time: r.gauge(
                "last_sample_timestamp_seconds",
                "Wall-clock time of the latest sample, seconds since the epoch (alert when it stops moving).",
            )?,
            tracked: r.labelled(
                IntGaugeVec::new(
                    opts(
                        "tracked_processes",
                        "Processes with an open event, by their current band.",
                    ),
                    &["band"],
                )?,
                &bands,
            )?,
            events: r.counter(
                "events_total",
                "Events opened (a process became rogue) since the daemon started.",
            )?,
            captures: r.labelled(
                IntCounterVec::new(
                    opts(
                        "captures_total",
                        "Forensic captures finished since the daemon started, by outcome.",
                    ),
                    &["status"],
                )?,
                &CAPTURE_STATUSES,
            )?,
            dropped_client_messages: r.counter(
                "client_messages_dropped_total",
                "Messages dropped for slow socket clients (TUI, status) since the daemon started.",
            )?,
            writer_queue_depth: r.int_gauge(
                "writer_queue_depth",
                "Commands waiting for the database writer.",
            )?,
            writer_errors: r.counter(
                "writer_errors_total",
                "Database writes that failed since the daemon started.",
            )?,
            latest,
            registry,
        })
    }

    /// Records one sample and what its pass cost. Cheap: call it on every sample.
    pub fn observe_sample(&self, sample: &Arc<Sample>, cost_seconds: f64) {
        self.samples.inc();
        if cost_seconds.is_finite() && cost_seconds >= 0.0 {
            self.pass_seconds.observe(cost_seconds);
            self.last_pass_seconds.set(cost_seconds);
        }
        self.processes
            .set(i64::try_from(sample.process_count).unwrap_or(i64::MAX));
        self.max_score.set(i64::from(sample.max_score));
        self.access_denied.set(i64::from(sample.access_denied));
        self.last_sample_time.set(sample.timestamp);
        *lock(&self.latest) = Some(Arc::clone(sample));
    }

    /// Counts sampler ticks that were skipped.
    pub fn add_overruns(&self, n: u64) {
        self.overruns.inc_by(n);
    }

    /// The number of open events per band (bands not listed are 0).
    pub fn set_tracked(&self, per_band: &[(Band, usize)]) {
        for band in Band::ALL {
            let n = per_band
                .iter()
                .filter(|(b, _)| *b == band)
                .map(|(_, n)| *n)
                .sum::<usize>();
            if let Ok(g) = self.tracked.get_metric_with_label_values(&[band.as_str()]) {
                g.set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }

    /// Counts an opened event.
    pub fn inc_events(&self) {
        self.events.inc();
    }

    /// Counts a finished capture under its outcome.
    pub fn inc_capture(&self, outcome: CaptureOutcome) {
        if let Ok(c) = self
            .captures
            .get_metric_with_label_values(&[outcome.as_str()])
        {
            c.inc();
        }
    }

    /// The writer's queue depth now and its error count since start (a running total).
    pub fn set_writer(&self, queue_depth: usize, errors_total: u64) {
        self.writer_queue_depth
            .set(i64::try_from(queue_depth).unwrap_or(i64::MAX));
        raise_to(&self.writer_errors, errors_total);
    }

    /// Messages dropped for slow clients since start (a running total).
    pub fn set_dropped_client_messages(&self, total: u64) {
        raise_to(&self.dropped_client_messages, total);
    }

    /// The text exposition (format 0.0.4) of every metric, as served at `/metrics`.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Sets a counter to a running total kept elsewhere (never lowers it).
fn raise_to(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

/// The per-command series of the latest sample's top-N, rebuilt at every scrape.
struct TopCollector {
    latest: Arc<Mutex<Option<Arc<Sample>>>>,
    top_n: usize,
    score: GaugeVec,
    cpu: GaugeVec,
    memory: GaugeVec,
    disk: GaugeVec,
    wakeups: GaugeVec,
    count: IntGaugeVec,
    /// Serialises concurrent scrapes: each resets the vectors and fills them again.
    rebuild: Mutex<()>,
}

/// What one command adds up to within the top-N.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CommandTotals {
    pub max_score: u8,
    pub cpu: f64,
    pub memory: u64,
    pub disk_rate: f64,
    pub wakeups_rate: f64,
    pub processes: usize,
}

/// Groups the first `top_n` processes of `sample` (they are sorted by score) by command label.
pub fn top_by_command(sample: &Sample, top_n: usize) -> BTreeMap<String, CommandTotals> {
    let mut out: BTreeMap<String, CommandTotals> = BTreeMap::new();
    for p in sample.processes.iter().take(top_n) {
        let t = out.entry(command_label(&p.command)).or_default();
        t.max_score = t.max_score.max(p.score);
        t.cpu += p.cpu;
        t.memory = t.memory.saturating_add(p.mem);
        t.disk_rate += p.disk_io_rate;
        t.wakeups_rate += p.wakeups_rate;
        t.processes += 1;
    }
    out
}

fn command_label(command: &str) -> String {
    let trimmed = command.trim();
    if trimmed.is_empty() {
        return "(unknown)".into();
    }
    match trimmed.char_indices().nth(MAX_COMMAND_LABEL) {
        Some((i, _)) => trimmed[..i].to_string(),
        None => trimmed.to_string(),
    }
}

impl TopCollector {
    fn new(
        latest: Arc<Mutex<Option<Arc<Sample>>>>,
        top_n: usize,
    ) -> Result<TopCollector, prometheus::Error> {
        let vec = |name: &str, help: &str| GaugeVec::new(opts(name, help), &["command"]);
        Ok(TopCollector {
            latest,
            top_n,
            score: vec(
                "top_process_score",
                "Highest score (0-100) among the top-N processes running this command.",
            )?,
            cpu: vec(
                "top_process_cpu_percent",
                "CPU of the top-N processes running this command, % of one core.",
            )?,
            memory: vec(
                "top_process_memory_bytes",
                "Memory (anonymous + shared + swap) of the top-N processes running this command.",
            )?,
            disk: vec(
                "top_process_disk_bytes_per_second",
                "Disk reads + writes of the top-N processes running this command, bytes per second.",
            )?,
            wakeups: vec(
                "top_process_wakeups_per_second",
                "Wakeups (voluntary context switches) of the top-N processes running this command, per second.",
            )?,
            count: IntGaugeVec::new(
                opts(
                    "top_processes",
                    "How many of the top-N processes run this command.",
                ),
                &["command"],
            )?,
            rebuild: Mutex::new(()),
        })
    }
}

impl Collector for TopCollector {
    fn desc(&self) -> Vec<&Desc> {
        [
            self.score.desc(),
            self.cpu.desc(),
            self.memory.desc(),
            self.disk.desc(),
            self.wakeups.desc(),
            self.count.desc(),
        ]
        .concat()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let sample = lock(&self.latest).clone();
        let _guard = lock(&self.rebuild);
        for v in [
            &self.score,
            &self.cpu,
            &self.memory,
            &self.disk,
            &self.wakeups,
        ] {
            v.reset();
        }
        self.count.reset();
        if let Some(sample) = sample {
            for (command, t) in top_by_command(&sample, self.top_n) {
                let label = [command.as_str()];
                let set = |v: &GaugeVec, x: f64| {
                    if let Ok(g) = v.get_metric_with_label_values(&label) {
                        g.set(x);
                    }
                };
                set(&self.score, f64::from(t.max_score));
                set(&self.cpu, t.cpu);
                set(&self.memory, t.memory as f64);
                set(&self.disk, t.disk_rate);
                set(&self.wakeups, t.wakeups_rate);
                if let Ok(g) = self.count.get_metric_with_label_values(&label) {
                    g.set(i64::try_from(t.processes).unwrap_or(i64::MAX));
                }
            }
        }
        [
            self.score.collect(),
            self.cpu.collect(),
            self.memory.collect(),
            self.disk.collect(),
            self.wakeups.collect(),
            self.count.collect(),
        ]
        .concat()
    }
}

/// The daemon's own `process_*` metrics, read from `/proc/self` at scrape time.
#[cfg(target_os = "linux")]
pub mod self_process {
    use super::*;
    use prometheus::Counter;

    /// What `/proc/self/stat` says about this process.
    #[derive(Debug, Clone, PartialEq)]
    pub struct SelfStat {
        pub cpu_seconds: f64,
        pub threads: i64,
        pub start_time_seconds: f64,
        pub virtual_bytes: i64,
        pub resident_bytes: i64,
    }

    /// Parses `/proc/self/stat` (`btime` from `/proc/stat`, clock ticks per second, page size).
    pub fn parse_stat(text: &str, btime: u64, ticks: u64, page_size: u64) -> Option<SelfStat> {
        let st = crate::procfs::parse::stat(text.as_bytes())?;
        let ticks = ticks.max(1) as f64;
        Some(SelfStat {
            cpu_seconds: st.utime.saturating_add(st.stime) as f64 / ticks,
            threads: i64::from(st.num_threads),
            start_time_seconds: btime as f64 + st.starttime as f64 / ticks,
            virtual_bytes: i64::try_from(st.vsize).ok()?,
            resident_bytes: i64::try_from(st.rss_pages.saturating_mul(page_size)).ok()?,
        })
    }

    /// `btime` (boot time, epoch seconds) from `/proc/stat`.
    pub fn parse_btime(text: &str) -> Option<u64> {
        crate::procfs::parse::boot_time(text.as_bytes())
    }

    pub(super) struct SelfCollector {
        cpu: Counter,
        threads: IntGauge,
        start_time: Gauge,
        virtual_bytes: IntGauge,
        resident_bytes: IntGauge,
        open_fds: IntGauge,
        max_fds: IntGauge,
        update: Mutex<()>,
        ticks: u64,
        page_size: u64,
        btime: u64,
    }

    impl SelfCollector {
        pub(super) fn new() -> Result<SelfCollector, prometheus::Error> {
            // SAFETY: sysconf has no preconditions.
            let (ticks, page) = unsafe {
                (
                    libc::sysconf(libc::_SC_CLK_TCK),
                    libc::sysconf(libc::_SC_PAGESIZE),
                )
            };
            let btime = crate::procfs::ProcRoot::live()
                .ok()
                .and_then(|r| r.boot_time())
                .unwrap_or(0);
            Ok(SelfCollector {
                cpu: Counter::new(
                    "process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.",
                )?,
                threads: IntGauge::new("process_threads", "Number of OS threads in the process.")?,
                start_time: Gauge::new(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                )?,
                virtual_bytes: IntGauge::new(
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                )?,
                resident_bytes: IntGauge::new(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                )?,
                open_fds: IntGauge::new("process_open_fds", "Number of open file descriptors.")?,
                max_fds: IntGauge::new(
                    "process_max_fds",
                    "Maximum number of open file descriptors.",
                )?,
                update: Mutex::new(()),
                ticks: u64::try_from(ticks).unwrap_or(100),
                page_size: u64::try_from(page).unwrap_or(4096),
                btime,
            })
        }

        fn refresh(&self) {
            let _guard = crate::sync::lock(&self.update);
            let root = crate::procfs::ProcRoot::live().ok();
            if let Some(s) = root
                .as_ref()
                .and_then(|r| r.read_string("self/stat").ok())
                .and_then(|t| parse_stat(&t, self.btime, self.ticks, self.page_size))
            {
                let delta = s.cpu_seconds - self.cpu.get();
                if delta > 0.0 {
                    self.cpu.inc_by(delta);
                }
                self.threads.set(s.threads);
                self.start_time.set(s.start_time_seconds);
                self.virtual_bytes.set(s.virtual_bytes);
                self.resident_bytes.set(s.resident_bytes);
            }
            if let Some(fds) = root.as_ref().and_then(|r| r.list_numeric("self/fd").ok()) {
                // The directory handle itself is one of the entries.
                let n = fds.len().saturating_sub(1);
                self.open_fds.set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: lim is a valid out-pointer.
            if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
                self.max_fds
                    .set(i64::try_from(lim.rlim_cur).unwrap_or(i64::MAX));
            }
        }
    }

    impl Collector for SelfCollector {
        fn desc(&self) -> Vec<&Desc> {
            [
                self.cpu.desc(),
                self.threads.desc(),
                self.start_time.desc(),
                self.virtual_bytes.desc(),
                self.resident_bytes.desc(),
                self.open_fds.desc(),
                self.max_fds.desc(),
            ]
            .concat()
        }

        fn collect(&self) -> Vec<MetricFamily> {
            self.refresh();
            [
                self.cpu.collect(),
                self.threads.collect(),
                self.start_time.collect(),
                self.virtual_bytes.collect(),
                self.resident_bytes.collect(),
                self.open_fds.collect(),
                self.max_fds.collect(),
            ]
            .concat()
        }
    }
}

/// The exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot listen on {addr}: {}", describe_bind_error(.source))]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

fn describe_bind_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::AddrInUse => {
            "address in use (another program serves that port; choose another [metrics] listen)"
                .into()
        }
        ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need root; choose a port such as 9464)".into()
        }
        ErrorKind::AddrNotAvailable => "no such address on this machine".into(),
        _ => e.to_string(),
    }
}

/// The running exporter.
pub struct MetricsServer {
    /// The address it listens on (the real port when 0 was asked for).
    pub local_addr: SocketAddr,
    /// Ends after the shutdown future resolves.
    pub task: tokio::task::JoinHandle<()>,
}

/// Concurrent scrape connections served; more are closed at once.
const MAX_CONNECTIONS: usize = 32;
/// A client gets this long to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `addr` and serves `/metrics` on the current tokio runtime until `shutdown` resolves.
/// A bind failure is returned at once, so the daemon can report it at start.
pub async fn serve<F>(
    addr: SocketAddr,
    state: Arc<MetricsState>,
    shutdown: F,
) -> Result<MetricsServer, ExportError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ExportError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ExportError::Bind { addr, source })?;
    let task = tokio::spawn(accept_loop(listener, state, shutdown));
    tracing::info!(%local_addr, "metrics exporter listening on http://{local_addr}/metrics");
    Ok(MetricsServer { local_addr, task })
}

async fn accept_loop<F>(listener: tokio::net::TcpListener, state: Arc<MetricsState>, shutdown: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioIo, TokioTimer};

    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "metrics exporter cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                    continue; // dropping the stream closes it
                };
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let _permit = permit;
                    let service = service_fn(move |req| {
                        let response = respond(&state, &req);
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    });
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    connections.abort_all();
}

fn respond<B>(state: &MetricsState, req: &Request<B>) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    };
    if req.uri().path() != "/metrics" {
        return text(
            StatusCode::NOT_FOUND,
            "Not found. rogue-hunter serves Prometheus metrics at /metrics\n".into(),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only GET and HEAD are allowed.\n".into(),
        );
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return r;
    }
    let mut r = text(StatusCode::OK, state.render());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProcessScore;

    fn proc(command: &str, score: u8, cpu: f64) -> ProcessScore {
        ProcessScore {
            command: command.into(),
            score,
            cpu,
            mem: 1000,
            ..Default::default()
        }
    }

    fn sample(processes: Vec<ProcessScore>) -> Arc<Sample> {
        Arc::new(Sample {
            seq: 1,
            timestamp: 1_800_000_000.5,
            process_count: processes.len(),
            max_score: processes.first().map_or(0, |p| p.score),
            access_denied: 3,
            processes,
            ..Default::default()
        })
    }

    /// The value of the series `name{labels}` (the whole line before the value).
    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn a_fresh_state_renders_every_family_with_zeroes() {
        let m = MetricsState::new(10).unwrap();
        let text = m.render();
        for family in [
            "rogue_hunter_samples_total 0",
            "rogue_hunter_sampler_overruns_total 0",
            "rogue_hunter_events_total 0",
            "rogue_hunter_tracked_processes{band=\"critical\"} 0",
            "rogue_hunter_captures_total{status=\"failed\"} 0",
            "rogue_hunter_client_messages_dropped_total 0",
            "rogue_hunter_writer_queue_depth 0",
            "rogue_hunter_writer_errors_total 0",
            "rogue_hunter_sampler_pass_seconds_count 0",
        ] {
            assert!(text.contains(family), "{family} missing:\n{text}");
        }
        assert!(
            !text.contains("top_process_score{"),
            "no top-N before a sample"
        );
    }

    #[test]
    fn updates_show_up_in_the_exposition() {
        let m = MetricsState::new(10).unwrap();
        m.observe_sample(&sample(vec![proc("stress", 80, 190.0)]), 0.004);
        m.observe_sample(&sample(vec![proc("stress", 75, 180.0)]), 0.006);
        m.add_overruns(2);
        m.set_tracked(&[(Band::Critical, 1), (Band::Medium, 2), (Band::Medium, 1)]);
        m.inc_events();
        m.inc_capture(CaptureOutcome::Success);
        m.inc_capture(CaptureOutcome::Partial);
        m.set_writer(7, 3);
        m.set_writer(5, 2); // a lower running total is ignored
        m.set_dropped_client_messages(11);
        let t = m.render();
        assert_eq!(value(&t, "rogue_hunter_samples_total"), Some(2.0));
        assert_eq!(
            value(&t, "rogue_hunter_sampler_pass_seconds_count"),
            Some(2.0)
        );
        assert_eq!(
            value(&t, "rogue_hunter_sampler_pass_seconds_sum"),
            Some(0.01)
        );
        assert_eq!(
            value(&t, "rogue_hunter_sampler_last_pass_seconds"),
            Some(0.006)
        );
        assert_eq!(value(&t, "rogue_hunter_sampler_overruns_total"), Some(2.0));
        assert_eq!(value(&t, "rogue_hunter_processes"), Some(1.0));
        assert_eq!(value(&t, "rogue_hunter_max_score"), Some(75.0));
        assert_eq!(value(&t, "rogue_hunter_sampler_access_denied"), Some(3.0));
        assert_eq!(
            value(&t, "rogue_hunter_tracked_processes{band=\"medium\"}"),
            Some(3.0)
        );
        assert_eq!(
            value(&t, "rogue_hunter_tracked_processes{band=\"low\"}"),
            Some(0.0)
        );
        assert_eq!(value(&t, "rogue_hunter_events_total"), Some(1.0));
        assert_eq!(
            value(&t, "rogue_hunter_captures_total{status=\"success\"}"),
            Some(1.0)
        );
        assert_eq!(
            value(&t, "rogue_hunter_captures_total{status=\"partial\"}"),
            Some(1.0)
        );
        assert_eq!(value(&t, "rogue_hunter_writer_queue_depth"), Some(5.0));
        assert_eq!(value(&t, "rogue_hunter_writer_errors_total"), Some(3.0));
        assert_eq!(
            value(&t, "rogue_hunter_client_messages_dropped_total"),
            Some(11.0)
        );
        assert_eq!(
            value(&t, "rogue_hunter_top_process_score{command=\"stress\"}"),
            Some(75.0)
        );
        assert_eq!(
            value(
                &t,
                "rogue_hunter_top_process_cpu_percent{command=\"stress\"}"
            ),
            Some(180.0)
        );
    }

    #[test]
    fn top_n_groups_by_command_and_forgets_commands_that_left() {
        let m = MetricsState::new(3).unwrap();
        m.observe_sample(
            &sample(vec![
                proc("chrome", 90, 50.0),
                proc("chrome", 60, 30.0),
                proc("make", 50, 10.0),
                proc("idle-thing", 1, 0.0), // outside the top 3
            ]),
            0.001,
        );
        let t = m.render();
        assert_eq!(
            value(&t, "rogue_hunter_top_processes{command=\"chrome\"}"),
            Some(2.0)
        );
        assert_eq!(
            value(
                &t,
                "rogue_hunter_top_process_cpu_percent{command=\"chrome\"}"
            ),
            Some(80.0)
        );
        assert_eq!(
            value(&t, "rogue_hunter_top_process_score{command=\"chrome\"}"),
            Some(90.0)
        );
        assert_eq!(
            value(
                &t,
                "rogue_hunter_top_process_memory_bytes{command=\"chrome\"}"
            ),
            Some(2000.0)
        );
        assert!(!t.contains("idle-thing"));
        m.observe_sample(&sample(vec![proc("rustc", 70, 99.0)]), 0.001);
        let t = m.render();
        assert!(t.contains("command=\"rustc\""));
        assert!(!t.contains("chrome") && !t.contains("\"make\""), "{t}");
    }

    #[test]
    fn command_labels_are_bounded_and_never_empty() {
        assert_eq!(command_label("  "), "(unknown)");
        let long = "é".repeat(300);
        assert_eq!(command_label(&long).chars().count(), MAX_COMMAND_LABEL);
        assert_eq!(command_label("a \"quoted\" name"), "a \"quoted\" name");
        let m = MetricsState::new(5).unwrap();
        m.observe_sample(&sample(vec![proc("a \"q\"\\b\nc", 50, 1.0)]), 0.0);
        let t = m.render();
        assert!(
            t.contains(r#"command="a \"q\"\\b\nc""#),
            "label value escaped: {t}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_process_metrics_are_real() {
        let m = MetricsState::new(1).unwrap();
        let t = m.render();
        let rss = value(&t, "process_resident_memory_bytes").unwrap();
        assert!(rss > 1_000_000.0, "{rss}");
        let fds = value(&t, "process_open_fds").unwrap();
        assert!(fds >= 3.0, "{fds}");
        let start = value(&t, "process_start_time_seconds").unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start <= now + 1.0 && start > now - 86_400.0 * 365.0,
            "{start}"
        );
        assert!(value(&t, "process_max_fds").unwrap() >= fds);
        assert!(value(&t, "process_threads").unwrap() >= 1.0);
        assert!(value(&t, "process_cpu_seconds_total").is_some());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn proc_self_stat_parses() {
        use self_process::{parse_btime, parse_stat};
        let stat = "4242 (rogue (hunter)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 150 0 0 20 0 7 0 12345 104857600 2560 18446744073709551615 \
                    0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(stat, 1_700_000_000, 100, 4096).unwrap();
        assert_eq!(s.cpu_seconds, 4.0);
        assert_eq!(s.threads, 7);
        assert_eq!(s.start_time_seconds, 1_700_000_123.45);
        assert_eq!(s.virtual_bytes, 104_857_600);
        assert_eq!(s.resident_bytes, 2560 * 4096);
        assert_eq!(parse_stat("garbage", 0, 100, 4096), None);
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
    }

    #[test]
    fn bind_errors_say_what_to_do() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = taken.local_addr().unwrap();
            let state = Arc::new(MetricsState::new(1).unwrap());
            let err = serve(addr, state, std::future::pending())
                .await
                .err()
                .expect("the port is taken");
            assert_eq!(
                err.to_string(),
                format!(
                    "cannot listen on {addr}: address in use (another program serves that port; choose another [metrics] listen)"
                )
            );
        });
    }
}
