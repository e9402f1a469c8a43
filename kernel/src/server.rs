//! The sockets and their loops.
//!
//! - shell (ROUTER): requests in order, one at a time; a cell runs on a
//!   blocking thread while this loop waits for it (as ipykernel does);
//! - control (ROUTER): interrupt, shutdown, kernel_info, answered at once,
//!   also while a cell runs;
//! - iopub (XPUB): one task sends everything queued by cells and loops,
//!   and greets each new subscriber with `iopub_welcome` (JEP 65), so a
//!   client knows from when on it misses nothing;
//! - heartbeat (REP): echoes each ping as it came;
//! - stdin (ROUTER): bound, unused (expman never asks for input).
//!
//! Every request gets `busy` before and `idle` after. A message with a bad
//! signature is dropped and logged, never answered; fields a client may
//! leave out get the spec's defaults (`wire`); a request whose content still
//! cannot be read, and an unknown `*_request`, get an error reply; a message
//! without a readable header is logged and dropped. A cell that fails with
//! `stop_on_error` aborts the cells queued behind it, as "Run all" expects.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jupyter_protocol::{ConnectionInfo, JupyterMessage, JupyterMessageContent};
use jupyter_zmq_client::{
    RuntimeError, SubscriptionEvent, create_kernel_control_connection, create_kernel_heartbeat_connection,
    create_kernel_iopub_xpub_connection, create_kernel_shell_connection, create_kernel_stdin_connection,
};
use serde_json::{Value, json};

use crate::cell::{Cell, IoPubSender};
use crate::error::KernelError;
use crate::interpreter::{Completeness, Interpreter};
use crate::message::{message, reply_type};
use crate::session::History;
use crate::{info, offsets, wire};

type Router = jupyter_zmq_client::KernelShellConnection;

/// What the shell and control loops share.
struct Kernel {
    interpreter: Arc<dyn Interpreter>,
    iopub: IoPubSender,
    /// The interrupt flag of the cell that runs now, if any.
    running: Mutex<Option<Arc<AtomicBool>>>,
    history: Mutex<History>,
    shutdown: tokio::sync::Notify,
    /// Set once a shutdown was asked for.
    stopping: AtomicBool,
    /// The shell loop is handling a request (from its arrival until its
    /// reply and `idle` are out): a shutdown waits for that.
    shell_busy: AtomicBool,
}

pub async fn serve(info: ConnectionInfo, interpreter: Arc<dyn Interpreter>) -> Result<(), KernelError> {
    if info.signature_scheme != "hmac-sha256" && !info.key.is_empty() {
        return Err(KernelError::Unsupported(format!(
            "signature scheme `{}` (expman signs with hmac-sha256)",
            info.signature_scheme
        )));
    }
    let session = uuid::Uuid::new_v4().to_string();
    let shell = create_kernel_shell_connection(&info, &session).await.map_err(bind("shell"))?;
    let control = create_kernel_control_connection(&info, &session).await.map_err(bind("control"))?;
    let _stdin = create_kernel_stdin_connection(&info, &session).await.map_err(bind("stdin"))?;
    let iopub_socket = create_kernel_iopub_xpub_connection(&info, &session).await.map_err(bind("iopub"))?;
    let mut heartbeat = create_kernel_heartbeat_connection(&info).await.map_err(bind("heartbeat"))?;
    tracing::info!("kernel listening on {} (shell port {})", info.ip, info.shell_port);

    let (iopub, queue) = tokio::sync::mpsc::unbounded_channel::<JupyterMessage>();
    let iopub_task = tokio::spawn(publish(iopub_socket, queue));
    tokio::spawn(async move { wire::echo_heartbeats(&mut heartbeat.socket).await });

    let kernel = Arc::new(Kernel {
        interpreter,
        iopub,
        running: Mutex::new(None),
        history: Mutex::new(History::default()),
        shutdown: tokio::sync::Notify::new(),
        stopping: AtomicBool::new(false),
        shell_busy: AtomicBool::new(false),
    });
    let shell_task = tokio::spawn(shell_loop(kernel.clone(), shell));
    let control_task = tokio::spawn(control_loop(kernel.clone(), control));
    let parent_task = parent_pid().map(|parent| {
        // As ipykernel does: leave when the process that started us is gone
        // (a notebook server killed hard), instead of running on forever.
        let kernel = kernel.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if !expman_os::process::is_alive(parent, None) {
                    tracing::warn!("the parent process {parent} is gone: shutting down");
                    kernel.begin_shutdown();
                    kernel.shutdown.notify_one();
                    break;
                }
            }
        })
    });
    kernel.shutdown.notified().await;

    // Stop what runs, let the last replies and outputs go out, leave: the
    // interrupted cell's reply (and its `idle`) before the loops stop.
    if let Some(flag) = kernel.running.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        flag.store(true, Ordering::SeqCst);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while kernel.shell_busy.load(Ordering::SeqCst) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let interpreter = kernel.interpreter.clone();
    let _ = tokio::time::timeout(Duration::from_secs(15), tokio::task::spawn_blocking(move || interpreter.shutdown()))
        .await;
    // Every holder of the IOPub sender goes with the loops; its task ends
    // once the queue is sent.
    for task in [Some(shell_task), Some(control_task), parent_task].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    drop(kernel);
    let _ = tokio::time::timeout(Duration::from_secs(2), iopub_task).await;
    Ok(())
}

