//! Small platform facts the daemon and CLI need: the boot id and boot time (which events belong
//! to the current boot),
//! this process's own CPU and memory (heartbeat, metrics), and scheduling priority.

use crate::model::PsiResource;
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
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
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

/// The kernel's identity of this boot, a random UUID that never changes until the next boot
/// (Linux `/proc/sys/kernel/random/boot_id`, macOS `kern.bootsessionuuid`). Unlike the boot
/// time, which is computed from the wall clock and moves by seconds when the clock is adjusted,
/// it says exactly which events belong to the current boot.
pub fn boot_id() -> Option<String> {
    parse_boot_id(&read_boot_id()?)
}

#[cfg(target_os = "linux")]
fn read_boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()
}

#[cfg(target_os = "macos")]
fn read_boot_id() -> Option<String> {
    let name = c"kern.bootsessionuuid";
    let mut buf = [0u8; 64];
    let mut len = buf.len();
    // SAFETY: the buffer and its length are ours; the name is NUL-terminated.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let text = buf.get(..len)?;
    let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
    String::from_utf8(text[..end].to_vec()).ok()
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn read_boot_id() -> Option<String> {
    None
}

/// A boot id as stored: a UUID (hex digits and dashes, 36 characters), lower case.
pub fn parse_boot_id(text: &str) -> Option<String> {
    let id = text.trim();
    let ok = id.len() == 36
        && id.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    ok.then(|| id.to_ascii_lowercase())
}

/// The highest PSI "some avg10" among cpu, memory and io, with its resource name (Linux with
/// PSI enabled; `None` elsewhere).
pub fn psi_some_avg10(root: &std::path::Path) -> Option<(PsiResource, f64)> {
    PsiResource::ALL
        .into_iter()
        .filter_map(|r| {
            let text = std::fs::read_to_string(root.join("pressure").join(r.as_str())).ok()?;
            Some((r, parse_psi_some_avg10(&text)?))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// `some avg10=1.23 avg60=… total=…` → 1.23.
pub fn parse_psi_some_avg10(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with("some "))?
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}

/// The number after `key` in /proc text such as `status` or `meminfo` (`VmRSS:   2048 kB`).
pub fn proc_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
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
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
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
    fn boot_ids_are_uuids() {
        assert_eq!(
            parse_boot_id("6F1b0a43-97f2-4a3e-9a7c-2d4c1e0b9f11\n").as_deref(),
            Some("6f1b0a43-97f2-4a3e-9a7c-2d4c1e0b9f11")
        );
        for bad in [
            "",
            "x",
            "6f1b0a43-97f2-4a3e-9a7c-2d4c1e0b9f1",
            "6f1b0a43_97f2-4a3e-9a7c-2d4c1e0b9f11",
            "6f1b0a43-97f2-4a3e-9a7c-2d4c1e0b9f1\x1b",
        ] {
            assert_eq!(parse_boot_id(bad), None, "{bad:?}");
        }
        #[cfg(target_os = "linux")]
        {
            let id = boot_id().expect("this machine's boot id");
            assert_eq!(boot_id(), Some(id));
        }
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
    fn psi_lines_parse() {
        let text = "some avg10=38.50 avg60=12.00 avg300=3.10 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(parse_psi_some_avg10(text), Some(38.5));
        assert_eq!(parse_psi_some_avg10("full avg10=1.0"), None);
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("pressure")).unwrap();
        std::fs::write(
            t.path().join("pressure/cpu"),
            "some avg10=5.00 avg60=0 avg300=0 total=0\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("pressure/io"),
            "some avg10=42.00 avg60=0 avg300=0 total=0\n",
        )
        .unwrap();
        assert_eq!(psi_some_avg10(t.path()), Some((PsiResource::Io, 42.0)));
        assert_eq!(psi_some_avg10(std::path::Path::new("/nonexistent")), None);
    }

    #[test]
    fn nofile_limit_can_be_raised_to_the_hard_limit() {
        let soft = raise_nofile_limit().unwrap();
        assert!(soft >= 1024);
    }
}
