//! Entry point: read the configuration, start logging, and run the server
//! until SIGINT or SIGTERM. Everything else lives in the library.

use anyhow::Context;
use clap::Parser;
use cursors_server::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")),
        )
        .init();
    let config = Config::parse();
    tracing::info!(?config, "starting");
    let addr = config.addr;
    cursors_server::run(config)
        .await
        .with_context(|| format!("server on {addr} failed"))
}
