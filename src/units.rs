//! Culprits are units, not only processes: four workers of one program, a `make -j8` of
//! short-lived compilers or a browser's renderers read as one culprit with a member count.
//!
//! # The grouping rule
//! 1. **cgroup v2**: a process whose cgroup v2 leaf is a systemd service (`*.service`) or an
//!    application or login scope (`app-*.scope`, `session-*.scope`) belongs to that cgroup's
//!    unit: systemd already drew the line around "one thing the user started".
//! 2. Otherwise, **one program in one process group**: processes of the same process group
//!    (a shell job, a service's process tree) running the same command (`comm`) form a unit.
//!    A job's workers and short-lived children that have not exec'd share both; the shell that
//!    started them, or a different program in the same job, is a unit of its own.
//! 3. Kernel threads, and processes without a process group, are units of one.
//!
//! On a cgroup v1 or hybrid host (every process in the v2 root, `0::/`), rule 2 is what runs.
//! On macOS, rule 1 uses the process's resource coalition (an app and its helpers; what a
//! terminal starts shares the terminal's), the grouping Activity Monitor uses.
//!
//! The unit's **leader** (the pid an event names) is stable: for a process group, the group
//! leader when it is a member, else the oldest member; for a cgroup, its oldest member.

pub use crate::model::UnitKind;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// The facts grouping needs about one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemberInfo<'a> {
    pub pid: u32,
    pub pgid: u32,
    pub start_time: f64,
    pub command: &'a str,
    pub kernel_thread: bool,
    /// cgroup v2 path (`/system.slice/nginx.service`), when not the root.
    pub cgroup: Option<&'a str>,
}

/// Whether a group path names a unit by rule 1 (on macOS, every resource coalition does).
pub fn cgroup_is_unit(path: &str) -> bool {
    if path.starts_with("coalition:") {
        return true;
    }
    let leaf = path.rsplit('/').next().unwrap_or("");
    leaf.ends_with(".service")
        || (leaf.ends_with(".scope") && (leaf.starts_with("app-") || leaf.starts_with("session-")))
}

/// The identity of a process's unit, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum KeyRef<'a> {
    Cgroup(&'a str),
    ProcessGroup(u32, &'a str),
    Process(u32, u64),
}

fn key_of<'a>(m: &MemberInfo<'a>) -> KeyRef<'a> {
    if let Some(cg) = m.cgroup
        && cgroup_is_unit(cg)
    {
        return KeyRef::Cgroup(cg);
    }
    if m.pgid > 0 && !m.kernel_thread {
        return KeyRef::ProcessGroup(m.pgid, m.command);
    }
    KeyRef::Process(m.pid, m.start_time.to_bits())
}

/// One unit of a pass: its members as indices into the process list, and its leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub kind: UnitKind,
    /// A 64-bit hash of the key, stable across passes (for per-unit history).
    pub id: u64,
    /// Members, in process-list order.
    pub members: Vec<u32>,
    /// Index of the leader in the process list.
    pub leader: u32,
}

impl Group {
    /// The unit's identity as text: `cgroup:/system.slice/x.service`, `pgrp:1234:make`,
    /// `pid:77:1700000000.25`.
    pub fn key(&self, procs: &[MemberInfo<'_>]) -> String {
        let l = &procs[self.leader as usize];
        match key_of(l) {
            KeyRef::Cgroup(p) => format!("cgroup:{p}"),
            KeyRef::ProcessGroup(g, c) => format!("pgrp:{g}:{c}"),
            KeyRef::Process(pid, _) => format!("pid:{pid}:{}", l.start_time),
        }
    }

    /// A short human label: the cgroup leaf, `process group N`, or empty for one process.
    pub fn label(&self, procs: &[MemberInfo<'_>]) -> String {
        let l = &procs[self.leader as usize];
        match key_of(l) {
            KeyRef::Cgroup(p) => p.rsplit('/').next().unwrap_or(p).to_string(),
            KeyRef::ProcessGroup(g, _) => format!("process group {g}"),
            KeyRef::Process(..) => String::new(),
        }
    }
}

fn hash_key(k: &KeyRef<'_>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    k.hash(&mut h);
    h.finish()
}

/// Groups the processes of one pass into units, ordered by their first member.
pub fn group(procs: &[MemberInfo<'_>]) -> Vec<Group> {
    let keys: Vec<KeyRef<'_>> = procs.iter().map(key_of).collect();
    let mut order: Vec<u32> = (0..procs.len() as u32).collect();
    order.sort_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]).then(a.cmp(&b)));
    let mut groups: Vec<Group> = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let k = keys[order[i] as usize];
        let mut j = i + 1;
        while j < order.len() && keys[order[j] as usize] == k {
            j += 1;
        }
        let members: Vec<u32> = order[i..j].to_vec();
        let leader = leader_of(&k, &members, procs);
        groups.push(Group {
            kind: match k {
                KeyRef::Cgroup(_) => UnitKind::Cgroup,
                KeyRef::ProcessGroup(..) => UnitKind::ProcessGroup,
                KeyRef::Process(..) => UnitKind::Process,
            },
            id: hash_key(&k),
            members,
            leader,
        });
        i = j;
    }
    groups.sort_by_key(|g| g.members[0]);
    groups
}

