//! RIB and decision-process tests; the property tests against a reference decision process
//! are in `tests/properties.rs`.

mod properties;
mod reflection;
mod reimport;
mod unnumbered;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use proptest::prelude::*;

use super::*;
use crate::wire::{PathAttribute, UpdateMsg};

fn peer(last: u8, asn: u32) -> PeerInfo {
    PeerInfo {
        id: PeerId(u64::from(last)),
        address: IpAddr::V4(Ipv4Addr::new(10, 0, last, 1)),
        interface: None,
        router_id: Ipv4Addr::new(10, 0, last, 1),
        asn,
        local_as: 65101,
        allow_as_in: 0,
    }
}

fn announce(prefix: &str, path: &[u32], next_hop: [u8; 4], extra: Vec<PathAttribute>) -> UpdateMsg {
    let mut attributes = vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(vec![AsSegment::Sequence(path.to_vec())]),
        PathAttribute::NextHop(Ipv4Addr::from(next_hop)),
    ];
    attributes.extend(extra);
    UpdateMsg {
        withdrawn: vec![],
        attributes,
        nlri: vec![prefix.parse().unwrap()],
        recovered: vec![],
    }
}

fn withdraw(prefix: &str) -> UpdateMsg {
    UpdateMsg {
        withdrawn: vec![prefix.parse().unwrap()],
        ..Default::default()
    }
}

fn hops(changes: &[RouteChange]) -> Vec<(String, Vec<String>)> {
    changes
        .iter()
        .map(|c| {
            (
                c.prefix.to_string(),
                c.next_hops.iter().map(ToString::to_string).collect(),
            )
        })
        .collect()
}

#[test]
fn announce_then_withdraw() {
    let mut rib = Rib::default();
    let c = rib.update(
        peer(1, 65001),
        &announce("10.244.2.0/24", &[65001, 65102], [10, 0, 1, 1], vec![]),
    );
    assert_eq!(
        hops(&c),
        vec![("10.244.2.0/24".into(), vec!["10.0.1.1".into()])]
    );
    assert_eq!(rib.received(peer(1, 65001).id), 1);
    // The same announcement again changes nothing.
    assert!(rib
        .update(
            peer(1, 65001),
            &announce("10.244.2.0/24", &[65001, 65102], [10, 0, 1, 1], vec![])
        )
        .is_empty());
    let c = rib.update(peer(1, 65001), &withdraw("10.244.2.0/24"));
    assert_eq!(hops(&c), vec![("10.244.2.0/24".into(), vec![])]);
    assert_eq!(rib.received(peer(1, 65001).id), 0);
    assert!(rib
        .update(peer(1, 65001), &withdraw("10.244.2.0/24"))
        .is_empty());
}

#[test]
fn paths_with_our_as_are_dropped_and_replace_earlier_ones() {
    let mut rib = Rib::default();
    rib.update(
        peer(1, 65001),
        &announce("10.244.1.0/24", &[65001, 65102], [10, 0, 1, 1], vec![]),
    );
    let c = rib.update(
        peer(1, 65001),
        &announce("10.244.1.0/24", &[65001, 65101], [10, 0, 1, 1], vec![]),
    );
    assert_eq!(hops(&c), vec![("10.244.1.0/24".into(), vec![])]);
    assert!(rib.loc_rib().is_empty());
}

#[test]
fn allow_as_in_accepts_our_as_up_to_the_limit() {
    let mut rib = Rib::default();
    let relaxed = PeerInfo {
        allow_as_in: 1,
        ..peer(1, 65001)
    };
    let c = rib.update(
        relaxed,
        &announce("10.244.1.0/24", &[65001, 65101], [10, 0, 1, 1], vec![]),
    );
    assert_eq!(c.len(), 1);
    let c = rib.update(
        relaxed,
        &announce(
            "10.244.1.0/24",
            &[65001, 65101, 65101],
            [10, 0, 1, 1],
            vec![],
        ),
    );
    assert_eq!(hops(&c), vec![("10.244.1.0/24".into(), vec![])]);
}

#[test]
fn equal_paths_from_two_tors_in_the_same_as_make_ecmp() {
    let mut rib = Rib::default();
    rib.update(
        peer(1, 65001),
        &announce(
            "10.244.3.0/24",
            &[65001, 65000, 65103],
            [10, 0, 1, 1],
            vec![],
        ),
    );
    let c = rib.update(
        peer(2, 65001),
        &announce(
            "10.244.3.0/24",
            &[65001, 65000, 65103],
            [10, 0, 2, 1],
            vec![],
        ),
    );
    assert_eq!(
        hops(&c),
        vec![(
            "10.244.3.0/24".into(),
            vec!["10.0.1.1".into(), "10.0.2.1".into()]
        )]
    );
    let c = rib.peer_down(peer(1, 65001).id);
    assert_eq!(
        hops(&c),
        vec![("10.244.3.0/24".into(), vec!["10.0.2.1".into()])]
    );
}

#[test]
fn shorter_as_path_wins() {
    let mut rib = Rib::default();
    rib.update(
        peer(1, 65001),
        &announce(
            "10.244.3.0/24",
            &[65001, 65000, 65103],
            [10, 0, 1, 1],
            vec![],
        ),
    );
    let c = rib.update(
        peer(2, 65002),
        &announce("10.244.3.0/24", &[65002, 65103], [10, 0, 2, 1], vec![]),
    );
    assert_eq!(
        hops(&c),
        vec![("10.244.3.0/24".into(), vec!["10.0.2.1".into()])]
    );
}

