//! Everything rogue-hunter reads from procfs, in one place: typed parsers ([`parse`]), the
//! per-pass reader of every process ([`ProcReader`], with held fds and `pread`), the machine-wide
//! files ([`SystemReader`]) and one-shot reads for forensics, metrics and `perms`
//! ([`ProcRoot`]). Readers return raw counters; rates are derived elsewhere, once, for every
//! platform ([`crate::reading`]).
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
//! - A process's `cgroup` is read once, at its first sighting (the unit it belongs to).
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
//! - **Children's CPU**: `cutime + cstime` of `stat` (waited-for children), raw; the sampler
//!   credits it to the parent without counting twice what it saw the children use.
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
//! `pageins` = majflt, `faults` = minflt + majflt, `threads`, `state`, `priority`, `ppid`,
//! `pgid` from `stat` (whole process). `mem` = RssAnon + RssShmem + VmSwap, `mem_peak` = VmHWM,
//! `uid` (effective) from `status`. `disk_io` = read_bytes + write_bytes and `syscalls` =
//! syscr + syscw (read/write-family calls only) from `io`, which needs ptrace access: EACCES/EPERM
//! (another user's process, PID 1 in some containers) make only those fields 0 and are counted
//! (every pass while refused; retried on status passes). `gpu_time` from DRM fdinfo (see
//! `gpu`). `start_time` = boot time (`btime` of `/proc/stat`, read once, since it moves when
//! the wall clock is set) + start ticks. `command` is the kernel's 15-character comm: `cmdline`
//! is never read, because reading it takes the target's mmap lock and can block behind a stuck
//! process.
//!
//! # Robustness
//! A process that exits mid-read is dropped from the pass. A pid whose start time changed is a
//! new process (fresh baselines). Kernel threads (PF_KTHREAD) are read unless
//! `include_kernel_threads = false`, in which case only a liveness probe is kept for them.
//! `Err` from a pass only when the proc root itself cannot be listed. Every file is opened
//! through one function (`sys::openat_raw`) relative to a root opened by another
//! (`sys::open_dir`), and one-shot paths are checked to be plain relative names.

pub mod parse;

#[cfg(target_os = "linux")]
mod files;
#[cfg(target_os = "linux")]
mod gpu;
#[cfg(target_os = "linux")]
mod process;
#[cfg(target_os = "linux")]
mod reader;
#[cfg(target_os = "linux")]
mod root;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(target_os = "linux")]
mod system;
#[cfg(target_os = "linux")]
mod threads;

#[cfg(target_os = "linux")]
pub use reader::{PassStats, ProcReader, ReaderOptions};
#[cfg(target_os = "linux")]
pub use root::{PidStat, ProcRoot};
#[cfg(target_os = "linux")]
pub use sys::clock_ticks_per_second;
#[cfg(target_os = "linux")]
pub use system::{PRESSURE_FILES, SystemReader, SystemReading};

use std::path::PathBuf;

/// Why a proc root cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    /// The proc root cannot be opened or listed.
    #[error("cannot read the process list at {}: {source}", path.display())]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `btime` is missing from `<proc root>/stat`, so start times cannot be computed.
    #[error("cannot read the boot time from {}: {reason}", path.display())]
    BootTime { path: PathBuf, reason: String },
}
