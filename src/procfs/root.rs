//! [`ProcRoot`]: one-shot reads under a proc root, for everyone who is not the per-pass reader
//! (forensics, the daemon's own metrics, `perms status`). Every path goes through the same
//! checked relative-path opener as the reader's held files.

use super::parse::{self, PF_KTHREAD};
use super::sys::{self, RelPath};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// An opened proc root (`/proc`, or a fake tree in tests).
#[derive(Debug)]
pub struct ProcRoot {
    dir: File,
    path: PathBuf,
}

/// `stat` of one process, owned (the fields rogue-hunter uses outside the sampler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidStat {
    pub comm: String,
    /// The state letter (`R`, `S`, `D` …).
    pub state: u8,
    pub ppid: u32,
    pub pgrp: u32,
    pub kernel_thread: bool,
    /// utime + stime, clock ticks.
    pub cpu_ticks: u64,
    pub num_threads: u32,
    /// Clock ticks after boot.
    pub starttime: u64,
    pub vsize: u64,
    pub rss_pages: u64,
}

fn invalid(rel: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a plain relative proc path: {rel:?}"),
    )
}

impl ProcRoot {
    /// Opens the proc root at `path`.
    pub fn open(path: &Path) -> io::Result<ProcRoot> {
        Ok(ProcRoot {
            dir: sys::open_dir(path)?,
            path: path.to_path_buf(),
        })
    }

    /// The live `/proc`.
    pub fn live() -> io::Result<ProcRoot> {
        ProcRoot::open(Path::new("/proc"))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn rel(rel: &str) -> io::Result<RelPath> {
        RelPath::parse(rel).ok_or_else(|| invalid(rel))
    }

    /// Opens `rel` (e.g. `"1234/task/1235/stack"`, `"self/stat"`, `"pressure/cpu"`).
    pub fn open_file(&self, rel: &str) -> io::Result<File> {
        sys::openat_raw(&self.dir, &ProcRoot::rel(rel)?, false)
            .map_err(io::Error::from_raw_os_error)
    }

    /// The whole content of `rel`.
    pub fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(1024);
        self.open_file(rel)?.read_to_end(&mut out)?;
        Ok(out)
    }

    /// The content of `rel` as text (invalid UTF-8 replaced).
    pub fn read_string(&self, rel: &str) -> io::Result<String> {
        Ok(String::from_utf8_lossy(&self.read(rel)?).into_owned())
    }

    /// Where the symlink `rel` points (`"1234/exe"`).
    pub fn read_link(&self, rel: &str) -> io::Result<PathBuf> {
        let mut buf = vec![0u8; 4096];
        let target = sys::read_link_raw(&self.dir, &ProcRoot::rel(rel)?, &mut buf)
            .map_err(io::Error::from_raw_os_error)?;
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(target)))
    }

    /// The numeric entries of a directory: `""` lists pids, `"1234/task"` thread ids. Sorted.
    pub fn list_numeric(&self, rel: &str) -> io::Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        if rel.is_empty() {
            sys::list_numeric(&self.dir, &mut buf, &mut out)?;
        } else {
            let d = sys::openat_raw(&self.dir, &ProcRoot::rel(rel)?, true)
                .map_err(io::Error::from_raw_os_error)?;
            sys::list_numeric(&d, &mut buf, &mut out)?;
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Whether `rel` exists now.
    pub fn exists(&self, rel: &str) -> bool {
        ProcRoot::rel(rel).is_ok_and(|p| sys::owner_at(&self.dir, &p).is_ok())
    }

    /// The owner uid of `rel` (`"1234"`: the process's owner).
    pub fn owner(&self, rel: &str) -> io::Result<u32> {
        sys::owner_at(&self.dir, &ProcRoot::rel(rel)?)
    }

    /// `stat` of process (or `"P/task/T"` thread) `who`.
    pub fn stat_of(&self, who: &str) -> io::Result<PidStat> {
        let text = self.read(&format!("{who}/stat"))?;
        let st = parse::stat(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{who}/stat does not parse"),
            )
        })?;
        Ok(PidStat {
            comm: String::from_utf8_lossy(st.comm).into_owned(),
            state: st.state,
            ppid: st.ppid,
            pgrp: st.pgrp,
            kernel_thread: st.flags & PF_KTHREAD != 0,
            cpu_ticks: st.utime.saturating_add(st.stime),
            num_threads: st.num_threads,
            starttime: st.starttime,
            vsize: st.vsize,
            rss_pages: st.rss_pages,
        })
    }

    /// `stat` of process `pid`.
    pub fn pid_stat(&self, pid: u32) -> io::Result<PidStat> {
        self.stat_of(&pid.to_string())
    }

    /// The boot time (`btime` of `stat`), epoch seconds.
    pub fn boot_time(&self) -> Option<u64> {
        parse::boot_time(&self.read("stat").ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_live_proc_through_checked_paths() {
        let root = ProcRoot::live().expect("/proc");
        let me = std::process::id();
        let st = root.pid_stat(me).expect("own stat");
        assert!(!st.kernel_thread && st.num_threads >= 1);
        assert_eq!(root.stat_of("self").unwrap().starttime, st.starttime);
        assert!(root.list_numeric("").unwrap().contains(&me));
        assert!(
            root.list_numeric(&format!("{me}/task"))
                .unwrap()
                .contains(&me)
        );
        assert!(root.boot_time().unwrap() > 1_000_000_000);
        assert!(root.read_link("self/exe").is_ok());
        assert!(root.exists(&me.to_string()));
        assert!(!root.exists("999999999"));
        for bad in ["../etc/passwd", "/etc/passwd", "", "1/../..", "a b"] {
            let e = root.read(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
        let e = root.read("999999999/stat").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
