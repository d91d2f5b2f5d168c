//! Blocking forms of the writer's waiting calls, for tests and benchmarks that run on plain
//! threads (the daemon calls the async ones from its runtime). Shared by the integration tests
//! and the benches.

#![allow(dead_code)]

use rogue_hunter::store::{
    BulkOutcome, BulkWrite, PruneCounts, PrunePolicy, Result, StoreError, WriterHandle, WriterStats,
};
use std::future::Future;
use tokio::sync::oneshot;

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
        .block_on(f)
}

pub trait BlockingWriter {
    /// [`WriterHandle::send_bulk`], waiting on this thread for a bulk slot.
    fn send_bulk_blocking(&self, bulk: BulkWrite) -> Result<oneshot::Receiver<BulkOutcome>>;
    /// [`WriterHandle::flush`], waiting on this thread.
    fn flush_blocking(&self) -> Result<WriterStats>;
    /// [`WriterHandle::prune`], waiting on this thread for the counts.
    fn prune_blocking(&self, policy: PrunePolicy, now: f64) -> Result<PruneCounts>;
}

impl BlockingWriter for WriterHandle {
    fn send_bulk_blocking(&self, bulk: BulkWrite) -> Result<oneshot::Receiver<BulkOutcome>> {
        block_on(self.send_bulk(bulk))
    }

    fn flush_blocking(&self) -> Result<WriterStats> {
        block_on(self.flush())
    }

    fn prune_blocking(&self, policy: PrunePolicy, now: f64) -> Result<PruneCounts> {
        self.prune(policy, now)?
            .blocking_recv()
            .map_err(|_| StoreError::WriterStopped)?
            .map_err(StoreError::Invalid)
    }
}
