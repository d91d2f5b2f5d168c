//! The Linux sampler: a hand-written procfs reader.
//!
//! No procfs crate: the `procfs` crate opens, reads and closes every file on every call (about
//! 5× the cost of the approach below), and `sysinfo` lacks faults, switches, run delay and peak
//! memory (reference: linux-interfaces §1.3).
//!
//! # How a pass reads
//! - `/proc` is opened once; each pass rewinds it and lists pids with `getdents64` into a reused
//!   buffer.
//! - Per process, `stat`, `schedstat`, `io` and `status` are opened once (relative to the `/proc`
//!   fd, `O_CLOEXEC`) and re-read with `pread` at offset 0. Costs measured on the 2-vCPU test VM
//!   at ~600 processes (µs per file, held fd vs. open+read+close): stat 6.5 vs 9.2, status 10.7
//!   vs 17.0, schedstat 0.8 vs 4.3, io 2.0 vs 8.8. A held fd stays bound to its task: once the
//!   process is reaped it answers ESRCH, so a reused pid is never read through it. Files are
//!   parsed in place from one reused buffer; nothing is allocated per line.
//! - **Only what can have changed is read** (details in `process`): every pass reads each
//!   process's `schedstat` (and its other threads'); a process whose CPU time and switch counts
//!   did not grow has not run, and a process that has not run cannot have changed its faults,
//!   I/O, threads, command, memory or state, so nothing else of it is read. A process that ran
//!   gets `stat` and `io`, and `status` every `[sampler] status_interval_samples` passes
//!   (staggered by pid); a process that has not run is still fully re-read every 10 status
//!   intervals for what others can change (priority, parent, memory reclaimed from it).
//!   Most processes sleep most of the time, so a typical pass costs well under the
//!   one-`stat`-per-process floor (BENCHMARKS.md).
//! - RLIMIT_NOFILE is raised to the hard limit. Held fds (about 4 per process, 2 per extra
//!   thread) are kept within the soft limit minus a reserve for the rest of the daemon; beyond
//!   that, files are opened and closed per read (slower, still correct).
//!
//! # Process-wide values of multi-threaded processes
//! `schedstat` and the switch counts in `status` cover the thread-group leader only, so the
//! leader is read through the process's own files and every other thread through
//! `task/T/schedstat` (0.5–0.8 µs per thread per pass) and `task/T/status` (status passes), on
//! held fds; `task/` is listed again only when `num_threads` changes or a thread's fd reports it
//! gone. Totals are accumulated from per-thread growth, so they never go backwards when threads
//! exit (see `threads`).
//! - **CPU time**: Σ `schedstat` field 1 (on-CPU ns) over threads. Threads that start and end
//!   between two passes are never seen, so whenever `stat` is read, its utime+stime (the
//!   kernel's exact whole-process sum including exited threads, truncated to 10 ms ticks) is
//!   compared with the accumulated growth: beyond two ticks of truncation, the ticks win.
//! - **Context switches** (`csw`) and **run-queue time** (`runnable_time`): Σ `schedstat`
//!   fields 3 (times scheduled = voluntary + involuntary switches) and 2 (run_delay, ns).
//! - **Wakeups** (`wakeups`): Linux has no per-process wakeup counter (nr_wakeups needs
//!   schedstats enabled); the proxy is Σ voluntary switches over threads (each voluntary switch
//!   is a sleep that ends in a wakeup), from `status` on status passes.
//! - Not chosen: the process CPU clock (`clock_gettime` on `MAKE_PROCESS_CPUCLOCK(pid)`) is
//!   exact but costs a syscall per process per pass that `schedstat` + the tick guard make
//!   unnecessary; taskstats (netlink, one round trip per process) sums everything over threads
//!   but needs CAP_NET_ADMIN, which a user daemon lacks.
//!
//! # Other fields
//! `pageins` = majflt, `faults` = minflt + majflt, `threads`, `state`, `priority`, `ppid` from
//! `stat` (whole process). `mem` = RssAnon + RssShmem + VmSwap, `mem_peak` = VmHWM, `uid`
//! (effective) from `status`. `disk_io` = read_bytes + write_bytes and `syscalls` = syscr + syscw
//! (read/write-family calls only) from `io`, which needs ptrace access: EACCES/EPERM (another
//! user's process, PID 1 in some containers) make only those fields 0 and are counted in
//! `Sample::access_denied` (every pass while refused; retried on status passes). `gpu_time` from
//! DRM fdinfo (see `gpu`). `start_time` = boot time (`btime` of `/proc/stat`, read once, since
//! it moves when the wall clock is set) + start ticks. `command` is the kernel's 15-character
//! comm: `cmdline` is never read, because reading it takes the target's mmap lock and can block
//! behind a stuck process. `mach_msgs`, `qos_interactive`, `energy`, `instructions`, `cycles`
//! and `ipc` have no Linux source and are 0.
//!
//! # Robustness
//! A process that exits mid-read is dropped from the pass. A pid whose start time changed is a
//! new process (fresh baselines). Kernel threads (PF_KTHREAD) are sampled unless
//! `include_kernel_threads = false`, in which case only a liveness probe is kept for them.
//! `Err` from a pass only when the proc root itself cannot be listed.

