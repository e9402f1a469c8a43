//! The command line, as clap types. Every subcommand documents itself with
//! examples in its `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "expman",
    version,
    about = "Experiment manager for machine-learning work",
    long_about = "expman expands an experiment described in YAML (env.yaml, experiment.yaml, base.yaml, trials.yaml) into runs, launches them, and records everything.",
    after_help = "Examples:\n  expman validate examples/quickstart\n  expman preview examples/quickstart --trial small_model --repeat 2\n  expman init my_experiment"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour diagnostics.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment: every trial x sweep point x repeat, recorded in the workspace database.
    #[command(
        after_help = "Examples:\n  expman run examples/quickstart\n  expman run examples/quickstart --trial small_model --parallel 4\n  expman run examples/quickstart training.epochs=3\n  expman run examples/quickstart --resume      # only what did not succeed\n  expman run examples/quickstart --dry-run     # show what would run\n\nCtrl-C stops every run cleanly (SIGTERM, then SIGKILL after the grace period); a second Ctrl-C quits at once.\nExit status: 0 when every run succeeded, 1 when some did not, 130 when cancelled."
    )]
    Run(RunArgs),
    /// Stop runs that are going on (by run id or trial name): their runner stops them, KILLED; on Slurm, `scancel`.
    #[command(
        after_help = "Examples:\n  expman stop k3x9f2m1                 # a run id, or a unique prefix of one\n  expman stop lr_sweep --experiment quickstart   # every run of a trial (and its sweep)\n\nThe runner watching a run asks it to stop (STOP file, SIGTERM, SIGKILL after the grace period, or\nscancel on Slurm) and records it KILLED. A Slurm job no runner watches any more is cancelled here.\nExit status: 0 when something was asked to stop, 1 when nothing going on matched."
    )]
    Stop(StopArgs),
    /// List the runs in the record.
    #[command(
        after_help = "Examples:\n  expman runs                       # in a config directory or workspace\n  expman runs \"metrics.val_loss < 0.3 and params.training.lr > 0.01 order by metrics.val_loss\"\n  expman runs \"status = 'SUCCESS' and trial LIKE 'lr_%'\" --columns trial,metrics.val_loss,params.training.*\n  expman runs --dir examples/quickstart --format csv\n  expman runs --format parquet --out runs.parquet\n\nThe filter is MLflow's search syntax: =, !=, <, <=, >, >=, LIKE, ILIKE, IN (...), IS NULL, and/or/not,\nparentheses, 'quoted strings', numbers, `order by KEY [asc|desc]`, `limit N`. Keys: metrics.KEY\n(.min, .max), params.KEY, tags.KEY, status, trial, experiment, id, repeat, seed, duration."
    )]
    Runs(RunsArgs),
    /// Metric points of runs or trials, one row per point.
    #[command(
        after_help = "Examples:\n  expman metrics baseline                 # a trial's runs\n  expman metrics k3x9f2m1 --keys val_loss  # one run, one metric\n  expman metrics baseline small_model --format csv > points.csv"
    )]
    Metrics(MetricsArgs),
    /// Compare two trials on a metric: difference of means, its confidence interval, Welch's t-test.
    #[command(
        after_help = "Examples:\n  expman compare baseline small_model --metric val_loss\n  expman compare baseline small_model --metric val_acc --mode max --at best"
    )]
    Compare(CompareArgs),
    /// Per-trial statistics of a metric over repeats: n, mean, std, min, max, 95% CI; the best run.
    #[command(
        after_help = "Examples:\n  expman summary --metric val_loss\n  expman summary --metric val_loss --at 10     # the value at step 10\n  expman summary --metric val_acc --at best --mode max"
    )]
    Summary(SummaryArgs),
    /// Runs ranked on a metric, with z-scores and percentile ranks.
    #[command(
        after_help = "Examples:\n  expman rank --metric val_loss\n  expman rank --metric val_acc --mode max \"status = 'SUCCESS'\""
    )]
    Rank(RankArgs),
    /// The config keys that differ between two runs (or two trials' latest runs).
    #[command(after_help = "Examples:\n  expman diff k3x9f2m1 p0q8z7a2\n  expman diff baseline small_model")]
    Diff(DiffArgs),
    /// SQL over runs, metrics, params, tags, trials, experiments, hardware, artifacts.
    #[command(
        after_help = "Examples:\n  expman sql \"SELECT trial, avg(value) FROM metrics WHERE key = 'val_loss' GROUP BY trial\"\n  expman sql \"SELECT trial, count(*) AS runs FROM runs GROUP BY trial\" --format csv"
    )]
    Sql(SqlArgs),
    /// Write runs (or another table) to a CSV, Parquet or JSON file.
    #[command(
        after_help = "Examples:\n  expman export --format parquet --out runs.parquet\n  expman export --format csv --out good.csv \"metrics.val_loss < 0.3\"\n  expman export --table metrics --format parquet --out points.parquet"
    )]
    Export(ExportArgs),
    /// A search's state: its best run, the history of its suggestions, each setting's importance.
    #[command(
        after_help = "Examples:\n  expman search examples/quickstart            # every search of the experiment\n  expman search --dir examples/quickstart --trial tune\n  expman search examples/quickstart --format json\n\nImportance: the share of the objective's variance each setting explains on its own (a one-way\nanalysis of variance on ranks, epsilon-squared, over the complete runs), scaled to sum to 1."
    )]
    Search(SearchArgs),
    /// Show everything about one run.
    #[command(
        after_help = "Examples:\n  expman show k3x9f2m1          # a run id, or a unique prefix of one\n  expman show k3x --dir examples/quickstart"
    )]
    Show(ShowArgs),
    /// The artifact store: a run's artifacts, one fetched (checked against its SHA-256), a new encryption key.
    #[command(
        subcommand,
        after_help = "Examples:\n  expman artifacts list k3x9f2m1\n  expman artifacts get k3x9f2m1 checkpoints/epoch_5.pt --out model.pt\n  expman artifacts tag k3x9f2m1 weights.json best     # then: expman artifacts get alias:best\n  expman artifacts get k3x9f2m1 metrics.csv --out -        # to standard output\n  expman artifacts keygen > ~/.expman-key                 # for `artifacts: {encrypt: true, key_file: ...}`\n\nWhen a run ends, its artifacts go into the workspace's store (.expman/blobs/): a file whose content\nis already there becomes a link to it, so the same checkpoint in ten runs takes the room of one."
    )]
    Artifacts(ArtifactsCommand),
    /// What a run used (its inputs, and where they came from) and which runs used its outputs.
    #[command(
        after_help = "Examples:\n  expman lineage k3x9f2m1\n  expman lineage k3x9f2m1 --format dot | dot -Tsvg > lineage.svg\n  expman lineage k3x9f2m1 --format json\n\nInputs are declared with `inputs:` in base.yaml or a trial (paths, run:ID/PATH, trial:NAME/PATH,\nalias:NAME) and recorded with their SHA-256 before the run starts. A run used another's output when\nit names that run, or when one of its inputs has the content of one of that run's artifacts."
    )]
    Lineage(LineageArgs),
    /// Bring the artifact store in line with the record: store ended runs' artifacts, free contents no run refers to.
    #[command(
        after_help = "Examples:\n  expman gc --dry-run          # what would be stored and freed\n  expman gc --dir examples/quickstart\n\nA blob is freed only when no artifact in the record (not deleted) has its content."
    )]
    Gc(GcArgs),
    /// The machine's hardware, live (like `top`), or one sample.
    #[command(
        after_help = "Examples:\n  expman hw                          # refreshes in place; q or Ctrl-C to quit\n  expman hw --once --format json     # one sample, for scripts\n  expman hw --interval 500ms --gpu off"
    )]
    Hw(HwArgs),
    /// A web dashboard of the record: runs, curves, live runs, searches.
    #[command(
        after_help = "Examples:\n  expman ui --dir examples/quickstart --open    # http://127.0.0.1:8787/ in the browser\n  expman ui --host 0.0.0.0 --port 9000          # reachable from other machines: a token is printed and required\n\nOn 127.0.0.1 (the default) reading needs no token; stopping runs needs the page's own origin or the token.\nBeyond loopback every request needs the token (`--token`, `EXPMAN_UI_TOKEN`, or one generated and printed)."
    )]
    Ui(UiArgs),
    /// The experiments in the record.
    #[command(
        after_help = "Examples:\n  expman experiments --dir examples/quickstart\n  expman experiments --workspace outputs"
    )]
    Experiments(ExperimentsArgs),
    /// Metric curves as a chart (SVG, Vega-Lite JSON or HTML): what `%expman plot` shows in a notebook.
    #[command(
        after_help = "Examples:\n  expman plot val_loss --out val_loss.svg                 # one line per trial, mean ± std\n  expman plot val_loss \"trial LIKE 'lr_%'\" --by run --x epoch --out lr.html\n  expman plot val_acc --x time --out acc.json             # Vega-Lite v5"
    )]
    Plot(PlotArgs),
    /// The Jupyter kernel: install its kernelspec, or start it.
    #[command(
        subcommand,
        after_help = "Examples:\n  expman kernel install --sys-prefix   # then: jupyter lab, pick the \"expman\" kernel\n  expman kernel start -f CONNECTION_FILE"
    )]
    Kernel(KernelCommand),
    /// Serve the expman language server over stdio (for editors).
    #[command(
        after_help = "Examples:\n  expman lsp                     # what editors run; it speaks LSP on stdin/stdout\n  RUST_LOG=debug expman lsp 2>lsp.log\n\nEditors start this themselves; see editors/ for VS Code, Neovim and Helix.\nLogs go to stderr (RUST_LOG=debug for more)."
    )]
    Lsp,
    /// The database: schema version and migrations.
    #[command(
        subcommand,
        after_help = "Examples:\n  expman db status --dir examples/quickstart\n  expman db migrate\n  expman db rollback --to 0"
    )]
    Db(DbCommand),
    /// Check a config directory (or file) and say what it would run.
    #[command(
        after_help = "Examples:\n  expman validate examples/quickstart\n  expman validate examples/quickstart/trials.yaml --format json\n  expman validate my_config.yaml training.lr=0.1\n\nExit status: 0 when the config is valid (warnings allowed), 1 when it has errors."
    )]
    Validate(ValidateArgs),
    /// Print the fully resolved config of runs (secrets masked).
    #[command(
        after_help = "Examples:\n  expman preview examples/quickstart\n  expman preview examples/quickstart --trial small_model --repeat 2\n  expman preview examples/quickstart --trial lr_sweep --format json training.epochs=3"
    )]
    Preview(PreviewArgs),
    /// Print the JSON Schema of a config file.
    #[command(
        after_help = "Examples:\n  expman schema trials\n  expman schema --out .vscode/expman-schemas\n\nThe schemas follow JSON Schema draft 2020-12; yaml-language-server users can point `yaml.schemas` at them."
    )]
    Schema(SchemaArgs),
    /// Write a small, valid, commented config directory to start from.
    #[command(after_help = "Examples:\n  expman init my_experiment\n  expman init my_experiment --name lr_study")]
    Init(InitArgs),
    /// Send the trackers (MLflow, TensorBoard, CSV, log) what they have not acknowledged yet.
    #[command(
        after_help = "Examples:\n  expman sync                          # in a config directory: its experiment's trackers\n  expman sync --tracker mlflow --dir examples/quickstart\n  expman sync --all-experiments --workspace outputs\n  expman sync --tracker tensorboard --reset   # write everything again\n\nA back end that was down during a run only fell behind: this sends the rest, and nothing twice.\nExit status: 0 when every tracker is up to date, 1 when one could not be reached."
    )]
    Sync(SyncArgs),
    /// Send experiments of the record to an MLflow tracking server.
    #[command(
        after_help = "Examples:\n  expman export-mlflow --tracking-uri http://127.0.0.1:5000\n  expman export-mlflow --dir examples/quickstart --experiment-name quickstart-v2\n\nThe URI defaults to the experiment's `mlflow` tracker in env.yaml, else MLFLOW_TRACKING_URI.\nTrials become parent runs, their repeats child runs; exporting again sends only what is new."
    )]
    ExportMlflow(ExportMlflowArgs),
}

