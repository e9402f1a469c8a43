//! Diagnostics: the analysis's problems (the same rules and words as
//! `expman validate`), per file, as LSP diagnostics. A fix travels in the
//! diagnostic's `data`, so that a quick fix needs no second analysis.

use std::collections::BTreeMap;
use std::path::PathBuf;

use expman_schema::{Diagnostic, Severity};
use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Uri,
};

use crate::convert::Text;
use crate::settings::Settings;
use crate::world::Snapshot;

/// LSP diagnostics for every file of a snapshot (files without problems
/// get an empty list, to clear what was shown before).
pub fn by_file(snap: &Snapshot, settings: &Settings) -> BTreeMap<PathBuf, Vec<lsp::Diagnostic>> {
    let sources = &snap.sources;
    let mut out: BTreeMap<PathBuf, Vec<lsp::Diagnostic>> = BTreeMap::new();
    for (_, file) in sources.iter() {
        if file.path.is_absolute() {
            out.entry(file.path.clone()).or_default();
        }
    }
    let texts: BTreeMap<u32, Text> = sources.iter().map(|(id, f)| (id.0, Text::new(f.text.clone()))).collect();
    for d in &snap.diagnostics {
        let Some(severity) = settings.severity(d) else { continue };
        let (Some(file), Some(text)) = (sources.get(d.span.file), texts.get(&d.span.file.0)) else {
            // A problem with no place (no trials.yaml): on every file of the target.
            for diags in out.values_mut() {
                diags.push(convert(d, severity, lsp::Range::default(), None, sources, &texts));
            }
            continue;
        };
        let range = text.range(d.span);
        let uri = Uri::from_file_path(&file.path);
        out.entry(file.path.clone()).or_default().push(convert(d, severity, range, uri.as_ref(), sources, &texts));
    }
    out
}

fn convert(
    d: &Diagnostic,
    severity: Severity,
    range: lsp::Range,
    uri: Option<&Uri>,
    sources: &expman_schema::Sources,
    texts: &BTreeMap<u32, Text>,
) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    if let Some(hint) = &d.hint {
        message.push_str("\nhint: ");
        message.push_str(hint);
    }
    let related = d
        .related
        .iter()
        .filter_map(|r| {
            let file = sources.get(r.span.file)?;
            let text = texts.get(&r.span.file.0)?;
            Some(DiagnosticRelatedInformation {
                location: Location { uri: Uri::from_file_path(&file.path)?, range: text.range(r.span) },
                message: r.message.clone(),
            })
        })
        .collect::<Vec<_>>();
    let data = match (&d.fix, uri) {
        (Some(fix), Some(uri)) if fix.span.file == d.span.file => {
            let text = &texts[&fix.span.file.0];
            Some(serde_json::json!({
                "title": fix.title,
                "uri": uri.as_str(),
                "range": text.range(fix.span),
                "replacement": fix.replacement,
            }))
        }
        _ => None,
    };
    lsp::Diagnostic {
        range,
        severity: Some(match severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        source: Some("expman".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        data,
        ..lsp::Diagnostic::default()
    }
}
