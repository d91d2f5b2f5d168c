//! The writer's two queues and the one policy between them.
//!
//! - **Small** commands (a sample's batch of operations, a machine snapshot) never wait: they
//!   join the small queue at once and the writer takes them before anything else, also between
//!   the chunks of a bulk write. Once `behind_after` of them are waiting the writer is *behind*:
//!   further batches are still queued but counted as delayed, and machine snapshots are skipped
//!   (counted). Only a batch that would take the queue over `max_queued_ops` operations is
//!   dropped (counted, logged, its waiters told).
//! - **Big** commands (a capture part, a prune, a flush, the shutdown) run one at a time, in the
//!   order they came. Bulk writes are bounded: a sender first takes one of `bulk_capacity`
//!   slots (waiting for one without blocking the runtime), which the command holds until the
//!   writer has stored it. Flushes, prunes and the shutdown take no slot.
//!
//! So small commands keep their order among themselves, big ones among themselves, and a
//! small command may overtake big ones queued before it. Everything small that was queued
//! before a big command has been written when that command runs, because the writer only takes
//! a big command from an empty small queue: a flush therefore sees everything submitted before
//! it. The writer blocks on a condition variable while both queues are empty; nothing polls.

use super::{Batch, BulkOutcome, BulkWrite, WriterStats};
use crate::store::prune::{PruneCounts, PrunePolicy};
use crate::store::records::MachineSnapshot;
use crate::sync::{lock, wait};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// A per-sample write: never waits for room.
pub(super) enum Small {
    Batch(Batch),
    MachineSnapshot(MachineSnapshot),
}

/// Work the writer does one command at a time, in order.
pub(super) enum Big {
    Bulk {
        write: BulkWrite,
        reply: oneshot::Sender<BulkOutcome>,
        /// Freed once the writer has stored the write.
        _slot: OwnedSemaphorePermit,
    },
    Prune {
        policy: PrunePolicy,
        now: f64,
        reply: oneshot::Sender<std::result::Result<PruneCounts, String>>,
    },
    Flush(oneshot::Sender<WriterStats>),
    /// Write what is queued, then stop.
    Shutdown,
}

/// What the writer does next.
pub(super) enum Next {
    Small(Small),
    Big(Big),
    /// Shut down and everything queued is written.
    Done,
}

/// The writer thread has stopped (or is stopping) and takes nothing more.
#[derive(Debug)]
pub(super) struct Stopped;

/// What became of a submitted batch.
pub(super) enum BatchQueued {
    Queued,
    /// Queued while the writer was behind.
    Delayed,
    /// Not queued: the small queue holds too many operations. The batch comes back so its
    /// waiters can be told.
    Dropped(Batch),
}

#[derive(Default)]
struct State {
    small: VecDeque<Small>,
    /// Operations in the queued batches (the drop limit counts these, not batches).
    small_ops: usize,
    big: VecDeque<Big>,
    /// The shutdown was taken: nothing new is accepted.
    closed: bool,
    /// Behind since the small queue last ran dry (one warning per episode).
    behind: bool,
}

pub(super) struct Queue {
    state: Mutex<State>,
    /// The small queue's length, kept by whoever holds `state` and read without the lock by
    /// the chunker on every row of a bulk write (taking the lock there would have the writer
    /// contend with the very submitters it is trying to let through).
    small_len: AtomicUsize,
    /// Signalled on every push; the writer waits on it when both queues are empty.
    work: Condvar,
    bulk_slots: Arc<Semaphore>,
    behind_after: usize,
    max_queued_ops: usize,
}

fn ops_of(s: &Small) -> usize {
    match s {
        Small::Batch(b) => b.ops.len(),
        Small::MachineSnapshot(_) => 0,
    }
}

impl Queue {
    pub(super) fn new(behind_after: usize, max_queued_ops: usize, bulk_capacity: usize) -> Queue {
        Queue {
            state: Mutex::new(State::default()),
            small_len: AtomicUsize::new(0),
            work: Condvar::new(),
            bulk_slots: Arc::new(Semaphore::new(bulk_capacity.max(1))),
            behind_after: behind_after.max(1),
            max_queued_ops: max_queued_ops.max(1),
        }
    }

