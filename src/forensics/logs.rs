//! System log records around a trigger, from three sources, into one row shape (`log_entries`):
//! the Linux kernel ring (`/dev/kmsg` records), journald (`journalctl -o json`) and macOS
//! unified logging (`log show --style ndjson`). The parsers are pure and skip what they cannot
//! read (a bad line never loses the others).

pub use crate::store::LogEntry;
use serde_json::{Map, Value};

/// What the logs part of a capture produced.
pub struct LogsResult {
    pub entries: Vec<LogEntry>,
    pub outcome: crate::store::PartOutcome,
}

const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

fn level_name(level: i64) -> Option<String> {
    usize::try_from(level)
        .ok()
        .and_then(|l| LEVELS.get(l))
        .map(|s| s.to_string())
}

fn facility_name(facility: i64) -> Option<String> {
    usize::try_from(facility)
        .ok()
        .and_then(|f| FACILITIES.get(f))
        .map(|s| s.to_string())
}

/// Epoch microseconds → RFC 3339 in local time with offset.
pub fn rfc3339_from_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
        })
        .unwrap_or_default()
}

/// One `/dev/kmsg` record.
#[derive(Debug, Clone, PartialEq)]
pub struct KmsgRecord {
    pub level: i64,
    pub facility: i64,
    pub seq: u64,
    /// Microseconds since boot.
    pub ts_usec: i64,
    pub message: String,
}

/// Parses one record: `pri,seq,ts_usec,flags[,…];message` followed by optional ` KEY=value` lines.
pub fn parse_kmsg_record(raw: &[u8]) -> Option<KmsgRecord> {
    let text = String::from_utf8_lossy(raw);
    let first = text.split('\n').next()?;
    let (prefix, message) = first.split_once(';')?;
    let mut fields = prefix.split(',');
    let pri: i64 = fields.next()?.trim().parse().ok()?;
    let seq: u64 = fields.next()?.trim().parse().ok()?;
    let ts_usec: i64 = fields.next()?.trim().parse().ok()?;
    Some(KmsgRecord {
        level: pri & 7,
        facility: pri >> 3,
        seq,
        ts_usec,
        message: unescape_kmsg(message),
    })
}

/// kmsg escapes non-printable bytes as `\xNN`. Works on bytes: what follows a `\x` may be any
/// text (a multi-byte character once made this slice a `str` mid-character and panic; found by
/// the `system_log` fuzz target).
fn unescape_kmsg(s: &str) -> String {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let (Some(hi), Some(lo)) = (
                b.get(i + 2).copied().and_then(hex),
                b.get(i + 3).copied().and_then(hex),
            )
        {
            out.push(hi << 4 | lo);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl KmsgRecord {
    /// The row, with wall time from the boot time (epoch µs of boot).
    pub fn to_entry(&self, boot_epoch_usec: i64) -> LogEntry {
        LogEntry {
            timestamp: rfc3339_from_micros(boot_epoch_usec + self.ts_usec),
            mach_timestamp: Some(self.ts_usec),
            subsystem: Some("kernel".into()),
            category: facility_name(self.facility),
            process_name: None,
            process_id: None,
            message_type: level_name(self.level),
            event_message: self.message.clone(),
            source: Some("kmsg".into()),
        }
    }
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int_field(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    match obj.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

fn objects(bytes: &[u8]) -> impl Iterator<Item = Map<String, Value>> + '_ {
    bytes
        .split(|b| *b == b'\n')
        .map(|line| String::from_utf8_lossy(line).trim().to_string())
        .filter(|line| !line.is_empty())
        .filter_map(|line| match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        })
}

/// `log show --style ndjson` output.
pub fn parse_log_show_ndjson(bytes: &[u8]) -> Vec<LogEntry> {
    objects(bytes)
        .map(|o| LogEntry {
            timestamp: str_field(&o, "timestamp").unwrap_or_default(),
            mach_timestamp: int_field(&o, "machTimestamp"),
            subsystem: str_field(&o, "subsystem").filter(|s| !s.is_empty()),
            category: str_field(&o, "category").filter(|s| !s.is_empty()),
            process_name: str_field(&o, "processImagePath").map(|p| basename(&p)),
            process_id: int_field(&o, "processID"),
            message_type: str_field(&o, "messageType"),
            event_message: str_field(&o, "eventMessage").unwrap_or_default(),
            source: Some("log show".into()),
        })
        .collect()
}

/// journald's MESSAGE is a string, or an array of bytes when it is not valid UTF-8.
fn journal_message(o: &Map<String, Value>) -> String {
    match o.get("MESSAGE") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(bytes)) => {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64().and_then(|v| u8::try_from(v).ok()))
                .collect();
            String::from_utf8_lossy(&raw).into_owned()
        }
        _ => String::new(),
    }
}

