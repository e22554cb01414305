//! The quick way to read the two frames that come most often, a client's
//! `move` and a server's `cursors` batch: as plain structs, without the
//! generic tree that serde's internally tagged enums build for every
//! message before they know its variant (a `String` for every key and id).
//!
//! A quick read accepts only an object whose `type` is the string naming
//! the frame and whose fields are exactly the frame's. Anything else (an
//! array, another type, a field added by a later protocol, a malformed
//! frame) gives `None` and goes the general way, through the enum, which
//! also gives the error. The one difference left: a field unknown to a
//! *position* inside a batch is skipped unread, where the general way
//! reads it into its tree first (so a lone surrogate escape there is
//! refused only by the general way).
//!
//! Public, hidden from the docs, only so that the fuzz targets (`fuzz/`)
//! can hold both ways to that promise; callers go through
//! `ClientMessage::parse` and `ServerMessage::parse`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::{CursorPosition, Point};

// ANCHOR: quick
/// The positions of a `cursors` frame, if `text` is one read the quick way.
pub fn cursors(text: &str) -> Option<Vec<CursorPosition>> {
    let frame: CursorsFrame = read_object(text)?;
    Some(frame.moves)
}

/// The point of a `move` frame, if `text` is one read the quick way.
pub fn move_point(text: &str) -> Option<Point> {
    let MoveFrame { x, y, .. } = read_object(text)?;
    Some(Point { x, y })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorsFrame {
    #[serde(rename = "type", deserialize_with = "type_is_cursors")]
    _type: (),
    moves: Vec<CursorPosition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveFrame {
    #[serde(rename = "type", deserialize_with = "type_is_move")]
    _type: (),
    x: f64,
    y: f64,
}

/// serde's derive also reads a struct from an array of its fields; the
/// enums do not, so neither does the quick way.
fn read_object<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(text).ok()
}
// ANCHOR_END: quick

fn type_is_cursors<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    deserializer.deserialize_str(TypeNamed("cursors"))
}

fn type_is_move<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    deserializer.deserialize_str(TypeNamed("move"))
}

/// Accepts the one string that names the frame, as the enums read a tag:
/// a JSON string (escapes decoded), compared exactly.
struct TypeNamed(&'static str);

impl Visitor<'_> for TypeNamed {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "the string \"{}\"", self.0)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        if value == self.0 {
            Ok(())
        } else {
            Err(E::invalid_value(de::Unexpected::Str(value), &self))
        }
    }
}
