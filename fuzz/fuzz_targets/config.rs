//! libFuzzer entry for [`expman_fuzz::config`] (see `fuzz/src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| expman_fuzz::config(data));
