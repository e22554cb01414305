//! This server's place in the group: the two Redis connections and the four
//! server-wide tasks every room of this server shares.
//!
//! - the **status watcher** follows whether Redis is reachable and counts
//!   each time it comes back (a [`Status`] on a `watch` channel, which every
//!   room's link follows to re-synchronise);
//! - the **dispatcher** hands each message of the subscribed channels to its
//!   room's inbox (bounded: a room that cannot keep up loses messages, which
//!   are counted, rather than making the others wait);
//! - the **writer** sends the writes the rooms queue, pipelined, in order;
//! - the **heartbeat** refreshes this server's entry in `cursors:servers`
//!   and tells the rooms which servers are alive;
//! - the **reconciler** subscribes the rooms' channels again where fred
//!   would not (after a reconnect, or when a slot moved to another node of
//!   a Redis Cluster), and tells each room it did, so the room
//!   re-synchronises (`subscriptions.rs` decides; the task does the I/O).
//!
//! `--redis-url` is one Redis (`redis://HOST:PORT`) or a Redis Cluster in
//! fred's form, `redis-cluster://HOST:PORT?node=HOST:PORT&node=…` (any of
//! its nodes; fred reads the rest from the cluster). Every multi-key
//! command and script touches keys of one slot: one room's (its
//! `{room:NAME}` hash tag), or one server-wide key at a time.
//!
//! The rooms only queue writes ([`Group::queue`]) and read their inbox: no
//! room waits for a write, and while Redis is away nothing piles up (the
//! queue is bounded, and fred's own buffer is too).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::prelude::*;
use fred::types::cluster::ClusterRouting;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::records::{Envelope, Received, SERVERS_KEY, UserRecord, Write, tag_key};
use super::scripts::{FORGET_SCRIPT, HEARTBEAT_SCRIPT};
use super::subscriptions::{Reconciler, Resubscribe};
use super::sync::Status;
use crate::identity;
use crate::metrics::Metrics;

/// A server's heartbeat lasts this long in `cursors:servers`.
const HEARTBEAT_TTL: Duration = Duration::from_secs(3);
/// How often a server refreshes its heartbeat and reads the others'.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How long a server's lease on its id tag lasts without renewal.
const TAG_LEASE: Duration = Duration::from_secs(30);
/// Writes that may wait for Redis; past it they are dropped (and counted).
const WRITE_QUEUE: usize = 4096;

