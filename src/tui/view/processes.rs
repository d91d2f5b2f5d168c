//! TOP PROCESSES: the latest sample's rogues with trend, the original's columns and formats,
//! zebra stripes, the selection, and the sort and filter in the title.

use super::Theme;
use super::columns::{Col, fit};
use crate::tui::app::{App, Focus, Row as AppRow, SortKey};
use crate::tui::format;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

/// Column ids, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Trend,
    Pid,
    Process,
    Score,
    Cpu,
    Gpu,
    Mem,
    Disk,
    Wake,
    State,
    Dominant,
}

/// Widths are the original's formats plus room for the widest values they produce
/// (`1015.62K/s`, `12800.00%`), which the original let overflow.
const COLS: [(Id, Col); 11] = [
    (Id::Trend, Col::fixed("", 1, 0)),
    (Id::Pid, Col::fixed("PID", 7, 1)),
    (Id::Process, Col::flex("Process", 12, 2)),
    (Id::Score, Col::fixed("Score", 5, 3)),
    (Id::Cpu, Col::fixed("CPU", 9, 4)),
    (Id::Gpu, Col::fixed("GPU", 9, 10)),
    (Id::Mem, Col::fixed("MEM", 8, 5)),
    (Id::Disk, Col::fixed("DISK", 10, 7)),
    (Id::Wake, Col::fixed("WAKE", 10, 8)),
    (Id::State, Col::fixed("State", 8, 9)),
    (Id::Dominant, Col::fixed("Dominant", 13, 6)),
];

fn sort_id(k: SortKey) -> Id {
    match k {
        SortKey::Score => Id::Score,
        SortKey::Cpu => Id::Cpu,
        SortKey::Gpu => Id::Gpu,
        SortKey::Mem => Id::Mem,
        SortKey::Disk => Id::Disk,
        SortKey::Wake => Id::Wake,
        SortKey::Dominant => Id::Dominant,
        SortKey::State => Id::State,
        SortKey::Process => Id::Process,
        SortKey::Pid => Id::Pid,
    }
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let rows = app.rows();
    let total = app.table_board().rows.len();
    let focused = app.focus == Focus::Processes;
    let mut title_right = vec![Span::raw(" sort: "), Span::raw(sort_label(app))];
    if !app.filter.is_empty() || app.filter_editing {
        title_right.push(Span::raw(" · filter: "));
        title_right.push(Span::styled(
            format!("\"{}\"", super::clip(&app.filter, 20)),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        title_right.push(Span::raw(format!(" {} of {total}", rows.len())));
    }
    title_right.push(Span::raw(" "));
    let title = match app.replay().and_then(|r| r.relative_time()) {
        Some(t) => format!(" TOP PROCESSES at {} ", super::replay::relative(t)),
        None => " TOP PROCESSES ".to_string(),
    };
    let block = Block::bordered()
        .title(title)
        .title(Line::from(title_right).right_aligned());
    let Some(inner) = super::panel(frame, area, block, focused) else {
        return;
    };
    let cols: Vec<Col> = COLS.iter().map(|(_, c)| *c).collect();
    let fitted = fit(&cols, inner.width, 24);
    let spacing = fitted.spacing;
    let fitted = fitted.cols;
    let sorted = sort_id(app.sort.key);
    let header = Row::new(fitted.iter().map(|&(i, _)| {
        let (id, col) = COLS[i];
        let mut text = col.header.to_string();
        if id == sorted && !text.is_empty() {
            text.push(if app.sort.descending { '▼' } else { '▲' });
        }
        Cell::from(Line::from(text).alignment(Alignment::Center))
    }))
    .style(theme.header_row);
    let widths: Vec<Constraint> = fitted.iter().map(|&(_, w)| Constraint::Length(w)).collect();

    let placeholder = placeholder_text(app);
    if let Some(text) = placeholder {
        let table = Table::new(Vec::<Row>::new(), widths.clone())
            .header(header)
            .column_spacing(spacing);
        frame.render_widget(table, inner);
        if inner.height > 1 {
            let msg = Rect::new(inner.x, inner.y + 1, inner.width, 1);
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(text, theme.dim))).centered(),
                msg,
            );
        }
        return;
    }
    let page = usize::from(inner.height.saturating_sub(1));
    let offset = app.table_offset.min(rows.len().saturating_sub(page.max(1)));
    let selected = app.selected();
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(page)
        .map(|(i, r)| {
            let cells = fitted.iter().map(|&(c, _)| cell(COLS[c].0, r, theme));
            let style = if Some(i) == selected {
                if focused {
                    theme.selected
                } else {
                    theme.selected_unfocused
                }
            } else if i % 2 == 1 {
                theme.stripe
            } else {
                Style::default()
            };
            Row::new(cells).style(style)
        })
        .collect();
    let table = Table::new(body, widths)
        .header(header)
        .column_spacing(spacing);
    frame.render_widget(table, inner);
}

