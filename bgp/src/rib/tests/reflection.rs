//! RFC 4456 in the RIB: loop prevention with crafted ORIGINATOR_ID and CLUSTER_LIST, the
//! decision process's tie-breaks, and what a reflector records for its peers.

use super::*;

const AS: u32 = 65000;

/// An iBGP peer 10.0.0.`last` (router id alike).
fn ibgp(last: u8) -> PeerInfo {
    PeerInfo {
        id: PeerId(u64::from(last)),
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        interface: None,
        router_id: Ipv4Addr::new(10, 0, 0, last),
        asn: AS,
        local_as: AS,
        allow_as_in: 0,
    }
}

fn id(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, last)
}

/// 10.244.`block`.0/24 with next hop 10.0.0.`hop`, iBGP attributes plus `extra`.
fn route(block: u8, hop: u8, extra: Vec<PathAttribute>) -> UpdateMsg {
    let mut attributes = vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(vec![]),
        PathAttribute::NextHop(id(hop)),
        PathAttribute::LocalPref(100),
    ];
    attributes.extend(extra);
    UpdateMsg {
        attributes,
        nlri: vec![format!("10.244.{block}.0/24").parse().unwrap()],
        ..UpdateMsg::default()
    }
}

fn net(block: u8) -> IpNet {
    format!("10.244.{block}.0/24").parse().unwrap()
}

#[test]
fn a_route_with_our_originator_id_is_ignored() {
    let mut rib = Rib::default();
    rib.set_router_id(id(7));
    // A reflector sends us our own route back: unusable, and it replaces what the reflector
    // sent before for that prefix (like an AS_PATH loop).
    let ours = route(7, 7, vec![PathAttribute::OriginatorId(id(7))]);
    assert!(rib.update(ibgp(1), &ours).is_empty());
    assert!(rib.next_hops(&net(7)).is_empty());
    let other = route(7, 3, vec![PathAttribute::OriginatorId(id(3))]);
    assert_eq!(rib.update(ibgp(1), &other).len(), 1);
    assert!(
        rib.update(ibgp(1), &ours).len() == 1,
        "the loop withdraws the old path"
    );
    assert!(rib.next_hops(&net(7)).is_empty());
}

#[test]
fn a_route_with_our_cluster_id_in_its_cluster_list_is_ignored() {
    let mut rib = Rib::default();
    rib.set_router_id(id(1));
    rib.enable_reflection(Ipv4Addr::new(192, 0, 2, 1));
    let looped = route(
        3,
        3,
        vec![
            PathAttribute::OriginatorId(id(3)),
            PathAttribute::ClusterList(vec![id(9), Ipv4Addr::new(192, 0, 2, 1)]),
        ],
    );
    assert!(rib.update(ibgp(2), &looped).is_empty());
    assert!(rib.paths(&net(3)).is_empty());
    // Another cluster's list is fine.
    let fine = route(
        3,
        3,
        vec![
            PathAttribute::OriginatorId(id(3)),
            PathAttribute::ClusterList(vec![id(9)]),
        ],
    );
    assert_eq!(rib.update(ibgp(2), &fine).len(), 1);
    // A speaker that does not reflect has no cluster id to find.
    let mut plain = Rib::default();
    plain.set_router_id(id(1));
    assert_eq!(plain.update(ibgp(2), &looped).len(), 1);
}

#[test]
fn reflection_attributes_from_an_ebgp_peer_mean_nothing() {
    let mut rib = Rib::default();
    rib.set_router_id(id(7));
    rib.enable_reflection(id(7));
    let peer = PeerInfo {
        asn: 65001,
        ..ibgp(1)
    };
    let mut u = route(
        1,
        1,
        vec![
            PathAttribute::OriginatorId(id(7)),
            PathAttribute::ClusterList(vec![id(7)]),
        ],
    );
    u.attributes[1] = PathAttribute::AsPath(vec![AsSegment::Sequence(vec![65001])]);
    assert_eq!(rib.update(peer, &u).len(), 1);
    let p = &rib.paths(&net(1))[0];
    assert_eq!(p.originator_id, None);
    assert!(p.cluster_list.is_empty());
}

