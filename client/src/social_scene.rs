//! The social layer behind signals: the reactions rising, the "look here"
//! rings, the laser trails and the spotlight banner as the page draws them,
//! and the sentence the live region says.
//!
//! [`Social`] is part of the `Scene` (which imports this module), which
//! feeds it every server message (before the roster applies it, so a
//! leaving person's name is still known); the controls add this person's
//! own reactions and points, which the server does not send back. The
//! rules (fading, whose spotlight, what to announce) are the plain
//! functions of [`cursors_client_core::social`]; the components of
//! `social_view` only read these signals. It lives apart from them so that
//! the scene, below the views, can own it.
//!
//! Calm by construction: nothing here runs while nothing happens. A
//! reaction or ring is one CSS animation and a timeout that removes it; the
//! animation frame loop runs only while a laser trail is still fading.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use cursors_client_core::roster::Roster;
use cursors_client_core::social::{
    Announce, Announcer, News, PING_MS, REACTION_MS, Spotlights, Trail,
};
use cursors_protocol::{Point, ServerMessage};
use leptos::prelude::*;

/// Where a reaction rises from when its sender's cursor is not on the
/// board (quiet mode, or a touch that lifted): the lower middle, above
/// the controls.
const NO_CURSOR: Point = Point { x: 0.5, y: 0.8 };

/// A reaction on its way up.
#[derive(Debug, Clone, PartialEq)]
pub struct Floating {
    pub key: u64,
    pub emoji: String,
    pub at: Point,
    pub from: String,
}

/// A "look here" ring.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    pub key: u64,
    pub at: Point,
    pub color: String,
    pub from: String,
}

/// One laser trail as drawn this frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailView {
    pub id: String,
    pub color: String,
    pub segments: Vec<(Point, Point, f64)>,
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

    /// The reactions on their way up.
    pub fn reactions(&self) -> RwSignal<Vec<Floating>> {
        self.reactions
    }

    /// The "look here" rings showing.
    pub fn rings(&self) -> RwSignal<Vec<Ring>> {
        self.rings
    }

    /// The laser trails as drawn this frame.
    pub fn trails_drawn(&self) -> RwSignal<Vec<TrailView>> {
        self.trails_drawn
    }

    /// Whom the spotlight banner names, if it shows.
    pub fn banner(&self) -> RwSignal<Option<Spotlit>> {
        self.banner
    }

    /// What the live region says.
    pub fn announcement(&self) -> RwSignal<String> {
        self.announcement
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
