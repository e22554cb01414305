//! The browser's WebSocket, wrapped so the rest of the client deals in
//! protocol messages instead of JavaScript events.
//!
//! A `web_sys::WebSocket` calls back into Rust through `Closure`s that must
//! live as long as the socket; [`Socket`] owns them, and dropping it detaches
//! them and closes the connection, so no callback outlives its owner.

use std::rc::Rc;

use cursors_protocol::{ClientMessage, ServerMessage};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::now_ms;

/// What the socket reports to its owner.
#[derive(Debug)]
pub enum SocketEvent {
    Open,
    Message {
        message: ServerMessage,
        /// When the browser handed the frame over, before parsing
        /// (`performance.now()`), so its handling can be timed.
        received_at: f64,
    },
    Closed {
        code: u16,
        reason: String,
    },
}

pub struct Socket {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url` and reports every event to `on_event`.
    pub fn open(url: &str, on_event: impl Fn(SocketEvent) + 'static) -> Result<Self, String> {
        let socket =
            WebSocket::new(url).map_err(|error| format!("cannot open {url}: {error:?}"))?;
        let on_event = Rc::new(on_event);

        let report = on_event.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || report(SocketEvent::Open));

        let report = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let received_at = now_ms();
            let Some(text) = event.data().as_string() else {
                return;
            };
            // Unknown message types are skipped: the protocol grows by
            // addition, and an older page must keep working. Read the
            // light way, which keeps both clients' wasm small.
            if let Some(message) = ServerMessage::parse_light(&text) {
                report(SocketEvent::Message {
                    message,
                    received_at,
                });
            }
        });

        let report = on_event;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            report(SocketEvent::Closed {
                code: event.code(),
                reason: event.reason(),
            });
        });

        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Closes the connection on purpose (a clean close: the server keeps
    /// this user's place only briefly, long enough for a page reload).
    pub fn close(&self) {
        let _ = self.socket.close_with_code(1000);
    }

    /// Sends `message` if the socket is open; returns whether it was sent.
    pub fn send(&self, message: &ClientMessage) -> bool {
        self.socket.ready_state() == WebSocket::OPEN
            && self.socket.send_with_str(&message.to_json()).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
