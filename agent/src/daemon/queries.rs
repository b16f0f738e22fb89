//! The read-only API requests (`lattice peers`, `routes`, `ipam`) and the usage figures the
//! handler publishes as metrics.

use std::collections::HashMap;

use api::proto::{Allocation, BlockUsage, IpamStatus, Reply};
use ipnet::IpNet;

use super::handler::{error, AgentHandler};
use crate::api::convert;
use crate::api::route_status::KernelView;
use crate::dataplane::Reachability;
use crate::kernel::{NextHop, RTPROT_BGP};
use crate::metrics::RouteKind;

impl AgentHandler {
    /// Every peer in detail, or the one asked for by address or interface (`not_found` if it
    /// is not configured).
    pub(super) async fn peers(&self, only: Option<String>) -> Reply {
        let mut peers = self.speaker.status().await;
        if let Some(want) = only {
            let key = want.parse::<bgp::PeerKey>().ok();
            peers.retain(|p| Some(&p.peer) == key.as_ref());
            if peers.is_empty() {
                return error("not_found", format!("{want} is not a configured BGP peer"));
            }
        }
        Reply::Peers {
            peers: convert::peers(peers),
        }
    }

    /// The Loc-RIB, each prefix marked with whether the kernel holds it, and each next hop the
    /// kernel cannot use with the reason.
    pub(super) async fn routes(&self) -> Reply {
        let kernel: HashMap<IpNet, Vec<NextHop>> = match self.kernel.routes(RTPROT_BGP).await {
            Ok(routes) => routes
                .iter()
                .map(|r| (r.destination, r.next_hops()))
                .collect(),
            Err(e) => return error("kernel", format!("listing the kernel's BGP routes: {e}")),
        };
        let reach = match (self.kernel.links().await, self.kernel.all_addresses().await) {
            (Ok(links), Ok(addresses)) => Reachability::new(&links, &addresses),
            (Err(e), _) | (_, Err(e)) => {
                return error("kernel", format!("listing links and addresses: {e}"))
            }
        };
        let view = KernelView {
            routes: kernel,
            reach,
            held: self.ipam.lock().await.ipam().blocks(),
            conflicts: self
                .conflicts
                .list()
                .into_iter()
                .map(|c| c.prefix)
                .collect(),
            clusters: std::iter::once(IpNet::V4(self.config.cluster.cidr))
                .chain(self.config.cluster.cidr_v6.map(IpNet::V6))
                .collect(),
        };
        let routes = self
            .speaker
            .routes()
            .into_iter()
            .map(|r| view.route(r))
            .collect();
        Reply::Routes { routes }
    }

    /// Blocks, usage and allocations.
    pub(super) async fn ipam_status(&self) -> Reply {
        let allocator = self.ipam.lock().await;
        let ipam = allocator.ipam();
        let allocations: Vec<Allocation> = ipam
            .allocations()
            .into_iter()
            .map(|a| Allocation {
                address: a.v4,
                address_v6: a.v6,
                container_id: a.key.container_id,
                ifname: a.key.ifname,
            })
            .collect();
        Reply::Ipam(IpamStatus {
            blocks: block_usage(ipam),
            allocations,
        })
    }

    /// Publish the IPAM figures and the local routes (one /32 per attachment, one blackhole per
    /// block) as metrics.
    pub(super) fn publish_usage(&self, ipam: &ipam::Ipam) {
        publish_usage(&self.metrics, ipam);
    }
}

/// Each held block with the addresses allocated in it and how many it has.
pub(super) fn block_usage(ipam: &ipam::Ipam) -> Vec<BlockUsage> {
    let allocations = ipam.allocations();
    ipam.blocks()
        .into_iter()
        .map(|block| {
            let in_use = allocations
                .iter()
                .filter(|a| match block {
                    IpNet::V4(b) => b.contains(&a.v4),
                    IpNet::V6(b) => a.v6.is_some_and(|v6| b.contains(&v6)),
                })
                .count();
            let host_bits = u32::from(block.max_prefix_len().saturating_sub(block.prefix_len()));
            let capacity = 1u128
                .checked_shl(host_bits)
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(usize::MAX);
            BlockUsage {
                block,
                in_use,
                capacity,
            }
        })
        .collect()
}

/// [`AgentHandler::publish_usage`] for the daemon's start, before the handler exists.
pub(super) fn publish_usage(metrics: &crate::metrics::Metrics, ipam: &ipam::Ipam) {
    let usage: Vec<(IpNet, usize, usize)> = block_usage(ipam)
        .into_iter()
        .map(|u| (u.block, u.in_use, u.capacity))
        .collect();
    metrics.ipam_blocks(&usage);
    metrics.routes_installed(RouteKind::Local, ipam.in_use());
    metrics.routes_installed(RouteKind::Blackhole, usage.len());
}
