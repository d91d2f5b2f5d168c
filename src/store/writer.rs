//! The writer thread: owns the daemon's only read-write connection and applies commands from a
//! bounded channel.
//!
//! Queue policy (counted in [`WriterStats`]):
//! - **Per-sample batches never block and are never silently lost.** If the channel is full, the
//!   batch joins a backlog in the handle; later batches join it too (order is kept), and the
//!   backlog goes out as one merged batch as soon as there is room, or is taken directly by the
//!   writer when its channel runs dry. Only if the backlog exceeds `backlog_max_ops` is a batch
//!   dropped, with an error log and `batches_dropped` counted.
//! - **Machine snapshots are skipped** (warning, `machine_snapshots_skipped`) when the writer is
//!   behind: backlog non-empty or the channel at least half full.
//! - **Bulk data (capture buffer, stacks, logs), prunes and flushes wait for room**; the backlog
//!   always goes first, so every command reaches the writer in the order it was submitted.
//!
//! Ordering: small commands (batches, machine snapshots) are applied between the chunks of a
//! bulk write and may overtake bulk commands, prunes and flushes that are queued behind it;
//! small commands keep their order among themselves, the others among themselves. A bulk write
//! sets its own part status, so forensics never needs to follow one with a status update.
//!
//! Errors: a failing transaction is rolled back, logged with `tracing` and counted; the writer
//! goes on with the next command. Inside a batch, an operation that breaks a constraint is
//! rolled back alone (savepoint) and the others commit.

