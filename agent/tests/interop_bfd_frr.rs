//! latticed's BFD against FRR (zebra, bgpd, bfdd: `neighbor X bfd`) in namespaces: single hop
//! over IPv4 and IPv6 and multihop through a router come up on both sides; a BFD failure with
//! TCP still working closes the BGP session with Cease/10 (RFC 9384) and takes its route out
//! of the kernel, and the session stays down until BFD is Up again; a silently dropping link is
//! found by BFD, not by the hold timer; a peer the kernel cannot reach shows why in `lattice
//! peers`. Root, FRR and nftables: SKIPPED without them, a failure under `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bfd_kit;
mod common;

use std::time::Duration;

use api::proto::{BfdState, PeerState};
use bfd_kit::*;
use common::Latticed;
use testkit::daemons::Frr;
use testkit::netns::Netns;

const TOR_BGPD: &str = "\
router bgp 65000
 bgp router-id 10.0.12.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor 10.0.12.2 remote-as 65001
 neighbor 10.0.12.2 timers 3 9
 neighbor 10.0.12.2 timers connect 1
 neighbor 10.0.12.2 bfd 3 100 100
 neighbor fd00:12::2 remote-as 65001
 neighbor fd00:12::2 timers 3 9
 neighbor fd00:12::2 timers connect 1
 neighbor fd00:12::2 bfd 3 100 100
 address-family ipv4 unicast
  network 10.244.9.0/24
  neighbor 10.0.12.2 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor fd00:12::2 activate
 exit-address-family
";

