//! A capture's ring buffer reduced to what its charts can show (see the module documentation
//! of [`super`] for the rules): the top processes' CPU and memory as stacked layers over time,
//! the rest summed as "other", the machine's pressure where it is stored, and a table of the
//! processes that stood out. Pure.

use super::slots::{self, Pressure};
use crate::model::ProcessKey;
use crate::store::queries::{BufferProcessRow, BufferSampleRow};
use serde::Serialize;
use std::collections::HashMap;

/// Processes drawn as layers of their own in a stacked chart (the rest is "other").
pub const TOP_SERIES: usize = 7;
/// Points in time a chart keeps; more samples are averaged in equal buckets.
pub const MAX_POINTS: usize = 300;
/// Rows of the "stood out" table.
pub const TOP_TABLE: usize = 12;

/// One layer of a stacked chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    /// `command (pid)`, or `other (N processes)`.
    pub label: String,
    /// None for "other".
    pub pid: Option<u32>,
    /// The event's own process.
    pub culprit: bool,
    /// One value per point.
    pub values: Vec<f64>,
}

/// The machine's pressure at each point, percent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PressureSeries {
    pub cpu: Vec<f64>,
    pub memory: Vec<f64>,
    pub io: Vec<f64>,
    /// Some point was estimated (no PSI on that machine).
    pub estimated: bool,
}

/// A process that stood out in the buffer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessSummary {
    pub pid: u32,
    pub command: String,
    pub culprit: bool,
    pub max_score: u8,
    /// Mean over the samples it was in, % of one core.
    pub mean_cpu: f64,
    pub max_cpu: f64,
    pub max_mem: u64,
    pub max_disk_rate: f64,
    pub max_wakeups_rate: f64,
    /// Samples it was in.
    pub samples: usize,
}

/// Everything the charts of one capture draw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureCharts {
    /// Seconds relative to the trigger, one per point.
    pub t: Vec<f64>,
    /// CPU in cores, bottom layer first (the culprit, then the biggest, "other" last).
    pub cpu: Vec<Layer>,
    /// Memory in bytes, in the same order of rule.
    pub mem: Vec<Layer>,
    /// None when no sample holds the machine's state.
    pub pressure: Option<PressureSeries>,
    /// Stored samples and process rows.
    pub samples: usize,
    pub rows: usize,
    /// Samples averaged into one point (1: none).
    pub per_point: usize,
    pub top: Vec<ProcessSummary>,
}

/// Who the event is about: its pid, and its start time where the event records one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CulpritId {
    pub pid: u32,
    pub start_time: Option<f64>,
}

impl CulpritId {
    fn is(&self, pid: u32, start_time: f64) -> bool {
        self.pid == pid
            && self
                .start_time
                .is_none_or(|s| (s - start_time).abs() < 1e-3)
    }
}

#[derive(Default)]
struct Totals {
    command: String,
    pid: u32,
    culprit: bool,
    cpu_sum: f64,
    cpu_max: f64,
    mem_sum: f64,
    mem_max: u64,
    disk_max: f64,
    wake_max: f64,
    score_max: u8,
    seen: usize,
}

