//! One room's rules (`RoomState`) driven by a random schedule, with the
//! truth kept beside it and compared after every step.
//!
//! The schedule is what a room's task could be asked to do, in any order:
//! people join, move, rename, hide, go away, speak, follow, close their
//! page, lose their network, come back in time or too late, reload,
//! duplicate their tab; old sockets keep talking after a takeover; the
//! clock runs, its timer fires late (a frozen process), and the room grows
//! into a crowd and shrinks out of it. Every event the rules return is
//! routed the way the room task routes it: into the outbound mailbox of
//! each person attached (the server's own `Mailbox`, with the task's rule
//! for cursor batches: one waiting, or the room's snapshot in its place),
//! which their page reads, keeping only what it was told ([`Page`]). A
//! page may stop reading for a while, its connection stuck writing, as a
//! slow phone's does: its batches are then replaced by snapshots, and if
//! more events pile up than the mailbox holds, it is expelled, as the
//! connection task does.
//!
//! After every step the invariants are checked (see [`RoomSimulation::check`]):
//! one member per person, unique ids, no ghost on any page, everyone's
//! latest position on every page that shows them once nothing waits for a
//! flush, no position older than one already delivered, no crowd frame over
//! K positions, a followed person always shown, nobody kept past their
//! grace. A page that is not reading is exempt until it reads again. A
//! failure names the step and what broke.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;

use cursors_protocol::{CursorPosition, Point, ServerMessage};
use cursors_server::FanoutMode;
use cursors_server::fuzzing::{BatchDelivery, Closed, Mailbox};
use cursors_server::room::RoomRules;
use cursors_server::room::crowd::{CrowdRules, SELECT_EVERY};
use cursors_server::room::encode::text_frame;
use cursors_server::room::state::{
    Action, ConnectionKey, DisconnectKind, Event, Input, MemberKey, RoomState,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::choices::Choices;
use crate::page::Page;

/// How many steps of a run are kept to show with a failure.
const HISTORY: usize = 12;

/// A broken invariant: the step it broke at and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub step: usize,
    pub what: String,
    /// The last steps before it, oldest first.
    pub history: Vec<String>,
}

/// What a finished run did, to show that it did something.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub steps: usize,
    pub joins: usize,
    pub resumes: usize,
    pub takeovers: usize,
    pub leaves: usize,
    pub positions_delivered: usize,
    pub crowd_steps: usize,
    pub most_members: usize,
}

/// One person: the truth about them, and what their page was told.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    name: String,
    connection: ConnectionKey,
    token: String,
    /// Their page, while a connection is attached.
    page: Option<Page>,
    /// That connection's outbound mailbox, which the page reads.
    mailbox: Option<Arc<Mailbox>>,
    /// The page stopped reading: its connection is stuck writing.
    lagging: bool,
    /// A cursor frame waiting in the mailbox is the room's snapshot, queued
    /// in place of batches the page fell behind on, with this many batches
    /// queued behind it (the immediate fan-out keeps several).
    snapshot_waiting: Option<usize>,
    /// When their grace ends, while detached.
    detached_until: Option<Instant>,
    position: Option<Point>,
    /// Their page is hidden or unfocused. An unfocused window still gets
    /// pointer moves, so an away person may show a cursor; only going away
    /// hides it, not saying so again.
    away: bool,
    following: Option<(String, Instant)>,
    /// The highest sequence number of each other person's position this
    /// page received since its last welcome.
    received: HashMap<String, u64>,
}

impl Person {
    fn attached(&self) -> bool {
        self.page.is_some()
    }
}

/// Who a join was for, so its `Admitted` can be checked.
#[derive(Debug, Clone)]
enum Joining {
    /// A new person, or one whose token is too old: a new identity.
    Newcomer,
    /// This person's token: the same identity.
    Returning { id: String, was_attached: bool },
}

