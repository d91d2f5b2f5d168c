//! EVENT HISTORY and the detail views' database side: a worker thread with its own read-only
//! connection, so a slow or locked database never holds up a frame.
//!
//! The connection is opened when the database file appears (the daemon creates it) and reopened
//! after an error, so the panel starts working as soon as there is something to show.

use crate::escape::escape_in_place;
use crate::forensics::hot_paths::{HotPath, hot_paths};
use crate::model::{PartStatus, ProcessKey, ProcessScore};
use crate::report::slots::{self, Pressure};
use crate::store::queries::{
    self, BufferSampleRow, CaptureRow, EventFilter, EventRow, Named, SnapshotRow,
};
use crate::store::{LogEntry, StoreError, open_reader};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;

/// How many recent events a process detail looks through for the process's last event.
const PROCESS_LOOKBACK: u32 = 500;

/// What the UI asks of the database.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryRequest {
    /// The newest `limit` events for the panel.
    Events { limit: u32 },
    /// The open (else the latest) event of one process, with its captures.
    Process { key: ProcessKey, start_time: f64 },
    /// One event with its captures, snapshots and log lines.
    Event { id: i64 },
    /// A capture's whole ring buffer, for replay (answered with progress along the way).
    Replay { capture_id: i64 },
}

/// Why the database could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbProblem {
    /// No database yet: the daemon creates it on its first start.
    Missing,
    /// Anything else, in words.
    Error(String),
}

impl DbProblem {
    fn of(e: &StoreError) -> DbProblem {
        match e {
            StoreError::NotFound(_) => DbProblem::Missing,
            other => DbProblem::Error(other.to_string()),
        }
    }
}

/// An event with its forensic captures.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub event: EventRow,
    /// The process at the event's peak (event details only).
    pub peak: Option<ProcessScore>,
    pub captures: Vec<CaptureRow>,
    /// The culprit's hottest paths in its newest capture with stacks.
    pub hot: Option<HotCapture>,
    /// Every snapshot of the event, oldest first (event details only): the score's sparkline.
    pub snapshots: Vec<SnapshotRow>,
    /// Why the event scored so, when the database records it.
    pub reason: Option<String>,
    /// The log lines of the newest capture that has any (event details only).
    pub logs: Option<CaptureLogs>,
}

/// The log lines of one capture.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureLogs {
    pub capture_id: i64,
    pub entries: Vec<LogEntry>,
}

/// Log lines read for the event view (the newest ones are kept).
const LOG_LINES: usize = 200;

/// One stored sample of a capture's ring buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySample {
    pub sample: BufferSampleRow,
    /// Every process of the sample, highest score first.
    pub processes: Vec<ProcessScore>,
    /// The machine's pressure then, when the database records it.
    pub pressure: Option<Pressure>,
}

/// A capture's ring buffer, oldest sample first.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayData {
    pub capture_id: i64,
    pub event_id: i64,
    /// When the capture was triggered: sample times are shown relative to it.
    pub trigger_at: f64,
    pub samples: Vec<ReplaySample>,
}

/// Why a capture cannot be replayed, besides a database problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayProblem {
    Db(DbProblem),
    /// No such capture (pruned since).
    NoCapture,
    /// Its buffer part did not succeed; the status and error, in words.
    NoBuffer(String),
}

/// The hottest paths of one capture.
#[derive(Debug, Clone, PartialEq)]
pub struct HotCapture {
    pub capture_id: i64,
    /// `perf`, `procfs+eu-stack`, …
    pub source: Option<String>,
    pub paths: Vec<HotPath>,
}

/// Hot paths shown, and frames of each.
const HOT_PATHS: usize = 3;
const HOT_FRAMES: usize = 4;
/// Captures looked through (newest first) for one with stacks.
const HOT_LOOKBACK: usize = 3;

/// The culprit's hottest paths in the newest of `captures` that holds stacks.
fn hot_capture(
    c: &Connection,
    captures: &[CaptureRow],
    pid: u32,
) -> crate::store::Result<Option<HotCapture>> {
    for cap in captures.iter().rev().take(HOT_LOOKBACK) {
        let data = queries::capture_stacks(c, cap.id)?;
        let paths = hot_paths(&data, Some(i64::from(pid)), HOT_PATHS, HOT_FRAMES);
        if !paths.is_empty() {
            return Ok(Some(HotCapture {
                capture_id: cap.id,
                source: cap.stack_source.clone(),
                paths,
            }));
        }
    }
    Ok(None)
}

