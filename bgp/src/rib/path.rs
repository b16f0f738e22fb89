//! Building a [`Path`] from an UPDATE's attributes.

use std::net::IpAddr;

use super::{NextHop, Path, PeerInfo, Rank};
use crate::wire::{MpNextHop, PathAttribute};

/// A path from an UPDATE's attributes with the classic NEXT_HOP; `None` when a mandatory
/// attribute is missing.
pub fn path_from(peer: PeerInfo, attributes: &[PathAttribute]) -> Option<Path> {
    let next_hop = attributes.iter().find_map(|a| match a {
        PathAttribute::NextHop(n) => Some(IpAddr::V4(*n)),
        _ => None,
    })?;
    path_with_next_hop(
        peer,
        attributes,
        MpNextHop {
            global: next_hop,
            link_local: None,
        },
        0,
    )
}

/// A path from an UPDATE's attributes and the next hop of its family (NEXT_HOP or
/// MP_REACH_NLRI's), tagged with the peer's session `epoch`.
pub(crate) fn path_with_next_hop(
    peer: PeerInfo,
    attributes: &[PathAttribute],
    next_hop: MpNextHop,
    epoch: u32,
) -> Option<Path> {
    let mut origin = None;
    let mut as_path = None;
    let (mut med, mut local_pref) = (None, None);
    let mut communities = Vec::new();
    let mut large_communities = Vec::new();
    let (mut originator_id, mut cluster_list) = (None, Vec::new());
    for a in attributes {
        match a {
            PathAttribute::Origin(o) => origin = Some(*o),
            PathAttribute::AsPath(p) => as_path = Some(p.clone()),
            PathAttribute::MultiExitDisc(m) => med = Some(*m),
            PathAttribute::LocalPref(l) => local_pref = Some(*l),
            PathAttribute::Communities(c) => communities.clone_from(c),
            PathAttribute::LargeCommunities(c) => large_communities.clone_from(c),
            PathAttribute::OriginatorId(id) => originator_id = Some(*id),
            PathAttribute::ClusterList(ids) => cluster_list.clone_from(ids),
            _ => {}
        }
    }
    let ebgp = peer.asn != peer.local_as;
    let mut path = Path {
        peer_id: peer.id,
        peer: peer.address,
        interface: peer.interface,
        peer_router_id: peer.router_id,
        peer_asn: peer.asn,
        ebgp,
        origin: origin?,
        as_path: as_path?,
        next_hop: next_hop.global,
        link_local: next_hop.link_local,
        med,
        // LOCAL_PREF from an eBGP peer is ignored (RFC 4271 §5.1.5).
        local_pref: if ebgp { None } else { local_pref },
        communities,
        large_communities,
        // Reflection attributes mean something inside one AS only.
        originator_id: originator_id.filter(|_| !ebgp),
        cluster_list: if ebgp { Vec::new() } else { cluster_list },
        carried: None,
        epoch,
        rank: Rank {
            as_path_len: 0,
            neighbour_as: None,
            forwarding: NextHop::from(next_hop.global),
        },
    };
    path.rank = Rank::of(&path);
    Some(path)
}
