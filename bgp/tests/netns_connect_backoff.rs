//! Connect-retry back-off against a real blackhole: the peer's namespace drops every SYN to
//! port 179 with nftables (as a firewall or a wrong TCP MD5 key does), and records each
//! attempt's source port in a set. Our attempts must thin out (3 s, 6 s, 12 s, ... scaled to
//! the 1 s connect-retry configured here), not repeat every second. Root only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig};
use testkit::netns::Netns;

const PEER: &str = "10.99.19.1";
const OURS: &str = "10.99.19.2";

/// How many distinct connection attempts (source ports) the peer's namespace has dropped.
fn attempts(peer: &Netns) -> usize {
    let out = peer.run(&["nft", "-j", "list", "set", "inet", "blackhole", "attempts"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o["set"]["elem"].as_array().map(Vec::len))
        .unwrap_or(0)
}

#[test]
fn attempts_into_a_blackhole_back_off() {
    if !testkit::require(true, &["/usr/sbin/nft"]) {
        return;
    }
    let peer = Netns::new("bo19p");
    let ours = Netns::new("bo19o");
    peer.veth("p0", &ours, "o0");
    peer.addr("p0", &format!("{PEER}/30"));
    ours.addr("o0", &format!("{OURS}/30"));
    peer.up("p0");
    ours.up("o0");
    for rule in [
        "add table inet blackhole",
        "add set inet blackhole attempts { type inet_service ; flags dynamic ; }",
        "add chain inet blackhole in { type filter hook input priority -300 ; }",
        "add rule inet blackhole in tcp dport 179 add @attempts { tcp sport } drop",
    ] {
        let args: Vec<&str> = std::iter::once("nft").chain(rule.split(' ')).collect();
        peer.run(&args);
    }
    let watch = Duration::from_secs(20);
    let state = testkit::netns::in_netns(ours.name(), move || async move {
        let (handle, _rx) = Speaker::start(SpeakerConfig {
            peers: vec![PeerConfig {
                connect_retry: Duration::from_secs(1),
                ..PeerConfig::new(PEER.parse().unwrap(), 65001)
            }],
            ..SpeakerConfig::new(65101, OURS.parse().unwrap())
        })
        .await
        .unwrap();
        tokio::time::sleep(watch).await;
        let state = handle.status().await[0].state;
        handle.shutdown().await;
        state
    });
    assert_ne!(state, PeerState::Established);
    let n = attempts(&peer);
    eprintln!("{n} connection attempts into the blackhole in {watch:?}");
    // Without back-off: one attempt per 0.75-1 s, 20 or more. With it: 0, 1, 3, 7, 15 s
    // (jittered down by at most a quarter), so 5 or 6.
    assert!(n >= 3, "we stopped trying: {n} attempts in {watch:?}");
    assert!(n <= 7, "{n} attempts in {watch:?}: no back-off");
}
