//! The hub: every running room by name, how a connection joins one, and the
//! handle ([`Membership`]) through which it then acts in it.
//!
//! The hub's lock is taken only to join a room and when an empty room shuts
//! itself down, never per move. It also counts the rooms that have members,
//! which share the frame budget (see `flush.rs`). That count is kept by an
//! RAII guard, [`Occupancy`], that a room task holds exactly while its room
//! has members: it cannot drift, whatever path a room takes to empty.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cursors_protocol::{Point, RoomName};
use tokio::sync::{mpsc, oneshot};

use super::backplane::Backplane;
use super::encode::Encoding;
use super::state::{Action, ConnectionKey, DisconnectKind, RoomRules};
use super::task::{Admission, RoomCommand, RoomTask};
use crate::mailbox::Mailbox;
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
pub(super) struct RoomHandle {
    pub(super) commands: mpsc::Sender<RoomCommand>,
}

/// Every running room, by name.
#[derive(Debug)]
pub struct RoomHub {
    rooms: Mutex<HashMap<RoomName, RoomHandle>>,
    occupied_rooms: OccupiedRooms,
    settings: RoomSettings,
    backplane: Backplane,
    pub(super) metrics: Arc<Metrics>,
}

// ANCHOR: occupancy
/// How many rooms of this server have members.
#[derive(Debug, Clone, Default)]
pub struct OccupiedRooms(Arc<AtomicUsize>);

impl OccupiedRooms {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one more occupied room until the guard is dropped.
    pub fn occupy(&self) -> Occupancy {
        self.0.fetch_add(1, Ordering::Relaxed);
        Occupancy {
            occupied_rooms: self.0.clone(),
        }
    }
}

/// Held by a room task while its room has members: one of the rooms that
/// share the frame budget. Dropping it (the room emptied, or its task
/// ended in any way) gives the place back.
#[derive(Debug)]
pub struct Occupancy {
    occupied_rooms: Arc<AtomicUsize>,
}

impl Drop for Occupancy {
    fn drop(&mut self) {
        self.occupied_rooms.fetch_sub(1, Ordering::Relaxed);
    }
}
// ANCHOR_END: occupancy

impl RoomHub {
    pub fn new(settings: RoomSettings, backplane: Backplane, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            rooms: Mutex::new(HashMap::new()),
            occupied_rooms: OccupiedRooms::default(),
            settings,
            backplane,
            metrics,
        })
    }

    /// Number of rooms with a running task.
    pub fn room_count(&self) -> usize {
        self.lock_rooms().len()
    }

    /// Number of rooms with members, which share the frame budget.
    pub fn occupied_rooms(&self) -> usize {
        self.occupied_rooms.count()
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
            let join = RoomCommand::Join {
                encoding,
                resume: resume.map(str::to_owned),
                reply,
            };
            if handle.commands.send(join).await.is_err() {
                continue;
            }
            if let Ok(admission) = admission.await {
                return Ok(Membership::new(admission, handle.commands));
            }
        }
        Err(JoinError::RoomUnavailable)
    }

    // ANCHOR: hub
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
        let task = RoomTask::new(
            room.clone(),
            &self.settings,
            self.backplane.link(room),
            self.occupied_rooms.clone(),
            Arc::downgrade(self),
        );
        tokio::spawn(task.run(receiver));
        handle
    }

    /// Unlists `room` if its listed handle is closed (its task is ending).
    /// Under the lock, so that from here a join starts a fresh room.
    pub(super) fn unlist(&self, room: &RoomName, commands: &mut mpsc::Receiver<RoomCommand>) {
        let mut rooms = self.lock_rooms();
        // Closing under the hub lock: from here, `room_handle` sees a closed
        // channel and starts a fresh room. Joins already queued are refused
        // by dropping their reply; their senders retry and land there.
        commands.close();
        while let Ok(command) = commands.try_recv() {
            drop(command);
        }
        if rooms
            .get(room)
            .is_some_and(|handle| handle.commands.is_closed())
        {
            rooms.remove(room);
        }
        self.metrics.rooms_closed();
    }
    // ANCHOR_END: hub

    fn lock_rooms(&self) -> MutexGuard<'_, HashMap<RoomName, RoomHandle>> {
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// ANCHOR: membership
/// A connection's place in a room. Dropping it leaves the room: the room
/// tells the others `left`, after the grace period that the way the
/// connection ended allows.
#[derive(Debug)]
pub struct Membership {
    /// Sent with every command, so that the room can ignore a connection
    /// that has been superseded by a resume.
    connection: ConnectionKey,
    /// Reported to the room when this membership is dropped.
    ending: DisconnectKind,
    id: String,
    mailbox: Arc<Mailbox>,
    commands: mpsc::Sender<RoomCommand>,
}
// ANCHOR_END: membership

impl Membership {
    fn new(admission: Admission, commands: mpsc::Sender<RoomCommand>) -> Self {
        Self {
            connection: admission.connection,
            ending: DisconnectKind::Dropped,
            id: admission.id,
            mailbox: admission.mailbox,
            commands,
        }
    }

    /// The id the server gave this user.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the room puts this user's outbound frames.
    pub fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    pub async fn rename(&self, name: String) -> Result<(), RoomGone> {
        self.act(Action::Rename(name)).await
    }

    pub async fn move_to(&self, point: Point) -> Result<(), RoomGone> {
        self.act(Action::Move(point)).await
    }

    pub async fn set_away(&self, away: bool) -> Result<(), RoomGone> {
        self.act(Action::Away(away)).await
    }

    pub async fn say(&self, text: String) -> Result<(), RoomGone> {
        self.act(Action::Say(text)).await
    }

