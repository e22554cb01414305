//! Accepting TCP connections and speaking HTTP/1.1 on them.
//!
//! We run this loop ourselves instead of `axum::serve` for two reasons:
//! - a **header-read timeout**: `axum::serve` sets none, so a slowloris
//!   client that trickles its request headers could hold a connection (and
//!   its memory) forever; hyper cuts it off once a timer is configured;
//! - **shutdown we can see**: each HTTP connection task watches the shutdown
//!   token and is tracked, so `serve` knows when they have all finished.
//!
//! Only HTTP/1.1 is spoken: WebSockets upgrade from it, and an HTTP/2
//! preface sniffer would itself be a place for a silent client to wait.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Accepts connections until `shutdown` is cancelled, spawning one tracked
/// task per connection on `connections`.
pub async fn accept_loop(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    send_buffer_bytes: usize,
    shutdown: CancellationToken,
    connections: TaskTracker,
) {
    // ANCHOR: header-timeout
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    // ANCHOR_END: header-timeout
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically EMFILE (out of file descriptors): back off a
                    // little instead of spinning, and keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Cursor frames are small and latency-sensitive: no Nagle delay.
        let _ = stream.set_nodelay(true);
        if send_buffer_bytes > 0 {
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(send_buffer_bytes);
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` would add.
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(request)
        });
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let shutdown = shutdown.clone();
        // ANCHOR: graceful
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = shutdown.cancelled() => {
                    // Finish the request in flight, then close; an upgraded
                    // WebSocket has left this task already and closes itself.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "HTTP connection ended with an error");
            }
        });
        // ANCHOR_END: graceful
    }
}
