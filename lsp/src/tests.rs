//! The features on in-memory config directories, with `$0` marking the
//! cursor in the text: completion, hover and go-to-definition answers,
//! checked as text (expect-test; `UPDATE_EXPECT=1` rewrites them).

use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};
use expman_schema::{FileId, Node, Role};
use tower_lsp_server::ls_types::{CompletionTextEdit, HoverContents};

use crate::completion::{Base, FileKind, complete};
use crate::convert::Text;
use crate::world::{Overlay, Snapshot, Target, analyze};

const DIR: &str = "/virtual/expman-lsp-tests/exp";

const BASE: &str = "\
seed: 42
model: {type: transformer, embedding_dim: 512}
training:
  epochs: 100
  lr: 0.001
  optimizer: adam
pipeline:
  command: [python, train.py]
  callbacks:
    - {type: early_stopping, metric: val_loss, patience: 5}
";

/// The directory with base.yaml and `trials` (cursor marker removed) as
/// trials.yaml; the trials text and the cursor's byte offset.
fn project(trials: &str) -> (Snapshot, Text, u32) {
    let offset = trials.find("$0").expect("a $0 cursor marker") as u32;
    let trials = trials.replace("$0", "");
    let dir = PathBuf::from(DIR);
    let overlay = Overlay::of_texts([
        (dir.join("base.yaml"), BASE.to_string()),
        (dir.join("trials.yaml"), trials.clone()),
        (dir.join("env.yaml"), "workspace: out\n".to_string()),
    ]);
    let snap = analyze(Target::Dir(dir), &overlay, Default::default());
    (snap, Text::new(trials), offset)
}

fn root(text: &Text) -> Node {
    expman_schema::yaml::parse(&text.text, FileId(0)).docs.into_iter().next().unwrap()
}

/// Completion labels, each with what it inserts when that differs.
fn check_completion(trials: &str, expected: Expect) {
    let (snap, text, offset) = project(trials);
    let base = Base { node: &snap.base, sources: &snap.sources };
    let items = complete(FileKind::Role(Role::Trials), &text, offset, Some(&base));
    let shown: Vec<String> = items
        .iter()
        .map(|i| {
            let insert = match &i.text_edit {
                Some(CompletionTextEdit::Edit(e)) => e.new_text.clone(),
                _ => i.insert_text.clone().unwrap_or_default(),
            };
            let detail = i.detail.clone().map(|d| format!("  ({d})")).unwrap_or_default();
            if insert == i.label {
                format!("{}{detail}", i.label)
            } else {
                format!("{} -> {insert:?}{detail}", i.label)
            }
        })
        .collect();
    expected.assert_eq(&shown.join("\n"));
}

fn check_hover(trials: &str, expected: Expect) {
    let (snap, text, offset) = project(trials);
    let hover = crate::hover::hover(FileKind::Role(Role::Trials), &text, &root(&text), offset, Some(&snap));
    let shown = match hover.map(|h| h.contents) {
        Some(HoverContents::Markup(m)) => m.value,
        Some(other) => format!("{other:?}"),
        None => "(no hover)".into(),
    };
    expected.assert_eq(&shown);
}

/// `file:line:column` (1-based) of the definition.
fn check_definition(trials: &str, expected: Expect) {
    let (snap, text, offset) = project(trials);
    let path = Path::new(DIR).join("trials.yaml");
    let found =
        crate::definition::definition(FileKind::Role(Role::Trials), &path, &text, &root(&text), offset, Some(&snap));
    let shown = match found {
        Some(loc) => {
            let file = loc.uri.path().as_str().rsplit('/').next().unwrap_or_default().to_string();
            format!("{file}:{}:{}", loc.range.start.line + 1, loc.range.start.character + 1)
        }
        None => "(no definition)".into(),
    };
    expected.assert_eq(&shown);
}

