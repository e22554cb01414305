//! The page: a top bar (room, head count, you, connection state) over the
//! board, on which every other user's cursor is drawn.
//!
//! State lives in signals ([`ConnectionSignals`]): the [`Roster`]
//! (everything the server told us), the connection [`Status`] and the
//! round-trip time. The [`Connection`] owns the socket and keeps it alive;
//! components read signals and call the connection, nothing else.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use cursors_protocol::RoomName;
use leptos::ev;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use send_wrapper::SendWrapper;
use web_sys::PointerEvent;

use crate::address::{random_room_name, room_link};
use crate::board::{BoardRect, to_board, to_css_position};
use crate::connection::{Connection, ConnectionSignals, Status};
use crate::motion::{TIME_CONSTANT_MS, approach};
use crate::roster::{Roster, is_idle};
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

#[component]
fn RoomPage(room: RoomName) -> impl IntoView {
    let signals = ConnectionSignals {
        roster: RwSignal::new(Roster::default()),
        status: RwSignal::new(Status::Connecting),
        round_trip_ms: RwSignal::new(None),
    };
    // `web_sys` objects are not `Send`; the wrapper lets the connection ride
    // in event handlers and cleanup, which all run on this one thread.
    let connection = SendWrapper::new(Connection::start(room.clone(), signals));

    // Leaving or reloading the page closes the socket cleanly, so the others
    // see the user leave at once (or not at all, if the reload comes back).
    let on_hide = connection.clone();
    let hide = window_event_listener(ev::pagehide, move |_| on_hide.close());
    let on_show = connection.clone();
    let show = window_event_listener(ev::pageshow, move |event| {
        if event.persisted() {
            on_show.reopen();
        }
    });
    // One clock for the page: the "reconnecting in Ns" countdown and idle
    // cursors read it.
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(clock) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        Duration::from_millis(250),
    ) {
        on_cleanup(move || clock.clear());
    }
    // A hidden tab or an unfocused window is "away" for the others.
    let visibility = {
        let connection = connection.clone();
        window_event_listener(ev::visibilitychange, move |_| {
            connection.set_away(document().hidden())
        })
    };
    let blur = {
        let connection = connection.clone();
        window_event_listener(ev::blur, move |_| connection.set_away(true))
    };
    let focus = {
        let connection = connection.clone();
        window_event_listener(ev::focus, move |_| connection.set_away(document().hidden()))
    };
    on_cleanup(move || {
        visibility.remove();
        blur.remove();
        focus.remove();
    });
    let on_unmount = connection.clone();
    on_cleanup(move || {
        hide.remove();
        show.remove();
        on_unmount.close();
    });

    view! {
        <div class="app">
            <TopBar room signals connection=connection.clone() now/>
            <Board roster=signals.roster connection now/>
        </div>
    }
}

#[component]
fn TopBar(
    room: RoomName,
    signals: ConnectionSignals,
    connection: SendWrapper<Rc<Connection>>,
    now: RwSignal<f64>,
) -> impl IntoView {
    let ConnectionSignals {
        roster,
        status,
        round_trip_ms,
    } = signals;
    let headcount = move || match roster.with(Roster::headcount) {
        0 => String::new(),
        1 => "just you here".to_owned(),
        count => format!("{count} people here"),
    };
    view! {
        <header class="topbar">
            <span class="brand">"Cursors"</span>
            <span class="room" title="room">"#"{room.to_string()}</span>
            <span class="headcount" data-testid="count">{headcount}</span>
            <PresenceList roster/>
            <RoomActions/>
            <NameField connection/>
            <span class="spacer"></span>
            <span class="rtt" data-testid="rtt">
                {move || round_trip_ms.get().map(|rtt| format!("{rtt:.0} ms"))}
            </span>
            <span class="status" data-testid="status" data-state=move || status.with(Status::state)>
                {move || status.with(|status| status.label(now.get()))}
            </span>
        </header>
    }
}

