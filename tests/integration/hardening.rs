//! Hardening (issue 14): what a hostile local user or a hostile process name can do to the
//! clients, the console and the log. Tests that need another uid create throwaway system users
//! (`rh-victim`, `rh-attacker`) and run the real binaries as them with `setpriv`; without root
//! they say so and skip.

use crate::common::{TestEnv, is_root, which};
use crate::daemon_fixture::{Daemon, TEST_CONFIG};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// Tests that create users or use the fixed `/tmp/rogue-hunter-<uid>` path take turns.
static USERS: Mutex<()> = Mutex::new(());

/// A version string a hostile daemon might send: clear the screen, retitle the terminal,
/// forge a second line.
const EVIL: &str = "9.9.9\x1b[2J\x1b]0;pwned\x07\nDaemon: running (pid 1, version 0.1.0)";

/// A system user for tests (created when missing): (uid, gid).
fn test_user(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, name]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .status()
            .ok()?;
        if !made.success() && id("-u").is_none() {
            return None;
        }
    }
    Some((id("-u")?, id("-g")?))
}

/// Root, `setpriv` and `useradd`, or a reason to skip.
fn can_switch_users() -> bool {
    if !is_root() {
        eprintln!("skipped: needs root to run processes as other users");
        return false;
    }
    for tool in ["setpriv", "useradd"] {
        if which(tool).is_none() && !Path::new("/usr/sbin").join(tool).exists() {
            eprintln!("skipped: {tool} is not installed");
            return false;
        }
    }
    true
}

fn as_user(uid: u32, gid: u32, program: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg(program);
    c
}

fn helper_bin() -> PathBuf {
    crate::helper::helper_path().to_path_buf()
}

fn main_bin() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("rogue-hunter"))
}

/// A `fake-daemon` of the test helper, killed on drop.
struct FakeDaemon {
    child: Child,
    log: PathBuf,
}

impl FakeDaemon {
    fn start(mut cmd: Command, socket: &Path, log: &Path) -> FakeDaemon {
        cmd.args(["fake-daemon", "--socket"])
            .arg(socket)
            .args(["--version", EVIL, "--reason", EVIL, "--log"])
            .arg(log)
            .args(["--timeout", "120"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start the fake daemon");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the fake daemon did not start");
        FakeDaemon {
            child,
            log: log.to_path_buf(),
        }
    }

    /// What the fake daemon saw: `connection` lines and `request …` lines.
    fn seen(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Removes whatever is at `path` (a symlink, a file or a directory tree).
fn clear(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).unwrap(),
        Ok(_) => std::fs::remove_file(path).unwrap(),
        Err(_) => {}
    }
}

/// Issue 14, item 2: with `XDG_RUNTIME_DIR` unset the runtime dir is `/tmp/rogue-hunter-<uid>`,
/// which anyone can create first. Another user plants it (as a symlink to their own dir, or
/// as a directory of theirs) and serves a fake daemon there: `status` must not print what it
/// says and `capture` must not send it anything. A socket of another user inside the victim's
/// own directory is refused by its peer credentials.
#[test]
fn clients_refuse_a_runtime_dir_or_a_daemon_of_another_user() {
    if !can_switch_users() {
        return;
    }
    let _turn = USERS.lock().unwrap_or_else(|p| p.into_inner());
    let (Some((victim, victim_gid)), Some((attacker, attacker_gid))) =
        (test_user("rh-victim"), test_user("rh-attacker"))
    else {
        eprintln!("skipped: cannot create the test users");
        return;
    };
    // The victim's home (config, data, state) and the attacker's directory.
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(victim), Some(victim_gid)).unwrap();
    let lair = tempfile::tempdir().unwrap();
    std::fs::set_permissions(lair.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(lair.path(), Some(attacker), Some(attacker_gid)).unwrap();
    let fake_socket = lair.path().join("daemon.sock");
    let fake = FakeDaemon::start(
        as_user(attacker, attacker_gid, &helper_bin()),
        &fake_socket,
        &lair.path().join("seen.log"),
    );
    let fallback = PathBuf::from(format!("/tmp/rogue-hunter-{victim}"));
    clear(&fallback);

    let run_as_victim = |args: &[&str]| -> Output {
        as_user(victim, victim_gid, &main_bin())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home.path())
            .output()
            .unwrap()
    };
    let check_refused = |case: &str, why: &str| {
        let status = run_as_victim(&["status"]);
        let shown = text(&status);
        assert!(
            !shown.contains("9.9.9") && !shown.contains('\x1b'),
            "{case}: status showed the planted daemon:\n{shown}"
        );
        assert!(shown.contains(why), "{case}: no '{why}' in:\n{shown}");
        assert_eq!(status.status.code(), Some(4), "{case}: {shown}");
        let capture = run_as_victim(&["capture", "--pid", "1"]);
        assert!(!capture.status.success(), "{case}: {}", text(&capture));
        assert!(
            !fake.seen().contains("request"),
            "{case}: the planted daemon got a capture request:\n{}",
            fake.seen()
        );
    };

