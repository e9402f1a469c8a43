//! The JSON Schemas compiled into a tree of [`SchemaNode`]s, once per
//! process: `$ref`s resolved to indices, keywords parsed into fields. The
//! validator walks this instead of JSON objects (no hashing of keyword names
//! per value checked), and the language server uses it to find what a path
//! may hold: property names, descriptions, enum values.

use std::sync::OnceLock;

use serde_json::Value as Json;

use crate::schemas::SchemaKind;

/// Index of a node in a [`CompiledSchema`].
pub type NodeId = usize;

/// The JSON types a schema node accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Types(u8);

impl Types {
    pub const NULL: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const INTEGER: u8 = 4;
    pub const NUMBER: u8 = 8;
    pub const STRING: u8 = 16;
    pub const ARRAY: u8 = 32;
    pub const OBJECT: u8 = 64;

    fn from_name(name: &str) -> u8 {
        match name {
            "null" => Self::NULL,
            "boolean" => Self::BOOLEAN,
            "integer" => Self::INTEGER,
            "number" => Self::NUMBER,
            "string" => Self::STRING,
            "array" => Self::ARRAY,
            "object" => Self::OBJECT,
            _ => 0,
        }
    }

    pub fn from_raw(bits: u8) -> Types {
        Types(bits)
    }

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    /// "a string", "an integer or a list", ... (null left out when other
    /// types are allowed: every optional key accepts null).
    pub fn phrase(self) -> String {
        let names = [
            (Self::BOOLEAN, "a boolean"),
            (Self::INTEGER, "an integer"),
            (Self::NUMBER, "a number"),
            (Self::STRING, "a string"),
            (Self::ARRAY, "a list"),
            (Self::OBJECT, "a mapping"),
            (Self::NULL, "null"),
        ];
        let mut phrases: Vec<&str> = names.iter().filter(|(f, _)| self.has(*f)).map(|(_, n)| *n).collect();
        if phrases.len() > 1 {
            phrases.retain(|p| *p != "null");
        }
        if self.has(Self::NUMBER) {
            phrases.retain(|p| *p != "an integer");
        }
        match phrases.len() {
            0 => "another value".into(),
            1 => phrases[0].into(),
            n => format!("{} or {}", phrases[..n - 1].join(", "), phrases[n - 1]),
        }
    }
}

/// A property of an object schema.
#[derive(Clone, Debug)]
pub struct Property {
    pub name: String,
    pub schema: NodeId,
    /// Accepted for compatibility, ignored by expman (`x-expman-unused`).
    pub unused: bool,
    pub description: Option<String>,
}

/// What keys other than the declared properties may do.
#[derive(Clone, Debug, PartialEq)]
pub enum Additional {
    /// Any key, any value.
    Any,
    /// Unknown keys are reported (as warnings).
    Deny,
    /// Other keys take values of this schema.
    Schema(NodeId),
}

/// `x-expman-closed-when`: unknown keys are reported only when `property`
/// has one of `values` (or, when absent, `default` is one of them).
#[derive(Clone, Debug)]
pub struct ClosedWhen {
    pub property: String,
    pub values: Vec<Json>,
    pub default: Option<Json>,
}

/// One compiled schema.
#[derive(Clone, Debug, Default)]
pub struct SchemaNode {
    /// `true` schema: anything goes.
    pub any: bool,
    /// `false` schema: nothing goes.
    pub never: bool,
    pub types: Option<Types>,
    pub alternatives: Vec<NodeId>,
    pub enum_values: Vec<Json>,
    pub enum_descriptions: Vec<String>,
    pub open_enum: bool,
    pub const_value: Option<Json>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub duration: bool,
    pub properties: Vec<Property>,
    pub additional: Option<Additional>,
    pub closed_when: Option<ClosedWhen>,
    pub required: Vec<String>,
    pub items: Option<NodeId>,
    pub description: Option<String>,
    pub title: Option<String>,
}

