//! Reading requests off a socket, as leniently as the spec allows.
//!
//! The signature is checked first (jupyter-zmq-client's `RawMessage`); a
//! badly signed message is never looked at. Then the content is read with
//! the spec's defaults for the fields a client may leave out
//! (`execute_request` with only `code`, a `history_request` search without
//! `unique`, ...): jupyter-protocol's types require them all, and a client
//! that relies on the defaults, as ipykernel allows, would otherwise wait
//! for a reply that never comes. Content that still does not fit is kept as
//! raw JSON with the reason, so the loop can answer with an error reply.
//! Only a message without a readable header cannot be answered at all.

use jupyter_protocol::{Header, JupyterMessage, JupyterMessageContent, UnknownMessage};
use jupyter_zmq_client::{RawMessage, RuntimeError};
use serde_json::{Map, Value, json};
use zeromq::{SocketRecv, SocketSend, ZmqMessage};

/// A request as read: the message, and why its content could not be read
/// (then the content is an `UnknownMessage` with the raw JSON).
pub struct Incoming {
    pub message: JupyterMessage,
    pub unreadable: Option<String>,
}

/// Reads the next message a client sent on `socket`, dropping (and
/// logging) those with a bad signature or without a readable header.
pub async fn next<S: SocketRecv>(socket: &mut jupyter_zmq_client::Connection<S>, channel: &str) -> Incoming {
    loop {
        let frames = match socket.socket.recv().await {
            Ok(frames) => frames,
            Err(e) => {
                tracing::warn!("{channel}: cannot receive: {e}");
                // A socket in trouble must not spin.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            }
        };
        match read(frames, &socket.mac) {
            Ok(incoming) => return incoming,
            Err(why) => tracing::warn!("{channel}: dropped a message {why}"),
        }
    }
}

/// Reads one multipart message as it came off a socket: its signature
/// checked with `mac` (none when the connection file's key is empty), then
/// its parts. The error completes "dropped a message ...".
pub fn read(frames: ZmqMessage, mac: &Option<ring::hmac::Key>) -> Result<Incoming, String> {
    match RawMessage::from_multipart(frames, mac) {
        Ok(raw) => parse(raw).map_err(|why| format!("that cannot be read: {why}")),
        Err(RuntimeError::VerifyError(_)) => Err("with a bad signature".into()),
        Err(e) => Err(format!("that cannot be read: {e}")),
    }
}

/// [`read`] for frames given as byte strings, from a kernel without a key
/// (the fuzzer's and the tests' way in). No frames at all is an error too.
pub fn read_unsigned(frames: Vec<Vec<u8>>) -> Result<Incoming, String> {
    let mut frames = frames.into_iter();
    let Some(first) = frames.next() else { return Err("that cannot be read: it has no frames".into()) };
    let mut message = ZmqMessage::from(first);
    for frame in frames {
        message.push_back(frame.into());
    }
    read(message, &None)
}

/// Heartbeat: every ping is sent back as it came, as the spec says
/// (jupyter-zmq-client's own heartbeat answers `pong`).
pub async fn echo_heartbeats(socket: &mut zeromq::RepSocket) {
    loop {
        match socket.recv().await {
            Ok(ping) => {
                let pong: ZmqMessage = ping;
                if let Err(e) = socket.send(pong).await {
                    tracing::debug!("heartbeat: {e}");
                }
            }
            Err(e) => {
                tracing::debug!("heartbeat: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    }
}

fn parse(raw: RawMessage) -> Result<Incoming, String> {
    let part = |i: usize| raw.jparts.get(i).map(|b| b.as_ref()).unwrap_or(b"{}");
    let header: Header = serde_json::from_slice(part(0)).map_err(|e| format!("header: {e}"))?;
    // Per the spec an empty parent header is `{}`, which is no `Header`.
    let parent_header = serde_json::from_slice(part(1)).ok();
    let metadata = serde_json::from_slice(part(2)).unwrap_or_else(|_| Map::new());
    let (content, unreadable) = match serde_json::from_slice::<Value>(part(3)) {
        Ok(mut value) => {
            with_defaults(&header.msg_type, &mut value);
            match JupyterMessageContent::from_type_and_content(&header.msg_type, value.clone()) {
                Ok(content) => (content, None),
                Err(e) => (unknown(&header.msg_type, value), Some(e.to_string())),
            }
        }
        Err(e) => (unknown(&header.msg_type, Value::Null), Some(format!("content is not JSON: {e}"))),
    };
    let message = JupyterMessage {
        zmq_identities: raw.zmq_identities,
        header,
        parent_header,
        metadata: Value::Object(metadata),
        content,
        buffers: raw.jparts.get(4..).map(|b| b.to_vec()).unwrap_or_default(),
        channel: None,
    };
    Ok(Incoming { message, unreadable })
}

fn unknown(msg_type: &str, content: Value) -> JupyterMessageContent {
    JupyterMessageContent::UnknownMessage(UnknownMessage { msg_type: msg_type.to_string(), content })
}

/// Fills in what the messaging spec (and ipykernel) default when a client
/// leaves it out. Content of the wrong shape is left alone.
pub fn with_defaults(msg_type: &str, content: &mut Value) {
    let Value::Object(fields) = content else { return };
    let mut default = |key: &str, value: Value| {
        fields.entry(key.to_string()).or_insert(value);
    };
    match msg_type {
        "execute_request" => {
            default("silent", json!(false));
            default("store_history", json!(true));
            default("user_expressions", json!({}));
            default("allow_stdin", json!(false));
            default("stop_on_error", json!(true));
        }
        "history_request" => {
            default("output", json!(false));
            default("raw", json!(true));
            default("hist_access_type", json!("range"));
            default("session", json!(0));
            default("start", json!(0));
            default("stop", json!(0));
            default("n", json!(0));
            default("pattern", json!("*"));
            default("unique", json!(false));
        }
        "inspect_request" => default("detail_level", json!(0)),
        "shutdown_request" => default("restart", json!(false)),
        _ => {}
    }
    // `cursor_pos` defaults to the end of the code (in characters).
    if matches!(msg_type, "complete_request" | "inspect_request")
        && !fields.contains_key("cursor_pos")
        && let Some(code) = fields.get("code").and_then(Value::as_str)
    {
        let end = code.chars().count();
        fields.insert("cursor_pos".into(), json!(end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(msg_type: &str, content: Value) -> JupyterMessageContent {
        let mut content = content;
        with_defaults(msg_type, &mut content);
        JupyterMessageContent::from_type_and_content(msg_type, content).unwrap()
    }

    #[test]
    fn requests_that_leave_out_optional_fields_are_read() {
        match read("execute_request", json!({"code": "!ls"})) {
            JupyterMessageContent::ExecuteRequest(r) => {
                assert!(!r.silent && r.store_history && r.stop_on_error);
            }
            other => panic!("{other:?}"),
        }
        match read("history_request", json!({"hist_access_type": "search", "pattern": "a*"})) {
            JupyterMessageContent::HistoryRequest(jupyter_protocol::HistoryRequest::Search { unique, n, .. }) => {
                assert!(!unique);
                assert_eq!(n, 0);
            }
            other => panic!("{other:?}"),
        }
        match read("complete_request", json!({"code": "%expman ré"})) {
            JupyterMessageContent::CompleteRequest(r) => assert_eq!(r.cursor_pos, 10),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_is_given_is_kept_and_odd_shapes_are_left_alone() {
        let mut given = json!({"code": "x", "silent": true, "stop_on_error": false});
        with_defaults("execute_request", &mut given);
        assert_eq!(given["silent"], json!(true));
        assert_eq!(given["stop_on_error"], json!(false));
        let mut list = json!([1, 2]);
        with_defaults("execute_request", &mut list);
        assert_eq!(list, json!([1, 2]));
    }
}
