//! The social layer on the page: reactions rising from cursors, "look here"
//! rings, laser trails, the spotlight banner, the controls that send them,
//! and the one polite live region that tells screen readers what happened.
//!
//! [`Social`] keeps what is drawn behind signals, fed by the [`Scene`] with
//! every server message (before the roster applies it, so a leaving
//! person's name is still known) and by the controls with this person's
//! own reactions and points, which the server does not send back. The rules
//! (limits, taps, fading, whose spotlight, what to announce) are the plain
//! functions of [`crate::social`].
//!
//! Calm by construction: nothing here runs while nothing happens. A
//! reaction or ring is one CSS animation and a timeout that removes it; the
//! animation frame loop runs only while a laser trail is still fading.
//!
//! [`Scene`]: crate::scene::Scene

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use cursors_protocol::{Point, REACTIONS, ServerMessage};
use leptos::ev;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use web_sys::PointerEvent;

use crate::app::typing_in_a_field;
use crate::board::{BoardRect, to_board, to_css_position};
use crate::connection::ConnectionHandle;
use crate::roster::Roster;
use crate::scene::SceneHandle;
use crate::scoped::listen_on_window;
use crate::social::{
    Announce, Announcer, News, PING_MS, REACTION_MS, SendLimit, Spotlights, Trail, is_tap,
    reaction_for_key,
};

/// Where a reaction rises from when its sender's cursor is not on the
/// board (quiet mode, or a touch that lifted): the lower middle, above
/// the controls.
const NO_CURSOR: Point = Point { x: 0.5, y: 0.8 };

/// A reaction on its way up.
#[derive(Debug, Clone, PartialEq)]
pub struct Floating {
    key: u64,
    emoji: String,
    at: Point,
    from: String,
}

/// A "look here" ring.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    key: u64,
    at: Point,
    color: String,
    from: String,
}

/// One laser trail as drawn this frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailView {
    id: String,
    color: String,
    segments: Vec<(Point, Point, f64)>,
}

/// Who the banner names.
#[derive(Debug, Clone, PartialEq)]
pub struct Spotlit {
    pub id: String,
    pub name: String,
}

pub struct Social {
    reactions: RwSignal<Vec<Floating>>,
    rings: RwSignal<Vec<Ring>>,
    trails_drawn: RwSignal<Vec<TrailView>>,
    /// The person whose cursor stands out (the newest spotlight).
    spotlit: RwSignal<Option<String>>,
    banner: RwSignal<Option<Spotlit>>,
    announcement: RwSignal<String>,
    next_key: Cell<u64>,
    lasers_on: RefCell<HashSet<String>>,
    /// Trails by id, with the colour to draw them in.
    trails: RefCell<BTreeMap<String, (String, Trail)>>,
    frame_requested: Cell<bool>,
    spotlights: RefCell<Spotlights>,
    /// Names of the people with a spotlight, for the banner.
    spotlight_names: RefCell<BTreeMap<String, String>>,
    announcer: RefCell<Announcer>,
    announce_planned: Cell<bool>,
}

impl Social {
    pub fn new() -> Rc<Self> {
        Rc::new(Self {
            reactions: RwSignal::new(Vec::new()),
            rings: RwSignal::new(Vec::new()),
            trails_drawn: RwSignal::new(Vec::new()),
            spotlit: RwSignal::new(None),
            banner: RwSignal::new(None),
            announcement: RwSignal::new(String::new()),
            next_key: Cell::new(0),
            lasers_on: RefCell::default(),
            trails: RefCell::default(),
            frame_requested: Cell::new(false),
            spotlights: RefCell::default(),
            spotlight_names: RefCell::default(),
            announcer: RefCell::default(),
            announce_planned: Cell::new(false),
        })
    }

    pub fn spotlit(&self) -> RwSignal<Option<String>> {
        self.spotlit
    }

