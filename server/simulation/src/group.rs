//! Several servers sharing one room through the pure replication rules
//! (`Replicator`), over a simulated Redis: a store of user records and
//! resume tokens, and a channel that delivers each server's messages to
//! the others in the order it published them, late but never reordered,
//! and not at all to a server that is cut off (Redis pub/sub drops what
//! a disconnected subscriber misses).
//!
//! The schedule: each server's own users join, move, rename, go away and
//! leave in every way; messages arrive late; a server is cut off from
//! Redis and comes back (re-synchronising as `link.rs` does: write its
//! users again, read the others'); a server dies without a goodbye and the
//! others hear only that its heartbeat stopped. People who lost their
//! connection come back with their resume token, to the same server or to
//! another, which claims the token in the store and adopts them (as
//! `task.rs` does with `link.claim`), maybe before the first server heard
//! of it. Every so often the world
//! settles: partitions heal, every server re-synchronises, every flush is
//! done and every message delivered; then every living server must show
//! the same people with the same name, colour, place and presence, nobody
//! of a dead server may be left anywhere, everybody connected is shown
//! everywhere, and no person is held by two servers at once.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use cursors_protocol::{Point, RoomName, ServerMessage};
use cursors_server::FanoutMode;
use cursors_server::room::RoomRules;
use cursors_server::room::redis::records::{Envelope, RoomKeys, UserRecord, Write};
use cursors_server::room::redis::replication::Replicator;
use cursors_server::room::state::{
    Action, ConnectionKey, DisconnectKind, Event, Input, RoomState, User,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::choices::Choices;
use crate::room::Failure;

/// Servers in a group run.
const SERVERS: usize = 3;
/// How long a heartbeat lasts (the group's `HEARTBEAT_LIFETIME`).
const HEARTBEAT: Duration = Duration::from_secs(3);
/// Steps between two settlings of the world.
const SETTLE_EVERY: usize = 60;

/// One server of the group.
struct Server {
    name: String,
    state: RoomState,
    replicator: Replicator,
    /// Connected to Redis: its writes land, and it hears the channel.
    connected: bool,
    /// The process runs.
    alive: bool,
    /// What the channel has delivered to it and it has not read yet.
    inbox: VecDeque<Envelope>,
    /// Its own users' live connections, by id.
    connections: BTreeMap<String, ConnectionKey>,
    /// The latest resume token it gave each of its users, by id.
    tokens: BTreeMap<String, String>,
    last_heartbeat: Instant,
}

/// The simulated Redis: the room's records, tokens, and the channel.
#[derive(Default)]
struct Store {
    users: BTreeMap<String, UserRecord>,
    tokens: BTreeMap<String, String>,
}

/// A group of servers sharing one room.
pub struct GroupSimulation {
    servers: Vec<Server>,
    store: Store,
    now: Instant,
    step: usize,
    history: Vec<String>,
    /// Ids of the users of servers that died: never again anywhere once
    /// the world has settled (unless they came back on another server).
    dead_users: Vec<String>,
    /// The resume tokens of people whose connection ended, with their id:
    /// what a person coming back presents, in time or too late.
    tokens_out: Vec<(String, String)>,
    /// Broken at once (not only after settling): what and when.
    broken: Option<String>,
    /// `SIMULATION_TRACE` is set: every step, input and write to stderr.
    trace: bool,
    resumes_elsewhere: usize,
}

impl GroupSimulation {
    pub fn new(seed: u64) -> Self {
        let room = RoomName::parse(Some("simulated")).expect("a valid room name");
        let now = Instant::now();
        let servers = (0..SERVERS)
            .map(|index| {
                let name = format!("s{index}");
                let rules = RoomRules {
                    fanout: FanoutMode::Coalesced,
                    tick: Duration::from_millis(16),
                    frame_budget: 30_000,
                    resume_grace: Duration::from_secs(10),
                    reload_grace: Duration::from_millis(1500),
                    id_prefix: format!("{index}"),
                    crowd: None,
                };
                Server {
                    replicator: Replicator::new(name.clone(), RoomKeys::new(&room)),
                    state: RoomState::new(
                        rules,
                        StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(index as u64)),
                    ),
                    name,
                    connected: true,
                    alive: true,
                    inbox: VecDeque::new(),
                    connections: BTreeMap::new(),
                    tokens: BTreeMap::new(),
                    last_heartbeat: now,
                }
            })
            .collect();
        Self {
            servers,
            store: Store::default(),
            now,
            step: 0,
            history: Vec::new(),
            dead_users: Vec::new(),
            trace: std::env::var_os("SIMULATION_TRACE").is_some(),
            tokens_out: Vec::new(),
            broken: None,
            resumes_elsewhere: 0,
        }
    }

    pub fn run(mut self, choices: &mut impl Choices, steps: usize) -> Result<usize, Failure> {
        while self.step < steps && !choices.exhausted() {
            self.step += 1;
            self.one_step(choices);
            if let Some(what) = self.broken.take() {
                return self.fail(what);
            }
            if self.step.is_multiple_of(SETTLE_EVERY) {
                self.settle();
                self.check()?;
            }
        }
        self.settle();
        self.check()?;
        Ok(self.step)
    }

    fn note(&mut self, what: String) {
        if self.history.len() == 12 {
            self.history.remove(0);
        }
        self.history.push(format!("step {}: {what}", self.step));
        if self.trace {
            eprintln!("step {}: {what}", self.step);
        }
    }

    fn fail<T>(&self, what: String) -> Result<T, Failure> {
        Err(Failure {
            step: self.step,
            what,
            history: self.history.clone(),
        })
    }

    fn one_step(&mut self, choices: &mut impl Choices) {
        let index = choices.below(SERVERS as u32) as usize;
        if !self.servers[index].alive {
            return self.advance(choices);
        }
        match choices.below(100) {
            0..=11 => self.join(index),
            12..=14 => self.come_back(index, choices),
            15..=44 => {
                let point = Point {
                    x: choices.coordinate(),
                    y: choices.coordinate(),
                };
                self.act(index, choices, Action::Move(point));
            }
            45..=49 => {
                let name = format!("n{}", choices.below(9));
                self.act(index, choices, Action::Rename(name));
            }
            50..=54 => {
                let away = choices.percent(50);
                self.act(index, choices, Action::Away(away));
            }
            55..=59 => self.act(index, choices, Action::Hide),
            60..=67 => {
                let kind = match choices.below(3) {
                    0 => DisconnectKind::Clean,
                    1 => DisconnectKind::Dropped,
                    _ => DisconnectKind::Expelled,
                };
                self.act(index, choices, Action::Disconnect(kind));
            }
            68..=84 => self.deliver(index, 1 + choices.below(4) as usize),
            85..=92 => self.advance(choices),
            93..=96 => self.set_connected(index, !self.servers[index].connected),
            97 if self.servers.iter().filter(|server| server.alive).count() > 1 => self.kill(index),
            _ => self.advance(choices),
        }
    }

    fn join(&mut self, index: usize) {
        self.note(format!("someone joins on s{index}"));
        let events = self.apply_local(
            index,
            Input::Join {
                resume: None,
                verified_name: None,
            },
        );
        self.admitted(index, &events);
    }

    /// Someone whose connection ended comes back with their token to
    /// server `index`: as that server's task does, a token it issued is
    /// resumed there, another is claimed in the store (once: the claim
    /// takes it) and its user adopted; a spent or unknown one makes a
    /// newcomer.
    fn come_back(&mut self, index: usize, choices: &mut impl Choices) {
        if self.tokens_out.is_empty() {
            return self.join(index);
        }
        let (id, token) =
            self.tokens_out[choices.below(self.tokens_out.len() as u32) as usize].clone();
        let server = &self.servers[index];
        let input = if server.state.knows_token(&token) {
            Input::Join {
                resume: Some(token.clone()),
                verified_name: None,
            }
        } else {
            let claimed = if server.connected {
                self.store
                    .tokens
                    .remove(&token)
                    .and_then(|claimed| self.store.users.get(&claimed))
                    .map(|record| record.user())
            } else {
                None // Redis away: the claim fails, the person is new
            };
            match claimed {
                Some(user) => Input::Adopt {
                    user,
                    spent_token: token.clone(),
                },
                None => Input::Join {
                    resume: None,
                    verified_name: None,
                },
            }
        };
        let adopting = matches!(input, Input::Adopt { .. });
        let resuming = adopting
            || matches!(
                input,
                Input::Join {
                    resume: Some(_),
                    ..
                }
            );
        self.note(format!(
            "{id} comes back on s{index}{}",
            if adopting {
                " (token claimed from the store)"
            } else if resuming {
                " (its own token)"
            } else {
                " (token spent or unknown: a newcomer)"
            }
        ));
        let events = self.apply_local(index, input);
        let Some((admitted, resumed)) = self.admitted(index, &events) else {
            self.broken = Some(format!("{id} came back on s{index} and was not admitted"));
            return;
        };
        if resuming && (admitted != id || !resumed) {
            self.broken = Some(format!(
                "{id} came back on s{index} with a good token but was admitted as {admitted} (resumed: {resumed})"
            ));
        }
        if adopting {
            self.resumes_elsewhere += 1;
            // Back on a living server: no longer a dead server's ghost.
            self.dead_users.retain(|dead| *dead != id);
        }
    }

    /// Notes the connection (and token) of an admission among `events`;
    /// returns who was admitted and whether as a returning user.
    fn admitted(&mut self, index: usize, events: &[Event]) -> Option<(String, bool)> {
        let mut admitted = None;
        for event in events {
            if let Event::Admitted {
                connection,
                id,
                welcome,
                resumed,
            } = event
            {
                let server = &mut self.servers[index];
                server.connections.insert(id.clone(), *connection);
                if let ServerMessage::Welcome {
                    resume: Some(token),
                    ..
                } = welcome
                {
                    server.tokens.insert(id.clone(), token.clone());
                }
                // Held here now: any other server's live connection for
                // the same person was superseded or is a stale record.
                for (other, server) in self.servers.iter_mut().enumerate() {
                    if other != index {
                        server.connections.remove(id);
                    }
                }
                admitted = Some((id.clone(), *resumed));
            }
        }
        admitted
    }

    fn act(&mut self, index: usize, choices: &mut impl Choices, action: Action) {
        let ids: Vec<String> = self.servers[index].connections.keys().cloned().collect();
        if ids.is_empty() {
            return self.join(index);
        }
        let id = ids[choices.below(ids.len() as u32) as usize].clone();
        let from = self.servers[index].connections[&id];
        if let Action::Disconnect(kind) = action {
            self.servers[index].connections.remove(&id);
            if let Some(token) = self.servers[index].tokens.get(&id) {
                // Even after an expulsion the page may try its token: it
                // must then make a newcomer, not bring the person back.
                self.tokens_out.push((id.clone(), token.clone()));
            }
            if kind == DisconnectKind::Expelled {
                self.servers[index].tokens.remove(&id);
            }
        }
        self.note(format!("{id} on s{index}: {action:?}"));
        self.apply_local(index, Input::Connection { from, action });
    }

    /// An input from the server's own connections or clock: its events
    /// are shared with the group as `link.rs` shares them (only while
    /// connected: the re-synchronisation repairs the rest).
    fn apply_local(&mut self, index: usize, input: Input) -> Vec<Event> {
        let events = self.servers[index].state.apply(input, self.now);
        for event in &events {
            let server = &mut self.servers[index];
            if !server.connected {
                continue;
            }
            let writes = server.replicator.share(event, &server.state);
            self.write(index, writes);
        }
        events
    }

    /// An input from the group: applied, not shared back; users it
    /// removed as ghosts of a dead server are forgotten in the store (as
    /// `task.rs` does).
    fn apply_remote(&mut self, index: usize, input: Input) {
        let server = &mut self.servers[index];
        let removes_ghosts = input.removes_ghosts();
        let trace = self.trace;
        if trace {
            eprintln!("    s{index} hears {input:?}");
        }
        let events = server.state.apply(input, self.now);
        if trace {
            for event in &events {
                eprintln!("      -> {event:?}");
            }
        }
        // A connection here superseded by another server's claim is over.
        for event in &events {
            if let Event::Superseded { connection } = event {
                server.connections.retain(|_, live| live != connection);
            }
        }
        let ghosts: Vec<String> = events
            .iter()
            .filter(|_| removes_ghosts)
            .filter_map(|event| event.left().map(str::to_owned))
            .collect();
        if server.connected
            && let Some(write) = server.replicator.forget_ghosts(ghosts)
        {
            self.write(index, vec![write]);
        }
    }

    /// Carries out a server's writes on the simulated Redis.
    fn write(&mut self, from: usize, writes: Vec<Write>) {
        for write in writes {
            match write {
                Write::Publish { envelope, .. } => {
                    for (index, server) in self.servers.iter_mut().enumerate() {
                        if index != from && server.alive && server.connected {
                            server.inbox.push_back(envelope.clone());
                        }
                    }
                }
                Write::SetUsers { records, .. } => {
                    for record in records {
                        if self.trace {
                            eprintln!(
                                "    s{from} writes {} as {}'s",
                                record.peer.id, record.server
                            );
                        }
                        self.store.users.insert(record.peer.id.clone(), record);
                    }
                }
                Write::SetToken { token, id, .. } => {
                    self.store.tokens.insert(token, id);
                }
                Write::DeleteToken { token, .. } => {
                    self.store.tokens.remove(&token);
                }
                Write::Forget { ids, .. } => {
                    for id in ids {
                        if let Some(record) = self.store.users.remove(&id) {
                            self.store.tokens.remove(&record.token);
                        }
                    }
                }
            }
        }
    }

    /// The server reads up to `count` messages of its inbox, in order.
    fn deliver(&mut self, index: usize, count: usize) {
        for _ in 0..count {
            let server = &mut self.servers[index];
            let Some(envelope) = server.inbox.pop_front() else {
                return;
            };
            if let Some(input) = server.replicator.receive(envelope) {
                self.apply_remote(index, input);
            }
        }
    }

    /// Time passes: every living server ticks (flushes, expiries), beats
    /// its heart if connected, and hears who is alive.
    fn advance(&mut self, choices: &mut impl Choices) {
        let by = if choices.percent(10) {
            Duration::from_millis(u64::from(1_000 + choices.below(12_000)))
        } else {
            Duration::from_millis(u64::from(choices.below(100)))
        };
        self.note(format!("time passes {by:?}"));
        self.pass(by);
    }

    fn pass(&mut self, by: Duration) {
        self.now += by;
        for index in 0..SERVERS {
            if !self.servers[index].alive {
                continue;
            }
            self.apply_local(index, Input::Tick { occupied_rooms: 1 });
            if self.servers[index].connected {
                self.servers[index].last_heartbeat = self.now;
            }
        }
        let alive: Vec<String> = self
            .servers
            .iter()
            .filter(|server| server.last_heartbeat + HEARTBEAT > self.now)
            .map(|server| server.name.clone())
            .collect();
        for index in 0..SERVERS {
            if self.servers[index].alive && self.servers[index].connected {
                self.apply_remote(
                    index,
                    Input::ServersAlive {
                        servers: alive.clone(),
                    },
                );
            }
        }
    }

    /// Cut off from Redis, or back: coming back re-synchronises.
    fn set_connected(&mut self, index: usize, connected: bool) {
        self.note(format!(
            "s{index} {}",
            if connected {
                "reconnects to Redis"
            } else {
                "is cut off from Redis"
            }
        ));
        self.servers[index].connected = connected;
        if connected {
            self.resync(index);
        } else {
            // Pub/sub keeps nothing for a subscriber that is away.
            self.servers[index].inbox.clear();
        }
    }

    /// What `link.rs` does after an outage: write this server's users
    /// again, then read everyone else's.
    fn resync(&mut self, index: usize) {
        let existing: Vec<UserRecord> = self.store.users.values().cloned().collect();
        let server = &mut self.servers[index];
        let given_up = server
            .replicator
            .claimed_elsewhere(&server.state, &existing);
        let writes = server.replicator.resync(&server.state, &existing);
        self.write(index, writes);
        for input in given_up {
            self.apply_remote(index, input);
        }
        let records: Vec<UserRecord> = self.store.users.values().cloned().collect();
        let inputs = self.servers[index].replicator.others(&records);
        for input in inputs {
            self.apply_remote(index, input);
        }
    }

    /// A server dies without a goodbye: its users are ghosts the others
    /// must remove once its heartbeat is gone.
    fn kill(&mut self, index: usize) {
        self.note(format!("s{index} is killed"));
        self.servers[index].alive = false;
        self.servers[index].inbox.clear();
        // Its users die with it, except those another living server holds
        // now (it adopted them; this one had not heard yet).
        let held_elsewhere = |id: &str| {
            self.servers.iter().any(|server| {
                server.alive && server.state.local_users().any(|(user, _)| user.id == id)
            })
        };
        let dead: Vec<String> = self.servers[index]
            .state
            .local_users()
            .map(|(user, _)| user.id.clone())
            .filter(|id| !held_elsewhere(id))
            .collect();
        self.dead_users.extend(dead);
        self.servers[index].connections.clear();
    }

    /// Heals every partition, lets every heartbeat expire or renew, and
    /// delivers every message and flush, until nothing is left to do.
    fn settle(&mut self) {
        self.note("the world settles".to_owned());
        for index in 0..SERVERS {
            if self.servers[index].alive && !self.servers[index].connected {
                self.set_connected(index, true);
            }
        }
        // Two passes, as the link's schedule does: the second catches what
        // the others wrote after this server's first read.
        for index in 0..SERVERS {
            if self.servers[index].alive {
                self.resync(index);
            }
        }
        for _ in 0..4 {
            self.pass(HEARTBEAT);
            for _ in 0..8 {
                for index in 0..SERVERS {
                    if self.servers[index].alive {
                        self.deliver(index, usize::MAX);
                    }
                }
                self.pass(Duration::from_millis(100));
            }
        }
    }

    /// After settling: every living server shows the same people, as they
    /// are, and no dead server's user is left anywhere.
    fn check(&self) -> Result<(), Failure> {
        let living = || self.servers.iter().filter(|server| server.alive);
        let mut held_by: BTreeMap<&str, &str> = BTreeMap::new();
        for server in living() {
            for (user, _) in server.state.local_users() {
                if let Some(other) = held_by.insert(&user.id, &server.name) {
                    return self.fail(format!(
                        "{} is held by both {other} and {}: two members for one person",
                        user.id, server.name
                    ));
                }
            }
        }
        for server in living() {
            for id in server.connections.keys() {
                if let Some(blind) =
                    living().find(|other| other.state.users().all(|user| user.id != *id))
                {
                    return self.fail(format!(
                        "{id} is connected to {} but {} does not show them",
                        server.name, blind.name
                    ));
                }
            }
        }
        let mut shown: Vec<(&str, Vec<&User>)> = Vec::new();
        for server in self.servers.iter().filter(|server| server.alive) {
            let mut users: Vec<&User> = server.state.users().collect();
            users.sort_by(|a, b| a.id.cmp(&b.id));
            if let Some(ghost) = users.iter().find(|user| self.dead_users.contains(&user.id)) {
                return self.fail(format!(
                    "{} still shows {}, a user of a server that died",
                    server.name, ghost.id
                ));
            }
            shown.push((&server.name, users));
        }
        for pair in shown.windows(2) {
            let (first, first_users) = &pair[0];
            let (second, second_users) = &pair[1];
            if first_users != second_users {
                let ids = |users: &[&User]| {
                    users
                        .iter()
                        .map(|user| {
                            format!(
                                "{}@{:?}{}",
                                user.id,
                                user.position.map(|p| (p.x, p.y)),
                                if user.away { " away" } else { "" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return self.fail(format!(
                    "after settling, {first} shows [{}] but {second} shows [{}]",
                    ids(first_users),
                    ids(second_users)
                ));
            }
        }
        Ok(())
    }
}
