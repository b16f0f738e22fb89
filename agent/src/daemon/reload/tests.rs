//! The reload plan, pure: which peers are added, removed, reset or changed live, and which
//! keys need a restart.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use super::keys::{changed_peer_keys, restart_required, Effect, PEER_KEYS};
use super::plan;
use crate::config::Config;
use crate::daemon::peer_configs;

const BASE: &str = "\
node: { name: h1, asn: 65101, router_id: 10.0.0.1 }
cluster: { cidr: 10.244.0.0/16 }
ipam: { block: 10.244.1.0/24 }
bgp:
  peers:
    - { address: 10.0.1.1, asn: 65001, import: in }
    - { address: 10.0.2.1, asn: 65002, communities: ['65000:1'] }
    - { address: 10.0.3.1, asn: 65003 }
  policies:
    in: { default: accept }
";

fn config(text: &str) -> Config {
    Config::from_yaml_str(text, "t").unwrap()
}

/// What the speaker runs for `c`.
fn running(c: &Config) -> BTreeMap<bgp::PeerKey, bgp::driver::PeerConfig> {
    peer_configs(c)
        .into_iter()
        .map(|p| (p.peer.clone(), p))
        .collect()
}

#[test]
fn every_peer_key_is_classified_once() {
    let mut names: Vec<&str> = PEER_KEYS.iter().map(|(k, _)| *k).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PEER_KEYS.len());
    let reset: Vec<&str> = PEER_KEYS
        .iter()
        .filter(|(_, e)| *e == Effect::Reset)
        .map(|(k, _)| *k)
        .collect();
    for k in [
        "asn",
        "hold_time",
        "password",
        "address_families",
        "local_address",
    ] {
        assert!(reset.contains(&k), "{k} must reset the session");
    }
}

#[test]
fn the_plan_applies_only_the_difference() {
    let old = config(BASE);
    let same = plan(&old, &old, &running(&old)).unwrap();
    assert!(same.is_empty());
    assert_eq!(same.unchanged, 3);

    let new = config(
        &BASE
            .replace(
                "{ address: 10.0.1.1, asn: 65001, import: in }",
                "{ address: 10.0.1.1, asn: 65001, import: in, hold_time: 30 }",
            )
            .replace("communities: ['65000:1']", "communities: ['65000:2']")
            .replace(
                "    - { address: 10.0.3.1, asn: 65003 }\n",
                "    - { address: 10.0.4.1, asn: 65004 }\n    - { address: 10.0.3.2, asn: 65003 }\n",
            ),
    );
    let p = plan(&old, &new, &running(&old)).unwrap();
    assert_eq!(
        p.removed,
        vec![bgp::PeerKey::from(
            "10.0.3.1".parse::<std::net::IpAddr>().unwrap()
        )]
    );
    assert_eq!(p.reset.len(), 1);
    assert_eq!(p.reset[0].what, vec!["hold_time".to_string()]);
    assert_eq!(p.reset[0].was, None);
    assert_eq!(p.live.len(), 1);
    assert_eq!(p.live[0].what, vec!["communities".to_string()]);
    assert_eq!(p.added.len(), 2);
    assert_eq!(p.unchanged, 0);

    // A policy's definition changes under the same name: its peers take it live.
    let edited = config(&BASE.replace("in: { default: accept }", "in: { default: reject }"));
    let p = plan(&old, &edited, &running(&old)).unwrap();
    assert_eq!(p.live.len(), 1);
    assert_eq!(p.live[0].what, vec!["bgp.policies.in".to_string()]);
    assert_eq!(p.unchanged, 2);

    // What the speaker runs is what the plan starts from: a peer missing there is added.
    let mut partial = running(&old);
    partial.remove(&"10.0.2.1".parse::<std::net::IpAddr>().unwrap().into());
    let p = plan(&old, &old, &partial).unwrap();
    assert_eq!(p.added.len(), 1);
}

