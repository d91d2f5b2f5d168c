//! Thin wrappers over the few system calls procfs reading makes: `openat` relative to a held
//! directory fd, `pread` at offset 0 into a reused buffer, `getdents64` on a held directory fd,
//! `readlinkat`, `fstatat` and RLIMIT_NOFILE. Nothing here allocates except a buffer that grows
//! once when a file turns out larger than it.
//!
//! **Every file under a proc root is opened by [`openat_raw`]** (and the root itself by
//! [`open_dir`]): hardening the way /proc is opened (no-follow, checking the root is procfs)
//! changes these two functions only.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;

/// Why a read produced no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fail {
    /// ESRCH: the task was reaped (a held procfs fd answers this forever after).
    Gone,
    /// ENOENT/ENOTDIR at open: the file or the process does not exist.
    Absent,
    /// EACCES/EPERM: not allowed to read this file.
    Denied,
    /// EMFILE/ENFILE: no fd left to hold it.
    NoFds,
    /// Anything else (EIO, EINVAL …): the field reads as 0 this time.
    Other,
}

impl Fail {
    pub(super) fn from_errno(errno: i32) -> Fail {
        match errno {
            libc::ESRCH => Fail::Gone,
            libc::ENOENT | libc::ENOTDIR => Fail::Absent,
            libc::EACCES | libc::EPERM => Fail::Denied,
            libc::EMFILE | libc::ENFILE => Fail::NoFds,
            _ => Fail::Other,
        }
    }

    fn from_io(e: &io::Error) -> Fail {
        e.raw_os_error().map_or(Fail::Other, Fail::from_errno)
    }

    /// A short description for error messages.
    pub(super) fn describe(self) -> &'static str {
        match self {
            Fail::Gone => "the process is gone",
            Fail::Absent => "no such file",
            Fail::Denied => "permission denied",
            Fail::NoFds => "no file descriptor left",
            Fail::Other => "read error",
        }
    }
}

/// A relative path built on the stack (`"1234/task/5678/schedstat"`), NUL-terminated for
/// `openat`, so opening a file allocates nothing.
pub(super) struct RelPath {
    buf: [u8; 96],
    len: usize,
}

impl RelPath {
    pub(super) fn new() -> RelPath {
        RelPath {
            buf: [0; 96],
            len: 0,
        }
    }

    /// A fixed name under the root (`"stat"`, `"pressure/cpu"`).
    pub(super) fn name(name: &str) -> RelPath {
        let mut p = RelPath::new();
        p.push_str(name);
        p
    }

    /// A relative path given as text, checked: not empty, not absolute, no `.`/`..` component,
    /// only `[A-Za-z0-9_.:-]` in names, and short enough to fit. `None` otherwise.
    pub(super) fn parse(rel: &str) -> Option<RelPath> {
        let ok_component = |c: &str| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
        };
        if rel.len() + 1 > 96 || !rel.split('/').all(ok_component) {
            return None;
        }
        Some(RelPath::name(rel))
    }

    /// `"<pid>/<name>"`.
    pub(super) fn pid(pid: u32, name: &str) -> RelPath {
        let mut p = RelPath::new();
        p.push_num(pid);
        p.push_str("/");
        p.push_str(name);
        p
    }

    pub(super) fn push_num(&mut self, mut n: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push_bytes(&digits[i..])
    }

    pub(super) fn push_str(&mut self, s: &str) -> &mut Self {
        self.push_bytes(s.as_bytes())
    }

    fn push_bytes(&mut self, b: &[u8]) -> &mut Self {
        // Keep room for the NUL; the paths built here are far shorter than the buffer.
        let n = b.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        self.buf[self.len] = 0;
        self
    }

    fn as_cstr(&self) -> &CStr {
        // The buffer always holds a NUL at `len` and no NUL before it (only digits, '/' and
        // fixed file names are pushed).
        CStr::from_bytes_until_nul(&self.buf[..=self.len]).unwrap_or(c"")
    }
}

/// `openat(dir, path, O_RDONLY | O_CLOEXEC [| O_DIRECTORY])`: the one place a file under a
/// proc root is opened. `Err` is the errno.
pub(super) fn openat_raw(dir: &File, path: &RelPath, directory: bool) -> Result<File, i32> {
    let mut flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
    if directory {
        flags |= libc::O_DIRECTORY;
    }
    loop {
        // SAFETY: the path is NUL-terminated and outlives the call.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), path.as_cstr().as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: `fd` was just returned by openat and is owned by nobody else.
            return Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }));
        }
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}

/// [`openat_raw`] with the error classified.
pub(super) fn open_at(dir: &File, path: &RelPath, directory: bool) -> Result<File, Fail> {
    openat_raw(dir, path, directory).map_err(Fail::from_errno)
}