/// Drops BFD (UDP 3784 either way) in `ns`, nothing else: BGP's TCP still works.
fn block_bfd(ns: &Netns) {
    let rules = "table inet bfdonly {\n\
        chain i { type filter hook input priority -300; udp dport 3784 drop; udp sport 3784 drop; }\n\
        chain o { type filter hook output priority -300; udp dport 3784 drop; udp sport 3784 drop; }\n}\n";
    let path = std::env::temp_dir().join(format!("bfdonly-{}.nft", ns.name()));
    std::fs::write(&path, rules).unwrap();
    ns.run(&["nft", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(path);
}

fn unblock_bfd(ns: &Netns) {
    ns.run(&["nft", "delete", "table", "inet", "bfdonly"]);
}

#[test]
fn single_hop_v4_and_v6_a_bfd_failure_closes_bgp_with_cease_10_and_holds_it_until_bfd_is_up() {
    if !can_run() {
        return;
    }
    let (host, tor) = (Netns::new("bfdh"), Netns::new("bfdt"));
    link(
        &host,
        "eth1",
        &["10.0.12.2/30", "fd00:12::2/64"],
        &tor,
        "eth1",
        &["10.0.12.1/30", "fd00:12::1/64"],
    );
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path();
    let frr = Frr::with_daemons(&tor, d, &[("bgpd", TOR_BGPD), ("bfdd", "")]);
    let configured = [
        "{address: 10.0.12.1, asn: 65000, hold_time: 9, connect_retry: 1, bfd: {enabled: true}}"
            .to_string(),
        "{address: 'fd00:12::1', asn: 65000, hold_time: 9, connect_retry: 1, bfd: {enabled: true}}"
            .to_string(),
        // Nothing routes there: BFD says so rather than waiting silently.
        "{address: 192.0.2.99, asn: 65099, connect_retry: 1, bfd: {enabled: true}}".to_string(),
    ];
    let bfd = "{min_rx_ms: 100, min_tx_ms: 100, multiplier: 3}";
    let cfg = latticed_config(
        d,
        "h1",
        65001,
        "10.0.12.2",
        "10.244.1.0/24",
        &configured,
        bfd,
    );
    let mut latticed = Latticed::start(&host, &cfg, &d.join("h1.log"));
    let sock = socket(d, "h1");
    let report = |what: &str| {
        format!(
            "{what}\nlatticed: {:#?}\nFRR bfd: {}\nlatticed log:\n{}",
            peers(&sock),
            frr.vtysh(&["show bfd peers"]),
            testkit::cmd::tail(&d.join("h1.log"), 60)
        )
    };

    for (ours, theirs) in [("10.0.12.1", "10.0.12.2"), ("fd00:12::1", "fd00:12::2")] {
        let up = testkit::eventually(PATIENCE, || {
            up_with_bfd(&sock, ours)
                && frr_established(&frr, theirs)
                && frr_bfd(&frr, theirs).is_some_and(|p| p["status"] == "up")
        });
        assert!(up, "{}", report(&format!("{ours} up with BFD")));
        let b = peer(&sock, ours).unwrap().bfd.unwrap();
        assert!(!b.multihop, "{b:?}");
        assert_eq!(b.interface.as_deref(), Some("eth1"));
        // 100 ms x 3 both sides.
        assert!(
            testkit::eventually(PATIENCE, || peer(&sock, ours)
                .and_then(|p| p.bfd)
                .is_some_and(
                    |b| b.detection_time_ms == Some(300) && b.tx_interval_ms == Some(100)
                )),
            "{}",
            report("negotiated 100 ms x 3")
        );
        assert!(b.control_plane_independent, "C bit set while running");
    }
    // The BFD thread runs under SCHED_FIFO (root has CAP_SYS_NICE): latticed's RIB and
    // kernel work cannot delay it.
    let log = std::fs::read_to_string(d.join("h1.log")).unwrap_or_default();
    assert!(
        log.contains("BFD runs on a SCHED_FIFO thread"),
        "{}",
        report("SCHED_FIFO")
    );
    let unreachable = peer(&sock, "192.0.2.99").unwrap().bfd.unwrap();
    assert_eq!(unreachable.state, BfdState::Pending, "{unreachable:?}");
    let why = unreachable.reason.unwrap_or_default();
    assert!(why.starts_with("no route to 192.0.2.99"), "{why}");
    let shown = testkit::cmd::stdout(&[
        common::workspace_bin("lattice").to_str().unwrap(),
        "--socket",
        sock.to_str().unwrap(),
        "peers",
        "192.0.2.99",
    ]);
    assert!(
        shown.contains("BFD:              pending: no route to 192.0.2.99"),
        "{shown}"
    );
    assert!(
        testkit::eventually(PATIENCE, || route(&host, "10.244.9.0/24")
            .contains("via 10.0.12.1")),
        "{}",
        report("the ToR's route in the kernel")
    );

    // BFD fails while TCP works: the side whose BFD notices first (both run 100 ms x 3, so
    // either may, by a few ms) closes the session with Cease/10 over it; we hold it down.
    block_bfd(&host);
    let down = testkit::eventually(PATIENCE, || {
        peer(&sock, "10.0.12.1").is_some_and(|p| {
            let error = p.last_error.as_deref().unwrap_or("");
            let ours = p.notifications_sent.contains_key("6/10") && error.starts_with("BFD down");
            let theirs = p.notifications_received.contains_key("6/10");
            p.state != PeerState::Established
                && (ours || theirs)
                && p.bfd
                    .is_some_and(|b| b.holding_bgp_down && b.state == BfdState::Down)
        })
    });
    assert!(down, "{}", report("BFD down closes BGP"));
    assert!(
        testkit::eventually(PATIENCE, || route(&host, "10.244.9.0/24").is_empty()),
        "the route left the kernel: {}",
        route(&host, "10.244.9.0/24")
    );
    // FRR heard why.
    let heard = testkit::eventually(PATIENCE, || {
        let n = frr_neighbor(&frr, "10.0.12.2");
        n["lastNotificationReason"]
            .as_str()
            .is_some_and(|r| r.contains("BFD"))
            || n["lastResetDueTo"]
                .as_str()
                .is_some_and(|r| r.contains("BFD"))
    });
    assert!(heard, "FRR: {}", frr_neighbor(&frr, "10.0.12.2"));
    // TCP still works and FRR keeps connecting, but BFD is down: no session for 5 s.
    let came_back = testkit::eventually(Duration::from_secs(5), || {
        peer(&sock, "10.0.12.1").is_some_and(|p| p.state == PeerState::Established)
    });
    assert!(!came_back, "{}", report("held down while BFD is down"));
    let p = peer(&sock, "10.0.12.1").unwrap();
    assert_eq!(p.established_transitions, 1, "{p:?}");
    // BFD back: BGP back, route back.
    unblock_bfd(&host);
    for ours in ["10.0.12.1", "fd00:12::1"] {
        assert!(
            testkit::eventually(PATIENCE, || up_with_bfd(&sock, ours)),
            "{}",
            report(&format!("{ours} back once BFD is up"))
        );
    }
    assert!(testkit::eventually(PATIENCE, || route(
        &host,
        "10.244.9.0/24"
    )
    .contains("via 10.0.12.1")));

    // The link fails silently (both ends drop, carrier up): BFD finds it, not the hold timer.
    testkit::silence::silence(&host, "eth1");
    testkit::silence::silence(&tor, "eth1");
    for ours in ["10.0.12.1", "fd00:12::1"] {
        let found = testkit::eventually(PATIENCE, || {
            peer(&sock, ours).is_some_and(|p| {
                p.last_error
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("BFD down")
                    && p.bfd.is_some_and(|b| {
                        b.last_down
                            .is_some_and(|d| d.diag == "control detection time expired")
                    })
            })
        });
        assert!(
            found,
            "{}",
            report(&format!("{ours}: silent link found by BFD"))
        );
    }
    assert!(route(&host, "10.244.9.0/24").is_empty());
    testkit::silence::unsilence(&host, "eth1");
    testkit::silence::unsilence(&tor, "eth1");
    assert!(
        testkit::eventually(PATIENCE, || up_with_bfd(&sock, "10.0.12.1")
            && up_with_bfd(&sock, "fd00:12::1")),
        "{}",
        report("back after the link healed")
    );
    latticed.stop();
}

#[test]
fn multihop_through_a_router_comes_up_and_a_silent_far_link_takes_bgp_down() {
    if !can_run() {
        return;
    }
    let (host, router, tor) = (
        Netns::new("bfdmh"),
        Netns::new("bfdmr"),
        Netns::new("bfdmt"),
    );
    link(
        &host,
        "eth1",
        &["10.0.31.2/24"],
        &router,
        "r0",
        &["10.0.31.1/24"],
    );
    link(
        &tor,
        "eth1",
        &["10.0.32.2/24"],
        &router,
        "r1",
        &["10.0.32.1/24"],
    );
    router.run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    host.ip(&["route", "add", "10.0.32.0/24", "via", "10.0.31.1"]);
    tor.ip(&["route", "add", "default", "via", "10.0.32.1"]);
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path();
    let bgpd = "\
router bgp 65000
 bgp router-id 10.0.32.2
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor 10.0.31.2 remote-as 65001
 neighbor 10.0.31.2 ebgp-multihop 2
 neighbor 10.0.31.2 timers 3 9
 neighbor 10.0.31.2 timers connect 1
 neighbor 10.0.31.2 bfd
 address-family ipv4 unicast
  network 10.244.9.0/24
  neighbor 10.0.31.2 activate
 exit-address-family
";
    let frr = Frr::with_daemons(&tor, d, &[("bgpd", bgpd), ("bfdd", "")]);
    let configured = [
        "{address: 10.0.32.2, asn: 65000, hold_time: 9, connect_retry: 1, ebgp_multihop: 2, \
         bfd: {enabled: true}}"
            .to_string(),
    ];
    let cfg = latticed_config(
        d,
        "h1",
        65001,
        "10.0.31.2",
        "10.244.1.0/24",
        &configured,
        "",
    );
    let mut latticed = Latticed::start(&host, &cfg, &d.join("h1.log"));
    let sock = socket(d, "h1");
    let report = |what: &str| {
        format!(
            "{what}\nlatticed: {:#?}\nFRR bfd: {}\nlatticed log:\n{}",
            peers(&sock),
            frr.vtysh(&["show bfd peers"]),
            testkit::cmd::tail(&d.join("h1.log"), 60)
        )
    };
    let up = testkit::eventually(PATIENCE, || {
        up_with_bfd(&sock, "10.0.32.2")
            && frr_bfd(&frr, "10.0.31.2")
                .is_some_and(|p| p["status"] == "up" && p["multihop"] == true)
    });
    assert!(up, "{}", report("multihop up"));
    let b = peer(&sock, "10.0.32.2").unwrap().bfd.unwrap();
    assert!(b.multihop && b.interface.is_none(), "{b:?}");
    assert_eq!(
        b.local,
        Some("10.0.31.2".parse().unwrap()),
        "the route's source"
    );
    // 300 ms x 3 by default on both sides.
    assert_eq!(b.min_rx_ms, 300);
    // (Its next hop is not on a connected prefix, so it is not in the kernel: the RIB has it.)
    assert!(testkit::eventually(PATIENCE, || peer(&sock, "10.0.32.2")
        .is_some_and(|p| p.prefixes_accepted == 1)));
    // The far link (router to ToR) fails silently: our BFD takes the session down.
    testkit::silence::silence(&router, "r1");
    let down = testkit::eventually(PATIENCE, || {
        peer(&sock, "10.0.32.2").is_some_and(|p| {
            p.state != PeerState::Established
                && p.last_error
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("BFD down")
        })
    });
    assert!(down, "{}", report("BFD down over the far link"));
    assert_eq!(peer(&sock, "10.0.32.2").unwrap().prefixes_accepted, 0);
    testkit::silence::unsilence(&router, "r1");
    assert!(
        testkit::eventually(PATIENCE, || up_with_bfd(&sock, "10.0.32.2")),
        "{}",
        report("back")
    );
    latticed.stop();
}

#[test]
fn an_interface_peer_runs_bfd_between_link_local_addresses_and_a_silent_link_takes_bgp_down() {
    if !can_run() {
        return;
    }
    let (host, tor) = (Netns::new("bfdih"), Netns::new("bfdit"));
    // No address on the link: the sessions run between the two link-local addresses.
    link(&host, "eth1", &[], &tor, "eth1", &[]);
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path();
    let bgpd = "\
router bgp 65000
 bgp router-id 10.0.33.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor eth1 interface remote-as external
 neighbor eth1 timers 3 9
 neighbor eth1 timers connect 1
 neighbor eth1 bfd 3 100 100
 address-family ipv4 unicast
  network 10.244.9.0/24
 exit-address-family
 address-family ipv6 unicast
  neighbor eth1 activate
 exit-address-family
";
    let frr = Frr::with_daemons(&tor, d, &[("bgpd", bgpd), ("bfdd", "")]);
    let configured = [
        "{interface: eth1, asn: external, hold_time: 9, connect_retry: 1, \
         bfd: {enabled: true, min_rx_ms: 100, min_tx_ms: 100}}"
            .to_string(),
    ];
    let cfg = latticed_config(
        d,
        "h1",
        65001,
        "10.0.33.2",
        "10.244.1.0/24",
        &configured,
        "",
    );
    let mut latticed = Latticed::start(&host, &cfg, &d.join("h1.log"));
    let sock = socket(d, "h1");
    let ours = || {
        peers(&sock)
            .into_iter()
            .find(|p| p.interface.as_deref() == Some("eth1"))
    };
    let frr_session = || {
        let out = frr.vtysh(&["show bfd peers json"]);
        let all: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        all.as_array()
            .and_then(|a| a.iter().find(|p| p["interface"] == "eth1").cloned())
    };
    let report = |what: &str| {
        format!(
            "{what}\nlatticed: {:#?}\nFRR bfd: {}\nlatticed log:\n{}",
            ours(),
            frr.vtysh(&["show bfd peers"]),
            testkit::cmd::tail(&d.join("h1.log"), 60)
        )
    };
    let up = |p: &Option<api::proto::PeerStatus>| {
        p.as_ref().is_some_and(|p| {
            p.state == PeerState::Established
                && p.bfd.as_ref().is_some_and(|b| b.state == BfdState::Up)
        })
    };
    assert!(
        testkit::eventually(PATIENCE, || up(&ours())
            && frr_session().is_some_and(|p| p["status"] == "up")),
        "{}",
        report("interface peer up with BFD on both sides")
    );
    let b = ours().unwrap().bfd.unwrap();
    assert!(!b.multihop, "{b:?}");
    assert_eq!(b.interface.as_deref(), Some("eth1"));
    assert!(
        matches!(b.local, Some(std::net::IpAddr::V6(a)) if a.segments()[0] == 0xfe80),
        "from our link-local address: {b:?}"
    );
    // FRR's session is with our link-local address, the one latticed's runs from.
    let theirs = frr_session().unwrap();
    assert_eq!(
        theirs["peer"]
            .as_str()
            .map(|s| s.parse::<std::net::IpAddr>().ok()),
        Some(b.local),
        "{theirs}"
    );
    assert!(
        testkit::eventually(PATIENCE, || route(&host, "10.244.9.0/24").contains("eth1")),
        "{}",
        report("the ToR's route in the kernel")
    );

    // A reload with slower BFD timers: a Poll Sequence, the BGP session untouched.
    latticed_config(
        d,
        "h1",
        65001,
        "10.0.33.2",
        "10.244.1.0/24",
        &[
            "{interface: eth1, asn: external, hold_time: 9, connect_retry: 1, \
           bfd: {enabled: true, min_rx_ms: 300, min_tx_ms: 300}}"
                .to_string(),
        ],
        "",
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reply = rt.block_on(api::client::call(&sock, &api::proto::Request::Reload));
    let Ok(api::proto::Reply::Reloaded { changes }) = reply else {
        panic!("reload: {reply:?}");
    };
    assert_eq!(
        changes,
        ["peer eth1: BFD timers changed by a Poll Sequence (BGP session untouched)"],
        "{}",
        report("reload")
    );
    // Our detection time is FRR's multiplier times the slower of our rx and its tx: 3 x 300.
    assert!(
        testkit::eventually(PATIENCE, || {
            ours()
                .and_then(|p| p.bfd)
                .is_some_and(|b| b.state == BfdState::Up && b.detection_time_ms == Some(900))
        }),
        "{}",
        report("new timers negotiated")
    );
    let p = ours().unwrap();
    assert_eq!(p.established_transitions, 1, "no BGP reset: {p:?}");
    assert_eq!(p.bfd.unwrap().down_transitions, 0, "no BFD fall");

    // The link fails silently: BFD finds it, the route leaves the kernel.
    testkit::silence::silence(&host, "eth1");
    testkit::silence::silence(&tor, "eth1");
    let found = testkit::eventually(PATIENCE, || {
        ours().is_some_and(|p| {
            p.state != PeerState::Established
                && p.last_error
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("BFD down")
                && p.bfd.is_some_and(|b| {
                    b.last_down
                        .is_some_and(|d| d.diag == "control detection time expired")
                })
        })
    });
    assert!(found, "{}", report("silent link found by BFD"));
    assert!(
        testkit::eventually(PATIENCE, || route(&host, "10.244.9.0/24").is_empty()),
        "{}",
        report("route gone")
    );
    testkit::silence::unsilence(&host, "eth1");
    testkit::silence::unsilence(&tor, "eth1");
    assert!(
        testkit::eventually(PATIENCE, || up(&ours())),
        "{}",
        report("back after the link healed")
    );
    latticed.stop();
}
