//! The evidence that databases of some versions do not hold, each behind one function, so the
//! report and the dashboard render it from a single place, and say "not recorded" where an
//! older database has nothing:
//!
//! | slot | read from | shown as |
//! |---|---|---|
//! | [`unit`] | `process_events` `unit_label`, `members` (schema 22) | "Culprit: … ×4 (unit …)" |
//! | [`reason`] | the event's `reason`, else the peak snapshot's (schema 22) | the summary's "Why" line |
//! | [`pressure`] | the machine's state in `buffer_samples` (schema 22) | the pressure chart; replay's pressure line |
//! | [`flame_graph`] | [`crate::flamegraph::svg_element`] of [`flame_tree`] | the capture's flame graph |

use crate::flamegraph;
use crate::forensics::flame_tree::flame_tree;
use crate::machine::PressureSource;
use crate::store::capture_data::CaptureData;
use crate::store::queries::{BufferSampleRow, EventRow, SnapshotRow};
use serde::Serialize;

/// The flame graph's drawing width; the page scales it to the column (`max-width: 100%`).
const FLAME_WIDTH: u32 = 1100;

/// The culprit as a group of processes (a service, a `make -j`'s compilers), or a process alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitSummary {
    /// `nginx.service`, `process group 812`; empty for a single process.
    pub label: String,
    /// Processes in the unit (the most seen at a peak); 1 for a process alone.
    pub members: u32,
}

/// How much the machine stalled at one moment: the share of time tasks waited for each
/// resource, percent (PSI "some", or an estimate where the kernel has no PSI).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pressure {
    pub cpu: f64,
    pub memory: f64,
    pub io: f64,
    /// Estimated (no PSI on that machine) rather than measured.
    pub estimated: bool,
}

/// The event's culprit unit, when the database records one (None for events written before
/// units existed).
pub fn unit(event: &EventRow) -> Option<UnitSummary> {
    let members = event.members.filter(|&m| m > 0)?;
    Some(UnitSummary {
        label: event.unit_label.clone().unwrap_or_default(),
        members,
    })
}

/// The one-line reason of the event's peak score: the event's own, else its peak snapshot's;
/// None when neither was recorded.
pub fn reason(event: &EventRow, peak: Option<&SnapshotRow>) -> Option<String> {
    let nonempty = |s: &str| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_string())
    };
    event
        .reason
        .as_deref()
        .and_then(nonempty)
        .or_else(|| peak.and_then(|p| nonempty(&p.process.reason)))
}

/// The machine's pressure at one stored buffer sample. Samples stored before the machine's
/// state was (schema < 22) read as a machine of 0 CPUs: not recorded.
pub fn pressure(sample: &BufferSampleRow) -> Option<Pressure> {
    let m = &sample.machine;
    (m.cpus > 0).then_some(Pressure {
        cpu: m.pressure_cpu,
        memory: m.pressure_memory,
        io: m.pressure_io,
        estimated: m.pressure_source == PressureSource::Estimate,
    })
}

/// A capture's stacks as an inline `<svg>` flame graph (`id_prefix` keeps the ids of several
/// graphs on one page apart), when there is a flame-graph renderer for them.
pub fn flame_graph(stacks: &CaptureData, id_prefix: &str) -> Option<String> {
    let tree = flame_tree(stacks);
    if tree.total() == 0 {
        return None;
    }
    let opts = flamegraph::Options {
        title: "Stacks".into(),
        subtitle: stacks
            .header
            .as_ref()
            .and_then(|h| h.data_source.clone())
            .map(|s| format!("stacks from {s}")),
        width: FLAME_WIDTH,
        ..flamegraph::Options::default()
    };
    Some(flamegraph::svg_element(&tree, &opts, id_prefix))
}
