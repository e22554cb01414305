//! The page's link to the server, kept alive across drops.
//!
//! A [`Connection`] owns the current [`Socket`], reconnects after any drop
//! with exponential backoff and full jitter ([`crate::backoff`]), and comes
//! back as the same user: the `resume` token of each `welcome` is kept in
//! `sessionStorage` (per tab, surviving a reload) and offered on the next
//! connect. While offline nothing is queued: pointer moves are dropped by
//! the throttle, and after reconnecting only the current position is sent.
//! It also measures the round-trip time with `ping`/`pong`, and counts what
//! it receives and sends for the diagnostics overlay.
//!
//! Components reach it by context, through a [`ConnectionHandle`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use cursors_protocol::{ClientMessage, NameError, Point, RoomName, ServerMessage, normalize_name};
use leptos::prelude::*;

use crate::address::socket_url;
use crate::backoff::reconnect_delay;
use crate::diagnostics::Counters;
use crate::scene::{Scene, after_rendering, now_ms};
use crate::socket::{Socket, SocketEvent};
use crate::tabs::Tabs;
use crate::throttle::{FrameThrottle, FrameTurn};

/// State of the connection, as shown in the top bar.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Connecting,
    Connected,
    /// Waiting to retry; `retry_at` is a `Date.now()` timestamp in ms.
    Reconnecting {
        retry_at: f64,
        /// Why the server closed the last connection, when it said (a
        /// policy close: too many messages, not reading, too big).
        closed_because: Option<String>,
    },
    /// The browser says it has no network; retries go on regardless.
    Offline,
}

impl Status {
    /// The label, given the current time (for the countdown).
    pub fn label(&self, now: f64) -> String {
        match self {
            Status::Connecting => "connecting…".to_owned(),
            Status::Connected => "connected".to_owned(),
            Status::Reconnecting {
                retry_at,
                closed_because,
            } => {
                // Whole seconds, and never "-0s" once the moment has passed.
                let seconds = ((retry_at - now) / 1000.0).ceil().max(0.0) as u64;
                match closed_because {
                    Some(reason) => format!("{reason}: reconnecting in {seconds}s"),
                    None => format!("reconnecting in {seconds}s"),
                }
            }
            Status::Offline => "offline".to_owned(),
        }
    }

    /// For `data-state`: a stable word for styles and tests.
    pub fn state(&self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Reconnecting { .. } => "reconnecting",
            Status::Offline => "offline",
        }
    }
}

/// Signals the connection keeps up to date for the components (the room
/// itself is in the [`Scene`]).
#[derive(Clone, Copy)]
pub struct ConnectionSignals {
    pub status: RwSignal<Status>,
    /// Last measured round trip, in milliseconds.
    pub round_trip_ms: RwSignal<Option<f64>>,
}

/// Where the chosen display name is kept, for every room and visit.
const NAME_KEY: &str = "cursors.name";

/// How long a cleared chat bubble takes to fade (matches the CSS).
const CHAT_FADE: Duration = Duration::from_millis(600);

/// How often the round trip is measured while the room is busy, and while
/// it is still. Each ping wakes the page (a timer, a send, a pong, a text
/// to redraw, a few milliseconds of the browser's time after a long
/// sleep), and a page where nothing happens should cost next to nothing.
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_EVERY_WHEN_STILL: Duration = Duration::from_secs(30);

/// When to measure the round trip next: soon if anything came or went
/// since the last ping (other than the pong itself), later if not.
pub fn next_ping_in(active_since_last_ping: bool) -> Duration {
    if active_since_last_ping {
        PING_EVERY
    } else {
        PING_EVERY_WHEN_STILL
    }
}

/// The page's connection, handed to components by context. A
/// `Connection` holds a `web_sys::WebSocket`, which is not `Send`, so it
/// stays in a local [`StoredValue`]; the handle is a `Copy` key to it that
/// any event handler or cleanup can capture.
#[derive(Clone, Copy)]
pub struct ConnectionHandle(StoredValue<Rc<Connection>, LocalStorage>);

impl ConnectionHandle {
    pub fn new(connection: Rc<Connection>) -> Self {
        Self(StoredValue::new_local(connection))
    }

