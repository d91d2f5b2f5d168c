//! Parsers for the procfs files the sampler reads. They work on the bytes as read, in place: no
//! allocation, no UTF-8 decoding, and no panics on malformed input (a file that does not parse
//! gives `None` or leaves the field at 0).

/// A decimal `u64`; `None` unless every byte is a digit (and there is at least one).
pub(super) fn num_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// A decimal `u32`.
pub(super) fn num_u32(b: &[u8]) -> Option<u32> {
    num_u64(b).and_then(|n| u32::try_from(n).ok())
}

/// A decimal `i64` with an optional leading `-`.
pub(super) fn num_i64(b: &[u8]) -> Option<i64> {
    match b.split_first() {
        Some((b'-', rest)) => num_u64(rest)
            .and_then(|n| i64::try_from(n).ok())
            .map(|n| -n),
        _ => num_u64(b).and_then(|n| i64::try_from(n).ok()),
    }
}

/// The fields of `/proc/P/stat` the sampler uses (field numbers as in proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat<'a> {
    /// Field 2 without the parentheses; may contain spaces and `)`.
    pub comm: &'a [u8],
    /// Field 3.
    pub state: u8,
    pub ppid: u32,
    /// Field 9 (PF_* flags).
    pub flags: u32,
    pub minflt: u64,
    pub majflt: u64,
    /// Fields 14 and 15, clock ticks, whole thread group.
    pub utime: u64,
    pub stime: u64,
    /// Field 18.
    pub priority: i64,
    /// Field 20.
    pub num_threads: u32,
    /// Field 22, clock ticks after boot.
    pub starttime: u64,
}

/// PF_KTHREAD in the `flags` field.
pub(super) const PF_KTHREAD: u32 = 0x0020_0000;

impl Stat<'_> {
    pub(super) fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parses `/proc/P/stat`. The command is everything between the first `(` and the **last** `)`,
/// since a command may itself contain `)` and spaces.
pub(super) fn stat(b: &[u8]) -> Option<Stat<'_>> {
    let open = b.iter().position(|&c| c == b'(')?;
    let close = b.iter().rposition(|&c| c == b')')?;
    if close < open {
        return None;
    }
    let comm = &b[open + 1..close];
    // Fields 3.. follow "') '", separated by single spaces.
    let mut it = b[close + 1..]
        .split(|&c| c == b' ' || c == b'\n')
        .filter(|f| !f.is_empty());
    let mut field = |n: usize| -> Option<&[u8]> {
        // Advance to the n-th remaining field (0-based), consuming the ones before it.
        let mut last = None;
        for _ in 0..=n {
            last = it.next();
        }
        last
    };
    let state = *field(0)?.first()?; // 3
    let ppid = num_u32(field(0)?)?; // 4
    let flags = num_u32(field(4)?)?; // 9 (skip 5 6 7 8)
    let minflt = num_u64(field(0)?)?; // 10
    let majflt = num_u64(field(1)?)?; // 12
    let utime = num_u64(field(1)?)?; // 14
    let stime = num_u64(field(0)?)?; // 15
    let priority = num_i64(field(2)?)?; // 18
    let num_threads = num_u32(field(1)?)?; // 20
    let starttime = num_u64(field(1)?)?; // 22
    Some(Stat {
        comm,
        state,
        ppid,
        flags,
        minflt,
        majflt,
        utime,
        stime,
        priority,
        num_threads,
        starttime,
    })
}

/// `/proc/P/schedstat` (or `task/T/schedstat`): on-CPU ns, run-queue wait ns, times scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Schedstat {
    pub cpu_ns: u64,
    pub run_delay_ns: u64,
    /// Times the task was put on a CPU: equals voluntary + involuntary context switches.
    pub pcount: u64,
}

pub(super) fn schedstat(b: &[u8]) -> Option<Schedstat> {
    let mut it = b
        .split(|&c| c == b' ' || c == b'\n')
        .filter(|f| !f.is_empty());
    Some(Schedstat {
        cpu_ns: num_u64(it.next()?)?,
        run_delay_ns: num_u64(it.next()?)?,
        pcount: num_u64(it.next()?)?,
    })
}

/// Splits `key:<spaces or tabs>value…` lines; yields (key, value-with-leading-blanks-trimmed).
fn key_values(b: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    b.split(|&c| c == b'\n').filter_map(|line| {
        let colon = line.iter().position(|&c| c == b':')?;
        let v = &line[colon + 1..];
        let start = v
            .iter()
            .position(|&c| c != b' ' && c != b'\t')
            .unwrap_or(v.len());
        Some((&line[..colon], &v[start..]))
    })
}

