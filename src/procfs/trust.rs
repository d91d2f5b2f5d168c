//! Whether a proc root may be read with the privileges this process holds.
//!
//! With CAP_DAC_READ_SEARCH (file capabilities from `perms install`) or as root, everything the
//! daemon reads under `[sampler] proc_root` is read past file permissions, and what it reads is
//! stored and shown to whoever runs `events show`. A proc root of the user's choosing (a tree
//! of symlinks to `/etc/shadow`) would turn that into a file-read hole. So while privileged
//! only the real procfs at `/proc` is read: a non-default `proc_root` is refused, and `/proc`
//! itself must be procfs (`statfs` magic) of our own pid namespace. Without privileges any tree
//! may be read (tests and benchmarks use fake ones): it gives nothing the user could not read.

use super::sys;
use std::path::Path;

/// The default (and, with privileges, the only) proc root.
pub const DEFAULT_PROC_ROOT: &str = "/proc";

/// What makes this process privileged, if anything: `euid 0`, or the capabilities it holds
/// (permitted or effective).
pub fn elevated_privileges() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return Some("it runs as root".into());
    }
    // Unreadable status: assume the worst.
    let caps = match crate::privileges::linux::process_caps() {
        Ok(c) => c,
        Err(e) => return Some(format!("its capabilities cannot be read ({e})")),
    };
    let held = caps.permitted.union(caps.effective);
    (!held.is_empty()).then(|| {
        format!(
            "it holds capabilities ({})",
            crate::privileges::report::names(held)
        )
    })
}

/// Refuses `proc_root` when this process is privileged and it is not the real `/proc`;
/// the message says why and what to do.
pub fn check_proc_root(proc_root: &Path) -> Result<(), String> {
    let Some(why) = elevated_privileges() else {
        return Ok(());
    };
    check_with(proc_root, &why)
}

fn check_with(proc_root: &Path, why: &str) -> Result<(), String> {
    if proc_root != Path::new(DEFAULT_PROC_ROOT) {
        return Err(format!(
            "[sampler] proc_root = \"{}\" is refused: {why}, and a proc root of someone's \
             choosing would let it read files past their permissions. With privileges only \
             /proc is read; remove the setting (or run without privileges to read another tree)",
            crate::escape::Escaped(&proc_root.display().to_string())
        ));
    }
    let dir =
        sys::open_dir(proc_root).map_err(|e| format!("cannot open {DEFAULT_PROC_ROOT}: {e}"))?;
    if !sys::is_own_procfs(&dir) {
        return Err(format!(
            "{DEFAULT_PROC_ROOT} is not the procfs of this system (its file system is not \
             procfs, or its `self` is not this process): refusing to read it, since {why}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_privileges_only_the_real_proc_is_read() {
        assert_eq!(check_with(Path::new("/proc"), "it runs as root"), Ok(()));
        let fake = tempfile::tempdir().unwrap();
        let err = check_with(fake.path(), "it runs as root").unwrap_err();
        assert!(err.contains("is refused: it runs as root"), "{err}");
        // A way round to the same directory is still not the default.
        assert!(check_with(Path::new("/proc/1/.."), "x").is_err());
    }
}
