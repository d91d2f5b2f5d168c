//! The platform-independent end of a pass: rates (from the readers' raw counters), the derived
//! per-process facts, the machine's state, units, scoring, ordering and the `Sample` itself.

use super::derive::{Derive, Derived};
use crate::config::{BandsConfig, Config, ImpactConfig, ScoringConfig, ScoringModel};
use crate::impact::{self, BandThresholds, ImpactScorer, Stress, Totals, Usage};
use crate::machine::{Machine, MachineCounters, MachineTracker, ProcessTotals};
use crate::model::{ProcState, ProcessScore, Resource, Sample, Unit, UnitKind};
use crate::reading::{ProcessReading, Rates};
use crate::score::{self, PerResource};
use crate::units::{self, Group, MemberInfo};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Wall-clock time, epoch seconds.
pub(crate) fn wall_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Sets `zombie_children` of every process: the processes of this pass in state zombie whose
/// parent it is.
pub(crate) fn count_zombie_children(processes: &mut [ProcessScore]) {
    // Zombies are rare: collecting their parents allocates nothing when there are none.
    let mut parents: Vec<u32> = processes
        .iter()
        .filter(|p| p.state == ProcState::Zombie)
        .map(|p| p.ppid)
        .collect();
    if parents.is_empty() {
        return;
    }
    parents.sort_unstable();
    for p in processes.iter_mut() {
        let lo = parents.partition_point(|&x| x < p.pid);
        let hi = parents.partition_point(|&x| x <= p.pid);
        p.zombie_children = u32::try_from(hi - lo).unwrap_or(u32::MAX);
    }
}

/// A process's row from its reading and rates (scores filled in later).
pub(crate) fn row_of(r: &ProcessReading, rates: &Rates) -> ProcessScore {
    let c = &r.now;
    ProcessScore {
        pid: r.pid,
        command: r.command.clone(),
        captured_at: wall_now(),
        cpu: rates.cpu_cores * 100.0,
        mem: r.mem,
        mem_peak: r.mem_peak,
        pageins: c.pageins,
        pageins_rate: rates.pageins,
        faults: c.faults,
        faults_rate: rates.faults,
        disk_io: c.disk_io.unwrap_or(0),
        disk_io_rate: rates.disk_io,
        csw: c.csw,
        csw_rate: rates.csw,
        syscalls: c.syscalls.unwrap_or(0),
        syscalls_rate: rates.syscalls,
        threads: r.threads,
        mach_msgs: c.mach_msgs,
        mach_msgs_rate: rates.mach_msgs,
        instructions: r.instructions,
        cycles: r.cycles,
        ipc: if r.cycles > 0 {
            r.instructions as f64 / r.cycles as f64
        } else {
            0.0
        },
        energy: c.energy,
        energy_rate: rates.energy,
        wakeups: c.wakeups,
        wakeups_rate: rates.wakeups,
        runnable_time: c.runnable_ns,
        runnable_time_rate: rates.runnable_ms,
        qos_interactive: c.qos_ns,
        qos_interactive_rate: rates.qos_ms,
        gpu_time: r.gpu_time,
        gpu_time_rate: rates.gpu_ms,
        state: r.state,
        priority: r.priority,
        ppid: r.ppid,
        uid: r.uid,
        start_time: r.start_time,
        members: 1,
        ..ProcessScore::default()
    }
}

/// What one process consumed, for the impact model.
fn usage_of(row: &ProcessScore, rates: &Rates, d: &Derived) -> Usage {
    Usage {
        cores: rates.cpu_cores,
        child_cores: d.child_cores,
        spawn_rate: d.spawn_rate,
        mem: row.mem,
        pageins: rates.pageins,
        disk_bytes: rates.disk_io,
        blocked: d.d_frac,
        csw: rates.csw.max(rates.wakeups),
        io_waits: rates.wakeups * d.d_frac,
        gpu_ms: rates.gpu_ms,
        members: 1,
    }
}

