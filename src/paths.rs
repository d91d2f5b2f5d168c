//! Where rogue-hunter keeps its files (XDG directories per user, `/etc`, `/var/lib`, `/var/log`,
//! `/run` with `--system`), and the private runtime directory.
//!
//! User mode follows the XDG base directories; system mode (`--system`, for root) uses
//! `/etc`, `/var/lib`, `/var/log` and `/run`.

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const APP: &str = "rogue-hunter";

/// Every file location, resolved once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub system: bool,
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    pub db_file: PathBuf,
    pub state_dir: PathBuf,
    pub log_file: PathBuf,
    /// Private (0700) directory for the socket, the lock and capture temp files.
    pub runtime_dir: PathBuf,
    pub socket: PathBuf,
    pub lock_file: PathBuf,
}

/// Why a path could not be resolved or trusted.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error(
        "cannot find your home directory: set HOME (or XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_STATE_HOME)"
    )]
    NoHome,
    #[error("{path} is a symlink; refusing to use it as the runtime directory (remove it)")]
    Symlink { path: PathBuf },
    #[error("{path} exists but is not a directory (remove it)")]
    NotADirectory { path: PathBuf },
    #[error(
        "{path} is owned by uid {owner}, not by you (uid {uid}); refusing to use it (remove it, or set XDG_RUNTIME_DIR)"
    )]
    WrongOwner { path: PathBuf, owner: u32, uid: u32 },
    #[error(
        "{path} can be written by other users (mode {mode:04o}); refusing to use it (remove it, or let rogue-hunter daemon recreate it)"
    )]
    WritableByOthers { path: PathBuf, mode: u32 },
    #[error("cannot check {path}: {source}")]
    Check {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Paths {
    /// Resolves the paths from this process's environment.
    pub fn resolve(system: bool) -> Result<Paths, PathsError> {
        if system {
            return Ok(Self::system_paths());
        }
        Self::from_env(|k| std::env::var_os(k), effective_uid())
    }

    /// The fixed system-mode paths.
    pub fn system_paths() -> Paths {
        Self::assemble(
            true,
            PathBuf::from("/etc").join(APP),
            PathBuf::from("/var/lib").join(APP),
            PathBuf::from("/var/log").join(APP),
            PathBuf::from("/run").join(APP),
        )
    }

    /// User-mode paths from an environment lookup (injectable for tests).
    pub fn from_env(env: impl Fn(&str) -> Option<OsString>, uid: u32) -> Result<Paths, PathsError> {
        let absolute = |k: &str| env(k).map(PathBuf::from).filter(|p| p.is_absolute());
        let home = || {
            absolute("HOME")
                .or_else(home_from_passwd)
                .ok_or(PathsError::NoHome)
        };
        let base = |var: &str, fallback: &[&str]| -> Result<PathBuf, PathsError> {
            match absolute(var) {
                Some(p) => Ok(p),
                None => Ok(fallback.iter().fold(home()?, |p, s| p.join(s))),
            }
        };
        let config = base("XDG_CONFIG_HOME", &[".config"])?.join(APP);
        let data = base("XDG_DATA_HOME", &[".local", "share"])?.join(APP);
        let state = base("XDG_STATE_HOME", &[".local", "state"])?.join(APP);
        let runtime = match absolute("XDG_RUNTIME_DIR") {
            Some(p) => p.join(APP),
            None => PathBuf::from(format!("/tmp/{APP}-{uid}")),
        };
        Ok(Self::assemble(false, config, data, state, runtime))
    }

    fn assemble(
        system: bool,
        config_dir: PathBuf,
        data_dir: PathBuf,
        state_dir: PathBuf,
        runtime_dir: PathBuf,
    ) -> Paths {
        Paths {
            system,
            config_file: config_dir.join("config.toml"),
            db_file: data_dir.join("data.db"),
            data_dir,
            log_file: state_dir.join("daemon.log"),
            state_dir,
            socket: runtime_dir.join("daemon.sock"),
            lock_file: runtime_dir.join("daemon.lock"),
            runtime_dir,
        }
    }

    /// Replaces the config file location (`--config`).
    pub fn with_config_file(mut self, file: PathBuf) -> Paths {
        self.config_file = file;
        self
    }

    /// Creates the runtime directory 0700 if needed and checks it is ours and not a symlink.
    pub fn ensure_runtime_dir(&self) -> Result<(), PathsError> {
        ensure_private_dir(&self.runtime_dir, effective_uid())
    }

    /// The uid the daemon of these paths runs as: root for `--system`, else this user. Clients
    /// accept a runtime directory and a peer only from this uid.
    pub fn daemon_uid(&self) -> u32 {
        if self.system { 0 } else { effective_uid() }
    }
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn home_from_passwd() -> Option<PathBuf> {
    let uid = effective_uid();
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the duration of the call and buf's length is passed.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into buf and is NUL-terminated by getpwuid_r.
    let dir = unsafe { std::ffi::CStr::from_ptr(pwd.pw_dir) };
    let p = PathBuf::from(std::ffi::OsStr::new(
        std::str::from_utf8(dir.to_bytes()).ok()?,
    ));
    p.is_absolute().then_some(p)
}

/// Creates `dir` with mode 0700 (parents must exist), or verifies an existing one: not a
/// symlink, a directory, owned by `uid`. A wider mode on our own directory is tightened.
pub fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), PathsError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(PathsError::Create {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|source| PathsError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    check_owned_dir(dir, &meta, uid)?;
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
            |source| PathsError::Create {
                path: dir.to_path_buf(),
                source,
            },
        )?;
    }
    Ok(())
}

