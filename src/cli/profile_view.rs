//! Reading a capture's stacks: the counted tree as text (`events show -t`), folded stacks
//! (`--folded`) and a flame graph (`--flamegraph FILE.svg`), from what the store holds.

use super::output::{cut, plural, printable};
use crate::flamegraph;
use crate::forensics::flame_tree::children_of;
pub use crate::forensics::flame_tree::flame_tree;
use crate::store::capture_data::{CaptureData, Frame, StackHeader};

/// Frames printed per thread in the text tree.
const MAX_TREE_LINES: usize = 40;
/// Paths below this share of a thread's samples are summed up, not printed.
const MIN_SHARE: f64 = 0.01;
/// In a chain of single-child frames with the same counts, a run of frames of one library
/// longer than this is shortened to its first and last frames.
const RUN_KEEP_HEAD: usize = 1;
const RUN_KEEP_TAIL: usize = 2;
const RUN_MAX: usize = 4;
/// Deeper frames are not indented further.
const MAX_INDENT: usize = 24;

/// One line on how the stacks were sampled: `perf at 99 Hz for 3.0 s: …`.
pub fn sampling_line(h: &StackHeader) -> Option<String> {
    let hz = h.sample_rate_hz?;
    let mut s = format!(
        "{} at {hz:.0} Hz for {:.1} s: {}, {}",
        h.data_source.as_deref().unwrap_or("profile"),
        h.duration_sec.unwrap_or(0.0),
        plural(
            h.samples_on_cpu.unwrap_or(0).max(0) as u64,
            "on-CPU sample",
            "on-CPU samples"
        ),
        plural(
            h.samples_off_cpu.unwrap_or(0).max(0) as u64,
            "off-CPU sample",
            "off-CPU samples"
        ),
    );
    if let Some(l) = h.samples_lost.filter(|&l| l > 0) {
        s.push_str(&format!(", {l} lost"));
    }
    if let Some(t) = h.stacks_truncated.filter(|&t| t > 0) {
        s.push_str(&format!(", {t} stacks cut short"));
    }
    Some(s)
}

/// A frame's name as shown: symbol (or address), library, source line.
fn frame_label(f: &Frame) -> String {
    let mut s = printable(f.symbol_name.as_deref().unwrap_or(&f.address)).into_owned();
    match (&f.library_name, f.is_kernel) {
        (Some(l), false) => s.push_str(&format!(" ({})", printable(l))),
        (_, true) => s.push_str(" [kernel]"),
        _ => {}
    }
    if let Some(file) = &f.source_file {
        let short = file.rsplit('/').next().unwrap_or(file);
        match f.source_line {
            Some(l) => s.push_str(&format!(" {}:{l}", printable(short))),
            None => s.push_str(&format!(" {}", printable(short))),
        }
    }
    s
}

fn library_of(f: &Frame) -> String {
    if f.is_kernel {
        "the kernel".to_string()
    } else {
        f.library_name.clone().unwrap_or_else(|| "?".into())
    }
}

/// Splits a chain of frames into runs of the same library (the kernel counts as one).
fn library_runs(frames: &[Frame], chain: &[usize]) -> Vec<Vec<usize>> {
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for &i in chain {
        match runs.last_mut() {
            Some(run) if library_of(&frames[run[0]]) == library_of(&frames[i]) => run.push(i),
            _ => runs.push(vec![i]),
        }
    }
    runs
}

/// Totals of a thread's tree: all samples, on-CPU, off-CPU (the latter two for profiles).
fn thread_totals(frames: &[Frame]) -> (i64, Option<i64>, Option<i64>) {
    let roots = frames.iter().filter(|f| f.parent.is_none());
    let mut all = 0;
    let mut on: Option<i64> = None;
    let mut off: Option<i64> = None;
    for f in roots {
        all += f.sample_count;
        if let Some(o) = f.on_cpu_count {
            *on.get_or_insert(0) += o;
        }
        if let Some(o) = f.off_cpu_count {
            *off.get_or_insert(0) += o;
        }
    }
    (all, on, off)
}

