//! `events show ID [-f] [-t] [-l] [--json]`: one event with its peak snapshot, every snapshot,
//! and its forensic captures with each part's status (a NULL status reads `pending`), the
//! triggers each capture answered, and on request the ring buffer's culprits (`-f`), the
//! stacks as counted trees (`-t`) and the log lines (`-l`). `--folded` and `--flamegraph FILE`
//! export one capture's stacks instead.

use super::Context;
use super::database;
use super::events::EventJson;
use super::output::{
    and_more, cut, decimal, dominant, duration_verbose, local_clock, local_datetime, multiple,
    plural, print_json, printable, rfc3339, seconds3,
};
use super::profile_view;
use crate::model::{ProcessScore, SnapshotType, Trigger};
use crate::store::capture_data::{CaptureData, Frame, StackHeader, StackProcess, StackThread};
use crate::store::process_columns::{IDENTITY_COLUMNS, METRIC_COLUMNS, UNIT_COLUMNS};
use crate::store::queries::{self, CaptureRow, Named, PartState, SnapshotRow, StoredCulprit};
use crate::store::{CapturePart, LogEntry, PartStatus};
use clap::Args;
use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};
use serde::Serialize;
use std::collections::BTreeMap;

/// Culprits printed per capture.
const MAX_CULPRITS: usize = 5;
/// Stack processes printed per capture, threads (with their trees) per process.
const MAX_STACK_PROCESSES: usize = 10;
const MAX_THREADS: usize = 5;
/// Log lines printed per capture (`--json` has them all).
const MAX_LOG_LINES: usize = 20;

/// Arguments of `events show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The event id (first column of `events`).
    pub id: i64,
    /// Ring buffer of each capture: its size and the culprits.
    #[arg(short = 'f', long)]
    pub forensics: bool,
    /// Stack summary of each capture: processes, threads (state, wait channel), heaviest frames.
    #[arg(short = 't', long)]
    pub threads: bool,
    /// System log lines of each capture.
    #[arg(short = 'l', long)]
    pub logs: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print the stacks of one capture as folded stacks (`frame;frame;frame count` lines, what
    /// flame-graph tools read) instead of the event.
    #[arg(long, conflicts_with_all = ["json", "flamegraph"])]
    pub folded: bool,
    /// Write the stacks of one capture to FILE as an interactive SVG flame graph.
    #[arg(long, value_name = "FILE", conflicts_with = "json")]
    pub flamegraph: Option<std::path::PathBuf>,
    /// The capture for --folded / --flamegraph (default: the newest with stacks).
    #[arg(long, value_name = "CAPTURE_ID")]
    pub capture: Option<i64>,
}

/// Everything `events show` prints.
#[derive(Debug, Serialize)]
pub struct EventShow {
    pub event: EventJson,
    pub peak_snapshot: Option<SnapshotJson>,
    /// The unit's members at the peak, each with its own figures (empty for one process).
    pub peak_members: Vec<ProcessScore>,
    pub snapshots: Vec<SnapshotJson>,
    pub captures: Vec<CaptureJson>,
}

/// A process snapshot: when, why, and the process's 47 fields.
#[derive(Debug, Serialize)]
pub struct SnapshotJson {
    pub id: i64,
    pub snapshot_type: Named<SnapshotType>,
    pub time: String,
    pub process: ProcessScore,
}

/// One part of a capture; `pending` when the row has no status (yet).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PartJson {
    pub status: PartStatus,
    /// The error, or why the part was skipped.
    pub error: Option<String>,
}

/// A forensic capture.
#[derive(Debug, Serialize)]
pub struct CaptureJson {
    pub id: i64,
    pub trigger: Named<Trigger>,
    /// Every trigger it answered (coalesced ones included).
    pub triggers: Vec<String>,
    pub captured_at: String,
    pub completed_at: Option<String>,
    #[serde(skip)]
    captured_epoch: f64,
    #[serde(skip)]
    completed_epoch: Option<f64>,
    pub stack_source: Option<String>,
    /// `buffer`, `stacks`, `logs`, and `decode` where the platform has that step.
    pub parts: BTreeMap<CapturePart, PartJson>,
    /// With `-f`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffer: Option<BufferJson>,
    /// With `-t`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stacks: Option<Vec<StackProcessJson>>,
    /// With `-t`, for sampled profiles: how the stacks were sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<SamplingJson>,
    /// With `-l`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<LogEntry>>,
}

