//! The header: the stress gauge line, the top culprit with its reason, the machine's state, and
//! the max-score sparkline, in a border whose title shows the connection state and whose colour
//! follows the stress.

use super::Theme;
use crate::tui::app::{App, Conn};
use crate::tui::format;
use crate::tui::gauge::{self, bar_spans};
use crate::tui::sparkline::Sparkline;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    info_rows: u16,
    spark_rows: u16,
    app: &App,
    theme: &Theme,
) {
    let block = Block::bordered()
        .border_style(border_style(app, theme))
        .title(title_left(app, theme))
        .title(title_right(app, theme, area.width).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let gauge = gauge_line(app, theme, usize::from(inner.width));
    frame.render_widget(
        Paragraph::new(gauge),
        Rect::new(inner.x, inner.y, inner.width, 1),
    );
    let info = info_lines(app, theme, usize::from(inner.width));
    let info_rows = info_rows.min(inner.height - 1).min(info.len() as u16);
    for (i, line) in info.into_iter().take(usize::from(info_rows)).enumerate() {
        frame.render_widget(
            Paragraph::new(line),
            Rect::new(inner.x, inner.y + 1 + i as u16, inner.width, 1),
        );
    }
    let rows = spark_rows.min(inner.height - 1 - info_rows);
    if rows > 0 {
        draw_sparkline(
            frame,
            Rect::new(inner.x, inner.y + 1 + info_rows, inner.width, rows),
            app,
            theme,
        );
    }
}

/// The top culprit and why (`▶ stress-ng-cpu ×4 · pid 4242 · cpu: 2.0 of 2 cores …`), then the
/// machine (`2 CPUs 1.9 busy · pressure cpu 64 % mem 0 % io 3 % · …`); empty before a sample.
pub fn info_lines(app: &App, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let board = app.board();
    if !app.conn.is_live() || !board.has_sample {
        return Vec::new();
    }
    let mut out = Vec::new();
    match &board.culprit {
        Some((p, members)) => {
            let name = if *members > 1 {
                format!("{} ×{members}", p.command)
            } else {
                p.command.clone()
            };
            let head = format!("▶ {name} · pid {} · ", p.pid);
            let room = width.saturating_sub(head.chars().count());
            out.push(Line::from(vec![
                Span::styled(head, theme.score(p.score).add_modifier(Modifier::BOLD)),
                Span::styled(super::clip(&p.reason, room), theme.score(p.score)),
            ]));
        }
        None => out.push(Line::from(Span::styled(
            "no culprit: nothing is hurting the machine",
            theme.dim,
        ))),
    }
    if let Some(m) = &board.machine {
        out.push(Line::from(Span::raw(super::clip(&machine_line(m), width))));
    }
    out
}

/// The machine in one short line.
fn machine_line(m: &crate::machine::Machine) -> String {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let source = match m.pressure_source {
        crate::machine::PressureSource::Psi => "pressure",
        crate::machine::PressureSource::Estimate => "pressure~",
    };
    format!(
        "{} CPUs {:.1} busy · {source} cpu {:.0}% mem {:.0}% io {:.0}% · {:.1}/{:.1} GiB free · {} forks/s · {} sw/s",
        m.cpus,
        m.cpu_busy,
        m.pressure_cpu,
        m.pressure_memory,
        m.pressure_io,
        gib(m.mem_available),
        gib(m.mem_total),
        crate::machine::human_count(m.forks_rate),
        crate::machine::human_count(m.ctxt_rate),
    )
}

fn border_style(app: &App, theme: &Theme) -> Style {
    let b = app.config.bands.clone();
    if !app.conn.is_live() {
        return theme.border_disconnected;
    }
    if app.stale_for().is_some() {
        return theme.border_elevated;
    }
    let score = app.board().max_score;
    if score >= b.critical {
        theme.border_critical
    } else if score >= b.elevated {
        theme.border_elevated
    } else {
        theme.border_normal
    }
}

fn title_left(app: &App, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" STRESS ")];
    if app.paused() {
        spans.push(Span::styled(" PAUSED ", theme.key));
        spans.push(Span::raw(" "));
    }
    Line::from(spans)
}

/// The connection state, always visible: live (stale), connecting, reconnecting in Ns,
/// disconnected — with the reason when there is room.
pub fn connection_text(app: &App) -> (String, Option<String>) {
    match &app.conn {
        Conn::Live { .. } => match app.stale_for() {
            Some(d) => (
                format!("● live · STALE: no sample for {}s", d.as_secs()),
                None,
            ),
            None => ("● live".into(), None),
        },
        Conn::Connecting => ("◌ connecting…".into(), None),
        Conn::Reconnecting { reason, .. } => match app.reconnect_in() {
            Some(s) => (format!("◌ reconnecting in {s}s"), Some(reason.clone())),
            None => ("◌ reconnecting…".into(), Some(reason.clone())),
        },
        Conn::Disconnected { reason, .. } => ("✕ disconnected".into(), Some(reason.clone())),
    }
}

