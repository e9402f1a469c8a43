//! Building messages: every reply and output is written as the JSON the
//! messaging spec shows (through `UnknownMessage`, which carries raw
//! content), so what goes on the wire is exactly what is written here.

use jupyter_protocol::{JupyterMessage, UnknownMessage};
use serde_json::Value;

/// A message of `msg_type` with `content`, child of `parent` (same session,
/// same ZeroMQ identities, `parent_header` set).
pub fn message(msg_type: &str, content: Value, parent: &JupyterMessage) -> JupyterMessage {
    let mut m = JupyterMessage::new(UnknownMessage { msg_type: msg_type.to_string(), content }, Some(parent));
    m.header.username = "expman".into();
    m
}

/// A message that answers no request (`iopub_welcome`): an empty parent header.
pub fn unparented(msg_type: &str, content: Value) -> JupyterMessage {
    let mut m = JupyterMessage::new(UnknownMessage { msg_type: msg_type.to_string(), content }, None);
    m.header.username = "expman".into();
    m
}

/// `kernel_info_request` → `kernel_info_reply`: the type a reply to
/// `request_type` has.
pub fn reply_type(request_type: &str) -> String {
    match request_type.strip_suffix("_request") {
        Some(stem) => format!("{stem}_reply"),
        None => format!("{request_type}_reply"),
    }
}