/// The frozen ring buffer of a capture.
#[derive(Debug, Serialize, Default)]
pub struct BufferJson {
    /// False when the capture stored no buffer.
    pub stored: bool,
    pub sample_count: i64,
    /// Process rows over all samples.
    pub process_rows: i64,
    /// From the oldest to the newest sample, seconds.
    pub span_sec: f64,
    pub peak_score: i64,
    pub culprits: Vec<StoredCulprit>,
    /// Entries of the stored culprit list that could not be read (rows of other versions).
    pub unreadable_culprits: usize,
}

/// How a profile sampled (the stack header's profile columns).
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct SamplingJson {
    pub source: Option<String>,
    pub hz: f64,
    pub duration_sec: Option<f64>,
    pub samples_on_cpu: Option<i64>,
    pub samples_off_cpu: Option<i64>,
    pub samples_lost: Option<i64>,
    pub stacks_truncated: Option<i64>,
    #[serde(skip)]
    line: String,
}

/// A process of a stack capture, summarised.
#[derive(Debug, Serialize)]
pub struct StackProcessJson {
    pub pid: i64,
    pub name: String,
    pub footprint_mb: Option<f64>,
    pub cpu_time_sec: Option<f64>,
    pub threads: Vec<StackThreadJson>,
}

/// A thread: where it was, and the heaviest path of its call tree (outermost first).
#[derive(Debug, Serialize)]
pub struct StackThreadJson {
    pub thread_id: String,
    pub name: Option<String>,
    pub num_samples: Option<i64>,
    pub state: Option<String>,
    pub wchan: Option<String>,
    pub syscall: Option<String>,
    pub heaviest: Vec<FrameJson>,
    /// The whole tree, for the text view.
    #[serde(skip)]
    frames: Vec<Frame>,
}

/// One frame of a heaviest path.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct FrameJson {
    pub sample_count: i64,
    /// Profiles: on- and off-CPU samples through the frame.
    pub on_cpu: Option<i64>,
    pub off_cpu: Option<i64>,
    pub symbol: String,
    pub library: Option<String>,
    /// `file:line`, where debug information tells it.
    pub source: Option<String>,
    pub is_kernel: bool,
}

pub(super) fn run(ctx: &Context, args: ShowArgs) -> anyhow::Result<()> {
    let conn = database::open_required(&ctx.paths.db_file)?;
    if args.folded || args.flamegraph.is_some() {
        return export_stacks(&conn, &args);
    }
    let Some(show) = gather(&conn, &args)? else {
        anyhow::bail!("Event {} not found", args.id);
    };
    if args.json {
        print_json(&show)
    } else {
        print!("{}", render(&show, &args));
        Ok(())
    }
}

fn snapshot_json(s: SnapshotRow) -> SnapshotJson {
    SnapshotJson {
        id: s.id,
        snapshot_type: s.snapshot_type,
        time: rfc3339(s.captured_at),
        process: s.process,
    }
}

/// Reads the event and what the flags ask for; None if there is no such event.
pub fn gather(conn: &Connection, args: &ShowArgs) -> anyhow::Result<Option<EventShow>> {
    let Some(detail) = queries::event_detail(conn, args.id)? else {
        return Ok(None);
    };
    let snapshots = queries::snapshots_of_event(conn, args.id)?
        .into_iter()
        .map(snapshot_json)
        .collect();
    let mut captures = Vec::new();
    for c in queries::captures_of_event(conn, args.id)? {
        let mut json = capture_json(&c);
        if args.forensics {
            json.buffer = Some(buffer_json(conn, c.id)?);
        }
        if args.threads {
            let data = queries::capture_stacks(conn, c.id)?;
            json.sampling = data.header.as_ref().and_then(sampling_json);
            json.stacks = Some(stacks_json(&data));
        }
        if args.logs {
            json.logs = Some(queries::log_entries(conn, c.id, None)?);
        }
        captures.push(json);
    }
    let peak_members = match &detail.peak_snapshot {
        Some(p) => queries::snapshot_members(conn, p.id)?,
        None => Vec::new(),
    };
    Ok(Some(EventShow {
        event: EventJson::from_row(&detail.event),
        peak_snapshot: detail.peak_snapshot.map(snapshot_json),
        peak_members,
        snapshots,
        captures,
    }))
}

fn part_json(p: &PartState) -> PartJson {
    PartJson {
        status: p.status.unwrap_or(PartStatus::Pending),
        error: p.error.clone(),
    }
}

