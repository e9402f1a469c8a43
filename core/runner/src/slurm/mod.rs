//! The Slurm executor (`resources.executor: slurm`): each run becomes a
//! Slurm job, submitted with `sbatch`, watched with `squeue`, cancelled
//! with `scancel`.
//!
//! The job runs a small script written into the run directory
//! (`job.sh`): it sets the run's environment (the same `EXPMAN_*`
//! variables, `PYTHONPATH` and `pipeline.env` as a local run), goes to the
//! working directory, runs `pipeline.command`, and records the program's
//! exit code in `.expman-exit`. The trial reports through the same event
//! file as a local run, over the shared filesystem, so metrics, artifacts,
//! callbacks and early stopping work as they do locally.
//!
//! A job's end is learned from `squeue --json` (one call for every job the
//! runner watches, see [`poller`]), and once the job has left the queue
//! from the exit code file, then Slurm's job completion log (`sacct
//! --completion`; without slurmdbd plain `sacct` does not work).

pub mod poller;
pub mod running;

pub use crate::error::SlurmError;
pub use running::SlurmExecutor;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use expman_schema::model::ResourcesConfig;
use serde_json::Value;

use expman_os::process;

/// The file the job script writes the program's exit code to.
pub const EXIT_FILE: &str = ".expman-exit";
/// The job script in each run directory.
pub const SCRIPT_FILE: &str = "job.sh";

/// What `env.yaml` `resources` asks of Slurm.
#[derive(Clone, Debug, Default)]
pub struct SlurmSettings {
    pub partition: Option<String>,
    pub cpus: Option<u32>,
    pub gpus: Option<u32>,
    pub mem: Option<String>,
    pub time_limit: Option<Duration>,
    pub extra_args: Vec<String>,
}

impl SlurmSettings {
    /// From `resources` (a run's `pipeline.timeout` fills in a missing time
    /// limit at submission).
    pub fn from_resources(r: &ResourcesConfig) -> SlurmSettings {
        SlurmSettings {
            partition: r.partition.clone(),
            cpus: r.cpus_per_run,
            gpus: r.gpus_per_run,
            mem: r.mem_per_run.clone(),
            time_limit: r.time_limit.as_ref().map(|t| t.0),
            extra_args: r.extra_args.clone().unwrap_or_default(),
        }
    }

    /// The `sbatch` arguments for a run (`--parsable`, then the script).
    pub fn sbatch_args(&self, name: &str, run_dir: &Path) -> Vec<String> {
        let dir = run_dir.display().to_string();
        let mut args = vec![
            "--parsable".to_string(),
            "--job-name".into(),
            name.to_string(),
            "--chdir".into(),
            dir.clone(),
            "--output".into(),
            format!("{dir}/stdout.log"),
            "--error".into(),
            format!("{dir}/stderr.log"),
            // The run's environment travels with the job (see `job_env`).
            "--export=ALL".into(),
            // A requeued job would run again into the same run directory
            // and event file; a run that must go again is a new attempt
            // (`--resume`). `extra_args: [--requeue]` overrides this.
            "--no-requeue".into(),
        ];
        if let Some(p) = &self.partition {
            args.extend(["--partition".into(), p.clone()]);
        }
        args.extend(["--cpus-per-task".into(), self.cpus.unwrap_or(1).to_string()]);
        if let Some(g) = self.gpus {
            args.push(format!("--gres=gpu:{g}"));
        }
        if let Some(m) = &self.mem {
            args.extend(["--mem".into(), m.clone()]);
        }
        if let Some(t) = self.time_limit {
            // Whole minutes, rounded up (Slurm's granularity).
            let minutes = t.as_secs().div_ceil(60).max(1);
            args.extend(["--time".into(), minutes.to_string()]);
        }
        args.extend(self.extra_args.iter().cloned());
        args.push(format!("{dir}/{SCRIPT_FILE}"));
        args
    }
}

