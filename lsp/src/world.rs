//! The server's state: open documents, and the analysis of each config
//! (a directory of four files, or a single-file config), computed from the
//! documents as the editor has them (unsaved edits included) and from the
//! disk for files not open.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use expman_schema::{Analysis, ExpandOptions, Expansion, FsLoader, Loader, Role, Value};

use crate::convert::Text;
use crate::settings::Settings;

/// An open document.
#[derive(Clone, Debug)]
pub struct Doc {
    pub version: i32,
    pub text: Text,
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

/// One analysis of a target.
pub struct Snapshot {
    pub target: Target,
    pub analysis: Analysis,
    pub expansion: Expansion,
    /// The versions of the open documents it was computed from.
    pub versions: BTreeMap<PathBuf, i32>,
}

impl Snapshot {
    /// The file of a role (in a directory) or the single file.
    pub fn file_of(&self, role: Role) -> Option<(&Path, &expman_schema::SourceFile)> {
        let id = self.analysis.project.files.get(&role)?;
        let file = self.analysis.sources.get(*id)?;
        Some((file.path.as_path(), file))
    }
}

/// Open documents over the file system, for analyses.
#[derive(Clone, Default)]
pub struct Overlay {
    texts: HashMap<PathBuf, Arc<str>>,
    env: HashMap<String, String>,
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
    env: HashMap<String, String>,
}

impl World {
    pub fn new(env: HashMap<String, String>) -> World {
        World { env, ..World::default() }
    }

    /// What a file belongs to: a directory when its name is one of the four,
    /// a single-file config when it has `trials`/`base` sections, else none.
    pub fn target_of(&self, path: &Path) -> Option<Target> {
        if Role::from_file_name(path).is_some() {
            return path.parent().map(|d| Target::Dir(d.to_path_buf()));
        }
        let text: Arc<str> = match self.docs.get(path) {
            Some(doc) => doc.text.text.clone(),
            None => FsLoader.read(path).ok()?.into(),
        };
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            return None;
        }
        let parsed = expman_schema::yaml::parse(&text, expman_schema::FileId(0));
        let root = parsed.docs.first()?;
        let map = root.as_map()?;
        let sections = ["env", "experiment", "base", "trials"];
        let is_config = map.contains_key("trials") && map.keys().all(|k| sections.contains(&k))
            || (map.contains_key("base") && map.contains_key("trials"));
        (is_config || matches!(map.get("trials").map(|n| &n.value), Some(Value::Seq(_))))
            .then(|| Target::Single(path.to_path_buf()))
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
    let (analysis, expansion) = expman_schema::check(overlay, target.path(), &[], ExpandOptions::default());
    Snapshot { target, analysis, expansion, versions }
}
