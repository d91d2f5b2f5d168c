//! Reading, checking and writing the config file, with errors that point at the key and line.

use super::Config;
use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use toml_edit::{Item, TableLike};

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Dotted key path (`bands.medium`), when the problem belongs to a key.
    pub key: Option<String>,
    /// 1-based line and column in the file, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "line {l}, column {c}: ")?;
        }
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_invalid(.path, .problems, *.in_use))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
        /// The config file in use (not one given to `config validate`): the message then says
        /// how to fix it with `config edit` / `config reset`.
        in_use: bool,
    },
    #[error("cannot write config file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn render_invalid(path: &Path, problems: &[Problem], in_use: bool) -> String {
    let mut s = format!("invalid config file {}:", path.display());
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    if in_use {
        s.push_str("\nFix it with `rogue-hunter config edit`, or restore the defaults with `rogue-hunter config reset`.");
    }
    s
}

impl ConfigError {
    /// Marks an invalid file as the config file in use (see [`ConfigError::Invalid`]).
    pub fn in_use(self) -> ConfigError {
        match self {
            ConfigError::Invalid { path, problems, .. } => ConfigError::Invalid {
                path,
                problems,
                in_use: true,
            },
            other => other,
        }
    }
}

/// Most problems one run reports (each is found by one more parse of a small file).
const MAX_PROBLEMS: usize = 100;

/// Parses and checks config text; `path` is only used in messages. Every problem is reported
/// in one go: a key that is unknown or of the wrong type is noted and set aside, and the rest is
/// parsed again, until it parses; then the values are checked (ranges, band order, colours).
/// Only a TOML syntax error stops at the first one (nothing after it can be read reliably).
pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let invalid = |problems: Vec<Problem>| ConfigError::Invalid {
        path: path.to_path_buf(),
        problems,
        in_use: false,
    };
    let doc = match toml_edit::Document::parse(text) {
        Ok(d) => d,
        Err(e) => return Err(invalid(vec![syntax_problem(text, &e)])),
    };
    let mut work = doc.clone().into_mut();
    let mut problems = Vec::new();
    let config = loop {
        let work_text = work.to_string();
        let e = match toml::from_str::<Config>(&work_text) {
            Ok(c) => break Some(c),
            Err(e) => e,
        };
        let message = plain_type_names(e.message().trim());
        // The key the error is about, found in the text that was parsed and then in the file.
        let key = e.span().and_then(|span| {
            let parsed = toml_edit::Document::parse(work_text.as_str()).ok()?;
            key_path_at(parsed.as_table(), span.start, "")
        });
        let pos = key
            .as_deref()
            .and_then(|k| locate(doc.as_table(), k))
            .map(|span| line_col(text, span.start));
        problems.push(Problem {
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            key: key.clone(),
            message,
        });
        let removed = key.is_some_and(|k| remove_key(work.as_table_mut(), &k));
        if !removed || problems.len() >= MAX_PROBLEMS {
            break None;
        }
    };
    if let Some(config) = &config {
        for (key, message) in config.problems() {
            let pos = locate(doc.as_table(), &key).map(|span| line_col(text, span.start));
            problems.push(Problem {
                line: pos.map(|p| p.0),
                column: pos.map(|p| p.1),
                key: Some(key),
                message,
            });
        }
    }
    problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column.unwrap_or(0)));
    match config {
        Some(c) if problems.is_empty() => Ok(c),
        _ => Err(invalid(problems)),
    }
}

/// A TOML syntax error, naming the key for a duplicate (`toml` says only "duplicate key").
fn syntax_problem(text: &str, e: &toml_edit::TomlError) -> Problem {
    let span = e.span();
    let (line, column) = span
        .as_ref()
        .map(|s| line_col(text, s.start))
        .map_or((None, None), |(l, c)| (Some(l), Some(c)));
    let mut message = format!("TOML syntax error: {}", e.message().trim());
    let mut key = None;
    if e.message().contains("duplicate key")
        && let Some(span) = &span
        && let Some(name) = text
            .get(span.clone())
            .map(str::trim)
            .filter(|n| !n.is_empty())
    {
        let header = line
            .and_then(|l| text.lines().nth(l - 1))
            .is_some_and(|l| l.trim_start().starts_with('['));
        let name = name.trim_matches(|c| c == '[' || c == ']').trim();
        let table = line.and_then(|l| enclosing_table(text, l));
        let full = match table {
            Some(t) if !header && !name.starts_with(&format!("{t}.")) => format!("{t}.{name}"),
            _ => name.to_string(),
        };
        message = if header {
            format!("TOML syntax error: duplicate table `[{full}]` (write each table once)")
        } else {
            format!(
                "TOML syntax error: duplicate key `{full}` (a key may appear only once in a \
                 table; keep one of them)"
            )
        };
        key = Some(full);
    }
    Problem {
        key,
        line,
        column,
        message,
    }
}

