//! The JSON Schemas (draft 2020-12) of the config files: generated from the
//! types in [`crate::model`], checked in under `schema/json/`, and embedded
//! here. The embedded copies drive validation; a test keeps them equal to
//! what the types generate (`EXPMAN_UPDATE_SCHEMA=1` rewrites them).

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::Value as Json;

use crate::model;

/// Which file a schema describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaKind {
    Env,
    Experiment,
    Base,
    Trials,
    /// The single-file form with `env`, `experiment`, `base` and `trials` sections.
    Config,
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 5] =
        [SchemaKind::Env, SchemaKind::Experiment, SchemaKind::Base, SchemaKind::Trials, SchemaKind::Config];

    /// The short name used on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            SchemaKind::Env => "env",
            SchemaKind::Experiment => "experiment",
            SchemaKind::Base => "base",
            SchemaKind::Trials => "trials",
            SchemaKind::Config => "config",
        }
    }

    pub fn from_name(name: &str) -> Option<SchemaKind> {
        SchemaKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The file name of the checked-in schema.
    pub fn file_name(self) -> String {
        format!("{}.schema.json", self.name())
    }

    /// The embedded schema text.
    pub fn text(self) -> &'static str {
        match self {
            SchemaKind::Env => include_str!("../json/env.schema.json"),
            SchemaKind::Experiment => include_str!("../json/experiment.schema.json"),
            SchemaKind::Base => include_str!("../json/base.schema.json"),
            SchemaKind::Trials => include_str!("../json/trials.schema.json"),
            SchemaKind::Config => include_str!("../json/config.schema.json"),
        }
    }

    /// The embedded schema, parsed once.
    pub fn schema(self) -> &'static Json {
        static CACHE: [OnceLock<Json>; 5] = [const { OnceLock::new() }; 5];
        let slot = &CACHE[SchemaKind::ALL.iter().position(|k| *k == self).unwrap_or(0)];
        slot.get_or_init(|| serde_json::from_str(self.text()).unwrap_or(Json::Bool(true)))
    }

    /// The schema the types generate now (what the checked-in file must equal).
    pub fn generate(self) -> Json {
        let generator = SchemaSettings::draft2020_12().for_deserialize().into_generator();
        let schema = match self {
            SchemaKind::Env => generator.into_root_schema_for::<model::EnvFile>(),
            SchemaKind::Experiment => generator.into_root_schema_for::<model::ExperimentFile>(),
            SchemaKind::Base => generator.into_root_schema_for::<model::BaseFile>(),
            SchemaKind::Trials => generator.into_root_schema_for::<model::TrialsFile>(),
            SchemaKind::Config => generator.into_root_schema_for::<model::ConfigFile>(),
        };
        let mut value = schema.to_value();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("$id".into(), Json::String(format!("https://expman.invalid/schema/{}", self.file_name())));
        }
        value
    }
}

/// The schema text as written to disk: pretty JSON with a final newline.
pub fn to_file_text(schema: &Json) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in schemas equal what the types generate. Run with
    /// `EXPMAN_UPDATE_SCHEMA=1` after changing a type to rewrite them.
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn checked_in_schemas_match_the_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("json");
        let update = std::env::var_os("EXPMAN_UPDATE_SCHEMA").is_some();
        let mut stale = Vec::new();
        for kind in SchemaKind::ALL {
            let text = to_file_text(&kind.generate());
            let path = dir.join(kind.file_name());
            if update {
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).unwrap_or_default() != text {
                stale.push(kind.file_name());
            }
        }
        assert!(
            stale.is_empty(),
            "schemas out of date: {stale:?}; run `EXPMAN_UPDATE_SCHEMA=1 cargo test -p expman-schema`"
        );
    }

    /// Every keyword in the schemas is one the validator understands, so a
    /// schemars upgrade cannot silently add rules nobody checks.
    #[test]
    fn schemas_use_supported_keywords() {
        fn walk(value: &Json, in_properties: bool, out: &mut Vec<String>) {
            match value {
                Json::Object(map) => {
                    for (k, v) in map {
                        let is_keyword = !in_properties;
                        if is_keyword && !crate::validate::SUPPORTED_KEYWORDS.contains(&k.as_str()) {
                            out.push(k.clone());
                        }
                        let children_are_names = is_keyword && (k == "properties" || k == "$defs");
                        if is_keyword
                            && matches!(
                                k.as_str(),
                                "enum" | "enumDescriptions" | "const" | "default" | "required" | "x-expman-closed-when"
                            )
                        {
                            continue;
                        }
                        walk(v, children_are_names, out);
                    }
                }
                Json::Array(items) => items.iter().for_each(|i| walk(i, false, out)),
                _ => {}
            }
        }
        let mut unknown = Vec::new();
        for kind in SchemaKind::ALL {
            walk(kind.schema(), false, &mut unknown);
        }
        assert!(unknown.is_empty(), "unsupported keywords: {unknown:?}");
    }
}
