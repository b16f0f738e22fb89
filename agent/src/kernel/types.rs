//! Plain data the [`Kernel`](super::Kernel) trait speaks: links, routes, MAC addresses, events.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// `RTPROT_KERNEL`: routes the kernel adds itself (connected prefixes).
pub const RTPROT_KERNEL: u8 = 2;
/// `RTPROT_STATIC`: what `ip route add` uses by default.
pub const RTPROT_STATIC: u8 = 4;
/// `RTPROT_BGP` (186, include/uapi/linux/rtnetlink.h): routes learned over BGP.
pub const RTPROT_BGP: u8 = 186;

/// A 48-bit Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Parses the raw `IFLA_ADDRESS` bytes; `None` unless exactly six bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; 6]>::try_from(bytes).ok().map(MacAddr)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// What the kernel says about one link (`RTM_GETLINK`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index (per namespace).
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address, if the link has a 6-byte one.
    pub mac: Option<MacAddr>,
    /// MTU in bytes.
    pub mtu: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// `IFLA_LINK`: for a veth, the peer's index in the peer's namespace; for an ipvlan slave,
    /// its parent's index.
    pub peer_index: Option<u32>,
}

/// An ipvlan slave's mode (`IPVLAN_MODE_L3`, `IPVLAN_MODE_L3S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpvlanMode {
    /// Routing in the parent's namespace, no netfilter hooks in the parent for slave traffic.
    L3,
    /// L3 with the parent's netfilter (conntrack) applied to slave traffic.
    L3s,
}

/// One gateway of a unicast route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NextHop {
    /// The gateway address.
    pub gateway: IpAddr,
    /// Output interface; `None` lets the kernel resolve it from the gateway.
    pub ifindex: Option<u32>,
}

impl NextHop {
    /// A gateway whose device the kernel resolves.
    pub fn via(gateway: impl Into<IpAddr>) -> Self {
        NextHop {
            gateway: gateway.into(),
            ifindex: None,
        }
    }

    /// Whether the gateway is IPv6 link-local (fe80::/10): it needs its interface.
    pub fn is_link_local(&self) -> bool {
        matches!(self.gateway, IpAddr::V6(a) if a.is_unicast_link_local())
    }

    /// The hop as latticed programs and compares it: the interface kept only where it is part
    /// of the gateway's meaning (a link-local one); the kernel reports one for every hop.
    pub fn normalized(self) -> Self {
        NextHop {
            gateway: self.gateway,
            ifindex: self.ifindex.filter(|_| self.is_link_local()),
        }
    }
}

impl From<IpAddr> for NextHop {
    fn from(gateway: IpAddr) -> Self {
        NextHop::via(gateway)
    }
}

/// `10.0.0.1`, or `fe80::1%3` (a gateway on interface index 3).
impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ifindex {
            Some(i) => write!(f, "{}%{i}", self.gateway),
            None => self.gateway.fmt(f),
        }
    }
}

impl std::str::FromStr for NextHop {
    type Err = String;

    /// `ADDRESS` or `ADDRESS%IFINDEX`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not ADDRESS or ADDRESS%IFINDEX");
        let (addr, index) = match s.split_once('%') {
            Some((a, i)) => (a, Some(i.parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        Ok(NextHop {
            gateway: addr.parse().map_err(|_| bad())?,
            ifindex: index,
        })
    }
}

/// Where a route sends packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// Via one gateway, or several (one `RTA_MULTIPATH` route, ECMP).
    Gateways(Vec<NextHop>),
    /// Directly out of a device, `scope link` (no gateway).
    Device {
        /// Output interface index.
        ifindex: u32,
    },
    /// Drop silently (`RTN_BLACKHOLE`).
    Blackhole,
}

/// An IPv4 or IPv6 route in the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix (host bits clear).
    pub destination: IpNet,
    /// Where packets go.
    pub target: RouteTarget,
    /// `rtm_protocol`: who owns the route (e.g. [`RTPROT_BGP`]).
    pub protocol: u8,
}

