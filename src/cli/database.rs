//! How the history commands open the database: read-only, and never creating it (only the
//! daemon does). A missing database is a soft miss for list-type commands and an error for
//! `events show`, as in the original.

use crate::store::{StoreError, open_reader};
use rusqlite::Connection;
use std::path::Path;

/// What list-type commands print (exit 0) when there is no database yet.
pub const NOT_FOUND: &str = "Database not found. Run 'rogue-hunter daemon' first.";

/// A read-only connection, or None when there is no database yet (no file, or an empty one).
/// A foreign, newer or unmigrated file is an error that says so.
pub fn open(path: &Path) -> anyhow::Result<Option<Connection>> {
    match open_reader(path) {
        Ok(conn) => Ok(Some(conn)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A read-only connection; no database is an error.
pub fn open_required(path: &Path) -> anyhow::Result<Connection> {
    open(path)?.ok_or_else(|| {
        anyhow::anyhow!(
            "Database not found at {}. Run 'rogue-hunter daemon' first.",
            path.display()
        )
    })
}

/// Size of the database on disk, its WAL file included.
pub fn size_on_disk(path: &Path) -> Option<u64> {
    let main = std::fs::metadata(path).ok()?.len();
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    let wal = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
    Some(main + wal)
}

/// The machine's boot (its id and time), which selects "the current boot" (None: list every
/// boot).
pub fn current_boot() -> Option<crate::store::queries::Boot> {
    crate::store::queries::Boot::current()
}
