//! Rooms: who is in them, where their cursors are, and the fan-out of every
//! change to the other members. One file per concern:
//!
//! - [`state`]: the rules, as a pure state machine (`apply(input, now) ->
//!   events`), unit-tested without a network or a clock;
//! - [`flush`]: when a room sends its next `cursors` frame (the frame
//!   budget, the leading edge, the tick);
//! - [`task`]: the room's one task, which owns the state and only moves
//!   messages: commands in, events out to mailboxes and the backplane;
//! - [`hub`]: rooms by name, joining one, a connection's [`Membership`],
//!   and the count of occupied rooms that share the frame budget;
//! - [`encode`]: events and position batches as frames, serialised once;
//! - [`backplane`]: the seam to other servers sharing a room: none, or a
//!   group sharing one Redis ([`redis`]).
//!
//! In the default coalesced fan-out, moves mark their member *dirty* and a
//! flush sends one `cursors` frame with the latest position of every dirty
//! member, shared by every mailbox. The immediate fan-out (`--fanout
//! immediate`) is the handbook's relay, kept as the benchmark's baseline:
//! each move becomes a one-move frame for every other member at once.

pub mod backplane;
pub mod encode;
pub mod flush;
pub mod hub;
pub mod redis;
pub mod state;
pub mod task;

pub use backplane::Backplane;
pub use encode::Encoding;
pub use hub::{JoinError, Membership, RoomGone, RoomHub, RoomSettings};
pub use redis::RedisBackplane;
pub use state::{DisconnectKind, RoomRules};
