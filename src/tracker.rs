//! Events, as pure logic: a sample goes in, changes to record and forensics triggers come out.
//! Nothing here touches the database or the clock, so every rule tests without a machine.
//!
//! An event follows a **unit** (`Sample::units`: a cgroup, one program in a process group, or
//! one process; under fair-share every process is its own unit), keyed by the unit's key. It
//! names the unit's leader (pid, start time, command), its member count, and the reason of its
//! entry and peak scores; each snapshot stores the unit's summed row and its members' own rows;
//! each trigger carries the members' pids.
//!
//! Rules (the original's tracker with its known weaknesses fixed):
//! - a single process is (pid, start_time): a reused pid is a new unit, and the old event closes
//!   as `process_gone`; a unit of several processes is gone when none of it is left;
//! - a tracked unit that drops out of `Sample::units` (its score fell to 0, or below the tracking
//!   threshold under fair-share) is followed through its leader's own row while the leader lives;
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
use crate::model::{
    Band, ExitReason, ProcessKey, ProcessScore, Sample, SnapshotType, Trigger, Unit, UnitKind,
};
use crate::store::{EventUnit, NewEvent, NewSnapshot, NextIds, Op};
use std::collections::HashMap;

/// Members kept per snapshot (the most to blame first): enough for any capture and report,
/// bounded for a `make -j64`.
pub const SNAPSHOT_MEMBERS_MAX: usize = 32;

/// A request for a forensic capture of an event: [`Trigger::BandEntry`] or
/// [`Trigger::PeakEscalation`].
#[derive(Debug, Clone, PartialEq)]
pub struct Triggered {
    pub event_id: i64,
    /// The unit's leader.
    pub pid: u32,
    pub command: String,
    pub kind: Trigger,
    /// Sample time that raised it (epoch seconds).
    pub at: f64,
    /// Every member of the unit (the leader included), for profiling all of them.
    pub members: Vec<u32>,
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
    /// The unit's key.
    pub key: String,
    /// The leader at entry.
    pub pid: u32,
    pub start_time: f64,
    pub command: String,
    /// The unit's members in the latest sample.
    pub members: Vec<u32>,
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

/// Open events keyed by unit.
#[derive(Debug)]
pub struct Tracker {
    params: TrackerParams,
    boot_time: i64,
    next: NextIds,
    open: HashMap<String, OpenEvent>,
}

/// The key of a process that is its own unit.
pub fn process_unit_key(p: &ProcessScore) -> String {
    format!("pid:{}:{}", p.pid, p.start_time)
}

/// A process as a unit of one.
pub fn unit_of_process(p: &ProcessScore) -> Unit {
    Unit {
        key: process_unit_key(p),
        kind: UnitKind::Process,
        label: String::new(),
        row: p.clone(),
        member_pids: vec![p.pid],
    }
}

impl Tracker {
    /// A tracker with no open events.
    pub fn new(params: TrackerParams, boot_time: i64, next: NextIds) -> Tracker {
        Tracker {
            params,
            boot_time,
            next,
            open: HashMap::new(),
        }
    }

    /// Open events, in no particular order.
    pub fn open_events(&self) -> impl Iterator<Item = &OpenEvent> {
        self.open.values()
    }

