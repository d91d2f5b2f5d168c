//! The writer thread: takes the next command from the [`Queue`] and applies it on the one
//! read-write connection. Per-sample batches are one transaction each (a savepoint per
//! operation, so a constraint failure rolls back that operation alone); bulk writes and prunes
//! commit in chunks and apply waiting small commands between them.
//!
//! Errors: a failing transaction is rolled back, logged and counted, and the writer goes on with
//! the next command; a command that panics is rolled back and skipped.

use super::queue::{Big, Next, Small};
use super::{Batch, BatchOutcome, BulkOutcome, BulkWrite, Shared, WriterConfig};
use crate::store::checkpoint::Checkpointer;
use crate::store::prune::{self, PartRows, PruneCounts, PrunePolicy};
use crate::store::records::{CapturePart, MachineSnapshot, Op, PartStatus};
use crate::store::write::{self, Chunker, rollback};
use crate::sys::now_epoch;
use rusqlite::{Connection, ErrorCode};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

pub(super) struct WriterLoop {
    pub conn: Connection,
    pub shared: Arc<Shared>,
    pub config: WriterConfig,
    /// Stopped before the final checkpoint.
    pub checkpointer: Option<Checkpointer>,
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

    /// The status the part ends with once its rows are stored.
    fn stored_status(&self) -> PartStatus {
        match self {
            BulkWrite::Buffer(_) => PartStatus::Success,
            BulkWrite::Stacks(s) => s.outcome.status,
            BulkWrite::Logs(l) => l.outcome.status,
        }
    }
}

impl WriterLoop {
    pub(super) fn run(mut self) {
        loop {
            let next = self.shared.queue.next();
            let result = catch_unwind(AssertUnwindSafe(|| match next {
                Next::Small(s) => {
                    apply_small(&self.conn, &self.shared, s);
                    true
                }
                Next::Big(b) => {
                    self.execute(b);
                    true
                }
                Next::Done => false,
            }));
            match result {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => {
                    rollback(&self.conn);
                    self.shared
                        .record_error("writer", &"a command panicked; it was skipped");
                }
            }
        }
        self.shared.queue.close();
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

    fn execute(&mut self, cmd: Big) {
        match cmd {
            Big::Bulk { write, reply, .. } => {
                let _ = reply.send(self.bulk(&write));
            }
            Big::Prune { policy, now, reply } => {
                let _ = reply.send(self.prune(&policy, now));
            }
            Big::Flush(reply) => {
                let _ = reply.send(self.shared.stats());
            }
            // Taken by the queue itself.
            Big::Shutdown => {}
        }
    }

    /// Applies the small commands waiting now (between two chunks of a bulk write or prune).
    fn between(shared: &Shared) -> impl FnMut(&Connection) + '_ {
        move |c: &Connection| {
            while let Some(s) = shared.queue.next_small() {
                apply_small(c, shared, s);
            }
        }
    }

    fn bulk(&mut self, bulk: &BulkWrite) -> BulkOutcome {
        let shared = Arc::clone(&self.shared);
        let (capture_id, part) = (bulk.capture_id(), bulk.part());
        let at = now_epoch();
        let mut between = Self::between(&shared);
        let urgent = || shared.queue.small_waiting();
        let conn = &self.conn;
        // The capture row (and its event) may have been lost to an earlier failed write.
        // Outside a transaction each restored row commits on its own.
        let restored = shared.lost.restore(conn, None, Some(capture_id));
        shared.lost.forget(&restored);
        let result = Chunker::begin(conn, self.config.chunk_rows, &mut between, &urgent).and_then(
            |mut ch| {
                match bulk {
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
                }
                .and_then(|()| ch.finish())
            },
        );
        match result {
            Ok((rows, chunks)) => {
                let c = &shared.counters;
                c.bulk_written.fetch_add(1, Relaxed);
                shared.record_success();
                c.rows_written.fetch_add(rows as u64, Relaxed);
                c.transactions.fetch_add(chunks as u64, Relaxed);
                BulkOutcome {
                    capture_id,
                    part,
                    status: bulk.stored_status(),
                    rows,
                    error: None,
                }
            }
            Err(e) => {
                rollback(conn);
                shared.counters.bulk_failed.fetch_add(1, Relaxed);
                shared.record_error(&format!("storing {part} of capture {capture_id}"), &e);
                let text = e.to_string();
                self.unstore_part(bulk, &text, at);
                BulkOutcome {
                    capture_id,
                    part,
                    status: PartStatus::Failed,
                    rows: 0,
                    error: Some(text),
                }
            }
        }
    }

