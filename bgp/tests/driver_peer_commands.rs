//! Per-peer commands on a running speaker, over loopback (127.0.0.40-49) with real sockets:
//! a peer added later establishes; a removed peer gets Cease/3 and its routes leave the RIB
//! while the other session carries on; a replaced peer alone is reset (Cease/6); a TCP MD5 key
//! follows its peer onto the listener and off it again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp::driver::{
    PeerConfig, PeerError, PeerKey, PeerState, PeerStatus, RouteChanges, Speaker, SpeakerConfig,
    SpeakerHandle,
};

/// Ports unique to this process so parallel test runs do not collide.
fn port(offset: u16) -> u16 {
    50000 + (std::process::id() % 10000) as u16 + offset
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// A speaker on `addr:port` with AS 65100 + the address's last octet.
async fn speaker(
    addr: Ipv4Addr,
    port: u16,
    peers: Vec<PeerConfig>,
) -> (SpeakerHandle, RouteChanges) {
    let asn = 65100 + u32::from(addr.octets()[3]);
    Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        listen: Some(SocketAddr::new(addr.into(), port)),
        peers,
        ..SpeakerConfig::new(asn, addr)
    })
    .await
    .unwrap()
}

/// `to` (a speaker on `to_port`) as seen from `from`.
fn peer(from: Ipv4Addr, to: Ipv4Addr, to_port: u16) -> PeerConfig {
    PeerConfig {
        port: to_port,
        hold_time: 9,
        connect_retry: Duration::from_millis(500),
        local_address: Some(from.into()),
        ..PeerConfig::new(to.into(), 65100 + u32::from(to.octets()[3]))
    }
}

/// `who`'s status on `handle`, if it is configured there.
async fn status_of(handle: &SpeakerHandle, who: Ipv4Addr) -> Option<PeerStatus> {
    let key = PeerKey::from(who);
    handle.status().await.into_iter().find(|p| p.peer == key)
}