/// A room, its truth, and its people's pages.
pub struct RoomSimulation {
    state: RoomState,
    rules: RoomRules,
    /// Each mailbox's capacity (the server's `--outbound-queue`).
    outbound_queue: usize,
    now: Instant,
    people: BTreeMap<String, Person>,
    /// Connections that ended or were superseded: what they send is ignored.
    stale: Vec<ConnectionKey>,
    /// Resume tokens of people who left (for resumes that come too late).
    gone_tokens: Vec<String>,
    /// Every position each person sent, with its sequence number.
    sent: HashMap<String, HashMap<(u64, u64), u64>>,
    next_sequence: u64,
    /// People expelled in this step: their `left` is due now.
    expelled: BTreeSet<String>,
    /// People whose mailbox overflowed: their connection is to be expelled.
    overflowed: BTreeSet<String>,
    history: Vec<String>,
    step: usize,
    summary: Summary,
    /// `SIMULATION_TRACE` is set: every step and event goes to stderr.
    trace: bool,
}

impl RoomSimulation {
    /// A room with rules drawn from `choices`: either fan-out, a crowd
    /// threshold low enough to cross (or none), a small or large budget.
    pub fn new(choices: &mut impl Choices, room_seed: u64) -> Self {
        let fanout = if choices.percent(15) {
            FanoutMode::Immediate
        } else {
            FanoutMode::Coalesced
        };
        let crowd = (fanout == FanoutMode::Coalesced && choices.percent(70))
            .then(|| CrowdRules::new(3 + choices.below(6) as usize, 2 + choices.below(4) as usize));
        let rules = RoomRules {
            fanout,
            tick: Duration::from_millis(16),
            frame_budget: [200, 2_000, 30_000][choices.below(3) as usize],
            resume_grace: Duration::from_secs(10),
            reload_grace: Duration::from_millis(1500),
            id_prefix: String::new(),
            crowd,
        };
        let outbound_queue = [4, 16, 256][choices.below(3) as usize];
        Self {
            state: RoomState::new(rules.clone(), StdRng::seed_from_u64(room_seed)),
            rules,
            outbound_queue,
            now: Instant::now(),
            people: BTreeMap::new(),
            stale: Vec::new(),
            gone_tokens: Vec::new(),
            sent: HashMap::new(),
            next_sequence: 0,
            expelled: BTreeSet::new(),
            overflowed: BTreeSet::new(),
            history: Vec::new(),
            step: 0,
            summary: Summary::default(),
            trace: std::env::var_os("SIMULATION_TRACE").is_some(),
        }
    }

    /// Runs up to `steps` steps (fewer if `choices` runs out).
    pub fn run(mut self, choices: &mut impl Choices, steps: usize) -> Result<Summary, Failure> {
        while self.step < steps && !choices.exhausted() {
            self.step += 1;
            self.one_step(choices)?;
            self.check()?;
            self.summary.steps = self.step;
            self.summary.most_members = self.summary.most_members.max(self.people.len());
            if self.state.is_crowd() {
                self.summary.crowd_steps += 1;
            }
        }
        Ok(self.summary)
    }

    fn fail<T>(&self, what: impl Into<String>) -> Result<T, Failure> {
        Err(Failure {
            step: self.step,
            what: what.into(),
            history: self.history.clone(),
        })
    }

    fn note(&mut self, what: String) {
        if self.history.len() == HISTORY {
            self.history.remove(0);
        }
        self.history.push(format!("step {}: {what}", self.step));
        if self.trace {
            eprintln!("step {}: {what}", self.step);
        }
    }

    fn attached_ids(&self) -> Vec<String> {
        self.people
            .values()
            .filter(|person| person.attached())
            .map(|person| person.id.clone())
            .collect()
    }

    fn detached_ids(&self) -> Vec<String> {
        self.people
            .values()
            .filter(|person| !person.attached())
            .map(|person| person.id.clone())
            .collect()
    }

    fn pick<T: Clone>(choices: &mut impl Choices, from: &[T]) -> Option<T> {
        if from.is_empty() {
            return None;
        }
        from.get(choices.below(from.len() as u32) as usize).cloned()
    }

