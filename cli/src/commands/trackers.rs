//! `expman sync` (send what trackers have not acknowledged yet) and
//! `expman export-mlflow` (send an experiment of the record to an MLflow
//! server): both are the sync engine of `expman-trackers`, run to
//! the end here instead of beside the runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use expman_runner::workspace::{Locate, Workspace};
use expman_schema::FsLoader;
use expman_schema::model::{TrackerConfig, TrackerKind};
use expman_store::ExperimentRow;
use expman_store::Store;
use expman_trackers::{NamedTracker, Pending, Syncer, TrackerEnv, TrackerRegistry, tracker_config};

use crate::args::{ExportMlflowArgs, ScopeArgs, SyncArgs};

/// The workspace, its store and the experiments a command is about.
fn open(scope: &ScopeArgs) -> anyhow::Result<(Workspace, Store, Vec<ExperimentRow>)> {
    let (workspace, configured) = Workspace::locate_scope(&Locate {
        workspace: scope.record.workspace.clone(),
        dir: scope.record.dir.clone(),
        env_workspace: None,
        cwd: std::env::current_dir().context("cannot read the current directory")?,
    })?;
    if !workspace.has_database() {
        bail!("no database at {} yet: run an experiment first (`expman run CONFIG_DIR`)", workspace.database.display());
    }
    let store = workspace.open_store().with_context(|| format!("cannot open {}", workspace.database.display()))?;
    let all = store.experiment_rows()?;
    let wanted = if scope.all_experiments { None } else { scope.experiment.clone().or(configured) };
    let experiments: Vec<ExperimentRow> = match &wanted {
        Some(name) => {
            let found: Vec<ExperimentRow> = all.iter().filter(|e| &e.name == name).cloned().collect();
            if found.is_empty() {
                let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
                bail!("no experiment `{name}` in {} (experiments: {})", workspace.database.display(), names.join(", "));
            }
            found
        }
        None => all,
    };
    Ok((workspace, store, experiments))
}

/// The trackers an experiment's config asks for: `--dir`'s env.yaml, else
/// the one in the config directory the experiment was run from.
fn configured_trackers(dir: Option<&Path>, experiment: &ExperimentRow) -> anyhow::Result<Vec<TrackerConfig>> {
    let dir: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => match &experiment.config_dir {
            Some(d) => PathBuf::from(d),
            None => bail!("experiment `{}`: the record does not say where its config is; give --dir", experiment.name),
        },
    };
    if !dir.exists() {
        bail!(
            "experiment `{}` was run from {}, which is gone: give --dir with its config directory",
            experiment.name,
            dir.display()
        );
    }
    let analysis = expman_schema::load(&FsLoader, &dir);
    Ok(analysis.project.env.trackers.clone().unwrap_or_default())
}

/// Syncs `trackers` with one experiment to the end; a line per tracker.
fn sync_all(
    store: &mut Store,
    workspace: &Workspace,
    experiment: &ExperimentRow,
    trackers: &mut [NamedTracker],
) -> anyhow::Result<bool> {
    let mut ok = true;
    for tracker in trackers {
        let started = Instant::now();
        let before = store.metric_count_after(experiment.id, cursor(store, &tracker.key, experiment.id)?)?;
        if before > 1000 {
            eprintln!("{}: {before} point(s) of experiment `{}` to send ...", tracker.name, experiment.name);
        }
        let report = Syncer { store: &mut *store, workspace: &workspace.root, deadline: None }.sync(
            tracker,
            experiment.id,
            usize::MAX,
            Pending::Count,
        )?;
        println!("{} ({:.1}s, experiment `{}`)", report.describe(), started.elapsed().as_secs_f64(), experiment.name);
        for refused in &report.rejected {
            eprintln!("warning: {}: refused: {refused}", report.tracker);
        }
        ok &= report.error.is_none();
    }
    Ok(ok)
}

fn cursor(store: &Store, key: &str, experiment_id: i64) -> anyhow::Result<i64> {
    Ok(store
        .tracker_entities(key)?
        .get(&("cursor.metrics".to_string(), experiment_id))
        .and_then(|e| e.remote_id.as_deref())
        .and_then(|r| r.parse().ok())
        .unwrap_or(0))
}

pub fn sync(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let (workspace, mut store, experiments) = open(&args.scope)?;
    let registry = TrackerRegistry::with_builtins();
    let env = TrackerEnv::from_process(&workspace.root);
    let mut all_ok = true;
    let mut any = false;
    for experiment in &experiments {
        let configs = configured_trackers(args.scope.record.dir.as_deref(), experiment)?;
        let mut trackers = registry.build(&configs, &env)?;
        if let Some(only) = &args.tracker {
            trackers.retain(|t| &t.name == only || t.key.split('@').next() == Some(only));
            if trackers.is_empty() {
                let names: Vec<String> =
                    registry.build(&configs, &env).unwrap_or_default().into_iter().map(|t| t.name).collect();
                bail!("experiment `{}` has no tracker `{only}` (its trackers: {})", experiment.name, names.join(", "));
            }
        }
        if trackers.is_empty() {
            continue;
        }
        any = true;
        if args.reset {
            for t in &trackers {
                store.reset_tracker(&t.key)?;
                eprintln!("{}: forgot what was sent; sending everything again", t.name);
            }
        }
        all_ok &= sync_all(&mut store, &workspace, experiment, &mut trackers)?;
    }
    if !any {
        println!("no trackers configured (env.yaml `trackers:`); nothing to sync");
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub fn export_mlflow(args: ExportMlflowArgs) -> anyhow::Result<ExitCode> {
    let (workspace, mut store, experiments) = open(&args.scope)?;
    let env = TrackerEnv::from_process(&workspace.root);
    let mut all_ok = true;
    for experiment in &experiments {
        // The flags, else the experiment's own `mlflow` tracker entry, else MLFLOW_TRACKING_URI.
        let configured = configured_trackers(args.scope.record.dir.as_deref(), experiment)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.kind == TrackerKind::Mlflow);
        let mut config = configured.unwrap_or_else(|| tracker_config(TrackerKind::Mlflow));
        if let Some(uri) = &args.tracking_uri {
            config.tracking_uri = Some(uri.clone());
        }
        if let Some(name) = &args.experiment_name {
            config.experiment_name = Some(name.clone());
        }
        let mut trackers = TrackerRegistry::with_builtins().build(&[config], &env)?;
        all_ok &= sync_all(&mut store, &workspace, experiment, &mut trackers)?;
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
