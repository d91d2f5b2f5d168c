//! GPU time from DRM fdinfo (drm-usage-stats): for every fd of a process that links to
//! `/dev/dri/*`, `/proc/P/fdinfo/N` reports `drm-client-id` and cumulative `drm-engine-<name>`
//! nanoseconds (i915, xe, amdgpu, msm, panfrost, v3d …; not NVIDIA's proprietary driver).
//!
//! Finding those fds means listing `/proc/P/fd` and reading every link, which costs in proportion
//! to the fds a process holds, so it is done only when a process is first seen and then every
//! [`RESCAN_PASSES`] passes (staggered by pid), and not at all on a machine without `/dev/dri`.
//! The fdinfo files of the DRM fds found are held and re-read every pass (a few µs each). An fd
//! number that no longer shows a `drm-client-id` was closed or reused and is dropped.
//!
//! Two fds of one client (dup, fork) share a client id and are counted once. The rate counts only
//! the growth of clients seen at both readings: a client found by a rescan brings its lifetime
//! total into `gpu_time` but not into the rate.

use super::files::{Gone, ReadState, Slot};
use super::parse;
use super::sys::{self, RelPath};
use std::fs::File;

/// Passes between two scans of a process's fd table (about 10 s at 3 Hz).
pub(super) const RESCAN_PASSES: u64 = 30;

#[derive(Debug)]
struct DrmFd {
    fd: u32,
    info: Slot,
    client: u64,
    last_ns: u64,
    seen: bool,
}

/// The DRM clients of one process.
#[derive(Debug, Default)]
pub(super) struct Gpu {
    fds: Vec<DrmFd>,
    /// `fd/` was refused at the last scan (counted every pass until a rescan succeeds).
    denied: bool,
}

/// One pass's GPU reading.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct GpuReading {
    /// Σ engine ns over distinct clients.
    pub total_ns: u64,
    /// Growth since the last pass of the clients seen at both readings.
    pub delta_ns: u64,
}

impl Gpu {
    /// 1 while `fd/` is refused (until a rescan succeeds).
    pub(super) fn denied_files(&self) -> u32 {
        u32::from(self.denied)
    }

    pub(super) fn held_fds(&self) -> usize {
        self.fds.iter().filter(|d| d.info.holds_fd()).count()
    }

    /// Lists `fd/` and keeps the fds linking to `/dev/dri/`.
    pub(super) fn scan(&mut self, root: &File, rs: &mut ReadState, pid: u32) -> Result<(), Gone> {
        let dir = match sys::open_at(root, &RelPath::pid(pid, "fd"), true) {
            Ok(d) => d,
            Err(sys::Fail::Denied) => {
                self.denied = true;
                return Ok(());
            }
            Err(sys::Fail::Gone) => return Err(Gone),
            // No `fd/` (a fake tree) or a process that just exited (the next read notices).
            Err(_) => return Ok(()),
        };
        self.denied = false;
        rs.opened_by_path = true;
        rs.scratch.clear();
        if sys::list_numeric(&dir, &mut rs.dirents, &mut rs.scratch).is_err() {
            return Ok(());
        }
        let mut link = [0u8; 64];
        let mut found = Vec::new();
        for &fd in &rs.scratch {
            let mut name = RelPath::new();
            name.push_num(fd);
            if let Ok(target) = sys::read_link_at(&dir, &name, &mut link)
                && target.starts_with(b"/dev/dri/")
            {
                found.push(fd);
            }
        }
        found.sort_unstable();
        self.fds.retain(|d| found.binary_search(&d.fd).is_ok());
        for fd in found {
            if self.fds.iter().any(|d| d.fd == fd) {
                continue;
            }
            let mut path = RelPath::pid(pid, "fdinfo/");
            path.push_num(fd);
            let info = rs.open(root, &path, false)?;
            self.fds.push(DrmFd {
                fd,
                info,
                client: 0,
                last_ns: 0,
                seen: false,
            });
        }
        Ok(())
    }

    /// Reads every known DRM fd.
    pub(super) fn read(
        &mut self,
        root: &File,
        rs: &mut ReadState,
        pid: u32,
    ) -> Result<GpuReading, Gone> {
        let mut r = GpuReading::default();
        let mut i = 0;
        while i < self.fds.len() {
            let fd = self.fds[i].fd;
            let path = || {
                let mut p = RelPath::pid(pid, "fdinfo/");
                p.push_num(fd);
                p
            };
            let info = match rs.read(&mut self.fds[i].info, root, path, false)? {
                Some(n) => parse::drm_fdinfo(&rs.buf[..n]),
                None => None,
            };
            let Some(info) = info else {
                // Closed, or the number now names a non-DRM file.
                self.fds.remove(i);
                continue;
            };
            let duplicate = self.fds[..i]
                .iter()
                .any(|d| d.seen && d.client == info.client_id);
            let d = &mut self.fds[i];
            if d.seen && d.client != info.client_id {
                d.seen = false;
            }
            if !duplicate {
                r.total_ns = r.total_ns.saturating_add(info.engine_ns);
                if d.seen {
                    r.delta_ns += info.engine_ns.saturating_sub(d.last_ns);
                }
            }
            d.client = info.client_id;
            d.last_ns = info.engine_ns;
            d.seen = true;
            i += 1;
        }
        Ok(r)
    }
}
