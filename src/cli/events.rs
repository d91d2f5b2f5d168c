//! `events [--limit N] [--open] [--all-boots] [--json]`: the events of the current boot (or of
//! every boot), newest first. `events show ID` lives in `events_show.rs`.

use super::Context;
use super::database::{self, NOT_FOUND};
use super::events_show::{self, ShowArgs};
use super::output::{
    self, cut, duration_compact, duration_raw, local_seconds, plural, print_json, rfc3339, seconds3,
};
use crate::model::{Band, ExitReason};
use crate::store::queries::{self, EventFilter, EventRow};
use clap::{Args, Subcommand};
use serde::Serialize;

/// `events` and its `show` subcommand.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EventsArgs {
    /// Show at most this many events, newest first (0: all).
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    pub limit: u32,
    /// Only events that are still open.
    #[arg(long)]
    pub open: bool,
    /// Events of every boot, not only of the current one.
    #[arg(long)]
    pub all_boots: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<EventsAction>,
}

/// `events show`.
#[derive(Debug, Subcommand)]
pub enum EventsAction {
    /// One event in detail: snapshots, forensic captures and their parts.
    Show(ShowArgs),
}

/// An event as `events --json` and `history --format json` print it. Times are RFC 3339 with
/// the local offset (`entry`, `exit`) and epoch seconds (`entry_time`, `exit_time`).
#[derive(Debug, Clone, Serialize)]
pub struct EventJson {
    pub id: i64,
    pub pid: u32,
    pub command: String,
    pub entry: String,
    pub exit: Option<String>,
    /// None while the event is open.
    pub duration_sec: Option<f64>,
    pub open: bool,
    pub entry_band: Band,
    pub peak_band: Band,
    pub peak_score: i64,
    pub exit_reason: Option<ExitReason>,
    pub captures: i64,
    pub entry_time: f64,
    pub exit_time: Option<f64>,
    /// Process start (RFC 3339); with `pid`, the process's identity. None for rows of the original.
    pub process_start: Option<String>,
    pub boot_time: i64,
    /// The unit the event is about (None for events recorded before units).
    pub unit: Option<UnitJson>,
    /// Why the peak score was what it was (None before reasons were recorded).
    pub reason: Option<String>,
}

/// The unit of an event: `pid` and `command` above are its leader's.
#[derive(Debug, Clone, Serialize)]
pub struct UnitJson {
    pub key: String,
    pub kind: Option<crate::model::UnitKind>,
    pub label: String,
    pub members: u32,
}

impl EventJson {
    pub fn from_row(e: &EventRow) -> EventJson {
        EventJson {
            id: e.id,
            pid: e.pid,
            command: e.command.clone(),
            entry: rfc3339(e.entry_time),
            exit: e.exit_time.map(rfc3339),
            duration_sec: duration_raw(e.entry_time, e.exit_time).map(seconds3),
            open: e.exit_time.is_none(),
            entry_band: e.entry_band,
            peak_band: e.peak_band,
            peak_score: e.peak_score,
            exit_reason: e.exit_reason,
            captures: e.capture_count,
            entry_time: e.entry_time,
            exit_time: e.exit_time,
            process_start: e.start_time.filter(|t| *t > 0.0).map(rfc3339),
            boot_time: e.boot_time,
            unit: e.unit_key.as_ref().map(|key| UnitJson {
                key: key.clone(),
                kind: e.unit_kind,
                label: e.unit_label.clone().unwrap_or_default(),
                members: e.members.unwrap_or(1),
            }),
            reason: e.reason.clone(),
        }
    }
}

pub(super) fn run(ctx: &Context, args: EventsArgs) -> anyhow::Result<()> {
    if let Some(EventsAction::Show(show)) = args.action {
        return events_show::run(ctx, show);
    }
    let Some(conn) = database::open(&ctx.paths.db_file)? else {
        if args.json {
            eprintln!("{NOT_FOUND}");
            return print_json(&Vec::<EventJson>::new());
        }
        println!("{NOT_FOUND}");
        return Ok(());
    };
    let boot = if args.all_boots {
        None
    } else {
        database::current_boot()
    };
    let filter = EventFilter {
        limit: (args.limit > 0).then_some(args.limit),
        open_only: args.open,
        boot_time: boot,
        since: None,
    };
    let rows = queries::events(&conn, &filter)?;
    let total = queries::count_events(&conn, &filter)?;
    if args.json {
        let list: Vec<EventJson> = rows.iter().map(EventJson::from_row).collect();
        print_json(&list)?;
        if total > rows.len() as u64 {
            eprintln!("{}", more_note(rows.len(), total));
        }
        return Ok(());
    }
    let earlier_boots = if rows.is_empty() && boot.is_some() {
        queries::count_events(
            &conn,
            &EventFilter {
                boot_time: None,
                ..filter.clone()
            },
        )?
    } else {
        0
    };
    print!(
        "{}",
        render_table(&rows, total, args.open, earlier_boots, output::now())
    );
    Ok(())
}