    // ANCHOR: observe
    /// Sees a server message before the roster applies it.
    pub fn observe(self: &Rc<Self>, message: &ServerMessage, roster: &Roster, now: f64) {
        let name_of = |id: &str| roster.peer(id).map(|peer| peer.name.clone());
        match message {
            // The busiest message: nothing to do unless a laser is on.
            ServerMessage::Cursors { moves } => {
                if self.lasers_on.borrow().is_empty() {
                    return;
                }
                self.extend_trails(
                    moves
                        .iter()
                        .map(|position| (position.id.as_str(), position.point())),
                    roster,
                    now,
                );
            }
            ServerMessage::Reacted { id, emoji } => {
                let Some(peer) = roster.peer(id) else { return };
                self.float(id, emoji, peer.position.unwrap_or(NO_CURSOR));
                self.announce(
                    News::Reacted {
                        name: peer.name.clone(),
                        emoji: emoji.clone(),
                    },
                    now,
                );
            }
            ServerMessage::Pointed { id, x, y } => {
                let Some(peer) = roster.peer(id) else { return };
                self.ring(id, Point { x: *x, y: *y }, &peer.color);
            }
            ServerMessage::Laser { id, on } => {
                if *on {
                    self.lasers_on.borrow_mut().insert(id.clone());
                } else {
                    self.lasers_on.borrow_mut().remove(id);
                }
            }
            ServerMessage::Spotlight { id, on } => {
                let Some(name) = name_of(id) else { return };
                self.set_spotlight(id, &name, *on);
                self.announce(News::Spotlight { name, on: *on }, now);
            }
            ServerMessage::Joined { peer } => {
                self.announce(News::Joined(peer.name.clone()), now);
            }
            ServerMessage::Left { id } => {
                self.lasers_on.borrow_mut().remove(id);
                if self.spotlight_names.borrow().contains_key(id) {
                    self.set_spotlight(id, "", false);
                }
                if let Some(name) = name_of(id) {
                    self.announce(News::Left(name), now);
                }
            }
            // A `hidden` needs nothing: the trail simply gets no more
            // points, and the laser stays on for when the cursor is back.
            ServerMessage::Welcome { .. } => self.clear(),
            _ => {}
        }
    }
    // ANCHOR_END: observe

    /// Forgets everything (the connection dropped, or a new welcome).
    pub fn clear(&self) {
        self.lasers_on.borrow_mut().clear();
        self.trails.borrow_mut().clear();
        self.spotlights.borrow_mut().clear();
        self.spotlight_names.borrow_mut().clear();
        self.trails_drawn.set(Vec::new());
        self.refresh_spotlight();
    }

    /// This person's own reaction, shown at once (the server does not send
    /// it back).
    pub fn my_reaction(&self, my_id: &str, emoji: &str, at: Option<Point>) {
        self.float(my_id, emoji, at.unwrap_or(NO_CURSOR));
    }

    /// This person's own ring.
    pub fn my_point(&self, my_id: &str, at: Point, color: &str) {
        self.ring(my_id, at, color);
    }

    fn key(&self) -> u64 {
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        key
    }

    fn float(&self, from: &str, emoji: &str, at: Point) {
        let key = self.key();
        self.reactions.update(|reactions| {
            reactions.push(Floating {
                key,
                emoji: emoji.to_owned(),
                at,
                from: from.to_owned(),
            })
        });
        let reactions = self.reactions;
        set_timeout(
            move || {
                let _ = reactions
                    .try_update(|reactions| reactions.retain(|floating| floating.key != key));
            },
            Duration::from_millis(REACTION_MS as u64),
        );
    }

    fn ring(&self, from: &str, at: Point, color: &str) {
        let key = self.key();
        self.rings.update(|rings| {
            rings.push(Ring {
                key,
                at,
                color: color.to_owned(),
                from: from.to_owned(),
            })
        });
        let rings = self.rings;
        set_timeout(
            move || {
                let _ = rings.try_update(|rings| rings.retain(|ring| ring.key != key));
            },
            Duration::from_millis(PING_MS as u64),
        );
    }

