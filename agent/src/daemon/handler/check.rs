//! CNI CHECK and STATUS: is this attachment still wired as it was, and can this host take
//! another container.

use std::path::PathBuf;

use api::proto::{Attachment, Reply};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::shared::{error, validate_key, AgentHandler};
use crate::dataplane::{self, RTPROT_LATTICE};
use crate::kernel::RouteTarget;

impl AgentHandler {
    /// CNI CHECK: the attachment exists and its veth, addresses (IPv4, and IPv6 when dual-stack)
    /// and host routes are in place.
    pub(super) async fn check(
        &self,
        container_id: String,
        ifname: String,
        netns: PathBuf,
    ) -> Reply {
        if let Err(message) = validate_key(&container_id, &ifname) {
            return error("bad_request", message);
        }
        let key = ipam::AllocationKey::new(&container_id, &ifname);
        let Some(assigned) = self.ipam.lock().await.ipam().get(&key) else {
            return error(
                "not_found",
                format!("latticed holds no attachment for {container_id}/{ifname}"),
            );
        };
        let address = assigned.v4;
        let host_ifname = dataplane::host_ifname(&container_id, &ifname);
        let k = self.kernel.as_ref();
        let host = match k.link_by_name(&host_ifname).await {
            Ok(l) => l,
            Err(e) => return error("mismatch", format!("host veth {host_ifname}: {e}")),
        };
        let ctr = match k.netns(&netns).await {
            Ok(c) => c,
            Err(e) => return error("not_found", format!("netns {}: {e}", netns.display())),
        };
        let inside = match ctr.link_by_name(&ifname).await {
            Ok(l) => l,
            Err(e) => return error("mismatch", format!("{ifname} in {}: {e}", netns.display())),
        };
        if host.peer_index != Some(inside.index) || inside.peer_index != Some(host.index) {
            return error(
                "mismatch",
                format!(
                    "{ifname} in {} is not the peer of {host_ifname}",
                    netns.display()
                ),
            );
        }
        // Both families of a dual-stack attachment: the container's /32 and /128, and the
        // host's routes for them out of the veth.
        let mut nets = vec![IpNet::V4(Ipv4Net::from(address))];
        nets.extend(assigned.v6.map(|v6| IpNet::V6(Ipv6Net::from(v6))));
        let held = match ctr.addresses(inside.index).await {
            Ok(addrs) => addrs,
            Err(e) => return error("kernel", format!("listing addresses of {ifname}: {e}")),
        };
        if let Some(net) = nets.iter().find(|n| !held.contains(n)) {
            return error("mismatch", format!("{ifname} does not hold {net}"));
        }
        let routes = match k.routes(RTPROT_LATTICE).await {
            Ok(routes) => routes,
            Err(e) => return error("kernel", format!("listing routes: {e}")),
        };
        let routed = |net: &IpNet| {
            routes.iter().any(|r| {
                r.destination == *net
                    && matches!(r.target, RouteTarget::Device { ifindex } if ifindex == host.index)
            })
        };
        if let Some(net) = nets.iter().find(|n| !routed(n)) {
            return error(
                "mismatch",
                format!("the host has no route {net} dev {host_ifname}"),
            );
        }
        Reply::Attached(Attachment {
            container_id,
            ifname,
            address,
            host_ifname,
            netns,
            address_v6: assigned.v6,
            host_mac: host.mac.map(|m| m.to_string()),
            container_mac: inside.mac.map(|m| m.to_string()),
        })
    }

    /// CNI STATUS: ready while a held block has a free address, or another block can be
    /// borrowed (etcd); the API answering means the dataplane was prepared at start-up.
    pub(super) async fn ready(&self) -> Reply {
        let ipam = self.ipam.lock().await;
        let held = ipam.ipam();
        let free = u128::try_from(held.in_use()).is_ok_and(|used| used < held.capacity());
        if free || ipam.claims_on_demand() {
            Reply::Ready {
                ready: true,
                reason: None,
            }
        } else {
            Reply::Ready {
                ready: false,
                reason: Some(format!(
                    "every address of {:?} is in use; delete containers or give this host another block",
                    held.blocks()
                )),
            }
        }
    }
}
