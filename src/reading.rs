//! What a platform reader reports about one process in one pass, and the one place rates are
//! derived from two readings.
//!
//! Readers (the Linux procfs reader, the macOS libproc sampler) return **raw cumulative
//! counters** and instantaneous values; they never divide by time. [`Rates::between`] turns the
//! previous and current counters and the time between them into per-second rates, the same way
//! on every platform (the model below's `procfs` → `model` split follows: rates are derived once,
//! from two samples).

use crate::model::ProcState;
use std::sync::Arc;

/// Per-second rate of a cumulative counter between two readings `dt_s` seconds apart: 0 when no
/// time passed or the counter did not grow (a reset, a wrap, a GPU client that closed). A first
/// sighting has no previous reading and gets 0 without calling this.
pub fn rate(prev: u64, cur: u64, dt_s: f64) -> f64 {
    if dt_s > 0.0 && cur > prev {
        (cur - prev) as f64 / dt_s
    } else {
        0.0
    }
}

/// Cumulative counters of one process. Times are nanoseconds; `None` means the source could not
/// be read (permission), so no rate is computed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// On-CPU time of the process (all threads, live and exited).
    pub cpu_ns: u64,
    /// CPU time of its children that exited and were waited for (Linux `cutime + cstime`,
    /// macOS `ri_child_user_time + ri_child_system_time`).
    pub child_cpu_ns: u64,
    /// Major faults (page-ins).
    pub pageins: u64,
    /// Minor + major faults.
    pub faults: u64,
    /// Bytes read from and written to storage.
    pub disk_io: Option<u64>,
    /// Linux: read/write-family system calls only; macOS: every system call.
    pub syscalls: Option<u64>,
    /// Context switches (voluntary + involuntary).
    pub csw: u64,
    /// Wakeups (macOS: idle and interrupt wakeups; Linux: voluntary switches, see
    /// [`ProcessReading::wakeups_span`]).
    pub wakeups: u64,
    /// Time runnable but waiting for a CPU.
    pub runnable_ns: u64,
    /// GPU engine time (accumulated growth of the clients seen at two readings).
    pub gpu_ns: u64,
    /// macOS only: billed energy, Mach messages, user-interactive QoS time.
    pub energy: u64,
    pub mach_msgs: u64,
    pub qos_ns: u64,
}

/// A counter read at a slower cadence than the pass (Linux reads voluntary switches from the
/// expensive `status` file every few passes): its last two readings and the time between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub prev: u64,
    pub cur: u64,
    pub elapsed_s: f64,
}

/// One process as a platform reader saw it in one pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProcessReading {
    pub pid: u32,
    pub ppid: u32,
    /// Process group (0 for kernel threads and where unknown).
    pub pgid: u32,
    pub uid: u32,
    pub command: String,
    /// Process start, epoch seconds.
    pub start_time: f64,
    pub state: ProcState,
    pub priority: i32,
    pub threads: u32,
    pub kernel_thread: bool,
    /// Resident footprint (Linux RssAnon + RssShmem + VmSwap; macOS phys_footprint), bytes.
    pub mem: u64,
    pub mem_peak: u64,
    /// Lifetime hardware counters (macOS only).
    pub instructions: u64,
    pub cycles: u64,
    /// Lifetime GPU time, ns.
    pub gpu_time: u64,
    /// The resource-control group the process lives in, when the platform has one that names a
    /// unit (Linux: the cgroup v2 path; macOS: the resource coalition id).
    pub group: Option<Arc<str>>,
    /// Counters now.
    pub now: Counters,
    /// Counters at the previous pass, and the seconds since; `None` on a first sighting.
    pub prev: Option<(Counters, f64)>,
    /// When set, the wakeups rate comes from this span instead of `prev`/`now`.
    pub wakeups_span: Option<Span>,
}

/// Per-second rates of one process. CPU figures are in cores (1.0 = one core busy).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rates {
    pub cpu_cores: f64,
    pub child_cpu_cores: f64,
    pub pageins: f64,
    pub faults: f64,
    pub disk_io: f64,
    pub syscalls: f64,
    pub csw: f64,
    pub wakeups: f64,
    /// ms of run-queue wait per second.
    pub runnable_ms: f64,
    /// ms of GPU engine time per second.
    pub gpu_ms: f64,
    pub energy: f64,
    pub mach_msgs: f64,
    /// ms of user-interactive QoS CPU per second.
    pub qos_ms: f64,
}