/// `journalctl -o json` output.
pub fn parse_journal_json(bytes: &[u8]) -> Vec<LogEntry> {
    objects(bytes)
        .map(|o| LogEntry {
            timestamp: int_field(&o, "__REALTIME_TIMESTAMP")
                .map(rfc3339_from_micros)
                .unwrap_or_default(),
            mach_timestamp: int_field(&o, "__MONOTONIC_TIMESTAMP"),
            subsystem: str_field(&o, "_SYSTEMD_UNIT")
                .or_else(|| str_field(&o, "SYSLOG_IDENTIFIER")),
            category: int_field(&o, "SYSLOG_FACILITY")
                .and_then(facility_name)
                .or_else(|| str_field(&o, "_TRANSPORT")),
            process_name: str_field(&o, "_COMM")
                .or_else(|| str_field(&o, "_EXE").map(|e| basename(&e))),
            process_id: int_field(&o, "_PID"),
            message_type: int_field(&o, "PRIORITY").and_then(level_name),
            event_message: journal_message(&o),
            source: Some("journald".into()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (FUZZING.md): `\x1` followed by a multi-byte character panicked.
    #[test]
    fn an_escape_cut_by_a_multibyte_character_is_kept_as_text() {
        let r = parse_kmsg_record("6,1,2,-;a \\x1\u{e2}[31m \\x41 \\x4".as_bytes()).unwrap();
        assert_eq!(r.message, "a \\x1\u{e2}[31m A \\x4");
        let r = parse_kmsg_record(b"6,1,2,-;end \\x").unwrap();
        assert_eq!(r.message, "end \\x");
    }

    #[test]
    fn ndjson_empty_is_empty() {
        assert!(parse_log_show_ndjson(b"").is_empty());
    }

    #[test]
    fn ndjson_maps_fields_and_keeps_order() {
        let text = br#"{"timestamp":"2026-02-02 23:22:30.123456-0800","eventMessage":"hang detected","subsystem":"com.apple.kernel","category":"hang","processImagePath":"/usr/bin/python3","processID":77,"messageType":"Error","machTimestamp":123456}
{"timestamp":"t2","eventMessage":"second"}"#;
        let e = parse_log_show_ndjson(text);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].timestamp, "2026-02-02 23:22:30.123456-0800");
        assert_eq!(e[0].event_message, "hang detected");
        assert_eq!(e[0].subsystem.as_deref(), Some("com.apple.kernel"));
        assert_eq!(e[0].process_name.as_deref(), Some("python3"));
        assert_eq!(e[0].process_id, Some(77));
        assert_eq!(e[0].message_type.as_deref(), Some("Error"));
        assert_eq!(e[0].mach_timestamp, Some(123456));
        assert_eq!(e[1].event_message, "second");
        assert_eq!(e[1].subsystem, None);
    }

    #[test]
    fn bad_lines_are_skipped_not_fatal() {
        let text =
            b"{\"eventMessage\":\"a\"}\nnot json\n[1,2]\n\"str\"\n{\"eventMessage\":\"b\"}\n";
        let e = parse_log_show_ndjson(text);
        let msgs: Vec<&str> = e.iter().map(|x| x.event_message.as_str()).collect();
        assert_eq!(
            msgs,
            ["a", "b"],
            "a non-object line no longer fails everything"
        );
    }

    #[test]
    fn kmsg_records() {
        let r = parse_kmsg_record(
            b"6,339,5140900,-;NET: Registered PF_ALG protocol family\n SUBSYSTEM=net\n",
        )
        .unwrap();
        assert_eq!(
            (r.level, r.facility, r.seq, r.ts_usec),
            (6, 0, 339, 5_140_900)
        );
        assert_eq!(r.message, "NET: Registered PF_ALG protocol family");
        let user = parse_kmsg_record(b"12,340,6000000,-;rogue-hunter-probe: test message").unwrap();
        assert_eq!((user.level, user.facility), (4, 1));
        let esc = parse_kmsg_record(br"3,1,1,c;tab\x09here").unwrap();
        assert_eq!(esc.message, "tab\there");
        assert_eq!(parse_kmsg_record(b"garbage"), None);
        assert_eq!(parse_kmsg_record(b"x,1,2,-;m"), None);

        let boot = 1_700_000_000_000_000;
        let e = r.to_entry(boot);
        assert_eq!(e.mach_timestamp, Some(5_140_900));
        assert_eq!(e.message_type.as_deref(), Some("info"));
        assert_eq!(e.category.as_deref(), Some("kern"));
        let t = chrono::DateTime::parse_from_rfc3339(&e.timestamp).unwrap();
        assert_eq!(t.timestamp_micros(), boot + 5_140_900);
    }

    #[test]
    fn journal_fields_and_byte_array_messages() {
        let text = br#"{"__REALTIME_TIMESTAMP":"1700000000123456","__MONOTONIC_TIMESTAMP":"99","_SYSTEMD_UNIT":"gdm.service","SYSLOG_FACILITY":"3","_COMM":"gdm","_PID":"42","PRIORITY":"3","MESSAGE":"display hang"}
{"__REALTIME_TIMESTAMP":"1700000000000000","SYSLOG_IDENTIFIER":"kernel","_TRANSPORT":"kernel","_EXE":"/usr/lib/x","PRIORITY":"6","MESSAGE":[104,105,255]}"#;
        let e = parse_journal_json(text);
        assert_eq!(e.len(), 2);
        let t = chrono::DateTime::parse_from_rfc3339(&e[0].timestamp).unwrap();
        assert_eq!(t.timestamp_micros(), 1_700_000_000_123_456);
        assert_eq!(e[0].mach_timestamp, Some(99));
        assert_eq!(e[0].subsystem.as_deref(), Some("gdm.service"));
        assert_eq!(e[0].category.as_deref(), Some("daemon"));
        assert_eq!(e[0].process_name.as_deref(), Some("gdm"));
        assert_eq!(e[0].process_id, Some(42));
        assert_eq!(e[0].message_type.as_deref(), Some("err"));
        assert_eq!(e[0].event_message, "display hang");
        assert_eq!(e[1].subsystem.as_deref(), Some("kernel"));
        assert_eq!(e[1].category.as_deref(), Some("kernel"));
        assert_eq!(e[1].process_name.as_deref(), Some("x"));
        assert_eq!(e[1].event_message, "hi\u{fffd}");
    }
}
