//! The Linux parts of a capture: stacks of the culprits (kernel stacks from /proc, user stacks
//! from eu-stack or gdb, binary images) and the system log (kmsg, journald), each ending in a
//! final status with its reason.

use super::images::{images, kernel_image};
use super::kmsg::{monotonic_usec, read_window};
use super::threads::{ProcessStacks, ThreadsError, sample_process};
use crate::config::UserStacks;
use crate::forensics::Settings;
use crate::forensics::calltree::{RawFrame, parse_eu_stack, parse_gdb_bt};
use crate::forensics::logs::{LogsResult, parse_journal_json};
use crate::forensics::tool::{self, ToolError};
use crate::privileges::caps;
use crate::store::capture_data::{CaptureData, StackHeader};
use crate::store::{PartOutcome, PartStatus};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the stacks part produced.
pub struct StacksResult {
    pub data: CaptureData,
    /// `procfs`, `procfs+eu-stack` or `procfs+gdb`.
    pub source: String,
    pub outcome: PartOutcome,
}

/// Parses a user-stack tool's output into frames per thread.
type StackParser = fn(&str) -> BTreeMap<i64, Vec<RawFrame>>;

/// User stacks of one process, and why there are none.
async fn user_stacks(
    s: &Settings,
    pid: u32,
) -> (BTreeMap<i64, Vec<RawFrame>>, Option<String>, bool) {
    let pid_s = pid.to_string();
    let (program, args, parse): (&str, Vec<&str>, StackParser) = match s.user_stacks {
        UserStacks::None => {
            return (BTreeMap::new(), Some("user stacks are off".into()), false);
        }
        UserStacks::EuStack => ("eu-stack", vec!["-p", &pid_s, "-m", "-b"], parse_eu_stack),
        UserStacks::Gdb => (
            "gdb",
            vec!["-batch", "-nx", "-p", &pid_s, "-ex", "thread apply all bt"],
            parse_gdb_bt,
        ),
    };
    // eu-stack exits 1 when it could show only part of the threads.
    match tool::run_sharing(program, &args, s.tool_timeout, &[1], Some(caps::EU_STACK)).await {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let stacks = parse(&text);
            let note = stacks
                .is_empty()
                .then(|| format!("{program} showed no stacks: {}", out.stderr));
            (stacks, note, false)
        }
        Err(ToolError::NotFound(_)) => (
            BTreeMap::new(),
            Some(format!("user stacks skipped: {program} is not installed")),
            false,
        ),
        Err(e @ ToolError::Timeout { .. }) => (BTreeMap::new(), Some(e.to_string()), true),
        Err(e) => (
            BTreeMap::new(),
            Some(format!("user stacks failed: {e}")),
            false,
        ),
    }
}

/// Takes the stacks of `pids` (the first is the event's own process): a sampled profile where
/// the kernel allows it, /proc and a user-stack tool for the processes it refuses (or for all
/// of them when profiling is off or unsupported), saying which ran and why.
pub async fn stacks(s: &Settings, pids: &[u32], reason: &str) -> StacksResult {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        if s.profile_duration.is_zero() {
            let r = procfs_stacks(s, pids, reason).await;
            return with_reason(r, "profiling is off ([forensics] profile_seconds = 0)");
        }
        let opts = super::profile::Options {
            duration: s.profile_duration,
            hz: s.profile_hz,
            max_threads: s.profile_max_threads,
            proc_root: s.proc_root.clone(),
        };
        let started_wall = crate::sys::now_epoch();
        let list = pids.to_vec();
        match run_profiler(list, opts).await {
            Ok(profile) => profiled(s, pids, reason, started_wall, profile).await,
            Err(e) => {
                let r = procfs_stacks(s, pids, reason).await;
                with_reason(r, &format!("the profiler failed ({e})"))
            }
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let r = procfs_stacks(s, pids, reason).await;
        with_reason(r, "sampled profiles need an x86-64 or aarch64 CPU")
    }
}

/// Runs a profile on a thread of its own at a lower priority (nice +10): draining, unwinding
/// and above all symbolizing take CPU that sampling, the pipeline and the clients must get
/// first. A panic in it (a hostile file tripping a parser) ends as an error, not the daemon.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
async fn run_profiler(
    pids: Vec<u32>,
    opts: super::profile::Options,
) -> Result<super::profile::Profile, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rh-profiler".into())
        .spawn(move || {
            lower_priority(10);
            let profile = super::profile::run(&pids, &opts);
            release_freed_memory();
            let _ = tx.send(profile);
        })
        .map_err(|e| format!("cannot start its thread: {e}"))?;
    rx.await
        .map_err(|_| "it stopped without a result".to_string())
}

