//! `status [--json]`: is the daemon alive (it answers on its socket, not merely "a socket file
//! exists"), what it reports right now (max score and band, sample rate), the open events of
//! the current boot, the database's size and the last event.

use super::Context;
use super::database::{self, NOT_FOUND};
use super::events::EventJson;
use super::output::{self, ago, bytes, cut, local_seconds, print_json, printable, rfc3339};
use crate::ipc::protocol::{InitialState, SampleMessage, StorageHealth};
use crate::ipc::{Client, ClientError, Hello, ServerMessage, client};
use crate::model::Band;
use crate::store::queries::{self, EventFilter, EventRow};
use clap::Args;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Exit code when the daemon is not running (the `systemctl status` convention).
pub const NOT_RUNNING: u8 = 3;
/// Exit code when the daemon's state cannot be told (permission, timeout, untrusted socket).
pub const UNKNOWN: u8 = 4;

/// How long connecting and the daemon's `hello` may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest `status` waits for a live sample.
const SAMPLE_WAIT_MAX: Duration = Duration::from_secs(5);

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The daemon as seen through its socket.
#[derive(Debug, Serialize)]
pub struct DaemonJson {
    /// `running`, `stopped`, or `unknown` (it could not be asked: permission, timeout, …).
    pub state: &'static str,
    pub socket: String,
    /// Why it is not `running`.
    pub detail: Option<String>,
    pub pid: Option<u32>,
    pub version: Option<String>,
    pub protocol: Option<u32>,
    pub sample_interval_ms: Option<u64>,
    pub samples_per_second: Option<f64>,
    pub ring_buffer_size: Option<u32>,
}

/// The latest sample the daemon sent.
#[derive(Debug, Serialize)]
pub struct CurrentJson {
    pub max_score: u8,
    pub band: Band,
    /// Highest `max_score` in the daemon's recent history (its ring buffer).
    pub recent_peak: Option<u8>,
    pub seq: Option<u64>,
    pub time: Option<String>,
    pub process_count: Option<usize>,
    /// How long the daemon's last pass over every process took.
    pub sampler_ms: Option<f64>,
    /// The top culprit: the top unit (its leader's pid and command), or the top process.
    pub top_process: Option<TopProcessJson>,
    /// The machine's state in that sample (None from daemons that do not send it).
    pub machine: Option<crate::machine::Machine>,
}

/// The top culprit of the latest sample.
#[derive(Debug, Serialize)]
pub struct TopProcessJson {
    pub pid: u32,
    pub command: String,
    pub score: u8,
    /// Processes in its unit (1: the process alone).
    pub members: u32,
    /// Why it scores what it scores.
    pub reason: String,
}

/// The database file.
#[derive(Debug, Serialize)]
pub struct DatabaseJson {
    pub path: String,
    pub exists: bool,
    /// With its WAL file.
    pub size_bytes: Option<u64>,
    /// Why it could not be read (not a rogue-hunter database, a newer schema, …).
    pub error: Option<String>,
    /// Captures with a part still `pending`: in progress while the daemon runs; otherwise
    /// left unfinished (the next start marks them failed).
    pub captures_pending: Option<i64>,
    /// The running daemon's writes to it (None when no daemon answered).
    pub writes: Option<WritesJson>,
}

/// How the running daemon's database writes go: a failure the daemon can only log (a full
/// disk, a file gone read-only) is shown here, and makes `status` exit 1.
#[derive(Debug, Serialize)]
pub struct WritesJson {
    /// The last write failed and none has succeeded since.
    pub failing: bool,
    /// Writes that failed since the daemon started.
    pub failed_since_start: u64,
    pub last_error: Option<String>,
    pub last_error_time: Option<String>,
}

impl WritesJson {
    fn from_health(h: &StorageHealth) -> WritesJson {
        WritesJson {
            failing: h.failing,
            failed_since_start: h.failed_writes,
            last_error: h.last_error.clone(),
            last_error_time: h.last_error_at.map(rfc3339),
        }
    }
}

/// An open event with how long it has lasted so far.
#[derive(Debug, Serialize)]
pub struct OpenEventJson {
    #[serde(flatten)]
    pub event: EventJson,
    pub open_for_sec: f64,
}

/// Everything `status --json` prints.
#[derive(Debug, Serialize)]
pub struct StatusJson {
    pub daemon: DaemonJson,
    pub current: Option<CurrentJson>,
    pub database: DatabaseJson,
    pub boot_time: Option<i64>,
    /// The kernel's id of the current boot (what "the current boot" means).
    pub boot_id: Option<String>,
    /// Open events of the current boot.
    pub open_events: Vec<OpenEventJson>,
    /// The most recent event of any boot.
    pub last_event: Option<EventJson>,
}

