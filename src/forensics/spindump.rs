//! Parser for the text `spindump -i <file> -stdout` prints (the default "heavy" format), into a
//! [`CaptureData`]. Pure and platform-independent, so it is tested on any OS.
//!
//! The grammar is the one in reference §3.5, with the original parser's bugs fixed: a report
//! without any `Process:` line still yields its header; the footprint keeps the value after `->`
//! and negative deltas; frame states with nested parentheses are kept; a kernel frame's `*`
//! counts as indentation, so kernel frames sit at the right depth; thread segments may come in
//! any order; image versions in parentheses are split from the name; every state text is kept.

use crate::store::capture_data::{
    BinaryImage, CaptureData, Frame, HistogramBucket, IoAggregate, IoStat, NamedPid, SharedCache,
    StackHeader, StackProcess, StackThread,
};
use regex::Regex;
use std::sync::LazyLock;

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| {
            // The patterns are literals checked by the tests; a bad one is a build-time bug.
            Regex::new($pat).unwrap_or_else(|e| panic!("invalid built-in regex: {e}"))
        });
    };
}

re!(FIRST_FLOAT_S, r"(-?[0-9]+(?:\.[0-9]+)?)\s*s\b");
re!(FIRST_INT_S, r"(-?[0-9]+)\s*s\b");
re!(FIRST_PCT, r"([0-9]+(?:\.[0-9]+)?)\s*%");
re!(STEPS, r"^\s*([0-9]+)\s*\(\s*([0-9]+)\s*ms");
re!(
    CPU_TIME,
    r"^\s*([0-9.]+)s(?:\s*\(\s*([0-9.]+[KMGT]?)\s*cycles,\s*([0-9.]+[KMGT]?)\s*instructions,\s*([0-9.]+)\s*c/i\))?"
);
re!(MEM_PRESSURE, r"average\s+([0-9]+)%,\s*highest\s+([0-9]+)%");
re!(
    AVAIL_MEM,
    r"average\s+([0-9.]+)\s*GB,\s*lowest\s+([0-9.]+)\s*GB"
);
re!(FREE_DISK, r"([0-9.]+)\s*GB\s*/\s*([0-9.]+)\s*GB");
re!(
    ADVISORY,
    r"(Battery|User|ThermalPressure|Combined)\s*->\s*(-?[0-9]+)"
);
re!(
    SHARED_CACHE,
    r"(?i)^\s*([0-9A-F-]{36})\s+slid base address\s+(0x[0-9a-f]+),\s*slide\s+(0x[0-9a-f]+)\s*\((.*)\)\s*$"
);
re!(
    IO_TIER,
    r"^\s*([^:]+):\s*([0-9]+)\s*IOs?\s*\(([0-9.]+)\s*IOs?/s\),\s*([0-9.]+)\s*([KMG]?B)\s*\(([0-9.]+)\s*([KMG]?B)/s\)"
);
re!(NAME_PID, r"^(.*?)\s*\[([0-9]+)\]");
re!(SIZE, r"([0-9.]+)\s*(KB|MB|GB|B)\b");
re!(FOOTPRINT_DELTA, r"\(([+-])\s*([0-9.]+)\s*(KB|MB|GB|B)\)");
re!(IO_COUNT, r"([0-9]+)\s*I/Os?(?:\s*\(([^)]*)\))?");
re!(
    NUM_SAMPLES,
    r"^\s*([0-9]+)(?:\s*\(\s*([0-9]+)\s*-\s*([0-9]+)\s*\))?"
);
re!(THREAD_HEAD, r"(?i)^  Thread\s+(0x[0-9a-f]+)");
re!(
    SEG_QUEUE,
    r#"(?i)DispatchQueue\s+"([^"]*)"\s*\(\s*([0-9]+)\s*\)"#
);
re!(SEG_NAME, r#"(?i)Thread name\s+"([^"]*)""#);
re!(
    SEG_SAMPLES,
    r"(?i)\b([0-9]+)\s+samples?\s*\(\s*([0-9]+)\s*-\s*([0-9]+)\s*\)"
);
re!(
    SEG_PRIORITY,
    r"(?i)priority\s+([0-9]+)\s*\(\s*base\s+([0-9]+)\s*\)"
);
re!(
    SEG_CPU,
    r"(?i)cpu time\s+([0-9.]+)s(?:\s*\(\s*([0-9.]+[KMGT]?)\s*cycles,\s*([0-9.]+[KMGT]?)\s*instructions,\s*([0-9.]+)\s*c/i\))?"
);
re!(SEG_IO, r"(?i)\b([0-9]+)\s+I/Os?\s*\(([^)]*)\)");
re!(ADDRESS, r"\[(0x[0-9a-fA-F]+)\]\s*$");
re!(
    IMAGE,
    r"^\s*(\*?)\s*(0x[0-9a-fA-F]+)\s*-\s*(0x[0-9a-fA-F]+|\?\?\?)\s+(.*?)\s*<([0-9A-Fa-f-]+)>(?:__TEXT_EXEC)?\s*(.*)$"
);
re!(
    AGG_LATENCY,
    r"(?i)Num IOs\s+([0-9]+)\s+Latency Mean\s+([0-9]+)\s*us\s+Max Latency\s+([0-9]+)\s*us\s+Latency SD\s+([0-9]+)\s*us"
);
re!(
    AGG_RW,
    r"(?i)Reads\s+([0-9]+)\s*\(([^)]*)\)\s+Writes\s+([0-9]+)\s*\(([^)]*)\)"
);
re!(TIER_LATENCY, r"(?i)^Tier\s+([0-9]+)\s+Latency Histogram:");
re!(TIER_AGG, r"(?i)^Tier\s+([0-9]+)\s+Aggregate Stats:");

/// Parses a whole decoded report.
pub fn parse(text: &str) -> CaptureData {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let first_process = lines.iter().position(|l| l.starts_with("Process:"));
    let io_tail = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("IO Size Histogram:"));
    let header_end = first_process.or(io_tail).unwrap_or(lines.len());
    let process_end = io_tail.unwrap_or(lines.len()).max(header_end);

    let mut out = CaptureData::default();
    parse_header(&lines[..header_end], &mut out);
    if first_process.is_some() {
        out.processes = parse_processes(&lines[header_end..process_end]);
    }
    if let Some(start) = io_tail {
        parse_io_tail(&lines[start..], &mut out);
    }
    out
}

