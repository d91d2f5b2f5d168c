//! Charts as inline SVG, generated here rather than with a plotting crate: the plot is a
//! stretchable SVG (`preserveAspectRatio="none"`, strokes that do not scale) and every text
//! (axis ticks, band and capture labels, the legend) is HTML laid over it, so a chart fills any
//! width and its text stays the page's size: readable on a phone, crisp in print, a few KB each.
//! The values behind each chart ride along as JSON for the page's small script (hover, zoom).

use super::esc;
use serde::Serialize;
use std::fmt::Write as _;

/// The plot's own coordinates: x 0–1000, y 0–100 (top to bottom).
const W: f64 = 1000.0;
const H: f64 = 100.0;

/// What the values of a chart measure (how its ticks and hover values read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Cores,
    Bytes,
    /// Bytes per second.
    Rate,
    /// Events per second.
    PerSec,
    Score,
    Percent,
}

/// How the x axis reads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum XAxis {
    /// Seconds relative to a moment (the trigger): `−20 s`.
    Relative,
    /// Epoch seconds shown as a clock at this UTC offset (seconds east).
    Clock { offset: i32 },
}

/// One series: a line, or a layer of a stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Series<'a> {
    pub label: String,
    pub values: &'a [f64],
    /// Its colour: `c0`…`c7`, `culprit`, `other`.
    pub class: String,
}

/// A horizontal line across the plot (a band threshold).
#[derive(Debug, Clone, PartialEq)]
pub struct HLine {
    pub y: f64,
    pub label: String,
    pub class: String,
}

/// A moment marked down the plot (a capture, the trigger).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub label: String,
    pub class: String,
}

/// A whole chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart<'a> {
    /// DOM id (unique on the page).
    pub id: String,
    pub title: String,
    pub unit: Unit,
    pub x: &'a [f64],
    pub x_axis: XAxis,
    pub series: Vec<Series<'a>>,
    /// Layers stacked bottom up (else lines).
    pub stacked: bool,
    /// The y axis reaches at least this far (a score chart shows 0–100).
    pub y_at_least: f64,
    pub hlines: Vec<HLine>,
    pub marks: Vec<Mark>,
    /// Charts of one group zoom together.
    pub group: String,
    /// Plot height in CSS pixels.
    pub height: u32,
    /// Shown under the chart (how it was downsampled).
    pub note: Option<String>,
}

#[derive(Serialize)]
struct Data<'a> {
    unit: Unit,
    axis: XAxis,
    stacked: bool,
    x0: f64,
    x1: f64,
    x: Vec<f64>,
    series: Vec<SeriesData<'a>>,
}

#[derive(Serialize)]
struct SeriesData<'a> {
    label: &'a str,
    class: &'a str,
    values: Vec<f64>,
}

/// Rounds to what a chart can show (and keeps the JSON short).
fn round(v: f64) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    let a = v.abs();
    let scale = if a >= 1000.0 {
        1.0
    } else if a >= 1.0 {
        1000.0
    } else {
        1_000_000.0
    };
    (v * scale).round() / scale
}

/// A tick step of 1, 2 or 5 × 10ⁿ that cuts `range` into about `parts`.
pub fn nice_step(range: f64, parts: f64) -> f64 {
    if !(range.is_finite() && range > 0.0) {
        return 1.0;
    }
    let raw = range / parts;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Binary byte steps for memory axes (1, 2, 4 … × 1024ⁿ), so ticks read `512 MiB`, `1 GiB`.
fn byte_step(range: f64, parts: f64) -> f64 {
    let raw = (range / parts).max(1.0);
    let mut step = 1.0;
    while step < raw {
        step *= 2.0;
    }
    step
}

/// A value as its unit reads (ticks and tables).
pub fn format_value(unit: Unit, v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    match unit {
        Unit::Cores => {
            if v == 0.0 {
                "0".into()
            } else if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0} core{}", if v == 1.0 { "" } else { "s" })
            } else {
                format!("{v:.2} cores")
            }
        }
        Unit::Bytes => bytes(v),
        Unit::Rate => format!("{}/s", bytes(v)),
        Unit::PerSec => format!("{}/s", short(v)),
        Unit::Score => format!("{v:.0}"),
        Unit::Percent => format!("{v:.0} %"),
    }
}