/// Makes the calling thread yield to the daemon's other work (raising nice needs no privilege).
fn lower_priority(nice: i32) {
    // SAFETY: gettid and setpriority on our own thread have no preconditions.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
}

/// Hands memory the profile freed (the symbolizer's parsed debug information, tens of MB)
/// back to the system. Each profiling thread may get a malloc arena of its own, so without this
/// the daemon's RSS climbs with every capture that lands on a new thread (measured: 95 MB after
/// 20 captures instead of 41 MB).
fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Says why /proc stacks were taken instead of a profile.
fn with_reason(mut r: StacksResult, why: &str) -> StacksResult {
    let line = format!("stacks from /proc, not a profile: {why}");
    r.outcome.error = Some(match r.outcome.error.take() {
        Some(e) => format!("{line}; {e}"),
        None => line,
    });
    r
}

/// Turns a profile into the stacks part, taking /proc stacks of the processes perf refused.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
async fn profiled(
    s: &Settings,
    pids: &[u32],
    reason: &str,
    started_wall: f64,
    profile: super::profile::Profile,
) -> StacksResult {
    let event_pid = pids.first().copied();
    let refused_pids: Vec<u32> = profile
        .refused
        .iter()
        .filter(|r| !r.gone)
        .map(|r| r.pid)
        .collect();
    let why: Vec<String> = profile
        .refused
        .iter()
        .filter(|r| !r.gone)
        .map(|r| r.reason.clone())
        .collect();
    if profile.processes.is_empty() {
        if refused_pids.is_empty() {
            // Every culprit was gone before the profile could start.
            return procfs_stacks(s, pids, reason).await;
        }
        let r = procfs_stacks(s, pids, reason).await;
        return with_reason(r, &why.join("; "));
    }
    let mut notes: Vec<String> = profile.notes.clone();
    let mut event_lost: Option<String> = None;
    if let Some(r) = profile
        .refused
        .iter()
        .find(|r| r.gone && Some(r.pid) == event_pid)
    {
        event_lost = Some(r.reason.clone());
    }
    let mut data = CaptureData::default();
    for p in profile.processes {
        if p.ended_early && Some(p.pid) == event_pid {
            event_lost = Some(format!("process {} exited during the capture", p.pid));
        }
        if p.user_only {
            notes.push(format!(
                "process {}: user frames only (kernel frames and off-CPU samples need                  CAP_PERFMON or root; kernel.perf_event_paranoid = {})",
                p.pid,
                std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                    .map_or_else(|_| "unknown".into(), |v| v.trim().to_string())
            ));
        }
        data.processes.push(p.process);
    }
    let mut source = "perf".to_string();
    if !refused_pids.is_empty() {
        let r = procfs_stacks(s, &refused_pids, reason).await;
        notes.push(format!("stacks from /proc for {}", why.join("; ")));
        if let Some(e) = r.outcome.error {
            notes.push(e);
        }
        if Some(refused_pids[0]) == event_pid && r.outcome.status == PartStatus::Failed {
            event_lost.get_or_insert_with(|| "the event's process could not be read".into());
        }
        source = format!("perf+{}", r.source);
        data.processes.extend(r.data.processes);
    }
    let st = &profile.stats;
    let mut h = header(s, started_wall, st.duration, reason);
    let hz = f64::from(st.hz.max(1));
    h.steps = Some((st.duration.as_secs_f64() * hz).round() as i64);
    h.sampling_interval_ms = Some((1000.0 / hz).round() as i64);
    h.data_source = Some("perf".into());
    h.sample_rate_hz = Some(hz);
    h.samples_on_cpu = Some(st.on_cpu as i64);
    h.samples_off_cpu = Some(st.off_cpu as i64);
    h.samples_lost = Some(st.lost as i64);
    h.stacks_truncated = Some(st.truncated as i64);
    data.header = Some(h);
    if st.lost > 0 {
        notes.push(format!("{} samples lost (a ring buffer was full)", st.lost));
    }
    let outcome = match event_lost {
        Some(lost) => failed(lost, &notes),
        None => succeeded(&notes),
    };
    StacksResult {
        data,
        source,
        outcome,
    }
}

