//! What `perms status` reports on Linux, gathered without printing: the capabilities of the
//! binary and of this process, the kernel settings that decide, and for each kind of data
//! forensics uses whether a daemon started from this binary by this user could read it, tried
//! on real processes of other users. The CLI renders the [`Report`].

use crate::forensics::tool::find_on_path;
use crate::privileges::caps::{self, CapSet, FileCaps};
use crate::privileges::linux;
use std::path::{Path, PathBuf};

/// Everything `perms status` shows.
#[derive(Debug, Clone)]
pub struct Report {
    pub uid: u32,
    pub user: String,
    pub binary: PathBuf,
    /// The binary's file capabilities (`None`: it has none), or why they could not be read.
    pub file_caps: Result<Option<FileCaps>, String>,
    /// What this process holds in effect.
    pub effective: CapSet,
    pub no_new_privs: bool,
    /// The binary's filesystem is mounted nosuid (its file capabilities are ignored).
    pub nosuid: bool,
    pub dmesg_restrict: Option<u32>,
    /// `kernel.yama.ptrace_scope`; `None` when Yama is not active.
    pub ptrace_scope: Option<u32>,
    /// What the daemon can see, line by line.
    pub lines: Vec<Line>,
    /// The tools forensics runs, and where they are (`None`: not installed).
    pub tools: Vec<(&'static str, Option<PathBuf>)>,
}

impl Report {
    /// Capabilities forensics uses that this process lacks.
    pub fn missing_caps(&self) -> CapSet {
        CapSet::forensics().minus(self.effective)
    }

    /// Whether a tool was found.
    pub fn has_tool(&self, name: &str) -> bool {
        self.tools.iter().any(|(n, p)| *n == name && p.is_some())
    }
}

/// Probes what a daemon started from `binary` by this user could see.
pub fn report(binary: &Path) -> Report {
    let uid = crate::paths::effective_uid();
    let proc_caps = linux::process_caps().unwrap_or_default();
    let effective = proc_caps.effective;
    let dmesg_restrict = sysctl("kernel.dmesg_restrict");
    let ptrace_scope = sysctl("kernel.yama.ptrace_scope");
    let targets = targets(std::process::id(), uid);
    let lines = vec![
        Line::new(
            Can::Yes,
            "CPU, memory, threads and state of every process",
            "/proc/P/stat and status are readable by everyone",
        ),
        io_line(&targets),
        kernel_stacks_line(&targets),
        kmsg_line(dmesg_restrict),
        profile_line(&targets),
        user_stacks_line(uid, effective, ptrace_scope),
        journal_line(uid),
    ];
    Report {
        uid,
        user: user_name(uid),
        binary: binary.to_path_buf(),
        file_caps: linux::read_file_caps(binary).map_err(|e| e.to_string()),
        effective,
        no_new_privs: proc_caps.no_new_privs,
        nosuid: linux::on_nosuid_mount(binary).unwrap_or(false),
        dmesg_restrict,
        ptrace_scope,
        lines,
        tools: ["eu-stack", "gdb", "journalctl"]
            .into_iter()
            .map(|t| (t, find_on_path(t)))
            .collect(),
    }
}

fn io_line(targets: &[Target]) -> Line {
    let io_needs = CapSet::of(&[caps::CAP_DAC_READ_SEARCH, caps::CAP_SYS_PTRACE]);
    match probe(targets, |p| format!("/proc/{p}/io")) {
        Ok(how) => Line::new(
            Can::Yes,
            "disk I/O and read/write calls of other users' processes",
            how,
        ),
        Err(e) => Line::new(
            Can::No,
            "disk I/O and read/write calls of other users' processes (they count as 0)",
            format!("{e}; needs {}", names(io_needs)),
        ),
    }
}

fn kernel_stacks_line(targets: &[Target]) -> Line {
    let stack_needs = CapSet::of(&[
        caps::CAP_SYS_ADMIN,
        caps::CAP_SYS_PTRACE,
        caps::CAP_DAC_READ_SEARCH,
    ]);
    match probe(targets, |p| format!("/proc/{p}/task/{p}/stack")) {
        Ok(how) => Line::new(Can::Yes, "kernel stacks of other processes' threads", how),
        Err(e) => Line::new(
            Can::No,
            "kernel stacks of other processes' threads",
            format!(
                "{e}; needs {} (even for your own processes)",
                names(stack_needs)
            ),
        ),
    }
}

fn kmsg_line(dmesg_restrict: Option<u32>) -> Line {
    // Opening decides (the kernel checks dmesg_restrict there); non-blocking, nothing is read.
    let kmsg = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
    };
    match kmsg {
        Ok(_) => Line::new(
            Can::Yes,
            "the kernel log (/dev/kmsg)",
            match dmesg_restrict {
                Some(1) => "kernel.dmesg_restrict = 1, and this process has CAP_SYSLOG".to_string(),
                _ => "kernel.dmesg_restrict = 0: readable by everyone".to_string(),
            },
        ),
        Err(e) => Line::new(
            Can::No,
            "the kernel log (/dev/kmsg)",
            format!(
                "{}; with kernel.dmesg_restrict = 1 it needs CAP_SYSLOG",
                plain(&e)
            ),
        ),
    }
}