/// The database's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryReply {
    Events(Result<Vec<EventRow>, DbProblem>),
    Process {
        key: ProcessKey,
        result: Result<Option<EventRecord>, DbProblem>,
    },
    Event {
        id: i64,
        result: Result<Option<EventRecord>, DbProblem>,
    },
    /// Samples of a capture read so far, of how many.
    ReplayProgress {
        capture_id: i64,
        done: usize,
        total: usize,
    },
    Replay {
        capture_id: i64,
        result: Result<ReplayData, ReplayProblem>,
    },
}

/// The panel's order: open events first, then by peak score, then the newest.
pub fn panel_order(mut rows: Vec<EventRow>) -> Vec<EventRow> {
    rows.sort_by(|a, b| {
        b.exit_time
            .is_none()
            .cmp(&a.exit_time.is_none())
            .then(b.peak_score.cmp(&a.peak_score))
            .then(b.entry_time.total_cmp(&a.entry_time))
    });
    rows
}

/// The event of a process among `rows` (newest first): its open event, else its latest one.
/// Rows of the original carry no start time and match by pid alone.
pub fn event_of_process(rows: &[EventRow], pid: u32, start_time: f64) -> Option<&EventRow> {
    let same =
        |e: &&EventRow| e.pid == pid && e.start_time.is_none_or(|s| (s - start_time).abs() < 1e-3);
    rows.iter()
        .filter(same)
        .find(|e| e.exit_time.is_none())
        .or_else(|| rows.iter().find(same))
}

/// Starts the worker; it stops when the request sender is dropped.
pub fn spawn(
    db_path: PathBuf,
    replies: mpsc::UnboundedSender<HistoryReply>,
) -> std::io::Result<std_mpsc::Sender<HistoryRequest>> {
    let (tx, rx) = std_mpsc::channel::<HistoryRequest>();
    std::thread::Builder::new()
        .name("tui-history".into())
        .spawn(move || {
            let mut db = Db::new(db_path);
            while let Ok(first) = rx.recv() {
                // Answer only the newest of queued identical requests.
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                batch.dedup();
                for req in batch {
                    let reply = match req {
                        HistoryRequest::Replay { capture_id } => {
                            db.replay(capture_id, &mut |done, total| {
                                let _ = replies.send(HistoryReply::ReplayProgress {
                                    capture_id,
                                    done,
                                    total,
                                });
                            })
                        }
                        other => db.answer(other),
                    };
                    if replies.send(reply).is_err() {
                        return;
                    }
                }
            }
        })?;
    Ok(tx)
}

/// The worker's connection, opened on demand.
struct Db {
    path: PathBuf,
    conn: Option<Connection>,
}

impl Db {
    fn new(path: PathBuf) -> Db {
        Db { path, conn: None }
    }

    fn conn(&mut self) -> Result<&Connection, DbProblem> {
        if self.conn.is_none() {
            self.conn = Some(open(&self.path)?);
        }
        self.conn
            .as_ref()
            .ok_or_else(|| DbProblem::Error("no connection".into()))
    }

    fn answer(&mut self, req: HistoryRequest) -> HistoryReply {
        let mut reply = self.query(req);
        printable(&mut reply);
        reply
    }

    fn query(&mut self, req: HistoryRequest) -> HistoryReply {
        match req {
            HistoryRequest::Events { limit } => HistoryReply::Events(self.run(|c| {
                queries::events(
                    c,
                    &EventFilter {
                        limit: Some(limit),
                        ..Default::default()
                    },
                )
                .map(panel_order)
            })),
            HistoryRequest::Process { key, start_time } => HistoryReply::Process {
                key,
                result: self.run(|c| process_record(c, key.pid, start_time)),
            },
            HistoryRequest::Event { id } => HistoryReply::Event {
                id,
                result: self.run(|c| event_record(c, id)),
            },
            HistoryRequest::Replay { capture_id } => self.replay(capture_id, &mut |_, _| {}),
        }
    }

