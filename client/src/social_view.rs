//! The social layer on the page: the components that draw reactions
//! rising from cursors, "look here" rings, laser trails, the spotlight
//! banner and the one polite live region that tells screen readers what
//! happened, and the controls that send reactions and points.
//!
//! What they draw is kept behind signals by [`Social`], part of the
//! [`Scene`]; these components only read it. The rules (limits, taps,
//! which key reacts) are the plain functions of
//! [`cursors_client_core::social`].
//!
//! [`Scene`]: crate::scene::Scene

use std::cell::Cell;
use std::rc::Rc;

use cursors_client_core::decimal::plain;
use cursors_client_core::social::{SendLimit, is_tap, reaction_for_key};
use cursors_protocol::{Point, REACTIONS};
use leptos::ev;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use web_sys::PointerEvent;

use crate::board::{BoardRect, to_board, to_css_position};
use crate::connection::ConnectionHandle;
use crate::scene::SceneHandle;
use crate::scoped::listen_on_window;
use crate::social_scene::Social;
use crate::typing::typing_in_a_field;

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
    let reactions = social.reactions();
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
    let rings = social.rings();
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
    let trails = social.trails_drawn();
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
                        // `plain` writes what an `f64` attribute would.
                        view! {
                            <line x1=plain(from.x) y1=plain(from.y) x2=plain(to.x) y2=plain(to.y) stroke-opacity=plain(*opacity)
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
    let banner = social.banner();
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
    let announcement = social.announcement();
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
