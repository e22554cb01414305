//! Rooms: who is in them, where their cursors are, and the fan-out of every
//! change to the other members.
//!
//! Each room is owned by one task ([`Room::run`]). Connections never touch
//! room state; they send [`RoomCommand`]s over a bounded channel and receive
//! frames through their [`Mailbox`]. One owner means no locks on the hot
//! path and a single, obvious order of events per room: whatever the room
//! task did first, every member sees first.
//!
//! The [`RoomHub`] maps room names to running rooms. Its lock is taken only
//! to join a room and when an empty room shuts itself down, never per move.
//!
//! In the default coalesced fan-out, moves mark their member *dirty*; a flush
//! sends one `cursors` frame with the latest position of every dirty member,
//! serialised once and shared by every mailbox. Flushes are throttled with a
//! leading edge: a move into a room that has not flushed for its interval goes
//! out at once. The interval grows with the room, because each flush costs one
//! write per member, and with the number of busy rooms, because they share
//! the server: it is `members × rooms / frame_budget`, capped at the tick. A
//! lone room of 10 flushes every move (a third of a millisecond apart at most);
//! a room of 500, or 100 rooms of 10, flush once per 16 ms tick, where
//! coalescing is what keeps the server afloat.
//!
//! The immediate fan-out (`--fanout immediate`) is the handbook's relay, kept
//! as the benchmark's baseline: each move becomes a one-move frame for every
//! other member at once, and nothing is merged until a member falls a whole
//! outbound queue behind.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
use cursors_protocol::{
    CursorPosition, PeerInfo, PeerSnapshot, Point, RoomName, ServerMessage, binary,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::config::FanoutMode;
use crate::identity;
use crate::mailbox::{BatchDelivery, Mailbox};
use crate::metrics::Metrics;

/// Commands a room accepts from its members' connections.
#[derive(Debug)]
enum RoomCommand {
    Join {
        encoding: Encoding,
        resume: Option<String>,
        reply: oneshot::Sender<Admission>,
    },
    Say {
        member: MemberKey,
        text: String,
    },
    Presence {
        member: MemberKey,
        away: bool,
    },
    Hello {
        member: MemberKey,
        name: String,
    },
    Move {
        member: MemberKey,
        point: Point,
    },
    Leave {
        member: MemberKey,
    },
    Disconnect {
        member: MemberKey,
        connection: u64,
        kind: DisconnectKind,
    },
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

/// How a member receives `cursors` frames: JSON text (the default) or the
/// compact binary layout, when it negotiated `cursors.binary.v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Binary,
}

/// Key of a member inside its room; never reused within a room's life.
type MemberKey = u64;

/// What the room answers to a `Join`.
#[derive(Debug)]
struct Admission {
    member: MemberKey,
    /// Which connection of this member this is (a resume makes a new one).
    connection: u64,
    id: String,
    mailbox: Arc<Mailbox>,
}

/// How rooms behave; the same for every room of a server.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    pub fanout: FanoutMode,
    pub tick: Duration,
    /// Frames per second the whole server aims to write, split between the
    /// rooms that have members.
    pub frame_budget: u32,
    /// How long a dropped user may resume.
    pub resume_grace: Duration,
    /// How long a cleanly closed user may resume (a page reload).
    pub reload_grace: Duration,
    pub outbound_queue: usize,
    /// Commands that may wait for a room task before senders wait too.
    pub command_queue: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the room kept closing while we tried to join it")]
    RoomUnavailable,
}

/// The room went away (only possible while the server shuts down).
#[derive(Debug, thiserror::Error)]
#[error("the room is gone")]
pub struct RoomGone;

#[derive(Debug, Clone)]
struct RoomHandle {
    commands: mpsc::Sender<RoomCommand>,
}

/// Every running room, by name.
#[derive(Debug)]
pub struct RoomHub {
    rooms: Mutex<HashMap<RoomName, RoomHandle>>,
    /// Rooms with at least one member, for splitting the frame budget.
    occupied_rooms: AtomicUsize,
    settings: RoomSettings,
    metrics: Arc<Metrics>,
}