/// Messages from the channels that may wait for the dispatcher (fred's
/// broadcast channel; its default is 32). Every room's flush publishes at
/// the same tick, so messages come in bursts, and on a busy machine the
/// dispatcher may not run for a few milliseconds: with 32, two servers
/// sharing 25 rooms lost 2 to 4% of the positions crossing between them
/// (counted in `cursors_backplane_dropped_total`). fred gives each of the
/// subscriber's event channels this capacity, allocated up front: about
/// 2 MiB of resident memory in all, measured; only the subscriber gets it.
const SUBSCRIBER_BACKLOG: usize = 4096;
/// Writes in flight at once on the connection (fred pipelines them).
const WRITES_IN_FLIGHT: usize = 64;
/// The longest the reconciler waits for one subscription or a look at the
/// cluster's map before it moves on (and tries again at its next look).
const RECONCILE_LIMIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum BackplaneError {
    #[error("bad Redis URL: {0}")]
    Url(#[source] fred::error::Error),
    #[error("cannot set up the Redis client: {0}")]
    Client(#[source] fred::error::Error),
}

/// What every room of this server shares of the group.
pub struct Group {
    /// This server's id in the group (random, per run).
    pub server_id: String,
    /// The two characters every id handed out here starts with.
    pub tag: String,
    pub client: Client,
    pub subscriber: SubscriberClient,
    /// Whether Redis is a cluster (its slots have owners that can change).
    clustered: bool,
    /// Each open room's inbox, by channel.
    rooms: Mutex<HashMap<String, Listener>>,
    /// Which channels are subscribed where; see `subscriptions.rs`.
    reconciler: Mutex<Reconciler>,
    /// Subscribing and unsubscribing one at a time, so that a room closing
    /// cannot unsubscribe the channel a new task of the same room opened.
    pub subscriptions: tokio::sync::Mutex<()>,
    writes: mpsc::Sender<Write>,
    pub status: watch::Receiver<Status>,
    pub alive: watch::Receiver<Arc<Vec<String>>>,
    pub metrics: Arc<Metrics>,
}

impl Group {
    /// Starts the clients and the server-wide tasks. Waits a little for
    /// Redis (to lease an id tag), but starts without it: the server then
    /// serves its own users and joins the group when Redis answers.
    pub async fn start(
        url: &str,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, BackplaneError> {
        let mut config = Config::from_url(url).map_err(BackplaneError::Url)?;
        let clustered = config.server.is_clustered();
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
            .with_performance_config(|performance| {
                performance.default_command_timeout = Duration::from_secs(2);
                performance.broadcast_channel_capacity = SUBSCRIBER_BACKLOG;
            })
            .build_subscriber_client()
            .map_err(BackplaneError::Client)?;
        client.connect();
        subscriber.connect();
        // Not fred's `manage_subscriptions`: it gives up before the sharded
        // channels (see `subscriptions.rs`); the reconciler task does it.

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
        let group = Arc::new(Self {
            server_id,
            tag,
            client,
            subscriber,
            clustered,
            rooms: Mutex::new(HashMap::new()),
            reconciler: Mutex::new(Reconciler::default()),
            subscriptions: tokio::sync::Mutex::new(()),
            writes,
            status,
            alive,
            metrics,
        });
        tokio::spawn(watch_status(
            group.clone(),
            initial,
            status_sender,
            shutdown.clone(),
        ));
        tokio::spawn(dispatch(group.clone(), shutdown.clone()));
        tokio::spawn(write(group.clone(), write_queue, shutdown.clone()));
        tokio::spawn(heartbeat(group.clone(), alive_sender, shutdown.clone()));
        tokio::spawn(reconcile(group.clone(), shutdown));
        Ok(group)
    }

    /// Queues a write for the writer task; drops it (and counts it) when
    /// the queue is full.
    pub fn queue(&self, write: Write) {
        if self.writes.try_send(write).is_err() {
            self.metrics.backplane_dropped(1);
        }
    }

    /// Routes the messages of `channel` to `inbox` from now on, and tells
    /// `resubscribed` each time the reconciler subscribes it again.
    pub fn listen(
        &self,
        channel: &str,
        inbox: mpsc::Sender<Envelope>,
        resubscribed: watch::Sender<u64>,
    ) {
        lock(&self.rooms).insert(
            channel.to_owned(),
            Listener {
                inbox,
                resubscribed,
            },
        );
    }

    /// A room's own subscription to `channel` succeeded: the reconciler
    /// counts it as made on the node that owns the slot now.
    pub fn subscribed(&self, channel: &str) {
        if let Some(node) = self.owner(channel, self.routing().as_ref()) {
            lock(&self.reconciler).subscribed(channel, node);
        }
    }

    /// The cluster's map of slots as the subscriber knows it (`None` on one
    /// Redis, or before the first look).
    fn routing(&self) -> Option<ClusterRouting> {
        if self.clustered {
            self.subscriber.cached_cluster_state()
        } else {
            None
        }
    }

    /// The node that serves `channel`'s slot, by `routing`; on one Redis,
    /// always the same one (named by the empty string).
    fn owner(&self, channel: &str, routing: Option<&ClusterRouting>) -> Option<String> {
        if !self.clustered {
            return Some(String::new());
        }
        let slot = ClusterRouting::hash_key(channel.as_bytes());
        routing?.get_server(slot).map(ToString::to_string)
    }

    /// Stops routing `channel` to `inbox`; whether it was still routed
    /// there (a newer task of the same room may have taken it over).
    pub fn stop_listening(&self, channel: &str, inbox: &mpsc::Sender<Envelope>) -> bool {
        let mut rooms = lock(&self.rooms);
        let mine = rooms
            .get(channel)
            .is_some_and(|listening| listening.inbox.same_channel(inbox));
        if mine {
            rooms.remove(channel);
            lock(&self.reconciler).closed(channel);
        }
        mine
    }
}

/// Where the messages of one room's channel go, and how the room learns
/// its channel was subscribed again.
struct Listener {
    inbox: mpsc::Sender<Envelope>,
    /// Bumped by the reconciler after each re-subscription.
    resubscribed: watch::Sender<u64>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Group")
            .field("server", &self.server_id)
            .field("tag", &self.tag)
            .finish()
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
                Some(Expiration::PX(TAG_LEASE.as_millis() as i64)),
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
    group: Arc<Group>,
    initial: Status,
    sender: watch::Sender<Status>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(Duration::from_millis(200));
    let mut errors = (group.client.error_rx(), group.subscriber.error_rx());
    let mut reconnections = (group.client.reconnect_rx(), group.subscriber.reconnect_rx());
    let mut status = initial;
    let mut ever_up = initial.up;
    // What the loop below says of each change, said of the start too.
    group.metrics.backplane_up(initial.up);
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
        let up = group.client.is_connected() && group.subscriber.is_connected();
        if up && status.up && reconnected && ever_up {
            // Down and back between two looks: still an outage.
            tracing::warn!("Redis unreachable for a moment");
            status.up = false;
        }
        if up == status.up {
            continue;
        }
        status.up = up;
        group.metrics.backplane_up(up);
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
async fn dispatch(group: Arc<Group>, shutdown: CancellationToken) {
    let mut messages = group.subscriber.message_rx();
    loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => break,
            message = messages.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                group.metrics.backplane_dropped(missed);
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        };
        group.metrics.backplane_received();
        let Some(text) = message.value.as_str() else {
            group.metrics.backplane_error();
            continue;
        };
        // Half of what a server of two hears is its own, back from the
        // channel: it is dropped before its body becomes values (see
        // `Received`).
        let received = serde_json::from_str::<Received>(&text);
        if received
            .as_ref()
            .is_ok_and(|received| received.server == group.server_id)
        {
            continue;
        }
        let envelope = match received.and_then(Received::envelope) {
            Ok(envelope) => envelope,
            Err(error) => {
                group.metrics.backplane_error();
                tracing::debug!(%error, "unreadable message on the backplane");
                continue;
            }
        };
        let inbox = lock(&group.rooms)
            .get(&*message.channel)
            .map(|listener| listener.inbox.clone());
        if let Some(inbox) = inbox
            && inbox.try_send(envelope).is_err()
        {
            group.metrics.backplane_dropped(1);
        }
    }
}

/// Sends the queued writes, pipelined, in order.
async fn write(group: Arc<Group>, mut queue: mpsc::Receiver<Write>, shutdown: CancellationToken) {
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(result) = in_flight.next(), if !in_flight.is_empty() => {
                let result: Result<(), fred::error::Error> = result;
                if result.is_err() {
                    group.metrics.backplane_error();
                }
            }
            write = queue.recv(), if in_flight.len() < WRITES_IN_FLIGHT => {
                let Some(write) = write else { break };
                let client = group.client.clone();
                if matches!(write, Write::Publish { .. }) {
                    group.metrics.backplane_published();
                }
                in_flight.push(async move { run_write(&client, write).await });
            }
        }
    }
}

