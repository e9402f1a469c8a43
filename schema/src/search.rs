//! A trial's `search:` block read into an [`expman_search::Search`] and
//! what the runner needs beside it (the objective, budget, pruner, and
//! which settings key each dimension sets), with a diagnostic at the exact
//! place of each problem the JSON Schema cannot see: a range the wrong way
//! round, a log scale reaching 0, a key that base.yaml lacks.

use std::time::Duration;

use expman_search::{Dim, Dist, Method, Mode, Pruner, Search, Space, TpeOptions, Value as Draw};

use crate::diagnostic::{Code, Diagnostic};
use crate::merge::check_overrides;
use crate::model::{PruneMethod, PruneResource, SearchMethod, parse_duration};
use crate::source::Span;
use crate::yaml::{Map, Node, Value};

/// Runs a search makes when `trials` is not given.
pub const DEFAULT_BUDGET: u32 = 20;

/// A trial's search, ready to suggest.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchDef {
    pub search: Search,
    /// The settings key of each dimension, in the space's order.
    pub keys: Vec<SearchKey>,
    /// The metric whose final value is the objective.
    pub metric: String,
    /// How many runs at most.
    pub budget: u32,
    /// How long it may start runs.
    pub time: Option<Duration>,
    /// Runs at a time (`None`: the experiment's `max_parallel`).
    pub parallel: Option<u32>,
    pub prune: Option<PruneDef>,
    /// The `search:` block.
    pub span: Span,
}

/// One dimension's settings key.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchKey {
    /// Dotted, without a `+` prefix.
    pub key: String,
    pub key_span: Span,
    /// A choice's values (empty for numbers).
    pub choices: Vec<Node>,
}

/// A search's pruner.
#[derive(Clone, Debug, PartialEq)]
pub struct PruneDef {
    pub pruner: Pruner,
    /// Whether steps are epochs (else the metric's steps).
    pub by_epoch: bool,
}

impl SearchDef {
    /// A suggestion as settings: each key with its value as a config node
    /// (merged over the trial's settings like a sweep point's).
    pub fn settings(&self, params: &[Draw]) -> Vec<(String, Node)> {
        self.keys
            .iter()
            .zip(params)
            .map(|(key, value)| {
                let node = match *value {
                    Draw::Float(x) => Node::new(Value::Float(x), key.key_span),
                    Draw::Int(i) => Node::new(Value::Int(i), key.key_span),
                    Draw::Choice(i) => key.choices.get(i).cloned().unwrap_or_else(|| Node::null(key.key_span)),
                };
                (key.key.clone(), node)
            })
            .collect()
    }

    /// One line for previews: method, objective, budget, keys.
    pub fn describe(&self) -> String {
        let method = match &self.search.method {
            Method::Tpe(_) => "TPE",
            Method::Random { quasi: false } => "random",
            Method::Random { quasi: true } => "quasi-random",
            Method::Grid { .. } => "grid",
        };
        let mode = if self.search.mode == Mode::Max { "max" } else { "min" };
        let keys: Vec<&str> = self.keys.iter().map(|k| k.key.as_str()).collect();
        let prune = match &self.prune {
            Some(p) => format!(", pruned by {}", pruner_name(&p.pruner)),
            None => String::new(),
        };
        format!(
            "{method} search for {mode} {}: up to {} runs over {}{prune}",
            self.metric,
            self.search.limit().map_or(self.budget as u64, |l| l.min(self.budget as u64)),
            keys.join(", ")
        )
    }
}

fn pruner_name(p: &Pruner) -> &'static str {
    match p {
        Pruner::Asha { .. } => "ASHA",
        Pruner::Hyperband { .. } => "Hyperband",
        Pruner::Median { .. } => "the median rule",
    }
}

