//! BIRD 2, GoBGP and ExaBGP over an IPv6 session (IPv6 routes both ways), and route refresh
//! both ways with BIRD and GoBGP. Root only; each test names the peer and scenario.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::rib::RouteChange;
use common::{Pair, OUR_ADDR, OUR_ADDR6, PEER_ADDR, PEER_ADDR6};
use ipnet::IpNet;
use testkit::eventually;

const OUR_AS: u32 = 65101;
const PEER_AS: u32 = 65001;
const OURS6: &str = "fd00:244:9::/64";
const THEIRS6: &str = "fd00:244:200::/64";

async fn start_ours() -> (SpeakerHandle, bgp::driver::RouteChanges) {
    let (handle, rx) = Speaker::start(SpeakerConfig {
        listen: Some("[::]:179".parse().unwrap()),
        peers: vec![PeerConfig {
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            ..PeerConfig::new(PEER_ADDR6.parse().unwrap(), PEER_AS)
        }],
        ..SpeakerConfig::new(OUR_AS, OUR_ADDR.parse().unwrap())
    })
    .await
    .unwrap();
    handle.set_local_prefixes(vec![OURS6.parse().unwrap()]);
    (handle, rx)
}

async fn expect(rx: &mut bgp::driver::RouteChanges, prefix: &str, present: bool) {
    let prefix: IpNet = prefix.parse().unwrap();
    let wait = async {
        loop {
            let c = rx.recv().await.expect("speaker stopped");
            if c.prefix == prefix && c.next_hops.is_empty() != present {
                if present {
                    assert_eq!(
                        c.next_hops,
                        vec![PEER_ADDR6.parse::<bgp::rib::NextHop>().unwrap()]
                    );
                }
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(40), wait)
        .await
        .unwrap_or_else(|_| panic!("no change for {prefix} (present: {present})"));
}

/// The peer's count of ROUTE-REFRESH messages received, and a way to make it send one.
type Refresh = (Box<dyn Fn() -> u64 + Send>, Box<dyn Fn() + Send>);

/// Session up over IPv6, their route in, ours out, optionally a route refresh each way
/// (`refreshes` gives the peer's count of refreshes received and triggers one from the peer),
/// then their withdrawal.
fn scenario(
    pair: &Pair,
    peer_has_ours: impl Fn() -> bool + Send + 'static,
    refreshes: Option<Refresh>,
    withdraw: Option<Box<dyn FnOnce() + Send>>,
) {
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours().await;
        expect(&mut rx, THEIRS6, true).await;
        let s = handle.status().await;
        assert_eq!(s[0].state, PeerState::Established, "{s:?}");
        assert_eq!(s[0].families, vec!["ipv6".to_string()], "{s:?}");
        let has =
            tokio::task::block_in_place(|| eventually(Duration::from_secs(30), &peer_has_ours));
        assert!(has, "the peer never installed {OURS6}");
        if let Some((received, ask)) = refreshes {
            let before = received();
            assert!(handle.request_refresh(&PEER_ADDR6.parse().unwrap()));
            let seen = tokio::task::block_in_place(|| {
                eventually(Duration::from_secs(20), || received() > before)
            });
            assert!(seen, "the peer never counted our ROUTE-REFRESH");
            ask();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let s = handle.status().await;
            assert_eq!(s[0].state, PeerState::Established, "{s:?}");
            assert!(rx.try_recv().is_err(), "routes changed during a refresh");
            assert!(tokio::task::block_in_place(|| eventually(
                Duration::from_secs(10),
                &peer_has_ours
            )));
        }
        if let Some(withdraw) = withdraw {
            withdraw();
            expect(&mut rx, THEIRS6, false).await;
        }
        handle.shutdown().await;
    });
}

