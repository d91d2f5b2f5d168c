//! The machine's state in every sample: how many CPUs and how busy, how much memory is left, how
//! fast processes fork and switch, and how much tasks stall (PSI). Pure: platform readers hand
//! [`MachineCounters`] (raw cumulative values) to a [`MachineTracker`], which derives the rates
//! and windows.
//!
//! # Pressure
//! With PSI (`/proc/pressure/{cpu,memory,io}`), each resource's `some` and `full` lines carry the
//! kernel's `avg10` and a cumulative stall time; from the latter the tracker computes the stall
//! share over the last interval, ~10 s and ~60 s (exact windows, no exponential lag). The
//! **effective pressure** the impact score uses is `some` over ~10 s.
//!
//! Without PSI (kernels built or booted without it, macOS) the effective pressure is estimated,
//! and [`Machine::pressure_source`] says so:
//! - cpu: the run-queue wait of every process (Σ `run_delay`) per CPU, i.e. the average number
//!   of tasks waiting for a CPU, per CPU;
//! - memory: how little memory is available (0 % at 15 % of RAM available or more, 100 % at
//!   none), major faults (1000/s per CPU = 100 %), and on macOS the kernel's memory pressure
//!   level (warn = 50 %, critical = 100 %); the highest of these;
//! - io: CPU time idle while I/O was pending (iowait), in cores, capped at one.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Stall shares of one PSI line, percent of wall time.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PsiWindows {
    /// The kernel's own 10 s running average.
    pub avg10: f64,
    /// Over the last sample interval, from the cumulative total.
    pub now: f64,
    /// Over the last ~10 s, from the cumulative total.
    pub w10: f64,
    /// Over the last ~60 s, from the cumulative total.
    pub w60: f64,
}

/// `some` and `full` of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcePsi {
    pub some: PsiWindows,
    pub full: PsiWindows,
}

/// PSI of the three resources.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Psi {
    pub cpu: ResourcePsi,
    pub memory: ResourcePsi,
    pub io: ResourcePsi,
}

/// Where the effective pressure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PressureSource {
    /// Kernel PSI.
    #[default]
    Psi,
    /// No PSI on this machine: estimated from run-queue wait, available memory, major faults
    /// and iowait (see the module documentation).
    Estimate,
}

impl PressureSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PressureSource::Psi => "psi",
            PressureSource::Estimate => "estimate",
        }
    }
}

/// The machine in one sample.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Machine {
    /// CPUs online.
    pub cpus: u32,
    /// CPU time spent working over the last interval, in cores (0 to `cpus`).
    pub cpu_busy: f64,
    /// CPU time idle with I/O pending over the last interval, in cores.
    pub cpu_iowait: f64,
    /// 1-minute load average.
    pub load1: f64,
    /// Tasks runnable and blocked on I/O at the moment of the reading.
    pub procs_running: u32,
    pub procs_blocked: u32,
    /// New processes and threads per second over the last ~3 s (Linux counts every clone).
    pub forks_rate: f64,
    /// Context switches per second, machine-wide, over the last ~3 s.
    pub ctxt_rate: f64,
    /// Bytes.
    pub mem_total: u64,
    pub mem_available: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    /// Kernel PSI; `None` where there is none.
    pub psi: Option<Psi>,
    /// Effective stall shares the impact score uses, percent: PSI `some` over ~10 s, or the
    /// estimates of [`PressureSource::Estimate`].
    pub pressure_cpu: f64,
    pub pressure_memory: f64,
    pub pressure_io: f64,
    pub pressure_source: PressureSource,
}

impl Machine {
    /// Cores busy as a share of all CPUs (0–1).
    pub fn cpu_utilisation(&self) -> f64 {
        if self.cpus == 0 {
            0.0
        } else {
            (self.cpu_busy / f64::from(self.cpus)).clamp(0.0, 1.0)
        }
    }

    /// Share of RAM in use (not available), 0–1.
    pub fn mem_used_fraction(&self) -> f64 {
        if self.mem_total == 0 {
            0.0
        } else {
            1.0 - (self.mem_available as f64 / self.mem_total as f64).clamp(0.0, 1.0)
        }
    }

