//! `perms install|uninstall|status`: the privileges forensics needs to see other users'
//! processes. Linux: file capabilities on this binary (see `privileges::caps` for which unlocks
//! what). macOS: a sudoers rule for one exact `tailspin save` command.

use super::Context;
use clap::Subcommand;

/// What to do with the forensics privileges.
#[derive(Debug, Subcommand)]
pub enum PermsAction {
    /// Grant what forensics needs (root): file capabilities on this binary (Linux), or a sudoers
    /// rule for `tailspin save` (macOS).
    Install,
    /// Take them away again (root).
    Uninstall,
    /// Show what the daemon can and cannot see right now, and why (no root needed).
    Status,
}

pub(super) fn run(ctx: &Context, action: PermsAction) -> anyhow::Result<()> {
    match action {
        PermsAction::Install => platform::install(ctx),
        PermsAction::Uninstall => platform::uninstall(ctx),
        PermsAction::Status => platform::status(ctx),
    }
}

/// Whether a command keeps the binary's file capabilities. Only the daemon (which uses them)
/// and `perms status` (which reports them) do; every other command drops them at start, so the
/// capabilities never serve anything but forensics.
pub fn keeps_capabilities(action: &PermsAction) -> bool {
    matches!(action, PermsAction::Status)
}

fn require_root(what: &str) -> anyhow::Result<()> {
    if crate::paths::effective_uid() != 0 {
        anyhow::bail!(
            "{what} needs root: run `sudo rogue-hunter perms {}`",
            what.split_whitespace().last().unwrap_or("install")
        );
    }
    Ok(())
}

#[cfg(target_os = "linux")]
mod platform {
    use super::*;
    use crate::cli::service::current_binary;
    use crate::privileges::caps::{self, CapSet, FORENSICS};
    use crate::privileges::linux;
    use crate::privileges::report::{Can, Report, names};
    use anyhow::Context as _;

