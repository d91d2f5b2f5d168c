//! The Linux sampler: every process through [`ProcReader`] (held fds, `pread`), the machine-wide
//! files through [`SystemReader`], and the shared end of a pass (rates, units, scores). How the
//! files are read, and what each field comes from, is documented in [`crate::procfs`].

use super::pass::{PassInput, PassState};
use crate::config::Config;
use crate::machine::{MachineCounters, PsiRaw};
use crate::model::Sample;
use crate::procfs::{self, ProcReader, ReaderOptions, SystemReader, SystemReading};
use crate::sampler::{Sampler, SamplerError};
use std::path::Path;
use std::time::Instant;

/// Samples every process under a procfs root.
pub struct LinuxSampler {
    reader: ProcReader,
    system: SystemReader,
    state: PassState,
    ns_per_tick: u64,
    readings: Vec<crate::reading::ProcessReading>,
}

impl LinuxSampler {
    /// Opens `[sampler] proc_root`, reads the boot time and raises RLIMIT_NOFILE.
    pub fn new(config: &Config) -> Result<LinuxSampler, SamplerError> {
        let root = Path::new(&config.sampler.proc_root);
        let reader = ProcReader::open(
            root,
            ReaderOptions {
                include_kernel_threads: config.sampler.include_kernel_threads,
                status_interval_samples: config.sampler.status_interval_samples,
            },
        )?;
        Ok(LinuxSampler {
            reader,
            system: SystemReader::open(root),
            state: PassState::new(config),
            ns_per_tick: 1_000_000_000 / procfs::clock_ticks_per_second(),
            readings: Vec::new(),
        })
    }

    /// Processes known to the sampler (sampled or excluded), for memory accounting.
    pub fn tracked_processes(&self) -> usize {
        self.reader.tracked_processes()
    }

    /// Fds the sampler holds open.
    pub fn held_fds(&self) -> usize {
        self.reader.held_fds()
    }
}

/// The machine's counters from one reading of the system files.
pub(crate) fn machine_counters(s: &SystemReading, ns_per_tick: u64) -> MachineCounters {
    let mut c = MachineCounters::default();
    if let Some(st) = &s.stat {
        let ns = |ticks: u64| ticks.saturating_mul(ns_per_tick);
        c.cpus = st.cpus;
        c.cpu_busy_ns = Some(ns(st.cpu.busy()));
        c.cpu_iowait_ns = Some(ns(st.cpu.iowait));
        c.cpu_total_ns = Some(ns(st.cpu.total()));
        c.ctxt = Some(st.ctxt);
        c.forks = Some(st.processes);
        c.procs_running = st.procs_running;
        c.procs_blocked = st.procs_blocked;
    }
    if c.cpus == 0 {
        c.cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    }
    if let Some(m) = &s.meminfo {
        c.mem_total = m.mem_total_kb.saturating_mul(1024);
        c.mem_available = m
            .mem_available_kb
            .unwrap_or(m.mem_free_kb.saturating_add(m.cached_kb))
            .saturating_mul(1024);
        c.swap_total = m.swap_total_kb.saturating_mul(1024);
        c.swap_free = m.swap_free_kb.saturating_mul(1024);
    }
    if let Some(l) = &s.loadavg {
        c.load1 = l.one;
    }
    if let [Some(cpu), Some(mem), Some(io)] = s.pressure {
        c.psi = Some([cpu, mem, io].map(|p| {
            let full = p.full.unwrap_or_default();
            PsiRaw {
                some_avg10: p.some.avg10,
                some_total_us: p.some.total_us,
                full_avg10: full.avg10,
                full_total_us: full.total_us,
            }
        }));
    }
    c
}

impl Sampler for LinuxSampler {
    fn sample(&mut self) -> Result<Sample, SamplerError> {
        let started = Instant::now();
        let mut readings = std::mem::take(&mut self.readings);
        readings.clear();
        let stats = self.reader.read_all(&mut readings)?;
        let machine = machine_counters(&self.system.read(), self.ns_per_tick);
        Ok(self.state.finish(PassInput {
            started,
            readings,
            machine,
            access_denied: stats.access_denied,
        }))
    }
}

#[cfg(test)]
#[path = "linux_tests.rs"]
mod tests;
