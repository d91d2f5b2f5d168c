//! The socket protocol as typed messages: newline-delimited JSON objects, each
//! tagged by a `type` field.
//!
//! Decoding is strict about the envelope (a JSON object with a known `type`) so that every kind of
//! bad input maps to one [`DecodeError`] the server can answer with, and lenient about extra
//! fields so a newer peer's additions do not break an older one.

use crate::machine::Machine;
use crate::model::{CapturePart, PartStatus, ProcessScore, Sample, Trigger, Unit};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Version of this protocol. Bumped on any change an older peer would misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest line the server accepts from a client (the newline not counted). Longer lines
/// drop the client: nothing a client legitimately sends comes close.
pub const MAX_CLIENT_LINE: usize = 1024 * 1024;

/// The longest line a client accepts from the server: a sample with hundreds of rogues is well
/// under this; anything larger is a broken or hostile peer, not something to buffer.
pub const MAX_SERVER_LINE: usize = 16 * 1024 * 1024;

/// First message on every connection: who is answering and how it samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the daemon.
    pub protocol: u32,
    /// The daemon's crate version.
    pub version: String,
    /// The daemon's process id.
    pub pid: u32,
    pub sample_interval_ms: u64,
    pub ring_buffer_size: u32,
}

impl Hello {
    /// The hello of this process: current protocol, crate version and pid.
    pub fn for_this_process(sample_interval: Duration, ring_buffer_size: u32) -> Hello {
        Hello {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            sample_interval_ms: u64::try_from(sample_interval.as_millis()).unwrap_or(u64::MAX),
            ring_buffer_size,
        }
    }
}

/// Second message on every connection: the recent past, so a new client can draw its sparkline
/// at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialState {
    /// `max_score` of the most recent samples, oldest first (at most `ring_buffer_size`).
    pub history: Vec<u8>,
    /// `seq` of the newest entry of `history` (0 when it is empty); the first live `sample`
    /// the client receives has a greater `seq`.
    #[serde(default)]
    pub last_seq: u64,
}

/// One sample as clients see it: the summary and the top-N rogues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleMessage {
    /// Monotonic sample number since the daemon started (1-based; never stalls at a buffer size).
    pub seq: u64,
    /// Wall-clock time at the end of the pass, epoch seconds (UTC).
    pub timestamp: f64,
    /// How long reading and scoring took, in milliseconds.
    pub elapsed_ms: f64,
    pub process_count: usize,
    pub max_score: u8,
    /// The top-N processes by score, highest first, with the model's field names.
    pub rogues: Vec<ProcessScore>,
    /// The machine's state (absent from daemons before it existed).
    #[serde(default)]
    pub machine: Option<Box<Machine>>,
    /// The top-N units (culprits) by score, highest first: each with its summed row, reason and
    /// member pids.
    #[serde(default)]
    pub units: Vec<Unit>,
}

impl SampleMessage {
    /// The message for `sample` (its rogues are [`Sample::rogues`], its units the first
    /// [`Sample::rogue_count`] of [`Sample::units`]).
    pub fn from_sample(sample: &Sample) -> SampleMessage {
        SampleMessage {
            seq: sample.seq,
            timestamp: sample.timestamp,
            elapsed_ms: sample.elapsed_ms,
            process_count: sample.process_count,
            max_score: sample.max_score,
            rogues: sample.rogues().to_vec(),
            machine: Some(Box::new(sample.machine.clone())),
            units: top_units(sample).to_vec(),
        }
    }

    /// The top unit, or the top process as a unit of one.
    pub fn top_culprit(&self) -> Option<(&ProcessScore, u32)> {
        match self.units.first() {
            Some(u) if self.rogues.first().is_none_or(|p| u.row.score >= p.score) => {
                Some((&u.row, u.row.members.max(1)))
            }
            _ => self.rogues.first().map(|p| (p, p.members.max(1))),
        }
    }
}

/// The units sent with a sample: as many as rogues.
fn top_units(sample: &Sample) -> &[Unit] {
    &sample.units[..sample.rogue_count.min(sample.units.len())]
}

/// Where a forensic capture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureState {
    Started,
    Done,
}

