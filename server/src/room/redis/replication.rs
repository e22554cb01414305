//! The replication rules: what one room of this server writes to Redis
//! and publishes, and how what it reads from Redis becomes inputs for the
//! room's rules.
//!
//! Pure, like `state.rs`: [`Replicator`] takes the room's events and state,
//! or the records read from Redis, and returns the [`Write`]s or the
//! [`Input`]s that follow. It talks to nothing; the room's link
//! (`link.rs`) queues the writes and reads the records. So every rule is
//! unit-tested here, without a Redis: which fields of a user are written
//! on each change, what a resync writes, how another server's record is
//! applied, and what becomes of a dead server's records.
//!
//! The rules in one paragraph. Each server writes and publishes only its
//! *own* users (a batch of positions may hold other servers' users too:
//! they are left out). Every change to a user rewrites that user's whole
//! record (it is small, and a whole record cannot be half-updated), and
//! publishes the very message its own members were sent. A user's resume
//! token is registered for the group when they are admitted, and the one
//! they came back with is deleted: a token resumes once, on any server.
//! Leaving forgets the record and the token.

use std::collections::{BTreeMap, HashMap};

use cursors_protocol::ServerMessage;

use super::records::{Envelope, Replicated, RoomKeys, UserRecord, Write};
use crate::room::state::{Event, Input, RemoteChange, RoomState, User};

/// One room's replication on this server: its keys and the tokens of the
/// users it wrote, so it can delete a token once it is spent.
#[derive(Debug)]
pub struct Replicator {
    server: String,
    keys: RoomKeys,
    /// This server's users in the room, by id → their current token.
    tokens: HashMap<String, String>,
}

impl Replicator {
    pub fn new(server: String, keys: RoomKeys) -> Self {
        Self {
            server,
            keys,
            tokens: HashMap::new(),
        }
    }

    // ANCHOR: share
    /// What to write for an event that came from this server's own
    /// connections, in order.
    pub fn share(&mut self, event: &Event, state: &RoomState) -> Vec<Write> {
        let mut writes = Vec::new();
        match event {
            Event::Admitted { id, .. } => {
                let Some((user, token)) = state.local_user(id) else {
                    return writes;
                };
                // A token is good for one resume, on any server: the one
                // this user just came back with is spent.
                if let Some(spent) = self.tokens.insert(id.clone(), token.to_owned())
                    && spent != token
                {
                    writes.push(Write::DeleteToken {
                        key: self.keys.tokens.clone(),
                        token: spent,
                    });
                }
                writes.push(self.set_token(id, token));
                writes.push(self.set_users(vec![self.record(user, token)]));
            }
            // The crowd's own messages are each server's, for its members.
            Event::Narrowcast {
                message: ServerMessage::Crowd { .. } | ServerMessage::View { .. },
                ..
            } => {}
            Event::Broadcast { message, .. } | Event::Narrowcast { message, .. } => {
                match message {
                    ServerMessage::Left { id } => {
                        self.tokens.remove(id);
                        writes.push(self.forget(vec![id.clone()]));
                    }
                    ServerMessage::Joined { peer } => writes.extend(self.rewrite(state, &peer.id)),
                    ServerMessage::Renamed { id, .. }
                    | ServerMessage::Hidden { id }
                    | ServerMessage::Presence { id, .. } => writes.extend(self.rewrite(state, id)),
                    _ => {}
                }
                writes.push(self.publish(Replicated::Message {
                    message: message.clone(),
                }));
            }
            Event::Cursors { moves, .. } | Event::CrowdCursors { moves, .. } => {
                // The batch may hold other servers' users too (they are
                // flushed here with ours); each server publishes its own.
                let mut records = Vec::new();
                let mut ours = Vec::with_capacity(moves.len());
                for position in moves {
                    if let Some((user, token)) = state.local_user(&position.id) {
                        records.push(self.record(user, token));
                        ours.push(position.clone());
                    }
                }
                if !ours.is_empty() {
                    writes.push(self.set_users(records));
                    writes.push(self.publish(Replicated::Message {
                        message: ServerMessage::Cursors { moves: ours },
                    }));
                }
            }
            Event::Claimed { id, spent_token } => writes.push(self.publish(Replicated::Claimed {
                id: id.clone(),
                spent: Some(spent_token.clone()),
            })),
            Event::Superseded { .. }
            | Event::Detached { .. }
            | Event::Ignored { .. }
            | Event::CatchUp { .. } => {}
        }
        writes
    }
    // ANCHOR_END: share

