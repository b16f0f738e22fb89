//! Fabrics of interface peers (RFC 7938 style): ECMP across neighbour ASes, capped sets, and
//! link-local next hops that keep their interface.

use super::*;
use crate::wire::{MpNextHop, MpReach};

/// A path from a ToR of its own AS (`asn`, the first of the path) towards host AS 65103.
fn via(asn: u32, next_hop: [u8; 4]) -> UpdateMsg {
    announce("10.244.3.0/24", &[asn, 65000, 65103], next_hop, vec![])
}

#[test]
fn relax_makes_ecmp_across_neighbour_ases() {
    for (relax, expected) in [
        (false, vec!["10.0.1.1"]),
        (true, vec!["10.0.1.1", "10.0.2.1"]),
    ] {
        let mut rib = Rib::new(Multipath {
            relax,
            maximum_paths: 8,
        });
        rib.update(peer(1, 65011), &via(65011, [10, 0, 1, 1]));
        let c = rib.update(peer(2, 65012), &via(65012, [10, 0, 2, 1]));
        let now: Vec<String> = rib
            .next_hops(&"10.244.3.0/24".parse().unwrap())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(now, expected, "relax {relax}");
        assert_eq!(
            c.is_empty(),
            !relax,
            "the second ToR moves the set only when relaxed"
        );
        // Losing one ToR drops exactly its next hop.
        let c = rib.peer_down(peer(1, 65011).id);
        assert_eq!(
            hops(&c),
            vec![("10.244.3.0/24".into(), vec!["10.0.2.1".into()])]
        );
        // A longer path never joins, relaxed or not.
        rib.update(
            peer(1, 65011),
            &announce(
                "10.244.3.0/24",
                &[65011, 65001, 65000, 65103],
                [10, 0, 1, 1],
                vec![],
            ),
        );
        let dump = rib.dump();
        let marks: Vec<(bool, bool)> = dump[0]
            .paths
            .iter()
            .map(|p| (p.best, p.multipath))
            .collect();
        assert_eq!(marks, vec![(true, true), (false, false)]);
    }
}

#[test]
fn maximum_paths_keeps_the_best_by_router_id() {
    let mut rib = Rib::new(Multipath {
        relax: true,
        maximum_paths: 2,
    });
    for p in [3u8, 1, 2] {
        rib.update(
            peer(p, 65010 + u32::from(p)),
            &via(65010 + u32::from(p), [10, 0, p, 1]),
        );
    }
    let prefix: IpNet = "10.244.3.0/24".parse().unwrap();
    let now: Vec<String> = rib
        .next_hops(&prefix)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(now, ["10.0.1.1", "10.0.2.1"]);
    let multipath: Vec<(String, bool)> = rib.dump()[0]
        .paths
        .iter()
        .map(|p| (p.next_hop.to_string(), p.multipath))
        .collect();
    assert_eq!(
        multipath,
        [
            ("10.0.1.1".into(), true),
            ("10.0.2.1".into(), true),
            ("10.0.3.1".into(), false)
        ]
    );
    // One of the kept two goes: the third takes its place.
    let c = rib.peer_down(peer(1, 65011).id);
    assert_eq!(
        hops(&c),
        vec![(
            "10.244.3.0/24".into(),
            vec!["10.0.2.1".into(), "10.0.3.1".into()]
        )]
    );
}

/// An interface peer: its session runs between link-local addresses on interface `ifindex`.
fn interface_peer(id: u64, neighbour: &str, ifindex: u32, asn: u32) -> PeerInfo {
    PeerInfo {
        id: PeerId(id),
        address: neighbour.parse().unwrap(),
        interface: Some(ifindex),
        router_id: Ipv4Addr::new(10, 0, 0, id as u8),
        asn,
        local_as: 65101,
        allow_as_in: 0,
    }
}

/// IPv4 routes over IPv6 next hops (RFC 8950): MP_REACH_NLRI with AFI 1.
fn enhe(prefix: &str, asn: u32, global: &str, link_local: Option<&str>) -> UpdateMsg {
    UpdateMsg {
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![asn, 65102])]),
            PathAttribute::MpReach(MpReach {
                afi: 1,
                safi: 1,
                next_hop: MpNextHop {
                    global: global.parse().unwrap(),
                    link_local: link_local.map(|l| l.parse().unwrap()),
                },
                nlri: vec![prefix.parse().unwrap()],
            }),
        ],
        ..Default::default()
    }
}

