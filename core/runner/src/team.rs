//! Where the runner meets the team database (`env.yaml` `database: {type:
//! mysql}`): the login checked before anything runs, the thread that sends
//! runs beside them, and the view that commands read through. All of it is
//! `expman-team`'s, behind the `team` feature; an expman built without it
//! refuses a workspace that names a team database, with a message that
//! says so, and never loses a run by ignoring the setting.

use std::path::Path;

use expman_store::{Store, StoreError};

use crate::error::RunError;
use expman_store::PASSWORD_ENV;

#[cfg(feature = "team")]
pub use expman_team::{TeamReport, TeamThread};

/// Where a workspace's team database is: the URL, and the password (from
/// the config's `${env:...}` or [`PASSWORD_ENV`]; never written anywhere).
#[derive(Clone, PartialEq, Eq)]
pub struct TeamDatabase {
    pub url: String,
    password: Option<String>,
}

impl std::fmt::Debug for TeamDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TeamDatabase({})", self.url)
    }
}

impl TeamDatabase {
    /// `password` wins over [`PASSWORD_ENV`].
    pub fn new(url: &str, password: Option<String>) -> TeamDatabase {
        let password = password.filter(|p| !p.is_empty()).or_else(|| std::env::var(PASSWORD_ENV).ok());
        TeamDatabase { url: url.to_string(), password }
    }

    /// The server to connect to (the URL checked, the password attached).
    #[cfg(feature = "team")]
    pub fn target(&self) -> Result<expman_team::mysql::MysqlTarget, StoreError> {
        expman_team::mysql::MysqlTarget::parse(&self.url, self.password.clone())
    }
}

/// Without the `team` feature there is never a sender thread.
#[cfg(not(feature = "team"))]
pub enum TeamThread {}

/// Without the `team` feature nothing is ever sent.
#[cfg(not(feature = "team"))]
#[derive(Clone, Debug)]
pub enum TeamReport {}

#[cfg(not(feature = "team"))]
impl TeamReport {
    pub fn complete(&self) -> bool {
        match *self {}
    }

    pub fn describe(&self) -> String {
        match *self {}
    }
}

const NOT_BUILT: &str = "names a team database (`database: {type: mysql}`), but this expman was built without the `team` feature; build it with `--features team` (on by default)";

/// Whether this expman can use a team database (the config at `file`
/// names one).
pub fn require(file: &Path) -> Result<(), RunError> {
    if cfg!(feature = "team") { Ok(()) } else { Err(RunError::Invalid(format!("{}: {NOT_BUILT}", file.display()))) }
}

/// Checks the login before anything runs: `Some(warning)` when the server
/// cannot be reached (runs are recorded locally and sent later).
pub fn check(team: &TeamDatabase) -> Result<Option<String>, StoreError> {
    #[cfg(feature = "team")]
    return expman_team::check(&team.target()?);
    #[cfg(not(feature = "team"))]
    return Err(not_built(team));
}

/// Starts the thread that sends the experiment's runs to the server.
pub fn spawn(database: &Path, team: &TeamDatabase, experiment: &str) -> Result<TeamThread, StoreError> {
    #[cfg(feature = "team")]
    return TeamThread::spawn(database, &team.target()?, experiment);
    #[cfg(not(feature = "team"))]
    {
        let _ = (database, experiment);
        Err(not_built(team))
    }
}

/// The record as commands that read see it with a team database.
pub fn open_view(workspace: &Path, local: &mut Store, team: &TeamDatabase) -> Result<Store, StoreError> {
    #[cfg(feature = "team")]
    return expman_team::open_view(workspace, local, &team.target()?);
    #[cfg(not(feature = "team"))]
    {
        let _ = (workspace, local);
        Err(not_built(team))
    }
}

#[cfg(not(feature = "team"))]
fn not_built(team: &TeamDatabase) -> StoreError {
    StoreError::Unsupported(format!("the workspace's record {NOT_BUILT}; its server is {}", team.url))
}
