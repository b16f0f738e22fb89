//! Two of our speakers peering over loopback (127.0.0.1 and 127.0.0.2), and a raw TCP peer that
//! sends garbage after OPEN: it gets the right NOTIFICATION and the good session stays up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::fsm::build_open;
use bgp::rib::RouteChange;
use bgp::wire::{check_frame, decode, encode, CodecContext, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Ports unique to this process so parallel test runs do not collide.
fn port(offset: u16) -> u16 {
    20000 + (std::process::id() % 20000) as u16 + offset
}

fn peer(address: Ipv4Addr, port: u16, asn: u32, local: Ipv4Addr) -> PeerConfig {
    PeerConfig {
        port,
        hold_time: 9,
        connect_retry: Duration::from_millis(500),
        local_address: Some(local.into()),
        ..PeerConfig::new(address.into(), asn)
    }
}

async fn wait_for(handle: &SpeakerHandle, address: Ipv4Addr, state: PeerState) {
    for _ in 0..200 {
        let s = handle.status().await;
        if s.iter()
            .any(|p| p.peer == std::net::IpAddr::V4(address) && p.state == state)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{address} never reached {state:?}: {:?}",
        handle.status().await
    );
}

async fn next_change(rx: &mut bgp::driver::RouteChanges) -> RouteChange {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no route change")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_speakers_exchange_prefixes_and_survive_a_garbage_peer() {
    let a_addr = Ipv4Addr::new(127, 0, 0, 1);
    let b_addr = Ipv4Addr::new(127, 0, 0, 2);
    let junk_addr = Ipv4Addr::new(127, 0, 0, 3);
    let (a_port, b_port) = (port(0), port(1));

    let (a, mut a_rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65101,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        listen: Some(SocketAddr::new(a_addr.into(), a_port)),
        peers: vec![
            peer(b_addr, b_port, 65102, a_addr),
            PeerConfig {
                passive: true,
                ..peer(junk_addr, 1, 65666, a_addr)
            },
        ],
    })
    .await
    .unwrap();
    let (b, mut b_rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65102,
        router_id: Ipv4Addr::new(10, 0, 0, 2),
        listen: Some(SocketAddr::new(b_addr.into(), b_port)),
        peers: vec![peer(a_addr, a_port, 65101, b_addr)],
    })
    .await
    .unwrap();
    a.set_local_prefixes(vec!["10.244.1.0/24".parse().unwrap()]);
    b.set_local_prefixes(vec!["10.244.2.0/24".parse().unwrap()]);

    wait_for(&a, b_addr, PeerState::Established).await;
    wait_for(&b, a_addr, PeerState::Established).await;
    let got_a = next_change(&mut a_rx).await;
    assert_eq!(got_a.prefix.to_string(), "10.244.2.0/24");
    assert_eq!(
        got_a.next_hops,
        vec![bgp::rib::NextHop::from(std::net::IpAddr::from(b_addr))],
        "next-hop self is B's session address"
    );
    let got_b = next_change(&mut b_rx).await;
    assert_eq!(got_b.prefix.to_string(), "10.244.1.0/24");

    // A new local prefix is advertised; a removed one is withdrawn.
    b.set_local_prefixes(vec!["10.244.3.0/24".parse().unwrap()]);
    let mut seen = [next_change(&mut a_rx).await, next_change(&mut a_rx).await];
    seen.sort_by_key(|c| c.prefix);
    assert_eq!(seen[0].prefix.to_string(), "10.244.2.0/24");
    assert!(seen[0].next_hops.is_empty());
    assert_eq!(seen[1].prefix.to_string(), "10.244.3.0/24");

    // A configured peer that completes OPEN and then sends an UPDATE with a prefix length of 33
    // (RFC 7606 §5.3: an NLRI error resets the session, unlike most attribute errors).
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(junk_addr.into(), 0)).unwrap();
    let mut junk: TcpStream = sock
        .connect(SocketAddr::new(a_addr.into(), a_port))
        .await
        .unwrap();
    let open = build_open(65666, Ipv4Addr::new(10, 6, 6, 6), 9);
    junk.write_all(&encode(&Message::Open(open), CodecContext::default()))
        .await
        .unwrap();
    junk.write_all(&encode(&Message::Keepalive, CodecContext::default()))
        .await
        .unwrap();
    // UPDATE: no withdrawn, no attributes, NLRI 33 bits long.
    let update = testkit::bgp::update(&[], &[], &[33, 10, 0, 0, 0, 0]);
    junk.write_all(&update).await.unwrap();

    let mut buf = Vec::new();
    let notification = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let mut chunk = [0u8; 4096];
            let n = junk.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed without a NOTIFICATION");
            buf.extend_from_slice(&chunk[..n]);
            while let Ok(Some(len)) = check_frame(&buf, 4096) {
                let frame: Vec<u8> = buf.drain(..len).collect();
                if let Ok(Message::Notification(n)) = decode(&frame, CodecContext::default()) {
                    return n;
                }
            }
        }
    })
    .await
    .expect("no NOTIFICATION");
    assert_eq!(
        (notification.code, notification.subcode),
        (3, 10),
        "Invalid Network Field"
    );

    // The good session never dropped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_for(&a, b_addr, PeerState::Established).await;
    let status = a.status().await;
    let junk_status = status
        .iter()
        .find(|p| p.peer == std::net::IpAddr::V4(junk_addr))
        .unwrap();
    assert_ne!(junk_status.state, PeerState::Established);
    assert!(
        junk_status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("3/10"),
        "{junk_status:?}"
    );

    // Shutdown sends Cease; B sees the session go down and withdraws A's routes.
    a.shutdown().await;
    let gone = next_change(&mut b_rx).await;
    assert_eq!(gone.prefix.to_string(), "10.244.1.0/24");
    assert!(gone.next_hops.is_empty());
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_the_wrong_as_never_establishes() {
    let a_addr = Ipv4Addr::new(127, 0, 0, 4);
    let b_addr = Ipv4Addr::new(127, 0, 0, 5);
    let (a_port, b_port) = (port(2), port(3));
    let (a, _a_rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65101,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        listen: Some(SocketAddr::new(a_addr.into(), a_port)),
        peers: vec![peer(b_addr, b_port, 65999, a_addr)],
    })
    .await
    .unwrap();
    let (b, _b_rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65102,
        router_id: Ipv4Addr::new(10, 0, 0, 2),
        listen: Some(SocketAddr::new(b_addr.into(), b_port)),
        peers: vec![peer(a_addr, a_port, 65101, b_addr)],
    })
    .await
    .unwrap();
    // B hears "Bad Peer AS" from A at some point, and neither side ever gets Established.
    let mut refused = false;
    for _ in 0..60 {
        let (sa, sb) = (a.status().await, b.status().await);
        assert_ne!(sa[0].state, PeerState::Established, "{sa:?}");
        assert_ne!(sb[0].state, PeerState::Established, "{sb:?}");
        refused |= sb[0].last_error.as_deref().unwrap_or("").contains("2/2");
        if refused {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "B never received NOTIFICATION 2/2");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_policy_filters_and_max_prefixes_closes_with_cease_1() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("bgp=debug")
        .with_test_writer()
        .try_init();
    use bgp::policy::{ImportPolicy, PrefixRule};
    let a_addr = Ipv4Addr::new(127, 0, 0, 6);
    let b_addr = Ipv4Addr::new(127, 0, 0, 7);
    let (a_port, b_port) = (port(4), port(5));
    // A accepts only 10.244.0.0/16 up to /24, and at most 2 prefixes from B.
    let a_peer = PeerConfig {
        import: ImportPolicy {
            rules: vec![PrefixRule {
                prefix: "10.244.0.0/16".parse().unwrap(),
                ge: None,
                le: Some(24),
            }],
        },
        max_prefixes: Some(2),
        ..peer(b_addr, b_port, 65102, a_addr)
    };
    let (a, mut a_rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65101,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        listen: Some(SocketAddr::new(a_addr.into(), a_port)),
        peers: vec![a_peer],
    })
    .await
    .unwrap();
    let (b, _b_rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65102,
        router_id: Ipv4Addr::new(10, 0, 0, 2),
        listen: Some(SocketAddr::new(b_addr.into(), b_port)),
        peers: vec![peer(a_addr, a_port, 65101, b_addr)],
    })
    .await
    .unwrap();
    // One accepted, two refused (outside the cluster, too specific).
    b.set_local_prefixes(vec![
        "10.244.2.0/24".parse().unwrap(),
        "192.168.0.0/24".parse().unwrap(),
        "10.244.3.128/25".parse().unwrap(),
    ]);
    wait_for(&a, b_addr, PeerState::Established).await;
    let got = next_change(&mut a_rx).await;
    assert_eq!(got.prefix.to_string(), "10.244.2.0/24");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(a_rx.try_recv().is_err(), "a refused prefix reached the RIB");
    // Received counts what B announced, accepted what the policy let into the RIB.
    let st = &a.status().await[0];
    assert_eq!(
        (st.prefixes_received, st.prefixes_accepted),
        (3, 1),
        "{st:?}"
    );
    assert_eq!(st.prefixes_received_by_family.get("ipv4"), Some(&3));
    assert_eq!(st.prefixes_accepted_by_family.get("ipv4"), Some(&1));
    // B withdraws the refused ones: they leave the received count too.
    b.set_local_prefixes(vec!["10.244.2.0/24".parse().unwrap()]);
    let mut received = 0;
    for _ in 0..200 {
        received = a.status().await[0].prefixes_received;
        if received == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(received, 1, "withdrawn refused prefixes still counted");
    assert_eq!(a.status().await[0].prefixes_accepted, 1);

    // Two more accepted prefixes: 3 > max_prefixes 2, so A closes with Cease/1 and B's routes go.
    b.set_local_prefixes(vec![
        "10.244.2.0/24".parse().unwrap(),
        "10.244.4.0/24".parse().unwrap(),
        "10.244.5.0/24".parse().unwrap(),
    ]);
    let mut gone = false;
    for _ in 0..6 {
        let c = next_change(&mut a_rx).await;
        if c.prefix.to_string() == "10.244.2.0/24" && c.next_hops.is_empty() {
            gone = true;
            break;
        }
    }
    assert!(
        gone,
        "B's routes were not withdrawn when the session closed"
    );
    // A holds the session down (30 s back-off) even though B keeps reconnecting.
    for _ in 0..20 {
        let s = a.status().await;
        assert_ne!(
            s[0].state,
            PeerState::Established,
            "back-off not honoured: {s:?}"
        );
        assert!(
            s[0].last_error.as_deref().unwrap_or("").contains("6/1"),
            "{s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md5_signed_session_comes_up_and_unsigned_syns_are_dropped() {
    let a_addr = Ipv4Addr::new(127, 0, 0, 8);
    let b_addr = Ipv4Addr::new(127, 0, 0, 9);
    let (a_port, b_port) = (port(6), port(7));
    let signed = |p: PeerConfig| PeerConfig {
        password: Some("s3cret".into()),
        ..p
    };
    let (a, mut a_rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65101,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        listen: Some(SocketAddr::new(a_addr.into(), a_port)),
        peers: vec![signed(peer(b_addr, b_port, 65102, a_addr))],
    })
    .await
    .unwrap();
    // An unsigned connection from B's address: the kernel drops its SYNs, so it never connects.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(b_addr.into(), 0)).unwrap();
    let unsigned = tokio::time::timeout(
        Duration::from_secs(3),
        sock.connect(SocketAddr::new(a_addr.into(), a_port)),
    )
    .await;
    assert!(
        !matches!(unsigned, Ok(Ok(_))),
        "an unsigned connection was accepted"
    );
    let (b, _b_rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65102,
        router_id: Ipv4Addr::new(10, 0, 0, 2),
        listen: Some(SocketAddr::new(b_addr.into(), b_port)),
        peers: vec![signed(peer(a_addr, a_port, 65101, b_addr))],
    })
    .await
    .unwrap();
    b.set_local_prefixes(vec!["10.244.2.0/24".parse().unwrap()]);
    wait_for(&a, b_addr, PeerState::Established).await;
    wait_for(&b, a_addr, PeerState::Established).await;
    let got = next_change(&mut a_rx).await;
    assert_eq!(got.prefix.to_string(), "10.244.2.0/24");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_password_over_80_bytes_is_refused_at_start() {
    let a_addr = Ipv4Addr::new(127, 0, 0, 10);
    let e = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: None,
        hostname: None,
        route_reflector: None,
        local_as: 65101,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        listen: Some(SocketAddr::new(a_addr.into(), port(8))),
        peers: vec![PeerConfig {
            password: Some(bgp::driver::Password::new("x".repeat(81))),
            ..peer(Ipv4Addr::new(127, 0, 0, 11), port(9), 65102, a_addr)
        }],
    })
    .await
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("81 bytes"), "{e}");
}

