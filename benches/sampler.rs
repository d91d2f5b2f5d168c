//! Cost of one full sampler pass, per process, against the floor measured in the same run: a
//! loop that only opens, reads and closes `/proc/P/stat` for every pid (listed beforehand).
//! Three populations: the machine as it is; with ~500 extra sleeping processes; and with ~500
//! extra processes that each wake every 50 ms (so every one of them has run since the previous
//! pass and is read in full: the sampler's worst case). Also the sampler's own heap per process
//! (a counting allocator).
//!
//! `cargo bench --bench sampler`. Criterion times back-to-back passes and floors; then a summary
//! line per population gives medians of 45 passes at the daemon's real cadence (1/3 s), each
//! followed by a floor run in the same gap, the ratio, and the memory. Goals: pass ≤ 2× floor
//! per process, sampler memory ≤ 2 KiB per process.

#[cfg(target_os = "linux")]
#[path = "../tests/integration/helper.rs"]
mod helper;

#[cfg(target_os = "linux")]
mod linux {
    use crate::helper::Helper;
    use criterion::{Criterion, Throughput};
    use rogue_hunter::config::Config;
    use rogue_hunter::sampler::Sampler;
    use rogue_hunter::sampler::linux::LinuxSampler;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::hint::black_box;
    use std::sync::atomic::{AtomicIsize, Ordering};
    use std::time::{Duration, Instant};

    /// Heap bytes live right now.
    static LIVE: AtomicIsize = AtomicIsize::new(0);

    pub struct Counting;

    // SAFETY: forwards to the system allocator, only counting sizes.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
            unsafe { System.alloc_zeroed(l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
            unsafe { System.realloc(p, l, new) }
        }
    }

    fn live() -> isize {
        LIVE.load(Ordering::Relaxed)
    }

    fn pids() -> Vec<u32> {
        std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The floor: open, read and close `/proc/P/stat` for every pid, nothing else.
    fn floor_pass(pids: &[u32], buf: &mut [u8]) -> usize {
        let mut total = 0;
        for &pid in pids {
            let mut path = [0u8; 32];
            let mut w = &mut path[..];
            use std::io::Write;
            let _ = write!(w, "/proc/{pid}/stat\0");
            // SAFETY: NUL-terminated path; buffer valid for its length.
            unsafe {
                let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                    total += n.max(0) as usize;
                    libc::close(fd);
                }
            }
        }
        total
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    /// One population: criterion cases plus the interleaved summary.
    fn population(c: &mut Criterion, name: &str) {
        let heap_before = live();
        let mut sampler = LinuxSampler::new(&Config::default()).expect("sampler");
        let mut sampler_heap = 0isize;
        for _ in 0..6 {
            // Warm up: fds held, buffers grown, every status stagger slot visited.
            let s = sampler.sample().expect("pass");
            sampler_heap = live() - heap_before - sample_heap(&s);
            drop(s);
        }
        let sample = sampler.sample().expect("pass");
        let procs = sample.process_count;
        let sample_bytes = sample_heap(&sample);
        drop(sample);
        let pids = pids();
        let mut buf = vec![0u8; 4096];

        let mut g = c.benchmark_group(format!("sampler/{name}"));
        g.throughput(Throughput::Elements(procs as u64));
        g.sample_size(40).measurement_time(Duration::from_secs(6));
        g.bench_function("full_pass", |b| {
            b.iter(|| black_box(sampler.sample().expect("pass")))
        });
        g.bench_function("floor_open_read_close_stat", |b| {
            b.iter(|| black_box(floor_pass(&pids, &mut buf)))
        });
        g.finish();

        // The ratio: passes at the daemon's real cadence (so "has it run since the last pass"
        // means what it means in production), each followed by a floor run in the same gap.
        let period = Config::default().system.sample_period();
        let (mut pass_us, mut floor_us) = (Vec::new(), Vec::new());
        let mut next = Instant::now();
        for _ in 0..45 {
            next += period;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            let t = Instant::now();
            let s = sampler.sample().expect("pass");
            pass_us.push(t.elapsed().as_secs_f64() * 1e6 / s.process_count.max(1) as f64);
            drop(s);
            let t = Instant::now();
            black_box(floor_pass(&pids, &mut buf));
            floor_us.push(t.elapsed().as_secs_f64() * 1e6 / pids.len().max(1) as f64);
        }
        let (p, f) = (median(&mut pass_us), median(&mut floor_us));
        println!(
            "SUMMARY {name}: {procs} processes ({} tracked, {} held fds); at {:.0} ms cadence: \
             full pass {p:.2} µs/process ({:.2} ms), floor {f:.2} µs/process; ratio {:.2}; \
             sampler heap {} B/process; one Sample {} B/process",
            sampler.tracked_processes(),
            sampler.held_fds(),
            period.as_secs_f64() * 1000.0,
            p * procs as f64 / 1000.0,
            p / f,
            sampler_heap / procs.max(1) as isize,
            sample_bytes / procs.max(1) as isize,
        );
    }

    /// Heap held by a `Sample` (its vector and command strings).
    fn sample_heap(s: &rogue_hunter::model::Sample) -> isize {
        (s.processes.capacity() * std::mem::size_of::<rogue_hunter::model::ProcessScore>()
            + s.processes
                .iter()
                .map(|p| p.command.capacity())
                .sum::<usize>()) as isize
    }

    /// Waits (up to 20 s) until the process count is back near `baseline`: the children of a
    /// killed helper exit at once but are reaped by PID 1, which may take a moment.
    fn settle(baseline: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while pids().len() > baseline + 20 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn benches(c: &mut Criterion) {
        let baseline = pids().len();
        population(c, "own_processes");
        let sleepers = Helper::spawn(&["sleepers", "--count", "500"]);
        population(c, "plus_500_sleepers");
        drop(sleepers);
        settle(baseline);
        let wakers = Helper::spawn(&["sleepers", "--count", "500", "--wake-ms", "50"]);
        population(c, "plus_500_waking_every_50ms");
        drop(wakers);
        settle(baseline);
    }
}

#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: linux::Counting = linux::Counting;

#[cfg(target_os = "linux")]
criterion::criterion_group!(sampler, linux::benches);
#[cfg(target_os = "linux")]
criterion::criterion_main!(sampler);

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("skipped: the sampler benchmark measures the Linux procfs reader");
}
