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
use crate::model::{Band, ExitReason, ProcessScore, Sample};
use crate::ring::Ring;
use crate::store::startup::LAST_SAMPLE_TIME_KEY;
use crate::store::{MachineSnapshot, Op, WriterHandle};
use crate::tracker::{Tracker, Trigger};
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
    events_opened: u64,
}

#[derive(Default)]
struct Heartbeat {
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
            events_opened: 0,
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
        self.events_opened += opened;
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
        for line in self.band_log.update(sample.rogues()) {
            tracing::info!("{line}");
        }
        self.beat(&sample, msg.missed);
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

    fn trigger(&mut self, t: Trigger) {
        tracing::info!(event_id = t.event_id, pid = t.pid, command = %t.command, trigger = %t.kind, "forensics triggered");
        if let Some(f) = &self.out.forensics {
            f.request(Request {
                event_id: t.event_id,
                pid: t.pid,
                trigger: t.kind.to_string(),
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

    fn beat(&mut self, sample: &Sample, missed: u64) {
        let h = &mut self.heartbeat;
        h.samples += 1;
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
        let Some(latest) = self.ring.latest().cloned() else {
            let _ = reply.send(CaptureAnswer::Refused {
                reason: "no sample has been taken yet; try again in a moment".into(),
            });
            return;
        };
        let target: Option<&ProcessScore> = match pid {
            Some(pid) => latest.processes.iter().find(|p| p.pid == pid),
            None => latest.rogues().first(),
        };
        let Some(target) = target.cloned() else {
            let reason = match pid {
                Some(pid) => format!("no process with pid {pid} in the latest sample"),
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
        let (event_id, update) = self.tracker.event_for_capture(&target);
        if !update.ops.is_empty() {
            self.events_opened += 1;
            if let Some(m) = &self.out.metrics {
                m.inc_events();
            }
            let _ = self.out.writer.submit(update.ops);
        }
        tracing::info!(event_id, pid = target.pid, command = %target.command, "manual capture requested");
        f.request(Request {
            event_id,
            pid: target.pid,
            trigger: "manual".into(),
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

    /// The frozen ring buffer (for tests and captures).
    pub fn ring(&self) -> &Ring {
        &self.ring
    }
}
