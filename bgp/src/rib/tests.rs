//! RIB and decision-process tests.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use proptest::prelude::*;

use super::*;
use crate::wire::{PathAttribute, UpdateMsg};

fn peer(last: u8, asn: u32) -> PeerInfo {
    PeerInfo {
        address: IpAddr::V4(Ipv4Addr::new(10, 0, last, 1)),
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
    assert_eq!(rib.received(peer(1, 65001).address), 1);
    // The same announcement again changes nothing.
    assert!(rib
        .update(
            peer(1, 65001),
            &announce("10.244.2.0/24", &[65001, 65102], [10, 0, 1, 1], vec![])
        )
        .is_empty());
    let c = rib.update(peer(1, 65001), &withdraw("10.244.2.0/24"));
    assert_eq!(hops(&c), vec![("10.244.2.0/24".into(), vec![])]);
    assert_eq!(rib.received(peer(1, 65001).address), 0);
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
    let c = rib.peer_down(peer(1, 65001).address);
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
    assert_eq!(rib.received(peer(1, 65001).address), 0);
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
    rib.mark_stale(p.address, None);
    assert_eq!(rib.loc_rib().len(), 3);
    assert_eq!(rib.stale_count(p.address), 3);
    // It comes back and re-announces one IPv4 prefix, then sends IPv4 End-of-RIB.
    rib.update(
        p,
        &announce("10.244.2.0/24", &[65001], [10, 0, 1, 1], vec![]),
    );
    assert_eq!(rib.stale_count(p.address), 2);
    let c = rib.sweep_stale(p.address, Some(2 - 1));
    assert_eq!(hops(&c), vec![("10.244.3.0/24".into(), vec![])]);
    // IPv6 is still stale until its own End-of-RIB.
    assert_eq!(rib.stale_count(p.address), 1);
    let c = rib.sweep_stale(p.address, Some(2));
    assert_eq!(hops(&c), vec![("fd00:244:2::/64".into(), vec![])]);
    assert_eq!(rib.received(p.address), 1);
}

#[test]
fn import_filter_refuses_without_disturbing_others() {
    let mut rib = Rib::default();
    let u = announce("10.244.2.0/24", &[65001], [10, 0, 1, 1], vec![]);
    let c = rib.update_filtered(peer(1, 65001), &u, |p| p.prefix_len() > 24);
    assert!(c.is_empty());
    assert_eq!(rib.received(peer(1, 65001).address), 0);
}

/// The IPv4 Loc-RIB recomputed from the Adj-RIBs-In with the reference decision process.
fn recomputed(rib: &Rib) -> BTreeMap<IpNet, Vec<IpAddr>> {
    let mut fresh = BTreeMap::new();
    for (prefix, paths) in rib.v4.entries() {
        let all: Vec<&Path> = paths.iter().map(|p| p.as_ref()).collect();
        let mut h: Vec<IpAddr> = best_paths(&all).iter().map(|p| p.next_hop).collect();
        h.sort();
        h.dedup();
        if !h.is_empty() {
            fresh.insert(IpNet::V4(prefix), h);
        }
    }
    fresh
}

fn arb_update() -> impl Strategy<Value = (u8, bool, u8, u8, u8)> {
    // (peer 1-3, announce?, prefix 0-5, path length 1-3, next-hop variant 0-1)
    (1u8..4, any::<bool>(), 0u8..6, 1u8..4, 0u8..2)
}

proptest! {
    /// Incremental updates give the same Loc-RIB as recomputing from the Adj-RIBs-In.
    #[test]
    fn incremental_equals_recomputed(ops in prop::collection::vec(arb_update(), 1..60)) {
        let mut rib = Rib::default();
        let mut applied: BTreeMap<IpNet, Vec<IpAddr>> = BTreeMap::new();
        for (p, announce_it, prefix, len, nh) in ops {
            let prefix_s = format!("10.244.{prefix}.0/24");
            let asn = 65000 + u32::from(p);
            let u = if announce_it {
                let path: Vec<u32> = (0..len).map(|i| asn + u32::from(i) * 10).collect();
                announce(&prefix_s, &path, [10, 0, p, 1 + nh], vec![])
            } else {
                withdraw(&prefix_s)
            };
            for c in rib.update(peer(p, asn), &u) {
                if c.next_hops.is_empty() { applied.remove(&c.prefix); } else { applied.insert(c.prefix, c.next_hops); }
            }
            if p == 3 && !announce_it && prefix == 0 {
                for c in rib.peer_down(peer(3, 65003).address) {
                    if c.next_hops.is_empty() { applied.remove(&c.prefix); } else { applied.insert(c.prefix, c.next_hops); }
                }
            }
            let fresh = recomputed(&rib);
            prop_assert_eq!(&applied, &fresh);
            let loc: BTreeMap<IpNet, Vec<IpAddr>> = rib.loc_rib().into_iter().collect();
            prop_assert_eq!(&loc, &fresh);
            let total: usize = rib.v4.entries().map(|(_, m)| m.len()).sum();
            let counted: usize = [1u8, 2, 3].iter().map(|p| rib.received(peer(*p, 0).address)).sum();
            prop_assert_eq!(total, counted);
        }
    }
}

#[test]
fn dump_marks_best_multipath_and_stale() {
    let mut rib = Rib::default();
    // Two equal paths from AS 65001 (multipath), one longer from AS 65003 (neither).
    rib.update(
        peer(2, 65001),
        &announce("10.244.2.0/24", &[65001, 65102], [10, 0, 2, 1], vec![]),
    );
    rib.update(
        peer(1, 65001),
        &announce("10.244.2.0/24", &[65001, 65102], [10, 0, 1, 1], vec![]),
    );
    rib.update(
        peer(3, 65003),
        &announce(
            "10.244.2.0/24",
            &[65003, 65000, 65102],
            [10, 0, 3, 1],
            vec![],
        ),
    );
    rib.mark_stale(peer(3, 65003).address, None);
    let dump = rib.dump();
    assert_eq!(dump.len(), 1);
    let marks: Vec<(String, bool, bool, bool, String)> = dump[0]
        .paths
        .iter()
        .map(|p| {
            (
                p.peer.to_string(),
                p.best,
                p.multipath,
                p.stale,
                p.as_path.clone(),
            )
        })
        .collect();
    assert_eq!(
        marks,
        vec![
            // Best first: the lower router id wins the tie (RFC 4271 §9.1.2.2 f).
            ("10.0.1.1".into(), true, true, false, "65001 65102".into()),
            ("10.0.2.1".into(), false, true, false, "65001 65102".into()),
            (
                "10.0.3.1".into(),
                false,
                false,
                true,
                "65003 65000 65102".into()
            ),
        ]
    );
    assert_eq!(dump[0].paths[0].origin, "IGP");
    // A withdrawn prefix leaves the dump once it has no paths.
    for p in [1, 2] {
        rib.update(peer(p, 65001), &withdraw("10.244.2.0/24"));
    }
    rib.update(peer(3, 65003), &withdraw("10.244.2.0/24"));
    assert!(rib.dump().is_empty(), "{:?}", rib.dump());
}

/// One step of the multipath property test: (peer 1-4, kind, prefixes bitmask, path length,
/// MED, next-hop variant).
fn arb_multipath_op() -> impl Strategy<Value = (u8, u8, u8, u8, u8, u8)> {
    (1u8..5, 0u8..10, 1u8..16, 1u8..3, 0u8..2, 0u8..2)
}

/// Every peer in one neighbour AS (the 10-ToRs case): paths join and leave multipath sets.
/// `mixed`: odd peers in another neighbour AS, so equal paths form two classes (without MED,
/// which is compared only within one neighbour AS and would make the order intransitive).
fn multipath_update(p: u8, mask: u8, len: u8, med: u8, nh: u8, mixed: bool) -> UpdateMsg {
    let first = if mixed {
        65000 + u32::from(p % 2)
    } else {
        65000
    };
    let path: Vec<u32> = (0..len).map(|i| first + 10 * u32::from(i)).collect();
    let mut u = announce("10.244.0.0/24", &path, [10, 0, p, 1 + nh], vec![]);
    if !mixed {
        u.attributes
            .push(PathAttribute::MultiExitDisc(u32::from(med)));
    }
    u.nlri = (0..4u8)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| format!("10.244.{i}.0/24").parse().unwrap())
        .collect();
    u
}

