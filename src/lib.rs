//! rogue-hunter: samples every process several times a second, scores each culprit by how much
//! it hurts the machine (CPU, GPU, memory, disk I/O and wakeups), tracks rogue processes as
//! events and keeps forensic evidence in one SQLite database.
//!
//! ARCHITECTURE.md (at the repository root) maps the modules, the daemon's threads and channels,
//! the data's path and the invariants the tests hold; dependencies point downwards from `cli`
//! through the daemon parts to the pure modules (`model`, `config`). "The original", in docs
//! throughout, is the Python rogue-hunter this crate re-implements: its schema v20, field names
//! and formulas are kept.

pub mod account;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod escape;
pub mod export;
pub mod flamegraph;
pub mod forensics;
#[doc(hidden)]
pub mod fuzzing;
pub mod impact;
pub mod ipc;
pub mod logging;
pub mod machine;
pub mod model;
pub mod paths;
pub mod privileges;
pub mod procfs;
pub mod reading;
pub mod report;
pub mod ring;
pub mod sampler;
pub mod score;
pub mod service;
pub mod store;
pub mod sync;
pub mod sys;
pub mod tracker;
pub mod tui;
pub mod units;
