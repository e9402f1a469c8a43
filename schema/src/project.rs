//! Assembles an experiment's config from its files: the four files of a
//! config directory (or the sections of one single-file config), each
//! validated against its schema, with `extends:` chains merged in, env and
//! experiment interpolations resolved, and trials read into [`TrialDef`]s
//! with the checks that need more than one file (duplicate trial names,
//! overrides of keys base.yaml does not have, sweep shapes).
//!
//! [`load`] never fails: every problem becomes a diagnostic, and the
//! [`Project`] holds whatever could be understood.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, normalize as normalize_diagnostics};
use crate::interp::{self, Builtins};
use crate::loader::{Loader, LoaderEnv, NotUtf8, normalize};
use crate::merge::{check_overrides, expand_dotted, merge};
use crate::model::{EnvFile, ExperimentFile};
use crate::schemas::SchemaKind;
use crate::source::{FileId, Sources, Span};
use crate::validate::validate;
use crate::yaml::{self, Map, Node, Value, format_scalar};

/// The four kinds of config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Env,
    Experiment,
    Base,
    Trials,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Env, Role::Experiment, Role::Base, Role::Trials];

    /// `env`, `experiment`, `base`, `trials`: the file stem and the section name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Env => "env",
            Role::Experiment => "experiment",
            Role::Base => "base",
            Role::Trials => "trials",
        }
    }

    pub fn schema(self) -> SchemaKind {
        match self {
            Role::Env => SchemaKind::Env,
            Role::Experiment => SchemaKind::Experiment,
            Role::Base => SchemaKind::Base,
            Role::Trials => SchemaKind::Trials,
        }
    }

    /// The role of a file by its name (`env.yaml`, `trials.yml`, ...).
    pub fn from_file_name(path: &Path) -> Option<Role> {
        let name = path.file_name()?.to_str()?;
        let stem = name.strip_suffix(".yaml").or_else(|| name.strip_suffix(".yml"))?;
        Role::ALL.into_iter().find(|r| r.name() == stem)
    }

    /// The file of this role in a directory, if there is one.
    pub fn find_in(self, loader: &dyn Loader, dir: &Path) -> Option<PathBuf> {
        ["yaml", "yml"].iter().map(|ext| dir.join(format!("{}.{ext}", self.name()))).find(|p| loader.is_file(p))
    }
}

/// One sweep axis: a dotted key and its values.
#[derive(Clone, Debug)]
pub struct SweepAxis {
    pub key: String,
    pub key_span: Span,
    pub values: Vec<Node>,
}

/// A trial as declared in trials.yaml.
#[derive(Clone, Debug)]
pub struct TrialDef {
    pub name: String,
    pub name_span: Span,
    /// The whole trial item.
    pub node: Node,
    pub repeat: u32,
    /// `settings` as written (dotted keys, `+` prefixes), or an empty map.
    pub settings: Node,
    /// `settings` with dotted keys nested and `+` dropped, ready to merge.
    pub settings_merged: Node,
    pub sweep: Vec<SweepAxis>,
    /// `search:`, when it reads into a search (problems are diagnostics).
    pub search: Option<crate::search::SearchDef>,
    pub desc: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// Where a project's config came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A directory with env.yaml, experiment.yaml, base.yaml, trials.yaml.
    Directory,
    /// One file with `env`, `experiment`, `base` and `trials` sections.
    SingleFile(PathBuf),
}

/// An experiment's config as understood from its files.
#[derive(Clone, Debug)]
pub struct Project {
    /// The config directory (relative paths in the config start here).
    pub dir: PathBuf,
    pub origin: Origin,
    /// The file read for each role (after the single-file form, the same
    /// file for all four).
    pub files: BTreeMap<Role, FileId>,
    /// env.yaml after `extends`, with interpolations resolved.
    pub env_node: Node,
    pub env: EnvFile,
    pub experiment_node: Node,
    pub experiment: ExperimentFile,
    /// base.yaml after `extends` (interpolations are resolved per run).
    pub base: Node,
    pub trials: Vec<TrialDef>,
}

impl Project {
    pub fn experiment_name(&self) -> &str {
        &self.experiment.name
    }

