//! Root-only interop: our speaker against real FRR, BIRD 2, GoBGP and ExaBGP (Debian packages),
//! each in its own pair of namespaces. Every test: the session comes up, the peer's route
//! arrives with the peer's next hop, ours reaches the peer's RIB, and (where the daemon can be
//! told to) a withdrawal removes the route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::rib::RouteChange;
use common::{Pair, OUR_ADDR, PEER_ADDR};
use ipnet::IpNet;
use testkit::daemons::Frr;
use testkit::eventually;

const OUR_AS: u32 = 65101;
const PEER_AS: u32 = 65001;
const OURS: &str = "10.244.9.0/24";
const THEIRS: &str = "10.244.200.0/24";

async fn start_ours() -> (SpeakerHandle, bgp::driver::RouteChanges) {
    let (handle, rx) = Speaker::start(SpeakerConfig {
        multipath: Default::default(),
        graceful_restart: Some(bgp::fsm::GrOptions::default()),
        hostname: None,
        route_reflector: None,
        local_as: OUR_AS,
        router_id: OUR_ADDR.parse().unwrap(),
        listen: Some(format!("{OUR_ADDR}:179").parse().unwrap()),
        peers: vec![PeerConfig {
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            ..PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS)
        }],
    })
    .await
    .unwrap();
    handle.set_local_prefixes(vec![OURS.parse().unwrap()]);
    (handle, rx)
}

/// Wait for the next change of `prefix`; `present` says whether it should now have next hops.
async fn expect(rx: &mut bgp::driver::RouteChanges, prefix: &str, present: bool) -> RouteChange {
    let prefix: IpNet = prefix.parse().unwrap();
    let wait = async {
        loop {
            let c = rx.recv().await.expect("speaker stopped");
            if c.prefix == prefix && c.next_hops.is_empty() != present {
                return c;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(40), wait)
        .await
        .unwrap_or_else(|_| panic!("no change for {prefix} (present: {present})"))
}

async fn assert_established(handle: &SpeakerHandle) {
    let s = handle.status().await;
    assert_eq!(s[0].state, PeerState::Established, "{s:?}");
    assert_eq!(s[0].prefixes_advertised, 1, "{s:?}");
}

/// The common scenario; `peer_has_ours` polls the peer's RIB, `withdraw` makes the peer withdraw.
fn scenario(
    pair: &Pair,
    peer_has_ours: impl Fn() -> bool + Send + 'static,
    withdraw: Option<Box<dyn FnOnce() + Send>>,
) {
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours().await;
        let got = expect(&mut rx, THEIRS, true).await;
        assert_eq!(
            got.next_hops,
            vec![PEER_ADDR.parse::<bgp::rib::NextHop>().unwrap()]
        );
        assert_established(&handle).await;
        assert!(
            eventually(Duration::from_secs(30), &peer_has_ours),
            "the peer never installed {OURS}"
        );
        if let Some(withdraw) = withdraw {
            withdraw();
            expect(&mut rx, THEIRS, false).await;
        }
        handle.shutdown().await;
    });
}

// ---------------------------------------------------------------- FRR

fn start_frr(pair: &Pair) -> Arc<Frr> {
    start_frr_with(pair, "")
}

/// FRR as the peer; `extra` holds additional `neighbor` lines for the router bgp block.
fn start_frr_with(pair: &Pair, extra: &str) -> Arc<Frr> {
    let conf = format!(
        "router bgp {PEER_AS}\n bgp router-id {PEER_ADDR}\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n no bgp default ipv4-unicast\n neighbor {OUR_ADDR} remote-as {OUR_AS}\n \
         neighbor {OUR_ADDR} timers 3 9\n neighbor {OUR_ADDR} timers connect 1\n{extra} address-family ipv4 unicast\n  \
         network {THEIRS}\n  neighbor {OUR_ADDR} activate\n exit-address-family\n"
    );
    Arc::new(pair.frr(&conf))
}

#[test]
fn frr_session_routes_both_ways_and_withdraw() {
    if !testkit::require(true, &["/usr/lib/frr/bgpd", "/usr/bin/vtysh"]) {
        return;
    }
    let pair = Pair::new("f");
    let frr = start_frr(&pair);
    let frr2 = frr.clone();
    scenario(
        &pair,
        move || frr.vtysh(&["show bgp ipv4 unicast json"]).contains(OURS),
        Some(Box::new(move || {
            frr2.vtysh(&[
                "configure terminal",
                &format!("router bgp {PEER_AS}"),
                "address-family ipv4 unicast",
                &format!("no network {THEIRS}"),
            ]);
        })),
    );
}

#[test]
fn frr_two_octet_only_peer_exchanges_routes() {
    if !testkit::require(true, &["/usr/lib/frr/bgpd", "/usr/bin/vtysh"]) {
        return;
    }
    let pair = Pair::new("t");
    // No capabilities at all: FRR speaks 2-octet AS_PATHs and we must too.
    let frr = start_frr_with(
        &pair,
        &format!(" neighbor {OUR_ADDR} dont-capability-negotiate\n"),
    );
    scenario(
        &pair,
        move || {
            let out = frr.vtysh(&[&format!("show bgp ipv4 unicast {OURS} json")]);
            // The path must read "65101", proving our 2-octet AS_PATH was decoded right.
            out.contains("\"65101\"") || out.contains("\"string\":\"65101\"")
        },
        None,
    );
}