fn leader_of(k: &KeyRef<'_>, members: &[u32], procs: &[MemberInfo<'_>]) -> u32 {
    if let KeyRef::ProcessGroup(pgid, _) = k
        && let Some(&m) = members.iter().find(|&&m| procs[m as usize].pid == *pgid)
    {
        return m;
    }
    let older = |a: &u32, b: &u32| {
        let (pa, pb) = (&procs[*a as usize], &procs[*b as usize]);
        pa.start_time
            .partial_cmp(&pb.start_time)
            .unwrap_or(Ordering::Equal)
            .then(pa.pid.cmp(&pb.pid))
    };
    members.iter().copied().min_by(older).unwrap_or(members[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pid: u32, pgid: u32, command: &'static str, start: f64) -> MemberInfo<'static> {
        MemberInfo {
            pid,
            pgid,
            start_time: start,
            command,
            kernel_thread: false,
            cgroup: None,
        }
    }

    fn summary(groups: &[Group], procs: &[MemberInfo<'_>]) -> Vec<(String, Vec<u32>, u32)> {
        groups
            .iter()
            .map(|g| {
                (
                    g.key(procs),
                    g.members.iter().map(|&i| procs[i as usize].pid).collect(),
                    procs[g.leader as usize].pid,
                )
            })
            .collect()
    }

    #[test]
    fn one_program_in_one_process_group_is_one_unit() {
        // A job: the stress-ng parent and four workers; the shell that started it elsewhere.
        let procs = vec![
            m(100, 100, "bash", 1.0),
            m(200, 200, "stress-ng", 2.0),
            m(201, 200, "stress-ng-cpu", 3.0),
            m(202, 200, "stress-ng-cpu", 3.0),
            m(203, 200, "stress-ng-cpu", 3.1),
            m(204, 200, "stress-ng-cpu", 2.9),
        ];
        let g = group(&procs);
        assert_eq!(
            summary(&g, &procs),
            vec![
                ("pgrp:100:bash".to_string(), vec![100], 100),
                ("pgrp:200:stress-ng".to_string(), vec![200], 200),
                (
                    "pgrp:200:stress-ng-cpu".to_string(),
                    vec![201, 202, 203, 204],
                    204
                ),
            ],
            "the oldest worker leads when the group leader runs another program"
        );
        assert_eq!(g[2].kind, UnitKind::ProcessGroup);
        assert_eq!(g[2].label(&procs), "process group 200");
    }

    #[test]
    fn a_make_job_groups_its_compilers_and_the_group_leader_leads() {
        let procs = vec![
            m(300, 300, "make", 1.0),
            m(301, 300, "cc1", 5.0),
            m(302, 300, "cc1", 4.0),
            m(310, 310, "cc1", 4.0),
        ];
        let g = group(&procs);
        let s = summary(&g, &procs);
        assert_eq!(s[1], ("pgrp:300:cc1".into(), vec![301, 302], 302));
        assert_eq!(s[2], ("pgrp:310:cc1".into(), vec![310], 310), "another job");
    }

    #[test]
    fn service_and_app_or_session_scopes_are_units_other_cgroups_are_not() {
        assert!(cgroup_is_unit("/system.slice/nginx.service"));
        assert!(cgroup_is_unit(
            "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1234.scope"
        ));
        assert!(cgroup_is_unit(
            "/user.slice/user-1000.slice/session-3.scope"
        ));
        assert!(!cgroup_is_unit(
            "/user.slice/user-1000.slice/user@1000.service/app.slice"
        ));
        assert!(!cgroup_is_unit("/machine.slice/libpod-abc.scope"));
        assert!(!cgroup_is_unit("/"));
        let mut procs = vec![
            m(10, 10, "nginx", 5.0),
            m(11, 10, "nginx", 6.0),
            m(12, 12, "helper", 4.0),
            m(13, 13, "bash", 1.0),
        ];
        for p in procs.iter_mut().take(3) {
            p.cgroup = Some("/system.slice/nginx.service");
        }
        procs[3].cgroup = Some("/system.slice");
        let g = group(&procs);
        let s = summary(&g, &procs);
        assert_eq!(
            s[0],
            (
                "cgroup:/system.slice/nginx.service".into(),
                vec![10, 11, 12],
                12
            ),
            "the oldest member leads a cgroup"
        );
        assert_eq!(g[0].kind, UnitKind::Cgroup);
        assert_eq!(g[0].label(&procs), "nginx.service");
        assert_eq!(s[1].0, "pgrp:13:bash", "not a service or scope: rule 2");
    }

    #[test]
    fn kernel_threads_and_group_less_processes_stand_alone() {
        let mut k1 = m(2, 0, "kworker/0:1", 0.5);
        k1.kernel_thread = true;
        let mut k2 = m(3, 0, "kworker/0:1", 0.5);
        k2.kernel_thread = true;
        let init = m(1, 0, "init", 0.1);
        let procs = vec![init, k1, k2];
        let g = group(&procs);
        assert_eq!(g.len(), 3);
        assert!(
            g.iter()
                .all(|g| g.kind == UnitKind::Process && g.members.len() == 1)
        );
        assert_eq!(g[1].key(&procs), "pid:2:0.5");
        assert_eq!(g[1].label(&procs), "");
    }

    #[test]
    fn unit_ids_are_stable_across_passes_and_members() {
        let a = vec![m(201, 200, "w", 1.0), m(202, 200, "w", 1.0)];
        let b = vec![
            m(150, 150, "x", 0.0),
            m(202, 200, "w", 1.0),
            m(205, 200, "w", 9.0),
        ];
        assert_eq!(group(&a)[0].id, group(&b)[1].id);
        assert_ne!(group(&b)[0].id, group(&b)[1].id);
    }
}
