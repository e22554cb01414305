//! The rules of a room, and nothing else: who is in it, where their cursors
//! are, and what everybody must be told when something happens.
//!
//! [`RoomState::apply`] takes one [`Input`] and the time, changes the state,
//! and returns the [`Event`]s that follow, in the order members must see
//! them. It does no I/O and reads no clock, so every rule is unit-tested
//! here with made-up instants (see the tests at the end). The room task
//! (`task.rs`) only moves messages: commands in, `apply`, events out to the
//! members' mailboxes and to the backplane.
//!
//! What is known about a user comes in two parts:
//! - [`User`]: what every copy of the room must agree on (id, name, colour,
//!   position, away). This is what a backplane replicates to other servers.
//! - `Session`: what only the server holding the connection knows: which
//!   connection is live, the resume token, how long a vanished user keeps
//!   their place. Mailboxes and encodings are not here at all: they belong
//!   to the task, which owns the sockets' side.
//!
//! Every command from a connection carries that connection's number
//! ([`ConnectionKey`]). After a resume, the older connection's number no
//! longer matches, so anything it still sends is ignored: a superseded
//! socket cannot move, rename, hide or speak for the user.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use cursors_protocol::{Anchor, CursorPosition, PeerInfo, PeerSnapshot, Point, ServerMessage};
use rand::rngs::StdRng;
use tokio::time::Instant;

use super::crowd::{Crowd, CrowdRules, LONGEST_FLUSH};
use super::flush::{FlushDecision, FlushSchedule, flush_interval};

mod crowd;
mod remote;
use crate::config::FanoutMode;
use crate::identity;
pub use crowd::{CursorFrame, ViewKey};

/// Key of a member inside its room; never reused within a room's life.
pub type MemberKey = u64;

/// One connection of one member. A resume gives the member a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    pub member: MemberKey,
    pub connection: u64,
}

/// How a connection ended, which decides how long its user keeps their
/// place (see `--resume-grace-secs` and `--reload-grace-ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectKind {
    /// The client sent a close frame: a closed or reloading page.
    Clean,
    /// The connection vanished: network loss, missed pongs.
    Dropped,
    /// The server closed it for misbehaving: gone at once.
    Expelled,
}

/// The rules' settings; the same for every room of a server.
#[derive(Debug, Clone)]
pub struct RoomRules {
    pub fanout: FanoutMode,
    /// Longest time positions wait before they are sent.
    pub tick: Duration,
    /// Frames per second the whole server aims to write (see `flush.rs`).
    pub frame_budget: u32,
    /// How long a dropped user may resume.
    pub resume_grace: Duration,
    /// How long a cleanly closed user may resume (a page reload).
    pub reload_grace: Duration,
    /// What every id handed out here starts with: empty for a server alone,
    /// the server's tag when it shares rooms with others.
    pub id_prefix: String,
    /// When a room becomes a crowd and what each member then sees (see
    /// `crowd/`); `None`: never (everybody always sees everybody).
    pub crowd: Option<CrowdRules>,
}

// ANCHOR: input
/// Everything that can happen to a room.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A new connection wants in, as a new user or, with the token of an
    /// earlier `welcome`, as that user again.
    /// `verified_name` is the `name` claim of its room token: shown as
    /// verified, and never changed by the client.
    Join {
        resume: Option<String>,
        verified_name: Option<String>,
    },
    /// A member's connection did something. Ignored unless `from` is that
    /// member's live connection.
    Connection { from: ConnectionKey, action: Action },
    /// Time passed: send the positions that are due, and remove the users
    /// whose grace period is over. `occupied_rooms` is how many rooms of the
    /// server share the frame budget right now.
    Tick { occupied_rooms: usize },
    /// A new connection comes back as a user that another server of the
    /// group held: `spent_token`, found in the shared store, was claimed.
    Adopt { user: User, spent_token: String },
    /// Another server of the group says something happened in this room.
    Remote {
        server: String,
        change: RemoteChange,
    },
    /// These servers of the group are alive; the users of any other are
    /// ghosts of a server that died without a goodbye.
    ServersAlive { servers: Vec<String> },
}

/// What another server shares about the room (see `backplane.rs`).
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteChange {
    /// One of its users joined, moved, renamed, hid, went away, spoke or
    /// left: the same message its own members were sent.
    Message(ServerMessage),
    /// Every user it holds in the room, as it is now (after it reconnected).
    Present(Vec<User>),
    /// This user came back on a connection to that server, which claimed
    /// the resume token `spent_token` (`None` from a server that does not
    /// say, or when a record shows the claim: then it is not checked).
    Claimed {
        id: String,
        spent_token: Option<String>,
    },
}

/// What a connection can do in its room.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Rename(String),
    Move(Point),
    /// The pointer moved over content that anchors it (the embed: see
    /// `Anchor`); the point is the fallback.
    MoveOver(Point, Anchor),
    /// The pointer left the board.
    Hide,
    /// The page was hidden or unfocused (`true`), or came back.
    Away(bool),
    Say(String),
    /// Keep this user (by id) visible to me in a crowd; `None`: nobody.
    Follow(Option<String>),
    /// An emoji reaction (already checked against the fixed set).
    React(String),
    /// "Look here" at this spot of the board.
    Point(Point),
    /// The laser went on or off.
    Laser(bool),
    /// Asking for everyone's attention, or stopping.
    Spotlight(bool),
    /// The connection ended.
    Disconnect(DisconnectKind),
}
// ANCHOR_END: input

// ANCHOR: event
/// What must happen because of an input, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The connection that asked to join is in, as `id` (a returning user
    /// if `resumed`); `welcome` is its first frame. The task answers the
    /// join with it.
    Admitted {
        connection: ConnectionKey,
        id: String,
        welcome: ServerMessage,
        resumed: bool,
    },
    /// This older connection's user resumed on a newer one: close it.
    Superseded { connection: ConnectionKey },
    /// This connection ended: nothing more goes to it.
    Detached { connection: ConnectionKey },
    /// A command came from a connection that is no longer its user's live
    /// one (superseded by a resume, or ended): it was ignored. Not raised
    /// for that connection's own disconnect, which is how it always ends.
    Ignored { connection: ConnectionKey },
    /// Tell every member but `except`.
    Broadcast {
        except: Option<MemberKey>,
        message: ServerMessage,
    },
    /// Send these latest positions to every member but `except`, as one
    /// `cursors` frame.
    Cursors {
        except: Option<MemberKey>,
        moves: Vec<CursorPosition>,
    },
    /// Tell these members only (in a crowd: those who see the person the
    /// message is about). The group hears of it too, unless it is a crowd's
    /// own message (`crowd`, `view`), which each server sends its members.
    Narrowcast {
        to: Vec<MemberKey>,
        message: ServerMessage,
    },
    /// A crowd's flush: `moves` are the room's latest positions (for the
    /// group), `frames` what each group of members here receives.
    CrowdCursors {
        moves: Vec<CursorPosition>,
        frames: Vec<CursorFrame>,
    },
    /// This user, once another server's, is now held here (by claiming
    /// `spent_token`): tell the others.
    Claimed { id: String, spent_token: String },
    /// Tell this one member here what the others already know (the
    /// spotlights and lasers on when they arrived); not for the group.
    CatchUp {
        to: MemberKey,
        message: ServerMessage,
    },
}
// ANCHOR_END: event

