//! Messages a client sends to the server, and the one function that turns a
//! received text frame into a *valid* message or a reason for refusing it.

use serde::{Deserialize, Serialize};

use crate::names::{NameError, normalize_name};
use crate::social::is_reaction;
use crate::{ErrorCode, Point, REACTIONS};

// ANCHOR: client-message
/// A message from a client, after [`ClientMessage::parse`] has validated it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientMessage {
    /// Sets or changes the sender's display name.
    Hello { name: String },
    /// The sender's pointer is at `(x, y)` on the board (for the embed: of
    /// the host page's document), over `anchor` if it says so.
    Move {
        x: f64,
        y: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        anchor: Option<Anchor>,
    },
    /// The sender's pointer left the board: hide the cursor, keep the user.
    Leave,
    /// Asks for a `pong` carrying the same id, to measure round-trip time.
    Ping { id: u64 },
    /// Cursor chat: what the sender is typing, shown beside their cursor.
    /// Empty text clears it.
    Say { text: String },
    /// The sender's page is hidden or unfocused (`away: true`) or back.
    Presence { away: bool },
    /// Keep this person visible to the sender, even in a crowd (`None`:
    /// follow nobody).
    Follow {
        #[serde(default)]
        id: Option<String>,
    },
    /// A new signed room token before the one the socket was opened with
    /// runs out (only on a server with `--token-key`): the socket lasts
    /// until the new one's `exp`.
    Refresh { token: String },
    // ANCHOR: client-social
    /// An emoji reaction from the sender's cursor: one of [`REACTIONS`].
    React { emoji: String },
    /// "Look here": a ring at `(x, y)` on everyone's board.
    Point { x: f64, y: f64 },
    /// The sender's laser is on (their cursor leaves a fading trail) or off.
    Laser { on: bool },
    /// The sender asks for everyone's attention (`on: true`), or stops.
    Spotlight { on: bool },
    // ANCHOR_END: client-social
}
// ANCHOR_END: client-message

// ANCHOR: anchor
/// Where a cursor is by the content under it, on a page that is not laid
/// out the same in every window (the embed): the element whose
/// `data-cursor-anchor`, or else `id`, is `id`, and the spot within its box
/// as fractions in `[0, 1]` from its top left corner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    pub id: String,
    pub x: f64,
    pub y: f64,
}

impl Anchor {
    /// An anchor's `id`: 1 to [`MAX_ID_CHARS`] characters, no control
    /// characters.
    pub fn is_valid_id(id: &str) -> bool {
        !id.is_empty() && id.chars().count() <= MAX_ID_CHARS && !id.chars().any(char::is_control)
    }

    pub fn is_valid(&self) -> bool {
        Self::is_valid_id(&self.id)
            && Point {
                x: self.x,
                y: self.y,
            }
            .is_on_board()
    }
}
// ANCHOR_END: anchor

/// Longest cursor-chat text, in characters.
pub const MAX_SAY_CHARS: usize = 64;

/// Longest user id a client may name (in `follow`), in characters. Ids the
/// server hands out are much shorter; the bound only keeps junk small.
pub const MAX_ID_CHARS: usize = 64;

/// Why a text frame was refused. Every variant is answered with an `error`
/// frame of code `bad_message`; the connection stays open.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// Not JSON, not an object, unknown `type`, missing or wrong-typed field.
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("coordinates must be finite numbers within [0, 1]")]
    CoordinateOutOfRange,
    #[error("bad name: {0}")]
    BadName(#[from] NameError),
    #[error("chat text must be at most {MAX_SAY_CHARS} characters without control characters")]
    BadSay,
    #[error("an id must be 1 to {MAX_ID_CHARS} characters without control characters")]
    BadId,
    #[error("an anchor needs an id of 1 to {MAX_ID_CHARS} characters and a spot within [0, 1]")]
    BadAnchor,
    #[error("not one of the reactions {REACTIONS:?}")]
    UnknownReaction,
}

impl ProtocolError {
    /// The `code` of the `error` frame that answers this refusal.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::BadMessage
    }
}

impl ClientMessage {
    // ANCHOR: parse
    /// Parses and validates one text frame.
    ///
    /// serde checks the shape (type tag, fields, their types); this adds the
    /// rules serde cannot express: coordinates within the board and a
    /// well-formed display name (returned trimmed). A `move`, most of what
    /// a client sends, is read the quick way first (see `quick.rs`).
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let message = match crate::quick::move_point(text) {
            Some(Point { x, y }) => ClientMessage::Move { x, y, anchor: None },
            None => serde_json::from_str(text)
                .map_err(|error| ProtocolError::Malformed(error.to_string()))?,
        };
        match message {
            ClientMessage::Move { x, y, .. } | ClientMessage::Point { x, y }
                if !Point { x, y }.is_on_board() =>
            {
                Err(ProtocolError::CoordinateOutOfRange)
            }
            ClientMessage::Move {
                anchor: Some(anchor),
                ..
            } if !anchor.is_valid() => Err(ProtocolError::BadAnchor),
            // ANCHOR: parse-react
            ClientMessage::React { emoji } if !is_reaction(&emoji) => {
                Err(ProtocolError::UnknownReaction)
            }
            // ANCHOR_END: parse-react
            ClientMessage::Hello { name } => Ok(ClientMessage::Hello {
                name: normalize_name(&name)?,
            }),
            ClientMessage::Say { text }
                if text.chars().count() > MAX_SAY_CHARS || text.chars().any(char::is_control) =>
            {
                Err(ProtocolError::BadSay)
            }
            ClientMessage::Follow { id: Some(id) }
                if id.is_empty()
                    || id.chars().count() > MAX_ID_CHARS
                    || id.chars().any(char::is_control) =>
            {
                Err(ProtocolError::BadId)
            }
            valid => Ok(valid),
        }
    }
    // ANCHOR_END: parse

    /// The JSON text of this message, as a client sends it.
    pub fn to_json(&self) -> String {
        // Serialising these plain enums cannot fail: no maps with non-string
        // keys, no custom serializers.
        serde_json::to_string(self).expect("client messages always serialise")
    }
}