#[test]
fn keys_that_need_a_restart_are_named() {
    let old = config(BASE);
    let new = config(
        &BASE
            .replace("asn: 65101", "asn: 65102")
            .replace("cidr: 10.244.0.0/16", "cidr: 10.245.0.0/16")
            .replace("block: 10.244.1.0/24", "block: 10.245.1.0/24")
            .replace("bgp:\n", "bgp:\n  graceful_restart: { restart_time: 60 }\n"),
    );
    assert_eq!(
        restart_required(&old, &new),
        vec![
            "node.asn",
            "cluster.cidr",
            "ipam.block",
            "bgp.graceful_restart.restart_time"
        ]
    );
    assert_eq!(
        plan(&old, &new, &running(&old)).unwrap_err(),
        vec![
            "node.asn",
            "cluster.cidr",
            "ipam.block",
            "bgp.graceful_restart.restart_time"
        ]
    );
    // The router id and where IPAM keeps its state.
    let other = config(
        &BASE
            .replace("router_id: 10.0.0.1", "router_id: 10.0.0.9")
            .replace("ipam: {", "ipam: { state_dir: /tmp/x, "),
    );
    assert_eq!(
        restart_required(&old, &other),
        vec!["node.router_id", "ipam.state_dir"]
    );
    // Peer keys alone never need one.
    let a = &old.bgp.peers[2];
    let mut b = a.clone();
    b.max_prefixes = Some(10);
    b.allow_as_in = 1;
    assert_eq!(
        changed_peer_keys(a, &b),
        vec![
            ("allow_as_in", Effect::Import),
            ("max_prefixes", Effect::Reset)
        ]
    );
}

fn key(s: &str) -> bgp::PeerKey {
    s.parse().unwrap()
}

/// Interface peers are matched by their interface; an entry whose address or interface changed
/// in place is that peer reset alone, not one removed and another added.
#[test]
fn interface_peers_and_keys_changed_in_place() {
    let base = BASE.replace(
        "    - { address: 10.0.3.1, asn: 65003 }\n",
        "    - { address: 10.0.3.1, asn: 65003 }\n    - { interface: eth1, asn: external }\n",
    );
    let old = config(&base);
    assert_eq!(plan(&old, &old, &running(&old)).unwrap().unchanged, 4);

    // The interface peer's communities: live, by its interface.
    let p = plan(
        &old,
        &config(&base.replace(
            "{ interface: eth1, asn: external }",
            "{ interface: eth1, asn: external, communities: ['65000:9'] }",
        )),
        &running(&old),
    )
    .unwrap();
    assert_eq!(p.live.len(), 1);
    assert_eq!(p.live[0].config.peer, key("eth1"));
    assert_eq!((p.reset.len(), p.added.len(), p.removed.len()), (0, 0, 0));

    // Its interface changed in place: that peer reset (from eth1 to eth2), nothing else.
    let p = plan(
        &old,
        &config(&base.replace("interface: eth1", "interface: eth2")),
        &running(&old),
    )
    .unwrap();
    assert_eq!((p.removed.len(), p.added.len(), p.live.len()), (0, 0, 0));
    assert_eq!(p.reset.len(), 1);
    assert_eq!(p.reset[0].was, Some(key("eth1")));
    assert_eq!(p.reset[0].config.peer, key("eth2"));
    assert_eq!(p.reset[0].what, vec!["interface".to_string()]);
    assert_eq!(p.unchanged, 3);

    // An address peer changed in place to an interface peer: reset, both keys named.
    let p = plan(
        &old,
        &config(&base.replace(
            "{ address: 10.0.3.1, asn: 65003 }",
            "{ interface: eth3, asn: 65003 }",
        )),
        &running(&old),
    )
    .unwrap();
    assert_eq!(p.reset.len(), 1);
    assert_eq!(p.reset[0].was, Some(key("10.0.3.1")));
    assert_eq!(p.reset[0].config.peer, key("eth3"));
    assert_eq!(
        p.reset[0].what,
        vec!["address".to_string(), "interface".to_string()]
    );

    // The interface peer removed, others added at the end: removed and added, not paired (the
    // entry now at its position has another AS).
    let p = plan(
        &old,
        &config(
            &base.replace("    - { interface: eth1, asn: external }\n", "")
                .replace("  policies:", "    - { address: 10.0.5.1, asn: 65005 }\n    - { interface: eth9, asn: external }\n  policies:"),
        ),
        &running(&old),
    )
    .unwrap();
    assert_eq!(p.removed, vec![key("eth1")]);
    assert_eq!(
        p.added.iter().map(|c| c.peer.clone()).collect::<Vec<_>>(),
        vec![key("10.0.5.1"), key("eth9")]
    );
    assert!(p.reset.is_empty());

    // Two entries swapping their addresses: each keeps its session, with the other's
    // settings (matched by key, never paired by position).
    let swapped = base
        .replace(
            "address: 10.0.1.1, asn: 65001",
            "address: 10.0.X.1, asn: 65001",
        )
        .replace(
            "address: 10.0.2.1, asn: 65002",
            "address: 10.0.1.1, asn: 65002",
        )
        .replace("10.0.X.1", "10.0.2.1");
    let p = plan(&old, &config(&swapped), &running(&old)).unwrap();
    assert!(p.removed.is_empty() && p.added.is_empty());
    assert_eq!(p.reset.len(), 2);
    assert!(p.reset.iter().all(|c| c.was.is_none()));
}
