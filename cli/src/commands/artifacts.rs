//! `expman artifacts` and `expman gc`: the workspace's artifact store
//! (expman-blobs) as the record sees it.
//!
//! An artifact is named by its run and the path the run recorded; that
//! path is only ever compared with the record's paths, never opened as it
//! is given, so `get` cannot be pointed outside what a run recorded.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use expman_blobs::{BlobStore, Key};
use expman_os::format::format_bytes;
use expman_runner::artifacts::{KEY_VAR, absorb_run, find_artifact, shown_path};
use expman_store::{ArtifactRow, RunRef, Store};

use crate::args::{
    ArtifactsAliasesArgs, ArtifactsCommand, ArtifactsGetArgs, ArtifactsListArgs, ArtifactsPushArgs, ArtifactsTagArgs,
    GcArgs, HwFormat,
};
use crate::commands::record::{open_record, open_view};

pub fn artifacts(command: ArtifactsCommand) -> anyhow::Result<ExitCode> {
    if let ArtifactsCommand::Get(args) = &command
        && args.out.as_deref() == Some(Path::new("-"))
    {
        return get_to_stdout(args);
    }
    let (text, ok) = answer(command, &mut |line| eprintln!("{line}"))?;
    print!("{text}");
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What an `artifacts` subcommand answers, as text, and whether it fully
/// succeeded; `progress` gets lines along the way (downloads, uploads).
/// The CLI prints it; `%expman artifacts ...` shows it in the cell.
pub fn answer(command: ArtifactsCommand, progress: &mut dyn FnMut(&str)) -> anyhow::Result<(String, bool)> {
    match command {
        ArtifactsCommand::List(args) => {
            let listing = listing(&args)?;
            let text = if args.format == HwFormat::Json {
                serde_json::to_string_pretty(&listing)? + "\n"
            } else {
                listing_text(&listing)
            };
            Ok((text, true))
        }
        ArtifactsCommand::Get(args) => {
            if args.out.as_deref() == Some(Path::new("-")) {
                bail!("`--out -` writes to standard output, which a notebook does not have: give a file");
            }
            let got = get_file(&args, progress)?;
            Ok((got.said + "\n", true))
        }
        ArtifactsCommand::Tag(args) => Ok((tag(&args)?, true)),
        ArtifactsCommand::Aliases(args) => Ok((aliases(&args)?, true)),
        ArtifactsCommand::Push(args) => push(&args, progress),
        ArtifactsCommand::Keygen => Ok((format!("{}\n", Key::generate()?.to_hex()), true)),
    }
}

/// Where an artifact's content is now.
fn whereabouts(blobs: &BlobStore, run_dir: Option<&str>, row: &ArtifactRow) -> &'static str {
    if row.deleted {
        return "deleted";
    }
    match row.sha256.as_deref().map(|d| blobs.locate(d)) {
        Some(Ok(Some((_, true)))) => "stored, encrypted",
        Some(Ok(Some(_))) => "stored",
        _ if run_dir.is_some_and(|dir| Path::new(dir).join(&row.path).is_file()) || Path::new(&row.path).is_file() => {
            "run directory"
        }
        _ => "missing",
    }
}

fn run_artifacts(store: &Store, run: &RunRef) -> anyhow::Result<(Option<String>, Vec<ArtifactRow>)> {
    let detail = store.run_detail(run)?;
    Ok((detail.row.run_dir.clone(), store.run_artifacts(run.id)?))
}

/// A run's artifacts as JSON (`{"run", "artifacts": [{"path", "recorded_path",
/// "kind", "size", "sha256", "epoch", "where"}]}`): what `expman artifacts
/// list`, `%expman artifacts list` and `expman.artifacts()` show.
pub fn listing(args: &ArtifactsListArgs) -> anyhow::Result<serde_json::Value> {
    let workspace = crate::commands::record::locate(&args.record)?;
    let store = open_view(&args.record)?;
    let run = store.resolve_run(&args.run)?;
    let (run_dir, rows) = run_artifacts(&store, &run)?;
    let blobs = BlobStore::for_workspace(&workspace.root);
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|a| {
            serde_json::json!({
                "path": shown_path(run_dir.as_deref().map(Path::new), &a.path),
                "recorded_path": a.path,
                "kind": a.kind,
                "size": a.size,
                "sha256": a.sha256,
                "epoch": a.epoch,
                "where": whereabouts(&blobs, run_dir.as_deref(), a),
            })
        })
        .collect();
    Ok(serde_json::json!({"run": run.uid, "artifacts": items}))
}

