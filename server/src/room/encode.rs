//! Turning what a room says into frames: JSON text for every message, and
//! for `cursors` batches the compact binary layout to the members that
//! negotiated it. A frame is serialised once and shared by every mailbox
//! that receives it (cloning a frame only bumps a reference count).

use std::cell::OnceCell;

use axum::extract::ws::{Message, Utf8Bytes};
use cursors_protocol::{CursorPosition, ServerMessage, binary};

/// How a member receives `cursors` frames: JSON text (the default) or the
/// compact binary layout, when it negotiated `cursors.binary.v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Binary,
}

/// The JSON text frame of a message.
pub fn text_frame(message: &ServerMessage) -> Utf8Bytes {
    Utf8Bytes::from(message.to_json())
}

// ANCHOR: encoded_batch
/// One set of positions as a `cursors` frame, serialised on first use in
/// each encoding and then shared.
#[derive(Default)]
pub struct EncodedBatch {
    json: OnceCell<Message>,
    binary: OnceCell<Message>,
}

impl EncodedBatch {
    pub fn frame(&self, encoding: Encoding, moves: &[CursorPosition]) -> Message {
        match encoding {
            Encoding::Json => self
                .json
                .get_or_init(|| {
                    Message::Text(text_frame(&ServerMessage::Cursors {
                        moves: moves.to_vec(),
                    }))
                })
                .clone(),
            Encoding::Binary => self
                .binary
                .get_or_init(|| Message::Binary(binary::encode_cursors(moves).into()))
                .clone(),
        }
    }
}
// ANCHOR_END: encoded_batch

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_encoding_is_serialised_once_and_shared() {
        let moves = [CursorPosition {
            anchor: None,
            id: "a".into(),
            x: 0.25,
            y: 0.5,
        }];
        let batch = EncodedBatch::default();
        let first = batch.frame(Encoding::Json, &moves);
        // A second call does not look at the moves again: it is the same frame.
        let second = batch.frame(Encoding::Json, &[]);
        assert_eq!(first, second);
        let Message::Text(text) = first else {
            panic!("JSON batches are text frames")
        };
        assert_eq!(
            ServerMessage::parse(text.as_str()).unwrap(),
            ServerMessage::Cursors {
                moves: moves.to_vec()
            }
        );
        let Message::Binary(bytes) = batch.frame(Encoding::Binary, &moves) else {
            panic!("binary batches are binary frames")
        };
        assert_eq!(binary::decode_cursors(&bytes).unwrap(), moves);
    }
}
