//! A Rust pipeline registered by type: it reports through the same event
//! protocol and gets the same statuses as a process.

use std::path::Path;

use crate::support::TempDir;
use expman_runner::pipeline::{FnPipeline, PipelineRegistry};
use expman_runner::workspace::Workspace;
use expman_runner::{RunnerOptions, Silent};
use expman_schema::{ExpandOptions, FsLoader, check};
use expman_store::RunStatus;

#[test]
fn rust_pipelines_report_like_processes() {
    let tmp = TempDir::new("rust-pipeline");
    let dir = tmp.path();
    std::fs::write(dir.join("env.yaml"), "workspace: out\n").unwrap();
    std::fs::write(dir.join("base.yaml"), "seed: 1\nlr: 0.5\nepochs: 4\npipeline: {type: rust_sgd}\n").unwrap();
    std::fs::write(
        dir.join("trials.yaml"),
        "- name: good\n  repeat: 2\n- name: bad\n  settings: {lr: -1}\n- name: panics\n  settings: {lr: 99}\n",
    )
    .unwrap();
    let (analysis, expansion) = check(&FsLoader, dir, &[], ExpandOptions::default());
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);

    let mut registry = PipelineRegistry::with_builtins();
    registry.register(
        "rust_sgd",
        FnPipeline::new(|ctx| {
            let lr = ctx.config.get("lr").and_then(|n| n.as_f64()).unwrap_or(0.1);
            if lr < 0.0 {
                return Err(format!("learning rate {lr} is negative").into());
            }
            assert!(lr < 10.0, "diverged");
            let epochs = ctx.config.get("epochs").and_then(|n| n.as_i64()).unwrap_or(1);
            let mut loss = 1.0;
            for epoch in 0..epochs {
                let _scope = ctx.epoch(epoch);
                loss *= 1.0 - lr / 2.0;
                ctx.log_metrics(&[("loss", loss), ("seed", ctx.seed as f64)], Some(epoch));
                if ctx.should_stop() {
                    break;
                }
            }
            ctx.set_tag("impl", "rust");
            Ok(())
        }),
    );
    let workspace = Workspace::for_project(&analysis.project).unwrap();
    let report = expman_runner::run(
        &workspace,
        &analysis.project,
        &expansion.runs,
        &registry,
        &RunnerOptions::default(),
        &mut Silent,
    )
    .unwrap();
    let status_of =
        |trial: &str| report.runs.iter().filter(|(r, _)| r.trial == trial).map(|(_, s)| *s).collect::<Vec<_>>();
    assert_eq!(status_of("good"), [RunStatus::Success, RunStatus::Success]);
    assert_eq!(status_of("bad"), [RunStatus::Failed]);
    assert_eq!(status_of("panics"), [RunStatus::Failed]);

    let store = workspace.open_store().unwrap();
    let rows = store.list_runs(None).unwrap();
    let bad = rows.iter().find(|r| r.trial == "bad").unwrap();
    assert!(bad.error.as_deref().unwrap().starts_with("learning rate -1 is negative"), "{:?}", bad.error);
    let panics = rows.iter().find(|r| r.trial == "panics").unwrap();
    assert!(panics.error.as_deref().unwrap().contains("panicked: diverged"), "{:?}", panics.error);
    for good in rows.iter().filter(|r| r.trial == "good") {
        let series = store.metric_series(good.id, "loss").unwrap();
        assert_eq!(series.steps, [0, 1, 2, 3]);
        assert_eq!(series.epochs, [Some(0), Some(1), Some(2), Some(3)]);
        assert!((series.values[3] - 0.75f64.powi(4)).abs() < 1e-12);
        let seed = store.metric_series(good.id, "seed").unwrap().values[0];
        assert_eq!(seed as i64, good.seed.unwrap());
        assert!(Path::new(good.run_dir.as_deref().unwrap()).join("events.jsonl").exists());
    }
}

/// A callback type a Rust user adds: it sees the same events as the
/// built-ins (here: counts epochs, and stops the run at epoch 2).
#[test]
fn a_callback_added_in_rust_acts_on_the_event_stream() {
    use expman_runner::callbacks::{Action, Callback, CallbackRun};
    use std::sync::{Arc, Mutex};

    struct StopAtTwo {
        epochs: Arc<Mutex<Vec<i64>>>,
    }
    impl Callback for StopAtTwo {
        fn on_epoch_end(
            &mut self,
            _run: &CallbackRun,
            epoch: i64,
            metrics: &[(String, f64)],
            actions: &mut Vec<Action>,
        ) {
            assert!(metrics.iter().any(|(k, _)| k == "loss"), "the epoch's metrics come along: {metrics:?}");
            self.epochs.lock().unwrap().push(epoch);
            if epoch == 2 {
                actions.push(Action::Stop {
                    status: RunStatus::EarlyStopped,
                    message: "epoch 2 is enough".into(),
                    tags: vec![("stopped_by".into(), "stop_at_two".into())],
                });
            }
        }
        fn on_end(&mut self, _run: &CallbackRun, status: RunStatus, actions: &mut Vec<Action>) {
            actions.push(Action::Event { kind: "stop_at_two".into(), detail: format!("ended {}", status.as_str()) });
        }
    }

    let tmp = TempDir::new("rust-callback");
    let dir = tmp.path();
    std::fs::write(dir.join("env.yaml"), "workspace: out\n").unwrap();
    std::fs::write(
        dir.join("base.yaml"),
        "epochs: 50\npipeline: {type: slow, grace_period: 5s, callbacks: [{type: stop_at_two}]}\n",
    )
    .unwrap();
    std::fs::write(dir.join("trials.yaml"), "- name: t\n").unwrap();
    let (analysis, expansion) = check(&FsLoader, dir, &[], ExpandOptions::default());
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let mut registry = PipelineRegistry::with_builtins();
    registry.register(
        "slow",
        FnPipeline::new(|ctx| {
            for epoch in 0..50 {
                let _scope = ctx.epoch(epoch);
                ctx.log_metrics(&[("loss", 1.0 / (1.0 + epoch as f64))], Some(epoch));
                std::thread::sleep(std::time::Duration::from_millis(30));
                if ctx.should_stop() {
                    break;
                }
            }
            Ok(())
        }),
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut options = RunnerOptions::default();
    let epochs = seen.clone();
    options.callbacks.register("stop_at_two", move |_| Ok(Box::new(StopAtTwo { epochs: epochs.clone() })));
    let workspace = Workspace::for_project(&analysis.project).unwrap();
    let report =
        expman_runner::run(&workspace, &analysis.project, &expansion.runs, &registry, &options, &mut Silent).unwrap();
    assert_eq!(report.runs[0].1, RunStatus::EarlyStopped);
    let seen = seen.lock().unwrap().clone();
    assert!(seen.starts_with(&[0, 1, 2]) && seen.len() < 50, "{seen:?}");
    let store = workspace.open_store().unwrap();
    let run = store.list_runs(None).unwrap().remove(0);
    assert_eq!(store.count_events(run.id, "stop_at_two").unwrap(), 1);
    assert!(run.error.as_deref().unwrap_or_default().contains("epoch 2 is enough"), "{:?}", run.error);
}
