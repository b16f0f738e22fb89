//! `state.json`: what a deploy created, for inspect, wait, pingmatrix and destroy.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::LabError;
use crate::paths::LabDir;
use crate::topology::Kind;

/// The recorded state of one lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabState {
    /// Lab name.
    pub name: String,
    /// Topology file used for the deploy.
    pub topology: PathBuf,
    /// Unix time (ms) the deploy began.
    pub deploy_started_ms: u64,
    /// Unix time (ms) the deploy finished; `None` while it runs or if it failed.
    pub deployed_at_ms: Option<u64>,
    /// Every namespace created so far.
    pub namespaces: Vec<String>,
    /// Per-node records.
    pub nodes: Vec<NodeState>,
}

/// One node's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    /// Node name.
    pub name: String,
    /// Node kind.
    pub kind: Kind,
    /// Its namespace.
    pub namespace: String,
    /// Daemons started for it (FRR's daemons or latticed).
    pub pids: Vec<u32>,
    /// The names of those daemons, in the order of `pids` (empty in older state files).
    #[serde(default)]
    pub daemons: Vec<String>,
    /// The node's `labels` from the topology file.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Containers attached through latticed.
    pub containers: Vec<ContainerState>,
}

/// One container of a lattice node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerState {
    /// `exec` name (`<node>-c<i>`).
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Address latticed gave it.
    pub address: Ipv4Addr,
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl LabState {
    /// A fresh record for a deploy starting now.
    pub fn new(name: &str, topology: PathBuf) -> LabState {
        LabState {
            name: name.to_string(),
            topology,
            deploy_started_ms: now_ms(),
            deployed_at_ms: None,
            namespaces: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// Read `state.json`; `Ok(None)` if there is none.
    pub fn load(dir: &LabDir) -> Result<Option<LabState>, LabError> {
        let path = dir.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::io(format!("reading {}", path.display()))(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| LabError::Failed(format!("{} is not a lab state: {e}", path.display())))
    }

    /// Load, or fail with "not deployed".
    pub fn require(dir: &LabDir, name: &str) -> Result<LabState, LabError> {
        LabState::load(dir)?.ok_or_else(|| {
            LabError::Failed(format!(
                "lab `{name}` is not deployed (no {})",
                dir.state_file().display()
            ))
        })
    }

    /// Write `state.json` atomically.
    pub fn save(&self, dir: &LabDir) -> Result<(), LabError> {
        let path = dir.state_file();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LabError::Failed(format!("encoding lab state: {e}")))?;
        std::fs::write(&tmp, text).map_err(LabError::io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(LabError::io(format!("writing {}", path.display())))
    }

    /// The record of `node`, created on first use.
    pub fn node_mut(&mut self, name: &str, kind: Kind, namespace: &str) -> &mut NodeState {
        let idx = match self.nodes.iter().position(|n| n.name == name) {
            Some(i) => i,
            None => {
                self.nodes.push(NodeState {
                    name: name.to_string(),
                    kind,
                    namespace: namespace.to_string(),
                    pids: Vec::new(),
                    daemons: Vec::new(),
                    labels: BTreeMap::new(),
                    containers: Vec::new(),
                });
                self.nodes.len().saturating_sub(1)
            }
        };
        // The index is in range: found above or just pushed.
        &mut self.nodes[idx]
    }

    /// Record a daemon started for a node.
    pub fn add_daemon(&mut self, node: &str, kind: Kind, namespace: &str, name: &str, pid: u32) {
        let n = self.node_mut(node, kind, namespace);
        n.pids.push(pid);
        n.daemons.push(name.to_string());
    }

    /// Every recorded pid.
    pub fn all_pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .flat_map(|n| n.pids.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let mut s = LabState::new("lab", PathBuf::from("/x.clab.yml"));
        s.namespaces.push("lab-a".into());
        s.node_mut("a", Kind::Lattice, "lab-a").pids.push(42);
        s.node_mut("a", Kind::Lattice, "lab-a")
            .containers
            .push(ContainerState {
                name: "a-c1".into(),
                namespace: "lab-a-c1".into(),
                address: Ipv4Addr::new(10, 244, 1, 2),
            });
        let text = serde_json::to_string(&s).unwrap();
        let back: LabState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.nodes.len(), 1);
        assert_eq!(back.all_pids(), vec![42]);
    }
}