fn title_right(app: &App, theme: &Theme, width: u16) -> Line<'static> {
    let (state, reason) = connection_text(app);
    let style = match &app.conn {
        Conn::Live { .. } if app.stale_for().is_some() => theme.warn,
        Conn::Live { .. } => theme.good,
        Conn::Connecting => Style::default(),
        _ => theme.bad,
    };
    let mut spans = vec![Span::raw(" "), Span::styled(state.clone(), style)];
    // The left title takes ~18 columns; the reason only when it fits beside it.
    let room = usize::from(width).saturating_sub(22 + state.chars().count() + 2);
    if let Some(r) = reason
        && room > 12
    {
        spans.push(Span::raw(format!(" · {}", super::clip(&r, room - 3))));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

fn gauge_line(app: &App, theme: &Theme, width: usize) -> Line<'static> {
    let bands = &app.config.bands;
    let board = app.board();
    if !app.conn.is_live() || !board.has_sample {
        let status = if app.conn.is_live() {
            "waiting for the first sample"
        } else {
            "DISCONNECTED"
        };
        let right = match app.conn.reason() {
            Some((_, true)) => "Run: rogue-hunter daemon",
            _ => "",
        };
        let text_w = 7 + format!(" ---/{}   {status}", bands.critical)
            .chars()
            .count();
        let with_right = |cells: usize| text_w + cells + 2 + right.chars().count() <= width;
        let cells = [30, 20, 10]
            .into_iter()
            .find(|c| with_right(*c))
            .unwrap_or(if text_w + 30 <= width { 30 } else { 10 });
        let mut left = vec![
            Span::raw("STRESS "),
            Span::styled("░".repeat(cells), theme.dim),
            Span::raw(format!(" ---/{}   {status}", bands.critical)),
        ];
        return justify(&mut left, right, width);
    }
    let score = board.max_score;
    let tier = gauge::tier(score, bands.elevated, bands.critical);
    let clock = app.clock.hms(board.timestamp);
    let uptime = format::duration(app.uptime().as_secs_f64());
    let right = format!("{} procs   #{}", board.process_count, board.seq);
    let tails = [
        format!(
            " {score:>3}/{}   {tier}   {clock} ({uptime})",
            bands.critical
        ),
        format!(" {score:>3}/{}   {tier}   {clock}", bands.critical),
        format!(" {score:>3}/{}   {tier}", bands.critical),
        format!(" {score:>3}/{}", bands.critical),
    ];
    let overflow = score > bands.critical;
    let candidates: [(usize, usize, bool); 8] = [
        (30, 0, true),
        (30, 1, true),
        (20, 1, true),
        (20, 2, true),
        (10, 2, true),
        (20, 2, false),
        (10, 2, false),
        (10, 3, false),
    ];
    let needed = |cells: usize, tail: usize, with_right: bool| {
        7 + cells
            + if overflow { 3 } else { 0 }
            + tails[tail].chars().count()
            + if with_right {
                2 + right.chars().count()
            } else {
                0
            }
    };
    let (cells, tail, with_right) = candidates
        .iter()
        .copied()
        .find(|&(c, t, r)| needed(c, t, r) <= width)
        .unwrap_or((10, 3, false));
    let mut left = vec![Span::raw("STRESS ")];
    left.extend(bar_spans(
        score,
        bands.critical,
        cells,
        theme.gradient_ref(),
    ));
    if overflow {
        left.push(Span::styled(">>>", theme.overflow));
    }
    let mut tail_span = Span::raw(tails[tail].clone());
    if score >= bands.elevated {
        tail_span = tail_span.style(theme.score(score));
    }
    left.push(tail_span);
    justify(&mut left, if with_right { &right } else { "" }, width)
}

/// `left`, then `right` pushed to the right edge (dropped when it does not fit).
fn justify(left: &mut Vec<Span<'static>>, right: &str, width: usize) -> Line<'static> {
    let used: usize = left.iter().map(Span::width).sum();
    let rw = right.chars().count();
    if !right.is_empty() && used + 2 + rw <= width {
        left.push(Span::raw(" ".repeat(width - used - rw)));
        left.push(Span::raw(right.to_string()));
    }
    Line::from(std::mem::take(left))
}

fn draw_sparkline(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let cfg = &app.config.tui.sparkline;
    let width = usize::from(area.width);
    let mut spark = Sparkline::new(
        width,
        u32::from(area.height),
        cfg.orientation,
        cfg.direction,
    )
    .with_range(cfg.min_value, Some(cfg.max_value));
    let data = &app.board().spark;
    spark.fill(
        data.iter()
            .skip(data.len().saturating_sub(width))
            .map(|v| f64::from(*v)),
    );
    let frozen_style = if app.conn.is_live() {
        Style::default()
    } else {
        Style::default().add_modifier(Modifier::DIM)
    };
    let buf = frame.buffer_mut();
    for (dy, row) in spark.cells().iter().enumerate() {
        for (dx, (ch, value)) in row.iter().enumerate() {
            if dx >= width {
                break;
            }
            let style = match value {
                Some(v) => theme.gradient(*v).patch(frozen_style),
                None => Style::default(),
            };
            let pos = (area.x + dx as u16, area.y + dy as u16);
            if let Some(cell) = buf.cell_mut(pos) {
                cell.set_char(*ch).set_style(style);
            }
        }
    }
}
