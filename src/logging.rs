//! Logging: one `tracing` event stream, two renderers. The console gets readable lines; the
//! daemon also writes JSON lines (RFC 3339 timestamps with the UTC offset) to a file that rotates
//! by size and can be reopened on SIGHUP.

use crate::escape::Escaped;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

/// Environment variable holding a `tracing` filter (`debug`, `rogue_hunter=trace`, …).
pub const LOG_ENV: &str = "ROGUE_HUNTER_LOG";

/// RFC 3339 local time with microseconds and the offset: `2026-11-26T06:14:39.123456+00:00`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rfc3339Local;

impl FormatTime for Rfc3339Local {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        w.write_str(&chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
    }
}

/// Short local clock time for console lines.
#[derive(Debug, Clone, Copy, Default)]
struct ClockTime;

impl FormatTime for ClockTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", chrono::Local::now().format("%H:%M:%S"))
    }
}

struct FileState {
    file: File,
    size: u64,
}

/// A log file that rotates at `max_bytes`, keeping `backups` old files (`.1` newest).
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    backups: u32,
    state: Mutex<FileState>,
}

impl RotatingFile {
    /// Opens (appending to) `path`, creating its directory.
    pub fn open(path: &Path, max_bytes: u64, backups: u32) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            backups,
            state: Mutex::new(FileState { file, size }),
        })
    }

    /// Reopens the file at its path (after an external rotation moved it away).
    pub fn reopen(&self) -> io::Result<()> {
        let file = open_append(&self.path)?;
        let size = file.metadata()?.len();
        *self.lock() = FileState { file, size };
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, FileState> {
        // A panic while holding the lock leaves only a half-written line behind; keep logging.
        crate::sync::lock(&self.state)
    }

    fn rotate(&self, state: &mut FileState) -> io::Result<()> {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.backups == 0 {
            state.file = OpenOptions::new()
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&self.path)?;
        } else {
            let _ = std::fs::remove_file(numbered(self.backups));
            for n in (1..self.backups).rev() {
                let _ = std::fs::rename(numbered(n), numbered(n + 1));
            }
            std::fs::rename(&self.path, numbered(1))?;
            state.file = open_append(&self.path)?;
        }
        state.size = 0;
        Ok(())
    }

    fn write_record(&self, buf: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        if state.size > 0 && state.size + buf.len() as u64 > self.max_bytes {
            // If rotation fails (say, a read-only directory) keep appending rather than lose lines.
            let _ = self.rotate(&mut state);
        }
        state.file.write_all(buf)?;
        state.size += buf.len() as u64;
        Ok(())
    }
}

/// Opens for appending; a new file is private (0600) whatever the umask.
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// The writer `tracing` gets for one event.
pub struct RotatingWriter(Arc<RotatingFile>);

impl Write for RotatingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_record(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for RotatingFileHandle {
    type Writer = RotatingWriter;
    fn make_writer(&'a self) -> Self::Writer {
        RotatingWriter(self.0.clone())
    }
}

/// A shared handle to the log file; the daemon keeps one to reopen the file on SIGHUP.
#[derive(Clone)]
pub struct RotatingFileHandle(pub Arc<RotatingFile>);

impl RotatingFileHandle {
    /// Reopens the file at its path.
    pub fn reopen(&self) -> io::Result<()> {
        self.0.reopen()
    }
}

/// Colours only for a terminal (and never with `NO_COLOR` set), not for files and journals.
fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(default))
}

/// How console lines render fields: `message` as text, the rest as `key=value` (quoted when
/// the value has spaces), every value escaped ([`Escaped`]). Process names, client messages and
/// error texts come from outside; raw, a newline in one would forge a log line and an escape
/// sequence would reach the terminal (`tracing`'s own escaping leaves newlines alone).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleFields;

impl<'w> FormatFields<'w> for ConsoleFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> std::fmt::Result {
        let mut v = ConsoleVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct ConsoleVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: std::fmt::Result,
}

impl ConsoleVisitor<'_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        let value = Escaped(value);
        self.result = if field.name() == "message" {
            write!(self.writer, "{sep}{value}")
        } else if needs_quotes(value.0) {
            let quoted = value.to_string().replace('"', "\\\"");
            write!(self.writer, "{sep}{}=\"{quoted}\"", field.name())
        } else {
            write!(self.writer, "{sep}{}={value}", field.name())
        };
    }
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '=')
}

impl Visit for ConsoleVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

/// The console layer: readable lines with escaped fields, colours only on a terminal.
fn console_layer<S, W>(writer: W, ansi: bool) -> impl Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false)
        .with_timer(ClockTime)
        .fmt_fields(ConsoleFields)
}

/// Console-only logging for CLI commands: warnings and errors unless `ROGUE_HUNTER_LOG` says more.
pub fn init_cli() {
    let layer = fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(stderr_is_terminal())
        .with_target(false)
        .without_time()
        .fmt_fields(ConsoleFields);
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter("warn")))
        .try_init();
}

