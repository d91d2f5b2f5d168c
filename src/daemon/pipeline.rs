//! The pipeline: what happens to every sample after the sampler thread hands it over. Ring
//! buffer, tracker, one writer batch, broadcast to clients, metrics, machine snapshots, the
//! heartbeat and console lines. Every step is non-blocking, so a slow disk, a slow client or a
//! capture never holds up the next sample.

use super::bandlog::BandLog;
use super::sampling::{Sampled, SamplerStats};
use crate::config::Config;
use crate::export::MetricsState;
use crate::forensics::worker::{Forensics, Request};
use crate::ipc::{CaptureAnswer, ClientRequest, ServerHandle};
use crate::model::{Band, ExitReason, PsiResource, Sample, Trigger, Unit};
use crate::ring::Ring;
use crate::store::startup::LAST_SAMPLE_TIME_KEY;
use crate::store::{MachineSnapshot, Op, WriterHandle};
use crate::tracker::{Tracker, Triggered, unit_of_process};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Everything the pipeline talks to.
pub struct Outputs {
    pub writer: WriterHandle,
    pub server: Option<ServerHandle>,
    pub metrics: Option<Arc<MetricsState>>,
    pub forensics: Option<Forensics>,
}

/// Per-sample processing state.
pub struct Pipeline {
    config: Arc<Config>,
    ring: Ring,
    tracker: Tracker,
    out: Outputs,
    sampler_stats: Arc<SamplerStats>,
    band_log: BandLog,
    db_path: PathBuf,
    last_machine_snapshot: Option<Instant>,
    heartbeat: Heartbeat,
    last_timestamp: f64,
    /// Manual captures of a pid not yet in a sample (it may have just started): retried on the
    /// next samples before being refused.
    waiting_captures: Vec<WaitingCapture>,
    /// When the last `pressure` trigger fired.
    last_pressure: Option<Instant>,
}

struct WaitingCapture {
    pid: u32,
    reply: tokio::sync::oneshot::Sender<CaptureAnswer>,
    samples_left: u32,
}

/// Samples a manual capture of an unseen pid waits for its process to appear.
const CAPTURE_WAIT_SAMPLES: u32 = 5;

#[derive(Default)]
struct Heartbeat {
    /// Tick lateness of each pass since the last heartbeat, microseconds.
    late_us: Vec<u64>,
    samples: u64,
    score_sum: u64,
    score_max: u8,
    cost_ms_sum: f64,
    missed: u64,
    dropped_before: u64,
    writer_errors_before: u64,
}

impl Pipeline {
    pub fn new(
        config: Arc<Config>,
        tracker: Tracker,
        out: Outputs,
        sampler_stats: Arc<SamplerStats>,
        db_path: PathBuf,
    ) -> Pipeline {
        Pipeline {
            ring: Ring::new(config.system.ring_buffer_size as usize),
            band_log: BandLog::new(&config),
            config,
            tracker,
            out,
            sampler_stats,
            db_path,
            last_machine_snapshot: None,
            heartbeat: Heartbeat::default(),
            last_timestamp: 0.0,
            waiting_captures: Vec::new(),
            last_pressure: None,
        }
    }

    /// Handles one sample.
    pub fn on_sample(&mut self, msg: Sampled) {
        let sample = msg.sample;
        self.last_timestamp = sample.timestamp;
        // The push comes first, so a capture's frozen buffer includes the triggering sample.
        self.ring.push(sample.clone());

        let update = self.tracker.update(&sample);
        let opened = update
            .ops
            .iter()
            .filter(|op| matches!(op, Op::OpenEvent(_)))
            .count() as u64;
        let mut ops = update.ops;
        ops.push(Op::SetDaemonState {
            key: LAST_SAMPLE_TIME_KEY.to_string(),
            value: format!("{:.6}", sample.timestamp),
            at: sample.timestamp,
        });
        if let Err(e) = self.out.writer.submit(ops) {
            tracing::error!("cannot hand this sample's writes to the writer: {e}");
        }
        for t in update.triggers {
            self.trigger(t);
        }

        if let Some(server) = &self.out.server {
            server.broadcast_sample(&sample);
        }
        if let Some(m) = &self.out.metrics {
            m.observe_sample(&sample, sample.elapsed_ms / 1000.0);
            if msg.missed > 0 {
                m.add_overruns(msg.missed);
            }
            for _ in 0..opened {
                m.inc_events();
            }
            m.set_tracked(&self.tracked_per_band());
            let ws = self.out.writer.stats();
            m.set_writer(ws.queue_depth, ws.write_errors);
            if let Some(server) = &self.out.server {
                m.set_dropped_client_messages(server.stats().messages_dropped);
            }
        }
        self.machine_snapshot(&sample);
        for line in self.band_log.update(sample.units.iter().map(|u| &u.row)) {
            tracing::info!("{line}");
        }
        self.beat(&sample, msg.missed, msg.late);
        self.retry_waiting_captures();
        self.check_pressure(&sample);
    }

