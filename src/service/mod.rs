//! Running the daemon as a service: a systemd unit (Linux) or a launchd plist (macOS).
//!
//! The generators are pure functions of a [`ServiceSpec`] so tests compare their text on any
//! platform; installing them (`systemctl`, `launchctl`) lives in `cli::service`.

pub mod launchd;
pub mod systemd;

use std::path::PathBuf;

/// Everything the generated service depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Absolute, resolved path of the `rogue-hunter` binary the service runs.
    pub binary: PathBuf,
    /// A system service (root, `--system` paths) instead of a per-user one.
    pub system: bool,
    /// A config file given with `--config` at install time; the service uses the same.
    pub config: Option<PathBuf>,
    /// Environment the service needs to find the same files as the installing shell
    /// (the `XDG_*_HOME` variables that were set), as (name, value) pairs.
    pub environment: Vec<(String, String)>,
}

impl ServiceSpec {
    /// The daemon's command line: `<binary> [--system] [--config FILE] daemon`.
    pub fn command_line(&self) -> Vec<String> {
        let mut args = vec![self.binary.to_string_lossy().into_owned()];
        if self.system {
            args.push("--system".into());
        }
        if let Some(c) = &self.config {
            args.push("--config".into());
            args.push(c.to_string_lossy().into_owned());
        }
        args.push("daemon".into());
        args
    }
}

/// The variables carried into a user service when set: they decide where config, database and
/// logs live. `XDG_RUNTIME_DIR` is left to the service manager, which sets the right one.
pub const CARRIED_ENV: [&str; 3] = ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"];

/// Picks the [`CARRIED_ENV`] variables that are set to absolute paths.
pub fn carried_environment(get: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    CARRIED_ENV
        .iter()
        .filter_map(|k| {
            get(k)
                .filter(|v| v.starts_with('/'))
                .map(|v| ((*k).to_string(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_orders_global_flags_before_the_command() {
        let spec = ServiceSpec {
            binary: "/usr/bin/rogue-hunter".into(),
            system: true,
            config: Some("/etc/rh.toml".into()),
            environment: vec![],
        };
        assert_eq!(
            spec.command_line(),
            [
                "/usr/bin/rogue-hunter",
                "--system",
                "--config",
                "/etc/rh.toml",
                "daemon"
            ]
        );
    }

    #[test]
    fn only_absolute_xdg_homes_are_carried() {
        let env = |k: &str| match k {
            "XDG_DATA_HOME" => Some("/data".to_string()),
            "XDG_STATE_HOME" => Some("relative".to_string()),
            "XDG_RUNTIME_DIR" => Some("/run/user/1".to_string()),
            _ => None,
        };
        assert_eq!(
            carried_environment(env),
            [("XDG_DATA_HOME".to_string(), "/data".to_string())]
        );
    }
}
