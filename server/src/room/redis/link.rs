//! One room's link to the group, owned by the room's task: the Redis side
//! of [`RoomLink`].
//!
//! It carries out what the pure parts decide. [`Replicator`] says what to
//! write for each event and how records and messages become inputs;
//! [`SyncSchedule`] says when to re-synchronise. This file does the I/O:
//! subscribing, reading the room's `users` hash, claiming a token with a
//! script, and queueing writes for the group's writer task.
//!
//! **Where a room waits for Redis.** Three things happen inside the room's
//! loop and hold its other commands and flushes while they run, each for
//! at most [`ROUND_TRIP_LIMIT`]: opening the room (subscribe, then read who
//! is there), re-synchronising, and claiming an unknown resume token for a
//! join. The first two are once per room per event; the third is per
//! reconnecting user, so after a server dies its users, reconnecting to
//! one room here, are claimed one after another (a Redis round trip each,
//! well under a millisecond on a local network). While Redis is down none
//! of them waits at all. Moving the claim out of the loop would let a join
//! race with the room's own state; this keeps one order of events per room.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cursors_protocol::RoomName;
use fred::prelude::*;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::group::Group;
use super::records::{Envelope, RoomKeys, UserRecord, Write};
use super::replication::Replicator;
use super::scripts::CLAIM_SCRIPT;
use super::sync::{Status, SyncSchedule};
use crate::room::backplane::{Incoming, RoomLink};
use crate::room::state::{Event, Input, RoomState, User};
use crate::room::timer::sleep_until_some;

/// The longest a room waits for Redis while opening, claiming a token or
/// re-synchronising, before it goes on without.
const ROUND_TRIP_LIMIT: Duration = Duration::from_millis(500);
/// Messages from other servers that may wait for one room task.
const ROOM_INBOX: usize = 1024;

/// One room's link to the group.
pub struct RedisRoomLink {
    group: Arc<Group>,
    keys: RoomKeys,
    inbox: mpsc::Receiver<Envelope>,
    inbox_sender: mpsc::Sender<Envelope>,
    status: watch::Receiver<Status>,
    alive: watch::Receiver<Arc<Vec<String>>>,
    /// Changes each time the group's reconciler subscribes the room's
    /// channel again (pub/sub lost what was said meanwhile).
    resubscribed: watch::Receiver<u64>,
    replicator: Replicator,
    schedule: SyncSchedule,
}

impl std::fmt::Debug for RedisRoomLink {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisRoomLink")
            .field("channel", &self.keys.channel)
            .finish()
    }
}

impl RedisRoomLink {
    pub fn new(group: Arc<Group>, room: &RoomName) -> Self {
        let keys = RoomKeys::new(room);
        let (inbox_sender, inbox) = mpsc::channel(ROOM_INBOX);
        Self {
            replicator: Replicator::new(group.server_id.clone(), keys.clone()),
            keys,
            inbox,
            inbox_sender,
            status: group.status.clone(),
            alive: group.alive.clone(),
            resubscribed: watch::channel(0).1,
            schedule: SyncSchedule::default(),
            group,
        }
    }

    fn status(&self) -> Status {
        *self.status.borrow()
    }

    /// Registers the room's inbox and subscribes to its channel (the
    /// group's reconciler subscribes it again whenever Redis may have
    /// dropped it: after a reconnect, or when its slot moved). Whether it
    /// worked.
    ///
    /// An error *answer* is tried once more at once. It was seen when
    /// fred's own re-subscription (no longer used, see `subscriptions.rs`)
    /// sent an empty `SUBSCRIBE` right after the subscriber connected, and
    /// Redis's "wrong number of arguments" reached our first `SSUBSCRIBE`:
    /// the room would then think itself alone and, among other things,
    /// give its first user the colour of someone on another server. Kept
    /// for any such stray answer. A timeout is not tried again (Redis is
    /// slow or away; `next` retries soon).
    async fn subscribe(&mut self) -> bool {
        let _one_at_a_time = self.group.subscriptions.lock().await;
        let (resubscribed, told) = watch::channel(0);
        self.resubscribed = told;
        self.group
            .listen(&self.keys.channel, self.inbox_sender.clone(), resubscribed);
        for _attempt in 0..2 {
            let subscribe = self.group.subscriber.ssubscribe(self.keys.channel.clone());
            let outcome = tokio::time::timeout(ROUND_TRIP_LIMIT, subscribe).await;
            if let Ok(Ok(())) = outcome {
                self.group.subscribed(&self.keys.channel);
                return true;
            }
            self.group.metrics.backplane_error();
            match outcome {
                Ok(Err(error)) => {
                    tracing::debug!(%error, channel = %self.keys.channel, "subscribe answered with an error");
                }
                _ => break,
            }
        }
        false
    }

    /// Every record in the room's `users` hash (unreadable ones skipped);
    /// `None` if Redis did not answer in time.
    async fn read_records(&self) -> Option<Vec<UserRecord>> {
        let read = self
            .group
            .client
            .hgetall::<HashMap<String, String>, _>(self.keys.users.clone());
        match tokio::time::timeout(ROUND_TRIP_LIMIT, read).await {
            Ok(Ok(records)) => Some(
                records
                    .values()
                    .filter_map(|text| serde_json::from_str(text).ok())
                    .collect(),
            ),
            _ => {
                self.group.metrics.backplane_error();
                None
            }
        }
    }

