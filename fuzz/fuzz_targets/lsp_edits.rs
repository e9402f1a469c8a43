//! libFuzzer entry for [`expman_fuzz::lsp_edits`] (see `fuzz/src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| expman_fuzz::lsp_edits(data));
