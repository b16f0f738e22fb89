//! Building what a route reflector sends one peer (RFC 4456 §6, §8), pure: who is sent which
//! reflected route, and the UPDATEs that carry them with their attributes unchanged but for
//! ORIGINATOR_ID and CLUSTER_LIST.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::rib::{Path, PeerId, ReflectRole, ReflectedPath};
use crate::wire::{afi, safi, MpNextHop, MpReach, PathAttribute, UpdateMsg};

/// Prefixes per UPDATE: far below 4096 octets with the attributes of one path.
const PER_UPDATE: usize = 200;

/// The peer a reflected route would go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReflectTarget {
    /// The RIB's name for it (a route is never sent back to the peer it came from).
    pub id: PeerId,
    /// Its BGP identifier (nor to the router that originated it).
    pub router_id: Ipv4Addr,
    /// Its role.
    pub role: ReflectRole,
    /// Our CLUSTER_ID, prepended to the CLUSTER_LIST.
    pub cluster_id: Ipv4Addr,
    /// Families of the session.
    pub ipv4: bool,
    /// IPv6 unicast negotiated.
    pub ipv6: bool,
    /// IPv4 routes may carry an IPv6 next hop (RFC 8950).
    pub extended_next_hop: bool,
}

/// Whether `route` for `prefix` goes to `to` (RFC 4456 §6): a client's route to every other
/// peer, a non-client's to clients only; never back to its sender or its originator; only in
/// a family of the session.
pub(crate) fn wanted(to: &ReflectTarget, prefix: &IpNet, route: &ReflectedPath) -> bool {
    let p = &route.path;
    let originator = p.originator_id.unwrap_or(p.peer_router_id);
    let family = match (prefix, p.next_hop) {
        (IpNet::V4(_), IpAddr::V4(_)) => to.ipv4,
        (IpNet::V4(_), IpAddr::V6(_)) => to.ipv4 && to.extended_next_hop,
        (IpNet::V6(_), _) => to.ipv6,
    };
    family
        && p.peer_id != to.id
        && originator != to.router_id
        && !(route.from == ReflectRole::NonClient && to.role == ReflectRole::NonClient)
}

/// UPDATEs announcing each prefix with its reflected path: the prefixes of one path share
/// UPDATEs.
pub(crate) fn reflected_updates(
    to: &ReflectTarget,
    routes: &[(IpNet, Arc<Path>)],
) -> Vec<UpdateMsg> {
    let mut groups: Vec<(Arc<Path>, Vec<IpNet>)> = Vec::new();
    let mut index: HashMap<*const Path, usize> = HashMap::new();
    for (prefix, path) in routes {
        let i = *index.entry(Arc::as_ptr(path)).or_insert_with(|| {
            groups.push((path.clone(), Vec::new()));
            groups.len().saturating_sub(1)
        });
        if let Some((_, prefixes)) = groups.get_mut(i) {
            prefixes.push(*prefix);
        }
    }
    let mut out = Vec::new();
    for (path, prefixes) in groups {
        for chunk in prefixes.chunks(PER_UPDATE) {
            out.push(update(to, &path, chunk));
        }
    }
    out
}