    fn queue_all(&self, writes: impl IntoIterator<Item = Write>) {
        for write in writes {
            self.group.queue(write);
        }
    }
}

impl RoomLink for RedisRoomLink {
    /// Subscribes to the room's channel, then reads who is in it on the
    /// other servers (in that order, so nothing said between is missed).
    async fn open(&mut self) -> Vec<Input> {
        let status = self.status();
        if !self.subscribe().await {
            // Tried again soon (see `next`); until then the room is alone.
            self.schedule.opened(status.generation, false);
            return Vec::new();
        }
        self.schedule.opened(status.generation, true);
        if !self.status().up {
            return Vec::new();
        }
        match self.read_records().await {
            Some(records) => self.replicator.others(&records),
            None => {
                // Not knowing who is here is not being synchronised: try
                // again soon (see `next`).
                self.schedule.read_failed();
                Vec::new()
            }
        }
    }

    fn share(&mut self, event: &Event, state: &RoomState) {
        if !self.status().up {
            return; // the re-synchronisation after the outage repairs it
        }
        let writes = self.replicator.share(event, state);
        self.queue_all(writes);
    }

    // ANCHOR: next
    /// The next thing the group says about this room. Cancel-safe: the
    /// room task drops this future whenever a command comes first.
    async fn next(&mut self) -> Incoming {
        loop {
            let wakeup = self.schedule.next_wakeup(Instant::now());
            tokio::select! {
                () = sleep_until_some(wakeup) => {
                    if self.schedule.wake(Instant::now(), self.status()) {
                        return Incoming::Resync;
                    }
                }
                Some(envelope) = self.inbox.recv() => {
                    if let Some(input) = self.replicator.receive(envelope) {
                        return Incoming::Input(input);
                    }
                }
                Ok(()) = self.status.changed() => {
                    let status = *self.status.borrow_and_update();
                    if self.schedule.status_changed(status) {
                        return Incoming::Resync;
                    }
                }
                Ok(()) = self.alive.changed() => {
                    let servers = self.alive.borrow_and_update().as_ref().clone();
                    return Incoming::Input(Input::ServersAlive { servers });
                }
                Ok(()) = self.resubscribed.changed() => {
                    self.resubscribed.borrow_and_update();
                    return Incoming::Resync;
                }
            }
        }
    }
    // ANCHOR_END: next

    /// After Redis came back: writes this server's users again (dropping
    /// records of users it no longer holds), tells the others who they are,
    /// and reads theirs.
    async fn resync(&mut self, state: &RoomState) -> Vec<Input> {
        let generation = self.status().generation;
        if !self.schedule.is_synchronised() && !self.subscribe().await {
            return Vec::new();
        }
        let existing = self.read_records().await.unwrap_or_default();
        // Users claimed by another server while we were away come first:
        // the room gives them up before it hears that server's list.
        let mut inputs = self.replicator.claimed_elsewhere(state, &existing);
        let writes = self.replicator.resync(state, &existing);
        self.queue_all(writes);
        // Synchronised with this generation; the second pass counts from
        // now, once our writes are queued.
        self.schedule.resynced(generation, Instant::now());
        // Read the others again rather than reuse `existing`: the later the
        // read, the more of the other servers have written theirs back (a
        // Redis that restarted empty holds nothing until they have).
        if let Some(records) = self.read_records().await {
            inputs.extend(self.replicator.others(&records));
        }
        inputs
    }

    /// Claims, for a new connection here, the user another server issued
    /// `token` to. `None` if the token is unknown, spent, or Redis is away.
    async fn claim(&mut self, token: &str) -> Option<User> {
        if !self.status().up {
            return None;
        }
        let claim = self.group.client.eval::<Option<String>, _, _, _>(
            CLAIM_SCRIPT,
            vec![self.keys.users.clone(), self.keys.tokens.clone()],
            vec![token.to_owned()],
        );
        match tokio::time::timeout(ROUND_TRIP_LIMIT, claim).await {
            Ok(Ok(Some(text))) => serde_json::from_str::<UserRecord>(&text)
                .ok()
                .map(|record| record.user()),
            Ok(Ok(None)) => None,
            _ => {
                self.group.metrics.backplane_error();
                None
            }
        }
    }

    fn forget_ghosts(&mut self, ids: Vec<String>) {
        if !self.status().up {
            return;
        }
        self.queue_all(self.replicator.forget_ghosts(ids));
    }

    /// The room task ends: stop listening to its channel.
    async fn close(&mut self) {
        let _one_at_a_time = self.group.subscriptions.lock().await;
        if self
            .group
            .stop_listening(&self.keys.channel, &self.inbox_sender)
        {
            let unsubscribe = self
                .group
                .subscriber
                .sunsubscribe(self.keys.channel.clone());
            let _ = tokio::time::timeout(ROUND_TRIP_LIMIT, unsubscribe).await;
        }
    }
}
