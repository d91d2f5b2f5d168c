//! The ring buffer of recent samples. Entries are `Arc<Sample>`, so pushing and freezing copy
//! pointers, never processes: freezing 90 samples of 500 processes is 90 reference-count bumps.

use crate::model::Sample;
use std::collections::VecDeque;
use std::sync::Arc;

/// The last `capacity` samples, oldest first.
#[derive(Debug, Clone)]
pub struct Ring {
    capacity: usize,
    samples: VecDeque<Arc<Sample>>,
}

impl Ring {
    /// An empty ring; a capacity of 0 is treated as 1.
    pub fn new(capacity: usize) -> Ring {
        let capacity = capacity.max(1);
        Ring {
            capacity,
            samples: VecDeque::with_capacity(capacity),
        }
    }

    /// Adds the newest sample, evicting the oldest when full.
    pub fn push(&mut self, sample: Arc<Sample>) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// An immutable copy of the current contents, oldest first; later pushes do not change it.
    pub fn freeze(&self) -> Arc<[Arc<Sample>]> {
        self.samples.iter().cloned().collect()
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&Arc<Sample>> {
        self.samples.back()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Empties the ring.
    pub fn clear(&mut self) {
        self.samples.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProcessScore;

    fn sample(max_score: u8) -> Arc<Sample> {
        Arc::new(Sample {
            seq: u64::from(max_score),
            timestamp: 1000.0 + f64::from(max_score),
            max_score,
            rogue_count: 1,
            process_count: 1,
            processes: vec![ProcessScore {
                pid: u32::from(max_score),
                score: max_score,
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn scores(r: &Ring) -> Vec<u8> {
        r.freeze().iter().map(|s| s.max_score).collect()
    }

    #[test]
    fn evicts_the_oldest_and_keeps_order() {
        let mut r = Ring::new(3);
        for s in [10, 20, 30, 40, 50] {
            r.push(sample(s));
        }
        assert_eq!(scores(&r), [30, 40, 50]);
        assert_eq!(r.len(), 3);
        assert_eq!(r.capacity(), 3);
    }

    #[test]
    fn capacity_is_respected_after_many_pushes() {
        let mut r = Ring::new(30);
        for s in 1..=35 {
            r.push(sample(s));
        }
        assert_eq!(r.len(), 30);
        assert_eq!(r.freeze()[0].max_score, 6);
    }

    #[test]
    fn a_freeze_is_not_affected_by_later_pushes() {
        let mut r = Ring::new(5);
        r.push(sample(1));
        let frozen = r.freeze();
        r.push(sample(2));
        assert_eq!(frozen.len(), 1);
        assert_eq!(r.len(), 2);
        assert_eq!(frozen[0].processes[0].pid, 1, "rogues stay intact");
        assert!(Ring::new(4).freeze().is_empty());
    }

    #[test]
    fn freezing_shares_samples_instead_of_copying_them() {
        let mut r = Ring::new(2);
        let s = sample(7);
        r.push(s.clone());
        let frozen = r.freeze();
        assert!(Arc::ptr_eq(&frozen[0], &s));
        assert_eq!(Arc::strong_count(&s), 3);
    }

    #[test]
    fn capacity_one_keeps_only_the_newest_and_clear_empties() {
        let mut r = Ring::new(1);
        assert!(r.is_empty());
        r.push(sample(1));
        assert!(!r.is_empty());
        r.push(sample(2));
        assert_eq!(scores(&r), [2]);
        assert_eq!(r.latest().map(|s| s.max_score), Some(2));
        r.clear();
        assert!(r.is_empty());
        r.clear();
        assert_eq!(Ring::new(0).capacity(), 1);
    }
}
