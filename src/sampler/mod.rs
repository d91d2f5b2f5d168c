//! Process sampling: one pass reads every process and produces a scored [`Sample`].
//!
//! The daemon owns one [`Sampler`] on a dedicated thread and calls [`Sampler::sample`] once per
//! tick. A pass only reads the kernel's process tables (`/proc` on Linux, libproc on macOS) and
//! computes; it never writes, logs per process, or waits on anything but those reads.
//!
//! A pass, on every platform:
//! 1. the platform reader returns raw readings: identity, gauges, cumulative counters and the
//!    previous pass's counters ([`crate::reading::ProcessReading`]), and the machine's counters;
//! 2. rates come from one function of (previous, current, elapsed) ([`crate::reading::Rates`]),
//!    over measured monotonic time; a process is identified by (pid, start time), so a reused
//!    pid starts with fresh baselines;
//! 3. `derive` adds what needs more than two readings (exited children's CPU counted once,
//!    children spawned, time in D state), and [`crate::machine`] the machine's state;
//! 4. the scoring model runs: `impact` groups processes into units ([`crate::units`]) and
//!    scores each ([`crate::impact`]); `fair-share` scores each process ([`crate::score`]).
//!
//! - Linux: [`linux::LinuxSampler`], over [`crate::procfs`].
//! - macOS: `macos::MacSampler`, libproc through `libc`.

mod derive;
mod pass;

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "macos")]
pub mod macos;

use crate::config::Config;
use crate::model::Sample;

/// Reads every process once per call.
pub trait Sampler: Send {
    /// One full pass. `seq` counts passes from 1; `processes` are sorted by score (ties in
    /// enumeration order); a process that exits mid-pass is simply absent. An `Err` means no
    /// pass was possible at all (the process list itself could not be read); the next call may
    /// succeed.
    fn sample(&mut self) -> Result<Sample, SamplerError>;
}

/// Why a sampler could not be built or a whole pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// The proc root cannot be opened or listed, or has no boot time.
    #[error(transparent)]
    Procfs(#[from] crate::procfs::ProcfsError),
    /// The platform's process list call failed.
    #[error("cannot list processes: {0}")]
    ListPids(#[source] std::io::Error),
    /// No sampler exists for this operating system.
    #[error("process sampling is not supported on this operating system")]
    Unsupported,
}

/// The sampler of this platform, configured from `[sampler]`, `[scoring]`, `[bands]` and
/// `[rogue_selection]`.
pub fn platform_sampler(config: &Config) -> Result<Box<dyn Sampler>, SamplerError> {
    #[cfg(target_os = "linux")]
    {
        Ok(Box::new(linux::LinuxSampler::new(config)?))
    }
    #[cfg(target_os = "macos")]
    {
        Ok(Box::new(macos::MacSampler::new(config)?))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        let _ = config;
        Err(SamplerError::Unsupported)
    }
}
