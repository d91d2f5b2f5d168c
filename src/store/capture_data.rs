//! The in-memory stack capture that forensics fills and the writer stores, after the
//! storage reference §6.5 "CaptureData": header, processes → threads → frames (a call tree by
//! parent index, with sample counts), binary images, and I/O summaries. The same shape comes
//! back from [`super::queries::capture_stacks`], so a round trip is an equality.
//!
//! The tables keep the original's `tailspin_*` names whatever the platform; Linux leaves the
//! macOS-only fields `None`.

use serde::{Deserialize, Serialize};

/// Everything a stack capture produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CaptureData {
    pub header: Option<StackHeader>,
    pub shared_caches: Vec<SharedCache>,
    pub io_stats: Vec<IoStat>,
    pub processes: Vec<StackProcess>,
    pub histograms: Vec<HistogramBucket>,
    pub aggregates: Vec<IoAggregate>,
}

impl CaptureData {
    /// Rows this capture becomes (for chunking and counters).
    pub fn row_count(&self) -> usize {
        usize::from(self.header.is_some())
            + self.shared_caches.len()
            + self.io_stats.len()
            + self.histograms.len()
            + self.aggregates.len()
            + self
                .processes
                .iter()
                .map(|p| {
                    1 + p.notes.len()
                        + p.images.len()
                        + p.threads.iter().map(|t| 1 + t.frames.len()).sum::<usize>()
                })
                .sum::<usize>()
    }

    /// Checks the tree links: every frame's parent comes before it in the same thread.
    pub fn validate(&self) -> Result<(), String> {
        for p in &self.processes {
            for t in &p.threads {
                for (i, f) in t.frames.iter().enumerate() {
                    if let Some(parent) = f.parent
                        && parent >= i
                    {
                        return Err(format!(
                            "process {} thread {}: frame {i} names parent {parent}, which does \
                             not come before it",
                            p.pid, t.thread_id
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// System context of the capture (`tailspin_header`). The table's first seven columns are
/// NOT NULL: a missing value is stored as "" or 0 and reads back as `Some` of that.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackHeader {
    /// RFC 3339 (Linux) or the tool's own text (macOS).
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub duration_sec: Option<f64>,
    /// Stack samples taken.
    pub steps: Option<i64>,
    pub sampling_interval_ms: Option<i64>,
    pub os_version: Option<String>,
    pub architecture: Option<String>,
    pub report_version: Option<i64>,
    pub hardware_model: Option<String>,
    pub active_cpus: Option<i64>,
    pub memory_gb: Option<i64>,
    pub hw_page_size: Option<i64>,
    pub vm_page_size: Option<i64>,
    pub time_since_boot_sec: Option<i64>,
    pub time_awake_since_boot_sec: Option<i64>,
    pub total_cpu_time_sec: Option<f64>,
    pub total_cycles: Option<i64>,
    pub total_instructions: Option<i64>,
    pub total_cpi: Option<f64>,
    pub memory_pressure_avg_pct: Option<i64>,
    pub memory_pressure_max_pct: Option<i64>,
    pub available_memory_avg_gb: Option<f64>,
    pub available_memory_min_gb: Option<f64>,
    pub free_disk_gb: Option<f64>,
    pub total_disk_gb: Option<f64>,
    pub advisory_battery: Option<i64>,
    pub advisory_user: Option<i64>,
    pub advisory_thermal: Option<i64>,
    pub advisory_combined: Option<i64>,
    pub shared_cache_residency_pct: Option<f64>,
    pub vnodes_available_pct: Option<f64>,
    pub data_source: Option<String>,
    pub reason: Option<String>,
    /// Sampled profiles (Linux perf): samples per second of CPU time.
    pub sample_rate_hz: Option<f64>,
    /// On-CPU samples taken.
    pub samples_on_cpu: Option<i64>,
    /// Off-CPU samples (switches off the CPU) taken.
    pub samples_off_cpu: Option<i64>,
    /// Samples the kernel dropped because a ring buffer was full.
    pub samples_lost: Option<i64>,
    /// Samples whose stack could not be followed to its end.
    pub stacks_truncated: Option<i64>,
}

/// A macOS dyld shared cache line (`tailspin_shared_cache`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SharedCache {
    pub uuid: String,
    pub base_address: String,
    pub slide: String,
    pub name: String,
}

/// I/O totals per tier or device (`tailspin_io_stats`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IoStat {
    pub tier: String,
    pub io_count: i64,
    pub io_rate: Option<f64>,
    pub bytes: i64,
    pub bytes_rate: Option<f64>,
}

/// One histogram bucket (`tailspin_io_histogram`); `end_value` None is the overflow bucket.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistogramBucket {
    pub histogram_type: String,
    pub begin_value: i64,
    pub end_value: Option<i64>,
    pub frequency: i64,
    pub cdf: i64,
}

/// Aggregate latency and volume of a tier (`tailspin_io_aggregate`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IoAggregate {
    pub tier: String,
    pub num_ios: i64,
    pub latency_mean_us: Option<i64>,
    pub latency_max_us: Option<i64>,
    pub latency_sd_us: Option<i64>,
    pub read_count: Option<i64>,
    pub read_bytes: Option<i64>,
    pub write_count: Option<i64>,
    pub write_bytes: Option<i64>,
}

/// A process whose stacks were taken (`tailspin_process`), with its notes, images and threads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackProcess {
    pub pid: i64,
    pub name: String,
    pub uuid: Option<String>,
    pub path: Option<String>,
    pub identifier: Option<String>,
    pub version: Option<String>,
    pub parent: Option<NamedPid>,
    /// macOS responsible process; on Linux the systemd unit / cgroup owner when known.
    pub responsible: Option<NamedPid>,
    pub execed_from: Option<NamedPid>,
    pub execed_to: Option<NamedPid>,
    pub architecture: Option<String>,
    pub shared_cache_uuid: Option<String>,
    pub runningboard_managed: Option<bool>,
    pub sudden_term: Option<String>,
    pub footprint_mb: Option<f64>,
    pub footprint_delta_mb: Option<f64>,
    pub io_count: Option<i64>,
    pub io_bytes: Option<i64>,
    pub time_since_fork_sec: Option<i64>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub num_samples: Option<i64>,
    pub sample_range_start: Option<i64>,
    pub sample_range_end: Option<i64>,
    pub cpu_time_sec: Option<f64>,
    pub cycles: Option<i64>,
    pub instructions: Option<i64>,
    pub cpi: Option<f64>,
    pub num_threads: Option<i64>,
    pub notes: Vec<String>,
    pub threads: Vec<StackThread>,
    pub images: Vec<BinaryImage>,
}

/// A process name with its pid (`*_pid` / `*_name` column pairs). A stored pair with only one
/// half reads back with the other half empty (`""` or 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedPid {
    pub name: String,
    pub pid: i64,
}

/// A mapped binary (`tailspin_binary_image`); `uuid` holds the ELF build-id on Linux.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BinaryImage {
    pub start_address: String,
    pub end_address: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub uuid: Option<String>,
    pub path: Option<String>,
    pub is_kernel: bool,
}

