//! The WebSocket endpoint: the upgrade checks, then one task per connection.
//!
//! The connection task is a single `select!` loop over four things: the
//! server's shutdown token, the connection's mailbox (frames the room wants
//! written), the socket's incoming frames, and the heartbeat. Every message
//! the client is sent goes through the mailbox, including answers to its
//! own messages, so there is one bounded queue; pings and the close frame
//! are control frames the loop writes itself. Either way this task is the
//! socket's only writer.
//!
//! The handshake ([`handshake`]) and the writing of data frames
//! ([`frames`]) are ours, so that a frame's shared payload goes to the
//! socket without being copied; tungstenite reads the client's frames
//! (unmasking, reassembly, UTF-8 and size checks) and writes the control
//! frames, answering pings and close frames by itself. The two never write
//! at once, and neither starts inside the other's frame: a ping is written
//! to the end before the loop goes on; after a client's ping, the loop
//! flushes tungstenite's pong before it writes again; and a close frame
//! follows a given-up data write only if that write stopped between frames.
//!
//! The loop ends with an [`Ending`] that says whether and how to close;
//! dropping the [`Membership`] then tells the room, which announces `left`.

use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, close_code};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use cursors_protocol::binary::BINARY_SUBPROTOCOL;
use cursors_protocol::{
    ClientMessage, ErrorCode, POINTS_PER_SECOND, Point, REACTIONS_PER_SECOND, RoomName,
    ServerMessage, normalize_name,
};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use crate::AppState;
use crate::admission::{Admitted, ConnectionPermit, Refusal, Request};
use crate::config::FanoutMode;
use crate::mailbox::Closed;
use crate::rate_limit::{RateLimiter, Verdict};
use crate::room::timer::sleep_until_some;
use crate::room::{DisconnectKind, Encoding, Grant, Membership};

mod frames;
pub(crate) mod handshake;

use frames::StreamPosition;
use handshake::Handshake;

/// An upgraded connection: tungstenite reads it, and writes the control
/// frames; [`frames`] writes the data frames to the raw socket inside.
type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Bytes the socket reads at a time. tungstenite's default (128 KiB) is
/// allocated per connection up front; our frames are tiny. Small, too,
/// because tungstenite zero-fills this many bytes before every read
/// attempt, including the one that finds nothing, and the connection's
/// loop makes one such attempt each time it writes a frame: at 4 KiB that
/// memset was 3% of a crowd server's CPU. A move is about 40 bytes.
const READ_BUFFER_BYTES: usize = 512;
/// Hard cap on what tungstenite may buffer for a socket that is not
/// draining: it only writes control frames, of at most 125 bytes each.
const MAX_WRITE_BUFFER_BYTES: usize = 64 * 1024;
/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    room: Option<String>,
    /// The token of an earlier `welcome`, to come back as the same user.
    resume: Option<String>,
    /// The signed room token, when the server requires one (`--token-key`).
    token: Option<String>,
}

/// Close code of a socket whose room token ran out (PROTOCOL.md): 4000 and
/// up are the application's own; 4401 echoes HTTP's 401.
pub const TOKEN_EXPIRED: u16 = 4401;