/// Where the record is (for commands that read it).
#[derive(Clone, Debug, Default, Args)]
pub struct RecordArgs {
    /// A config directory whose env.yaml names the workspace.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The workspace directory itself.
    #[arg(long, env = "EXPMAN_WORKSPACE")]
    pub workspace: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Only this tracker (its type, e.g. `mlflow`, or its name, e.g. `mlflow2`).
    #[arg(long)]
    pub tracker: Option<String>,
    /// Forget what the tracker acknowledged and send everything again (after its back end lost its data).
    #[arg(long)]
    pub reset: bool,
}

#[derive(Debug, Args)]
pub struct ExportMlflowArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The MLflow tracking server, e.g. `http://127.0.0.1:5000`.
    #[arg(long)]
    pub tracking_uri: Option<String>,
    /// The MLflow experiment to fill (default: the expman experiment's name).
    #[arg(long)]
    pub experiment_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A config directory, one of its files, or a single-file config.
    pub path: PathBuf,
    /// Overrides applied to every run: `key.path=value` (`+key=value` adds a key).
    pub overrides: Vec<String>,
    #[command(flatten)]
    pub options: RunOptions,
    /// Print what would run, and run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How to run: shared by `expman run` and `%%expman run`.
#[derive(Clone, Debug, Default, Args)]
pub struct RunOptions {
    /// Most runs at once (default: `resources.max_parallel`, else the number of CPU cores).
    #[arg(long, short = 'j')]
    pub parallel: Option<usize>,
    /// Only these trials (declared names or sweep children's full names); repeatable.
    #[arg(long = "trial", short = 't')]
    pub trials: Vec<String>,
    /// Run only what has not succeeded yet (same experiment, trial, repeat and config).
    #[arg(long)]
    pub resume: bool,
}

