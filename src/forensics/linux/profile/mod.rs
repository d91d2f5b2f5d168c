//! A sampled profile of the culprits (the Linux counterpart of spindump): every thread of each
//! process, up to a thread cap, gets a `cpu-clock` event (on-CPU samples) and, where the kernel
//! allows kernel frames, a `context-switches` event (off-CPU samples, weighted by the time off
//! the CPU). The kernel supplies kernel frames and a copy of the user stack; user frames are
//! unwound here with DWARF CFI and everything is symbolized before the capture ends, while the
//! processes and their files still exist. Threads that appear during the profile are added.
//!
//! Blocking for the whole profile: the forensics worker runs it on the blocking pool.

mod arch;
mod collect;
mod files;
mod modules;
mod record;
mod symbols;
mod sys;
mod unwind;

use super::images::{images as binary_images, kernel_image};
use super::threads::{list_tids, process_facts, read_trim, thread_facts};
use crate::forensics::calltree::{CallTree, RawFrame};
use crate::procfs::ProcRoot;
use crate::store::capture_data::{StackProcess, StackThread};
use collect::{Stack, ThreadCollector};
use modules::{FileCache, parse_maps};
use record::Record;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use sys::{Event, EventSpec, Kind, Ring};
use unwind::ProcessUnwinder;

/// Bytes of user stack the kernel copies with each sample (deep enough for interpreters).
const STACK_BYTES: u32 = 16 * 1024;
/// Data pages of each thread's ring, and the fewest worth trying when memory is short.
const RING_PAGES: usize = 64;
const MIN_RING_PAGES: usize = 8;
/// Rings are drained at least this often; new threads and paused off-CPU sampling are looked
/// at on the same beat.
const BEAT: Duration = Duration::from_millis(100);
/// Off-CPU samples a thread may give per beat before its context-switch event pauses until the
/// next beat (a thread switching thousands of times a second would otherwise flood its ring).
const OFF_CPU_PER_BEAT: u32 = 20;

/// What to profile and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub duration: Duration,
    pub hz: u32,
    pub max_threads: usize,
    pub proc_root: PathBuf,
}

impl Options {
    fn period_ns(&self) -> u64 {
        1_000_000_000 / u64::from(self.hz.max(1))
    }
}

/// A process that was profiled.
#[derive(Debug)]
pub struct ProfiledProcess {
    pub pid: u32,
    pub process: StackProcess,
    /// It exited before the profile ended.
    pub ended_early: bool,
    /// Only user frames: kernel frames and off-CPU samples were not allowed.
    pub user_only: bool,
}

/// A process perf could not profile, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub pid: u32,
    pub reason: String,
    /// The process was gone before it could be profiled (no fallback will do better).
    pub gone: bool,
}

/// Counts over the whole profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub hz: u32,
    pub duration: Duration,
    pub on_cpu: u64,
    pub off_cpu: u64,
    pub lost: u64,
    pub truncated: u64,
    pub threads: usize,
}

/// The outcome of a profile.
#[derive(Debug, Default)]
pub struct Profile {
    pub processes: Vec<ProfiledProcess>,
    pub refused: Vec<Refusal>,
    pub stats: Stats,
    pub notes: Vec<String>,
}

struct Proc {
    pid: u32,
    user_only: bool,
    unwinder: ProcessUnwinder,
    /// Where the process's vDSO is mapped.
    vdso: Option<std::ops::Range<u64>>,
    tids: HashSet<u32>,
    /// A user address fell outside every known image: the maps are re-read on the next beat.
    maps_stale: bool,
    gone: bool,
}

struct Thread {
    tid: u32,
    proc: usize,
    on: Event,
    off: Option<Event>,
    ring: Ring,
    alive: bool,
    beat_off: u32,
    off_paused: bool,
    collector: ThreadCollector,
}

/// Everything one profile holds while it runs.
struct Session {
    opts: Options,
    procs: Vec<Proc>,
    threads: Vec<Thread>,
    ids: HashMap<u64, (usize, Kind)>,
    files: FileCache,
    ring_pages: usize,
    stats: Stats,
    max_stack: usize,
    not_profiled: usize,
    ring_memory_short: bool,
    off_cpu_pauses: u64,
}

