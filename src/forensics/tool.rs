//! Running external forensic tools (eu-stack, gdb, journalctl, tailspin, spindump, log) safely:
//! found on `PATH` first (absent → the part is skipped, not failed), stdin from /dev/null, in a
//! new session so nothing can prompt on a terminal, with a hard timeout after which the whole
//! process group is killed. Output is capped so a runaway tool cannot eat the daemon's memory.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Most bytes kept from one stream (spindump output is ~10 MB; leave headroom).
pub const MAX_OUTPUT: usize = 64 * 1024 * 1024;

/// Why a tool gave no usable output.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0} is not installed (not found on PATH)")]
    NotFound(String),
    #[error("{tool} did not finish within {:.1} s and was killed", .after.as_secs_f64())]
    Timeout { tool: String, after: Duration },
    #[error("{tool} failed ({status}): {stderr}")]
    Failed {
        tool: String,
        status: ExitStatus,
        stderr: String,
        stdout: Vec<u8>,
    },
    #[error("cannot run {tool}: {source}")]
    Spawn {
        tool: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a finished tool printed.
#[derive(Debug)]
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Finds an executable by name on `PATH` (or checks a path given with a slash).
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_exec(p))
}

/// Runs a tool to completion or until `timeout`; a non-zero exit is `Failed` unless listed in
/// `ok_codes` (eu-stack exits 1 for a partial but useful result).
pub async fn run(
    program: &str,
    args: &[&str],
    timeout: Duration,
    ok_codes: &[i32],
) -> Result<ToolOutput, ToolError> {
    run_sharing(program, args, timeout, ok_codes, None).await
}

/// Like [`run`], passing the capabilities in `share` (those this process holds) on to the tool
/// as ambient capabilities, for ptrace-based tools such as eu-stack and gdb (Linux).
pub async fn run_sharing(
    program: &str,
    args: &[&str],
    timeout: Duration,
    ok_codes: &[i32],
    share: Option<crate::privileges::caps::CapSet>,
) -> Result<ToolOutput, ToolError> {
    let exe = find_on_path(program).ok_or_else(|| ToolError::NotFound(program.to_string()))?;
    let tool = program.to_string();
    let mut cmd = tokio::process::Command::new(&exe);
    #[cfg(target_os = "linux")]
    if let Some(wanted) = share {
        let how = crate::privileges::linux::share_with_child(&mut cmd, &exe, wanted);
        tracing::debug!(tool = %tool, privilege = ?how, "starting forensic tool");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = share;
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = cmd.spawn().map_err(|source| ToolError::Spawn {
        tool: tool.clone(),
        source,
    })?;
    let pgid = child.id();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.take(MAX_OUTPUT as u64).read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(1 << 20).read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (status, out, err)
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => {
            if let Some(pid) = pgid.and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) on our own child's process group; no memory is involved.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            Err(ToolError::Timeout {
                tool,
                after: timeout,
            })
        }
        Ok((status, stdout, stderr)) => {
            let status = status.map_err(|source| ToolError::Spawn {
                tool: tool.clone(),
                source,
            })?;
            let stderr = String::from_utf8_lossy(&stderr).trim().to_string();
            let ok = status.success() || status.code().is_some_and(|c| ok_codes.contains(&c));
            if ok {
                Ok(ToolOutput {
                    status,
                    stdout,
                    stderr,
                })
            } else {
                Err(ToolError::Failed {
                    tool,
                    status,
                    stderr,
                    stdout,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn missing_tools_are_reported_as_not_found() {
        let e = rt()
            .block_on(run(
                "definitely-not-a-tool-xyz",
                &[],
                Duration::from_secs(1),
                &[],
            ))
            .unwrap_err();
        assert!(matches!(e, ToolError::NotFound(_)), "{e}");
        assert!(find_on_path("sh").is_some());
    }

    #[test]
    fn output_and_exit_codes() {
        let out = rt()
            .block_on(run(
                "sh",
                &["-c", "echo hi; echo warn >&2"],
                Duration::from_secs(5),
                &[],
            ))
            .unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, "warn");
        let e = rt()
            .block_on(run(
                "sh",
                &["-c", "echo bad >&2; exit 3"],
                Duration::from_secs(5),
                &[],
            ))
            .unwrap_err();
        match e {
            ToolError::Failed { stderr, status, .. } => {
                assert_eq!(stderr, "bad");
                assert_eq!(status.code(), Some(3));
            }
            other => panic!("{other}"),
        }
        let ok = rt().block_on(run("sh", &["-c", "exit 1"], Duration::from_secs(5), &[1]));
        assert!(ok.is_ok(), "listed exit codes are accepted");
    }

    #[test]
    fn a_hanging_tool_and_its_children_are_killed_at_the_timeout() {
        let t = tempfile::tempdir().unwrap();
        let marker = t.path().join("child.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let started = std::time::Instant::now();
        let e = rt()
            .block_on(run("sh", &["-c", &script], Duration::from_millis(300), &[]))
            .unwrap_err();
        assert!(matches!(e, ToolError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // The grandchild (sleep) went with the group.
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        assert!(!alive, "sleep {pid} survived the timeout");
    }
}