/// The `[table]` header in force at 1-based `line` (the nearest one above it), if any.
fn enclosing_table(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line.saturating_sub(1))
        .filter_map(|l| {
            let l = l.trim();
            (l.starts_with('[') && !l.starts_with("[["))
                .then(|| {
                    l.trim_start_matches('[')
                        .split(']')
                        .next()
                        .unwrap_or("")
                        .trim()
                })
                .map(str::to_string)
        })
        .last()
}

/// Removes the key at a dotted path; false when there is none.
fn remove_key(table: &mut dyn toml_edit::TableLike, path: &str) -> bool {
    match path.split_once('.') {
        None => table.remove(path).is_some(),
        Some((first, rest)) => table
            .get_mut(first)
            .and_then(|i| i.as_table_like_mut())
            .is_some_and(|t| remove_key(t, rest)),
    }
}

/// Serde names Rust types ("expected u32"); say what to write instead.
fn plain_type_names(message: &str) -> String {
    [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ]
    .iter()
    .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// Loads a file that must exist.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(&text, path)
}

/// Loads a file, or the defaults when it does not exist.
pub fn load_or_default(path: &Path) -> Result<Config, ConfigError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        _ => load_file(path),
    }
}

impl Config {
    /// Writes every key atomically (temp file, then rename), creating the directory.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let err = |source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        // Private whatever the umask: the file can name paths and listen addresses.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        let mut tmp = tempfile_in(dir, path).map_err(err)?;
        let text = format!(
            "# rogue-hunter configuration. Every key is optional; see README.md for each one.\n\n{}",
            self.to_toml()
        );
        tmp.1.write_all(text.as_bytes()).map_err(err)?;
        tmp.1.sync_all().map_err(err)?;
        std::fs::rename(&tmp.0, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp.0);
            err(e)
        })
    }
}

fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.toml".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    Ok((tmp, file))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Span of the key at a dotted path.
fn locate(table: &dyn TableLike, path: &str) -> Option<Range<usize>> {
    let (first, rest) = match path.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (path, None),
    };
    let (key, item) = table.get_key_value(first)?;
    match rest {
        None => key.span().or_else(|| item.span()),
        Some(rest) => item
            .as_table_like()
            .and_then(|t| locate(t, rest))
            .or_else(|| key.span()),
    }
}

