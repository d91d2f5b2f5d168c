//! Process-wide CPU time, context switches, run-queue time and voluntary switches (the wakeups
//! proxy), summed over threads.
//!
//! The kernel keeps these per thread; `/proc/P/schedstat` and the switch lines of
//! `/proc/P/status` describe the thread-group leader only. So the leader is read through the
//! process's own held files and every other thread through `task/T/schedstat` (each pass) and
//! `task/T/status` (status passes), with fds held per thread.
//!
//! Totals are *accumulated*: each thread adds the growth of its counters since it was last read,
//! and a thread seen for the first time adds its whole count (it started after the previous
//! reading of this process, or this is the process's first sighting). A thread that exits takes
//! only its last partial interval with it, so the totals never go backwards when threads come
//! and go (the CPU total is corrected from `stat` for threads never seen, see `process`).
//! `task/` is listed again only when `num_threads` differs from the threads known or a thread's
//! fd reported it gone.

use super::files::{Gone, ReadState, Slot};
use super::parse::{self, Schedstat};
use super::sys::{self, RelPath};
use std::fs::File;

/// Last readings of one thread.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    cpu_ns: u64,
    pcount: u64,
    run_delay: u64,
    voluntary: u64,
    sched_seen: bool,
    voluntary_seen: bool,
}

/// Accumulated totals of a process.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Totals {
    /// Σ on-CPU ns.
    pub cpu_ns: u64,
    /// Σ times scheduled (= voluntary + involuntary switches).
    pub csw: u64,
    /// Σ run-queue wait, ns.
    pub runq_ns: u64,
    /// Σ voluntary switches (grows only on status passes).
    pub voluntary: u64,
}

impl Counters {
    fn add_sched(&mut self, s: Schedstat, t: &mut Totals) {
        let grow =
            |new: u64, old: u64, seen: bool| if seen { new.saturating_sub(old) } else { new };
        t.cpu_ns += grow(s.cpu_ns, self.cpu_ns, self.sched_seen);
        t.csw += grow(s.pcount, self.pcount, self.sched_seen);
        t.runq_ns += grow(s.run_delay_ns, self.run_delay, self.sched_seen);
        self.sched_seen = true;
        self.cpu_ns = s.cpu_ns;
        self.pcount = s.pcount;
        self.run_delay = s.run_delay_ns;
    }

    fn add_voluntary(&mut self, v: u64, t: &mut Totals) {
        t.voluntary += if self.voluntary_seen {
            v.saturating_sub(self.voluntary)
        } else {
            v
        };
        self.voluntary_seen = true;
        self.voluntary = v;
    }
}

/// A thread other than the leader.
#[derive(Debug)]
struct Thread {
    tid: u32,
    schedstat: Slot,
    status: Slot,
    c: Counters,
    /// Its fd reported the thread gone; removed after the pass's reads.
    gone: bool,
}

/// The threads of one process and its accumulated totals.
#[derive(Debug, Default)]
pub(super) struct Threads {
    /// `task/`, held while the process has more than one thread.
    task_dir: Option<File>,
    /// Non-leader threads, sorted by tid.
    list: Vec<Thread>,
    leader: Counters,
    pub totals: Totals,
    /// List `task/` again (a thread's fd said it is gone).
    relist: bool,
    /// Some thread is not being read (over the fd budget, unreadable): activity cannot be
    /// judged from the threads seen.
    incomplete: bool,
    /// `num_threads` at the last `sync`.
    expected: u32,
}

impl Threads {
    /// Fds held for threads.
    pub(super) fn held_fds(&self) -> usize {
        usize::from(self.task_dir.is_some())
            + self
                .list
                .iter()
                .map(|t| usize::from(t.schedstat.holds_fd()) + usize::from(t.status.holds_fd()))
                .sum::<usize>()
    }

    /// Files refused with EACCES/EPERM.
    pub(super) fn denied_files(&self) -> u32 {
        let denied = |s: &Slot| u32::from(matches!(s, Slot::Denied(_)));
        self.list
            .iter()
            .map(|t| denied(&t.schedstat) + denied(&t.status))
            .sum()
    }

    /// Whether the thread set may have changed since the last listing, or some thread is not
    /// read at all: either way the threads seen do not tell whether the process ran.
    pub(super) fn partial_view(&self) -> bool {
        self.relist || self.incomplete
    }

