//! A ChromeDriver process, killed on drop together with the browsers it
//! started (it runs in its own process group).
//!
//! Its port is picked free and then handed to it, so another process can
//! take the port in between (the race the browser tests used to lose now and
//! then on a busy machine). Two checks close it: ChromeDriver exits when it
//! cannot bind, and we retry on a fresh port; and "listening" means it
//! answered its own `GET /status` with `"ready"`, so a stranger holding the
//! port is never taken for it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ports::{free_loopback_address, kill_and_reap};
use crate::{Result, STARTUP_PATIENCE, SupportError};

/// How many fresh ports to try.
const ATTEMPTS: usize = 5;

pub struct ChromeDriver {
    process: Child,
    /// Its WebDriver endpoint, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl ChromeDriver {
    /// Starts `$CURSORS_CHROMEDRIVER` (default `chromedriver`).
    pub fn start() -> Result<Self> {
        let binary =
            std::env::var("CURSORS_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let addr = free_loopback_address()?;
            let process = Command::new(&binary)
                .arg(format!("--port={}", addr.port()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so drop can take the browsers down too.
                .process_group(0)
                .spawn()
                .map_err(|source| SupportError::Spawn {
                    program: binary.clone(),
                    hint: "run scripts/setup.sh --browser",
                    source,
                })?;
            let mut driver = Self {
                process,
                url: format!("http://{addr}"),
            };
            match driver.wait_until_ready(addr) {
                Ok(()) => return Ok(driver),
                // Dropping `driver` kills what it started.
                Err(error @ SupportError::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// Waits until this process answers `GET /status` as ready.
    fn wait_until_ready(&mut self, addr: SocketAddr) -> Result<()> {
        let deadline = Instant::now() + STARTUP_PATIENCE;
        loop {
            if let Some(status) = self.process.try_wait()? {
                return Err(SupportError::Exited {
                    what: "chromedriver".into(),
                    addr,
                    status,
                });
            }
            if status_says_ready(addr) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(SupportError::NotListening {
                    what: "chromedriver".into(),
                    addr,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether a WebDriver server on `addr` answers its status as ready.
/// ChromeDriver keeps the connection open after answering (whatever the
/// request's `Connection: close`), so the answer is read until it says
/// ready, it ends, or a read times out.
fn status_says_ready(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    let mut chunk = [0; 4096];
    while let Ok(read @ 1..) = stream.read(&mut chunk) {
        response.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&response).replace(' ', "");
        if text.contains("\"ready\":true") {
            return true;
        }
    }
    false
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        kill_and_reap(&mut self.process);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A listener on a free port that answers one request with `answer`
    /// and then keeps the connection open, as ChromeDriver does.
    fn answering(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(answer.as_bytes());
            std::thread::sleep(Duration::from_secs(3));
        });
        addr
    }

    #[test]
    fn a_ready_status_is_read_although_the_connection_stays_open() {
        let addr =
            answering("HTTP/1.1 200 OK\r\n\r\n{\"value\":{\"message\":\"\",\"ready\": true}}");
        assert!(status_says_ready(addr));
    }

    #[test]
    fn a_stranger_on_the_port_is_not_taken_for_chromedriver() {
        let addr = answering("HTTP/1.1 404 Not Found\r\nContent-Length:0\r\n\r\n");
        assert!(!status_says_ready(addr));
    }
}
