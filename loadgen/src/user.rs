//! One simulated user: a real WebSocket that places its pointer, moves on
//! a fixed schedule if it is a mover (open loop: it never waits for
//! replies), and counts what it receives; observers also time every
//! position of the other users they receive.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cursors_protocol::binary::{BINARY_SUBPROTOCOL, for_each_cursor};
use cursors_protocol::{ClientMessage, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
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
    /// Sends one move at its home spot before anything else (see
    /// [`coords::home`]), so that it has a place on the board even if it
    /// never moves: in a crowd, what a receiver is shown depends on it.
    pub place: bool,
    /// First move at `start + phase`, so users do not move in lockstep.
    pub phase: Duration,
    pub start: Instant,
    /// The steady window: deliveries in it are timed, traffic counted.
    pub measure_from: Instant,
    pub stop_at: Instant,
    /// A second window, while others join and leave (see `churn.rs`):
    /// traffic counted apart, latency timed apart. The user runs until
    /// its end.
    pub churn: Option<(Instant, Instant)>,
    /// Stops reading (and moving) during this window.
    pub stall: Option<(Instant, Instant)>,
    /// Deliveries later than this count as delivered but not fresh.
    pub fresh_within: Duration,
    /// Decodes and times what it receives; other users only count frames
    /// and bytes, which keeps the generator's CPU for the sending schedule.
    pub observer: bool,
    /// Which server each user is connected to (`server_of(user)`), to time
    /// deliveries that crossed from one server to another apart.
    pub servers: ServerMap,
}

impl Plan {
    /// The measured window `at` falls in, if any.
    fn window(&self, at: Instant) -> Option<Window> {
        if at >= self.measure_from && at < self.stop_at {
            Some(Window::Steady)
        } else {
            match self.churn {
                Some((from, until)) if at >= from && at < until => Some(Window::Churn),
                _ => None,
            }
        }
    }

