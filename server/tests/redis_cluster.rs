//! Several servers on a real Redis Cluster: three primaries and three
//! replicas of Debian's `redis-server` on free loopback ports, two real
//! `cursors-server` processes sharing it (`--redis-url redis-cluster://…`),
//! and real WebSocket clients in rooms spread over the three shards.
//!
//! What a cluster adds to one Redis, and what these tests check: a room
//! lives on the shard its `{room:NAME}` slot maps to; the heartbeats work
//! across shards; a primary killed with `kill -9` is replaced by its
//! replica and every room carries on; a room whose slot moves to another
//! primary does not go silent. Every wait polls up to a stated bound; none
//! asserts on how fast anything was.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use cursors_protocol::ServerMessage;
use cursors_test_support::{RedisCluster, ServerProcess};
use support::{Client, positions_of, start_redis_cluster, start_server_process};
use tokio::time::Instant;

/// Test servers: a closed tab leaves at once, so `left` comes without waiting.
const FLAGS: &[&str] = &["--reload-grace-ms", "0"];
/// How long the rooms have to carry on after a primary is killed or a slot
/// moves: the cluster's failover (its node timeout is 2 s), the servers'
/// reconnection and reconciliation, with room to spare on a busy machine.
const BOUND: Duration = Duration::from_secs(20);
/// Rooms per shard.
const ROOMS_PER_SHARD: usize = 4;

/// One test at a time: each starts six Redis nodes and two servers, and a
/// starved node could be failed over by its peers for no reason.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A client and who it knows of, kept up to date from what it reads.
struct Seat {
    client: Client,
    known: HashSet<String>,
}

impl Seat {
    async fn join(server: &ServerProcess, room: &str) -> Self {
        let client = Client::connect(&server.ws_url(&format!("?room={room}"))).await;
        let known = client.peer_ids().into_iter().map(str::to_owned).collect();
        Self { client, known }
    }

    fn id(&self) -> String {
        self.client.id.clone()
    }

    /// Reads for up to `wait`; the positions of `of` it saw.
    async fn read_for(&mut self, wait: Duration, of: &str) -> Vec<(f64, f64)> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while let Some(message) = self
            .client
            .recv_within(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            match &message {
                ServerMessage::Joined { peer } => {
                    self.known.insert(peer.id.clone());
                }
                ServerMessage::Left { id } => {
                    self.known.remove(id);
                }
                _ => {}
            }
            seen.extend(positions_of(&message, of));
        }
        seen
    }
}

/// A room with one user on each server.
struct Room {
    name: String,
    one: Seat,
    two: Seat,
}

impl Room {
    async fn open(name: &str, one: &ServerProcess, two: &ServerProcess) -> Self {
        let mut room = Self {
            name: name.to_owned(),
            one: Seat::join(one, name).await,
            two: Seat::join(two, name).await,
        };
        let deadline = Instant::now() + BOUND;
        while !room.both_know_each_other() {
            assert!(Instant::now() < deadline, "{name}: the two never met");
            let (one_id, two_id) = (room.one.id(), room.two.id());
            room.one.read_for(Duration::from_millis(50), &two_id).await;
            room.two.read_for(Duration::from_millis(50), &one_id).await;
        }
        room
    }

    fn both_know_each_other(&self) -> bool {
        self.one.known.contains(&self.two.id()) && self.two.known.contains(&self.one.id())
    }

    /// One round of [`carried_on`] for this room: each mover still
    /// pending moves once along the line `y = mark`, and each watcher reads
    /// what came. Which directions have now been seen to cross.
    async fn attempt(&mut self, mark: f64, step: u32, pending: (bool, bool)) -> (bool, bool) {
        let spot = f64::from(step % 1000) / 1000.0;
        let (one_id, two_id) = (self.one.id(), self.two.id());
        if pending.0 {
            self.one.client.move_to(spot, mark).await;
        }
        if pending.1 {
            self.two.client.move_to(spot, mark).await;
        }
        // Both sockets are read every round, so no server finds one slow.
        let seen_by_two = self.two.read_for(Duration::from_millis(50), &one_id).await;
        let seen_by_one = self.one.read_for(Duration::from_millis(50), &two_id).await;
        let crossed = |seen: &[(f64, f64)]| seen.iter().any(|(_, y)| *y == mark);
        (
            pending.0 && crossed(&seen_by_two),
            pending.1 && crossed(&seen_by_one),
        )
    }
}

