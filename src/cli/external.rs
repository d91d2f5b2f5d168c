//! Running the system's own tools (`systemctl`, `launchctl`, `visudo`, `sudo`) for the service
//! and perms commands: stdin closed, output captured, and a failure described in one line.

use std::process::{Command, Stdio};

/// Runs `program args`; `Ok(stdout)` on success, else `Err` with the exit status and stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let shown = || {
        std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", shown()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let detail = stderr.trim();
    let detail = if detail.is_empty() {
        stdout.trim()
    } else {
        detail
    };
    Err(format!("`{}` failed ({}): {detail}", shown(), out.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_failure_and_missing_programs() {
        assert_eq!(run("sh", &["-c", "echo out"]).unwrap(), "out\n");
        let e = run("sh", &["-c", "echo why >&2; exit 4"]).unwrap_err();
        assert!(
            e.contains("`sh -c echo why >&2; exit 4` failed") && e.ends_with(": why"),
            "{e}"
        );
        let e = run("definitely-not-a-program-xyz", &[]).unwrap_err();
        assert!(
            e.starts_with("cannot run `definitely-not-a-program-xyz`"),
            "{e}"
        );
    }
}