/// Daemon logging: readable lines on stderr plus the rotating JSON-lines file.
pub fn init_daemon(
    log_file: &Path,
    max_bytes: u64,
    backups: u32,
) -> io::Result<RotatingFileHandle> {
    let handle = RotatingFileHandle(Arc::new(RotatingFile::open(log_file, max_bytes, backups)?));
    let console = console_layer(io::stderr, stderr_is_terminal());
    let json = fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_timer(Rfc3339Local)
        .with_writer(handle.clone());
    let _ = tracing_subscriber::registry()
        .with(console.with_filter(filter("info")))
        .with(json.with_filter(filter("info")))
        .try_init();
    Ok(handle)
}

/// What a `tracing` writer got, for tests of log lines.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

#[cfg(test)]
impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rotates_by_size_and_keeps_the_configured_backups() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("daemon.log");
        let f = Arc::new(RotatingFile::open(&path, 100, 2).unwrap());
        let mut w = RotatingWriter(f);
        for i in 0..20 {
            w.write_all(format!("{{\"line\":{i:04},\"pad\":\"xxxxxxxxxxxxxxxx\"}}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(
            files(t.path()),
            ["daemon.log", "daemon.log.1", "daemon.log.2"]
        );
        for name in files(t.path()) {
            let len = std::fs::metadata(t.path().join(&name)).unwrap().len();
            assert!(len <= 100, "{name} is {len} bytes");
        }
        // The newest line is in the live file, the one before in .1: nothing is split.
        let live = std::fs::read_to_string(&path).unwrap();
        assert!(live.ends_with("\"line\":0019,\"pad\":\"xxxxxxxxxxxxxxxx\"}\n"));
        let old = std::fs::read_to_string(t.path().join("daemon.log.1")).unwrap();
        assert!(old.lines().all(|l| l.starts_with('{') && l.ends_with('}')));
    }

    #[test]
    fn zero_backups_truncates_in_place() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("daemon.log");
        let mut w = RotatingWriter(Arc::new(RotatingFile::open(&path, 50, 0).unwrap()));
        for _ in 0..10 {
            w.write_all(&[b'x'; 20]).unwrap();
        }
        assert_eq!(files(t.path()), ["daemon.log"]);
        assert!(std::fs::metadata(&path).unwrap().len() <= 50);
    }

    #[test]
    fn reopen_follows_an_external_rotation() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("daemon.log");
        let handle = RotatingFileHandle(Arc::new(RotatingFile::open(&path, 1 << 20, 3).unwrap()));
        handle.make_writer().write_all(b"before\n").unwrap();
        std::fs::rename(&path, t.path().join("moved.log")).unwrap();
        handle.reopen().unwrap();
        handle.make_writer().write_all(b"after\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
        assert_eq!(
            std::fs::read_to_string(t.path().join("moved.log")).unwrap(),
            "before\n"
        );
    }

    #[test]
    fn console_lines_escape_outside_text() {
        let out = Captured::default();
        let w = out.clone();
        let subscriber =
            tracing_subscriber::registry().with(console_layer(move || w.clone(), false));
        let name = "evil\x1b[2J\nFAKE 00:00:00 ERROR forged";
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(command = %name, pid = 42, "client: {name}");
        });
        let text = out.text();
        assert_eq!(text.lines().count(), 1, "one event, one line: {text:?}");
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.contains("client: evil\\x1b[2J\\nFAKE"), "{text}");
        assert!(
            text.contains(r#"command="evil\x1b[2J\nFAKE 00:00:00 ERROR forged""#),
            "{text}"
        );
        assert!(text.contains(" pid=42"), "{text}");
        let out = Captured::default();
        let w = out.clone();
        let subscriber =
            tracing_subscriber::registry().with(console_layer(move || w.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(path = "/x", quote = "say \"hi\"", empty = "", "plain");
        });
        let text = out.text();
        assert!(
            text.ends_with("plain path=/x quote=\"say \\\"hi\\\"\" empty=\"\"\n"),
            "{text}"
        );
    }

    #[test]
    fn json_lines_carry_rfc3339_timestamps_with_offset() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("daemon.log");
        let handle = RotatingFileHandle(Arc::new(RotatingFile::open(&path, 1 << 20, 1).unwrap()));
        let subscriber = tracing_subscriber::registry().with(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_timer(Rfc3339Local)
                .with_writer(handle),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(pid = 42, "tracking_started");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "tracking_started");
        assert_eq!(line["pid"], 42);
        let ts = line["timestamp"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(ts).unwrap();
        assert!(ts.ends_with(&parsed.offset().to_string()), "{ts}");
        assert!((chrono::Utc::now() - parsed.to_utc()).num_seconds().abs() < 60);
    }
}
