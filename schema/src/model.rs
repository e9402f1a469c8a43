//! The raw config types: one struct per file, every field optional, spans
//! kept in the [`Node`](crate::Node) tree beside them. Their `JsonSchema`
//! derive generates the checked-in JSON Schemas (`schema/json/*.json`), which
//! are the single source of truth for validation, `expman schema` and editors;
//! a test fails when the two drift apart.
//!
//! Keys that the Python experiment_manager wrote but expman does not use are
//! declared here with `x-expman-unused`, so they load with a warning rather
//! than an error.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

/// Declares an enum written as a string in YAML, with the canonical spelling
/// first and the aliases the Python project used after it. Generates
/// `Deserialize` and a JSON Schema listing every spelling with its docs.
macro_rules! spelled_enum {
    (
        $(#[$meta:meta])*
        $name:ident, open = $open:expr, {
            $( #[doc = $doc:literal] $variant:ident => [$canonical:literal $(, $alias:literal)*] ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( #[doc = $doc] $variant, )+
            /// A spelling expman does not know (kept for plug-ins and for a clear error later).
            Other(String),
        }

        impl $name {
            /// Every accepted spelling, canonical ones first.
            pub const SPELLINGS: &'static [(&'static str, &'static str, &'static str)] = &[
                $( ($canonical, $canonical, $doc), $( ($alias, $canonical, $doc), )* )+
            ];

            pub fn parse(s: &str) -> $name {
                match s {
                    $( $canonical $(| $alias)* => $name::$variant, )+
                    other => $name::Other(other.to_string()),
                }
            }

            /// The canonical spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $canonical, )+
                    $name::Other(s) => s,
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::parse(&s))
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let names: Vec<&str> = Self::SPELLINGS.iter().map(|s| s.0).collect();
                let docs: Vec<String> = Self::SPELLINGS
                    .iter()
                    .map(|(spelling, canonical, doc)| {
                        let doc = doc.trim();
                        if spelling == canonical { doc.to_string() } else { format!("Alias of `{canonical}`. {doc}") }
                    })
                    .collect();
                let mut schema = json_schema!({
                    "type": "string",
                    "enum": names,
                    "enumDescriptions": docs,
                });
                if $open {
                    schema.insert("x-expman-open-enum".into(), true.into());
                }
                schema
            }
        }
    };
}

spelled_enum! {
    /// Where a tracker sends what a run reports.
    TrackerKind, open = true, {
        /// An MLflow tracking server, over its REST API.
        Mlflow => ["mlflow", "MLflowTracker"],
        /// TensorBoard event files under the workspace.
        Tensorboard => ["tensorboard", "TensorBoardTracker"],
        /// A metrics.csv per run and a runs.csv per experiment.
        Csv => ["csv"],
        /// A readable line per event in each run's expman.log.
        Log => ["log", "LogTracker"],
        /// expman's own database; always on, accepted for compatibility.
        Db => ["db", "DBTracker"],
        /// Hardware monitoring; expman samples hardware itself (see `hardware`), accepted for compatibility.
        Performance => ["performance", "PerformanceTracker"],
    }
}

spelled_enum! {
    /// What a callback in `pipeline.callbacks` does.
    CallbackKind, open = true, {
        /// Stops a run when a metric has not improved for `patience` epochs.
        EarlyStopping => ["early_stopping", "EarlyStopping"],
        /// Keeps the checkpoints a run reports according to a policy.
        Checkpoint => ["checkpoint", "CheckpointCallback"],
        /// Keeps metrics.csv in the run directory up to date.
        MetricsCsv => ["metrics_csv", "MetricsTracker"],
        /// Runs shell commands at points of a run's life.
        Hook => ["hook"],
    }
}

spelled_enum! {
    /// Which database holds the record.
    DatabaseKind, open = false, {
        /// An embedded SQLite file in the workspace (the default).
        Sqlite => ["sqlite"],
        /// A shared MySQL or MariaDB server.
        Mysql => ["mysql", "mariadb"],
    }
}

spelled_enum! {
    /// Where runs execute.
    ExecutorKind, open = false, {
        /// Processes on this machine (the default).
        Local => ["local"],
        /// A job per run on a Slurm cluster (`sbatch`), sharing the workspace's filesystem.
        Slurm => ["slurm"],
    }
}