impl Route {
    /// A unicast route via the given gateways (one multipath route if several).
    pub fn via<A: Into<IpAddr> + Copy>(
        destination: impl Into<IpNet>,
        gateways: &[A],
        protocol: u8,
    ) -> Self {
        let hops = gateways.iter().map(|g| NextHop::via(*g)).collect();
        Route {
            destination: destination.into(),
            target: RouteTarget::Gateways(hops),
            protocol,
        }
    }

    /// A `scope link` route out of `ifindex`.
    pub fn device(destination: impl Into<IpNet>, ifindex: u32, protocol: u8) -> Self {
        Route {
            destination: destination.into(),
            target: RouteTarget::Device { ifindex },
            protocol,
        }
    }

    /// A blackhole route.
    pub fn blackhole(destination: impl Into<IpNet>, protocol: u8) -> Self {
        Route {
            destination: destination.into(),
            target: RouteTarget::Blackhole,
            protocol,
        }
    }

    /// The next hops, normalized ([`NextHop::normalized`]) and sorted, for comparing desired
    /// and actual routes.
    pub fn next_hops(&self) -> Vec<NextHop> {
        match &self.target {
            RouteTarget::Gateways(hops) => {
                let mut hops: Vec<NextHop> = hops.iter().map(|h| h.normalized()).collect();
                hops.sort();
                hops
            }
            RouteTarget::Device { .. } | RouteTarget::Blackhole => Vec::new(),
        }
    }

    /// The gateways, sorted, for comparing desired and actual routes.
    pub fn gateways(&self) -> Vec<IpAddr> {
        match &self.target {
            RouteTarget::Gateways(hops) => {
                let mut gws: Vec<IpAddr> = hops.iter().map(|h| h.gateway).collect();
                gws.sort();
                gws
            }
            RouteTarget::Device { .. } | RouteTarget::Blackhole => Vec::new(),
        }
    }
}

/// Something changed in the kernel (an rtnetlink notification), as far as the reconciler cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEvent {
    /// A link appeared, changed (e.g. went down) or was deleted.
    Link {
        /// Its index.
        index: u32,
        /// Its name, if the message carried one.
        name: String,
        /// `RTM_DELLINK`.
        deleted: bool,
    },
    /// An address was added or removed (connected prefixes decide next-hop reachability).
    Address {
        /// The link it is on.
        index: u32,
    },
    /// A main-table route was added, replaced or deleted.
    Route {
        /// Its destination.
        destination: IpNet,
        /// Its owner.
        protocol: u8,
        /// `RTM_DELROUTE`.
        deleted: bool,
    },
    /// Notifications were lost (`ENOBUFS` on the socket): only a full resync is safe now.
    Overrun,
}

/// One kernel route change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOp {
    /// Install or atomically replace the route to its destination.
    Replace(Route),
    /// Remove the route to `destination` owned by `protocol`.
    Delete {
        /// The destination.
        destination: IpNet,
        /// Its owner (only a route with this protocol is removed).
        protocol: u8,
    },
}

impl RouteOp {
    /// The destination the op changes.
    pub fn destination(&self) -> IpNet {
        match self {
            RouteOp::Replace(r) => r.destination,
            RouteOp::Delete { destination, .. } => *destination,
        }
    }

    /// A learned (proto bgp) route via `hops`.
    pub fn learned(prefix: IpNet, hops: &[NextHop]) -> Self {
        RouteOp::Replace(Route {
            destination: prefix,
            target: RouteTarget::Gateways(hops.to_vec()),
            protocol: RTPROT_BGP,
        })
    }
}

/// What a path offered as a container's network namespace is ([`super::Kernel::classify_netns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsKind {
    /// Not a namespace file (a regular file, a directory, nothing at all).
    NotNamespace,
    /// A namespace, but not a network namespace (such as `/proc/PID/ns/uts`).
    OtherNamespace,
    /// The network namespace the asking kernel acts in (the host's, for the daemon).
    Own,
    /// Another network namespace, with its identity (the same for every path to it).
    Network(NetnsId),
}

/// A namespace's identity: the device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetnsId {
    /// Device of the nsfs file.
    pub dev: u64,
    /// Inode of the nsfs file.
    pub ino: u64,
}
