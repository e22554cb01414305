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
fn status_says_ready(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.replace(' ', "").contains("\"ready\":true")
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        kill_and_reap(&mut self.process);
    }
}
