//! `rogue-hunter report`: the real binary on a database written through the store's writer
//! (see `evidence_fixture`), and on a real daemon's database while it writes.

use crate::common::TestEnv;
use crate::evidence_fixture::{
    self as fx, CULPRIT, CULPRIT_PID, FAILED_BUFFER, FULL, IN_PROGRESS, NO_CAPTURE,
};
use crate::html::Page;
use std::path::PathBuf;

/// An environment whose database holds the fixture's events.
fn env_with_evidence() -> TestEnv {
    let env = TestEnv::new();
    fx::build(&db_path(&env));
    env
}

fn db_path(env: &TestEnv) -> PathBuf {
    env.root().join("data/rogue-hunter/data.db")
}

/// Runs `report ID -o FILE` and returns the page.
fn report(env: &TestEnv, id: i64) -> (String, String) {
    let file = env.root().join(format!("event-{id}.html"));
    let out = env
        .cmd()
        .args(["report", &id.to_string(), "-o"])
        .arg(&file)
        .env("TZ", "UTC")
        .output()
        .expect("run report");
    assert!(
        out.status.success(),
        "report {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(&file).expect("the page was written"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn parse(html: &str) -> Page {
    let page = Page::parse(html);
    assert!(page.errors.is_empty(), "parse errors: {:?}", page.errors);
    page
}

/// The JSON behind a chart.
fn chart_data(chart: &crate::html::Element) -> serde_json::Value {
    let script = chart
        .descendants()
        .into_iter()
        .find(|e| e.name == "script" && e.has_class("chart-data"))
        .expect("chart data");
    serde_json::from_str(&script.text()).expect("chart data is JSON")
}

#[test]
fn a_report_of_a_45000_row_capture_parses_and_shows_the_evidence() {
    let env = env_with_evidence();
    let (html, said) = report(&env, FULL);
    assert!(
        said.contains(&format!("event #{FULL} {CULPRIT} (pid {CULPRIT_PID})"))
            && said.contains("capture #1: 45000 buffer rows"),
        "{said}"
    );
    assert!(html.len() < 3 << 20, "{} bytes", html.len());
    let page = parse(&html);
    let text = page.text();
    assert!(text.contains(CULPRIT));
    // The unit, its members at the peak and the reason line.
    let summary = page.by_id("summary").expect("the summary").text();
    assert!(summary.contains(&format!("{CULPRIT} ×4")), "{summary}");
    assert!(
        summary.contains(&format!("{} · 4 members", fx::UNIT_LABEL)),
        "{summary}"
    );
    assert!(summary.contains(fx::REASON), "{summary}");
    for k in 1..=4 {
        assert!(
            summary.contains(&format!("{} {CULPRIT}", CULPRIT_PID + k)),
            "{summary}"
        );
    }
    // Self-contained: nothing is fetched from anywhere.
    for e in page.elements() {
        for attr in ["src", "href"] {
            if let Some(v) = e.attr(attr) {
                assert!(v.starts_with('#'), "<{} {attr}={v}>", e.name);
            }
        }
        assert_ne!(e.name, "link", "no external style sheets");
    }
    // The only URL is the SVG namespace's name, which is never fetched.
    let unnamespaced = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!unnamespaced.contains("http://") && !unnamespaced.contains("https://"));

    // The timeline: the score with the band thresholds and the capture marked, and the four
    // resources.
    let timeline = page.by_id("timeline").expect("timeline section");
    let charts: Vec<_> = timeline
        .descendants()
        .into_iter()
        .filter(|e| e.name == "figure" && e.has_class("chart"))
        .collect();
    assert_eq!(charts.len(), 5);
    let score = &charts[0];
    assert!(score.text().contains("critical 70"), "{}", score.text());
    assert!(score.text().contains("capture #1"));
    let data = chart_data(score);
    assert_eq!(
        data["x"].as_array().unwrap().len(),
        90,
        "one point per snapshot"
    );
    assert_eq!(data["series"][0]["values"][75], 92.0, "the peak");

    // One section per capture, each with its charts; the big one stacks the top processes.
    let capture = page.by_id("capture-1").expect("the capture's section");
    let charts: Vec<_> = capture
        .descendants()
        .into_iter()
        .filter(|e| e.name == "figure" && e.has_class("chart"))
        .collect();
    assert_eq!(charts.len(), 3, "CPU, memory and the machine's pressure");
    let cpu = chart_data(&charts[0]);
    let series = cpu["series"].as_array().unwrap();
    assert_eq!(series.len(), 8, "7 processes and other");
    assert_eq!(series[0]["label"], format!("{CULPRIT} ({CULPRIT_PID})"));
    assert_eq!(series[0]["class"], "culprit");
    assert_eq!(series[7]["label"], "other (493 processes)");
    assert_eq!(cpu["x"].as_array().unwrap().len(), fx::SAMPLES);
    assert!(
        cpu["x"][89].as_f64().unwrap().abs() < 1e-6,
        "the last sample is the trigger"
    );
    // The culprit at the trigger: 40 + 355 × 0.8² % of a core.
    let last = series[0]["values"][89].as_f64().unwrap();
    assert!((last - 2.672).abs() < 1e-6, "{last}");
    let paths = charts[0]
        .descendants()
        .into_iter()
        .filter(|e| e.name == "path" && e.has_class("area"))
        .count();
    assert_eq!(paths, 8, "one area per layer");
    let ctext = capture.text();
    assert!(
        ctext.contains("90 samples over 29.7 s, 45000 process rows"),
        "{ctext}"
    );
    // The machine's pressure beneath, from the stored state of every sample.
    let pressure = chart_data(&charts[2]);
    let lines = pressure["series"].as_array().unwrap();
    let labels: Vec<&str> = lines.iter().filter_map(|l| l["label"].as_str()).collect();
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert!(
        labels[0].contains("cpu") && labels[1].contains("memory") && labels[2].contains("io"),
        "{labels:?}"
    );
    let cpu_p = lines[0]["values"].as_array().unwrap();
    assert!((cpu_p[0].as_f64().unwrap() - 5.0).abs() < 1e-6);
    assert!((cpu_p[89].as_f64().unwrap() - 65.0).abs() < 1e-6);
    assert!(charts[2].text().contains("PSI"), "{}", charts[2].text());
    assert!(!ctext.contains("Machine pressure: not recorded"));
    // The flame graph: one inline SVG whose frames are the stored stacks, with ids of its own.
    let flames: Vec<_> = capture
        .descendants()
        .into_iter()
        .filter(|e| e.name == "figure" && e.has_class("flame"))
        .collect();
    assert_eq!(flames.len(), 1, "one flame graph per capture with stacks");
    let svg = flames[0]
        .descendants()
        .into_iter()
        .find(|e| e.name == "svg")
        .expect("the flame graph is inline SVG");
    assert_eq!(svg.attr("id"), Some("fg1root"));
    assert!(svg.text().contains("matrix_mul_inner"), "{}", svg.text());
    // Hottest paths, threads with states, and log lines with levels.
    assert!(ctext.contains("matrix_mul_inner ← stress_cpu_matrix_prod ← stress_cpu_worker"));
    assert!(ctext.contains("do_wait") && ctext.contains("wait4"));
    let threads = capture
        .descendants()
        .into_iter()
        .filter(|e| e.name == "table" && e.has_class("threads"))
        .count();
    assert_eq!(threads, 1);
    let logs: Vec<_> = capture
        .descendants()
        .into_iter()
        .filter(|e| e.name == "tr" && e.attr("class").is_some_and(|c| c.starts_with("lv-")))
        .collect();
    assert_eq!(logs.len(), 40);
    assert!(
        logs.iter().any(|l| l.has_class("lv-bad")),
        "err lines stand out"
    );
    // A hostile log line is text, not markup.
    assert!(ctext.contains("<script>alert(1)</script>"));
    assert!(!html.contains("<script>alert(1)"));
}

