//! The store's test suite, run against both back ends.
//!
//! Every scenario writes through the store's API, as the runner does, and
//! reads back what it wrote through the store's reads and the query
//! frames, on each back end:
//!
//! - `store::sqlite::*`: the workspace's SQLite file, read through a
//!   second connection (as another process reads it);
//! - `store::mariadb::*`: the team database on a real MariaDB server
//!   (`EXPMAN_TEST_MARIADB`, a database of the test's own). What was
//!   written is sent to the server, and every read is made in a workspace
//!   that has never seen the local record: its replica is filled from
//!   the server alone. So each assertion holds for what MariaDB stores
//!   and gives back, not for the local file.
//!
//! A scenario reads several times while it writes (a run that goes on, a
//! run changed after it ended), so what is sent again, and what is not
//! sent twice, is checked as well as what is sent once. After every read
//! the frames are compared with the local record's, row for row.

use crate::support::TempDir;
use expman_os::hardware::{GpuSample, MachineSample, RunSample, Sample};
use expman_query::Frames;
use expman_store::{
    Artifact, Capture, IngestBatch, MetricPoint, NewRun, ParamValue, ResourceSummary, RunFinish, RunRef, RunStatus,
    Started, Store,
};
use expman_team as team;
use expman_team::copy;
use expman_team::mysql::{MysqlDb, MysqlTarget, as_text};
use polars::prelude::DataFrame;

/// Where a scenario's record is read back from.
enum Back {
    Sqlite,
    Mariadb(Box<MysqlDb>),
}

/// A scenario's record: written locally, read through one back end.
struct Record {
    tmp: TempDir,
    /// The record the runner writes.
    local: Store,
    back: Back,
}

impl Record {
    fn sqlite(name: &str) -> Record {
        let tmp = TempDir::new(&format!("store-{name}"));
        let local = Store::open(&tmp.path().join("expman.db")).unwrap();
        Record { tmp, local, back: Back::Sqlite }
    }

    /// `None` (skipped) outside CI when no server is set.
    fn mariadb(name: &str) -> Option<Record> {
        let server = crate::mariadb::server()?;
        let database: String = format!("store_{name}").chars().take(50).collect();
        let url = crate::mariadb::fresh_database(&server, &database);
        let mut db =
            MysqlDb::connect(&MysqlTarget::from_env(&url).unwrap(), std::time::Duration::from_secs(30)).unwrap();
        db.migrate().unwrap();
        let mut record = Record::sqlite(name);
        record.back = Back::Mariadb(Box::new(db));
        Some(record)
    }

    fn is_mariadb(&self) -> bool {
        matches!(self.back, Back::Mariadb(_))
    }

    /// The record as a reader sees it now.
    fn read(&mut self) -> Store {
        match &mut self.back {
            Back::Sqlite => Store::open(self.local.path()).unwrap(),
            Back::Mariadb(server) => {
                team::push(&mut self.local, server, None).unwrap();
                let mut replica = Store::open(&team::replica_path(&self.tmp.path().join("elsewhere"))).unwrap();
                copy::replicate(server.as_mut(), &mut replica, None, &mut |_| {}).unwrap();
                replica
            }
        }
    }

    /// Reads, and checks that every frame equals the local record's.
    fn read_checked(&mut self) -> Store {
        let reader = self.read();
        frames_agree(&self.local, &reader, self.is_mariadb());
        reader
    }
}

/// Builds one frame of a record.
type FrameOf = fn(&Frames<'_>) -> DataFrame;

/// How a run ended: status, exit code, signal, message.
type End<'a> = (RunStatus, Option<i32>, Option<i32>, Option<&'a str>);

/// Every frame of `reader` equals the same frame of `local`, row for row.
/// (Machine-wide hardware samples stay on their machine: the team
/// database holds the runs' own.)
fn frames_agree(local: &Store, reader: &Store, team: bool) {
    let (a, b) = (Frames::new(local), Frames::new(reader));
    let pairs: [(&str, FrameOf); 7] = [
        ("runs", |f| f.runs().unwrap()),
        ("metrics", |f| f.metrics(&[], &[]).unwrap()),
        ("params", |f| f.params().unwrap()),
        ("tags", |f| f.tags().unwrap()),
        ("trials", |f| f.trials().unwrap()),
        ("experiments", |f| f.experiments().unwrap()),
        ("artifacts", |f| f.artifacts().unwrap()),
    ];
    for (name, frame) in pairs {
        let (want, got) = (frame(&a), frame(&b));
        assert!(want.equals_missing(&got), "the {name} frame differs:\nlocal record:\n{want}\nread back:\n{got}");
    }
    let hardware = |f: &Frames<'_>| {
        let frame = f.hardware().unwrap();
        if team { run_rows(frame) } else { frame }
    };
    let (want, got) = (hardware(&a), hardware(&b));
    assert!(want.equals_missing(&got), "the hardware frame differs:\nlocal record:\n{want}\nread back:\n{got}");
}