impl Input {
    /// Whether the users this input removes are ghosts of a dead server,
    /// whose records the group's store should forget too. Only the word on
    /// who is alive says so. A user missing from another server's
    /// `present` list may have been claimed by a third server whose
    /// `claimed` has not arrived yet: their record is that server's, and
    /// forgetting it would hide a live user from everyone who reads it
    /// next (found by the group simulation, seed 21).
    pub fn removes_ghosts(&self) -> bool {
        matches!(self, Input::ServersAlive { .. })
    }
}

impl Event {
    /// The id of the user this event tells everybody has left, if it does.
    pub fn left(&self) -> Option<&str> {
        match self {
            Event::Broadcast {
                message: ServerMessage::Left { id },
                ..
            }
            | Event::Narrowcast {
                message: ServerMessage::Left { id },
                ..
            } => Some(id),
            _ => None,
        }
    }
}

// ANCHOR: user
/// What every copy of the room knows about a user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub color: String,
    /// `None` while the cursor is hidden.
    pub position: Option<Point>,
    /// The content under the cursor, if its page said (the embed); set and
    /// cleared with `position`.
    pub anchor: Option<Anchor>,
    /// Their page is hidden or unfocused.
    pub away: bool,
    /// Their name is the `name` claim of their room token: shown as
    /// verified, and not theirs to change.
    pub verified: bool,
}

/// What only the server holding the user's connection knows.
#[derive(Debug, Clone)]
struct Session {
    /// Secret that lets this user resume (128 random bits, hex).
    resume_token: String,
    /// The live connection's number; commands from any other are stale.
    connection: u64,
    /// Set while no connection is attached: the user leaves at this instant
    /// unless they resume first.
    detached_until: Option<Instant>,
    /// The user they follow, by id: always in their view in a crowd. Kept
    /// across a resume, and while the followed user reconnects (same id).
    following: Option<String>,
    /// Their laser and spotlight are on. Kept only to send the `off` the
    /// others are owed when the connection ends (a page that closes cannot
    /// say it), and so that repeating a state relays nothing.
    laser: bool,
    spotlight: bool,
}
// ANCHOR_END: user

#[derive(Debug, Clone)]
struct Member {
    user: User,
    home: Home,
    /// Moved since the last flush.
    dirty: bool,
    /// The flush that last carried a move of theirs (a crowd shows the
    /// active ones first).
    last_moved: Option<Instant>,
}

/// Where a member's connection is.
#[derive(Debug, Clone)]
enum Home {
    /// Here.
    Local(Session),
    /// On that other server of the group.
    Remote { server: String },
}

impl Member {
    fn session(&self) -> Option<&Session> {
        match &self.home {
            Home::Local(session) => Some(session),
            Home::Remote { .. } => None,
        }
    }

    fn session_mut(&mut self) -> Option<&mut Session> {
        match &mut self.home {
            Home::Local(session) => Some(session),
            Home::Remote { .. } => None,
        }
    }

    fn is_local(&self) -> bool {
        matches!(self.home, Home::Local(_))
    }
}

impl User {
    fn info(&self) -> PeerInfo {
        PeerInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            color: self.color.to_owned(),
            verified: self.verified,
        }
    }

    pub fn snapshot(&self) -> PeerSnapshot {
        PeerSnapshot {
            away: self.away,
            anchor: self.anchor.clone(),
            ..PeerSnapshot::new(self.info(), self.position)
        }
    }

    fn cursor(&self) -> Option<CursorPosition> {
        let point = self.position?;
        Some(CursorPosition {
            id: self.id.clone(),
            x: point.x,
            y: point.y,
            anchor: self.anchor.clone(),
        })
    }
}

// ANCHOR: state
/// The state of one room. Owned by one task; see the module doc.
#[derive(Debug)]
pub struct RoomState {
    rules: RoomRules,
    /// Ordered by key, i.e. by arrival, so `welcome` lists peers in join order.
    members: BTreeMap<MemberKey, Member>,
    /// Members by id, for what other servers say about them.
    by_id: HashMap<String, MemberKey>,
    /// Members whose connection is here (attached or in their grace period).
    local_members: usize,
    next_member: MemberKey,
    next_connection: u64,
    /// Members whose position changed since the last flush, in move order.
    dirty: Vec<MemberKey>,
    schedule: FlushSchedule,
    /// When the earliest detached member's grace period ends. Kept rather
    /// than found by scanning every member on each turn, which cost 7% of
    /// the server's CPU in a room of 500. It may be early (that member
    /// resumed or left since): a tick then finds nothing to expire and
    /// computes the next one.
    next_expiry: Option<Instant>,
    /// Set while the room is a crowd (see `state/crowd.rs`).
    crowd: Option<Crowd>,
    /// Ids, names and resume tokens. A CSPRNG (ChaCha), seeded from the OS in
    /// the server and from a fixed seed in tests.
    rng: StdRng,
}
// ANCHOR_END: state

impl RoomState {
    pub fn new(rules: RoomRules, rng: StdRng) -> Self {
        Self {
            rules,
            members: BTreeMap::new(),
            by_id: HashMap::new(),
            local_members: 0,
            next_member: 0,
            next_connection: 0,
            dirty: Vec::new(),
            schedule: FlushSchedule::default(),
            next_expiry: None,
            crowd: None,
            rng,
        }
    }

    // ANCHOR: apply
    /// Applies one input at `now` and returns what follows from it.
    pub fn apply(&mut self, input: Input, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        match input {
            Input::Join {
                resume,
                verified_name,
            } => {
                let resumed = resume.is_some_and(|token| {
                    self.resume(&token, verified_name.as_deref(), &mut events)
                });
                if !resumed {
                    self.join(verified_name, &mut events);
                }
            }
            Input::Connection { from, action } => {
                if !self.is_live(from) {
                    // A superseded connection always ends with a disconnect:
                    // that one is expected, the rest arrived too late.
                    if !matches!(action, Action::Disconnect(_)) {
                        events.push(Event::Ignored { connection: from });
                    }
                    return events;
                }
                let member = from.member;
                match action {
                    Action::Rename(name) => self.rename(member, name, &mut events),
                    Action::Move(point) => self.move_to(member, point, None, &mut events),
                    Action::MoveOver(point, anchor) => {
                        self.move_to(member, point, Some(anchor), &mut events)
                    }
                    Action::Hide => self.hide(member, &mut events),
                    Action::Away(away) => self.set_away(member, away, &mut events),
                    Action::Say(text) => self.say(member, text, &mut events),
                    Action::Follow(id) => self.follow(member, id),
                    Action::React(emoji) => self.react(member, emoji, &mut events),
                    Action::Point(point) => self.point(member, point, &mut events),
                    Action::Laser(on) => self.set_laser(member, on, &mut events),
                    Action::Spotlight(on) => self.set_spotlight(member, on, &mut events),
                    Action::Disconnect(kind) => self.detach(from, kind, now, &mut events),
                }
            }
            Input::Tick { occupied_rooms } => {
                self.expire_detached(now, &mut events);
                self.crowd_tick(now, &mut events);
                self.flush_if_due(now, occupied_rooms, &mut events);
            }
            Input::Adopt { user, spent_token } => self.adopt(user, spent_token, &mut events),
            Input::Remote { server, change } => self.apply_remote(server, change, &mut events),
            Input::ServersAlive { servers } => self.remove_ghosts(&servers, &mut events),
        }
        self.update_crowd_mode(now, &mut events);
        events
    }
    // ANCHOR_END: apply

