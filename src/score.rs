//! Fair-share scoring (`[scoring] model = "fair-share"`): exactly the original's formula, as
//! pure functions with every parameter explicit, plus [`score_all`], the one call the sampler
//! makes per pass.
//!
//! For each resource the *share* of a process is its fraction of the summed usage of all
//! processes, divided by the fair fraction `1 / users` (users = processes strictly above that
//! resource's `share_min_*`). A share of 1 is an even split. The weighted sum of the five shares,
//! times `score_multiplier`, clamped to `score_max`, times the state multiplier, truncated to an
//! integer and clamped to 0–100, is the score. The order of floating-point operations follows the
//! original so its test values come out bit for bit.

use crate::config::{BandsConfig, ResourceWeights, ScoringConfig};
use crate::model::{ProcessScore, Resource};

/// One number per resource, in tie-break order (cpu, gpu, memory, disk, wakeups).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PerResource {
    pub cpu: f64,
    pub gpu: f64,
    pub memory: f64,
    pub disk: f64,
    pub wakeups: f64,
}

impl PerResource {
    /// The value of one resource.
    pub fn get(&self, r: Resource) -> f64 {
        match r {
            Resource::Cpu => self.cpu,
            Resource::Gpu => self.gpu,
            Resource::Memory => self.memory,
            Resource::Disk => self.disk,
            Resource::Wakeups => self.wakeups,
        }
    }

    fn get_mut(&mut self, r: Resource) -> &mut f64 {
        match r {
            Resource::Cpu => &mut self.cpu,
            Resource::Gpu => &mut self.gpu,
            Resource::Memory => &mut self.memory,
            Resource::Disk => &mut self.disk,
            Resource::Wakeups => &mut self.wakeups,
        }
    }

    /// The scored inputs of a process: `cpu` %, `gpu_time_rate` ms/s, `mem` bytes,
    /// `disk_io_rate` B/s, `wakeups_rate` /s.
    pub fn usage_of(p: &ProcessScore) -> PerResource {
        PerResource {
            cpu: p.cpu,
            gpu: p.gpu_time_rate,
            memory: p.mem as f64,
            disk: p.disk_io_rate,
            wakeups: p.wakeups_rate,
        }
    }

    /// The `share_min_*` thresholds of a scoring config.
    pub fn share_mins(c: &ScoringConfig) -> PerResource {
        PerResource {
            cpu: c.share_min_cpu,
            gpu: c.share_min_gpu,
            memory: c.share_min_memory_bytes,
            disk: c.share_min_disk,
            wakeups: c.share_min_wakeups,
        }
    }

    /// Resource weights as a `PerResource`.
    pub fn weights(w: &ResourceWeights) -> PerResource {
        PerResource {
            cpu: w.cpu,
            gpu: w.gpu,
            memory: w.memory,
            disk: w.disk_io,
            wakeups: w.wakeups,
        }
    }
}

/// Per-resource totals and user counts over all processes of one pass.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Fairness {
    /// Summed usage of every process, users or not.
    pub totals: PerResource,
    /// Processes strictly above the resource's threshold.
    pub users: [u32; 5],
}

impl Fairness {
    /// Totals and user counts of `usages` under the thresholds `mins`.
    pub fn over<I: IntoIterator<Item = PerResource>>(usages: I, mins: &PerResource) -> Fairness {
        let mut f = Fairness::default();
        for u in usages {
            for (i, r) in Resource::ALL.into_iter().enumerate() {
                let v = u.get(r);
                *f.totals.get_mut(r) += v;
                if v > mins.get(r) {
                    f.users[i] += 1;
                }
            }
        }
        f
    }

    /// The shares of one process: `(value / total) / (1 / max(1, users))`, 0 when the total is 0.
    pub fn shares_of(&self, usage: &PerResource) -> PerResource {
        let mut s = PerResource::default();
        for (i, r) in Resource::ALL.into_iter().enumerate() {
            let total = self.totals.get(r);
            let fraction = if total > 0.0 {
                usage.get(r) / total
            } else {
                0.0
            };
            let fair = 1.0 / f64::from(self.users[i].max(1));
            *s.get_mut(r) = fraction / fair;
        }
        s
    }
}