    // 1. A symlink to the attacker's directory.
    std::os::unix::fs::symlink(lair.path(), &fallback).unwrap();
    std::os::unix::fs::lchown(&fallback, Some(attacker), Some(attacker_gid)).unwrap();
    check_refused("symlink", "is a symlink");
    assert_eq!(fake.seen(), "", "nothing may even connect to it");
    clear(&fallback);

    // 2. A directory of the attacker's, open to all, with the fake socket in it.
    std::fs::create_dir(&fallback).unwrap();
    std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(&fallback, Some(attacker), Some(attacker_gid)).unwrap();
    std::fs::rename(&fake_socket, fallback.join("daemon.sock")).unwrap();
    check_refused("attacker's directory", &format!("owned by uid {attacker}"));
    assert_eq!(fake.seen(), "", "nothing may even connect to it");
    clear(&fallback);

    // 3. The victim's own private directory, with the attacker's socket put inside (as if
    // through a race): the kernel says who listens, and it is not the victim.
    std::fs::create_dir(&fallback).unwrap();
    std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&fallback, Some(victim), Some(victim_gid)).unwrap();
    std::fs::rename(
        lair.path().join("seen.log"),
        lair.path().join("seen.before"),
    )
    .ok();
    let moved = fallback.join("daemon.sock");
    // Re-serve: the socket file moved in case 2 went away with that directory.
    drop(fake);
    let fake = FakeDaemon::start(
        as_user(attacker, attacker_gid, &helper_bin()),
        &fake_socket,
        &lair.path().join("seen.log"),
    );
    std::fs::rename(&fake_socket, &moved).unwrap();
    let status = run_as_victim(&["status"]);
    let shown = text(&status);
    assert!(!shown.contains("9.9.9"), "peer: {shown}");
    assert!(
        shown.contains(&format!("runs as uid {attacker}")),
        "{shown}"
    );
    assert_eq!(status.status.code(), Some(4), "{shown}");
    let capture = run_as_victim(&["capture", "--pid", "1"]);
    assert!(!capture.status.success(), "{}", text(&capture));
    assert!(!fake.seen().contains("request"), "{}", fake.seen());
    clear(&fallback);
}

/// Issue 14, item 3: whatever the daemon on our own socket says (its version, a refusal
/// reason) reaches the terminal with its control characters escaped.
#[test]
fn status_and_capture_escape_what_the_daemon_says() {
    let env = TestEnv::new();
    let dir = env.root().join("run/rogue-hunter");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let _fake = FakeDaemon::start(
        Command::new(helper_bin()),
        &dir.join("daemon.sock"),
        &env.root().join("seen.log"),
    );
    let out = env.cmd().arg("status").output().unwrap();
    let shown = text(&out);
    assert!(
        !shown.contains('\x1b') && !shown.contains('\x07'),
        "{shown:?}"
    );
    assert!(
        shown.contains("version 9.9.9\\x1b[2J\\x1b]0;pwned\\x07\\nDaemon: running"),
        "{shown}"
    );
    assert_eq!(
        shown.lines().filter(|l| l.starts_with("Daemon:")).count(),
        1,
        "a forged line: {shown}"
    );
    let out = env.cmd().args(["capture", "--pid", "1"]).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(!shown.contains('\x1b'), "{shown:?}");
    assert!(
        shown.contains("refused the capture: 9.9.9\\x1b[2J"),
        "{shown}"
    );
}

