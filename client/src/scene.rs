//! The room behind fine-grained signals: what the page draws, touched only
//! where a message changed something.
//!
//! [`Roster`] is the plain model of the room (a rule of the core); the
//! [`Scene`] keeps it and, after each message, writes only the signals its
//! [`Changes`](cursors_client_core::roster::Changes) name:
//!
//! - `people` (the presence list and head count) on joins, leaves, renames
//!   and away;
//! - `shown` (which cursors are drawn) when a cursor comes onto the board or
//!   leaves it;
//! - one [`CursorSignals`] per cursor on the board: where it is drawn, its
//!   name, its chat bubble, whether it is idle;
//! - `crowd` (the crowd's count and heat) when a `crowd` message changes
//!   them, at most once a second.
//!
//! A `cursors` frame writes no signal at all. It aims the [`Glides`] of the
//! cursors it mentions, and the animation frame that follows writes the
//! position of just the cursors still moving, once per frame however many
//! positions arrived. The loop asks for another frame only while some
//! cursor is gliding, and the timer that dims idle cursors runs only while
//! some are awake: in a still room the page does no work at all.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use cursors_client_core::crowd::CrowdCount;
use cursors_client_core::diagnostics::Counters;
use cursors_client_core::motion::{Glides, TIME_CONSTANT_MS};
use cursors_client_core::roster::{Chat, Me, Peer, Person, Roster, is_idle};
use cursors_protocol::{Point, ServerMessage};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::MediaQueryList;

use crate::social_scene::Social;
use crate::timing::{after_rendering, now_ms};

/// How often idle cursors are looked for, while any cursor is awake.
const IDLE_SWEEP: Duration = Duration::from_millis(500);

/// The signals one remote cursor is drawn from. Created when the cursor
/// comes onto the board and dropped when it leaves.
#[derive(Clone)]
pub struct CursorSignals {
    pub color: String,
    pub name: ArcRwSignal<String>,
    /// Where the tip is drawn, on the board (written by the animation).
    pub at: ArcRwSignal<Point>,
    pub chat: ArcRwSignal<Option<Chat>>,
    /// Not moved for a while: drawn dimmed.
    pub idle: ArcRwSignal<bool>,
}

impl CursorSignals {
    fn new(peer: &Peer, at: Point, now: f64) -> Self {
        Self {
            color: peer.color.clone(),
            name: ArcRwSignal::new(peer.name.clone()),
            at: ArcRwSignal::new(at),
            chat: ArcRwSignal::new(peer.chat.clone()),
            idle: ArcRwSignal::new(is_idle(peer.last_moved, now)),
        }
    }
}

pub struct Scene {
    roster: RefCell<Roster>,
    /// Everyone in the room, me first (see [`Roster::people`]).
    people: RwSignal<Vec<Person>>,
    /// Ids of the cursors on the board, in a stable order.
    shown: RwSignal<Vec<String>>,
    cursors: RefCell<HashMap<String, CursorSignals>>,
    /// The crowd's last count, while the room is a crowd.
    crowd: RwSignal<Option<CrowdCount>>,
    glides: RefCell<Glides>,
    /// An animation frame is requested and has not run yet.
    frame_requested: Cell<bool>,
    /// When the previous animation frame ran (or the loop was started).
    last_frame: Cell<f64>,
    /// A timeout to dim idle cursors is pending.
    sweep_scheduled: Cell<bool>,
    /// `prefers-reduced-motion`, read once and kept up to date by its
    /// `change` event rather than asked every frame.
    reduced_motion: Rc<Cell<bool>>,
    reduced_motion_query: Option<(MediaQueryList, Closure<dyn FnMut()>)>,
    counters: StoredValue<Counters>,
    /// Reactions, rings, trails, spotlight and announcements.
    social: Rc<Social>,
}