    /// Reads a capture's ring buffer sample by sample, telling `progress` (samples read, of
    /// how many) as it goes, so the UI can show how far it got.
    fn replay(&mut self, capture_id: i64, progress: &mut dyn FnMut(usize, usize)) -> HistoryReply {
        let result = match self.run(|c| replay_data(c, capture_id, progress)) {
            Ok(r) => r,
            Err(p) => Err(ReplayProblem::Db(p)),
        };
        HistoryReply::Replay { capture_id, result }
    }

    /// Runs a query; an error drops the connection so the next request reopens the file.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> crate::store::Result<T>,
    ) -> Result<T, DbProblem> {
        let conn = self.conn()?;
        let out = f(conn).map_err(|e| DbProblem::of(&e));
        if out.is_err() {
            self.conn = None;
        }
        out
    }
}

/// Makes every stored text a process chose (names, triggers, error texts) printable before the
/// dashboard keeps it (see [`crate::escape`]).
fn printable(reply: &mut HistoryReply) {
    fn opt(s: &mut Option<String>) {
        if let Some(s) = s {
            escape_in_place(s);
        }
    }
    fn process(p: &mut ProcessScore) {
        escape_in_place(&mut p.command);
        escape_in_place(&mut p.reason);
    }
    fn event(e: &mut EventRow) {
        escape_in_place(&mut e.command);
        opt(&mut e.unit_key);
        opt(&mut e.unit_label);
        opt(&mut e.reason);
    }
    fn record(r: &mut EventRecord) {
        event(&mut r.event);
        if let Some(p) = &mut r.peak {
            process(p);
        }
        opt(&mut r.reason);
        for s in &mut r.snapshots {
            process(&mut s.process);
        }
        for c in &mut r.captures {
            if let Named::Other(t) = &mut c.trigger {
                escape_in_place(t);
            }
            c.triggers.iter_mut().for_each(escape_in_place);
            opt(&mut c.stack_source);
            for part in [&mut c.buffer, &mut c.stacks, &mut c.decode, &mut c.logs] {
                opt(&mut part.error);
            }
        }
        if let Some(h) = &mut r.hot {
            opt(&mut h.source);
            for p in &mut h.paths {
                escape_in_place(&mut p.process);
                p.frames.iter_mut().for_each(escape_in_place);
            }
        }
        if let Some(l) = &mut r.logs {
            for e in &mut l.entries {
                escape_in_place(&mut e.event_message);
                for f in [
                    &mut e.subsystem,
                    &mut e.category,
                    &mut e.process_name,
                    &mut e.message_type,
                    &mut e.source,
                ] {
                    opt(f);
                }
            }
        }
    }
    match reply {
        HistoryReply::Events(Ok(rows)) => rows.iter_mut().for_each(event),
        HistoryReply::Process {
            result: Ok(Some(r)),
            ..
        }
        | HistoryReply::Event {
            result: Ok(Some(r)),
            ..
        } => record(r),
        HistoryReply::Replay {
            result: Ok(data), ..
        } => {
            for s in &mut data.samples {
                s.processes.iter_mut().for_each(process);
            }
        }
        HistoryReply::Replay {
            result: Err(ReplayProblem::NoBuffer(why)),
            ..
        } => escape_in_place(why),
        _ => {}
    }
}

fn open(path: &Path) -> Result<Connection, DbProblem> {
    if !path.exists() {
        return Err(DbProblem::Missing);
    }
    open_reader(path).map_err(|e| DbProblem::of(&e))
}

fn process_record(
    c: &Connection,
    pid: u32,
    start_time: f64,
) -> crate::store::Result<Option<EventRecord>> {
    let open = queries::events(
        c,
        &EventFilter {
            open_only: true,
            ..Default::default()
        },
    )?;
    let event = match event_of_process(&open, pid, start_time) {
        Some(e) => Some(e.clone()),
        None => {
            let recent = queries::events(
                c,
                &EventFilter {
                    limit: Some(PROCESS_LOOKBACK),
                    ..Default::default()
                },
            )?;
            event_of_process(&recent, pid, start_time).cloned()
        }
    };
    match event {
        Some(event) => {
            let captures = queries::captures_of_event(c, event.id)?;
            let hot = hot_capture(c, &captures, event.pid)?;
            Ok(Some(EventRecord {
                event,
                peak: None,
                captures,
                hot,
                snapshots: Vec::new(),
                reason: None,
                logs: None,
            }))
        }
        None => Ok(None),
    }
}

