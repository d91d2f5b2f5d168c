//! Opening files that another process controls without letting it hurt the daemon: a path can
//! be swapped for a FIFO (an open would block forever) or another file between a check and an
//! open, and a file the daemon maps can be truncated under it (SIGBUS). So files are opened
//! non-blocking and checked after the open, and a file someone else could change is copied into
//! a sealed memfd before anything maps it.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Opens `path` for reading without blocking; None unless it is a regular file of at most
/// `max_len` bytes that `accept` agrees to.
pub fn open_regular(
    path: &Path,
    max_len: u64,
    accept: impl FnOnce(&std::fs::Metadata) -> bool,
) -> Option<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.len() <= max_len && accept(&meta)).then_some(file)
}

/// Only root and the daemon's own user can change it (owned by one of them, not writable by
/// group or others): safe to map in place.
pub fn trusted(meta: &std::fs::Metadata) -> bool {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    (meta.uid() == 0 || meta.uid() == me) && meta.mode() & 0o022 == 0
}

/// A path that opens this very file (`/proc/self/fd/N`) while `file` stays open.
pub fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Copies `len` bytes (at most) of `from` into a memfd sealed against any change.
pub fn sealed_copy(mut from: impl Read, len: u64, name: &str) -> io::Result<File> {
    let cname =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: cname is NUL-terminated; the flags are valid for memfd_create.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_memfd_create,
            cname.as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: fd was just created and belongs to nobody else.
    let mut memfd = unsafe { File::from_raw_fd(fd) };
    io::copy(&mut from.by_ref().take(len), &mut memfd)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on a memfd we own, with a valid command and argument.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(memfd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("perf-1.map");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: c is a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert!(open_regular(&fifo, 1 << 20, |_| true).is_none());
        let file = dir.path().join("f");
        std::fs::write(&file, b"0123456789").unwrap();
        assert!(open_regular(&file, 10, |_| true).is_some());
        assert!(open_regular(&file, 9, |_| true).is_none(), "too long");
        assert!(open_regular(&file, 10, |_| false).is_none());
    }

    #[test]
    fn a_sealed_copy_reads_back_and_cannot_change() {
        let copy = sealed_copy(&b"ELF bytes"[..], 100, "test").unwrap();
        let mut back = String::new();
        File::open(fd_path(&copy))
            .unwrap()
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, "ELF bytes");
        assert!(copy.set_len(0).is_err(), "sealed against shrinking");
        assert!(
            std::fs::OpenOptions::new()
                .write(true)
                .open(fd_path(&copy))
                .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"))
                .is_err(),
            "sealed against writing"
        );
    }
}