/// The first whitespace-separated word of a value.
fn first_word(v: &[u8]) -> &[u8] {
    let end = v
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .unwrap_or(v.len());
    &v[..end]
}

/// `/proc/P/io`, whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Io {
    /// read_bytes + write_bytes: bytes that went to (or were dirtied for) storage.
    pub disk_bytes: u64,
    /// syscr + syscw: read- and write-family system calls only.
    pub rw_syscalls: u64,
}

pub(super) fn io(b: &[u8]) -> Option<Io> {
    let mut io = Io::default();
    let mut seen = 0;
    for (k, v) in key_values(b) {
        let target = match k {
            b"read_bytes" | b"write_bytes" => &mut io.disk_bytes,
            b"syscr" | b"syscw" => &mut io.rw_syscalls,
            _ => continue,
        };
        *target = target.saturating_add(num_u64(first_word(v))?);
        seen += 1;
    }
    (seen == 4).then_some(io)
}

/// The fields of `/proc/P/status` (or `task/T/status`) the sampler uses. Absent lines (kernel
/// threads have no memory lines) stay 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Status {
    /// Effective uid (the second `Uid:` value), as `ps` shows the user.
    pub euid: Option<u32>,
    pub vm_hwm_kb: u64,
    pub rss_anon_kb: u64,
    pub rss_shmem_kb: u64,
    pub vm_swap_kb: u64,
    pub voluntary_switches: u64,
}

impl Status {
    /// RssAnon + RssShmem + VmSwap in bytes: the nearest Linux reading of macOS's footprint.
    pub(super) fn mem_bytes(&self) -> u64 {
        (self.rss_anon_kb + self.rss_shmem_kb + self.vm_swap_kb).saturating_mul(1024)
    }
}

pub(super) fn status(b: &[u8]) -> Status {
    let mut s = Status::default();
    for (k, v) in key_values(b) {
        let w = first_word(v);
        match k {
            b"Uid" => {
                let mut ids = v
                    .split(|&c| c == b'\t' || c == b' ')
                    .filter(|f| !f.is_empty());
                s.euid = ids.nth(1).and_then(num_u32);
            }
            b"VmHWM" => s.vm_hwm_kb = num_u64(w).unwrap_or(0),
            b"RssAnon" => s.rss_anon_kb = num_u64(w).unwrap_or(0),
            b"RssShmem" => s.rss_shmem_kb = num_u64(w).unwrap_or(0),
            b"VmSwap" => s.vm_swap_kb = num_u64(w).unwrap_or(0),
            b"voluntary_ctxt_switches" => s.voluntary_switches = num_u64(w).unwrap_or(0),
            _ => {}
        }
    }
    s
}

/// DRM usage of one open DRM file (`/proc/P/fdinfo/N`, drm-usage-stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DrmFdinfo {
    /// Two fds of one client (dup, fork) show the same id: count it once.
    pub client_id: u64,
    /// Sum of every `drm-engine-<name>: <N> ns`.
    pub engine_ns: u64,
}

/// `None` when the fd is not (or no longer) a DRM client.
pub(super) fn drm_fdinfo(b: &[u8]) -> Option<DrmFdinfo> {
    let mut client_id = None;
    let mut engine_ns = 0u64;
    for (k, v) in key_values(b) {
        if k == b"drm-client-id" {
            client_id = num_u64(first_word(v));
        } else if k.starts_with(b"drm-engine-") {
            // `drm-engine-capacity-<name>: N` has no unit; only ns values are engine time.
            let mut words = v
                .split(|&c| c == b' ' || c == b'\t')
                .filter(|f| !f.is_empty());
            if let (Some(n), Some(b"ns")) = (words.next().and_then(num_u64), words.next()) {
                engine_ns = engine_ns.saturating_add(n);
            }
        }
    }
    Some(DrmFdinfo {
        client_id: client_id?,
        engine_ns,
    })
}

