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
    refused_forbidden_origin: AtomicU64,
    refused_server_full: AtomicU64,
    refused_too_many_from_address: AtomicU64,
    rate_limited_drops: AtomicU64,
    abuse_closes: AtomicU64,
    oversized_closes: AtomicU64,
    heartbeat_timeouts: AtomicU64,
    stale_commands: AtomicU64,
    backplane_up: AtomicI64,
    backplane_published: AtomicU64,
    backplane_received: AtomicU64,
    backplane_errors: AtomicU64,
    backplane_dropped: AtomicU64,
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

    pub fn stale_batches_dropped(&self, batches: usize) {
        self.stale_batches_dropped
            .fetch_add(batches as u64, Ordering::Relaxed);
    }

    pub fn slow_client_closed(&self) {
        bump(&self.slow_client_closes);
    }

    /// Counts a refused upgrade under its reason label.
    pub fn refused(&self, reason: &str) {
        match reason {
            "bad_room" => bump(&self.refused_bad_room),
            "forbidden_origin" => bump(&self.refused_forbidden_origin),
            "server_full" => bump(&self.refused_server_full),
            _ => bump(&self.refused_too_many_from_address),
        }
    }

    pub fn rate_limited(&self) {
        bump(&self.rate_limited_drops);
    }

    pub fn abuse_closed(&self) {
        bump(&self.abuse_closes);
    }

    pub fn oversized_closed(&self) {
        bump(&self.oversized_closes);
    }

    pub fn heartbeat_timed_out(&self) {
        bump(&self.heartbeat_timeouts);
    }

    pub fn stale_command_ignored(&self) {
        bump(&self.stale_commands);
    }

    pub fn backplane_up(&self, up: bool) {
        self.backplane_up.store(i64::from(up), Ordering::Relaxed);
    }

    pub fn backplane_published(&self) {
        bump(&self.backplane_published);
    }

    pub fn backplane_received(&self) {
        bump(&self.backplane_received);
    }

    pub fn backplane_error(&self) {
        bump(&self.backplane_errors);
    }

    pub fn backplane_dropped(&self, messages: u64) {
        self.backplane_dropped
            .fetch_add(messages, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut text = String::new();
        let out = &mut text;
        gauge(
            out,
            "cursors_connections",
            "Open WebSocket connections.",
            self.connections_open(),
        );
        gauge(
            out,
            "cursors_rooms",
            "Rooms with at least one member.",
            self.rooms_open.load(Ordering::Relaxed),
        );
        counter(
            out,
            "cursors_connections_total",
            "WebSocket connections accepted.",
            load(&self.connections_total),
        );
        counter(
            out,
            "cursors_messages_in_total",
            "Text frames received from clients.",
            load(&self.messages_in),
        );
        counter(
            out,
            "cursors_bad_messages_total",
            "Frames refused with an error frame.",
            load(&self.bad_messages),
        );
        counter(
            out,
            "cursors_frames_out_total",
            "Frames written to clients.",
            load(&self.frames_out),
        );
        counter(
            out,
            "cursors_bytes_out_total",
            "Payload bytes written to clients.",
            load(&self.bytes_out),
        );
        counter(
            out,
            "cursors_stale_batches_dropped_total",
            "Cursor batches replaced before a slow client read them.",
            load(&self.stale_batches_dropped),
        );
        counter(
            out,
            "cursors_slow_client_closes_total",
            "Connections closed for not reading.",
            load(&self.slow_client_closes),
        );
        counter(
            out,
            "cursors_oversized_closes_total",
            "Connections closed for a frame over the size limit.",
            load(&self.oversized_closes),
        );
        counter(
            out,
            "cursors_heartbeat_timeouts_total",
            "Connections closed for not answering pings.",
            load(&self.heartbeat_timeouts),
        );
        gauge(
            out,
            "cursors_backplane_up",
            "1 while the Redis backplane is reachable (0 when down or not configured).",
            self.backplane_up.load(Ordering::Relaxed),
        );
        counter(
            out,
            "cursors_backplane_published_total",
            "Messages published to the other servers through Redis.",
            load(&self.backplane_published),
        );
        counter(
            out,
            "cursors_backplane_received_total",
            "Messages received from Redis pub/sub.",
            load(&self.backplane_received),
        );
        counter(
            out,
            "cursors_backplane_errors_total",
            "Redis commands that failed or timed out, and unreadable messages.",
            load(&self.backplane_errors),
        );
        counter(
            out,
            "cursors_backplane_dropped_total",
            "Backplane messages dropped: queue full, a room's inbox full, or a subscriber that lagged.",
            load(&self.backplane_dropped),
        );
        counter(
            out,
            "cursors_stale_commands_total",
            "Commands ignored because their connection had been superseded by a resume or had ended.",
            load(&self.stale_commands),
        );
        counter(
            out,
            "cursors_rate_limited_drops_total",
            "Messages dropped by the per-connection rate limit.",
            load(&self.rate_limited_drops),
        );
        counter(
            out,
            "cursors_abuse_closes_total",
            "Connections closed for staying over the rate limit.",
            load(&self.abuse_closes),
        );
        let _ = writeln!(
            out,
            "# HELP cursors_refusals_total Upgrades refused before the WebSocket opened, by reason."
        );
        let _ = writeln!(out, "# TYPE cursors_refusals_total counter");
        for (reason, refusals) in [
            ("bad_room", &self.refused_bad_room),
            ("forbidden_origin", &self.refused_forbidden_origin),
            ("server_full", &self.refused_server_full),
            ("too_many_from_address", &self.refused_too_many_from_address),
        ] {
            let _ = writeln!(
                out,
                "cursors_refusals_total{{reason=\"{reason}\"}} {}",
                load(refusals)
            );
        }
        text
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}
