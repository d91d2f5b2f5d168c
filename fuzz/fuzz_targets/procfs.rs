#![no_main]
//! See `rogue_hunter::fuzzing::procfs`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rogue_hunter::fuzzing::procfs(data));