/// Reads a trial's `search:` (already checked against the JSON Schema:
/// shapes and types are right, or reported). `base` is base.yaml, for the
/// keys of the space; `None` when it is not known.
///
/// A W&B sweep's spelling is read too: `metric: {name, goal}`,
/// `parameters` (each key's `values`, `value` or `distribution` with
/// `min`/`max`; nested `parameters` as dotted keys), `run_cap`,
/// `early_terminate: {type: hyperband, ...}`, and `method: bayes` (TPE here).
pub fn read(node: &Node, base: Option<&Node>, trial: &str, out: &mut Vec<Diagnostic>) -> Option<SearchDef> {
    let map = node.as_map()?;
    let metric_node = map.get("metric")?;
    let (metric, goal) = match metric_node.as_map() {
        Some(m) => (m.get("name")?.as_str()?.to_string(), m.get("goal").and_then(Node::as_str)),
        None => (metric_node.as_str()?.to_string(), None),
    };
    let mode = match (map.get("mode").and_then(Node::as_str), goal) {
        (Some("max"), _) | (None, Some("maximize")) => Mode::Max,
        _ => Mode::Min,
    };
    let seed = map.get("seed").and_then(Node::as_i64).unwrap_or(0).max(0) as u64;
    let method = match map.get("method").and_then(Node::as_str).map(SearchMethod::parse) {
        Some(SearchMethod::Random) => Method::Random { quasi: false },
        Some(SearchMethod::QuasiRandom) => Method::Random { quasi: true },
        Some(SearchMethod::Grid) => {
            Method::Grid { points: map.get("grid_points").and_then(Node::as_i64).unwrap_or(5).clamp(2, 1000) as usize }
        }
        _ => Method::Tpe(tpe_options(map.get("tpe"))),
    };
    let mut dims = Vec::new();
    let mut keys = Vec::new();
    let before = out.len();
    let Some(space_node) = map.get("space") else {
        let Some(parameters) = map.get("parameters") else {
            out.push(
                Diagnostic::error(Code::MissingKey, node.span, format!("the search of trial `{trial}` has no `space`"))
                    .with_hint(
                        "e.g. `space: {training.lr: {loguniform: [1.0e-4, 1.0]}}` (or a W&B sweep's `parameters`)",
                    ),
            );
            return None;
        };
        wandb_parameters(parameters, "", base, trial, &mut dims, &mut keys, out);
        if dims.is_empty() {
            if out.len() == before {
                out.push(Diagnostic::error(
                    Code::InvalidValue,
                    parameters.span,
                    format!("the search of trial `{trial}` has no parameter to vary"),
                ));
            }
            return None;
        }
        return finish(node, map, trial, (metric, mode, seed, method), (dims, keys), out, before);
    };
    for (key, entry) in space_node.as_map()?.iter() {
        let Some((kind, bounds)) = entry.value.as_map().and_then(|m| m.iter().next()) else { continue };
        let key = key.strip_prefix('+').unwrap_or(key).to_string();
        let Some(dist) = dist(kind, &bounds.value, &key, out) else { continue };
        if let Some(base) = base {
            let mut probe = Map::new();
            let sample = match &dist {
                Dist::Choice { .. } => bounds.value.as_seq().and_then(|s| s.first()).cloned(),
                Dist::Int { low, .. } => Some(Node::new(Value::Int(*low), bounds.value.span)),
                Dist::Uniform { low, .. } | Dist::LogUniform { low, .. } => {
                    Some(Node::new(Value::Float(*low), bounds.value.span))
                }
            };
            if let Some(sample) = sample {
                probe.insert(entry_key(space_node, &key), entry.key_span, sample);
                check_overrides(
                    base,
                    &Node::new(Value::map(probe), entry.value.span),
                    &format!("the search of trial `{trial}`"),
                    out,
                );
            }
        }
        let choices = match &dist {
            Dist::Choice { .. } => bounds.value.as_seq().map(<[Node]>::to_vec).unwrap_or_default(),
            _ => Vec::new(),
        };
        dims.push(Dim::new(&key, dist));
        keys.push(SearchKey { key, key_span: entry.key_span, choices });
    }
    finish(node, map, trial, (metric, mode, seed, method), (dims, keys), out, before)
}

