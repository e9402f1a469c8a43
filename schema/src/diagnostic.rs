//! Diagnostics: what is wrong, where (a [`Span`]), how bad ([`Severity`]),
//! and what to do about it (a hint and, where one is obvious, a [`Fix`]).
//! Rendering for terminals lives in [`crate::render`].

use crate::source::{Sources, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A stable name for each kind of problem, used by editors to group, filter
/// and offer fixes, and in JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    YamlSyntax,
    DuplicateKey,
    AliasLimit,
    MultipleDocuments,
    WrongType,
    MissingKey,
    UnknownKey,
    UnusedKey,
    InvalidValue,
    DuplicateTrial,
    UnknownOverride,
    OverrideTypeMismatch,
    BadInterpolation,
    BadSweep,
    BadExtends,
    Io,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::YamlSyntax => "yaml-syntax",
            Code::DuplicateKey => "duplicate-key",
            Code::AliasLimit => "alias-limit",
            Code::MultipleDocuments => "multiple-documents",
            Code::WrongType => "wrong-type",
            Code::MissingKey => "missing-key",
            Code::UnknownKey => "unknown-key",
            Code::UnusedKey => "unused-key",
            Code::InvalidValue => "invalid-value",
            Code::DuplicateTrial => "duplicate-trial",
            Code::UnknownOverride => "unknown-override",
            Code::OverrideTypeMismatch => "override-type-mismatch",
            Code::BadInterpolation => "bad-interpolation",
            Code::BadSweep => "bad-sweep",
            Code::BadExtends => "bad-extends",
            Code::Io => "io",
        }
    }
}

/// A text edit that fixes a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub span: Span,
    pub replacement: String,
}

/// A secondary location that explains the primary one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
    pub related: Vec<Related>,
    pub fix: Option<Fix>,
    /// A syntax error confined to its span: the rest of the file was read
    /// without it (a half-typed line), so the file's other problems are
    /// real and are reported too.
    pub contained: bool,
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            span,
            message: message.into(),
            hint: None,
            related: Vec::new(),
            fix: None,
            contained: false,
        }
    }

    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.related.push(Related { span, message: message.into() });
        self
    }

    pub fn with_fix(mut self, title: impl Into<String>, span: Span, replacement: impl Into<String>) -> Diagnostic {
        self.fix = Some(Fix { title: title.into(), span, replacement: replacement.into() });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// A machine-readable form: file, 1-based start/end line and column.
    pub fn to_json(&self, sources: &Sources) -> serde_json::Value {
        let location = |span: Span| match sources.get(span.file) {
            Some(file) => {
                let start = file.line_col(span.start);
                let end = file.line_col(span.end);
                serde_json::json!({
                    "file": file.path.display().to_string(),
                    "line": start.line, "column": start.col,
                    "end_line": end.line, "end_column": end.col,
                })
            }
            None => serde_json::json!({ "file": null }),
        };
        let mut out = serde_json::json!({
            "severity": self.severity.as_str(),
            "code": self.code.as_str(),
            "message": self.message,
            "location": location(self.span),
        });
        if let Some(hint) = &self.hint {
            out["hint"] = hint.clone().into();
        }
        if !self.related.is_empty() {
            out["related"] = self
                .related
                .iter()
                .map(|r| serde_json::json!({ "message": r.message, "location": location(r.span) }))
                .collect();
        }
        if let Some(fix) = &self.fix {
            out["fix"] = serde_json::json!({ "title": fix.title, "replacement": fix.replacement, "location": location(fix.span) });
        }
        out
    }
}

/// Sorts diagnostics by file and position and drops exact duplicates (the
/// same problem found once per run of a trial is reported once).
pub fn normalize(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        (a.span.file, a.span.start, a.severity, &a.message).cmp(&(b.span.file, b.span.start, b.severity, &b.message))
    });
    diagnostics.dedup_by(|a, b| a.span == b.span && a.message == b.message && a.severity == b.severity);
    // A key that is both unknown to the schema and absent from base.yaml
    // needs one warning, the schema's (it knows the valid names).
    let schema_unknown: Vec<Span> = diagnostics.iter().filter(|d| d.code == Code::UnknownKey).map(|d| d.span).collect();
    diagnostics.retain(|d| !(d.code == Code::UnknownOverride && schema_unknown.contains(&d.span)));
}
