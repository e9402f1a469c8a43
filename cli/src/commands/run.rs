//! `expman run`: expand, launch, watch, summarize.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use expman_runner::RunnerOptions;
use expman_runner::pipeline::PipelineRegistry;
use expman_runner::slurm::{self, SlurmSettings};
use expman_runner::workspace::Workspace;
use expman_schema::model::ExecutorKind;
use expman_schema::{ExpandOptions, FsLoader, check};
use expman_store::summary::summarize;

use crate::args::RunArgs;
use crate::output::print_diagnostics;
use crate::output::progress::ProgressView;
use crate::output::tables::TextTable;

pub fn run(args: RunArgs, color: bool) -> anyhow::Result<ExitCode> {
    if !args.path.exists() {
        bail!("{} does not exist", args.path.display());
    }
    let path = std::path::absolute(&args.path).with_context(|| format!("cannot resolve {}", args.path.display()))?;
    let options = ExpandOptions { trials: args.options.trials.clone(), ..ExpandOptions::default() };
    let (analysis, expansion) = check(&FsLoader, &path, &args.overrides, options);
    let mut shown = analysis.clone();
    super::config::display_relative(&mut shown);
    print_diagnostics(&shown.diagnostics, &shown.sources, color);
    if analysis.has_errors() {
        eprintln!("not running: the config has errors (see above)");
        return Ok(ExitCode::from(1));
    }
    if !expansion.unknown_trials.is_empty() {
        let known: Vec<&str> = analysis.project.trials.iter().map(|t| t.name.as_str()).collect();
        bail!(
            "no trial named {} (trials: {})",
            expansion.unknown_trials.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "),
            known.join(", ")
        );
    }
    let project = &analysis.project;
    let workspace = Workspace::for_project(project)?;
    let registry = PipelineRegistry::with_builtins();
    expman_runner::check_plans(
        &expansion.runs,
        &registry,
        &expman_runner::callbacks::CallbackRegistry::with_builtins(),
    )?;

    if args.dry_run {
        for (trial, search) in &expansion.searches {
            println!("trial `{trial}`: {}", search.describe());
        }
        return dry_run(&workspace, project, &expansion.runs, args.options.resume);
    }

    let cancel = Arc::new(AtomicBool::new(false));
    // First Ctrl-C (or SIGTERM): stop the runs cleanly. Second: quit now.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, cancel.clone())
            .context("cannot install the signal handler")?;
        signal_hook::flag::register(signal, cancel.clone()).context("cannot install the signal handler")?;
    }
    let options = RunnerOptions {
        max_parallel: args.options.parallel,
        resume: args.options.resume,
        cancel,
        ..RunnerOptions::default()
    };
    let mut view = ProgressView::new(color).verbose(project.env.verbose == Some(true));
    let searches = crate::searches::Searches::new(&analysis, &expansion);
    let jobs = searches.jobs();
    let report =
        expman_runner::run_with_searches(&workspace, project, &expansion.runs, &jobs, &registry, &options, &mut view)?;
    view.finish();

    let store = expman_store::Store::open(&workspace.database)?;
    let summaries = summarize(&store.trial_summaries(&report.run_ids())?);
    if !summaries.is_empty() {
        let mut keys: Vec<String> = Vec::new();
        for s in &summaries {
            for (k, _) in &s.metrics {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let mut header = vec!["trial".to_string(), "runs".to_string(), "status".to_string()];
        header.extend(keys.iter().cloned());
        let mut table = TextTable::new(header);
        for s in &summaries {
            let mut row = vec![
                s.trial.clone(),
                s.runs.to_string(),
                s.statuses.iter().map(|(st, n)| format!("{n} {st}")).collect::<Vec<_>>().join(", "),
            ];
            for key in &keys {
                row.push(s.metrics.iter().find(|(k, _)| k == key).map(|(_, m)| m.display()).unwrap_or_default());
            }
            table.rows.push(row);
        }
        println!("{}", table.render());
    }
    for search in &report.searches {
        println!("{}", search.describe());
    }
    let ran = if report.runs.is_empty() { "nothing to run".to_string() } else { expman_runner::status_counts(&report) };
    let skipped =
        if report.skipped > 0 { format!(", {} skipped (already succeeded)", report.skipped) } else { String::new() };
    println!(
        "experiment `{}`: {ran}{skipped}; record: {}",
        project.experiment_name(),
        relative(&workspace.database).display()
    );
    for tracker in &report.trackers {
        let caught_up = tracker.caught_up && tracker.pending_points == 0 && tracker.pending_ends == 0;
        if caught_up {
            println!("{}", tracker.describe());
        }
    }
    Ok(if report.cancelled {
        ExitCode::from(130)
    } else if report.all_done() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn relative(path: &Path) -> std::path::PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

fn dry_run(
    workspace: &Workspace,
    project: &expman_schema::Project,
    plans: &[expman_schema::RunPlan],
    resume: bool,
) -> anyhow::Result<ExitCode> {
    let store =
        if resume && workspace.has_database() { Some(expman_store::Store::open(&workspace.database)?) } else { None };
    let mut table =
        TextTable::new(["trial", "repeat", "seed", "config", "command", "workdir"].map(String::from).to_vec());
    let mut skipped = 0;
    let mut shown: Vec<(&str, u32)> = Vec::new();
    for plan in plans {
        if let Some(store) = &store
            && let Some((e, t)) = store.find_trial(project.experiment_name(), &plan.trial)?
            && store.find_done(e, t, plan.repeat, &plan.config_hash)?.is_some()
        {
            skipped += 1;
            continue;
        }
        shown.push((plan.trial.as_str(), plan.repeat));
        let command = plan.pipeline.command.as_ref().map(|c| c.argv().join(" ")).unwrap_or_default();
        let command = expman_schema::secrets::mask_text(&command, &expman_schema::secrets::secret_values(&plan.config));
        let workdir = plan.pipeline.workdir.clone().unwrap_or_else(|| "<run directory>".into());
        table.rows.push(vec![
            plan.trial.clone(),
            format!("{}/{}", plan.repeat + 1, plan.repeats),
            plan.seed.to_string(),
            plan.config_hash[..12].to_string(),
            command,
            workdir,
        ]);
    }
    println!("{}", table.render());
    let skip = if skipped > 0 { format!(" ({skipped} skipped: already succeeded)") } else { String::new() };
    println!("dry run: {} run(s) would start in {}{skip}", table.rows.len(), relative(&workspace.root).display());
    let resources = project.env.resources.clone().unwrap_or_default();
    if resources.executor == Some(ExecutorKind::Slurm) {
        println!("\non Slurm, each run is submitted as (RUN_ID: the run's id, chosen at submission):");
        for plan in plans.iter().filter(|p| shown.contains(&(p.trial.as_str(), p.repeat))) {
            let mut settings = SlurmSettings::from_resources(&resources);
            settings.time_limit = settings.time_limit.or(plan.pipeline.timeout.map(|t| t.0));
            let run_dir = workspace.run_dir(project.experiment_name(), &plan.trial, "RUN_ID");
            let name = slurm::job_name(project.experiment_name(), &plan.trial, plan.repeat, "RUN_ID");
            let args: Vec<String> = settings.sbatch_args(&name, &run_dir).iter().map(|a| shell_quote(a)).collect();
            println!("sbatch {}", args.join(" "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A word as a POSIX shell would need it, quoted only when it must be.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