    /// `[forensics] psi_trigger`: when the system-wide pressure (PSI some avg10, from the
    /// sample's machine state) of cpu, memory or io passes it, capture the top unit (at most
    /// every `min_interval_s`, and at least 10 s apart, since PSI averages move slowly).
    fn check_pressure(&mut self, sample: &Sample) {
        let limit = self.config.forensics.psi_trigger;
        if limit <= 0.0 || self.out.forensics.is_none() {
            return;
        }
        let every = Duration::from_secs_f64(self.config.forensics.min_interval_s.max(10.0));
        if self.last_pressure.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        let Some(psi) = &sample.machine.psi else {
            return;
        };
        let Some((resource, avg10)) = [
            (PsiResource::Cpu, psi.cpu.some.avg10),
            (PsiResource::Memory, psi.memory.some.avg10),
            (PsiResource::Io, psi.io.some.avg10),
        ]
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1)) else {
            return;
        };
        if avg10 <= limit {
            return;
        }
        let Some(unit) = sample
            .units
            .first()
            .cloned()
            .or_else(|| sample.rogues().first().map(unit_of_process))
        else {
            return;
        };
        let top = unit.row.clone();
        self.last_pressure = Some(Instant::now());
        let (event_id, update) = self.tracker.event_for_capture(&unit, &sample.processes);
        if !update.ops.is_empty() {
            let _ = self.out.writer.submit(update.ops);
        }
        tracing::info!(resource = %resource, avg10, limit, pid = top.pid, command = %top.command, "pressure above psi_trigger: capturing the top process");
        if let Some(f) = &self.out.forensics {
            f.request(Request {
                event_id,
                pid: top.pid,
                trigger: Trigger::Pressure(resource),
                automatic: true,
                at: sample.timestamp,
                buffer: self.ring.freeze(),
                reply: None,
            });
        }
    }

    fn retry_waiting_captures(&mut self) {
        for mut w in std::mem::take(&mut self.waiting_captures) {
            w.samples_left = w.samples_left.saturating_sub(1);
            self.capture(Some(w.pid), w.reply, w.samples_left);
        }
    }

    fn tracked_per_band(&self) -> Vec<(Band, usize)> {
        let mut counts = [0usize; 5];
        for e in self.tracker.open_events() {
            let b = self
                .config
                .bands
                .band_for(e.last_score)
                .max(self.config.bands.tracking_band);
            counts[b as usize] += 1;
        }
        Band::ALL
            .iter()
            .map(|b| (*b, counts[*b as usize]))
            .collect()
    }

    fn trigger(&mut self, t: Triggered) {
        tracing::info!(event_id = t.event_id, pid = t.pid, command = %t.command, trigger = %t.kind, "forensics triggered");
        if let Some(f) = &self.out.forensics {
            f.request(Request {
                event_id: t.event_id,
                pid: t.pid,
                trigger: t.kind,
                automatic: true,
                at: t.at,
                buffer: self.ring.freeze(),
                reply: None,
            });
        }
    }

    fn machine_snapshot(&mut self, sample: &Arc<Sample>) {
        let every = Duration::from_secs_f64(self.config.system.machine_snapshot_interval.max(1.0));
        if self
            .last_machine_snapshot
            .is_some_and(|t| t.elapsed() < every)
        {
            return;
        }
        self.last_machine_snapshot = Some(Instant::now());
        match self.out.writer.submit_machine_snapshot(MachineSnapshot {
            sample: sample.clone(),
        }) {
            Ok(true) => {}
            Ok(false) => tracing::warn!("machine snapshot skipped: the writer is behind"),
            Err(e) => tracing::error!("cannot hand the machine snapshot to the writer: {e}"),
        }
    }

    fn beat(&mut self, sample: &Sample, missed: u64, late: Duration) {
        let h = &mut self.heartbeat;
        h.samples += 1;
        h.late_us
            .push(u64::try_from(late.as_micros()).unwrap_or(u64::MAX));
        h.score_sum += u64::from(sample.max_score);
        h.score_max = h.score_max.max(sample.max_score);
        h.cost_ms_sum += sample.elapsed_ms;
        h.missed += missed;
        if h.samples < u64::from(self.config.system.heartbeat_samples.max(1)) {
            return;
        }
        let usage = crate::sys::self_usage();
        let db_mb = std::fs::metadata(&self.db_path)
            .map(|m| m.len() as f64 / 1_048_576.0)
            .unwrap_or(0.0);
        let dropped_total = self.sampler_stats.dropped_samples.load(Ordering::Relaxed);
        let ws = self.out.writer.stats();
        let clients = self.out.server.as_ref().map_or(0, |s| s.client_count());
        let (late_p50, late_p99, late_max) = percentiles(&mut h.late_us);
        tracing::info!(
            samples = h.samples,
            seq = sample.seq,
            processes = sample.process_count,
            avg_max_score = h.score_sum / h.samples,
            max_score = h.score_max,
            tracked = self.tracker.len(),
            clients,
            sampler_ms = format!("{:.2}", h.cost_ms_sum / h.samples as f64),
            overruns = h.missed,
            late_p50_ms = format!("{:.2}", late_p50 as f64 / 1000.0),
            late_p99_ms = format!("{:.2}", late_p99 as f64 / 1000.0),
            late_max_ms = format!("{:.2}", late_max as f64 / 1000.0),
            dropped = dropped_total - h.dropped_before,
            writer_queue = ws.queue_depth,
            writer_errors = ws.write_errors - h.writer_errors_before,
            rss_mb = format!("{:.1}", usage.rss_bytes as f64 / 1_048_576.0),
            db_mb = format!("{db_mb:.1}"),
            "♡ heartbeat"
        );
        *h = Heartbeat {
            dropped_before: dropped_total,
            writer_errors_before: ws.write_errors,
            ..Heartbeat::default()
        };
    }

    /// A request from a socket client.
    pub fn on_client_request(&mut self, req: ClientRequest) {
        let ClientRequest::Capture { pid, reply, .. } = req;
        self.capture(pid, reply, CAPTURE_WAIT_SAMPLES);
    }

    /// A manual capture of `pid` (or of the top process); a pid not sampled yet waits for up
    /// to `samples_left` samples.
    fn capture(
        &mut self,
        pid: Option<u32>,
        reply: tokio::sync::oneshot::Sender<CaptureAnswer>,
        samples_left: u32,
    ) {
        let latest = self.ring.latest().cloned();
        // The unit of the process (or the top unit): its event, its members.
        let target: Option<Unit> = latest.as_ref().and_then(|s| match pid {
            Some(pid) => s
                .units
                .iter()
                .find(|u| u.member_pids.contains(&pid))
                .cloned()
                .or_else(|| {
                    s.processes
                        .iter()
                        .find(|p| p.pid == pid)
                        .map(unit_of_process)
                }),
            None => s
                .units
                .first()
                .cloned()
                .or_else(|| s.rogues().first().map(unit_of_process)),
        });
        let Some(target) = target else {
            let alive = pid.is_some_and(|p| {
                std::path::Path::new(&self.config.sampler.proc_root)
                    .join(p.to_string())
                    .exists()
            });
            if (latest.is_none() || alive)
                && samples_left > 0
                && let Some(pid) = pid
            {
                self.waiting_captures.push(WaitingCapture {
                    pid,
                    reply,
                    samples_left,
                });
                return;
            }
            let reason = match pid {
                Some(pid) => format!("no process with pid {pid} is running"),
                None if latest.is_none() => "no sample has been taken yet; try again".into(),
                None => "no process to capture".into(),
            };
            let _ = reply.send(CaptureAnswer::Refused { reason });
            return;
        };
        let Some(f) = &self.out.forensics else {
            let _ = reply.send(CaptureAnswer::Refused {
                reason: "forensics is not running".into(),
            });
            return;
        };
        let processes = latest.as_ref().map_or(&[][..], |s| &s.processes[..]);
        let (event_id, update) = self.tracker.event_for_capture(&target, processes);
        // The process asked for is the one captured; without a pid, the unit's leader.
        let target = match pid.and_then(|p| processes.iter().find(|x| x.pid == p)) {
            Some(p) => p.clone(),
            None => target.row.clone(),
        };
        if !update.ops.is_empty() {
            if let Some(m) = &self.out.metrics {
                m.inc_events();
            }
            let _ = self.out.writer.submit(update.ops);
        }
        tracing::info!(event_id, pid = target.pid, command = %target.command, "manual capture requested");
        f.request(Request {
            event_id,
            pid: target.pid,
            trigger: Trigger::Manual,
            automatic: false,
            at: crate::sys::now_epoch(),
            buffer: self.ring.freeze(),
            reply: Some(reply),
        });
    }

    /// Closes every open event at shutdown time and hands the forensics worker back.
    pub fn close(&mut self) -> Option<Forensics> {
        let at = crate::sys::now_epoch().max(self.last_timestamp);
        let ops = self.tracker.close_all(at, ExitReason::DaemonStopped);
        if !ops.is_empty() {
            tracing::info!(events = ops.len(), "closing open events: daemon stopping");
            let _ = self.out.writer.submit(ops);
        }
        self.out.forensics.take()
    }
}

/// (p50, p99, max) of the values (sorted in place); zeros when empty.
fn percentiles(v: &mut [u64]) -> (u64, u64, u64) {
    if v.is_empty() {
        return (0, 0, 0);
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), v[v.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::percentiles;

    #[test]
    fn percentiles_of_lateness() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentiles(&mut v), (51, 99, 100));
        assert_eq!(percentiles(&mut []), (0, 0, 0));
        assert_eq!(percentiles(&mut [7]), (7, 7, 7));
    }
}