fn sort_label(app: &App) -> String {
    format!(
        "{}{}",
        app.sort.key.label(),
        if app.sort.descending { "▼" } else { "▲" }
    )
}

/// What the table says instead of rows, if it has none to show.
fn placeholder_text(app: &App) -> Option<String> {
    if let Some(r) = app.replay() {
        if r.data().is_none() {
            return Some(format!("(capture #{}: see above)", r.capture_id));
        }
    } else if !app.conn.is_live() && !app.paused() {
        let mut text = "(not connected".to_string();
        if let Some((_, true)) = app.conn.reason() {
            text.push_str(": start the daemon with `rogue-hunter daemon`");
        }
        text.push(')');
        return Some(text);
    }
    let board = app.table_board();
    if !board.has_sample {
        return Some("(waiting for the first sample)".into());
    }
    if board.rows.is_empty() {
        return Some("(no processes)".into());
    }
    if app.rows().is_empty() {
        return Some(format!("(no process name contains \"{}\")", app.filter));
    }
    None
}

fn cell(id: Id, r: &AppRow, theme: &Theme) -> Cell<'static> {
    let p = &r.process;
    match id {
        Id::Trend => Cell::from(Span::styled(
            r.trend.glyph(),
            match r.trend {
                crate::tui::app::Trend::Worsening => theme.worsening,
                crate::tui::app::Trend::Improving => theme.improving,
                crate::tui::app::Trend::Stable => theme.stable,
            },
        )),
        Id::Pid => Cell::from(Span::styled(format!("{:>7}", p.pid), theme.pid)),
        Id::Process => Cell::from(Span::styled(
            if p.members > 1 {
                format!("{} ×{}", p.command, p.members)
            } else {
                p.command.clone()
            },
            theme.score(p.score),
        )),
        Id::Score => Cell::from(Span::styled(
            format!("{:>4}", p.score),
            theme.score(p.score).add_modifier(Modifier::BOLD),
        )),
        Id::Cpu => metric(
            format::cpu(p.cpu),
            theme.resource(crate::model::Resource::Cpu),
        ),
        Id::Gpu => metric(
            format::gpu(p.gpu_time_rate),
            theme.resource(crate::model::Resource::Gpu),
        ),
        Id::Mem => metric(
            format::mem(p.mem),
            theme.resource(crate::model::Resource::Memory),
        ),
        Id::Disk => metric(
            format::disk_rate(p.disk_io_rate),
            theme.resource(crate::model::Resource::Disk),
        ),
        Id::Wake => metric(
            format::wakeups(p.wakeups_rate),
            theme.resource(crate::model::Resource::Wakeups),
        ),
        Id::State => Cell::from(Span::styled(
            p.state.as_str().to_string(),
            theme.state(p.state),
        )),
        Id::Dominant => metric(
            format::dominant(p.dominant_resource, p.disproportionality),
            theme.resource(p.dominant_resource),
        ),
    }
}

fn metric(text: String, style: Style) -> Cell<'static> {
    Cell::from(Span::styled(text, style))
}