async fn run_write(client: &Client, write: Write) -> Result<(), fred::error::Error> {
    match write {
        Write::Publish { channel, envelope } => {
            let payload = to_json(&envelope)?;
            client.spublish::<(), _, _>(channel, payload).await
        }
        Write::SetUsers { key, records } => {
            let fields = records
                .iter()
                .map(|record: &UserRecord| Ok((record.peer.id.clone(), to_json(record)?)))
                .collect::<Result<Vec<(String, String)>, fred::error::Error>>()?;
            client.hset::<(), _, _>(key, fields).await
        }
        Write::SetToken { key, token, id } => client.hset::<(), _, _>(key, (token, id)).await,
        Write::DeleteToken { key, token } => client.hdel::<(), _, _>(key, token).await,
        Write::Forget { users, tokens, ids } => {
            client
                .eval::<(), _, _, _>(FORGET_SCRIPT, vec![users, tokens], ids)
                .await
        }
    }
}

/// JSON for Redis; a value that cannot be written is an error of the write.
fn to_json(value: &impl serde::Serialize) -> Result<String, fred::error::Error> {
    serde_json::to_string(value).map_err(|error| {
        fred::error::Error::new(fred::error::ErrorKind::InvalidArgument, error.to_string())
    })
}

/// Refreshes this server's heartbeat and tells the rooms who is alive.
async fn heartbeat(
    group: Arc<Group>,
    alive: watch::Sender<Arc<Vec<String>>>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(HEARTBEAT_EVERY);
    let mut status = group.status.clone();
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
        // Two commands, not one script: on a Redis Cluster the set of
        // servers and this server's tag live on different shards.
        let servers: Result<Vec<String>, _> = group
            .client
            .eval(
                HEARTBEAT_SCRIPT,
                vec![SERVERS_KEY.to_owned()],
                vec![
                    group.server_id.clone(),
                    HEARTBEAT_TTL.as_millis().to_string(),
                ],
            )
            .await;
        let renewed: Result<(), _> = group
            .client
            .set(
                tag_key(&group.tag),
                group.server_id.as_str(),
                Some(Expiration::PX(TAG_LEASE.as_millis() as i64)),
                None,
                false,
            )
            .await;
        if renewed.is_err() {
            group.metrics.backplane_error();
        }
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
            Err(_) => group.metrics.backplane_error(),
        }
    }
}

