//! Span-aware YAML: a tree in which every key and value knows where it came
//! from ([`Node`]), the loader that builds it from saphyr's events, scalar
//! resolution (YAML 1.2 core schema) and an emitter for previews.

mod emit;
mod load;
mod node;
mod scalar;

pub use emit::{to_json, to_yaml};
pub use load::{ParsedYaml, parse};
pub use node::{Map, MapEntry, Node, Value, flatten};
pub use scalar::{format_scalar, resolve_plain};
