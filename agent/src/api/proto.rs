//! Wire types of the local API.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use bgp::driver::PeerStatus;
use bgp::rib::RibPath;
use ipnet::{IpNet, Ipv4Net};
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
    /// Blocks this host holds and advertises.
    pub blocks: Vec<Ipv4Net>,
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
    pub kernel_next_hops: Vec<Ipv4Addr>,
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
    /// The block.
    pub block: Ipv4Net,
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
    /// Caller's container id.
    pub container_id: String,
    /// Interface name inside the container.
    pub ifname: String,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable kind, e.g. `bad_request`, `exhausted`, `not_found`, `kernel`.
    pub kind: String,
    /// What a person can act on.
    pub message: String,
}
