//! The data every part of rogue-hunter speaks: bands, resources, process states, the per-process
//! `ProcessScore` and the per-pass `Sample`.
//!
//! Field names are the original's (they are SQLite column and JSON key names), so a row written by
//! the daemon, a line sent over the socket and a column queried with `sqlite3` all say the same.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Severity band of a score. Ordered: `Low < Medium < Elevated < High < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    #[default]
    Low,
    Medium,
    Elevated,
    High,
    Critical,
}

impl Band {
    /// Every band, least severe first.
    pub const ALL: [Band; 5] = [
        Band::Low,
        Band::Medium,
        Band::Elevated,
        Band::High,
        Band::Critical,
    ];

    /// The lower-case name used in config files, the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::Elevated => "elevated",
            Band::High => "high",
            Band::Critical => "critical",
        }
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the five bands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown band: '{0}'. Valid bands: low, medium, elevated, high, critical")]
pub struct UnknownBand(pub String);

impl FromStr for Band {
    type Err = UnknownBand;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Band::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| UnknownBand(s.to_string()))
    }
}

/// The five scored resources. Declaration order is the tie-break order for the dominant resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    #[default]
    Cpu,
    Gpu,
    Memory,
    Disk,
    Wakeups,
}

impl Resource {
    /// Every resource in tie-break order.
    pub const ALL: [Resource; 5] = [
        Resource::Cpu,
        Resource::Gpu,
        Resource::Memory,
        Resource::Disk,
        Resource::Wakeups,
    ];

    /// The name stored in `dominant_resource` (note `memory`, not `mem`).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Gpu => "gpu",
            Resource::Memory => "memory",
            Resource::Disk => "disk",
            Resource::Wakeups => "wakeups",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Resource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Resource::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown resource '{s}'"))
    }
}

/// Scheduler state of a process, normalised across platforms.
///
/// Linux `stat` field 3: R→running, S→sleeping, D→stuck, T/t→stopped, Z→zombie, I→idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProcState {
    Running,
    Sleeping,
    Stuck,
    Stopped,
    Zombie,
    Idle,
    #[default]
    Unknown,
}

impl ProcState {
    /// Every state, in the order the config lists multipliers.
    pub const ALL: [ProcState; 7] = [
        ProcState::Running,
        ProcState::Sleeping,
        ProcState::Stuck,
        ProcState::Stopped,
        ProcState::Zombie,
        ProcState::Idle,
        ProcState::Unknown,
    ];

    /// Maps the Linux `stat` state letter.
    pub fn from_linux_code(c: u8) -> ProcState {
        match c {
            b'R' => ProcState::Running,
            b'S' => ProcState::Sleeping,
            b'D' => ProcState::Stuck,
            b'T' | b't' => ProcState::Stopped,
            b'Z' => ProcState::Zombie,
            b'I' => ProcState::Idle,
            _ => ProcState::Unknown,
        }
    }

    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Sleeping => "sleeping",
            ProcState::Stuck => "stuck",
            ProcState::Stopped => "stopped",
            ProcState::Zombie => "zombie",
            ProcState::Idle => "idle",
            ProcState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ProcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProcState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProcState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown process state '{s}'"))
    }
}

/// Why a process snapshot was taken. `Peak` is a checkpoint that set a new peak (one row per
/// sample at most: the tracker writes `Peak` instead of a checkpoint plus a peak).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotType {
    Entry,
    Checkpoint,
    Peak,
    Exit,
}

impl SnapshotType {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotType::Entry => "entry",
            SnapshotType::Checkpoint => "checkpoint",
            SnapshotType::Peak => "peak",
            SnapshotType::Exit => "exit",
        }
    }
}

/// Why an event ended (`process_events.exit_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The score stayed below the tracking threshold long enough.
    ScoreDropped,
    /// The process exited, or its pid now belongs to another process.
    ProcessGone,
    /// The daemon stopped (on a crash: closed at the next start at the last sample time).
    DaemonStopped,
}

impl ExitReason {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::ScoreDropped => "score_dropped",
            ExitReason::ProcessGone => "process_gone",
            ExitReason::DaemonStopped => "daemon_stopped",
        }
    }
}

