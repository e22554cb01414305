//! The real processes the tests of every crate start, written once: a free
//! loopback port and the wait until something accepts on it ([`ports`]), a
//! `redis-server` ([`redis`]), a Redis Cluster of them ([`redis_cluster`]),
//! a `cursors-server` binary ([`server`]),
//! ChromeDriver ([`chromedriver`]), and temporary folders (the `tempfile`
//! crate, re-exported so every test crate uses the same one).
//!
//! Nothing here is mocked, and nothing here knows the server's code: the
//! server's own tests dev-depend on this crate, so it must not depend on
//! `cursors-server`; whoever starts a server passes its binary's path in.
//!
//! Every process is killed when its handle is dropped, so a failing test
//! leaves nothing running. Waits are bounded by [`STARTUP_PATIENCE`], only so
//! that a broken build fails instead of hanging; no test asserts on how long
//! anything took.

pub mod chromedriver;
pub mod ports;
pub mod redis;
pub mod redis_cluster;
pub mod server;

use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

pub use chromedriver::ChromeDriver;
pub use ports::{free_loopback_address, free_port, wait_until_accepts, wait_until_refused};
pub use redis::Redis;
pub use redis_cluster::RedisCluster;
pub use server::{ServerLaunch, ServerProcess};
pub use tempfile::{self, TempDir};

/// Upper bound on the wait for a process to start listening (or for a port
/// to be given back).
pub const STARTUP_PATIENCE: Duration = Duration::from_secs(20);

/// Why a piece of test infrastructure could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    #[error("cannot start {program} ({hint}): {source}")]
    Spawn {
        program: String,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} did not accept connections on {addr} within {STARTUP_PATIENCE:?}")]
    NotListening { what: String, addr: SocketAddr },
    #[error("{what} exited ({status}) before it listened on {addr}")]
    Exited {
        what: String,
        addr: SocketAddr,
        status: std::process::ExitStatus,
    },
    #[error("{addr} still accepted connections after {STARTUP_PATIENCE:?}")]
    StillListening { addr: SocketAddr },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = SupportError> = std::result::Result<T, E>;

/// Where a started process's standard output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logs {
    /// Nowhere (the browser tests, which read pages, not logs).
    Discard,
    /// A file `<name>.log` in this folder, so a failure can be read
    /// afterwards and a test can read what was logged.
    In(PathBuf),
}

impl Logs {
    /// The file (if any) and the `Stdio` for a process called `name`.
    fn open(&self, name: &str) -> Result<(Option<PathBuf>, Stdio)> {
        match self {
            Logs::Discard => Ok((None, Stdio::null())),
            Logs::In(folder) => {
                std::fs::create_dir_all(folder)?;
                let path = folder.join(format!("{name}.log"));
                let file = File::create(&path)?;
                Ok((Some(path), Stdio::from(file)))
            }
        }
    }
}

/// A fresh temporary folder, removed when dropped.
pub fn temp_dir(prefix: &str) -> Result<TempDir> {
    Ok(tempfile::Builder::new().prefix(prefix).tempdir()?)
}