/// Builds the charts of a capture whose buffer holds `samples` (oldest first) and `rows` (in
/// sample order); `trigger_at` is the capture's time (epoch seconds).
pub fn build(
    samples: &[BufferSampleRow],
    rows: &[BufferProcessRow],
    trigger_at: f64,
    culprit: CulpritId,
) -> CaptureCharts {
    let position: HashMap<i64, usize> =
        samples.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let mut keys: HashMap<ProcessKey, usize> = HashMap::new();
    let mut totals: Vec<Totals> = Vec::new();
    // (sample position, process index, cpu cores, memory bytes)
    let mut cells: Vec<(usize, usize, f64, f64)> = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(&at) = position.get(&r.sample_id) else {
            continue;
        };
        let p = &r.process;
        let idx = *keys.entry(p.key()).or_insert_with(|| {
            totals.push(Totals {
                command: p.command.clone(),
                pid: p.pid,
                culprit: culprit.is(p.pid, p.start_time),
                ..Totals::default()
            });
            totals.len() - 1
        });
        let t = &mut totals[idx];
        let cpu = finite(p.cpu).max(0.0);
        t.cpu_sum += cpu;
        t.cpu_max = t.cpu_max.max(cpu);
        t.mem_sum += p.mem as f64;
        t.mem_max = t.mem_max.max(p.mem);
        t.disk_max = t.disk_max.max(finite(p.disk_io_rate));
        t.wake_max = t.wake_max.max(finite(p.wakeups_rate));
        t.score_max = t.score_max.max(p.score);
        t.seen += 1;
        cells.push((at, idx, cpu / 100.0, p.mem as f64));
    }
    let n = samples.len();
    let cpu = layers(&totals, &cells, n, |t| t.cpu_sum, |c| c.2);
    let mem = layers(&totals, &cells, n, |t| t.mem_sum, |c| c.3);
    let times: Vec<f64> = samples.iter().map(|s| s.captured_at - trigger_at).collect();
    let pressure = pressure_series(samples);

    let per_point = n.div_ceil(MAX_POINTS).max(1);
    let bucket = |v: &[f64]| bucket_means(v, per_point);
    CaptureCharts {
        t: bucket(&times),
        cpu: cpu
            .into_iter()
            .map(|l| Layer {
                values: bucket(&l.values),
                ..l
            })
            .collect(),
        mem: mem
            .into_iter()
            .map(|l| Layer {
                values: bucket(&l.values),
                ..l
            })
            .collect(),
        pressure: pressure.map(|p| PressureSeries {
            cpu: bucket(&p.cpu),
            memory: bucket(&p.memory),
            io: bucket(&p.io),
            estimated: p.estimated,
        }),
        samples: n,
        rows: cells.len(),
        per_point,
        top: stood_out(&totals),
    }
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// The top processes by `weight` (the culprit always among them) as layers, then "other".
fn layers(
    totals: &[Totals],
    cells: &[(usize, usize, f64, f64)],
    n: usize,
    weight: impl Fn(&Totals) -> f64,
    value: impl Fn(&(usize, usize, f64, f64)) -> f64,
) -> Vec<Layer> {
    let mut order: Vec<usize> = (0..totals.len()).collect();
    order.sort_by(|&a, &b| {
        weight(&totals[b])
            .total_cmp(&weight(&totals[a]))
            .then(totals[a].pid.cmp(&totals[b].pid))
    });
    let mut chosen: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| weight(&totals[i]) > 0.0 || totals[i].culprit)
        .take(TOP_SERIES)
        .collect();
    if let Some(c) = totals.iter().position(|t| t.culprit)
        && !chosen.contains(&c)
    {
        if chosen.len() == TOP_SERIES {
            chosen.pop();
        }
        chosen.push(c);
    }
    // The culprit at the bottom of the stack, where its shape is easiest to read.
    chosen.sort_by_key(|&i| !totals[i].culprit);
    let slot: HashMap<usize, usize> = chosen.iter().enumerate().map(|(s, &i)| (i, s)).collect();
    let mut values = vec![vec![0.0; n]; chosen.len() + 1];
    let mut others = std::collections::HashSet::new();
    for c in cells {
        let v = value(c);
        match slot.get(&c.1) {
            Some(&s) => values[s][c.0] += v,
            None => {
                values[chosen.len()][c.0] += v;
                others.insert(c.1);
            }
        }
    }
    let mut out: Vec<Layer> = chosen
        .iter()
        .zip(values.iter())
        .map(|(&i, v)| Layer {
            label: format!("{} ({})", totals[i].command, totals[i].pid),
            pid: Some(totals[i].pid),
            culprit: totals[i].culprit,
            values: v.clone(),
        })
        .collect();
    if !others.is_empty() {
        out.push(Layer {
            label: format!(
                "other ({} process{})",
                others.len(),
                if others.len() == 1 { "" } else { "es" }
            ),
            pid: None,
            culprit: false,
            values: values.pop().unwrap_or_default(),
        });
    }
    out
}

fn pressure_series(samples: &[BufferSampleRow]) -> Option<PressureSeries> {
    let readings: Vec<Option<Pressure>> = samples.iter().map(slots::pressure).collect();
    if readings.iter().all(Option::is_none) {
        return None;
    }
    let get = |f: fn(&Pressure) -> f64| -> Vec<f64> {
        readings.iter().map(|p| p.as_ref().map_or(0.0, f)).collect()
    };
    Some(PressureSeries {
        cpu: get(|p| p.cpu),
        memory: get(|p| p.memory),
        io: get(|p| p.io),
        estimated: readings.iter().flatten().any(|p| p.estimated),
    })
}

