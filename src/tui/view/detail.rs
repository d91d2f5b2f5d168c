//! The detail view of a process (every field of its latest reading, its event and captures)
//! or the event view (its summary and reason, the score's sparkline over its snapshots, the
//! peak reading, its captures with each part's status, the hottest stack paths and the log
//! lines). Scrolls when it does not fit; `Tab` chooses the capture `r` replays.

use super::Theme;
use crate::model::ProcessScore;
use crate::store::LogEntry;
use crate::store::queries::{CaptureRow, EventRow, PartState, SnapshotRow};
use crate::tui::app::{App, Clock, DbState, Detail, DetailTarget};
use crate::tui::format;
use crate::tui::history::{CaptureLogs, DbProblem, EventRecord, HotCapture};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// Narrowest name/value pair in the field grid.
const FIELD_MIN_WIDTH: usize = 36;
/// Wide enough for the longest field name (`qos_interactive_rate`).
const NAME_WIDTH: usize = 20;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, d: &Detail, theme: &Theme) {
    let title = match &d.target {
        DetailTarget::Process { process, .. } => {
            format!(" PROCESS {} {} ", process.pid, process.command)
        }
        DetailTarget::Event { id, row } => format!(
            " EVENT #{id} {}",
            row.as_ref()
                .map_or(String::new(), |r| format!("{} ", r.command))
        ),
    };
    let block = Block::bordered()
        .title(super::clip(
            &title,
            usize::from(area.width.saturating_sub(4)),
        ))
        .border_style(Style::default().add_modifier(Modifier::BOLD));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let all = lines(app, d, usize::from(inner.width), theme);
    let height = usize::from(inner.height);
    let scroll = d.scroll.min(all.len().saturating_sub(height));
    let shown: Vec<Line> = all.into_iter().skip(scroll).take(height).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

/// Every line of the view, for a width.
pub fn lines(app: &App, d: &Detail, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let bold = Style::default().add_modifier(Modifier::BOLD);
    match &d.target {
        DetailTarget::Process {
            process, in_stream, ..
        } => {
            let p = process.as_ref();
            out.push(Line::from(vec![
                Span::styled(
                    p.command.clone(),
                    theme.score(p.score).add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!(
                    "  pid {}  ppid {}  uid {}  started {}",
                    p.pid,
                    p.ppid,
                    p.uid,
                    app.clock.datetime(p.start_time)
                )),
            ]));
            out.push(Line::from(vec![
                Span::raw("score "),
                Span::styled(format!("{} {}", p.score, p.band), theme.score(p.score)),
                Span::raw(format!(
                    " · dominant {} {} · {}",
                    format::resource_label(p.dominant_resource),
                    format::share(p.disproportionality),
                    if *in_stream {
                        format!("in the latest sample ({})", app.clock.hms(p.captured_at))
                    } else {
                        format!(
                            "no longer in the list (last seen {})",
                            app.clock.hms(p.captured_at)
                        )
                    }
                )),
            ]));
            if !p.reason.is_empty() {
                let unit = if p.members > 1 {
                    format!(" (its unit: {} processes)", p.members)
                } else {
                    String::new()
                };
                out.push(Line::from(vec![
                    Span::raw("why "),
                    Span::styled(p.reason.clone(), theme.score(p.score)),
                    Span::raw(unit),
                ]));
            }
            out.push(section("Fields", width, bold));
            out.extend(field_grid(&fields(p, app.clock), width));
            out.push(section("Event", width, bold));
            match &d.record {
                DbState::Loading => out.push(Line::from("reading the database…")),
                DbState::Problem(p) => out.push(problem_line(p)),
                DbState::Ready(None) => out.push(Line::from(
                    "no event recorded: the process has not reached the tracking band",
                )),
                DbState::Ready(Some(rec)) => {
                    out.extend(event_lines(&rec.event, app, theme));
                    out.extend(capture_lines(rec, d, app, width, bold));
                }
            }
        }
        DetailTarget::Event { id, row } => {
            match row {
                Some(row) => out.extend(event_lines(row, app, theme)),
                None => out.push(Line::from(Span::styled(format!("event #{id}"), bold))),
            }
            match &d.record {
                DbState::Loading => out.push(Line::from("reading the database…")),
                DbState::Problem(p) => out.push(problem_line(p)),
                DbState::Ready(None) => {
                    out.push(Line::from("the event is no longer in the database"))
                }
                DbState::Ready(Some(rec)) => {
                    // What a person looks for first comes first: why, how it went, the
                    // evidence; the readings follow.
                    out.push(reason_line(rec.reason.as_deref()));
                    out.extend(score_lines(&rec.snapshots, width, bold, theme));
                    out.extend(capture_lines(rec, d, app, width, bold));
                    if let Some(logs) = &rec.logs {
                        out.extend(log_lines(logs, width, bold, theme));
                    }
                    out.extend(snapshot_lines(&rec.snapshots, app, width, bold, theme));
                    if let Some(peak) = &rec.peak {
                        out.push(section("At the peak", width, bold));
                        out.extend(field_grid(&fields(peak, app.clock), width));
                    }
                }
            }
        }
    }
    out
}

fn problem_line(p: &DbProblem) -> Line<'static> {
    match p {
        DbProblem::Missing => Line::from("no database yet: the daemon creates it"),
        DbProblem::Error(e) => Line::from(format!("cannot read the database: {e}")),
    }
}

