//! The writer: a thread that owns the daemon's only read-write connection, and the handle
//! everyone else submits writes through. What waits for what is the policy of the two queues in
//! `queue.rs`; how each command becomes transactions is `thread.rs`.
//!
//! A bulk write sets its own part status, so forensics never needs to follow one with a status
//! update. The counters ([`WriterStats`]: failures, the last error, queue depths) are readable at
//! any time without waiting for the writer.

mod lost;
mod queue;
mod thread;

use super::checkpoint::{CheckpointStats, Checkpointer};
use super::connection::BUSY_TIMEOUT;
use super::error::{Result, StoreError};
use super::prune::{self, PruneCounts, PrunePolicy};
use super::records::{
    BufferCapture, CapturePart, LogCapture, MachineSnapshot, Op, PartStatus, StackCapture,
};
use crate::sync::lock;
use queue::{BatchQueued, Big, Queue};
use rusqlite::Connection;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Tuning of the writer (the queue policy is described in `queue.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct WriterConfig {
    /// Small commands (per-sample batches, machine snapshots) waiting before the writer counts
    /// as behind: from then on batches are counted as delayed and machine snapshots skipped.
    pub behind_after: usize,
    /// Operations the small queue may hold; a batch that would go over is dropped (counted).
    /// About 400 bytes each.
    pub max_queued_ops: usize,
    /// Bulk writes (capture parts) queued or being written at once; further senders wait.
    pub bulk_capacity: usize,
    /// Rows per transaction when writing a capture part (at most ~10,000 by design).
    pub chunk_rows: usize,
    /// Rows per statement when pruning.
    pub prune_batch_rows: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            behind_after: 128,
            max_queued_ops: 100_000,
            bulk_capacity: 8,
            chunk_rows: 5_000,
            prune_batch_rows: prune::PRUNE_BATCH_ROWS,
        }
    }
}

/// Result of one per-sample batch, for callers that wait for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    pub ops_applied: usize,
    pub ops_failed: usize,
    /// The first error, if any.
    pub error: Option<String>,
}

/// Result of a bulk write: the status its part ended with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkOutcome {
    pub capture_id: i64,
    pub part: CapturePart,
    pub status: PartStatus,
    pub rows: usize,
    pub error: Option<String>,
}

/// A large write, stored in chunks.
#[derive(Debug, Clone)]
pub enum BulkWrite {
    Buffer(BufferCapture),
    Stacks(Box<StackCapture>),
    Logs(LogCapture),
}

/// One sample's operations (one transaction), and who waits for the outcome.
struct Batch {
    ops: Vec<Op>,
    acks: Vec<oneshot::Sender<BatchOutcome>>,
}

#[derive(Default)]
struct Counters {
    batches_written: AtomicU64,
    batches_failed: AtomicU64,
    batches_delayed: AtomicU64,
    batches_dropped: AtomicU64,
    ops_failed: AtomicU64,
    rows_written: AtomicU64,
    transactions: AtomicU64,
    bulk_written: AtomicU64,
    bulk_failed: AtomicU64,
    machine_snapshots_written: AtomicU64,
    machine_snapshots_skipped: AtomicU64,
    prunes: AtomicU64,
    write_errors: AtomicU64,
}

/// A snapshot of the writer's counters (for the heartbeat and `/metrics`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WriterStats {
    /// Commands waiting in both queues.
    pub queue_depth: usize,
    /// Operations waiting in the small queue.
    pub queued_ops: usize,
    pub batches_written: u64,
    /// Batches whose transaction failed as a whole (disk full, read-only, I/O).
    pub batches_failed: u64,
    /// Batches queued while the writer was behind.
    pub batches_delayed: u64,
    /// Batches dropped because the small queue was over its limit.
    pub batches_dropped: u64,
    /// Single operations rolled back (constraint failures) inside otherwise good batches.
    pub ops_failed: u64,
    pub rows_written: u64,
    pub transactions: u64,
    pub bulk_written: u64,
    pub bulk_failed: u64,
    pub machine_snapshots_written: u64,
    pub machine_snapshots_skipped: u64,
    pub prunes: u64,
    /// Every failed statement or transaction, whatever it was part of.
    pub write_errors: u64,
    pub last_error: Option<String>,
    /// When the last error happened (epoch seconds).
    pub last_error_at: Option<f64>,
    /// The last write attempted failed: storage is failing now, not merely once since start.
    /// A later successful write clears it.
    pub failing: bool,
    /// WAL size after the last commit, in pages.
    pub wal_pages: i64,
    /// Checkpoints run by the checkpoint thread (and how many failed).
    pub checkpoints: u64,
    pub checkpoint_errors: u64,
}

struct Shared {
    queue: Queue,
    counters: Counters,
    checkpoint: Arc<CheckpointStats>,
    last_error: Mutex<Option<String>>,
    last_error_at: Mutex<Option<f64>>,
    failing: std::sync::atomic::AtomicBool,
    /// Events and captures whose write failed, stored once a write refers to them.
    lost: lost::LostRows,
}

impl Shared {
    fn stats(&self) -> WriterStats {
        let c = &self.counters;
        let (queue_depth, queued_ops) = self.queue.depth();
        WriterStats {
            queue_depth,
            queued_ops,
            batches_written: c.batches_written.load(Relaxed),
            batches_failed: c.batches_failed.load(Relaxed),
            batches_delayed: c.batches_delayed.load(Relaxed),
            batches_dropped: c.batches_dropped.load(Relaxed),
            ops_failed: c.ops_failed.load(Relaxed),
            rows_written: c.rows_written.load(Relaxed),
            transactions: c.transactions.load(Relaxed),
            bulk_written: c.bulk_written.load(Relaxed),
            bulk_failed: c.bulk_failed.load(Relaxed),
            machine_snapshots_written: c.machine_snapshots_written.load(Relaxed),
            machine_snapshots_skipped: c.machine_snapshots_skipped.load(Relaxed),
            prunes: c.prunes.load(Relaxed),
            write_errors: c.write_errors.load(Relaxed),
            last_error: lock(&self.last_error).clone(),
            last_error_at: *lock(&self.last_error_at),
            failing: self.failing.load(Relaxed),
            wal_pages: self.checkpoint.wal_pages.load(Relaxed),
            checkpoints: self.checkpoint.checkpoints.load(Relaxed),
            checkpoint_errors: self.checkpoint.errors.load(Relaxed),
        }
    }

    /// Counts an error; logs it as a warning unless it repeats the previous one (a full disk
    /// fails every batch; the log gets one line per change, the counter every occurrence).
    fn record_error(&self, what: &str, e: &dyn std::fmt::Display) {
        self.failing.store(true, Relaxed);
        self.record_op_error(what, e);
    }

    /// Counts and logs an error of one operation that the rest of its batch committed
    /// around (a constraint): a failed write, but not a failing database.
    fn record_op_error(&self, what: &str, e: &dyn std::fmt::Display) {
        self.counters.write_errors.fetch_add(1, Relaxed);
        *lock(&self.last_error_at) = Some(crate::sys::now_epoch());
        let text = format!("{what}: {e}");
        let mut last = lock(&self.last_error);
        if last.as_deref() == Some(text.as_str()) {
            tracing::debug!(target: "rogue_hunter::store", error = %e, "database write failed again: {what}");
        } else {
            tracing::warn!(target: "rogue_hunter::store", error = %e, "database write failed: {what}");
            *last = Some(text);
        }
    }

    /// A write committed: storage works (again). Logs the recovery once.
    fn record_success(&self) {
        if self.failing.swap(false, Relaxed) {
            tracing::info!(target: "rogue_hunter::store", "database writes succeed again");
        }
    }
}

/// A cheap, cloneable handle for submitting writes.
#[derive(Clone)]
pub struct WriterHandle {
    shared: Arc<Shared>,
}

impl WriterHandle {
    /// Submits one sample's operations (one transaction). Never blocks: see the queue policy.
    pub fn submit(&self, ops: Vec<Op>) -> Result<()> {
        self.submit_batch(Batch {
            ops,
            acks: Vec::new(),
        })
    }

    /// Like [`submit`](Self::submit), with a reply once the batch is committed (or failed).
    pub fn submit_acked(&self, ops: Vec<Op>) -> Result<oneshot::Receiver<BatchOutcome>> {
        let (tx, rx) = oneshot::channel();
        self.submit_batch(Batch {
            ops,
            acks: vec![tx],
        })?;
        Ok(rx)
    }

    fn submit_batch(&self, batch: Batch) -> Result<()> {
        if batch.ops.is_empty() && batch.acks.is_empty() {
            return Ok(());
        }
        let c = &self.shared.counters;
        match self.shared.queue.push_batch(batch) {
            Err(queue::Stopped) => Err(StoreError::WriterStopped),
            Ok(BatchQueued::Queued) => Ok(()),
            Ok(BatchQueued::Delayed) => {
                c.batches_delayed.fetch_add(1, Relaxed);
                Ok(())
            }
            Ok(BatchQueued::Dropped(batch)) => {
                c.batches_dropped.fetch_add(1, Relaxed);
                batch.ops.iter().for_each(|op| self.shared.lost.lost(op));
                for ack in batch.acks {
                    let _ = ack.send(BatchOutcome {
                        ops_applied: 0,
                        ops_failed: batch.ops.len(),
                        error: Some("dropped: writer backlog full".to_string()),
                    });
                }
                Ok(())
            }
        }
    }

    /// Submits a machine snapshot unless the writer is behind; returns whether it was queued.
    pub fn submit_machine_snapshot(&self, snap: MachineSnapshot) -> Result<bool> {
        let queued = self
            .shared
            .queue
            .push_snapshot(snap)
            .map_err(|_| StoreError::WriterStopped)?;
        if !queued {
            self.shared
                .counters
                .machine_snapshots_skipped
                .fetch_add(1, Relaxed);
            tracing::warn!(target: "rogue_hunter::store", "database writer is behind: machine snapshot skipped");
        }
        Ok(queued)
    }

    /// Queues a bulk write once one of the bulk slots is free, waiting without blocking the
    /// runtime. The receiver reports the part's final status; dropping it is fine.
    pub async fn send_bulk(&self, bulk: BulkWrite) -> Result<oneshot::Receiver<BulkOutcome>> {
        let queue = &self.shared.queue;
        let slot = queue
            .bulk_slot()
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        let (reply, rx) = oneshot::channel();
        queue
            .push_big(Big::Bulk {
                write: bulk,
                reply,
                _slot: slot,
            })
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(rx)
    }

    /// Asks for a prune (after the big commands queued before it); the reply carries the
    /// counts (or the error text).
    pub fn prune(
        &self,
        policy: PrunePolicy,
        now: f64,
    ) -> Result<oneshot::Receiver<std::result::Result<PruneCounts, String>>> {
        let (reply, rx) = oneshot::channel();
        self.shared
            .queue
            .push_big(Big::Prune { policy, now, reply })
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(rx)
    }

    /// Waits until everything submitted before is written; returns the counters then.
    pub async fn flush(&self) -> Result<WriterStats> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .queue
            .push_big(Big::Flush(tx))
            .map_err(|_| StoreError::WriterStopped)?;
        rx.await.map_err(|_| StoreError::WriterStopped)
    }

    /// The current counters.
    pub fn stats(&self) -> WriterStats {
        self.shared.stats()
    }
}

/// The writer thread and its handle. Dropping it does what [`shutdown`](Writer::shutdown)
/// does (write everything queued, then stop).
pub struct Writer {
    handle: WriterHandle,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on an open read-write connection (see
    /// [`super::connection::open_writer`]), and the checkpoint thread beside it.
    pub fn spawn(mut conn: Connection, config: WriterConfig) -> Result<Writer> {
        let shared = Arc::new(Shared {
            queue: Queue::new(
                config.behind_after,
                config.max_queued_ops,
                config.bulk_capacity,
            ),
            counters: Counters::default(),
            checkpoint: Arc::new(CheckpointStats::default()),
            last_error: Mutex::new(None),
            last_error_at: Mutex::new(None),
            failing: std::sync::atomic::AtomicBool::new(false),
            lost: lost::LostRows::default(),
        });
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        let checkpointer = Checkpointer::start(&mut conn, Arc::clone(&shared.checkpoint));
        let state = thread::WriterLoop {
            conn,
            shared: Arc::clone(&shared),
            config,
            checkpointer,
        };
        let thread = std::thread::Builder::new()
            .name("rh-db-writer".to_string())
            .spawn(move || state.run())
            .map_err(|source| StoreError::Io {
                path: "rh-db-writer thread".into(),
                source,
            })?;
        Ok(Writer {
            handle: WriterHandle { shared },
            thread: Some(thread),
        })
    }

    /// A handle for submitting writes.
    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Writes everything queued, checkpoints, and stops the thread.
    pub fn shutdown(mut self) -> WriterStats {
        self.stop();
        self.handle.stats()
    }

    fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.handle.shared.queue.push_shutdown();
            if t.join().is_err() {
                tracing::error!(target: "rogue_hunter::store", "database writer thread panicked");
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}