/// Means of consecutive runs of `per` values (the last run may be shorter).
pub fn bucket_means(values: &[f64], per: usize) -> Vec<f64> {
    if per <= 1 {
        return values.to_vec();
    }
    values
        .chunks(per)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

/// The processes that stood out: highest score first, then the most CPU.
fn stood_out(totals: &[Totals]) -> Vec<ProcessSummary> {
    let mut list: Vec<ProcessSummary> = totals
        .iter()
        .map(|t| ProcessSummary {
            pid: t.pid,
            command: t.command.clone(),
            culprit: t.culprit,
            max_score: t.score_max,
            mean_cpu: t.cpu_sum / t.seen.max(1) as f64,
            max_cpu: t.cpu_max,
            max_mem: t.mem_max,
            max_disk_rate: t.disk_max,
            max_wakeups_rate: t.wake_max,
            samples: t.seen,
        })
        .collect();
    list.sort_by(|a, b| {
        b.max_score
            .cmp(&a.max_score)
            .then(b.mean_cpu.total_cmp(&a.mean_cpu))
            .then(a.pid.cmp(&b.pid))
    });
    list.truncate(TOP_TABLE);
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProcessScore;

    fn sample(i: i64, t: f64) -> BufferSampleRow {
        BufferSampleRow {
            id: 100 + i,
            sample_index: i,
            seq: Some(i),
            timestamp: String::new(),
            captured_at: t,
            elapsed_ms: 1.0,
            process_count: 0,
            max_score: 0,
            machine: Default::default(),
        }
    }

    fn row(sample: i64, pid: u32, cpu: f64, mem: u64, score: u8) -> BufferProcessRow {
        BufferProcessRow {
            sample_id: 100 + sample,
            sample_index: sample,
            process: ProcessScore {
                pid,
                command: format!("p{pid}"),
                cpu,
                mem,
                score,
                start_time: 1000.0 + f64::from(pid),
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_top_processes_are_layers_and_the_rest_is_summed_as_other() {
        let samples: Vec<_> = (0..3).map(|i| sample(i, 100.0 + i as f64)).collect();
        let mut rows = Vec::new();
        for s in 0..3 {
            // pid 1 is the culprit with little CPU; pids 10.. are busy.
            rows.push(row(s, 1, 5.0, 1 << 20, 90));
            for pid in 10..20u32 {
                rows.push(row(s, pid, f64::from(pid) * 10.0, 1 << 10, 10));
            }
        }
        let culprit = CulpritId {
            pid: 1,
            start_time: Some(1001.0),
        };
        let c = build(&samples, &rows, 102.0, culprit);
        assert_eq!(c.t, [-2.0, -1.0, 0.0]);
        assert_eq!((c.samples, c.rows, c.per_point), (3, 33, 1));
        assert_eq!(c.cpu.len(), TOP_SERIES + 1);
        assert!(c.cpu[0].culprit, "the culprit at the bottom");
        assert_eq!(c.cpu[0].label, "p1 (1)");
        assert_eq!(c.cpu[1].pid, Some(19), "then the busiest");
        let other = c.cpu.last().unwrap();
        assert_eq!(other.label, "other (4 processes)");
        // Pids 10..=13 are left over: 100+110+120+130 % = 4.6 cores.
        assert!((other.values[0] - 4.6).abs() < 1e-9, "{:?}", other.values);
        // The stack's height is the machine's total in every sample.
        let total: f64 = c.cpu.iter().map(|l| l.values[1]).sum();
        assert!((total - (0.05 + 14.5)).abs() < 1e-9, "{total}");
        assert!(
            c.pressure.is_none(),
            "samples without the machine's state (before schema 22)"
        );
        // With it: PSI where the kernel has it, and an estimate marked as such.
        let mut with = samples.clone();
        for (i, s) in with.iter_mut().enumerate() {
            s.machine.cpus = 4;
            s.machine.pressure_cpu = 10.0 * i as f64;
            s.machine.pressure_io = 2.5;
        }
        let p = build(&with, &rows, 102.0, culprit)
            .pressure
            .expect("recorded");
        assert_eq!(
            (p.cpu.clone(), p.io[2], p.estimated),
            (vec![0.0, 10.0, 20.0], 2.5, false)
        );
        with[1].machine.pressure_source = crate::machine::PressureSource::Estimate;
        let p = build(&with, &rows, 102.0, culprit)
            .pressure
            .expect("recorded");
        assert!(p.estimated);
        assert_eq!(c.top[0].pid, 1);
        assert_eq!(c.top[0].max_score, 90);
        assert!(c.top[0].culprit);
    }

    #[test]
    fn long_buffers_are_averaged_into_at_most_max_points() {
        let n = MAX_POINTS * 3 + 1;
        let samples: Vec<_> = (0..n as i64).map(|i| sample(i, i as f64)).collect();
        let rows: Vec<_> = (0..n as i64)
            .map(|i| row(i, 7, if i % 2 == 0 { 100.0 } else { 300.0 }, 0, 1))
            .collect();
        let c = build(
            &samples,
            &rows,
            0.0,
            CulpritId {
                pid: 7,
                start_time: None,
            },
        );
        assert_eq!(c.per_point, 4);
        assert!(c.t.len() <= MAX_POINTS, "{}", c.t.len());
        // Each bucket of four alternating samples averages 2 cores: the area is kept.
        assert!((c.cpu[0].values[0] - 2.0).abs() < 1e-9);
        assert_eq!(c.cpu.len(), 1, "no other processes, no other layer");
        assert_eq!(bucket_means(&[1.0, 2.0, 3.0], 2), [1.5, 3.0]);
    }

    #[test]
    fn an_empty_buffer_has_empty_charts() {
        let c = build(
            &[],
            &[],
            0.0,
            CulpritId {
                pid: 1,
                start_time: None,
            },
        );
        assert!(c.t.is_empty() && c.cpu.is_empty() && c.top.is_empty());
    }
}
