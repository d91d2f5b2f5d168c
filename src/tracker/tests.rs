//! The original's tracker tests T1–T21 (reference §6), adapted, plus hysteresis, pid reuse, exit
//! reasons and one-snapshot-per-sample. Like the original's tests, scores carry their own band
//! labels (cut-offs 20/40/60/80 unless a band is given) and the tracker uses the label.

use super::*;
use crate::model::Resource;
use crate::store::{NewSnapshot, NextIds, Op};
use std::collections::BTreeMap;

const BOOT: i64 = 1_706_000_000;
const T0: f64 = 1_706_000_100.0;

fn label(score: u8) -> Band {
    match score {
        80.. => Band::Critical,
        60..=79 => Band::High,
        40..=59 => Band::Elevated,
        20..=39 => Band::Medium,
        _ => Band::Low,
    }
}

fn p(pid: u32, score: u8) -> ProcessScore {
    pb(pid, score, label(score))
}

fn pb(pid: u32, score: u8, band: Band) -> ProcessScore {
    ProcessScore {
        pid,
        command: format!("proc{pid}"),
        start_time: 1000.0 + f64::from(pid),
        score,
        band,
        cpu: f64::from(score),
        mem: 1 << 20,
        dominant_resource: Resource::Cpu,
        disproportionality: 2.5,
        ..Default::default()
    }
}

fn params(tracking_threshold: u8) -> TrackerParams {
    TrackerParams {
        tracking_threshold,
        forensics_band: Band::Critical,
        medium_checkpoint_samples: 30,
        elevated_checkpoint_samples: 15,
        exit_stability_samples: 1,
    }
}

/// Applies the tracker's changes the way the database would, so tests read outcomes.
#[derive(Default)]
struct Ledger {
    events: BTreeMap<i64, LedgerEvent>,
    snapshots: BTreeMap<i64, NewSnapshot>,
    triggers: Vec<Triggered>,
}

#[derive(Debug, Clone)]
struct LedgerEvent {
    pid: u32,
    peak_score: u8,
    peak_band: Band,
    peak_snapshot_id: i64,
    exit_time: Option<f64>,
    reason: Option<ExitReason>,
}

impl Ledger {
    fn apply(&mut self, u: Update) {
        for op in u.ops {
            match op {
                Op::OpenEvent(event) => {
                    self.events.insert(
                        event.id,
                        LedgerEvent {
                            pid: event.pid,
                            peak_score: event.peak_score,
                            peak_band: event.peak_band,
                            peak_snapshot_id: event.peak_snapshot_id.expect("entry is the peak"),
                            exit_time: None,
                            reason: None,
                        },
                    );
                }
                Op::InsertSnapshot(s) => {
                    assert!(self.events.contains_key(&s.event_id));
                    assert!(self.snapshots.insert(s.id, s).is_none(), "duplicate id");
                }
                Op::SetPeak {
                    event_id,
                    peak_score,
                    peak_band,
                    peak_snapshot_id,
                    ..
                } => {
                    let e = self.events.get_mut(&event_id).unwrap();
                    e.peak_score = peak_score;
                    e.peak_band = peak_band;
                    e.peak_snapshot_id = peak_snapshot_id;
                }
                Op::CloseEvent {
                    event_id,
                    exit_time,
                    reason,
                } => {
                    let e = self.events.get_mut(&event_id).unwrap();
                    assert!(e.exit_time.is_none(), "closed twice");
                    e.exit_time = Some(exit_time);
                    e.reason = Some(reason);
                }
                other => panic!("the tracker does not emit {other:?}"),
            }
        }
        for e in self.events.values() {
            assert!(
                self.snapshots.contains_key(&e.peak_snapshot_id),
                "peak snapshot exists"
            );
        }
        self.triggers.extend(u.triggers);
    }

    fn open_pids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .events
            .values()
            .filter(|e| e.exit_time.is_none())
            .map(|e| e.pid)
            .collect();
        v.sort_unstable();
        v
    }

    fn event_of(&self, pid: u32) -> (i64, LedgerEvent) {
        let (id, e) = self
            .events
            .iter()
            .rev()
            .find(|(_, e)| e.pid == pid)
            .expect("event for pid");
        (*id, e.clone())
    }

    fn kinds(&self, event_id: i64) -> Vec<&'static str> {
        self.snapshots
            .values()
            .filter(|s| s.event_id == event_id)
            .map(|s| s.snapshot_type.as_str())
            .collect()
    }
}

