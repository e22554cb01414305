//! Counters of what the server is doing, exported at `GET /metrics` in the
//! Prometheus text format. Plain atomics: they are bumped on hot paths by
//! many tasks and read rarely, so no lock and no registry crate are needed.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    connections_open: AtomicI64,
    connections_total: AtomicU64,
    rooms_open: AtomicI64,
    messages_in: AtomicU64,
    bad_messages: AtomicU64,
    frames_out: AtomicU64,
    bytes_out: AtomicU64,
    stale_batches_dropped: AtomicU64,
    slow_client_closes: AtomicU64,
    refused_bad_room: AtomicU64,
    oversized_closes: AtomicU64,
    heartbeat_timeouts: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        bump(&self.connections_total);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn connections_open(&self) -> i64 {
        self.connections_open.load(Ordering::Relaxed)
    }

    pub fn rooms_opened(&self) {
        self.rooms_open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rooms_closed(&self) {
        self.rooms_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn message_in(&self) {
        bump(&self.messages_in);
    }

    pub fn bad_message(&self) {
        bump(&self.bad_messages);
    }

    pub fn frames_written(&self, frames: u64, bytes: u64) {
        self.frames_out.fetch_add(frames, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn stale_batch_dropped(&self) {
        bump(&self.stale_batches_dropped);
    }

    pub fn slow_client_closed(&self) {
        bump(&self.slow_client_closes);
    }

    pub fn refused_bad_room(&self) {
        bump(&self.refused_bad_room);
    }

    pub fn oversized_closed(&self) {
        bump(&self.oversized_closes);
    }

    pub fn heartbeat_timed_out(&self) {
        bump(&self.heartbeat_timeouts);
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                text,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed).to_string();
        metric(
            "cursors_connections",
            "gauge",
            "Open WebSocket connections.",
            self.connections_open().to_string(),
        );
        metric(
            "cursors_connections_total",
            "counter",
            "WebSocket connections accepted.",
            load(&self.connections_total),
        );
        metric(
            "cursors_rooms",
            "gauge",
            "Rooms with at least one member.",
            self.rooms_open.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "cursors_messages_in_total",
            "counter",
            "Text frames received from clients.",
            load(&self.messages_in),
        );
        metric(
            "cursors_bad_messages_total",
            "counter",
            "Frames refused with an error frame.",
            load(&self.bad_messages),
        );
        metric(
            "cursors_frames_out_total",
            "counter",
            "Frames written to clients.",
            load(&self.frames_out),
        );
        metric(
            "cursors_bytes_out_total",
            "counter",
            "Payload bytes written to clients.",
            load(&self.bytes_out),
        );
        metric(
            "cursors_stale_batches_dropped_total",
            "counter",
            "Cursor batches replaced before a slow client read them.",
            load(&self.stale_batches_dropped),
        );
        metric(
            "cursors_slow_client_closes_total",
            "counter",
            "Connections closed for not reading.",
            load(&self.slow_client_closes),
        );
        metric(
            "cursors_refused_bad_room_total",
            "counter",
            "Upgrades refused for a bad room name.",
            load(&self.refused_bad_room),
        );
        metric(
            "cursors_oversized_closes_total",
            "counter",
            "Connections closed for a frame over the size limit.",
            load(&self.oversized_closes),
        );
        metric(
            "cursors_heartbeat_timeouts_total",
            "counter",
            "Connections closed for not answering pings.",
            load(&self.heartbeat_timeouts),
        );
        text
    }
}
