//! Rooms: who is in them, where their cursors are, and the fan-out of every
//! change to the other members. One file per concern, each depending only
//! on those below it (no file imports one that imports it back):
//!
//! - [`hub`]: the top: joining a room (starting its task if needed) and a
//!   connection's [`Membership`] in it;
//! - [`task`]: the room's one task, which owns the state and only moves
//!   messages: commands in, events out to mailboxes and the backplane;
//! - [`directory`]: which rooms run, and how an empty one unlists itself;
//!   [`occupancy`]: how many have members, sharing the frame budget;
//!   [`command`]: what a connection says to a room;
//! - [`backplane`]: the seam to other servers sharing a room, and the
//!   server alone; [`redis`]: a group sharing one Redis, in its own folder;
//! - [`state`]: the rules, as a pure state machine (`apply(input, now) ->
//!   events`), unit-tested without a network or a clock; [`crowd`]: who
//!   sees whom once a room is a crowd (the grid, the selection rule, its
//!   bookkeeping), which `state/crowd.rs` drives; [`flush`]: when
//!   a room sends its next `cursors` frame (the frame budget, the leading
//!   edge, the tick); [`encode`]: events and position batches as frames,
//!   serialised once; [`timer`]: sleeping until an optional deadline.
//!
//! ```text
//! hub ─▶ task ─▶ backplane (traits) ◀── redis/ (implements them)
//!  │      ├─▶ directory ─▶ command       │
//!  │      ├─▶ occupancy, encode          │
//!  │      ├─▶ timer ◀────────────────────┤
//!  │      └─▶ state ◀────────────────────┘
//!  │            ├─▶ crowd (grid, selection)
//!  │            └─▶ flush
//!  └─▶ (starts each task with a link of its backplane)
//! ```
//!
//! In the default coalesced fan-out, moves mark their member *dirty* and a
//! flush sends one `cursors` frame with the latest position of every dirty
//! member, shared by every mailbox. The immediate fan-out (`--fanout
//! immediate`) is the handbook's relay, kept as the benchmark's baseline:
//! each move becomes a one-move frame for every other member at once.

pub mod backplane;
pub mod command;
pub mod crowd;
pub mod directory;
pub mod encode;
pub mod flush;
pub mod hub;
pub mod occupancy;
pub mod redis;
pub mod state;
pub mod task;
pub mod timer;

pub use backplane::{Alone, Backplane};
pub use encode::Encoding;
pub use hub::{Grant, JoinError, Membership, RoomGone, RoomHub};
pub use redis::RedisBackplane;
pub use state::{DisconnectKind, RoomRules};
pub use task::RoomSettings;
