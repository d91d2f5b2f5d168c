//! Opening the database: the read-write connection of the daemon (created or migrated here) and
//! read-only connections for the CLI and TUI.
//!
//! A file is inspected before anything can write to it: the 16-byte SQLite header is checked by
//! hand, and the version is read through an `immutable` read-only connection (no lock, no
//! `-wal`/`-shm` files) unless a `-wal` file shows the database is live. Only a new file, a v21
//! file or a migratable one is ever opened read-write; everything else is refused untouched.

use super::error::{Context, Result, StoreError};
use super::migrate::{self, MigrationReport};
use super::schema::{self, DbVersion, OLDEST_MIGRATABLE, SCHEMA_VERSION};
use rusqlite::{Connection, OpenFlags};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a connection waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL file is truncated back to this size after checkpoints (the original's 16 MiB).
pub const JOURNAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What is at a database path, learned without writing to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Nothing there yet.
    Missing,
    /// A zero-length file or a SQLite file without tables.
    Empty,
    /// A versioned rogue-hunter database.
    Version(i64),
}

/// What opening for writing did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpenReport {
    /// The schema was created (new or empty file).
    pub created: bool,
    /// The file was migrated from an older schema.
    pub migration: Option<MigrationReport>,
    /// SQLite could only open the file read-only: every write will fail (and be counted).
    pub read_only: bool,
}

/// Inspects `path` without modifying it (no write, no lock, no side files).
pub fn inspect(path: &Path) -> Result<FileState> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_file() {
        return Err(StoreError::NotSqlite {
            path: path.to_path_buf(),
            detail: "not a regular file".to_string(),
        });
    }
    if meta.len() == 0 {
        return Ok(FileState::Empty);
    }
    check_header(path)?;
    let conn = open_for_inspection(path)?;
    let version = schema::detect_version(&conn).map_err(|e| classify_open_error(path, e))?;
    Ok(match version {
        DbVersion::Empty => FileState::Empty,
        DbVersion::Version(v) => FileState::Version(v),
        DbVersion::Unversioned { detail } => {
            return Err(StoreError::Foreign {
                path: path.to_path_buf(),
                detail,
            });
        }
    })
}

fn check_header(path: &Path) -> Result<()> {
    let io_err = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut header = [0u8; 100];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]).map_err(io_err)? {
            0 => break,
            n => read += n,
        }
    }
    if read < header.len() || &header[..16] != SQLITE_MAGIC {
        return Err(StoreError::NotSqlite {
            path: path.to_path_buf(),
            detail: if read < header.len() {
                format!("only {read} bytes, shorter than a SQLite header")
            } else {
                "no SQLite header".to_string()
            },
        });
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// `file:` URI with the characters SQLite's URI parser treats specially escaped.
fn file_uri(path: &Path, query: &str) -> String {
    let mut uri = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(char::from(b)),
        }
    }
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(query);
    }
    uri
}

fn open_for_inspection(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // Without a WAL file every committed page is in the main file, so reading it as immutable
    // is exact and leaves no trace; with one, the database is live and must be read normally.
    let query = if sibling(path, "-wal").exists() {
        "mode=ro"
    } else {
        "immutable=1"
    };
    Connection::open_with_flags(file_uri(path, query), flags)
        .map_err(|e| classify_open_error(path, e))
}

/// The header was checked first: "not a database" means not SQLite, "corrupt" a damaged one.
fn classify_open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(ffi, _) = &e {
        match ffi.code {
            rusqlite::ErrorCode::NotADatabase => {
                return StoreError::NotSqlite {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                };
            }
            rusqlite::ErrorCode::DatabaseCorrupt => {
                return StoreError::Damaged {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                };
            }
            _ => {}
        }
    }
    StoreError::Sqlite {
        context: format!("reading {}", path.display()),
        source: e,
    }
}

fn apply_common_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn apply_writer_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    apply_common_pragmas(conn)?;
    if !conn.is_readonly("main")? {
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let _limit: i64 = conn.query_row(
        &format!("PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}"),
        [],
        |r| r.get(0),
    )?;
    Ok(())
}

/// A schema newer than this build, or older than any migration, is refused (file untouched).
fn refuse_unknown_version(path: &Path, state: &FileState) -> Result<()> {
    match *state {
        FileState::Version(v) if v > SCHEMA_VERSION => Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        FileState::Version(v) if v < OLDEST_MIGRATABLE => Err(StoreError::TooOld {
            path: path.to_path_buf(),
            found: v,
            oldest: OLDEST_MIGRATABLE,
        }),
        _ => Ok(()),
    }
}