#[test]
fn bird_ipv6_session_routes_both_ways_route_refresh_and_withdraw() {
    if !testkit::require(true, &["/usr/sbin/bird", "/usr/sbin/birdc"]) {
        return;
    }
    let pair = Pair::new("B");
    let bird = std::sync::Arc::new(pair.bird(
        &format!(
            "router id {PEER_ADDR};\nprotocol device {{ }}\n\
             protocol static s6 {{ ipv6; route {THEIRS6} unreachable; }}\n\
             protocol bgp lat {{\n local {PEER_ADDR6} as {PEER_AS};\n neighbor {OUR_ADDR6} as {OUR_AS};\n \
             hold time 9;\n connect retry time 1;\n error wait time 1,5;\n \
             ipv6 {{ import all; export where proto = \"s6\"; }};\n}}\n"
        ),
        &[],
        "bird.log",
    ));
    let birdc = move |args: &[&str]| bird.birdc(args);
    let (b1, b2, b3, b4) = (birdc.clone(), birdc.clone(), birdc.clone(), birdc);
    // BIRD counts received ROUTE-REFRESH requests as export "route refresh" events; its
    // `show protocols all` prints "Import updates" we use instead to see our answer arrive.
    let refresh_count = move || {
        let out = b2(&["show", "protocols", "all", "lat"]);
        out.lines()
            .find(|l| l.trim_start().starts_with("Export updates:"))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    scenario(
        &pair,
        move || b1(&["show", "route", "protocol", "lat"]).contains("fd00:244:9::/64"),
        Some((
            Box::new(refresh_count),
            Box::new(move || {
                b3(&["reload", "in", "lat"]);
            }),
        )),
        Some(Box::new(move || {
            b4(&["disable", "s6"]);
        })),
    );
}

#[test]
fn gobgp_ipv6_session_routes_both_ways_route_refresh_and_withdraw() {
    if !testkit::require(true, &["/usr/bin/gobgpd", "/usr/bin/gobgp"]) {
        return;
    }
    let pair = Pair::new("G");
    let gobgpd = std::sync::Arc::new(pair.gobgp(
        &format!(
            "[global.config]\n  as = {PEER_AS}\n  router-id = \"{PEER_ADDR}\"\n  port = 179\n\n\
             [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{OUR_ADDR6}\"\n    peer-as = {OUR_AS}\n\
             \x20 [neighbors.timers.config]\n    hold-time = 9\n    connect-retry = 1\n\
             \x20 [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv6-unicast\"\n"
        ),
        &[],
        "gobgpd.log",
    ));
    let gobgp = move |args: &[&str]| gobgpd.cli(args);
    let add = [
        "global", "rib", "-a", "ipv6", "add", THEIRS6, "nexthop", PEER_ADDR6,
    ];
    assert!(eventually(Duration::from_secs(20), || {
        gobgp(&add);
        gobgp(&["global", "rib", "-a", "ipv6"]).contains(THEIRS6)
    }));
    let (g1, g2, g3, g4) = (gobgp.clone(), gobgp.clone(), gobgp.clone(), gobgp);
    let refresh_count = move || {
        // `gobgp neighbor X` prints a "Route Refresh:  <sent> <received>" line.
        let out = g2(&["neighbor", OUR_ADDR6]);
        out.lines()
            .find(|l| l.trim_start().starts_with("Route Refresh:"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    scenario(
        &pair,
        move || g1(&["global", "rib", "-a", "ipv6"]).contains(OURS6),
        Some((
            Box::new(refresh_count),
            Box::new(move || {
                g3(&["neighbor", OUR_ADDR6, "softresetin", "-a", "ipv6"]);
            }),
        )),
        Some(Box::new(move || {
            g4(&["global", "rib", "-a", "ipv6", "del", THEIRS6]);
        })),
    );
}

#[test]
fn exabgp_ipv6_session_routes_both_ways() {
    if !testkit::require(true, &["/usr/sbin/exabgp"]) {
        return;
    }
    let pair = Pair::new("E");
    let d = pair.dir.path().to_path_buf();
    let received = d.join("received.json");
    let recorder = d.join("record.sh");
    testkit::daemons::exabgp_recorder(&recorder, &received);
    std::fs::write(
        d.join("exabgp.conf"),
        format!(
            "process record {{\n  run {};\n  encoder json;\n}}\n\
             neighbor {OUR_ADDR6} {{\n  router-id {PEER_ADDR};\n  local-address {PEER_ADDR6};\n  \
             local-as {PEER_AS};\n  peer-as {OUR_AS};\n  hold-time 9;\n  \
             family {{ ipv6 unicast; }}\n  \
             api {{ processes [ record ]; receive {{ parsed; update; }} }}\n  \
             static {{ route {THEIRS6} next-hop {PEER_ADDR6}; }}\n}}\n",
            recorder.display()
        ),
    )
    .unwrap();
    let _exabgp = pair.exabgp(&d.join("exabgp.conf"), "exabgp.log");
    scenario(
        &pair,
        move || {
            std::fs::read_to_string(&received)
                .unwrap_or_default()
                .contains("fd00:244:9::/64")
        },
        None,
        None,
    );
}

/// ExaBGP driven through its API by a helper process: routes both ways, a route refresh each
/// way, and a withdrawal (triggered by files the test creates).
#[test]
fn exabgp_route_refresh_both_ways_and_withdraw() {
    if !testkit::require(true, &["/usr/sbin/exabgp"]) {
        return;
    }
    const THEIRS4: &str = "10.244.200.0/24";
    const OURS4: &str = "10.244.9.0/24";
    let pair = Pair::new("R");
    let d = pair.dir.path().to_path_buf();
    let received = d.join("received.json");
    let controller = d.join("control.sh");
    // Records what ExaBGP reports (cat, in the background, reading the original stdin through
    // fd 3: a background job's own stdin is /dev/null) and sends commands when the test drops a
    // trigger file; `sh` keeps its stdout, the pipe ExaBGP polls, open.
    let script = format!(
        "#!/bin/sh\nexec 3<&0\ncat <&3 >> {rec} &\n\
         while [ ! -e {d}/refresh ]; do sleep 0.2; done\n\
         echo 'announce route-refresh ipv4 unicast'\n\
         while [ ! -e {d}/withdraw ]; do sleep 0.2; done\n\
         echo 'withdraw route {THEIRS4} next-hop {PEER_ADDR}'\n\
         while true; do sleep 60; done\n",
        rec = received.display(),
        d = d.display()
    );
    testkit::cmd::write_script(&controller, &script);
    std::fs::write(
        d.join("exabgp.conf"),
        format!(
            "process control {{\n  run {};\n  encoder json;\n}}\n\
             neighbor {OUR_ADDR} {{\n  router-id {PEER_ADDR};\n  local-address {PEER_ADDR};\n  \
             local-as {PEER_AS};\n  peer-as {OUR_AS};\n  hold-time 9;\n  \
             capability {{ route-refresh; }}\n  \
             api {{ processes [ control ]; receive {{ parsed; update; refresh; }} }}\n  \
             static {{ route {THEIRS4} next-hop {PEER_ADDR}; }}\n}}\n",
            controller.display()
        ),
    )
    .unwrap();
    let _exabgp = pair.exabgp(&d.join("exabgp.conf"), "exabgp.log");
    let read = move || std::fs::read_to_string(&received).unwrap_or_default();
    pair.in_ours(move || async move {
        let (handle, mut rx) = Speaker::start(SpeakerConfig {
            listen: Some(format!("{OUR_ADDR}:179").parse().unwrap()),
            peers: vec![PeerConfig {
                hold_time: 9,
                connect_retry: Duration::from_secs(1),
                ..PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS)
            }],
            ..SpeakerConfig::new(OUR_AS, OUR_ADDR.parse().unwrap())
        })
        .await
        .unwrap();
        handle.set_local_prefixes(vec![OURS4.parse().unwrap()]);
        let theirs: IpNet = THEIRS4.parse().unwrap();
        let c = next_change(&mut rx).await;
        assert_eq!((c.prefix, c.next_hops.is_empty()), (theirs, false));
        let got_ours = tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(30), || read().contains(OURS4))
        });
        assert!(got_ours, "ExaBGP never received {OURS4}");
        // We ask: ExaBGP reports the ROUTE-REFRESH it received.
        assert!(handle.request_refresh(&PEER_ADDR.parse().unwrap()));
        let asked = tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(20), || read().contains("refresh"))
        });
        assert!(asked, "ExaBGP never reported our ROUTE-REFRESH");
        // ExaBGP 4.2.21 then drops the session without a NOTIFICATION (its reactor raises
        // "TypeError: 'RouteRefresh' object is not iterable" on the message it has just
        // reported) and connects again, and we announce our routes on the new session: count
        // its own request on a session that has been up for a second.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let settled = tokio::time::timeout(Duration::from_secs(30), async {
            while handle.status().await[0].uptime_secs.unwrap_or(0) < 1 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        assert!(settled.await.is_ok(), "{:?}", handle.status().await);
        // ExaBGP asks: we send our routes again, and count its request.
        let before = read().matches(OURS4).count();
        std::fs::write(d.join("refresh"), "").unwrap();
        let resent = tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(20), || {
                read().matches(OURS4).count() > before
            })
        });
        assert!(resent, "our routes were not sent again");
        let s = handle.status().await;
        assert!(s[0].received.route_refresh >= 1, "{s:?}");
        // ExaBGP withdraws.
        // (ExaBGP answers a ROUTE-REFRESH with a withdrawal and a new announcement; changes are
        // coalesced, so that may show as one more report of the route as it is.)
        std::fs::write(d.join("withdraw"), "").unwrap();
        let mut c = next_change(&mut rx).await;
        while c.prefix == theirs && !c.next_hops.is_empty() {
            c = next_change(&mut rx).await;
        }
        assert_eq!((c.prefix, c.next_hops.is_empty()), (theirs, true), "{c:?}");
        handle.shutdown().await;
    });
}

async fn next_change(rx: &mut bgp::driver::RouteChanges) -> RouteChange {
    tokio::time::timeout(Duration::from_secs(40), rx.recv())
        .await
        .expect("no route change")
        .expect("speaker stopped")
}