/// The job's name: where it belongs and which run it is (its id last, so
/// that a runner re-attaching can tell the job is this run's).
pub fn job_name(experiment: &str, trial: &str, repeat: u32, uid: &str) -> String {
    let clean = |s: &str| s.chars().map(|c| if c.is_whitespace() || c == ',' { '_' } else { c }).collect::<String>();
    format!("{}/{}/{}/{uid}", clean(experiment), clean(trial), repeat + 1)
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The job script: the run's working directory, the command, and the exit
/// code into [`EXIT_FILE`]. The environment is not in it (it would put
/// secrets on the shared filesystem): `sbatch --export=ALL` carries the
/// run's environment from the submitting process (see [`job_env`]).
pub fn job_script(uid: &str, workdir: &Path, argv: &[String], run_dir: &Path) -> String {
    let mut s = format!("#!/bin/sh\n# Written by expman for run {uid}: its working directory and command.\n");
    s.push_str(&format!("cd {} || exit 97\n", quote(&workdir.display().to_string())));
    let command: Vec<String> = argv.iter().map(|a| quote(a)).collect();
    s.push_str(&command.join(" "));
    s.push('\n');
    let exit = run_dir.join(EXIT_FILE).display().to_string();
    s.push_str(&format!(
        "code=$?\necho \"$code\" > {}.tmp && mv {}.tmp {}\nexit \"$code\"\n",
        quote(&exit),
        quote(&exit),
        quote(&exit)
    ));
    s
}

/// The environment `sbatch` runs with, and so the job's: the run's, less
/// what the job's node and allocation decide (the runner's own Slurm job
/// variables when it runs inside an allocation, its `TMPDIR`, and the GPUs,
/// which Slurm sets from `--gres`).
pub fn job_env(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let managed =
        |k: &str| k.starts_with("SLURM_") || k.starts_with("SRUN_") || k == "TMPDIR" || k == "CUDA_VISIBLE_DEVICES";
    env.iter().filter(|(k, _)| !managed(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Submits: writes the script (readable by its owner only), runs `sbatch`
/// with the job's environment; the job id.
pub fn submit(
    args: &[String],
    script: &str,
    run_dir: &Path,
    env: &BTreeMap<String, String>,
) -> Result<String, SlurmError> {
    use std::os::unix::fs::PermissionsExt;
    let path = run_dir.join(SCRIPT_FILE);
    if let Err(source) = std::fs::write(&path, script) {
        return Err(SlurmError::WriteScript { path, source });
    }
    if let Err(source) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)) {
        return Err(SlurmError::ScriptMode { path, source });
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = process::tool("sbatch", &refs, run_dir)
        .env_clear()
        .envs(job_env(env))
        .output()
        .map_err(|source| SlurmError::CannotRun { program: "sbatch", source })?;
    if !out.status.success() {
        return Err(SlurmError::Refused { stderr: String::from_utf8_lossy(&out.stderr).trim().to_string() });
    }
    // `ID` or `ID;cluster`.
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        return Err(SlurmError::NoJobId { stdout: text.trim().to_string() });
    }
    Ok(id)
}

/// Cancels a job (`scancel`: SIGTERM to the job and its steps, SIGKILL
/// after the cluster's `KillWait`; the job ends CANCELLED).
pub fn cancel(job: &str) {
    cancel_all(&[job.to_string()]);
}

/// Cancels jobs, all in one `scancel` call.
pub fn cancel_all(jobs: &[String]) {
    if jobs.is_empty() {
        return;
    }
    let refs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    match process::tool("scancel", &refs, Path::new("/")).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => tracing::warn!("scancel {}: {}", jobs.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => tracing::warn!("cannot run scancel: {e}"),
    }
}

/// Multi-cluster submission (`sbatch -M`) is not supported: the job ids
/// the runner keeps would not name a cluster.
pub fn check_extra_args(args: &[String]) -> Result<(), SlurmError> {
    match args.iter().find(|a| *a == "-M" || a.starts_with("--clusters") || (a.starts_with("-M") && a.len() > 2)) {
        Some(arg) => Err(SlurmError::SeveralClusters { arg: arg.clone() }),
        None => Ok(()),
    }
}

/// Where a job is in its life, as Slurm says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    Timeout,
    /// NODE_FAIL, BOOT_FAIL, OUT_OF_MEMORY, PREEMPTED, DEADLINE, ...: ended, not by the program.
    Ended(String),
}

impl JobState {
    pub fn parse(text: &str) -> JobState {
        match text.trim().to_ascii_uppercase().as_str() {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESIZING" | "SUSPENDED"
            | "STOPPED" | "SIGNALING" | "STAGE_OUT" | "RESV_DEL_HOLD" => JobState::Pending,
            "RUNNING" | "COMPLETING" => JobState::Running,
            "COMPLETED" => JobState::Completed,
            "FAILED" => JobState::Failed,
            "CANCELLED" => JobState::Cancelled,
            "TIMEOUT" => JobState::Timeout,
            other => JobState::Ended(other.to_string()),
        }
    }

    /// Slurm 23.02 and later: the base state, then flags. A job that has a
    /// final base state but is still completing (its processes handling
    /// SIGTERM) has not ended; a requeued one is pending again.
    pub fn with_flags(states: &[&str]) -> JobState {
        let base = JobState::parse(states.first().copied().unwrap_or("PENDING"));
        let flag =
            |names: &[&str]| states.iter().skip(1).any(|s| names.contains(&s.trim().to_ascii_uppercase().as_str()));
        if flag(&["REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "REQUEUE_CRON"]) {
            JobState::Pending
        } else if base.is_final() && flag(&["COMPLETING", "STAGE_OUT", "SIGNALING"]) {
            JobState::Running
        } else {
            base
        }
    }

    pub fn is_final(&self) -> bool {
        !matches!(self, JobState::Pending | JobState::Running)
    }
}

/// A job as Slurm reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobInfo {
    pub state: JobState,
    /// (exit code, signal).
    pub exit: Option<(i32, i32)>,
    pub reason: Option<String>,
    pub name: Option<String>,
}

/// Every given job's state, in one `squeue --json` call. Jobs that have
/// left the queue are absent.
pub fn query(jobs: &[String]) -> Result<HashMap<String, JobInfo>, SlurmError> {
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    let list = jobs.join(",");
    let out = process::tool("squeue", &["--json", "-t", "all", "-j", &list], Path::new("/"))
        .output()
        .map_err(|source| SlurmError::CannotRun { program: "squeue", source })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // Every job of the list gone from the queue: squeue says "Invalid job id".
        if err.contains("Invalid job id") {
            return Ok(HashMap::new());
        }
        return Err(SlurmError::Failed { program: "squeue", stderr: err.trim().to_string() });
    }
    parse_squeue(&String::from_utf8_lossy(&out.stdout))
}

