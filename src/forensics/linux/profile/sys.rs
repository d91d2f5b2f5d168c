//! The system side of a profile: `perf_event_open` for one thread, its ring buffer mapped into
//! the daemon, and the ioctls that enable, pause and redirect events. Everything else in the
//! profiler is plain data.

use super::arch;
use super::record::SAMPLE_TYPE;
use perf_event_open_sys::bindings as b;
use perf_event_open_sys::ioctls;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// Which event to open on a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `cpu-clock`: a sample every period of CPU time the thread uses (on-CPU), plus a
    /// `PERF_RECORD_SWITCH` each time it leaves or gets back on a CPU.
    OnCpu,
    /// `context-switches`, period 1: a sample each time the thread leaves the CPU (off-CPU).
    OffCpu,
}

/// How events are opened.
#[derive(Debug, Clone, Copy)]
pub struct EventSpec {
    pub kind: Kind,
    /// On-CPU sampling period in nanoseconds of CPU time.
    pub period_ns: u64,
    /// Bytes of user stack copied with each sample.
    pub stack_bytes: u32,
    /// Kernel frames are left out (what an unprivileged user may open).
    pub user_only: bool,
    /// Size of the ring the event's records go to: poll() wakes when a quarter is used.
    pub ring_bytes: u32,
}

/// An open perf event.
pub struct Event {
    fd: OwnedFd,
    /// The kernel's id for the event (`PERF_SAMPLE_IDENTIFIER` in its samples).
    pub id: u64,
}