/// The event's command cut to `width`, keeping a unit's member count (`make ×8`) whole.
pub fn culprit(e: &EventRow, width: usize) -> String {
    match e.members {
        Some(n) if n > 1 => {
            let suffix = format!(" ×{n}");
            let room = width.saturating_sub(suffix.chars().count()).max(1);
            format!("{}{suffix}", cut(&e.command, room))
        }
        _ => cut(&e.command, width),
    }
}

fn more_note(shown: usize, total: u64) -> String {
    format!("Showing the newest {shown} of {total} events; use --limit N (0 for all) to see more.")
}

const HEADER: &str =
    "   ID  Command                   PID    Duration   Peak Band   Score  Started";
/// The header and the widest row: the start time is 19 characters, its title 7.
const TABLE_WIDTH: usize = HEADER.len() + 12;

/// The event table (the original's columns and widths, plus the start time; a unit's command
/// with its member count), each event's reason on the line below it, and a note when the limit
/// left events out.
pub fn render_table(
    rows: &[EventRow],
    total: u64,
    open_only: bool,
    earlier_boots: u64,
    now: f64,
) -> String {
    if rows.is_empty() {
        let mut out = String::from(if open_only {
            "No open events.\n"
        } else {
            "No events recorded.\n"
        });
        if earlier_boots > 0 {
            out.push_str(&format!(
                "{} from earlier boots: use --all-boots to list them.\n",
                plural(earlier_boots, "event", "events")
            ));
        }
        return out;
    }
    let mut out = String::new();
    out.push_str(HEADER);
    out.push('\n');
    out.push_str(&"-".repeat(TABLE_WIDTH));
    out.push('\n');
    for e in rows {
        out.push_str(&format!(
            "{:>5}  {:<20}  {:>7}  {:>10}  {:>10}  {:>6}  {}\n",
            e.id,
            culprit(e, 20),
            e.pid,
            duration_compact(e.entry_time, e.exit_time, now),
            e.peak_band.as_str(),
            e.peak_score,
            local_seconds(e.entry_time),
        ));
        if let Some(r) = e.reason.as_deref().filter(|r| !r.is_empty()) {
            out.push_str(&format!("       ↳ {}\n", cut(&output::printable(r), 100)));
        }
    }
    if total > rows.len() as u64 {
        out.push('\n');
        out.push_str(&more_note(rows.len(), total));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, command: &str, exit: Option<f64>) -> EventRow {
        EventRow {
            id,
            pid: 1234,
            command: command.into(),
            boot_time: 1,
            entry_time: 1000.0,
            exit_time: exit,
            entry_band: Band::Elevated,
            peak_band: Band::High,
            peak_score: 65,
            peak_snapshot_id: None,
            start_time: None,
            exit_reason: None,
            capture_count: 0,
            ..Default::default()
        }
    }

    #[test]
    fn the_table_keeps_the_original_columns() {
        let text = render_table(
            &[
                row(12, "a-very-long-command-name-indeed", Some(1047.8)),
                row(13, "bridge\x1b", None),
            ],
            2,
            false,
            0,
            1031.2,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("   ID  Command"));
        assert!(lines[1].chars().all(|c| c == '-'));
        assert_eq!(lines[1].len(), TABLE_WIDTH);
        assert_eq!(lines[2].len(), TABLE_WIDTH);
        assert!(
            lines[2].starts_with(
                "   12  a-very-long-command-     1234       47.8s        high      65  "
            ),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with(
                "   13  bridge?                  1234        31s*        high      65  "
            ),
            "{}",
            lines[3]
        );
    }

    #[test]
    fn a_cut_list_says_how_many_it_left_out() {
        let text = render_table(&[row(1, "x", Some(1001.0))], 5, false, 0, 0.0);
        assert!(text.contains("Showing the newest 1 of 5 events"), "{text}");
        assert_eq!(
            render_table(&[], 0, false, 3, 0.0),
            "No events recorded.\n3 events from earlier boots: use --all-boots to list them.\n"
        );
        assert_eq!(render_table(&[], 0, true, 0, 0.0), "No open events.\n");
    }

    #[test]
    fn json_rows_carry_both_time_forms() {
        let mut r = row(7, "x", Some(1047.8));
        r.start_time = Some(900.0);
        let j = EventJson::from_row(&r);
        assert_eq!(j.duration_sec, Some(47.8));
        assert!(!j.open);
        assert_eq!(j.entry, rfc3339(1000.0));
        assert!(j.process_start.is_some());
        let open = EventJson::from_row(&row(8, "y", None));
        assert_eq!(open.duration_sec, None);
        assert!(open.open && open.exit.is_none());
    }
}