#[derive(Debug, Args)]
pub struct ExperimentsArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlotBy {
    /// One line per trial: the mean across its repeats, ± one standard deviation shaded.
    Trial,
    /// One line per run.
    Run,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlotX {
    Step,
    Epoch,
    /// Seconds since each run's first point.
    Time,
}

#[derive(Clone, Debug, Args)]
pub struct PlotArgs {
    /// The metric to plot (with `--history`: the search's metric).
    #[arg(required_unless_present = "history")]
    pub metric: Option<String>,
    /// Which runs (MLflow search syntax), e.g. `"trial LIKE 'lr_%'"`.
    pub filter: Option<String>,
    /// One line per trial (mean ± std across repeats) or per run.
    #[arg(long, value_enum, default_value_t = PlotBy::Trial)]
    pub by: PlotBy,
    /// The x axis.
    #[arg(long, value_enum, default_value_t = PlotX::Step)]
    pub x: PlotX,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Where to write the chart: `.svg`, `.json` (Vega-Lite v5) or `.html` (a notebook also shows it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A search's best value so far over its suggestions, instead of curves (one line per search).
    #[arg(long, conflicts_with_all = ["by", "x", "filter"])]
    pub history: bool,
    /// With `--history`: only this trial's search.
    #[arg(long, requires = "history")]
    pub trial: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KernelCommand {
    /// Install the kernelspec so that Jupyter lists the "expman" kernel.
    #[command(
        after_help = "Examples:\n  expman kernel install              # for this user ($JUPYTER_DATA_DIR, else ~/.local/share/jupyter)\n  expman kernel install --sys-prefix # into the active virtualenv or conda env\n  expman kernel install --prefix /opt/jupyter\n\nThe kernelspec runs this binary (its absolute path), so reinstall after moving it."
    )]
    Install(KernelInstallArgs),
    /// Start the kernel (Jupyter runs this from the kernelspec).
    #[command(
        after_help = "Examples:\n  expman kernel start -f /run/user/1000/jupyter/kernel-1234.json\n\nJupyter writes the connection file and runs this from the kernelspec; to use the kernel,\n`expman kernel install` once, then pick \"expman\" in JupyterLab, VS Code or nbclient."
    )]
    Start(KernelStartArgs),
}