/// The dotted path of the innermost key whose key or value covers a byte offset.
fn key_path_at(table: &dyn TableLike, offset: usize, prefix: &str) -> Option<String> {
    for (name, item) in table.iter() {
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        if let Some(inner) = item
            .as_table_like()
            .and_then(|t| key_path_at(t, offset, &path))
        {
            return Some(inner);
        }
        let key_span = table.key(name).and_then(|k| k.span());
        let covers =
            |s: Option<Range<usize>>| s.is_some_and(|s| s.start <= offset && offset < s.end);
        let value_span = match item {
            Item::Table(t) => t.span(),
            other => other.span(),
        };
        if covers(key_span) || covers(value_span) {
            return Some(path);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        match parse_str(text, Path::new("test.toml")) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("a\nbé = 1", 6), (2, 4));
        assert_eq!(line_col("x", 0), (1, 1));
    }

    #[test]
    fn empty_text_is_all_defaults() {
        assert_eq!(parse_str("", Path::new("x")).unwrap(), Config::default());
    }

    #[test]
    fn partial_tables_keep_other_defaults() {
        let c = parse_str(
            "[scoring.resource_weights]\ncpu = 1.5\ngpu = 4\n[tui.sparkline]\nheight = 4\n",
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(c.scoring.resource_weights.cpu, 1.5);
        assert_eq!(c.scoring.resource_weights.gpu, 4.0);
        assert_eq!(c.scoring.resource_weights.memory, 1.333333333);
        assert_eq!(c.tui.sparkline.height, 4);
        assert_eq!(
            c.tui.sparkline.direction,
            super::super::SparklineDirection::Rtl
        );
    }

    #[test]
    fn legacy_score_curve_multiplier_is_read() {
        let c = parse_str("[scoring]\nscore_curve_multiplier = 2.5\n", Path::new("x")).unwrap();
        assert_eq!(c.scoring.score_multiplier, 2.5);
    }

    #[test]
    fn colour_strings_are_kept_verbatim() {
        let c = parse_str(
            "[tui.colors.bands]\ncritical = \"magenta\"\n[tui.colors.trends]\nworsening = \"bold red\"\nstable = \"#FF00FF\"\n",
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(c.tui.colors.bands.critical, "magenta");
        assert_eq!(c.tui.colors.trends.worsening, "bold red");
        assert_eq!(c.tui.colors.trends.stable, "#FF00FF");
        assert_eq!(c.tui.colors.bands.low, "#50fa7b");
    }

    /// The acceptance table: each bad file is rejected with the key (and position) named.
    #[test]
    fn bad_files_name_the_key_and_line() {
        let cases: &[(&str, &str, Option<&str>, usize)] = &[
            ("syntax", "[bands]\nmedium = = 3\n", None, 2),
            (
                "wrong type",
                "[bands]\nmedium = \"forty\"\n",
                Some("bands.medium"),
                2,
            ),
            (
                "unknown key",
                "[system]\nsample_intervall = 1.0\n",
                Some("system.sample_intervall"),
                2,
            ),
            (
                "unknown section",
                "[sampling]\nrate = 3\n",
                Some("sampling"),
                1,
            ),
            (
                "unknown band name",
                "[bands]\ntracking_band = \"elavated\"\n",
                Some("bands.tracking_band"),
                2,
            ),
            (
                "thresholds out of order",
                "[bands]\nmedium = 40\nelevated = 30\n",
                Some("bands.elevated"),
                3,
            ),
            (
                "interval 0",
                "[system]\nsample_interval = 0\n",
                Some("system.sample_interval"),
                2,
            ),
            (
                "checkpoint 0",
                "[bands]\nmedium_checkpoint_samples = 0\n",
                Some("bands.medium_checkpoint_samples"),
                2,
            ),
            (
                "negative delay",
                "[tui]\nreconnect_initial_delay = -1.0\n",
                Some("tui.reconnect_initial_delay"),
                2,
            ),
            (
                "bad colour",
                "[tui.colors.pid]\ndefault = \"blurple\"\n",
                Some("tui.colors.pid.default"),
                2,
            ),
            (
                "bad orientation",
                "[tui.sparkline]\norientation = \"sideways\"\n",
                Some("tui.sparkline.orientation"),
                2,
            ),
            (
                "bad listen address",
                "[metrics]\nlisten = \"localhost\"\n",
                Some("metrics.listen"),
                2,
            ),
            (
                "negative count",
                "[retention]\nevents_days = -5\n",
                Some("retention.events_days"),
                2,
            ),
            (
                "forensics band name",
                "[bands]\nforensics_band = \"hihg\"\n",
                Some("bands.forensics_band"),
                2,
            ),
            (
                "band colour without colour",
                "[tui.colors.bands]\nhigh = \"bold\"\n",
                Some("tui.colors.bands.high"),
                2,
            ),
            (
                "dotted key",
                "bands.critical = 101\n",
                Some("bands.critical"),
                1,
            ),
        ];
        for (name, text, key, line) in cases {
            let ps = problems(text);
            assert_eq!(ps.len(), 1, "{name}: {ps:?}");
            let p = &ps[0];
            assert_eq!(p.key.as_deref(), *key, "{name}: {p}");
            assert_eq!(p.line, Some(*line), "{name}: {p}");
            assert!(p.column.is_some(), "{name}: {p}");
        }
    }

    /// Issue 14, item 12: unknown keys, wrong types and ranges all in one run, in file order.
    #[test]
    fn unknown_keys_types_and_ranges_are_all_reported_in_one_run() {
        let ps = problems(
            "[system]\nsample_intervall = 1.0\nheartbeat_samples = \"x\"\n[bands]\n\
             medium = \"forty\"\nhigh = 500\n[nosuch]\na = 1\n[tui.sparkline]\nheight = 9\n",
        );
        let got: Vec<(Option<usize>, &str)> = ps
            .iter()
            .map(|p| (p.line, p.key.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            got,
            [
                (Some(2), "system.sample_intervall"),
                (Some(3), "system.heartbeat_samples"),
                (Some(5), "bands.medium"),
                (Some(6), "bands.high"),
                (Some(7), "nosuch"),
                (Some(10), "tui.sparkline.height"),
            ],
            "{ps:?}"
        );
        assert!(ps[0].message.contains("unknown field"), "{}", ps[0]);
        assert!(ps[1].message.contains("invalid type"), "{}", ps[1]);
        assert!(ps[5].message.contains("between 1 and 4"), "{}", ps[5]);
    }

    #[test]
    fn a_duplicate_is_named() {
        let ps = problems("[bands]\nmedium = 40\nmedium = 41\n");
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].key.as_deref(), Some("bands.medium"));
        assert_eq!(ps[0].line, Some(3));
        assert!(
            ps[0].message.contains("duplicate key `bands.medium`"),
            "{}",
            ps[0]
        );
        let ps = problems("[bands]\nmedium = 40\n[system]\n[bands]\nhigh = 60\n");
        assert!(
            ps[0].message.contains("duplicate table `[bands]`"),
            "{}",
            ps[0]
        );
        let ps = problems("top = 1\ntop = 2\n");
        assert_eq!(ps[0].key.as_deref(), Some("top"), "{}", ps[0]);
    }

    #[test]
    fn the_fix_hint_is_only_for_the_file_in_use() {
        let e = parse_str("[bands]\nmedium = 0\n", Path::new("other.toml")).unwrap_err();
        assert!(!e.to_string().contains("config edit"), "{e}");
        assert!(e.in_use().to_string().contains("rogue-hunter config edit"));
    }

    #[test]
    fn all_problems_are_reported_together() {
        let ps = problems("[system]\nsample_interval = 0\nheartbeat_samples = 0\n");
        let keys: Vec<_> = ps.iter().filter_map(|p| p.key.clone()).collect();
        assert_eq!(keys, ["system.sample_interval", "system.heartbeat_samples"]);
        assert_eq!(ps[1].line, Some(3));
    }
}