    /// Runs `act` with the connection (nothing once the page is gone).
    pub fn with<R>(&self, act: impl FnOnce(&Rc<Connection>) -> R) -> Option<R> {
        self.0.try_with_value(act)
    }
}

pub struct Connection {
    room: RoomName,
    signals: ConnectionSignals,
    scene: Rc<Scene>,
    counters: StoredValue<Counters>,
    socket: RefCell<Option<Socket>>,
    throttle: RefCell<FrameThrottle<Point>>,
    /// Failed attempts since the server last welcomed us.
    attempt: Cell<u32>,
    /// Where the pointer is on the board, to restore after a reconnect.
    pointer: Cell<Option<Point>>,
    /// The page is going away: do not reconnect.
    closing: Cell<bool>,
    pings_sent: RefCell<HashMap<u64, f64>>,
    next_ping: Cell<u64>,
    /// Something came or went since the last ping (see [`next_ping_in`]).
    active_since_ping: Cell<bool>,
    /// The name this person chose, sent with `hello` after every welcome.
    preferred_name: RefCell<Option<String>>,
    /// This page is hidden or unfocused.
    away: Cell<bool>,
    /// The other tabs of this origin, asked before a stored token is used.
    tabs: Option<Tabs>,
    /// That question is open: the first connect waits for its answer.
    asking_tabs: Cell<bool>,
}

impl Connection {
    pub fn start(
        room: RoomName,
        signals: ConnectionSignals,
        scene: Rc<Scene>,
        counters: StoredValue<Counters>,
    ) -> Rc<Self> {
        let connection = Rc::new(Self {
            room,
            signals,
            scene,
            counters,
            socket: RefCell::new(None),
            throttle: RefCell::default(),
            attempt: Cell::new(0),
            pointer: Cell::new(None),
            closing: Cell::new(false),
            pings_sent: RefCell::default(),
            next_ping: Cell::new(1),
            active_since_ping: Cell::new(true),
            away: Cell::new(false),
            tabs: Tabs::open(),
            asking_tabs: Cell::new(false),
            preferred_name: RefCell::new(
                window()
                    .local_storage()
                    .ok()
                    .flatten()
                    .and_then(|storage| storage.get_item(NAME_KEY).ok().flatten())
                    .and_then(|name| normalize_name(&name).ok()),
            ),
        });
        connection.connect_first();
        connection.schedule_ping();
        connection
    }

    /// Pings after [`next_ping_in`], then schedules the next one.
    fn schedule_ping(self: &Rc<Self>) {
        let delay = next_ping_in(self.active_since_ping.replace(false));
        let weak = Rc::downgrade(self);
        set_timeout(
            move || {
                if let Some(connection) = weak.upgrade() {
                    connection.ping();
                    connection.schedule_ping();
                }
            },
            delay,
        );
    }

    fn token_key(&self) -> String {
        format!("cursors.resume.{}", self.room)
    }

    // ANCHOR: connect-first
    /// The first connection of this page. A stored token is offered only if
    /// no other tab holds it: a duplicated tab copies the original's
    /// `sessionStorage`, and must not take over its identity (see [`Tabs`]).
    fn connect_first(self: &Rc<Self>) {
        let storage = window().session_storage().ok().flatten();
        let stored = storage
            .as_ref()
            .and_then(|storage| storage.get_item(&self.token_key()).ok().flatten());
        let (Some(tabs), Some(token)) = (&self.tabs, stored) else {
            self.connect();
            return;
        };
        self.asking_tabs.set(true);
        let (weak, key, asked) = (Rc::downgrade(self), self.token_key(), token.clone());
        tabs.ask(&asked, move |held_elsewhere| {
            let Some(connection) = weak.upgrade() else {
                return;
            };
            connection.asking_tabs.set(false);
            if held_elsewhere {
                if let Some(storage) = storage {
                    let _ = storage.remove_item(&key);
                }
            } else if let Some(tabs) = &connection.tabs {
                // Ours from now on, before any welcome: a duplicate made
                // while this page connects must hear so too.
                tabs.hold(&token);
            }
            // The page may have gone meanwhile (`reopen` connects then).
            if !connection.closing.get() {
                connection.connect();
            }
        });
    }
    // ANCHOR_END: connect-first

