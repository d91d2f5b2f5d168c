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
//!
//! Standard library only, so it builds with no dependency of its own.

use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: rogue-hunter-test-helper <busy --threads N | mem --mib N | \
fsync-writer --dir D | threads --count N | sleep | sleepers --count N [--wake-ms M] | fork-loop | \
fake-daemon --socket PATH [--version TEXT] [--log FILE] [--reason TEXT]> [--timeout S]";

struct Opts {
    mode: String,
    threads: usize,
    mib: usize,
    count: usize,
    dir: Option<String>,
    wake_ms: u64,
    timeout: Duration,
    socket: Option<String>,
    version: String,
    log: Option<String>,
    reason: String,
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
        timeout: Duration::from_secs(600),
        socket: None,
        version: "0.0.0".into(),
        log: None,
        reason: "no".into(),
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
            "--timeout" => o.timeout = Duration::from_secs(num()? as u64),
            "--socket" => o.socket = Some(value.clone()),
            "--version" => o.version = value.clone(),
            "--log" => o.log = Some(value.clone()),
            "--reason" => o.reason = value.clone(),
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
        "{{\"type\":\"hello\",\"protocol\":1,\"version\":{},\"pid\":4242,\"sample_interval_ms\":333,\"ring_buffer_size\":90}}\n\
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