/// Stacks from /proc (kernel stacks sampled a few times) and a user-stack tool.
async fn procfs_stacks(s: &Settings, pids: &[u32], reason: &str) -> StacksResult {
    let started_wall = crate::sys::now_epoch();
    let started = Instant::now();
    let mut data = CaptureData::default();
    let mut notes: Vec<String> = Vec::new();
    let mut any_user = false;
    let mut timed_out = false;
    let mut all_denied = true;
    let mut event_process_lost: Option<String> = None;
    let kernel = kernel_image();

    for (i, pid) in pids.iter().copied().enumerate() {
        let root = s.proc_root.clone();
        let (samples, interval) = (s.stack_samples, s.stack_interval);
        let sampled =
            tokio::task::spawn_blocking(move || sample_process(&root, pid, samples, interval))
                .await;
        let sampling = match sampled {
            Ok(Ok(sampling)) => sampling,
            Ok(Err(e)) => {
                if i == 0 {
                    event_process_lost = Some(e.to_string());
                } else if !matches!(e, ThreadsError::Gone(_)) {
                    // A culprit of the last 30 s that has exited since is no news.
                    notes.push(e.to_string());
                }
                if !matches!(e, ThreadsError::Gone(_)) {
                    all_denied = false;
                }
                continue;
            }
            Err(join) => {
                notes.push(format!("stack sampling of {pid} failed: {join}"));
                continue;
            }
        };
        let (user, note, timeout) = if is_kernel_thread(&s.proc_root, pid) {
            (BTreeMap::new(), None, false) // no user space to unwind
        } else {
            user_stacks(s, pid).await
        };
        timed_out |= timeout;
        any_user |= !user.is_empty();
        if let Some(n) = note
            && !notes.contains(&n)
        {
            notes.push(n);
        }
        let ProcessStacks {
            mut process,
            kernel_denied,
            ended_early,
        } = sampling.with_user_stacks(&user);
        all_denied &= kernel_denied;
        if ended_early && i == 0 {
            event_process_lost = Some(format!("process {pid} exited during the capture"));
        }
        let root = s.proc_root.clone();
        if let Ok(Ok(mut imgs)) = tokio::task::spawn_blocking(move || images(&root, pid)).await {
            process.images.append(&mut imgs);
        }
        if let Some(k) = &kernel {
            process.images.push(k.clone());
        }
        data.processes.push(process);
    }
    data.header = Some(header(s, started_wall, started.elapsed(), reason));

    let source = match (any_user, s.user_stacks) {
        (true, UserStacks::EuStack) => "procfs+eu-stack",
        (true, UserStacks::Gdb) => "procfs+gdb",
        _ => "procfs",
    }
    .to_string();
    let kernel_frames = data
        .processes
        .iter()
        .flat_map(|p| &p.threads)
        .any(|t| t.frames.iter().any(|f| f.is_kernel));
    let outcome = if let Some(lost) = event_process_lost {
        failed(lost, &notes)
    } else if data.processes.is_empty() {
        failed("no culprit could be read".into(), &notes)
    } else if all_denied && !any_user && !kernel_frames {
        PartOutcome {
            status: PartStatus::Skipped,
            error: Some(with_notes(
                "kernel stacks need root, or CAP_SYS_ADMIN and CAP_SYS_PTRACE \
                 (see `rogue-hunter perms status`)"
                    .into(),
                &notes,
            )),
        }
    } else if timed_out {
        PartOutcome {
            status: PartStatus::Timeout,
            error: Some(with_notes("kernel stacks stored".into(), &notes)),
        }
    } else {
        succeeded(&notes)
    };
    StacksResult {
        data,
        source,
        outcome,
    }
}

/// PF_KTHREAD in `stat` field 9.
fn is_kernel_thread(proc_root: &std::path::Path, pid: u32) -> bool {
    crate::procfs::ProcRoot::open(proc_root)
        .and_then(|r| r.pid_stat(pid))
        .is_ok_and(|s| s.kernel_thread)
}

fn with_notes(main: String, notes: &[String]) -> String {
    if notes.is_empty() {
        main
    } else {
        format!("{main}; {}", notes.join("; "))
    }
}