    /// How many people the schedule aims at: around the crowd threshold,
    /// so the room keeps crossing it both ways.
    fn wanted_size(&self) -> usize {
        self.rules.crowd.map_or(6, |crowd| crowd.threshold + 2)
    }

    fn one_step(&mut self, choices: &mut impl Choices) -> Result<(), Failure> {
        let attached = self.attached_ids();
        let detached = self.detached_ids();
        let join_weight = if self.people.len() < self.wanted_size() {
            12
        } else {
            3
        };
        let roll = choices.below(100 + join_weight);
        if roll >= 100 {
            return self.join(None, Joining::Newcomer);
        }
        match roll {
            0..=29 => match Self::pick(choices, &attached) {
                Some(id) => {
                    let point = Point {
                        x: choices.coordinate(),
                        y: choices.coordinate(),
                    };
                    self.act(&id, Action::Move(point))
                }
                None => self.join(None, Joining::Newcomer),
            },
            30..=32 => match Self::pick(choices, &attached) {
                Some(id) => self.lag(&id),
                None => self.advance(choices),
            },
            33..=49 => self.advance(choices),
            50..=81 => {
                let action = match roll {
                    50..=53 => Action::Hide,
                    54..=57 => Action::Away(choices.percent(50)),
                    58..=59 => Action::Rename(format!("name {}", choices.below(5))),
                    60..=61 => Action::Say(format!("hello {}", choices.below(100))),
                    62..=63 => Action::React("👍".into()),
                    64..=65 => Action::Point(Point {
                        x: choices.coordinate(),
                        y: choices.coordinate(),
                    }),
                    66..=67 => Action::Laser(choices.percent(50)),
                    68..=69 => Action::Spotlight(choices.percent(50)),
                    70..=73 => {
                        let everyone: Vec<String> = self.people.keys().cloned().collect();
                        let target = Self::pick(choices, &everyone);
                        Action::Follow(target.filter(|_| !choices.percent(20)))
                    }
                    _ => Action::Disconnect(match choices.below(10) {
                        0..=3 => DisconnectKind::Clean,
                        4..=8 => DisconnectKind::Dropped,
                        _ => DisconnectKind::Expelled,
                    }),
                };
                match Self::pick(choices, &attached) {
                    Some(id) => self.act(&id, action),
                    None => self.join(None, Joining::Newcomer),
                }
            }
            82..=89 => match Self::pick(choices, &detached) {
                Some(id) => self.resume(&id),
                None => self.advance(choices),
            },
            90..=91 => match Self::pick(choices, &attached) {
                // The same token from a second tab while the first is open.
                Some(id) => self.resume(&id),
                None => self.advance(choices),
            },
            92..=93 => match Self::pick(choices, &self.gone_tokens.clone()) {
                Some(token) => self.join(Some(token), Joining::Newcomer),
                None => self.advance(choices),
            },
            _ => match Self::pick(choices, &self.stale.clone()) {
                Some(connection) => self.stale_action(choices, connection),
                None => self.advance(choices),
            },
        }
    }

    /// Time passes. Mostly the room's timer fires at each wakeup on the
    /// way, as the task's does; sometimes the process was frozen and one
    /// late tick sees the whole jump.
    fn advance(&mut self, choices: &mut impl Choices) -> Result<(), Failure> {
        let frozen = choices.percent(5);
        let by = if frozen || choices.percent(5) {
            Duration::from_millis(u64::from(1_000 + choices.below(30_000)))
        } else {
            Duration::from_millis(u64::from(choices.below(60)))
        };
        let target = self.now + by;
        let occupied_rooms = 1 + choices.below(4) as usize;
        self.note(format!(
            "time passes {by:?}{}",
            if frozen {
                " (frozen: one late tick)"
            } else {
                ""
            }
        ));
        if !frozen {
            while let Some(wakeup) = self.state.next_wakeup() {
                if wakeup > target {
                    break;
                }
                self.now = self.now.max(wakeup);
                self.tick(occupied_rooms)?;
            }
        }
        self.now = target;
        self.tick(occupied_rooms)
    }