/// Reads `squeue --json`: Slurm 22.05 (`job_state` a string, `exit_code` a
/// wait status) and later versions (`job_state` a list, `exit_code` an object).
pub fn parse_squeue(json: &str) -> Result<HashMap<String, JobInfo>, SlurmError> {
    let value: Value = serde_json::from_str(json).map_err(|source| SlurmError::NotJson { source })?;
    let mut out = HashMap::new();
    for job in value["jobs"].as_array().into_iter().flatten() {
        let id = match &job["job_id"] {
            Value::Number(n) => n.to_string(),
            Value::Object(o) => o.get("number").map(|n| n.to_string()).unwrap_or_default(),
            other => other.as_str().unwrap_or_default().to_string(),
        };
        let state = match &job["job_state"] {
            Value::String(s) => JobState::parse(s),
            Value::Array(a) => JobState::with_flags(&a.iter().filter_map(Value::as_str).collect::<Vec<_>>()),
            _ => JobState::Pending,
        };
        let exit = match &job["exit_code"] {
            Value::Number(n) => n.as_i64().map(|raw| wait_status(raw as i32)),
            Value::Object(o) => {
                let code = o.get("return_code").and_then(|r| r.get("number").or(Some(r))).and_then(Value::as_i64);
                let signal = o
                    .get("signal")
                    .and_then(|s| s.get("id"))
                    .and_then(|s| s.get("number").or(Some(s)))
                    .and_then(Value::as_i64);
                code.map(|c| (c as i32, signal.unwrap_or(0) as i32))
            }
            _ => None,
        };
        let reason = job["state_reason"].as_str().filter(|r| *r != "None").map(str::to_string);
        let name = job["name"].as_str().map(str::to_string);
        out.insert(id, JobInfo { state, exit, reason, name });
    }
    Ok(out)
}

/// (exit code, signal) of a raw wait status.
fn wait_status(raw: i32) -> (i32, i32) {
    ((raw >> 8) & 0xff, raw & 0x7f)
}

/// Where a watched job stands, from what `squeue` said of it (`None`:
/// not in the queue) and what it left in its run directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Queued or running.
    Alive(JobInfo),
    Ended(JobInfo),
    /// Neither in the queue nor anywhere else.
    Unknown,
}

