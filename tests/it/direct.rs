//! Runs started from code (`expman_runner::direct`, what the Python
//! package's `start_experiment` drives): what they record, children,
//! durable event files, continuing a run, and the launched-run mode.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use expman_runner::direct::attached::AttachedRun;
use expman_runner::direct::{DirectRun, PARENT_TAG, RunLog, StartOptions};
use expman_runner::ingest::EVENTS_FILE;
use expman_runner::protocol::{Event, parse_line};
use expman_store::{RunStatus, Store};

use crate::support::TempDir;

fn options(dir: &Path, trial: &str) -> StartOptions {
    let mut o = StartOptions::new(trial, dir);
    o.workspace = Some(dir.join("ws"));
    o.experiment = Some("exp".into());
    o.flush_interval = Duration::from_millis(20);
    o
}

fn store(dir: &Path) -> Store {
    Store::open(&dir.join("ws").join("expman.db")).expect("open the record")
}

#[test]
fn a_run_records_metrics_params_tags_artifacts_and_a_child() {
    let tmp = TempDir::new("direct-basic");
    std::fs::write(tmp.path().join("model.bin"), b"weights").unwrap();
    let run = DirectRun::start(&options(tmp.path(), "train")).unwrap();
    assert_eq!(run.identity().repeat, 0);
    for i in 0..5 {
        run.log_metric("loss", 1.0 / f64::from(i + 1), None, None, None).unwrap();
    }
    run.epoch_start(2).unwrap();
    run.log_metrics(&[("acc", 0.5), ("f1", 0.25)], Some(7), None, None).unwrap();
    run.log_params(&[("lr".into(), serde_json::json!(0.01)), ("layers".into(), serde_json::json!([64, 32]))]).unwrap();
    run.set_tags(&[("stage".into(), "dev".into())]).unwrap();
    let recorded = run.log_artifact(&tmp.path().join("model.bin"), "model").unwrap();
    assert_eq!(recorded, ["artifacts/model.bin"]);
    let mut child_options = options(tmp.path(), "fold-1");
    child_options.experiment = None;
    let child = run.child(&child_options).unwrap();
    child.log_metric("loss", 0.5, None, None, None).unwrap();
    child.finish(RunStatus::Failed, Some("ValueError: bad fold")).unwrap();
    run.finish(RunStatus::Success, None).unwrap();
    assert!(run.log_metric("loss", 0.1, None, None, None).unwrap_err().to_string().contains("has ended"));

    let store = store(tmp.path());
    let runs = store.list_runs(Some("exp")).unwrap();
    assert_eq!(runs.len(), 2);
    let parent = runs.iter().find(|r| r.trial == "train").unwrap();
    let kid = runs.iter().find(|r| r.trial == "fold-1").unwrap();
    assert_eq!(parent.status, RunStatus::Success);
    assert_eq!(kid.status, RunStatus::Failed);
    assert_eq!(kid.error.as_deref(), Some("ValueError: bad fold"));
    let tags: HashMap<String, String> = store.run_tags(kid.id).unwrap().into_iter().collect();
    assert_eq!(tags.get(PARENT_TAG), Some(&parent.uid));
    let loss = store.metric_series(parent.id, "loss").unwrap();
    assert_eq!(loss.steps, [0, 1, 2, 3, 4]);
    let acc = store.metric_series(parent.id, "acc").unwrap();
    assert_eq!((acc.steps.clone(), acc.epochs.clone()), (vec![7], vec![Some(2)]));
    let params: HashMap<String, String> =
        store.run_params(parent.id).unwrap().into_iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
    assert_eq!(params["lr"], "Float(0.01)");
    assert_eq!(params["layers"], "Json(\"[64,32]\")");
    let artifacts = store.run_artifacts(parent.id).unwrap();
    assert_eq!(artifacts[0].path, "artifacts/model.bin");
    assert_eq!(artifacts[0].size, Some(7));
    let run_dir = Path::new(parent.run_dir.as_deref().unwrap());
    assert_eq!(std::fs::read(run_dir.join("artifacts/model.bin")).unwrap(), b"weights");
    // The runner row of this process ended with its last run.
    assert_eq!(store.active_runs().unwrap().len(), 0);
}

#[test]
fn bad_values_are_refused_and_never_recorded() {
    let tmp = TempDir::new("direct-bad");
    let run = DirectRun::start(&options(tmp.path(), "t")).unwrap();
    let nan = run.log_metric("loss", f64::NAN, None, None, None).unwrap_err();
    assert!(nan.is_bad_value());
    assert_eq!(nan.to_string(), "metric `loss`: NaN is not a finite number (NaN and infinities are not recorded)");
    let many = run.log_metrics(&[("ok", 1.0), ("inf", f64::INFINITY)], None, None, None).unwrap_err();
    assert!(many.to_string().starts_with("metric `inf`"), "{many}");
    let huge = run.set_tags(&[("notes".into(), "x".repeat(70_000))]).unwrap_err();
    assert!(huge.to_string().contains("tag `notes`"), "{huge}");
    assert!(run.log_metric("", 1.0, None, None, None).unwrap_err().is_bad_value());
    run.log_metric("loss", 0.5, None, None, None).unwrap();
    run.finish(RunStatus::Success, None).unwrap();
    let store = store(tmp.path());
    let id = store.list_runs(None).unwrap()[0].id;
    assert_eq!(store.metric_count(id).unwrap(), 1, "only the good point, and of `log_metrics` nothing");
    assert!(store.run_tags(id).unwrap().is_empty());
}

