//! The crowd and the follow on the page (issues 18 and 19): the faint heat
//! of the cursors this page is not shown, the follow control of each line
//! of the presence list, and a polite live region that says what changed
//! without flooding a screen reader.
//!
//! The rules are in [`cursors_client_core::crowd`] and
//! [`cursors_client_core::follow`]; these components only read the
//! scene's `crowd` signal and the connection's `following` signal. Neither
//! changes with a `cursors` frame: the heat is redrawn when a `crowd`
//! count changes it (at most once a second), so a crowd costs the page
//! nothing per animation frame.

use cursors_client_core::crowd::{CountSpeaker, HEAT_CELLS, heat_levels};
use cursors_client_core::decimal::fixed;
use cursors_client_core::roster::Person;
use leptos::prelude::*;

use crate::connection::{ConnectionHandle, ConnectionSignals};
use crate::scene::{Scene, SceneHandle};

/// The strongest a heat cell is drawn: a hint under the cursors, never a
/// shape that competes with them.
const HEAT_OPACITY: f64 = 0.45;

/// Where the crowd beyond the shown cursors is: an 8 × 8 layer under
/// them, each cell as strong as its share of the busiest cell. Only while
/// the room is a crowd; decorative, so hidden from assistive technology
/// (the head count says the same in words).
#[component]
pub fn CrowdHeat() -> impl IntoView {
    let crowd = expect_context::<SceneHandle>()
        .with(Scene::crowd)
        .unwrap_or_default();
    let levels = Memo::new(move |_| {
        crowd.with(|crowd| crowd.as_ref().map(|crowd| heat_levels(&crowd.heat)))
    });
    let cells = move || {
        (0..HEAT_CELLS)
            .map(|cell| {
                let opacity = move || {
                    levels.with(|levels| {
                        let level = levels.as_ref().map_or(0.0, |levels| levels[cell]);
                        fixed(level * HEAT_OPACITY, 2)
                    })
                };
                view! { <div class="heat-cell" style:opacity=opacity></div> }
            })
            .collect_view()
    };
    view! {
        <Show when=move || crowd.with(Option::is_some)>
            <div class="crowd-heat" data-testid="crowd-heat" aria-hidden="true">{cells()}</div>
        </Show>
    }
}

/// One other person's line in the presence list, as a toggle: picking it
/// follows them (their cursor highlighted, and kept in view in a crowd),
/// picking it again stops. A native button, so Tab reaches it and Enter or
/// Space presses it; `aria-pressed` says whether they are followed.
#[component]
pub fn FollowButton(person: Person) -> impl IntoView {
    let connection = expect_context::<ConnectionHandle>();
    let ConnectionSignals { following, .. } = expect_context();
    let id = person.id.clone();
    let followed = {
        let id = id.clone();
        move || following.with(|following| following.as_deref() == Some(id.as_str()))
    };
    let title = {
        let followed = followed.clone();
        let name = person.name.clone();
        move || {
            if followed() {
                format!("Stop following {name}")
            } else {
                format!("Follow {name}: keep their cursor in view, highlighted")
            }
        }
    };
    let pick = move |_| {
        connection.with(|connection| connection.follow(&id));
    };
    view! {
        <button type="button" class="follow" data-testid="follow" title=title
            aria-pressed=move || if followed() { "true" } else { "false" } on:click=pick>
            <span class="swatch" style=format!("background: {}", person.color)></span>
            {person.name.clone()}
            {person.away.then_some(" (away)")}
        </button>
    }
}

/// What the crowd has to tell a screen reader: its count when it begins,
/// ends, and now and then in between (see [`CountSpeaker`]), and whom this
/// page starts or stops following. Said through the page's one polite live
/// region (the social layer's `Announcements`); the top bar shows the same.
#[component]
pub fn CrowdAnnouncer() {
    let scene = expect_context::<SceneHandle>();
    let crowd = scene.with(Scene::crowd).unwrap_or_default();
    let people = scene.with(Scene::people).unwrap_or_default();
    let ConnectionSignals { following, .. } = expect_context();
    let said = RwSignal::new(String::new());
    let speaker = StoredValue::new(CountSpeaker::default());
    Effect::new(move |_| {
        let now = js_sys::Date::now();
        let heard = crowd.with(|crowd| {
            speaker
                .try_update_value(|speaker| speaker.heard(crowd.as_ref(), now))
                .flatten()
        });
        if let Some(words) = heard {
            said.set(words);
        }
    });
    // The previous follow, to name whom the page stopped following.
    let previous = StoredValue::new(None::<String>);
    Effect::new(move |_| {
        let now_following = following.get();
        let name_of = |id: &str| {
            people.with_untracked(|people| {
                people
                    .iter()
                    .find(|person| person.id == id)
                    .map_or_else(|| "someone".to_owned(), |person| person.name.clone())
            })
        };
        let before = previous.get_value();
        let words = match (&before, &now_following) {
            (_, Some(id)) => Some(format!("Following {}.", name_of(id))),
            (Some(id), None) => Some(format!("Stopped following {}.", name_of(id))),
            (None, None) => None,
        };
        previous.set_value(now_following);
        if let Some(words) = words {
            said.set(words);
        }
    });
    // The page has one polite live region, the social layer's: what is
    // said here goes through it, within its one-a-second rate.
    Effect::new(move |_| {
        let words = said.get();
        if !words.is_empty() {
            scene.with(|scene| scene.social().announce_sentence(words, js_sys::Date::now()));
        }
    });
}
