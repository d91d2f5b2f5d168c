//! Samples of one thread gathered into distinct stacks with their weights (pure).
//!
//! On-CPU samples count one each. An off-CPU sample is the stack a thread had when it left the
//! CPU; it weighs the time until the thread came back (the next switch-in record), or until
//! the profile ended if it never did, expressed at the end in sampling periods so on- and
//! off-CPU counts are in the same unit.

use std::collections::HashMap;

/// A stack: kernel frames then user frames, each innermost first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Stack {
    pub kernel: Box<[u64]>,
    pub user: Box<[u64]>,
}

/// What one stack collected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Weights {
    pub on: u64,
    pub off_ns: u64,
    /// Off-CPU samples (switches) on this stack.
    pub off_samples: u64,
}

/// One thread's samples.
#[derive(Debug, Default)]
pub struct ThreadCollector {
    pub stacks: HashMap<Stack, Weights>,
    pub on_samples: u64,
    pub off_samples: u64,
    /// The stack of the thread's last switch-out, and when, until it is back on a CPU.
    pending: Option<(Stack, u64)>,
}

/// A stack with its counts in sampling periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub stack: Stack,
    pub on: u64,
    pub off: u64,
}

impl ThreadCollector {
    pub fn on_cpu(&mut self, stack: Stack) {
        self.on_samples += 1;
        self.stacks.entry(stack).or_default().on += 1;
    }

    /// The thread left the CPU at `time` (ns) with `stack`.
    pub fn switched_out(&mut self, stack: Stack, time: u64) {
        self.off_samples += 1;
        self.stacks.entry(stack.clone()).or_default().off_samples += 1;
        // A switch-out whose return was never seen (its record was lost) has no known length.
        self.pending = Some((stack, time));
    }

    /// The thread got a CPU again at `time`.
    pub fn switched_in(&mut self, time: u64) {
        if let Some((stack, out)) = self.pending.take()
            && time >= out
        {
            self.stacks.entry(stack).or_default().off_ns += time - out;
        }
    }

    /// The profile ended at `time`: a thread still off the CPU was off until then.
    pub fn finish(&mut self, time: u64) {
        self.switched_in(time);
    }

    /// Stacks with on- and off-CPU counts in periods of `period_ns`; stacks whose off-CPU time
    /// rounds to nothing and that had no on-CPU sample are left out.
    pub fn counted(&self, period_ns: u64) -> Vec<Counted> {
        let period = period_ns.max(1);
        let mut v: Vec<Counted> = self
            .stacks
            .iter()
            .map(|(s, w)| Counted {
                stack: s.clone(),
                on: w.on,
                off: (w.off_ns + period / 2) / period,
            })
            .filter(|c| c.on + c.off > 0)
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.on + c.off));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(k: &[u64], u: &[u64]) -> Stack {
        Stack {
            kernel: k.into(),
            user: u.into(),
        }
    }

    #[test]
    fn on_cpu_samples_count_one_each() {
        let mut t = ThreadCollector::default();
        t.on_cpu(stack(&[], &[1, 2]));
        t.on_cpu(stack(&[], &[1, 2]));
        t.on_cpu(stack(&[], &[3, 2]));
        let c = t.counted(10);
        assert_eq!(t.on_samples, 3);
        assert_eq!((c[0].on, c[0].off), (2, 0));
        assert_eq!(c[0].stack.user[..], [1, 2]);
        assert_eq!(c[1].on, 1);
    }

    #[test]
    fn off_cpu_samples_weigh_the_time_until_the_thread_is_back() {
        let mut t = ThreadCollector::default();
        let sleep = stack(&[0xffff_0001], &[7]);
        t.switched_out(sleep.clone(), 1_000);
        t.switched_in(51_000); // 50 µs off = 5 periods of 10 µs
        t.switched_out(sleep.clone(), 60_000);
        t.switched_in(60_004); // a blink: rounds to nothing on its own
        t.switched_out(sleep.clone(), 100_000);
        t.finish(130_000); // still asleep at the end: 30 µs
        let c = t.counted(10_000);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].on, c[0].off), (0, 8));
        assert_eq!(t.off_samples, 3);
        assert_eq!(t.stacks[&sleep].off_samples, 3);
    }

    #[test]
    fn a_switch_in_without_a_switch_out_or_back_in_time_adds_nothing() {
        let mut t = ThreadCollector::default();
        t.switched_in(5_000);
        t.switched_out(stack(&[1], &[]), 9_000);
        t.switched_in(8_000);
        t.finish(20_000);
        assert!(t.counted(1_000).is_empty());
    }
}
