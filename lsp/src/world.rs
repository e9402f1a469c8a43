//! The server's state: open documents, and the analysis of each config
//! (a directory of four files, or a single-file config), computed from the
//! documents as the editor has them (unsaved edits included) and from the
//! disk for files not open.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use expman_schema::{
    Analysis, Diagnostic, ExpandOptions, Expansion, FileId, FsLoader, Loader, Node, Role, Sources, Span, Value,
};

use crate::convert::Text;
use crate::settings::Settings;

/// An open document.
#[derive(Clone, Debug)]
pub struct Doc {
    pub version: i32,
    pub text: Text,
    /// What its top level looks like, computed once per version.
    pub shape: Shape,
}

impl Doc {
    /// A document at `path`; its shape is only worked out (a parse) for
    /// files whose name does not say what they are.
    pub fn new(path: &Path, version: i32, text: Text) -> Doc {
        let shape = if Role::from_file_name(path).is_some() { Shape::default() } else { Shape::of(&text.text) };
        Doc { version, text, shape }
    }
}

/// The top level of a YAML file, as far as finding its config goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// A single-file config: `trials` (a list) with `base`/`env`/`experiment`.
    pub single_file: bool,
    /// It `extends:` another file.
    pub extends: bool,
}

impl Shape {
    pub fn of(text: &str) -> Shape {
        let parsed = expman_schema::yaml::parse(text, expman_schema::FileId(0));
        let Some(map) = parsed.docs.first().and_then(Node::as_map) else { return Shape::default() };
        let sections = ["env", "experiment", "base", "trials"];
        let single_file = map.contains_key("trials") && map.keys().all(|k| sections.contains(&k))
            || (map.contains_key("base") && map.contains_key("trials"))
            || matches!(map.get("trials").map(|n| &n.value), Some(Value::Seq(_)));
        Shape { single_file, extends: map.contains_key("extends") }
    }
}

/// What a document belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A config directory (env.yaml, experiment.yaml, base.yaml, trials.yaml).
    Dir(PathBuf),
    /// A single-file config.
    Single(PathBuf),
}

impl Target {
    /// The path `expman_schema::check` loads.
    pub fn path(&self) -> &Path {
        match self {
            Target::Dir(p) | Target::Single(p) => p,
        }
    }

    /// Whether a file is part of this target.
    pub fn covers(&self, file: &Path) -> bool {
        match self {
            Target::Dir(dir) => file.parent() == Some(dir.as_path()),
            Target::Single(path) => file == path,
        }
    }
}

/// A trial as the features see it.
#[derive(Clone, Debug)]
pub struct TrialSummary {
    pub name: String,
    pub name_span: Span,
    /// How many runs it expands to (sweep points × repeats).
    pub runs: usize,
    /// Its sweep children's names, in order (empty without a sweep).
    pub children: Vec<String>,
}

/// What the server keeps of one analysis of a target: the diagnostics, the
/// texts, base.yaml, and one line per trial. Not the trees of trials.yaml
/// nor the resolved configs: for an experiment of 5,000 trials those are
/// tens of megabytes, kept for every target. A feature that needs a
/// trial's resolved config ([`Snapshot::expand_trial`]) loads the same
/// inputs again and expands that one trial.
pub struct Snapshot {
    pub target: Target,
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
    /// base.yaml after `extends`.
    pub base: Node,
    /// The file read for each role.
    pub files: BTreeMap<Role, FileId>,
    pub trials: Vec<TrialSummary>,
    /// The documents and environment it was computed from.
    inputs: Overlay,
    /// The versions of the open documents it was computed from.
    pub versions: BTreeMap<PathBuf, i32>,
}

impl Snapshot {
    /// The runs of one trial (a declared name: all its sweep children; a
    /// sweep child's full name: that child), resolved.
    pub fn expand_trial(&self, trial: &str, repeat: Option<u32>) -> Expansion {
        let analysis = expman_schema::load(&self.inputs, self.target.path());
        let options = ExpandOptions { trials: vec![trial.to_string()], repeat, ..ExpandOptions::default() };
        expman_schema::expand(&analysis.project, &analysis.sources, &*self.inputs.env, &options)
    }

    /// The file of a role (in a directory) or the single file.
    pub fn file_of(&self, role: Role) -> Option<(&Path, &expman_schema::SourceFile)> {
        let id = self.files.get(&role)?;
        let file = self.sources.get(*id)?;
        Some((file.path.as_path(), file))
    }

    /// The names of the trials, in order.
    pub fn trial_names(&self) -> impl Iterator<Item = &str> {
        self.trials.iter().map(|t| t.name.as_str())
    }
}

/// Open documents over the file system, for analyses.
#[derive(Clone, Default)]
pub struct Overlay {
    texts: HashMap<PathBuf, Arc<str>>,
    env: Arc<HashMap<String, String>>,
}

impl Overlay {
    /// Documents that exist only in memory (tests, previews of unsaved text).
    pub fn of_texts(texts: impl IntoIterator<Item = (PathBuf, String)>) -> Overlay {
        Overlay { texts: texts.into_iter().map(|(p, t)| (p, Arc::from(t))).collect(), env: Arc::default() }
    }
}