/// [`listing`] as a table.
pub fn listing_text(listing: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let run = listing["run"].as_str().unwrap_or_default();
    let rows = listing["artifacts"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        return format!("run {run} recorded no artifacts\n");
    }
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let width = rows.iter().map(|a| text(a, "path").len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<width$}  {:<12}  {:>10}  {:<12}  where\n", "path", "kind", "size", "sha256");
    for a in &rows {
        let size = a["size"].as_i64().map(|s| format_bytes(s.max(0) as u64)).unwrap_or_default();
        let digest = text(a, "sha256");
        let digest = &digest[..digest.len().min(12)];
        let _ = writeln!(
            out,
            "{:<width$}  {:<12}  {size:>10}  {digest:<12}  {}",
            text(a, "path"),
            text(a, "kind"),
            text(a, "where")
        );
    }
    out
}

/// The key to read an encrypted store with: `--key-file`, else
/// `EXPMAN_ARTIFACT_KEY`, else none.
fn reading_key(key_file: Option<&Path>) -> anyhow::Result<Option<Key>> {
    if let Some(path) = key_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the key file {}", path.display()))?;
        return Ok(Some(Key::from_hex(&text, &path.display().to_string())?));
    }
    match std::env::var(KEY_VAR) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(Key::from_hex(&text, KEY_VAR)?)),
        _ => Ok(None),
    }
}

/// The artifact a `RUN PATH` (or `alias:NAME`) names, with its run and
/// the run's directory.
fn named_artifact(
    store: &Store,
    run: &str,
    path: Option<&str>,
) -> anyhow::Result<(RunRef, Option<String>, ArtifactRow)> {
    if let Some(name) = run.strip_prefix("alias:") {
        if path.is_some() {
            bail!("`alias:{name}` names one artifact already; give no path after it");
        }
        let alias = store.aliases(Some(name))?.into_iter().next().with_context(|| {
            format!("no artifact is named `{name}` (`expman artifacts tag RUN PATH {name}` names one)")
        })?;
        let run_dir = store.run_detail(&alias.run)?.row.run_dir;
        return Ok((alias.run, run_dir, alias.artifact));
    }
    let Some(path) = path else { bail!("which artifact of run {run}? give its path (`expman artifacts list {run}`)") };
    let run = store.resolve_run(run)?;
    let (run_dir, rows) = run_artifacts(store, &run)?;
    let Some(row) = find_artifact(&rows, run_dir.as_deref().map(Path::new), path) else {
        let known: Vec<String> = rows
            .iter()
            .filter(|a| !a.deleted)
            .map(|a| shown_path(run_dir.as_deref().map(Path::new), &a.path))
            .collect();
        bail!(
            "run {} recorded no artifact `{path}`; it has: {}",
            run.uid,
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        );
    };
    if row.deleted {
        bail!("artifact {path} of run {} was deleted (by the checkpoint policy); its content is gone", run.uid);
    }
    let row = row.clone();
    Ok((run, run_dir, row))
}

