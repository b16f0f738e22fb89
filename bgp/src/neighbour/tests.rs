//! The choosing rule of [`Discovery`], scripted: no runtime, no socket, time passed in.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

const OUR_MAC: Mac = [2, 0, 0, 0, 0, 1];
const MAC_A: Mac = [2, 0, 0, 0, 0, 0xa];
const MAC_B: Mac = [2, 0, 0, 0, 0, 0xb];

fn ll(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn link(up: bool, with_ll: bool) -> Option<LinkState> {
    Some(LinkState {
        ifindex: 7,
        up,
        link_local: with_ll.then(|| ll("fe80::1")),
        mac: Some(OUR_MAC),
    })
}

fn ra(source: &str, mac: Mac) -> Input {
    Input::Received {
        source: ll(source),
        hop_limit: Some(255),
        message: Icmpv6::RouterAdvertisement {
            lifetime: 1800,
            source_mac: Some(mac),
        },
    }
}

fn neighbour(d: &Discovery) -> Option<(Ipv6Addr, u32, HeardBy)> {
    d.view()
        .neighbour
        .map(|n| (n.address, n.ifindex, n.heard_by))
}

fn kinds(sent: &[Send]) -> Vec<(u8, Ipv6Addr)> {
    sent.iter().map(|s| (s.message[0], s.to)).collect()
}

/// A ready interface at `t0`.
fn ready(t0: Instant) -> Discovery {
    let mut d = Discovery::new("eth1");
    d.process(t0, Input::Link(link(true, true)));
    d
}

#[test]
fn the_peer_waits_for_the_interface_its_address_and_a_neighbour_and_says_why() {
    let t0 = Instant::now();
    let mut d = Discovery::new("eth1");
    assert!(d.process(t0, Input::Link(None)).is_empty());
    assert_eq!(
        d.view().waiting.as_deref(),
        Some("interface eth1 does not exist")
    );
    d.process(t0, Input::Link(link(false, true)));
    assert_eq!(d.view().waiting.as_deref(), Some("interface eth1 is down"));
    d.process(t0, Input::Link(link(true, false)));
    assert!(d
        .view()
        .waiting
        .unwrap()
        .contains("no usable IPv6 link-local address"));
    assert_eq!(d.next_deadline(), None, "nothing to send without a link");
    // Usable: our RA at once, and the probes (RS to all-routers, Echo to all-nodes).
    let sent = d.process(t0, Input::Link(link(true, true)));
    assert_eq!(
        kinds(&sent),
        [
            (icmpv6::kind::ROUTER_ADVERTISEMENT, ALL_NODES),
            (icmpv6::kind::ROUTER_SOLICITATION, ALL_ROUTERS),
            (icmpv6::kind::ECHO_REQUEST, ALL_NODES),
        ]
    );
    assert!(d
        .view()
        .waiting
        .unwrap()
        .starts_with("no neighbour heard on eth1"));
    assert_eq!(neighbour(&d), None);
}

#[test]
fn a_router_advertisement_names_the_neighbour_and_stops_the_probes() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    d.process(t0, ra("fe80::a", MAC_A));
    assert_eq!(
        neighbour(&d),
        Some((ll("fe80::a"), 7, HeardBy::RouterAdvertisement))
    );
    assert_eq!(d.view().waiting, None);
    // Only our RAs from now on: two more a second apart, then every 10 s.
    let mut sent = Vec::new();
    let mut t = t0;
    while t < t0 + Duration::from_secs(25) {
        t = d.next_deadline().unwrap().min(t0 + Duration::from_secs(25));
        sent.extend(
            d.process(t, ra("fe80::a", MAC_A))
                .into_iter()
                .map(|s| (t - t0, s)),
        );
    }
    let at: Vec<u64> = sent.iter().map(|(d, _)| d.as_secs()).collect();
    assert_eq!(at, [1, 2, 12, 22]);
    assert!(sent
        .iter()
        .all(|(_, s)| s.message[0] == icmpv6::kind::ROUTER_ADVERTISEMENT));
}

#[test]
fn what_could_have_come_from_elsewhere_is_ignored() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    let heard = |d: &mut Discovery, source: &str, hop: Option<u8>| {
        d.process(
            t0,
            Input::Received {
                source: ll(source),
                hop_limit: hop,
                message: Icmpv6::RouterAdvertisement {
                    lifetime: 0,
                    source_mac: None,
                },
            },
        );
    };
    heard(&mut d, "fe80::a", Some(64)); // forwarded: not from the link
    heard(&mut d, "fe80::a", None); // hop limit unknown
    heard(&mut d, "fd00::a", Some(255)); // not link-local
    heard(&mut d, "fe80::1", Some(255)); // ourselves
    heard(&mut d, "ff02::1", Some(255)); // multicast
    d.process(t0, Input::Connection(ll("fd00::9")));
    let echo_of_another = Input::Received {
        source: ll("fe80::a"),
        hop_limit: Some(64),
        message: Icmpv6::EchoReply { id: 1, seq: 1 },
    };
    d.process(t0, echo_of_another);
    assert_eq!(neighbour(&d), None);
    assert_eq!(d.ignored(), 7);
}