/// Issue 14, item 3: a client's `log` message cannot forge console lines or reach the
/// terminal raw, and the JSON log keeps typed fields (`peer_pid` a number).
#[test]
fn client_log_messages_are_escaped_on_the_console_and_typed_in_json() {
    let d = Daemon::start(TEST_CONFIG);
    let socket = d.socket();
    let forged = "ok\x1b[2J\n07:00:00 ERROR forged line";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pid = rt.block_on(async move {
        let mut c = rogue_hunter::ipc::Client::connect(&socket).await.unwrap();
        let mut fields = serde_json::Map::new();
        fields.insert("why".into(), serde_json::json!("test\x07"));
        c.log(rogue_hunter::ipc::LogLevel::Warn, forged, fields)
            .await
            .unwrap();
        c.ping().await.unwrap();
        std::process::id()
    });
    let log = d.env.root().join("state/rogue-hunter/daemon.log");
    d.wait_until(
        Duration::from_secs(10),
        "the client line in the log",
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("forged line")),
    );
    let console = d.output();
    assert!(
        !console.contains('\x1b') && !console.contains('\x07'),
        "{console:?}"
    );
    assert!(
        !console.lines().any(|l| l.starts_with("07:00:00 ERROR")),
        "a forged console line:\n{console}"
    );
    assert!(
        console.contains("client: ok\\x1b[2J\\n07:00:00 ERROR forged line"),
        "{console}"
    );
    let line = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .find(|l| l.contains("forged line"))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .unwrap();
    assert_eq!(line["peer_pid"], serde_json::json!(pid), "{line}");
    assert_eq!(
        line["event"],
        serde_json::json!(forged),
        "JSON keeps the exact text"
    );
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o777
}

/// Issue 14, item 4: started under umask 000, the daemon still creates everything private:
/// directories 0700, files 0600 (the database's `-wal`/`-shm` included); so does `config reset`.
#[test]
fn files_are_private_under_a_permissive_umask() {
    use std::os::unix::process::CommandExt;
    // No config file: the daemon writes the default one itself.
    let env = TestEnv::new();
    let mut cmd = Daemon::command(&env);
    // SAFETY: umask(2) in the child before exec; nothing else runs there.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let root = env.root();
    let db = root.join("data/rogue-hunter/data.db");
    let wal = root.join("data/rogue-hunter/data.db-wal");
    let socket = root.join("run/rogue-hunter/daemon.sock");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let config = root.join("config/rogue-hunter/config.toml");
    while !(wal.exists() && socket.exists() && config.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let expected = [
        ("config/rogue-hunter", 0o700),
        ("config/rogue-hunter/config.toml", 0o600),
        ("state/rogue-hunter", 0o700),
        ("state/rogue-hunter/daemon.log", 0o600),
        ("data/rogue-hunter", 0o700),
        ("data/rogue-hunter/data.db", 0o600),
        ("data/rogue-hunter/data.db-wal", 0o600),
        ("data/rogue-hunter/data.db-shm", 0o600),
        ("run/rogue-hunter", 0o700),
        ("run/rogue-hunter/daemon.sock", 0o600),
        ("run/rogue-hunter/daemon.lock", 0o600),
    ];
    let modes: Vec<(&str, u32)> = expected
        .iter()
        .map(|(p, _)| (*p, mode_of(&root.join(p))))
        .collect();
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    child.wait().unwrap();
    for ((path, want), (_, got)) in expected.iter().zip(&modes) {
        assert_eq!(*got, *want, "{path}: {got:04o}, want {want:04o}");
    }
    assert!(db.exists());

    // A config written by the CLI (`config reset`, `config edit`), also under umask 000.
    let fresh = TestEnv::new();
    let mut reset = Command::new(main_bin());
    reset
        .args(["config", "reset", "--yes"])
        .env("HOME", fresh.root())
        .env("XDG_CONFIG_HOME", fresh.root().join("config"));
    // SAFETY: as above.
    unsafe {
        reset.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    assert!(reset.status().unwrap().success());
    assert_eq!(mode_of(&fresh.root().join("config/rogue-hunter")), 0o700);
    assert_eq!(mode_of(&fresh.config_file()), 0o600);
}

/// Issue 14, item 5: 64 idle connections of the same user used to lock `status` and the
/// dashboard out ("too many clients"). Now a new client gets in, the idlest silent one goes,
/// and a client that has spoken (the dashboard says hello when it connects) stays.
#[test]
fn idle_connections_cannot_lock_out_status_or_the_dashboard() {
    let d = Daemon::start(TEST_CONFIG);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = d.socket();
    let mut dashboard = rt.block_on(async {
        let mut c = rogue_hunter::ipc::Client::connect(&socket).await.unwrap();
        c.log(
            rogue_hunter::ipc::LogLevel::Info,
            "tui_connected",
            serde_json::Map::new(),
        )
        .await
        .unwrap();
        c.ping().await.unwrap();
        c
    });
    let idle: Vec<std::os::unix::net::UnixStream> = (0..64)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).unwrap())
        .collect();
    for _ in 0..3 {
        let out = d.env.cmd().arg("status").output().unwrap();
        let text = text(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.starts_with("Daemon: running"), "{text}");
    }
    rt.block_on(async { dashboard.ping().await })
        .expect("the dashboard, which spoke, is still connected");
    d.wait_until(Duration::from_secs(5), "the eviction logged", || {
        d.output()
            .contains("too many clients: dropped the one idle longest")
    });
    drop(idle);
}

