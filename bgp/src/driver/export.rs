//! Building the UPDATEs we send: our prefixes with next-hop self, per family (pure).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use crate::policy::RouteAttrs;
use crate::wire::{
    afi, safi, AsSegment, MpNextHop, MpReach, MpUnreach, Origin, PathAttribute, UpdateMsg,
};

/// IPv4 prefixes per UPDATE: at most 5 octets each, far below 4096 octets.
const V4_PER_UPDATE: usize = 500;
/// IPv6 prefixes per UPDATE: at most 17 octets each.
const V6_PER_UPDATE: usize = 200;

/// What every route we announce over one session carries, whatever its policy made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportAttrs {
    /// Our ASN.
    pub local_as: u32,
    /// The peer is in another AS: prepend ours, no LOCAL_PREF.
    pub ebgp: bool,
    /// NEXT_HOP for IPv4 routes; `None`: IPv4 routes go with `enhe_next_hop`, or not at all.
    pub next_hop_v4: Option<Ipv4Addr>,
    /// IPv6 next hop for IPv4 routes in MP_REACH_NLRI (RFC 8950), when no IPv4 one is set.
    pub enhe_next_hop: Option<MpNextHop>,
    /// Next hop for IPv6 routes; `None`: IPv6 routes are not announced.
    pub next_hop_v6: Option<MpNextHop>,
}

impl ExportAttrs {
    /// ORIGIN IGP and the AS_PATH (ours first over eBGP, then what a policy prepended), then
    /// MED, LOCAL_PREF (iBGP only: the route's, else 100) and the communities, in type-code
    /// order; the next hop is added per family.
    fn common(&self, route: &RouteAttrs) -> (Vec<PathAttribute>, Vec<PathAttribute>) {
        let mut head = vec![PathAttribute::Origin(Origin::Igp)];
        let mut path = route.as_path.clone();
        if self.ebgp {
            match path.first_mut() {
                Some(AsSegment::Sequence(v)) => v.insert(0, self.local_as),
                _ => path.insert(0, AsSegment::Sequence(vec![self.local_as])),
            }
        }
        head.push(PathAttribute::AsPath(path));
        let mut tail = Vec::new();
        if let Some(med) = route.med {
            tail.push(PathAttribute::MultiExitDisc(med));
        }
        if !self.ebgp {
            tail.push(PathAttribute::LocalPref(route.local_pref.unwrap_or(100)));
        }
        if !route.communities.is_empty() {
            tail.push(PathAttribute::Communities(route.communities.clone()));
        }
        (head, tail)
    }
}

fn large(route: &RouteAttrs) -> Option<PathAttribute> {
    (!route.large_communities.is_empty())
        .then(|| PathAttribute::LargeCommunities(route.large_communities.clone()))
}

/// UPDATEs announcing `prefixes` with `route`'s attributes; families without a next hop are
/// left out.
pub(crate) fn announcements(
    prefixes: &[IpNet],
    attrs: &ExportAttrs,
    route: &RouteAttrs,
) -> Vec<UpdateMsg> {
    let (v4, v6) = split(prefixes);
    let (head, tail) = attrs.common(route);
    let mut out = Vec::new();
    if let Some(nh) = attrs.next_hop_v4 {
        for chunk in v4.chunks(V4_PER_UPDATE) {
            let mut attributes = head.clone();
            attributes.push(PathAttribute::NextHop(nh));
            attributes.extend(tail.iter().cloned());
            attributes.extend(large(route));
            out.push(UpdateMsg {
                attributes,
                nlri: chunk.to_vec(),
                ..UpdateMsg::default()
            });
        }
    }
    if let (None, Some(nh)) = (attrs.next_hop_v4, attrs.enhe_next_hop) {
        for chunk in v4.chunks(V4_PER_UPDATE) {
            let mut attributes = head.clone();
            attributes.extend(tail.iter().cloned());
            attributes.push(PathAttribute::MpReach(MpReach {
                afi: afi::IPV4,
                safi: safi::UNICAST,
                next_hop: nh,
                nlri: chunk.iter().map(|p| IpNet::V4(*p)).collect(),
            }));
            attributes.extend(large(route));
            out.push(UpdateMsg {
                attributes,
                ..UpdateMsg::default()
            });
        }
    }
    if let Some(nh) = attrs.next_hop_v6 {
        for chunk in v6.chunks(V6_PER_UPDATE) {
            let mut attributes = head.clone();
            attributes.extend(tail.iter().cloned());
            attributes.push(PathAttribute::MpReach(MpReach {
                afi: afi::IPV6,
                safi: safi::UNICAST,
                next_hop: nh,
                nlri: chunk.to_vec(),
            }));
            attributes.extend(large(route));
            out.push(UpdateMsg {
                attributes,
                ..UpdateMsg::default()
            });
        }
    }
    out
}

