//! Storage: one SQLite database (schema v21) that the daemon writes through a single writer
//! thread and that the CLI, the TUI and any SQL tool read.
//!
//! - [`connection`]: open for writing (create or migrate; refuse anything else untouched) or
//!   for reading (`query_only`).
//! - [`schema`] and [`migrate`]: the v21 tables and the numbered forward migrations.
//! - [`startup`]: next ids, closing events a crash left open, `daemon_state`.
//! - [`records`] and [`capture_data`]: plain data of what gets written.
//! - [`writer`]: the writer thread, its two queues and counters (plus a checkpoint thread
//!   that keeps WAL checkpoints off the writer's path); `write.rs` holds the SQL it runs.
//! - [`columns`], [`process_columns`], [`capture_columns`]: each stored struct's columns, by
//!   name, declared once.
//! - [`queries`]: read-only queries returning typed, `Serialize` structs (text another version
//!   stored reads back as it is).
//! - [`prune`]: retention by cascade, in short batches.
//!
//! Daemon start-up, in order: [`open_writer`] → [`startup::last_sample_time`] and
//! [`startup::close_open_events`] → [`startup::next_ids`] → [`Writer::spawn`] → (optionally) a
//! prune through [`WriterHandle::prune`].

pub mod capture_columns;
pub mod capture_data;
mod checkpoint;
pub mod columns;
pub mod connection;
mod error;
pub mod machine_columns;
pub mod migrate;
pub mod process_columns;
pub mod prune;
pub mod queries;
pub mod records;
pub mod schema;
pub mod startup;
pub mod time;
mod write;
pub mod writer;

pub use capture_data::CaptureData;
pub use connection::{OpenReport, open_reader, open_writer};
pub use error::{Result, StoreError};
pub use prune::{PruneCounts, PrunePolicy};
pub use records::{
    BufferCapture, CapturePart, Culprit, EventUnit, ExitReason, LogCapture, LogEntry,
    MachineSnapshot, NewCapture, NewEvent, NewSnapshot, Op, PartOutcome, PartStatus, SnapshotType,
    StackCapture,
};
pub use schema::SCHEMA_VERSION;
pub use startup::NextIds;
pub use writer::{BulkOutcome, BulkWrite, Writer, WriterConfig, WriterHandle, WriterStats};