    /// When the room must be ticked next, if ever: the flush deadline or the
    /// first grace period's end.
    pub fn next_wakeup(&self) -> Option<Instant> {
        [self.schedule.due(), self.next_expiry, self.crowd_wakeup()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether positions are waiting for a flush.
    pub fn has_pending_moves(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Nobody connected here is in the room, not even a user who may still
    /// resume: the room's task may end. Other servers' users do not keep it
    /// alive; they concern this server only while it has its own.
    pub fn is_empty(&self) -> bool {
        self.local_members == 0
    }

    /// Every member the room knows of, here and on other servers.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// What the room knows of every member, here and on other servers, in
    /// arrival order (for the group simulation's comparisons).
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.members.values().map(|member| &member.user)
    }

    /// The user with this id and their resume token, if connected here.
    pub fn local_user(&self, id: &str) -> Option<(&User, &str)> {
        let member = self.members.get(self.by_id.get(id)?)?;
        Some((&member.user, member.session()?.resume_token.as_str()))
    }

    /// The users connected here, with their resume tokens.
    pub fn local_users(&self) -> impl Iterator<Item = (&User, &str)> {
        self.members.values().filter_map(|member| {
            let session = member.session()?;
            Some((&member.user, session.resume_token.as_str()))
        })
    }

    /// Whether `token` resumes a user connected here.
    pub fn knows_token(&self, token: &str) -> bool {
        self.holder_of(token).is_some()
    }

    /// The local member whose resume token is `token`.
    fn holder_of(&self, token: &str) -> Option<MemberKey> {
        self.members
            .iter()
            .find(|(_, member)| {
                member
                    .session()
                    .is_some_and(|session| session.resume_token == token)
            })
            .map(|(key, _)| *key)
    }

    /// What the room knows of `member`, if they are in it.
    pub fn user(&self, member: MemberKey) -> Option<&User> {
        self.members.get(&member).map(|member| &member.user)
    }

    /// Every visible cursor of the room: the snapshot a member that fell
    /// behind receives instead of the batches it missed.
    pub fn visible_positions(&self) -> Vec<CursorPosition> {
        self.members
            .values()
            .filter_map(|member| member.user.cursor())
            .collect()
    }

    fn is_live(&self, from: ConnectionKey) -> bool {
        self.members
            .get(&from.member)
            .and_then(Member::session)
            .is_some_and(|session| {
                session.connection == from.connection && session.detached_until.is_none()
            })
    }

    fn new_connection(&mut self) -> u64 {
        let connection = self.next_connection;
        self.next_connection += 1;
        connection
    }

    fn join(&mut self, verified_name: Option<String>, events: &mut Vec<Event>) {
        let id = loop {
            let candidate = identity::random_id_with_prefix(&mut self.rng, &self.rules.id_prefix);
            if !self.by_id.contains_key(&candidate) {
                break candidate;
            }
        };
        let color = identity::pick_color(
            self.members
                .values()
                .map(|member| member.user.color.as_str()),
        );
        let user = User {
            id: id.clone(),
            verified: verified_name.is_some(),
            name: verified_name.unwrap_or_else(|| identity::friendly_name(&mut self.rng)),
            color: color.to_owned(),
            position: None,
            anchor: None,
            away: false,
        };
        let session = Session {
            resume_token: identity::resume_token(&mut self.rng),
            connection: self.new_connection(),
            detached_until: None,
            following: None,
            laser: false,
            spotlight: false,
        };
        let key = self.next_member;
        self.next_member += 1;
        let connection = ConnectionKey {
            member: key,
            connection: session.connection,
        };
        let welcome = self.welcome(&user, &session, key);
        events.push(Event::Admitted {
            connection,
            id,
            welcome,
            resumed: false,
        });
        let joined = ServerMessage::Joined { peer: user.info() };
        self.insert(key, user, Home::Local(session));
        self.tell(key, Some(key), joined, events);
        self.admitted_to_crowd(key, events);
        self.catch_up(key, events);
    }

    fn insert(&mut self, key: MemberKey, user: User, home: Home) {
        if matches!(home, Home::Local(_)) {
            self.local_members += 1;
        }
        self.by_id.insert(user.id.clone(), key);
        self.members.insert(
            key,
            Member {
                user,
                home,
                dirty: false,
                last_moved: None,
            },
        );
    }

    // ANCHOR: resume
    /// Gives a returning user their place back, if `token` is one of this
    /// room's. Tokens live in their room, so another room's token is simply
    /// unknown here. The others see nothing: no `left`, no `joined`.
    fn resume(
        &mut self,
        token: &str,
        verified_name: Option<&str>,
        events: &mut Vec<Event>,
    ) -> bool {
        let Some(key) = self.holder_of(token) else {
            return false;
        };
        // The new socket's token vouches for a name: it is theirs from now.
        if let Some(name) = verified_name {
            let user = &self.members[&key].user;
            if user.name != name || !user.verified {
                if let Some(member) = self.members.get_mut(&key) {
                    member.user.verified = true;
                }
                self.rename(key, name.to_owned(), events);
            }
        }
        // The page that comes back starts with its laser and spotlight off;
        // if the connection it replaces had them on, the others are told.
        self.set_laser(key, false, events);
        self.set_spotlight(key, false, events);
        let connection = self.new_connection();
        let fresh_token = identity::resume_token(&mut self.rng);
        let Some(session) = self.members.get_mut(&key).and_then(Member::session_mut) else {
            return false;
        };
        if session.detached_until.is_none() {
            // Still attached: the old connection has not noticed it is dead.
            // The newer one wins, and the older one is told to close.
            events.push(Event::Superseded {
                connection: ConnectionKey {
                    member: key,
                    connection: session.connection,
                },
            });
        }
        session.connection = connection;
        session.detached_until = None;
        // A token is good for one resume: the welcome carries a fresh one.
        session.resume_token = fresh_token;
        let member = &self.members[&key];
        let Some(session) = member.session() else {
            return false;
        };
        let welcome = self.welcome(&member.user, session, key);
        events.push(Event::Admitted {
            connection: ConnectionKey {
                member: key,
                connection,
            },
            id: member.user.id.clone(),
            welcome,
            resumed: true,
        });
        self.admitted_to_crowd(key, events);
        self.catch_up(key, events);
        true
    }
    // ANCHOR_END: resume

    /// The `welcome` for `user` (member `key`): everyone else, with their
    /// positions (in a crowd: everyone they are shown), and the token to
    /// resume with.
    fn welcome(&self, user: &User, session: &Session, key: MemberKey) -> ServerMessage {
        let shown = self.shown_to(key);
        ServerMessage::Welcome {
            id: user.id.clone(),
            name: user.name.clone(),
            color: user.color.to_owned(),
            verified: user.verified,
            peers: self
                .members
                .iter()
                .filter(|(other, _)| {
                    **other != key && shown.as_ref().is_none_or(|shown| shown.contains(other))
                })
                .map(|(_, peer)| peer.user.snapshot())
                .collect(),
            resume: Some(session.resume_token.clone()),
            // The socket's own business, not the room's: the room task
            // fills it in (see `task.rs`).
            expires: None,
        }
    }

    fn rename(&mut self, key: MemberKey, name: String, events: &mut Vec<Event>) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        if member.user.name == name {
            return;
        }
        member.user.name = name.clone();
        let renamed = ServerMessage::Renamed {
            id: member.user.id.clone(),
            name,
        };
        // The sender hears it too: that is how it learns the name it got.
        self.tell(key, None, renamed, events);
    }

    // ANCHOR: move_to
    fn move_to(
        &mut self,
        key: MemberKey,
        point: Point,
        anchor: Option<Anchor>,
        events: &mut Vec<Event>,
    ) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        member.user.position = Some(point);
        member.user.anchor = anchor;
        match self.rules.fanout {
            // Latest position wins: remember who moved, send at the flush.
            FanoutMode::Coalesced => {
                if !member.dirty {
                    member.dirty = true;
                    self.dirty.push(key);
                }
            }
            // The handbook's relay: this move, to everyone else, now.
            FanoutMode::Immediate => events.push(Event::Cursors {
                except: Some(key),
                moves: member.user.cursor().into_iter().collect(),
            }),
        }
        // In a crowd, views are chosen again from the new positions.
        self.stir_crowd();
    }
    // ANCHOR_END: move_to

