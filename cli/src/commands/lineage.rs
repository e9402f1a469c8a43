//! `expman lineage RUN`: what a run used and what used its outputs, as a
//! tree each way (text), a graph (JSON) or Graphviz (`dot`).
//!
//! Edges come from the record's `run_inputs`: an input that names its
//! source run (`run:`, `trial:`, `alias:`), or a plain file input whose
//! content (SHA-256) some run recorded as an artifact. Walks stop at
//! `--depth` and never visit a run twice.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::process::ExitCode;

use expman_store::{RunInput, RunRef, RunRow, Store};
use serde_json::json;

use crate::args::{LineageArgs, LineageFormat};
use crate::commands::record::open_view;

/// One edge: `from`'s output went into `to` as input `input`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    input: String,
    reference: String,
    sha256: String,
}

/// Inputs that came from no run (files, directories): leaves upstream.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Leaf {
    run: String,
    input: String,
    kind: String,
    path: String,
    sha256: String,
}

#[derive(Default)]
struct Graph {
    runs: BTreeMap<String, RunRow>,
    edges: BTreeSet<Edge>,
    leaves: BTreeSet<Leaf>,
}

/// Where an input came from: its named source run, else the newest run
/// that recorded its content as an artifact.
fn source_of(store: &Store, input: &RunInput, consumer: &RunRef) -> anyhow::Result<Option<RunRef>> {
    if let Some(source) = &input.source_run {
        return Ok(Some(source.clone()));
    }
    Ok(store.runs_with_content(&input.sha256)?.into_iter().find(|r| r.id != consumer.id))
}

impl Graph {
    fn add_run(&mut self, store: &Store, run: &RunRef) -> anyhow::Result<()> {
        if !self.runs.contains_key(&run.uid)
            && let Some(row) = store.runs_by_id(&[run.id])?.into_iter().next()
        {
            self.runs.insert(run.uid.clone(), row);
        }
        Ok(())
    }

    fn upstream(&mut self, store: &Store, run: &RunRef, depth: usize, seen: &mut HashSet<i64>) -> anyhow::Result<()> {
        if depth == 0 || !seen.insert(run.id) {
            return Ok(());
        }
        self.add_run(store, run)?;
        for input in store.run_inputs(run.id)? {
            match source_of(store, &input, run)? {
                Some(source) => {
                    self.add_run(store, &source)?;
                    self.edges.insert(Edge {
                        from: source.uid.clone(),
                        to: run.uid.clone(),
                        input: input.name.clone(),
                        reference: input.reference.clone(),
                        sha256: input.sha256.clone(),
                    });
                    self.upstream(store, &source, depth - 1, seen)?;
                }
                None => {
                    self.leaves.insert(Leaf {
                        run: run.uid.clone(),
                        input: input.name,
                        kind: input.kind,
                        path: input.path,
                        sha256: input.sha256,
                    });
                }
            }
        }
        Ok(())
    }

    fn downstream(&mut self, store: &Store, run: &RunRef, depth: usize, seen: &mut HashSet<i64>) -> anyhow::Result<()> {
        if depth == 0 || !seen.insert(run.id) {
            return Ok(());
        }
        self.add_run(store, run)?;
        for used in store.runs_using(run.id)? {
            self.add_run(store, &used.run)?;
            self.edges.insert(Edge {
                from: run.uid.clone(),
                to: used.run.uid.clone(),
                input: used.input.name.clone(),
                reference: used.input.reference.clone(),
                sha256: used.input.sha256.clone(),
            });
            self.downstream(store, &used.run, depth - 1, seen)?;
        }
        Ok(())
    }

    fn label(&self, uid: &str) -> String {
        match self.runs.get(uid) {
            Some(r) => format!("run {uid} ({} / {}, {})", r.experiment, r.trial, r.status),
            None => format!("run {uid}"),
        }
    }
}

pub fn lineage(args: LineageArgs) -> anyhow::Result<ExitCode> {
    print!("{}", lineage_text(&args)?);
    Ok(ExitCode::SUCCESS)
}

