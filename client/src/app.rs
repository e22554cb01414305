//! The page: a top bar (room, people, you, connection state) over the
//! board, on which every other user's cursor is drawn, and a diagnostics
//! overlay (`d`, or `?debug` in the address).
//!
//! State lives in signals: the [`Scene`] keeps the room behind one signal
//! per thing drawn (the people, which cursors are on the board, and each
//! cursor's own position, name, chat and idleness); [`ConnectionSignals`]
//! holds the connection state and round trip. The [`Connection`] owns the
//! socket and keeps it alive. Components get both by context, read signals
//! and call the connection, nothing else.

use std::time::Duration;

use cursors_client_core::address::{random_room_name, room_link};
use cursors_client_core::contrast::label_colors;
use cursors_client_core::crowd::{headcount_label, unlisted};
use cursors_client_core::decimal::fixed;
use cursors_client_core::diagnostics::{Counters, Rates, debug_requested};
use cursors_client_core::roster::Person;
use cursors_client_core::status::Status;
use cursors_protocol::RoomName;
use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use web_sys::{KeyboardEvent, PointerEvent};

use crate::board::{BoardRect, to_board, to_css_position, to_css_transform};
use crate::connection::{Connection, ConnectionHandle, ConnectionSignals};
use crate::crowd_view::{CrowdAnnouncer, CrowdHeat, FollowButton};
use crate::scene::{CursorSignals, Scene, SceneHandle};
use crate::scoped::{SizeWatch, TimerSlot, every, listen_on_window};
use crate::social_view::{
    Announcements, LaserLayer, PingsLayer, ReactionsLayer, SocialActions, SocialBar,
    SpotlightBanner, tap_watch,
};
use crate::timing::now_ms;
use crate::typing::typing_in_a_field;
use cursors_protocol::{MAX_SAY_CHARS, Point};

/// The page's root: joins the room named by `?room=` (default `lobby`).
#[component]
pub fn App() -> impl IntoView {
    let query = window().location().search().unwrap_or_default();
    let requested = web_sys::UrlSearchParams::new_with_str(&query)
        .ok()
        .and_then(|params| params.get("room"));
    match RoomName::parse(requested.as_deref()) {
        Ok(room) => view! { <RoomPage room/> }.into_any(),
        Err(error) => view! {
            <main class="notice">
                <h1>"That room name does not work"</h1>
                <p>{error.to_string()}</p>
                <p><a href="/">"Go to the lobby"</a></p>
            </main>
        }
        .into_any(),
    }
}

/// The name under which the page's counters can be read from outside
/// (`window.cursorsDiagnostics()` returns them as JSON): the frame benchmark
/// samples them.
const DIAGNOSTICS_HOOK: &str = "cursorsDiagnostics";

fn use_connection() -> ConnectionHandle {
    expect_context()
}

fn use_scene() -> SceneHandle {
    expect_context()
}

#[component]
fn RoomPage(room: RoomName) -> impl IntoView {
    let counters = StoredValue::new(Counters::default());
    let signals = ConnectionSignals {
        status: RwSignal::new(Status::Connecting),
        round_trip_ms: RwSignal::new(None),
        following: RwSignal::new(None),
    };
    let scene = Scene::new(counters);
    let connection = ConnectionHandle::new(Connection::start(
        room.clone(),
        signals,
        scene.clone(),
        counters,
    ));
    provide_context(connection);
    provide_context(signals);
    let scene = SceneHandle::new(scene);
    provide_context(scene);
    provide_context(counters);
    provide_context(SocialActions::new(connection, scene));

    // Leaving or reloading the page closes the socket cleanly, so the others
    // see the user leave at once (or not at all, if the reload comes back).
    listen_on_window(ev::pagehide, move |_| {
        connection.with(|connection| connection.close());
    });
    listen_on_window(ev::pageshow, move |event| {
        if event.persisted() {
            connection.with(|connection| connection.reopen());
        }
    });
    // A hidden tab or an unfocused window is "away" for the others.
    let set_away = move |away: bool| {
        connection.with(|connection| connection.set_away(away));
    };
    listen_on_window(ev::visibilitychange, move |_| set_away(document().hidden()));
    listen_on_window(ev::blur, move |_| set_away(true));
    listen_on_window(ev::focus, move |_| set_away(document().hidden()));

    let read_counters = Closure::<dyn Fn() -> String>::new(move || counters.get_value().to_json());
    let _ = js_sys::Reflect::set(
        &window(),
        &JsValue::from_str(DIAGNOSTICS_HOOK),
        read_counters.as_ref(),
    );
    // Kept alive as long as the page.
    let read_counters = StoredValue::new_local(read_counters);
    on_cleanup(move || {
        connection.with(|connection| connection.close());
        let _ = js_sys::Reflect::delete_property(&window(), &JsValue::from_str(DIAGNOSTICS_HOOK));
        read_counters.dispose();
    });

    view! {
        <div class="app">
            <TopBar room/>
            <Board/>
            <Announcements/>
        </div>
    }
}