impl Event {
    /// Opens `spec` on thread `tid`, disabled.
    pub fn open(tid: u32, spec: &EventSpec) -> io::Result<Event> {
        if let Some(e) = injected_failure() {
            return Err(e);
        }
        let mut attr = attr(spec);
        let pid =
            libc::pid_t::try_from(tid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        // SAFETY: attr is a valid, fully initialised perf_event_attr that outlives the call.
        let fd = unsafe {
            perf_event_open_sys::perf_event_open(
                &mut attr,
                pid,
                -1,
                -1,
                b::PERF_FLAG_FD_CLOEXEC as _,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by perf_event_open and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut id = 0u64;
        // SAFETY: fd is a perf event; id is a valid u64 to write to.
        if unsafe { ioctls::ID(fd.as_raw_fd(), &mut id) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Event { fd, id })
    }

    pub fn enable(&self) -> io::Result<()> {
        // SAFETY: fd is a perf event.
        check(unsafe { ioctls::ENABLE(self.fd.as_raw_fd(), 0) })
    }

    pub fn disable(&self) -> io::Result<()> {
        // SAFETY: fd is a perf event.
        check(unsafe { ioctls::DISABLE(self.fd.as_raw_fd(), 0) })
    }

    /// Sends this event's records to `ring`'s buffer (same thread, so one buffer serves both).
    pub fn output_to(&self, ring: &Ring) -> io::Result<()> {
        // SAFETY: both fds are perf events on the same thread.
        check(unsafe { ioctls::SET_OUTPUT(self.fd.as_raw_fd(), ring.fd) })
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A debug build may be told to act as if the kernel refused every event
/// (`ROGUE_HUNTER_TEST_PERF_FAIL=1`), so the fallback is testable where perf works. Release
/// builds never read it.
fn injected_failure() -> Option<io::Error> {
    if cfg!(debug_assertions) && std::env::var_os("ROGUE_HUNTER_TEST_PERF_FAIL").is_some() {
        return Some(io::Error::from_raw_os_error(libc::EACCES));
    }
    None
}

fn attr(spec: &EventSpec) -> b::perf_event_attr {
    // SAFETY: perf_event_attr is plain old data; all zeroes is its documented default.
    let mut a: b::perf_event_attr = unsafe { std::mem::zeroed() };
    a.size = std::mem::size_of::<b::perf_event_attr>() as u32;
    a.type_ = b::PERF_TYPE_SOFTWARE;
    a.sample_type = SAMPLE_TYPE;
    a.sample_regs_user = arch::REGS_MASK;
    a.sample_stack_user = spec.stack_bytes;
    a.set_disabled(1);
    a.set_exclude_hv(1);
    a.set_exclude_kernel(u64::from(spec.user_only));
    // The kernel gives kernel frames; user frames are unwound here from the copied stack
    // (distro code has no frame pointers for the kernel to follow).
    a.set_exclude_callchain_user(1);
    a.set_sample_id_all(1);
    a.set_use_clockid(1);
    a.clockid = libc::CLOCK_MONOTONIC;
    match spec.kind {
        Kind::OnCpu => {
            a.config = u64::from(b::PERF_COUNT_SW_CPU_CLOCK);
            a.__bindgen_anon_1.sample_period = spec.period_ns.max(1);
            a.set_context_switch(1);
        }
        Kind::OffCpu => {
            a.config = u64::from(b::PERF_COUNT_SW_CONTEXT_SWITCHES);
            a.__bindgen_anon_1.sample_period = 1;
        }
    }
    // Wake a poll() once a quarter of the ring is used, so a busy thread is drained well
    // before its ring fills.
    a.set_watermark(1);
    a.__bindgen_anon_2.wakeup_watermark = (spec.ring_bytes / 4).max(1);
    a
}

/// A thread's ring buffer: one metadata page and `2^n` data pages shared with the kernel.
pub struct Ring {
    fd: i32,
    base: *mut u8,
    map_len: usize,
    data_size: u64,
    /// Where a record that wraps around the end is put back together.
    scratch: Vec<u8>,
}

// SAFETY: the mapping belongs to this value alone; the kernel writes it concurrently by
// design, and access goes through the head/tail protocol.
unsafe impl Send for Ring {}

impl Ring {
    /// Maps `data_pages` (a power of two) of ring for `event`.
    pub fn map(event: &Event, data_pages: usize) -> io::Result<Ring> {
        let page = page_size();
        let map_len = (data_pages + 1) * page;
        // SAFETY: mapping a perf fd as the man page describes; the result is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                event.raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ring = Ring {
            fd: event.raw_fd(),
            base: base.cast(),
            map_len,
            data_size: (data_pages * page) as u64,
            scratch: Vec::new(),
        };
        Ok(ring)
    }

    fn meta(&self) -> &b::perf_event_mmap_page {
        // SAFETY: the first page of the mapping is the kernel's perf_event_mmap_page.
        unsafe { &*(self.base as *const b::perf_event_mmap_page) }
    }

    fn head(&self) -> &AtomicU64 {
        let off = std::mem::offset_of!(b::perf_event_mmap_page, data_head);
        // SAFETY: data_head is an aligned u64 inside the metadata page.
        unsafe { &*(self.base.add(off) as *const AtomicU64) }
    }

    fn tail(&self) -> &AtomicU64 {
        let off = std::mem::offset_of!(b::perf_event_mmap_page, data_tail);
        // SAFETY: data_tail is an aligned u64 inside the metadata page.
        unsafe { &*(self.base.add(off) as *const AtomicU64) }
    }

    fn data(&self) -> &[u8] {
        let offset = match self.meta().data_offset {
            0 => page_size(),
            o => o as usize,
        };
        // SAFETY: the data area follows the metadata page and is data_size bytes long.
        unsafe { std::slice::from_raw_parts(self.base.add(offset), self.data_size as usize) }
    }

    /// Bytes waiting to be read.
    pub fn pending(&self) -> u64 {
        let head = self.head().load(Ordering::Acquire);
        head.wrapping_sub(self.tail().load(Ordering::Relaxed))
    }

    /// Hands every waiting record (header included) to `f`, then frees their room.
    pub fn drain(&mut self, mut f: impl FnMut(&[u8])) {
        let head = self.head().load(Ordering::Acquire);
        let mut tail = self.tail().load(Ordering::Relaxed);
        let size = self.data_size;
        let mut scratch = std::mem::take(&mut self.scratch);
        while tail < head {
            let data = self.data();
            let at = (tail % size) as usize;
            let mut header = [0u8; 8];
            copy_wrapped(data, at, &mut header);
            let len = u16::from_ne_bytes([header[6], header[7]]) as usize;
            if len < 8 || len as u64 > head - tail {
                tail = head; // corrupt: drop the rest rather than loop
                break;
            }
            if at + len <= data.len() {
                f(&data[at..at + len]);
            } else {
                scratch.resize(len, 0);
                copy_wrapped(data, at, &mut scratch);
                f(&scratch);
            }
            tail += len as u64;
        }
        self.scratch = scratch;
        self.tail().store(tail, Ordering::Release);
    }
}

fn copy_wrapped(data: &[u8], at: usize, out: &mut [u8]) {
    let first = (data.len() - at).min(out.len());
    out[..first].copy_from_slice(&data[at..at + first]);
    let rest = out.len() - first;
    out[first..].copy_from_slice(&data[..rest]);
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: base/map_len are exactly what mmap returned; nothing borrows it any more.
        unsafe {
            libc::munmap(self.base.cast(), self.map_len);
        }
    }
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).unwrap_or(4096).max(4096)
}

/// Waits until one of `fds` has data or `timeout` passes; says which fds hung up (their
/// thread exited).
pub fn poll(fds: &[i32], timeout: std::time::Duration) -> Vec<bool> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: p is a valid array of pollfd of the length passed.
    let n = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms) };
    if n <= 0 {
        return vec![false; fds.len()];
    }
    p.iter().map(|x| x.revents & libc::POLLHUP != 0).collect()
}

/// `kernel.perf_event_paranoid`, when readable.
pub fn paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}