#[test]
fn frr_gone_silent_hold_timer_expires_and_routes_are_removed() {
    if !testkit::require(true, &["/usr/lib/frr/bgpd", "/usr/sbin/nft"]) {
        return;
    }
    let pair = Pair::new("h");
    let _frr = start_frr(&pair);
    let ns = pair.peer.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours().await;
        expect(&mut rx, THEIRS, true).await;
        // The peer goes silent: drop every BGP packet in its namespace, both directions.
        let nft = |args: &str| {
            let ok = Command::new("ip")
                .args(["netns", "exec", &ns, "nft"])
                .args(args.split(' '))
                .status()
                .unwrap()
                .success();
            assert!(ok, "nft {args}");
        };
        nft("add table inet silence");
        nft("add chain inet silence out { type filter hook output priority 0 ; }");
        nft("add chain inet silence in { type filter hook input priority 0 ; }");
        nft("add rule inet silence out tcp dport 179 drop");
        nft("add rule inet silence out tcp sport 179 drop");
        nft("add rule inet silence in tcp dport 179 drop");
        nft("add rule inet silence in tcp sport 179 drop");
        // Hold time 9 s: the route goes when the timer expires, not before.
        let gone = expect(&mut rx, THEIRS, false).await;
        assert!(gone.next_hops.is_empty());
        let s = handle.status().await;
        assert_ne!(s[0].state, PeerState::Established);
        assert!(
            s[0].last_error
                .as_deref()
                .unwrap_or("")
                .contains("hold timer expired"),
            "{s:?}"
        );
        handle.shutdown().await;
    });
}

// ---------------------------------------------------------------- BIRD 2

#[test]
fn bird_session_routes_both_ways_and_withdraw() {
    if !testkit::require(true, &["/usr/sbin/bird", "/usr/sbin/birdc"]) {
        return;
    }
    let pair = Pair::new("b");
    let bird = Arc::new(pair.bird(
        &format!(
            "router id {PEER_ADDR};\nprotocol device {{ }}\n\
             protocol static s4 {{ ipv4; route {THEIRS} blackhole; }}\n\
             protocol bgp lat {{\n local {PEER_ADDR} as {PEER_AS};\n neighbor {OUR_ADDR} as {OUR_AS};\n \
             hold time 9;\n connect retry time 1;\n error wait time 1,5;\n \
             ipv4 {{ import all; export where proto = \"s4\"; }};\n}}\n"
        ),
        &[],
        "bird.log",
    ));
    let b = bird.clone();
    scenario(
        &pair,
        move || {
            b.birdc(&["show", "route", "protocol", "lat"])
                .contains(OURS)
        },
        Some(Box::new(move || {
            bird.birdc(&["disable", "s4"]);
        })),
    );
}

// ---------------------------------------------------------------- GoBGP

#[test]
fn gobgp_session_routes_both_ways_and_withdraw() {
    if !testkit::require(true, &["/usr/bin/gobgpd", "/usr/bin/gobgp"]) {
        return;
    }
    let pair = Pair::new("g");
    let gobgp = Arc::new(pair.gobgp(
        &format!(
            "[global.config]\n  as = {PEER_AS}\n  router-id = \"{PEER_ADDR}\"\n  port = 179\n\n\
             [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{OUR_ADDR}\"\n    peer-as = {OUR_AS}\n\
             \x20 [neighbors.timers.config]\n    hold-time = 9\n    connect-retry = 1\n"
        ),
        &[],
        "gobgpd.log",
    ));
    let add = [
        "global", "rib", "-a", "ipv4", "add", THEIRS, "nexthop", PEER_ADDR,
    ];
    assert!(eventually(Duration::from_secs(20), || {
        gobgp.cli(&add);
        gobgp.cli(&["global", "rib", "-a", "ipv4"]).contains(THEIRS)
    }));
    let g = gobgp.clone();
    scenario(
        &pair,
        move || g.cli(&["global", "rib", "-a", "ipv4"]).contains(OURS),
        Some(Box::new(move || {
            gobgp.cli(&["global", "rib", "-a", "ipv4", "del", THEIRS]);
        })),
    );
}

// ---------------------------------------------------------------- ExaBGP

#[test]
fn exabgp_session_routes_both_ways() {
    if !testkit::require(true, &["/usr/sbin/exabgp"]) {
        return;
    }
    let pair = Pair::new("e");
    let d = pair.dir.path().to_path_buf();
    let received = d.join("received.json");
    let recorder = d.join("record.sh");
    testkit::daemons::exabgp_recorder(&recorder, &received);
    let recorder = recorder.display().to_string();
    std::fs::write(
        d.join("exabgp.conf"),
        format!(
            "process record {{\n  run {};\n  encoder json;\n}}\n\
             neighbor {OUR_ADDR} {{\n  router-id {PEER_ADDR};\n  local-address {PEER_ADDR};\n  \
             local-as {PEER_AS};\n  peer-as {OUR_AS};\n  hold-time 9;\n  \
             api {{ processes [ record ]; receive {{ parsed; update; }} }}\n  \
             static {{ route {THEIRS} next-hop {PEER_ADDR}; }}\n}}\n",
            recorder
        ),
    )
    .unwrap();
    let _exabgp = pair.exabgp(&d.join("exabgp.conf"), "exabgp.log");
    scenario(
        &pair,
        move || {
            std::fs::read_to_string(&received)
                .unwrap_or_default()
                .contains(OURS)
        },
        None,
    );
}
