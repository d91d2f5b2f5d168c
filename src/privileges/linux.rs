//! The Linux system calls behind capabilities: reading and writing the `security.capability`
//! attribute of the binary, the calling thread's sets (`capget`/`capset`), dropping them, and
//! raising ambient capabilities for a child such as `eu-stack`.
//!
//! Why ambient: file capabilities belong to the file they are set on. When the daemon runs
//! `eu-stack`, the kernel computes eu-stack's capabilities from eu-stack's file (none) and the
//! daemon's *ambient* set, so without raising them there eu-stack cannot attach to other users'
//! processes. A root daemon (the system service) needs none of this: root keeps its capabilities
//! across `exec`.

use super::caps::{CapSet, FileCaps, ProcessCaps, decode, encode, parse_status};
use std::io;
use std::path::{Path, PathBuf};

/// This process's capabilities (from `/proc/self/status`).
pub fn process_caps() -> io::Result<ProcessCaps> {
    Ok(parse_status(
        &crate::procfs::ProcRoot::live()?.read_string("self/status")?,
    ))
}

fn c_path(path: &Path) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

const XATTR_NAME_C: &std::ffi::CStr = c"security.capability";

/// The capabilities set on `path`, or `None` when it has none.
pub fn read_file_caps(path: &Path) -> io::Result<Option<FileCaps>> {
    let p = c_path(path)?;
    let mut buf = [0u8; 64];
    // SAFETY: both strings are NUL-terminated and buf's length is passed.
    let n = unsafe {
        libc::getxattr(
            p.as_ptr(),
            XATTR_NAME_C.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA) => Ok(None),
            _ => Err(e),
        };
    }
    let len = usize::try_from(n).unwrap_or(0);
    decode(&buf[..len])
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Sets `permitted` (raised into the effective set at `exec`) on the executable `path`.
/// Needs CAP_SETFCAP (root).
pub fn write_file_caps(path: &Path, permitted: CapSet) -> io::Result<()> {
    let p = c_path(path)?;
    let value = encode(permitted, true);
    // SAFETY: the strings are NUL-terminated and value's length is passed.
    let rc = unsafe {
        libc::setxattr(
            p.as_ptr(),
            XATTR_NAME_C.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Removes the file capabilities of `path`; `false` when it had none.
pub fn remove_file_caps(path: &Path) -> io::Result<bool> {
    let p = c_path(path)?;
    // SAFETY: both strings are NUL-terminated.
    let rc = unsafe { libc::removexattr(p.as_ptr(), XATTR_NAME_C.as_ptr()) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENODATA) => Ok(false),
        _ => Err(e),
    }
}

/// Whether the filesystem holding `path` is mounted `nosuid` (the kernel then ignores file
/// capabilities of the programs on it).
pub fn on_nosuid_mount(path: &Path) -> io::Result<bool> {
    let p = c_path(path)?;
    // SAFETY: statvfs is plain data; zeroed is a valid initial value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: p is NUL-terminated and st is a valid out-pointer.
    if unsafe { libc::statvfs(p.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_flag & libc::ST_NOSUID != 0)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The calling thread's capability sets (capabilities are per thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadCaps {
    pub effective: CapSet,
    pub permitted: CapSet,
    pub inheritable: CapSet,
}

/// Reads the calling thread's sets with `capget(2)`. Async-signal-safe.
pub fn thread_caps() -> io::Result<ThreadCaps> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are the layout capget(2) expects for version 3 (two data words).
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ThreadCaps {
        effective: CapSet::from_words(data[0].effective, data[1].effective),
        permitted: CapSet::from_words(data[0].permitted, data[1].permitted),
        inheritable: CapSet::from_words(data[0].inheritable, data[1].inheritable),
    })
}

/// Sets the calling thread's sets with `capset(2)`. Async-signal-safe.
fn set_thread_caps(caps: ThreadCaps) -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let [e0, e1] = caps.effective.words();
    let [p0, p1] = caps.permitted.words();
    let [i0, i1] = caps.inheritable.words();
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: header and data are the layout capset(2) expects for version 3.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Gives up every capability of the calling thread, for good. Commands other than the daemon
/// call this at start when the binary carries file capabilities and the user is not root, so
/// the capabilities only ever serve the daemon's forensics.
pub fn drop_all() -> io::Result<()> {
    set_thread_caps(ThreadCaps::default())
}

const PR_CAP_AMBIENT: libc::c_int = 47;
const PR_CAP_AMBIENT_RAISE: libc::c_ulong = 2;

/// Raises those of `wanted` that the calling thread holds as permitted into its inheritable
/// and ambient sets, so the next `exec` of a program without file capabilities keeps them.
/// Returns what was raised. Async-signal-safe and allocation-free: made to run between `fork`
/// and `exec` (a `pre_exec` hook), where it changes only the child.
pub fn raise_ambient(wanted: CapSet) -> io::Result<CapSet> {
    let mut caps = thread_caps()?;
    let raise = wanted.intersect(caps.permitted);
    if raise.is_empty() {
        return Ok(raise);
    }
    caps.inheritable = CapSet(caps.inheritable.0 | raise.0);
    set_thread_caps(caps)?;
    for cap in raise.iter() {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                PR_CAP_AMBIENT,
                PR_CAP_AMBIENT_RAISE,
                libc::c_ulong::from(cap),
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(raise)
}

/// How a forensic tool the daemon runs will be privileged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildPrivilege {
    /// The daemon runs as root: the tool inherits root's capabilities by itself.
    Root,
    /// These capabilities are passed as ambient capabilities.
    Ambient(CapSet),
    /// The tool runs unprivileged, for this reason.
    Unprivileged(String),
}

/// Prepares `cmd` (about to run the executable `exe`) to receive those of `wanted` this process
/// holds, as ambient capabilities. Call it for `eu-stack` and `gdb` before spawning them, e.g.
/// `share_with_child(&mut cmd, &exe, caps::EU_STACK)`.
///
/// Only a program that no one but root can replace gets them: the file and every directory
/// above it must be owned by root and not writable by group or others. A tool found in a
/// user-writable `PATH` entry runs unprivileged instead (the reason says so), since otherwise
/// anyone who can set the daemon's `PATH` could borrow its capabilities.
pub fn share_with_child(
    cmd: &mut tokio::process::Command,
    exe: &Path,
    wanted: CapSet,
) -> ChildPrivilege {
    if crate::paths::effective_uid() == 0 {
        return ChildPrivilege::Root;
    }
    let held = match thread_caps() {
        Ok(c) => c.permitted.intersect(wanted),
        Err(e) => return ChildPrivilege::Unprivileged(format!("cannot read capabilities: {e}")),
    };
    if held.is_empty() {
        return ChildPrivilege::Unprivileged(format!(
            "the daemon holds none of {wanted} (see `rogue-hunter perms status`)"
        ));
    }
    if let Err(why) = root_controlled(exe) {
        return ChildPrivilege::Unprivileged(why);
    }
    // SAFETY: the hook only makes async-signal-safe system calls (capget, capset, prctl) and
    // allocates nothing. Failure is ignored on purpose: the tool then runs unprivileged and
    // reports the permission error itself, which the capture records.
    unsafe {
        cmd.pre_exec(move || {
            let _ = raise_ambient(held);
            Ok(())
        });
    }
    ChildPrivilege::Ambient(held)
}

/// `Ok` when `exe` and every directory above it are owned by root and writable by no one else.
pub fn root_controlled(exe: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    for p in real.ancestors() {
        let m = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if m.uid() != 0 {
            return Err(format!(
                "{} is owned by uid {}, not root; its capabilities are not passed to {}",
                p.display(),
                m.uid(),
                real.display()
            ));
        }
        if m.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is writable by group or others; capabilities are not passed to {}",
                p.display(),
                real.display()
            ));
        }
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileges::caps::EU_STACK;

    #[test]
    fn this_thread_agrees_with_proc_status() {
        let t = thread_caps().unwrap();
        let p = process_caps().unwrap();
        assert_eq!(t.effective, p.effective);
        assert_eq!(t.permitted, p.permitted);
    }

    #[test]
    fn only_root_controlled_programs_are_trusted() {
        let sh = Path::new("/bin/sh");
        if std::fs::metadata(sh).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
            assert!(root_controlled(sh).is_ok());
        }
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("tool");
        std::fs::write(&f, b"#!/bin/sh\n").unwrap();
        // A temp dir sits below the sticky, world-writable /tmp or is owned by a user.
        assert!(root_controlled(&f).is_err());
        assert!(root_controlled(Path::new("/nonexistent/tool")).is_err());
    }

    /// Runs `program args` as uid/gid 65534 keeping root's permitted capabilities (as a daemon
    /// with file capabilities holds them), optionally raising `ambient` before `exec`.
    fn run_as_nobody(
        program: &str,
        args: &[&str],
        ambient: Option<CapSet>,
    ) -> std::process::Output {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(program);
        cmd.args(args);
        // SAFETY: only async-signal-safe system calls run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let nobody: libc::uid_t = 65534;
                if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0
                    || libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setresgid(nobody, nobody, nobody) != 0
                    || libc::setresuid(nobody, nobody, nobody) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                if let Some(set) = ambient {
                    raise_ambient(set)?;
                }
                Ok(())
            });
        }
        cmd.output().unwrap()
    }

    /// A root-owned process for a non-root child to look at.
    struct Sleeper(std::process::Child);
    impl Sleeper {
        fn start() -> Sleeper {
            Sleeper(
                std::process::Command::new("sleep")
                    .arg("60")
                    .spawn()
                    .unwrap(),
            )
        }
        fn pid(&self) -> String {
            self.0.id().to_string()
        }
    }
    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn ambient_capabilities_reach_a_program_without_file_capabilities() {
        if crate::paths::effective_uid() != 0 {
            eprintln!("skipped: needs root to switch a child to another uid");
            return;
        }
        let target = Sleeper::start();
        let io_file = format!("/proc/{}/io", target.pid());
        let denied = run_as_nobody("cat", &[&io_file], None);
        assert!(
            !denied.status.success(),
            "nobody read root's io without capabilities"
        );
        let allowed = run_as_nobody("cat", &[&io_file], Some(EU_STACK));
        assert!(
            allowed.status.success(),
            "{}",
            String::from_utf8_lossy(&allowed.stderr)
        );
        assert!(String::from_utf8_lossy(&allowed.stdout).contains("read_bytes"));
        let status = run_as_nobody("cat", &["/proc/self/status"], Some(EU_STACK));
        let caps = parse_status(&String::from_utf8_lossy(&status.stdout));
        assert_eq!(caps.ambient, EU_STACK);
        assert_eq!(caps.effective, EU_STACK);
    }

    #[test]
    fn eu_stack_attaches_to_another_users_process_with_the_ambient_set() {
        if crate::paths::effective_uid() != 0 {
            eprintln!("skipped: needs root to switch a child to another uid");
            return;
        }
        let Some(eu_stack) = crate::forensics::tool::find_on_path("eu-stack") else {
            eprintln!("skipped: eu-stack is not installed (apt-get install elfutils)");
            return;
        };
        let eu_stack = eu_stack.to_string_lossy().into_owned();
        let target = Sleeper::start();
        let pid = target.pid();
        let denied = run_as_nobody(&eu_stack, &["-p", &pid], None);
        assert!(!denied.status.success());
        let allowed = run_as_nobody(&eu_stack, &["-p", &pid], Some(EU_STACK));
        let out = String::from_utf8_lossy(&allowed.stdout);
        assert!(
            allowed.status.success() && out.contains("TID"),
            "rc {:?}: {out} {}",
            allowed.status.code(),
            String::from_utf8_lossy(&allowed.stderr)
        );
    }

    #[test]
    fn file_caps_on_a_copy_round_trip_through_the_kernel() {
        if crate::paths::effective_uid() != 0 {
            eprintln!("skipped: setting file capabilities needs root (CAP_SETFCAP)");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("prog");
        std::fs::copy("/bin/true", &f).unwrap();
        assert_eq!(read_file_caps(&f).unwrap(), None);
        if let Err(e) = write_file_caps(&f, CapSet::forensics()) {
            eprintln!("skipped: this filesystem refuses security.capability: {e}");
            return;
        }
        let c = read_file_caps(&f).unwrap().unwrap();
        assert_eq!(c.permitted, CapSet::forensics());
        assert!(c.effective);
        assert!(remove_file_caps(&f).unwrap());
        assert!(!remove_file_caps(&f).unwrap());
        assert_eq!(read_file_caps(&f).unwrap(), None);
    }
}
