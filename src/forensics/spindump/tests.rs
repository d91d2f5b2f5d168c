use super::*;

const FULL: &str = include_str!("../../../tests/fixtures/spindump_full.txt");

#[test]
fn empty_text_has_nothing() {
    let r = parse("");
    assert!(r.processes.is_empty());
    assert_eq!(r.header, None);
}

#[test]
fn header_only_input_still_yields_the_header() {
    let r = parse(
        "Date/Time:        2026-02-02 23:22:34.999 -0800\nDuration:         3.41s\n\
         Hardware model:   Mac15,8\nMemory size:      64 GB\n",
    );
    assert!(r.processes.is_empty());
    let h = r.header.expect("header");
    assert_eq!(
        h.start_time.as_deref(),
        Some("2026-02-02 23:22:34.999 -0800")
    );
    assert_eq!(h.duration_sec, Some(3.41));
    assert_eq!(h.hardware_model.as_deref(), Some("Mac15,8"));
    assert_eq!(h.memory_gb, Some(64));
}

#[test]
fn full_header() {
    let r = parse(FULL);
    let h = r.header.as_ref().expect("header");
    assert_eq!(h.end_time.as_deref(), Some("2026-02-02 23:22:38.409 -0800"));
    assert_eq!(h.os_version.as_deref(), Some("macOS 15.3 (Build 24D60)"));
    assert_eq!(h.architecture.as_deref(), Some("arm64e"));
    assert_eq!(h.report_version, Some(53));
    assert_eq!((h.steps, h.sampling_interval_ms), (Some(341), Some(10)));
    assert_eq!(
        (h.active_cpus, h.hw_page_size, h.vm_page_size),
        (Some(16), Some(16384), Some(16384))
    );
    assert_eq!(
        (h.time_since_boot_sec, h.time_awake_since_boot_sec),
        (Some(103412), Some(98011))
    );
    assert_eq!(h.total_cpu_time_sec, Some(12.345));
    assert_eq!(h.total_cycles, Some(45_600_000_000));
    assert_eq!(h.total_instructions, Some(78_900_000_000));
    assert_eq!(h.total_cpi, Some(0.58));
    assert_eq!(
        (h.memory_pressure_avg_pct, h.memory_pressure_max_pct),
        (Some(12), Some(19))
    );
    assert_eq!(
        (h.available_memory_avg_gb, h.available_memory_min_gb),
        (Some(38.5), Some(37.25))
    );
    assert_eq!(
        (h.free_disk_gb, h.total_disk_gb),
        (Some(512.25), Some(994.66))
    );
    assert_eq!(
        (
            h.advisory_battery,
            h.advisory_user,
            h.advisory_thermal,
            h.advisory_combined
        ),
        (Some(3), Some(2), Some(0), Some(2))
    );
    assert_eq!(h.shared_cache_residency_pct, Some(78.2));
    assert_eq!(h.vnodes_available_pct, Some(64.84));
    assert_eq!(h.data_source.as_deref(), Some("Microstackshots"));
    assert_eq!(h.reason.as_deref(), Some("requested by rogue-hunter"));

    assert_eq!(r.shared_caches.len(), 2);
    assert_eq!(
        r.shared_caches[0].uuid,
        "8C0E7BCD-1A2B-3C4D-9E8F-0123456789AB"
    );
    assert_eq!(r.shared_caches[0].base_address, "0x18a0c8000");
    assert_eq!(r.shared_caches[0].slide, "0xa0c8000");
    assert_eq!(r.shared_caches[1].name, "DriverKit");

    let tiers: Vec<&str> = r.io_stats.iter().map(|s| s.tier.as_str()).collect();
    assert_eq!(tiers, ["overall", "tier0", "tier2"]);
    assert_eq!(r.io_stats[0].io_count, 1234);
    assert_eq!(r.io_stats[0].io_rate, Some(361.88));
    assert_eq!(r.io_stats[0].bytes, (45.5 * 1024.0 * 1024.0) as i64);
}