/// Everything a sampler keeps between passes besides its platform reader.
pub(crate) struct PassState {
    seq: u64,
    scoring: ScoringConfig,
    bands: BandsConfig,
    max_count: usize,
    derive: Derive,
    machine: MachineTracker,
    impact: ImpactScorer,
    epoch: Instant,
    last_pass: Option<Instant>,
}

/// One pass's input from a platform reader.
pub(crate) struct PassInput {
    pub started: Instant,
    pub readings: Vec<ProcessReading>,
    pub machine: MachineCounters,
    pub access_denied: u32,
}

impl PassState {
    pub fn new(config: &Config) -> PassState {
        PassState {
            seq: 0,
            scoring: config.scoring.clone(),
            bands: config.bands.clone(),
            max_count: config.rogue_selection.max_count as usize,
            derive: Derive::new(),
            machine: MachineTracker::new(),
            impact: ImpactScorer::new(
                config.scoring.impact.clone(),
                BandThresholds {
                    tracking: config.bands.tracking_threshold(),
                    forensics: config.bands.forensics_threshold(),
                },
            ),
            epoch: Instant::now(),
            last_pass: None,
        }
    }

    /// Scores the readings of a pass (in enumeration order) and builds the `Sample`: highest
    /// score first, ties in enumeration order.
    pub fn finish(&mut self, input: PassInput) -> Sample {
        let now = Instant::now();
        let now_s = now.duration_since(self.epoch).as_secs_f64();
        let dt = self
            .last_pass
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.last_pass = Some(now);
        self.seq += 1;
        let wall = wall_now();
        let readings = input.readings;
        let rates: Vec<Rates> = readings.iter().map(Rates::of).collect();
        let derived = self.derive.update(&readings, input.machine.forks, dt, wall);
        let mut rows: Vec<ProcessScore> = readings
            .iter()
            .zip(&rates)
            .map(|(r, rt)| row_of(r, rt))
            .collect();
        count_zombie_children(&mut rows);
        let totals = ProcessTotals {
            runnable_ms: rates.iter().map(|r| r.runnable_ms).sum(),
            pageins: rates.iter().map(|r| r.pageins).sum(),
        };
        let machine = self.machine.update(now_s, &input.machine, &totals);
        let mut units = match self.scoring.model {
            ScoringModel::FairShare => self.fair_share(&mut rows),
            ScoringModel::Impact => {
                let usages: Vec<Usage> = rows
                    .iter()
                    .zip(&rates)
                    .zip(&derived)
                    .map(|((row, rt), d)| usage_of(row, rt, d))
                    .collect();
                self.impact_units(now_s, &readings, &usages, &machine, &mut rows)
            }
        };
        // Stable: equal scores keep enumeration order.
        rows.sort_by_key(|p| std::cmp::Reverse(p.score));
        units.sort_by_key(|u| std::cmp::Reverse(u.row.score));
        let max_score = rows.first().map_or(0, |p| p.score);
        Sample {
            seq: self.seq,
            timestamp: wall_now(),
            elapsed_ms: input.started.elapsed().as_secs_f64() * 1000.0,
            process_count: rows.len(),
            max_score,
            rogue_count: self.max_count.min(rows.len()),
            access_denied: input.access_denied,
            processes: rows,
            machine,
            units,
        }
    }

    /// The original's formula; every process at or above the tracking threshold is a unit of
    /// one.
    fn fair_share(&self, rows: &mut [ProcessScore]) -> Vec<Unit> {
        score::score_all(rows, &self.scoring, &self.bands);
        let threshold = self.bands.tracking_threshold();
        let mut units = Vec::new();
        for p in rows.iter_mut() {
            if p.score > 0 {
                p.reason = score::fair_share_reason(p);
            }
            if p.score >= threshold {
                units.push(Unit {
                    key: format!("pid:{}:{}", p.pid, p.start_time),
                    kind: UnitKind::Process,
                    label: String::new(),
                    row: p.clone(),
                    member_pids: vec![p.pid],
                });
            }
        }
        units
    }

