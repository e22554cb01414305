//! Real processes for the tests of several servers: a `redis-server` on a
//! free loopback port, and `cursors-server` binaries pointed at it. Each is
//! killed when dropped, so a failing test leaves nothing running.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::PATIENCE;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn wait_until_listening(addr: SocketAddr, what: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while TcpStream::connect(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not listen on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where a process's output goes, so a failure can be read afterwards.
fn log_file(name: &str) -> (PathBuf, std::fs::File) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.log"));
    let file = std::fs::File::create(&path).expect("a log file");
    (path, file)
}

/// A real Redis, without persistence, on a free loopback port.
pub struct Redis {
    pub port: u16,
    process: Option<Child>,
}

impl Redis {
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            process: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL: it forgets everything).
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Runs `redis-cli` against it; returns what it printed.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli (Debian package redis-tools)");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Waits until the room's shared store lists user `id`.
    pub fn wait_for_user(&self, room: &str, id: &str) {
        let key = format!("cursors:{{room:{room}}}:users");
        let deadline = std::time::Instant::now() + PATIENCE;
        while self.cli(&["HEXISTS", &key, id]) != "1" {
            assert!(
                std::time::Instant::now() < deadline,
                "{id} never reached {key}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        let (_, log) = log_file(&format!("redis-{}", self.port));
        let process = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            // DEBUG SLEEP stalls it for the tests of a Redis that hangs.
            .args(["--enable-debug-command", "local"])
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; scripts/setup.sh installs it)");
        self.process = Some(process);
        wait_until_listening(
            SocketAddr::from(([127, 0, 0, 1], self.port)),
            "redis-server",
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The real server binary, one of a group sharing `redis_url`.
pub struct ServerProcess {
    pub addr: SocketAddr,
    pub log: PathBuf,
    process: Child,
}

impl ServerProcess {
    pub fn start(redis_url: &str, extra: &[&str]) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let (log, file) = log_file(&format!("server-{}", addr.port()));
        let process = Command::new(env!("CARGO_BIN_EXE_cursors-server"))
            .args(["--addr", &addr.to_string(), "--static-dir", "/nonexistent"])
            .args(["--redis-url", redis_url])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("the server binary");
        wait_until_listening(addr, "cursors-server");
        Self { addr, log, process }
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws{query}", self.addr)
    }

    /// What the server logged so far.
    pub fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no goodbye to anyone, as in a crash.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
