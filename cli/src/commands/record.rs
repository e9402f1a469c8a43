//! `expman runs` and `expman show`: what the record holds.

use std::process::ExitCode;

use anyhow::Context;
use expman_os::format::format_number;
use expman_os::time::{format_duration, format_utc};
use expman_runner::workspace::{Locate, Workspace};
use expman_store::Store;

use crate::args::{RecordArgs, ShowArgs};

/// The workspace a record-reading command means, opened (recovering runs
/// whose runner died).
/// The workspace and the record as it reads: with a team database,
/// everyone's runs (the replica brought up to date first).
pub fn open_view(record: &RecordArgs) -> anyhow::Result<Store> {
    let workspace = locate(record)?;
    if !workspace.has_database() {
        anyhow::bail!(
            "no database at {} yet: run an experiment first (`expman run CONFIG_DIR`)",
            workspace.database.display()
        );
    }
    workspace.open_view().with_context(|| format!("cannot open {}", workspace.database.display()))
}

/// The workspace and its local record (for commands that act on this
/// machine's runs).
pub fn open_record(record: &RecordArgs) -> anyhow::Result<(Workspace, Store)> {
    let workspace = locate(record)?;
    if !workspace.has_database() {
        anyhow::bail!(
            "no database at {} yet: run an experiment first (`expman run CONFIG_DIR`)",
            workspace.database.display()
        );
    }
    let store = workspace.open_store().with_context(|| format!("cannot open {}", workspace.database.display()))?;
    Ok((workspace, store))
}

pub fn locate(record: &RecordArgs) -> anyhow::Result<Workspace> {
    let locate = Locate {
        workspace: record.workspace.clone(),
        dir: record.dir.clone(),
        env_workspace: None,
        cwd: std::env::current_dir().context("cannot read the current directory")?,
    };
    Ok(Workspace::locate(&locate)?)
}

fn duration_of(started: Option<i64>, ended: Option<i64>) -> Option<std::time::Duration> {
    match (started, ended) {
        (Some(s), Some(e)) if e >= s => Some(std::time::Duration::from_millis((e - s) as u64)),
        (Some(s), None) => Some(std::time::Duration::from_millis((expman_os::time::now_ms() - s).max(0) as u64)),
        _ => None,
    }
}

/// `writeln!` into a `String` (which cannot fail).
macro_rules! say {
    ($out:ident) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out);
    }};
    ($out:ident, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    print!("{}", show_text(&args)?);
    Ok(ExitCode::SUCCESS)
}