    /// When the user stops.
    fn end(&self) -> Instant {
        self.churn
            .map_or(self.stop_at, |(_, until)| until.max(self.stop_at))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    Steady,
    Churn,
}

/// Whether user number `user` moves when `fraction` of the users do: the
/// movers are spread evenly over the user numbers (with 0.1, every tenth),
/// so every room, and every stretch of numbers, holds its share.
pub fn is_mover(user: u64, fraction: f64) -> bool {
    let fraction = fraction.clamp(0.0, 1.0);
    ((user + 1) as f64 * fraction).floor() > (user as f64 * fraction).floor()
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

/// Frames and bytes a receiver got in one window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Traffic {
    /// Every frame, of any type.
    pub frames: u64,
    /// Their size on the wire: WebSocket header and payload.
    pub bytes: u64,
    /// `cursors` frames: the updates of the receiver's board.
    pub cursor_frames: u64,
}

impl Traffic {
    fn count(&mut self, message: &Message) {
        let (payload, cursors) = match message {
            Message::Text(text) => (text.len(), text.as_str().starts_with(CURSORS_PREFIX)),
            // The binary subprotocol encodes only `cursors` frames.
            Message::Binary(bytes) => (bytes.len(), true),
            Message::Ping(bytes) | Message::Pong(bytes) => (bytes.len(), false),
            Message::Close(_) | Message::Frame(_) => (0, false),
        };
        self.frames += 1;
        self.bytes += wire_bytes(payload);
        self.cursor_frames += u64::from(cursors);
    }
}

/// How every JSON `cursors` frame starts (serde writes the tag first), so
/// a receiver that does not parse can still tell updates from the rest.
const CURSORS_PREFIX: &str = r#"{"type":"cursors""#;

/// Bytes of an unmasked server frame with `payload` bytes: the WebSocket
/// header (2, 4 or 10 bytes) and the payload.
fn wire_bytes(payload: usize) -> u64 {
    let header = match payload {
        0..126 => 2,
        126..65_536 => 4,
        _ => 10,
    };
    (header + payload) as u64
}

/// What one user saw during the measured windows.
pub struct Report {
    /// Other users' new positions in the steady window, and in the churn
    /// window (observers only).
    pub steady_deliveries: Deliveries,
    pub churn_deliveries: Deliveries,
    /// A sender's position older than one already seen: must stay 0.
    pub reordered: u64,
    /// Moves sent in the steady window, and in the churn window.
    pub sent: u64,
    pub sent_during_churn: u64,
    /// The sequence of this user's last move (0: it never moved).
    pub last_sequence: u64,
    /// Newest sequence seen from each sender, indexed by user number
    /// (observers only; empty for the others): what they saw at the end.
    pub newest_seen: Vec<u64>,
    pub closed_early: bool,
    pub steady: Traffic,
    pub during_churn: Traffic,
    /// Most positions in one `cursors` frame (observers only): in a crowd
    /// at most `--visible-cursors`.
    pub largest_cursors_frame: usize,
}

/// The positions one observer received in one window, and how late.
#[derive(Default)]
pub struct Deliveries {
    /// Created on the first delivery: a histogram is hundreds of KB, and
    /// 10,000 idle users must not allocate gigabytes mid-measurement.
    pub latency_micros: Option<Histogram<u64>>,
    /// The same, for positions whose sender is on another server.
    pub cross_server_micros: Option<Histogram<u64>>,
    /// New positions: a sender's sequence newer than any seen before.
    /// Positions seen again (in a snapshot sent to catch up) do not count.
    pub delivered: u64,
    /// Of them, those that arrived within `Plan::fresh_within`.
    pub fresh: u64,
}

impl Deliveries {
    fn record(&mut self, latency_micros: u64, fresh: bool, crossed_servers: bool) {
        self.delivered += 1;
        self.fresh += u64::from(fresh);
        let latency = latency_micros.max(1);
        let _ = self
            .latency_micros
            .get_or_insert_with(new_latency_histogram)
            .record(latency);
        if crossed_servers {
            let _ = self
                .cross_server_micros
                .get_or_insert_with(new_latency_histogram)
                .record(latency);
        }
    }
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

/// The local addresses connections are made from. One loopback address
/// has about 28,000 ephemeral ports (`ip_local_port_range`), shared with
/// every other program and with the sockets of earlier runs still in
/// TIME_WAIT; spreading ten thousand connections over several addresses
/// of 127.0.0.0/8 leaves each address plenty.
#[derive(Debug, Clone, Copy)]
pub struct Sources {
    /// 1: no explicit address, the kernel picks (127.0.0.1 for loopback).
    pub addresses: u8,
}

impl Sources {
    /// The address connection number `index` is made from, if chosen here.
    pub fn for_connection(&self, index: u64) -> Option<IpAddr> {
        (self.addresses > 1).then(|| {
            let last = 1 + (index % u64::from(self.addresses)) as u8;
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
        })
    }
}

/// Connects (from `source` if given; asking for binary `cursors` frames if
/// `binary`) and reads the welcome.
pub async fn connect(url: &str, binary: bool, source: Option<IpAddr>) -> Result<Socket> {
    let mut request = url.into_client_request()?;
    if binary {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", BINARY_SUBPROTOCOL.parse()?);
    }
    // tungstenite zero-fills `read_buffer_size` bytes before every read; its
    // 128 KiB default made that memset a third of the generator's CPU.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let (mut socket, response) = match source {
        // Nagle off, as browsers do for WebSockets: otherwise a small frame
        // waits for the ACK of the previous one (tens of milliseconds).
        None => tokio_tungstenite::connect_async_with_config(request, Some(config), true)
            .await
            .with_context(|| format!("connect {url}"))?,
        Some(source) => {
            let stream = connect_from(source, request.uri())
                .await
                .with_context(|| format!("connect {url} from {source}"))?;
            tokio_tungstenite::client_async_with_config(
                request,
                MaybeTlsStream::Plain(stream),
                Some(config),
            )
            .await
            .with_context(|| format!("upgrade {url} from {source}"))?
        }
    };
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

/// The TCP connection to `uri`'s host and port, from `source`.
async fn connect_from(
    source: IpAddr,
    uri: &tokio_tungstenite::tungstenite::http::Uri,
) -> Result<TcpStream> {
    let host = uri.host().context("no host in the URL")?;
    let port = uri.port_u16().unwrap_or(80);
    let server: SocketAddr = tokio::net::lookup_host((host, port))
        .await?
        .find(|address| address.is_ipv4() == source.is_ipv4())
        .with_context(|| format!("{host} has no address of {source}'s family"))?;
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // An ephemeral port still in TIME_WAIT from an earlier run may be
    // reused for this new connection to another server port.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Times one received position, if it is another user's and new.
#[allow(clippy::too_many_arguments)]
fn observe(
    plan: &Plan,
    clock: &SendClock,
    report: &mut Report,
    window: Window,
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
    let Some(newest) = report.newest_seen.get_mut(user as usize) else {
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
    let window_start = match window {
        Window::Steady => plan.measure_from,
        Window::Churn => plan.churn.map_or(plan.measure_from, |(from, _)| from),
    };
    if Duration::from_micros(latency) > now.duration_since(window_start) {
        // Sent before the window: first seen now because a catch-up
        // snapshot repeats it (a stalled user's last position, say), not
        // because it took this long.
        return;
    }
    let deliveries = match window {
        Window::Steady => &mut report.steady_deliveries,
        Window::Churn => &mut report.churn_deliveries,
    };
    deliveries.record(
        latency,
        latency <= fresh_micros,
        plan.servers.server_of(user) != plan.servers.server_of(plan.user),
    );
}

/// Sends move number `sequence` (stamped in the shared clock).
async fn send_move(socket: &mut Socket, plan: &Plan, clock: &SendClock, sequence: u64) -> bool {
    let (x, y) = coords::encode(plan.user, sequence);
    clock.record(plan.user, sequence, Instant::now());
    let text = ClientMessage::Move { x, y, anchor: None }.to_json();
    socket.send(Message::text(text)).await.is_ok()
}

pub async fn run(mut socket: Socket, plan: Plan, clock: Arc<SendClock>) -> Report {
    let mut report = Report {
        steady_deliveries: Deliveries::default(),
        churn_deliveries: Deliveries::default(),
        reordered: 0,
        sent: 0,
        sent_during_churn: 0,
        last_sequence: 0,
        newest_seen: Vec::new(),
        closed_early: false,
        steady: Traffic::default(),
        during_churn: Traffic::default(),
        largest_cursors_frame: 0,
    };
    let fresh_micros = plan.fresh_within.as_micros() as u64;
    let moving = plan.rate > 0.0;
    let period = Duration::from_secs_f64(1.0 / plan.rate.max(0.001));
    let mut schedule = tokio::time::interval_at(plan.start + plan.phase, period);
    // Open loop: a late tick is skipped, never bunched up.
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Move 0 is the placing move: receivers never count it (they count a
    // sequence only once it is newer than the last one seen, from 0).
    let mut sequence = 0u64;
    if plan.place && !send_move(&mut socket, &plan, &clock, sequence).await {
        report.closed_early = true;
        return report;
    }
    // Newest sequence seen from each sender, indexed by user
    // (`report.newest_seen`). Only observers fill it, on their first
    // measured frame, so 10,000 idle users do not allocate 10,000 tables.
    let end = plan.end();

    loop {
        if let Some((from, until)) = plan.stall
            && Instant::now() >= from
            && Instant::now() < until
        {
            // Neither read nor write: the server must cope on its own.
            tokio::time::sleep_until(until.min(end)).await;
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep_until(end) => break,
            _ = schedule.tick(), if moving => {
                sequence += 1;
                let now = Instant::now();
                if !send_move(&mut socket, &plan, &clock, sequence).await {
                    report.closed_early = true;
                    break;
                }
                report.last_sequence = sequence;
                match plan.window(now) {
                    Some(Window::Steady) => report.sent += 1,
                    Some(Window::Churn) => report.sent_during_churn += 1,
                    None => {}
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
                let Some(window) = plan.window(now) else {
                    continue;
                };
                match window {
                    Window::Steady => report.steady.count(&frame),
                    Window::Churn => report.during_churn.count(&frame),
                }
                if !plan.observer {
                    continue;
                }
                if report.newest_seen.is_empty() {
                    report.newest_seen = vec![0; plan.users as usize];
                }
                let mut positions = 0;
                let mut observe = |x: f64, y: f64| {
                    positions += 1;
                    observe(&plan, &clock, &mut report, window, fresh_micros, now, x, y);
                };
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
                report.largest_cursors_frame = report.largest_cursors_frame.max(positions);
            }
        }
    }
    let _ = socket.close(None).await;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movers_are_spread_evenly_over_the_user_numbers() {
        let movers = |users: u64, fraction: f64| {
            (0..users)
                .filter(|user| is_mover(*user, fraction))
                .collect::<Vec<_>>()
        };
        assert_eq!(movers(10_000, 0.1).len(), 1_000);
        assert_eq!(movers(30, 0.1), [9, 19, 29]);
        assert_eq!(movers(500, 1.0).len(), 500);
        assert!(movers(500, 0.0).is_empty());
        // Every stretch of 100 users holds its 10.
        let tenth = movers(10_000, 0.1);
        for stretch in 0..100 {
            let within = stretch * 100..(stretch + 1) * 100;
            assert_eq!(
                tenth.iter().filter(|user| within.contains(*user)).count(),
                10
            );
        }
    }

    #[test]
    fn frames_are_counted_with_their_header_and_cursors_told_apart() {
        let mut traffic = Traffic::default();
        let cursors = ServerMessage::Cursors { moves: vec![] }.to_json();
        traffic.count(&Message::text(cursors.clone()));
        let crowd = ServerMessage::Crowd {
            active: true,
            total: 10_000,
            heat: vec![156; 64],
        }
        .to_json();
        traffic.count(&Message::text(crowd.clone()));
        traffic.count(&Message::binary(vec![0u8; 200]));
        assert_eq!(traffic.frames, 3);
        assert_eq!(traffic.cursor_frames, 2);
        assert_eq!(
            traffic.bytes,
            (2 + cursors.len() + 4 + crowd.len() + 4 + 200) as u64
        );
        assert_eq!(wire_bytes(125), 127);
        assert_eq!(wire_bytes(65_536), 65_546);
    }

    #[test]
    fn connections_are_spread_over_loopback_addresses_only_when_asked() {
        assert_eq!(Sources { addresses: 1 }.for_connection(7), None);
        let four = Sources { addresses: 4 };
        let chosen: Vec<_> = (0..5).map(|index| four.for_connection(index)).collect();
        let address = |last| Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)));
        assert_eq!(
            chosen,
            [address(1), address(2), address(3), address(4), address(1)]
        );
    }
}