fn section(name: &str, width: usize, style: Style) -> Line<'static> {
    let head = format!("── {name} ");
    let rest = width.saturating_sub(head.chars().count());
    Line::from(Span::styled(format!("{head}{}", "─".repeat(rest)), style))
}

fn event_lines(e: &EventRow, app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let end = e.exit_time.unwrap_or(app.wall_now);
    let dur = format::duration(end - e.entry_time);
    let state = match (e.exit_time, e.exit_reason) {
        (None, _) => format!("open for {dur}"),
        (Some(x), reason) => format!(
            "ended {} after {dur}{}",
            app.clock.hms(x),
            reason.map_or(String::new(), |r| format!(" ({r})"))
        ),
    };
    let captures = match e.capture_count {
        1 => "1 capture".to_string(),
        n => format!("{n} captures"),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("event #{}", e.id),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                " · {} ({}) · entered {} in {}",
                e.culprit(),
                e.pid,
                app.clock.datetime(e.entry_time),
                e.entry_band
            )),
        ]),
        Line::from(vec![
            Span::raw(format!("{state} · peak ")),
            Span::styled(
                format!("{} {}", e.peak_score, e.peak_band),
                theme.band(e.peak_band).add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(" · {captures}")),
        ]),
    ];
    if let Some(r) = &e.reason {
        lines.push(Line::from(vec![
            Span::raw("why "),
            Span::styled(r.clone(), theme.band(e.peak_band)),
        ]));
    }
    lines
}

/// Snapshots shown one per line; the sparkline covers all of them.
const SNAPSHOT_LINES: usize = 12;
/// Log lines shown (the newest).
const LOG_LINES: usize = 20;
const SPARK_GLYPHS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn reason_line(reason: Option<&str>) -> Line<'static> {
    match reason {
        Some(r) => Line::from(format!("why: {r}")),
        None => Line::from(Span::styled(
            "why: not recorded by this version",
            Style::default().add_modifier(Modifier::DIM),
        )),
    }
}

/// The culprit's score over the event as one line of block glyphs (0 to 100), each column the
/// highest score of its share of the snapshots so no peak is lost.
pub fn score_spark(scores: &[u8], width: usize) -> String {
    if scores.is_empty() || width == 0 {
        return String::new();
    }
    let cols = scores.len().min(width);
    (0..cols)
        .map(|c| {
            let a = c * scores.len() / cols;
            let b = ((c + 1) * scores.len() / cols).max(a + 1);
            let top = scores[a..b].iter().copied().max().unwrap_or(0);
            let level = usize::from(top.min(100)) * (SPARK_GLYPHS.len() - 1) / 100;
            SPARK_GLYPHS[level]
        })
        .collect()
}

/// The score's sparkline over the event's snapshots.
fn score_lines(
    snaps: &[SnapshotRow],
    width: usize,
    bold: Style,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut out = vec![section(
        &format!("Score over the event ({} snapshots)", snaps.len()),
        width,
        bold,
    )];
    if snaps.is_empty() {
        out.push(Line::from("no snapshots recorded"));
        return out;
    }
    let scores: Vec<u8> = snaps.iter().map(|s| s.process.score).collect();
    let peak = scores.iter().copied().max().unwrap_or(0);
    out.push(Line::from(vec![
        Span::styled(
            score_spark(&scores, width.saturating_sub(12)),
            theme.score(peak),
        ),
        Span::raw(format!("  max {peak}")),
    ]));
    out
}