/// The rest of a search once its space is read: budget, time, parallel,
/// pruner (or W&B's run cap and early termination).
fn finish(
    node: &Node,
    map: &Map,
    trial: &str,
    (metric, mode, seed, method): (String, Mode, u64, Method),
    (dims, keys): (Vec<Dim>, Vec<SearchKey>),
    out: &mut Vec<Diagnostic>,
    before: usize,
) -> Option<SearchDef> {
    let space_node = map.get("space").or_else(|| map.get("parameters"))?;
    if dims.is_empty() {
        // Entries that did not read were reported (here or by the schema).
        if space_node.as_map().is_some_and(Map::is_empty) {
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    space_node.span,
                    format!("the search of trial `{trial}` has an empty space"),
                )
                .with_hint("give at least one key, e.g. `training.lr: {loguniform: [1.0e-4, 1.0]}`"),
            );
        }
        return None;
    }
    if out.len() > before {
        return None;
    }
    let budget = map
        .get("trials")
        .or_else(|| map.get("run_cap"))
        .and_then(Node::as_i64)
        .map_or(DEFAULT_BUDGET, |t| t.clamp(1, u32::MAX as i64) as u32);
    let time = map.get("time").and_then(|t| match &t.value {
        Value::String(s) => parse_duration(s),
        _ => t.as_f64().filter(|s| *s >= 0.0).map(Duration::from_secs_f64),
    });
    let parallel =
        map.get("parallel").and_then(Node::as_i64).filter(|p| *p >= 1).map(|p| p.min(u32::MAX as i64) as u32);
    let prune = match map.get("prune") {
        Some(p) => prune(p, out),
        None => map.get("early_terminate").and_then(|e| early_terminate(e, out)),
    };
    Some(SearchDef {
        search: Search { space: Space { dims }, method, mode, seed },
        keys,
        metric,
        budget,
        time,
        parallel,
        prune,
        span: node.span,
    })
}

/// The key as written (with its `+`, if any), for the override check.
fn entry_key(space: &Node, key: &str) -> String {
    let plus = format!("+{key}");
    if space.as_map().is_some_and(|m| m.contains_key(&plus)) { plus } else { key.to_string() }
}

fn dist(kind: &str, bounds: &Node, key: &str, out: &mut Vec<Diagnostic>) -> Option<Dist> {
    if kind == "choice" {
        let n = bounds.as_seq()?.len();
        if n == 0 {
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    bounds.span,
                    format!("`{key}`: a choice needs at least one value"),
                )
                .with_hint("e.g. `{choice: [16, 32, 64]}`"),
            );
            return None;
        }
        return Some(Dist::Choice { n });
    }
    let pair = bounds.as_seq().filter(|s| s.len() == 2)?;
    let bad = |message: String, hint: &str| Diagnostic::error(Code::InvalidValue, bounds.span, message).with_hint(hint);
    let dist = match kind {
        "int" | "logint" => {
            let (low, high) = (pair[0].as_i64()?, pair[1].as_i64()?);
            Dist::Int { low, high, log: kind == "logint" }
        }
        "uniform" => Dist::Uniform { low: pair[0].as_f64()?, high: pair[1].as_f64()? },
        "loguniform" => Dist::LogUniform { low: pair[0].as_f64()?, high: pair[1].as_f64()? },
        _ => return None,
    };
    let problem = match dist {
        Dist::Uniform { low, high } | Dist::LogUniform { low, high } if low >= high => Some(bad(
            format!("`{key}`: the range [{low}, {high}] is empty"),
            "write the low end first, e.g. `[0.0, 0.1]`",
        )),
        Dist::Int { low, high, .. } if low > high => {
            Some(bad(format!("`{key}`: the range [{low}, {high}] is empty"), "write the low end first, e.g. `[1, 6]`"))
        }
        Dist::LogUniform { low, .. } if low <= 0.0 => Some(bad(
            format!("`{key}`: a log scale needs numbers above 0, and the low end is {low}"),
            "use `uniform` for a range that includes 0, or start at a small positive number such as `1.0e-6`",
        )),
        Dist::Int { low, log: true, .. } if low <= 0 => Some(bad(
            format!("`{key}`: a log scale needs numbers above 0, and the low end is {low}"),
            "use `int` for a range that includes 0",
        )),
        _ => None,
    };
    match problem {
        Some(d) => {
            out.push(d);
            None
        }
        None => Some(dist),
    }
}