/// Profiles `pids` (the event's process first) for `opts.duration`.
pub fn run(pids: &[u32], opts: &Options) -> Profile {
    let mut s = Session {
        opts: opts.clone(),
        procs: Vec::new(),
        threads: Vec::new(),
        ids: HashMap::new(),
        files: FileCache::default(),
        ring_pages: RING_PAGES,
        stats: Stats {
            hz: opts.hz,
            ..Stats::default()
        },
        max_stack: max_stack(),
        not_profiled: 0,
        ring_memory_short: false,
        off_cpu_pauses: 0,
    };
    let mut refused = Vec::new();
    for &pid in pids {
        if let Err(r) = s.add_process(pid) {
            refused.push(r);
        }
    }
    if s.threads.is_empty() {
        return Profile {
            refused,
            ..Profile::default()
        };
    }
    let started = Instant::now();
    for t in &s.threads {
        enable(t);
    }
    s.sample_until(started + opts.duration);
    for t in &s.threads {
        let _ = t.on.disable();
        if let Some(off) = &t.off {
            let _ = off.disable();
        }
    }
    s.drain_all();
    s.stats.duration = started.elapsed();
    let end = monotonic_ns();
    for t in &mut s.threads {
        t.collector.finish(end);
    }
    s.finish(refused)
}

fn enable(t: &Thread) {
    let _ = t.on.enable();
    if let Some(off) = &t.off {
        let _ = off.enable();
    }
}

impl Session {
    /// Opens events on the threads of `pid`; the first thread decides whether the kernel
    /// allows kernel frames, user frames only, or nothing.
    fn add_process(&mut self, pid: u32) -> Result<(), Refusal> {
        let gone = |pid| Refusal {
            pid,
            reason: format!("process {pid} exited before it could be profiled"),
            gone: true,
        };
        let proc = ProcRoot::open(&self.opts.proc_root).map_err(|_| gone(pid))?;
        let tids = list_tids(&proc, &format!("{pid}/task")).map_err(|_| gone(pid))?;
        let index = self.procs.len();
        self.procs.push(Proc {
            pid,
            user_only: false,
            unwinder: ProcessUnwinder::new(Vec::new()),
            vdso: None,
            tids: HashSet::new(),
            maps_stale: false,
            gone: false,
        });
        let mut first_error: Option<io::Error> = None;
        let mut opened = 0;
        for tid in tids.into_iter().filter_map(|t| u32::try_from(t).ok()) {
            if self.threads.len() >= self.opts.max_threads {
                self.not_profiled += 1;
                continue;
            }
            let mut result = self.open_thread(index, tid);
            if opened == 0 && !self.procs[index].user_only && matches!(&result, Err(e) if denied(e))
            {
                // Kernel frames need CAP_PERFMON (or perf_event_paranoid < 2): try user frames.
                self.procs[index].user_only = true;
                result = self.open_thread(index, tid);
            }
            match result {
                Ok(()) => opened += 1,
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => {
                    if opened == 0 && first_error.is_none() {
                        first_error = Some(e);
                        break;
                    }
                }
            }
        }
        if opened > 0 {
            // The kernel agreed; the memory map (same ptrace check) gives the unwinder its files.
            match proc.read_string(&format!("{pid}/maps")) {
                Ok(maps) => {
                    self.load_maps(index, &maps);
                    return Ok(());
                }
                Err(e) => {
                    first_error = Some(e);
                    self.drop_threads_of(index);
                }
            }
        }
        self.procs.pop();
        Err(match first_error {
            Some(e) => refusal(pid, &e, opened > 0),
            None => gone(pid),
        })
    }

    /// Gives process `index`'s unwinder the files its memory map shows.
    fn load_maps(&mut self, index: usize, maps: &str) {
        let maps = parse_maps(maps);
        let root = self.opts.proc_root.clone();
        let pid = self.procs[index].pid;
        let images = self.files.images(&root, pid, &maps);
        let p = &mut self.procs[index];
        p.vdso = maps
            .iter()
            .find(|m| m.path == "[vdso]")
            .map(|m| m.start..m.end);
        p.unwinder.set_images(images);
    }