    // ANCHOR: connect
    fn connect(self: &Rc<Self>) {
        let location = window().location();
        let storage = window().session_storage().ok().flatten();
        let token = storage
            .as_ref()
            .and_then(|storage| storage.get_item(&self.token_key()).ok().flatten());
        let url = socket_url(
            &location.protocol().unwrap_or_default(),
            &location.host().unwrap_or_default(),
            &self.room,
            token.as_deref(),
        );
        let weak: Weak<Self> = Rc::downgrade(self);
        let opened = Socket::open(&url, move |event| {
            if let Some(connection) = weak.upgrade() {
                connection.on_event(event);
            }
        });
        match opened {
            // Replacing the previous (closed) socket drops it here, outside
            // its own callbacks.
            Ok(socket) => *self.socket.borrow_mut() = Some(socket),
            Err(_) => self.schedule_reconnect(None),
        }
    }
    // ANCHOR_END: connect

    fn on_event(self: &Rc<Self>, event: SocketEvent) {
        match event {
            // ANCHOR: open
            SocketEvent::Open => {
                self.signals.status.set(Status::Connected);
                // Only the current state, never a backlog.
                if self.away.get() {
                    self.send(&ClientMessage::Presence { away: true });
                } else if let Some(Point { x, y }) = self.pointer.get() {
                    self.send(&ClientMessage::Move { x, y });
                }
            }
            // ANCHOR_END: open
            SocketEvent::Message {
                message,
                received_at,
            } => {
                // Positions are most of the traffic: counted apart, with the
                // time each frame takes to handle (redrawing included).
                let positions = match &message {
                    ServerMessage::Cursors { moves } => Some(moves.len() as u64),
                    _ => None,
                };
                self.on_message(message);
                let counters = self.counters;
                after_rendering(move || {
                    let took = now_ms() - received_at;
                    counters.update_value(|counters| match positions {
                        Some(positions) => {
                            counters.cursor_frames += 1;
                            counters.positions += positions;
                            counters.cursor_frame_ms += took;
                        }
                        None => {
                            counters.other_messages += 1;
                            counters.other_message_ms += took;
                        }
                    });
                });
            }
            SocketEvent::Closed { code, reason } => {
                // ANCHOR: closed
                // What we knew of the room is stale now: clear it, so no
                // ghost cursor lingers; the next welcome tells the truth.
                self.scene.clear();
                self.signals.round_trip_ms.set(None);
                self.throttle.borrow_mut().discard();
                if !self.closing.get() {
                    self.schedule_reconnect(server_close_reason(code, reason));
                }
                // ANCHOR_END: closed
            }
        }
    }

    fn on_message(self: &Rc<Self>, message: ServerMessage) {
        match message {
            ServerMessage::Pong { id } => {
                if let Some(sent) = self.pings_sent.borrow_mut().remove(&id) {
                    self.signals
                        .round_trip_ms
                        .set(Some(js_sys::Date::now() - sent));
                }
            }
            message => {
                self.active_since_ping.set(true);
                // ANCHOR: keep-token
                if let ServerMessage::Welcome {
                    resume: Some(token),
                    ..
                } = &message
                {
                    if let Ok(Some(storage)) = window().session_storage() {
                        let _ = storage.set_item(&self.token_key(), token);
                    }
                    // Ours now: a duplicate of this tab that asks is told so.
                    if let Some(tabs) = &self.tabs {
                        tabs.hold(token);
                    }
                }
                // ANCHOR_END: keep-token
                // A cleared chat bubble fades (CSS), then goes.
                if let ServerMessage::Said { id, text } = &message
                    && text.is_empty()
                {
                    let (scene, id) = (Rc::downgrade(&self.scene), id.clone());
                    set_timeout(
                        move || {
                            if let Some(scene) = scene.upgrade() {
                                scene.forget_faded_chat(&id);
                            }
                        },
                        CHAT_FADE,
                    );
                }
                let welcomed_as = match &message {
                    ServerMessage::Welcome { name, .. } => Some(name.clone()),
                    _ => None,
                };
                // ANCHOR: welcomed
                // Admitted: the next drop starts the backoff from its first,
                // short bound. Not on `open`: a server that accepts the
                // socket and closes it at once (a policy it enforces on
                // each new connection) must still meet a growing delay.
                if welcomed_as.is_some() {
                    self.attempt.set(0);
                }
                // ANCHOR_END: welcomed
                // A fresh connection shows its round trip at once, not at
                // the next scheduled ping (up to 30 s away in a still room).
                if welcomed_as.is_some() && self.signals.round_trip_ms.get_untracked().is_none() {
                    self.ping();
                }
                self.scene.apply(message, js_sys::Date::now());
                // Our chosen name, if the server does not know it yet.
                let preferred = self.preferred_name.borrow().clone();
                if let (Some(assigned), Some(name)) = (welcomed_as, preferred)
                    && assigned != name
                {
                    self.send(&ClientMessage::Hello { name });
                }
            }
        }
    }

