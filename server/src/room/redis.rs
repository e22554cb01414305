//! Sharing rooms across servers through Redis: the second kind of
//! [`Backplane`](super::Backplane), turned on by `--redis-url`.
//!
//! What each server keeps in Redis, per room (the `{room:NAME}` hash tag
//! puts every key and the channel of one room in one Redis Cluster slot):
//!
//! - `cursors:{room:NAME}` — a sharded pub/sub channel (`SPUBLISH`). Each
//!   server publishes what happens to *its* users: the same `joined`,
//!   `renamed`, `cursors`, `hidden`, `presence`, `said` and `left` messages
//!   its own members get, wrapped in an [`Envelope`] naming the server.
//!   Positions go out once per flush, as the room's one `cursors` batch:
//!   never one Redis message per move.
//! - `cursors:{room:NAME}:users` — a hash, user id → that user's latest
//!   [`UserRecord`] (name, colour, position, away, owning server). A server
//!   that opens the room reads it, so its first `welcome` lists everyone.
//! - `cursors:{room:NAME}:tokens` — resume token → user id, so that a token
//!   issued by one server is accepted by any other (a load balancer may
//!   send a reload anywhere, and a user whose server died goes elsewhere).
//!   A Lua script claims a token atomically: each is good for one resume.
//!
//! And for the whole group: `cursors:servers`, a sorted set of server ids
//! scored by when their heartbeat expires (Redis's own clock, so servers'
//! clocks do not matter). Each server refreshes its entry every second for
//! three; a server that dies without a goodbye drops out within three
//! seconds, and every other server removes its users from their rooms at
//! the next heartbeat: within [`GHOST_BOUND`] in all.
//!
//! Ids stay unique across the group by construction: each server leases a
//! two-character tag (`cursors:tag:XX`) and every id it hands out starts
//! with it.
//!
//! **Why fred.** Both well-kept Rust clients (`redis` and `fred`) are async
//! on tokio. fred is built around a long-lived connection: it reconnects by
//! itself with a backoff policy, its `SubscriberClient` re-subscribes every
//! channel (sharded ones included) after a reconnect, and its command queue
//! can be bounded, which is what keeps memory bounded while Redis is away.
//! With `redis` those three would be ours to write.
//!
//! **Where a room waits for Redis.** Three things happen inside the room's
//! loop and hold its other commands and flushes while they run, each for at
//! most 500 ms: opening the room (subscribe, then read who is there),
//! re-synchronising after an outage, and claiming an unknown resume token
//! for a join. The first two are once per room per event; the third is per
//! reconnecting user, so after a server dies its users, reconnecting to one
//! room here, are claimed one after another (a Redis round trip each, well
//! under a millisecond on a local network). While Redis is down none of them
//! waits at all. Moving the claim out of the loop would let a join race with
//! the room's own state; this keeps one order of events per room.
//!
//! **When Redis is in trouble** every server goes on serving its own users.
//! The outage is logged once when it starts and once when it ends. While it
//! lasts nothing is queued for Redis (what a room does is dropped, not
//! buffered), so memory stays flat; other servers' users freeze where they
//! were. When Redis is back, every room re-synchronises: it writes its own
//! users again, publishes them all ([`Replicated::Present`]), and applies
//! what the others publish the same way. Pub/sub loses what was sent while a
//! subscriber was away, so nothing assumes continuity across an outage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cursors_protocol::{RoomName, ServerMessage};
use fred::clients::SubscriberClient;
use fred::prelude::*;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::state::{Event, Input, RemoteChange, RoomState, User};
use super::task::sleep_until_some;
use crate::identity;
use crate::metrics::Metrics;

