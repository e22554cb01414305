//! A real `redis-server` (Debian's package) on a free loopback port, in a
//! folder of its own, without persistence, with `DEBUG` allowed from
//! loopback (`DEBUG SLEEP` stands in for a Redis that hangs). Killed on drop.

use std::process::{Child, Command, Stdio};

use crate::ports::{free_loopback_address, kill_and_reap, wait_until_process_accepts};
use crate::{Logs, Result, SupportError, TempDir, temp_dir};

/// How many fresh ports to try when another process takes the one picked.
const ATTEMPTS: usize = 5;

const HINT: &str = "Debian package redis-server; scripts/setup.sh --redis installs it";

pub struct Redis {
    pub port: u16,
    logs: Logs,
    process: Option<Child>,
    /// Its working folder, so nothing it writes lands where the test runs.
    folder: TempDir,
}

impl Redis {
    /// Starts one; its output goes to `logs` (as `redis-PORT.log`).
    pub fn start(logs: Logs) -> Result<Self> {
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let mut redis = Self {
                port: free_loopback_address()?.port(),
                logs: logs.clone(),
                process: None,
                folder: temp_dir("cursors-redis")?,
            };
            match redis.restart() {
                Ok(()) => return Ok(redis),
                // The port was taken between choosing and binding it.
                Err(error @ SupportError::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL: it forgets everything).
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            kill_and_reap(&mut process);
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        let (_file, output) = self.logs.open(&format!("redis-{}", self.port))?;
        let mut process = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.folder.path())
            .args(["--enable-debug-command", "local"])
            .stdout(output)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| SupportError::Spawn {
                program: "redis-server".into(),
                hint: HINT,
                source,
            })?;
        let addr = ([127, 0, 0, 1], self.port).into();
        if let Err(error) = wait_until_process_accepts(&mut process, addr, "redis-server") {
            kill_and_reap(&mut process);
            return Err(error);
        }
        self.process = Some(process);
        Ok(())
    }

    /// Runs `redis-cli` against it; returns what it printed.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map_err(|source| SupportError::Spawn {
                program: "redis-cli".into(),
                hint: "Debian package redis-tools",
                source,
            })?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