    // ANCHOR: extend-trails
    /// Adds the positions of people whose laser is on to their trails, and
    /// starts the fading loop.
    fn extend_trails<'a>(
        self: &Rc<Self>,
        positions: impl Iterator<Item = (&'a str, Point)>,
        roster: &Roster,
        now: f64,
    ) {
        let lasers_on = self.lasers_on.borrow();
        let mut trails = self.trails.borrow_mut();
        let mut added = false;
        for (id, point) in positions {
            if !lasers_on.contains(id) {
                continue;
            }
            let Some(peer) = roster.peer(id) else {
                continue;
            };
            trails
                .entry(id.to_owned())
                .or_insert_with(|| (peer.color.clone(), Trail::default()))
                .1
                .push(point, now);
            added = true;
        }
        drop((lasers_on, trails));
        if added && !self.frame_requested.get() {
            self.request_frame();
        }
    }
    // ANCHOR_END: extend-trails

    /// A point of this person's own trail (their pointer, while their
    /// laser is on): they see the trail the others see.
    pub fn my_trail_point(self: &Rc<Self>, my_id: &str, color: &str, at: Point, now: f64) {
        self.trails
            .borrow_mut()
            .entry(my_id.to_owned())
            .or_insert_with(|| (color.to_owned(), Trail::default()))
            .1
            .push(at, now);
        if !self.frame_requested.get() {
            self.request_frame();
        }
    }

    fn request_frame(self: &Rc<Self>) {
        self.frame_requested.set(true);
        let social = self.clone();
        request_animation_frame(move || social.fade_frame());
    }

    /// One frame of fading trails; asks for another while any is left.
    fn fade_frame(self: &Rc<Self>) {
        self.frame_requested.set(false);
        let now = js_sys::Date::now();
        let mut trails = self.trails.borrow_mut();
        trails.retain(|_, (_, trail)| trail.prune(now));
        let drawn: Vec<TrailView> = trails
            .iter()
            .map(|(id, (color, trail))| TrailView {
                id: id.clone(),
                color: color.clone(),
                segments: trail.segments(now),
            })
            .collect();
        let alive = !trails.is_empty();
        drop(trails);
        self.trails_drawn.set(drawn);
        if alive {
            self.request_frame();
        }
    }

    fn set_spotlight(&self, id: &str, name: &str, on: bool) {
        self.spotlights.borrow_mut().set(id, on);
        if on {
            self.spotlight_names
                .borrow_mut()
                .insert(id.to_owned(), name.to_owned());
        } else {
            self.spotlight_names.borrow_mut().remove(id);
        }
        self.refresh_spotlight();
    }

    pub fn dismiss_banner(&self) {
        self.spotlights.borrow_mut().dismiss();
        self.refresh_spotlight();
    }

    fn refresh_spotlight(&self) {
        let spotlights = self.spotlights.borrow();
        let current = spotlights.current().map(str::to_owned);
        let banner = spotlights.banner().and_then(|id| {
            Some(Spotlit {
                id: id.to_owned(),
                name: self.spotlight_names.borrow().get(id)?.clone(),
            })
        });
        drop(spotlights);
        if self.spotlit.with_untracked(|old| *old != current) {
            self.spotlit.set(current);
        }
        if self.banner.with_untracked(|old| *old != banner) {
            self.banner.set(banner);
        }
    }

    /// Says `sentence` through the page's one live region, within its rate.
    pub fn announce_sentence(self: &Rc<Self>, sentence: String, now: f64) {
        self.announce(News::Sentence(sentence), now);
    }

    // ANCHOR: announce
    fn announce(self: &Rc<Self>, news: News, now: f64) {
        let decision = self.announcer.borrow_mut().hear(news, now);
        self.carry_out(decision);
    }

