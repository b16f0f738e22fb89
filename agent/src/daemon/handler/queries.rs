//! The read-only requests: `lattice list`, `status`, `peers` and `routes` (the node, its
//! attachments and what BGP and the kernel hold).

use std::collections::HashMap;
use std::net::IpAddr;

use api::proto::{Attachment, NodeStatus, Reply, RouteStatus};
use ipnet::IpNet;

use super::shared::{error, AgentHandler};
use crate::api::convert;
use crate::daemon::usage;
use crate::dataplane;
use crate::kernel::RTPROT_BGP;

impl AgentHandler {
    /// Every attachment with its addresses (and namespace, when made since start).
    pub(super) async fn list(&self) -> Reply {
        let allocations = self.ipam.lock().await.ipam().allocations();
        let netns = self.netns.lock().await;
        let attachments = allocations
            .into_iter()
            .map(|a| {
                let key = (a.key.container_id.clone(), a.key.ifname.clone());
                Attachment {
                    host_ifname: dataplane::host_ifname(&a.key.container_id, &a.key.ifname),
                    netns: netns.get(&key).cloned().unwrap_or_default(),
                    container_id: a.key.container_id,
                    ifname: a.key.ifname,
                    address: a.v4,
                    address_v6: a.v6,
                    host_mac: None,
                    container_mac: None,
                }
            })
            .collect();
        Reply::List { attachments }
    }

    /// The node: blocks, conflicts, attachments, peers, learned routes, usage.
    pub(super) async fn status(&self) -> Reply {
        let (blocks, attachments, usage) = {
            let ipam = self.ipam.lock().await;
            let usage = usage::block_usage(ipam.ipam());
            (ipam.ipam().blocks(), ipam.ipam().in_use(), usage)
        };
        Reply::Status(NodeStatus {
            node: self.config.node.name.clone(),
            asn: self.config.node.asn,
            router_id: self.config.node.router_id,
            blocks: blocks
                .iter()
                .filter_map(|b| match b {
                    ipnet::IpNet::V4(n) => Some(*n),
                    ipnet::IpNet::V6(_) => None,
                })
                .collect(),
            blocks_v6: blocks
                .iter()
                .filter_map(|b| match b {
                    ipnet::IpNet::V6(n) => Some(*n),
                    ipnet::IpNet::V4(_) => None,
                })
                .collect(),
            conflicts: self.conflicts.list(),
            attachments,
            peers: convert::peers(self.speaker.status().await),
            learned_routes: self
                .dataplane
                .stats
                .learned
                .load(std::sync::atomic::Ordering::Relaxed),
            block_usage: usage,
        })
    }

    /// Every peer in detail, or the one asked for (`not_found` if it is not configured).
    pub(super) async fn peers(&self, only: Option<IpAddr>) -> Reply {
        let mut peers = self.speaker.status().await;
        if let Some(want) = only {
            peers.retain(|p| p.peer == want);
            if peers.is_empty() {
                return error("not_found", format!("{want} is not a configured BGP peer"));
            }
        }
        Reply::Peers {
            peers: convert::peers(peers),
        }
    }

    /// The Loc-RIB, each prefix marked with whether the kernel holds it.
    pub(super) async fn routes(&self) -> Reply {
        let kernel: HashMap<IpNet, Vec<IpAddr>> = match self.kernel.routes(RTPROT_BGP).await {
            Ok(routes) => routes
                .iter()
                .map(|r| (r.destination, r.gateways()))
                .collect(),
            Err(e) => return error("kernel", format!("listing the kernel's BGP routes: {e}")),
        };
        let held = self.ipam.lock().await.ipam().blocks();
        let conflicts: Vec<IpNet> = self
            .conflicts
            .list()
            .into_iter()
            .map(|c| c.prefix)
            .collect();
        let clusters: Vec<IpNet> = std::iter::once(IpNet::V4(self.config.cluster.cidr))
            .chain(self.config.cluster.cidr_v6.map(IpNet::V6))
            .collect();
        let routes = self
            .speaker
            .routes()
            .into_iter()
            .map(|r| {
                let ours = held.iter().any(|b| b.contains(&r.prefix));
                let p = r.prefix;
                let (in_kernel, hops, why) = match kernel.get(&p) {
                    Some(hops) => (true, hops.clone(), None),
                    None if conflicts.contains(&p) => (
                        false,
                        Vec::new(),
                        Some("inside a block this host holds: a block conflict".into()),
                    ),
                    None if ours => (
                        false,
                        Vec::new(),
                        Some("inside a block this host holds".into()),
                    ),
                    None if p.prefix_len() != 0 && !clusters.iter().any(|c| c.contains(&p)) => {
                        (false, Vec::new(), Some("outside the cluster ranges".into()))
                    }
                    None => (false, Vec::new(), None),
                };
                RouteStatus {
                    prefix: r.prefix,
                    paths: r.paths.into_iter().map(convert::path).collect(),
                    in_kernel,
                    kernel_next_hops: hops,
                    not_installed_because: why,
                }
            })
            .collect();
        Reply::Routes {
            routes,
            announced: self.announcements.list().await,
        }
    }
}
