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
    use crate::forensics::tool::find_on_path;
    use crate::privileges::caps::{self, CapSet, FORENSICS};
    use crate::privileges::linux;
    use anyhow::Context as _;
    use std::path::Path;

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

    /// A line of the report: can the daemon see this, and why (not).
    struct Line {
        can: Can,
        what: String,
        why: String,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Can {
        Yes,
        Partly,
        No,
    }

    impl Line {
        fn new(can: Can, what: impl Into<String>, why: impl Into<String>) -> Line {
            Line {
                can,
                what: what.into(),
                why: why.into(),
            }
        }
    }

    /// A process to test access on: not ours, not a kernel thread.
    struct Target {
        pid: u32,
        comm: String,
        owner: u32,
    }

    fn user_name(uid: u32) -> String {
        crate::account::by_uid(uid).map_or_else(|| format!("uid {uid}"), |a| a.name)
    }

    /// Other processes, those of other users first, kernel threads left out.
    fn targets(me: u32, my_uid: u32) -> Vec<Target> {
        use std::os::unix::fs::MetadataExt;
        const PF_KTHREAD: u64 = 0x0020_0000;
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut pids: Vec<u32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&p| p != me)
            .collect();
        pids.sort_unstable();
        let mut found: Vec<Target> = pids
            .into_iter()
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let (head, tail) = stat.rsplit_once(')')?;
                let comm = head.split_once('(')?.1.to_string();
                let flags: u64 = tail.split_whitespace().nth(6)?.parse().ok()?;
                if flags & PF_KTHREAD != 0 {
                    return None;
                }
                let owner = std::fs::metadata(format!("/proc/{pid}")).ok()?.uid();
                // A user's own processes are always readable, so only other users' tell what
                // privileges unlock. Root's processes are as protected as anyone's (on many
                // machines every process is root's), so for root they all count.
                (owner != my_uid || my_uid == 0).then_some(Target { pid, comm, owner })
            })
            .collect();
        found.sort_by_key(|t| t.owner == my_uid);
        found.truncate(64);
        found
    }

    fn describe(t: &Target) -> String {
        // A process's name is its own choice: escaped like every outside text.
        format!(
            "{}, owned by {}",
            crate::escape::Escaped(&t.comm),
            user_name(t.owner)
        )
    }

    /// Reads `file` of the first target that allows it; else the first refusal.
    fn probe(targets: &[Target], file: impl Fn(u32) -> String) -> Result<String, String> {
        let mut first_error = None;
        for t in targets {
            let path = file(t.pid);
            match std::fs::read(&path) {
                Ok(_) => return Ok(format!("read {path} ({})", describe(t))),
                Err(e) => {
                    first_error
                        .get_or_insert_with(|| format!("{path} ({}): {}", describe(t), plain(&e)));
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            "no other process is visible (is /proc mounted with hidepid?)".into()
        }))
    }

    /// An I/O error without the "(os error N)" suffix.
    fn plain(e: &std::io::Error) -> String {
        let text = e.to_string();
        match text.find(" (os error") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    }

    fn sysctl(name: &str) -> Option<u32> {
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    fn names(set: CapSet) -> String {
        set.iter()
            .map(caps::upper_name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Members of these groups may read the whole system journal.
    fn in_journal_group() -> bool {
        let mut groups = vec![0 as libc::gid_t; 256];
        // SAFETY: groups has room for 256 entries and its length is passed.
        let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
        groups.truncate(usize::try_from(n).unwrap_or(0));
        // SAFETY: getegid has no preconditions.
        groups.push(unsafe { libc::getegid() });
        ["systemd-journal", "adm", "wheel"]
            .iter()
            .filter_map(|name| group_gid(name))
            .any(|gid| groups.contains(&gid))
    }

    fn group_gid(name: &str) -> Option<libc::gid_t> {
        let cname = std::ffi::CString::new(name).ok()?;
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        // SAFETY: group is plain data; zeroed is a valid initial value.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call and buf's length is passed.
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut grp,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        (rc == 0 && !result.is_null()).then_some(grp.gr_gid)
    }

    pub(super) fn status(_ctx: &Context) -> anyhow::Result<()> {
        let uid = crate::paths::effective_uid();
        let binary = current_binary()?;
        let file_caps = linux::read_file_caps(&binary);
        let proc_caps = linux::process_caps().unwrap_or_default();
        let eff = proc_caps.effective;
        let nosuid = linux::on_nosuid_mount(&binary).unwrap_or(false);
        let dmesg_restrict = sysctl("kernel.dmesg_restrict");
        let ptrace_scope = sysctl("kernel.yama.ptrace_scope");

        println!(
            "Forensics access of {} (uid {uid}) running {}",
            user_name(uid),
            binary.display()
        );
        println!();
        let file_text = match &file_caps {
            Ok(Some(c)) => c.describe(),
            Ok(None) => "none".into(),
            Err(e) => format!("unknown ({e})"),
        };
        println!("File capabilities:   {file_text}");
        println!("This process has:    {eff}");
        if proc_caps.no_new_privs {
            println!(
                "                     (no_new_privs is set: exec grants no file capabilities to this process)"
            );
        }
        if nosuid {
            println!(
                "                     (the binary's filesystem is mounted nosuid: its file capabilities are ignored)"
            );
        }
        if let Ok(Some(c)) = &file_caps
            && !eff.contains_all(c.permitted)
            && !proc_caps.no_new_privs
            && !nosuid
            && uid != 0
        {
            println!(
                "                     (missing {}: the bounding set of this session lacks them)",
                c.permitted.minus(eff)
            );
        }
        let show =
            |v: Option<u32>, absent: &str| v.map_or_else(|| absent.to_string(), |n| n.to_string());
        println!(
            "Kernel settings:     kernel.dmesg_restrict = {}, kernel.yama.ptrace_scope = {}",
            show(dmesg_restrict, "unknown"),
            show(ptrace_scope, "unset (Yama is not active)")
        );
        println!();

        let targets = targets(std::process::id(), uid);
        let mut lines = vec![Line::new(
            Can::Yes,
            "CPU, memory, threads and state of every process",
            "/proc/P/stat and status are readable by everyone",
        )];
        let io_needs = CapSet::of(&[caps::CAP_DAC_READ_SEARCH, caps::CAP_SYS_PTRACE]);
        lines.push(match probe(&targets, |p| format!("/proc/{p}/io")) {
            Ok(how) => Line::new(
                Can::Yes,
                "disk I/O and read/write calls of other users' processes",
                how,
            ),
            Err(e) => Line::new(
                Can::No,
                "disk I/O and read/write calls of other users' processes (they count as 0)",
                format!("{e}; needs {}", names(io_needs)),
            ),
        });
        let stack_needs = CapSet::of(&[
            caps::CAP_SYS_ADMIN,
            caps::CAP_SYS_PTRACE,
            caps::CAP_DAC_READ_SEARCH,
        ]);
        lines.push(
            match probe(&targets, |p| format!("/proc/{p}/task/{p}/stack")) {
                Ok(how) => Line::new(Can::Yes, "kernel stacks of other processes' threads", how),
                Err(e) => Line::new(
                    Can::No,
                    "kernel stacks of other processes' threads",
                    format!(
                        "{e}; needs {} (even for your own processes)",
                        names(stack_needs)
                    ),
                ),
            },
        );
        // Opening decides (the kernel checks dmesg_restrict there); non-blocking, nothing is read.
        let kmsg = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open("/dev/kmsg")
        };
        lines.push(match kmsg {
            Ok(_) => Line::new(
                Can::Yes,
                "the kernel log (/dev/kmsg)",
                match dmesg_restrict {
                    Some(1) => {
                        "kernel.dmesg_restrict = 1, and this process has CAP_SYSLOG".to_string()
                    }
                    _ => "kernel.dmesg_restrict = 0: readable by everyone".to_string(),
                },
            ),
            Err(e) => Line::new(
                Can::No,
                "the kernel log (/dev/kmsg)",
                format!(
                    "{}; with kernel.dmesg_restrict = 1 it needs CAP_SYSLOG",
                    plain(&e)
                ),
            ),
        });
        lines.push(user_stacks_line(uid, eff, ptrace_scope));
        lines.push(journal_line(uid));

        println!("What the daemon can see, started from this binary by this user:");
        for l in &lines {
            let mark = match l.can {
                Can::Yes => "yes  ",
                Can::Partly => "part ",
                Can::No => "no   ",
            };
            println!("  {mark}{}", l.what);
            println!("         {}", l.why);
        }
        println!();
        let tool = |name: &str| {
            find_on_path(name)
                .map_or_else(|| "not installed".to_string(), |p| p.display().to_string())
        };
        println!("Tools:  eu-stack    {}", tool("eu-stack"));
        println!("        gdb         {}", tool("gdb"));
        println!("        journalctl  {}", tool("journalctl"));
        println!();
        if lines.iter().all(|l| l.can == Can::Yes) {
            println!("The daemon can see everything forensics uses.");
        } else {
            let missing_caps = CapSet::forensics().minus(eff);
            if !missing_caps.is_empty() && uid != 0 {
                println!("To see other users' processes and the kernel log:");
                println!(
                    "  sudo {} perms install        (file capabilities: {})",
                    binary.display(),
                    names(missing_caps)
                );
                println!(
                    "  or the system service:  sudo {} --system service install",
                    binary.display()
                );
            }
            if find_on_path("eu-stack").is_none() {
                println!(
                    "For user-space stacks install elfutils (eu-stack), e.g. `apt-get install elfutils`."
                );
            }
        }
        println!();
        println!("What each capability unlocks:");
        for (cap, what) in FORENSICS {
            println!("  {}: {what}", caps::upper_name(*cap));
        }
        Ok(())
    }

    fn user_stacks_line(uid: u32, eff: CapSet, ptrace_scope: Option<u32>) -> Line {
        let what = "user-space stacks of other users' processes (eu-stack)";
        let Some(eu_stack) = find_on_path("eu-stack") else {
            return Line::new(
                Can::No,
                what,
                "eu-stack is not installed (package elfutils)",
            );
        };
        if ptrace_scope == Some(3) {
            return Line::new(
                Can::No,
                what,
                "kernel.yama.ptrace_scope = 3: no process may ptrace at all",
            );
        }
        if uid == 0 {
            return if eff.contains(caps::CAP_SYS_PTRACE) {
                Line::new(Can::Yes, what, "running as root with CAP_SYS_PTRACE")
            } else {
                Line::new(Can::No, what, "root, but without CAP_SYS_PTRACE")
            };
        }
        if eff.contains_all(caps::EU_STACK) {
            return match linux::root_controlled(&eu_stack) {
                Ok(p) => Line::new(
                    Can::Yes,
                    what,
                    format!(
                        "{} gets {} as ambient capabilities",
                        p.display(),
                        names(caps::EU_STACK)
                    ),
                ),
                Err(why) => Line::new(Can::No, what, why),
            };
        }
        let own = match ptrace_scope {
            Some(1) => {
                "not even your own: kernel.yama.ptrace_scope = 1 limits ptrace to a process's descendants"
            }
            Some(2) => "none: kernel.yama.ptrace_scope = 2 reserves ptrace to CAP_SYS_PTRACE",
            _ => "only your own processes",
        };
        Line::new(
            Can::Partly,
            what,
            format!("{own}; other users' need {}", names(caps::EU_STACK)),
        )
    }

    fn journal_line(uid: u32) -> Line {
        let what = "the system journal (journalctl)";
        if !Path::new("/run/systemd/journal").exists() {
            return Line::new(
                Can::No,
                what,
                "journald is not running here (no /run/systemd/journal); /dev/kmsg is used alone",
            );
        }
        if find_on_path("journalctl").is_none() {
            return Line::new(Can::No, what, "journalctl is not installed");
        }
        if uid == 0 || in_journal_group() {
            Line::new(
                Can::Yes,
                what,
                "root, or a member of systemd-journal/adm/wheel",
            )
        } else {
            Line::new(
                Can::Partly,
                what,
                "only your own messages: the rest needs membership of the systemd-journal (or adm) group",
            )
        }
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