#[component]
fn Board(
    roster: RwSignal<Roster>,
    connection: SendWrapper<Rc<Connection>>,
    now: RwSignal<f64>,
) -> impl IntoView {
    let board = NodeRef::<leptos::html::Main>::new();
    let moved = connection.clone();
    // Pointer Events cover mouse, pen and touch alike. Only the primary
    // pointer is followed, so a second finger does not make the cursor jump.
    let on_pointer_move = move |event: PointerEvent| {
        if !event.is_primary() {
            return;
        }
        let Some(element) = board.get() else { return };
        let rect = element.get_bounding_client_rect();
        let rect = BoardRect {
            left: rect.left(),
            top: rect.top(),
            width: rect.width(),
            height: rect.height(),
        };
        if let Some(point) = to_board(
            f64::from(event.client_x()),
            f64::from(event.client_y()),
            rect,
        ) {
            moved.pointer_moved(point);
        }
    };
    let left = connection.clone();
    let on_pointer_leave = move |event: PointerEvent| {
        if event.is_primary() {
            left.pointer_left();
        }
    };
    // A lifted finger has no position: hide the cursor until it touches again.
    let lifted = connection.clone();
    let on_pointer_up = move |event: PointerEvent| {
        if event.is_primary() && event.pointer_type() == "touch" {
            lifted.pointer_left();
        }
    };
    // Where each remote cursor is drawn, easing toward where it is.
    let drawn = RwSignal::new(HashMap::<String, Point>::new());
    let alive = SendWrapper::new(Rc::new(Cell::new(true)));
    animate_cursors(roster, drawn, alive.clone(), js_sys::Date::now());
    on_cleanup(move || alive.set(false));
    view! {
        <main class="board" data-testid="board" node_ref=board
            on:pointermove=on_pointer_move on:pointerleave=on_pointer_leave.clone()
            on:pointerup=on_pointer_up on:pointercancel=on_pointer_leave>
            <p class="hint">"Move your pointer here. Open this page in another tab to see it there."</p>
            <ChatInput connection/>
            <For
                each=move || roster.with(Roster::visible_ids)
                key=|id| id.clone()
                children=move |id| view! { <RemoteCursor roster drawn now id/> }
            />
        </main>
    }
}

/// Another user's cursor: an arrow whose tip is the element's top-left
/// corner (so `left`/`top` place the tip exactly), with their name beside it.
#[component]
fn RemoteCursor(
    roster: RwSignal<Roster>,
    drawn: RwSignal<HashMap<String, Point>>,
    now: RwSignal<f64>,
    id: String,
) -> impl IntoView {
    let peer_id = id.clone();
    let drawn_id = id.clone();
    let at = Memo::new(move |_| drawn.with(|drawn| drawn.get(&drawn_id).copied()));
    let peer = Memo::new(move |_| roster.with(|roster| roster.peer(&peer_id).cloned()));
    // Still there, but not moving for a while: drawn dimmed.
    let idle = move || {
        peer.with(|peer| {
            peer.as_ref()
                .is_some_and(|peer| is_idle(peer.last_moved, now.get()))
        })
    };
    let color = move || {
        peer.with(|peer| {
            peer.as_ref()
                .map(|peer| peer.color.clone())
                .unwrap_or_default()
        })
    };
    let name = move || {
        peer.with(|peer| {
            peer.as_ref()
                .map(|peer| peer.name.clone())
                .unwrap_or_default()
        })
    };
    let style = move || {
        peer.with(|peer| {
            let peer = peer.as_ref();
            let position = at
                .get()
                .or(peer.and_then(|peer| peer.position))
                .map(to_css_position)
                .unwrap_or_default();
            format!(
                "{position} --cursor-color: {};",
                peer.map(|peer| peer.color.as_str()).unwrap_or_default()
            )
        })
    };
    view! {
        <div class="cursor" class:idle=idle data-testid="cursor" data-peer=id style=style>
            <svg class="arrow" width="18" height="22" viewBox="0 0 18 22" aria-hidden="true">
                <path d="M1 1 L1 18 L5.6 13.8 L8.6 20.6 L11.6 19.3 L8.7 12.6 L15 12.6 Z" fill=color/>
            </svg>
            <span class="label">{name}</span>
            {move || peer.with(|peer| peer.as_ref().and_then(|peer| peer.chat.clone())).map(|chat| view! {
                <span class="chat" class:fading=chat.fading data-testid="cursor-chat">{chat.text}</span>
            })}
        </div>
    }
}