mod files;
mod gpu;
mod parse;
mod process;
mod sys;
mod threads;

#[cfg(test)]
mod tests;

/// Every procfs parser of the sampler on the same bytes, for the fuzz targets (see
/// `crate::fuzzing`): none may panic, whatever a file (or a fake proc tree) holds.
#[doc(hidden)]
pub fn fuzz_parsers(data: &[u8]) {
    if let Some(s) = parse::stat(data) {
        // The command lies between the first '(' and the last ')'.
        assert!(s.comm.len() < data.len());
        let _ = s.is_kernel_thread();
    }
    let _ = parse::schedstat(data);
    let _ = parse::io(data);
    let _ = parse::status(data).mem_bytes();
    let _ = parse::drm_fdinfo(data);
    let _ = parse::boot_time(data);
    let _ = parse::num_i64(data);
}

use crate::config::{BandsConfig, Config, ScoringConfig};
use crate::model::{ProcessScore, Sample};
use crate::sampler::pass::{self, PassInfo};
use crate::sampler::{Sampler, SamplerError};
use files::ReadState;
use process::{Outcome, Proc};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Fds kept free for the rest of the daemon (database, sockets, forensics tools).
const FD_RESERVE_MIN: u64 = 256;

/// Samples every process under a procfs root.
pub struct LinuxSampler {
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
    scoring: ScoringConfig,
    bands: BandsConfig,
    max_count: usize,
}

impl LinuxSampler {
    /// Opens `[sampler] proc_root`, reads the boot time and raises RLIMIT_NOFILE.
    pub fn new(config: &Config) -> Result<LinuxSampler, SamplerError> {
        let root_path = PathBuf::from(&config.sampler.proc_root);
        let root = sys::open_dir(&root_path).map_err(|source| SamplerError::ProcRoot {
            path: root_path.clone(),
            source,
        })?;
        let btime = read_boot_time(&root_path)?;
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
            include_kernel_threads: config.sampler.include_kernel_threads,
            status_every: u64::from(config.sampler.status_interval_samples.max(1)),
            gpu_scan: !live || Path::new("/dev/dri").exists(),
        };
        Ok(LinuxSampler {
            root,
            root_path,
            rs,
            table: Vec::new(),
            spare: Vec::new(),
            pids: Vec::new(),
            seq: 0,
            scoring: config.scoring.clone(),
            bands: config.bands.clone(),
            max_count: config.rogue_selection.max_count as usize,
        })
    }

    /// Processes known to the sampler (sampled or excluded), for memory accounting.
    pub fn tracked_processes(&self) -> usize {
        self.table.len()
    }

    /// Fds the sampler holds open.
    pub fn held_fds(&self) -> usize {
        1 + self.table.iter().map(|p| p.held_fds()).sum::<usize>()
    }
}

impl Sampler for LinuxSampler {
    fn sample(&mut self) -> Result<Sample, SamplerError> {
        let started = Instant::now();
        let LinuxSampler {
            root,
            root_path,
            rs,
            table,
            spare,
            pids,
            seq,
            ..
        } = self;
        pids.clear();
        sys::list_numeric(root, &mut rs.dirents, pids).map_err(|source| {
            SamplerError::ProcRoot {
                path: root_path.clone(),
                source,
            }
        })?;
        pids.sort_unstable();
        pids.dedup();

        *seq += 1;
        rs.seq = *seq;
        rs.denied = 0;
        rs.fds_in_use = 1 + table.iter().map(|p| p.held_fds()).sum::<usize>();

        std::mem::swap(table, spare);
        table.clear();
        let mut out: Vec<ProcessScore> = Vec::with_capacity(pids.len());
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
                match proc.read(root, rs, &mut out) {
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

        let access_denied = rs.denied;
        Ok(pass::finish(
            out,
            PassInfo {
                seq: *seq,
                started,
                access_denied,
                scoring: &self.scoring,
                bands: &self.bands,
                max_count: self.max_count,
            },
        ))
    }
}

/// `btime` from `<root>/stat`.
fn read_boot_time(root: &Path) -> Result<u64, SamplerError> {
    let path = root.join("stat");
    let text = std::fs::read(&path).map_err(|e| SamplerError::BootTime {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    parse::boot_time(&text).ok_or_else(|| SamplerError::BootTime {
        path,
        reason: "no btime line".to_string(),
    })
}
