//! The wire protocol, as Rust types.
//!
//! Every frame between a browser, the server and any other client is one JSON
//! object with a `"type"` field. This crate owns those shapes so that the
//! server, the Leptos client and the test and load tools all agree on them
//! without anyone assembling JSON by hand. It also owns the *validation* rules
//! of PROTOCOL.md (coordinate range, display names, room names), because a rule
//! that lives in one place cannot drift between the two ends.
//!
//! The human-readable description of the protocol lives in `docs/PROTOCOL.md`;
//! the tests in `tests/wire.rs` check these types against its examples.

pub mod binary;
mod client;
mod light;
mod names;
#[doc(hidden)]
pub mod quick;
mod server;
mod social;

pub use client::{Anchor, ClientMessage, MAX_ID_CHARS, MAX_SAY_CHARS, ProtocolError};
pub use names::{
    DEFAULT_ROOM, MAX_NAME_CHARS, MAX_ROOM_CHARS, NameError, RoomError, RoomName, normalize_name,
};
pub use server::{CursorPosition, ErrorCode, PeerInfo, PeerSnapshot, ServerMessage};
pub use social::{POINTS_PER_SECOND, REACTIONS, REACTIONS_PER_SECOND, is_reaction};

// ANCHOR: point
/// Position of a pointer on the shared board, normalised to `[0, 1]` on both
/// axes so that it lands on the same spot of the board in windows of any size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    /// A point is valid when both coordinates are finite and within `[0, 1]`.
    /// (`NaN` fails every comparison, so `contains` rejects it too.)
    pub fn is_on_board(self) -> bool {
        (0.0..=1.0).contains(&self.x) && (0.0..=1.0).contains(&self.y)
    }
}
// ANCHOR_END: point
