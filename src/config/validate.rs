//! Range and consistency checks that types alone cannot express.

use super::Config;
use super::colour::parse_style;
use crate::model::Band;

/// Collects every problem as (dotted key path, message).
pub(super) fn problems(c: &Config) -> Vec<(String, String)> {
    let mut v = Checks::default();

    let r = &c.retention;
    v.at_least_u("retention.events_days", r.events_days.into(), 1);
    v.positive("retention.machine_snapshot_hours", r.machine_snapshot_hours);
    v.at_least_u("retention.captures_days", r.captures_days.into(), 1);

    let s = &c.system;
    v.at_least_u("system.ring_buffer_size", s.ring_buffer_size.into(), 1);
    v.positive("system.sample_interval", s.sample_interval);
    if s.sample_interval.is_finite() && s.sample_interval > 3600.0 {
        v.push("system.sample_interval", "must be at most 3600 seconds");
    }
    v.non_negative("system.forensics_debounce", s.forensics_debounce);
    v.at_least_u("system.heartbeat_samples", s.heartbeat_samples.into(), 1);
    v.at_least_u(
        "system.log_stability_samples",
        s.log_stability_samples.into(),
        1,
    );
    v.positive(
        "system.auto_prune_interval_hours",
        s.auto_prune_interval_hours,
    );
    v.at_least_u("system.log_max_bytes", s.log_max_bytes, 1024);
    v.at_least_u(
        "system.forensics_log_seconds",
        s.forensics_log_seconds.into(),
        1,
    );
    v.positive(
        "system.machine_snapshot_interval",
        s.machine_snapshot_interval,
    );

    let b = &c.bands;
    if b.medium == 0 {
        v.push("bands.medium", "must be at least 1");
    }
    let ordered = [
        ("bands.elevated", b.medium, b.elevated, "medium"),
        ("bands.high", b.elevated, b.high, "elevated"),
        ("bands.critical", b.high, b.critical, "high"),
    ];
    for (key, below, value, below_name) in ordered {
        if value <= below {
            v.push(
                key,
                &format!(
                    "thresholds must be strictly increasing: {value} is not above \
                     {below_name} ({below})"
                ),
            );
        }
    }
    if b.critical > 100 {
        v.push("bands.critical", "must be at most 100 (scores are 0-100)");
    }
    for (key, band) in [
        ("bands.tracking_band", b.tracking_band),
        ("bands.forensics_band", b.forensics_band),
    ] {
        if band == Band::Low {
            v.push(
                key,
                "must be medium, elevated, high or critical ('low' would select every process)",
            );
        }
    }
    v.at_least_u(
        "bands.medium_checkpoint_samples",
        b.medium_checkpoint_samples.into(),
        1,
    );
    v.at_least_u(
        "bands.elevated_checkpoint_samples",
        b.elevated_checkpoint_samples.into(),
        1,
    );

    let sc = &c.scoring;
    for (key, value) in [
        ("scoring.share_min_cpu", sc.share_min_cpu),
        ("scoring.share_min_gpu", sc.share_min_gpu),
        ("scoring.share_min_memory_bytes", sc.share_min_memory_bytes),
        ("scoring.share_min_disk", sc.share_min_disk),
        ("scoring.share_min_wakeups", sc.share_min_wakeups),
    ] {
        v.non_negative(key, value);
    }
    v.positive("scoring.score_multiplier", sc.score_multiplier);
    v.positive("scoring.score_max", sc.score_max);
    if sc.score_max.is_finite() && sc.score_max > 100.0 {
        v.push("scoring.score_max", "must be at most 100");
    }
    let w = &sc.resource_weights;
    for (key, value) in [
        ("scoring.resource_weights.cpu", w.cpu),
        ("scoring.resource_weights.gpu", w.gpu),
        ("scoring.resource_weights.memory", w.memory),
        ("scoring.resource_weights.disk_io", w.disk_io),
        ("scoring.resource_weights.wakeups", w.wakeups),
    ] {
        v.non_negative(key, value);
    }
    let m = &sc.state_multipliers;
    for (key, value) in [
        ("scoring.state_multipliers.idle", m.idle),
        ("scoring.state_multipliers.sleeping", m.sleeping),
        ("scoring.state_multipliers.stopped", m.stopped),
        ("scoring.state_multipliers.zombie", m.zombie),
        ("scoring.state_multipliers.running", m.running),
        ("scoring.state_multipliers.stuck", m.stuck),
    ] {
        v.non_negative(key, value);
    }

    let im = &sc.impact;
    for (key, value) in [
        ("scoring.impact.cpu_pressure_full", im.cpu_pressure_full),
        (
            "scoring.impact.memory_pressure_full",
            im.memory_pressure_full,
        ),
        ("scoring.impact.io_pressure_full", im.io_pressure_full),
        ("scoring.impact.memory_used_full", im.memory_used_full),
        (
            "scoring.impact.memory_floor_percent",
            im.memory_floor_percent,
        ),
        (
            "scoring.impact.memory_growth_percent",
            im.memory_growth_percent,
        ),
    ] {
        v.positive(key, value);
        if value.is_finite() && value > 100.0 {
            v.push(key, "is a percentage: at most 100");
        }
    }
    v.non_negative("scoring.impact.memory_used_low", im.memory_used_low);
    if im.memory_used_low.is_finite()
        && im.memory_used_full.is_finite()
        && im.memory_used_low >= im.memory_used_full
    {
        v.push(
            "scoring.impact.memory_used_low",
            "must be below scoring.impact.memory_used_full",
        );
    }
    for (key, value) in [
        ("scoring.impact.forks_per_cpu_full", im.forks_per_cpu_full),
        (
            "scoring.impact.switches_per_cpu_full",
            im.switches_per_cpu_full,
        ),
        ("scoring.impact.cpu_floor_cores", im.cpu_floor_cores),
        ("scoring.impact.memory_decay_s", im.memory_decay_s),
        ("scoring.impact.memory_exhaustion_s", im.memory_exhaustion_s),
    ] {
        v.positive(key, value);
    }
    for (key, value) in [
        ("scoring.impact.persistence_s", im.persistence_s),
        ("scoring.impact.forensics_hold_s", im.forensics_hold_s),
        ("scoring.impact.cpu_floor_s", im.cpu_floor_s),
        ("scoring.impact.switch_cost_us", im.switch_cost_us),
    ] {
        v.non_negative(key, value);
        if value.is_finite() && value > 600.0 {
            v.push(key, "must be at most 600");
        }
    }
    if im.memory_growth_ratio.is_finite() && im.memory_growth_ratio < 1.0
        || !im.memory_growth_ratio.is_finite()
    {
        v.push("scoring.impact.memory_growth_ratio", "must be at least 1");
    }

    v.at_least_u(
        "rogue_selection.max_count",
        c.rogue_selection.max_count.into(),
        1,
    );
    if c.rogue_selection.max_count > 1000 {
        v.push("rogue_selection.max_count", "must be at most 1000");
    }

    v.at_least_u(
        "sampler.status_interval_samples",
        c.sampler.status_interval_samples.into(),
        1,
    );
    if c.sampler.proc_root.trim().is_empty() {
        v.push("sampler.proc_root", "must not be empty");
    }

    v.at_least_u(
        "tracking.exit_stability_samples",
        c.tracking.exit_stability_samples.into(),
        1,
    );

    let f = &c.forensics;
    v.non_negative("forensics.min_interval_s", f.min_interval_s);
    v.at_least_u("forensics.stack_samples", f.stack_samples.into(), 1);
    v.positive("forensics.tool_timeout_s", f.tool_timeout_s);
    v.non_negative("forensics.profile_seconds", f.profile_seconds);
    if f.profile_seconds.is_finite() && f.profile_seconds > 60.0 {
        v.push("forensics.profile_seconds", "must be at most 60 seconds");
    }
    if !(1..=99).contains(&f.profile_hz) {
        v.push(
            "forensics.profile_hz",
            "must be between 1 and 99 (higher rates slow the profiled process down)",
        );
    }
    v.at_least_u(
        "forensics.profile_max_threads",
        f.profile_max_threads.into(),
        1,
    );
    v.non_negative("forensics.psi_trigger", f.psi_trigger);
    if f.psi_trigger.is_finite() && f.psi_trigger > 100.0 {
        v.push("forensics.psi_trigger", "is a percentage: at most 100");
    }
    v.non_negative("forensics.shutdown_wait_s", f.shutdown_wait_s);

    if let Some(listen) = c.metrics.listen_addr()
        && listen.parse::<std::net::SocketAddr>().is_err()
    {
        v.push(
            "metrics.listen",
            &format!("'{listen}' is not an address: use host:port, e.g. \"127.0.0.1:9464\""),
        );
    }
    v.at_least_u("metrics.top_n", c.metrics.top_n.into(), 1);

    let t = &c.tui;
    v.non_negative("tui.decay_seconds", t.decay_seconds);
    v.at_least_u("tui.tracked_max_history", t.tracked_max_history.into(), 1);
    v.positive("tui.reconnect_initial_delay", t.reconnect_initial_delay);
    v.positive("tui.reconnect_max_delay", t.reconnect_max_delay);
    if t.reconnect_max_delay < t.reconnect_initial_delay {
        v.push(
            "tui.reconnect_max_delay",
            "must not be below tui.reconnect_initial_delay",
        );
    }
    if !(t.reconnect_multiplier.is_finite() && t.reconnect_multiplier >= 1.0) {
        v.push("tui.reconnect_multiplier", "must be at least 1");
    }
    let sp = &t.sparkline;
    if !(1..=4).contains(&sp.height) {
        v.push("tui.sparkline.height", "must be between 1 and 4");
    }
    v.finite("tui.sparkline.min_value", sp.min_value);
    v.finite("tui.sparkline.max_value", sp.max_value);
    if sp.max_value <= sp.min_value {
        v.push(
            "tui.sparkline.max_value",
            "must be above tui.sparkline.min_value",
        );
    }
    check_colours(c, &mut v);
    v.0
}

