//! The one-line reason of a score: `cpu: 1.9 of 2 cores for 14 s, cpu pressure 64 %`.

use super::Usage;
use crate::machine::{Machine, PressureSource, human_count};
use crate::model::Resource;

/// What a reason line is built from.
pub(super) struct Facts<'a> {
    pub dominant: Resource,
    /// The cpu score comes from forking rather than cores.
    pub fork_led: bool,
    pub usage: &'a Usage,
    pub machine: &'a Machine,
    pub switch_cost_s: f64,
    /// How long the raw score has been at or above the tracking threshold.
    pub held_for: Option<f64>,
    /// Bytes above the decayed average when the growth rule fired.
    pub grown_by: Option<f64>,
    /// The memory score comes from major faults under pressure.
    pub fault_led: bool,
    /// The memory score comes from the io pressure of its own major faults.
    pub paging_led: bool,
    /// The memory score comes from growing this fast (bytes/s).
    pub growth: Option<f64>,
    /// The unit's share of all context switches.
    pub switch_share: f64,
}

/// `1.5 GiB`, `480 MiB`, `12 KiB`.
pub fn bytes(b: f64) -> String {
    const KIB: f64 = 1024.0;
    if b >= KIB * KIB * KIB {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    } else if b >= KIB * KIB {
        format!("{:.0} MiB", b / (KIB * KIB))
    } else if b >= KIB {
        format!("{:.0} KiB", b / KIB)
    } else {
        format!("{:.0} B", b.max(0.0))
    }
}

fn pressure(m: &Machine, what: &str, pct: f64) -> String {
    match m.pressure_source {
        PressureSource::Psi => format!("{what} pressure {pct:.0} %"),
        PressureSource::Estimate => format!("{what} pressure ~{pct:.0} % (estimated, no PSI)"),
    }
}

fn held(f: &Facts<'_>) -> String {
    match f.held_for {
        Some(s) if s >= 1.0 => format!(" for {s:.0} s"),
        _ => String::new(),
    }
}

/// The reason line.
pub(super) fn line(f: &Facts<'_>) -> String {
    let u = f.usage;
    let m = f.machine;
    match f.dominant {
        Resource::Cpu => {
            let cores = u.cores + u.child_cores;
            let mut s = format!("cpu: {cores:.1} of {} cores", m.cpus);
            if u.child_cores >= 0.05 {
                s.push_str(&format!(" ({:.1} in exited children)", u.child_cores));
            }
            s.push_str(&held(f));
            if f.fork_led || u.spawn_rate >= 50.0 {
                s.push_str(&format!(", {} new processes/s", human_count(u.spawn_rate)));
            }
            s.push_str(", ");
            s.push_str(&pressure(m, "cpu", m.pressure_cpu));
            s
        }
        Resource::Memory => {
            let share = if m.mem_total > 0 {
                u.mem as f64 / m.mem_total as f64 * 100.0
            } else {
                0.0
            };
            let mut s = format!("memory: {} ({share:.0} % of RAM)", bytes(u.mem as f64));
            if f.fault_led || f.paging_led {
                s.push_str(&format!(", {} major faults/s", human_count(u.pageins)));
            }
            if let Some(g) = f.growth {
                s.push_str(&format!(", growing {}/s", bytes(g)));
                if g > 0.0 {
                    s.push_str(&format!(
                        " (RAM runs out in {:.0} s at this pace)",
                        m.mem_available as f64 / g
                    ));
                }
            }
            if let Some(g) = f.grown_by {
                s.push_str(&format!(", {} above its recent average", bytes(g)));
            }
            s.push_str(&held(f));
            s.push_str(&format!(", {} available, ", bytes(m.mem_available as f64)));
            s.push_str(&pressure(m, "memory", m.pressure_memory));
            if f.paging_led {
                s.push_str(", ");
                s.push_str(&pressure(m, "io", m.pressure_io));
            }
            s
        }
        Resource::Disk => {
            let mut s = format!("disk: {}/s", bytes(u.disk_bytes));
            if u.blocked >= 0.05 {
                s.push_str(&format!(
                    ", blocked on I/O {:.0} % of the time",
                    (u.blocked * 100.0).min(100.0 * f64::from(u.members.max(1)))
                ));
            }
            s.push_str(&held(f));
            s.push_str(", ");
            s.push_str(&pressure(m, "io", m.pressure_io));
            s
        }
        Resource::Wakeups => {
            let switches = (u.csw - u.io_waits).max(0.0);
            let mut s = format!(
                "wakeups: {} switches/s ({:.0} % of all)",
                human_count(switches),
                f.switch_share * 100.0
            );
            let cost = (switches * f.switch_cost_s).min(u.cores + u.child_cores);
            if cost >= 0.05 {
                s.push_str(&format!(", ~{cost:.1} cores spent switching"));
            }
            s.push_str(&held(f));
            s.push_str(&format!(
                ", {} per CPU machine-wide",
                human_count(m.ctxt_rate / f64::from(m.cpus.max(1)))
            ));
            s
        }
        Resource::Gpu => format!("gpu: {:.0} ms/s of engine time{}", u.gpu_ms, held(f)),
    }
}