#[test]
fn link_local_next_hops_keep_their_interface_and_same_addresses_on_two_links_stay_apart() {
    let mut rib = Rib::new(Multipath {
        relax: true,
        maximum_paths: 8,
    });
    // Both leaves use fe80::1 on their link to us (legal: it is per link).
    let leaf1 = interface_peer(1, "fe80::1", 3, 65011);
    let leaf2 = interface_peer(2, "fe80::1", 4, 65012);
    rib.update(
        leaf1,
        &enhe("10.244.2.0/24", 65011, "fe80::1", Some("fe80::1")),
    );
    let c = rib.update(
        leaf2,
        &enhe("10.244.2.0/24", 65012, "fe80::1", Some("fe80::1")),
    );
    assert_eq!(
        hops(&c),
        vec![(
            "10.244.2.0/24".into(),
            vec!["fe80::1%3".into(), "fe80::1%4".into()]
        )]
    );
    assert_eq!(rib.received(leaf1.id), 1);
    assert_eq!(rib.received(leaf2.id), 1);
    let c = rib.peer_down(leaf1.id);
    assert_eq!(
        hops(&c),
        vec![("10.244.2.0/24".into(), vec!["fe80::1%4".into()])]
    );
}

#[test]
fn a_link_local_session_forwards_to_the_link_local_next_hop() {
    let mut rib = Rib::default();
    let leaf = interface_peer(1, "fe80::a", 3, 65011);
    // A global next hop with a link-local one: over a link-local session, the link-local.
    let c = rib.update(
        leaf,
        &enhe("10.244.2.0/24", 65011, "fd00::a", Some("fe80::a")),
    );
    assert_eq!(
        hops(&c),
        vec![("10.244.2.0/24".into(), vec!["fe80::a%3".into()])]
    );
    // Only a global one: that one (on-link or not is the kernel side's question).
    let c = rib.update(leaf, &enhe("10.244.2.0/24", 65011, "fd00::a", None));
    assert_eq!(
        hops(&c),
        vec![("10.244.2.0/24".into(), vec!["fd00::a".into()])]
    );
    // A 16-octet link-local one: on the session's interface.
    let c = rib.update(leaf, &enhe("10.244.2.0/24", 65011, "fe80::b", None));
    assert_eq!(
        hops(&c),
        vec![("10.244.2.0/24".into(), vec!["fe80::b%3".into()])]
    );
    // A numbered session still prefers a usable global next hop (as before).
    let numbered = PeerInfo {
        address: "fd00::9".parse().unwrap(),
        ..interface_peer(2, "fd00::9", 3, 65012)
    };
    let c = rib.update(
        numbered,
        &enhe("10.244.9.0/24", 65012, "fd00::9", Some("fe80::9")),
    );
    assert_eq!(
        hops(&c),
        vec![("10.244.9.0/24".into(), vec!["fd00::9".into()])]
    );
}

#[test]
fn a_link_local_next_hop_is_ours_only_on_its_own_link() {
    // RFC 4271 §6.3 against interface peers: we are fe80::1 on both links (routers reuse it);
    // leaf2's own link-local address is fe80::1 as well, on its link (4).
    let mut rib = Rib::default();
    let leaf1 = interface_peer(1, "fe80::a", 3, 65011);
    let leaf2 = interface_peer(2, "fe80::1", 4, 65012);
    rib.set_local_address(leaf1.id, Some("fe80::1".parse().unwrap()));
    rib.set_local_address(leaf2.id, Some("fe80::2".parse().unwrap()));
    // leaf2's next hop equals our address on the other link: it is leaf2, used.
    let c = rib.update(
        leaf2,
        &enhe("10.244.2.0/24", 65012, "fe80::1", Some("fe80::1")),
    );
    assert_eq!(
        hops(&c),
        vec![("10.244.2.0/24".into(), vec!["fe80::1%4".into()])]
    );
    assert_eq!(rib.ignored_count(leaf2.id), 0);
    // leaf1 naming our own address on its link: ignored, shown with the reason.
    let c = rib.update(
        leaf1,
        &enhe("10.244.3.0/24", 65011, "fe80::1", Some("fe80::1")),
    );
    assert!(c.is_empty(), "{c:?}");
    assert_eq!(rib.ignored_count(leaf1.id), 1);
    let dump = rib.dump();
    let ignored = dump
        .iter()
        .find(|r| r.prefix == "10.244.3.0/24".parse::<IpNet>().unwrap())
        .unwrap();
    assert_eq!(ignored.paths[0].next_hop.to_string(), "fe80::1%3");
    assert!(ignored.paths[0]
        .ignored
        .as_deref()
        .is_some_and(|w| w.contains("our own address")));
    // A global next hop equal to our address on any session is ours.
    rib.set_local_address(leaf2.id, Some("fd00::2".parse().unwrap()));
    rib.update(leaf1, &enhe("10.244.4.0/24", 65011, "fd00::2", None));
    assert_eq!(rib.ignored_count(leaf1.id), 2);
    // The session goes: its ignored routes go with it.
    rib.peer_down(leaf1.id);
    assert_eq!(rib.ignored_count(leaf1.id), 0);
}