    fn carry_out(self: &Rc<Self>, decision: Announce) {
        match decision {
            Announce::Say(text) => self.announcement.set(text),
            Announce::WakeAt(at) => {
                if self.announce_planned.replace(true) {
                    return;
                }
                let social = Rc::downgrade(self);
                let wait = (at - js_sys::Date::now()).max(0.0);
                set_timeout(
                    move || {
                        let Some(social) = social.upgrade() else {
                            return;
                        };
                        social.announce_planned.set(false);
                        let decision = social.announcer.borrow_mut().due(js_sys::Date::now());
                        social.carry_out(decision);
                    },
                    Duration::from_millis(wait.ceil() as u64),
                );
            }
            Announce::Nothing => {}
        }
    }
    // ANCHOR_END: announce
}

fn use_social() -> Option<Rc<Social>> {
    expect_context::<SceneHandle>().with(|scene| scene.social())
}

// ANCHOR: reactions-layer
/// Reactions rising from their senders' cursors: one element each, its
/// animation in CSS (rising, or only fading under reduced motion).
#[component]
pub fn ReactionsLayer() -> impl IntoView {
    let Some(social) = use_social() else {
        return ().into_any();
    };
    let reactions = social.reactions;
    view! {
        <div class="reactions-layer" aria-hidden="true">
            <For each=move || reactions.get() key=|floating| floating.key
                children=|floating| view! {
                    <span class="reaction" data-testid="reaction" data-peer=floating.from
                        style=to_css_position(floating.at)>{floating.emoji}</span>
                }
            />
        </div>
    }
    .into_any()
}
// ANCHOR_END: reactions-layer

/// "Look here" rings, in their sender's colour.
#[component]
pub fn PingsLayer() -> impl IntoView {
    let Some(social) = use_social() else {
        return ().into_any();
    };
    let rings = social.rings;
    view! {
        <div class="pings-layer" aria-hidden="true">
            <For each=move || rings.get() key=|ring| ring.key
                children=|ring| view! {
                    <span class="ping" data-testid="ping" data-peer=ring.from
                        style=format!("{} border-color: {};", to_css_position(ring.at), ring.color)></span>
                }
            />
        </div>
    }
    .into_any()
}

/// Laser trails: one group of fading segments per person, drawn in a
/// board-sized SVG whose units are board coordinates.
#[component]
pub fn LaserLayer() -> impl IntoView {
    let Some(social) = use_social() else {
        return ().into_any();
    };
    let trails = social.trails_drawn;
    // Redrawn whole on each frame while a trail fades (a few dozen lines);
    // nothing at all otherwise.
    let drawn = move || {
        trails
            .get()
            .into_iter()
            .map(|trail| {
                let lines = trail
                    .segments
                    .iter()
                    .map(|(from, to, opacity)| {
                        view! {
                            <line x1=from.x y1=from.y x2=to.x y2=to.y stroke-opacity=*opacity
                                vector-effect="non-scaling-stroke"/>
                        }
                    })
                    .collect_view();
                view! {
                    <g data-testid="trail" data-peer=trail.id stroke=trail.color>{lines}</g>
                }
            })
            .collect_view()
    };
    view! {
        <svg class="laser-layer" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
            {drawn}
        </svg>
    }
    .into_any()
}

/// The banner naming whoever asks for everyone's attention, with a button
/// that hides it (their cursor keeps standing out).
#[component]
pub fn SpotlightBanner() -> impl IntoView {
    let Some(social) = use_social() else {
        return ().into_any();
    };
    let banner = social.banner;
    let dismiss = move |_| {
        if let Some(social) = use_social() {
            social.dismiss_banner();
        }
    };
    view! {
        <Show when=move || banner.with(Option::is_some)>
            <div class="spotlight-banner" data-testid="spotlight"
                data-peer=move || banner.with(|banner| banner.as_ref().map(|spotlit| spotlit.id.clone()))>
                <span>{move || banner.with(|banner| banner.as_ref().map(|spotlit| format!("{} asks for everyone's attention", spotlit.name)))}</span>
                <button class="action" data-testid="spotlight-dismiss" on:click=dismiss>"Dismiss"</button>
            </div>
        </Show>
    }
    .into_any()
}