/// Issue 14, item 5: 40 idle, half-open connections used to starve the Prometheus endpoint (32
/// slots, each held for 10 s), and nothing was logged. Now a scrape still gets its answer at
/// once, and the dropped idle connection is logged.
#[test]
fn idle_connections_cannot_starve_the_metrics_endpoint() {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    let d = Daemon::start(&format!(
        "{TEST_CONFIG}\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
    ));
    let mut addr: Option<SocketAddr> = None;
    d.wait_until(Duration::from_secs(10), "the metrics address", || {
        addr = d
            .output()
            .lines()
            .find(|l| l.contains("metrics exporter listening"))
            .and_then(|l| l.split("local_addr=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        addr.is_some()
    });
    let addr = addr.unwrap();
    // Half-open: a request line started and never finished, or nothing at all.
    let idle: Vec<TcpStream> = (0..40)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap();
            if i % 2 == 0 {
                s.write_all(b"GET /metr").unwrap();
            }
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let mut scrape = TcpStream::connect(addr).unwrap();
    scrape
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    scrape
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = scrape.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "no answer while idle connections sat there ({:?}): {answer:?}",
        started.elapsed()
    );
    assert!(answer.contains("rogue_hunter_samples_total"), "{answer}");
    d.wait_until(
        Duration::from_secs(5),
        "the dropped connection logged",
        || {
            d.output()
                .contains("metrics exporter: too many connections, closed the one idle longest")
        },
    );
    drop(idle);
}

fn validate(env: &TestEnv, file: &Path) -> Output {
    env.cmd()
        .args(["config", "validate"])
        .arg(file)
        .output()
        .unwrap()
}

/// Issue 14, item 13: `config show` is valid TOML (its header is comments), so
/// `config show > f && config validate f` passes and `f` holds the same configuration; the
/// "Fix it with `config edit`" hint is only for the config file in use.
#[test]
fn config_show_output_is_a_valid_config_file() {
    let env = TestEnv::new();
    env.write_config(
        "[bands]\nmedium = 15\n[metrics]\nlisten = \"127.0.0.1:9464\"\n[tui.colors.bands]\nhigh = \"bold red\"\n",
    );
    let shown = env.cmd().args(["config", "show"]).output().unwrap();
    assert!(shown.status.success());
    let copy = env.root().join("shown.toml");
    std::fs::write(&copy, &shown.stdout).unwrap();
    let check = validate(&env, &copy);
    assert!(check.status.success(), "{}", text(&check));
    assert_eq!(
        rogue_hunter::config::load_file(&copy).unwrap(),
        rogue_hunter::config::load_file(&env.config_file()).unwrap()
    );

    std::fs::write(&copy, "[bands]\nmedium = 0\n").unwrap();
    let other = validate(&env, &copy);
    assert_eq!(other.status.code(), Some(2));
    assert!(!text(&other).contains("config edit"), "{}", text(&other));
    env.write_config("[bands]\nmedium = 0\n");
    let in_use = env.cmd().args(["config", "validate"]).output().unwrap();
    assert_eq!(in_use.status.code(), Some(2));
    assert!(
        text(&in_use).contains("rogue-hunter config edit"),
        "{}",
        text(&in_use)
    );
}

/// Issue 14, item 12 through the binary: every problem of a file in one run, and the name of
/// a duplicate key.
#[test]
fn config_validate_lists_every_problem_and_names_a_duplicate() {
    let env = TestEnv::new();
    let file = env.root().join("c.toml");
    std::fs::write(
        &file,
        "[system]\nsample_intervall = 1.0\nheartbeat_samples = \"x\"\n[bands]\nmedium = 0\n",
    )
    .unwrap();
    let out = validate(&env, &file);
    assert_eq!(out.status.code(), Some(2));
    let shown = text(&out);
    for key in [
        "system.sample_intervall",
        "system.heartbeat_samples",
        "bands.medium",
    ] {
        assert!(shown.contains(key), "{key} missing from:\n{shown}");
    }
    std::fs::write(&file, "[bands]\nhigh = 60\nhigh = 61\n").unwrap();
    let out = validate(&env, &file);
    assert!(
        text(&out).contains(
            "line 3, column 1: bands.high: TOML syntax error: duplicate key `bands.high`"
        ),
        "{}",
        text(&out)
    );
}

/// Issue 14, item 15: the console is for people: no emoji, no Rust `Debug` output
/// (`PruneCounts { … }`, `Some(…)`, `{"buffer": …}`), no event logged twice.
#[test]
fn console_lines_are_formatted_for_people() {
    let mut d = Daemon::start(&format!(
        "{}\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        TEST_CONFIG.replace(
            "[forensics]\nenabled = false\n",
            "[forensics]\nstack_samples = 1\nuser_stacks = \"none\"\n"
        )
    ));
    let pid = d.pid.to_string();
    let out = d
        .env
        .cmd()
        .args(["capture", "--wait", "--pid", &pid])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    d.wait_until(Duration::from_secs(20), "a heartbeat", || {
        d.output().contains(" heartbeat ")
    });
    d.stop_with(libc::SIGTERM, Duration::from_secs(10));
    let console = d.output();
    for line in console.lines() {
        assert!(
            !line.chars().any(|c| {
                let c = c as u32;
                (0x1f000..=0x1faff).contains(&c) || (0x2600..=0x27bf).contains(&c)
            }),
            "an emoji: {line}"
        );
        for debug in [" { ", "Some(", "None", "{\""] {
            assert!(!line.contains(debug), "Debug output ({debug}): {line}");
        }
    }
    for once in [
        "metrics exporter listening",
        "pruned old data",
        "rogue-hunter daemon starting",
    ] {
        assert_eq!(
            console.lines().filter(|l| l.contains(once)).count(),
            1,
            "'{once}' logged more or less than once:\n{console}"
        );
    }
    assert!(
        console.contains("capture done") && console.contains("statuses=buffer:"),
        "{console}"
    );
}