struct Rig {
    t: Tracker,
    ledger: Ledger,
    now: f64,
}

impl Rig {
    fn new(params: TrackerParams) -> Rig {
        Rig {
            t: Tracker::new(
                params,
                BOOT,
                NextIds {
                    event: 1,
                    snapshot: 1,
                    capture: 1,
                },
            ),
            ledger: Ledger::default(),
            now: T0,
        }
    }

    fn feed(&mut self, procs: &[ProcessScore]) {
        self.now += 1.0 / 3.0;
        let procs: Vec<ProcessScore> = procs
            .iter()
            .cloned()
            .map(|mut p| {
                p.captured_at = self.now;
                p
            })
            .collect();
        let u = self.t.update_with(&procs, self.now);
        self.ledger.apply(u);
    }
}

#[test]
fn t1_below_threshold_opens_nothing_then_threshold_opens_one() {
    let mut r = Rig::new(params(50));
    r.feed(&[p(1, 30)]);
    assert!(r.ledger.events.is_empty());
    r.feed(&[p(1, 50)]);
    assert_eq!(r.ledger.open_pids(), [1]);
    assert_eq!(r.ledger.events.len(), 1);
}

#[test]
fn t2_t3_t9_score_drop_closes_with_entry_and_exit_snapshots() {
    let mut r = Rig::new(params(50));
    let mut entry = p(1, 50);
    entry.cpu = 80.0;
    r.feed(&[entry]);
    let mut drop = p(1, 30);
    drop.cpu = 15.0;
    r.feed(&[drop]);
    let exit_time = r.now;
    assert!(r.ledger.open_pids().is_empty());
    let (id, e) = r.ledger.event_of(1);
    assert_eq!(e.exit_time, Some(exit_time));
    assert_eq!(e.reason, Some(ExitReason::ScoreDropped));
    assert_eq!(r.ledger.kinds(id), ["entry", "exit"]);
    let snaps: Vec<_> = r.ledger.snapshots.values().collect();
    assert_eq!((snaps[0].process.score, snaps[0].process.cpu), (50, 80.0));
    assert_eq!((snaps[1].process.score, snaps[1].process.cpu), (30, 15.0));
    assert_eq!(snaps[1].process.captured_at, exit_time);
}

#[test]
fn t4_t10_vanished_pid_closes_with_only_its_entry_and_a_new_pid_opens() {
    let mut r = Rig::new(params(50));
    r.feed(&[p(1, 55)]);
    r.feed(&[p(2, 60)]);
    assert_eq!(r.ledger.open_pids(), [2]);
    let (id, e) = r.ledger.event_of(1);
    assert_eq!(e.reason, Some(ExitReason::ProcessGone));
    assert_eq!(e.exit_time, Some(r.now));
    assert_eq!(r.ledger.kinds(id), ["entry"]);
}

#[test]
fn t5_new_peak_takes_score_and_band_of_its_label() {
    let mut r = Rig::new(params(50));
    r.feed(&[p(1, 55)]);
    r.feed(&[p(1, 80)]);
    let (id, e) = r.ledger.event_of(1);
    assert_eq!((e.peak_score, e.peak_band), (80, Band::Critical));
    let peak = &r.ledger.snapshots[&e.peak_snapshot_id];
    assert_eq!(
        (peak.process.score, peak.snapshot_type),
        (80, SnapshotType::Peak)
    );
    assert_eq!(r.ledger.kinds(id), ["entry", "peak"]);
}

#[test]
fn t6_empty_update_closes_everything() {
    let mut r = Rig::new(params(50));
    r.feed(&[p(1, 55), p(2, 65), p(3, 75)]);
    assert_eq!(r.ledger.open_pids(), [1, 2, 3]);
    r.feed(&[]);
    assert!(r.ledger.open_pids().is_empty());
    assert!(
        r.ledger
            .events
            .values()
            .all(|e| e.reason == Some(ExitReason::ProcessGone))
    );
}

