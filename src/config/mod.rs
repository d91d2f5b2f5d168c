//! Configuration: typed sections with their defaults (every key optional), strict loading and
//! saving.
//!
//! Every key is optional. A missing file means all defaults. Unknown sections and keys, wrong
//! types, out-of-range values, unordered band thresholds and invalid colours are errors that name
//! the key and its line (see [`load`]).

pub mod colour;
mod load;
mod validate;

pub use load::{ConfigError, Problem, load_file, load_or_default, parse_str};

use crate::model::{Band, ProcState};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub retention: RetentionConfig,
    pub system: SystemConfig,
    pub bands: BandsConfig,
    pub scoring: ScoringConfig,
    pub rogue_selection: RogueSelectionConfig,
    pub sampler: SamplerConfig,
    pub tracking: TrackingConfig,
    pub forensics: ForensicsConfig,
    pub metrics: MetricsConfig,
    pub tui: TuiConfig,
}

/// How long history is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Closed events older than this many days are pruned (with their snapshots and captures).
    pub events_days: u32,
    /// Machine snapshots (every process, once a minute) older than this are pruned.
    pub machine_snapshot_hours: f64,
    /// Forensic captures (stacks, logs, the stored ring buffer) older than this many days are
    /// pruned even while their event is kept: they are by far the largest rows.
    pub captures_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            events_days: 90,
            machine_snapshot_hours: 12.0,
            captures_days: 30,
        }
    }
}

/// Daemon cadence, ring buffer and log file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemConfig {
    /// Samples kept in memory (90 at 3 Hz is about 30 s); frozen into every forensic capture.
    pub ring_buffer_size: u32,
    /// Target period of the sampler, seconds.
    pub sample_interval: f64,
    /// Triggers arriving within this many seconds of an accepted trigger join its capture.
    pub forensics_debounce: f64,
    /// A heartbeat log line every N samples.
    pub heartbeat_samples: u32,
    /// A band change is logged on the console once it has held for N samples.
    pub log_stability_samples: u32,
    /// Hours between automatic prunes (one also runs at start).
    pub auto_prune_interval_hours: f64,
    /// Size at which the JSON-lines log file is rotated.
    pub log_max_bytes: u64,
    /// Rotated log files kept (`daemon.log.1` … `.N`).
    pub log_backup_count: u32,
    /// Seconds of system log before a trigger stored with a capture.
    pub forensics_log_seconds: u32,
    /// Seconds between machine snapshots (every process stored).
    pub machine_snapshot_interval: f64,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            ring_buffer_size: 90,
            sample_interval: 1.0 / 3.0,
            forensics_debounce: 2.0,
            heartbeat_samples: 60,
            log_stability_samples: 3,
            auto_prune_interval_hours: 8.0,
            log_max_bytes: 5 * 1024 * 1024,
            log_backup_count: 3,
            forensics_log_seconds: 60,
            machine_snapshot_interval: 60.0,
        }
    }
}

impl SystemConfig {
    /// `sample_interval` as a `Duration`.
    pub fn sample_period(&self) -> Duration {
        Duration::from_secs_f64(self.sample_interval)
    }
}

/// Score thresholds and which bands track, capture and log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BandsConfig {
    pub medium: u8,
    pub elevated: u8,
    pub high: u8,
    pub critical: u8,
    /// A score at or above this band's threshold opens an event.
    pub tracking_band: Band,
    /// Entering this band (or above) triggers a forensic capture.
    pub forensics_band: Band,
    /// Console "rogue entered / left" lines start at this band.
    pub logging_band: Band,
    /// Checkpoint snapshot every N samples while in medium.
    pub medium_checkpoint_samples: u32,
    /// Checkpoint snapshot every N samples while in elevated (high and critical: every sample).
    pub elevated_checkpoint_samples: u32,
}

impl Default for BandsConfig {
    fn default() -> Self {
        Self {
            medium: 40,
            elevated: 50,
            high: 60,
            critical: 70,
            tracking_band: Band::Medium,
            forensics_band: Band::Critical,
            logging_band: Band::Medium,
            medium_checkpoint_samples: 30,
            elevated_checkpoint_samples: 15,
        }
    }
}

