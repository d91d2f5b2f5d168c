//! The max-score sparkline: one column per sample, in three orientations and two directions.
//!
//! Levels are eighths of a cell: `level = ⌊norm × L⌋` with `L = height × 8` (normal, inverted)
//! or `max(1, ⌊height/2⌋) × 8` (mirrored). Normal bars are blocks growing up; inverted bars are
//! braille growing down from the top; mirrored bars grow both ways out of the middle (an odd
//! height has a centre row that is full whenever the level is above 0).

use crate::config::{SparklineDirection, SparklineOrientation};
use std::collections::VecDeque;

const BLOCKS_UP: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const BRAILLE_DOWN: [char; 9] = [' ', '⠁', '⠉', '⠋', '⠛', '⠟', '⠿', '⡿', '⣿'];
const BRAILLE_UP: [char; 9] = [' ', '⡀', '⣀', '⣄', '⣤', '⣦', '⣶', '⣷', '⣿'];
const FULL_BRAILLE: char = '⣿';

/// Sparkline state: settings plus the last `width` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparkline {
    width: usize,
    height: usize,
    orientation: SparklineOrientation,
    direction: SparklineDirection,
    min: f64,
    /// `None` scales to the largest value held.
    max: Option<f64>,
    data: VecDeque<f64>,
}

impl Sparkline {
    /// A sparkline `width` columns wide; the height is clamped to 1..=4.
    pub fn new(
        width: usize,
        height: u32,
        orientation: SparklineOrientation,
        direction: SparklineDirection,
    ) -> Sparkline {
        Sparkline {
            width,
            height: height.clamp(1, 4) as usize,
            orientation,
            direction,
            min: 0.0,
            max: None,
            data: VecDeque::new(),
        }
    }