#[test]
fn completion_offers_base_keys_inside_settings() {
    check_completion(
        "- name: small\n  settings:\n    training:\n      $0",
        expect![[r#"
            epochs -> "epochs: "  (100 (base))
            lr -> "lr: "  (0.001 (base))
            optimizer -> "optimizer: "  (adam (base))"#]],
    );
    // The dotted form: the keys under what is typed so far.
    check_completion(
        "- name: small\n  settings:\n    training.o$0",
        expect![[r#"optimizer -> "optimizer: "  (adam (base))"#]],
    );
    // Keys already set in that mapping are not offered again.
    check_completion(
        "- name: small\n  settings:\n    model:\n      type: cnn\n      $0",
        expect![[r#"embedding_dim -> "embedding_dim: "  (512 (base))"#]],
    );
}

#[test]
fn completion_of_trial_keys_sweep_keys_and_values() {
    check_completion("- name: small\n  rep$0", expect![[r#"repeat -> "repeat: "  (an integer)"#]]);
    check_completion(
        "- name: s\n  sweep:\n    training.l$0",
        expect![[r#"training.lr -> "training.lr: [0.001]"  (0.001 (base))"#]],
    );
    // A callback type inside a trial's pipeline override: the base value, then the schema's choices.
    check_completion(
        "- name: s\n  settings:\n    pipeline:\n      callbacks:\n        - {type: $0",
        expect![[r#"
            early_stopping  (base value)
            EarlyStopping
            checkpoint
            CheckpointCallback
            metrics_csv
            MetricsTracker
            hook"#]],
    );
}

#[test]
fn completion_inside_a_search() {
    // The block's own keys, from the schema.
    check_completion(
        "- name: tune\n  search:\n    metric: val_loss\n    pr$0",
        expect![[r#"prune -> "prune: "  (a mapping)"#]],
    );
    // The space: base.yaml's keys, each with a distribution around its value.
    check_completion(
        "- name: tune\n  search:\n    metric: val_loss\n    space:\n      training.$0",
        expect![[r#"
            training.epochs -> "training.epochs: {int: [50, 200]}"  (100 (base))
            training.lr -> "training.lr: {loguniform: [1.0e-4, 1.0e-2]}"  (0.001 (base))
            training.optimizer -> "training.optimizer: {choice: [adam]}"  (adam (base))"#]],
    );
    // A distribution's kinds.
    check_completion(
        "- name: tune\n  search:\n    metric: val_loss\n    space:\n      training.lr: {log$0",
        expect![[r#"
            loguniform -> "loguniform: "  (a list)
            logint -> "logint: "  (a list)"#]],
    );
}

#[test]
fn hover_on_an_override_shows_the_base_value_it_replaces() {
    check_hover(
        "- name: small_model\n  settings:\n    model: {embedding_d$0im: 256}\n",
        expect!["**model.embedding_dim**: `512` (base.yaml:2) → `256` in small_model"],
    );
}

#[test]
fn definition_goes_from_an_override_to_its_base_key() {
    check_definition("- name: a\n  settings:\n    training:\n      l$0r: 0.1\n", expect!["base.yaml:5:3"]);
    check_definition("- name: a\n  settings:\n    model.embedding_d$0im: 64\n", expect!["base.yaml:2:28"]);
    check_definition("- name: a\n  sweep:\n    training.epo$0chs: [1, 2]\n", expect!["base.yaml:4:3"]);
    check_definition("- name: a\n  settings:\n    note: \"${training.o$0ptimizer}\"\n", expect!["base.yaml:6:3"]);
    check_definition("- name: a\n  repe$0at: 2\n", expect!["(no definition)"]);
}

#[test]
fn completion_on_half_typed_lines() {
    // A key being typed in a trial, no colon yet: alone, with a trial
    // after it, and with keys of its own after it.
    check_completion("- name: small\n  re$0", expect![[r#"repeat -> "repeat: "  (an integer)"#]]);
    check_completion(
        "- name: small\n  re$0\n- name: other\n  repeat: 2\n",
        expect![[r#"repeat -> "repeat: "  (an integer)"#]],
    );
    check_completion(
        "- name: small\n  re$0\n  settings:\n    model: {embedding_dim: 256}\n",
        expect![[r#"repeat -> "repeat: "  (an integer)"#]],
    );
    // A key and its colon, nothing after it: the base value.
    check_completion("- name: small\n  settings:\n    training:\n      lr:$0\n", expect!["0.001  (base value)"]);
    // An unclosed flow mapping, at a value and at a key.
    check_completion("- name: small\n  settings:\n    training: {lr: $0\n", expect!["0.001  (base value)"]);
    check_completion(
        "- name: small\n  settings:\n    training: {lr: 0.1, opt$0\n",
        expect![[r#"optimizer -> "optimizer: "  (adam (base))"#]],
    );
    // A list item with nothing after its dash: a new trial's keys (the
    // trial before it has its own).
    check_completion(
        "- $0\n",
        expect![[r#"
            name -> "name: "  (a string)
            repeat -> "repeat: "  (an integer)
            settings -> "settings: "  (a mapping)
            sweep -> "sweep: "  (a mapping)
            search -> "search: "  (a mapping)
            desc -> "desc: "  (a string)
            tags -> "tags: "  (a mapping)"#]],
    );
    check_completion(
        "- name: a\n  repeat: 2\n- $0\n",
        expect![[r#"
            name -> "name: "  (a string)
            repeat -> "repeat: "  (an integer)
            settings -> "settings: "  (a mapping)
            sweep -> "sweep: "  (a mapping)
            search -> "search: "  (a mapping)
            desc -> "desc: "  (a string)
            tags -> "tags: "  (a mapping)"#]],
    );
    // A key of the second trial is not hidden by the first trial's.
    check_completion(
        "- name: a\n  repeat: 2\n- name: b\n  rep$0\n",
        expect![[r#"repeat -> "repeat: "  (an integer)"#]],
    );
}

/// `file line:col-col` of each place, sorted (0-based, as LSP counts).
fn places(snap: &Snapshot, locations: &[tower_lsp_server::ls_types::Location]) -> String {
    let _ = snap;
    let mut shown: Vec<String> = locations
        .iter()
        .map(|l| {
            let file = l.uri.path().as_str().rsplit('/').next().unwrap_or_default().to_string();
            format!("{file} {}:{}-{}", l.range.start.line, l.range.start.character, l.range.end.character)
        })
        .collect();
    shown.sort();
    shown.join("\n")
}

const NAV_TRIALS: &str = "\
- name: small
  settings:
    model: {embedding_dim: 128}
- name: dotted
  settings:
    model.embedding_dim: 64
    data: \"trial:small/model.bin\"
    note: \"${model.embedding_dim}\"
- name: grid
  sweep:
    model.embedding_dim: [32, 64]
    training.lr: [0.1, 0.01]
";

#[test]
fn references_of_a_key_cover_settings_dotted_keys_sweeps_and_interpolations() {
    let marked = NAV_TRIALS.replacen("model.embedding_dim: 64", "model.embedding_d$0im: 64", 1);
    let (snap, _, offset) = project(&marked);
    let path = Path::new(DIR).join("trials.yaml");
    let found = crate::navigate::references(&snap, &path, offset, true).unwrap();
    expect![[r#"
        base.yaml 1:27-40
        trials.yaml 10:10-23
        trials.yaml 2:12-25
        trials.yaml 5:10-23
        trials.yaml 7:19-32"#]]
    .assert_eq(&places(&snap, &found));
    let without = crate::navigate::references(&snap, &path, offset, false).unwrap();
    assert_eq!(without.len(), 4);
}

#[test]
fn rename_edits_every_place_and_refuses_collisions() {
    let marked = NAV_TRIALS.replacen("model.embedding_dim: 64", "model.embedding_d$0im: 64", 1);
    let (snap, _, offset) = project(&marked);
    let path = Path::new(DIR).join("trials.yaml");
    let (range, placeholder) = crate::navigate::prepare_rename(&snap, &path, offset).unwrap();
    assert_eq!((range.start.line, range.start.character, range.end.character), (5, 10, 23));
    assert_eq!(placeholder, "embedding_dim");
    let edit = crate::navigate::rename(&snap, &path, offset, "width").unwrap();
    let mut edits: Vec<String> = edit
        .changes
        .unwrap()
        .iter()
        .flat_map(|(uri, edits)| {
            let file = uri.path().as_str().rsplit('/').next().unwrap_or_default().to_string();
            edits.iter().map(move |e| {
                format!(
                    "{file} {}:{}-{} {}",
                    e.range.start.line, e.range.start.character, e.range.end.character, e.new_text
                )
            })
        })
        .collect();
    edits.sort();
    expect![[r#"
        base.yaml 1:27-40 width
        trials.yaml 10:10-23 width
        trials.yaml 2:12-25 width
        trials.yaml 5:10-23 width
        trials.yaml 7:19-32 width"#]]
    .assert_eq(&edits.join("\n"));
    assert!(crate::navigate::rename(&snap, &path, offset, "type").unwrap_err().contains("already exists"));
    assert!(crate::navigate::rename(&snap, &path, offset, "a.b").unwrap_err().contains("cannot be a key name"));
    // A trial, with its `trial:` reference; not onto another trial's name.
    let (snap, _, offset) = project(&NAV_TRIALS.replacen("name: small", "name: sm$0all", 1));
    let edit = crate::navigate::rename(&snap, &path, offset, "tiny").unwrap();
    let mut edits: Vec<(u32, u32, u32)> = edit
        .changes
        .unwrap()
        .values()
        .flatten()
        .map(|e| (e.range.start.line, e.range.start.character, e.range.end.character))
        .collect();
    edits.sort();
    assert_eq!(edits, [(0, 8, 13), (6, 17, 22)]);
    assert!(crate::navigate::rename(&snap, &path, offset, "dotted").unwrap_err().contains("a trial named `dotted`"));
}

#[test]
fn inlay_hints_show_the_replaced_value_and_who_overrides() {
    let (snap, _, _) = project(&format!("$0{NAV_TRIALS}"));
    let show = |file: &str| {
        let hints = crate::navigate::inlay_hints(&snap, &Path::new(DIR).join(file));
        let mut shown: Vec<String> = hints
            .iter()
            .map(|h| match &h.label {
                tower_lsp_server::ls_types::InlayHintLabel::String(s) => {
                    format!("{}:{} {s}", h.position.line, h.position.character)
                }
                other => format!("{other:?}"),
            })
            .collect();
        shown.sort();
        shown.join("\n")
    };
    expect![[r#"
        10:33 ← 512 (base.yaml)
        11:28 ← 0.001 (base.yaml)
        2:30 ← 512 (base.yaml)
        5:27 ← 512 (base.yaml)"#]]
    .assert_eq(&show("trials.yaml"));
    expect![[r#"
        1:45 overridden by 3 trials
        4:11 overridden by 1 trial"#]]
    .assert_eq(&show("base.yaml"));
}

#[test]
fn workspace_symbols_match_trials_and_sweep_children_by_subsequence() {
    let (snap, _, _) = project(&format!("$0{NAV_TRIALS}"));
    let names = |query: &str| {
        let found = crate::navigate::workspace_symbols(&[&snap], query);
        found.iter().map(|s| s.name.clone()).collect::<Vec<_>>().join("\n")
    };
    expect![[r#"
        grid
        grid[model.embedding_dim=32,training.lr=0.1]
        grid[model.embedding_dim=32,training.lr=0.01]
        grid[model.embedding_dim=64,training.lr=0.1]
        grid[model.embedding_dim=64,training.lr=0.01]"#]]
    .assert_eq(&names("grd"));
    assert_eq!(names("SMA"), "small");
}