fn rest_of(line: &str) -> &str {
    line.split_once(':').map_or("", |(_, r)| r.trim())
}

fn key_of(line: &str) -> Option<&str> {
    if line.starts_with(' ') || line.starts_with('\t') {
        return None;
    }
    line.split_once(':').map(|(k, _)| k.trim())
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn int(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

fn float(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// `1.5G` → 1.5e9 (powers of 1000).
fn count(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        'T' => (&s[..s.len() - 1], 1e12),
        _ => (s, 1.0),
    };
    num.parse::<f64>().ok().map(|v| (v * mult) as i64)
}

fn unit_bytes(unit: &str) -> f64 {
    match unit.to_ascii_uppercase().as_str() {
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    }
}

/// `12 KB` → bytes (powers of 1024); the first size in the text.
fn size_bytes(s: &str) -> Option<i64> {
    let c = SIZE.captures(s)?;
    Some((float(&c[1])? * unit_bytes(&c[2])) as i64)
}

fn to_mb(value: f64, unit: &str) -> f64 {
    value * unit_bytes(unit) / (1024.0 * 1024.0)
}

fn named_pid(s: &str) -> Option<NamedPid> {
    let c = NAME_PID.captures(s.trim())?;
    Some(NamedPid {
        name: c[1].trim().to_string(),
        pid: int(&c[2])?,
    })
}

fn cpu_time(s: &str) -> (Option<f64>, Option<i64>, Option<i64>, Option<f64>) {
    match CPU_TIME.captures(s) {
        Some(c) => (
            float(&c[1]),
            c.get(2).and_then(|m| count(m.as_str())),
            c.get(3).and_then(|m| count(m.as_str())),
            c.get(4).and_then(|m| float(m.as_str())),
        ),
        None => (None, None, None, None),
    }
}

fn parse_header(lines: &[&str], out: &mut CaptureData) {
    let mut h = StackHeader::default();
    let mut seen = false;
    let mut in_io = false;
    for line in lines {
        if in_io {
            if line.starts_with("  ")
                && let Some(stat) = io_tier(line)
            {
                out.io_stats.push(stat);
                continue;
            }
            if line.starts_with(' ') {
                continue;
            }
            in_io = false;
        }
        let Some(key) = key_of(line) else { continue };
        let rest = rest_of(line);
        seen = true;
        match key {
            "Shared Cache" => out.shared_caches.extend(shared_cache(rest)),
            "I/O statistics" => in_io = true,
            _ => header_field(&mut h, key, rest),
        }
    }
    if seen {
        out.header = Some(h);
    }
}

/// One tier line of the `I/O statistics` block.
fn io_tier(line: &str) -> Option<IoStat> {
    let c = IO_TIER.captures(line)?;
    let bytes = float(&c[4]).unwrap_or(0.0) * unit_bytes(&c[5]);
    Some(IoStat {
        tier: c[1].trim().to_ascii_lowercase(),
        io_count: int(&c[2]).unwrap_or(0),
        io_rate: float(&c[3]),
        bytes: bytes as i64,
        bytes_rate: float(&c[6]).map(|r| r * unit_bytes(&c[7])),
    })
}

fn shared_cache(rest: &str) -> Option<SharedCache> {
    let c = SHARED_CACHE.captures(rest)?;
    Some(SharedCache {
        uuid: c[1].to_string(),
        base_address: c[2].to_string(),
        slide: c[3].to_string(),
        name: c[4].to_string(),
    })
}

/// Sets the header field a `Key: value` line names; other keys are ignored.
fn header_field(h: &mut StackHeader, key: &str, rest: &str) {
    match key {
        "Date/Time" => h.start_time = non_empty(rest),
        "End time" => h.end_time = non_empty(rest),
        "OS Version" => h.os_version = non_empty(rest),
        "Architecture" => h.architecture = non_empty(rest),
        "Report Version" => h.report_version = int(rest),
        "Hardware model" => h.hardware_model = non_empty(rest),
        "Active cpus" => h.active_cpus = int(rest),
        "HW page size" => h.hw_page_size = int(rest),
        "VM page size" => h.vm_page_size = int(rest),
        "Data Source" => h.data_source = non_empty(rest),
        "Reason" => h.reason = non_empty(rest),
        "Duration" => h.duration_sec = FIRST_FLOAT_S.captures(rest).and_then(|c| float(&c[1])),
        "Steps" => {
            if let Some(c) = STEPS.captures(rest) {
                h.steps = int(&c[1]);
                h.sampling_interval_ms = int(&c[2]);
            } else {
                h.steps = int(rest);
            }
        }
        "Memory size" => h.memory_gb = rest.split_whitespace().next().and_then(int),
        "Time Since Boot" => {
            h.time_since_boot_sec = FIRST_INT_S.captures(rest).and_then(|c| int(&c[1]))
        }
        "Time Awake Since Boot" => {
            h.time_awake_since_boot_sec = FIRST_INT_S.captures(rest).and_then(|c| int(&c[1]))
        }
        "Total CPU Time" => {
            (
                h.total_cpu_time_sec,
                h.total_cycles,
                h.total_instructions,
                h.total_cpi,
            ) = cpu_time(rest)
        }
        "Memory pressure" => {
            if let Some(c) = MEM_PRESSURE.captures(rest) {
                h.memory_pressure_avg_pct = int(&c[1]);
                h.memory_pressure_max_pct = int(&c[2]);
            }
        }
        "Available memory" => {
            if let Some(c) = AVAIL_MEM.captures(rest) {
                h.available_memory_avg_gb = float(&c[1]);
                h.available_memory_min_gb = float(&c[2]);
            }
        }
        "Free disk space" => {
            if let Some(c) = FREE_DISK.captures(rest) {
                h.free_disk_gb = float(&c[1]);
                h.total_disk_gb = float(&c[2]);
            }
        }
        "Shared cache residency" => {
            h.shared_cache_residency_pct = FIRST_PCT.captures(rest).and_then(|c| float(&c[1]))
        }
        "Vnodes Available" => {
            h.vnodes_available_pct = FIRST_PCT.captures(rest).and_then(|c| float(&c[1]))
        }
        "Advisory levels" => {
            for c in ADVISORY.captures_iter(rest) {
                let v = int(&c[2]);
                match &c[1] {
                    "Battery" => h.advisory_battery = v,
                    "User" => h.advisory_user = v,
                    "ThermalPressure" => h.advisory_thermal = v,
                    _ => h.advisory_combined = v,
                }
            }
        }
        _ => {}
    }
}

/// Parser state while walking the process region.
#[derive(Default)]
struct ProcState {
    processes: Vec<StackProcess>,
    in_images: bool,
    /// Indent of the current thread's first frame (its depth-0 column).
    base_indent: Option<usize>,
    /// The open path of the tree: (depth, frame index), shallowest first.
    path: Vec<(usize, usize)>,
    start_time_seen: bool,
}

fn parse_processes(lines: &[&str]) -> Vec<StackProcess> {
    let mut st = ProcState::default();
    for line in lines {
        if let Some(rest) = line.strip_prefix("Process:") {
            let (name, pid) = match named_pid(rest) {
                Some(np) => (np.name, np.pid),
                None => (rest.trim().to_string(), 0),
            };
            st.processes.push(StackProcess {
                pid,
                name,
                ..Default::default()
            });
            st.in_images = false;
            st.start_time_seen = false;
            continue;
        }
        let Some(proc) = st.processes.last_mut() else {
            continue;
        };
        if line.trim() == "Binary Images:" {
            st.in_images = true;
            continue;
        }
        if st.in_images {
            if line.trim().is_empty() {
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(img) = parse_image(line) {
                    proc.images.push(img);
                }
                continue;
            }
            st.in_images = false;
        }
        if let Some(key) = key_of(line) {
            process_key(proc, key, rest_of(line), &mut st.start_time_seen);
            continue;
        }
        if let Some(c) = THREAD_HEAD.captures(line) {
            proc.threads.push(parse_thread_line(&c[1], line));
            st.base_indent = None;
            st.path.clear();
            continue;
        }
        if let Some(thread) = proc.threads.last_mut()
            && let Some((indent, frame)) = parse_frame(line)
        {
            let base = *st.base_indent.get_or_insert(indent);
            let depth = indent.saturating_sub(base) / 2;
            // The parent is the nearest shallower frame above this line.
            while st.path.last().is_some_and(|(d, _)| *d >= depth) {
                st.path.pop();
            }
            let parent = st.path.last().map(|(_, i)| *i);
            let idx = thread.frames.len();
            thread.frames.push(Frame {
                depth: depth as u32,
                parent,
                ..frame
            });
            st.path.push((depth, idx));
        }
    }
    st.processes
}

fn process_key(p: &mut StackProcess, key: &str, rest: &str, start_seen: &mut bool) {
    match key {
        "UUID" => p.uuid = non_empty(rest),
        "Path" => p.path = non_empty(rest),
        "Identifier" => p.identifier = non_empty(rest),
        "Version" => p.version = non_empty(rest),
        "Architecture" => p.architecture = non_empty(rest),
        "Sudden Term" => p.sudden_term = non_empty(rest),
        "Start time" => {
            p.start_time = non_empty(rest);
            *start_seen = true;
        }
        "End time" if *start_seen => p.end_time = non_empty(rest),
        "Parent" => p.parent = named_pid(rest),
        "Responsible" => p.responsible = named_pid(rest),
        "Execed from" => p.execed_from = named_pid(rest),
        "Execed to" => p.execed_to = named_pid(rest),
        "Shared Cache" => p.shared_cache_uuid = rest.split_whitespace().next().map(str::to_string),
        "RunningBoard Mgd" => p.runningboard_managed = Some(rest.contains("Yes")),
        "Note" => p.notes.push(rest.to_string()),
        "Footprint" => {
            // "6416 KB -> 11.45 MB (+5312 KB)": the value after the arrow is the current one.
            let current = rest.rsplit("->").next().unwrap_or(rest);
            if let Some(c) = SIZE.captures(current) {
                p.footprint_mb = float(&c[1]).map(|v| to_mb(v, &c[2]));
            }
            if let Some(c) = FOOTPRINT_DELTA.captures(rest) {
                let sign = if &c[1] == "-" { -1.0 } else { 1.0 };
                p.footprint_delta_mb = float(&c[2]).map(|v| sign * to_mb(v, &c[3]));
            }
        }
        "I/O" => {
            if let Some(c) = IO_COUNT.captures(rest) {
                p.io_count = int(&c[1]);
                p.io_bytes = c.get(2).and_then(|m| size_bytes(m.as_str()));
            }
        }
        "Time Since Fork" => {
            p.time_since_fork_sec = FIRST_INT_S.captures(rest).and_then(|c| int(&c[1]))
        }
        "Num samples" => {
            if let Some(c) = NUM_SAMPLES.captures(rest) {
                p.num_samples = int(&c[1]);
                p.sample_range_start = c.get(2).and_then(|m| int(m.as_str()));
                p.sample_range_end = c.get(3).and_then(|m| int(m.as_str()));
            }
        }
        "CPU Time" => (p.cpu_time_sec, p.cycles, p.instructions, p.cpi) = cpu_time(rest),
        "Num threads" => p.num_threads = int(rest),
        _ => {}
    }
}

/// A thread header; every segment is found wherever it sits on the line.
fn parse_thread_line(id: &str, line: &str) -> StackThread {
    let mut t = StackThread {
        thread_id: id.to_ascii_lowercase(),
        ..Default::default()
    };
    if let Some(c) = SEG_QUEUE.captures(line) {
        t.dispatch_queue_name = Some(c[1].to_string());
        t.dispatch_queue_serial = int(&c[2]);
    }
    if let Some(c) = SEG_NAME.captures(line) {
        t.thread_name = Some(c[1].to_string());
    }
    if let Some(c) = SEG_SAMPLES.captures(line) {
        t.num_samples = int(&c[1]);
        t.sample_range_start = int(&c[2]);
        t.sample_range_end = int(&c[3]);
    }
    if let Some(c) = SEG_PRIORITY.captures(line) {
        t.priority = int(&c[1]);
        t.base_priority = int(&c[2]);
    }
    if let Some(c) = SEG_CPU.captures(line) {
        t.cpu_time_sec = float(&c[1]);
        t.cycles = c.get(2).and_then(|m| count(m.as_str()));
        t.instructions = c.get(3).and_then(|m| count(m.as_str()));
        t.cpi = c.get(4).and_then(|m| float(m.as_str()));
    }
    if let Some(c) = SEG_IO.captures(line) {
        t.io_count = int(&c[1]);
        t.io_bytes = size_bytes(&c[2]);
    }
    t
}

/// Splits a trailing balanced `( … )` group off `s`, if `s` ends with one.
fn split_trailing_group(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_end();
    if !s.ends_with(')') {
        return None;
    }
    let mut depth = 0usize;
    for (i, ch) in s.char_indices().rev() {
        match ch {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[..i], &s[i + 1..s.len() - 1]));
                }
            }
            _ => {}
        }
    }
    None
}

