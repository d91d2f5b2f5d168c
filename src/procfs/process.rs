//! Everything the reader keeps about one process between passes, and the reading of one
//! process in one pass (raw counters; rates are the sampler's, see [`crate::reading`]).
//!
//! A known process is read in this order:
//! 1. `schedstat` of the leader and of every known thread (0.5–0.8 µs each). A reaped process
//!    answers ESRCH here and is dropped.
//! 2. If any of them ran since the last pass (CPU time or switch count grew), or on a status
//!    pass: `stat` (state, faults, threads, priority, parent, command, CPU ticks), and if it ran,
//!    `io`. A process that has not run cannot have faulted, done I/O, created threads or
//!    exec'd, so its values stand and its rates are 0 without reading them.
//! 3. Status passes come every `status_interval_samples` passes (staggered by pid): `status` of
//!    the leader and of every thread. A process that has not run since its last status read
//!    cannot have changed its memory, peak or voluntary switches either, so it skips them, except
//!    every [`IDLE_REFRESH_FACTOR`]-th time, for what others can change while it sleeps
//!    (priority, parent, memory reclaimed from it).
//! 4. The fdinfo of its DRM fds, every pass (a GPU works while its client sleeps).
//!
//! 5. Its cgroup v2 path, once, at the first sighting (the unit it belongs to).
//!
//! CPU time is the accumulated Σ of per-thread `schedstat` ns. Threads that lived and died
//! between two passes are never seen, so whenever `stat` is read its utime+stime (the kernel's
//! exact whole-process sum, truncated to clock ticks) is compared with the accumulated growth
//! since the previous `stat` read: if the ticks show more than two ticks of truncation can
//! explain, the tick figure wins.

use super::files::{Gone, ReadState, Slot};
use super::gpu::{self, Gpu, GpuReading};
use super::parse::{self, Io, Status};
use super::sys::{self, RelPath};
use super::threads::Threads;
use crate::model::ProcState;
use crate::reading::{Counters, ProcessReading, Span};
use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

/// A process that has not run is still re-read after this many status intervals.
pub(super) const IDLE_REFRESH_FACTOR: u64 = 10;

/// What reading a process in one pass gave.
pub(super) enum Outcome {
    /// Read; its `ProcessReading` was pushed to the output.
    Sampled,
    /// A kernel thread left out by `include_kernel_threads = false`; kept only to know it.
    Excluded,
    /// Exited (or vanished between listing and reading): forget it.
    Gone,
    /// The pid now belongs to another process (a different start time): start over.
    Replaced,
}

/// The last values read from `stat`.
#[derive(Debug, Clone, Copy, Default)]
struct StatValues {
    state: ProcState,
    ppid: u32,
    pgrp: u32,
    priority: i32,
    num_threads: u32,
    minflt: u64,
    majflt: u64,
    /// utime + stime in ns (whole process, tick resolution).
    ticks_ns: u64,
    /// cutime + cstime in ns: waited-for children.
    child_ns: u64,
}

/// One process, identified by (pid, start ticks).
#[derive(Debug)]
pub(super) struct Proc {
    pub pid: u32,
    start_ticks: u64,
    start_time: f64,
    /// Read at least once (identity known).
    known: bool,
    command: String,
    kernel_thread: bool,
    excluded: bool,
    /// cgroup v2 path, read at the first sighting (`None` in the root or without cgroup v2).
    group: Option<Arc<str>>,
    stat: Slot,
    schedstat: Slot,
    io: Slot,
    status: Slot,
    threads: Threads,
    gpu: Gpu,
    next_status: u64,
    /// Status pass at which even a process that has not run is re-read.
    next_idle_refresh: u64,
    /// It ran since its last status read.
    ran_since_status: bool,
    next_gpu_scan: u64,
    st: StatValues,
    /// `ticks_ns` and the accumulated CPU total at the last `stat` read (the tick guard).
    cpu_at_stat: Option<(u64, u64)>,
    io_now: Option<Io>,
    /// Accumulated GPU growth (clients seen at two readings), a monotonic counter.
    gpu_ns: u64,
    /// Counters at the previous pass.
    prev: Option<(Instant, Counters)>,
    // Values from `status`, kept between status passes.
    uid: u32,
    mem: u64,
    mem_peak: u64,
    /// Voluntary switches at the last two status reads (the wakeups proxy).
    voluntary_prev: Option<(Instant, u64)>,
    voluntary_cur: Option<(Instant, u64)>,
}