/// UPDATEs withdrawing `prefixes` (IPv4 in Withdrawn Routes, IPv6 in MP_UNREACH_NLRI).
pub(crate) fn withdrawals(prefixes: &[IpNet]) -> Vec<UpdateMsg> {
    let (v4, v6) = split(prefixes);
    let mut out: Vec<UpdateMsg> = v4
        .chunks(V4_PER_UPDATE)
        .map(|c| UpdateMsg {
            withdrawn: c.to_vec(),
            ..UpdateMsg::default()
        })
        .collect();
    out.extend(v6.chunks(V6_PER_UPDATE).map(|c| UpdateMsg {
        attributes: vec![PathAttribute::MpUnreach(MpUnreach {
            afi: afi::IPV6,
            safi: safi::UNICAST,
            withdrawn: c.to_vec(),
        })],
        ..UpdateMsg::default()
    }));
    out
}

fn split(prefixes: &[IpNet]) -> (Vec<Ipv4Net>, Vec<IpNet>) {
    let v4 = prefixes
        .iter()
        .filter_map(|p| match p {
            IpNet::V4(p) => Some(*p),
            IpNet::V6(_) => None,
        })
        .collect();
    let v6 = prefixes
        .iter()
        .filter(|p| p.addr().is_ipv6())
        .copied()
        .collect();
    (v4, v6)
}

