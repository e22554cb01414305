//! Sharing rooms across servers through Redis: the second kind of
//! [`Backplane`], turned on by `--redis-url`.
//!
//! What each server keeps in Redis, per room (the `{room:NAME}` hash tag
//! puts every key and the channel of one room in one Redis Cluster slot):
//!
//! - `cursors:{room:NAME}`: a sharded pub/sub channel (`SPUBLISH`). Each
//!   server publishes what happens to *its* users: the same `joined`,
//!   `renamed`, `cursors`, `hidden`, `presence`, `said` and `left` messages
//!   its own members get, wrapped in an envelope naming the server.
//!   Positions go out once per flush, as the room's one `cursors` batch:
//!   never one Redis message per move.
//! - `cursors:{room:NAME}:users`: a hash, user id → that user's latest
//!   record (what a `welcome` lists of them, and the owning server). A
//!   server that opens the room reads it, so its first `welcome` lists
//!   everyone.
//! - `cursors:{room:NAME}:tokens`: resume token → user id, so that a token
//!   issued by one server is accepted by any other (a load balancer may
//!   send a reload anywhere, and a user whose server died goes elsewhere).
//!   A Lua script claims a token atomically: each is good for one resume.
//!
//! And for the whole group: `cursors:servers`, a sorted set of server ids
//! scored by when their heartbeat expires (Redis's own clock, so servers'
//! clocks do not matter). Each server refreshes its entry every second for
//! three; a server that dies without a goodbye drops out within three
//! seconds, and every other server removes its users from their rooms at
//! the next heartbeat: within [`GHOST_BOUND`] in all. Ids stay unique
//! across the group by construction: each server leases a two-character
//! tag (`cursors:tag:XX`) and every id it hands out starts with it.
//!
//! One file per concern, dependencies running one way (from the link down
//! to the data):
//!
//! - `link.rs`: one room's link ([`RedisRoomLink`]), owned by its task: the
//!   I/O of subscribing, reading, claiming and queueing writes;
//! - `replication.rs`: the pure rules of what a room writes and how what
//!   it reads becomes inputs, unit-tested without Redis;
//! - `sync.rs`: the pure schedule of when a room re-synchronises (retry,
//!   second pass), unit-tested with made-up instants;
//! - `subscriptions.rs`: the pure rules of which channels to subscribe
//!   again (after a reconnect, or a slot that moved to another node of a
//!   Redis Cluster), unit-tested the same way;
//! - `group.rs`: this server's connections and the server-wide tasks
//!   (status, dispatch, writer, heartbeat, reconciler);
//! - `records.rs` and `scripts.rs`: the keys, records, envelopes and
//!   writes; the Lua scripts.
//!
//! **Why fred.** Both well-kept Rust clients (`redis` and `fred`) are async
//! on tokio. fred is built around a long-lived connection: it reconnects by
//! itself with a backoff policy, it follows a Redis Cluster's slots, and
//! its command queue can be bounded, which is what keeps memory bounded
//! while Redis is away. With `redis` those would be ours to write. Its
//! re-subscription after a reconnect we do not use: it gives up before
//! the sharded channels, and nothing in fred acts when a cluster drops a
//! subscription because a slot moved; `subscriptions.rs` does both.
//!
//! **When Redis is in trouble** every server goes on serving its own users.
//! The outage is logged once when it starts and once when it ends. While it
//! lasts nothing is queued for Redis (what a room does is dropped, not
//! buffered), so memory stays flat; other servers' users freeze where they
//! were. When Redis is back, every room re-synchronises (`sync.rs`): it
//! writes its own users again, publishes them all (a `present`), and
//! applies what the others publish the same way. Pub/sub loses what was
//! sent while a subscriber was away, so nothing assumes continuity across
//! an outage.

mod group;
mod link;
// Public for the group simulation (`server/simulation`) and the fuzz
// targets, which drive the replication rules and read records directly.
pub mod records;
pub mod replication;
mod scripts;
mod subscriptions;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use cursors_protocol::RoomName;
use tokio_util::sync::CancellationToken;

pub use group::BackplaneError;
use group::Group;
pub use link::RedisRoomLink;

use super::backplane::Backplane;
use crate::metrics::Metrics;

/// The longest a dead server's users stay in other servers' rooms: its
/// heartbeat's lifetime (3 s), then the others' next look (every second),
/// and a second of slack.
pub const GHOST_BOUND: Duration = Duration::from_secs(5);

/// This server's membership of a group of servers sharing one Redis.
#[derive(Debug, Clone)]
pub struct RedisBackplane {
    group: Arc<Group>,
}

impl RedisBackplane {
    /// Connects to Redis and starts the group's tasks; see [`Group::start`].
    pub async fn start(
        url: &str,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Result<Self, BackplaneError> {
        let group = Group::start(url, metrics, shutdown).await?;
        Ok(Self { group })
    }
}

impl Backplane for RedisBackplane {
    type Link = RedisRoomLink;

    fn link(&self, room: &RoomName) -> RedisRoomLink {
        RedisRoomLink::new(self.group.clone(), room)
    }

    fn id_prefix(&self) -> &str {
        &self.group.tag
    }
}
