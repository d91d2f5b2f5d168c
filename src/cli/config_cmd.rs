//! `config show|path|edit|reset|validate`.

use super::{Aborted, Context, UsageError, confirm};
use crate::config::{Config, load_file};
use anyhow::Context as _;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Table};

/// What to do with the config file.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective configuration as TOML, marking values that differ from the defaults.
    Show,
    /// Print the config file's path.
    Path,
    /// Open the config file in $VISUAL or $EDITOR (creating it first), then check it.
    Edit,
    /// Overwrite the config file with the defaults.
    Reset {
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Check a config file (default: the one in use) and report every problem.
    Validate {
        /// The file to check.
        file: Option<PathBuf>,
    },
}

pub(super) fn run(ctx: &Context, action: ConfigAction) -> anyhow::Result<()> {
    let path = &ctx.paths.config_file;
    match action {
        ConfigAction::Show => show(ctx, path),
        ConfigAction::Path => {
            println!("{}", path.display());
            Ok(())
        }
        ConfigAction::Edit => edit(path),
        ConfigAction::Reset { yes } => reset(path, yes),
        ConfigAction::Validate { file } => validate(file.as_deref(), path),
    }
}

fn show(ctx: &Context, path: &Path) -> anyhow::Result<()> {
    let config = ctx.load_config()?;
    println!("Config file: {}", path.display());
    println!("Exists: {}", if path.exists() { "yes" } else { "no" });
    println!();
    print!("{}", annotate_non_defaults(&config));
    Ok(())
}

/// The config as TOML with `# default: …` after every value that differs from the default.
pub(crate) fn annotate_non_defaults(config: &Config) -> String {
    let (Ok(mut doc), Ok(defaults)) = (
        config.to_toml().parse::<DocumentMut>(),
        Config::default().to_toml().parse::<DocumentMut>(),
    ) else {
        return config.to_toml();
    };
    mark_table(doc.as_table_mut(), Some(defaults.as_table()));
    doc.to_string()
}

fn mark_table(table: &mut Table, defaults: Option<&Table>) {
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
    for key in keys {
        let default = defaults.and_then(|d| d.get(&key));
        let Some(item) = table.get_mut(&key) else {
            continue;
        };
        match item {
            Item::Table(t) => mark_table(t, default.and_then(Item::as_table)),
            Item::Value(v) => {
                let current = v.to_string().trim().to_string();
                let default_text = default
                    .and_then(Item::as_value)
                    .map(|d| d.to_string().trim().to_string());
                if default_text.as_deref() != Some(current.as_str()) {
                    let note = default_text.unwrap_or_else(|| "not set".into());
                    v.decor_mut().set_suffix(format!("  # default: {note}"));
                }
            }
            _ => {}
        }
    }
}

fn edit(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        Config::default().save(path)?;
        println!("Created default config at {}", path.display());
    }
    let editor = editor_command();
    // Like git: the editor string is shell words, the file is passed as "$1".
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .with_context(|| format!("cannot start the editor '{editor}'"))?;
    if !status.success() {
        eprintln!("Warning: the editor '{editor}' exited with {status}");
    }
    match load_file(path) {
        Ok(_) => {
            println!("Config is valid: {}", path.display());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string())
}

fn reset(path: &Path, yes: bool) -> anyhow::Result<()> {
    if !yes && !confirm("Reset config to defaults?")? {
        return Err(Aborted.into());
    }
    Config::default().save(path)?;
    println!("Config reset to defaults at {}", path.display());
    Ok(())
}

