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
//! The loop ends with an [`Ending`] that says whether and how to close;
//! dropping the [`Membership`] then tells the room, which announces `left`.

use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use cursors_protocol::binary::BINARY_SUBPROTOCOL;
use cursors_protocol::{
    ClientMessage, ErrorCode, POINTS_PER_SECOND, Point, REACTIONS_PER_SECOND, RoomName,
    ServerMessage,
};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::time::{Instant, MissedTickBehavior};

use crate::AppState;
use crate::admission::ConnectionPermit;
use crate::config::FanoutMode;
use crate::mailbox::Closed;
use crate::rate_limit::{RateLimiter, Verdict};
use crate::room::timer::sleep_until_some;
use crate::room::{DisconnectKind, Encoding, Membership};

/// Bytes the socket reads at a time. tungstenite's default (128 KiB) is
/// allocated per connection up front; our frames are tiny. Small, too,
/// because tungstenite zero-fills this many bytes before every read
/// attempt, including the one that finds nothing, and the connection's
/// loop makes one such attempt each time it writes a frame: at 4 KiB that
/// memset was 3% of a crowd server's CPU. A move is about 40 bytes.
const READ_BUFFER_BYTES: usize = 512;
/// Writes are collected up to this size before going to the socket.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;
/// Hard cap on what tungstenite may buffer for a socket that is not
/// draining; our mailbox already bounds what we hand it.
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;
/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    room: Option<String>,
    /// The token of an earlier `welcome`, to come back as the same user.
    resume: Option<String>,
}

/// `GET /ws?room=NAME`: checks the request (room, origin, caps), then
/// upgrades. Refusals are answered before the upgrade with a status and a
/// plain-text reason.
pub async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<ConnectQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (room, permit) = match app
        .admission
        .admit(peer.ip(), &headers, query.room.as_deref())
    {
        Ok(admitted) => admitted,
        Err(refusal) => {
            app.metrics.refused(refusal.reason());
            tracing::info!(%peer, reason = refusal.reason().as_str(), %refusal, "refused");
            return refusal.into_response();
        }
    };
    let max_message_bytes = app.config.max_message_bytes;
    upgrade
        // Offered by clients that want binary `cursors` frames.
        .protocols([BINARY_SUBPROTOCOL])
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(max_message_bytes)
        .max_frame_size(max_message_bytes)
        .on_upgrade(move |socket| {
            let connections = app.connections.clone();
            connections.track_future(run_connection(
                app,
                socket,
                room,
                query.resume,
                peer,
                permit,
            ))
        })
}

/// How a connection's loop ended.
#[derive(Debug)]
enum Ending {
    /// Send this close frame, then drop the socket.
    Close(u16, &'static str, DisconnectKind),
    /// The client sent a close frame (tungstenite answers it).
    ClientClosed,
    /// The connection vanished without a close frame.
    Vanished,
}

impl Ending {
    /// What the room makes of it: how long the user may come back.
    fn kind(&self) -> DisconnectKind {
        match self {
            Ending::Close(_, _, kind) => *kind,
            Ending::ClientClosed => DisconnectKind::Clean,
            Ending::Vanished => DisconnectKind::Dropped,
        }
    }
}

/// The life of one WebSocket. `_permit` holds this connection's place under
/// the connection caps until the function returns.
async fn run_connection(
    app: AppState,
    socket: WebSocket,
    room: RoomName,
    resume: Option<String>,
    peer: SocketAddr,
    _permit: ConnectionPermit,
) {
    app.metrics.connection_opened();
    let encoding = if socket.protocol().is_some() {
        Encoding::Binary
    } else {
        Encoding::Json
    };
    let mut membership = match app.hub.join(&room, encoding, resume.as_deref()).await {
        Ok(membership) => membership,
        Err(error) => {
            tracing::warn!(%peer, %room, %error, "could not join room");
            close(
                socket.split().0,
                close_code::ERROR,
                "could not join the room",
            )
            .await;
            app.metrics.connection_closed();
            return;
        }
    };
    tracing::info!(%peer, %room, id = membership.id(), "connected");
    let ending = Connection::new(&app, &membership)
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
    Done(Result<(), axum::Error>),
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
    rate_limiter: RateLimiter,
    /// Cursor chat has its own, lower limit; never closes on its own.
    say_limiter: RateLimiter,
    /// Reactions and points have theirs, lower still (PROTOCOL.md): a held
    /// key or a frantic clicker is dropped, not closed.
    react_limiter: RateLimiter,
    point_limiter: RateLimiter,
}

impl<'a> Connection<'a> {
    fn new(app: &'a AppState, membership: &'a Membership) -> Self {
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
            rate_limiter,
            say_limiter,
            react_limiter,
            point_limiter,
        }
    }