impl BandsConfig {
    /// Lowest score of a band (`low` is 0).
    pub fn threshold(&self, band: Band) -> u8 {
        match band {
            Band::Low => 0,
            Band::Medium => self.medium,
            Band::Elevated => self.elevated,
            Band::High => self.high,
            Band::Critical => self.critical,
        }
    }

    /// The band of a score: the highest band whose threshold the score reaches.
    pub fn band_for(&self, score: u8) -> Band {
        Band::ALL
            .into_iter()
            .rev()
            .find(|b| score >= self.threshold(*b))
            .unwrap_or(Band::Low)
    }

    /// Score at which an event opens.
    pub fn tracking_threshold(&self) -> u8 {
        self.threshold(self.tracking_band)
    }

    /// Score at which a forensic capture triggers.
    pub fn forensics_threshold(&self) -> u8 {
        self.threshold(self.forensics_band)
    }

    /// Score at which console rogue lines start.
    pub fn logging_threshold(&self) -> u8 {
        self.threshold(self.logging_band)
    }
}

/// Which scoring model runs (README "How scores work").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ScoringModel {
    /// Machine stress × the unit's blame, per resource (`[scoring.impact]`).
    #[default]
    Impact,
    /// The original's formula: how unevenly each resource is split among processes.
    FairShare,
}

impl ScoringModel {
    pub fn as_str(self) -> &'static str {
        match self {
            ScoringModel::Impact => "impact",
            ScoringModel::FairShare => "fair-share",
        }
    }
}

/// Scoring parameters: the model, the fair-share formula's keys (top level, as the
/// original had them) and the impact model's (`[scoring.impact]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// `impact` (default) or `fair-share`.
    pub model: ScoringModel,
    /// CPU % above which a process counts as a CPU user.
    pub share_min_cpu: f64,
    /// GPU ms/s above which a process counts as a GPU user.
    pub share_min_gpu: f64,
    /// Memory bytes above which a process counts as a memory user.
    pub share_min_memory_bytes: f64,
    /// Disk B/s above which a process counts as a disk user.
    pub share_min_disk: f64,
    /// Wakeups/s above which a process counts as a wakeups user.
    pub share_min_wakeups: f64,
    /// Linear scale applied to the weighted sum of shares (`score_curve_multiplier` is accepted).
    #[serde(alias = "score_curve_multiplier")]
    pub score_multiplier: f64,
    /// Cap on the raw score before the state multiplier, at most 100.
    pub score_max: f64,
    pub resource_weights: ResourceWeights,
    pub state_multipliers: StateMultipliers,
    pub impact: ImpactConfig,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self {
            model: ScoringModel::Impact,
            share_min_cpu: 0.1,
            share_min_gpu: 0.25,
            share_min_memory_bytes: 10_000_000.0,
            share_min_disk: 64.0,
            share_min_wakeups: 5.0,
            score_multiplier: 1.0,
            score_max: 100.0,
            resource_weights: ResourceWeights::default(),
            state_multipliers: StateMultipliers::default(),
            impact: ImpactConfig::default(),
        }
    }
}

