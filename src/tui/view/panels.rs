//! The bottom panels: RECENTLY ROGUE (processes that just left the list, fading out) and
//! EVENT HISTORY (the database's latest events, with a capture marker).

use super::Theme;
use super::columns::{Col, fit};
use crate::store::queries::EventRow;
use crate::tui::app::{App, DbState, Focus};
use crate::tui::format;
use crate::tui::history::DbProblem;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

const RECENT_COLS: [Col; 3] = [
    Col::fixed("PID", 7, 0),
    Col::flex("Process", 8, 1),
    Col::fixed("Score", 5, 2),
];

pub fn draw_recent(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let block = Block::bordered().title(" RECENTLY ROGUE ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let fitted = fit(&RECENT_COLS, inner.width, 24);
    let spacing = fitted.spacing;
    let fitted = fitted.cols;
    let header = header_row(&RECENT_COLS, &fitted, theme);
    let rows: Vec<Row> = app
        .board()
        .recent
        .iter()
        .take(usize::from(inner.height.saturating_sub(1)))
        .map(|p| {
            // The band colour, faded by `[tui.colors.trends] decayed` (dim by default).
            let st = theme.score(p.score).patch(theme.decayed);
            Row::new(fitted.iter().map(|&(i, _)| match i {
                0 => Cell::from(Span::styled(
                    format!("{:>7}", p.pid),
                    theme.pid.patch(theme.decayed),
                )),
                1 => Cell::from(Span::styled(p.command.clone(), st)),
                _ => Cell::from(Span::styled(format!("{:>4}", p.score), st)),
            }))
        })
        .collect();
    let widths: Vec<Constraint> = fitted.iter().map(|&(_, w)| Constraint::Length(w)).collect();
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(spacing),
        inner,
    );
}

const HISTORY_COLS: [Col; 7] = [
    Col::fixed("Time", 8, 0),
    Col::flex("Process", 8, 1),
    Col::fixed("Peak", 4, 2),
    Col::fixed("Band", 8, 6),
    Col::fixed("Dur", 7, 4),
    Col::fixed("Status", 8, 3),
    Col::fixed("📸", 2, 5),
];

pub fn draw_history(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::History;
    let block = Block::bordered().title(" EVENT HISTORY ");
    let Some(inner) = super::panel(frame, area, block, focused) else {
        return;
    };
    let fitted = fit(&HISTORY_COLS, inner.width, 15);
    let spacing = fitted.spacing;
    let fitted = fitted.cols;
    let header = header_row(&HISTORY_COLS, &fitted, theme);
    let widths: Vec<Constraint> = fitted.iter().map(|&(_, w)| Constraint::Length(w)).collect();
    let events: &[EventRow] = match &app.history.state {
        DbState::Ready(rows) if !rows.is_empty() => rows,
        other => {
            let text = match other {
                DbState::Loading => "(reading the database…)".to_string(),
                DbState::Problem(DbProblem::Missing) => {
                    "(no database yet: the daemon creates it)".to_string()
                }
                DbState::Problem(DbProblem::Error(e)) => format!("(cannot read: {e})"),
                DbState::Ready(_) => "(no events recorded)".to_string(),
            };
            frame.render_widget(
                Table::new(Vec::<Row>::new(), widths)
                    .header(header)
                    .column_spacing(spacing),
                inner,
            );
            if inner.height > 1 {
                frame.render_widget(
                    Paragraph::new(Line::from(Span::styled(
                        super::clip(&text, usize::from(inner.width)),
                        theme.dim,
                    )))
                    .centered(),
                    Rect::new(inner.x, inner.y + 1, inner.width, 1),
                );
            }
            return;
        }
    };
    let page = usize::from(inner.height.saturating_sub(1)).max(1);
    let sel = app.history.selected.min(events.len() - 1);
    let offset = if sel >= page { sel + 1 - page } else { 0 };
    let rows: Vec<Row> = events
        .iter()
        .enumerate()
        .skip(offset)
        .take(page)
        .map(|(i, e)| {
            let row = Row::new(fitted.iter().map(|&(c, _)| history_cell(c, e, app, theme)));
            if focused && i == sel {
                row.style(theme.selected)
            } else {
                row
            }
        })
        .collect();
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(spacing),
        inner,
    );
}

fn history_cell(col: usize, e: &EventRow, app: &App, theme: &Theme) -> Cell<'static> {
    let band = theme.band(e.peak_band);
    let open = e.exit_time.is_none();
    match col {
        0 => Cell::from(app.clock.hms(e.entry_time)),
        1 => Cell::from(e.command.clone()),
        2 => Cell::from(Span::styled(format!("{:>4}", e.peak_score), band)),
        3 => Cell::from(Span::styled(e.peak_band.as_str().to_string(), band)),
        4 => {
            let end = e.exit_time.unwrap_or(app.wall_now);
            Cell::from(format!("{:>7}", format::duration(end - e.entry_time)))
        }
        5 => {
            if open {
                Cell::from(Span::styled("tracking", theme.active))
            } else {
                Cell::from(Span::styled("ended", theme.ended))
            }
        }
        _ => {
            let mark = if app.history.capturing.contains(&e.id) {
                "…"
            } else if e.capture_count > 0 {
                "✓"
            } else {
                ""
            };
            Cell::from(Line::from(mark).alignment(Alignment::Center))
        }
    }
}

fn header_row(cols: &[Col], fitted: &[(usize, u16)], theme: &Theme) -> Row<'static> {
    Row::new(
        fitted
            .iter()
            .map(|&(i, _)| Cell::from(Line::from(cols[i].header).alignment(Alignment::Center))),
    )
    .style(theme.header_row)
}