    fn hide(&mut self, key: MemberKey, events: &mut Vec<Event>) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        let was_visible = member.user.position.take().is_some();
        member.user.anchor = None;
        let id = member.user.id.clone();
        // A pending move must not reach anyone after the `hidden`, or the
        // cursor would reappear.
        self.forget_pending_move(key);
        if was_visible {
            self.stir_crowd();
            self.tell(key, Some(key), ServerMessage::Hidden { id }, events);
        }
    }

    /// Someone's page was hidden or unfocused, or came back. Away also
    /// hides their cursor: nobody is pointing there any more.
    fn set_away(&mut self, key: MemberKey, away: bool, events: &mut Vec<Event>) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        if member.user.away == away {
            return;
        }
        member.user.away = away;
        let presence = ServerMessage::Presence {
            id: member.user.id.clone(),
            away,
        };
        if away {
            self.hide(key, events);
        }
        self.tell(key, Some(key), presence, events);
    }

    /// Relays cursor-chat text to the others.
    fn say(&mut self, key: MemberKey, text: String, events: &mut Vec<Event>) {
        let Some(member) = self.members.get(&key) else {
            return;
        };
        let said = ServerMessage::Said {
            id: member.user.id.clone(),
            text,
        };
        self.tell(key, Some(key), said, events);
    }

    // ANCHOR: react
    /// Relays a reaction to the others, like cursor chat: the sender's page
    /// shows its own at once, so it is not sent back.
    fn react(&mut self, key: MemberKey, emoji: String, events: &mut Vec<Event>) {
        let Some(member) = self.members.get(&key) else {
            return;
        };
        let reacted = ServerMessage::Reacted {
            id: member.user.id.clone(),
            emoji,
        };
        self.tell(key, Some(key), reacted, events);
    }
    // ANCHOR_END: react

    /// Relays a "look here" ring to the others.
    fn point(&mut self, key: MemberKey, point: Point, events: &mut Vec<Event>) {
        let Some(member) = self.members.get(&key) else {
            return;
        };
        let pointed = ServerMessage::Pointed {
            id: member.user.id.clone(),
            x: point.x,
            y: point.y,
        };
        self.tell(key, Some(key), pointed, events);
    }

    /// The laser went on or off; only a change is relayed.
    fn set_laser(&mut self, key: MemberKey, on: bool, events: &mut Vec<Event>) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        let Some(session) = member.session_mut() else {
            return;
        };
        if session.laser == on {
            return;
        }
        session.laser = on;
        let laser = ServerMessage::Laser {
            id: member.user.id.clone(),
            on,
        };
        self.tell(key, Some(key), laser, events);
    }

    /// Spotlight went on or off; only a change is relayed. Several people
    /// may ask at once: each page shows the newest (see PROTOCOL.md).
    fn set_spotlight(&mut self, key: MemberKey, on: bool, events: &mut Vec<Event>) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        let Some(session) = member.session_mut() else {
            return;
        };
        if session.spotlight == on {
            return;
        }
        session.spotlight = on;
        let spotlight = ServerMessage::Spotlight {
            id: member.user.id.clone(),
            on,
        };
        self.tell(key, Some(key), spotlight, events);
    }

    /// A member just arrived (or came back): the spotlights and lasers
    /// already on here are told to them alone, so their page shows the
    /// banner and the trails the others see. In a crowd, only those of
    /// people they are shown.
    fn catch_up(&self, key: MemberKey, events: &mut Vec<Event>) {
        let shown = self.shown_to(key);
        for (other, member) in &self.members {
            let Some(session) = member.session() else {
                continue;
            };
            if *other == key || shown.as_ref().is_some_and(|shown| !shown.contains(other)) {
                continue;
            }
            let id = &member.user.id;
            let on = [
                session.spotlight.then(|| ServerMessage::Spotlight {
                    id: id.clone(),
                    on: true,
                }),
                session.laser.then(|| ServerMessage::Laser {
                    id: id.clone(),
                    on: true,
                }),
            ];
            events.extend(
                on.into_iter()
                    .flatten()
                    .map(|message| Event::CatchUp { to: key, message }),
            );
        }
    }

    fn follow(&mut self, key: MemberKey, id: Option<String>) {
        if let Some(session) = self.members.get_mut(&key).and_then(Member::session_mut) {
            session.following = id;
        }
        self.stir_crowd();
    }

    // ANCHOR: detach
    /// A connection ended. Its user keeps their place for a grace period
    /// (none if expelled), with their cursor hidden so no ghost stays behind.
    fn detach(
        &mut self,
        connection: ConnectionKey,
        kind: DisconnectKind,
        now: Instant,
        events: &mut Vec<Event>,
    ) {
        let grace = match kind {
            DisconnectKind::Clean => self.rules.reload_grace,
            DisconnectKind::Dropped => self.rules.resume_grace,
            DisconnectKind::Expelled => Duration::ZERO,
        };
        events.push(Event::Detached { connection });
        let key = connection.member;
        // A closed page cannot switch its laser or spotlight off: the others
        // are told now, not after the grace (a reload starts with both off).
        self.set_laser(key, false, events);
        self.set_spotlight(key, false, events);
        if grace.is_zero() {
            self.remove(key, events);
            return;
        }
        let Some(session) = self.members.get_mut(&key).and_then(Member::session_mut) else {
            return;
        };
        let until = now + grace;
        session.detached_until = Some(until);
        self.next_expiry = Some(self.next_expiry.map_or(until, |next| next.min(until)));
        self.hide(key, events);
    }
    // ANCHOR_END: detach

    /// Removes the detached users whose grace period is over.
    fn expire_detached(&mut self, now: Instant, events: &mut Vec<Event>) {
        if self.next_expiry.is_none_or(|next| next > now) {
            return;
        }
        let expired: Vec<MemberKey> = self
            .members
            .iter()
            .filter(|(_, member)| {
                member
                    .session()
                    .and_then(|session| session.detached_until)
                    .is_some_and(|until| until <= now)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in expired {
            self.remove(key, events);
        }
        self.next_expiry = self
            .members
            .values()
            .filter_map(|member| member.session()?.detached_until)
            .min();
    }

    fn remove(&mut self, key: MemberKey, events: &mut Vec<Event>) {
        self.forget_pending_move(key);
        let Some(member) = self.members.remove(&key) else {
            return;
        };
        self.by_id.remove(&member.user.id);
        if member.is_local() {
            self.local_members -= 1;
        }
        // Told before the crowd forgets them: their viewers must hear it.
        self.tell(
            key,
            None,
            ServerMessage::Left { id: member.user.id },
            events,
        );
        self.forget_in_crowd(key);
    }

    fn forget_pending_move(&mut self, key: MemberKey) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        if member.dirty {
            member.dirty = false;
            self.dirty.retain(|dirty| *dirty != key);
            if self.dirty.is_empty() {
                self.schedule.cancel();
            }
        }
    }

    // ANCHOR: flush
    /// Sends the waiting positions if the schedule says so (see `flush.rs`).
    fn flush_if_due(&mut self, now: Instant, occupied_rooms: usize, events: &mut Vec<Event>) {
        if self.dirty.is_empty() {
            return;
        }
        // Sized by the whole room, here and on the other servers, not by
        // the members connected here: how many positions a frame carries
        // depends on how many users move, and each server's writes are a
        // share of the room's. Counting only its own members, each of two
        // servers sharing a room flushed twice as often as one server
        // alone would, so the room wrote twice the frames for the same
        // positions (1.95x the CPU per delivered position at 200 users).
        let mut interval = flush_interval(
            self.members.len(),
            occupied_rooms,
            self.rules.frame_budget,
            self.rules.tick,
        );
        if self.is_crowd() {
            // A crowd spends the budget too, one write per member here
            // (frames carry views, not the room), but never waits more than
            // LONGEST_FLUSH: every receiver is updated at least ten times a
            // second.
            let uncapped = flush_interval(
                self.local_members,
                occupied_rooms,
                self.rules.frame_budget,
                LONGEST_FLUSH,
            );
            interval = interval.max(uncapped);
        }
        if self.schedule.decide(now, interval) != FlushDecision::Now {
            return;
        }
        self.schedule.flushed(now);
        let mut moves = Vec::with_capacity(self.dirty.len());
        for key in &self.dirty {
            if let Some(member) = self.members.get(key) {
                moves.extend(member.user.cursor());
            }
        }
        // In a crowd, each cell's frame is cut from the dirty marks, so
        // they are cleared only after.
        let batch = if moves.is_empty() {
            None
        } else if self.is_crowd() {
            Some(self.crowd_frames(moves))
        } else {
            // The mover receives its own position too (the protocol allows
            // it): that is what lets every member share one serialised frame.
            Some(Event::Cursors {
                except: None,
                moves,
            })
        };
        for key in std::mem::take(&mut self.dirty) {
            if let Some(member) = self.members.get_mut(&key) {
                member.dirty = false;
                member.last_moved = Some(now);
            }
        }
        events.extend(batch);
    }
    // ANCHOR_END: flush
}

