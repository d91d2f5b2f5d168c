//! The Linux sampler on fake /proc trees (temporary directories laid out like procfs).
//!
//! A fake tree is not procfs, so CPU comes from `stat` ticks here (the process CPU clock is
//! used only on the live /proc and is tested by the integration tests).

use super::*;
use crate::model::{ProcState, ProcessScore};
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

const BTIME: u64 = 1_700_000_000;

/// Seconds per `stat` clock tick on this machine (USER_HZ, 100 nearly everywhere).
fn tick() -> f64 {
    1.0 / crate::procfs::clock_ticks_per_second() as f64
}

/// A process as the fake tree describes it.
#[derive(Clone)]
struct P {
    pid: u32,
    comm: String,
    state: char,
    ppid: u32,
    flags: u32,
    minflt: u64,
    majflt: u64,
    utime: u64,
    stime: u64,
    threads: u32,
    start: u64,
    priority: i64,
    /// schedstat: cpu ns, run delay ns, pcount.
    sched: (u64, u64, u64),
    /// io: read_bytes, write_bytes, syscr, syscw; `None`: no io file.
    io: Option<(u64, u64, u64, u64)>,
    uid: u32,
    rss_anon_kb: u64,
    hwm_kb: u64,
    voluntary: u64,
}

fn p(pid: u32, comm: &str) -> P {
    P {
        pid,
        comm: comm.to_string(),
        state: 'S',
        ppid: 1,
        flags: 0x40_0100,
        minflt: 1000,
        majflt: 10,
        utime: 100,
        stime: 50,
        threads: 1,
        start: 5000,
        priority: 20,
        sched: (1_500_000_000, 2_000_000, 40),
        io: Some((4096, 8192, 30, 20)),
        uid: 1000,
        rss_anon_kb: 20_000,
        hwm_kb: 30_000,
        voluntary: 25,
    }
}

impl P {
    /// The process runs for `ms` of CPU (seen by its schedstat and by its stat ticks), as
    /// any process must before its counters, threads or command can change.
    fn run(&mut self, ms: u64) -> &mut Self {
        self.sched.0 += ms * 1_000_000;
        self.sched.2 += 1;
        self.utime += ms * crate::procfs::clock_ticks_per_second() / 1000;
        self
    }
}

/// A fake proc root.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().expect("temp dir");
        let t = Tree { dir };
        t.chmod("", 0o755);
        t.write(
            "stat",
            &format!("cpu  1 2 3 4\nctxt 5\nbtime {BTIME}\nprocesses 9\n"),
        );
        t
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> Config {
        let mut c = Config::default();
        c.sampler.proc_root = self.path().to_string_lossy().into_owned();
        c.sampler.status_interval_samples = 1;
        c
    }

    fn sampler(&self) -> LinuxSampler {
        LinuxSampler::new(&self.config()).expect("sampler on the fake tree")
    }

    fn chmod(&self, rel: &str, mode: u32) {
        let path = self.path().join(rel);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        if let Some(parent) = path.parent()
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).expect("mkdir");
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        // Written in place (truncate + write), as procfs content changes under a held fd.
        std::fs::write(&path, text).expect("write");
        self.chmod(rel, 0o644);
    }

    fn remove(&self, rel: &str) {
        let path = self.path().join(rel);
        if path.is_dir() {
            std::fs::remove_dir_all(path).expect("rm -r");
        } else {
            std::fs::remove_file(path).expect("rm");
        }
    }

    fn put(&self, p: &P) {
        let pid = p.pid;
        self.write(
            &format!("{pid}/stat"),
            &format!(
                "{pid} ({}) {} {} {pid} {pid} 0 -1 {} {} 0 {} 0 {} {} 0 0 {} 0 {} 0 {} 123456 789 \
                 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
                p.comm,
                p.state,
                p.ppid,
                p.flags,
                p.minflt,
                p.majflt,
                p.utime,
                p.stime,
                p.priority,
                p.threads,
                p.start
            ),
        );
        self.write(
            &format!("{pid}/schedstat"),
            &format!("{} {} {}\n", p.sched.0, p.sched.1, p.sched.2),
        );
        match p.io {
            Some((rb, wb, sr, sw)) => self.write(
                &format!("{pid}/io"),
                &format!(
                    "rchar: 1\nwchar: 2\nsyscr: {sr}\nsyscw: {sw}\nread_bytes: {rb}\n\
                     write_bytes: {wb}\ncancelled_write_bytes: 0\n"
                ),
            ),
            None => {
                let _ = std::fs::remove_file(self.path().join(format!("{pid}/io")));
            }
        }
        self.write(&format!("{pid}/status"), &status_text(p, p.voluntary));
    }

    fn thread(&self, pid: u32, tid: u32, sched: (u64, u64, u64), voluntary: u64) {
        let mut t = p(tid, "worker");
        t.threads = 0;
        self.write(
            &format!("{pid}/task/{tid}/schedstat"),
            &format!("{} {} {}\n", sched.0, sched.1, sched.2),
        );
        self.write(
            &format!("{pid}/task/{tid}/status"),
            &status_text(&t, voluntary),
        );
    }
}