/// `1.5 GiB`, `512 MiB`, `0 B`.
pub fn bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = v.max(0.0);
    let mut u = 0;
    while value >= 1024.0 && u < UNITS.len() - 1 {
        value /= 1024.0;
        u += 1;
    }
    if u == 0 || value >= 100.0 || (value - value.round()).abs() < 0.05 {
        format!("{value:.0} {}", UNITS[u])
    } else {
        format!("{value:.1} {}", UNITS[u])
    }
}

/// `950`, `1.2k`, `3.4M`.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// An x value as its axis reads.
pub fn format_x(axis: XAxis, x: f64) -> String {
    match axis {
        XAxis::Relative => {
            let r = (x * 10.0).round() / 10.0;
            if r == 0.0 {
                "0 s".into()
            } else if (r - r.round()).abs() < 1e-9 {
                format!("{}{:.0} s", if r < 0.0 { "−" } else { "+" }, r.abs())
            } else {
                format!("{}{:.1} s", if r < 0.0 { "−" } else { "+" }, r.abs())
            }
        }
        XAxis::Clock { offset } => {
            let secs = (x + f64::from(offset)).floor();
            if !secs.is_finite() {
                return "--:--:--".into();
            }
            let day = secs.rem_euclid(86_400.0) as i64;
            format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
        }
    }
}

/// X ticks for a range: relative seconds on 1/2/5 steps, clock times on 1/2/5/10/15/30 s,
/// minute and hour steps.
pub fn x_ticks(axis: XAxis, x0: f64, x1: f64) -> Vec<f64> {
    let range = x1 - x0;
    let step = match axis {
        XAxis::Relative => nice_step(range, 5.0),
        XAxis::Clock { .. } => {
            let raw = range / 5.0;
            [
                1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
                7200.0, 21600.0, 43200.0, 86400.0,
            ]
            .into_iter()
            .find(|s| *s >= raw)
            .unwrap_or(86400.0)
        }
    };
    let offset = match axis {
        XAxis::Clock { offset } => f64::from(offset),
        XAxis::Relative => 0.0,
    };
    let mut out = Vec::new();
    let mut t = ((x0 + offset) / step).ceil() * step - offset;
    while t <= x1 + 1e-9 && out.len() < 50 {
        out.push(t);
        t += step;
    }
    out
}

fn num(out: &mut String, v: f64) {
    let r = (v * 10.0).round() / 10.0;
    if (r - r.round()).abs() < 1e-9 {
        let _ = write!(out, "{r:.0}");
    } else {
        let _ = write!(out, "{r:.1}");
    }
}

/// The x range: the data's, widened to take in every mark; never empty.
fn x_range(c: &Chart<'_>) -> (f64, f64) {
    let finite = c.x.iter().chain(c.marks.iter().map(|m| &m.x)).copied();
    let (mut lo, mut hi) = finite
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-6 {
        lo -= 0.5;
        hi += 0.5;
    }
    (lo, hi)
}