/// The impact model's tunables (`[scoring.impact]`). Pressures and shares of RAM are percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImpactConfig {
    /// A unit's score is the lowest it held over this many seconds: shorter bursts open nothing.
    pub persistence_s: f64,
    /// Entering the forensics band needs the score to hold there this many seconds.
    pub forensics_hold_s: f64,
    /// cpu PSI `some` (%) at which cpu pressure counts in full.
    pub cpu_pressure_full: f64,
    /// memory PSI `some` (%) at which memory pressure counts in full.
    pub memory_pressure_full: f64,
    /// io PSI `some` (%) at which io pressure counts in full.
    pub io_pressure_full: f64,
    /// Share of RAM in use (%) below which memory use adds no stress…
    pub memory_used_low: f64,
    /// …and at which it counts in full.
    pub memory_used_full: f64,
    /// New processes per second per CPU at which fork stress counts in full.
    pub forks_per_cpu_full: f64,
    /// Context switches per second per CPU at which switching counts in full.
    pub switches_per_cpu_full: f64,
    /// CPU time one context switch costs, µs: a unit's switching is charged to wakeups, not cpu.
    pub switch_cost_us: f64,
    /// A unit holding at least this many cores on average…
    pub cpu_floor_cores: f64,
    /// …for this many seconds is at least in the tracking band.
    pub cpu_floor_s: f64,
    /// A unit holding this share of RAM (%) is at least in the tracking band.
    pub memory_floor_percent: f64,
    /// A unit whose memory is this many times its decayed average…
    pub memory_growth_ratio: f64,
    /// …and at least this share of RAM (%) above it is at least in the tracking band.
    pub memory_growth_percent: f64,
    /// Time constant of that decayed average, seconds.
    pub memory_decay_s: f64,
    /// RAM running out within this many seconds at the machine's current growth rate is full
    /// memory stress (the growing unit takes the blame).
    pub memory_exhaustion_s: f64,
}

impl Default for ImpactConfig {
    fn default() -> Self {
        Self {
            persistence_s: 3.0,
            forensics_hold_s: 5.0,
            cpu_pressure_full: 50.0,
            memory_pressure_full: 10.0,
            io_pressure_full: 20.0,
            memory_used_low: 50.0,
            memory_used_full: 90.0,
            forks_per_cpu_full: 250.0,
            switches_per_cpu_full: 50_000.0,
            switch_cost_us: 3.0,
            cpu_floor_cores: 0.9,
            cpu_floor_s: 5.0,
            memory_floor_percent: 50.0,
            memory_growth_ratio: 1.25,
            memory_growth_percent: 10.0,
            memory_decay_s: 20.0,
            memory_exhaustion_s: 30.0,
        }
    }
}

/// Weight of each resource's share in the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceWeights {
    pub cpu: f64,
    pub gpu: f64,
    pub memory: f64,
    pub disk_io: f64,
    pub wakeups: f64,
}

impl Default for ResourceWeights {
    fn default() -> Self {
        Self {
            cpu: 1.1,
            gpu: 1.2,
            memory: 1.333333333,
            disk_io: 1.0,
            wakeups: 1.4,
        }
    }
}

/// Score multiplier per process state (an unlisted state gets 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateMultipliers {
    pub idle: f64,
    pub sleeping: f64,
    pub stopped: f64,
    pub zombie: f64,
    pub running: f64,
    pub stuck: f64,
}

impl Default for StateMultipliers {
    /// On Linux almost every process is `S`, so sleeping and idle are neutral there;
    /// on macOS nearly everything reports running and the original's tuned values apply.
    fn default() -> Self {
        if cfg!(target_os = "macos") {
            Self {
                idle: 3.0,
                sleeping: 2.0,
                stopped: 2.0,
                zombie: 5.0,
                running: 1.0,
                stuck: 5.0,
            }
        } else {
            Self {
                idle: 1.0,
                sleeping: 1.0,
                stopped: 2.0,
                zombie: 5.0,
                running: 1.0,
                stuck: 5.0,
            }
        }
    }
}

impl StateMultipliers {
    /// Multiplier for a state; `unknown` is neutral.
    pub fn for_state(&self, state: ProcState) -> f64 {
        match state {
            ProcState::Idle => self.idle,
            ProcState::Sleeping => self.sleeping,
            ProcState::Stopped => self.stopped,
            ProcState::Zombie => self.zombie,
            ProcState::Running => self.running,
            ProcState::Stuck => self.stuck,
            ProcState::Unknown => 1.0,
        }
    }
}

/// How many top processes go to clients with every sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RogueSelectionConfig {
    pub max_count: u32,
}

impl Default for RogueSelectionConfig {
    fn default() -> Self {
        Self { max_count: 20 }
    }
}

