//! The hub: how a connection joins a room (starting it if needed), and the
//! handle ([`Membership`]) through which it then acts in it.
//!
//! The hub is the top of the room's layers: it knows the directory of
//! running rooms (`directory.rs`), the count of occupied rooms
//! (`occupancy.rs`), the server's backplane, and how to start a room task
//! (`task.rs`). Nothing below it knows the hub.

use std::sync::Arc;

use cursors_protocol::{Anchor, Point, RoomName};
use tokio::sync::{mpsc, oneshot};

use super::backplane::Backplane;
use super::command::{Admission, RoomCommand};
use super::directory::{Listing, RoomDirectory};
use super::encode::Encoding;
use super::occupancy::OccupiedRooms;
use super::state::{Action, ConnectionKey, DisconnectKind};
use super::task::{RoomContext, RoomSettings, RoomTask};
use crate::mailbox::Mailbox;
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the room kept closing while we tried to join it")]
    RoomUnavailable,
}

/// The room went away (only possible while the server shuts down).
#[derive(Debug, thiserror::Error)]
#[error("the room is gone")]
pub struct RoomGone;

/// What a socket's room token grants it in the room (nothing without
/// `--token-key`).
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// When the socket ends (Unix seconds): the token's `exp`.
    pub expires: Option<u64>,
    /// The token's `name` claim: the user's name, shown as verified.
    pub verified_name: Option<String>,
}

/// Every running room of this server, and how to start one.
pub struct RoomHub {
    directory: Arc<RoomDirectory>,
    occupied_rooms: OccupiedRooms,
    settings: RoomSettings,
    /// The server's backplane, its kind forgotten: see [`StartRoom`].
    backplane: Box<dyn StartRoom>,
    metrics: Arc<Metrics>,
}

/// Starts a room's task with a link of the server's backplane. The hub
/// holds its backplane as one of these, so the hub (and everything that
/// holds it) is not generic over the backplane's kind, while each room
/// task is: static dispatch on the hot path, one virtual call per room.
trait StartRoom: Send + Sync {
    fn start(&self, room: &RoomName, context: RoomContext, commands: mpsc::Receiver<RoomCommand>);
}

impl<B: Backplane> StartRoom for B {
    fn start(&self, room: &RoomName, context: RoomContext, commands: mpsc::Receiver<RoomCommand>) {
        let task = RoomTask::new(room.clone(), context, self.link(room));
        tokio::spawn(task.run(commands));
    }
}

impl RoomHub {
    pub fn new(
        settings: RoomSettings,
        backplane: impl Backplane,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            directory: Arc::default(),
            occupied_rooms: OccupiedRooms::default(),
            settings,
            backplane: Box::new(backplane),
            metrics,
        })
    }

    /// Number of rooms with a running task.
    pub fn room_count(&self) -> usize {
        self.directory.running()
    }

    /// Number of rooms with members, which share the frame budget.
    pub fn occupied_rooms(&self) -> usize {
        self.occupied_rooms.count()
    }

    /// Joins `room`, starting it if needed. The returned membership's mailbox
    /// already holds the `welcome` frame, which says when the socket ends
    /// (`grant.expires`, its room token's `exp`) if it does.
    pub async fn join(
        &self,
        room: &RoomName,
        encoding: Encoding,
        resume: Option<&str>,
        grant: Grant,
    ) -> Result<Membership, JoinError> {
        // An empty room shuts itself down; a join can race with that. The room
        // then refuses the join (drops the reply) and the next attempt starts
        // a fresh room. Two retries are plenty: a new room is not empty.
        for _ in 0..3 {
            let commands = self.room_commands(room);
            let (reply, admission) = oneshot::channel();
            let join = RoomCommand::Join {
                encoding,
                resume: resume.map(str::to_owned),
                expires: grant.expires,
                verified_name: grant.verified_name.clone(),
                reply,
            };
            if commands.send(join).await.is_err() {
                continue;
            }
            if let Ok(admission) = admission.await {
                return Ok(Membership::new(admission, commands));
            }
        }
        Err(JoinError::RoomUnavailable)
    }

    // ANCHOR: hub
    /// The command channel of `room`'s task, starting the task if the room
    /// is not running.
    fn room_commands(&self, room: &RoomName) -> mpsc::Sender<RoomCommand> {
        let capacity = self.settings.command_queue;
        self.directory
            .find_or_start(room, capacity, |commands, listing: Listing| {
                self.metrics.rooms_opened();
                let context = RoomContext {
                    settings: self.settings.clone(),
                    occupied_rooms: self.occupied_rooms.clone(),
                    listing,
                    metrics: self.metrics.clone(),
                };
                self.backplane.start(room, context, commands);
            })
    }
    // ANCHOR_END: hub
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

    pub async fn move_to(&self, point: Point, anchor: Option<Anchor>) -> Result<(), RoomGone> {
        self.act(match anchor {
            None => Action::Move(point),
            Some(anchor) => Action::MoveOver(point, anchor),
        })
        .await
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

    pub async fn follow(&self, id: Option<String>) -> Result<(), RoomGone> {
        self.act(Action::Follow(id)).await
    }

    pub async fn react(&self, emoji: String) -> Result<(), RoomGone> {
        self.act(Action::React(emoji)).await
    }

    pub async fn point(&self, point: Point) -> Result<(), RoomGone> {
        self.act(Action::Point(point)).await
    }

    pub async fn set_laser(&self, on: bool) -> Result<(), RoomGone> {
        self.act(Action::Laser(on)).await
    }

    pub async fn set_spotlight(&self, on: bool) -> Result<(), RoomGone> {
        self.act(Action::Spotlight(on)).await
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
    use crate::room::backplane::Alone;

    fn hub() -> Arc<RoomHub> {
        let settings = RoomSettings {
            rules: crate::room::state::test_rules::rules(FanoutMode::Coalesced, ""),
            outbound_queue: 256,
            command_queue: 64,
        };
        RoomHub::new(settings, Alone, Arc::default())
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
        let ada = hub
            .join(&one, Encoding::Json, None, Grant::default())
            .await
            .unwrap();
        let bo = hub
            .join(&one, Encoding::Json, None, Grant::default())
            .await
            .unwrap();
        let cy = hub
            .join(&two, Encoding::Json, None, Grant::default())
            .await
            .unwrap();
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
        let watcher = hub
            .join(&room, Encoding::Json, None, Grant::default())
            .await
            .unwrap();
        let first = hub
            .join(&room, Encoding::Json, None, Grant::default())
            .await
            .unwrap();
        let token = resume_token(&received(&first).await);
        let id = first.id().to_owned();
        let second = hub
            .join(&room, Encoding::Json, Some(&token), Grant::default())
            .await
            .unwrap();
        assert_eq!(second.id(), id);

        // The old connection has not noticed yet and sends on.
        first
            .move_to(Point { x: 0.875, y: 0.875 }, None)
            .await
            .unwrap();
        first.say("not me any more".into()).await.unwrap();
        first.rename("Mallory".into()).await.unwrap();
        // Same queue, so the room handles this after all of the above.
        let marker = Point { x: 0.125, y: 0.25 };
        second.move_to(marker, None).await.unwrap();

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
