//! What a server keeps in Redis and says on a room's channel: the names of
//! the keys, a user's record, the envelope of a published message, and the
//! writes a room queues for Redis.
//!
//! Data only. Which of these a room writes, and when, is decided in
//! `replication.rs`; carrying the writes out is the writer task's job in
//! `group.rs`. Writes hold records, not their JSON, so the rules can be
//! tested by looking at what they would write, and the JSON is made by the
//! writer task, off the room's loop.

use std::borrow::Cow;
use std::fmt;

use cursors_protocol::{PeerSnapshot, Point, RoomName, ServerMessage};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::room::state::User;

/// The sorted set of live servers, scored by when their heartbeat expires.
pub const SERVERS_KEY: &str = "cursors:servers";

/// The key that leases id tag `tag` to one server.
pub fn tag_key(tag: &str) -> String {
    format!("cursors:tag:{tag}")
}

/// The keys and the channel of one room. The `{room:NAME}` hash tag puts
/// them all in one Redis Cluster slot, so one script can touch several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomKeys {
    /// The sharded pub/sub channel (`SPUBLISH`).
    pub channel: String,
    /// Hash: user id → [`UserRecord`] as JSON.
    pub users: String,
    /// Hash: resume token → user id.
    pub tokens: String,
}

impl RoomKeys {
    pub fn new(room: &RoomName) -> Self {
        let channel = format!("cursors:{{room:{room}}}");
        Self {
            users: format!("{channel}:users"),
            tokens: format!("{channel}:tokens"),
            channel,
        }
    }
}

/// A user as kept in the room's `users` hash: what every member sees of
/// them (the same fields a `welcome` lists), plus who holds them.
///
/// Since the record shares `PeerSnapshot`'s fields it writes `away` only
/// while it is true, as the `welcome` does. Servers of either version
/// read each other's records: `away` is `#[serde(default)]` on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    #[serde(flatten)]
    pub peer: PeerSnapshot,
    /// The server holding the user's connection.
    pub server: String,
    /// The user's current resume token (so the group can forget it; the
    /// forget script reads this field).
    pub token: String,
}

impl UserRecord {
    pub fn new(user: &User, server: &str, token: &str) -> Self {
        Self {
            peer: user.snapshot(),
            server: server.to_owned(),
            token: token.to_owned(),
        }
    }

    /// The user this record describes, as the room's rules know users.
    pub fn user(&self) -> User {
        let peer = &self.peer;
        User {
            verified: peer.verified,
            id: peer.id.clone(),
            name: peer.name.clone(),
            color: peer.color.clone(),
            position: peer.x.zip(peer.y).map(|(x, y)| Point { x, y }),
            anchor: peer.anchor.clone(),
            away: peer.away,
        }
    }
}

// ANCHOR: envelope
/// What servers publish on a room's channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub server: String,
    #[serde(flatten)]
    pub body: Replicated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Replicated {
    /// What the sender's own members were told about one of its users.
    Message { message: ServerMessage },
    /// Every user the sender holds in the room (after it reconnected).
    Present { users: Vec<UserRecord> },
    /// The sender now holds this user (it resumed there, with the resume
    /// token `spent`; absent from a server before this field).
    Claimed {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spent: Option<String>,
    },
}
// ANCHOR_END: envelope

/// An envelope as read off the channel, in one pass over the text: who
/// sent it, and its body only checked to be JSON, not yet turned into
/// values. Half of what a server of two hears is its own, back from the
/// channel, and is dropped there; the others' bodies are then read without
/// serde's generic tree, which `Envelope`'s `flatten` and `tag` would build
/// for every message (see `ServerMessage::parse`). Fields it does not know
/// are skipped unread, as a newer server's additions must be. Only an
/// object is an envelope: serde's derive would also read the fields from
/// an array, which `Envelope` refuses.
#[derive(Debug, Deserialize)]
#[serde(remote = "Self")]
pub struct Received<'a> {
    #[serde(borrow)]
    pub server: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    users: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    spent: Option<&'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Received<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectOnly)
    }
}

/// Hands the derived reader of [`Received`] an object's fields, and
/// refuses anything else (an array above all).
struct ObjectOnly;