/// See [`Standing`]. For an ended job the exit code the job script wrote
/// is the program's own, so it wins over Slurm's.
pub fn standing(job: &str, queued: Option<&JobInfo>, run_dir: &Path) -> Standing {
    // A job id Slurm gave again to another job (its state was wiped, or
    // the ids wrapped) is not this run's: the job name ends with the run id.
    match queued.filter(|info| belongs(info, run_dir)) {
        Some(info) if !info.state.is_final() => Standing::Alive(info.clone()),
        Some(info) => {
            let mut info = info.clone();
            if let Some(code) = exit_file(run_dir) {
                info.exit = Some((code, 0));
            }
            Standing::Ended(info)
        }
        None => final_state(job, run_dir).map_or(Standing::Unknown, Standing::Ended),
    }
}

/// Whether a job Slurm reports is the run's (of the run directory
/// `.../<uid>`), by its name; a job without a name in the report is taken
/// to be.
fn belongs(info: &JobInfo, run_dir: &Path) -> bool {
    let uid = run_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    info.name.as_deref().is_none_or(|name| is_run_job(name, uid))
}

/// Whether a job name is the one [`job_name`] gives run `uid`.
pub fn is_run_job(name: &str, uid: &str) -> bool {
    !uid.is_empty() && name.strip_suffix(uid).is_some_and(|rest| rest.ends_with('/'))
}

/// Whether `job` is still queued or running as run `uid`'s job.
pub fn is_alive_as(job: &str, uid: &str) -> bool {
    query(&[job.to_string()])
        .ok()
        .and_then(|mut found| found.remove(job))
        .is_some_and(|info| !info.state.is_final() && info.name.as_deref().is_some_and(|name| is_run_job(name, uid)))
}

/// How a job that has left the queue ended: the exit code the job script
/// wrote, else Slurm's job completion log.
pub fn final_state(job: &str, run_dir: &Path) -> Option<JobInfo> {
    if let Some(code) = exit_file(run_dir) {
        let state = if code == 0 { JobState::Completed } else { JobState::Failed };
        return Some(JobInfo { state, exit: Some((code, 0)), reason: None, name: None });
    }
    completion(job)
}

/// The exit code the job script wrote, if it got that far.
pub fn exit_file(run_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(run_dir.join(EXIT_FILE)).ok()?.trim().parse().ok()
}

/// How an ended job ended, from Slurm's accounting (`sacct`), else, on
/// clusters without slurmdbd, from its job completion log (`sacct
/// --completion`): state and `code:signal`.
pub fn completion(job: &str) -> Option<JobInfo> {
    let fields = ["-j", job, "-o", "JobID,State,ExitCode", "-P", "-n"];
    let accounting = [&["-X"][..], &fields[..]].concat();
    let log = [&["--completion"][..], &fields[..]].concat();
    [accounting, log].iter().find_map(|args| {
        let out = process::tool("sacct", args, Path::new("/")).output().ok()?;
        if !out.status.success() {
            return None;
        }
        parse_sacct(job, &String::from_utf8_lossy(&out.stdout))
    })
}

/// The last `JobID|State|ExitCode` line of `job` (`CANCELLED by 0` reads
/// as CANCELLED).
fn parse_sacct(job: &str, text: &str) -> Option<JobInfo> {
    let line = text.lines().rev().find(|l| l.split('|').next() == Some(job))?;
    let mut parts = line.split('|');
    let _ = parts.next();
    let state = JobState::parse(parts.next()?.split_whitespace().next()?);
    let exit = parts.next().and_then(|e| {
        let (code, signal) = e.trim().split_once(':')?;
        Some((code.parse().ok()?, signal.parse().ok()?))
    });
    Some(JobInfo { state, exit, reason: None, name: None })
}

/// Whether this machine can talk to Slurm (`squeue` on PATH).
pub fn available() -> bool {
    process::tool("squeue", &["--version"], Path::new("/")).output().is_ok_and(|o| o.status.success())
}

