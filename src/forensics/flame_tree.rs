//! A capture's stored stacks as one counted tree (process, thread, frames) for flame graphs and
//! folded stacks: what `events show --flamegraph`, the HTML report and the TUI draw from, so all
//! three show the same graph.

use crate::flamegraph::{Kind, Node, Tree};
use crate::store::capture_data::{CaptureData, Frame};

/// The roots and each frame's children (a bad parent link makes a root, never a loop), heaviest
/// first, in stored order on a tie.
pub fn children_of(frames: &[Frame]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); frames.len()];
    let mut roots = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        match f.parent {
            Some(p) if p < i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let weight = |i: &usize| std::cmp::Reverse(frames[*i].sample_count);
    roots.sort_by_key(weight);
    for c in &mut children {
        c.sort_by_key(weight);
    }
    (roots, children)
}

/// The heaviest path of a thread's call tree as frame indices, outermost first: from the root
/// with the most samples, always into the child with the most samples (the first on a tie).
pub fn heaviest_chain(frames: &[Frame]) -> Vec<usize> {
    let (roots, children) = children_of(frames);
    let mut path = Vec::new();
    let mut at = roots.first().copied();
    while let Some(i) = at {
        path.push(i);
        at = children[i].first().copied();
    }
    path
}

/// The whole capture as one tree for flame graphs and folded stacks: process, then thread,
/// then the thread's frames.
pub fn flame_tree(data: &CaptureData) -> Tree {
    let mut tree = Tree::default();
    for p in &data.processes {
        let mut pnode = Node::new(format!("{} [{}]", p.name, p.pid), Kind::Group);
        for t in &p.threads {
            let name = match &t.thread_name {
                Some(n) => format!("{n} ({})", t.thread_id),
                None => format!("thread {}", t.thread_id),
            };
            let mut tnode = Node::new(name, Kind::Group);
            let (roots, children) = children_of(&t.frames);
            for r in roots {
                tnode.children.push(node_of(&t.frames, &children, r));
            }
            tnode.count = tnode.children.iter().map(|c| c.count).sum();
            tnode.off_cpu = tnode.children.iter().map(|c| c.off_cpu).sum();
            if tnode.count > 0 {
                pnode.children.push(tnode);
            }
        }
        pnode.count = pnode.children.iter().map(|c| c.count).sum();
        pnode.off_cpu = pnode.children.iter().map(|c| c.off_cpu).sum();
        if pnode.count > 0 {
            tree.roots.push(pnode);
        }
    }
    tree
}

fn node_of(frames: &[Frame], children: &[Vec<usize>], i: usize) -> Node {
    let f = &frames[i];
    let mut detail = Vec::new();
    if let Some(l) = &f.library_name {
        detail.push(l.clone());
    }
    if let Some(file) = &f.source_file {
        detail.push(match f.source_line {
            Some(l) => format!("{file}:{l}"),
            None => file.clone(),
        });
    }
    Node {
        name: f.symbol_name.clone().unwrap_or_else(|| f.address.clone()),
        detail: (!detail.is_empty()).then(|| detail.join(" · ")),
        kind: if f.is_kernel {
            Kind::Kernel
        } else {
            Kind::User
        },
        count: u64::try_from(f.sample_count).unwrap_or(0),
        off_cpu: u64::try_from(f.off_cpu_count.unwrap_or(0)).unwrap_or(0),
        children: children[i]
            .iter()
            .map(|&c| node_of(frames, children, c))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(parent: Option<usize>, count: i64, sym: &str) -> Frame {
        Frame {
            parent,
            sample_count: count,
            symbol_name: Some(sym.into()),
            address: "0x1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_heaviest_chain_follows_the_most_samples_and_never_loops() {
        let frames = vec![
            frame(None, 5, "main"),
            frame(Some(0), 1, "light"),
            frame(Some(0), 4, "heavy"),
            frame(Some(2), 4, "leaf"),
            frame(None, 2, "other_root"),
        ];
        assert_eq!(heaviest_chain(&frames), [0, 2, 3]);
        assert!(heaviest_chain(&[]).is_empty());
        // A bad parent link is a root, never a loop.
        assert_eq!(heaviest_chain(&[frame(Some(5), 1, "orphan")]), [0]);
        // On a tie, the first stored.
        let tie = vec![frame(None, 2, "a"), frame(None, 2, "b")];
        assert_eq!(heaviest_chain(&tie), [0]);
    }

    #[test]
    fn the_tree_groups_by_process_and_thread_and_drops_empty_ones() {
        use crate::store::capture_data::{StackProcess, StackThread};
        let thread = |tid: &str, frames: Vec<Frame>| StackThread {
            thread_id: tid.into(),
            frames,
            ..Default::default()
        };
        let data = CaptureData {
            processes: vec![
                StackProcess {
                    pid: 7,
                    name: "hog".into(),
                    threads: vec![
                        thread("7", vec![frame(None, 3, "main"), frame(Some(0), 2, "spin")]),
                        thread("8", vec![]),
                    ],
                    ..Default::default()
                },
                StackProcess {
                    pid: 9,
                    name: "idle".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let tree = flame_tree(&data);
        assert_eq!(tree.total(), 3);
        assert_eq!(tree.roots.len(), 1, "a process without samples is left out");
        assert_eq!(tree.roots[0].name, "hog [7]");
        assert_eq!(tree.roots[0].children.len(), 1, "so is a thread");
        assert_eq!(
            tree.roots[0].children[0].children[0].children[0].name,
            "spin"
        );
    }
}