fn status_text(p: &P, voluntary: u64) -> String {
    format!(
        "Name:\t{}\nState:\t{} (x)\nTgid:\t{}\nPPid:\t{}\nUid:\t{u}\t{u}\t{u}\t{u}\nVmPeak:\t1 kB\n\
         VmHWM:\t{} kB\nVmRSS:\t1 kB\nRssAnon:\t{} kB\nRssFile:\t500 kB\nRssShmem:\t100 kB\n\
         VmSwap:\t0 kB\nThreads:\t{}\nvoluntary_ctxt_switches:\t{voluntary}\n\
         nonvoluntary_ctxt_switches:\t3\n",
        p.comm,
        p.state,
        p.pid,
        p.ppid,
        p.hwm_kb,
        p.rss_anon_kb,
        p.threads,
        u = p.uid,
    )
}

fn get(s: &Sample, pid: u32) -> &ProcessScore {
    s.processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} missing from the sample"))
}

fn pids(s: &Sample) -> Vec<u32> {
    let mut v: Vec<u32> = s.processes.iter().map(|p| p.pid).collect();
    v.sort_unstable();
    v
}

/// Time bounds of the interval between two passes: the shortest possible (end of the first to
/// start of the second) and the longest (start of the first to end of the second).
struct Window {
    inner: f64,
    outer: f64,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Instant, Instant) {
    let a = Instant::now();
    let v = f();
    (v, a, Instant::now())
}

fn assert_rate(name: &str, rate: f64, delta: f64, w: &Window) {
    let (lo, hi) = (delta / w.outer, delta / w.inner);
    assert!(
        rate >= lo * 0.999 && rate <= hi * 1.001,
        "{name}: {rate} not within [{lo}, {hi}] for a growth of {delta}"
    );
}

#[test]
fn first_sighting_has_every_rate_zero_and_the_static_fields() {
    let t = Tree::new();
    t.put(&p(10, "bash"));
    let s = t.sampler().sample().expect("pass");
    let x = get(&s, 10);
    assert_eq!(x.command, "bash");
    assert_eq!(x.state, ProcState::Sleeping);
    assert_eq!((x.ppid, x.uid, x.threads, x.priority), (1, 1000, 1, 20));
    assert_eq!(x.start_time, BTIME as f64 + 5000.0 * tick());
    assert_eq!((x.pageins, x.faults), (10, 1010));
    assert_eq!((x.disk_io, x.syscalls), (4096 + 8192, 50));
    assert_eq!((x.csw, x.runnable_time, x.wakeups), (40, 2_000_000, 25));
    assert_eq!(x.mem, (20_000 + 100) * 1024);
    assert_eq!(x.mem_peak, 30_000 * 1024);
    let rates = [
        x.cpu,
        x.pageins_rate,
        x.faults_rate,
        x.disk_io_rate,
        x.csw_rate,
        x.syscalls_rate,
        x.wakeups_rate,
        x.runnable_time_rate,
        x.gpu_time_rate,
    ];
    assert!(rates.iter().all(|&r| r == 0.0), "{rates:?}");
    assert_eq!((s.seq, s.process_count, s.access_denied), (1, 1, 0));
}

#[test]
fn rates_are_growth_over_measured_time() {
    let t = Tree::new();
    let mut a = p(50, "worker");
    t.put(&a);
    let mut s = t.sampler();
    let (_, t0, t1) = timed(|| s.sample().expect("pass 1"));
    std::thread::sleep(std::time::Duration::from_millis(50));
    a.run(500);
    a.minflt += 100;
    a.majflt += 10;
    a.io = Some((4096 + 1000, 8192 + 3000, 30 + 7, 20 + 13));
    a.sched = (a.sched.0, a.sched.1 + 3_000_000, a.sched.2 + 29);
    a.voluntary += 15;
    t.put(&a);
    let (s2, t2, t3) = timed(|| s.sample().expect("pass 2"));
    let w = Window {
        inner: (t2 - t1).as_secs_f64(),
        outer: (t3 - t0).as_secs_f64(),
    };
    let x = get(&s2, 50);
    // 0.5 s of CPU time, as % of one core.
    assert_rate("cpu", x.cpu, 50.0, &w);
    assert_rate("faults_rate", x.faults_rate, 110.0, &w);
    assert_rate("pageins_rate", x.pageins_rate, 10.0, &w);
    assert_rate("disk_io_rate", x.disk_io_rate, 4000.0, &w);
    assert_rate("syscalls_rate", x.syscalls_rate, 20.0, &w);
    assert_rate("csw_rate", x.csw_rate, 30.0, &w);
    assert_rate("runnable_time_rate (ms/s)", x.runnable_time_rate, 3.0, &w);
    assert_rate("wakeups_rate", x.wakeups_rate, 15.0, &w);
    assert_eq!(s2.seq, 2);
}

