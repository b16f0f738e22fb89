//! The read-only requests: `lattice list`, `status`, `peers` and `routes` (the node, its
//! attachments and what BGP and the kernel hold).

use std::collections::HashMap;

use api::proto::{Attachment, NodeStatus, Reply};
use ipnet::IpNet;

use super::shared::{error, AgentHandler};
use crate::api::convert_bfd;
use crate::api::route_status::KernelView;
use crate::daemon::usage;
use crate::dataplane::{self, Reachability};
use crate::kernel::{NextHop, RTPROT_BGP};

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
            peers: convert_bfd::peers_with_bfd(
                self.speaker.status().await,
                &self.bfd.fresh_view().await,
            ),
            learned_routes: self
                .dataplane
                .stats
                .learned
                .load(std::sync::atomic::Ordering::Relaxed),
            block_usage: usage,
            routes_not_installed: self
                .dataplane
                .stats
                .not_installed
                .load(std::sync::atomic::Ordering::Relaxed),
        })
    }

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
            peers: convert_bfd::peers_with_bfd(peers, &self.bfd.fresh_view().await),
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
        Reply::Routes {
            routes,
            announced: self.announcements.list().await,
        }
    }
}
