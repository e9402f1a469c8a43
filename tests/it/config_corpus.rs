//! The config corpus: every broken config under `tests/fixtures/broken`
//! gives its expected, precise diagnostics (snapshots) and no panic; every
//! config under `tests/fixtures/valid`, and every experiment_manager config
//! in `../shared/compat` when present, loads without errors.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::support::fixtures;
use expman_schema::render::{Style, render};
use expman_schema::{Analysis, ExpandOptions, FsLoader, MemoryLoader, Sources, check};

/// Diagnostics as the CLI prints them (no colour), paths relative to `root`.
fn rendered(analysis: &Analysis, root: &Path) -> String {
    let mut sources = Sources::new();
    for (_, file) in analysis.sources.iter() {
        let shown = file.path.strip_prefix(root).unwrap_or(&file.path).to_path_buf();
        sources.add(shown, file.text.clone());
    }
    analysis.diagnostics.iter().map(|d| render(d, &sources, Style::default())).collect::<Vec<_>>().join("\n")
}

fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    cases
}

#[test]
fn broken_configs_give_their_diagnostics() {
    let root = fixtures().join("broken");
    let mut seen = 0;
    for case in cases(&root) {
        let name = case.file_stem().unwrap().to_str().unwrap().to_string();
        let (analysis, _) = check(&FsLoader, &case, &[], ExpandOptions::default());
        assert!(!analysis.diagnostics.is_empty(), "{name}: expected diagnostics, got none");
        insta::assert_snapshot!(format!("broken_{name}"), rendered(&analysis, &root));
        seen += 1;
    }
    assert!(seen >= 18, "only {seen} broken cases found");
}

#[test]
fn valid_configs_load_without_errors() {
    let root = fixtures().join("valid");
    for case in cases(&root) {
        let (analysis, expansion) = check(&FsLoader, &case, &[], ExpandOptions::default());
        let errors: Vec<_> = analysis.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{}: {}", case.display(), rendered(&analysis, &root));
        assert!(!expansion.runs.is_empty(), "{}: no runs", case.display());
    }
}

#[test]
fn the_issue_example_expands_as_documented() {
    let dir = fixtures().join("valid/issue_example");
    let (analysis, expansion) = check(&FsLoader, &dir, &[], ExpandOptions::default());
    assert!(analysis.diagnostics.is_empty(), "{}", rendered(&analysis, &dir));
    let names: Vec<(String, u32, i64)> = expansion.runs.iter().map(|r| (r.trial.clone(), r.repeat, r.seed)).collect();
    insta::assert_debug_snapshot!("issue_example_runs", names);
    let small = &expansion.runs[1];
    assert_eq!(small.config.get_path(["model", "embedding_dim"]).unwrap().as_i64(), Some(256));
    assert_eq!(small.config.get_path(["model", "type"]).unwrap().as_str(), Some("transformer"));
    assert_eq!(small.config.get("seed").unwrap().as_i64(), Some(43));
    let sweep =
        expansion.runs.iter().find(|r| r.trial == "lr_sweep[training.lr=0.001,model.embedding_dim=1024]").unwrap();
    assert_eq!(sweep.config.get_path(["training", "lr"]).unwrap().as_f64(), Some(0.001));
    assert_eq!(sweep.config.get_path(["model", "embedding_dim"]).unwrap().as_i64(), Some(1024));
    assert_eq!(sweep.pipeline.timeout.unwrap().0.as_secs(), 7200);
    assert_eq!(analysis.project.env.trackers.as_ref().unwrap().len(), 3);
}

#[test]
fn layers_anchors_and_interpolation_resolve() {
    let dir = fixtures().join("valid/anchors_and_extends");
    let (analysis, expansion) = check(&FsLoader, &dir, &[], ExpandOptions::default());
    assert!(!analysis.has_errors(), "{}", rendered(&analysis, &dir));
    let by_trial: Vec<String> = expansion.runs.iter().map(|r| format!("{}#{}", r.trial, r.repeat)).collect();
    assert_eq!(by_trial, ["shared_baseline#0", "replaced#0", "replaced#1", "local#0"]);
    let replaced = &expansion.runs[2];
    let config = replaced.config.to_json();
    assert_eq!(config["training"], serde_json::json!({"optimizer": "adam", "lr": 0.001, "epochs": 5}));
    assert_eq!(config["paths"]["out"], "runs/layered/replaced/1");
    assert_eq!(config["paths"]["log"], "runs/layered/replaced/1/log.txt");
    assert_eq!(config["paths"]["epochs_copy"], 5);
    assert_eq!(config["seed"], 8);
    assert_eq!(config["pipeline"]["env"]["DATA_DIR"], "/data");
    assert_eq!(expansion.runs[3].config.to_json()["extra"]["note"], "added on purpose");
}