/// Polls every room until a position moved on each server has reached the
/// other, both ways, or `deadline` passes; the rooms that did not. Each
/// mover moves along the line `y = mark`, so nothing sent before counts.
async fn silent_rooms(rooms: &mut [Room], mark: f64, deadline: Instant) -> Vec<String> {
    // Per room: whether each direction (one to two, two to one) is pending.
    let mut pending = vec![(true, true); rooms.len()];
    let mut step = 0_u32;
    while pending.iter().any(|(a, b)| *a || *b) && Instant::now() < deadline {
        step += 1;
        for (room, pending) in rooms.iter_mut().zip(pending.iter_mut()) {
            if pending.0 || pending.1 {
                let crossed = room.attempt(mark, step, *pending).await;
                pending.0 &= !crossed.0;
                pending.1 &= !crossed.1;
            }
        }
    }
    rooms
        .iter()
        .zip(&pending)
        .filter(|(_, (a, b))| *a || *b)
        .map(|(room, _)| room.name.clone())
        .collect()
}

/// Room names whose slots land on each primary, `ROOMS_PER_SHARD` each.
fn rooms_on_every_shard(cluster: &RedisCluster) -> Vec<(String, u16, usize)> {
    let primaries = cluster.primaries().expect("the primaries");
    assert_eq!(primaries.len(), 3, "three primaries");
    let mut rooms = Vec::new();
    for primary in primaries {
        let mut on_this = 0;
        for index in 0.. {
            let name = format!("shard{primary}-{index}");
            let slot = cluster
                .keyslot(&format!("{{room:{name}}}"))
                .expect("a slot");
            if cluster.primary_of(slot).expect("an owner") == primary {
                rooms.push((name, slot, primary));
                on_this += 1;
                if on_this == ROOMS_PER_SHARD {
                    break;
                }
            }
        }
    }
    rooms
}

