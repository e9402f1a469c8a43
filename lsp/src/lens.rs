//! Code lenses ("Preview merged config" above each trial) and the merge
//! preview they open (`expman/mergePreview`).

use std::path::Path;

use expman_schema::secrets::mask;
use expman_schema::yaml::to_yaml;
use tower_lsp_server::ls_types::{CodeLens, Command, Uri};

use crate::convert::Text;
use crate::ext::{MergePreviewResult, SHOW_MERGE_PREVIEW};
use crate::world::Snapshot;

/// A lens above the name of every trial of `path`.
pub fn lenses(snap: &Snapshot, path: &Path, uri: &Uri) -> Vec<CodeLens> {
    let Some(file_id) = snap.sources.find(path) else { return Vec::new() };
    let Some(file) = snap.sources.get(file_id) else { return Vec::new() };
    let text = Text::new(file.text.clone());
    snap.trials
        .iter()
        .filter(|t| t.name_span.file == file_id)
        .map(|t| {
            let runs = t.runs;
            let title = if runs == 1 {
                "Preview merged config".to_string()
            } else {
                format!("Preview merged config ({runs} runs)")
            };
            CodeLens {
                range: text.range(t.name_span),
                command: Some(Command {
                    title,
                    command: SHOW_MERGE_PREVIEW.into(),
                    arguments: Some(vec![serde_json::json!(uri.as_str()), serde_json::json!(t.name)]),
                }),
                data: None,
            }
        })
        .collect()
}

/// The resolved config of a trial's run (a sweep child by its full name,
/// or a trial's first child by its declared name), secrets masked.
pub fn preview(snap: &Snapshot, trial: &str, repeat: Option<u32>) -> Result<MergePreviewResult, String> {
    let expansion = snap.expand_trial(trial, None);
    let runs = &expansion.runs;
    let matching: Vec<_> = runs.iter().filter(|r| r.trial == trial).collect();
    let matching = if matching.is_empty() { runs.iter().filter(|r| r.trial_base == trial).collect() } else { matching };
    if matching.is_empty() {
        let names: Vec<&str> = snap.trial_names().collect();
        return Err(format!("no trial `{trial}` (trials: {})", names.join(", ")));
    }
    let repeat = repeat.unwrap_or(1).max(1) - 1;
    let run = matching
        .iter()
        .find(|r| r.repeat == repeat)
        .ok_or_else(|| format!("`{trial}` has {} repeat(s)", matching[0].repeats))?;
    let title = format!("{}, repeat {}/{}, seed {}", run.trial, run.repeat + 1, run.repeats, run.seed);
    let header = format!("# {title}; config {}; secrets masked\n", &run.config_hash[..12]);
    Ok(MergePreviewResult { title, yaml: format!("{header}{}", to_yaml(&mask(&run.config))) })
}