    /// The workspace directory: `env.workspace` relative to the config
    /// directory, `outputs` when unset.
    pub fn workspace(&self) -> PathBuf {
        match self.env.workspace.as_deref().filter(|w| !w.trim().is_empty()) {
            Some(w) => normalize(&self.dir.join(w)),
            None => normalize(&self.dir.join("outputs")),
        }
    }

    pub fn trial(&self, name: &str) -> Option<&TrialDef> {
        self.trials.iter().find(|t| t.name == name)
    }
}

/// The result of loading: every source read, the project, and the problems.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub sources: Sources,
    pub project: Project,
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads a config directory, one of its files (meaning its directory), or
/// a single-file config.
pub fn load(loader: &dyn Loader, path: &Path) -> Analysis {
    let path = normalize(path);
    let asm = Assembler::new(loader);
    if loader.is_dir(&path) {
        return asm.load_directory(&path);
    }
    if Role::from_file_name(&path).is_some() {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        return asm.load_directory(&normalize(&dir));
    }
    asm.load_single_file(&path, None)
}

/// Loads a single-file config given as text (a notebook cell); `path` names
/// it in diagnostics and its directory anchors relative paths.
pub fn load_text(loader: &dyn Loader, path: &Path, text: &str) -> Analysis {
    Assembler::new(loader).load_single_file(path, Some(text.to_string()))
}

/// Loads a config directory and merges a single-file overlay over it (a
/// notebook cell's body): its `env`, `experiment` and `base` sections merge
/// over the directory's files; its `trials` (a list, or the `trials`
/// section) replace the directory's trials.
pub fn load_with_overlay(loader: &dyn Loader, dir: &Path, overlay_name: &Path, overlay: &str) -> Analysis {
    Assembler::new(loader).load_overlay(&normalize(dir), overlay_name, overlay)
}

struct Assembler<'l> {
    loader: &'l dyn Loader,
    sources: Sources,
    diags: Vec<Diagnostic>,
}

/// Each role's document, before typing.
#[derive(Default)]
struct Docs {
    env: Option<Node>,
    experiment: Option<Node>,
    base: Option<Node>,
    trials: Option<Node>,
    files: BTreeMap<Role, FileId>,
}

