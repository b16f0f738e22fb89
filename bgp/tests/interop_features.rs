//! Interop beyond the basic session, against FRR: IPv6 over an IPv6 session, route refresh both
//! ways, and graceful restart in both roles. Root only; each test names its scenario.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::fsm::GrOptions;
use bgp::rib::RouteChange;
use common::{Pair, OUR_ADDR, OUR_ADDR6, PEER_ADDR, PEER_ADDR6};
use ipnet::IpNet;
use testkit::daemons::Frr;
use testkit::eventually;

const OUR_AS: u32 = 65101;
const PEER_AS: u32 = 65001;
const OURS4: &str = "10.244.9.0/24";
const OURS6: &str = "fd00:244:9::/64";
const THEIRS4: &str = "10.244.200.0/24";
const THEIRS4_B: &str = "10.244.201.0/24";
const THEIRS6: &str = "fd00:244:200::/64";

/// True when FRR can run here (see [`testkit::require`]).
fn frr_can_run() -> bool {
    testkit::require(true, testkit::daemons::FRR_BINARIES)
}

/// bgpd.conf with one neighbour; `global` lines go under `router bgp` after the neighbour is
/// defined, then the two families.
fn frr_conf(neighbor: &str, global: &str, v4: &str, v6: &str) -> String {
    format!(
        "router bgp {PEER_AS}\n bgp router-id {PEER_ADDR}\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n no bgp default ipv4-unicast\n \
         neighbor {neighbor} remote-as {OUR_AS}\n neighbor {neighbor} timers 3 9\n \
         neighbor {neighbor} timers connect 1\n{global} address-family ipv4 unicast\n{v4} \
         exit-address-family\n address-family ipv6 unicast\n{v6} exit-address-family\n"
    )
}

async fn start_ours(
    peer: PeerConfig,
    gr: Option<GrOptions>,
    prefixes: &[&str],
) -> (SpeakerHandle, bgp::driver::RouteChanges) {
    let (handle, rx) = Speaker::start(SpeakerConfig {
        listen: Some("[::]:179".parse().unwrap()),
        peers: vec![PeerConfig {
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            ..peer
        }],
        graceful_restart: gr,
        hostname: Some("lattice-test".into()),
        ..SpeakerConfig::new(OUR_AS, OUR_ADDR.parse().unwrap())
    })
    .await
    .unwrap();
    handle.set_local_prefixes(prefixes.iter().map(|p| p.parse().unwrap()).collect());
    (handle, rx)
}

/// The next change of `prefix` with (or without) next hops; every change seen on the way is
/// returned too.
async fn expect(
    rx: &mut bgp::driver::RouteChanges,
    prefix: &str,
    present: bool,
) -> (RouteChange, Vec<RouteChange>) {
    let prefix: IpNet = prefix.parse().unwrap();
    let mut seen = Vec::new();
    let wait = async {
        loop {
            let c = rx.recv().await.expect("speaker stopped");
            if c.prefix == prefix && c.next_hops.is_empty() != present {
                return c;
            }
            seen.push(c);
        }
    };
    let c = tokio::time::timeout(Duration::from_secs(40), wait)
        .await
        .unwrap_or_else(|_| panic!("no change for {prefix} (present: {present})"));
    (c, seen)
}