    async fn run(mut self, socket: WebSocket, room: &RoomName, peer: SocketAddr) -> Ending {
        let config = &self.app.config;
        let (mut sink, mut stream) = socket.split();
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
                    if let Err(ending) = self.write(&mut sink, &mut outgoing, room, peer).await {
                        break ending;
                    }
                }
                incoming = stream.next() => {
                    let message = match incoming {
                        None => break Ending::Vanished,
                        Some(Err(error)) => break self.read_failed(error, peer),
                        Some(Ok(message)) => message,
                    };
                    if let Some(ending) = self.receive(message).await {
                        break ending;
                    }
                }
                _ = heartbeat.tick() => {
                    if let Err(ending) = self.ping(&mut sink).await {
                        break ending;
                    }
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
            Ending::Close(code, reason, _) => close(sink, code, reason).await,
            Ending::ClientClosed | Ending::Vanished => {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.flush()).await;
            }
        }
        ending
    }

    /// Handles one frame from the client; returns an ending if the
    /// connection must end.
    async fn receive(&mut self, message: Message) -> Option<Ending> {
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
            // tungstenite answers pings and close frames by itself.
            Message::Ping(_) => return None,
            Message::Close(_) => return Some(Ending::ClientClosed),
        };
        self.app.metrics.message_in();
        let sent = match ClientMessage::parse(text.as_str()) {
            Ok(ClientMessage::Move { x, y }) => self.membership.move_to(Point { x, y }).await,
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

    /// Queues a frame for this client only. If its queue is full the mailbox
    /// is marked overflowed and the loop closes the connection next.
    fn answer(&self, message: &ServerMessage) {
        let _ = self
            .membership
            .mailbox()
            .push_event(Utf8Bytes::from(message.to_json()));
    }

    // ANCHOR: writer
    /// Writes every waiting frame with one flush; in the immediate fan-out,
    /// each frame with its own, as the handbook's per-message relay does
    /// (one `send` per move per client), so that the benchmark compares
    /// that design and not a batched variant of it. A client that does not take
    /// them within the write timeout is stuck and gets closed. While the
    /// write is stuck, the room may close the mailbox (the events behind it
    /// overflowed, or the user resumed elsewhere): that ends the connection
    /// at once.
    async fn write(
        &self,
        sink: &mut SplitSink<WebSocket, Message>,
        frames: &mut Vec<Message>,
        room: &RoomName,
        peer: SocketAddr,
    ) -> Result<(), Ending> {
        let count = frames.len() as u64;
        let bytes: u64 = frames.iter().map(payload_bytes).sum();
        let per_message = self.app.config.fanout == FanoutMode::Immediate;
        // Almost every write fits in the socket's buffer and is done at the
        // first try; only one that is not needs the timer and the watch on
        // the mailbox, so they are set up only then. A crowd server writes
        // up to 100,000 frames a second: one timer set and cancelled per
        // frame was measurable.
        let outcome = {
            let write = async {
                for frame in frames.drain(..) {
                    if per_message {
                        sink.send(frame).await?;
                    } else {
                        sink.feed(frame).await?;
                    }
                }
                sink.flush().await
            };
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
            WriteOutcome::Done(Err(_)) => Err(Ending::Vanished),
            WriteOutcome::TimedOut => {
                self.app.metrics.slow_client_closed();
                Err(Ending::Close(
                    close_code::POLICY,
                    "too slow: write timed out",
                    DisconnectKind::Expelled,
                ))
            }
            WriteOutcome::MailboxClosed(closed) => Err(self.mailbox_closed(closed, room, peer)),
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

    async fn ping(&mut self, sink: &mut SplitSink<WebSocket, Message>) -> Result<(), Ending> {
        if self.pong_due.is_none() {
            self.pong_due = Some(Instant::now() + self.app.config.pong_timeout());
        }
        match tokio::time::timeout(
            self.app.config.write_timeout(),
            sink.send(Message::Ping(Default::default())),
        )
        .await
        {
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
    fn read_failed(&self, error: axum::Error, peer: SocketAddr) -> Ending {
        let error = error.into_inner();
        let Some(error) = error.downcast_ref::<tungstenite::Error>() else {
            return Ending::Vanished;
        };
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
async fn close(mut sink: SplitSink<WebSocket, Message>, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
}

fn payload_bytes(frame: &Message) -> u64 {
    match frame {
        Message::Text(text) => text.len() as u64,
        Message::Binary(bytes) => bytes.len() as u64,
        _ => 0,
    }
}