/// Issue 14, item 17: `service install --print` as root without `--system` proposes a user
/// unit for root (with whatever paths the shell has); it says so and points at `--system`.
#[test]
fn service_install_print_as_root_points_at_the_system_service() {
    if !is_root() {
        eprintln!("skipped: the hint is for root");
        return;
    }
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: systemd units are Linux");
        return;
    }
    let env = TestEnv::new();
    let out = env
        .cmd()
        .args(["service", "install", "--print"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.starts_with("# Note: you are root, and this is a *user* unit"),
        "{shown}"
    );
    assert!(
        shown.contains("rogue-hunter --system service install --print"),
        "{shown}"
    );
    let system = env
        .cmd()
        .args(["--system", "service", "install", "--print"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&system.stdout).contains("*user* unit"));
}

/// Issue 14, item 14: `status` exits like `systemctl status`: 0 while the daemon runs, 3 once it
/// has stopped (text and JSON alike), so scripts can tell.
#[test]
fn status_exit_code_says_whether_the_daemon_runs() {
    let mut d = Daemon::start(TEST_CONFIG);
    for args in [&["status"][..], &["status", "--json"]] {
        let out = d.env.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
    d.stop_with(libc::SIGTERM, Duration::from_secs(10));
    for args in [&["status"][..], &["status", "--json"]] {
        let out = d.env.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out));
        assert!(out.stderr.is_empty(), "not an error: {}", text(&out));
    }
}