#[test]
fn a_durable_run_writes_every_call_and_records_each_once() {
    let tmp = TempDir::new("direct-durable");
    let mut o = options(tmp.path(), "t");
    o.durable = true;
    let run = DirectRun::start(&o).unwrap();
    for i in 0..1000 {
        run.log_metric("x", f64::from(i), None, None, None).unwrap();
        if i == 500 {
            std::thread::sleep(Duration::from_millis(60)); // a commit in the middle
        }
    }
    run.set_tags(&[("k".into(), "v".into())]).unwrap();
    let run_dir = run.identity().run_dir.clone();
    run.finish(RunStatus::Success, None).unwrap();
    let text = std::fs::read_to_string(run_dir.join(EVENTS_FILE)).unwrap();
    assert_eq!(text.lines().count(), 1001);
    // The lines parse as the protocol (what recovery would ingest).
    assert!(matches!(parse_line(text.lines().next().unwrap().as_bytes()).unwrap(), Event::Metrics { .. }));
    let store = store(tmp.path());
    let id = store.list_runs(None).unwrap()[0].id;
    assert_eq!(store.metric_count(id).unwrap(), 1000);
    assert_eq!(store.events_position(id).unwrap().0, text.len() as u64, "the record has read the whole file");
}

#[test]
fn a_run_continued_by_its_id_keeps_its_steps_and_a_running_one_is_refused() {
    let tmp = TempDir::new("direct-continue");
    let first = DirectRun::start(&options(tmp.path(), "t")).unwrap();
    let uid = first.identity().uid.clone();
    for _ in 0..3 {
        first.log_metric("loss", 1.0, None, None, None).unwrap();
    }
    let mut again = options(tmp.path(), "t");
    again.uid = Some(uid.clone());
    let refused = DirectRun::start(&again).err().expect("a running run cannot be continued");
    assert!(refused.to_string().contains("still going on"), "{refused}");
    first.finish(RunStatus::Killed, Some("preempted")).unwrap();
    drop(first);

    let second = DirectRun::start(&again).unwrap();
    assert_eq!(second.identity().uid, uid);
    second.log_metric("loss", 0.5, None, None, None).unwrap();
    second.log_metric("loss", 0.4, None, None, None).unwrap();
    second.finish(RunStatus::Success, None).unwrap();
    let store = store(tmp.path());
    let runs = store.list_runs(None).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Success);
    assert_eq!(runs[0].error, None);
    assert_eq!(store.metric_series(runs[0].id, "loss").unwrap().steps, [0, 1, 2, 3, 4]);
    let mut unknown = options(tmp.path(), "t");
    unknown.uid = Some("nosuchrun000".into());
    assert_eq!(DirectRun::start(&unknown).err().unwrap().to_string(), "no run `nosuchrun000` in this workspace");
}

#[test]
fn repeats_count_up_per_trial() {
    let tmp = TempDir::new("direct-repeats");
    for expected in 0..3 {
        let run = DirectRun::start(&options(tmp.path(), "t")).unwrap();
        assert_eq!(run.identity().repeat, expected);
        run.finish(RunStatus::Success, None).unwrap();
    }
    let other = DirectRun::start(&options(tmp.path(), "u")).unwrap();
    assert_eq!(other.identity().repeat, 0);
}

#[test]
fn inside_a_launched_run_calls_become_event_lines() {
    let tmp = TempDir::new("direct-attached");
    let events = tmp.path().join(EVENTS_FILE);
    std::fs::write(tmp.path().join("m.bin"), b"m").unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        ("EXPMAN_EVENTS", events.display().to_string()),
        ("EXPMAN_RUN_DIR", tmp.path().display().to_string()),
        ("EXPMAN_RUN_ID", "abc123".into()),
        ("EXPMAN_TRIAL", "t".into()),
        ("EXPMAN_REPEAT", "2".into()),
    ]);
    let run = AttachedRun::from_env(|k| env.get(k).cloned(), false).expect("launched").unwrap();
    assert!(run.identity().attached && run.identity().repeat == 2);
    run.epoch_start(1).unwrap();
    run.log_metric("loss", 0.5, None, None, None).unwrap();
    run.log_params(&[("lr".into(), serde_json::json!(0.1))]).unwrap();
    run.log_artifact(&tmp.path().join("m.bin"), "model").unwrap();
    assert!(run.log_metric("loss", f64::NAN, None, None, None).is_err());
    run.finish(RunStatus::Failed, Some("oops")).unwrap();
    let lines: Vec<Event> =
        std::fs::read_to_string(&events).unwrap().lines().map(|l| parse_line(l.as_bytes()).unwrap()).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(matches!(&lines[1], Event::Metrics { values, .. } if values[0].0 == "loss"));
    assert!(matches!(&lines[3], Event::Artifact { path, .. } if path == "m.bin"), "inside the run dir: kept in place");
    assert!(matches!(&lines[4], Event::Note(text) if text == "the code reported FAILED: oops"));
    assert!(AttachedRun::from_env(|_| None, false).is_none());
}
