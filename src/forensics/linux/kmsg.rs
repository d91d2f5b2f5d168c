//! Reading the kernel ring buffer (`/dev/kmsg`) for a time window. Each `read()` returns one
//! record; opening the device starts at the oldest record still kept. Needs CAP_SYSLOG (or root)
//! when `kernel.dmesg_restrict=1`.

use crate::forensics::logs::{KmsgRecord, parse_kmsg_record};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Most records returned for one window (the ring holds a few thousand at most).
pub const MAX_RECORDS: usize = 5000;

/// Microseconds of `CLOCK_MONOTONIC` now: the clock kmsg timestamps count in.
pub fn monotonic_usec() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    #[allow(clippy::useless_conversion)] // time_t and c_long are i32 on 32-bit targets
    let (sec, nsec) = (i64::from(ts.tv_sec), i64::from(ts.tv_nsec));
    sec * 1_000_000 + nsec / 1000
}

/// Records whose timestamp lies in `[from_usec, to_usec]` (µs since boot).
pub fn read_window(path: &Path, from_usec: i64, to_usec: i64) -> std::io::Result<Vec<KmsgRecord>> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(r) = parse_kmsg_record(&buf[..n])
                    && r.ts_usec >= from_usec
                    && r.ts_usec <= to_usec
                {
                    out.push(r);
                    if out.len() >= MAX_RECORDS {
                        out.remove(0);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // Records were overwritten while we read: the next read continues after them.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_record_back_when_permitted() {
        let dev = Path::new("/dev/kmsg");
        let writable = std::fs::OpenOptions::new().write(true).open(dev);
        let Ok(mut w) = writable else {
            eprintln!("skipped: /dev/kmsg is not writable here (needs root)");
            return;
        };
        let marker = format!("rogue-hunter-test-{}", std::process::id());
        let before = monotonic_usec() - 1_000_000;
        use std::io::Write;
        if w.write_all(format!("<6>{marker}\n").as_bytes()).is_err() {
            eprintln!("skipped: writing /dev/kmsg was refused");
            return;
        }
        let records = match read_window(dev, before, monotonic_usec() + 1_000_000) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("skipped: reading /dev/kmsg failed: {e}");
                return;
            }
        };
        assert!(
            records.iter().any(|r| r.message.contains(&marker)),
            "marker not read back"
        );
        assert!(records.iter().all(|r| r.ts_usec >= before));
        let old = read_window(dev, 0, before).unwrap();
        assert!(
            !old.iter().any(|r| r.message.contains(&marker)),
            "window filters by time"
        );
    }
}
