//! `rogue-hunter report` on an event whose capture holds a 90 × 500 ring buffer (45,000
//! process rows), 90 snapshots, a stack tree and 40 log lines (`tests/integration/
//! evidence_fixture.rs`, written through the store's writer). Timed as a whole process, as a
//! user runs it (start-up, reading, downsampling, rendering, writing the file); the page's size
//! is printed. Goal: under 1 s, and a file of at most a few MB.
//!
//! Run: `cargo bench --bench report`. With `ROGUE_HUNTER_SAMPLE_REPORT=DIR` it also writes the
//! fixture's reports there (`event-1.html` …), for looking at them. (The screenshots in `docs/`
//! come from the browser test: `RH_REPORT_SCREENSHOTS=docs cargo test --test integration
//! report_browser`.)

#[path = "../tests/integration/blocking_writer.rs"]
mod blocking_writer;
#[path = "../tests/integration/evidence_fixture.rs"]
mod evidence_fixture;

use criterion::{Criterion, SamplingMode};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rogue-hunter");

fn report(dir: &Path, id: i64, out: &Path) {
    let status = Command::new(BIN)
        .args(["report", &id.to_string(), "-o"])
        .arg(out)
        .env_remove("ROGUE_HUNTER_CONFIG")
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("run rogue-hunter report");
    assert!(status.success());
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir_all(dir.path().join("run")).expect("the runtime directory");
    evidence_fixture::build(&dir.path().join("data/rogue-hunter/data.db"));
    let page = dir.path().join("event-1.html");
    report(dir.path(), evidence_fixture::FULL, &page);
    let size = std::fs::metadata(&page).map(|m| m.len()).unwrap_or(0);
    println!(
        "report of event 1: {size} bytes ({:.1} KiB)",
        size as f64 / 1024.0
    );
    if let Some(samples) = std::env::var_os("ROGUE_HUNTER_SAMPLE_REPORT") {
        let samples = Path::new(&samples);
        std::fs::create_dir_all(samples).expect("the sample directory");
        for id in 1..=4 {
            report(dir.path(), id, &samples.join(format!("event-{id}.html")));
        }
    }

    let mut c = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let mut g = c.benchmark_group("report");
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("report_45000_rows", |b| {
        b.iter(|| report(dir.path(), evidence_fixture::FULL, &page))
    });
    g.finish();
    c.final_summary();
}