fn check_colours(c: &Config, v: &mut Checks) {
    let k = &c.tui.colors;
    let bands = &k.bands;
    for (name, value) in [
        ("low", &bands.low),
        ("medium", &bands.medium),
        ("elevated", &bands.elevated),
        ("high", &bands.high),
        ("critical", &bands.critical),
    ] {
        let key = format!("tui.colors.bands.{name}");
        match parse_style(value) {
            Err(e) => v.push(&key, &e),
            Ok(spec) if spec.colour.is_none() => v.push(
                &key,
                "band colours make the gradient, so they must name a colour (e.g. \"#ff5555\" or \"red\")",
            ),
            Ok(_) => {}
        }
    }
    let others: [(&str, &String); 22] = [
        ("trends.worsening", &k.trends.worsening),
        ("trends.improving", &k.trends.improving),
        ("trends.stable", &k.trends.stable),
        ("trends.decayed", &k.trends.decayed),
        ("categories.blocking", &k.categories.blocking),
        ("categories.contention", &k.categories.contention),
        ("categories.pressure", &k.categories.pressure),
        ("categories.efficiency", &k.categories.efficiency),
        ("status.active", &k.status.active),
        ("status.ended", &k.status.ended),
        ("borders.normal", &k.borders.normal),
        ("borders.elevated", &k.borders.elevated),
        ("borders.critical", &k.borders.critical),
        ("borders.disconnected", &k.borders.disconnected),
        ("pid.default", &k.pid.default),
        ("process_state.running", &k.process_state.running),
        ("process_state.sleeping", &k.process_state.sleeping),
        ("process_state.idle", &k.process_state.idle),
        ("process_state.stopped", &k.process_state.stopped),
        ("process_state.zombie", &k.process_state.zombie),
        ("process_state.stuck", &k.process_state.stuck),
        ("process_state.unknown", &k.process_state.unknown),
    ];
    for (key, value) in others {
        if let Err(e) = parse_style(value) {
            v.push(&format!("tui.colors.{key}"), &e);
        }
    }
}

#[derive(Default)]
struct Checks(Vec<(String, String)>);

impl Checks {
    fn push(&mut self, key: &str, msg: &str) {
        self.0.push((key.to_string(), msg.to_string()));
    }

    fn finite(&mut self, key: &str, value: f64) -> bool {
        if value.is_finite() {
            true
        } else {
            self.push(key, "must be a finite number");
            false
        }
    }

    fn positive(&mut self, key: &str, value: f64) {
        if self.finite(key, value) && value <= 0.0 {
            self.push(key, &format!("must be greater than 0, got {value}"));
        }
    }

    fn non_negative(&mut self, key: &str, value: f64) {
        if self.finite(key, value) && value < 0.0 {
            self.push(key, &format!("must not be negative, got {value}"));
        }
    }

    fn at_least_u(&mut self, key: &str, value: u64, min: u64) {
        if value < min {
            self.push(key, &format!("must be >= {min}, got {value}"));
        }
    }
}
