//! The sampled profile of a capture through the real daemon: a C program built without frame
//! pointers unwinds to `main` with file:line and build-ids, a sleeping thread shows off-CPU
//! samples in the kernel's sleep path under its own frames, Python shows its interpreter
//! frames, the fallback runs (and says why) where perf is refused, and the stored tree comes
//! back out as folded stacks and a flame graph.

use crate::common::{NOBODY, PrivilegedCopy, TestEnv, is_root, which};
use crate::daemon_fixture::Daemon;
use rogue_hunter::store::capture_data::{CaptureData, Frame, StackThread};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Only manual captures, of the asked-for process alone.
const CONFIG: &str = "[system]\nsample_interval = 0.2\nring_buffer_size = 30\n[bands]\ncritical = 99\n\
    [forensics]\nmin_interval_s = 0\nstack_culprits = 0\nprofile_seconds = 2\n";

/// The test program, compiled without frame pointers into a directory everyone may read.
struct Target {
    _dir: tempfile::TempDir,
    binary: PathBuf,
}

impl Target {
    fn build() -> Option<Target> {
        if which("gcc").is_none() {
            eprintln!("skipped: gcc is not installed (CI installs it)");
            return None;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = dir.path().join("profile_target");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profile_target.c");
        let out = Command::new("gcc")
            .args([
                "-g",
                "-O1",
                "-fomit-frame-pointer",
                "-fno-builtin",
                "-pthread",
                "-o",
            ])
            .arg(&binary)
            .arg(&source)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gcc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Target { _dir: dir, binary })
    }