    /// One line for people: `2 CPUs, 1.9 busy · pressure cpu 64 % mem 0 % io 3 % · 21.5 of
    /// 23.4 GiB available · 12 forks/s · 3.1k switches/s`.
    pub fn summary(&self) -> String {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        let label = match self.pressure_source {
            PressureSource::Psi => "pressure",
            PressureSource::Estimate => "pressure (estimated, no PSI)",
        };
        format!(
            "{} CPUs, {:.1} busy · {label} cpu {:.0} % mem {:.0} % io {:.0} % · {:.1} of {:.1} GiB available · {} forks/s · {} switches/s",
            self.cpus,
            self.cpu_busy,
            self.pressure_cpu,
            self.pressure_memory,
            self.pressure_io,
            gib(self.mem_available),
            gib(self.mem_total),
            human_count(self.forks_rate),
            human_count(self.ctxt_rate),
        )
    }
}

/// `950`, `3.1k`, `1.2M`.
pub fn human_count(v: f64) -> String {
    if !v.is_finite() || v < 0.0 {
        return "0".into();
    }
    if v >= 999_500.0 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 9_950.0 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 999.5 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// One PSI file's raw values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PsiRaw {
    pub some_avg10: f64,
    pub some_total_us: u64,
    pub full_avg10: f64,
    pub full_total_us: u64,
}

/// Cumulative machine-wide counters from a platform reader. Times in ns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MachineCounters {
    pub cpus: u32,
    /// Σ over CPUs of working time, idle-with-I/O-pending time, and all time.
    pub cpu_busy_ns: Option<u64>,
    pub cpu_iowait_ns: Option<u64>,
    pub cpu_total_ns: Option<u64>,
    pub ctxt: Option<u64>,
    pub forks: Option<u64>,
    pub procs_running: u32,
    pub procs_blocked: u32,
    pub load1: f64,
    pub mem_total: u64,
    pub mem_available: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    /// cpu, memory, io.
    pub psi: Option<[PsiRaw; 3]>,
    /// macOS `kern.memorystatus_vm_pressure_level`: 1 normal, 2 warn, 4 critical.
    pub memory_level: Option<u8>,
}

/// What the processes of the pass add for the estimates without PSI.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessTotals {
    /// Σ run-queue wait, ms per second.
    pub runnable_ms: f64,
    /// Σ major faults per second.
    pub pageins: f64,
}

/// How far back PSI totals are kept (the longest window plus slack).
const HISTORY_S: f64 = 65.0;

/// The window of the fork and context-switch rates: long enough that one pass's jitter does not
/// swing them, short next to the 3 s a unit must hold its score.
const RATE_WINDOW_S: f64 = 3.0;

/// Turns successive [`MachineCounters`] into [`Machine`]s.
#[derive(Debug, Default)]
pub struct MachineTracker {
    prev: Option<(f64, MachineCounters)>,
    /// (time, some totals, full totals) of recent readings, oldest first.
    psi_history: VecDeque<(f64, [u64; 3], [u64; 3])>,
    /// (time, forks, context switches) of recent readings, oldest first.
    rate_history: VecDeque<(f64, Option<u64>, Option<u64>)>,
}

fn per_s(prev: Option<u64>, cur: Option<u64>, dt: f64) -> f64 {
    match (prev, cur) {
        (Some(a), Some(b)) => crate::reading::rate(a, b, dt),
        _ => 0.0,
    }
}

impl MachineTracker {
    pub fn new() -> MachineTracker {
        MachineTracker::default()
    }

