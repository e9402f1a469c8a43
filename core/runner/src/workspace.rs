//! Workspaces: the directory where runs, logs, artifacts and the database
//! live, and how commands that read the record find it.
//!
//! A workspace is marked by `.expman/workspace.json` (written on the first
//! run), which names its database (and the artifact store's remote, if
//! any); `.expman/python/` holds the
//! `expman_client` helper that runs find on their `PYTHONPATH`.

use std::path::{Path, PathBuf};

use expman_schema::Project;
use expman_schema::model::DatabaseKind;

use expman_blobs::RemoteConfig;

use crate::error::RunError;
use crate::team::TeamDatabase;
use expman_os::safe_name;

/// The helper module trials import (`import expman_client`).
pub const PYTHON_CLIENT: &str = include_str!("../python/expman_client.py");

/// A workspace, its database file, and the team database it sends its
/// runs to (when `env.yaml` names one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub root: PathBuf,
    /// The local record (SQLite).
    pub database: PathBuf,
    pub team: Option<TeamDatabase>,
    /// The remote copy of its artifact store (`artifacts.store`).
    pub remote: Option<RemoteConfig>,
    /// Its artifact store encrypts (`artifacts.encrypt`): runs started from
    /// code in it encrypt too.
    pub encrypt: bool,
}

/// Where a command was told to look for the record.
#[derive(Clone, Debug, Default)]
pub struct Locate {
    /// `--workspace DIR`.
    pub workspace: Option<PathBuf>,
    /// `--dir CONFIG_DIR`.
    pub dir: Option<PathBuf>,
    /// `EXPMAN_WORKSPACE`.
    pub env_workspace: Option<PathBuf>,
    /// The current directory.
    pub cwd: PathBuf,
}

const MARKER: &str = ".expman/workspace.json";

/// Bytes kept free for the record on the workspace's disk (see
/// [`Workspace::reserve_path`]): enough to record the end of every run.
pub const RESERVE_BYTES: u64 = 4 << 20;

/// The workspace directory when nothing names one: `env.yaml`'s default
/// (relative to its config directory), and where runs started from code
/// go (relative to the current directory).
pub const DEFAULT_DIR: &str = "outputs";

impl Workspace {
    /// The workspace a project's env.yaml names.
    pub fn for_project(project: &Project) -> Result<Workspace, RunError> {
        let root = project.workspace();
        let db = project.env.database.as_ref();
        let team = match db {
            Some(d) if d.kind == Some(DatabaseKind::Mysql) => {
                let Some(url) = d.url.as_deref().filter(|u| !u.trim().is_empty()) else {
                    return Err(RunError::Invalid(format!(
                        "{}: `database.type: mysql` needs `database.url: mysql://user@host:3306/database`",
                        project.dir.join("env.yaml").display()
                    )));
                };
                crate::team::require(&project.dir.join("env.yaml"))?;
                Some(TeamDatabase::new(url, d.password.clone()))
            }
            _ => None,
        };
        let path = db.and_then(|d| d.path.as_deref()).unwrap_or("expman.db");
        let database = if Path::new(path).is_absolute() { PathBuf::from(path) } else { root.join(path) };
        let remote = project.env.artifacts.as_ref().and_then(|a| {
            let url = a.store.as_deref().map(str::trim).filter(|u| !u.is_empty())?;
            Some(RemoteConfig { url: url.to_string(), endpoint: a.endpoint.clone(), region: a.region.clone() })
        });
        let encrypt = project.env.artifacts.as_ref().and_then(|a| a.encrypt) == Some(true);
        Ok(Workspace { root, database, team, remote, encrypt })
    }

    /// The workspace at `root`, with the database its marker names (or the
    /// default `expman.db`).
    pub fn at(root: &Path) -> Workspace {
        let marker = std::fs::read_to_string(root.join(MARKER))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .unwrap_or_default();
        let database = marker["database"]
            .as_str()
            .map(PathBuf::from)
            .map(|p| if p.is_absolute() { p } else { root.join(p) })
            .unwrap_or_else(|| root.join("expman.db"));
        // The password is never in the marker: it comes from the environment.
        let team = marker["team"].as_str().map(|url| TeamDatabase::new(url, None));
        // Credentials are never in the marker either: the environment has them.
        let remote = marker["artifacts"]["store"].as_str().map(|url| RemoteConfig {
            url: url.to_string(),
            endpoint: marker["artifacts"]["endpoint"].as_str().map(str::to_string),
            region: marker["artifacts"]["region"].as_str().map(str::to_string),
        });
        let encrypt = marker["artifacts"]["encrypt"].as_bool() == Some(true);
        Workspace { root: root.to_path_buf(), database, team, remote, encrypt }
    }

