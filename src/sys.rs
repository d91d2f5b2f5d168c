//! Small platform facts the daemon and CLI need: boot time (the "current boot" key of events),
//! this process's own CPU and memory (heartbeat, metrics), and scheduling priority.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock now, epoch seconds.
pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Boot time in whole epoch seconds: stable across daemon restarts within one boot.
#[cfg(target_os = "linux")]
pub fn boot_time() -> Option<i64> {
    i64::try_from(crate::procfs::ProcRoot::live().ok()?.boot_time()?).ok()
}

/// Boot time in whole epoch seconds (`kern.boottime`).
#[cfg(target_os = "macos")]
pub fn boot_time() -> Option<i64> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>();
    let name = c"kern.boottime";
    // SAFETY: the buffer is a timeval of the size we pass; the name is NUL-terminated.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0).then_some(tv.tv_sec)
}

/// This process's CPU time (user + system) and resident memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SelfUsage {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads this process's usage (`getrusage` for CPU; current RSS from /proc on Linux).
pub fn self_usage() -> SelfUsage {
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let cpu = if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0 {
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    } else {
        0.0
    };
    SelfUsage {
        cpu_seconds: cpu,
        rss_bytes: current_rss().unwrap_or(0),
    }
}

#[cfg(target_os = "linux")]
fn current_rss() -> Option<u64> {
    let pages = crate::procfs::ProcRoot::live()
        .ok()?
        .stat_of("self")
        .ok()?
        .rss_pages;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(not(target_os = "linux"))]
fn current_rss() -> Option<u64> {
    // ru_maxrss is the peak, not the current value; macOS reports bytes.
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    (unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0)
        .then(|| u64::try_from(ru.ru_maxrss).unwrap_or(0))
}

/// Tries to make the calling thread (Linux) or process (macOS) more urgent; `Err` carries the
/// reason (usually: not permitted without CAP_SYS_NICE), which callers log and move on.
pub fn raise_priority(nice: i32) -> Result<(), std::io::Error> {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions.
    let who = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
    #[cfg(not(target_os = "linux"))]
    let who: libc::id_t = 0;
    // SAFETY: setpriority on our own thread/process id.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, who, nice) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Raises the soft open-files limit to the hard limit, returning the new soft limit.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    // SAFETY: getrlimit/setrlimit on a struct we own.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut target = lim.rlim_max;
    if cfg!(target_os = "macos") {
        // macOS refuses RLIM_INFINITY for files; OPEN_MAX-ish values work.
        target = target.min(10_240);
    }
    if lim.rlim_cur < target {
        lim.rlim_cur = target;
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    Ok(lim.rlim_cur as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_time_is_stable_and_in_the_past() {
        let a = boot_time().expect("boot time");
        assert!(a > 1_000_000_000);
        assert!((a as f64) < now_epoch());
        assert_eq!(boot_time(), Some(a));
    }

    #[test]
    fn own_usage_grows_with_work() {
        let before = self_usage();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let after = self_usage();
        assert!(after.cpu_seconds > before.cpu_seconds);
        assert!(after.rss_bytes > 1 << 20, "{}", after.rss_bytes);
    }

    #[test]
    fn nofile_limit_can_be_raised_to_the_hard_limit() {
        let soft = raise_nofile_limit().unwrap();
        assert!(soft >= 1024);
    }
}
