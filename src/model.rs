//! The data every part of rogue-hunter speaks: bands, resources, process states, the per-process
//! `ProcessScore` and the per-pass `Sample`.
//!
//! Field names are the original's (they are SQLite column and JSON key names), so a row written by
//! the daemon, a line sent over the socket and a column queried with `sqlite3` all say the same.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use strum::{Display, EnumString, IntoStaticStr};

// Every name-like enum here is declared through `named!`, so its text is derived once for
// serde (JSON, the socket) and strum (`Display`, `FromStr`, `as_str`: the database, the CLI):
// the two cannot disagree. The tests below pin every name to what earlier versions stored.

/// Declares a name-like enum: `Copy`, comparable, hashable, and named in `$case` everywhere.
macro_rules! named {
    ($case:literal, $(#[$meta:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString,
            IntoStaticStr,
        )]
        #[serde(rename_all = $case)]
        #[strum(serialize_all = $case)]
        $(#[$meta])*
        $vis enum $name { $($body)* }

        impl $name {
            /// The name stored in the database and carried in JSON.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}

named! {
    "lowercase",
    /// Severity band of a score. Ordered: `Low < Medium < Elevated < High < Critical`.
    #[derive(PartialOrd, Ord, Default)]
    #[strum(parse_err_ty = UnknownBand, parse_err_fn = UnknownBand::new)]
    pub enum Band {
        #[default]
        Low,
        Medium,
        Elevated,
        High,
        Critical,
    }
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
}

/// A name that is not one of the five bands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown band: '{0}'. Valid bands: low, medium, elevated, high, critical")]
pub struct UnknownBand(pub String);

impl UnknownBand {
    fn new(name: &str) -> UnknownBand {
        UnknownBand(name.to_string())
    }
}

named! {
    "lowercase",
    /// The five scored resources. Declaration order is the tie-break order for the dominant resource.
    #[derive(Default)]
    pub enum Resource {
        #[default]
        Cpu,
        Gpu,
        Memory,
        Disk,
        Wakeups,
    }
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
}

named! {
    "lowercase",
    /// Scheduler state of a process, normalised across platforms.
    ///
    /// Linux `stat` field 3: R→running, S→sleeping, D→stuck, T/t→stopped, Z→zombie, I→idle.
    #[derive(Default)]
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
}

named! {
    "lowercase",
    /// Why a process snapshot was taken. `Peak` is a checkpoint that set a new peak (one row per
    /// sample at most: the tracker writes `Peak` instead of a checkpoint plus a peak).
    pub enum SnapshotType {
        Entry,
        Checkpoint,
        Peak,
        Exit,
    }
}

named! {
    "snake_case",
    /// Why an event ended (`process_events.exit_reason`).
    pub enum ExitReason {
        /// The score stayed below the tracking threshold long enough.
        ScoreDropped,
        /// The process exited, or its pid now belongs to another process.
        ProcessGone,
        /// The daemon stopped (on a crash: closed at the next start at the last sample time).
        DaemonStopped,
    }
}

named! {
    "lowercase",
    /// One part of a forensic capture; each has a status (and an error text) of its own.
    ///
    /// Declared in name order, so a map keyed by part lists them as it did when the keys were the
    /// names (`buffer`, `decode`, `logs`, `stacks`: the `statuses` of a `capture` notice).
    #[derive(PartialOrd, Ord)]
    pub enum CapturePart {
        /// The frozen ring buffer.
        Buffer,
        /// The macOS spindump decode step (absent elsewhere).
        Decode,
        /// System log entries.
        Logs,
        /// Thread stacks, on every platform.
        Stacks,
    }
}

impl CapturePart {
    pub const ALL: [CapturePart; 4] = [
        CapturePart::Buffer,
        CapturePart::Decode,
        CapturePart::Logs,
        CapturePart::Stacks,
    ];
}

named! {
    "lowercase",
    /// How one capture part ended (or that it has not yet). Adding a status is one change here:
    /// its name comes from the derive, and [`PartStatus::is_ok`] and [`PartStatus::captured`]
    /// (`match`es, so the compiler asks) decide what it means for the capture.
    pub enum PartStatus {
        Pending,
        Success,
        /// The error text says why.
        Failed,
        /// Not attempted (tool absent, no permission); the error text gives the reason.
        Skipped,
        Timeout,
    }
}

impl PartStatus {
    /// Whether the part ended with nothing gone wrong: done, or not attempted for a reason it
    /// states (no tool, no permission), which no retry would change.
    pub fn is_ok(self) -> bool {
        match self {
            PartStatus::Success | PartStatus::Skipped => true,
            PartStatus::Pending | PartStatus::Failed | PartStatus::Timeout => false,
        }
    }

    /// Whether the part stored what it set out to capture (a capture with such a part is not
    /// a failure, even when another part went wrong).
    pub fn captured(self) -> bool {
        match self {
            PartStatus::Success => true,
            PartStatus::Pending
            | PartStatus::Failed
            | PartStatus::Skipped
            | PartStatus::Timeout => false,
        }
    }
}

named! {
    "lowercase",
    /// One word for a whole capture: the rule the forensics worker counts in `/metrics`
    /// (`captures_total{status}`) and the TUI colours its message by.
    pub enum CaptureOutcome {
        /// Every part [`is_ok`](PartStatus::is_ok).
        Success,
        /// Some part went wrong, and at least one [captured](PartStatus::captured) its data.
        Partial,
        /// Some part went wrong, and none captured its data.
        Failed,
    }
}

impl CaptureOutcome {
    /// The outcome of a capture whose parts ended so.
    pub fn of(statuses: impl IntoIterator<Item = PartStatus>) -> CaptureOutcome {
        let (mut all_ok, mut any_success) = (true, false);
        for s in statuses {
            all_ok &= s.is_ok();
            any_success |= s.captured();
        }
        if all_ok {
            CaptureOutcome::Success
        } else if any_success {
            CaptureOutcome::Partial
        } else {
            CaptureOutcome::Failed
        }
    }
}

named! {
    "lowercase",
    /// The PSI resource (`/proc/pressure/<name>`) behind a `pressure_<name>` trigger.
    pub enum PsiResource {
        Cpu,
        Memory,
        Io,
    }
}

impl PsiResource {
    pub const ALL: [PsiResource; 3] = [PsiResource::Cpu, PsiResource::Memory, PsiResource::Io];
}

/// What started a forensic capture. Its text (`band_entry_critical`, `manual`, …) is what
/// `forensic_captures.trigger` stores and the socket's `capture` notice carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An event opened directly at or above the forensics band (`band_entry_<band>`).
    BandEntry(Band),
    /// A new peak moved an event into the forensics band or above (`peak_escalation_<band>`).
    PeakEscalation(Band),
    /// Asked for by a client (`capture`, the TUI's `c`).
    Manual,
    /// System-wide pressure passed `[forensics] psi_trigger` (`pressure_<resource>`).
    Pressure(PsiResource),
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::BandEntry(b) => write!(f, "band_entry_{b}"),
            Trigger::PeakEscalation(b) => write!(f, "peak_escalation_{b}"),
            Trigger::Manual => f.write_str("manual"),
            Trigger::Pressure(r) => write!(f, "pressure_{r}"),
        }
    }
}