spelled_enum! {
    /// Whether GPUs are sampled through NVML.
    GpuMode, open = false, {
        /// Never sample GPUs.
        Off => ["off"],
        /// Sample GPUs when an NVIDIA driver is present (the default).
        Auto => ["auto"],
        /// Fail before running when no NVIDIA driver is present.
        Required => ["required"],
    }
}

spelled_enum! {
    /// Whether a smaller or a larger metric is better.
    Mode, open = false, {
        /// Smaller is better (losses, errors).
        Min => ["min"],
        /// Larger is better (accuracies, scores).
        Max => ["max"],
    }
}

spelled_enum! {
    /// How a search chooses each run's settings.
    SearchMethod, open = false, {
        /// The Tree-structured Parzen Estimator: after a few random runs, settings likely to beat the best so far.
        Tpe => ["tpe", "bayes"],
        /// Independent uniform draws (on a log scale where the space says so).
        Random => ["random"],
        /// A shifted Halton sequence: random-looking, but covering the space more evenly.
        QuasiRandom => ["quasi_random", "quasi"],
        /// Every point of a grid over the space (`grid_points` per continuous key), in order.
        Grid => ["grid"],
    }
}

spelled_enum! {
    /// How a search stops weak runs early, on the metric's intermediate values.
    PruneMethod, open = false, {
        /// Asynchronous successive halving: at each rung (`min`, `min·reduction`, ...) a run goes on only if it is in the best 1/`reduction`.
        Asha => ["asha"],
        /// Several ASHA brackets with different first rungs; each run in one bracket.
        Hyperband => ["hyperband"],
        /// A run whose best value so far is worse than the median of complete runs at the same step.
        Median => ["median"],
    }
}

spelled_enum! {
    /// What a pruner's steps count.
    PruneResource, open = false, {
        /// Epochs, as the run reports them (`epoch_end`, or metrics with an epoch).
        Epoch => ["epoch"],
        /// The metric's steps.
        Step => ["step"],
    }
}

/// `search:`: runs whose settings a sampler chooses, one after the other
/// or several at a time, each recorded as a run of the trial.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SearchConfig {
    /// `tpe` (default), `random`, `quasi_random` or `grid`.
    pub method: Option<SearchMethod>,
    /// The metric whose final value each run is judged by (or, as in a W&B sweep, `{name: val_loss, goal: minimize}`).
    pub metric: SearchMetric,
    /// `min` (default) or `max`: which direction is better.
    pub mode: Option<Mode>,
    /// How many runs the search makes at most (a grid stops at its end). Default: 20.
    #[schemars(range(min = 1))]
    pub trials: Option<u32>,
    /// How long the search may start new runs, e.g. `2h`.
    pub time: Option<DurationValue>,
    /// Runs at a time. Default: `resources.max_parallel`.
    #[schemars(range(min = 1))]
    pub parallel: Option<u32>,
    /// Seed of the search's draws: the same seed and order of results give the same settings. Default: 0.
    #[schemars(range(min = 0))]
    pub seed: Option<u64>,
    /// Dotted settings keys, each with a distribution: `{uniform: [lo, hi]}`, `{loguniform: [lo, hi]}`, `{int: [lo, hi]}`, `{logint: [lo, hi]}` or `{choice: [a, b, ...]}`.
    pub space: Option<IndexMap<String, SpaceDist>>,
    /// The space as a W&B sweep writes it: each key with `values`, `value`, or `distribution` with `min`/`max` (nested `parameters` give dotted keys).
    pub parameters: Option<IndexMap<String, WandbParameter>>,
    /// A W&B sweep's `early_terminate: {type: hyperband, min_iter, max_iter, eta, s}`: Hyperband pruning on the metric's steps.
    pub early_terminate: Option<WandbEarlyTerminate>,
    /// A W&B sweep's budget (`trials` wins when both are given).
    #[schemars(range(min = 1))]
    pub run_cap: Option<u32>,
    /// Not used by expman (a W&B sweep's program: expman runs the trial's pipeline).
    #[schemars(extend("x-expman-unused" = true))]
    pub program: Option<Json>,
    /// Not used by expman (a W&B sweep's command: expman runs the trial's pipeline).
    #[schemars(extend("x-expman-unused" = true))]
    pub command: Option<Json>,
    /// Not used by expman (a W&B sweep's name).
    #[schemars(extend("x-expman-unused" = true))]
    pub name: Option<Json>,
    /// Not used by expman (a W&B sweep's description).
    #[schemars(extend("x-expman-unused" = true))]
    pub description: Option<Json>,
    /// Not used by expman (a W&B project).
    #[schemars(extend("x-expman-unused" = true))]
    pub project: Option<Json>,
    /// Not used by expman (a W&B entity).
    #[schemars(extend("x-expman-unused" = true))]
    pub entity: Option<Json>,
    /// Stop weak runs early (their status: PRUNED).
    pub prune: Option<PruneConfig>,
    /// TPE's settings.
    pub tpe: Option<TpeConfig>,
    /// Points per continuous key of a `grid` search. Default: 5.
    #[schemars(range(min = 2))]
    pub grid_points: Option<u32>,
}

