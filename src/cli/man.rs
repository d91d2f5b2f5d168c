//! `man`: manual pages generated from the CLI definition (clap_mangen), so they never drift
//! from `--help`. The main page gets the sections clap does not know: files, environment, exit
//! status.

use super::Cli;
use anyhow::Context as _;
use clap::CommandFactory;
use std::io::Write as _;
use std::path::Path;

/// Sections appended to `rogue-hunter(1)`, in roff.
const EXTRA: &str = r#".SH FILES
.TP
\fB$XDG_CONFIG_HOME/rogue\-hunter/config.toml\fR (\fB/etc/rogue\-hunter/config.toml\fR with \fB\-\-system\fR)
The configuration file; every key is optional.
.TP
\fB$XDG_DATA_HOME/rogue\-hunter/data.db\fR (\fB/var/lib/rogue\-hunter/data.db\fR)
The SQLite database of events and forensic captures.
.TP
\fB$XDG_STATE_HOME/rogue\-hunter/daemon.log\fR (\fB/var/log/rogue\-hunter/daemon.log\fR)
The daemon log, JSON lines, rotated by size.
.TP
\fB$XDG_RUNTIME_DIR/rogue\-hunter/\fR (\fB/run/rogue\-hunter/\fR)
The private runtime directory: the daemon's socket and lock.
.TP
\fB~/.config/systemd/user/rogue\-hunter.service\fR, \fB/etc/systemd/system/rogue\-hunter.service\fR
The service written by \fBrogue\-hunter service install\fR.
.SH ENVIRONMENT
.TP
\fBROGUE_HUNTER_CONFIG\fR
A config file to use instead of the default (like \fB\-\-config\fR).
.TP
\fBROGUE_HUNTER_LOG\fR
A log filter such as \fBdebug\fR.
.TP
\fBXDG_CONFIG_HOME\fR, \fBXDG_DATA_HOME\fR, \fBXDG_STATE_HOME\fR, \fBXDG_RUNTIME_DIR\fR
Where the files above live in user mode.
.SH "EXIT STATUS"
0 on success, 1 on a runtime error or a declined confirmation, 2 on a usage or configuration error.
\fBstatus\fR follows \fBsystemctl status\fR: 0 the daemon is running, 3 it is not running, 4 its state
cannot be told (no permission, no answer, a socket it does not trust).
.SH "SEE ALSO"
\fBsystemctl\fR(1), \fBcapabilities\fR(7), \fBjournalctl\fR(1), \fBeu\-stack\fR(1)
"#;

/// NAME says "rogue-hunter - …": the about text of `--help` already starts with the name.
const MAN_ABOUT: &str = "find the process that is hurting this machine, and keep the evidence";