/// The first snapshots, one per line.
fn snapshot_lines(
    snaps: &[SnapshotRow],
    app: &App,
    width: usize,
    bold: Style,
    theme: &Theme,
) -> Vec<Line<'static>> {
    if snaps.is_empty() {
        return Vec::new();
    }
    let mut out = vec![section("Snapshots", width, bold)];
    for s in snaps.iter().take(SNAPSHOT_LINES) {
        let p = &s.process;
        out.push(Line::from(vec![
            Span::raw(format!(
                "{} {:<10} ",
                app.clock.hms(s.captured_at),
                s.snapshot_type
            )),
            Span::styled(
                format!("{:>3} {:<9}", p.score, p.band),
                theme.score(p.score),
            ),
            Span::raw(format!(
                " cpu {} mem {} {}",
                format::cpu(p.cpu).trim(),
                format::mem(p.mem).trim(),
                format::dominant(p.dominant_resource, p.disproportionality)
            )),
        ]));
    }
    if snaps.len() > SNAPSHOT_LINES {
        out.push(Line::from(Span::styled(
            format!(
                "… {} more (rogue-hunter events show ID lists them)",
                snaps.len() - SNAPSHOT_LINES
            ),
            Style::default().add_modifier(Modifier::DIM),
        )));
    }
    out
}

fn log_lines(logs: &CaptureLogs, width: usize, bold: Style, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![section(
        &format!(
            "Log lines (capture #{}, newest {} of {})",
            logs.capture_id,
            logs.entries.len().min(LOG_LINES),
            logs.entries.len()
        ),
        width,
        bold,
    )];
    let skip = logs.entries.len().saturating_sub(LOG_LINES);
    for e in &logs.entries[skip..] {
        out.push(log_line(e, width, theme));
    }
    out
}

fn log_line(e: &LogEntry, width: usize, theme: &Theme) -> Line<'static> {
    let time = e.timestamp.get(11..19).unwrap_or(&e.timestamp).to_string();
    let level = e.message_type.clone().unwrap_or_default();
    let bad = matches!(
        level.to_ascii_lowercase().as_str(),
        "err" | "error" | "crit" | "alert" | "emerg" | "fault"
    );
    let who = e.process_name.clone().unwrap_or_default();
    let head = format!("{time} {level:<7} {who}: ");
    let room = width.saturating_sub(head.chars().count());
    let msg = super::clip(&e.event_message.replace(['\n', '\r'], " "), room);
    Line::from(vec![
        Span::styled(head, if bad { theme.bad } else { theme.dim }),
        Span::raw(msg),
    ])
}

