//! Process sampling: one pass reads every process and produces a scored [`Sample`].
//!
//! The daemon owns one [`Sampler`] on a dedicated thread and calls [`Sampler::sample`] once per
//! tick. A pass only reads the kernel's process tables (`/proc` on Linux, libproc on macOS) and
//! computes; it never writes, logs per process, or waits on anything but those reads. Rates are
//! per process against its previous reading, over measured monotonic time, and a process is
//! identified by (pid, start time), so a reused pid starts with fresh baselines.
//!
//! - Linux: [`linux::LinuxSampler`], a hand-written procfs reader with held fds.
//! - macOS: `macos::MacSampler`, libproc through `libc`.

mod pass;

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "macos")]
pub mod macos;

use crate::config::Config;
use crate::model::Sample;
use std::path::PathBuf;

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
    /// The proc root cannot be opened or listed.
    #[error("cannot read the process list at {}: {source}", path.display())]
    ProcRoot {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `btime` is missing from `<proc root>/stat`, so start times cannot be computed.
    #[error("cannot read the boot time from {}: {reason}", path.display())]
    BootTime { path: PathBuf, reason: String },
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