/// The rows of a hardware frame that belong to a run.
fn run_rows(frame: DataFrame) -> DataFrame {
    let mask = frame.column("run").unwrap().is_not_null();
    frame.filter(&mask).unwrap()
}

/// Each scenario once per back end: `store::sqlite::NAME` and
/// `store::mariadb::NAME`.
macro_rules! on_both_back_ends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::Record::sqlite(stringify!($name))) })*
        }
        mod mariadb {
            $(#[test] fn $name() {
                if let Some(record) = super::Record::mariadb(stringify!($name)) { super::$name(record) }
            })*
        }
    };
}

on_both_back_ends!(
    experiments_and_trials_are_matched_by_name,
    a_run_is_read_while_it_goes_on_and_after_it_ends,
    every_way_a_run_ends,
    params_of_every_type_keep_their_values,
    metric_points_keep_every_value_and_none_twice,
    artifacts_tags_and_events_changed_after_the_run_ended,
    hardware_resources_and_capture,
    resume_finds_done_runs_and_counts_attempts,
);

// ---- helpers -------------------------------------------------------------

const EXPERIMENT: &str = "mnist";

/// An experiment with one trial; (experiment id, trial id, runner id).
fn experiment(store: &mut Store) -> (i64, i64, i64) {
    let e = store.ensure_experiment(EXPERIMENT, Some("digits"), "/configs/mnist").unwrap();
    let t = store.ensure_trial(e, "lr=0.1", "lr", Some("lr"), Some("a higher rate")).unwrap();
    let runner = store.register_runner("ws-1", 4100, Some(17), "ana", "expman run .").unwrap();
    (e, t, runner)
}