impl<'de> Visitor<'de> for ObjectOnly {
    type Value = Received<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an envelope object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Received<'de>, A::Error> {
        Received::deserialize(MapAccessDeserializer::new(map))
    }
}

impl Received<'_> {
    /// The whole envelope, as serde would read it from the same text.
    pub fn envelope(self) -> Result<Envelope, serde_json::Error> {
        let missing = |field| serde::de::Error::missing_field(field);
        let body = match &*self.kind {
            "message" => Replicated::Message {
                message: ServerMessage::parse(
                    self.message.ok_or_else(|| missing("message"))?.get(),
                )?,
            },
            "present" => Replicated::Present {
                users: serde_json::from_str(self.users.ok_or_else(|| missing("users"))?.get())?,
            },
            "claimed" => Replicated::Claimed {
                id: serde_json::from_str(self.id.ok_or_else(|| missing("id"))?.get())?,
                spent: match self.spent {
                    Some(spent) => serde_json::from_str(spent.get())?,
                    None => None,
                },
            },
            other => {
                return Err(serde::de::Error::unknown_variant(
                    other,
                    &["message", "present", "claimed"],
                ));
            }
        };
        Ok(Envelope {
            server: self.server.into_owned(),
            body,
        })
    }
}

/// One write to Redis, queued by a room for the writer task.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Publish on the room's channel.
    Publish { channel: String, envelope: Envelope },
    /// Set these users' records (`HSET users id record…`).
    SetUsers {
        key: String,
        records: Vec<UserRecord>,
    },
    /// Let `token` resume user `id` on any server.
    SetToken {
        key: String,
        token: String,
        id: String,
    },
    /// `token` is spent.
    DeleteToken { key: String, token: String },
    /// Remove these users' records and their tokens (one script).
    Forget {
        users: String,
        tokens: String,
        ids: Vec<String>,
    },
}

#[cfg(test)]
mod tests {
    use cursors_protocol::{CursorPosition, PeerInfo};

    use super::*;

    #[test]
    fn the_sender_of_an_envelope_is_read_without_its_body() {
        // Whatever the body, even one this server could not read whole.
        let odd = r#"{"kind":"from_the_future","server":"srv-b","x":[1,{"y":2}]}"#;
        let received: Received = serde_json::from_str(odd).expect("a sender");
        assert_eq!(received.server, "srv-b");
        assert!(received.envelope().is_err());
    }

    #[test]
    fn a_received_envelope_is_what_serde_reads_from_the_same_text() {
        let peer = PeerInfo {
            verified: false,
            id: "ab1".to_owned(),
            name: "Happy Hare".to_owned(),
            color: "#0072b2".to_owned(),
        };
        let bodies = [
            Replicated::Message {
                message: ServerMessage::Cursors {
                    moves: vec![CursorPosition {
                        anchor: None,
                        id: "ab1".to_owned(),
                        x: 0.25,
                        y: 1.0,
                    }],
                },
            },
            Replicated::Message {
                message: ServerMessage::Joined { peer },
            },
            Replicated::Present {
                users: vec![UserRecord::new(
                    &user(Some(Point { x: 0.5, y: 0.5 }), true),
                    "srv-a",
                    "token-1",
                )],
            },
            Replicated::Claimed {
                id: "ab1".to_owned(),
                spent: None,
            },
            Replicated::Claimed {
                id: "ab1".to_owned(),
                spent: Some("token-1".to_owned()),
            },
        ];
        for body in bodies {
            let envelope = Envelope {
                server: "srv-a".to_owned(),
                body,
            };
            let text = serde_json::to_string(&envelope).expect("serialises");
            let received: Received = serde_json::from_str(&text).expect("reads");
            assert_eq!(received.server, "srv-a");
            assert_eq!(received.envelope().expect("whole"), envelope, "{text}");
        }
        // A field of another kind's body is ignored, as serde ignores it.
        let text = r#"{"server":"s","kind":"message","message":{"type":"hidden","id":"a"},"id":7}"#;
        let received: Received = serde_json::from_str(text).expect("reads");
        assert_eq!(
            Some(received.envelope().expect("whole")),
            serde_json::from_str::<Envelope>(text).ok()
        );
        // What serde refuses, this refuses too.
        for text in [
            r#"{"server":"s","kind":"message"}"#,
            r#"{"server":"s","kind":"message","message":{"type":"nonsense"}}"#,
            r#"{"server":"s","kind":"present","users":[{"id":"a"}]}"#,
            r#"{"server":"s","kind":"claimed"}"#,
            r#"{"server":"s","kind":"claimed","id":7}"#,
        ] {
            assert!(serde_json::from_str::<Envelope>(text).is_err(), "{text}");
            let whole = serde_json::from_str::<Received>(text).and_then(Received::envelope);
            assert!(whole.is_err(), "{text}");
        }
    }