/// `btime` (boot time, epoch seconds) from `/proc/stat`.
pub(super) fn boot_time(b: &[u8]) -> Option<u64> {
    b.split(|&c| c == b'\n')
        .find_map(|line| line.strip_prefix(b"btime "))
        .and_then(|v| num_u64(first_word(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &[u8] = b"1234 (bash) S 1200 1234 1234 34816 1234 4194560 5000 100 7 2 \
        300 150 10 5 20 0 1 0 98765 10000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_fields_by_number() {
        let s = stat(STAT).unwrap();
        assert_eq!(s.comm, b"bash");
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 1200);
        assert_eq!(s.flags, 4194560);
        assert_eq!((s.minflt, s.majflt), (5000, 7));
        assert_eq!((s.utime, s.stime), (300, 150));
        assert_eq!(s.priority, 20);
        assert_eq!(s.num_threads, 1);
        assert_eq!(s.starttime, 98765);
        assert!(!s.is_kernel_thread());
    }

    #[test]
    fn stat_comm_with_spaces_and_parentheses_is_cut_at_the_last_paren() {
        let line = b"15955 (evil) R 1 (x) R 15953 15955 15955 0 -1 4194304 1 0 0 0 2 3 0 0 -100 0 9 0 777 0 0\n";
        let s = stat(line).unwrap();
        assert_eq!(s.comm, b"evil) R 1 (x");
        assert_eq!(s.state, b'R');
        assert_eq!(s.ppid, 15953);
        assert_eq!(s.priority, -100);
        assert_eq!(s.num_threads, 9);
        assert_eq!(s.starttime, 777);
    }

    #[test]
    fn kernel_thread_flag() {
        let line = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\n";
        assert!(stat(line).unwrap().is_kernel_thread());
    }

    #[test]
    fn malformed_stat_is_none_not_a_panic() {
        for bad in [
            &b""[..],
            b"12",
            b"12 (x",
            b"12 )x( S 1",
            b"12 (x) S",
            b"12 (x) S notanumber 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
            b"12 (x) S 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
        ] {
            assert_eq!(stat(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn schedstat_three_numbers() {
        assert_eq!(
            schedstat(b"63000000 512000 46\n"),
            Some(Schedstat {
                cpu_ns: 63_000_000,
                run_delay_ns: 512_000,
                pcount: 46
            })
        );
        assert_eq!(schedstat(b"1 2\n"), None);
    }

    #[test]
    fn io_sums_bytes_and_calls() {
        let b = b"rchar: 100\nwchar: 200\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 4096\n";
        assert_eq!(
            io(b),
            Some(Io {
                disk_bytes: 12288,
                rw_syscalls: 7
            })
        );
        assert_eq!(io(b"rchar: 1\n"), None);
    }

    #[test]
    fn status_memory_uid_and_switches() {
        let b = b"Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t1001\t1000\t1000\n\
VmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nRssAnon:\t    6000 kB\nRssFile:\t    4000 kB\n\
RssShmem:\t     240 kB\nVmSwap:\t     100 kB\nThreads:\t1\nvoluntary_ctxt_switches:\t150\n\
nonvoluntary_ctxt_switches:\t7\n";
        let s = status(b);
        assert_eq!(s.euid, Some(1001));
        assert_eq!(s.vm_hwm_kb, 20480);
        assert_eq!(s.mem_bytes(), (6000 + 240 + 100) * 1024);
        assert_eq!(s.voluntary_switches, 150);
        let k = status(b"Name:\tkworker\nUid:\t0\t0\t0\t0\nvoluntary_ctxt_switches:\t9\n");
        assert_eq!(k.mem_bytes(), 0);
        assert_eq!(k.euid, Some(0));
    }

    #[test]
    fn drm_fdinfo_sums_engine_ns_and_needs_a_client_id() {
        let b = b"pos:\t0\nflags:\t02100002\nmnt_id:\t26\ndrm-driver:\ti915\ndrm-client-id:\t42\n\
drm-engine-render:\t1000 ns\ndrm-engine-video:\t500 ns\ndrm-engine-capacity-video:\t2\ndrm-cycles-render:\t9\n";
        assert_eq!(
            drm_fdinfo(b),
            Some(DrmFdinfo {
                client_id: 42,
                engine_ns: 1500
            })
        );
        assert_eq!(drm_fdinfo(b"pos:\t0\nflags:\t02\n"), None);
    }

    #[test]
    fn boot_time_line() {
        assert_eq!(
            boot_time(b"cpu  1 2 3\nintr 5\nctxt 9\nbtime 1700000000\nprocesses 4\n"),
            Some(1_700_000_000)
        );
        assert_eq!(boot_time(b"cpu 1\n"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(num_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(num_u64(b"18446744073709551616"), None);
        assert_eq!(num_i64(b"-5"), Some(-5));
        assert_eq!(num_u32(b"4294967296"), None);
        assert_eq!(num_u64(b""), None);
        assert_eq!(num_u64(b"1a"), None);
    }
}