/// The run directory of a job script path, for messages.
pub fn script_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SCRIPT_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_json_of_two_slurm_versions() {
        let old = r#"{"jobs": [{"job_id": 7, "job_state": "FAILED", "exit_code": 1792, "state_reason": "NonZeroExitCode", "name": "e/t/1/abc"},
                               {"job_id": 8, "job_state": "RUNNING", "exit_code": 0, "state_reason": "None"}]}"#;
        let jobs = parse_squeue(old).unwrap();
        assert_eq!(jobs["7"].state, JobState::Failed);
        assert_eq!(jobs["7"].exit, Some((7, 0)));
        assert_eq!(jobs["7"].reason.as_deref(), Some("NonZeroExitCode"));
        assert_eq!(jobs["8"].state, JobState::Running);
        assert_eq!(jobs["8"].reason, None);
        let new = r#"{"jobs": [{"job_id": 9, "job_state": ["TIMEOUT"], "exit_code": {"status": ["SIGNALED"], "return_code": {"set": true, "number": 0}, "signal": {"id": {"set": true, "number": 15}}}}]}"#;
        let jobs = parse_squeue(new).unwrap();
        assert_eq!(jobs["9"].state, JobState::Timeout);
        assert_eq!(jobs["9"].exit, Some((0, 15)));
        assert_eq!(JobState::parse("NODE_FAIL"), JobState::Ended("NODE_FAIL".into()));
        assert_eq!(JobState::with_flags(&["CANCELLED", "COMPLETING"]), JobState::Running, "still shutting down");
        assert_eq!(JobState::with_flags(&["NODE_FAIL", "REQUEUED"]), JobState::Pending);
        assert_eq!(JobState::with_flags(&["COMPLETED"]), JobState::Completed);
        assert!(!JobState::parse("COMPLETING").is_final());
    }

    #[test]
    fn a_reused_job_id_is_not_the_run_s() {
        let other = JobInfo { state: JobState::Running, exit: None, reason: None, name: Some("x/y/1/zzz".into()) };
        let dir = Path::new("/w/exp/t/abc123");
        assert!(!belongs(&other, dir));
        let mine = JobInfo { name: Some("x/y/1/abc123".into()), ..other };
        assert!(belongs(&mine, dir));
        assert_eq!(standing("5", Some(&mine), dir), Standing::Alive(mine.clone()));
        assert!(is_run_job("e/t/1/abc", "abc") && !is_run_job("e/t/1/xabc", "abc") && !is_run_job("abc", ""));
    }

    #[test]
    fn several_clusters_are_refused() {
        assert!(check_extra_args(&["--qos=short".into(), "--account=ml".into()]).is_ok());
        for arg in ["-M", "-Mgpu", "--clusters=a,b"] {
            assert!(check_extra_args(&[arg.to_string()]).unwrap_err().to_string().contains("not supported"), "{arg}");
        }
    }

    #[test]
    fn sacct_lines() {
        let text = "12|COMPLETED|0:0\n13|CANCELLED by 0|0:15\n13|CANCELLED by 0|0:15\n";
        assert_eq!(parse_sacct("13", text).map(|i| (i.state, i.exit)), Some((JobState::Cancelled, Some((0, 15)))));
        assert_eq!(parse_sacct("1", text), None);
    }

    #[test]
    fn sbatch_arguments_and_the_job_script() {
        let settings = SlurmSettings {
            partition: Some("gpu".into()),
            cpus: Some(4),
            gpus: Some(1),
            mem: Some("8G".into()),
            time_limit: Some(Duration::from_secs(90)),
            extra_args: vec!["--qos=short".into()],
        };
        let args = settings.sbatch_args("exp/t/1/abc", Path::new("/w/exp/t/abc"));
        assert_eq!(
            args.join(" "),
            "--parsable --job-name exp/t/1/abc --chdir /w/exp/t/abc --output /w/exp/t/abc/stdout.log \
             --error /w/exp/t/abc/stderr.log --export=ALL --no-requeue --partition gpu --cpus-per-task 4 --gres=gpu:1 --mem 8G --time 2 \
             --qos=short /w/exp/t/abc/job.sh"
        );
        let script = job_script("abc", Path::new("/w/it's"), &["python".into(), "train.py".into()], Path::new("/w/r"));
        assert!(script.contains("cd '/w/it'\\''s' || exit 97\n'python' 'train.py'\ncode=$?\n"), "{script}");
        let env = BTreeMap::from([
            ("A".to_string(), "1".to_string()),
            ("CUDA_VISIBLE_DEVICES".into(), "0".into()),
            ("SLURM_JOB_ID".into(), "7".into()),
            ("TMPDIR".into(), "/tmp/x".into()),
        ]);
        assert_eq!(job_env(&env).into_keys().collect::<Vec<_>>(), ["A"], "Slurm and the node set the others");
        assert_eq!(job_name("my exp", "lr[a=1,b=2]", 0, "u1"), "my_exp/lr[a=1_b=2]/1/u1");
    }
}