#[test]
fn without_router_advertisements_neighbor_discovery_finds_the_neighbour() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    // The neighbour resolves our address to answer our all-nodes Echo Request...
    d.process(
        t0,
        Input::Received {
            source: ll("fe80::b"),
            hop_limit: Some(255),
            message: Icmpv6::NeighborSolicitation {
                target: ll("fe80::1"),
                source_mac: Some(MAC_B),
            },
        },
    );
    assert_eq!(
        neighbour(&d),
        Some((ll("fe80::b"), 7, HeardBy::NeighborDiscovery))
    );
    // ...or answers it (any hop limit: the reply is to our own probe).
    let mut e = ready(t0);
    e.process(
        t0,
        Input::Received {
            source: ll("fe80::c"),
            hop_limit: Some(64),
            message: Icmpv6::EchoReply {
                id: ECHO_ID,
                seq: 1,
            },
        },
    );
    assert_eq!(neighbour(&e).map(|n| n.0), Some(ll("fe80::c")));
    // ...or connects to us.
    let mut f = ready(t0);
    f.process(t0, Input::Connection(ll("fe80::d")));
    assert_eq!(neighbour(&f).map(|n| n.0), Some(ll("fe80::d")));
}

#[test]
fn a_neighbour_that_changes_its_address_is_followed_at_once() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    d.process(t0, ra("fe80::a", MAC_A));
    d.process(t0, Input::Established(true));
    // Another router on the link: the Established neighbour stays.
    d.process(t0, ra("fe80::2", MAC_B));
    assert_eq!(neighbour(&d).map(|n| n.0), Some(ll("fe80::a")));
    // The neighbour's MAC from a new address: it is the same router, renumbered.
    d.process(t0 + Duration::from_secs(1), ra("fe80::aa", MAC_A));
    assert_eq!(neighbour(&d).map(|n| n.0), Some(ll("fe80::aa")));
}

#[test]
fn a_silent_neighbour_is_left_only_when_its_session_is_down_and_another_is_heard() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    d.process(t0, ra("fe80::a", MAC_A));
    d.process(t0, Input::Established(true));
    let later = t0 + NEIGHBOUR_TIMEOUT + Duration::from_secs(5);
    d.process(later, ra("fe80::b", MAC_B));
    assert_eq!(
        neighbour(&d).map(|n| n.0),
        Some(ll("fe80::a")),
        "Established: kept however silent"
    );
    d.process(later, Input::Established(false));
    assert_eq!(neighbour(&d).map(|n| n.0), Some(ll("fe80::b")));
    // Alone and silent, a neighbour is kept: there is nobody else to try.
    let mut e = ready(t0);
    e.process(t0, ra("fe80::a", MAC_A));
    e.process(later, Input::Tick);
    assert_eq!(neighbour(&e).map(|n| n.0), Some(ll("fe80::a")));
}

#[test]
fn when_it_must_choose_a_router_beats_a_node_and_the_lowest_address_wins() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    d.process(t0, ra("fe80::9", MAC_A));
    let t1 = t0 + Duration::from_secs(20);
    d.process(
        t1,
        Input::Received {
            source: ll("fe80::3"),
            hop_limit: Some(255),
            message: Icmpv6::NeighborSolicitation {
                target: ll("fe80::1"),
                source_mac: None,
            },
        },
    );
    d.process(t1, ra("fe80::7", MAC_B));
    d.process(t1, ra("fe80::5", [2, 0, 0, 0, 0, 5]));
    assert_eq!(
        neighbour(&d).map(|n| n.0),
        Some(ll("fe80::9")),
        "still heard"
    );
    // fe80::9 goes silent; of those heard since, a router, the lowest address.
    d.process(t0 + NEIGHBOUR_TIMEOUT, Input::Tick);
    assert_eq!(
        neighbour(&d),
        Some((ll("fe80::5"), 7, HeardBy::RouterAdvertisement))
    );
}

#[test]
fn the_interface_going_down_forgets_everyone_and_coming_back_starts_over() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    d.process(t0, ra("fe80::a", MAC_A));
    assert!(d.process(t0, Input::Link(link(false, true))).is_empty());
    assert_eq!(neighbour(&d), None);
    assert_eq!(d.view().waiting.as_deref(), Some("interface eth1 is down"));
    let sent = d.process(t0, Input::Link(link(true, true)));
    assert_eq!(sent.len(), 3, "RA and probes again");
    assert_eq!(neighbour(&d), None, "the old neighbour must be heard again");
    d.process(t0, ra("fe80::a", MAC_A));
    assert!(neighbour(&d).is_some());
    // Recreated under another index: a new link, too.
    let mut moved = link(true, true).unwrap();
    moved.ifindex = 9;
    d.process(t0, Input::Link(Some(moved)));
    assert_eq!(neighbour(&d), None);
}

#[test]
fn solicitations_are_answered_but_not_a_flood_of_them() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    let rs = Input::Received {
        source: ll("fe80::a"),
        hop_limit: Some(255),
        message: Icmpv6::RouterSolicitation {
            source_mac: Some(MAC_A),
        },
    };
    let t = t0 + Duration::from_millis(100);
    let answers = |sent: Vec<Send>| {
        sent.iter()
            .filter(|s| s.message[0] == icmpv6::kind::ROUTER_ADVERTISEMENT)
            .count()
    };
    assert_eq!(answers(d.process(t, rs.clone())), 1);
    assert_eq!(answers(d.process(t, rs.clone())), 0);
    assert_eq!(answers(d.process(t + MIN_SOLICITED_GAP, rs)), 1);
}

#[test]
fn a_crowd_of_strangers_is_bounded() {
    let t0 = Instant::now();
    let mut d = ready(t0);
    d.process(t0, ra("fe80::a", MAC_A));
    for i in 0..1000u16 {
        let source = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, i);
        d.process(
            t0 + Duration::from_millis(u64::from(i)),
            ra(&source.to_string(), MAC_B),
        );
    }
    assert!(d.candidates.len() <= MAX_CANDIDATES);
    assert_eq!(neighbour(&d).map(|n| n.0), Some(ll("fe80::a")));
}
