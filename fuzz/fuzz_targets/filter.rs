//! libFuzzer entry for [`expman_fuzz::filter`] (see `fuzz/src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| expman_fuzz::filter(data));