#[component]
fn TopBar(room: RoomName) -> impl IntoView {
    let ConnectionSignals { round_trip_ms, .. } = expect_context();
    let scene = use_scene();
    let people = scene.with(Scene::people).unwrap_or_default();
    let crowd = scene.with(Scene::crowd).unwrap_or_default();
    let shown = scene.with(Scene::shown).unwrap_or_default();
    // In a crowd, the total and how many of them are drawn.
    let headcount = move || {
        crowd.with(|crowd| {
            headcount_label(people.with(Vec::len), crowd.as_ref(), shown.with(Vec::len))
        })
    };
    view! {
        <header class="topbar">
            <h1 class="brand">"Cursors"</h1>
            <span class="room" title="room">"#"{room.to_string()}</span>
            <span class="headcount" data-testid="count">{headcount}</span>
            <PresenceList people/>
            <CrowdAnnouncer/>
            <RoomActions/>
            <NameField/>
            <span class="spacer"></span>
            <span class="rtt" data-testid="rtt">
                {move || round_trip_ms.get().map(|rtt| format!("{} ms", fixed(rtt, 0)))}
            </span>
            <ConnectionStatus/>
        </header>
    }
}

/// The connection state; while waiting to reconnect, a countdown. The
/// countdown's clock runs only while there is something to count down.
#[component]
fn ConnectionStatus() -> impl IntoView {
    let ConnectionSignals { status, .. } = expect_context();
    let now = RwSignal::new(js_sys::Date::now());
    let clock = TimerSlot::new();
    Effect::new(move |_| {
        let counting_down = status.with(|status| matches!(status, Status::Reconnecting { .. }));
        let running = clock.is_running();
        if counting_down && !running {
            now.set(js_sys::Date::now());
            clock.start_interval(Duration::from_millis(250), move || {
                now.set(js_sys::Date::now())
            });
        } else if !counting_down && running {
            clock.stop();
        }
    });
    view! {
        <span class="status" data-testid="status" data-state=move || status.with(Status::state)>
            {move || status.with(|status| status.label(now.get()))}
        </span>
    }
}

#[component]
fn Board() -> impl IntoView {
    let connection = use_connection();
    let shown = use_scene().with(Scene::shown).unwrap_or_default();
    let board = NodeRef::<leptos::html::Main>::new();
    // Pointer Events cover mouse, pen and touch alike. Only the primary
    // pointer is followed, so a second finger does not make the cursor jump.
    let on_pointer_move = move |event: PointerEvent| {
        if !event.is_primary() {
            return;
        }
        let Some(element) = board.get() else { return };
        let rect = BoardRect::from(&element.get_bounding_client_rect());
        if let Some(point) = to_board(
            f64::from(event.client_x()),
            f64::from(event.client_y()),
            rect,
        ) {
            connection.with(|connection| connection.pointer_moved(point));
        }
    };
    let on_pointer_leave = move |event: PointerEvent| {
        if event.is_primary() {
            connection.with(|connection| connection.pointer_left());
        }
    };
    // A click or tap that is not a drag says "look here".
    let social_actions = expect_context::<SocialActions>();
    let (on_press, on_release) = tap_watch(board, social_actions);
    // A lifted finger has no position: hide the cursor until it touches again.
    let on_pointer_up = move |event: PointerEvent| {
        on_release(event.clone());
        if event.is_primary() && event.pointer_type() == "touch" {
            connection.with(|connection| connection.pointer_left());
        }
    };
    let size = board_size(board);
    view! {
        <main class="board" data-testid="board" node_ref=board
            on:pointermove=on_pointer_move on:pointerleave=on_pointer_leave
            on:pointerdown=on_press on:pointerup=on_pointer_up on:pointercancel=on_pointer_leave>
            <p class="hint">"Move your pointer here. Open this page in another tab to see it there."</p>
            <LaserLayer/>
            <PingsLayer/>
            <ChatInput/>
            <DiagnosticsOverlay/>
            <CrowdHeat/>
            <For
                each=move || shown.get()
                key=|id| id.clone()
                children=move |id| view! { <RemoteCursor id size/> }
            />
            <ReactionsLayer/>
            <SpotlightBanner/>
            <SocialBar actions=social_actions/>
        </main>
    }
}