/// The rules every room unit test starts from (here, in `remote.rs`,
/// `hub.rs` and the Redis replication's tests).
#[cfg(test)]
pub(crate) mod test_rules {
    use super::{Duration, FanoutMode, RoomRules};

    pub const TICK: Duration = Duration::from_millis(16);
    pub const RESUME_GRACE: Duration = Duration::from_secs(10);
    pub const RELOAD_GRACE: Duration = Duration::from_millis(1500);

    /// A budget no test room comes near; `id_prefix` is the server's tag
    /// (empty for a server alone).
    pub fn rules(fanout: FanoutMode, id_prefix: &str) -> RoomRules {
        RoomRules {
            fanout,
            tick: TICK,
            frame_budget: 30_000,
            resume_grace: RESUME_GRACE,
            reload_grace: RELOAD_GRACE,
            id_prefix: id_prefix.to_owned(),
            crowd: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    use super::test_rules::{RELOAD_GRACE, RESUME_GRACE, TICK};

    fn rules(fanout: FanoutMode) -> RoomRules {
        super::test_rules::rules(fanout, "")
    }

    /// A room and the instant its test starts at; time only moves when a
    /// test says so.
    struct Room {
        state: RoomState,
        now: Instant,
    }

    /// What a join gave a test: the connection, the id and the resume token.
    #[derive(Debug, Clone)]
    struct Joined {
        connection: ConnectionKey,
        id: String,
        token: String,
    }

    impl Room {
        fn new() -> Self {
            Self::with(rules(FanoutMode::Coalesced))
        }

        fn with(rules: RoomRules) -> Self {
            Self {
                state: RoomState::new(rules, StdRng::seed_from_u64(7)),
                now: Instant::now(),
            }
        }

        fn apply(&mut self, input: Input) -> Vec<Event> {
            self.state.apply(input, self.now)
        }

        fn act(&mut self, from: &Joined, action: Action) -> Vec<Event> {
            self.apply(Input::Connection {
                from: from.connection,
                action,
            })
        }

        fn tick(&mut self) -> Vec<Event> {
            self.apply(Input::Tick { occupied_rooms: 1 })
        }

        fn advance(&mut self, by: Duration) {
            self.now += by;
        }

        fn join(&mut self) -> Joined {
            let events = self.apply(Input::Join {
                resume: None,
                verified_name: None,
            });
            admitted(&events)
        }

        fn resume(&mut self, token: &str) -> (Joined, Vec<Event>) {
            let events = self.apply(Input::Join {
                verified_name: None,
                resume: Some(token.to_owned()),
            });
            (admitted(&events), events)
        }
    }

    fn admitted(events: &[Event]) -> Joined {
        events
            .iter()
            .find_map(|event| match event {
                Event::Admitted {
                    connection,
                    id,
                    welcome: ServerMessage::Welcome { resume, .. },
                    ..
                } => Some(Joined {
                    connection: *connection,
                    id: id.clone(),
                    token: resume.clone().expect("a welcome carries a token"),
                }),
                _ => None,
            })
            .expect("an Admitted event")
    }

    fn point(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    fn broadcast(except: Option<&Joined>, message: ServerMessage) -> Event {
        Event::Broadcast {
            except: except.map(|joined| joined.connection.member),
            message,
        }
    }

    fn cursors(moves: &[(&Joined, f64, f64)]) -> Event {
        Event::Cursors {
            except: None,
            moves: moves
                .iter()
                .map(|(who, x, y)| CursorPosition {
                    anchor: None,
                    id: who.id.clone(),
                    x: *x,
                    y: *y,
                })
                .collect(),
        }
    }

    fn left(who: &Joined) -> Event {
        broadcast(None, ServerMessage::Left { id: who.id.clone() })
    }

    fn hidden(who: &Joined) -> Event {
        broadcast(Some(who), ServerMessage::Hidden { id: who.id.clone() })
    }

    fn detached(who: &Joined) -> Event {
        Event::Detached {
            connection: who.connection,
        }
    }

    fn ignored(who: &Joined) -> Event {
        Event::Ignored {
            connection: who.connection,
        }
    }

    fn welcome_peers(events: &[Event]) -> Vec<PeerSnapshot> {
        events
            .iter()
            .find_map(|event| match event {
                Event::Admitted {
                    welcome: ServerMessage::Welcome { peers, .. },
                    ..
                } => Some(peers.clone()),
                _ => None,
            })
            .expect("a welcome")
    }

    #[test]
    fn a_join_is_admitted_first_then_announced_to_the_others() {
        let mut room = Room::new();
        let alice = room.join();
        let events = room.apply(Input::Join {
            resume: None,
            verified_name: None,
        });
        let bob = admitted(&events);
        let peer = room.state.user(bob.connection.member).unwrap().info();
        assert!(matches!(events[0], Event::Admitted { resumed: false, .. }));
        assert_eq!(
            events[1],
            broadcast(Some(&bob), ServerMessage::Joined { peer })
        );
        assert_eq!(events.len(), 2);
        // Bob's welcome lists Alice, in join order, without himself.
        let peers = welcome_peers(&events);
        assert_eq!(
            peers.iter().map(|peer| &peer.id).collect::<Vec<_>>(),
            [&alice.id]
        );
    }

    #[test]
    fn ids_and_colours_differ_within_a_room() {
        let mut room = Room::new();
        let users: Vec<Joined> = (0..12).map(|_| room.join()).collect();
        let mut ids: Vec<&str> = users.iter().map(|user| user.id.as_str()).collect();
        let mut colors: Vec<&str> = users
            .iter()
            .map(|user| {
                room.state
                    .user(user.connection.member)
                    .unwrap()
                    .color
                    .as_str()
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        colors.sort_unstable();
        colors.dedup();
        assert_eq!((ids.len(), colors.len()), (12, 12));
    }

    // ANCHOR: latest-wins-test
    #[test]
    fn moves_wait_for_the_flush_and_the_latest_position_wins() {
        let mut room = Room::new();
        let alice = room.join();
        let bob = room.join();
        // The leading edge: a first move in a quiet room goes out at once.
        assert!(room.act(&alice, Action::Move(point(0.1, 0.1))).is_empty());
        assert_eq!(room.tick(), [cursors(&[(&alice, 0.1, 0.1)])]);
        // Within the interval, moves wait, and only the latest of each
        // user is sent, in the order they first moved.
        room.act(&bob, Action::Move(point(0.2, 0.2)));
        room.act(&alice, Action::Move(point(0.3, 0.3)));
        room.act(&bob, Action::Move(point(0.4, 0.4)));
        assert!(room.tick().is_empty());
        let due = room.state.next_wakeup().expect("a flush is due");
        room.now = due;
        assert_eq!(
            room.tick(),
            [cursors(&[(&bob, 0.4, 0.4), (&alice, 0.3, 0.3)])]
        );
        assert_eq!(room.state.next_wakeup(), None);
    }
    // ANCHOR_END: latest-wins-test

    #[test]
    fn the_flush_interval_grows_with_the_members_and_the_busy_rooms_up_to_the_tick() {
        let mut rules = rules(FanoutMode::Coalesced);
        rules.frame_budget = 1_000;
        let mut room = Room::with(rules);
        let users: Vec<Joined> = (0..4).map(|_| room.join()).collect();
        let start = room.now;
        let wait_after_a_flush = |room: &mut Room, occupied_rooms: usize| {
            room.act(&users[0], Action::Move(point(0.5, 0.5)));
            room.apply(Input::Tick { occupied_rooms });
            let flushed_at = room.now;
            room.act(&users[1], Action::Move(point(0.5, 0.5)));
            room.apply(Input::Tick { occupied_rooms });
            let due = room.state.next_wakeup().expect("the second move waits");
            room.now = due;
            assert_eq!(room.apply(Input::Tick { occupied_rooms }).len(), 1);
            room.advance(Duration::from_secs(1)); // quiet again
            due - flushed_at
        };
        // 4 members, 1 room, 1,000 frames/s: 4 ms. Three busy rooms: 12 ms.
        assert_eq!(wait_after_a_flush(&mut room, 1), Duration::from_millis(4));
        assert_eq!(wait_after_a_flush(&mut room, 3), Duration::from_millis(12));
        // Ten would need 40 ms: the tick caps it.
        assert_eq!(wait_after_a_flush(&mut room, 10), TICK);
        assert!(room.now > start);
    }

    #[test]
    fn the_immediate_fanout_relays_each_move_alone_to_the_others() {
        let mut room = Room::with(rules(FanoutMode::Immediate));
        let alice = room.join();
        room.join();
        let events = room.act(&alice, Action::Move(point(0.25, 0.75)));
        assert_eq!(
            events,
            [Event::Cursors {
                except: Some(alice.connection.member),
                moves: vec![CursorPosition {
                    anchor: None,
                    id: alice.id.clone(),
                    x: 0.25,
                    y: 0.75
                }],
            }]
        );
        assert!(room.tick().is_empty(), "nothing waits for a flush");
    }

    #[test]
    fn hiding_cancels_the_pending_move_and_tells_the_others_once() {
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        room.act(&alice, Action::Move(point(0.1, 0.1)));
        room.tick();
        room.act(&alice, Action::Move(point(0.2, 0.2)));
        room.tick();
        assert!(room.state.has_pending_moves());
        assert_eq!(room.act(&alice, Action::Hide), [hidden(&alice)]);
        assert!(!room.state.has_pending_moves());
        assert_eq!(room.state.next_wakeup(), None, "no flush left to wake for");
        // Hidden already: nothing to say.
        assert!(room.act(&alice, Action::Hide).is_empty());
    }

    #[test]
    fn away_hides_the_cursor_before_announcing_the_presence() {
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        room.act(&alice, Action::Move(point(0.1, 0.1)));
        room.tick();
        let presence = |away| {
            broadcast(
                Some(&alice),
                ServerMessage::Presence {
                    id: alice.id.clone(),
                    away,
                },
            )
        };
        assert_eq!(
            room.act(&alice, Action::Away(true)),
            [hidden(&alice), presence(true)]
        );
        assert!(room.act(&alice, Action::Away(true)).is_empty(), "no change");
        assert_eq!(room.act(&alice, Action::Away(false)), [presence(false)]);
        // A newcomer sees who is away.
        room.act(&alice, Action::Away(true));
        let events = room.apply(Input::Join {
            resume: None,
            verified_name: None,
        });
        assert!(welcome_peers(&events)[0].away);
    }

    #[test]
    fn a_rename_is_echoed_to_everyone_and_chat_to_the_others() {
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        let renamed = ServerMessage::Renamed {
            id: alice.id.clone(),
            name: "Alice".into(),
        };
        assert_eq!(
            room.act(&alice, Action::Rename("Alice".into())),
            [broadcast(None, renamed)]
        );
        assert!(room.act(&alice, Action::Rename("Alice".into())).is_empty());
        let said = ServerMessage::Said {
            id: alice.id.clone(),
            text: "hi".into(),
        };
        assert_eq!(
            room.act(&alice, Action::Say("hi".into())),
            [broadcast(Some(&alice), said)]
        );
    }

    // ANCHOR: react-test
    #[test]
    fn reactions_and_points_go_to_the_others_not_back() {
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        let reacted = ServerMessage::Reacted {
            id: alice.id.clone(),
            emoji: "🎉".into(),
        };
        assert_eq!(
            room.act(&alice, Action::React("🎉".into())),
            [broadcast(Some(&alice), reacted)]
        );
        // ANCHOR_END: react-test
        let pointed = ServerMessage::Pointed {
            id: alice.id.clone(),
            x: 0.25,
            y: 0.75,
        };
        assert_eq!(
            room.act(&alice, Action::Point(point(0.25, 0.75))),
            [broadcast(Some(&alice), pointed)]
        );
        // Neither moves the cursor nor waits for a flush.
        assert!(room.tick().is_empty());
    }

    #[test]
    fn laser_and_spotlight_relay_only_changes() {
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        let laser = |on| {
            broadcast(
                Some(&alice),
                ServerMessage::Laser {
                    id: alice.id.clone(),
                    on,
                },
            )
        };
        let spotlight = |on| {
            broadcast(
                Some(&alice),
                ServerMessage::Spotlight {
                    id: alice.id.clone(),
                    on,
                },
            )
        };
        assert_eq!(room.act(&alice, Action::Laser(true)), [laser(true)]);
        assert!(room.act(&alice, Action::Laser(true)).is_empty(), "held key");
        assert_eq!(room.act(&alice, Action::Laser(false)), [laser(false)]);
        assert!(room.act(&alice, Action::Laser(false)).is_empty());
        assert_eq!(room.act(&alice, Action::Spotlight(true)), [spotlight(true)]);
        assert!(room.act(&alice, Action::Spotlight(true)).is_empty());
        assert_eq!(
            room.act(&alice, Action::Spotlight(false)),
            [spotlight(false)]
        );
    }

    #[test]
    fn a_newcomer_is_told_of_the_spotlight_already_on_and_no_one_else_is() {
        let mut room = Room::new();
        let alice = room.join();
        room.act(&alice, Action::Spotlight(true));
        let events = room.apply(Input::Join {
            resume: None,
            verified_name: None,
        });
        let bob = admitted(&events);
        let caught_up: Vec<&Event> = events
            .iter()
            .filter(|event| matches!(event, Event::CatchUp { .. }))
            .collect();
        assert_eq!(
            caught_up,
            [&Event::CatchUp {
                to: bob.connection.member,
                message: ServerMessage::Spotlight {
                    id: alice.id.clone(),
                    on: true
                }
            }]
        );
        // Once it is off, a newcomer hears of nothing.
        room.act(&alice, Action::Spotlight(false));
        let events = room.apply(Input::Join {
            resume: None,
            verified_name: None,
        });
        assert!(
            !events
                .iter()
                .any(|event| matches!(event, Event::CatchUp { .. }))
        );
    }

    #[test]
    fn an_ended_connection_switches_its_laser_and_spotlight_off_at_once() {
        for kind in [
            DisconnectKind::Clean,
            DisconnectKind::Dropped,
            DisconnectKind::Expelled,
        ] {
            let mut room = Room::new();
            let alice = room.join();
            room.join();
            room.act(&alice, Action::Laser(true));
            room.act(&alice, Action::Spotlight(true));
            let events = room.act(&alice, Action::Disconnect(kind));
            let off = |message: ServerMessage| events.contains(&broadcast(Some(&alice), message));
            assert!(
                off(ServerMessage::Laser {
                    id: alice.id.clone(),
                    on: false
                }),
                "{kind:?}: {events:?}"
            );
            assert!(
                off(ServerMessage::Spotlight {
                    id: alice.id.clone(),
                    on: false
                }),
                "{kind:?}: {events:?}"
            );
        }
        // Off already: an ending says nothing more than before.
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        room.act(&alice, Action::Spotlight(true));
        room.act(&alice, Action::Spotlight(false));
        assert_eq!(
            room.act(&alice, Action::Disconnect(DisconnectKind::Clean)),
            [detached(&alice)]
        );
    }

    #[test]
    fn a_takeover_switches_off_what_the_old_page_had_on() {
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        room.act(&alice, Action::Spotlight(true));
        let (again, events) = room.resume(&alice.token);
        assert_eq!(
            events[0],
            broadcast(
                Some(&alice),
                ServerMessage::Spotlight {
                    id: alice.id.clone(),
                    on: false
                }
            )
        );
        // The new page can ask again, and is relayed.
        assert_eq!(room.act(&again, Action::Spotlight(true)).len(), 1);
    }

    #[test]
    fn each_way_of_ending_has_its_grace_period() {
        for (kind, grace) in [
            (DisconnectKind::Clean, RELOAD_GRACE),
            (DisconnectKind::Dropped, RESUME_GRACE),
        ] {
            let mut room = Room::new();
            let alice = room.join();
            room.join();
            room.act(&alice, Action::Move(point(0.5, 0.5)));
            room.tick();
            // The cursor goes at once; the user stays listed.
            assert_eq!(
                room.act(&alice, Action::Disconnect(kind)),
                [detached(&alice), hidden(&alice)]
            );
            assert_eq!(room.state.next_wakeup(), Some(room.now + grace));
            room.advance(grace - Duration::from_millis(1));
            assert!(room.tick().is_empty(), "{kind:?}: still within the grace");
            room.advance(Duration::from_millis(1));
            assert_eq!(room.tick(), [left(&alice)], "{kind:?}");
            assert_eq!(room.state.member_count(), 1);
            assert_eq!(room.state.next_wakeup(), None);
        }
        // Expelled: gone at once.
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        assert_eq!(
            room.act(&alice, Action::Disconnect(DisconnectKind::Expelled)),
            [detached(&alice), left(&alice)]
        );
    }

    #[test]
    fn a_resume_within_the_grace_keeps_the_identity_and_tells_nobody() {
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        room.act(&alice, Action::Rename("Alice".into()));
        room.act(&alice, Action::Disconnect(DisconnectKind::Dropped));
        room.advance(RESUME_GRACE / 2);
        let (again, events) = room.resume(&alice.token);
        assert_eq!(events.len(), 1, "only the admission: {events:?}");
        assert!(matches!(events[0], Event::Admitted { resumed: true, .. }));
        assert_eq!(again.id, alice.id);
        assert_eq!(again.connection.member, alice.connection.member);
        assert_ne!(again.connection, alice.connection, "a new connection");
        assert_ne!(again.token, alice.token, "a token is good once");
        assert_eq!(
            room.state.user(again.connection.member).unwrap().name,
            "Alice"
        );
        // The grace period is over for good: nobody leaves when it ends.
        room.advance(RESUME_GRACE);
        assert!(room.tick().is_empty());
        // The old token is spent: it makes a new user.
        let (stranger, _) = room.resume(&alice.token);
        assert_ne!(stranger.id, alice.id);
        // And a token too late is just as unknown.
        room.act(&again, Action::Disconnect(DisconnectKind::Dropped));
        room.advance(RESUME_GRACE);
        assert_eq!(room.tick(), [left(&again)]);
        let (late, _) = room.resume(&again.token);
        assert_ne!(late.id, alice.id);
    }

    #[test]
    fn a_takeover_supersedes_the_old_connection_first() {
        let mut room = Room::new();
        let alice = room.join();
        let (again, events) = room.resume(&alice.token);
        assert_eq!(
            events[0],
            Event::Superseded {
                connection: alice.connection
            }
        );
        assert!(matches!(events[1], Event::Admitted { .. }));
        assert_eq!(events.len(), 2);
        assert_eq!(again.id, alice.id);
    }

    // ANCHOR: superseded-test
    #[test]
    fn a_superseded_connection_can_no_longer_act_for_the_user() {
        let mut room = Room::new();
        let alice = room.join();
        let bob = room.join();
        let (again, _) = room.resume(&alice.token);
        for action in [
            Action::Move(point(0.9, 0.9)),
            Action::Say("not me".into()),
            Action::Rename("Mallory".into()),
            Action::Hide,
            Action::Away(true),
            Action::React("👍".into()),
            Action::Point(point(0.5, 0.5)),
            Action::Laser(true),
            Action::Spotlight(true),
        ] {
            assert_eq!(
                room.act(&alice, action.clone()),
                [ignored(&alice)],
                "{action:?}"
            );
        }
        // Its own end changes nothing either.
        let ended = room.act(&alice, Action::Disconnect(DisconnectKind::Expelled));
        assert!(ended.is_empty());
        assert!(room.tick().is_empty(), "no move was kept for a flush");
        let user = room.state.user(again.connection.member).unwrap();
        assert_eq!((user.position, user.away), (None, false));
        // The new connection acts as usual.
        room.act(&again, Action::Move(point(0.1, 0.2)));
        assert_eq!(room.tick(), [cursors(&[(&again, 0.1, 0.2)])]);
        assert_eq!(room.state.member_count(), 2);
        let _ = bob;
    }
    // ANCHOR_END: superseded-test

    #[test]
    fn an_ended_connection_is_inert_too() {
        let mut room = Room::new();
        let alice = room.join();
        room.join();
        room.act(&alice, Action::Disconnect(DisconnectKind::Dropped));
        let late = room.act(&alice, Action::Say("late".into()));
        assert_eq!(late, [ignored(&alice)]);
        let late = room.act(&alice, Action::Move(point(0.5, 0.5)));
        assert_eq!(late, [ignored(&alice)]);
        // A second disconnect does not restart the grace.
        let again = room.act(&alice, Action::Disconnect(DisconnectKind::Clean));
        assert!(again.is_empty());
        assert_eq!(room.state.next_wakeup(), Some(room.now + RESUME_GRACE));
    }

    #[test]
    fn the_last_user_leaving_empties_the_room() {
        let mut room = Room::new();
        let alice = room.join();
        room.act(&alice, Action::Disconnect(DisconnectKind::Clean));
        assert!(!room.state.is_empty(), "a reload may still come back");
        room.advance(RELOAD_GRACE);
        room.tick();
        assert!(room.state.is_empty());
    }

    #[test]
    fn the_earliest_grace_period_wakes_the_room_and_the_next_follows() {
        let mut room = Room::new();
        let alice = room.join();
        let bob = room.join();
        room.join();
        room.act(&alice, Action::Disconnect(DisconnectKind::Dropped));
        room.advance(Duration::from_secs(1));
        room.act(&bob, Action::Disconnect(DisconnectKind::Clean));
        let start = room.now;
        assert_eq!(room.state.next_wakeup(), Some(start + RELOAD_GRACE));
        room.now = start + RELOAD_GRACE;
        assert_eq!(room.tick(), [left(&bob)]);
        let alice_expires = start - Duration::from_secs(1) + RESUME_GRACE;
        assert_eq!(room.state.next_wakeup(), Some(alice_expires));
        room.now = alice_expires;
        assert_eq!(room.tick(), [left(&alice)]);
    }

    #[test]
    fn a_flush_and_an_expiry_due_together_come_in_one_tick_leaves_first() {
        let mut room = Room::new();
        let alice = room.join();
        let bob = room.join();
        room.act(&alice, Action::Disconnect(DisconnectKind::Expelled));
        room.act(&bob, Action::Move(point(0.5, 0.5)));
        let carol = room.join();
        room.act(&carol, Action::Disconnect(DisconnectKind::Clean));
        room.advance(RELOAD_GRACE);
        assert_eq!(room.tick(), [left(&carol), cursors(&[(&bob, 0.5, 0.5)])]);
    }
}
