//! Fitting table columns to a width: columns are kept in priority order while they fit, then
//! the one flexible column takes what is left. Narrow terminals lose the least useful columns
//! instead of squeezing every column into unreadable stubs.

/// One column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col {
    pub header: &'static str,
    /// Width of a fixed column; the minimum of the flexible one.
    pub width: u16,
    /// The flexible column grows into spare room (at most one per table).
    pub flex: bool,
    /// Lower is more important.
    pub priority: u8,
}

impl Col {
    pub const fn fixed(header: &'static str, width: u16, priority: u8) -> Col {
        Col {
            header,
            width,
            flex: false,
            priority,
        }
    }

    pub const fn flex(header: &'static str, min: u16, priority: u8) -> Col {
        Col {
            header,
            width: min,
            flex: true,
            priority,
        }
    }
}

/// Spacing between columns.
pub const GAP: u16 = 1;

/// Columns chosen for a width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// Indices into the column list, in table order, with their widths.
    pub cols: Vec<(usize, u16)>,
    /// Spacing between columns: [`GAP`], more when a wide terminal has room to spare.
    pub spacing: u16,
}

/// Most extra spacing a wide terminal adds between columns.
const MAX_EXTRA_GAP: u16 = 2;

/// The columns (indices into `cols`, in table order) that fit in `width`, with their widths.
pub fn fit(cols: &[Col], width: u16, flex_max: u16) -> Fitted {
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|&i| (cols[i].priority, i));
    let mut chosen: Vec<usize> = Vec::new();
    let mut used: u16 = 0;
    for i in order {
        let extra = cols[i].width + if chosen.is_empty() { 0 } else { GAP };
        if used.saturating_add(extra) <= width {
            used += extra;
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    let mut spare = width - used;
    let cols: Vec<(usize, u16)> = chosen
        .into_iter()
        .map(|i| {
            let c = cols[i];
            let w = if c.flex {
                let w = (c.width + spare).min(flex_max.max(c.width));
                spare -= w - c.width;
                w
            } else {
                c.width
            };
            (i, w)
        })
        .collect();
    let gaps = u16::try_from(cols.len().saturating_sub(1)).unwrap_or(u16::MAX);
    let extra = spare.checked_div(gaps).unwrap_or(0).min(MAX_EXTRA_GAP);
    Fitted {
        cols,
        spacing: GAP + extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [Col; 4] = [
        Col::fixed("A", 3, 0),
        Col::flex("Name", 5, 1),
        Col::fixed("Low", 6, 3),
        Col::fixed("Mid", 4, 2),
    ];

    #[test]
    fn everything_fits_and_the_flexible_column_takes_the_rest() {
        // 3+5+6+4 and 3 gaps = 21.
        let f = fit(&COLS, 25, 100);
        assert_eq!(f.cols, [(0, 3), (1, 9), (2, 6), (3, 4)]);
        assert_eq!(f.spacing, GAP);
        let capped = fit(&COLS, 25, 6);
        assert_eq!(capped.cols, [(0, 3), (1, 6), (2, 6), (3, 4)], "capped");
        assert_eq!(capped.spacing, GAP + 1, "3 spare columns over 3 gaps");
        assert_eq!(fit(&COLS, 60, 6).spacing, GAP + MAX_EXTRA_GAP);
    }

    #[test]
    fn the_least_important_columns_go_first() {
        assert_eq!(fit(&COLS, 20, 100).cols, [(0, 3), (1, 11), (3, 4)]);
        assert_eq!(fit(&COLS, 9, 100).cols, [(0, 3), (1, 5)]);
        assert_eq!(fit(&COLS, 4, 100).cols, [(0, 3)]);
        assert!(fit(&COLS, 2, 100).cols.is_empty());
        assert!(fit(&COLS, 0, 100).cols.is_empty());
    }
}
