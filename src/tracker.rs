//! Per-process events, as pure logic: a sample goes in, changes to record and forensics triggers
//! come out. Nothing here touches the database or the clock, so every rule tests without a machine.
//!
//! Rules (the original's tracker with its known weaknesses fixed):
//! - a process is (pid, start_time): a reused pid is a new process, and the old event closes as
//!   `process_gone`;
//! - an event opens when a score reaches the tracking threshold, with an `entry` snapshot that is
//!   also its first peak;
//! - a new peak (strictly above the old) and a due checkpoint write **one** snapshot row between
//!   them (type `peak` when it is a new peak, else `checkpoint`); checkpoints come every sample in
//!   high/critical, every `elevated_checkpoint_samples` in elevated, every
//!   `medium_checkpoint_samples` in medium;
//! - hysteresis: an event closes (`score_dropped`, with an `exit` snapshot) only after
//!   `exit_stability_samples` consecutive samples below the threshold;
//! - forensics triggers `band_entry_<band>` (an event opens at or above the forensics band) and
//!   `peak_escalation_<band>` (a new peak crosses into it); at most one of them per event;
//! - event and snapshot ids are assigned here, so nothing waits for the database.

use crate::config::Config;
use crate::model::{Band, ExitReason, ProcessKey, ProcessScore, Sample, SnapshotType, Trigger};
use crate::store::{NewEvent, NewSnapshot, NextIds, Op};
use std::collections::HashMap;

/// A request for a forensic capture of an event: [`Trigger::BandEntry`] or
/// [`Trigger::PeakEscalation`].
#[derive(Debug, Clone, PartialEq)]
pub struct Triggered {
    pub event_id: i64,
    pub pid: u32,
    pub command: String,
    pub kind: Trigger,
    /// Sample time that raised it (epoch seconds).
    pub at: f64,
}

/// What one sample produced: writer operations in order, and capture triggers.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Update {
    pub ops: Vec<Op>,
    pub triggers: Vec<Triggered>,
}

/// Thresholds and cadences, taken from the config once.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerParams {
    pub tracking_threshold: u8,
    pub forensics_band: Band,
    pub medium_checkpoint_samples: u32,
    pub elevated_checkpoint_samples: u32,
    pub exit_stability_samples: u32,
}

impl TrackerParams {
    /// The tracker's part of the configuration.
    pub fn from_config(c: &Config) -> TrackerParams {
        TrackerParams {
            tracking_threshold: c.bands.tracking_threshold(),
            forensics_band: c.bands.forensics_band,
            medium_checkpoint_samples: c.bands.medium_checkpoint_samples,
            elevated_checkpoint_samples: c.bands.elevated_checkpoint_samples,
            exit_stability_samples: c.tracking.exit_stability_samples.max(1),
        }
    }

    /// Samples between checkpoints in a band; 0 means never.
    fn checkpoint_interval(&self, band: Band) -> u32 {
        match band {
            Band::High | Band::Critical => 1,
            Band::Elevated => self.elevated_checkpoint_samples,
            Band::Medium => self.medium_checkpoint_samples,
            Band::Low => 0,
        }
    }
}

/// What the tracker remembers about one open event.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenEvent {
    pub event_id: i64,
    pub pid: u32,
    pub start_time: f64,
    pub command: String,
    pub entry_time: f64,
    pub peak_score: u8,
    pub peak_band: Band,
    pub peak_snapshot_id: i64,
    /// Samples since the last snapshot row (checkpoint cadence).
    pub since_checkpoint: u32,
    /// Consecutive samples below the tracking threshold.
    pub below: u32,
    /// The latest score seen.
    pub last_score: u8,
}

/// Open events keyed by process identity.
#[derive(Debug)]
pub struct Tracker {
    params: TrackerParams,
    boot_time: i64,
    boot_id: Option<String>,
    next: NextIds,
    open: HashMap<ProcessKey, OpenEvent>,
}

impl Tracker {
    /// A tracker with no open events.
    pub fn new(params: TrackerParams, boot_time: i64, next: NextIds) -> Tracker {
        Tracker {
            params,
            boot_time,
            boot_id: None,
            next,
            open: HashMap::new(),
        }
    }

    /// Stamps new events with the kernel's id of this boot (see `crate::sys::boot_id`).
    pub fn with_boot_id(mut self, boot_id: Option<String>) -> Tracker {
        self.boot_id = boot_id;
        self
    }

    /// Open events, in no particular order.
    pub fn open_events(&self) -> impl Iterator<Item = &OpenEvent> {
        self.open.values()
    }

    /// The open event of a process, if any.
    pub fn event_for(&self, key: &ProcessKey) -> Option<&OpenEvent> {
        self.open.get(key)
    }

    /// Number of open events.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The ids the next open/snapshot will get (the capture id is not the tracker's to use).
    pub fn next_ids(&self) -> NextIds {
        self.next
    }

    fn take_event_id(&mut self) -> i64 {
        let id = self.next.event;
        self.next.event += 1;
        id
    }

    fn snapshot(&mut self, event_id: i64, kind: SnapshotType, p: &ProcessScore) -> NewSnapshot {
        let id = self.next.snapshot;
        self.next.snapshot += 1;
        NewSnapshot {
            id,
            event_id,
            snapshot_type: kind,
            process: p.clone(),
        }
    }

    /// Feeds one sample (every process of it).
    pub fn update(&mut self, sample: &Sample) -> Update {
        self.update_with(&sample.processes, sample.timestamp)
    }