    fn tick(&mut self, occupied_rooms: usize) -> Result<(), Failure> {
        let events = self.state.apply(Input::Tick { occupied_rooms }, self.now);
        self.route(events, None)?;
        // The timer fired at `now`: nobody's grace may have ended by now.
        if let Some(person) = self
            .people
            .values()
            .find(|person| person.detached_until.is_some_and(|until| until <= self.now))
        {
            return self.fail(format!(
                "{} is still in the room after their grace ended",
                person.id
            ));
        }
        Ok(())
    }

    fn join(&mut self, token: Option<String>, joining: Joining) -> Result<(), Failure> {
        self.note(match (&joining, &token) {
            (Joining::Newcomer, None) => "a newcomer joins".to_owned(),
            (Joining::Newcomer, Some(_)) => "someone comes back too late".to_owned(),
            (Joining::Returning { id, was_attached }, _) => format!(
                "{id} comes back{}",
                if *was_attached {
                    " in a second tab"
                } else {
                    ""
                }
            ),
        });
        let events = self.state.apply(
            Input::Join {
                resume: token,
                verified_name: None,
            },
            self.now,
        );
        self.route(events, Some(joining))
    }

    fn resume(&mut self, id: &str) -> Result<(), Failure> {
        let Some(person) = self.people.get(id) else {
            return Ok(());
        };
        let joining = Joining::Returning {
            id: id.to_owned(),
            was_attached: person.attached(),
        };
        self.join(Some(person.token.clone()), joining)
    }

    fn act(&mut self, id: &str, action: Action) -> Result<(), Failure> {
        let Some(person) = self.people.get_mut(id) else {
            return Ok(());
        };
        let connection = person.connection;
        // The truth changes as the action says; what the pages make of it
        // is checked after the step.
        match &action {
            Action::Move(point) => {
                person.position = Some(*point);
                self.next_sequence += 1;
                self.sent
                    .entry(id.to_owned())
                    .or_default()
                    .insert((point.x.to_bits(), point.y.to_bits()), self.next_sequence);
            }
            Action::Hide => person.position = None,
            Action::Away(away) => {
                if *away && !person.away {
                    person.position = None;
                }
                person.away = *away;
            }
            Action::Rename(name) => person.name = name.clone(),
            Action::Follow(target) => {
                person.following = target.clone().map(|target| (target, self.now));
            }
            Action::Disconnect(kind) => {
                person.page = None;
                person.mailbox = None;
                person.lagging = false;
                person.position = None;
                person.received.clear();
                let grace = match kind {
                    DisconnectKind::Clean => self.rules.reload_grace,
                    DisconnectKind::Dropped => self.rules.resume_grace,
                    DisconnectKind::Expelled => Duration::ZERO,
                };
                if grace.is_zero() {
                    self.expelled.insert(id.to_owned());
                } else {
                    person.detached_until = Some(self.now + grace);
                }
            }
            _ => {}
        }
        self.note(format!("{id} {action:?}"));
        let events = self.state.apply(
            Input::Connection {
                from: connection,
                action,
            },
            self.now,
        );
        self.route(events, None)?;
        if let Some(id) = self.expelled.pop_first() {
            return self.fail(format!("{id} was expelled but no `left` was sent"));
        }
        Ok(())
    }