impl Rates {
    /// Rates between two readings `dt_s` seconds apart. Every counter follows [`rate`]; a
    /// counter unreadable at either end gives 0.
    pub fn between(prev: &Counters, cur: &Counters, dt_s: f64) -> Rates {
        let r = |a: u64, b: u64| rate(a, b, dt_s);
        let opt = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => rate(a, b, dt_s),
            _ => 0.0,
        };
        Rates {
            cpu_cores: r(prev.cpu_ns, cur.cpu_ns) / 1e9,
            child_cpu_cores: r(prev.child_cpu_ns, cur.child_cpu_ns) / 1e9,
            pageins: r(prev.pageins, cur.pageins),
            faults: r(prev.faults, cur.faults),
            disk_io: opt(prev.disk_io, cur.disk_io),
            syscalls: opt(prev.syscalls, cur.syscalls),
            csw: r(prev.csw, cur.csw),
            wakeups: r(prev.wakeups, cur.wakeups),
            runnable_ms: r(prev.runnable_ns, cur.runnable_ns) / 1e6,
            gpu_ms: r(prev.gpu_ns, cur.gpu_ns) / 1e6,
            energy: r(prev.energy, cur.energy),
            mach_msgs: r(prev.mach_msgs, cur.mach_msgs),
            qos_ms: r(prev.qos_ns, cur.qos_ns) / 1e6,
        }
    }

    /// The rates of a reading: zero on a first sighting.
    pub fn of(reading: &ProcessReading) -> Rates {
        let mut r = match &reading.prev {
            Some((prev, dt)) => Rates::between(prev, &reading.now, *dt),
            None => Rates::default(),
        };
        if let Some(s) = reading.wakeups_span {
            r.wakeups = if reading.prev.is_some() {
                rate(s.prev, s.cur, s.elapsed_s)
            } else {
                0.0
            };
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_originals_rules() {
        assert_eq!(rate(100, 300, 2.0), 100.0);
        assert_eq!(rate(300, 100, 2.0), 0.0, "a counter going backwards is 0");
        assert_eq!(rate(100, 100, 2.0), 0.0);
        assert_eq!(rate(100, 300, 0.0), 0.0, "no time, no rate");
    }

    #[test]
    fn rates_between_two_readings_in_their_units() {
        let prev = Counters {
            cpu_ns: 1_000_000_000,
            child_cpu_ns: 0,
            disk_io: Some(0),
            syscalls: None,
            runnable_ns: 0,
            gpu_ns: 0,
            ..Counters::default()
        };
        let cur = Counters {
            cpu_ns: 1_500_000_000,
            child_cpu_ns: 250_000_000,
            disk_io: Some(4096),
            syscalls: Some(10),
            runnable_ns: 100_000_000,
            gpu_ns: 50_000_000,
            csw: 30,
            ..Counters::default()
        };
        let r = Rates::between(&prev, &cur, 0.5);
        assert_eq!(r.cpu_cores, 1.0);
        assert_eq!(r.child_cpu_cores, 0.5);
        assert_eq!(r.disk_io, 8192.0);
        assert_eq!(r.syscalls, 0.0, "unreadable before: no rate");
        assert_eq!(r.runnable_ms, 200.0);
        assert_eq!(r.gpu_ms, 100.0);
        assert_eq!(r.csw, 60.0);
    }

    #[test]
    fn a_first_sighting_has_no_rates_and_a_span_overrides_wakeups() {
        let mut reading = ProcessReading {
            now: Counters {
                cpu_ns: 5,
                wakeups: 99,
                ..Counters::default()
            },
            wakeups_span: Some(Span {
                prev: 10,
                cur: 40,
                elapsed_s: 1.0,
            }),
            ..ProcessReading::default()
        };
        assert_eq!(Rates::of(&reading), Rates::default());
        reading.prev = Some((Counters::default(), 0.5));
        let r = Rates::of(&reading);
        assert_eq!(r.wakeups, 30.0, "from the span, not from prev/now");
        assert_eq!(r.cpu_cores, 10.0 / 1e9);
    }
}
