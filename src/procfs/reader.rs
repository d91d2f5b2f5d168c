//! [`ProcReader`]: every process under a proc root, once per pass, as raw readings.

use super::files::ReadState;
use super::process::{Outcome, Proc};
use super::{ProcfsError, parse, sys};
use crate::reading::ProcessReading;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Fds kept free for the rest of the daemon (database, sockets, forensics tools).
const FD_RESERVE_MIN: u64 = 256;

/// What a reader reads beyond the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Read kernel threads in full (else only a liveness probe is kept for them).
    pub include_kernel_threads: bool,
    /// Read `status` of a process that ran every N passes.
    pub status_interval_samples: u32,
}

/// What one pass saw besides the processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PassStats {
    /// File reads refused with EACCES/EPERM (those fields read as 0).
    pub access_denied: u32,
}

/// Reads every process under a procfs root, keeping its files open between passes.
pub struct ProcReader {
    root: File,
    root_path: PathBuf,
    rs: ReadState,
    /// Known processes, sorted by pid. Boxed on purpose: the table is rebuilt every pass by
    /// moving pointers, and the spare storage costs 8 bytes per process, not a whole `Proc`.
    #[allow(clippy::vec_box)]
    table: Vec<Box<Proc>>,
    /// The previous table's storage, reused.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Proc>>,
    /// Pids listed in this pass.
    pids: Vec<u32>,
    seq: u64,
}

impl ProcReader {
    /// Opens the proc root, reads the boot time and raises RLIMIT_NOFILE.
    pub fn open(root_path: &Path, options: ReaderOptions) -> Result<ProcReader, ProcfsError> {
        let root = sys::open_dir(root_path).map_err(|source| ProcfsError::Root {
            path: root_path.to_path_buf(),
            source,
        })?;
        let btime = read_boot_time(&root, root_path)?;
        let live = sys::is_own_procfs(&root);
        let limit = sys::raise_nofile_limit();
        let reserve = FD_RESERVE_MIN.max(limit / 8);
        let ticks_per_s = sys::clock_ticks_per_second();
        let rs = ReadState {
            buf: vec![0; 4096],
            dirents: Vec::new(),
            scratch: Vec::new(),
            fd_budget: usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX),
            fds_in_use: 0,
            denied: 0,
            opened_by_path: false,
            seq: 0,
            ns_per_tick: 1_000_000_000 / ticks_per_s,
            ticks_per_s,
            btime,
            include_kernel_threads: options.include_kernel_threads,
            status_every: u64::from(options.status_interval_samples.max(1)),
            gpu_scan: !live || Path::new("/dev/dri").exists(),
        };
        Ok(ProcReader {
            root,
            root_path: root_path.to_path_buf(),
            rs,
            table: Vec::new(),
            spare: Vec::new(),
            pids: Vec::new(),
            seq: 0,
        })
    }

    /// The proc root this reader reads.
    pub fn root_path(&self) -> &Path {
        &self.root_path
    }

    /// Processes known to the reader (sampled or excluded), for memory accounting.
    pub fn tracked_processes(&self) -> usize {
        self.table.len()
    }

    /// Caps the fds the reader may hold (tests of the degraded mode).
    #[cfg(test)]
    pub(crate) fn set_fd_budget(&mut self, n: usize) {
        self.rs.fd_budget = n;
    }

    /// Fds the reader holds open.
    pub fn held_fds(&self) -> usize {
        1 + self.table.iter().map(|p| p.held_fds()).sum::<usize>()
    }

    /// One pass: every process readable now, appended to `out` in pid order. A process that
    /// exits mid-read is absent; `Err` only when the root itself cannot be listed.
    pub fn read_all(&mut self, out: &mut Vec<ProcessReading>) -> Result<PassStats, ProcfsError> {
        let ProcReader {
            root,
            root_path,
            rs,
            table,
            spare,
            pids,
            seq,
        } = self;
        pids.clear();
        sys::list_numeric(root, &mut rs.dirents, pids).map_err(|source| ProcfsError::Root {
            path: root_path.clone(),
            source,
        })?;
        pids.sort_unstable();
        pids.dedup();

        *seq += 1;
        rs.seq = *seq;
        rs.denied = 0;
        rs.fds_in_use = 1 + table.iter().map(|p| p.held_fds()).sum::<usize>();

        std::mem::swap(table, spare);
        table.clear();
        out.reserve(pids.len());
        let mut old = spare.drain(..).peekable();
        for &pid in pids.iter() {
            while old.peek().is_some_and(|p| p.pid < pid) {
                old.next();
            }
            let mut known = if old.peek().is_some_and(|p| p.pid == pid) {
                old.next()
            } else {
                None
            };
            // At most two rounds: a known entry, then (if the pid was reused) a fresh one.
            for _ in 0..2 {
                let mut proc = match known.take() {
                    Some(p) => p,
                    None => match Proc::open(root, rs, pid) {
                        Ok(p) => Box::new(p),
                        Err(_) => break,
                    },
                };
                match proc.read(root, rs, out) {
                    Outcome::Sampled | Outcome::Excluded => {
                        table.push(proc);
                        break;
                    }
                    Outcome::Gone => break,
                    Outcome::Replaced => {}
                }
            }
        }
        drop(old);
        Ok(PassStats {
            access_denied: rs.denied,
        })
    }
}

/// `btime` from `<root>/stat`.
fn read_boot_time(root: &File, root_path: &Path) -> Result<u64, ProcfsError> {
    let path = root_path.join("stat");
    let mut buf = vec![0u8; 4096];
    let text = sys::open_at(root, &sys::RelPath::name("stat"), false)
        .and_then(|f| sys::pread_all(&f, &mut buf).map(|n| &buf[..n]))
        .map_err(|e| ProcfsError::BootTime {
            path: path.clone(),
            reason: e.describe().to_string(),
        })?;
    parse::boot_time(text).ok_or_else(|| ProcfsError::BootTime {
        path,
        reason: "no btime line".to_string(),
    })
}