    /// The machine at monotonic time `now_s` (seconds).
    pub fn update(&mut self, now_s: f64, c: &MachineCounters, procs: &ProcessTotals) -> Machine {
        let cpus = c.cpus.max(1);
        let mut m = Machine {
            cpus,
            load1: c.load1,
            procs_running: c.procs_running,
            procs_blocked: c.procs_blocked,
            mem_total: c.mem_total,
            mem_available: c.mem_available,
            swap_total: c.swap_total,
            swap_free: c.swap_free,
            ..Machine::default()
        };
        while self
            .rate_history
            .front()
            .is_some_and(|(t, ..)| now_s - t > RATE_WINDOW_S + 0.05)
        {
            self.rate_history.pop_front();
        }
        if let Some((t0, forks0, ctxt0)) = self.rate_history.front() {
            m.forks_rate = per_s(*forks0, c.forks, now_s - t0);
            m.ctxt_rate = per_s(*ctxt0, c.ctxt, now_s - t0);
        }
        self.rate_history.push_back((now_s, c.forks, c.ctxt));
        if let Some((_, p)) = &self.prev {
            // CPU shares from the machine's own accounting of all its time, so a VM's steal and
            // a tick's rounding do not bend them.
            let total = per_s(p.cpu_total_ns, c.cpu_total_ns, 1.0);
            if total > 0.0 {
                let cores =
                    |a: Option<u64>, b: Option<u64>| per_s(a, b, 1.0) / total * f64::from(cpus);
                m.cpu_busy = cores(p.cpu_busy_ns, c.cpu_busy_ns).min(f64::from(cpus));
                m.cpu_iowait = cores(p.cpu_iowait_ns, c.cpu_iowait_ns);
            }
        }
        match c.psi {
            Some(raw) => {
                m.psi = Some(self.psi(now_s, &raw));
                m.pressure_source = PressureSource::Psi;
                if let Some(p) = &m.psi {
                    m.pressure_cpu = p.cpu.some.w10;
                    m.pressure_memory = p.memory.some.w10;
                    m.pressure_io = p.io.some.w10;
                }
            }
            None => {
                self.psi_history.clear();
                m.pressure_source = PressureSource::Estimate;
                let n = f64::from(cpus);
                m.pressure_cpu = (procs.runnable_ms / 1000.0 / n * 100.0).clamp(0.0, 100.0);
                let avail = if c.mem_total > 0 {
                    c.mem_available as f64 / c.mem_total as f64
                } else {
                    1.0
                };
                let scarce = ((0.15 - avail) / 0.15).clamp(0.0, 1.0) * 100.0;
                let faults = (procs.pageins / (1000.0 * n) * 100.0).clamp(0.0, 100.0);
                let level = match c.memory_level {
                    Some(l) if l >= 4 => 100.0,
                    Some(l) if l >= 2 => 50.0,
                    _ => 0.0,
                };
                m.pressure_memory = scarce.max(faults).max(level);
                m.pressure_io = (m.cpu_iowait * 100.0).clamp(0.0, 100.0);
            }
        }
        self.prev = Some((now_s, *c));
        m
    }

