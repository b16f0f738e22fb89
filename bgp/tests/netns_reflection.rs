//! Route reflection (RFC 4456) between speakers in one network namespace: one reflector and
//! its clients, then two reflectors, every one in AS 65000. Each speaker listens on its own
//! 10.17.0.x address on the namespace's `lo`: reflected routes keep the originator's next hop,
//! and a 127.x next hop that is not the peer's own is ignored (RFC 4271 §6.3), so the speakers
//! cannot all live on 127.0.0.0/8. Root only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp::driver::{
    PeerConfig, PeerSource, PeerState, ReflectRole, RouteChanges, Speaker, SpeakerConfig,
    SpeakerHandle,
};
use bgp::rib::RibPath;
use bgp::PeerKey;
use testkit::eventually_async;
use testkit::netns::Netns;

const AS: u32 = 65000;
const LIMIT: Duration = Duration::from_secs(15);

fn port() -> u16 {
    40000 + (std::process::id() % 10000) as u16
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 17, 0, last)
}

/// Runs `f` in a new namespace whose `lo` holds `ip(last)` for each of `lasts`.
fn in_namespace<F, Fut>(tag: &str, lasts: &[u8], f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    if !testkit::require_root() {
        return;
    }
    let ns = Netns::new(tag);
    for last in lasts {
        ns.ip(&["addr", "add", &format!("{}/32", ip(*last)), "dev", "lo"]);
    }
    ns.block_on(f);
}

/// A speaker at `ip(last)` (router id 10.0.0.`last`), a reflector when `cluster` is set.
async fn speaker(last: u8, cluster: Option<Ipv4Addr>, peers: Vec<PeerConfig>) -> SpeakerHandle {
    let (handle, changes) = Speaker::start(SpeakerConfig {
        graceful_restart: None,
        listen: Some(SocketAddr::new(ip(last).into(), port())),
        peers,
        route_reflector: cluster,
        ..SpeakerConfig::new(AS, Ipv4Addr::new(10, 0, 0, last))
    })
    .await
    .unwrap();
    drain(changes);
    handle.set_local_prefixes(vec![format!("10.244.{last}.0/24").parse().unwrap()]);
    handle
}

/// Nobody reads the agent's change feed here: let it flow.
fn drain(mut changes: RouteChanges) {
    tokio::spawn(async move { while changes.recv().await.is_some() {} });
}

/// `to` seen from `from`, with a role when `from` reflects.
fn peer(from: u8, to: u8, role: Option<ReflectRole>) -> PeerConfig {
    PeerConfig {
        port: port(),
        hold_time: 9,
        connect_retry: Duration::from_millis(300),
        local_address: Some(ip(from).into()),
        reflect: role,
        source: PeerSource::Discovered {
            host: format!("h{to}"),
        },
        ..PeerConfig::new(ip(to).into(), AS)
    }
}

fn block(last: u8) -> ipnet::IpNet {
    format!("10.244.{last}.0/24").parse().unwrap()
}

/// The paths `handle` holds for `prefix`, best first.
fn paths(handle: &SpeakerHandle, prefix: ipnet::IpNet) -> Vec<RibPath> {
    handle
        .routes()
        .into_iter()
        .find(|r| r.prefix == prefix)
        .map(|r| r.paths)
        .unwrap_or_default()
}

async fn holds(handle: &SpeakerHandle, from: u8, hops: &[u8]) -> bool {
    let want: Vec<IpAddr> = hops.iter().map(|h| IpAddr::V4(ip(*h))).collect();
    eventually_async(LIMIT, || {
        handle
            .loc_rib()
            .iter()
            .any(|(p, h)| *p == block(from) && *h == want)
    })
    .await
}

async fn lacks(handle: &SpeakerHandle, from: u8) -> bool {
    eventually_async(LIMIT, || {
        !handle.loc_rib().iter().any(|(p, _)| *p == block(from))
    })
    .await
}

#[test]
fn a_reflector_passes_each_clients_routes_to_the_others_with_their_next_hop() {
    in_namespace("rr17a", &[1, 2, 3], one_reflector);
}

