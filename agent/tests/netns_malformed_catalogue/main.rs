#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: the real `latticed`, attacked as a configured BGP peer with a catalogue of
//! malformed messages, each answer checked against RFC 4271, 6608, 7313 and 7606, while a second,
//! well-behaved peer's session must never drop.
//!
//! Two namespaces this test creates (`mcat-lat-<pid>-N`, `mcat-peers-<pid>-N`) are joined by a
//! veth: latticed runs in the first on 10.98.0.1, the raw BGP clients run in the second from
//! 10.98.0.2 (the attacker) and 10.98.0.3 (the good peer). Both namespaces and latticed go away
//! on drop, also when the test fails; the root namespace is never touched.
//!
//! By family: `catalogue.rs` (errors that reset the session: header, OPEN, UPDATE, FSM,
//! ROUTE-REFRESH), `rfc7606.rs` (errors the session survives), `good_peer.rs` (the session that
//! must stay up), `client.rs` (the raw BGP client), `lab.rs` (namespaces and latticed).

#[path = "../common/mod.rs"]
mod common;

mod catalogue;
mod client;
mod good_peer;
mod lab;
mod rfc7606;

use std::net::Ipv4Addr;
use std::time::Duration;

use testkit::bgp::{as_path, next_hop, origin_igp, prefix, update};

const LATTICED: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
const ATTACKER: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
const GOOD: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 3);
const ATTACKER_AS: u32 = 65002;
const GOOD_AS: u32 = 65003;
/// The hold time both raw clients propose (latticed's peers are configured with 9 too).
const HOLD: u16 = 9;
/// How long latticed gets to answer a malformed message.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long a kernel route gets to appear or disappear.
const ROUTE_WITHIN: Duration = Duration::from_secs(10);
/// How long a session that must survive is watched for a NOTIFICATION.
const SURVIVE_FOR: Duration = Duration::from_secs(2);

/// The good peer's prefix, which must stay installed all along.
const GOOD_PREFIX: &str = "10.244.50.0/24";
/// The attacker's prefix for the RFC 7606 cases.
const VICTIM_PREFIX: &str = "10.244.77.0/24";
/// A second prefix of the attacker's, announced only by the duplicated-ORIGIN UPDATE.
const SECOND_PREFIX: &str = "10.244.78.0/24";

/// A valid announcement of `prefixes` from the attacker (ORIGIN IGP, AS_PATH [65002], NEXT_HOP
/// 10.98.0.2).
fn attacker_announce(prefixes: &[&str]) -> Vec<u8> {
    let nlri: Vec<u8> = prefixes.iter().flat_map(|p| prefix(p)).collect();
    update(
        &[],
        &[origin_igp(), as_path(&[ATTACKER_AS]), next_hop(ATTACKER)].concat(),
        &nlri,
    )
}

#[test]
fn latticed_answers_malformed_messages_per_rfc_4271_and_7606() {
    if !testkit::require_root() {
        return;
    }
    let lab = lab::Lab::start();
    let (lat, socket) = (lab.lat.name().to_string(), lab.socket());
    let failures = lab.peers.block_on(move || async move {
        let good = good_peer::GoodPeer::start(&lat).await;
        let mut failures = catalogue::run().await;
        failures.extend(rfc7606::run(&lat).await);
        failures.extend(good.check(&lat, &socket).await);
        failures
    });
    assert!(
        failures.is_empty(),
        "{} mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
