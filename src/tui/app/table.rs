//! TOP PROCESSES as the user arranged it: sorted by a chosen column and filtered by name.

use super::board::Row;
use crate::model::ProcessScore;
use std::cmp::Ordering;

/// A sortable column of TOP PROCESSES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Score,
    Cpu,
    Gpu,
    Mem,
    Disk,
    Wake,
    Dominant,
    State,
    Process,
    Pid,
}

impl SortKey {
    /// The order `s` cycles through.
    pub const ALL: [SortKey; 10] = [
        SortKey::Score,
        SortKey::Cpu,
        SortKey::Gpu,
        SortKey::Mem,
        SortKey::Disk,
        SortKey::Wake,
        SortKey::Dominant,
        SortKey::State,
        SortKey::Process,
        SortKey::Pid,
    ];

    /// The next column in the cycle.
    pub fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }

    /// The column header this key sorts by.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Score => "Score",
            SortKey::Cpu => "CPU",
            SortKey::Gpu => "GPU",
            SortKey::Mem => "MEM",
            SortKey::Disk => "DISK",
            SortKey::Wake => "WAKE",
            SortKey::Dominant => "Dominant",
            SortKey::State => "State",
            SortKey::Process => "Process",
            SortKey::Pid => "PID",
        }
    }

    /// Numbers sort biggest first; names and pids in reading order.
    pub fn default_descending(self) -> bool {
        !matches!(self, SortKey::State | SortKey::Process | SortKey::Pid)
    }

    fn compare(self, a: &ProcessScore, b: &ProcessScore) -> Ordering {
        match self {
            SortKey::Score => a.score.cmp(&b.score),
            SortKey::Cpu => a.cpu.total_cmp(&b.cpu),
            SortKey::Gpu => a.gpu_time_rate.total_cmp(&b.gpu_time_rate),
            SortKey::Mem => a.mem.cmp(&b.mem),
            SortKey::Disk => a.disk_io_rate.total_cmp(&b.disk_io_rate),
            SortKey::Wake => a.wakeups_rate.total_cmp(&b.wakeups_rate),
            SortKey::Dominant => a.disproportionality.total_cmp(&b.disproportionality),
            SortKey::State => a.state.as_str().cmp(b.state.as_str()),
            SortKey::Process => a.command.to_lowercase().cmp(&b.command.to_lowercase()),
            SortKey::Pid => a.pid.cmp(&b.pid),
        }
    }
}

/// The sort in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort {
            key: SortKey::Score,
            descending: true,
        }
    }
}

impl Sort {
    /// `s`: the next column, in its natural direction.
    pub fn cycle(self) -> Sort {
        let key = self.key.next();
        Sort {
            key,
            descending: key.default_descending(),
        }
    }

    /// `S`: the same column, the other way round.
    pub fn reversed(self) -> Sort {
        Sort {
            descending: !self.descending,
            ..self
        }
    }

    /// Orders two processes; ties fall back to the higher score, then the lower pid.
    pub fn compare(self, a: &ProcessScore, b: &ProcessScore) -> Ordering {
        let primary = self.key.compare(a, b);
        let primary = if self.descending {
            primary.reverse()
        } else {
            primary
        };
        primary
            .then_with(|| b.score.cmp(&a.score))
            .then_with(|| a.pid.cmp(&b.pid))
    }
}

/// Does a process match the name filter (case-insensitive substring; empty matches all)?
pub fn matches(p: &ProcessScore, filter: &str) -> bool {
    filter.is_empty() || p.command.to_lowercase().contains(&filter.to_lowercase())
}

/// The rows shown: filtered, then sorted.
pub fn arrange<'a>(rows: &'a [Row], sort: Sort, filter: &str) -> Vec<&'a Row> {
    let mut out: Vec<&Row> = rows
        .iter()
        .filter(|r| matches(&r.process, filter))
        .collect();
    out.sort_by(|a, b| sort.compare(&a.process, &b.process));
    out
}
