//! A little disk space set aside next to the database (`data.db-reserve`, 1 MiB of zeros), so
//! the daemon's last writes at a stop still fit when the disk is full: released then, and made
//! again at the next start.
//!
//! What it buys: with the disk full, a capture whose results could not be written is left
//! `pending`; finishing it as `failed` needs a few WAL frames, which a full disk refuses too.
//! Giving back this file's blocks makes room for exactly that.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How much is set aside: far more than finishing the pending captures appends to the WAL.
pub const RESERVE_BYTES: usize = 1 << 20;

/// The reserve file of a database.
#[derive(Debug)]
pub struct SpaceReserve {
    path: PathBuf,
}

impl SpaceReserve {
    /// The reserve of the database at `db`: `<db>-reserve`.
    pub fn of(db: &Path) -> SpaceReserve {
        let mut name = db.as_os_str().to_os_string();
        name.push("-reserve");
        SpaceReserve {
            path: PathBuf::from(name),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes sure the whole reserve is on disk (written, not sparse). Fails when the disk has no
    /// room for it; then nothing is left behind.
    pub fn ensure(&self) -> std::io::Result<()> {
        if std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.is_file() && m.len() == RESERVE_BYTES as u64)
        {
            return Ok(());
        }
        let _ = std::fs::remove_file(&self.path);
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&self.path)?;
            f.write_all(&vec![0u8; RESERVE_BYTES])?;
            f.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        result
    }

    /// Gives the space back; true when there was a reserve to release.
    pub fn release(&self) -> bool {
        std::fs::remove_file(&self.path).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_written_once_and_released() {
        let t = tempfile::tempdir().unwrap();
        let r = SpaceReserve::of(&t.path().join("data.db"));
        assert_eq!(r.path(), t.path().join("data.db-reserve"));
        r.ensure().unwrap();
        let m = std::fs::metadata(r.path()).unwrap();
        assert_eq!(m.len(), RESERVE_BYTES as u64);
        // Really allocated, not a hole.
        assert!(std::os::unix::fs::MetadataExt::blocks(&m) * 512 >= RESERVE_BYTES as u64);
        r.ensure().unwrap();
        assert!(r.release());
        assert!(!r.path().exists());
        assert!(!r.release());
        // A short leftover is replaced by a whole one.
        std::fs::write(r.path(), b"x").unwrap();
        r.ensure().unwrap();
        assert_eq!(
            std::fs::metadata(r.path()).unwrap().len(),
            RESERVE_BYTES as u64
        );
    }
}
