// ANCHOR: whole
// ANCHOR: uses
//! Step 6: the page of step 5, now reaching the server wherever it was
//! loaded from: through `trunk serve`'s proxy while developing, or from the
//! server itself once built.

use std::collections::HashMap;

use leptos::ev;
use leptos::prelude::*;
use shared::{Position, ServerMessage};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{MessageEvent, WebSocket};
// ANCHOR_END: uses

// ANCHOR: address
/// The socket lives beside the page: `/ws` on the host the page came from
/// (`wss:` when the page came over `https:`).
fn server_address() -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    // A page's own location always has a host (`127.0.0.1:8080` under
    // `trunk serve`); there is no sensible guess if it had none.
    let host = location.host().expect("the page's location has a host");
    format!("{scheme}://{host}/ws")
}
// ANCHOR_END: address

// ANCHOR: peers
/// Another user's cursor, as the server last told us.
#[derive(Clone, Debug, PartialEq)]
struct Peer {
    color: String,
    x: f64,
    y: f64,
}

/// Everyone else on the page, by user id.
type Peers = RwSignal<HashMap<u64, Peer>>;
// ANCHOR_END: peers

// ANCHOR: main
fn main() {
    // Panics show in the browser console instead of "unreachable executed".
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
// ANCHOR_END: main

// ANCHOR: app
#[component]
fn App() -> impl IntoView {
    let status = RwSignal::new("connecting…");
    let peers: Peers = RwSignal::new(HashMap::new());
    let socket = connect(status, peers);

    let listener = window_event_listener(ev::pointermove, move |event| {
        let position = fraction_of_window(event.client_x(), event.client_y());
        if socket.ready_state() == WebSocket::OPEN {
            let json = serde_json::to_string(&position).expect("a position always serializes");
            let _ = socket.send_with_str(&json);
        }
    });
    on_cleanup(move || listener.remove());

    view! {
        <h1>"Step 6: one server"</h1>
        <p>"Socket: " <span id="status">{move || status.get()}</span></p>
        <p>{move || format!("Others here: {}", peers.with(HashMap::len))}</p>
        // One <Cursor> per id: `For` adds and removes them as ids come and
        // go, and each one follows its own entry of the map.
        <For
            each=move || peers.with(|peers| peers.keys().copied().collect::<Vec<_>>())
            key=|id| *id
            children=move |id| view! { <Cursor id peers/> }
        />
    }
}
// ANCHOR_END: app

// ANCHOR: cursor
#[component]
fn Cursor(id: u64, peers: Peers) -> impl IntoView {
    let style = move || {
        peers.with(|peers| {
            peers.get(&id).map(|peer| {
                format!(
                    "left: {}%; top: {}%; color: {};",
                    peer.x * 100.0,
                    peer.y * 100.0,
                    peer.color
                )
            })
        })
    };
    view! {
        <div class="cursor" data-peer=id.to_string() style=style>
            <svg viewBox="0 0 16 16" width="20" height="20">
                <path d="M1 1 L1 14 L5 10.5 L8 15.5 L10.5 14.5 L7.5 9.5 L13 9.5 Z"
                      fill="currentColor" stroke="white"/>
            </svg>
            <span>{format!("#{id}")}</span>
        </div>
    }
}
// ANCHOR_END: cursor

// ANCHOR: connect
/// Opens the socket, keeps `status` up to date with it, and applies what
/// the server sends to `peers`.
fn connect(status: RwSignal<&'static str>, peers: Peers) -> WebSocket {
    let socket = WebSocket::new(&server_address()).expect("the address is a valid ws:// URL");
    let on_open = Closure::<dyn FnMut()>::new(move || status.set("connected"));
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let on_close = Closure::<dyn FnMut()>::new(move || status.set("closed (reload to retry)"));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        // Our server sends only text; anything else is not for us.
        let Some(text) = event.data().as_string() else {
            return;
        };
        match serde_json::from_str::<ServerMessage>(&text) {
            Ok(message) => apply(peers, message),
            Err(error) => leptos::logging::warn!("not a server message ({error}): {text}"),
        }
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    socket
}
// ANCHOR_END: connect

// ANCHOR: apply
/// What a message from the server changes on the page.
fn apply(peers: Peers, message: ServerMessage) {
    match message {
        ServerMessage::Moved { id, color, x, y } => {
            peers.update(|peers| {
                peers.insert(id, Peer { color, x, y });
            });
        }
        ServerMessage::Left { id } => {
            peers.update(|peers| {
                peers.remove(&id);
            });
        }
    }
}
// ANCHOR_END: apply

// ANCHOR: fraction
/// The pointer's place as fractions of the window, what the server relays.
fn fraction_of_window(client_x: i32, client_y: i32) -> Position {
    let size = |dimension: Result<wasm_bindgen::JsValue, _>| {
        dimension
            .ok()
            .and_then(|value| value.as_f64())
            .unwrap_or(1.0)
    };
    let window = window();
    Position {
        x: f64::from(client_x) / size(window.inner_width()),
        y: f64::from(client_y) / size(window.inner_height()),
    }
}
// ANCHOR_END: fraction
// ANCHOR_END: whole
