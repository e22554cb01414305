//! The rules for what other servers of the group say about a room. They
//! change the state the same way local commands do and tell the members
//! connected here the same messages, so that a room shared across servers
//! looks exactly like one on a single server.
//!
//! Each remote user has an owner: the server holding its connection. Only
//! what its owner says about it counts, the way only a user's live
//! connection counts for local commands: a server that has lost a user to
//! another (a resume there) can no longer move, rename or remove it.

use cursors_protocol::{PeerInfo, ServerMessage};

use super::{ConnectionKey, Event, Home, MemberKey, RemoteChange, RoomState, Session, User};
use crate::identity;

impl RoomState {
    /// A connection here resumes a user that another server held: it is
    /// this server's now. If the group had already removed the user (their
    /// server died long enough ago), they come back as they were and are
    /// announced again.
    pub(super) fn adopt(&mut self, user: User, events: &mut Vec<Event>) {
        let session = Session {
            resume_token: identity::resume_token(&mut self.rng),
            connection: self.new_connection(),
            detached_until: None,
        };
        let connection = session.connection;
        let id = user.id.clone();
        let key = match self.by_id.get(&id).copied() {
            Some(key) => {
                let Some(member) = self.members.get_mut(&key) else {
                    return;
                };
                if let Home::Local(old) = &member.home {
                    // Already here (a stale record): an ordinary takeover.
                    if old.detached_until.is_none() {
                        events.push(Event::Superseded {
                            connection: ConnectionKey {
                                member: key,
                                connection: old.connection,
                            },
                        });
                    }
                } else {
                    self.local_members += 1;
                }
                member.home = Home::Local(session);
                key
            }
            None => {
                let key = self.next_member;
                self.next_member += 1;
                events.push(Event::Broadcast {
                    except: Some(key),
                    message: ServerMessage::Joined { peer: user.info() },
                });
                self.insert(
                    key,
                    User {
                        position: None,
                        ..user
                    },
                    Home::Local(session),
                );
                key
            }
        };
        let member = &self.members[&key];
        let Some(session) = member.session() else {
            return;
        };
        let welcome = self.welcome(&member.user, session, Some(key));
        // The welcome first: the `joined` above goes to the others only.
        events.insert(
            0,
            Event::Admitted {
                connection: ConnectionKey {
                    member: key,
                    connection,
                },
                id: id.clone(),
                welcome,
                resumed: true,
            },
        );
        events.push(Event::Claimed { id });
    }

    pub(super) fn apply_remote(
        &mut self,
        server: String,
        change: RemoteChange,
        events: &mut Vec<Event>,
    ) {
        match change {
            RemoteChange::Message(message) => self.apply_remote_message(&server, message, events),
            RemoteChange::Present(users) => self.apply_present(&server, users, events),
            RemoteChange::Claimed { id } => self.apply_claimed(server, &id, events),
        }
    }

    /// The key of `id` if `server` owns that user.
    fn owned_by(&self, server: &str, id: &str) -> Option<MemberKey> {
        let key = *self.by_id.get(id)?;
        match &self.members.get(&key)?.home {
            Home::Remote { server: owner } if owner == server => Some(key),
            _ => None,
        }
    }

    fn apply_remote_message(
        &mut self,
        server: &str,
        message: ServerMessage,
        events: &mut Vec<Event>,
    ) {
        let everyone = |message| Event::Broadcast {
            except: None,
            message,
        };
        match message {
            ServerMessage::Joined { peer } => {
                if self.by_id.contains_key(&peer.id) {
                    return;
                }
                let key = self.next_member;
                self.next_member += 1;
                let user = User {
                    id: peer.id.clone(),
                    name: peer.name.clone(),
                    color: peer.color.clone(),
                    position: None,
                    away: false,
                };
                self.insert(
                    key,
                    user,
                    Home::Remote {
                        server: server.to_owned(),
                    },
                );
                events.push(everyone(ServerMessage::Joined { peer }));
            }
            ServerMessage::Renamed { id, name } => {
                let Some(key) = self.owned_by(server, &id) else {
                    return;
                };
                let user = &mut self.members.get_mut(&key).expect("owned").user;
                if user.name != name {
                    user.name = name.clone();
                    events.push(everyone(ServerMessage::Renamed { id, name }));
                }
            }
            ServerMessage::Cursors { moves } => {
                for position in moves {
                    if let Some(key) = self.owned_by(server, &position.id) {
                        self.set_remote_position(key, position.point());
                    }
                }
            }
            ServerMessage::Hidden { id } => {
                if let Some(key) = self.owned_by(server, &id) {
                    self.hide_remote(key, events);
                }
            }
            ServerMessage::Presence { id, away } => {
                let Some(key) = self.owned_by(server, &id) else {
                    return;
                };
                let user = &mut self.members.get_mut(&key).expect("owned").user;
                if user.away != away {
                    user.away = away;
                    events.push(everyone(ServerMessage::Presence { id, away }));
                }
            }
            ServerMessage::Said { id, text } => {
                if self.owned_by(server, &id).is_some() {
                    events.push(everyone(ServerMessage::Said { id, text }));
                }
            }
            ServerMessage::Left { id } => {
                if let Some(key) = self.owned_by(server, &id) {
                    self.remove(key, events);
                }
            }
            ServerMessage::Welcome { .. }
            | ServerMessage::Pong { .. }
            | ServerMessage::Error { .. } => {}
        }
    }

