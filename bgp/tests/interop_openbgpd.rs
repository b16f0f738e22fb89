//! Our speaker against OpenBGPD 7.7 (portable, Debian's `openbgpd`): the session, routes both
//! ways, a withdrawal, route refresh both ways, shutdown communications both ways (RFC 9003),
//! graceful restart as far as OpenBGPD goes (it is a receiving speaker only: it keeps our
//! routes while we restart, and announces no family of its own to preserve). Root and
//! OpenBGPD only. (MD5, hold timer, a peer without 4-octet AS and collisions run against it in
//! `interop_matrix_*.rs`, ASNs above 65535 in `interop_wide_asn.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::fsm::GrOptions;
use common::matrix::{blocking, expect, start_ours, state_is, OURS, OUR_AS, PEER_AS, THEIRS};
use common::{Pair, OUR_ADDR, PEER_ADDR};
use testkit::daemons::{Openbgpd, OPENBGPD_BINARIES};
use testkit::eventually;

fn conf(extra: &str) -> String {
    format!(
        "AS {PEER_AS}\nrouter-id {PEER_ADDR}\nlisten on {PEER_ADDR}\n\
         neighbor {OUR_ADDR} {{\n  remote-as {OUR_AS}\n  holdtime 9\n{extra}}}\n\
         allow from any\nallow to any\n"
    )
}

fn can_run() -> bool {
    testkit::require(true, OPENBGPD_BINARIES)
}

/// Whether OpenBGPD's RIB holds our block (`S` in its flags: stale).
fn rib_line(o: &Openbgpd) -> String {
    o.bgpctl(&["show", "rib", OURS])
        .lines()
        .filter(|l| l.contains(OURS))
        .collect()
}

/// A "Sent Received" pair from `bgpctl show neighbor`, e.g. the `Request` line of the route
/// refresh statistics.
fn stat(o: &Openbgpd, row: &str) -> (u64, u64) {
    let text = o.bgpctl(&["show", "neighbor", OUR_ADDR]);
    let line = text.lines().rev().find(|l| l.trim_start().starts_with(row));
    let nums: Vec<u64> = line
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (
        nums.first().copied().unwrap_or(0),
        nums.get(1).copied().unwrap_or(0),
    )
}

async fn start_ours_gr(gr: Option<GrOptions>) -> (SpeakerHandle, bgp::driver::RouteChanges) {
    let (handle, rx) = Speaker::start_announcing(
        SpeakerConfig {
            listen: Some(format!("{OUR_ADDR}:179").parse().unwrap()),
            peers: vec![PeerConfig {
                hold_time: 9,
                connect_retry: Duration::from_secs(1),
                ..PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS)
            }],
            graceful_restart: gr,
            ..SpeakerConfig::new(OUR_AS, OUR_ADDR.parse().unwrap())
        },
        vec![OURS.parse().unwrap()],
    )
    .await
    .unwrap();
    (handle, rx)
}

#[test]
fn openbgpd_session_routes_both_ways_withdraw_and_route_refresh() {
    if !can_run() {
        return;
    }
    let pair = Pair::new("ob");
    let obgp = Arc::new(pair.openbgpd(&conf(""), "bgpd.log"));
    let o = obgp.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours().await;
        blocking(|| o.bgpctl(&["network", "add", THEIRS]));
        expect(&mut rx, THEIRS, true).await;
        let theirs: ipnet::IpNet = THEIRS.parse().unwrap();
        let hop = handle
            .loc_rib()
            .into_iter()
            .find(|(p, _)| *p == theirs)
            .map(|(_, h)| h);
        assert_eq!(
            hop,
            Some(vec![bgp::rib::NextHop::from(
                PEER_ADDR.parse::<IpAddr>().unwrap()
            )])
        );
        let held = blocking(|| eventually(Duration::from_secs(30), || !rib_line(&o).is_empty()));
        assert!(held, "OpenBGPD never got {OURS}");
        // It asks for our routes again: we answer (its Request counter: one sent).
        blocking(|| o.bgpctl(&["neighbor", OUR_ADDR, "refresh"]));
        let asked = blocking(|| eventually(Duration::from_secs(10), || stat(&o, "Request").0 == 1));
        assert!(asked, "{}", o.bgpctl(&["show", "neighbor", OUR_ADDR]));
        let answered = async {
            for _ in 0..100 {
                let s = handle.status().await;
                if s[0].received.route_refresh == 1 && s[0].sent.update >= 2 {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        };
        assert!(answered.await, "{:?}", handle.status().await);
        // We ask for its routes: it counts our request and sends them again.
        let key = PEER_ADDR.parse::<IpAddr>().unwrap().into();
        assert!(handle.request_refresh(&key));
        let got = blocking(|| eventually(Duration::from_secs(10), || stat(&o, "Request").1 == 1));
        assert!(got, "{}", o.bgpctl(&["show", "neighbor", OUR_ADDR]));
        // A withdrawal reaches us.
        blocking(|| o.bgpctl(&["network", "delete", THEIRS]));
        expect(&mut rx, THEIRS, false).await;
        assert_eq!(handle.status().await[0].state, PeerState::Established);
        handle.shutdown().await;
    });
}