/// Subscribes the rooms' channels again where they are not (any more);
/// see `subscriptions.rs`. Looks every second, and at once when the
/// subscriber reconnects.
async fn reconcile(group: Arc<Group>, shutdown: CancellationToken) {
    let mut reconnections = group.subscriber.reconnect_rx();
    loop {
        let next = lock(&group.reconciler).next_check(tokio::time::Instant::now());
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep_until(next) => {}
            Ok(_) = reconnections.recv() => {
                lock(&group.reconciler).reconnected();
                continue;
            }
        }
        if !lock(&group.reconciler).due(tokio::time::Instant::now()) {
            continue;
        }
        if !group.subscriber.is_connected() {
            // A reconnect comes first; it makes every channel due.
            lock(&group.reconciler).disconnected(tokio::time::Instant::now());
            continue;
        }
        if group.clustered {
            // fred refreshes its map of slots on a MOVED answer; a slot
            // whose subscription Redis simply dropped never answers that.
            // One `CLUSTER SLOTS` a second, on fred's spare connection.
            let refresh = tokio::time::timeout(RECONCILE_LIMIT, group.subscriber.sync_cluster());
            if !matches!(refresh.await, Ok(Ok(()))) {
                tracing::debug!("could not read the cluster's map of slots");
            }
        }
        let routing = group.routing();
        let served: Vec<(String, Option<String>)> = lock(&group.rooms)
            .keys()
            .map(|channel| (channel.clone(), group.owner(channel, routing.as_ref())))
            .collect();
        let plan = lock(&group.reconciler).plan(tokio::time::Instant::now(), served);
        // A node that failed one subscription is skipped for the rest of
        // this look: mid-failover each would wait out the limit, one after
        // another, while the rooms wait for the same lock.
        let mut failed = HashSet::new();
        for step in plan {
            if failed.contains(&step.node) {
                continue;
            }
            let node = step.node.clone();
            if !resubscribe(&group, step).await {
                failed.insert(node);
            }
        }
    }
}

/// Carries out one step of the reconciler's plan: subscribes the channel
/// again (unless its room closed or did it meanwhile) and tells its room.
/// False if Redis refused or did not answer in time.
async fn resubscribe(group: &Group, step: Resubscribe) -> bool {
    let Resubscribe { channel, node } = step;
    // One at a time with the rooms' own (un)subscribing, so a room that
    // closes meanwhile is not subscribed again behind its back.
    let _one_at_a_time = group.subscriptions.lock().await;
    if !lock(&group.rooms).contains_key(&channel)
        || lock(&group.reconciler).is_confirmed(&channel, &node)
    {
        return true;
    }
    let subscribe = group.subscriber.ssubscribe(channel.clone());
    match tokio::time::timeout(RECONCILE_LIMIT, subscribe).await {
        Ok(Ok(())) => {
            tracing::debug!(%channel, %node, "subscribed again");
            lock(&group.reconciler).subscribed(&channel, node);
            if let Some(listener) = lock(&group.rooms).get(&channel) {
                listener.resubscribed.send_modify(|count| *count += 1);
            }
            true
        }
        outcome => {
            group.metrics.backplane_error();
            if let Ok(Err(error)) = outcome {
                tracing::debug!(%error, %channel, "could not subscribe again; retrying at the next look");
            }
            false
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