fn capture_lines(
    rec: &EventRecord,
    d: &Detail,
    app: &App,
    width: usize,
    bold: Style,
) -> Vec<Line<'static>> {
    let mut out = vec![section(
        &format!("Captures ({})", rec.captures.len()),
        width,
        bold,
    )];
    if rec.captures.is_empty() {
        out.push(Line::from("none yet (press c to take one)"));
    } else {
        out.push(Line::from(Span::styled(
            "Tab chooses a capture · r replays its ring buffer",
            Style::default().add_modifier(Modifier::DIM),
        )));
    }
    let chosen = d.chosen_capture().map(|c| c.id);
    for c in &rec.captures {
        let (head, parts) = capture_text(c, app.clock);
        let mark = if chosen == Some(c.id) { "▶ " } else { "  " };
        out.push(Line::from(Span::styled(
            format!("{mark}{head}"),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        out.push(Line::from(format!("    {parts}")));
    }
    if let Some(hot) = &rec.hot {
        out.push(section(
            &format!("Hottest paths (capture #{})", hot.capture_id),
            width,
            bold,
        ));
        out.extend(hot_lines(hot, width));
    }
    out
}

/// One line per hot path: share, where it ended (innermost frame first), whether it was off
/// the CPU, and the thread.
pub fn hot_lines(hot: &HotCapture, width: usize) -> Vec<Line<'static>> {
    hot.paths
        .iter()
        .map(|p| {
            let off = match p.off_cpu {
                Some(o) if o * 2 > p.samples => " off-CPU",
                Some(_) => " on-CPU",
                None => "",
            };
            let tail = format!("{off}  thread {}", p.thread_id);
            let room = width.saturating_sub(8 + tail.chars().count());
            let frames = super::clip(&p.frames.join(" ← "), room);
            Line::from(vec![
                Span::styled(
                    format!("{:>5.1}% ", p.percent),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!(" {frames}")),
                Span::styled(tail, Style::default().add_modifier(Modifier::DIM)),
            ])
        })
        .collect()
}

fn parts(c: &CaptureRow) -> [(&'static str, &PartState); 4] {
    [
        ("buffer", &c.buffer),
        ("stacks", &c.stacks),
        ("decode", &c.decode),
        ("logs", &c.logs),
    ]
}

/// (`#3 12:04:00 manual (+1 coalesced)`, `buffer ok · stacks failed (why) · logs ok`).
pub fn capture_text(c: &CaptureRow, clock: Clock) -> (String, String) {
    let others = c.triggers.len().saturating_sub(1);
    let mut head = format!("#{} {} {}", c.id, clock.hms(c.captured_at), c.trigger);
    if others > 0 {
        head.push_str(&format!(" (+{others} coalesced)"));
    }
    if c.completed_at.is_none() {
        head.push_str(" · in progress");
    }
    let parts: Vec<String> = parts(c)
        .into_iter()
        .filter_map(|(name, st)| {
            let status = format::part_status(st.status?);
            Some(match st.error.as_deref().filter(|e| !e.is_empty()) {
                Some(e) => format!("{name} {status} ({e})"),
                None => format!("{name} {status}"),
            })
        })
        .collect();
    (head, parts.join(" · "))
}

/// Every field of a reading, as (name, value) in the model's order.
pub fn fields(p: &ProcessScore, clock: Clock) -> Vec<(&'static str, String)> {
    let rate = |v: f64| format!("{v:.2}/s");
    let n = |v: u64| v.to_string();
    let bytes = |v: f64| format::bytes(v, 0);
    vec![
        ("pid", p.pid.to_string()),
        ("command", p.command.clone()),
        ("captured_at", clock.short(p.captured_at)),
        ("cpu", format::cpu(p.cpu).trim().to_string()),
        ("mem", bytes(p.mem as f64)),
        ("mem_peak", bytes(p.mem_peak as f64)),
        ("pageins", n(p.pageins)),
        ("pageins_rate", rate(p.pageins_rate)),
        ("faults", n(p.faults)),
        ("faults_rate", rate(p.faults_rate)),
        ("disk_io", bytes(p.disk_io as f64)),
        ("disk_io_rate", format!("{}/s", bytes(p.disk_io_rate))),
        ("csw", n(p.csw)),
        ("csw_rate", rate(p.csw_rate)),
        ("syscalls", n(p.syscalls)),
        ("syscalls_rate", rate(p.syscalls_rate)),
        ("threads", p.threads.to_string()),
        ("mach_msgs", n(p.mach_msgs)),
        ("mach_msgs_rate", rate(p.mach_msgs_rate)),
        ("instructions", n(p.instructions)),
        ("cycles", n(p.cycles)),
        ("ipc", format!("{:.2}", p.ipc)),
        ("energy", n(p.energy)),
        ("energy_rate", rate(p.energy_rate)),
        ("wakeups", n(p.wakeups)),
        ("wakeups_rate", rate(p.wakeups_rate)),
        ("runnable_time", format!("{} ns", p.runnable_time)),
        (
            "runnable_time_rate",
            format!("{:.2} ms/s", p.runnable_time_rate),
        ),
        ("qos_interactive", n(p.qos_interactive)),
        ("qos_interactive_rate", rate(p.qos_interactive_rate)),
        ("gpu_time", format!("{} ns", p.gpu_time)),
        ("gpu_time_rate", format!("{:.2} ms/s", p.gpu_time_rate)),
        ("zombie_children", p.zombie_children.to_string()),
        ("state", p.state.to_string()),
        ("priority", p.priority.to_string()),
        ("score", p.score.to_string()),
        ("band", p.band.to_string()),
        ("cpu_share", format::share(p.cpu_share)),
        ("gpu_share", format::share(p.gpu_share)),
        ("mem_share", format::share(p.mem_share)),
        ("disk_share", format::share(p.disk_share)),
        ("wakeups_share", format::share(p.wakeups_share)),
        ("disproportionality", format::share(p.disproportionality)),
        ("dominant_resource", p.dominant_resource.to_string()),
        ("ppid", p.ppid.to_string()),
        ("uid", p.uid.to_string()),
        ("start_time", clock.short(p.start_time)),
        ("members", p.members.to_string()),
        ("reason", p.reason.clone()),
    ]
}

/// Name/value pairs in as many columns as fit, filled column by column.
fn field_grid(fields: &[(&'static str, String)], width: usize) -> Vec<Line<'static>> {
    let cols = (width / FIELD_MIN_WIDTH).max(1);
    let rows = fields.len().div_ceil(cols);
    let value_width = (width / cols).saturating_sub(NAME_WIDTH + 1);
    (0..rows)
        .map(|r| {
            let mut spans = Vec::new();
            for c in 0..cols {
                if let Some((name, value)) = fields.get(c * rows + r) {
                    spans.push(Span::styled(
                        format!("{name:<NAME_WIDTH$}"),
                        Style::default().add_modifier(Modifier::DIM),
                    ));
                    spans.push(Span::raw(format!(
                        " {:<value_width$}",
                        super::clip(value, value_width)
                    )));
                }
            }
            Line::from(spans)
        })
        .collect()
}