    // ANCHOR: reconnect
    fn schedule_reconnect(self: &Rc<Self>, closed_because: Option<String>) {
        let attempt = self.attempt.get();
        self.attempt.set(attempt.saturating_add(1));
        let delay = reconnect_delay(attempt, js_sys::Math::random());
        let online = window().navigator().on_line();
        self.signals.status.set(if online {
            Status::Reconnecting {
                retry_at: js_sys::Date::now() + delay.as_secs_f64() * 1000.0,
                closed_because,
            }
        } else {
            Status::Offline
        });
        let weak = Rc::downgrade(self);
        set_timeout(
            move || {
                if let Some(connection) = weak.upgrade()
                    && !connection.closing.get()
                {
                    connection.signals.status.set(Status::Connecting);
                    connection.connect();
                }
            },
            delay,
        );
    }
    // ANCHOR_END: reconnect

    fn send(&self, message: &ClientMessage) -> bool {
        self.socket
            .borrow()
            .as_ref()
            .is_some_and(|socket| socket.send(message))
    }

    fn ping(&self) {
        if self.signals.status.get_untracked() != Status::Connected {
            return;
        }
        let id = self.next_ping.get();
        self.next_ping.set(id + 1);
        let mut pings = self.pings_sent.borrow_mut();
        pings.retain(|sent_id, _| id - sent_id < 4); // forget lost ones
        pings.insert(id, js_sys::Date::now());
        drop(pings);
        self.send(&ClientMessage::Ping { id });
    }

    /// Where this page's pointer is on the board, if it is on it.
    pub fn pointer(&self) -> Option<Point> {
        self.pointer.get()
    }

    /// The page was hidden or lost focus (`true`), or is back: the others
    /// show this person as away, cursor hidden, still in the list.
    pub fn set_away(&self, away: bool) {
        if self.away.replace(away) == away {
            return;
        }
        if away {
            self.pointer_left();
        }
        self.send(&ClientMessage::Presence { away });
    }

    /// Cursor chat: tells the others what this person is typing (empty
    /// clears it). The server limits the rate; a dropped keystroke is
    /// superseded by the next one anyway.
    pub fn say(&self, text: &str) {
        self.send(&ClientMessage::Say {
            text: text.to_owned(),
        });
    }

    /// The name chosen earlier (from `localStorage`), if any.
    pub fn preferred_name(&self) -> Option<String> {
        self.preferred_name.borrow().clone()
    }

    /// Takes a new display name: checks it as the server will, remembers it
    /// for next time and tells the room. Returns the name as it will show.
    pub fn set_name(&self, raw: &str) -> Result<String, NameError> {
        let name = normalize_name(raw)?;
        if let Ok(Some(storage)) = window().local_storage() {
            let _ = storage.set_item(NAME_KEY, &name);
        }
        *self.preferred_name.borrow_mut() = Some(name.clone());
        self.send(&ClientMessage::Hello { name: name.clone() });
        Ok(name)
    }

    // ANCHOR: pointer-moved
    /// Records the pointer's position; an animation frame sends the latest
    /// one (see [`FrameThrottle`]).
    pub fn pointer_moved(self: &Rc<Self>, point: Point) {
        self.pointer.set(Some(point));
        if self.throttle.borrow_mut().offer(point) {
            self.send_on_next_frame();
        }
    }