#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct KernelInstallArgs {
    /// For this user (the default).
    #[arg(long)]
    pub user: bool,
    /// Into the active Python environment's prefix (`sys.prefix`).
    #[arg(long)]
    pub sys_prefix: bool,
    /// Into PREFIX/share/jupyter/kernels.
    #[arg(long)]
    pub prefix: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KernelStartArgs {
    /// The connection file Jupyter wrote.
    #[arg(short = 'f', long = "connection-file")]
    pub connection_file: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// A filter in MLflow's search syntax (see below).
    pub filter: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Sort keys, e.g. `metrics.val_loss` or `metrics.val_acc desc`; repeatable.
    #[arg(long = "order-by")]
    pub order_by: Vec<String>,
    /// Most rows.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Columns to show, comma-separated; `*` at the end matches a prefix (`params.*`).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where the record is and which experiment.
#[derive(Clone, Debug, Default, Args)]
pub struct ScopeArgs {
    #[command(flatten)]
    pub record: RecordArgs,
    /// Only this experiment (default: the one of the config directory, if found through one).
    #[arg(long, short = 'e')]
    pub experiment: Option<String>,
    /// Every experiment in the workspace.
    #[arg(long, conflicts_with = "experiment")]
    pub all_experiments: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FrameFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

#[derive(Clone, Debug, Args)]
pub struct OutputArgs {
    /// Output format (`parquet` needs `--out`).
    #[arg(long, value_enum, default_value_t = FrameFormat::Table)]
    pub format: FrameFormat,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Run ids (or prefixes) and trial names.
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Only these metric keys.
    #[arg(long, value_delimiter = ',')]
    pub keys: Vec<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Min,
    Max,
}

#[derive(Clone, Debug, Args)]
pub struct MetricArgs {
    /// The metric.
    #[arg(long, short = 'm')]
    pub metric: String,
    /// Whether lower or higher is better (default: max for names with acc, auc, f1, score, precision, recall; else min).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Which value stands for a run: `final`, `best`, or a step number.
    #[arg(long, default_value = "final")]
    pub at: String,
    /// Every run of each repeat (default: its latest run only, so that
    /// runs made before a `--resume` or a config change do not mix in).
    #[arg(long)]
    pub all_runs: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub trial_a: String,
    pub trial_b: String,
    #[command(flatten)]
    pub metric: MetricArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub metric: MetricArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RankArgs {
    /// A filter in MLflow's search syntax.
    pub filter: Option<String>,
    #[command(flatten)]
    pub metric: MetricArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A run id (or prefix) or a trial name.
    pub a: String,
    /// A run id (or prefix) or a trial name.
    pub b: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query.
    pub query: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Parquet,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableName {
    Runs,
    Metrics,
    Params,
    Tags,
    Trials,
    Experiments,
    Hardware,
    Artifacts,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A filter on the runs (MLflow search syntax); for other tables, their runs.
    pub filter: Option<String>,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    #[arg(long)]
    pub out: PathBuf,
    /// Which table.
    #[arg(long, value_enum, default_value_t = TableName::Runs)]
    pub table: TableName,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Args)]
pub struct UiArgs {
    #[command(flatten)]
    pub record: RecordArgs,
    /// The address to listen on; anything but loopback requires the token.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// The port (0: any free one).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// The token that grants access (default: one generated and printed).
    #[arg(long, env = "EXPMAN_UI_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Trial names (a declared name stops its sweep too) and run ids (or unique prefixes).
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Only runs of this experiment.
    #[arg(long)]
    pub experiment: Option<String>,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// A config directory (like `--dir`).
    pub path: Option<PathBuf>,
    /// Only this trial's search.
    #[arg(long)]
    pub trial: Option<String>,
    /// Every search, not only the latest of each trial.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t = HwFormat::Table)]
    pub format: HwFormat,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// A run's artifacts: path, kind, size, SHA-256, and where the content is.
    #[command(
        after_help = "Examples:\n  expman artifacts list k3x9f2m1\n  expman artifacts list k3x9f2m1 --format json --dir examples/quickstart\n\nwhere: `stored` (in .expman/blobs/), `stored, encrypted`, `run directory` (not stored yet),\n`deleted` (by the checkpoint policy) or `missing`."
    )]
    List(ArtifactsListArgs),
    /// Write an artifact's content to a file, checked against its SHA-256.
    #[command(
        after_help = "Examples:\n  expman artifacts get k3x9f2m1 checkpoint-039.json --out best.json\n  expman artifacts get k3x9f2m1 weights.json --out -      # to standard output\n  expman artifacts get alias:best --out model.json\n  EXPMAN_ARTIFACT_KEY=... expman artifacts get k3x9f2m1 secret.bin\n\nPATH is compared with the paths the run recorded (as listed, or as recorded); nothing else is read.\nThe file is written beside its destination and renamed once its SHA-256 checked out."
    )]
    Get(ArtifactsGetArgs),
    /// Name an artifact (`best`, `production`): `alias:NAME` then refers to it in `inputs:` and here.
    #[command(
        after_help = "Examples:\n  expman artifacts tag k3x9f2m1 weights.json best\n  expman artifacts tag p0q8z7a2 weights.json best     # moves `best` to another run's weights\n\nThen `alias:best` in `inputs:`, and `expman artifacts get alias:best`."
    )]
    Tag(ArtifactsTagArgs),
    /// Every named artifact.
    #[command(after_help = "Examples:\n  expman artifacts aliases\n  expman artifacts aliases --format json")]
    Aliases(ArtifactsAliasesArgs),
    /// Send the store's blobs the remote (`artifacts.store`) does not have yet.
    #[command(
        after_help = "Examples:\n  expman artifacts push --dir examples/two_stage/train\n  AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... expman artifacts push --workspace outputs\n\nRuns upload their artifacts in the background as they end; this sends what a remote that was down,\nor a runner that stopped, left behind. Nothing is sent twice; an upload cut off goes on where it stopped."
    )]
    Push(ArtifactsPushArgs),
    /// Print a new random key for `EXPMAN_ARTIFACT_KEY` or `artifacts.key_file`.
    #[command(
        after_help = "Examples:\n  export EXPMAN_ARTIFACT_KEY=$(expman artifacts keygen)\n  expman artifacts keygen > ~/.config/expman/artifact.key && chmod 600 ~/.config/expman/artifact.key\n\nKeep the key outside the workspace: without it, encrypted artifacts cannot be read."
    )]
    Keygen,
}

