//! What a peer that breaks the rules gets, over loopback against a scripted peer (no root):
//! the RFC's answer on the wire, and what `lattice peers` and `lattice routes` show.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scripted;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp::driver::Families;
use bgp::wire::{
    afi, safi, AsSegment, Capability, Message, MpNextHop, MpReach, Origin, PathAttribute, UpdateMsg,
};
use scripted::{passive_speaker, port, status_when, Wire};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// An UPDATE announcing `prefixes` (IPv6) via `next_hop` in MP_REACH_NLRI.
fn v6_update(next_hop: &str, prefixes: &[&str]) -> Message {
    Message::Update(UpdateMsg {
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![scripted::THEIR_AS])]),
            PathAttribute::MpReach(MpReach {
                afi: afi::IPV6,
                safi: safi::UNICAST,
                next_hop: MpNextHop {
                    global: next_hop.parse().unwrap(),
                    link_local: None,
                },
                nlri: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
            }),
        ],
        ..UpdateMsg::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_only_session_over_its_prefix_limit_gets_cease_1_naming_ipv6() {
    // RFC 4486 §4: the Cease/1 data is the AFI and SAFI that hit the limit, then the limit.
    let (ours, them) = (ip("127.0.19.1"), ip("127.0.19.2"));
    let port = port(41000);
    let (handle, _rx) = passive_speaker(ours, port, them, |p| bgp::driver::PeerConfig {
        families: Families {
            ipv4: false,
            ipv6: true,
        },
        ipv6_next_hop: Some("fd00::20".parse().unwrap()),
        max_prefixes: Some(2),
        ..p
    })
    .await;
    let mut peer = Wire::establish(
        them,
        SocketAddr::new(ours, port),
        Ipv4Addr::new(10, 0, 0, 5),
        vec![Capability::Multiprotocol {
            afi: afi::IPV6,
            safi: safi::UNICAST,
        }],
    )
    .await;
    peer.send(&v6_update(
        "fd00::5",
        &["fd00:1::/64", "fd00:2::/64", "fd00:3::/64"],
    ))
    .await;
    let n = peer.notification(Duration::from_secs(5)).await;
    let n = n.expect("no NOTIFICATION");
    assert_eq!((n.code, n.subcode), (6, 1));
    assert_eq!(n.data, vec![0, 2, 1, 0, 0, 0, 2], "AFI 2, SAFI 1, limit 2");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_communication_is_shown_and_an_invalid_one_named() {
    // RFC 9003: Cease/2 with a UTF-8 message; §4: an invalid one is reported as such.
    let (ours, them) = (ip("127.0.19.3"), ip("127.0.19.4"));
    let port = port(42000);
    let (handle, _rx) = passive_speaker(ours, port, them, |p| bgp::driver::PeerConfig {
        connect_retry: Duration::from_secs(1),
        ..p
    })
    .await;
    let to = SocketAddr::new(ours, port);
    let id = Ipv4Addr::new(10, 0, 0, 5);
    for (data, shown) in [
        (
            [&[21u8][..], "rack 3: \"maintenance\"".as_bytes()].concat(),
            r#"shutdown communication "rack 3: \"maintenance\"""#,
        ),
        (
            vec![3, b'a', 0xff, b'b'],
            "shutdown communication (invalid: it is not UTF-8)",
        ),
    ] {
        let mut peer = Wire::establish(them, to, id, vec![]).await;
        status_when(&handle, scripted::established).await;
        peer.send(&Message::Notification(bgp::wire::NotificationMsg {
            code: 6,
            subcode: 2,
            data,
        }))
        .await;
        let s = status_when(&handle, |p| !scripted::established(p)).await;
        let err = s.last_error.unwrap_or_default();
        assert!(
            err.contains("received NOTIFICATION 6/2") && err.contains(shown),
            "{err}"
        );
    }
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_stop_sends_the_shutdown_communication_given() {
    let (ours, them) = (ip("127.0.19.5"), ip("127.0.19.6"));
    let port = port(43000);
    let (handle, _rx) = passive_speaker(ours, port, them, |p| p).await;
    let mut peer = Wire::establish(
        them,
        SocketAddr::new(ours, port),
        Ipv4Addr::new(10, 0, 0, 5),
        vec![],
    )
    .await;
    handle.shutdown_with(Some("latticed upgrade".into())).await;
    let n = peer.notification(Duration::from_secs(5)).await.unwrap();
    assert_eq!((n.code, n.subcode), (6, 2));
    assert_eq!(
        n.shutdown_communication(),
        Some(bgp::wire::ShutdownCommunication::Message(
            "latticed upgrade".into()
        ))
    );
}

/// An IPv4 UPDATE announcing `prefixes` via `next_hop` (classic NEXT_HOP).
fn v4_update(next_hop: &str, prefixes: &[&str]) -> Message {
    Message::Update(UpdateMsg {
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![scripted::THEIR_AS])]),
            PathAttribute::NextHop(next_hop.parse().unwrap()),
        ],
        nlri: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
        ..UpdateMsg::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_via_loopback_multicast_or_our_own_address_are_ignored_and_shown() {
    // RFC 4271 §6.3: logged, ignored, no NOTIFICATION; shown with the reason and counted.
    let (ours, them) = (ip("127.0.19.7"), ip("127.0.19.8"));
    let port = port(44000);
    let (handle, mut rx) = passive_speaker(ours, port, them, |p| bgp::driver::PeerConfig {
        families: Families {
            ipv4: true,
            ipv6: true,
        },
        ..p
    })
    .await;
    let mut peer = Wire::establish(
        them,
        SocketAddr::new(ours, port),
        Ipv4Addr::new(10, 0, 0, 5),
        vec![
            Capability::Multiprotocol {
                afi: afi::IPV4,
                safi: safi::UNICAST,
            },
            Capability::Multiprotocol {
                afi: afi::IPV6,
                safi: safi::UNICAST,
            },
        ],
    )
    .await;
    // A usable route first, then the same prefix via loopback: the first goes away.
    peer.send(&v4_update("10.0.0.5", &["10.244.1.0/24"])).await;
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.next_hops, vec![ip("10.0.0.5")]);
    peer.send(&v4_update("127.0.0.1", &["10.244.1.0/24"])).await;
    let gone = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(gone.next_hops.is_empty(), "{gone:?}");
    // OpenBGPD's IPv6 next hop over an IPv4 session, multicast, our own session address. (An
    // IPv4 NEXT_HOP that is multicast is malformed already: RFC 7606 treat-as-withdraw.)
    peer.send(&v6_update("::1", &["fd00:1::/64", "fd00:2::/64"]))
        .await;
    peer.send(&v6_update("ff02::9", &["fd00:3::/64"])).await;
    peer.send(&v4_update("127.0.19.7", &["10.244.3.0/24"]))
        .await;
    let s = status_when(&handle, |p| p.prefixes_ignored == 5).await;
    assert!(scripted::established(&s), "the session stays up: {s:?}");
    assert_eq!(s.prefixes_accepted, 0);
    assert_eq!(s.notifications_sent.len(), 0, "{s:?}");
    assert!(handle.loc_rib().is_empty(), "{:?}", handle.loc_rib());
    let routes = handle.routes();
    let why = |prefix: &str| {
        let prefix: ipnet::IpNet = prefix.parse().unwrap();
        let r = routes.iter().find(|r| r.prefix == prefix).unwrap();
        assert!(!r.paths[0].best);
        r.paths[0].ignored.clone().unwrap_or_default()
    };
    assert!(why("10.244.1.0/24").contains("127.0.0.1 is a loopback address"));
    assert!(why("fd00:2::/64").contains("::1 is a loopback address"));
    assert!(why("fd00:3::/64").contains("ff02::9 is a multicast address"));
    assert!(why("10.244.3.0/24").contains("127.0.19.7 is our own address"));
    // Sent again with a usable next hop: used, no longer ignored.
    peer.send(&v6_update("fd00::5", &["fd00:1::/64"])).await;
    let used = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.next_hops, vec![ip("fd00::5")]);
    let s = status_when(&handle, |p| p.prefixes_ignored == 4).await;
    assert_eq!(s.prefixes_accepted, 1);
    handle.shutdown().await;
}
