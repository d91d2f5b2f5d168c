//! Parsers for every procfs file rogue-hunter reads (per process: `stat`, `schedstat`, `io`,
//! `status`, `cgroup`, DRM `fdinfo`; system: `/proc/stat`, `meminfo`, `pressure/*`, `loadavg`).
//! They work on the bytes as read, in place: no allocation, no UTF-8 decoding, and no panics on
//! malformed input (a file that does not parse gives `None` or leaves the field at 0). Pure, so
//! they build and test on every platform.

/// A decimal `u64`; `None` unless every byte is a digit (and there is at least one).
pub fn num_u64(b: &[u8]) -> Option<u64> {
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
pub fn num_u32(b: &[u8]) -> Option<u32> {
    num_u64(b).and_then(|n| u32::try_from(n).ok())
}

/// A decimal `i64` with an optional leading `-`.
pub fn num_i64(b: &[u8]) -> Option<i64> {
    match b.split_first() {
        Some((b'-', rest)) => num_u64(rest)
            .and_then(|n| i64::try_from(n).ok())
            .map(|n| -n),
        _ => num_u64(b).and_then(|n| i64::try_from(n).ok()),
    }
}

/// The fields of `/proc/P/stat` the sampler uses (field numbers as in proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat<'a> {
    /// Field 2 without the parentheses; may contain spaces and `)`.
    pub comm: &'a [u8],
    /// Field 3.
    pub state: u8,
    pub ppid: u32,
    /// Field 5: process group.
    pub pgrp: u32,
    /// Field 9 (PF_* flags).
    pub flags: u32,
    pub minflt: u64,
    pub majflt: u64,
    /// Fields 14 and 15, clock ticks, whole thread group.
    pub utime: u64,
    pub stime: u64,
    /// Fields 16 and 17: CPU of waited-for children, clock ticks (a fork storm's cost lands here).
    pub cutime: u64,
    pub cstime: u64,
    /// Field 18.
    pub priority: i64,
    /// Field 20.
    pub num_threads: u32,
    /// Field 22, clock ticks after boot.
    pub starttime: u64,
    /// Field 23, bytes.
    pub vsize: u64,
    /// Field 24, pages.
    pub rss_pages: u64,
}

/// PF_KTHREAD in the `flags` field.
pub const PF_KTHREAD: u32 = 0x0020_0000;

impl Stat<'_> {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// The head of a `stat` line: command, state and parent, which is all a thread's `stat` read
/// for its state needs (and all a truncated line may hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatHead<'a> {
    pub comm: &'a [u8],
    pub state: u8,
    pub ppid: u32,
}

/// The command (between the first `(` and the **last** `)`, since a command may itself contain
/// `)` and spaces) and what follows it.
fn split_comm(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let open = b.iter().position(|&c| c == b'(')?;
    let close = b.iter().rposition(|&c| c == b')')?;
    if close < open {
        return None;
    }
    Some((&b[open + 1..close], &b[close + 1..]))
}

/// Parses the head of `/proc/P/stat` (or `task/T/stat`).
pub fn stat_head(b: &[u8]) -> Option<StatHead<'_>> {
    let (comm, rest) = split_comm(b)?;
    let mut it = rest
        .split(|&c| c == b' ' || c == b'\n')
        .filter(|f| !f.is_empty());
    Some(StatHead {
        comm,
        state: *it.next()?.first()?,
        ppid: num_u32(it.next()?)?,
    })
}

/// Parses `/proc/P/stat`.
pub fn stat(b: &[u8]) -> Option<Stat<'_>> {
    let (comm, rest) = split_comm(b)?;
    // Fields 3.. follow "') '", separated by single spaces.
    let mut it = rest
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
    let pgrp = num_i64(field(0)?)?; // 5
    let flags = num_u32(field(3)?)?; // 9 (skip 6 7 8)
    let minflt = num_u64(field(0)?)?; // 10
    let majflt = num_u64(field(1)?)?; // 12
    let utime = num_u64(field(1)?)?; // 14
    let stime = num_u64(field(0)?)?; // 15
    let cutime = num_i64(field(0)?)?; // 16
    let cstime = num_i64(field(0)?)?; // 17
    let priority = num_i64(field(0)?)?; // 18
    let num_threads = num_u32(field(1)?)?; // 20
    let starttime = num_u64(field(1)?)?; // 22
    // Fields 23 and 24 are missing only from truncated (fake) lines: they read as 0 then.
    let vsize = field(0).and_then(num_u64).unwrap_or(0);
    let rss_pages = field(0).and_then(num_i64).map_or(0, |v| v.max(0) as u64);
    Some(Stat {
        comm,
        state,
        ppid,
        pgrp: u32::try_from(pgrp).unwrap_or(0),
        flags,
        minflt,
        majflt,
        utime,
        stime,
        cutime: cutime.max(0) as u64,
        cstime: cstime.max(0) as u64,
        priority,
        num_threads,
        starttime,
        vsize,
        rss_pages,
    })
}

