//! Free loopback ports, and the waits for a port to accept or to be free.
//!
//! A free port is found by binding port 0 and letting the listener go, so
//! another process can take it before ours binds it: callers that can, retry
//! on a fresh port when their process exits instead of listening (see
//! [`crate::redis`] and [`crate::chromedriver`]).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::{Result, STARTUP_PATIENCE, SupportError};

/// How often a wait tries again.
const POLL: Duration = Duration::from_millis(20);

/// A port of 127.0.0.1 that nothing listened on a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// [`free_port`] as an address to start a server on (and restart it on).
pub fn free_loopback_address() -> Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
}

/// Waits until `addr` accepts a TCP connection; `what` names the listener
/// in the error.
pub fn wait_until_accepts(addr: SocketAddr, what: &str) -> Result<()> {
    let deadline = Instant::now() + STARTUP_PATIENCE;
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(SupportError::NotListening {
                what: what.to_owned(),
                addr,
            });
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// Waits until nothing accepts on `addr` any more (a server that listens on
/// a fixed port has let it go, so the next one can take it).
pub fn wait_until_refused(addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + STARTUP_PATIENCE;
    while TcpStream::connect(addr).is_ok() {
        if Instant::now() > deadline {
            return Err(SupportError::StillListening { addr });
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// Waits until `process` accepts on `addr`, failing as soon as it exits
/// (most often because another process took the port first).
pub(crate) fn wait_until_process_accepts(
    process: &mut Child,
    addr: SocketAddr,
    what: &str,
) -> Result<()> {
    let deadline = Instant::now() + STARTUP_PATIENCE;
    loop {
        if let Some(status) = process.try_wait()? {
            return Err(SupportError::Exited {
                what: what.to_owned(),
                addr,
                status,
            });
        }
        // Something accepts; it must be this process, not a stranger that
        // took the port first (then this one fails to bind and exits,
        // which the next turn reports).
        if TcpStream::connect(addr).is_ok() && listens(process.id(), addr.port()) != Some(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(SupportError::NotListening {
                what: what.to_owned(),
                addr,
            });
        }
        std::thread::sleep(POLL);
    }
}

/// Whether process `pid` holds a listening TCP socket on `port`, read
/// from Linux's `/proc`: the socket's inode in `/proc/net/tcp{,6}`, among
/// the process's open files. `None` where `/proc` cannot tell (another
/// system): the caller then trusts the port.
fn listens(pid: u32, port: u16) -> Option<bool> {
    const LISTEN: &str = "0A";
    let port = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl, local address, remote address, state, …, inode (10th).
            if let [_, local, _, state, _, _, _, _, _, inode, ..] = fields[..]
                && local.ends_with(&port)
                && state == LISTEN
            {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    let files = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(files.flatten().any(|file| {
        std::fs::read_link(file.path()).is_ok_and(|target| {
            inodes
                .iter()
                .any(|inode| target.as_os_str() == inode.as_str())
        })
    }))
}

/// Kills `process` and reaps it; errors are of no use to a caller tearing
/// down (it is gone either way, or was already).
pub(crate) fn kill_and_reap(process: &mut Child) {
    let _ = process.kill();
    let _ = process.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_port_accepts_and_a_released_one_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        wait_until_accepts(addr, "the test listener").unwrap();
        drop(listener);
        wait_until_refused(addr).unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_stranger_on_the_port_is_not_taken_for_the_process() {
        // This test process listens; a child that does not is not it.
        let stranger = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = stranger.local_addr().expect("addr");
        assert_eq!(listens(std::process::id(), addr.port()), Some(true));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        assert_eq!(listens(child.id(), addr.port()), Some(false));
        kill_and_reap(&mut child);
    }

    #[test]
    fn a_process_that_exits_instead_of_listening_is_reported_as_exited() {
        // Not as "did not listen": that is what tells a caller to retry.
        let mut process = std::process::Command::new("true").spawn().unwrap();
        let addr = free_loopback_address().unwrap();
        let error = wait_until_process_accepts(&mut process, addr, "true").unwrap_err();
        assert!(matches!(error, SupportError::Exited { .. }), "{error}");
    }
}