    /// Finds the workspace for a command that reads the record: `--workspace`,
    /// else `EXPMAN_WORKSPACE`, else `--dir`'s config, else the config
    /// directory or workspace the current directory is in (or under), else
    /// `./outputs` when it is a workspace (runs started from code there).
    pub fn locate(locate: &Locate) -> Result<Workspace, RunError> {
        Workspace::locate_scope(locate).map(|(ws, _)| ws)
    }

    /// Like [`Workspace::locate`], and the experiment a config directory
    /// names (when the workspace was found through one): commands that
    /// read the record look at that experiment by default.
    pub fn locate_scope(locate: &Locate) -> Result<(Workspace, Option<String>), RunError> {
        if let Some(ws) = locate.workspace.as_ref().or(locate.env_workspace.as_ref()) {
            return Ok((Workspace::at(&absolute(&locate.cwd, ws)), None));
        }
        if let Some(dir) = &locate.dir {
            return Workspace::from_config(&absolute(&locate.cwd, dir));
        }
        let mut here = Some(locate.cwd.as_path());
        while let Some(dir) = here {
            if dir.join(MARKER).is_file() {
                return Ok((Workspace::at(dir), None));
            }
            if expman_schema::Role::Trials.find_in(&expman_schema::FsLoader, dir).is_some() {
                return Workspace::from_config(dir);
            }
            here = dir.parent();
        }
        // Where runs started from code go by default (`./outputs`).
        let beside = locate.cwd.join(DEFAULT_DIR);
        if beside.join(MARKER).is_file() {
            return Ok((Workspace::at(&beside), None));
        }
        Err(RunError::Invalid(
            "no expman workspace here: run in a config directory or workspace, or pass --dir CONFIG_DIR or --workspace DIR (or set EXPMAN_WORKSPACE)".into(),
        ))
    }

    fn from_config(dir: &Path) -> Result<(Workspace, Option<String>), RunError> {
        let analysis = expman_schema::load(&expman_schema::FsLoader, dir);
        let ws = Workspace::for_project(&analysis.project)?;
        Ok((ws, Some(analysis.project.experiment_name().to_string())))
    }

    /// Creates the workspace directory, its marker and the Python helper.
    pub fn prepare(&self) -> Result<(), RunError> {
        let python = self.python_dir();
        std::fs::create_dir_all(&python).map_err(|e| RunError::io(&python, e))?;
        let marker = self.root.join(MARKER);
        let db = self.database.strip_prefix(&self.root).unwrap_or(&self.database);
        let mut text = serde_json::json!({ "database": db.display().to_string() });
        if let Some(team) = &self.team {
            text["team"] = team.url.clone().into();
        }
        if let Some(remote) = &self.remote {
            text["artifacts"] =
                serde_json::json!({"store": remote.url, "endpoint": remote.endpoint, "region": remote.region});
        }
        if self.encrypt {
            text["artifacts"]["encrypt"] = true.into();
        }
        let text = text.to_string();
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&marker, text).map_err(|e| RunError::io(&marker, e))?;
        }
        let client = python.join("expman_client.py");
        if std::fs::read_to_string(&client).ok().as_deref() != Some(PYTHON_CLIENT) {
            std::fs::write(&client, PYTHON_CLIENT).map_err(|e| RunError::io(&client, e))?;
        }
        self.keep_reserve();
        Ok(())
    }

    /// The space kept free for the record: when the disk fills up while
    /// runs go on, the runner deletes it and records how they ended.
    pub fn reserve_path(&self) -> PathBuf {
        self.root.join(".expman").join("reserve")
    }

    /// Makes the reserve ([`RESERVE_BYTES`]) if it is not there (and there
    /// is room for it).
    fn keep_reserve(&self) {
        let path = self.reserve_path();
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == RESERVE_BYTES) {
            return;
        }
        if std::fs::write(&path, vec![0u8; RESERVE_BYTES as usize]).is_err() {
            let _ = std::fs::remove_file(&path);
        }
    }

    /// Frees the reserve; whether there was one.
    pub fn release_reserve(&self) -> bool {
        std::fs::remove_file(self.reserve_path()).is_ok()
    }

    /// Whether there is a record to read yet (a team database always is).
    pub fn has_database(&self) -> bool {
        self.team.is_some() || self.database.is_file()
    }

    pub fn python_dir(&self) -> PathBuf {
        self.root.join(".expman").join("python")
    }

    /// `<workspace>/<experiment>/<trial>/<run-id>`, names made safe for
    /// file systems.
    pub fn run_dir(&self, experiment: &str, trial: &str, uid: &str) -> PathBuf {
        self.root.join(safe_name(experiment)).join(safe_name(trial)).join(uid)
    }
}

fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) }
}
