//! The hottest paths of a capture's stacks: where the stack samples *ended* (a frame's own
//! samples, not its children's), heaviest first, each with its innermost frames. What the
//! dashboard's event view and the report show of the culprit at a glance.

use crate::store::capture_data::{CaptureData, Frame};
use serde::Serialize;

/// A path through one thread's call tree and the samples that ended on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotPath {
    pub pid: i64,
    pub process: String,
    pub thread_id: String,
    /// Samples ending on this path.
    pub samples: i64,
    /// Share of the chosen processes' samples, 0–100.
    pub percent: f64,
    /// The innermost frames, innermost first (the symbol, else the address).
    pub frames: Vec<String>,
}

/// The `n` heaviest paths of process `pid` (of every process when the capture has no stacks of
/// it), each with at most `depth` frames.
pub fn hot_paths(data: &CaptureData, pid: Option<i64>, n: usize, depth: usize) -> Vec<HotPath> {
    let has_pid = pid.is_some_and(|p| data.processes.iter().any(|x| x.pid == p));
    let mut total = 0i64;
    let mut paths = Vec::new();
    for p in &data.processes {
        if has_pid && Some(p.pid) != pid {
            continue;
        }
        for t in &p.threads {
            let frames = &t.frames;
            let mut children_samples = vec![0i64; frames.len()];
            for (i, f) in frames.iter().enumerate() {
                match f.parent {
                    Some(q) if q < i => children_samples[q] += f.sample_count,
                    _ => total += f.sample_count.max(0),
                }
            }
            for (i, f) in frames.iter().enumerate() {
                let own = f.sample_count - children_samples[i];
                if own > 0 {
                    paths.push(HotPath {
                        pid: p.pid,
                        process: p.name.clone(),
                        thread_id: t.thread_id.clone(),
                        samples: own,
                        percent: 0.0,
                        frames: innermost(frames, i, depth),
                    });
                }
            }
        }
    }
    paths.sort_by(|a, b| b.samples.cmp(&a.samples));
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

/// Frame `i` and its callers, innermost first, at most `depth` of them. A parent link that
/// does not point backwards ends the walk (never a loop).
fn innermost(frames: &[Frame], mut i: usize, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < depth {
        let f = &frames[i];
        out.push(f.symbol_name.clone().unwrap_or_else(|| f.address.clone()));
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
    use crate::store::capture_data::{StackProcess, StackThread};

    fn frame(parent: Option<usize>, count: i64, sym: &str) -> Frame {
        Frame {
            parent,
            sample_count: count,
            symbol_name: Some(sym.into()),
            address: "0x1".into(),
            ..Default::default()
        }
    }

    fn data() -> CaptureData {
        let thread = |tid: &str, frames: Vec<Frame>| StackThread {
            thread_id: tid.into(),
            frames,
            ..Default::default()
        };
        CaptureData {
            processes: vec![
                StackProcess {
                    pid: 10,
                    name: "hog".into(),
                    threads: vec![
                        thread(
                            "10",
                            vec![
                                frame(None, 10, "main"),
                                frame(Some(0), 7, "compute"),
                                frame(Some(1), 6, "inner_loop"),
                                frame(Some(0), 2, "log"),
                            ],
                        ),
                        thread("11", vec![frame(None, 4, "poll"), frame(Some(7), 1, "odd")]),
                    ],
                    ..Default::default()
                },
                StackProcess {
                    pid: 20,
                    name: "other".into(),
                    threads: vec![thread("20", vec![frame(None, 50, "spin")])],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn paths_are_ranked_by_the_samples_that_ended_on_them() {
        let paths = hot_paths(&data(), Some(10), 3, 2);
        let got: Vec<(i64, Vec<&str>)> = paths
            .iter()
            .map(|p| (p.samples, p.frames.iter().map(String::as_str).collect()))
            .collect();
        // main: 10 − 7 − 2 = 1 of its own; compute 1; inner_loop 6; log 2; poll 4; odd 1 (a
        // bad parent link makes it a root of its own).
        assert_eq!(
            got,
            [
                (6, vec!["inner_loop", "compute"]),
                (4, vec!["poll"]),
                (2, vec!["log", "main"]),
            ]
        );
        // Roots of process 10: main 10, poll 4, odd 1.
        assert!(
            (paths[0].percent - 40.0).abs() < 1e-9,
            "{}",
            paths[0].percent
        );
    }

    #[test]
    fn without_stacks_of_the_pid_every_process_counts() {
        let paths = hot_paths(&data(), Some(99), 1, 8);
        assert_eq!(paths[0].process, "other");
        assert_eq!(paths[0].samples, 50);
        assert!(hot_paths(&CaptureData::default(), None, 5, 5).is_empty());
    }
}
