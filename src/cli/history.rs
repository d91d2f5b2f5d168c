//! `history [-H HOURS] [--format table|json|csv]`: the events of the last hours, across boots.
//! The table is a summary; JSON and CSV export every event (or one page of them with
//! `--limit`/`--offset`, saying on stderr how many are left).

use super::Context;
use super::database::{self, NOT_FOUND};
use super::events::EventJson;
use super::output::{
    self, and_more, csv_record, cut, duration_raw, local_minutes, plural, print_json, rfc3339,
};
use crate::model::Band;
use crate::store::queries::{self, EventFilter, EventRow};
use clap::{Args, ValueEnum};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

/// Output format of `history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary: counts, score range, bands, busiest commands, tracked time.
    Table,
    /// Every event as a JSON array.
    Json,
    /// Every event as CSV (RFC 4180).
    Csv,
}

/// Arguments of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How far back, in hours.
    #[arg(short = 'H', long, default_value_t = 24, value_name = "HOURS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub hours: u32,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// JSON/CSV: at most this many events (newest first).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// JSON/CSV: skip this many of the newest events (the next page).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: u32,
}

/// The CSV columns: the original's, then ours.
pub const CSV_HEADER: [&str; 11] = [
    "id",
    "pid",
    "command",
    "entry",
    "exit",
    "duration_sec",
    "entry_band",
    "peak_band",
    "peak_score",
    "exit_reason",
    "captures",
];

pub(super) fn run(ctx: &Context, args: HistoryArgs) -> anyhow::Result<()> {
    let Some(conn) = database::open(&ctx.paths.db_file)? else {
        return match args.format {
            Format::Table => {
                println!("{NOT_FOUND}");
                Ok(())
            }
            Format::Json => {
                eprintln!("{NOT_FOUND}");
                print_json(&Vec::<EventJson>::new())
            }
            Format::Csv => {
                eprintln!("{NOT_FOUND}");
                write_stdout(&csv(&[]))
            }
        };
    };
    let now = output::now();
    let filter = EventFilter {
        since: Some(now - f64::from(args.hours) * 3600.0),
        ..EventFilter::default()
    };
    if args.format == Format::Table {
        let rows = queries::events(&conn, &filter)?;
        return write_stdout(&summary(&rows, args.hours));
    }
    let page = EventFilter {
        limit: args.limit,
        ..filter.clone()
    };
    let rows = queries::events_page(&conn, &page, args.offset)?;
    let total = queries::count_events(&conn, &filter)?;
    if rows.is_empty() && total == 0 {
        eprintln!("{}", none_in_window(args.hours));
    }
    match args.format {
        Format::Json => print_json(&rows.iter().map(EventJson::from_row).collect::<Vec<_>>())?,
        _ => write_stdout(&csv(&rows))?,
    }
    let after = u64::from(args.offset) + rows.len() as u64;
    if total > after {
        let left = total - after;
        eprintln!(
            "{left} more {} in the last {}: use --offset {after} for the next page.",
            if left == 1 { "event" } else { "events" },
            plural(u64::from(args.hours), "hour", "hours")
        );
    }
    Ok(())
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn none_in_window(hours: u32) -> String {
    format!(
        "No events in the last {hours} hour{}",
        if hours == 1 { "" } else { "s" }
    )
}

/// The events as CSV: a header and one CRLF-terminated record per event.
pub fn csv(rows: &[EventRow]) -> String {
    let mut out = csv_record(CSV_HEADER.iter().map(|h| Cow::Borrowed(*h)));
    for e in rows {
        let fields: Vec<Cow<'_, str>> = vec![
            e.id.to_string().into(),
            e.pid.to_string().into(),
            Cow::Borrowed(e.command.as_str()),
            rfc3339(e.entry_time).into(),
            e.exit_time.map(rfc3339).unwrap_or_default().into(),
            duration_raw(e.entry_time, e.exit_time)
                .map(|d| format!("{d:.1}"))
                .unwrap_or_default()
                .into(),
            e.entry_band.as_str().into(),
            e.peak_band.as_str().into(),
            e.peak_score.to_string().into(),
            e.exit_reason.map(|r| r.as_str()).unwrap_or_default().into(),
            e.capture_count.to_string().into(),
        ];
        out.push_str(&csv_record(fields));
    }
    out
}

/// Commands listed in the summary.
const TOP_COMMANDS: usize = 5;

