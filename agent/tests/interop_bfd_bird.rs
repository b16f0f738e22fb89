//! latticed's BFD against BIRD 2 (`protocol bfd`, `bfd on` in its BGP protocol) in namespaces:
//! both sides Up, BIRD sees our intervals, a silently dropping link takes both BGP sessions
//! down through BFD, and they come back with it. Root, BIRD and nftables: SKIPPED without them,
//! a failure under `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bfd_kit;
mod common;

use api::proto::{BfdState, PeerState};
use bfd_kit::*;
use common::Latticed;
use testkit::daemons::Bird;
use testkit::netns::Netns;

const BIRD_CONF: &str = r#"
router id 10.0.13.1;
protocol device { }
protocol static { ipv4; route 10.244.9.0/24 blackhole; }
protocol bfd {
  interface "eth1" { interval 100 ms; multiplier 3; };
}
protocol bgp tor {
  local 10.0.13.1 as 65000;
  neighbor 10.0.13.2 as 65001;
  hold time 9;
  connect retry time 1;
  error wait time 1, 5;
  bfd on;
  ipv4 { import all; export where source = RTS_STATIC; };
}
"#;

/// `birdc show bfd sessions` row for `peer`: its state.
fn bird_bfd_state(bird: &Bird, peer: &str) -> Option<String> {
    bird.birdc(&["show", "bfd", "sessions"])
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&peer)).then(|| f.get(2).map(|s| s.to_string()))?
        })
}

/// Whether BIRD's BGP protocol is Established.
fn bird_established(bird: &Bird) -> bool {
    bird.birdc(&["show", "protocols", "tor"])
        .contains("Established")
}

#[test]
fn bird_bfd_comes_up_and_its_fall_takes_bgp_down_on_both_sides() {
    let mut files: Vec<&str> = testkit::daemons::BIRD_BINARIES.to_vec();
    files.push("/usr/sbin/nft");
    if !testkit::require(true, &files) {
        return;
    }
    let (host, tor) = (Netns::new("bfdbh"), Netns::new("bfdbt"));
    link(
        &host,
        "eth1",
        &["10.0.13.2/30"],
        &tor,
        "eth1",
        &["10.0.13.1/30"],
    );
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path();
    let bird = Bird::start(&tor, d, BIRD_CONF, &[], "bird.log");
    let configured = [
        "{address: 10.0.13.1, asn: 65000, hold_time: 9, connect_retry: 1, bfd: {enabled: true}}"
            .to_string(),
    ];
    let bfd = "{min_rx_ms: 100, min_tx_ms: 100, multiplier: 3}";
    let cfg = latticed_config(
        d,
        "h1",
        65001,
        "10.0.13.2",
        "10.244.1.0/24",
        &configured,
        bfd,
    );
    let mut latticed = Latticed::start(&host, &cfg, &d.join("h1.log"));
    let sock = socket(d, "h1");
    let report = |what: &str| {
        format!(
            "{what}\nlatticed: {:#?}\nBIRD: {}\n{}\nlatticed log:\n{}",
            peer(&sock, "10.0.13.1"),
            bird.birdc(&["show", "bfd", "sessions"]),
            bird.birdc(&["show", "protocols", "all", "tor"]),
            testkit::cmd::tail(&d.join("h1.log"), 60)
        )
    };
    let up = testkit::eventually(PATIENCE, || {
        up_with_bfd(&sock, "10.0.13.1")
            && bird_established(&bird)
            && bird_bfd_state(&bird, "10.0.13.2").as_deref() == Some("Up")
    });
    assert!(up, "{}", report("up"));
    let b = peer(&sock, "10.0.13.1").unwrap().bfd.unwrap();
    assert!(
        !b.multihop && b.interface.as_deref() == Some("eth1"),
        "{b:?}"
    );
    assert!(testkit::eventually(PATIENCE, || route(
        &host,
        "10.244.9.0/24"
    )
    .contains("via 10.0.13.1")));

    testkit::silence::silence(&host, "eth1");
    testkit::silence::silence(&tor, "eth1");
    let down = testkit::eventually(PATIENCE, || {
        peer(&sock, "10.0.13.1").is_some_and(|p| {
            p.state != PeerState::Established
                && p.last_error
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("BFD down")
                && p.bfd
                    .is_some_and(|b| b.state == BfdState::Down && b.holding_bgp_down)
        }) && !bird_established(&bird)
    });
    assert!(down, "{}", report("down through BFD on both sides"));
    assert!(route(&host, "10.244.9.0/24").is_empty());
    // BIRD says BFD took its session down too.
    let said = bird.birdc(&["show", "protocols", "all", "tor"]);
    assert!(said.contains("BFD session down"), "{said}");

    testkit::silence::unsilence(&host, "eth1");
    testkit::silence::unsilence(&tor, "eth1");
    let back = testkit::eventually(PATIENCE, || {
        up_with_bfd(&sock, "10.0.13.1") && bird_established(&bird)
    });
    assert!(back, "{}", report("back"));
    latticed.stop();
}
