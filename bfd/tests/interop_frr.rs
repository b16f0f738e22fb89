//! Our driver against a real FRR bfdd (8.4) in lab namespaces: single hop over IPv4, IPv6 and
//! IPv6 link-local, multihop through a router; up both ways, intervals as bfdd sees them, a
//! Poll Sequence bfdd accepts, detection of a silently dropping link with diag 1, and
//! AdminDown both ways. Root only: without root or FRR each test prints SKIPPED, or fails
//! under `make`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bfd::driver::{Bfd, DriverConfig, DropReason, Hop, SessionSpec};
use bfd::packet::{Diag, State};
use bfd::session::Params;
use common::frr::Frr;
use common::*;

const FRR: [&str; 4] = [
    "/usr/lib/frr/bfdd",
    "/usr/lib/frr/zebra",
    "/usr/bin/vtysh",
    "/usr/sbin/nft",
];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The three single-hop sessions of the direct lab, as FRR sees them: `(key, FRR's peer)`.
const SINGLE: [(&str, &str); 3] = [("v4", OURS4), ("v6", OURS6), ("ll", OURS_LL)];

fn frr_single_hop(lab: &Lab) -> Frr {
    Frr::start(
        lab,
        &format!(
            "bfd\n peer {OURS4} local-address {PEER4} interface p0\n !\n \
             peer {OURS6} local-address {PEER6} interface p0\n !\n \
             peer {OURS_LL} local-address {PEER_LL} interface p0\n !\n!\n"
        ),
    )
}

/// Our driver in the lab's namespace with the three single-hop sessions to the peer.
async fn ours_single_hop(lab: &Lab) -> (Bfd<&'static str>, Events) {
    let (bfd, events) = lab.in_ours(|| Bfd::start(DriverConfig::default()).unwrap());
    for (key, remote, local) in [
        ("v4", PEER4, OURS4),
        ("v6", PEER6, OURS6),
        ("ll", PEER_LL, OURS_LL),
    ] {
        let mut spec = SessionSpec::single_hop(key, ip(remote), Params::default());
        spec.local = Some(ip(local));
        spec.interface = Some("o0".into());
        bfd.add_session(spec).await.unwrap();
    }
    (bfd, events)
}

