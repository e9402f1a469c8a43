//! A running cell's outputs: streams, rich displays (updated in place by
//! display id), the execution result. Usable from any thread: messages go
//! to the IOPub sender task through a channel, so a slow front end never
//! blocks the code producing output. A cell can also send its outputs as
//! [`Output`]s to a plain channel ([`Cell::channel`]): that is how the
//! Python package shows the magics' outputs in IPython.

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

/// One output of a cell sent to a [`Cell::channel`]: what an IOPub
/// message would carry.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Text on `stdout` or `stderr`.
    Stream {
        name: &'static str,
        text: String,
    },
    /// A display that [`Output::Update`]s with the same id replace.
    Display {
        id: String,
        bundle: Bundle,
    },
    Update {
        id: String,
        bundle: Bundle,
    },
    /// The cell's result (`Out[n]`).
    Result(Bundle),
}

/// Where a cell's outputs go.
enum Sink {
    /// IOPub messages whose parent is the cell's `execute_request`.
    IoPub {
        sender: IoPubSender,
        parent: Box<JupyterMessage>,
    },
    Channel(std::sync::mpsc::Sender<Output>),
}

/// The outputs of one cell (its `execute_request` is the parent of every
/// message it sends).
#[derive(Clone)]
pub struct Cell {
    inner: Arc<CellInner>,
}

struct CellInner {
    sink: Sink,
    /// Names display ids uniquely (the request's message id).
    prefix: String,
    execution_count: usize,
    /// `silent` requests publish nothing.
    silent: bool,
    interrupted: Arc<AtomicBool>,
    displays: AtomicU64,
    /// `execute_reply` payloads (`page`), taken when the cell ends.
    payload: std::sync::Mutex<Vec<Value>>,
}

impl Cell {
    pub fn new(iopub: IoPubSender, parent: JupyterMessage, execution_count: usize, silent: bool) -> Cell {
        let prefix = parent.header.msg_id.clone();
        Cell::with_sink(Sink::IoPub { sender: iopub, parent: Box::new(parent) }, prefix, execution_count, silent)
    }

    /// A cell whose outputs arrive on the returned receiver, for a front
    /// end other than the kernel (IPython). `prefix` makes display ids
    /// unique across cells.
    pub fn channel(prefix: &str, execution_count: usize) -> (Cell, std::sync::mpsc::Receiver<Output>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (Cell::with_sink(Sink::Channel(tx), prefix.to_string(), execution_count, false), rx)
    }

    fn with_sink(sink: Sink, prefix: String, execution_count: usize, silent: bool) -> Cell {
        Cell {
            inner: Arc::new(CellInner {
                sink,
                prefix,
                execution_count,
                silent,
                interrupted: Arc::new(AtomicBool::new(false)),
                displays: AtomicU64::new(0),
                payload: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends one output (`output` builds it only when someone listens).
    fn send(&self, msg_type: &str, output: impl FnOnce() -> (Value, Output)) {
        if self.inner.silent {
            return;
        }
        // A receiver is gone only when its front end is exiting.
        match &self.inner.sink {
            Sink::IoPub { sender, parent } => {
                let _ = sender.send(message(msg_type, output().0, parent));
            }
            Sink::Channel(tx) => {
                let _ = tx.send(output().1);
            }
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

    fn stream(&self, name: &'static str, text: &str) {
        if !text.is_empty() {
            self.send("stream", || {
                (json!({"name": name, "text": text}), Output::Stream { name, text: text.to_string() })
            });
        }
    }

    /// A rich display that later calls to [`Cell::update`] replace.
    pub fn display(&self, bundle: Bundle) -> DisplayHandle {
        let n = self.inner.displays.fetch_add(1, Ordering::Relaxed);
        let handle = DisplayHandle { id: format!("expman-{}-{n}", self.inner.prefix) };
        self.send("display_data", || {
            let content =
                json!({"data": bundle.data, "metadata": bundle.metadata, "transient": {"display_id": handle.id}});
            (content, Output::Display { id: handle.id.clone(), bundle })
        });
        handle
    }

    /// Replaces a display (also after the cell has finished).
    pub fn update(&self, handle: &DisplayHandle, bundle: Bundle) {
        self.send("update_display_data", || {
            let content =
                json!({"data": bundle.data, "metadata": bundle.metadata, "transient": {"display_id": handle.id}});
            (content, Output::Update { id: handle.id.clone(), bundle })
        });
    }

    /// The cell's result (`Out[n]`).
    pub fn result(&self, bundle: Bundle) {
        let count = self.inner.execution_count;
        self.send("execute_result", || {
            let content = json!({"execution_count": count, "data": bundle.data, "metadata": bundle.metadata});
            (content, Output::Result(bundle))
        });
    }

    /// Text for the front end's pager (`?` help), as IPython sends it: a
    /// `page` payload in the `execute_reply`, not an output (JupyterLab
    /// opens its pager; the classic notebook its help panel). Without a
    /// kernel reply (IPython's channel), the cell's result.
    pub fn page(&self, text: &str) {
        match &self.inner.sink {
            Sink::IoPub { .. } => {
                let page = json!({"source": "page", "data": {"text/plain": text}, "start": 0});
                self.inner.payload.lock().unwrap_or_else(|e| e.into_inner()).push(page);
            }
            Sink::Channel(_) => self.result(Bundle::text(text)),
        }
    }

    /// The payloads for the `execute_reply` (taken once).
    pub fn take_payload(&self) -> Vec<Value> {
        std::mem::take(&mut *self.inner.payload.lock().unwrap_or_else(|e| e.into_inner()))
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
