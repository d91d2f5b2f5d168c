//! Integration tests: the real `rogue-hunter` binary with temporary XDG directories.

mod blocking_writer;
mod cli_daemon;
mod cli_snapshots;
mod common;
mod config_cli;
mod daemon;
mod daemon_fixture;
mod evidence_fixture;
mod export;
mod forensics;
mod hardening;
mod helper;
mod honesty;
mod html;
mod impact;
mod ipc;
mod perms;
mod profile;
mod report;
mod report_browser;
mod sampler;
mod service;
mod socket;
mod storage_faults;
mod store;
mod tui;