#[test]
fn a_counter_going_backwards_gives_rate_zero() {
    let t = Tree::new();
    let mut a = p(51, "x");
    t.put(&a);
    let mut s = t.sampler();
    s.sample().expect("pass 1");
    a.io = Some((0, 0, 0, 0));
    a.minflt = 0;
    a.run(1);
    t.put(&a);
    let s2 = s.sample().expect("pass 2");
    let x = get(&s2, 51);
    assert_eq!(
        (x.disk_io_rate, x.syscalls_rate, x.faults_rate),
        (0.0, 0.0, 0.0)
    );
}

#[test]
fn odd_commands_are_cut_at_the_last_paren() {
    let t = Tree::new();
    t.put(&p(60, "evil) R 1 (x"));
    t.put(&p(61, "a b  c"));
    t.put(&p(62, ""));
    t.put(&p(63, "(((")); // no ')' inside
    let mut s = t.sampler();
    let s1 = s.sample().expect("pass");
    assert_eq!(get(&s1, 60).command, "evil) R 1 (x");
    assert_eq!(get(&s1, 60).state, ProcState::Sleeping);
    assert_eq!(get(&s1, 60).ppid, 1);
    assert_eq!(get(&s1, 61).command, "a b  c");
    assert_eq!(get(&s1, 62).command, "");
    assert_eq!(get(&s1, 63).command, "(((");
    // An exec changes the command under the same identity.
    let mut e = p(61, "renamed");
    e.run(100);
    t.put(&e);
    let s2 = s.sample().expect("pass");
    let x = get(&s2, 61);
    assert_eq!(x.command, "renamed");
    assert!(x.cpu > 0.0, "same process, so it has a rate");
}

#[test]
fn vanished_and_malformed_processes_are_dropped_cleanly() {
    let t = Tree::new();
    for pid in [10, 11, 12] {
        t.put(&p(pid, "p"));
    }
    let mut s = t.sampler();
    assert_eq!(pids(&s.sample().expect("pass 1")), vec![10, 11, 12]);
    // 11 exits; 13 is listed but gone before its files are opened; 14 has a garbled stat.
    t.remove("11");
    std::fs::create_dir(t.path().join("13")).expect("mkdir");
    t.put(&p(14, "p"));
    t.write("14/stat", "14 (p) S");
    let s2 = s.sample().expect("a vanished process is not an error");
    assert_eq!(pids(&s2), vec![10, 12]);
    assert_eq!(s2.process_count, 2);
    assert_eq!(s.tracked_processes(), 2);
    // 11 comes back as a new process with the same pid: first sighting again.
    let mut back = p(11, "p");
    back.start = 9000;
    t.put(&back);
    let s3 = s.sample().expect("pass 3");
    assert_eq!(get(&s3, 11).cpu, 0.0);
    assert_eq!(get(&s3, 11).start_time, BTIME as f64 + 9000.0 * tick());
}

#[test]
fn a_missing_io_file_is_not_a_refusal() {
    let t = Tree::new();
    let mut a = p(70, "noio");
    a.io = None;
    t.put(&a);
    let s = t.sampler().sample().expect("pass");
    let x = get(&s, 70);
    assert_eq!((x.disk_io, x.syscalls), (0, 0));
    assert_eq!(s.access_denied, 0);
}

#[test]
fn zombies_are_counted_by_their_parent() {
    let t = Tree::new();
    t.put(&p(20, "parent"));
    for (pid, ppid) in [(21, 20), (22, 20), (23, 1)] {
        let mut z = p(pid, "defunct");
        z.state = 'Z';
        z.ppid = ppid;
        t.put(&z);
    }
    let s = t.sampler().sample().expect("pass");
    assert_eq!(get(&s, 20).zombie_children, 2);
    assert_eq!(get(&s, 21).state, ProcState::Zombie);
    assert_eq!(get(&s, 21).zombie_children, 0);
    assert_eq!(s.process_count, 4);
}

