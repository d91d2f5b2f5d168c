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
.SH "SEE ALSO"
\fBsystemctl\fR(1), \fBcapabilities\fR(7), \fBjournalctl\fR(1), \fBeu\-stack\fR(1)
"#;

/// The main page as roff.
pub fn main_page() -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("cannot render the manual page")?;
    out.extend_from_slice(EXTRA.as_bytes());
    Ok(out)
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
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write manual pages to {}", dir.display()))?;
    // generate_to wrote a plain main page; replace it with the one carrying the extra sections.
    let main = dir.join("rogue-hunter.1");
    std::fs::write(&main, main_page()?)
        .with_context(|| format!("cannot write {}", main.display()))?;
    let mut pages: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("rogue-hunter") && n.ends_with(".1"))
        .collect();
    pages.sort();
    println!("Wrote {} manual pages to {}:", pages.len(), dir.display());
    for p in pages {
        println!("  {p}");
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
}
