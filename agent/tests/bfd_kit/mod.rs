//! What the BFD interop tests of latticed share: a host namespace running latticed and ToR
//! namespaces running FRR (zebra, bgpd, bfdd) or BIRD, latticed's configuration, and what
//! latticed (its API) and FRR (vtysh JSON) say about the sessions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use api::proto::{PeerState, PeerStatus, Reply, Request};
use serde_json::Value;
use testkit::daemons::Frr;
use testkit::netns::Netns;

/// Generous bounds on behaviour (tests assert what happens, not how fast).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// FRR with bfdd, nftables, latticed's binaries: what these tests need besides root.
pub fn can_run() -> bool {
    let mut files: Vec<&str> = testkit::daemons::FRR_BINARIES.to_vec();
    files.extend_from_slice(testkit::daemons::BFDD_BINARIES);
    testkit::require(true, &files)
}

/// A veth `a_dev` in `a` to `b_dev` in `b`, with the addresses given, both ends up.
pub fn link(a: &Netns, a_dev: &str, a_addrs: &[&str], b: &Netns, b_dev: &str, b_addrs: &[&str]) {
    a.veth(a_dev, b, b_dev);
    for addr in a_addrs {
        a.addr(a_dev, addr);
    }
    for addr in b_addrs {
        b.addr(b_dev, addr);
    }
    a.up(a_dev);
    b.up(b_dev);
}

/// latticed's configuration for host `name` (AS `asn`, router id `id`, block `block`) with
/// `peers` (YAML list items, one per line) and `bfd` (the `bgp.bfd` map, or empty), written
/// to `dir/NAME.yaml`; the API socket is `dir/NAME.sock`.
pub fn latticed_config(
    dir: &Path,
    name: &str,
    asn: u32,
    id: &str,
    block: &str,
    peers: &[String],
    bfd: &str,
) -> PathBuf {
    let peers: String = peers.iter().map(|p| format!("    - {p}\n")).collect();
    let bfd = if bfd.is_empty() {
        String::new()
    } else {
        format!("  bfd: {bfd}\n")
    };
    let text = format!(
        "node: {{name: {name}, asn: {asn}, router_id: {id}}}\n\
         cluster: {{cidr: 10.244.0.0/16, block_prefix_len: 24}}\n\
         ipam: {{datastore: local, state_dir: {state}, block: {block}}}\n\
         dataplane: {{mode: routed-veth, uplinks: [eth1]}}\n\
         bgp:\n  listen: {{address: '::', port: 179}}\n{bfd}  peers:\n{peers}\
         api: {{socket: {sock}}}\n\
         docker: {{enabled: false, socket: {sock}.docker}}\n",
        state = dir.join(format!("{name}-state")).display(),
        sock = socket(dir, name).display(),
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Host `name`'s API socket in `dir`.
pub fn socket(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sock"))
}

/// Every peer as latticed's API shows it (empty while latticed does not answer).
pub fn peers(socket: &Path) -> Vec<PeerStatus> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match rt.block_on(api::client::call(socket, &Request::Peers { peer: None })) {
        Ok(Reply::Peers { peers }) => peers,
        _ => Vec::new(),
    }
}

/// Peer `address` as latticed shows it.
pub fn peer(socket: &Path, address: &str) -> Option<PeerStatus> {
    let address: std::net::IpAddr = address.parse().unwrap();
    peers(socket).into_iter().find(|p| p.address == address)
}

/// Whether latticed's session with `address` is Established with its BFD session Up.
pub fn up_with_bfd(socket: &Path, address: &str) -> bool {
    peer(socket, address).is_some_and(|p| {
        p.state == PeerState::Established
            && p.bfd
                .as_ref()
                .is_some_and(|b| b.state == api::proto::BfdState::Up)
    })
}

/// FRR's `show bfd peers json` entry for `peer`.
pub fn frr_bfd(frr: &Frr, peer: &str) -> Option<Value> {
    let out = frr.vtysh(&["show bfd peers json"]);
    let all: Value = serde_json::from_str(&out).ok()?;
    all.as_array()?
        .iter()
        .find(|p| p["peer"].as_str() == Some(peer))
        .cloned()
}

/// FRR's `show bgp neighbors PEER json` object for `peer`.
pub fn frr_neighbor(frr: &Frr, peer: &str) -> Value {
    let out = frr.vtysh(&[&format!("show bgp neighbors {peer} json")]);
    let all: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    all[peer].clone()
}

/// Whether FRR's BGP session with `peer` is Established.
pub fn frr_established(frr: &Frr, peer: &str) -> bool {
    frr_neighbor(frr, peer)["bgpState"] == "Established"
}

/// `ip -n NS route show PREFIX` (empty when there is none).
pub fn route(ns: &Netns, prefix: &str) -> String {
    testkit::cmd::stdout(&["ip", "-n", ns, "route", "show", prefix])
}
