//! An event's timeline: the culprit's score and per-resource usage at each of its snapshots
//! (entry, checkpoints, peaks, exit). A long event keeps at most [`MAX_POINTS`] points, each the
//! highest value of its bucket, so a chart never loses a peak. Pure.

use crate::store::queries::SnapshotRow;
use serde::Serialize;

/// Points a timeline keeps.
pub const MAX_POINTS: usize = 600;

/// The culprit over its event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// Epoch seconds (the middle of each bucket).
    pub t: Vec<f64>,
    pub score: Vec<f64>,
    /// CPU in cores.
    pub cpu: Vec<f64>,
    /// Memory, bytes.
    pub mem: Vec<f64>,
    /// Disk bytes per second.
    pub disk: Vec<f64>,
    pub wakeups: Vec<f64>,
    /// Snapshots behind it.
    pub snapshots: usize,
    /// Snapshots per point (1: every snapshot is a point).
    pub per_point: usize,
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v.max(0.0) } else { 0.0 }
}

/// The timeline of an event's snapshots (oldest first).
pub fn build(snapshots: &[SnapshotRow]) -> Timeline {
    let per = snapshots.len().div_ceil(MAX_POINTS).max(1);
    let mut tl = Timeline {
        t: Vec::new(),
        score: Vec::new(),
        cpu: Vec::new(),
        mem: Vec::new(),
        disk: Vec::new(),
        wakeups: Vec::new(),
        snapshots: snapshots.len(),
        per_point: per,
    };
    for chunk in snapshots.chunks(per) {
        let max = |f: &dyn Fn(&SnapshotRow) -> f64| {
            chunk.iter().map(|s| finite(f(s))).fold(0.0, f64::max)
        };
        tl.t.push(chunk.iter().map(|s| s.captured_at).sum::<f64>() / chunk.len() as f64);
        tl.score.push(max(&|s| f64::from(s.process.score)));
        tl.cpu.push(max(&|s| s.process.cpu / 100.0));
        tl.mem.push(max(&|s| s.process.mem as f64));
        tl.disk.push(max(&|s| s.process.disk_io_rate));
        tl.wakeups.push(max(&|s| s.process.wakeups_rate));
    }
    tl
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProcessScore, SnapshotType};

    fn snap(i: usize, score: u8, cpu: f64) -> SnapshotRow {
        SnapshotRow {
            id: i as i64,
            event_id: 1,
            snapshot_type: SnapshotType::Checkpoint.into(),
            captured_at: 1000.0 + i as f64,
            process: ProcessScore {
                score,
                cpu,
                captured_at: 1000.0 + i as f64,
                ..Default::default()
            },
        }
    }

    #[test]
    fn every_snapshot_is_a_point_until_there_are_too_many() {
        let tl = build(&[snap(0, 40, 50.0), snap(1, 80, 250.0)]);
        assert_eq!(tl.t, [1000.0, 1001.0]);
        assert_eq!(tl.score, [40.0, 80.0]);
        assert_eq!(tl.cpu, [0.5, 2.5]);
        assert_eq!(tl.per_point, 1);
    }

    #[test]
    fn a_long_event_keeps_every_peak() {
        let n = MAX_POINTS * 2 + 10;
        let snaps: Vec<_> = (0..n)
            .map(|i| snap(i, if i == 777 { 99 } else { 41 }, f64::NAN))
            .collect();
        let tl = build(&snaps);
        assert_eq!(tl.per_point, 3);
        assert!(tl.t.len() <= MAX_POINTS);
        assert_eq!(tl.score.iter().filter(|&&s| s == 99.0).count(), 1);
        assert!(tl.cpu.iter().all(|c| *c == 0.0), "NaN reads as 0");
        assert_eq!(build(&[]).t.len(), 0);
    }
}