fn event_record(c: &Connection, id: i64) -> crate::store::Result<Option<EventRecord>> {
    match queries::event_detail(c, id)? {
        Some(d) => {
            let captures = queries::captures_of_event(c, id)?;
            let hot = hot_capture(c, &captures, d.event.pid)?;
            let snapshots = queries::snapshots_of_event(c, id)?;
            let reason = slots::reason(&d.event, d.peak_snapshot.as_ref());
            let logs = capture_logs(c, &captures)?;
            Ok(Some(EventRecord {
                event: d.event,
                peak: d.peak_snapshot.map(|s| s.process),
                captures,
                hot,
                snapshots,
                reason,
                logs,
            }))
        }
        None => Ok(None),
    }
}

/// The newest [`LOG_LINES`] log lines of the newest capture that stored any.
fn capture_logs(
    c: &Connection,
    captures: &[CaptureRow],
) -> crate::store::Result<Option<CaptureLogs>> {
    for cap in captures.iter().rev() {
        let mut entries = queries::log_entries(c, cap.id, None)?;
        if !entries.is_empty() {
            let skip = entries.len().saturating_sub(LOG_LINES);
            entries.drain(..skip);
            return Ok(Some(CaptureLogs {
                capture_id: cap.id,
                entries,
            }));
        }
    }
    Ok(None)
}

