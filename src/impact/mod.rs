//! The impact score (`[scoring] model = "impact"`, the default): which unit is hurting the
//! machine, through which resource, and why, in one line.
//!
//! # The model
//! For each resource, **machine stress** (0–1: how much the machine suffers on it) times the
//! unit's **blame** (0–1: its share of what was consumed, in capacity terms). The score is
//! 100 × the worst product; that resource is the dominant one.
//!
//! | resource | stress | blame |
//! |---|---|---|
//! | cpu | ½ cores busy / CPUs + ½ cpu pressure / `cpu_pressure_full` | cores used (own + exited children's) / CPUs |
//! | cpu (forks) | forks/s per CPU / `forks_per_cpu_full` | its share of the children spawned |
//! | memory (capacity) | RAM in use, from `memory_used_low` (0) to `memory_used_full` (1) | bytes / RAM |
//! | memory (pressure) | memory pressure / `memory_pressure_full` | its share of the memory churn (pages faulted in + bytes grown), else of memory |
//! | memory (growth) | `memory_exhaustion_s` / the seconds until RAM runs out at the machine's growth rate | its share of that growth (over ~3 s) |
//! | disk | io pressure / `io_pressure_full` | the larger of its share of disk bytes and of time blocked in D state |
//! | wakeups | switches/s per CPU / `switches_per_cpu_full` | its share of context switches |
//! | gpu | GPU engine time / 1 s | its share of GPU time |
//!
//! Three accounting rules move work to the resource that explains it: context switches taken
//! while blocked in D state count as disk, not wakeups (an fsync-heavy writer is a disk
//! culprit); the CPU time spent switching (`switch_cost_us` per switch) counts as wakeups, not
//! cpu (a ping-pong of threads is a wakeups culprit even though it keeps CPUs busy); and the
//! reads and D-state waits of a process's own major faults count as memory, not disk (a hog
//! thrashing in a small cgroup is a memory culprit even though the disk is busy). They stay in
//! the machine's disk totals: a small writer beside that hog holds a small share of the disk.
//!
//! # Floors
//! A quiet machine still reports a real runaway: a unit holding at least `cpu_floor_cores` on
//! average over `cpu_floor_s` seconds, or holding `memory_floor_percent` of RAM, or whose memory is
//! `memory_growth_ratio` × its decayed average (time constant `memory_decay_s`) and at least
//! `memory_growth_percent` of RAM above it (oomd's fastest-grower rule), is at least in the
//! tracking band.
//!
//! # Persistence
//! A unit's score is the lowest raw score it held over the last `persistence_s` seconds (3 s by
//! default): a burst shorter than that opens nothing, and a unit younger than that scores 0.
//! Entering the forensics band further needs the raw score to hold there for `forensics_hold_s`
//! (5 s): captures are expensive, and oomd and systemd-oomd likewise act only on pressure that
//! held for a duration. 3 s is nine samples at 3 Hz: enough to ignore a compile step or a page
//! load, short enough to name a runaway within seconds; the cpu pressure used is a ~10 s window,
//! so stress itself is already smoothed.

mod reason;

use crate::config::ImpactConfig;
use crate::machine::{Machine, PressureSource};
use crate::model::Resource;
use crate::score::PerResource;
use std::collections::{HashMap, VecDeque};

pub use reason::bytes as human_bytes;

/// What one unit (or process) consumed in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// Own CPU, cores.
    pub cores: f64,
    /// CPU of exited children credited to it, cores.
    pub child_cores: f64,
    /// Children spawned per second.
    pub spawn_rate: f64,
    /// Resident memory, bytes.
    pub mem: u64,
    /// Major faults per second.
    pub pageins: f64,
    /// Disk bytes per second.
    pub disk_bytes: f64,
    /// Expected number of its tasks in D state (Σ over members of their share of time in D).
    pub blocked: f64,
    /// Context switches per second (voluntary + involuntary).
    pub csw: f64,
    /// Of those, voluntary switches taken while blocked in D state.
    pub io_waits: f64,
    /// GPU engine ms per second.
    pub gpu_ms: f64,
    /// Processes in it.
    pub members: u32,
}

impl Usage {
    /// Adds another member's usage.
    pub fn add(&mut self, o: &Usage) {
        self.cores += o.cores;
        self.child_cores += o.child_cores;
        self.spawn_rate += o.spawn_rate;
        self.mem = self.mem.saturating_add(o.mem);
        self.pageins += o.pageins;
        self.disk_bytes += o.disk_bytes;
        self.blocked += o.blocked;
        self.csw += o.csw;
        self.io_waits += o.io_waits;
        self.gpu_ms += o.gpu_ms;
        self.members += o.members;
    }