/// A line of the report: can the daemon see this, and why (not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub can: Can,
    pub what: String,
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Can {
    Yes,
    Partly,
    No,
}

impl Line {
    fn new(can: Can, what: impl Into<String>, why: impl Into<String>) -> Line {
        Line {
            can,
            what: what.into(),
            why: why.into(),
        }
    }
}

/// A process to test access on: not ours, not a kernel thread.
struct Target {
    pid: u32,
    comm: String,
    owner: u32,
}

pub fn user_name(uid: u32) -> String {
    crate::account::by_uid(uid).map_or_else(|| format!("uid {uid}"), |a| a.name)
}

/// Other processes, those of other users first, kernel threads left out.
fn targets(me: u32, my_uid: u32) -> Vec<Target> {
    let Ok(root) = crate::procfs::ProcRoot::live() else {
        return Vec::new();
    };
    let Ok(pids) = root.list_numeric("") else {
        return Vec::new();
    };
    let mut found: Vec<Target> = pids
        .into_iter()
        .filter(|&p| p != me)
        .filter_map(|pid| {
            let stat = root.pid_stat(pid).ok()?;
            if stat.kernel_thread {
                return None;
            }
            let comm = stat.comm;
            let owner = root.owner(&pid.to_string()).ok()?;
            // A user's own processes are always readable, so only other users' tell what
            // privileges unlock. Root's processes are as protected as anyone's (on many
            // machines every process is root's), so for root they all count.
            (owner != my_uid || my_uid == 0).then_some(Target { pid, comm, owner })
        })
        .collect();
    found.sort_by_key(|t| t.owner == my_uid);
    found.truncate(64);
    found
}

fn describe(t: &Target) -> String {
    format!("{}, owned by {}", t.comm, user_name(t.owner))
}

/// Reads `file` of the first target that allows it; else the first refusal.
fn probe(targets: &[Target], file: impl Fn(u32) -> String) -> Result<String, String> {
    let mut first_error = None;
    let root = crate::procfs::ProcRoot::live();
    for t in targets {
        let path = file(t.pid);
        let read = match &root {
            Ok(r) => r.read(path.strip_prefix("/proc/").unwrap_or(&path)),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        };
        match read {
            Ok(_) => return Ok(format!("read {path} ({})", describe(t))),
            Err(e) => {
                first_error
                    .get_or_insert_with(|| format!("{path} ({}): {}", describe(t), plain(&e)));
            }
        }
    }
    Err(first_error
        .unwrap_or_else(|| "no other process is visible (is /proc mounted with hidepid?)".into()))
}

