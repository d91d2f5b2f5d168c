//! Linux stacks as text → call trees with sample counts (the "heavy" shape spindump prints).
//!
//! Kernel stacks come from `/proc/P/task/T/stack`, sampled several times because a thread on a
//! CPU shows an empty stack; user stacks come from one `eu-stack -m -b` run. Both list the
//! innermost frame first; the tree is built outermost first, user frames above kernel frames.

use crate::store::capture_data::Frame;
use std::collections::BTreeMap;

/// One frame before merging.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawFrame {
    pub is_kernel: bool,
    pub symbol: Option<String>,
    pub symbol_offset: Option<i64>,
    pub library: Option<String>,
    pub library_offset: Option<i64>,
    pub address: String,
    /// Source file and line, where debug information tells them (profiles).
    pub source_file: Option<String>,
    pub source_line: Option<u32>,
}

impl RawFrame {
    /// The same function (a profile merges a function's instructions into one node): same
    /// side, symbol and library; without a symbol, the same address.
    fn same_function(&self, other: &RawFrame) -> bool {
        self.is_kernel == other.is_kernel
            && self.symbol == other.symbol
            && self.library == other.library
            && (self.symbol.is_some() || self.address == other.address)
    }
}

fn hex(s: &str) -> Option<i64> {
    i64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

/// `[<0>] hrtimer_nanosleep+0x8d/0x120` lines, innermost first.
pub fn parse_kernel_stack(text: &str) -> Vec<RawFrame> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (addr, rest) = match line.strip_prefix("[<") {
                Some(r) => {
                    let (a, rest) = r.split_once(">]")?;
                    (a.trim(), rest.trim())
                }
                None => ("0", line),
            };
            if rest.is_empty() {
                return None;
            }
            let (sym, off) = match rest.split_once('+') {
                Some((s, o)) => (s, o.split('/').next().and_then(hex)),
                None => (rest, None),
            };
            Some(RawFrame {
                is_kernel: true,
                symbol: Some(sym.to_string()),
                symbol_offset: off,
                library: Some("kernel".into()),
                library_offset: None,
                address: format!("0x{}", addr.trim_start_matches("0x")),
                ..Default::default()
            })
        })
        .collect()
}

/// `eu-stack -m -b` output: user frames per thread id, innermost first.
pub fn parse_eu_stack(text: &str) -> BTreeMap<i64, Vec<RawFrame>> {
    let mut out: BTreeMap<i64, Vec<RawFrame>> = BTreeMap::new();
    let mut current: Option<i64> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("TID ") {
            current = rest.trim_end_matches(':').trim().parse().ok();
            if let Some(tid) = current {
                out.entry(tid).or_default();
            }
            continue;
        }
        let Some(tid) = current else { continue };
        if let Some(rest) = trimmed.strip_prefix('#') {
            // "#0  0x00007f.. symbol - /path/lib.so" or "#2  0x0000.. - /usr/bin/sleep"
            let mut parts = rest.splitn(2, char::is_whitespace);
            let _index = parts.next();
            let rest = parts.next().unwrap_or("").trim();
            let (address, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let (symbol, module) = match rest.rsplit_once(" - ") {
                Some((s, m)) => (s.trim(), Some(m.trim())),
                None if rest.trim_start().starts_with("- ") => ("", Some(rest.trim()[2..].trim())),
                None => (rest.trim(), None),
            };
            let frame = RawFrame {
                is_kernel: false,
                symbol: (!symbol.is_empty()).then(|| symbol.to_string()),
                symbol_offset: None,
                library: module
                    .filter(|m| !m.is_empty())
                    .map(|m| m.rsplit('/').next().unwrap_or(m).to_string()),
                library_offset: None,
                address: address.to_ascii_lowercase(),
                ..Default::default()
            };
            out.entry(tid).or_default().push(frame);
        } else if trimmed.starts_with('[')
            && let Some((_, off)) = trimmed.rsplit_once('+')
            && let Some(last) = out.get_mut(&tid).and_then(|v| v.last_mut())
        {
            // "[build-id]@0xbase+0xoffset" belongs to the frame above it.
            last.library_offset = hex(off);
        }
    }
    out
}

