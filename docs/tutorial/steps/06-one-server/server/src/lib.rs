// ANCHOR: whole
// ANCHOR: uses
//! Step 6: the relay of step 5 (every position goes to every other page;
//! a page that goes is announced as `left`), and the built page served
//! from the same address, so one server is the whole app.
//! One `tokio::sync::broadcast` channel carries every message to every
//! connection; each connection skips its own.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use shared::{Position, ServerMessage};
use tokio::sync::broadcast;
use tower_http::services::ServeDir;
// ANCHOR_END: uses

// ANCHOR: relay
/// What every connection shares: the channel, and the next id to hand out.
/// Cloning a `Relay` clones two handles, not the channel.
#[derive(Clone)]
pub struct Relay {
    events: broadcast::Sender<Event>,
    next_id: Arc<AtomicU64>,
}

/// One message on its way to every connection: who it is from (so that
/// they can skip it), and its JSON, encoded once for all of them.
#[derive(Clone)]
struct Event {
    from: u64,
    json: Utf8Bytes,
}

impl Relay {
    pub fn new() -> Self {
        // How many events a slow connection may fall behind before it
        // starts missing the oldest ones (see `Lagged` below).
        let (events, _) = broadcast::channel(64);
        Self {
            events,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// How many connections are open (each holds one receiver).
    pub fn connected(&self) -> usize {
        self.events.receiver_count()
    }

    fn send(&self, from: u64, message: &ServerMessage) {
        let json = serde_json::to_string(message).expect("our messages always serialize");
        // An error only means nobody is listening, which is fine.
        let _ = self.events.send(Event {
            from,
            json: json.into(),
        });
    }
}

impl Default for Relay {
    fn default() -> Self {
        Self::new()
    }
}
// ANCHOR_END: relay

// ANCHOR: app
/// The socket at `/ws`; any other path is a file of `page_dir`, the page
/// that `trunk build` made (`/` is its `index.html`).
pub fn app(relay: Relay, page_dir: &Path) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .fallback_service(ServeDir::new(page_dir))
        .with_state(relay)
}
// ANCHOR_END: app

// ANCHOR: upgrade
async fn upgrade(request: WebSocketUpgrade, State(relay): State<Relay>) -> Response {
    let id = relay.next_id.fetch_add(1, Ordering::Relaxed);
    // Subscribe before the handshake answers: from the moment the page is
    // connected, it receives everything sent after.
    let events = relay.events.subscribe();
    request.on_upgrade(move |socket| connection(socket, relay, id, events))
}
// ANCHOR_END: upgrade

// ANCHOR: colour
/// A colour per id, spread around the colour wheel by the golden angle so
/// that neighbouring ids look different.
fn colour_of(id: u64) -> String {
    format!("hsl({}, 70%, 45%)", id * 137 % 360)
}
// ANCHOR_END: colour

// ANCHOR: connection
async fn connection(
    mut socket: WebSocket,
    relay: Relay,
    id: u64,
    mut events: broadcast::Receiver<Event>,
) {
    let color = colour_of(id);
    tracing::info!(id, connected = relay.connected(), "joined");
    loop {
        // Wait for whichever comes first: a message from this page, or an
        // event for it from another connection.
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<Position>(&text) {
                    Ok(Position { x, y }) => {
                        let moved = ServerMessage::Moved { id, color: color.clone(), x, y };
                        relay.send(id, &moved);
                    }
                    Err(error) => tracing::warn!(id, %error, "not a position: {}", text.as_str()),
                },
                // Pings and binary messages: nothing to relay.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            event = events.recv() => match event {
                Ok(event) if event.from == id => {} // our own: the page knows where it is
                Ok(event) => {
                    if socket.send(Message::Text(event.json)).await.is_err() {
                        break;
                    }
                }
                // This page fell more than 64 events behind: the oldest are
                // gone. For cursors that is fine, newer positions follow.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(id, missed, "slow reader skipped events");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    // ANCHOR: leave
    // However the loop ended (a close, a broken connection, a failed send),
    // the others hear of it, and their pages remove this cursor.
    relay.send(id, &ServerMessage::Left { id });
    // ANCHOR_END: leave
    tracing::info!(id, "left");
}
// ANCHOR_END: connection
// ANCHOR_END: whole
