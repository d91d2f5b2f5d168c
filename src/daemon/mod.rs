//! The daemon: single instance, the sampler thread on its ticker, the pipeline, the writer and
//! the socket server, and an orderly shutdown.
//!
//! Threads: the sampler (dedicated, raised priority), the writer and its checkpointer (owned by
//! the store), and a small tokio runtime for the pipeline, the socket server, forensics, the
//! metrics endpoint, pruning and signals.
//!
//! Shutdown (SIGINT/SIGTERM, within ~5 s): stop the sampler, let the pipeline finish what it
//! holds, close open events as `daemon_stopped`, give a capture in flight
//! `[forensics] shutdown_wait_s`, stop the socket server, flush the writer. A second signal
//! exits at once. SIGHUP reopens the log file. After a crash (kill -9), the next start closes the
//! events left open at the last sample time the daemon recorded.

pub mod bandlog;
pub mod lock;
pub mod pipeline;
pub mod sampling;
pub mod ticker;

use crate::config::Config;
use crate::export::MetricsState;
use crate::forensics::Settings as ForensicsSettings;
use crate::forensics::worker::{Deps, Forensics};
use crate::ipc::{Hello, Server};
use crate::logging::RotatingFileHandle;
use crate::model::ExitReason;
use crate::paths::Paths;
use crate::sampler::platform_sampler;
use crate::store::reserve::SpaceReserve;
use crate::store::startup;
use crate::store::{PrunePolicy, Writer, WriterConfig, WriterHandle};
use crate::tracker::{Tracker, TrackerParams};
use anyhow::{Context, bail};
use lock::InstanceLock;
use pipeline::{Outputs, Pipeline};
use sampling::SamplerThread;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Runs the daemon in the foreground until SIGINT or SIGTERM.
pub fn run(paths: &Paths, config: Config) -> anyhow::Result<()> {
    // Everything the daemon creates (database, log, config, capture temp files) holds what
    // other users' processes did: private whatever umask it was started with.
    // SAFETY: umask(2) only sets this process's file mode creation mask.
    unsafe {
        libc::umask(0o077);
    }
    // With privileges, only the real /proc is read (see procfs::trust).
    #[cfg(target_os = "linux")]
    crate::procfs::trust::check_proc_root(std::path::Path::new(&config.sampler.proc_root))
        .map_err(anyhow::Error::msg)?;
    paths
        .ensure_runtime_dir()
        .context("cannot prepare the runtime directory")?;
    let _lock = InstanceLock::acquire(&paths.lock_file)?;
    crate::paths::ensure_dir(&paths.data_dir)?;
    crate::paths::ensure_dir(&paths.state_dir)?;
    let log = crate::logging::init_daemon(
        &paths.log_file,
        config.system.log_max_bytes,
        config.system.log_backup_count,
    )
    .with_context(|| format!("cannot open the log file {}", paths.log_file.display()))?;

    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        pid = std::process::id(),
        db = %paths.db_file.display(),
        socket = %paths.socket.display(),
        interval_s = config.system.sample_interval,
        ring = config.system.ring_buffer_size,
        tracking_threshold = config.bands.tracking_threshold(),
        forensics_threshold = config.bands.forensics_threshold(),
        "rogue-hunter daemon starting"
    );
    match crate::sys::raise_nofile_limit() {
        Ok(n) => tracing::debug!(limit = n, "open-files limit"),
        Err(e) => tracing::warn!("cannot raise the open-files limit: {e}"),
    }
    if !paths.config_file.exists() {
        match config.save(&paths.config_file) {
            Ok(()) => {
                tracing::info!(path = %paths.config_file.display(), "wrote the default config file")
            }
            Err(e) => tracing::warn!("cannot write the default config file: {e}"),
        }
    }

    let (writer, ids) = open_store(paths)?;
    let config = Arc::new(config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("rh-runtime")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(paths, config, writer.handle(), ids, log));
    // Whatever happened, everything queued reaches the database.
    let stats = writer.shutdown();
    runtime.shutdown_timeout(Duration::from_secs(1));
    finish_pending_captures(paths);
    tracing::info!(
        batches = stats.batches_written,
        rows = stats.rows_written,
        write_errors = stats.write_errors,
        "daemon stopped"
    );
    result
}