#[derive(Debug, Args)]
pub struct ArtifactsTagArgs {
    /// A run id, or a unique prefix of one.
    pub run: String,
    /// The artifact's path as `expman artifacts list` shows it.
    pub path: String,
    /// The name (letters, digits, `-`, `_`, `.`); naming another artifact moves it.
    pub name: String,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct ArtifactsPushArgs {
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct ArtifactsAliasesArgs {
    #[arg(long, value_enum, default_value_t = HwFormat::Table)]
    pub format: HwFormat,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct LineageArgs {
    /// A run id (or a unique prefix of one).
    pub run: String,
    /// `text` (a tree each way), `json`, or `dot` (Graphviz: `| dot -Tsvg > lineage.svg`).
    #[arg(long, value_enum, default_value_t = LineageFormat::Text)]
    pub format: LineageFormat,
    /// How many steps to follow each way.
    #[arg(long, default_value_t = 10)]
    pub depth: usize,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LineageFormat {
    Text,
    Json,
    Dot,
}

#[derive(Debug, Args)]
pub struct ArtifactsListArgs {
    /// A run id, or a unique prefix of one.
    pub run: String,
    #[arg(long, value_enum, default_value_t = HwFormat::Table)]
    pub format: HwFormat,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct ArtifactsGetArgs {
    /// A run id (or a unique prefix of one), or `alias:NAME`.
    pub run: String,
    /// The artifact's path as `expman artifacts list` shows it (none with `alias:NAME`).
    pub path: Option<String>,
    /// Where to write it (`-`: standard output). Default: its file name, in the current directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write over a file that exists.
    #[arg(long)]
    pub force: bool,
    /// A file holding the key of an encrypted store (else `EXPMAN_ARTIFACT_KEY`).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Say what would be stored and freed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A run id, or a unique prefix of one.
    pub run: String,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HwFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GpuChoice {
    Off,
    Auto,
    Required,
}

#[derive(Debug, Args)]
pub struct HwArgs {
    /// Print one sample and exit.
    #[arg(long)]
    pub once: bool,
    /// Output format (`json` prints one JSON object per sample).
    #[arg(long, value_enum, default_value_t = HwFormat::Table)]
    pub format: HwFormat,
    /// Time between samples, e.g. `1s`, `500ms`.
    #[arg(long, default_value = "1s")]
    pub interval: String,
    /// Whether to look at GPUs.
    #[arg(long, value_enum, default_value_t = GpuChoice::Auto)]
    pub gpu: GpuChoice,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// The schema version and what would be migrated.
    #[command(
        after_help = "Examples:\n  expman db status --dir examples/quickstart\n  expman db status --workspace outputs\n  EXPMAN_DB_PASSWORD=... expman db status --database mysql://me@db.example:3306/team"
    )]
    Status(DbArgs),
    /// Bring the schema up to date.
    #[command(
        after_help = "Examples:\n  expman db migrate --dir examples/quickstart\n  EXPMAN_DB_PASSWORD=... expman db migrate --database mysql://me@db.example:3306/team\n\nSQLite: each migration runs in its own transaction; other expman processes may keep using the database.\nMySQL/MariaDB: one migrating process at a time (a server lock); a migration cut off half-way goes on from\nthe statement it reached the next time."
    )]
    Migrate(DbArgs),
    /// Undo migrations (one, or down to `--to`).
    #[command(
        after_help = "Examples:\n  expman db rollback              # the last migration\n  expman db rollback --to 2       # down to version 2\n\nRolling back drops what later migrations added; back up the database first."
    )]
    Rollback {
        #[command(flatten)]
        db: DbArgs,
        /// The version to go back to.
        #[arg(long)]
        to: Option<i64>,
    },
    /// Send this workspace's runs to its team database (`database: {type: mysql}` in env.yaml) now.
    #[command(
        after_help = "Examples:\n  EXPMAN_DB_PASSWORD=... expman db push --dir examples/quickstart\n\nA runner sends its runs as they go; what it could not send (the server was down, the runner was\nkilled) stays in the local record until this, the next `expman run` or any read of the record sends it.\nNothing is sent twice."
    )]
    Push(DbArgs),
    /// Copy a history into another database (a local SQLite file into the team's MySQL/MariaDB database, or back).
    #[command(
        after_help = "Examples:\n  EXPMAN_DB_PASSWORD=... expman db copy --from sqlite:outputs/expman.db --to mysql://me@db.example:3306/team\n  EXPMAN_DB_PASSWORD=... expman db copy --from mysql://me@db.example/team --to sqlite:team-copy.db\n\nMerges: experiments by name, trials by name, runs by id. A run the destination got from this same\nsource is brought up to date (its new points appended); one it got elsewhere is left alone, so copying\nagain copies only what is new. Each run goes over in one transaction with all its rows. The password comes from EXPMAN_DB_PASSWORD,\nnever from the URL; `?ssl-mode=REQUIRED` (or VERIFY_IDENTITY) for TLS."
    )]
    Copy {
        /// `sqlite:PATH` or `mysql://user@host:port/database`.
        #[arg(long)]
        from: String,
        /// `sqlite:PATH` (created if missing) or `mysql://user@host:port/database`.
        #[arg(long)]
        to: String,
    },
}

