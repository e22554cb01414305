//! A real Redis Cluster of Debian's `redis-server`: three primaries and
//! three replicas on free loopback ports, each node in a folder of its own,
//! joined by `redis-cli --cluster create`. Every node is killed on drop (of
//! the cluster, or of a node whose cluster never formed), so a failing test
//! leaves none running.
//!
//! A cluster node also listens on its *bus* port, its port + 10000, so a
//! port is only taken when both are free. The node timeout is short (two
//! seconds) so that a killed primary's replica takes over in a few seconds
//! instead of the default fifteen; nothing here waits a fixed time, every
//! wait polls up to a bound.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ports::{kill_and_reap, wait_until_process_accepts};
use crate::{Logs, Result, SupportError, TempDir, temp_dir};

/// Nodes: three primaries, each with one replica.
pub const NODES: usize = 6;
/// How long a node may be unreachable before the cluster fails it over.
pub const NODE_TIMEOUT_MS: u64 = 2000;
/// Upper bound on the cluster's own steps (forming, a slot's move).
const CLUSTER_PATIENCE: Duration = Duration::from_secs(30);
/// A cluster node's bus port is its port plus this.
const BUS_OFFSET: u16 = 10_000;
/// How many fresh ports to try when another process takes the one picked.
const ATTEMPTS: usize = 5;

const HINT: &str =
    "Debian packages redis-server and redis-tools; scripts/setup.sh --redis installs them";

/// One node of the cluster.
struct Node {
    port: u16,
    process: Option<Child>,
    folder: TempDir,
}

impl Node {
    fn start(logs: &Logs) -> Result<Self> {
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let mut node = Self {
                port: port_with_free_bus()?,
                process: None,
                folder: temp_dir("cursors-redis-cluster")?,
            };
            match node.spawn(logs) {
                Ok(()) => return Ok(node),
                // The port (or its bus port) was taken meanwhile.
                Err(error @ SupportError::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    fn spawn(&mut self, logs: &Logs) -> Result<()> {
        let (_file, output) = logs.open(&format!("redis-cluster-{}", self.port))?;
        let mut process = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
            // A replica takes over however long ago it last heard from its
            // primary (a young cluster's replica may not have heard much).
            .args(["--cluster-replica-validity-factor", "0"])
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
        if let Err(error) = wait_until_process_accepts(&mut process, addr, "redis-server (cluster)")
        {
            kill_and_reap(&mut process);
            return Err(error);
        }
        self.process = Some(process);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            kill_and_reap(&mut process);
        }
    }
}

/// One line of `CLUSTER NODES`, as far as the tests need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: String,
    pub port: u16,
    pub primary: bool,
    pub failed: bool,
    /// The slot ranges it serves (primaries only), inclusive.
    pub slots: Vec<(u16, u16)>,
}

impl NodeInfo {
    pub fn serves(&self, slot: u16) -> bool {
        self.slots
            .iter()
            .any(|(first, last)| (*first..=*last).contains(&slot))
    }
}

/// Why the cluster did not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Support(#[from] SupportError),
    #[error("redis-cli {args}: {output}")]
    Cli { args: String, output: String },
    #[error("the cluster did not {what} within {CLUSTER_PATIENCE:?}")]
    Timeout { what: String },
}

pub struct RedisCluster {
    nodes: Vec<Node>,
}

