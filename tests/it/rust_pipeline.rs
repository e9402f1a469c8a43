//! A Rust pipeline registered by type: it reports through the same event
//! protocol and gets the same statuses as a process.

use std::path::Path;

use expman_core::RunStatus;
use expman_core::pipeline::{FnPipeline, PipelineRegistry};
use expman_core::runner::{self, RunnerOptions, Silent};
use expman_core::workspace::Workspace;
use expman_schema::{ExpandOptions, FsLoader, check};
use expman_tests::TempDir;

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
                return Err(format!("learning rate {lr} is negative"));
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
    let report =
        runner::run(&workspace, &analysis.project, &expansion.runs, &registry, &RunnerOptions::default(), &mut Silent)
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