/// What the sampler reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplerConfig {
    /// Sample kernel threads too (kswapd at 40 % CPU is a real culprit).
    pub include_kernel_threads: bool,
    /// Read the expensive `status` file (memory, peak memory, voluntary switches) of a process
    /// that ran every N samples; 1 reads it on every sample. A process that has not run since
    /// its last read cannot have changed it and is re-read only every 10 × N samples.
    pub status_interval_samples: u32,
    /// The procfs mount to read (tests point this at fake trees).
    pub proc_root: String,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            include_kernel_threads: true,
            status_interval_samples: 3,
            proc_root: "/proc".to_string(),
        }
    }
}

/// Event tracking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackingConfig {
    /// An event closes after this many consecutive samples below the tracking threshold
    /// (1 closes at once, as the original did).
    pub exit_stability_samples: u32,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        Self {
            exit_stability_samples: 3,
        }
    }
}

/// Which user-space stack tool forensics may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserStacks {
    /// `eu-stack` (attaches one thread at a time; short stalls).
    EuStack,
    /// `gdb` (stops the whole process while it runs).
    Gdb,
    /// No user stacks.
    None,
}

/// Forensic captures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForensicsConfig {
    /// Take captures at all (manual captures included).
    pub enabled: bool,
    /// Minimum seconds between the starts of two captures.
    pub min_interval_s: f64,
    /// Culprits whose stacks are taken besides the event's own process.
    pub stack_culprits: u32,
    /// Kernel stacks are sampled this many times per thread and merged into a tree.
    pub stack_samples: u32,
    /// Milliseconds between two kernel stack samples.
    pub stack_sample_interval_ms: u32,
    /// User stacks: "eu-stack", "gdb" (stops the process) or "none".
    pub user_stacks: UserStacks,
    /// Linux: seconds of sampled profile (perf_event_open) of the culprits' threads; 0 turns
    /// the profile off and takes stacks from /proc (and eu-stack) instead.
    pub profile_seconds: f64,
    /// Samples per second of CPU time each profiled thread gets (1 to 99: more would slow the
    /// culprit down for little gain).
    pub profile_hz: u32,
    /// At most this many threads are profiled in one capture (over every culprit process).
    pub profile_max_threads: u32,
    /// Hard timeout for every external tool, seconds.
    pub tool_timeout_s: f64,
    /// PSI "some avg10" percentage above which a `pressure` capture triggers; 0 turns it off.
    pub psi_trigger: f64,
    /// On shutdown, wait this long for an in-flight capture before marking it failed.
    pub shutdown_wait_s: f64,
}

impl Default for ForensicsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_interval_s: 10.0,
            stack_culprits: 3,
            stack_samples: 5,
            stack_sample_interval_ms: 20,
            user_stacks: UserStacks::EuStack,
            profile_seconds: 3.0,
            profile_hz: 99,
            profile_max_threads: 64,
            tool_timeout_s: 15.0,
            psi_trigger: 0.0,
            shutdown_wait_s: 3.0,
        }
    }
}

/// Prometheus exporter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` to serve `/metrics` on; absent or empty means off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Per-process series are exported for this many top processes, labelled by command.
    pub top_n: u32,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: None,
            top_n: 10,
        }
    }
}

impl MetricsConfig {
    /// The listen address when the exporter is on.
    pub fn listen_addr(&self) -> Option<&str> {
        self.listen.as_deref().filter(|s| !s.is_empty())
    }
}

/// The live dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TuiConfig {
    /// Seconds a process stays in RECENTLY ROGUE after leaving the top list.
    pub decay_seconds: f64,
    /// Rows in EVENT HISTORY.
    pub tracked_max_history: u32,
    pub reconnect_initial_delay: f64,
    pub reconnect_max_delay: f64,
    pub reconnect_multiplier: f64,
    pub colors: TuiColors,
    pub sparkline: SparklineConfig,
}

