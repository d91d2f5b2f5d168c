//! Errors of the storage layer. Every variant says what happened to the file, because the one
//! promise that matters to a user is "your data was not touched".

use std::path::PathBuf;

/// What can go wrong opening, migrating, reading or writing the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database not found at {0}; run 'rogue-hunter daemon' first")]
    NotFound(PathBuf),

    #[error("{path} is not a SQLite database ({detail}); it was left untouched")]
    NotSqlite { path: PathBuf, detail: String },

    #[error(
        "{path} is a SQLite database but not a rogue-hunter one ({detail}); it was left untouched"
    )]
    Foreign { path: PathBuf, detail: String },

    #[error(
        "{path} has schema version {found}, newer than this rogue-hunter understands \
         ({supported}); upgrade rogue-hunter. The file was left untouched"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "{path} has schema version {found}, which cannot be migrated (the oldest supported is \
         {oldest}); the file was left untouched"
    )]
    TooOld {
        path: PathBuf,
        found: i64,
        oldest: i64,
    },

    #[error(
        "cannot write in {dir} ({source}), where the database and its -wal and -shm files live; \
         make it writable (a read-only file system must be remounted read-write). {path} was left \
         untouched"
    )]
    NotWritable {
        path: PathBuf,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{path} is damaged ({detail}); the daemon will not write to it. Move it aside and start \
         the daemon again to begin a new database: mv {path} {path}.damaged (sqlite3's .recover \
         can save what is readable from the copy). The file was left untouched"
    )]
    Damaged { path: PathBuf, detail: String },

    #[error(
        "{path} has schema version {found}; start the daemon once to migrate it to {supported}"
    )]
    NeedsMigration {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("migrating {path} from schema {from} to {to} failed, nothing was changed: {source}")]
    Migration {
        path: PathBuf,
        from: i64,
        to: i64,
        #[source]
        source: rusqlite::Error,
    },

    #[error("{context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the database writer has stopped")]
    WriterStopped,

    #[error("invalid data: {0}")]
    Invalid(String),
}

/// Result of the storage layer.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Adds a short "while doing what" to SQLite errors.
pub(crate) trait Context<T> {
    fn ctx(self, context: &str) -> Result<T>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn ctx(self, context: &str) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite {
            context: context.to_string(),
            source,
        })
    }
}

/// A problem with the data itself (a missing row, a broken tree), carried as a SQLite error so
/// the writer treats it like a constraint failure: that operation is skipped, the rest goes on.
#[derive(Debug)]
struct DataError(String);

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataError {}

pub(crate) fn data_error(msg: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(DataError(msg.into())))
}