impl Loader for Overlay {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        match self.texts.get(path) {
            Some(text) => Ok(text.to_string()),
            None => FsLoader.read(path),
        }
    }

    fn is_file(&self, path: &Path) -> bool {
        self.texts.contains_key(path) || FsLoader.is_file(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        FsLoader.is_dir(path) || self.texts.keys().any(|p| p.parent() == Some(path))
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

/// Everything the server knows.
#[derive(Default)]
pub struct World {
    pub docs: HashMap<PathBuf, Doc>,
    pub snapshots: HashMap<Target, Arc<Snapshot>>,
    pub settings: Settings,
    /// Files whose diagnostics were last published, per target (to clear them).
    pub published: HashMap<Target, Vec<PathBuf>>,
    /// The client can watch files for us (dynamic registration).
    pub client_watches_files: bool,
    /// The client answers `workspace/configuration`.
    pub client_pulls_configuration: bool,
    /// The latest refresh asked for, per target.
    generations: HashMap<Target, u64>,
    env: Arc<HashMap<String, String>>,
}

impl World {
    pub fn new(env: HashMap<String, String>) -> World {
        World { env: Arc::new(env), ..World::default() }
    }

    /// What a file belongs to: its directory when its name is one of the
    /// four; itself when it is a single-file config; the config that
    /// `extends` it (as last analyzed); the directory of a file that
    /// `extends:` another next to a trials.yaml; else nothing (not ours).
    pub fn target_of(&self, path: &Path) -> Option<Target> {
        if Role::from_file_name(path).is_some() {
            return path.parent().map(|d| Target::Dir(d.to_path_buf()));
        }
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            return None;
        }
        let shape = match self.docs.get(path) {
            Some(doc) => doc.shape,
            None => Shape::of(&FsLoader.read(path).ok()?),
        };
        if shape.single_file {
            return Some(Target::Single(path.to_path_buf()));
        }
        if let Some(target) = self.snapshots.iter().find(|(_, s)| s.sources.find(path).is_some()).map(|(t, _)| t) {
            return Some(target.clone());
        }
        let dir = path.parent()?;
        let beside_trials = ["trials.yaml", "trials.yml"].iter().any(|name| FsLoader.is_file(&dir.join(name)));
        (shape.extends && beside_trials).then(|| Target::Dir(dir.to_path_buf()))
    }

    /// Starts a new refresh of `target`: its generation number.
    pub fn next_generation(&mut self, target: &Target) -> u64 {
        let generation = self.generations.entry(target.clone()).or_default();
        *generation += 1;
        *generation
    }

    /// The generation of the latest refresh of `target`.
    pub fn generation(&self, target: &Target) -> u64 {
        self.generations.get(target).copied().unwrap_or(0)
    }

    /// A copy of the open documents for an analysis on another thread.
    pub fn overlay(&self) -> Overlay {
        Overlay {
            texts: self.docs.iter().map(|(p, d)| (p.clone(), d.text.text.clone())).collect(),
            env: self.env.clone(),
        }
    }

    /// The versions of the open documents a target covers.
    pub fn versions(&self, target: &Target) -> BTreeMap<PathBuf, i32> {
        self.docs.iter().filter(|(p, _)| target.covers(p)).map(|(p, d)| (p.clone(), d.version)).collect()
    }

    /// The latest snapshot of the target of `path`, if it matches the open
    /// documents.
    pub fn current(&self, path: &Path) -> Option<Arc<Snapshot>> {
        let target = self.target_of(path)?;
        let snap = self.snapshots.get(&target)?;
        (snap.versions == self.versions(&target)).then(|| snap.clone())
    }

    /// The latest snapshot of the target of `path`, even if documents
    /// changed since (good enough for completion).
    pub fn latest(&self, path: &Path) -> Option<Arc<Snapshot>> {
        self.snapshots.get(&self.target_of(path)?).cloned()
    }
}

/// Analyzes a target (the same `check` as `expman validate`).
pub fn analyze(target: Target, overlay: &Overlay, versions: BTreeMap<PathBuf, i32>) -> Snapshot {
    let options = ExpandOptions { diagnostics_only: true, ..ExpandOptions::default() };
    let (analysis, expansion) = expman_schema::check(overlay, target.path(), &[], options);
    let mut runs: HashMap<&str, usize> = HashMap::new();
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for run in &expansion.runs {
        *runs.entry(run.trial_base.as_str()).or_default() += 1;
        if run.trial != run.trial_base && run.repeat == 0 {
            children.entry(run.trial_base.as_str()).or_default().push(run.trial.as_str());
        }
    }
    let trials = analysis
        .project
        .trials
        .iter()
        .map(|t| TrialSummary {
            name: t.name.clone(),
            name_span: t.name_span,
            runs: runs.get(t.name.as_str()).copied().unwrap_or(0),
            children: children
                .get(t.name.as_str())
                .map(|c| c.iter().map(|n| n.to_string()).collect())
                .unwrap_or_default(),
        })
        .collect();
    let Analysis { sources, project, diagnostics } = analysis;
    Snapshot {
        target,
        sources,
        diagnostics,
        base: project.base,
        files: project.files,
        trials,
        inputs: overlay.clone(),
        versions,
    }
}
