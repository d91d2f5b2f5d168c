//! Every style the views use, built once from the config. `NO_COLOR` (or a monochrome request)
//! keeps the modifiers (bold, dim, reverse) and drops every colour.

use crate::config::{BandsConfig, Config};
use crate::model::{Band, ProcState, Resource};
use crate::tui::gradient::Gradient;
use crate::tui::style::{colour, style};
use ratatui::style::{Color, Modifier, Style};

/// The original's fixed colours of the metric columns.
const CPU: Color = Color::Rgb(0x8b, 0xe9, 0xfd);
const GPU: Color = Color::Rgb(0xbd, 0x93, 0xf9);
const MEM: Color = Color::Rgb(0xf1, 0xfa, 0x8c);
const DISK: Color = Color::Rgb(0xff, 0xb8, 0x6c);
const WAKE: Color = Color::Rgb(0x2e, 0xe8, 0xbb);
/// Zebra stripe and selection backgrounds (Dracula's background and current line).
const STRIPE: Color = Color::Rgb(0x21, 0x22, 0x2c);
const SELECTED: Color = Color::Rgb(0x44, 0x47, 0x5a);

/// Styles for one run.
#[derive(Debug, Clone)]
pub struct Theme {
    pub mono: bool,
    bands: [Style; 5],
    thresholds: BandsConfig,
    gradient: Option<Gradient>,
    pub worsening: Style,
    pub improving: Style,
    pub stable: Style,
    pub decayed: Style,
    pub active: Style,
    pub ended: Style,
    pub border_normal: Style,
    pub border_elevated: Style,
    pub border_critical: Style,
    pub border_disconnected: Style,
    pub pid: Style,
    states: [Style; 7],
    resources: [Style; 5],
    pub stripe: Style,
    pub selected: Style,
    pub selected_unfocused: Style,
    pub header_row: Style,
    pub good: Style,
    pub bad: Style,
    pub warn: Style,
    pub key: Style,
    pub dim: Style,
    pub overflow: Style,
}

impl Theme {
    /// The config's colours, or none at all when `mono`.
    pub fn new(config: &Config, mono: bool) -> Theme {
        let c = &config.tui.colors;
        let s = |text: &str| {
            let st = style(text);
            if mono { strip(st) } else { st }
        };
        let fixed = |col: Color| {
            if mono {
                Style::default()
            } else {
                Style::default().fg(col)
            }
        };
        let bands = Band::ALL.map(|b| s(c.bands.get(b)));
        let states = ProcState::ALL.map(|st| s(c.process_state.get(st)));
        Theme {
            mono,
            bands,
            thresholds: config.bands.clone(),
            gradient: (!mono).then(|| Gradient::from_bands(&config.bands, &c.bands)),
            worsening: s(&c.trends.worsening),
            improving: s(&c.trends.improving),
            stable: s(&c.trends.stable),
            decayed: s(&c.trends.decayed),
            active: s(&c.status.active),
            ended: s(&c.status.ended),
            border_normal: s(&c.borders.normal),
            border_elevated: s(&c.borders.elevated),
            border_critical: s(&c.borders.critical),
            border_disconnected: s(&c.borders.disconnected),
            pid: s(&c.pid.default),
            states,
            resources: [fixed(CPU), fixed(GPU), fixed(MEM), fixed(DISK), fixed(WAKE)],
            stripe: if mono {
                Style::default()
            } else {
                Style::default().bg(STRIPE)
            },
            selected: if mono {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default().bg(SELECTED).add_modifier(Modifier::BOLD)
            },
            selected_unfocused: if mono {
                Style::default().add_modifier(Modifier::UNDERLINED)
            } else {
                Style::default().bg(SELECTED)
            },
            header_row: Style::default().add_modifier(Modifier::BOLD),
            good: s(&c.status.active).add_modifier(Modifier::BOLD),
            bad: s(&c.bands.critical).add_modifier(Modifier::BOLD),
            warn: s(&c.bands.elevated).add_modifier(Modifier::BOLD),
            key: Style::default().add_modifier(Modifier::REVERSED),
            dim: Style::default().add_modifier(Modifier::DIM),
            overflow: fixed(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// Whether the environment asks for no colour (`NO_COLOR` set to anything but "").
    pub fn no_color_requested() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// The band thresholds the theme colours by.
    pub fn bands(&self) -> &BandsConfig {
        &self.thresholds
    }

    /// A band's colour.
    pub fn band(&self, band: Band) -> Style {
        self.bands[band as usize]
    }

    /// The style of a score: its band's colour, bold from elevated up.
    pub fn score(&self, score: u8) -> Style {
        let band = self.thresholds.band_for(score);
        let st = self.band(band);
        if band >= Band::Elevated {
            st.add_modifier(Modifier::BOLD)
        } else {
            st
        }
    }

    /// The gradient colour at a value (nothing when monochrome).
    pub fn gradient(&self, value: f64) -> Style {
        match &self.gradient {
            Some(g) => Style::default().fg(colour(g.at(value))),
            None => Style::default(),
        }
    }

    pub fn gradient_ref(&self) -> Option<&Gradient> {
        self.gradient.as_ref()
    }

    pub fn state(&self, st: ProcState) -> Style {
        self.states[ProcState::ALL.iter().position(|s| *s == st).unwrap_or(6)]
    }

    pub fn resource(&self, r: Resource) -> Style {
        self.resources[Resource::ALL.iter().position(|x| *x == r).unwrap_or(0)]
    }
}

/// The style without colours.
fn strip(st: Style) -> Style {
    Style {
        fg: None,
        bg: None,
        ..st
    }
}
