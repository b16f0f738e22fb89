//! The second half of `wait`: every host's kernel holds every other host's blocks.
//!
//! Sessions being Established says nothing about the routes on them: FRR batches updates
//! (coalesce time) and each router on the way adds its own, so a container started right
//! after the sessions came up may not be reachable yet. `wait` returns once the fabric has
//! carried each host's blocks to every other host and latticed has installed them.

use std::collections::BTreeSet;

use api::proto::{Reply, Request};
use ipnet::IpNet;

use crate::latticed;
use crate::paths::LabDir;
use crate::topology::{Kind, Lab};

/// What one lattice host holds and has installed, as its API reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostRoutes {
    /// The node name.
    pub node: String,
    /// Blocks it holds and advertises (both families).
    pub blocks: Vec<IpNet>,
    /// Learned prefixes its kernel holds.
    pub installed: BTreeSet<IpNet>,
}

/// `"<node> lacks <block> (of <owner>)"` for each block some host has not installed.
pub fn missing(hosts: &[HostRoutes]) -> Vec<String> {
    let mut out = Vec::new();
    for owner in hosts {
        for block in &owner.blocks {
            for h in hosts.iter().filter(|h| h.node != owner.node) {
                // A host holding the block itself (a shared or borrowed one) routes it locally.
                if !h.installed.contains(block) && !h.blocks.contains(block) {
                    out.push(format!("{} lacks {block} (of {})", h.node, owner.node));
                }
            }
        }
    }
    out
}

/// Every lattice host's blocks and installed routes; `Err` names a host that did not answer.
pub fn host_routes(lab: &Lab, dir: &LabDir) -> Result<Vec<HostRoutes>, String> {
    let mut out = Vec::new();
    for node in lab.nodes.iter().filter(|n| n.kind == Kind::Lattice) {
        let socket = dir.latticed_socket(&node.name);
        let status = match latticed::call(&socket, &Request::Status) {
            Ok(Reply::Status(st)) => st,
            other => return Err(format!("{}: status: {other:?}", node.name)),
        };
        let routes = match latticed::call(&socket, &Request::Routes) {
            Ok(Reply::Routes { routes, .. }) => routes,
            other => return Err(format!("{}: routes: {other:?}", node.name)),
        };
        let blocks = status.blocks.iter().map(|b| IpNet::V4(*b));
        let blocks_v6 = status.blocks_v6.iter().map(|b| IpNet::V6(*b));
        out.push(HostRoutes {
            node: node.name.clone(),
            blocks: blocks.chain(blocks_v6).collect(),
            installed: routes
                .iter()
                .filter(|r| r.in_kernel)
                .map(|r| r.prefix)
                .collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(node: &str, blocks: &[&str], installed: &[&str]) -> HostRoutes {
        HostRoutes {
            node: node.into(),
            blocks: blocks.iter().map(|b| b.parse().unwrap()).collect(),
            installed: installed.iter().map(|b| b.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn converged_when_each_host_has_the_others_blocks() {
        let a = host("a", &["10.244.1.0/24", "fd00:1::/120"], &["10.244.2.0/24"]);
        let b = host("b", &["10.244.2.0/24"], &["10.244.1.0/24", "fd00:1::/120"]);
        assert!(missing(&[a.clone(), b.clone()]).is_empty());
        let late = host("b", &["10.244.2.0/24"], &["10.244.1.0/24"]);
        assert_eq!(missing(&[a, late]), vec!["b lacks fd00:1::/120 (of a)"]);
    }

    #[test]
    fn a_block_held_by_both_hosts_needs_no_route() {
        let a = host("a", &["10.244.1.0/24"], &[]);
        let b = host("b", &["10.244.1.0/24"], &[]);
        assert!(missing(&[a, b]).is_empty());
        assert!(missing(&[]).is_empty());
    }
}
