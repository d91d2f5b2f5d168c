//! rogue-hunter: samples every process several times a second, scores each by its
//! disproportionate share of CPU, GPU, memory, disk I/O and wakeups, tracks rogue processes as
//! events and keeps forensic evidence in one SQLite database.
//!
//! The crate is laid out as DESIGN.md §2 describes; dependencies point downwards from `cli`
//! through the daemon parts to the pure modules (`model`, `config`).

pub mod account;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod escape;
pub mod export;
pub mod forensics;
#[doc(hidden)]
pub mod fuzzing;
pub mod ipc;
pub mod logging;
pub mod model;
pub mod paths;
pub mod privileges;
pub mod ring;
pub mod sampler;
pub mod score;
pub mod service;
pub mod store;
pub mod sys;
pub mod tracker;
pub mod tui;
