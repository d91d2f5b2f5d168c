//! The systemd unit.
//!
//! The system unit runs the daemon as root with the `--system` paths, which systemd creates
//! (`StateDirectory=` and friends), hardened, and with a capability bounding set of exactly what
//! forensics needs. The user unit cannot be hardened the same way: see [`USER_HARDENING_NOTE`].

use super::ServiceSpec;
use crate::privileges::caps;
use std::path::{Path, PathBuf};

/// The unit's file name.
pub const UNIT_NAME: &str = "rogue-hunter.service";

/// Where the system unit goes.
pub const SYSTEM_UNIT_DIR: &str = "/etc/systemd/system";

/// Where a user unit goes: `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
pub fn user_unit_dir(xdg_config_home: Option<&Path>, home: &Path) -> PathBuf {
    xdg_config_home
        .filter(|p| p.is_absolute())
        .map_or_else(|| home.join(".config"), Path::to_path_buf)
        .join("systemd/user")
}

/// Why the user unit carries no sandboxing options (written into the unit as a comment).
pub const USER_HARDENING_NOTE: &str = "\
# No NoNewPrivileges=, ProtectSystem=, PrivateTmp= or system-call filters here, on purpose: in a
# user service each of them implies no_new_privs or a private user namespace, and either one
# switches off the file capabilities `sudo rogue-hunter perms install` grants, so the daemon
# could no longer read other users' disk I/O, kernel stacks or /dev/kmsg. The system service
# (`sudo rogue-hunter --system service install`) is the hardened one.";