#[test]
fn the_default_file_is_in_the_current_directory_and_dash_is_stdout() {
    let env = env_with_evidence();
    let here = tempfile::tempdir().unwrap();
    env.cmd()
        .args(["report", &NO_CAPTURE.to_string()])
        .current_dir(here.path())
        .assert()
        .success();
    let file = here
        .path()
        .join(format!("rogue-hunter-event-{NO_CAPTURE}.html"));
    let html = std::fs::read_to_string(&file).expect("the default file");
    let page = parse(&html);
    assert!(page.text().contains("No forensic captures for this event"));
    assert_eq!(
        std::fs::read_dir(here.path()).unwrap().count(),
        1,
        "no temporary file left"
    );

    let out = env
        .cmd()
        .args(["report", &NO_CAPTURE.to_string(), "-o", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    parse(&html);
}

#[test]
fn a_failed_buffer_and_a_capture_in_progress_make_partial_reports_that_say_so() {
    let env = env_with_evidence();
    let (html, said) = report(&env, FAILED_BUFFER);
    assert!(said.contains("capture #2: buffer failed"), "{said}");
    let text = parse(&html).text();
    assert!(
        text.contains("Ring buffer not stored: the buffer part failed (database or disk is full)"),
        "{text}"
    );
    assert!(text.contains("no permission to read the stacks"));
    assert!(text.contains("No stacks stored."));

    let (html, said) = report(&env, IN_PROGRESS);
    assert!(said.contains("buffer still being written"), "{said}");
    let text = parse(&html).text();
    assert!(text.contains("In progress: the daemon was still writing this capture"));
    assert!(text.contains("Ring buffer not stored yet"));
}

#[test]
fn a_missing_event_or_database_is_a_clear_error() {
    let env = env_with_evidence();
    env.cmd()
        .args(["report", "99"])
        .current_dir(env.root())
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "Error: Event 99 not found; `rogue-hunter events --all-boots` lists the events",
        ));
    assert!(!env.root().join("rogue-hunter-event-99.html").exists());

    let empty = TestEnv::new();
    empty
        .cmd()
        .args(["report", "1"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("Error: Database not found"));

    // An unwritable target: an error naming it, nothing half-written.
    let out = env
        .cmd()
        .args(["report", "1", "-o", "/nonexistent-dir/r.html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: cannot write /nonexistent-dir/r.html"),
        "{err}"
    );
}

#[test]
fn a_report_of_a_database_the_daemon_is_writing_is_whole_or_says_what_is_missing() {
    use crate::daemon_fixture::{Daemon, TEST_CONFIG};
    use crate::helper::Helper;
    use std::time::Duration;
    let config = TEST_CONFIG.replace(
        "[forensics]\nenabled = false\n",
        "[forensics]\nenabled = true\nmin_interval_s = 0\n",
    );
    // A busy helper: timing-sensitive tests (machine_alone) wait until it is gone.
    let _load = crate::common::heavy_load();
    let daemon = Daemon::start(&config);
    let helper = Helper::spawn(&["busy", "--threads", "1"]);
    let mut event = None;
    daemon.wait_until(Duration::from_secs(30), "an event for the helper", || {
        event = daemon
            .db()
            .query_row(
                "SELECT id FROM process_events WHERE pid = ?1 AND exit_time IS NULL",
                [helper.pid],
                |r| r.get::<_, i64>(0),
            )
            .ok();
        event.is_some()
    });
    let event = event.unwrap_or_default();
    // A capture under way while the reports are made: each report is read in one transaction
    // while the daemon writes snapshots and the capture's parts.
    daemon
        .env
        .cmd()
        .args(["capture", "--pid", &helper.pid.to_string()])
        .assert()
        .success();
    let mut saw_progress = false;
    for round in 0..6 {
        let file = daemon.env.root().join(format!("live-{round}.html"));
        let out = daemon
            .env
            .cmd()
            .args(["report", &event.to_string(), "-o"])
            .arg(&file)
            .output()
            .expect("run report");
        assert!(
            out.status.success(),
            "round {round}: {}\ndaemon:\n{}",
            String::from_utf8_lossy(&out.stderr),
            daemon.output()
        );
        let html = std::fs::read_to_string(&file).expect("the page");
        let text = parse(&html).text();
        assert!(text.contains("rogue-hunter-te"), "round {round}: {text}");
        assert!(text.contains(&format!("Event #{event}")), "{text}");
        saw_progress |= text.contains("In progress") || text.contains("not stored yet");
        std::thread::sleep(Duration::from_millis(300));
    }
    // By now the capture has ended and the last report has its buffer.
    daemon.wait_until(Duration::from_secs(60), "the capture to finish", || {
        daemon
            .db()
            .query_row(
                "SELECT COUNT(*) FROM forensic_captures WHERE event_id = ?1 AND completed_at IS NOT NULL",
                [event],
                |r| r.get::<_, i64>(0),
            )
            .is_ok_and(|n| n > 0)
    });
    let (html, said) = report(&daemon.env, event);
    assert!(said.contains("buffer rows"), "{said}");
    assert!(parse(&html).text().contains("Ring buffer"));
    eprintln!("a capture in progress was reported as such: {saw_progress}");
}