fn apply_changes(into: &mut BTreeMap<IpNet, Vec<IpAddr>>, changes: Vec<RouteChange>) {
    for c in changes {
        if c.next_hops.is_empty() {
            into.remove(&c.prefix);
        } else {
            into.insert(c.prefix, c.next_hops);
        }
    }
}

proptest! {
    /// With equal paths from one neighbour AS, the collecting and the queueing ways of applying
    /// UPDATEs both give the Loc-RIB that recomputing from the Adj-RIBs-In gives.
    #[test]
    fn multipath_sets_stay_exact(
        ops in prop::collection::vec(arb_multipath_op(), 1..80),
        mixed in any::<bool>(),
    ) {
        let mut rib = Rib::default();
        let mut quiet = Rib::default();
        let mut applied: BTreeMap<IpNet, Vec<IpAddr>> = BTreeMap::new();
        let mut taken: BTreeMap<IpNet, Vec<IpAddr>> = BTreeMap::new();
        for (p, kind, mask, len, med, nh) in ops {
            let who = peer(p, 65000);
            match kind {
                0..=5 => {
                    let u = multipath_update(p, mask, len, med, nh, mixed);
                    apply_changes(&mut applied, rib.update(who, &u));
                    quiet.update_quietly(who, &u, |_| true);
                }
                6 | 7 => {
                    let mut u = multipath_update(p, mask, len, med, nh, mixed);
                    u.withdrawn = std::mem::take(&mut u.nlri);
                    u.attributes.clear();
                    apply_changes(&mut applied, rib.update(who, &u));
                    quiet.update_quietly(who, &u, |_| true);
                }
                8 => {
                    apply_changes(&mut applied, rib.peer_down(who.address));
                    quiet.peer_down(who.address);
                }
                _ => {
                    rib.mark_stale(who.address, None);
                    quiet.mark_stale(who.address, None);
                    let u = multipath_update(p, mask, len, med, nh, mixed);
                    apply_changes(&mut applied, rib.update(who, &u));
                    quiet.update_quietly(who, &u, |_| true);
                    apply_changes(&mut applied, rib.sweep_stale(who.address, None));
                    quiet.sweep_stale(who.address, None);
                }
            }
            apply_changes(&mut taken, quiet.take_changes(3));
            let fresh = recomputed(&rib);
            prop_assert_eq!(&applied, &fresh);
            let loc: BTreeMap<IpNet, Vec<IpAddr>> = quiet.loc_rib().into_iter().collect();
            prop_assert_eq!(&loc, &fresh);
            for p in 1..5u8 {
                let a = peer(p, 0).address;
                prop_assert_eq!(rib.received(a), quiet.received(a));
            }
        }
        apply_changes(&mut taken, quiet.take_changes(usize::MAX));
        prop_assert_eq!(&taken, &applied);
    }
}
