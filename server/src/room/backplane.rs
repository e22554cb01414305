//! The seam between a room and the other servers that share it.
//!
//! A room's rules (`state.rs`) produce events; the room task delivers them
//! to the members connected *here*, and offers every event that came from
//! this server's own connections to the backplane ([`RoomLink::share`]).
//! What other servers say comes back through [`RoomLink::next`] as inputs,
//! which the same rules apply. The rules never ask which kind of backplane
//! runs; only this file does.
//!
//! Two kinds:
//! - [`Backplane::Alone`]: a server that shares its rooms with nobody.
//!   Sharing is a no-op and nothing ever comes back.
//! - [`Backplane::Redis`]: a group of servers sharing one Redis
//!   (`--redis-url`); see `redis.rs`.
//!
//! An enum rather than a trait object: there are few kinds, every match is
//! checked for each of them, and the room task stays free of dynamic
//! dispatch and boxed futures on its hot path.

use cursors_protocol::RoomName;

use super::redis::{FromGroup, RedisBackplane, RedisRoomLink};
use super::state::{Event, Input, RoomState, User};

// ANCHOR: backplane
/// How this server's rooms reach the other servers that share them.
#[derive(Debug, Clone, Default)]
pub enum Backplane {
    /// This server runs alone: its rooms are only its own.
    #[default]
    Alone,
    /// This server is one of a group sharing a Redis.
    Redis(RedisBackplane),
}

impl Backplane {
    /// The link of one room to the other servers.
    pub fn link(&self, room: &RoomName) -> RoomLink {
        match self {
            Backplane::Alone => RoomLink::Alone,
            Backplane::Redis(redis) => RoomLink::Redis(Box::new(redis.link(room))),
        }
    }

    /// What every user id handed out by this server starts with.
    pub fn id_prefix(&self) -> &str {
        match self {
            Backplane::Alone => "",
            Backplane::Redis(redis) => redis.id_prefix(),
        }
    }
}

/// One room's side of the backplane, owned by the room task.
#[derive(Debug)]
pub enum RoomLink {
    Alone,
    Redis(Box<RedisRoomLink>),
}

/// What a room task must do for its link.
pub enum Incoming {
    /// Apply this, as if it had happened here (but do not share it back).
    Input(Input),
    /// The link lost messages (an outage ended): call [`RoomLink::resync`].
    Resync,
}

impl RoomLink {
    /// Before the room's first member is admitted: listen to the group,
    /// and learn who is already in the room elsewhere.
    pub async fn open(&mut self) -> Vec<Input> {
        match self {
            RoomLink::Alone => Vec::new(),
            RoomLink::Redis(redis) => redis.open().await,
        }
    }

    /// Offers an event that came from this server's own connections.
    pub fn share(&mut self, event: &Event, state: &RoomState) {
        match self {
            RoomLink::Alone => {}
            RoomLink::Redis(redis) => redis.share(event, state),
        }
    }

    /// The next thing the group says; never resolves for a server alone.
    /// Cancel-safe, for the room task's `select!`.
    pub async fn next(&mut self) -> Incoming {
        match self {
            RoomLink::Alone => std::future::pending().await,
            RoomLink::Redis(redis) => match redis.next().await {
                FromGroup::Input(input) => Incoming::Input(input),
                FromGroup::Resync => Incoming::Resync,
            },
        }
    }

    /// Shares this room's state again and reads the others' (after an
    /// outage, when messages were lost).
    pub async fn resync(&mut self, state: &RoomState) -> Vec<Input> {
        match self {
            RoomLink::Alone => Vec::new(),
            RoomLink::Redis(redis) => redis.resync(state).await,
        }
    }

    /// The user another server issued `token` to, now claimed for a
    /// connection here; `None` if no server did.
    pub async fn claim(&mut self, token: &str) -> Option<User> {
        match self {
            RoomLink::Alone => None,
            RoomLink::Redis(redis) => redis.claim(token).await,
        }
    }

    /// Users of dead servers that this room removed.
    pub fn forget_ghosts(&mut self, ids: Vec<String>) {
        match self {
            RoomLink::Alone => {}
            RoomLink::Redis(redis) => redis.forget_ghosts(ids),
        }
    }

    /// The room task ends.
    pub async fn close(&mut self) {
        match self {
            RoomLink::Alone => {}
            RoomLink::Redis(redis) => redis.close().await,
        }
    }
}
// ANCHOR_END: backplane
