//! The connection's rules, apart from the browser: a plain [`Link`] that is
//! told what happened (the socket opened, a message came, a timer fired,
//! the pointer moved, the page was hidden) and the time, and answers with
//! the [`Command`]s the browser side then carries out (open a socket, send,
//! start a timer, store the token, ask the other tabs, show a status).
//!
//! It owns every decision of the link and the state they need: how many
//! attempts failed and how long to wait (backoff), when to ping and what
//! the round trip was, the resume token and the question to the other tabs
//! before using it, the pointer and whether the page is away, and whether
//! the page is closing. It reads no clock, no storage and no randomness:
//! the time, the stored token, whether the browser is online and the
//! random draw of the backoff are arguments, so every rule is unit-tested
//! natively below, like the room's [`crate::roster`].

use std::collections::HashMap;
use std::time::Duration;

use cursors_protocol::{ClientMessage, NameError, Point, ServerMessage, normalize_name};

use crate::backoff::reconnect_delay;
use crate::status::{Status, server_close_reason};
use crate::throttle::{FrameThrottle, FrameTurn};

/// How long a cleared chat bubble takes to fade (matches the CSS).
pub const CHAT_FADE: Duration = Duration::from_millis(600);

/// How often the round trip is measured while the room is busy, and while
/// it is still. Each ping wakes the page (a timer, a send, a pong, a text
/// to redraw, a few milliseconds of the browser's time after a long
/// sleep), and a page where nothing happens should cost next to nothing.
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_EVERY_WHEN_STILL: Duration = Duration::from_secs(30);

/// Pings older than this many ids without a pong are taken as lost.
const PINGS_REMEMBERED: u64 = 4;

/// When to measure the round trip next: soon if anything came or went
/// since the last ping (other than the pong itself), later if not.
pub fn next_ping_in(active_since_last_ping: bool) -> Duration {
    if active_since_last_ping {
        PING_EVERY
    } else {
        PING_EVERY_WHEN_STILL
    }
}

/// A timer the link asks for; when it fires, the browser side hands it
/// back to [`Link::timer_fired`].
#[derive(Debug, Clone, PartialEq)]
pub enum Timer {
    /// Time to measure the round trip (and to plan the next ping).
    Ping,
    /// Time to try connecting again. `retry` numbers the wait, so a timer
    /// left over from a wait that something else ended does nothing.
    Reconnect { retry: u64 },
    /// This peer's cleared chat bubble has faded: it can go.
    ChatFade { id: String },
}

/// What the browser side must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open a socket to the room, offering `resume` to come back as the
    /// same user. A previous socket is replaced (and so dropped).
    OpenSocket { resume: Option<String> },
    /// Close the socket cleanly (the page is going away).
    CloseSocket,
    /// Send this message, if the socket is open.
    Send(ClientMessage),
    /// Send the pointer's position chosen by the frame throttle, and count
    /// it for the diagnostics overlay if it went out.
    SendMove(Point),
    /// Call [`Link::frame`] on the next animation frame.
    RequestFrame,
    /// Call [`Link::timer_fired`] with `timer` after `after`.
    StartTimer { timer: Timer, after: Duration },
    /// Show this status in the top bar.
    SetStatus(Status),
    /// Show this round trip (`None`: unknown, while not connected).
    SetRoundTrip(Option<f64>),
    /// What the page knew of the room is stale: forget it.
    ClearScene,
    /// Remove a faded chat bubble from the scene.
    ForgetFadedChat { id: String },
    /// Keep the resume token for this tab and room (`sessionStorage`).
    StoreToken(String),
    /// Forget the stored resume token: another tab holds it.
    ForgetToken,
    /// Answer for this token to the other tabs from now on (see
    /// [`crate::tabs`]).
    HoldToken(String),
    /// Ask the other tabs whether one holds this token; the answer goes
    /// to [`Link::tabs_answered`].
    AskTabs(String),
    /// Remember the chosen display name for every room and visit
    /// (`localStorage`).
    StoreName(String),
    /// Remember in `localStorage` whether this person is in quiet mode.
    StoreQuiet(bool),
}

/// What the page had kept from earlier, read by the browser side when it
/// starts.
#[derive(Debug, Clone, Default)]
pub struct Remembered {
    /// The resume token stored for this tab and room.
    pub token: Option<String>,
    /// The display name chosen earlier, already normalised.
    pub name: Option<String>,
    /// Whether the other tabs can be asked (a `BroadcastChannel` opened).
    pub tabs: bool,
    /// Quiet mode was on when the page was last used.
    pub quiet: bool,
}

