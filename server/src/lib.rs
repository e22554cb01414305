//! The cursors server: an axum app that relays cursor positions between the
//! users of a room over WebSockets, and serves the built client.
//!
//! Layout, one module per concern:
//! - [`config`]: command-line flags and their environment fallbacks;
//! - [`room`]: room state, one task per room, and the coalescing fan-out;
//! - `mailbox`: each connection's bounded outbound queue;
//! - `ws`: the upgrade checks and the per-connection task;
//! - [`identity`]: ids, friendly names and colours;
//! - [`metrics`]: counters exported at `/metrics`.
//!
//! [`serve`] runs the whole server on a listener the caller bound, which is
//! how `main` starts it and how tests start it on port 0.

pub mod config;
pub mod identity;
mod mailbox;
pub mod metrics;
pub mod room;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::handler::HandlerWithoutStateExt;
use axum::http::StatusCode;
use axum::routing::{any, get};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

pub use config::{Config, FanoutMode};
use metrics::Metrics;
use room::{RoomHub, RoomSettings};

/// Commands that may wait for one room task before connections wait too.
const ROOM_COMMAND_QUEUE: usize = 1024;

/// What every request handler and connection task shares.
#[derive(Clone)]
pub struct AppState {
    config: Arc<Config>,
    hub: Arc<RoomHub>,
    metrics: Arc<Metrics>,
    /// Cancelled when the server starts shutting down; every connection task
    /// watches it, because axum's graceful shutdown does not wait for
    /// upgraded WebSockets (axum issue #3003).
    shutdown: CancellationToken,
    /// The connection tasks, so shutdown can wait for them to close.
    connections: TaskTracker,
}

impl AppState {
    pub fn new(config: Config, shutdown: CancellationToken) -> Self {
        let metrics = Arc::new(Metrics::default());
        let settings = RoomSettings {
            fanout: config.fanout,
            tick: config.tick(),
            outbound_queue: config.outbound_queue,
            command_queue: ROOM_COMMAND_QUEUE,
        };
        Self {
            hub: RoomHub::new(settings, metrics.clone()),
            config: Arc::new(config),
            metrics,
            shutdown,
            connections: TaskTracker::new(),
        }
    }
}

/// The HTTP routes: the WebSocket, health and metrics, and the client.
pub fn router(state: AppState) -> Router {
    // Only the static files are compressed; the wasm bundle shrinks ~3x.
    let client = Router::new()
        .fallback_service(
            ServeDir::new(&state.config.static_dir)
                .not_found_service(client_not_found.into_service()),
        )
        .layer(CompressionLayer::new());
    Router::new()
        .route("/ws", any(ws::upgrade))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(client)
}

async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    let mut text = state.metrics.render();
    text.push_str(&format!(
        "# HELP cursors_room_tasks Room tasks running.\n# TYPE cursors_room_tasks gauge\ncursors_room_tasks {}\n",
        state.hub.room_count()
    ));
    text
}

async fn client_not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "Not found. If you expected the app here, build the client first: scripts/build-client.sh\n",
    )
}

/// Serves until `shutdown` is cancelled, then closes every WebSocket with
/// 1001 and waits (up to the configured grace period) for them to finish.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    let grace = config.shutdown_grace();
    let state = AppState::new(config, shutdown.clone());
    let connections = state.connections.clone();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!("listening on http://{address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace period"
        );
    }
    tracing::info!("server stopped");
    Ok(())
}
