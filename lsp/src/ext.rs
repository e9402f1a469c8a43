//! The custom request of this server.
//!
//! `expman/mergePreview`: the fully resolved config of one run of a trial,
//! as `expman preview` prints it (secrets masked).
//!
//! ```text
//! request:  { "textDocument": { "uri": "file:///.../trials.yaml" },
//!             "trial": "small_model",        // a sweep child by its full name
//!             "repeat": 1 }                  // 1-based, optional (default 1)
//! response: { "title": "small_model, repeat 1/3, seed 42", "yaml": "seed: 42\n..." }
//! ```
//!
//! Code lenses above each trial ("Preview merged config") carry the command
//! `expman.showMergePreview` with arguments `[uri, trial]`; editors send
//! this request to show the result.

use serde::{Deserialize, Serialize};
use tower_lsp_server::ls_types::TextDocumentIdentifier;

/// The method name.
pub const MERGE_PREVIEW: &str = "expman/mergePreview";

/// The command code lenses carry.
pub const SHOW_MERGE_PREVIEW: &str = "expman.showMergePreview";

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MergePreviewParams {
    pub text_document: TextDocumentIdentifier,
    pub trial: String,
    #[serde(default)]
    pub repeat: Option<u32>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct MergePreviewResult {
    pub title: String,
    pub yaml: String,
}
