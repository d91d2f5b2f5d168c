//! The exporter's cost to the pipeline (`observe_sample`, on every sample) and to a scrape
//! (`render`), with a realistic sample of 500 processes.

use criterion::{Criterion, criterion_group, criterion_main};
use rogue_hunter::export::MetricsState;
use rogue_hunter::model::{ProcessScore, Sample};
use std::hint::black_box;
use std::sync::Arc;

fn sample(n: usize) -> Arc<Sample> {
    let processes = (0..n)
        .map(|i| ProcessScore {
            pid: i as u32,
            command: format!("command-{}", i % 300),
            score: (100 - (i * 100 / n)) as u8,
            cpu: i as f64 * 0.1,
            mem: 1 << 22,
            ..Default::default()
        })
        .collect::<Vec<_>>();
    Arc::new(Sample {
        seq: 1,
        process_count: n,
        max_score: 100,
        processes,
        ..Default::default()
    })
}

fn bench(c: &mut Criterion) {
    let state = MetricsState::new(10).unwrap();
    let s = sample(500);
    c.bench_function("export/observe_sample (500 processes)", |b| {
        b.iter(|| state.observe_sample(black_box(&s), 0.004))
    });
    c.bench_function("export/render (top 10 of 500)", |b| {
        b.iter(|| black_box(state.render()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