fn frr_up(frr: &Frr, peer: &str, multihop: bool) -> bool {
    frr.peer(peer, multihop)
        .is_some_and(|p| p["status"] == "up")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_hop_v4_v6_link_local_up_negotiated_and_a_poll_frr_accepts() {
    if cannot_run(&FRR) {
        return;
    }
    let lab = Lab::direct("n");
    let frr = frr_single_hop(&lab);
    let (bfd, mut events) = ours_single_hop(&lab).await;
    let keys: Vec<&str> = SINGLE.iter().map(|(k, _)| *k).collect();
    all_reach(&mut events, &keys, State::Up, Duration::from_secs(20)).await;
    for (key, peer) in SINGLE {
        assert!(
            eventually(Duration::from_secs(10), || frr_up(&frr, peer, false)),
            "FRR: {:?}",
            frr.peer(peer, false)
        );
        let s = bfd.session(&key).await.unwrap().unwrap();
        // 300 ms x 3 both sides: FRR's defaults and ours.
        assert_eq!(
            (s.status.tx_interval, s.status.rx_interval),
            (Some(ms(300)), Some(ms(300))),
            "{key}"
        );
        assert_eq!(s.status.detection_time, Some(ms(900)), "{key}");
        assert_eq!(
            s.status.remote_discriminator,
            frr.peer(peer, false).unwrap()["id"].as_u64().unwrap() as u32
        );
    }
    // bfdd shows what we asked for.
    let p = frr.peer(OURS4, false).unwrap();
    assert_eq!(
        (
            p["remote-receive-interval"].as_u64(),
            p["remote-transmit-interval"].as_u64(),
            p["remote-detect-multiplier"].as_u64()
        ),
        (Some(300), Some(300), Some(3)),
        "{p}"
    );
    assert_eq!(
        p["remote-echo-receive-interval"].as_u64(),
        Some(0),
        "we never ask for echo"
    );

    // A parameter change runs a Poll Sequence; bfdd takes the new values.
    bfd.set_params("v4", Params::from_millis(200, 250, 5).unwrap())
        .await
        .unwrap();
    let negotiated = eventually(Duration::from_secs(10), || {
        frr.peer(OURS4, false).is_some_and(|p| {
            p["status"] == "up"
                && p["remote-transmit-interval"].as_u64() == Some(200)
                && p["remote-receive-interval"].as_u64() == Some(250)
                && p["remote-detect-multiplier"].as_u64() == Some(5)
        })
    });
    assert!(negotiated, "FRR: {:?}", frr.peer(OURS4, false));
    let s = bfd.session(&"v4").await.unwrap().unwrap();
    assert!(!s.status.polling, "the Final came back");
    // We send at max(200, FRR's RX 300); FRR sends at max(300, our RX 250): 3 x 300 detection.
    assert_eq!(
        (s.status.tx_interval, s.status.detection_time),
        (Some(ms(300)), Some(ms(900)))
    );
    // No session flapped, nothing was dropped.
    assert!(events.try_recv().is_err());
    assert_eq!(bfd.drops().total(), 0, "{:?}", bfd.drops());
    bfd.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dropping_link_is_detected_with_diag_1() {
    if cannot_run(&FRR) {
        return;
    }
    let lab = Lab::direct("s");
    let frr = frr_single_hop(&lab);
    let (bfd, mut events) = ours_single_hop(&lab).await;
    let keys: Vec<&str> = SINGLE.iter().map(|(k, _)| *k).collect();
    all_reach(&mut events, &keys, State::Up, Duration::from_secs(20)).await;
    // Let the fast rate settle (the poll after Up), then FRR's side of the link goes silent.
    tokio::time::sleep(ms(1500)).await;
    let detection = bfd
        .session(&"v4")
        .await
        .unwrap()
        .unwrap()
        .status
        .detection_time
        .unwrap();
    let silenced = Instant::now();
    lab.silence(&lab.peer, "p0");
    let downs = all_reach(&mut events, &keys, State::Down, Duration::from_secs(5)).await;
    for (key, change, at) in &downs {
        assert_eq!(change.diag, Diag::ControlDetectionTimeExpired, "{key}");
        assert!(change.is_path_failure());
        let took = at.duration_since(silenced);
        println!("{key}: down {took:?} after the link went silent (detection time {detection:?})");
        // Detection runs from the last packet, which came before the silence.
        assert!(
            took <= detection + ms(300),
            "{key}: {took:?} for a {detection:?} detection time"
        );
    }
    let s = bfd.session(&"v6").await.unwrap().unwrap();
    assert_eq!(s.last_down.unwrap().diag, Diag::ControlDetectionTimeExpired);
    // The link comes back: so do the sessions.
    lab.unsilence(&lab.peer, "p0");
    all_reach(&mut events, &keys, State::Up, Duration::from_secs(20)).await;
    drop(frr);
    bfd.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_down_both_ways_is_not_a_failure() {
    if cannot_run(&FRR) {
        return;
    }
    let lab = Lab::direct("a");
    let frr = frr_single_hop(&lab);
    let (bfd, mut events) = ours_single_hop(&lab).await;
    let keys: Vec<&str> = SINGLE.iter().map(|(k, _)| *k).collect();
    all_reach(&mut events, &keys, State::Up, Duration::from_secs(20)).await;
    // FRR shuts its IPv4 session down.
    let peer_line = format!("peer {OURS4} local-address {PEER4} interface p0");
    frr.configure_peer(&peer_line, &["shutdown"]);
    let (_, c, _) = all_reach(&mut events, &["v4"], State::Down, Duration::from_secs(5))
        .await
        .remove(0);
    assert_eq!(c.diag, Diag::NeighborSignaledSessionDown);
    assert!(c.remote_admin_down && !c.is_path_failure(), "{c:?}");
    frr.configure_peer(&peer_line, &["no shutdown"]);
    all_reach(&mut events, &["v4"], State::Up, Duration::from_secs(10)).await;
    // We stop gracefully: bfdd sees our AdminDown, not a detection timeout.
    assert_eq!(bfd.admin_down_all().await.unwrap(), 3);
    for (_, peer) in SINGLE {
        let seen = eventually(Duration::from_secs(5), || {
            frr.peer(peer, false).is_some_and(|p| {
                p["status"] == "down" && p["remote-diagnostic"] == "administratively down"
            })
        });
        assert!(seen, "FRR: {:?}", frr.peer(peer, false));
    }
    bfd.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multihop_through_a_router_with_a_minimum_ttl() {
    if cannot_run(&FRR) {
        return;
    }
    let lab = Lab::routed("m");
    let frr = Frr::start(
        &lab,
        &format!("bfd\n peer {MH_OURS} multihop local-address {MH_PEER}\n !\n!\n"),
    );
    let (bfd, mut events) = lab.in_ours(|| Bfd::start(DriverConfig::default()).unwrap());
    // One router on the way: FRR's TTL 255 arrives as 254. A minimum of 255 refuses it.
    let mut spec = SessionSpec::multihop("mh", ip(MH_OURS), ip(MH_PEER), Params::default());
    spec.hop = Hop::Multi { min_ttl: 255 };
    bfd.add_session(spec.clone()).await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), || bfd
            .drops()
            .get(DropReason::BadTtl)
            >= 2),
        "{:?}",
        bfd.drops()
    );
    assert_eq!(
        bfd.session(&"mh").await.unwrap().unwrap().status.state,
        State::Down
    );
    bfd.remove_session("mh").await.unwrap();
    spec.hop = Hop::Multi { min_ttl: 254 };
    bfd.add_session(spec).await.unwrap();
    all_reach(&mut events, &["mh"], State::Up, Duration::from_secs(20)).await;
    assert!(
        eventually(Duration::from_secs(10), || frr_up(&frr, MH_OURS, true)),
        "FRR: {:?}",
        frr.peer(MH_OURS, true)
    );
    let p = frr.peer(MH_OURS, true).unwrap();
    assert_eq!(
        (
            p["remote-receive-interval"].as_u64(),
            p["remote-transmit-interval"].as_u64()
        ),
        (Some(300), Some(300)),
        "{p}"
    );
    // The far side goes silent: detection.
    lab.silence(&lab.peer, "p0");
    let (_, c, _) = all_reach(&mut events, &["mh"], State::Down, Duration::from_secs(5))
        .await
        .remove(0);
    assert_eq!(c.diag, Diag::ControlDetectionTimeExpired);
    bfd.shutdown().await;
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
