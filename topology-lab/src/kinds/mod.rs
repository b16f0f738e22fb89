//! Per-kind preparation (read and check config files, before anything exists) and start-up.

pub mod frr;
pub mod lattice;
pub mod linux;

use crate::error::LabError;
use crate::paths::LabDir;
use crate::state::LabState;
use crate::topology::{Kind, Lab, Node};

/// What a node needs written at start, computed before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// FRR config files.
    Frr(frr::FrrFiles),
    /// Nothing to prepare.
    Linux,
    /// latticed's rewritten YAML config.
    Lattice(String),
}

/// Read and check a node's config files.
pub fn prepare(dir: &LabDir, node: &Node) -> Result<Prepared, LabError> {
    match node.kind {
        Kind::Frr => frr::prepare(node).map(Prepared::Frr),
        Kind::Linux => Ok(Prepared::Linux),
        Kind::Lattice => lattice::prepare(dir, node).map(Prepared::Lattice),
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

/// Start a node whose namespace and links exist.
pub fn start(ctx: &mut Ctx<'_>, node: &Node, prepared: &Prepared) -> Result<(), LabError> {
    match prepared {
        Prepared::Frr(files) => frr::start(ctx, node, files),
        Prepared::Linux => linux::start(ctx, node),
        Prepared::Lattice(yaml) => lattice::start(ctx, node, yaml),
    }
}