/// A server's heartbeat lasts this long in `cursors:servers`.
const HEARTBEAT_TTL: Duration = Duration::from_secs(3);
/// How often a server refreshes its heartbeat and reads the others'.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// The longest a dead server's users stay in other servers' rooms.
pub const GHOST_BOUND: Duration = Duration::from_secs(5);
/// The longest a room waits for Redis while opening, claiming a token or
/// re-synchronising, before it goes on without.
const ROUND_TRIP_LIMIT: Duration = Duration::from_millis(500);
/// How soon a room that could not subscribe tries again.
const RESUBSCRIBE_EVERY: Duration = Duration::from_secs(1);
/// After Redis comes back, how long a room waits before it re-synchronises
/// a second time. Every server rewrites its users and announces them when
/// its own client reconnects, but the subscriber connection comes back on
/// its own schedule: a server whose announcement went out while our
/// subscriber was still away, and whose rewrite landed after our read, would
/// stay unseen. By the second pass its rewrite is in the hash.
const RESYNC_SETTLE: Duration = Duration::from_secs(2);
/// Messages from other servers that may wait for one room task.
const ROOM_INBOX: usize = 1024;
/// Writes that may wait for Redis; past it they are dropped (and counted).
const WRITE_QUEUE: usize = 4096;
/// Writes in flight at once on the connection (fred pipelines them).
const WRITES_IN_FLIGHT: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum BackplaneError {
    #[error("bad Redis URL: {0}")]
    Url(#[source] fred::error::Error),
    #[error("cannot set up the Redis client: {0}")]
    Client(#[source] fred::error::Error),
}

/// A user as kept in the room's `users` hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    pub name: String,
    pub color: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    #[serde(default)]
    pub away: bool,
    /// The server holding the user's connection.
    pub server: String,
    /// The user's current resume token (so the group can forget it).
    pub token: String,
}

impl UserRecord {
    fn new(user: &User, server: &str, token: &str) -> Self {
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
            color: user.color.clone(),
            x: user.position.map(|point| point.x),
            y: user.position.map(|point| point.y),
            away: user.away,
            server: server.to_owned(),
            token: token.to_owned(),
        }
    }

    fn user(&self) -> User {
        User {
            id: self.id.clone(),
            name: self.name.clone(),
            color: self.color.clone(),
            position: self
                .x
                .zip(self.y)
                .map(|(x, y)| cursors_protocol::Point { x, y }),
            away: self.away,
        }
    }
}

// ANCHOR: envelope
/// What servers publish on a room's channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub server: String,
    #[serde(flatten)]
    pub body: Replicated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Replicated {
    /// What the sender's own members were told about one of its users.
    Message { message: ServerMessage },
    /// Every user the sender holds in the room (after it reconnected).
    Present { users: Vec<UserRecord> },
    /// The sender now holds this user (it resumed there).
    Claimed { id: String },
}
// ANCHOR_END: envelope

impl Replicated {
    fn change(self) -> RemoteChange {
        match self {
            Replicated::Message { message } => RemoteChange::Message(message),
            Replicated::Present { users } => {
                RemoteChange::Present(users.iter().map(UserRecord::user).collect())
            }
            Replicated::Claimed { id } => RemoteChange::Claimed { id },
        }
    }
}

/// Whether Redis is reachable, and how many times it has come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub up: bool,
    pub generation: u64,
}

/// One write to Redis, queued for the writer task.
#[derive(Debug)]
enum Write {
    Publish {
        channel: String,
        payload: String,
    },
    SetUsers {
        key: String,
        records: Vec<(String, String)>,
    },
    SetToken {
        key: String,
        token: String,
        id: String,
    },
    DeleteToken {
        key: String,
        token: String,
    },
    Forget {
        users: String,
        tokens: String,
        ids: Vec<String>,
    },
}

// ANCHOR: claim_script
const CLAIM_SCRIPT: &str = r#"
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('HGET', KEYS[1], id)
"#;
// ANCHOR_END: claim_script

const FORGET_SCRIPT: &str = r#"
for _, id in ipairs(ARGV) do
  local record = redis.call('HGET', KEYS[1], id)
  if record then
    local ok, decoded = pcall(cjson.decode, record)
    if ok and decoded.token then redis.call('HDEL', KEYS[2], decoded.token) end
    redis.call('HDEL', KEYS[1], id)
  end
end
return 0
"#;

// ANCHOR: heartbeat_script
const HEARTBEAT_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
"#;
// ANCHOR_END: heartbeat_script