impl Proc {
    /// Opens the files of a newly listed pid. `stat` is read only after all of them are open
    /// (in [`Proc::read`]): if it still reads then, every file opened before belongs to the
    /// same process, because a pid is only reused after its process is reaped.
    pub(super) fn open(root: &File, rs: &mut ReadState, pid: u32) -> Result<Proc, Gone> {
        let stat = rs.open(root, &RelPath::pid(pid, "stat"), true)?;
        if matches!(stat, Slot::Denied(_) | Slot::Absent) {
            // Without `stat` there is no identity to key anything on (hidepid, an LSM): the
            // process is left out, and a refusal is counted.
            if matches!(stat, Slot::Denied(_)) {
                rs.denied += 1;
            }
            return Err(Gone);
        }
        let schedstat = rs.open(root, &RelPath::pid(pid, "schedstat"), false)?;
        let io = rs.open(root, &RelPath::pid(pid, "io"), false)?;
        let status = rs.open(root, &RelPath::pid(pid, "status"), false)?;
        Ok(Proc {
            pid,
            start_ticks: 0,
            start_time: 0.0,
            known: false,
            command: String::new(),
            kernel_thread: false,
            excluded: false,
            group: None,
            stat,
            schedstat,
            io,
            status,
            threads: Threads::default(),
            gpu: Gpu::default(),
            next_status: 0,
            next_idle_refresh: 0,
            ran_since_status: false,
            next_gpu_scan: 0,
            st: StatValues::default(),
            cpu_at_stat: None,
            io_now: None,
            gpu_ns: 0,
            prev: None,
            uid: 0,
            mem: 0,
            mem_peak: 0,
            voluntary_prev: None,
            voluntary_cur: None,
        })
    }

    /// Fds this process holds.
    pub(super) fn held_fds(&self) -> usize {
        [&self.stat, &self.schedstat, &self.io, &self.status]
            .iter()
            .filter(|s| s.holds_fd())
            .count()
            + self.threads.held_fds()
            + self.gpu.held_fds()
    }

    /// Files of this process refused with EACCES/EPERM (their fields read as 0).
    fn denied_files(&self) -> u32 {
        let denied = |s: &Slot| u32::from(matches!(s, Slot::Denied(_)));
        denied(&self.schedstat)
            + denied(&self.io)
            + denied(&self.status)
            + self.threads.denied_files()
            + self.gpu.denied_files()
    }

    /// Reads the process for this pass, pushing its reading to `out` when sampled.
    pub(super) fn read(
        &mut self,
        root: &File,
        rs: &mut ReadState,
        out: &mut Vec<ProcessReading>,
    ) -> Outcome {
        match self.read_inner(root, rs, out) {
            Ok(o) => o,
            Err(Gone) => Outcome::Gone,
        }
    }

