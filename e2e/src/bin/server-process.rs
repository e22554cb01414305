//! The real server as a process of its own, for tests that kill it. Same
//! flags as `cursors-server` (tests find it as `CARGO_BIN_EXE_server-process`,
//! which cargo only provides for binaries of the test's own package).

use clap::Parser;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    cursors_server::run(cursors_server::Config::parse()).await
}