/// T7 restored open events from the database; rogue-hunter instead closes events left by a crash
/// at the last recorded sample time, and closes open events itself at shutdown.
#[test]
fn t7_shutdown_closes_open_events_as_daemon_stopped() {
    let mut r = Rig::new(params(50));
    r.feed(&[p(1, 55), p(2, 85)]);
    let changes = r.t.close_all(T0 + 99.0, ExitReason::DaemonStopped);
    r.ledger.apply(Update {
        ops: changes,
        triggers: vec![],
    });
    assert!(r.t.is_empty());
    for e in r.ledger.events.values() {
        assert_eq!(e.exit_time, Some(T0 + 99.0));
        assert_eq!(e.reason, Some(ExitReason::DaemonStopped));
    }
}

#[test]
fn t8_entry_snapshot_keeps_the_whole_score() {
    let mut r = Rig::new(params(50));
    r.feed(&[p(1, 50)]);
    let s = r.ledger.snapshots.values().next().unwrap();
    assert_eq!(s.snapshot_type, SnapshotType::Entry);
    assert_eq!(s.process.score, 50);
    assert_eq!(s.process.cpu, 50.0);
    assert_eq!(s.process.mem, 1 << 20);
    assert_eq!(s.process.dominant_resource, Resource::Cpu);
    assert_eq!(s.process.disproportionality, 2.5);
}

#[test]
fn t11_equal_score_is_not_a_new_peak() {
    let mut r = Rig::new(params(50));
    r.feed(&[p(1, 55)]);
    let (_, before) = r.ledger.event_of(1);
    let captured = r.ledger.snapshots[&before.peak_snapshot_id]
        .process
        .captured_at;
    r.feed(&[p(1, 55)]);
    let (id, after) = r.ledger.event_of(1);
    assert_eq!(after.peak_snapshot_id, before.peak_snapshot_id);
    assert_eq!(
        r.ledger.snapshots[&after.peak_snapshot_id]
            .process
            .captured_at,
        captured
    );
    assert_eq!(r.ledger.kinds(id), ["entry"]);
}

#[test]
fn t12_several_pids_are_tracked_independently() {
    let mut r = Rig::new(params(50));
    r.feed(&[p(100, 50), p(200, 60), p(300, 70)]);
    assert_eq!(r.ledger.open_pids(), [100, 200, 300]);
    r.feed(&[p(100, 55), p(200, 30), p(300, 80)]);
    assert_eq!(r.ledger.open_pids(), [100, 300]);
    assert_eq!(r.ledger.event_of(300).1.peak_score, 80);
    r.feed(&[p(300, 75)]);
    assert_eq!(r.ledger.open_pids(), [300]);
}

#[test]
fn t13_elevated_checkpoints_every_n_samples() {
    let mut prm = params(40);
    prm.elevated_checkpoint_samples = 3;
    let mut r = Rig::new(prm);
    r.feed(&[p(1, 50)]);
    let id = r.ledger.event_of(1).0;
    for n in 1..=6 {
        r.feed(&[p(1, 50)]);
        let checkpoints = r
            .ledger
            .kinds(id)
            .iter()
            .filter(|k| **k == "checkpoint")
            .count();
        let expected = match n {
            1 | 2 => 0,
            3..=5 => 1,
            _ => 2,
        };
        assert_eq!(checkpoints, expected, "after {n} post-entry samples");
    }
}

#[test]
fn t14_low_band_is_not_tracked() {
    let mut r = Rig::new(params(40));
    r.feed(&[p(1, 15)]);
    assert!(r.ledger.events.is_empty());
}

#[test]
fn t15_medium_counter_counts_and_resets_on_checkpoint() {
    let mut prm = params(20);
    prm.medium_checkpoint_samples = 3;
    let mut r = Rig::new(prm);
    r.feed(&[p(1, 25)]);
    let key = p(1, 25).key();
    assert_eq!(r.t.event_for(&key).unwrap().since_checkpoint, 0);
    let mut counters = vec![];
    for _ in 0..3 {
        r.feed(&[p(1, 25)]);
        counters.push(r.t.event_for(&key).unwrap().since_checkpoint);
    }
    assert_eq!(counters, [1, 2, 0]);
    let id = r.ledger.event_of(1).0;
    assert_eq!(r.ledger.kinds(id), ["entry", "checkpoint"]);
}

