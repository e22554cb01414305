//! The page's link to the server, kept alive across drops.
//!
//! The decisions are in [`cursors_client_core::link`]: a plain [`Link`]
//! that reconnects after any drop with exponential backoff and full jitter
//! ([`cursors_client_core::backoff`]), comes back as the same user by
//! offering the `resume` token of the last `welcome` (after asking the
//! other tabs, [`crate::tabs`]), measures the round trip with
//! `ping`/`pong`, and sends only the current state after a reconnect: while
//! offline nothing is queued. [`cursors_client_core::status`] says what the
//! top bar shows.
//!
//! This module is the browser side and decides nothing: a [`Connection`]
//! hands each event (the socket's, a timer's, the pointer's, the page's) to
//! its `Link` with the time, and carries out the [`Command`]s it gets back:
//! it owns the [`Socket`], the timers, `sessionStorage` and `localStorage`,
//! the channel to the other tabs, and the signals the components read. It
//! also counts what it receives and sends for the diagnostics overlay.
//!
//! It also keeps whom the page follows ([`Follow`]): the choice outlives
//! each socket, so it is said again after every `welcome`, and a reload
//! (in `sessionStorage`, per tab and room, like the token).
//!
//! Components reach it by context, through a [`ConnectionHandle`].

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use cursors_client_core::address::socket_url;
use cursors_client_core::diagnostics::Counters;
use cursors_client_core::follow::Follow;
use cursors_client_core::link::{Command, Link, Remembered};
use cursors_client_core::status::Status;
use cursors_protocol::{ClientMessage, NameError, Point, RoomName, ServerMessage, normalize_name};
use leptos::prelude::*;

use crate::scene::Scene;
use crate::tabs::Tabs;
use crate::timing::{after_rendering, now_ms};
use cursors_client_web::socket::{Socket, SocketEvent};

/// Signals the connection keeps up to date for the components (the room
/// itself is in the [`Scene`]).
#[derive(Clone, Copy)]
pub struct ConnectionSignals {
    pub status: RwSignal<Status>,
    /// Last measured round trip, in milliseconds.
    pub round_trip_ms: RwSignal<Option<f64>>,
    /// Whom this page follows (see [`Follow`]).
    pub following: RwSignal<Option<String>>,
}

/// Where the chosen display name is kept, for every room and visit.
const NAME_KEY: &str = "cursors.name";

/// Where quiet mode is remembered (`"1"` while on), like the name.
const QUIET_KEY: &str = "cursors.quiet";

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
    /// The rules; borrowed only while one of them runs, never while its
    /// commands are carried out (they may feed it again).
    link: RefCell<Link>,
    socket: RefCell<Option<Socket>>,
    /// The other tabs of this origin, asked before a stored token is used.
    tabs: Option<Tabs>,
    /// This person's laser is on: their own pointer draws a trail here.
    laser: Cell<bool>,
    follow: RefCell<Follow>,
}

impl Connection {
    pub fn start(
        room: RoomName,
        signals: ConnectionSignals,
        scene: Rc<Scene>,
        counters: StoredValue<Counters>,
    ) -> Rc<Self> {
        let tabs = Tabs::open();
        let remembered = Remembered {
            token: window()
                .session_storage()
                .ok()
                .flatten()
                .and_then(|storage| storage.get_item(&token_key(&room)).ok().flatten()),
            name: window()
                .local_storage()
                .ok()
                .flatten()
                .and_then(|storage| storage.get_item(NAME_KEY).ok().flatten())
                .and_then(|name| normalize_name(&name).ok()),
            tabs: tabs.is_some(),
            quiet: window()
                .local_storage()
                .ok()
                .flatten()
                .and_then(|storage| storage.get_item(QUIET_KEY).ok().flatten())
                .is_some_and(|quiet| quiet == "1"),
        };
        let followed_before = window()
            .session_storage()
            .ok()
            .flatten()
            .and_then(|storage| storage.get_item(&follow_key(&room)).ok().flatten());
        let connection = Rc::new(Self {
            room,
            signals,
            scene,
            counters,
            link: RefCell::new(Link::new(remembered)),
            socket: RefCell::new(None),
            tabs,
            laser: Cell::new(false),
            follow: RefCell::new(Follow::remembering(followed_before)),
        });
        connection.decide(Link::start);
        connection
    }

    /// Runs one rule of the link, then carries out what it decided.
    fn decide(self: &Rc<Self>, rule: impl FnOnce(&mut Link) -> Vec<Command>) {
        let commands = rule(&mut self.link.borrow_mut());
        for command in commands {
            self.carry_out(command);
        }
    }