/// A search's objective: a metric's name, or W&B's `{name, goal}`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SearchMetric {
    Name(String),
    Wandb(WandbMetric),
}

/// W&B's spelling of a search's metric.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct WandbMetric {
    pub name: String,
    /// `minimize` (default) or `maximize`.
    pub goal: Option<WandbGoal>,
    /// Not used by expman (W&B stops the sweep at this value).
    #[schemars(extend("x-expman-unused" = true))]
    pub target: Option<Json>,
}

spelled_enum! {
    /// W&B's direction of a sweep's metric.
    WandbGoal, open = false, {
        /// Smaller is better.
        Minimize => ["minimize"],
        /// Larger is better.
        Maximize => ["maximize"],
    }
}

/// One key of a W&B sweep's `parameters`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct WandbParameter {
    /// `uniform`, `int_uniform`, `log_uniform_values`, `log_uniform` (bounds as exponents), `categorical`, `constant`, or their `q_` forms; inferred from `values`/`min`/`max` when absent.
    pub distribution: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// One of these values.
    pub values: Option<Vec<Json>>,
    /// Always this value.
    pub value: Option<Json>,
    /// Not used by expman (`q_` distributions are drawn without their steps).
    #[schemars(extend("x-expman-unused" = true))]
    pub q: Option<Json>,
    /// Not used by expman (`values` are drawn with equal chances).
    #[schemars(extend("x-expman-unused" = true))]
    pub probabilities: Option<Json>,
    /// Keys nested under this one.
    pub parameters: Option<IndexMap<String, WandbParameter>>,
}

/// W&B's `early_terminate`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct WandbEarlyTerminate {
    /// `hyperband`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The first bracket's first rung.
    #[schemars(range(min = 1))]
    pub min_iter: Option<u64>,
    /// The most steps a run gets.
    #[schemars(range(min = 1))]
    pub max_iter: Option<u64>,
    /// Keep the best 1/`eta` at each rung. Default: 3.
    #[schemars(range(min = 2))]
    pub eta: Option<u64>,
    /// Number of brackets (gives `max_iter` when absent).
    #[schemars(range(min = 1))]
    pub s: Option<u64>,
    /// Not used by expman.
    #[schemars(extend("x-expman-unused" = true))]
    pub strict: Option<Json>,
}

/// One key of a search space.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SpaceDist {
    /// Uniform between the two numbers.
    Uniform([f64; 2]),
    /// Uniform on a log scale between the two numbers (both above 0): learning rates, regularization.
    Loguniform([f64; 2]),
    /// An integer between the two, both included.
    Int([i64; 2]),
    /// An integer on a log scale between the two (both above 0): widths, batch sizes.
    Logint([i64; 2]),
    /// One of these values.
    Choice(Vec<Json>),
}