/// Renders a chart as a `<figure>`.
pub fn render(c: &Chart<'_>) -> String {
    let (x0, x1) = x_range(c);
    let px = |x: f64| (x - x0) / (x1 - x0) * W;
    let n = c.x.len();
    // Stack tops (or each line) per series.
    let mut tops: Vec<Vec<f64>> = Vec::with_capacity(c.series.len());
    let mut running = vec![0.0; n];
    for s in &c.series {
        let vals: Vec<f64> = (0..n)
            .map(|i| {
                let v = s.values.get(i).copied().unwrap_or(0.0);
                if v.is_finite() { v.max(0.0) } else { 0.0 }
            })
            .collect();
        if c.stacked {
            for (r, v) in running.iter_mut().zip(&vals) {
                *r += v;
            }
            tops.push(running.clone());
        } else {
            tops.push(vals);
        }
    }
    let data_max = tops
        .iter()
        .flatten()
        .copied()
        .chain(c.hlines.iter().map(|h| h.y))
        .fold(0.0, f64::max);
    // An all-zero series still gets a readable axis (one unit, one KiB); a percentage that
    // stays within 100 never gets an axis past 100 %.
    let floor = if matches!(c.unit, Unit::Bytes | Unit::Rate) {
        1024.0
    } else {
        1.0
    };
    let mut want = (data_max * 1.08).max(c.y_at_least).max(floor);
    if matches!(c.unit, Unit::Percent) && data_max <= 100.0 {
        want = want.min(100.0);
    }
    let step = if matches!(c.unit, Unit::Bytes | Unit::Rate) {
        byte_step(want, 4.0)
    } else {
        nice_step(want, 4.0)
    };
    let y_max = (want / step).ceil() * step;
    let py = |v: f64| H - (v / y_max).clamp(0.0, 1.0) * H;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {W} {H}" preserveAspectRatio="none" role="img" aria-label="{}">"#,
        esc(&c.title)
    );
    // Grid lines at the y ticks.
    let mut y_ticks = Vec::new();
    let mut v = step;
    while v <= y_max + 1e-9 && y_ticks.len() < 12 {
        y_ticks.push(v);
        v += step;
    }
    svg.push_str(r#"<g class="grid">"#);
    for t in &y_ticks {
        let _ = write!(
            svg,
            r#"<line x1="0" x2="{W}" y1="{0:.2}" y2="{0:.2}"/>"#,
            py(*t)
        );
    }
    svg.push_str("</g>");
    // Series: stacked areas from the top layer down (so lower ones paint over nothing), or lines.
    let xs: Vec<f64> = if n == 1 {
        vec![0.0]
    } else {
        c.x.iter().map(|x| px(*x)).collect()
    };
    for (k, s) in c.series.iter().enumerate() {
        let top = &tops[k];
        let mut d = String::new();
        let pts: Vec<(f64, f64)> = if n == 1 {
            // One point: a flat band across the plot.
            vec![(0.0, top[0]), (W, top[0])]
        } else {
            xs.iter().copied().zip(top.iter().copied()).collect()
        };
        for (i, (x, y)) in pts.iter().enumerate() {
            d.push(if i == 0 { 'M' } else { 'L' });
            num(&mut d, *x);
            d.push(',');
            num(&mut d, py(*y));
        }
        if c.stacked && !pts.is_empty() {
            let below: Vec<f64> = if k == 0 {
                vec![0.0; n]
            } else {
                tops[k - 1].clone()
            };
            let back: Vec<(f64, f64)> = if n == 1 {
                vec![(W, below[0]), (0.0, below[0])]
            } else {
                xs.iter()
                    .copied()
                    .zip(below.iter().copied())
                    .rev()
                    .collect()
            };
            for (x, y) in back {
                d.push('L');
                num(&mut d, x);
                d.push(',');
                num(&mut d, py(y));
            }
            d.push('Z');
            let _ = write!(svg, r#"<path class="area {}" d="{d}"/>"#, esc(&s.class));
        } else if !pts.is_empty() {
            let _ = write!(
                svg,
                r#"<path class="line {}" d="{d}" vector-effect="non-scaling-stroke"/>"#,
                esc(&s.class)
            );
        }
    }
    for h in &c.hlines {
        let _ = write!(
            svg,
            r#"<line class="hline {class}" x1="0" x2="{W}" y1="{y:.2}" y2="{y:.2}" vector-effect="non-scaling-stroke"/>"#,
            class = esc(&h.class),
            y = py(h.y)
        );
    }
    for m in &c.marks {
        let _ = write!(
            svg,
            r#"<line class="mark {class}" x1="{x:.1}" x2="{x:.1}" y1="0" y2="{H}" vector-effect="non-scaling-stroke"/>"#,
            class = esc(&m.class),
            x = px(m.x)
        );
    }
    svg.push_str("</svg>");

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<figure class="chart" id="{}" data-group="{}"><figcaption>{}</figcaption><div class="plot" style="height:{}px">{svg}"#,
        esc(&c.id),
        esc(&c.group),
        esc(&c.title),
        c.height
    );
    out.push_str(r#"<div class="yl">"#);
    for t in &y_ticks {
        let _ = write!(
            out,
            r#"<span style="bottom:{:.2}%">{}</span>"#,
            t / y_max * 100.0,
            esc(&format_value(c.unit, *t))
        );
    }
    out.push_str(r#"</div><div class="xl">"#);
    for t in x_ticks(c.x_axis, x0, x1) {
        let _ = write!(
            out,
            r#"<span style="left:{:.2}%">{}</span>"#,
            px(t) / W * 100.0,
            esc(&format_x(c.x_axis, t))
        );
    }
    out.push_str(r#"</div><div class="hl">"#);
    for h in &c.hlines {
        let _ = write!(
            out,
            r#"<span class="{}" style="bottom:{:.2}%">{}</span>"#,
            esc(&h.class),
            (H - py(h.y)) / H * 100.0,
            esc(&h.label)
        );
    }
    out.push_str(r#"</div><div class="ml">"#);
    for m in &c.marks {
        let _ = write!(
            out,
            r#"<span class="{}" data-x="{}" style="left:{:.2}%">{}</span>"#,
            esc(&m.class),
            round(m.x),
            px(m.x) / W * 100.0,
            esc(&m.label)
        );
    }
    out.push_str("</div></div>");
    if c.series.len() > 1 || c.stacked {
        out.push_str(r#"<ul class="legend">"#);
        for s in c.series.iter().rev() {
            let _ = write!(
                out,
                r#"<li><i class="sw {}"></i>{}</li>"#,
                esc(&s.class),
                esc(&s.label)
            );
        }
        out.push_str("</ul>");
    }
    if let Some(note) = &c.note {
        let _ = write!(out, r#"<p class="note">{}</p>"#, esc(note));
    }
    let data = Data {
        unit: c.unit,
        axis: c.x_axis,
        stacked: c.stacked,
        x0: round(x0),
        x1: round(x1),
        x: c.x.iter().map(|v| round(*v)).collect(),
        series: c
            .series
            .iter()
            .map(|s| SeriesData {
                label: &s.label,
                class: &s.class,
                values: (0..n)
                    .map(|i| round(s.values.get(i).copied().unwrap_or(0.0)))
                    .collect(),
            })
            .collect(),
    };
    let _ = write!(
        out,
        r#"<script type="application/json" class="chart-data">{}</script></figure>"#,
        super::json_for_script(&data)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart<'a>(x: &'a [f64], series: Vec<Series<'a>>, stacked: bool) -> Chart<'a> {
        Chart {
            id: "c1".into(),
            title: "CPU <cores>".into(),
            unit: Unit::Cores,
            x,
            x_axis: XAxis::Relative,
            series,
            stacked,
            y_at_least: 1.0,
            hlines: vec![HLine {
                y: 2.0,
                label: "two".into(),
                class: "band-high".into(),
            }],
            marks: vec![Mark {
                x: 0.0,
                label: "trigger".into(),
                class: "trigger".into(),
            }],
            group: "g".into(),
            height: 150,
            note: None,
        }
    }

    #[test]
    fn a_stacked_chart_draws_one_closed_area_per_layer_and_escapes_text() {
        let a = [1.0, 2.0, 3.0];
        let b = [0.5, 0.5, 0.5];
        let x = [-2.0, -1.0, -0.5];
        let series = vec![
            Series {
                label: "a</script><b>".into(),
                values: &a,
                class: "culprit".into(),
            },
            Series {
                label: "b".into(),
                values: &b,
                class: "other".into(),
            },
        ];
        let html = render(&chart(&x, series, true));
        assert_eq!(html.matches(r#"<path class="area"#).count(), 2);
        assert_eq!(html.matches('Z').count(), 2, "closed areas");
        assert!(html.contains("CPU &lt;cores&gt;"));
        assert!(!html.contains("a</script>"), "labels cannot end the script");
        assert!(html.contains(r#"a\u003c/script>\u003cb>"#));
        assert!(html.contains("a&lt;/script&gt;&lt;b&gt;"), "legend escaped");
        // The trigger at 0 widens the range to −2…0; it sits at the right edge.
        assert!(
            html.contains(r#"<line class="mark trigger" x1="1000.0""#),
            "{html}"
        );
        // y reaches 3.5 × 1.08 → ticks of 1 up to 4 cores.
        assert!(html.contains(">4 cores<"), "{html}");
        assert!(html.contains(">two<"));
    }

    #[test]
    fn lines_one_point_and_no_points_all_draw() {
        let v = [5.0];
        let x = [10.0];
        let one = render(&chart(
            &x,
            vec![Series {
                label: "s".into(),
                values: &v,
                class: "c0".into(),
            }],
            false,
        ));
        assert!(one.contains(r#"<path class="line c0" d="M0,"#), "{one}");
        let none = render(&chart(&[], vec![], false));
        assert!(none.contains("<svg"));
        assert!(!none.contains("<path"));
    }

    #[test]
    fn an_all_zero_series_and_a_full_percentage_get_sensible_axes() {
        let x = [0.0, 1.0, 2.0];
        let one = |unit: Unit, values: &'static [f64; 3]| {
            let mut c = chart(
                &x,
                vec![Series {
                    label: "s".into(),
                    values,
                    class: "c0".into(),
                }],
                false,
            );
            c.unit = unit;
            c.y_at_least = 0.0;
            c.hlines.clear();
            render(&c)
        };
        let labels = |html: &str| -> Vec<String> {
            html.split("<span style=\"bottom:")
                .skip(1)
                .map(|s| {
                    s[s.find('>').unwrap_or(0) + 1..s.find("</span>").unwrap_or(0)].to_string()
                })
                .collect()
        };
        let zero = labels(&one(Unit::PerSec, &[0.0; 3]));
        assert!(!zero.is_empty() && zero.len() <= 5, "{zero:?}");
        assert!(zero.iter().all(|l| l != "0.0/s" && l != "0/s"), "{zero:?}");
        let full = labels(&one(Unit::Percent, &[100.0; 3]));
        assert_eq!(full.last().map(String::as_str), Some("100 %"), "{full:?}");
    }

    #[test]
    fn ticks_and_values_read_like_a_person_would_write_them() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(0.3, 4.0), 0.1);
        assert_eq!(byte_step(3.0 * 1024.0 * 1024.0 * 1024.0, 4.0), 1073741824.0);
        assert_eq!(format_value(Unit::Cores, 1.0), "1 core");
        assert_eq!(format_value(Unit::Cores, 0.25), "0.25 cores");
        assert_eq!(
            format_value(Unit::Bytes, 1536.0 * 1024.0 * 1024.0),
            "1.5 GiB"
        );
        assert_eq!(format_value(Unit::Rate, 2048.0), "2 KiB/s");
        assert_eq!(format_value(Unit::PerSec, 1234.0), "1.2k/s");
        assert_eq!(format_x(XAxis::Relative, -12.34), "−12.3 s");
        assert_eq!(format_x(XAxis::Relative, 0.0), "0 s");
        assert_eq!(format_x(XAxis::Clock { offset: 3600 }, 0.0), "01:00:00");
        assert_eq!(
            x_ticks(XAxis::Relative, -30.0, 0.0),
            [-30.0, -20.0, -10.0, 0.0]
        );
        assert_eq!(
            x_ticks(XAxis::Clock { offset: 0 }, 100.0, 160.0),
            [105.0, 120.0, 135.0, 150.0]
        );
    }
}