    /// An ended or superseded socket still sends something: it must be
    /// ignored, and said to be (except its own disconnect, said nothing of).
    fn stale_action(
        &mut self,
        choices: &mut impl Choices,
        connection: ConnectionKey,
    ) -> Result<(), Failure> {
        let action = match choices.below(4) {
            0 => Action::Move(Point { x: 0.5, y: 0.5 }),
            1 => Action::Rename("ghost".into()),
            2 => Action::Spotlight(true),
            _ => Action::Disconnect(DisconnectKind::Dropped),
        };
        self.note(format!("stale connection {connection:?} sends {action:?}"));
        let quiet = matches!(action, Action::Disconnect(_));
        let events = self.state.apply(
            Input::Connection {
                from: connection,
                action,
            },
            self.now,
        );
        let expected = if quiet {
            Vec::new()
        } else {
            vec![Event::Ignored { connection }]
        };
        if events != expected {
            return self.fail(format!(
                "a stale connection's command had effects: {events:?}"
            ));
        }
        Ok(())
    }

    /// Carries out the events the way the room task does: each message to
    /// the pages of the members it is for that are attached.
    fn route(&mut self, events: Vec<Event>, mut joining: Option<Joining>) -> Result<(), Failure> {
        for event in events {
            if self.trace {
                eprintln!("    {event:?}");
            }
            if let Some(id) = event.left() {
                self.left(id.to_owned())?;
            }
            match event {
                Event::Admitted {
                    connection,
                    id,
                    welcome,
                    resumed,
                } => self.admitted(joining.take(), connection, id, welcome, resumed)?,
                Event::Superseded { connection } | Event::Detached { connection } => {
                    self.stale.push(connection);
                }
                Event::Ignored { connection } => {
                    if !self.stale.contains(&connection) {
                        return self.fail(format!("a live connection was ignored: {connection:?}"));
                    }
                }
                Event::Broadcast { except, message } => {
                    let to = self.attached_members(|member| Some(member) != except);
                    self.post_event(&to, &message);
                }
                Event::Cursors { except, moves } => {
                    let to = self.attached_members(|member| Some(member) != except);
                    let snapshot = self.state.visible_positions();
                    self.post_batch(&to, moves, snapshot);
                }
                Event::Narrowcast { to, message } => self.post_event(&to, &message),
                Event::CatchUp { to, message } => self.post_event(&[to], &message),
                Event::CrowdCursors { frames, .. } => {
                    let visible = self.rules.crowd.map_or(usize::MAX, |crowd| crowd.visible);
                    for frame in frames {
                        if frame.moves.len() > visible {
                            return self.fail(format!(
                                "a crowd frame carries {} positions, more than K = {visible}",
                                frame.moves.len()
                            ));
                        }
                        let snapshot = self.state.view_positions(frame.view);
                        if self.trace {
                            eprintln!(
                                "      snapshot for {:?} of {:?}: {:?}",
                                frame.to,
                                frame.view,
                                snapshot
                                    .iter()
                                    .map(|position| &position.id)
                                    .collect::<Vec<_>>()
                            );
                        }
                        self.post_batch(&frame.to, frame.moves, snapshot);
                    }
                }
                Event::Claimed { .. } => {}
            }
        }
        if joining.is_some() {
            return self.fail("a join was not admitted");
        }
        self.read_mailboxes()
    }

    fn attached_members(&self, wanted: impl Fn(MemberKey) -> bool) -> Vec<MemberKey> {
        self.people
            .values()
            .filter(|person| person.attached() && wanted(person.connection.member))
            .map(|person| person.connection.member)
            .collect()
    }