    fn send_on_next_frame(self: &Rc<Self>) {
        let connection = self.clone();
        request_animation_frame(move || {
            let turn = connection.throttle.borrow_mut().take_for_frame(now_ms());
            match turn {
                FrameTurn::Send(Point { x, y }) => {
                    if connection.send(&ClientMessage::Move { x, y }) {
                        connection.active_since_ping.set(true);
                        connection
                            .counters
                            .update_value(|counters| counters.moves_sent += 1);
                    }
                }
                FrameTurn::Wait => connection.send_on_next_frame(),
                FrameTurn::Idle => {}
            }
        });
    }
    // ANCHOR_END: pointer-moved

    pub fn pointer_left(&self) {
        self.pointer.set(None);
        self.throttle.borrow_mut().discard();
        self.send(&ClientMessage::Leave);
    }

    /// The page is being hidden for good or reloaded: close cleanly, so the
    /// server holds this user's place only for the short reload grace.
    pub fn close(&self) {
        self.closing.set(true);
        if let Some(socket) = self.socket.borrow().as_ref() {
            socket.close();
        }
    }

    /// The page came back from the back/forward cache: connect again
    /// (unless the first connect's question to the other tabs is still
    /// open: its answer connects).
    pub fn reopen(self: &Rc<Self>) {
        if self.closing.replace(false) {
            self.attempt.set(0);
            if !self.asking_tabs.get() {
                self.connect();
            }
        }
    }
}

// ANCHOR: close-reason
/// The reason worth showing for a close: the server's own words when it
/// closed us over a policy, a size or an error. A normal close, a server
/// going away and a dropped network (1006, no close frame) need no reason
/// beyond "reconnecting".
pub fn server_close_reason(code: u16, reason: String) -> Option<String> {
    const POLICY: u16 = 1008;
    const TOO_BIG: u16 = 1009;
    const SERVER_ERROR: u16 = 1011;
    let explained = matches!(code, POLICY | TOO_BIG | SERVER_ERROR);
    (explained && !reason.trim().is_empty()).then(|| reason.trim().to_owned())
}
// ANCHOR_END: close-reason

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_count_down_to_the_retry() {
        let now = 1_000_000.0;
        assert_eq!(
            Status::Reconnecting {
                retry_at: now + 2_300.0,
                closed_because: None,
            }
            .label(now),
            "reconnecting in 3s"
        );
        assert_eq!(
            Status::Reconnecting {
                retry_at: now - 50.0,
                closed_because: None,
            }
            .label(now),
            "reconnecting in 0s"
        );
        assert_eq!(
            Status::Reconnecting {
                retry_at: now + 900.0,
                closed_because: Some("rate limit exceeded".to_owned()),
            }
            .label(now),
            "rate limit exceeded: reconnecting in 1s"
        );
        assert_eq!(Status::Connected.label(now), "connected");
        assert_eq!(Status::Offline.state(), "offline");
    }

    #[test]
    fn a_still_room_is_pinged_six_times_less_often() {
        assert_eq!(next_ping_in(true), Duration::from_secs(5));
        assert_eq!(next_ping_in(false), Duration::from_secs(30));
    }

    #[test]
    fn only_a_close_over_a_policy_size_or_error_shows_its_reason() {
        let reason = |code: u16, text: &str| server_close_reason(code, text.to_owned());
        assert_eq!(
            reason(1008, "rate limit exceeded").as_deref(),
            Some("rate limit exceeded")
        );
        assert_eq!(
            reason(1009, "message too big").as_deref(),
            Some("message too big")
        );
        assert_eq!(
            reason(1011, " could not join the room ").as_deref(),
            Some("could not join the room")
        );
        assert_eq!(reason(1008, ""), None, "nothing said, nothing shown");
        assert_eq!(reason(1000, "bye"), None);
        assert_eq!(
            reason(1001, "server shutting down"),
            None,
            "a restart is routine"
        );
        assert_eq!(reason(1006, ""), None);
    }
}