    fn read_inner(
        &mut self,
        root: &File,
        rs: &mut ReadState,
        out: &mut Vec<ProcessReading>,
    ) -> Result<Outcome, Gone> {
        let pid = self.pid;
        let seq = rs.seq;
        if self.excluded {
            return self.check_alive(root, rs).map(|()| Outcome::Excluded);
        }
        rs.opened_by_path = false;
        let first = !self.known;
        let status_due = first || seq >= self.next_status;
        let at = Instant::now();

        if first {
            if !self.read_stat(root, rs)? {
                return Ok(Outcome::Replaced);
            }
            self.next_status = seq + 1 + u64::from(pid) % rs.status_every;
            self.next_gpu_scan = seq + 1 + u64::from(pid) % gpu::RESCAN_PASSES;
            if self.excluded {
                // Only a liveness probe is needed from now on.
                self.io = Slot::Absent;
                self.status = Slot::Absent;
                return Ok(Outcome::Excluded);
            }
            if !self.kernel_thread {
                self.group = rs
                    .read_once(root, &RelPath::pid(pid, "cgroup"))?
                    .and_then(|n| parse::cgroup_v2(&rs.buf[..n]))
                    .map(|p| Arc::from(String::from_utf8_lossy(p).as_ref()));
            }
        }

        // 1. Did it run?
        let before = self.threads.totals;
        let leader = rs
            .read(
                &mut self.schedstat,
                root,
                || RelPath::pid(pid, "schedstat"),
                status_due,
            )?
            .and_then(|n| parse::schedstat(&rs.buf[..n]));
        let have_sched = leader.is_some();
        self.threads.read_sched(rs, leader, status_due);
        let after = self.threads.totals;
        let ran = first
            || !have_sched
            || after.cpu_ns != before.cpu_ns
            || after.csw != before.csw
            || self.threads.partial_view();
        self.ran_since_status |= ran;
        let status_pass =
            status_due && (first || self.ran_since_status || seq >= self.next_idle_refresh);
        if status_due && !first {
            // (A first sighting keeps the staggered schedule set above.)
            self.next_status = seq + rs.status_every;
        }

        // 2. What it changed.
        let stat_read = first || ran || status_pass;
        if !first && stat_read && !self.read_stat(root, rs)? {
            return Ok(Outcome::Replaced);
        }
        self.threads.sync(root, rs, pid, self.st.num_threads);
        if stat_read {
            self.guard_cpu_with_ticks(rs.ns_per_tick, have_sched);
        }
        // A refused file is retried whenever the process's status pass is due.
        if first || ran || (status_due && matches!(self.io, Slot::Denied(_))) {
            self.io_now = rs
                .read(&mut self.io, root, || RelPath::pid(pid, "io"), status_due)?
                .and_then(|n| parse::io(&rs.buf[..n]));
        }

        // 3. Status.
        let status: Option<Status> = if status_pass {
            self.ran_since_status = false;
            self.next_idle_refresh = seq + rs.status_every * IDLE_REFRESH_FACTOR;
            let s = rs
                .read(&mut self.status, root, || RelPath::pid(pid, "status"), true)?
                .map(|n| parse::status(&rs.buf[..n]));
            self.threads
                .read_voluntary(rs, s.map(|s| s.voluntary_switches));
            s
        } else {
            None
        };

        // 4. GPU.
        let mut gpu = GpuReading::default();
        if rs.gpu_scan {
            if first || seq >= self.next_gpu_scan {
                if !first {
                    self.next_gpu_scan = seq + gpu::RESCAN_PASSES;
                }
                self.gpu.scan(root, rs, pid)?;
            }
            gpu = self.gpu.read(root, rs, pid)?;
        }

        if rs.opened_by_path {
            // Something was opened by path after `stat` was first read: confirm the pid still
            // names the same process before trusting what was read through it.
            self.check_alive(root, rs)?;
        }

        self.apply_status(status_pass, status, at);
        let p = self.reading(at, gpu);
        out.push(p);
        rs.denied += self.denied_files();
        Ok(Outcome::Sampled)
    }

    /// Reads `stat` into `self.st`. `Ok(false)`: the pid now has another start time.
    fn read_stat(&mut self, root: &File, rs: &mut ReadState) -> Result<bool, Gone> {
        let pid = self.pid;
        let n = rs
            .read(&mut self.stat, root, || RelPath::pid(pid, "stat"), true)?
            .ok_or(Gone)?;
        let st = parse::stat(&rs.buf[..n]).ok_or(Gone)?;
        if !self.known {
            self.known = true;
            self.start_ticks = st.starttime;
            self.start_time = rs.btime as f64 + st.starttime as f64 / rs.ticks_per_s as f64;
            self.kernel_thread = st.is_kernel_thread();
            self.excluded = self.kernel_thread && !rs.include_kernel_threads;
        } else if st.starttime != self.start_ticks {
            return Ok(false);
        }
        if self.command.as_bytes() != st.comm {
            self.command = String::from_utf8_lossy(st.comm).into_owned();
        }
        self.st = StatValues {
            state: ProcState::from_linux_code(st.state),
            ppid: st.ppid,
            pgrp: st.pgrp,
            priority: i32::try_from(st.priority).unwrap_or(0),
            num_threads: st.num_threads,
            minflt: st.minflt,
            majflt: st.majflt,
            ticks_ns: st
                .utime
                .saturating_add(st.stime)
                .saturating_mul(rs.ns_per_tick),
            child_ns: st
                .cutime
                .saturating_add(st.cstime)
                .saturating_mul(rs.ns_per_tick),
        };
        Ok(true)
    }

