//! The live dashboard (`rogue-hunter tui`).
//!
//! Layers, each depending only on those above it: pure widgets and formats (`format`, `gauge`,
//! `gradient`, `sparkline`, `style`); the state ([`app`]); rendering ([`view`]); the I/O around
//! them ([`connection`] to the daemon, [`history`] from the database, [`run`] for the terminal
//! and the event loop).

pub mod app;
pub mod connection;
pub mod format;
pub mod gauge;
pub mod gradient;
pub mod history;
pub mod run;
pub mod sparkline;
pub mod style;
#[cfg(test)]
pub(crate) mod testing;
pub mod view;

pub use run::{Options, TuiError, run};
