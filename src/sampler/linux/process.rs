//! Everything the sampler keeps about one process between passes, and the reading of one
//! process in one pass.

use super::files::{Gone, ReadState, Slot};
use super::gpu::{self, Gpu, GpuReading};
use super::parse::{self, Schedstat, Status};
use super::sys::{self, RelPath};
use super::threads::{LeaderReading, Threads};
use crate::model::{ProcState, ProcessScore};
use crate::sampler::pass::{rate, wall_now};
use std::fs::File;
use std::time::Instant;

/// What reading a process in one pass gave.
pub(super) enum Outcome {
    /// Read; its `ProcessScore` was pushed to the output.
    Sampled,
    /// A kernel thread left out by `include_kernel_threads = false`; kept only to know it.
    Excluded,
    /// Exited (or vanished between listing and reading): forget it.
    Gone,
    /// The pid now belongs to another process (a different start time): start over.
    Replaced,
}

/// Previous per-pass counters, for rates.
#[derive(Debug, Clone, Copy)]
struct Baseline {
    at: Instant,
    cpu_ns: u64,
    majflt: u64,
    faults: u64,
    disk_io: Option<u64>,
    syscalls: Option<u64>,
    csw: u64,
    runq_ns: u64,
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
    excluded: bool,
    /// CPU time from the process CPU clock (ns, whole process) rather than `stat` ticks.
    cpu_clock: bool,
    stat: Slot,
    schedstat: Slot,
    io: Slot,
    status: Slot,
    threads: Threads,
    gpu: Gpu,
    next_status: u64,
    next_gpu_scan: u64,
    prev: Option<Baseline>,
    // Values from `status`, kept between status passes.
    uid: u32,
    mem: u64,
    mem_peak: u64,
    wakeups_rate: f64,
    prev_voluntary: Option<(Instant, u64)>,
}