    /// Never leaves half a part behind: removes what earlier chunks committed and marks the
    /// part failed with the error.
    fn unstore_part(&mut self, bulk: &BulkWrite, error: &str, at: f64) {
        let shared = Arc::clone(&self.shared);
        let capture_id = bulk.capture_id();
        let batch = i64::try_from(self.config.prune_batch_rows.max(1)).unwrap_or(i64::MAX);
        let cleanup = prune::delete_capture_rows(
            &self.conn,
            capture_id,
            &[bulk.part_rows()],
            batch,
            &mut Self::between(&shared),
        );
        if let Err(ce) = cleanup {
            shared.record_error("removing a partly stored capture part", &ce);
        }
        let marked = write::set_part(
            &self.conn,
            capture_id,
            bulk.part(),
            PartStatus::Failed,
            Some(error),
            at,
        );
        if let Err(se) = marked {
            shared.record_error("marking a capture part failed", &se);
        }
    }

    fn prune(
        &mut self,
        policy: &PrunePolicy,
        now: f64,
    ) -> std::result::Result<PruneCounts, String> {
        let batch = self.config.prune_batch_rows;
        let shared = Arc::clone(&self.shared);
        let started = Instant::now();
        let result = prune::prune_with(&self.conn, policy, now, batch, &mut Self::between(&shared));
        match result {
            Ok(counts) => {
                shared.counters.prunes.fetch_add(1, Relaxed);
                shared.record_success();
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

fn apply_small(conn: &Connection, shared: &Shared, s: Small) {
    match s {
        Small::Batch(b) => apply_batch(conn, shared, b),
        Small::MachineSnapshot(m) => apply_machine_snapshot(conn, shared, &m),
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

/// One per-sample batch: one transaction, a savepoint per operation.
fn apply_batch(conn: &Connection, shared: &Shared, batch: Batch) {
    let c = &shared.counters;
    let mut outcome = BatchOutcome {
        ops_applied: 0,
        ops_failed: 0,
        error: None,
    };
    let mut rows = 0usize;
    let mut restored = Vec::new();
    let result = (|| -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for op in &batch.ops {
            restored.extend(shared.lost.restore_for(conn, op));
            conn.execute_batch("SAVEPOINT op")?;
            match write::apply_op(conn, op) {
                Ok(n) => {
                    conn.execute_batch("RELEASE op")?;
                    rows += n;
                    outcome.ops_applied += 1;
                }
                Err(e) if is_op_error(&e) => {
                    conn.execute_batch("ROLLBACK TO op; RELEASE op")?;
                    shared.lost.lost(op);
                    outcome.ops_failed += 1;
                    c.ops_failed.fetch_add(1, Relaxed);
                    shared.record_op_error(&format!("operation {}", op_name(op)), &e);
                    outcome.error.get_or_insert_with(|| e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        conn.execute_batch("COMMIT")
    })();
    match result {
        Ok(()) => {
            shared.lost.forget(&restored);
            c.batches_written.fetch_add(1, Relaxed);
            shared.record_success();
            c.transactions.fetch_add(1, Relaxed);
            c.rows_written.fetch_add(rows as u64, Relaxed);
        }
        Err(e) => {
            rollback(conn);
            c.batches_failed.fetch_add(1, Relaxed);
            batch.ops.iter().for_each(|op| shared.lost.lost(op));
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
            shared.record_success();
            c.transactions.fetch_add(1, Relaxed);
            c.rows_written.fetch_add(n as u64, Relaxed);
        }
        Err(e) => {
            rollback(conn);
            shared.record_error("machine snapshot", &e);
        }
    }
}
