//! The launchd property list (macOS): a LaunchAgent for the user, or a LaunchDaemon for root
//! with `--system`. Every path is passed in resolved (the home directory comes from the account
//! database, not from `/Users/<name>`). No `ProcessType`: launchd's default (Standard) does not
//! throttle the sampler the way `Background` would.

use super::ServiceSpec;
use std::path::{Path, PathBuf};

/// The job label (the original's, so installing over it replaces the old job).
pub const LABEL: &str = "com.rogue-hunter.daemon";

/// Where a LaunchDaemon's plist goes.
pub const SYSTEM_PLIST_DIR: &str = "/Library/LaunchDaemons";

/// Where a user's LaunchAgent plist goes: `<home>/Library/LaunchAgents`.
pub fn user_plist_dir(home: &Path) -> PathBuf {
    home.join("Library/LaunchAgents")
}

/// The plist's file name.
pub fn plist_file_name() -> String {
    format!("{LABEL}.plist")
}

/// The text of the plist. `console_log` receives the daemon's stdout and stderr (its readable
/// console lines; the JSON log file is written by the daemon itself next to it).
pub fn plist(spec: &ServiceSpec, console_log: &Path) -> String {
    let mut p = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- Written by `rogue-hunter service install`; reinstall or uninstall it with rogue-hunter. -->\n\
         <plist version=\"1.0\">\n<dict>\n",
    );
    key_string(&mut p, "Label", LABEL);
    p.push_str("\t<key>ProgramArguments</key>\n\t<array>\n");
    for arg in spec.command_line() {
        p.push_str(&format!("\t\t<string>{}</string>\n", escape(&arg)));
    }
    p.push_str("\t</array>\n");
    if !spec.environment.is_empty() {
        p.push_str("\t<key>EnvironmentVariables</key>\n\t<dict>\n");
        for (k, v) in &spec.environment {
            p.push_str(&format!(
                "\t\t<key>{}</key>\n\t\t<string>{}</string>\n",
                escape(k),
                escape(v)
            ));
        }
        p.push_str("\t</dict>\n");
    }
    p.push_str("\t<key>RunAtLoad</key>\n\t<true/>\n");
    // Restart after a crash or an error exit, not after a clean stop.
    p.push_str(
        "\t<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n",
    );
    p.push_str("\t<key>ThrottleInterval</key>\n\t<integer>5</integer>\n");
    let log = console_log.to_string_lossy();
    key_string(&mut p, "StandardOutPath", &log);
    key_string(&mut p, "StandardErrorPath", &log);
    p.push_str("</dict>\n</plist>\n");
    p
}

fn key_string(p: &mut String, key: &str, value: &str) {
    p.push_str(&format!(
        "\t<key>{key}</key>\n\t<string>{}</string>\n",
        escape(value)
    ));
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The launchd domain: `system`, or `gui/<uid>` for a user's agent.
pub fn domain(system: bool, uid: u32) -> String {
    if system {
        "system".into()
    } else {
        format!("gui/{uid}")
    }
}

/// What `launchctl print <domain>/<label>` says about the job: its `state` and `pid`.
pub fn parse_print(text: &str) -> (Option<String>, Option<u32>) {
    let mut state = None;
    let mut pid = None;
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once(" = ") else {
            continue;
        };
        match k {
            "state" if state.is_none() => state = Some(v.trim().to_string()),
            "pid" if pid.is_none() => pid = v.trim().parse().ok(),
            _ => {}
        }
    }
    (state, pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent() {
        let spec = ServiceSpec {
            binary: "/Users/alice/.cargo/bin/rogue-hunter".into(),
            system: false,
            config: None,
            environment: vec![("XDG_DATA_HOME".into(), "/Volumes/Data & more".into())],
        };
        insta::assert_snapshot!(plist(
            &spec,
            Path::new("/Users/alice/.local/state/rogue-hunter/console.log")
        ));
    }

    #[test]
    fn system_daemon() {
        let spec = ServiceSpec {
            binary: "/usr/local/bin/rogue-hunter".into(),
            system: true,
            config: None,
            environment: vec![],
        };
        let text = plist(&spec, Path::new("/var/log/rogue-hunter/console.log"));
        insta::assert_snapshot!(text);
        assert!(!text.contains("ProcessType"));
        assert!(!text.contains("/Users/"));
    }

    #[test]
    fn paths_and_domains() {
        assert_eq!(
            user_plist_dir(Path::new("/Volumes/Home/bob")),
            Path::new("/Volumes/Home/bob/Library/LaunchAgents")
        );
        assert_eq!(plist_file_name(), "com.rogue-hunter.daemon.plist");
        assert_eq!(domain(true, 501), "system");
        assert_eq!(domain(false, 501), "gui/501");
    }

    #[test]
    fn launchctl_print_is_parsed() {
        let text = "gui/501/com.rogue-hunter.daemon = {\n\tactive count = 1\n\tpath = /x\n\
                    \tstate = running\n\n\tprogram = /usr/local/bin/rogue-hunter\n\tpid = 4242\n\
                    \tendpoints = {\n\t\tstate = other\n\t}\n}\n";
        assert_eq!(parse_print(text), (Some("running".into()), Some(4242)));
        assert_eq!(parse_print(""), (None, None));
    }
}