    /// Starts it (through `prefix`, e.g. setpriv) and waits for `ready`.
    fn run(&self, prefix: &[&str], args: &[&str]) -> Running {
        let mut cmd = match prefix.split_first() {
            Some((p, rest)) => {
                let mut c = Command::new(p);
                c.args(rest).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        Running::start(cmd.args(args).args(["--timeout", "120"]))
    }
}

/// A started process, killed on drop.
struct Running {
    child: Child,
    pid: u32,
}

impl Running {
    fn start(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the target");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        let pid = child.id();
        Running { child, pid }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn capture(d: &Daemon, pid: u32) -> i64 {
    crate::forensics::capture_and_wait(d, pid).0
}

/// Captures `pid` and checks that a profile was taken; its stacks.
fn profiled(d: &Daemon, pid: u32) -> (i64, CaptureData) {
    let id = capture(d, pid);
    let (source, status, error) = stack_part(d, id);
    assert_eq!(
        (source.as_str(), status.as_str()),
        ("perf", "success"),
        "{error}"
    );
    (id, stacks(d, id))
}

/// (stack_source, tailspin_status, tailspin_error) of a capture.
fn stack_part(d: &Daemon, id: i64) -> (String, String, String) {
    d.db()
        .query_row(
            "SELECT stack_source, tailspin_status, tailspin_error FROM forensic_captures WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                ))
            },
        )
        .unwrap()
}

fn stacks(d: &Daemon, id: i64) -> CaptureData {
    rogue_hunter::store::queries::capture_stacks(&d.db(), id).unwrap()
}

fn thread(data: &CaptureData, tid: u32) -> &StackThread {
    data.processes
        .iter()
        .flat_map(|p| &p.threads)
        .find(|t| t.thread_id == tid.to_string())
        .unwrap_or_else(|| panic!("thread {tid} in {data:#?}"))
}

fn sym(f: &Frame) -> &str {
    f.symbol_name.as_deref().unwrap_or("")
}

/// The chain of frames from a root down to frame `i` (outermost first).
fn ancestry(frames: &[Frame], mut i: usize) -> Vec<&Frame> {
    let mut v = vec![&frames[i]];
    while let Some(p) = frames[i].parent {
        v.push(&frames[p]);
        i = p;
    }
    v.reverse();
    v
}

fn on_cpu_total(t: &StackThread) -> i64 {
    t.frames
        .iter()
        .filter(|f| f.parent.is_none())
        .map(|f| f.on_cpu_count.unwrap_or(0))
        .sum()
}

#[test]
fn as_root_a_program_without_frame_pointers_unwinds_to_main_with_lines_and_off_cpu_sleeps() {
    if !is_root() {
        eprintln!("skipped: a profile with kernel frames needs root (or CAP_PERFMON)");
        return;
    }
    let Some(target) = Target::build() else {
        return;
    };
    // The target must get CPU time to be sampled: no boosted busy loops of other tests meanwhile.
    let _alone = crate::common::machine_alone();
    let d = Daemon::start(CONFIG);
    let t = target.run(&[], &["--napper"]);
    let (id, data) = profiled(&d, t.pid);

    let db = d.db();
    let (rate, on, data_source): (f64, i64, String) = db
        .query_row(
            "SELECT sample_rate_hz, samples_on_cpu, data_source FROM tailspin_header WHERE capture_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((rate, data_source.as_str()), (99.0, "perf"));
    assert!(on > 20, "on-CPU samples: {on}");

    // The main thread spins in gamma: main → alpha → beta → gamma, with file:line.
    let main = thread(&data, t.pid);
    let total = on_cpu_total(main);
    let gamma: i64 = main
        .frames
        .iter()
        .enumerate()
        .filter(|(_, f)| sym(f) == "gamma")
        .filter(|(i, _)| {
            let chain: Vec<&str> = ancestry(&main.frames, *i).into_iter().map(sym).collect();
            chain.ends_with(&["main", "alpha", "beta", "gamma"])
        })
        .map(|(_, f)| f.on_cpu_count.unwrap_or(0))
        .sum();
    assert!(
        gamma * 100 >= total * 80 && total > 0,
        "{gamma} of {total} on-CPU samples in main → alpha → beta → gamma:\n{:#?}",
        main.frames
    );
    for name in ["main", "alpha", "beta", "gamma"] {
        let f = main.frames.iter().find(|f| sym(f) == name).unwrap();
        assert!(
            f.source_file
                .as_deref()
                .is_some_and(|s| s.ends_with("profile_target.c"))
                && f.source_line.is_some_and(|l| l > 0),
            "{name} has file:line: {f:?}"
        );
        assert!(!f.is_kernel);
    }
    // Its images carry build-ids, the program's own among them.
    let process = data
        .processes
        .iter()
        .find(|p| p.pid == i64::from(t.pid))
        .unwrap();
    let own = process
        .images
        .iter()
        .find(|i| i.path.as_deref() == target.binary.to_str())
        .expect("the program's image");
    let expected = rogue_hunter::forensics::linux::images::build_id_of_file(&target.binary);
    assert!(expected.is_some());
    assert_eq!(own.uuid, expected);
    assert!(process.images.iter().any(|i| i.is_kernel));

    // The napper thread sleeps in nanosleep: off-CPU samples in the kernel's sleep path,
    // beneath its own frames napper → nap.
    let napper = data
        .processes
        .iter()
        .flat_map(|p| &p.threads)
        .find(|th| th.frames.iter().any(|f| sym(f) == "napper"))
        .expect("the napper thread");
    let leaf = napper
        .frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_kernel && f.off_cpu_count.unwrap_or(0) > 0)
        .filter(|(i, _)| !napper.frames.iter().any(|c| c.parent == Some(*i)))
        .max_by_key(|(_, f)| f.off_cpu_count)
        .map(|(i, _)| i)
        .expect("an off-CPU kernel leaf");
    let chain: Vec<&Frame> = ancestry(&napper.frames, leaf);
    let names: Vec<&str> = chain.iter().map(|f| sym(f)).collect();
    assert!(
        names.windows(2).any(|w| w == ["napper", "nap"]),
        "user frames above the sleep: {names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.contains("nanosleep") && chain.iter().any(|f| f.is_kernel && sym(f) == *n)),
        "the kernel's nanosleep path: {names:?}"
    );
    assert!(
        ["schedule", "__schedule", "do_nanosleep"].contains(names.last().unwrap()),
        "ends where the thread waits: {names:?}"
    );
    let weight = chain.last().unwrap().off_cpu_count.unwrap_or(0);
    // A switch-out whose switch-in record the kernel dropped (ring full while the profiler, at
    // nice +10, waited for a CPU on a loaded machine) has no known length and weighs nothing;
    // the kernel then reports the loss, and only then may the weight fall short.
    let lost: i64 = db
        .query_row(
            "SELECT COALESCE(samples_lost, 0) FROM tailspin_header WHERE capture_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        weight > 50 || (lost > 0 && weight > 0),
        "off-CPU time of ~2 s at 99 Hz weighs well over 50: {weight} ({lost} records lost)"
    );

    // Folded stacks round-trip: their counts sum to the samples stored.
    let folded = d
        .env
        .cmd()
        .args(["events", "show"])
        .arg(event_of(&d, id).to_string())
        .arg("--folded")
        .output()
        .unwrap();
    assert!(
        folded.status.success(),
        "{}",
        String::from_utf8_lossy(&folded.stderr)
    );
    let text = String::from_utf8(folded.stdout).unwrap();
    let sum: i64 = text
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<i64>().unwrap())
        .sum();
    let stored: i64 = db
        .query_row(
            "SELECT SUM(f.sample_count) FROM tailspin_frame f JOIN tailspin_thread t ON t.id = f.thread_id \
             JOIN tailspin_process p ON p.id = t.process_id \
             WHERE p.capture_id = ?1 AND f.parent_frame_id IS NULL",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sum, stored, "folded counts sum to the stored samples");
    assert!(
        text.lines().any(|l| l.contains(";main;alpha;beta;gamma ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(";nap;") && l.contains("_[k];[off-CPU] "))
    );

    // The flame graph is well-formed XML that names the hot function.
    let svg_path = d.env.root().join("flame.svg");
    d.env
        .cmd()
        .args(["events", "show"])
        .arg(event_of(&d, id).to_string())
        .arg("--flamegraph")
        .arg(&svg_path)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("title") && n.text().is_some_and(|t| t.starts_with("gamma — "))),
        "a frame titled gamma"
    );
    assert!(
        doc.descendants().any(|n| n.has_tag_name("script")),
        "interactive"
    );
    assert!(
        !svg.contains("http://")
            || !svg
                .replace("http://www.w3.org/2000/svg", "")
                .contains("http"),
        "no network"
    );

    // -t prints the tree with both counts.
    let shown = d
        .env
        .cmd()
        .args(["events", "show"])
        .arg(event_of(&d, id).to_string())
        .arg("-t")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("Sampling: perf at 99 Hz"), "{shown}");
    assert!(shown.contains("on-CPU        off-CPU"), "{shown}");
    assert!(
        shown.contains("gamma (profile_target) profile_target.c:"),
        "{shown}"
    );
}

fn event_of(d: &Daemon, capture_id: i64) -> i64 {
    d.db()
        .query_row(
            "SELECT event_id FROM forensic_captures WHERE id = ?1",
            [capture_id],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn as_root_a_python_busy_loop_shows_the_interpreter_frames() {
    if !is_root() {
        eprintln!("skipped: a profile with kernel frames needs root (or CAP_PERFMON)");
        return;
    }
    let Some(python) = which("python3") else {
        eprintln!("skipped: python3 is not installed");
        return;
    };
    // The target must get CPU time to be sampled: no boosted busy loops of other tests meanwhile.
    let _alone = crate::common::machine_alone();
    let d = Daemon::start(CONFIG);
    let py = Running::start(
        Command::new(python)
            .arg("-c")
            .arg("import sys, time\nprint('ready', flush=True)\nend = time.time() + 120\nx = 0\nwhile time.time() < end:\n    x += 1\n"),
    );
    let (_, data) = profiled(&d, py.pid);
    let main = thread(&data, py.pid);
    let eval = main
        .frames
        .iter()
        .position(|f| sym(f) == "_PyEval_EvalFrameDefault")
        .unwrap_or_else(|| panic!("no _PyEval_EvalFrameDefault in {:#?}", main.frames));
    let chain: Vec<&str> = ancestry(&main.frames, eval).into_iter().map(sym).collect();
    assert!(
        chain
            .iter()
            .any(|s| s.contains("main") || s.contains("Py_")),
        "down from the interpreter's entry: {chain:?}"
    );
    assert!(main.frames[eval].on_cpu_count.unwrap_or(0) * 2 > on_cpu_total(main));
}

#[test]
fn with_perf_refused_the_fallback_runs_and_says_why() {
    let Some(target) = Target::build() else {
        return;
    };
    let env = TestEnv::new();
    env.write_config(CONFIG);
    let mut cmd = Daemon::command(&env);
    // Debug builds act as if the kernel refused every perf event.
    cmd.env("ROGUE_HUNTER_TEST_PERF_FAIL", "1");
    let d = Daemon::start_command(env, cmd);
    let t = target.run(&[], &[]);
    let id = capture(&d, t.pid);
    let (source, status, error) = stack_part(&d, id);
    assert!(source.starts_with("procfs"), "{source}");
    assert!(
        error.contains("stacks from /proc, not a profile: perf_event_open refused for process")
            && error.contains("Permission denied"),
        "{status}: {error}"
    );
    if is_root() {
        // The fallback gives kernel stacks; user stacks too when eu-stack is there, else the
        // part is partial (issue 14, item 10).
        let complete = rogue_hunter::forensics::tool::find_on_path("eu-stack").is_some();
        let want = if complete { "success" } else { "partial" };
        assert_eq!(status, want, "{error}");
    }
    let header: Option<f64> = d
        .db()
        .query_row(
            "SELECT sample_rate_hz FROM tailspin_header WHERE capture_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap_or(None);
    assert_eq!(header, None, "no profile, no sampling rate");
    let shown = d
        .env
        .cmd()
        .args(["events", "show"])
        .arg(event_of(&d, id).to_string())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("stacks from /proc, not a profile: perf_event_open refused"),
        "{shown}"
    );
}

#[test]
fn profile_seconds_zero_takes_stacks_from_proc_and_says_so() {
    let env = TestEnv::new();
    env.write_config(&CONFIG.replace("profile_seconds = 2", "profile_seconds = 0"));
    let d = Daemon::start_in(env);
    let sleeper = crate::helper::Helper::spawn(&["sleep"]);
    let id = capture(&d, sleeper.pid);
    let (source, _, error) = stack_part(&d, id);
    assert!(source.starts_with("procfs"), "{source}");
    assert!(
        error.contains("profiling is off ([forensics] profile_seconds = 0)"),
        "{error}"
    );
}

#[test]
fn unprivileged_the_daemon_profiles_its_own_processes_and_falls_back_for_others() {
    let Some(copy) = PrivilegedCopy::new() else {
        return;
    };
    let Some(target) = Target::build() else {
        return;
    };
    // The target must get CPU time to be sampled: no boosted busy loops of other tests meanwhile.
    let _alone = crate::common::machine_alone();
    let d = daemon_as_nobody(&copy.binary);

    // Root's process: perf_event_open is refused (no CAP_SYS_PTRACE), /proc stacks instead.
    let roots = target.run(&[], &[]);
    let id = capture(&d, roots.pid);
    let (source, _, error) = stack_part(&d, id);
    assert!(source.starts_with("procfs"), "{source}: {error}");
    assert!(
        error.contains(&format!(
            "perf_event_open refused for process {}",
            roots.pid
        )) && error.contains("CAP_SYS_PTRACE"),
        "{error}"
    );
    drop(roots);

    // Its own process: user frames (perf_event_paranoid 2 lets a user profile their own
    // processes without kernel frames), and the note says what kernel frames would need.
    let paranoid: i32 = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(2);
    let mut prefix = vec!["setpriv"];
    prefix.extend(NOBODY);
    let own = target.run(&prefix, &[]);
    let id = capture(&d, own.pid);
    let (source, status, error) = stack_part(&d, id);
    if paranoid > 2 {
        assert!(
            source.starts_with("procfs"),
            "paranoid {paranoid}: {source}: {error}"
        );
        return;
    }
    assert_eq!(source, "perf", "{error}");
    assert!(
        error.contains("user frames only") && error.contains("CAP_PERFMON"),
        "{error}"
    );
    // Kernel frames and off-CPU samples are missing: partial, not success.
    assert_eq!(status, "partial", "{error}");
    let data = stacks(&d, id);
    let main = thread(&data, own.pid);
    assert!(main.frames.iter().all(|f| !f.is_kernel), "no kernel frames");
    assert!(
        main.frames.iter().any(|f| sym(f) == "gamma"),
        "user frames unwound: {:#?}",
        main.frames
    );
    drop(d);

    // With what `perms install` grants, root's process gets the whole profile.
    let install = Command::new(&copy.binary)
        .args(["perms", "install"])
        .output()
        .unwrap();
    if !install.status.success() {
        eprintln!(
            "note: file capabilities not settable here ({}); the capability case was not run",
            String::from_utf8_lossy(&install.stderr).trim()
        );
        return;
    }
    let d = daemon_as_nobody(&copy.binary);
    let roots = target.run(&[], &["--napper"]);
    let (_, data) = profiled(&d, roots.pid);
    let all: Vec<&Frame> = data
        .processes
        .iter()
        .flat_map(|p| &p.threads)
        .flat_map(|t| &t.frames)
        .collect();
    assert!(
        all.iter()
            .any(|f| f.is_kernel && f.off_cpu_count.unwrap_or(0) > 0),
        "off-CPU kernel frames"
    );
    assert!(
        all.iter()
            .any(|f| sym(f) == "gamma" && f.source_line.is_some())
    );
}

/// A daemon started by root as nobody, in an environment that is nobody's.
fn daemon_as_nobody(binary: &Path) -> Daemon {
    let env = TestEnv::new();
    env.write_config(CONFIG);
    // Everything in the environment (config, runtime dir) becomes nobody's.
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(env.root())
        .status()
        .unwrap();
    assert!(chown.success());
    let mut prefix: Vec<&std::ffi::OsStr> = NOBODY.iter().map(std::ffi::OsStr::new).collect();
    prefix.push(binary.as_os_str());
    let cmd = Daemon::command_via(&env, "setpriv", &prefix);
    Daemon::start_command(env, cmd)
}

#[test]
fn as_root_a_program_its_owner_could_change_is_still_symbolized_from_a_sealed_copy() {
    if !is_root() || which("setpriv").is_none() {
        eprintln!("skipped: needs root and setpriv");
        return;
    }
    let Some(target) = Target::build() else {
        return;
    };
    // nobody owns this copy: it could truncate it while the daemon reads it.
    std::os::unix::fs::chown(&target.binary, Some(65534), Some(65534)).unwrap();
    // The target must get CPU time to be sampled: no boosted busy loops of other tests meanwhile.
    let _alone = crate::common::machine_alone();
    let d = Daemon::start(CONFIG);
    let mut prefix = vec!["setpriv"];
    prefix.extend(NOBODY);
    let t = target.run(&prefix, &[]);
    let (_, data) = profiled(&d, t.pid);
    let main = thread(&data, t.pid);
    let gamma = main
        .frames
        .iter()
        .find(|f| sym(f) == "gamma")
        .unwrap_or_else(|| panic!("{:#?}", main.frames));
    assert!(gamma.source_line.is_some(), "{gamma:?}");
}

#[test]
fn as_root_a_thread_started_during_the_profile_is_profiled_too() {
    if !is_root() {
        eprintln!("skipped: a profile with kernel frames needs root (or CAP_PERFMON)");
        return;
    }
    let Some(target) = Target::build() else {
        return;
    };
    // The target must get CPU time to be sampled: no boosted busy loops of other tests meanwhile.
    let _alone = crate::common::machine_alone();
    let d = Daemon::start(CONFIG);
    // The new thread starts 1 s after the target, well inside the 2 s profile.
    let t = target.run(&[], &["--late"]);
    let (_, data) = profiled(&d, t.pid);
    let late = data
        .processes
        .iter()
        .flat_map(|p| &p.threads)
        .find(|th| th.frames.iter().any(|f| sym(f) == "late_spin"))
        .unwrap_or_else(|| panic!("no thread in late_spin: {data:#?}"));
    assert_ne!(late.thread_id, t.pid.to_string());
    assert!(on_cpu_total(late) > 0, "{:#?}", late.frames);
}