/// W&B's `parameters`, nested ones as dotted keys under `prefix`.
fn wandb_parameters(
    parameters: &Node,
    prefix: &str,
    base: Option<&Node>,
    trial: &str,
    dims: &mut Vec<Dim>,
    keys: &mut Vec<SearchKey>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(entries) = parameters.as_map() else { return };
    for (name, entry) in entries.iter() {
        let key = format!("{prefix}{}", name.strip_prefix('+').unwrap_or(name));
        let Some(spec) = entry.value.as_map() else { continue };
        if let Some(nested) = spec.get("parameters") {
            wandb_parameters(nested, &format!("{key}."), base, trial, dims, keys, out);
            continue;
        }
        let number = |k: &str| spec.get(k).and_then(Node::as_f64);
        let ints = ["min", "max"].iter().all(|k| spec.get(k).is_some_and(|n| matches!(n.value, Value::Int(_))));
        let values_node = match (spec.get("values"), spec.get("value")) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(v)) => Some(Node::new(Value::Seq(std::sync::Arc::new(vec![v.clone()])), v.span)),
            _ => None,
        };
        let named = spec.get("distribution").and_then(Node::as_str);
        let kind = match named {
            Some(d) => d.strip_prefix("q_").unwrap_or(d),
            None if values_node.is_some() => "categorical",
            None if ints => "int_uniform",
            None => "uniform",
        };
        let at = spec.get("distribution").map_or(entry.value.span, |n| n.span);
        let bounds = || Some((number("min")?, number("max")?));
        let missing = |out: &mut Vec<Diagnostic>| {
            out.push(
                Diagnostic::error(
                    Code::MissingKey,
                    entry.value.span,
                    format!("`{key}`: `{kind}` needs `min` and `max`"),
                )
                .with_hint("e.g. `{distribution: uniform, min: 0.0, max: 0.1}`"),
            );
        };
        let (dist, choices, sample) = match kind {
            "categorical" | "constant" => {
                let Some(values) = values_node.filter(|v| v.as_seq().is_some_and(|s| !s.is_empty())) else {
                    out.push(
                        Diagnostic::error(
                            Code::MissingKey,
                            entry.value.span,
                            format!("`{key}`: give `values` (or `value`)"),
                        )
                        .with_hint("e.g. `{values: [16, 32, 64]}`"),
                    );
                    continue;
                };
                let items = values.as_seq().map(<[Node]>::to_vec).unwrap_or_default();
                (Dist::Choice { n: items.len() }, items.clone(), items.first().cloned())
            }
            "uniform" | "int_uniform" | "log_uniform_values" | "log_uniform" => {
                let Some((low, high)) = bounds() else {
                    missing(out);
                    continue;
                };
                let dist = match kind {
                    "int_uniform" => Dist::Int { low: low.round() as i64, high: high.round() as i64, log: false },
                    "log_uniform_values" => Dist::LogUniform { low, high },
                    // W&B's `log_uniform` takes its bounds as natural logs.
                    "log_uniform" => Dist::LogUniform { low: low.exp(), high: high.exp() },
                    _ => Dist::Uniform { low, high },
                };
                let problem = match dist {
                    Dist::Uniform { low, high } | Dist::LogUniform { low, high } if low >= high => {
                        Some(format!("`{key}`: the range [{low}, {high}] is empty"))
                    }
                    Dist::Int { low, high, .. } if low > high => {
                        Some(format!("`{key}`: the range [{low}, {high}] is empty"))
                    }
                    Dist::LogUniform { low, .. } if low <= 0.0 => {
                        Some(format!("`{key}`: a log scale needs numbers above 0, and `min` is {low}"))
                    }
                    _ => None,
                };
                if let Some(message) = problem {
                    out.push(Diagnostic::error(Code::InvalidValue, entry.value.span, message));
                    continue;
                }
                let sample = match dist {
                    Dist::Int { low, .. } => Node::new(Value::Int(low), entry.value.span),
                    Dist::Uniform { low, .. } | Dist::LogUniform { low, .. } => {
                        Node::new(Value::Float(low), entry.value.span)
                    }
                    Dist::Choice { .. } => Node::null(entry.value.span),
                };
                (dist, Vec::new(), Some(sample))
            }
            other => {
                out.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        at,
                        format!("`{key}`: expman cannot draw from W&B's `{other}` distribution"),
                    )
                    .with_hint("use `uniform`, `int_uniform`, `log_uniform_values`, `log_uniform` or `values`"),
                );
                continue;
            }
        };
        if let (Some(base), Some(sample)) = (base, sample) {
            let mut probe = Map::new();
            probe.insert(key.clone(), entry.key_span, sample);
            check_overrides(
                base,
                &Node::new(Value::map(probe), entry.value.span),
                &format!("the search of trial `{trial}`"),
                out,
            );
        }
        dims.push(Dim::new(&key, dist));
        keys.push(SearchKey { key, key_span: entry.key_span, choices });
    }
}