/// `prune:` of a search.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PruneConfig {
    /// `asha`, `hyperband` or `median`.
    pub method: PruneMethod,
    /// What the steps count: `epoch` (default) or `step`.
    pub resource: Option<PruneResource>,
    /// The first rung (asha, hyperband). Default: 1.
    #[schemars(range(min = 1))]
    pub min: Option<u64>,
    /// The most a run gets: no rung at or above it (asha, hyperband). Default: 100.
    #[schemars(range(min = 1))]
    pub max: Option<u64>,
    /// Keep the best 1/`reduction` at each rung (asha, hyperband). Default: 3.
    #[schemars(range(min = 2))]
    pub reduction: Option<u64>,
    /// Complete runs before any is pruned (median). Default: 5.
    #[schemars(range(min = 0))]
    pub startup_trials: Option<u32>,
    /// Steps before a run may be pruned (median). Default: 0.
    #[schemars(range(min = 0))]
    pub warmup_steps: Option<u64>,
}

/// `tpe:` of a search.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TpeConfig {
    /// Random runs before TPE takes over. Default: 10.
    #[schemars(range(min = 1))]
    pub startup_trials: Option<u32>,
    /// Candidates drawn per suggestion. Default: 24.
    #[schemars(range(min = 1))]
    pub candidates: Option<u32>,
    /// Model the keys jointly (true, the default) or each on its own.
    pub multivariate: Option<bool>,
    /// Count runs still going as the worst, so runs started together differ (default: true).
    pub constant_liar: Option<bool>,
}

/// A length of time: a number of seconds, or a string such as `500ms`, `2s`,
/// `5m`, `2h` or `1h30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

/// Parses `500ms`, `2s`, `1.5s`, `5m`, `2h`, `1d`, `1h30m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match rest[..unit_len].trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(d)?;
        let parsed = match &value {
            Json::Number(n) => n.as_f64().and_then(|f| parse_duration(&f.to_string())),
            Json::String(s) => parse_duration(s),
            _ => None,
        };
        parsed.map(DurationValue).ok_or_else(|| serde::de::Error::custom(format!("`{value}` is not a duration")))
    }
}

impl JsonSchema for DurationValue {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A length of time: seconds as a number, or a string such as `500ms`, `2s`, `5m`, `2h`, `1h30m`.",
            "type": ["string", "number"],
            "x-expman-format": "duration",
        })
    }
}

/// A command: a list of arguments run directly, or a string run by `/bin/sh -c`.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CommandSpec {
    /// Run by `/bin/sh -c`, so pipes and `&&` work.
    Shell(String),
    /// Program and arguments, run directly (numbers and booleans are written as text).
    Args(Vec<ScalarValue>),
}

impl CommandSpec {
    /// The program and its arguments: `/bin/sh -c STRING` for the string form.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandSpec::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
            CommandSpec::Args(args) => args.iter().map(ScalarValue::to_text).collect(),
        }
    }
}

/// A scalar written into an environment variable or a tag.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ScalarValue {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl ScalarValue {
    pub fn to_text(&self) -> String {
        match self {
            ScalarValue::String(s) => s.clone(),
            ScalarValue::Int(i) => i.to_string(),
            ScalarValue::Float(f) => f.to_string(),
            ScalarValue::Bool(b) => b.to_string(),
        }
    }
}

/// `env.yaml`: where runs, logs and the database live, what the machine may
/// give to the experiment, and which trackers receive the record.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "expman env.yaml")]
pub struct EnvFile {
    /// Another env.yaml, or a config directory holding one, that this file builds on (deep-merged, this file wins).
    pub extends: Option<String>,
    /// Directory for runs, logs, artifacts and the database. Relative paths are relative to the config directory. Default: `outputs`.
    pub workspace: Option<String>,
    /// Print a line per run event on the console.
    pub verbose: Option<bool>,
    /// Log more detail (same as `-v` on the command line).
    pub debug: Option<bool>,
    /// The database that holds the record (embedded SQLite by default).
    pub database: Option<DatabaseConfig>,
    /// How many runs may run at once, and on which GPUs.
    pub resources: Option<ResourcesConfig>,
    /// Live hardware sampling (CPU, memory, GPU).
    pub hardware: Option<HardwareConfig>,
    /// Back ends that receive a copy of the record.
    pub trackers: Option<Vec<TrackerConfig>>,
    /// The artifact store (`<workspace>/.expman/blobs/`): every artifact kept once by its SHA-256.
    pub artifacts: Option<ArtifactsConfig>,
    /// Not used by expman (experiment_manager's environment name).
    #[schemars(extend("x-expman-unused" = true))]
    pub name: Option<Json>,
    /// Not used by expman.
    #[schemars(extend("x-expman-unused" = true))]
    pub description: Option<Json>,
    /// Not used by expman; devices are set per run through `resources.gpus`.
    #[schemars(extend("x-expman-unused" = true))]
    pub device: Option<Json>,
    /// Not used by expman; logs go to stderr (set `RUST_LOG` or `-v`).
    #[schemars(extend("x-expman-unused" = true))]
    pub logger: Option<Json>,
}