/// The one polite live region: joins, leaves, reactions and spotlight, at
/// most once a second, summarised.
#[component]
pub fn Announcements() -> impl IntoView {
    let Some(social) = use_social() else {
        return ().into_any();
    };
    let announcement = social.announcement;
    view! {
        <div class="visually-hidden" role="status" aria-live="polite" data-testid="announcer">
            {move || announcement.get()}
        </div>
    }
    .into_any()
}

/// What the controls do: send through the connection, within the page's
/// own limits, and show this person's own reactions and rings (the server
/// does not send them back). A `Copy` bundle of handles, so every key and
/// button handler can hold one.
#[derive(Clone, Copy)]
pub struct SocialActions {
    connection: ConnectionHandle,
    scene: SceneHandle,
    limits: StoredValue<OwnLimits>,
    /// This person's spotlight is on.
    pub spotlit: RwSignal<bool>,
    /// Quiet mode is on.
    pub quieted: RwSignal<bool>,
}

impl SocialActions {
    pub fn new(connection: ConnectionHandle, scene: SceneHandle) -> Self {
        let quiet = connection
            .with(|connection| connection.is_quiet())
            .unwrap_or(false);
        Self {
            connection,
            scene,
            limits: StoredValue::new(OwnLimits::default()),
            spotlit: RwSignal::new(false),
            quieted: RwSignal::new(quiet),
        }
    }

    // ANCHOR: my-reaction
    /// Sends a reaction and shows it here, if the limit allows.
    pub fn react(&self, emoji: &'static str) {
        let now = js_sys::Date::now();
        let allowed = self
            .limits
            .try_update_value(|limits| limits.reactions.try_take(now))
            .unwrap_or(false);
        if !allowed {
            return;
        }
        let sent = self.connection.with(|connection| connection.react(emoji));
        if sent != Some(true) {
            return;
        }
        // A quiet cursor is nowhere on the others' boards: rise from the
        // same place they show it.
        let at = self
            .connection
            .with(|connection| connection.pointer().filter(|_| !connection.is_quiet()))
            .flatten();
        self.scene.with(|scene| {
            if let Some(me) = scene.me() {
                let social = scene.social();
                social.my_reaction(&me.id, emoji, at);
            }
        });
    }
    // ANCHOR_END: my-reaction

    /// "Look here" at `at`, if the limit allows.
    pub fn point(&self, at: Point) {
        let now = js_sys::Date::now();
        let allowed = self
            .limits
            .try_update_value(|limits| limits.points.try_take(now))
            .unwrap_or(false);
        if !allowed || self.connection.with(|connection| connection.point(at)) != Some(true) {
            return;
        }
        self.scene.with(|scene| {
            if let Some(me) = scene.me() {
                let social = scene.social();
                social.my_point(&me.id, at, &me.color);
            }
        });
    }

    /// The laser on or off; never while quiet (there is no cursor to
    /// trail).
    pub fn laser(&self, on: bool) {
        if on && self.quieted.get_untracked() {
            return;
        }
        self.connection.with(|connection| connection.laser(on));
    }

    pub fn spotlight(&self, on: bool) {
        self.connection
            .with(|connection| connection.set_spotlight(on));
        self.spotlit.set(on);
    }

    pub fn quiet(&self, on: bool) {
        if on {
            self.laser(false);
        }
        self.connection.with(|connection| connection.set_quiet(on));
        self.quieted.set(on);
    }
}

