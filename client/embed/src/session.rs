//! The embed's link to the server and its picture of the room: the
//! browser side of the shared rules, as `client/src/connection.rs` is for
//! our page.
//!
//! A [`Session`] hands each event (the socket's, a timer's, the
//! pointer's, the page's) to its [`Link`] with the time, carries out the
//! [`Command`]s it gets back, applies what the server says to its
//! [`Roster`], and redraws the [`Overlay`]. It decides nothing itself
//! beyond what only the embed has: which anchor goes with a move, when to
//! fetch a fresh room token, and whether the visitor hid the cursors.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use cursors_client_core::address::socket_url;
use cursors_client_core::link::{Command, Link, Remembered};
use cursors_client_core::roster::Roster;
use cursors_client_web::socket::{Socket, SocketEvent};
use cursors_protocol::{ClientMessage, Point, RoomName, ServerMessage, normalize_name};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Window};

use crate::overlay::{Control, Drawn, Overlay};
use crate::pointer::{Position, position_at, spot_of, target_element};

/// Where the visitor's chosen name is kept, for every page of the site.
const NAME_KEY: &str = "cursors-embed.name";
/// Where "the cursors are hidden" is remembered (`"1"` while hidden).
const HIDDEN_KEY: &str = "cursors-embed.hidden";
/// How long before its end a room token is replaced (seconds).
const REFRESH_AHEAD_SECONDS: f64 = 30.0;

/// What `embed.js` found on the tag (see [`crate::start`]).
pub struct Settings {
    /// The server's `protocol` (`"https:"`) and `host`, from the script's
    /// own address: the socket goes where the script came from.
    pub server_protocol: String,
    pub server_host: String,
    pub room: RoomName,
    pub room_token: Option<String>,
    /// Gets a new room token (a promise of a string), from `data-token-url`.
    pub refresh: Option<js_sys::Function>,
}

/// An event listener the session added, removed when it ends.
type Listener = (
    web_sys::EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
);

pub struct Session {
    settings: Settings,
    window: Window,
    document: Document,
    /// The rules; borrowed only while one of them runs, never while its
    /// commands are carried out (they may feed it again).
    link: RefCell<Link>,
    roster: RefCell<Roster>,
    socket: RefCell<Option<Socket>>,
    overlay: Overlay,
    room_token: RefCell<Option<String>>,
    /// The pointer's latest position with its anchor: the link throttles
    /// the document point, and the anchor goes with it when it is sent.
    pointer: RefCell<Option<Position>>,
    hidden: Cell<bool>,
    /// A redraw is asked for on the next animation frame.
    redraw_asked: Cell<bool>,
    /// Increases with each welcome, so a refresh timer of an earlier socket
    /// does nothing.
    generation: Cell<u64>,
    listeners: RefCell<Vec<Listener>>,
}

impl Session {
    pub fn start(settings: Settings) -> Result<Rc<Self>, JsValue> {
        let window = web_sys::window().ok_or("cursors: no window")?;
        let document = window.document().ok_or("cursors: no document")?;
        let storage = window.local_storage().ok().flatten();
        let stored = |key: &str| {
            storage
                .as_ref()
                .and_then(|storage| storage.get_item(key).ok().flatten())
        };
        let remembered = Remembered {
            // A resume token is not kept across reloads here: a duplicated
            // host tab would copy it and take over the original's identity,
            // and the embed has no channel to ask the other tabs.
            token: None,
            name: stored(NAME_KEY).and_then(|name| normalize_name(&name).ok()),
            tabs: false,
            quiet: false,
        };
        let hidden = stored(HIDDEN_KEY).is_some_and(|hidden| hidden == "1");
        // The overlay's controls call back into the session, which does
        // not exist yet: they reach it through this slot, filled below.
        let slot: Rc<RefCell<Weak<Self>>> = Rc::new(RefCell::new(Weak::new()));
        let on_control: Rc<dyn Fn(Control)> = {
            let slot = slot.clone();
            Rc::new(move |control| {
                let session = slot.borrow().upgrade();
                if let Some(session) = session {
                    session.control(control);
                }
            })
        };
        let overlay = Overlay::mount(&document, on_control)?;
        overlay.set_hidden(hidden);
        if let Some(name) = &remembered.name {
            overlay.set_name(name, false);
        }
        let session = Rc::new(Self {
            room_token: RefCell::new(settings.room_token.clone()),
            settings,
            window,
            document,
            link: RefCell::new(Link::new(remembered)),
            roster: RefCell::new(Roster::default()),
            socket: RefCell::new(None),
            overlay,
            pointer: RefCell::new(None),
            hidden: Cell::new(hidden),
            redraw_asked: Cell::new(false),
            generation: Cell::new(0),
            listeners: RefCell::new(Vec::new()),
        });
        *slot.borrow_mut() = Rc::downgrade(&session);
        session.listen_to_the_page();
        session.decide(Link::start);
        Ok(session)
    }