/// A frame line: indent (the column of its sample count, `*` included) and the frame.
fn parse_frame(line: &str) -> Option<(usize, Frame)> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() {
        return None;
    }
    let lead = line.len() - trimmed.len();
    let (is_kernel, body, indent) = match trimmed.strip_prefix('*') {
        Some(rest) => (true, rest, lead + 1),
        None => (false, trimmed, lead),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let sample_count: i64 = body[..digits].parse().ok()?;
    let after_count = &body[digits..];

    // The state is a balanced group after the address; it may itself contain parentheses.
    let (before_state, state_text) = match split_trailing_group(after_count) {
        Some((before, inner)) if before.trim_end().ends_with(']') => (before, Some(inner)),
        _ => (after_count, None),
    };
    let addr = ADDRESS.captures(before_state)?;
    let address = addr[1].to_ascii_lowercase();
    let symbol_part = before_state[..addr.get(0)?.start()].trim();

    let mut frame = Frame {
        sample_count,
        is_kernel,
        address,
        ..Default::default()
    };
    let (symbol, library) = match split_trailing_group(symbol_part) {
        Some((sym, lib)) => (sym.trim(), Some(lib.trim())),
        None => (symbol_part, None),
    };
    if let Some(lib) = library {
        let (name, off) = split_plus(lib);
        frame.library_name = non_empty(name);
        frame.library_offset = off;
    }
    if symbol != "???" && !symbol.is_empty() {
        let (name, off) = split_plus(symbol);
        frame.symbol_name = non_empty(name);
        frame.symbol_offset = off;
    }
    if let Some(s) = state_text {
        apply_state(&mut frame, s.trim());
    }
    Some((indent, frame))
}

