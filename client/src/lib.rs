//! The cursors client: a Leptos page (client-side rendered, built by Trunk)
//! that shows everyone's pointer on a shared board.
//!
//! The split matters for testing: the modules with pure logic
//! ([`board`], [`throttle`], [`roster`], [`address`]) know nothing of the
//! browser and have native unit tests; [`app`] holds the components and
//! [`socket`] the browser WebSocket, and both stay thin.

pub mod address;
pub mod app;
pub mod board;
pub mod roster;
pub mod socket;
pub mod throttle;
