//! Tidy checks over the workspace itself, the arrows of ARCHITECTURE.md
//! enforced rather than only written:
//!
//! - which expman crate may depend on which (from `cargo metadata`), and
//!   which heavy crates (polars, SQLite, the MySQL client) each front end
//!   may link, directly or through others;
//! - no module of an engine crate imports another in a circle;
//! - every `.rs` file opens with a `//!` doc.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::repo_root;

/// The expman crates each expman crate may depend on (normal and build
/// dependencies; dev-dependencies are free). A crate missing here is
/// unknown to the tidy check, which is itself an error.
const ALLOWED: &[(&str, &[&str])] = &[
    ("expman-os", &[]),
    // The artifact store: files and a cipher, nothing of the record.
    ("expman-blobs", &[]),
    ("expman-search", &[]),
    ("expman-schema", &["expman-search"]),
    ("expman-store", &["expman-os"]),
    ("expman-team", &["expman-os", "expman-store"]),
    ("expman-query", &["expman-os", "expman-store", "expman-schema"]),
    ("expman-trackers", &["expman-os", "expman-store", "expman-schema"]),
    (
        "expman-runner",
        &[
            "expman-os",
            "expman-blobs",
            "expman-store",
            "expman-schema",
            "expman-search",
            "expman-team",
            "expman-trackers",
        ],
    ),
    ("expman-lsp", &["expman-schema"]),
    ("expman-kernel", &["expman-os"]),
    // The web UI's server: HTTP, access rules and the page; the record
    // reaches it as JSON from the binary.
    ("expman-ui", &[]),
    (
        "expman",
        &[
            "expman-os",
            "expman-blobs",
            "expman-store",
            "expman-schema",
            "expman-team",
            "expman-query",
            "expman-trackers",
            "expman-runner",
            "expman-search",
            "expman-lsp",
            "expman-kernel",
            "expman-ui",
        ],
    ),
    // The Python package: a front end like the binary, over the same
    // library (its query commands and magics), the runner's direct runs
    // and the query layer's Arrow stream; no polars of its own.
    ("expman-python", &["expman", "expman-kernel", "expman-query", "expman-runner", "expman-store"]),
    ("expman-tests", &[]),
];

/// Crates that link polars, SQLite or a MySQL client, and the expman crates
/// that may have them among their (transitive, normal) dependencies.
const HEAVY: &[&str] = &["polars", "rusqlite", "libsqlite3-sys", "mysql", "mysql_common"];
const MAY_LINK_HEAVY: &[&str] = &[
    "expman-store",
    "expman-team",
    "expman-query",
    "expman-trackers",
    "expman-runner",
    "expman",
    "expman-python",
    "expman-tests",
];
/// polars itself: the query layer and the binary's output only.
const MAY_LINK_POLARS_DIRECTLY: &[&str] = &["expman-query", "expman", "expman-tests"];

/// `cargo metadata` for this machine's platform (the others' crates are
/// never built here, so they need not be downloaded).
fn metadata() -> serde_json::Value {
    let rustc = std::process::Command::new("rustc").arg("-vV").output().expect("run rustc -vV");
    let version = String::from_utf8_lossy(&rustc.stdout);
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host").trim();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--filter-platform", host])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Package name → the names of its normal and build dependencies, as
/// declared (optional ones included: a feature may turn them on).
fn declared(meta: &serde_json::Value) -> BTreeMap<String, BTreeSet<String>> {
    let members: BTreeSet<&str> =
        meta["workspace_members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| members.contains(p["id"].as_str().unwrap()))
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null() || d["kind"] == "build")
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

/// The arrows between expman crates that the allowed graph lacks.
fn wrong_arrows(declared: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (package, deps) in declared {
        let Some(may) = allowed.get(package.as_str()) else {
            wrong.push(format!(
                "{package} is not in tests/it/tidy.rs's ALLOWED graph: add it with the crates it may use"
            ));
            continue;
        };
        for dep in deps.iter().filter(|d| d.starts_with("expman")) {
            if !may.contains(&dep.as_str()) {
                wrong.push(format!("{package} -> {dep}"));
            }
        }
        if deps.contains("polars") && !MAY_LINK_POLARS_DIRECTLY.contains(&package.as_str()) {
            wrong.push(format!("{package} -> polars (only expman-query and the binary's output link polars)"));
        }
    }
    wrong
}

/// Package name → every crate it links through normal dependencies, as
/// cargo resolved them (features unified across the workspace).
fn linked(meta: &serde_json::Value) -> BTreeMap<String, BTreeSet<String>> {
    let nodes = meta["resolve"]["nodes"].as_array().expect("cargo metadata resolves");
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let normal: BTreeMap<&str, Vec<&str>> = nodes
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
                .map(|d| d["pkg"].as_str().unwrap())
                .collect();
            (n["id"].as_str().unwrap(), deps)
        })
        .collect();
    let members = meta["workspace_members"].as_array().unwrap();
    members
        .iter()
        .map(|m| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![m.as_str().unwrap()];
            while let Some(id) = stack.pop() {
                for dep in normal.get(id).into_iter().flatten() {
                    if seen.insert(*dep) {
                        stack.push(dep);
                    }
                }
            }
            let names = seen.iter().map(|id| name_of[id].to_string()).collect();
            (name_of[m.as_str().unwrap()].to_string(), names)
        })
        .collect()
}

