//! `expman validate`, `preview`, `schema` and `init`: the config language
//! from the terminal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use expman_schema::secrets::mask;
use expman_schema::{ExpandOptions, FsLoader, SchemaKind, check, schemas, templates, yaml};

use crate::args::{DiagnosticFormat, InitArgs, PreviewArgs, PreviewFormat, SchemaArgs, SchemaName, ValidateArgs};
use crate::output::print_diagnostics;

/// Makes a path absolute so that names (the default experiment name) and
/// messages do not depend on how it was typed.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// Shows `path` relative to the current directory when it lies below it.
pub fn display_relative(analysis: &mut expman_schema::Analysis) {
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    let mut renamed = expman_schema::Sources::new();
    for (_, file) in analysis.sources.iter() {
        let shown = file.path.strip_prefix(&cwd).map(Path::to_path_buf).unwrap_or_else(|_| file.path.clone());
        renamed.add(shown, file.text.clone());
    }
    analysis.sources = renamed;
}

pub fn validate(args: ValidateArgs, color: bool) -> anyhow::Result<ExitCode> {
    let path = absolute(&args.path)?;
    let (mut analysis, expansion) = check(&FsLoader, &path, &args.overrides, ExpandOptions::default());
    display_relative(&mut analysis);
    let ok = !analysis.has_errors();
    let project = &analysis.project;
    let trials = project.trials.len();
    let runs = expansion.runs.len();
    match args.format {
        DiagnosticFormat::Json => {
            let out = serde_json::json!({
                "valid": ok,
                "experiment": project.experiment_name(),
                "trials": trials,
                "runs": runs,
                "searches": expansion.searches.iter().map(|(t, s)| serde_json::json!({"trial": t, "search": s.describe()})).collect::<Vec<_>>(),
                "workspace": project.workspace().display().to_string(),
                "diagnostics": analysis.diagnostics.iter().map(|d| d.to_json(&analysis.sources)).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        DiagnosticFormat::Text => {
            print_diagnostics(&analysis.diagnostics, &analysis.sources, color);
            if ok {
                let warnings = analysis.diagnostics.len();
                let note = if warnings > 0 {
                    format!(" ({warnings} warning{})", if warnings == 1 { "" } else { "s" })
                } else {
                    String::new()
                };
                let searches = match expansion.searches.len() {
                    0 => String::new(),
                    1 => " and 1 search".to_string(),
                    n => format!(" and {n} searches"),
                };
                println!(
                    "ok: experiment `{}`: {trials} trial{}, {runs} run{} to launch{searches}{note}",
                    project.experiment_name(),
                    if trials == 1 { "" } else { "s" },
                    if runs == 1 { "" } else { "s" },
                );
                for (trial, search) in &expansion.searches {
                    println!("  trial `{trial}`: {}", search.describe());
                }
            } else {
                println!("invalid: experiment `{}` has errors (see above)", project.experiment_name());
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub fn preview(args: PreviewArgs, color: bool) -> anyhow::Result<ExitCode> {
    let path = absolute(&args.path)?;
    let options = ExpandOptions { trials: args.trials.clone(), repeat: args.repeat, ..ExpandOptions::default() };
    let (mut analysis, expansion) = check(&FsLoader, &path, &args.overrides, options);
    display_relative(&mut analysis);
    print_diagnostics(&analysis.diagnostics, &analysis.sources, color);
    if analysis.has_errors() {
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
    if expansion.runs.is_empty()
        && let Some(r) = args.repeat
    {
        bail!("no run has repeat {r} (repeats count from 1 up to each trial's `repeat`)");
    }
    let mut out = String::new();
    match args.format {
        PreviewFormat::Yaml => {
            for (i, run) in expansion.runs.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                let _ = writeln!(
                    out,
                    "# trial: {}, repeat {}/{}, seed {}, config {}",
                    run.trial,
                    run.repeat + 1,
                    run.repeats,
                    run.seed,
                    &run.config_hash[..12]
                );
                out.push_str(&yaml::to_yaml(&mask(&run.config)));
            }
        }
        PreviewFormat::Json => {
            let runs: Vec<serde_json::Value> = expansion
                .runs
                .iter()
                .map(|run| {
                    serde_json::json!({
                        "trial": run.trial,
                        "repeat": run.repeat + 1,
                        "repeats": run.repeats,
                        "seed": run.seed,
                        "config_hash": run.config_hash,
                        "config": mask(&run.config).to_json(),
                    })
                })
                .collect();
            out = serde_json::to_string_pretty(&runs)?;
            out.push('\n');
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

pub fn schema(args: SchemaArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.out {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for kind in SchemaKind::ALL {
            let path = dir.join(kind.file_name());
            std::fs::write(&path, kind.text()).with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let kind = match args.which.unwrap_or(SchemaName::Config) {
        SchemaName::Env => SchemaKind::Env,
        SchemaName::Experiment => SchemaKind::Experiment,
        SchemaName::Base => SchemaKind::Base,
        SchemaName::Trials => SchemaKind::Trials,
        SchemaName::Config => SchemaKind::Config,
    };
    print!("{}", schemas::to_file_text(kind.schema()));
    Ok(ExitCode::SUCCESS)
}

pub fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir;
    let name = match args.name {
        Some(n) => n,
        None => std::path::absolute(&dir)?.file_name().and_then(|n| n.to_str()).unwrap_or("experiment").to_string(),
    };
    let files = templates::init_files(&name);
    if !args.force {
        let existing: Vec<String> =
            files.iter().map(|(f, _)| dir.join(f)).filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
        if !existing.is_empty() {
            bail!("{} already exist(s); pass --force to overwrite", existing.join(", "));
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, text) in &files {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("wrote {} files to {}; next: expman validate {}", files.len(), dir.display(), dir.display());
    Ok(ExitCode::SUCCESS)
}