/// A capture row with its parts; `decode` only where the platform has that step.
pub fn capture_json(c: &CaptureRow) -> CaptureJson {
    let mut parts = BTreeMap::from([
        (CapturePart::Buffer, part_json(&c.buffer)),
        (CapturePart::Stacks, part_json(&c.stacks)),
        (CapturePart::Logs, part_json(&c.logs)),
    ]);
    if c.decode.status.is_some() || c.decode.error.is_some() {
        parts.insert(CapturePart::Decode, part_json(&c.decode));
    }
    CaptureJson {
        id: c.id,
        trigger: c.trigger.clone(),
        triggers: c.triggers.clone(),
        captured_at: rfc3339(c.captured_at),
        completed_at: c.completed_at.map(rfc3339),
        captured_epoch: c.captured_at,
        completed_epoch: c.completed_at,
        stack_source: c.stack_source.clone(),
        parts,
        buffer: None,
        stacks: None,
        sampling: None,
        logs: None,
    }
}

fn sampling_json(h: &StackHeader) -> Option<SamplingJson> {
    Some(SamplingJson {
        source: h.data_source.clone(),
        hz: h.sample_rate_hz?,
        duration_sec: h.duration_sec,
        samples_on_cpu: h.samples_on_cpu,
        samples_off_cpu: h.samples_off_cpu,
        samples_lost: h.samples_lost,
        stacks_truncated: h.stacks_truncated,
        line: profile_view::sampling_line(h)?,
    })
}

/// `--folded` / `--flamegraph FILE`: one capture's stacks, exported.
fn export_stacks(conn: &Connection, args: &ShowArgs) -> anyhow::Result<()> {
    if queries::event_detail(conn, args.id)?.is_none() {
        anyhow::bail!("Event {} not found", args.id);
    }
    let captures = queries::captures_of_event(conn, args.id)?;
    let (capture_id, data) = match args.capture {
        Some(id) => {
            if !captures.iter().any(|c| c.id == id) {
                anyhow::bail!("Capture {id} is not a capture of event {}", args.id);
            }
            (id, queries::capture_stacks(conn, id)?)
        }
        None => {
            let mut found = None;
            for c in captures.iter().rev() {
                let data = queries::capture_stacks(conn, c.id)?;
                if !data.processes.is_empty() {
                    found = Some((c.id, data));
                    break;
                }
            }
            found.ok_or_else(|| anyhow::anyhow!("Event {} has no capture with stacks", args.id))?
        }
    };
    let tree = profile_view::flame_tree(&data);
    if tree.total() == 0 {
        anyhow::bail!("Capture {capture_id} holds no stack samples");
    }
    if args.folded {
        print!("{}", tree.to_folded());
    }
    if let Some(path) = &args.flamegraph {
        let svg = crate::flamegraph::svg(
            &tree,
            &profile_view::flame_options(capture_id, args.id, &data),
        );
        std::fs::write(path, svg)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!(
            "Wrote the flame graph of capture #{capture_id} ({}) to {}",
            plural(tree.total(), "sample", "samples"),
            path.display()
        );
    }
    Ok(())
}

fn buffer_json(conn: &Connection, capture_id: i64) -> anyhow::Result<BufferJson> {
    let Some(ctx) = queries::buffer_context(conn, capture_id)? else {
        return Ok(BufferJson::default());
    };
    let samples = queries::buffer_samples(conn, capture_id)?;
    let span = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => (b.captured_at - a.captured_at).max(0.0),
        _ => 0.0,
    };
    Ok(BufferJson {
        stored: true,
        sample_count: ctx.sample_count,
        process_rows: samples.iter().map(|s| s.process_count).sum(),
        span_sec: seconds3(span),
        peak_score: ctx.peak_score,
        culprits: ctx.culprits,
        unreadable_culprits: ctx.unreadable_culprits,
    })
}

