//! Wire types of the local API.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use bgp::driver::PeerStatus;
use ipnet::Ipv4Net;
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
    /// Detach and release every attachment not in `keep` (CNI GC).
    Gc {
        /// The attachments that stay.
        keep: Vec<AttachmentKey>,
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
    /// Answer to `allocate`.
    Allocated {
        /// The reserved address.
        address: Ipv4Addr,
    },
    /// Answer to `ready`.
    Ready {
        /// Whether an attach would be served now.
        ready: bool,
        /// Why not, when not ready.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Answer to `gc`: what was detached and released.
    Collected {
        /// The attachments removed.
        released: Vec<AttachmentKey>,
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
    /// The container's IPv6 address, when the cluster is dual stack.
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

/// What identifies an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttachmentKey {
    /// Caller's container id.
    pub container_id: String,
    /// Interface name inside the container.
    pub ifname: String,
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
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable kind, e.g. `bad_request`, `exhausted`, `not_found`, `kernel`.
    pub kind: String,
    /// What a person can act on.
    pub message: String,
}