impl RoomHub {
    pub fn new(settings: RoomSettings, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            rooms: Mutex::new(HashMap::new()),
            occupied_rooms: AtomicUsize::new(0),
            settings,
            metrics,
        })
    }

    /// Number of rooms with a running task.
    pub fn room_count(&self) -> usize {
        self.lock_rooms().len()
    }

    /// Joins `room`, starting it if needed. The returned membership's mailbox
    /// already holds the `welcome` frame.
    pub async fn join(
        self: &Arc<Self>,
        room: &RoomName,
        encoding: Encoding,
        resume: Option<&str>,
    ) -> Result<Membership, JoinError> {
        // An empty room shuts itself down; a join can race with that. The room
        // then refuses the join (drops the reply) and the next attempt starts
        // a fresh room. Two retries are plenty: a new room is not empty.
        for _ in 0..3 {
            let handle = self.room_handle(room);
            let (reply, admission) = oneshot::channel();
            if handle
                .commands
                .send(RoomCommand::Join {
                    encoding,
                    resume: resume.map(str::to_owned),
                    reply,
                })
                .await
                .is_err()
            {
                continue;
            }
            if let Ok(admission) = admission.await {
                return Ok(Membership {
                    member: admission.member,
                    connection: admission.connection,
                    ending: DisconnectKind::Dropped,
                    id: admission.id,
                    mailbox: admission.mailbox,
                    commands: handle.commands,
                });
            }
        }
        Err(JoinError::RoomUnavailable)
    }

    fn room_handle(self: &Arc<Self>, room: &RoomName) -> RoomHandle {
        let mut rooms = self.lock_rooms();
        if let Some(handle) = rooms
            .get(room)
            .filter(|handle| !handle.commands.is_closed())
        {
            return handle.clone();
        }
        let (commands, receiver) = mpsc::channel(self.settings.command_queue.max(1));
        let handle = RoomHandle { commands };
        rooms.insert(room.clone(), handle.clone());
        self.metrics.rooms_opened();
        let task = Room::new(room.clone(), self.settings.clone(), Arc::downgrade(self));
        tokio::spawn(task.run(receiver));
        handle
    }

    fn lock_rooms(&self) -> std::sync::MutexGuard<'_, HashMap<RoomName, RoomHandle>> {
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A connection's place in a room. Dropping it leaves the room: the room
/// tells the others `left` whatever way the connection ended.
#[derive(Debug)]
pub struct Membership {
    member: MemberKey,
    connection: u64,
    /// Reported to the room when this membership is dropped.
    ending: DisconnectKind,
    id: String,
    mailbox: Arc<Mailbox>,
    commands: mpsc::Sender<RoomCommand>,
}

impl Membership {
    /// The id the server gave this user.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the room puts this user's outbound frames.
    pub fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    pub async fn rename(&self, name: String) -> Result<(), RoomGone> {
        self.send(RoomCommand::Hello {
            member: self.member,
            name,
        })
        .await
    }

    pub async fn move_to(&self, point: Point) -> Result<(), RoomGone> {
        self.send(RoomCommand::Move {
            member: self.member,
            point,
        })
        .await
    }
    pub async fn set_away(&self, away: bool) -> Result<(), RoomGone> {
        self.send(RoomCommand::Presence {
            member: self.member,
            away,
        })
        .await
    }

    pub async fn say(&self, text: String) -> Result<(), RoomGone> {
        self.send(RoomCommand::Say {
            member: self.member,
            text,
        })
        .await
    }

    /// Records how the connection ended, for the room to decide how long
    /// this user may resume.
    pub fn set_ending(&mut self, ending: DisconnectKind) {
        self.ending = ending;
    }

    pub async fn hide(&self) -> Result<(), RoomGone> {
        self.send(RoomCommand::Leave {
            member: self.member,
        })
        .await
    }

    async fn send(&self, command: RoomCommand) -> Result<(), RoomGone> {
        self.commands.send(command).await.map_err(|_| RoomGone)
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        // Drop cannot await, and a full queue must not lose the disconnect
        // (the others would keep a ghost cursor), so hand it to a task.
        let commands = self.commands.clone();
        let (member, connection, kind) = (self.member, self.connection, self.ending);
        tokio::spawn(async move {
            let _ = commands
                .send(RoomCommand::Disconnect {
                    member,
                    connection,
                    kind,
                })
                .await;
        });
    }
}

