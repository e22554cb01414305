//! Server configuration: every knob is a command-line flag with an
//! environment-variable fallback, so the same binary serves a laptop demo,
//! a test harness (port 0) and a deployment without recompiling.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::room::crowd::CrowdRules;

// ANCHOR: fanout
/// How moves are relayed to the other users of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FanoutMode {
    /// Keep each user's latest position and send one `cursors` frame per
    /// room per tick, serialised once and shared by every receiver. A move
    /// into an idle room still goes out at once (the tick only throttles).
    Coalesced,
    /// The WebSocket Handbook's design: every move is sent to everyone else
    /// the moment it arrives, as its own frame and its own write. Kept to
    /// compare against in the benchmark. Bounded like everything else: a
    /// client `--outbound-queue` moves behind gets one snapshot instead.
    Immediate,
}
// ANCHOR_END: fanout

#[derive(Debug, Clone, Parser)]
#[command(
    name = "cursors-server",
    version,
    about = "Relays cursor positions between the users of a room"
)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "CURSORS_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Serve `/metrics` on this address instead of the main one, so that a
    /// public port need not show it (port 0 picks a free one).
    #[arg(long, env = "CURSORS_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Directory of the built client (Trunk's `dist/`), served at `/`.
    #[arg(long, env = "CURSORS_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// How moves are relayed.
    #[arg(long, env = "CURSORS_FANOUT", value_enum, default_value_t = FanoutMode::Coalesced)]
    pub fanout: FanoutMode,

    // ANCHOR: tick
    /// Longest coalescing window in milliseconds: a room sends at least one
    /// `cursors` frame per tick while anyone moves. 16 ms matches a 60 Hz
    /// display. Small rooms flush sooner (see `--frame-budget`).
    #[arg(long, env = "CURSORS_TICK_MS", default_value_t = 16)]
    pub tick_ms: u64,

    /// Frames per second the whole server aims to write at most, split
    /// evenly between the rooms with members. A room of N, one of R such
    /// rooms, waits at least N·R / budget seconds between flushes, capped at
    /// the tick: a lone room of 10 relays each move at once (0.3 ms), a room
    /// of 500 or 100 rooms of 10 flush once per tick.
    #[arg(long, env = "CURSORS_FRAME_BUDGET", default_value_t = 30_000)]
    pub frame_budget: u32,
    // ANCHOR_END: tick

    // ANCHOR: crowd-flags
    /// A room with more members than this (on every server sharing it)
    /// becomes a crowd: each member then sees only `--visible-cursors`
    /// others, chosen near their pointer and among the active. It stops
    /// being one at four fifths of this. See docs/PROTOCOL.md, section 4.2.
    #[arg(long, env = "CURSORS_CROWD_THRESHOLD", default_value_t = 50)]
    pub crowd_threshold: usize,

    /// In a crowd, the most positions a member is sent per frame: the
    /// people near them and the active ones, plus whom they follow.
    #[arg(long, env = "CURSORS_VISIBLE_CURSORS", default_value_t = 50)]
    pub visible_cursors: usize,
    // ANCHOR_END: crowd-flags

    // ANCHOR: max-message
    /// Largest accepted WebSocket message, in bytes; larger ones close the
    /// connection with 1009.
    #[arg(long, env = "CURSORS_MAX_MESSAGE_BYTES", default_value_t = 4096)]
    pub max_message_bytes: usize,
    // ANCHOR_END: max-message

    // ANCHOR: outbound-queue
    /// Events (joins, leaves, errors, pongs...) that may pile up behind a
    /// write the client does not take before it is closed with 1008. A burst
    /// the server has not yet written may hold 16 times as many. Cursor
    /// batches do not count: in the coalesced fan-out only the latest one
    /// waits; in the immediate fan-out up to this many wait, and past that
    /// they become one snapshot.
    #[arg(long, env = "CURSORS_OUTBOUND_QUEUE", default_value_t = 256)]
    pub outbound_queue: usize,

    /// Seconds a single write to a client may block before that client is
    /// considered stuck and closed.
    #[arg(long, env = "CURSORS_WRITE_TIMEOUT_SECS", default_value_t = 10)]
    pub write_timeout_secs: u64,
    // ANCHOR_END: outbound-queue
    /// Seconds between the server's WebSocket pings.
    #[arg(long, env = "CURSORS_PING_INTERVAL_SECS", default_value_t = 15)]
    pub ping_interval_secs: u64,

    /// Seconds without a pong after a ping before a connection is closed.
    #[arg(long, env = "CURSORS_PONG_TIMEOUT_SECS", default_value_t = 30)]
    pub pong_timeout_secs: u64,

    // ANCHOR: connection-caps
    /// Most WebSocket connections open at once; more are refused with 503.
    #[arg(long, env = "CURSORS_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most WebSocket connections from one IP address (503 past it).
    #[arg(long, env = "CURSORS_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,

    /// Origins, besides the server's own, whose pages may open a WebSocket
    /// (exact match; repeat the flag, or comma-separate in the env var).
    /// The default allows `trunk serve`'s page.
    #[arg(
        long = "allowed-origin",
        env = "CURSORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_values_t = [String::from("http://127.0.0.1:8080"), String::from("http://localhost:8080")]
    )]
    pub allowed_origins: Vec<String>,
    // ANCHOR_END: connection-caps

    // ANCHOR: embed-origins
    /// Sites whose pages may carry the embed (`<script
    /// src=".../embed.js">`), as origins such as `https://docs.example.com`
    /// (exact match; repeat the flag, or comma-separate in the env var).
    /// Their sockets are let in, each in a room named after the site, and
    /// the embed's files are served to them with CORS headers.
    #[arg(
        long = "embed-origins",
        env = "CURSORS_EMBED_ORIGINS",
        value_delimiter = ','
    )]
    pub embed_origins: Vec<String>,
    // ANCHOR_END: embed-origins

    // ANCHOR: rate-limit
    /// Messages per second a connection may send (a browser sends at most
    /// one move per frame); the excess is dropped.
    #[arg(long, env = "CURSORS_RATE_LIMIT", default_value_t = 120)]
    pub rate_limit: u32,

    /// Messages a connection may send in one burst above the rate.
    #[arg(long, env = "CURSORS_RATE_BURST", default_value_t = 240)]
    pub rate_burst: u32,

    /// Consecutive seconds over the rate limit before a connection is
    /// closed for abuse (1008).
    #[arg(long, env = "CURSORS_RATE_ABUSE_SECS", default_value_t = 5)]
    pub rate_abuse_secs: u32,
    // ANCHOR_END: rate-limit

    // ANCHOR: header-read-timeout
    /// Seconds a client has to send a request's headers; slower ones are
    /// cut off, so a slowloris client cannot hold a connection.
    #[arg(long, env = "CURSORS_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    // ANCHOR_END: header-read-timeout
    /// Kernel send buffer per connection (SO_SNDBUF), in bytes; 0 leaves
    /// it to the OS, which may grow it to megabytes. A small buffer bounds
    /// kernel memory at many connections and shows a client that stopped
    /// reading sooner, so it is closed (1008) sooner.
    #[arg(long, env = "CURSORS_SOCKET_SEND_BUFFER_BYTES", default_value_t = 0)]
    pub socket_send_buffer_bytes: usize,

    // ANCHOR: grace
    /// Seconds a user whose connection dropped (no close frame: network
    /// loss, a suspended laptop) keeps their place, so that reconnecting with
    /// the `resume` token of their `welcome` gives back the same id, name and
    /// colour and the others see no `left`/`joined`.
    #[arg(long, env = "CURSORS_RESUME_GRACE_SECS", default_value_t = 10)]
    pub resume_grace_secs: u64,

    /// Milliseconds the same holds after a clean close (the page was closed
    /// or reloaded; a browser cannot tell the server which). Long enough for
    /// a reload to come back, short enough that a closed tab leaves at once.
    #[arg(long, env = "CURSORS_RELOAD_GRACE_MS", default_value_t = 1500)]
    pub reload_grace_ms: u64,
    // ANCHOR_END: grace
    /// Cursor-chat messages per second a connection may send (one per
    /// keystroke); the excess is dropped.
    #[arg(long, env = "CURSORS_SAY_RATE_LIMIT", default_value_t = 20)]
    pub say_rate_limit: u32,

    /// Redis shared with other servers, e.g. `redis://127.0.0.1:6379`: users
    /// of one room on any of them see each other (see the README's "Several
    /// servers"). A Redis Cluster (7+) is given as
    /// `redis-cluster://HOST:PORT?node=HOST:PORT&node=HOST:PORT` (one node
    /// or more; the rest are discovered). Without it the server runs alone.
    #[arg(long, env = "CURSORS_REDIS_URL")]
    pub redis_url: Option<String>,

    /// A key file that makes every room invite-only: each socket needs a
    /// signed token (`token=` in its URL) for its room. An HMAC secret
    /// (HS256, at least 32 bytes) or an Ed25519 public key in PEM (EdDSA);
    /// see `cursors-server token --help` to sign one.
    #[arg(long, env = "CURSORS_TOKEN_KEY")]
    pub token_key: Option<PathBuf>,

    /// Threads that run the connections and the rooms; by default one per
    /// core. Fewer leave the other cores to something else: the crowd
    /// benchmark runs a server on one thread beside its load generator.
    #[arg(long, env = "CURSORS_WORKER_THREADS")]
    pub worker_threads: Option<NonZeroUsize>,

    // ANCHOR: shutdown-grace
    /// Seconds given to open connections to close after SIGINT/SIGTERM.
    #[arg(long, env = "CURSORS_SHUTDOWN_GRACE_SECS", default_value_t = 5)]
    pub shutdown_grace_secs: u64,
    // ANCHOR_END: shutdown-grace
    /// Instead of serving: another task, then exit.
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
}

