//! Server-sent events: `live` (the runs going on, as `/api/live` answers)
//! and `record` (`{"version": n}` whenever the record changed).
//!
//! One poller per server reads the record once a second and publishes on
//! two watch channels; every open page subscribes, so ten pages cost what
//! one does. The live runs are read only while some page listens.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::watch;

use crate::Record;
use crate::routes::AppState;

/// How often the poller reads the record.
const PERIOD: Duration = Duration::from_millis(1000);

/// The latest live runs (JSON text; empty until read) and record version.
#[derive(Clone)]
pub struct Pulse {
    live: watch::Receiver<Arc<str>>,
    version: watch::Receiver<u64>,
}

impl Pulse {
    /// Starts the poller on the current runtime.
    pub fn start(record: Arc<dyn Record>) -> Pulse {
        let (live_tx, live) = watch::channel(Arc::<str>::from(""));
        let (version_tx, version) = watch::channel(0u64);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(PERIOD);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // The poller's own receivers count once each.
                let listening = live_tx.receiver_count() > 1;
                let record = record.clone();
                let read = tokio::task::spawn_blocking(move || {
                    let version = record.version();
                    let live = listening.then(|| record.live());
                    (version, live)
                })
                .await;
                let Ok((version, live)) = read else { continue };
                version_tx.send_if_modified(|v| std::mem::replace(v, version) != version);
                match live {
                    Some(Ok(value)) => {
                        let text: Arc<str> = Arc::from(value.to_string());
                        live_tx.send_if_modified(|v| {
                            let changed = **v != *text;
                            if changed {
                                *v = text;
                            }
                            changed
                        });
                    }
                    Some(Err(error)) => tracing::warn!("reading the live runs: {}", error.message),
                    None => {}
                }
                if live_tx.is_closed() && version_tx.is_closed() {
                    break;
                }
            }
        });
        Pulse { live, version }
    }
}

/// `GET /api/events`.
pub async fn stream(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (mut live, mut version) = (state.pulse.live.clone(), state.pulse.version.clone());
    live.mark_changed();
    version.mark_changed();
    let events = futures_util::stream::unfold((live, version), |(mut live, mut version)| async move {
        loop {
            tokio::select! {
                changed = live.changed() => {
                    changed.ok()?;
                    let text = live.borrow_and_update().clone();
                    if !text.is_empty() {
                        return Some((Ok(Event::default().event("live").data(&*text)), (live, version)));
                    }
                }
                changed = version.changed() => {
                    changed.ok()?;
                    let v = *version.borrow_and_update();
                    let data = format!("{{\"version\":{v}}}");
                    return Some((Ok(Event::default().event("record").data(data)), (live, version)));
                }
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