/// `name + 123` → ("name", Some(123)).
fn split_plus(s: &str) -> (&str, Option<i64>) {
    match s.rsplit_once(" + ") {
        Some((name, off)) if int(off).is_some() => (name.trim(), int(off)),
        _ => (s.trim(), None),
    }
}

fn apply_state(frame: &mut Frame, text: &str) {
    let lower = text.to_ascii_lowercase();
    if lower.contains("running") {
        frame.state = Some("running".into());
        if lower.contains("p-core") {
            frame.core_type = Some("p-core".into());
        } else if lower.contains("e-core") {
            frame.core_type = Some("e-core".into());
        }
    } else if let Some(rest) = text.strip_prefix("blocked by ") {
        frame.state = Some("blocked".into());
        let on = rest.strip_prefix("wait4 on ").unwrap_or(rest);
        frame.blocked_on = non_empty(on.trim());
    } else if !text.is_empty() {
        frame.state = Some(text.to_string());
    }
}

fn parse_image(line: &str) -> Option<BinaryImage> {
    let c = IMAGE.captures(line)?;
    let (name, version) = split_version(c[4].trim());
    Some(BinaryImage {
        is_kernel: &c[1] == "*",
        start_address: c[2].to_ascii_lowercase(),
        end_address: (&c[3] != "???").then(|| c[3].to_ascii_lowercase()),
        name,
        version,
        uuid: Some(c[5].to_string()),
        path: non_empty(c[6].trim()),
    })
}