/// At a stop, after the forensics worker and the writer are done, no capture part may stay
/// `pending`: one still is when its result could not be written (a full disk). A connection of
/// its own marks them failed; on a full disk the space reserve is given back for it. If even
/// that fails, the next start finishes them.
fn finish_pending_captures(paths: &Paths) {
    let reserve = SpaceReserve::of(&paths.db_file);
    let mut result = startup::finish_pending_at_exit(&paths.db_file, crate::sys::now_epoch());
    if result.is_err() && reserve.release() {
        tracing::warn!(
            path = %reserve.path().display(),
            "released the disk space reserve to finish the pending captures"
        );
        result = startup::finish_pending_at_exit(&paths.db_file, crate::sys::now_epoch());
    }
    match result {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            captures = n,
            "captures whose results could not be stored are marked failed"
        ),
        Err(e) => tracing::error!(
            "captures whose results could not be stored stay pending until the next start: {e}"
        ),
    }
}

/// Opens (creating or migrating) the database, closes what a crash left open, starts the writer.
fn open_store(paths: &Paths) -> anyhow::Result<(Writer, crate::store::NextIds)> {
    let now = crate::sys::now_epoch();
    let opening = std::time::Instant::now();
    let (conn, report) = crate::store::open_writer(&paths.db_file, now)
        .with_context(|| format!("cannot open the database {}", paths.db_file.display()))?;
    // Opening reads every page once (quick_check): seconds for a database of gigabytes.
    let took = opening.elapsed();
    if took >= Duration::from_secs(1) {
        tracing::info!(
            seconds = format!("{:.1}", took.as_secs_f64()),
            "checked the database for damage (quick_check) and opened it"
        );
    }
    if report.created {
        tracing::info!(path = %paths.db_file.display(), "created the database");
    }
    if let Some(m) = &report.migration {
        tracing::info!(
            from = m.from,
            to = m.to,
            orphan_rows = m.orphan_rows,
            "migrated the database"
        );
    }
    let last = startup::last_sample_time(&conn)?;
    let closed = startup::close_open_events(&conn, last.unwrap_or(now), ExitReason::DaemonStopped)?;
    if closed > 0 {
        tracing::info!(
            closed,
            at = last.unwrap_or(now),
            "closed events left open by the previous run, at its last sample time"
        );
    }
    // Nothing runs yet, so a pending capture part is one the previous run never finished.
    match startup::finish_pending_captures(&conn, last.unwrap_or(now)) {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            captures = n,
            "captures left unfinished by the previous run are marked failed"
        ),
        // Not a reason to stop sampling (say, the disk is full); the next start tries again.
        Err(e) => tracing::error!("cannot finish the captures left pending: {e}"),
    }
    let boot_time = crate::sys::boot_time();
    if let Some(boot) = boot_time {
        startup::set_state(&conn, startup::BOOT_TIME_KEY, &boot.to_string(), now)?;
    }
    if let Some(id) = crate::sys::boot_id() {
        startup::set_state(&conn, startup::BOOT_ID_KEY, &id, now)?;
        if let Some(boot) = boot_time {
            let adopted = startup::adopt_boot_id(&conn, &id, boot)?;
            if adopted > 0 {
                tracing::info!(
                    events = adopted,
                    "events of this boot recorded before boot ids got the id"
                );
            }
        }
    }
    let reserve = SpaceReserve::of(&paths.db_file);
    if let Err(e) = reserve.ensure() {
        tracing::warn!(
            path = %reserve.path().display(),
            "cannot set disk space aside for the last writes at a stop: {e}"
        );
    }
    let ids = startup::next_ids(&conn)?;
    let writer = Writer::spawn(conn, WriterConfig::default()).context("cannot start the writer")?;
    Ok((writer, ids))
}

