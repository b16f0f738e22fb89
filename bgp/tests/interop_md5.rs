//! Root-only interop: TCP MD5 signatures (RFC 2385) between our speaker and real FRR, each in
//! its own namespace of a [`Pair`]. With the same password the session comes up and routes flow
//! both ways (over IPv4 and over IPv6); with different ones it never comes up, and each kernel
//! counts MD5 failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::rib::RouteChange;
use common::{Pair, OUR_ADDR, OUR_ADDR6, PEER_ADDR, PEER_ADDR6};
use ipnet::IpNet;
use testkit::daemons::Frr;
use testkit::eventually;

const OUR_AS: u32 = 65102;
const PEER_AS: u32 = 65002;
const OURS4: &str = "10.244.19.0/24";
const THEIRS4: &str = "10.244.210.0/24";
const OURS6: &str = "fd00:244:19::/64";
const THEIRS6: &str = "fd00:244:210::/64";
const FRR_PASSWORD: &str = "secret";

/// FRR with `neighbor <neighbor> password secret`, announcing THEIRS4 or THEIRS6 over that
/// neighbour's own family.
fn start_frr(pair: &Pair, neighbor: &str) -> Frr {
    let (family, theirs) = if neighbor.contains(':') {
        ("ipv6", THEIRS6)
    } else {
        ("ipv4", THEIRS4)
    };
    pair.frr(
        &format!(
            "router bgp {PEER_AS}\n bgp router-id {PEER_ADDR}\n no bgp ebgp-requires-policy\n \
             no bgp network import-check\n no bgp default ipv4-unicast\n \
             neighbor {neighbor} remote-as {OUR_AS}\n neighbor {neighbor} password {FRR_PASSWORD}\n \
             neighbor {neighbor} timers 3 9\n neighbor {neighbor} timers connect 1\n \
             address-family {family} unicast\n  network {theirs}\n  neighbor {neighbor} activate\n \
             exit-address-family\n"
        ),
    )
}

/// Our speaker on `listen`, peering with `peer` and signing with `password`.
async fn start_ours(
    listen: &str,
    peer: &str,
    password: &str,
) -> (SpeakerHandle, bgp::driver::RouteChanges) {
    let (handle, rx) = Speaker::start(SpeakerConfig {
        listen: Some(listen.parse::<SocketAddr>().unwrap()),
        peers: vec![PeerConfig {
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            password: Some(password.into()),
            ..PeerConfig::new(peer.parse().unwrap(), PEER_AS)
        }],
        graceful_restart: None,
        ..SpeakerConfig::new(OUR_AS, OUR_ADDR.parse().unwrap())
    })
    .await
    .unwrap();
    handle.set_local_prefixes(vec![OURS4.parse().unwrap(), OURS6.parse().unwrap()]);
    (handle, rx)
}

/// Wait (up to 40 s) for `prefix` to arrive with next hops.
async fn expect_route(rx: &mut bgp::driver::RouteChanges, prefix: &str) -> RouteChange {
    let prefix: IpNet = prefix.parse().unwrap();
    let wait = async {
        loop {
            let c = rx.recv().await.expect("speaker stopped");
            if c.prefix == prefix && !c.next_hops.is_empty() {
                return c;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(40), wait)
        .await
        .unwrap_or_else(|_| panic!("{prefix} never arrived"))
}

/// The kernel's count of TCP segments dropped for a wrong MD5 signature (a key was configured
/// for the source, the signature did not match), in namespace `ns`.
fn md5_failures(ns: &str) -> u64 {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "cat", "/proc/net/netstat"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Pairs of lines: "TcpExt: Name1 Name2 ..." then "TcpExt: value1 value2 ...".
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        if let [names, values] = pair {
            if !names.starts_with("TcpExt:") {
                continue;
            }
            for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                if n == "TCPMD5Failure" {
                    return v.parse().unwrap_or(0);
                }
            }
        }
    }
    0
}

/// Same password on both sides over a `peer` session: Established, routes both ways.
fn session_up(tag: &str, listen: String, peer: &'static str, ours: &'static str) {
    let pair = Pair::new(tag);
    let frr = Arc::new(start_frr(&pair, ours));
    let (theirs, family, mine) = if ours.contains(':') {
        (THEIRS6, "ipv6", OURS6)
    } else {
        (THEIRS4, "ipv4", OURS4)
    };
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours(&listen, peer, FRR_PASSWORD).await;
        let got = expect_route(&mut rx, theirs).await;
        assert_eq!(
            got.next_hops,
            vec![peer.parse::<bgp::rib::NextHop>().unwrap()]
        );
        let s = handle.status().await;
        assert_eq!(s[0].state, PeerState::Established, "{s:?}");
        assert!(
            eventually(Duration::from_secs(30), || frr
                .vtysh(&[&format!("show bgp {family} unicast json")])
                .contains(mine)),
            "FRR never installed {mine}"
        );
        handle.shutdown().await;
    });
}

#[test]
fn frr_md5_session_up() {
    if !testkit::require(true, &["/usr/lib/frr/bgpd", "/usr/bin/vtysh"]) {
        return;
    }
    // An IPv4 listener: the key is installed for an AF_INET address.
    session_up("m", format!("{OUR_ADDR}:179"), PEER_ADDR, OUR_ADDR);
}

#[test]
fn frr_md5_session_up_ipv6() {
    if !testkit::require(true, &["/usr/lib/frr/bgpd", "/usr/bin/vtysh"]) {
        return;
    }
    session_up("6", "[::]:179".into(), PEER_ADDR6, OUR_ADDR6);
}

#[test]
fn frr_md5_wrong_password_never_up() {
    if !testkit::require(true, &["/usr/lib/frr/bgpd", "/usr/bin/vtysh"]) {
        return;
    }
    let pair = Pair::new("w");
    let frr = Arc::new(start_frr(&pair, OUR_ADDR));
    let (peer_ns, our_ns) = (pair.peer.clone(), pair.ours.clone());
    pair.in_ours(move || async move {
        // A dual-stack listener: the IPv4 peer is keyed by its v4-mapped address.
        let (handle, _rx) = start_ours("[::]:179", PEER_ADDR, "not-the-secret").await;
        // Both sides keep trying (connect retry 1 s) for 20 s; no state is ever Established.
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            let s = handle.status().await;
            assert_ne!(s[0].state, PeerState::Established, "{s:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let seen: String = frr
            .vtysh(&[&format!("show bgp neighbors {OUR_ADDR} json")])
            .split_whitespace()
            .collect();
        assert!(seen.contains("\"bgpState\""), "FRR not answering: {seen}");
        assert!(!seen.contains("\"bgpState\":\"Established\""), "{seen}");
        // Segments were dropped for their signatures, by both kernels: FRR's saw our SYNs, and
        // ours (keyed for FRR's address, on the listener) saw FRR's.
        assert!(md5_failures(&peer_ns) > 0, "FRR's kernel saw no bad MD5");
        assert!(md5_failures(&our_ns) > 0, "our kernel saw no bad MD5");
        handle.shutdown().await;

        // The same FRR accepts a speaker with the right password: only the key was wrong.
        let (handle, mut rx) = start_ours("[::]:179", PEER_ADDR, FRR_PASSWORD).await;
        expect_route(&mut rx, THEIRS4).await;
        handle.shutdown().await;
    });
}