fn pct(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "     -".to_string()
    } else {
        format!("{:5.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The counted tree of one thread, hot paths first, as indented lines.
pub fn thread_tree(frames: &[Frame], indent: &str) -> Vec<String> {
    let mut out = Vec::new();
    if frames.is_empty() {
        return out;
    }
    let (all, on, off) = thread_totals(frames);
    let profiled = on.is_some();
    if profiled {
        out.push(format!("{indent}  on-CPU        off-CPU"));
    } else {
        out.push(format!("{indent}  samples"));
    }
    let (roots, children) = children_of(frames);
    let counts = |f: &Frame| -> String {
        match (f.on_cpu_count, f.off_cpu_count, on, off) {
            (Some(a), Some(b), Some(ta), Some(tb)) => {
                format!("{a:>5} {}  {b:>5} {}", pct(a, ta), pct(b, tb))
            }
            _ => format!("{:>5} {}", f.sample_count, pct(f.sample_count, all)),
        }
    };
    let min = ((all as f64) * MIN_SHARE).ceil() as i64;
    let mut hidden_paths = 0usize;
    let mut hidden_samples = 0i64;
    // (frame, depth shown)
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        if out.len() > MAX_TREE_LINES {
            hidden_paths += 1;
            hidden_samples += frames[i].sample_count;
            continue;
        }
        let f = &frames[i];
        if f.sample_count < min.max(1) && depth > 0 {
            hidden_paths += 1;
            hidden_samples += f.sample_count;
            continue;
        }
        // A chain of single children carrying the same counts reads as one path: show its
        // head and its tail.
        let mut chain = vec![i];
        let mut at = i;
        while children[at].len() == 1 {
            let c = children[at][0];
            let (a, b) = (&frames[at], &frames[c]);
            if a.sample_count != b.sample_count || a.off_cpu_count != b.off_cpu_count {
                break;
            }
            chain.push(c);
            at = c;
        }
        let pad = " ".repeat(depth.min(MAX_INDENT));
        for run in library_runs(frames, &chain) {
            let hide = run.len().saturating_sub(RUN_KEEP_HEAD + RUN_KEEP_TAIL);
            let fold = run.len() > RUN_MAX;
            for (k, &fi) in run.iter().enumerate() {
                if fold && k == RUN_KEEP_HEAD {
                    let lib = library_of(&frames[fi]);
                    out.push(format!(
                        "{indent}  {:>w$}  {pad}⋮ {} in {}",
                        "",
                        plural(hide as u64, "frame", "frames"),
                        printable(&lib),
                        w = if profiled { 26 } else { 12 }
                    ));
                }
                if fold && k >= RUN_KEEP_HEAD && k < RUN_KEEP_HEAD + hide {
                    continue;
                }
                out.push(format!(
                    "{indent}  {}  {pad}{}",
                    counts(&frames[fi]),
                    cut(&frame_label(&frames[fi]), 100)
                ));
            }
        }
        for &c in children[at].iter().rev() {
            stack.push((c, depth + 1));
        }
    }
    if hidden_paths > 0 {
        out.push(format!(
            "{indent}  … {} with {} not shown (under {:.0}% each, or past {MAX_TREE_LINES} lines; --folded has them all)",
            plural(hidden_paths as u64, "more frame", "more frames"),
            plural(hidden_samples.max(0) as u64, "sample", "samples"),
            MIN_SHARE * 100.0
        ));
    }
    out
}

/// The flame graph's title and subtitle for a capture.
pub fn flame_options(capture_id: i64, event_id: i64, data: &CaptureData) -> flamegraph::Options {
    let sampling = data.header.as_ref().and_then(sampling_line);
    let names: Vec<String> = data
        .processes
        .iter()
        .take(3)
        .map(|p| format!("{} [{}]", p.name, p.pid))
        .collect();
    flamegraph::Options {
        title: format!(
            "Capture #{capture_id} of event #{event_id}: {}",
            names.join(", ")
        ),
        subtitle: sampling.or_else(|| {
            data.header
                .as_ref()
                .and_then(|h| h.data_source.clone())
                .map(|s| format!("stacks from {s}"))
        }),
        ..flamegraph::Options::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forensics::calltree::{CallTree, RawFrame};
    use crate::store::capture_data::StackThread;

    fn raw(sym: &str) -> RawFrame {
        RawFrame {
            symbol: Some(sym.into()),
            library: Some("busy".into()),
            address: "0x1".into(),
            source_file: Some("/src/busy.c".into()),
            source_line: Some(7),
            ..Default::default()
        }
    }

    fn profiled_thread() -> StackThread {
        let mut tree = CallTree::profile();
        let mut chain: Vec<RawFrame> = [
            "_start",
            "libc_main",
            "main",
            "run",
            "step",
            "work",
            "alpha",
        ]
        .into_iter()
        .map(raw)
        .collect();
        chain[0].library = Some("libc.so.6".into());
        let mut hot = chain.clone();
        hot.extend([raw("beta"), raw("gamma")]);
        tree.add_split(&hot, 90, 0);
        let mut cold = chain.clone();
        cold.push(raw("nap"));
        tree.add_split(&cold, 1, 30);
        let mut tiny = chain;
        tiny.push(raw("rare"));
        tree.add_split(&tiny, 0, 0);
        StackThread {
            thread_id: "7".into(),
            thread_name: Some("busy".into()),
            frames: tree.into_frames(),
            ..Default::default()
        }
    }

    #[test]
    fn the_text_tree_shows_hot_paths_first_with_both_counts_and_folds_chains() {
        let lines = thread_tree(&profiled_thread().frames, "");
        let text = lines.join("\n");
        assert!(lines[0].contains("on-CPU") && lines[0].contains("off-CPU"));
        let beta = lines
            .iter()
            .position(|l| l.contains("beta (busy)"))
            .unwrap();
        let nap = lines.iter().position(|l| l.contains("nap (busy)")).unwrap();
        assert!(beta < nap, "the hot path comes first:\n{text}");
        // main … alpha (six frames of busy in a row) keeps its first and last two.
        assert!(text.contains("⋮ 3 frames in busy"), "{text}");
        assert!(
            !text.contains("run (busy)") && text.contains("work (busy)"),
            "{text}"
        );
        assert!(lines[1].contains("_start (libc.so.6) busy.c:7"), "{text}");
        let gamma = lines.iter().find(|l| l.contains("gamma")).unwrap();
        assert!(gamma.contains("   90  98.9%"), "{gamma}");
        assert!(nap < lines.len());
        assert!(
            !text.contains("rare"),
            "a path with no samples is not shown"
        );
    }

    #[test]
    fn the_flame_tree_sums_to_the_stored_samples() {
        let t = profiled_thread();
        let stored: i64 = t
            .frames
            .iter()
            .filter(|f| f.parent.is_none())
            .map(|f| f.sample_count)
            .sum();
        let data = CaptureData {
            processes: vec![crate::store::capture_data::StackProcess {
                pid: 7,
                name: "busy".into(),
                threads: vec![t],
                ..Default::default()
            }],
            ..Default::default()
        };
        let tree = flame_tree(&data);
        assert_eq!(tree.total() as i64, stored);
        assert_eq!(tree.roots[0].name, "busy [7]");
        assert_eq!(tree.roots[0].off_cpu, 30);
        let folded = tree.to_folded();
        let sum: u64 = folded
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum as i64, stored);
        assert!(
            folded.contains(
                "busy [7];busy (7);_start;libc_main;main;run;step;work;alpha;nap;[off-CPU] 30"
            ),
            "{folded}"
        );
    }
}
