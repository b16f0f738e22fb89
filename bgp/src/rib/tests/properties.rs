//! Property tests: the incremental RIB against the Loc-RIB recomputed from scratch, and
//! multipath sets; plus the dump of best and multipath paths.

use super::*;

/// The IPv4 Loc-RIB recomputed from the Adj-RIBs-In with the reference decision process.
fn recomputed(rib: &Rib) -> BTreeMap<IpNet, Vec<NextHop>> {
    let mut fresh = BTreeMap::new();
    for (prefix, paths) in rib.v4.entries() {
        let all: Vec<&Path> = paths.iter().map(|p| p.as_ref()).collect();
        let mut h: Vec<NextHop> = best_paths(&all, rib.multipath())
            .iter()
            .map(|p| p.rank.forwarding)
            .collect();
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
        let mut applied: BTreeMap<IpNet, Vec<NextHop>> = BTreeMap::new();
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
                for c in rib.peer_down(peer(3, 65003).id) {
                    if c.next_hops.is_empty() { applied.remove(&c.prefix); } else { applied.insert(c.prefix, c.next_hops); }
                }
            }
            let fresh = recomputed(&rib);
            prop_assert_eq!(&applied, &fresh);
            let loc: BTreeMap<IpNet, Vec<NextHop>> = rib.loc_rib().into_iter().collect();
            prop_assert_eq!(&loc, &fresh);
            let total: usize = rib.v4.entries().map(|(_, m)| m.len()).sum();
            let counted: usize = [1u8, 2, 3].iter().map(|p| rib.received(peer(*p, 0).id)).sum();
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
    rib.mark_stale(peer(3, 65003).id, None);
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

fn apply_changes(into: &mut BTreeMap<IpNet, Vec<NextHop>>, changes: Vec<RouteChange>) {
    for c in changes {
        if c.next_hops.is_empty() {
            into.remove(&c.prefix);
        } else {
            into.insert(c.prefix, c.next_hops);
        }
    }
}

proptest! {
    /// With equal paths from one neighbour AS (or two, relaxed or not, and sets capped at
    /// 1-4 next hops), the collecting and the queueing ways of applying UPDATEs both give the
    /// Loc-RIB that recomputing from the Adj-RIBs-In gives.
    #[test]
    fn multipath_sets_stay_exact(
        ops in prop::collection::vec(arb_multipath_op(), 1..80),
        mixed in any::<bool>(),
        relax in any::<bool>(),
        maximum_paths in 1usize..5,
    ) {
        let mp = Multipath { relax, maximum_paths };
        let mut rib = Rib::new(mp);
        let mut quiet = Rib::new(mp);
        let mut applied: BTreeMap<IpNet, Vec<NextHop>> = BTreeMap::new();
        let mut taken: BTreeMap<IpNet, Vec<NextHop>> = BTreeMap::new();
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
                    apply_changes(&mut applied, rib.peer_down(who.id));
                    quiet.peer_down(who.id);
                }
                _ => {
                    rib.mark_stale(who.id, None);
                    quiet.mark_stale(who.id, None);
                    let u = multipath_update(p, mask, len, med, nh, mixed);
                    apply_changes(&mut applied, rib.update(who, &u));
                    quiet.update_quietly(who, &u, |_| true);
                    apply_changes(&mut applied, rib.sweep_stale(who.id, None));
                    quiet.sweep_stale(who.id, None);
                }
            }
            apply_changes(&mut taken, quiet.take_changes(3));
            let fresh = recomputed(&rib);
            prop_assert_eq!(&applied, &fresh);
            let loc: BTreeMap<IpNet, Vec<NextHop>> = quiet.loc_rib().into_iter().collect();
            prop_assert_eq!(&loc, &fresh);
            for p in 1..5u8 {
                let a = peer(p, 0).id;
                prop_assert_eq!(rib.received(a), quiet.received(a));
            }
        }
        apply_changes(&mut taken, quiet.take_changes(usize::MAX));
        prop_assert_eq!(&taken, &applied);
    }
}