#[test]
fn openbgpd_keeps_our_routes_while_we_restart_gracefully() {
    if !can_run() {
        return;
    }
    let pair = Pair::new("og");
    let obgp = Arc::new(pair.openbgpd(&conf("  announce restart yes\n"), "bgpd.log"));
    let gr = GrOptions {
        restart_time: 120,
        restarting: false,
        forwarding: false,
    };
    let o = obgp.clone();
    pair.in_ours(move || async move {
        let (handle, _rx) = start_ours_gr(Some(gr)).await;
        assert!(state_is(&handle, true).await);
        let held = blocking(|| eventually(Duration::from_secs(30), || !rib_line(&o).is_empty()));
        assert!(held, "OpenBGPD never got {OURS}");
        // Gone without a NOTIFICATION (graceful restart on).
        handle.shutdown().await;
    });
    let stale = eventually(Duration::from_secs(20), || {
        rib_line(&obgp)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .contains('S')
    });
    assert!(
        stale,
        "OpenBGPD did not keep {OURS} stale: {}",
        rib_line(&obgp)
    );
    // Back with Restart State and Forwarding State: the route is refreshed, never withdrawn
    // (polled all along, and OpenBGPD's log has no withdrawal of it).
    let o = obgp.clone();
    pair.in_ours(move || async move {
        let restarted = GrOptions {
            restarting: true,
            forwarding: true,
            ..gr
        };
        let (handle, _rx) = start_ours_gr(Some(restarted)).await;
        let fresh = blocking(|| {
            eventually(Duration::from_secs(30), || {
                let line = rib_line(&o);
                assert!(!line.is_empty(), "OpenBGPD lost {OURS} during our restart");
                !line.split_whitespace().next().unwrap_or("S").contains('S')
            })
        });
        assert!(fresh, "{}", rib_line(&o));
        handle.shutdown().await;
    });
}

#[test]
fn openbgpd_restarting_preserves_no_family_so_its_routes_go_and_come_back() {
    // Its capability lists no family (RFC 4724 §3: a receiving speaker only): a helper keeps
    // nothing of it, as FRR does with a helper-only peer.
    if !can_run() {
        return;
    }
    let pair = Pair::new("or");
    let mut obgp = Some(pair.openbgpd(
        &format!("network {THEIRS}\n{}", conf("  announce restart yes\n")),
        "bgpd.log",
    ));
    let ns = pair.peer.clone();
    let dir = pair.dir.path().to_path_buf();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours_gr(Some(GrOptions::default())).await;
        expect(&mut rx, THEIRS, true).await;
        let caps = handle.status().await[0].session.clone().unwrap();
        assert_eq!(caps.peer_restart_time, Some(0), "{caps:?}");
        blocking(|| {
            drop(obgp.take());
            testkit::netns::kill_all(&ns);
        });
        expect(&mut rx, THEIRS, false).await;
        assert!(!handle.status().await[0].graceful_restart_stale);
        let _again = blocking(|| {
            Openbgpd::start(
                &ns,
                &dir,
                &format!("network {THEIRS}\n{}", conf("  announce restart yes\n")),
                "bgpd2.log",
            )
        });
        expect(&mut rx, THEIRS, true).await;
        handle.shutdown().await;
    });
}