/// `GET /ws?room=NAME`: checks the request (room, origin, caps), then
/// upgrades. Refusals are answered before the upgrade with a status and a
/// plain-text reason.
pub async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<ConnectQuery>,
    handshake: Handshake,
) -> Response {
    let request = Request {
        address: peer.ip(),
        headers: &headers,
        room: query.room.as_deref(),
        token: query.token.as_deref(),
        now: unix_now(),
    };
    let Admitted {
        room,
        permit,
        claims,
    } = match app.admission.admit(request) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            app.metrics.refused(refusal.reason());
            tracing::info!(%peer, reason = refusal.reason().as_str(), %refusal, "refused");
            return refusal.into_response();
        }
    };
    let max_message_bytes = app.config.max_message_bytes;
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        // Control frames are written at once, not collected.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes));
    // Offered by clients that want binary `cursors` frames.
    let encoding = if handshake.offers(BINARY_SUBPROTOCOL) {
        Encoding::Binary
    } else {
        Encoding::Json
    };
    let (response, on_upgrade) =
        handshake.accept((encoding == Encoding::Binary).then_some(BINARY_SUBPROTOCOL));
    let connections = app.connections.clone();
    // The socket exists once hyper has sent the answer below.
    tokio::spawn(connections.track_future(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::info!(%peer, %error, "upgrade failed");
                return;
            }
        };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        // A `name` claim the protocol would refuse as a name is ignored
        // rather than shown cut or changed.
        let grant = Grant {
            expires: claims.as_ref().map(|claims| claims.exp),
            verified_name: claims
                .and_then(|claims| claims.name)
                .and_then(|name| normalize_name(&name).ok()),
        };
        run_connection(
            app,
            socket,
            encoding,
            room,
            query.resume,
            grant,
            peer,
            permit,
        )
        .await;
    }));
    response
}

/// How a connection's loop ended.
#[derive(Debug)]
enum Ending {
    /// Send this close frame, then drop the socket.
    Close(u16, &'static str, DisconnectKind),
    /// Drop the socket without a close frame: a write was given up in the
    /// middle of a data frame, and whatever followed would be read as the
    /// rest of that frame's payload. (The client is not reading anyway.)
    Abandoned(&'static str, DisconnectKind),
    /// The client sent a close frame (tungstenite answers it).
    ClientClosed,
    /// The connection vanished without a close frame.
    Vanished,
}

impl Ending {
    /// This ending once a data write was given up with the stream at
    /// `position`: no close frame can follow one stopped inside a frame.
    fn after_given_up_write(self, position: StreamPosition) -> Ending {
        match (self, position) {
            (Ending::Close(_, reason, kind), StreamPosition::InsideFrame) => {
                Ending::Abandoned(reason, kind)
            }
            (ending, _) => ending,
        }
    }

    /// What the room makes of it: how long the user may come back.
    fn kind(&self) -> DisconnectKind {
        match self {
            Ending::Close(_, _, kind) | Ending::Abandoned(_, kind) => *kind,
            Ending::ClientClosed => DisconnectKind::Clean,
            Ending::Vanished => DisconnectKind::Dropped,
        }
    }
}

/// Seconds since the Unix epoch, as tokens count time.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The instant a token's `exp` (Unix seconds) falls on.
fn instant_of(exp: u64) -> Instant {
    Instant::now() + Duration::from_secs(exp.saturating_sub(unix_now()))
}

/// The life of one WebSocket. `_permit` holds this connection's place under
/// the connection caps until the function returns; `grant` says when its
/// room token runs out and which name it vouches for, if it has one.
#[allow(clippy::too_many_arguments)]
async fn run_connection(
    app: AppState,
    socket: Socket,
    encoding: Encoding,
    room: RoomName,
    resume: Option<String>,
    grant: Grant,
    peer: SocketAddr,
    _permit: ConnectionPermit,
) {
    app.metrics.connection_opened();
    let mut membership = match app
        .hub
        .join(&room, encoding, resume.as_deref(), grant.clone())
        .await
    {
        Ok(membership) => membership,
        Err(error) => {
            tracing::warn!(%peer, %room, %error, "could not join room");
            close(socket, close_code::ERROR, "could not join the room").await;
            app.metrics.connection_closed();
            return;
        }
    };
    tracing::info!(%peer, %room, id = membership.id(), "connected");
    let ends = grant.expires.map(instant_of);
    let name_is_verified = grant.verified_name.is_some();
    let ending = Connection::new(&app, &membership, &room, ends, name_is_verified)
        .run(socket, &room, peer)
        .await;
    tracing::info!(%peer, %room, id = membership.id(), ?ending, "disconnected");
    membership.set_ending(ending.kind());
    drop(membership);
    app.metrics.connection_closed();
}

/// How a connection's write of its waiting frames ended.
enum WriteOutcome {
    /// The socket took them, or failed (the peer is gone).
    Done(std::io::Result<()>),
    /// The client did not take them within the write timeout.
    TimedOut,
    /// The room closed the mailbox while the write was stuck.
    MailboxClosed(Closed),
}

/// The social messages with a limit of their own.
#[derive(Debug, Clone, Copy)]
enum Limit {
    React,
    Point,
}

struct Connection<'a> {
    app: &'a AppState,
    membership: &'a Membership,
    /// When the last unanswered ping must have been answered by.
    pong_due: Option<Instant>,
    room: RoomName,
    /// When the room token runs out: the socket does not outlive it.
    token_ends: Option<Instant>,
    /// The name comes from the room token: a `hello` cannot change it.
    name_is_verified: bool,
    rate_limiter: RateLimiter,
    /// Cursor chat has its own, lower limit; never closes on its own.
    say_limiter: RateLimiter,
    /// Reactions and points have theirs, lower still (PROTOCOL.md): a held
    /// key or a frantic clicker is dropped, not closed.
    react_limiter: RateLimiter,
    point_limiter: RateLimiter,
}

impl<'a> Connection<'a> {
    fn new(
        app: &'a AppState,
        membership: &'a Membership,
        room: &RoomName,
        token_ends: Option<Instant>,
        name_is_verified: bool,
    ) -> Self {
        let config = &app.config;
        let now = std::time::Instant::now();
        let rate_limiter = RateLimiter::new(
            config.rate_limit,
            config.rate_burst,
            config.rate_abuse_secs,
            now,
        );
        let say_limiter =
            RateLimiter::new(config.say_rate_limit, config.say_rate_limit, u32::MAX, now);
        let react_limiter =
            RateLimiter::new(REACTIONS_PER_SECOND, REACTIONS_PER_SECOND, u32::MAX, now);
        let point_limiter = RateLimiter::new(POINTS_PER_SECOND, POINTS_PER_SECOND, u32::MAX, now);
        Self {
            app,
            membership,
            pong_due: None,
            room: room.clone(),
            token_ends,
            name_is_verified,
            rate_limiter,
            say_limiter,
            react_limiter,
            point_limiter,
        }
    }