/// Where a person picks their display name. It is kept in `localStorage`
/// and sent with `hello`; the server trims and checks it like this does.
#[component]
fn NameField(connection: SendWrapper<Rc<Connection>>) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let problem = RwSignal::new(None::<String>);
    let initial = connection.preferred_name().unwrap_or_default();
    // `change` fires on Enter and when the field loses focus.
    let on_change = move |_| {
        let Some(field) = input.get() else { return };
        match connection.set_name(&field.value()) {
            Ok(name) => {
                field.set_value(&name);
                problem.set(None);
            }
            Err(error) => problem.set(Some(error.to_string())),
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

/// Who is here: a colour dot and a name per person, "you" marked.
#[component]
fn PresenceList(roster: RwSignal<Roster>) -> impl IntoView {
    view! {
        <ul class="presence" data-testid="presence" aria-label="people in this room">
            <For
                each=move || roster.with(Roster::people)
                // The name is part of the key, so a rename redraws the line.
                key=|person| (person.id.clone(), person.name.clone(), person.away)
                children=|person| view! {
                    <li data-testid="presence-item" data-peer=person.id.clone()>
                        <span class="swatch" style=format!("background: {}", person.color)></span>
                        {person.name.clone()}
                        {person.is_me.then_some(" (you)")}
                        {person.away.then_some(" (away)")}
                    </li>
                }
            />
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
fn ChatInput(connection: SendWrapper<Rc<Connection>>) -> impl IntoView {
    // Where the input is open, on the board; `None` while closed.
    let open_at = RwSignal::new(None::<Point>);
    let input = NodeRef::<leptos::html::Input>::new();
    // The pending "clear my message" of the last Enter. Opening the chat
    // again or typing cancels it: it was meant for the old words, and would
    // otherwise wipe the new ones for everyone.
    let linger = StoredValue::new(None::<TimeoutHandle>);
    let cancel_linger = move || {
        if let Some(pending) = linger.try_update_value(Option::take).flatten() {
            pending.clear();
        }
    };

    let opener = connection.clone();
    let keys = window_event_listener(ev::keydown, move |event| {
        let typing = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|element| matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA"));
        if event.key() == "/" && !typing && open_at.get_untracked().is_none() {
            event.prevent_default();
            cancel_linger();
            open_at.set(Some(opener.pointer().unwrap_or(Point { x: 0.5, y: 0.5 })));
            request_animation_frame(move || {
                if let Some(field) = input.get() {
                    let _ = field.focus();
                }
            });
        }
    });
    on_cleanup(move || {
        keys.remove();
        cancel_linger();
    });

    let typed = connection.clone();
    let on_input = move |_| {
        if let Some(field) = input.get() {
            cancel_linger();
            typed.say(&field.value());
        }
    };
    let on_keydown = move |event: web_sys::KeyboardEvent| {
        if matches!(event.key().as_str(), "Enter" | "Escape") {
            event.prevent_default();
            open_at.set(None);
            cancel_linger();
            let clear = connection.clone();
            let pending = set_timeout_with_handle(
                move || {
                    linger.set_value(None);
                    clear.say("");
                },
                CHAT_LINGER,
            );
            linger.set_value(pending.ok());
        }
    };
    view! {
        <Show when=move || open_at.get().is_some()>
            <input class="chat-input" data-testid="chat-input" node_ref=input type="text"
                maxlength=MAX_SAY_CHARS.to_string() placeholder="say something…"
                style=move || open_at.get().map(to_css_position).unwrap_or_default()
                on:input=on_input.clone() on:keydown=on_keydown.clone()/>
        </Show>
    }
}

/// Every animation frame, moves each drawn cursor toward its latest
/// position (see [`crate::motion`]). A cursor that appears is drawn where it
/// is at once, so it never glides in from a stale spot; with
/// `prefers-reduced-motion` every cursor jumps. The signal is only written
/// when something moved, so an idle room costs no rendering.
fn animate_cursors(
    roster: RwSignal<Roster>,
    drawn: RwSignal<HashMap<String, Point>>,
    alive: SendWrapper<Rc<Cell<bool>>>,
    last_frame: f64,
) {
    request_animation_frame(move || {
        if !alive.get() {
            return;
        }
        let reduced_motion = window()
            .match_media("(prefers-reduced-motion: reduce)")
            .ok()
            .flatten()
            .is_some_and(|query| query.matches());
        let time_constant = if reduced_motion {
            0.0
        } else {
            TIME_CONSTANT_MS
        };
        let now = js_sys::Date::now();
        let next: HashMap<String, Point> = roster.with_untracked(|roster| {
            drawn.with_untracked(|drawn| {
                roster
                    .visible_ids()
                    .into_iter()
                    .filter_map(|id| {
                        let target = roster.peer(&id)?.position?;
                        let from = drawn.get(&id).copied().unwrap_or(target);
                        Some((id, approach(from, target, now - last_frame, time_constant)))
                    })
                    .collect()
            })
        });
        if drawn.with_untracked(|drawn| *drawn != next) {
            drawn.set(next);
        }
        animate_cursors(roster, drawn, alive, now);
    });
}

/// Sharing the room: copy its link, or start a new random room.
#[component]
fn RoomActions() -> impl IntoView {
    // `None` until clicked; then whether the copy worked, for two seconds.
    let copied = RwSignal::new(None::<bool>);
    let share = move |_| {
        let link = window().location().href().unwrap_or_default();
        let promise = window().navigator().clipboard().write_text(&link);
        leptos::task::spawn_local(async move {
            let worked = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            copied.set(Some(worked));
            set_timeout(move || copied.set(None), Duration::from_secs(2));
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