/// Shares of every process in `usages`, in the same order.
pub fn resource_shares(usages: &[PerResource], mins: &PerResource) -> Vec<PerResource> {
    let f = Fairness::over(usages.iter().copied(), mins);
    usages.iter().map(|u| f.shares_of(u)).collect()
}

/// Weighted contribution of each resource: `share × weight`.
pub fn weighted(shares: &PerResource, weights: &PerResource) -> PerResource {
    PerResource {
        cpu: shares.cpu * weights.cpu,
        gpu: shares.gpu * weights.gpu,
        memory: shares.memory * weights.memory,
        disk: shares.disk * weights.disk,
        wakeups: shares.wakeups * weights.wakeups,
    }
}

/// The base score before the state multiplier: the weighted sum (added in cpu, gpu, memory,
/// disk, wakeups order) × `multiplier` × `score_max / 100`, clamped to `0..=score_max`.
pub fn base_score(
    shares: &PerResource,
    weights: &PerResource,
    multiplier: f64,
    score_max: f64,
) -> f64 {
    let w = weighted(shares, weights);
    let total = w.cpu + w.gpu + w.memory + w.disk + w.wakeups;
    let raw = total * multiplier * (score_max / 100.0);
    if raw.is_nan() {
        return 0.0;
    }
    raw.clamp(0.0, score_max.max(0.0))
}

/// The final integer score: `base × state_multiplier`, truncated toward zero, clamped to 0–100.
pub fn final_score(base: f64, state_multiplier: f64) -> u8 {
    let v = (base * state_multiplier).trunc();
    if v.is_nan() || v <= 0.0 {
        0
    } else if v >= 100.0 {
        100
    } else {
        v as u8
    }
}

/// The resource with the largest weighted share (ties go to the earlier resource in
/// cpu, gpu, memory, disk, wakeups order) and its *raw* share, the disproportionality.
/// All zero gives `(Cpu, 0.0)`.
pub fn dominant(shares: &PerResource, weights: &PerResource) -> (Resource, f64) {
    let w = weighted(shares, weights);
    let mut best = Resource::Cpu;
    for r in Resource::ALL.into_iter().skip(1) {
        if w.get(r) > w.get(best) {
            best = r;
        }
    }
    (best, shares.get(best))
}

/// Scores every process of one pass in place: shares, score, band, dominant resource and
/// disproportionality. Shares are taken over all of `processes`.
pub fn score_all(processes: &mut [ProcessScore], scoring: &ScoringConfig, bands: &BandsConfig) {
    let mins = PerResource::share_mins(scoring);
    let weights = PerResource::weights(&scoring.resource_weights);
    let fairness = Fairness::over(processes.iter().map(PerResource::usage_of), &mins);
    for p in processes.iter_mut() {
        let shares = fairness.shares_of(&PerResource::usage_of(p));
        let base = base_score(
            &shares,
            &weights,
            scoring.score_multiplier,
            scoring.score_max,
        );
        let score = final_score(base, scoring.state_multipliers.for_state(p.state));
        let (dom, disp) = dominant(&shares, &weights);
        p.cpu_share = shares.cpu;
        p.gpu_share = shares.gpu;
        p.mem_share = shares.memory;
        p.disk_share = shares.disk;
        p.wakeups_share = shares.wakeups;
        p.score = score;
        p.band = bands.band_for(score);
        p.dominant_resource = dom;
        p.disproportionality = disp;
    }
}

/// The one-line reason of a fair-share score: the dominant resource and how far above an even
/// split the process is (`cpu: 7.2× an even share, 97 % of one core`).
pub fn fair_share_reason(p: &ProcessScore) -> String {
    let what = match p.dominant_resource {
        Resource::Cpu => format!("{:.0} % of one core", p.cpu),
        Resource::Gpu => format!("{:.0} ms/s of GPU", p.gpu_time_rate),
        Resource::Memory => crate::impact::human_bytes(p.mem as f64),
        Resource::Disk => format!("{}/s", crate::impact::human_bytes(p.disk_io_rate)),
        Resource::Wakeups => format!("{:.0} wakeups/s", p.wakeups_rate),
    };
    format!(
        "{}: {:.1}× an even share of what all processes use, {what} (fair-share)",
        p.dominant_resource, p.disproportionality
    )
}

