//! `rogue-hunter tui`: the live dashboard.

use super::Context;

/// Options of `tui`.
#[derive(Debug, Clone, clap::Args)]
pub struct TuiArgs {
    /// Draw without colours (as when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
    /// Open straight into the view of event ID (its summary, captures and replay).
    #[arg(long, value_name = "ID")]
    pub event: Option<i64>,
}

pub fn run(ctx: &Context, args: &TuiArgs) -> anyhow::Result<()> {
    let config = ctx.load_config()?;
    crate::tui::run(crate::tui::Options {
        socket: ctx.paths.socket.clone(),
        daemon_uid: ctx.paths.daemon_uid(),
        db: ctx.paths.db_file.clone(),
        config,
        mono: args.no_color,
        event: args.event,
    })?;
    Ok(())
}
