//! The platform-independent end of a pass: rates, zombie children, scoring, ordering and the
//! `Sample` itself.

use crate::config::{BandsConfig, ScoringConfig};
use crate::model::{ProcState, ProcessScore, Sample};
use crate::score;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Per-second rate of a cumulative counter between two readings `dt_s` seconds apart: 0 when no
/// time passed or the counter did not grow (a reset, a wrap, a GPU client that closed). A first
/// sighting has no previous reading and callers give it 0 without calling this.
pub(crate) fn rate(prev: u64, cur: u64, dt_s: f64) -> f64 {
    if dt_s > 0.0 && cur > prev {
        (cur - prev) as f64 / dt_s
    } else {
        0.0
    }
}

/// Wall-clock time, epoch seconds.
pub(crate) fn wall_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Sets `zombie_children` of every process: the processes of this pass in state zombie whose
/// parent it is.
pub(crate) fn count_zombie_children(processes: &mut [ProcessScore]) {
    // Zombies are rare: collecting their parents allocates nothing when there are none.
    let mut parents: Vec<u32> = processes
        .iter()
        .filter(|p| p.state == ProcState::Zombie)
        .map(|p| p.ppid)
        .collect();
    if parents.is_empty() {
        return;
    }
    parents.sort_unstable();
    for p in processes.iter_mut() {
        let lo = parents.partition_point(|&x| x < p.pid);
        let hi = parents.partition_point(|&x| x <= p.pid);
        p.zombie_children = u32::try_from(hi - lo).unwrap_or(u32::MAX);
    }
}

/// What a pass needs besides its processes to become a `Sample`.
pub(crate) struct PassInfo<'a> {
    pub seq: u64,
    pub started: Instant,
    pub access_denied: u32,
    pub scoring: &'a ScoringConfig,
    pub bands: &'a BandsConfig,
    pub max_count: usize,
}

/// Scores the processes of a pass (in enumeration order) and builds the `Sample`: highest score
/// first, ties in enumeration order.
pub(crate) fn finish(mut processes: Vec<ProcessScore>, info: PassInfo<'_>) -> Sample {
    count_zombie_children(&mut processes);
    score::score_all(&mut processes, info.scoring, info.bands);
    // Stable: equal scores keep enumeration order.
    processes.sort_by_key(|p| std::cmp::Reverse(p.score));
    let max_score = processes.first().map_or(0, |p| p.score);
    Sample {
        seq: info.seq,
        timestamp: wall_now(),
        elapsed_ms: info.started.elapsed().as_secs_f64() * 1000.0,
        process_count: processes.len(),
        max_score,
        rogue_count: info.max_count.min(processes.len()),
        access_denied: info.access_denied,
        processes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, state: ProcState) -> ProcessScore {
        ProcessScore {
            pid,
            ppid,
            state,
            ..Default::default()
        }
    }

    #[test]
    fn rates_follow_the_originals_rules() {
        assert_eq!(rate(100, 300, 2.0), 100.0);
        assert_eq!(rate(300, 100, 2.0), 0.0, "a counter going backwards is 0");
        assert_eq!(rate(100, 100, 2.0), 0.0);
        assert_eq!(rate(100, 300, 0.0), 0.0, "no time, no rate");
    }

    #[test]
    fn zombie_children_are_counted_per_parent() {
        let mut ps = vec![
            p(1, 0, ProcState::Sleeping),
            p(10, 1, ProcState::Sleeping),
            p(11, 10, ProcState::Zombie),
            p(12, 10, ProcState::Zombie),
            p(13, 1, ProcState::Zombie),
            p(14, 10, ProcState::Running),
        ];
        count_zombie_children(&mut ps);
        let counts: Vec<u32> = ps.iter().map(|p| p.zombie_children).collect();
        assert_eq!(counts, vec![1, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn finish_orders_by_score_keeping_ties_in_enumeration_order() {
        // Memory alone decides: shares 3:1:3:2 among four memory users.
        let mib = 1024 * 1024 * 100;
        let mk = |pid, mem| ProcessScore {
            pid,
            mem,
            state: ProcState::Running,
            ..Default::default()
        };
        let procs = vec![mk(5, 3 * mib), mk(6, mib), mk(7, 3 * mib), mk(8, 2 * mib)];
        let scoring = ScoringConfig {
            score_multiplier: 10.0,
            ..ScoringConfig::default()
        };
        let bands = BandsConfig::default();
        let s = finish(
            procs,
            PassInfo {
                seq: 4,
                started: Instant::now(),
                access_denied: 2,
                scoring: &scoring,
                bands: &bands,
                max_count: 2,
            },
        );
        let order: Vec<u32> = s.processes.iter().map(|p| p.pid).collect();
        assert_eq!(order, vec![5, 7, 8, 6]);
        assert_eq!(s.processes[0].score, s.processes[1].score);
        assert!(s.processes[0].score > s.processes[2].score);
        assert_eq!(s.max_score, s.processes[0].score);
        assert_eq!(
            (s.seq, s.process_count, s.rogue_count, s.access_denied),
            (4, 4, 2, 2)
        );
        assert!(s.elapsed_ms >= 0.0 && s.timestamp > 1.6e9);
    }

    #[test]
    fn an_empty_pass_has_max_score_zero() {
        let s = finish(
            Vec::new(),
            PassInfo {
                seq: 1,
                started: Instant::now(),
                access_denied: 0,
                scoring: &ScoringConfig::default(),
                bands: &BandsConfig::default(),
                max_count: 20,
            },
        );
        assert_eq!((s.max_score, s.rogue_count, s.process_count), (0, 0, 0));
    }
}