async fn wait_state(handle: &SpeakerHandle, established: bool) {
    for _ in 0..200 {
        let s = handle.status().await;
        if (s[0].state == PeerState::Established) == established {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("peer never became established={established}");
}

/// A number from FRR's `show bgp neighbors X json`, e.g. `messageStats.routeRefreshRecv`.
fn neighbor_stat(frr: &Frr, neighbor: &str, group: &str, key: &str) -> u64 {
    let out = frr.vtysh(&[&format!("show bgp neighbors {neighbor} json")]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    v[neighbor][group][key].as_u64().unwrap_or(0)
}

/// FRR on the IPv4 session, announcing THEIRS4.
fn frr_announcing_theirs4(pair: &Pair) -> std::sync::Arc<Frr> {
    let conf = frr_conf(
        OUR_ADDR,
        "",
        &format!("  network {THEIRS4}\n  neighbor {OUR_ADDR} activate\n"),
        "",
    );
    std::sync::Arc::new(pair.frr(&conf))
}

fn frr_has(frr: &Frr, family: &str, prefix: &str) -> bool {
    frr.vtysh(&[&format!("show bgp {family} unicast json")])
        .contains(prefix)
}

#[test]
fn frr_ipv6_session_routes_both_ways_and_withdraw() {
    if !frr_can_run() {
        return;
    }
    let pair = Pair::new("6");
    let frr = pair.frr(&frr_conf(
        OUR_ADDR6,
        "",
        "",
        &format!("  network {THEIRS6}\n  neighbor {OUR_ADDR6} activate\n"),
    ));
    let peer = PeerConfig::new(PEER_ADDR6.parse().unwrap(), PEER_AS);
    let frr = std::sync::Arc::new(frr);
    let f = frr.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours(peer, Some(GrOptions::default()), &[OURS4, OURS6]).await;
        let (got, _) = expect(&mut rx, THEIRS6, true).await;
        assert_eq!(
            got.next_hops,
            vec![PEER_ADDR6.parse::<bgp::rib::NextHop>().unwrap()]
        );
        let s = handle.status().await;
        assert_eq!(s[0].families, vec!["ipv6".to_string()], "{s:?}");
        // FRR has our IPv6 block with our IPv6 session address as next hop; no IPv4 on this
        // session (FRR did not activate it).
        assert!(eventually(Duration::from_secs(30), || {
            f.vtysh(&[&format!("show bgp ipv6 unicast {OURS6} json")])
                .contains(OUR_ADDR6)
        }));
        assert!(!frr_has(&f, "ipv4", OURS4));
        f.vtysh(&[
            "configure terminal",
            &format!("router bgp {PEER_AS}"),
            "address-family ipv6 unicast",
            &format!("no network {THEIRS6}"),
        ]);
        let (gone, _) = expect(&mut rx, THEIRS6, false).await;
        assert!(gone.next_hops.is_empty());
        handle.shutdown().await;
    });
}

#[test]
fn frr_ipv4_and_ipv6_over_one_ipv4_session() {
    if !frr_can_run() {
        return;
    }
    let pair = Pair::new("d");
    let frr = pair.frr(&frr_conf(
        OUR_ADDR,
        "",
        &format!("  network {THEIRS4}\n  neighbor {OUR_ADDR} activate\n"),
        &format!("  network {THEIRS6}\n  neighbor {OUR_ADDR} activate\n"),
    ));
    let mut peer = PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS);
    peer.families.ipv6 = true;
    peer.ipv6_next_hop = Some(OUR_ADDR6.parse().unwrap());
    let frr = std::sync::Arc::new(frr);
    let f = frr.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours(peer, None, &[OURS4, OURS6]).await;
        expect(&mut rx, THEIRS4, true).await;
        let (v6, _) = expect(&mut rx, THEIRS6, true).await;
        // FRR picks its interface's global IPv6 address as next hop even over an IPv4 session
        // (an IPv4-mapped one would have been replaced by its link-local address).
        assert_eq!(
            v6.next_hops,
            vec![PEER_ADDR6.parse::<bgp::rib::NextHop>().unwrap()],
            "{v6:?}"
        );
        assert!(eventually(Duration::from_secs(30), || frr_has(
            &f, "ipv4", OURS4
        )));
        assert!(eventually(Duration::from_secs(30), || {
            f.vtysh(&[&format!("show bgp ipv6 unicast {OURS6} json")])
                .contains(OUR_ADDR6)
        }));
        handle.shutdown().await;
    });
}

#[test]
fn frr_route_refresh_both_ways() {
    if !frr_can_run() {
        return;
    }
    let pair = Pair::new("r");
    let f = frr_announcing_theirs4(&pair);
    let peer = PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS);
    pair.in_ours(move || async move {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("bgp=debug")
            .with_test_writer()
            .try_init();
        let (handle, mut rx) = start_ours(peer, None, &[OURS4]).await;
        expect(&mut rx, THEIRS4, true).await;
        assert!(eventually(Duration::from_secs(30), || frr_has(
            &f, "ipv4", OURS4
        )));
        let peer_addr: IpAddr = PEER_ADDR.parse().unwrap();

        // We ask: FRR counts a ROUTE-REFRESH received and answers between BoRR and EoRR (RFC
        // 7313); had it not sent THEIRS4 again, EoRR would have swept it (checked below).
        assert!(handle.request_refresh(&peer_addr.into()));
        assert!(
            eventually(Duration::from_secs(20), || {
                neighbor_stat(&f, OUR_ADDR, "messageStats", "routeRefreshRecv") >= 1
            }),
            "FRR never saw our ROUTE-REFRESH"
        );

        // FRR asks (soft inbound reset): we answer with our routes, between BoRR and EoRR.
        let received_before = neighbor_stat(&f, OUR_ADDR, "messageStats", "updatesRecv");
        f.vtysh(&[&format!("clear bgp ipv4 unicast {OUR_ADDR} soft in")]);
        assert!(
            eventually(Duration::from_secs(20), || {
                neighbor_stat(&f, OUR_ADDR, "messageStats", "routeRefreshSent") >= 1
                    && neighbor_stat(&f, OUR_ADDR, "messageStats", "updatesRecv") > received_before
            }),
            "{}",
            f.vtysh(&[&format!("show bgp neighbors {OUR_ADDR}")])
        );
        assert!(frr_has(&f, "ipv4", OURS4));
        // Nothing went down on the way, and the counters saw both refreshes.
        let s = handle.status().await;
        assert_eq!(s[0].state, PeerState::Established);
        assert_eq!(s[0].established_transitions, 1, "{s:?}");
        assert!(
            s[0].sent.route_refresh >= 1 && s[0].received.route_refresh >= 1,
            "{s:?}"
        );
        assert!(s[0].received.update >= 2 && s[0].sent.update >= 2, "{s:?}");
        assert_eq!(
            s[0].prefixes_received_by_family.get("ipv4"),
            Some(&1),
            "{s:?}"
        );
        assert!(rx.try_recv().is_err(), "routes changed during a refresh");
        handle.shutdown().await;
    });
}