const SERVERS_KEY: &str = "cursors:servers";

fn tag_key(tag: &str) -> String {
    format!("cursors:tag:{tag}")
}

struct Shared {
    server_id: String,
    tag: String,
    client: Client,
    subscriber: SubscriberClient,
    /// Each open room's inbox, by channel.
    rooms: Mutex<HashMap<String, mpsc::Sender<Envelope>>>,
    /// Subscribing and unsubscribing one at a time, so that a room closing
    /// cannot unsubscribe the channel a new task of the same room opened.
    subscriptions: tokio::sync::Mutex<()>,
    writes: mpsc::Sender<Write>,
    status: watch::Receiver<Status>,
    alive: watch::Receiver<Arc<Vec<String>>>,
    metrics: Arc<Metrics>,
}

/// This server's membership of a group of servers sharing one Redis.
#[derive(Clone)]
pub struct RedisBackplane {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisBackplane {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisBackplane")
            .field("server", &self.shared.server_id)
            .field("tag", &self.shared.tag)
            .finish()
    }
}

impl RedisBackplane {
    /// Starts the clients and the backplane's tasks. Waits a little for
    /// Redis (to lease an id tag), but starts without it: the server then
    /// serves its own users and joins the group when Redis answers.
    pub async fn start(
        url: &str,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Result<Self, BackplaneError> {
        let mut config = Config::from_url(url).map_err(BackplaneError::Url)?;
        // Keep trying when Redis is not there at start, instead of failing.
        config.fail_fast = false;
        let policy = ReconnectPolicy::new_exponential(0, 100, 5_000, 2);
        let build = || {
            Builder::from_config(config.clone())
                .with_connection_config(|connection| {
                    connection.connection_timeout = Duration::from_secs(2);
                    connection.internal_command_timeout = Duration::from_secs(2);
                    // Bounded: while Redis is away, commands fail instead of
                    // piling up in memory.
                    connection.max_command_buffer_len = WRITE_QUEUE;
                })
                .with_performance_config(|performance| {
                    performance.default_command_timeout = Duration::from_secs(2);
                })
                .set_policy(policy.clone())
                .clone()
        };
        let client = build().build().map_err(BackplaneError::Client)?;
        let subscriber = build()
            .build_subscriber_client()
            .map_err(BackplaneError::Client)?;
        client.connect();
        subscriber.connect();
        let _resubscribe = subscriber.manage_subscriptions();

        let server_id = identity::resume_token(&mut rand::rng())[..12].to_owned();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = client.wait_for_connect().await;
            let _ = subscriber.wait_for_connect().await;
        })
        .await;
        let tag = lease_tag(&client, &server_id).await;
        tracing::info!(server = %server_id, %tag, "joining the group of servers sharing Redis");

        // Known now, not at the watcher's first look: a room opened in
        // between would think itself alone, and miss the others' users.
        let connected = client.is_connected() && subscriber.is_connected();
        let initial = Status {
            up: connected,
            generation: u64::from(connected),
        };
        let (status_sender, status) = watch::channel(initial);
        let (alive_sender, alive) = watch::channel(Arc::new(Vec::new()));
        let (writes, write_queue) = mpsc::channel(WRITE_QUEUE);
        let shared = Arc::new(Shared {
            server_id,
            tag,
            client,
            subscriber,
            rooms: Mutex::new(HashMap::new()),
            subscriptions: tokio::sync::Mutex::new(()),
            writes,
            status,
            alive,
            metrics,
        });
        tokio::spawn(watch_status(
            shared.clone(),
            initial,
            status_sender,
            shutdown.clone(),
        ));
        tokio::spawn(dispatch(shared.clone(), shutdown.clone()));
        tokio::spawn(write(shared.clone(), write_queue, shutdown.clone()));
        tokio::spawn(heartbeat(shared.clone(), alive_sender, shutdown));
        Ok(Self { shared })
    }

    /// What every id this server hands out starts with.
    pub fn id_prefix(&self) -> &str {
        &self.shared.tag
    }

    pub fn link(&self, room: &RoomName) -> RedisRoomLink {
        let channel = format!("cursors:{{room:{room}}}");
        let (inbox_sender, inbox) = mpsc::channel(ROOM_INBOX);
        RedisRoomLink {
            users_key: format!("{channel}:users"),
            tokens_key: format!("{channel}:tokens"),
            channel,
            shared: self.shared.clone(),
            inbox,
            inbox_sender,
            status: self.shared.status.clone(),
            alive: self.shared.alive.clone(),
            tokens: HashMap::new(),
            synced_generation: None,
            settle_at: None,
            settling: false,
            retry_at: None,
        }
    }
}

