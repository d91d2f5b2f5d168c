//! Integration tests: the real `rogue-hunter` binary with temporary XDG directories.

mod common;
mod config_cli;
mod daemon;
mod daemon_fixture;
mod export;
mod helper;
mod ipc;
mod perms;
mod sampler;
mod service;
mod store;
mod tui;