    fn admitted(
        &mut self,
        joining: Option<Joining>,
        connection: ConnectionKey,
        id: String,
        welcome: ServerMessage,
        resumed: bool,
    ) -> Result<(), Failure> {
        let Some(joining) = joining else {
            return self.fail(format!("{id} was admitted without a join"));
        };
        let Some(page) = Page::welcomed(&welcome) else {
            return self.fail("an admission's first frame is not a welcome");
        };
        let ServerMessage::Welcome {
            name,
            resume: Some(token),
            ..
        } = &welcome
        else {
            return self.fail("a welcome without a resume token");
        };
        if page.own_id != id {
            return self.fail("the welcome names another id than the admission");
        }
        match joining {
            Joining::Newcomer => {
                if resumed {
                    return self.fail(format!("a newcomer was admitted as {id}, resumed"));
                }
                if self.people.contains_key(&id) {
                    return self.fail(format!("the id {id} was handed out twice"));
                }
                self.summary.joins += 1;
                self.people.insert(
                    id.clone(),
                    Person {
                        id: id.clone(),
                        name: name.clone(),
                        connection,
                        token: token.clone(),
                        page: Some(page),
                        mailbox: Some(Arc::new(Mailbox::new(self.outbound_queue))),
                        lagging: false,
                        snapshot_waiting: None,
                        detached_until: None,
                        position: None,
                        away: false,
                        following: None,
                        received: HashMap::new(),
                    },
                );
            }
            Joining::Returning {
                id: returning,
                was_attached,
            } => {
                if !resumed || returning != id {
                    return self.fail(format!(
                        "{returning} came back with their token but was admitted as {id} (resumed: {resumed})"
                    ));
                }
                if was_attached {
                    self.summary.takeovers += 1;
                } else {
                    self.summary.resumes += 1;
                }
                let Some(person) = self.people.get_mut(&id) else {
                    return self.fail(format!("{id} resumed but had left"));
                };
                if was_attached && !self.stale.contains(&person.connection) {
                    return self.fail(format!("{id}'s first tab was not superseded"));
                }
                if *token == person.token {
                    return self.fail(format!("{id}'s resume token was not renewed"));
                }
                person.connection = connection;
                person.token = token.clone();
                if let Some(old) = &person.mailbox {
                    old.supersede();
                }
                person.page = Some(page);
                person.mailbox = Some(Arc::new(Mailbox::new(self.outbound_queue)));
                person.lagging = false;
                person.snapshot_waiting = None;
                person.detached_until = None;
                // A second tab takes over where the first one pointed: the
                // others keep seeing that spot until it moves. (A detached
                // person's cursor was hidden when they detached.)
                person.received.clear();
            }
        }
        Ok(())
    }

    fn left(&mut self, id: String) -> Result<(), Failure> {
        let Some(person) = self.people.get(&id) else {
            return self.fail(format!("`left` for {id}, who is not in the room"));
        };
        let expired = person.detached_until.is_some_and(|until| until <= self.now);
        if !expired && !self.expelled.remove(&id) {
            return self.fail(format!(
                "{id} was removed while still entitled to their place"
            ));
        }
        if let Some(person) = self.people.remove(&id) {
            self.gone_tokens.push(person.token);
        }
        self.summary.leaves += 1;
        Ok(())
    }

    /// Queues an event for each of `to` attached, as the task does. A full
    /// mailbox closes itself; its connection is expelled when read.
    fn post_event(&mut self, to: &[MemberKey], message: &ServerMessage) {
        let frame = text_frame(message);
        for (id, mailbox) in self.mailboxes_of(to) {
            if mailbox.push_event(frame.clone()) == Err(Closed::Overflowed) {
                self.overflowed.insert(id);
            }
        }
    }

    /// Queues a cursor batch for each of `to` attached, with the task's
    /// rule: behind one unsent batch in the coalesced fan-out (the queue's
    /// bound in the immediate one), the snapshot goes instead.
    fn post_batch(
        &mut self,
        to: &[MemberKey],
        moves: Vec<CursorPosition>,
        snapshot: Vec<CursorPosition>,
    ) {
        let keep = match self.rules.fanout {
            FanoutMode::Coalesced => 1,
            FanoutMode::Immediate => self.outbound_queue,
        };
        let batch = Message::Text(text_frame(&ServerMessage::Cursors { moves }));
        let snapshot = Message::Text(text_frame(&ServerMessage::Cursors { moves: snapshot }));
        for (id, mailbox) in self.mailboxes_of(to) {
            let delivery = mailbox.push_cursor_batch(batch.clone(), keep, || snapshot.clone());
            if let Some(person) = self.people.get_mut(&id) {
                person.snapshot_waiting = match delivery {
                    BatchDelivery::ReplacedStale(_) => Some(0),
                    BatchDelivery::Queued => person.snapshot_waiting.map(|behind| behind + 1),
                };
            }
        }
    }

