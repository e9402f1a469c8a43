//! expman-lsp: the language server for expman configs (`expman lsp`).
//!
//! Generic YAML servers know nothing of how a trial's `settings` relate to
//! `base.yaml`; this one does. It reuses `expman-schema` for everything a
//! config means (the same parse, merge and diagnostics as `expman
//! validate`) and adds what an editor needs on top:
//!
//! - [`world`]: open documents, the analysis of each config directory (or
//!   single-file config), recomputed on change; results for an outdated
//!   document version are dropped;
//! - [`context`]: where a cursor is (key or value, the path of keys, which
//!   trial), from the text, tolerant of half-typed lines;
//! - one module per feature: [`diagnostics`] (pushed and pulled),
//!   [`completion`], [`hover`], [`definition`], [`symbols`] (outline and
//!   folding), [`lens`] (code lenses and merge previews), [`actions`]
//!   (quick fixes), [`navigate`] (references, rename, inlay hints,
//!   workspace symbols, over [`keys`]: where each key and trial is written);
//! - [`convert`]: byte spans to LSP positions (UTF-16) and back;
//! - [`ext`]: the custom request `expman/mergePreview`;
//! - [`worker`]: the one thread analyses run (and are freed) on;
//! - [`server`]: the tower-lsp-server glue.
//!
//! Invariant: this crate depends on expman-schema alone of the expman crates (no SQLite, no polars).
//! Invariant: nothing is printed to stdout, which carries the protocol.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod actions;
pub mod completion;
pub mod context;
pub mod convert;
pub mod definition;
pub mod diagnostics;
pub mod ext;
pub mod hover;
pub mod keys;
pub mod lens;
pub mod navigate;
pub mod server;
pub mod settings;
pub mod symbols;
pub mod worker;
pub mod world;

#[cfg(test)]
mod tests;

/// Serves LSP on stdin/stdout until the client says `exit`.
pub fn run_stdio() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let (service, socket) = server::service()?;
        tower_lsp_server::Server::new(tokio::io::stdin(), tokio::io::stdout(), socket).serve(service).await;
        Ok(())
    })
}
