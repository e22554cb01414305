//! What the server is doing, exported at `GET /metrics` in the classic
//! Prometheus text format (0.0.4). Each series is declared once, in
//! [`Metrics::new`]: its name, its help and its type, registered in a
//! [`Registry`] of the `prometheus` crate (tikv's rust-prometheus), which
//! also writes the exposition.
//!
//! Why this crate. The names and types served here are read by other
//! people's dashboards, so the exposition must stay what it was when the
//! server wrote it by hand: for each series `# HELP name help`,
//! `# TYPE name type`, `name value`, counters named `..._total` on all three
//! lines. `prometheus` writes exactly that, with names exactly as given, and
//! holds each metric in a registry of our own: every server has its own (the
//! tests run many servers in one process, each asserting on its own counts).
//! The two others we weighed do not fit:
//! - `prometheus-client` is the Prometheus project's own Rust client, but it
//!   writes OpenMetrics: it appends `_total` to a counter's samples and names
//!   the family without it, and ends with `# EOF`. That renames the `# TYPE`
//!   line of every counter, and merges our gauge `cursors_connections` and
//!   counter `cursors_connections_total` into two families of one name,
//!   which a strict parser (`promtool check metrics`, Go's expfmt) rejects
//!   whole. We used it briefly and served exactly that.
//! - `metrics` with its Prometheus exporter records through one process-wide
//!   recorder (a registry per server would need local-recorder tricks around
//!   every call) and names each series and label with a string at the call.
//!
//! Labels are types: a refusal is counted under a [`RefusalReason`], whose
//! label value comes from [`RefusalReason::as_str`] alone, so a misspelt
//! reason does not compile (the string match this module once had filed an
//! unknown one under `too_many_from_address`).
//!
//! The one visible change from the hand-written exposition: the registry
//! lists families sorted by name rather than in declaration order, which
//! Prometheus does not read. Counters, gauges and histograms are atomics,
//! bumped on hot paths by many tasks without a lock; the histograms are
//! observed once per room flush, not per message.

use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
    core::Collector,
};

pub use crate::admission::RefusalReason;

/// The content type of the classic text exposition, served with it.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the flush-duration buckets, in seconds: from 10 µs (a
/// room of two) to 50 ms (three ticks: a flush that long is an incident).
const FLUSH_SECONDS_BUCKETS: [f64; 12] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05,
];

/// Upper bounds of the frames-per-flush buckets: one receiver to a room of
/// ten thousand.
const FRAMES_PER_FLUSH_BUCKETS: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0,
    20_000.0,
];

/// The children of `cursors_refusals_total`, one per [`RefusalReason`]
/// (indexed by `reason as usize`, in the order of `RefusalReason::ALL`),
/// created with the registry so that every reason is served from the start
/// (at 0) and counting one is an index, not a lookup.
#[derive(Debug)]
struct RefusalCounters([IntCounter; RefusalReason::ALL.len()]);

impl RefusalCounters {
    fn new(by_reason: &IntCounterVec) -> Self {
        Self(RefusalReason::ALL.map(|reason| by_reason.with_label_values(&[reason.as_str()])))
    }

    fn of(&self, reason: RefusalReason) -> &IntCounter {
        &self.0[reason as usize]
    }
}

/// How full the server is, read from its state when `/metrics` is asked
/// for rather than counted as it changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Occupancy {
    pub room_tasks: usize,
    pub occupied_rooms: usize,
    pub connection_permits: usize,
    pub connected_addresses: usize,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    connections_open: IntGauge,
    connections_total: IntCounter,
    rooms_open: IntGauge,
    messages_in: IntCounter,
    bad_messages: IntCounter,
    frames_out: IntCounter,
    bytes_out: IntCounter,
    stale_batches_dropped: IntCounter,
    slow_client_closes: IntCounter,
    refusals: RefusalCounters,
    rate_limited_drops: IntCounter,
    abuse_closes: IntCounter,
    oversized_closes: IntCounter,
    heartbeat_timeouts: IntCounter,
    stale_commands: IntCounter,
    backplane_up: IntGauge,
    backplane_published: IntCounter,
    backplane_received: IntCounter,
    backplane_errors: IntCounter,
    backplane_dropped: IntCounter,
    flush_seconds: Histogram,
    frames_per_flush: Histogram,
    room_tasks: IntGauge,
    occupied_rooms: IntGauge,
    connection_permits: IntGauge,
    connected_addresses: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the declarations of [`Metrics::new`] go.
