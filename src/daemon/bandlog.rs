//! Console lines when a culprit (a unit's row) becomes rogue or calms down. A band change is
//! reported once it has held for `log_stability_samples` samples, so a culprit hovering at a
//! threshold does not print a line every sample. Pure: rows in, lines out.

use crate::config::Config;
use crate::model::{Band, ProcessKey, ProcessScore};
use std::collections::HashMap;

/// What to print.
#[derive(Debug, Clone, PartialEq)]
pub enum BandLine {
    /// Entered (or rose to) a band at or above the logging band.
    Rose {
        pid: u32,
        command: String,
        score: u8,
        band: Band,
        dominant: String,
    },
    /// Fell below the logging band (or left the top list).
    Calmed { pid: u32, command: String },
}

impl std::fmt::Display for BandLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BandLine::Rose {
                pid,
                command,
                score,
                band,
                dominant,
            } => write!(
                f,
                "▲ {} ({pid}) score {score} {band} — {dominant}",
                short(command)
            ),
            BandLine::Calmed { pid, command } => {
                write!(f, "▼ {} ({pid}) no longer rogue", short(command))
            }
        }
    }
}

fn short(command: &str) -> String {
    if command.chars().count() > 28 {
        format!("{}..", command.chars().take(28).collect::<String>())
    } else {
        command.to_string()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    pid: u32,
    command: String,
    logged: Band,
    candidate: Band,
    run: u32,
}

/// Per-process band memory for console lines.
#[derive(Debug)]
pub struct BandLog {
    logging_band: Band,
    stability: u32,
    entries: HashMap<ProcessKey, Entry>,
}

impl BandLog {
    pub fn new(config: &Config) -> BandLog {
        BandLog {
            logging_band: config.bands.logging_band,
            stability: config.system.log_stability_samples.max(1),
            entries: HashMap::new(),
        }
    }

    /// Feeds the culprits of one sample (units' rows, highest first).
    pub fn update<'a>(
        &mut self,
        rogues: impl IntoIterator<Item = &'a ProcessScore>,
    ) -> Vec<BandLine> {
        let mut out = Vec::new();
        let mut seen: HashMap<ProcessKey, &ProcessScore> = HashMap::new();
        for p in rogues {
            seen.insert(p.key(), p);
            if p.band >= self.logging_band && !self.entries.contains_key(&p.key()) {
                self.entries.insert(
                    p.key(),
                    Entry {
                        pid: p.pid,
                        command: if p.members > 1 {
                            format!("{} ×{}", p.command, p.members)
                        } else {
                            p.command.clone()
                        },
                        logged: Band::Low,
                        candidate: Band::Low,
                        run: 0,
                    },
                );
            }
        }
        let mut finished = Vec::new();
        for (key, e) in self.entries.iter_mut() {
            let current = seen.get(key);
            let band = current.map_or(Band::Low, |p| p.band);
            let effective = if band >= self.logging_band {
                band
            } else {
                Band::Low
            };
            if effective == e.candidate {
                e.run += 1;
            } else {
                e.candidate = effective;
                e.run = 1;
            }
            if e.run < self.stability || e.candidate == e.logged {
                continue;
            }
            if e.candidate > e.logged
                && let Some(p) = current
            {
                out.push(BandLine::Rose {
                    pid: e.pid,
                    command: e.command.clone(),
                    score: p.score,
                    band: p.band,
                    dominant: if p.reason.is_empty() {
                        format!(
                            "dominant: {} {:.1}x",
                            p.dominant_resource, p.disproportionality
                        )
                    } else {
                        p.reason.clone()
                    },
                });
                e.logged = e.candidate;
            } else if e.candidate == Band::Low {
                if e.logged > Band::Low {
                    out.push(BandLine::Calmed {
                        pid: e.pid,
                        command: e.command.clone(),
                    });
                }
                finished.push(*key);
            } else {
                // Fell to a lower band that is still at or above the logging band.
                e.logged = e.candidate;
            }
        }
        for k in finished {
            self.entries.remove(&k);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, score: u8, band: Band) -> ProcessScore {
        ProcessScore {
            pid,
            command: format!("p{pid}"),
            score,
            band,
            ..Default::default()
        }
    }

    fn log(stability: u32) -> BandLog {
        let mut c = Config::default();
        c.system.log_stability_samples = stability;
        BandLog::new(&c)
    }

    #[test]
    fn a_change_is_logged_once_it_holds() {
        let mut l = log(3);
        assert!(l.update(&[p(1, 45, Band::Medium)]).is_empty());
        assert!(l.update(&[p(1, 45, Band::Medium)]).is_empty());
        let lines = l.update(&[p(1, 46, Band::Medium)]);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].to_string().starts_with("▲ p1 (1) score 46 medium"));
        // Staying put prints nothing more.
        for _ in 0..5 {
            assert!(l.update(&[p(1, 46, Band::Medium)]).is_empty());
        }
    }

    #[test]
    fn hovering_at_the_threshold_prints_nothing() {
        let mut l = log(3);
        for i in 0..20 {
            let s = if i % 2 == 0 {
                p(1, 41, Band::Medium)
            } else {
                p(1, 39, Band::Low)
            };
            assert!(l.update(&[s]).is_empty(), "sample {i}");
        }
    }

    #[test]
    fn calming_down_and_leaving_the_list_both_end_with_a_line() {
        let mut l = log(1);
        assert_eq!(
            l.update(&[p(1, 80, Band::Critical), p(2, 70, Band::High)])
                .len(),
            2
        );
        let lines = l.update(&[p(1, 10, Band::Low)]);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text.len(), 2);
        assert!(text.iter().any(|t| t == "▼ p1 (1) no longer rogue"));
        assert!(text.iter().any(|t| t == "▼ p2 (2) no longer rogue"));
        assert!(l.update(&[]).is_empty());
    }

    #[test]
    fn a_rise_to_a_higher_band_is_logged_again() {
        let mut l = log(1);
        assert_eq!(l.update(&[p(1, 45, Band::Medium)]).len(), 1);
        let lines = l.update(&[p(1, 75, Band::Critical)]);
        assert!(matches!(
            &lines[..],
            [BandLine::Rose {
                band: Band::Critical,
                ..
            }]
        ));
        // Falling back to medium is quiet; rising again to critical logs again.
        assert!(l.update(&[p(1, 45, Band::Medium)]).is_empty());
        assert_eq!(l.update(&[p(1, 75, Band::Critical)]).len(), 1);
    }

    #[test]
    fn long_commands_are_shortened() {
        let line = BandLine::Calmed {
            pid: 1,
            command: "x".repeat(40),
        };
        assert_eq!(
            line.to_string(),
            format!("▼ {}.. (1) no longer rogue", "x".repeat(28))
        );
    }
}