    /// Groups processes into units, scores every unit, gives each process row its unit's score,
    /// and returns the units that scored above 0.
    fn impact_units(
        &mut self,
        now_s: f64,
        readings: &[ProcessReading],
        usages: &[Usage],
        machine: &Machine,
        rows: &mut [ProcessScore],
    ) -> Vec<Unit> {
        let infos: Vec<MemberInfo<'_>> = readings
            .iter()
            .map(|r| MemberInfo {
                pid: r.pid,
                pgid: r.pgid,
                start_time: r.start_time,
                command: &r.command,
                kernel_thread: r.kernel_thread,
                cgroup: r.group.as_deref(),
            })
            .collect();
        let groups = units::group(&infos);
        let unit_usage: Vec<Usage> = groups
            .iter()
            .map(|g| {
                let mut u = Usage::default();
                for &m in &g.members {
                    u.add(&usages[m as usize]);
                }
                u
            })
            .collect();
        let mut totals = Totals::of(usages);
        totals.mem_growth = groups
            .iter()
            .zip(&unit_usage)
            .map(|(g, u)| self.impact.growth_rate(g.id, now_s, u.mem))
            .sum();
        let p: &ImpactConfig = &self.scoring.impact;
        let stress = Stress::of(machine, p, &totals);
        for (row, u) in rows.iter_mut().zip(usages) {
            set_shares(row, &impact::process_blame(u, machine, p, &totals));
        }
        self.impact.begin_pass();
        let mut out = Vec::new();
        // `ROGUE_HUNTER_LOG=rogue_hunter::impact=trace` shows what each scoring pass saw.
        let trace = tracing::enabled!(target: "rogue_hunter::impact", tracing::Level::TRACE);
        if trace {
            tracing::trace!(target: "rogue_hunter::impact", ?stress, ?totals, "pass");
        }
        for (g, u) in groups.iter().zip(&unit_usage) {
            let o = self.impact.score(g.id, now_s, u, machine, &stress, &totals);
            if trace && o.raw > 5 {
                tracing::trace!(target: "rogue_hunter::impact", unit = %g.key(&infos), raw = o.raw, score = o.score, usage = ?u, reason = %o.reason);
            }
            let band = self.bands.band_for(o.score);
            let members = u32::try_from(g.members.len()).unwrap_or(u32::MAX);
            let reason = if o.score > 0 { o.reason } else { String::new() };
            for &m in &g.members {
                let row = &mut rows[m as usize];
                row.score = o.score;
                row.band = band;
                row.dominant_resource = o.dominant;
                row.disproportionality = o.blame.get(o.dominant);
                row.members = members;
                row.reason.clone_from(&reason);
            }
            if o.score > 0 {
                let mut row = unit_row(g, rows, o.dominant, u);
                set_shares(&mut row, &o.blame);
                row.disproportionality = o.blame.get(o.dominant);
                row.score = o.score;
                row.band = band;
                row.dominant_resource = o.dominant;
                row.reason = reason;
                row.members = members;
                out.push(Unit {
                    key: g.key(&infos),
                    kind: g.kind,
                    label: g.label(&infos),
                    row,
                    member_pids: g.members.iter().map(|&m| rows[m as usize].pid).collect(),
                });
            }
        }
        self.impact.end_pass();
        out
    }
}

fn set_shares(row: &mut ProcessScore, blame: &PerResource) {
    row.cpu_share = blame.cpu;
    row.gpu_share = blame.gpu;
    row.mem_share = blame.memory;
    row.disk_share = blame.disk;
    row.wakeups_share = blame.wakeups;
}

