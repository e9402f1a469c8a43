//! Expansion: trials × sweep points × repeats into [`RunPlan`]s, each with
//! its fully resolved config, seed, config hash and typed pipeline.
//!
//! For every run, in this order: base.yaml, then the trial's `settings`, then
//! the sweep point's values, then the command-line overrides are merged
//! (each by [`crate::merge`]'s rules); then interpolations are resolved with
//! the run's built-ins. Repeat `k` (0-based) gets seed `seed + k`, where
//! `seed` is the merged config's top-level `seed` (0 when absent); in the
//! run's resolved config, `seed` holds that run's seed, so repeats differ
//! even for a program that only reads its config.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::diagnostic::{Code, Diagnostic, normalize};
use crate::interp::{self, Builtins, EnvLookup};
use crate::merge::{merge, split_dotted};
use crate::model::{CallbackKind, PipelineConfig};
use crate::overrides::Overrides;
use crate::project::{Project, TrialDef};
use crate::schemas::SchemaKind;
use crate::source::{Sources, Span};
use crate::validate::validate;
use crate::yaml::{Map, Node, Value, format_scalar};

/// Which runs to expand.
#[derive(Clone, Debug, Default)]
pub struct ExpandOptions {
    /// Trial names (declared names, or full sweep-child names); empty = all.
    pub trials: Vec<String>,
    /// Only this repeat (1-based, as users count), when set.
    pub repeat: Option<u32>,
    pub overrides: Overrides,
    /// Resolve and check every run, but keep neither its config nor its
    /// hash: `RunPlan::config` is null and `config_hash` empty. For the
    /// language server, which wants the diagnostics of 10,000 runs without
    /// holding 10,000 configs (it resolves one trial again when asked).
    pub diagnostics_only: bool,
}

/// One run to launch.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// The trial's name with its sweep point, e.g. `lr_sweep[training.lr=0.01]`.
    pub trial: String,
    /// The trial's declared name.
    pub trial_base: String,
    /// The sweep point: dotted keys and values.
    pub sweep: Vec<(String, Node)>,
    /// 0-based repeat index.
    pub repeat: u32,
    pub repeats: u32,
    pub seed: i64,
    /// The resolved config (`${run.id}` still as written: the runner fills it in).
    pub config: Arc<Node>,
    /// SHA-256 of the resolved config in canonical JSON (keys sorted).
    pub config_hash: String,
    pub pipeline: Arc<PipelineConfig>,
    pub tags: BTreeMap<String, String>,
    pub desc: Option<String>,
}

/// The runs of a project and the problems found resolving them.
#[derive(Clone, Debug, Default)]
pub struct Expansion {
    pub runs: Vec<RunPlan>,
    pub diagnostics: Vec<Diagnostic>,
    /// Names given in `trials` that matched nothing.
    pub unknown_trials: Vec<String>,
    /// Trials with a `search:`: their runs are not known in advance (each
    /// is a suggestion made while the search goes on).
    pub searches: Vec<(String, crate::search::SearchDef)>,
    /// The command-line overrides expansion applied, for the runs of
    /// searches ([`expand_suggestion`]), which are expanded later.
    pub overrides: Overrides,
}

/// The most runs one trial may expand to (sweep points × repeats): more is
/// almost always a typo (`repeat: 30000`, a sweep over a long list), and
/// expanding it would take the memory of every front end (the language
/// server expands as you type).
pub const MAX_RUNS_PER_TRIAL: u64 = 100_000;

/// How many runs a trial expands to (saturating).
fn run_count(trial: &TrialDef) -> u64 {
    trial.sweep.iter().fold(u64::from(trial.repeat), |n, axis| n.saturating_mul(axis.values.len() as u64))
}

