//! The stress gauge of the header: a 30-cell bar in eighths, scaled to the critical threshold and
//! coloured by the band gradient, then the score, the tier, the clock and the uptime.

use super::gradient::Gradient;
use super::style::colour;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;

/// Cells in the bar.
pub const CELLS: usize = 30;
const PARTIAL: [char; 7] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/// One bar cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Full,
    Partial(char),
    Empty,
}

/// The bar for a score: units = ⌊min(1, score/critical) × 240⌋, 8 per cell.
pub fn bar(score: f64, critical: f64) -> [Cell; CELLS] {
    let cells = bar_of(score, critical, CELLS);
    std::array::from_fn(|i| cells[i])
}

/// The same rule for a bar of any width (narrow terminals shorten the bar).
pub fn bar_of(score: f64, critical: f64, cells: usize) -> Vec<Cell> {
    let ratio = if critical > 0.0 {
        (score / critical).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let ratio = if ratio.is_nan() { 0.0 } else { ratio };
    let units = (ratio * (cells * 8) as f64).floor() as usize;
    (0..cells)
        .map(|i| {
            if units >= 8 * (i + 1) {
                Cell::Full
            } else if units <= 8 * i {
                Cell::Empty
            } else {
                Cell::Partial(PARTIAL[units - 8 * i - 1])
            }
        })
        .collect()
}

/// The bar as spans: filled cells coloured by the gradient at their position on the
/// 0..critical scale (uncoloured without a gradient), empty cells dim.
pub fn bar_spans(
    score: u8,
    critical: u8,
    cells: usize,
    gradient: Option<&Gradient>,
) -> Vec<Span<'static>> {
    let crit = f64::from(critical);
    bar_of(f64::from(score), crit, cells)
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let at = (i as f64 / cells.max(1) as f64) * crit;
            let fg = match gradient {
                Some(g) => Style::default().fg(colour(g.at(at))),
                None => Style::default(),
            };
            match cell {
                Cell::Full => Span::styled("█", fg),
                Cell::Partial(c) => Span::styled(c.to_string(), fg),
                Cell::Empty => Span::styled("░", Style::default().add_modifier(Modifier::DIM)),
            }
        })
        .collect()
}

/// The tier word: CRITICAL, ELEVATED or NORMAL.
pub fn tier(score: u8, elevated: u8, critical: u8) -> &'static str {
    if score >= critical {
        "CRITICAL"
    } else if score >= elevated {
        "ELEVATED"
    } else {
        "NORMAL"
    }
}

/// Everything the gauge line shows.
pub struct GaugeLine<'a> {
    pub score: u8,
    pub elevated: u8,
    pub critical: u8,
    pub clock: &'a str,
    pub uptime: &'a str,
    pub gradient: &'a Gradient,
}

