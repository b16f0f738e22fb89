//! The read-only API requests (`lattice peers`, `routes`, `ipam`) and the usage figures the
//! handler publishes as metrics.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use super::handler::{error, AgentHandler};
use super::learned::importable;
use crate::api::proto::{Allocation, BlockUsage, IpamStatus, Reply, RouteStatus};
use crate::kernel::RTPROT_BGP;
use crate::metrics::RouteKind;

impl AgentHandler {
    /// Every peer in detail, or the one asked for (`not_found` if it is not configured).
    pub(super) async fn peers(&self, only: Option<IpAddr>) -> Reply {
        let mut peers = self.speaker.status().await;
        if let Some(want) = only {
            peers.retain(|p| p.address == want);
            if peers.is_empty() {
                return error("not_found", format!("{want} is not a configured BGP peer"));
            }
        }
        Reply::Peers { peers }
    }

    /// The Loc-RIB, each prefix marked with whether the kernel holds it.
    pub(super) async fn routes(&self) -> Reply {
        let kernel: HashMap<Ipv4Net, Vec<Ipv4Addr>> = match self.kernel.routes(RTPROT_BGP).await {
            Ok(routes) => routes
                .iter()
                .map(|r| (r.destination, r.gateways()))
                .collect(),
            Err(e) => return error("kernel", format!("listing the kernel's BGP routes: {e}")),
        };
        let block = self.ipam.lock().await.block();
        let cluster = self.config.cluster.cidr;
        let routes = self
            .speaker
            .routes()
            .into_iter()
            .map(|r| {
                let (in_kernel, hops, why) = match r.prefix {
                    IpNet::V4(p) => match kernel.get(&p) {
                        Some(hops) => (true, hops.clone(), None),
                        None if !importable(p, cluster, block) => (
                            false,
                            Vec::new(),
                            Some("outside the cluster range or inside this host's block".into()),
                        ),
                        None => (false, Vec::new(), None),
                    },
                    IpNet::V6(_) => (false, Vec::new(), Some("no IPv6 dataplane yet".into())),
                };
                RouteStatus {
                    prefix: r.prefix,
                    paths: r.paths,
                    in_kernel,
                    kernel_next_hops: hops,
                    not_installed_because: why,
                }
            })
            .collect();
        Reply::Routes { routes }
    }

    /// Blocks, usage and allocations.
    pub(super) async fn ipam_status(&self) -> Reply {
        let ipam = self.ipam.lock().await;
        let mut allocations: Vec<Allocation> = ipam
            .allocations()
            .into_iter()
            .map(|a| Allocation {
                address: a.address,
                container_id: a.container_id,
                ifname: a.ifname,
            })
            .collect();
        allocations.sort_by_key(|a| a.address);
        Reply::Ipam(IpamStatus {
            blocks: vec![BlockUsage {
                block: ipam.block(),
                in_use: ipam.in_use(),
                capacity: ipam.capacity(),
            }],
            allocations,
        })
    }

    /// Publish the IPAM figures and the local routes (one /32 per attachment, one blackhole per
    /// block) as metrics.
    pub(super) fn publish_usage(&self, ipam: &ipam::Ipam) {
        publish_usage(&self.metrics, ipam);
    }
}

/// [`AgentHandler::publish_usage`] for the daemon's start, before the handler exists.
pub(super) fn publish_usage(metrics: &crate::metrics::Metrics, ipam: &ipam::Ipam) {
    metrics.ipam_blocks(&[(ipam.block(), ipam.in_use(), ipam.capacity())]);
    metrics.routes_installed(RouteKind::Local, ipam.in_use());
    metrics.routes_installed(RouteKind::Blackhole, 1);
}
