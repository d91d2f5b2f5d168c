//! The forensics worker: one capture in flight, `min_interval` between automatic captures, at
//! most one automatic capture per event. Triggers that cannot start a capture are coalesced —
//! joined to the running capture when they come within the debounce window, otherwise queued
//! and attached to the next one — and every such decision is logged; nothing is dropped
//! silently. A capture row appears at once with its parts `pending`; each part then ends in a
//! final status with its reason, written through the writer.

use super::Settings;
use super::culprits;
use crate::export::MetricsState;
use crate::ipc::{CaptureAnswer, CaptureNotice, CaptureState, ServerHandle};
use crate::model::{CaptureOutcome, Sample, Trigger};
use crate::store::{
    BufferCapture, BulkWrite, CapturePart, NewCapture, Op, PartOutcome, PartStatus, WriterHandle,
};
use crate::sync::lock;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A request for a capture.
#[derive(Debug)]
pub struct Request {
    pub event_id: i64,
    /// The event's process: its stacks are always taken.
    pub pid: u32,
    pub trigger: Trigger,
    pub automatic: bool,
    /// Wall time of the trigger (the log window ends here minus nothing, starts
    /// `forensics_log_seconds` before).
    pub at: f64,
    /// The ring buffer frozen when the trigger fired.
    pub buffer: Arc<[Arc<Sample>]>,
    /// For manual requests: where to say which capture took it.
    pub reply: Option<oneshot::Sender<CaptureAnswer>>,
}

/// What the worker writes to and tells.
#[derive(Clone)]
pub struct Deps {
    pub writer: WriterHandle,
    pub server: Option<ServerHandle>,
    pub metrics: Option<Arc<MetricsState>>,
}

enum Msg {
    Request(Request),
    Shutdown(oneshot::Sender<()>),
}

/// Handle to the running worker.
pub struct Forensics {
    tx: mpsc::UnboundedSender<Msg>,
    task: JoinHandle<()>,
}

impl Forensics {
    /// Starts the worker on the current tokio runtime; capture ids start at `next_capture_id`.
    pub fn spawn(settings: Settings, deps: Deps, next_capture_id: i64) -> Forensics {
        let (tx, rx) = mpsc::unbounded_channel();
        let worker = Worker {
            settings,
            deps,
            next_id: next_capture_id,
            last_start: None,
            in_flight: None,
            pending: VecDeque::new(),
            auto_done: HashSet::new(),
        };
        let task = tokio::spawn(worker.run(rx));
        Forensics { tx, task }
    }

    /// Hands a request to the worker; never waits.
    pub fn request(&self, r: Request) {
        if let Err(mpsc::error::SendError(Msg::Request(r))) = self.tx.send(Msg::Request(r)) {
            tracing::warn!(event_id = r.event_id, trigger = %r.trigger, "capture not taken: forensics worker stopped");
            if let Some(reply) = r.reply {
                let _ = reply.send(CaptureAnswer::Refused {
                    reason: "the daemon is stopping".into(),
                });
            }
        }
    }

    /// Stops taking requests, waits for a capture in flight up to `shutdown_wait`, then marks
    /// whatever it has not finished `failed: daemon stopped`.
    pub async fn shutdown(self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(done_tx)).is_ok() {
            let _ = done_rx.await;
        }
        let _ = self.task.await;
    }
}

/// A capture being taken.
struct InFlight {
    capture_id: i64,
    event_id: i64,
    started: Instant,
    /// Set by the capture just before it announces `done`: from then on nothing may join it
    /// (a joiner would wait for a `done` already sent).
    finishing: Arc<std::sync::atomic::AtomicBool>,
    parts: Arc<Mutex<BTreeMap<CapturePart, PartStatus>>>,
    handle: JoinHandle<()>,
}