/// `/proc/P/schedstat` (or `task/T/schedstat`): on-CPU ns, run-queue wait ns, times scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Schedstat {
    pub cpu_ns: u64,
    pub run_delay_ns: u64,
    /// Times the task was put on a CPU: equals voluntary + involuntary context switches.
    pub pcount: u64,
}

pub fn schedstat(b: &[u8]) -> Option<Schedstat> {
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
pub struct Io {
    /// read_bytes + write_bytes: bytes that went to (or were dirtied for) storage.
    pub disk_bytes: u64,
    /// syscr + syscw: read- and write-family system calls only.
    pub rw_syscalls: u64,
}

pub fn io(b: &[u8]) -> Option<Io> {
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
pub struct Status {
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
    pub fn mem_bytes(&self) -> u64 {
        (self.rss_anon_kb + self.rss_shmem_kb + self.vm_swap_kb).saturating_mul(1024)
    }
}

pub fn status(b: &[u8]) -> Status {
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
pub struct DrmFdinfo {
    /// Two fds of one client (dup, fork) show the same id: count it once.
    pub client_id: u64,
    /// Sum of every `drm-engine-<name>: <N> ns`.
    pub engine_ns: u64,
}

/// `None` when the fd is not (or no longer) a DRM client.
pub fn drm_fdinfo(b: &[u8]) -> Option<DrmFdinfo> {
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
pub fn boot_time(b: &[u8]) -> Option<u64> {
    b.split(|&c| c == b'\n')
        .find_map(|line| line.strip_prefix(b"btime "))
        .and_then(|v| num_u64(first_word(v)))
}

/// The number after `key:` in a `key: value [kB]` file (`status`, `meminfo`), e.g.
/// `kv_u64(meminfo, b"MemAvailable")`.
pub fn kv_u64(b: &[u8], key: &[u8]) -> Option<u64> {
    key_values(b)
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| num_u64(first_word(v)))
}

/// Cumulative CPU time of the whole machine from the `cpu` line of `/proc/stat`, clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// Every tick accounted (guest time is already inside user and nice).
    pub fn total(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.idle)
            .saturating_add(self.iowait)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
    }

    /// Ticks a CPU was doing work (not idle, not waiting for I/O, not stolen by the host).
    pub fn busy(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
    }
}

/// The machine-wide lines of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SystemStat {
    pub cpu: CpuTimes,
    /// `cpuN` lines: the CPUs online.
    pub cpus: u32,
    /// Context switches since boot.
    pub ctxt: u64,
    /// Forks (and clones, threads included) since boot.
    pub processes: u64,
    /// Tasks runnable now, and blocked on I/O now.
    pub procs_running: u32,
    pub procs_blocked: u32,
    pub btime: u64,
}

/// Parses `/proc/stat`; `None` without the aggregate `cpu` line.
pub fn system_stat(b: &[u8]) -> Option<SystemStat> {
    let mut s = SystemStat::default();
    let mut have_cpu = false;
    for line in b.split(|&c| c == b'\n') {
        let mut words = line.split(|&c| c == b' ').filter(|w| !w.is_empty());
        let Some(name) = words.next() else {
            continue;
        };
        let mut next = || words.next().and_then(num_u64).unwrap_or(0);
        match name {
            b"cpu" => {
                have_cpu = true;
                s.cpu = CpuTimes {
                    user: next(),
                    nice: next(),
                    system: next(),
                    idle: next(),
                    iowait: next(),
                    irq: next(),
                    softirq: next(),
                    steal: next(),
                };
            }
            b"ctxt" => s.ctxt = next(),
            b"processes" => s.processes = next(),
            b"procs_running" => s.procs_running = u32::try_from(next()).unwrap_or(u32::MAX),
            b"procs_blocked" => s.procs_blocked = u32::try_from(next()).unwrap_or(u32::MAX),
            b"btime" => s.btime = next(),
            n if n.len() > 3 && n.starts_with(b"cpu") && num_u32(&n[3..]).is_some() => {
                s.cpus += 1;
            }
            _ => {}
        }
    }
    have_cpu.then_some(s)
}

