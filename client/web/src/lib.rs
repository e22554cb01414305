//! What the page and the embed both need from the browser, and nothing
//! that draws: [`socket`] wraps the WebSocket so the rest deals in protocol
//! messages, and [`now_ms`] is the precise clock both time their work with.
//!
//! The rules are in `cursors-client-core`; this crate is the thin layer of
//! browser calls under them that would otherwise be written twice.

pub mod socket;

/// A precise clock for measuring the page's own work (milliseconds since
/// the page opened; `Date.now()` where `performance` is missing).
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or_else(js_sys::Date::now, |performance| performance.now())
}