/// Next-hop self for each family, from the session's local address and the peer's settings:
/// the session's own family uses its address; the other needs the configured next hop (an
/// IPv4 session falls back to the IPv4-mapped address for IPv6, as FRR does). A session over
/// link-local addresses sends the 32-octet form (RFC 2545 §3): the configured IPv6 next hop,
/// or the link-local address itself, as global, and the link-local address.
pub(crate) fn next_hops(
    local: IpAddr,
    ipv4_next_hop: Option<Ipv4Addr>,
    ipv6_next_hop: Option<std::net::Ipv6Addr>,
) -> (Option<Ipv4Addr>, Option<MpNextHop>) {
    let local = match local {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        v4 => v4,
    };
    let v6 = |a: std::net::Ipv6Addr| MpNextHop {
        global: IpAddr::V6(a),
        link_local: None,
    };
    match local {
        IpAddr::V4(a) => (
            Some(ipv4_next_hop.unwrap_or(a)),
            Some(v6(ipv6_next_hop.unwrap_or(a.to_ipv6_mapped()))),
        ),
        IpAddr::V6(a) if a.is_unicast_link_local() => (
            ipv4_next_hop,
            Some(MpNextHop {
                global: IpAddr::V6(ipv6_next_hop.unwrap_or(a)),
                link_local: Some(a),
            }),
        ),
        IpAddr::V6(a) => (ipv4_next_hop, Some(v6(ipv6_next_hop.unwrap_or(a)))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn attrs() -> ExportAttrs {
        ExportAttrs {
            local_as: 65101,
            ebgp: true,
            next_hop_v4: Some(Ipv4Addr::new(10, 0, 0, 2)),
            enhe_next_hop: None,
            next_hop_v6: Some(MpNextHop {
                global: "fd00::2".parse().unwrap(),
                link_local: None,
            }),
        }
    }

    fn route() -> RouteAttrs {
        RouteAttrs {
            communities: vec![0xfde8_0001],
            ..RouteAttrs::default()
        }
    }

    #[test]
    fn each_family_goes_its_own_way() {
        let prefixes: Vec<IpNet> = vec![
            "10.244.1.0/24".parse().unwrap(),
            "fd00:244:1::/64".parse().unwrap(),
        ];
        let ups = announcements(&prefixes, &attrs(), &route());
        assert_eq!(ups.len(), 2);
        assert_eq!(ups[0].nlri, vec!["10.244.1.0/24".parse().unwrap()]);
        assert!(ups[0]
            .attributes
            .contains(&PathAttribute::Communities(vec![0xfde8_0001])));
        assert!(matches!(
            ups[1].attributes.iter().find(|a| a.type_code() == 14),
            Some(PathAttribute::MpReach(mp)) if mp.nlri == vec![prefixes[1]]
        ));
        assert!(ups[1].nlri.is_empty());
        let w = withdrawals(&prefixes);
        assert_eq!(w.len(), 2);
        assert!(matches!(
            &w[1].attributes[..],
            [PathAttribute::MpUnreach(_)]
        ));
        let no_v6 = ExportAttrs {
            next_hop_v6: None,
            ..attrs()
        };
        assert_eq!(announcements(&prefixes, &no_v6, &route()).len(), 1);
        // RFC 8950: with only an IPv6 next hop, IPv4 routes travel in MP_REACH_NLRI.
        let enhe = ExportAttrs {
            next_hop_v4: None,
            enhe_next_hop: attrs().next_hop_v6,
            ..attrs()
        };
        let ups = announcements(&prefixes, &enhe, &route());
        assert!(matches!(
            ups[0].attributes.iter().find(|a| a.type_code() == 14),
            Some(PathAttribute::MpReach(mp)) if mp.afi == 1 && mp.nlri == vec![prefixes[0]]
        ));
        // ...and are withdrawn in the classic field, which RFC 8950 §4 allows either way.
        assert_eq!(withdrawals(&prefixes)[0].withdrawn.len(), 1);
    }

    #[test]
    fn policy_attributes_go_out_in_type_code_order() {
        let prefixes: Vec<IpNet> = vec!["10.244.1.0/24".parse().unwrap()];
        let route = RouteAttrs {
            as_path: vec![AsSegment::Sequence(vec![65101, 65101])],
            communities: vec![1],
            large_communities: vec![crate::wire::LargeCommunity {
                global: 1,
                local1: 2,
                local2: 3,
            }],
            med: Some(7),
            local_pref: Some(300),
        };
        // eBGP: our AS in front of the prepends, MED kept, no LOCAL_PREF.
        let ups = announcements(&prefixes, &attrs(), &route);
        let codes: Vec<u8> = ups[0].attributes.iter().map(|a| a.type_code()).collect();
        assert_eq!(codes, vec![1, 2, 3, 4, 8, 32]);
        assert_eq!(
            ups[0].attributes[1],
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![65101, 65101, 65101])])
        );
        // iBGP: the path as the policy left it, its LOCAL_PREF.
        let ibgp = ExportAttrs {
            ebgp: false,
            ..attrs()
        };
        let ups = announcements(&prefixes, &ibgp, &route);
        assert!(ups[0].attributes.contains(&PathAttribute::LocalPref(300)));
        assert_eq!(
            ups[0].attributes[1],
            PathAttribute::AsPath(route.as_path.clone())
        );
        let plain = announcements(&prefixes, &ibgp, &RouteAttrs::default());
        assert!(plain[0].attributes.contains(&PathAttribute::LocalPref(100)));
        assert!(plain[0].attributes.contains(&PathAttribute::AsPath(vec![])));
    }

    #[test]
    fn next_hop_self_per_transport() {
        let (v4, v6) = next_hops("10.0.0.2".parse().unwrap(), None, None);
        assert_eq!(v4, Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(
            v6.unwrap().global,
            "::ffff:10.0.0.2".parse::<IpAddr>().unwrap()
        );
        let (v4, v6) = next_hops("fd00::2".parse().unwrap(), None, None);
        assert_eq!(v4, None);
        assert_eq!(v6.unwrap().global, "fd00::2".parse::<IpAddr>().unwrap());
        let (v4, v6) = next_hops("fe80::2".parse().unwrap(), None, None);
        assert_eq!(v4, None);
        let ll: std::net::Ipv6Addr = "fe80::2".parse().unwrap();
        assert_eq!(
            v6,
            Some(MpNextHop {
                global: IpAddr::V6(ll),
                link_local: Some(ll)
            })
        );
    }
}
