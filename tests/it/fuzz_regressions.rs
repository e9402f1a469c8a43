//! Every input the fuzzers found a bug with (`fuzz/regressions/TARGET/`,
//! written by `benches/fuzz.sh`) replayed through the same target bodies
//! (`fuzz/src/lib.rs`) on stable Rust, plus the half-typed and broken
//! shapes the targets are meant to survive, so a fixed crash stays fixed.

#[path = "../../fuzz/src/lib.rs"]
mod bodies;

use std::path::Path;

type Body = fn(&[u8]);

const TARGETS: [(&str, Body); 6] = [
    ("config", bodies::config),
    ("overrides", bodies::overrides),
    ("filter", bodies::filter),
    ("events", bodies::events),
    ("wire", bodies::wire),
    ("lsp_edits", bodies::lsp_edits),
];

#[test]
fn every_input_a_fuzzer_found_a_bug_with_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut replayed = 0;
    for (target, body) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{target} panics again on {}", path.display());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} fuzz regression input(s)");
}

#[test]
fn the_targets_take_broken_shapes() {
    // A config directory with a non-UTF-8 byte in base.yaml and a
    // half-typed trial.
    bodies::config(b"workspace: out\0name: x\0lr: \xff\0- name: a\n  re");
    bodies::config(b"\xef\xbb\xbf- {name: [");
    bodies::overrides(b"=\n+=\nmodel..x=1\ntraining.lr=[\n\xff=\xfe");
    bodies::filter("metrics.ä < 'ö".as_bytes());
    bodies::filter(b"status IN (");
    bodies::events(b"{\"type\":\"metric\",\"key\":\"k\",\"value\":1e999,\"ts\":1e300}\n{\n\xff");
    bodies::wire(b"<IDS|MSG>\0\0{\"msg_type\":1}\0{}\0{}\0[]");
    bodies::wire(b"");
    // An emoji is two UTF-16 units: a position between them, CRLF, and a
    // range past the end.
    bodies::lsp_edits(b"- name: \xf0\x9f\x98\x80\r\n  re\0\x00\x09\x00\x09x\0\x01\x03\x09\x09\r\n\0\x30\x30\x31\x31z");
}
