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
    #[command(
        after_help = "Examples:\n  expman init my_experiment\n  expman init my_experiment --name lr_study"
    )]
    Init(InitArgs),
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
