//! The evidence this version's database does not hold yet, each behind one function, so the
//! report and the dashboard render it from a single place once it is stored:
//!
//! | slot | filled by | shown as |
//! |---|---|---|
//! | [`unit`] | the impact-scoring work: `process_events` unit label and member count | "Culprit: … ×4 (unit …)" |
//! | [`reason`] | the impact-scoring work: the reason stored with every score | the summary's "Why" line |
//! | [`pressure`] | the impact-scoring work: the machine's state in `buffer_samples` | the pressure chart; replay's pressure line |
//! | [`flame_graph`] | filled: [`crate::flamegraph::svg_element`] of [`flame_tree`] | the capture's flame graph |
//!
//! Until then each returns `None`, which is also the right answer for a database written before
//! the data existed, and the callers say "not recorded".

use crate::flamegraph;
use crate::forensics::flame_tree::flame_tree;
use crate::store::capture_data::CaptureData;
use crate::store::queries::{BufferSampleRow, EventRow, SnapshotRow};
use serde::Serialize;

/// The flame graph's drawing width; the page scales it to the column (`max-width: 100%`).
const FLAME_WIDTH: u32 = 1100;

/// The culprit as a group of processes (a service, a `make -j`'s compilers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitSummary {
    /// `nginx.service`, `process group 812`.
    pub label: String,
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

/// The event's culprit unit, when the database records one.
pub fn unit(_event: &EventRow) -> Option<UnitSummary> {
    None
}

/// The one-line reason of the event's peak score, when the database records one.
pub fn reason(_event: &EventRow, _peak: Option<&SnapshotRow>) -> Option<String> {
    None
}

/// The machine's pressure at one stored buffer sample, when the database records it.
pub fn pressure(_sample: &BufferSampleRow) -> Option<Pressure> {
    None
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