    fn push_small(&self, st: &mut State, s: Small) {
        st.small_ops += ops_of(&s);
        st.small.push_back(s);
        self.small_len.store(st.small.len(), Relaxed);
        self.work.notify_one();
    }

    /// Queues a batch; see the module's policy.
    pub(super) fn push_batch(&self, batch: Batch) -> Result<BatchQueued, Stopped> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(Stopped);
        }
        if st.small_ops + batch.ops.len() > self.max_queued_ops {
            tracing::error!(
                target: "rogue_hunter::store",
                ops = batch.ops.len(),
                queued_ops = st.small_ops,
                "database writer is far behind: a per-sample batch was dropped"
            );
            return Ok(BatchQueued::Dropped(batch));
        }
        let behind = st.small.len() >= self.behind_after;
        if behind && !st.behind {
            st.behind = true;
            tracing::warn!(target: "rogue_hunter::store", queued = st.small.len(), "database writer is behind; holding per-sample writes in memory");
        }
        self.push_small(&mut st, Small::Batch(batch));
        Ok(if behind {
            BatchQueued::Delayed
        } else {
            BatchQueued::Queued
        })
    }

    /// Queues a machine snapshot unless the writer is behind; returns whether it was queued.
    pub(super) fn push_snapshot(&self, snap: MachineSnapshot) -> Result<bool, Stopped> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(Stopped);
        }
        if st.small.len() >= self.behind_after {
            return Ok(false);
        }
        self.push_small(&mut st, Small::MachineSnapshot(snap));
        Ok(true)
    }

    /// Waits (asynchronously) for one of the bulk slots.
    pub(super) async fn bulk_slot(&self) -> Result<OwnedSemaphorePermit, Stopped> {
        Arc::clone(&self.bulk_slots)
            .acquire_owned()
            .await
            .map_err(|_| Stopped)
    }

    /// Queues a big command behind the others.
    pub(super) fn push_big(&self, b: Big) -> Result<(), Stopped> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(Stopped);
        }
        st.big.push_back(b);
        self.work.notify_one();
        Ok(())
    }

    /// Queues the shutdown (taking no slot: it must get in even when every slot is taken).
    /// Nothing happens if the writer already stopped.
    pub(super) fn push_shutdown(&self) {
        let _ = self.push_big(Big::Shutdown);
    }

    fn pop_small(&self, st: &mut State) -> Option<Small> {
        let s = st.small.pop_front()?;
        st.small_ops -= ops_of(&s);
        self.small_len.store(st.small.len(), Relaxed);
        if st.small.is_empty() {
            st.behind = false;
        }
        Some(s)
    }

    /// The writer's next command: small ones first; blocks while there is none.
    pub(super) fn next(&self) -> Next {
        let mut st = lock(&self.state);
        let mut stopping = false;
        loop {
            if let Some(s) = self.pop_small(&mut st) {
                return Next::Small(s);
            }
            match st.big.pop_front() {
                Some(Big::Shutdown) => {
                    // Everything already queued is still written; nothing new gets in.
                    st.closed = true;
                    stopping = true;
                }
                Some(b) => return Next::Big(b),
                None if stopping || st.closed => return Next::Done,
                None => st = wait(&self.work, st),
            }
        }
    }

    /// A small command if one is waiting (between the chunks of a bulk write or a prune).
    pub(super) fn next_small(&self) -> Option<Small> {
        self.pop_small(&mut lock(&self.state))
    }

    /// Whether a small command is waiting (a bulk write then commits its chunk early).
    pub(super) fn small_waiting(&self) -> bool {
        self.small_len.load(Relaxed) > 0
    }

    /// (commands waiting in both queues, operations waiting in the small one).
    pub(super) fn depth(&self) -> (usize, usize) {
        let st = lock(&self.state);
        (st.small.len() + st.big.len(), st.small_ops)
    }

    /// After the writer's last command: later sends fail at once, bulk senders waiting for a
    /// slot are woken with an error.
    pub(super) fn close(&self) {
        lock(&self.state).closed = true;
        self.bulk_slots.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Op;

    fn batch(n: usize) -> Batch {
        Batch {
            ops: (0..n)
                .map(|i| Op::SetDaemonState {
                    key: format!("k{i}"),
                    value: String::new(),
                    at: 0.0,
                })
                .collect(),
            acks: Vec::new(),
        }
    }

    fn flush() -> (Big, oneshot::Receiver<WriterStats>) {
        let (tx, rx) = oneshot::channel();
        (Big::Flush(tx), rx)
    }

    #[test]
    fn small_commands_go_first_and_keep_their_order() {
        let q = Queue::new(100, 1_000, 2);
        let (f, _rx) = flush();
        q.push_big(f).unwrap();
        assert!(matches!(q.push_batch(batch(1)), Ok(BatchQueued::Queued)));
        assert!(matches!(q.push_batch(batch(2)), Ok(BatchQueued::Queued)));
        assert_eq!(q.depth(), (3, 3));
        assert!(matches!(q.next(), Next::Small(Small::Batch(b)) if b.ops.len() == 1));
        assert!(matches!(q.next(), Next::Small(Small::Batch(b)) if b.ops.len() == 2));
        assert!(matches!(q.next(), Next::Big(Big::Flush(_))));
        assert_eq!(q.depth(), (0, 0));
    }

    #[test]
    fn behind_delays_batches_skips_snapshots_and_drops_over_the_limit() {
        let q = Queue::new(2, 10, 2);
        let snap = || MachineSnapshot {
            sample: Arc::new(crate::model::Sample::default()),
        };
        assert!(q.push_snapshot(snap()).unwrap());
        assert!(matches!(q.push_batch(batch(4)), Ok(BatchQueued::Queued)));
        assert!(!q.push_snapshot(snap()).unwrap(), "two waiting: behind");
        assert!(matches!(q.push_batch(batch(4)), Ok(BatchQueued::Delayed)));
        match q.push_batch(batch(3)) {
            Ok(BatchQueued::Dropped(b)) => assert_eq!(b.ops.len(), 3),
            _ => panic!("8 + 3 operations are over the limit of 10"),
        }
        assert_eq!(q.depth(), (3, 8));
        while q.next_small().is_some() {}
        assert!(q.push_snapshot(snap()).unwrap(), "caught up");
    }

    #[test]
    fn shutdown_writes_what_is_queued_then_refuses() {
        let q = Queue::new(100, 1_000, 1);
        q.push_batch(batch(1)).unwrap();
        q.push_shutdown();
        let (f, _rx) = flush();
        q.push_big(f).unwrap();
        assert!(matches!(q.next(), Next::Small(_)));
        assert!(
            matches!(q.next(), Next::Big(Big::Flush(_))),
            "queued before the shutdown was taken"
        );
        assert!(matches!(q.next(), Next::Done));
        assert!(q.push_batch(batch(1)).is_err());
        assert!(
            q.push_snapshot(MachineSnapshot {
                sample: Arc::new(crate::model::Sample::default())
            })
            .is_err()
        );
    }

    #[test]
    fn the_writer_sleeps_until_something_comes() {
        let q = Arc::new(Queue::new(100, 1_000, 1));
        let q2 = Arc::clone(&q);
        let t = std::thread::spawn(move || matches!(q2.next(), Next::Small(_)));
        std::thread::sleep(std::time::Duration::from_millis(50));
        q.push_batch(batch(1)).unwrap();
        assert!(t.join().unwrap());
    }

    #[test]
    fn bulk_slots_are_bounded_and_closing_wakes_the_waiters() {
        let q = Arc::new(Queue::new(100, 1_000, 1));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let first = rt.block_on(q.bulk_slot()).unwrap();
        let q2 = Arc::clone(&q);
        let waiter = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(q2.bulk_slot()).is_err()
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "the only slot is taken");
        q.close();
        assert!(waiter.join().unwrap(), "woken with an error");
        drop(first);
    }
}