impl SchemaNode {
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// A schema file compiled into nodes.
#[derive(Debug)]
pub struct CompiledSchema {
    nodes: Vec<SchemaNode>,
    root: NodeId,
    defs: Vec<(String, NodeId)>,
}

impl CompiledSchema {
    /// The compiled schema of a file kind, built once.
    pub fn of(kind: SchemaKind) -> &'static CompiledSchema {
        static CACHE: [OnceLock<CompiledSchema>; 5] = [const { OnceLock::new() }; 5];
        let slot = &CACHE[SchemaKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)];
        slot.get_or_init(|| CompiledSchema::compile(kind.schema()))
    }

    pub fn compile(root: &Json) -> CompiledSchema {
        let mut c = Compiler { nodes: Vec::new(), defs: Vec::new() };
        // Definitions first, as placeholders, so `$ref`s (even cyclic ones)
        // resolve to an index.
        if let Some(defs) = root.get("$defs").and_then(Json::as_object) {
            for name in defs.keys() {
                c.nodes.push(SchemaNode::default());
                c.defs.push((name.clone(), c.nodes.len() - 1));
            }
            for (name, schema) in defs {
                let id = c.def(name).unwrap_or(0);
                let node = c.build(schema);
                c.nodes[id] = node;
            }
        }
        let root_id = c.compile_node(root);
        CompiledSchema { nodes: c.nodes, root: root_id, defs: c.defs }
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn node(&self, id: NodeId) -> &SchemaNode {
        &self.nodes[id]
    }

    pub fn def(&self, name: &str) -> Option<NodeId> {
        self.defs.iter().find(|(n, _)| n == name).map(|(_, id)| *id)
    }

    /// The object schema among a node and its alternatives (for property
    /// lookups through `anyOf: [{$ref}, {type: null}]`).
    pub fn object_of(&self, id: NodeId) -> Option<NodeId> {
        let node = self.node(id);
        if !node.properties.is_empty() || node.additional.is_some() || node.types.is_some_and(|t| t.has(Types::OBJECT))
        {
            return Some(id);
        }
        node.alternatives.iter().find_map(|&a| self.object_of(a))
    }

    /// Every object schema among a node and its alternatives (a `oneOf`
    /// of one-key objects, such as a search space's distributions).
    pub fn objects_of(&self, id: NodeId) -> Vec<NodeId> {
        let node = self.node(id);
        if !node.properties.is_empty() || node.additional.is_some() {
            return vec![id];
        }
        node.alternatives.iter().flat_map(|&a| self.objects_of(a)).collect()
    }

    /// The list schema among a node and its alternatives.
    pub fn array_of(&self, id: NodeId) -> Option<NodeId> {
        let node = self.node(id);
        if node.items.is_some() {
            return Some(id);
        }
        node.alternatives.iter().find_map(|&a| self.array_of(a))
    }

    /// The schema of a value at a path of keys (list indices as numbers).
    pub fn at_path<S: AsRef<str>>(&self, path: &[S]) -> Option<NodeId> {
        let mut id = self.root;
        for segment in path {
            let segment = segment.as_ref();
            if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
                let list = self.array_of(id)?;
                id = self.node(list).items?;
                continue;
            }
            let object = self.object_of(id)?;
            let node = self.node(object);
            id = match node.property(segment) {
                Some(p) => p.schema,
                None => match &node.additional {
                    Some(Additional::Schema(s)) => *s,
                    _ => return None,
                },
            };
        }
        Some(id)
    }

    /// The description of a node, looking through alternatives.
    pub fn description(&self, id: NodeId) -> Option<&str> {
        let node = self.node(id);
        node.description.as_deref().or_else(|| node.alternatives.iter().find_map(|&a| self.description(a)))
    }

    /// Enum values (with their descriptions) of a node or its alternatives.
    pub fn enum_of(&self, id: NodeId) -> Option<(&[Json], &[String])> {
        let node = self.node(id);
        if !node.enum_values.is_empty() {
            return Some((&node.enum_values, &node.enum_descriptions));
        }
        node.alternatives.iter().find_map(|&a| self.enum_of(a))
    }
}

struct Compiler {
    nodes: Vec<SchemaNode>,
    defs: Vec<(String, NodeId)>,
}

