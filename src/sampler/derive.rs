//! Per-process facts that need more than two readings, the same on every platform:
//!
//! - **Children's CPU, counted once.** When a child exits and is waited for, the kernel adds its
//!   whole CPU time (and its own waited-for children's) to the parent's `cutime + cstime`. A
//!   fork storm's cost is only visible there (the children live too briefly to be sampled). But
//!   a child that *was* sampled already had its CPU counted while it lived, so the parent is
//!   credited only with the growth of its children's time *minus* what was seen of the children
//!   that vanished in the same interval (the apps.plugin approach of netdata).
//! - **Children spawned.** Processes first seen with a start time after the previous pass are
//!   counted against their parent. The machine's fork counter says how many more were born and
//!   died unseen; those are shared among the processes that reaped unseen children, in
//!   proportion to the CPU credited to them.
//! - **Time in D state.** An exponential average (time constant 3 s) of whether the process was
//!   in uninterruptible sleep at each reading: the share of its voluntary switches that were
//!   waits for I/O rather than wakeups.

use crate::model::{ProcState, ProcessKey};
use crate::reading::ProcessReading;
use std::collections::HashMap;

/// Time constant of the D-state average, seconds.
const D_STATE_TAU_S: f64 = 3.0;

/// What [`Derive::update`] adds to one reading.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Derived {
    /// CPU of exited children not seen alive, cores.
    pub child_cores: f64,
    /// Children spawned per second (seen and estimated).
    pub spawn_rate: f64,
    /// Share of recent time spent in D state (0–1).
    pub d_frac: f64,
}

#[derive(Debug, Clone, Copy)]
struct Track {
    pid: u32,
    ppid: u32,
    first_own: u64,
    first_child: u64,
    last_own: u64,
    last_child: u64,
    d_frac: f64,
    pass: u64,
}

/// The state behind [`Derived`], keyed by process identity.
#[derive(Debug, Default)]
pub struct Derive {
    tracks: HashMap<ProcessKey, Track>,
    pass: u64,
    prev_forks: Option<u64>,
    /// Wall time of the previous pass: processes started after it were born since.
    prev_wall: Option<f64>,
}

fn key(r: &ProcessReading) -> ProcessKey {
    ProcessKey {
        pid: r.pid,
        start_bits: r.start_time.to_bits(),
    }
}

impl Derive {
    pub fn new() -> Derive {
        Derive::default()
    }