/// The error for a trial over [`MAX_RUNS_PER_TRIAL`], at its `repeat` when
/// that alone is too many, else at its `sweep`.
fn too_many_runs(trial: &TrialDef, runs: u64) -> Diagnostic {
    let map = trial.node.as_map();
    let repeat = map.and_then(|m| m.get("repeat")).filter(|_| u64::from(trial.repeat) > MAX_RUNS_PER_TRIAL);
    let span = repeat
        .map(|r| r.span)
        .or_else(|| map.and_then(|m| m.entry("sweep")).map(|e| e.key_span))
        .unwrap_or(trial.name_span);
    Diagnostic::error(
        Code::InvalidValue,
        span,
        format!(
            "trial `{}` would make {runs} runs ({} sweep point(s) × {} repeat(s)); expman expands at most {MAX_RUNS_PER_TRIAL} per trial",
            trial.name,
            runs / u64::from(trial.repeat.max(1)),
            trial.repeat
        ),
    )
    .with_hint("check `repeat` and the sweep's lists; for a large space, a `search:` makes runs one at a time")
}

/// Expands a project into runs.
pub fn expand(project: &Project, sources: &Sources, env: &dyn EnvLookup, options: &ExpandOptions) -> Expansion {
    let mut out = Expansion { overrides: options.overrides.clone(), ..Expansion::default() };
    options.overrides.check(&project.base, &mut out.diagnostics);
    let mut matched = vec![false; options.trials.len()];
    let mut cache = Cache::default();
    for trial in &project.trials {
        if let Some(search) = &trial.search {
            if options.trials.is_empty() || options.trials.contains(&trial.name) {
                if let Some(i) = options.trials.iter().position(|t| *t == trial.name) {
                    matched[i] = true;
                }
                out.searches.push((trial.name.clone(), search.clone()));
            }
            continue;
        }
        let runs = run_count(trial);
        if runs > MAX_RUNS_PER_TRIAL {
            out.diagnostics.push(too_many_runs(trial, runs));
            if let Some(i) = options.trials.iter().position(|t| *t == trial.name) {
                matched[i] = true;
            }
            continue;
        }
        let points = sweep_points(trial);
        for point in points {
            let name = child_name(trial, &point);
            if !options.trials.is_empty() {
                let hit = options.trials.iter().position(|t| *t == trial.name || *t == name);
                match hit {
                    Some(i) => matched[i] = true,
                    None => continue,
                }
            }
            expand_point(&mut cache, project, sources, env, options, trial, point, name, &mut out);
        }
    }
    out.unknown_trials = options.trials.iter().zip(matched).filter(|(_, m)| !m).map(|(t, _)| t.clone()).collect();
    normalize(&mut out.diagnostics);
    out
}

/// The run of one suggestion of trial `trial`'s search: `settings` (from
/// [`crate::search::SearchDef::settings`]) merged over the trial's like a
/// sweep point's, then the overrides; resolved and checked like any run
/// (its problems are in the expansion's diagnostics). One run (a search
/// ignores `repeat`), named like a sweep child, numbers rounded to four
/// significant digits: `tune[training.lr=0.01234,model.layers=3]`.
pub fn expand_suggestion(
    project: &Project,
    sources: &Sources,
    env: &dyn EnvLookup,
    overrides: &Overrides,
    trial: &str,
    settings: &[(String, Node)],
) -> Expansion {
    let mut out = Expansion::default();
    let Some(def) = project.trials.iter().find(|t| t.name == trial) else {
        out.unknown_trials.push(trial.to_string());
        return out;
    };
    let point: Vec<(String, Span, Node)> = settings.iter().map(|(k, v)| (k.clone(), v.span, v.clone())).collect();
    let inner: Vec<String> = point
        .iter()
        .map(|(k, _, v)| match v.value {
            Value::Float(x) => format!("{k}={}", significant(x, 4)),
            _ => format!("{k}={}", compact(v)),
        })
        .collect();
    let name = format!("{}[{}]", def.name, inner.join(","));
    let options = ExpandOptions { repeat: Some(1), overrides: overrides.clone(), ..ExpandOptions::default() };
    let mut cache = Cache::default();
    let once = TrialDef { repeat: 1, ..def.clone() };
    expand_point(&mut cache, project, sources, env, &options, &once, point, name, &mut out);
    normalize(&mut out.diagnostics);
    out
}