/// `gdb -batch -ex 'thread apply all bt'` output: user frames per thread id, innermost first.
pub fn parse_gdb_bt(text: &str) -> BTreeMap<i64, Vec<RawFrame>> {
    let mut out: BTreeMap<i64, Vec<RawFrame>> = BTreeMap::new();
    let mut current: Option<i64> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Thread ") {
            current = t
                .split("(LWP ")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .and_then(|n| n.trim().parse().ok());
            if let Some(tid) = current {
                out.entry(tid).or_default();
            }
            continue;
        }
        let (Some(tid), Some(rest)) = (current, t.strip_prefix('#')) else {
            continue;
        };
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit()).trim();
        let (address, rest) = match rest.split_once(" in ") {
            Some((a, r)) if a.starts_with("0x") => (a.to_ascii_lowercase(), r),
            _ => ("0x0".to_string(), rest),
        };
        let symbol = rest.split(" (").next().unwrap_or(rest).trim();
        let library = rest
            .rsplit_once(" from ")
            .map(|(_, lib)| lib.trim().rsplit('/').next().unwrap_or(lib).to_string());
        out.entry(tid).or_default().push(RawFrame {
            is_kernel: false,
            symbol: (!symbol.is_empty() && symbol != "??").then(|| symbol.to_string()),
            symbol_offset: None,
            library,
            library_offset: None,
            address,
            ..Default::default()
        });
    }
    out
}

/// Merges stack samples (each outermost first) into a pre-order frame list with counts.
///
/// Stacks read from /proc merge frames that are exactly equal ([`CallTree::new`]); a profile
/// merges by function and keeps on- and off-CPU counts apart ([`CallTree::profile`]), each node
/// showing the address and source line that weighed most.
#[derive(Debug, Default)]
pub struct CallTree {
    nodes: Vec<Node>,
    roots: Vec<usize>,
    by_function: bool,
}

#[derive(Debug)]
struct Node {
    frame: RawFrame,
    count: i64,
    on_cpu: i64,
    off_cpu: i64,
    /// Profiles: each distinct location of this function, with its weight.
    locations: Vec<(RawFrame, i64)>,
    children: Vec<usize>,
}

impl CallTree {
    pub fn new() -> CallTree {
        CallTree::default()
    }

    /// A tree for a sampled profile: nodes are functions, with on- and off-CPU counts.
    pub fn profile() -> CallTree {
        CallTree {
            by_function: true,
            ..CallTree::default()
        }
    }

    /// Adds one sample path, outermost frame first.
    pub fn add(&mut self, path: &[RawFrame], weight: i64) {
        self.add_split(path, weight, 0);
    }

    /// Adds a path with `on` on-CPU and `off` off-CPU samples (profiles).
    pub fn add_split(&mut self, path: &[RawFrame], on: i64, off: i64) {
        let weight = on + off;
        let mut level: Option<usize> = None;
        for f in path {
            let siblings = match level {
                None => &self.roots,
                Some(i) => &self.nodes[i].children,
            };
            let by_function = self.by_function;
            let found = siblings.iter().copied().find(|&i| {
                let n = &self.nodes[i].frame;
                if by_function {
                    n.same_function(f)
                } else {
                    n == f
                }
            });
            let idx = match found {
                Some(i) => i,
                None => {
                    let i = self.nodes.len();
                    self.nodes.push(Node {
                        frame: f.clone(),
                        count: 0,
                        on_cpu: 0,
                        off_cpu: 0,
                        locations: Vec::new(),
                        children: vec![],
                    });
                    match level {
                        None => self.roots.push(i),
                        Some(p) => self.nodes[p].children.push(i),
                    }
                    i
                }
            };
            let node = &mut self.nodes[idx];
            node.count += weight;
            node.on_cpu += on;
            node.off_cpu += off;
            if by_function {
                match node.locations.iter_mut().find(|(l, _)| l == f) {
                    Some((_, w)) => *w += weight,
                    None => node.locations.push((f.clone(), weight)),
                }
            }
            level = Some(idx);
        }
    }

    /// Pre-order frames, heaviest child first, parents before children.
    pub fn into_frames(self) -> Vec<Frame> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut roots = self.roots.clone();
        roots.sort_by_key(|&i| std::cmp::Reverse(self.nodes[i].count));
        let mut stack: Vec<(usize, u32, Option<usize>)> =
            roots.into_iter().rev().map(|i| (i, 0, None)).collect();
        while let Some((i, depth, parent)) = stack.pop() {
            let n = &self.nodes[i];
            let me = out.len();
            // The location that weighed most (the first on a tie) stands for the function.
            let mut shown = &n.frame;
            let mut best = i64::MIN;
            for (loc, w) in &n.locations {
                if *w > best {
                    best = *w;
                    shown = loc;
                }
            }
            out.push(Frame {
                depth,
                parent,
                sample_count: n.count,
                on_cpu_count: self.by_function.then_some(n.on_cpu),
                off_cpu_count: self.by_function.then_some(n.off_cpu),
                is_kernel: shown.is_kernel,
                symbol_name: shown.symbol.clone(),
                symbol_offset: shown.symbol_offset,
                library_name: shown.library.clone(),
                library_offset: shown.library_offset,
                address: shown.address.clone(),
                source_file: shown.source_file.clone(),
                source_line: shown.source_line.map(i64::from),
                ..Default::default()
            });
            let mut kids = n.children.clone();
            kids.sort_by_key(|&c| std::cmp::Reverse(self.nodes[c].count));
            for c in kids.into_iter().rev() {
                stack.push((c, depth + 1, Some(me)));
            }
        }
        out
    }
}

