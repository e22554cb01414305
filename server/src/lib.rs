//! The cursors server: an axum app that relays cursor positions between the
//! users of a room over WebSockets, and serves the built client.
//!
//! Layout, one module per concern:
//! - [`config`]: command-line flags and their environment fallbacks;
//! - [`room`]: the rules of a room (a pure state machine), its one task,
//!   the hub of rooms, the flush schedule and the backplane seam;
//! - `mailbox`: each connection's bounded outbound queue;
//! - `admission`: checks before the upgrade (room, origin, connection caps);
//! - `rate_limit`: each connection's message rate limit;
//! - `ws`: the handshake, the per-connection task and how it writes frames;
//! - `embed`: what another site needs to carry the embed (CORS for its
//!   files, and `/embed/access`, which says early whether it may);
//! - [`static_files`]: the built client, served with cache and security
//!   headers, precompressed where the build compressed it;
//! - `listener`: the accept loop (header-read timeout, graceful shutdown);
//! - [`identity`]: ids, friendly names and colours;
//! - [`token`]: signed room tokens (`--token-key`), checked before the
//!   upgrade, and signed by `cursors-server token`;
//! - [`metrics`]: counters, gauges and histograms exported at `/metrics`;
//! - `fuzzing`: the private parsers the fuzz targets (`fuzz/`) call
//!   directly; hidden from the docs, not an API.
//!
//! [`serve`] runs the whole server on a listener the caller bound, which is
//! how `main` starts it and how tests start it on port 0.

mod admission;
pub mod config;
mod embed;
pub mod identity;
mod listener;
mod mailbox;
pub mod metrics;
mod rate_limit;
pub mod room;
pub mod static_files;
pub mod token;
mod ws;

/// What the fuzz targets in `fuzz/` feed directly: everything the server
/// reads from a client before the upgrade (the request's method, version
/// and headers; its room and origin), and what it reads back from Redis
/// (records and envelopes); and the outbound mailbox, which the room
/// simulation fills the way the room task does. These stay private to the
/// server otherwise.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::admission::{
        Admission, ConnectionLimits, OriginPolicy, Refusal, Request as AdmissionRequest,
    };
    pub use crate::mailbox::{BatchDelivery, Closed, Mailbox};
    pub use crate::room::redis::records::{Envelope, Received, Replicated, UserRecord};
    pub use crate::ws::handshake::{Handshake, NotAnUpgrade, check};
}

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::routing::{any, get};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use admission::{Admission, ConnectionLimits, OriginPolicy};
pub use config::{Config, FanoutMode};
use metrics::{Metrics, Occupancy};
use room::{Alone, Backplane, RedisBackplane, RoomHub, RoomRules, RoomSettings};
use token::TokenKey;

// ANCHOR: room-command-queue
/// Commands that may wait for one room task before connections wait too.
const ROOM_COMMAND_QUEUE: usize = 1024;
// ANCHOR_END: room-command-queue

/// What every request handler and connection task shares.
#[derive(Clone)]
pub struct AppState {
    config: Arc<Config>,
    hub: Arc<RoomHub>,
    metrics: Arc<Metrics>,
    admission: Arc<Admission>,
    /// Cancelled when the server starts shutting down; every connection task
    /// watches it, because axum's graceful shutdown does not wait for
    /// upgraded WebSockets (axum issue #3003).
    shutdown: CancellationToken,
    /// The connection tasks, so shutdown can wait for them to close.
    connections: TaskTracker,
}

impl AppState {
    pub fn new(
        config: Config,
        shutdown: CancellationToken,
        backplane: impl Backplane,
        metrics: Arc<Metrics>,
        tokens: Option<TokenKey>,
    ) -> Self {
        let settings = RoomSettings {
            rules: RoomRules {
                fanout: config.fanout,
                tick: config.tick(),
                frame_budget: config.frame_budget,
                resume_grace: std::time::Duration::from_secs(config.resume_grace_secs),
                reload_grace: std::time::Duration::from_millis(config.reload_grace_ms),
                id_prefix: backplane.id_prefix().to_owned(),
                crowd: config.crowd(),
            },
            outbound_queue: config.outbound_queue,
            command_queue: ROOM_COMMAND_QUEUE,
        };
        let admission = Admission {
            origins: OriginPolicy::new(&config.allowed_origins, &config.embed_origins),
            tokens,
            limits: ConnectionLimits::new(config.max_connections, config.max_connections_per_ip),
        };
        Self {
            hub: RoomHub::new(settings, backplane, metrics.clone()),
            admission: Arc::new(admission),
            config: Arc::new(config),
            metrics,
            shutdown,
            connections: TaskTracker::new(),
        }
    }
}