#[test]
fn t16_medium_and_elevated_cadences_differ() {
    let mut prm = params(20);
    prm.medium_checkpoint_samples = 20;
    prm.elevated_checkpoint_samples = 10;
    let mut r = Rig::new(prm);
    r.feed(&[p(1, 25), p(2, 45)]);
    for _ in 0..10 {
        r.feed(&[p(1, 25), p(2, 45)]);
    }
    let elevated = r.t.event_for(&p(2, 45).key()).unwrap();
    let medium = r.t.event_for(&p(1, 25).key()).unwrap();
    assert_eq!(elevated.since_checkpoint, 0);
    assert_eq!(medium.since_checkpoint, 10);
    let count = |pid| {
        let id = r.ledger.event_of(pid).0;
        r.ledger
            .kinds(id)
            .iter()
            .filter(|k| **k == "checkpoint")
            .count()
    };
    assert_eq!((count(1), count(2)), (0, 1));
}

#[test]
fn t17_t18_high_and_critical_checkpoint_every_sample() {
    for band in [Band::High, Band::Critical] {
        let mut r = Rig::new(params(40));
        r.feed(&[pb(1, 65, band)]);
        for _ in 0..3 {
            r.feed(&[pb(1, 65, band)]);
            assert_eq!(r.t.event_for(&p(1, 65).key()).unwrap().since_checkpoint, 0);
        }
        let id = r.ledger.event_of(1).0;
        assert_eq!(
            r.ledger.kinds(id),
            ["entry", "checkpoint", "checkpoint", "checkpoint"],
            "{band}"
        );
    }
}

#[test]
fn t19_only_entering_the_forensics_band_triggers() {
    let mut r = Rig::new(params(40));
    r.feed(&[pb(1, 65, Band::High)]);
    assert!(r.ledger.triggers.is_empty());
    r.feed(&[pb(1, 65, Band::High), pb(2, 75, Band::Critical)]);
    assert_eq!(r.ledger.triggers.len(), 1);
    let t = &r.ledger.triggers[0];
    assert_eq!(t.kind.to_string(), "band_entry_critical");
    assert_eq!((t.pid, t.event_id), (2, r.ledger.event_of(2).0));
}

#[test]
fn t20_escalating_into_critical_triggers_once() {
    let mut r = Rig::new(params(40));
    r.feed(&[pb(1, 55, Band::High)]);
    r.feed(&[pb(1, 75, Band::Critical)]);
    r.feed(&[pb(1, 90, Band::Critical)]);
    assert_eq!(r.ledger.triggers.len(), 1);
    assert_eq!(
        r.ledger.triggers[0].kind.to_string(),
        "peak_escalation_critical"
    );
}

#[test]
fn t21_forensics_band_high_triggers_on_high_entry() {
    let mut prm = params(40);
    prm.forensics_band = Band::High;
    let mut r = Rig::new(prm);
    r.feed(&[pb(1, 65, Band::High)]);
    assert_eq!(r.ledger.triggers.len(), 1);
    assert_eq!(r.ledger.triggers[0].kind.to_string(), "band_entry_high");
}

#[test]
fn hysteresis_needs_consecutive_low_samples() {
    let mut prm = params(40);
    prm.exit_stability_samples = 3;
    let mut r = Rig::new(prm);
    r.feed(&[p(1, 50)]);
    r.feed(&[p(1, 30)]);
    r.feed(&[p(1, 30)]);
    r.feed(&[p(1, 50)]); // back above: the count starts again
    r.feed(&[p(1, 30)]);
    r.feed(&[p(1, 30)]);
    assert_eq!(r.ledger.open_pids(), [1], "two low samples are not enough");
    r.feed(&[p(1, 20)]);
    assert!(r.ledger.open_pids().is_empty());
    let (id, e) = r.ledger.event_of(1);
    assert_eq!(e.reason, Some(ExitReason::ScoreDropped));
    assert_eq!(r.ledger.kinds(id), ["entry", "exit"]);
    let exit = r.ledger.snapshots.values().last().unwrap();
    assert_eq!(
        exit.process.score, 20,
        "the exit snapshot is the closing sample"
    );
    assert_eq!(r.ledger.events.len(), 1, "no re-open while hovering");
}

