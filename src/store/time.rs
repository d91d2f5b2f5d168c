//! Time conventions of the database: epoch seconds (REAL, UTC) in numeric columns, RFC 3339 with
//! the local offset in text columns.

use chrono::{DateTime, Local, SecondsFormat, TimeZone, Utc};

/// Epoch seconds → RFC 3339 with the local offset and milliseconds
/// (`2026-11-26T06:14:39.123+01:00`). Out-of-range values fall back to the epoch itself.
pub fn rfc3339(epoch: f64) -> String {
    let secs = epoch.floor();
    let nanos = ((epoch - secs) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    match DateTime::from_timestamp(secs as i64, nanos) {
        Some(utc) => Local
            .from_utc_datetime(&utc.naive_utc())
            .to_rfc3339_opts(SecondsFormat::Millis, false),
        None => DateTime::<Utc>::UNIX_EPOCH.to_rfc3339_opts(SecondsFormat::Millis, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_to_the_same_instant() {
        let t = 1_764_137_679.125;
        let text = rfc3339(t);
        let parsed = DateTime::parse_from_rfc3339(&text).unwrap();
        assert_eq!(parsed.timestamp_millis(), 1_764_137_679_125);
        assert!(text.contains('T') && (text.contains('+') || text.contains('-')));
    }
}
