//! What the history commands share: the clock, durations in the original's formats, local
//! times, text that is safe to print in a table, CSV fields (RFC 4180) and JSON on stdout.
//!
//! Everything here is pure except [`now`] and [`print_json`].

use crate::model::Resource;
use chrono::{DateTime, Local, SecondsFormat};
use serde::Serialize;
use std::borrow::Cow;
use std::io::Write;

/// Environment variable that fixes "now" (epoch seconds) for reproducible output: ages and
/// durations of open events, the `history` window, the `prune` cut-off. Tests set it.
pub const NOW_ENV: &str = "ROGUE_HUNTER_NOW";

/// Wall-clock now (epoch seconds), or the value of [`NOW_ENV`] when it holds a number.
pub fn now() -> f64 {
    std::env::var(NOW_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .unwrap_or_else(crate::sys::now_epoch)
}

fn non_negative(seconds: f64) -> f64 {
    if seconds.is_finite() {
        seconds.max(0.0)
    } else {
        0.0
    }
}

/// Seconds an event lasted; None while it is open.
pub fn duration_raw(entry: f64, exit: Option<f64>) -> Option<f64> {
    exit.map(|x| non_negative(x - entry))
}

/// List format: closed `47.8s`, open `31s*` (whole seconds so far; the star means ongoing).
pub fn duration_compact(entry: f64, exit: Option<f64>, now: f64) -> String {
    match exit {
        Some(x) => format!("{:.1}s", non_negative(x - entry)),
        None => format!("{:.0}s*", non_negative(now - entry).floor()),
    }
}

/// Detail format: closed `47.8s`, open `ongoing`.
pub fn duration_verbose(entry: f64, exit: Option<f64>) -> String {
    match exit {
        Some(x) => format!("{:.1}s", non_negative(x - entry)),
        None => "ongoing".to_string(),
    }
}

/// How long ago, in one unit: `12s ago`, `5m ago`, `3h ago`, `2d ago`.
pub fn ago(seconds: f64) -> String {
    let s = non_negative(seconds) as u64;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// Epoch seconds as a local time, rounded to the millisecond (47.8 is stored as
/// 47.7999999…; truncating would print `.799`).
fn local(epoch: f64) -> Option<DateTime<Local>> {
    let ms = (epoch * 1000.0).round();
    if !ms.is_finite() || ms.abs() > 1e17 {
        return None;
    }
    Some(DateTime::from_timestamp_millis(ms as i64)?.with_timezone(&Local))
}

/// Local time with milliseconds: `2026-02-01 10:11:12.345`.
pub fn local_datetime(epoch: f64) -> String {
    local(epoch).map_or_else(
        || format!("{epoch}"),
        |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
    )
}

/// Local time to the second: `2026-02-01 10:11:12`.
pub fn local_seconds(epoch: f64) -> String {
    local(epoch).map_or_else(
        || format!("{epoch}"),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// Local time to the minute: `2026-02-01 10:11`.
pub fn local_minutes(epoch: f64) -> String {
    local(epoch).map_or_else(
        || format!("{epoch}"),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

/// Local clock time: `10:11:12`.
pub fn local_clock(epoch: f64) -> String {
    local(epoch).map_or_else(|| format!("{epoch}"), |t| t.format("%H:%M:%S").to_string())
}

/// RFC 3339 with the local offset and milliseconds, for JSON and CSV.
pub fn rfc3339(epoch: f64) -> String {
    local(epoch).map_or_else(
        || crate::store::time::rfc3339(epoch),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, false),
    )
}

/// A number of seconds rounded to milliseconds, so JSON shows `47.8`, not `47.80000000000001`.
pub fn seconds3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Text from a process (its command name, a log line) or another program, made safe for a
/// terminal: control and reordering characters become visible escapes (see [`crate::escape`]).
pub fn printable(s: &str) -> Cow<'_, str> {
    crate::escape::escape(s)
}

/// The first `max` characters of `s` (printable; an escape is never split).
pub fn cut(s: &str, max: usize) -> String {
    crate::escape::cut(s, max)
}

/// One CSV field per RFC 4180: quoted when it holds a comma, a quote, CR or LF (or starts or
/// ends with a space), with quotes doubled.
pub fn csv_field(s: &str) -> Cow<'_, str> {
    let needs_quotes = s.contains([',', '"', '\r', '\n']) || s.starts_with(' ') || s.ends_with(' ');
    if needs_quotes {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// One CSV record, CRLF-terminated (RFC 4180).
pub fn csv_record<'a>(fields: impl IntoIterator<Item = Cow<'a, str>>) -> String {
    let mut line = fields
        .into_iter()
        .map(|f| csv_field(&f).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// A measured value for people: two decimals (`198.5`, `0.12`), trailing zeros dropped, and
/// three significant digits when it is smaller than that (`0.00123`); never `198.49542354204064`.
pub fn decimal(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    let places = if a == 0.0 || a >= 0.01 {
        2
    } else {
        // Three significant digits: 0.001234 → 0.00123.
        (2 - a.log10().floor() as i32).clamp(2, 12) as usize
    };
    let s = format!("{v:.places$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A multiple of fair share, as the TUI shows it: `12.35x`.
pub fn multiple(v: f64) -> String {
    format!("{v:.2}x")
}

/// `[dominant: cpu (12.35x)]`.
pub fn dominant(resource: Resource, disproportionality: f64) -> String {
    format!("[dominant: {resource} ({})]", multiple(disproportionality))
}

/// Bytes with a binary unit: `512 B`, `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `1 event`, `2 events`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `… and 3 more threads`.
pub fn and_more(n: u64, one: &str, many: &str) -> String {
    format!("… and {n} more {}", if n == 1 { one } else { many })
}

/// Pretty JSON (two-space indent) and a newline on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_the_original_f1_to_f8() {
        // F1, F2: compact, closed.
        assert_eq!(duration_compact(1000.0, Some(1001.5), 0.0), "1.5s");
        assert_eq!(duration_compact(1000.0, Some(1125.7), 0.0), "125.7s");
        // F3: compact, open, with now.
        assert_eq!(duration_compact(1000.0, None, 1010.0), "10s*");
        assert_eq!(duration_compact(1000.0, None, 1010.9), "10s*");
        // F5, F6: verbose.
        assert_eq!(duration_verbose(1000.0, Some(1001.5)), "1.5s");
        assert_eq!(duration_verbose(1000.0, None), "ongoing");
        // F7, F8: raw.
        assert!((duration_raw(1000.0, Some(1125.7)).unwrap() - 125.7).abs() < 1e-9);
        assert_eq!(duration_raw(1000.0, None), None);
        // A clock that went backwards never shows a negative duration.
        assert_eq!(duration_compact(1000.0, None, 990.0), "0s*");
        assert_eq!(duration_verbose(1000.0, Some(999.0)), "0.0s");
    }

    #[test]
    fn ages_use_one_unit() {
        assert_eq!(ago(0.4), "0s ago");
        assert_eq!(ago(59.9), "59s ago");
        assert_eq!(ago(60.0), "1m ago");
        assert_eq!(ago(7200.0), "2h ago");
        assert_eq!(ago(3.0 * 86_400.0), "3d ago");
        assert_eq!(ago(-5.0), "0s ago");
    }

    #[test]
    fn csv_fields_are_quoted_per_rfc_4180() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
        assert_eq!(
            csv_record(["1".into(), "x, \"y\"".into(), "".into()]),
            "1,\"x, \"\"y\"\"\",\r\n"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("ok name"), "ok name");
        assert!(matches!(printable("ok"), Cow::Borrowed(_)));
        assert_eq!(printable("evil\x1b[2Jname\n"), "evil\\x1b[2Jname\\n");
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("a\tb", 5), "a\\tb");
    }

    #[test]
    fn measured_values_are_rounded_for_people() {
        assert_eq!(decimal(198.49542354204064), "198.5");
        assert_eq!(decimal(12.345), "12.35");
        assert_eq!(decimal(0.1234), "0.12");
        assert_eq!(decimal(2.0), "2");
        assert_eq!(decimal(0.0), "0");
        assert_eq!(decimal(-0.0001), "-0.0001");
        assert_eq!(decimal(0.0012345), "0.00123");
        assert_eq!(decimal(1_763_000_123.456), "1763000123.46");
        assert_eq!(decimal(f64::NAN), "NaN");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(multiple(12.345), "12.35x");
        assert_eq!(dominant(Resource::Cpu, 2.5), "[dominant: cpu (2.50x)]");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(plural(1, "event", "events"), "1 event");
        assert_eq!(plural(0, "event", "events"), "0 events");
        assert_eq!(and_more(3, "thread", "threads"), "… and 3 more threads");
        assert_eq!(seconds3(47.800000000001), 47.8);
    }

    #[test]
    fn local_times_have_the_expected_shape() {
        let t = 1_764_137_679.125;
        let full = local_datetime(t);
        assert_eq!(full.len(), "2026-02-01 10:11:12.125".len());
        assert!(full.ends_with(".125"), "{full}");
        assert!(full.starts_with(&local_seconds(t)));
        assert!(local_seconds(t).starts_with(&local_minutes(t)));
        assert!(local_seconds(t).ends_with(&local_clock(t)));
        assert_eq!(local_datetime(f64::NAN), "NaN");
        assert!(rfc3339(t).contains('T'));
        // Rounded, not truncated: 47.8 is 47.7999999… as a double.
        assert!(local_datetime(1_763_982_047.8).ends_with(":47.800"));
        assert!(
            rfc3339(1_763_982_047.8).contains(":47.800"),
            "{}",
            rfc3339(1_763_982_047.8)
        );
    }
}
