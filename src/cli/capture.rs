//! `capture [--pid PID] [--wait]`: asks the running daemon for a manual forensic capture and,
//! with `--wait`, follows its `capture` notices until it is done and prints each part's status
//! (with the error or skip reason the daemon stored).

use super::Context;
use super::database;
use super::events_show::{PartJson, capture_json};
use super::output::printable;
use crate::ipc::protocol::CaptureNotice;
use crate::ipc::{CaptureAnswer, CaptureState, Client, ClientError, ServerMessage, client};
use crate::model::CapturePart;
use crate::store::queries;
use anyhow::Context as _;
use clap::Args;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// How long to wait for a capture's `started` notice without `--wait` (to name its event).
const STARTED_WAIT: Duration = Duration::from_secs(2);
/// How long to wait for the database to show a finished capture's errors.
const ROW_WAIT: Duration = Duration::from_secs(3);

/// Arguments of `capture`.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The process to capture (default: the top process of the latest sample).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Wait until the capture is done and print the status of each of its parts.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

/// The order parts are printed in, with their labels.
const PARTS: [(CapturePart, &str); 4] = [
    (CapturePart::Buffer, "Buffer"),
    (CapturePart::Stacks, "Stacks"),
    (CapturePart::Decode, "Decode"),
    (CapturePart::Logs, "Logs"),
];

pub(super) fn run(ctx: &Context, args: CaptureArgs) -> anyhow::Result<()> {
    let socket = ctx.paths.socket.clone();
    let outcome = client::block_on(request(&socket, ctx.paths.daemon_uid(), &args))?;
    let (capture_id, notice) = match outcome {
        Ok(Requested::Refused(reason)) => {
            anyhow::bail!("the daemon refused the capture: {}", printable(&reason))
        }
        Ok(Requested::Accepted(id, notice)) => (id, notice),
        Err(e) if e.is_not_running() => {
            anyhow::bail!(
                "{e}; start it with 'rogue-hunter daemon' (or 'rogue-hunter service install')"
            )
        }
        Err(e) => return Err(e).context("cannot ask the daemon for a capture"),
    };
    let target = args
        .pid
        .map_or("the top process".to_string(), |p| format!("pid {p}"));
    let Some(notice) = notice else {
        if args.wait {
            anyhow::bail!(
                "capture #{capture_id} did not finish within {} s; it goes on in the daemon",
                args.timeout
            );
        }
        // Queued behind a capture in progress: it starts when that one is done.
        println!("Capture #{capture_id} requested ({target}).");
        return Ok(());
    };
    let event = notice
        .event_id
        .map(|e| format!(" of event #{e}"))
        .unwrap_or_default();
    if !args.wait {
        println!(
            "Capture #{capture_id}{event} started ({target}, trigger {}).",
            notice.trigger
        );
        if let Some(e) = notice.event_id {
            println!("See it with: rogue-hunter events show {e} -f -t -l");
        }
        return Ok(());
    }
    // Nothing to read back when the database refused it.
    let stored = if notice.not_stored.is_none() {
        stored_parts(&ctx.paths.db_file, capture_id)
    } else {
        None
    };
    print!("{}", render_done(capture_id, &notice, stored.as_ref()));
    if notice.not_stored.is_some() {
        // Taken but not kept: a script must not take this for a stored capture.
        return Err(super::Quiet(1).into());
    }
    Ok(())
}

/// The daemon's answer, and for an accepted capture the latest notice seen (`done` with
/// `--wait`; None if it did not come in time).
enum Requested {
    Accepted(i64, Option<CaptureNotice>),
    Refused(String),
}

/// Asks for the capture and follows its notices.
async fn request(
    socket: &Path,
    daemon_uid: u32,
    args: &CaptureArgs,
) -> Result<Requested, ClientError> {
    let mut c = Client::connect_to(socket, daemon_uid).await?;
    let capture_id = match c.request_capture(args.pid).await? {
        CaptureAnswer::Accepted { capture_id } => capture_id,
        CaptureAnswer::Refused { reason } | CaptureAnswer::TooSoon { reason, .. } => {
            return Ok(Requested::Refused(reason));
        }
    };
    if args.wait {
        println!("Capture #{capture_id} requested; waiting for it to finish…");
    }
    let limit = if args.wait {
        Duration::from_secs(args.timeout)
    } else {
        STARTED_WAIT
    };
    let deadline = tokio::time::Instant::now() + limit;
    let mut latest = None;
    loop {
        let msg = match tokio::time::timeout_at(deadline, c.next()).await {
            Ok(m) => m?,
            Err(_) => {
                return Ok(Requested::Accepted(
                    capture_id,
                    if args.wait { None } else { latest },
                ));
            }
        };
        if let ServerMessage::Capture(n) = msg
            && n.capture_id == capture_id
        {
            let done = n.state == CaptureState::Done;
            latest = Some(n);
            if done || !args.wait {
                return Ok(Requested::Accepted(capture_id, latest));
            }
        }
    }
}