impl Scene {
    pub fn new(counters: StoredValue<Counters>) -> Rc<Self> {
        let reduced_motion = Rc::new(Cell::new(false));
        let query = window()
            .match_media("(prefers-reduced-motion: reduce)")
            .ok()
            .flatten()
            .map(|query| {
                reduced_motion.set(query.matches());
                let (flag, list) = (reduced_motion.clone(), query.clone());
                let on_change = Closure::<dyn FnMut()>::new(move || flag.set(list.matches()));
                let _ = query
                    .add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
                (query, on_change)
            });
        Rc::new(Self {
            roster: RefCell::default(),
            people: RwSignal::new(Vec::new()),
            shown: RwSignal::new(Vec::new()),
            cursors: RefCell::default(),
            crowd: RwSignal::new(None),
            glides: RefCell::default(),
            frame_requested: Cell::new(false),
            last_frame: Cell::new(0.0),
            sweep_scheduled: Cell::new(false),
            reduced_motion,
            reduced_motion_query: query,
            counters,
            social: Social::new(),
        })
    }

    pub fn people(&self) -> RwSignal<Vec<Person>> {
        self.people
    }

    pub fn shown(&self) -> RwSignal<Vec<String>> {
        self.shown
    }

    /// The social layer's signals and rules.
    pub fn social(&self) -> Rc<Social> {
        self.social.clone()
    }

    /// This page's own identity, once welcomed.
    pub fn me(&self) -> Option<Me> {
        self.roster.borrow().me().cloned()
    }

    pub fn crowd(&self) -> RwSignal<Option<CrowdCount>> {
        self.crowd
    }

    /// The signals of a cursor on the board.
    pub fn cursor(&self, id: &str) -> Option<CursorSignals> {
        self.cursors.borrow().get(id).cloned()
    }

    /// Applies one server message received at `now` (`Date.now()` ms).
    pub fn apply(self: &Rc<Self>, message: ServerMessage, now: f64) {
        // Before the roster: a `left` still finds the leaver's name.
        self.social.observe(&message, &self.roster.borrow(), now);
        let changes = self.roster.borrow_mut().apply_at(message, now);
        if changes.people {
            self.refresh_people();
        }
        if changes.board {
            self.refresh_board(now);
        }
        if let Some(id) = &changes.chat {
            self.refresh_chat(id);
        }
        if !changes.moved.is_empty() {
            self.aim(&changes.moved);
        }
        if changes.crowd {
            self.crowd.set(self.roster.borrow().crowd().cloned());
        }
    }

    /// Forgets the whole room (the connection dropped: what we knew is
    /// stale, and no ghost cursor may linger).
    pub fn clear(&self) {
        self.social.clear();
        *self.roster.borrow_mut() = Roster::default();
        self.cursors.borrow_mut().clear();
        *self.glides.borrow_mut() = Glides::default();
        self.people.set(Vec::new());
        self.shown.set(Vec::new());
        self.crowd.set(None);
    }

    /// Drops a chat bubble that has finished fading.
    pub fn forget_faded_chat(&self, id: &str) {
        if self.roster.borrow_mut().forget_faded_chat(id) {
            self.refresh_chat(id);
        }
    }

    fn refresh_people(&self) {
        let roster = self.roster.borrow();
        let people = roster.people_by(|name| js_sys::JsString::from(name).to_lower_case().into());
        if self.people.with_untracked(|old| *old != people) {
            self.people.set(people);
        }
        // A rename shows on the cursor too.
        for (id, cursor) in self.cursors.borrow().iter() {
            if let Some(peer) = roster.peer(id)
                && cursor.name.with_untracked(|name| *name != peer.name)
            {
                cursor.name.set(peer.name.clone());
            }
        }
    }

    /// Brings the drawn cursors in line with the roster: new ones are drawn
    /// where they are at once, gone ones are dropped.
    fn refresh_board(self: &Rc<Self>, now: f64) {
        let roster = self.roster.borrow();
        let on_board = |id: &str| roster.peer(id).and_then(|peer| peer.position);
        let visible = roster.visible_ids();
        let mut cursors = self.cursors.borrow_mut();
        let mut glides = self.glides.borrow_mut();
        cursors.retain(|id, _| on_board(id).is_some());
        glides.retain(|id| cursors.contains_key(id));
        for id in &visible {
            let (Some(peer), Some(at)) = (roster.peer(id), on_board(id)) else {
                continue;
            };
            if cursors.contains_key(id) {
                // Still here, perhaps somewhere else (a fresh welcome).
                glides.aim(id, at);
            } else {
                glides.place(id, at);
                cursors.insert(id.clone(), CursorSignals::new(peer, at, now));
            }
        }
        let moving = glides.is_moving();
        drop((cursors, glides, roster));
        if self.shown.with_untracked(|old| *old != visible) {
            self.shown.set(visible);
        }
        if moving {
            self.start_gliding();
        }
        self.schedule_idle_sweep();
    }

