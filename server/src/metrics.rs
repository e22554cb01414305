//! What the server is doing, exported at `GET /metrics` in the Prometheus
//! text format. Each series is declared once, in [`Metrics::new`]: its name,
//! its help and its type, registered with `prometheus-client`, which also
//! writes the exposition.
//!
//! Why `prometheus-client` rather than `metrics` with its Prometheus
//! exporter: it is the Prometheus project's own Rust client, and a metric is
//! a value we hold and register in a [`Registry`] of our own. Every server
//! has its own registry (the tests run many servers in one process, each
//! asserting on its own counts), where `metrics` records through one
//! process-wide recorder and names every series and label with a string at
//! the call. Here labels are types: a refusal is counted under a
//! [`RefusalReason`], so a misspelt reason does not compile, where the
//! string match this module had would have filed it under the wrong counter.
//!
//! The names are the ones served before the registry, which dashboards read.
//! The library appends `_total` to a counter itself, so counters are
//! registered without it. One consequence: the gauge `cursors_connections`
//! and the counter `cursors_connections_total` now share the family name
//! `cursors_connections` on their `# TYPE` lines; the series are as before,
//! and the exposition is served as `text/plain` as before (see
//! [`Metrics::render`]).
//!
//! Counters and gauges are atomics, bumped on hot paths by many tasks
//! without a lock. The two histograms take a short lock per observation:
//! they are observed once per room flush, not per message.

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use crate::admission::RefusalReason;

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

/// The label set of `cursors_refusals_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: RefusalReason,
}

impl EncodeLabelValue for RefusalReason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
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
    connections_open: Gauge,
    connections_total: Counter,
    rooms_open: Gauge,
    messages_in: Counter,
    bad_messages: Counter,
    frames_out: Counter,
    bytes_out: Counter,
    stale_batches_dropped: Counter,
    slow_client_closes: Counter,
    refusals: Family<RefusalLabels, Counter>,
    rate_limited_drops: Counter,
    abuse_closes: Counter,
    oversized_closes: Counter,
    heartbeat_timeouts: Counter,
    stale_commands: Counter,
    backplane_up: Gauge,
    backplane_published: Counter,
    backplane_received: Counter,
    backplane_errors: Counter,
    backplane_dropped: Counter,
    flush_seconds: Histogram,
    frames_per_flush: Histogram,
    room_tasks: Gauge,
    occupied_rooms: Gauge,
    connection_permits: Gauge,
    connected_addresses: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers `metric` under `name` and hands it back, to be kept.
