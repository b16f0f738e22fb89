//! Interface peers (BGP unnumbered) against real daemons, on links with no IPv4 and no global
//! IPv6 address: FRR as the ToR (`neighbor IF interface remote-as external`, routes both ways
//! over link-local next hops with RFC 8950, ECMP across two links, a neighbour that changes its
//! link-local address, an interface that is missing at start, goes down and comes back), and
//! BIRD 2 over a link-local session with extended next hop (it sends no Router Advertisements:
//! its neighbour is found by Neighbor Discovery). Root only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv6Addr};
use std::process::Command;
use std::time::Duration;

use bgp::driver::{
    Multipath, PeerConfig, PeerState, PeerStatus, RemoteAs, Speaker, SpeakerConfig, SpeakerHandle,
};
use bgp::rib::NextHop;
use bgp::PeerKey;
use common::Pair;
use ipnet::IpNet;
use testkit::eventually;

const OUR_AS: u32 = 65101;
const PEER_AS: u32 = 65001;
const OURS4: &str = "10.244.9.0/24";
const OURS6: &str = "fd00:244:9::/64";
const THEIRS4: &str = "10.244.200.0/24";
const THEIRS6: &str = "fd00:244:200::/64";

/// Run `args` in namespace `ns`; stdout.
fn in_ns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip(args: &[&str]) {
    let ok = Command::new("ip").args(args).status().unwrap().success();
    assert!(ok, "ip {args:?}");
}

/// Take every address but the link-local ones off the pair's link: an unnumbered underlay.
fn unnumber(pair: &Pair) {
    for (ns, dev) in [(&pair.peer, "p0"), (&pair.ours, "o0")] {
        ip(&["-n", ns, "addr", "flush", "dev", dev, "scope", "global"]);
    }
}

/// A second link between the pair, `p1` (peer) to `o1` (ours), up.
fn second_link(pair: &Pair) {
    ip(&[
        "link", "add", "p1", "netns", &pair.peer, "type", "veth", "peer", "name", "o1", "netns",
        &pair.ours,
    ]);
    ip(&["-n", &pair.peer, "link", "set", "p1", "up"]);
    ip(&["-n", &pair.ours, "link", "set", "o1", "up"]);
}

/// The link-local address of `dev` in `ns`, once it is no longer tentative.
fn link_local(ns: &str, dev: &str) -> Ipv6Addr {
    let mut found = None;
    let ready = eventually(Duration::from_secs(20), || {
        let out = in_ns(
            ns,
            &[
                "ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link",
            ],
        );
        found = out
            .lines()
            .find(|l| !l.contains("tentative"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse().ok());
        found.is_some()
    });
    assert!(ready, "{dev} in {ns} has no usable link-local address");
    found.unwrap()
}

fn ifindex(ns: &str, dev: &str) -> u32 {
    let out = in_ns(ns, &["cat", &format!("/sys/class/net/{dev}/ifindex")]);
    out.trim().parse().unwrap()
}

async fn start_ours(peers: Vec<PeerConfig>, prefixes: &[&str]) -> SpeakerHandle {
    let (handle, _rx) = Speaker::start(SpeakerConfig {
        listen: Some("[::]:179".parse().unwrap()),
        peers: peers
            .into_iter()
            .map(|p| PeerConfig {
                hold_time: 9,
                connect_retry: Duration::from_secs(1),
                ..p
            })
            .collect(),
        // An IPv6-only host: the router id is just a number.
        multipath: Multipath {
            relax: true,
            maximum_paths: 8,
        },
        ..SpeakerConfig::new(OUR_AS, std::net::Ipv4Addr::from(4_242))
    })
    .await
    .unwrap();
    handle.set_local_prefixes(prefixes.iter().map(|p| p.parse().unwrap()).collect());
    handle
}

fn interface_peer(name: &str, asn: RemoteAs) -> PeerConfig {
    PeerConfig::new(PeerKey::Interface(name.into()), asn)
}

/// The status of the peer on `name`.
async fn status_of(handle: &SpeakerHandle, name: &str) -> PeerStatus {
    let key = PeerKey::Interface(name.into());
    handle
        .status()
        .await
        .into_iter()
        .find(|s| s.peer == key)
        .unwrap()
}

/// Wait up to `secs` for `ok` on the status of the peer on `name`.
async fn wait_peer(
    handle: &SpeakerHandle,
    name: &str,
    secs: u64,
    ok: impl Fn(&PeerStatus) -> bool,
) {
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let s = status_of(handle, name).await;
        if ok(&s) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "peer {name} never got there: {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait up to `secs` until `prefix`'s next hops in the Loc-RIB are exactly `want` (sorted).
async fn wait_hops(handle: &SpeakerHandle, prefix: &str, secs: u64, want: &[NextHop]) {
    let prefix: IpNet = prefix.parse().unwrap();
    let mut want = want.to_vec();
    want.sort();
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let now: Vec<NextHop> = handle
            .loc_rib()
            .into_iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, h)| h)
            .unwrap_or_default();
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "{prefix}: next hops {now:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn established(s: &PeerStatus) -> bool {
    s.state == PeerState::Established
}