/// After the rooms carried on: a newcomer on each server is welcomed with
/// exactly the two users (nobody lost, no ghost), and the two still know
/// each other.
async fn check_presence(rooms: &mut [Room], one: &ServerProcess, two: &ServerProcess) {
    for room in rooms.iter_mut() {
        let expected: HashSet<String> = [room.one.id(), room.two.id()].into();
        for server in [one, two] {
            // Allow a pass of re-synchronisation to land first.
            let deadline = Instant::now() + BOUND;
            loop {
                let newcomer = Seat::join(server, &room.name).await;
                let listed: HashSet<String> = newcomer.known.clone();
                newcomer.client.close().await;
                if listed == expected {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}: a newcomer was welcomed with {listed:?}, expected {expected:?}",
                    room.name
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let (one_id, two_id) = (room.one.id(), room.two.id());
        room.one.read_for(Duration::from_millis(50), &two_id).await;
        room.two.read_for(Duration::from_millis(50), &one_id).await;
        assert!(
            room.both_know_each_other(),
            "{}: the two lost each other",
            room.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_on_every_shard_are_shared_and_survive_a_killed_primary() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut cluster = start_redis_cluster();
    let one = start_server_process(&cluster.url(), FLAGS);
    let two = start_server_process(&cluster.url(), FLAGS);
    let placed = rooms_on_every_shard(&cluster);
    let mut rooms = Vec::new();
    for (name, _, _) in &placed {
        rooms.push(Room::open(name, &one, &two).await);
    }
    // Shared on every shard, both ways.
    let silent = silent_rooms(&mut rooms, 0.25, Instant::now() + BOUND).await;
    assert!(silent.is_empty(), "not shared before any fault: {silent:?}");

    // A primary dies as in a crash; its replica takes over. The one that
    // holds the servers' heartbeats, whose rooms are four of the twelve:
    // the harder case, as the heartbeats stop too while it is away.
    let slot = cluster.keyslot("cursors:servers").expect("a slot");
    let primary = cluster.primary_of(slot).expect("an owner");
    assert!(placed.iter().any(|(_, _, on)| *on == primary));
    cluster.kill(primary);
    let started = Instant::now();
    let promoted = cluster
        .wait_for_failover(primary, slot)
        .expect("the replica takes over");
    eprintln!("node {promoted} promoted after {:?}", started.elapsed());

    // Every room carries on, both ways, within the bound (counted from the
    // kill); the rooms that did not are listed.
    let silent = silent_rooms(&mut rooms, 0.75, started + BOUND).await;
    eprintln!("rooms carried on after {:?}", started.elapsed());
    assert!(
        silent.is_empty(),
        "{} of {} rooms silent {BOUND:?} after the kill: {silent:?}",
        silent.len(),
        rooms.len()
    );
    check_presence(&mut rooms, &one, &two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_whose_slot_moves_to_another_primary_carries_on() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = start_redis_cluster();
    let one = start_server_process(&cluster.url(), FLAGS);
    let two = start_server_process(&cluster.url(), FLAGS);
    let placed = rooms_on_every_shard(&cluster);
    let (name, slot, from) = placed[0].clone();
    let mut rooms = [Room::open(&name, &one, &two).await];
    let silent = silent_rooms(&mut rooms, 0.25, Instant::now() + BOUND).await;
    assert!(silent.is_empty(), "not shared before the move");

    let to = cluster
        .primaries()
        .expect("the primaries")
        .into_iter()
        .find(|primary| *primary != from)
        .expect("another primary");
    cluster.move_slot(slot, to).expect("the slot moves");
    let started = Instant::now();
    let silent = silent_rooms(&mut rooms, 0.75, started + BOUND).await;
    assert!(
        silent.is_empty(),
        "{name}: silent {BOUND:?} after its slot {slot} moved"
    );
    eprintln!("the room carried on after {:?}", started.elapsed());
    check_presence(&mut rooms, &one, &two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_of_a_killed_server_vanish_on_a_cluster_too() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = start_redis_cluster();
    let mut one = start_server_process(&cluster.url(), FLAGS);
    let two = start_server_process(&cluster.url(), FLAGS);
    let mut room = Room::open("crash", &one, &two).await;
    let (gone, stays) = (room.one.id(), room.two.id());

    one.kill();
    // The heartbeats (a key on one shard, the id tags on others) must
    // still say who is alive: the ghost goes within the bound.
    let deadline = Instant::now() + BOUND;
    while room.two.known.contains(&gone) {
        assert!(
            Instant::now() < deadline,
            "the killed server's user stayed {BOUND:?}"
        );
        room.two.read_for(Duration::from_millis(200), &gone).await;
    }
    let newcomer = Seat::join(&two, "crash").await;
    assert_eq!(newcomer.known, HashSet::from([stays]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_carry_on_after_redis_cuts_the_subscribers_off() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = start_redis_cluster();
    let one = start_server_process(&cluster.url(), FLAGS);
    let two = start_server_process(&cluster.url(), FLAGS);
    let placed = rooms_on_every_shard(&cluster);
    let mut rooms = Vec::new();
    for (name, _, _) in placed.iter().step_by(ROOMS_PER_SHARD) {
        rooms.push(Room::open(name, &one, &two).await);
    }
    let silent = silent_rooms(&mut rooms, 0.25, Instant::now() + BOUND).await;
    assert!(silent.is_empty(), "not shared before the cut: {silent:?}");

    // Every node drops its subscriber connections (as a restart of the
    // network would): no slot moves, the servers reconnect, and what they
    // were subscribed to is gone.
    for primary in cluster.primaries().expect("the primaries") {
        cluster
            .cli(primary, &["CLIENT", "KILL", "TYPE", "pubsub"])
            .expect("CLIENT KILL");
    }
    let started = Instant::now();
    let silent = silent_rooms(&mut rooms, 0.75, started + BOUND).await;
    assert!(
        silent.is_empty(),
        "{} of {} rooms silent {BOUND:?} after the cut: {silent:?}",
        silent.len(),
        rooms.len()
    );
    eprintln!("rooms carried on after {:?}", started.elapsed());
    check_presence(&mut rooms, &one, &two).await;
}