use super::checkpoint::{CheckpointStats, Checkpointer};
use super::connection::BUSY_TIMEOUT;
use super::error::{Result, StoreError};
use super::prune::{self, PartRows, PruneCounts, PrunePolicy};
use super::records::{
    BufferCapture, CapturePart, LogCapture, MachineSnapshot, Op, PartStatus, StackCapture,
};
use super::write::{self, Chunker, rollback};
use crate::sync::lock;
use crate::sys::now_epoch;
use rusqlite::{Connection, ErrorCode};
use serde::Serialize;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Tuning of the writer.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterConfig {
    /// Commands the channel holds (a per-sample batch is one command).
    pub queue_capacity: usize,
    /// Rows per transaction when writing a capture part (at most ~10,000 by design).
    pub chunk_rows: usize,
    /// Rows per statement when pruning.
    pub prune_batch_rows: usize,
    /// Operations the backlog may hold before batches are dropped (~400 bytes each).
    pub backlog_max_ops: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_capacity: 256,
            chunk_rows: 5_000,
            prune_batch_rows: prune::PRUNE_BATCH_ROWS,
            backlog_max_ops: 100_000,
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

impl BulkWrite {
    fn capture_id(&self) -> i64 {
        match self {
            BulkWrite::Buffer(b) => b.capture_id,
            BulkWrite::Stacks(s) => s.capture_id,
            BulkWrite::Logs(l) => l.capture_id,
        }
    }

    fn part(&self) -> CapturePart {
        match self {
            BulkWrite::Buffer(_) => CapturePart::Buffer,
            BulkWrite::Stacks(_) => CapturePart::Stacks,
            BulkWrite::Logs(_) => CapturePart::Logs,
        }
    }

    fn part_rows(&self) -> PartRows {
        match self {
            BulkWrite::Buffer(_) => PartRows::Buffer,
            BulkWrite::Stacks(_) => PartRows::Stacks,
            BulkWrite::Logs(_) => PartRows::Logs,
        }
    }
}

struct Batch {
    ops: Vec<Op>,
    acks: Vec<oneshot::Sender<BatchOutcome>>,
}

enum Command {
    Batch(Batch),
    MachineSnapshot(MachineSnapshot),
    Bulk(BulkWrite, Option<oneshot::Sender<BulkOutcome>>),
    Prune {
        policy: PrunePolicy,
        now: f64,
        reply: oneshot::Sender<std::result::Result<PruneCounts, String>>,
    },
    Flush(oneshot::Sender<WriterStats>),
    Shutdown,
}

impl Command {
    fn is_small(&self) -> bool {
        matches!(self, Command::Batch(_) | Command::MachineSnapshot(_))
    }
}

#[derive(Default)]
struct Counters {
    queue_depth: AtomicUsize,
    small_queued: AtomicUsize,
    backlog_ops: AtomicUsize,
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriterStats {
    /// Commands waiting in the channel.
    pub queue_depth: usize,
    /// Operations waiting in the backlog (channel was full).
    pub backlog_ops: usize,
    pub batches_written: u64,
    /// Batches whose transaction failed as a whole (disk full, read-only, I/O).
    pub batches_failed: u64,
    /// Batches that went through the backlog.
    pub batches_delayed: u64,
    /// Batches dropped because the backlog was over its limit.
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
    /// WAL size after the last commit, in pages.
    pub wal_pages: i64,
    /// Checkpoints run by the checkpoint thread (and how many failed).
    pub checkpoints: u64,
    pub checkpoint_errors: u64,
}

#[derive(Default)]
struct Backlog {
    ops: Vec<Op>,
    acks: Vec<oneshot::Sender<BatchOutcome>>,
}

struct Shared {
    tx: SyncSender<Command>,
    capacity: usize,
    backlog_max_ops: usize,
    backlog: Mutex<Backlog>,
    counters: Counters,
    checkpoint: Arc<CheckpointStats>,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            queue_depth: c.queue_depth.load(Relaxed),
            backlog_ops: c.backlog_ops.load(Relaxed),
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
            wal_pages: self.checkpoint.wal_pages.load(Relaxed),
            checkpoints: self.checkpoint.checkpoints.load(Relaxed),
            checkpoint_errors: self.checkpoint.errors.load(Relaxed),
        }
    }

    /// Counts an error; logs it as a warning unless it repeats the previous one (a full disk
    /// fails every batch; the log gets one line per change, the counter every occurrence).
    fn record_error(&self, what: &str, e: &dyn std::fmt::Display) {
        self.counters.write_errors.fetch_add(1, Relaxed);
        let text = format!("{what}: {e}");
        let mut last = lock(&self.last_error);
        if last.as_deref() == Some(text.as_str()) {
            tracing::debug!(target: "rogue_hunter::store", error = %e, "database write failed again: {what}");
        } else {
            tracing::warn!(target: "rogue_hunter::store", error = %e, "database write failed: {what}");
            *last = Some(text);
        }
    }

    /// Puts a command in the channel (call with the backlog lock held), keeping the depth
    /// counters right whatever happens.
    fn enqueue(&self, cmd: Command) -> std::result::Result<(), TrySendError<Command>> {
        let small = cmd.is_small();
        self.counters.queue_depth.fetch_add(1, Relaxed);
        if small {
            self.counters.small_queued.fetch_add(1, Relaxed);
        }
        self.tx.try_send(cmd).inspect_err(|_| {
            self.counters.queue_depth.fetch_sub(1, Relaxed);
            if small {
                self.counters.small_queued.fetch_sub(1, Relaxed);
            }
        })
    }

    /// Counts a command out of the channel.
    fn dequeued(&self, cmd: &Command) {
        self.counters.queue_depth.fetch_sub(1, Relaxed);
        if cmd.is_small() {
            self.counters.small_queued.fetch_sub(1, Relaxed);
        }
    }

    /// Whether a per-sample batch or machine snapshot is waiting (a bulk write then commits its
    /// current chunk early so the small write goes through).
    fn small_waiting(&self) -> bool {
        self.counters.small_queued.load(Relaxed) > 0 || self.counters.backlog_ops.load(Relaxed) > 0
    }

    /// Sends with the backlog lock held (so nothing overtakes the backlog); the backlog goes
    /// first. Returns the command if there is no room yet.
    fn try_send_ordered(&self, cmd: Command) -> std::result::Result<(), TrySendOrdered> {
        let mut backlog = lock(&self.backlog);
        match self.push_backlog(&mut backlog) {
            Ok(true) => {}
            Ok(false) => return Err(TrySendOrdered::Full(cmd)),
            Err(Stopped) => return Err(TrySendOrdered::Stopped),
        }
        match self.enqueue(cmd) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(cmd)) => Err(TrySendOrdered::Full(cmd)),
            Err(TrySendError::Disconnected(_)) => Err(TrySendOrdered::Stopped),
        }
    }

    /// Tries to move the whole backlog into the channel as one batch; `Ok(true)` if it went
    /// (or was empty), `Ok(false)` if there is still no room.
    fn push_backlog(&self, backlog: &mut Backlog) -> std::result::Result<bool, Stopped> {
        if backlog.ops.is_empty() && backlog.acks.is_empty() {
            return Ok(true);
        }
        let batch = Batch {
            ops: std::mem::take(&mut backlog.ops),
            acks: std::mem::take(&mut backlog.acks),
        };
        let n = batch.ops.len();
        let (cmd, stopped) = match self.enqueue(Command::Batch(batch)) {
            Ok(()) => {
                self.counters.backlog_ops.fetch_sub(n, Relaxed);
                return Ok(true);
            }
            Err(TrySendError::Full(cmd)) => (cmd, false),
            Err(TrySendError::Disconnected(cmd)) => (cmd, true),
        };
        if let Command::Batch(b) = cmd {
            backlog.ops = b.ops;
            backlog.acks = b.acks;
        }
        if stopped { Err(Stopped) } else { Ok(false) }
    }

    /// Sends, waiting (by polling) for room; for everything that is not a per-sample batch.
    fn send_blocking(&self, mut cmd: Command) -> Result<()> {
        loop {
            match self.try_send_ordered(cmd) {
                Ok(()) => return Ok(()),
                Err(TrySendOrdered::Stopped) => return Err(StoreError::WriterStopped),
                Err(TrySendOrdered::Full(c)) => {
                    cmd = c;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }

    async fn send_async(&self, mut cmd: Command) -> Result<()> {
        loop {
            match self.try_send_ordered(cmd) {
                Ok(()) => return Ok(()),
                Err(TrySendOrdered::Stopped) => return Err(StoreError::WriterStopped),
                Err(TrySendOrdered::Full(c)) => {
                    cmd = c;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
    }
}

enum TrySendOrdered {
    Full(Command),
    Stopped,
}

/// The writer thread is gone.
struct Stopped;

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
        let s = &self.shared;
        let mut backlog = lock(&s.backlog);
        if backlog.ops.is_empty() && backlog.acks.is_empty() {
            match s.enqueue(Command::Batch(batch)) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(StoreError::WriterStopped),
                Err(TrySendError::Full(Command::Batch(b))) => self.add_to_backlog(&mut backlog, b),
                Err(TrySendError::Full(_)) => {}
            }
        } else {
            self.add_to_backlog(&mut backlog, batch);
        }
        match s.push_backlog(&mut backlog) {
            Err(Stopped) => Err(StoreError::WriterStopped),
            Ok(_) => Ok(()),
        }
    }

    fn add_to_backlog(&self, backlog: &mut Backlog, batch: Batch) {
        let s = &self.shared;
        if backlog.ops.len() + batch.ops.len() > s.backlog_max_ops {
            s.counters.batches_dropped.fetch_add(1, Relaxed);
            tracing::error!(
                target: "rogue_hunter::store",
                ops = batch.ops.len(),
                backlog = backlog.ops.len(),
                "database writer is far behind: a per-sample batch was dropped"
            );
            for ack in batch.acks {
                let _ = ack.send(BatchOutcome {
                    ops_applied: 0,
                    ops_failed: batch.ops.len(),
                    error: Some("dropped: writer backlog full".to_string()),
                });
            }
            return;
        }
        if backlog.ops.is_empty() {
            tracing::warn!(target: "rogue_hunter::store", "database writer queue is full; holding per-sample writes in memory");
        }
        s.counters.batches_delayed.fetch_add(1, Relaxed);
        s.counters.backlog_ops.fetch_add(batch.ops.len(), Relaxed);
        backlog.ops.extend(batch.ops);
        backlog.acks.extend(batch.acks);
    }

    /// Submits a machine snapshot unless the writer is behind; returns whether it was queued.
    pub fn submit_machine_snapshot(&self, snap: MachineSnapshot) -> Result<bool> {
        let s = &self.shared;
        let behind = s.counters.backlog_ops.load(Relaxed) > 0
            || s.counters.queue_depth.load(Relaxed) * 2 >= s.capacity;
        if !behind {
            match s.try_send_ordered(Command::MachineSnapshot(snap)) {
                Ok(()) => return Ok(true),
                Err(TrySendOrdered::Stopped) => return Err(StoreError::WriterStopped),
                Err(TrySendOrdered::Full(_)) => {}
            }
        }
        s.counters.machine_snapshots_skipped.fetch_add(1, Relaxed);
        tracing::warn!(target: "rogue_hunter::store", "database writer is behind: machine snapshot skipped");
        Ok(false)
    }

    /// Queues a bulk write, waiting for room (blocking; for threads off the async runtime).
    /// The receiver reports the part's final status; dropping it is fine.
    pub fn send_bulk_blocking(&self, bulk: BulkWrite) -> Result<oneshot::Receiver<BulkOutcome>> {
        let (tx, rx) = oneshot::channel();
        self.shared.send_blocking(Command::Bulk(bulk, Some(tx)))?;
        Ok(rx)
    }

    /// Queues a bulk write, waiting for room without blocking the runtime.
    pub async fn send_bulk(&self, bulk: BulkWrite) -> Result<oneshot::Receiver<BulkOutcome>> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .send_async(Command::Bulk(bulk, Some(tx)))
            .await?;
        Ok(rx)
    }

    /// Asks for a prune; the reply carries the counts (or the error text).
    pub async fn prune(
        &self,
        policy: PrunePolicy,
        now: f64,
    ) -> Result<oneshot::Receiver<std::result::Result<PruneCounts, String>>> {
        let (reply, rx) = oneshot::channel();
        self.shared
            .send_async(Command::Prune { policy, now, reply })
            .await?;
        Ok(rx)
    }

    /// Blocking form of [`prune`](Self::prune), waiting for the counts.
    pub fn prune_blocking(&self, policy: PrunePolicy, now: f64) -> Result<PruneCounts> {
        let (reply, rx) = oneshot::channel();
        self.shared
            .send_blocking(Command::Prune { policy, now, reply })?;
        rx.blocking_recv()
            .map_err(|_| StoreError::WriterStopped)?
            .map_err(StoreError::Invalid)
    }

    /// Waits until everything submitted before is written; returns the counters then.
    pub async fn flush(&self) -> Result<WriterStats> {
        let (tx, rx) = oneshot::channel();
        self.shared.send_async(Command::Flush(tx)).await?;
        rx.await.map_err(|_| StoreError::WriterStopped)
    }

    /// Blocking form of [`flush`](Self::flush) (not from inside the async runtime).
    pub fn flush_blocking(&self) -> Result<WriterStats> {
        let (tx, rx) = oneshot::channel();
        self.shared.send_blocking(Command::Flush(tx))?;
        rx.blocking_recv().map_err(|_| StoreError::WriterStopped)
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
        let capacity = config.queue_capacity.max(1);
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        let shared = Arc::new(Shared {
            tx,
            capacity,
            backlog_max_ops: config.backlog_max_ops.max(1),
            backlog: Mutex::new(Backlog::default()),
            counters: Counters::default(),
            checkpoint: Arc::new(CheckpointStats::default()),
            last_error: Mutex::new(None),
        });
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        let checkpointer = Checkpointer::start(&mut conn, Arc::clone(&shared.checkpoint));
        let state = WriterLoop {
            conn,
            rx,
            deferred: VecDeque::new(),
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

    /// Writes everything queued (backlog included), checkpoints, and stops the thread.
    pub fn shutdown(mut self) -> WriterStats {
        self.stop();
        self.handle.stats()
    }

    fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.handle.shared.send_blocking(Command::Shutdown);
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

struct WriterLoop {
    conn: Connection,
    rx: Receiver<Command>,
    /// Commands pulled from the channel during a bulk write, to run after it, in order.
    deferred: VecDeque<Command>,
    shared: Arc<Shared>,
    config: WriterConfig,
    /// Stopped before the final checkpoint.
    checkpointer: Option<Checkpointer>,
}

/// Where the next command comes from, when small commands are drained between chunks.
enum Next {
    Command(Command),
    Empty,
    Closed,
}

/// Pulls the next command from the channel, or the backlog if the channel is empty. Both
/// checks happen under the backlog lock, which every sender holds while sending, so a backlog
/// is only taken when nothing older is still in the channel.
fn poll_next(rx: &Receiver<Command>, shared: &Shared) -> Next {
    let take = |cmd: Command| {
        shared.dequeued(&cmd);
        Next::Command(cmd)
    };
    match rx.try_recv() {
        Ok(cmd) => return take(cmd),
        Err(TryRecvError::Disconnected) => return Next::Closed,
        Err(TryRecvError::Empty) => {}
    }
    let mut backlog = lock(&shared.backlog);
    match rx.try_recv() {
        Ok(cmd) => take(cmd),
        Err(TryRecvError::Disconnected) => Next::Closed,
        Err(TryRecvError::Empty) => {
            if backlog.ops.is_empty() && backlog.acks.is_empty() {
                Next::Empty
            } else {
                let n = backlog.ops.len();
                shared.counters.backlog_ops.fetch_sub(n, Relaxed);
                Next::Command(Command::Batch(Batch {
                    ops: std::mem::take(&mut backlog.ops),
                    acks: std::mem::take(&mut backlog.acks),
                }))
            }
        }
    }
}

/// Is this error about the operation (skip it) or about the database (the transaction fails)?
fn is_op_error(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => {
            matches!(
                f.code,
                ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch
            )
        }
        _ => true,
    }
}

impl WriterLoop {
    fn run(mut self) {
        let mut stopping = false;
        loop {
            let cmd = if let Some(c) = self.deferred.pop_front() {
                c
            } else {
                match poll_next(&self.rx, &self.shared) {
                    Next::Command(c) => c,
                    Next::Closed => break,
                    Next::Empty if stopping => break,
                    Next::Empty => match self.rx.recv_timeout(Duration::from_millis(200)) {
                        Ok(c) => {
                            self.shared.dequeued(&c);
                            c
                        }
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    },
                }
            };
            if matches!(cmd, Command::Shutdown) {
                // Keep going until the channel and backlog are empty, then stop.
                stopping = true;
                continue;
            }
            let shared = Arc::clone(&self.shared);
            if catch_unwind(AssertUnwindSafe(|| self.execute(cmd))).is_err() {
                rollback(&self.conn);
                shared.record_error("writer", &"a command panicked; it was skipped");
            }
        }
        self.finish();
    }

    fn finish(mut self) {
        drop(self.checkpointer.take());
        let _ = self.conn.execute_batch("PRAGMA optimize");
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::debug!(target: "rogue_hunter::store", error = %e, "final checkpoint failed");
        }
        if let Err((_, e)) = self.conn.close() {
            tracing::warn!(target: "rogue_hunter::store", error = %e, "closing the database failed");
        }
    }

    fn execute(&mut self, cmd: Command) {
        match cmd {
            Command::Batch(b) => apply_batch(&self.conn, &self.shared, b),
            Command::MachineSnapshot(s) => apply_machine_snapshot(&self.conn, &self.shared, &s),
            Command::Bulk(bulk, reply) => {
                let outcome = self.bulk(&bulk);
                if let Some(r) = reply {
                    let _ = r.send(outcome);
                }
            }
            Command::Prune { policy, now, reply } => {
                let result = self.prune(&policy, now);
                let _ = reply.send(result);
            }
            Command::Flush(reply) => {
                let _ = reply.send(self.shared.stats());
            }
            Command::Shutdown => {}
        }
    }

    /// Splits the borrows so chunked work can apply small commands between its transactions.
    fn with_interleave<T>(
        &mut self,
        work: impl FnOnce(&Connection, &mut dyn FnMut(&Connection)) -> T,
    ) -> T {
        let WriterLoop {
            conn,
            rx,
            deferred,
            shared,
            ..
        } = self;
        let mut between = |c: &Connection| loop {
            match poll_next(rx, shared) {
                Next::Command(cmd) if cmd.is_small() => match cmd {
                    Command::Batch(b) => apply_batch(c, shared, b),
                    Command::MachineSnapshot(s) => apply_machine_snapshot(c, shared, &s),
                    _ => {}
                },
                Next::Command(cmd) => deferred.push_back(cmd),
                Next::Empty | Next::Closed => break,
            }
        };
        work(conn, &mut between)
    }

    fn bulk(&mut self, bulk: &BulkWrite) -> BulkOutcome {
        let chunk_rows = self.config.chunk_rows;
        let prune_batch = i64::try_from(self.config.prune_batch_rows.max(1)).unwrap_or(i64::MAX);
        let shared = Arc::clone(&self.shared);
        let capture_id = bulk.capture_id();
        let part = bulk.part();
        let at = now_epoch();
        self.with_interleave(|conn, between| {
            let urgent = || shared.small_waiting();
            let result =
                Chunker::begin(conn, chunk_rows, &mut *between, &urgent).and_then(|mut ch| {
                    let r = match bulk {
                        BulkWrite::Buffer(b) => write::store_buffer(&mut ch, b, at),
                        BulkWrite::Stacks(s) => write::store_stacks(
                            &mut ch,
                            s.capture_id,
                            &s.source,
                            &s.data,
                            &s.outcome,
                            at,
                        ),
                        BulkWrite::Logs(l) => write::store_logs(&mut ch, l, at),
                    };
                    r.and_then(|()| ch.finish())
                });
            match result {
                Ok((rows, chunks)) => {
                    let c = &shared.counters;
                    c.bulk_written.fetch_add(1, Relaxed);
                    c.rows_written.fetch_add(rows as u64, Relaxed);
                    c.transactions.fetch_add(chunks as u64, Relaxed);
                    let status = match bulk {
                        BulkWrite::Buffer(_) => PartStatus::Success,
                        BulkWrite::Stacks(s) => s.outcome.status,
                        BulkWrite::Logs(l) => l.outcome.status,
                    };
                    BulkOutcome {
                        capture_id,
                        part,
                        status,
                        rows,
                        error: None,
                    }
                }
                Err(e) => {
                    rollback(conn);
                    shared.counters.bulk_failed.fetch_add(1, Relaxed);
                    shared.record_error(&format!("storing {part:?} of capture {capture_id}"), &e);
                    // Never leave half a part behind: remove what earlier chunks committed.
                    let cleanup = prune::delete_capture_rows(
                        conn,
                        capture_id,
                        &[bulk.part_rows()],
                        prune_batch,
                        between,
                    );
                    if let Err(ce) = cleanup {
                        shared.record_error("removing a partly stored capture part", &ce);
                    }
                    let text = e.to_string();
                    if let Err(se) =
                        write::set_part(conn, capture_id, part, PartStatus::Failed, Some(&text), at)
                    {
                        shared.record_error("marking a capture part failed", &se);
                    }
                    BulkOutcome {
                        capture_id,
                        part,
                        status: PartStatus::Failed,
                        rows: 0,
                        error: Some(text),
                    }
                }
            }
        })
    }

    fn prune(
        &mut self,
        policy: &PrunePolicy,
        now: f64,
    ) -> std::result::Result<PruneCounts, String> {
        let batch = self.config.prune_batch_rows;
        let shared = Arc::clone(&self.shared);
        let started = Instant::now();
        let result = self
            .with_interleave(|conn, between| prune::prune_with(conn, policy, now, batch, between));
        match result {
            Ok(counts) => {
                shared.counters.prunes.fetch_add(1, Relaxed);
                tracing::info!(
                    target: "rogue_hunter::store",
                    events = counts.events,
                    captures = counts.captures,
                    machine_snapshots = counts.machine_snapshots,
                    orphan_rows = counts.orphan_rows,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "pruned old data"
                );
                Ok(counts)
            }
            Err(e) => {
                rollback(&self.conn);
                shared.record_error("pruning", &e);
                Err(e.to_string())
            }
        }
    }
}

/// One per-sample batch: one transaction, a savepoint per operation.
fn apply_batch(conn: &Connection, shared: &Shared, batch: Batch) {
    let c = &shared.counters;
    let mut outcome = BatchOutcome {
        ops_applied: 0,
        ops_failed: 0,
        error: None,
    };
    let mut rows = 0usize;
    let result = (|| -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for op in &batch.ops {
            conn.execute_batch("SAVEPOINT op")?;
            match write::apply_op(conn, op) {
                Ok(n) => {
                    conn.execute_batch("RELEASE op")?;
                    rows += n;
                    outcome.ops_applied += 1;
                }
                Err(e) if is_op_error(&e) => {
                    conn.execute_batch("ROLLBACK TO op; RELEASE op")?;
                    outcome.ops_failed += 1;
                    c.ops_failed.fetch_add(1, Relaxed);
                    shared.record_error(&format!("operation {}", op_name(op)), &e);
                    outcome.error.get_or_insert_with(|| e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        conn.execute_batch("COMMIT")
    })();
    match result {
        Ok(()) => {
            c.batches_written.fetch_add(1, Relaxed);
            c.transactions.fetch_add(1, Relaxed);
            c.rows_written.fetch_add(rows as u64, Relaxed);
        }
        Err(e) => {
            rollback(conn);
            c.batches_failed.fetch_add(1, Relaxed);
            shared.record_error(
                &format!("per-sample batch of {} operations", batch.ops.len()),
                &e,
            );
            outcome.ops_failed = batch.ops.len();
            outcome.ops_applied = 0;
            outcome.error = Some(e.to_string());
        }
    }
    for ack in batch.acks {
        let _ = ack.send(outcome.clone());
    }
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::OpenEvent(_) => "open event",
        Op::InsertSnapshot(_) => "insert snapshot",
        Op::SetPeak { .. } => "set peak",
        Op::CloseEvent { .. } => "close event",
        Op::SetDaemonState { .. } => "set daemon state",
        Op::CreateCapture(_) => "create capture",
        Op::SetCapturePart { .. } => "set capture part",
        Op::AddCaptureTriggers { .. } => "add capture triggers",
    }
}

fn apply_machine_snapshot(conn: &Connection, shared: &Shared, snap: &MachineSnapshot) {
    let c = &shared.counters;
    let result = (|| -> rusqlite::Result<usize> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let n = write::insert_machine_snapshot(conn, snap)?;
        conn.execute_batch("COMMIT")?;
        Ok(n)
    })();
    match result {
        Ok(n) => {
            c.machine_snapshots_written.fetch_add(1, Relaxed);
            c.transactions.fetch_add(1, Relaxed);
            c.rows_written.fetch_add(n as u64, Relaxed);
        }
        Err(e) => {
            rollback(conn);
            shared.record_error("machine snapshot", &e);
        }
    }
}
