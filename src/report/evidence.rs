//! Gathering the evidence of one event from the database: the event, its snapshots and its
//! captures with everything each stored (the buffer's charts only on request: the dashboard's
//! event view does not draw them). Reads through [`crate::store::queries`] alone.

use super::series::{self, CaptureCharts, CulpritId};
use super::slots::{self, UnitSummary};
use super::timeline::{self, Timeline};
use crate::forensics::hot_paths::{HotPath, hot_paths};
use crate::model::PartStatus;
use crate::store::capture_data::CaptureData;
use crate::store::queries::{self, BufferContextRow, CaptureRow, EventRow, SnapshotRow};
use crate::store::{LogEntry, Result};
use rusqlite::Connection;
use serde::Serialize;

/// Hot paths kept per capture, and frames of each.
pub const HOT_PATHS: usize = 8;
pub const HOT_FRAMES: usize = 6;

/// What to read besides the event's own rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Depth {
    /// Read every process of every buffer sample and reduce it to charts (the report).
    pub charts: bool,
}

/// Everything stored about one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventEvidence {
    pub event: EventRow,
    /// The snapshot at the peak.
    pub peak: Option<SnapshotRow>,
    /// Every snapshot, oldest first.
    pub snapshots: Vec<SnapshotRow>,
    pub timeline: Timeline,
    /// Slot: the culprit's unit ([`slots::unit`]).
    pub unit: Option<UnitSummary>,
    /// The unit's members' own rows at the peak, highest score first (empty for a process
    /// alone, and for events before units).
    pub members: Vec<crate::model::ProcessScore>,
    /// Slot: why it scored so ([`slots::reason`]).
    pub reason: Option<String>,
    pub captures: Vec<CaptureEvidence>,
}

/// One forensic capture with what it stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureEvidence {
    pub capture: CaptureRow,
    /// The buffer's summary and culprits (None: no buffer stored).
    pub buffer: Option<BufferContextRow>,
    /// Stored buffer samples and process rows, and the seconds from the oldest to the newest.
    pub buffer_samples: usize,
    pub buffer_rows: i64,
    pub buffer_span: f64,
    pub stacks: CaptureData,
    /// The culprit's hottest stack paths (every process's when it has no stacks).
    pub hot: Vec<HotPath>,
    pub logs: Vec<LogEntry>,
    /// With [`Depth::charts`], when the buffer part succeeded.
    pub charts: Option<CaptureCharts>,
}

impl EventEvidence {
    /// Who the event is about, for matching buffer rows.
    pub fn culprit(&self) -> CulpritId {
        CulpritId {
            pid: self.event.pid,
            start_time: self.event.start_time,
        }
    }
}

/// Reads event `id` and its evidence; None if there is no such event.
pub fn gather(conn: &Connection, id: i64, depth: Depth) -> Result<Option<EventEvidence>> {
    let Some(detail) = queries::event_detail(conn, id)? else {
        return Ok(None);
    };
    let snapshots = queries::snapshots_of_event(conn, id)?;
    let members = match &detail.peak_snapshot {
        Some(p) => queries::snapshot_members(conn, p.id)?,
        None => Vec::new(),
    };
    let event = detail.event;
    let culprit = CulpritId {
        pid: event.pid,
        start_time: event.start_time,
    };
    let mut captures = Vec::new();
    for c in queries::captures_of_event(conn, id)? {
        captures.push(capture_evidence(conn, c, culprit, depth)?);
    }
    Ok(Some(EventEvidence {
        timeline: timeline::build(&snapshots),
        unit: slots::unit(&event),
        members,
        reason: slots::reason(&event, detail.peak_snapshot.as_ref()),
        event,
        peak: detail.peak_snapshot,
        snapshots,
        captures,
    }))
}

fn capture_evidence(
    conn: &Connection,
    capture: CaptureRow,
    culprit: CulpritId,
    depth: Depth,
) -> Result<CaptureEvidence> {
    let buffer = queries::buffer_context(conn, capture.id)?;
    let samples = queries::buffer_samples(conn, capture.id)?;
    let span = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => (b.captured_at - a.captured_at).max(0.0),
        _ => 0.0,
    };
    let stacks = queries::capture_stacks(conn, capture.id)?;
    let hot = hot_paths(&stacks, Some(i64::from(culprit.pid)), HOT_PATHS, HOT_FRAMES);
    let logs = queries::log_entries(conn, capture.id, None)?;
    let charts = if depth.charts && capture.buffer.status == Some(PartStatus::Success) {
        let rows = queries::buffer_processes(conn, capture.id, None)?;
        Some(series::build(&samples, &rows, capture.captured_at, culprit))
    } else {
        None
    };
    Ok(CaptureEvidence {
        buffer_samples: samples.len(),
        buffer_rows: samples.iter().map(|s| s.process_count).sum(),
        buffer_span: span,
        capture,
        buffer,
        stacks,
        hot,
        logs,
        charts,
    })
}
