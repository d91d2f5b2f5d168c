//! Integration tests: the real `rogue-hunter` binary with temporary XDG directories.

mod common;
mod config_cli;
mod helper;
mod sampler;
