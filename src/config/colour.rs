//! Colour and style strings of the `[tui.colors.*]` tables.
//!
//! A style is whitespace-separated words: modifiers (`bold`, `dim`, `italic`, `underline`,
//! `reverse`) and at most one colour, written as hex (`#rgb`, `#rrggbb`) or by name (`red`,
//! `bright_green`, `purple`, …). `""` means the terminal default. Every named colour has an RGB
//! value, so any colour can take part in the band gradient.

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Lower-case `#rrggbb`.
    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// A parsed style string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StyleSpec {
    pub colour: Option<Rgb>,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub reverse: bool,
}

/// Named colours and their RGB values (xterm-like).
const NAMED: &[(&str, Rgb)] = &[
    ("black", Rgb(0, 0, 0)),
    ("red", Rgb(205, 0, 0)),
    ("green", Rgb(0, 205, 0)),
    ("yellow", Rgb(205, 205, 0)),
    ("blue", Rgb(0, 0, 238)),
    ("magenta", Rgb(205, 0, 205)),
    ("cyan", Rgb(0, 205, 205)),
    ("white", Rgb(229, 229, 229)),
    ("gray", Rgb(127, 127, 127)),
    ("grey", Rgb(127, 127, 127)),
    ("dark_gray", Rgb(85, 85, 85)),
    ("dark_grey", Rgb(85, 85, 85)),
    ("bright_black", Rgb(85, 85, 85)),
    ("bright_red", Rgb(255, 85, 85)),
    ("bright_green", Rgb(85, 255, 85)),
    ("bright_yellow", Rgb(255, 255, 85)),
    ("bright_blue", Rgb(92, 92, 255)),
    ("bright_magenta", Rgb(255, 85, 255)),
    ("bright_cyan", Rgb(85, 255, 255)),
    ("bright_white", Rgb(255, 255, 255)),
    ("purple", Rgb(189, 147, 249)),
    ("orange", Rgb(255, 184, 108)),
    ("pink", Rgb(255, 121, 198)),
];

/// Parses `#rgb` or `#rrggbb`.
pub fn parse_hex(s: &str) -> Option<Rgb> {
    let hex = s.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digit = |i: usize| u8::from_str_radix(&hex[i..i + 1], 16).ok();
    match hex.len() {
        3 => Some(Rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
        6 => Some(Rgb(
            u8::from_str_radix(&hex[0..2], 16).ok()?,
            u8::from_str_radix(&hex[2..4], 16).ok()?,
            u8::from_str_radix(&hex[4..6], 16).ok()?,
        )),
        _ => None,
    }
}

/// A colour word: hex or a known name (case-insensitive, `-` or `_` between words).
pub fn parse_colour(word: &str) -> Option<Rgb> {
    if word.starts_with('#') {
        return parse_hex(word);
    }
    let norm = word.to_ascii_lowercase().replace('-', "_");
    NAMED.iter().find(|(n, _)| *n == norm).map(|(_, rgb)| *rgb)
}

/// Parses a style string; the error says what is wrong in words a user can act on.
pub fn parse_style(s: &str) -> Result<StyleSpec, String> {
    let mut spec = StyleSpec::default();
    for word in s.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "bold" => spec.bold = true,
            "dim" => spec.dim = true,
            "italic" => spec.italic = true,
            "underline" => spec.underline = true,
            "reverse" => spec.reverse = true,
            _ => {
                let Some(rgb) = parse_colour(word) else {
                    return Err(format!(
                        "'{word}' is not a colour: use #rgb, #rrggbb, a colour name \
                         (red, bright_green, purple, …) or a modifier (bold, dim, italic, \
                         underline, reverse)"
                    ));
                };
                if spec.colour.is_some() {
                    return Err(format!("'{s}' names more than one colour"));
                }
                spec.colour = Some(rgb);
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_short_and_long_forms() {
        assert_eq!(parse_hex("#000").unwrap().to_hex(), "#000000");
        assert_eq!(parse_hex("#fff").unwrap().to_hex(), "#ffffff");
        assert_eq!(parse_hex("#FF00ff"), Some(Rgb(255, 0, 255)));
        assert_eq!(parse_hex("#ff00f"), None);
        assert_eq!(parse_hex("#gg0000"), None);
        assert_eq!(parse_hex("ff0000"), None);
    }

    #[test]
    fn styles_accept_the_original_forms() {
        for ok in [
            "",
            "dim",
            "bold red",
            "#FF00FF",
            "magenta",
            "bright_green",
            "dim red",
            "bold magenta",
        ] {
            assert!(parse_style(ok).is_ok(), "{ok}");
        }
        let s = parse_style("bold #ff0000").unwrap();
        assert!(s.bold && s.colour == Some(Rgb(255, 0, 0)));
        assert!(parse_style("blurple").is_err());
        assert!(parse_style("red blue").is_err());
        assert!(parse_style("#12").is_err());
    }
}