fn validate(file: Option<&Path>, in_use: &Path) -> anyhow::Result<()> {
    let target = file.unwrap_or(in_use);
    if file.is_none() && !target.exists() {
        println!(
            "No config file at {}; the defaults are in use.",
            target.display()
        );
        return Ok(());
    }
    if file.is_some() && !target.exists() {
        return Err(UsageError(format!("no such file: {}", target.display())).into());
    }
    load_file(target)?;
    println!("Config is valid: {}", target.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_no_marks_and_changes_are_marked() {
        let text = annotate_non_defaults(&Config::default());
        assert!(!text.contains("# default"), "{text}");
        let mut c = Config::default();
        c.bands.medium = 15;
        c.metrics.listen = Some("127.0.0.1:9464".into());
        let text = annotate_non_defaults(&c);
        assert!(text.contains("medium = 15  # default: 40"), "{text}");
        assert!(text.contains("listen = \"127.0.0.1:9464\"  # default: not set"));
        assert_eq!(text.matches("# default").count(), 2);
    }
}

#[cfg(test)]
mod round_trip {
    use super::*;
    use crate::config::{SparklineDirection, SparklineOrientation, UserStacks};
    use crate::model::Band;

    /// A config where every single key differs from its default.
    fn everything_changed() -> Config {
        let mut c = Config::default();
        c.retention.events_days = 120;
        c.retention.machine_snapshot_hours = 6.5;
        c.retention.captures_days = 7;
        let s = &mut c.system;
        s.ring_buffer_size = 45;
        s.sample_interval = 0.2;
        s.forensics_debounce = 1.5;
        s.heartbeat_samples = 30;
        s.log_stability_samples = 2;
        s.auto_prune_interval_hours = 4.0;
        s.log_max_bytes = 1 << 20;
        s.log_backup_count = 5;
        s.forensics_log_seconds = 30;
        s.machine_snapshot_interval = 120.0;
        let b = &mut c.bands;
        (b.medium, b.elevated, b.high, b.critical) = (30, 45, 55, 80);
        b.tracking_band = Band::Elevated;
        b.forensics_band = Band::High;
        b.logging_band = Band::High;
        b.medium_checkpoint_samples = 25;
        b.elevated_checkpoint_samples = 12;
        let sc = &mut c.scoring;
        sc.share_min_cpu = 0.2;
        sc.share_min_gpu = 0.5;
        sc.share_min_memory_bytes = 20_000_000.0;
        sc.share_min_disk = 128.0;
        sc.share_min_wakeups = 10.0;
        sc.score_multiplier = 2.0;
        sc.score_max = 90.0;
        let w = &mut sc.resource_weights;
        (w.cpu, w.gpu, w.memory, w.disk_io, w.wakeups) = (1.5, 4.0, 2.0, 0.5, 0.7);
        let m = &mut sc.state_multipliers;
        (m.idle, m.sleeping, m.stopped, m.zombie, m.running, m.stuck) =
            (0.5, 0.75, 3.0, 6.0, 1.25, 7.0);
        sc.model = crate::config::ScoringModel::FairShare;
        let im = &mut sc.impact;
        (im.persistence_s, im.forensics_hold_s) = (4.0, 6.0);
        (
            im.cpu_pressure_full,
            im.memory_pressure_full,
            im.io_pressure_full,
        ) = (40.0, 15.0, 25.0);
        (im.memory_used_low, im.memory_used_full) = (40.0, 95.0);
        (
            im.forks_per_cpu_full,
            im.switches_per_cpu_full,
            im.switch_cost_us,
        ) = (400.0, 40_000.0, 2.5);
        (im.cpu_floor_cores, im.cpu_floor_s) = (0.8, 6.0);
        (
            im.memory_floor_percent,
            im.memory_growth_ratio,
            im.memory_growth_percent,
            im.memory_decay_s,
        ) = (40.0, 1.5, 5.0, 30.0);
        im.memory_exhaustion_s = 45.0;
        c.rogue_selection.max_count = 15;
        c.sampler.include_kernel_threads = false;
        c.sampler.status_interval_samples = 1;
        c.sampler.proc_root = "/tmp/fake-proc".into();
        c.tracking.exit_stability_samples = 1;
        let f = &mut c.forensics;
        f.enabled = false;
        f.min_interval_s = 30.0;
        f.stack_culprits = 1;
        f.stack_samples = 9;
        f.stack_sample_interval_ms = 5;
        f.user_stacks = UserStacks::Gdb;
        f.profile_seconds = 1.5;
        f.profile_hz = 49;
        f.profile_max_threads = 16;
        f.tool_timeout_s = 4.0;
        f.psi_trigger = 40.0;
        f.shutdown_wait_s = 1.0;
        c.metrics.listen = Some("127.0.0.1:9464".into());
        c.metrics.top_n = 3;
        let t = &mut c.tui;
        t.decay_seconds = 20.0;
        t.tracked_max_history = 30;
        t.reconnect_initial_delay = 0.5;
        t.reconnect_max_delay = 10.0;
        t.reconnect_multiplier = 3.0;
        let k = &mut t.colors;
        k.bands.low = "green".into();
        k.bands.medium = "cyan".into();
        k.bands.elevated = "#ff0".into();
        k.bands.high = "orange".into();
        k.bands.critical = "magenta".into();
        k.trends.worsening = "bold red".into();
        k.trends.improving = "bright_green".into();
        k.trends.stable = "purple".into();
        k.trends.decayed = "dim red".into();
        k.categories.blocking = "red".into();
        k.categories.contention = "yellow".into();
        k.categories.pressure = "blue".into();
        k.categories.efficiency = "white".into();
        k.status.active = "bold green".into();
        k.status.ended = "gray".into();
        k.borders.normal = "blue".into();
        k.borders.elevated = "yellow".into();
        k.borders.critical = "bold magenta".into();
        k.borders.disconnected = "#FF0000".into();
        k.pid.default = "cyan".into();
        k.process_state.running = "green".into();
        k.process_state.sleeping = "blue".into();
        k.process_state.idle = "gray".into();
        k.process_state.stopped = "yellow".into();
        k.process_state.zombie = "red".into();
        k.process_state.stuck = "bold red".into();
        k.process_state.unknown = "white".into();
        let sp = &mut t.sparkline;
        sp.height = 4;
        sp.min_value = 5.0;
        sp.max_value = 95.0;
        sp.orientation = SparklineOrientation::Mirrored;
        sp.direction = SparklineDirection::Ltr;
        c
    }

    #[test]
    fn save_then_load_round_trips_every_key() {
        let c = everything_changed();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        // Every key of the full default file is marked as changed: nothing was missed.
        let keys = Config::default()
            .to_toml()
            .lines()
            .filter(|l| l.contains(" = "))
            .count();
        let marked = annotate_non_defaults(&c).matches("# default:").count();
        assert_eq!(
            marked,
            keys + 1,
            "every key plus metrics.listen is non-default"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.toml");
        c.save(&path).unwrap();
        let back = load_file(&path).unwrap();
        assert_eq!(back, c);
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in [
            "[tui.colors.bands]",
            "critical = \"magenta\"",
            "[tui.sparkline]",
            "orientation = \"mirrored\"",
            "direction = \"ltr\"",
            "[rogue_selection]",
            "max_count = 15",
            "user_stacks = \"gdb\"",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