    fn carry_out(self: &Rc<Self>, command: Command) {
        match command {
            Command::OpenSocket { resume } => self.open_socket(resume.as_deref()),
            Command::CloseSocket => {
                if let Some(socket) = self.socket.borrow().as_ref() {
                    socket.close();
                }
            }
            Command::Send(message) => {
                self.send(&message);
            }
            Command::SendMove(Point { x, y }) => {
                if self.send(&ClientMessage::Move { x, y, anchor: None }) {
                    self.link.borrow_mut().move_sent();
                    self.counters
                        .update_value(|counters| counters.moves_sent += 1);
                }
            }
            Command::RequestFrame => {
                let connection = self.clone();
                request_animation_frame(move || {
                    connection.decide(|link| link.frame(now_ms()));
                });
            }
            Command::StartTimer { timer, after } => {
                let weak = Rc::downgrade(self);
                set_timeout(
                    move || {
                        if let Some(connection) = weak.upgrade() {
                            connection.decide(|link| link.timer_fired(timer, js_sys::Date::now()));
                        }
                    },
                    after,
                );
            }
            Command::SetStatus(status) => self.signals.status.set(status),
            Command::SetRoundTrip(round_trip) => self.signals.round_trip_ms.set(round_trip),
            Command::ClearScene => self.scene.clear(),
            Command::ForgetFadedChat { id } => self.scene.forget_faded_chat(&id),
            Command::StoreToken(token) => {
                if let Ok(Some(storage)) = window().session_storage() {
                    let _ = storage.set_item(&token_key(&self.room), &token);
                }
            }
            Command::ForgetToken => {
                if let Ok(Some(storage)) = window().session_storage() {
                    let _ = storage.remove_item(&token_key(&self.room));
                }
            }
            Command::HoldToken(token) => {
                if let Some(tabs) = &self.tabs {
                    tabs.hold(&token);
                }
            }
            Command::AskTabs(token) => {
                let weak = Rc::downgrade(self);
                let answered = move |held_elsewhere: bool| {
                    if let Some(connection) = weak.upgrade() {
                        connection.decide(|link| link.tabs_answered(held_elsewhere));
                    }
                };
                match &self.tabs {
                    Some(tabs) => tabs.ask(&token, answered),
                    // Never asked without a channel; if it were, nobody
                    // can hold the token.
                    None => answered(false),
                }
            }
            Command::StoreName(name) => {
                if let Ok(Some(storage)) = window().local_storage() {
                    let _ = storage.set_item(NAME_KEY, &name);
                }
            }
            Command::StoreQuiet(quiet) => {
                if let Ok(Some(storage)) = window().local_storage() {
                    let _ = if quiet {
                        storage.set_item(QUIET_KEY, "1")
                    } else {
                        storage.remove_item(QUIET_KEY)
                    };
                }
            }
        }
    }

    // ANCHOR: connect
    /// Opens a socket to this page's room, offering `resume` (the token the
    /// link holds) as `?resume=TOKEN`, and the room token the page was
    /// opened with (`?token=`), which a server with `--token-key` asks for.
    fn open_socket(self: &Rc<Self>, resume: Option<&str>) {
        let location = window().location();
        let room_token =
            web_sys::UrlSearchParams::new_with_str(&location.search().unwrap_or_default())
                .ok()
                .and_then(|params| params.get("token"));
        let url = socket_url(
            &location.protocol().unwrap_or_default(),
            &location.host().unwrap_or_default(),
            &self.room,
            resume,
            room_token.as_deref(),
        );
        let weak: Weak<Self> = Rc::downgrade(self);
        let opened = Socket::open(&url, move |event| {
            if let Some(connection) = weak.upgrade() {
                connection.on_socket_event(event);
            }
        });
        match opened {
            // Replacing the previous (closed) socket drops it here, outside
            // its own callbacks.
            Ok(socket) => *self.socket.borrow_mut() = Some(socket),
            Err(_) => {
                let (online, random) = network_and_chance();
                self.decide(|link| link.socket_failed(js_sys::Date::now(), online, random));
            }
        }
    }
    // ANCHOR_END: connect

