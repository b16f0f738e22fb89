//! What a policy sees of a route: where it is going or coming from ([`RouteContext`]) and the
//! attributes it may read and change ([`Attrs`], [`RouteAttrs`]).

use crate::PeerKey;

use ipnet::IpNet;

use crate::wire::{AsSegment, LargeCommunity};

/// Where a route comes from: learned from a peer, or one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteSource {
    /// Received from a BGP peer (import).
    Learned,
    /// A block this host holds (its containers' addresses).
    Block,
    /// Listed in the peer's configuration (`bgp.peers[].export`).
    Static,
    /// Announced through the API (`lattice announce`).
    Announced,
}

/// An address family a condition may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 unicast.
    Ipv4,
    /// IPv6 unicast.
    Ipv6,
}

impl Family {
    /// The family of `prefix`.
    pub fn of(prefix: &IpNet) -> Family {
        match prefix {
            IpNet::V4(_) => Family::Ipv4,
            IpNet::V6(_) => Family::Ipv6,
        }
    }
}

/// The route a policy is asked about, apart from its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteContext<'a> {
    /// The prefix.
    pub prefix: IpNet,
    /// The peer it came from (import) or is going to (export).
    pub peer: &'a PeerKey,
    /// Learned, or one of ours.
    pub source: RouteSource,
    /// Our AS: what an AS-path prepend without an AS adds.
    pub local_as: u32,
}

/// The attributes a policy reads. A learned route's [`crate::rib::Path`] and a route of ours
/// ([`RouteAttrs`]) both have them, so conditions are checked without copying anything.
pub trait Attrs {
    /// AS_PATH (for a route of ours: what a prepend added; our AS is added when sent over eBGP).
    fn as_path(&self) -> &[AsSegment];
    /// COMMUNITIES (RFC 1997).
    fn communities(&self) -> &[u32];
    /// LARGE_COMMUNITY (RFC 8092).
    fn large_communities(&self) -> &[LargeCommunity];
    /// MULTI_EXIT_DISC.
    fn med(&self) -> Option<u32>;
    /// LOCAL_PREF.
    fn local_pref(&self) -> Option<u32>;

    /// An owned copy, for a policy that changes something.
    fn to_route_attrs(&self) -> RouteAttrs {
        RouteAttrs {
            as_path: self.as_path().to_vec(),
            communities: self.communities().to_vec(),
            large_communities: self.large_communities().to_vec(),
            med: self.med(),
            local_pref: self.local_pref(),
        }
    }
}

/// The attributes a policy may change, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RouteAttrs {
    /// AS_PATH.
    pub as_path: Vec<AsSegment>,
    /// COMMUNITIES, in the order they were added.
    pub communities: Vec<u32>,
    /// LARGE_COMMUNITY, in the order they were added.
    pub large_communities: Vec<LargeCommunity>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
}

impl Attrs for RouteAttrs {
    fn as_path(&self) -> &[AsSegment] {
        &self.as_path
    }
    fn communities(&self) -> &[u32] {
        &self.communities
    }
    fn large_communities(&self) -> &[LargeCommunity] {
        &self.large_communities
    }
    fn med(&self) -> Option<u32> {
        self.med
    }
    fn local_pref(&self) -> Option<u32> {
        self.local_pref
    }
}

/// The AS that originated the path: the last AS of a final AS_SEQUENCE (none for an empty path
/// or one ending in a set, as BIRD's `bgp_path.last_nonaggregated` sees it).
pub fn origin_as(path: &[AsSegment]) -> Option<u32> {
    match path.last() {
        Some(AsSegment::Sequence(v)) => v.last().copied(),
        _ => None,
    }
}

/// The path's length as the decision process counts it (a set is one, confederation
/// segments nothing: RFC 4271 §9.1.2.2, RFC 5065 §5.3).
pub fn path_len(path: &[AsSegment]) -> usize {
    path.iter().map(AsSegment::path_len).sum()
}