async fn serve(
    paths: &Paths,
    config: Arc<Config>,
    writer: WriterHandle,
    ids: crate::store::NextIds,
    log: RotatingFileHandle,
) -> anyhow::Result<()> {
    let mut signals = Signals::install()?;
    let hello = Hello::for_this_process(
        config.system.sample_period(),
        config.system.ring_buffer_size,
    );
    let (server, mut requests) = Server::bind(&paths.socket, hello).await?;
    let (metrics, metrics_stop) = match start_metrics(&config).await {
        Ok(m) => m,
        Err(e) => {
            server.shutdown().await;
            return Err(e);
        }
    };
    let forensics = Forensics::spawn(
        ForensicsSettings::from_config(&config, paths),
        Deps {
            writer: writer.clone(),
            server: Some(server.clone()),
            metrics: metrics.clone(),
        },
        ids.capture,
    );
    let sampler = match platform_sampler(&config) {
        Ok(s) => s,
        Err(e) => {
            forensics.shutdown().await;
            server.shutdown().await;
            bail!(e);
        }
    };
    let (sample_tx, mut sample_rx) = tokio::sync::mpsc::channel(16);
    let sampler_thread = SamplerThread::spawn(sampler, config.system.sample_period(), sample_tx)
        .context("cannot start the sampler thread")?;
    let tracker = Tracker::new(
        TrackerParams::from_config(&config),
        crate::sys::boot_time().unwrap_or(0),
        ids,
    )
    .with_boot_id(crate::sys::boot_id());
    let mut pipeline = Pipeline::new(
        config.clone(),
        tracker,
        Outputs {
            writer: writer.clone(),
            server: Some(server.clone()),
            metrics,
            forensics: Some(forensics),
        },
        sampler_thread.stats.clone(),
        paths.db_file.clone(),
    );
    let pruner = tokio::spawn(auto_prune(writer.clone(), config.clone()));
    tracing::info!("daemon started");

    loop {
        tokio::select! {
            biased;
            stop = signals.next(&log) => if stop { break },
            msg = sample_rx.recv() => match msg {
                Some(m) => pipeline.on_sample(m),
                None => { tracing::error!("the sampler thread ended"); break; }
            },
            Some(req) = requests.recv() => pipeline.on_client_request(req),
        }
    }
    signals.exit_on_the_next();

    // The order matters: no new sample, the last ones through the pipeline, open events
    // closed, the capture in flight given its time, clients told, everything written.
    let mut sampler_thread = sampler_thread;
    sampler_thread.request_stop();
    let _ = tokio::task::spawn_blocking(move || sampler_thread.join()).await;
    while let Ok(m) = sample_rx.try_recv() {
        pipeline.on_sample(m);
    }
    pruner.abort();
    if let Some(forensics) = pipeline.close() {
        forensics.shutdown().await;
    }
    server.shutdown().await;
    let _ = metrics_stop.send(());
    if let Err(e) = writer.flush().await {
        tracing::error!("final flush failed: {e}");
    }
    Ok(())
}

/// The signals the daemon acts on: SIGINT and SIGTERM stop it, SIGHUP reopens the log.
struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            hup: signal(SignalKind::hangup()).context("cannot handle SIGHUP")?,
        })
    }

    /// Waits for the next signal; true when it asks the daemon to stop.
    async fn next(&mut self, log: &RotatingFileHandle) -> bool {
        tokio::select! {
            biased;
            _ = self.int.recv() => { tracing::info!("SIGINT: stopping"); true }
            _ = self.term.recv() => { tracing::info!("SIGTERM: stopping"); true }
            _ = self.hup.recv() => {
                match log.reopen() {
                    Ok(()) => tracing::info!("SIGHUP: log file reopened"),
                    Err(e) => tracing::error!("SIGHUP: cannot reopen the log file: {e}"),
                }
                false
            }
        }
    }

    /// While the daemon stops, a second SIGINT or SIGTERM exits at once.
    fn exit_on_the_next(mut self) {
        tokio::spawn(async move {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
            eprintln!("second signal: exiting now");
            std::process::exit(1);
        });
    }
}

/// Serves `/metrics` when `[metrics] listen` is set; the sender stops it.
async fn start_metrics(
    config: &Config,
) -> anyhow::Result<(Option<Arc<MetricsState>>, tokio::sync::oneshot::Sender<()>)> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let Some(addr) = config.metrics.listen_addr() else {
        return Ok((None, stop));
    };
    let state = Arc::new(MetricsState::new(config.metrics.top_n as usize)?);
    let addr = addr
        .parse()
        .with_context(|| format!("invalid [metrics] listen address '{addr}'"))?;
    // The exporter logs where it listens; its task runs until `stop` is sent or dropped.
    crate::export::serve(addr, state.clone(), async {
        let _ = stopped.await;
    })
    .await?;
    Ok((Some(state), stop))
}

/// Prunes at start and then every `auto_prune_interval_hours`.
async fn auto_prune(writer: WriterHandle, config: Arc<Config>) {
    let every = Duration::from_secs_f64(config.system.auto_prune_interval_hours * 3600.0);
    loop {
        let policy = PrunePolicy::from(&config.retention);
        match writer.prune(policy, crate::sys::now_epoch()) {
            Ok(rx) => match rx.await {
                // The writer logs what it pruned.
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!("auto-prune failed: {e}"),
                Err(_) => return,
            },
            Err(e) => {
                tracing::error!("auto-prune could not be queued: {e}");
                return;
            }
        }
        tokio::time::sleep(every).await;
    }
}
