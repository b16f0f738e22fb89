//! Wire types of the local API.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use bgp::driver::PeerStatus;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// The interface name a container gets when the caller does not say.
pub const DEFAULT_IFNAME: &str = "eth0";

fn default_ifname() -> String {
    DEFAULT_IFNAME.to_string()
}

/// A request to latticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Give the container an address and wire it into the network namespace at `netns`.
    /// Repeating it for the same (container_id, ifname) returns the same attachment.
    Attach {
        /// Caller's container id.
        container_id: String,
        /// Interface name inside the container.
        #[serde(default = "default_ifname")]
        ifname: String,
        /// Path of the container's network namespace (e.g. `/run/netns/c1`).
        netns: PathBuf,
    },
    /// Remove the container's interface and release its address. Idempotent.
    Detach {
        /// Caller's container id.
        container_id: String,
        /// Interface name inside the container.
        #[serde(default = "default_ifname")]
        ifname: String,
    },
    /// Unwire and release every attachment whose key is not in `keep` (CNI GC, Docker
    /// cleanup: the caller lists what is alive).
    Gc {
        /// The attachments to keep.
        keep: Vec<AttachmentKey>,
    },
    /// List current attachments.
    List,
    /// Node, block and BGP peers.
    Status,
}

/// latticed's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Answer to `attach`.
    Attached(Attachment),
    /// Answer to `detach`: the address released, if there was one.
    Detached {
        /// The released address.
        released: Option<IpAddr>,
    },
    /// Answer to `gc`: the attachments released.
    Collected {
        /// Keys of the released attachments.
        released: Vec<AttachmentKey>,
    },
    /// Answer to `list`.
    List {
        /// Every attachment this node holds.
        attachments: Vec<Attachment>,
    },
    /// Answer to `status`.
    Status(NodeStatus),
    /// The request failed; nothing was changed.
    Error(ApiError),
}

/// One container attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Caller's container id.
    pub container_id: String,
    /// Interface name inside the container.
    pub ifname: String,
    /// The container's address (a /32 on its interface).
    pub address: Ipv4Addr,
    /// The container's IPv6 address (a /128), when `cluster.cidr_v6` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_v6: Option<Ipv6Addr>,
    /// Name of the host side of the veth.
    pub host_ifname: String,
    /// The container's network namespace path.
    pub netns: PathBuf,
}

/// Node-level status for `lattice status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// `node.name`.
    pub node: String,
    /// `node.asn`.
    pub asn: u32,
    /// `node.router_id`.
    pub router_id: Ipv4Addr,
    /// IPv4 blocks this host holds and advertises.
    pub blocks: Vec<Ipv4Net>,
    /// IPv6 blocks this host holds and advertises.
    #[serde(default)]
    pub blocks_v6: Vec<Ipv6Net>,
    /// Prefixes peers advertise that overlap a block this host holds (a misconfiguration).
    #[serde(default)]
    pub conflicts: Vec<BlockConflict>,
    /// Number of container attachments.
    pub attachments: usize,
    /// One entry per configured BGP peer.
    pub peers: Vec<PeerStatus>,
    /// Learned prefixes currently installed in the kernel.
    pub learned_routes: usize,
}

/// Names one attachment: (container id, interface name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttachmentKey {
    /// Caller's container id.
    pub container_id: String,
    /// Interface name inside the container.
    pub ifname: String,
}

/// A peer advertises `prefix`, which overlaps `block`, a block this host holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockConflict {
    /// The advertised prefix.
    pub prefix: IpNet,
    /// Our block it overlaps.
    pub block: IpNet,
    /// The next hops advertising it.
    pub next_hops: Vec<IpAddr>,
    /// Unix time (seconds) it was first seen.
    pub since: u64,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable kind, e.g. `bad_request`, `exhausted`, `not_found`, `kernel`.
    pub kind: String,
    /// What a person can act on.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CNI and Docker plugins rely on these exact shapes.
    #[test]
    fn gc_and_dual_stack_wire_shapes() {
        let req: Request =
            serde_json::from_str(r#"{"op":"gc","keep":[{"container_id":"c1","ifname":"eth0"}]}"#)
                .unwrap();
        assert_eq!(
            req,
            Request::Gc {
                keep: vec![AttachmentKey {
                    container_id: "c1".into(),
                    ifname: "eth0".into()
                }]
            }
        );
        let reply = Reply::Collected {
            released: vec![AttachmentKey {
                container_id: "c2".into(),
                ifname: "eth1".into(),
            }],
        };
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"reply":"collected","released":[{"container_id":"c2","ifname":"eth1"}]}"#
        );
        let mut a = Attachment {
            container_id: "c".into(),
            ifname: "eth0".into(),
            address: "10.244.1.1".parse().unwrap(),
            address_v6: None,
            host_ifname: "lat0".into(),
            netns: "/run/netns/x".into(),
        };
        assert!(!serde_json::to_string(&a).unwrap().contains("address_v6"));
        a.address_v6 = Some("fd00::1".parse().unwrap());
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains(r#""address_v6":"fd00::1""#), "{text}");
        assert_eq!(serde_json::from_str::<Attachment>(&text).unwrap(), a);
    }
}
