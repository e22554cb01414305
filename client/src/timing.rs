//! Timing the page's own work: a precise clock, and a way to run code once
//! the DOM updates a callback caused are applied, so that what is timed
//! includes the redrawing.
//!
//! The scene times its animation frames and the connection the messages it
//! handles, for the diagnostics overlay; the socket stamps when each frame
//! arrived. Each reads this module rather than one another.

/// A precise clock for measuring the page's own work (milliseconds),
/// shared with the embed.
pub use cursors_client_web::now_ms;

/// Runs `then` once the DOM updates that the current callback caused have
/// been applied. Leptos runs its effects as tasks queued when a signal is
/// written; a task spawned afterwards runs after them, so timing up to it
/// counts the redrawing too.
pub fn after_rendering(then: impl FnOnce() + 'static) {
    leptos::task::spawn_local(async move { then() });
}
