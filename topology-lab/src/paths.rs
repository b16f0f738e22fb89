//! Where a lab keeps its state: `${LATTICE_LAB_DIR:-/run/lattice-lab}/<name>/`.

use std::path::{Path, PathBuf};

/// Default root of all labs' state.
pub const DEFAULT_ROOT: &str = "/run/lattice-lab";

/// The state directory of one lab and the files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabDir {
    root: PathBuf,
}

impl LabDir {
    /// The directory of lab `name`, honouring `LATTICE_LAB_DIR`.
    pub fn for_lab(name: &str) -> LabDir {
        let base = std::env::var_os("LATTICE_LAB_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        let base = std::path::absolute(&base).unwrap_or(base);
        LabDir {
            root: base.join(name),
        }
    }

    /// The lab directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// Per-node directory.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.root.join(node)
    }

    /// FRR's pid files and vty sockets.
    pub fn frr_run_dir(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("run")
    }

    /// The node's `/etc/frr`: frr.conf, daemons, vtysh.conf, `<daemon>.conf`.
    pub fn frr_etc_dir(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("etc")
    }

    /// An FRR daemon's log (its start-up output and its own log).
    pub fn daemon_log(&self, node: &str, daemon: &str) -> PathBuf {
        self.node_dir(node).join(format!("{daemon}.log"))
    }

    /// What the lab did to start an FRR node (what `docker logs` shows for FRR's image):
    /// daemons started, the config applied and vtysh's answer.
    pub fn node_log(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("node.log")
    }

    /// The rewritten latticed config.
    pub fn latticed_config(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("latticed.yaml")
    }

    /// latticed's API socket.
    pub fn latticed_socket(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("lattice.sock")
    }

    /// latticed's IPAM state.
    pub fn latticed_state(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("state")
    }

    /// latticed's stdout and stderr.
    pub fn latticed_log(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("latticed.log")
    }
}
