//! `expman stop`: stop runs that are going on, from any terminal.
//!
//! The runner that watches a run owns it, so this only leaves a request
//! file in the run directory ([`STOP_REQUEST_FILE`]); the runner sees it
//! within a second and stops the run as Ctrl-C would, but for that run
//! only (KILLED). A Slurm job whose runner is gone is cancelled here with
//! `scancel`; the next look at the record ends it KILLED.

use std::process::ExitCode;

use expman_core::process;
use expman_core::recovery::runner_gone;
use expman_core::runner::{STOP_REQUEST_FILE, StopTarget};

use super::record::open_record;
use crate::args::StopArgs;

pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    let (_, store) = open_record(&args.record)?;
    let host = process::host_name();
    let matches = |uid: &str, trial: &str| {
        args.targets
            .iter()
            .any(|t| StopTarget::Run(t.clone()).matches(uid, trial) || StopTarget::Trial(t.clone()).matches(uid, trial))
    };
    let mut asked = 0;
    for active in store.active_runs()? {
        let Some(row) = store.runs_by_id(&[active.run.id])?.into_iter().next() else { continue };
        if !matches(&row.uid, &row.trial) {
            continue;
        }
        asked += 1;
        let who = format!("run {} ({} #{})", row.uid, row.trial, row.repeat + 1);
        if let (Some(job), Some(_)) = (active.job.as_deref(), runner_gone(&active, &host)) {
            expman_core::slurm::cancel(job);
            println!("{who}: no runner watches it; cancelled Slurm job {job}");
            continue;
        }
        let Some(dir) = active.run_dir.as_deref().map(std::path::PathBuf::from) else {
            println!("{who}: it has no run directory to leave the request in");
            continue;
        };
        std::fs::create_dir_all(&dir)?;
        let request = dir.join(STOP_REQUEST_FILE);
        let by = format!("stop requested by `expman stop` ({}@{host})\n", process::user_name());
        std::fs::write(&request, by).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", request.display()))?;
        let runner = active.runner.as_ref().map(|r| format!("pid {} on {}", r.pid, r.host)).unwrap_or_default();
        println!("{who}: asked its runner ({runner}) to stop it");
    }
    if asked == 0 {
        eprintln!("nothing going on matches {}", args.targets.join(", "));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
