//! The command line: argument definitions, dispatch, and how failures become exit codes.
//!
//! Exit codes: 0 ok, 1 runtime error, 2 usage or config error; `status` also 3 (daemon not
//! running) and 4 (cannot tell), as `systemctl status`. Every failure prints one `Error: …`
//! message on stderr; nothing panics at the user.

mod capture;
mod config_cmd;
mod database;
mod events;
mod events_show;
mod external;
mod history;
mod man;
mod output;
mod perms;
mod profile_view;
mod prune;
mod report;
mod service;
mod status;
mod tui;

use crate::config::{Config, ConfigError};
use crate::paths::{Paths, PathsError};
use anyhow::Context as _;
use clap::{CommandFactory, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// rogue-hunter: finds the process that is hurting this machine, and keeps the evidence.
#[derive(Debug, Parser)]
#[command(name = "rogue-hunter", version, propagate_version = true)]
#[command(arg_required_else_help = true)]
pub struct Cli {
    /// Config file to use instead of the default location.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "ROGUE_HUNTER_CONFIG",
        hide_env_values = true
    )]
    pub config: Option<PathBuf>,

    /// Use the system-wide paths (/etc, /var/lib, /var/log, /run) of a root service.
    #[arg(long, global = true)]
    pub system: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground until SIGINT/SIGTERM (SIGHUP reopens the log).
    Daemon,
    /// Is the daemon running, how stressed is the machine now, what is being tracked.
    Status(status::StatusArgs),
    /// List the events of the current boot; `events show ID` shows one in detail.
    Events(events::EventsArgs),
    /// Summary or export (JSON, CSV) of the events of the last hours.
    History(history::HistoryArgs),
    /// One event's evidence as a self-contained HTML page: charts, stacks, log lines.
    Report(report::ReportArgs),
    /// Ask the running daemon for a forensic capture now.
    Capture(capture::CaptureArgs),
    /// Delete old events, captures and machine snapshots.
    Prune(prune::PruneArgs),
    /// Live dashboard: stress, top processes, recent rogues and event history.
    Tui(tui::TuiArgs),
    /// Show, edit, reset or check the config file.
    #[command(subcommand, arg_required_else_help = true)]
    Config(config_cmd::ConfigAction),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
    /// Run the daemon as a service: systemd unit (Linux) or launchd plist (macOS).
    #[command(subcommand, arg_required_else_help = true)]
    Service(service::ServiceAction),
    /// Forensics privileges: file capabilities (Linux) or a tailspin sudoers rule (macOS).
    #[command(subcommand, arg_required_else_help = true)]
    Perms(perms::PermsAction),
    /// Print the manual page (roff), e.g. `rogue-hunter man | man -l -`.
    Man {
        /// Write rogue-hunter.1 and a page per subcommand into this directory instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

impl Command {
    /// Whether this command keeps the file capabilities `perms install` grants. Only the ones
    /// that use or report them do; decide for every new command (no wildcard on purpose).
    pub fn keeps_capabilities(&self) -> bool {
        match self {
            Command::Daemon => true,
            Command::Perms(action) => perms::keeps_capabilities(action),
            Command::Status(_)
            | Command::Events(_)
            | Command::History(_)
            | Command::Report(_)
            | Command::Capture(_)
            | Command::Prune(_)
            | Command::Config(_)
            | Command::Tui(_)
            | Command::Completions { .. }
            | Command::Service(_)
            | Command::Man { .. } => false,
        }
    }
}

/// A mistake in how the command was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A command already said everything and only sets the exit code (`status`: 3 when the daemon
/// is not running, 4 when it cannot tell).
#[derive(Debug, thiserror::Error)]
#[error("exit code {0}")]
pub struct Quiet(pub u8);

/// The user declined a confirmation (exit code 1, nothing changed).
#[derive(Debug, thiserror::Error)]
#[error("aborted; nothing was changed")]
pub struct Aborted;

/// What every command gets: resolved paths and the config file location.
pub struct Context {
    pub paths: Paths,
    /// The config file given with `--config` (or `ROGUE_HUNTER_CONFIG`), as typed.
    pub config_flag: Option<PathBuf>,
}

impl Context {
    /// Loads the config file (defaults when it does not exist).
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        crate::config::load_or_default(&self.paths.config_file).map_err(ConfigError::in_use)
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_failure(e),
    };
    let long_running = matches!(cli.command, Command::Daemon | Command::Tui(_));
    if !long_running {
        // The daemon and the dashboard write to sockets and must see EPIPE as an error, not die
        // of SIGPIPE; short commands die quietly when their output pipe closes.
        restore_default_sigpipe();
    }
    if !cli.command.keeps_capabilities() {
        drop_file_capabilities();
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "Error: internal error: {info}. This is a bug in rogue-hunter; please report it."
        );
    }));
    // The daemon sets up its own logging; the dashboard owns the screen, where console log
    // lines would scribble over it.
    if !long_running {
        crate::logging::init_cli();
    }
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            if let Some(Quiet(code)) = e.downcast_ref::<Quiet>() {
                return ExitCode::from(*code);
            }
            eprintln!("Error: {}", printable_lines(&error_text(&e)));
            ExitCode::from(exit_code(&e))
        }
        // The panic hook already printed the message; never show a backtrace as the result.
        Err(_) => ExitCode::from(1),
    }
}