    fn mailboxes_of(&self, to: &[MemberKey]) -> Vec<(String, Arc<Mailbox>)> {
        let wanted: BTreeSet<MemberKey> = to.iter().copied().collect();
        self.people
            .values()
            .filter(|person| wanted.contains(&person.connection.member))
            .filter_map(|person| Some((person.id.clone(), person.mailbox.clone()?)))
            .collect()
    }

    /// A page stops reading, or reads again. Stopping, its connection has
    /// just taken what was waiting and is stuck writing it (so the
    /// mailbox's tighter bound applies); reading again, that write ends.
    fn lag(&mut self, id: &str) -> Result<(), Failure> {
        let Some(person) = self.people.get_mut(id) else {
            return Ok(());
        };
        person.lagging = !person.lagging;
        let lagging = person.lagging;
        self.note(format!(
            "{id}'s page {}",
            if lagging {
                "stops reading"
            } else {
                "reads again"
            }
        ));
        if lagging {
            self.read(id, true)
        } else {
            if let Some(mailbox) = &self.people[id].mailbox {
                mailbox.written();
            }
            self.read_mailboxes()
        }
    }

    /// Every page that reads takes what waits for it; a connection whose
    /// mailbox overflowed is expelled, as the connection task does (1008).
    fn read_mailboxes(&mut self) -> Result<(), Failure> {
        loop {
            let readers: Vec<String> = self
                .people
                .values()
                .filter(|person| person.mailbox.is_some() && !person.lagging)
                .map(|person| person.id.clone())
                .collect();
            for id in readers {
                self.read(&id, false)?;
            }
            // A stuck connection is closed as soon as its mailbox is (it
            // waits on `closed()` beside its write), reading or not.
            let Some(id) = self.overflowed.pop_first() else {
                return Ok(());
            };
            if !self.people.get(&id).is_some_and(Person::attached) {
                continue; // gone meanwhile
            }
            self.note(format!("{id}'s page fell too far behind: expelled"));
            self.act(&id, Action::Disconnect(DisconnectKind::Expelled))?;
        }
    }

    /// `id`'s page takes every frame waiting in its mailbox and applies
    /// them in order; `stuck`: its connection does not finish writing.
    fn read(&mut self, id: &str, stuck: bool) -> Result<(), Failure> {
        let Some(person) = self.people.get_mut(id) else {
            return Ok(());
        };
        let Some(mailbox) = person.mailbox.clone() else {
            return Ok(());
        };
        let mut frames = Vec::new();
        if let Err(closed) = mailbox.drain_into(&mut frames) {
            if closed == Closed::Overflowed {
                self.overflowed.insert(id.to_owned()); // read_mailboxes expels it
            }
            return Ok(());
        }
        if !stuck {
            mailbox.written();
        }
        // The snapshot, if one waits, is the last cursor frame but those
        // queued behind it. It is built
        // when it is queued, from the room as it is after the whole input,
        // so it may name someone whose `view` entry is queued behind it in
        // the same flush: their position arrives first and is ignored (as
        // clients ignore unknown ids); the entry that follows carries it.
        let snapshot_at = person.snapshot_waiting.take().and_then(|behind| {
            let cursor_frames: Vec<usize> = (0..frames.len())
                .filter(|index| is_cursor_frame(&frames[*index]))
                .collect();
            cursor_frames.iter().rev().nth(behind).copied()
        });
        let mut problems = Vec::new();
        for (index, frame) in frames.into_iter().enumerate() {
            let Message::Text(text) = frame else {
                problems.push(format!(
                    "{id}'s page got a frame that is not text: {frame:?}"
                ));
                continue;
            };
            let message = match ServerMessage::parse(text.as_str()) {
                Ok(message) => message,
                Err(error) => {
                    problems.push(format!("{id}'s page cannot read {text}: {error}"));
                    continue;
                }
            };
            let Some(page) = &mut person.page else {
                break;
            };
            let (delivered, surprises) = page.apply(&message);
            for surprise in surprises {
                if Some(index) == snapshot_at
                    && matches!(surprise, crate::page::Surprise::PositionOfStranger(_))
                {
                    continue;
                }
                problems.push(format!("{id}'s page: {surprise:?} in {message:?}"));
            }
            for position in delivered {
                match order_check(&self.sent, &mut person.received, &position) {
                    Ok(()) => self.summary.positions_delivered += 1,
                    Err(problem) => problems.push(format!("{id}'s page: {problem}")),
                }
            }
        }
        match problems.into_iter().next() {
            Some(problem) => self.fail(problem),
            None => Ok(()),
        }
    }