#[derive(Debug)]
struct Member {
    id: String,
    name: String,
    color: &'static str,
    position: Option<Point>,
    /// Moved since the last flush.
    dirty: bool,
    encoding: Encoding,
    mailbox: Arc<Mailbox>,
    /// Secret that lets this user resume (128 random bits, hex).
    resume_token: String,
    /// The live connection's number; a disconnect from an older one is stale.
    connection: u64,
    /// Set while no connection is attached: the user leaves at this instant
    /// unless they resume first.
    detached_until: Option<Instant>,
    /// Their page is hidden or unfocused.
    away: bool,
}

impl Member {
    fn info(&self) -> PeerInfo {
        PeerInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            color: self.color.to_owned(),
        }
    }
}

/// The state of one room, owned by its task.
struct Room {
    name: RoomName,
    settings: RoomSettings,
    hub: Weak<RoomHub>,
    /// Ordered by key, i.e. by arrival, so `welcome` lists peers in join order.
    members: BTreeMap<MemberKey, Member>,
    next_member: MemberKey,
    /// Members whose position changed since the last flush, in move order.
    dirty: Vec<MemberKey>,
    last_flush: Option<Instant>,
    flush_due: Option<Instant>,
    /// When the earliest detached member's grace period ends. Kept here
    /// rather than found by scanning every member on each turn of the loop,
    /// which cost 7% of the server's CPU in a room of 500. It may be early
    /// (that member resumed or was removed): waking then finds nothing to
    /// expire and computes the next one.
    next_expiry: Option<Instant>,
    next_connection: u64,
}

/// Commands handled in one go before the room checks its flush timer: enough
/// to amortise wake-ups under load, few enough to keep ticks on time.
const COMMAND_BURST: usize = 512;

impl Room {
    fn new(name: RoomName, settings: RoomSettings, hub: Weak<RoomHub>) -> Self {
        Self {
            name,
            settings,
            hub,
            members: BTreeMap::new(),
            next_member: 0,
            dirty: Vec::new(),
            last_flush: None,
            flush_due: None,
            next_expiry: None,
            next_connection: 0,
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<RoomCommand>) {
        tracing::debug!(room = %self.name, "room opened");
        loop {
            let command = match (self.flush_due, self.next_expiry) {
                (None, None) => commands.recv().await,
                (flush_due, expiry) => tokio::select! {
                    command = commands.recv() => command,
                    () = sleep_until_some(flush_due) => {
                        self.flush();
                        continue;
                    }
                    () = sleep_until_some(expiry) => {
                        self.expire_detached();
                        if self.members.is_empty() && self.close_if_still_empty(&mut commands) {
                            break;
                        }
                        continue;
                    }
                },
            };
            // The hub keeps a sender while the room is listed, so `None`
            // only happens once the hub itself is gone.
            let Some(command) = command else { break };
            self.handle(command);
            for _ in 0..COMMAND_BURST {
                match commands.try_recv() {
                    Ok(command) => self.handle(command),
                    Err(_) => break,
                }
            }
            self.schedule_flush();
            if self.members.is_empty() && self.close_if_still_empty(&mut commands) {
                break;
            }
        }
        tracing::debug!(room = %self.name, "room closed");
    }

    fn handle(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join {
                encoding,
                resume,
                reply,
            } => {
                match resume.and_then(|token| self.resume(&token, encoding)) {
                    Some((key, admission)) => {
                        let connection = admission.connection;
                        if reply.send(admission).is_err() {
                            // The new connection gave up waiting: detached again.
                            self.detach(key, connection, DisconnectKind::Dropped);
                        }
                    }
                    None => self.join(encoding, reply),
                }
            }
            RoomCommand::Say { member, text } => self.say(member, text),
            RoomCommand::Presence { member, away } => self.set_away(member, away),
            RoomCommand::Hello { member, name } => self.rename(member, name),
            RoomCommand::Move { member, point } => self.move_member(member, point),
            RoomCommand::Leave { member } => self.hide(member),
            RoomCommand::Disconnect {
                member,
                connection,
                kind,
            } => self.detach(member, connection, kind),
        }
    }

