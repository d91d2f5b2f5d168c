//! Forensic captures: what a culprit and the machine were doing when a process turned critical.

pub mod calltree;
pub mod culprits;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod logs;
pub mod spindump;
pub mod tool;