impl<'l> Assembler<'l> {
    fn new(loader: &'l dyn Loader) -> Assembler<'l> {
        Assembler { loader, sources: Sources::new(), diags: Vec::new() }
    }

    /// Reads and parses a file; `cite` is where an unreadable file is blamed.
    fn read_yaml(&mut self, path: &Path, cite: Span) -> Option<(FileId, Node)> {
        match self.loader.read(path) {
            Err(e) if e.get_ref().and_then(|r| r.downcast_ref::<NotUtf8>()).is_some() => {
                let bad = e.get_ref().and_then(|r| r.downcast_ref::<NotUtf8>()).expect("checked").clone();
                let (id, node) = self.parse_text(path, bad.text.clone());
                let at = Span::new(id, bad.offset, bad.offset + '\u{fffd}'.len_utf8());
                self.diags.push(
                    Diagnostic::error(Code::Io, at, bad.to_string()).with_hint(
                        "expman reads configs as UTF-8; this byte looks like Latin-1 or Windows-1252: save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
                    ),
                );
                Some((id, node))
            }
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(Code::Io, cite, format!("cannot read {}: {e}", path.display()))
                        .with_hint("check that the path exists and is readable"),
                );
                None
            }
            Ok(text) => Some(self.parse_text(path, text)),
        }
    }

    fn parse_text(&mut self, path: &Path, text: String) -> (FileId, Node) {
        let id = self.sources.add(path, text.as_str());
        let parsed = yaml::parse(&text, id);
        self.diags.extend(parsed.errors);
        let mut docs = parsed.docs.into_iter();
        let first = docs.next().unwrap_or_else(|| Node::null(Span::new(id, 0, 0)));
        if let Some(second) = docs.next() {
            self.diags.push(
                Diagnostic::error(
                    Code::MultipleDocuments,
                    Span::new(id, second.span.start as usize, second.span.start as usize + 1),
                    "a config file holds one YAML document, but a second one starts here",
                )
                .with_hint("remove the `---` separator, or move this document into its own file"),
            );
        }
        (id, first)
    }

    fn check_schema(&mut self, role: Role, node: &Node) {
        if !node.is_null() {
            // A bare trials list reads best as `trials[0]` in messages.
            let at: &[&str] = if role == Role::Trials && node.as_seq().is_some() { &["trials"] } else { &[] };
            validate(role.schema(), None, node, Span::NONE, at, &mut self.diags);
        }
    }

    fn load_directory(mut self, dir: &Path) -> Analysis {
        let mut docs = Docs::default();
        for role in Role::ALL {
            let Some(path) = role.find_in(self.loader, dir) else {
                continue;
            };
            if let Some((id, node)) = self.read_yaml(&path, Span::NONE) {
                self.check_schema(role, &node);
                docs.files.insert(role, id);
                let node = self.with_extends(role, node, dir, &mut vec![path.clone()]);
                docs.set(role, node);
            }
        }
        if docs.trials.is_none() && !docs.files.contains_key(&Role::Trials) {
            self.diags.push(
                Diagnostic::error(Code::Io, Span::NONE, "no trials.yaml in the config directory").with_hint(
                    "a config directory needs at least trials.yaml; `expman init DIR` writes a starting point",
                ),
            );
        }
        self.finish(dir.to_path_buf(), Origin::Directory, docs)
    }

    fn load_single_file(mut self, path: &Path, text: Option<String>) -> Analysis {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let parsed = match text {
            Some(text) => Some(self.parse_text(path, text)),
            None => self.read_yaml(path, Span::NONE),
        };
        let mut docs = Docs::default();
        if let Some((id, root)) = parsed {
            self.sections_into(&mut docs, id, root, &dir, path, true);
        }
        self.finish(dir, Origin::SingleFile(path.to_path_buf()), docs)
    }

    /// Reads a single-file document's sections into `docs`. A bare list is
    /// taken as the trials.
    fn sections_into(&mut self, docs: &mut Docs, id: FileId, root: Node, dir: &Path, path: &Path, validate_root: bool) {
        match &root.value {
            Value::Seq(_) => {
                validate(SchemaKind::Trials, None, &root, Span::NONE, &["trials"], &mut self.diags);
                docs.files.insert(Role::Trials, id);
                docs.trials = Some(root);
            }
            Value::Map(map) => {
                if validate_root {
                    validate(SchemaKind::Config, None, &root, Span::NONE, &[], &mut self.diags);
                } else {
                    // Overlay: sections are validated one by one below.
                    for (key, entry) in map.iter() {
                        if Role::ALL.iter().all(|r| r.name() != key) {
                            self.diags.push(
                                Diagnostic::warning(
                                    Code::UnknownKey,
                                    entry.key_span,
                                    format!("unknown section `{key}`"),
                                )
                                .with_hint(
                                    "a cell body holds a trials list, or any of `env`, `experiment`, `base`, `trials`",
                                ),
                            );
                        }
                    }
                }
                for role in Role::ALL {
                    if let Some(section) = map.get(role.name()) {
                        if !validate_root {
                            self.check_schema(role, section);
                        }
                        docs.files.insert(role, id);
                        let node = self.with_extends(role, section.clone(), dir, &mut vec![path.to_path_buf()]);
                        docs.set(role, node);
                    }
                }
            }
            Value::Null => {}
            _ => self.diags.push(Diagnostic::error(
                Code::WrongType,
                root.span,
                format!(
                    "expected a mapping with `env`, `experiment`, `base` and `trials` sections, found {}",
                    root.type_name()
                ),
            )),
        }
    }

    fn load_overlay(mut self, dir: &Path, overlay_name: &Path, overlay: &str) -> Analysis {
        let mut docs = Docs::default();
        if self.loader.is_dir(dir) {
            for role in Role::ALL {
                let Some(path) = role.find_in(self.loader, dir) else {
                    continue;
                };
                if let Some((id, node)) = self.read_yaml(&path, Span::NONE) {
                    self.check_schema(role, &node);
                    docs.files.insert(role, id);
                    let node = self.with_extends(role, node, dir, &mut vec![path.clone()]);
                    docs.set(role, node);
                }
            }
        }
        let (id, root) = self.parse_text(overlay_name, overlay.to_string());
        let mut over = Docs::default();
        self.sections_into(&mut over, id, root, dir, overlay_name, false);
        for role in Role::ALL {
            let Some(node) = over.take(role) else {
                continue;
            };
            docs.files.insert(role, id);
            let combined = match (role, docs.take(role)) {
                (Role::Trials, _) | (_, None) => node,
                (_, Some(mut below)) => {
                    if below.as_map().is_none() {
                        below = Node::empty_map(below.span);
                    }
                    merge(&mut below, &node);
                    below
                }
            };
            docs.set(role, combined);
        }
        if docs.trials.is_none() {
            self.diags.push(Diagnostic::error(
                Code::Io,
                Span::new(id, 0, 0),
                "no trials: give a trials list in the cell, or `--dir` a config directory with trials.yaml",
            ));
        }
        self.finish(dir.to_path_buf(), Origin::SingleFile(overlay_name.to_path_buf()), docs)
    }

    /// Follows `extends:` (a file, or a directory holding a file of the same
    /// role), merging the chain; the extending file wins.
    fn with_extends(&mut self, role: Role, mut node: Node, dir: &Path, chain: &mut Vec<PathBuf>) -> Node {
        let extends = match &mut node.value {
            Value::Map(m) => std::sync::Arc::make_mut(m).remove("extends"),
            _ => None,
        };
        let Some(entry) = extends else { return node };
        let Some(target) = entry.value.as_str() else {
            return node; // The schema reported the wrong type.
        };
        let mut path = normalize(&dir.join(target));
        if self.loader.is_dir(&path) {
            match role.find_in(self.loader, &path) {
                Some(p) => path = p,
                None => {
                    self.diags.push(Diagnostic::error(
                        Code::BadExtends,
                        entry.value.span,
                        format!("`{target}` has no {}.yaml to extend", role.name()),
                    ));
                    return node;
                }
            }
        }
        if chain.contains(&path) {
            let root = chain[0].parent().map(Path::to_path_buf).unwrap_or_default();
            let show = |p: &PathBuf| relative_to(p, &root).display().to_string();
            let mut names: Vec<String> = chain.iter().map(show).collect();
            names.push(show(&path));
            self.diags.push(
                Diagnostic::error(
                    Code::BadExtends,
                    entry.value.span,
                    format!("`extends` cycle: {}", names.join(" -> ")),
                )
                .with_hint("a file cannot build on itself, directly or through others"),
            );
            return node;
        }
        if !self.loader.is_file(&path) {
            self.diags.push(
                Diagnostic::error(Code::BadExtends, entry.value.span, format!("cannot find `{target}` to extend"))
                    .with_hint("`extends` takes a path relative to this file's directory"),
            );
            return node;
        }
        let Some((_, parent)) = self.read_yaml(&path, entry.value.span) else {
            return node;
        };
        self.check_schema(role, &parent);
        chain.push(path.clone());
        let parent_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let parent = self.with_extends(role, parent, &parent_dir, chain);
        chain.pop();
        combine(role, parent, node)
    }

    fn finish(mut self, dir: PathBuf, origin: Origin, mut docs: Docs) -> Analysis {
        let env_lookup = LoaderEnv(self.loader);
        let default_name = normalize(&dir).file_name().and_then(|n| n.to_str()).unwrap_or("experiment").to_string();

        let env_raw = as_map_or_empty(docs.env.take(), Span::NONE);
        let env_node = interp::resolve(&env_raw, &Builtins::default(), &env_lookup, &self.sources, &mut self.diags);
        let env: EnvFile = serde_json::from_value(env_node.to_json()).unwrap_or_default();

        let exp_raw = as_map_or_empty(docs.experiment.take(), Span::NONE);
        let mut exp_node = interp::resolve(&exp_raw, &Builtins::default(), &env_lookup, &self.sources, &mut self.diags);
        if exp_node.get("name").and_then(Node::as_str).is_none()
            && let Some(m) = exp_node.as_map_mut()
        {
            let name_node = Node::string(default_name.clone(), Span::NONE);
            m.insert("name", Span::NONE, name_node);
        }
        let experiment: ExperimentFile = serde_json::from_value(exp_node.to_json())
            .unwrap_or_else(|_| ExperimentFile { name: default_name.clone(), ..ExperimentFile::default() });

        let mut base = as_map_or_empty(docs.base.take(), Span::NONE);
        if let Some(m) = base.as_map_mut() {
            m.remove("extends");
        }
        let has_base = docs.files.contains_key(&Role::Base);

        let trial_items = match docs.trials.take() {
            Some(node) => trials_list(node),
            None => Vec::new(),
        };
        if trial_items.is_empty() && docs.files.contains_key(&Role::Trials) {
            let id = docs.files[&Role::Trials];
            self.diags.push(
                Diagnostic::error(Code::MissingKey, Span::new(id, 0, 0), "no trials are defined")
                    .with_hint("add a trial: `- name: baseline`"),
            );
        }
        let trials = self.read_trials(trial_items, &base, has_base);

        drop_noise_after_syntax_errors(&mut self.diags);
        normalize_diagnostics(&mut self.diags);
        Analysis {
            project: Project {
                dir,
                origin,
                files: docs.files,
                env_node,
                env,
                experiment_node: exp_node,
                experiment,
                base,
                trials,
            },
            sources: self.sources,
            diagnostics: self.diags,
        }
    }

    fn read_trials(&mut self, items: Vec<Node>, base: &Node, check_base: bool) -> Vec<TrialDef> {
        let mut trials: Vec<TrialDef> = Vec::new();
        let mut seen: std::collections::HashMap<String, Span> = std::collections::HashMap::new();
        for item in items {
            let Some(map) = item.as_map() else { continue };
            let Some(name_node) = map.get("name") else {
                continue;
            };
            let name = match &name_node.value {
                Value::String(s) => s.clone(),
                _ => continue, // The schema reported it.
            };
            if name.trim().is_empty() {
                self.diags.push(Diagnostic::error(Code::InvalidValue, name_node.span, "a trial name cannot be empty"));
                continue;
            }
            if let Some(first) = seen.get(&name) {
                self.diags.push(
                    Diagnostic::error(Code::DuplicateTrial, name_node.span, format!("duplicate trial name `{name}`"))
                        .with_related(*first, "first defined here")
                        .with_hint("trial names identify runs in the record; rename one of them"),
                );
                continue;
            }
            let repeat = map
                .get("repeat")
                .and_then(Node::as_i64)
                .filter(|r| *r >= 1)
                .map(|r| r.min(u32::MAX as i64) as u32)
                .unwrap_or(1);
            let settings = match map.get("settings") {
                Some(s) if s.as_map().is_some() => s.clone(),
                Some(s) => Node::empty_map(s.span),
                None => Node::empty_map(item.span),
            };
            if check_base {
                check_overrides(base, &settings, &format!("trial `{name}`"), &mut self.diags);
            }
            let sweep = self.read_sweep(map.get("sweep"), base, check_base, &name);
            let search = map
                .get("search")
                .and_then(|s| crate::search::read(s, check_base.then_some(base), &name, &mut self.diags));
            let tags = map
                .get("tags")
                .and_then(Node::as_map)
                .map(|m| m.iter().map(|(k, e)| (k.to_string(), scalar_text(&e.value))).collect())
                .unwrap_or_default();
            seen.insert(name.clone(), name_node.span);
            trials.push(TrialDef {
                name,
                name_span: name_node.span,
                repeat,
                settings_merged: expand_dotted(&settings),
                settings,
                sweep,
                search,
                desc: map.get("desc").and_then(Node::as_str).map(str::to_string),
                tags,
                node: item.clone(),
            });
        }
        trials
    }

    fn read_sweep(&mut self, sweep: Option<&Node>, base: &Node, check_base: bool, trial: &str) -> Vec<SweepAxis> {
        let Some(map) = sweep.and_then(Node::as_map) else {
            return Vec::new();
        };
        let mut axes = Vec::new();
        for (key, entry) in map.iter() {
            let values = match &entry.value.value {
                Value::Seq(items) if items.is_empty() => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::BadSweep,
                            entry.value.span,
                            format!("sweep `{key}` has no values, so the trial would have no runs"),
                        )
                        .with_hint("give at least one value, e.g. `[0.1, 0.01]`"),
                    );
                    continue;
                }
                Value::Seq(items) => items.to_vec(),
                _ => continue, // The schema reported the type.
            };
            if check_base {
                let mut probe = Map::new();
                probe.insert(key.to_string(), entry.key_span, values[0].clone());
                let probe = Node::new(Value::map(probe), entry.value.span);
                check_overrides(base, &probe, &format!("the sweep of trial `{trial}`"), &mut self.diags);
            }
            axes.push(SweepAxis {
                key: key.strip_prefix('+').unwrap_or(key).to_string(),
                key_span: entry.key_span,
                values,
            });
        }
        axes
    }
}