/// A peer that reconnects the moment its session closes finds our port already closed: the
/// speaker stops listening before it closes a session, with graceful restart (a FIN) as
/// without (Cease/2). A handshake accepted by a listener about to close would be reset right
/// after; OpenBGPD 7.7 then sends its OPEN twice on its next connection, which ends the
/// graceful restart with an FSM error (seen in `interop_openbgpd`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_refuses_reconnections_before_the_sessions_close() {
    for (i, graceful) in [false, true].into_iter().enumerate() {
        let ours = Ipv4Addr::new(127, 0, 0, 12);
        let theirs = Ipv4Addr::new(127, 0, 0, 13);
        let listen = SocketAddr::new(ours.into(), port(10 + i as u16));
        let (a, _rx) = Speaker::start(SpeakerConfig {
            graceful_restart: graceful.then(bgp::fsm::GrOptions::default),
            listen: Some(listen),
            peers: vec![PeerConfig {
                passive: true,
                ..peer(theirs, 179, 65102, ours)
            }],
            ..SpeakerConfig::new(65101, Ipv4Addr::new(10, 0, 0, 1))
        })
        .await
        .unwrap();
        let connect = || async {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::new(theirs.into(), 0)).unwrap();
            socket.connect(listen).await
        };
        let mut session = connect().await.unwrap();
        let open = build_open(65102, Ipv4Addr::new(10, 0, 0, 2), 9);
        session
            .write_all(&encode(&Message::Open(open), CodecContext::default()))
            .await
            .unwrap();
        session
            .write_all(&encode(&Message::Keepalive, CodecContext::default()))
            .await
            .unwrap();
        wait_for(&a, theirs, PeerState::Established).await;

        let stopping = tokio::spawn(async move {
            a.shutdown().await;
            a
        });
        // Read to the end of the session (a Cease first, without graceful restart).
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            let mut chunk = [0u8; 4096];
            while session.read(&mut chunk).await.is_ok_and(|n| n > 0) {}
        })
        .await;
        assert!(closed.is_ok(), "the session never closed");
        // Reconnect at once, as OpenBGPD does: refused, while the speaker is still alive.
        let again = connect().await;
        assert_eq!(
            again.as_ref().map_err(std::io::Error::kind).err(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "graceful restart {graceful}: a reconnection right after the session closed was \
             accepted: {again:?}"
        );
        drop(stopping.await.unwrap());
    }
}