#[test]
fn crates_depend_only_along_the_allowed_arrows() {
    let meta = metadata();
    let wrong = wrong_arrows(&declared(&meta));
    assert!(
        wrong.is_empty(),
        "arrows outside the allowed graph (ARCHITECTURE.md, \"Crate edges\"):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_front_ends_link_no_polars_sqlite_or_mysql() {
    let linked = linked(&metadata());
    let mut wrong = Vec::new();
    for (package, crates) in &linked {
        if MAY_LINK_HEAVY.contains(&package.as_str()) {
            continue;
        }
        for heavy in HEAVY.iter().filter(|h| crates.contains(**h)) {
            wrong.push(format!("{package} links {heavy}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let lsp_expman: Vec<&String> = linked["expman-lsp"].iter().filter(|c| c.starts_with("expman")).collect();
    assert_eq!(
        lsp_expman,
        ["expman-schema", "expman-search"],
        "the language server builds on expman-schema alone (and the search crate it checks `search:` blocks with, which has no dependencies)"
    );
}

#[test]
fn a_wrong_arrow_is_caught() {
    // The check itself, on a graph with arrows that must never exist.
    let mut graph = declared(&metadata());
    graph.get_mut("expman-store").unwrap().insert("expman-runner".into());
    graph.get_mut("expman-kernel").unwrap().insert("expman-query".into());
    graph.get_mut("expman-lsp").unwrap().insert("polars".into());
    graph.insert("expman-new".into(), BTreeSet::new());
    let wrong = wrong_arrows(&graph);
    assert!(wrong.contains(&"expman-store -> expman-runner".to_string()), "{wrong:?}");
    assert!(wrong.contains(&"expman-kernel -> expman-query".to_string()), "{wrong:?}");
    assert!(wrong.iter().any(|w| w.starts_with("expman-lsp -> polars")), "{wrong:?}");
    assert!(wrong.iter().any(|w| w.starts_with("expman-new is not in")), "{wrong:?}");
}

/// Every `.rs` file of the repository (what git tracks or would add).
fn rust_files() -> Vec<PathBuf> {
    let root = repo_root();
    let out = std::process::Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard", "*.rs"])
        .current_dir(&root)
        .output()
        .expect("run git ls-files");
    assert!(out.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| root.join(l)).filter(|p| p.is_file()).collect()
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let files = rust_files();
    assert!(files.len() > 100, "found only {} .rs files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.lines().find(|l| !l.trim().is_empty()).is_some_and(|l| l.starts_with("//!"))
        })
        .map(|f| f.strip_prefix(repo_root()).unwrap_or(f).display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a leading `//!` doc:\n{}", missing.join("\n"));
}

/// The modules of one crate (or of one directory module): each file or
/// directory directly under `dir`, by name, with the files it is made of.
fn modules_in(dir: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let files = walk(&path);
            modules.insert(name, files);
        } else if path.extension().is_some_and(|e| e == "rs") && !["lib", "main", "mod"].contains(&name.as_str()) {
            modules.entry(name).or_insert_with(Vec::new).push(path);
        }
    }
    modules
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The first path segments after `prefix` (`crate::` or `super::`) in
/// `text`, with `prefix{a::x, b}` groups opened one level.
fn segments_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(first_segment(&item));
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.remove("");
    found
}

fn first_segment(path: &str) -> String {
    path.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// What a file's code names: comments (doc links included) and its
/// `#[cfg(test)] mod` (tests may look anywhere) left out.
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut code = String::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed == "#[cfg(test)]" && lines.get(i + 1).is_some_and(|next| next.trim_start().starts_with("mod ")) {
            break;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// Module → the sibling modules it names, for the modules directly in `dir`
/// (`parent` is the path that reaches them from the crate root, e.g.
/// `["callbacks"]`). The parent itself is not a sibling: a module's
/// children may use what it defines.
fn sibling_edges(dir: &Path, parent: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules_in(dir);
    let mut edges = BTreeMap::new();
    for (name, files) in &modules {
        let mut named = BTreeSet::new();
        for file in files {
            let text = code_of(&std::fs::read_to_string(file).unwrap());
            // `crate::a::b::x` seen from a module under `a`: the sibling is `b`.
            let mut prefix = String::from("crate::");
            for p in parent {
                prefix.push_str(p);
                prefix.push_str("::");
            }
            named.extend(segments_after(&text, &prefix));
            // `super::x` from a file directly in `dir` names a sibling.
            if file.parent() == Some(dir) {
                named.extend(segments_after(&text, "super::"));
            }
        }
        named.retain(|m| m != name && modules.contains_key(m));
        edges.insert(name.clone(), named);
    }
    edges
}

/// A circle in `edges`, if there is one.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut circle = path[i..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

/// Every circle among sibling modules of the crate whose sources are in `src`.
fn circles_in(src: &Path) -> Vec<String> {
    let mut circles = Vec::new();
    let mut dirs = vec![(src.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, parent)) = dirs.pop() {
        // Each circle found is reported and one of its arrows set aside,
        // until none is left: every circle is named at once.
        let mut edges = sibling_edges(&dir, &parent);
        while let Some(circle) = find_circle(&edges) {
            circles.push(format!("{}: {}", dir.display(), circle.join(" -> ")));
            edges.get_mut(&circle[0]).unwrap().remove(&circle[1]);
        }
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().is_dir() {
                let mut below = parent.clone();
                below.push(entry.file_name().to_string_lossy().to_string());
                dirs.push((entry.path(), below));
            }
        }
    }
    circles
}

/// The engine crates and the front ends.
const CRATE_SOURCES: &[&str] = &[
    "core/os/src",
    "core/store/src",
    "core/team/src",
    "core/query/src",
    "core/trackers/src",
    "core/runner/src",
    "schema/src",
    "lsp/src",
    "kernel/src",
    "python/src",
    "cli/src",
];

#[test]
fn no_module_imports_another_in_a_circle() {
    let circles: Vec<String> = CRATE_SOURCES.iter().flat_map(|src| circles_in(&repo_root().join(src))).collect();
    assert!(circles.is_empty(), "modules that import each other in a circle:\n{}", circles.join("\n"));
}

#[test]
fn a_circle_is_caught() {
    let dir = crate::support::TempDir::new("tidy-circle");
    std::fs::create_dir_all(dir.path().join("src/runner")).unwrap();
    let write = |file: &str, text: &str| std::fs::write(dir.path().join("src").join(file), text).unwrap();
    write("recovery.rs", "//! r\nuse crate::{runner::judge, store};\n");
    write("runner/mod.rs", "//! r\nmod scheduler;\nmod launch;\npub fn f() { crate::workspace::open(); }\n");
    write("runner/scheduler.rs", "//! s\nuse super::launch::go;\n");
    write("runner/launch.rs", "//! l\nuse crate::runner::scheduler::Message;\n");
    // Neither a doc link nor a test names a module for this check.
    write("store.rs", "//! [`crate::workspace`]\n#[cfg(test)]\nmod tests {\n    use crate::workspace::x;\n}\n");
    write("lib.rs", "//! root\nmod runner;\nmod recovery;\nmod store;\nmod workspace;\n");
    write("workspace.rs", "//! w\nuse crate::recovery::recover;\nuse crate::store::Store;\n");
    let circles = circles_in(&dir.path().join("src"));
    assert_eq!(circles.len(), 2, "{circles:?}");
    assert!(circles.iter().any(|c| c.contains("recovery -> runner -> workspace -> recovery")), "{circles:?}");
    assert!(circles.iter().any(|c| c.contains("launch -> scheduler -> launch")), "{circles:?}");
}