// ANCHOR: social-bar
/// The controls: a reactions bar (also the touch way to react), spotlight
/// and quiet toggles, and their keys: `1`–`6` react, Shift held is the
/// laser, `s` toggles spotlight, `q` quiet mode (none while typing).
#[component]
pub fn SocialBar(actions: SocialActions) -> impl IntoView {
    let SocialActions {
        spotlit, quieted, ..
    } = actions;
    let laser_held = Rc::new(Cell::new(false));
    let held = laser_held.clone();
    listen_on_window(ev::keydown, move |event| {
        if typing_in_a_field(&event) || event.ctrl_key() || event.meta_key() || event.alt_key() {
            return;
        }
        let key = event.key();
        if key == "Shift" {
            if !event.repeat() && !held.replace(true) && !quieted.get_untracked() {
                actions.laser(true);
            }
            return;
        }
        if let Some(emoji) = reaction_for_key(&key) {
            event.prevent_default();
            actions.react(emoji);
        } else if key == "s" {
            actions.spotlight(!spotlit.get_untracked());
        } else if key == "q" {
            actions.quiet(!quieted.get_untracked());
        }
    });
    let held = laser_held.clone();
    listen_on_window(ev::keyup, move |event| {
        if event.key() == "Shift" && held.replace(false) {
            actions.laser(false);
        }
    });
    let held = laser_held;
    listen_on_window(ev::blur, move |_| {
        if held.replace(false) {
            actions.laser(false);
        }
    });
    view! {
        <div class="social-bar" role="toolbar" aria-label="react and get attention">
            {REACTIONS.iter().enumerate().map(|(index, emoji)| {
                let label = format!("React {emoji} (key {})", index + 1);
                view! {
                    <button class="react-button" data-testid="react-button" aria-label=label.clone()
                        title=label on:click=move |_| actions.react(emoji)>{*emoji}</button>
                }
            }).collect_view()}
            <button class="action" data-testid="spotlight-toggle" aria-pressed=move || spotlit.get().to_string()
                title="Ask for everyone's attention (key s)"
                on:click=move |_| actions.spotlight(!spotlit.get_untracked())>
                {move || if spotlit.get() { "Stop spotlight" } else { "Spotlight me" }}
            </button>
            <button class="action" data-testid="quiet-toggle" aria-pressed=move || quieted.get().to_string()
                title="Hide your cursor from the others; you stay listed (key q)"
                on:click=move |_| actions.quiet(!quieted.get_untracked())>
                {move || if quieted.get() { "Quiet: on" } else { "Quiet" }}
            </button>
        </div>
    }
}
// ANCHOR_END: social-bar

/// Turns presses on the board into points: a press released close to where
/// it started, soon, is a click (or a tap) and says "look here" there; a
/// drag is not. Presses on the board's own controls are not points.
pub fn tap_watch(
    board: NodeRef<leptos::html::Main>,
    actions: SocialActions,
) -> (impl Fn(PointerEvent) + Copy, impl Fn(PointerEvent) + Copy) {
    let pressed = StoredValue::new(None::<(f64, f64, f64)>);
    let on_down = move |event: PointerEvent| {
        let on_control = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| {
                element
                    .closest(
                        "input, button, textarea, a, .diagnostics, .spotlight-banner, .social-bar",
                    )
                    .ok()
                    .flatten()
            })
            .is_some();
        pressed.set_value((event.is_primary() && !on_control).then(|| {
            (
                f64::from(event.client_x()),
                f64::from(event.client_y()),
                js_sys::Date::now(),
            )
        }));
    };
    let on_up = move |event: PointerEvent| {
        let Some(down) = pressed.get_value() else {
            return;
        };
        pressed.set_value(None);
        let (x, y) = (f64::from(event.client_x()), f64::from(event.client_y()));
        if !event.is_primary() || !is_tap(down, (x, y, js_sys::Date::now())) {
            return;
        }
        let Some(element) = board.get_untracked() else {
            return;
        };
        let rect = BoardRect::from(&element.get_bounding_client_rect());
        if let Some(at) = to_board(x, y, rect) {
            actions.point(at);
        }
    };
    (on_down, on_up)
}

/// The page's own limits, so it sends no more than the server relays.
pub struct OwnLimits {
    pub reactions: SendLimit,
    pub points: SendLimit,
}

impl Default for OwnLimits {
    fn default() -> Self {
        Self {
            reactions: SendLimit::reactions(),
            points: SendLimit::points(),
        }
    }
}