    /// Follows the pointer, the page's visibility, scrolling and resizing
    /// (which move every anchored cursor), and the page going away.
    fn listen_to_the_page(self: &Rc<Self>) {
        let window: &web_sys::EventTarget = self.window.as_ref();
        let document: &web_sys::EventTarget = self.document.as_ref();
        self.listen(window, "pointermove", |session, event| {
            let Some(pointer) = event.dyn_ref::<web_sys::PointerEvent>() else {
                return;
            };
            let position = position_at(
                &session.window,
                target_element(event),
                f64::from(pointer.client_x()),
                f64::from(pointer.client_y()),
            );
            if let Some(position) = position {
                let point = position.document;
                *session.pointer.borrow_mut() = Some(position);
                session.decide(|link| link.pointer_moved(point));
            }
        });
        // The pointer left the window: `mouseout` with nowhere to go.
        self.listen(document, "mouseout", |session, event| {
            let left = event
                .dyn_ref::<web_sys::MouseEvent>()
                .is_some_and(|mouse| mouse.related_target().is_none());
            if left {
                session.decide(Link::pointer_left);
            }
        });
        self.listen(document, "visibilitychange", |session, _| {
            let hidden = session.document.hidden();
            session.decide(|link| link.set_away(hidden));
        });
        for kind in ["scroll", "resize"] {
            self.listen(window, kind, |session, _| session.ask_redraw());
        }
        self.listen(window, "pagehide", |session, _| session.decide(Link::close));
        self.listen(window, "pageshow", |session, _| {
            session.decide(Link::reopen)
        });
    }

