//! The room task: the one owner of a room's state, and the loop that moves
//! messages around it.
//!
//! Connections never touch a room's state; they send [`RoomCommand`]s over
//! a bounded channel and receive frames through their [`Mailbox`]. One
//! owner means no locks on the hot path and a single, obvious order of
//! events per room: whatever the room did first, every member sees first.
//!
//! The loop has no rules of its own. It turns each command into an
//! [`Input`], lets [`RoomState::apply`] decide, and routes the resulting
//! [`Event`]s: to the mailboxes of the members connected here, and through
//! the backplane ([`RoomLink`]) to the other servers sharing the room. A
//! timer wakes it when the state says something is due (a flush, the end of
//! a grace period). What is local to a connection lives here, beside the
//! loop: its mailbox, its encoding, its connection number.
//!
//! The task knows nothing above it: not the hub that started it, nor which
//! kind of backplane its link is (it is generic over [`RoomLink`]). To
//! unlist itself when its room empties it holds a [`Listing`]; for the
//! counters, the [`Metrics`].

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use cursors_protocol::{CursorPosition, RoomName, ServerMessage};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::backplane::{Incoming, RoomLink};
use super::command::{Admission, RoomCommand};
use super::directory::Listing;
use super::encode::{EncodedBatch, Encoding, text_frame};
use super::occupancy::{Occupancy, OccupiedRooms};
use super::state::{
    Action, ConnectionKey, CursorFrame, DisconnectKind, Event, Input, MemberKey, RoomRules,
    RoomState, User,
};
use super::timer::sleep_until_some;
use crate::config::FanoutMode;
use crate::mailbox::{BatchDelivery, Mailbox};
use crate::metrics::Metrics;

/// How rooms behave; the same for every room of a server.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    pub rules: RoomRules,
    /// Events that may pile up for a client (see `mailbox.rs`).
    pub outbound_queue: usize,
    /// Commands that may wait for a room task before senders wait too.
    pub command_queue: usize,
}

/// A member connected to this server: where its frames go.
#[derive(Debug)]
struct Attachment {
    connection: u64,
    encoding: Encoding,
    mailbox: Arc<Mailbox>,
}

/// A join waiting for its `Admitted` event.
struct PendingJoin {
    encoding: Encoding,
    /// When the socket's room token ends, for its welcome.
    expires: Option<u64>,
    reply: oneshot::Sender<Admission>,
}

/// Commands handled in one go before the room ticks: enough to amortise
/// wake-ups under load, few enough to keep flushes on time.
const COMMAND_BURST: usize = 512;

pub struct RoomTask<L> {
    name: RoomName,
    state: RoomState,
    link: L,
    /// The members connected here, by key. Ordered, so that a flush reaches
    /// them in the order they joined, the same in every run (as the room
    /// did before its split). In a hash map's random order, which members
    /// wait for most of a flush's writes changed with every process, and
    /// with it the latency that any sample of members (the load
    /// generator's observers) measured.
    attachments: BTreeMap<MemberKey, Attachment>,
    /// Held while the room has members (see `occupancy.rs`).
    occupancy: Option<Occupancy>,
    occupied_rooms: OccupiedRooms,
    listing: Listing,
    metrics: Arc<Metrics>,
    fanout: FanoutMode,
    outbound_queue: usize,
}

/// What a room task is given by whoever starts it, beside its link.
#[derive(Debug)]
pub struct RoomContext {
    pub settings: RoomSettings,
    pub occupied_rooms: OccupiedRooms,
    pub listing: Listing,
    pub metrics: Arc<Metrics>,
}

impl<L: RoomLink> RoomTask<L> {
    pub fn new(name: RoomName, context: RoomContext, link: L) -> Self {
        let RoomContext {
            settings,
            occupied_rooms,
            listing,
            metrics,
        } = context;
        Self {
            name,
            state: RoomState::new(settings.rules.clone(), StdRng::from_os_rng()),
            link,
            attachments: BTreeMap::new(),
            occupancy: None,
            occupied_rooms,
            listing,
            metrics,
            fanout: settings.rules.fanout,
            outbound_queue: settings.outbound_queue,
        }
    }

    // ANCHOR: run
    pub async fn run(mut self, mut commands: mpsc::Receiver<RoomCommand>) {
        tracing::debug!(room = %self.name, "room opened");
        // Who is already in the room on other servers, before anyone joins.
        for input in self.link.open().await {
            self.apply_from_group(input);
        }
        loop {
            let wakeup = self.state.next_wakeup();
            let woken_by = tokio::select! {
                command = commands.recv() => Wake::Command(command),
                () = sleep_until_some(wakeup) => Wake::Timer,
                incoming = self.link.next() => Wake::Group(incoming),
            };
            let from_group = matches!(woken_by, Wake::Group(_));
            match woken_by {
                Wake::Timer => {}
                Wake::Group(Incoming::Input(input)) => self.apply_from_group(input),
                Wake::Group(Incoming::Resync) => {
                    for input in self.link.resync(&self.state).await {
                        self.apply_from_group(input);
                    }
                }
                // The directory keeps a sender while the room is listed, so `None`
                // only happens once the directory itself is gone.
                Wake::Command(None) => break,
                Wake::Command(Some(command)) => {
                    self.handle(command).await;
                    for _ in 0..COMMAND_BURST {
                        match commands.try_recv() {
                            Ok(command) => self.handle(command).await,
                            Err(_) => break,
                        }
                    }
                }
            }
            self.tick();
            // Only this server's users keep the room open, and only they can
            // leave it: what other servers say never closes it (a word from
            // the group may well come before the first member is admitted).
            if !from_group && self.state.is_empty() {
                if self.listing.unlist(&mut commands) {
                    self.metrics.rooms_closed();
                }
                break;
            }
        }
        self.link.close().await;
        tracing::debug!(room = %self.name, "room closed");
    }

