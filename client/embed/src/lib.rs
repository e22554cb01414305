//! The embed: everyone's cursors over someone else's page, from one tag.
//!
//! `embed.js` (in `assets/`, a few hundred bytes of plain JavaScript)
//! finds its own `<script>` tag, asks the server whether this site may
//! embed it, loads this wasm, and calls [`start`] with what the tag says.
//! From there this crate does what our Leptos page does, with plain
//! `web-sys` so that loader and wasm stay within 100 KiB gzipped:
//!
//! - [`session`] carries out the decisions of the client's shared rules
//!   (`cursors-client-core`: the link that reconnects and resumes, the
//!   roster of who is here), over the WebSocket of `cursors-client-web`;
//! - [`pointer`] turns the pointer into a position anchored to the content
//!   under it, and an anchored position back into a spot in this window;
//! - [`overlay`] draws: one host element with an open shadow root, the
//!   cursors, and a small bar with the count, the name and the toggle.
//!
//! Imports go one way: [`session`] → [`overlay`] and [`pointer`] → the
//! core's rules.

pub mod overlay;
pub mod pointer;
pub mod session;

use std::cell::RefCell;
use std::rc::Rc;

use cursors_client_core::embedding::room_for_path;
use cursors_protocol::RoomName;
use wasm_bindgen::prelude::*;

use crate::session::{Session, Settings};

thread_local! {
    /// The one session of this page, kept alive for the page's life.
    static SESSION: RefCell<Option<Rc<Session>>> = const { RefCell::new(None) };
}

/// Starts the cursors on this page. `options` is the object `embed.js`
/// builds from its tag: `server` (the URL the script came from), `room`
/// (`data-room`, or nothing: the page's path), `token` (a room token, for a
/// server with `--token-key`) and `refresh` (a function returning a promise
/// of a new token, from `data-token-url`).
#[wasm_bindgen]
pub fn start(options: JsValue) -> Result<(), JsValue> {
    if SESSION.with(|session| session.borrow().is_some()) {
        return Ok(());
    }
    let text = |key: &str| {
        js_sys::Reflect::get(&options, &JsValue::from_str(key))
            .ok()
            .and_then(|value| value.as_string())
            .filter(|value| !value.is_empty())
    };
    let server = text("server").ok_or("cursors: no server URL")?;
    let server = web_sys::Url::new(&server)
        .map_err(|_| format!("cursors: the script's address {server:?} is not a URL"))?;
    let window = web_sys::window().ok_or("cursors: no window")?;
    let room = match text("room") {
        Some(requested) => RoomName::parse(Some(&requested)).map_err(|error| {
            format!("cursors: data-room={requested:?} is not a room name: {error}")
        })?,
        None => room_for_path(&window.location().pathname()?),
    };
    let refresh = js_sys::Reflect::get(&options, &JsValue::from_str("refresh"))
        .ok()
        .and_then(|value| value.dyn_into::<js_sys::Function>().ok());
    let settings = Settings {
        server_protocol: server.protocol(),
        server_host: server.host(),
        room,
        room_token: text("token"),
        refresh,
    };
    let session = Session::start(settings)?;
    SESSION.with(|slot| *slot.borrow_mut() = Some(session));
    Ok(())
}
