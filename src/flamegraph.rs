//! Flame graphs: a counted call tree (or folded stacks) in, a self-contained interactive SVG
//! out — hover a frame for its counts, click to zoom into it, no network, no dependencies. Pure
//! string building, so the HTML report can embed the same graph inline ([`svg_element`]).
//!
//! Folded stacks are the format every flame-graph tool reads: one `frame;frame;frame count`
//! line per path, outermost frame first. Kernel frames carry perf's `_[k]` suffix, and time
//! spent off the CPU ends its path with the pseudo-frame [`OFF_CPU`], so both survive a round
//! trip through other tools.

use std::fmt::Write as _;

/// The pseudo-frame that ends an off-CPU path in folded stacks.
pub const OFF_CPU: &str = "[off-CPU]";
/// Suffix of kernel frames in folded stacks (as perf's stackcollapse writes them).
pub const KERNEL_SUFFIX: &str = "_[k]";

/// What a frame is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    User,
    Kernel,
    /// A process or thread heading its stacks.
    Group,
}

/// A node of a counted call tree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    pub name: String,
    /// Shown on hover: library, source line.
    pub detail: Option<String>,
    pub kind: Kind,
    /// Samples through this node, on and off the CPU together.
    pub count: u64,
    /// The part of `count` spent off the CPU.
    pub off_cpu: u64,
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(name: impl Into<String>, kind: Kind) -> Node {
        Node {
            name: name.into(),
            kind,
            ..Node::default()
        }
    }

    /// Samples that end here (not in a child).
    fn self_counts(&self) -> (u64, u64) {
        let (c, o) = self
            .children
            .iter()
            .fold((0, 0), |(c, o), n| (c + n.count, o + n.off_cpu));
        let off = self.off_cpu.saturating_sub(o);
        let all = self.count.saturating_sub(c);
        (all.saturating_sub(off), off.min(all))
    }
}

/// A forest of call trees (one root per process, thread or outermost frame).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    pub roots: Vec<Node>,
}

/// A folded line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct FoldedError {
    pub line: usize,
    pub problem: String,
}

impl Tree {
    /// Samples in the whole tree.
    pub fn total(&self) -> u64 {
        self.roots.iter().map(|n| n.count).sum()
    }

    /// Parses folded stacks; blank lines are skipped.
    pub fn from_folded(text: &str) -> Result<Tree, FoldedError> {
        let mut tree = Tree::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let err = |problem: &str| FoldedError {
                line: i + 1,
                problem: problem.to_string(),
            };
            let (path, count) = line.rsplit_once(' ').ok_or_else(|| err("no count"))?;
            let count: u64 = count
                .parse()
                .map_err(|_| err("the count is not a number"))?;
            let mut frames: Vec<&str> = path.split(';').collect();
            let off = frames.last() == Some(&OFF_CPU);
            if off {
                frames.pop();
            }
            if frames.is_empty() || frames.iter().any(|f| f.is_empty()) {
                return Err(err("an empty frame"));
            }
            let mut level = &mut tree.roots;
            for f in frames {
                let (name, kind) = match f.strip_suffix(KERNEL_SUFFIX) {
                    Some(n) => (n, Kind::Kernel),
                    None => (f, Kind::User),
                };
                let at = match level.iter().position(|n| n.name == name && n.kind == kind) {
                    Some(p) => p,
                    None => {
                        level.push(Node::new(name, kind));
                        level.len() - 1
                    }
                };
                let node = &mut level[at];
                node.count += count;
                if off {
                    node.off_cpu += count;
                }
                level = &mut node.children;
            }
        }
        Ok(tree)
    }

    /// Folded stacks: a line per path with samples ending there (off-CPU ones apart).
    pub fn to_folded(&self) -> String {
        fn walk(n: &Node, path: &mut Vec<String>, out: &mut String) {
            let mut name = sanitize_folded(&n.name);
            if n.kind == Kind::Kernel {
                name.push_str(KERNEL_SUFFIX);
            }
            path.push(name);
            let (on, off) = n.self_counts();
            if on > 0 {
                let _ = writeln!(out, "{} {on}", path.join(";"));
            }
            if off > 0 {
                let _ = writeln!(out, "{};{OFF_CPU} {off}", path.join(";"));
            }
            for c in &n.children {
                walk(c, path, out);
            }
            path.pop();
        }
        let mut out = String::new();
        for r in &self.roots {
            walk(r, &mut Vec::new(), &mut out);
        }
        out
    }
}