    #[test]
    fn an_envelope_spelt_as_an_array_is_refused_as_serde_refuses_it() {
        // serde's derive reads a struct from an array of its fields too;
        // `Envelope` (a flattened, tagged body) reads only objects. Found
        // by the redis_records fuzz target.
        for text in [r#"["s","claimed",null,null,"ab1"]"#, r#"["","o"]"#] {
            assert!(serde_json::from_str::<Envelope>(text).is_err(), "{text}");
            let received = serde_json::from_str::<Received>(text);
            assert!(received.is_err(), "{text} read as {received:?}");
        }
    }

    /// Found by an hour of the redis_records fuzz target: a number no f64
    /// holds, in a field the quick read does not know. serde's derive
    /// buffers the whole envelope and refuses it; the quick read skips the
    /// field unread, as it must a newer server's additions, and takes the
    /// envelope. The fuzz target now allows that difference.
    #[test]
    fn a_number_out_of_range_in_an_unknown_field_is_skipped_unread() {
        let text = r#"{"server":"s","kind":"claimed","id":"a","added_later":1e999}"#;
        assert!(serde_json::from_str::<Envelope>(text).is_err());
        let envelope = serde_json::from_str::<Received>(text)
            .and_then(Received::envelope)
            .expect("the quick read skips the field");
        assert_eq!(
            envelope.body,
            Replicated::Claimed {
                id: "a".into(),
                spent: None
            }
        );
    }

    fn user(position: Option<Point>, away: bool) -> User {
        User {
            verified: false,
            anchor: None,
            id: "ab1".to_owned(),
            name: "Happy Hare".to_owned(),
            color: "#0072b2".to_owned(),
            position,
            away,
        }
    }

    #[test]
    fn a_record_round_trips_through_its_json_with_every_field() {
        for (position, away) in [
            (Some(Point { x: 0.25, y: 1.0 }), false),
            (None, true),
            (None, false),
        ] {
            let record = UserRecord::new(&user(position, away), "server-a", "token-1");
            let text = serde_json::to_string(&record).expect("serialises");
            let back: UserRecord = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, record);
            assert_eq!(back.user(), user(position, away));
        }
    }

    #[test]
    fn a_record_is_flat_json_with_the_token_at_the_top_for_the_forget_script() {
        let record = UserRecord::new(&user(Some(Point { x: 0.5, y: 0.5 }), false), "s", "t");
        let json: serde_json::Value = serde_json::to_value(&record).expect("serialises");
        assert_eq!(json["token"], "t");
        assert_eq!(json["server"], "s");
        assert_eq!(json["id"], "ab1");
        assert_eq!(json["x"], 0.5);
    }

    #[test]
    fn records_written_by_older_servers_still_parse() {
        // Before records shared the welcome's fields, `away` was always
        // written, and false was spelt out.
        let old =
            r##"{"id":"ab1","name":"N","color":"#000000","away":false,"server":"s","token":"t"}"##;
        let record: UserRecord = serde_json::from_str(old).expect("parses");
        assert!(!record.peer.away);
        assert_eq!(record.user().position, None);
    }

    #[test]
    fn a_room_keeps_its_keys_and_channel_in_one_cluster_slot() {
        let keys = RoomKeys::new(&RoomName::parse(Some("lobby")).expect("valid"));
        assert_eq!(keys.channel, "cursors:{room:lobby}");
        assert_eq!(keys.users, "cursors:{room:lobby}:users");
        assert_eq!(keys.tokens, "cursors:{room:lobby}:tokens");
    }
}