impl fmt::Display for SnapshotType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A process is the pair (pid, start time): a reused pid is a different process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessKey {
    pub pid: u32,
    /// `start_time` as IEEE-754 bits: the value is computed the same way every time, so bit
    /// equality is identity (and survives a round trip through a SQLite REAL column).
    pub start_bits: u64,
}

/// Everything measured and derived for one process (or one unit, summed) in one sample.
///
/// The 44 fields of the original, with the same names, plus `ppid`, `uid` and `start_time`, and
/// the score's `reason` and the `members` of the unit it belongs to. Cumulative counters are
/// integers, rates are per second. Units: `cpu` % of one core, `mem` bytes, `disk_io_rate` B/s,
/// `runnable_time` and `gpu_time` ns, their rates ms/s.
///
/// Under the impact model a process row carries its **unit's** score, band, dominant resource,
/// reason and member count (the unit is the culprit), and its *own* blame per resource in the
/// `*_share` fields (0–1; `disproportionality` is the blame of the dominant resource). Under
/// fair-share every process is its own unit and the fields mean what the original's did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProcessScore {
    pub pid: u32,
    pub command: String,
    /// Wall-clock time of the reading, epoch seconds (UTC).
    pub captured_at: f64,
    pub cpu: f64,
    pub mem: u64,
    pub mem_peak: u64,
    pub pageins: u64,
    pub pageins_rate: f64,
    pub faults: u64,
    pub faults_rate: f64,
    pub disk_io: u64,
    pub disk_io_rate: f64,
    pub csw: u64,
    pub csw_rate: f64,
    pub syscalls: u64,
    pub syscalls_rate: f64,
    pub threads: u32,
    pub mach_msgs: u64,
    pub mach_msgs_rate: f64,
    pub instructions: u64,
    pub cycles: u64,
    pub ipc: f64,
    pub energy: u64,
    pub energy_rate: f64,
    pub wakeups: u64,
    pub wakeups_rate: f64,
    pub runnable_time: u64,
    pub runnable_time_rate: f64,
    pub qos_interactive: u64,
    pub qos_interactive_rate: f64,
    pub gpu_time: u64,
    pub gpu_time_rate: f64,
    pub zombie_children: u32,
    pub state: ProcState,
    pub priority: i32,
    pub score: u8,
    pub band: Band,
    pub cpu_share: f64,
    pub gpu_share: f64,
    pub mem_share: f64,
    pub disk_share: f64,
    pub wakeups_share: f64,
    pub disproportionality: f64,
    pub dominant_resource: Resource,
    pub ppid: u32,
    pub uid: u32,
    /// Process start, epoch seconds (UTC).
    pub start_time: f64,
    /// One line saying why the score is what it is (`cpu: 1.9 of 2 cores for 14 s, cpu
    /// pressure 64 %`); empty for a score of 0.
    #[serde(default)]
    pub reason: String,
    /// Processes in the unit this score belongs to (1: the process alone; 0 in rows written
    /// before units existed).
    #[serde(default)]
    pub members: u32,
}

impl ProcessScore {
    /// The identity used for rate baselines, the tracker and TUI trends.
    pub fn key(&self) -> ProcessKey {
        ProcessKey {
            pid: self.pid,
            start_bits: self.start_time.to_bits(),
        }
    }
}

/// What a unit is made of (see `crate::units` for the grouping rule).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A cgroup v2 service or scope.
    Cgroup,
    /// One program within one process group.
    ProcessGroup,
    /// A single process.
    #[default]
    Process,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Cgroup => "cgroup",
            UnitKind::ProcessGroup => "process_group",
            UnitKind::Process => "process",
        }
    }
}

/// A culprit: one or more processes scored together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Unit {
    /// Stable identity: `cgroup:<path>`, `pgrp:<pgid>:<command>` or `pid:<pid>:<start_time>`.
    pub key: String,
    pub kind: UnitKind,
    /// For people: the cgroup's leaf name, `process group N`, or empty for a single process.
    pub label: String,
    /// The unit as one row: its leader's identity (`pid`, `start_time`), its command, usage
    /// summed over members (`cpu` includes exited children's), and its score, band, dominant
    /// resource, blame, reason and member count.
    pub row: ProcessScore,
    /// Its members' pids; their own rows are in [`Sample::processes`].
    pub member_pids: Vec<u32>,
}