    /// Switches that are not I/O waits.
    fn switches(&self) -> f64 {
        (self.csw - self.io_waits).max(0.0)
    }

    /// CPU in cores net of the cost of switching (which counts as wakeups).
    fn net_cores(&self, switch_cost_s: f64) -> f64 {
        (self.cores + self.child_cores - self.switches() * switch_cost_s).max(0.0)
    }

    /// Disk bytes not explained by major faults (a fault's read counts as memory).
    fn disk_bytes_net(&self) -> f64 {
        (self.disk_bytes - self.fault_bytes()).max(0.0)
    }

    /// Bytes its major faults read, at one page each (readahead reads more, which then counts
    /// as disk: streaming through a mapping is I/O, refaulting one's own pages is memory).
    fn fault_bytes(&self) -> f64 {
        self.pageins * PAGE_BYTES
    }

    /// Expected tasks blocked on I/O that is not its own page faults: a thrashing process
    /// waits in D state for the pages it lost, which is memory's doing, not the disk's.
    fn blocked_on_io(&self) -> f64 {
        let faults = self.fault_bytes();
        let from_faults = if faults > 0.0 {
            (faults / self.disk_bytes.max(faults)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.blocked * (1.0 - from_faults)
    }

    /// Its share of the machine's disk traffic and of its I/O waits that its own major faults
    /// explain: paging, which is memory's doing even when the kernel counts it as io pressure.
    fn paging_share(&self, totals: &Totals) -> f64 {
        share(self.fault_bytes().min(self.disk_bytes), totals.disk_bytes)
            .max(share(self.blocked - self.blocked_on_io(), totals.blocked))
    }
}

/// What one major fault is taken to read.
const PAGE_BYTES: f64 = 4096.0;

/// Memory churn (faults + growth) below this, bytes/s, is noise: ten pages a second.
const MIN_CHURN_BYTES: f64 = 10.0 * PAGE_BYTES;

/// Thresholds of the bands the scorer needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandThresholds {
    pub tracking: u8,
    pub forensics: u8,
}

/// The score of one unit in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub score: u8,
    /// The raw score of this pass, before persistence.
    pub raw: u8,
    pub dominant: Resource,
    /// Blame per resource (0–1).
    pub blame: PerResource,
    /// Stress per resource (0–1).
    pub stress: PerResource,
    pub reason: String,
}

/// One pass of a unit, remembered.
#[derive(Debug, Clone, Copy)]
struct Pass {
    t: f64,
    raw: u8,
    /// Cores, own and exited children's.
    cores: f64,
    mem: u64,
}

/// Memory growth is measured over this window: a status read every few passes makes a single
/// interval's growth jump between zero and several intervals' worth.
const GROWTH_WINDOW_S: f64 = 3.0;

/// Per-unit memory of recent passes.
#[derive(Debug, Clone)]
struct History {
    first_seen: f64,
    /// Recent passes, oldest first.
    recent: VecDeque<Pass>,
    mem_avg: f64,
    last_mem: u64,
    last_t: f64,
    /// Since when the raw score has been at or above the tracking threshold.
    high_since: Option<f64>,
    seen_pass: u64,
}

/// Scores units pass after pass, remembering what persistence and floors need.
#[derive(Debug)]
pub struct ImpactScorer {
    p: ImpactConfig,
    bands: BandThresholds,
    history: HashMap<u64, History>,
    pass: u64,
}

/// The totals over every process of a pass that blame shares divide by.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    pub spawn_rate: f64,
    pub mem: f64,
    pub pageins: f64,
    /// Σ positive memory growth, bytes/s (filled by the scorer).
    pub mem_growth: f64,
    /// Disk bytes/s of every process, page-fault reads included.
    pub disk_bytes: f64,
    /// Tasks in D state, waiting on page faults included.
    pub blocked: f64,
    pub switches: f64,
    pub gpu_ms: f64,
}

impl Totals {
    /// Totals of every process's usage.
    pub fn of<'a>(all: impl IntoIterator<Item = &'a Usage>) -> Totals {
        let mut t = Totals::default();
        for u in all {
            t.spawn_rate += u.spawn_rate;
            t.mem += u.mem as f64;
            t.pageins += u.pageins;
            // Gross, though each unit's own part is net of its page faults: a hog's fault
            // reads are memory blame for it, yet still the disk traffic everyone else's share
            // is of. Net totals made a 60 KiB/s bystander 100 % of a thrashing machine's disk.
            t.disk_bytes += u.disk_bytes;
            t.blocked += u.blocked;
            t.switches += u.switches();
            t.gpu_ms += u.gpu_ms;
        }
        t
    }
}