/// W&B's `early_terminate: {type: hyperband, min_iter, max_iter, eta, s}`
/// as a Hyperband pruner on the metric's steps.
fn early_terminate(node: &Node, out: &mut Vec<Diagnostic>) -> Option<PruneDef> {
    let map = node.as_map()?;
    let kind = map.get("type")?;
    if kind.as_str() != Some("hyperband") {
        out.push(
            Diagnostic::error(Code::InvalidValue, kind.span, "W&B's `early_terminate` has one type, `hyperband`")
                .with_hint("or use `prune: {method: asha | hyperband | median, ...}`"),
        );
        return None;
    }
    let int = |key: &str| map.get(key).and_then(Node::as_i64).map(|v| v.max(1) as u64);
    let eta = int("eta").unwrap_or(3).max(2);
    let min = int("min_iter").unwrap_or(1);
    let max = int("max_iter").unwrap_or_else(|| min.saturating_mul(eta.saturating_pow(int("s").unwrap_or(3) as u32)));
    if min >= max {
        let at = map.get("max_iter").or_else(|| map.get("min_iter")).map_or(node.span, |n| n.span);
        out.push(Diagnostic::error(
            Code::InvalidValue,
            at,
            format!("`min_iter` ({min}) must be below `max_iter` ({max})"),
        ));
        return None;
    }
    Some(PruneDef { pruner: Pruner::Hyperband { min, max, reduction: eta }, by_epoch: false })
}

fn tpe_options(node: Option<&Node>) -> TpeOptions {
    let mut options = TpeOptions::default();
    let Some(map) = node.and_then(Node::as_map) else { return options };
    if let Some(n) = map.get("startup_trials").and_then(Node::as_i64) {
        options.startup_trials = n.max(1) as usize;
    }
    if let Some(n) = map.get("candidates").and_then(Node::as_i64) {
        options.candidates = n.max(1) as usize;
    }
    if let Some(b) = map.get("multivariate").and_then(Node::as_bool) {
        options.multivariate = b;
    }
    if let Some(b) = map.get("constant_liar").and_then(Node::as_bool) {
        options.constant_liar = b;
    }
    options
}