    /// Step 1 of a pass: the leader's `schedstat` (read by the caller) and every known thread's.
    pub(super) fn read_sched(
        &mut self,
        rs: &mut ReadState,
        leader: Option<Schedstat>,
        retry: bool,
    ) {
        if let Some(s) = leader {
            self.leader.add_sched(s, &mut self.totals);
        }
        let mut unread = false;
        if let Some(dir) = self.task_dir.as_ref() {
            for t in &mut self.list {
                let tid = t.tid;
                match rs.read(
                    &mut t.schedstat,
                    dir,
                    || RelPath::pid(tid, "schedstat"),
                    retry,
                ) {
                    Ok(Some(n)) => match parse::schedstat(&rs.buf[..n]) {
                        Some(s) => t.c.add_sched(s, &mut self.totals),
                        None => unread = true,
                    },
                    Ok(None) => unread = true,
                    Err(Gone) => {
                        t.gone = true;
                        self.relist = true;
                    }
                }
            }
        }
        self.list.retain(|t| !t.gone);
        self.incomplete = unread || self.expected as usize > self.list.len() + 1;
    }

    /// Step 2: when `num_threads` (from `stat`) disagrees with the threads known, or a thread
    /// went away, list `task/` again; new threads are opened and read at once.
    pub(super) fn sync(&mut self, root: &File, rs: &mut ReadState, pid: u32, num_threads: u32) {
        self.expected = num_threads;
        if num_threads <= 1 && self.list.is_empty() {
            self.task_dir = None;
            self.relist = false;
            return;
        }
        if !self.relist && num_threads as usize == self.list.len() + 1 {
            return;
        }
        self.relist = false;
        self.relist_threads(root, rs, pid);
        // Threads that could not be listed or opened stay invisible until the next listing.
        self.incomplete |= num_threads as usize > self.list.len() + 1;
    }

    fn relist_threads(&mut self, root: &File, rs: &mut ReadState, pid: u32) {
        if self.task_dir.is_none() {
            if rs.fds_in_use >= rs.fd_budget {
                // Over the fd budget only the leader is counted (a documented degraded mode).
                return;
            }
            match sys::open_at(root, &RelPath::pid(pid, "task"), true) {
                Ok(f) => {
                    rs.fds_in_use += 1;
                    rs.opened_by_path = true;
                    self.task_dir = Some(f);
                }
                Err(_) => return,
            }
        }
        let Some(dir) = self.task_dir.as_ref() else {
            return;
        };
        let mut tids = std::mem::take(&mut rs.scratch);
        tids.clear();
        if sys::list_numeric(dir, &mut rs.dirents, &mut tids).is_ok() {
            tids.retain(|&t| t != pid);
            tids.sort_unstable();
            let mut old = std::mem::take(&mut self.list).into_iter().peekable();
            let mut merged = Vec::with_capacity(tids.len());
            for &tid in &tids {
                while old.peek().is_some_and(|t| t.tid < tid) {
                    old.next();
                }
                if let Some(t) = old.next_if(|t| t.tid == tid) {
                    merged.push(t);
                    continue;
                }
                let (Ok(mut schedstat), Ok(status)) = (
                    rs.open(dir, &RelPath::pid(tid, "schedstat"), false),
                    rs.open(dir, &RelPath::pid(tid, "status"), false),
                ) else {
                    continue;
                };
                let mut c = Counters::default();
                match rs.read(
                    &mut schedstat,
                    dir,
                    || RelPath::pid(tid, "schedstat"),
                    false,
                ) {
                    Ok(Some(n)) => {
                        if let Some(s) = parse::schedstat(&rs.buf[..n]) {
                            c.add_sched(s, &mut self.totals);
                        }
                    }
                    Ok(None) => {}
                    Err(Gone) => continue,
                }
                merged.push(Thread {
                    tid,
                    schedstat,
                    status,
                    c,
                    gone: false,
                });
            }
            self.list = merged;
        }
        rs.scratch = tids;
    }

    /// Step 3, on status passes: voluntary switches of the leader (read by the caller) and of
    /// every other thread.
    pub(super) fn read_voluntary(&mut self, rs: &mut ReadState, leader: Option<u64>) {
        if let Some(v) = leader {
            self.leader.add_voluntary(v, &mut self.totals);
        }
        let Some(dir) = self.task_dir.as_ref() else {
            return;
        };
        for t in &mut self.list {
            let tid = t.tid;
            match rs.read(&mut t.status, dir, || RelPath::pid(tid, "status"), true) {
                Ok(Some(n)) => {
                    let v = parse::status(&rs.buf[..n]).voluntary_switches;
                    t.c.add_voluntary(v, &mut self.totals);
                }
                Ok(None) => {}
                Err(Gone) => {
                    t.gone = true;
                    self.relist = true;
                }
            }
        }
        self.list.retain(|t| !t.gone);
    }
}