/// A name fit for a folded line: no `;` (the separator) and no line breaks. Spaces stay: the
/// count is after the last one.
fn sanitize_folded(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| match c {
            ';' => ':',
            c if c.is_control() => '?',
            c => c,
        })
        .collect();
    if s.is_empty() { "?".into() } else { s }
}

/// How a graph looks.
#[derive(Debug, Clone)]
pub struct Options {
    pub title: String,
    /// Shown under the title (what was sampled, when).
    pub subtitle: Option<String>,
    pub width: u32,
    pub frame_height: u32,
    /// Frames narrower than this many pixels are left out.
    pub min_width: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: "Flame Graph".into(),
            subtitle: None,
            width: 1200,
            frame_height: 16,
            min_width: 0.1,
        }
    }
}

/// A standalone SVG document.
pub fn svg(tree: &Tree, opts: &Options) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    s.push_str(&svg_element(tree, opts, "fg"));
    s
}

/// The graph as one `<svg>` element whose ids all start with `id_prefix`, to put inline in an
/// HTML page (several graphs may share a page if their prefixes differ).
pub fn svg_element(tree: &Tree, opts: &Options, id_prefix: &str) -> String {
    let p = xml_escape(&id_prefix.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    let total = tree.total().max(1);
    let depth = tree.roots.iter().map(max_depth).max().unwrap_or(0);
    let fh = opts.frame_height.max(8);
    let width = opts.width.max(200);
    let top = if opts.subtitle.is_some() { 52 } else { 36 };
    let height = top + (depth as u32 + 1) * fh + 40;
    let mut s = String::with_capacity(4096);
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{p}root\" version=\"1.1\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         data-total=\"{total}\" data-fh=\"{fh}\" data-base=\"{base}\" \
         style=\"font-family:Verdana,sans-serif;font-size:12px\">",
        base = height - 40
    );
    let _ = write!(
        s,
        "<style>#{p}root .f:hover rect{{stroke:#000;stroke-width:0.5;cursor:pointer}}\
         #{p}root text{{pointer-events:none}}</style>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#f8f8f8\" id=\"{p}bg\"/>\n\
         <text x=\"{x}\" y=\"22\" text-anchor=\"middle\" style=\"font-size:16px\">{title}</text>\n",
        x = width / 2,
        title = xml_escape(&opts.title)
    );
    if let Some(sub) = &opts.subtitle {
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"40\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            xml_escape(sub),
            x = width / 2
        );
    }
    let _ = writeln!(
        s,
        "<text id=\"{p}reset\" x=\"10\" y=\"22\" fill=\"#06c\" style=\"display:none;cursor:pointer;pointer-events:all\">Reset zoom</text>\n\
         <text id=\"{p}details\" x=\"10\" y=\"{y}\">Hover a frame for its samples; click to zoom.</text>\n\
         <g id=\"{p}frames\">",
        y = height - 14
    );
    let scale = f64::from(width - 20) / total as f64;
    let mut x = 0u64;
    for r in &tree.roots {
        draw(
            &mut s,
            r,
            x,
            0,
            &Layout {
                scale,
                total,
                fh,
                base: height - 40,
                min_width: opts.min_width,
            },
        );
        x += r.count;
    }
    s.push_str("</g>\n<script type=\"text/ecmascript\"><![CDATA[\n");
    s.push_str(&SCRIPT.replace("@P@", &p));
    s.push_str("]]></script>\n</svg>\n");
    s
}

struct Layout {
    scale: f64,
    total: u64,
    fh: u32,
    base: u32,
    min_width: f64,
}

fn max_depth(n: &Node) -> usize {
    1 + n.children.iter().map(max_depth).max().unwrap_or(0)
}