/// An I/O error without the "(os error N)" suffix.
fn plain(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A sysctl's value (`kernel.perf_event_paranoid` can be negative, hence the type parameter).
fn sysctl<T: std::str::FromStr>(name: &str) -> Option<T> {
    let rel = format!("sys/{}", name.replace('.', "/"));
    crate::procfs::ProcRoot::live()
        .ok()?
        .read_string(&rel)
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn names(set: CapSet) -> String {
    set.iter()
        .map(caps::upper_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Members of these groups may read the whole system journal.
fn in_journal_group() -> bool {
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: groups has room for 256 entries and its length is passed.
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    groups.truncate(usize::try_from(n).unwrap_or(0));
    // SAFETY: getegid has no preconditions.
    groups.push(unsafe { libc::getegid() });
    ["systemd-journal", "adm", "wheel"]
        .iter()
        .filter_map(|name| group_gid(name))
        .any(|gid| groups.contains(&gid))
}

fn group_gid(name: &str) -> Option<libc::gid_t> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: group is plain data; zeroed is a valid initial value.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and buf's length is passed.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(grp.gr_gid)
}

/// Whether sampled profiles (perf_event_open) of other users' processes work, and how far.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn profile_line(targets: &[Target]) -> Line {
    use crate::forensics::linux::profile::{Access, access};
    let what = "sampled profiles of other users' processes (perf_event_open)";
    let paranoid = sysctl::<i32>("kernel.perf_event_paranoid")
        .map_or_else(|| "unknown".to_string(), |p| p.to_string());
    let needs = names(CapSet::of(&[caps::CAP_PERFMON, caps::CAP_SYS_PTRACE]));
    let Some(t) = targets.first() else {
        return Line::new(Can::No, what, "no other process is visible to try");
    };
    match access(t.pid) {
        Access::Full => Line::new(
            Can::Yes,
            what,
            format!(
                "kernel and user frames, on and off the CPU ({})",
                describe(t)
            ),
        ),
        Access::UserOnly => Line::new(
            Can::Partly,
            what,
            format!(
                "user frames only ({}): kernel frames and off-CPU samples need {} \
                 (kernel.perf_event_paranoid = {paranoid})",
                describe(t),
                names(CapSet::of(&[caps::CAP_PERFMON]))
            ),
        ),
        Access::Refused(e) => Line::new(
            Can::No,
            what,
            format!(
                "{} ({}): needs {needs} (kernel.perf_event_paranoid = {paranoid}); \
                 captures take /proc stacks instead",
                plain(&e),
                describe(t)
            ),
        ),
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn profile_line(_targets: &[Target]) -> Line {
    Line::new(
        Can::No,
        "sampled profiles (perf_event_open)",
        "need an x86-64 or aarch64 CPU; captures take /proc stacks instead",
    )
}

fn user_stacks_line(uid: u32, eff: CapSet, ptrace_scope: Option<u32>) -> Line {
    let what = "user-space stacks of other users' processes (eu-stack)";
    let Some(eu_stack) = find_on_path("eu-stack") else {
        return Line::new(
            Can::No,
            what,
            "eu-stack is not installed (package elfutils)",
        );
    };
    if ptrace_scope == Some(3) {
        return Line::new(
            Can::No,
            what,
            "kernel.yama.ptrace_scope = 3: no process may ptrace at all",
        );
    }
    if uid == 0 {
        return if eff.contains(caps::CAP_SYS_PTRACE) {
            Line::new(Can::Yes, what, "running as root with CAP_SYS_PTRACE")
        } else {
            Line::new(Can::No, what, "root, but without CAP_SYS_PTRACE")
        };
    }
    if eff.contains_all(caps::EU_STACK) {
        return match linux::root_controlled(&eu_stack) {
            Ok(p) => Line::new(
                Can::Yes,
                what,
                format!(
                    "{} gets {} as ambient capabilities",
                    p.display(),
                    names(caps::EU_STACK)
                ),
            ),
            Err(why) => Line::new(Can::No, what, why),
        };
    }
    let own = match ptrace_scope {
        Some(1) => {
            "not even your own: kernel.yama.ptrace_scope = 1 limits ptrace to a process's descendants"
        }
        Some(2) => "none: kernel.yama.ptrace_scope = 2 reserves ptrace to CAP_SYS_PTRACE",
        _ => "only your own processes",
    };
    Line::new(
        Can::Partly,
        what,
        format!("{own}; other users' need {}", names(caps::EU_STACK)),
    )
}

fn journal_line(uid: u32) -> Line {
    let what = "the system journal (journalctl)";
    if !Path::new("/run/systemd/journal").exists() {
        return Line::new(
            Can::No,
            what,
            "journald is not running here (no /run/systemd/journal); /dev/kmsg is used alone",
        );
    }
    if find_on_path("journalctl").is_none() {
        return Line::new(Can::No, what, "journalctl is not installed");
    }
    if uid == 0 || in_journal_group() {
        Line::new(
            Can::Yes,
            what,
            "root, or a member of systemd-journal/adm/wheel",
        )
    } else {
        Line::new(
            Can::Partly,
            what,
            "only your own messages: the rest needs membership of the systemd-journal (or adm) group",
        )
    }
}
