//! Number and duration formats of the dashboard (the original's exact rules, reference §3.5/3.9).

use crate::model::{PartStatus, Resource};

/// `%7.2f%`: `  45.23%`.
/// A capture part's status as the dashboard words it (`ok` for success).
pub fn part_status(st: PartStatus) -> &'static str {
    match st {
        PartStatus::Success => "ok",
        other => other.as_str(),
    }
}

pub fn cpu(v: f64) -> String {
    format!("{v:7.2}%")
}

/// `%7.2fms`: `   2.15ms`.
pub fn gpu(v: f64) -> String {
    format!("{v:7.2}ms")
}

/// Bytes with two decimals and a B/K/M/G suffix (base 1024), right-aligned in `width`.
pub fn bytes(v: f64, width: usize) -> String {
    let (value, unit) = scale_1024(v);
    format!("{:>width$}", format!("{value:.2}{unit}"))
}

/// MEM column: bytes in 7.
pub fn mem(v: u64) -> String {
    bytes(v as f64, 7)
}

/// DISK column: bytes per second in 9.
pub fn disk_rate(v: f64) -> String {
    let (value, unit) = scale_1024(v);
    format!("{:>9}", format!("{value:.2}{unit}/s"))
}

/// `%7.2f/s`: wakeups per second.
pub fn wakeups(v: f64) -> String {
    format!("{v:7.2}/s")
}

fn scale_1024(v: f64) -> (f64, &'static str) {
    const UNITS: [&str; 4] = ["B", "K", "M", "G"];
    let mut value = if v.is_finite() { v.max(0.0) } else { 0.0 };
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    (value, UNITS[unit])
}

/// A multiple of fair share: `150.00x`.
pub fn share(v: f64) -> String {
    format!("{v:.2}x")
}

/// The short label of a resource column.
pub fn resource_label(r: Resource) -> &'static str {
    match r {
        Resource::Cpu => "CPU",
        Resource::Gpu => "GPU",
        Resource::Memory => "MEM",
        Resource::Disk => "DISK",
        Resource::Wakeups => "WAKE",
    }
}

/// Dominant column: label right-aligned in 4, a space, `%7.2f` and `x`: ` CPU  150.00x`.
pub fn dominant(r: Resource, disproportionality: f64) -> String {
    format!("{:>4} {disproportionality:7.2}x", resource_label(r))
}

/// Elapsed time: `42s`, `2m5s`, `3h7m`.
pub fn duration(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0) as u64
    } else {
        0
    };
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{}h{}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_format_matches_the_original() {
        let cases = [
            (150.0, "150.00x"),
            (100.0, "100.00x"),
            (50.5, "50.50x"),
            (10.0, "10.00x"),
            (5.5, "5.50x"),
            (1.0, "1.00x"),
            (0.5, "0.50x"),
            (0.05, "0.05x"),
        ];
        for (v, s) in cases {
            assert_eq!(share(v), s);
        }
    }

    #[test]
    fn dominant_format_matches_the_original() {
        assert_eq!(dominant(Resource::Cpu, 150.0), " CPU  150.00x");
        assert_eq!(dominant(Resource::Gpu, 50.5), " GPU   50.50x");
        assert_eq!(dominant(Resource::Memory, 5.5), " MEM    5.50x");
        assert_eq!(dominant(Resource::Disk, 0.5), "DISK    0.50x");
        assert_eq!(dominant(Resource::Wakeups, 10.0), "WAKE   10.00x");
    }

    #[test]
    fn metric_columns() {
        assert_eq!(cpu(45.234), "  45.23%");
        assert_eq!(gpu(2.15), "   2.15ms");
        assert_eq!(mem(512), "512.00B");
        assert_eq!(mem(1_320_702_443), "  1.23G");
        assert_eq!(mem(2048), "  2.00K");
        assert_eq!(disk_rate(16_431_185.92), " 15.67M/s");
        assert_eq!(wakeups(50.0), "  50.00/s");
        assert_eq!(mem(0), "  0.00B");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(42.9), "42s");
        assert_eq!(duration(125.0), "2m5s");
        assert_eq!(duration(3600.0 * 3.0 + 7.0 * 60.0 + 5.0), "3h7m");
        assert_eq!(duration(-3.0), "0s");
    }
}