#[test]
fn frr_graceful_restart_helper_keeps_routes_until_end_of_rib() {
    if !frr_can_run() {
        return;
    }
    let pair = Pair::new("g");
    let gr = " bgp graceful-restart\n bgp graceful-restart preserve-fw-state\n";
    let v4 = |nets: &[&str]| {
        let mut s: String = nets.iter().map(|n| format!("  network {n}\n")).collect();
        s.push_str(&format!("  neighbor {OUR_ADDR} activate\n"));
        s
    };
    let frr = pair.frr(&frr_conf(OUR_ADDR, gr, &v4(&[THEIRS4, THEIRS4_B]), ""));
    let restarted_conf = frr_conf(OUR_ADDR, gr, &v4(&[THEIRS4]), "");
    let peer = PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS);
    let frr = std::sync::Arc::new(frr);
    let f = frr.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours(peer, Some(GrOptions::default()), &[OURS4]).await;
        expect(&mut rx, THEIRS4, true).await;
        let (_, _) = expect(&mut rx, THEIRS4_B, true).await;
        wait_state(&handle, true).await;

        // bgpd dies without a NOTIFICATION: its routes stay, marked stale.
        f.kill_bgpd();
        wait_state(&handle, false).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            rx.try_recv().is_err(),
            "routes changed while the peer restarts"
        );
        let s = handle.status().await;
        assert!(s[0].graceful_restart_stale, "{s:?}");

        // It comes back without THEIRS4_B: that one goes at End-of-RIB, THEIRS4 never moves.
        f.start_bgpd(Some(&restarted_conf));
        let (_, seen) = expect(&mut rx, THEIRS4_B, false).await;
        let theirs: IpNet = THEIRS4.parse().unwrap();
        assert!(
            seen.iter().all(|c| c.prefix != theirs),
            "THEIRS4 changed during the restart: {seen:?}"
        );
        wait_state(&handle, true).await;
        assert!(eventually(Duration::from_secs(10), || {
            futures_lite_block(handle.status())
                .first()
                .is_some_and(|s| !s.graceful_restart_stale)
        }));
        handle.shutdown().await;
    });
}

/// Block on a small future from inside a runtime thread (for `eventually`).
fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[test]
fn frr_keeps_our_routes_while_we_restart_gracefully() {
    if !frr_can_run() {
        return;
    }
    let pair = Pair::new("s");
    let frr = pair.frr(&frr_conf(
        OUR_ADDR,
        " bgp graceful-restart\n",
        &format!("  neighbor {OUR_ADDR} activate\n"),
        "",
    ));
    let peer = PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS);
    let gr = GrOptions {
        restart_time: 120,
        restarting: false,
        forwarding: false,
    };
    let path = |f: &Frr| f.vtysh(&[&format!("show bgp ipv4 unicast {OURS4} json")]);
    // First life: announce, then vanish without a NOTIFICATION (the runtime is dropped, as
    // when latticed is killed for an upgrade).
    let p = peer.clone();
    let frr = std::sync::Arc::new(frr);
    let f = frr.clone();
    pair.in_ours(move || async move {
        let (handle, _rx) = start_ours(p, Some(gr), &[OURS4]).await;
        wait_state(&handle, true).await;
        // Vanish only once FRR holds the route on an Established session that has settled (a
        // connection collision may still be resolving right after the first OPENs).
        let held = tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(30), || {
                path(&f).contains(OURS4)
                    && f.vtysh(&[&format!("show bgp neighbors {OUR_ADDR} json")])
                        .contains("\"bgpState\":\"Established\"")
            })
        });
        assert!(held, "FRR never got {OURS4}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    assert!(
        eventually(Duration::from_secs(30), || path(&frr)
            .contains("\"stale\":true")),
        "{}\n{}",
        path(&frr),
        frr.vtysh(&[&format!("show bgp neighbors {OUR_ADDR}")])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        path(&frr).contains(OURS4),
        "FRR dropped our route while we were away"
    );
    // Second life: Restart State and Forwarding State set; after our End-of-RIB the route is
    // fresh again and was never withdrawn.
    let f = frr.clone();
    pair.in_ours(move || async move {
        let restarted = GrOptions {
            restarting: true,
            forwarding: true,
            ..gr
        };
        let (handle, _rx) = start_ours(peer, Some(restarted), &[OURS4]).await;
        wait_state(&handle, true).await;
        assert!(
            eventually(Duration::from_secs(30), || {
                let p = path(&f);
                p.contains(OURS4) && !p.contains("\"stale\":true")
            }),
            "{}",
            path(&f)
        );
        handle.shutdown().await;
    });
}

