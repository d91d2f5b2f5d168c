//! Plain data of what gets written: the small per-sample operations and the large capture
//! parts. No SQL here; the writer turns these into rows (see `write.rs`).
//!
//! Ids of events, process snapshots and captures are chosen by the caller (from
//! [`super::startup::next_ids`] at start, then counting up in memory), so the tracker never
//! waits for the writer to learn an id.

use crate::model::{Band, ProcessScore, Resource, Sample, Trigger};
pub use crate::model::{CapturePart, ExitReason, PartStatus, SnapshotType};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A new event. `peak_snapshot_id` may name a snapshot inserted later in the same batch (the
/// reference is checked at commit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub id: i64,
    pub pid: u32,
    /// Process start, epoch seconds: with `pid`, the process identity.
    pub start_time: f64,
    pub command: String,
    /// Boot time of the machine, epoch seconds.
    pub boot_time: i64,
    pub entry_time: f64,
    pub entry_band: Band,
    pub peak_score: u8,
    pub peak_band: Band,
    pub peak_snapshot_id: Option<i64>,
    /// The unit the event is about (pid, start time and command are its leader's).
    #[serde(default)]
    pub unit: EventUnit,
    /// The reason of the entry score.
    #[serde(default)]
    pub reason: String,
}

/// The unit an event names (`process_events.unit_*`, `members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct EventUnit {
    /// `cgroup:<path>`, `pgrp:<pgid>:<command>` or `pid:<pid>:<start_time>`.
    pub key: String,
    pub kind: crate::model::UnitKind,
    /// The cgroup's leaf name, `process group N`, or empty for a single process.
    pub label: String,
    /// Processes in it (at entry; updated with every new peak).
    pub members: u32,
}

/// A process snapshot of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSnapshot {
    pub id: i64,
    pub event_id: i64,
    pub snapshot_type: SnapshotType,
    /// `captured_at` and every metric come from here (`pid`/`command` live on the event). For a
    /// unit of several processes, the unit's summed row.
    pub process: ProcessScore,
    /// The unit's members' own rows (`process_snapshot_members`); empty for a single process.
    #[serde(default)]
    pub members: Vec<ProcessScore>,
}

/// A new forensic capture row, written at once with its parts `pending`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCapture {
    pub id: i64,
    pub event_id: i64,
    pub captured_at: f64,
    /// The trigger that started it.
    pub trigger: Trigger,
    /// Whether there is a separate decode step (macOS spindump); otherwise `spindump_status`
    /// stays NULL.
    pub has_decode_step: bool,
}

/// One small write. A per-sample batch of these is applied in one transaction, in order; an
/// operation that violates a constraint is rolled back alone (and counted), the rest commit.
// Snapshots are most of the operations, so boxing the large variant would not save memory.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    OpenEvent(NewEvent),
    InsertSnapshot(NewSnapshot),
    SetPeak {
        event_id: i64,
        peak_score: u8,
        peak_band: Band,
        peak_snapshot_id: i64,
        /// The new peak's reason and the unit's member count then.
        reason: String,
        members: u32,
    },
    CloseEvent {
        event_id: i64,
        exit_time: f64,
        reason: ExitReason,
    },
    /// Upsert of `daemon_state` (e.g. [`super::startup::LAST_SAMPLE_TIME_KEY`]).
    SetDaemonState {
        key: String,
        value: String,
        at: f64,
    },
    CreateCapture(NewCapture),
    /// Status (and error or skip reason) of one part. `completed_at` is set by the writer once
    /// no part is pending.
    SetCapturePart {
        capture_id: i64,
        part: CapturePart,
        status: PartStatus,
        error: Option<String>,
        at: f64,
    },
    /// Triggers coalesced into a running capture (appended to its `triggers` JSON array).
    AddCaptureTriggers {
        capture_id: i64,
        triggers: Vec<String>,
    },
}

/// One entry of `buffer_context.culprits` (the original's JSON keys); see
/// `forensics::culprits::identify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Culprit {
    pub pid: u32,
    pub command: String,
    pub score: u8,
    pub dominant_resource: Resource,
    pub disproportionality: f64,
}

/// A capture's frozen ring buffer: the culprits and every process of every sample.
#[derive(Debug, Clone)]
pub struct BufferCapture {
    pub capture_id: i64,
    pub culprits: Vec<Culprit>,
    /// Oldest first (what `Ring::freeze` returns); `sample_index` is the position here.
    pub samples: Arc<[Arc<Sample>]>,
}

/// A part's outcome to record once its data is stored (normally `Success`; `Timeout` or
/// `Failed` with partial data is allowed). If storing fails, the part becomes `Failed` with the
/// database error and its rows are removed instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartOutcome {
    pub status: PartStatus,
    pub error: Option<String>,
}

impl PartOutcome {
    pub fn success() -> PartOutcome {
        PartOutcome {
            status: PartStatus::Success,
            error: None,
        }
    }
}

/// The stacks of a capture, with where they came from (`procfs`, `procfs+eu-stack`,
/// `tailspin`, …; stored in `forensic_captures.stack_source`).
#[derive(Debug, Clone)]
pub struct StackCapture {
    pub capture_id: i64,
    pub source: String,
    pub data: super::capture_data::CaptureData,
    pub outcome: PartOutcome,
}

/// One system log line (`log_entries`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LogEntry {
    /// RFC 3339 with offset.
    pub timestamp: String,
    /// Monotonic microseconds (Linux) or the mach timestamp (macOS).
    pub mach_timestamp: Option<i64>,
    pub subsystem: Option<String>,
    pub category: Option<String>,
    pub process_name: Option<String>,
    pub process_id: Option<i64>,
    pub message_type: Option<String>,
    pub event_message: String,
    /// `kmsg`, `journald`, `log show`.
    pub source: Option<String>,
}

/// The log entries of a capture.
#[derive(Debug, Clone)]
pub struct LogCapture {
    pub capture_id: i64,
    pub entries: Vec<LogEntry>,
    pub outcome: PartOutcome,
}

/// Every process of one sample, stored as a machine snapshot.
#[derive(Debug, Clone)]
pub struct MachineSnapshot {
    pub sample: Arc<Sample>,
}