#[test]
fn kernel_threads_are_sampled_unless_excluded() {
    let t = Tree::new();
    let mut k = p(2, "kthreadd");
    k.flags = 0x0020_8040; // PF_KTHREAD
    k.state = 'I';
    k.rss_anon_kb = 0;
    t.put(&k);
    t.put(&p(100, "user"));
    let with = t.sampler().sample().expect("pass");
    assert_eq!(pids(&with), vec![2, 100]);
    assert_eq!(get(&with, 2).state, ProcState::Idle);
    assert_eq!(get(&with, 2).mem, 100 * 1024, "RssShmem only");

    let mut config = t.config();
    config.sampler.include_kernel_threads = false;
    let mut s = LinuxSampler::new(&config).expect("sampler");
    for _ in 0..3 {
        let without = s.sample().expect("pass");
        assert_eq!(pids(&without), vec![100]);
        assert_eq!(without.process_count, 1);
    }
    assert_eq!(
        s.tracked_processes(),
        2,
        "the kernel thread is remembered, not read"
    );
}

#[test]
fn a_reused_pid_with_a_new_start_time_resets_the_rates() {
    let t = Tree::new();
    let old = p(30, "old");
    let mut steady = p(31, "steady");
    t.put(&old);
    t.put(&steady);
    let mut s = t.sampler();
    s.sample().expect("pass 1");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut new = p(30, "new");
    new.start = old.start + 2000;
    new.utime = old.utime + 500; // would be a huge bogus rate against the old baseline
    new.sched.2 = old.sched.2 + 1000;
    t.put(&new);
    steady.run(50);
    t.put(&steady);
    let s2 = s.sample().expect("pass 2");
    let x = get(&s2, 30);
    assert_eq!(x.command, "new");
    assert_eq!(x.start_time, BTIME as f64 + 7000.0 * tick());
    assert_eq!(
        (x.cpu, x.csw_rate),
        (0.0, 0.0),
        "a new process starts from its first sighting"
    );
    assert_eq!(
        x.csw, new.sched.2,
        "fresh totals, not added to the old process's"
    );
    assert!(
        get(&s2, 31).cpu > 0.0,
        "the control process keeps its baseline"
    );
    new.run(50);
    t.put(&new);
    let s3 = s.sample().expect("pass 3");
    assert!(get(&s3, 30).cpu > 0.0, "the new process has a baseline now");
}

#[test]
fn switches_and_run_delay_are_summed_over_threads_and_never_go_backwards() {
    let t = Tree::new();
    let mut a = p(40, "threaded");
    a.threads = 3;
    a.sched = (0, 1_000, 4);
    a.voluntary = 2;
    t.put(&a);
    std::fs::create_dir_all(t.path().join("40/task/40")).expect("mkdir");
    t.thread(40, 41, (0, 10_000, 10), 5);
    t.thread(40, 42, (0, 100_000, 20), 7);
    let mut s = t.sampler();
    let s1 = s.sample().expect("pass 1");
    let x = get(&s1, 40);
    assert_eq!(x.threads, 3);
    assert_eq!(x.csw, 4 + 10 + 20);
    assert_eq!(x.runnable_time, 1_000 + 10_000 + 100_000);
    assert_eq!(x.wakeups, 2 + 5 + 7);

    // Thread 42 exits, 41 and the leader keep going.
    a.threads = 2;
    a.sched = (0, 2_000, 5);
    a.voluntary = 3;
    t.put(&a);
    t.remove("40/task/42");
    t.thread(40, 41, (0, 30_000, 20), 9);
    let s2 = s.sample().expect("pass 2");
    let x = get(&s2, 40);
    assert_eq!(x.threads, 2);
    assert_eq!(
        x.csw,
        34 + 1 + 10,
        "growth of the live threads added to the total"
    );
    assert_eq!(x.runnable_time, 111_000 + 1_000 + 20_000);
    assert_eq!(x.wakeups, 14 + 1 + 4);
    assert!(x.csw_rate > 0.0 && x.wakeups_rate > 0.0);

    // The leader creates thread 43, which brings its whole count (it started since the last
    // pass).
    a.threads = 3;
    a.sched.2 += 1;
    t.put(&a);
    t.thread(40, 43, (0, 0, 6), 6);
    let s3 = s.sample().expect("pass 3");
    assert_eq!(get(&s3, 40).csw, 45 + 1 + 6);
    assert_eq!(get(&s3, 40).wakeups, 19 + 6);
}