#[cfg(test)]
mod tests {
    //! The original's acceptance list (reference §10.3), run with the original's *function*
    //! defaults: multiplier 10 and the old share thresholds, passed explicitly.
    use super::*;
    use crate::model::{Band, ProcState};

    /// The original's function-signature thresholds (not the config defaults).
    const OLD_MINS: PerResource = PerResource {
        cpu: 0.01,
        gpu: 1.0,
        memory: 268_435_456.0,
        disk: 1024.0,
        wakeups: 10.0,
    };
    const MULTIPLIER: f64 = 10.0;
    const SCORE_MAX: f64 = 100.0;

    fn default_weights() -> PerResource {
        PerResource::weights(&ResourceWeights::default())
    }

    fn ones() -> PerResource {
        PerResource {
            cpu: 1.0,
            gpu: 1.0,
            memory: 1.0,
            disk: 1.0,
            wakeups: 1.0,
        }
    }

    fn cpu(v: f64) -> PerResource {
        PerResource {
            cpu: v,
            ..Default::default()
        }
    }

    fn score(shares: &PerResource, weights: &PerResource) -> u8 {
        final_score(base_score(shares, weights, MULTIPLIER, SCORE_MAX), 1.0)
    }

    #[test]
    fn equal_cpu_gives_share_exactly_one() {
        let s = resource_shares(&[cpu(50.0), cpu(50.0)], &OLD_MINS);
        assert_eq!(s[0].cpu, 1.0);
        assert_eq!(s[1].cpu, 1.0);
    }

    #[test]
    fn cpu_split_90_10_gives_exact_shares() {
        let s = resource_shares(&[cpu(90.0), cpu(10.0)], &OLD_MINS);
        assert_eq!(s[0].cpu, 1.8);
        assert_eq!(s[1].cpu, 0.2);
    }

    #[test]
    fn zero_total_gives_zero_share_for_everyone() {
        let s = resource_shares(&[cpu(0.0), cpu(0.0), cpu(0.0)], &OLD_MINS);
        assert!(s.iter().all(|x| x.cpu == 0.0));
        assert!(s.iter().all(|x| *x == PerResource::default()));
    }

    #[test]
    fn single_process_using_everything_has_every_share_one() {
        let u = PerResource {
            cpu: 42.0,
            gpu: 3.0,
            memory: 300.0 * 1024.0 * 1024.0,
            disk: 4096.0,
            wakeups: 50.0,
        };
        assert_eq!(resource_shares(&[u], &OLD_MINS)[0], ones());
    }

    #[test]
    fn users_are_counted_per_resource() {
        let mem = 300.0 * 1024.0 * 1024.0;
        let user = PerResource {
            cpu: 10.0,
            memory: mem,
            disk: 2048.0,
            ..Default::default()
        };
        let other = PerResource {
            cpu: 10.0,
            memory: mem,
            ..Default::default()
        };
        let s = resource_shares(&[user, other, other], &OLD_MINS);
        for x in &s {
            assert_eq!(x.cpu, 1.0);
            assert_eq!(x.memory, 1.0);
        }
        assert_eq!(
            s[0].disk, 1.0,
            "one disk user holding it all is fair, not 3"
        );
        assert_eq!(s[1].disk, 0.0);
        assert_eq!(s[2].disk, 0.0);
    }

    #[test]
    fn processes_below_the_threshold_are_not_users_but_keep_a_share() {
        // 3 processes, one of them under 0.01 % CPU: two users.
        let s = resource_shares(&[cpu(60.0), cpu(39.995), cpu(0.005)], &OLD_MINS);
        let total = 60.0 + 39.995 + 0.005;
        assert_eq!(s[0].cpu, (60.0 / total) / (1.0 / 2.0));
        assert!(s[2].cpu > 0.0 && s[2].cpu < 0.001);
    }

    #[test]
    fn weights_are_applied_and_cpu_dominates_alone() {
        let s = cpu(10.0);
        let (dom, disp) = dominant(&s, &default_weights());
        assert_eq!(dom, Resource::Cpu);
        assert_eq!(disp, 10.0);
        assert!(score(&s, &default_weights()) > 0);
    }