/// Creates a new database file, empty and private (0600, its directory 0700) whatever the
/// umask: SQLite gives the `-wal` and `-shm` files the database file's mode.
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        // Someone (another daemon start) made it meanwhile: SQLite opens what is there.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// SQLite creates `-wal` and `-shm` beside the database: without write access to the directory
/// (a read-only file system, say) it fails with a bare "unable to open database file".
fn check_writable_dir(path: &Path) -> Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| StoreError::Invalid(format!("a NUL byte in the path {}", dir.display())))?;
    // SAFETY: access(2) with a NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        return Ok(());
    }
    Err(StoreError::NotWritable {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        source: std::io::Error::last_os_error(),
    })
}

/// Problems `quick_check` lists before we stop reading them.
const QUICK_CHECK_LIMIT: u32 = 5;

/// `PRAGMA quick_check` through a read-only connection: a damaged file (pages overwritten,
/// truncated) is refused before anything writes to it. It reads every page, once per daemon
/// start (about 6 s per GiB on the 2-vCPU test VM, see BENCHMARKS.md).
pub fn quick_check(path: &Path) -> Result<()> {
    let damaged = |detail: String| StoreError::Damaged {
        path: path.to_path_buf(),
        detail,
    };
    let conn = open_for_inspection(path)?;
    let result = conn
        .prepare(&format!("PRAGMA quick_check({QUICK_CHECK_LIMIT})"))
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        });
    match result {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(()),
        Ok(lines) => Err(damaged(format!("integrity check: {}", lines.join("; ")))),
        Err(rusqlite::Error::SqliteFailure(f, msg))
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            Err(damaged(format!(
                "integrity check: {}",
                msg.unwrap_or_else(|| f.to_string())
            )))
        }
        Err(e) => Err(StoreError::Sqlite {
            context: format!("checking {}", path.display()),
            source: e,
        }),
    }
}

/// Opens the daemon's read-write connection, creating the schema in a new file or migrating an
/// older one. Refuses (file untouched) a newer schema, a foreign database, a non-SQLite file or
/// a damaged one ([`quick_check`]).
pub fn open_writer(path: &Path, now: f64) -> Result<(Connection, OpenReport)> {
    let state = inspect(path)?;
    refuse_unknown_version(path, &state)?;
    if let FileState::Version(_) = state {
        quick_check(path)?;
    }
    if state != FileState::Missing {
        check_writable_dir(path)?;
    }
    if state == FileState::Missing {
        create_private(path)?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(path, flags).ctx(&format!("opening {}", path.display()))?;
    apply_writer_pragmas(&conn).ctx("setting connection options")?;
    let mut report = OpenReport {
        read_only: conn.is_readonly("main").unwrap_or(false),
        ..OpenReport::default()
    };
    match state {
        FileState::Missing | FileState::Empty => {
            schema::create_fresh(&mut conn, now).ctx("creating the schema")?;
            report.created = true;
        }
        FileState::Version(v) if v < SCHEMA_VERSION => {
            let m =
                migrate::migrate(&mut conn, v, now).map_err(|source| StoreError::Migration {
                    path: path.to_path_buf(),
                    from: v,
                    to: SCHEMA_VERSION,
                    source,
                })?;
            report.migration = Some(m);
        }
        FileState::Version(_) => {}
    }
    Ok((conn, report))
}

/// Opens a read-only connection (`query_only`, foreign keys on, busy timeout) for the CLI and
/// TUI. The database must exist and be at [`SCHEMA_VERSION`].
pub fn open_reader(path: &Path) -> Result<Connection> {
    let state = inspect(path)?;
    refuse_unknown_version(path, &state)?;
    match state {
        FileState::Missing | FileState::Empty => {
            return Err(StoreError::NotFound(path.to_path_buf()));
        }
        FileState::Version(v) if v < SCHEMA_VERSION => {
            return Err(StoreError::NeedsMigration {
                path: path.to_path_buf(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        FileState::Version(_) => {}
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(file_uri(path, "mode=ro"), flags)
        .map_err(|e| classify_open_error(path, e))?;
    apply_common_pragmas(&conn).ctx("setting connection options")?;
    conn.pragma_update(None, "query_only", true)
        .ctx("setting connection options")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_what_sqlite_would_parse() {
        assert_eq!(
            file_uri(Path::new("/a b/c?d#e%f.db"), "mode=ro"),
            "file:/a b/c%3Fd%23e%25f.db?mode=ro"
        );
    }
}
