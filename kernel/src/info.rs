//! `kernel_info_reply`: who we are and how cells look (YAML highlighting).

use serde_json::{Value, json};

/// The language name in kernel_info and the kernelspec.
pub const LANGUAGE: &str = "expman";

pub fn kernel_info() -> Value {
    let version = env!("CARGO_PKG_VERSION");
    json!({
        "status": "ok",
        "protocol_version": "5.3",
        "implementation": "expman",
        "implementation_version": version,
        "language_info": {
            "name": LANGUAGE,
            "version": version,
            "mimetype": "text/x-yaml",
            "file_extension": ".yaml",
            "pygments_lexer": "yaml",
            "codemirror_mode": "yaml",
            "nbconvert_exporter": "script",
        },
        "banner": format!(
            "expman {version}: experiments as YAML cells.\n\
             %%expman run launches trials, %expman runs lists them, %expman help shows every magic."
        ),
        "help_links": help_links(),
        "debugger": false,
    })
}

/// The README this binary was built from (its Jupyter section), while that
/// checkout exists, and the messaging spec. expman has no web site: the
/// README is its manual, and `%expman help` the same text in the notebook.
fn help_links() -> Value {
    let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let mut links = Vec::new();
    if let Ok(path) = readme.canonicalize() {
        links.push(json!({"text": "expman README: Jupyter", "url": format!("file://{}#jupyter", path.display())}));
    }
    links.push(
        json!({"text": "Jupyter messaging", "url": "https://jupyter-client.readthedocs.io/en/latest/messaging.html"}),
    );
    Value::Array(links)
}