/// The board's size in pixels, kept up to date by a `ResizeObserver` (the
/// window, or the top bar wrapping onto another line, can change it).
/// Cursors are placed in pixels, so they follow when it changes.
fn board_size(board: NodeRef<leptos::html::Main>) -> RwSignal<(f64, f64)> {
    let size = RwSignal::new((0.0, 0.0));
    let measure = move || {
        if let Some(element) = board.get_untracked() {
            let rect = element.get_bounding_client_rect();
            size.set((rect.width(), rect.height()));
        }
    };
    let watch = SizeWatch::new(measure);
    board.on_load(move |element| {
        measure();
        watch.observe(&element);
    });
    size
}

/// Another user's cursor: an arrow whose tip is the element's top-left
/// corner (so its `transform` places the tip exactly), with their name
/// beside it. Each part reads only its own signal: a move rewrites the
/// transform and nothing else.
#[component]
fn RemoteCursor(id: String, size: RwSignal<(f64, f64)>) -> impl IntoView {
    let Some(cursor) = use_scene().with(|scene| scene.cursor(&id)).flatten() else {
        return ().into_any();
    };
    let CursorSignals {
        color,
        name,
        at,
        chat,
        idle,
    } = cursor;
    // Followed: ringed and drawn above the others (not by colour alone).
    let ConnectionSignals { following, .. } = expect_context();
    let followed = {
        let id = id.clone();
        move || following.with(|following| following.as_deref() == Some(id.as_str()))
    };
    let transform = move || {
        let (width, height) = size.get();
        at.with(|at| to_css_transform(*at, width, height))
    };
    let spotlit = use_scene().with(|scene| scene.social().spotlit());
    let cursor_id = id.clone();
    let is_spotlit = move || {
        spotlit.is_some_and(|spotlit| {
            spotlit.with(|spotlit| spotlit.as_deref() == Some(cursor_id.as_str()))
        })
    };
    let (label_background, label_text) = label_colors(&color);
    let bubble_color = color.clone();
    let bubble = move || {
        chat.get().map(|chat| {
            view! {
                <span class="chat" class:fading=chat.fading style:border-color=bubble_color.clone()
                    data-testid="cursor-chat">{chat.text}</span>
            }
        })
    };
    view! {
        <div class="cursor" class:idle=move || idle.get() class:followed=followed
            class:spotlit=is_spotlit data-testid="cursor" data-peer=id
            style:transform=transform>
            <svg class="arrow" width="18" height="22" viewBox="0 0 18 22" aria-hidden="true">
                <path d="M1 1 L1 18 L5.6 13.8 L8.6 20.6 L11.6 19.3 L8.7 12.6 L15 12.6 Z" fill=color.clone()/>
            </svg>
            <span class="label" style:background-color=label_background style:color=label_text>
                {move || name.get()}
            </span>
            {bubble}
        </div>
    }
    .into_any()
}

/// Where a person picks their display name. It is kept in `localStorage`
/// and sent with `hello`; the server trims and checks it like this does.
#[component]
fn NameField() -> impl IntoView {
    let connection = use_connection();
    let input = NodeRef::<leptos::html::Input>::new();
    let problem = RwSignal::new(None::<String>);
    let initial = connection
        .with(|connection| connection.preferred_name())
        .flatten()
        .unwrap_or_default();
    // `change` fires on Enter and when the field loses focus.
    let on_change = move |_| {
        let Some(field) = input.get() else { return };
        match connection.with(|connection| connection.set_name(&field.value())) {
            Some(Ok(name)) => {
                field.set_value(&name);
                problem.set(None);
            }
            Some(Err(error)) => problem.set(Some(error.to_string())),
            None => {}
        }
    };
    view! {
        <label class="name-field">
            <span class="visually-hidden">"Your name"</span>
            <input data-testid="name" node_ref=input type="text" maxlength="32" placeholder="your name"
                autocomplete="nickname" value=initial on:change=on_change/>
        </label>
        <span class="name-problem" role="alert">{move || problem.get()}</span>
    }
}