/// Takes a free two-character tag for this server's ids.
async fn lease_tag(client: &Client, server_id: &str) -> String {
    let start = rand::random::<u16>() as usize;
    for offset in 0..36 * 36 {
        let tag = identity::server_tag(start + offset);
        let leased: Result<Option<String>, _> = client
            .set(
                tag_key(&tag),
                server_id,
                Some(Expiration::PX(30_000)),
                Some(SetOptions::NX),
                false,
            )
            .await;
        match leased {
            Ok(Some(_)) => return tag,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(%error, "Redis unreachable at start: ids use an unleased tag until it answers");
                return tag;
            }
        }
    }
    tracing::error!("every id tag is leased: ids may collide with another server's");
    identity::server_tag(start)
}

/// Follows whether both connections are up; logs each outage once when it
/// starts and once when it ends. fred reports errors and reconnections as
/// events; a poll catches what events alone would not say (and an outage
/// too short to be seen down is still counted by its reconnection, so the
/// rooms re-synchronise after it).
async fn watch_status(
    shared: Arc<Shared>,
    initial: Status,
    sender: watch::Sender<Status>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(Duration::from_millis(200));
    let mut errors = (shared.client.error_rx(), shared.subscriber.error_rx());
    let mut reconnections = (
        shared.client.reconnect_rx(),
        shared.subscriber.reconnect_rx(),
    );
    let mut status = initial;
    let mut ever_up = initial.up;
    // What the loop below says of each change, said of the start too.
    shared.metrics.backplane_up(initial.up);
    if initial.up {
        tracing::info!("connected to Redis");
    }
    loop {
        let mut reconnected = false;
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = every.tick() => {}
            Ok(_) = errors.0.recv() => {}
            Ok(_) = errors.1.recv() => {}
            Ok(_) = reconnections.0.recv() => reconnected = true,
            Ok(_) = reconnections.1.recv() => reconnected = true,
        }
        let up = shared.client.is_connected() && shared.subscriber.is_connected();
        if up && status.up && reconnected && ever_up {
            // Down and back between two looks: still an outage.
            tracing::warn!("Redis unreachable for a moment");
            status.up = false;
        }
        if up == status.up {
            continue;
        }
        status.up = up;
        shared.metrics.backplane_up(up);
        if up {
            status.generation += 1;
            if ever_up {
                tracing::info!("Redis is back: re-synchronising the rooms");
            } else {
                tracing::info!("connected to Redis");
            }
            ever_up = true;
        } else {
            tracing::warn!("Redis unreachable: serving this server's users alone until it is back");
        }
        let _ = sender.send(status);
    }
}

/// Hands each message from the channels to its room's task.
async fn dispatch(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut messages = shared.subscriber.message_rx();
    loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => break,
            message = messages.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                shared.metrics.backplane_dropped(missed);
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        };
        shared.metrics.backplane_received();
        let Some(text) = message.value.as_str() else {
            shared.metrics.backplane_error();
            continue;
        };
        let envelope: Envelope = match serde_json::from_str(&text) {
            Ok(envelope) => envelope,
            Err(error) => {
                shared.metrics.backplane_error();
                tracing::debug!(%error, "unreadable message on the backplane");
                continue;
            }
        };
        if envelope.server == shared.server_id {
            continue; // our own, back from the channel
        }
        let inbox = lock(&shared.rooms).get(&*message.channel).cloned();
        if let Some(inbox) = inbox
            && inbox.try_send(envelope).is_err()
        {
            shared.metrics.backplane_dropped(1);
        }
    }
}