    fn listen(
        self: &Rc<Self>,
        target: &web_sys::EventTarget,
        kind: &'static str,
        handler: impl Fn(&Rc<Self>, &web_sys::Event) + 'static,
    ) {
        let weak = Rc::downgrade(self);
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            if let Some(session) = weak.upgrade() {
                handler(&session, &event);
            }
        });
        let options = web_sys::AddEventListenerOptions::new();
        options.set_passive(true);
        target
            .add_event_listener_with_callback_and_add_event_listener_options(
                kind,
                closure.as_ref().unchecked_ref(),
                &options,
            )
            .ok();
        self.listeners
            .borrow_mut()
            .push((target.clone(), kind, closure));
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
            // After a reconnect the link says where the pointer is again.
            Command::Send(ClientMessage::Move { x, y, .. }) | Command::SendMove(Point { x, y }) => {
                if self.send(&self.move_to(Point { x, y })) {
                    self.link.borrow_mut().move_sent();
                }
            }
            Command::Send(message) => {
                self.send(&message);
            }
            Command::RequestFrame => {
                let weak = Rc::downgrade(self);
                self.on_next_frame(move |time| {
                    if let Some(session) = weak.upgrade() {
                        session.decide(|link| link.frame(time));
                    }
                });
            }
            Command::StartTimer { timer, after } => {
                let weak = Rc::downgrade(self);
                self.after(after.as_millis() as i32, move || {
                    if let Some(session) = weak.upgrade() {
                        session.decide(|link| link.timer_fired(timer, js_sys::Date::now()));
                    }
                });
            }
            Command::ClearScene => {
                *self.roster.borrow_mut() = Roster::default();
                self.redraw();
            }
            Command::ForgetFadedChat { id } => {
                self.roster.borrow_mut().forget_faded_chat(&id);
            }
            Command::StoreName(name) => {
                if let Ok(Some(storage)) = self.window.local_storage() {
                    let _ = storage.set_item(NAME_KEY, &name);
                }
            }
            // The bar shows the head count, not the link's status or round
            // trip; resume tokens and quiet mode are not kept here (see
            // `start`).
            Command::SetStatus(_)
            | Command::SetRoundTrip(_)
            | Command::StoreToken(_)
            | Command::ForgetToken
            | Command::HoldToken(_)
            | Command::AskTabs(_)
            | Command::StoreQuiet(_) => {}
        }
    }

    /// The `move` for `point`, with the anchor of the pointer's latest
    /// position if `point` is that position (it is, unless the link sends
    /// an older one).
    fn move_to(&self, point: Point) -> ClientMessage {
        let anchor = self
            .pointer
            .borrow()
            .as_ref()
            .filter(|position| position.document == point)
            .and_then(|position| position.anchor.clone());
        ClientMessage::Move {
            x: point.x,
            y: point.y,
            anchor,
        }
    }

    /// Opens a socket to the room on the server the script came from,
    /// offering `resume` and the room token, if any.
    fn open_socket(self: &Rc<Self>, resume: Option<&str>) {
        let url = socket_url(
            &self.settings.server_protocol,
            &self.settings.server_host,
            &self.settings.room,
            resume,
            self.room_token.borrow().as_deref(),
        );
        let weak = Rc::downgrade(self);
        let opened = Socket::open(&url, move |event| {
            if let Some(session) = weak.upgrade() {
                session.on_socket_event(event);
            }
        });
        match opened {
            Ok(socket) => *self.socket.borrow_mut() = Some(socket),
            Err(_) => {
                let (online, random) = self.network_and_chance();
                self.decide(|link| link.socket_failed(js_sys::Date::now(), online, random));
            }
        }
    }

    fn on_socket_event(self: &Rc<Self>, event: SocketEvent) {
        match event {
            SocketEvent::Open => self.decide(Link::socket_opened),
            SocketEvent::Message { message, .. } => {
                let now = js_sys::Date::now();
                self.decide(|link| link.received(&message, now));
                match &message {
                    ServerMessage::Welcome { expires, .. } => self.plan_refresh(*expires),
                    ServerMessage::Refreshed { expires } => self.plan_refresh(Some(*expires)),
                    _ => {}
                }
                let changes = self.roster.borrow_mut().apply_at(message, now);
                if changes.people || changes.board || !changes.moved.is_empty() {
                    self.ask_redraw();
                }
            }
            SocketEvent::Closed { code, reason } => {
                let (online, random) = self.network_and_chance();
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

    // ANCHOR: refresh
    /// The socket ends at `expires` (Unix seconds) unless a new room token
    /// comes first: with `data-token-url`, fetch one a little before and
    /// send it as a `refresh`; it is also the token of the next connect.
    fn plan_refresh(self: &Rc<Self>, expires: Option<u64>) {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let (Some(expires), Some(_)) = (expires, &self.settings.refresh) else {
            return;
        };
        let now = js_sys::Date::now() / 1000.0;
        let wait = ((expires as f64 - now - REFRESH_AHEAD_SECONDS).max(1.0) * 1000.0) as i32;
        let weak = Rc::downgrade(self);
        self.after(wait, move || {
            let Some(session) = weak.upgrade() else {
                return;
            };
            if session.generation.get() != generation {
                return;
            }
            let Some(refresh) = session.settings.refresh.clone() else {
                return;
            };
            wasm_bindgen_futures::spawn_local(async move {
                let token = match refresh.call0(&JsValue::NULL) {
                    Ok(promise) => {
                        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&promise))
                            .await
                            .ok()
                            .and_then(|token| token.as_string())
                    }
                    Err(_) => None,
                };
                let Some(token) = token.filter(|token| !token.is_empty()) else {
                    web_sys::console::warn_1(
                        &"cursors: no new room token from data-token-url".into(),
                    );
                    return;
                };
                *session.room_token.borrow_mut() = Some(token.clone());
                session.send(&ClientMessage::Refresh { token });
            });
        });
    }
    // ANCHOR_END: refresh

    /// What the visitor did with the bar.
    fn control(self: &Rc<Self>, control: Control) {
        match control {
            Control::Toggle => {
                let hidden = !self.hidden.get();
                self.hidden.set(hidden);
                self.overlay.set_hidden(hidden);
                if let Ok(Some(storage)) = self.window.local_storage() {
                    let _ = if hidden {
                        storage.set_item(HIDDEN_KEY, "1")
                    } else {
                        storage.remove_item(HIDDEN_KEY)
                    };
                }
                self.ask_redraw();
            }
            Control::Rename(raw) => {
                let renamed = self.link.borrow_mut().rename(&raw);
                match renamed {
                    Ok((name, commands)) => {
                        self.overlay.set_name(&name, false);
                        for command in commands {
                            self.carry_out(command);
                        }
                    }
                    Err(error) => {
                        web_sys::console::warn_1(&format!("cursors: {error}").into());
                    }
                }
            }
        }
    }

    /// Redraws on the next animation frame, once however many ask.
    fn ask_redraw(self: &Rc<Self>) {
        if self.redraw_asked.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        self.on_next_frame(move |_| {
            if let Some(session) = weak.upgrade() {
                session.redraw_asked.set(false);
                session.redraw();
            }
        });
    }

    /// Draws the bar and every cursor where it belongs in this window now.
    fn redraw(&self) {
        let roster = self.roster.borrow();
        self.overlay.set_count(roster.headcount());
        if let Some(me) = roster.me() {
            self.overlay.set_name(&me.name, me.verified);
        }
        if self.hidden.get() {
            return;
        }
        let drawn: Vec<Drawn<'_>> = roster
            .visible_ids()
            .into_iter()
            .filter_map(|id| roster.peer(&id))
            .map(|peer| Drawn {
                id: &peer.id,
                name: &peer.name,
                color: &peer.color,
                verified: peer.verified,
                spot: peer
                    .position
                    .and_then(|point| spot_of(&self.window, point, peer.anchor.as_ref())),
            })
            .collect();
        self.overlay.draw(&self.document, &drawn);
    }

    fn on_next_frame(&self, then: impl FnOnce(f64) + 'static) {
        let callback = Closure::once_into_js(then);
        let _ = self
            .window
            .request_animation_frame(callback.unchecked_ref());
    }

    fn after(&self, milliseconds: i32, then: impl FnOnce() + 'static) {
        let callback = Closure::once_into_js(then);
        let _ = self
            .window
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.unchecked_ref(),
                milliseconds,
            );
    }

    /// What the backoff needs: whether the browser thinks it is online, and
    /// a uniform draw for the jitter.
    fn network_and_chance(&self) -> (bool, f64) {
        (self.window.navigator().on_line(), js_sys::Math::random())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for (target, kind, closure) in self.listeners.borrow_mut().drain(..) {
            let _ =
                target.remove_event_listener_with_callback(kind, closure.as_ref().unchecked_ref());
        }
        self.overlay.unmount();
    }
}