/// The table format: a summary of the events in the window.
pub fn summary(rows: &[EventRow], hours: u32) -> String {
    if rows.is_empty() {
        return format!("{}\n", none_in_window(hours));
    }
    let mut out = Vec::<String>::new();
    let open = rows.iter().filter(|e| e.exit_time.is_none()).count();
    out.push(if open > 0 {
        format!("Events: {} ({open} still open)", rows.len())
    } else {
        format!("Events: {}", rows.len())
    });
    let first = rows
        .iter()
        .map(|e| e.entry_time)
        .fold(f64::INFINITY, f64::min);
    let last = rows
        .iter()
        .map(|e| e.entry_time)
        .fold(f64::NEG_INFINITY, f64::max);
    out.push(format!(
        "Time range: {} to {}",
        local_minutes(first),
        local_minutes(last)
    ));
    let scores: Vec<i64> = rows.iter().map(|e| e.peak_score).collect();
    let min = scores.iter().min().copied().unwrap_or(0);
    let max = scores.iter().max().copied().unwrap_or(0);
    let avg = scores.iter().sum::<i64>() as f64 / scores.len() as f64;
    out.push(format!(
        "Peak scores - Min: {min}, Max: {max}, Avg: {avg:.1}"
    ));

    out.push(String::new());
    out.push("Peak band breakdown:".to_string());
    for band in Band::ALL {
        let n = rows.iter().filter(|e| e.peak_band == band).count() as u64;
        if n > 0 {
            out.push(format!("  {band}: {}", plural(n, "event", "events")));
        }
    }

    // Commands with the most events (then the longest tracked time).
    let mut by_command: HashMap<&str, (u64, f64)> = HashMap::new();
    for e in rows {
        let entry = by_command.entry(e.command.as_str()).or_default();
        entry.0 += 1;
        entry.1 += duration_raw(e.entry_time, e.exit_time).unwrap_or(0.0);
    }
    let mut top: Vec<(&str, (u64, f64))> = by_command.into_iter().collect();
    top.sort_by(|a, b| {
        b.1.0
            .cmp(&a.1.0)
            .then(b.1.1.total_cmp(&a.1.1))
            .then(a.0.cmp(b.0))
    });
    out.push(String::new());
    out.push("Most frequent:".to_string());
    for (command, (n, secs)) in top.iter().take(TOP_COMMANDS) {
        out.push(format!(
            "  {}: {}, {secs:.0}s tracked",
            cut(command, 40),
            plural(*n, "event", "events")
        ));
    }
    if top.len() > TOP_COMMANDS {
        out.push(format!(
            "  {}",
            and_more((top.len() - TOP_COMMANDS) as u64, "command", "commands")
        ));
    }

    let total: f64 = rows
        .iter()
        .filter_map(|e| duration_raw(e.entry_time, e.exit_time))
        .sum();
    if total > 0.0 {
        out.push(String::new());
        out.push(format!(
            "Total tracked time: {total:.0}s ({:.1}m)",
            total / 60.0
        ));
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        id: i64,
        command: &str,
        entry: f64,
        exit: Option<f64>,
        band: Band,
        score: i64,
    ) -> EventRow {
        EventRow {
            id,
            pid: 100 + id as u32,
            command: command.into(),
            boot_time: 1,
            entry_time: entry,
            exit_time: exit,
            entry_band: Band::Medium,
            peak_band: band,
            peak_score: score,
            peak_snapshot_id: None,
            start_time: None,
            exit_reason: None,
            capture_count: 0,
            ..Default::default()
        }
    }

    #[test]
    fn the_summary_counts_bands_and_time() {
        let rows = [
            row(3, "b", 3000.0, Some(3030.0), Band::High, 70),
            row(2, "a", 2000.0, Some(2045.0), Band::Elevated, 60),
            row(1, "a", 1000.0, Some(1015.0), Band::Elevated, 50),
        ];
        let text = summary(&rows, 24);
        assert!(text.starts_with("Events: 3\nTime range: "), "{text}");
        assert!(text.contains("Peak scores - Min: 50, Max: 70, Avg: 60.0"));
        assert!(
            text.contains("  elevated: 2 events\n  high: 1 event\n"),
            "{text}"
        );
        assert!(text.contains("  a: 2 events, 60s tracked\n  b: 1 event, 30s tracked"));
        assert!(text.ends_with("Total tracked time: 90s (1.5m)\n"), "{text}");
        assert_eq!(summary(&[], 1), "No events in the last 1 hour\n");
        assert_eq!(summary(&[], 24), "No events in the last 24 hours\n");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let text = csv(&[row(1, "evil, \"name\"", 1000.0, None, Band::High, 70)]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.len(), 3, "{text:?}");
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert!(
            lines[1].starts_with("1,101,\"evil, \"\"name\"\"\","),
            "{}",
            lines[1]
        );
        // Open: empty exit and duration.
        assert!(lines[1].contains(",,,medium,high,70,,0"), "{}", lines[1]);
        assert_eq!(lines[2], "");
    }
}
