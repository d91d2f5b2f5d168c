//! Per-thread evidence of one process from /proc: state, `wchan`, `syscall` and the kernel stack
//! of every thread, sampled several times (a thread on a CPU shows an empty stack, and a blocked
//! one may wake between reads), merged into one call tree per thread.
//!
//! Blocking I/O with short sleeps: callers run it on the blocking pool.

use crate::forensics::calltree::{RawFrame, parse_kernel_stack, thread_tree};
use crate::model::ProcState;
use crate::procfs::{self, ProcRoot};
use crate::store::capture_data::{NamedPid, StackProcess, StackThread};
use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

/// Why a process's stacks could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ThreadsError {
    #[error("process {0} exited before its stacks could be read")]
    Gone(u32),
    #[error("cannot read /proc for process {pid}: {source}")]
    Io {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
}

/// What sampling one thread produced.
#[derive(Debug, Default, Clone)]
struct ThreadSamples {
    name: Option<String>,
    states: Vec<char>,
    wchan: Option<String>,
    syscall: Option<String>,
    kernel: Vec<Vec<RawFrame>>,
}

/// The result for one process: the stack data plus what was not allowed.
#[derive(Debug, Clone)]
pub struct ProcessStacks {
    pub process: StackProcess,
    /// Kernel stacks were refused (needs root / CAP_SYS_ADMIN and ptrace access).
    pub kernel_denied: bool,
    /// The process exited before every sample was taken.
    pub ended_early: bool,
}

pub(crate) fn read_trim(root: &ProcRoot, rel: &str) -> std::io::Result<String> {
    root.read_string(rel).map(|s| s.trim().to_string())
}

/// `stat` state letter.
pub(crate) fn state_letter(stat: &str) -> Option<char> {
    procfs::parse::stat_head(stat.as_bytes()).map(|s| char::from(s.state))
}

pub(crate) fn ppid_of(stat: &str) -> Option<i64> {
    procfs::parse::stat_head(stat.as_bytes()).map(|s| i64::from(s.ppid))
}

/// Everything sampled from one process, before user stacks are added.
#[derive(Debug, Clone)]
pub struct ProcessSampling {
    pid: u32,
    name: String,
    path: Option<String>,
    parent: Option<NamedPid>,
    footprint_mb: Option<f64>,
    rounds: u32,
    /// Fewer rounds were completed than asked: the process exited mid-capture.
    pub ended_early: bool,
    threads: BTreeMap<i64, ThreadSamples>,
    kernel_denied: bool,
}

/// Samples every thread `samples` times, `interval` apart. Kernel stacks are taken first (user
/// stack tools attach with ptrace, which would disturb them) and user stacks added by
/// [`ProcessSampling::with_user_stacks`].
pub fn sample_process(
    proc_root: &Path,
    pid: u32,
    samples: u32,
    interval: Duration,
) -> Result<ProcessSampling, ThreadsError> {
    let io = |source: std::io::Error| {
        if source.kind() == ErrorKind::NotFound || source.raw_os_error() == Some(libc::ESRCH) {
            ThreadsError::Gone(pid)
        } else {
            ThreadsError::Io { pid, source }
        }
    };
    let root = ProcRoot::open(proc_root).map_err(|source| ThreadsError::Io { pid, source })?;
    let dir = pid.to_string();
    let stat = read_trim(&root, &format!("{dir}/stat")).map_err(io)?;
    let name = read_trim(&root, &format!("{dir}/comm")).unwrap_or_default();
    let mut threads: BTreeMap<i64, ThreadSamples> = BTreeMap::new();
    let mut kernel_denied = false;
    let rounds = samples.max(1);
    let mut completed = 0;
    for round in 0..rounds {
        if round > 0 {
            std::thread::sleep(interval);
        }
        let tids = match list_tids(&root, &format!("{dir}/task")) {
            Ok(t) => t,
            Err(e) if round == 0 => return Err(io(e)),
            // The process ended mid-capture: keep what was sampled.
            Err(_) => break,
        };
        for tid in tids {
            let tdir = format!("{dir}/task/{tid}");
            let Ok(tstat) = read_trim(&root, &format!("{tdir}/stat")) else {
                continue; // the thread exited between listing and reading
            };
            let entry = threads.entry(tid).or_default();
            if entry.name.is_none() {
                entry.name = read_trim(&root, &format!("{tdir}/comm")).ok();
            }
            if let Some(s) = state_letter(&tstat) {
                entry.states.push(s);
            }
            if let Ok(w) = read_trim(&root, &format!("{tdir}/wchan"))
                && !w.is_empty()
                && w != "0"
            {
                entry.wchan = Some(w);
            }
            if let Ok(s) = read_trim(&root, &format!("{tdir}/syscall")) {
                entry.syscall = Some(s);
            }
            match root.read_string(&format!("{tdir}/stack")) {
                Ok(text) => entry.kernel.push(parse_kernel_stack(&text)),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
                    kernel_denied = true;
                }
                Err(_) => {}
            }
        }
        completed += 1;
    }
    if threads.is_empty() {
        return Err(ThreadsError::Gone(pid));
    }
    let facts = process_facts(&root, pid, &stat);
    let ended_early = completed < rounds || !root.exists(&format!("{dir}/stat"));
    Ok(ProcessSampling {
        pid,
        name,
        path: facts.path,
        parent: facts.parent,
        footprint_mb: facts.footprint_mb,
        rounds,
        ended_early,
        threads,
        kernel_denied,
    })
}