#[test]
fn vanishing_during_hysteresis_is_process_gone() {
    let mut prm = params(40);
    prm.exit_stability_samples = 3;
    let mut r = Rig::new(prm);
    r.feed(&[p(1, 50)]);
    r.feed(&[p(1, 10)]);
    r.feed(&[]);
    assert_eq!(r.ledger.event_of(1).1.reason, Some(ExitReason::ProcessGone));
}

#[test]
fn pid_reuse_closes_the_old_event_and_opens_a_new_one() {
    let mut r = Rig::new(params(40));
    r.feed(&[p(7, 50)]);
    let mut reused = p(7, 60);
    reused.start_time += 500.0;
    reused.command = "other".into();
    r.feed(&[reused]);
    assert_eq!(r.ledger.events.len(), 2);
    let first = &r.ledger.events[&1];
    assert_eq!(first.reason, Some(ExitReason::ProcessGone));
    let second = &r.ledger.events[&2];
    assert_eq!((second.pid, second.exit_time), (7, None));
    assert_eq!(
        r.ledger.kinds(2),
        ["entry"],
        "a fresh event, not a peak of the old one"
    );
}

#[test]
fn a_new_peak_that_is_also_a_checkpoint_writes_one_row() {
    let mut r = Rig::new(params(40));
    r.feed(&[pb(1, 62, Band::High)]);
    r.feed(&[pb(1, 68, Band::High)]); // due checkpoint (high) and a new peak
    let id = r.ledger.event_of(1).0;
    assert_eq!(r.ledger.kinds(id), ["entry", "peak"]);
    let e = r.ledger.event_of(1).1;
    assert_eq!(r.ledger.snapshots[&e.peak_snapshot_id].process.score, 68);
}

#[test]
fn ids_continue_from_the_database_and_never_repeat() {
    let mut t = Tracker::new(
        params(40),
        BOOT,
        NextIds {
            event: 41,
            snapshot: 900,
            capture: 7,
        },
    );
    let u = t.update_with(&[p(1, 50), p(2, 70)], T0);
    let events: Vec<(i64, Option<i64>)> = u
        .ops
        .iter()
        .filter_map(|c| match c {
            Op::OpenEvent(event) => Some((event.id, event.peak_snapshot_id)),
            _ => None,
        })
        .collect();
    assert_eq!(events, [(41, Some(900)), (42, Some(901))]);
    assert_eq!(
        t.next_ids(),
        NextIds {
            event: 43,
            snapshot: 902,
            capture: 7,
        }
    );
    let Op::OpenEvent(event) = &u.ops[0] else {
        panic!("first op is an open");
    };
    assert_eq!(event.boot_time, BOOT);
}

#[test]
fn processes_below_threshold_never_enter_the_tracker() {
    let mut r = Rig::new(params(40));
    let crowd: Vec<ProcessScore> = (1..500).map(|pid| p(pid, 5)).collect();
    r.feed(&crowd);
    assert!(r.t.is_empty() && r.ledger.events.is_empty());
}

#[test]
fn manual_capture_uses_the_open_event_or_opens_one() {
    let mut r = Rig::new(params(40));
    r.feed(&[p(1, 50)]);
    let open_id = r.ledger.event_of(1).0;
    let (id, u) = r.t.event_for_capture(&unit_of_process(&p(1, 50)), &[]);
    assert_eq!(id, open_id);
    assert!(u.ops.is_empty());

    let quiet = p(2, 5);
    let (id2, u2) =
        r.t.event_for_capture(&unit_of_process(&quiet), std::slice::from_ref(&quiet));
    assert_ne!(id2, open_id);
    assert!(
        u2.triggers.is_empty(),
        "no automatic trigger on top of the manual one"
    );
    assert!(matches!(&u2.ops[0], Op::OpenEvent(event) if event.id == id2 && event.pid == 2));
    r.ledger.apply(u2);
    // It then follows the usual rules: below the threshold it closes.
    r.feed(&[p(1, 50), p(2, 5)]);
    assert_eq!(
        r.ledger.event_of(2).1.reason,
        Some(ExitReason::ScoreDropped)
    );
}