#[test]
fn originator_id_and_cluster_list_length_break_ties() {
    // The same route from two reflectors: ORIGINATOR_ID stands in for the router id (so the
    // reflectors' own ids do not decide), then the shorter CLUSTER_LIST wins.
    let mut rib = Rib::default();
    let via = |clusters: Vec<Ipv4Addr>| {
        route(
            5,
            5,
            vec![
                PathAttribute::OriginatorId(id(5)),
                PathAttribute::ClusterList(clusters),
            ],
        )
    };
    rib.update(ibgp(1), &via(vec![id(1), id(2)]));
    rib.update(ibgp(2), &via(vec![id(2)]));
    let paths = rib.paths(&net(5));
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0].peer, ibgp(2).address, "shorter CLUSTER_LIST first");
    // Both lead to the originator: one next hop, not two.
    assert_eq!(rib.next_hops(&net(5)), vec![IpAddr::V4(id(5))]);
    // Without ORIGINATOR_ID the lower router id wins, as before.
    let mut plain = Rib::default();
    plain.update(ibgp(2), &route(5, 5, vec![]));
    plain.update(ibgp(1), &route(5, 5, vec![]));
    assert_eq!(plain.paths(&net(5))[0].peer, ibgp(1).address);
    let a = plain.paths(&net(5))[0].clone();
    let mut b = a.clone();
    b.originator_id = Some(Ipv4Addr::new(1, 1, 1, 1));
    assert_eq!(compare(&b, &a), std::cmp::Ordering::Less);
}

#[test]
fn a_reflector_records_ibgp_best_paths_of_peers_with_a_role() {
    let mut rib = Rib::default();
    rib.set_router_id(id(1));
    rib.enable_reflection(id(1));
    rib.set_reflect_role(ibgp(2).id, Some(ReflectRole::Client));
    rib.set_reflect_role(ibgp(3).id, Some(ReflectRole::NonClient));
    let head = |rib: &Rib| rib.reflected().unwrap().head();
    rib.update(
        ibgp(2),
        &route(2, 2, vec![PathAttribute::Communities(vec![7])]),
    );
    assert_eq!(head(&rib), 1);
    let r = rib.reflected().unwrap().get(&net(2)).unwrap();
    assert_eq!(r.from, ReflectRole::Client);
    let carried = r.path.carried.clone().unwrap();
    assert!(carried.contains(&PathAttribute::Communities(vec![7])));
    assert!(!carried.iter().any(|a| a.type_code() == 3), "no NEXT_HOP");
    // The same announcement again records nothing; a non-client's route is recorded with
    // its role; an eBGP route and a route from a peer without a role are not reflectable.
    rib.update(
        ibgp(2),
        &route(2, 2, vec![PathAttribute::Communities(vec![7])]),
    );
    assert_eq!(head(&rib), 1);
    rib.update(ibgp(3), &route(3, 3, vec![]));
    assert_eq!(
        rib.reflected().unwrap().get(&net(3)).unwrap().from,
        ReflectRole::NonClient
    );
    let ebgp = PeerInfo {
        asn: 65009,
        ..ibgp(9)
    };
    rib.set_reflect_role(ebgp.id, Some(ReflectRole::Client));
    let mut e = route(9, 9, vec![]);
    e.attributes[1] = PathAttribute::AsPath(vec![AsSegment::Sequence(vec![65009])]);
    rib.update(ebgp, &e);
    rib.update(ibgp(4), &route(4, 4, vec![]));
    assert!(rib.reflected().unwrap().get(&net(9)).is_none());
    assert!(rib.reflected().unwrap().get(&net(4)).is_none());
    // The client goes down: its route is withdrawn from reflection.
    let before = head(&rib);
    rib.peer_down(ibgp(2).id);
    let changes = rib.reflected().unwrap().since(before);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, net(2));
    assert!(changes[0].1.is_none());
}

#[test]
fn a_reflector_follows_the_best_path_when_it_moves() {
    let mut rib = Rib::default();
    rib.enable_reflection(id(1));
    for p in [2, 3] {
        rib.set_reflect_role(ibgp(p).id, Some(ReflectRole::Client));
    }
    // Two clients announce one prefix: the lower router id is best and reflected; when it
    // withdraws, the other one is.
    rib.update(ibgp(3), &route(8, 3, vec![]));
    rib.update(ibgp(2), &route(8, 2, vec![]));
    let best = |rib: &Rib| rib.reflected().unwrap().get(&net(8)).map(|r| r.path.peer);
    assert_eq!(best(&rib), Some(ibgp(2).address));
    rib.update(
        ibgp(2),
        &UpdateMsg {
            withdrawn: vec!["10.244.8.0/24".parse().unwrap()],
            ..UpdateMsg::default()
        },
    );
    assert_eq!(best(&rib), Some(ibgp(3).address));
    // A speaker that does not reflect keeps no attributes and records nothing.
    let mut plain = Rib::default();
    plain.update(ibgp(2), &route(8, 2, vec![]));
    assert!(plain.reflected().is_none());
    assert!(plain.paths(&net(8))[0].carried.is_none());
}
