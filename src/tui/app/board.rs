//! What the daemon's stream shows: the latest sample, each process's trend, the RECENTLY ROGUE
//! decay and the max-score history behind the sparkline. Pure: times are the samples' own.

use crate::ipc::protocol::SampleMessage;
use crate::machine::Machine;
use crate::model::{ProcessKey, ProcessScore};
use std::collections::{HashMap, HashSet, VecDeque};

/// Max scores kept for the sparkline: more than any terminal is wide.
pub const SPARK_KEEP: usize = 1024;

/// How a process's score moved since the previous sample it was seen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Worsening,
    Improving,
    Stable,
}

impl Trend {
    /// `▲` up, `▽` down, `●` unchanged (the original's glyphs).
    pub fn glyph(self) -> &'static str {
        match self {
            Trend::Worsening => "▲",
            Trend::Improving => "▽",
            Trend::Stable => "●",
        }
    }
}

/// One row of TOP PROCESSES.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub process: ProcessScore,
    pub trend: Trend,
}

/// Everything the screen draws from the stream; cloned to freeze the display on pause.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Board {
    /// The daemon's monotonic sample number.
    pub seq: u64,
    /// Wall-clock time of the sample, epoch seconds.
    pub timestamp: f64,
    pub process_count: usize,
    pub max_score: u8,
    /// False until the first sample of this run arrived.
    pub has_sample: bool,
    /// The sample's rogues, highest score first, with trends.
    pub rows: Vec<Row>,
    /// Processes that left the rogue list less than `decay_seconds` ago, highest score first.
    pub recent: Vec<ProcessScore>,
    /// Max score per sample, oldest first.
    pub spark: VecDeque<u8>,
    /// The machine's state in the latest sample (None from daemons before it was sent).
    pub machine: Option<Machine>,
    /// The top culprit of the latest sample (the top unit's summed row) and its member count.
    pub culprit: Option<(ProcessScore, u32)>,
}

#[derive(Debug, Clone)]
struct Seen {
    last: ProcessScore,
    /// Timestamp of the last sample the process was a rogue in.
    at: f64,
}

/// Folds samples into a [`Board`].
#[derive(Debug, Clone)]
pub struct Stream {
    board: Board,
    /// Last sighting of every process seen within the decay window (trend memory and
    /// RECENTLY ROGUE); pruned on every sample, so it stays bounded.
    seen: HashMap<ProcessKey, Seen>,
    decay_seconds: f64,
}

impl Stream {
    pub fn new(decay_seconds: f64) -> Stream {
        Stream {
            board: Board::default(),
            seen: HashMap::new(),
            decay_seconds: decay_seconds.max(0.0),
        }
    }

    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The daemon's recent max scores (sent on connect) replace the sparkline history.
    pub fn initial_state(&mut self, history: &[u8], last_seq: u64) {
        self.board.spark = history
            .iter()
            .skip(history.len().saturating_sub(SPARK_KEEP))
            .copied()
            .collect();
        if !self.board.has_sample {
            self.board.seq = last_seq;
        }
    }

    /// Takes one sample: trends against each process's previous sighting, then the decay.
    pub fn sample(&mut self, msg: SampleMessage) {
        let ts = msg.timestamp;
        self.board.culprit = msg
            .top_culprit()
            .filter(|(p, _)| p.score > 0)
            .map(|(p, n)| (p.clone(), n));
        self.board.machine = msg.machine.as_deref().cloned();
        let mut rows = Vec::with_capacity(msg.rogues.len());
        let mut current = HashSet::with_capacity(msg.rogues.len());
        for p in msg.rogues {
            let key = p.key();
            current.insert(key);
            let trend = match self.seen.get(&key) {
                Some(s) if p.score > s.last.score => Trend::Worsening,
                Some(s) if p.score < s.last.score => Trend::Improving,
                _ => Trend::Stable,
            };
            self.seen.insert(
                key,
                Seen {
                    last: p.clone(),
                    at: ts,
                },
            );
            rows.push(Row { process: p, trend });
        }
        let decay = self.decay_seconds;
        self.seen
            .retain(|k, s| current.contains(k) || (ts - s.at).max(0.0) < decay);
        let mut recent: Vec<ProcessScore> = self
            .seen
            .iter()
            .filter(|(k, _)| !current.contains(k))
            .map(|(_, s)| s.last.clone())
            .collect();
        recent.sort_by(|a, b| b.score.cmp(&a.score).then(a.pid.cmp(&b.pid)));
        self.board.spark.push_back(msg.max_score);
        while self.board.spark.len() > SPARK_KEEP {
            self.board.spark.pop_front();
        }
        self.board.seq = msg.seq;
        self.board.timestamp = ts;
        self.board.process_count = msg.process_count;
        self.board.max_score = msg.max_score;
        self.board.has_sample = true;
        self.board.rows = rows;
        self.board.recent = recent;
    }

    /// The last sighting of a process still remembered (for a detail view of a process that
    /// left the list).
    pub fn last_seen(&self, key: &ProcessKey) -> Option<&ProcessScore> {
        self.seen.get(key).map(|s| &s.last)
    }

    /// How many processes are remembered (bounded by the decay window).
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}