struct Worker {
    settings: Settings,
    deps: Deps,
    next_id: i64,
    last_start: Option<Instant>,
    in_flight: Option<InFlight>,
    pending: VecDeque<Request>,
    auto_done: HashSet<i64>,
}

async fn join_in_flight(f: &mut Option<InFlight>) {
    match f {
        Some(inf) => {
            let _ = (&mut inf.handle).await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        loop {
            let wake = self.next_wake();
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Request(r)) => self.accept(r),
                    Some(Msg::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.shutdown().await;
                        return;
                    }
                },
                _ = join_in_flight(&mut self.in_flight) => {
                    if let Some(done) = self.in_flight.take() {
                        tracing::debug!(capture_id = done.capture_id, "capture finished");
                    }
                }
                _ = sleep_until(wake), if wake.is_some() => {}
            }
            self.try_start();
        }
    }

    /// When a queued automatic request may start (after `min_interval`).
    fn next_wake(&self) -> Option<Instant> {
        if self.in_flight.is_some() || self.pending.is_empty() {
            return None;
        }
        self.last_start.map(|t| t + self.settings.min_interval)
    }

    fn accept(&mut self, r: Request) {
        if !self.settings.enabled {
            tracing::info!(event_id = r.event_id, trigger = %r.trigger, "capture not taken: forensics is disabled ([forensics] enabled = false)");
            refuse(
                r,
                "forensics is disabled in the config ([forensics] enabled = false)",
            );
            return;
        }
        if r.automatic && self.auto_done.contains(&r.event_id) {
            tracing::info!(event_id = r.event_id, trigger = %r.trigger, "capture skipped: this event already has its automatic capture");
            return;
        }
        // A manual request names the process whose stacks it wants, so it never rides along
        // with a capture of someone else; it runs next instead.
        if let Some(inf) = &self.in_flight
            && r.automatic
            && inf.started.elapsed() <= self.settings.debounce
            && !inf.finishing.load(Ordering::SeqCst)
        {
            self.join_running(r);
            return;
        }
        tracing::info!(event_id = r.event_id, trigger = %r.trigger, "capture queued");
        self.pending.push_back(r);
    }

    /// Attaches a request to the capture in flight.
    fn join_running(&mut self, r: Request) {
        let Some(inf) = &self.in_flight else { return };
        let capture_id = inf.capture_id;
        tracing::info!(event_id = r.event_id, trigger = %r.trigger, capture_id, "trigger joined the running capture");
        if r.automatic {
            self.auto_done.insert(r.event_id);
        }
        let _ = self.deps.writer.submit(vec![Op::AddCaptureTriggers {
            capture_id,
            triggers: vec![describe(&r)],
        }]);
        if let Some(reply) = r.reply {
            let _ = reply.send(CaptureAnswer::Accepted { capture_id });
        }
    }

    fn try_start(&mut self) {
        if self.in_flight.is_some() || self.pending.is_empty() {
            return;
        }
        // Manual requests go first and do not wait for min_interval.
        let manual = self.pending.iter().position(|r| !r.automatic);
        let index = match manual {
            Some(i) => i,
            None => {
                if let Some(last) = self.last_start
                    && last.elapsed() < self.settings.min_interval
                {
                    return;
                }
                // The newest automatic trigger has the freshest buffer.
                self.pending.len() - 1
            }
        };
        let Some(chosen) = self.pending.remove(index) else {
            return;
        };
        // Automatic requests still queued ride along with this capture.
        let (riders, keep): (Vec<Request>, Vec<Request>) =
            self.pending.drain(..).partition(|r| r.automatic);
        self.pending = keep.into();
        self.start(chosen, riders);
    }

    fn start(&mut self, r: Request, riders: Vec<Request>) {
        let capture_id = self.next_id;
        self.next_id += 1;
        self.last_start = Some(Instant::now());
        if r.automatic {
            self.auto_done.insert(r.event_id);
        }
        let mut triggers = Vec::new();
        for rider in &riders {
            if rider.automatic {
                self.auto_done.insert(rider.event_id);
            }
            triggers.push(describe(rider));
            tracing::info!(event_id = rider.event_id, trigger = %rider.trigger, capture_id, "trigger coalesced into the next capture");
        }
        tracing::info!(capture_id, event_id = r.event_id, pid = r.pid, trigger = %r.trigger, "capture started");

        let has_decode = cfg!(target_os = "macos");
        let mut ops = vec![Op::CreateCapture(NewCapture {
            id: capture_id,
            event_id: r.event_id,
            captured_at: r.at,
            trigger: r.trigger,
            has_decode_step: has_decode,
        })];
        if !triggers.is_empty() {
            ops.push(Op::AddCaptureTriggers {
                capture_id,
                triggers,
            });
        }
        let _ = self.deps.writer.submit(ops);
        if let Some(server) = &self.deps.server {
            server.notify_capture(&CaptureNotice {
                capture_id,
                event_id: Some(r.event_id),
                trigger: r.trigger,
                state: CaptureState::Started,
                statuses: BTreeMap::new(),
                not_stored: None,
            });
        }
        let mut r = r;
        if let Some(reply) = r.reply.take() {
            let _ = reply.send(CaptureAnswer::Accepted { capture_id });
        }
        for rider in riders {
            if let Some(reply) = rider.reply {
                let _ = reply.send(CaptureAnswer::Accepted { capture_id });
            }
        }

        let mut parts = BTreeMap::from([
            (CapturePart::Buffer, PartStatus::Pending),
            (CapturePart::Stacks, PartStatus::Pending),
            (CapturePart::Logs, PartStatus::Pending),
        ]);
        if has_decode {
            parts.insert(CapturePart::Decode, PartStatus::Pending);
        }
        let parts = Arc::new(Mutex::new(parts));
        let finishing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let job = Job {
            capture_id,
            request: r,
            settings: self.settings.clone(),
            deps: self.deps.clone(),
            parts: parts.clone(),
            finishing: finishing.clone(),
            not_stored: Mutex::new(None),
        };
        let event_id = job.request.event_id;
        self.in_flight = Some(InFlight {
            capture_id,
            event_id,
            started: Instant::now(),
            finishing,
            parts,
            handle: tokio::spawn(job.run()),
        });
    }

    async fn shutdown(&mut self) {
        for r in self.pending.drain(..) {
            tracing::warn!(event_id = r.event_id, trigger = %r.trigger, "capture not taken: the daemon is stopping");
            if let Some(reply) = r.reply {
                let _ = reply.send(CaptureAnswer::Refused {
                    reason: "the daemon is stopping".into(),
                });
            }
        }
        let Some(mut inf) = self.in_flight.take() else {
            return;
        };
        let finished = tokio::time::timeout(self.settings.shutdown_wait, &mut inf.handle)
            .await
            .is_ok();
        if finished {
            return;
        }
        inf.handle.abort();
        let unfinished: Vec<CapturePart> = lock(&inf.parts)
            .iter()
            .filter(|(_, s)| **s == PartStatus::Pending)
            .map(|(p, _)| *p)
            .collect();
        tracing::warn!(
            capture_id = inf.capture_id,
            event_id = inf.event_id,
            unfinished = %unfinished.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
            "capture cut short: the daemon is stopping"
        );
        let now = crate::sys::now_epoch();
        let ops = unfinished
            .into_iter()
            .map(|part| Op::SetCapturePart {
                capture_id: inf.capture_id,
                part,
                status: PartStatus::Failed,
                error: Some(crate::store::startup::UNFINISHED_PART.into()),
                at: now,
            })
            .collect();
        let _ = self.deps.writer.submit(ops);
        if let Some(m) = &self.deps.metrics {
            m.inc_capture(CaptureOutcome::Failed);
        }
    }
}

