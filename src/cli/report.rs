//! `report ID [-o FILE]`: an event's evidence as one self-contained HTML page. Thin: the
//! gathering and the page are `crate::report`'s; this opens the database, picks the file and
//! says what it wrote.

use super::Context;
use super::database;
use super::output::now;
use crate::report::evidence::Depth;
use crate::report::{self, html};
use anyhow::Context as _;
use chrono::{Local, Offset, TimeZone};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The event id (first column of `events`).
    pub id: i64,
    /// Where to write the page: default `rogue-hunter-event-ID.html` in the current
    /// directory; `-` writes it to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Seconds east of UTC here at `epoch` (the report's clock times are this zone's).
fn local_offset(epoch: f64) -> i32 {
    let secs = if epoch.is_finite() { epoch as i64 } else { 0 };
    Local
        .timestamp_opt(secs, 0)
        .single()
        .map_or(0, |t| t.offset().fix().local_minus_utc())
}

pub(super) fn run(ctx: &Context, args: ReportArgs) -> anyhow::Result<()> {
    let conn = database::open_required(&ctx.paths.db_file)?;
    let config = ctx.load_config()?;
    let Some(evidence) = report::gather(&conn, args.id, Depth { charts: true })? else {
        anyhow::bail!(
            "Event {} not found; `rogue-hunter events --all-boots` lists the events",
            args.id
        );
    };
    drop(conn);
    let page = html::render(
        &evidence,
        &html::Options {
            bands: config.bands.clone(),
            utc_offset: local_offset(evidence.event.entry_time),
            generated_at: now(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
    );
    let target = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("rogue-hunter-event-{}.html", args.id)));
    if target.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(page.as_bytes())
            .and_then(|()| out.flush())
            .context("cannot write the report to stdout")?;
        return Ok(());
    }
    write_file(&target, page.as_bytes())?;
    println!(
        "Wrote {} ({}): event #{} {} (pid {}), {}",
        target.display(),
        super::output::bytes(page.len() as u64),
        evidence.event.id,
        super::output::printable(&evidence.event.command),
        evidence.event.pid,
        captures_line(&evidence)
    );
    Ok(())
}

/// What the captures hold, in a few words (what is missing is named).
fn captures_line(ev: &report::EventEvidence) -> String {
    use crate::model::PartStatus;
    if ev.captures.is_empty() {
        return "no captures".into();
    }
    let parts: Vec<String> = ev
        .captures
        .iter()
        .map(|c| {
            let buffer = match (&c.charts, c.capture.buffer.status) {
                (Some(ch), _) => format!("{} buffer rows", ch.rows),
                (None, Some(PartStatus::Pending) | None) => "buffer still being written".into(),
                (None, Some(s)) => format!("buffer {s}"),
            };
            format!("capture #{}: {buffer}", c.capture.id)
        })
        .collect();
    parts.join("; ")
}

/// Writes next to the target and renames, so a reader never sees half a page.
fn write_file(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, target));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", target.display()))
}