fn get_to_stdout(args: &ArtifactsGetArgs) -> anyhow::Result<ExitCode> {
    {
        let (what, _, source) = locate_content(args, &mut |line| eprintln!("{line}"))?;
        match source {
            Content::Blob(blobs, digest) => {
                blobs.copy_out(&digest, &mut std::io::stdout().lock(), &what)?;
            }
            Content::File(file) => {
                let mut input =
                    std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
                std::io::copy(&mut input, &mut std::io::stdout().lock())?;
            }
        }
        std::io::stdout().flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// An artifact written to a file by [`get_file`].
#[derive(Debug)]
pub struct GotFile {
    pub path: PathBuf,
    pub size: u64,
    /// What happened, in a sentence (`wrote model.json (1.2 KiB), SHA-256 checked`).
    pub said: String,
}

/// Where an artifact's content is read from.
enum Content {
    /// A blob of the store (fetched from the remote first if need be).
    Blob(BlobStore, String),
    /// The run directory's file, checked against the recorded digest.
    File(PathBuf),
}

/// Finds the content of the artifact `args` names: the store (after
/// fetching it from the remote when it is not here), else the run's file
/// when it still has the recorded content. With its description.
fn locate_content(
    args: &ArtifactsGetArgs,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<(String, String, Content)> {
    let workspace = crate::commands::record::locate(&args.record)?;
    let store = open_view(&args.record)?;
    let (run, run_dir, row) = named_artifact(&store, &args.run, args.path.as_deref())?;
    let shown = shown_path(run_dir.as_deref().map(Path::new), &row.path);
    let what = format!("artifact {shown} of run {}", run.uid);
    let blobs = BlobStore::for_workspace(&workspace.root).with_key(reading_key(args.key_file.as_deref())?);
    // Not here (a run recorded on another machine of the team): from the
    // remote copy of the store, when there is one.
    if let Some(digest) = row.sha256.as_deref()
        && !blobs.contains(digest)
        && let Some(remote) = &workspace.remote
    {
        fetch(remote, &blobs, digest, &what, progress)?;
    }
    if let Some(digest) = row.sha256.clone()
        && blobs.contains(&digest)
    {
        return Ok((what, shown, Content::Blob(blobs, digest)));
    }
    // Not stored yet (the run goes on, or ended before the store existed):
    // the run directory's file, if it still has the recorded content.
    let file = match run_dir.as_deref() {
        Some(dir) if !Path::new(&row.path).is_absolute() => Path::new(dir).join(&row.path),
        _ => PathBuf::from(&row.path),
    };
    if !file.is_file() {
        bail!(
            "{what}: its content is neither in this workspace's store ({}) nor at {} (a run recorded on another machine?)",
            blobs.root().display(),
            file.display()
        );
    }
    let (_, digest) = expman_blobs::hash_file(&file)?;
    if row.sha256.as_deref().is_some_and(|d| d != digest) {
        bail!("{what}: {} was changed after the run recorded it (SHA-256 differs); not copied", file.display());
    }
    Ok((what, shown, Content::File(file)))
}

/// Writes the artifact `args` names to `--out` (default: its file name in
/// the current directory), checked: `expman artifacts get`, `%expman
/// artifacts get` and `expman.get_artifact()`.
pub fn get_file(args: &ArtifactsGetArgs, progress: &mut dyn FnMut(&str)) -> anyhow::Result<GotFile> {
    let (what, shown, source) = locate_content(args, progress)?;
    let out: PathBuf = match &args.out {
        Some(p) => p.clone(),
        None => PathBuf::from(Path::new(&shown).file_name().context("the artifact's path has no file name")?),
    };
    if out.exists() && !args.force {
        bail!("{} exists; give another `--out`, or `--force` to write over it", out.display());
    }
    let (size, from) = match source {
        Content::Blob(blobs, digest) => (blobs.read_to(&digest, &out, &what)?, "SHA-256 checked"),
        Content::File(file) => {
            let size = std::fs::copy(&file, &out).with_context(|| format!("cannot write {}", out.display()))?;
            (size, "from the run directory, SHA-256 checked")
        }
    };
    let said = format!("wrote {} ({}), {from}", out.display(), format_bytes(size));
    Ok(GotFile { path: out, size, said })
}

fn tag(args: &ArtifactsTagArgs) -> anyhow::Result<String> {
    let name = args.name.as_str();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        bail!("`{name}` cannot be an artifact name: use letters, digits, `-`, `_` and `.`");
    }
    let (_, mut store) = open_record(&args.record)?;
    let (run, run_dir, row) = named_artifact(&store, &args.run, Some(&args.path))?;
    let before = store.aliases(Some(name))?.into_iter().next();
    store.set_alias(name, row.id)?;
    let shown = shown_path(run_dir.as_deref().map(Path::new), &row.path);
    Ok(match before.filter(|b| b.artifact.id != row.id) {
        Some(b) => format!(
            "`{name}` now names {shown} of run {} (it named {} of run {})\n",
            run.uid, b.artifact.path, b.run.uid
        ),
        None => format!("`{name}` names {shown} of run {}; refer to it as alias:{name}\n", run.uid),
    })
}

fn aliases(args: &ArtifactsAliasesArgs) -> anyhow::Result<String> {
    let store = open_view(&args.record)?;
    let all = store.aliases(None)?;
    if args.format == HwFormat::Json {
        let items: Vec<serde_json::Value> = all
            .iter()
            .map(|a| {
                serde_json::json!({"name": a.name, "run": a.run.uid, "path": a.artifact.path,
                    "sha256": a.artifact.sha256, "size": a.artifact.size, "tagged_at": a.created_at})
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&items)? + "\n");
    }
    if all.is_empty() {
        return Ok("no artifact is named yet (`expman artifacts tag RUN PATH NAME`)\n".into());
    }
    let mut out = String::new();
    for a in &all {
        let digest = a.artifact.sha256.as_deref().map(|d| &d[..d.len().min(12)]).unwrap_or("");
        out.push_str(&format!("{:<16} run {}  {}  {digest}\n", a.name, a.run.uid, a.artifact.path));
    }
    Ok(out)
}

#[cfg(feature = "remote")]
fn fetch(
    remote: &expman_blobs::RemoteConfig,
    blobs: &BlobStore,
    digest: &str,
    what: &str,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    let remote = expman_blobs::remote::Remote::open(remote, blobs)?;
    match remote.fetch(blobs, digest) {
        Ok(size) => {
            progress(&format!("fetched {what} from {} ({})", remote.url(), format_bytes(size)));
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("{what} is not in this workspace's store, and fetching it failed: {e}")),
    }
}

#[cfg(not(feature = "remote"))]
fn fetch(
    remote: &expman_blobs::RemoteConfig,
    _: &BlobStore,
    _: &str,
    what: &str,
    _: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    bail!(
        "{what} is not here, and this expman was built without remote stores (feature `remote`) to fetch it from {}",
        remote.url
    )
}

/// `expman artifacts push`: every blob the record refers to that the
/// remote does not have.
fn push(args: &ArtifactsPushArgs, progress: &mut dyn FnMut(&str)) -> anyhow::Result<(String, bool)> {
    let (workspace, store) = open_record(&args.record)?;
    let Some(config) = workspace.remote.clone() else {
        bail!(
            "the workspace {} has no remote store: set `artifacts: {{store: s3://BUCKET/PREFIX}}` in env.yaml (and run, or give --dir)",
            workspace.root.display()
        );
    };
    push_to(&config, &workspace.root, &store, progress)
}

#[cfg(feature = "remote")]
fn push_to(
    config: &expman_blobs::RemoteConfig,
    root: &Path,
    store: &Store,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<(String, bool)> {
    use expman_blobs::remote::{Pushed, Remote};
    let blobs = BlobStore::for_workspace(root);
    let remote = Remote::open(config, &blobs)?;
    let wanted = store.referenced_blobs()?;
    let todo: Vec<_> =
        blobs.list()?.into_iter().filter(|b| wanted.contains(&b.sha256) && !remote.is_pushed(&b.sha256)).collect();
    let total: u64 = todo.iter().map(|b| b.size).sum();
    progress(&format!("{} blob(s) ({}) to check against {}", todo.len(), format_bytes(total), remote.url()));
    let (mut sent, mut had, mut bytes, mut failed) = (0, 0, 0u64, 0);
    let digests: Vec<String> = todo.iter().map(|b| b.sha256.clone()).collect();
    for chunk in digests.chunks(256) {
        for (digest, outcome) in remote.push_many(&blobs, chunk, 16) {
            match outcome {
                Ok(Pushed::Already) => had += 1,
                Ok(Pushed::Sent { bytes: b, resumed_at }) => {
                    sent += 1;
                    bytes += b;
                    if b >= expman_blobs::remote::MULTIPART_FROM || resumed_at.is_some() {
                        let resumed = resumed_at.map(|k| format!(", went on after part {k}")).unwrap_or_default();
                        progress(&format!("  sent {} ({}{resumed})", &digest[..12], format_bytes(b)));
                    }
                }
                Err(e) => {
                    failed += 1;
                    progress(&format!("  {}: {e}", &digest[..12]));
                }
            }
        }
        if digests.len() > 256 {
            progress(&format!("  {} of {} checked", sent + had + failed, digests.len()));
        }
    }
    let text = format!(
        "sent {sent} blob(s) ({}) to {}; {had} were there already{}\n",
        format_bytes(bytes),
        remote.url(),
        if failed > 0 { format!("; {failed} failed (run `expman artifacts push` again)") } else { String::new() }
    );
    Ok((text, failed == 0))
}

#[cfg(not(feature = "remote"))]
fn push_to(
    config: &expman_blobs::RemoteConfig,
    _: &Path,
    _: &Store,
    _: &mut dyn FnMut(&str),
) -> anyhow::Result<(String, bool)> {
    bail!("`artifacts.store: {}`: this expman was built without remote stores (feature `remote`)", config.url)
}

pub fn gc(args: GcArgs) -> anyhow::Result<ExitCode> {
    let (workspace, mut store) = open_record(&args.record)?;
    let key = reading_key(None)?;
    // Encrypted stores encrypt what gc stores too: a key and `.enc` blobs.
    let blobs_before = BlobStore::for_workspace(&workspace.root).list()?;
    let encrypting = key.is_some() && blobs_before.iter().any(|b| b.encrypted);
    let blobs = BlobStore::for_workspace(&workspace.root).with_key(if encrypting { key } else { None });

    let runs = store.ended_runs_with_artifacts()?;
    let (mut files, mut new_blobs, mut new_bytes, mut warnings) = (0, 0, 0u64, 0);
    if !args.dry_run {
        for run in &runs {
            let Some(dir) = run.run_dir.as_deref() else { continue };
            let done = absorb_run(&mut store, &blobs, &workspace.root, run.run_id, Path::new(dir));
            files += done.files;
            new_blobs += done.new_blobs;
            new_bytes += done.new_bytes;
            for w in &done.warnings {
                eprintln!("warning: run {}: {w}", run.uid);
            }
            warnings += done.warnings.len();
        }
        println!(
            "stored the artifacts of {} ended run(s): {files} file(s), {new_blobs} new content(s), {}",
            runs.len(),
            format_bytes(new_bytes)
        );
    }
    let wanted = store.referenced_blobs()?;
    let removed_tmp = if args.dry_run { 0 } else { blobs.clean_tmp(std::time::Duration::from_secs(3600)) };
    let mut kept = (0usize, 0u64);
    let mut freed = (0usize, 0u64);
    for blob in blobs.list()? {
        if wanted.contains(&blob.sha256) {
            kept = (kept.0 + 1, kept.1 + blob.size);
            continue;
        }
        let bytes =
            if args.dry_run { if blob.links <= 1 { blob.size } else { 0 } } else { blobs.remove(&blob.sha256)? };
        freed = (freed.0 + 1, freed.1 + bytes);
    }
    let verb = if args.dry_run { "would free" } else { "freed" };
    println!(
        "{verb} {} content(s) no artifact refers to ({}); {} kept ({}){}",
        freed.0,
        format_bytes(freed.1),
        kept.0,
        format_bytes(kept.1),
        if removed_tmp > 0 { format!("; removed {removed_tmp} unfinished temporary file(s)") } else { String::new() }
    );
    if args.dry_run {
        println!("{} ended run(s) have artifacts; `expman gc` stores those not stored yet", runs.len());
    }
    Ok(if warnings > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