/// What `expman lineage` prints (and `%expman lineage` shows).
pub fn lineage_text(args: &LineageArgs) -> anyhow::Result<String> {
    let store = open_view(&args.record)?;
    let run = store.resolve_run(&args.run)?;
    let mut graph = Graph::default();
    graph.upstream(&store, &run, args.depth + 1, &mut HashSet::new())?;
    graph.downstream(&store, &run, args.depth + 1, &mut HashSet::new())?;
    Ok(match args.format {
        LineageFormat::Text => text(&graph, &run.uid, args.depth),
        LineageFormat::Json => serde_json::to_string_pretty(&as_json(&graph, &run.uid))? + "\n",
        LineageFormat::Dot => dot(&graph, &run.uid),
    })
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

fn text(graph: &Graph, root: &str, depth: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", graph.label(root));
    let _ = writeln!(out, "used:");
    let before = out.len();
    upstream_text(graph, root, 1, depth, &mut out, &mut HashSet::new());
    if out.len() == before {
        let _ = writeln!(out, "  nothing declared (`inputs:` in base.yaml or a trial records what a run uses)");
    }
    let _ = writeln!(out, "used by:");
    let before = out.len();
    downstream_text(graph, root, 1, depth, &mut out, &mut HashSet::new());
    if out.len() == before {
        let _ = writeln!(out, "  no run in the record");
    }
    out
}

fn upstream_text(graph: &Graph, uid: &str, level: usize, depth: usize, out: &mut String, seen: &mut HashSet<String>) {
    if level > depth || !seen.insert(uid.to_string()) {
        return;
    }
    let pad = "  ".repeat(level);
    for leaf in graph.leaves.iter().filter(|l| l.run == uid) {
        let _ = writeln!(out, "{pad}{}: {} {}  sha256 {}", leaf.input, leaf.kind, leaf.path, short(&leaf.sha256));
    }
    for edge in graph.edges.iter().filter(|e| e.to == uid) {
        let _ = writeln!(
            out,
            "{pad}{}: `{}` from {}  sha256 {}",
            edge.input,
            edge.reference,
            graph.label(&edge.from),
            short(&edge.sha256)
        );
        upstream_text(graph, &edge.from, level + 1, depth, out, seen);
    }
}

fn downstream_text(graph: &Graph, uid: &str, level: usize, depth: usize, out: &mut String, seen: &mut HashSet<String>) {
    if level > depth || !seen.insert(uid.to_string()) {
        return;
    }
    let pad = "  ".repeat(level);
    for edge in graph.edges.iter().filter(|e| e.from == uid) {
        let _ = writeln!(out, "{pad}{} as `{}` ({})", graph.label(&edge.to), edge.input, edge.reference);
        downstream_text(graph, &edge.to, level + 1, depth, out, seen);
    }
}

fn as_json(graph: &Graph, root: &str) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = graph
        .runs
        .values()
        .map(|r| json!({"id": r.uid, "experiment": r.experiment, "trial": r.trial, "status": r.status.to_string()}))
        .collect();
    let edges: Vec<serde_json::Value> = graph
        .edges
        .iter()
        .map(|e| json!({"from": e.from, "to": e.to, "input": e.input, "reference": e.reference, "sha256": e.sha256}))
        .collect();
    let files: Vec<serde_json::Value> = graph
        .leaves
        .iter()
        .map(|l| json!({"run": l.run, "input": l.input, "kind": l.kind, "path": l.path, "sha256": l.sha256}))
        .collect();
    json!({"run": root, "runs": runs, "edges": edges, "files": files})
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn dot(graph: &Graph, root: &str) -> String {
    let mut out = String::from("digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (uid, r) in &graph.runs {
        let label = format!("{uid}\\n{} / {}\\n{}", r.experiment, r.trial, r.status);
        let style = if uid == root { ", style=bold" } else { "" };
        let _ = writeln!(out, "  {} [label={}{style}];", quoted(uid), quoted(&label).replace("\\\\n", "\\n"));
    }
    for (i, leaf) in graph.leaves.iter().enumerate() {
        let name = format!("file{i}");
        let label = format!("{}\\n{}", leaf.path, short(&leaf.sha256));
        let _ = writeln!(out, "  {name} [shape=note, label={}];", quoted(&label).replace("\\\\n", "\\n"));
        let _ = writeln!(out, "  {name} -> {} [label={}];", quoted(&leaf.run), quoted(&leaf.input));
    }
    for e in &graph.edges {
        let _ = writeln!(out, "  {} -> {} [label={}];", quoted(&e.from), quoted(&e.to), quoted(&e.input));
    }
    out.push_str("}\n");
    out
}
