//! Linux evidence sources: threads and kernel stacks from /proc, binary images with build-ids,
//! and the kernel log.

pub mod images;
pub mod kmsg;
pub mod parts;
pub mod threads;