fn draw(s: &mut String, n: &Node, left: u64, depth: u32, l: &Layout) {
    let w = n.count as f64 * l.scale;
    if w < l.min_width || n.count == 0 {
        return;
    }
    let x = 10.0 + left as f64 * l.scale;
    let y = l.base - (depth + 1) * l.fh;
    let pct = 100.0 * n.count as f64 / l.total as f64;
    let mut info = format!("{} — {} samples ({pct:.2}%)", n.name, n.count);
    if n.off_cpu > 0 {
        let _ = write!(
            info,
            ", on-CPU {}, off-CPU {}",
            n.count - n.off_cpu.min(n.count),
            n.off_cpu
        );
    }
    if let Some(d) = &n.detail {
        let _ = write!(info, " · {d}");
    }
    let info = xml_escape(&info);
    let name = xml_escape(&n.name);
    let _ = writeln!(
        s,
        "<g class=\"f\" data-l=\"{left}\" data-w=\"{c}\" data-d=\"{depth}\" data-n=\"{name}\" data-i=\"{info}\">\
         <title>{info}</title><rect x=\"{x:.2}\" y=\"{y}\" width=\"{w:.2}\" height=\"{h}\" rx=\"2\" fill=\"{fill}\"/>\
         <text x=\"{tx:.2}\" y=\"{ty}\">{label}</text></g>",
        c = n.count,
        h = l.fh - 1,
        fill = colour(n),
        tx = x + 3.0,
        ty = y + l.fh - 4,
        label = xml_escape(&fit(&n.name, w)),
    );
    let mut child_left = left;
    for c in &n.children {
        draw(s, c, child_left, depth + 1, l);
        child_left += c.count;
    }
}

/// The label that fits `width` pixels (about 7 px a character), with `..` when cut.
fn fit(name: &str, width: f64) -> String {
    let room = ((width - 6.0) / 7.0).floor();
    if room < 3.0 {
        return String::new();
    }
    let room = room as usize;
    if name.chars().count() <= room {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(room - 2).collect();
        s.push_str("..");
        s
    }
}

/// Warm for on-CPU user code, orange for the kernel, blue where most time was off the CPU,
/// grey for process and thread headers; the shade follows the name so a function keeps its
/// colour across the graph.
fn colour(n: &Node) -> String {
    let h = n
        .name
        .bytes()
        .fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    let v = (h % 1000) as f64 / 1000.0;
    if n.kind == Kind::Group {
        let g = 190 + (v * 30.0) as u32;
        return format!("rgb({g},{g},{})", g + 10);
    }
    if n.count > 0 && n.off_cpu * 2 > n.count {
        return format!(
            "rgb({},{},{})",
            70 + (v * 40.0) as u32,
            120 + (v * 50.0) as u32,
            210 + (v * 40.0) as u32
        );
    }
    match n.kind {
        Kind::Kernel => format!(
            "rgb({},{},{})",
            230 + (v * 25.0) as u32,
            140 + (v * 40.0) as u32,
            40 + (v * 30.0) as u32
        ),
        _ => format!(
            "rgb({},{},{})",
            220 + (v * 35.0) as u32,
            80 + (v * 120.0) as u32,
            40 + (v * 40.0) as u32
        ),
    }
}