#[test]
fn cpu_is_schedstat_ns_unless_stat_ticks_show_unseen_threads() {
    let t = Tree::new();
    let mut precise = p(90, "precise");
    let mut churn = p(91, "churn");
    t.put(&precise);
    t.put(&churn);
    let mut s = t.sampler();
    let (_, t0, t1) = timed(|| s.sample().expect("pass 1"));
    std::thread::sleep(std::time::Duration::from_millis(30));
    // 90: 480 ms by schedstat, 490 ms by ticks: truncation noise, the ns figure stands.
    precise.sched.0 += 480_000_000;
    precise.sched.2 += 5;
    precise.utime += 49 * crate::procfs::clock_ticks_per_second() / 100;
    // 91: its seen threads ran 100 ms but stat counts 600 ms: threads that came and went
    // between the passes ran the rest.
    churn.sched.0 += 100_000_000;
    churn.sched.2 += 5;
    churn.utime += 60 * crate::procfs::clock_ticks_per_second() / 100;
    t.put(&precise);
    t.put(&churn);
    let (s2, t2, t3) = timed(|| s.sample().expect("pass 2"));
    let w = Window {
        inner: (t2 - t1).as_secs_f64(),
        outer: (t3 - t0).as_secs_f64(),
    };
    assert_rate("cpu from schedstat", get(&s2, 90).cpu, 48.0, &w);
    assert_rate("cpu from ticks", get(&s2, 91).cpu, 60.0, &w);
}

#[test]
fn an_idle_process_is_only_probed_until_its_idle_refresh() {
    let t = Tree::new();
    let mut a = p(10, "idle"); // pid 10, interval 3: status due at passes 1, 3, 6, 9 …
    t.put(&a);
    let mut config = t.config();
    config.sampler.status_interval_samples = 3;
    let mut s = LinuxSampler::new(&config).expect("sampler");
    assert_eq!(get(&s.sample().expect("pass 1"), 10).priority, 20);
    // Reniced by someone else while it sleeps: its schedstat does not move, so nothing it
    // could have changed is read again until the idle refresh, 10 status intervals after its
    // last status read: the first due pass at or after 1 + 30.
    a.priority = 39;
    a.rss_anon_kb = 1;
    t.put(&a);
    for pass in 2..=32 {
        let x = s.sample().expect("pass");
        assert_eq!(get(&x, 10).priority, 20, "pass {pass}: it did not run");
        assert_eq!(get(&x, 10).cpu, 0.0);
    }
    let p33 = s.sample().expect("pass 33");
    assert_eq!(get(&p33, 10).priority, 39, "refreshed");
    assert_eq!(get(&p33, 10).mem, (1 + 100) * 1024);
    // Once it runs, its counters are read at once.
    a.run(10);
    a.majflt += 3;
    t.put(&a);
    let p34 = s.sample().expect("pass 34");
    assert_eq!(get(&p34, 10).pageins, 13);
    assert!(get(&p34, 10).cpu > 0.0 && get(&p34, 10).pageins_rate > 0.0);
}

#[test]
fn status_is_read_on_first_sighting_then_every_interval_after_running() {
    let t = Tree::new();
    let mut a = p(10, "x"); // pid 10, interval 3: status due at passes 1, 3, 6, 9 …
    t.put(&a);
    let mut config = t.config();
    config.sampler.status_interval_samples = 3;
    let mut s = LinuxSampler::new(&config).expect("sampler");
    let mem = |s: &Sample| get(s, 10).mem;
    assert_eq!(mem(&s.sample().expect("pass 1")), (20_000 + 100) * 1024);
    // It runs and grows before pass 2, then sleeps: read at its next due pass, 3.
    a.rss_anon_kb = 50_000;
    a.run(5);
    t.put(&a);
    assert_eq!(
        mem(&s.sample().expect("pass 2")),
        (20_000 + 100) * 1024,
        "not due"
    );
    assert_eq!(mem(&s.sample().expect("pass 3")), (50_000 + 100) * 1024);
    a.rss_anon_kb = 60_000;
    a.run(5);
    t.put(&a);
    for _ in 4..=5 {
        assert_eq!(mem(&s.sample().expect("pass")), (50_000 + 100) * 1024);
    }
    assert_eq!(mem(&s.sample().expect("pass 6")), (60_000 + 100) * 1024);
}

