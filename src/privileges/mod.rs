//! What the daemon may see of other users' processes, and how it gets that right:
//! Linux file and ambient capabilities, and the macOS sudoers rule for `tailspin save`.

pub mod caps;
#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
pub mod report;
#[cfg(target_os = "linux")]
pub use report::report;
pub mod sudoers;