/// What a client checks before it talks to whatever listens in `dir`: the daemon's checks
/// (not a symlink, a directory, owned by `uid`) without creating or changing anything, and no
/// write access for others (who could have replaced the socket). `Ok(false)` when `dir` does
/// not exist (no daemon ran there).
pub fn check_private_dir(dir: &Path, uid: u32) -> Result<bool, PathsError> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(PathsError::Check {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    check_owned_dir(dir, &meta, uid)?;
    if meta.mode() & 0o022 != 0 {
        return Err(PathsError::WritableByOthers {
            path: dir.to_path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(true)
}

/// Not a symlink, a directory, owned by `uid`.
fn check_owned_dir(dir: &Path, meta: &std::fs::Metadata, uid: u32) -> Result<(), PathsError> {
    if meta.file_type().is_symlink() {
        return Err(PathsError::Symlink {
            path: dir.to_path_buf(),
        });
    }
    if !meta.is_dir() {
        return Err(PathsError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    if meta.uid() != uid {
        return Err(PathsError::WrongOwner {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            uid,
        });
    }
    Ok(())
}

/// Creates a data or state directory (and its parents), private to the owner.
pub fn ensure_dir(dir: &Path) -> Result<(), PathsError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PathsError::Create {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn home_defaults() {
        let p = Paths::from_env(env(&[("HOME", "/home/u")]), 1000).unwrap();
        assert_eq!(
            p.config_file,
            Path::new("/home/u/.config/rogue-hunter/config.toml")
        );
        assert_eq!(
            p.db_file,
            Path::new("/home/u/.local/share/rogue-hunter/data.db")
        );
        assert_eq!(
            p.log_file,
            Path::new("/home/u/.local/state/rogue-hunter/daemon.log")
        );
        assert_eq!(p.runtime_dir, Path::new("/tmp/rogue-hunter-1000"));
        assert_eq!(p.socket, Path::new("/tmp/rogue-hunter-1000/daemon.sock"));
        assert!(!p.system);
    }

    #[test]
    fn xdg_variables_move_every_path() {
        let p = Paths::from_env(
            env(&[
                ("HOME", "/home/u"),
                ("XDG_CONFIG_HOME", "/x/c"),
                ("XDG_DATA_HOME", "/x/d"),
                ("XDG_STATE_HOME", "/x/s"),
                ("XDG_RUNTIME_DIR", "/x/r"),
            ]),
            1000,
        )
        .unwrap();
        assert_eq!(p.config_file, Path::new("/x/c/rogue-hunter/config.toml"));
        assert_eq!(p.data_dir, Path::new("/x/d/rogue-hunter"));
        assert_eq!(p.db_file, Path::new("/x/d/rogue-hunter/data.db"));
        assert_eq!(p.state_dir, Path::new("/x/s/rogue-hunter"));
        assert_eq!(p.log_file, Path::new("/x/s/rogue-hunter/daemon.log"));
        assert_eq!(p.runtime_dir, Path::new("/x/r/rogue-hunter"));
        assert_eq!(p.socket, Path::new("/x/r/rogue-hunter/daemon.sock"));
        assert_eq!(p.lock_file, Path::new("/x/r/rogue-hunter/daemon.lock"));
    }

    #[test]
    fn relative_xdg_values_are_ignored_as_the_spec_says() {
        let p = Paths::from_env(env(&[("HOME", "/h"), ("XDG_DATA_HOME", "rel")]), 5).unwrap();
        assert_eq!(p.data_dir, Path::new("/h/.local/share/rogue-hunter"));
    }

    #[test]
    fn system_paths() {
        let p = Paths::system_paths();
        assert_eq!(p.config_file, Path::new("/etc/rogue-hunter/config.toml"));
        assert_eq!(p.db_file, Path::new("/var/lib/rogue-hunter/data.db"));
        assert_eq!(p.log_file, Path::new("/var/log/rogue-hunter/daemon.log"));
        assert_eq!(p.socket, Path::new("/run/rogue-hunter/daemon.sock"));
    }

    #[test]
    fn runtime_dir_is_created_private() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("rt");
        ensure_private_dir(&dir, effective_uid()).unwrap();
        let m = std::fs::metadata(&dir).unwrap();
        assert_eq!(m.mode() & 0o777, 0o700);
        // An existing directory of ours with a wide mode is tightened.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir, effective_uid()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn runtime_dir_symlink_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        let link = t.path().join("rt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = ensure_private_dir(&link, effective_uid()).unwrap_err();
        assert!(matches!(err, PathsError::Symlink { .. }), "{err}");
    }

    #[test]
    fn runtime_dir_of_another_owner_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("rt");
        std::fs::create_dir(&dir).unwrap();
        let owner = std::fs::metadata(&dir).unwrap().uid();
        // Pretend to be someone else: the directory's owner is not "us".
        let err = ensure_private_dir(&dir, owner + 1).unwrap_err();
        assert!(matches!(err, PathsError::WrongOwner { .. }), "{err}");
        assert!(err.to_string().contains("not by you"));
    }

    #[test]
    fn runtime_dir_chowned_away_is_refused_for_real() {
        if effective_uid() != 0 {
            eprintln!("skipped: needs root to chown a directory to another user");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("rt");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let err = ensure_private_dir(&dir, 0).unwrap_err();
        assert!(
            matches!(err, PathsError::WrongOwner { owner: 65534, .. }),
            "{err}"
        );
    }

    #[test]
    fn clients_check_without_creating_or_changing() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("rt");
        let me = effective_uid();
        assert!(
            !check_private_dir(&dir, me).unwrap(),
            "missing is not an error"
        );
        assert!(!dir.exists(), "and is not created");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(check_private_dir(&dir, me).unwrap());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o757)).unwrap();
        let err = check_private_dir(&dir, me).unwrap_err();
        assert!(
            matches!(err, PathsError::WritableByOthers { mode: 0o757, .. }),
            "{err}"
        );
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o757);
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(matches!(
            check_private_dir(&link, me),
            Err(PathsError::Symlink { .. })
        ));
        assert!(matches!(
            check_private_dir(&dir, me + 1),
            Err(PathsError::WrongOwner { .. })
        ));
    }

    #[test]
    fn a_file_in_the_way_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("rt");
        std::fs::write(&f, b"x").unwrap();
        assert!(matches!(
            ensure_private_dir(&f, effective_uid()),
            Err(PathsError::NotADirectory { .. })
        ));
    }
}