fn new_run(e: i64, t: i64, runner: i64, repeat: u32) -> NewRun {
    NewRun {
        experiment_id: e,
        trial_id: t,
        repeat,
        attempt: 0,
        config_json: format!(r#"{{"lr": 0.1, "repeat": {repeat}, "name": "ünïcode ✓"}}"#),
        config_hash: "c0ffee".into(),
        seed: 42 + i64::from(repeat),
        run_dir: format!("/work/out/mnist/lr=0.1/{repeat}"),
        runner_id: runner,
        params: vec![("lr".into(), ParamValue::Float(0.1)), ("layers".into(), ParamValue::Int(3))],
        tags: vec![("owner".into(), "ana".into())],
    }
}

fn start(store: &mut Store, run: &RunRef) {
    let started = Started {
        host: "node-7",
        pid: Some(4242),
        pid_started: Some(99),
        command: r#"["python", "train.py", "--lr", "0.1"]"#,
        git: Some(("5d41402abc4b2a76b9719d911017c592", true)),
        job: Some("991"),
    };
    store.mark_running(run.id, &started).unwrap();
}

fn point(key: &str, step: i64, value: f64) -> MetricPoint {
    MetricPoint { key: key.into(), step, epoch: Some(step / 10), value, timestamp: 1_700_000_000_000 + step }
}

/// Ingests `batch` of a running run at its committed offset (each batch
/// 100 bytes of the event file).
fn ingest(store: &mut Store, run: &RunRef, mut batch: IngestBatch) {
    let active = store.active_runs().unwrap();
    let offset = active.iter().find(|a| a.run.id == run.id).expect("the run goes on").events_offset;
    batch.run_id = run.id;
    batch.from_offset = offset;
    batch.offset = offset + 100;
    assert!(store.ingest(&batch).unwrap(), "the batch is claimed");
}

fn finish(store: &mut Store, run: &RunRef, status: RunStatus, exit_code: Option<i32>, error: Option<&str>) -> bool {
    let finish = RunFinish {
        status,
        exit_code,
        signal: None,
        error: error.map(str::to_string),
        ended_at: 1_700_000_999_000 + run.id,
    };
    store.finish_run(run.id, &finish).unwrap()
}

/// The reader's handle on a run the local record created.
fn same_run(reader: &Store, run: &RunRef) -> RunRef {
    let found = reader.resolve_run(&run.uid).unwrap();
    assert_eq!(found.uid, run.uid);
    found
}

// ---- scenarios -----------------------------------------------------------

fn experiments_and_trials_are_matched_by_name(mut r: Record) {
    let store = &mut r.local;
    let e = store.ensure_experiment(EXPERIMENT, Some("digits"), "/configs/mnist").unwrap();
    assert_eq!(store.ensure_experiment(EXPERIMENT, None, "/configs/mnist-2").unwrap(), e, "matched by name");
    let t = store.ensure_trial(e, "lr=0.1", "lr", Some("lr"), Some("a higher rate")).unwrap();
    assert_eq!(store.ensure_trial(e, "lr=0.1", "lr", None, None).unwrap(), t);
    let other = store.ensure_experiment("cifar", None, "/configs/cifar").unwrap();
    let t2 = store.ensure_trial(other, "lr=0.1", "lr", None, None).unwrap();
    assert_ne!(t, t2, "trial names are per experiment");
    let runner = store.register_runner("ws-1", 1, None, "ana", "expman run").unwrap();
    let a = store.create_run(&new_run(e, t, runner, 0), "aaaa1111").unwrap();
    store.create_run(&new_run(other, t2, runner, 0), "bbbb2222").unwrap();

    let reader = r.read_checked();
    let experiments = reader.experiment_rows().unwrap();
    let described: Vec<_> =
        experiments.iter().map(|x| (x.name.as_str(), x.description.as_deref(), x.config_dir.as_deref())).collect();
    assert_eq!(
        described,
        [("mnist", Some("digits"), Some("/configs/mnist-2")), ("cifar", None, Some("/configs/cifar"))],
        "the description is kept when a later run gives none; the config directory is the latest"
    );
    let (re, rt) = reader.find_trial(EXPERIMENT, "lr=0.1").unwrap().expect("the trial is there");
    assert!(reader.find_trial("cifar", "lr=0.1").unwrap().is_some());
    assert_eq!(reader.find_trial("cifar", "lr=0.2").unwrap(), None);
    let mnist = reader.list_runs(Some(EXPERIMENT)).unwrap();
    assert_eq!(mnist.len(), 1);
    assert_eq!(
        (mnist[0].uid.as_str(), mnist[0].trial.as_str(), mnist[0].trial_base.as_str()),
        ("aaaa1111", "lr=0.1", "lr")
    );
    assert_eq!(reader.list_runs(None).unwrap().len(), 2);
    assert_eq!(reader.run_identity(same_run(&reader, &a).id).unwrap(), ("lr=0.1".into(), 0, "c0ffee".into()));
    assert!(
        reader.experiment_runs(re).unwrap().iter().all(|(row, trial)| row.experiment == EXPERIMENT && *trial == rt)
    );
    let filtered = Frames::new(&reader).experiment(Some("cifar")).runs().unwrap();
    assert_eq!(filtered.height(), 1);
}

fn a_run_is_read_while_it_goes_on_and_after_it_ends(mut r: Record) {
    let (e, t, runner) = experiment(&mut r.local);
    let run = r.local.create_run(&new_run(e, t, runner, 0), "live0001").unwrap();

    let reader = r.read_checked();
    let row = &reader.list_runs(None).unwrap()[0];
    assert_eq!((row.status, row.started_at, row.seed), (RunStatus::Pending, None, Some(42)));
    drop(reader);

    start(&mut r.local, &run);
    let reader = r.read_checked();
    let detail = reader.run_detail(&same_run(&reader, &run)).unwrap();
    assert_eq!(detail.row.status, RunStatus::Running);
    assert_eq!(detail.row.host.as_deref(), Some("node-7"));
    assert_eq!(detail.command.as_deref(), Some(r#"["python", "train.py", "--lr", "0.1"]"#));
    assert_eq!(
        (detail.git_commit.as_deref(), detail.git_dirty),
        (Some("5d41402abc4b2a76b9719d911017c592"), Some(true))
    );
    assert_eq!(detail.config, r#"{"lr": 0.1, "repeat": 0, "name": "ünïcode ✓"}"#);
    let active = reader.active_runs().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(
        (active[0].job.as_deref(), active[0].pid, active[0].run_dir.as_deref()),
        (Some("991"), Some(4242), Some("/work/out/mnist/lr=0.1/0"))
    );
    drop(reader);

    for part in 0..3 {
        let metrics = (0..25).map(|i| point("loss", part * 25 + i, 1.0 / (1 + part * 25 + i) as f64)).collect();
        ingest(&mut r.local, &run, IngestBatch { metrics, ..IngestBatch::default() });
        let reader = r.read_checked();
        let same = same_run(&reader, &run);
        assert_eq!(reader.metric_count(same.id).unwrap(), 25 * (part + 1), "every point once, after pass {part}");
        assert_eq!(reader.next_steps(same.id).unwrap()["loss"], 25 * (part + 1));
    }

    assert!(finish(&mut r.local, &run, RunStatus::Success, Some(0), None));
    assert!(!finish(&mut r.local, &run, RunStatus::Failed, Some(1), Some("late")), "a final state stays");
    let reader = r.read_checked();
    let row = &reader.list_runs(None).unwrap()[0];
    let want = &r.local.list_runs(None).unwrap()[0];
    assert_eq!((row.status, row.exit_code, row.error.as_deref()), (RunStatus::Success, Some(0), None));
    assert_eq!((row.created_at, row.started_at, row.ended_at), (want.created_at, want.started_at, want.ended_at));
    assert!(reader.active_runs().unwrap().is_empty());
    let series = reader.metric_series(same_run(&reader, &run).id, "loss").unwrap();
    assert_eq!(series.steps, (0..75).collect::<Vec<_>>());
    assert_eq!(series.values[74], 1.0 / 75.0);
    assert_eq!(series.epochs[74], Some(7));
}

fn every_way_a_run_ends(mut r: Record) {
    let (e, t, runner) = experiment(&mut r.local);
    let error = "Traceback (most recent call last):\n  File \"train.py\", line 3\nValueError: ß≠∞ — \"quoted\" 'and' `ticked` 🚀";
    let ends: [End<'_>; 6] = [
        (RunStatus::Success, Some(0), None, None),
        (RunStatus::Failed, Some(2), None, Some(error)),
        (RunStatus::Killed, None, Some(9), Some("cancelled by the user")),
        (RunStatus::Timeout, None, Some(15), Some("time limit 0:01:00 reached")),
        (RunStatus::EarlyStopped, Some(0), None, Some("val_loss did not improve for 3 epochs")),
        (RunStatus::Failed, Some(-1), None, Some(&"x".repeat(20_000))),
    ];
    let mut runs = Vec::new();
    for (i, (status, exit_code, signal, error)) in ends.iter().enumerate() {
        let run = r.local.create_run(&new_run(e, t, runner, i as u32), &format!("end{i:05}")).unwrap();
        start(&mut r.local, &run);
        let finish = RunFinish {
            status: *status,
            exit_code: *exit_code,
            signal: *signal,
            error: error.map(str::to_string),
            ended_at: 1_700_000_000_000 + i as i64,
        };
        assert!(r.local.finish_run(run.id, &finish).unwrap());
        runs.push(run);
    }
    let lost = r.local.create_run(&new_run(e, t, runner, 9), "lost0001").unwrap();
    start(&mut r.local, &lost);
    assert!(r.local.set_status(lost.id, RunStatus::Lost, Some("runner ws-1 (pid 4100) is gone")).unwrap());
    let pending = r.local.create_run(&new_run(e, t, runner, 10), "pend0001").unwrap();

    let reader = r.read_checked();
    for (run, (status, exit_code, signal, error)) in runs.iter().zip(ends) {
        let detail = reader.run_detail(&same_run(&reader, run)).unwrap();
        assert_eq!(detail.row.status, status, "{}", run.uid);
        assert_eq!(detail.row.exit_code, exit_code.map(i64::from));
        assert_eq!(detail.signal, signal.map(i64::from));
        assert_eq!(detail.row.error.as_deref(), error, "the message, whole");
    }
    let lost_row = reader.run_detail(&same_run(&reader, &lost)).unwrap().row;
    assert_eq!((lost_row.status, lost_row.error.as_deref()), (RunStatus::Lost, Some("runner ws-1 (pid 4100) is gone")));
    assert_eq!(reader.run_detail(&same_run(&reader, &pending)).unwrap().row.status, RunStatus::Pending);
    let ids: Vec<i64> = reader.list_runs(None).unwrap().iter().map(|row| row.id).collect();
    let summaries = reader.trial_summaries(&ids).unwrap();
    assert_eq!(summaries.len(), 1);
    use RunStatus::*;
    assert_eq!(summaries[0].statuses, [Success, Failed, Killed, Timeout, EarlyStopped, Failed, Lost, Pending]);
}

fn params_of_every_type_keep_their_values(mut r: Record) {
    let (e, t, runner) = experiment(&mut r.local);
    let long: String = "lorem ipsum ".repeat(10_000);
    let values = vec![
        ("null".to_string(), ParamValue::Null),
        ("flag".into(), ParamValue::Bool(true)),
        ("off".into(), ParamValue::Bool(false)),
        ("big".into(), ParamValue::Int(i64::MAX)),
        ("small".into(), ParamValue::Int(i64::MIN)),
        ("zero".into(), ParamValue::Int(0)),
        ("third".into(), ParamValue::Float(1.0 / 3.0)),
        ("sum".into(), ParamValue::Float(0.1 + 0.2)),
        ("tiny".into(), ParamValue::Float(5e-324)),
        ("huge".into(), ParamValue::Float(f64::MAX)),
        ("negative".into(), ParamValue::Float(-2.5e-10)),
        ("name".into(), ParamValue::Text("résumé — 東京 🚀".into())),
        ("empty".into(), ParamValue::Text(String::new())),
        ("quotes".into(), ParamValue::Text(r#"it's "quoted" \ back\slash"#.into())),
        ("long".into(), ParamValue::Text(long.clone())),
        ("optimizer.betas".into(), ParamValue::Json("[0.9,0.999]".into())),
        ("model".into(), ParamValue::Json(r#"{"layers":[64,32],"act":"relu"}"#.into())),
        ("Größe".into(), ParamValue::Int(7)),
    ];
    let mut spec = new_run(e, t, runner, 0);
    spec.params = values.clone();
    let run = r.local.create_run(&spec, "params01").unwrap();
    // Params reported while the run goes on overwrite by key.
    start(&mut r.local, &run);
    let later =
        vec![("zero".to_string(), ParamValue::Text("changed".into())), ("added".into(), ParamValue::Float(2.0))];
    ingest(&mut r.local, &run, IngestBatch { params: later, ..IngestBatch::default() });

    let reader = r.read_checked();
    let mut got = reader.run_params(same_run(&reader, &run).id).unwrap();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = values;
    want.retain(|(k, _)| k != "zero");
    want.push(("zero".into(), ParamValue::Text("changed".into())));
    want.push(("added".into(), ParamValue::Float(2.0)));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), want.len());
    for ((gk, gv), (wk, wv)) in got.iter().zip(&want) {
        assert_eq!(gk, wk);
        match (gv, wv) {
            (ParamValue::Float(g), ParamValue::Float(w)) => assert_eq!(g.to_bits(), w.to_bits(), "{gk}: bit for bit"),
            _ => assert_eq!(gv, wv, "{gk}"),
        }
    }
    assert_eq!(r.local.run_params(run.id).unwrap().len(), got.len());
}

fn metric_points_keep_every_value_and_none_twice(mut r: Record) {
    let (e, t, runner) = experiment(&mut r.local);
    let run = r.local.create_run(&new_run(e, t, runner, 0), "points01").unwrap();
    start(&mut r.local, &run);
    // (SQLite keeps -0.0 as 0; the largest double is the team database's
    // infinity, so the edge stops one below it.)
    let below_max = f64::from_bits(f64::MAX.to_bits() - 1);
    let edge = [0.1, 1.0 / 3.0, 5e-324, 2.2250738585072014e-308, below_max, -below_max, 123_456_789.123_456_79, -7.0];
    let mut metrics: Vec<MetricPoint> = edge.iter().enumerate().map(|(i, v)| point("edge", i as i64, *v)).collect();
    metrics.push(point("val/acc", 0, 0.5));
    metrics.push(MetricPoint { epoch: None, ..point("val/acc", 1, 0.75) });
    // The same step reported twice keeps both points; the later is last.
    metrics.push(MetricPoint { timestamp: 1_800_000_000_000, ..point("val/acc", 1, 0.8) });
    metrics.push(point("λ/ünï", 0, f64::NAN));
    metrics.push(point("λ/ünï", 1, 2.0));
    ingest(&mut r.local, &run, IngestBatch { metrics, ..IngestBatch::default() });
    let reader = r.read_checked();
    drop(reader);

    // Infinities (a diverged loss) come after; the summaries follow.
    let metrics = vec![point("loss", 0, 1.5), point("loss", 1, f64::INFINITY), point("loss", 2, f64::NEG_INFINITY)];
    ingest(&mut r.local, &run, IngestBatch { metrics, ..IngestBatch::default() });
    assert!(finish(&mut r.local, &run, RunStatus::Success, Some(0), None));

    let reader = r.read_checked();
    let same = same_run(&reader, &run);
    assert_eq!(reader.metric_count(same.id).unwrap(), 16);
    let series = reader.metric_series(same.id, "edge").unwrap();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&series.values), bits(&edge), "every value bit for bit (subnormals too)");
    let acc = reader.metric_series(same.id, "val/acc").unwrap();
    assert_eq!(
        (acc.steps, acc.epochs, acc.values),
        (vec![0, 1, 1], vec![Some(0), None, Some(0)], vec![0.5, 0.75, 0.8])
    );
    let lambda = reader.metric_series(same.id, "λ/ünï").unwrap();
    assert!(lambda.values[0].is_nan() && lambda.values[1] == 2.0, "NaN stays NaN: {:?}", lambda.values);
    let loss = reader.metric_series(same.id, "loss").unwrap();
    assert_eq!(loss.values, [1.5, f64::INFINITY, f64::NEG_INFINITY]);
    let mut finals = reader.final_metrics(&[same.id]).unwrap().remove(&same.id).unwrap();
    finals.sort_by(|a, b| a.0.cmp(&b.0));
    let shown: Vec<String> = finals.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(shown, ["edge=-7", "loss=-inf", "val/acc=0.8", "λ/ünï=2"]);
    assert_eq!(reader.next_steps(same.id).unwrap()["edge"], 8);
}

fn artifacts_tags_and_events_changed_after_the_run_ended(mut r: Record) {
    let (e, t, runner) = experiment(&mut r.local);
    let run = r.local.create_run(&new_run(e, t, runner, 0), "files001").unwrap();
    start(&mut r.local, &run);
    let artifact = |path: &str, epoch: Option<i64>| Artifact {
        path: path.into(),
        size: Some(1 << 40),
        sha256: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
        kind: "checkpoint".into(),
        epoch,
        created_at: 1_700_000_000_500,
    };
    let batch = IngestBatch {
        artifacts: vec![artifact("ckpt/epoch-1.pt", Some(1)), artifact("ckpt/epoch-2.pt", Some(2))],
        tags: vec![("stage".into(), "warmup".into())],
        events: vec![(1_700_000_000_600, "note".into(), "learning rate halved".into())],
        ..IngestBatch::default()
    };
    ingest(&mut r.local, &run, batch);
    r.local.log_event("stop_requested", Some(e), Some(run.id), "val_loss plateaued").unwrap();
    r.local.annotate_run(run.id, &[("stage".into(), "done".into())]).unwrap();
    assert!(finish(&mut r.local, &run, RunStatus::EarlyStopped, Some(0), Some("val_loss plateaued")));
    let reader = r.read_checked();
    let same = same_run(&reader, &run);
    assert_eq!(reader.count_events(same.id, "note").unwrap(), 1);
    assert_eq!(reader.count_events(same.id, "stop_requested").unwrap(), 1);
    drop(reader);

    // After the run has ended: the checkpoint policy deletes a file, a
    // captured file is added, a late hook warns, someone tags the run.
    r.local.mark_artifacts_deleted(run.id, &["ckpt/epoch-1.pt".into()]).unwrap();
    let captured =
        Artifact { size: None, sha256: None, kind: "file".into(), epoch: None, ..artifact("train.log", None) };
    r.local.add_artifacts(run.id, &[captured]).unwrap();
    r.local.log_event("warning", None, Some(run.id), "the end hook took 12 s").unwrap();
    r.local.annotate_run(run.id, &[("reviewed".into(), "yes".into())]).unwrap();

    let reader = r.read_checked();
    let same = same_run(&reader, &run);
    let detail = reader.run_detail(&same).unwrap();
    let kept: Vec<_> = detail.artifacts.iter().map(|a| (a.0.as_str(), a.1.as_str(), a.2)).collect();
    assert_eq!(kept, [("ckpt/epoch-2.pt", "checkpoint", Some(1 << 40)), ("train.log", "file", None)]);
    assert_eq!(detail.deleted_artifacts, ["ckpt/epoch-1.pt"]);
    let tags: Vec<_> = detail.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(tags, ["owner=ana", "reviewed=yes", "stage=done"]);
    assert_eq!(reader.count_events(same.id, "warning").unwrap(), 1, "sent once, though it came after the end");
    assert_eq!(reader.count_events(same.id, "note").unwrap(), 1, "not sent twice");
    let rows = reader.run_artifacts(same.id).unwrap();
    assert_eq!(rows.len(), 3);

    let reader = r.read_checked();
    assert_eq!(
        reader.count_events(same_run(&reader, &run).id, "warning").unwrap(),
        1,
        "a pass with nothing new sends nothing"
    );
}

fn hardware_resources_and_capture(mut r: Record) {
    let (e, t, runner) = experiment(&mut r.local);
    let run = r.local.create_run(&new_run(e, t, runner, 0), "hware001").unwrap();
    start(&mut r.local, &run);
    for i in 0..5_i64 {
        let sample = Sample {
            timestamp: 1_700_000_000_000 + i * 1000,
            host: "node-7".into(),
            machine: MachineSample {
                cpu_percent: 12.5 + i as f32,
                per_core: vec![10.0, 15.0],
                mem_used: 8 << 30,
                mem_total: 64 << 30,
                swap_used: 0,
                swap_total: 1 << 30,
                load: [0.5, 0.25, 0.125],
            },
            gpus: vec![GpuSample {
                index: 0,
                name: "NVIDIA H200".into(),
                util_percent: 80,
                mem_used: 70 << 30,
                mem_total: 141 << 30,
                temperature_c: Some(61),
                power_w: Some(412.5),
            }],
            runs: vec![RunSample {
                run_id: run.id,
                pid: 4242,
                processes: 3,
                cpu_percent: 99.5,
                rss: 3 << 30,
                cpu_ms: 1000 * i as u64,
                gpu_mem: 70 << 30,
                gpu_util: Some(80.0),
            }],
        };
        r.local.insert_hardware(&sample).unwrap();
    }
    let capture = Capture {
        env: r#"{"CUDA_VISIBLE_DEVICES":"0","WANDB_API_KEY":"***"}"#.into(),
        git_branch: Some("feature/λ".into()),
        host: r#"{"os":"Debian 12","cpu":"EPYC","gpus":["NVIDIA H200"]}"#.into(),
        expman_version: "0.1.0".into(),
    };
    r.local.write_capture(run.id, &capture).unwrap();
    assert!(finish(&mut r.local, &run, RunStatus::Success, Some(0), None));
    let reader = r.read_checked();
    assert_eq!(reader.hardware_sample_count(Some(same_run(&reader, &run).id)).unwrap(), 5);
    drop(reader);

    // The resource summary is written by the sampler, after the run has
    // ended (it hears of the end from the runner).
    let resources = ResourceSummary {
        wall_ms: 5_000,
        cpu_ms: Some(4_975),
        mean_cpu_percent: Some(99.5),
        peak_cpu_percent: Some(99.5),
        peak_rss: Some(3 << 30),
        mean_gpu_util: Some(80.0),
        peak_gpu_util: Some(80.0),
        mean_gpu_mem: Some(70 << 30),
        peak_gpu_mem: Some(70 << 30),
        samples: 5,
    };
    r.local.write_resources(run.id, &resources).unwrap();
    let reader = r.read_checked();
    let same = same_run(&reader, &run);
    let detail = reader.run_detail(&same).unwrap();
    assert_eq!(detail.resources, Some(resources));
    assert_eq!(detail.capture, Some(capture));
    assert_eq!(reader.hardware_sample_count(Some(same.id)).unwrap(), 5, "not sent twice");
    let frame = Frames::new(&reader).hardware().unwrap();
    let gpu = frame.column("gpu_mem").unwrap().i64().unwrap().get(frame.height() - 1);
    assert_eq!(gpu, Some(70 << 30));
}

fn resume_finds_done_runs_and_counts_attempts(mut r: Record) {
    let (e, t, runner) = experiment(&mut r.local);
    let first = r.local.create_run(&new_run(e, t, runner, 0), "resume01").unwrap();
    start(&mut r.local, &first);
    assert!(finish(&mut r.local, &first, RunStatus::Failed, Some(1), Some("CUDA out of memory")));
    let mut again = new_run(e, t, runner, 0);
    again.attempt = 1;
    let second = r.local.create_run(&again, "resume02").unwrap();
    start(&mut r.local, &second);
    assert!(finish(&mut r.local, &second, RunStatus::Success, Some(0), None));
    r.local.create_run(&new_run(e, t, runner, 1), "resume03").unwrap();

    let reader = r.read_checked();
    let (re, rt) = reader.find_trial(EXPERIMENT, "lr=0.1").unwrap().unwrap();
    assert_eq!(reader.attempts(re, rt, 0, "c0ffee").unwrap(), 2);
    assert_eq!(reader.find_done(re, rt, 0, "c0ffee").unwrap().as_deref(), Some("resume02"));
    assert_eq!(reader.find_done(re, rt, 1, "c0ffee").unwrap(), None, "repeat 1 never ran");
    assert_eq!(reader.find_done(re, rt, 0, "other").unwrap(), None, "another config is another run");
    assert_eq!(
        reader.resolve_run("resume0").unwrap_err().to_string(),
        r.local.resolve_run("resume0").unwrap_err().to_string()
    );
    assert_eq!(reader.resolve_run("resume03").unwrap().uid, "resume03");
    let repeats = reader.trial_repeats(re).unwrap();
    assert_eq!(repeats.get(&rt), r.local.trial_repeats(e).unwrap().get(&t));
}

/// The two back ends' migrations build the same tables with the same
/// columns (the MySQL files are written beside the SQLite ones).
#[test]
fn both_back_ends_have_the_same_tables_and_columns() {
    let Some(record) = Record::mariadb("same_schema") else { return };
    let Back::Mariadb(mut server) = record.back else { unreachable!("a MariaDB record") };
    let mut sqlite: Vec<String> = Vec::new();
    let conn = rusqlite::Connection::open(record.local.path()).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")).unwrap();
        let mut columns: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
        if table == "metrics" {
            // SQLite's rowid orders the points; MySQL's table names it.
            columns.push("id".into());
        }
        columns.sort();
        sqlite.push(format!("{table}: {}", columns.join(", ")));
    }
    let rows = server
        .rows(
            "SELECT table_name, GROUP_CONCAT(column_name ORDER BY column_name SEPARATOR ', ') FROM information_schema.columns
             WHERE table_schema = DATABASE() AND table_name <> 'expman_schema' GROUP BY table_name ORDER BY table_name",
            Vec::new(),
        )
        .unwrap();
    let text = |v| as_text(v).unwrap_or_default();
    let mut mysql: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut columns: Vec<String> = text(&r[1]).split(", ").map(str::to_string).collect();
            columns.sort();
            format!("{}: {}", text(&r[0]), columns.join(", "))
        })
        .collect();
    mysql.sort();
    sqlite.sort();
    assert_eq!(sqlite, mysql);
}

/// A run that goes on is sent when it changed, and only then: a pass over
/// running runs with nothing new sends nothing.
#[test]
fn a_running_run_is_sent_again_only_when_it_changed() {
    let Some(mut r) = Record::mariadb("sent_when_changed") else { return };
    let Back::Mariadb(server) = &mut r.back else { unreachable!("a MariaDB record") };
    let (e, t, runner) = experiment(&mut r.local);
    let run = r.local.create_run(&new_run(e, t, runner, 0), "going001").unwrap();
    start(&mut r.local, &run);
    let first = team::push(&mut r.local, server, None).unwrap();
    assert_eq!((first.runs_copied, first.runs_live), (1, 1));
    r.local.heartbeat(runner).unwrap();
    let idle = team::push(&mut r.local, server, None).unwrap();
    assert_eq!((idle.runs_updated, idle.runs_present, idle.runs_live), (0, 1, 1), "nothing new: {idle:?}");
    ingest(&mut r.local, &run, IngestBatch { metrics: vec![point("loss", 0, 0.5)], ..IngestBatch::default() });
    let changed = team::push(&mut r.local, server, None).unwrap();
    assert_eq!((changed.runs_updated, changed.metric_points), (1, 1));
    assert_eq!(team::behind(&mut r.local, server).unwrap(), 0);
}