    /// Closes the events of process `index` (the last one added).
    fn drop_threads_of(&mut self, index: usize) {
        while self.threads.last().is_some_and(|t| t.proc == index) {
            if let Some(t) = self.threads.pop() {
                self.ids.remove(&t.on.id);
                if let Some(off) = &t.off {
                    self.ids.remove(&off.id);
                }
            }
        }
    }

    /// Opens a thread's events and ring (smaller rings when locked memory runs short).
    fn open_thread(&mut self, proc: usize, tid: u32) -> io::Result<()> {
        let user_only = self.procs[proc].user_only;
        let page = sys::page_size();
        loop {
            let ring_bytes = u32::try_from(self.ring_pages * page).unwrap_or(u32::MAX);
            let spec = EventSpec {
                kind: Kind::OnCpu,
                period_ns: self.opts.period_ns(),
                stack_bytes: STACK_BYTES,
                user_only,
                ring_bytes,
            };
            let on = Event::open(tid, &spec)?;
            let ring = match Ring::map(&on, self.ring_pages) {
                Ok(r) => r,
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOMEM))
                        && self.ring_pages > MIN_RING_PAGES =>
                {
                    self.ring_pages /= 2;
                    self.ring_memory_short = true;
                    continue;
                }
                Err(e) => {
                    self.ring_memory_short = true;
                    return Err(e);
                }
            };
            // Off-CPU samples carry kernel frames by nature: without kernel access the
            // kernel never takes them, so they are not asked for.
            let off = if user_only {
                None
            } else {
                Event::open(
                    tid,
                    &EventSpec {
                        kind: Kind::OffCpu,
                        ..spec
                    },
                )
                .and_then(|off| off.output_to(&ring).map(|()| off))
                .ok()
            };
            self.ids.insert(on.id, (self.threads.len(), Kind::OnCpu));
            if let Some(off) = &off {
                self.ids.insert(off.id, (self.threads.len(), Kind::OffCpu));
            }
            self.procs[proc].tids.insert(tid);
            self.threads.push(Thread {
                tid,
                proc,
                on,
                off,
                ring,
                alive: true,
                beat_off: 0,
                off_paused: false,
                collector: ThreadCollector::default(),
            });
            return Ok(());
        }
    }

    fn sample_until(&mut self, deadline: Instant) {
        let mut next_beat = Instant::now() + BEAT;
        loop {
            let now = Instant::now();
            if now >= deadline || self.threads.iter().all(|t| !t.alive) {
                return;
            }
            let fds: Vec<(usize, i32)> = self
                .threads
                .iter()
                .enumerate()
                .filter(|(_, t)| t.alive)
                .map(|(i, t)| (i, t.on.raw_fd()))
                .collect();
            let wait = deadline.min(next_beat).saturating_duration_since(now);
            let raw: Vec<i32> = fds.iter().map(|(_, fd)| *fd).collect();
            for (k, hung_up) in sys::poll(&raw, wait).into_iter().enumerate() {
                if hung_up {
                    self.threads[fds[k].0].alive = false;
                }
            }
            self.drain_all();
            if Instant::now() >= next_beat {
                next_beat = Instant::now() + BEAT;
                self.beat();
            }
        }
    }

    /// Once per beat: resume paused off-CPU sampling, re-read stale maps, pick up threads.
    fn beat(&mut self) {
        for t in &mut self.threads {
            t.beat_off = 0;
            if t.off_paused && t.alive {
                if let Some(off) = &t.off {
                    let _ = off.enable();
                }
                t.off_paused = false;
            }
        }
        let root = self.opts.proc_root.clone();
        let proc = ProcRoot::open(&root);
        for p in 0..self.procs.len() {
            if self.procs[p].gone {
                continue;
            }
            let pid = self.procs[p].pid;
            if self.procs[p].maps_stale {
                self.procs[p].maps_stale = false;
                if let Ok(maps) = proc
                    .as_ref()
                    .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))
                    .and_then(|r| r.read_string(&format!("{pid}/maps")))
                {
                    let images = self.files.images(&root, pid, &parse_maps(&maps));
                    self.procs[p].unwinder.set_images(images);
                }
            }
            let tids = match &proc {
                Ok(r) => list_tids(r, &format!("{pid}/task")),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            let Ok(tids) = tids else {
                self.procs[p].gone = true;
                continue;
            };
            for tid in tids.into_iter().filter_map(|t| u32::try_from(t).ok()) {
                if self.procs[p].tids.contains(&tid) {
                    continue;
                }
                if self.threads.len() >= self.opts.max_threads {
                    self.not_profiled += 1;
                    self.procs[p].tids.insert(tid);
                    continue;
                }
                if self.open_thread(p, tid).is_ok()
                    && let Some(t) = self.threads.last()
                {
                    enable(t);
                }
            }
        }
    }

    fn drain_all(&mut self) {
        for i in 0..self.threads.len() {
            let t = &mut self.threads[i];
            if t.ring.pending() == 0 {
                continue;
            }
            let proc = &mut self.procs[t.proc];
            let mut sink = Sink {
                thread: i,
                ids: &self.ids,
                collector: &mut t.collector,
                off: t.off.as_ref(),
                beat_off: &mut t.beat_off,
                off_paused: &mut t.off_paused,
                unwinder: &mut proc.unwinder,
                maps_stale: &mut proc.maps_stale,
                stats: &mut self.stats,
                off_cpu_pauses: &mut self.off_cpu_pauses,
                max_stack: self.max_stack,
            };
            t.ring.drain(|bytes| sink.handle(bytes));
        }
    }

    /// Symbolizes and builds the stack record of every profiled process.
    fn finish(mut self, refused: Vec<Refusal>) -> Profile {
        let period = self.opts.period_ns();
        let hz = f64::from(self.opts.hz.max(1));
        let symbols = symbols::Symbols::default();
        let mut kernel_addrs: HashSet<u64> = HashSet::new();
        for t in &self.threads {
            for s in t.collector.stacks.keys() {
                kernel_addrs.extend(s.kernel.iter().copied());
            }
        }
        let kernel_addrs: Vec<u64> = kernel_addrs.into_iter().collect();
        let kernel = symbols.kernel(&kernel_addrs);
        let kimage = kernel_image();
        let root = self.opts.proc_root.clone();
        let proc = ProcRoot::open(&root).ok();
        let mut processes = Vec::new();
        for (pi, p) in self.procs.iter().enumerate() {
            let mine: Vec<&Thread> = self.threads.iter().filter(|t| t.proc == pi).collect();
            let mut user_addrs: HashSet<u64> = HashSet::new();
            for t in &mine {
                for s in t.collector.stacks.keys() {
                    user_addrs.extend(s.user.iter().copied());
                }
            }
            let user_addrs: Vec<u64> = user_addrs.into_iter().collect();
            let user = symbols.user(
                &root,
                p.pid,
                p.unwinder.images(),
                p.vdso.clone(),
                &user_addrs,
            );
            let dir = p.pid.to_string();
            let mut threads = Vec::new();
            let (mut on_total, mut weight_total) = (0u64, 0u64);
            for t in &mine {
                let mut tree = CallTree::profile();
                let mut weight = 0;
                for c in t.collector.counted(period) {
                    let mut path: Vec<RawFrame> = Vec::new();
                    for a in c.stack.user.iter().rev() {
                        path.extend(user.get(a).into_iter().flatten().cloned());
                    }
                    for a in c.stack.kernel.iter().rev() {
                        path.extend(kernel.get(a).into_iter().flatten().cloned());
                    }
                    weight += c.on + c.off;
                    tree.add_split(&path, to_i64(c.on), to_i64(c.off));
                }
                on_total += t.collector.on_samples;
                weight_total += weight;
                let facts = proc
                    .as_ref()
                    .map(|r| thread_facts(r, &format!("{dir}/task/{}", t.tid)))
                    .unwrap_or_default();
                threads.push(StackThread {
                    thread_id: t.tid.to_string(),
                    thread_name: facts.name,
                    num_samples: Some(to_i64(weight)),
                    cpu_time_sec: Some(t.collector.on_samples as f64 / hz),
                    state: facts.state,
                    wchan: facts.wchan,
                    syscall: facts.syscall,
                    frames: tree.into_frames(),
                    ..Default::default()
                });
            }
            threads.sort_by_key(|t| std::cmp::Reverse(t.num_samples.unwrap_or(0)));
            let read = |rel: &str| {
                proc.as_ref()
                    .and_then(|r| read_trim(r, &format!("{dir}/{rel}")).ok())
                    .unwrap_or_default()
            };
            let stat = read("stat");
            let ended_early = stat.is_empty() || mine.iter().all(|t| !t.alive);
            let facts = proc
                .as_ref()
                .map(|r| process_facts(r, p.pid, &stat))
                .unwrap_or_default();
            let mut images = binary_images(&root, p.pid).unwrap_or_default();
            if let Some(k) = &kimage {
                images.push(k.clone());
            }
            let listed = proc
                .as_ref()
                .and_then(|r| list_tids(r, &format!("{dir}/task")).ok())
                .map(|t| t.len());
            processes.push(ProfiledProcess {
                pid: p.pid,
                ended_early,
                user_only: p.user_only,
                process: StackProcess {
                    pid: i64::from(p.pid),
                    name: read("comm"),
                    path: facts.path,
                    parent: facts.parent,
                    footprint_mb: facts.footprint_mb,
                    num_samples: Some(to_i64(weight_total)),
                    cpu_time_sec: Some(on_total as f64 / hz),
                    num_threads: listed.map(|n| n as i64).or(Some(mine.len() as i64)),
                    threads,
                    images,
                    ..Default::default()
                },
            });
        }
        self.stats.threads = self.threads.len();
        let mut notes = Vec::new();
        if self.not_profiled > 0 {
            notes.push(format!(
                "{} more threads were not profiled ([forensics] profile_max_threads = {})",
                self.not_profiled, self.opts.max_threads
            ));
        }
        if self.ring_memory_short {
            notes.push(
                "ring buffers were made smaller: locked memory for perf ran short \
                 (kernel.perf_event_mlock_kb, RLIMIT_MEMLOCK)"
                    .into(),
            );
        }
        if symbols.skipped.get() > 0 {
            notes.push(format!(
                "{} files were left unsymbolized: symbolizing ran out of its time budget",
                symbols.skipped.get()
            ));
        }
        if self.off_cpu_pauses > 0 {
            notes.push(format!(
                "off-CPU sampling paused {} times at {} switches per {} ms",
                self.off_cpu_pauses,
                OFF_CPU_PER_BEAT,
                BEAT.as_millis()
            ));
        }
        Profile {
            processes,
            refused,
            stats: self.stats,
            notes,
        }
    }
}

