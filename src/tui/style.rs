//! Config style strings → ratatui styles.

use crate::config::colour::{Rgb, StyleSpec, parse_style};
use ratatui::style::{Color, Modifier, Style};

/// A ratatui colour from RGB.
pub fn colour(rgb: Rgb) -> Color {
    Color::Rgb(rgb.0, rgb.1, rgb.2)
}

/// The style a config string describes (validated at load; anything else is the default style).
pub fn style(s: &str) -> Style {
    from_spec(parse_style(s).unwrap_or_default())
}

/// The style of a parsed spec.
pub fn from_spec(spec: StyleSpec) -> Style {
    let mut st = Style::default();
    if let Some(rgb) = spec.colour {
        st = st.fg(colour(rgb));
    }
    for (on, m) in [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.underline, Modifier::UNDERLINED),
        (spec.reverse, Modifier::REVERSED),
    ] {
        if on {
            st = st.add_modifier(m);
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_map_colour_and_modifiers() {
        let s = style("bold #ff0000");
        assert_eq!(s.fg, Some(Color::Rgb(255, 0, 0)));
        assert!(s.add_modifier.contains(Modifier::BOLD));
        assert_eq!(style("dim").fg, None);
        assert!(style("dim").add_modifier.contains(Modifier::DIM));
        assert_eq!(style(""), Style::default());
        assert_eq!(style("not a colour"), Style::default());
    }
}
