//! `expman validate`, `preview`, `schema` and `init` as a user runs them:
//! the real binary, real files, exit codes and output.

use std::process::{Command, Output};

use crate::support::{TempDir, bin, fixtures, repo_root};

fn expman(args: &[&str]) -> Output {
    Command::new(bin("expman")).args(args).current_dir(repo_root()).env("NO_COLOR", "1").output().expect("run expman")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_quickstart_summarises() {
    let out = expman(&["validate", "examples/quickstart"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "ok: experiment `quickstart`: 4 trials, 10 runs to launch and 1 search\n  trial `tune`: TPE search for min val_loss: up to 12 runs over training.lr, model.l2, training.batch_size, pruned by ASHA"
    );
}

#[test]
fn validate_broken_exits_1_with_caret_diagnostics() {
    let dir = fixtures().join("broken/wrong_types");
    let out = expman(&["validate", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error[wrong-type]: expected an integer for `trials[0].repeat`, found a string (`three`)"),
        "{err}"
    );
    assert!(err.contains("2 |   repeat: three\n  |           ^^^^^"), "{err}");
}

#[test]
fn validate_json_is_machine_readable() {
    let dir = fixtures().join("broken/duplicate_trial");
    let out = expman(&["validate", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["valid"], false);
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "duplicate-trial");
    assert_eq!(d["location"]["line"], 4);
    assert_eq!(d["location"]["column"], 9);
    assert_eq!(d["location"]["end_column"], 17);
    assert_eq!(d["related"][0]["location"]["line"], 1);
}

#[test]
fn preview_one_run_masks_secrets() {
    let tmp = TempDir::new("preview");
    std::fs::write(
        tmp.path().join("base.yaml"),
        "seed: 1\ndb: {password: hunter2, user: me}\npipeline: {command: [true]}\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("trials.yaml"), "- {name: small_model, repeat: 3}\n").unwrap();
    let out = expman(&["preview", tmp.path().to_str().unwrap(), "--trial", "small_model", "--repeat", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("# trial: small_model, repeat 2/3, seed 2, config "), "{shown}");
    assert!(shown.contains("password: \"********\""), "{shown}");
    assert!(!shown.contains("hunter2"));
    let out = expman(&["preview", tmp.path().to_str().unwrap(), "--trial", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no trial named `nope` (trials: small_model)"));
}

#[test]
fn preview_quickstart_trial_and_repeat() {
    let out =
        expman(&["preview", "examples/quickstart", "--trial", "small_model", "--repeat", "2", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["trial"], "small_model");
    assert_eq!(runs[0]["repeat"], 2);
    assert_eq!(runs[0]["config"]["model"]["features"], 4);
    assert_eq!(runs[0]["config"]["training"]["lr"], 0.05);
    assert_eq!(runs[0]["config"]["training"]["epochs"], 40);
    assert_eq!(runs[0]["config"]["seed"], 43);
}

#[test]
fn schema_prints_draft_2020_12() {
    let out = expman(&["schema", "trials"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let tmp = TempDir::new("schema-out");
    let out = expman(&["schema", "--out", tmp.path().to_str().unwrap()]);
    assert!(out.status.success());
    assert!(tmp.path().join("env.schema.json").exists());
}

#[test]
fn init_writes_a_valid_config_and_refuses_to_overwrite() {
    let tmp = TempDir::new("init");
    let dir = tmp.path().join("new_exp");
    let out = expman(&["init", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = expman(&["validate", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("experiment `new_exp`"));
    let again = expman(&["init", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("--force"));
}

#[test]
fn every_subcommand_has_help_with_examples() {
    /// The subcommand names listed under `Commands:` in a help text.
    fn listed(help: &str) -> Vec<String> {
        help.lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            // Not the continuation lines of a wrapped description.
            .filter(|l| !l[2..].starts_with(' '))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_string)
            .collect()
    }
    let top = listed(&text(&expman(&["--help"]).stdout));
    assert!(top.len() > 15, "{top:?}");
    let mut checked = 0;
    for sub in &top {
        let out = expman(&[sub, "--help"]);
        assert!(out.status.success(), "{sub}");
        let help = text(&out.stdout);
        assert!(help.contains("Examples:"), "`expman {sub} --help` has no examples");
        for nested in listed(&help) {
            let out = expman(&[sub, &nested, "--help"]);
            assert!(text(&out.stdout).contains("Examples:"), "`expman {sub} {nested} --help` has no examples");
            checked += 1;
        }
        checked += 1;
    }
    assert!(checked > top.len(), "nested subcommands (kernel, db) were checked too");
}

#[test]
fn validate_names_the_line_column_and_byte_of_text_that_is_not_utf8() {
    let tmp = TempDir::new("latin1");
    std::fs::write(tmp.path().join("base.yaml"), "pipeline: {command: [true]}\n").unwrap();
    std::fs::write(tmp.path().join("trials.yaml"), b"- name: a\n  settings:\n    +note: caf\xe9 latte\n").unwrap();
    let out = expman(&["validate", tmp.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "io", "{json}");
    assert_eq!(d["message"], "not UTF-8 text: byte 0xE9");
    assert_eq!((d["location"]["line"].as_i64(), d["location"]["column"].as_i64()), (Some(3), Some(15)));
    assert!(d["hint"].as_str().unwrap().contains("save the file as UTF-8"), "{d}");
    let shown = text(&expman(&["validate", tmp.path().to_str().unwrap()]).stderr);
    assert!(!shown.contains("check that the path exists"), "{shown}");
}
