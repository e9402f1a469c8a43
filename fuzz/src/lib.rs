//! The fuzz targets' bodies: each takes the fuzzer's bytes and drives one
//! of expman's readers of outside input the way expman itself does, so that
//! only a bug (a panic, a hang, a runaway allocation) stops it.
//!
//! `fuzz_targets/*.rs` hand these to libFuzzer (`benches/fuzz.sh`, nightly
//! Rust, cargo-fuzz); `tests/it/fuzz_regressions.rs` replays every input
//! kept in `fuzz/regressions/<target>/` through the same functions on
//! stable Rust, so a crash once found stays fixed.
//!
//! Input formats (`fuzz/seed.py` writes seeds in them from the fixtures):
//! - [`config`]: a config directory's `env.yaml`, `experiment.yaml`,
//!   `base.yaml` and `trials.yaml`, separated by NUL bytes (fewer parts:
//!   fewer files); input without a NUL is a single-file config;
//! - [`overrides`]: `key=value` arguments, one per line, over a fixed
//!   config directory;
//! - [`filter`]: a filter-language query;
//! - [`events`]: event-file lines;
//! - [`wire`]: a Jupyter message's frames, separated by NUL bytes;
//! - [`lsp_edits`]: a trials.yaml text, then edits, each a NUL byte, four
//!   bytes (start line, start column, end line, end column, UTF-16) and the
//!   new text up to the next NUL; a start line byte of 255 replaces
//!   the whole text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use expman_lsp::completion::{Base, FileKind, complete};
use expman_lsp::convert::{Text, apply_change};
use expman_lsp::world::{Overlay, Target, analyze};
use expman_schema::render::{Style, render};
use expman_schema::{ExpandOptions, FileId, Loader, NotUtf8, Role};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};

/// The directory the config targets' files live in.
const DIR: &str = "/fuzz/exp";
/// The environment a config may interpolate (`${env:TOKEN}`).
const ENV: [(&str, &str); 2] = [("TOKEN", "fuzz-token-value"), ("HOME", "/home/fuzz")];
/// The config directory [`overrides`] and [`lsp_edits`] work against.
const BASE: &str = "\
seed: 42
model: {type: transformer, embedding_dim: 512, layers: [64, 64]}
training:
  epochs: 100
  lr: 0.001
  optimizer: adam
pipeline:
  command: [python, train.py, '${training.lr}']
  callbacks:
    - {type: early_stopping, metric: val_loss, patience: 5}
";
const TRIALS: &str = "\
- name: small
  repeat: 2
  settings: {model: {embedding_dim: 64}}
- name: sweep
  sweep: {training.lr: [0.1, 0.01]}
";
const ROLES: [&str; 4] = ["env.yaml", "experiment.yaml", "base.yaml", "trials.yaml"];

/// Files held as bytes and read as `FsLoader` reads them (text that is
/// not UTF-8 is an `InvalidData` error carrying [`NotUtf8`]).
#[derive(Default)]
struct BytesLoader {
    files: HashMap<PathBuf, Vec<u8>>,
}

impl BytesLoader {
    fn with(mut self, path: impl Into<PathBuf>, bytes: &[u8]) -> BytesLoader {
        self.files.insert(path.into(), bytes.to_vec());
        self
    }
}

impl Loader for BytesLoader {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        let bytes = self.files.get(&expman_schema::loader::normalize(path)).ok_or(std::io::ErrorKind::NotFound)?;
        String::from_utf8(bytes.clone()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, NotUtf8::of(e.as_bytes(), e.utf8_error()))
        })
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(&expman_schema::loader::normalize(path))
    }

    fn is_dir(&self, path: &Path) -> bool {
        let path = expman_schema::loader::normalize(path);
        self.files.keys().any(|f| f.starts_with(&path) && *f != path)
    }

    fn env_var(&self, name: &str) -> Option<String> {
        ENV.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    }
}

/// Loads, validates and expands a config (as `expman validate` does), and
/// renders every diagnostic against its source.
pub fn config(data: &[u8]) {
    let (loader, path) = if data.contains(&0) {
        let mut loader = BytesLoader::default();
        for (name, part) in ROLES.iter().zip(data.split(|b| *b == 0)) {
            loader = loader.with(Path::new(DIR).join(name), part);
        }
        (loader, PathBuf::from(DIR))
    } else {
        let path = PathBuf::from("/fuzz/experiment.yaml");
        (BytesLoader::default().with(&path, data), path)
    };
    check_and_render(&loader, &path, &[]);
}

/// `key=value` overrides (one per line) over a fixed config directory.
pub fn overrides(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = text.lines().map(str::to_string).collect();
    let loader = BytesLoader::default()
        .with(Path::new(DIR).join("experiment.yaml"), b"name: fuzz\n")
        .with(Path::new(DIR).join("base.yaml"), BASE.as_bytes())
        .with(Path::new(DIR).join("trials.yaml"), TRIALS.as_bytes());
    check_and_render(&loader, Path::new(DIR), &args);
}