/// The link's state and rules (see the module doc).
#[derive(Debug)]
pub struct Link {
    status: Status,
    /// Failed attempts since the server last welcomed us.
    attempt: u32,
    /// The wait for a retry in progress, numbered (see [`Timer::Reconnect`]).
    waiting_retry: Option<u64>,
    retries: u64,
    /// The page is going away: do not reconnect.
    closing: bool,
    /// The token to offer on the next connect: the stored one, then the
    /// one of each `welcome`.
    token: Option<String>,
    /// Whether the other tabs can be asked about a stored token.
    can_ask_tabs: bool,
    /// That question is open: the first connect waits for its answer.
    asking_tabs: bool,
    /// Where the pointer is on the board, to restore after a reconnect.
    pointer: Option<Point>,
    /// This page is hidden or unfocused.
    away: bool,
    /// Quiet mode: this person's cursor is hidden from the others, who
    /// still list them. The pointer is still followed (the chat input
    /// opens there), but no move is sent.
    quiet: bool,
    /// This person asked for everyone's attention: asked again after a
    /// reconnect (the server switched it off when the old socket ended).
    spotlight: bool,
    throttle: FrameThrottle<Point>,
    /// Pings without a pong yet: id and when it was sent.
    pings_sent: HashMap<u64, f64>,
    next_ping: u64,
    /// Something came or went since the last ping (see [`next_ping_in`]).
    active_since_ping: bool,
    round_trip_ms: Option<f64>,
    /// The name this person chose, sent with `hello` after every welcome.
    preferred_name: Option<String>,
}

impl Link {
    pub fn new(remembered: Remembered) -> Self {
        Self {
            status: Status::Connecting,
            attempt: 0,
            waiting_retry: None,
            retries: 0,
            closing: false,
            token: remembered.token,
            can_ask_tabs: remembered.tabs,
            asking_tabs: false,
            pointer: None,
            away: false,
            quiet: remembered.quiet,
            spotlight: false,
            throttle: FrameThrottle::default(),
            pings_sent: HashMap::new(),
            next_ping: 1,
            active_since_ping: true,
            round_trip_ms: None,
            preferred_name: remembered.name,
        }
    }

    /// The page opened: connect (or ask the tabs first), and start pinging.
    pub fn start(&mut self) -> Vec<Command> {
        let mut commands = self.connect_first();
        commands.push(self.schedule_ping());
        commands
    }

    // ANCHOR: connect-first
    /// The first connection of this page. A stored token is offered only if
    /// no other tab holds it: a duplicated tab copies the original's
    /// `sessionStorage`, and must not take over its identity (see
    /// [`crate::tabs`]).
    fn connect_first(&mut self) -> Vec<Command> {
        match (&self.token, self.can_ask_tabs) {
            (Some(token), true) => {
                self.asking_tabs = true;
                vec![Command::AskTabs(token.clone())]
            }
            _ => self.connect(),
        }
    }

    /// The other tabs answered (or stayed silent: `held_elsewhere` false).
    pub fn tabs_answered(&mut self, held_elsewhere: bool) -> Vec<Command> {
        self.asking_tabs = false;
        let mut commands = Vec::new();
        if held_elsewhere {
            self.token = None;
            commands.push(Command::ForgetToken);
        } else if let Some(token) = &self.token {
            // Ours from now on, before any welcome: a duplicate made
            // while this page connects must hear so too.
            commands.push(Command::HoldToken(token.clone()));
        }
        // The page may have gone meanwhile (`reopen` connects then).
        if !self.closing {
            commands.extend(self.connect());
        }
        commands
    }
    // ANCHOR_END: connect-first

    /// Opens a socket offering the token we hold, and ends any wait for a
    /// retry: this is the retry.
    fn connect(&mut self) -> Vec<Command> {
        self.waiting_retry = None;
        vec![Command::OpenSocket {
            resume: self.token.clone(),
        }]
    }

    // ANCHOR: open
    /// The socket opened.
    pub fn socket_opened(&mut self) -> Vec<Command> {
        self.status = Status::Connected;
        let mut commands = vec![Command::SetStatus(Status::Connected)];
        // Only the current state, never a backlog.
        if self.away {
            commands.push(Command::Send(ClientMessage::Presence { away: true }));
        } else if let Some(Point { x, y }) = self.pointer.filter(|_| !self.quiet) {
            commands.push(Command::Send(ClientMessage::Move { x, y, anchor: None }));
        }
        if self.spotlight {
            commands.push(Command::Send(ClientMessage::Spotlight { on: true }));
        }
        commands
    }
    // ANCHOR_END: open