/// Where the records of one thread's ring go.
struct Sink<'a> {
    thread: usize,
    ids: &'a HashMap<u64, (usize, Kind)>,
    collector: &'a mut ThreadCollector,
    off: Option<&'a Event>,
    beat_off: &'a mut u32,
    off_paused: &'a mut bool,
    unwinder: &'a mut ProcessUnwinder,
    maps_stale: &'a mut bool,
    stats: &'a mut Stats,
    off_cpu_pauses: &'a mut u64,
    max_stack: usize,
}

impl Sink<'_> {
    fn handle(&mut self, bytes: &[u8]) {
        match record::parse(bytes, arch::REGS_COUNT) {
            Record::Sample(s) => {
                let Some(&(ti, kind)) = self.ids.get(&s.id) else {
                    return;
                };
                if ti != self.thread {
                    return;
                }
                let kernel: Box<[u64]> = s.kernel_frames().collect();
                let mut truncated = s.callchain_len() >= self.max_stack;
                let user: Box<[u64]> = match arch::user_regs(|i| s.user_reg(i)) {
                    Some(regs) if regs.pc != 0 => {
                        let u = self.unwinder.unwind(&regs, s.stack);
                        truncated |= u.truncated;
                        if u.frames.first().is_some_and(|&pc| !self.unwinder.knows(pc)) {
                            *self.maps_stale = true;
                        }
                        u.frames.into()
                    }
                    _ => Box::default(),
                };
                if truncated {
                    self.stats.truncated += 1;
                }
                let stack = Stack { kernel, user };
                match kind {
                    Kind::OnCpu => {
                        self.stats.on_cpu += 1;
                        self.collector.on_cpu(stack);
                    }
                    Kind::OffCpu => {
                        self.stats.off_cpu += 1;
                        self.collector.switched_out(stack, s.time);
                        *self.beat_off += 1;
                        if *self.beat_off >= OFF_CPU_PER_BEAT && !*self.off_paused {
                            if let Some(off) = self.off {
                                let _ = off.disable();
                            }
                            *self.off_paused = true;
                            *self.off_cpu_pauses += 1;
                        }
                    }
                }
            }
            Record::Switch {
                time, out: false, ..
            } => self.collector.switched_in(time),
            Record::Lost { lost, .. } => self.stats.lost += lost,
            _ => {}
        }
    }
}