    fn join(&mut self, encoding: Encoding, reply: oneshot::Sender<Admission>) {
        let mut rng = rand::rng();
        let id = loop {
            let candidate = identity::random_id(&mut rng);
            if !self.members.values().any(|member| member.id == candidate) {
                break candidate;
            }
        };
        let color = identity::pick_color(self.members.values().map(|member| member.color));
        let member = Member {
            id: id.clone(),
            name: identity::friendly_name(&mut rng),
            color,
            position: None,
            dirty: false,
            encoding,
            mailbox: Arc::new(Mailbox::new(self.settings.outbound_queue)),
            resume_token: identity::resume_token(&mut rng),
            connection: self.next_connection,
            detached_until: None,
            away: false,
        };
        self.next_connection += 1;
        // The welcome goes in first, so it is the first frame on the wire.
        let _ = member
            .mailbox
            .push_event(frame(&self.welcome(&member, None)));
        let key = self.next_member;
        self.next_member += 1;
        let admission = Admission {
            member: key,
            connection: member.connection,
            id: id.clone(),
            mailbox: member.mailbox.clone(),
        };
        if reply.send(admission).is_err() {
            return; // The connection gave up while waiting; nobody joined.
        }
        self.broadcast(
            Some(key),
            &ServerMessage::Joined {
                peer: member.info(),
            },
        );
        self.members.insert(key, member);
        tracing::debug!(room = %self.name, %id, members = self.members.len(), "member joined");
    }

