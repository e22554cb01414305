// ANCHOR: whole
// ANCHOR: uses
//! Step 1: an axum server with one WebSocket route, `/ws`, that sends every
//! message straight back to whoever sent it.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{Html, Response};
use axum::routing::get;
// ANCHOR_END: uses

// ANCHOR: app
/// The whole server: a page to open the browser console on, and the socket.
pub fn app() -> Router {
    Router::new()
        .route("/", get(page))
        .route("/ws", get(upgrade))
}

async fn page() -> Html<&'static str> {
    Html("<h1>Step 1: echo</h1><p>Open the browser console (F12) and connect to /ws.</p>")
}
// ANCHOR_END: app

// ANCHOR: upgrade
/// An HTTP request asking to become a WebSocket: say yes, then hand the
/// socket to `echo`, which runs as its own task for as long as it is open.
async fn upgrade(request: WebSocketUpgrade) -> Response {
    request.on_upgrade(echo)
}
// ANCHOR_END: upgrade

// ANCHOR: echo
async fn echo(mut socket: WebSocket) {
    // `recv` gives `None` once the socket is closed, and an error if it broke.
    while let Some(Ok(message)) = socket.recv().await {
        // Pings are answered for us, and a close is handled by the library:
        // only text and binary messages are ours to send back.
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && socket.send(message).await.is_err()
        {
            break;
        }
    }
}
// ANCHOR_END: echo
// ANCHOR_END: whole