    /// The open event a process belongs to (as its leader or a member), if any.
    pub fn event_for(&self, key: &ProcessKey) -> Option<&OpenEvent> {
        self.open.values().find(|e| {
            (e.pid == key.pid && e.start_time.to_bits() == key.start_bits)
                || e.members.contains(&key.pid)
        })
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

    fn snapshot(
        &mut self,
        event_id: i64,
        kind: SnapshotType,
        u: &Unit,
        rows: &Rows<'_>,
    ) -> NewSnapshot {
        let id = self.next.snapshot;
        self.next.snapshot += 1;
        NewSnapshot {
            id,
            event_id,
            snapshot_type: kind,
            process: u.row.clone(),
            members: rows.members_of(u),
        }
    }

    /// Feeds one sample (its units, and its processes for the members' rows).
    pub fn update(&mut self, sample: &Sample) -> Update {
        self.update_units(&sample.units, &sample.processes, sample.timestamp)
    }

    /// Feeds processes as units of one each (every process at or above the tracking threshold,
    /// as under fair-share); `now` closes events of vanished processes.
    pub fn update_with(&mut self, processes: &[ProcessScore], now: f64) -> Update {
        let units: Vec<Unit> = processes
            .iter()
            .filter(|p| p.score >= self.params.tracking_threshold)
            .map(unit_of_process)
            .collect();
        self.update_units(&units, processes, now)
    }

    /// Feeds the units of one sample and every process of it; `now` closes events of vanished
    /// units.
    pub fn update_units(&mut self, units: &[Unit], processes: &[ProcessScore], now: f64) -> Update {
        let mut out = Update::default();
        let rows = Rows::new(processes);
        // Units listed in the sample, then tracked units followed through their leader's row.
        let mut present: Vec<Unit> = units
            .iter()
            .filter(|u| {
                u.row.score >= self.params.tracking_threshold || self.open.contains_key(&u.key)
            })
            .cloned()
            .collect();
        let listed: std::collections::HashSet<&str> =
            units.iter().map(|u| u.key.as_str()).collect();
        let mut gone: Vec<(String, i64)> = Vec::new();
        let mut followed: Vec<(i64, Unit)> = Vec::new();
        for (key, e) in &self.open {
            if listed.contains(key.as_str()) {
                continue;
            }
            let leader = ProcessKey {
                pid: e.pid,
                start_bits: e.start_time.to_bits(),
            };
            match rows.by_key(&leader) {
                Some(p) => {
                    let mut u = unit_of_process(p);
                    u.key.clone_from(key);
                    followed.push((e.event_id, u));
                }
                None => gone.push((key.clone(), e.event_id)),
            }
        }
        gone.sort_by_key(|(_, id)| *id);
        for (key, event_id) in gone {
            self.open.remove(&key);
            out.ops.push(Op::CloseEvent {
                event_id,
                exit_time: now,
                reason: ExitReason::ProcessGone,
            });
        }
        followed.sort_by_key(|(id, _)| *id);
        present.extend(followed.into_iter().map(|(_, u)| u));

        for u in &present {
            if self.open.contains_key(&u.key) {
                self.continue_event(u, &rows, &mut out);
            } else {
                self.open_event(u, &rows, &mut out);
            }
        }
        out
    }

    fn open_event(&mut self, u: &Unit, rows: &Rows<'_>, out: &mut Update) {
        let p = &u.row;
        let event_id = self.take_event_id();
        let entry = self.snapshot(event_id, SnapshotType::Entry, u, rows);
        let members = u32::try_from(u.member_pids.len()).unwrap_or(u32::MAX);
        let event = NewEvent {
            id: event_id,
            pid: p.pid,
            start_time: p.start_time,
            command: p.command.clone(),
            boot_time: self.boot_time,
            entry_time: p.captured_at,
            entry_band: p.band,
            peak_score: p.score,
            peak_band: p.band,
            peak_snapshot_id: Some(entry.id),
            unit: EventUnit {
                key: u.key.clone(),
                kind: u.kind,
                label: u.label.clone(),
                members,
            },
            reason: p.reason.clone(),
        };
        if p.band >= self.params.forensics_band {
            out.triggers.push(Triggered {
                event_id,
                pid: p.pid,
                command: p.command.clone(),
                kind: Trigger::BandEntry(p.band),
                at: p.captured_at,
                members: u.member_pids.clone(),
            });
        }
        self.open.insert(
            u.key.clone(),
            OpenEvent {
                event_id,
                key: u.key.clone(),
                pid: p.pid,
                start_time: p.start_time,
                command: p.command.clone(),
                members: u.member_pids.clone(),
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

    fn continue_event(&mut self, u: &Unit, rows: &Rows<'_>, out: &mut Update) {
        let params = self.params.clone();
        let p = &u.row;
        let key = u.key.clone();
        let Some(ev) = self.open.get_mut(&key) else {
            return;
        };
        ev.last_score = p.score;
        ev.members.clone_from(&u.member_pids);
        let event_id = ev.event_id;

        if p.score < params.tracking_threshold {
            ev.below += 1;
            if ev.below >= params.exit_stability_samples {
                self.open.remove(&key);
                let exit = self.snapshot(event_id, SnapshotType::Exit, u, rows);
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
                pid: ev.pid,
                command: ev.command.clone(),
                kind: Trigger::PeakEscalation(p.band),
                at: p.captured_at,
                members: u.member_pids.clone(),
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
        let snap = self.snapshot(event_id, kind, u, rows);
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
                reason: p.reason.clone(),
                members: u32::try_from(u.member_pids.len()).unwrap_or(u32::MAX),
            });
        }
    }

    /// The event a manual capture of `unit` belongs to: its open event, or a new one opened
    /// now whatever its score (it then closes by the usual rules). `processes` supply the
    /// members' rows. Returns the event id and the changes to record.
    pub fn event_for_capture(&mut self, unit: &Unit, processes: &[ProcessScore]) -> (i64, Update) {
        if let Some(ev) = self.open.get(&unit.key) {
            return (ev.event_id, Update::default());
        }
        let mut out = Update::default();
        self.open_event(unit, &Rows::new(processes), &mut out);
        // A manual capture is requested explicitly; do not also raise an automatic one.
        out.triggers.clear();
        let id = self.open.get(&unit.key).map_or(0, |e| e.event_id);
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

/// The processes of a sample, found by pid or identity when a snapshot needs them.
struct Rows<'a> {
    all: &'a [ProcessScore],
    by_pid: std::cell::OnceCell<HashMap<u32, usize>>,
}

impl<'a> Rows<'a> {
    fn new(all: &'a [ProcessScore]) -> Rows<'a> {
        Rows {
            all,
            by_pid: std::cell::OnceCell::new(),
        }
    }

    fn index(&self) -> &HashMap<u32, usize> {
        self.by_pid.get_or_init(|| {
            self.all
                .iter()
                .enumerate()
                .map(|(i, p)| (p.pid, i))
                .collect()
        })
    }

    fn by_key(&self, key: &ProcessKey) -> Option<&'a ProcessScore> {
        let p = &self.all[*self.index().get(&key.pid)?];
        (p.key() == *key).then_some(p)
    }

    /// The members' rows of a unit of several processes (none for one process), the most to
    /// blame for its dominant resource first, at most [`SNAPSHOT_MEMBERS_MAX`].
    fn members_of(&self, u: &Unit) -> Vec<ProcessScore> {
        if u.member_pids.len() <= 1 {
            return Vec::new();
        }
        let idx = self.index();
        let mut m: Vec<ProcessScore> = u
            .member_pids
            .iter()
            .filter_map(|pid| idx.get(pid).map(|&i| self.all[i].clone()))
            .collect();
        let d = u.row.dominant_resource;
        let blame = |p: &ProcessScore| match d {
            crate::model::Resource::Cpu => p.cpu_share,
            crate::model::Resource::Gpu => p.gpu_share,
            crate::model::Resource::Memory => p.mem_share,
            crate::model::Resource::Disk => p.disk_share,
            crate::model::Resource::Wakeups => p.wakeups_share,
        };
        m.sort_by(|a, b| blame(b).total_cmp(&blame(a)).then(a.pid.cmp(&b.pid)));
        m.truncate(SNAPSHOT_MEMBERS_MAX);
        m
    }
}

#[cfg(test)]
mod tests;