/// The capture's parts as the database has them once complete (for error texts and the stack
/// source); None if the database cannot tell within [`ROW_WAIT`].
fn stored_parts(
    db: &Path,
    capture_id: i64,
) -> Option<(BTreeMap<CapturePart, PartJson>, Option<String>)> {
    let conn = database::open(db).ok().flatten()?;
    let deadline = std::time::Instant::now() + ROW_WAIT;
    loop {
        if let Ok(Some(row)) = queries::capture(&conn, capture_id)
            && row.completed_at.is_some()
        {
            let json = capture_json(&row);
            return Some((json.parts, json.stack_source));
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What `capture --wait` prints once the capture is done: the daemon's statuses, with the
/// stored error or skip reason of each part.
pub fn render_done(
    capture_id: i64,
    notice: &CaptureNotice,
    stored: Option<&(BTreeMap<CapturePart, PartJson>, Option<String>)>,
) -> String {
    let event = notice
        .event_id
        .map(|e| format!(" of event #{e}"))
        .unwrap_or_default();
    let mut out = format!("Capture #{capture_id}{event} ({}) done:\n", notice.trigger);
    for (key, label) in PARTS {
        let status = notice.statuses.get(&key);
        let stored_part = stored.and_then(|(parts, _)| parts.get(&key));
        let Some(status) = status.copied().or_else(|| stored_part.map(|p| p.status)) else {
            continue;
        };
        out.push_str(&format!("  {label}: {status}"));
        if key == CapturePart::Stacks
            && let Some(source) = stored.and_then(|(_, s)| s.as_deref())
        {
            out.push_str(&format!(" ({})", printable(source)));
        }
        if let Some(err) = stored_part
            .filter(|p| p.status == status)
            .and_then(|p| p.error.as_deref())
            .filter(|e| !e.is_empty())
        {
            out.push_str(&format!(": {}", printable(err)));
        }
        out.push('\n');
    }
    match (&notice.not_stored, notice.event_id) {
        (Some(err), _) => out.push_str(&format!(
            "Not stored: the database could not store this capture ({}); \
             see `rogue-hunter status`\n",
            printable(err)
        )),
        (None, Some(e)) => out.push_str(&format!(
            "See it with: rogue-hunter events show {e} -f -t -l\n"
        )),
        (None, None) => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PartStatus, Trigger};

    #[test]
    fn done_lists_every_part_with_its_reason() {
        let notice = CaptureNotice {
            not_stored: None,
            capture_id: 7,
            event_id: Some(12),
            trigger: Trigger::Manual,
            state: CaptureState::Done,
            statuses: BTreeMap::from([
                (CapturePart::Buffer, PartStatus::Success),
                (CapturePart::Stacks, PartStatus::Success),
                (CapturePart::Logs, PartStatus::Skipped),
            ]),
        };
        let stored = (
            BTreeMap::from([
                (
                    CapturePart::Logs,
                    PartJson {
                        status: PartStatus::Skipped,
                        error: Some("no permission to read /dev/kmsg".into()),
                    },
                ),
                (
                    CapturePart::Stacks,
                    PartJson {
                        status: PartStatus::Success,
                        error: None,
                    },
                ),
            ]),
            Some("procfs".to_string()),
        );
        assert_eq!(
            render_done(7, &notice, Some(&stored)),
            "Capture #7 of event #12 (manual) done:\n  Buffer: success\n  Stacks: success (procfs)\n  \
             Logs: skipped: no permission to read /dev/kmsg\nSee it with: rogue-hunter events show 12 -f -t -l\n"
        );
        // Without the database: the daemon's statuses alone.
        assert!(render_done(7, &notice, None).contains("  Logs: skipped\n"));
        // Taken but refused by the database: said so, and no pointer to a row that is not there.
        let refused = CaptureNotice {
            not_stored: Some("database or disk is full\x1b[2J".into()),
            ..notice
        };
        let text = render_done(7, &refused, None);
        assert!(
            text.ends_with(
                "Not stored: the database could not store this capture (database or disk is \
                 full\\x1b[2J); see `rogue-hunter status`\n"
            ),
            "{text}"
        );
        assert!(!text.contains("events show"), "{text}");
    }
}
