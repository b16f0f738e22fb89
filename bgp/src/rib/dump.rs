//! A read-only view of the whole RIB for operators (`lattice routes`): every prefix with each
//! peer's path, the best one and the multipath (ECMP) set marked, as `birdc show route all` does.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::decision::in_multipath_set;
use super::table::multipath_hops;
use super::{compare, NextHop, Path, PeerId, Rib};
use crate::wire::{afi, AsSegment, Origin};

/// One prefix of the RIB and its paths, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RibRoute {
    /// The prefix.
    pub prefix: IpNet,
    /// One path per peer that sent it, best first.
    pub paths: Vec<RibPath>,
}

/// One path as shown to an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RibPath {
    /// The peer it came from.
    pub peer_id: PeerId,
    /// That peer's address on the session the path came over.
    pub peer: IpAddr,
    /// The interface of that session, when its address is link-local (an interface peer).
    #[serde(default)]
    pub peer_interface: Option<u32>,
    /// Where packets are forwarded.
    pub next_hop: NextHop,
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
    #[serde(default)]
    pub communities: Vec<String>,
    /// ORIGINATOR_ID: the route came through a route reflector (RFC 4456).
    #[serde(default)]
    pub originator_id: Option<std::net::Ipv4Addr>,
    /// CLUSTER_LIST, the last reflector's cluster first.
    #[serde(default)]
    pub cluster_list: Vec<std::net::Ipv4Addr>,
    /// Why the path takes no part in the decision process (its next hop cannot be used, RFC
    /// 4271 §6.3); never best then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

impl Rib {
    /// Every prefix with paths, in prefix order (IPv4 first), each with its paths best first,
    /// then the paths ignored for their next hop.
    pub fn dump(&self) -> Vec<RibRoute> {
        let v4 = self
            .v4
            .entries()
            .map(|(p, paths)| (IpNet::V4(p), self.route(IpNet::V4(p), paths, afi::IPV4)));
        let v6 = self
            .v6
            .entries()
            .map(|(p, paths)| (IpNet::V6(p), self.route(IpNet::V6(p), paths, afi::IPV6)));
        let mut all: std::collections::BTreeMap<IpNet, RibRoute> = v4.chain(v6).collect();
        for ((prefix, peer), r) in self.ignored.iter() {
            let route = all.entry(*prefix).or_insert_with(|| RibRoute {
                prefix: *prefix,
                paths: Vec::new(),
            });
            route.paths.push(RibPath {
                peer_id: *peer,
                peer: r.peer,
                peer_interface: r
                    .next_hop
                    .ifindex
                    .filter(|_| NextHop::from(r.peer).is_link_local()),
                next_hop: r.next_hop,
                as_path: String::new(),
                origin: String::new(),
                med: None,
                local_pref: None,
                best: false,
                multipath: false,
                stale: false,
                communities: Vec::new(),
                originator_id: None,
                cluster_list: Vec::new(),
                ignored: Some(r.reason.to_string()),
            });
        }
        all.into_values().collect()
    }

    fn route(&self, prefix: IpNet, paths: &[std::sync::Arc<Path>], family: u16) -> RibRoute {
        let mut sorted: Vec<&Path> = paths.iter().map(|p| p.as_ref()).collect();
        sorted.sort_by(|a, b| compare(a, b));
        let best = sorted.first().copied();
        let mut best_first: Vec<std::sync::Arc<Path>> = paths.to_vec();
        best_first.sort_by(|a, b| compare(a, b));
        let used = multipath_hops(&best_first, self.multipath());
        let paths = sorted
            .iter()
            .map(|p| RibPath {
                peer_id: p.peer_id,
                peer: p.peer,
                peer_interface: p
                    .interface
                    .filter(|_| NextHop::from(p.peer).is_link_local()),
                next_hop: p.forwarding_next_hop(),
                as_path: as_path_text(&p.as_path),
                origin: match p.origin {
                    Origin::Igp => "IGP",
                    Origin::Egp => "EGP",
                    Origin::Incomplete => "incomplete",
                }
                .to_string(),
                med: p.med,
                local_pref: p.local_pref,
                best: best.is_some_and(|b| std::ptr::eq(b, *p)),
                multipath: best.is_some_and(|b| {
                    in_multipath_set(p, b, self.multipath().relax)
                        && used.contains(&p.rank.forwarding)
                }),
                stale: p.epoch != self.epoch_of(p.peer_id, family),
                communities: communities_text(&p.communities, &p.large_communities),
                originator_id: p.originator_id,
                cluster_list: p.cluster_list.clone(),
                ignored: None,
            })
            .collect();
        RibRoute { prefix, paths }
    }
}

/// `ASN:VALUE` for each community, then `ASN:DATA1:DATA2` for each large one.
pub fn communities_text(communities: &[u32], large: &[crate::wire::LargeCommunity]) -> Vec<String> {
    let standard = communities
        .iter()
        .map(|c| format!("{}:{}", c >> 16, c & 0xffff));
    let large = large
        .iter()
        .map(|l| format!("{}:{}:{}", l.global, l.local1, l.local2));
    standard.chain(large).collect()
}

/// `65001 65000 {65003}`; confederation segments in brackets, as BIRD and FRR print them.
fn as_path_text(path: &[AsSegment]) -> String {
    let join = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
    path.iter()
        .map(|s| match s {
            AsSegment::Sequence(v) => join(v),
            AsSegment::Set(v) => format!("{{{}}}", join(v)),
            AsSegment::ConfedSequence(v) => format!("({})", join(v)),
            AsSegment::ConfedSet(v) => format!("[{}]", join(v)),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_path_text_marks_sets_and_confederations() {
        let path = [
            AsSegment::Sequence(vec![65001, 65000]),
            AsSegment::Set(vec![65003, 65004]),
            AsSegment::ConfedSequence(vec![1]),
        ];
        assert_eq!(as_path_text(&path), "65001 65000 {65003 65004} (1)");
        assert_eq!(as_path_text(&[]), "");
    }
}
