//! The page: a top bar (room, head count, connection state) over the board,
//! on which every other user's cursor is drawn.
//!
//! State lives in two signals: the [`Roster`] (everything the server told us)
//! and the connection [`Status`]. The [`Session`] owns the socket and the
//! send throttle; components read signals and call the session, nothing else.

use std::cell::RefCell;
use std::rc::Rc;

use cursors_protocol::{ClientMessage, Point, RoomName};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use web_sys::PointerEvent;

use crate::address::socket_url;
use crate::board::{BoardRect, to_board, to_css_position};
use crate::roster::Roster;
use crate::socket::{Socket, SocketEvent};
use crate::throttle::FrameThrottle;

/// State of the connection to the server, as shown in the top bar.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Connecting,
    Connected,
    Closed { code: u16, reason: String },
}

impl Status {
    fn label(&self) -> String {
        match self {
            Status::Connecting => "connecting…".to_owned(),
            Status::Connected => "connected".to_owned(),
            Status::Closed { reason, .. } if !reason.is_empty() => {
                format!("disconnected: {reason}")
            }
            Status::Closed { code, .. } => format!("disconnected ({code})"),
        }
    }
}

/// The socket plus the pointer throttle: what pointer handlers talk to.
struct Session {
    socket: Socket,
    throttle: RefCell<FrameThrottle<Point>>,
}

impl Session {
    /// Records the pointer's position; the next animation frame sends the
    /// latest one (see [`FrameThrottle`]).
    fn pointer_moved(self: &Rc<Self>, point: Point) {
        if self.throttle.borrow_mut().offer(point) {
            let session = self.clone();
            request_animation_frame(move || {
                let pending = session.throttle.borrow_mut().take_for_frame();
                if let Some(Point { x, y }) = pending {
                    session.socket.send(&ClientMessage::Move { x, y });
                }
            });
        }
    }

    fn pointer_left(&self) {
        self.throttle.borrow_mut().discard();
        self.socket.send(&ClientMessage::Leave);
    }
}

/// The page's root: joins the room named by `?room=` (default `lobby`).
#[component]
pub fn App() -> impl IntoView {
    let location = window().location();
    let query = location.search().unwrap_or_default();
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
    let roster = RwSignal::new(Roster::default());
    let status = RwSignal::new(Status::Connecting);

    let location = window().location();
    let url = socket_url(
        &location.protocol().unwrap_or_default(),
        &location.host().unwrap_or_default(),
        &room,
    );
    let socket = Socket::open(&url, move |event| match event {
        SocketEvent::Open => status.set(Status::Connected),
        SocketEvent::Message(message) => roster.update(|roster| roster.apply(message)),
        SocketEvent::Closed { code, reason } => {
            status.set(Status::Closed { code, reason });
            roster.set(Roster::default());
        }
    });
    let session = match socket {
        Ok(socket) => Some(SendWrapper::new(Rc::new(Session {
            socket,
            throttle: RefCell::default(),
        }))),
        Err(error) => {
            status.set(Status::Closed {
                code: 0,
                reason: error,
            });
            None
        }
    };
    // Leaving the page (or unmounting) closes the socket at once, so the
    // others see `left` now rather than after a timeout.
    let on_leave = session.clone();
    on_cleanup(move || drop(on_leave));

    view! {
        <div class="app">
            <TopBar room roster status/>
            <Board roster session/>
        </div>
    }
}

#[component]
fn TopBar(room: RoomName, roster: RwSignal<Roster>, status: RwSignal<Status>) -> impl IntoView {
    let headcount = move || match roster.with(Roster::headcount) {
        0 => String::new(),
        1 => "just you here".to_owned(),
        count => format!("{count} people here"),
    };
    let me =
        move || roster.with(|roster| roster.me().map(|me| (me.name.clone(), me.color.clone())));
    view! {
        <header class="topbar">
            <span class="brand">"Cursors"</span>
            <span class="room" title="room">"#"{room.to_string()}</span>
            <span class="headcount" data-testid="count">{headcount}</span>
            <span class="me">
                {move || me().map(|(name, color)| view! {
                    <span class="swatch" style=format!("background: {color}")></span>
                    <span>{name}" (you)"</span>
                })}
            </span>
            <span class="status" data-testid="status" data-state=move || status.with(|status| match status {
                Status::Connecting => "connecting",
                Status::Connected => "connected",
                Status::Closed { .. } => "closed",
            })>{move || status.with(Status::label)}</span>
        </header>
    }
}

#[component]
fn Board(roster: RwSignal<Roster>, session: Option<SendWrapper<Rc<Session>>>) -> impl IntoView {
    let board = NodeRef::<leptos::html::Main>::new();
    let moved = session.clone();
    let on_pointer_move = move |event: PointerEvent| {
        let (Some(session), Some(element)) = (&moved, board.get()) else {
            return;
        };
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
            session.pointer_moved(point);
        }
    };
    let on_pointer_leave = move |_: PointerEvent| {
        if let Some(session) = &session {
            session.pointer_left();
        }
    };
    view! {
        <main class="board" data-testid="board" node_ref=board
            on:pointermove=on_pointer_move on:pointerleave=on_pointer_leave>
            <p class="hint">"Move your pointer here. Open this page in another tab to see it there."</p>
            <For
                each=move || roster.with(Roster::visible_ids)
                key=|id| id.clone()
                children=move |id| view! { <RemoteCursor roster id/> }
            />
        </main>
    }
}

/// Another user's cursor: an arrow whose tip is the element's top-left
/// corner (so `left`/`top` place the tip exactly), with their name beside it.
#[component]
fn RemoteCursor(roster: RwSignal<Roster>, id: String) -> impl IntoView {
    let peer_id = id.clone();
    let peer = Memo::new(move |_| roster.with(|roster| roster.peer(&peer_id).cloned()));
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
            let position = peer
                .and_then(|peer| peer.position)
                .map(to_css_position)
                .unwrap_or_default();
            format!(
                "{position} --cursor-color: {};",
                peer.map(|peer| peer.color.as_str()).unwrap_or_default()
            )
        })
    };
    view! {
        <div class="cursor" data-testid="cursor" data-peer=id style=style>
            <svg class="arrow" width="18" height="22" viewBox="0 0 18 22" aria-hidden="true">
                <path d="M1 1 L1 18 L5.6 13.8 L8.6 20.6 L11.6 19.3 L8.7 12.6 L15 12.6 Z" fill=color/>
            </svg>
            <span class="label">{name}</span>
        </div>
    }
}
