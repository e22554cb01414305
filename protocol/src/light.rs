//! Reading a server's frame in the browser, without serde's machinery for
//! tagged enums.
//!
//! `ServerMessage` is internally tagged (`{"type":"welcome",…}`). serde's
//! derive reads such an enum by first copying the whole frame into a
//! generic buffer of its own and then reading each variant back out of it,
//! which compiles into a great deal of code per variant: in the embed's
//! wasm, reading server frames that way took over a third of the file
//! (36 KB of its 107 KB gzipped). The browsers only need the frames read,
//! not a general deserializer, so [`ServerMessage::parse_light`] reads the
//! frame into a `serde_json::Value` (one small, non-generic parser) and
//! takes each field out by hand.
//!
//! The server and the tools keep [`ServerMessage::parse`], the derive's
//! reading. The two must agree: `tests/wire.rs` reads every example of
//! PROTOCOL.md and a few thousand generated frames both ways, and the
//! `server_text` fuzz target holds any frame the derive accepts to the same
//! message here. (Here is a little more lenient: a frame with a field given
//! twice keeps the last, where the derive refuses it.)

use serde_json::{Map, Value};

use crate::{Anchor, CursorPosition, ErrorCode, PeerInfo, PeerSnapshot, ServerMessage};

type Fields = Map<String, Value>;

impl ServerMessage {
    // ANCHOR: parse-light
    /// Reads a frame from the server as the browsers do: `None` for
    /// anything that is not a message this version knows (clients skip
    /// those). The same messages as [`ServerMessage::parse`], with a
    /// fraction of the code (see the module doc).
    pub fn parse_light(text: &str) -> Option<Self> {
        if let Some(moves) = crate::quick::cursors(text) {
            return Some(ServerMessage::Cursors { moves });
        }
        let Value::Object(fields) = serde_json::from_str(text).ok()? else {
            return None;
        };
        let id = || text_of(&fields, "id");
        let message = match fields.get("type")?.as_str()? {
            "welcome" => ServerMessage::Welcome {
                id: id()?,
                name: text_of(&fields, "name")?,
                color: text_of(&fields, "color")?,
                verified: flag(&fields, "verified")?,
                peers: list_of(&fields, "peers", snapshot)?,
                resume: optional(&fields, "resume", |value| Some(value.as_str()?.to_owned()))?,
                expires: optional(&fields, "expires", Value::as_u64)?,
            },
            "joined" => ServerMessage::Joined {
                peer: peer_info(fields.get("peer")?)?,
            },
            "renamed" => ServerMessage::Renamed {
                id: id()?,
                name: text_of(&fields, "name")?,
            },
            "cursors" => ServerMessage::Cursors {
                moves: list_of(&fields, "moves", position)?,
            },
            "hidden" => ServerMessage::Hidden { id: id()? },
            "left" => ServerMessage::Left { id: id()? },
            "pong" => ServerMessage::Pong {
                id: fields.get("id")?.as_u64()?,
            },
            "refreshed" => ServerMessage::Refreshed {
                expires: fields.get("expires")?.as_u64()?,
            },
            "said" => ServerMessage::Said {
                id: id()?,
                text: text_of(&fields, "text")?,
            },
            "presence" => ServerMessage::Presence {
                id: id()?,
                away: fields.get("away")?.as_bool()?,
            },
            "error" => ServerMessage::Error {
                code: match fields.get("code")?.as_str()? {
                    "bad_message" => ErrorCode::BadMessage,
                    _ => return None,
                },
                message: text_of(&fields, "message")?,
            },
            "crowd" => ServerMessage::Crowd {
                active: fields.get("active")?.as_bool()?,
                total: fields.get("total")?.as_u64()?,
                heat: list_of(&fields, "heat", |value| u32::try_from(value.as_u64()?).ok())?,
            },
            "view" => ServerMessage::View {
                enter: list_of(&fields, "enter", snapshot)?,
                exit: list_of(&fields, "exit", |value| Some(value.as_str()?.to_owned()))?,
            },
            "reacted" => ServerMessage::Reacted {
                id: id()?,
                emoji: text_of(&fields, "emoji")?,
            },
            "pointed" => ServerMessage::Pointed {
                id: id()?,
                x: fields.get("x")?.as_f64()?,
                y: fields.get("y")?.as_f64()?,
            },
            "laser" => ServerMessage::Laser {
                id: id()?,
                on: fields.get("on")?.as_bool()?,
            },
            "spotlight" => ServerMessage::Spotlight {
                id: id()?,
                on: fields.get("on")?.as_bool()?,
            },
            _ => return None,
        };
        Some(message)
    }
    // ANCHOR_END: parse-light
}

/// A required string field.
fn text_of(fields: &Fields, key: &str) -> Option<String> {
    Some(fields.get(key)?.as_str()?.to_owned())
}

/// A required array field, each element read by `read`.
fn list_of<T>(fields: &Fields, key: &str, read: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    fields.get(key)?.as_array()?.iter().map(read).collect()
}

/// An optional field as serde reads an `Option`: absent or `null` is
/// `None` (the outer `Some`); anything else must read, or the frame fails.
fn optional<T>(
    fields: &Fields,
    key: &str,
    read: impl Fn(&Value) -> Option<T>,
) -> Option<Option<T>> {
    match fields.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(value) => read(value).map(Some),
    }
}

/// A `#[serde(default)]` bool: absent is false, but `null` is no bool.
fn flag(fields: &Fields, key: &str) -> Option<bool> {
    match fields.get(key) {
        None => Some(false),
        Some(value) => value.as_bool(),
    }
}

fn object(value: &Value) -> Option<&Fields> {
    value.as_object()
}

fn peer_info(value: &Value) -> Option<PeerInfo> {
    let fields = object(value)?;
    Some(PeerInfo {
        id: text_of(fields, "id")?,
        name: text_of(fields, "name")?,
        color: text_of(fields, "color")?,
        verified: flag(fields, "verified")?,
    })
}

fn snapshot(value: &Value) -> Option<PeerSnapshot> {
    let fields = object(value)?;
    Some(PeerSnapshot {
        id: text_of(fields, "id")?,
        name: text_of(fields, "name")?,
        color: text_of(fields, "color")?,
        x: optional(fields, "x", Value::as_f64)?,
        y: optional(fields, "y", Value::as_f64)?,
        away: flag(fields, "away")?,
        verified: flag(fields, "verified")?,
        anchor: optional(fields, "anchor", anchor)?,
    })
}

fn position(value: &Value) -> Option<CursorPosition> {
    let fields = object(value)?;
    Some(CursorPosition {
        id: text_of(fields, "id")?,
        x: fields.get("x")?.as_f64()?,
        y: fields.get("y")?.as_f64()?,
        anchor: optional(fields, "anchor", anchor)?,
    })
}

fn anchor(value: &Value) -> Option<Anchor> {
    let fields = object(value)?;
    Some(Anchor {
        id: text_of(fields, "id")?,
        x: fields.get("x")?.as_f64()?,
        y: fields.get("y")?.as_f64()?,
    })
}