/// The lines of `/proc/meminfo` that matter here, in kB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meminfo {
    pub mem_total_kb: u64,
    /// `None` on kernels before 3.14 (no estimate): callers then use MemFree + Cached.
    pub mem_available_kb: Option<u64>,
    pub mem_free_kb: u64,
    pub cached_kb: u64,
    pub swap_total_kb: u64,
    pub swap_free_kb: u64,
}

/// Parses `/proc/meminfo`; `None` without `MemTotal`.
pub fn meminfo(b: &[u8]) -> Option<Meminfo> {
    let mut m = Meminfo::default();
    let mut total = None;
    for (k, v) in key_values(b) {
        let n = || num_u64(first_word(v));
        match k {
            b"MemTotal" => total = n(),
            b"MemAvailable" => m.mem_available_kb = n(),
            b"MemFree" => m.mem_free_kb = n().unwrap_or(0),
            b"Cached" => m.cached_kb = n().unwrap_or(0),
            b"SwapTotal" => m.swap_total_kb = n().unwrap_or(0),
            b"SwapFree" => m.swap_free_kb = n().unwrap_or(0),
            _ => {}
        }
    }
    m.mem_total_kb = total?;
    Some(m)
}

/// One line of a PSI file: the kernel's running averages (percent) and the cumulative stall
/// time in microseconds, from which any window's rate follows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PsiLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total_us: u64,
}

/// `/proc/pressure/{cpu,memory,io}`: `some` (at least one task stalled) and `full` (every
/// non-idle task stalled; reported as zeros for the system-wide cpu file, absent on old kernels).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pressure {
    pub some: PsiLine,
    pub full: Option<PsiLine>,
}

fn psi_line(rest: &[u8]) -> Option<PsiLine> {
    let mut l = PsiLine::default();
    let mut seen = 0;
    for word in rest.split(|&c| c == b' ').filter(|w| !w.is_empty()) {
        let eq = word.iter().position(|&c| c == b'=')?;
        let (k, v) = (&word[..eq], &word[eq + 1..]);
        let real = || std::str::from_utf8(v).ok()?.parse::<f64>().ok();
        match k {
            b"avg10" => l.avg10 = real()?,
            b"avg60" => l.avg60 = real()?,
            b"avg300" => l.avg300 = real()?,
            b"total" => l.total_us = num_u64(v)?,
            _ => continue,
        }
        seen += 1;
    }
    (seen == 4).then_some(l)
}

/// Parses a PSI file; `None` without a well-formed `some` line.
pub fn pressure(b: &[u8]) -> Option<Pressure> {
    let mut some = None;
    let mut full = None;
    for line in b.split(|&c| c == b'\n') {
        if let Some(rest) = line.strip_prefix(b"some ") {
            some = psi_line(rest);
        } else if let Some(rest) = line.strip_prefix(b"full ") {
            full = psi_line(rest);
        }
    }
    Some(Pressure { some: some?, full })
}

/// `/proc/loadavg`: the 1-minute load and the runnable/total task counts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoadAvg {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

pub fn loadavg(b: &[u8]) -> Option<LoadAvg> {
    let mut w = b
        .split(|&c| c == b' ' || c == b'\n')
        .filter(|x| !x.is_empty())
        .map(|x| std::str::from_utf8(x).ok()?.parse::<f64>().ok());
    Some(LoadAvg {
        one: w.next()??,
        five: w.next()??,
        fifteen: w.next()??,
    })
}