fn share(part: f64, total: f64) -> f64 {
    if total > 0.0 && part > 0.0 {
        (part / total).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn ramp(v: f64, full: f64) -> f64 {
    if full > 0.0 {
        (v / full).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// The machine's stress per resource, and the fork part of cpu stress.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stress {
    pub cpu: f64,
    pub forks: f64,
    pub memory_used: f64,
    pub memory_pressure: f64,
    /// How soon RAM runs out at the machine's current growth rate.
    pub memory_growth: f64,
    pub disk: f64,
    pub wakeups: f64,
    pub gpu: f64,
}

impl Stress {
    /// Stress of `m` under the tunables `p`, with the pass's totals (GPU time, memory growth).
    pub fn of(m: &Machine, p: &ImpactConfig, totals: &Totals) -> Stress {
        let cpus = f64::from(m.cpus.max(1));
        let used = m.mem_used_fraction() * 100.0;
        let available = (m.mem_available as f64).max(1.0);
        Stress {
            cpu: 0.5 * m.cpu_utilisation() + 0.5 * ramp(m.pressure_cpu, p.cpu_pressure_full),
            forks: ramp(m.forks_rate / cpus, p.forks_per_cpu_full),
            memory_used: ramp(
                used - p.memory_used_low,
                p.memory_used_full - p.memory_used_low,
            ),
            memory_pressure: ramp(m.pressure_memory, p.memory_pressure_full),
            // Seconds left = available / growth; stress = memory_exhaustion_s / seconds left.
            memory_growth: ramp(totals.mem_growth * p.memory_exhaustion_s, available),
            disk: ramp(m.pressure_io, p.io_pressure_full),
            wakeups: ramp(m.ctxt_rate / cpus, p.switches_per_cpu_full),
            gpu: ramp(totals.gpu_ms, 1000.0),
        }
    }
}

/// Blame of one unit per signal.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Blame {
    cpu: f64,
    forks: f64,
    memory_bytes: f64,
    memory_pressure: f64,
    disk: f64,
    wakeups: f64,
    gpu: f64,
}

impl ImpactScorer {
    pub fn new(p: ImpactConfig, bands: BandThresholds) -> ImpactScorer {
        ImpactScorer {
            p,
            bands,
            history: HashMap::new(),
            pass: 0,
        }
    }

    /// Units remembered (for tests and memory accounting).
    pub fn remembered(&self) -> usize {
        self.history.len()
    }

    /// Starts a pass at monotonic time `now_s`; then [`ImpactScorer::score`] each unit and
    /// finally [`ImpactScorer::end_pass`].
    pub fn begin_pass(&mut self) {
        self.pass += 1;
    }

    /// Forgets units not scored in this pass.
    pub fn end_pass(&mut self) {
        let pass = self.pass;
        self.history.retain(|_, h| h.seen_pass == pass);
    }

    /// The memory growth rate of a unit since its previous pass (bytes/s, ≥ 0), without
    /// recording anything: the totals of a pass need every unit's growth before any is scored.
    pub fn growth_rate(&self, id: u64, now_s: f64, mem: u64) -> f64 {
        let Some(h) = self.history.get(&id) else {
            return 0.0;
        };
        match h
            .recent
            .iter()
            .find(|p| now_s - p.t <= GROWTH_WINDOW_S + 0.05)
        {
            Some(p) if now_s > p.t => mem.saturating_sub(p.mem) as f64 / (now_s - p.t),
            _ => 0.0,
        }
    }

    /// Scores one unit. `id` is its stable identity, `u` its usage, `totals` the pass's.
    pub fn score(
        &mut self,
        id: u64,
        now_s: f64,
        u: &Usage,
        m: &Machine,
        stress: &Stress,
        totals: &Totals,
    ) -> Outcome {
        let p = &self.p;
        let cpus = f64::from(m.cpus.max(1));
        let switch_cost_s = p.switch_cost_us / 1e6;
        let growth = self.growth_rate(id, now_s, u.mem);
        let pass = self.pass;
        let h = self.history.entry(id).or_insert_with(|| History {
            first_seen: now_s,
            recent: VecDeque::new(),
            mem_avg: u.mem as f64,
            last_mem: u.mem,
            last_t: now_s,
            high_since: None,
            seen_pass: pass,
        });
        h.seen_pass = pass;
        // Decayed average of memory (exponential, time constant memory_decay_s).
        let dt = (now_s - h.last_t).max(0.0);
        let alpha = 1.0 - (-dt / p.memory_decay_s.max(1e-3)).exp();
        let mem_avg_before = h.mem_avg;
        h.mem_avg += (u.mem as f64 - h.mem_avg) * alpha;
        h.last_mem = u.mem;
        h.last_t = now_s;

        let mem_total = m.mem_total.max(1) as f64;
        let growth_share = share(growth, totals.mem_growth);
        // Memory pressure is blamed on the memory churn: pages faulted back in plus bytes
        // grown. Either alone misleads: a leak pushing others out makes *them* fault, and beside
        // a thrashing hog a daemon growing some KiB/s held "all of the growth". With no churn
        // to speak of, the big hold the blame.
        let churn = u.fault_bytes() + growth;
        let total_churn = totals.pageins * PAGE_BYTES + totals.mem_growth;
        let memory_pressure_blame = if total_churn >= MIN_CHURN_BYTES {
            share(churn, total_churn)
        } else {
            share(u.mem as f64, totals.mem)
        };
        let blame = Blame {
            cpu: (u.net_cores(switch_cost_s) / cpus).clamp(0.0, 1.0),
            forks: share(u.spawn_rate, totals.spawn_rate.max(m.forks_rate)),
            memory_bytes: (u.mem as f64 / mem_total).clamp(0.0, 1.0),
            memory_pressure: memory_pressure_blame,
            disk: share(u.disk_bytes_net(), totals.disk_bytes)
                .max(share(u.blocked_on_io(), totals.blocked)),
            wakeups: share(u.switches(), totals.switches),
            gpu: share(u.gpu_ms, totals.gpu_ms),
        };
        let s = stress;
        let cpu_main = s.cpu * blame.cpu;
        let cpu_forks = s.forks * blame.forks;
        // The four ways memory can be to blame; the worst is the memory score.
        let memory_capacity = s.memory_used * blame.memory_bytes;
        let memory_pressure = s.memory_pressure * blame.memory_pressure;
        let memory_growth = s.memory_growth * growth_share;
        // Refaulting its own pages loads the disk: when that shows as io pressure (the kernel
        // counts a refault as a memory stall only if the page was recently in the workingset),
        // the hog is still named, for memory, through its share of the disk.
        let paging = u.paging_share(totals);
        let memory_paging = s.disk * paging;
        let per = PerResource {
            cpu: cpu_main.max(cpu_forks),
            gpu: s.gpu * blame.gpu,
            memory: memory_capacity
                .max(memory_pressure)
                .max(memory_growth)
                .max(memory_paging),
            disk: s.disk * blame.disk,
            wakeups: s.wakeups * blame.wakeups,
        };
        let mut scores = PerResource {
            cpu: to_score(per.cpu),
            gpu: to_score(per.gpu),
            memory: to_score(per.memory),
            disk: to_score(per.disk),
            wakeups: to_score(per.wakeups),
        };

        // Floors.
        // Held = the mean over the window, not its minimum: one pass reads a third of a
        // second at the kernel's 10 ms tick, and a pegged loop reads 0.83–1.02 cores from pass
        // to pass as other tasks or the hypervisor take a slice, so a minimum would rarely hold.
        let all_cores = u.cores + u.child_cores;
        let (sum, n) = h
            .recent
            .iter()
            .filter(|q| now_s - q.t < p.cpu_floor_s)
            .fold((all_cores, 1.0), |(s, n), q| (s + q.cores, n + 1.0));
        let held_cores = sum / n;
        let floor = f64::from(self.bands.tracking);
        let cpu_floor =
            now_s - h.first_seen + 1e-6 >= p.cpu_floor_s && held_cores >= p.cpu_floor_cores;
        if cpu_floor {
            scores.cpu = scores.cpu.max(floor);
        }
        let big = u.mem as f64 >= p.memory_floor_percent / 100.0 * mem_total;
        let grew = u.mem as f64 >= p.memory_growth_ratio * mem_avg_before.max(1.0)
            && u.mem as f64 - mem_avg_before >= p.memory_growth_percent / 100.0 * mem_total;
        if big || grew {
            scores.memory = scores.memory.max(floor);
        }

        let (dominant, top) = worst(&scores);
        let raw = top.clamp(0.0, 100.0) as u8;
        h.recent.push_back(Pass {
            t: now_s,
            raw,
            cores: all_cores,
            mem: u.mem,
        });
        let keep = p
            .persistence_s
            .max(p.forensics_hold_s)
            .max(p.cpu_floor_s)
            .max(GROWTH_WINDOW_S)
            + 1.0;
        while h.recent.front().is_some_and(|q| now_s - q.t > keep) {
            h.recent.pop_front();
        }
        // Persistence: the lowest raw score over the window (0 while the unit is younger).
        let held = |window: f64| -> u8 {
            if now_s - h.first_seen + 1e-6 < window {
                return 0;
            }
            h.recent
                .iter()
                .filter(|q| now_s - q.t <= window + 1e-6)
                .map(|q| q.raw)
                .min()
                .unwrap_or(0)
        };
        let mut score = if p.persistence_s > 0.0 {
            held(p.persistence_s)
        } else {
            raw
        };
        let forensics = self.bands.forensics;
        if score >= forensics && held(p.forensics_hold_s) < forensics {
            score = forensics.saturating_sub(1);
        }
        if raw >= self.bands.tracking {
            h.high_since.get_or_insert(now_s);
        } else {
            h.high_since = None;
        }
        let held_for = h.high_since.map(|t| now_s - t);
        let growth_over = if grew {
            Some(u.mem as f64 - mem_avg_before)
        } else {
            None
        };
        let paging_led = dominant == Resource::Memory
            && memory_paging > 0.0
            && memory_paging > memory_capacity.max(memory_pressure).max(memory_growth);
        let reason = reason::line(&reason::Facts {
            dominant,
            fork_led: dominant == Resource::Cpu && cpu_forks > cpu_main,
            usage: u,
            machine: m,
            switch_cost_s,
            held_for,
            grown_by: growth_over,
            fault_led: dominant == Resource::Memory
                && memory_pressure > memory_capacity
                && total_churn >= MIN_CHURN_BYTES
                && u.fault_bytes() > 0.0
                && u.fault_bytes() >= growth,
            paging_led,
            growth: (dominant == Resource::Memory
                && growth > 0.0
                && (memory_growth >= memory_pressure
                    || (memory_pressure > memory_capacity && growth > u.fault_bytes())))
            .then_some(growth),
            switch_share: blame.wakeups,
        });
        Outcome {
            score,
            raw,
            dominant,
            blame: PerResource {
                cpu: blame.cpu.max(blame.forks),
                gpu: blame.gpu,
                memory: if paging_led {
                    paging
                } else {
                    blame.memory_bytes.max(blame.memory_pressure)
                },
                disk: blame.disk,
                wakeups: blame.wakeups,
            },
            stress: PerResource {
                cpu: s.cpu.max(s.forks),
                gpu: s.gpu,
                memory: if paging_led {
                    s.disk
                } else {
                    s.memory_used.max(s.memory_pressure).max(s.memory_growth)
                },
                disk: s.disk,
                wakeups: s.wakeups,
            },
            reason,
        }
    }
}

fn to_score(product: f64) -> f64 {
    if product.is_finite() {
        (product * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    }
}

/// The worst resource (ties go to the earlier one in cpu, gpu, memory, disk, wakeups order).
fn worst(scores: &PerResource) -> (Resource, f64) {
    let mut best = Resource::Cpu;
    for r in Resource::ALL.into_iter().skip(1) {
        if scores.get(r) > scores.get(best) {
            best = r;
        }
    }
    (best, scores.get(best))
}

/// The instantaneous score of one process alone (no persistence, no floors): what the table
/// views show for a process next to its unit's score.
pub fn process_blame(u: &Usage, m: &Machine, p: &ImpactConfig, totals: &Totals) -> PerResource {
    let cpus = f64::from(m.cpus.max(1));
    let mem_total = m.mem_total.max(1) as f64;
    PerResource {
        cpu: (u.net_cores(p.switch_cost_us / 1e6) / cpus).clamp(0.0, 1.0),
        gpu: share(u.gpu_ms, totals.gpu_ms),
        memory: (u.mem as f64 / mem_total).clamp(0.0, 1.0),
        disk: share(u.disk_bytes_net(), totals.disk_bytes)
            .max(share(u.blocked_on_io(), totals.blocked)),
        wakeups: share(u.switches(), totals.switches),
    }
}

/// Whether the stress figures are estimates (no PSI), for reason texts.
pub fn estimated(m: &Machine) -> bool {
    m.pressure_source == PressureSource::Estimate
}

#[cfg(test)]
mod tests;
