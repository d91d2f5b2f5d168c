//! The footer: the filter being typed, else the latest message, else the keys.

use super::Theme;
use crate::tui::app::{App, Mode, Tone};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

const DASHBOARD_KEYS: [(&str, &str); 9] = [
    ("q", "Quit"),
    ("?", "Help"),
    ("↑↓", "Select"),
    ("⏎", "Detail"),
    ("c", "Capture"),
    ("s", "Sort"),
    ("/", "Filter"),
    ("p", "Pause"),
    ("Tab", "Panel"),
];

const DETAIL_KEYS: [(&str, &str); 7] = [
    ("Esc", "Back"),
    ("↑↓", "Scroll"),
    ("Tab", "Capture"),
    ("r", "Replay"),
    ("c", "Capture now"),
    ("p", "Pause"),
    ("q", "Quit"),
];

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let width = usize::from(area.width);
    let line = if app.filter_editing {
        Line::from(vec![
            Span::styled(" / ", theme.key),
            Span::raw(" Filter: "),
            Span::styled(
                app.filter.clone(),
                ratatui::style::Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::styled("▏", theme.dim),
            Span::styled("   ⏎ keep · Esc clear", theme.dim),
        ])
    } else if let Some(m) = app.message() {
        let style = match m.tone {
            Tone::Info => ratatui::style::Style::default(),
            Tone::Good => theme.good,
            Tone::Bad => theme.bad,
        };
        Line::from(Span::styled(
            format!(" {}", super::clip(&m.text, width.saturating_sub(1))),
            style,
        ))
    } else {
        let keys: &[(&str, &str)] = match app.mode {
            Mode::Detail(_) => &DETAIL_KEYS,
            Mode::Help => &[("any key", "Close help")],
            Mode::Dashboard => &DASHBOARD_KEYS,
            Mode::Replay(_) => &REPLAY_KEYS,
        };
        key_line(keys, width, theme)
    };
    frame.render_widget(Paragraph::new(line), area);
}

const REPLAY_KEYS: [(&str, &str); 7] = [
    ("Esc", "Live"),
    ("←→", "Step"),
    ("[ ]", "±10"),
    ("Home End", "Ends"),
    ("s", "Sort"),
    ("/", "Filter"),
    ("q", "Quit"),
];

/// As many `key Label` pairs as fit.
fn key_line(keys: &[(&str, &str)], width: usize, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    let mut used = 0;
    for (k, label) in keys {
        let w = k.chars().count() + 2 + label.chars().count() + 2;
        if used + w > width {
            break;
        }
        spans.push(Span::styled(format!(" {k} "), theme.key));
        spans.push(Span::raw(format!(" {label} ")));
        used += w;
    }
    Line::from(spans)
}
