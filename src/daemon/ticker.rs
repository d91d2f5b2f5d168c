//! The sampler's clock: deadlines on a fixed monotonic grid. A pass that overruns skips the
//! deadlines it missed (counted) instead of bunching samples to catch up; sleeping can be
//! interrupted so shutdown never waits a whole period.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Where the next deadline falls after `now` on the grid `start + k·period`, and how many grid
/// points were skipped since `previous`.
pub fn next_deadline(
    start: Instant,
    period: Duration,
    previous: Instant,
    now: Instant,
) -> (Instant, u64) {
    let candidate = previous + period;
    if candidate > now {
        return (candidate, 0);
    }
    let period_ns = period.as_nanos().max(1);
    let elapsed = now.duration_since(start).as_nanos();
    let k = elapsed / period_ns + 1;
    let next = start + Duration::from_nanos(u64::try_from(k * period_ns).unwrap_or(u64::MAX));
    let previous_k = previous.duration_since(start).as_nanos() / period_ns;
    let missed = u64::try_from(k - previous_k - 1).unwrap_or(u64::MAX);
    (next, missed)
}

/// A periodic clock for one thread.
pub struct Ticker {
    start: Instant,
    period: Duration,
    deadline: Instant,
}

/// What waiting for a tick produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Time for the next pass; `missed` deadlines were skipped since the last one, and the
    /// thread woke `late` after the deadline it serves.
    Due { missed: u64, late: Duration },
    /// A stop was requested (or the stop channel closed).
    Stop,
}

impl Ticker {
    /// The first tick is due at once.
    pub fn new(period: Duration) -> Ticker {
        let start = Instant::now();
        Ticker {
            start,
            period,
            deadline: start,
        }
    }

    /// Sleeps until the current deadline (or a stop message) and schedules the next one.
    pub fn wait(&mut self, stop: &Receiver<()>) -> Tick {
        let now = Instant::now();
        if self.deadline > now {
            match stop.recv_timeout(self.deadline - now) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return Tick::Stop,
            }
        } else if !matches!(stop.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)) {
            return Tick::Stop;
        }
        let fired = self.deadline;
        let woke = Instant::now();
        let (next, missed) = next_deadline(self.start, self.period, fired, woke);
        self.deadline = next;
        Tick::Due {
            missed,
            late: woke.saturating_duration_since(fired),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_time_passes_follow_the_grid() {
        let s = Instant::now();
        let p = Duration::from_millis(100);
        let (next, missed) = next_deadline(s, p, s, s + Duration::from_millis(30));
        assert_eq!((next, missed), (s + p, 0));
    }

    #[test]
    fn an_overrun_skips_missed_deadlines_instead_of_bunching() {
        let s = Instant::now();
        let p = Duration::from_millis(100);
        // The pass that fired at 100 ms ended at 350 ms: 200 and 300 are skipped, next is 400.
        let (next, missed) = next_deadline(s, p, s + p, s + Duration::from_millis(350));
        assert_eq!(next, s + Duration::from_millis(400));
        assert_eq!(missed, 2);
        // Ending exactly on a grid point skips it too (it is not in the future).
        let (next, missed) = next_deadline(s, p, s + p, s + Duration::from_millis(200));
        assert_eq!((next, missed), (s + Duration::from_millis(300), 1));
    }

    #[test]
    fn stop_interrupts_a_long_wait() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut t = Ticker::new(Duration::from_secs(3600));
        assert!(
            matches!(t.wait(&rx), Tick::Due { missed: 0, .. }),
            "the first tick is immediate"
        );
        tx.send(()).unwrap();
        assert_eq!(t.wait(&rx), Tick::Stop);
        drop(tx);
        assert_eq!(t.wait(&rx), Tick::Stop, "a dropped sender also stops");
    }
}