/// The database that holds the record.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite` (default) or `mysql`.
    #[serde(rename = "type")]
    pub kind: Option<DatabaseKind>,
    /// SQLite file, relative to the workspace. Default: `expman.db`.
    pub path: Option<String>,
    /// Server URL for `mysql`, e.g. `mysql://user@host:3306/expman`.
    pub url: Option<String>,
    /// Password for `mysql`; write `${env:EXPMAN_DB_PASSWORD}` rather than the password itself.
    pub password: Option<String>,
}

/// How many runs may run at once, and on which GPUs.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ResourcesConfig {
    /// Most runs at once. Default: the number of CPU cores (and no more than the GPUs allow).
    #[schemars(range(min = 1))]
    pub max_parallel: Option<u32>,
    /// GPU indices runs may use; each run gets its own through `CUDA_VISIBLE_DEVICES`.
    pub gpus: Option<Vec<u32>>,
    /// GPUs each run gets. Default: 1 when `gpus` is set.
    #[schemars(range(min = 1))]
    pub gpus_per_run: Option<u32>,
    /// How many runs may share one GPU. Default: 1 (no sharing).
    #[schemars(range(min = 1))]
    pub runs_per_gpu: Option<u32>,
    /// `local` (default) or `slurm`: each run becomes a Slurm job (`sbatch`).
    pub executor: Option<ExecutorKind>,
    /// Slurm partition (`sbatch -p`). Default: the cluster's default partition.
    pub partition: Option<String>,
    /// CPUs per run (`sbatch -c`). Default: 1.
    #[schemars(range(min = 1))]
    pub cpus_per_run: Option<u32>,
    /// Memory per run (`sbatch --mem`), e.g. `4G`, `500M`.
    pub mem_per_run: Option<String>,
    /// Slurm time limit per run (`sbatch --time`, whole minutes, rounded up), e.g. `2h`. Default: `pipeline.timeout`, else the partition's.
    pub time_limit: Option<DurationValue>,
    /// More `sbatch` arguments, e.g. `[--qos=short, --account=ml]`.
    pub extra_args: Option<Vec<String>>,
}

/// The artifact store: runs' artifacts kept once by content in `<workspace>/.expman/blobs/`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// Encrypt artifacts at rest (XChaCha20-Poly1305) with the key in `EXPMAN_ARTIFACT_KEY` or `key_file`; a run's artifact files then leave its directory once stored (`expman artifacts get` gives them back). Default: false.
    pub encrypt: Option<bool>,
    /// A file holding the key (64 hexadecimal digits, from `expman artifacts keygen`), relative to the config directory. `EXPMAN_ARTIFACT_KEY` wins over it. Never inside the workspace.
    pub key_file: Option<String>,
    /// A remote copy of the store: `s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX`, `az://CONTAINER/PREFIX` or `file:///DIR`. Each stored artifact is uploaded once, in the background; credentials come from the environment (`AWS_ACCESS_KEY_ID`, ...).
    pub store: Option<String>,
    /// The endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000` (path-style requests).
    pub endpoint: Option<String>,
    /// The bucket's region. Default: `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
}

/// Live hardware sampling.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HardwareConfig {
    /// Sample hardware while runs are active. Default: true.
    pub enabled: Option<bool>,
    /// Time between samples. Default: `2s`; at least `100ms`.
    pub interval: Option<DurationValue>,
    /// `off`, `auto` (default) or `required`.
    pub gpu: Option<GpuMode>,
}

