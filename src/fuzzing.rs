//! Entry points for the fuzz targets in `fuzz/` (`cargo fuzz`, see FUZZING.md): each feeds
//! arbitrary bytes to the parsers of one kind of outside input — /proc files, the text external
//! tools print (spindump, eu-stack, gdb), kernel and system log records, the socket protocol and
//! config files — and checks what must hold beyond "no panic" (a decoded message re-encodes to
//! the same message, a parsed config round-trips, escaped text is printable). `cargo test` runs
//! them over a fixed set of inputs too, so they cannot rot.

use crate::config::parse_str;
use crate::escape;
use crate::forensics::{calltree, logs, spindump};
use crate::ipc::protocol;
use std::path::Path;

/// /proc files: the sampler's parsers, `/proc/self/stat` of the metrics, PSI and `status`
/// fields, kernel stacks (`task/T/stack`).
pub fn procfs(data: &[u8]) {
    procfs_parsers(data);
    let text = String::from_utf8_lossy(data);
    let _ = crate::sys::parse_boot_id(&text);
    #[cfg(target_os = "linux")]
    {
        let _ = crate::export::self_process::parse_stat(&text, 1, 100, 4096);
        let _ = crate::export::self_process::parse_btime(&text);
    }
    let frames = calltree::parse_kernel_stack(&text);
    let mut tree = calltree::CallTree::new();
    tree.add(&frames, 1);
    let _ = tree.into_frames();
    show(&text);
}

/// Every parser of the procfs module (the sampler's, the machine's state, PSI).
fn procfs_parsers(data: &[u8]) {
    use crate::procfs::parse;
    if let Some(s) = parse::stat(data) {
        // The command lies between the first '(' and the last ')'.
        assert!(s.comm.len() < data.len());
        let _ = s.is_kernel_thread();
    }
    let _ = parse::stat_head(data);
    let _ = parse::schedstat(data);
    let _ = parse::io(data);
    let _ = parse::status(data).mem_bytes();
    let _ = parse::drm_fdinfo(data);
    let _ = parse::boot_time(data);
    let _ = parse::kv_u64(data, b"VmRSS:");
    let _ = parse::system_stat(data);
    let _ = parse::meminfo(data);
    let _ = parse::pressure(data);
    let _ = parse::loadavg(data);
    let _ = parse::cgroup_v2(data);
    let _ = parse::num_i64(data);
}

/// spindump's text report (macOS), decoded from a tailspin file of any process's making.
pub fn spindump(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let capture = spindump::parse(&text);
    for p in &capture.processes {
        show(&p.name);
    }
}

/// Kernel log records (`/dev/kmsg`), journald and `log show` JSON, and the stack dumps of
/// eu-stack and gdb: text other programs and processes put there.
pub fn system_log(data: &[u8]) {
    if let Some(r) = logs::parse_kmsg_record(data) {
        let _ = r.to_entry(0);
        show(&r.message);
    }
    let _ = logs::parse_journal_json(data);
    let _ = logs::parse_log_show_ndjson(data);
    let text = String::from_utf8_lossy(data);
    for frames in calltree::parse_eu_stack(&text).values() {
        let _ = calltree::thread_tree(frames, &[]);
    }
    let _ = calltree::parse_gdb_bt(&text);
}

/// One line of the socket protocol, as the server reads it from a client and a client from
/// the server: whatever decodes must encode to a line that decodes to the same message.
pub fn socket(data: &[u8]) {
    if let Ok(msg) = protocol::decode_client(data) {
        let line = protocol::encode(&msg).expect("a decoded message encodes");
        assert_eq!(line.last(), Some(&b'\n'));
        let again = protocol::decode_client(&line[..line.len() - 1]).expect("and decodes again");
        assert_eq!(again, msg);
    }
    if let Ok(msg) = protocol::decode_server(data) {
        let line = protocol::encode(&msg).expect("a decoded message encodes");
        let again = protocol::decode_server(&line[..line.len() - 1]).expect("and decodes again");
        // NaN never equals itself; compare the encodings instead.
        assert_eq!(protocol::encode(&again).ok(), Some(line));
    }
}

/// A config file: every problem is reported, never a panic; a valid one survives `config show`
/// (to TOML and back).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = parse_str(text, Path::new("fuzz.toml")) {
        let back = parse_str(&c.to_toml(), Path::new("shown.toml"))
            .expect("a valid config's TOML is valid");
        assert_eq!(back, c);
    }
}

/// Whatever a parser kept is printed through the escaping helper: nothing it prints may be
/// something a terminal acts on.
fn show(s: &str) {
    let shown = escape::escape(s);
    assert!(!shown.chars().any(escape::needs_escape));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz targets' seeds (fuzz/seeds) and a few nasty inputs, through every entry point.
    #[test]
    fn every_entry_point_takes_every_seed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        let mut inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"(".to_vec(),
            b")(".to_vec(),
            b"1 (a) S".to_vec(),
            b"\xff\xfe\x00\n;,".to_vec(),
            b"{\"type\":\"log\",\"event\":\"\\u0000\",\"fields\":{\"a\":1e400}}".to_vec(),
            b"[bands]\nmedium = 1e400\n".to_vec(),
            vec![b'['; 10_000],
        ];
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            for file in std::fs::read_dir(entry.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                inputs.push(std::fs::read(file.path()).unwrap());
            }
        }
        assert!(
            inputs.len() > 20,
            "the seeds are missing: {}",
            dir.display()
        );
        // The seeds are what they claim to be, so the fuzzer starts from real inputs.
        let seed = |p: &str| std::fs::read(dir.join(p)).unwrap();
        for p in [
            "socket/hello",
            "socket/sample",
            "socket/notice",
            "socket/refused",
            // Found by the fuzzer: a float serde_json's fast parser read 1 ULP off, so a sample
            // changed on its way through a client and back.
            "socket/sample-float-roundtrip",
        ] {
            protocol::decode_server(&seed(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        for p in ["socket/log", "socket/capture", "socket/ping"] {
            protocol::decode_client(&seed(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        let defaults = String::from_utf8(seed("config/defaults.toml")).unwrap();
        parse_str(&defaults, Path::new("defaults.toml")).unwrap();
        assert!(logs::parse_kmsg_record(&seed("system_log/kmsg")).is_some());
        assert_eq!(
            calltree::parse_eu_stack(&String::from_utf8_lossy(&seed("system_log/eustack"))).len(),
            2
        );
        for data in &inputs {
            procfs(data);
            spindump(data);
            system_log(data);
            socket(data);
            config(data);
        }
    }
}