/// `name 1.0 (1)` → ("name", "1.0 (1)"); `dyld (1335)` → ("dyld", "1335").
fn split_version(text: &str) -> (String, Option<String>) {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let is_version = |t: &str| t.starts_with(|c: char| c.is_ascii_digit());
    if let Some(pos) = tokens.iter().position(|t| is_version(t))
        && pos > 0
    {
        return (tokens[..pos].join(" "), Some(tokens[pos..].join(" ")));
    }
    if let Some((name, inner)) = split_trailing_group(text)
        && !name.trim().is_empty()
        && inner.starts_with(|c: char| c.is_ascii_digit())
    {
        return (name.trim().to_string(), Some(inner.to_string()));
    }
    (text.to_string(), None)
}

fn parse_io_tail(lines: &[&str], out: &mut CaptureData) {
    let mut histogram: Option<String> = None;
    let mut aggregate: Option<IoAggregate> = None;
    for raw in lines {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("IO Size Histogram:") {
            histogram = Some("io_size".into());
            continue;
        }
        if let Some(c) = TIER_LATENCY.captures(line) {
            histogram = Some(format!("tier{}_latency", &c[1]));
            continue;
        }
        if let Some(c) = TIER_AGG.captures(line) {
            histogram = None;
            aggregate = Some(IoAggregate {
                tier: format!("tier{}", &c[1]),
                ..Default::default()
            });
            continue;
        }
        if let Some(agg) = aggregate.as_mut() {
            if let Some(c) = AGG_LATENCY.captures(line) {
                agg.num_ios = int(&c[1]).unwrap_or(0);
                agg.latency_mean_us = int(&c[2]);
                agg.latency_max_us = int(&c[3]);
                agg.latency_sd_us = int(&c[4]);
                continue;
            }
            if let Some(c) = AGG_RW.captures(line) {
                agg.read_count = int(&c[1]);
                agg.read_bytes = size_bytes(&c[2]);
                agg.write_count = int(&c[3]);
                agg.write_bytes = size_bytes(&c[4]);
                if let Some(done) = aggregate.take() {
                    out.aggregates.push(done);
                }
                continue;
            }
        }
        let Some(kind) = &histogram else { continue };
        if line.starts_with("Begin") {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let digits = |s: &str| -> Option<i64> {
            let d: String = s.chars().filter(char::is_ascii_digit).collect();
            d.parse().ok()
        };
        let bucket = if tokens.first() == Some(&">") && tokens.len() >= 4 {
            digits(tokens[1])
                .zip(int(tokens[2]))
                .zip(int(tokens[3]))
                .map(|((begin, frequency), cdf)| HistogramBucket {
                    histogram_type: kind.clone(),
                    begin_value: begin,
                    end_value: None,
                    frequency,
                    cdf,
                })
        } else if tokens.len() >= 4 {
            match (
                digits(tokens[0]),
                digits(tokens[1]),
                int(tokens[2]),
                int(tokens[3]),
            ) {
                (Some(begin), Some(end), Some(frequency), Some(cdf)) => Some(HistogramBucket {
                    histogram_type: kind.clone(),
                    begin_value: begin,
                    end_value: Some(end),
                    frequency,
                    cdf,
                }),
                _ => None,
            }
        } else {
            None
        };
        if let Some(b) = bucket {
            out.histograms.push(b);
        }
    }
}

#[cfg(test)]
mod tests;
