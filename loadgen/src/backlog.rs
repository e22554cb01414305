//! The generator's read backlog: bytes the server has already written to
//! the generator's sockets that the generator has not read yet, summed from
//! the kernel's socket table (`/proc/net/tcp`).
//!
//! With ten thousand receivers on one machine, the generator itself can be
//! what falls behind: if its tasks cannot read as fast as the server
//! writes, frames wait in the generator's socket buffers and the latency it
//! measures is its own. The kernel knows how much waits on each socket (the
//! `rx_queue` column), so the generator can tell, and mark such a run
//! invalid instead of charging the server with it.

use anyhow::{Context, Result};

/// Unread bytes on every established IPv4 socket whose remote port is one
/// of `server_ports` (the generator's side of its connections: the
/// server's side has the server port as its *local* port).
pub fn unread_bytes(server_ports: &[u16]) -> Result<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").context("/proc/net/tcp")?;
    Ok(unread_in(&table, server_ports))
}

/// [`unread_bytes`] on the text of a `/proc/net/tcp` table.
fn unread_in(table: &str, server_ports: &[u16]) -> u64 {
    /// The state column's value for an established connection.
    const ESTABLISHED: &str = "01";
    table
        .lines()
        .skip(1) // the header
        .filter_map(|line| {
            // sl, local_address, rem_address, st, tx_queue:rx_queue, ...
            let mut fields = line.split_whitespace().skip(2);
            let remote = fields.next()?;
            let state = fields.next()?;
            let queues = fields.next()?;
            let remote_port = u16::from_str_radix(remote.rsplit_once(':')?.1, 16).ok()?;
            if state != ESTABLISHED || !server_ports.contains(&remote_port) {
                return None;
            }
            u64::from_str_radix(queues.split_once(':')?.1, 16).ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four sockets to or of a server on port 0x1F90 (8080): two clients
    /// (one with 0x200 bytes unread), the server's own side of one of them
    /// (its queue is the server's, not ours), a client in TIME_WAIT; and a
    /// client of another port.
    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9C40 0100007F:1F90 01 00000000:00000200 00:00000000 00000000     0        0 1 1 0000000000000000 20 4 30 10 -1
   1: 0200007F:9C41 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:9C40 01 00000000:00000700 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:9C42 0100007F:1F90 06 00000000:00000010 00:00000000 00000000     0        0 0 3 0000000000000000
   4: 0100007F:9C43 0100007F:0050 01 00000000:00000100 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn sums_the_unread_bytes_of_established_connections_to_the_server() {
        assert_eq!(unread_in(TABLE, &[0x1F90]), 0x200);
        assert_eq!(unread_in(TABLE, &[0x1F90, 0x50]), 0x300);
        assert_eq!(unread_in(TABLE, &[4242]), 0);
    }

    #[test]
    fn a_malformed_line_counts_nothing() {
        assert_eq!(unread_in("header\n garbage\n 0: x y", &[0x1F90]), 0);
    }

    #[test]
    fn this_machine_has_a_table() {
        assert!(unread_bytes(&[1]).is_ok());
    }
}