fn check_and_render(loader: &dyn Loader, path: &Path, overrides: &[String]) {
    let (analysis, expansion) = expman_schema::check(loader, path, overrides, ExpandOptions::default());
    for diagnostic in analysis.diagnostics.iter().chain(&expansion.diagnostics) {
        let text = render(diagnostic, &analysis.sources, Style::default());
        assert!(text.ends_with('\n'), "a rendered diagnostic ends its line: {text:?}");
    }
    for run in &expansion.runs {
        // What the runner writes as the run's config.yaml and config.json.
        let json = expman_schema::yaml::to_json(&run.config);
        assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok(), "config.json is JSON: {json}");
        let _ = expman_schema::yaml::to_yaml(&run.config);
    }
}

/// A filter query: parsed, its error rendered with a caret, and applied to
/// a small runs frame.
pub fn filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match expman_query::Query::parse(text) {
        Ok(query) => {
            let _ = query.apply(runs_frame());
        }
        Err(e) => {
            let shown = e.render();
            assert!(shown.contains('^'), "a filter error points somewhere: {shown}");
        }
    }
}

fn runs_frame() -> expman_query::DataFrame {
    use polars::prelude::*;
    df!(
        "id" => ["a1", "b2", "c3"],
        "trial" => ["lr_small", "lr_big", "base"],
        "status" => ["SUCCESS", "FAILED", "RUNNING"],
        "repeat" => [1i64, 2, 1],
        "duration" => [Some(1.5f64), None, Some(30.0)],
        "metrics.val_loss" => [Some(0.25f64), Some(f64::NAN), None],
        "params.training.optimizer" => [Some("adam"), Some("sgd"), None],
        "params.training.lr" => [Some(0.1f64), Some(0.01), None],
        "tags.team" => [Some("nlp"), None, Some("vision")]
    )
    .expect("a valid frame")
}

/// Event-file lines, each parsed as the ingest thread parses them.
pub fn events(data: &[u8]) {
    for line in data.split(|b| *b == b'\n') {
        if let Err(e) = expman_runner::protocol::parse_line(line) {
            let _ = e.to_string();
        }
    }
}

/// A Jupyter message's frames (NUL-separated), read as the kernel reads
/// its shell and control sockets.
pub fn wire(data: &[u8]) {
    let frames: Vec<Vec<u8>> = data.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
    if let Ok(incoming) = expman_kernel::wire::read_unsigned(frames) {
        let _ = incoming.message.header.msg_type.len();
    }
}

/// A trials.yaml edited as an editor edits it (`didChange`, UTF-16
/// positions, CRLF or not), then analysed with base.yaml beside it, every
/// diagnostic placed, and completion and hover asked at each edit.
pub fn lsp_edits(data: &[u8]) {
    let mut chunks = data.split(|b| *b == 0);
    let mut text = String::from_utf8_lossy(chunks.next().unwrap_or_default()).into_owned();
    let mut cursors = Vec::new();
    for chunk in chunks {
        let (head, new) = chunk.split_at(chunk.len().min(4));
        let at = |i: usize| u32::from(head.get(i).copied().unwrap_or(0));
        let start = Position { line: at(0), character: at(1) };
        let end = Position { line: at(2), character: at(3) };
        let range = (at(0) != 255).then_some(Range { start, end });
        let change = TextDocumentContentChangeEvent {
            range,
            range_length: None,
            text: String::from_utf8_lossy(new).into_owned(),
        };
        apply_change(&mut text, &change);
        cursors.push(start);
    }
    let dir = PathBuf::from(DIR);
    let overlay = Overlay::of_texts([
        (dir.join("base.yaml"), BASE.to_string()),
        (dir.join("trials.yaml"), text.clone()),
        (dir.join("env.yaml"), "workspace: out\n".to_string()),
    ]);
    let snap = analyze(Target::Dir(dir), &overlay, Default::default());
    for (_, diagnostics) in expman_lsp::diagnostics::by_file(&snap, &Default::default()) {
        for d in diagnostics {
            assert!(d.range.start <= d.range.end, "a diagnostic's range is ordered: {d:?}");
        }
    }
    let document = Text::new(text.as_str());
    let root = expman_schema::yaml::parse(&text, FileId(0)).docs.into_iter().next();
    let base = Base { node: &snap.base, sources: &snap.sources };
    for cursor in cursors {
        let offset = document.offset(cursor);
        assert!(text.is_char_boundary(offset as usize), "offset {offset} of {cursor:?} splits a character");
        let _ = complete(FileKind::Role(Role::Trials), &document, offset, Some(&base));
        if let Some(root) = &root {
            let _ = expman_lsp::hover::hover(FileKind::Role(Role::Trials), &document, root, offset, Some(&snap));
        }
    }
}