    fn rename(&mut self, key: MemberKey, name: String) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        if member.name == name {
            return;
        }
        member.name = name.clone();
        let renamed = ServerMessage::Renamed {
            id: member.id.clone(),
            name,
        };
        // The sender hears it too: that is how it learns the name it got.
        self.broadcast(None, &renamed);
    }

    fn move_member(&mut self, key: MemberKey, point: Point) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        member.position = Some(point);
        match self.settings.fanout {
            FanoutMode::Coalesced => {
                if !member.dirty {
                    member.dirty = true;
                    self.dirty.push(key);
                }
            }
            FanoutMode::Immediate => {
                let moves = [CursorPosition {
                    id: member.id.clone(),
                    x: point.x,
                    y: point.y,
                }];
                self.deliver_batch(&moves, Some(key));
            }
        }
    }

    fn hide(&mut self, key: MemberKey) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        let was_visible = member.position.take().is_some();
        // A pending move must not reach anyone after the `hidden`, or the
        // cursor would reappear.
        self.forget_pending_move(key);
        if was_visible {
            let hidden = ServerMessage::Hidden {
                id: self.members[&key].id.clone(),
            };
            self.broadcast(Some(key), &hidden);
        }
    }

    /// The `welcome` for `member`: everyone else, with their positions, and
    /// the token to resume with.
    fn welcome(&self, member: &Member, skip: Option<MemberKey>) -> ServerMessage {
        ServerMessage::Welcome {
            id: member.id.clone(),
            name: member.name.clone(),
            color: member.color.to_owned(),
            peers: self
                .members
                .iter()
                .filter(|(key, _)| Some(**key) != skip)
                .map(|(_, peer)| PeerSnapshot {
                    away: peer.away,
                    ..PeerSnapshot::new(peer.info(), peer.position)
                })
                .collect(),
            resume: Some(member.resume_token.clone()),
        }
    }

    /// Gives a returning user their place back, if `token` is one of this
    /// room's. Tokens live in their room, so another room's token is simply
    /// unknown here. The others see nothing: no `left`, no `joined`.
    fn resume(&mut self, token: &str, encoding: Encoding) -> Option<(MemberKey, Admission)> {
        let key = *self
            .members
            .iter()
            .find(|(_, member)| member.resume_token == token)?
            .0;
        let connection = self.next_connection;
        self.next_connection += 1;
        let mailbox = Arc::new(Mailbox::new(self.settings.outbound_queue));
        let member = self.members.get_mut(&key)?;
        // Still attached (the old connection has not noticed it is dead):
        // the newer connection wins, and the older one is told to close.
        member.mailbox.supersede();
        member.mailbox = mailbox.clone();
        member.encoding = encoding;
        member.connection = connection;
        member.detached_until = None;
        // A token is good for one resume: the welcome carries a fresh one.
        member.resume_token = identity::resume_token(&mut rand::rng());
        let member = &self.members[&key];
        let _ = mailbox.push_event(frame(&self.welcome(member, Some(key))));
        tracing::debug!(room = %self.name, id = %member.id, "member resumed");
        let admission = Admission {
            member: key,
            connection,
            id: member.id.clone(),
            mailbox,
        };
        Some((key, admission))
    }

    /// A connection ended. Its user keeps their place for a grace period
    /// (unless expelled), with their cursor hidden so no ghost stays behind.
    fn detach(&mut self, key: MemberKey, connection: u64, kind: DisconnectKind) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        if member.connection != connection || member.detached_until.is_some() {
            return; // an older connection of a user who has since resumed
        }
        let grace = match kind {
            DisconnectKind::Clean => self.settings.reload_grace,
            DisconnectKind::Dropped => self.settings.resume_grace,
            DisconnectKind::Expelled => Duration::ZERO,
        };
        if grace.is_zero() {
            self.remove(key);
            return;
        }
        let until = Instant::now() + grace;
        member.detached_until = Some(until);
        let visible = member.position.is_some();
        self.next_expiry = Some(self.next_expiry.map_or(until, |next| next.min(until)));
        if visible {
            self.hide(key);
        }
    }

    /// Removes the detached users whose grace period is over.
    fn expire_detached(&mut self) {
        let now = Instant::now();
        let expired: Vec<MemberKey> = self
            .members
            .iter()
            .filter(|(_, member)| member.detached_until.is_some_and(|until| until <= now))
            .map(|(key, _)| *key)
            .collect();
        for key in expired {
            self.remove(key);
        }
        self.next_expiry = self
            .members
            .values()
            .filter_map(|member| member.detached_until)
            .min();
    }

    fn remove(&mut self, key: MemberKey) {
        let Some(member) = self.members.remove(&key) else {
            return;
        };
        if self.members.is_empty()
            && let Some(hub) = self.hub.upgrade()
        {
            hub.occupied_rooms.fetch_sub(1, Ordering::Relaxed);
        }
        self.forget_pending_move(key);
        self.broadcast(
            None,
            &ServerMessage::Left {
                id: member.id.clone(),
            },
        );
        tracing::debug!(room = %self.name, id = %member.id, members = self.members.len(), "member left");
    }

    /// Someone's page was hidden or unfocused, or came back. Away also
    /// hides their cursor: nobody is pointing there any more.
    fn set_away(&mut self, key: MemberKey, away: bool) {
        let Some(member) = self.members.get_mut(&key) else {
            return;
        };
        if member.away == away {
            return;
        }
        member.away = away;
        let presence = ServerMessage::Presence {
            id: member.id.clone(),
            away,
        };
        if away && member.position.is_some() {
            self.hide(key);
        }
        self.broadcast(Some(key), &presence);
    }

    /// Relays cursor-chat text to the others.
    fn say(&mut self, key: MemberKey, text: String) {
        let Some(member) = self.members.get(&key) else {
            return;
        };
        if member.detached_until.is_some() {
            return;
        }
        let said = ServerMessage::Said {
            id: member.id.clone(),
            text,
        };
        self.broadcast(Some(key), &said);
    }

    fn forget_pending_move(&mut self, key: MemberKey) {
        if let Some(member) = self.members.get_mut(&key) {
            member.dirty = false;
        }
        self.dirty.retain(|dirty| *dirty != key);
    }

    /// Sends an event to every member except `except`.
    fn broadcast(&self, except: Option<MemberKey>, message: &ServerMessage) {
        let event = frame(message);
        for (key, member) in &self.members {
            if Some(*key) != except && member.mailbox.push_event(event.clone()).is_err() {
                tracing::debug!(room = %self.name, id = %member.id, "outbound queue full");
            }
        }
    }

    fn schedule_flush(&mut self) {
        if self.dirty.is_empty() || self.flush_due.is_some() {
            return;
        }
        let now = Instant::now();
        let interval = self.flush_interval();
        match self.last_flush {
            Some(last) if now < last + interval => {
                self.flush_due = Some(last + interval);
            }
            _ => self.flush(),
        }
    }

    /// Least time between two flushes of this room (see the module doc).
    fn flush_interval(&self) -> Duration {
        let writes_per_flush = self.members.len().max(1) as f64;
        let rooms = self
            .hub
            .upgrade()
            .map_or(1, |hub| hub.occupied_rooms.load(Ordering::Relaxed).max(1));
        let budget_per_room = f64::from(self.settings.frame_budget.max(1)) / rooms as f64;
        Duration::from_secs_f64(writes_per_flush / budget_per_room).min(self.settings.tick)
    }

    /// Sends one `cursors` frame with the latest position of every member
    /// that moved since the last flush.
    fn flush(&mut self) {
        self.flush_due = None;
        self.last_flush = Some(Instant::now());
        let mut moves = Vec::with_capacity(self.dirty.len());
        for key in self.dirty.drain(..) {
            let Some(member) = self.members.get_mut(&key) else {
                continue;
            };
            member.dirty = false;
            if let Some(point) = member.position {
                moves.push(CursorPosition {
                    id: member.id.clone(),
                    x: point.x,
                    y: point.y,
                });
            }
        }
        if moves.is_empty() {
            return;
        }
        // The mover receives its own position too (the protocol allows it):
        // that is what lets every member share one serialised frame.
        self.deliver_batch(&moves, None);
    }

    /// Hands a cursor batch to every member but `except`. Each encoding is
    /// serialised at most once, and only if a member uses it. A member too
    /// far behind gets the room's full snapshot instead, built at most once
    /// however many members lag. "Too far" is one unsent batch when
    /// coalescing (each batch is a whole tick); in the immediate fan-out,
    /// where every move is its own frame, it is the outbound queue's bound.
    fn deliver_batch(&self, moves: &[CursorPosition], except: Option<MemberKey>) {
        let batch = EncodedBatch::default();
        let snapshot = EncodedBatch::default();
        let snapshot_moves = OnceCell::new();
        let metrics = self.hub.upgrade().map(|hub| hub.metrics.clone());
        let keep = match self.settings.fanout {
            FanoutMode::Coalesced => 1,
            FanoutMode::Immediate => self.settings.outbound_queue,
        };
        for (key, member) in &self.members {
            if Some(*key) == except {
                continue;
            }
            let delivery =
                member
                    .mailbox
                    .push_cursor_batch(batch.frame(member.encoding, moves), keep, || {
                        snapshot.frame(
                            member.encoding,
                            snapshot_moves.get_or_init(|| self.visible_positions()),
                        )
                    });
            if let BatchDelivery::ReplacedStale(stale) = delivery
                && let Some(metrics) = &metrics
            {
                metrics.stale_batches_dropped(stale);
            }
        }
    }

    /// Every visible cursor of the room.
    fn visible_positions(&self) -> Vec<CursorPosition> {
        self.members
            .values()
            .filter_map(|member| {
                let point = member.position?;
                Some(CursorPosition {
                    id: member.id.clone(),
                    x: point.x,
                    y: point.y,
                })
            })
            .collect()
    }

    /// Called with no members left: unlists the room unless a join slipped in.
    /// Returns whether the room task should end.
    fn close_if_still_empty(&mut self, commands: &mut mpsc::Receiver<RoomCommand>) -> bool {
        let Some(hub) = self.hub.upgrade() else {
            return true;
        };
        let mut rooms = hub.lock_rooms();
        // Closing under the hub lock: from here, `room_handle` sees a closed
        // channel and starts a fresh room. Joins already queued are refused
        // by dropping their reply; their senders retry and land there.
        commands.close();
        while let Ok(command) = commands.try_recv() {
            drop(command);
        }
        if rooms
            .get(&self.name)
            .is_some_and(|handle| handle.commands.is_closed())
        {
            rooms.remove(&self.name);
        }
        hub.metrics.rooms_closed();
        true
    }
}

/// Sleeps until `deadline`, or forever if there is none.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn frame(message: &ServerMessage) -> Utf8Bytes {
    Utf8Bytes::from(message.to_json())
}

/// One set of positions as a `cursors` frame, serialised on first use in
/// each encoding and then shared (cloning a frame only bumps a count).
#[derive(Default)]
struct EncodedBatch {
    json: OnceCell<Message>,
    binary: OnceCell<Message>,
}

impl EncodedBatch {
    fn frame(&self, encoding: Encoding, moves: &[CursorPosition]) -> Message {
        match encoding {
            Encoding::Json => self
                .json
                .get_or_init(|| {
                    Message::Text(frame(&ServerMessage::Cursors {
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