/// One UPDATE: the path's attributes, ORIGINATOR_ID kept or set to the originator's
/// identifier, our CLUSTER_ID prepended to CLUSTER_LIST (RFC 4456 §8), the next hop unchanged.
fn update(to: &ReflectTarget, path: &Path, prefixes: &[IpNet]) -> UpdateMsg {
    let mut attributes: Vec<PathAttribute> = path
        .carried
        .iter()
        .flat_map(|a| a.iter())
        .filter(|a| {
            !matches!(
                a,
                PathAttribute::OriginatorId(_) | PathAttribute::ClusterList(_)
            )
        })
        .cloned()
        .collect();
    attributes.push(PathAttribute::OriginatorId(
        path.originator_id.unwrap_or(path.peer_router_id),
    ));
    let mut clusters = Vec::with_capacity(path.cluster_list.len().saturating_add(1));
    clusters.push(to.cluster_id);
    clusters.extend(path.cluster_list.iter().copied());
    attributes.push(PathAttribute::ClusterList(clusters));
    let mut msg = UpdateMsg::default();
    match (prefixes.first(), path.next_hop) {
        (Some(IpNet::V4(_)), IpAddr::V4(nh)) => {
            attributes.push(PathAttribute::NextHop(nh));
            msg.nlri = prefixes
                .iter()
                .filter_map(|p| match p {
                    IpNet::V4(p) => Some(*p),
                    IpNet::V6(_) => None,
                })
                .collect();
        }
        (Some(first), next_hop) => {
            attributes.push(PathAttribute::MpReach(MpReach {
                afi: if first.addr().is_ipv4() {
                    afi::IPV4
                } else {
                    afi::IPV6
                },
                safi: safi::UNICAST,
                next_hop: MpNextHop {
                    global: next_hop,
                    link_local: path.link_local,
                },
                nlri: prefixes.to_vec(),
            }));
        }
        (None, _) => {}
    }
    // RFC 4271 §5: attributes in ascending type-code order.
    attributes.sort_by_key(PathAttribute::type_code);
    msg.attributes = attributes;
    msg
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::rib::{path_from, PeerInfo};
    use crate::wire::{AsSegment, Origin};

    fn client_route(from: u8, extra: Vec<PathAttribute>) -> Arc<Path> {
        let peer = PeerInfo {
            id: PeerId(u64::from(from)),
            address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, from)),
            interface: None,
            router_id: Ipv4Addr::new(10, 0, 0, from),
            asn: 65000,
            local_as: 65000,
            allow_as_in: 0,
        };
        let mut attributes = vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![])]),
            PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, from)),
            PathAttribute::LocalPref(100),
            PathAttribute::Communities(vec![42]),
        ];
        attributes.extend(extra);
        let mut p = path_from(peer, &attributes).unwrap();
        p.carried = Some(
            attributes
                .into_iter()
                .filter(|a| a.type_code() != 3)
                .collect(),
        );
        Arc::new(p)
    }

    fn target(last: u8, role: ReflectRole) -> ReflectTarget {
        ReflectTarget {
            id: PeerId(u64::from(last)),
            router_id: Ipv4Addr::new(10, 0, 0, last),
            role,
            cluster_id: Ipv4Addr::new(10, 0, 0, 1),
            ipv4: true,
            ipv6: false,
            extended_next_hop: false,
        }
    }

    #[test]
    fn rfc4456_section_6_decides_who_is_sent_what() {
        let net: IpNet = "10.244.3.0/24".parse().unwrap();
        let from_client = ReflectedPath {
            path: client_route(3, vec![]),
            from: ReflectRole::Client,
        };
        let from_non_client = ReflectedPath {
            from: ReflectRole::NonClient,
            ..from_client.clone()
        };
        assert!(wanted(&target(4, ReflectRole::Client), &net, &from_client));
        assert!(wanted(
            &target(2, ReflectRole::NonClient),
            &net,
            &from_client
        ));
        assert!(wanted(
            &target(4, ReflectRole::Client),
            &net,
            &from_non_client
        ));
        assert!(!wanted(
            &target(2, ReflectRole::NonClient),
            &net,
            &from_non_client
        ));
        // Never back to the sender.
        assert!(!wanted(&target(3, ReflectRole::Client), &net, &from_client));
        // Nor to its originator when it came through another reflector.
        let via_rr = ReflectedPath {
            path: client_route(
                2,
                vec![PathAttribute::OriginatorId(Ipv4Addr::new(10, 0, 0, 4))],
            ),
            from: ReflectRole::NonClient,
        };
        assert!(!wanted(&target(4, ReflectRole::Client), &net, &via_rr));
        assert!(wanted(&target(5, ReflectRole::Client), &net, &via_rr));
        // Only in the session's families.
        let v6: IpNet = "fd00::/64".parse().unwrap();
        assert!(!wanted(&target(4, ReflectRole::Client), &v6, &from_client));
    }

    #[test]
    fn reflected_updates_keep_the_next_hop_and_add_originator_and_cluster() {
        let to = target(4, ReflectRole::Client);
        let first = client_route(3, vec![]);
        // Already reflected once, by 10.0.0.9: its ORIGINATOR_ID stays, our id goes first.
        let second = client_route(
            5,
            vec![
                PathAttribute::OriginatorId(Ipv4Addr::new(10, 0, 0, 6)),
                PathAttribute::ClusterList(vec![Ipv4Addr::new(10, 0, 0, 9)]),
            ],
        );
        let routes = vec![
            ("10.244.3.0/24".parse().unwrap(), first.clone()),
            ("10.244.5.0/24".parse().unwrap(), second),
            ("10.244.33.0/24".parse().unwrap(), first),
        ];
        let ups = reflected_updates(&to, &routes);
        assert_eq!(ups.len(), 2, "one UPDATE per path");
        assert_eq!(ups[0].nlri.len(), 2);
        let codes: Vec<u8> = ups[0]
            .attributes
            .iter()
            .map(PathAttribute::type_code)
            .collect();
        assert_eq!(codes, vec![1, 2, 3, 5, 8, 9, 10]);
        assert!(ups[0]
            .attributes
            .contains(&PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 3))));
        assert!(ups[0]
            .attributes
            .contains(&PathAttribute::OriginatorId(Ipv4Addr::new(10, 0, 0, 3))));
        assert!(ups[0]
            .attributes
            .contains(&PathAttribute::ClusterList(vec![Ipv4Addr::new(
                10, 0, 0, 1
            )])));
        assert!(ups[1]
            .attributes
            .contains(&PathAttribute::OriginatorId(Ipv4Addr::new(10, 0, 0, 6))));
        assert!(ups[1].attributes.contains(&PathAttribute::ClusterList(vec![
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 9)
        ])));
        assert!(ups[1]
            .attributes
            .contains(&PathAttribute::Communities(vec![42])));
    }
}
