//! Process-wide context switches, voluntary switches (the wakeups proxy) and run-queue time.
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
//! and go. `task/` is listed again only when `num_threads` differs from the threads known or a
//! thread's fd reported it gone.

use super::files::{Gone, ReadState, Slot};
use super::parse::{self, Schedstat};
use super::sys::{self, RelPath};
use std::fs::File;

/// Last readings of one thread.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    pcount: u64,
    run_delay: u64,
    voluntary: u64,
    sched_seen: bool,
    voluntary_seen: bool,
}

impl Counters {
    fn add_sched(&mut self, s: Schedstat, csw: &mut u64, runq: &mut u64) {
        if self.sched_seen {
            *csw += s.pcount.saturating_sub(self.pcount);
            *runq += s.run_delay_ns.saturating_sub(self.run_delay);
        } else {
            *csw += s.pcount;
            *runq += s.run_delay_ns;
            self.sched_seen = true;
        }
        self.pcount = s.pcount;
        self.run_delay = s.run_delay_ns;
    }

    fn add_voluntary(&mut self, v: u64, total: &mut u64) {
        *total += if self.voluntary_seen {
            v.saturating_sub(self.voluntary)
        } else {
            v
        };
        self.voluntary_seen = true;
        self.voluntary = v;
    }
}

/// What the process's own files said this pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct LeaderReading {
    /// `num_threads` from `stat`.
    pub num_threads: u32,
    /// The leader's `schedstat`.
    pub sched: Option<Schedstat>,
    /// The leader's voluntary switches (status passes only).
    pub voluntary: Option<u64>,
    pub status_pass: bool,
}

/// A thread other than the leader.
#[derive(Debug)]
struct Thread {
    tid: u32,
    schedstat: Slot,
    status: Slot,
    c: Counters,
}

/// The threads of one process and its accumulated totals.
#[derive(Debug, Default)]
pub(super) struct Threads {
    /// `task/`, held while the process has more than one thread.
    task_dir: Option<File>,
    /// Non-leader threads, sorted by tid.
    list: Vec<Thread>,
    leader: Counters,
    /// Σ times scheduled (= voluntary + involuntary switches).
    pub csw: u64,
    /// Σ run-queue wait, ns.
    pub runq_ns: u64,
    /// Σ voluntary switches (grows only on status passes).
    pub voluntary: u64,
    /// List `task/` again on the next pass.
    relist: bool,
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

    /// Adds this pass's readings. The leader's come from the process's own files; other
    /// threads are read here. On a status pass voluntary switches are read too (and refusals
    /// retried).
    pub(super) fn update(
        &mut self,
        root: &File,
        rs: &mut ReadState,
        pid: u32,
        leader: LeaderReading,
    ) {
        let LeaderReading {
            num_threads,
            sched,
            voluntary,
            status_pass,
        } = leader;
        if let Some(s) = sched {
            self.leader.add_sched(s, &mut self.csw, &mut self.runq_ns);
        }
        if let Some(v) = voluntary {
            self.leader.add_voluntary(v, &mut self.voluntary);
        }
        if num_threads <= 1 && self.list.is_empty() {
            self.task_dir = None;
            return;
        }
        if self.relist || num_threads as usize != self.list.len() + 1 {
            self.relist = false;
            self.relist_threads(root, rs, pid);
        }
        let Some(dir) = self.task_dir.as_ref() else {
            return;
        };
        let mut any_gone = false;
        for t in &mut self.list {
            let tid = t.tid;
            let sched = rs.read(
                &mut t.schedstat,
                dir,
                || thread_path(tid, "schedstat"),
                status_pass,
            );
            match sched {
                Ok(Some(n)) => {
                    if let Some(s) = parse::schedstat(&rs.buf[..n]) {
                        t.c.add_sched(s, &mut self.csw, &mut self.runq_ns);
                    }
                }
                Ok(None) => {}
                Err(Gone) => {
                    t.tid = 0;
                    any_gone = true;
                    continue;
                }
            }
            if status_pass {
                match rs.read(&mut t.status, dir, || thread_path(tid, "status"), true) {
                    Ok(Some(n)) => {
                        let v = parse::status(&rs.buf[..n]).voluntary_switches;
                        t.c.add_voluntary(v, &mut self.voluntary);
                    }
                    Ok(None) => {}
                    Err(Gone) => {
                        t.tid = 0;
                        any_gone = true;
                    }
                }
            }
        }
        if any_gone {
            self.list.retain(|t| t.tid != 0);
            self.relist = true;
        }
    }

    /// Lists `task/` and merges it with the known threads: known ones keep their fds and
    /// counters, new ones get fresh slots, vanished ones are dropped.
    fn relist_threads(&mut self, root: &File, rs: &mut ReadState, pid: u32) {
        if self.task_dir.is_none() {
            if rs.fds_in_use >= rs.fd_budget {
                // Over budget: only the leader is counted (documented degraded mode).
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
        rs.scratch.clear();
        if sys::list_numeric(dir, &mut rs.dirents, &mut rs.scratch).is_err() {
            return;
        }
        rs.scratch.retain(|&t| t != pid);
        rs.scratch.sort_unstable();
        let tids = std::mem::take(&mut rs.scratch);
        let mut old = std::mem::take(&mut self.list).into_iter().peekable();
        let mut merged = Vec::with_capacity(tids.len());
        for &tid in &tids {
            while old.peek().is_some_and(|t| t.tid < tid) {
                old.next();
            }
            if old.peek().is_some_and(|t| t.tid == tid) {
                if let Some(t) = old.next() {
                    merged.push(t);
                }
                continue;
            }
            let schedstat = rs.open(dir, &thread_path(tid, "schedstat"), false);
            let status = rs.open(dir, &thread_path(tid, "status"), false);
            if let (Ok(schedstat), Ok(status)) = (schedstat, status) {
                merged.push(Thread {
                    tid,
                    schedstat,
                    status,
                    c: Counters::default(),
                });
            }
        }
        drop(old);
        rs.scratch = tids;
        self.list = merged;
    }
}

/// `"<tid>/<name>"` relative to `task/`.
fn thread_path(tid: u32, name: &str) -> RelPath {
    RelPath::pid(tid, name)
}
