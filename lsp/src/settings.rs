//! Settings from `initializationOptions` and `workspace/configuration`
//! (section `expman`): how serious some diagnostics are.

use expman_schema::{Code, Diagnostic, Severity};
use serde::Deserialize;

/// What a class of diagnostics becomes.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Warning,
    Error,
    Off,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct DiagnosticSettings {
    /// Keys the schema does not know (and compatibility-only keys).
    #[serde(rename = "unknownKeys")]
    pub unknown_keys: Level,
    /// Overrides of keys base.yaml lacks, and overrides that change a type.
    pub overrides: Level,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Settings {
    pub diagnostics: DiagnosticSettings,
}

impl Settings {
    /// Reads the `expman` section (unknown or malformed parts are ignored).
    pub fn from_json(value: &serde_json::Value) -> Settings {
        let section = value.get("expman").unwrap_or(value);
        serde_json::from_value(section.clone()).unwrap_or_default()
    }

    /// The severity a diagnostic gets, or `None` when it is switched off.
    pub fn severity(&self, d: &Diagnostic) -> Option<Severity> {
        let level = match d.code {
            Code::UnknownKey | Code::UnusedKey => self.diagnostics.unknown_keys,
            Code::UnknownOverride | Code::OverrideTypeMismatch => self.diagnostics.overrides,
            _ => return Some(d.severity),
        };
        match level {
            Level::Off => None,
            Level::Error => Some(Severity::Error),
            Level::Warning => Some(d.severity),
        }
    }
}
