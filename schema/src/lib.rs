//! expman-schema: the expman config language.
//!
//! A config directory (`env.yaml`, `experiment.yaml`, `base.yaml`,
//! `trials.yaml`) or a single-file config goes through these steps, each a
//! module:
//!
//! 1. [`yaml`]: span-aware YAML parsing (saphyr events to [`Node`] trees,
//!    anchors, merge keys, duplicate keys, error recovery);
//! 2. [`validate`] against the JSON Schemas generated from [`model`] and
//!    embedded by [`schemas`];
//! 3. [`project`]: assembly of the four files with `extends:` chains;
//! 4. [`merge`] of trial settings over base, [`overrides`] from the command
//!    line, [`interp`]olation, and [`expand`]sion into [`RunPlan`]s;
//! 5. [`Diagnostic`]s for every problem, [`render`]ed for terminals.
//!
//! Invariant: nothing here reads a file or the environment except through
//! the [`Loader`] trait ([`FsLoader`] is the one implementation that does).
//! Parsing never fails: broken input is data (diagnostics), not an error.

pub mod compiled;
pub mod diagnostic;
pub mod expand;
pub mod interp;
pub mod loader;
pub mod merge;
pub mod model;
pub mod overrides;
pub mod project;
pub mod render;
pub mod schemas;
pub mod search;
pub mod secrets;
pub mod source;
pub mod suggest;
pub mod templates;
pub mod validate;
pub mod yaml;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use expand::{ExpandOptions, Expansion, RunPlan, config_hash, expand};
pub use loader::{FsLoader, Loader, MemoryLoader, NotUtf8};
pub use overrides::Overrides;
pub use project::{Analysis, Origin, Project, Role, TrialDef, load, load_text, load_with_overlay};
pub use schemas::SchemaKind;
pub use source::{FileId, LineCol, LineIndex, SourceFile, Sources, Span};
pub use yaml::{Map, Node, Value};

/// Loads a config and expands its runs in one go: what `expman validate`
/// checks and what the runner launches. Diagnostics of both steps are in
/// the returned analysis.
pub fn check(
    loader: &dyn Loader,
    path: &std::path::Path,
    overrides: &[String],
    options: ExpandOptions,
) -> (Analysis, Expansion) {
    check_loaded(loader, load(loader, path), overrides, options)
}

/// [`check`] for an analysis already loaded (a notebook cell's config, from
/// [`load_text`] or [`load_with_overlay`]).
pub fn check_loaded(
    loader: &dyn Loader,
    analysis: Analysis,
    overrides: &[String],
    options: ExpandOptions,
) -> (Analysis, Expansion) {
    let mut analysis = analysis;
    let mut options = options;
    if !overrides.is_empty() {
        options.overrides = Overrides::parse(overrides, &mut analysis.sources, &mut analysis.diagnostics);
    }
    let env = loader::LoaderEnv(loader);
    let expansion = expand(&analysis.project, &analysis.sources, &env, &options);
    analysis.diagnostics.extend(expansion.diagnostics.iter().cloned());
    project::drop_noise_after_syntax_errors(&mut analysis.diagnostics);
    diagnostic::normalize(&mut analysis.diagnostics);
    (analysis, expansion)
}

/// The environment as the interpolation layer sees it through a loader.
pub fn loader_env(loader: &dyn Loader) -> impl interp::EnvLookup + '_ {
    loader::LoaderEnv(loader)
}