fn replay_data(
    c: &Connection,
    capture_id: i64,
    progress: &mut dyn FnMut(usize, usize),
) -> crate::store::Result<Result<ReplayData, ReplayProblem>> {
    let Some(capture) = queries::capture(c, capture_id)? else {
        return Ok(Err(ReplayProblem::NoCapture));
    };
    let rows = queries::buffer_samples(c, capture_id)?;
    if rows.is_empty() {
        let why = match (capture.buffer.status, capture.buffer.error.as_deref()) {
            (Some(PartStatus::Success) | None, _) => "no samples stored".to_string(),
            (Some(st), Some(e)) if !e.is_empty() => format!("buffer {st}: {e}"),
            (Some(st), _) => format!("buffer {st}"),
        };
        return Ok(Err(ReplayProblem::NoBuffer(why)));
    }
    let total = rows.len();
    let mut samples = Vec::with_capacity(total);
    for (i, sample) in rows.into_iter().enumerate() {
        let processes = queries::buffer_sample_processes(c, sample.id)?;
        samples.push(ReplaySample {
            pressure: slots::pressure(&sample),
            sample,
            processes,
        });
        progress(i + 1, total);
    }
    Ok(Ok(ReplayData {
        capture_id,
        event_id: capture.event_id,
        trigger_at: capture.captured_at,
        samples,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Band;

    fn event(id: i64, pid: u32, peak: i64, open: bool, entry: f64) -> EventRow {
        EventRow {
            id,
            pid,
            command: format!("cmd{pid}"),
            boot_time: 0,
            entry_time: entry,
            exit_time: if open { None } else { Some(entry + 10.0) },
            entry_band: Band::Medium,
            peak_band: Band::High,
            peak_score: peak,
            peak_snapshot_id: None,
            start_time: Some(100.0 + f64::from(pid)),
            exit_reason: None,
            capture_count: 0,
            ..Default::default()
        }
    }

    #[test]
    fn stored_names_are_made_printable() {
        let mut e = event(1, 10, 90, false, 1.0);
        e.command = "a\x1b[31mred\n".into();
        let mut reply = HistoryReply::Events(Ok(vec![e.clone()]));
        printable(&mut reply);
        let HistoryReply::Events(Ok(rows)) = &reply else {
            panic!("still events")
        };
        assert_eq!(rows[0].command, "a\\x1b[31mred\\n");
        let mut reply = HistoryReply::Event {
            id: 1,
            result: Ok(Some(EventRecord {
                event: e,
                peak: None,
                captures: Vec::new(),
                hot: None,
                snapshots: Vec::new(),
                reason: Some("cpu: \x1b]0;title\x07".into()),
                logs: Some(CaptureLogs {
                    capture_id: 1,
                    entries: vec![LogEntry {
                        event_message: "oops\x1b[2J".into(),
                        ..Default::default()
                    }],
                }),
            })),
        };
        printable(&mut reply);
        let HistoryReply::Event {
            result: Ok(Some(r)),
            ..
        } = &reply
        else {
            panic!("still an event")
        };
        assert_eq!(r.event.command, "a\\x1b[31mred\\n");
        assert!(!r.reason.as_deref().unwrap_or("").contains('\x1b'));
        let logs = r.logs.as_ref().map(|l| l.entries[0].event_message.as_str());
        assert!(!logs.unwrap_or("\x1b").contains('\x1b'), "{logs:?}");
    }

    #[test]
    fn panel_shows_open_events_first_then_by_peak() {
        let rows = vec![
            event(1, 10, 90, false, 1.0),
            event(2, 11, 45, true, 2.0),
            event(3, 12, 70, false, 3.0),
            event(4, 13, 60, true, 4.0),
            event(5, 14, 70, false, 5.0),
        ];
        let ids: Vec<i64> = panel_order(rows).iter().map(|e| e.id).collect();
        assert_eq!(ids, [4, 2, 1, 5, 3]);
    }

    #[test]
    fn a_process_finds_its_open_event_by_pid_and_start_time() {
        // Newest first, as the query returns them.
        let mut reused = event(5, 10, 50, true, 50.0);
        reused.start_time = Some(999.0); // same pid, another process
        let rows = vec![
            reused,
            event(4, 10, 60, false, 40.0),
            event(3, 10, 65, true, 30.0),
            event(2, 11, 70, true, 20.0),
        ];
        assert_eq!(event_of_process(&rows, 10, 110.0).map(|e| e.id), Some(3));
        assert_eq!(event_of_process(&rows, 10, 999.0).map(|e| e.id), Some(5));
        let closed_only = vec![event(4, 10, 60, false, 40.0), event(1, 10, 60, false, 1.0)];
        assert_eq!(
            event_of_process(&closed_only, 10, 110.0).map(|e| e.id),
            Some(4),
            "the latest closed event when none is open"
        );
        assert_eq!(event_of_process(&rows, 12, 112.0), None);
        let mut original = event(7, 20, 60, true, 1.0);
        original.start_time = None;
        assert_eq!(
            event_of_process(&[original], 20, 5.0).map(|e| e.id),
            Some(7),
            "rows without a start time match by pid"
        );
    }

    #[test]
    fn a_missing_database_is_reported_as_missing_and_found_once_it_appears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let req = spawn(path.clone(), tx).unwrap();
        req.send(HistoryRequest::Events { limit: 15 }).unwrap();
        assert_eq!(
            rx.blocking_recv().unwrap(),
            HistoryReply::Events(Err(DbProblem::Missing))
        );
        // The daemon creates it.
        let (conn, _) = crate::store::open_writer(&path, 1.0).unwrap();
        drop(conn);
        req.send(HistoryRequest::Events { limit: 15 }).unwrap();
        assert_eq!(
            rx.blocking_recv().unwrap(),
            HistoryReply::Events(Ok(vec![]))
        );
        req.send(HistoryRequest::Event { id: 3 }).unwrap();
        assert_eq!(
            rx.blocking_recv().unwrap(),
            HistoryReply::Event {
                id: 3,
                result: Ok(None)
            }
        );
        std::fs::write(
            dir.path().join("junk.db"),
            b"not a database at all, clearly",
        )
        .unwrap();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        let req2 = spawn(dir.path().join("junk.db"), tx2).unwrap();
        req2.send(HistoryRequest::Events { limit: 1 }).unwrap();
        match rx2.blocking_recv().unwrap() {
            HistoryReply::Events(Err(DbProblem::Error(msg))) => {
                assert!(msg.contains("junk.db"), "{msg}")
            }
            other => panic!("{other:?}"),
        }
    }
}
