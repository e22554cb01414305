//! One simulated user: a real WebSocket that moves on a fixed schedule
//! (open loop: it never waits for replies) and times every position of the
//! other users it receives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cursors_protocol::binary::{BINARY_SUBPROTOCOL, for_each_cursor};
use cursors_protocol::{ClientMessage, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::coords;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bytes tungstenite reads (and first zero-fills) per read call. Small,
/// because the zero-filling is paid on every call, including the one that
/// finds the socket empty; a larger frame just takes a few reads.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Moves remembered per user for latency lookups: 4 s at 60 Hz.
const RING: u64 = 256;

/// When each user sent each recent move, shared by every user task (they
/// all run in this process), so a receiver can time a position it decodes.
pub struct SendClock {
    origin: Instant,
    /// Per user and `sequence % RING`: the sequence in the top 24 bits and
    /// microseconds since `origin` in the low 40.
    slots: Vec<AtomicU64>,
}

impl SendClock {
    pub fn new(users: u64) -> Arc<Self> {
        let slots = (0..users * RING)
            .map(|_| AtomicU64::new(u64::MAX))
            .collect();
        Arc::new(Self {
            origin: Instant::now(),
            slots,
        })
    }

    fn micros(&self, at: Instant) -> u64 {
        at.duration_since(self.origin).as_micros() as u64 & ((1 << 40) - 1)
    }

    fn record(&self, user: u64, sequence: u64, at: Instant) {
        let packed = (sequence << 40) | self.micros(at);
        self.slots[(user * RING + sequence % RING) as usize].store(packed, Ordering::Relaxed);
    }

    /// Microseconds from the send of `(user, sequence)` to `now`, if that
    /// send is still remembered.
    fn latency_micros(&self, user: u64, sequence: u64, now: Instant) -> Option<u64> {
        let packed = self
            .slots
            .get((user * RING + sequence % RING) as usize)?
            .load(Ordering::Relaxed);
        if packed == u64::MAX || packed >> 40 != sequence {
            return None;
        }
        Some(self.micros(now).saturating_sub(packed & ((1 << 40) - 1)))
    }
}

/// What one user does.
#[derive(Debug, Clone)]
pub struct Plan {
    pub user: u64,
    /// Users in the whole run (user numbers are `0..users`).
    pub users: u64,
    /// Moves per second; 0 for an idle user that only listens.
    pub rate: f64,
    /// First move at `start + phase`, so users do not move in lockstep.
    pub phase: Duration,
    pub start: Instant,
    /// Deliveries from here on are measured (before: warm-up).
    pub measure_from: Instant,
    pub stop_at: Instant,
    /// Stops reading (and moving) during this window.
    pub stall: Option<(Instant, Instant)>,
    /// Deliveries later than this count as delivered but not fresh.
    pub fresh_within: Duration,
    /// Decodes and times what it receives; other users read and discard,
    /// which keeps the generator's CPU for the sending schedule.
    pub observer: bool,
    /// Which server each user is connected to (`server_of(user)`), to time
    /// deliveries that crossed from one server to another apart.
    pub servers: ServerMap,
}

/// How users are dealt to servers: within each room, in turn.
#[derive(Debug, Clone, Copy)]
pub struct ServerMap {
    pub servers: u64,
    pub rooms: u64,
}

impl ServerMap {
    pub fn server_of(&self, user: u64) -> u64 {
        (user / self.rooms.max(1)) % self.servers.max(1)
    }
}

/// What one user saw during the measured window.
pub struct Report {
    /// Created on the first delivery: a histogram is hundreds of KB, and
    /// 10,000 idle users must not allocate gigabytes mid-measurement.
    pub latency_micros: Option<Histogram<u64>>,
    /// The same, for positions whose sender is on another server.
    pub cross_server_micros: Option<Histogram<u64>>,
    /// New positions: a sender's sequence newer than any seen before.
    /// Positions seen again (in a snapshot sent to catch up) do not count.
    pub delivered: u64,
    /// A sender's position older than one already seen: must stay 0.
    pub reordered: u64,
    pub fresh: u64,
    pub sent: u64,
    pub closed_early: bool,
}

/// The lean view of a server frame the generator needs: only `cursors`
/// positions matter, and their coordinates say who sent them (see
/// [`coords`]). Borrowing and skipping the rest keeps the generator's own
/// CPU low, so it measures the server rather than itself.
#[derive(Deserialize)]
struct Frame {
    #[serde(default)]
    moves: Vec<Position>,
}

#[derive(Deserialize)]
struct Position {
    x: f64,
    y: f64,
}

/// Microseconds from 1 µs to a minute, to three significant figures.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Connects (asking for binary `cursors` frames if `binary`) and reads the
/// welcome.
pub async fn connect(url: &str, binary: bool) -> Result<Socket> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request()?;
    if binary {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", BINARY_SUBPROTOCOL.parse()?);
    }
    // Nagle off, as browsers do for WebSockets: otherwise a small frame
    // waits for the ACK of the previous one (tens of milliseconds).
    // tungstenite zero-fills `read_buffer_size` bytes before every read; its
    // 128 KiB default made that memset a third of the generator's CPU.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let (mut socket, response) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true)
            .await
            .with_context(|| format!("connect {url}"))?;
    if binary && response.headers().get("Sec-WebSocket-Protocol").is_none() {
        bail!("the server did not accept {BINARY_SUBPROTOCOL}");
    }
    match socket.next().await {
        Some(Ok(Message::Text(text)))
            if matches!(
                ServerMessage::parse(text.as_str()),
                Ok(ServerMessage::Welcome { .. })
            ) =>
        {
            Ok(socket)
        }
        other => bail!("expected a welcome, got {other:?}"),
    }
}