impl Compiler {
    fn def(&self, name: &str) -> Option<NodeId> {
        self.defs.iter().find(|(n, _)| n == name).map(|(_, id)| *id)
    }

    fn compile_node(&mut self, schema: &Json) -> NodeId {
        if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
            if let Some(id) = reference.strip_prefix("#/$defs/").and_then(|n| self.def(n)) {
                // A `$ref` with a description of its own keeps it.
                if schema.get("description").is_none() {
                    return id;
                }
                let mut node = SchemaNode { alternatives: vec![id], ..SchemaNode::default() };
                node.description = schema.get("description").and_then(Json::as_str).map(str::to_string);
                self.nodes.push(node);
                return self.nodes.len() - 1;
            }
            // A reference this compiler cannot follow accepts anything.
            self.nodes.push(SchemaNode { any: true, ..SchemaNode::default() });
            return self.nodes.len() - 1;
        }
        let node = self.build(schema);
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn build(&mut self, schema: &Json) -> SchemaNode {
        let mut node = SchemaNode::default();
        let obj = match schema {
            Json::Bool(true) => {
                node.any = true;
                return node;
            }
            Json::Bool(false) => {
                node.never = true;
                return node;
            }
            Json::Object(obj) => obj,
            _ => {
                node.any = true;
                return node;
            }
        };
        let text = |k: &str| obj.get(k).and_then(Json::as_str).map(str::to_string);
        node.description = text("description");
        node.title = text("title");
        node.types = match obj.get("type") {
            Some(Json::String(t)) => Some(Types(Types::from_name(t))),
            Some(Json::Array(ts)) => {
                Some(Types(ts.iter().filter_map(Json::as_str).map(Types::from_name).fold(0, |a, b| a | b)))
            }
            _ => None,
        };
        if let Some(alts) = obj.get("anyOf").or_else(|| obj.get("oneOf")).and_then(Json::as_array) {
            node.alternatives = alts.iter().map(|a| self.compile_node(a)).collect();
        }
        if let Some(values) = obj.get("enum").and_then(Json::as_array) {
            node.enum_values = values.clone();
        }
        if let Some(docs) = obj.get("enumDescriptions").and_then(Json::as_array) {
            node.enum_descriptions = docs.iter().filter_map(Json::as_str).map(str::to_string).collect();
        }
        node.open_enum = obj.get("x-expman-open-enum").and_then(Json::as_bool) == Some(true);
        node.const_value = obj.get("const").cloned();
        node.minimum = obj.get("minimum").and_then(Json::as_f64);
        node.maximum = obj.get("maximum").and_then(Json::as_f64);
        node.min_items = obj.get("minItems").and_then(Json::as_u64);
        node.max_items = obj.get("maxItems").and_then(Json::as_u64);
        node.duration = obj.get("x-expman-format").and_then(Json::as_str) == Some("duration");
        if let Some(props) = obj.get("properties").and_then(Json::as_object) {
            for (name, prop) in props {
                let schema = self.compile_node(prop);
                node.properties.push(Property {
                    name: name.clone(),
                    schema,
                    unused: prop.get("x-expman-unused").and_then(Json::as_bool) == Some(true),
                    description: prop.get("description").and_then(Json::as_str).map(str::to_string),
                });
            }
        }
        node.additional = match obj.get("additionalProperties") {
            Some(Json::Bool(false)) => Some(Additional::Deny),
            Some(Json::Bool(true)) => Some(Additional::Any),
            Some(other) => Some(Additional::Schema(self.compile_node(other))),
            None => None,
        };
        if let Some(rule) = obj.get("x-expman-closed-when") {
            node.closed_when = Some(ClosedWhen {
                property: rule.get("property").and_then(Json::as_str).unwrap_or("type").to_string(),
                values: rule.get("values").and_then(Json::as_array).cloned().unwrap_or_default(),
                default: rule.get("default").cloned(),
            });
        }
        if let Some(req) = obj.get("required").and_then(Json::as_array) {
            node.required = req.iter().filter_map(Json::as_str).map(str::to_string).collect();
        }
        if let Some(items) = obj.get("items") {
            node.items = Some(self.compile_node(items));
        }
        node
    }
}