/// The connected gauge as styled spans.
pub fn spans(g: &GaugeLine<'_>) -> Vec<Span<'static>> {
    let mut out = vec![Span::raw("STRESS ")];
    out.extend(bar_spans(g.score, g.critical, CELLS, Some(g.gradient)));
    if g.score > g.critical {
        out.push(Span::styled(
            ">>>",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    out.push(Span::raw(format!(
        " {:>3}/{}   {}   {} ({})",
        g.score,
        g.critical,
        tier(g.score, g.elevated, g.critical),
        g.clock,
        g.uptime
    )));
    out
}

/// The gauge while no daemon is connected.
pub fn disconnected_spans(critical: u8) -> Vec<Span<'static>> {
    vec![
        Span::raw("STRESS "),
        Span::styled(
            "░".repeat(CELLS),
            Style::default().add_modifier(Modifier::DIM),
        ),
        Span::raw(format!(" ---/{critical}   DISCONNECTED")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BandColors, BandsConfig};

    fn text(spans: &[Span<'_>]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn bar_scales_to_critical_in_eighths() {
        assert!(bar(0.0, 70.0).iter().all(|c| *c == Cell::Empty));
        assert!(bar(70.0, 70.0).iter().all(|c| *c == Cell::Full));
        assert!(bar(95.0, 70.0).iter().all(|c| *c == Cell::Full));
        // 35/70 = 120 units = 15 full cells exactly.
        let half = bar(35.0, 70.0);
        assert_eq!(half.iter().filter(|c| **c == Cell::Full).count(), 15);
        assert_eq!(half[15], Cell::Empty);
        // 45/70 → 154 units: 19 full cells, then 2/8 → '▎'.
        let b = bar(45.0, 70.0);
        assert_eq!(b.iter().filter(|c| **c == Cell::Full).count(), 19);
        assert_eq!(b[19], Cell::Partial('▎'));
        assert_eq!(b[20], Cell::Empty);
    }

    #[test]
    fn shorter_bars_keep_the_same_rule() {
        // 35/70 on 10 cells = 40 units = 5 full cells.
        let b = bar_of(35.0, 70.0, 10);
        assert_eq!(b.len(), 10);
        assert_eq!(b.iter().filter(|c| **c == Cell::Full).count(), 5);
        assert_eq!(b[5], Cell::Empty);
        // 45/70 on 20 cells = 102 units: 12 full, then 6/8 → '▊'.
        let b = bar_of(45.0, 70.0, 20);
        assert_eq!(b.iter().filter(|c| **c == Cell::Full).count(), 12);
        assert_eq!(b[12], Cell::Partial('▊'));
        assert!(bar_of(10.0, 70.0, 0).is_empty());
        assert!(bar_of(f64::NAN, 70.0, 5).iter().all(|c| *c == Cell::Empty));
        assert!(bar_of(5.0, 0.0, 5).iter().all(|c| *c == Cell::Full));
        // Without a gradient (NO_COLOR) the cells carry no colour.
        let spans = bar_spans(70, 70, 4, None);
        assert_eq!(spans.len(), 4);
        assert!(
            spans
                .iter()
                .all(|s| s.style.fg.is_none() && s.content == "█")
        );
    }

    #[test]
    fn tiers() {
        assert_eq!(tier(10, 50, 70), "NORMAL");
        assert_eq!(tier(50, 50, 70), "ELEVATED");
        assert_eq!(tier(70, 50, 70), "CRITICAL");
    }

    #[test]
    fn gauge_line_text_and_overflow_marker() {
        let g = Gradient::from_bands(&BandsConfig::default(), &BandColors::default());
        let line = GaugeLine {
            score: 45,
            elevated: 50,
            critical: 70,
            clock: "12:34:56",
            uptime: "3m12s",
            gradient: &g,
        };
        let t = text(&spans(&line));
        assert!(t.starts_with("STRESS "));
        assert!(t.ends_with("  45/70   NORMAL   12:34:56 (3m12s)"), "{t}");
        assert_eq!(t.chars().filter(|c| *c == '█').count(), 19);
        let over = GaugeLine { score: 85, ..line };
        let t = text(&spans(&over));
        assert!(t.contains(">>>") && t.contains("CRITICAL"));
        let d = text(&disconnected_spans(70));
        assert_eq!(
            d,
            format!("STRESS {} ---/70   DISCONNECTED", "░".repeat(30))
        );
    }

    #[test]
    fn filled_cells_follow_the_gradient() {
        let g = Gradient::from_bands(&BandsConfig::default(), &BandColors::default());
        let line = GaugeLine {
            score: 70,
            elevated: 50,
            critical: 70,
            clock: "",
            uptime: "",
            gradient: &g,
        };
        let s = spans(&line);
        assert_eq!(
            s[1].style.fg,
            Some(Color::Rgb(0x50, 0xfa, 0x7b)),
            "cell 0 is the low colour"
        );
        assert_ne!(s[1].style.fg, s[30].style.fg, "the last cell is warmer");
    }
}
