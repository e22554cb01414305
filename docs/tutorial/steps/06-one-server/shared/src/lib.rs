// ANCHOR: whole
// ANCHOR: uses
//! The messages of the cursor app, shared by the server and (from step 3)
//! the page: both sides compile the same types, so they cannot disagree on
//! a field's name or type.

use serde::{Deserialize, Serialize};
// ANCHOR_END: uses

// ANCHOR: position
/// What a page sends: where its pointer is, as fractions of the window
/// (0.0 is the left or top edge, 1.0 the right or bottom), so that windows
/// of different sizes agree on where a cursor is.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}
// ANCHOR_END: position

// ANCHOR: server-message
/// What the server sends. `type` names the kind of message, so that more
/// kinds can be added later without breaking old readers.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// User `id` moved their pointer to `x`, `y`; draw them in `color`.
    Moved {
        id: u64,
        color: String,
        x: f64,
        y: f64,
    },
    /// User `id` closed their page: remove their cursor.
    Left { id: u64 },
}
// ANCHOR_END: server-message

// ANCHOR: tests
#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: wire-test
    #[test]
    fn messages_look_like_this_on_the_wire() {
        let moved = ServerMessage::Moved {
            id: 7,
            color: "hsl(319, 70%, 45%)".into(),
            x: 0.25,
            y: 0.5,
        };
        assert_eq!(
            serde_json::to_string(&moved).unwrap(),
            r#"{"type":"moved","id":7,"color":"hsl(319, 70%, 45%)","x":0.25,"y":0.5}"#
        );
        assert_eq!(
            serde_json::to_string(&ServerMessage::Left { id: 7 }).unwrap(),
            r#"{"type":"left","id":7}"#
        );
        let position: Position = serde_json::from_str(r#"{"x":0.1,"y":0.9}"#).unwrap();
        assert_eq!(position, Position { x: 0.1, y: 0.9 });
    }
    // ANCHOR_END: wire-test
}
// ANCHOR_END: tests
// ANCHOR_END: whole