/// One tracker: a back end that receives a copy of the record.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TrackerConfig {
    /// The tracker type.
    #[serde(rename = "type")]
    pub kind: TrackerKind,
    /// MLflow server URL, e.g. `http://127.0.0.1:5000`. Default: `MLFLOW_TRACKING_URI`.
    pub tracking_uri: Option<String>,
    /// MLflow experiment name. Default: the expman experiment name.
    pub experiment_name: Option<String>,
    /// TensorBoard log directory, relative to the workspace. Default: `tensorboard`.
    pub logdir: Option<String>,
    /// Output directory for `csv`, relative to the workspace. Default: `csv`.
    pub path: Option<String>,
    /// Print what the tracker does.
    pub verbose: Option<bool>,
    /// Not used by expman (experiment_manager's tracker name or file name).
    #[schemars(extend("x-expman-unused" = true))]
    pub name: Option<Json>,
    /// Not used by expman.
    #[schemars(extend("x-expman-unused" = true))]
    pub recreate: Option<Json>,
}

/// `experiment.yaml`: what the experiment is called and what it is about.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "expman experiment.yaml")]
pub struct ExperimentFile {
    /// Another experiment.yaml, or a config directory holding one, that this file builds on.
    pub extends: Option<String>,
    /// The experiment's name; runs are grouped under it.
    pub name: String,
    /// A sentence on what the experiment compares.
    pub desc: Option<String>,
    /// Tags recorded on every run, e.g. `{team: nlp}`.
    pub tags: Option<BTreeMap<String, ScalarValue>>,
    /// Not used by expman (experiment_manager's numeric id).
    #[schemars(extend("x-expman-unused" = true))]
    pub id: Option<Json>,
    /// Not used by expman: shared settings belong in base.yaml.
    #[schemars(extend("x-expman-unused" = true))]
    pub settings: Option<Json>,
    /// Not used by expman: trials belong in trials.yaml.
    #[schemars(extend("x-expman-unused" = true))]
    pub trials: Option<Json>,
    /// Not used by expman: write `desc`.
    #[schemars(extend("x-expman-unused" = true))]
    pub description: Option<Json>,
}

/// `base.yaml`: the settings handed to every run. Any keys are allowed;
/// `pipeline` is the section expman itself reads.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(title = "expman base.yaml")]
pub struct BaseFile {
    /// Another base.yaml, or a config directory holding one, that this file builds on.
    pub extends: Option<String>,
    /// Root of the per-run seeds: repeat k of a trial gets seed `seed + k` (`${run.seed}`).
    pub seed: Option<i64>,
    /// How runs are launched and watched.
    pub pipeline: Option<PipelineConfig>,
    /// What runs use, recorded with content hashes before each starts (lineage): a list of references, or a map from names to references. A reference is a path (relative to the config directory; a file or a directory), `run:ID/PATH` (another run's artifact), `trial:NAME/PATH` (the artifact of trial NAME's newest run that ended well) or `alias:NAME` (`expman artifacts tag`). A run finds each at `EXPMAN_INPUT_<NAME>` and all in `inputs.json`.
    pub inputs: Option<InputsSpec>,
}

/// `inputs:` as a list of references or a map from names to references.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum InputsSpec {
    List(Vec<String>),
    Named(BTreeMap<String, String>),
}

/// How a run is launched and watched. Trials may override any of it.
/// Unknown keys are reported for the `process` pipeline only: other types
/// (Rust pipelines, experiment_manager's Python classes) own their options.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(extend("x-expman-closed-when" = {"property": "type", "values": ["process"], "default": "process"}))]
pub struct PipelineConfig {
    /// `process` (default) runs `command`; other names select a Rust pipeline registered in expman.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The program to run: a list of arguments, or a string run by `/bin/sh -c`.
    pub command: Option<CommandSpec>,
    /// Working directory, relative to the config directory. Default: the run's directory.
    pub workdir: Option<String>,
    /// Longest a run may take; it then ends as TIMEOUT.
    pub timeout: Option<DurationValue>,
    /// Time between SIGTERM and SIGKILL when a run is stopped. Default: `10s`.
    pub grace_period: Option<DurationValue>,
    /// Extra environment variables for the program.
    pub env: Option<BTreeMap<String, ScalarValue>>,
    /// Callbacks that act on what the run reports.
    pub callbacks: Option<Vec<CallbackConfig>>,
    /// What to record for reproducing the run later.
    pub capture: Option<CaptureConfig>,
}

