//! Test-only helper: processes with known behaviour for the sampler, daemon, forensics and TUI
//! tests. Each mode sets itself up, prints `ready` on stdout, and runs until killed (or until
//! `--timeout SECONDS`, default 600, so a crashed test never leaves a busy loop behind).
//!
//! Modes:
//! - `busy --threads N`: N threads spinning on the CPU (the main thread sleeps).
//! - `mem --mib N`: holds N MiB of touched (resident) memory.
//! - `fsync-writer --dir D`: writes 64 KiB to a file in D and fsyncs it, every 20 ms.
//! - `threads --count N`: N threads that each sleep 2 ms in a loop (voluntary switches); the main
//!   thread sleeps, so the process has N + 1 threads.
//! - `sleep`: does nothing.
//! - `sleepers --count N [--wake-ms M]`: N child processes that sleep, waking every M ms when M is
//!   given (they exit when this process dies).
//! - `fork-loop`: spawns short-lived children back to back.
//! - `fake-daemon --socket PATH [--version TEXT] [--log FILE] [--reason TEXT]`: a stand-in for
//!   someone else's daemon (security tests): listens on PATH (mode 0777), greets every
//!   connection with a `hello` carrying TEXT as its version, answers `capture` with
//!   `capture_refused` (reason TEXT) and appends one line per connection and per request to FILE.
//! - `workers --count N`: N child processes spinning on the CPU, each renamed `rh-worker` (one
//!   program's workers in one process group); the parent sleeps.
//! - `grow --mib N --seconds S`: touches N MiB of memory evenly over S seconds, then holds it.
//! - `pingpong --pairs N`: N pairs of threads bouncing one byte over a socket pair (a
//!   context-switch storm).
//! - `thrash --mib N --file-mib F --dir D [--cgroup PROCS]` (Linux): writes an F MiB file in D
//!   and drops it from the page cache, joins the cgroup whose `cgroup.procs` file is PROCS (a
//!   memory-limited one, made by the test), holds N MiB of touched memory and reads random
//!   pages of the file through a mapping (`MADV_RANDOM`): with N + F above the cgroup's limit,
//!   every read is a major fault — a thrashing process.
//!
//! Any mode takes `--name NAME`: the process renames itself (its `comm`) first; and
//! `--exit-on-eof 1`: it exits as soon as its stdin closes (its parent died).
//!
//! Standard library only, so it builds with no dependency of its own.

use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: rogue-hunter-test-helper <busy --threads N | mem --mib N | \
fsync-writer --dir D | threads --count N | sleep | sleepers --count N [--wake-ms M] | fork-loop | \
fake-daemon --socket PATH [--version TEXT] [--log FILE] [--reason TEXT] | \
workers --count N | grow --mib N --seconds S | pingpong --pairs N | \
thrash --mib N --file-mib F --dir D [--cgroup PROCS]> [--name NAME] [--timeout S]";

struct Opts {
    mode: String,
    threads: usize,
    mib: usize,
    count: usize,
    dir: Option<String>,
    wake_ms: u64,
    seconds: u64,
    name: Option<String>,
    exit_on_eof: bool,
    timeout: Duration,
    socket: Option<String>,
    version: String,
    log: Option<String>,
    reason: String,
    file_mib: usize,
    cgroup: Option<String>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut it = args.iter();
    let mode = it.next().ok_or("missing mode")?.clone();
    let mut o = Opts {
        mode,
        threads: 1,
        mib: 0,
        count: 1,
        dir: None,
        wake_ms: 0,
        seconds: 1,
        name: None,
        exit_on_eof: false,
        timeout: Duration::from_secs(600),
        socket: None,
        version: "0.0.0".into(),
        log: None,
        reason: "no".into(),
        file_mib: 0,
        cgroup: None,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--threads" => o.threads = num()?,
            "--mib" => o.mib = num()?,
            "--count" => o.count = num()?,
            "--dir" => o.dir = Some(value.clone()),
            "--wake-ms" => o.wake_ms = num()? as u64,
            "--seconds" => o.seconds = num()? as u64,
            "--pairs" => o.count = num()?,
            "--name" => o.name = Some(value.clone()),
            "--exit-on-eof" => o.exit_on_eof = num()? != 0,
            "--timeout" => o.timeout = Duration::from_secs(num()? as u64),
            "--socket" => o.socket = Some(value.clone()),
            "--version" => o.version = value.clone(),
            "--log" => o.log = Some(value.clone()),
            "--reason" => o.reason = value.clone(),
            "--file-mib" => o.file_mib = num()?,
            "--cgroup" => o.cgroup = Some(value.clone()),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"ready\n");
    let _ = out.flush();
}