    #[test]
    fn a_heavier_weight_outscores_an_equal_share() {
        let w = PerResource {
            cpu: 1.0,
            gpu: 3.0,
            ..Default::default()
        };
        let gpu = PerResource {
            gpu: 2.0,
            ..Default::default()
        };
        assert!(score(&gpu, &w) > score(&cpu(2.0), &w));
    }

    #[test]
    fn scaling_is_linear_with_multiplier_ten_and_capped() {
        let w = ones();
        assert_eq!(score(&cpu(1.0), &w), 10);
        assert_eq!(score(&cpu(5.0), &w), 50);
        assert_eq!(score(&cpu(10.0), &w), 100);
        assert_eq!(score(&cpu(20.0), &w), 100);
    }

    #[test]
    fn default_weights_put_cpu_share_7_critical_and_5_5_elevated() {
        let w = default_weights();
        assert!(score(&cpu(7.0), &w) >= 70);
        let s = score(&cpu(5.5), &w);
        assert!((50..70).contains(&s), "{s}");
        let bands = BandsConfig::default();
        assert_eq!(bands.band_for(score(&cpu(7.0), &w)), Band::Critical);
    }

    #[test]
    fn dominant_is_the_largest_weighted_share_and_reports_its_raw_share() {
        let w = PerResource {
            cpu: 1.0,
            gpu: 3.0,
            ..Default::default()
        };
        let s = PerResource {
            cpu: 10.0,
            gpu: 5.0,
            ..Default::default()
        };
        assert_eq!(dominant(&s, &w), (Resource::Gpu, 5.0));
    }

    #[test]
    fn dominant_ties_go_to_the_earlier_resource_and_all_zero_is_cpu() {
        let w = ones();
        let s = PerResource {
            memory: 2.0,
            disk: 2.0,
            wakeups: 2.0,
            ..Default::default()
        };
        assert_eq!(dominant(&s, &w).0, Resource::Memory);
        assert_eq!(dominant(&PerResource::default(), &w), (Resource::Cpu, 0.0));
    }

    #[test]
    fn huge_shares_clamp_to_exactly_100() {
        let s = PerResource {
            cpu: 1e4,
            gpu: 1e4,
            memory: 1e4,
            disk: 1e4,
            wakeups: 1e4,
        };
        assert_eq!(score(&s, &default_weights()), 100);
        assert_eq!(
            base_score(&s, &default_weights(), MULTIPLIER, SCORE_MAX),
            100.0
        );
    }

    #[test]
    fn state_multiplier_then_truncation_then_clamp() {
        assert_eq!(final_score(33.9, 1.0), 33);
        assert_eq!(final_score(33.9, 2.0), 67);
        assert_eq!(final_score(60.0, 5.0), 100);
        assert_eq!(final_score(f64::NAN, 1.0), 0);
        assert_eq!(final_score(-5.0, 1.0), 0);
        // score_max caps the base before the state multiplier.
        assert_eq!(base_score(&cpu(100.0), &ones(), MULTIPLIER, 50.0), 50.0);
    }

    #[test]
    fn score_all_fills_every_output_field() {
        let mk = |pid, cpu, state| ProcessScore {
            pid,
            cpu,
            state,
            ..Default::default()
        };
        let mut ps = vec![
            mk(1, 90.0, ProcState::Running),
            mk(2, 10.0, ProcState::Stuck),
            mk(3, 0.0, ProcState::Sleeping),
        ];
        let scoring = ScoringConfig {
            score_multiplier: MULTIPLIER,
            ..ScoringConfig::default()
        };
        score_all(&mut ps, &scoring, &BandsConfig::default());
        // Two CPU users: 1.8 and 0.2 shares.
        assert_eq!(ps[0].cpu_share, 1.8);
        assert_eq!(ps[1].cpu_share, 0.2);
        assert_eq!(ps[0].score, (1.8f64 * 1.1 * 10.0) as u8);
        // Stuck is ×5 on Linux and macOS defaults alike.
        assert_eq!(ps[1].score, final_score(0.2 * 1.1 * 10.0, 5.0));
        assert_eq!(ps[0].band, BandsConfig::default().band_for(ps[0].score));
        assert_eq!(ps[0].dominant_resource, Resource::Cpu);
        assert_eq!(ps[0].disproportionality, 1.8);
        assert_eq!(ps[2].score, 0);
        assert_eq!(ps[2].band, Band::Low);
    }
}