impl Docs {
    fn set(&mut self, role: Role, node: Node) {
        match role {
            Role::Env => self.env = Some(node),
            Role::Experiment => self.experiment = Some(node),
            Role::Base => self.base = Some(node),
            Role::Trials => self.trials = Some(node),
        }
    }

    fn take(&mut self, role: Role) -> Option<Node> {
        match role {
            Role::Env => self.env.take(),
            Role::Experiment => self.experiment.take(),
            Role::Base => self.base.take(),
            Role::Trials => self.trials.take(),
        }
    }
}

/// A file with a YAML syntax error reports only that error: what follows
/// from its half-read tree (a value cut off by the error seen as null, say)
/// would only mislead. An error confined to one line (the rest of the file
/// was read without it) keeps the file's other problems.
pub(crate) fn drop_noise_after_syntax_errors(diags: &mut Vec<Diagnostic>) {
    let broken: Vec<FileId> =
        diags.iter().filter(|d| d.code == Code::YamlSyntax && !d.contained).map(|d| d.span.file).collect();
    if !broken.is_empty() {
        diags.retain(|d| d.code == Code::YamlSyntax || !broken.contains(&d.span.file));
    }
}

/// Merges an extended file (`parent`) with the one extending it.
fn combine(role: Role, parent: Node, child: Node) -> Node {
    if role == Role::Trials {
        let mut list = trials_list(parent);
        let mut index: std::collections::HashMap<String, usize> =
            list.iter().enumerate().filter_map(|(i, t)| Some((t.get("name")?.as_str()?.to_string(), i))).collect();
        for trial in trials_list(child) {
            let name = trial.get("name").and_then(Node::as_str).map(str::to_string);
            match name.as_ref().and_then(|n| index.get(n)) {
                Some(&i) => list[i] = trial,
                None => {
                    if let Some(n) = name {
                        index.insert(n, list.len());
                    }
                    list.push(trial);
                }
            }
        }
        let span = list.first().map(|n| n.span).unwrap_or(Span::NONE);
        return Node::new(Value::seq(list), span);
    }
    let mut merged = as_map_or_empty(Some(parent), child.span);
    if child.as_map().is_some() {
        merge(&mut merged, &child);
    }
    merged
}

/// The trial items of a trials document (a list, or `{trials: [...]}`).
fn trials_list(node: Node) -> Vec<Node> {
    match node.value {
        Value::Seq(items) => std::sync::Arc::unwrap_or_clone(items),
        Value::Map(mut m) => match std::sync::Arc::make_mut(&mut m).remove("trials").map(|e| e.value.value) {
            Some(Value::Seq(items)) => std::sync::Arc::unwrap_or_clone(items),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// `path` relative to `root` when it lies below it (for messages).
fn relative_to(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| {
        // A sibling directory: walk up as far as needed.
        let mut up = PathBuf::new();
        let mut base = root.to_path_buf();
        loop {
            if let Ok(rest) = path.strip_prefix(&base) {
                return up.join(rest);
            }
            if !base.pop() {
                return path.to_path_buf();
            }
            up.push("..");
        }
    })
}

fn as_map_or_empty(node: Option<Node>, span: Span) -> Node {
    match node {
        Some(n) if n.as_map().is_some() => n,
        Some(n) => Node::empty_map(n.span),
        None => Node::empty_map(span),
    }
}

fn scalar_text(node: &Node) -> String {
    match &node.value {
        Value::String(s) => s.clone(),
        other => format_scalar(other),
    }
}
