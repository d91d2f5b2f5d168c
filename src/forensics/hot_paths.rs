//! The hottest paths of a capture's stacks (pure): where the samples ended, heaviest first,
//! each with its innermost frames — what the TUI's event view and the HTML report show of a
//! culprit at a glance.

use crate::store::capture_data::{CaptureData, Frame};
use serde::Serialize;

/// A path through a thread's call tree and the samples that ended on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotPath {
    pub pid: i64,
    pub process: String,
    pub thread_id: String,
    /// Samples ending on this path (on- and off-CPU).
    pub samples: i64,
    /// Of those, off the CPU (profiles only).
    pub off_cpu: Option<i64>,
    /// Share of the selected processes' samples, 0-100.
    pub percent: f64,
    /// The innermost frames, innermost first (`symbol` or the address).
    pub frames: Vec<String>,
}

/// The `n` heaviest paths of the processes `pid` selects (every process when none matches),
/// each with at most `depth` frames.
pub fn hot_paths(data: &CaptureData, pid: Option<i64>, n: usize, depth: usize) -> Vec<HotPath> {
    let chosen: Vec<_> = match pid {
        Some(p) if data.processes.iter().any(|x| x.pid == p) => {
            data.processes.iter().filter(|x| x.pid == p).collect()
        }
        _ => data.processes.iter().collect(),
    };
    let mut total = 0i64;
    let mut paths = Vec::new();
    for p in chosen {
        for t in &p.threads {
            let frames = &t.frames;
            let mut child_sum = vec![(0i64, 0i64); frames.len()];
            for (i, f) in frames.iter().enumerate() {
                match f.parent {
                    Some(q) if q < i => {
                        child_sum[q].0 += f.sample_count;
                        child_sum[q].1 += f.off_cpu_count.unwrap_or(0);
                    }
                    _ => total += f.sample_count,
                }
            }
            for (i, f) in frames.iter().enumerate() {
                let own = f.sample_count - child_sum[i].0;
                if own <= 0 {
                    continue;
                }
                paths.push(HotPath {
                    pid: p.pid,
                    process: p.name.clone(),
                    thread_id: t.thread_id.clone(),
                    samples: own,
                    off_cpu: f.off_cpu_count.map(|o| (o - child_sum[i].1).clamp(0, own)),
                    percent: 0.0,
                    frames: innermost(frames, i, depth),
                });
            }
        }
    }
    paths.sort_by_key(|p| std::cmp::Reverse(p.samples));
    paths.truncate(n);
    for p in &mut paths {
        p.percent = if total > 0 {
            100.0 * p.samples as f64 / total as f64
        } else {
            0.0
        };
    }
    paths
}

/// The innermost `depth` frames of the path ending at `i`. A path that ends in the kernel keeps
/// its innermost kernel frame (where it waits or runs), then `…`, then its user frames (which
/// code got there), since the kernel's entry path says little.
fn innermost(frames: &[Frame], mut i: usize, depth: usize) -> Vec<String> {
    let name = |f: &Frame| f.symbol_name.clone().unwrap_or_else(|| f.address.clone());
    let mut out = Vec::new();
    let mut shown = 0;
    let mut skipping_kernel = false;
    let mut guard = frames.len();
    while shown < depth && guard > 0 {
        guard -= 1;
        let f = &frames[i];
        if shown == 0 {
            out.push(name(f));
            shown += 1;
            skipping_kernel = f.is_kernel;
        } else if skipping_kernel && f.is_kernel {
            // the rest of the kernel path
        } else {
            if skipping_kernel {
                out.push("…".to_string());
                skipping_kernel = false;
            }
            out.push(name(f));
            shown += 1;
        }
        match f.parent {
            Some(p) if p < i => i = p,
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forensics::calltree::{CallTree, RawFrame};
    use crate::store::capture_data::{StackProcess, StackThread};

    fn raw(s: &str) -> RawFrame {
        RawFrame {
            is_kernel: s.ends_with("[k]"),
            symbol: Some(s.trim_end_matches("[k]").into()),
            address: "0x1".into(),
            ..Default::default()
        }
    }

    fn process(pid: i64, paths: &[(&[&str], i64, i64)]) -> StackProcess {
        let mut tree = CallTree::profile();
        for (p, on, off) in paths {
            let path: Vec<RawFrame> = p.iter().map(|s| raw(s)).collect();
            tree.add_split(&path, *on, *off);
        }
        StackProcess {
            pid,
            name: format!("p{pid}"),
            threads: vec![StackThread {
                thread_id: pid.to_string(),
                frames: tree.into_frames(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_heaviest_path_ends_first_with_its_innermost_frames() {
        let data = CaptureData {
            processes: vec![
                process(
                    1,
                    &[
                        (&["main", "alpha", "beta", "gamma"], 80, 0),
                        (&["main", "alpha"], 5, 0),
                        (&["main", "nap", "sys_nanosleep[k]", "schedule[k]"], 0, 15),
                    ],
                ),
                process(2, &[(&["other"], 500, 0)]),
            ],
            ..Default::default()
        };
        let hot = hot_paths(&data, Some(1), 2, 3);
        assert_eq!(hot.len(), 2);
        assert_eq!(hot[0].frames, ["gamma", "beta", "alpha"]);
        assert_eq!((hot[0].samples, hot[0].off_cpu), (80, Some(0)));
        assert_eq!(hot[0].percent, 80.0);
        // The kernel's own path is shortened to where it waits.
        assert_eq!(hot[1].frames, ["schedule", "…", "nap", "main"]);
        assert_eq!(hot[1].off_cpu, Some(15));
        // An unknown pid falls back to every process.
        assert_eq!(hot_paths(&data, Some(9), 1, 1)[0].frames, ["other"]);
        assert!(hot_paths(&CaptureData::default(), None, 3, 3).is_empty());
    }
}
