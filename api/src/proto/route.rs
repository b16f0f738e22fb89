//! The Loc-RIB as `lattice routes` shows it: each prefix, its paths, and the kernel's view.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// One prefix of the Loc-RIB, as `lattice routes` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStatus {
    /// The prefix.
    pub prefix: IpNet,
    /// Each peer's path, best first, with best and multipath marks.
    pub paths: Vec<RoutePath>,
    /// Whether the kernel holds the route (as `proto bgp`).
    pub in_kernel: bool,
    /// The kernel route's gateways, when it holds one.
    #[serde(default)]
    pub kernel_next_hops: Vec<IpAddr>,
    /// The interface of each of `kernel_next_hops` that is link-local (same order; absent
    /// when none is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_next_hop_interfaces: Vec<Option<String>>,
    /// Why the prefix is not programmed, when latticed leaves it out on purpose.
    #[serde(default)]
    pub not_installed_because: Option<String>,
    /// Why a best route is missing from the kernel, when latticed can tell (a next hop that is
    /// this host's own address, or on no connected network): still a fault, unlike the above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One peer's path to a prefix, as shown to an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutePath {
    /// The peer it came from (an interface peer: its neighbour's link-local address).
    pub peer: IpAddr,
    /// An interface peer's interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_interface: Option<String>,
    /// The address packets are forwarded to.
    pub next_hop: IpAddr,
    /// The interface of a link-local next hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_interface: Option<String>,
    /// Why this path's next hop is not in the kernel route, when it is left out (not on-link,
    /// its interface down or unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_installed_because: Option<String>,
    /// AS_PATH, e.g. `65001 65000 {65003}` (sets in braces, confederation parts in brackets).
    pub as_path: String,
    /// ORIGIN: `IGP`, `EGP` or `incomplete`.
    pub origin: String,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF (iBGP only).
    pub local_pref: Option<u32>,
    /// The decision process (RFC 4271 §9.1.2.2) chose it.
    pub best: bool,
    /// It is in the multipath set next to the best (the best itself included).
    pub multipath: bool,
    /// Kept from before the peer's restart or refresh, waiting to be re-sent or swept.
    pub stale: bool,
    /// COMMUNITIES as `ASN:VALUE`, then LARGE_COMMUNITY as `ASN:DATA1:DATA2`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    /// ORIGINATOR_ID: the route came through a route reflector (RFC 4456).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator_id: Option<std::net::Ipv4Addr>,
    /// CLUSTER_LIST, the last reflector's cluster first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_list: Vec<std::net::Ipv4Addr>,
    /// Why the path takes no part in the decision (its next hop cannot be used, RFC 4271
    /// §6.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}