/// Text that names no [`Trigger`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trigger '{0}'")]
pub struct UnknownTrigger(pub String);

impl FromStr for Trigger {
    type Err = UnknownTrigger;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownTrigger(s.to_string());
        if s == "manual" {
            return Ok(Trigger::Manual);
        }
        if let Some(band) = s.strip_prefix("band_entry_") {
            return band.parse().map(Trigger::BandEntry).map_err(|_| unknown());
        }
        if let Some(band) = s.strip_prefix("peak_escalation_") {
            return band
                .parse()
                .map(Trigger::PeakEscalation)
                .map_err(|_| unknown());
        }
        if let Some(r) = s.strip_prefix("pressure_") {
            return r.parse().map(Trigger::Pressure).map_err(|_| unknown());
        }
        Err(unknown())
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
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

named! {
    "snake_case",
    /// What a unit is made of (see `crate::units` for the grouping rule).
    #[derive(PartialOrd, Ord, Default)]
    pub enum UnitKind {
        /// A cgroup v2 service or scope.
        Cgroup,
        /// One program within one process group.
        ProcessGroup,
        /// A single process.
        #[default]
        Process,
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

    /// serde and strum spell every name the same: JSON and the database agree.
    #[test]
    fn names_agree_between_serde_and_strum() {
        fn check<T: Serialize + fmt::Display + FromStr + PartialEq + fmt::Debug + Copy>(all: &[T])
        where
            <T as FromStr>::Err: fmt::Debug,
        {
            for v in all {
                let json = serde_json::to_value(v).unwrap();
                assert_eq!(json.as_str(), Some(v.to_string().as_str()), "{v:?}");
                assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
            }
        }
        check(&Band::ALL);
        check(&Resource::ALL);
        check(&ProcState::ALL);
        check(&CapturePart::ALL);
        check(&[
            SnapshotType::Entry,
            SnapshotType::Checkpoint,
            SnapshotType::Peak,
            SnapshotType::Exit,
        ]);
        check(&[
            ExitReason::ScoreDropped,
            ExitReason::ProcessGone,
            ExitReason::DaemonStopped,
        ]);
        check(&[
            PartStatus::Pending,
            PartStatus::Success,
            PartStatus::Failed,
            PartStatus::Skipped,
            PartStatus::Timeout,
        ]);
        check(&[
            Trigger::BandEntry(Band::Critical),
            Trigger::PeakEscalation(Band::High),
            Trigger::Manual,
            Trigger::Pressure(PsiResource::Io),
        ]);
    }

    /// The text of every name is what the database and the socket held before the names were
    /// derived: rows and messages of earlier versions read the same.
    #[test]
    fn names_are_the_stored_ones() {
        let names = |v: Vec<String>| v.join(" ");
        assert_eq!(
            names(Band::ALL.iter().map(|b| b.to_string()).collect()),
            "low medium elevated high critical"
        );
        assert_eq!(
            names(Resource::ALL.iter().map(|r| r.to_string()).collect()),
            "cpu gpu memory disk wakeups"
        );
        assert_eq!(
            names(ProcState::ALL.iter().map(|s| s.to_string()).collect()),
            "running sleeping stuck stopped zombie idle unknown"
        );
        assert_eq!(
            names(CapturePart::ALL.iter().map(|p| p.to_string()).collect()),
            "buffer decode logs stacks"
        );
        assert_eq!(ExitReason::DaemonStopped.as_str(), "daemon_stopped");
        assert_eq!(ExitReason::ScoreDropped.as_str(), "score_dropped");
        assert_eq!(ExitReason::ProcessGone.as_str(), "process_gone");
        assert_eq!(SnapshotType::Checkpoint.as_str(), "checkpoint");
        assert_eq!(PartStatus::Timeout.as_str(), "timeout");
        let triggers = [
            (Trigger::BandEntry(Band::Critical), "band_entry_critical"),
            (Trigger::PeakEscalation(Band::High), "peak_escalation_high"),
            (Trigger::Manual, "manual"),
            (Trigger::Pressure(PsiResource::Memory), "pressure_memory"),
        ];
        for (t, text) in triggers {
            assert_eq!(t.to_string(), text);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<Trigger>(&format!("\"{text}\"")).unwrap(),
                t
            );
        }
        for bad in [
            "band_entry_",
            "band_entry_huge",
            "pressure_gpu",
            "test1",
            "",
        ] {
            assert!(bad.parse::<Trigger>().is_err(), "{bad}");
        }
        assert!("pending".parse::<PartStatus>().is_ok());
        assert!("ok".parse::<PartStatus>().is_err());
    }

    #[test]
    fn one_rule_for_a_capture_outcome() {
        use PartStatus::*;
        let of = |v: &[PartStatus]| CaptureOutcome::of(v.iter().copied());
        assert_eq!(of(&[Success, Success, Success]), CaptureOutcome::Success);
        assert_eq!(of(&[Success, Skipped, Success]), CaptureOutcome::Success);
        assert_eq!(of(&[Success, Failed, Skipped]), CaptureOutcome::Partial);
        assert_eq!(of(&[Success, Timeout]), CaptureOutcome::Partial);
        assert_eq!(of(&[Failed, Failed]), CaptureOutcome::Failed);
        assert_eq!(of(&[Failed, Skipped, Timeout]), CaptureOutcome::Failed);
        assert_eq!(
            of(&[Success, Pending]),
            CaptureOutcome::Partial,
            "cut short"
        );
        assert_eq!(CaptureOutcome::Partial.as_str(), "partial");
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