/// What `cursors-server` can do besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServerCommand {
    /// Prints a token signed with the key, for demos and tests
    /// (`cursors-server token --key secret --room lobby --ttl 1h`).
    Token(TokenRequest),
}

/// The claims of a token to sign (see `token.rs`).
#[derive(Debug, Clone, clap::Args)]
pub struct TokenRequest {
    /// The room it opens: exact, or a prefix ending in `*`.
    #[arg(long)]
    pub room: String,
    /// A display name the server shows as verified.
    #[arg(long)]
    pub name: Option<String>,
    /// Whom it is for (your own user id).
    #[arg(long)]
    pub sub: Option<String>,
    /// How long it lasts: 90s, 15m, 1h, 2d.
    #[arg(long, default_value = "1h", value_parser = crate::token::parse_lifetime)]
    pub ttl: Duration,
    /// The signing key: the HMAC secret the server has, or the private
    /// half of its Ed25519 key (PEM).
    #[arg(long, env = "CURSORS_TOKEN_KEY")]
    pub key: PathBuf,
}

impl Config {
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms.max(1))
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs.max(1))
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.max(1))
    }

    pub fn pong_timeout(&self) -> Duration {
        Duration::from_secs(self.pong_timeout_secs.max(1))
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.max(1))
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// When rooms become crowds. The handbook's immediate fan-out is kept
    /// as it was, a baseline: its rooms never do.
    pub fn crowd(&self) -> Option<CrowdRules> {
        match self.fanout {
            FanoutMode::Coalesced => {
                Some(CrowdRules::new(self.crowd_threshold, self.visible_cursors))
            }
            FanoutMode::Immediate => None,
        }
    }

    /// The defaults, as if started with no flags and no environment: what
    /// tests start from before changing the fields they care about.
    pub fn defaults() -> Self {
        Self::parse_from(["cursors-server"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_are_tokios_default_unless_given_and_never_zero() {
        let given = Config::try_parse_from(["cursors-server", "--worker-threads", "1"])
            .expect("one thread is fine");
        assert_eq!(given.worker_threads, NonZeroUsize::new(1));
        let zero = Config::try_parse_from(["cursors-server", "--worker-threads", "0"]);
        assert!(zero.is_err(), "zero threads must be refused");
    }
}
