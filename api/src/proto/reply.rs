//! What latticed answers, and the records its answers carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::{PeerStatus, RouteStatus};

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
        /// The prefixes announced through the API, in prefix order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        announced: Vec<Announcement>,
    },
    /// Answer to `reload`: what was done, one line per peer (empty: nothing changed).
    Reloaded {
        /// What was done.
        changes: Vec<String>,
    },
    /// Answer to `announce`: the prefixes as now announced.
    Announced {
        /// One per prefix of the request.
        announcements: Vec<Announcement>,
    },
    /// Answer to `withdraw`: the prefixes no longer announced.
    Withdrawn {
        /// The prefixes that were announced and are not any more.
        prefixes: Vec<IpNet>,
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
    /// Best routes BGP chose for the kernel that are not in it (no usable next hop). Absent
    /// from the JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub routes_not_installed: usize,
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

/// A prefix announced through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The prefix.
    pub prefix: IpNet,
    /// The communities it carries besides each peer's own.
    #[serde(default)]
    pub communities: Vec<String>,
    /// The peers it is exported to (their export policy accepts it): addresses, or interface
    /// names for interface peers.
    #[serde(default)]
    pub peers: Vec<String>,
    /// For each other peer, why not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_exported: Vec<String>,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable kind, e.g. `bad_request`, `exhausted`, `not_found`, `kernel`.
    pub kind: String,
    /// What a person can act on.
    pub message: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