impl Default for TuiConfig {
    fn default() -> Self {
        Self {
            decay_seconds: 10.0,
            tracked_max_history: 15,
            reconnect_initial_delay: 1.0,
            reconnect_max_delay: 30.0,
            reconnect_multiplier: 2.0,
            colors: TuiColors::default(),
            sparkline: SparklineConfig::default(),
        }
    }
}

/// Colour tables. Values are styles: hex (`#rgb`, `#rrggbb`), a named colour, modifiers
/// (`bold`, `dim`, …) or both (`bold red`); `""` is the terminal default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TuiColors {
    pub bands: BandColors,
    pub trends: TrendColors,
    pub categories: CategoryColors,
    pub status: StatusColors,
    pub borders: BorderColors,
    pub pid: PidColors,
    pub process_state: ProcessStateColors,
}

/// Band colours; they also make the gradient, so each must name a colour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BandColors {
    pub low: String,
    pub medium: String,
    pub elevated: String,
    pub high: String,
    pub critical: String,
}

impl Default for BandColors {
    fn default() -> Self {
        Self {
            low: "#50fa7b".into(),
            medium: "#8be9fd".into(),
            elevated: "#f1fa8c".into(),
            high: "#ffb86c".into(),
            critical: "#ff5555".into(),
        }
    }
}

impl BandColors {
    /// The colour string of a band.
    pub fn get(&self, band: Band) -> &str {
        match band {
            Band::Low => &self.low,
            Band::Medium => &self.medium,
            Band::Elevated => &self.elevated,
            Band::High => &self.high,
            Band::Critical => &self.critical,
        }
    }
}

/// Trend arrows in TOP PROCESSES; `decayed` styles RECENTLY ROGUE rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrendColors {
    pub worsening: String,
    pub improving: String,
    pub stable: String,
    pub decayed: String,
}

impl Default for TrendColors {
    fn default() -> Self {
        Self {
            worsening: "#ff5555".into(),
            improving: "#50fa7b".into(),
            stable: "#bd93f9".into(),
            decayed: "dim".into(),
        }
    }
}

/// Accepted so the original's files load; not used by any view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CategoryColors {
    pub blocking: String,
    pub contention: String,
    pub pressure: String,
    pub efficiency: String,
}

impl Default for CategoryColors {
    fn default() -> Self {
        Self {
            blocking: "#ff5555".into(),
            contention: "#ffb86c".into(),
            pressure: "#f1fa8c".into(),
            efficiency: "#bd93f9".into(),
        }
    }
}

/// Event status in EVENT HISTORY.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusColors {
    pub active: String,
    pub ended: String,
}

impl Default for StatusColors {
    fn default() -> Self {
        Self {
            active: "#50fa7b".into(),
            ended: "dim".into(),
        }
    }
}

/// Header border by stress level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BorderColors {
    pub normal: String,
    pub elevated: String,
    pub critical: String,
    pub disconnected: String,
}

impl Default for BorderColors {
    fn default() -> Self {
        Self {
            normal: "#50fa7b".into(),
            elevated: "#f1fa8c".into(),
            critical: "#ff5555".into(),
            disconnected: "#ff5555".into(),
        }
    }
}

/// PID column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PidColors {
    pub default: String,
}

impl Default for PidColors {
    fn default() -> Self {
        Self {
            default: "#6272a4".into(),
        }
    }
}

/// State column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessStateColors {
    pub running: String,
    pub sleeping: String,
    pub idle: String,
    pub stopped: String,
    pub zombie: String,
    pub stuck: String,
    pub unknown: String,
}

impl Default for ProcessStateColors {
    fn default() -> Self {
        Self {
            running: "#50fa7b".into(),
            sleeping: "#8be9fd".into(),
            idle: "dim".into(),
            stopped: "#f1fa8c".into(),
            zombie: "#ff5555".into(),
            stuck: "#ff5555".into(),
            unknown: "dim".into(),
        }
    }
}

impl ProcessStateColors {
    /// The colour string of a state.
    pub fn get(&self, state: ProcState) -> &str {
        match state {
            ProcState::Running => &self.running,
            ProcState::Sleeping => &self.sleeping,
            ProcState::Idle => &self.idle,
            ProcState::Stopped => &self.stopped,
            ProcState::Zombie => &self.zombie,
            ProcState::Stuck => &self.stuck,
            ProcState::Unknown => &self.unknown,
        }
    }
}