#[test]
fn shutdown_communications_both_ways_with_openbgpd() {
    // RFC 9003: `bgpctl neighbor X down "..."` sends Cease/2 with the message: our status
    // shows it. Ours, with graceful restart off, reaches OpenBGPD's log.
    if !can_run() {
        return;
    }
    let pair = Pair::new("os");
    let obgp = Arc::new(pair.openbgpd(&conf(""), "bgpd.log"));
    let o = obgp.clone();
    pair.in_ours(move || async move {
        let (handle, _rx) = start_ours_gr(None).await;
        assert!(state_is(&handle, true).await);
        blocking(|| o.bgpctl(&["neighbor", OUR_ADDR, "down", "rack 3 maintenance"]));
        assert!(state_is(&handle, false).await);
        let err = handle.status().await[0]
            .last_error
            .clone()
            .unwrap_or_default();
        assert!(
            err.contains(
                r#"received NOTIFICATION 6/2, shutdown communication "rack 3 maintenance""#
            ),
            "{err}"
        );
        blocking(|| o.bgpctl(&["neighbor", OUR_ADDR, "up"]));
        assert!(state_is(&handle, true).await);
        handle
            .shutdown_with(Some("latticed upgrade to 0.2".into()))
            .await;
    });
    let logged = eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(pair.dir.path().join("bgpd.log"))
            .unwrap_or_default()
            .contains("latticed upgrade to 0.2")
    });
    let log = std::fs::read_to_string(pair.dir.path().join("bgpd.log")).unwrap_or_default();
    assert!(
        logged,
        "OpenBGPD did not log our shutdown communication:\n{log}"
    );
}

#[test]
fn openbgpd_ipv6_next_hop_loopback_over_ipv4_is_ignored_not_best() {
    // Portable OpenBGPD sends `::1` as the next hop of IPv6 routes over an IPv4 session: RFC
    // 4271 §6.3, the route is ignored (shown with the reason, counted), the session stays.
    if !can_run() {
        return;
    }
    let v6 = "fd00:244:200::/64";
    let pair = Pair::new("o6");
    let conf = format!("network {v6}\n{}", conf("  announce IPv6 unicast\n"));
    let _obgp = pair.openbgpd(&conf, "bgpd.log");
    pair.in_ours(move || async move {
        let (handle, rx) = Speaker::start(SpeakerConfig {
            listen: Some(format!("{OUR_ADDR}:179").parse().unwrap()),
            peers: vec![PeerConfig {
                hold_time: 9,
                connect_retry: Duration::from_secs(1),
                families: bgp::driver::Families {
                    ipv4: true,
                    ipv6: true,
                },
                ipv6_next_hop: Some("fd99::2".parse().unwrap()),
                ..PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS)
            }],
            ..SpeakerConfig::new(OUR_AS, OUR_ADDR.parse().unwrap())
        })
        .await
        .unwrap();
        drop(rx);
        let prefix: ipnet::IpNet = v6.parse().unwrap();
        let mut shown = None;
        for _ in 0..300 {
            shown = handle.routes().into_iter().find(|r| r.prefix == prefix);
            if shown.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let route = shown.unwrap_or_else(|| panic!("{v6} never arrived"));
        let path = &route.paths[0];
        assert_eq!(path.next_hop.to_string(), "::1");
        assert!(!path.best, "{route:?}");
        assert!(
            path.ignored
                .as_deref()
                .is_some_and(|w| w.contains("loopback")),
            "{route:?}"
        );
        assert!(handle.loc_rib().iter().all(|(p, _)| *p != prefix));
        let s = handle.status().await;
        assert_eq!(
            (s[0].state, s[0].prefixes_ignored),
            (PeerState::Established, 1)
        );
        handle.shutdown().await;
    });
}
