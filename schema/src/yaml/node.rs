//! The YAML value tree with spans on every key and value.

use std::collections::HashMap;
use std::sync::Arc;

use crate::source::Span;

/// A YAML value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// The value of a [`Node`]. Collections are shared (`Arc`): cloning a
/// tree is cheap, and changing a clone copies only the path that changes
/// (`Arc::make_mut`), which is what merging a trial over base.yaml for
/// thousands of runs needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Arc<Vec<Node>>),
    Map(Arc<Map>),
}

impl Value {
    pub fn map(map: Map) -> Value {
        Value::Map(Arc::new(map))
    }

    pub fn seq(items: Vec<Node>) -> Value {
        Value::Seq(Arc::new(items))
    }
}

/// One entry of a [`Map`]: the key's span and the value.
#[derive(Clone, Debug, PartialEq)]
pub struct MapEntry {
    pub key_span: Span,
    pub value: Node,
}

/// An insertion-ordered mapping from string keys to nodes.
///
/// Most YAML maps have a handful of keys, so entries live in a vector
/// searched in order; past [`Map::INDEXED`] entries a hash index joins it.
/// (A hash map per YAML map cost about 800 bytes a map: 18 times the text
/// of a large trials.yaml. See BENCHMARKS.md, language server.)
#[derive(Clone, Debug, Default)]
pub struct Map {
    entries: Vec<(String, MapEntry)>,
    /// Positions by key, for maps longer than [`Map::INDEXED`]. Boxed so
    /// that the common, small map stays 32 bytes instead of 72.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<String, usize>>>,
}

/// Maps are equal when they have the same keys with equal entries, in any
/// order (as YAML mappings are).
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, e)| other.entry(k) == Some(e))
    }
}

impl Map {
    /// The length past which a map keeps a hash index.
    pub const INDEXED: usize = 16;

    pub fn new() -> Map {
        Map::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    fn reindex(&mut self) {
        self.index = (self.entries.len() > Self::INDEXED)
            .then(|| Box::new(self.entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect()));
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        let i = self.position(key)?;
        Some(&mut self.entries[i].1.value)
    }

    pub fn entry(&self, key: &str) -> Option<&MapEntry> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Inserts or replaces a key, keeping its position when it existed.
    pub fn insert(&mut self, key: impl Into<String>, key_span: Span, value: Node) {
        let key = key.into();
        let entry = MapEntry { key_span, value };
        if let Some(i) = self.position(&key) {
            self.entries[i].1 = entry;
            return;
        }
        match &mut self.index {
            Some(index) => {
                index.insert(key.clone(), self.entries.len());
                self.entries.push((key, entry));
            }
            None => {
                self.entries.push((key, entry));
                if self.entries.len() > Self::INDEXED {
                    self.reindex();
                }
            }
        }
    }

    /// Removes a key, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<MapEntry> {
        let i = self.position(key)?;
        let (_, entry) = self.entries.remove(i);
        if self.index.is_some() {
            self.reindex();
        }
        Some(entry)
    }

    /// Gives back spare capacity (maps parsed once and kept).
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &MapEntry)> {
        self.entries.iter().map(|(k, e)| (k.as_str(), e))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut MapEntry)> {
        self.entries.iter_mut().map(|(k, e)| (k.as_str(), e))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }
}

impl Node {
    pub fn new(value: Value, span: Span) -> Node {
        Node { value, span }
    }

    pub fn null(span: Span) -> Node {
        Node::new(Value::Null, span)
    }

    pub fn string(s: impl Into<String>, span: Span) -> Node {
        Node::new(Value::String(s.into()), span)
    }

    pub fn empty_map(span: Span) -> Node {
        Node::new(Value::map(Map::new()), span)
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping, copied first if it is shared.
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(Arc::make_mut(m)),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Looks up a map key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.get(key)
    }

    /// Follows a path of map keys (and sequence indices written as numbers).
    pub fn get_path<S: AsRef<str>>(&self, path: impl IntoIterator<Item = S>) -> Option<&Node> {
        let mut node = self;
        for segment in path {
            let segment = segment.as_ref();
            node = match &node.value {
                Value::Map(m) => m.get(segment)?,
                Value::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Like [`Node::get_path`], for changing the value found.
    pub fn get_path_mut<S: AsRef<str>>(&mut self, path: impl IntoIterator<Item = S>) -> Option<&mut Node> {
        let mut node = self;
        for segment in path {
            let segment = segment.as_ref();
            node = match &mut node.value {
                Value::Map(m) => Arc::make_mut(m).get_mut(segment)?,
                Value::Seq(items) => Arc::make_mut(items).get_mut(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The type name users read in messages: "a string", "an integer", ...
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }

    /// This node with every span replaced, for values that come from no file.
    pub fn detached(mut self) -> Node {
        self.set_span_deep(Span::NONE);
        self
    }

    fn set_span_deep(&mut self, span: Span) {
        self.span = span;
        match &mut self.value {
            Value::Seq(items) => Arc::make_mut(items).iter_mut().for_each(|n| n.set_span_deep(span)),
            Value::Map(m) => Arc::make_mut(m).iter_mut().for_each(|(_, e)| {
                e.key_span = span;
                e.value.set_span_deep(span);
            }),
            _ => {}
        }
    }

    /// Converts to JSON (maps keep their order).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(crate::yaml::format_scalar(&self.value))),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, e)| (k.to_string(), e.value.to_json())).collect()),
        }
    }

    /// Builds a detached node from JSON.
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        let v = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::seq(items.iter().map(Node::from_json).collect()),
            J::Object(o) => {
                let mut m = Map::new();
                for (k, v) in o {
                    m.insert(k.clone(), Span::NONE, Node::from_json(v));
                }
                Value::map(m)
            }
        };
        Node::new(v, Span::NONE)
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// Whether two values are of kinds a user would call "the same type"
    /// (integers and floats count as numbers; null matches anything).
    pub fn same_kind(&self, other: &Value) -> bool {
        use Value::*;
        matches!(
            (self, other),
            (Null, _)
                | (_, Null)
                | (Bool(_), Bool(_))
                | (Int(_) | Float(_), Int(_) | Float(_))
                | (String(_), String(_))
                | (Seq(_), Seq(_))
                | (Map(_), Map(_))
        )
    }
}

/// Flattens a tree into dotted keys and leaf values (lists are leaves), in order.
pub fn flatten(node: &Node) -> Vec<(String, &Node)> {
    fn walk<'a>(prefix: &str, node: &'a Node, out: &mut Vec<(String, &'a Node)>) {
        match &node.value {
            Value::Map(m) if !m.is_empty() || prefix.is_empty() => {
                for (k, e) in m.iter() {
                    let key = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
                    walk(&key, &e.value, out);
                }
            }
            _ => out.push((prefix.to_string(), node)),
        }
    }
    let mut out = Vec::new();
    walk("", node, &mut out);
    out
}
