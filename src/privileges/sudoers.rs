//! The macOS sudoers rule that lets the daemon run `tailspin save` as root without a password,
//! with one fixed argument list: the trace always goes to the same file in the user's private
//! runtime directory, and the daemon moves it aside after each save. No wildcard, so the rule
//! cannot be stretched to other arguments or paths (the original's `-o /tmp/rogue-hunter/*`
//! matched spaces and `..`).
//!
//! Pure text generation, tested on every platform; installing it is macOS-only (`cli::perms`).

use std::path::{Path, PathBuf};

/// Where the rule lives.
pub const SUDOERS_FILE: &str = "/etc/sudoers.d/rogue-hunter";
/// The only program the rule allows.
pub const TAILSPIN: &str = "/usr/bin/tailspin";
/// The fixed file name `tailspin save` writes inside the runtime directory.
pub const TAILSPIN_FILE_NAME: &str = "capture.tailspin";

/// The one file `tailspin save` may write: `<runtime dir>/capture.tailspin`.
pub fn tailspin_output(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(TAILSPIN_FILE_NAME)
}

/// The exact command line the daemon runs to save a trace (`sudo -n` never prompts). After it
/// succeeds, the daemon renames the file (e.g. to `capture_<id>.tailspin`) before decoding it,
/// so the next save finds the path free.
pub fn tailspin_save_command(runtime_dir: &Path) -> Vec<String> {
    vec![
        "sudo".into(),
        "-n".into(),
        TAILSPIN.into(),
        "save".into(),
        "-o".into(),
        tailspin_output(runtime_dir).to_string_lossy().into_owned(),
    ]
}

/// Input that cannot be written safely into a sudoers rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "user name '{0}' cannot go into a sudoers rule (only letters, digits, '.', '_' and '-')"
    )]
    User(String),
    #[error(
        "path '{0}' cannot go into a sudoers rule: it must be absolute and use only letters, digits, '/', '.', '_' and '-'"
    )]
    Path(String),
}

/// The text of `/etc/sudoers.d/rogue-hunter` for `user` (uid `uid`) whose daemon saves
/// tailspin traces to `output`.
pub fn rule(user: &str, uid: u32, output: &Path) -> Result<String, RuleError> {
    let user_ok = !user.is_empty()
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !user_ok {
        return Err(RuleError::User(user.to_string()));
    }
    let path = output.to_string_lossy();
    let path_ok = output.is_absolute()
        && !path.split('/').any(|part| part == "..")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
    if !path_ok {
        return Err(RuleError::Path(path.into_owned()));
    }
    Ok(format!(
        "# Written by `rogue-hunter perms install` for {user} (uid {uid}).\n\
         # Lets the rogue-hunter daemon save a tailspin trace, to this one file only, as root and\n\
         # without a password. Remove it with `sudo rogue-hunter perms uninstall`.\n\
         {user} ALL=(root) NOPASSWD: {TAILSPIN} save -o {path}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_names_one_exact_command() {
        let out = tailspin_output(Path::new("/tmp/rogue-hunter-501"));
        let text = rule("alice", 501, &out).unwrap();
        assert_eq!(
            text,
            "# Written by `rogue-hunter perms install` for alice (uid 501).\n\
             # Lets the rogue-hunter daemon save a tailspin trace, to this one file only, as root and\n\
             # without a password. Remove it with `sudo rogue-hunter perms uninstall`.\n\
             alice ALL=(root) NOPASSWD: /usr/bin/tailspin save -o /tmp/rogue-hunter-501/capture.tailspin\n"
        );
        assert!(!text.contains('*'), "no wildcard");
    }

    #[test]
    fn the_daemon_runs_exactly_what_the_rule_allows() {
        let dir = Path::new("/Users/alice/run/rogue-hunter");
        let cmd = tailspin_save_command(dir);
        assert_eq!(cmd[..2], ["sudo", "-n"]);
        let text = rule("alice", 501, &tailspin_output(dir)).unwrap();
        let allowed = text
            .lines()
            .last()
            .unwrap()
            .split("NOPASSWD: ")
            .nth(1)
            .unwrap();
        assert_eq!(allowed, cmd[2..].join(" "));
    }

    #[test]
    fn unsafe_names_and_paths_are_refused() {
        let ok = Path::new("/tmp/x/capture.tailspin");
        for user in ["", "-x", "al ice", "root,bob", "a:b", "%admin"] {
            assert!(
                matches!(rule(user, 1, ok), Err(RuleError::User(_))),
                "{user}"
            );
        }
        for path in [
            "relative/capture.tailspin",
            "/tmp/a b/capture.tailspin",
            "/tmp/*/capture.tailspin",
            "/tmp/x/../etc/capture.tailspin",
            "/tmp/x,y/capture.tailspin",
            "/tmp/x=y/capture.tailspin",
        ] {
            assert!(
                matches!(rule("alice", 1, Path::new(path)), Err(RuleError::Path(_))),
                "{path}"
            );
        }
    }
}