///
/// Declaring fails only for a name that is malformed or already taken: a
/// mistake in [`Metrics::new`] itself, out of reach of any client or of the
/// environment, and caught by every test that builds a `Metrics`. So it
/// panics, naming the mistake.
struct Declarations {
    registry: Registry,
}

impl Declarations {
    fn register<M: Collector + Clone + 'static>(&self, metric: prometheus::Result<M>) -> M {
        let metric = metric.unwrap_or_else(|error| panic!("malformed metric: {error}"));
        if let Err(error) = self.registry.register(Box::new(metric.clone())) {
            panic!("metric declared twice or malformed: {error}");
        }
        metric
    }

    /// A counter: its name ends in `_total`, on every line it is served.
    fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.register(IntCounter::new(name, help))
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.register(IntGauge::new(name, help))
    }

    fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        self.register(Histogram::with_opts(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        ))
    }
}

impl Metrics {
    /// Every series, under the name, help and type it was first served
    /// with (help texts keep their full stop: the library adds nothing).
    pub fn new() -> Self {
        let declare = Declarations {
            registry: Registry::new(),
        };
        let refusals_by_reason = declare.register(IntCounterVec::new(
            Opts::new(
                "cursors_refusals_total",
                "Upgrades refused before the WebSocket opened, by reason.",
            ),
            &["reason"],
        ));
        Self {
            connections_open: declare.gauge("cursors_connections", "Open WebSocket connections."),
            rooms_open: declare.gauge("cursors_rooms", "Rooms with at least one member."),
            connections_total: declare.counter(
                "cursors_connections_total",
                "WebSocket connections accepted.",
            ),
            messages_in: declare.counter(
                "cursors_messages_in_total",
                "Text frames received from clients.",
            ),
            bad_messages: declare.counter(
                "cursors_bad_messages_total",
                "Frames refused with an error frame.",
            ),
            frames_out: declare.counter("cursors_frames_out_total", "Frames written to clients."),
            bytes_out: declare.counter(
                "cursors_bytes_out_total",
                "Payload bytes written to clients.",
            ),
            stale_batches_dropped: declare.counter(
                "cursors_stale_batches_dropped_total",
                "Cursor batches replaced before a slow client read them.",
            ),
            slow_client_closes: declare.counter(
                "cursors_slow_client_closes_total",
                "Connections closed for not reading.",
            ),
            oversized_closes: declare.counter(
                "cursors_oversized_closes_total",
                "Connections closed for a frame over the size limit.",
            ),
            heartbeat_timeouts: declare.counter(
                "cursors_heartbeat_timeouts_total",
                "Connections closed for not answering pings.",
            ),
            backplane_up: declare.gauge(
                "cursors_backplane_up",
                "1 while the Redis backplane is reachable (0 when down or not configured).",
            ),
            backplane_published: declare.counter(
                "cursors_backplane_published_total",
                "Messages published to the other servers through Redis.",
            ),
            backplane_received: declare.counter(
                "cursors_backplane_received_total",
                "Messages received from Redis pub/sub.",
            ),
            backplane_errors: declare.counter(
                "cursors_backplane_errors_total",
                "Redis commands that failed or timed out, and unreadable messages.",
            ),
            backplane_dropped: declare.counter(
                "cursors_backplane_dropped_total",
                "Backplane messages dropped: queue full, a room's inbox full, or a subscriber that lagged.",
            ),
            stale_commands: declare.counter(
                "cursors_stale_commands_total",
                "Commands ignored because their connection had been superseded by a resume or had ended.",
            ),
            rate_limited_drops: declare.counter(
                "cursors_rate_limited_drops_total",
                "Messages dropped by the per-connection rate limit.",
            ),
            abuse_closes: declare.counter(
                "cursors_abuse_closes_total",
                "Connections closed for staying over the rate limit.",
            ),
            refusals: RefusalCounters::new(&refusals_by_reason),
            room_tasks: declare.gauge("cursors_room_tasks", "Room tasks running."),
            occupied_rooms: declare.gauge(
                "cursors_occupied_rooms",
                "Rooms with members, which share the frame budget.",
            ),
            connection_permits: declare.gauge(
                "cursors_connection_permits",
                "Connection slots held (global cap).",
            ),
            connected_addresses: declare.gauge(
                "cursors_connected_addresses",
                "Addresses holding a connection slot (per-IP cap).",
            ),
            flush_seconds: declare.histogram(
                "cursors_flush_duration_seconds",
                "Time a room took to hand one cursor batch to its members' outboxes (batches with at least one receiver; with --fanout immediate every move is a batch).",
                &FLUSH_SECONDS_BUCKETS,
            ),
            frames_per_flush: declare.histogram(
                "cursors_frames_per_flush",
                "Frames a room handed to its members' outboxes in one cursor batch (one per receiver here, a snapshot replacing a stale batch included).",
                &FRAMES_PER_FLUSH_BUCKETS,
            ),
            registry: declare.registry,
        }
    }

