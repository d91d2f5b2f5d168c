//! The replay banner above TOP PROCESSES: which capture, which sample, the time relative to
//! the trigger, the machine's pressure then, and where in the buffer the sample lies.

use super::Theme;
use crate::report::slots::Pressure;
use crate::tui::app::{App, Replay, ReplayState};
use crate::tui::history::{DbProblem, ReplayProblem};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Rows the banner takes from the table.
const BANNER_ROWS: u16 = 2;

/// Draws the banner at the top of `area` and returns what is left for the table.
pub fn draw_banner(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    r: &Replay,
    theme: &Theme,
) -> Rect {
    if area.height <= BANNER_ROWS + 3 {
        return area;
    }
    let banner = Rect::new(area.x, area.y, area.width, BANNER_ROWS);
    let width = usize::from(area.width);
    let lines: Vec<Line> = banner_lines(app, r, width, theme)
        .into_iter()
        .map(|l| clip_line(l, width))
        .collect();
    frame.render_widget(Paragraph::new(lines), banner);
    Rect::new(
        area.x,
        area.y + BANNER_ROWS,
        area.width,
        area.height - BANNER_ROWS,
    )
}

/// The banner's two lines for a width.
pub fn banner_lines(app: &App, r: &Replay, width: usize, theme: &Theme) -> [Line<'static>; 2] {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let head = Span::styled(
        format!(
            " REPLAY capture #{} of event #{} {} ",
            r.capture_id, r.event_id, r.command
        ),
        theme.key,
    );
    match &r.state {
        ReplayState::Loading { done, total } => [
            Line::from(vec![head]),
            Line::from(format!(
                " reading the ring buffer… {}",
                if *total > 0 {
                    format!("{done} of {total} samples ({}%)", done * 100 / total)
                } else {
                    "opening the capture".to_string()
                }
            )),
        ],
        ReplayState::Problem(p) => [
            Line::from(vec![head]),
            Line::from(Span::styled(format!(" {}", problem_text(p)), theme.bad)),
        ],
        ReplayState::Ready(data) => {
            let n = data.samples.len();
            let rel = r.relative_time().unwrap_or(0.0);
            let at = r
                .sample()
                .map_or_else(String::new, |s| app.clock.hms(s.sample.captured_at));
            let first = Line::from(vec![
                head,
                Span::raw(" sample "),
                Span::styled(format!("{}/{n}", r.position + 1), bold),
                Span::raw(" · "),
                Span::styled(relative(rel), bold),
                Span::raw(format!(" from the trigger ({at})")),
            ]);
            let pressure = pressure_text(r.sample().and_then(|s| s.pressure));
            let room = width.saturating_sub(pressure.chars().count() + 3);
            let second = Line::from(vec![
                Span::raw(format!(" {pressure} ")),
                Span::styled(position_bar(r.position, n, room.min(60)), theme.dim),
            ]);
            [first, second]
        }
    }
}

/// `−12.3 s`, `+0.4 s`, `0.0 s`: seconds from the trigger with a real minus sign.
pub fn relative(seconds: f64) -> String {
    if seconds.abs() < 0.05 {
        "0.0 s".to_string()
    } else if seconds < 0.0 {
        format!("−{:.1} s", -seconds)
    } else {
        format!("+{seconds:.1} s")
    }
}

/// The machine's pressure in words.
pub fn pressure_text(p: Option<Pressure>) -> String {
    match p {
        Some(p) => format!(
            "pressure cpu {:.1}% · memory {:.1}% · io {:.1}%{}",
            p.cpu,
            p.memory,
            p.io,
            if p.estimated { " (estimated)" } else { "" }
        ),
        None => "machine pressure: not recorded".to_string(),
    }
}

/// `├────●─────┤`: where the sample lies in the buffer.
fn position_bar(position: usize, n: usize, width: usize) -> String {
    if width < 5 || n == 0 {
        return String::new();
    }
    let inner = width - 2;
    let at = if n > 1 {
        position * (inner - 1) / (n - 1)
    } else {
        inner - 1
    };
    let mut s = String::from("├");
    for i in 0..inner {
        s.push(if i == at { '●' } else { '─' });
    }
    s.push('┤');
    s
}

fn problem_text(p: &ReplayProblem) -> String {
    match p {
        ReplayProblem::NoCapture => "the capture is no longer in the database".into(),
        ReplayProblem::NoBuffer(why) => format!("nothing to replay: {why}"),
        ReplayProblem::Db(DbProblem::Missing) => "no database yet".into(),
        ReplayProblem::Db(DbProblem::Error(e)) => format!("cannot read the database: {e}"),
    }
}

/// Cuts a line's spans to `width` columns.
fn clip_line(line: Line<'static>, width: usize) -> Line<'static> {
    let mut used = 0;
    let mut spans = Vec::new();
    for s in line.spans {
        let w = s.content.chars().count();
        if used + w <= width {
            used += w;
            spans.push(s);
        } else {
            let left = width.saturating_sub(used);
            if left > 0 {
                spans.push(Span::styled(super::clip(&s.content, left), s.style));
            }
            break;
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_relative_to_the_trigger_with_a_real_minus() {
        assert_eq!(relative(-12.34), "−12.3 s");
        assert_eq!(relative(0.01), "0.0 s");
        assert_eq!(relative(0.4), "+0.4 s");
    }

    #[test]
    fn the_bar_marks_the_first_and_last_samples_at_its_ends() {
        assert_eq!(position_bar(0, 90, 7), "├●────┤");
        assert_eq!(position_bar(89, 90, 7), "├────●┤");
        assert_eq!(position_bar(0, 1, 7), "├────●┤");
        assert_eq!(position_bar(3, 90, 3), "");
    }
}