/// What perf allows on one process, for `perms status`.
#[derive(Debug)]
pub enum Access {
    /// Kernel and user frames, on- and off-CPU.
    Full,
    /// User frames only (no CAP_PERFMON, `perf_event_paranoid` 2).
    UserOnly,
    Refused(io::Error),
}

/// Opens (and closes at once) a profile event on `pid` to see what the kernel allows.
pub fn access(pid: u32) -> Access {
    let spec = |user_only| EventSpec {
        kind: Kind::OnCpu,
        period_ns: 10_000_000,
        stack_bytes: STACK_BYTES,
        user_only,
        ring_bytes: 4096,
    };
    match Event::open(pid, &spec(false)) {
        Ok(_) => Access::Full,
        Err(e) if denied(&e) => match Event::open(pid, &spec(true)) {
            Ok(_) => Access::UserOnly,
            Err(e) => Access::Refused(e),
        },
        Err(e) => Access::Refused(e),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn denied(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM))
}

/// Why perf refused a process (or, `maps`, its memory map could not be read), in words a user
/// can act on.
fn refusal(pid: u32, e: &io::Error, maps: bool) -> Refusal {
    let errno = e.raw_os_error().unwrap_or(0);
    let gone = maps && matches!(errno, libc::ESRCH | libc::ENOENT);
    let hint = match errno {
        libc::EACCES | libc::EPERM => {
            let paranoid = sys::paranoid().map_or_else(|| "unknown".to_string(), |p| p.to_string());
            format!(
                "profiling another user's process needs CAP_SYS_PTRACE, kernel frames need \
                 CAP_PERFMON (kernel.perf_event_paranoid = {paranoid}); a container's seccomp \
                 profile may also block perf_event_open (see `rogue-hunter perms status`)"
            )
        }
        libc::ENOSYS => "this kernel has no perf events, or seccomp hides them".to_string(),
        libc::ENOENT | libc::EOPNOTSUPP | libc::EINVAL if !maps => {
            "this kernel has no software cpu-clock event".to_string()
        }
        libc::EMFILE | libc::ENFILE => "too many open files".to_string(),
        _ => String::new(),
    };
    let mut reason = if maps {
        format!("reading /proc/{pid}/maps failed: {}", plain(e))
    } else {
        format!("perf_event_open refused for process {pid}: {}", plain(e))
    };
    if !hint.is_empty() {
        reason.push_str(&format!(" ({hint})"));
    }
    Refusal { pid, reason, gone }
}

/// An I/O error without the "(os error N)" suffix.
fn plain(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// `kernel.perf_event_max_stack`: a callchain this long was cut by the kernel.
fn max_stack() -> usize {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_stack")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(127)
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write to.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}