/// One callback.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CallbackConfig {
    /// The callback type.
    #[serde(rename = "type")]
    pub kind: CallbackKind,
    /// The metric watched (early_stopping, checkpoint `keep_best`).
    pub metric: Option<String>,
    /// `min` (default) or `max`: which direction is better.
    pub mode: Option<Mode>,
    /// Epochs without improvement before stopping (early_stopping). Default: 5.
    #[schemars(range(min = 0))]
    pub patience: Option<u32>,
    /// Smallest change that counts as an improvement (early_stopping). Default: 0.
    pub min_delta: Option<f64>,
    /// Smallest relative change, in percent of the best value, that counts as an improvement.
    pub min_delta_percent: Option<f64>,
    /// Keep a checkpoint every N epochs (checkpoint). Default: 1.
    #[schemars(range(min = 1))]
    pub every: Option<u32>,
    /// Alias of `every` (experiment_manager's spelling).
    #[schemars(range(min = 1))]
    pub interval: Option<u32>,
    /// Keep only the newest K checkpoints (checkpoint).
    #[schemars(range(min = 0))]
    pub keep_last: Option<u32>,
    /// Also keep the K checkpoints with the best `metric` (checkpoint).
    #[schemars(range(min = 0))]
    pub keep_best: Option<u32>,
    /// Shell command when a run starts (hook).
    pub on_start: Option<String>,
    /// Shell command after each epoch (hook).
    pub on_epoch_end: Option<String>,
    /// Shell command when a run ends, whatever its status (hook).
    pub on_end: Option<String>,
    /// Shell command when a run fails (hook).
    pub on_failure: Option<String>,
    /// Print what the callback does.
    pub verbose: Option<bool>,
}

/// What to record for reproducing a run later.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CaptureConfig {
    /// Record git commit, branch, dirty flag and the uncommitted diff. Default: true.
    pub git: Option<bool>,
    /// Glob patterns of files to store as a compressed code snapshot.
    pub code: Option<Vec<String>>,
    /// Store `pip freeze` output when the command is Python.
    pub python_env: Option<bool>,
}

/// `trials.yaml`: a list of trials, or a mapping with `extends` and `trials`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "expman trials.yaml")]
pub enum TrialsFile {
    /// The trials.
    List(Vec<TrialConfig>),
    /// Trials that build on another file's trials.
    Extending(TrialsWithExtends),
}

/// Trials that build on another trials.yaml.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TrialsWithExtends {
    /// Another trials.yaml, or a config directory holding one; its trials come first, a trial of the same name here replaces it.
    pub extends: Option<String>,
    /// The trials.
    pub trials: Vec<TrialConfig>,
}

/// One trial: settings that deep-merge over base.yaml, run `repeat` times.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TrialConfig {
    /// The trial's name, unique in the experiment.
    pub name: String,
    /// How many runs of this trial, each with its own seed. Default: 1.
    #[schemars(range(min = 1))]
    pub repeat: Option<u32>,
    /// Settings deep-merged over base.yaml: mappings merge key by key, other values replace; dotted keys (`training.lr: 0.01`) work too; a `+` prefix marks a key base.yaml does not have.
    pub settings: Option<IndexMap<String, Json>>,
    /// Dotted keys mapped to lists of values; the trial expands into every combination.
    pub sweep: Option<IndexMap<String, Vec<Json>>>,
    /// An adaptive search over a space of settings: each suggestion becomes a run of this trial.
    pub search: Option<SearchConfig>,
    /// A sentence on what this trial tries.
    pub desc: Option<String>,
    /// Tags recorded on this trial's runs.
    pub tags: Option<BTreeMap<String, ScalarValue>>,
    /// Not used by expman (experiment_manager's trial arguments).
    #[schemars(extend("x-expman-unused" = true))]
    pub args: Option<Json>,
    /// Not used by expman: write `desc`.
    #[schemars(extend("x-expman-unused" = true))]
    pub description: Option<Json>,
}

/// The single-file form: the four files as sections of one document.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "expman single-file config")]
pub struct ConfigFile {
    /// What env.yaml holds.
    pub env: Option<EnvFile>,
    /// What experiment.yaml holds.
    pub experiment: Option<ExperimentFile>,
    /// What base.yaml holds.
    pub base: Option<BaseFile>,
    /// What trials.yaml holds.
    pub trials: Option<TrialsFile>,
}