    /// Fixed scale bounds (a max at or below the min is moved to min + 1).
    pub fn with_range(mut self, min: f64, max: Option<f64>) -> Sparkline {
        self.min = min;
        self.max = max.map(|m| if m <= min { min + 1.0 } else { m });
        self
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// The values held, oldest first.
    pub fn data(&self) -> Vec<f64> {
        self.data.iter().copied().collect()
    }

    /// Adds the newest value, dropping the oldest beyond the width.
    pub fn push(&mut self, value: f64) {
        self.data.push_back(value);
        while self.data.len() > self.width {
            self.data.pop_front();
        }
    }

    /// Replaces the values (e.g. the history a daemon sends on connect).
    pub fn fill(&mut self, values: impl IntoIterator<Item = f64>) {
        self.data.clear();
        for v in values {
            self.push(v);
        }
    }

    /// Changes the width (terminal resize), keeping the newest values.
    pub fn set_width(&mut self, width: usize) {
        self.width = width;
        while self.data.len() > width {
            self.data.pop_front();
        }
    }

    pub fn clear(&mut self) {
        self.data.clear();
    }

    /// Total levels a column can show.
    pub fn levels(&self) -> usize {
        match self.orientation {
            SparklineOrientation::Mirrored => (self.height / 2).max(1) * 8,
            _ => self.height * 8,
        }
    }

    /// The level of one value.
    pub fn level(&self, value: f64) -> usize {
        let max = self
            .max
            .unwrap_or_else(|| self.data.iter().copied().fold(f64::MIN, f64::max));
        let span = max - self.min;
        if span <= 0.0 || value.is_nan() {
            return 0;
        }
        let norm = ((value - self.min) / span).clamp(0.0, 1.0);
        (norm * self.levels() as f64).floor() as usize
    }

    /// One column's glyphs, top row first.
    pub fn column(&self, level: usize) -> Vec<char> {
        let h = self.height;
        let fill = |row_from_start: usize| level.saturating_sub(8 * row_from_start).min(8);
        match self.orientation {
            SparklineOrientation::Normal => (0..h).rev().map(|r| BLOCKS_UP[fill(r)]).collect(),
            SparklineOrientation::Inverted => (0..h).map(|r| BRAILLE_DOWN[fill(r)]).collect(),
            SparklineOrientation::Mirrored => {
                let half = h / 2;
                let centre = h % 2 == 1;
                let mut col = Vec::with_capacity(h);
                col.extend((0..half).rev().map(|r| BRAILLE_UP[fill(r)]));
                if centre {
                    col.push(if level > 0 { FULL_BRAILLE } else { ' ' });
                }
                col.extend((0..half).map(|r| BRAILLE_DOWN[fill(r)]));
                col
            }
        }
    }

    /// Every cell as (glyph, value of its column or `None` for padding), rows top first.
    pub fn cells(&self) -> Vec<Vec<(char, Option<f64>)>> {
        let mut values: Vec<Option<f64>> = self.data.iter().copied().map(Some).collect();
        let pad = self.width.saturating_sub(values.len());
        match self.direction {
            SparklineDirection::Rtl => {
                let mut v = vec![None; pad];
                v.append(&mut values);
                values = v;
            }
            SparklineDirection::Ltr => {
                values.reverse();
                values.extend(std::iter::repeat_n(None, pad));
            }
        }
        let columns: Vec<Vec<char>> = values
            .iter()
            .map(|v| match v {
                Some(v) => self.column(self.level(*v)),
                None => vec![' '; self.height],
            })
            .collect();
        (0..self.height)
            .map(|row| {
                columns
                    .iter()
                    .zip(&values)
                    .map(|(col, v)| (col[row], *v))
                    .collect()
            })
            .collect()
    }

    /// Plain text: rows joined by newlines.
    pub fn render_text(&self) -> String {
        self.cells()
            .iter()
            .map(|row| row.iter().map(|(c, _)| *c).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SparklineDirection::*;
    use SparklineOrientation::*;

    fn spark(h: u32, o: SparklineOrientation) -> Sparkline {
        Sparkline::new(10, h, o, Rtl).with_range(0.0, Some(100.0))
    }

    /// Glyphs of a column at a level, bottom row first (as the original's tests list them).
    fn bottom_up(s: &Sparkline, level: usize) -> Vec<char> {
        let mut c = s.column(level);
        c.reverse();
        c
    }

    #[test]
    fn scale_levels_and_clamping() {
        let s1 = spark(1, Normal);
        let s2 = spark(2, Normal);
        assert_eq!(s1.level(0.0), 0);
        assert_eq!(s1.level(100.0), 8);
        assert_eq!(s2.level(100.0), 16);
        assert_eq!(s2.level(50.0), 8);
        assert_eq!(s2.level(-10.0), 0);
        assert_eq!(s2.level(500.0), 16);
        let m4 = spark(4, Mirrored);
        assert_eq!(
            (m4.level(100.0), m4.level(50.0), m4.level(25.0)),
            (16, 8, 4)
        );
    }

    #[test]
    fn normal_columns_fill_from_the_bottom() {
        let s = spark(2, Normal);
        assert_eq!(bottom_up(&s, 0), [' ', ' ']);
        assert_eq!(bottom_up(&s, 8), ['█', ' ']);
        assert_eq!(bottom_up(&s, 4), ['▄', ' ']);
        assert_eq!(bottom_up(&s, 12), ['█', '▄']);
        assert_eq!(bottom_up(&s, 16), ['█', '█']);
        let s1 = spark(1, Normal);
        assert_eq!(
            (s1.column(4), s1.column(0), s1.column(8)),
            (vec!['▄'], vec![' '], vec!['█'])
        );
    }

    #[test]
    fn inverted_columns_fill_from_the_top() {
        let s = spark(2, Inverted);
        assert_eq!(s.column(4), ['⠛', ' ']);
        assert_eq!(s.column(12), ['⣿', '⠛']);
        let s1 = spark(1, Inverted);
        assert_eq!((s1.column(4), s1.column(8)), (vec!['⠛'], vec!['⣿']));
    }

    #[test]
    fn mirrored_columns_grow_out_of_the_middle() {
        let s4 = spark(4, Mirrored);
        assert_eq!(s4.column(0), [' '; 4]);
        assert_eq!(s4.column(4), [' ', '⣤', '⠛', ' ']);
        assert_eq!(s4.column(8), [' ', '⣿', '⣿', ' ']);
        assert_eq!(s4.column(12), ['⣤', '⣿', '⣿', '⠛']);
        assert_eq!(s4.column(16), ['⣿'; 4]);
        let s3 = spark(3, Mirrored);
        assert_eq!(s3.column(1), ['⡀', '⣿', '⠁']);
        assert_eq!(s3.column(4), ['⣤', '⣿', '⠛']);
        assert_eq!(s3.column(8), ['⣿'; 3]);
        let s2 = spark(2, Mirrored);
        assert_eq!(s2.column(4), ['⣤', '⠛']);
        assert_eq!(s2.column(8), ['⣿', '⣿']);
        let s1 = spark(1, Mirrored);
        assert_eq!((s1.column(0), s1.column(1)), (vec![' '], vec!['⣿']));
    }

    #[test]
    fn data_is_trimmed_to_the_width() {
        let mut s = Sparkline::new(3, 1, Normal, Rtl);
        s.push(42.0);
        assert_eq!(s.data(), [42.0]);
        s.clear();
        for v in [1.0, 2.0, 3.0, 4.0] {
            s.push(v);
        }
        assert_eq!(s.data(), [2.0, 3.0, 4.0]);
        s.set_width(2);
        assert_eq!(s.data(), [3.0, 4.0]);
        s.clear();
        assert!(s.data().is_empty());
    }

    #[test]
    fn without_a_max_the_data_maximum_is_full() {
        let mut s = Sparkline::new(5, 1, Normal, Rtl);
        s.fill([10.0, 40.0, 20.0]);
        assert_eq!(s.level(40.0), 8);
        assert_eq!(s.level(20.0), 4);
    }

    #[test]
    fn heights_are_clamped() {
        assert_eq!(Sparkline::new(1, 0, Normal, Rtl).height(), 1);
        assert_eq!(Sparkline::new(1, 10, Normal, Rtl).height(), 4);
        for h in 1..=4 {
            assert_eq!(Sparkline::new(1, h, Normal, Rtl).height(), h as usize);
        }
    }

    #[test]
    fn directions_place_the_newest_value() {
        let mk = |w, d, vals: &[f64]| {
            let mut s = Sparkline::new(w, 1, Normal, d).with_range(0.0, Some(100.0));
            s.fill(vals.iter().copied());
            s.render_text()
        };
        assert_eq!(mk(5, Rtl, &[100.0, 100.0]), "   ██");
        assert_eq!(mk(5, Ltr, &[100.0, 100.0]), "██   ");
        assert_eq!(mk(3, Rtl, &[25.0, 50.0, 100.0]), "▂▄█");
        assert_eq!(mk(3, Ltr, &[25.0, 50.0, 100.0]), "█▄▂");
    }

    #[test]
    fn rendering_shapes() {
        assert_eq!(Sparkline::new(5, 1, Normal, Rtl).render_text(), "     ");
        let mut s = Sparkline::new(10, 1, Normal, Rtl).with_range(0.0, Some(100.0));
        s.push(100.0);
        assert!(s.render_text().contains('█'));
        let mut s2 = Sparkline::new(4, 2, Normal, Rtl).with_range(0.0, Some(100.0));
        s2.push(100.0);
        let text = s2.render_text();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(text, "   █\n   █");
    }

    #[test]
    fn cells_carry_their_raw_values_in_data_order() {
        let mut s = Sparkline::new(3, 1, Normal, Rtl).with_range(0.0, Some(100.0));
        s.fill([10.0, 20.0, 30.0]);
        let values: Vec<f64> = s.cells()[0].iter().filter_map(|(_, v)| *v).collect();
        assert_eq!(values, [10.0, 20.0, 30.0]);
    }

    #[test]
    fn every_orientation_and_direction_renders() {
        for o in [Normal, Inverted, Mirrored] {
            for d in [Rtl, Ltr] {
                for h in 1..=4 {
                    let mut s = Sparkline::new(8, h, o, d).with_range(10.0, Some(60.0));
                    s.fill([0.0, 10.0, 25.0, 35.0, 60.0, 99.0]);
                    let text = s.render_text();
                    assert_eq!(text.lines().count(), h as usize, "{o:?} {d:?} {h}");
                    assert!(text.lines().all(|l| l.chars().count() == 8));
                }
            }
        }
        assert_eq!(SparklineDirection::default(), Rtl);
    }
}