async fn one_reflector() {
    use ReflectRole::Client;
    let rr = speaker(
        1,
        Some(ip(1)),
        vec![peer(1, 2, Some(Client)), peer(1, 3, Some(Client))],
    )
    .await;
    let a = speaker(2, None, vec![peer(2, 1, None)]).await;
    let b = speaker(3, None, vec![peer(3, 1, None)]).await;
    // Each client learns the other's block with the originator as next hop, and the
    // reflector's own block with the reflector's.
    assert!(holds(&b, 2, &[2]).await, "b: {:?}", b.routes());
    assert!(holds(&a, 3, &[3]).await, "a: {:?}", a.routes());
    assert!(holds(&a, 1, &[1]).await);
    let p = &paths(&b, block(2))[0];
    assert_eq!(p.peer, IpAddr::V4(ip(1)), "learned from the reflector");
    assert_eq!(p.originator_id, Some(Ipv4Addr::new(10, 0, 0, 2)));
    assert_eq!(p.cluster_list, vec![ip(1)]);
    assert_eq!(p.local_pref, Some(100));
    // The reflector's own route carries neither (it is not reflected).
    assert_eq!(paths(&b, block(1))[0].originator_id, None);
    // The reflector reports what it sent, and whose peer is a client.
    let st = rr.status().await;
    let to_a = st.iter().find(|s| s.peer == PeerKey::from(ip(2))).unwrap();
    assert_eq!(to_a.prefixes_advertised, 2, "its own block and b's");
    assert_eq!(to_a.config.reflect, Some(Client));
    assert_eq!(
        to_a.config.source,
        PeerSource::Discovered { host: "h2".into() }
    );
    // A client withdraws its block: gone at the other client too.
    a.set_local_prefixes(vec![]);
    assert!(lacks(&b, 2).await, "b: {:?}", b.routes());
    a.set_local_prefixes(vec![block(2)]);
    assert!(holds(&b, 2, &[2]).await);
    // The client's session with the reflector goes: its routes go everywhere.
    rr.remove_peer(&PeerKey::from(ip(2))).await.unwrap();
    assert!(lacks(&b, 2).await, "b: {:?}", b.routes());
    for s in [rr, a, b] {
        s.shutdown().await;
    }
}

#[test]
fn two_reflectors_back_each_other_up_and_do_not_loop() {
    in_namespace("rr17b", &[11, 12, 13, 14], two_reflectors);
}

async fn two_reflectors() {
    use ReflectRole::{Client, NonClient};
    // Reflectors 11 and 12 (one cluster each), clients 13 and 14 peering with both; the
    // reflectors peer with each other as non-clients.
    let rr = |me: u8, other: u8| {
        vec![
            peer(me, other, Some(NonClient)),
            peer(me, 13, Some(Client)),
            peer(me, 14, Some(Client)),
        ]
    };
    let r1 = speaker(11, Some(ip(11)), rr(11, 12)).await;
    let r2 = speaker(12, Some(ip(12)), rr(12, 11)).await;
    let c = speaker(13, None, vec![peer(13, 11, None), peer(13, 12, None)]).await;
    let d = speaker(14, None, vec![peer(14, 11, None), peer(14, 12, None)]).await;
    for (h, peers) in [(&c, [11, 12]), (&d, [11, 12])] {
        for p in peers {
            let key = PeerKey::from(ip(p));
            assert!(
                eventually_async(LIMIT, || {
                    h.snapshot()
                        .iter()
                        .any(|s| s.peer == key && s.state == PeerState::Established)
                })
                .await
            );
        }
    }
    // d learns c's block from both reflectors, one next hop: c's.
    assert!(holds(&d, 13, &[13]).await);
    assert!(
        eventually_async(LIMIT, || paths(&d, block(13)).len() == 2).await,
        "{:?}",
        paths(&d, block(13))
    );
    // The reflectors learn c's block from c and from each other (another cluster): the
    // direct path wins on the shorter CLUSTER_LIST, and nothing loops back to c.
    assert!(eventually_async(LIMIT, || paths(&r1, block(13)).len() == 2).await);
    let best = &paths(&r1, block(13))[0];
    assert_eq!(best.peer, IpAddr::V4(ip(13)));
    assert!(best.cluster_list.is_empty());
    assert!(
        paths(&c, block(13)).is_empty(),
        "c never takes its own route back"
    );
    // One reflector goes away: d still reaches c through the other.
    r1.shutdown().await;
    assert!(eventually_async(LIMIT, || paths(&d, block(13)).len() == 1).await);
    assert!(holds(&d, 13, &[13]).await);
    assert!(holds(&c, 14, &[14]).await);
    for s in [r2, c, d] {
        s.shutdown().await;
    }
}

#[test]
fn a_speaker_that_does_not_reflect_passes_nothing_on() {
    in_namespace("rr17c", &[21, 22, 23], no_reflection);
}

async fn no_reflection() {
    // The middle speaker has roles configured but no cluster id: it stays a leaf.
    use ReflectRole::Client;
    let mid = speaker(
        21,
        None,
        vec![peer(21, 22, Some(Client)), peer(21, 23, Some(Client))],
    )
    .await;
    let e = speaker(22, None, vec![peer(22, 21, None)]).await;
    let f = speaker(23, None, vec![peer(23, 21, None)]).await;
    assert!(holds(&f, 21, &[21]).await);
    assert!(holds(&mid, 22, &[22]).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(paths(&f, block(22)).is_empty());
    for s in [mid, e, f] {
        s.shutdown().await;
    }
}