#[test]
fn gpu_time_comes_from_drm_fdinfo_counted_once_per_client() {
    let t = Tree::new();
    t.put(&p(80, "game"));
    let fd_dir = t.path().join("80/fd");
    std::fs::create_dir_all(&fd_dir).expect("mkdir");
    for (fd, target) in [
        ("3", "/dev/dri/renderD128"),
        ("4", "/dev/dri/renderD128"),
        ("5", "/dev/null"),
    ] {
        std::os::unix::fs::symlink(target, fd_dir.join(fd)).expect("symlink");
    }
    let drm = |ns: u64| {
        format!(
            "pos:\t0\nflags:\t02100002\ndrm-driver:\ti915\ndrm-client-id:\t7\n\
             drm-engine-render:\t{ns} ns\ndrm-engine-video:\t500 ns\n"
        )
    };
    t.write("80/fdinfo/3", &drm(1000));
    t.write("80/fdinfo/4", &drm(1000)); // a dup of the same client
    t.write("80/fdinfo/5", "pos:\t0\nflags:\t02\n");
    t.put(&p(81, "idle"));
    let mut s = t.sampler();
    let (s1, t0, t1) = timed(|| s.sample().expect("pass 1"));
    assert_eq!(get(&s1, 80).gpu_time, 1500);
    assert_eq!(get(&s1, 80).gpu_time_rate, 0.0);
    assert_eq!(get(&s1, 81).gpu_time, 0);
    std::thread::sleep(std::time::Duration::from_millis(20));
    t.write("80/fdinfo/3", &drm(1000 + 4_000_000));
    t.write("80/fdinfo/4", &drm(1000 + 4_000_000));
    let (s2, t2, t3) = timed(|| s.sample().expect("pass 2"));
    let x = get(&s2, 80);
    assert_eq!(x.gpu_time, 4_001_500);
    let w = Window {
        inner: (t2 - t1).as_secs_f64(),
        outer: (t3 - t0).as_secs_f64(),
    };
    assert_rate("gpu_time_rate (ms/s)", x.gpu_time_rate, 4.0, &w);
    // The fd is closed: its fdinfo no longer shows a client.
    t.write("80/fdinfo/3", "pos:\t0\n");
    t.write("80/fdinfo/4", "pos:\t0\n");
    let s3 = s.sample().expect("pass 3");
    assert_eq!(
        (get(&s3, 80).gpu_time, get(&s3, 80).gpu_time_rate),
        (0, 0.0)
    );
}

#[test]
fn processes_are_sorted_by_score_and_the_rogues_counted() {
    let t = Tree::new();
    for (pid, kb) in [(10, 20_000), (11, 900_000), (12, 20_000), (13, 400_000)] {
        let mut x = p(pid, "m");
        x.rss_anon_kb = kb;
        t.put(&x);
    }
    let mut config = t.config();
    config.rogue_selection.max_count = 2;
    config.scoring.model = crate::config::ScoringModel::FairShare;
    config.scoring.score_multiplier = 10.0;
    let s = LinuxSampler::new(&config)
        .expect("sampler")
        .sample()
        .expect("pass");
    let order: Vec<u32> = s.processes.iter().map(|p| p.pid).collect();
    assert_eq!(
        order,
        vec![11, 13, 10, 12],
        "highest first, ties in pid order"
    );
    assert_eq!(s.rogue_count, 2);
    assert_eq!(s.max_score, s.processes[0].score);
    assert!(s.processes[0].score > s.processes[1].score);
    assert_eq!(
        s.processes[0].dominant_resource,
        crate::model::Resource::Memory
    );
}

