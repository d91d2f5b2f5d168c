//! The page's sections: the summary, the event's timeline, and one section per capture (its
//! parts, the ring buffer's charts, the flame graph slot, the hottest paths, the threads and
//! the system log).

use super::chart::{self, Chart, HLine, Mark, Series, Unit, XAxis};
use super::{Clock, Options, esc, thresholds};
use crate::forensics::flame_tree::heaviest_chain;
use crate::model::PartStatus;
use crate::report::evidence::{CaptureEvidence, EventEvidence};
use crate::report::series::{CaptureCharts, Layer};
use crate::report::slots;
use crate::store::LogEntry;
use crate::store::capture_data::{Frame, StackThread};
use crate::store::queries::PartState;
use std::fmt::Write as _;

/// Log lines shown per capture (those nearest the trigger); threads per stack process.
pub const MAX_LOG_LINES: usize = 1000;
pub const MAX_THREADS: usize = 200;
/// Frames of a thread's heaviest path shown in the threads table.
const HEAVIEST_FRAMES: usize = 4;

const NOT_RECORDED: &str = "<span class=\"missing\">not recorded</span>";

fn row(out: &mut String, name: &str, value_html: &str) {
    let _ = write!(out, "<dt>{}</dt><dd>{value_html}</dd>", esc(name));
}