fn refuse(r: Request, reason: &str) {
    if let Some(reply) = r.reply {
        let _ = reply.send(CaptureAnswer::Refused {
            reason: reason.to_string(),
        });
    }
}

fn describe(r: &Request) -> String {
    format!("{} (event {}, pid {})", r.trigger, r.event_id, r.pid)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}

/// One capture's work.
struct Job {
    capture_id: i64,
    request: Request,
    settings: Settings,
    deps: Deps,
    parts: Arc<Mutex<BTreeMap<CapturePart, PartStatus>>>,
    finishing: Arc<std::sync::atomic::AtomicBool>,
    /// The first write of this capture that the database refused.
    not_stored: Mutex<Option<String>>,
}

impl Job {
    async fn run(self) {
        let culprits = culprits::identify(&self.request.buffer);
        let mut pids = vec![self.request.pid];
        for c in &culprits {
            if pids.len() > self.settings.stack_culprits {
                break; // the event's process plus `stack_culprits` others
            }
            if !pids.contains(&c.pid) {
                pids.push(c.pid);
            }
        }
        let started = Instant::now();
        let (buffer_s, stacks_s, logs_s) = tokio::join!(
            timed(self.store_buffer(culprits)),
            timed(self.store_stacks(&pids)),
            timed(self.store_logs()),
        );

        let statuses = lock(&self.parts).clone();
        let not_stored = lock(&self.not_stored).clone();
        if let Some(e) = &not_stored {
            tracing::warn!(
                capture_id = self.capture_id,
                event_id = self.request.event_id,
                error = %e,
                "the database could not store this capture"
            );
        }
        let overall = CaptureOutcome::of(statuses.values().copied());
        tracing::info!(
            capture_id = self.capture_id,
            event_id = self.request.event_id,
            statuses = %describe_statuses(&statuses),
            %overall,
            total_ms = ms(started.elapsed().as_secs_f64()),
            buffer_ms = ms(buffer_s),
            stacks_ms = ms(stacks_s),
            logs_ms = ms(logs_s),
            "capture done"
        );
        if let Some(m) = &self.deps.metrics {
            m.inc_capture(overall);
        }
        self.finishing.store(true, Ordering::SeqCst);
        if let Some(server) = &self.deps.server {
            server.notify_capture(&CaptureNotice {
                capture_id: self.capture_id,
                event_id: Some(self.request.event_id),
                trigger: self.request.trigger,
                state: CaptureState::Done,
                statuses,
                not_stored,
            });
        }
    }