    fn refresh_chat(&self, id: &str) {
        if let Some(cursor) = self.cursors.borrow().get(id) {
            let chat = self
                .roster
                .borrow()
                .peer(id)
                .and_then(|peer| peer.chat.clone());
            cursor.chat.set(chat);
        }
    }

    // ANCHOR: aim
    /// New positions for cursors on the board: they glide there, and wake
    /// if they were idle.
    fn aim(self: &Rc<Self>, moved: &[(String, Point)]) {
        let cursors = self.cursors.borrow();
        let mut glides = self.glides.borrow_mut();
        let mut woke = false;
        for (id, target) in moved {
            glides.aim(id, *target);
            if let Some(cursor) = cursors.get(id)
                && cursor.idle.get_untracked()
            {
                cursor.idle.set(false);
                woke = true;
            }
        }
        let moving = glides.is_moving();
        drop((cursors, glides));
        if moving {
            self.start_gliding();
        }
        if woke {
            self.schedule_idle_sweep();
        }
    }
    // ANCHOR_END: aim

    // ANCHOR: frame
    /// Starts the animation loop, unless it is running.
    fn start_gliding(self: &Rc<Self>) {
        if !self.frame_requested.get() {
            self.last_frame.set(now_ms());
            self.request_frame();
        }
    }

    fn request_frame(self: &Rc<Self>) {
        self.frame_requested.set(true);
        let scene = self.clone();
        request_animation_frame(move || scene.frame());
    }

    /// One animation frame: steps the gliding cursors and writes their
    /// positions, then asks for another frame only if some still glide.
    fn frame(self: &Rc<Self>) {
        self.frame_requested.set(false);
        let started = now_ms();
        let elapsed = started - self.last_frame.replace(started);
        let time_constant = if self.reduced_motion.get() {
            0.0
        } else {
            TIME_CONSTANT_MS
        };
        let cursors = self.cursors.borrow();
        let mut glides = self.glides.borrow_mut();
        glides.step(elapsed, time_constant, |id, at| {
            if let Some(cursor) = cursors.get(id) {
                cursor.at.set(at);
            }
        });
        let moving = glides.is_moving();
        drop((cursors, glides));
        if moving {
            self.request_frame();
        }
        let counters = self.counters;
        after_rendering(move || {
            let took = now_ms() - started;
            counters.update_value(|counters| {
                counters.frames_drawn += 1;
                counters.drawing_ms += took;
            });
        });
    }
    // ANCHOR_END: frame

    /// Dims the cursors that stopped moving, checking again later while any
    /// cursor is still awake.
    fn schedule_idle_sweep(self: &Rc<Self>) {
        if self.sweep_scheduled.replace(true) {
            return;
        }
        let scene = Rc::downgrade(self);
        set_timeout(
            move || {
                let Some(scene) = scene.upgrade() else { return };
                scene.sweep_scheduled.set(false);
                let now = js_sys::Date::now();
                let roster = scene.roster.borrow();
                let mut awake = false;
                for (id, cursor) in scene.cursors.borrow().iter() {
                    if cursor.idle.get_untracked() {
                        continue;
                    }
                    match roster.peer(id) {
                        Some(peer) if is_idle(peer.last_moved, now) => cursor.idle.set(true),
                        _ => awake = true,
                    }
                }
                drop(roster);
                if awake {
                    scene.schedule_idle_sweep();
                }
            },
            IDLE_SWEEP,
        );
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if let Some((query, on_change)) = &self.reduced_motion_query {
            let _ = query
                .remove_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
        }
    }
}

/// The page's scene, handed to components by context: a `Copy` key to it
/// in a local [`StoredValue`] (it holds browser objects, which are not
/// `Send`).
#[derive(Clone, Copy)]
pub struct SceneHandle(StoredValue<Rc<Scene>, LocalStorage>);

impl SceneHandle {
    pub fn new(scene: Rc<Scene>) -> Self {
        Self(StoredValue::new_local(scene))
    }

    /// Runs `read` with the scene (nothing once the page is gone).
    pub fn with<R>(&self, read: impl FnOnce(&Scene) -> R) -> Option<R> {
        self.0.try_with_value(|scene| read(scene))
    }
}