fn stacks_json(data: &CaptureData) -> Vec<StackProcessJson> {
    let mut processes: Vec<&StackProcess> = data.processes.iter().collect();
    // Busiest first; processes without a CPU time (Linux) keep their stored order.
    processes.sort_by(|a, b| {
        b.cpu_time_sec
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.cpu_time_sec.unwrap_or(f64::NEG_INFINITY))
    });
    processes
        .into_iter()
        .map(|p| {
            let mut threads: Vec<&StackThread> = p.threads.iter().collect();
            threads.sort_by_key(|t| std::cmp::Reverse(t.num_samples.unwrap_or(0)));
            StackProcessJson {
                pid: p.pid,
                name: p.name.clone(),
                footprint_mb: p.footprint_mb,
                cpu_time_sec: p.cpu_time_sec,
                threads: threads
                    .into_iter()
                    .map(|t| StackThreadJson {
                        thread_id: t.thread_id.clone(),
                        name: t
                            .thread_name
                            .clone()
                            .or_else(|| t.dispatch_queue_name.clone()),
                        num_samples: t.num_samples,
                        state: t.state.clone(),
                        wchan: t.wchan.clone(),
                        syscall: t.syscall.clone(),
                        heaviest: heaviest_path(&t.frames),
                        frames: t.frames.clone(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The heaviest path of a call tree: from the root with the most samples, always into the
/// child with the most samples (the first on a tie), outermost first.
pub fn heaviest_path(frames: &[Frame]) -> Vec<FrameJson> {
    crate::forensics::flame_tree::heaviest_chain(frames)
        .into_iter()
        .map(|i| {
            let f = &frames[i];
            FrameJson {
                sample_count: f.sample_count,
                on_cpu: f.on_cpu_count,
                off_cpu: f.off_cpu_count,
                symbol: f.symbol_name.clone().unwrap_or_else(|| f.address.clone()),
                library: f.library_name.clone(),
                source: f.source_file.as_ref().map(|file| match f.source_line {
                    Some(l) => format!("{file}:{l}"),
                    None => file.clone(),
                }),
                is_kernel: f.is_kernel,
            }
        })
        .collect()
}

/// The peak snapshot's fields in column order, raw.
fn snapshot_fields(s: &SnapshotJson) -> Vec<(String, String)> {
    let mut fields = vec![
        ("id".to_string(), s.id.to_string()),
        ("snapshot_type".to_string(), s.snapshot_type.to_string()),
        (
            "captured_at".to_string(),
            local_datetime(s.process.captured_at),
        ),
    ];
    for c in METRIC_COLUMNS
        .iter()
        .chain(IDENTITY_COLUMNS.iter())
        .chain(UNIT_COLUMNS.iter())
    {
        fields.push((c.name.to_string(), raw_text(&(c.bind)(&s.process))));
    }
    fields
}

/// A stored value as text for people: reals rounded (`198.5`, not `198.49542354204064`), text as it is.
fn raw_text(v: &ToSqlOutput<'_>) -> String {
    let v = match v {
        ToSqlOutput::Borrowed(v) => *v,
        ToSqlOutput::Owned(v) => ValueRef::from(v),
        _ => ValueRef::Null,
    };
    match v {
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => decimal(f),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Null | ValueRef::Blob(_) => "null".to_string(),
    }
}

fn snapshot_line(s: &SnapshotJson) -> String {
    let p = &s.process;
    format!(
        "  [{}] {} score={} cpu={:.1} mem={} {}",
        s.snapshot_type,
        local_clock(p.captured_at),
        p.score,
        p.cpu,
        p.mem,
        dominant(p.dominant_resource, p.disproportionality)
    )
}

fn part_line(label: &str, p: &PartJson, extra: Option<&str>) -> String {
    let mut line = format!("    {label}: {}", p.status);
    if let Some(x) = extra.filter(|x| !x.is_empty()) {
        line.push_str(&format!(" ({})", printable(x)));
    }
    if let Some(e) = p.error.as_deref().filter(|e| !e.is_empty()) {
        line.push_str(&format!(": {}", printable(e)));
    }
    line
}

/// Renders the text form.
pub fn render(show: &EventShow, args: &ShowArgs) -> String {
    let e = &show.event;
    let mut out = Vec::<String>::new();
    out.push(format!("Process Event #{}", e.id));
    out.push(format!("Command: {}", printable(&e.command)));
    out.push(format!("PID: {}", e.pid));
    if let Some(u) = e
        .unit
        .as_ref()
        .filter(|u| u.members > 1 || !u.label.is_empty())
    {
        let label = if u.label.is_empty() {
            String::new()
        } else {
            format!("{}, ", printable(&u.label))
        };
        out.push(format!(
            "Unit: {label}{} (PID {} leads it)",
            plural(u64::from(u.members), "process", "processes"),
            e.pid
        ));
    }
    if let Some(r) = e.reason.as_deref() {
        out.push(format!("Why: {}", printable(r)));
    }
    if let Some(start) = e.process_start.as_ref() {
        out.push(format!("Process started: {start}"));
    }
    out.push(format!(
        "Entry: {} ({} band)",
        local_datetime(e.entry_time),
        e.entry_band
    ));
    if let Some(x) = e.exit_time {
        let reason = e.exit_reason.map(|r| format!(" ({r})")).unwrap_or_default();
        out.push(format!("Exit: {}{reason}", local_datetime(x)));
    }
    out.push(format!(
        "Duration: {}",
        duration_verbose(e.entry_time, e.exit_time)
    ));
    out.push(format!("Peak Band: {}", e.peak_band));
    out.push(format!("Peak Score: {}", e.peak_score));

    if let Some(peak) = &show.peak_snapshot {
        out.push(String::new());
        out.push("Peak Snapshot:".to_string());
        for (k, v) in snapshot_fields(peak) {
            out.push(format!("  {k}: {}", printable(&v)));
        }
    }
    if !show.peak_members.is_empty() {
        out.push(String::new());
        out.push(format!("Members at the peak: {}", show.peak_members.len()));
        out.push("      PID  Command          CPU %   Memory      Disk/s  State".to_string());
        for m in &show.peak_members {
            out.push(format!(
                "  {:>7}  {:<15}  {:>5.1}  {:>7}  {:>10}  {}",
                m.pid,
                cut(&printable(&m.command), 15),
                m.cpu,
                crate::impact::human_bytes(m.mem as f64),
                format!("{}/s", crate::impact::human_bytes(m.disk_io_rate)),
                m.state
            ));
        }
    }

    out.push(String::new());
    out.push(format!("Snapshots: {}", show.snapshots.len()));
    out.extend(show.snapshots.iter().map(snapshot_line));

    let wants_detail = args.forensics || args.threads || args.logs;
    if show.captures.is_empty() {
        if wants_detail {
            out.push(String::new());
            out.push("No forensic captures for this event.".to_string());
        }
        return join(out);
    }
    out.push(String::new());
    out.push(format!("Forensic Captures: {}", show.captures.len()));
    for c in &show.captures {
        out.push(String::new());
        render_capture(c, &mut out);
    }
    join(out)
}

fn join(lines: Vec<String>) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn render_capture(c: &CaptureJson, out: &mut Vec<String>) {
    out.push(format!(
        "  #{} [{}] at {}",
        c.id,
        printable(&c.trigger.to_string()),
        local_datetime(c.captured_epoch)
    ));
    if c.triggers.len() > 1
        || c.triggers
            .first()
            .is_some_and(|t| *t != c.trigger.to_string())
    {
        let list: Vec<String> = c
            .triggers
            .iter()
            .map(|t| printable(t).into_owned())
            .collect();
        out.push(format!("    Triggers: {}", list.join("; ")));
    }
    let pending = PartJson {
        status: PartStatus::Pending,
        error: None,
    };
    let part = |k: CapturePart| c.parts.get(&k).unwrap_or(&pending);
    out.push(part_line("Buffer", part(CapturePart::Buffer), None));
    out.push(part_line(
        "Stacks",
        part(CapturePart::Stacks),
        c.stack_source.as_deref(),
    ));
    if let Some(d) = c.parts.get(&CapturePart::Decode) {
        out.push(part_line("Decode", d, None));
    }
    out.push(part_line("Logs", part(CapturePart::Logs), None));
    match c.completed_epoch {
        Some(done) => out.push(format!(
            "    Completed: {} (after {:.1}s)",
            local_datetime(done),
            (done - c.captured_epoch).max(0.0)
        )),
        None => out.push("    Completed: not yet".to_string()),
    }
    if let Some(b) = &c.buffer {
        render_buffer(b, out);
    }
    if let Some(s) = &c.stacks {
        render_stacks(s, c.sampling.as_ref(), out);
    }
    if let Some(l) = &c.logs {
        render_logs(l, out);
    }
}

fn render_buffer(b: &BufferJson, out: &mut Vec<String>) {
    if !b.stored {
        out.push("    Ring buffer: none stored".to_string());
        return;
    }
    out.push(format!(
        "    Ring buffer: {} over {:.1}s, {}, peak {}",
        plural(b.sample_count.max(0) as u64, "sample", "samples"),
        b.span_sec,
        plural(b.process_rows.max(0) as u64, "process row", "process rows"),
        b.peak_score
    ));
    if b.culprits.is_empty() {
        out.push("    Culprits: none".to_string());
    } else {
        out.push(format!("    Culprits: {}", b.culprits.len()));
    }
    for c in b.culprits.iter().take(MAX_CULPRITS) {
        let dom = match &c.dominant_resource {
            Named::Known(r) => dominant(*r, c.disproportionality),
            Named::Other(name) => format!(
                "[dominant: {} ({})]",
                printable(name),
                multiple(c.disproportionality)
            ),
        };
        out.push(format!(
            "      - {} [{}] ({}) {dom}",
            cut(&c.command, 40),
            c.pid,
            c.score
        ));
    }
    if b.culprits.len() > MAX_CULPRITS {
        out.push(format!(
            "      {} (--json lists them all)",
            and_more(
                (b.culprits.len() - MAX_CULPRITS) as u64,
                "culprit",
                "culprits"
            )
        ));
    }
    if b.unreadable_culprits > 0 {
        out.push(format!(
            "      ({} unreadable in the stored list)",
            plural(b.unreadable_culprits as u64, "entry", "entries")
        ));
    }
}

fn render_stacks(
    processes: &[StackProcessJson],
    sampling: Option<&SamplingJson>,
    out: &mut Vec<String>,
) {
    out.push(format!("    Stack Processes: {}", processes.len()));
    if let Some(s) = sampling {
        out.push(format!("    Sampling: {}", printable(&s.line)));
    }
    for p in processes.iter().take(MAX_STACK_PROCESSES) {
        let footprint = p
            .footprint_mb
            .map_or_else(|| "?".to_string(), |mb| format!("{mb:.1}MB"));
        out.push(format!(
            "      {} [{}] ({footprint}), {}",
            cut(&p.name, 40),
            p.pid,
            plural(p.threads.len() as u64, "thread", "threads")
        ));
        for t in p.threads.iter().take(MAX_THREADS) {
            let mut line = format!(
                "        Thread {}: {} ({})",
                printable(&t.thread_id),
                plural(
                    t.num_samples.unwrap_or(0).max(0) as u64,
                    "sample",
                    "samples"
                ),
                t.name.as_deref().map_or("unnamed".into(), printable)
            );
            if let Some(state) = &t.state {
                line.push_str(&format!(", {}", printable(state)));
            }
            if let Some(w) = t.wchan.as_deref().filter(|w| !w.is_empty() && *w != "0") {
                line.push_str(&format!(" in {}", printable(w)));
            }
            out.push(line);
            out.extend(profile_view::thread_tree(&t.frames, "          "));
        }
        if p.threads.len() > MAX_THREADS {
            out.push(format!(
                "        {} (--json lists them all)",
                and_more((p.threads.len() - MAX_THREADS) as u64, "thread", "threads")
            ));
        }
    }
    if processes.len() > MAX_STACK_PROCESSES {
        out.push(format!(
            "      {} (--json lists them all)",
            and_more(
                (processes.len() - MAX_STACK_PROCESSES) as u64,
                "process",
                "processes"
            )
        ));
    }
}

fn render_logs(entries: &[LogEntry], out: &mut Vec<String>) {
    if entries.len() > MAX_LOG_LINES {
        out.push(format!(
            "    Log Entries: {} (the first {MAX_LOG_LINES}; --json has them all)",
            entries.len()
        ));
    } else {
        out.push(format!("    Log Entries: {}", entries.len()));
    }
    for l in entries.iter().take(MAX_LOG_LINES) {
        let source = l
            .subsystem
            .as_deref()
            .or(l.process_name.as_deref())
            .or(l.source.as_deref())
            .unwrap_or("system");
        out.push(format!(
            "      [{}] {}: {}",
            cut(&l.timestamp, 19),
            cut(source, 40),
            cut(&l.event_message, 80)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::queries::PartState;

    #[test]
    fn a_null_status_reads_pending_and_decode_shows_only_where_it_exists() {
        let none = PartState {
            status: None,
            error: None,
        };
        let row = CaptureRow {
            id: 1,
            event_id: 1,
            captured_at: 1000.0,
            trigger: Trigger::Manual.into(),
            triggers: vec!["manual".into()],
            stack_source: None,
            completed_at: None,
            buffer: PartState {
                status: Some(PartStatus::Skipped),
                error: Some("no buffer".into()),
            },
            stacks: none.clone(),
            decode: none.clone(),
            logs: none,
        };
        let j = capture_json(&row);
        assert_eq!(j.parts[&CapturePart::Stacks].status, PartStatus::Pending);
        assert_eq!(
            j.parts[&CapturePart::Buffer].error.as_deref(),
            Some("no buffer")
        );
        assert!(!j.parts.contains_key(&CapturePart::Decode));
        assert_eq!(
            part_line("Buffer", &j.parts[&CapturePart::Buffer], None),
            "    Buffer: skipped: no buffer"
        );
    }
}