/// Success, with the notes (what was partly missing) as its text.
fn succeeded(notes: &[String]) -> PartOutcome {
    PartOutcome {
        status: PartStatus::Success,
        error: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

fn failed(reason: String, notes: &[String]) -> PartOutcome {
    PartOutcome {
        status: PartStatus::Failed,
        error: Some(with_notes(reason, notes)),
    }
}

/// System context in the header row, from /proc.
fn header(s: &Settings, start_wall: f64, took: Duration, reason: &str) -> StackHeader {
    let root = crate::procfs::ProcRoot::live().ok();
    let read = |rel: &str| {
        root.as_ref()
            .and_then(|r| r.read_string(rel).ok())
            .unwrap_or_default()
    };
    let meminfo = read("meminfo");
    let meminfo_kb = |key: &str| -> Option<i64> {
        let key = key.trim_end_matches(':').as_bytes();
        i64::try_from(crate::procfs::parse::kv_u64(meminfo.as_bytes(), key)?).ok()
    };
    let psi_avg10 = |rel: &str| -> Option<i64> {
        crate::procfs::parse::pressure(read(rel).as_bytes()).map(|p| p.some.avg10.round() as i64)
    };
    let uptime = read("uptime")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok());
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .ok();
    let micros = |t: f64| (t * 1e6) as i64;
    StackHeader {
        start_time: Some(crate::forensics::logs::rfc3339_from_micros(micros(
            start_wall,
        ))),
        end_time: Some(crate::forensics::logs::rfc3339_from_micros(micros(
            start_wall + took.as_secs_f64(),
        ))),
        duration_sec: Some(took.as_secs_f64()),
        steps: Some(i64::from(s.stack_samples)),
        sampling_interval_ms: Some(s.stack_interval.as_millis() as i64),
        os_version: Some(format!(
            "{} {}",
            read("sys/kernel/ostype").trim(),
            read("sys/kernel/osrelease").trim()
        )),
        architecture: Some(std::env::consts::ARCH.to_string()),
        active_cpus: cpus,
        memory_gb: meminfo_kb("MemTotal:").map(|kb| kb / (1024 * 1024)),
        hw_page_size: Some(i64::from(page as i32)),
        vm_page_size: Some(i64::from(page as i32)),
        time_since_boot_sec: uptime.map(|u| u as i64),
        memory_pressure_avg_pct: psi_avg10("pressure/memory"),
        available_memory_avg_gb: meminfo_kb("MemAvailable:").map(|kb| kb as f64 / 1048576.0),
        data_source: Some("procfs".into()),
        reason: Some(reason.to_string()),
        ..Default::default()
    }
}

/// Kernel ring and journald records from `from_epoch` to now.
pub async fn logs(s: &Settings, from_epoch: f64) -> LogsResult {
    let now_wall = crate::sys::now_epoch();
    let now_mono = monotonic_usec();
    let boot_usec = (now_wall * 1e6) as i64 - now_mono;
    let from_mono = now_mono - ((now_wall - from_epoch).max(0.0) * 1e6) as i64;
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut sources_ok = 0;

    let kmsg = tokio::task::spawn_blocking(move || {
        read_window(
            std::path::Path::new("/dev/kmsg"),
            from_mono,
            now_mono + 1_000_000,
        )
    })
    .await;
    match kmsg {
        Ok(Ok(records)) => {
            sources_ok += 1;
            entries.extend(records.iter().map(|r| r.to_entry(boot_usec)));
        }
        Ok(Err(e)) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            notes.push("/dev/kmsg needs CAP_SYSLOG or root (kernel.dmesg_restrict=1)".to_string())
        }
        Ok(Err(e)) => notes.push(format!("/dev/kmsg: {e}")),
        Err(e) => notes.push(format!("/dev/kmsg: {e}")),
    }

    let mut timed_out = false;
    if std::path::Path::new("/run/systemd/journal").exists() {
        let since = format!("--since=@{}", from_epoch.floor() as i64);
        let until = format!("--until=@{}", now_wall.ceil() as i64);
        let args = [
            "-o",
            "json",
            "--no-pager",
            "-q",
            since.as_str(),
            until.as_str(),
        ];
        match tool::run("journalctl", &args, s.tool_timeout, &[]).await {
            Ok(out) => {
                sources_ok += 1;
                entries.extend(parse_journal_json(&out.stdout));
            }
            Err(e @ ToolError::Timeout { .. }) => {
                timed_out = true;
                notes.push(e.to_string());
            }
            Err(e) => notes.push(format!("journalctl: {e}")),
        }
    } else if sources_ok == 0 {
        notes.push("journald is not running".into());
    }
    entries.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));

    let outcome = if timed_out {
        PartOutcome {
            status: PartStatus::Timeout,
            error: Some(notes.join("; ")),
        }
    } else if sources_ok == 0 {
        PartOutcome {
            status: PartStatus::Skipped,
            error: Some(notes.join("; ")),
        }
    } else {
        PartOutcome {
            status: PartStatus::Success,
            error: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    };
    LogsResult { entries, outcome }
}