/// `x` to `digits` significant digits, without trailing zeros.
fn significant(x: f64, digits: i32) -> String {
    if x == 0.0 || !x.is_finite() {
        return format_scalar(&Value::Float(x));
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{:.*e}", (digits - 1) as usize, x);
    }
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// What expansion computes once and shares between trials.
#[derive(Default)]
struct Cache {
    /// The typed (and checked) pipeline of trials that do not change it.
    base_pipeline: Option<Arc<PipelineConfig>>,
    /// Canonical JSON of shared subtrees, by the address of their (kept
    /// alive) `Arc`: runs share most of base.yaml, so most of each run's
    /// hash input is text already written.
    canonical: HashMap<usize, (Arc<Map>, String)>,
}

#[allow(clippy::too_many_arguments)]
fn expand_point(
    cache: &mut Cache,
    project: &Project,
    sources: &Sources,
    env: &dyn EnvLookup,
    options: &ExpandOptions,
    trial: &TrialDef,
    point: Vec<(String, Span, Node)>,
    name: String,
    out: &mut Expansion,
) {
    let mut config = project.base.clone();
    merge(&mut config, &trial.settings_merged);
    for (key, key_span, value) in &point {
        merge(&mut config, &nest(key, *key_span, value.clone()));
    }
    if let Some(over) = &options.overrides.merged {
        merge(&mut config, over);
    }
    let root_seed = config.get("seed").and_then(Node::as_i64);
    // Resolution differs between repeats only through `run.*` and `seed`.
    let per_repeat = interp::interpolations(&config).any(|s| s.contains("run.") || s.contains("seed"));
    let repeats: Vec<u32> = match options.repeat {
        Some(r) if r >= 1 && r <= trial.repeat => vec![r - 1],
        Some(_) => Vec::new(),
        None => (0..trial.repeat).collect(),
    };
    let mut tags: BTreeMap<String, String> =
        project.experiment.tags.iter().flatten().map(|(k, v)| (k.clone(), v.to_text())).collect();
    tags.extend(trial.tags.clone());
    let touches_pipeline = trial.settings_merged.get("pipeline").is_some()
        || point.iter().any(|(k, _, _)| k == "pipeline" || k.starts_with("pipeline."))
        || options.overrides.merged.as_ref().is_some_and(|o| o.get("pipeline").is_some())
        || config.get("pipeline").is_some_and(interp::has_interpolation);
    let mut resolved_once: Option<Node> = None;
    let mut pipeline: Option<Arc<PipelineConfig>> = None;
    for repeat in repeats {
        let seed = root_seed.unwrap_or(0).saturating_add(i64::from(repeat));
        let mut resolved = match &resolved_once {
            Some(done) if !per_repeat => done.clone(),
            _ => {
                let builtins = Builtins {
                    experiment_name: Some(project.experiment_name().to_string()),
                    trial_name: Some(name.clone()),
                    repeat: Some(repeat),
                    seed: Some(seed),
                    run_id: None,
                };
                let mut seeded = config.clone();
                if root_seed.is_some() {
                    set_seed(&mut seeded, seed);
                }
                let resolved = interp::resolve(&seeded, &builtins, env, sources, &mut out.diagnostics);
                resolved_once = Some(resolved.clone());
                resolved
            }
        };
        if root_seed.is_some() {
            set_seed(&mut resolved, seed);
        }
        let pipeline = match &pipeline {
            Some(p) => p.clone(),
            None => {
                let typed = match (&cache.base_pipeline, touches_pipeline) {
                    (Some(shared), false) => shared.clone(),
                    _ => {
                        check_pipeline(&resolved, project, trial, &mut out.diagnostics);
                        let typed = Arc::new(typed_pipeline(&resolved));
                        if !touches_pipeline {
                            cache.base_pipeline = Some(typed.clone());
                        }
                        typed
                    }
                };
                pipeline = Some(typed.clone());
                typed
            }
        };
        let (config, config_hash) = if options.diagnostics_only {
            (Arc::new(Node::null(resolved.span)), String::new())
        } else {
            let hash = cached_config_hash(&resolved, &mut cache.canonical);
            (Arc::new(resolved), hash)
        };
        out.runs.push(RunPlan {
            trial: name.clone(),
            trial_base: trial.name.clone(),
            sweep: point.iter().map(|(k, _, v)| (k.clone(), v.clone())).collect(),
            repeat,
            repeats: trial.repeat,
            seed,
            config,
            config_hash,
            pipeline,
            tags: tags.clone(),
            desc: trial.desc.clone(),
        });
    }
}

/// In each run's config, the top-level `seed` is that run's seed.
fn set_seed(config: &mut Node, seed: i64) {
    if let Some(node) = config.as_map_mut().and_then(|m| m.get_mut("seed")) {
        node.value = Value::Int(seed);
    }
}

/// The cartesian product of a trial's sweep axes, first axis slowest.
fn sweep_points(trial: &TrialDef) -> Vec<Vec<(String, Span, Node)>> {
    let mut points: Vec<Vec<(String, Span, Node)>> = vec![Vec::new()];
    for axis in &trial.sweep {
        let mut next = Vec::with_capacity(points.len() * axis.values.len());
        for point in &points {
            for value in &axis.values {
                let mut p = point.clone();
                p.push((axis.key.clone(), axis.key_span, value.clone()));
                next.push(p);
            }
        }
        points = next;
    }
    points
}

/// `trial[key=value,key=value]` for a sweep child, the trial name otherwise.
fn child_name(trial: &TrialDef, point: &[(String, Span, Node)]) -> String {
    if point.is_empty() {
        return trial.name.clone();
    }
    let inner: Vec<String> = point.iter().map(|(k, _, v)| format!("{k}={}", compact(v))).collect();
    format!("{}[{}]", trial.name, inner.join(","))
}

fn compact(node: &Node) -> String {
    match &node.value {
        Value::String(s) => s.clone(),
        Value::Seq(items) => format!("[{}]", items.iter().map(compact).collect::<Vec<_>>().join(",")),
        Value::Map(m) => {
            format!("{{{}}}", m.iter().map(|(k, e)| format!("{k}:{}", compact(&e.value))).collect::<Vec<_>>().join(","))
        }
        other => format_scalar(other),
    }
}

fn nest(dotted: &str, key_span: Span, value: Node) -> Node {
    let mut node = value;
    for part in split_dotted(dotted).into_iter().rev() {
        let mut m = Map::new();
        m.insert(part.to_string(), key_span, node);
        node = Node::new(Value::map(m), key_span);
    }
    node
}

/// Checks the merged `pipeline` of a trial: its schema, and what the schema
/// cannot say (a process pipeline needs a command; early stopping needs a
/// metric).
fn check_pipeline(config: &Node, project: &Project, trial: &TrialDef, out: &mut Vec<Diagnostic>) {
    let entry = config.as_map().and_then(|m| m.entry("pipeline"));
    let Some(entry) = entry else {
        let span = project
            .base
            .span
            .is_real()
            .then_some(project.base.span)
            .map(|s| Span { end: s.start, ..s })
            .unwrap_or(trial.name_span);
        out.push(
            Diagnostic::error(Code::MissingKey, span, "no `pipeline`: expman does not know what to run")
                .with_hint("add to base.yaml: `pipeline: {command: [python, train.py]}`"),
        );
        return;
    };
    let pipeline = &entry.value;
    validate(SchemaKind::Base, Some("PipelineConfig"), pipeline, entry.key_span, &["pipeline"], out);
    let Some(map) = pipeline.as_map() else { return };
    let kind = map.get("type").and_then(Node::as_str).unwrap_or("process");
    if kind == "process" && map.get("command").is_none_or(Node::is_null) {
        out.push(
            Diagnostic::error(Code::MissingKey, entry.key_span, "the process pipeline needs a `command` to run")
                .with_hint("e.g. `command: [python, train.py]`"),
        );
    }
    let Some(callbacks) = map.get("callbacks").and_then(Node::as_seq) else {
        return;
    };
    for callback in callbacks {
        let Some(cb) = callback.as_map() else {
            continue;
        };
        let Some(kind) = cb.get("type").and_then(Node::as_str).map(CallbackKind::parse) else {
            continue;
        };
        let label = cb.entry("type").map(|e| e.key_span).unwrap_or(callback.span);
        let has = |k: &str| cb.get(k).is_some_and(|n| !n.is_null());
        match kind {
            CallbackKind::EarlyStopping if !has("metric") => out.push(
                Diagnostic::error(Code::MissingKey, label, "early stopping needs the `metric` to watch")
                    .with_hint("e.g. `metric: val_loss`"),
            ),
            CallbackKind::Checkpoint if has("keep_best") && !has("metric") => out.push(
                Diagnostic::error(Code::MissingKey, label, "`keep_best` needs the `metric` that ranks checkpoints")
                    .with_hint("e.g. `metric: val_loss, mode: min`"),
            ),
            CallbackKind::Hook if !["on_start", "on_epoch_end", "on_end", "on_failure"].iter().any(|k| has(k)) => out
                .push(Diagnostic::error(
                    Code::MissingKey,
                    label,
                    "a hook needs at least one of `on_start`, `on_epoch_end`, `on_end`, `on_failure`",
                )),
            _ => {}
        }
        for key in ["min_delta", "min_delta_percent"] {
            if let Some(n) = cb.get(key)
                && n.as_f64().is_some_and(|v| v < 0.0)
            {
                out.push(Diagnostic::error(Code::InvalidValue, n.span, format!("`{key}` cannot be negative")));
            }
        }
    }
}

fn typed_pipeline(config: &Node) -> PipelineConfig {
    config.get("pipeline").and_then(|p| serde_json::from_value(p.to_json()).ok()).unwrap_or_default()
}

/// SHA-256 (hex) of a config in canonical JSON: keys sorted, so that
/// reordering keys in a file does not make a new run.
pub fn config_hash(config: &Node) -> String {
    cached_config_hash(config, &mut HashMap::new())
}

fn cached_config_hash(config: &Node, cache: &mut HashMap<usize, (Arc<Map>, String)>) -> String {
    let mut text = String::with_capacity(1024);
    canonical_json(config, &mut text, cache, true);
    let digest = Sha256::digest(text.as_bytes());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(HEX[(byte >> 4) as usize] as char);
        hex.push(HEX[(byte & 15) as usize] as char);
    }
    hex
}

