//! The report rendered for real: headless Chromium takes screenshots of the fixture's report at
//! desktop and phone widths, of the page and of a copy that paints every chart's plot area
//! magenta and the flame graph cyan (contents hidden, layout kept). The test finds those boxes
//! in the copy's screenshot and checks that, in the page's, each holds a drawing, not a blank
//! box, and that none runs off the page. (Chromium's `--dump-dom` would give the boxes too, but headless windows are
//! at least 500 pixels wide there, while screenshots honour a phone's 390.) Skipped, saying why,
//! when Chromium is missing (`.ci/run` installs Debian's `chromium`).
//!
//! With `RH_REPORT_SCREENSHOTS=DIR` set, the top of the page at each width is also written to
//! `DIR/report-desktop.png` and `DIR/report-phone.png` (the README's screenshots).

use crate::common::{TestEnv, which};
use crate::evidence_fixture::{self as fx, FULL};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The probe copy paints each chart's plot magenta and the flame graph's figure cyan, with
/// their contents hidden (which keeps the layout): solid boxes that are easy to find.
const PROBE: &str = "<style>.plot{background:#ff00ff!important;border-radius:0!important}\
                     .plot *{visibility:hidden!important}\
                     figure.flame{background:#00ffff!important}\
                     figure.flame *{visibility:hidden!important}</style></head>";
const MAGENTA: [u8; 3] = [255, 0, 255];
const CYAN: [u8; 3] = [0, 255, 255];

/// The tallest screenshot taken (the fixture's page is far shorter).
const MAX_HEIGHT: u32 = 16_000;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(which)
}

/// Headless Chromium with a throwaway profile and the given window.
fn browser(bin: &Path, profile: &Path, width: u32, height: u32) -> Command {
    let mut c = Command::new(bin);
    c.arg("--headless")
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--hide-scrollbars")
        .arg("--no-first-run")
        .arg("--force-device-scale-factor=1")
        .arg("--virtual-time-budget=3000")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"));
    c
}

/// A drawn area: its kind (`chart`, `flame`) and its box, in pixels.
#[derive(Debug)]
struct Area {
    kind: &'static str,
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    /// The box touches the screenshot's right edge: it runs off the page.
    cut: bool,
}