    /// The invariants, after every step.
    fn check(&self) -> Result<(), Failure> {
        if self.state.member_count() != self.people.len() {
            return self.fail(format!(
                "the room holds {} members for {} people",
                self.state.member_count(),
                self.people.len()
            ));
        }
        let crowd = self.state.is_crowd();
        let settled = !self.state.has_pending_moves();
        for person in self.people.values() {
            let Some(page) = &person.page else {
                continue;
            };
            if person.lagging {
                continue; // it knows only what it read before it stopped
            }
            if page.crowd != crowd {
                return self.fail(format!(
                    "{}'s page thinks the room is {}a crowd",
                    person.id,
                    if page.crowd { "" } else { "not " }
                ));
            }
            for (id, shown) in &page.shown {
                let Some(other) = self.people.get(id) else {
                    return self.fail(format!(
                        "{}'s page shows {id}, who left: a ghost",
                        person.id
                    ));
                };
                if shown.name != other.name {
                    return self.fail(format!(
                        "{}'s page calls {id} {:?}, not {:?}",
                        person.id, shown.name, other.name
                    ));
                }
                if settled && shown.position != other.position {
                    return self.fail(format!(
                        "{}'s page shows {id} at {:?}; they are at {:?} and nothing waits for a flush",
                        person.id, shown.position, other.position
                    ));
                }
            }
            if !crowd {
                let others = self.people.len() - 1;
                if page.shown.len() != others {
                    return self.fail(format!(
                        "{}'s page shows {} people of the {others} others in a room that is no crowd",
                        person.id,
                        page.shown.len()
                    ));
                }
            }
            if let (true, Some((followed, since))) = (crowd, &person.following) {
                let settled_follow = self.now >= *since + SELECT_EVERY * 2;
                let followed_visible = self
                    .people
                    .get(followed)
                    .is_some_and(|other| other.position.is_some() && other.id != person.id);
                if settled_follow && followed_visible && !page.shown.contains_key(followed) {
                    return self.fail(format!(
                        "{} follows {followed} but has not been shown them for {:?}",
                        person.id,
                        self.now - *since
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether a mailbox frame is a `cursors` frame (the only kind the
/// simulation's connections receive as batches).
fn is_cursor_frame(frame: &Message) -> bool {
    matches!(frame, Message::Text(text) if text.as_str().starts_with(r#"{"type":"cursors""#))
}

/// A delivered position must be one its person sent, and not older than
/// one of theirs this page already has.
fn order_check(
    sent: &HashMap<String, HashMap<(u64, u64), u64>>,
    received: &mut HashMap<String, u64>,
    position: &CursorPosition,
) -> Result<(), String> {
    let Some(sequence) = sent
        .get(&position.id)
        .and_then(|points| points.get(&(position.x.to_bits(), position.y.to_bits())))
    else {
        return Err(format!(
            "a position {} never sent: ({}, {})",
            position.id, position.x, position.y
        ));
    };
    let last = received.entry(position.id.clone()).or_insert(0);
    if *sequence < *last {
        return Err(format!(
            "{}'s position #{sequence} arrived after #{last}",
            position.id
        ));
    }
    *last = *sequence;
    Ok(())
}