/// A forensic capture started or finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureNotice {
    pub capture_id: i64,
    /// The event the capture belongs to; `None` for a manual capture outside any event.
    pub event_id: Option<i64>,
    /// What caused it (`band_entry_critical`, `manual`, …).
    pub trigger: Trigger,
    pub state: CaptureState,
    /// Status of each part (e.g. `stacks` → `success`, `logs` → `timeout`); empty while started.
    #[serde(default)]
    pub statuses: BTreeMap<CapturePart, PartStatus>,
}

/// Everything the daemon sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello(Hello),
    InitialState(InitialState),
    Sample(SampleMessage),
    Capture(CaptureNotice),
    /// The daemon took this client's `capture` request; `capture` notices with this id follow.
    CaptureAccepted {
        capture_id: i64,
        pid: Option<u32>,
    },
    /// The daemon declined this client's `capture` request, and why.
    CaptureRefused {
        reason: String,
        pid: Option<u32>,
    },
    /// The answer to `ping`.
    Pong,
    /// Something the client sent could not be used; the connection stays open unless said.
    Error {
        message: String,
    },
}

impl ServerMessage {
    /// Every `type` the server sends.
    pub const TYPES: [&'static str; 8] = [
        "hello",
        "initial_state",
        "sample",
        "capture",
        "capture_accepted",
        "capture_refused",
        "pong",
        "error",
    ];
}

/// The daemon's decision on a client's `capture` request (sent as `capture_accepted` or
/// `capture_refused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureAnswer {
    Accepted { capture_id: i64 },
    Refused { reason: String },
}

/// Levels a client may log at: a fixed allow-list, never a lookup by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

/// Everything a client may send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// A line for the daemon's log (written with `source="client"`).
    Log {
        #[serde(default)]
        level: LogLevel,
        event: String,
        #[serde(default)]
        fields: serde_json::Map<String, serde_json::Value>,
    },
    /// Ask for a manual forensic capture, of one process or of the current culprits.
    Capture {
        #[serde(default)]
        pid: Option<u32>,
    },
    /// Liveness check; answered with `pong`.
    Ping,
}

impl ClientMessage {
    /// Every `type` a client may send.
    pub const TYPES: [&'static str; 3] = ["log", "capture", "ping"];
}

/// Why a line is not a usable message. The text is what the peer is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("expected a JSON object")]
    NotAnObject,
    #[error("missing string field \"type\"")]
    MissingType,
    #[error("unknown message type \"{0}\"")]
    UnknownType(String),
    #[error("invalid \"{kind}\" message: {detail}")]
    InvalidFields { kind: String, detail: String },
}

/// Could not encode a message (only possible with a broken `Serialize` impl; never panics).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode message: {0}")]
pub struct EncodeError(#[from] serde_json::Error);

/// Decodes one line (without or with its trailing newline) from a client.
pub fn decode_client(line: &[u8]) -> Result<ClientMessage, DecodeError> {
    decode_tagged(line, &ClientMessage::TYPES)
}

/// Decodes one line from the server.
pub fn decode_server(line: &[u8]) -> Result<ServerMessage, DecodeError> {
    decode_tagged(line, &ServerMessage::TYPES)
}

fn decode_tagged<T: DeserializeOwned>(line: &[u8], known: &[&str]) -> Result<T, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
    let obj = value.as_object().ok_or(DecodeError::NotAnObject)?;
    let kind = obj
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or(DecodeError::MissingType)?;
    if !known.contains(&kind) {
        return Err(DecodeError::UnknownType(truncate(kind, 64)));
    }
    let kind = kind.to_string();
    serde_json::from_value(value).map_err(|e| DecodeError::InvalidFields {
        kind,
        detail: e.to_string(),
    })
}

/// A peer-chosen string cut to a length that is safe to echo back and log.
fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// One message as a line: JSON and a trailing newline.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = serde_json::to_vec(msg)?;
    out.push(b'\n');
    Ok(out)
}

