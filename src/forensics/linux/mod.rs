//! Linux evidence sources: a sampled profile (perf), threads and kernel stacks from /proc, binary images with build-ids,
//! and the kernel log.

pub mod images;
pub mod kmsg;
pub mod parts;
/// The sampled profile needs an unwinder for the CPU: x86-64 and aarch64.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub mod profile;
pub mod threads;
