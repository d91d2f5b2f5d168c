//! Forensic captures: what a culprit and the machine were doing when a process turned critical.
//!
//! The [`worker`] runs one capture at a time off the sampler's path; each capture has four
//! parts — the frozen ring buffer, the culprits' stacks, the system log, and (macOS) the
//! spindump decode — that each end `success`, `failed`, `skipped` or `timeout` with a reason.

pub mod calltree;
pub mod culprits;
pub mod flame_tree;
pub mod hot_paths;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod logs;
#[cfg(target_os = "macos")]
pub mod macos;
pub mod spindump;
pub mod tool;
pub mod worker;

use crate::config::{Config, UserStacks};
use crate::paths::Paths;
use std::path::PathBuf;
use std::time::Duration;

/// The forensics settings, taken from the config once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub enabled: bool,
    /// Minimum time between the starts of two automatic captures.
    pub min_interval: Duration,
    /// Triggers this soon after a capture started join it.
    pub debounce: Duration,
    pub stack_culprits: usize,
    pub stack_samples: u32,
    pub stack_interval: Duration,
    pub user_stacks: UserStacks,
    /// Length of the sampled profile (Linux); zero: no profile.
    pub profile_duration: Duration,
    pub profile_hz: u32,
    pub profile_max_threads: usize,
    pub tool_timeout: Duration,
    pub log_seconds: u32,
    pub shutdown_wait: Duration,
    pub proc_root: PathBuf,
    pub runtime_dir: PathBuf,
}

impl Settings {
    pub fn from_config(c: &Config, paths: &Paths) -> Settings {
        let f = &c.forensics;
        let secs = |v: f64| Duration::from_secs_f64(v.max(0.0));
        Settings {
            enabled: f.enabled,
            min_interval: secs(f.min_interval_s),
            debounce: secs(c.system.forensics_debounce),
            stack_culprits: f.stack_culprits as usize,
            stack_samples: f.stack_samples.max(1),
            stack_interval: Duration::from_millis(u64::from(f.stack_sample_interval_ms)),
            user_stacks: f.user_stacks,
            profile_duration: secs(f.profile_seconds),
            profile_hz: f.profile_hz.clamp(1, 99),
            profile_max_threads: f.profile_max_threads.max(1) as usize,
            tool_timeout: secs(f.tool_timeout_s),
            log_seconds: c.system.forensics_log_seconds,
            shutdown_wait: secs(f.shutdown_wait_s),
            proc_root: PathBuf::from(&c.sampler.proc_root),
            runtime_dir: paths.runtime_dir.clone(),
        }
    }
}