/// A proc tree a user made: process 1 looks ordinary, but its thread's `wchan`, `syscall` and
/// `stack` link to `secret` and to `/etc/shadow`, and process 2's `task` directory links to a
/// directory of the user's.
fn hostile_proc_tree(dir: &Path, secret: &Path) {
    use std::os::unix::fs::symlink;
    let task = dir.join("1/task/1");
    std::fs::create_dir_all(&task).unwrap();
    let stat = "1 (honest) S 0 1 1 0 -1 4194304 0 0 0 0 1 1 0 0 20 0 1 0 100 1000 10 \
                18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
    std::fs::write(dir.join("1/stat"), stat).unwrap();
    std::fs::write(task.join("stat"), stat).unwrap();
    std::fs::write(dir.join("1/comm"), "honest\n").unwrap();
    symlink(secret, task.join("wchan")).unwrap();
    symlink(secret, task.join("syscall")).unwrap();
    symlink("/etc/shadow", task.join("stack")).unwrap();
    let elsewhere = dir.join("elsewhere/2");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(dir.join("2")).unwrap();
    symlink(dir.join("elsewhere"), dir.join("2/task")).unwrap();
    std::fs::write(dir.join("stat"), "cpu 1 1 1 1\nbtime 1700000000\n").unwrap();
}

/// Issue 14, item 1: with `perms install`'s capabilities (or as root), a `[sampler] proc_root`
/// of the user's choosing would let the daemon read any file for them. As an ordinary user
/// (nobody) running the capability-holding binary, and as root, the daemon refuses such a
/// root before reading anything; the secret stays unread (the user cannot read it themselves).
#[test]
fn a_privileged_daemon_refuses_a_proc_tree_of_the_users_choosing() {
    let Some(copy) = crate::common::PrivilegedCopy::new() else {
        return;
    };
    let env = TestEnv::new();
    let fake = env.root().join("fakeproc");
    let secret = env.root().join("secret");
    env.write_config(&format!(
        "[sampler]\nproc_root = \"{}\"\n[forensics]\nuser_stacks = \"none\"\n",
        fake.display()
    ));
    // Everything is nobody's but the secret: root's, 0600.
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(env.root())
        .status()
        .unwrap();
    assert!(chown.success());
    std::fs::write(&secret, "TOP-SECRET-LINE\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let nobody = |program: &Path| {
        let mut c = env.cmd_of("setpriv");
        c.args(crate::common::NOBODY)
            .arg(program)
            .timeout(Duration::from_secs(20));
        c
    };
    // The tree is the user's own making (created here, then handed to them).
    hostile_proc_tree(&fake, &secret);
    let chown = Command::new("chown")
        .args(["-R", "-h", "65534:65534"])
        .arg(&fake)
        .status()
        .unwrap();
    assert!(chown.success());
    let cat = env
        .cmd_of("setpriv")
        .args(crate::common::NOBODY)
        .arg("cat")
        .arg(&secret)
        .output()
        .unwrap();
    assert!(!cat.status.success(), "nobody reads the secret by itself");

    // As root: refused.
    let out = env
        .cmd_of(&copy.binary)
        .arg("daemon")
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!(
            "[sampler] proc_root = \"{}\" is refused: it runs as root",
            fake.display()
        )),
        "{said}"
    );

    // As nobody, with the capabilities `perms install` gives the binary: refused too.
    let install = env
        .cmd_of(&copy.binary)
        .args(["perms", "install"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&install.stderr).contains("does not support") {
        eprintln!("skipped the capability half: this filesystem cannot hold file capabilities");
        return;
    }
    assert!(install.status.success(), "{}", text(&install));
    let out = nobody(&copy.binary).arg("daemon").output().unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("is refused: it holds capabilities (CAP_DAC_READ_SEARCH"),
        "{said}"
    );
    assert!(!said.contains("TOP-SECRET"), "{said}");
    // Nothing was stored that could show it later.
    assert!(
        !env.root().join("data/rogue-hunter/data.db").exists(),
        "the daemon got as far as its database"
    );
}
