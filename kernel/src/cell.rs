//! A running cell's outputs: streams, rich displays (updated in place by
//! display id), the execution result. Usable from any thread: messages go
//! to the IOPub sender task through a channel, so a slow front end never
//! blocks the code producing output.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use jupyter_protocol::JupyterMessage;
use serde_json::{Map, Value, json};

use crate::message::message;

/// Where IOPub messages go (the sender task's queue).
pub type IoPubSender = tokio::sync::mpsc::UnboundedSender<JupyterMessage>;

/// A MIME bundle: `text/plain` and friends, with per-type metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bundle {
    pub data: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

impl Bundle {
    /// A bundle with only `text/plain`.
    pub fn text(text: impl Into<String>) -> Bundle {
        Bundle::default().with("text/plain", Value::String(text.into()))
    }

    /// Adds (or replaces) one representation.
    pub fn with(mut self, mime: &str, value: Value) -> Bundle {
        self.data.insert(mime.to_string(), value);
        self
    }

    pub fn with_html(self, html: impl Into<String>) -> Bundle {
        self.with("text/html", Value::String(html.into()))
    }

    pub fn with_markdown(self, markdown: impl Into<String>) -> Bundle {
        self.with("text/markdown", Value::String(markdown.into()))
    }
}

/// A display that can be updated in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayHandle {
    pub id: String,
}

/// The outputs of one cell (its `execute_request` is the parent of every
/// message it sends).
#[derive(Clone)]
pub struct Cell {
    inner: Arc<CellInner>,
}

struct CellInner {
    iopub: IoPubSender,
    parent: JupyterMessage,
    execution_count: usize,
    /// `silent` requests publish nothing.
    silent: bool,
    interrupted: Arc<AtomicBool>,
    displays: AtomicU64,
}

impl Cell {
    pub fn new(iopub: IoPubSender, parent: JupyterMessage, execution_count: usize, silent: bool) -> Cell {
        Cell {
            inner: Arc::new(CellInner {
                iopub,
                parent,
                execution_count,
                silent,
                interrupted: Arc::new(AtomicBool::new(false)),
                displays: AtomicU64::new(0),
            }),
        }
    }

    fn send(&self, msg_type: &str, content: Value) {
        if !self.inner.silent {
            // The receiver is gone only when the kernel is exiting.
            let _ = self.inner.iopub.send(message(msg_type, content, &self.inner.parent));
        }
    }

    pub fn execution_count(&self) -> usize {
        self.inner.execution_count
    }

    /// Text on the cell's standard output.
    pub fn stdout(&self, text: &str) {
        self.stream("stdout", text);
    }

    /// Text on the cell's standard error.
    pub fn stderr(&self, text: &str) {
        self.stream("stderr", text);
    }

    fn stream(&self, name: &str, text: &str) {
        if !text.is_empty() {
            self.send("stream", json!({"name": name, "text": text}));
        }
    }

    /// A rich display that later calls to [`Cell::update`] replace.
    pub fn display(&self, bundle: Bundle) -> DisplayHandle {
        let n = self.inner.displays.fetch_add(1, Ordering::Relaxed);
        let handle = DisplayHandle { id: format!("expman-{}-{n}", self.inner.parent.header.msg_id) };
        self.send(
            "display_data",
            json!({"data": bundle.data, "metadata": bundle.metadata, "transient": {"display_id": handle.id}}),
        );
        handle
    }

    /// Replaces a display (also after the cell has finished).
    pub fn update(&self, handle: &DisplayHandle, bundle: Bundle) {
        self.send(
            "update_display_data",
            json!({"data": bundle.data, "metadata": bundle.metadata, "transient": {"display_id": handle.id}}),
        );
    }

    /// The cell's result (`Out[n]`).
    pub fn result(&self, bundle: Bundle) {
        self.send(
            "execute_result",
            json!({"execution_count": self.inner.execution_count, "data": bundle.data, "metadata": bundle.metadata}),
        );
    }

    /// Whether the user pressed stop (`interrupt_request`).
    pub fn interrupted(&self) -> bool {
        self.inner.interrupted.load(Ordering::SeqCst)
    }

    /// The flag an interrupt sets, to hand to code that polls it (the
    /// runner's cancel flag).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.inner.interrupted.clone()
    }
}