/// Which database a `db` command means.
#[derive(Clone, Debug, Default, Args)]
pub struct DbArgs {
    #[command(flatten)]
    pub record: RecordArgs,
    /// A MySQL/MariaDB database instead of the workspace's SQLite file:
    /// `mysql://user@host:port/database` (password in EXPMAN_DB_PASSWORD).
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A config directory, one of its files, or a single-file config.
    pub path: PathBuf,
    /// Overrides applied to every run: `key.path=value` (`+key=value` adds a key).
    pub overrides: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
    pub format: DiagnosticFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PreviewFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// A config directory, one of its files, or a single-file config.
    pub path: PathBuf,
    /// Overrides applied to every run: `key.path=value`.
    pub overrides: Vec<String>,
    /// Only this trial (its name, or a sweep child's full name); repeatable.
    #[arg(long = "trial", short = 't')]
    pub trials: Vec<String>,
    /// Only this repeat (1-based).
    #[arg(long, short = 'r')]
    pub repeat: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PreviewFormat::Yaml)]
    pub format: PreviewFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaName {
    Env,
    Experiment,
    Base,
    Trials,
    /// The single-file form with all four sections.
    Config,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file's schema (default: the single-file form, which holds all four).
    #[arg(value_enum)]
    pub which: Option<SchemaName>,
    /// Write every schema as `<name>.schema.json` into this directory instead.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to create (must not hold config files yet).
    pub dir: PathBuf,
    /// The experiment name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}
