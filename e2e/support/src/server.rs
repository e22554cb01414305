//! The real `cursors-server` binary as a process of its own, which a test
//! can kill outright (SIGKILL: no close frames, as in a crash) and start
//! again on the same address. The binary's path is passed in: the server's
//! tests use `CARGO_BIN_EXE_cursors-server`, the browser tests their own
//! `server-process` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::ports::{kill_and_reap, wait_until_process_accepts};
use crate::{Logs, Result, SupportError};

/// How to start a server: binary, address, static folder, flags and logs.
/// Kept, so the same server can be started again after a kill.
#[derive(Debug, Clone)]
pub struct ServerLaunch {
    binary: PathBuf,
    addr: SocketAddr,
    static_dir: PathBuf,
    flags: Vec<String>,
    logs: Logs,
}

impl ServerLaunch {
    /// `binary` on `addr`, serving no client, logging nowhere.
    pub fn new(binary: impl Into<PathBuf>, addr: SocketAddr) -> Self {
        Self {
            binary: binary.into(),
            addr,
            static_dir: PathBuf::from("/nonexistent-static-dir"),
            flags: Vec::new(),
            logs: Logs::Discard,
        }
    }

    /// Serves the client built in `folder`.
    pub fn static_dir(mut self, folder: impl Into<PathBuf>) -> Self {
        self.static_dir = folder.into();
        self
    }

    /// More flags (e.g. `--redis-url`).
    pub fn flags(mut self, flags: &[&str]) -> Self {
        self.flags
            .extend(flags.iter().map(|flag| (*flag).to_owned()));
        self
    }

    /// Where its log goes (as `server-PORT.log`).
    pub fn logs(mut self, logs: Logs) -> Self {
        self.logs = logs;
        self
    }

    /// Starts it and waits until it listens.
    pub fn start(&self) -> Result<ServerProcess> {
        let (log, output) = self.logs.open(&format!("server-{}", self.addr.port()))?;
        let mut process = Command::new(&self.binary)
            .arg("--addr")
            .arg(self.addr.to_string())
            .arg("--static-dir")
            .arg(&self.static_dir)
            .args(&self.flags)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(output)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| SupportError::Spawn {
                program: self.binary.display().to_string(),
                hint: "the server binary, built by cargo for the test",
                source,
            })?;
        if let Err(error) = wait_until_process_accepts(&mut process, self.addr, "cursors-server") {
            kill_and_reap(&mut process);
            return Err(error);
        }
        Ok(ServerProcess {
            addr: self.addr,
            log,
            process,
        })
    }
}

/// A running server; killed on drop.
pub struct ServerProcess {
    pub addr: SocketAddr,
    log: Option<PathBuf>,
    process: Child,
}

impl ServerProcess {
    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws{query}", self.addr)
    }

    pub fn page_url(&self, room: &str) -> String {
        format!("http://{}/?room={room}", self.addr)
    }

    /// What the server logged so far (empty when it logs nowhere).
    pub fn logged(&self) -> String {
        self.log
            .as_ref()
            .and_then(|log| std::fs::read_to_string(log).ok())
            .unwrap_or_default()
    }

    /// SIGKILL, and wait until it is gone: no goodbye to anyone, as in a
    /// crash.
    pub fn kill(&mut self) {
        kill_and_reap(&mut self.process);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
