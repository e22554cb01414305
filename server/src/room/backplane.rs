//! The seam between a room and the other servers that share it.
//!
//! A room's rules (`state.rs`) produce events; the room task delivers them
//! to the members connected *here*, and hands every event the other servers
//! must hear of ([`Event::is_shared`]) to the backplane. Today there is one
//! kind: [`Backplane::Alone`], a server that shares its rooms with nobody,
//! so publishing is a no-op and the room's state is the whole truth.
//!
//! Sharing rooms across servers (through Redis pub/sub) is one more variant
//! here and its own module: it publishes the shared events of each room to
//! that room's channel, and feeds what the other servers publish back into
//! the room as inputs. The rules do not change; only what the task routes
//! through this type does. An enum rather than a trait object: there are
//! few kinds, each match is checked for every one of them, and the room
//! task stays free of dynamic dispatch on its hot path.

use cursors_protocol::RoomName;

use super::state::Event;

// ANCHOR: backplane
/// How this server's rooms reach the other servers that share them.
#[derive(Debug, Clone, Default)]
pub enum Backplane {
    /// This server runs alone: its rooms are only its own.
    #[default]
    Alone,
}

impl Backplane {
    /// The link of one room to the other servers.
    pub fn link(&self, room: &RoomName) -> RoomLink {
        match self {
            Backplane::Alone => {
                let _ = room;
                RoomLink::Alone
            }
        }
    }
}

/// One room's side of the backplane, owned by the room task.
#[derive(Debug)]
pub enum RoomLink {
    Alone,
}

impl RoomLink {
    /// Shares an event of this room with the other servers (only called for
    /// events that are [`Event::is_shared`]).
    pub fn publish(&mut self, event: &Event) {
        match self {
            RoomLink::Alone => {
                let _ = event;
            }
        }
    }
}
// ANCHOR_END: backplane