/// One pass over every process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Sample {
    /// Monotonic sample number since the daemon started (1-based).
    pub seq: u64,
    /// Wall-clock time at the end of the pass, epoch seconds (UTC).
    pub timestamp: f64,
    /// How long reading and scoring took, in milliseconds.
    pub elapsed_ms: f64,
    /// Processes read and scored in this pass.
    pub process_count: usize,
    /// The highest score of the pass (0 with no processes).
    pub max_score: u8,
    /// How many leading entries of `processes` are the top-N rogues shown to clients.
    pub rogue_count: usize,
    /// File reads refused with EACCES/EPERM in this pass (those fields read as 0).
    pub access_denied: u32,
    /// Every process, highest score first (ties keep enumeration order).
    pub processes: Vec<ProcessScore>,
    /// The machine's state: CPUs, memory, fork and switch rates, pressure.
    #[serde(default)]
    pub machine: crate::machine::Machine,
    /// Units with a score above 0 (impact model) or at the tracking threshold (fair-share,
    /// where each process is its own unit), highest score first.
    #[serde(default)]
    pub units: Vec<Unit>,
}

impl Sample {
    /// The top-N processes by score, highest first.
    pub fn rogues(&self) -> &[ProcessScore] {
        &self.processes[..self.rogue_count.min(self.processes.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_ordered_and_parse_by_name() {
        assert!(Band::Low < Band::Medium && Band::High < Band::Critical);
        for b in Band::ALL {
            assert_eq!(b.as_str().parse::<Band>().unwrap(), b);
        }
        let err = "invalid".parse::<Band>().unwrap_err();
        assert!(err.to_string().contains("Unknown band: 'invalid'"));
    }

    #[test]
    fn linux_state_letters_map_as_designed() {
        let cases = [
            (b'R', ProcState::Running),
            (b'S', ProcState::Sleeping),
            (b'D', ProcState::Stuck),
            (b'T', ProcState::Stopped),
            (b't', ProcState::Stopped),
            (b'Z', ProcState::Zombie),
            (b'I', ProcState::Idle),
            (b'X', ProcState::Unknown),
        ];
        for (c, st) in cases {
            assert_eq!(ProcState::from_linux_code(c), st);
        }
    }

    #[test]
    fn process_score_json_round_trips_with_original_field_names() {
        let p = ProcessScore {
            pid: 42,
            command: "a, \"b\"".into(),
            score: 73,
            band: Band::Critical,
            dominant_resource: Resource::Memory,
            disproportionality: 12.5,
            start_time: 1_700_000_000.25,
            ..Default::default()
        };
        let v = serde_json::to_value(&p).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(
            obj.len(),
            49,
            "44 original fields + ppid, uid, start_time + reason, members"
        );
        assert_eq!(obj["dominant_resource"], "memory");
        assert_eq!(obj["band"], "critical");
        assert_eq!(obj["state"], "unknown");
        let back: ProcessScore = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, p);
        for legacy in [
            "blocking_score",
            "contention_score",
            "pressure_score",
            "efficiency_score",
            "dominant_category",
            "dominant_metrics",
        ] {
            assert!(!obj.contains_key(legacy));
        }
    }

    #[test]
    fn identity_changes_with_start_time() {
        let a = ProcessScore {
            pid: 7,
            start_time: 100.0,
            ..Default::default()
        };
        let b = ProcessScore {
            start_time: 101.0,
            ..a.clone()
        };
        assert_ne!(a.key(), b.key());
        assert_eq!(a.key(), a.clone().key());
    }

    #[test]
    fn rogues_are_the_leading_processes() {
        let s = Sample {
            rogue_count: 5,
            processes: vec![ProcessScore::default(); 3],
            ..Default::default()
        };
        assert_eq!(s.rogues().len(), 3);
    }
}
