//! Held procfs files and the per-pass read state shared by every process of a [`super::ProcReader`].
//!
//! A file is opened once per process (or thread) and re-read with `pread` at offset 0 on every
//! pass. A held fd stays bound to the task it was opened for: once that task is reaped it
//! answers ESRCH, so a reused pid can never be read through an old fd.

use super::sys::{self, Fail, RelPath};
use std::fs::File;

/// One procfs file of a process or thread.
#[derive(Debug)]
pub(super) enum Slot {
    /// Open; re-read with `pread`.
    Held(File),
    /// Over the fd budget: opened, read and closed on every read.
    Transient,
    /// Does not exist (kernel without that feature) or unreadable for a reason other than
    /// permission; reads as "no value".
    Absent,
    /// Refused with EACCES/EPERM (the fd, if the refusal came at read time); retried only when
    /// the caller asks (when the process's status pass is due).
    Denied(Option<File>),
}

impl Slot {
    pub(super) fn holds_fd(&self) -> bool {
        matches!(self, Slot::Held(_) | Slot::Denied(Some(_)))
    }
}

/// The task behind a held fd was reaped, or the process vanished between listing and reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Gone;

/// Buffers, counters and settings shared by every read of one sampler.
pub(super) struct ReadState {
    /// File contents (one read at a time).
    pub buf: Vec<u8>,
    /// `getdents64` records.
    pub dirents: Vec<u8>,
    /// Scratch list of numeric directory entries (thread ids, fd numbers).
    pub scratch: Vec<u32>,
    /// Held fds allowed (the soft RLIMIT_NOFILE minus a reserve for the rest of the daemon).
    pub fd_budget: usize,
    /// Held fds now, recounted at the start of each pass and bumped on every open.
    pub fds_in_use: usize,
    /// Refusals (EACCES/EPERM) of files read without being held, this pass. Refused held
    /// files are counted from their `Slot::Denied` state instead.
    pub denied: u32,
    /// A file was opened by path since the last identity check (see `Proc::read`).
    pub opened_by_path: bool,
    /// This pass's number (1-based).
    pub seq: u64,
    /// Nanoseconds per `stat` clock tick.
    pub ns_per_tick: u64,
    /// Ticks per second of `stat` times.
    pub ticks_per_s: u64,
    /// Boot time, epoch seconds, read once (it moves when the wall clock is set).
    pub btime: u64,
    pub include_kernel_threads: bool,
    /// Read `status` every this many passes.
    pub status_every: u64,
    /// Look for DRM fds at all (there is a `/dev/dri`, or the root is a fake tree).
    pub gpu_scan: bool,
}

impl ReadState {
    /// Opens `path` under `dir` to hold it. A vanished process is `Err(Gone)` only when
    /// `required` (its `stat`); other files that do not exist become `Absent`.
    pub(super) fn open(
        &mut self,
        dir: &File,
        path: &RelPath,
        required: bool,
    ) -> Result<Slot, Gone> {
        if self.fds_in_use >= self.fd_budget {
            return Ok(Slot::Transient);
        }
        match sys::open_at(dir, path, false) {
            Ok(f) => {
                self.fds_in_use += 1;
                Ok(Slot::Held(f))
            }
            Err(Fail::NoFds) => Ok(Slot::Transient),
            Err(Fail::Denied) => Ok(Slot::Denied(None)),
            Err(Fail::Gone) => Err(Gone),
            Err(Fail::Absent) if required => Err(Gone),
            Err(Fail::Absent | Fail::Other) => Ok(Slot::Absent),
        }
    }

    /// Reads a slot into `self.buf`. `Ok(Some(n))`: `n` bytes of content; `Ok(None)`: no value
    /// this time (absent, refused, I/O error); `Err(Gone)`: the task is gone.
    ///
    /// `retry_denied` re-attempts a refused file (otherwise the refusal is only counted).
    pub(super) fn read(
        &mut self,
        slot: &mut Slot,
        dir: &File,
        path: impl FnOnce() -> RelPath,
        retry_denied: bool,
    ) -> Result<Option<usize>, Gone> {
        match slot {
            Slot::Held(_) => self.read_held(slot),
            Slot::Transient => {
                self.opened_by_path = true;
                match sys::open_at(dir, &path(), false) {
                    Ok(f) => match sys::pread_all(&f, &mut self.buf) {
                        Ok(n) => Ok(Some(n)),
                        Err(Fail::Gone) => Err(Gone),
                        Err(Fail::Denied) => {
                            self.denied += 1;
                            Ok(None)
                        }
                        Err(_) => Ok(None),
                    },
                    Err(Fail::Gone | Fail::Absent) => Err(Gone),
                    Err(Fail::Denied) => {
                        self.denied += 1;
                        Ok(None)
                    }
                    Err(_) => Ok(None),
                }
            }
            Slot::Absent => Ok(None),
            Slot::Denied(held) => {
                if !retry_denied {
                    return Ok(None);
                }
                if held.is_none() {
                    self.opened_by_path = true;
                    match sys::open_at(dir, &path(), false) {
                        Ok(f) => {
                            self.fds_in_use += 1;
                            *held = Some(f);
                        }
                        Err(Fail::Denied) => return Ok(None),
                        Err(Fail::Gone) => return Err(Gone),
                        Err(_) => return Ok(None),
                    }
                }
                if let Slot::Denied(Some(f)) = std::mem::replace(slot, Slot::Absent) {
                    *slot = Slot::Held(f);
                }
                // Held now: read it (a second refusal turns it back into Denied).
                self.read_held(slot)
            }
        }
    }

    /// Opens, reads into `self.buf` and closes a file read only once (a process's `cgroup`).
    /// `Ok(None)`: absent or unreadable; `Err(Gone)`: the task is gone.
    pub(super) fn read_once(&mut self, dir: &File, path: &RelPath) -> Result<Option<usize>, Gone> {
        self.opened_by_path = true;
        match sys::open_at(dir, path, false) {
            Ok(f) => match sys::pread_all(&f, &mut self.buf) {
                Ok(n) => Ok(Some(n)),
                Err(Fail::Gone) => Err(Gone),
                Err(_) => Ok(None),
            },
            Err(Fail::Gone) => Err(Gone),
            Err(_) => Ok(None),
        }
    }

    /// Reads a `Held` slot; a refusal at read time keeps the fd in `Denied`.
    fn read_held(&mut self, slot: &mut Slot) -> Result<Option<usize>, Gone> {
        let Slot::Held(f) = slot else {
            return Ok(None);
        };
        match sys::pread_all(f, &mut self.buf) {
            Ok(n) => Ok(Some(n)),
            Err(Fail::Gone) => Err(Gone),
            Err(Fail::Denied) => {
                if let Slot::Held(f) = std::mem::replace(slot, Slot::Absent) {
                    *slot = Slot::Denied(Some(f));
                }
                Ok(None)
            }
            Err(_) => Ok(None),
        }
    }
}
