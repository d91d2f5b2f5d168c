#![no_main]
//! See `rogue_hunter::fuzzing::system_log`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rogue_hunter::fuzzing::system_log(data));
