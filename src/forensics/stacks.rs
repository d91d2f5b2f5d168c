//! The stack part of a capture as plain data, whatever produced it (Linux /proc + eu-stack, or a
//! decoded macOS spindump). It mirrors the `tailspin_*` tables, so storing it is a straight walk
//! and tests build it directly.

use serde::Serialize;

/// Everything the stack part found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StackCapture {
    pub header: Option<StackHeader>,
    pub shared_caches: Vec<SharedCache>,
    pub io_stats: Vec<IoStat>,
    pub processes: Vec<StackProcess>,
    pub histograms: Vec<HistogramBucket>,
    pub aggregates: Vec<IoAggregate>,
}

/// Report header (`tailspin_header`); every field optional in the text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StackHeader {
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub duration_sec: Option<f64>,
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
}

/// `tailspin_shared_cache`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SharedCache {
    pub uuid: String,
    pub base_address: String,
    pub slide: String,
    pub name: String,
}

/// `tailspin_io_stats`: one tier (or device) line.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IoStat {
    pub tier: String,
    pub io_count: i64,
    pub io_rate: Option<f64>,
    pub bytes: i64,
    pub bytes_rate: Option<f64>,
}

/// A process name with its pid, as in "Parent: zsh [1234]".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NamedPid {
    pub name: String,
    pub pid: i64,
}

/// `tailspin_process` with its notes, threads and binary images.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StackProcess {
    pub pid: i64,
    pub name: String,
    pub uuid: Option<String>,
    pub path: Option<String>,
    pub identifier: Option<String>,
    pub version: Option<String>,
    pub parent: Option<NamedPid>,
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

/// `tailspin_thread` with its frame tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StackThread {
    /// Hex on macOS (`0x1abc`), the decimal tid on Linux.
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
    /// Linux: the scheduler state seen most often (`running`, `sleeping`, `stuck`, …).
    pub state: Option<String>,
    /// Linux: the kernel function the thread waits in (`/proc/P/task/T/wchan`).
    pub wchan: Option<String>,
    /// Linux: the syscall line (`/proc/P/task/T/syscall`).
    pub syscall: Option<String>,
    /// Frames in pre-order (a parent always comes before its children).
    pub frames: Vec<Frame>,
}

/// `tailspin_frame`: one node of a heavy call tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Frame {
    pub depth: u32,
    /// Index of the parent in the thread's `frames`; `None` for a root.
    pub parent: Option<usize>,
    /// Samples that went through this frame.
    pub sample_count: i64,
    pub is_kernel: bool,
    pub symbol_name: Option<String>,
    pub symbol_offset: Option<i64>,
    pub library_name: Option<String>,
    pub library_offset: Option<i64>,
    pub address: String,
    pub state: Option<String>,
    pub core_type: Option<String>,
    pub blocked_on: Option<String>,
}

/// `tailspin_binary_image`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BinaryImage {
    pub start_address: String,
    pub end_address: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// UUID on macOS, GNU build-id on Linux.
    pub uuid: Option<String>,
    pub path: Option<String>,
    pub is_kernel: bool,
}

/// `tailspin_io_histogram`: one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HistogramBucket {
    /// `io_size`, `tier0_latency`, …
    pub histogram_type: String,
    pub begin_value: i64,
    /// `None` for the overflow bucket.
    pub end_value: Option<i64>,
    pub frequency: i64,
    pub cdf: i64,
}

/// `tailspin_io_aggregate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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

impl StackCapture {
    /// Counts for log lines: (processes, threads, frames).
    pub fn counts(&self) -> (usize, usize, usize) {
        let threads = self.processes.iter().map(|p| p.threads.len()).sum();
        let frames = self
            .processes
            .iter()
            .flat_map(|p| &p.threads)
            .map(|t| t.frames.len())
            .sum();
        (self.processes.len(), threads, frames)
    }
}