    pub async fn hide(&self) -> Result<(), RoomGone> {
        self.act(Action::Hide).await
    }

    /// Records how the connection ended, for the room to decide how long
    /// this user may resume.
    pub fn set_ending(&mut self, ending: DisconnectKind) {
        self.ending = ending;
    }

    async fn act(&self, action: Action) -> Result<(), RoomGone> {
        let command = RoomCommand::Act {
            from: self.connection,
            action,
        };
        self.commands.send(command).await.map_err(|_| RoomGone)
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        // Drop cannot await, and a full queue must not lose the disconnect
        // (the others would keep a ghost cursor), so hand it to a task.
        let commands = self.commands.clone();
        let disconnect = RoomCommand::Act {
            from: self.connection,
            action: Action::Disconnect(self.ending),
        };
        tokio::spawn(async move {
            let _ = commands.send(disconnect).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::extract::ws::Message;
    use cursors_protocol::ServerMessage;

    use super::*;
    use crate::config::FanoutMode;

    fn hub() -> Arc<RoomHub> {
        let settings = RoomSettings {
            rules: RoomRules {
                fanout: FanoutMode::Coalesced,
                tick: Duration::from_millis(16),
                frame_budget: 30_000,
                resume_grace: Duration::from_secs(10),
                reload_grace: Duration::from_millis(1500),
                id_prefix: String::new(),
            },
            outbound_queue: 256,
            command_queue: 64,
        };
        RoomHub::new(settings, Backplane::Alone, Arc::default())
    }

    /// Waits for `membership`'s mailbox to fill and takes what is there.
    async fn received(membership: &Membership) -> Vec<ServerMessage> {
        let mailbox = membership.mailbox();
        let mut frames = Vec::new();
        while frames.is_empty() {
            tokio::time::timeout(Duration::from_secs(10), mailbox.ready())
                .await
                .expect("a frame in time");
            mailbox.drain_into(&mut frames).expect("open");
            mailbox.written();
        }
        frames
            .iter()
            .map(|frame| match frame {
                Message::Text(text) => ServerMessage::parse(text.as_str()).expect("JSON"),
                other => panic!("unexpected frame {other:?}"),
            })
            .collect()
    }

    /// Reads until `membership` sees `id` at `position`; returns all it saw.
    async fn until_position(
        membership: &Membership,
        id: &str,
        position: Point,
    ) -> Vec<ServerMessage> {
        let mut seen = Vec::new();
        loop {
            let batch = received(membership).await;
            let found = batch.iter().any(|message| match message {
                ServerMessage::Cursors { moves } => moves
                    .iter()
                    .any(|cursor| cursor.id == id && cursor.point() == position),
                _ => false,
            });
            seen.extend(batch);
            if found {
                return seen;
            }
        }
    }

    fn resume_token(welcome: &[ServerMessage]) -> String {
        match &welcome[0] {
            ServerMessage::Welcome {
                resume: Some(token),
                ..
            } => token.clone(),
            other => panic!("not a welcome: {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_occupied_rooms_are_counted_while_they_have_members() {
        let hub = hub();
        let one = RoomName::parse(Some("one")).unwrap();
        let two = RoomName::parse(Some("two")).unwrap();
        let ada = hub.join(&one, Encoding::Json, None).await.unwrap();
        let bo = hub.join(&one, Encoding::Json, None).await.unwrap();
        let cy = hub.join(&two, Encoding::Json, None).await.unwrap();
        // Counted by the room task once it has handled the joins.
        received(&cy).await;
        assert_eq!(hub.occupied_rooms(), 2);
        let mut cy = cy;
        cy.set_ending(DisconnectKind::Expelled);
        drop(cy);
        let mut ada = ada;
        ada.set_ending(DisconnectKind::Expelled);
        drop(ada);
        // Bo hears Ada leave; room two empties on its own task, so wait for
        // its place to be given back.
        loop {
            let seen = received(&bo).await;
            if seen
                .iter()
                .any(|message| matches!(message, ServerMessage::Left { .. }))
            {
                break;
            }
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            while hub.occupied_rooms() != 1 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("room two gave its place back");
    }

    #[tokio::test]
    async fn a_membership_superseded_by_a_resume_can_no_longer_move_speak_or_rename() {
        let hub = hub();
        let room = RoomName::parse(Some("takeover")).unwrap();
        let watcher = hub.join(&room, Encoding::Json, None).await.unwrap();
        let first = hub.join(&room, Encoding::Json, None).await.unwrap();
        let token = resume_token(&received(&first).await);
        let id = first.id().to_owned();
        let second = hub.join(&room, Encoding::Json, Some(&token)).await.unwrap();
        assert_eq!(second.id(), id);

        // The old connection has not noticed yet and sends on.
        first.move_to(Point { x: 0.875, y: 0.875 }).await.unwrap();
        first.say("not me any more".into()).await.unwrap();
        first.rename("Mallory".into()).await.unwrap();
        // Same queue, so the room handles this after all of the above.
        let marker = Point { x: 0.125, y: 0.25 };
        second.move_to(marker).await.unwrap();

        let seen = until_position(&watcher, &id, marker).await;
        let leaked: Vec<&ServerMessage> = seen
            .iter()
            .filter(|message| match message {
                ServerMessage::Cursors { moves } => moves
                    .iter()
                    .any(|cursor| cursor.id == id && cursor.point() != marker),
                ServerMessage::Said { .. } | ServerMessage::Renamed { .. } => true,
                _ => false,
            })
            .collect();
        assert!(leaked.is_empty(), "the old connection acted: {leaked:?}");
        assert!(
            first.mailbox().drain_into(&mut Vec::new()).is_err(),
            "superseded"
        );
    }
}