/// Sleeps (one long voluntary switch at a time) until the deadline, then exits.
fn wait_until(deadline: Instant) -> ExitCode {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(deadline - now);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rogue-hunter-test-helper: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let deadline = Instant::now() + opts.timeout;
    if let Some(name) = &opts.name {
        // The kernel keeps the first 15 bytes; a failure only leaves the default name.
        let _ = std::fs::write("/proc/self/comm", name);
    }
    if opts.exit_on_eof {
        std::thread::spawn(|| {
            let mut sink = [0u8; 64];
            while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    }
    match opts.mode.as_str() {
        "busy" => {
            for _ in 0..opts.threads {
                std::thread::spawn(|| {
                    let mut x: u64 = 0;
                    loop {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                });
            }
            ready();
            wait_until(deadline)
        }
        "mem" => {
            // A non-zero fill writes every page, so all of it is resident.
            let block = vec![0x5au8; opts.mib << 20];
            std::hint::black_box(&block);
            ready();
            let code = wait_until(deadline);
            drop(block);
            code
        }
        "fsync-writer" => fsync_writer(opts.dir.as_deref().unwrap_or("."), deadline),
        "threads" => {
            for _ in 0..opts.count {
                std::thread::spawn(|| {
                    loop {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                });
            }
            ready();
            wait_until(deadline)
        }
        "sleep" => {
            ready();
            wait_until(deadline)
        }
        "sleepers" => sleepers(opts.count, opts.wake_ms, deadline),
        "sleep-child" => {
            // Internal: lives until its parent does.
            if opts.wake_ms == 0 {
                // Blocks until the parent's end of stdin closes.
                let mut sink = [0u8; 64];
                while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
            } else {
                // Wakes every `wake_ms`; exits once reparented (the parent died).
                let parent = std::os::unix::process::parent_id();
                while std::os::unix::process::parent_id() == parent && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(opts.wake_ms));
                }
            }
            ExitCode::SUCCESS
        }
        "fork-loop" => {
            ready();
            let Ok(me) = std::env::current_exe() else {
                return ExitCode::FAILURE;
            };
            while Instant::now() < deadline {
                let _ = Command::new(&me)
                    .arg("exit-now")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            ExitCode::SUCCESS
        }
        "exit-now" => ExitCode::SUCCESS,
        "fake-daemon" => fake_daemon(&opts, deadline),
        "workers" => workers(opts.count, opts.timeout, deadline),
        "grow" => grow(opts.mib, opts.seconds, deadline),
        "pingpong" => pingpong(opts.count, deadline),
        #[cfg(target_os = "linux")]
        "thrash" => match thrash(&opts, deadline) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("rogue-hunter-test-helper: thrash: {e}");
                ExitCode::FAILURE
            }
        },
        other => {
            eprintln!("rogue-hunter-test-helper: unknown mode {other}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn fsync_writer(dir: &str, deadline: Instant) -> ExitCode {
    let path = std::path::Path::new(dir).join(format!("fsync-writer-{}.dat", std::process::id()));
    let mut file = match std::fs::File::create(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rogue-hunter-test-helper: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut announced = false;
    while Instant::now() < deadline {
        use std::io::Seek;
        let ok = file.seek(std::io::SeekFrom::Start(0)).is_ok()
            && file.write_all(&chunk).is_ok()
            && file.sync_all().is_ok();
        if !ok {
            eprintln!(
                "rogue-hunter-test-helper: writing {} failed",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        if !announced {
            ready();
            announced = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(&path);
    ExitCode::SUCCESS
}

fn sleepers(count: usize, wake_ms: u64, deadline: Instant) -> ExitCode {
    let Ok(me) = std::env::current_exe() else {
        return ExitCode::FAILURE;
    };
    // Each child keeps the read end of a pipe whose write end only we hold: when we die, for
    // whatever reason, the children read EOF and exit.
    let mut children = Vec::with_capacity(count);
    for _ in 0..count {
        match Command::new(&me)
            .args(["sleep-child", "--wake-ms", &wake_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("rogue-hunter-test-helper: spawning a sleeper: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ready();
    let code = wait_until(deadline);
    for mut c in children {
        drop(c.stdin.take());
        let _ = c.kill();
        let _ = c.wait();
    }
    code
}

/// A JSON string literal (quotes, backslashes and control characters escaped).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn note(log: Option<&str>, line: &str) {
    if let Some(path) = log
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

fn fake_daemon(opts: &Opts, deadline: Instant) -> ExitCode {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;
    let Some(path) = opts.socket.clone() else {
        eprintln!("rogue-hunter-test-helper: fake-daemon needs --socket");
        return ExitCode::from(2);
    };
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rogue-hunter-test-helper: bind {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777));
    let hello = format!(
        "{{\"type\":\"hello\",\"protocol\":2,\"version\":{},\"pid\":4242,\"sample_interval_ms\":333,\"ring_buffer_size\":90}}\n\
         {{\"type\":\"initial_state\",\"history\":[1,2,3],\"last_seq\":3}}\n",
        json_string(&opts.version)
    );
    let refused = format!(
        "{{\"type\":\"capture_refused\",\"reason\":{},\"pid\":null}}\n",
        json_string(&opts.reason)
    );
    ready();
    std::thread::spawn(move || {
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        std::process::exit(0);
    });
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        note(opts.log.as_deref(), "connection");
        let (log, hello, refused) = (opts.log.clone(), hello.clone(), refused.clone());
        std::thread::spawn(move || {
            let _ = stream.write_all(hello.as_bytes());
            let Ok(read) = stream.try_clone() else { return };
            for line in std::io::BufReader::new(read).lines() {
                let Ok(line) = line else { return };
                if line.contains("\"capture\"") {
                    note(log.as_deref(), &format!("request {line}"));
                    let _ = stream.write_all(refused.as_bytes());
                }
            }
        });
    }
    ExitCode::SUCCESS
}

/// `count` busy children named `rh-worker`, in this process's group; they go when it does (each
/// watches the pipe on its stdin, whose other end only this process holds).
fn workers(count: usize, timeout: Duration, deadline: Instant) -> ExitCode {
    let Ok(me) = std::env::current_exe() else {
        return ExitCode::FAILURE;
    };
    let mut children = Vec::with_capacity(count);
    for _ in 0..count {
        match Command::new(&me)
            .args([
                "busy",
                "--threads",
                "1",
                "--name",
                "rh-worker",
                "--exit-on-eof",
                "1",
            ])
            .args(["--timeout", &timeout.as_secs().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("rogue-hunter-test-helper: spawning a worker: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Each worker says ready once its thread spins.
    for c in &mut children {
        let mut line = [0u8; 6];
        if let Some(out) = c.stdout.as_mut() {
            let _ = out.read_exact(&mut line);
        }
    }
    ready();
    let code = wait_until(deadline);
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    code
}

/// Touches `mib` MiB evenly over `seconds`, then holds it.
fn grow(mib: usize, seconds: u64, deadline: Instant) -> ExitCode {
    ready();
    let start = Instant::now();
    let span = Duration::from_secs(seconds.max(1));
    let mut blocks: Vec<Vec<u8>> = Vec::with_capacity(mib);
    while blocks.len() < mib && Instant::now() < deadline {
        let due = (start.elapsed().as_secs_f64() / span.as_secs_f64() * mib as f64).ceil() as usize;
        while blocks.len() < due.min(mib) {
            blocks.push(vec![0x5a; 1 << 20]);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::hint::black_box(&blocks);
    let code = wait_until(deadline);
    drop(blocks);
    code
}

/// `pairs` pairs of threads bouncing one byte back and forth over a socket pair.
fn pingpong(pairs: usize, deadline: Instant) -> ExitCode {
    use std::os::unix::net::UnixStream;
    for _ in 0..pairs.max(1) {
        let Ok((mut a, mut b)) = UnixStream::pair() else {
            return ExitCode::FAILURE;
        };
        std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            while b.read_exact(&mut byte).is_ok() && b.write_all(&byte).is_ok() {}
        });
        std::thread::spawn(move || {
            let mut byte = [1u8; 1];
            while a.write_all(&byte).is_ok() && a.read_exact(&mut byte).is_ok() {}
        });
    }
    ready();
    wait_until(deadline)
}

#[cfg(target_os = "linux")]
mod sys {
    //! The three calls `thrash` needs, declared by hand: the helper has no dependencies.
    use std::ffi::c_void;
    pub const PROT_READ: i32 = 1;
    pub const MAP_SHARED: i32 = 1;
    pub const MADV_RANDOM: i32 = 1;
    pub const POSIX_FADV_DONTNEED: i32 = 4;
    unsafe extern "C" {
        pub fn mmap(
            addr: *mut c_void,
            len: usize,
            prot: i32,
            flags: i32,
            fd: i32,
            off: i64,
        ) -> *mut c_void;
        pub fn madvise(addr: *mut c_void, len: usize, advice: i32) -> i32;
        pub fn posix_fadvise(fd: i32, offset: i64, len: i64, advice: i32) -> i32;
    }
}

/// A process whose working set does not fit its cgroup: see the module docs.
#[cfg(target_os = "linux")]
fn thrash(opts: &Opts, deadline: Instant) -> Result<ExitCode, String> {
    use std::os::fd::AsRawFd;
    let dir = opts.dir.as_deref().ok_or("--dir is required")?;
    let path = std::path::Path::new(dir).join(format!("thrash-{}.dat", std::process::id()));
    let len = opts.file_mib.max(1) << 20;
    {
        let mut f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let chunk = vec![0x3cu8; 1 << 20];
        for _ in 0..opts.file_mib.max(1) {
            f.write_all(&chunk).map_err(|e| e.to_string())?;
        }
        f.sync_all().map_err(|e| e.to_string())?;
    }
    let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
    // The file is unlinked at once: the mapping keeps it, and nothing is left behind.
    let _ = std::fs::remove_file(&path);
    // SAFETY: plain syscalls on a file descriptor we own and a mapping we create and only read.
    let base = unsafe {
        // Pages cached while writing are charged to us outside the cgroup: drop them.
        sys::posix_fadvise(file.as_raw_fd(), 0, 0, sys::POSIX_FADV_DONTNEED);
        let p = sys::mmap(
            std::ptr::null_mut(),
            len,
            sys::PROT_READ,
            sys::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        if p as isize == -1 {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        sys::madvise(p, len, sys::MADV_RANDOM);
        p as *const u8
    };
    if let Some(procs) = &opts.cgroup {
        std::fs::write(procs, std::process::id().to_string())
            .map_err(|e| format!("joining {procs}: {e}"))?;
    }
    // A non-zero fill writes every page, so all of it is resident (and charged to the cgroup).
    let hog = vec![0x5au8; opts.mib << 20];
    std::hint::black_box(&hog);
    ready();
    let pages = len / 4096;
    let (mut x, mut sum) = (0x9e37_79b9_7f4a_7c15u64, 0u64);
    while Instant::now() < deadline {
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let page = (x % pages as u64) as usize;
            // SAFETY: page * 4096 < len, inside the read-only mapping that lives until exit.
            sum = sum.wrapping_add(u64::from(unsafe { *base.add(page * 4096) }));
        }
    }
    std::hint::black_box(sum);
    drop(hog);
    Ok(ExitCode::SUCCESS)
}
