//! What a server keeps in Redis and says on a room's channel: the names of
//! the keys, a user's record, the envelope of a published message, and the
//! writes a room queues for Redis.
//!
//! Data only. Which of these a room writes, and when, is decided in
//! `replication.rs`; carrying the writes out is the writer task's job in
//! `group.rs`. Writes hold records, not their JSON, so the rules can be
//! tested by looking at what they would write, and the JSON is made by the
//! writer task, off the room's loop.

use cursors_protocol::{PeerSnapshot, Point, RoomName, ServerMessage};
use serde::{Deserialize, Serialize};

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
            id: peer.id.clone(),
            name: peer.name.clone(),
            color: peer.color.clone(),
            position: peer.x.zip(peer.y).map(|(x, y)| Point { x, y }),
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

/// Only who sent an envelope: read before the rest, so that a server
/// skips its own messages without parsing their body.
#[derive(Debug, Deserialize)]
pub struct Sender<'a> {
    #[serde(borrow)]
    pub server: std::borrow::Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Replicated {
    /// What the sender's own members were told about one of its users.
    Message { message: ServerMessage },
    /// Every user the sender holds in the room (after it reconnected).
    Present { users: Vec<UserRecord> },
    /// The sender now holds this user (it resumed there).
    Claimed { id: String },
}
// ANCHOR_END: envelope

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
    use super::*;

    #[test]
    fn the_sender_of_an_envelope_is_read_without_its_body() {
        let envelope = Envelope {
            server: "srv-a".to_owned(),
            body: Replicated::Claimed {
                id: "ab1".to_owned(),
            },
        };
        let text = serde_json::to_string(&envelope).expect("serialises");
        let sender: Sender = serde_json::from_str(&text).expect("a sender");
        assert_eq!(sender.server, "srv-a");
        // Whatever the body, even one this server could not read whole.
        let odd = r#"{"kind":"from_the_future","server":"srv-b","x":[1,{"y":2}]}"#;
        assert_eq!(
            serde_json::from_str::<Sender>(odd)
                .expect("a sender")
                .server,
            "srv-b"
        );
    }

    fn user(position: Option<Point>, away: bool) -> User {
        User {
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