impl Proc {
    /// Opens the files of a newly listed pid. `stat` is opened first and read last (in
    /// [`Proc::read`]): if it still reads then, every file opened before belongs to the same
    /// process, because a pid is only reused after its process is reaped.
    pub(super) fn open(root: &File, rs: &mut ReadState, pid: u32) -> Result<Proc, Gone> {
        let stat = rs.open(root, &RelPath::pid(pid, "stat"), true)?;
        if matches!(stat, Slot::Denied(_) | Slot::Absent) {
            // Without `stat` there is no identity to key anything on.
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
            excluded: false,
            cpu_clock: false,
            stat,
            schedstat,
            io,
            status,
            threads: Threads::default(),
            gpu: Gpu::default(),
            next_status: 0,
            next_gpu_scan: 0,
            prev: None,
            uid: 0,
            mem: 0,
            mem_peak: 0,
            wakeups_rate: 0.0,
            prev_voluntary: None,
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

    /// Reads the process for this pass, pushing its `ProcessScore` to `out` when sampled.
    pub(super) fn read(
        &mut self,
        root: &File,
        rs: &mut ReadState,
        out: &mut Vec<ProcessScore>,
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
        out: &mut Vec<ProcessScore>,
    ) -> Result<Outcome, Gone> {
        let pid = self.pid;
        let seq = rs.seq;
        if self.excluded {
            return self.check_alive(root, rs).map(|()| Outcome::Excluded);
        }
        rs.opened_by_path = false;
        let first = !self.known;
        let status_pass = first || seq >= self.next_status;

        // The clock is read before `stat`: `stat` still reading afterwards proves the pid was
        // not reused in between.
        let at = Instant::now();
        let clock_ns = if rs.live && (first || self.cpu_clock) {
            sys::process_cpu_ns(pid)
        } else {
            None
        };

        let n = rs
            .read(&mut self.stat, root, || RelPath::pid(pid, "stat"), true)?
            .ok_or(Gone)?;
        let st = parse::stat(&rs.buf[..n]).ok_or(Gone)?;
        if first {
            self.known = true;
            self.start_ticks = st.starttime;
            self.start_time = rs.btime as f64 + st.starttime as f64 / rs.ticks_per_s as f64;
            self.cpu_clock = clock_ns.is_some();
            self.next_status = seq + 1 + u64::from(pid) % rs.status_every;
            self.next_gpu_scan = seq + 1 + u64::from(pid) % gpu::RESCAN_PASSES;
            if st.is_kernel_thread() && !rs.include_kernel_threads {
                self.excluded = true;
                // Only a liveness probe is needed from now on.
                self.io = Slot::Absent;
                self.status = Slot::Absent;
                return Ok(Outcome::Excluded);
            }
        } else if st.starttime != self.start_ticks {
            return Ok(Outcome::Replaced);
        }
        if self.command.as_bytes() != st.comm {
            self.command = String::from_utf8_lossy(st.comm).into_owned();
        }
        let state = ProcState::from_linux_code(st.state);
        let (ppid, priority, num_threads) = (st.ppid, st.priority, st.num_threads);
        let (minflt, majflt) = (st.minflt, st.majflt);
        let tick_cpu_ns = st
            .utime
            .saturating_add(st.stime)
            .saturating_mul(rs.ns_per_tick);
        let cpu_ns = if self.cpu_clock {
            clock_ns.unwrap_or_else(|| self.prev.map_or(0, |p| p.cpu_ns))
        } else {
            tick_cpu_ns
        };

        let sched: Option<Schedstat> = rs
            .read(
                &mut self.schedstat,
                root,
                || RelPath::pid(pid, "schedstat"),
                status_pass,
            )?
            .and_then(|n| parse::schedstat(&rs.buf[..n]));
        let io = rs
            .read(&mut self.io, root, || RelPath::pid(pid, "io"), status_pass)?
            .and_then(|n| parse::io(&rs.buf[..n]));
        let status: Option<Status> = if status_pass {
            if !first {
                // (A first sighting keeps the staggered schedule set above.)
                self.next_status = seq + rs.status_every;
            }
            rs.read(&mut self.status, root, || RelPath::pid(pid, "status"), true)?
                .map(|n| parse::status(&rs.buf[..n]))
        } else {
            None
        };

        self.threads.update(
            root,
            rs,
            pid,
            LeaderReading {
                num_threads,
                sched,
                voluntary: status.map(|s| s.voluntary_switches),
                status_pass,
            },
        );

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
            // Something was opened by path after `stat` was read: confirm the pid still names
            // the same process before trusting what was read through it.
            self.check_alive(root, rs)?;
        }

        // Rates against the previous pass of this process.
        let dt = self
            .prev
            .map_or(0.0, |p| at.duration_since(p.at).as_secs_f64());
        let prev = self.prev;
        let faults = minflt.saturating_add(majflt);
        let disk_io = io.map(|i| i.disk_bytes);
        let syscalls = io.map(|i| i.rw_syscalls);
        let (csw, runq_ns) = (self.threads.csw, self.threads.runq_ns);
        let r = |f: fn(&Baseline) -> u64, cur: u64| prev.map_or(0.0, |p| rate(f(&p), cur, dt));
        let opt_rate = |f: fn(&Baseline) -> Option<u64>, cur: Option<u64>| match (
            prev.and_then(|p| f(&p)),
            cur,
        ) {
            (Some(a), Some(b)) => rate(a, b, dt),
            _ => 0.0,
        };
        let cpu = r(|p| p.cpu_ns, cpu_ns) / 1e9 * 100.0;
        let pageins_rate = r(|p| p.majflt, majflt);
        let faults_rate = r(|p| p.faults, faults);
        let disk_io_rate = opt_rate(|p| p.disk_io, disk_io);
        let syscalls_rate = opt_rate(|p| p.syscalls, syscalls);
        let csw_rate = r(|p| p.csw, csw);
        let runnable_time_rate = r(|p| p.runq_ns, runq_ns) / 1e6;
        let gpu_time_rate = if prev.is_some() && dt > 0.0 {
            gpu.delta_ns as f64 / 1e6 / dt
        } else {
            0.0
        };
        self.prev = Some(Baseline {
            at,
            cpu_ns,
            majflt,
            faults,
            disk_io,
            syscalls,
            csw,
            runq_ns,
        });

        if status_pass {
            match status {
                Some(s) => {
                    if let Some(uid) = s.euid {
                        self.uid = uid;
                    }
                    self.mem = s.mem_bytes();
                    self.mem_peak = s.vm_hwm_kb.saturating_mul(1024);
                    let v = self.threads.voluntary;
                    self.wakeups_rate = match self.prev_voluntary {
                        Some((t0, v0)) => rate(v0, v, at.duration_since(t0).as_secs_f64()),
                        None => 0.0,
                    };
                    self.prev_voluntary = Some((at, v));
                }
                None => {
                    self.mem = 0;
                    self.mem_peak = 0;
                    self.wakeups_rate = 0.0;
                    self.prev_voluntary = None;
                }
            }
        }

        out.push(ProcessScore {
            pid,
            command: self.command.clone(),
            captured_at: wall_now(),
            cpu,
            mem: self.mem,
            mem_peak: self.mem_peak,
            pageins: majflt,
            pageins_rate,
            faults,
            faults_rate,
            disk_io: disk_io.unwrap_or(0),
            disk_io_rate,
            csw,
            csw_rate,
            syscalls: syscalls.unwrap_or(0),
            syscalls_rate,
            threads: num_threads,
            wakeups: self.threads.voluntary,
            wakeups_rate: self.wakeups_rate,
            runnable_time: runq_ns,
            runnable_time_rate,
            gpu_time: gpu.total_ns,
            gpu_time_rate,
            state,
            priority: i32::try_from(priority).unwrap_or(0),
            ppid,
            uid: self.uid,
            start_time: self.start_time,
            ..ProcessScore::default()
        });
        Ok(Outcome::Sampled)
    }

    /// Confirms the process is still the one first read: its held liveness fd still reads
    /// (`schedstat`, cheapest, else `stat`) and, when `stat` has to be read, shows the same
    /// start time.
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