    /// A message from the server arrived at `now` (`Date.now()`). The
    /// browser side applies it to the scene after carrying these out.
    pub fn received(&mut self, message: &ServerMessage, now: f64) -> Vec<Command> {
        let mut commands = Vec::new();
        if let ServerMessage::Pong { id } = message {
            if let Some(sent) = self.pings_sent.remove(id) {
                self.round_trip_ms = Some(now - sent);
                commands.push(Command::SetRoundTrip(self.round_trip_ms));
            }
            return commands;
        }
        self.active_since_ping = true;
        // ANCHOR: keep-token
        if let ServerMessage::Welcome {
            resume: Some(token),
            ..
        } = message
        {
            self.token = Some(token.clone());
            commands.push(Command::StoreToken(token.clone()));
            // Ours now: a duplicate of this tab that asks is told so.
            commands.push(Command::HoldToken(token.clone()));
        }
        // ANCHOR_END: keep-token
        // A cleared chat bubble fades (CSS), then goes.
        if let ServerMessage::Said { id, text } = message
            && text.is_empty()
        {
            commands.push(Command::StartTimer {
                timer: Timer::ChatFade { id: id.clone() },
                after: CHAT_FADE,
            });
        }
        let ServerMessage::Welcome {
            name: welcomed_as, ..
        } = message
        else {
            return commands;
        };
        // ANCHOR: welcomed
        // Admitted: the next drop starts the backoff from its first,
        // short bound. Not on `open`: a server that accepts the socket
        // and closes it at once (a policy it enforces on each new
        // connection) must still meet a growing delay.
        self.attempt = 0;
        // ANCHOR_END: welcomed
        // A fresh connection shows its round trip at once, not at the
        // next scheduled ping (up to 30 s away in a still room).
        if self.round_trip_ms.is_none() {
            commands.extend(self.ping(now));
        }
        // Our chosen name, if the server does not know it yet.
        if let Some(name) = &self.preferred_name
            && name != welcomed_as
        {
            commands.push(Command::Send(ClientMessage::Hello { name: name.clone() }));
        }
        commands
    }

    /// The socket closed with `code` and `reason` at `now`; `online` is
    /// what the browser says of its network and `random` is uniform in
    /// `[0, 1)`, for the backoff's jitter.
    pub fn socket_closed(
        &mut self,
        code: u16,
        reason: String,
        now: f64,
        online: bool,
        random: f64,
    ) -> Vec<Command> {
        // ANCHOR: closed
        // What we knew of the room is stale now: clear it, so no ghost
        // cursor lingers; the next welcome tells the truth.
        let mut commands = vec![Command::ClearScene, Command::SetRoundTrip(None)];
        self.round_trip_ms = None;
        self.throttle.discard();
        if !self.closing {
            let closed_because = server_close_reason(code, reason);
            commands.extend(self.schedule_reconnect(closed_because, now, online, random));
        }
        // ANCHOR_END: closed
        commands
    }

    /// The browser refused to open a socket at all: a failed attempt too.
    pub fn socket_failed(&mut self, now: f64, online: bool, random: f64) -> Vec<Command> {
        self.schedule_reconnect(None, now, online, random)
    }

    // ANCHOR: reconnect
    fn schedule_reconnect(
        &mut self,
        closed_because: Option<String>,
        now: f64,
        online: bool,
        random: f64,
    ) -> Vec<Command> {
        let delay = reconnect_delay(self.attempt, random);
        self.attempt = self.attempt.saturating_add(1);
        self.status = if online {
            Status::Reconnecting {
                retry_at: now + delay.as_secs_f64() * 1000.0,
                closed_because,
            }
        } else {
            Status::Offline
        };
        self.retries += 1;
        self.waiting_retry = Some(self.retries);
        vec![
            Command::SetStatus(self.status.clone()),
            Command::StartTimer {
                timer: Timer::Reconnect {
                    retry: self.retries,
                },
                after: delay,
            },
        ]
    }

    /// The wait is over: connect again, unless the page is closing or this
    /// wait was already ended (a page back from the back/forward cache
    /// connected by itself).
    fn retry(&mut self, retry: u64) -> Vec<Command> {
        if self.closing || self.waiting_retry != Some(retry) {
            return Vec::new();
        }
        self.status = Status::Connecting;
        let mut commands = vec![Command::SetStatus(Status::Connecting)];
        commands.extend(self.connect());
        commands
    }
    // ANCHOR_END: reconnect

    /// A timer this link asked for fired at `now` (`Date.now()`).
    pub fn timer_fired(&mut self, timer: Timer, now: f64) -> Vec<Command> {
        match timer {
            Timer::Ping => {
                let mut commands = self.ping(now);
                commands.push(self.schedule_ping());
                commands
            }
            Timer::Reconnect { retry } => self.retry(retry),
            Timer::ChatFade { id } => vec![Command::ForgetFadedChat { id }],
        }
    }

    /// The next ping, after [`next_ping_in`].
    fn schedule_ping(&mut self) -> Command {
        let after = next_ping_in(std::mem::replace(&mut self.active_since_ping, false));
        Command::StartTimer {
            timer: Timer::Ping,
            after,
        }
    }