/// How sparkline bars grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SparklineOrientation {
    /// Blocks growing upwards.
    #[default]
    Normal,
    /// Braille growing downwards from the top.
    Inverted,
    /// Braille growing out of the middle, both ways.
    Mirrored,
}

/// Where the newest sparkline column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SparklineDirection {
    /// Oldest left, newest right.
    #[default]
    Rtl,
    /// Newest left.
    Ltr,
}

/// The max-score sparkline in the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SparklineConfig {
    /// Rows, 1 to 4.
    pub height: u32,
    /// Scores at or below this draw empty.
    pub min_value: f64,
    /// Scores at or above this draw full.
    pub max_value: f64,
    pub orientation: SparklineOrientation,
    pub direction: SparklineDirection,
}

impl Default for SparklineConfig {
    fn default() -> Self {
        Self {
            height: 3,
            min_value: 10.0,
            max_value: 60.0,
            orientation: SparklineOrientation::Normal,
            direction: SparklineDirection::Rtl,
        }
    }
}

impl Config {
    /// The whole configuration as TOML, every section and key.
    pub fn to_toml(&self) -> String {
        // Serialising plain structs of numbers, strings and enums cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every value; the problems carry key paths but no positions.
    pub fn problems(&self) -> Vec<(String, String)> {
        validate::problems(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let c = Config::default();
        assert_eq!(c.retention.events_days, 90);
        assert_eq!(c.system.ring_buffer_size, 90);
        assert!((c.system.sample_interval - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.system.heartbeat_samples, 60);
        assert_eq!(
            (
                c.bands.medium,
                c.bands.elevated,
                c.bands.high,
                c.bands.critical
            ),
            (40, 50, 60, 70)
        );
        assert_eq!(c.bands.tracking_band, Band::Medium);
        assert_eq!(c.bands.forensics_band, Band::Critical);
        assert_eq!(c.rogue_selection.max_count, 20);
        assert_eq!(c.tracking.exit_stability_samples, 3);
        assert_eq!(c.forensics.min_interval_s, 10.0);
        assert_eq!(c.forensics.stack_culprits, 3);
        assert_eq!(c.forensics.stack_samples, 5);
        assert_eq!(c.metrics.listen_addr(), None);
        let w = &c.scoring.resource_weights;
        assert!(w.gpu > w.cpu && w.wakeups > 0.0 && w.disk_io > 0.0 && w.memory > 0.0);
        assert_eq!(c.tui.sparkline.height, 3);
        assert_eq!(c.tui.colors.bands.critical, "#ff5555");
        assert_eq!(c.tui.colors.trends.worsening, "#ff5555");
        assert_eq!(c.tui.colors.process_state.idle, "dim");
        assert!(c.problems().is_empty(), "{:?}", c.problems());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_state_multipliers_keep_sleeping_neutral() {
        let m = StateMultipliers::default();
        assert_eq!(
            (m.running, m.sleeping, m.idle, m.stopped, m.zombie, m.stuck),
            (1.0, 1.0, 1.0, 2.0, 5.0, 5.0)
        );
        assert_eq!(m.for_state(ProcState::Unknown), 1.0);
    }

    #[test]
    fn band_of_score_is_correct_on_every_boundary() {
        let b = BandsConfig::default();
        assert_eq!(b.band_for(0), Band::Low);
        for band in [Band::Medium, Band::Elevated, Band::High, Band::Critical] {
            let t = b.threshold(band);
            assert_eq!(b.band_for(t), band);
            assert!(b.band_for(t - 1) < band);
        }
        assert_eq!(b.band_for(100), Band::Critical);
        assert_eq!(b.threshold(Band::Low), 0);
        assert_eq!(b.tracking_threshold(), 40);
        assert_eq!(b.forensics_threshold(), 70);
    }
}