fn registered<M>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    /// Every series, registered in the order the exposition lists them.
    /// Help texts have no final full stop: the library adds it.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        let connections_open = registered(
            r,
            "cursors_connections",
            "Open WebSocket connections",
            Gauge::default(),
        );
        let rooms_open = registered(
            r,
            "cursors_rooms",
            "Rooms with at least one member",
            Gauge::default(),
        );
        let connections_total = registered(
            r,
            "cursors_connections",
            "WebSocket connections accepted",
            Counter::default(),
        );
        let messages_in = registered(
            r,
            "cursors_messages_in",
            "Text frames received from clients",
            Counter::default(),
        );
        let bad_messages = registered(
            r,
            "cursors_bad_messages",
            "Frames refused with an error frame",
            Counter::default(),
        );
        let frames_out = registered(
            r,
            "cursors_frames_out",
            "Frames written to clients",
            Counter::default(),
        );
        let bytes_out = registered(
            r,
            "cursors_bytes_out",
            "Payload bytes written to clients",
            Counter::default(),
        );
        let stale_batches_dropped = registered(
            r,
            "cursors_stale_batches_dropped",
            "Cursor batches replaced before a slow client read them",
            Counter::default(),
        );
        let slow_client_closes = registered(
            r,
            "cursors_slow_client_closes",
            "Connections closed for not reading",
            Counter::default(),
        );
        let oversized_closes = registered(
            r,
            "cursors_oversized_closes",
            "Connections closed for a frame over the size limit",
            Counter::default(),
        );
        let heartbeat_timeouts = registered(
            r,
            "cursors_heartbeat_timeouts",
            "Connections closed for not answering pings",
            Counter::default(),
        );
        let backplane_up = registered(
            r,
            "cursors_backplane_up",
            "1 while the Redis backplane is reachable (0 when down or not configured)",
            Gauge::default(),
        );
        let backplane_published = registered(
            r,
            "cursors_backplane_published",
            "Messages published to the other servers through Redis",
            Counter::default(),
        );
        let backplane_received = registered(
            r,
            "cursors_backplane_received",
            "Messages received from Redis pub/sub",
            Counter::default(),
        );
        let backplane_errors = registered(
            r,
            "cursors_backplane_errors",
            "Redis commands that failed or timed out, and unreadable messages",
            Counter::default(),
        );
        let backplane_dropped = registered(
            r,
            "cursors_backplane_dropped",
            "Backplane messages dropped: queue full, a room's inbox full, or a subscriber that lagged",
            Counter::default(),
        );
        let stale_commands = registered(
            r,
            "cursors_stale_commands",
            "Commands ignored because their connection had been superseded by a resume or had ended",
            Counter::default(),
        );
        let rate_limited_drops = registered(
            r,
            "cursors_rate_limited_drops",
            "Messages dropped by the per-connection rate limit",
            Counter::default(),
        );
        let abuse_closes = registered(
            r,
            "cursors_abuse_closes",
            "Connections closed for staying over the rate limit",
            Counter::default(),
        );
        let refusals = registered(
            r,
            "cursors_refusals",
            "Upgrades refused before the WebSocket opened, by reason",
            Family::default(),
        );
        // Every reason is served from the start, at 0, as before.
        for reason in RefusalReason::ALL {
            drop(refusals.get_or_create(&RefusalLabels { reason }));
        }
        let room_tasks = registered(
            r,
            "cursors_room_tasks",
            "Room tasks running",
            Gauge::default(),
        );
        let occupied_rooms = registered(
            r,
            "cursors_occupied_rooms",
            "Rooms with members, which share the frame budget",
            Gauge::default(),
        );
        let connection_permits = registered(
            r,
            "cursors_connection_permits",
            "Connection slots held (global cap)",
            Gauge::default(),
        );
        let connected_addresses = registered(
            r,
            "cursors_connected_addresses",
            "Addresses holding a connection slot (per-IP cap)",
            Gauge::default(),
        );
        let flush_seconds = registered(
            r,
            "cursors_flush_duration_seconds",
            "Time a room took to hand one cursor batch to its members' outboxes",
            Histogram::new(FLUSH_SECONDS_BUCKETS),
        );
        let frames_per_flush = registered(
            r,
            "cursors_frames_per_flush",
            "Frames a room handed to its members' outboxes in one cursor batch",
            Histogram::new(FRAMES_PER_FLUSH_BUCKETS),
        );
        Self {
            registry,
            connections_open,
            connections_total,
            rooms_open,
            messages_in,
            bad_messages,
            frames_out,
            bytes_out,
            stale_batches_dropped,
            slow_client_closes,
            refusals,
            rate_limited_drops,
            abuse_closes,
            oversized_closes,
            heartbeat_timeouts,
            stale_commands,
            backplane_up,
            backplane_published,
            backplane_received,
            backplane_errors,
            backplane_dropped,
            flush_seconds,
            frames_per_flush,
            room_tasks,
            occupied_rooms,
            connection_permits,
            connected_addresses,
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
        self.refusals.get_or_create(&RefusalLabels { reason }).inc();
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

    /// The exposition of every series, with the occupancy read just now.
    ///
    /// It is OpenMetrics text (ending in `# EOF`, which the older
    /// Prometheus format reads as a comment); the handler serves it as
    /// `text/plain`, as before, so scrapers keep the parser they have used.
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
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
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
            value(&text, "cursors_frames_per_flush_bucket{le=\"10.0\"}"),
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