/// FRR as a ToR with two unnumbered ports, `remote-as external`, announcing THEIRS4/THEIRS6.
fn frr_tor() -> String {
    let mut conf = format!(
        "router bgp {PEER_AS}\n bgp router-id 10.0.0.1\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n"
    );
    for port in ["p0", "p1"] {
        conf.push_str(&format!(
            " neighbor {port} interface remote-as external\n neighbor {port} timers 1 3\n \
             neighbor {port} timers connect 1\n"
        ));
    }
    conf.push_str(&format!(
        " address-family ipv4 unicast\n  network {THEIRS4}\n exit-address-family\n \
         address-family ipv6 unicast\n  network {THEIRS6}\n  neighbor p0 activate\n  \
         neighbor p1 activate\n exit-address-family\n"
    ));
    conf
}

#[test]
fn frr_tor_with_interface_neighbours_and_remote_as_external() {
    if !testkit::require(
        true,
        &["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "/usr/bin/vtysh"],
    ) {
        return;
    }
    let pair = Pair::new("u");
    unnumber(&pair);
    for ns in [&pair.peer, &pair.ours] {
        in_ns(ns, &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    }
    let _frr = pair.frr(&frr_tor());
    let (peer_ns, ours_ns) = (pair.peer.clone(), pair.ours.clone());
    let p = std::sync::Arc::new(pair);
    let pair2 = p.clone();
    p.in_ours(move || async move {
        let pair = pair2;
        let handle = start_ours(
            vec![
                interface_peer("o0", RemoteAs::Number(PEER_AS)),
                // Not there yet: the peer waits and says why.
                interface_peer("o1", RemoteAs::External),
            ],
            &[OURS4, OURS6],
        )
        .await;
        wait_peer(&handle, "o1", 10, |s| {
            s.waiting.as_deref() == Some("interface o1 does not exist")
                && s.state == PeerState::Idle
        })
        .await;
        wait_peer(&handle, "o0", 40, established).await;
        // FRR may resolve our address (Neighbor Discovery) before its Router Advertisement
        // reaches us; the neighbour is the same, its RA marks it a router.
        wait_peer(&handle, "o0", 20, |s| {
            s.neighbour_heard_by.as_deref() == Some("router advertisement")
        })
        .await;
        let s = status_of(&handle, "o0").await;
        let frr_ll0 = link_local(&peer_ns, "p0");
        assert_eq!(s.neighbour, Some(frr_ll0), "{s:#?}");
        let caps = &s.session.as_ref().unwrap().capabilities;
        assert!(caps.contains(&"extended-next-hop".to_string()), "{caps:?}");
        assert_eq!(s.families, ["ipv4", "ipv6"]);
        // IPv4 and IPv6 routes over the link-local next hop, on its interface.
        let o0 = ifindex(&ours_ns, "o0");
        let hop0 = NextHop::new(IpAddr::V6(frr_ll0), Some(o0));
        wait_hops(&handle, THEIRS4, 30, &[hop0]).await;
        wait_hops(&handle, THEIRS6, 30, &[hop0]).await;
        // FRR installs ours via our link-local address (RFC 8950 for IPv4).
        let our_ll0 = link_local(&ours_ns, "o0");
        assert!(
            eventually(Duration::from_secs(30), || in_ns(
                &peer_ns,
                &["ip", "route", "show", OURS4]
            )
            .contains(&format!("via inet6 {our_ll0} dev p0"))),
            "{}",
            in_ns(&peer_ns, &["ip", "route"])
        );
        assert!(eventually(Duration::from_secs(30), || in_ns(
            &peer_ns,
            &["ip", "-6", "route", "show", OURS6]
        )
        .contains(&format!("via {our_ll0} dev p0"))));

        // The second interface appears: that peer comes up by itself, ECMP across both links.
        second_link(&pair);
        wait_peer(&handle, "o1", 40, established).await;
        let s = status_of(&handle, "o1").await;
        assert_eq!(s.remote_as, PEER_AS, "external: the AS it opened with");
        let frr_ll1 = link_local(&peer_ns, "p1");
        let o1 = ifindex(&ours_ns, "o1");
        let hop1 = NextHop::new(IpAddr::V6(frr_ll1), Some(o1));
        wait_hops(&handle, THEIRS4, 30, &[hop0, hop1]).await;

        // The neighbour on o0 changes its link-local address: followed, session back.
        let moved: Ipv6Addr = "fe80::99".parse().unwrap();
        ip(&[
            "-n", &peer_ns, "-6", "addr", "flush", "dev", "p0", "scope", "link",
        ]);
        ip(&[
            "-n",
            &peer_ns,
            "-6",
            "addr",
            "add",
            "fe80::99/64",
            "dev",
            "p0",
            "nodad",
        ]);
        wait_peer(&handle, "o0", 60, |s| {
            s.neighbour == Some(moved) && established(s)
        })
        .await;
        let hop0 = NextHop::new(IpAddr::V6(moved), Some(o0));
        wait_hops(&handle, THEIRS4, 30, &[hop0, hop1]).await;

        // o1 goes down: its peer waits, its next hop goes; back up, it returns by itself.
        ip(&["-n", &ours_ns, "link", "set", "o1", "down"]);
        wait_peer(&handle, "o1", 20, |s| {
            s.waiting.as_deref() == Some("interface o1 is down") && !established(s)
        })
        .await;
        wait_hops(&handle, THEIRS4, 20, &[hop0]).await;
        ip(&["-n", &ours_ns, "link", "set", "o1", "up"]);
        wait_peer(&handle, "o1", 60, established).await;
        wait_hops(&handle, THEIRS4, 30, &[hop0, hop1]).await;
        handle.shutdown().await;
    });
}

#[test]
fn bird_over_a_link_local_session_with_extended_next_hop() {
    if !testkit::require(true, &["/usr/sbin/bird", "/usr/sbin/birdc"]) {
        return;
    }
    let pair = Pair::new("v");
    unnumber(&pair);
    let our_ll = link_local(&pair.ours, "o0");
    let bird_ll = link_local(&pair.peer, "p0");
    let conf = format!(
        "router id 10.0.0.9;\nprotocol device {{ }}\n\
         protocol static s4 {{ ipv4; route {THEIRS4} unreachable; }}\n\
         protocol static s6 {{ ipv6; route {THEIRS6} unreachable; }}\n\
         protocol bgp lat {{\n local as {PEER_AS};\n neighbor {our_ll} as {OUR_AS};\n \
         interface \"p0\";\n hold time 9;\n connect retry time 1;\n error wait time 1,5;\n \
         ipv4 {{ import all; export where proto = \"s4\"; extended next hop on; }};\n \
         ipv6 {{ import all; export where proto = \"s6\"; }};\n}}\n"
    );
    let bird = pair.bird(&conf, &[], "bird.log");
    let sock = bird.control_socket().display().to_string();
    let peer_ns = pair.peer.clone();
    let o0 = ifindex(&pair.ours, "o0");
    let birdc = move |args: &[&str]| {
        let mut all = vec!["birdc", "-s", &sock];
        all.extend_from_slice(args);
        in_ns(&peer_ns, &all)
    };
    pair.in_ours(move || async move {
        let handle = start_ours(
            vec![interface_peer("o0", RemoteAs::Number(PEER_AS))],
            &[OURS4, OURS6],
        )
        .await;
        wait_peer(&handle, "o0", 60, established).await;
        let s = status_of(&handle, "o0").await;
        assert_eq!(s.neighbour, Some(bird_ll));
        assert_eq!(
            s.neighbour_heard_by.as_deref(),
            Some("neighbor discovery"),
            "BIRD sends no Router Advertisements"
        );
        assert!(s
            .session
            .as_ref()
            .unwrap()
            .capabilities
            .contains(&"extended-next-hop".to_string()));
        let hop = NextHop::new(IpAddr::V6(bird_ll), Some(o0));
        wait_hops(&handle, THEIRS4, 30, &[hop]).await;
        wait_hops(&handle, THEIRS6, 30, &[hop]).await;
        // BIRD takes our IPv4 route with our link-local address as its next hop.
        let shown = tokio::task::block_in_place(|| {
            let mut last = String::new();
            let ok = eventually(Duration::from_secs(30), || {
                last = birdc(&["show", "route", OURS4, "all"]);
                last.contains(OURS4) && last.contains(&our_ll.to_string())
            });
            (ok, last)
        });
        assert!(shown.0, "{}", shown.1);
        handle.shutdown().await;
    });
}