/// One thread's tree: the user stack (one snapshot, innermost first) above every kernel sample
/// (each innermost first). User frames count every sample taken; kernel frames their own.
pub fn thread_tree(user: &[RawFrame], kernel_samples: &[Vec<RawFrame>]) -> Vec<Frame> {
    let mut tree = CallTree::new();
    let user_path: Vec<RawFrame> = user.iter().rev().cloned().collect();
    // Samples with an empty kernel stack (the thread was on a CPU) still count for its user path.
    let empty = kernel_samples.iter().filter(|k| k.is_empty()).count() as i64;
    if !user_path.is_empty() && empty > 0 {
        tree.add(&user_path, empty);
    }
    for k in kernel_samples.iter().filter(|k| !k.is_empty()) {
        let mut path = user_path.clone();
        path.extend(k.iter().rev().cloned());
        tree.add(&path, 1);
    }
    if kernel_samples.is_empty() && !user_path.is_empty() {
        tree.add(&user_path, 1);
    }
    tree.into_frames()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLEEP_STACK: &str = "[<0>] hrtimer_nanosleep+0x8d/0x120\n[<0>] common_nsleep+0x40/0x50\n\
        [<0>] __x64_sys_clock_nanosleep+0xc4/0x130\n[<0>] do_syscall_64+0x82/0x190\n\
        [<0>] entry_SYSCALL_64_after_hwframe+0x76/0x7e\n";

    const EU_STACK: &str = "PID 741 - process\nTID 741:\n\
        #0  0x00007f3e8779c503 __GI___clock_nanosleep - /usr/lib/x86_64-linux-gnu/libc.so.6\n\
        \x20   [93ac61ec]@0x7f3e876cd000+0xcf503\n\
        #1  0x000056012e26b4af - /usr/bin/sleep\n\
        \x20   [e3103c60]@0x56012e265000+0x64ae\n\
        #2  0x00007f3e876f424a __libc_start_call_main - /usr/lib/x86_64-linux-gnu/libc.so.6\n\
        TID 742:\n#0  0x00007f0000000001 worker_loop\n";

    #[test]
    fn kernel_stack_lines() {
        let k = parse_kernel_stack(SLEEP_STACK);
        assert_eq!(k.len(), 5);
        assert_eq!(k[0].symbol.as_deref(), Some("hrtimer_nanosleep"));
        assert_eq!(k[0].symbol_offset, Some(0x8d));
        assert!(k.iter().all(|f| f.is_kernel && f.address == "0x0"));
        assert!(
            parse_kernel_stack("").is_empty(),
            "a running thread has no kernel stack"
        );
    }

    #[test]
    fn eu_stack_threads_and_modules() {
        let u = parse_eu_stack(EU_STACK);
        assert_eq!(u.keys().copied().collect::<Vec<_>>(), [741, 742]);
        let t = &u[&741];
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].symbol.as_deref(), Some("__GI___clock_nanosleep"));
        assert_eq!(t[0].library.as_deref(), Some("libc.so.6"));
        assert_eq!(t[0].library_offset, Some(0xcf503));
        assert_eq!(t[0].address, "0x00007f3e8779c503");
        assert_eq!(t[1].symbol, None);
        assert_eq!(t[1].library.as_deref(), Some("sleep"));
        assert_eq!(t[1].library_offset, Some(0x64ae));
        assert_eq!(u[&742][0].symbol.as_deref(), Some("worker_loop"));
        assert_eq!(u[&742][0].library, None);
    }

    #[test]
    fn gdb_backtraces() {
        let text = "\nThread 2 (Thread 0x7f00 (LWP 1235) \"worker\"):\n\
            #0  0x00007f3e8779c503 in __GI___clock_nanosleep (clockid=0) at ../sysdeps/nanosleep.c:78\n\
            #1  0x00007f3e877a0e53 in __nanosleep () from /lib/x86_64-linux-gnu/libc.so.6\n\
            \nThread 1 (Thread 0x7f01 (LWP 1234) \"main\"):\n#0  main () at x.c:5\n";
        let g = parse_gdb_bt(text);
        assert_eq!(g.keys().copied().collect::<Vec<_>>(), [1234, 1235]);
        let w = &g[&1235];
        assert_eq!(w[0].symbol.as_deref(), Some("__GI___clock_nanosleep"));
        assert_eq!(w[0].address, "0x00007f3e8779c503");
        assert_eq!(w[1].library.as_deref(), Some("libc.so.6"));
        assert_eq!(g[&1234][0].symbol.as_deref(), Some("main"));
        assert_eq!(g[&1234][0].address, "0x0");
    }

    #[test]
    fn samples_merge_into_a_counted_tree() {
        let a = parse_kernel_stack(SLEEP_STACK);
        let mut b = a.clone();
        b[0].symbol = Some("schedule".into());
        let frames = thread_tree(&[], &[a.clone(), a.clone(), b, vec![]]);
        // Shared path entry_SYSCALL_64 … common_nsleep with 3 samples, then two leaves.
        assert_eq!(
            frames[0].symbol_name.as_deref(),
            Some("entry_SYSCALL_64_after_hwframe")
        );
        assert_eq!(frames[0].sample_count, 3);
        assert_eq!(frames[0].parent, None);
        let leaves: Vec<(&str, i64, u32)> = frames
            .iter()
            .filter(|f| f.depth == 4)
            .map(|f| {
                (
                    f.symbol_name.as_deref().unwrap_or(""),
                    f.sample_count,
                    f.depth,
                )
            })
            .collect();
        assert_eq!(leaves, [("hrtimer_nanosleep", 2, 4), ("schedule", 1, 4)]);
        for (i, f) in frames.iter().enumerate() {
            if let Some(p) = f.parent {
                assert!(p < i && frames[p].depth + 1 == f.depth);
            }
        }
    }

    #[test]
    fn user_frames_sit_above_kernel_frames() {
        let user = &parse_eu_stack(EU_STACK)[&741];
        let k = parse_kernel_stack(SLEEP_STACK);
        let frames = thread_tree(user, &[k.clone(), k]);
        assert!(!frames[0].is_kernel);
        assert_eq!(
            frames[0].symbol_name.as_deref(),
            Some("__libc_start_call_main")
        );
        assert_eq!(frames[0].sample_count, 2);
        let first_kernel = frames.iter().position(|f| f.is_kernel).unwrap();
        assert_eq!(first_kernel, 3);
        assert_eq!(frames[first_kernel].parent, Some(2));
        assert_eq!(
            frames.last().unwrap().symbol_name.as_deref(),
            Some("hrtimer_nanosleep")
        );
    }

    #[test]
    fn an_always_running_thread_has_user_frames_and_no_kernel_frames() {
        let user = &parse_eu_stack(EU_STACK)[&742];
        let frames = thread_tree(user, &[vec![], vec![], vec![]]);
        assert_eq!(frames.len(), 1);
        assert!(!frames[0].is_kernel);
        assert_eq!(frames[0].sample_count, 3);
        assert!(thread_tree(&[], &[vec![], vec![]]).is_empty());
    }

    fn at(sym: &str, addr: &str, line: u32) -> RawFrame {
        RawFrame {
            symbol: Some(sym.into()),
            library: Some("busy".into()),
            address: addr.into(),
            source_file: Some("busy.c".into()),
            source_line: Some(line),
            ..Default::default()
        }
    }

    #[test]
    fn a_profile_merges_by_function_and_keeps_on_and_off_cpu_apart() {
        let mut tree = CallTree::profile();
        let main = at("main", "0x10", 30);
        tree.add_split(&[main.clone(), at("gamma", "0x20", 12)], 3, 0);
        tree.add_split(&[main.clone(), at("gamma", "0x24", 13)], 5, 0);
        tree.add_split(&[main.clone(), at("nap", "0x40", 50)], 0, 7);
        let frames = tree.into_frames();
        assert_eq!(frames.len(), 3, "gamma's two addresses are one node");
        assert_eq!(frames[0].sample_count, 15);
        assert_eq!(
            (frames[0].on_cpu_count, frames[0].off_cpu_count),
            (Some(8), Some(7))
        );
        let gamma = &frames[1];
        assert_eq!(gamma.symbol_name.as_deref(), Some("gamma"));
        assert_eq!(
            (gamma.on_cpu_count, gamma.off_cpu_count),
            (Some(8), Some(0))
        );
        assert_eq!(
            (gamma.address.as_str(), gamma.source_line),
            ("0x24", Some(13)),
            "the heavier location stands for the function"
        );
        assert_eq!(frames[2].off_cpu_count, Some(7));
        assert_eq!(frames[2].source_file.as_deref(), Some("busy.c"));
    }

    #[test]
    fn procfs_trees_have_no_on_or_off_cpu_counts() {
        let frames = thread_tree(&[], &[parse_kernel_stack(SLEEP_STACK)]);
        assert!(
            frames
                .iter()
                .all(|f| f.on_cpu_count.is_none() && f.off_cpu_count.is_none())
        );
    }
}
