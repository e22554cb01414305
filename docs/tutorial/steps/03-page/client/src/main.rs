// ANCHOR: whole
// ANCHOR: uses
//! Step 3: a Leptos page that opens the socket and sends where the pointer
//! is on every `pointermove`.

use leptos::ev;
use leptos::prelude::*;
use shared::Position;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::WebSocket;
// ANCHOR_END: uses

// ANCHOR: address
/// The port the server listens on: `PORT` when this page is built, as for
/// the server (`PORT=3100 trunk serve`), and 3000 when it is not set.
const SERVER_PORT: &str = match option_env!("PORT") {
    Some(port) => port,
    None => "3000",
};

/// Where the server is. `127.0.0.1`, not `localhost`: see the chapter.
fn server_address() -> String {
    format!("ws://127.0.0.1:{SERVER_PORT}/ws")
}
// ANCHOR_END: address

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
    let socket = connect(status);
    let me = RwSignal::new(None::<Position>);

    // The socket is moved into the handler: a `WebSocket` is not `Send`, so
    // it cannot go into a signal, but a handler on this page may own it.
    let listener = window_event_listener(ev::pointermove, move |event| {
        let position = fraction_of_window(event.client_x(), event.client_y());
        me.set(Some(position));
        if socket.ready_state() == WebSocket::OPEN {
            let json = serde_json::to_string(&position).expect("a position always serializes");
            // A send can only fail if the socket closed meanwhile: the
            // status line already says so.
            let _ = socket.send_with_str(&json);
        }
    });
    on_cleanup(move || listener.remove());

    view! {
        <h1>"Step 3: a page that sends"</h1>
        <p>"Socket: " <span id="status">{move || status.get()}</span></p>
        <p>
            {move || match me.get() {
                Some(Position { x, y }) => format!("Your pointer: x {x:.2}, y {y:.2}"),
                None => "Move your pointer over the page.".to_owned(),
            }}
        </p>
    }
}
// ANCHOR_END: app

// ANCHOR: connect
/// Opens the socket and keeps `status` up to date with it.
fn connect(status: RwSignal<&'static str>) -> WebSocket {
    let socket = WebSocket::new(&server_address()).expect("the address is a valid ws:// URL");
    // Browser callbacks are JavaScript functions: `Closure` wraps a Rust one.
    // `forget` hands it to the browser for good, as the socket lives as long
    // as the page.
    let on_open = Closure::<dyn FnMut()>::new(move || status.set("connected"));
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let on_close = Closure::<dyn FnMut()>::new(move || status.set("closed (reload to retry)"));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();
    socket
}
// ANCHOR_END: connect

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