/// At most this many people are listed by name; the rest are counted.
/// Without a limit, a room of 300 fills the whole window with names and
/// leaves no board.
const PRESENCE_LISTED: usize = 12;

/// Who is here: a colour dot and a name per person, "you" marked, and how
/// many more beyond [`PRESENCE_LISTED`] (in a crowd, the rest of its
/// total). Each other person's line is a [`FollowButton`]. It reads only
/// the people and crowd signals, which moving cursors never write.
#[component]
fn PresenceList(people: RwSignal<Vec<Person>>) -> impl IntoView {
    let crowd = use_scene().with(Scene::crowd).unwrap_or_default();
    let more = move || {
        let unlisted =
            crowd.with(|crowd| unlisted(people.with(Vec::len), PRESENCE_LISTED, crowd.as_ref()));
        (unlisted > 0).then(|| {
            view! { <li class="presence-more" data-testid="presence-more">{format!("+{unlisted} more")}</li> }
        })
    };
    view! {
        <ul class="presence" data-testid="presence" aria-label="people in this room">
            <For
                each=move || people.with(|people| people.iter().take(PRESENCE_LISTED).cloned().collect::<Vec<_>>())
                // The name is part of the key, so a rename redraws the line.
                key=|person| (person.id.clone(), person.name.clone(), person.away)
                children=|person| view! {
                    <li data-testid="presence-item" data-peer=person.id.clone()>
                        {let person = person.clone();
                        if person.is_me {
                            view! {
                                <span class="swatch" style=format!("background: {}", person.color)></span>
                                {person.name.clone()}
                                " (you)"
                            }
                            .into_any()
                        } else {
                            view! { <FollowButton person/> }.into_any()
                        }}
                    </li>
                }
            />
            {more}
        </ul>
    }
}

/// How long a finished chat message stays before it is cleared.
const CHAT_LINGER: Duration = Duration::from_secs(4);

/// Cursor chat: `/` opens a small input at this person's cursor; what they
/// type shows beside their cursor for everyone, live. Enter or Esc closes
/// it, and a few seconds later the message is cleared (and fades away),
/// unless they have started saying something else by then.
#[component]
fn ChatInput() -> impl IntoView {
    let connection = use_connection();
    // Where the input is open, on the board; `None` while closed.
    let open_at = RwSignal::new(None::<Point>);
    let input = NodeRef::<leptos::html::Input>::new();
    // The pending "clear my message" of the last Enter. Opening the chat
    // again or typing cancels it: it was meant for the old words, and would
    // otherwise wipe the new ones for everyone.
    let linger = TimerSlot::new();

    listen_on_window(ev::keydown, move |event| {
        if event.key() == "/" && !typing_in_a_field(&event) && open_at.get_untracked().is_none() {
            event.prevent_default();
            linger.stop();
            let at = connection
                .with(|connection| connection.pointer())
                .flatten()
                .unwrap_or(Point { x: 0.5, y: 0.5 });
            open_at.set(Some(at));
            request_animation_frame(move || {
                if let Some(field) = input.get() {
                    let _ = field.focus();
                }
            });
        }
    });

    let on_input = move |_| {
        if let Some(field) = input.get() {
            linger.stop();
            connection.with(|connection| connection.say(&field.value()));
        }
    };
    let on_keydown = move |event: KeyboardEvent| {
        if matches!(event.key().as_str(), "Enter" | "Escape") {
            event.prevent_default();
            open_at.set(None);
            linger.start_timeout(CHAT_LINGER, move || {
                connection.with(|connection| connection.say(""));
            });
        }
    };
    view! {
        <Show when=move || open_at.get().is_some()>
            <input class="chat-input" data-testid="chat-input" node_ref=input type="text"
                maxlength=MAX_SAY_CHARS.to_string() placeholder="say something…"
                style=move || open_at.get().map(to_css_position).unwrap_or_default()
                on:input=on_input on:keydown=on_keydown/>
        </Show>
    }
}