/// Wait until `check` holds for `who`'s status on `handle` (10 s at most).
async fn wait_until(
    handle: &SpeakerHandle,
    who: Ipv4Addr,
    what: &str,
    check: impl Fn(&PeerStatus) -> bool,
) {
    for _ in 0..200 {
        if status_of(handle, who).await.is_some_and(|s| check(&s)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{who}: never {what}: {:?}", handle.status().await);
}

async fn established(handle: &SpeakerHandle, who: Ipv4Addr) {
    wait_until(handle, who, "Established", |s| {
        s.state == PeerState::Established
    })
    .await;
}

/// The next hops `rx` reports for `prefix`, skipping changes to other prefixes.
async fn next_hops_of(rx: &mut RouteChanges, prefix: &str) -> Vec<bgp::rib::NextHop> {
    let prefix = prefix.parse().unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let change = rx.recv().await.unwrap();
            if change.prefix == prefix {
                return change.next_hops;
            }
        }
    })
    .await
    .expect("no change for the prefix")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_added_to_a_running_speaker_establishes() {
    let (a, b) = (ip(40), ip(41));
    let (a_port, b_port) = (port(0), port(1));
    let (a_speaker, mut a_rx) = speaker(a, a_port, vec![]).await;
    let (b_speaker, _b_rx) = speaker(b, b_port, vec![peer(b, a, a_port)]).await;
    b_speaker.set_local_prefixes(vec!["10.244.41.0/24".parse().unwrap()]);
    assert!(a_speaker.status().await.is_empty());

    a_speaker.add_peer(peer(a, b, b_port)).await.unwrap();
    established(&a_speaker, b).await;
    established(&b_speaker, a).await;
    assert_eq!(
        next_hops_of(&mut a_rx, "10.244.41.0/24").await,
        vec![bgp::rib::NextHop::from(IpAddr::V4(b))]
    );
    // The same peer again is refused, and the running session is not disturbed.
    match a_speaker.add_peer(peer(a, b, b_port)).await {
        Err(PeerError::AlreadyConfigured(k)) => assert_eq!(k, PeerKey::from(b)),
        other => panic!("expected AlreadyConfigured, got {other:?}"),
    }
    let st = status_of(&a_speaker, b).await.unwrap();
    assert_eq!(
        (st.state, st.established_transitions),
        (PeerState::Established, 1)
    );
    a_speaker.shutdown().await;
    b_speaker.shutdown().await;
    // A stopped speaker takes no more peers, and has let go of its address.
    assert!(matches!(
        a_speaker.add_peer(peer(a, b, b_port)).await,
        Err(PeerError::Stopped)
    ));
    tokio::net::TcpListener::bind(SocketAddr::new(a.into(), a_port))
        .await
        .expect("the stopped speaker still holds its listening socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_peer_gets_cease_3_and_its_routes_leave_while_the_other_session_stays() {
    let (a, b, c) = (ip(42), ip(43), ip(44));
    let (a_port, b_port, c_port) = (port(2), port(3), port(4));
    let (a_speaker, mut a_rx) =
        speaker(a, a_port, vec![peer(a, b, b_port), peer(a, c, c_port)]).await;
    let (b_speaker, _b_rx) = speaker(b, b_port, vec![peer(b, a, a_port)]).await;
    let (c_speaker, _c_rx) = speaker(c, c_port, vec![peer(c, a, a_port)]).await;
    b_speaker.set_local_prefixes(vec!["10.244.43.0/24".parse().unwrap()]);
    c_speaker.set_local_prefixes(vec!["10.244.44.0/24".parse().unwrap()]);
    established(&a_speaker, b).await;
    established(&a_speaker, c).await;
    let mut loc_rib = a_speaker.loc_rib();
    for _ in 0..100 {
        if loc_rib.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        loc_rib = a_speaker.loc_rib();
    }
    assert_eq!(loc_rib.len(), 2, "{loc_rib:?}");

    a_speaker.remove_peer(&PeerKey::from(b)).await.unwrap();
    // B heard why (RFC 4486 Cease/3, Peer De-configured).
    wait_until(&b_speaker, a, "told Cease/3", |s| {
        s.notifications_received.contains_key("6/3")
    })
    .await;
    // Its route left A's Loc-RIB; C's stayed.
    assert_eq!(a_speaker.loc_rib().len(), 1, "{:?}", a_speaker.loc_rib());
    let left = a_speaker.loc_rib();
    assert_eq!(left[0].0.to_string(), "10.244.44.0/24");
    // The consumer saw the withdrawal.
    assert!(next_hops_of(&mut a_rx, "10.244.43.0/24").await.is_empty());
    // B is gone from A's status; C's session never dropped.
    assert!(status_of(&a_speaker, b).await.is_none());
    let st = status_of(&a_speaker, c).await.unwrap();
    assert_eq!(
        (st.state, st.established_transitions),
        (PeerState::Established, 1)
    );
    // B keeps trying, but A no longer accepts it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_ne!(
        status_of(&b_speaker, a).await.unwrap().state,
        PeerState::Established
    );
    assert!(matches!(
        a_speaker.remove_peer(&PeerKey::from(b)).await,
        Err(PeerError::NotConfigured(_))
    ));
    for s in [a_speaker, b_speaker, c_speaker] {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_peer_resets_only_that_peer() {
    let (a, b, c) = (ip(45), ip(46), ip(47));
    let (a_port, b_port, c_port) = (port(5), port(6), port(7));
    let (a_speaker, _a_rx) = speaker(a, a_port, vec![peer(a, b, b_port), peer(a, c, c_port)]).await;
    let (b_speaker, _b_rx) = speaker(b, b_port, vec![peer(b, a, a_port)]).await;
    let (c_speaker, _c_rx) = speaker(c, c_port, vec![peer(c, a, a_port)]).await;
    established(&a_speaker, b).await;
    established(&a_speaker, c).await;

    // The same configuration again: nothing is reset.
    a_speaker.replace_peer(peer(a, b, b_port)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let st = status_of(&b_speaker, a).await.unwrap();
    assert_eq!(
        (st.state, st.established_transitions),
        (PeerState::Established, 1)
    );

    // A new hold time for B: B's session closes with Cease/6 and comes back with it.
    let changed = PeerConfig {
        hold_time: 6,
        ..peer(a, b, b_port)
    };
    a_speaker.replace_peer(changed).await.unwrap();
    wait_until(&b_speaker, a, "told Cease/6", |s| {
        s.notifications_received.contains_key("6/6")
    })
    .await;
    wait_until(&b_speaker, a, "re-established", |s| {
        s.state == PeerState::Established && s.established_transitions == 2
    })
    .await;
    established(&a_speaker, b).await;
    let st = status_of(&a_speaker, b).await.unwrap();
    assert_eq!(st.config.hold_time, 6);
    assert_eq!(st.session.map(|s| s.hold_time), Some(6));
    // C was never touched.
    for s in [
        status_of(&a_speaker, c).await,
        status_of(&c_speaker, a).await,
    ] {
        let s = s.unwrap();
        assert_eq!(
            (s.state, s.established_transitions),
            (PeerState::Established, 1),
            "{s:?}"
        );
        assert!(
            s.notifications_received.is_empty() && s.notifications_sent.is_empty(),
            "{s:?}"
        );
    }
    assert!(matches!(
        a_speaker.replace_peer(peer(a, ip(48), port(8))).await,
        Err(PeerError::NotConfigured(_))
    ));
    for s in [a_speaker, b_speaker, c_speaker] {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_peers_md5_key_goes_on_the_listener_and_leaves_with_it() {
    let (a, b) = (ip(48), ip(49));
    let (a_port, b_port) = (port(9), port(10));
    let (a_speaker, _a_rx) = speaker(a, a_port, vec![]).await;
    let signed = |p: PeerConfig| PeerConfig {
        password: Some("s3cret".into()),
        ..p
    };
    // A bad key is refused before anything changes.
    let too_long = PeerConfig {
        password: Some(bgp::driver::Password::new("x".repeat(81))),
        ..peer(a, b, b_port)
    };
    assert!(matches!(
        a_speaker.add_peer(too_long).await,
        Err(PeerError::Password { .. })
    ));
    assert!(a_speaker.status().await.is_empty());

    a_speaker
        .add_peer(signed(peer(a, b, b_port)))
        .await
        .unwrap();
    // An unsigned connection from B's address: the kernel drops its SYNs now.
    assert!(
        !unsigned_connects(b, a, a_port).await,
        "an unsigned connection was accepted"
    );
    let (b_speaker, _b_rx) = speaker(b, b_port, vec![signed(peer(b, a, a_port))]).await;
    established(&a_speaker, b).await;

    // Removed, the key goes too: the kernel completes an unsigned handshake again (and the
    // speaker drops the connection, B being no peer of it any more).
    a_speaker.remove_peer(&PeerKey::from(b)).await.unwrap();
    b_speaker.shutdown().await;
    assert!(
        unsigned_connects(b, a, a_port).await,
        "the key stayed on the listener"
    );
    a_speaker.shutdown().await;
}

/// Whether an unsigned TCP connection from `from` to `to:port` completes within 2 s.
async fn unsigned_connects(from: Ipv4Addr, to: Ipv4Addr, port: u16) -> bool {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(from.into(), 0)).unwrap();
    let attempt = sock.connect(SocketAddr::new(to.into(), port));
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Ok(_))
    )
}
