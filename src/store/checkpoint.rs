//! WAL checkpoints on a thread of their own.
//!
//! SQLite normally checkpoints inside the COMMIT that pushes the WAL past 1,000 pages: that
//! commit then copies megabytes into the database file and fsyncs it, and whatever the writer
//! was about to do waits (measured: p99 of a per-sample transaction during a capture write went
//! from ~10 ms to ~50–70 ms on a busy 2-vCPU VM). Here the writer's connection only reports the
//! WAL size from its commit hook, and this thread runs PASSIVE checkpoints on its own
//! connection. A PASSIVE checkpoint takes no write lock, so the writer keeps committing while
//! pages are copied; the connection never writes a row.

use crate::sync::{lock, wait};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// WAL size (pages) that triggers a checkpoint: SQLite's own default.
pub const CHECKPOINT_PAGES: i64 = 1_000;

/// Never checkpoint more often than this (a reader holding an old snapshot keeps the WAL from
/// restarting, and every later commit stays above the threshold).
const MIN_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Signal {
    wake: bool,
    stop: bool,
}

#[derive(Default)]
pub(crate) struct CheckpointStats {
    pub wal_pages: AtomicI64,
    pub checkpoints: AtomicU64,
    pub errors: AtomicU64,
}

struct Shared {
    signal: Mutex<Signal>,
    cv: Condvar,
    stats: Arc<CheckpointStats>,
}

/// The checkpoint thread; stopped (and joined) on drop.
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing for `writer`'s database. Returns None (and leaves SQLite's automatic
    /// checkpoints in place) when the database is not a writable WAL file or a second
    /// connection cannot be opened.
    pub fn start(writer: &mut Connection, stats: Arc<CheckpointStats>) -> Option<Checkpointer> {
        if writer.is_readonly("main").unwrap_or(true) {
            return None;
        }
        let mode: String = writer
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .ok()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return None;
        }
        let path = writer.path().filter(|p| !p.is_empty())?.to_string();
        let conn = Connection::open_with_flags(
            Path::new(&path),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .inspect_err(|e| {
            tracing::warn!(target: "rogue_hunter::store", error = %e,
                "cannot open the checkpoint connection; SQLite will checkpoint on commit")
        })
        .ok()?;
        let _ = conn.busy_timeout(super::connection::BUSY_TIMEOUT);
        // A connection learns the database is in WAL mode on its first read.
        if let Err(e) = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            tracing::warn!(target: "rogue_hunter::store", error = %e,
                "cannot read through the checkpoint connection; SQLite will checkpoint on commit");
            return None;
        }
        let shared = Arc::new(Shared {
            signal: Mutex::new(Signal::default()),
            cv: Condvar::new(),
            stats,
        });
        let hook_shared = Arc::clone(&shared);
        // Replaces SQLite's automatic checkpoint, which is itself a WAL hook.
        let hooked = writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            hook_shared.stats.wal_pages.store(i64::from(pages), Relaxed);
            if i64::from(pages) >= CHECKPOINT_PAGES {
                lock(&hook_shared.signal).wake = true;
                hook_shared.cv.notify_one();
            }
            Ok(())
        }));
        if hooked.is_err() {
            return None;
        }
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("rh-db-checkpoint".to_string())
            .spawn(move || run(conn, &thread_shared));
        match thread {
            Ok(t) => Some(Checkpointer {
                shared,
                thread: Some(t),
            }),
            Err(e) => {
                tracing::warn!(target: "rogue_hunter::store", error = %e,
                    "cannot start the checkpoint thread; SQLite will checkpoint on commit");
                let _ = writer
                    .wal_hook(None::<fn(&mut rusqlite::hooks::Wal, i32) -> rusqlite::Result<()>>);
                let _ = writer.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES);
                None
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        lock(&self.shared.signal).stop = true;
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: Connection, shared: &Shared) {
    let mut last = Instant::now() - MIN_INTERVAL;
    loop {
        {
            let mut s = lock(&shared.signal);
            while !s.wake && !s.stop {
                s = wait(&shared.cv, s);
            }
            if s.stop {
                return;
            }
            s.wake = false;
        }
        let since = last.elapsed();
        if since < MIN_INTERVAL {
            std::thread::sleep(MIN_INTERVAL - since);
        }
        last = Instant::now();
        match conn.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE) {
            Ok((log, _)) if log >= 0 => {
                shared.stats.checkpoints.fetch_add(1, Relaxed);
            }
            Ok(_) => {
                shared.stats.errors.fetch_add(1, Relaxed);
                tracing::debug!(target: "rogue_hunter::store", "checkpoint could not run");
            }
            Err(e) => {
                shared.stats.errors.fetch_add(1, Relaxed);
                tracing::debug!(target: "rogue_hunter::store", error = %e, "checkpoint failed");
            }
        }
    }
}