/// Sharing the room: copy its link, or start a new random room.
#[component]
fn RoomActions() -> impl IntoView {
    // `None` until clicked; then whether the copy worked, for two seconds.
    let copied = RwSignal::new(None::<bool>);
    let forget_copied = TimerSlot::new();
    let share = move |_| {
        let link = window().location().href().unwrap_or_default();
        let promise = window().navigator().clipboard().write_text(&link);
        leptos::task::spawn_local(async move {
            let worked = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            copied.set(Some(worked));
            forget_copied.start_timeout(Duration::from_secs(2), move || copied.set(None));
        });
    };
    let new_room = move |_| {
        let room = random_room_name(js_sys::Math::random());
        let _ = window().location().set_href(&room_link(&room));
    };
    view! {
        <button class="action" data-testid="share" on:click=share title="Copy this room's link">
            {move || match copied.get() {
                None => "Copy link",
                Some(true) => "Link copied",
                Some(false) => "Copy failed",
            }}
        </button>
        <button class="action" data-testid="new-room" on:click=new_room>"New room"</button>
    }
}

/// The diagnostics overlay: what the connection and the page are doing,
/// per second. `d` toggles it; `?debug` in the address opens the page with
/// it shown.
#[component]
fn DiagnosticsOverlay() -> impl IntoView {
    let query = window().location().search().unwrap_or_default();
    let open = RwSignal::new(debug_requested(&query));
    listen_on_window(ev::keydown, move |event| {
        let plain = !(event.ctrl_key() || event.meta_key() || event.alt_key());
        if event.key() == "d" && plain && !typing_in_a_field(&event) {
            open.update(|open| *open = !*open);
        }
    });
    view! {
        <Show when=move || open.get()>
            <DiagnosticsPanel/>
        </Show>
    }
}

/// The overlay's figures, sampled once a second while it is open (closed,
/// it costs nothing).
#[component]
fn DiagnosticsPanel() -> impl IntoView {
    let counters = expect_context::<StoredValue<Counters>>();
    let ConnectionSignals {
        status,
        round_trip_ms,
        ..
    } = expect_context();
    let shown = use_scene().with(Scene::shown).unwrap_or_default();
    let sample = move || (now_ms(), counters.get_value());
    let previous = StoredValue::new(sample());
    let totals = RwSignal::new(previous.get_value().1);
    let rates = RwSignal::new(Rates::default());
    every(Duration::from_secs(1), move || {
        let (then, earlier) = previous.get_value();
        let (now, later) = sample();
        rates.set(Rates::between(&earlier, &later, now - then));
        totals.set(later);
        previous.set_value((now, later));
    });
    let rate =
        move |read: fn(&Rates) -> f64, decimals: usize| move || fixed(rates.with(read), decimals);
    let total = move |read: fn(&Counters) -> u64| move || totals.with(read).to_string();
    view! {
        <aside class="diagnostics" data-testid="diagnostics" aria-label="diagnostics">
            <h2>"diagnostics " <kbd>"d"</kbd></h2>
            <dl>
                <dt>"connection"</dt>
                <dd data-testid="diag-connection">{move || status.with(Status::state)}</dd>
                <dt>"round trip"</dt>
                <dd data-testid="diag-rtt">
                    {move || round_trip_ms.get().map_or_else(|| "–".to_owned(), |rtt| format!("{} ms", fixed(rtt, 0)))}
                </dd>
                <dt>"frames in/s"</dt>
                <dd data-testid="diag-frames" data-total=total(|counters| counters.cursor_frames)>
                    {rate(|rates| rates.cursor_frames_per_second, 0)}
                </dd>
                <dt>"positions in/s"</dt>
                <dd data-testid="diag-positions" data-total=total(|counters| counters.positions)>
                    {rate(|rates| rates.positions_per_second, 0)}
                </dd>
                <dt>"moves sent/s"</dt>
                <dd data-testid="diag-moves" data-total=total(|counters| counters.moves_sent)>
                    {rate(|rates| rates.moves_sent_per_second, 0)}
                </dd>
                <dt>"cursors drawn"</dt>
                <dd data-testid="diag-cursors">{move || shown.with(Vec::len)}</dd>
                <dt>"render fps"</dt>
                <dd data-testid="diag-fps">{rate(|rates| rates.render_fps, 0)}</dd>
                <dt>"script ms/s"</dt>
                <dd data-testid="diag-script">{rate(|rates| rates.script_ms_per_second, 1)}</dd>
                <dt>"ms per frame in"</dt>
                <dd data-testid="diag-frame-ms">{rate(|rates| rates.ms_per_cursor_frame, 2)}</dd>
            </dl>
        </aside>
    }
}