/// Sends the queued writes, pipelined, in order.
async fn write(shared: Arc<Shared>, mut queue: mpsc::Receiver<Write>, shutdown: CancellationToken) {
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(result) = in_flight.next(), if !in_flight.is_empty() => {
                let result: Result<(), fred::error::Error> = result;
                if result.is_err() {
                    shared.metrics.backplane_error();
                }
            }
            write = queue.recv(), if in_flight.len() < WRITES_IN_FLIGHT => {
                let Some(write) = write else { break };
                let client = shared.client.clone();
                if matches!(write, Write::Publish { .. }) {
                    shared.metrics.backplane_published();
                }
                in_flight.push(async move { run_write(&client, write).await });
            }
        }
    }
}

async fn run_write(client: &Client, write: Write) -> Result<(), fred::error::Error> {
    match write {
        Write::Publish { channel, payload } => client.spublish::<(), _, _>(channel, payload).await,
        Write::SetUsers { key, records } => client.hset::<(), _, _>(key, records).await,
        Write::SetToken { key, token, id } => client.hset::<(), _, _>(key, (token, id)).await,
        Write::DeleteToken { key, token } => client.hdel::<(), _, _>(key, token).await,
        Write::Forget { users, tokens, ids } => {
            client
                .eval::<(), _, _, _>(FORGET_SCRIPT, vec![users, tokens], ids)
                .await
        }
    }
}