/// The HTTP routes: the WebSocket, health, the metrics (unless they have
/// an address of their own, `--metrics-addr`), and the client.
pub fn router(state: AppState) -> Router {
    let client = static_files::router(&state.config.static_dir);
    let admission = state.admission.clone();
    let mut routes = Router::new()
        .route("/ws", any(ws::upgrade))
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/embed/access",
            get(embed::access).with_state(admission.clone()),
        );
    if state.config.metrics_addr.is_none() {
        routes = routes.route("/metrics", get(metrics));
    }
    routes
        .with_state(state)
        .merge(client)
        .layer(axum::middleware::from_fn_with_state(
            admission,
            embed::cross_origin,
        ))
        .layer(axum::middleware::map_response(with_security_headers))
}

/// `/metrics` alone, for `--metrics-addr`: an address a public port need
/// not show.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(axum::middleware::map_response(with_security_headers))
}

async fn with_security_headers(mut response: axum::response::Response) -> axum::response::Response {
    response
        .headers_mut()
        .extend(static_files::security_headers());
    response
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> ([(header::HeaderName, &'static str); 1], String) {
    let limits = &state.admission.limits;
    let text = state.metrics.render(Occupancy {
        room_tasks: state.hub.room_count(),
        occupied_rooms: state.hub.occupied_rooms(),
        connection_permits: limits.open(),
        connected_addresses: limits.addresses(),
    });
    // The classic text format, said so with its version: scrapers pick
    // their parser by this header (see `metrics`).
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text)
}

/// Binds `config.addr` and serves until SIGINT or SIGTERM: what the
/// `cursors-server` binary does (and what a test runs to get a server
/// process it can kill).
pub async fn run(config: Config) -> std::io::Result<()> {
    let listener = TcpListener::bind(config.addr).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    serve(listener, config, shutdown).await
}

/// The key of `--token-key`, which must be able to verify.
fn load_token_key(path: &std::path::Path) -> std::io::Result<TokenKey> {
    let key = TokenKey::from_file(path).map_err(std::io::Error::other)?;
    if !key.verifies() {
        return Err(std::io::Error::other(format!(
            "--token-key {} is an Ed25519 private key: give the server the public key \
             (openssl pkey -in KEY -pubout), and keep the private one for signing",
            path.display()
        )));
    }
    tracing::info!(algorithm = ?key.algorithm(), "sockets need a signed token for their room");
    Ok(key)
}

// ANCHOR: signal
/// Cancels `shutdown` on the first SIGINT (Ctrl-C) or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
    shutdown.cancel();
}
// ANCHOR_END: signal

// ANCHOR: serve
/// Serves until `shutdown` is cancelled, then stops accepting, closes
/// every WebSocket with 1001 and waits, up to the configured grace period,
/// for every connection task to finish.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    let grace = config.shutdown_grace();
    let header_read_timeout = config.header_read_timeout();
    let send_buffer_bytes = config.socket_send_buffer_bytes;
    let metrics = Arc::new(Metrics::default());
    let tokens = match &config.token_key {
        None => None,
        Some(path) => Some(load_token_key(path)?),
    };
    let state = match config.redis_url.clone() {
        None => AppState::new(config, shutdown.clone(), Alone, metrics, tokens),
        Some(url) => {
            if config.fanout == FanoutMode::Immediate {
                return Err(std::io::Error::other(
                    "--fanout immediate is the single-server baseline: it relays each move \
                     at once, which the Redis backplane, publishing one batch per flush, cannot",
                ));
            }
            let redis = RedisBackplane::start(&url, metrics.clone(), shutdown.clone())
                .await
                .map_err(std::io::Error::other)?;
            AppState::new(config, shutdown.clone(), redis, metrics, tokens)
        }
    };
    let websockets = state.connections.clone();
    let http_connections = TaskTracker::new();
    if let Some(metrics_addr) = state.config.metrics_addr {
        let metrics_listener = TcpListener::bind(metrics_addr).await?;
        tracing::info!(
            "metrics on http://{}/metrics",
            metrics_listener.local_addr()?
        );
        let app = metrics_router(state.clone());
        let stop = shutdown.clone();
        http_connections.spawn(async move {
            let served = axum::serve(metrics_listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "the metrics listener failed");
            }
        });
    }
    tracing::info!("listening on http://{address}");
    listener::accept_loop(
        listener,
        router(state),
        header_read_timeout,
        send_buffer_bytes,
        shutdown,
        http_connections.clone(),
    )
    .await;

    // The WebSocket tasks saw the same token and are sending their 1001s.
    tracing::info!(websockets = websockets.len(), "shutting down");
    http_connections.close();
    websockets.close();
    let drained = tokio::time::timeout(grace, async {
        http_connections.wait().await;
        websockets.wait().await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = websockets.len(),
            "connections still open after the shutdown grace period"
        );
    }
    tracing::info!("server stopped");
    Ok(())
}
// ANCHOR_END: serve