/// The page's height (Chromium lays it out at least 500 wide for the DOM dump, so a phone's
/// page is taller than this says; the caller adds room).
fn page_height(bin: &Path, dir: &Path, page: &Path) -> u32 {
    let probe = dir.join("height.html");
    let html = std::fs::read_to_string(page).expect("the report");
    let script = "<script>addEventListener('load',function(){document.body.setAttribute(\
                  'data-height',document.documentElement.scrollHeight)});</script></body>";
    std::fs::write(&probe, html.replace("</body>", script)).unwrap();
    let out = browser(bin, &dir.join("profile"), 500, 2000)
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let key = "data-height=\"";
    let at = dom.find(key).unwrap_or_else(|| {
        panic!(
            "no height in the DOM; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    }) + key.len();
    dom[at..]
        .split('"')
        .next()
        .and_then(|h| h.parse().ok())
        .unwrap_or(4000)
}

/// A screenshot of the page's top `height` pixels at `width`.
fn screenshot(bin: &Path, dir: &Path, page: &Path, width: u32, height: u32, file: &Path) {
    let out = browser(bin, &dir.join("profile"), width, height)
        .arg(format!("--screenshot={}", file.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        file.exists(),
        "no screenshot; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// RGB pixels of a PNG, with its width and height.
fn pixels(file: &Path) -> (Vec<[u8; 3]>, u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(file).expect("open the screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let step = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected colour type {other:?}"),
    };
    let px = buf[..info.buffer_size()]
        .chunks(step)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (px, info.width, info.height)
}

/// Whether a pixel is (nearly: colour management may shift a channel) of `colour`.
fn near(p: [u8; 3], colour: [u8; 3]) -> bool {
    p.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) <= 40)
}

/// The painted boxes of one colour: each connected run of its pixels is one box.
fn frames(px: &[[u8; 3]], w: u32, h: u32, colour: [u8; 3], kind: &'static str) -> Vec<Area> {
    let mut seen = vec![false; px.len()];
    let mut out = Vec::new();
    for start in 0..px.len() {
        if seen[start] || !near(px[start], colour) {
            continue;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            let (x, y) = (i as u32 % w, i as u32 / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            let mut next = Vec::with_capacity(4);
            if x > 0 {
                next.push(i - 1);
            }
            if x + 1 < w {
                next.push(i + 1);
            }
            if y > 0 {
                next.push(i - w as usize);
            }
            if y + 1 < h {
                next.push(i + w as usize);
            }
            for j in next {
                if !seen[j] && near(px[j], colour) {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        // Stray pixels of the colour (text, a line) are not boxes.
        if x1 - x0 < 40 || y1 - y0 < 40 {
            continue;
        }
        out.push(Area {
            kind,
            x: x0,
            y: y0,
            w: x1 - x0 + 1,
            h: y1 - y0 + 1,
            cut: x1 + 1 >= w,
        });
    }
    out
}

/// The share of an area's pixels that differ from its commonest colour, and how many colours
/// it holds: a blank box has ~0 and 1.
fn ink(px: &[[u8; 3]], img_w: u32, img_h: u32, a: &Area) -> (f64, usize) {
    let mut counts = std::collections::HashMap::new();
    for y in a.y..(a.y + a.h).min(img_h) {
        for x in a.x..(a.x + a.w).min(img_w) {
            *counts.entry(px[(y * img_w + x) as usize]).or_insert(0usize) += 1;
        }
    }
    let total: usize = counts.values().sum();
    let top = counts.values().copied().max().unwrap_or(0);
    if total == 0 {
        return (0.0, 0);
    }
    ((total - top) as f64 / total as f64, counts.len())
}

#[test]
fn headless_chromium_draws_every_chart_and_the_flame_graph_at_desktop_and_phone_widths() {
    let Some(bin) = chromium() else {
        eprintln!("skipped: chromium is not installed (Debian package `chromium`)");
        return;
    };
    let env = TestEnv::new();
    let db = env.root().join("data/rogue-hunter/data.db");
    fx::build(&db);
    let dir = env.root().join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    env.cmd()
        .args(["report", &FULL.to_string(), "-o"])
        .arg(&page)
        .env("TZ", "UTC")
        .assert()
        .success();
    let probe = dir.join("probe.html");
    let html = std::fs::read_to_string(&page).expect("the report");
    assert!(html.contains("</head>"));
    std::fs::write(&probe, html.replace("</head>", PROBE)).unwrap();
    let height = (page_height(&bin, &dir, &page) * 2).min(MAX_HEIGHT);

    for (name, width) in [("desktop", 1280u32), ("phone", 390)] {
        if let Some(out) = std::env::var_os("RH_REPORT_SCREENSHOTS") {
            let top = if width > 600 { 2500 } else { 1400 };
            let file = Path::new(&out).join(format!("report-{name}.png"));
            screenshot(&bin, &dir, &page, width, top, &file);
        }
        let boxes = dir.join(format!("{name}-boxes.png"));
        screenshot(&bin, &dir, &probe, width, height, &boxes);
        let (px, w, h) = pixels(&boxes);
        assert_eq!((w, h), (width, height), "{name}: the screenshot's size");
        let mut areas = frames(&px, w, h, MAGENTA, "chart");
        areas.extend(frames(&px, w, h, CYAN, "flame"));
        let shot = dir.join(format!("{name}.png"));
        screenshot(&bin, &dir, &page, width, height, &shot);
        let (px, w, h) = pixels(&shot);
        let charts = areas.iter().filter(|a| a.kind == "chart").count();
        let flames = areas.iter().filter(|a| a.kind == "flame").count();
        // The timeline's five charts, the capture's CPU, memory and pressure, and its flame
        // graph.
        assert_eq!((charts, flames), (8, 1), "{name}: {areas:?}");
        for a in &areas {
            assert!(!a.cut, "{name}: {a:?} runs off a {w}-pixel-wide page");
            let (share, colours) = ink(&px, w, h, a);
            assert!(
                share > 0.03 && colours >= 3,
                "{name}: {a:?} looks blank ({:.1} % drawn, {colours} colours)",
                share * 100.0
            );
        }
    }
}