/// One row for a whole unit: the leader's identity, the command of its leader (for a cgroup:
/// of the member most to blame for the dominant resource), usage summed over its members, with
/// exited children's CPU in `cpu`.
fn unit_row(g: &Group, rows: &[ProcessScore], dominant: Resource, u: &Usage) -> ProcessScore {
    let leader = &rows[g.leader as usize];
    let mut out = leader.clone();
    if g.kind == UnitKind::Cgroup
        && let Some(top) = g.members.iter().map(|&m| &rows[m as usize]).max_by(|a, b| {
            let key = |p: &ProcessScore| match dominant {
                Resource::Cpu => p.cpu,
                Resource::Gpu => p.gpu_time_rate,
                Resource::Memory => p.mem as f64,
                Resource::Disk => p.disk_io_rate,
                Resource::Wakeups => p.wakeups_rate,
            };
            key(a).total_cmp(&key(b))
        })
    {
        out.command.clone_from(&top.command);
    }
    if g.members.len() == 1 && u.child_cores == 0.0 {
        return out;
    }
    let mut sum = ProcessScore::default();
    for &m in &g.members {
        let p = &rows[m as usize];
        sum.cpu += p.cpu;
        sum.mem = sum.mem.saturating_add(p.mem);
        sum.mem_peak = sum.mem_peak.saturating_add(p.mem_peak);
        sum.pageins = sum.pageins.saturating_add(p.pageins);
        sum.pageins_rate += p.pageins_rate;
        sum.faults = sum.faults.saturating_add(p.faults);
        sum.faults_rate += p.faults_rate;
        sum.disk_io = sum.disk_io.saturating_add(p.disk_io);
        sum.disk_io_rate += p.disk_io_rate;
        sum.csw = sum.csw.saturating_add(p.csw);
        sum.csw_rate += p.csw_rate;
        sum.syscalls = sum.syscalls.saturating_add(p.syscalls);
        sum.syscalls_rate += p.syscalls_rate;
        sum.wakeups = sum.wakeups.saturating_add(p.wakeups);
        sum.wakeups_rate += p.wakeups_rate;
        sum.runnable_time = sum.runnable_time.saturating_add(p.runnable_time);
        sum.runnable_time_rate += p.runnable_time_rate;
        sum.gpu_time = sum.gpu_time.saturating_add(p.gpu_time);
        sum.gpu_time_rate += p.gpu_time_rate;
        sum.threads = sum.threads.saturating_add(p.threads);
        sum.zombie_children = sum.zombie_children.saturating_add(p.zombie_children);
    }
    out = ProcessScore {
        pid: out.pid,
        command: out.command,
        captured_at: out.captured_at,
        state: out.state,
        priority: out.priority,
        ppid: out.ppid,
        uid: out.uid,
        start_time: out.start_time,
        ..sum
    };
    out.cpu += u.child_cores * 100.0;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::Counters;

    fn p(pid: u32, ppid: u32, state: ProcState) -> ProcessScore {
        ProcessScore {
            pid,
            ppid,
            state,
            ..Default::default()
        }
    }

    #[test]
    fn zombie_children_are_counted_per_parent() {
        let mut ps = vec![
            p(1, 0, ProcState::Sleeping),
            p(10, 1, ProcState::Sleeping),
            p(11, 10, ProcState::Zombie),
            p(12, 10, ProcState::Zombie),
            p(13, 1, ProcState::Zombie),
            p(14, 10, ProcState::Running),
        ];
        count_zombie_children(&mut ps);
        let counts: Vec<u32> = ps.iter().map(|p| p.zombie_children).collect();
        assert_eq!(counts, vec![1, 2, 0, 0, 0, 0]);
    }

    fn reading(pid: u32, pgid: u32, command: &str, mem: u64) -> ProcessReading {
        ProcessReading {
            pid,
            ppid: 1,
            pgid,
            command: command.into(),
            start_time: 1000.0 + f64::from(pid),
            state: ProcState::Running,
            threads: 1,
            mem,
            ..ProcessReading::default()
        }
    }

    fn input(readings: Vec<ProcessReading>) -> PassInput {
        PassInput {
            started: Instant::now(),
            readings,
            machine: MachineCounters {
                cpus: 2,
                mem_total: 8 << 30,
                mem_available: 6 << 30,
                ..MachineCounters::default()
            },
            access_denied: 2,
        }
    }

    #[test]
    fn fair_share_orders_by_score_keeping_ties_in_enumeration_order() {
        // Memory alone decides: shares 3:1:3:2 among four memory users.
        let mib = 1024 * 1024 * 100;
        let mut c = Config::default();
        c.scoring.model = ScoringModel::FairShare;
        c.scoring.score_multiplier = 10.0;
        c.rogue_selection.max_count = 2;
        let mut st = PassState::new(&c);
        let s = st.finish(input(vec![
            reading(5, 5, "a", 3 * mib),
            reading(6, 6, "b", mib),
            reading(7, 7, "c", 3 * mib),
            reading(8, 8, "d", 2 * mib),
        ]));
        let order: Vec<u32> = s.processes.iter().map(|p| p.pid).collect();
        assert_eq!(order, vec![5, 7, 8, 6]);
        assert_eq!(s.processes[0].score, s.processes[1].score);
        assert!(s.processes[0].score > s.processes[2].score);
        assert_eq!(s.max_score, s.processes[0].score);
        assert_eq!(
            (s.seq, s.process_count, s.rogue_count, s.access_denied),
            (1, 4, 2, 2)
        );
        assert!(s.elapsed_ms >= 0.0 && s.timestamp > 1.6e9);
        assert!(s.processes[0].reason.starts_with("memory: "));
        assert_eq!(s.machine.cpus, 2);
        // Fair-share units: each process at or above the tracking threshold, alone.
        assert!(
            s.units
                .iter()
                .all(|u| u.member_pids.len() == 1 && u.row.score >= 40)
        );
    }

    #[test]
    fn an_empty_pass_has_max_score_zero() {
        let mut st = PassState::new(&Config::default());
        let s = st.finish(input(Vec::new()));
        assert_eq!((s.max_score, s.rogue_count, s.process_count), (0, 0, 0));
        assert!(s.units.is_empty());
    }

    #[test]
    fn impact_rows_carry_their_units_score_and_units_sum_their_members() {
        let mut c = Config::default();
        c.scoring.impact.persistence_s = 0.0;
        c.scoring.impact.forensics_hold_s = 0.0;
        let mut st = PassState::new(&c);
        let worker = |pid: u32, cpu_s: u64| {
            let mut r = reading(pid, 200, "worker", 1 << 20);
            r.now = Counters {
                cpu_ns: cpu_s * 1_000_000_000,
                ..Counters::default()
            };
            r
        };
        let mut first = vec![reading(100, 100, "bash", 1 << 20)];
        first.extend((201..=204).map(|p| worker(p, 0)));
        let mut m = input(first);
        m.machine.cpu_busy_ns = Some(0);
        m.machine.cpu_total_ns = Some(0);
        st.finish(m);
        // One second later (as far as the counters say): each worker used half a core.
        let mut second = vec![reading(100, 100, "bash", 1 << 20)];
        second.extend((201..=204).map(|p| {
            let mut w = worker(p, 0);
            w.prev = Some((Counters::default(), 1.0));
            w.now.cpu_ns = 500_000_000;
            w
        }));
        let mut m = input(second);
        m.machine.cpu_busy_ns = Some(2_000_000_000);
        m.machine.cpu_total_ns = Some(2_000_000_000);
        let s = st.finish(m);
        let unit = s
            .units
            .iter()
            .find(|u| u.key == "pgrp:200:worker")
            .expect("the workers' unit");
        assert_eq!(unit.member_pids, vec![201, 202, 203, 204]);
        assert_eq!(unit.row.members, 4);
        assert!((unit.row.cpu - 200.0).abs() < 1e-6, "{}", unit.row.cpu);
        assert_eq!(unit.row.mem, 4 << 20);
        assert_eq!(unit.row.dominant_resource, Resource::Cpu);
        assert!(
            unit.row.reason.starts_with("cpu: 2.0 of 2 cores"),
            "{}",
            unit.row.reason
        );
        for w in s.processes.iter().filter(|p| p.command == "worker") {
            assert_eq!((w.score, w.members), (unit.row.score, 4));
            assert!((w.cpu_share - 0.25).abs() < 1e-9, "a worker's own blame");
        }
        let bash = s.processes.iter().find(|p| p.pid == 100).unwrap();
        assert_eq!((bash.score, bash.members), (0, 1));
        assert_eq!(bash.reason, "");
    }
}
