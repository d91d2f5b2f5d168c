//! Rows whose write failed and that later rows refer to. Event and capture ids are counted in
//! memory (the tracker and the forensics worker hand them out without asking the database),
//! so when the write of an event or a capture fails (a full disk, a read-only file), the
//! daemon goes on referring to an id the database never got: every snapshot, peak, close and
//! capture part of it would fail its foreign key, or be stored as an orphan. Instead the
//! writer remembers the lost row and stores it first, as soon as a write refers to it and
//! writes work again; the database catches up with what the daemon counted.

use crate::store::records::{NewCapture, NewEvent, Op};
use crate::store::write;
use crate::sync::lock;
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::Mutex;

/// Lost event and capture rows by id.
#[derive(Default)]
pub(super) struct LostRows {
    rows: Mutex<Lost>,
}

#[derive(Default)]
struct Lost {
    events: HashMap<i64, NewEvent>,
    captures: HashMap<i64, NewCapture>,
}

impl LostRows {
    /// Remembers the event or capture `op` creates: its write failed.
    pub(super) fn lost(&self, op: &Op) {
        match op {
            Op::OpenEvent(e) => {
                lock(&self.rows).events.insert(e.id, e.clone());
            }
            Op::CreateCapture(c) => {
                lock(&self.rows).captures.insert(c.id, c.clone());
            }
            _ => {}
        }
    }

    /// Before `op` is applied: stores the lost rows it refers to, inside the caller's
    /// transaction. They stay remembered until the caller's commit succeeds and it passes
    /// what this returns to [`LostRows::forget`]; a failed commit takes them away again.
    pub(super) fn restore_for(&self, conn: &Connection, op: &Op) -> Vec<Restored> {
        let (event, capture) = refers_to(op);
        self.restore(conn, event, capture)
    }

    /// Stores the lost event `event` and capture `capture` (with the capture's own event);
    /// returns what it stored (see [`LostRows::restore_for`]).
    pub(super) fn restore(
        &self,
        conn: &Connection,
        event: Option<i64>,
        capture: Option<i64>,
    ) -> Vec<Restored> {
        let rows = lock(&self.rows);
        let mut stored = Vec::new();
        if rows.events.is_empty() && rows.captures.is_empty() {
            return stored;
        }
        let capture_row = capture.and_then(|id| rows.captures.get(&id).cloned());
        let events = [event, capture_row.as_ref().map(|c| c.event_id)];
        for id in events.into_iter().flatten() {
            if let Some(e) = rows.events.get(&id).cloned()
                && store(conn, |c| write::insert_event(c, &without_peak_snapshot(e)))
            {
                stored.push(Restored::Event(id));
            }
        }
        if let Some(c) = capture_row
            && store(conn, |conn| write::insert_capture(conn, &c))
        {
            stored.push(Restored::Capture(c.id));
        }
        stored
    }

    /// The rows `restored` are committed: forgets them.
    pub(super) fn forget(&self, restored: &[Restored]) {
        if restored.is_empty() {
            return;
        }
        let mut rows = lock(&self.rows);
        for r in restored {
            let removed = match r {
                Restored::Event(id) => rows.events.remove(id).is_some(),
                Restored::Capture(id) => rows.captures.remove(id).is_some(),
            };
            if removed {
                tracing::info!(target: "rogue_hunter::store", row = %r, "stored a row an earlier failed write lost");
            }
        }
    }

    /// Whether the row of event `id` is still missing.
    #[cfg(test)]
    fn event_missing(&self, id: i64) -> bool {
        lock(&self.rows).events.contains_key(&id)
    }
}

/// A lost row stored again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Restored {
    Event(i64),
    Capture(i64),
}

impl std::fmt::Display for Restored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restored::Event(id) => write!(f, "event {id}"),
            Restored::Capture(id) => write!(f, "capture {id}"),
        }
    }
}

/// The peak snapshot was written with the event and is as lost as it was: the next peak
/// sets it again.
fn without_peak_snapshot(mut e: NewEvent) -> NewEvent {
    e.peak_snapshot_id = None;
    e
}

