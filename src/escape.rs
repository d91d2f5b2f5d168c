//! Text from outside this program — a process name, another daemon's version string, a client's
//! log message, a kernel log line — made safe to print on a terminal or in a log line.
//!
//! Any process can name itself `"\x1b]0;owned\x07"` or `"ok\nFAKE LOG LINE"`, and any user can
//! talk on a socket. Printed raw, such text moves the cursor, rewrites the screen or forges
//! lines. Every place that prints outside text goes through [`Escaped`] (or [`escape`], [`cut`]):
//! control characters (C0, DEL, C1) become visible escapes (`\n`, `\t`, `\x1b`, `\u{9b}`), and
//! so do the Unicode format characters that reorder text on screen (bidirectional overrides and
//! isolates), so what is shown is what is there. A backslash itself is left alone: the point is a
//! safe, readable screen, not a reversible encoding (JSON output keeps the exact bytes).

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Displays a string with every dangerous character escaped (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(needs_escape) {
            f.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or('?');
            write_escape(f, c)?;
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// True for the characters [`Escaped`] rewrites.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_reordering(c)
}

/// Unicode format characters that change the display order of the text around them
/// ("Trojan Source"): embeddings, overrides, isolates and the directional marks.
fn is_reordering(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn write_escape(out: &mut impl Write, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    }
}

/// `s` escaped; borrowed when nothing needed escaping (the usual case).
pub fn escape(s: &str) -> Cow<'_, str> {
    if s.contains(needs_escape) {
        Cow::Owned(Escaped(s).to_string())
    } else {
        Cow::Borrowed(s)
    }
}

/// Escapes `s` in place (for text kept and shown many times, such as a dashboard's rows).
pub fn escape_in_place(s: &mut String) {
    if s.contains(needs_escape) {
        *s = Escaped(s).to_string();
    }
}

/// The escaped text of `s`, at most `max` characters long; an escape sequence is never split.
pub fn cut(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    let mut piece = String::new();
    for c in s.chars() {
        piece.clear();
        if needs_escape(c) {
            let _ = write_escape(&mut piece, c);
        } else {
            piece.push(c);
        }
        let n = piece.chars().count();
        if len + n > max {
            break;
        }
        out.push_str(&piece);
        len += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_unchanged_and_borrowed() {
        assert_eq!(Escaped("firefox").to_string(), "firefox");
        assert!(matches!(escape("kworker/0:1-events"), Cow::Borrowed(_)));
        assert_eq!(escape("naïve ☃ 名前 a\\b"), "naïve ☃ 名前 a\\b");
    }

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(escape("evil\x1b[2Jname\n"), "evil\\x1b[2Jname\\n");
        assert_eq!(escape("a\tb\rc\x07\x00\x7f"), "a\\tb\\rc\\x07\\x00\\x7f");
        // C1 controls: \u{9b} is a one-byte CSI on some terminals.
        assert_eq!(escape("x\u{9b}31m"), "x\\u{9b}31m");
        assert_eq!(escape("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
    }

    #[test]
    fn reordering_characters_are_escaped() {
        assert_eq!(escape("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(escape("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        // Ordinary format characters such as a zero-width joiner in an emoji sequence stay.
        assert_eq!(escape("👩\u{200d}💻"), "👩\u{200d}💻");
    }

    #[test]
    fn in_place_escaping_matches() {
        let mut s = String::from("a\nb");
        escape_in_place(&mut s);
        assert_eq!(s, "a\\nb");
        let mut plain = String::from("plain");
        escape_in_place(&mut plain);
        assert_eq!(plain, "plain");
    }

    #[test]
    fn cut_never_splits_an_escape() {
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("ééééé", 2), "éé");
        assert_eq!(cut("a\tb", 5), "a\\tb");
        // "ab" + "\x1b" (4 characters) does not fit in 5: stop before it.
        assert_eq!(cut("ab\x1bcd", 5), "ab");
        assert_eq!(cut("ab\x1bcd", 6), "ab\\x1b");
        assert_eq!(cut("", 3), "");
        assert_eq!(cut("abc", 0), "");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever goes in, nothing a terminal interprets comes out, and text without
        /// dangerous characters comes out unchanged.
        #[test]
        fn output_is_always_printable(s in any::<String>()) {
            let out = escape(&s);
            prop_assert!(!out.chars().any(needs_escape), "{out:?}");
            if !s.contains(needs_escape) {
                prop_assert_eq!(out.as_ref(), s.as_str());
            }
            let c = cut(&s, 10);
            prop_assert!(c.chars().count() <= 10);
            prop_assert!(out.starts_with(&c));
        }
    }
}