fn prune(node: &Node, out: &mut Vec<Diagnostic>) -> Option<PruneDef> {
    let map = node.as_map()?;
    let method = PruneMethod::parse(map.get("method")?.as_str()?);
    let by_epoch =
        !matches!(map.get("resource").and_then(Node::as_str).map(PruneResource::parse), Some(PruneResource::Step));
    let int = |key: &str, default: u64| map.get(key).and_then(Node::as_i64).map_or(default, |v| v.max(0) as u64);
    let (min, max, reduction) = (int("min", 1).max(1), int("max", 100), int("reduction", 3).max(2));
    let pruner = match method {
        PruneMethod::Asha | PruneMethod::Hyperband if min >= max => {
            let at = map.get("max").or_else(|| map.get("min")).map_or(node.span, |n| n.span);
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    at,
                    format!("the pruner's `min` ({min}) must be below its `max` ({max})"),
                )
                .with_hint("`max` is the most epochs (or steps) a run gets, e.g. `max: 40`"),
            );
            return None;
        }
        PruneMethod::Asha => Pruner::Asha { min, max, reduction },
        PruneMethod::Hyperband => Pruner::Hyperband { min, max, reduction },
        PruneMethod::Median => {
            Pruner::Median { startup_trials: int("startup_trials", 5) as usize, warmup_steps: int("warmup_steps", 0) }
        }
        PruneMethod::Other(_) => return None, // The schema reported the spelling.
    };
    Some(PruneDef { pruner, by_epoch })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn read_text(text: &str, base: Option<&str>) -> (Option<SearchDef>, Vec<String>) {
        let node = crate::yaml::parse(text, FileId(0)).docs.into_iter().next().unwrap();
        let base = base.map(|b| crate::yaml::parse(b, FileId(1)).docs.into_iter().next().unwrap());
        let mut out = Vec::new();
        let def = read(&node, base.as_ref(), "tune", &mut out);
        let messages = out.iter().map(|d| format!("{}..{}: {}", d.span.start, d.span.end, d.message)).collect();
        (def, messages)
    }

    #[test]
    fn a_full_block_reads_into_a_search() {
        let text = "method: tpe\nmetric: val_loss\nmode: min\ntrials: 60\ntime: 2h\nparallel: 4\nseed: 7\nspace:\n  training.lr: {loguniform: [1.0e-4, 1.0]}\n  model.l2: {uniform: [0.0, 0.1]}\n  training.batch_size: {choice: [16, 32, 64]}\n  model.layers: {int: [1, 6]}\nprune: {method: asha, resource: epoch, min: 1, max: 40, reduction: 3}\n";
        let (def, messages) = read_text(text, None);
        assert!(messages.is_empty(), "{messages:?}");
        let def = def.unwrap();
        assert_eq!((def.budget, def.parallel, def.search.seed), (60, Some(4), 7));
        assert_eq!(def.time, Some(Duration::from_secs(7200)));
        assert_eq!(def.search.space.dims[0].dist, Dist::LogUniform { low: 1e-4, high: 1.0 });
        assert_eq!(def.prune.as_ref().unwrap().pruner, Pruner::Asha { min: 1, max: 40, reduction: 3 });
        assert_eq!(
            def.describe(),
            "TPE search for min val_loss: up to 60 runs over training.lr, model.l2, training.batch_size, model.layers, pruned by ASHA"
        );
        let settings = def.settings(&[Draw::Float(0.01), Draw::Float(0.05), Draw::Choice(2), Draw::Int(3)]);
        assert_eq!(settings[2].0, "training.batch_size");
        assert_eq!(settings[2].1.as_i64(), Some(64));
        assert_eq!(settings[3].1.as_i64(), Some(3));
    }

    #[test]
    fn problems_point_at_their_place() {
        let text = "metric: loss\nspace:\n  lr: {loguniform: [0.0, 1.0]}\n  n: {int: [5, 1]}\n  c: {choice: []}\n";
        let (def, messages) = read_text(text, None);
        assert!(def.is_none());
        assert_eq!(
            messages,
            vec![
                "39..49: `lr`: a log scale needs numbers above 0, and the low end is 0",
                "62..68: `n`: the range [5, 1] is empty",
                "84..86: `c`: a choice needs at least one value",
            ]
        );
        assert_eq!((&text[39..49], &text[62..68], &text[84..86]), ("[0.0, 1.0]", "[5, 1]", "[]"));
        let text = "metric: loss\nspace: {x: {uniform: [0, 1]}}\nprune: {method: asha, min: 50, max: 40}\n";
        let (_, messages) = read_text(text, None);
        assert_eq!(messages, vec!["79..81: the pruner's `min` (50) must be below its `max` (40)"]);
        assert_eq!(&text[79..81], "40");
    }

    #[test]
    fn a_wandb_sweep_reads_as_it_is() {
        let text = "program: train.py\nmethod: bayes\nmetric: {name: val_acc, goal: maximize}\nrun_cap: 30\nparameters:\n  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}\n  dropout: {min: 0.0, max: 0.5}\n  layers: {min: 1, max: 4}\n  optimizer: {values: [adam, sgd]}\n  epochs: {value: 10}\n  model:\n    parameters:\n      width: {distribution: int_uniform, min: 32, max: 256}\n      decay: {distribution: log_uniform, min: -9.2, max: -2.3}\nearly_terminate: {type: hyperband, min_iter: 3, eta: 2, s: 2}\n";
        let (def, messages) = read_text(text, None);
        assert!(messages.is_empty(), "{messages:?}");
        let def = def.unwrap();
        assert_eq!((def.metric.as_str(), def.search.mode, def.budget), ("val_acc", Mode::Max, 30));
        assert!(matches!(def.search.method, Method::Tpe(_)));
        let keys: Vec<&str> = def.keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["lr", "dropout", "layers", "optimizer", "epochs", "model.width", "model.decay"]);
        let dists: Vec<&Dist> = def.search.space.dims.iter().map(|d| &d.dist).collect();
        assert_eq!(dists[0], &Dist::LogUniform { low: 0.0001, high: 0.1 });
        assert_eq!(dists[1], &Dist::Uniform { low: 0.0, high: 0.5 });
        assert_eq!(dists[2], &Dist::Int { low: 1, high: 4, log: false });
        assert_eq!((dists[3], dists[4]), (&Dist::Choice { n: 2 }, &Dist::Choice { n: 1 }));
        assert_eq!(dists[5], &Dist::Int { low: 32, high: 256, log: false });
        assert!(
            matches!(dists[6], Dist::LogUniform { low, high } if (low - (-9.2f64).exp()).abs() < 1e-12 && (high - (-2.3f64).exp()).abs() < 1e-12)
        );
        assert_eq!(
            def.prune,
            Some(PruneDef { pruner: Pruner::Hyperband { min: 3, max: 12, reduction: 2 }, by_epoch: false })
        );
        let settings = def.settings(&[
            Draw::Float(0.01),
            Draw::Float(0.2),
            Draw::Int(2),
            Draw::Choice(1),
            Draw::Choice(0),
            Draw::Int(64),
            Draw::Float(0.001),
        ]);
        assert_eq!(settings[3].1.as_str(), Some("sgd"));
        assert_eq!(settings[4].1.as_i64(), Some(10));

        let (def, messages) = read_text(
            "metric: {name: loss}\nparameters: {x: {distribution: normal, mu: 0, sigma: 1}, y: {distribution: uniform}}\n",
            None,
        );
        assert!(def.is_none());
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].contains("cannot draw from W&B's `normal`") && messages[1].contains("needs `min` and `max`"),
            "{messages:?}"
        );
    }

    #[test]
    fn keys_base_yaml_lacks_are_reported() {
        let (_, messages) = read_text(
            "metric: loss\nspace: {training.lrr: {uniform: [0, 1]}, +model.new: {int: [1, 2]}}\n",
            Some("training: {lr: 0.1}\nmodel: {layers: 2}\n"),
        );
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("training.lrr"), "{messages:?}");
    }
}
