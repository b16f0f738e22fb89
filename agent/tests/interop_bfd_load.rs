//! No false BFD downs under load: latticed keeps a BFD session at 100 ms x 3 with FRR (bgpd +
//! bfdd) while another peer sends it a full 1M-prefix table, which it installs in the kernel,
//! and then withdraws all of it (two route-programming bursts of a million routes). Neither
//! side sees a BFD state change: latticed's session went Up once and never left, FRR's counts
//! no down event. Root, FRR and nftables: SKIPPED without them, a failure under `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bfd_kit;
mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use api::proto::{Reply, Request};
use bfd_kit::*;
use common::Latticed;
use testkit::daemons::Frr;
use testkit::netns::Netns;
use tokio::io::AsyncWriteExt;

/// A full table (`LATTICE_BFD_LOAD_PREFIXES` overrides it, for a quick look).
fn prefixes() -> usize {
    std::env::var("LATTICE_BFD_LOAD_PREFIXES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}
const FEED: Ipv4Addr = Ipv4Addr::new(10, 0, 16, 1);

const TOR_BGPD: &str = "\
router bgp 65000
 bgp router-id 10.0.15.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 10.0.15.2 remote-as 65001
 neighbor 10.0.15.2 timers 3 9
 neighbor 10.0.15.2 timers connect 1
 neighbor 10.0.15.2 bfd 3 100 100
 address-family ipv4 unicast
  neighbor 10.0.15.2 activate
 exit-address-family
";

/// The i-th /24 of the table, from 32.0.0.0 up (inside the cluster range 32.0.0.0/3).
fn nth(i: usize) -> Ipv4Addr {
    testkit::bgp::nth_slash24(Ipv4Addr::new(32, 0, 0, 0), i)
}

/// Learned routes latticed holds in the kernel, per `lattice status`.
fn learned(sock: &Path) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match rt.block_on(api::client::call(sock, &Request::Status)) {
        Ok(Reply::Status(s)) => s.learned_routes,
        _ => 0,
    }
}

#[test]
fn a_full_table_and_two_route_bursts_cause_no_bfd_state_change() {
    if !can_run() {
        return;
    }
    let (host, tor, feed) = (
        Netns::new("bfdlh"),
        Netns::new("bfdlt"),
        Netns::new("bfdlf"),
    );
    link(
        &host,
        "eth1",
        &["10.0.15.2/30"],
        &tor,
        "eth1",
        &["10.0.15.1/30"],
    );
    link(
        &host,
        "eth2",
        &["10.0.16.2/24"],
        &feed,
        "eth0",
        &["10.0.16.1/24"],
    );
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path();
    let frr = Frr::with_daemons(&tor, d, &[("bgpd", TOR_BGPD), ("bfdd", "")]);
    let configured = [
        "{address: 10.0.15.1, asn: 65000, hold_time: 9, connect_retry: 1, \
         bfd: {enabled: true, min_rx_ms: 100, min_tx_ms: 100}}"
            .to_string(),
        "{address: 10.0.16.1, asn: 65100, hold_time: 240, passive: true}".to_string(),
    ];
    let cfg = latticed_config(d, "h1", 65001, "10.0.15.2", "63.0.0.0/24", &configured, "");
    // The table is in the cluster range, so every route goes to the kernel.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("cidr: 10.244.0.0/16", "cidr: 32.0.0.0/3")
        .replace("uplinks: [eth1]", "uplinks: [eth1, eth2]");
    std::fs::write(&cfg, text).unwrap();
    let log = d.join("h1.log");
    let mut latticed = Latticed::start(&host, &cfg, &log);
    let sock = socket(d, "h1");
    let report = |what: &str| {
        format!(
            "{what}\nlatticed: {:#?}\nFRR: {}\nlatticed log:\n{}",
            peer(&sock, "10.0.15.1"),
            frr.vtysh(&["show bfd peers counters"]),
            testkit::cmd::tail(&log, 40)
        )
    };
    let up = testkit::eventually(PATIENCE, || {
        up_with_bfd(&sock, "10.0.15.1")
            && frr_bfd(&frr, "10.0.15.2").is_some_and(|p| {
                p["status"] == "up" && p["transmit-interval"] == 100 && p["receive-interval"] == 100
            })
    });
    assert!(up, "{}", report("BFD up at 100 ms"));

    // The feed: a million /24s, then their withdrawal, as fast as latticed reads.
    let n = prefixes();
    let updates = testkit::bgp::announce_slash24s((0..n).map(nth), 900, &[65100], FEED);
    let withdrawals = testkit::bgp::withdraw_slash24s((0..n).map(nth), 900);
    // The sender runs in the feed namespace on a thread of its own; the test tells it when to
    // withdraw (once everything is in the kernel) and when to hang up.
    let (go, went) = std::sync::mpsc::channel::<()>();
    let feed_name = feed.name().to_string();
    let sender = std::thread::spawn(move || {
        testkit::netns::in_netns(&feed_name, move || async move {
            let to = "10.0.16.2:179".parse().unwrap();
            let session = testkit::bench::open_session(FEED, to, 65100, 240, PATIENCE)
                .await
                .unwrap();
            let (read, mut write) = session.into_split();
            testkit::bench::discard(read);
            write.write_all(&updates).await.unwrap();
            let went = tokio::task::spawn_blocking(move || {
                let _ = went.recv();
                went
            })
            .await
            .unwrap();
            write.write_all(&withdrawals).await.unwrap();
            tokio::task::spawn_blocking(move || went.recv())
                .await
                .unwrap()
                .ok();
        })
    });
    let ingest = Duration::from_secs(600);
    let started = std::time::Instant::now();
    assert!(
        testkit::eventually(ingest, || learned(&sock) >= n),
        "{}",
        report(&format!("{} of {n} routes in the kernel", learned(&sock)))
    );
    println!(
        "{n} routes learned and installed in {:?}",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    go.send(()).unwrap();
    assert!(
        testkit::eventually(ingest, || learned(&sock) == 0),
        "{}",
        report(&format!(
            "{} routes left after the withdrawal",
            learned(&sock)
        ))
    );
    println!(
        "{n} routes withdrawn and removed in {:?}",
        started.elapsed()
    );
    go.send(()).unwrap();
    sender.join().unwrap();

    // Through all of it: one Up, no fall, on either side. (The BGP session is reported, not
    // judged: its keepalives run on the runtime the RIB and kernel work share.)
    let tor = peer(&sock, "10.0.15.1").unwrap();
    println!(
        "BGP session to the ToR Established {} time(s); last error: {:?}",
        tor.established_transitions, tor.last_error
    );
    let b = tor.bfd.unwrap();
    assert_eq!(
        (b.up_transitions, b.down_transitions),
        (1, 0),
        "{}",
        report("latticed's BFD session never left Up")
    );
    let counters = frr.vtysh(&["show bfd peer 10.0.15.2 counters json"]);
    let counters: serde_json::Value = serde_json::from_str(&counters).unwrap();
    assert_eq!(counters["session-down"], 0, "FRR: {counters}");
    assert_eq!(counters["session-up"], 1, "FRR: {counters}");
    latticed.stop();
}