fn duration(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0)
    } else {
        0.0
    };
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h {:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// `success`, `failed: why` as a badge and text.
fn part_html(p: &PartState) -> String {
    let status = p.status.unwrap_or(PartStatus::Pending);
    let mut s = format!("<span class=\"status st-{0}\">{0}</span>", status.as_str());
    if let Some(e) = p.error.as_deref().filter(|e| !e.is_empty()) {
        let _ = write!(s, " {}", esc(e));
    }
    s
}

fn parts_line(c: &CaptureEvidence) -> String {
    let cap = &c.capture;
    let mut parts = vec![
        ("buffer", &cap.buffer),
        ("stacks", &cap.stacks),
        ("logs", &cap.logs),
    ];
    if cap.decode.status.is_some() || cap.decode.error.is_some() {
        parts.push(("decode", &cap.decode));
    }
    parts
        .into_iter()
        .map(|(name, p)| {
            let st = p.status.unwrap_or(PartStatus::Pending);
            format!(
                "{name} <span class=\"status st-{0}\">{0}</span>",
                st.as_str()
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Members of the culprit's unit shown at most.
const MEMBERS_SHOWN: usize = 12;

/// The unit's members at the peak: pid, name, score, CPU and memory, busiest first.
fn members(ev: &EventEvidence) -> String {
    let mut s = String::from("<ul class=\"members\">");
    for p in ev.members.iter().take(MEMBERS_SHOWN) {
        let _ = write!(
            s,
            "<li>{} <b>{}</b> · score {} · {:.0} % CPU · {}</li>",
            p.pid,
            esc(&p.command),
            p.score,
            p.cpu,
            chart::bytes(p.mem as f64)
        );
    }
    if ev.members.len() > MEMBERS_SHOWN {
        let _ = write!(
            s,
            "<li>… and {} more</li>",
            ev.members.len() - MEMBERS_SHOWN
        );
    }
    s.push_str("</ul>");
    s
}

/// The summary at the top.
pub fn summary(out: &mut String, ev: &EventEvidence, clock: Clock, _opts: &Options) {
    let e = &ev.event;
    out.push_str("<section id=\"summary\"><h2>Summary</h2><dl class=\"summary\">");
    row(
        out,
        "Culprit",
        &format!("<b>{}</b> (pid {})", esc(&e.culprit()), e.pid),
    );
    row(
        out,
        "Unit",
        &match &ev.unit {
            Some(u) if u.label.is_empty() && u.members <= 1 => "a single process".to_string(),
            Some(u) if u.label.is_empty() => format!("{} processes", u.members),
            Some(u) => format!(
                "{} · {} member{}",
                esc(&u.label),
                u.members,
                if u.members == 1 { "" } else { "s" }
            ),
            None => NOT_RECORDED.to_string(),
        },
    );
    if !ev.members.is_empty() {
        row(out, "Members at the peak", &members(ev));
    }
    if let Some(start) = e.start_time {
        row(out, "Process started", &clock.datetime(start));
    }
    row(
        out,
        "Entered",
        &format!(
            "{} in <span class=\"badge band-{1}\">{1}</span>",
            clock.datetime(e.entry_time),
            e.entry_band
        ),
    );
    match e.exit_time {
        Some(x) => {
            let reason = e
                .exit_reason
                .map(|r| format!(" ({})", r.as_str().replace('_', " ")))
                .unwrap_or_default();
            row(
                out,
                "Ended",
                &format!("{}{}", clock.datetime(x), esc(&reason)),
            );
            row(out, "Duration", &duration(x - e.entry_time));
        }
        None => row(
            out,
            "Ended",
            "<span class=\"missing\">still open when the report was made</span>",
        ),
    }
    row(
        out,
        "Peak",
        &format!(
            "<span class=\"badge band-{0}\">{1} {0}</span>",
            e.peak_band, e.peak_score
        ),
    );
    row(
        out,
        "Dominant resource",
        &match &ev.peak {
            // Under the impact model (rows with a reason) the figure is the culprit's blame,
            // its share of what was consumed; under fair-share a multiple of the fair share.
            Some(p) if !p.process.reason.is_empty() => format!(
                "{} — {:.0} % of it was this culprit's at the peak",
                p.process.dominant_resource,
                p.process.disproportionality * 100.0
            ),
            Some(p) => format!(
                "{} — {:.2}× its fair share at the peak",
                p.process.dominant_resource, p.process.disproportionality
            ),
            None => NOT_RECORDED.to_string(),
        },
    );
    row(
        out,
        "Why",
        &match &ev.reason {
            Some(r) => esc(r),
            None => NOT_RECORDED.to_string(),
        },
    );
    row(
        out,
        "Snapshots",
        &format!("{} (entry, peaks, checkpoints, exit)", ev.snapshots.len()),
    );
    let mut caps = format!("{}", ev.captures.len());
    if !ev.captures.is_empty() {
        caps.push_str("<ul class=\"plain\">");
        for c in &ev.captures {
            let _ = write!(
                caps,
                "<li><a href=\"#capture-{0}\">#{0}</a> {1} at {2}: {3}</li>",
                c.capture.id,
                esc(&c.capture.trigger.to_string()),
                clock.clock(c.capture.captured_at),
                parts_line(c)
            );
        }
        caps.push_str("</ul>");
    }
    row(out, "Captures", &caps);
    out.push_str("</dl></section>");
}

/// The culprit's score and resources over the event.
pub fn timeline(out: &mut String, ev: &EventEvidence, opts: &Options) {
    out.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    let tl = &ev.timeline;
    if tl.t.is_empty() {
        out.push_str("<p class=\"missing\">No snapshots recorded for this event.</p></section>");
        return;
    }
    let axis = XAxis::Clock {
        offset: opts.utc_offset,
    };
    let marks: Vec<Mark> = ev
        .captures
        .iter()
        .map(|c| Mark {
            x: c.capture.captured_at,
            label: format!("capture #{}", c.capture.id),
            class: "capture".into(),
        })
        .collect();
    let note = (tl.per_point > 1).then(|| {
        format!(
            "{} snapshots; each point is the highest of {} in a row.",
            tl.snapshots, tl.per_point
        )
    });
    let line = |id: &str, title: &str, unit: Unit, values: &'_ [f64]| -> String {
        chart::render(&Chart {
            id: format!("timeline-{id}"),
            title: title.to_string(),
            unit,
            x: &tl.t,
            x_axis: axis,
            series: vec![Series {
                label: ev.event.command.clone(),
                values,
                class: "culprit".into(),
            }],
            stacked: false,
            y_at_least: 0.0,
            hlines: Vec::new(),
            marks: marks.clone(),
            group: "timeline".into(),
            height: 110,
            note: None,
        })
    };
    out.push_str(&chart::render(&Chart {
        id: "timeline-score".into(),
        title: "Score".into(),
        unit: Unit::Score,
        x: &tl.t,
        x_axis: axis,
        series: vec![Series {
            label: ev.event.command.clone(),
            values: &tl.score,
            class: "culprit".into(),
        }],
        stacked: false,
        y_at_least: 100.0,
        hlines: thresholds(&opts.bands)
            .into_iter()
            .map(|(band, y)| HLine {
                y: f64::from(y),
                label: format!("{band} {y}"),
                class: format!("band-{band}"),
            })
            .collect(),
        marks: marks.clone(),
        group: "timeline".into(),
        height: 170,
        note,
    }));
    out.push_str("<div class=\"grid2\">");
    out.push_str(&line("cpu", "CPU (cores)", Unit::Cores, &tl.cpu));
    out.push_str(&line("mem", "Memory", Unit::Bytes, &tl.mem));
    out.push_str(&line("disk", "Disk I/O", Unit::Rate, &tl.disk));
    out.push_str(&line("wakeups", "Wakeups", Unit::PerSec, &tl.wakeups));
    out.push_str("</div></section>");
}

/// One capture's section.
pub fn capture(out: &mut String, ev: &EventEvidence, c: &CaptureEvidence, clock: Clock) {
    let cap = &c.capture;
    let _ = write!(
        out,
        "<section class=\"capture\" id=\"capture-{0}\"><h2>Capture #{0} · {1} · {2}</h2>",
        cap.id,
        esc(&cap.trigger.to_string()),
        clock.clock_ms(cap.captured_at)
    );
    if cap.triggers.len() > 1 {
        let _ = write!(
            out,
            "<p>Also answered: {}</p>",
            esc(&cap.triggers[1..].join("; "))
        );
    }
    out.push_str("<table class=\"parts\"><tr><th>Part</th><th>Status</th></tr>");
    let source = cap
        .stack_source
        .as_deref()
        .map(|s| format!(" ({})", esc(s)));
    let _ = write!(
        out,
        "<tr><td>Ring buffer</td><td>{}</td></tr><tr><td>Stacks{}</td><td>{}</td></tr><tr><td>System log</td><td>{}</td></tr>",
        part_html(&cap.buffer),
        source.unwrap_or_default(),
        part_html(&cap.stacks),
        part_html(&cap.logs)
    );
    if cap.decode.status.is_some() || cap.decode.error.is_some() {
        let _ = write!(
            out,
            "<tr><td>Decode</td><td>{}</td></tr>",
            part_html(&cap.decode)
        );
    }
    out.push_str("</table>");
    match cap.completed_at {
        Some(done) => {
            let after = done - cap.captured_at;
            let _ = write!(
                out,
                "<p class=\"meta\">Completed {}{}.</p>",
                clock.datetime(done),
                if (0.0..3600.0).contains(&after) {
                    format!(" ({after:.1} s after the trigger)")
                } else {
                    String::new()
                }
            );
        }
        None => out.push_str(
            "<p class=\"missing\">In progress: the daemon was still writing this capture when \
             the report was made; make the report again for the rest.</p>",
        ),
    }
    buffer(out, ev, c);
    flame(out, c);
    hot(out, c);
    threads(out, c);
    logs(out, c, clock);
    out.push_str("</section>");
}

fn layer_series(layers: &[Layer]) -> Vec<Series<'_>> {
    let mut palette = 0;
    layers
        .iter()
        .map(|l| Series {
            label: l.label.clone(),
            values: &l.values,
            class: if l.culprit {
                "culprit".into()
            } else if l.pid.is_none() {
                "other".into()
            } else {
                palette += 1;
                format!("c{}", (palette - 1) % 8)
            },
        })
        .collect()
}

fn buffer(out: &mut String, ev: &EventEvidence, c: &CaptureEvidence) {
    let cap = &c.capture;
    out.push_str("<h3>Ring buffer</h3>");
    let Some(charts) = &c.charts else {
        let status = cap.buffer.status;
        let why = cap.buffer.error.as_deref().unwrap_or("");
        let text = match status {
            None | Some(PartStatus::Pending) => {
                "not stored yet: the capture is still being written".to_string()
            }
            Some(PartStatus::Success) => "not read for this report".to_string(),
            Some(s) => format!(
                "not stored: the buffer part {}{}",
                s.as_str(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                }
            ),
        };
        let _ = write!(out, "<p class=\"missing\">Ring buffer {}.</p>", esc(&text));
        return;
    };
    buffer_charts(out, ev, c, charts);
}

fn buffer_charts(out: &mut String, ev: &EventEvidence, c: &CaptureEvidence, ch: &CaptureCharts) {
    let cap = &c.capture;
    let mut meta = format!(
        "{} samples over {:.1} s, {} process rows",
        ch.samples, c.buffer_span, ch.rows
    );
    if ch.per_point > 1 {
        let _ = write!(meta, "; each point averages {} samples", ch.per_point);
    }
    let _ = write!(
        out,
        "<p class=\"meta\">{}. Time is relative to the trigger.</p>",
        esc(&meta)
    );
    let group = format!("capture-{}", cap.id);
    let trigger = vec![Mark {
        x: 0.0,
        label: "trigger".into(),
        class: "trigger".into(),
    }];
    let stacked = |id: &str, title: &str, unit: Unit, layers: &[Layer]| {
        chart::render(&Chart {
            id: format!("{group}-{id}"),
            title: title.to_string(),
            unit,
            x: &ch.t,
            x_axis: XAxis::Relative,
            series: layer_series(layers),
            stacked: true,
            y_at_least: 0.0,
            hlines: Vec::new(),
            marks: trigger.clone(),
            group: group.clone(),
            height: 180,
            note: None,
        })
    };
    out.push_str(&stacked(
        "cpu",
        "CPU by process (cores)",
        Unit::Cores,
        &ch.cpu,
    ));
    out.push_str(&stacked("mem", "Memory by process", Unit::Bytes, &ch.mem));
    match &ch.pressure {
        Some(p) => {
            let series = vec![
                Series {
                    label: "cpu".into(),
                    values: &p.cpu,
                    class: "c0".into(),
                },
                Series {
                    label: "memory".into(),
                    values: &p.memory,
                    class: "c1".into(),
                },
                Series {
                    label: "io".into(),
                    values: &p.io,
                    class: "c2".into(),
                },
            ];
            out.push_str(&chart::render(&Chart {
                id: format!("{group}-pressure"),
                title: if p.estimated {
                    "Machine pressure (estimated: no PSI)".into()
                } else {
                    "Machine pressure (PSI some)".into()
                },
                unit: Unit::Percent,
                x: &ch.t,
                x_axis: XAxis::Relative,
                series,
                stacked: false,
                y_at_least: 10.0,
                hlines: Vec::new(),
                marks: trigger.clone(),
                group: group.clone(),
                height: 110,
                note: None,
            }));
        }
        None => out.push_str(
            "<p class=\"missing\">Machine pressure: not recorded (this database stores no \
             machine state with its samples).</p>",
        ),
    }
    if let Some(ctx) = &c.buffer
        && !ctx.culprits.is_empty()
    {
        out.push_str("<p class=\"meta\">Culprits the daemon named: ");
        let names: Vec<String> = ctx
            .culprits
            .iter()
            .map(|k| {
                format!(
                    "{} ({}) score {}, {} {:.2}×",
                    esc(&k.command),
                    k.pid,
                    k.score,
                    esc(&k.dominant_resource.to_string()),
                    k.disproportionality
                )
            })
            .collect();
        out.push_str(&names.join("; "));
        out.push_str("</p>");
    }
    out.push_str(
        "<h4>Processes that stood out</h4><div class=\"scroll\"><table class=\"procs\"><tr><th>PID</th>\
         <th>Process</th><th>Max score</th><th>CPU mean</th><th>CPU max</th><th>Memory max</th>\
         <th>Disk max</th><th>Wakeups max</th><th>Samples</th></tr>",
    );
    for p in &ch.top {
        let _ = write!(
            out,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{:.1} %</td><td>{:.1} %</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if p.culprit {
                " class=\"culprit-row\""
            } else {
                ""
            },
            p.pid,
            esc(&p.command),
            p.max_score,
            p.mean_cpu,
            p.max_cpu,
            chart::bytes(p.max_mem as f64),
            chart::format_value(Unit::Rate, p.max_disk_rate),
            chart::format_value(Unit::PerSec, p.max_wakeups_rate),
            p.samples
        );
    }
    out.push_str("</table></div>");
    let _ = ev;
}

fn flame(out: &mut String, c: &CaptureEvidence) {
    out.push_str("<h3>Flame graph</h3>");
    match slots::flame_graph(&c.stacks, &format!("fg{}", c.capture.id)) {
        Some(svg) => {
            let _ = write!(out, "<figure class=\"flame\">{svg}</figure>");
        }
        None if c.stacks.processes.is_empty() => {
            out.push_str("<p class=\"missing\">Flame graph: not recorded (no stacks stored).</p>")
        }
        None => out.push_str(
            "<p class=\"missing\">Flame graph: not recorded (this version stores no profile); \
             the stacks it sampled are below as hottest paths and threads.</p>",
        ),
    }
}

fn hot(out: &mut String, c: &CaptureEvidence) {
    if c.hot.is_empty() {
        return;
    }
    out.push_str("<h3>Hottest stack paths</h3><ol class=\"hot\">");
    for p in &c.hot {
        let _ = write!(
            out,
            "<li><b>{:.0} %</b> ({} samples) <code>{}</code> <span class=\"meta\">{} ({}), thread {}</span></li>",
            p.percent,
            p.samples,
            esc(&p.frames.join(" ← ")),
            esc(&p.process),
            p.pid,
            esc(&p.thread_id)
        );
    }
    out.push_str("</ol>");
}

/// The heaviest path of a thread's call tree, innermost first, at most `n` frames.
fn heaviest(frames: &[Frame], n: usize) -> String {
    let names: Vec<String> = heaviest_chain(frames)
        .into_iter()
        .rev()
        .take(n)
        .map(|i| {
            let f = &frames[i];
            f.symbol_name.clone().unwrap_or_else(|| f.address.clone())
        })
        .collect();
    names.join(" ← ")
}

fn thread_row(out: &mut String, t: &StackThread) {
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td class=\"state st-{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
        esc(&t.thread_id),
        esc(t
            .thread_name
            .as_deref()
            .or(t.dispatch_queue_name.as_deref())
            .unwrap_or("")),
        esc(t.state.as_deref().unwrap_or("unknown")),
        esc(t.state.as_deref().unwrap_or("")),
        t.num_samples.map_or(String::new(), |n| n.to_string()),
        esc(t.wchan.as_deref().unwrap_or("")),
        esc(t.syscall.as_deref().unwrap_or("")),
        esc(&heaviest(&t.frames, HEAVIEST_FRAMES))
    );
}

fn threads(out: &mut String, c: &CaptureEvidence) {
    out.push_str("<h3>Threads</h3>");
    if c.stacks.processes.is_empty() {
        out.push_str("<p class=\"missing\">No stacks stored.</p>");
        return;
    }
    for p in &c.stacks.processes {
        let _ = write!(
            out,
            "<h4>{} ({}) · {} thread{}</h4><div class=\"scroll\"><table class=\"threads\"><tr><th>Thread</th>\
             <th>Name</th><th>State</th><th>Samples</th><th>Waiting in</th><th>Syscall</th>\
             <th>Heaviest path (innermost first)</th></tr>",
            esc(&p.name),
            p.pid,
            p.threads.len(),
            if p.threads.len() == 1 { "" } else { "s" }
        );
        for t in p.threads.iter().take(MAX_THREADS) {
            thread_row(out, t);
        }
        out.push_str("</table></div>");
        if p.threads.len() > MAX_THREADS {
            let _ = write!(
                out,
                "<p class=\"meta\">… and {} more threads.</p>",
                p.threads.len() - MAX_THREADS
            );
        }
    }
}

/// A log line's level as a class: bad, warn, info or dim.
fn level_class(level: &str) -> &'static str {
    match level.to_ascii_lowercase().as_str() {
        "emerg" | "alert" | "crit" | "err" | "error" | "fault" => "bad",
        "warning" | "warn" => "warn",
        "debug" | "trace" => "dim",
        _ => "info",
    }
}

fn seconds_of(timestamp: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(timestamp)
        .ok()
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
}

fn logs(out: &mut String, c: &CaptureEvidence, clock: Clock) {
    out.push_str("<h3>System log</h3>");
    if c.logs.is_empty() {
        out.push_str("<p class=\"missing\">No log lines stored.</p>");
        return;
    }
    let at = c.capture.captured_at;
    // The lines nearest the trigger, kept in time order.
    let mut chosen: Vec<(usize, &LogEntry)> = c.logs.iter().enumerate().collect();
    if chosen.len() > MAX_LOG_LINES {
        chosen.sort_by(|a, b| {
            let d = |e: &LogEntry| seconds_of(&e.timestamp).map_or(f64::MAX, |t| (t - at).abs());
            d(a.1).total_cmp(&d(b.1))
        });
        chosen.truncate(MAX_LOG_LINES);
        chosen.sort_by_key(|(i, _)| *i);
        let _ = write!(
            out,
            "<p class=\"meta\">The {MAX_LOG_LINES} lines nearest the trigger of {}.</p>",
            c.logs.len()
        );
    }
    out.push_str(
        "<div class=\"scroll\"><table class=\"logs\"><tr><th>Time</th><th>Level</th><th>Source</th><th>Message</th></tr>",
    );
    for (_, l) in chosen {
        let level = l.message_type.as_deref().unwrap_or("");
        let when = match seconds_of(&l.timestamp) {
            Some(t) => format!(
                "{} <span class=\"meta\">{}</span>",
                clock.clock_ms(t),
                chart::format_x(XAxis::Relative, t - at)
            ),
            None => esc(&l.timestamp),
        };
        let source = l
            .subsystem
            .as_deref()
            .or(l.process_name.as_deref())
            .or(l.source.as_deref())
            .unwrap_or("system");
        let _ = write!(
            out,
            "<tr class=\"lv-{}\"><td>{when}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            level_class(level),
            esc(level),
            esc(source),
            esc(&l.event_message)
        );
    }
    out.push_str("</table></div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(parent: Option<usize>, count: i64, sym: &str) -> Frame {
        Frame {
            parent,
            sample_count: count,
            symbol_name: Some(sym.into()),
            address: "0x1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_heaviest_path_reads_innermost_first() {
        let frames = vec![
            frame(None, 5, "main"),
            frame(Some(0), 1, "light"),
            frame(Some(0), 4, "heavy"),
            frame(Some(2), 4, "leaf"),
        ];
        assert_eq!(heaviest(&frames, 8), "leaf ← heavy ← main");
        assert_eq!(heaviest(&frames, 2), "leaf ← heavy");
        assert_eq!(heaviest(&[], 3), "");
    }

    #[test]
    fn levels_and_durations_read_plainly() {
        assert_eq!(level_class("err"), "bad");
        assert_eq!(level_class("Warning"), "warn");
        assert_eq!(level_class("info"), "info");
        assert_eq!(level_class(""), "info");
        assert_eq!(duration(47.84), "47.8 s");
        assert_eq!(duration(125.0), "2m 05s");
        assert_eq!(duration(7300.0), "2h 01m");
    }
}