    fn on_socket_event(self: &Rc<Self>, event: SocketEvent) {
        match event {
            SocketEvent::Open => self.decide(Link::socket_opened),
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
                let now = js_sys::Date::now();
                self.decide(|link| link.received(&message, now));
                self.follow_received(&message);
                self.scene.apply(message, now);
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
                let (online, random) = network_and_chance();
                self.decide(|link| {
                    link.socket_closed(code, reason, js_sys::Date::now(), online, random)
                });
            }
        }
    }

    fn send(&self, message: &ClientMessage) -> bool {
        self.socket
            .borrow()
            .as_ref()
            .is_some_and(|socket| socket.send(message))
    }

    /// What a message from the server means for the follow (see
    /// [`Follow::received`]).
    fn follow_received(&self, message: &ServerMessage) {
        let mut follow = self.follow.borrow_mut();
        if let Some(say) = follow.received(message) {
            self.send(&say);
        }
        self.show_following(follow.following());
    }

    /// Shows whom the page follows, and keeps it for a reload.
    fn show_following(&self, following: Option<&str>) {
        if self
            .signals
            .following
            .with_untracked(|shown| shown.as_deref() == following)
        {
            return;
        }
        self.signals.following.set(following.map(str::to_owned));
        if let Ok(Some(storage)) = window().session_storage() {
            let key = follow_key(&self.room);
            let _ = match following {
                Some(id) => storage.set_item(&key, id),
                None => storage.remove_item(&key),
            };
        }
    }

    /// The person picked `id` in the presence list: follow them, or stop
    /// following them if they were (see [`Follow::pick`]). Sent now if the
    /// socket is open; otherwise the next `welcome` says it.
    pub fn follow(&self, id: &str) {
        let mut follow = self.follow.borrow_mut();
        let say = follow.pick(id);
        self.send(&say);
        self.show_following(follow.following());
    }

    /// Where this page's pointer is on the board, if it is on it.
    pub fn pointer(&self) -> Option<Point> {
        self.link.borrow().pointer()
    }

    /// The page was hidden or lost focus (`true`), or is back (see
    /// [`Link::set_away`]).
    pub fn set_away(self: &Rc<Self>, away: bool) {
        self.decide(|link| link.set_away(away));
    }

    /// Cursor chat: tells the others what this person is typing (empty
    /// clears it). The server limits the rate; a dropped keystroke is
    /// superseded by the next one anyway.
    pub fn say(&self, text: &str) {
        self.send(&ClientMessage::Say {
            text: text.to_owned(),
        });
    }

    /// Sends a reaction (the caller checked it against the set and the
    /// page's own limit). Whether the socket took it.
    pub fn react(&self, emoji: &str) -> bool {
        self.send(&ClientMessage::React {
            emoji: emoji.to_owned(),
        })
    }

    /// "Look here" at `point`. Whether the socket took it.
    pub fn point(&self, point: Point) -> bool {
        self.send(&ClientMessage::Point {
            x: point.x,
            y: point.y,
        })
    }

    /// The laser on or off (only the changes: a held key repeats).
    pub fn laser(&self, on: bool) {
        self.laser.set(on);
        self.send(&ClientMessage::Laser { on });
    }

    pub fn set_spotlight(self: &Rc<Self>, on: bool) {
        self.decide(|link| link.set_spotlight(on));
    }

    pub fn is_spotlit(&self) -> bool {
        self.link.borrow().is_spotlit()
    }

    /// Quiet mode on or off (see [`Link::set_quiet`]).
    pub fn set_quiet(self: &Rc<Self>, quiet: bool) {
        self.decide(|link| link.set_quiet(quiet));
    }

    pub fn is_quiet(&self) -> bool {
        self.link.borrow().is_quiet()
    }

    /// The name chosen earlier (from `localStorage`), if any.
    pub fn preferred_name(&self) -> Option<String> {
        self.link.borrow().preferred_name().map(str::to_owned)
    }

    /// Takes a new display name (see [`Link::rename`]). Returns the name as
    /// it will show.
    pub fn set_name(self: &Rc<Self>, raw: &str) -> Result<String, NameError> {
        let (name, commands) = self.link.borrow_mut().rename(raw)?;
        for command in commands {
            self.carry_out(command);
        }
        Ok(name)
    }

    /// Records the pointer's position (see [`Link::pointer_moved`]).
    pub fn pointer_moved(self: &Rc<Self>, point: Point) {
        self.decide(|link| link.pointer_moved(point));
        if self.laser.get()
            && let Some(me) = self.scene.me()
        {
            self.scene
                .social()
                .my_trail_point(&me.id, &me.color, point, js_sys::Date::now());
        }
    }

    pub fn pointer_left(self: &Rc<Self>) {
        self.decide(Link::pointer_left);
    }

    /// The page is being hidden for good or reloaded (see [`Link::close`]).
    pub fn close(self: &Rc<Self>) {
        self.decide(Link::close);
    }

    /// The page came back from the back/forward cache (see
    /// [`Link::reopen`]).
    pub fn reopen(self: &Rc<Self>) {
        self.decide(Link::reopen);
    }
}

/// Where the resume token of `room` is kept in `sessionStorage`.
fn token_key(room: &RoomName) -> String {
    format!("cursors.resume.{room}")
}

/// Where whom this tab follows in `room` is kept in `sessionStorage`.
fn follow_key(room: &RoomName) -> String {
    format!("cursors.follow.{room}")
}

/// What the backoff needs from the browser: whether it says it is online,
/// and a random draw for the jitter.
fn network_and_chance() -> (bool, f64) {
    (window().navigator().on_line(), js_sys::Math::random())
}
