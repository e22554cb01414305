// ANCHOR: main
use std::path::Path;

use server::Relay;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt::init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    // Where `trunk build` puts the page, seen from this workspace's folder
    // (where `cargo run` is started).
    let page_dir = Path::new("client/dist");
    if !page_dir.join("index.html").is_file() {
        tracing::warn!(
            "no page in {}: run `trunk build` in client/",
            page_dir.display()
        );
    }
    axum::serve(listener, server::app(Relay::new(), page_dir)).await
}
// ANCHOR_END: main