#[test]
fn over_the_fd_budget_files_are_read_per_call_with_the_same_results() {
    let t = Tree::new();
    let mut a = p(10, "a");
    let mut m = p(11, "threaded");
    m.threads = 2;
    t.put(&a);
    t.put(&m);
    t.thread(11, 12, (0, 0, 5), 1);
    let mut s = t.sampler();
    s.reader.set_fd_budget(0);
    let (_, t0, t1) = timed(|| s.sample().expect("pass 1"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    a.run(100);
    a.io = Some((4096 + 500, 8192, 30, 20));
    t.put(&a);
    // Only thread 12 of 11 runs; it cannot be seen without fds, so 11 is read in full every
    // pass and its CPU comes from stat ticks.
    m.utime += 10 * crate::procfs::clock_ticks_per_second() / 100;
    t.put(&m);
    let (s2, t2, t3) = timed(|| s.sample().expect("pass 2"));
    let w = Window {
        inner: (t2 - t1).as_secs_f64(),
        outer: (t3 - t0).as_secs_f64(),
    };
    assert_eq!(s.held_fds(), 1, "only the proc root");
    assert_rate("cpu", get(&s2, 10).cpu, 10.0, &w);
    assert_rate("disk", get(&s2, 10).disk_io_rate, 500.0, &w);
    assert_rate("cpu of the unseen thread", get(&s2, 11).cpu, 10.0, &w);
    assert_eq!(get(&s2, 11).threads, 2);
    assert_eq!(get(&s2, 10).mem, (20_000 + 100) * 1024);
}

#[test]
fn an_unreadable_root_or_missing_boot_time_is_an_error() {
    let mut c = Config::default();
    c.sampler.proc_root = "/nonexistent/rogue-hunter-proc".into();
    assert!(matches!(
        LinuxSampler::new(&c),
        Err(SamplerError::Procfs(
            crate::procfs::ProcfsError::Root { .. }
        ))
    ));
    let t = Tree::new();
    t.write("stat", "cpu 1 2 3\n");
    let err = LinuxSampler::new(&t.config()).err().expect("no btime");
    assert!(
        matches!(
            err,
            SamplerError::Procfs(crate::procfs::ProcfsError::BootTime { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("btime"));
}

#[test]
fn a_root_that_disappears_fails_the_pass_not_the_sampler() {
    let t = Tree::new();
    t.put(&p(10, "x"));
    let mut s = t.sampler();
    s.sample().expect("pass 1");
    drop(t);
    for _ in 0..2 {
        let err = s.sample().expect_err("no process list, no pass");
        assert!(
            matches!(
                err,
                SamplerError::Procfs(crate::procfs::ProcfsError::Root { .. })
            ),
            "{err}"
        );
    }
}

const REFUSED_ENV: &str = "ROGUE_HUNTER_TEST_FAKE_ROOT";

/// EACCES on `io` and `status` zeroes only their fields and is counted; the process stays. A
/// refused `stat` (hidepid, an LSM) leaves its process out, counted. As root, file modes do not
/// stop reads, so the check runs in a copy of this test binary as uid 65534 (nobody).
#[test]
fn refused_files_zero_only_their_fields() {
    let t = Tree::new();
    t.put(&p(100, "secret"));
    t.put(&p(101, "open"));
    t.put(&p(102, "hidden"));
    t.chmod("100/io", 0o000);
    t.chmod("100/status", 0o000);
    t.chmod("102/stat", 0o000);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        refused_checks(t.path());
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    if let Some(private) = [exe.as_path(), t.path()]
        .into_iter()
        .find_map(closed_to_others)
    {
        eprintln!(
            "skipped: {} is not reachable by other users, so the check cannot run as nobody",
            private.display()
        );
        return;
    }
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new(exe)
        .args([
            "sampler::linux::tests::refused_files_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(REFUSED_ENV, t.path())
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run the test binary as nobody");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first directory above `path` that other users cannot enter (mode bits only), if any.
fn closed_to_others(path: &Path) -> Option<std::path::PathBuf> {
    path.ancestors().skip(1).find_map(|dir| {
        let mode = std::fs::metadata(dir).ok()?.permissions().mode();
        (mode & 0o001 == 0).then(|| dir.to_path_buf())
    })
}

/// Run only by `refused_files_zero_only_their_fields`, as uid 65534.
#[test]
#[ignore = "entry point of a child process started by refused_files_zero_only_their_fields"]
fn refused_files_child() {
    let root = std::env::var_os(REFUSED_ENV).expect("run by the parent test only");
    refused_checks(Path::new(&root));
}

fn refused_checks(root: &Path) {
    let mut c = Config::default();
    c.sampler.proc_root = root.to_string_lossy().into_owned();
    c.sampler.status_interval_samples = 1;
    let mut s = LinuxSampler::new(&c).expect("sampler");
    for pass in 1..=2 {
        let sample = s.sample().expect("pass");
        assert_eq!(
            sample.access_denied, 3,
            "pass {pass}: io and status of pid 100, stat of 102"
        );
        assert_eq!(
            pids(&sample),
            vec![100, 101],
            "no identity without stat: 102 is left out"
        );
        let x = get(&sample, 100);
        assert_eq!(
            (x.disk_io, x.syscalls, x.mem, x.mem_peak, x.wakeups),
            (0, 0, 0, 0, 0)
        );
        assert_eq!((x.command.as_str(), x.csw, x.pageins), ("secret", 40, 10));
        let y = get(&sample, 101);
        assert_eq!((y.disk_io, y.mem), (4096 + 8192, (20_000 + 100) * 1024));
    }
}

impl Tree {
    /// `/proc/stat` with these cumulative counters (two CPUs; ticks).
    fn system(&self, busy: u64, idle: u64, ctxt: u64, forks: u64) {
        self.write(
            "stat",
            &format!(
                "cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n\
                 cpu1 0 0 0 0 0 0 0 0 0 0\nctxt {ctxt}\nbtime {BTIME}\nprocesses {forks}\n\
                 procs_running 3\nprocs_blocked 1\n"
            ),
        );
        self.write(
            "meminfo",
            "MemTotal:       8000000 kB\nMemFree:  1000000 kB\nMemAvailable:   6000000 kB\n\
             Cached: 2000000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
        );
    }
}

#[test]
fn the_machine_comes_from_the_root_and_says_when_there_is_no_psi() {
    let t = Tree::new();
    t.system(100, 100, 1000, 50);
    let mut a = p(10, "waiter");
    t.put(&a);
    let mut s = t.sampler();
    let (_, t0, t1) = timed(|| s.sample().expect("pass 1"));
    std::thread::sleep(std::time::Duration::from_millis(50));
    // 300 busy ticks of 400 (1.5 of 2 CPUs), 600 switches, 30 forks; the waiter waited 10 ms
    // for a CPU: the run-queue estimate of cpu pressure.
    t.system(400, 200, 1600, 80);
    a.sched = (a.sched.0 + 1_000_000, a.sched.1 + 10_000_000, a.sched.2 + 1);
    a.run(1);
    t.put(&a);
    let (s2, t2, t3) = timed(|| s.sample().expect("pass 2"));
    let w = Window {
        inner: (t2 - t1).as_secs_f64(),
        outer: (t3 - t0).as_secs_f64(),
    };
    let m = &s2.machine;
    assert_eq!(m.cpus, 2);
    assert!((m.cpu_busy - 1.5).abs() < 1e-9, "{}", m.cpu_busy);
    assert_rate("ctxt_rate", m.ctxt_rate, 600.0, &w);
    assert_rate("forks_rate", m.forks_rate, 30.0, &w);
    assert_eq!(
        (m.mem_total, m.mem_available),
        (8_000_000 * 1024, 6_000_000 * 1024)
    );
    assert_eq!((m.procs_running, m.procs_blocked), (3, 1));
    assert_eq!(m.psi, None);
    assert_eq!(m.pressure_source, crate::machine::PressureSource::Estimate);
    // Σ run delay: 10 ms over the interval, per 2 CPUs, in %.
    assert_rate("estimated cpu pressure", m.pressure_cpu, 0.5, &w);

    // The same tree with PSI files: the kernel's figures, and windows from their totals.
    for (f, total) in crate::procfs::PRESSURE_FILES
        .iter()
        .zip([4_000_000u64, 0, 10])
    {
        t.write(
            f,
            &format!(
                "some avg10=12.50 avg60=3.00 avg300=1.00 total={total}\n\
                 full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
            ),
        );
    }
    let mut s = t.sampler();
    let m = s.sample().expect("pass").machine;
    let psi = m.psi.expect("PSI read");
    assert_eq!(psi.cpu.some.avg10, 12.5);
    assert_eq!(m.pressure_source, crate::machine::PressureSource::Psi);
}

#[test]
fn a_cgroup_service_is_one_unit_whatever_its_process_groups() {
    let t = Tree::new();
    t.system(100, 100, 1000, 50);
    let mut procs = vec![p(70, "nginx"), p(71, "nginx-worker"), p(72, "bash")];
    for x in &procs {
        t.put(x);
    }
    t.write("70/cgroup", "0::/system.slice/nginx.service\n");
    t.write("71/cgroup", "0::/system.slice/nginx.service\n");
    t.write("72/cgroup", "0::/\n");
    let mut c = t.config();
    c.scoring.impact.persistence_s = 0.0;
    c.scoring.impact.forensics_hold_s = 0.0;
    let mut s = LinuxSampler::new(&c).expect("sampler");
    s.sample().expect("pass 1");
    std::thread::sleep(std::time::Duration::from_millis(100));
    t.system(300, 100, 1100, 50);
    for x in procs.iter_mut().take(2) {
        x.run(100);
        t.put(x);
    }
    let s2 = s.sample().expect("pass 2");
    let unit = s2
        .units
        .iter()
        .find(|u| u.key == "cgroup:/system.slice/nginx.service")
        .unwrap_or_else(|| panic!("the service is a unit: {:?}", s2.units));
    assert_eq!(unit.kind, crate::model::UnitKind::Cgroup);
    assert_eq!(unit.label, "nginx.service");
    let mut members = unit.member_pids.clone();
    members.sort_unstable();
    assert_eq!(members, vec![70, 71]);
    assert_eq!(unit.row.members, 2);
    assert_eq!(
        get(&s2, 72).members,
        1,
        "bash in the root cgroup stands alone"
    );
}