#[test]
fn process_block() {
    let r = parse(FULL);
    assert_eq!(r.processes.len(), 2);
    let p = &r.processes[0];
    assert_eq!((p.name.as_str(), p.pid), ("python3.14", 12345));
    assert_eq!(p.path.as_deref(), Some("/opt/homebrew/bin/python3.14"));
    assert_eq!(p.version.as_deref(), Some("3.14.0 (3.14.0)"));
    assert_eq!(
        p.shared_cache_uuid.as_deref(),
        Some("8C0E7BCD-1A2B-3C4D-9E8F-0123456789AB")
    );
    assert_eq!(
        p.parent,
        Some(NamedPid {
            name: "zsh".into(),
            pid: 1234
        })
    );
    assert_eq!(p.responsible.as_ref().map(|n| n.pid), Some(567));
    assert_eq!(
        p.execed_from.as_ref().map(|n| n.name.as_str()),
        Some("bash")
    );
    assert_eq!(p.end_time.as_deref(), Some("2026-02-02 23:22:37.000 -0800"));
    assert_eq!(p.runningboard_managed, Some(true));
    assert_eq!(p.sudden_term.as_deref(), Some("Tracked (allows idle exit)"));
    // The footprint is the value after the arrow; the delta keeps its sign.
    assert_eq!(p.footprint_mb, Some(11.45));
    assert_eq!(p.footprint_delta_mb, Some(5312.0 / 1024.0));
    assert_eq!((p.io_count, p.io_bytes), (Some(12), Some(48 * 1024)));
    assert_eq!(p.time_since_fork_sec, Some(4));
    assert_eq!(
        (p.num_samples, p.sample_range_start, p.sample_range_end),
        (Some(341), Some(1), Some(341))
    );
    assert_eq!(
        (p.cpu_time_sec, p.cycles),
        (Some(0.456), Some(1_200_000_000))
    );
    assert_eq!(p.num_threads, Some(8));
    assert_eq!(
        p.notes,
        ["1 idle work queue thread omitted", "Unmapped region"]
    );

    let f = &r.processes[1];
    assert_eq!((f.name.as_str(), f.pid), ("firefox", 1002));
    assert_eq!(f.footprint_mb, Some(2.25 * 1024.0));
    assert_eq!(
        f.footprint_delta_mb,
        Some(-256.0),
        "negative deltas are kept"
    );
    assert_eq!((f.num_samples, f.sample_range_start), (Some(0), None));
    assert_eq!(f.cpu_time_sec, None);
    assert_eq!(f.threads.len(), 1);
    assert_eq!(f.threads[0].num_samples, Some(1));
}

#[test]
fn thread_segments_in_any_order() {
    let r = parse(FULL);
    let t = &r.processes[0].threads[0];
    assert_eq!(t.thread_id, "0x1abc");
    assert_eq!(
        t.dispatch_queue_name.as_deref(),
        Some("com.apple.main-thread")
    );
    assert_eq!(t.dispatch_queue_serial, Some(1));
    assert_eq!(t.thread_name.as_deref(), Some("main"));
    assert_eq!(
        (t.num_samples, t.sample_range_start, t.sample_range_end),
        (Some(341), Some(1), Some(341))
    );
    assert_eq!((t.priority, t.base_priority), (Some(31), Some(31)));
    assert_eq!(
        (t.cpu_time_sec, t.cycles, t.cpi),
        (Some(0.4), Some(1_000_000_000), Some(0.5))
    );
    assert_eq!((t.io_count, t.io_bytes), (Some(3), Some(12 * 1024)));
    // The second thread puts its name last: still parsed.
    let t2 = &r.processes[0].threads[1];
    assert_eq!(t2.thread_name.as_deref(), Some("worker"));
    assert_eq!((t2.num_samples, t2.priority), (Some(341), Some(4)));
}

#[test]
fn frame_tree_with_kernel_frames_at_the_right_depth() {
    let r = parse(FULL);
    let frames = &r.processes[0].threads[0].frames;
    let shape: Vec<(u32, Option<usize>, bool)> = frames
        .iter()
        .map(|f| (f.depth, f.parent, f.is_kernel))
        .collect();
    assert_eq!(
        shape,
        [
            (0, None, false),
            (1, Some(0), false),
            (2, Some(1), false),
            (2, Some(1), false),
            (3, Some(3), true),
            (4, Some(4), true),
        ]
    );
    let root = &frames[0];
    assert_eq!(root.symbol_name.as_deref(), Some("start"));
    assert_eq!(root.symbol_offset, Some(6076));
    assert_eq!(root.library_name.as_deref(), Some("dyld"));
    assert_eq!(root.library_offset, Some(24536));
    assert_eq!(root.address, "0x18a1b5f18");
    assert_eq!(root.sample_count, 341);
    let running = &frames[2];
    assert_eq!(running.state.as_deref(), Some("running"));
    assert_eq!(running.core_type.as_deref(), Some("p-core"));
    let unknown = &frames[3];
    assert_eq!(unknown.symbol_name, None);
    assert_eq!(
        unknown.library_name.as_deref(),
        Some("libsystem_kernel.dylib")
    );
    let nested = &frames[5];
    assert_eq!(nested.state.as_deref(), Some("blocked"));
    assert_eq!(
        nested.blocked_on.as_deref(),
        Some("turnstile waiting for launchd [1] (pid 1)")
    );
    assert_eq!(nested.library_name.as_deref(), Some("kernel.release.t6041"));

    let t2 = &r.processes[0].threads[1].frames;
    assert_eq!(t2[0].symbol_name, None);
    assert_eq!(t2[0].library_name, None);
    assert_eq!(t2[0].address, "0x600001234000");
    assert_eq!(t2[1].blocked_on.as_deref(), Some("zsh [46454]"));
}