/// The `sample` line for `sample`, serialised straight from the borrowed rogues (no copy of the
/// processes; this runs once per sample for all clients).
pub fn encode_sample(sample: &Sample) -> Result<Vec<u8>, EncodeError> {
    #[derive(Serialize)]
    #[serde(tag = "type", rename = "sample")]
    struct SampleView<'a> {
        seq: u64,
        timestamp: f64,
        elapsed_ms: f64,
        process_count: usize,
        max_score: u8,
        rogues: &'a [ProcessScore],
        machine: &'a Machine,
        units: &'a [Unit],
    }
    encode(&SampleView {
        seq: sample.seq,
        timestamp: sample.timestamp,
        elapsed_ms: sample.elapsed_ms,
        process_count: sample.process_count,
        max_score: sample.max_score,
        rogues: sample.rogues(),
        machine: &sample.machine,
        units: top_units(sample),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Band, ProcState, Resource};
    use serde_json::{Value, json};

    fn rogue(pid: u32, score: u8) -> ProcessScore {
        ProcessScore {
            pid,
            command: format!("proc, \"{pid}\""),
            captured_at: 1_700_000_000.5,
            cpu: 97.5,
            mem: 1 << 30,
            state: ProcState::Running,
            score,
            band: Band::High,
            dominant_resource: Resource::Cpu,
            start_time: 1_699_999_000.0,
            ..Default::default()
        }
    }

    fn sample() -> Sample {
        Sample {
            seq: 42,
            timestamp: 1_700_000_001.25,
            elapsed_ms: 3.5,
            process_count: 300,
            max_score: 88,
            rogue_count: 2,
            access_denied: 1,
            processes: vec![rogue(10, 88), rogue(11, 60), rogue(12, 1)],
            ..Sample::default()
        }
    }

    fn all_server_messages() -> Vec<ServerMessage> {
        vec![
            ServerMessage::Hello(Hello::for_this_process(Duration::from_millis(333), 90)),
            ServerMessage::InitialState(InitialState {
                history: vec![0, 5, 100],
                last_seq: 3,
            }),
            ServerMessage::Sample(SampleMessage::from_sample(&sample())),
            ServerMessage::Capture(CaptureNotice {
                capture_id: 9,
                event_id: Some(4),
                trigger: Trigger::BandEntry(crate::model::Band::Critical),
                state: CaptureState::Done,
                statuses: BTreeMap::from([(CapturePart::Stacks, PartStatus::Success)]),
            }),
            ServerMessage::Capture(CaptureNotice {
                capture_id: 10,
                event_id: None,
                trigger: Trigger::Manual,
                state: CaptureState::Started,
                statuses: BTreeMap::new(),
            }),
            ServerMessage::CaptureAccepted {
                capture_id: 10,
                pid: Some(7),
            },
            ServerMessage::CaptureRefused {
                reason: "a capture is in progress".into(),
                pid: None,
            },
            ServerMessage::Pong,
            ServerMessage::Error {
                message: "bad".into(),
            },
        ]
    }

    fn all_client_messages() -> Vec<ClientMessage> {
        let mut fields = serde_json::Map::new();
        fields.insert("path".into(), json!("/run/x.sock"));
        fields.insert("n".into(), json!([1, 2]));
        vec![
            ClientMessage::Log {
                level: LogLevel::Warn,
                event: "tui_connected".into(),
                fields,
            },
            ClientMessage::Log {
                level: LogLevel::Debug,
                event: "e".into(),
                fields: serde_json::Map::new(),
            },
            ClientMessage::Capture { pid: Some(1234) },
            ClientMessage::Capture { pid: None },
            ClientMessage::Ping,
        ]
    }

    fn as_json(line: &[u8]) -> Value {
        assert_eq!(line.last(), Some(&b'\n'), "every message ends its line");
        assert_eq!(
            line.iter().filter(|&&b| b == b'\n').count(),
            1,
            "one message is one line"
        );
        serde_json::from_slice(line).unwrap()
    }

    #[test]
    fn every_server_message_round_trips() {
        let mut seen = std::collections::BTreeSet::new();
        for msg in all_server_messages() {
            let line = encode(&msg).unwrap();
            let kind = as_json(&line)["type"].as_str().unwrap().to_string();
            assert!(ServerMessage::TYPES.contains(&kind.as_str()), "{kind}");
            seen.insert(kind);
            assert_eq!(decode_server(&line).unwrap(), msg);
        }
        assert_eq!(seen.len(), ServerMessage::TYPES.len(), "every type covered");
    }

    #[test]
    fn every_client_message_round_trips() {
        let mut seen = std::collections::BTreeSet::new();
        for msg in all_client_messages() {
            let line = encode(&msg).unwrap();
            seen.insert(as_json(&line)["type"].as_str().unwrap().to_string());
            assert_eq!(decode_client(&line).unwrap(), msg);
        }
        assert_eq!(seen.len(), ClientMessage::TYPES.len(), "every type covered");
    }

    #[test]
    fn server_field_names_are_design_section_8() {
        let keys = |msg: &ServerMessage| -> Vec<String> {
            let mut k: Vec<String> = as_json(&encode(msg).unwrap())
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            k.sort();
            k
        };
        let msgs = all_server_messages();
        assert_eq!(
            keys(&msgs[0]),
            [
                "pid",
                "protocol",
                "ring_buffer_size",
                "sample_interval_ms",
                "type",
                "version"
            ]
        );
        assert_eq!(keys(&msgs[1]), ["history", "last_seq", "type"]);
        assert_eq!(
            keys(&msgs[2]),
            [
                "elapsed_ms",
                "machine",
                "max_score",
                "process_count",
                "rogues",
                "seq",
                "timestamp",
                "type",
                "units"
            ]
        );
        assert_eq!(
            keys(&msgs[3]),
            [
                "capture_id",
                "event_id",
                "state",
                "statuses",
                "trigger",
                "type"
            ]
        );
        assert_eq!(keys(&msgs[7]), ["type"]);
        assert_eq!(keys(&msgs[8]), ["message", "type"]);

        let v = as_json(&encode(&msgs[0]).unwrap());
        assert_eq!(v["type"], "hello");
        assert_eq!(v["protocol"], PROTOCOL_VERSION);
        assert_eq!(v["pid"], std::process::id());
        assert_eq!(v["sample_interval_ms"], 333);
        let v = as_json(&encode(&msgs[3]).unwrap());
        assert_eq!(v["state"], "done");
        assert_eq!(v["statuses"]["stacks"], "success");
        assert_eq!(v["trigger"], "band_entry_critical");
        assert_eq!(as_json(&encode(&msgs[4]).unwrap())["state"], "started");
        assert_eq!(as_json(&encode(&msgs[7]).unwrap())["type"], "pong");
    }

    /// The typed `trigger` and `statuses` are the same bytes on the wire as when they were
    /// strings (keys in name order), so clients of earlier versions read them unchanged.
    #[test]
    fn a_capture_notice_is_the_same_bytes_as_ever() {
        let msg = ServerMessage::Capture(CaptureNotice {
            capture_id: 3,
            event_id: Some(2),
            trigger: Trigger::PeakEscalation(crate::model::Band::Critical),
            state: CaptureState::Done,
            statuses: BTreeMap::from([
                (CapturePart::Stacks, PartStatus::Failed),
                (CapturePart::Logs, PartStatus::Timeout),
                (CapturePart::Decode, PartStatus::Skipped),
                (CapturePart::Buffer, PartStatus::Success),
            ]),
        });
        let line = concat!(
            r#"{"type":"capture","capture_id":3,"event_id":2,"trigger":"peak_escalation_critical","#,
            r#""state":"done","statuses":{"buffer":"success","decode":"skipped","logs":"timeout","#,
            r#""stacks":"failed"}}"#,
            "\n"
        );
        assert_eq!(String::from_utf8(encode(&msg).unwrap()).unwrap(), line);
        assert_eq!(decode_server(line.as_bytes()).unwrap(), msg);
        let manual = line.replace("peak_escalation_critical", "manual");
        let ServerMessage::Capture(n) = decode_server(manual.as_bytes()).unwrap() else {
            panic!("a capture notice");
        };
        assert_eq!(n.trigger, Trigger::Manual);
    }

    #[test]
    fn client_field_names_are_design_section_8() {
        let v = as_json(&encode(&all_client_messages()[0]).unwrap());
        assert_eq!(v["type"], "log");
        assert_eq!(v["level"], "warn");
        assert_eq!(v["event"], "tui_connected");
        assert_eq!(v["fields"]["path"], "/run/x.sock");
        let v = as_json(&encode(&ClientMessage::Capture { pid: Some(5) }).unwrap());
        assert_eq!(v, json!({"type": "capture", "pid": 5}));
        assert_eq!(
            as_json(&encode(&ClientMessage::Ping).unwrap()),
            json!({"type": "ping"})
        );
    }

    #[test]
    fn sample_carries_the_rogues_with_the_model_field_names() {
        let s = sample();
        let line = encode_sample(&s).unwrap();
        let v = as_json(&line);
        assert_eq!(v["type"], "sample");
        assert_eq!(v["seq"], 42);
        assert_eq!(v["max_score"], 88);
        assert_eq!(v["process_count"], 300);
        let rogues = v["rogues"].as_array().unwrap();
        assert_eq!(rogues.len(), 2, "rogue_count leading processes only");
        // Every key of a rogue is a key of the model's own JSON, and vice versa.
        let model = serde_json::to_value(&s.processes[0]).unwrap();
        assert_eq!(rogues[0], model);
        assert_eq!(rogues[0].as_object().unwrap().len(), 49);
        for key in [
            "pid",
            "command",
            "cpu",
            "gpu_time_rate",
            "dominant_resource",
        ] {
            assert!(rogues[0].get(key).is_some(), "{key}");
        }
        assert_eq!(rogues[0]["dominant_resource"], "cpu");
        assert_eq!(rogues[0]["state"], "running");
        // The borrowed encoder and the owned message are the same bytes.
        assert_eq!(
            line,
            encode(&ServerMessage::Sample(SampleMessage::from_sample(&s))).unwrap()
        );
        assert_eq!(
            decode_server(&line).unwrap(),
            ServerMessage::Sample(SampleMessage::from_sample(&s))
        );
    }

    #[test]
    fn every_kind_of_bad_client_line_has_its_own_error() {
        let cases: [(&[u8], DecodeError); 8] = [
            (b"{not json", DecodeError::InvalidJson(String::new())),
            (
                b"\xff\xfe\x00binary",
                DecodeError::InvalidJson(String::new()),
            ),
            (b"", DecodeError::InvalidJson(String::new())),
            (b"[1,2,3]", DecodeError::NotAnObject),
            (b"\"ping\"", DecodeError::NotAnObject),
            (br#"{"level":"info"}"#, DecodeError::MissingType),
            (
                br#"{"type":"shutdown"}"#,
                DecodeError::UnknownType("shutdown".into()),
            ),
            (
                br#"{"type":"log","level":"trace","event":"x"}"#,
                DecodeError::InvalidFields {
                    kind: "log".into(),
                    detail: String::new(),
                },
            ),
        ];
        for (line, want) in cases {
            let got = decode_client(line).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&got),
                std::mem::discriminant(&want),
                "{:?} → {got}",
                String::from_utf8_lossy(line)
            );
        }
        // A server message type is not a client message type.
        assert_eq!(
            decode_client(br#"{"type":"hello"}"#).unwrap_err(),
            DecodeError::UnknownType("hello".into())
        );
        // The level allow-list names the valid levels.
        let err = decode_client(br#"{"type":"log","level":"critical","event":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("critical") && err.contains("debug"), "{err}");
        // A numeric type and a wrong field type are errors too, not panics.
        assert_eq!(
            decode_client(br#"{"type":7}"#).unwrap_err(),
            DecodeError::MissingType
        );
        assert!(matches!(
            decode_client(br#"{"type":"capture","pid":"me"}"#),
            Err(DecodeError::InvalidFields { .. })
        ));
        assert!(matches!(
            decode_client(br#"{"type":"log","event":"x","fields":[1]}"#),
            Err(DecodeError::InvalidFields { .. })
        ));
    }

    #[test]
    fn lenient_defaults_and_extra_fields() {
        assert_eq!(
            decode_client(b"{\"type\":\"log\",\"event\":\"e\"}\n").unwrap(),
            ClientMessage::Log {
                level: LogLevel::Info,
                event: "e".into(),
                fields: serde_json::Map::new()
            }
        );
        assert_eq!(
            decode_client(br#"{"type":"capture"}"#).unwrap(),
            ClientMessage::Capture { pid: None }
        );
        assert_eq!(
            decode_client(br#"{"type":"ping","from":"newer client"}"#).unwrap(),
            ClientMessage::Ping
        );
    }

    #[test]
    fn an_echoed_unknown_type_is_cut_short() {
        let long = "x".repeat(10_000);
        let line = format!(r#"{{"type":"{long}"}}"#);
        let err = decode_client(line.as_bytes()).unwrap_err().to_string();
        assert!(err.len() < 200, "{}", err.len());
    }
}
