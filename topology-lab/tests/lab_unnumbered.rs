//! Root-only end-to-end: the unnumbered example (a spine, two racks of two leaves, each leaf in
//! an AS of its own, FRR with interface neighbours; a lattice host dual-homed in each rack with
//! interface peers and `asn: external`). No fabric link has an IPv4 or global IPv6 address;
//! every container reaches every other over IPv4 and IPv6, and every host holds the other
//! rack's blocks (both families) as one route over both uplinks (ECMP across the two leaves'
//! ASes), via IPv6 link-local next hops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::containers::{ip, ping, v6_of};
use common::eventually;
use std::time::Duration;

const ROUTERS: [&str; 5] = ["spine", "leaf1a", "leaf1b", "leaf2a", "leaf2b"];
const HOSTS: [&str; 2] = ["host1", "host2"];

/// The `nexthop` lines of the route to `prefix` (IPv4 or IPv6) in `ns`.
fn nexthops(ns: &str, family: &str, prefix: &str) -> Vec<String> {
    ip(ns, &[family, "route", "show", "proto", "bgp", prefix])
        .lines()
        .filter(|l| l.trim_start().starts_with("nexthop via"))
        .map(|l| l.trim().to_string())
        .collect()
}

/// Two next hops, link-local, one out of each uplink (`inet6` for an IPv4 route: RFC 8950).
fn two_way(hops: &[String], inet6: bool) -> bool {
    let via = if inet6 {
        "nexthop via inet6 fe80::"
    } else {
        "nexthop via fe80::"
    };
    hops.len() == 2
        && hops.iter().all(|h| h.starts_with(via))
        && hops.iter().any(|h| h.contains(" dev eth1 "))
        && hops.iter().any(|h| h.contains(" dev eth2 "))
}

#[test]
fn an_unnumbered_fabric_carries_ipv4_and_ipv6_with_ecmp_across_leaf_ases() {
    let Some(lab) = common::example_lab("unnumbered", "un") else {
        return;
    };
    let name = lab.name.clone();
    lab.ok("deploy", &[]);
    // 4 spine-leaf and 4 leaf-host sessions, counted from both ends.
    let waited = lab.ok("wait", &["--timeout", "120"]);
    assert!(
        waited.contains("all 16 BGP sessions established"),
        "{waited}"
    );

    // Not one IPv4 address on any fabric link (nor a global IPv6 one): link-local only.
    for node in ROUTERS.iter().chain(&HOSTS) {
        let ns = format!("{name}-{node}");
        for family in ["-4", "-6"] {
            let global = ip(&ns, &[family, "-o", "addr", "show", "scope", "global"]);
            let fabric: Vec<&str> = global
                .lines()
                .filter(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .is_some_and(|i| i.starts_with("eth"))
                })
                .collect();
            assert!(
                fabric.is_empty(),
                "{node} has addresses on fabric links: {fabric:?}"
            );
        }
    }

    // Two-way ECMP on every host, for the other rack's block in both families.
    for (host, other) in [("host1", 2), ("host2", 1)] {
        let ns = format!("{name}-{host}");
        let v4 = format!("10.244.{other}.0/24");
        let v6 = format!("fd00:10:244:{other}::/64");
        assert!(
            eventually(Duration::from_secs(60), || two_way(
                &nexthops(&ns, "-4", &v4),
                true
            )),
            "{host} {v4}: {:?}",
            ip(&ns, &["route"])
        );
        assert!(
            eventually(Duration::from_secs(60), || two_way(
                &nexthops(&ns, "-6", &v6),
                false
            )),
            "{host} {v6}: {:?}",
            ip(&ns, &["-6", "route"])
        );
    }

    // The IPv4 ping matrix (lattice-lab's), then the IPv6 one.
    let matrix = lab.ok("pingmatrix", &[]);
    assert!(matrix.contains("full reachability"), "{matrix}");
    let containers: Vec<String> = HOSTS
        .iter()
        .flat_map(|h| (1..=2).map(move |c| format!("{h}-c{c}")))
        .collect();
    let v6: Vec<(String, String)> = containers
        .iter()
        .map(|c| {
            let ns = format!("{name}-{c}");
            let a = v6_of(&ns).unwrap_or_else(|| panic!("{c} has no IPv6 address"));
            (ns, a)
        })
        .collect();
    for (from, _) in &v6 {
        for (to_ns, to) in &v6 {
            if from == to_ns {
                continue;
            }
            assert!(
                eventually(Duration::from_secs(20), || ping(from, to)),
                "{from} -> {to} over IPv6"
            );
        }
    }
    lab.destroy_and_check();
}