/// The command tree the pages are made from: no `help` subcommand (no page is written for it,
/// so none may be referred to) and the NAME line without the name twice.
fn man_command() -> clap::Command {
    let mut cmd = Cli::command()
        .about(MAN_ABOUT)
        .disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Roff-escapes text for the page (a `-` is a hyphen, `\` starts an escape).
fn roff(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// `PATH`, `N`, …: what `--help` calls an argument's value.
fn value_names(arg: &clap::Arg) -> String {
    arg.get_value_names()
        .map(|v| {
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| arg.get_id().as_str().to_ascii_uppercase())
}

/// The SYNOPSIS line, with each option's value (`--config PATH`, which clap_mangen leaves out)
/// and the positional arguments and subcommand.
fn synopsis(cmd: &clap::Command) -> String {
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let mut line = format!("\\fB{}\\fR", roff(name));
    for arg in cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional())
    {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("\\fB\\-{s}\\fR|\\fB\\-\\-{}\\fR", roff(l)),
            (Some(s), None) => format!("\\fB\\-{s}\\fR"),
            (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", roff(l)),
            (None, None) => continue,
        };
        let value = if arg.get_action().takes_values() {
            format!(" \\fI{}\\fR", roff(&value_names(arg)))
        } else {
            String::new()
        };
        let (open, close) = if arg.is_required_set() {
            ("", "")
        } else {
            ("[", "]")
        };
        line.push_str(&format!(" {open}{flag}{value}{close}"));
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let names = value_names(arg);
        let (open, close) = if arg.is_required_set() {
            ("<", ">")
        } else {
            ("[", "]")
        };
        line.push_str(&format!(" {open}\\fI{}\\fR{close}", roff(&names)));
    }
    if cmd.has_subcommands() {
        line.push_str(" <\\fICOMMAND\\fR>");
    }
    line
}

/// One page: clap_mangen's sections, with our SYNOPSIS.
fn page(cmd: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let synopsis = format!(".SH SYNOPSIS\n{}\n", synopsis(&cmd));
    let has_args = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let man =
        clap_mangen::Man::new(cmd).source(format!("rogue-hunter {}", env!("CARGO_PKG_VERSION")));
    let render = |out: &mut Vec<u8>| -> std::io::Result<()> {
        man.render_title(out)?;
        man.render_name_section(out)?;
        out.extend_from_slice(synopsis.as_bytes());
        man.render_description_section(out)?;
        if has_args {
            man.render_options_section(out)?;
        }
        if has_subcommands {
            man.render_subcommands_section(out)?;
        }
        man.render_version_section(out)
    };
    render(&mut out).context("cannot render the manual page")?;
    Ok(once_preamble(&out))
}

/// Each section rendered on its own repeats roff's two-line preamble: keep the first.
fn once_preamble(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let mut seen = false;
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        if line.starts_with(".ie \\n(.g .ds Aq") {
            let second = lines.next_if(|l| l.starts_with(".el .ds Aq"));
            if seen {
                continue;
            }
            seen = true;
            out.push_str(line);
            if let Some(l) = second {
                out.push_str(l);
            }
            continue;
        }
        out.push_str(line);
    }
    out.into_bytes()
}

/// The main page as roff.
pub fn main_page() -> anyhow::Result<Vec<u8>> {
    let mut out = page(man_command())?;
    out.extend_from_slice(EXTRA.as_bytes());
    Ok(out)
}

/// `(file name, page)` of every page: the main one and one per (nested) subcommand.
fn all_pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    fn walk(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = sub.get_display_name().unwrap_or_else(|| sub.get_name());
            out.push((format!("{name}.1"), page(sub.clone())?));
            walk(sub, out)?;
        }
        Ok(())
    }
    let root = man_command();
    let mut pages = vec![("rogue-hunter.1".to_string(), main_page()?)];
    walk(&root, &mut pages)?;
    Ok(pages)
}

pub(super) fn run(out_dir: Option<&Path>) -> anyhow::Result<()> {
    let Some(dir) = out_dir else {
        let mut stdout = std::io::stdout();
        stdout
            .write_all(&main_page()?)
            .context("cannot write to stdout")?;
        return stdout.flush().context("cannot write to stdout");
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut pages = all_pages()?;
    pages.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, text) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("Wrote {} manual pages to {}:", pages.len(), dir.display());
    for (name, _) in pages {
        println!("  {name}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_page_lists_every_command_and_the_files() {
        let page = String::from_utf8(main_page().unwrap()).unwrap();
        assert!(
            page.starts_with(".ie"),
            "roff output: {}",
            &page[..40.min(page.len())]
        );
        assert!(page.contains(".TH rogue-hunter 1"), "{page}");
        for command in ["config", "service", "perms", "completions"] {
            assert!(page.contains(command), "{command} missing");
        }
        assert!(page.contains(".SH FILES") && page.contains(".SH \"EXIT STATUS\""));
    }

    /// Issue 14, item 16: NAME does not repeat the name, SYNOPSIS shows option values, and no
    /// page refers to one `man --out-dir` does not write.
    #[test]
    fn pages_name_once_show_values_and_refer_only_to_written_pages() {
        let main = String::from_utf8(main_page().unwrap()).unwrap();
        let name = main
            .lines()
            .skip_while(|l| *l != ".SH NAME")
            .nth(1)
            .unwrap();
        assert_eq!(
            name,
            "rogue\\-hunter \\- find the process that is hurting this machine, and keep the evidence"
        );
        let synopsis = main
            .lines()
            .skip_while(|l| *l != ".SH SYNOPSIS")
            .nth(1)
            .unwrap();
        assert!(
            synopsis.contains("[\\fB\\-\\-config\\fR \\fIPATH\\fR]"),
            "{synopsis}"
        );
        assert!(synopsis.ends_with("<\\fICOMMAND\\fR>"), "{synopsis}");

        let pages = all_pages().unwrap();
        let written: std::collections::BTreeSet<String> = pages
            .iter()
            .map(|(n, _)| n.trim_end_matches(".1").to_string())
            .collect();
        let refs = regex::Regex::new(r"(rogue\\\\-hunter[a-z\\\\-]*)\(1\)").unwrap();
        for (file, text) in &pages {
            let text = String::from_utf8_lossy(text);
            for r in refs.captures_iter(&text) {
                let target = r[1].replace("\\-", "-");
                assert!(written.contains(&target), "{file} refers to {target}(1)");
            }
        }
        assert!(!written.contains("rogue-hunter-help"));
        let history = &pages
            .iter()
            .find(|(n, _)| n == "rogue-hunter-history.1")
            .unwrap()
            .1;
        let history = String::from_utf8_lossy(history);
        assert!(
            history.contains("[\\fB\\-H\\fR|\\fB\\-\\-hours\\fR \\fIHOURS\\fR]"),
            "{history}"
        );
        assert!(
            history.contains(".SH SYNOPSIS\n\\fBrogue\\-hunter history\\fR"),
            "{history}"
        );
        assert_eq!(history.matches(".ds Aq").count(), 2, "one preamble");
        assert!(
            history.contains(".TH rogue-hunter-history 1  \"rogue-hunter "),
            "{history}"
        );
        let show = &pages
            .iter()
            .find(|(n, _)| n == "rogue-hunter-events-show.1")
            .unwrap()
            .1;
        assert!(String::from_utf8_lossy(show).contains("<\\fIID\\fR>"));
    }
}