    // ANCHOR: resync
    /// After Redis came back (it may have restarted empty, and messages
    /// were lost): write every user of this server again with their token,
    /// forget the records of this server's users who left meanwhile (their
    /// `left` was lost), and announce them all in one `present`. `existing`
    /// is what the room's `users` hash holds now.
    pub fn resync(&mut self, state: &RoomState, existing: &[UserRecord]) -> Vec<Write> {
        let claimed = self.claimed_elsewhere(state, existing);
        let records: Vec<UserRecord> = state
            .local_users()
            .filter(|(user, _)| {
                !claimed.iter().any(|input| {
                    matches!(input, Input::Remote { change: RemoteChange::Claimed { id, .. }, .. } if *id == user.id)
                })
            })
            .map(|(user, token)| self.record(user, token))
            .collect();
        self.tokens = records
            .iter()
            .map(|record| (record.peer.id.clone(), record.token.clone()))
            .collect();
        let mut writes = Vec::new();
        let stale: Vec<String> = existing
            .iter()
            .filter(|record| {
                record.server == self.server && !self.tokens.contains_key(&record.peer.id)
            })
            .map(|record| record.peer.id.clone())
            .collect();
        if !stale.is_empty() {
            writes.push(self.forget(stale));
        }
        for record in &records {
            writes.push(self.set_token(&record.peer.id, &record.token));
        }
        if !records.is_empty() {
            writes.push(self.set_users(records.clone()));
        }
        writes.push(self.publish(Replicated::Present { users: records }));
        writes
    }
    // ANCHOR_END: resync

    /// This server's users whose record in `existing` names another server:
    /// that server claimed their token, and its `claimed` message was lost
    /// while we were away. They are that server's now; [`Replicator::resync`]
    /// leaves them out, and these inputs tell the room, as the lost message
    /// would have (a live connection here is superseded, a detached one
    /// forgotten without a `left`). Found by the group simulation.
    pub fn claimed_elsewhere(&self, state: &RoomState, existing: &[UserRecord]) -> Vec<Input> {
        existing
            .iter()
            .filter(|record| {
                record.server != self.server && state.local_user(&record.peer.id).is_some()
            })
            .map(|record| Input::Remote {
                server: record.server.clone(),
                change: RemoteChange::Claimed {
                    id: record.peer.id.clone(),
                    // The record is the claiming server's: nothing to check.
                    spent_token: None,
                },
            })
            .collect()
    }

    /// The other servers' users among `records` read from the room's
    /// `users` hash, as one `Present` input per server. Records of servers
    /// that are dead are applied too: the next word on who is alive removes
    /// them (see [`Replicator::forget_ghosts`]), and a record this room
    /// cannot tell from a live one must not be hidden.
    pub fn others(&self, records: &[UserRecord]) -> Vec<Input> {
        // By server name, so the inputs come in one order whatever the
        // hash's.
        let mut by_server: BTreeMap<&str, Vec<User>> = BTreeMap::new();
        for record in records {
            if record.server != self.server {
                by_server
                    .entry(record.server.as_str())
                    .or_default()
                    .push(record.user());
            }
        }
        by_server
            .into_iter()
            .map(|(server, users)| Input::Remote {
                server: server.to_owned(),
                change: RemoteChange::Present(users),
            })
            .collect()
    }

    /// What another server published, as an input for the rules; `None`
    /// for our own messages coming back from the channel.
    pub fn receive(&self, envelope: Envelope) -> Option<Input> {
        if envelope.server == self.server {
            return None;
        }
        let change = match envelope.body {
            Replicated::Message { message } => RemoteChange::Message(message),
            Replicated::Present { users } => {
                RemoteChange::Present(users.iter().map(UserRecord::user).collect())
            }
            Replicated::Claimed { id, spent } => RemoteChange::Claimed {
                id,
                spent_token: spent,
            },
        };
        Some(Input::Remote {
            server: envelope.server,
            change,
        })
    }

    /// What to write for users of dead servers that the room removed (the
    /// ids of the `left` events that the rules raised for them): forget
    /// their records and tokens, so no later reader sees them. Whichever
    /// server notices first does it; doing it twice is harmless.
    pub fn forget_ghosts(&self, ids: Vec<String>) -> Option<Write> {
        (!ids.is_empty()).then(|| self.forget(ids))
    }

