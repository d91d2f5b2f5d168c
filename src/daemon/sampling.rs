//! The sampler thread: a dedicated OS thread on the monotonic ticker. It reads every process,
//! wraps the sample in an `Arc` and hands it to the pipeline with a non-blocking send. Nothing
//! downstream can delay it: if the pipeline is behind, the sample is dropped and counted.

use super::ticker::{Tick, Ticker};
use crate::model::Sample;
use crate::sampler::Sampler;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;

/// What the sampler thread sends per pass.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub sample: Arc<Sample>,
    /// Ticks skipped just before this pass (it overran the previous interval).
    pub missed: u64,
    /// How long after its deadline this pass started.
    pub late: Duration,
}

/// What the heartbeat reads from the sampler thread. (A pass's cost, missed ticks and lateness
/// travel with each sample; only a sample that never reached the pipeline needs a counter.)
#[derive(Debug, Default)]
pub struct SamplerStats {
    /// Samples dropped because the pipeline's channel was full.
    pub dropped_samples: AtomicU64,
}

/// The running sampler thread.
pub struct SamplerThread {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    pub stats: Arc<SamplerStats>,
}

impl SamplerThread {
    /// Starts sampling every `period`; samples go to `out`.
    pub fn spawn(
        mut sampler: Box<dyn Sampler>,
        period: Duration,
        out: tokio::sync::mpsc::Sender<Sampled>,
    ) -> std::io::Result<SamplerThread> {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let stats = Arc::new(SamplerStats::default());
        let st = stats.clone();
        let handle = std::thread::Builder::new()
            .name("rh-sampler".into())
            .spawn(move || {
                if let Err(e) = crate::sys::raise_priority(-5) {
                    tracing::info!(
                        "sampler thread keeps the default priority ({e}); grant CAP_SYS_NICE to raise it"
                    );
                }
                let mut ticker = Ticker::new(period);
                let mut failures_in_row = 0u32;
                loop {
                    let (missed, late) = match ticker.wait(&stop_rx) {
                        Tick::Stop => break,
                        Tick::Due { missed, late } => (missed, late),
                    };
                    if missed > 0 {
                        tracing::warn!(missed, "sampler overran its interval; skipped ticks");
                    }
                    match sampler.sample() {
                        Ok(sample) => {
                            failures_in_row = 0;
                            let msg = Sampled {
                                sample: Arc::new(sample),
                                missed,
                                late,
                            };
                            match out.try_send(msg) {
                                Ok(()) => {}
                                Err(TrySendError::Full(_)) => {
                                    st.dropped_samples.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(TrySendError::Closed(_)) => break,
                            }
                        }
                        Err(e) => {
                            failures_in_row += 1;
                            // Log the first failure of a run and then every 100th.
                            if failures_in_row == 1 || failures_in_row.is_multiple_of(100) {
                                tracing::error!(failures_in_row, "sampling failed: {e}");
                            }
                        }
                    }
                }
            })?;
        Ok(SamplerThread {
            stop: Some(stop_tx),
            handle: Some(handle),
            stats,
        })
    }

    /// Asks the thread to stop; it finishes its current pass first.
    pub fn request_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Stops and waits for the thread.
    pub fn join(mut self) {
        self.request_stop();
        if let Some(h) = self.handle.take()
            && h.join().is_err()
        {
            tracing::error!("the sampler thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::SamplerError;

    /// Counts its passes where the test can read them.
    struct Counting(Arc<AtomicU64>);
    impl Sampler for Counting {
        fn sample(&mut self) -> Result<Sample, SamplerError> {
            let seq = self.0.fetch_add(1, Ordering::Relaxed) + 1;
            Ok(Sample {
                seq,
                ..Default::default()
            })
        }
    }

    #[test]
    fn a_full_pipeline_drops_samples_instead_of_blocking_the_sampler() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let count = Arc::new(AtomicU64::new(0));
        let t = SamplerThread::spawn(
            Box::new(Counting(count.clone())),
            Duration::from_millis(5),
            tx,
        )
        .unwrap();
        // Nobody reads: the channel fills at 2 and the sampler keeps going.
        std::thread::sleep(Duration::from_millis(200));
        let stats = t.stats.clone();
        t.join();
        let passes = count.load(Ordering::Relaxed);
        let dropped = stats.dropped_samples.load(Ordering::Relaxed);
        assert!(passes >= 5, "sampler kept sampling ({passes} passes)");
        assert_eq!(
            dropped,
            passes - 2,
            "everything beyond the channel was counted as dropped"
        );
        let first = rx.try_recv().unwrap();
        assert_eq!(first.sample.seq, 1);
    }
}
