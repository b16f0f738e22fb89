//! Wire types of the local API.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use bgp::driver::PeerStatus;
use bgp::rib::RibPath;
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
        /// MTU for this attachment, overriding `dataplane.mtu` (the CNI config's `mtu`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mtu: Option<u32>,
    },
    /// Verify that an attachment exists and is wired as it was made (CNI CHECK).
    /// Answered by `attached` when it is, by an error saying what differs when not.
    Check {
        /// Caller's container id.
        container_id: String,
        /// Interface name inside the container.
        #[serde(default = "default_ifname")]
        ifname: String,
        /// Path of the container's network namespace.
        netns: PathBuf,
    },
    /// Reserve an address for `(container_id, ifname)` without wiring anything (the Docker
    /// driver's IPAM: Docker wires the interface itself). Repeating it returns the same address.
    Allocate {
        /// Caller's key.
        container_id: String,
        /// Interface name the key goes with.
        #[serde(default = "default_ifname")]
        ifname: String,
    },
    /// Whether latticed can serve attach requests now (CNI STATUS).
    Ready,
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
    /// Every BGP peer in detail (capabilities, timers, counters), or only `peer`.
    Peers {
        /// Only this neighbour.
        #[serde(default)]
        peer: Option<IpAddr>,
    },
    /// The Loc-RIB: every learned prefix with its paths and whether it is in the kernel.
    Routes,
    /// Blocks, their usage and every allocation.
    Ipam,
    /// `request`, made by `lattice-cni` on behalf of a CNI runtime running `command`: answered
    /// like `request` alone, and timed under the CNI interface (`interface="cni"`,
    /// `operation=command`) in the metrics.
    Cni {
        /// The CNI command being served.
        command: CniCommand,
        /// The request itself (never another `cni`).
        request: Box<Request>,
    },
}

/// The CNI commands that reach latticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CniCommand {
    /// ADD.
    Add,
    /// DEL.
    Del,
    /// CHECK.
    Check,
    /// STATUS.
    Status,
    /// GC.
    Gc,
}

impl CniCommand {
    /// From `CNI_COMMAND` (`ADD`, `DEL`, ...); `None` for VERSION and anything unknown.
    pub fn from_env(value: &str) -> Option<CniCommand> {
        match value {
            "ADD" => Some(CniCommand::Add),
            "DEL" => Some(CniCommand::Del),
            "CHECK" => Some(CniCommand::Check),
            "STATUS" => Some(CniCommand::Status),
            "GC" => Some(CniCommand::Gc),
            _ => None,
        }
    }

    /// The metrics' operation label.
    pub fn as_str(self) -> &'static str {
        match self {
            CniCommand::Add => "add",
            CniCommand::Del => "del",
            CniCommand::Check => "check",
            CniCommand::Status => "status",
            CniCommand::Gc => "gc",
        }
    }
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
    /// Answer to `peers`.
    Peers {
        /// The peers asked for, in address order.
        peers: Vec<PeerStatus>,
    },
    /// Answer to `routes`.
    Routes {
        /// Every prefix of the Loc-RIB, in prefix order.
        routes: Vec<RouteStatus>,
    },
    /// Answer to `ipam`.
    Ipam(IpamStatus),
    /// Answer to `allocate`.
    Allocated {
        /// The reserved address.
        address: Ipv4Addr,
        /// The IPv6 address reserved with it, on a dual-stack host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address_v6: Option<Ipv6Addr>,
    },
    /// Answer to `ready`.
    Ready {
        /// Whether an attach would be served now.
        ready: bool,
        /// Why not, when not ready.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
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
    /// MAC of the host side of the veth (the container's gateway), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_mac: Option<String>,
    /// MAC of the container's interface, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_mac: Option<String>,
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
    /// Usage of each block.
    #[serde(default)]
    pub block_usage: Vec<BlockUsage>,
}

/// One prefix of the Loc-RIB, as `lattice routes` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStatus {
    /// The prefix.
    pub prefix: IpNet,
    /// Each peer's path, best first, with best and multipath marks.
    pub paths: Vec<RibPath>,
    /// Whether the kernel holds the route (as `proto bgp`).
    pub in_kernel: bool,
    /// The kernel route's gateways, when it holds one.
    #[serde(default)]
    pub kernel_next_hops: Vec<IpAddr>,
    /// Why the prefix is not programmed, when latticed leaves it out on purpose.
    #[serde(default)]
    pub not_installed_because: Option<String>,
}

/// IPAM at a glance: blocks, their usage, and the allocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamStatus {
    /// The blocks this host holds.
    pub blocks: Vec<BlockUsage>,
    /// Every allocation, in address order.
    pub allocations: Vec<Allocation>,
}

/// One block's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockUsage {
    /// The block (IPv4 or IPv6).
    pub block: IpNet,
    /// Addresses allocated.
    pub in_use: usize,
    /// Addresses it can hand out.
    pub capacity: usize,
}

/// One address held by a container interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The address.
    pub address: Ipv4Addr,
    /// The IPv6 address, when dual stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_v6: Option<Ipv6Addr>,
    /// Caller's container id.
    pub container_id: String,
    /// Interface name inside the container.
    pub ifname: String,
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
            host_mac: None,
            container_mac: None,
        };
        assert!(!serde_json::to_string(&a).unwrap().contains("address_v6"));
        a.address_v6 = Some("fd00::1".parse().unwrap());
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains(r#""address_v6":"fd00::1""#), "{text}");
        assert_eq!(serde_json::from_str::<Attachment>(&text).unwrap(), a);
    }

    /// lattice-cni wraps each request with the CNI command it serves.
    #[test]
    fn cni_wrapper_wire_shape() {
        let text = r#"{"op":"cni","command":"del","request":{"op":"detach","container_id":"c1","ifname":"eth0"}}"#;
        let req: Request = serde_json::from_str(text).unwrap();
        assert_eq!(
            req,
            Request::Cni {
                command: CniCommand::Del,
                request: Box::new(Request::Detach {
                    container_id: "c1".into(),
                    ifname: "eth0".into()
                }),
            }
        );
        assert_eq!(serde_json::to_string(&req).unwrap(), text);
        assert_eq!(CniCommand::from_env("GC"), Some(CniCommand::Gc));
        assert_eq!(CniCommand::from_env("VERSION"), None);
    }
}