fn canonical_json(node: &Node, out: &mut String, cache: &mut HashMap<usize, (Arc<Map>, String)>, root: bool) {
    use std::fmt::Write;
    if let (Value::Map(map), false) = (&node.value, root) {
        let key = Arc::as_ptr(map) as usize;
        if let Some((_, text)) = cache.get(&key) {
            out.push_str(text);
            return;
        }
        let mut text = String::new();
        canonical_json(node, &mut text, cache, true);
        out.push_str(&text);
        cache.insert(key, (map.clone(), text));
        return;
    }
    match &node.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&format_scalar(&Value::Float(*f))),
        Value::String(s) => json_string(s, out),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out, cache, false);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let mut entries: Vec<(&str, &Node)> = m.iter().map(|(k, e)| (k, &e.value)).collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(key, out);
                out.push(':');
                canonical_json(value, out, cache, false);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal.
fn json_string(s: &str, out: &mut String) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use crate::{ExpandOptions, MemoryLoader, check};

    fn problems(trials: &str) -> (usize, Vec<String>) {
        let loader = MemoryLoader::new()
            .with_file("/x/base.yaml", "lr: 0.1\npipeline: {command: [echo]}\n")
            .with_file("/x/trials.yaml", trials);
        let (analysis, expansion) = check(&loader, std::path::Path::new("/x"), &[], ExpandOptions::default());
        let messages = analysis
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}..{}: {}", d.span.start, d.span.end, d.message))
            .collect();
        (expansion.runs.len(), messages)
    }

    #[test]
    fn a_trial_of_too_many_runs_is_an_error_at_its_repeat_not_an_allocation() {
        let (runs, messages) = problems("- name: typo\n  repeat: 201010101\n- name: ok\n  repeat: 2\n");
        assert_eq!(runs, 2, "the other trials still expand");
        assert_eq!(
            messages,
            [
                "23..32: trial `typo` would make 201010101 runs (1 sweep point(s) × 201010101 repeat(s)); expman expands at most 100000 per trial"
            ]
        );
        // A sweep's product, at `sweep`.
        let values = (0..400).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let (_, messages) = problems(&format!("- name: grid\n  sweep:\n    lr: [{values}]\n    seed: [{values}]\n"));
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0]
                .starts_with("15..20: trial `grid` would make 160000 runs (160000 sweep point(s) × 1 repeat(s))")
        );
    }
}