    async fn run(mut self, mut socket: Socket, room: &RoomName, peer: SocketAddr) -> Ending {
        let config = &self.app.config;
        let mailbox = self.membership.mailbox().clone();
        let mut outgoing = Vec::new();
        let mut heartbeat = tokio::time::interval_at(
            Instant::now() + config.ping_interval(),
            config.ping_interval(),
        );
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let ending = loop {
            tokio::select! {
                () = self.app.shutdown.cancelled() => {
                    break Ending::Close(close_code::AWAY, "server shutting down", DisconnectKind::Dropped);
                }
                () = mailbox.ready() => {
                    if let Err(closed) = mailbox.drain_into(&mut outgoing) {
                        break self.mailbox_closed(closed, room, peer);
                    }
                    if let Err(ending) = self.write(&mut socket, &mut outgoing, room, peer).await {
                        break ending;
                    }
                }
                incoming = socket.next() => {
                    let message = match incoming {
                        None => break Ending::Vanished,
                        Some(Err(error)) => break self.read_failed(error, peer),
                        Some(Ok(message)) => message,
                    };
                    if message.is_ping() {
                        // tungstenite queued a pong, which it writes on its
                        // next read or flush; our own writes must not start
                        // until all of it is out.
                        if let Err(ending) = self.flush_control(&mut socket).await {
                            break ending;
                        }
                    }
                    if let Some(ending) = self.receive(message).await {
                        break ending;
                    }
                }
                _ = heartbeat.tick() => {
                    if let Err(ending) = self.ping(&mut socket).await {
                        break ending;
                    }
                }
                () = sleep_until_some(self.token_ends) => {
                    tracing::info!(%peer, %room, "closing: the room token expired");
                    break Ending::Close(TOKEN_EXPIRED, "token expired", DisconnectKind::Clean);
                }
                // No timer at all while no ping is unanswered (this loop
                // turns with every frame in and out).
                () = sleep_until_some(self.pong_due) => {
                    self.app.metrics.heartbeat_timed_out();
                    tracing::info!(%peer, %room, "closing: no pong within the timeout");
                    break Ending::Close(close_code::POLICY, "no pong within the timeout", DisconnectKind::Dropped);
                }
            }
        };
        match ending {
            Ending::Close(code, reason, _) => close(socket, code, reason).await,
            Ending::Abandoned(reason, _) => {
                tracing::info!(%peer, %room, reason, "dropped without a close frame");
            }
            Ending::ClientClosed | Ending::Vanished => {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.flush()).await;
            }
        }
        ending
    }

