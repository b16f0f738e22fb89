//! Per-kind preparation (read and check config files, before anything exists) and start-up.

pub mod etcd;
pub mod frr;
pub mod lattice;
pub mod linux;

use std::time::Duration;

use crate::error::LabError;
use crate::paths::LabDir;
use crate::sh;
use crate::state::LabState;
use crate::topology::{Kind, Lab, Node};

/// What a node needs written at start, computed before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// FRR's files and daemons.
    Frr(frr::FrrPrepared),
    /// Nothing to prepare.
    Linux,
    /// latticed's rewritten YAML config.
    Lattice(String),
    /// Nothing to prepare: etcd is configured by flags and its environment.
    Etcd,
}

/// Read and check a node's config files (and its env files).
pub fn prepare(dir: &LabDir, node: &Node) -> Result<Prepared, LabError> {
    crate::env::environment(node)?;
    match node.kind {
        Kind::Frr => frr::prepare(node).map(Prepared::Frr),
        Kind::Linux => Ok(Prepared::Linux),
        Kind::Lattice => lattice::prepare(dir, node).map(Prepared::Lattice),
        Kind::Etcd => Ok(Prepared::Etcd),
    }
}

/// Everything `start` needs about the lab being deployed.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The lab.
    pub lab: &'a Lab,
    /// Its state directory.
    pub dir: &'a LabDir,
    /// The state record, saved after each step.
    pub state: &'a mut LabState,
}

impl Prepared {
    /// Notes found while preparing.
    pub fn notes(&self) -> &[String] {
        match self {
            Prepared::Frr(f) => &f.notes,
            _ => &[],
        }
    }
}

/// Start a node whose namespace and links exist: after its `startup-delay`, with its
/// `sysctls` set in its namespace.
pub fn start(ctx: &mut Ctx<'_>, node: &Node, prepared: &Prepared) -> Result<(), LabError> {
    if node.startup_delay > 0 {
        println!("  {}: startup-delay {}s", node.name, node.startup_delay);
        std::thread::sleep(Duration::from_secs(node.startup_delay));
    }
    let ns = ctx.lab.namespace(&node.name);
    for (k, v) in &node.sysctls {
        let kv = format!("{k}={v}");
        sh::run(&mut sh::in_netns(&ns, &["sysctl", "-q", "-w", &kv]))?;
    }
    let labels = node.labels.clone();
    ctx.state.node_mut(&node.name, node.kind, &ns).labels = labels;
    match prepared {
        Prepared::Frr(files) => frr::start(ctx, node, files),
        Prepared::Linux => linux::start(ctx, node),
        Prepared::Lattice(yaml) => lattice::start(ctx, node, yaml),
        Prepared::Etcd => etcd::start(ctx, node),
    }
}
