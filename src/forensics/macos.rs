//! The macOS parts of a capture: `tailspin save` (through the fixed sudoers rule), decoded with
//! `spindump -i … -stdout` and parsed off the runtime; `log show --style ndjson` for the log.
//! The trace file is always removed.

use super::Settings;
use super::logs::{LogsResult, parse_log_show_ndjson};
use super::spindump;
use super::tool::{self, ToolError};
use crate::privileges::sudoers;
use crate::store::{CaptureData, PartOutcome, PartStatus};
use std::path::PathBuf;

/// What the stacks and decode parts produced.
pub struct MacStacks {
    pub data: CaptureData,
    pub outcome: PartOutcome,
    pub decode: PartOutcome,
}

fn outcome(status: PartStatus, error: impl Into<String>) -> PartOutcome {
    PartOutcome {
        status,
        error: Some(error.into()),
    }
}

fn status_of(e: &ToolError) -> PartStatus {
    match e {
        ToolError::NotFound(_) => PartStatus::Skipped,
        ToolError::Timeout { .. } => PartStatus::Timeout,
        _ => PartStatus::Failed,
    }
}

/// Removes the trace file whatever happens.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Saves and decodes a tailspin trace.
pub async fn stacks(s: &Settings, capture_id: i64) -> MacStacks {
    let argv = sudoers::tailspin_save_command(&s.runtime_dir);
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let saved = sudoers::tailspin_output(&s.runtime_dir);
    let _cleanup_saved = RemoveOnDrop(saved.clone());
    let not_decoded = || outcome(PartStatus::Skipped, "no trace to decode");
    if let Err(e) = tool::run(&argv[0], &args, s.tool_timeout, &[]).await {
        let reason = match &e {
            ToolError::Failed { stderr, .. } if stderr.contains("password is required") => {
                "no sudoers rule for tailspin: run `sudo rogue-hunter perms install`".to_string()
            }
            other => format!("tailspin save (sudo -n): {other}"),
        };
        let status = match &e {
            ToolError::Failed { stderr, .. } if stderr.contains("password is required") => {
                PartStatus::Skipped
            }
            other => status_of(other),
        };
        return MacStacks {
            data: CaptureData::default(),
            outcome: outcome(status, reason),
            decode: not_decoded(),
        };
    }
    let file = s.runtime_dir.join(format!("capture_{capture_id}.tailspin"));
    let _cleanup_file = RemoveOnDrop(file.clone());
    if let Err(e) = std::fs::rename(&saved, &file) {
        return MacStacks {
            data: CaptureData::default(),
            outcome: outcome(PartStatus::Failed, format!("tailspin wrote no trace: {e}")),
            decode: not_decoded(),
        };
    }
    let file_arg = file.to_string_lossy().into_owned();
    let decoded = tool::run(
        "/usr/sbin/spindump",
        &["-i", &file_arg, "-stdout"],
        s.tool_timeout,
        &[],
    )
    .await;
    let text = match decoded {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => {
            return MacStacks {
                data: CaptureData::default(),
                outcome: outcome(PartStatus::Failed, "the trace could not be decoded"),
                decode: outcome(status_of(&e), e.to_string()),
            };
        }
    };
    match tokio::task::spawn_blocking(move || spindump::parse(&text)).await {
        Ok(data) if !data.processes.is_empty() => MacStacks {
            data,
            outcome: PartOutcome::success(),
            decode: PartOutcome::success(),
        },
        Ok(_) => MacStacks {
            data: CaptureData::default(),
            outcome: outcome(PartStatus::Failed, "the decoded trace held no processes"),
            decode: PartOutcome::success(),
        },
        Err(e) => MacStacks {
            data: CaptureData::default(),
            outcome: outcome(PartStatus::Failed, format!("parsing failed: {e}")),
            decode: PartOutcome::success(),
        },
    }
}

/// Unified log entries from `from_epoch` to now that speak of hangs, power or the window server.
pub async fn logs(s: &Settings, from_epoch: f64) -> LogsResult {
    let seconds = (crate::sys::now_epoch() - from_epoch).ceil().max(1.0) as u64;
    let last = format!("{seconds}s");
    let predicate = "subsystem == \"com.apple.powerd\" OR subsystem == \"com.apple.kernel\" \
        OR subsystem == \"com.apple.windowserver\" OR eventMessage CONTAINS[c] \"hang\" \
        OR eventMessage CONTAINS[c] \"stall\" OR eventMessage CONTAINS[c] \"timeout\"";
    let args = [
        "show",
        "--style",
        "ndjson",
        "--last",
        &last,
        "--predicate",
        predicate,
    ];
    match tool::run("/usr/bin/log", &args, s.tool_timeout, &[]).await {
        Ok(out) => LogsResult {
            entries: parse_log_show_ndjson(&out.stdout),
            outcome: PartOutcome::success(),
        },
        Err(e) => LogsResult {
            entries: Vec::new(),
            outcome: outcome(status_of(&e), e.to_string()),
        },
    }
}