/// The owner uid of `path` under `dir` (`fstatat`, not following a final symlink).
pub(super) fn owner_at(dir: &File, path: &RelPath) -> io::Result<u32> {
    // SAFETY: zeroed stat is a valid out-value; the path is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            path.as_cstr().as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(st.st_uid)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens a directory by absolute path (the proc root): the one place a proc root is opened.
pub(super) fn open_dir(path: &std::path::Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
}

/// Largest file the reader will grow its buffer for; procfs files are far smaller.
const MAX_READ: usize = 1 << 20;

/// Reads the whole file with `pread` at offset 0 (procfs regenerates the content on every
/// read from offset 0) into `buf`, growing it if the content fills it. Returns the length.
pub(super) fn pread_all(file: &File, buf: &mut Vec<u8>) -> Result<usize, Fail> {
    loop {
        match file.read_at(buf, 0) {
            Ok(n) if n < buf.len() || buf.len() >= MAX_READ => return Ok(n),
            Ok(_) => {
                let new_len = (buf.len() * 2).clamp(4096, MAX_READ);
                buf.resize(new_len, 0);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Fail::from_io(&e)),
        }
    }
}

/// Lists the numeric entries of a held directory (pids in `/proc`, tids in `task/`), from the
/// start, with `getdents64` into `buf`. Appends to `out`.
pub(super) fn list_numeric(dir: &File, buf: &mut Vec<u8>, out: &mut Vec<u32>) -> io::Result<()> {
    if buf.len() < 8 * 1024 {
        buf.resize(8 * 1024, 0);
    }
    // SAFETY: lseek on a directory fd we own; rewinding makes getdents start over.
    if unsafe { libc::lseek(dir.as_raw_fd(), 0, libc::SEEK_SET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    loop {
        // SAFETY: the buffer is valid for `buf.len()` bytes; the kernel writes at most that.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(());
        }
        parse_dirents(&buf[..n as usize], out);
    }
}

/// Parses `struct linux_dirent64` records (d_ino u64, d_off i64, d_reclen u16, d_type u8,
/// d_name NUL-terminated), keeping names that are decimal numbers.
fn parse_dirents(mut b: &[u8], out: &mut Vec<u32>) {
    while b.len() >= 19 {
        let reclen = u16::from_ne_bytes([b[16], b[17]]) as usize;
        if reclen < 19 || reclen > b.len() {
            return;
        }
        let name = &b[19..reclen];
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
        if let Some(n) = super::parse::num_u32(name) {
            out.push(n);
        }
        b = &b[reclen..];
    }
}

/// `readlinkat(dir, name)` into `buf`; the target's bytes, or the errno.
pub(super) fn read_link_raw<'a>(
    dir: &File,
    name: &RelPath,
    buf: &'a mut [u8],
) -> Result<&'a [u8], i32> {
    // SAFETY: the path is NUL-terminated; the buffer is valid for its length.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_cstr().as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    Ok(&buf[..n as usize])
}

/// [`read_link_raw`] with the error classified.
pub(super) fn read_link_at<'a>(
    dir: &File,
    name: &RelPath,
    buf: &'a mut [u8],
) -> Result<&'a [u8], Fail> {
    read_link_raw(dir, name, buf).map_err(Fail::from_errno)
}

/// Whether `root` is the procfs of our own pid namespace (the live system, as opposed to a fake
/// tree): its filesystem is procfs and its `self` names us.
pub(super) fn is_own_procfs(root: &File) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    // SAFETY: zeroed statfs is a valid out-value; the fd is open.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(root.as_raw_fd(), &mut st) } != 0
        || st.f_type as i64 != PROC_SUPER_MAGIC
    {
        return false;
    }
    let mut name = RelPath::new();
    name.push_str("self");
    let mut buf = [0u8; 32];
    match read_link_at(root, &name, &mut buf) {
        Ok(target) => super::parse::num_u32(target) == Some(std::process::id()),
        Err(_) => false,
    }
}

// `rlim_t` is u32 on 32-bit targets, so the casts are needed there.
#[allow(clippy::unnecessary_cast)]
/// Raises the soft RLIMIT_NOFILE to the hard limit (held fds cost ~4 per process) and returns
/// the soft limit in force afterwards.
pub(super) fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: valid in-pointer. Raising the soft limit up to the hard one needs no privilege
        // (an "unlimited" hard limit above fs.nr_open fails; the old limit then stays).
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            return want.rlim_cur as u64;
        }
    }
    lim.rlim_cur as u64
}

/// USER_HZ, the unit of `stat` times (100 nearly everywhere).
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}