    /// Measures the round trip, if connected.
    fn ping(&mut self, now: f64) -> Vec<Command> {
        if self.status != Status::Connected {
            return Vec::new();
        }
        let id = self.next_ping;
        self.next_ping += 1;
        // Forget the lost ones.
        self.pings_sent
            .retain(|sent_id, _| id - sent_id < PINGS_REMEMBERED);
        self.pings_sent.insert(id, now);
        vec![Command::Send(ClientMessage::Ping { id })]
    }

    // ANCHOR: pointer-moved
    /// Records the pointer's position; an animation frame sends the latest
    /// one (see [`FrameThrottle`]).
    pub fn pointer_moved(&mut self, point: Point) -> Vec<Command> {
        self.pointer = Some(point);
        if self.quiet {
            return Vec::new();
        }
        if self.throttle.offer(point) {
            vec![Command::RequestFrame]
        } else {
            Vec::new()
        }
    }

    /// The animation frame asked for runs at `frame_time` (the frame's
    /// clock, `performance.now()`).
    pub fn frame(&mut self, frame_time: f64) -> Vec<Command> {
        match self.throttle.take_for_frame(frame_time) {
            FrameTurn::Send(point) => vec![Command::SendMove(point)],
            FrameTurn::Wait => vec![Command::RequestFrame],
            FrameTurn::Idle => Vec::new(),
        }
    }
    // ANCHOR_END: pointer-moved

    /// The browser side sent a move (the socket was open and took it):
    /// the room is not still, so the next ping comes soon.
    pub fn move_sent(&mut self) {
        self.active_since_ping = true;
    }

    /// The pointer left the board (or the finger lifted).
    pub fn pointer_left(&mut self) -> Vec<Command> {
        self.pointer = None;
        self.throttle.discard();
        vec![Command::Send(ClientMessage::Leave)]
    }

    /// Where this page's pointer is on the board, if it is on it.
    pub fn pointer(&self) -> Option<Point> {
        self.pointer
    }

    /// The page was hidden or lost focus (`true`), or is back: the others
    /// show this person as away, cursor hidden, still in the list.
    pub fn set_away(&mut self, away: bool) -> Vec<Command> {
        if std::mem::replace(&mut self.away, away) == away {
            return Vec::new();
        }
        let mut commands = if away {
            self.pointer_left()
        } else {
            Vec::new()
        };
        commands.push(Command::Send(ClientMessage::Presence { away }));
        commands
    }

    // ANCHOR: quiet
    /// Quiet mode on or off: on hides this person's cursor from the others
    /// (a `leave`, and no move after it, even after a reconnect) while they
    /// stay listed; off shows it again at the pointer. Remembered for the
    /// next visit, like the name. The server is not told anything new: a
    /// hidden cursor is a state it and every page already know.
    pub fn set_quiet(&mut self, quiet: bool) -> Vec<Command> {
        if std::mem::replace(&mut self.quiet, quiet) == quiet {
            return Vec::new();
        }
        let mut commands = vec![Command::StoreQuiet(quiet)];
        if quiet {
            self.throttle.discard();
            commands.push(Command::Send(ClientMessage::Leave));
        } else if let Some(point) = self.pointer.filter(|_| !self.away) {
            commands.extend(self.pointer_moved(point));
        }
        commands
    }
    // ANCHOR_END: quiet

    /// Spotlight on or off (see [`Link::socket_opened`] for a reconnect).
    pub fn set_spotlight(&mut self, on: bool) -> Vec<Command> {
        if std::mem::replace(&mut self.spotlight, on) == on {
            return Vec::new();
        }
        vec![Command::Send(ClientMessage::Spotlight { on })]
    }

    pub fn is_spotlit(&self) -> bool {
        self.spotlight
    }

    /// Whether quiet mode is on.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// The name chosen earlier, if any.
    pub fn preferred_name(&self) -> Option<&str> {
        self.preferred_name.as_deref()
    }

    /// Takes a new display name: checks it as the server will, remembers it
    /// for next time and tells the room. Returns the name as it will show.
    pub fn rename(&mut self, raw: &str) -> Result<(String, Vec<Command>), NameError> {
        let name = normalize_name(raw)?;
        self.preferred_name = Some(name.clone());
        let commands = vec![
            Command::StoreName(name.clone()),
            Command::Send(ClientMessage::Hello { name: name.clone() }),
        ];
        Ok((name, commands))
    }

    /// The page is being hidden for good or reloaded: close cleanly, so the
    /// server holds this user's place only for the short reload grace.
    pub fn close(&mut self) -> Vec<Command> {
        self.closing = true;
        vec![Command::CloseSocket]
    }

