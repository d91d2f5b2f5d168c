//! The band gradient: colour stops at each band threshold, linear RGB interpolation between them.
//! It colours the stress gauge and every sparkline column by score.

use crate::config::BandColors;
use crate::config::BandsConfig;
use crate::config::colour::{Rgb, parse_style};
use crate::model::Band;

/// A gradient needs at least two stops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a gradient needs at least 2 colour stops, got {0}")]
pub struct TooFewStops(pub usize);

/// Colour stops sorted by value.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient {
    stops: Vec<(f64, Rgb)>,
}

impl Gradient {
    /// A gradient over the given stops (any order).
    pub fn new(mut stops: Vec<(f64, Rgb)>) -> Result<Gradient, TooFewStops> {
        if stops.len() < 2 {
            return Err(TooFewStops(stops.len()));
        }
        stops.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Gradient { stops })
    }

    /// Stops at 0 → low, medium → medium, … critical → critical. Band colours are validated to
    /// name a colour; anything unparsable falls back to white rather than failing a draw.
    pub fn from_bands(bands: &BandsConfig, colours: &BandColors) -> Gradient {
        let stops = Band::ALL
            .iter()
            .map(|b| {
                let rgb = parse_style(colours.get(*b))
                    .ok()
                    .and_then(|s| s.colour)
                    .unwrap_or(Rgb(255, 255, 255));
                (f64::from(bands.threshold(*b)), rgb)
            })
            .collect();
        Gradient { stops }
    }

    /// The colour at a value; values outside the stops take the end colours.
    pub fn at(&self, value: f64) -> Rgb {
        let first = self.stops[0];
        let last = self.stops[self.stops.len() - 1];
        if value.is_nan() || value <= first.0 {
            return first.1;
        }
        if value >= last.0 {
            return last.1;
        }
        for pair in self.stops.windows(2) {
            let ((v0, c0), (v1, c1)) = (pair[0], pair[1]);
            if value <= v1 {
                let t = if v1 > v0 {
                    (value - v0) / (v1 - v0)
                } else {
                    1.0
                };
                let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t) as u8;
                return Rgb(mix(c0.0, c1.0), mix(c0.1, c1.1), mix(c0.2, c1.2));
            }
        }
        last.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::colour::parse_hex;

    fn rgb(hex: &str) -> Rgb {
        parse_hex(hex).unwrap()
    }

    #[test]
    fn ends_clamp_to_the_first_and_last_colour() {
        let g = Gradient::new(vec![(10.0, rgb("#000000")), (60.0, rgb("#ffffff"))]).unwrap();
        assert_eq!(g.at(10.0), rgb("#000000"));
        assert_eq!(g.at(-5.0), rgb("#000000"));
        assert_eq!(g.at(60.0), rgb("#ffffff"));
        assert_eq!(g.at(1000.0), rgb("#ffffff"));
    }

    #[test]
    fn black_to_white_midpoint_is_grey() {
        let g = Gradient::new(vec![(0.0, rgb("#000")), (100.0, rgb("#fff"))]).unwrap();
        let Rgb(r, gr, b) = g.at(50.0);
        for c in [r, gr, b] {
            assert!((120..=135).contains(&c), "{c}");
        }
        assert_eq!(g.at(0.0).to_hex(), "#000000");
        assert_eq!(g.at(100.0).to_hex(), "#ffffff");
    }

    #[test]
    fn three_stops_are_exact_at_the_stops_and_blend_between() {
        let g = Gradient::new(vec![
            (100.0, rgb("#0000ff")),
            (0.0, rgb("#ff0000")),
            (50.0, rgb("#00ff00")),
        ])
        .unwrap();
        assert_eq!(g.at(0.0), rgb("#ff0000"));
        assert_eq!(g.at(50.0), rgb("#00ff00"));
        assert_eq!(g.at(100.0), rgb("#0000ff"));
        let Rgb(r, gr, _) = g.at(25.0);
        assert!(r > 100 && gr > 100);
    }

    #[test]
    fn fewer_than_two_stops_is_an_error() {
        let err = Gradient::new(vec![(0.0, rgb("#fff"))]).unwrap_err();
        assert!(err.to_string().contains("at least 2"));
    }

    #[test]
    fn band_gradient_uses_thresholds_and_named_colours() {
        let bands = BandsConfig::default();
        let colours = BandColors {
            critical: "magenta".into(),
            ..Default::default()
        };
        let g = Gradient::from_bands(&bands, &colours);
        assert_eq!(g.at(0.0), rgb("#50fa7b"));
        assert_eq!(g.at(40.0), rgb("#8be9fd"));
        assert_eq!(g.at(70.0), Rgb(205, 0, 205));
        assert_eq!(g.at(95.0), Rgb(205, 0, 205));
    }
}
