//! The help overlay: keys, connection states and what the marks mean.

use super::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

const KEYS: [(&str, &str); 16] = [
    (
        "↑ ↓  k j",
        "select a row (PgUp PgDn Home End: by page, to the ends)",
    ),
    ("Tab", "switch between TOP PROCESSES and EVENT HISTORY"),
    ("Enter", "details of the selected process or event"),
    ("c", "capture forensics of the selected process now"),
    ("Tab  r", "in an event view: choose a capture / replay it"),
    (
        "← → [ ]",
        "in a replay: step 1 or 10 samples; Esc back to live",
    ),
    ("s  S", "sort by the next column / reverse the order"),
    ("/", "filter by name (Enter keeps it, Esc clears it)"),
    ("p", "pause the display (data keeps arriving)"),
    ("r", "reconnect now instead of waiting"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
    ("", ""),
    ("● live", "connected (STALE: no sample for 3 intervals)"),
    ("◌ reconnecting", "retrying with backoff 1, 2, 4 … 30 s"),
    (
        "▲ ▽ ●  ✓ …",
        "score up / down / same; event captured / capturing",
    ),
];

pub fn draw(frame: &mut Frame<'_>, body: Rect, theme: &Theme) {
    let width = body.width.min(76);
    let height = body.height.min(KEYS.len() as u16 + 2);
    let area = Rect::new(
        body.x + (body.width - width) / 2,
        body.y + (body.height - height) / 2,
        width,
        height,
    );
    frame.render_widget(Clear, body);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {k:<15}"),
                    theme.header_row.add_modifier(Modifier::BOLD),
                ),
                Span::raw(what.to_string()),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" HELP · any key closes ")),
        area,
    );
}