    /// Handles one frame from the client; returns an ending if the
    /// connection must end.
    async fn receive(&mut self, message: tungstenite::Message) -> Option<Ending> {
        use tungstenite::Message;
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            match self.rate_limiter.check(std::time::Instant::now()) {
                Verdict::Allow => {}
                Verdict::Drop => {
                    self.app.metrics.rate_limited();
                    return None;
                }
                Verdict::Abuse => {
                    self.app.metrics.abuse_closed();
                    return Some(Ending::Close(
                        close_code::POLICY,
                        "rate limit exceeded",
                        DisconnectKind::Expelled,
                    ));
                }
            }
        }
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                self.refuse("binary frames are not part of the protocol; send JSON text");
                return None;
            }
            Message::Pong(_) => {
                self.pong_due = None;
                return None;
            }
            // tungstenite answers pings and close frames by itself, and
            // hands whole messages only, never a raw frame.
            Message::Ping(_) | Message::Frame(_) => return None,
            Message::Close(_) => return Some(Ending::ClientClosed),
        };
        self.app.metrics.message_in();
        let sent = match ClientMessage::parse(text.as_str()) {
            Ok(ClientMessage::Move { x, y, anchor }) => {
                self.membership.move_to(Point { x, y }, anchor).await
            }
            Ok(ClientMessage::Hello { .. }) if self.name_is_verified => {
                self.refuse("your name comes from your room token and cannot be changed");
                Ok(())
            }
            Ok(ClientMessage::Hello { name }) => self.membership.rename(name).await,
            Ok(ClientMessage::Leave) => self.membership.hide().await,
            Ok(ClientMessage::Presence { away }) => self.membership.set_away(away).await,
            Ok(ClientMessage::Follow { id }) => self.membership.follow(id).await,
            Ok(ClientMessage::Say { text }) => {
                match self.say_limiter.check(std::time::Instant::now()) {
                    // Typing sends one `say` per keystroke; past the limit the
                    // excess is dropped (the last one sent stays visible).
                    Verdict::Allow => self.membership.say(text).await,
                    Verdict::Drop | Verdict::Abuse => {
                        self.app.metrics.rate_limited();
                        Ok(())
                    }
                }
            }
            // ANCHOR: ws-react
            Ok(ClientMessage::React { emoji }) => {
                if self.within(Limit::React) {
                    self.membership.react(emoji).await
                } else {
                    Ok(())
                }
            }
            // ANCHOR_END: ws-react
            Ok(ClientMessage::Point { x, y }) => {
                if self.within(Limit::Point) {
                    self.membership.point(Point { x, y }).await
                } else {
                    Ok(())
                }
            }
            // Toggles are not limited beyond the connection's own limit:
            // dropping an `off` would leave a laser on for everyone, and the
            // room relays only changes.
            Ok(ClientMessage::Laser { on }) => self.membership.set_laser(on).await,
            Ok(ClientMessage::Spotlight { on }) => self.membership.set_spotlight(on).await,
            Ok(ClientMessage::Ping { id }) => {
                self.answer(&ServerMessage::Pong { id });
                Ok(())
            }
            Ok(ClientMessage::Refresh { token }) => {
                self.refresh(&token);
                Ok(())
            }
            Err(error) => {
                self.refuse(&error.to_string());
                Ok(())
            }
        };
        // The room only goes away under us while the server shuts down.
        sent.err().map(|_| {
            Ending::Close(
                close_code::AWAY,
                "server shutting down",
                DisconnectKind::Dropped,
            )
        })
    }

    /// Whether one more reaction or point fits its limit now; the excess is
    /// counted as a rate-limited drop and answered with nothing.
    fn within(&mut self, limit: Limit) -> bool {
        let limiter = match limit {
            Limit::React => &mut self.react_limiter,
            Limit::Point => &mut self.point_limiter,
        };
        match limiter.check(std::time::Instant::now()) {
            Verdict::Allow => true,
            Verdict::Drop | Verdict::Abuse => {
                self.app.metrics.rate_limited();
                false
            }
        }
    }

    fn refuse(&self, reason: &str) {
        self.app.metrics.bad_message();
        self.answer(&ServerMessage::Error {
            code: ErrorCode::BadMessage,
            message: reason.to_owned(),
        });
    }

    /// A new room token for this socket: checked like the first one (same
    /// room), it moves the socket's end to its `exp`. A refused one changes
    /// nothing: the socket still ends when its token does.
    fn refresh(&mut self, token: &str) {
        let Some(key) = &self.app.admission.tokens else {
            self.refuse("refresh: this server asks for no token");
            return;
        };
        match key.verify(Some(token), self.room.as_str(), unix_now()) {
            Ok(claims) => {
                self.token_ends = Some(instant_of(claims.exp));
                self.answer(&ServerMessage::Refreshed {
                    expires: claims.exp,
                });
            }
            Err(error) => {
                self.app
                    .metrics
                    .refused(Refusal::Token(error.clone()).reason());
                self.refuse(&format!("refresh refused: {error}"));
            }
        }
    }

    /// Queues a frame for this client only. If its queue is full the mailbox
    /// is marked overflowed and the loop closes the connection next.
    fn answer(&self, message: &ServerMessage) {
        let _ = self
            .membership
            .mailbox()
            .push_event(Utf8Bytes::from(message.to_json()));
    }

    // ANCHOR: writer
    /// Writes every waiting frame at once, straight from the shared
    /// payloads ([`frames::write`]); in the immediate fan-out, each frame
    /// with a write of its own, as the handbook's per-message relay does
    /// (one `send` per move per client), so that the benchmark compares
    /// that design and not a batched variant of it. A client that does not take
    /// them within the write timeout is stuck and gets closed. While the
    /// write is stuck, the room may close the mailbox (the events behind it
    /// overflowed, or the user resumed elsewhere): that ends the connection
    /// at once; if the write stopped inside a frame, without a close frame.
    async fn write(
        &self,
        socket: &mut Socket,
        frames: &mut Vec<Message>,
        room: &RoomName,
        peer: SocketAddr,
    ) -> Result<(), Ending> {
        let count = frames.len() as u64;
        let bytes: u64 = frames
            .iter()
            .filter_map(frames::data)
            .map(|(_, payload)| payload.len() as u64)
            .sum();
        let per_message = self.app.config.fanout == FanoutMode::Immediate;
        // Almost every write fits in the socket's buffer and is done at the
        // first try; only one that is not needs the timer and the watch on
        // the mailbox, so they are set up only then. A crowd server writes
        // up to 100,000 frames a second: one timer set and cancelled per
        // frame was measurable.
        let mut position = StreamPosition::BetweenFrames;
        let outcome = {
            let write = frames::write(socket.get_mut(), frames, per_message, &mut position);
            tokio::pin!(write);
            match futures_util::poll!(write.as_mut()) {
                Poll::Ready(result) => WriteOutcome::Done(result),
                // Boxed: the rare stuck write should not make every
                // connection's task bigger for good.
                Poll::Pending => {
                    Box::pin(async {
                        tokio::select! {
                            written = tokio::time::timeout(self.app.config.write_timeout(), write) => {
                                written.map_or(WriteOutcome::TimedOut, WriteOutcome::Done)
                            }
                            closed = self.membership.mailbox().closed() => WriteOutcome::MailboxClosed(closed),
                        }
                    })
                    .await
                }
            }
        };
        // Frames a stuck write did not send are dropped with it.
        frames.clear();
        match outcome {
            WriteOutcome::Done(Ok(())) => {
                self.membership.mailbox().written();
                self.app.metrics.frames_written(count, bytes);
                Ok(())
            }
            // The socket failed: the flush at the end writes nothing more,
            // since tungstenite holds no control frame between our writes.
            WriteOutcome::Done(Err(_)) => Err(Ending::Vanished),
            WriteOutcome::TimedOut => {
                self.app.metrics.slow_client_closed();
                let ending = Ending::Close(
                    close_code::POLICY,
                    "too slow: write timed out",
                    DisconnectKind::Expelled,
                );
                Err(ending.after_given_up_write(position))
            }
            WriteOutcome::MailboxClosed(closed) => Err(self
                .mailbox_closed(closed, room, peer)
                .after_given_up_write(position)),
        }
    }
    // ANCHOR_END: writer

    /// How the connection ends when the room closed its mailbox.
    fn mailbox_closed(&self, closed: Closed, room: &RoomName, peer: SocketAddr) -> Ending {
        match closed {
            Closed::Overflowed => {
                self.app.metrics.slow_client_closed();
                tracing::info!(%peer, %room, "closing: client is not reading");
                Ending::Close(
                    close_code::POLICY,
                    "too slow: outbound queue full",
                    DisconnectKind::Expelled,
                )
            }
            Closed::Superseded => Ending::Close(
                close_code::NORMAL,
                "resumed on a newer connection",
                DisconnectKind::Dropped,
            ),
        }
    }

    async fn ping(&mut self, socket: &mut Socket) -> Result<(), Ending> {
        if self.pong_due.is_none() {
            self.pong_due = Some(Instant::now() + self.app.config.pong_timeout());
        }
        self.control(socket.send(tungstenite::Message::Ping(Default::default())))
            .await
    }

    /// Finishes writing the control frames tungstenite holds.
    async fn flush_control(&self, socket: &mut Socket) -> Result<(), Ending> {
        self.control(socket.flush()).await
    }

    /// Waits for a control frame's write, as long as any write may take.
    async fn control(
        &self,
        write: impl Future<Output = Result<(), tungstenite::Error>>,
    ) -> Result<(), Ending> {
        match tokio::time::timeout(self.app.config.write_timeout(), write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Ending::Vanished),
            Err(_elapsed) => Err(Ending::Close(
                close_code::POLICY,
                "too slow: write timed out",
                DisconnectKind::Expelled,
            )),
        }
    }

    /// Turns a read error into the close the protocol asks for.
    fn read_failed(&self, error: tungstenite::Error, peer: SocketAddr) -> Ending {
        match error {
            tungstenite::Error::Capacity(_) => {
                self.app.metrics.oversized_closed();
                tracing::info!(%peer, "closing: frame over the size limit");
                Ending::Close(
                    close_code::SIZE,
                    "message too big",
                    DisconnectKind::Expelled,
                )
            }
            tungstenite::Error::Utf8(_) => Ending::Close(
                close_code::INVALID,
                "invalid UTF-8",
                DisconnectKind::Expelled,
            ),
            // The peer's TCP connection ended without a close frame: the
            // network went, or the process died. Not misbehaviour: the user
            // keeps their place for the resume grace.
            tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            ) => Ending::Vanished,
            tungstenite::Error::Protocol(violation) => {
                tracing::info!(%peer, %violation, "closing: protocol violation");
                Ending::Close(
                    close_code::PROTOCOL,
                    "protocol violation",
                    DisconnectKind::Expelled,
                )
            }
            _ => Ending::Vanished,
        }
    }
}

/// Sends a close frame (best effort, bounded in time) and drops the socket.
async fn close(mut socket: Socket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: tungstenite::Utf8Bytes::from_static(reason),
    };
    let _ = tokio::time::timeout(
        CLOSE_TIMEOUT,
        socket.send(tungstenite::Message::Close(Some(frame))),
    )
    .await;
}
