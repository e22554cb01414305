//! Entry point: read the configuration, start logging, start the runtime
//! and run the server until SIGINT or SIGTERM. Everything else lives in the
//! library.

use std::num::NonZeroUsize;

use anyhow::Context;
use clap::Parser;
use cursors_server::Config;
use cursors_server::config::ServerCommand;
use tokio::runtime::Runtime;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")),
        )
        .init();
    let config = Config::parse();
    if let Some(ServerCommand::Token(request)) = &config.command {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the clock is before 1970")?
            .as_secs();
        println!("{}", cursors_server::token::issue(request, now)?);
        return Ok(());
    }
    tracing::info!(?config, "starting");
    let addr = config.addr;
    runtime(config.worker_threads)
        .context("cannot start the async runtime")?
        .block_on(cursors_server::run(config))
        .with_context(|| format!("server on {addr} failed"))
}

/// Tokio's multi-threaded runtime, with `--worker-threads` threads if given
/// (otherwise tokio's default: one per core).
fn runtime(worker_threads: Option<NonZeroUsize>) -> std::io::Result<Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = worker_threads {
        builder.worker_threads(threads.get());
    }
    builder.build()
}