/// What a connection to the daemon returned.
struct Live {
    hello: Hello,
    history: Option<InitialState>,
    sample: Option<SampleMessage>,
}

/// Connects, reads `hello` (that is the liveness probe), `initial_state` and, if one comes in
/// time, one live sample.
fn ask_daemon(socket: &Path, daemon_uid: u32) -> Result<Live, ClientError> {
    client::block_on(async {
        let mut c =
            match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect_to(socket, daemon_uid))
                .await
            {
                Ok(r) => r?,
                Err(_) => return Err(ClientError::Timeout("connecting")),
            };
        let hello = c.hello().clone();
        let interval = Duration::from_millis(hello.sample_interval_ms);
        let wait = (interval * 2 + Duration::from_millis(500)).min(SAMPLE_WAIT_MAX);
        let deadline = tokio::time::Instant::now() + wait;
        let mut live = Live {
            hello,
            history: None,
            sample: None,
        };
        // Whatever arrives first, up to the deadline; a daemon that says hello is running even
        // if it sends nothing else.
        while live.sample.is_none() {
            match tokio::time::timeout_at(deadline, c.next()).await {
                Ok(Ok(ServerMessage::InitialState(s))) => live.history = Some(s),
                Ok(Ok(ServerMessage::Sample(s))) => live.sample = Some(s),
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        Ok(live)
    })?
}

fn daemon_json(socket: &Path, probe: &Result<Live, ClientError>) -> DaemonJson {
    let mut d = DaemonJson {
        state: "running",
        socket: socket.display().to_string(),
        detail: None,
        pid: None,
        version: None,
        protocol: None,
        sample_interval_ms: None,
        samples_per_second: None,
        ring_buffer_size: None,
    };
    match probe {
        Ok(live) => {
            let h = &live.hello;
            d.pid = Some(h.pid);
            d.version = Some(h.version.clone());
            d.protocol = Some(h.protocol);
            d.sample_interval_ms = Some(h.sample_interval_ms);
            d.samples_per_second = (h.sample_interval_ms > 0)
                .then(|| (10_000.0 / h.sample_interval_ms as f64).round() / 10.0);
            d.ring_buffer_size = Some(h.ring_buffer_size);
        }
        Err(ClientError::NoSocket { path }) => {
            d.state = "stopped";
            d.detail = Some(format!("no socket at {}", path.display()));
        }
        Err(ClientError::Refused { path }) => {
            d.state = "stopped";
            d.detail = Some(format!(
                "stale socket at {}: nothing listens on it",
                path.display()
            ));
        }
        Err(e) => {
            d.state = "unknown";
            d.detail = Some(e.to_string());
        }
    }
    d
}

fn current_json(ctx: &Context, live: &Live) -> anyhow::Result<Option<CurrentJson>> {
    let recent_peak = live
        .history
        .as_ref()
        .and_then(|h| h.history.iter().max().copied());
    if let Some(s) = &live.sample {
        let top = s.top_culprit();
        let band = match top {
            Some((p, _)) if p.score == s.max_score => p.band,
            _ => ctx.load_config()?.bands.band_for(s.max_score),
        };
        return Ok(Some(CurrentJson {
            max_score: s.max_score,
            band,
            recent_peak,
            seq: Some(s.seq),
            time: Some(rfc3339(s.timestamp)),
            process_count: Some(s.process_count),
            sampler_ms: Some((s.elapsed_ms * 100.0).round() / 100.0),
            top_process: top.map(|(p, members)| TopProcessJson {
                pid: p.pid,
                command: p.command.clone(),
                score: p.score,
                members,
                reason: p.reason.clone(),
            }),
            machine: s.machine.as_deref().cloned(),
        }));
    }
    // No sample in time: the newest score of the history, if any.
    let Some(last) = live
        .history
        .as_ref()
        .and_then(|h| h.history.last().copied())
    else {
        return Ok(None);
    };
    Ok(Some(CurrentJson {
        max_score: last,
        band: ctx.load_config()?.bands.band_for(last),
        recent_peak,
        seq: live.history.as_ref().map(|h| h.last_seq),
        time: None,
        process_count: None,
        sampler_ms: None,
        top_process: None,
        machine: None,
    }))
}

pub(super) fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<()> {
    let socket = &ctx.paths.socket;
    let probe = ask_daemon(socket, ctx.paths.daemon_uid());
    let now = output::now();
    let current = match &probe {
        Ok(live) => current_json(ctx, live)?,
        Err(_) => None,
    };
    let db_path = &ctx.paths.db_file;
    let boot = database::current_boot();
    // A database that cannot be read does not hide the daemon's state: it is reported, and
    // the exit code says something is wrong.
    let read = database::open(db_path).and_then(|conn| {
        let Some(conn) = conn else {
            return Ok((false, Vec::new(), None, None));
        };
        let open = queries::events(
            &conn,
            &EventFilter {
                open_only: true,
                boot: boot.clone(),
                ..EventFilter::default()
            },
        )?;
        let last = queries::events(
            &conn,
            &EventFilter {
                limit: Some(1),
                ..EventFilter::default()
            },
        )?;
        let pending = queries::pending_captures(&conn)?;
        Ok((true, open, last.into_iter().next(), Some(pending)))
    });
    let (exists, open_events, last_event, pending, db_error) = match read {
        Ok((exists, open, last, pending)) => (exists, open, last, pending, None),
        Err(e) => (db_path.exists(), Vec::new(), None, None, Some(e)),
    };
    let writes = probe.as_ref().ok().and_then(|live| {
        let health = match (&live.sample, &live.history) {
            (Some(s), _) => &s.storage,
            (None, Some(h)) => &h.storage,
            (None, None) => return None,
        };
        Some(WritesJson::from_health(health))
    });
    let status = StatusJson {
        daemon: daemon_json(socket, &probe),
        current,
        database: DatabaseJson {
            path: db_path.display().to_string(),
            exists,
            size_bytes: exists.then(|| database::size_on_disk(db_path)).flatten(),
            error: db_error.as_ref().map(super::error_text),
            captures_pending: pending,
            writes,
        },
        boot_time: boot.as_ref().and_then(|b| b.time),
        boot_id: boot.as_ref().and_then(|b| b.id.clone()),
        open_events: open_events
            .iter()
            .map(|e| OpenEventJson {
                event: EventJson::from_row(e),
                open_for_sec: ((now - e.entry_time).max(0.0) * 10.0).round() / 10.0,
            })
            .collect(),
        last_event: last_event.as_ref().map(EventJson::from_row),
    };
    if args.json {
        print_json(&status)?;
    } else {
        print!(
            "{}",
            render(&status, &open_events, last_event.as_ref(), now)
        );
    }
    let failing = status.database.writes.as_ref().is_some_and(|w| w.failing);
    exit(status.daemon.state, db_error, failing)
}

/// `systemctl status` exit codes: 0 running, 3 not running, 4 unknown. While the daemon runs,
/// a database that cannot be read or whose writes are failing is an error (1); otherwise the
/// daemon's state decides, and the database error is still shown.
fn exit(
    daemon_state: &str,
    db_error: Option<anyhow::Error>,
    writes_failing: bool,
) -> anyhow::Result<()> {
    let code = match daemon_state {
        "running" if db_error.is_none() && writes_failing => return Err(super::Quiet(1).into()),
        "running" => return db_error.map_or(Ok(()), Err),
        "stopped" => NOT_RUNNING,
        _ => UNKNOWN,
    };
    if let Some(e) = db_error {
        eprintln!("Error: {}", crate::escape::escape(&super::error_text(&e)));
    }
    Err(super::Quiet(code).into())
}

/// The text form.
pub fn render(s: &StatusJson, open: &[EventRow], last: Option<&EventRow>, now: f64) -> String {
    let mut out = Vec::<String>::new();
    let d = &s.daemon;
    match d.state {
        "running" => {
            out.push(format!(
                "Daemon: running (pid {}, version {})",
                d.pid.unwrap_or(0),
                printable(d.version.as_deref().unwrap_or("?"))
            ));
            if let (Some(ms), Some(rate)) = (d.sample_interval_ms, d.samples_per_second) {
                out.push(format!(
                    "Sampling: every {ms} ms ({rate} per second), ring buffer {} samples",
                    d.ring_buffer_size.unwrap_or(0)
                ));
            }
            render_current(s.current.as_ref(), &mut out);
        }
        "stopped" => out.push(format!(
            "Daemon: stopped ({})",
            printable(d.detail.as_deref().unwrap_or("no answer"))
        )),
        _ => out.push(format!(
            "Daemon: unknown ({})",
            printable(d.detail.as_deref().unwrap_or("no answer"))
        )),
    }

    if s.database.error.is_some() {
        out.push(format!(
            "Database: {} (unreadable, see below)",
            s.database.path
        ));
        return finish(out);
    }
    if !s.database.exists {
        out.push(String::new());
        out.push(NOT_FOUND.to_string());
        return finish(out);
    }
    out.push(format!(
        "Database: {} ({})",
        s.database.path,
        s.database.size_bytes.map_or("size unknown".into(), bytes)
    ));
    render_writes(s.database.writes.as_ref(), &mut out);
    match (s.database.captures_pending, d.state) {
        (None | Some(0), _) => {}
        (Some(n), "running") => out.push(format!("Captures in progress: {n}")),
        (Some(n), _) => out.push(format!(
            "Unfinished captures: {n} (marked failed when the daemon starts again)"
        )),
    }
    render_last(last, now, &mut out);
    render_open(open, d.state, now, &mut out);
    finish(out)
}

/// The `Current:` lines: the newest sample's top culprit, why, and the machine.
fn render_current(current: Option<&CurrentJson>, out: &mut Vec<String>) {
    match current {
        Some(c) => {
            let mut line = format!("Current: max score {} ({})", c.max_score, c.band);
            let top = c.top_process.as_ref().filter(|p| p.score > 0);
            if let Some(p) = top {
                let name = if p.members > 1 {
                    format!("{} ×{}", cut(&p.command, 30), p.members)
                } else {
                    cut(&p.command, 30)
                };
                line.push_str(&format!(", top {name} (PID {})", p.pid));
            }
            out.push(line);
            match top {
                Some(p) if !p.reason.is_empty() => {
                    out.push(format!("         why: {}", printable(&p.reason)));
                }
                None if c.time.is_some() => {
                    out.push("         nothing is hurting the machine".to_string());
                }
                _ => {}
            }
            let mut detail = Vec::new();
            if let Some(n) = c.process_count {
                detail.push(format!("{n} processes"));
            }
            if let Some(ms) = c.sampler_ms {
                detail.push(format!("last pass {ms:.1} ms"));
            }
            if let Some(peak) = c.recent_peak {
                detail.push(format!("recent peak {peak}"));
            }
            if !detail.is_empty() {
                out.push(format!("         {}", detail.join(", ")));
            }
            if let Some(m) = &c.machine {
                out.push(format!("Machine: {}", m.summary()));
            }
        }
        None => out.push("Current: no sample yet".to_string()),
    }
}

/// The `Database writes:` lines, when a write has failed since the daemon started.
fn render_writes(writes: Option<&WritesJson>, out: &mut Vec<String>) {
    if let Some(w) = writes
        && let Some(err) = &w.last_error
    {
        let state = if w.failing {
            "FAILING"
        } else {
            "working again"
        };
        out.push(format!(
            "Database writes: {state}: {} failed since the daemon started; last at {}: {}",
            w.failed_since_start,
            w.last_error_time.as_deref().unwrap_or("?"),
            printable(err)
        ));
        if w.failing {
            out.push(
                "  (new events and captures are not being stored: free disk space, or check \
                 the file's permissions and the daemon's log)"
                    .to_string(),
            );
        }
    }
}

/// The `Last event:` line.
fn render_last(last: Option<&EventRow>, now: f64, out: &mut Vec<String>) {
    if let Some(e) = last {
        let when = match e.exit_time {
            None => format!("started {}, ongoing", ago(now - e.entry_time)),
            Some(x) => format!("ended {}", ago(now - x)),
        };
        out.push(format!(
            "Last event: #{} {} (PID {}) at {}, peak {} ({}), {when}",
            e.id,
            super::events::culprit(e, 30),
            e.pid,
            local_seconds(e.entry_time),
            e.peak_score,
            e.peak_band
        ));
    }
}

/// The events still open, each with why.
fn render_open(open: &[EventRow], daemon_state: &str, now: f64, out: &mut Vec<String>) {
    out.push(String::new());
    if open.is_empty() {
        out.push("No active process tracking.".to_string());
        return;
    }
    out.push(format!("Active tracked processes: {}", open.len()));
    for e in open {
        out.push(format!(
            "  - {} (PID {}): {:.0}s in {} (score {})",
            super::events::culprit(e, 40),
            e.pid,
            (now - e.entry_time).max(0.0).floor(),
            e.peak_band,
            e.peak_score
        ));
        if let Some(r) = e.reason.as_deref().filter(|r| !r.is_empty()) {
            out.push(format!("      {}", printable(r)));
        }
    }
    if daemon_state == "stopped" {
        out.push(
            "  (the daemon is not running: these close when it starts again, at its last sample)"
                .to_string(),
        );
    }
}

fn finish(lines: Vec<String>) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}
