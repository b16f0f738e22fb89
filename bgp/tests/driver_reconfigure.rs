//! Live reconfiguration of a running speaker's peers over loopback (127.0.0.60-69), real
//! sockets: an export change sends only that peer's difference, an import change goes by
//! ROUTE-REFRESH (or, for a peer without it, through the kept Adj-RIB-In), untouched peers get
//! no message at all, a session change is refused for `replace_peer`, and announced prefixes
//! go only where an export policy lets them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bgp::driver::{
    Announced, ImportApplied, PeerConfig, PeerError, PeerKey, PeerState, PeerStatus, Speaker,
    SpeakerConfig, SpeakerHandle,
};
use bgp::policy::{
    Action, Condition, Policy, PrefixRule, RouteSource, Statement, StatementAction, Verdict,
};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn port(offset: u16) -> u16 {
    30000 + (std::process::id() % 10000) as u16 + offset
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn asn(addr: Ipv4Addr) -> u32 {
    65100 + u32::from(addr.octets()[3])
}

async fn speaker(addr: Ipv4Addr, port: u16, peers: Vec<PeerConfig>) -> SpeakerHandle {
    let (handle, mut changes) = Speaker::start(SpeakerConfig {
        graceful_restart: None,
        listen: Some(SocketAddr::new(addr.into(), port)),
        peers,
        ..SpeakerConfig::new(asn(addr), addr)
    })
    .await
    .unwrap();
    tokio::spawn(async move { while changes.recv().await.is_some() {} });
    handle
}

fn peer(from: Ipv4Addr, to: Ipv4Addr, to_port: u16) -> PeerConfig {
    PeerConfig {
        port: to_port,
        hold_time: 9,
        connect_retry: Duration::from_millis(500),
        local_address: Some(from.into()),
        ..PeerConfig::new(to.into(), asn(to))
    }
}

async fn status_of(handle: &SpeakerHandle, who: Ipv4Addr) -> PeerStatus {
    let key = PeerKey::from(who);
    handle
        .status()
        .await
        .into_iter()
        .find(|p| p.peer == key)
        .unwrap()
}

async fn wait_until(handle: &SpeakerHandle, what: &str, check: impl Fn(&SpeakerHandle) -> bool) {
    for _ in 0..200 {
        if check(handle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never {what}: {:?}", handle.status().await);
}

fn established(h: &SpeakerHandle, who: Ipv4Addr) -> bool {
    h.snapshot()
        .iter()
        .any(|p| p.peer == PeerKey::from(who) && p.state == PeerState::Established)
}

/// The communities `h` holds on `prefix` from `from`.
fn communities_on(h: &SpeakerHandle, prefix: &str, from: Ipv4Addr) -> Option<Vec<String>> {
    let prefix = net(prefix);
    h.routes()
        .into_iter()
        .find(|r| r.prefix == prefix)?
        .paths
        .into_iter()
        .find(|p| p.peer == IpAddr::V4(from))
        .map(|p| p.communities)
}

fn has_route(h: &SpeakerHandle, prefix: &str, from: Ipv4Addr) -> bool {
    communities_on(h, prefix, from).is_some()
}

/// Accept the prefixes under `cover` and nothing else.
fn only(name: &str, cover: &str) -> Arc<Policy> {
    Arc::new(Policy {
        name: name.into(),
        statements: vec![Statement {
            conditions: vec![Condition::Prefix(vec![PrefixRule::or_longer(net(cover))])],
            actions: vec![],
            then: StatementAction::Accept,
        }],
        default: Verdict::Reject,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_changes_touch_only_their_peer() {
    let (a, b, c) = (ip(60), ip(61), ip(62));
    let (a_port, b_port, c_port) = (port(0), port(1), port(2));
    let a_to_b = peer(a, b, b_port);
    let a_to_c = peer(a, c, c_port);
    let sa = speaker(a, a_port, vec![a_to_b.clone(), a_to_c.clone()]).await;
    let sb = speaker(b, b_port, vec![peer(b, a, a_port)]).await;
    let sc = speaker(c, c_port, vec![peer(c, a, a_port)]).await;
    sa.set_local_prefixes(vec![net("10.244.60.0/24")]);
    sc.set_local_prefixes(vec![net("10.244.62.0/24"), net("10.99.62.0/24")]);
    wait_until(&sa, "both up", |h| established(h, b) && established(h, c)).await;
    wait_until(&sb, "A's block at B", |h| has_route(h, "10.244.60.0/24", a)).await;
    wait_until(&sa, "C's routes at A", |h| {
        has_route(h, "10.99.62.0/24", c) && has_route(h, "10.244.62.0/24", c)
    })
    .await;
    let b_before = status_of(&sa, b).await;
    let c_before = status_of(&sa, c).await;

    // B's communities change: UPDATEs to B only, the session stays.
    let b_new = PeerConfig {
        communities: vec![(65000 << 16) | 2],
        ..a_to_b.clone()
    };
    let applied = sa.reconfigure_peer(b_new.clone()).await.unwrap();
    assert!(applied.export_changed);
    assert_eq!(applied.import, ImportApplied::Unchanged);
    assert_eq!(applied.updates_sent, 1, "one UPDATE for one prefix");
    wait_until(&sb, "the new community at B", |h| {
        communities_on(h, "10.244.60.0/24", a) == Some(vec!["65000:2".into()])
    })
    .await;
    // The same configuration again: nothing at all.
    let again = sa.reconfigure_peer(b_new.clone()).await.unwrap();
    assert_eq!(again.updates_sent, 0);

    // C's import policy changes: refused 10.99.0.0/16 by a ROUTE-REFRESH, no reset.
    let c_new = PeerConfig {
        import_policy: Some(only("c-in", "10.244.0.0/16")),
        ..a_to_c.clone()
    };
    let applied = sa.reconfigure_peer(c_new).await.unwrap();
    assert_eq!(applied.import, ImportApplied::RouteRefresh);
    assert!(!applied.export_changed);
    assert_eq!(applied.updates_sent, 0);
    wait_until(&sa, "C's 10.99 route gone", |h| {
        !has_route(h, "10.99.62.0/24", c) && has_route(h, "10.244.62.0/24", c)
    })
    .await;

    let b_after = status_of(&sa, b).await;
    let c_after = status_of(&sa, c).await;
    assert_eq!(b_after.established_transitions, 1);
    assert_eq!(c_after.established_transitions, 1);
    assert_eq!(b_after.sent.update, b_before.sent.update + 1);
    assert_eq!(b_after.sent.route_refresh, 0);
    // C got a ROUTE-REFRESH and no UPDATE from A; B's import was not touched.
    assert_eq!(c_after.sent.route_refresh, 1);
    assert_eq!(c_after.sent.update, c_before.sent.update);
    assert_eq!(b_after.received.update, b_before.received.update);

    // A session change is not for reconfigure_peer.
    let hold = PeerConfig {
        hold_time: 30,
        ..b_new.clone()
    };
    assert!(matches!(
        sa.reconfigure_peer(hold).await,
        Err(PeerError::NeedsReset(_))
    ));

    // Announced prefixes go where an export policy lets them: B (given one), not C.
    let b_out = PeerConfig {
        export_policy: Some(Arc::new(Policy {
            name: "b-out".into(),
            statements: vec![Statement {
                conditions: vec![Condition::Source(vec![RouteSource::Announced])],
                actions: vec![Action::SetMed(20)],
                then: StatementAction::Accept,
            }],
            default: Verdict::Accept,
        })),
        ..b_new
    };
    sa.reconfigure_peer(b_out).await.unwrap();
    let c_updates = status_of(&sa, c).await.sent.update;
    let mut announced = BTreeMap::new();
    announced.insert(
        net("192.0.2.10/32"),
        Announced {
            communities: vec![(65000 << 16) | 7],
            large_communities: vec![],
        },
    );
    sa.set_announced(announced);
    wait_until(&sb, "the announcement at B", |h| {
        communities_on(h, "192.0.2.10/32", a) == Some(vec!["65000:2".into(), "65000:7".into()])
    })
    .await;
    sa.set_announced(BTreeMap::new());
    wait_until(&sb, "the withdrawal at B", |h| {
        !has_route(h, "192.0.2.10/32", a)
    })
    .await;
    assert_eq!(status_of(&sa, c).await.sent.update, c_updates);
    assert_eq!(status_of(&sa, b).await.established_transitions, 1);
}

/// A raw peer whose OPEN has no Route Refresh capability: Multiprotocol IPv4 unicast and
/// 4-octet AS only.
fn open_without_route_refresh(asn: u32, id: Ipv4Addr) -> Vec<u8> {
    let mut caps = vec![1, 4, 0, 1, 0, 1, 65, 4];
    caps.extend_from_slice(&asn.to_be_bytes());
    let mut params = vec![2, caps.len() as u8];
    params.extend_from_slice(&caps);
    testkit::bgp::open_with(4, asn as u16, 90, id.octets(), &params)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_without_route_refresh_gets_its_kept_routes_imported_again() {
    let (a, r) = (ip(65), ip(66));
    let a_port = port(5);
    let to_r = PeerConfig {
        passive: true,
        import_policy: Some(only("r-in", "10.244.0.0/16")),
        ..peer(a, r, 179)
    };
    let sa = speaker(a, a_port, vec![to_r.clone()]).await;

    // The raw peer connects, opens without ROUTE-REFRESH and sends two prefixes.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(r.into(), 0)).unwrap();
    let mut stream = socket
        .connect(SocketAddr::new(a.into(), a_port))
        .await
        .unwrap();
    stream
        .write_all(&open_without_route_refresh(asn(r), r))
        .await
        .unwrap();
    stream.write_all(&testkit::bgp::keepalive()).await.unwrap();
    wait_until(&sa, "the raw peer up", |h| established(h, r)).await;
    use testkit::bgp::{as_path, concat, next_hop, origin_igp, prefix, update};
    let attrs = concat(&[&origin_igp(), &as_path(&[asn(r)]), &next_hop(r)]);
    let nlri = concat(&[&prefix("10.244.66.0/24"), &prefix("10.99.66.0/24")]);
    stream.write_all(&update(&[], &attrs, &nlri)).await.unwrap();
    // Whatever A sends (OPEN, KEEPALIVEs, its UPDATEs) is read and dropped.
    let (mut read, _write) = stream.into_split();
    tokio::spawn(async move {
        let mut sink = vec![0u8; 4096];
        while read.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    wait_until(&sa, "the accepted prefix", |h| {
        has_route(h, "10.244.66.0/24", r)
    })
    .await;
    assert!(!has_route(&sa, "10.99.66.0/24", r));

    // A new policy that takes everything: applied to what was kept, nothing asked of the peer.
    let widened = PeerConfig {
        import_policy: Some(only("r-in", "0.0.0.0/0")),
        ..to_r
    };
    let applied = sa.reconfigure_peer(widened).await.unwrap();
    assert_eq!(applied.import, ImportApplied::KeptAdjRibIn);
    assert!(has_route(&sa, "10.99.66.0/24", r));
    let st = status_of(&sa, r).await;
    assert_eq!(st.sent.route_refresh, 0);
    assert_eq!(st.established_transitions, 1);
}