    pub(super) fn install(_ctx: &Context) -> anyhow::Result<()> {
        require_root("perms install")?;
        let binary = current_binary()?;
        if linux::on_nosuid_mount(&binary).unwrap_or(false) {
            println!(
                "Warning: {} is on a filesystem mounted nosuid; the kernel ignores file capabilities there.\n         \
                 Install the binary elsewhere (e.g. /usr/local/bin) and run this again.",
                binary.display()
            );
        }
        linux::write_file_caps(&binary, CapSet::forensics()).map_err(|e| match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) => anyhow::anyhow!(
                "cannot set capabilities on {}: its filesystem does not support them (security.capability); \
                 install the binary on a local filesystem such as /usr/local/bin",
                binary.display()
            ),
            _ => anyhow::Error::new(e).context(format!("cannot set capabilities on {}", binary.display())),
        })?;
        let written = linux::read_file_caps(&binary).with_context(|| {
            format!("cannot read back the capabilities of {}", binary.display())
        })?;
        if written.map(|c| c.permitted) != Some(CapSet::forensics()) {
            anyhow::bail!(
                "the capabilities of {} did not stick (read back: {written:?})",
                binary.display()
            );
        }
        println!("Granted file capabilities to {}:", binary.display());
        for line in caps::explained() {
            println!("  {line}");
        }
        println!();
        println!(
            "Only `rogue-hunter daemon` and `perms status` keep them; every other command drops them at start."
        );
        println!(
            "Anyone who can run this file gets them through the daemon. On a machine shared with people you"
        );
        println!(
            "do not trust, remove them (`perms uninstall`) and use the system service instead:"
        );
        println!("  sudo rogue-hunter --system service install");
        println!(
            "Replacing the binary (cargo install, an upgrade) removes them: run this again afterwards."
        );
        println!("Restart a running daemon to use them: systemctl --user restart rogue-hunter");
        Ok(())
    }

    pub(super) fn uninstall(_ctx: &Context) -> anyhow::Result<()> {
        require_root("perms uninstall")?;
        let binary = current_binary()?;
        let removed = linux::remove_file_caps(&binary)
            .with_context(|| format!("cannot remove the capabilities of {}", binary.display()))?;
        if removed {
            println!("Removed the file capabilities of {}.", binary.display());
        } else {
            println!("{} had no file capabilities.", binary.display());
        }
        println!("Restart a running daemon for this to take effect.");
        Ok(())
    }

    pub(super) fn status(_ctx: &Context) -> anyhow::Result<()> {
        let report = crate::privileges::report::report(&current_binary()?);
        print!("{}", render_status(&report));
        Ok(())
    }

    /// The text of `perms status`.
    pub(super) fn render_status(r: &Report) -> String {
        let mut out = String::new();
        let mut line = |s: &str| {
            out.push_str(s);
            out.push('\n');
        };
        let (uid, eff, binary) = (r.uid, r.effective, r.binary.display());
        line(&format!(
            "Forensics access of {} (uid {uid}) running {binary}",
            r.user
        ));
        line("");
        let file_text = match &r.file_caps {
            Ok(Some(c)) => c.describe(),
            Ok(None) => "none".into(),
            Err(e) => format!("unknown ({e})"),
        };
        line(&format!("File capabilities:   {file_text}"));
        line(&format!("This process has:    {eff}"));
        if r.no_new_privs {
            line(
                "                     (no_new_privs is set: exec grants no file capabilities to this process)",
            );
        }
        if r.nosuid {
            line(
                "                     (the binary's filesystem is mounted nosuid: its file capabilities are ignored)",
            );
        }
        if let Ok(Some(c)) = &r.file_caps
            && !eff.contains_all(c.permitted)
            && !r.no_new_privs
            && !r.nosuid
            && uid != 0
        {
            line(&format!(
                "                     (missing {}: the bounding set of this session lacks them)",
                c.permitted.minus(eff)
            ));
        }
        let show =
            |v: Option<u32>, absent: &str| v.map_or_else(|| absent.to_string(), |n| n.to_string());
        line(&format!(
            "Kernel settings:     kernel.dmesg_restrict = {}, kernel.yama.ptrace_scope = {}",
            show(r.dmesg_restrict, "unknown"),
            show(r.ptrace_scope, "unset (Yama is not active)")
        ));
        line("");
        line("What the daemon can see, started from this binary by this user:");
        for l in &r.lines {
            let mark = match l.can {
                Can::Yes => "yes  ",
                Can::Partly => "part ",
                Can::No => "no   ",
            };
            line(&format!("  {mark}{}", l.what));
            line(&format!("         {}", l.why));
        }
        line("");
        let tool = |name: &str| {
            r.tools
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, p)| p.as_ref())
                .map_or_else(|| "not installed".to_string(), |p| p.display().to_string())
        };
        line(&format!("Tools:  eu-stack    {}", tool("eu-stack")));
        line(&format!("        gdb         {}", tool("gdb")));
        line(&format!("        journalctl  {}", tool("journalctl")));
        line("");
        if r.lines.iter().all(|l| l.can == Can::Yes) {
            line("The daemon can see everything forensics uses.");
        } else {
            let missing_caps = r.missing_caps();
            if !missing_caps.is_empty() && uid != 0 {
                line("To see other users' processes and the kernel log:");
                line(&format!(
                    "  sudo {binary} perms install        (file capabilities: {})",
                    names(missing_caps)
                ));
                line(&format!(
                    "  or the system service:  sudo {binary} --system service install"
                ));
            }
            if !r.has_tool("eu-stack") {
                line(
                    "For user-space stacks install elfutils (eu-stack), e.g. `apt-get install elfutils`.",
                );
            }
        }
        line("");
        line("What each capability unlocks:");
        for (cap, what) in FORENSICS {
            line(&format!("  {}: {what}", caps::upper_name(*cap)));
        }
        out
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use super::*;
    use crate::cli::external;
    use crate::privileges::sudoers::{self, SUDOERS_FILE, TAILSPIN};
    use anyhow::Context as _;
    use std::path::{Path, PathBuf};

    /// The user whose daemon gets the rule: the one who ran `sudo`.
    fn invoking_user() -> anyhow::Result<crate::account::Account> {
        let uid: u32 = std::env::var("SUDO_UID")
            .ok()
            .and_then(|u| u.parse().ok())
            .filter(|&u| u != 0)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "run this with sudo from your own account (`sudo rogue-hunter perms install`): \
                     the rule is for the user whose daemon runs tailspin"
                )
            })?;
        crate::account::by_uid(uid)
            .ok_or_else(|| anyhow::anyhow!("uid {uid} is not in the account database"))
    }

    /// The runtime directory of `account`'s daemon (the default: XDG_RUNTIME_DIR is unset on macOS).
    fn runtime_dir(account: &crate::account::Account) -> anyhow::Result<PathBuf> {
        let home = account.home.clone().into_os_string();
        let paths =
            crate::paths::Paths::from_env(|k| (k == "HOME").then(|| home.clone()), account.uid)?;
        Ok(paths.runtime_dir)
    }

    pub(super) fn install(ctx: &Context) -> anyhow::Result<()> {
        if ctx.paths.system {
            println!(
                "Nothing to do: the system daemon runs as root and calls {TAILSPIN} directly."
            );
            return Ok(());
        }
        require_root("perms install")?;
        let account = invoking_user()?;
        let output = sudoers::tailspin_output(&runtime_dir(&account)?);
        let text = sudoers::rule(&account.name, account.uid, &output)?;
        install_rule(&text)?;
        println!(
            "Created {SUDOERS_FILE}: {} may run, as root and without a password, exactly",
            account.name
        );
        println!("  {TAILSPIN} save -o {}", output.display());
        println!("Enabling tailspin (the continuous trace that `tailspin save` writes out)...");
        match external::run(TAILSPIN, &["enable"]) {
            Ok(_) => println!("  tailspin enabled"),
            Err(e) => println!("  Warning: {e}"),
        }
        println!();
        println!(
            "Forensics captures now include stacks. If you set XDG_RUNTIME_DIR, the rule does not match"
        );
        println!("your daemon's runtime directory: unset it, or edit the rule's path with visudo.");
        Ok(())
    }

    /// temp file (ignored by sudo: its name has a dot) → `visudo -c -f` → rename.
    fn install_rule(text: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt;
        let final_path = Path::new(SUDOERS_FILE);
        let tmp = final_path.with_file_name(".rogue-hunter.tmp");
        let _ = std::fs::remove_file(&tmp);
        let result = (|| -> anyhow::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o440)
                .open(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::os::unix::fs::chown(&tmp, Some(0), Some(0))?;
            external::run("/usr/sbin/visudo", &["-c", "-f", &tmp.to_string_lossy()]).map_err(
                |e| anyhow::anyhow!("the rule did not pass visudo; nothing was installed: {e}"),
            )?;
            std::fs::rename(&tmp, final_path)
                .with_context(|| format!("cannot create {SUDOERS_FILE}"))?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    pub(super) fn uninstall(_ctx: &Context) -> anyhow::Result<()> {
        require_root("perms uninstall")?;
        match std::fs::remove_file(SUDOERS_FILE) {
            Ok(()) => println!("Removed {SUDOERS_FILE}"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!("The sudoers rule was not installed.")
            }
            Err(e) => return Err(e).with_context(|| format!("cannot remove {SUDOERS_FILE}")),
        }
        println!(
            "tailspin stays enabled (you may have enabled it yourself); `sudo tailspin disable` turns it off."
        );
        Ok(())
    }

    pub(super) fn status(ctx: &Context) -> anyhow::Result<()> {
        if ctx.paths.system {
            println!(
                "The system daemon runs as root: it can run {TAILSPIN} and read every process without a rule."
            );
            return Ok(());
        }
        let output = sudoers::tailspin_output(&ctx.paths.runtime_dir);
        let installed = Path::new(SUDOERS_FILE).exists();
        println!(
            "Sudoers rule: {}",
            if installed {
                "installed"
            } else {
                "not installed"
            }
        );
        let command = sudoers::tailspin_save_command(&ctx.paths.runtime_dir);
        let args: Vec<&str> = command[2..].iter().map(String::as_str).collect();
        let allowed = external::run("sudo", &[&["-n", "-l"][..], &args].concat()).is_ok();
        println!(
            "Allowed:      {} `{}`",
            if allowed { "yes," } else { "no," },
            args.join(" ")
        );
        let enabled = external::run(TAILSPIN, &["stat"])
            .map(|out| out.to_lowercase().contains("oncore is enabled"))
            .unwrap_or(false);
        println!(
            "Tailspin:     {}",
            if enabled { "enabled" } else { "disabled" }
        );
        println!();
        if allowed && enabled {
            println!("Forensics captures include stacks of every process (tailspin).");
        } else {
            println!(
                "Stacks are not captured. Run `sudo rogue-hunter perms install` to enable them."
            );
            if installed && !allowed {
                println!(
                    "(The rule exists but does not allow {}: was it installed for another user or runtime directory?)",
                    output.display()
                );
            }
        }
        Ok(())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod platform {
    use super::*;

    fn unsupported() -> anyhow::Result<()> {
        anyhow::bail!("perms is supported on Linux and macOS only")
    }
    pub(super) fn install(_: &Context) -> anyhow::Result<()> {
        unsupported()
    }
    pub(super) fn uninstall(_: &Context) -> anyhow::Result<()> {
        unsupported()
    }
    pub(super) fn status(_: &Context) -> anyhow::Result<()> {
        unsupported()
    }
}