/// The IOPub task: sends what cells and loops queue, and answers each
/// subscription with `iopub_welcome` (JEP 65). An XPUB socket registers a
/// subscriber only when its subscription is read, so reading goes on all
/// the time; reading a stream's next item is safe to cancel.
async fn publish(
    mut socket: jupyter_zmq_client::KernelIoPubXPubConnection,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<JupyterMessage>,
) {
    loop {
        tokio::select! {
            queued = queue.recv() => {
                let Some(msg) = queued else { break };
                if let Err(e) = socket.send(msg).await {
                    tracing::warn!("cannot publish on iopub: {e}");
                }
            }
            event = socket.recv_subscription() => match event {
                Ok(SubscriptionEvent::Subscribe(topic)) => {
                    let welcome = crate::message::unparented("iopub_welcome", json!({"subscription": topic}));
                    if let Err(e) = socket.send(welcome).await {
                        tracing::warn!("cannot greet an iopub subscriber: {e}");
                    }
                }
                Ok(SubscriptionEvent::Unsubscribe(_)) => {}
                Err(e) => {
                    tracing::debug!("iopub: {e}");
                    // A peer that went away: do not spin on its error.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }
}

/// The process Jupyter says started the kernel (`JPY_PARENT_PID`).
fn parent_pid() -> Option<u32> {
    std::env::var("JPY_PARENT_PID").ok()?.trim().parse().ok().filter(|pid: &u32| *pid > 1)
}

fn bind(channel: &'static str) -> impl Fn(RuntimeError) -> KernelError {
    move |e| KernelError::Bind { channel, message: e.to_string() }
}

async fn shell_loop(kernel: Arc<Kernel>, socket: Router) {
    // A reader task takes requests off the socket as they arrive, stamped
    // with the time, while this loop handles them one at a time: a cell
    // that fails with `stop_on_error` aborts exactly the execute requests
    // that had arrived before its reply went out (those "Run all" queued),
    // not the ones a client sends after reading that reply.
    let (mut sender, mut receiver) = socket.split();
    let (queue, mut requests) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        loop {
            let incoming = wire::next(&mut receiver, "shell").await;
            if queue.send((Instant::now(), incoming)).is_err() {
                break;
            }
        }
    });
    let _reader = AbortOnDrop(reader);
    let mut abort_before: Option<Instant> = None;
    while let Some((arrived, incoming)) = requests.recv().await {
        kernel.shell_busy.store(true, Ordering::SeqCst);
        let request = &incoming.message;
        kernel.status("busy", request);
        let aborted = abort_before.is_some_and(|t| arrived < t) && request.message_type() == "execute_request";
        let replies = if aborted {
            vec![message("execute_reply", json!({"status": "aborted"}), request)]
        } else if let Some(why) = &incoming.unreadable {
            kernel.unreadable(request, why)
        } else {
            let (replies, failed_stopping) = kernel.handle_shell(request).await;
            if failed_stopping {
                abort_before = Some(Instant::now());
            }
            replies
        };
        for reply in replies {
            if let Err(e) = sender.send(reply).await {
                tracing::warn!("shell: cannot send a reply: {e}");
            }
        }
        kernel.status("idle", request);
        kernel.shell_busy.store(false, Ordering::SeqCst);
        if kernel.stopping.load(Ordering::SeqCst) {
            // A shutdown asked for here, or on control while a cell ran.
            kernel.shutdown.notify_one();
        }
    }
}

/// Ends a task when its owner goes.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn control_loop(kernel: Arc<Kernel>, mut socket: Router) {
    loop {
        let incoming = wire::next(&mut socket, "control").await;
        let request = &incoming.message;
        kernel.status("busy", request);
        let reply = match &incoming.unreadable {
            Some(why) => kernel.unreadable(request, why).into_iter().next(),
            None => kernel.handle_control(request),
        };
        if let Some(reply) = reply
            && let Err(e) = socket.send(reply).await
        {
            tracing::warn!("control: cannot send a reply: {e}");
        }
        kernel.status("idle", request);
        if kernel.stopping.load(Ordering::SeqCst) {
            kernel.shutdown.notify_one();
        }
    }
}

impl Kernel {
    fn publish(&self, msg_type: &str, content: Value, parent: &JupyterMessage) {
        let _ = self.iopub.send(message(msg_type, content, parent));
    }

    fn status(&self, state: &str, parent: &JupyterMessage) {
        self.publish("status", json!({"execution_state": state}), parent);
    }

    /// Replies to a shell request (none for messages that want none), and
    /// whether it was a cell that failed with `stop_on_error`.
    async fn handle_shell(self: &Arc<Self>, request: &JupyterMessage) -> (Vec<JupyterMessage>, bool) {
        let reply = |content: Value| vec![message(&reply_type(request.message_type()), content, request)];
        let replies = match &request.content {
            JupyterMessageContent::ExecuteRequest(execute) => {
                let content = self.execute(request, execute.code.clone(), execute.silent, execute.store_history).await;
                let failed = content["status"] == "error";
                return (reply(content), failed && execute.stop_on_error);
            }
            JupyterMessageContent::KernelInfoRequest(_) => reply(info::kernel_info()),
            JupyterMessageContent::CompleteRequest(r) => reply(self.complete(&r.code, r.cursor_pos)),
            JupyterMessageContent::InspectRequest(r) => reply(self.inspect(&r.code, r.cursor_pos)),
            JupyterMessageContent::IsCompleteRequest(r) => reply(self.is_complete(&r.code)),
            JupyterMessageContent::HistoryRequest(r) => {
                let history = self.history.lock().unwrap_or_else(|e| e.into_inner()).answer(r);
                reply(history)
            }
            JupyterMessageContent::CommInfoRequest(_) => reply(json!({"status": "ok", "comms": {}})),
            JupyterMessageContent::CommOpen(open) => {
                // No comm targets: close it, as ipykernel does for unknown targets.
                self.publish("comm_close", json!({"comm_id": open.comm_id, "data": {}}), request);
                Vec::new()
            }
            JupyterMessageContent::CommMsg(_) | JupyterMessageContent::CommClose(_) => Vec::new(),
            JupyterMessageContent::ShutdownRequest(r) => {
                // The loop shuts the kernel down once this reply is out.
                self.begin_shutdown();
                reply(json!({"status": "ok", "restart": r.restart}))
            }
            other => self.unknown(request, other.message_type()),
        };
        (replies, false)
    }

    fn handle_control(&self, request: &JupyterMessage) -> Option<JupyterMessage> {
        let reply = |content: Value| Some(message(&reply_type(request.message_type()), content, request));
        match &request.content {
            JupyterMessageContent::InterruptRequest(_) => {
                if let Some(flag) = self.running.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    flag.store(true, Ordering::SeqCst);
                }
                reply(json!({"status": "ok"}))
            }
            JupyterMessageContent::ShutdownRequest(r) => {
                self.begin_shutdown();
                reply(json!({"status": "ok", "restart": r.restart}))
            }
            JupyterMessageContent::KernelInfoRequest(_) => reply(info::kernel_info()),
            other => self.unknown(request, other.message_type()).into_iter().next(),
        }
    }

    fn begin_shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(flag) = self.running.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// An error reply to a request whose content cannot be read; nothing for
    /// other messages.
    fn unreadable(&self, request: &JupyterMessage, why: &str) -> Vec<JupyterMessage> {
        let msg_type = request.message_type();
        tracing::warn!("cannot read a `{msg_type}`: {why}");
        if !msg_type.ends_with("_request") {
            return Vec::new();
        }
        let content = json!({
            "status": "error",
            "ename": "BadRequest",
            "evalue": format!("expman cannot read this `{msg_type}`: {why}"),
            "traceback": [],
        });
        vec![message(&reply_type(msg_type), content, request)]
    }

    /// An error reply to a request we do not know; nothing for other
    /// messages (replies, outputs sent the wrong way).
    fn unknown(&self, request: &JupyterMessage, msg_type: &str) -> Vec<JupyterMessage> {
        tracing::warn!("no handler for `{msg_type}`");
        if !msg_type.ends_with("_request") {
            return Vec::new();
        }
        let content = json!({
            "status": "error",
            "ename": "UnknownMessageType",
            "evalue": format!("expman does not handle `{msg_type}`"),
            "traceback": [],
        });
        vec![message(&reply_type(msg_type), content, request)]
    }

    async fn execute(self: &Arc<Self>, request: &JupyterMessage, code: String, silent: bool, store: bool) -> Value {
        let store = store && !silent;
        let count = {
            let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
            if store { history.record(&code) } else { history.count() }
        };
        if !silent {
            self.publish("execute_input", json!({"code": code, "execution_count": count}), request);
        }
        let cell = Cell::new(self.iopub.clone(), request.clone(), count, silent);
        let pages = cell.clone();
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(cell.interrupt_flag());
        let outcome = if crate::dispatch::segments(&code).is_empty() {
            // Blank lines and comments only: nothing to run, so no thread to
            // wake and wait for (two thread switches, most of such a cell's
            // round trip).
            Ok(Ok(Ok(())))
        } else {
            let interpreter = self.interpreter.clone();
            let worker_cell = cell.clone();
            tokio::task::spawn_blocking(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    crate::dispatch::run_cell(interpreter.as_ref(), &code, &worker_cell)
                }))
            })
            .await
        };
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let error = match outcome {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(e))) => Some(e),
            Ok(Err(panic)) => {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                tracing::error!("a cell panicked: {text}");
                Some(crate::interpreter::CellError::new(
                    "InternalError",
                    format!("expman failed while running this cell ({text}); the kernel goes on"),
                ))
            }
            Err(e) => Some(crate::interpreter::CellError::new("InternalError", format!("the cell's thread: {e}"))),
        };
        match error {
            None => json!({
                "status": "ok",
                "execution_count": count,
                "payload": pages.take_payload(),
                "user_expressions": {},
            }),
            Some(e) => {
                if !silent {
                    self.publish(
                        "error",
                        json!({"ename": e.ename, "evalue": e.evalue, "traceback": e.shown()}),
                        request,
                    );
                }
                json!({
                    "status": "error",
                    "execution_count": count,
                    "ename": e.ename,
                    "evalue": e.evalue,
                    "traceback": e.shown(),
                    "payload": [],
                    "user_expressions": {},
                })
            }
        }
    }

    fn complete(&self, code: &str, cursor: usize) -> Value {
        let byte = offsets::byte_of_char(code, cursor);
        let found = self.interpreter.complete(code, byte);
        json!({
            "status": "ok",
            "matches": found.matches,
            "cursor_start": offsets::char_of_byte(code, found.start),
            "cursor_end": offsets::char_of_byte(code, found.end),
            "metadata": {},
        })
    }

    fn inspect(&self, code: &str, cursor: usize) -> Value {
        let byte = offsets::byte_of_char(code, cursor);
        match self.interpreter.inspect(code, byte) {
            Some(found) => {
                let mut data = serde_json::Map::new();
                data.insert("text/plain".into(), found.plain.into());
                if let Some(md) = found.markdown {
                    data.insert("text/markdown".into(), md.into());
                }
                json!({"status": "ok", "found": true, "data": data, "metadata": {}})
            }
            None => json!({"status": "ok", "found": false, "data": {}, "metadata": {}}),
        }
    }

    fn is_complete(&self, code: &str) -> Value {
        match self.interpreter.is_complete(code) {
            Completeness::Complete => json!({"status": "complete"}),
            Completeness::Incomplete { indent } => json!({"status": "incomplete", "indent": indent}),
            Completeness::Invalid => json!({"status": "invalid"}),
            Completeness::Unknown => json!({"status": "unknown"}),
        }
    }
}