impl RedisCluster {
    /// Starts six nodes and joins them into a cluster of three primaries
    /// with a replica each; returns once every node says the cluster is ok.
    pub fn start(logs: Logs) -> Result<Self, ClusterError> {
        let mut nodes = Vec::with_capacity(NODES);
        for _ in 0..NODES {
            nodes.push(Node::start(&logs)?);
        }
        let cluster = Self { nodes };
        let addresses: Vec<String> = cluster
            .ports()
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
        let output = cli_output(cluster.nodes[0].port, &args)?;
        if !output.contains("[OK] All 16384 slots covered") {
            return Err(ClusterError::Cli {
                args: args.join(" "),
                output,
            });
        }
        cluster.wait_until("form", |cluster| {
            (0..NODES).all(|index| {
                cluster
                    .cli(index, &["CLUSTER", "INFO"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            }) && cluster.nodes().is_ok_and(|nodes| {
                nodes.iter().filter(|node| node.primary).count() == 3
                    && nodes.len() == NODES
                    && nodes.iter().all(|node| !node.failed)
            }) && (0..NODES).all(|index| {
                // Every replica has its primary's data, ready to take over.
                cluster
                    .cli(index, &["INFO", "replication"])
                    .is_ok_and(|info| {
                        info.contains("role:master") || info.contains("master_link_status:up")
                    })
            })
        })?;
        Ok(cluster)
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// The URL our server takes: fred's cluster form, every node listed.
    pub fn url(&self) -> String {
        let ports = self.ports();
        let others: Vec<String> = ports[1..]
            .iter()
            .map(|port| format!("node=127.0.0.1:{port}"))
            .collect();
        format!(
            "redis-cluster://127.0.0.1:{}?{}",
            ports[0],
            others.join("&")
        )
    }

    /// Runs `redis-cli` against node `index`; what it printed, or its
    /// error when it failed.
    pub fn cli(&self, index: usize, args: &[&str]) -> Result<String, ClusterError> {
        cli_output(self.nodes[index].port, args)
    }

    /// Runs `redis-cli` against the first live node.
    fn any_cli(&self, args: &[&str]) -> Result<String, ClusterError> {
        let mut last = None;
        for node in self.nodes.iter().filter(|node| node.process.is_some()) {
            match cli_output(node.port, args) {
                Ok(output) => return Ok(output),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| ClusterError::Timeout {
            what: "keep a node alive".into(),
        }))
    }

    /// The hash slot of `key`, as Redis computes it.
    pub fn keyslot(&self, key: &str) -> Result<u16, ClusterError> {
        let output = self.any_cli(&["CLUSTER", "KEYSLOT", key])?;
        output.parse().map_err(|_| ClusterError::Cli {
            args: format!("CLUSTER KEYSLOT {key}"),
            output,
        })
    }

    /// Every node as a live node sees them.
    pub fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        let output = self.any_cli(&["CLUSTER", "NODES"])?;
        Ok(output.lines().filter_map(parse_node_line).collect())
    }

    /// The index (in [`Self::ports`]) of the primary serving `slot`.
    pub fn primary_of(&self, slot: u16) -> Result<usize, ClusterError> {
        let nodes = self.nodes()?;
        let owner = nodes
            .iter()
            .find(|node| node.primary && !node.failed && node.serves(slot))
            .ok_or_else(|| ClusterError::Timeout {
                what: format!("serve slot {slot}"),
            })?;
        Ok(self.index_of(owner.port))
    }

    /// The indexes of the current primaries.
    pub fn primaries(&self) -> Result<Vec<usize>, ClusterError> {
        Ok(self
            .nodes()?
            .iter()
            .filter(|node| node.primary && !node.failed && !node.slots.is_empty())
            .map(|node| self.index_of(node.port))
            .collect())
    }

    fn index_of(&self, port: u16) -> usize {
        self.nodes
            .iter()
            .position(|node| node.port == port)
            .unwrap_or(usize::MAX)
    }

    /// Kills node `index` (SIGKILL: as in a crash).
    pub fn kill(&mut self, index: usize) {
        self.nodes[index].kill();
    }

    /// Waits until a live primary serves `slot` and the cluster is ok
    /// again (after a kill: the replica has taken over).
    pub fn wait_for_failover(&self, killed: usize, slot: u16) -> Result<usize, ClusterError> {
        let mut owner = None;
        self.wait_until("fail over", |cluster| {
            owner = cluster
                .primary_of(slot)
                .ok()
                .filter(|index| *index != killed && *index != usize::MAX);
            owner.is_some()
                && cluster
                    .any_cli(&["CLUSTER", "INFO"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
        })?;
        Ok(owner.unwrap_or(usize::MAX))
    }

    /// Moves `slot`, with its keys, from its primary to primary `to`, as
    /// `redis-cli --cluster reshard` does for a range: importing, migrating,
    /// `MIGRATE` of the keys, then the new owner on both nodes.
    pub fn move_slot(&self, slot: u16, to: usize) -> Result<(), ClusterError> {
        let from = self.primary_of(slot)?;
        let nodes = self.nodes()?;
        let id = |index: usize| {
            nodes
                .iter()
                .find(|node| node.port == self.nodes[index].port)
                .map(|node| node.id.clone())
                .unwrap_or_default()
        };
        let (from_id, to_id) = (id(from), id(to));
        let slot_text = slot.to_string();
        let to_port = self.nodes[to].port.to_string();
        self.cli_ok(
            to,
            &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &from_id],
        )?;
        self.cli_ok(
            from,
            &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &to_id],
        )?;
        loop {
            let keys = self.cli(from, &["CLUSTER", "GETKEYSINSLOT", &slot_text, "100"])?;
            let keys: Vec<&str> = keys.lines().filter(|key| !key.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let mut args = vec!["MIGRATE", "127.0.0.1", &to_port, "", "0", "5000", "KEYS"];
            args.extend(keys);
            self.cli_ok(from, &args)?;
        }
        self.cli_ok(to, &["CLUSTER", "SETSLOT", &slot_text, "NODE", &to_id])?;
        self.cli_ok(from, &["CLUSTER", "SETSLOT", &slot_text, "NODE", &to_id])?;
        // Tell the others at once rather than through gossip.
        for index in 0..NODES {
            if index != to && index != from && self.nodes[index].process.is_some() {
                let _ = self.cli(index, &["CLUSTER", "SETSLOT", &slot_text, "NODE", &to_id]);
            }
        }
        self.wait_until("agree on the slot's new owner", |cluster| {
            cluster.primary_of(slot).is_ok_and(|owner| owner == to)
        })
    }

    /// `cli`, failing unless Redis answered OK.
    fn cli_ok(&self, index: usize, args: &[&str]) -> Result<(), ClusterError> {
        let output = self.cli(index, args)?;
        if output == "OK" || output == "NOKEY" {
            Ok(())
        } else {
            Err(ClusterError::Cli {
                args: args.join(" "),
                output,
            })
        }
    }

    /// Polls `done` until it holds, up to the cluster's patience.
    fn wait_until(
        &self,
        what: &str,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<(), ClusterError> {
        let deadline = Instant::now() + CLUSTER_PATIENCE;
        while !done(self) {
            if Instant::now() > deadline {
                return Err(ClusterError::Timeout { what: what.into() });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

/// Each node is killed when dropped, so nodes started before a failure (of
/// a later node, or of the cluster's creation) do not outlive it either.
impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `redis-cli -p PORT ARGS…`: what it printed; an error if it could not
/// run or said so.
fn cli_output(port: u16, args: &[&str]) -> Result<String, ClusterError> {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| {
            ClusterError::Support(SupportError::Spawn {
                program: "redis-cli".into(),
                hint: HINT,
                source,
            })
        })?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || text.starts_with("ERR") || text.starts_with("Could not connect")
    {
        return Err(ClusterError::Cli {
            args: args.join(" "),
            output: format!("{text}{}", String::from_utf8_lossy(&output.stderr)),
        });
    }
    Ok(text)
}

/// A free loopback port whose bus port (+10000) is free too.
fn port_with_free_bus() -> Result<u16> {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let Some(bus) = port.checked_add(BUS_OFFSET) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", bus)).is_ok() {
            return Ok(port);
        }
    }
}

/// One line of `CLUSTER NODES`: `id ip:port@bus flags primary-id ping pong
/// epoch link slot…`.
fn parse_node_line(line: &str) -> Option<NodeInfo> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [id, address, flags, _, _, _, _, _, slots @ ..] = &fields[..] else {
        return None;
    };
    let port = address
        .split('@')
        .next()?
        .rsplit(':')
        .next()?
        .parse()
        .ok()?;
    let flags: Vec<&str> = flags.split(',').collect();
    let slots = slots
        .iter()
        .filter(|range| !range.starts_with('['))
        .filter_map(|range| match range.split_once('-') {
            Some((first, last)) => Some((first.parse().ok()?, last.parse().ok()?)),
            None => range.parse().ok().map(|slot| (slot, slot)),
        })
        .collect();
    Some(NodeInfo {
        id: (*id).to_owned(),
        port,
        primary: flags.contains(&"master"),
        failed: flags.contains(&"fail") || flags.contains(&"fail?"),
        slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_nodes_line_is_read() {
        let line = "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@40004,hostname4 master - 0 1426238317239 4 connected 0-5460 7000 [93-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]";
        let node = parse_node_line(line).expect("a node");
        assert_eq!(node.port, 30004);
        assert!(node.primary && !node.failed);
        assert_eq!(node.slots, [(0, 5460), (7000, 7000)]);
        assert!(node.serves(7000) && !node.serves(6000));
        let replica = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001 myself,slave,fail 07c37dfeb235213a872192d90877d0cd55635b91 0 0 1 connected";
        let replica = parse_node_line(replica).expect("a node");
        assert!(!replica.primary && replica.failed && replica.slots.is_empty());
    }
}