/// The error and its causes on one line, leaving out a cause whose text the message already
/// includes (many errors quote their source).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Error texts quote outside text (a daemon's answer, a key of a config file being checked):
/// each line is escaped, the line breaks of multi-line messages stay.
fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(|l| crate::escape::escape(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Maps an error to the documented exit code.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let usage = e.chain().any(|c| {
        c.is::<UsageError>()
            || matches!(
                c.downcast_ref::<ConfigError>(),
                Some(ConfigError::Invalid { .. } | ConfigError::Read { .. })
            )
    });
    if usage { 2 } else { 1 }
}

fn clap_failure(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = write!(std::io::stdout(), "{e}");
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = write!(std::io::stderr(), "{e}");
            ExitCode::from(2)
        }
        _ => {
            let text = e.to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            let _ = write!(std::io::stderr(), "Error: {text}");
            ExitCode::from(2)
        }
    }
}

/// Short-lived commands die quietly when their output pipe closes (`| head`), like other tools.
fn restore_default_sigpipe() {
    // SAFETY: setting a signal disposition to SIG_DFL has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A non-root user running a binary with file capabilities gives them up for good, unless the
/// command needs them (see [`Command::keeps_capabilities`]). Root keeps its own.
fn drop_file_capabilities() {
    #[cfg(target_os = "linux")]
    if crate::paths::effective_uid() != 0
        && crate::privileges::linux::thread_caps().is_ok_and(|c| !c.permitted.is_empty())
        && let Err(e) = crate::privileges::linux::drop_all()
    {
        eprintln!("Warning: cannot drop this program's capabilities: {e}");
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut paths = Paths::resolve(cli.system).map_err(usage_if_paths)?;
    if let Some(file) = &cli.config {
        paths = paths.with_config_file(file.clone());
    }
    let ctx = Context {
        paths,
        config_flag: cli.config,
    };
    match cli.command {
        Command::Daemon => {
            let config = load_config_as_invoker(&ctx)?;
            crate::daemon::run(&ctx.paths, config)
        }
        Command::Status(args) => status::run(&ctx, args),
        Command::Events(args) => events::run(&ctx, args),
        Command::History(args) => history::run(&ctx, args),
        Command::Report(args) => report::run(&ctx, args),
        Command::Capture(args) => capture::run(&ctx, args),
        Command::Prune(args) => prune::run(&ctx, args),
        Command::Tui(args) => tui::run(&ctx, &args),
        Command::Config(action) => config_cmd::run(&ctx, action),
        Command::Completions { shell } => {
            let mut out = std::io::stdout();
            clap_complete::generate(shell, &mut Cli::command(), "rogue-hunter", &mut out);
            out.flush().context("cannot write completions")
        }
        Command::Service(action) => service::run(&ctx, action),
        Command::Perms(action) => perms::run(&ctx, action),
        Command::Man { out_dir } => man::run(out_dir.as_deref()),
    }
}

/// Loads the config for a command that keeps file capabilities (which can include
/// CAP_DAC_READ_SEARCH): the file must be readable by the invoking user's own (real) ids, so the
/// capabilities cannot be used to read someone else's file through `--config`.
fn load_config_as_invoker(ctx: &Context) -> anyhow::Result<Config> {
    let path = &ctx.paths.config_file;
    if path.exists() {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| UsageError(format!("invalid config path {}", path.display())))?;
        // SAFETY: access(2) with a NUL-terminated path; it checks with the real uid and gid.
        if unsafe { libc::access(c.as_ptr(), libc::R_OK) } != 0 {
            return Err(UsageError(format!(
                "cannot read config file {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ))
            .into());
        }
    }
    Ok(ctx.load_config()?)
}

fn usage_if_paths(e: PathsError) -> anyhow::Error {
    match e {
        PathsError::NoHome => UsageError(e.to_string()).into(),
        other => other.into(),
    }
}

/// Asks a yes/no question on the terminal; anything but y/yes (or no input) is no.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    print!("{question} [y/N]: ");
    std::io::stdout()
        .flush()
        .context("cannot write to stdout")?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the answer from stdin")?;
    println!();
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(PathsError::Create {
            path: "/x".into(),
            source: io,
        })
        .context("cannot prepare the runtime directory");
        assert_eq!(
            error_text(&e),
            "cannot prepare the runtime directory: cannot create /x: No such file"
        );
    }

    #[test]
    fn exit_codes_classify_errors() {
        let usage: anyhow::Error = UsageError("x".into()).into();
        assert_eq!(exit_code(&usage), 2);
        let cfg: anyhow::Error = ConfigError::Invalid {
            path: "x".into(),
            problems: vec![],
            in_use: true,
        }
        .into();
        assert_eq!(exit_code(&cfg.context("loading")), 2);
        let runtime = anyhow::anyhow!("disk full");
        assert_eq!(exit_code(&runtime), 1);
        assert_eq!(exit_code(&Aborted.into()), 1);
    }
}