    /// The user `id` of this server, written again whole.
    fn rewrite(&self, state: &RoomState, id: &str) -> Option<Write> {
        let (user, token) = state.local_user(id)?;
        Some(self.set_users(vec![self.record(user, token)]))
    }

    fn record(&self, user: &User, token: &str) -> UserRecord {
        UserRecord::new(user, &self.server, token)
    }

    fn set_users(&self, records: Vec<UserRecord>) -> Write {
        Write::SetUsers {
            key: self.keys.users.clone(),
            records,
        }
    }

    fn set_token(&self, id: &str, token: &str) -> Write {
        Write::SetToken {
            key: self.keys.tokens.clone(),
            token: token.to_owned(),
            id: id.to_owned(),
        }
    }

    fn forget(&self, ids: Vec<String>) -> Write {
        Write::Forget {
            users: self.keys.users.clone(),
            tokens: self.keys.tokens.clone(),
            ids,
        }
    }

    fn publish(&self, body: Replicated) -> Write {
        Write::Publish {
            channel: self.keys.channel.clone(),
            envelope: Envelope {
                server: self.server.clone(),
                body,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cursors_protocol::{CursorPosition, PeerInfo, Point, RoomName};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tokio::time::Instant;

    use super::*;
    use crate::config::FanoutMode;
    use crate::room::state::{Action, ConnectionKey, DisconnectKind};

    const HERE: &str = "server-a";

    /// A room of this server with the replication beside it, the way the
    /// room task drives them: every event from here is shared.
    struct Room {
        state: RoomState,
        replicator: Replicator,
        now: Instant,
    }

    struct Joined {
        connection: ConnectionKey,
        id: String,
    }

    impl Room {
        fn new() -> Self {
            let rules = crate::room::state::test_rules::rules(FanoutMode::Coalesced, "aa");
            Self {
                state: RoomState::new(rules, StdRng::seed_from_u64(11)),
                replicator: Replicator::new(HERE.into(), keys()),
                now: Instant::now(),
            }
        }

        /// Applies an input from this server and returns what is written.
        fn apply(&mut self, input: Input) -> Vec<Write> {
            let events = self.state.apply(input, self.now);
            events
                .iter()
                .flat_map(|event| self.replicator.share(event, &self.state))
                .collect()
        }

        fn join(&mut self) -> (Joined, Vec<Write>) {
            self.join_with(None)
        }

        fn join_with(&mut self, resume: Option<String>) -> (Joined, Vec<Write>) {
            let events = self.state.apply(
                Input::Join {
                    resume,
                    verified_name: None,
                },
                self.now,
            );
            let joined = events
                .iter()
                .find_map(|event| match event {
                    Event::Admitted { connection, id, .. } => Some(Joined {
                        connection: *connection,
                        id: id.clone(),
                    }),
                    _ => None,
                })
                .expect("admitted");
            let writes = events
                .iter()
                .flat_map(|event| self.replicator.share(event, &self.state))
                .collect();
            (joined, writes)
        }

        fn act(&mut self, who: &Joined, action: Action) -> Vec<Write> {
            self.apply(Input::Connection {
                from: who.connection,
                action,
            })
        }

        fn flush(&mut self) -> Vec<Write> {
            self.now += Duration::from_millis(100);
            self.apply(Input::Tick { occupied_rooms: 1 })
        }

        fn token_of(&self, id: &str) -> String {
            self.state.local_user(id).expect("local").1.to_owned()
        }
    }

    fn keys() -> RoomKeys {
        RoomKeys::new(&RoomName::parse(Some("lobby")).expect("valid"))
    }

    /// The records a list of writes sets, by id, in order.
    fn records(writes: &[Write]) -> Vec<UserRecord> {
        writes
            .iter()
            .filter_map(|write| match write {
                Write::SetUsers { key, records } => {
                    assert_eq!(key, &keys().users);
                    Some(records.clone())
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// What a list of writes publishes.
    fn published(writes: &[Write]) -> Vec<Replicated> {
        writes
            .iter()
            .filter_map(|write| match write {
                Write::Publish { channel, envelope } => {
                    assert_eq!(channel, &keys().channel);
                    assert_eq!(envelope.server, HERE);
                    Some(envelope.body.clone())
                }
                _ => None,
            })
            .collect()
    }

    fn point(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    #[test]
    fn a_join_registers_the_token_writes_the_whole_record_and_publishes_joined() {
        let mut room = Room::new();
        let (me, writes) = room.join();
        let token = room.token_of(&me.id);
        assert!(writes.contains(&Write::SetToken {
            key: keys().tokens,
            token: token.clone(),
            id: me.id.clone(),
        }));
        let written = records(&writes);
        assert!(!written.is_empty());
        for record in &written {
            assert_eq!(record.peer.id, me.id);
            assert_eq!(record.server, HERE);
            assert_eq!(record.token, token);
            assert_eq!((record.peer.x, record.peer.y), (None, None));
            assert!(!record.peer.away);
        }
        let name = written[0].peer.name.clone();
        assert_eq!(
            published(&writes),
            vec![Replicated::Message {
                message: ServerMessage::Joined {
                    peer: PeerInfo {
                        verified: false,
                        id: me.id.clone(),
                        name,
                        color: written[0].peer.color.clone(),
                    }
                }
            }]
        );
        // Nothing is deleted or forgotten on a first join.
        assert!(
            !writes
                .iter()
                .any(|write| matches!(write, Write::DeleteToken { .. } | Write::Forget { .. }))
        );
    }

    #[test]
    fn a_move_is_written_and_published_at_the_flush_not_before() {
        let mut room = Room::new();
        let (me, _) = room.join();
        assert_eq!(room.act(&me, Action::Move(point(0.25, 0.5))), vec![]);
        room.act(&me, Action::Move(point(0.75, 0.5)));
        let writes = room.flush();
        let written = records(&writes);
        assert_eq!(written.len(), 1);
        assert_eq!(
            (written[0].peer.x, written[0].peer.y),
            (Some(0.75), Some(0.5))
        );
        assert_eq!(
            published(&writes),
            vec![Replicated::Message {
                message: ServerMessage::Cursors {
                    moves: vec![CursorPosition {
                        anchor: None,
                        id: me.id.clone(),
                        x: 0.75,
                        y: 0.5
                    }]
                }
            }]
        );
        assert_eq!(room.flush(), vec![], "nothing moved since");
    }

    #[test]
    fn a_flush_publishes_only_this_servers_users() {
        let mut room = Room::new();
        let (me, _) = room.join();
        let remote = User {
            verified: false,
            anchor: None,
            id: "bb0001".into(),
            name: "Far Away".into(),
            color: "#0090ff".into(),
            position: None,
            away: false,
        };
        room.state.apply(
            Input::Remote {
                server: "server-b".into(),
                change: RemoteChange::Present(vec![remote]),
            },
            room.now,
        );
        room.state.apply(
            Input::Remote {
                server: "server-b".into(),
                change: RemoteChange::Message(ServerMessage::Cursors {
                    moves: vec![CursorPosition {
                        anchor: None,
                        id: "bb0001".into(),
                        x: 0.1,
                        y: 0.1,
                    }],
                }),
            },
            room.now,
        );
        room.act(&me, Action::Move(point(0.5, 0.5)));
        let writes = room.flush();
        let ids: Vec<_> = records(&writes).into_iter().map(|r| r.peer.id).collect();
        assert_eq!(ids, vec![me.id.clone()]);
        let Replicated::Message {
            message: ServerMessage::Cursors { moves },
        } = &published(&writes)[0]
        else {
            panic!("a cursors batch");
        };
        assert_eq!(moves.len(), 1);
        assert_eq!(moves[0].id, me.id);
    }

    #[test]
    fn a_crowd_publishes_one_batch_per_flush_and_keeps_its_own_messages() {
        let mut rules = crate::room::state::test_rules::rules(FanoutMode::Coalesced, "aa");
        rules.crowd = Some(crate::room::crowd::CrowdRules::new(3, 2));
        let mut room = Room {
            state: RoomState::new(rules, StdRng::seed_from_u64(11)),
            ..Room::new()
        };
        let people: Vec<Joined> = (0..6).map(|_| room.join().0).collect();
        assert!(room.state.is_crowd());
        // A join in a crowd is told to nobody here, but still written and
        // published: the other servers must know.
        let (late, writes) = room.join();
        let written = records(&writes);
        assert!(!written.is_empty() && written.iter().all(|record| record.peer.id == late.id));
        assert!(published(&writes).iter().any(|message| matches!(
            message,
            Replicated::Message { message: ServerMessage::Joined { peer } } if peer.id == late.id
        )));
        // Everyone moves, far apart: many frames here, one batch for the group.
        for (index, who) in people.iter().enumerate() {
            room.act(who, Action::Move(point(0.1 + index as f64 * 0.15, 0.5)));
        }
        let writes = room.flush();
        let batches: Vec<usize> = published(&writes)
            .iter()
            .filter_map(|message| match message {
                Replicated::Message {
                    message: ServerMessage::Cursors { moves },
                } => Some(moves.len()),
                _ => None,
            })
            .collect();
        assert_eq!(batches, [6]);
        // `crowd` and `view` are each server's own: never published.
        room.flush();
        let writes = room.flush();
        assert!(published(&writes).iter().all(|message| !matches!(
            message,
            Replicated::Message {
                message: ServerMessage::Crowd { .. } | ServerMessage::View { .. }
            }
        )));
    }

    #[test]
    fn a_flush_of_only_other_servers_users_writes_nothing() {
        let mut room = Room::new();
        room.join();
        room.state.apply(
            Input::Remote {
                server: "server-b".into(),
                change: RemoteChange::Present(vec![User {
                    verified: false,
                    anchor: None,
                    id: "bb0001".into(),
                    name: "Far Away".into(),
                    color: "#0090ff".into(),
                    position: None,
                    away: false,
                }]),
            },
            room.now,
        );
        let event = Event::Cursors {
            except: None,
            moves: vec![CursorPosition {
                anchor: None,
                id: "bb0001".into(),
                x: 0.1,
                y: 0.1,
            }],
        };
        assert_eq!(room.replicator.share(&event, &room.state), vec![]);
    }

    #[test]
    fn a_rename_rewrites_the_record_with_the_new_name() {
        let mut room = Room::new();
        let (me, _) = room.join();
        room.act(&me, Action::Move(point(0.5, 0.25)));
        room.flush();
        let writes = room.act(&me, Action::Rename("Ada".into()));
        let written = records(&writes);
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].peer.name, "Ada");
        // The rest of the record is kept: it is written whole.
        assert_eq!(
            (written[0].peer.x, written[0].peer.y),
            (Some(0.5), Some(0.25))
        );
        assert_eq!(
            published(&writes),
            vec![Replicated::Message {
                message: ServerMessage::Renamed {
                    id: me.id.clone(),
                    name: "Ada".into()
                }
            }]
        );
    }

    #[test]
    fn away_and_back_rewrite_the_record_and_publish_presence() {
        let mut room = Room::new();
        let (me, _) = room.join();
        let writes = room.act(&me, Action::Away(true));
        assert!(records(&writes)[0].peer.away);
        assert_eq!(
            published(&writes),
            vec![Replicated::Message {
                message: ServerMessage::Presence {
                    id: me.id.clone(),
                    away: true
                }
            }]
        );
        let writes = room.act(&me, Action::Away(false));
        assert!(!records(&writes)[0].peer.away);
    }

    #[test]
    fn hiding_writes_a_record_without_a_position() {
        let mut room = Room::new();
        let (me, _) = room.join();
        room.act(&me, Action::Move(point(0.5, 0.5)));
        room.flush();
        let writes = room.act(&me, Action::Hide);
        let written = records(&writes);
        assert_eq!((written[0].peer.x, written[0].peer.y), (None, None));
        assert_eq!(
            published(&writes),
            vec![Replicated::Message {
                message: ServerMessage::Hidden { id: me.id.clone() }
            }]
        );
    }

    #[test]
    fn chat_is_published_but_writes_no_record() {
        let mut room = Room::new();
        let (me, _) = room.join();
        let writes = room.act(&me, Action::Say("hello".into()));
        assert_eq!(records(&writes), vec![]);
        assert_eq!(
            published(&writes),
            vec![Replicated::Message {
                message: ServerMessage::Said {
                    id: me.id.clone(),
                    text: "hello".into()
                }
            }]
        );
    }

    #[test]
    fn the_social_messages_are_published_like_chat_and_write_no_record() {
        let mut room = Room::new();
        let (me, _) = room.join();
        for (action, message) in [
            (
                Action::React("👍".into()),
                ServerMessage::Reacted {
                    id: me.id.clone(),
                    emoji: "👍".into(),
                },
            ),
            (
                Action::Point(point(0.5, 0.25)),
                ServerMessage::Pointed {
                    id: me.id.clone(),
                    x: 0.5,
                    y: 0.25,
                },
            ),
            (
                Action::Laser(true),
                ServerMessage::Laser {
                    id: me.id.clone(),
                    on: true,
                },
            ),
            (
                Action::Spotlight(true),
                ServerMessage::Spotlight {
                    id: me.id.clone(),
                    on: true,
                },
            ),
        ] {
            let writes = room.act(&me, action);
            assert_eq!(records(&writes), vec![]);
            assert_eq!(published(&writes), vec![Replicated::Message { message }]);
        }
    }

    #[test]
    fn leaving_forgets_the_record_and_token_and_publishes_left() {
        let mut room = Room::new();
        let (_stays, _) = room.join();
        let (me, _) = room.join();
        let writes = room.act(&me, Action::Disconnect(DisconnectKind::Expelled));
        assert!(writes.contains(&Write::Forget {
            users: keys().users,
            tokens: keys().tokens,
            ids: vec![me.id.clone()],
        }));
        assert_eq!(records(&writes), vec![]);
        assert_eq!(
            published(&writes),
            vec![Replicated::Message {
                message: ServerMessage::Left { id: me.id.clone() }
            }]
        );
        // Forgotten here too: a resync no longer writes them.
        let resync = room.replicator.resync(&room.state, &[]);
        assert!(!records(&resync).iter().any(|r| r.peer.id == me.id));
    }

    #[test]
    fn a_resume_here_deletes_the_spent_token_and_registers_the_new_one() {
        let mut room = Room::new();
        let (_stays, _) = room.join();
        let (me, _) = room.join();
        let old_token = room.token_of(&me.id);
        room.act(&me, Action::Disconnect(DisconnectKind::Dropped));
        let (again, writes) = room.join_with(Some(old_token.clone()));
        assert_eq!(again.id, me.id);
        let new_token = room.token_of(&me.id);
        assert_ne!(new_token, old_token);
        assert!(writes.contains(&Write::DeleteToken {
            key: keys().tokens,
            token: old_token,
        }));
        assert!(writes.contains(&Write::SetToken {
            key: keys().tokens,
            token: new_token.clone(),
            id: me.id.clone(),
        }));
        assert!(records(&writes).iter().all(|r| r.token == new_token));
    }

    #[test]
    fn a_resync_rewrites_every_user_here_forgets_our_stale_ones_and_announces_them() {
        let mut room = Room::new();
        let (me, _) = room.join();
        room.act(&me, Action::Move(point(0.5, 0.5)));
        room.flush();
        let (you, _) = room.join();
        let mine = UserRecord::new(
            &room.state.local_user(&me.id).expect("here").0.clone(),
            HERE,
            "t",
        );
        let mut gone = mine.clone();
        gone.peer.id = "aa-gone".into();
        let mut elsewhere = mine.clone();
        elsewhere.peer.id = "bb0001".into();
        elsewhere.server = "server-b".into();

        let writes = room
            .replicator
            .resync(&room.state, &[mine, gone, elsewhere]);

        // Our user who left during the outage is forgotten; the other
        // server's user is theirs to write.
        assert_eq!(
            writes[0],
            Write::Forget {
                users: keys().users,
                tokens: keys().tokens,
                ids: vec!["aa-gone".into()],
            }
        );
        for who in [&me, &you] {
            assert!(writes.contains(&Write::SetToken {
                key: keys().tokens,
                token: room.token_of(&who.id),
                id: who.id.clone(),
            }));
        }
        let written = records(&writes);
        let ids: Vec<_> = written.iter().map(|r| r.peer.id.clone()).collect();
        assert_eq!(ids, vec![me.id.clone(), you.id.clone()]);
        assert_eq!(
            (written[0].peer.x, written[0].peer.y),
            (Some(0.5), Some(0.5))
        );
        assert_eq!(
            published(&writes),
            vec![Replicated::Present { users: written }]
        );
    }

    /// Found by the group simulation (seed 43): a user dropped here, came
    /// back on server b while this server was cut off from Redis (so the
    /// `claimed` message never reached it), and this server's resync wrote
    /// its stale copy over b's record. When its grace then ran out here,
    /// its `left` removed the user everywhere while they were live on b.
    #[test]
    fn a_user_claimed_elsewhere_during_an_outage_is_given_up_at_the_resync() {
        let mut room = Room::new();
        let (stays, _) = room.join();
        let (me, _) = room.join();
        room.act(&me, Action::Disconnect(DisconnectKind::Dropped));
        let mut claimed = UserRecord::new(
            &room.state.local_user(&me.id).expect("here").0.clone(),
            "server-b",
            "b-token",
        );
        claimed.peer.name = "Renamed on b".into();

        let existing = [claimed.clone()];
        let given_up = room.replicator.claimed_elsewhere(&room.state, &existing);
        let writes = room.replicator.resync(&room.state, &existing);

        // b holds them now: they are b's to write, and no token of ours
        // for them is registered again.
        let ids: Vec<_> = records(&writes).into_iter().map(|r| r.peer.id).collect();
        assert_eq!(ids, vec![stays.id.clone()]);
        assert!(!writes.iter().any(|write| matches!(
            write,
            Write::SetToken { id, .. } if *id == me.id
        )));
        assert!(
            !writes
                .iter()
                .any(|write| matches!(write, Write::Forget { .. }))
        );
        // The room is told, as if b's `claimed` had arrived.
        assert_eq!(
            given_up,
            vec![Input::Remote {
                server: "server-b".into(),
                change: RemoteChange::Claimed {
                    id: me.id.clone(),
                    spent_token: None,
                },
            }]
        );
        room.apply(given_up[0].clone());
        assert!(room.state.local_user(&me.id).is_none());
        // Once their grace here would have ended, nothing says they left.
        room.now += Duration::from_secs(60);
        let writes = room.apply(Input::Tick { occupied_rooms: 1 });
        assert!(
            !published(&writes).iter().any(|body| matches!(
                body,
                Replicated::Message {
                    message: ServerMessage::Left { .. }
                }
            )),
            "{writes:?}"
        );
    }

    #[test]
    fn a_resync_of_an_empty_room_still_announces_that_it_holds_nobody() {
        let room = Room::new();
        let mut replicator = Replicator::new(HERE.into(), keys());
        let writes = replicator.resync(&room.state, &[]);
        assert_eq!(
            writes,
            vec![Write::Publish {
                channel: keys().channel,
                envelope: Envelope {
                    server: HERE.into(),
                    body: Replicated::Present { users: vec![] }
                }
            }]
        );
    }

    #[test]
    fn after_a_resync_a_resume_deletes_the_token_the_resync_registered() {
        let mut room = Room::new();
        let (_stays, _) = room.join();
        let (me, _) = room.join();
        // A fresh replicator, as if this room's link had just opened and
        // Redis then came back: it learns the tokens from the resync.
        room.replicator = Replicator::new(HERE.into(), keys());
        room.replicator.resync(&room.state, &[]);
        let old_token = room.token_of(&me.id);
        room.act(&me, Action::Disconnect(DisconnectKind::Dropped));
        let (_, writes) = room.join_with(Some(old_token.clone()));
        assert!(writes.contains(&Write::DeleteToken {
            key: keys().tokens,
            token: old_token,
        }));
    }

    #[test]
    fn other_servers_records_become_one_present_per_server_and_ours_are_skipped() {
        let room = Room::new();
        let record = |id: &str, server: &str, x: Option<f64>| {
            let mut record = UserRecord::new(
                &User {
                    verified: false,
                    anchor: None,
                    id: id.into(),
                    name: format!("User {id}"),
                    color: "#0090ff".into(),
                    position: x.map(|x| point(x, 0.5)),
                    away: id.ends_with('2'),
                },
                server,
                "token",
            );
            record.peer.away = id.ends_with('2');
            record
        };
        let inputs = room.replicator.others(&[
            record("cc1", "server-c", None),
            record("aa1", HERE, Some(0.1)),
            record("bb1", "server-b", Some(0.2)),
            record("bb2", "server-b", None),
        ]);
        assert_eq!(inputs.len(), 2);
        let Input::Remote {
            server,
            change: RemoteChange::Present(users),
        } = &inputs[0]
        else {
            panic!("a present: {inputs:?}");
        };
        assert_eq!(server, "server-b");
        assert_eq!(users.len(), 2);
        let bb1 = users.iter().find(|u| u.id == "bb1").expect("bb1");
        assert_eq!(bb1.position, Some(point(0.2, 0.5)));
        let bb2 = users.iter().find(|u| u.id == "bb2").expect("bb2");
        assert!(bb2.away && bb2.position.is_none());
        assert!(matches!(&inputs[1], Input::Remote { server, .. } if server == "server-c"));
    }

    #[test]
    fn a_remote_record_read_at_open_shows_in_the_welcome_with_its_position() {
        let mut room = Room::new();
        let record = UserRecord::new(
            &User {
                verified: false,
                anchor: None,
                id: "bb1".into(),
                name: "Far Away".into(),
                color: "#0090ff".into(),
                position: Some(point(0.3, 0.6)),
                away: false,
            },
            "server-b",
            "token",
        );
        for input in room.replicator.others(std::slice::from_ref(&record)) {
            room.state.apply(input, room.now);
        }
        let events = room.state.apply(
            Input::Join {
                resume: None,
                verified_name: None,
            },
            room.now,
        );
        let welcome = events
            .iter()
            .find_map(|event| match event {
                Event::Admitted { welcome, .. } => Some(welcome.clone()),
                _ => None,
            })
            .expect("admitted");
        let ServerMessage::Welcome { peers, .. } = welcome else {
            panic!("a welcome");
        };
        assert!(peers.contains(&record.peer), "{peers:?}");
    }

    #[test]
    fn what_others_publish_is_applied_and_our_own_echo_is_not() {
        let room = Room::new();
        let message = ServerMessage::Said {
            id: "bb1".into(),
            text: "hi".into(),
        };
        let theirs = Envelope {
            server: "server-b".into(),
            body: Replicated::Message {
                message: message.clone(),
            },
        };
        assert_eq!(
            room.replicator.receive(theirs),
            Some(Input::Remote {
                server: "server-b".into(),
                change: RemoteChange::Message(message.clone()),
            })
        );
        let ours = Envelope {
            server: HERE.into(),
            body: Replicated::Message { message },
        };
        assert_eq!(room.replicator.receive(ours), None);
        let claimed = Envelope {
            server: "server-b".into(),
            body: Replicated::Claimed {
                id: "aa1".into(),
                spent: Some("t1".into()),
            },
        };
        assert_eq!(
            room.replicator.receive(claimed),
            Some(Input::Remote {
                server: "server-b".into(),
                change: RemoteChange::Claimed {
                    id: "aa1".into(),
                    spent_token: Some("t1".into()),
                },
            })
        );
    }

    #[test]
    fn the_records_of_a_server_that_stopped_heartbeating_are_removed_and_forgotten() {
        let mut room = Room::new();
        let (_me, _) = room.join();
        let user = |id: &str| User {
            verified: false,
            anchor: None,
            id: id.into(),
            name: format!("User {id}"),
            color: "#0090ff".into(),
            position: Some(point(0.5, 0.5)),
            away: false,
        };
        // Read at open: one user of a live server, two of a dead one.
        let records = [
            UserRecord::new(&user("bb1"), "server-b", "t1"),
            UserRecord::new(&user("dd1"), "server-dead", "t2"),
            UserRecord::new(&user("dd2"), "server-dead", "t3"),
        ];
        for input in room.replicator.others(&records) {
            room.state.apply(input, room.now);
        }
        assert_eq!(room.state.member_count(), 4);
        // The heartbeats say who is alive: the dead server is not.
        let events = room.state.apply(
            Input::ServersAlive {
                servers: vec![HERE.into(), "server-b".into()],
            },
            room.now,
        );
        let mut ghosts: Vec<String> = events
            .iter()
            .filter_map(|event| event.left().map(str::to_owned))
            .collect();
        ghosts.sort();
        assert_eq!(ghosts, vec!["dd1".to_owned(), "dd2".to_owned()]);
        assert_eq!(room.state.member_count(), 2);
        assert_eq!(
            room.replicator.forget_ghosts(ghosts.clone()),
            Some(Write::Forget {
                users: keys().users,
                tokens: keys().tokens,
                ids: ghosts,
            })
        );
        assert_eq!(room.replicator.forget_ghosts(Vec::new()), None);
    }
}