    /// A remote user's position changed: it goes out with the next flush,
    /// together with this server's own.
    fn set_remote_position(&mut self, key: MemberKey, point: cursors_protocol::Point) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        member.user.position = Some(point);
        if !member.dirty {
            member.dirty = true;
            self.dirty.push(key);
        }
    }

    fn hide_remote(&mut self, key: MemberKey, events: &mut Vec<Event>) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        if member.user.position.take().is_none() {
            return;
        }
        let id = member.user.id.clone();
        self.forget_pending_move(key);
        events.push(Event::Broadcast {
            except: None,
            message: ServerMessage::Hidden { id },
        });
    }

    /// `server`'s whole account of its users here: whoever is new joins,
    /// whatever changed is told, and whoever it no longer holds has left.
    fn apply_present(&mut self, server: &str, users: Vec<User>, events: &mut Vec<Event>) {
        let mut present = Vec::with_capacity(users.len());
        for user in users {
            present.push(user.id.clone());
            match self.by_id.get(&user.id).copied() {
                None => {
                    let peer = PeerInfo {
                        id: user.id.clone(),
                        name: user.name.clone(),
                        color: user.color.clone(),
                    };
                    self.apply_remote_message(server, ServerMessage::Joined { peer }, events);
                }
                Some(key) if self.owned_by(server, &user.id) != Some(key) => continue,
                Some(_) => {
                    let id = user.id.clone();
                    let renamed = ServerMessage::Renamed {
                        id: id.clone(),
                        name: user.name.clone(),
                    };
                    self.apply_remote_message(server, renamed, events);
                }
            }
            let Some(key) = self.owned_by(server, &user.id) else {
                continue;
            };
            let id = user.id.clone();
            let away = ServerMessage::Presence {
                id,
                away: user.away,
            };
            self.apply_remote_message(server, away, events);
            match user.position {
                Some(point) => {
                    if self.members[&key].user.position != Some(point) {
                        self.set_remote_position(key, point);
                    }
                }
                None => self.hide_remote(key, events),
            }
        }
        let gone: Vec<MemberKey> = self
            .members
            .iter()
            .filter(|(_, member)| {
                matches!(&member.home, Home::Remote { server: owner } if owner == server)
                    && !present.contains(&member.user.id)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in gone {
            self.remove(key, events);
        }
    }

    /// `server` now holds the user `id`: if it was held here, its
    /// connection here is superseded, silently for everyone else.
    fn apply_claimed(&mut self, server: String, id: &str, events: &mut Vec<Event>) {
        let Some(&key) = self.by_id.get(id) else {
            return;
        };
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        if let Home::Local(session) = &member.home {
            if session.detached_until.is_none() {
                events.push(Event::Superseded {
                    connection: ConnectionKey {
                        member: key,
                        connection: session.connection,
                    },
                });
            }
            self.local_members -= 1;
        }
        member.home = Home::Remote { server };
    }

    /// Removes the users of every server that is no longer alive.
    pub(super) fn remove_ghosts(&mut self, alive: &[String], events: &mut Vec<Event>) {
        let ghosts: Vec<MemberKey> = self
            .members
            .iter()
            .filter(|(_, member)| {
                matches!(&member.home, Home::Remote { server } if !alive.contains(server))
            })
            .map(|(key, _)| *key)
            .collect();
        for key in ghosts {
            self.remove(key, events);
        }
    }
}