/// Times one received position, if it is another user's and new.
#[allow(clippy::too_many_arguments)]
fn observe(
    plan: &Plan,
    clock: &SendClock,
    newest_seen: &mut [u64],
    report: &mut Report,
    fresh_micros: u64,
    now: Instant,
    x: f64,
    y: f64,
) {
    let Some((user, sent)) = coords::decode(x, y) else {
        return;
    };
    if user == plan.user {
        return; // our own position, echoed in the shared frame
    }
    let Some(newest) = newest_seen.get_mut(user as usize) else {
        return; // not a user of this run
    };
    if sent < *newest {
        report.reordered += 1;
    }
    if sent <= *newest {
        return; // seen already (a catch-up snapshot repeats positions)
    }
    *newest = sent;
    let Some(latency) = clock.latency_micros(user, sent, now) else {
        return;
    };
    if Duration::from_micros(latency) > now.duration_since(plan.measure_from) {
        // Sent before the measured window: first seen now because a catch-up
        // snapshot repeats it (a stalled user's last position, say), not
        // because it took this long.
        return;
    }
    report.delivered += 1;
    if latency <= fresh_micros {
        report.fresh += 1;
    }
    let histogram = report
        .latency_micros
        .get_or_insert_with(new_latency_histogram);
    let _ = histogram.record(latency.max(1));
    if plan.servers.server_of(user) != plan.servers.server_of(plan.user) {
        let histogram = report
            .cross_server_micros
            .get_or_insert_with(new_latency_histogram);
        let _ = histogram.record(latency.max(1));
    }
}

pub async fn run(mut socket: Socket, plan: Plan, clock: Arc<SendClock>) -> Report {
    let mut report = Report {
        latency_micros: None,
        cross_server_micros: None,
        delivered: 0,
        reordered: 0,
        fresh: 0,
        sent: 0,
        closed_early: false,
    };
    let fresh_micros = plan.fresh_within.as_micros() as u64;
    let moving = plan.rate > 0.0;
    let period = Duration::from_secs_f64(1.0 / plan.rate.max(0.001));
    let mut schedule = tokio::time::interval_at(plan.start + plan.phase, period);
    // Open loop: a late tick is skipped, never bunched up.
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sequence = 0u64;
    // Newest sequence seen from each sender, indexed by user. Only observers
    // fill it, on their first measured frame, so 10,000 idle users do not
    // allocate 10,000 tables.
    let mut newest_seen: Vec<u64> = Vec::new();

    loop {
        if let Some((from, until)) = plan.stall
            && Instant::now() >= from
            && Instant::now() < until
        {
            // Neither read nor write: the server must cope on its own.
            tokio::time::sleep_until(until.min(plan.stop_at)).await;
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep_until(plan.stop_at) => break,
            _ = schedule.tick(), if moving => {
                sequence += 1;
                let (x, y) = coords::encode(plan.user, sequence);
                let now = Instant::now();
                clock.record(plan.user, sequence, now);
                let text = ClientMessage::Move { x, y }.to_json();
                if socket.send(Message::text(text)).await.is_err() {
                    report.closed_early = true;
                    break;
                }
                if now >= plan.measure_from {
                    report.sent += 1;
                }
            }
            frame = socket.next() => {
                let frame = match frame {
                    Some(Ok(frame)) => frame,
                    Some(Err(_)) | None => {
                        report.closed_early = true;
                        break;
                    }
                };
                let now = Instant::now();
                if !plan.observer || now < plan.measure_from {
                    continue;
                }
                if newest_seen.is_empty() {
                    newest_seen = vec![0; plan.users as usize];
                }
                let mut observe = |x: f64, y: f64| observe(&plan, &clock, &mut newest_seen, &mut report, fresh_micros, now, x, y);
                match frame {
                    Message::Text(text) => {
                        if let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) {
                            frame.moves.iter().for_each(|position| observe(position.x, position.y));
                        }
                    }
                    Message::Binary(bytes) => {
                        let _ = for_each_cursor(&bytes, |_, x, y| observe(x, y));
                    }
                    _ => {}
                }
            }
        }
    }
    let _ = socket.close(None).await;
    report
}