    /// Applies what another server said; routes it to the members here
    /// without sharing it back.
    fn apply_from_group(&mut self, input: Input) {
        let removes_ghosts = input.removes_ghosts();
        let events = self.state.apply(input, Instant::now());
        let ghosts: Vec<String> = events
            .iter()
            .filter(|_| removes_ghosts)
            .filter_map(|event| event.left().map(str::to_owned))
            .collect();
        self.route(events, None, Origin::Group);
        // Users removed because their server died: forget them in the
        // group's store too (whichever server notices first does).
        self.link.forget_ghosts(ghosts);
    }
    // ANCHOR_END: run

    async fn handle(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join {
                encoding,
                resume,
                expires,
                verified_name,
                reply,
            } => {
                if reply.is_closed() {
                    return; // the connection gave up waiting
                }
                let input = match resume {
                    Some(token) if !self.state.knows_token(&token) => {
                        // Maybe another server of the group issued it.
                        match self.link.claim(&token).await {
                            Some(user) => Input::Adopt {
                                spent_token: token,
                                user: match verified_name {
                                    Some(name) => User {
                                        name,
                                        verified: true,
                                        ..user
                                    },
                                    None => user,
                                },
                            },
                            None => Input::Join {
                                resume: None,
                                verified_name,
                            },
                        }
                    }
                    resume => Input::Join {
                        resume,
                        verified_name,
                    },
                };
                let events = self.state.apply(input, Instant::now());
                self.route(
                    events,
                    Some(PendingJoin {
                        encoding,
                        expires,
                        reply,
                    }),
                    Origin::Here,
                );
            }
            RoomCommand::Act { from, action } => {
                let events = self
                    .state
                    .apply(Input::Connection { from, action }, Instant::now());
                self.route(events, None, Origin::Here);
            }
        }
    }

    /// Lets time pass in the room: flushes what is due, expires what is
    /// over. Also keeps the room's place among the occupied rooms true.
    fn tick(&mut self) {
        self.update_occupancy();
        let occupied_rooms = self.occupied_rooms.count();
        let events = self
            .state
            .apply(Input::Tick { occupied_rooms }, Instant::now());
        self.route(events, None, Origin::Here);
        self.update_occupancy();
    }

    fn update_occupancy(&mut self) {
        match (self.state.is_empty(), self.occupancy.is_some()) {
            (false, false) => self.occupancy = Some(self.occupied_rooms.occupy()),
            (true, true) => self.occupancy = None,
            _ => {}
        }
    }

    // ANCHOR: route
    /// Carries out what the rules decided, in order.
    fn route(&mut self, events: Vec<Event>, mut join: Option<PendingJoin>, origin: Origin) {
        let mut gave_up = None;
        for event in events {
            if origin == Origin::Here {
                self.link.share(&event, &self.state);
            }
            match event {
                Event::Admitted {
                    connection,
                    id,
                    welcome,
                    resumed,
                } => {
                    let Some(PendingJoin {
                        encoding,
                        expires,
                        reply,
                    }) = join.take()
                    else {
                        continue;
                    };
                    let mut welcome = welcome;
                    if let ServerMessage::Welcome { expires: ends, .. } = &mut welcome {
                        *ends = expires;
                    }
                    let mailbox = Arc::new(Mailbox::new(self.outbound_queue));
                    // The welcome goes in first, so it is the first frame on the wire.
                    let _ = mailbox.push_event(text_frame(&welcome));
                    self.attachments.insert(
                        connection.member,
                        Attachment {
                            connection: connection.connection,
                            encoding,
                            mailbox: mailbox.clone(),
                        },
                    );
                    tracing::debug!(room = %self.name, %id, resumed, "member admitted");
                    let admission = Admission {
                        connection,
                        id,
                        mailbox,
                    };
                    if reply.send(admission).is_err() {
                        // The connection gave up just now. A resumed user may
                        // come back again; a new one never got a token.
                        let kind = if resumed {
                            DisconnectKind::Dropped
                        } else {
                            DisconnectKind::Expelled
                        };
                        gave_up = Some((connection, kind));
                    }
                }
                Event::Superseded { connection } => {
                    if let Some(attachment) = self.unattach(connection) {
                        attachment.mailbox.supersede();
                    }
                }
                Event::Detached { connection } => {
                    self.unattach(connection);
                }
                Event::Ignored { .. } => self.metrics.stale_command_ignored(),
                Event::Broadcast { except, message } => {
                    let frame = text_frame(&message);
                    for (key, attachment) in &self.attachments {
                        if Some(*key) != except
                            && attachment.mailbox.push_event(frame.clone()).is_err()
                        {
                            tracing::debug!(room = %self.name, member = key, "outbound queue full");
                        }
                    }
                }
                Event::Cursors { except, moves } => self.deliver_batch(&moves, except),
                Event::Narrowcast { to, message } => {
                    let frame = text_frame(&message);
                    for key in &to {
                        if let Some(attachment) = self.attachments.get(key)
                            && attachment.mailbox.push_event(frame.clone()).is_err()
                        {
                            tracing::debug!(room = %self.name, member = key, "outbound queue full");
                        }
                    }
                }
                Event::CrowdCursors { frames, .. } => self.deliver_crowd_frames(&frames),
                Event::CatchUp { to, message } => {
                    if let Some(attachment) = self.attachments.get(&to)
                        && attachment.mailbox.push_event(text_frame(&message)).is_err()
                    {
                        tracing::debug!(room = %self.name, member = to, "outbound queue full");
                    }
                }
                Event::Claimed { .. } => {} // for the other servers only
            }
        }
        if let Some((from, kind)) = gave_up {
            let action = Action::Disconnect(kind);
            let events = self
                .state
                .apply(Input::Connection { from, action }, Instant::now());
            self.route(events, None, Origin::Here);
        }
    }
    // ANCHOR_END: route

    /// Forgets `connection`'s mailbox, if it is still the attached one.
    fn unattach(&mut self, connection: ConnectionKey) -> Option<Attachment> {
        let attached = self.attachments.get(&connection.member)?;
        if attached.connection != connection.connection {
            return None;
        }
        self.attachments.remove(&connection.member)
    }

    // ANCHOR: deliver_batch
    /// Hands a cursor batch to every member connected here but `except`.
    /// Each encoding is serialised at most once, and only if a member uses
    /// it. A member too far behind gets the room's full snapshot instead,
    /// built at most once however many members lag. "Too far" is one unsent
    /// batch when coalescing (each batch is a whole tick); in the immediate
    /// fan-out, where every move is its own frame, it is the outbound
    /// queue's bound.
    fn deliver_batch(&self, moves: &[CursorPosition], except: Option<MemberKey>) {
        let started = Instant::now();
        let recipients = self
            .attachments
            .iter()
            .filter(|(key, _)| Some(**key) != except)
            .map(|(_, attachment)| attachment);
        let frames = self.push_batch(recipients, moves, || self.state.visible_positions());
        // A batch nobody here receives (a room of one) is no flush to
        // measure. In the immediate fan-out every move is its own batch.
        if frames > 0 {
            self.metrics.flush_observed(started.elapsed(), frames);
        }
    }

    /// Pushes one batch to each of `recipients`; see `deliver_batch`.
    /// Returns how many received it.
    fn push_batch<'a>(
        &self,
        recipients: impl Iterator<Item = &'a Attachment>,
        moves: &[CursorPosition],
        snapshot_of: impl Fn() -> Vec<CursorPosition>,
    ) -> usize {
        let mut frames = 0;
        let batch = EncodedBatch::default();
        let snapshot = EncodedBatch::default();
        let snapshot_moves = OnceCell::new();
        let keep = match self.fanout {
            FanoutMode::Coalesced => 1,
            FanoutMode::Immediate => self.outbound_queue,
        };
        for attachment in recipients {
            let encoding = attachment.encoding;
            let delivery =
                attachment
                    .mailbox
                    .push_cursor_batch(batch.frame(encoding, moves), keep, || {
                        snapshot.frame(encoding, snapshot_moves.get_or_init(&snapshot_of))
                    });
            frames += 1;
            if let BatchDelivery::ReplacedStale(stale) = delivery {
                self.metrics.stale_batches_dropped(stale);
            }
        }
        frames
    }
    // ANCHOR_END: deliver_batch

    // ANCHOR: deliver_crowd_frames
    /// A crowd's flush: each distinct frame is serialised once (per
    /// encoding) and shared by its receivers; one who fell behind gets the
    /// snapshot of its own view, not of the room.
    fn deliver_crowd_frames(&self, frames: &[CursorFrame]) {
        let started = Instant::now();
        let mut written = 0;
        for frame in frames {
            let recipients = frame.to.iter().filter_map(|key| self.attachments.get(key));
            written += self.push_batch(recipients, &frame.moves, || {
                self.state.view_positions(frame.view)
            });
        }
        if written > 0 {
            self.metrics.flush_observed(started.elapsed(), written);
        }
    }
    // ANCHOR_END: deliver_crowd_frames
}

/// Why the room's loop woke up.
enum Wake {
    Command(Option<RoomCommand>),
    Timer,
    Group(Incoming),
}

/// Where the input behind some events came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// This server's connections or clock: the group must hear of it.
    Here,
    /// Another server: it already told the group.
    Group,
}