/// Text fit for XML: the five special characters escaped, and characters XML 1.0 forbids
/// (most control characters) replaced, whatever a process or symbol name holds.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Hover shows a frame's counts below the graph; a click zooms so the frame fills the width
/// (its ancestors too, everything beside it hidden); "Reset zoom" or the background undoes it.
const SCRIPT: &str = r##"(function () {
  var root = document.getElementById("@P@root");
  var details = document.getElementById("@P@details");
  var reset = document.getElementById("@P@reset");
  var width = root.viewBox.baseVal.width - 20;
  var frames = root.querySelectorAll("#@P@frames > g.f");
  var hint = details.textContent;
  function fit(name, w) {
    var room = Math.floor((w - 6) / 7);
    if (room < 3) return "";
    return name.length <= room ? name : name.substring(0, room - 2) + "..";
  }
  function zoom(l, w, d) {
    for (var i = 0; i < frames.length; i++) {
      var g = frames[i];
      var gl = +g.getAttribute("data-l"), gw = +g.getAttribute("data-w"), gd = +g.getAttribute("data-d");
      var rect = g.querySelector("rect"), text = g.querySelector("text");
      var x, fw;
      if (gd <= d && gl <= l && gl + gw >= l + w) {
        x = 0; fw = width;
      } else if (gd > d && gl >= l && gl + gw <= l + w) {
        x = (gl - l) / w * width; fw = gw / w * width;
      } else {
        g.style.display = "none";
        continue;
      }
      g.style.display = "";
      rect.setAttribute("x", (10 + x).toFixed(2));
      rect.setAttribute("width", fw.toFixed(2));
      text.setAttribute("x", (13 + x).toFixed(2));
      text.textContent = fit(g.getAttribute("data-n"), fw);
    }
  }
  var total = +root.getAttribute("data-total");
  for (var i = 0; i < frames.length; i++) {
    (function (g) {
      g.addEventListener("mouseover", function () { details.textContent = g.getAttribute("data-i"); });
      g.addEventListener("mouseout", function () { details.textContent = hint; });
      g.addEventListener("click", function () {
        zoom(+g.getAttribute("data-l"), +g.getAttribute("data-w"), +g.getAttribute("data-d"));
        reset.style.display = "";
      });
    })(frames[i]);
  }
  function unzoom() { zoom(0, total, -1); reset.style.display = "none"; }
  reset.addEventListener("click", unzoom);
  document.getElementById("@P@bg").addEventListener("click", unzoom);
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;

    const FOLDED: &str = "busy [7];main;alpha;beta;gamma 90\n\
        busy [7];main;alpha;beta 5\n\
        busy [7];main;nap;schedule_[k];[off-CPU] 40\n\
        other [8];run 3\n";

    #[test]
    fn folded_stacks_round_trip() {
        let t = Tree::from_folded(FOLDED).unwrap();
        assert_eq!(t.total(), 138);
        let busy = &t.roots[0];
        assert_eq!((busy.count, busy.off_cpu), (135, 40));
        let nap = &busy.children[0].children[1];
        assert_eq!(nap.children[0].kind, Kind::Kernel);
        assert_eq!(nap.children[0].name, "schedule");
        let back = t.to_folded();
        let again = Tree::from_folded(&back).unwrap();
        assert_eq!(again, t);
        let sum: u64 = back
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum, 138);
    }

    #[test]
    fn bad_folded_lines_are_named() {
        assert_eq!(Tree::from_folded("a;b x").unwrap_err().line, 1);
        assert!(
            Tree::from_folded("\na;;b 3")
                .unwrap_err()
                .problem
                .contains("empty")
        );
        assert!(Tree::from_folded("nocount").is_err());
        assert_eq!(Tree::from_folded("").unwrap().total(), 0);
    }

    #[test]
    fn hostile_names_stay_one_frame_and_valid_xml() {
        let mut n = Node::new("evil;name <&> \"x\" \u{1}", Kind::User);
        n.count = 3;
        let t = Tree { roots: vec![n] };
        let folded = t.to_folded();
        assert_eq!(folded.lines().count(), 1);
        assert!(folded.starts_with("evil:name <&> \"x\" ? 3"), "{folded}");
        let svg = svg(&t, &Options::default());
        assert!(svg.contains("evil;name &lt;&amp;&gt; &quot;x&quot;"));
        assert!(!svg.contains('\u{1}'));
    }

    #[test]
    fn the_svg_names_every_wide_frame_and_scripts_its_own_ids() {
        let t = Tree::from_folded(FOLDED).unwrap();
        let svg = svg_element(&t, &Options::default(), "g1-");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"g1_root\""));
        assert!(svg.contains("data-n=\"gamma\""));
        assert!(svg.contains("gamma — 90 samples (65.22%)"));
        assert!(svg.contains("getElementById(\"g1_details\")"));
        assert!(!svg.contains("@P@"));
        assert_eq!(svg.matches("<g class=\"f\"").count(), 9);
    }

    #[test]
    fn labels_fit_their_frames() {
        assert_eq!(fit("gamma", 100.0), "gamma");
        assert_eq!(fit("a_very_long_function_name", 60.0), "a_ver..");
        assert_eq!(fit("x", 10.0), "");
    }
}
