//! Replay of a capture's ring buffer: which sample is shown, and the board it makes for TOP
//! PROCESSES, so the table sorts and filters a past sample exactly as it does a live one.

use super::board::{Board, Row, Trend};
use crate::model::ProcessKey;
use crate::tui::history::{ReplayData, ReplayProblem, ReplaySample};
use std::collections::HashMap;
use std::sync::Arc;

/// Samples `[` and `]` jump.
pub const JUMP: isize = 10;

/// Where the capture's data is.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayState {
    /// Being read: samples read so far, of how many (0 of 0 before the first answer).
    Loading {
        done: usize,
        total: usize,
    },
    /// Shared, so cloning the app does not copy ~45,000 process rows.
    Ready(Arc<ReplayData>),
    Problem(ReplayProblem),
}

/// A replay under way.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub capture_id: i64,
    pub event_id: i64,
    /// The culprit's command, for the banner until the data is there.
    pub command: String,
    pub state: ReplayState,
    /// Index of the sample shown.
    pub position: usize,
    board: Board,
}

impl Replay {
    /// A replay waiting for its data.
    pub fn loading(capture_id: i64, event_id: i64, command: String) -> Replay {
        Replay {
            capture_id,
            event_id,
            command,
            state: ReplayState::Loading { done: 0, total: 0 },
            position: 0,
            board: Board::default(),
        }
    }

    /// The data arrived: the replay starts at the newest sample (the trigger's moment).
    pub fn ready(&mut self, data: ReplayData) {
        self.position = data.samples.len().saturating_sub(1);
        self.state = ReplayState::Ready(Arc::new(data));
        self.rebuild();
    }

    pub fn data(&self) -> Option<&ReplayData> {
        match &self.state {
            ReplayState::Ready(d) => Some(d),
            _ => None,
        }
    }

    /// The sample shown, once the data is there.
    pub fn sample(&self) -> Option<&ReplaySample> {
        self.data().and_then(|d| d.samples.get(self.position))
    }

    /// Seconds from the trigger to the sample shown (negative before it).
    pub fn relative_time(&self) -> Option<f64> {
        let d = self.data()?;
        Some(self.sample()?.sample.captured_at - d.trigger_at)
    }

    /// The table's contents at the sample shown.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Moves by `delta` samples, clamped to the buffer; whether the position changed.
    pub fn step(&mut self, delta: isize) -> bool {
        let Some(n) = self.data().map(|d| d.samples.len()) else {
            return false;
        };
        if n == 0 {
            return false;
        }
        let to = (self.position as isize)
            .saturating_add(delta)
            .clamp(0, n as isize - 1) as usize;
        let moved = to != self.position;
        self.position = to;
        if moved {
            self.rebuild();
        }
        moved
    }

    /// Rebuilds the board of the sample shown; each process's trend is against the sample
    /// before it.
    fn rebuild(&mut self) {
        let Some(data) = self.data() else {
            return;
        };
        let Some(s) = data.samples.get(self.position) else {
            self.board = Board::default();
            return;
        };
        let before: HashMap<ProcessKey, u8> = self
            .position
            .checked_sub(1)
            .and_then(|i| data.samples.get(i))
            .map(|p| p.processes.iter().map(|x| (x.key(), x.score)).collect())
            .unwrap_or_default();
        let rows = s
            .processes
            .iter()
            .map(|p| Row {
                trend: match before.get(&p.key()) {
                    Some(&b) if p.score > b => Trend::Worsening,
                    Some(&b) if p.score < b => Trend::Improving,
                    _ => Trend::Stable,
                },
                process: p.clone(),
            })
            .collect();
        let spark = data
            .samples
            .iter()
            .take(self.position + 1)
            .map(|x| u8::try_from(x.sample.max_score.clamp(0, 255)).unwrap_or(u8::MAX))
            .collect();
        self.board = Board {
            seq: s
                .sample
                .seq
                .and_then(|q| u64::try_from(q).ok())
                .unwrap_or(0),
            timestamp: s.sample.captured_at,
            process_count: usize::try_from(s.sample.process_count).unwrap_or(0),
            max_score: u8::try_from(s.sample.max_score.clamp(0, 255)).unwrap_or(u8::MAX),
            has_sample: true,
            rows,
            recent: Vec::new(),
            spark,
            machine: (s.sample.machine.cpus > 0).then(|| s.sample.machine.clone()),
            culprit: None,
        };
    }
}