    pub fn connection_opened(&self) {
        self.connections_open.inc();
        self.connections_total.inc();
    }

    pub fn connection_closed(&self) {
        self.connections_open.dec();
    }

    pub fn connections_open(&self) -> i64 {
        self.connections_open.get()
    }

    pub fn rooms_opened(&self) {
        self.rooms_open.inc();
    }

    pub fn rooms_closed(&self) {
        self.rooms_open.dec();
    }

    pub fn message_in(&self) {
        self.messages_in.inc();
    }

    pub fn bad_message(&self) {
        self.bad_messages.inc();
    }

    pub fn frames_written(&self, frames: u64, bytes: u64) {
        self.frames_out.inc_by(frames);
        self.bytes_out.inc_by(bytes);
    }

    pub fn stale_batches_dropped(&self, batches: usize) {
        self.stale_batches_dropped.inc_by(batches as u64);
    }

    /// One cursor batch handed out by a room: how long it took, and to how
    /// many members' outboxes.
    pub fn flush_observed(&self, duration: Duration, frames: usize) {
        self.flush_seconds.observe(duration.as_secs_f64());
        self.frames_per_flush.observe(frames as f64);
    }

    pub fn slow_client_closed(&self) {
        self.slow_client_closes.inc();
    }

    /// Counts a refused upgrade under its reason.
    pub fn refused(&self, reason: RefusalReason) {
        self.refusals.of(reason).inc();
    }

    pub fn rate_limited(&self) {
        self.rate_limited_drops.inc();
    }

    pub fn abuse_closed(&self) {
        self.abuse_closes.inc();
    }

    pub fn oversized_closed(&self) {
        self.oversized_closes.inc();
    }

    pub fn heartbeat_timed_out(&self) {
        self.heartbeat_timeouts.inc();
    }

    pub fn stale_command_ignored(&self) {
        self.stale_commands.inc();
    }

    pub fn backplane_up(&self, up: bool) {
        self.backplane_up.set(i64::from(up));
    }

    pub fn backplane_published(&self) {
        self.backplane_published.inc();
    }

    pub fn backplane_received(&self) {
        self.backplane_received.inc();
    }

    pub fn backplane_error(&self) {
        self.backplane_errors.inc();
    }

    pub fn backplane_dropped(&self, messages: u64) {
        self.backplane_dropped.inc_by(messages);
    }

    /// The exposition of every series, with the occupancy read just now, in
    /// the classic text format (served as [`CONTENT_TYPE`]).
    pub fn render(&self, occupancy: Occupancy) -> String {
        let gauge_value = |count: usize| i64::try_from(count).unwrap_or(i64::MAX);
        self.room_tasks.set(gauge_value(occupancy.room_tasks));
        self.occupied_rooms
            .set(gauge_value(occupancy.occupied_rooms));
        self.connection_permits
            .set(gauge_value(occupancy.connection_permits));
        self.connected_addresses
            .set(gauge_value(occupancy.connected_addresses));
        let mut text = String::new();
        // The encoder refuses only a family without samples or without a
        // name; every family here has a name and at least one sample (the
        // refusal vector has its four children from the start).
        if let Err(error) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text) {
            tracing::error!(%error, "writing the metrics exposition");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the series `name` (with its labels, if any).
    fn value(text: &str, name: &str) -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no series {name} in:\n{text}"))
    }

