//! The seam between a room and the other servers that share it.
//!
//! A room's rules (`state.rs`) produce events; the room task delivers them
//! to the members connected *here*, and offers every event that came from
//! this server's own connections to its [`RoomLink`] (`share`). What other
//! servers say comes back through [`RoomLink::next`] as inputs, which the
//! same rules apply. The rules never ask which kind of backplane runs, and
//! this file knows none of them: it only says what a kind must do.
//!
//! Two kinds implement it:
//! - [`Alone`], here: a server that shares its rooms with nobody. Sharing
//!   is a no-op and nothing ever comes back.
//! - `RedisBackplane` (`redis/`): a group of servers sharing one Redis
//!   (`--redis-url`).
//!
//! Traits with static dispatch: the room task is generic over its link, so
//! its hot path (`share` per event, `next` per turn of the loop) has no
//! boxed future and no virtual call. The one place that forgets the kind
//! is where a room is started (`hub.rs`), once per room.

use std::future::Future;

use cursors_protocol::RoomName;

use super::state::{Event, Input, RoomState, User};

// ANCHOR: backplane
/// How this server's rooms reach the other servers that share them.
pub trait Backplane: Send + Sync + 'static {
    /// One room's side of it, owned by the room's task.
    type Link: RoomLink;

    /// The link of one room to the other servers.
    fn link(&self, room: &RoomName) -> Self::Link;

    /// What every user id handed out by this server starts with.
    fn id_prefix(&self) -> &str;
}

/// What the room task must do for its link.
#[derive(Debug)]
pub enum Incoming {
    /// Apply this, as if it had happened here (but do not share it back).
    Input(Input),
    /// The link lost messages (an outage ended): call [`RoomLink::resync`].
    Resync,
}

/// One room's side of the backplane, owned by the room task.
pub trait RoomLink: Send + 'static {
    /// Before the room's first member is admitted: listen to the group,
    /// and learn who is already in the room elsewhere.
    fn open(&mut self) -> impl Future<Output = Vec<Input>> + Send;

    /// Offers an event that came from this server's own connections.
    fn share(&mut self, event: &Event, state: &RoomState);

    /// The next thing the group says; never resolves for a server alone.
    /// Cancel-safe, for the room task's `select!`.
    fn next(&mut self) -> impl Future<Output = Incoming> + Send;

    /// Shares this room's state again and reads the others' (after an
    /// outage, when messages were lost).
    fn resync(&mut self, state: &RoomState) -> impl Future<Output = Vec<Input>> + Send;

    /// The user another server issued `token` to, now claimed for a
    /// connection here; `None` if no server did.
    fn claim(&mut self, token: &str) -> impl Future<Output = Option<User>> + Send;

    /// Users of dead servers that this room removed.
    fn forget_ghosts(&mut self, ids: Vec<String>);

    /// The room task ends.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}
// ANCHOR_END: backplane

/// A server that shares its rooms with nobody: both the backplane and
/// each room's link.
#[derive(Debug, Clone, Copy, Default)]
pub struct Alone;

impl Backplane for Alone {
    type Link = Alone;

    fn link(&self, _room: &RoomName) -> Alone {
        Alone
    }

    fn id_prefix(&self) -> &str {
        ""
    }
}

impl RoomLink for Alone {
    async fn open(&mut self) -> Vec<Input> {
        Vec::new()
    }

    fn share(&mut self, _event: &Event, _state: &RoomState) {}

    async fn next(&mut self) -> Incoming {
        std::future::pending().await
    }

    async fn resync(&mut self, _state: &RoomState) -> Vec<Input> {
        Vec::new()
    }

    async fn claim(&mut self, _token: &str) -> Option<User> {
        None
    }

    fn forget_ghosts(&mut self, _ids: Vec<String>) {}

    async fn close(&mut self) {}
}
