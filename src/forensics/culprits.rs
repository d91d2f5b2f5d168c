//! Culprits of a frozen ring buffer, as the original computes them: every sample's top-N rogues,
//! the highest score per pid (first seen wins a tie), highest first.

use crate::model::Sample;
use crate::store::Culprit;
use std::collections::HashMap;
use std::sync::Arc;

/// The culprits of a buffer, highest score first (ties keep first-seen order).
pub fn identify(samples: &[Arc<Sample>]) -> Vec<Culprit> {
    let mut best: Vec<Culprit> = Vec::new();
    let mut index: HashMap<u32, usize> = HashMap::new();
    for sample in samples {
        for p in sample.rogues() {
            match index.get(&p.pid) {
                Some(&i) if p.score <= best[i].score => {}
                Some(&i) => best[i] = culprit(p),
                None => {
                    index.insert(p.pid, best.len());
                    best.push(culprit(p));
                }
            }
        }
    }
    best.sort_by_key(|c| std::cmp::Reverse(c.score));
    best
}

fn culprit(p: &crate::model::ProcessScore) -> Culprit {
    Culprit {
        pid: p.pid,
        command: p.command.clone(),
        score: p.score,
        dominant_resource: p.dominant_resource,
        disproportionality: p.disproportionality,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProcessScore, Resource};

    fn sample(rogues: &[(u32, &str, u8)]) -> Arc<Sample> {
        let processes: Vec<ProcessScore> = rogues
            .iter()
            .map(|(pid, cmd, score)| ProcessScore {
                pid: *pid,
                command: cmd.to_string(),
                score: *score,
                dominant_resource: Resource::Cpu,
                disproportionality: 2.5,
                ..Default::default()
            })
            .collect();
        Arc::new(Sample {
            rogue_count: processes.len(),
            processes,
            ..Default::default()
        })
    }

    #[test]
    fn one_rogue() {
        let c = identify(&[sample(&[(1, "hog", 30)])]);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].pid, c[0].command.as_str(), c[0].score),
            (1, "hog", 30)
        );
        assert_eq!(c[0].dominant_resource, Resource::Cpu);
        assert_eq!(c[0].disproportionality, 2.5);
    }

    #[test]
    fn sorted_by_score() {
        let c = identify(&[sample(&[(1, "a", 15), (2, "b", 30)])]);
        assert_eq!(c.iter().map(|c| c.score).collect::<Vec<_>>(), [30, 15]);
    }

    #[test]
    fn empty_buffer() {
        assert!(identify(&[]).is_empty());
    }

    #[test]
    fn highest_score_per_pid_across_samples() {
        let c = identify(&[
            sample(&[(7, "x", 20)]),
            sample(&[(7, "x", 35)]),
            sample(&[(7, "x", 10)]),
        ]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].score, 35);
    }

    #[test]
    fn same_command_different_pids_stay_apart() {
        let c = identify(&[sample(&[(1001, "chrome", 40), (1002, "chrome", 25)])]);
        assert_eq!(c.iter().map(|c| c.pid).collect::<Vec<_>>(), [1001, 1002]);
    }

    #[test]
    fn only_the_top_n_of_each_sample_count() {
        let mut s = (*sample(&[(1, "top", 50), (2, "hidden", 40)])).clone();
        s.rogue_count = 1;
        let c = identify(&[Arc::new(s)]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].pid, 1);
    }
}