    #[test]
    fn a_refusal_is_counted_under_its_own_reason_only() {
        let metrics = Metrics::new();
        metrics.refused(RefusalReason::ServerFull);
        metrics.refused(RefusalReason::ServerFull);
        metrics.refused(RefusalReason::BadRoom);
        let text = metrics.render(Occupancy::default());
        let refusals = |reason: &str| {
            value(
                &text,
                &format!("cursors_refusals_total{{reason=\"{reason}\"}}"),
            )
        };
        assert_eq!(refusals("server_full"), 2.0);
        assert_eq!(refusals("bad_room"), 1.0);
        assert_eq!(refusals("forbidden_origin"), 0.0);
        assert_eq!(refusals("too_many_from_address"), 0.0);
    }

    #[test]
    fn every_reason_is_served_from_the_start_under_its_one_spelling() {
        let text = Metrics::new().render(Occupancy::default());
        let mut refusal_lines: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("cursors_refusals_total{"))
            .collect();
        refusal_lines.sort_unstable();
        let mut expected: Vec<String> = RefusalReason::ALL
            .iter()
            .map(|reason| format!("cursors_refusals_total{{reason=\"{}\"}} 0", reason.as_str()))
            .collect();
        expected.sort_unstable();
        assert_eq!(refusal_lines, expected);
    }

    #[test]
    fn the_exposition_is_the_classic_format_with_names_as_declared() {
        let metrics = Metrics::new();
        metrics.connection_opened();
        let text = metrics.render(Occupancy::default());
        // What the hand-written exposition served, line for line.
        for lines in [
            "# HELP cursors_connections Open WebSocket connections.\n\
             # TYPE cursors_connections gauge\n\
             cursors_connections 1\n",
            "# HELP cursors_connections_total WebSocket connections accepted.\n\
             # TYPE cursors_connections_total counter\n\
             cursors_connections_total 1\n",
        ] {
            assert!(text.contains(lines), "no\n{lines}in:\n{text}");
        }
        assert!(!text.contains("# EOF"), "{text}");
    }

    #[test]
    fn counters_keep_their_total_names_and_gauges_their_plain_ones() {
        let metrics = Metrics::new();
        metrics.connection_opened();
        metrics.connection_opened();
        metrics.connection_closed();
        metrics.frames_written(3, 120);
        let text = metrics.render(Occupancy {
            room_tasks: 4,
            occupied_rooms: 3,
            connection_permits: 2,
            connected_addresses: 1,
        });
        assert_eq!(value(&text, "cursors_connections"), 1.0);
        assert_eq!(value(&text, "cursors_connections_total"), 2.0);
        assert_eq!(value(&text, "cursors_frames_out_total"), 3.0);
        assert_eq!(value(&text, "cursors_bytes_out_total"), 120.0);
        assert_eq!(value(&text, "cursors_room_tasks"), 4.0);
        assert_eq!(value(&text, "cursors_occupied_rooms"), 3.0);
        assert_eq!(value(&text, "cursors_connection_permits"), 2.0);
        assert_eq!(value(&text, "cursors_connected_addresses"), 1.0);
    }

    #[test]
    fn a_flush_lands_in_both_histograms() {
        let metrics = Metrics::new();
        metrics.flush_observed(Duration::from_micros(300), 7);
        metrics.flush_observed(Duration::from_millis(2), 40);
        let text = metrics.render(Occupancy::default());
        assert_eq!(value(&text, "cursors_flush_duration_seconds_count"), 2.0);
        assert_eq!(value(&text, "cursors_frames_per_flush_count"), 2.0);
        assert_eq!(value(&text, "cursors_frames_per_flush_sum"), 47.0);
        assert_eq!(
            value(&text, "cursors_frames_per_flush_bucket{le=\"10\"}"),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "cursors_flush_duration_seconds_bucket{le=\"0.0005\"}"
            ),
            1.0
        );
    }
}
