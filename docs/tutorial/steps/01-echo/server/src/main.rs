// ANCHOR: whole
// ANCHOR: main
#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt::init();
    // 3000 unless `PORT` names another: `PORT=3100 cargo run -p server`
    // when some other program already listens on 3000.
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let address = format!("127.0.0.1:{port}");
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|error| {
            let hint = "another program may have it: try another port, e.g. PORT=3100";
            std::io::Error::new(error.kind(), format!("{address}: {error} ({hint})"))
        })?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, server::app()).await
}
// ANCHOR_END: main
// ANCHOR_END: whole