/// Refreshes this server's heartbeat and tells the rooms who is alive.
async fn heartbeat(
    shared: Arc<Shared>,
    alive: watch::Sender<Arc<Vec<String>>>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(HEARTBEAT_EVERY);
    let mut status = shared.status.clone();
    // Judge nobody before a whole heartbeat lifetime has passed, at start
    // and after Redis comes back (it may have restarted empty): the others
    // need that long to show up in the set again.
    let mut judge_from = tokio::time::Instant::now() + HEARTBEAT_TTL;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = every.tick() => {}
            Ok(()) = status.changed() => {
                judge_from = tokio::time::Instant::now() + HEARTBEAT_TTL;
                continue;
            }
        }
        if !status.borrow().up {
            continue;
        }
        let servers: Result<Vec<String>, _> = shared
            .client
            .eval(
                HEARTBEAT_SCRIPT,
                vec![SERVERS_KEY.to_owned(), tag_key(&shared.tag)],
                vec![
                    shared.server_id.clone(),
                    HEARTBEAT_TTL.as_millis().to_string(),
                    "30000".to_owned(),
                ],
            )
            .await;
        match servers {
            Ok(servers) if tokio::time::Instant::now() >= judge_from => {
                alive.send_if_modified(|current| {
                    let changed = **current != servers;
                    if changed {
                        *current = Arc::new(servers);
                    }
                    changed
                });
            }
            Ok(_) => {}
            Err(_) => shared.metrics.backplane_error(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the group has for a room task.
pub enum FromGroup {
    Input(Input),
    /// Redis came back: the room must re-synchronise.
    Resync,
}

/// One room's link to the group.
pub struct RedisRoomLink {
    shared: Arc<Shared>,
    channel: String,
    users_key: String,
    tokens_key: String,
    inbox: mpsc::Receiver<Envelope>,
    inbox_sender: mpsc::Sender<Envelope>,
    status: watch::Receiver<Status>,
    alive: watch::Receiver<Arc<Vec<String>>>,
    /// Local users' current tokens, to forget them when they leave.
    tokens: HashMap<String, String>,
    /// The Redis generation this room last synchronised with.
    synced_generation: Option<u64>,
    /// When the second pass after an outage is due ([`RESYNC_SETTLE`]).
    settle_at: Option<tokio::time::Instant>,
    /// The resync under way is that second pass (it schedules no third).
    settling: bool,
    /// When a room that could not subscribe or read tries again.
    retry_at: Option<tokio::time::Instant>,
}

impl std::fmt::Debug for RedisRoomLink {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisRoomLink")
            .field("channel", &self.channel)
            .finish()
    }
}

impl RedisRoomLink {
    fn is_up(&self) -> bool {
        self.status.borrow().up
    }

    /// Subscribes to the room's channel, then reads who is in it on the
    /// other servers (in that order, so nothing said between is missed).
    pub async fn open(&mut self) -> Vec<Input> {
        let generation = self.status.borrow().generation;
        if !self.subscribe().await {
            // Tried again soon (see `next`); until then the room is alone.
            return Vec::new();
        }
        self.synced_generation = Some(generation);
        if !self.is_up() {
            return Vec::new();
        }
        match self.read_records().await {
            Some(records) => self.others(&records),
            None => {
                // Not knowing who is here is not being synchronised: try
                // again soon (see `next`).
                self.synced_generation = None;
                Vec::new()
            }
        }
    }

    /// Registers the room's inbox and subscribes to its channel (fred
    /// subscribes again by itself after a reconnect). Whether it worked.
    async fn subscribe(&mut self) -> bool {
        let _one_at_a_time = self.shared.subscriptions.lock().await;
        lock(&self.shared.rooms).insert(self.channel.clone(), self.inbox_sender.clone());
        let subscribe = self.shared.subscriber.ssubscribe(self.channel.clone());
        match tokio::time::timeout(ROUND_TRIP_LIMIT, subscribe).await {
            Ok(Ok(())) => true,
            _ => {
                self.shared.metrics.backplane_error();
                false
            }
        }
    }

    /// Every record in the room's `users` hash (unreadable ones skipped);
    /// `None` if Redis did not answer in time.
    async fn read_records(&self) -> Option<Vec<UserRecord>> {
        let read = self
            .shared
            .client
            .hgetall::<HashMap<String, String>, _>(self.users_key.clone());
        match tokio::time::timeout(ROUND_TRIP_LIMIT, read).await {
            Ok(Ok(records)) => Some(
                records
                    .values()
                    .filter_map(|text| serde_json::from_str(text).ok())
                    .collect(),
            ),
            _ => {
                self.shared.metrics.backplane_error();
                None
            }
        }
    }

    /// The other servers' users among `records`, as `Present` inputs.
    fn others(&self, records: &[UserRecord]) -> Vec<Input> {
        let mut by_server: HashMap<String, Vec<User>> = HashMap::new();
        for record in records {
            if record.server != self.shared.server_id {
                by_server
                    .entry(record.server.clone())
                    .or_default()
                    .push(record.user());
            }
        }
        by_server
            .into_iter()
            .map(|(server, users)| Input::Remote {
                server,
                change: RemoteChange::Present(users),
            })
            .collect()
    }

    // ANCHOR: next
    /// The next thing the group says about this room. Never resolves for
    /// a room whose inbox is gone. Cancel-safe.
    pub async fn next(&mut self) -> FromGroup {
        loop {
            let unsynced = self.synced_generation.is_none();
            // A deadline, not a fresh sleep per call: the room task cancels
            // `next` whenever a command comes, and a busy room would
            // otherwise never get to try again.
            if !unsynced {
                self.retry_at = None;
            } else if self.retry_at.is_none() {
                self.retry_at = Some(tokio::time::Instant::now() + RESUBSCRIBE_EVERY);
            }
            tokio::select! {
                // A room that could not subscribe or read tries again
                // every second.
                () = sleep_until_some(self.retry_at), if unsynced => {
                    self.retry_at = None;
                    if self.is_up() {
                        return FromGroup::Resync;
                    }
                }
                Some(envelope) = self.inbox.recv() => {
                    return FromGroup::Input(Input::Remote {
                        server: envelope.server,
                        change: envelope.body.change(),
                    });
                }
                Ok(()) = self.status.changed() => {
                    let status = *self.status.borrow_and_update();
                    if status.up && self.synced_generation != Some(status.generation) {
                        self.synced_generation = Some(status.generation);
                        return FromGroup::Resync;
                    }
                }
                Ok(()) = self.alive.changed() => {
                    let servers = self.alive.borrow_and_update().as_ref().clone();
                    return FromGroup::Input(Input::ServersAlive { servers });
                }
                () = sleep_until_some(self.settle_at), if self.settle_at.is_some() => {
                    self.settle_at = None;
                    let status = *self.status.borrow();
                    if status.up {
                        // Redis went and came back again meanwhile: that
                        // makes this a first pass, with a second of its own.
                        self.settling = self.synced_generation == Some(status.generation);
                        return FromGroup::Resync;
                    }
                }
            }
        }
    }
    // ANCHOR_END: next

    /// After Redis came back: writes this server's users again (dropping
    /// records of users it no longer holds), tells the others who they are,
    /// and reads theirs.
    pub async fn resync(&mut self, state: &RoomState) -> Vec<Input> {
        let generation = self.status.borrow().generation;
        if self.synced_generation.is_none() && !self.subscribe().await {
            return Vec::new();
        }
        self.synced_generation = Some(generation);
        let server = self.shared.server_id.clone();
        let records: Vec<UserRecord> = state
            .local_users()
            .map(|(user, token)| UserRecord::new(user, &server, token))
            .collect();
        self.tokens = records
            .iter()
            .map(|record| (record.id.clone(), record.token.clone()))
            .collect();
        // Ours that are no longer here (their `left` was lost in the outage).
        let existing = self.read_records().await.unwrap_or_default();
        let stale: Vec<String> = existing
            .iter()
            .filter(|record| record.server == server && !self.tokens.contains_key(&record.id))
            .map(|record| record.id.clone())
            .collect();
        if !stale.is_empty() {
            self.queue(Write::Forget {
                users: self.users_key.clone(),
                tokens: self.tokens_key.clone(),
                ids: stale,
            });
        }
        for record in &records {
            self.queue(Write::SetToken {
                key: self.tokens_key.clone(),
                token: record.token.clone(),
                id: record.id.clone(),
            });
        }
        self.write_records(&records);
        self.publish(Replicated::Present { users: records });
        // One more pass soon, for what this one could not see yet (see
        // RESYNC_SETTLE); that pass schedules no other.
        if !std::mem::take(&mut self.settling) {
            self.settle_at = Some(tokio::time::Instant::now() + RESYNC_SETTLE);
        }
        // Read the others again rather than reuse `existing`: the later the
        // read, the more of the other servers have written theirs back (a
        // Redis that restarted empty holds nothing until they have).
        match self.read_records().await {
            Some(records) => self.others(&records),
            None => Vec::new(),
        }
    }

    /// Claims, for a new connection here, the user another server issued
    /// `token` to. `None` if the token is unknown, spent, or Redis is away.
    pub async fn claim(&mut self, token: &str) -> Option<User> {
        if !self.is_up() {
            return None;
        }
        let claim = self.shared.client.eval::<Option<String>, _, _, _>(
            CLAIM_SCRIPT,
            vec![self.users_key.clone(), self.tokens_key.clone()],
            vec![token.to_owned()],
        );
        match tokio::time::timeout(ROUND_TRIP_LIMIT, claim).await {
            Ok(Ok(Some(text))) => serde_json::from_str::<UserRecord>(&text)
                .ok()
                .map(|record| record.user()),
            Ok(Ok(None)) => None,
            _ => {
                self.shared.metrics.backplane_error();
                None
            }
        }
    }

    // ANCHOR: share
    /// Shares what happened here, for an event that came from this
    /// server's own connections.
    pub fn share(&mut self, event: &Event, state: &RoomState) {
        if !self.is_up() {
            return; // the re-synchronisation after the outage repairs it
        }
        match event {
            Event::Admitted { id, .. } => {
                let Some((user, token)) = state.local_user(id) else {
                    return;
                };
                // A token is good for one resume, on any server: the one
                // this user just came back with is spent.
                if let Some(spent) = self.tokens.insert(id.clone(), token.to_owned())
                    && spent != token
                {
                    self.queue(Write::DeleteToken {
                        key: self.tokens_key.clone(),
                        token: spent,
                    });
                }
                self.queue(Write::SetToken {
                    key: self.tokens_key.clone(),
                    token: token.to_owned(),
                    id: id.clone(),
                });
                let record = UserRecord::new(user, &self.shared.server_id, token);
                self.write_records(&[record]);
            }
            Event::Broadcast { message, .. } => {
                match message {
                    ServerMessage::Left { id } => {
                        self.tokens.remove(id);
                        self.queue(Write::Forget {
                            users: self.users_key.clone(),
                            tokens: self.tokens_key.clone(),
                            ids: vec![id.clone()],
                        });
                    }
                    ServerMessage::Joined { peer: info } => self.write_user(state, &info.id),
                    ServerMessage::Renamed { id, .. }
                    | ServerMessage::Hidden { id }
                    | ServerMessage::Presence { id, .. } => self.write_user(state, id),
                    _ => {}
                }
                self.publish(Replicated::Message {
                    message: message.clone(),
                });
            }
            Event::Cursors { moves, .. } => {
                // The batch may hold other servers' users too (they are
                // flushed here with ours); each server publishes its own.
                let server = self.shared.server_id.clone();
                let mut records = Vec::new();
                let mut ours = Vec::with_capacity(moves.len());
                for position in moves {
                    let Some((user, token)) = state.local_user(&position.id) else {
                        continue;
                    };
                    records.push(UserRecord::new(user, &server, token));
                    ours.push(position.clone());
                }
                if ours.is_empty() {
                    return;
                }
                self.write_records(&records);
                self.publish(Replicated::Message {
                    message: ServerMessage::Cursors { moves: ours },
                });
            }
            Event::Claimed { id } => self.publish(Replicated::Claimed { id: id.clone() }),
            Event::Superseded { .. } | Event::Detached { .. } | Event::Ignored { .. } => {}
        }
    }
    // ANCHOR_END: share

    /// Forgets, in Redis, users of dead servers this room just removed.
    pub fn forget_ghosts(&mut self, ids: Vec<String>) {
        if ids.is_empty() || !self.is_up() {
            return;
        }
        self.queue(Write::Forget {
            users: self.users_key.clone(),
            tokens: self.tokens_key.clone(),
            ids,
        });
    }

    /// The room task ends: stop listening to its channel.
    pub async fn close(&mut self) {
        let _one_at_a_time = self.shared.subscriptions.lock().await;
        let mine = {
            let mut rooms = lock(&self.shared.rooms);
            let mine = rooms
                .get(&self.channel)
                .is_some_and(|inbox| inbox.same_channel(&self.inbox_sender));
            if mine {
                rooms.remove(&self.channel);
            }
            mine
        };
        if mine {
            let unsubscribe = self.shared.subscriber.sunsubscribe(self.channel.clone());
            let _ = tokio::time::timeout(ROUND_TRIP_LIMIT, unsubscribe).await;
        }
    }

    fn write_user(&mut self, state: &RoomState, id: &str) {
        let Some((user, token)) = state.local_user(id) else {
            return;
        };
        let record = UserRecord::new(user, &self.shared.server_id, token);
        self.write_records(&[record]);
    }

    fn write_records(&mut self, records: &[UserRecord]) {
        if records.is_empty() {
            return;
        }
        let records = records
            .iter()
            .filter_map(|record| Some((record.id.clone(), serde_json::to_string(record).ok()?)))
            .collect();
        self.queue(Write::SetUsers {
            key: self.users_key.clone(),
            records,
        });
    }

    fn publish(&mut self, body: Replicated) {
        let envelope = Envelope {
            server: self.shared.server_id.clone(),
            body,
        };
        let Ok(payload) = serde_json::to_string(&envelope) else {
            return;
        };
        self.queue(Write::Publish {
            channel: self.channel.clone(),
            payload,
        });
    }

    fn queue(&self, write: Write) {
        if self.shared.writes.try_send(write).is_err() {
            self.shared.metrics.backplane_dropped(1);
        }
    }
}
