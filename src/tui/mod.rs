//! The live dashboard (`rogue-hunter tui`): widgets and formats; the app arrives with the TUI issue.

pub mod format;
pub mod gauge;
pub mod gradient;
pub mod sparkline;
pub mod style;