    /// The page came back from the back/forward cache: connect again
    /// (unless the first connect's question to the other tabs is still
    /// open: its answer connects).
    pub fn reopen(&mut self) -> Vec<Command> {
        if !std::mem::replace(&mut self.closing, false) {
            return Vec::new();
        }
        self.attempt = 0;
        if self.asking_tabs {
            Vec::new()
        } else {
            self.connect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next ping's timer, `seconds` from now.
    fn ping_in(seconds: u64) -> Command {
        Command::StartTimer {
            timer: Timer::Ping,
            after: Duration::from_secs(seconds),
        }
    }
    use cursors_protocol::{PeerSnapshot, ServerMessage};

    const NOW: f64 = 1_000_000.0;

    fn welcome(name: &str, resume: Option<&str>) -> ServerMessage {
        ServerMessage::Welcome {
            verified: false,
            id: "me".into(),
            name: name.into(),
            color: "#123456".into(),
            peers: Vec::<PeerSnapshot>::new(),
            resume: resume.map(str::to_owned),
            expires: None,
        }
    }

    fn fresh() -> Link {
        Link::new(Remembered::default())
    }

    /// A link whose socket is open and welcomed (round trip measured).
    fn connected() -> Link {
        let mut link = fresh();
        link.start();
        link.socket_opened();
        link.received(&welcome("Ada", Some("t1")), NOW);
        link.received(&ServerMessage::Pong { id: 1 }, NOW + 20.0);
        link
    }

    fn opened_with(commands: &[Command]) -> Option<Option<String>> {
        commands.iter().find_map(|command| match command {
            Command::OpenSocket { resume } => Some(resume.clone()),
            _ => None,
        })
    }

    fn reconnect_timer(commands: &[Command]) -> Option<(u64, Duration)> {
        commands.iter().find_map(|command| match command {
            Command::StartTimer {
                timer: Timer::Reconnect { retry },
                after,
            } => Some((*retry, *after)),
            _ => None,
        })
    }

    fn sent(commands: &[Command]) -> Vec<ClientMessage> {
        commands
            .iter()
            .filter_map(|command| match command {
                Command::Send(message) => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_still_room_is_pinged_six_times_less_often() {
        assert_eq!(next_ping_in(true), Duration::from_secs(5));
        assert_eq!(next_ping_in(false), Duration::from_secs(30));
    }

    #[test]
    fn a_page_without_a_stored_token_connects_at_once_and_starts_pinging() {
        let mut link = Link::new(Remembered {
            tabs: true,
            ..Remembered::default()
        });
        assert_eq!(
            link.start(),
            [Command::OpenSocket { resume: None }, ping_in(5),]
        );
    }

    #[test]
    fn a_stored_token_is_offered_only_after_no_other_tab_claims_it() {
        let mut link = Link::new(Remembered {
            token: Some("t0".into()),
            tabs: true,
            ..Remembered::default()
        });
        let started = link.start();
        assert_eq!(started[0], Command::AskTabs("t0".into()));
        assert_eq!(opened_with(&started), None, "no connect before the answer");
        assert_eq!(
            link.tabs_answered(false),
            [
                Command::HoldToken("t0".into()),
                Command::OpenSocket {
                    resume: Some("t0".into())
                },
            ]
        );
    }

    #[test]
    fn a_token_another_tab_holds_is_forgotten_and_the_page_starts_afresh() {
        let mut link = Link::new(Remembered {
            token: Some("t0".into()),
            tabs: true,
            ..Remembered::default()
        });
        link.start();
        assert_eq!(
            link.tabs_answered(true),
            [Command::ForgetToken, Command::OpenSocket { resume: None }]
        );
    }

    #[test]
    fn without_a_channel_to_the_tabs_the_stored_token_is_used_at_once() {
        let mut link = Link::new(Remembered {
            token: Some("t0".into()),
            tabs: false,
            ..Remembered::default()
        });
        assert_eq!(opened_with(&link.start()), Some(Some("t0".into())));
    }

    #[test]
    fn each_welcome_token_is_kept_held_and_offered_on_the_next_connect() {
        let mut link = connected();
        let commands = link.received(&welcome("Ada", Some("t2")), NOW);
        assert!(commands.contains(&Command::StoreToken("t2".into())));
        assert!(commands.contains(&Command::HoldToken("t2".into())));
        let closed = link.socket_closed(1006, String::new(), NOW, true, 0.5);
        let (retry, _) = reconnect_timer(&closed).expect("a retry is planned");
        assert_eq!(
            opened_with(&link.timer_fired(Timer::Reconnect { retry }, NOW + 300.0)),
            Some(Some("t2".into()))
        );
    }

    #[test]
    fn a_close_clears_the_room_and_the_round_trip_then_counts_down_to_a_retry() {
        let mut link = connected();
        let commands = link.socket_closed(1006, String::new(), NOW, true, 0.5);
        assert_eq!(
            commands,
            [
                Command::ClearScene,
                Command::SetRoundTrip(None),
                Command::SetStatus(Status::Reconnecting {
                    retry_at: NOW + 250.0,
                    closed_because: None
                }),
                Command::StartTimer {
                    timer: Timer::Reconnect { retry: 1 },
                    after: Duration::from_millis(250)
                },
            ]
        );
        assert_eq!(
            link.timer_fired(Timer::Reconnect { retry: 1 }, NOW + 250.0),
            [
                Command::SetStatus(Status::Connecting),
                Command::OpenSocket {
                    resume: Some("t1".into())
                },
            ]
        );
    }

    #[test]
    fn a_policy_close_says_why_and_no_network_says_offline() {
        let mut link = connected();
        let commands = link.socket_closed(1008, "rate limit exceeded".into(), NOW, true, 0.0);
        assert!(commands.contains(&Command::SetStatus(Status::Reconnecting {
            retry_at: NOW,
            closed_because: Some("rate limit exceeded".into())
        })));
        let mut link = connected();
        let commands = link.socket_closed(1006, String::new(), NOW, false, 0.0);
        assert!(commands.contains(&Command::SetStatus(Status::Offline)));
        assert!(
            reconnect_timer(&commands).is_some(),
            "offline, the retries go on"
        );
    }

    #[test]
    fn the_backoff_grows_until_a_welcome_not_an_open() {
        let mut link = connected();
        let almost_one = 0.999_999;
        let mut delays = Vec::new();
        for _ in 0..3 {
            let closed = link.socket_closed(1006, String::new(), NOW, true, almost_one);
            let (retry, delay) = reconnect_timer(&closed).expect("a retry is planned");
            delays.push(delay.as_millis());
            link.timer_fired(Timer::Reconnect { retry }, NOW);
            // Opened and closed at once, before any welcome.
            link.socket_opened();
        }
        let failed = link.socket_failed(NOW, true, almost_one);
        delays.push(reconnect_timer(&failed).expect("a retry").1.as_millis());
        assert_eq!(delays, [499, 999, 1999, 3999]);

        let (retry, _) = reconnect_timer(&failed).expect("a retry");
        link.timer_fired(Timer::Reconnect { retry }, NOW);
        link.socket_opened();
        link.received(&welcome("Ada", None), NOW);
        let closed = link.socket_closed(1006, String::new(), NOW, true, almost_one);
        assert_eq!(
            reconnect_timer(&closed).expect("a retry").1.as_millis(),
            499,
            "welcomed, the next drop starts from the first bound"
        );
    }

    #[test]
    fn a_closing_page_does_not_reconnect_and_reopening_connects_once() {
        let mut link = connected();
        assert_eq!(link.close(), [Command::CloseSocket]);
        let closed = link.socket_closed(1000, String::new(), NOW, true, 0.5);
        assert_eq!(closed, [Command::ClearScene, Command::SetRoundTrip(None)]);
        assert_eq!(
            link.reopen(),
            [Command::OpenSocket {
                resume: Some("t1".into())
            }]
        );
        assert_eq!(link.reopen(), [], "only a closed page reopens");
    }

    #[test]
    fn a_retry_left_over_from_before_the_page_was_cached_does_nothing() {
        let mut link = connected();
        let closed = link.socket_closed(1006, String::new(), NOW, true, 0.5);
        let (retry, _) = reconnect_timer(&closed).expect("a retry is planned");
        link.close();
        assert_eq!(
            link.timer_fired(Timer::Reconnect { retry }, NOW),
            [],
            "closing: no retry"
        );
        assert!(opened_with(&link.reopen()).is_some());
        assert_eq!(
            link.timer_fired(Timer::Reconnect { retry }, NOW),
            [],
            "the reopen was the retry: no second socket"
        );
    }

    #[test]
    fn a_page_cached_while_asking_the_tabs_connects_on_the_answer_not_twice() {
        let mut link = Link::new(Remembered {
            token: Some("t0".into()),
            tabs: true,
            ..Remembered::default()
        });
        link.start();
        link.close();
        assert_eq!(link.reopen(), [], "the answer will connect");
        assert!(opened_with(&link.tabs_answered(false)).is_some());

        let mut link = Link::new(Remembered {
            token: Some("t0".into()),
            tabs: true,
            ..Remembered::default()
        });
        link.start();
        link.close();
        assert_eq!(
            opened_with(&link.tabs_answered(false)),
            None,
            "still closed: reopen connects"
        );
    }

    #[test]
    fn on_open_only_the_current_state_is_sent() {
        let mut link = fresh();
        link.start();
        assert_eq!(sent(&link.socket_opened()), []);

        let mut link = fresh();
        link.start();
        link.pointer_moved(Point { x: 0.25, y: 0.75 });
        link.pointer_moved(Point { x: 0.5, y: 0.5 });
        assert_eq!(
            sent(&link.socket_opened()),
            [ClientMessage::Move {
                x: 0.5,
                y: 0.5,
                anchor: None
            }]
        );

        link.set_away(true);
        assert_eq!(
            sent(&link.socket_opened()),
            [ClientMessage::Presence { away: true }],
            "away: no cursor to restore"
        );
    }

    #[test]
    fn a_pong_measures_the_round_trip_and_strangers_are_ignored() {
        let mut link = fresh();
        link.start();
        link.socket_opened();
        let welcomed = link.received(&welcome("Ada", None), NOW);
        assert_eq!(
            sent(&welcomed),
            [ClientMessage::Ping { id: 1 }],
            "a fresh connection pings at once"
        );
        assert_eq!(
            link.received(&ServerMessage::Pong { id: 1 }, NOW + 42.0),
            [Command::SetRoundTrip(Some(42.0))]
        );
        assert_eq!(link.received(&ServerMessage::Pong { id: 1 }, NOW), []);
        assert_eq!(link.received(&ServerMessage::Pong { id: 99 }, NOW), []);
        assert_eq!(
            sent(&link.received(&welcome("Ada", None), NOW)),
            [],
            "the round trip is known: no extra ping"
        );
    }

    #[test]
    fn lost_pings_are_forgotten() {
        let mut link = connected();
        for _ in 0..6 {
            link.timer_fired(Timer::Ping, NOW);
        }
        // Ids 2 to 7 went out; only the last four are remembered.
        assert_eq!(link.received(&ServerMessage::Pong { id: 3 }, NOW), []);
        assert_eq!(
            link.received(&ServerMessage::Pong { id: 4 }, NOW + 10.0),
            [Command::SetRoundTrip(Some(10.0))]
        );
    }

    #[test]
    fn pings_go_out_only_while_connected_and_slow_down_in_a_still_room() {
        let mut link = fresh();
        link.start();
        assert_eq!(
            link.timer_fired(Timer::Ping, NOW),
            [ping_in(30)],
            "not connected: no ping, and nothing happened since"
        );
        let mut link = connected();
        link.timer_fired(Timer::Ping, NOW);
        link.received(&ServerMessage::Left { id: "p".into() }, NOW);
        assert_eq!(
            link.timer_fired(Timer::Ping, NOW),
            [Command::Send(ClientMessage::Ping { id: 3 }), ping_in(5),],
            "a message came: the next ping is soon"
        );
        link.received(&ServerMessage::Pong { id: 3 }, NOW);
        assert_eq!(
            link.timer_fired(Timer::Ping, NOW)[1],
            ping_in(30),
            "a pong alone is no activity"
        );
    }

    #[test]
    fn only_a_move_that_went_out_makes_the_next_ping_soon() {
        let mut link = connected();
        link.timer_fired(Timer::Ping, NOW);
        // The frame asks for a send; until the socket took it, the room
        // counts as still.
        link.pointer_moved(Point { x: 0.5, y: 0.5 });
        link.frame(NOW);
        assert_eq!(link.timer_fired(Timer::Ping, NOW)[1], ping_in(30));
        link.move_sent();
        assert_eq!(link.timer_fired(Timer::Ping, NOW)[1], ping_in(5));
    }

    #[test]
    fn a_chosen_name_is_sent_after_a_welcome_that_does_not_know_it() {
        let mut link = Link::new(Remembered {
            name: Some("Grace".into()),
            ..Remembered::default()
        });
        link.start();
        link.socket_opened();
        assert!(
            sent(&link.received(&welcome("Blue Fox", None), NOW)).contains(&ClientMessage::Hello {
                name: "Grace".into()
            })
        );
        assert!(
            !sent(&link.received(&welcome("Grace", None), NOW))
                .iter()
                .any(|message| matches!(message, ClientMessage::Hello { .. }))
        );
    }

    #[test]
    fn a_new_name_is_checked_stored_and_told() {
        let mut link = connected();
        let (name, commands) = link.rename("  Ada Lovelace ").expect("a fine name");
        assert_eq!(name, "Ada Lovelace");
        assert_eq!(
            commands,
            [
                Command::StoreName("Ada Lovelace".into()),
                Command::Send(ClientMessage::Hello {
                    name: "Ada Lovelace".into()
                }),
            ]
        );
        assert_eq!(link.preferred_name(), Some("Ada Lovelace"));
        assert!(link.rename("   ").is_err());
        assert_eq!(link.preferred_name(), Some("Ada Lovelace"));
    }

    #[test]
    fn a_cleared_chat_bubble_goes_after_its_fade() {
        let mut link = connected();
        let said = |text: &str| ServerMessage::Said {
            id: "p".into(),
            text: text.into(),
        };
        assert_eq!(link.received(&said("hi"), NOW), []);
        let fade = Timer::ChatFade { id: "p".into() };
        assert_eq!(
            link.received(&said(""), NOW),
            [Command::StartTimer {
                timer: fade.clone(),
                after: CHAT_FADE
            }]
        );
        assert_eq!(
            link.timer_fired(fade, NOW),
            [Command::ForgetFadedChat { id: "p".into() }]
        );
    }

    #[test]
    fn quiet_mode_hides_the_cursor_sends_no_moves_and_is_remembered() {
        let mut link = connected();
        link.pointer_moved(Point { x: 0.5, y: 0.5 });
        assert_eq!(
            link.set_quiet(true),
            [
                Command::StoreQuiet(true),
                Command::Send(ClientMessage::Leave)
            ]
        );
        assert!(link.set_quiet(true).is_empty(), "already quiet");
        // The frame asked for before runs, and finds nothing to send.
        assert!(link.frame(1_000.0).is_empty());
        assert!(
            link.pointer_moved(Point { x: 0.6, y: 0.6 }).is_empty(),
            "no frame asked for, so no move sent"
        );
        assert_eq!(
            link.pointer(),
            Some(Point { x: 0.6, y: 0.6 }),
            "still followed"
        );
        // A reconnect stays quiet.
        link.socket_closed(1006, String::new(), NOW, true, 0.5);
        assert_eq!(sent(&link.socket_opened()), []);
        // Back: the cursor shows again where the pointer is.
        let back = link.set_quiet(false);
        assert_eq!(back[0], Command::StoreQuiet(false));
        assert!(back.contains(&Command::RequestFrame), "{back:?}");
    }

    #[test]
    fn a_spotlight_is_asked_for_again_after_a_reconnect() {
        let mut link = connected();
        assert_eq!(
            sent(&link.set_spotlight(true)),
            [ClientMessage::Spotlight { on: true }]
        );
        assert!(link.set_spotlight(true).is_empty());
        link.socket_closed(1006, String::new(), NOW, true, 0.5);
        assert_eq!(
            sent(&link.socket_opened()),
            [ClientMessage::Spotlight { on: true }]
        );
        link.set_spotlight(false);
        assert_eq!(sent(&link.socket_opened()), []);
    }

    #[test]
    fn a_page_that_was_quiet_comes_back_quiet() {
        let mut link = Link::new(Remembered {
            quiet: true,
            ..Remembered::default()
        });
        assert!(link.is_quiet());
        link.start();
        link.pointer_moved(Point { x: 0.2, y: 0.2 });
        assert_eq!(sent(&link.socket_opened()), [], "no move after the reload");
    }

    #[test]
    fn going_away_takes_the_cursor_off_the_board_once() {
        let mut link = connected();
        link.pointer_moved(Point { x: 0.5, y: 0.5 });
        assert_eq!(
            sent(&link.set_away(true)),
            [ClientMessage::Leave, ClientMessage::Presence { away: true }]
        );
        assert_eq!(link.pointer(), None);
        assert_eq!(link.set_away(true), [], "already away");
        assert_eq!(
            link.frame(NOW),
            [],
            "the pending position went with the cursor"
        );
        assert_eq!(
            sent(&link.set_away(false)),
            [ClientMessage::Presence { away: false }]
        );
    }

    #[test]
    fn moves_ask_for_one_frame_which_sends_the_latest() {
        let mut link = connected();
        assert_eq!(
            link.pointer_moved(Point { x: 0.1, y: 0.1 }),
            [Command::RequestFrame]
        );
        assert_eq!(link.pointer_moved(Point { x: 0.2, y: 0.2 }), []);
        assert_eq!(
            link.frame(100.0),
            [Command::SendMove(Point { x: 0.2, y: 0.2 })]
        );
        link.pointer_moved(Point { x: 0.3, y: 0.3 });
        assert_eq!(
            link.frame(105.0),
            [Command::RequestFrame],
            "too soon after the last send"
        );
        assert_eq!(
            link.frame(117.0),
            [Command::SendMove(Point { x: 0.3, y: 0.3 })]
        );
        assert_eq!(link.frame(134.0), []);
    }

    #[test]
    fn a_close_discards_the_position_not_yet_sent() {
        let mut link = connected();
        link.pointer_moved(Point { x: 0.1, y: 0.1 });
        link.socket_closed(1006, String::new(), NOW, true, 0.5);
        assert_eq!(link.frame(100.0), []);
    }
}