    fn psi(&mut self, now_s: f64, raw: &[PsiRaw; 3]) -> Psi {
        let some = raw.map(|r| r.some_total_us);
        let full = raw.map(|r| r.full_total_us);
        self.psi_history.push_back((now_s, some, full));
        while self
            .psi_history
            .front()
            .is_some_and(|(t, ..)| now_s - t > HISTORY_S)
        {
            self.psi_history.pop_front();
        }
        // The share of [now - window, now] stalled, from the reading closest to the window's
        // start (the oldest one when the history is shorter than the window).
        let window = |i: usize, is_full: bool, seconds: f64| -> f64 {
            let start = self
                .psi_history
                .iter()
                .find(|(t, ..)| now_s - t <= seconds + 0.05)
                .or(self.psi_history.front());
            let Some((t0, s0, f0)) = start else {
                return 0.0;
            };
            let dt = now_s - t0;
            let (a, b) = if is_full {
                (f0[i], full[i])
            } else {
                (s0[i], some[i])
            };
            (crate::reading::rate(a, b, dt) / 1e6 * 100.0).clamp(0.0, 100.0)
        };
        let last = self
            .psi_history
            .len()
            .checked_sub(2)
            .map(|k| self.psi_history[k]);
        let now = |i: usize, is_full: bool| -> f64 {
            let Some((t0, s0, f0)) = last else {
                return 0.0;
            };
            let (a, b) = if is_full {
                (f0[i], full[i])
            } else {
                (s0[i], some[i])
            };
            (crate::reading::rate(a, b, now_s - t0) / 1e6 * 100.0).clamp(0.0, 100.0)
        };
        let res = |i: usize| ResourcePsi {
            some: PsiWindows {
                avg10: raw[i].some_avg10,
                now: now(i, false),
                w10: window(i, false, 10.0),
                w60: window(i, false, 60.0),
            },
            full: PsiWindows {
                avg10: raw[i].full_avg10,
                now: now(i, true),
                w10: window(i, true, 10.0),
                w60: window(i, true, 60.0),
            },
        };
        Psi {
            cpu: res(0),
            memory: res(1),
            io: res(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(busy_s: f64, total_s: f64, psi_cpu_us: u64) -> MachineCounters {
        MachineCounters {
            cpus: 2,
            cpu_busy_ns: Some((busy_s * 1e9) as u64),
            cpu_iowait_ns: Some(0),
            cpu_total_ns: Some((total_s * 1e9) as u64),
            ctxt: Some((total_s * 1000.0) as u64),
            forks: Some((total_s * 10.0) as u64),
            mem_total: 8 << 30,
            mem_available: 6 << 30,
            psi: Some([
                PsiRaw {
                    some_total_us: psi_cpu_us,
                    some_avg10: 12.0,
                    ..PsiRaw::default()
                },
                PsiRaw::default(),
                PsiRaw::default(),
            ]),
            ..MachineCounters::default()
        }
    }

    #[test]
    fn busy_cores_rates_and_psi_windows_come_from_totals() {
        let mut t = MachineTracker::new();
        // 2 CPUs, so 2 s of CPU time per wall second; 1.5 of them busy; cpu PSI 64 % stalled.
        let mut m = Machine::default();
        for i in 0..=30 {
            let wall = f64::from(i) * 0.5;
            m = t.update(
                wall,
                &counters(1.5 * wall, 2.0 * wall, (0.64 * wall * 1e6) as u64),
                &ProcessTotals::default(),
            );
        }
        assert!((m.cpu_busy - 1.5).abs() < 1e-6, "{}", m.cpu_busy);
        assert!((m.ctxt_rate - 2000.0).abs() < 1.0, "{}", m.ctxt_rate);
        assert!((m.forks_rate - 20.0).abs() < 0.5);
        let psi = m.psi.unwrap();
        assert!((psi.cpu.some.now - 64.0).abs() < 0.1);
        assert!((psi.cpu.some.w10 - 64.0).abs() < 0.1);
        assert!(
            (psi.cpu.some.w60 - 64.0).abs() < 0.1,
            "history shorter than 60 s"
        );
        assert_eq!(psi.cpu.some.avg10, 12.0);
        assert_eq!(m.pressure_source, PressureSource::Psi);
        assert_eq!(m.pressure_cpu, psi.cpu.some.w10);
        assert!((m.mem_used_fraction() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn a_ten_second_window_forgets_an_old_stall() {
        let mut t = MachineTracker::new();
        let mut total = 0u64;
        let mut m = Machine::default();
        for i in 0..=120 {
            let wall = f64::from(i) * 0.5;
            // Fully stalled for the first 30 s, then nothing.
            if wall <= 30.0 && i > 0 {
                total += 500_000;
            }
            m = t.update(
                wall,
                &counters(0.0, 2.0 * wall, total),
                &ProcessTotals::default(),
            );
        }
        let p = m.psi.unwrap().cpu.some;
        assert!(p.w10 < 0.01, "{}", p.w10);
        assert!((p.w60 - 50.0).abs() < 1.5, "{}", p.w60);
    }

    #[test]
    fn without_psi_pressure_is_estimated_and_says_so() {
        let mut t = MachineTracker::new();
        let c = MachineCounters {
            cpus: 2,
            mem_total: 100,
            mem_available: 5,
            ..MachineCounters::default()
        };
        let m = t.update(
            0.0,
            &c,
            &ProcessTotals {
                runnable_ms: 1000.0,
                pageins: 0.0,
            },
        );
        assert_eq!(m.pressure_source, PressureSource::Estimate);
        assert_eq!(m.psi, None);
        assert!(
            (m.pressure_cpu - 50.0).abs() < 1e-9,
            "1 task waiting per 2 CPUs"
        );
        assert!((m.pressure_memory - 66.666).abs() < 0.01, "5 % available");
        let c = MachineCounters {
            memory_level: Some(4),
            mem_total: 100,
            mem_available: 90,
            ..c
        };
        let m = t.update(1.0, &c, &ProcessTotals::default());
        assert_eq!(m.pressure_memory, 100.0, "macOS critical level");
        assert!(m.summary().contains("estimated, no PSI"));
    }

    #[test]
    fn human_counts() {
        assert_eq!(human_count(950.0), "950");
        assert_eq!(human_count(3_140.0), "3.1k");
        assert_eq!(human_count(289_000.0), "289k");
        assert_eq!(human_count(1_200_000.0), "1.2M");
        assert_eq!(human_count(f64::NAN), "0");
    }
}