#[test]
fn local_pref_beats_path_length_on_ibgp_only() {
    let mut rib = Rib::default();
    let ibgp = peer(3, 65101);
    rib.update(
        peer(1, 65001),
        &announce("10.244.3.0/24", &[65001], [10, 0, 1, 1], vec![]),
    );
    let c = rib.update(
        ibgp,
        &announce(
            "10.244.3.0/24",
            &[65009, 65008],
            [10, 0, 3, 1],
            vec![PathAttribute::LocalPref(200)],
        ),
    );
    assert_eq!(
        hops(&c),
        vec![("10.244.3.0/24".into(), vec!["10.0.3.1".into()])]
    );
    // The same LOCAL_PREF from an eBGP peer is ignored.
    let mut rib = Rib::default();
    rib.update(
        peer(1, 65001),
        &announce("10.244.3.0/24", &[65001], [10, 0, 1, 1], vec![]),
    );
    assert!(rib
        .update(
            peer(2, 65002),
            &announce(
                "10.244.3.0/24",
                &[65002, 65008],
                [10, 0, 2, 1],
                vec![PathAttribute::LocalPref(200)]
            )
        )
        .is_empty());
}

#[test]
fn med_compares_only_within_one_neighbour_as() {
    let mut rib = Rib::default();
    rib.update(
        peer(1, 65001),
        &announce(
            "10.244.3.0/24",
            &[65001, 65103],
            [10, 0, 1, 1],
            vec![PathAttribute::MultiExitDisc(50)],
        ),
    );
    let c = rib.update(
        peer(2, 65001),
        &announce(
            "10.244.3.0/24",
            &[65001, 65103],
            [10, 0, 2, 1],
            vec![PathAttribute::MultiExitDisc(10)],
        ),
    );
    assert_eq!(
        hops(&c),
        vec![("10.244.3.0/24".into(), vec!["10.0.2.1".into()])]
    );
}

#[test]
fn missing_mandatory_attributes_make_no_path() {
    let mut rib = Rib::default();
    let mut u = announce("10.244.3.0/24", &[65001], [10, 0, 1, 1], vec![]);
    u.attributes
        .retain(|a| !matches!(a, PathAttribute::NextHop(_)));
    assert!(rib.update(peer(1, 65001), &u).is_empty());
}

fn announce_v6(prefix: &str, path: &[u32], next_hop: &str) -> UpdateMsg {
    UpdateMsg {
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(path.to_vec())]),
            PathAttribute::MpReach(crate::wire::MpReach {
                afi: 2,
                safi: 1,
                next_hop: crate::wire::MpNextHop {
                    global: next_hop.parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: vec![prefix.parse().unwrap()],
            }),
        ],
        ..Default::default()
    }
}

#[test]
fn ipv6_routes_arrive_and_leave_through_mp_attributes() {
    let mut rib = Rib::default();
    let c = rib.update(
        peer(1, 65001),
        &announce_v6("fd00:244:2::/64", &[65001], "fd00::1"),
    );
    assert_eq!(
        hops(&c),
        vec![("fd00:244:2::/64".into(), vec!["fd00::1".into()])]
    );
    // A global next hop that is only IPv4-mapped forwards via the link-local one.
    let c = rib.update(
        peer(1, 65001),
        &announce_v6("fd00:244:2::/64", &[65001], "::ffff:10.0.1.1"),
    );
    assert_eq!(
        hops(&c),
        vec![("fd00:244:2::/64".into(), vec!["fe80::1".into()])]
    );
    let withdraw = UpdateMsg {
        attributes: vec![PathAttribute::MpUnreach(crate::wire::MpUnreach {
            afi: 2,
            safi: 1,
            withdrawn: vec!["fd00:244:2::/64".parse().unwrap()],
        })],
        ..Default::default()
    };
    let c = rib.update(peer(1, 65001), &withdraw);
    assert_eq!(hops(&c), vec![("fd00:244:2::/64".into(), vec![])]);
    assert_eq!(rib.received(peer(1, 65001).id), 0);
}

#[test]
fn stale_routes_stay_until_swept_and_refreshed_ones_survive() {
    let mut rib = Rib::default();
    let p = peer(1, 65001);
    rib.update(
        p,
        &announce("10.244.2.0/24", &[65001], [10, 0, 1, 1], vec![]),
    );
    rib.update(
        p,
        &announce("10.244.3.0/24", &[65001], [10, 0, 1, 1], vec![]),
    );
    rib.update(p, &announce_v6("fd00:244:2::/64", &[65001], "fd00::1"));
    // The session drops; the peer restarts gracefully: nothing changes in the Loc-RIB.
    rib.mark_stale(p.id, None);
    assert_eq!(rib.loc_rib().len(), 3);
    assert_eq!(rib.stale_count(p.id), 3);
    // It comes back and re-announces one IPv4 prefix, then sends IPv4 End-of-RIB.
    rib.update(
        p,
        &announce("10.244.2.0/24", &[65001], [10, 0, 1, 1], vec![]),
    );
    assert_eq!(rib.stale_count(p.id), 2);
    let c = rib.sweep_stale(p.id, Some(2 - 1));
    assert_eq!(hops(&c), vec![("10.244.3.0/24".into(), vec![])]);
    // IPv6 is still stale until its own End-of-RIB.
    assert_eq!(rib.stale_count(p.id), 1);
    let c = rib.sweep_stale(p.id, Some(2));
    assert_eq!(hops(&c), vec![("fd00:244:2::/64".into(), vec![])]);
    assert_eq!(rib.received(p.id), 1);
}

#[test]
fn import_filter_refuses_without_disturbing_others() {
    let mut rib = Rib::default();
    let u = announce("10.244.2.0/24", &[65001], [10, 0, 1, 1], vec![]);
    let c = rib.update_filtered(peer(1, 65001), &u, |p| p.prefix_len() > 24);
    assert!(c.is_empty());
    assert_eq!(rib.received(peer(1, 65001).id), 0);
}
