//! `prune [--events-days N] [--dry-run] [--yes]`: deletes closed events older than N days (with
//! their snapshots and captures), captures and machine snapshots past their own retention.
//!
//! It works on its own read-write connection while the daemon runs: every batch is a short
//! transaction, and a batch that finds the daemon's writer holding the lock waits for it (the
//! connection's busy timeout) instead of failing at once.

use super::database::{self, NOT_FOUND};
use super::output::{self, plural};
use super::{Aborted, Context, confirm};
use crate::store::{PruneCounts, PrunePolicy, StoreError, open_writer, prune};
use clap::Args;

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete closed events older than this many days (default: `[retention] events_days`).
    #[arg(long, value_name = "N", value_parser = parse_days)]
    pub events_days: Option<u32>,
    /// Only count what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Days of retention: a whole number of at least 1 (0 would mean "delete every closed event",
/// which the original silently did by treating 0 as "unset").
fn parse_days(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) => Err("must be at least 1 day".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{text}' is not a whole number of days")),
    }
}

fn days(n: u32) -> String {
    plural(u64::from(n), "day", "days")
}

pub(super) fn run(ctx: &Context, args: PruneArgs) -> anyhow::Result<()> {
    let path = &ctx.paths.db_file;
    let Some(reader) = database::open(path)? else {
        println!("{NOT_FOUND}");
        return Ok(());
    };
    let config = ctx.load_config()?;
    let mut policy = PrunePolicy::from(&config.retention);
    if let Some(days) = args.events_days {
        policy.events_days = days;
    }
    let now = output::now();
    let counts = prune::dry_run(&reader, &policy, now)?;
    drop(reader);
    print!("{}", render_plan(&policy, &counts));
    if args.dry_run {
        return Ok(());
    }
    if counts == PruneCounts::default() {
        println!("Nothing to prune.");
        return Ok(());
    }
    if !args.yes
        && !confirm(&format!(
            "Delete closed events older than {}?",
            days(policy.events_days)
        ))?
    {
        return Err(Aborted.into());
    }
    let (conn, _) = open_writer(path, now)?;
    let done = prune::prune(&conn, &policy, now).map_err(explain_busy)?;
    println!("{}", render_done(&done));
    Ok(())
}

/// A lock the daemon held past the busy timeout gets a hint instead of a bare SQLite error.
fn explain_busy(e: StoreError) -> anyhow::Error {
    let busy = matches!(
        &e,
        StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(f, _), .. }
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if busy {
        anyhow::Error::new(e).context(
            "the database stayed locked by another writer (the daemon storing a large capture?); \
             what was deleted so far stays deleted, run prune again",
        )
    } else {
        e.into()
    }
}

/// What would go, one line per retention rule (the dry run, and the preview before asking).
pub fn render_plan(p: &PrunePolicy, c: &PruneCounts) -> String {
    let mut out = format!(
        "Would prune closed events older than {}: {}\n",
        days(p.events_days),
        plural(c.events, "event", "events")
    );
    out.push_str(&format!(
        "Would prune captures older than {}, and those of pruned events: {}\n",
        days(p.captures_days),
        plural(c.captures, "capture", "captures")
    ));
    out.push_str(&format!(
        "Would prune machine snapshots older than {} hours: {}\n",
        p.machine_snapshot_hours,
        plural(c.machine_snapshots, "snapshot", "snapshots")
    ));
    if c.orphan_rows > 0 {
        out.push_str(&format!(
            "Would remove {} left without a parent by the original\n",
            plural(c.orphan_rows, "row", "rows")
        ));
    }
    out
}

/// What was deleted.
pub fn render_done(c: &PruneCounts) -> String {
    let mut text = format!(
        "Deleted {}, {}, {}",
        plural(c.events, "event", "events"),
        plural(c.captures, "capture", "captures"),
        plural(c.machine_snapshots, "machine snapshot", "machine snapshots")
    );
    if c.orphan_rows > 0 {
        text.push_str(&format!(
            ", {}",
            plural(c.orphan_rows, "orphan row", "orphan rows")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_and_result_name_every_rule() {
        let p = PrunePolicy {
            events_days: 90,
            captures_days: 30,
            machine_snapshot_hours: 12.0,
        };
        let c = PruneCounts {
            events: 1,
            captures: 2,
            machine_snapshots: 0,
            orphan_rows: 0,
        };
        assert_eq!(
            render_plan(&p, &c),
            "Would prune closed events older than 90 days: 1 event\n\
             Would prune captures older than 30 days, and those of pruned events: 2 captures\n\
             Would prune machine snapshots older than 12 hours: 0 snapshots\n"
        );
        assert_eq!(
            render_done(&c),
            "Deleted 1 event, 2 captures, 0 machine snapshots"
        );
        let orphans = PruneCounts {
            orphan_rows: 3,
            ..c
        };
        assert!(
            render_plan(&p, &orphans)
                .ends_with("Would remove 3 rows left without a parent by the original\n")
        );
        assert!(render_done(&orphans).ends_with(", 3 orphan rows"));
        let one = PrunePolicy {
            events_days: 1,
            ..p
        };
        assert!(render_plan(&one, &c).starts_with("Would prune closed events older than 1 day: "));
    }

    #[test]
    fn zero_days_is_refused() {
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("0").unwrap_err().contains("at least 1"));
        assert!(parse_days("-1").unwrap_err().contains("whole number"));
    }
}