#[test]
fn binary_images_split_versions() {
    let r = parse(FULL);
    let imgs = &r.processes[0].images;
    assert_eq!(imgs.len(), 3);
    assert_eq!(imgs[0].name, "python3.14");
    assert_eq!(imgs[0].version.as_deref(), Some("3.14.0 (3.14.0)"));
    assert_eq!(imgs[0].start_address, "0x100aa0000");
    assert_eq!(imgs[0].end_address.as_deref(), Some("0x100c3ffff"));
    assert_eq!(
        imgs[0].path.as_deref(),
        Some("/opt/homebrew/bin/python3.14")
    );
    assert_eq!(
        (imgs[1].name.as_str(), imgs[1].version.as_deref()),
        ("dyld", Some("1335"))
    );
    let k = &imgs[2];
    assert!(k.is_kernel);
    assert_eq!(k.end_address, None);
    assert_eq!(k.name, "kernel.release.t6041");
    assert_eq!(
        k.uuid.as_deref(),
        Some("99999999-8888-7777-6666-555555555555")
    );
    assert_eq!(k.path, None);
}

#[test]
fn io_tail_histograms_and_aggregates() {
    let r = parse(FULL);
    let io: Vec<(&str, i64, Option<i64>, i64, i64)> = r
        .histograms
        .iter()
        .map(|b| {
            (
                b.histogram_type.as_str(),
                b.begin_value,
                b.end_value,
                b.frequency,
                b.cdf,
            )
        })
        .collect();
    assert_eq!(
        io,
        [
            ("io_size", 0, Some(4), 100, 100),
            ("io_size", 4, Some(16), 50, 150),
            ("io_size", 1, None, 3, 153),
            ("tier0_latency", 0, Some(100), 10, 10),
            ("tier0_latency", 10000, None, 1, 11),
        ]
    );
    assert_eq!(r.aggregates.len(), 1);
    let a = &r.aggregates[0];
    assert_eq!(a.tier, "tier0");
    assert_eq!(a.num_ios, 1000);
    assert_eq!(
        (a.latency_mean_us, a.latency_max_us, a.latency_sd_us),
        (Some(120), Some(9000), Some(30))
    );
    assert_eq!((a.read_count, a.read_bytes), (Some(800), Some(32 << 20)));
    assert_eq!((a.write_count, a.write_bytes), (Some(200), Some(8 << 20)));
}

/// The original's inline snippets (4-space frames, two blocks, a thread line, two states).
#[test]
fn original_snippets() {
    let text = "Process:          python3.14 [12345]\nPath:             /usr/bin/python3.14\n\
        Parent:           zsh [1234]\nFootprint:        123.45 MB\nCPU Time:         0.456s\n\
        Num threads:      8\n\n\
        \x20 Thread 0x1abc    DispatchQueue \"main-thread\"(1)    500 samples (1-500)    priority 31 (base 31)\n\
        \x20   500  main + 10 (python3.14 + 100) [0x1000]  (running on P-core)\n\
        \x20     20  waitpid + 8 (libsystem_kernel.dylib + 8) [0x2000] (blocked by wait4 on pid:1234)\n\n\
        Process:          chrome [1001]\n\nProcess:          firefox [1002]\n";
    let r = parse(text);
    let names: Vec<(&str, i64)> = r
        .processes
        .iter()
        .map(|p| (p.name.as_str(), p.pid))
        .collect();
    assert_eq!(
        names,
        [("python3.14", 12345), ("chrome", 1001), ("firefox", 1002)]
    );
    let p = &r.processes[0];
    assert_eq!(p.footprint_mb, Some(123.45));
    assert_eq!(p.cpu_time_sec, Some(0.456));
    assert_eq!(p.num_threads, Some(8));
    let t = &p.threads[0];
    assert_eq!(t.dispatch_queue_name.as_deref(), Some("main-thread"));
    assert_eq!((t.num_samples, t.priority), (Some(500), Some(31)));
    let states: Vec<(Option<&str>, Option<&str>)> = t
        .frames
        .iter()
        .map(|f| (f.state.as_deref(), f.blocked_on.as_deref()))
        .collect();
    assert_eq!(
        states,
        [(Some("running"), None), (Some("blocked"), Some("pid:1234"))]
    );
    assert_eq!(t.frames[1].parent, Some(0));
}

#[test]
fn garbage_never_panics() {
    for text in [
        "Process:",
        "Process: x [",
        "  Thread 0x\n  12 [0x]",
        "Binary Images:\n  0x1 - ",
        "IO Size Histogram:\n> \n1 2",
        "Tier 9 Aggregate Stats:\nReads x",
        "Footprint: -> -> (+",
        "\u{0}\u{1}(((",
    ] {
        assert!(parse(text).processes.len() <= 1, "{text:?}");
        let inside = parse(&format!("Process: p [1]\n  Thread 0x1\n{text}"));
        assert_eq!(inside.processes[0].pid, 1, "{text:?}");
    }
}