/// The cgroup v2 path from `/proc/P/cgroup` (the `0::` line), when it is not the root: on a
/// v1-only or hybrid host where every process sits in `0::/`, there is none.
pub fn cgroup_v2(b: &[u8]) -> Option<&[u8]> {
    b.split(|&c| c == b'\n')
        .find_map(|line| line.strip_prefix(b"0::"))
        .filter(|p| p.len() > 1 && p.starts_with(b"/"))
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
    fn the_head_of_a_stat_line_needs_only_three_fields() {
        let h = stat_head(b"51 (worker (x)) R 7 0 0").unwrap();
        assert_eq!((h.comm, h.state, h.ppid), (&b"worker (x)"[..], b'R', 7));
        assert_eq!(stat_head(b"51 (w) R"), None);
        assert_eq!(stat_head(STAT).unwrap().ppid, 1200);
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

    #[test]
    fn stat_has_group_children_cpu_and_memory_fields() {
        let s = stat(STAT).unwrap();
        assert_eq!(s.pgrp, 1234);
        assert_eq!((s.cutime, s.cstime), (10, 5));
        assert_eq!(s.vsize, 10_000_000);
        assert_eq!(s.rss_pages, 500);
        // A line cut after starttime still parses (vsize and rss read as 0).
        let short = b"9 (x) R 1 9 9 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 55\n";
        let s = stat(short).unwrap();
        assert_eq!((s.utime, s.stime, s.starttime, s.vsize), (7, 3, 55, 0));
    }

    #[test]
    fn system_stat_lines() {
        let b = b"cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 50 2 25 500 10 0 1 1 0 0\n\
cpu1 50 3 25 500 10 1 1 2 0 0\nintr 1 2 3\nctxt 123456\nbtime 1700000000\nprocesses 4242\n\
procs_running 3\nprocs_blocked 1\nsoftirq 5 5\n";
        let s = system_stat(b).unwrap();
        assert_eq!(s.cpus, 2);
        assert_eq!(s.cpu.total(), 100 + 5 + 50 + 1000 + 20 + 1 + 2 + 3);
        assert_eq!(s.cpu.busy(), 100 + 5 + 50 + 1 + 2);
        assert_eq!(
            (s.ctxt, s.processes, s.btime),
            (123_456, 4242, 1_700_000_000)
        );
        assert_eq!((s.procs_running, s.procs_blocked), (3, 1));
        assert_eq!(system_stat(b"ctxt 5\n"), None);
    }

    #[test]
    fn meminfo_lines() {
        let b = b"MemTotal:       24000000 kB\nMemFree:         1000000 kB\n\
MemAvailable:   20000000 kB\nCached:         9000000 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n";
        let m = meminfo(b).unwrap();
        assert_eq!(m.mem_total_kb, 24_000_000);
        assert_eq!(m.mem_available_kb, Some(20_000_000));
        assert_eq!((m.swap_total_kb, m.cached_kb), (0, 9_000_000));
        assert_eq!(kv_u64(b, b"MemFree"), Some(1_000_000));
        assert_eq!(meminfo(b"MemFree: 1 kB\n"), None);
    }

    #[test]
    fn pressure_lines() {
        let b = b"some avg10=38.50 avg60=12.00 avg300=3.10 total=91108126\n\
full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        let p = pressure(b).unwrap();
        assert_eq!(p.some.avg10, 38.5);
        assert_eq!(p.some.total_us, 91_108_126);
        assert_eq!(p.full.unwrap().total_us, 0);
        // Old kernels: no full line for cpu.
        let p = pressure(b"some avg10=1.00 avg60=2.00 avg300=3.00 total=7\n").unwrap();
        assert_eq!(p.full, None);
        assert_eq!(pressure(b"some avg10=x avg60=0 avg300=0 total=0\n"), None);
        assert_eq!(pressure(b""), None);
    }

    #[test]
    fn loadavg_and_cgroup() {
        let l = loadavg(b"0.85 0.20 0.06 1/91 4910\n").unwrap();
        assert_eq!((l.one, l.five, l.fifteen), (0.85, 0.2, 0.06));
        assert_eq!(loadavg(b"x"), None);
        assert_eq!(
            cgroup_v2(b"0::/system.slice/nginx.service\n"),
            Some(&b"/system.slice/nginx.service"[..])
        );
        assert_eq!(cgroup_v2(b"9:name=systemd:/\n4:memory:/x\n0::/\n"), None);
        assert_eq!(cgroup_v2(b"4:memory:/x\n"), None);
    }
}
