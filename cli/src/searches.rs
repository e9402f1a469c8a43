//! The searches of a config as the runner takes them: each trial with a
//! `search:` and how to expand one of its suggestions into a run, from an
//! owned analysis, so that `expman run` and a `%%expman run` cell's thread
//! build them the same way.

use expman_runner::search::{SearchJob, fingerprint};
use expman_schema::search::SearchDef;
use expman_schema::{Analysis, Expansion, FsLoader, Node, Overrides, RunPlan};

/// A config's searches and what expanding their runs needs.
pub struct Searches {
    analysis: Analysis,
    overrides: Overrides,
    list: Vec<(String, SearchDef)>,
}

impl Searches {
    pub fn new(analysis: &Analysis, expansion: &Expansion) -> Searches {
        Searches {
            analysis: analysis.clone(),
            overrides: expansion.overrides.clone(),
            list: expansion.searches.clone(),
        }
    }

    /// One job per search.
    pub fn jobs(&self) -> Vec<SearchJob<'_>> {
        let project = &self.analysis.project;
        self.list
            .iter()
            .filter_map(|(trial, def)| {
                let declared = project.trials.iter().find(|t| t.name == *trial)?;
                let block = declared.node.get("search")?;
                let trial = trial.clone();
                let name = trial.clone();
                Some(SearchJob {
                    trial,
                    def: def.clone(),
                    fingerprint: fingerprint(
                        block,
                        &declared.settings_merged,
                        &project.base,
                        self.overrides.merged.as_ref(),
                    ),
                    expand: Box::new(move |settings| self.expand(&name, settings)),
                })
            })
            .collect()
    }

    fn expand(&self, trial: &str, settings: &[(String, Node)]) -> Result<(RunPlan, Option<String>), String> {
        let env = expman_schema::loader_env(&FsLoader);
        let a = &self.analysis;
        let mut expansion =
            expman_schema::expand::expand_suggestion(&a.project, &a.sources, &env, &self.overrides, trial, settings);
        let errors: Vec<_> = expansion.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
        let invalid = (!errors.is_empty()).then(|| crate::output::diagnostics_text(&errors, &a.sources, false));
        match expansion.runs.pop() {
            Some(plan) => Ok((plan, invalid)),
            None => Err(invalid.unwrap_or_else(|| format!("trial `{trial}` of the search is not in the config"))),
        }
    }
}
