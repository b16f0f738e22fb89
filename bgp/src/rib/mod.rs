//! Adj-RIB-In per peer, Loc-RIB and the decision process (RFC 4271 §9), for IPv4 and IPv6
//! unicast, with the stale-path bookkeeping of a graceful-restart helper (RFC 4724 §4.2).
//!
//! Pure data structures: the driver feeds UPDATEs in and gets [`RouteChange`]s out, one per
//! prefix whose set of best next hops changed.

mod decision;
mod dump;
mod ignored;
mod kept;
mod next_hop;
mod path;
mod reflect;
mod store;
mod table;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::policy::{Attrs, RouteAttrs};
use crate::wire::{AsSegment, LargeCommunity, Origin, PathAttribute};

pub use decision::{best_paths, compare, Multipath};
pub use dump::{communities_text, RibPath, RibRoute};
pub use ignored::{next_hop_problem, IgnoredRoute};
pub use next_hop::{BadNextHop, NextHop};
pub use path::path_from;
pub use reflect::{ReflectRole, Reflected, ReflectedPath};
pub use store::{Import, PeerInfo, Rib, RouteChange};

/// How the RIB knows a peer: a number the speaker gives each configured peer. Not its address:
/// an interface peer's address is whatever link-local address its neighbour has today, and two
/// links may well have neighbours with the same one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct PeerId(pub u64);

/// One path to a prefix, as received from a peer (after import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The peer it came from.
    pub peer_id: PeerId,
    /// That peer's address on the session the path came over.
    pub peer: IpAddr,
    /// The interface that session runs over, when known: it gives a link-local next hop its
    /// zone.
    pub interface: Option<u32>,
    /// That peer's BGP identifier.
    pub peer_router_id: Ipv4Addr,
    /// That peer's ASN.
    pub peer_asn: u32,
    /// Learned over eBGP.
    pub ebgp: bool,
    /// ORIGIN.
    pub origin: Origin,
    /// AS_PATH.
    pub as_path: Vec<AsSegment>,
    /// NEXT_HOP, or the global next hop of MP_REACH_NLRI.
    pub next_hop: IpAddr,
    /// The link-local next hop of a 32-octet IPv6 next hop (RFC 2545 §3).
    pub link_local: Option<Ipv6Addr>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// COMMUNITIES.
    pub communities: Vec<u32>,
    /// LARGE_COMMUNITY (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
    /// ORIGINATOR_ID (RFC 4456), from an iBGP peer only: it has no meaning across ASes.
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (RFC 4456), from an iBGP peer only; empty when absent.
    pub cluster_list: Vec<Ipv4Addr>,
    /// The UPDATE's attributes other than NEXT_HOP and MP_(UN)REACH_NLRI, kept only when this
    /// speaker reflects routes (a reflector passes them on unchanged, RFC 4456 §10).
    pub carried: Option<Arc<[PathAttribute]>>,
    /// The peer's session generation when this path arrived: older ones are stale after a
    /// graceful restart (RFC 4724 §4.2).
    pub epoch: u32,
    /// What the decision process reads, computed once: a path is shared by every prefix of
    /// its UPDATE and compared many times (every other peer's path for each of them).
    pub(crate) rank: Rank,
}

/// A path's decision inputs that take work to derive from its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rank {
    /// [`Path::as_path_len`].
    pub as_path_len: usize,
    /// [`Path::neighbour_as`].
    pub neighbour_as: Option<u32>,
    /// [`Path::forwarding_next_hop`].
    pub forwarding: NextHop,
}

impl Rank {
    /// The rank of a path whose other fields are final.
    pub(crate) fn of(path: &Path) -> Rank {
        Rank {
            as_path_len: path.as_path_len(),
            neighbour_as: path.neighbour_as(),
            forwarding: path.forwarding_next_hop(),
        }
    }
}

impl Attrs for Path {
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

impl Path {
    /// This path with the attributes an import policy made of it.
    pub fn with_attrs(&self, attrs: RouteAttrs) -> Path {
        let mut path = Path {
            as_path: attrs.as_path,
            communities: attrs.communities,
            large_communities: attrs.large_communities,
            med: attrs.med,
            local_pref: attrs.local_pref,
            ..self.clone()
        };
        path.rank = Rank::of(&path);
        path
    }

    /// AS_PATH length for the decision process: an AS_SET counts as one (RFC 4271 §9.1.2.2),
    /// confederation segments as none (RFC 5065 §5.3).
    pub fn as_path_len(&self) -> usize {
        self.as_path.iter().map(AsSegment::path_len).sum()
    }

    /// Where packets are forwarded: the global next hop, or the link-local one when the global
    /// is unusable (unspecified, link-local itself, or IPv4-mapped) or when the session itself
    /// runs over link-local addresses (an interface peer: its global next hop is rarely on the
    /// link, as FRR also assumes). A link-local next hop carries the session's interface.
    pub fn forwarding_next_hop(&self) -> NextHop {
        let link_local_session = matches!(self.peer, IpAddr::V6(a) if a.is_unicast_link_local());
        let hop = match (self.next_hop, self.link_local) {
            (_, Some(ll)) if link_local_session => IpAddr::V6(ll),
            (IpAddr::V6(g), Some(ll))
                if g.is_unspecified()
                    || g.is_unicast_link_local()
                    || g.to_ipv4_mapped().is_some() =>
            {
                IpAddr::V6(ll)
            }
            (nh, _) => nh,
        };
        NextHop::new(hop, self.interface)
    }

    /// The neighbouring AS: the first AS of the path (RFC 4271 §9.1.2.2 c).
    pub fn neighbour_as(&self) -> Option<u32> {
        match self.as_path.first() {
            Some(AsSegment::Sequence(v)) => v.first().copied(),
            _ => None,
        }
    }

    /// Whether `asn` appears anywhere in the AS_PATH (loop detection, RFC 4271 §9.1.2).
    pub fn contains_as(&self, asn: u32) -> bool {
        self.count_as(asn) > 0
    }

    /// How many times `asn` appears in the AS_PATH.
    pub fn count_as(&self, asn: u32) -> usize {
        self.as_path
            .iter()
            .map(|s| s.asns().iter().filter(|a| **a == asn).count())
            .sum()
    }
}

#[cfg(test)]
mod tests;
