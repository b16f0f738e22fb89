//! The TTL of our BGP packets against FRR, across a router (RFC 4271 single-hop eBGP, RFC 5082
//! GTSM): peer (FRR) - router - ours, each a namespace. Our eBGP packets leave with TTL 1 and
//! die at the router unless `ebgp_multihop` allows more; with `ttl_security` we send 255 (FRR's
//! `ttl-security hops 2` wants at least 254) and drop what arrives below 254 (FRR sending 254,
//! one hop on: 253). Root and FRR only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use testkit::daemons::Frr;
use testkit::netns::Netns;

const PEER: &str = "10.99.22.1";
const ROUTER_P: &str = "10.99.22.2";
const ROUTER_O: &str = "10.99.22.5";
const OURS: &str = "10.99.22.6";

/// FRR's configuration with `session` lines for our neighbour.
fn frr_conf(session: &str) -> String {
    format!(
        "router bgp 65001\n bgp router-id {PEER}\n no bgp ebgp-requires-policy\n \
         no bgp default ipv4-unicast\n neighbor {OURS} remote-as 65101\n \
         neighbor {OURS} timers 3 9\n neighbor {OURS} timers connect 1\n{session}\
         address-family ipv4 unicast\n  neighbor {OURS} activate\n exit-address-family\n"
    )
}

/// Reconfigure FRR's neighbour (`lines` in `router bgp`) and reset its session.
fn frr_set(frr: &Frr, lines: &[&str]) {
    let mut cmds = vec!["configure terminal", "router bgp 65001"];
    cmds.extend_from_slice(lines);
    cmds.extend_from_slice(&["end", "clear bgp *"]);
    let out = frr.vtysh(&cmds);
    assert!(!out.contains('%'), "FRR refused {lines:?}: {out}");
    let running = frr.vtysh(&["show running-config bgpd"]);
    for line in lines.iter().filter(|l| !l.starts_with("no ")) {
        assert!(
            running.contains(line),
            "{line} not in FRR's configuration:\n{running}"
        );
    }
    // `clear bgp *` resets the sessions in the background: let it finish before the next
    // speaker connects.
    std::thread::sleep(Duration::from_secs(2));
}

async fn start(multihop: Option<u8>, gtsm: bool) -> SpeakerHandle {
    let (handle, rx) = Speaker::start(SpeakerConfig {
        listen: Some(format!("{OURS}:179").parse().unwrap()),
        peers: vec![PeerConfig {
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            ebgp_multihop: multihop,
            ttl_security: gtsm,
            ..PeerConfig::new(PEER.parse().unwrap(), 65001)
        }],
        ..SpeakerConfig::new(65101, OURS.parse().unwrap())
    })
    .await
    .unwrap();
    drop(rx);
    handle
}

/// Whether FRR holds the session Established.
fn frr_established(frr: &Frr) -> bool {
    frr.vtysh(&[&format!("show bgp neighbors {OURS} json")])
        .contains("\"bgpState\":\"Established\"")
}

/// Which side's view decides: the one that checks the TTL may let the first segment of a
/// connection through (it arrives before the accepted socket gets its minimum), so the other
/// side can see the session up for a moment; the checking side never does.
#[derive(Clone, Copy)]
enum Judge {
    Ours,
    Frr,
}

/// One setting of ours against FRR as it is: up (within 30 s), or never up for 8 s as
/// `judge` sees it.
async fn session(
    frr: &Arc<Frr>,
    multihop: Option<u8>,
    gtsm: bool,
    up: bool,
    judge: Judge,
    what: &str,
) {
    let handle = start(multihop, gtsm).await;
    let wait = Duration::from_secs(if up { 30 } else { 8 });
    let until = tokio::time::Instant::now() + wait;
    let mut seen = false;
    while tokio::time::Instant::now() < until && !seen {
        seen = match judge {
            Judge::Ours => handle.status().await[0].state == PeerState::Established,
            Judge::Frr => tokio::task::block_in_place(|| frr_established(frr)),
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = handle.status().await;
    handle.shutdown().await;
    assert_eq!(seen, up, "{what}: {s:?}");
}

#[test]
fn single_hop_ebgp_multihop_and_gtsm_across_a_router() {
    if !testkit::require(true, testkit::daemons::FRR_BINARIES) {
        return;
    }
    let peer = Netns::new("tt22p");
    let router = Netns::new("tt22r");
    let ours = Netns::new("tt22o");
    peer.veth("p0", &router, "r0");
    router.veth("r1", &ours, "o0");
    peer.addr("p0", &format!("{PEER}/30"));
    router.addr("r0", &format!("{ROUTER_P}/30"));
    router.addr("r1", &format!("{ROUTER_O}/30"));
    ours.addr("o0", &format!("{OURS}/30"));
    for (ns, dev) in [
        (&peer, "p0"),
        (&router, "r0"),
        (&router, "r1"),
        (&ours, "o0"),
    ] {
        ns.up(dev);
    }
    router.run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    peer.ip(&["route", "add", &format!("{OURS}/32"), "via", ROUTER_P]);
    ours.ip(&["route", "add", &format!("{PEER}/32"), "via", ROUTER_O]);
    let dir = testkit::cmd::shared_tempdir();
    let frr = Arc::new(Frr::start(
        peer.name(),
        dir.path(),
        &frr_conf(&format!(" neighbor {OURS} ebgp-multihop 2\n")),
    ));
    let f = frr.clone();
    testkit::netns::in_netns(ours.name(), move || async move {
        session(
            &f,
            None,
            false,
            false,
            Judge::Ours,
            "eBGP sends TTL 1 by default: it dies at the router",
        )
        .await;
        session(
            &f,
            Some(2),
            false,
            true,
            Judge::Ours,
            "ebgp_multihop 2 crosses one router",
        )
        .await;
        tokio::task::block_in_place(|| {
            frr_set(
                &f,
                &[
                    &format!("no neighbor {OURS} ebgp-multihop"),
                    &format!("neighbor {OURS} ttl-security hops 2"),
                ],
            )
        });
        session(
            &f,
            Some(2),
            false,
            false,
            Judge::Frr,
            "FRR's GTSM drops our TTL 2 (1 on arrival)",
        )
        .await;
        session(
            &f,
            None,
            true,
            true,
            Judge::Ours,
            "our GTSM sends 255, 254 on arrival",
        )
        .await;
        tokio::task::block_in_place(|| {
            frr_set(
                &f,
                &[
                    &format!("no neighbor {OURS} ttl-security hops 2"),
                    &format!("neighbor {OURS} ebgp-multihop 254"),
                ],
            )
        });
        session(
            &f,
            None,
            true,
            false,
            Judge::Ours,
            "FRR's TTL 254 arrives as 253: below our minimum",
        )
        .await;
        tokio::task::block_in_place(|| {
            frr_set(&f, &[&format!("neighbor {OURS} ebgp-multihop 255")])
        });
        session(
            &f,
            None,
            true,
            true,
            Judge::Ours,
            "FRR's TTL 255 arrives as 254: accepted",
        )
        .await;
    });
}