    /// Processes remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.tracks.len()
    }

    /// One pass: `readings` of every process, the machine's fork counter (`None` where there is
    /// none), the seconds since the previous pass and the wall time now. One result per reading.
    pub fn update(
        &mut self,
        readings: &[ProcessReading],
        forks_total: Option<u64>,
        dt_s: f64,
        wall_now: f64,
    ) -> Vec<Derived> {
        self.pass += 1;
        let pass = self.pass;
        let alpha = if dt_s > 0.0 {
            1.0 - (-dt_s / D_STATE_TAU_S).exp()
        } else {
            1.0
        };
        let mut out = Vec::with_capacity(readings.len());
        // Growth of waited-for children's time per reading, before subtracting.
        let mut child_growth = Vec::with_capacity(readings.len());
        let mut born: HashMap<u32, u32> = HashMap::new();
        let mut born_total = 0u64;
        for r in readings {
            let own = r.now.cpu_ns;
            let child = r.now.child_cpu_ns;
            let in_d = if r.state == ProcState::Stuck {
                1.0
            } else {
                0.0
            };
            let fresh = !self.tracks.contains_key(&key(r));
            let t = self.tracks.entry(key(r)).or_insert(Track {
                pid: r.pid,
                ppid: r.ppid,
                first_own: own,
                first_child: child,
                last_own: own,
                last_child: child,
                d_frac: 0.0,
                pass,
            });
            if fresh {
                if self.prev_wall.is_some_and(|w| r.start_time > w) {
                    *born.entry(r.ppid).or_default() += 1;
                    born_total += 1;
                }
                child_growth.push(0);
            } else {
                child_growth.push(child.saturating_sub(t.last_child));
            }
            t.ppid = r.ppid;
            t.last_own = own;
            t.last_child = child;
            t.d_frac += (in_d - t.d_frac) * alpha;
            t.pass = pass;
            out.push(Derived {
                d_frac: t.d_frac,
                ..Derived::default()
            });
        }
        // What was seen of the children that vanished (were reaped) since the last pass.
        let mut seen_of_reaped: HashMap<u32, u64> = HashMap::new();
        self.tracks.retain(|_, t| {
            if t.pass == pass {
                return true;
            }
            let seen =
                t.last_own.saturating_sub(t.first_own) + t.last_child.saturating_sub(t.first_child);
            *seen_of_reaped.entry(t.ppid).or_default() += seen;
            let _ = t.pid;
            false
        });
        let mut credits = Vec::with_capacity(readings.len());
        let mut credit_total = 0u64;
        for (r, growth) in readings.iter().zip(&child_growth) {
            let already = seen_of_reaped.remove(&r.pid).unwrap_or(0);
            let c = growth.saturating_sub(already);
            credits.push(c);
            credit_total += c;
        }
        let unseen_births = match (self.prev_forks, forks_total) {
            (Some(a), Some(b)) => b.saturating_sub(a).saturating_sub(born_total),
            _ => 0,
        };
        for ((d, r), c) in out.iter_mut().zip(readings).zip(&credits) {
            if dt_s > 0.0 {
                d.child_cores = *c as f64 / 1e9 / dt_s;
                let mut spawned = f64::from(born.get(&r.pid).copied().unwrap_or(0));
                if credit_total > 0 {
                    spawned += unseen_births as f64 * (*c as f64 / credit_total as f64);
                }
                d.spawn_rate = spawned / dt_s;
            }
        }
        self.prev_forks = forks_total;
        self.prev_wall = Some(wall_now);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::Counters;

    fn r(pid: u32, ppid: u32, start: f64, own_ms: u64, child_ms: u64) -> ProcessReading {
        ProcessReading {
            pid,
            ppid,
            start_time: start,
            state: ProcState::Sleeping,
            now: Counters {
                cpu_ns: own_ms * 1_000_000,
                child_cpu_ns: child_ms * 1_000_000,
                ..Counters::default()
            },
            ..ProcessReading::default()
        }
    }

    #[test]
    fn a_fork_storm_lands_on_the_parent_and_its_births_are_estimated() {
        let mut d = Derive::new();
        d.update(&[r(10, 1, 100.0, 0, 0)], Some(1000), 0.0, 200.0);
        // 1 s later: the parent used 0.4 s itself, its unseen children 0.5 s; 1300 forks.
        let out = d.update(&[r(10, 1, 100.0, 400, 500)], Some(2300), 1.0, 201.0);
        assert!((out[0].child_cores - 0.5).abs() < 1e-9);
        assert!((out[0].spawn_rate - 1300.0).abs() < 1e-9);
    }

    #[test]
    fn a_child_seen_alive_is_not_counted_twice_when_reaped() {
        let mut d = Derive::new();
        d.update(&[r(10, 1, 100.0, 0, 0)], Some(50), 0.0, 200.0);
        // A child appears (born after the previous pass) and runs 300 ms while sampled.
        let out = d.update(
            &[r(10, 1, 100.0, 10, 0), r(11, 10, 200.5, 300, 0)],
            Some(51),
            1.0,
            201.0,
        );
        assert_eq!(out[0].spawn_rate, 1.0, "one child seen born");
        let out = d.update(
            &[r(10, 1, 100.0, 10, 0), r(11, 10, 200.5, 600, 0)],
            Some(51),
            1.0,
            202.0,
        );
        assert_eq!(out[0].child_cores, 0.0);
        // It exits after 650 ms of CPU in all: the parent's children time grows by 650 ms, of
        // which 600 - 300 = 300 were seen (counting from its first sighting).
        let out = d.update(&[r(10, 1, 100.0, 10, 650)], Some(51), 1.0, 203.0);
        assert!(
            (out[0].child_cores - 0.35).abs() < 1e-9,
            "{}",
            out[0].child_cores
        );
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn d_state_share_is_an_average_of_readings() {
        let mut d = Derive::new();
        let mut p = r(10, 1, 100.0, 0, 0);
        p.state = ProcState::Stuck;
        let mut last = 0.0;
        for i in 0..30 {
            last = d.update(&[p.clone()], None, 1.0 / 3.0, 200.0 + f64::from(i))[0].d_frac;
        }
        assert!(last > 0.9, "{last}");
        p.state = ProcState::Sleeping;
        for i in 0..30 {
            last = d.update(&[p.clone()], None, 1.0 / 3.0, 300.0 + f64::from(i))[0].d_frac;
        }
        assert!(last < 0.1, "{last}");
    }

    #[test]
    fn processes_seen_at_start_are_not_births() {
        let mut d = Derive::new();
        let out = d.update(
            &[r(10, 1, 100.0, 0, 0), r(11, 10, 150.0, 0, 0)],
            Some(9),
            0.0,
            200.0,
        );
        assert!(out.iter().all(|x| x.spawn_rate == 0.0));
    }
}