/// Everything about one run, as `expman show` prints it.
pub fn show_text(args: &ShowArgs) -> anyhow::Result<String> {
    let mut out = String::new();
    let store = open_view(&args.record)?;
    let run = store.resolve_run(&args.run)?;
    let d = store.run_detail(&run)?;
    let r = &d.row;
    say!(out, "run {}  ({} / {} / repeat {})", r.uid, r.experiment, r.trial, r.repeat + 1);
    say!(out, "status     {}", r.status);
    if let Some(e) = &r.error {
        say!(out, "error      {}", e.replace('\n', "\n           "));
    }
    say!(out, "created    {} UTC", format_utc(r.created_at));
    if let Some(s) = r.started_at {
        say!(out, "started    {} UTC", format_utc(s));
    }
    if let Some(e) = r.ended_at {
        say!(out, "ended      {} UTC", format_utc(e));
    }
    if let Some(dur) = duration_of(r.started_at, r.ended_at) {
        say!(out, "duration   {}", format_duration(dur));
    }
    if let Some(c) = r.exit_code {
        say!(out, "exit code  {c}");
    }
    if let Some(s) = d.signal {
        say!(out, "signal     {}", expman_os::process::describe_signal(s as i32));
    }
    say!(out, "seed       {}", r.seed.map(|s| s.to_string()).unwrap_or_default());
    say!(out, "config     {}", r.config_hash);
    if let Some(cmd) = &d.command {
        say!(out, "command    {cmd}");
    }
    if let Some(host) = &r.host {
        say!(out, "host       {host}");
    }
    if let Some(commit) = &d.git_commit {
        say!(out, "git        {commit}{}", if d.git_dirty == Some(true) { " (dirty)" } else { "" });
    }
    if let Some(dir) = &r.run_dir {
        say!(out, "directory  {dir}");
    }
    if let Some((_, parent)) = d.tags.iter().find(|(k, _)| k == expman_runner::direct::PARENT_TAG) {
        let trial = store
            .resolve_run(parent)
            .ok()
            .and_then(|p| store.runs_by_id(&[p.id]).ok())
            .and_then(|rows| rows.into_iter().next().map(|row| format!(" ({})", row.trial)));
        say!(out, "parent     {parent}{}", trial.unwrap_or_default());
    }
    let children = store.child_runs(&r.uid)?;
    if !children.is_empty() {
        say!(out, "children   {}", children.len());
        for (uid, trial, status) in &children {
            say!(out, "  {uid}  {trial:<20} {status}");
        }
    }
    if d.malformed_lines > 0 {
        say!(out, "malformed  {} event line(s) skipped", d.malformed_lines);
    }
    let finals = store.final_metrics(&[run.id])?;
    if let Some(values) = finals.get(&run.id).filter(|v| !v.is_empty()) {
        say!(out, "\nfinal metrics");
        for (k, v) in values {
            let n = store.metric_series(run.id, k)?.values.len();
            say!(out, "  {k:<24} {}  ({n} points)", format_number(*v));
        }
    }
    if !d.tags.is_empty() {
        say!(out, "\ntags");
        for (k, v) in &d.tags {
            say!(out, "  {k:<24} {v}");
        }
    }
    let run_dir = r.run_dir.clone().unwrap_or_default();
    let short = |p: &str| -> String {
        std::path::Path::new(p)
            .strip_prefix(&run_dir)
            .map(|rel| rel.display().to_string())
            .unwrap_or_else(|_| p.to_string())
    };
    if !d.artifacts.is_empty() {
        say!(out, "\nartifacts");
        for (path, kind, size, sha) in &d.artifacts {
            let path = short(path);
            let sha = sha.as_deref().map(|s| format!("  sha256 {}", &s[..12.min(s.len())])).unwrap_or_default();
            say!(
                out,
                "  {path:<40} {kind:<14} {}{sha}",
                size.map(|s| format!("{s} bytes")).unwrap_or_else(|| "missing".into())
            );
        }
    }
    if !d.deleted_artifacts.is_empty() {
        let names: Vec<String> = d.deleted_artifacts.iter().take(4).map(|p| short(p)).collect();
        let more = d.deleted_artifacts.len().saturating_sub(names.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        say!(out, "  ({} deleted by the checkpoint policy: {}{more})", d.deleted_artifacts.len(), names.join(", "));
    }
    let aliases: Vec<String> = store
        .aliases(None)?
        .into_iter()
        .filter(|a| a.run.id == run.id)
        .map(|a| format!("{} → {}", a.name, short(&a.artifact.path)))
        .collect();
    if !aliases.is_empty() {
        say!(out, "  (named: {})", aliases.join(", "));
    }
    let inputs = store.run_inputs(run.id)?;
    if !inputs.is_empty() {
        say!(out, "\ninputs (what it used)");
        for i in &inputs {
            let from = i.source_run.as_ref().map(|s| format!("  from run {}", s.uid)).unwrap_or_default();
            say!(
                out,
                "  {:<16} {:<10} {}  sha256 {}{from}",
                i.name,
                i.kind,
                i.reference,
                &i.sha256[..12.min(i.sha256.len())]
            );
        }
    }
    let used_by = store.runs_using(run.id)?;
    if !used_by.is_empty() {
        say!(out, "\nused by (`expman lineage {}` for the whole graph)", r.uid);
        for u in &used_by {
            say!(out, "  run {}  {} / {}  as `{}`", u.run.uid, u.experiment, u.trial, u.input.name);
        }
    }
    if let Some(r) = &d.resources {
        use expman_os::format::format_bytes;
        say!(out, "\nresources ({} sample(s))", r.samples);
        say!(out, "  wall time  {}", format_duration(std::time::Duration::from_millis(r.wall_ms.max(0) as u64)));
        if let Some(cpu) = r.cpu_ms {
            say!(out, "  cpu time   {}", format_duration(std::time::Duration::from_millis(cpu.max(0) as u64)));
        }
        if let (Some(mean), Some(peak)) = (r.mean_cpu_percent, r.peak_cpu_percent) {
            say!(out, "  cpu        {mean:.0}% mean, {peak:.0}% peak");
        }
        if let Some(rss) = r.peak_rss {
            say!(out, "  peak rss   {}", format_bytes(rss.max(0) as u64));
        }
        if let (Some(mean), Some(peak)) = (r.mean_gpu_util, r.peak_gpu_util) {
            say!(out, "  gpu        {mean:.0}% mean, {peak:.0}% peak");
        }
        if let Some(peak) = r.peak_gpu_mem {
            let mean = r.mean_gpu_mem.map(|m| format_bytes(m.max(0) as u64)).unwrap_or_default();
            say!(out, "  gpu memory {mean} mean, {} peak", format_bytes(peak.max(0) as u64));
        }
    }
    if let Some(c) = &d.capture {
        say!(out, "\nreproduce");
        if let Some(branch) = &c.git_branch {
            say!(out, "  git branch {branch}");
        }
        let host: serde_json::Value = serde_json::from_str(&c.host).unwrap_or_default();
        if let Some(os) = host["os"].as_str() {
            say!(
                out,
                "  host       {} ({os}, kernel {})",
                host["host"].as_str().unwrap_or("?"),
                host["kernel"].as_str().unwrap_or("?")
            );
        }
        if let Some(cpu) = host["cpu_model"].as_str() {
            say!(out, "  cpu        {cpu} ({} cores)", host["cpus"]);
        }
        if let Some(gpus) = host["gpus"].as_array().filter(|g| !g.is_empty()) {
            let names: Vec<&str> = gpus.iter().filter_map(|g| g.as_str()).collect();
            say!(out, "  gpus       {} (driver {})", names.join(", "), host["gpu_driver"].as_str().unwrap_or("?"));
        }
        say!(out, "  expman     {}", c.expman_version);
        let env: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&c.env).unwrap_or_default();
        if !env.is_empty() {
            say!(out, "  environment set by expman:");
            for (k, v) in &env {
                say!(out, "    {k}={}", v.as_str().unwrap_or_default());
            }
        }
    }
    say!(out, "\nconfig (resolved, secrets masked)");
    let config: serde_json::Value = serde_json::from_str(&d.config).unwrap_or_default();
    let text = expman_schema::yaml::to_yaml(&expman_schema::Node::from_json(&config));
    for line in text.lines() {
        say!(out, "  {line}");
    }
    Ok(out)
}
