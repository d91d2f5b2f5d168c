//! The event report as one self-contained HTML page: inline CSS, inline SVG charts
//! ([`chart`]), a small inline script for hover and zoom; no network, no fonts, no external
//! file. Pure: [`render`] turns gathered evidence into a string.
//!
//! Every text that comes from the database (process names, log lines, errors) is escaped, and
//! control characters become `?`; the JSON behind the charts cannot close its `<script>`.

pub mod chart;
mod sections;

use super::evidence::EventEvidence;
use crate::config::BandsConfig;
use crate::model::Band;
use serde::Serialize;
use std::fmt::Write as _;

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// What the page needs besides the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Band thresholds drawn on the score chart.
    pub bands: BandsConfig,
    /// Seconds east of UTC for the clock times shown.
    pub utc_offset: i32,
    /// When the report was made (epoch seconds).
    pub generated_at: f64,
    /// The rogue-hunter version that made it.
    pub version: String,
}

/// Text for HTML (content or a quoted attribute); control characters become `?`.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// JSON that is safe inside `<script type="application/json">`: no `<` can start `</script>`
/// or a comment.
pub fn json_for_script<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
}

/// Clock formats at a fixed offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock(pub i32);

impl Clock {
    fn at(self, epoch: f64, fmt: &str) -> String {
        let ms = (epoch * 1000.0).round();
        let tz = chrono::FixedOffset::east_opt(self.0)
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC is an offset"));
        if !ms.is_finite() || ms.abs() > 1e17 {
            return "?".into();
        }
        match chrono::DateTime::from_timestamp_millis(ms as i64) {
            Some(t) => t.with_timezone(&tz).format(fmt).to_string(),
            None => "?".into(),
        }
    }

    /// `2025-11-24 19:30:00`.
    pub fn datetime(self, epoch: f64) -> String {
        self.at(epoch, "%Y-%m-%d %H:%M:%S")
    }

    /// `19:30:00.250`.
    pub fn clock_ms(self, epoch: f64) -> String {
        self.at(epoch, "%H:%M:%S%.3f")
    }

    /// `19:30:00`.
    pub fn clock(self, epoch: f64) -> String {
        self.at(epoch, "%H:%M:%S")
    }

    /// `+05:30`.
    pub fn zone(self) -> String {
        let m = self.0 / 60;
        format!(
            "{}{:02}:{:02}",
            if m < 0 { '-' } else { '+' },
            m.abs() / 60,
            m.abs() % 60
        )
    }
}

/// The HTML page of an event.
pub fn render(ev: &EventEvidence, opts: &Options) -> String {
    let clock = Clock(opts.utc_offset);
    let e = &ev.event;
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("Event #{} — {} · rogue-hunter", e.id, e.culprit());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"rogue-hunter {}\">\
         <title>{}</title><style>{CSS}</style></head><body>",
        esc(&opts.version),
        esc(&title)
    );
    let _ = write!(
        out,
        "<header><h1>Event #{} <span class=\"cmd\">{}</span> <span class=\"pid\">pid {}</span></h1>\
         <p class=\"sub\"><span class=\"badge band-{}\">{} {}</span> {} · report made {} (UTC{}) by rogue-hunter {}</p></header>",
        e.id,
        esc(&e.culprit()),
        e.pid,
        e.peak_band,
        e.peak_score,
        e.peak_band,
        clock.datetime(e.entry_time),
        clock.datetime(opts.generated_at),
        clock.zone(),
        esc(&opts.version),
    );
    out.push_str("<nav><a href=\"#summary\">Summary</a> <a href=\"#timeline\">Timeline</a>");
    for c in &ev.captures {
        let _ = write!(
            out,
            " <a href=\"#capture-{0}\">Capture #{0}</a>",
            c.capture.id
        );
    }
    out.push_str("</nav><main>");
    sections::summary(&mut out, ev, clock, opts);
    sections::timeline(&mut out, ev, opts);
    if ev.captures.is_empty() {
        out.push_str(
            "<section id=\"captures\"><h2>Forensic captures</h2><p class=\"missing\">No forensic \
             captures for this event: a capture is taken when a process reaches the forensics \
             band, or on request (<code>rogue-hunter capture --pid PID</code>).</p></section>",
        );
    }
    for c in &ev.captures {
        sections::capture(&mut out, ev, c, clock);
    }
    let _ = writeln!(
        out,
        "</main><footer><p>Charts: the top {} processes of a buffer each get a layer, the rest \
         is summed as “other”; more than {} samples are averaged in equal buckets; an event's \
         timeline keeps at most {} points, each the highest value of its bucket. Drag across a \
         chart to zoom, double-click to zoom out.</p></footer><script>{JS}</script></body></html>",
        super::series::TOP_SERIES,
        super::series::MAX_POINTS,
        super::timeline::MAX_POINTS,
    );
    out
}

/// The band thresholds from medium up, for the score chart.
fn thresholds(b: &BandsConfig) -> [(Band, u8); 4] {
    [
        (Band::Medium, b.medium),
        (Band::Elevated, b.elevated),
        (Band::High, b.high),
        (Band::Critical, b.critical),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_database_cannot_break_the_page() {
        assert_eq!(
            esc("<b a=\"x\">&'\u{1b}[31m"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;?[31m"
        );
        assert_eq!(
            json_for_script(&"</script><!--"),
            r#""\u003c/script>\u003c!--""#
        );
    }

    #[test]
    fn clocks_use_the_given_offset() {
        let c = Clock(19_800);
        assert_eq!(c.datetime(0.0), "1970-01-01 05:30:00");
        assert_eq!(c.clock_ms(0.25), "05:30:00.250");
        assert_eq!(c.zone(), "+05:30");
        assert_eq!(Clock(-3600).zone(), "-01:00");
        assert_eq!(c.datetime(f64::NAN), "?");
    }
}