/// The text of the unit.
pub fn unit(spec: &ServiceSpec) -> String {
    let mut u = String::new();
    let kind = if spec.system { "system" } else { "user" };
    u.push_str(&format!(
        "# rogue-hunter {kind} service, written by `rogue-hunter service install`.\n\
         # Reinstall or uninstall it with rogue-hunter rather than editing it here.\n\
         [Unit]\n\
         Description=rogue-hunter: finds the process that is hurting this machine, and keeps the evidence\n\
         Documentation=man:rogue-hunter(1)\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={}\n\
         # SIGHUP makes the daemon reopen its log file.\n\
         ExecReload=/bin/kill -HUP $MAINPID\n\
         Restart=on-failure\n\
         RestartSec=5\n",
        spec.command_line()
            .iter()
            .map(|a| quote(a, true))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for (k, v) in &spec.environment {
        u.push_str(&format!(
            "Environment={}\n",
            quote(&format!("{k}={v}"), false)
        ));
    }
    if spec.system {
        u.push_str(
            SYSTEM_SERVICE_BODY
                .replace("{caps}", &caps::bounding_set_value())
                .as_str(),
        );
        for line in caps::explained() {
            u.push_str(&format!("#   {line}\n"));
        }
        u.push_str(SYSTEM_SANDBOX);
        u.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    } else {
        u.push_str("UMask=0077\n");
        u.push_str(USER_HARDENING_NOTE);
        u.push_str("\n\n[Install]\nWantedBy=default.target\n");
    }
    u
}

const SYSTEM_SERVICE_BODY: &str = "\
# Keep sampling on time when the machine is overloaded: that is when it matters.
Nice=-5
# The --system paths (/etc, /var/lib, /var/log, /run), created by systemd, private to root.
ConfigurationDirectory=rogue-hunter
StateDirectory=rogue-hunter
StateDirectoryMode=0700
LogsDirectory=rogue-hunter
LogsDirectoryMode=0700
RuntimeDirectory=rogue-hunter
RuntimeDirectoryMode=0700
UMask=0077
# Runs as root, but with only the capabilities forensics needs. Root keeps them across exec,
# so eu-stack inherits them without AmbientCapabilities=.
CapabilityBoundingSet={caps}
";

const SYSTEM_SANDBOX: &str = "\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
# @debug: perf_event_open for sampled profiles, ptrace for eu-stack (and gdb when configured).
SystemCallFilter=@system-service @debug
SystemCallErrorNumber=EPERM
# Left out on purpose: ProtectKernelLogs= and PrivateDevices= (they hide /dev/kmsg),
# ProtectProc=/ProcSubset= (they hide other processes), PrivateUsers= (capabilities would no
# longer reach other users' /proc files).
";

/// Quotes one word for a unit file: `%` and (in command lines) `$` are escaped, and words
/// with spaces, quotes or backslashes are double-quoted with C-style escapes.
fn quote(word: &str, command_line: bool) -> String {
    let mut escaped = word.replace('%', "%%");
    if command_line {
        escaped = escaped.replace('$', "$$");
    }
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%$".contains(c));
    if plain {
        return escaped;
    }
    let mut q = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The program an installed unit runs (the first word of `ExecStart=`), to check it still exists.
pub fn exec_start_binary(unit_text: &str) -> Option<PathBuf> {
    let value = unit_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ExecStart="))?
        .trim();
    let first = if let Some(rest) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
        out
    } else {
        value.split_whitespace().next()?.to_string()
    };
    Some(PathBuf::from(first.replace("%%", "%").replace("$$", "$")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(system: bool) -> ServiceSpec {
        ServiceSpec {
            binary: "/usr/local/bin/rogue-hunter".into(),
            system,
            config: None,
            environment: vec![],
        }
    }

    #[test]
    fn user_unit() {
        insta::assert_snapshot!(unit(&ServiceSpec {
            environment: vec![("XDG_DATA_HOME".into(), "/home/u/my data".into())],
            ..spec(false)
        }));
    }

    #[test]
    fn system_unit() {
        insta::assert_snapshot!(unit(&spec(true)));
    }

    #[test]
    fn system_unit_keeps_what_the_daemon_needs() {
        let text = unit(&spec(true));
        assert!(text.contains("ExecStart=/usr/local/bin/rogue-hunter --system daemon\n"));
        assert!(text.contains("Restart=on-failure\n"));
        for needed in [
            "CAP_SYS_PTRACE",
            "CAP_DAC_READ_SEARCH",
            "CAP_SYS_ADMIN",
            "CAP_SYSLOG",
            "CAP_PERFMON",
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with("CapabilityBoundingSet="))
                .unwrap();
            assert!(line.contains(needed), "{line}");
        }
        for forbidden in [
            "ProtectKernelLogs=yes",
            "PrivateDevices=yes",
            "ProtectProc=invisible",
            "PrivateUsers=yes",
            "User=",
        ] {
            assert!(
                !text.lines().any(|l| l.starts_with(forbidden)),
                "{forbidden}"
            );
        }
    }

    #[test]
    fn user_unit_does_not_switch_off_file_capabilities() {
        let text = unit(&spec(false));
        for option in [
            "NoNewPrivileges=",
            "ProtectSystem=",
            "PrivateTmp=",
            "SystemCallFilter=",
            "PrivateUsers=",
            "CapabilityBoundingSet=",
        ] {
            assert!(!text.lines().any(|l| l.starts_with(option)), "{option}");
        }
        assert!(text.contains("WantedBy=default.target"));
    }

    #[test]
    fn awkward_paths_are_quoted_and_read_back() {
        let s = ServiceSpec {
            binary: "/opt/my tools/100%/rogue-hunter".into(),
            config: Some("/home/u/$HOME/\"c\".toml".into()),
            ..spec(false)
        };
        let text = unit(&s);
        assert!(
            text.contains(
                "ExecStart=\"/opt/my tools/100%%/rogue-hunter\" --config \"/home/u/$$HOME/\\\"c\\\".toml\" daemon"
            ),
            "{text}"
        );
        assert_eq!(exec_start_binary(&text), Some(s.binary.clone()));
        assert_eq!(
            exec_start_binary(&unit(&spec(true))),
            Some(PathBuf::from("/usr/local/bin/rogue-hunter"))
        );
        assert_eq!(exec_start_binary("[Service]\n"), None);
    }

    #[test]
    fn user_units_go_under_the_config_home() {
        assert_eq!(
            user_unit_dir(None, Path::new("/home/u")),
            Path::new("/home/u/.config/systemd/user")
        );
        assert_eq!(
            user_unit_dir(Some(Path::new("/x/c")), Path::new("/home/u")),
            Path::new("/x/c/systemd/user")
        );
        assert_eq!(
            user_unit_dir(Some(Path::new("rel")), Path::new("/home/u")),
            Path::new("/home/u/.config/systemd/user")
        );
    }
}