    fn set(&self, part: CapturePart, status: PartStatus) {
        lock(&self.parts).insert(part, status);
    }

    /// Remembers that a write of this capture failed (the first error says why).
    fn unstored(&self, error: String) {
        lock(&self.not_stored).get_or_insert(error);
    }

    /// Records a final status without data, waiting for the writer to say it is stored.
    async fn finish_empty(&self, part: CapturePart, outcome: PartOutcome) {
        self.set(part, outcome.status);
        let ack = self.deps.writer.submit_acked(vec![Op::SetCapturePart {
            capture_id: self.capture_id,
            part,
            status: outcome.status,
            error: outcome.error,
            at: crate::sys::now_epoch(),
        }]);
        let failure = match ack {
            Ok(rx) => match rx.await {
                Ok(o) if o.ops_failed == 0 => None,
                Ok(o) => Some(o.error.unwrap_or_else(|| "the write failed".into())),
                Err(_) => Some("the writer stopped".into()),
            },
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = failure {
            self.unstored(e);
        }
    }

    async fn send(&self, part: CapturePart, bulk: BulkWrite) {
        let status = match self.deps.writer.send_bulk(bulk).await {
            Ok(rx) => match rx.await {
                Ok(outcome) => {
                    // An error here is the database's: the part was taken, not stored.
                    if let Some(e) = outcome.error {
                        self.unstored(e);
                    }
                    outcome.status
                }
                Err(_) => {
                    self.unstored("the writer stopped".into());
                    PartStatus::Failed
                }
            },
            Err(e) => {
                tracing::error!(
                    capture_id = self.capture_id,
                    "cannot store a capture part: {e}"
                );
                self.unstored(e.to_string());
                PartStatus::Failed
            }
        };
        self.set(part, status);
    }

    async fn store_buffer(&self, culprits: Vec<crate::store::Culprit>) {
        let bulk = BulkWrite::Buffer(BufferCapture {
            capture_id: self.capture_id,
            culprits,
            samples: self.request.buffer.clone(),
        });
        self.send(CapturePart::Buffer, bulk).await;
    }

    #[cfg(target_os = "linux")]
    async fn store_stacks(&self, pids: &[u32]) {
        let trigger = self.request.trigger.to_string();
        let r = super::linux::parts::stacks(&self.settings, pids, &trigger).await;
        self.store_stack_result(r.data, r.source, r.outcome).await;
    }

    #[cfg(target_os = "macos")]
    async fn store_stacks(&self, _pids: &[u32]) {
        let r = super::macos::stacks(&self.settings, self.capture_id).await;
        self.finish_empty(CapturePart::Decode, r.decode).await;
        self.store_stack_result(r.data, "tailspin".into(), r.outcome)
            .await;
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    async fn store_stacks(&self, _pids: &[u32]) {
        self.finish_empty(
            CapturePart::Stacks,
            PartOutcome {
                status: PartStatus::Skipped,
                error: Some("stacks are not supported on this operating system".into()),
            },
        )
        .await;
    }

    #[cfg(any(target_os = "linux", target_os = "macos"))]
    async fn store_stack_result(
        &self,
        data: crate::store::CaptureData,
        source: String,
        outcome: PartOutcome,
    ) {
        if data.processes.is_empty() && outcome.status != PartStatus::Success {
            self.finish_empty(CapturePart::Stacks, outcome).await;
            return;
        }
        let bulk = BulkWrite::Stacks(Box::new(crate::store::StackCapture {
            capture_id: self.capture_id,
            source,
            data,
            outcome,
        }));
        self.send(CapturePart::Stacks, bulk).await;
    }

    async fn store_logs(&self) {
        let from = self.request.at - f64::from(self.settings.log_seconds);
        #[cfg(target_os = "linux")]
        let r = super::linux::parts::logs(&self.settings, from).await;
        #[cfg(target_os = "macos")]
        let r = super::macos::logs(&self.settings, from).await;
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        {
            let _ = from;
            self.finish_empty(
                CapturePart::Logs,
                PartOutcome {
                    status: PartStatus::Skipped,
                    error: Some("logs are not supported on this operating system".into()),
                },
            )
            .await;
        }
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        {
            if r.entries.is_empty() && r.outcome.status != PartStatus::Success {
                self.finish_empty(CapturePart::Logs, r.outcome).await;
                return;
            }
            let bulk = BulkWrite::Logs(crate::store::LogCapture {
                capture_id: self.capture_id,
                entries: r.entries,
                outcome: r.outcome,
            });
            self.send(CapturePart::Logs, bulk).await;
        }
    }
}

/// Runs a part, returning how long it took in seconds.
async fn timed(part: impl std::future::Future<Output = ()>) -> f64 {
    let t = Instant::now();
    part.await;
    t.elapsed().as_secs_f64()
}

fn ms(seconds: f64) -> String {
    format!("{:.1}", seconds * 1000.0)
}

/// `buffer:success,logs:timeout,stacks:success`: every part's status for a log line (not
/// Rust's `Debug` of the map).
fn describe_statuses(statuses: &BTreeMap<CapturePart, PartStatus>) -> String {
    statuses
        .iter()
        .map(|(part, status)| format!("{part}:{status}"))
        .collect::<Vec<_>>()
        .join(",")
}
