//! Drawing the dashboard with ratatui: pure functions of the [`App`] state and a [`Theme`].
//!
//! The layout adapts to the terminal: the sparkline shrinks, then the bottom panels go, then
//! table columns (least useful first); below [`MIN_WIDTH`]×[`MIN_HEIGHT`] a one-line summary
//! is all that is drawn. Nothing here panics on any size.

mod columns;
mod detail;
mod footer;
mod header;
mod help;
mod panels;
mod processes;
mod replay;
#[cfg(test)]
mod tests;
pub mod theme;

pub use theme::Theme;

/// Draws a bordered panel (a bold border when it has the focus) and returns the area inside it,
/// or `None` when nothing fits there.
fn panel(
    frame: &mut ratatui::Frame<'_>,
    area: ratatui::layout::Rect,
    block: ratatui::widgets::Block<'_>,
    focused: bool,
) -> Option<ratatui::layout::Rect> {
    use ratatui::style::{Modifier, Style};
    let block = if focused {
        block.border_style(Style::default().add_modifier(Modifier::BOLD))
    } else {
        block
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    (inner.height > 0 && inner.width > 0).then_some(inner)
}

use super::app::{App, Mode};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

/// Below this the full screen is not drawn.
pub const MIN_WIDTH: u16 = 30;
pub const MIN_HEIGHT: u16 = 8;
/// Rows TOP PROCESSES keeps (borders and header included) before the bottom panels appear.
const TABLE_MIN: u16 = 10;
/// The bottom panels' height: the original's 12, less on small screens, never below 5.
const BOTTOM_MAX: u16 = 12;
const BOTTOM_MIN: u16 = 5;
/// RECENTLY ROGUE is shown beside EVENT HISTORY from this width.
const SPLIT_MIN_WIDTH: u16 = 70;

/// Where each part goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    /// Lines under the gauge: the top culprit and its reason, then the machine (0–2).
    pub info_rows: u16,
    /// Sparkline rows inside the header (0 when there is no room).
    pub spark_rows: u16,
    /// Everything between header and footer (the detail view and help use all of it).
    pub body: Rect,
    pub table: Rect,
    pub recent: Option<Rect>,
    pub history: Option<Rect>,
    pub footer: Rect,
}

/// The layout of a terminal of `area`, or None when it is too small for it.
pub fn areas(area: Rect, spark_height: u16) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    // The culprit line comes before the sparkline: it says who and why.
    let (info_rows, spark_rows) = match area.height {
        h if h >= 22 => (2, spark_height.clamp(1, 4)),
        h if h >= 10 => (1, 0),
        _ => (0, 0),
    };
    let header_h = 3 + info_rows + spark_rows;
    let header = Rect::new(area.x, area.y, area.width, header_h);
    let footer = Rect::new(area.x, area.bottom() - 1, area.width, 1);
    let rest = area.height - header_h - 1;
    let body = Rect::new(area.x, area.y + header_h, area.width, rest);
    let bottom = if rest >= TABLE_MIN + BOTTOM_MIN {
        (rest - TABLE_MIN).min(BOTTOM_MAX)
    } else {
        0
    };
    let table = Rect::new(body.x, body.y, body.width, rest - bottom);
    let (recent, history) = if bottom == 0 {
        (None, None)
    } else {
        let y = table.bottom();
        if area.width >= SPLIT_MIN_WIDTH {
            let left = area.width / 3;
            (
                Some(Rect::new(area.x, y, left, bottom)),
                Some(Rect::new(area.x + left, y, area.width - left, bottom)),
            )
        } else {
            (None, Some(Rect::new(area.x, y, area.width, bottom)))
        }
    };
    Some(Areas {
        header,
        info_rows,
        spark_rows,
        body,
        table,
        recent,
        history,
        footer,
    })
}

/// Data rows TOP PROCESSES shows in a terminal of `area` (for paging).
pub fn table_rows(area: Rect, spark_height: u16) -> usize {
    areas(area, spark_height).map_or(1, |a| usize::from(a.table.height.saturating_sub(3)).max(1))
}

/// Whether EVENT HISTORY fits in a terminal of `area`.
pub fn history_shown(area: Rect, spark_height: u16) -> bool {
    areas(area, spark_height).is_some_and(|a| a.history.is_some())
}

/// The largest useful scroll of the detail view in a terminal of `area` (None without one).
pub fn detail_scroll_max(area: Rect, app: &App, theme: &Theme) -> Option<usize> {
    let Mode::Detail(d) = &app.mode else {
        return None;
    };
    let spark = u16::try_from(app.config.tui.sparkline.height).unwrap_or(3);
    let body = areas(area, spark)?.body;
    let inner_h = usize::from(body.height.saturating_sub(2));
    let inner_w = usize::from(body.width.saturating_sub(2));
    Some(
        detail::lines(app, d, inner_w, theme)
            .len()
            .saturating_sub(inner_h),
    )
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: &Theme) {
    let area = frame.area();
    let spark = u16::try_from(app.config.tui.sparkline.height).unwrap_or(3);
    let Some(a) = areas(area, spark) else {
        draw_tiny(frame, area, app);
        return;
    };
    header::draw(frame, a.header, a.info_rows, a.spark_rows, app, theme);
    match &app.mode {
        Mode::Detail(d) => detail::draw(frame, a.body, app, d, theme),
        Mode::Replay(r) => {
            let table = replay::draw_banner(frame, a.table, app, r, theme);
            processes::draw(frame, table, app, theme);
            if let Some(h) = a.history {
                panels::draw_history(frame, h, app, theme);
            }
            if let Some(r) = a.recent {
                panels::draw_recent(frame, r, app, theme);
            }
        }
        Mode::Dashboard | Mode::Help => {
            processes::draw(frame, a.table, app, theme);
            if let Some(r) = a.recent {
                panels::draw_recent(frame, r, app, theme);
            }
            if let Some(h) = a.history {
                panels::draw_history(frame, h, app, theme);
            }
        }
    }
    if app.mode == Mode::Help {
        help::draw(frame, a.body, theme);
    }
    footer::draw(frame, a.footer, app, theme);
}

/// A terminal too small for the dashboard: the essentials, clipped.
fn draw_tiny(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let board = app.board();
    let first = if app.conn.is_live() && board.has_sample {
        format!("stress {}/{}", board.max_score, app.config.bands.critical)
    } else if app.conn.is_live() {
        "connected".to_string()
    } else {
        "disconnected".to_string()
    };
    let lines = vec![
        Line::from(first),
        Line::from(format!("{} procs", board.process_count)),
        Line::from("enlarge the terminal"),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

/// Cuts a string to `width` display columns, marking the cut with `…`.
pub(crate) fn clip(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}