/// Runs `insert` in a savepoint; true when it stored the row (or the row is there already).
fn store(conn: &Connection, insert: impl FnOnce(&Connection) -> rusqlite::Result<usize>) -> bool {
    if conn.execute_batch("SAVEPOINT restore").is_err() {
        return false;
    }
    match insert(conn) {
        Ok(_) => conn.execute_batch("RELEASE restore").is_ok(),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO restore; RELEASE restore");
            // A row with that id exists: it was stored after all (the failure came later).
            matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ConstraintViolation)
            ) && e.to_string().contains("UNIQUE")
        }
    }
}

/// The event and capture ids `op` refers to (not the ones it creates).
fn refers_to(op: &Op) -> (Option<i64>, Option<i64>) {
    match op {
        Op::InsertSnapshot(s) => (Some(s.event_id), None),
        Op::SetPeak { event_id, .. } | Op::CloseEvent { event_id, .. } => (Some(*event_id), None),
        Op::CreateCapture(c) => (Some(c.event_id), None),
        Op::SetCapturePart { capture_id, .. } | Op::AddCaptureTriggers { capture_id, .. } => {
            (None, Some(*capture_id))
        }
        Op::OpenEvent(_) | Op::SetDaemonState { .. } => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Band, CapturePart, ExitReason, PartStatus, Trigger};

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        crate::store::schema::create_fresh(&mut conn, 1.0).unwrap();
        conn
    }

    fn event(id: i64) -> NewEvent {
        NewEvent {
            id,
            pid: 42,
            start_time: 1.0,
            command: "hog".into(),
            boot_time: 1,
            boot_id: None,
            entry_time: 10.0,
            entry_band: Band::High,
            peak_score: 70,
            peak_band: Band::High,
            // Its snapshot was in the failed batch too.
            peak_snapshot_id: Some(99),
            unit: Default::default(),
            reason: String::new(),
        }
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_lost_event_is_stored_before_the_first_write_that_refers_to_it() {
        let conn = db();
        let lost = LostRows::default();
        lost.lost(&Op::OpenEvent(event(8)));
        let close = Op::CloseEvent {
            event_id: 8,
            exit_time: 20.0,
            reason: ExitReason::ScoreDropped,
        };
        // Without the restore the close has no row to update.
        assert!(write::apply_op(&conn, &close).is_err());
        let restored = lost.restore_for(&conn, &close);
        write::apply_op(&conn, &close).unwrap();
        // Remembered until the caller says its transaction committed.
        assert!(lost.event_missing(8));
        lost.forget(&restored);
        assert!(!lost.event_missing(8));
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM process_events WHERE id = 8 AND exit_time = 20.0 AND peak_snapshot_id IS NULL"
            ),
            1
        );
    }

    #[test]
    fn a_lost_capture_is_stored_with_its_lost_event_before_its_parts() {
        let conn = db();
        let lost = LostRows::default();
        lost.lost(&Op::OpenEvent(event(3)));
        lost.lost(&Op::CreateCapture(NewCapture {
            id: 5,
            event_id: 3,
            captured_at: 11.0,
            trigger: Trigger::Manual,
            has_decode_step: false,
        }));
        let part = Op::SetCapturePart {
            capture_id: 5,
            part: CapturePart::Logs,
            status: PartStatus::Success,
            error: None,
            at: 12.0,
        };
        lost.restore_for(&conn, &part);
        write::apply_op(&conn, &part).unwrap();
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM forensic_captures WHERE id = 5 AND event_id = 3 AND logs_status = 'success'"
            ),
            1
        );
        // Nothing refers to a row that is not there.
        assert_eq!(
            count(&conn, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
            0
        );
    }

    #[test]
    fn a_row_that_was_stored_after_all_is_forgotten() {
        let conn = db();
        write::apply_op(&conn, &Op::OpenEvent(without_peak_snapshot(event(4)))).unwrap();
        let lost = LostRows::default();
        lost.lost(&Op::OpenEvent(event(4)));
        let restored = lost.restore(&conn, Some(4), None);
        assert_eq!(restored, [Restored::Event(4)]);
        lost.forget(&restored);
        assert!(!lost.event_missing(4));
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM process_events"), 1);
    }
}