/// Repeats get their own seeds and the same config hash only when nothing
/// but the seed differs; a changed value changes the hash.
#[test]
fn seeds_and_hashes() {
    let loader = MemoryLoader::new()
        .with_file("x/base.yaml", "seed: 10\nlr: 0.1\npipeline: {command: [true]}\n")
        .with_file("x/trials.yaml", "- {name: a, repeat: 3}\n- {name: b, settings: {lr: 0.2}}\n");
    let (analysis, expansion) = check(&loader, Path::new("x"), &[], ExpandOptions::default());
    assert!(analysis.diagnostics.is_empty(), "{:?}", analysis.diagnostics);
    let seeds: Vec<i64> = expansion.runs.iter().map(|r| r.seed).collect();
    assert_eq!(seeds, [10, 11, 12, 10]);
    assert_ne!(expansion.runs[0].config_hash, expansion.runs[1].config_hash, "seed is part of the config");
    assert_ne!(expansion.runs[0].config_hash, expansion.runs[3].config_hash);
    // Same config written in another key order: same hash.
    let reordered = MemoryLoader::new()
        .with_file("x/base.yaml", "pipeline: {command: [true]}\nlr: 0.1\nseed: 10\n")
        .with_file("x/trials.yaml", "- {name: a, repeat: 3}\n");
    let (_, again) = check(&reordered, Path::new("x"), &[], ExpandOptions::default());
    assert_eq!(again.runs[0].config_hash, expansion.runs[0].config_hash);
}

#[test]
fn command_line_overrides_win_and_are_checked() {
    let dir = fixtures().join("valid/issue_example");
    let overrides = vec!["training.lr=0.5".to_string(), "model.embeding_dim=1".to_string()];
    let (analysis, expansion) = check(&FsLoader, &dir, &overrides, ExpandOptions::default());
    assert!(expansion.runs.iter().all(|r| r.config.get_path(["training", "lr"]).unwrap().as_f64() == Some(0.5)));
    let warning = analysis.diagnostics.iter().find(|d| d.message.contains("embeding_dim")).expect("a warning");
    assert_eq!(
        warning.hint.as_deref(),
        Some("did you mean `embedding_dim`? To add a new key on purpose, write `+model.embeding_dim`")
    );
}

#[test]
fn compat_configs_of_experiment_manager_load() {
    let root = crate::support::repo_root().join("../shared/compat/experiment_manager");
    if !root.exists() {
        eprintln!("skipped: {} is not present", root.display());
        return;
    }
    let mut count = 0;
    for case in cases(&root) {
        let (analysis, expansion) = check(&FsLoader, &case, &[], ExpandOptions::default());
        let errors: Vec<_> = analysis.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{}: {}", case.display(), rendered(&analysis, &root));
        assert!(!expansion.runs.is_empty(), "{}", case.display());
        // Their spellings map onto expman's kinds.
        for tracker in analysis.project.env.trackers.iter().flatten() {
            assert!(
                !matches!(tracker.kind, expman_schema::model::TrackerKind::Other(_)),
                "{}: {:?}",
                case.display(),
                tracker.kind
            );
        }
        count += 1;
    }
    assert_eq!(count, 8);
}

/// A 5 MB trials.yaml with a mistake at the very end: it loads, the
/// mistake is found on the right line, and nothing panics.
#[test]
fn five_megabyte_file() {
    let mut text = String::with_capacity(5_300_000);
    let mut i = 0;
    while text.len() < 5_000_000 {
        text.push_str(&format!(
            "- name: trial_{i:06}\n  repeat: 1\n  settings:\n    training: {{lr: 0.{i}}}\n    note: \"{}\"\n",
            "x".repeat(40)
        ));
        i += 1;
    }
    let bad_line = text.lines().count() + 2;
    text.push_str("- name: last\n  repeat: many\n");
    let loader = MemoryLoader::new()
        .with_file("big/base.yaml", "training: {lr: 0.1}\nnote: ''\npipeline: {command: [true]}\n")
        .with_file("big/trials.yaml", text);
    let started = Instant::now();
    let (analysis, expansion) = check(&loader, Path::new("big"), &[], ExpandOptions::default());
    eprintln!("5 MB: {} trials in {:?}", expansion.runs.len(), started.elapsed());
    let errors: Vec<_> = analysis.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let file = analysis.sources.get(errors[0].span.file).unwrap();
    assert_eq!(file.line_col(errors[0].span.start).line as usize, bad_line);
    assert_eq!(expansion.runs.len(), i + 1);
}