/// Who a process is, for its stack record.
#[derive(Debug, Default)]
pub(crate) struct ProcessFacts {
    pub path: Option<String>,
    pub parent: Option<NamedPid>,
    pub footprint_mb: Option<f64>,
}

/// The executable, parent and resident size of `pid` (`stat` is its `/proc/P/stat`).
pub(crate) fn process_facts(root: &ProcRoot, pid: u32, stat: &str) -> ProcessFacts {
    let dir = pid.to_string();
    ProcessFacts {
        path: root
            .read_link(&format!("{dir}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned()),
        parent: ppid_of(stat).map(|ppid| NamedPid {
            name: read_trim(root, &format!("{ppid}/comm")).unwrap_or_default(),
            pid: ppid,
        }),
        footprint_mb: status_kb(root, &dir, b"VmRSS").map(|kb| kb as f64 / 1024.0),
    }
}

/// Where one thread is right now: name, state, wait channel and system call.
#[derive(Debug, Default, Clone)]
pub(crate) struct ThreadFacts {
    pub name: Option<String>,
    pub state: Option<String>,
    pub wchan: Option<String>,
    pub syscall: Option<String>,
}

/// Reads a thread's facts from its `P/task/T` directory, relative to the proc root (what
/// cannot be read stays None).
pub(crate) fn thread_facts(root: &ProcRoot, task_dir: &str) -> ThreadFacts {
    ThreadFacts {
        name: read_trim(root, &format!("{task_dir}/comm")).ok(),
        state: read_trim(root, &format!("{task_dir}/stat"))
            .ok()
            .and_then(|s| state_letter(&s))
            .map(|c| ProcState::from_linux_code(c as u8).to_string()),
        wchan: read_trim(root, &format!("{task_dir}/wchan"))
            .ok()
            .filter(|w| !w.is_empty() && w != "0"),
        syscall: read_trim(root, &format!("{task_dir}/syscall")).ok(),
    }
}

impl ProcessSampling {
    /// Threads seen.
    pub fn tids(&self) -> Vec<i64> {
        self.threads.keys().copied().collect()
    }

    /// The call trees, with the user stacks (per tid, innermost first) above the kernel ones.
    pub fn with_user_stacks(self, user: &BTreeMap<i64, Vec<RawFrame>>) -> ProcessStacks {
        let thread_count = self.threads.len();
        let threads: Vec<StackThread> = self
            .threads
            .into_iter()
            .map(|(tid, s)| {
                let empty = Vec::new();
                let frames = thread_tree(user.get(&tid).unwrap_or(&empty), &s.kernel);
                StackThread {
                    thread_id: tid.to_string(),
                    thread_name: s.name,
                    num_samples: Some(s.states.len() as i64),
                    state: most_common(&s.states)
                        .map(|c| ProcState::from_linux_code(c as u8).to_string()),
                    wchan: s.wchan,
                    syscall: s.syscall,
                    frames,
                    ..Default::default()
                }
            })
            .collect();
        ProcessStacks {
            process: StackProcess {
                pid: i64::from(self.pid),
                name: self.name,
                path: self.path,
                parent: self.parent,
                footprint_mb: self.footprint_mb,
                num_samples: Some(i64::from(self.rounds)),
                num_threads: Some(thread_count as i64),
                threads,
                ..Default::default()
            },
            kernel_denied: self.kernel_denied,
            ended_early: self.ended_early,
        }
    }
}

pub(crate) fn list_tids(root: &ProcRoot, task_dir: &str) -> std::io::Result<Vec<i64>> {
    Ok(root
        .list_numeric(task_dir)?
        .into_iter()
        .map(i64::from)
        .collect())
}

pub(crate) fn status_kb(root: &ProcRoot, dir: &str, key: &[u8]) -> Option<u64> {
    procfs::parse::kv_u64(&root.read(&format!("{dir}/status")).ok()?, key)
}

fn most_common(v: &[char]) -> Option<char> {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in v {
        *counts.entry(*c).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(c, n)| (*n, std::cmp::Reverse(*c)))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(root: &Path, pid: u32, tids: &[(u32, char, &str)]) {
        let d = root.join(pid.to_string());
        std::fs::create_dir_all(d.join("task")).unwrap();
        std::fs::write(d.join("stat"), format!("{pid} (my (odd) app) S 1 0 0")).unwrap();
        std::fs::write(d.join("comm"), "my (odd) app\n").unwrap();
        std::fs::write(d.join("status"), "Name:\tx\nVmRSS:\t   2048 kB\n").unwrap();
        let p1 = root.join("1");
        std::fs::create_dir_all(&p1).unwrap();
        std::fs::write(p1.join("comm"), "init\n").unwrap();
        for (tid, state, stack) in tids {
            let t = d.join("task").join(tid.to_string());
            std::fs::create_dir_all(&t).unwrap();
            std::fs::write(t.join("stat"), format!("{tid} (worker) {state} 1 0")).unwrap();
            std::fs::write(t.join("comm"), format!("worker-{tid}\n")).unwrap();
            std::fs::write(t.join("wchan"), "hrtimer_nanosleep").unwrap();
            std::fs::write(t.join("syscall"), "230 0x1 0x0").unwrap();
            std::fs::write(t.join("stack"), stack).unwrap();
        }
    }

    #[test]
    fn fake_tree_gives_every_thread_with_counted_kernel_frames() {
        let t = tempfile::tempdir().unwrap();
        let stack = "[<0>] hrtimer_nanosleep+0x8d/0x120\n[<0>] do_syscall_64+0x82/0x190\n";
        fake_proc(t.path(), 50, &[(50, 'S', stack), (51, 'R', "")]);
        let r = sample_process(t.path(), 50, 3, Duration::ZERO)
            .unwrap()
            .with_user_stacks(&BTreeMap::new());
        let p = &r.process;
        assert_eq!((p.pid, p.name.as_str()), (50, "my (odd) app"));
        assert_eq!(
            p.parent,
            Some(NamedPid {
                name: "init".into(),
                pid: 1
            })
        );
        assert_eq!(p.footprint_mb, Some(2.0));
        assert_eq!(p.num_threads, Some(2));
        let t50 = &p.threads[0];
        assert_eq!(t50.thread_id, "50");
        assert_eq!(t50.thread_name.as_deref(), Some("worker-50"));
        assert_eq!(t50.state.as_deref(), Some("sleeping"));
        assert_eq!(t50.wchan.as_deref(), Some("hrtimer_nanosleep"));
        assert_eq!(t50.syscall.as_deref(), Some("230 0x1 0x0"));
        assert_eq!(t50.num_samples, Some(3));
        assert_eq!(t50.frames.len(), 2);
        assert_eq!(t50.frames[0].symbol_name.as_deref(), Some("do_syscall_64"));
        assert_eq!(t50.frames[0].sample_count, 3);
        let t51 = &p.threads[1];
        assert_eq!(t51.state.as_deref(), Some("running"));
        assert!(
            t51.frames.is_empty(),
            "a running thread shows an empty kernel stack"
        );
        assert!(!r.kernel_denied);
        assert!(!r.ended_early);
    }

    #[test]
    fn a_vanished_process_is_gone() {
        let t = tempfile::tempdir().unwrap();
        let e = sample_process(t.path(), 4242, 2, Duration::ZERO).unwrap_err();
        assert!(matches!(e, ThreadsError::Gone(4242)), "{e}");
        assert!(e.to_string().contains("exited"));
    }

    #[test]
    fn most_common_state_wins() {
        assert_eq!(most_common(&['S', 'R', 'S']), Some('S'));
        assert_eq!(most_common(&[]), None);
    }
}