#[test]
fn frr_ipv4_routes_over_an_ipv6_session_with_extended_next_hop() {
    if !frr_can_run() {
        return;
    }
    let pair = Pair::new("x");
    let frr = pair.frr(&frr_conf(
        OUR_ADDR6,
        &format!(" neighbor {OUR_ADDR6} capability extended-nexthop\n"),
        &format!("  network {THEIRS4}\n  neighbor {OUR_ADDR6} activate\n"),
        "",
    ));
    let peer = PeerConfig::new(PEER_ADDR6.parse().unwrap(), PEER_AS);
    let frr = std::sync::Arc::new(frr);
    let f = frr.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours(peer, None, &[OURS4]).await;
        // RFC 8950: an IPv4 route with an IPv6 next hop, both ways.
        let (got, _) = expect(&mut rx, THEIRS4, true).await;
        assert_eq!(
            got.next_hops,
            vec![PEER_ADDR6.parse::<bgp::rib::NextHop>().unwrap()],
            "{}",
            f.vtysh(&[&format!("show bgp neighbors {OUR_ADDR6}")])
        );
        assert!(eventually(Duration::from_secs(30), || {
            f.vtysh(&[&format!("show bgp ipv4 unicast {OURS4} json")])
                .contains(OUR_ADDR6)
        }));
        // FRR shows the hostname from our FQDN capability.
        assert!(f
            .vtysh(&[&format!("show bgp neighbors {OUR_ADDR6}")])
            .contains("lattice-test"));
        handle.shutdown().await;
    });
}

#[test]
fn frr_collision_with_both_sides_active_settles_on_one_session() {
    if !frr_can_run() {
        return;
    }
    let pair = Pair::new("c");
    let f = frr_announcing_theirs4(&pair);
    let peer = PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS);
    let ns = pair.peer.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours(peer, None, &[OURS4]).await;
        expect(&mut rx, THEIRS4, true).await;
        // Reset the session from both ends at once, several times: both connect at the same
        // moment and RFC 4271 §6.8 must leave exactly one session with the routes on it.
        for round in 0..4 {
            f.vtysh(&[&format!("clear bgp {OUR_ADDR}")]);
            wait_state(&handle, true).await;
            let settled = tokio::task::block_in_place(|| {
                eventually(Duration::from_secs(40), || {
                    let n = f.vtysh(&[&format!("show bgp neighbors {OUR_ADDR} json")]);
                    n.contains("\"bgpState\":\"Established\"") && frr_has(&f, "ipv4", OURS4)
                })
            });
            assert!(settled, "round {round}: FRR never settled with our route");
            let conns = std::process::Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "ss",
                    "-Htn",
                    "state",
                    "established",
                    "( sport = :179 or dport = :179 )",
                ])
                .output()
                .unwrap();
            let lines = String::from_utf8_lossy(&conns.stdout).lines().count();
            assert!(
                tokio::task::block_in_place(|| eventually(Duration::from_secs(20), || {
                    let out = std::process::Command::new("ip")
                        .args([
                            "netns",
                            "exec",
                            &ns,
                            "ss",
                            "-Htn",
                            "state",
                            "established",
                            "( sport = :179 or dport = :179 )",
                        ])
                        .output()
                        .unwrap();
                    String::from_utf8_lossy(&out.stdout).lines().count() == 1
                })),
                "round {round}: {lines} BGP connections left"
            );
        }
        let s = handle.status().await;
        assert_eq!(s[0].state, PeerState::Established);
        handle.shutdown().await;
    });
}