    /// Corrects the accumulated CPU total with `stat` ticks when threads never seen ran (or
    /// there is no `schedstat` at all).
    fn guard_cpu_with_ticks(&mut self, ns_per_tick: u64, have_sched: bool) {
        let ticks = self.st.ticks_ns;
        let total = &mut self.threads.totals.cpu_ns;
        if let Some((ticks0, total0)) = self.cpu_at_stat {
            let by_ticks = ticks.saturating_sub(ticks0);
            let by_threads = total.saturating_sub(total0);
            // utime and stime are each truncated to a tick: up to two ticks of difference are noise.
            if !have_sched || by_ticks > by_threads + 2 * ns_per_tick {
                *total = total0 + by_ticks;
            }
        }
        self.cpu_at_stat = Some((ticks, *total));
    }

    /// Memory, uid and the voluntary-switch readings from a status pass.
    fn apply_status(&mut self, status_pass: bool, status: Option<Status>, at: Instant) {
        if !status_pass {
            return;
        }
        match status {
            Some(s) => {
                if let Some(uid) = s.euid {
                    self.uid = uid;
                }
                self.mem = s.mem_bytes();
                self.mem_peak = s.vm_hwm_kb.saturating_mul(1024);
                self.voluntary_prev = self.voluntary_cur;
                self.voluntary_cur = Some((at, self.threads.totals.voluntary));
            }
            None => {
                self.mem = 0;
                self.mem_peak = 0;
                self.voluntary_prev = None;
                self.voluntary_cur = None;
            }
        }
    }

    /// This pass's reading: current values, cumulative counters and the previous pass's.
    fn reading(&mut self, at: Instant, gpu: GpuReading) -> ProcessReading {
        let t = self.threads.totals;
        let st = self.st;
        if self.prev.is_some() {
            self.gpu_ns = self.gpu_ns.saturating_add(gpu.delta_ns);
        }
        let now = Counters {
            cpu_ns: t.cpu_ns,
            child_cpu_ns: st.child_ns,
            pageins: st.majflt,
            faults: st.minflt.saturating_add(st.majflt),
            disk_io: self.io_now.map(|i| i.disk_bytes),
            syscalls: self.io_now.map(|i| i.rw_syscalls),
            csw: t.csw,
            // `status` is read after `schedstat` in a pass, so a thread switching fast can show
            // a few more voluntary switches than all switches read a moment earlier; voluntary
            // switches are a subset by definition.
            wakeups: t.voluntary.min(t.csw),
            runnable_ns: t.runq_ns,
            gpu_ns: self.gpu_ns,
            ..Counters::default()
        };
        let prev = self
            .prev
            .replace((at, now))
            .map(|(t0, c)| (c, at.duration_since(t0).as_secs_f64()));
        let wakeups_span = match (self.voluntary_prev, self.voluntary_cur) {
            (Some((t0, v0)), Some((t1, v1))) => Some(Span {
                prev: v0,
                cur: v1,
                elapsed_s: t1.duration_since(t0).as_secs_f64(),
            }),
            _ => Some(Span {
                prev: 0,
                cur: 0,
                elapsed_s: 0.0,
            }),
        };
        ProcessReading {
            pid: self.pid,
            ppid: st.ppid,
            pgid: st.pgrp,
            uid: self.uid,
            command: self.command.clone(),
            start_time: self.start_time,
            state: st.state,
            priority: st.priority,
            threads: st.num_threads,
            kernel_thread: self.kernel_thread,
            mem: self.mem,
            mem_peak: self.mem_peak,
            gpu_time: gpu.total_ns,
            group: self.group.clone(),
            now,
            prev,
            wakeups_span,
            ..ProcessReading::default()
        }
    }

    /// Confirms the process is still the one first read: its held `schedstat` still reads (a
    /// reaped task answers ESRCH), or else `stat` shows the same start time.
    fn check_alive(&mut self, root: &File, rs: &mut ReadState) -> Result<(), Gone> {
        let pid = self.pid;
        if let Slot::Held(f) = &self.schedstat {
            return match sys::pread_all(f, &mut rs.buf) {
                Err(sys::Fail::Gone) => Err(Gone),
                _ => Ok(()),
            };
        }
        let n = rs
            .read(&mut self.stat, root, || RelPath::pid(pid, "stat"), true)?
            .ok_or(Gone)?;
        match parse::stat(&rs.buf[..n]) {
            Some(st) if st.starttime == self.start_ticks => Ok(()),
            _ => Err(Gone),
        }
    }
}
