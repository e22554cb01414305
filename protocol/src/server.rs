//! Messages the server sends to clients.

use serde::{Deserialize, Serialize};

use crate::{Anchor, Point};

// ANCHOR: server-message
/// A message from the server. Clients ignore types they do not know, which
/// is what lets the protocol grow by addition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// First frame after the upgrade: who you are and who else is here.
    Welcome {
        id: String,
        name: String,
        color: String,
        /// Your name is the `name` claim of your room token (addition):
        /// shown as verified, and a `hello` cannot change it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        verified: bool,
        peers: Vec<PeerSnapshot>,
        /// Reconnecting with `/ws?room=…&resume=TOKEN` within the grace
        /// period gives back this identity (see docs/PROTOCOL.md).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        /// When this socket ends (Unix seconds): its room token's `exp`, on
        /// a server with `--token-key` only. A `refresh` moves it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<u64>,
    },
    /// Someone entered the room.
    Joined { peer: PeerInfo },
    /// Someone changed their display name.
    Renamed { id: String, name: String },
    /// Latest positions of the users that moved; possibly several users and
    /// possibly the receiver itself (clients skip their own id).
    Cursors { moves: Vec<CursorPosition> },
    /// That user's pointer left the board.
    Hidden { id: String },
    /// That user disconnected.
    Left { id: String },
    /// Answer to a client's `ping`.
    Pong { id: u64 },
    /// A `refresh` was accepted: the socket now ends at `expires` (Unix
    /// seconds).
    Refreshed { expires: u64 },
    /// Someone's cursor-chat text changed (empty: cleared).
    Said { id: String, text: String },
    /// Someone went away (tab hidden, window unfocused) or came back.
    Presence { id: String, away: bool },
    /// The last message was refused; the connection stays open unless a close
    /// frame follows.
    Error { code: ErrorCode, message: String },
    /// Only in a crowd: how many are in the room (the receiver included),
    /// and how many cursors are in each cell of the board's 8 × 8 grid, row
    /// by row from the top left. `active: false` (with an empty `heat`)
    /// says the room is no crowd any more.
    Crowd {
        active: bool,
        total: u64,
        heat: Vec<u32>,
    },
    /// Only in a crowd: these people came into the receiver's view (with
    /// their snapshot) or went out of it. Out of view is not `left`.
    View {
        enter: Vec<PeerSnapshot>,
        exit: Vec<String>,
    },
    // ANCHOR: server-social
    /// Someone reacted (one of the fixed set); rises from their cursor.
    Reacted { id: String, emoji: String },
    /// Someone says "look here" at `(x, y)`.
    Pointed { id: String, x: f64, y: f64 },
    /// Someone's laser went on or off: while on, draw a fading trail from
    /// their `cursors` positions.
    Laser { id: String, on: bool },
    /// Someone asks for everyone's attention, or stopped (also sent for them
    /// when their connection ends).
    Spotlight { id: String, on: bool },
    // ANCHOR_END: server-social
}
// ANCHOR_END: server-message

impl ServerMessage {
    /// The JSON text of this message, as it goes on the wire.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialise")
    }

    /// The id of the one person this message is about, for the messages a
    /// room sends about one person (who joined, renamed, hid, spoke…). In a
    /// crowd such a message goes only to those who can see that person.
    pub fn subject(&self) -> Option<&str> {
        match self {
            ServerMessage::Joined { peer } => Some(&peer.id),
            ServerMessage::Renamed { id, .. }
            | ServerMessage::Hidden { id }
            | ServerMessage::Left { id }
            | ServerMessage::Said { id, .. }
            | ServerMessage::Presence { id, .. }
            | ServerMessage::Reacted { id, .. }
            | ServerMessage::Pointed { id, .. }
            | ServerMessage::Laser { id, .. }
            | ServerMessage::Spotlight { id, .. } => Some(id),
            ServerMessage::Welcome { .. }
            | ServerMessage::Cursors { .. }
            | ServerMessage::Pong { .. }
            | ServerMessage::Refreshed { .. }
            | ServerMessage::Error { .. }
            | ServerMessage::Crowd { .. }
            | ServerMessage::View { .. } => None,
        }
    }

    // ANCHOR: parse
    /// Parses a frame received from a server (used by clients and tools,
    /// and by a server reading what others of its group publish).
    ///
    /// A `cursors` frame, the one that comes dozens of times a second with
    /// hundreds of positions, is read the quick way first (see `quick.rs`);
    /// anything else goes through the enum, which also gives the error.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        if let Some(moves) = crate::quick::cursors(text) {
            return Ok(ServerMessage::Cursors { moves });
        }
        serde_json::from_str(text)
    }
    // ANCHOR_END: parse
}

/// Identity of a user as announced in `joined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub id: String,
    pub name: String,
    pub color: String,
    /// Their name comes from their room token (addition; present only when
    /// true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified: bool,
}

/// A user as listed in `welcome`: identity plus the cursor position, which
/// is absent while that user's cursor is hidden.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerSnapshot {
    pub id: String,
    pub name: String,
    pub color: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    /// Present (and true) only while that user is away.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub away: bool,
    /// Present (and true) only when their name comes from their room token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified: bool,
    /// The content under the cursor, if its page said (the embed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<Anchor>,
}

impl PeerSnapshot {
    pub fn new(info: PeerInfo, position: Option<Point>) -> Self {
        Self {
            id: info.id,
            name: info.name,
            color: info.color,
            x: position.map(|point| point.x),
            y: position.map(|point| point.y),
            away: false,
            verified: info.verified,
            anchor: None,
        }
    }

    /// The cursor position, if both coordinates are present.
    pub fn position(&self) -> Option<Point> {
        Some(Point {
            x: self.x?,
            y: self.y?,
        })
    }
}

/// One user's latest position inside a `cursors` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorPosition {
    pub id: String,
    pub x: f64,
    pub y: f64,
    /// The content under the cursor, if its page said (the embed); absent
    /// from binary frames, whose readers place the cursor by `x`, `y`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<Anchor>,
}

impl CursorPosition {
    pub fn point(&self) -> Point {
        Point {
            x: self.x,
            y: self.y,
        }
    }
}

/// The `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The message was malformed or invalid; nothing was relayed.
    BadMessage,
}