/// A thread (`tailspin_thread`) and its merged call tree.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackThread {
    /// Hex on macOS (`0x3fd504`), the decimal tid on Linux.
    pub thread_id: String,
    pub dispatch_queue_name: Option<String>,
    pub dispatch_queue_serial: Option<i64>,
    pub thread_name: Option<String>,
    pub num_samples: Option<i64>,
    pub sample_range_start: Option<i64>,
    pub sample_range_end: Option<i64>,
    pub priority: Option<i64>,
    pub base_priority: Option<i64>,
    pub cpu_time_sec: Option<f64>,
    pub cycles: Option<i64>,
    pub instructions: Option<i64>,
    pub cpi: Option<f64>,
    pub io_count: Option<i64>,
    pub io_bytes: Option<i64>,
    /// Linux: the `stat` state letter's name when sampled (running, sleeping, stuck, …).
    pub state: Option<String>,
    /// Linux: `/proc/P/task/T/wchan`.
    pub wchan: Option<String>,
    /// Linux: `/proc/P/task/T/syscall` (the blocking syscall).
    pub syscall: Option<String>,
    /// Pre-order: a frame's parent comes before it.
    pub frames: Vec<Frame>,
}

/// One node of a thread's call tree (`tailspin_frame`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Frame {
    pub depth: u32,
    /// Index of the parent frame in the same thread's `frames`; None for a root.
    pub parent: Option<usize>,
    /// Samples that went through this frame (on- plus off-CPU in a profile).
    pub sample_count: i64,
    /// Profiles: on-CPU samples through this frame.
    pub on_cpu_count: Option<i64>,
    /// Profiles: off-CPU time through this frame, in sampling periods.
    pub off_cpu_count: Option<i64>,
    pub is_kernel: bool,
    pub symbol_name: Option<String>,
    pub symbol_offset: Option<i64>,
    pub library_name: Option<String>,
    pub library_offset: Option<i64>,
    pub address: String,
    /// `running` / `blocked` / None.
    pub state: Option<String>,
    pub core_type: Option<String>,
    pub blocked_on: Option<String>,
    /// Source file and line of `address`, where debug information tells them.
    pub source_file: Option<String>,
    pub source_line: Option<i64>,
}