    /// Feeds the processes of one sample; `now` closes events of vanished processes.
    pub fn update_with(&mut self, processes: &[ProcessScore], now: f64) -> Update {
        let mut out = Update::default();
        let present: HashMap<ProcessKey, &ProcessScore> = processes
            .iter()
            .filter(|p| {
                p.score >= self.params.tracking_threshold || self.open.contains_key(&p.key())
            })
            .map(|p| (p.key(), p))
            .collect();

        let mut gone: Vec<(ProcessKey, i64)> = self
            .open
            .iter()
            .filter(|(k, _)| !present.contains_key(k))
            .map(|(k, e)| (*k, e.event_id))
            .collect();
        gone.sort_by_key(|(_, id)| *id);
        for (key, event_id) in gone {
            self.open.remove(&key);
            out.ops.push(Op::CloseEvent {
                event_id,
                exit_time: now,
                reason: ExitReason::ProcessGone,
            });
        }

        for p in processes {
            let key = p.key();
            if !present.contains_key(&key) {
                continue;
            }
            if self.open.contains_key(&key) {
                self.continue_event(key, p, &mut out);
            } else {
                self.open_event(key, p, &mut out);
            }
        }
        out
    }

    fn open_event(&mut self, key: ProcessKey, p: &ProcessScore, out: &mut Update) {
        let event_id = self.take_event_id();
        let entry = self.snapshot(event_id, SnapshotType::Entry, p);
        let event = NewEvent {
            id: event_id,
            pid: p.pid,
            start_time: p.start_time,
            command: p.command.clone(),
            boot_time: self.boot_time,
            boot_id: self.boot_id.clone(),
            entry_time: p.captured_at,
            entry_band: p.band,
            peak_score: p.score,
            peak_band: p.band,
            peak_snapshot_id: Some(entry.id),
        };
        if p.band >= self.params.forensics_band {
            out.triggers.push(Triggered {
                event_id,
                pid: p.pid,
                command: p.command.clone(),
                kind: Trigger::BandEntry(p.band),
                at: p.captured_at,
            });
        }
        self.open.insert(
            key,
            OpenEvent {
                event_id,
                pid: p.pid,
                start_time: p.start_time,
                command: p.command.clone(),
                entry_time: p.captured_at,
                peak_score: p.score,
                peak_band: p.band,
                peak_snapshot_id: entry.id,
                since_checkpoint: 0,
                below: 0,
                last_score: p.score,
            },
        );
        // The event names its entry snapshot; the reference is checked at commit.
        out.ops.push(Op::OpenEvent(event));
        out.ops.push(Op::InsertSnapshot(entry));
    }

    fn continue_event(&mut self, key: ProcessKey, p: &ProcessScore, out: &mut Update) {
        let params = self.params.clone();
        let Some(ev) = self.open.get_mut(&key) else {
            return;
        };
        ev.last_score = p.score;
        let event_id = ev.event_id;

        if p.score < params.tracking_threshold {
            ev.below += 1;
            if ev.below >= params.exit_stability_samples {
                self.open.remove(&key);
                let exit = self.snapshot(event_id, SnapshotType::Exit, p);
                out.ops.push(Op::InsertSnapshot(exit));
                out.ops.push(Op::CloseEvent {
                    event_id,
                    exit_time: p.captured_at,
                    reason: ExitReason::ScoreDropped,
                });
            }
            return;
        }
        ev.below = 0;
        ev.since_checkpoint += 1;

        let new_peak = p.score > ev.peak_score;
        let interval = params.checkpoint_interval(p.band);
        let checkpoint_due = interval > 0 && ev.since_checkpoint >= interval;
        if new_peak && p.band >= params.forensics_band && ev.peak_band < params.forensics_band {
            out.triggers.push(Triggered {
                event_id,
                pid: p.pid,
                command: p.command.clone(),
                kind: Trigger::PeakEscalation(p.band),
                at: p.captured_at,
            });
        }
        if !(new_peak || checkpoint_due) {
            return;
        }
        ev.since_checkpoint = 0;
        let kind = if new_peak {
            SnapshotType::Peak
        } else {
            SnapshotType::Checkpoint
        };
        let snap = self.snapshot(event_id, kind, p);
        let snap_id = snap.id;
        out.ops.push(Op::InsertSnapshot(snap));
        if new_peak && let Some(ev) = self.open.get_mut(&key) {
            ev.peak_score = p.score;
            ev.peak_band = p.band;
            ev.peak_snapshot_id = snap_id;
            out.ops.push(Op::SetPeak {
                event_id,
                peak_score: p.score,
                peak_band: p.band,
                peak_snapshot_id: snap_id,
            });
        }
    }

    /// The event a manual capture of `p` belongs to: its open event, or a new one opened now
    /// whatever its score (it then closes by the usual rules). Returns the event id and the
    /// changes to record.
    pub fn event_for_capture(&mut self, p: &ProcessScore) -> (i64, Update) {
        let key = p.key();
        if let Some(ev) = self.open.get(&key) {
            return (ev.event_id, Update::default());
        }
        let mut out = Update::default();
        self.open_event(key, p, &mut out);
        // A manual capture is requested explicitly; do not also raise an automatic one.
        out.triggers.clear();
        let id = self.open.get(&key).map_or(0, |e| e.event_id);
        (id, out)
    }

    /// Closes every open event (daemon shutdown), oldest first.
    pub fn close_all(&mut self, at: f64, reason: ExitReason) -> Vec<Op> {
        let mut ids: Vec<i64> = self.open.values().map(|e| e.event_id).collect();
        ids.sort_unstable();
        self.open.clear();
        ids.into_iter()
            .map(|event_id| Op::CloseEvent {
                event_id,
                exit_time: at,
                reason,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
