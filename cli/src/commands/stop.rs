//! `expman stop`: stop runs that are going on, from any terminal.
//!
//! The runner that watches a run owns it, so this only leaves a request
//! file in the run directory ([`STOP_REQUEST_FILE`]); the runner sees it
//! within a second and stops the run as Ctrl-C would, but for that run
//! only (KILLED). A Slurm job whose runner is gone is cancelled here with
//! `scancel`; the next look at the record ends it KILLED.

use std::process::ExitCode;

use expman_os::process;
use expman_runner::recovery::runner_gone;
use expman_runner::{STOP_REQUEST_FILE, StopTarget};
use expman_store::{ActiveRun, RunRow};

use super::record::open_record;
use crate::args::StopArgs;

pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    let (_, store) = open_record(&args.record)?;
    let mut going_on = Vec::new();
    for active in store.active_runs()? {
        let Some(row) = store.runs_by_id(&[active.run.id])?.into_iter().next() else { continue };
        if args.experiment.as_ref().is_none_or(|e| *e == row.experiment) {
            going_on.push((active, row));
        }
    }
    // Each target: the runs of a trial of that name (and its sweep), else
    // the one run whose id starts with it.
    let mut chosen: Vec<usize> = Vec::new();
    for target in &args.targets {
        let trial = StopTarget::Trial(target.clone());
        let mut hits: Vec<usize> =
            (0..going_on.len()).filter(|&i| trial.matches(&going_on[i].1.uid, &going_on[i].1.trial)).collect();
        if hits.is_empty() {
            let run = StopTarget::Run(target.clone());
            hits = (0..going_on.len()).filter(|&i| run.matches(&going_on[i].1.uid, &going_on[i].1.trial)).collect();
            if hits.len() > 1 {
                let ids: Vec<&str> = hits.iter().map(|&i| going_on[i].1.uid.as_str()).collect();
                anyhow::bail!("`{target}` matches several runs going on ({}); give more of the id", ids.join(", "));
            }
        }
        if hits.is_empty() {
            eprintln!("nothing going on matches {target}");
            return Ok(ExitCode::from(1));
        }
        chosen.extend(hits.into_iter().filter(|i| !chosen.contains(i)).collect::<Vec<_>>());
    }
    for i in chosen {
        let (active, row) = &going_on[i];
        println!("{}", request_stop(active, row, "`expman stop`")?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks the runner of a run going on to stop it (or cancels its Slurm job
/// when no runner watches it); `by` names who asks, for the request file.
/// Returns what was done, as a sentence.
pub fn request_stop(active: &ActiveRun, row: &RunRow, by: &str) -> anyhow::Result<String> {
    let host = process::host_name();
    let who = format!("run {} ({} #{}, {})", row.uid, row.trial, row.repeat + 1, row.experiment);
    if let (Some(job), Some(_)) = (active.job.as_deref(), runner_gone(active, &host)) {
        // Only the run's own job: Slurm may have given its id to another.
        if expman_runner::slurm::is_alive_as(job, &row.uid) {
            expman_runner::slurm::cancel(job);
            return Ok(format!("{who}: no runner watches it; cancelled Slurm job {job}"));
        }
        return Ok(format!(
            "{who}: its Slurm job {job} is no longer queued or running; the next look at the record ends it"
        ));
    }
    let Some(dir) = active.run_dir.as_deref().map(std::path::PathBuf::from) else {
        return Ok(format!("{who}: it has no run directory to leave the request in"));
    };
    std::fs::create_dir_all(&dir)?;
    let request = dir.join(STOP_REQUEST_FILE);
    let text = format!("stop requested by {by} ({}@{host})\n", process::user_name());
    std::fs::write(&request, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", request.display()))?;
    let runner = active.runner.as_ref().map(|r| format!("pid {} on {}", r.pid, r.host)).unwrap_or_default();
    Ok(format!("{who}: asked its runner ({runner}) to stop it"))
}
