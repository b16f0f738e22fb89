//! Root-only end-to-end: the two-racks example with real FRR and latticed, through lattice-lab.
//! Needs the `latticed` binary next to `lattice-lab` (the Makefile builds the workspace first).
//! The fabric is dual stack: each container gets an IPv4 and an IPv6 address, both families are
//! learned over the IPv4 sessions and installed (`proto bgp`, IPv6 via the ToR's global
//! address), and containers ping each other over IPv6 within a rack and across the racks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::containers::{ip, ping, v6_of};
use common::eventually;

/// IPv6 across the fabric: blocks learned and blackholed, every router's kernel holding every
/// block, and pings from host1's first container to a container on every other host (host2
/// in its rack, host3 and host4 across the spine), and back from the other rack.
fn dual_stack_reaches_across_the_racks(name: &str) {
    let ctr = |h: u32, c: u32| format!("{name}-host{h}-c{c}");
    let mut v6 = std::collections::BTreeMap::new();
    for h in 1..=4 {
        for c in 1..=2 {
            let a = v6_of(&ctr(h, c)).unwrap_or_else(|| panic!("{} has no IPv6", ctr(h, c)));
            assert!(a.starts_with(&format!("fd00:10:244:{h}:")), "{a}");
            v6.insert((h, c), a);
        }
    }
    let blocks6: Vec<String> = (1..=4).map(|h| format!("fd00:10:244:{h}::/64")).collect();
    for h in 1..=4 {
        let ns = format!("{name}-host{h}");
        let learned = || {
            let routes = ip(&ns, &["-6", "route", "show", "proto", "bgp"]);
            (1..=4)
                .filter(|&o| o != h)
                .all(|o| routes.contains(&blocks6[o as usize - 1]))
        };
        assert!(
            eventually(Duration::from_secs(60), learned),
            "host{h}: {}",
            ip(&ns, &["-6", "route"])
        );
        let ours = ip(&ns, &["-6", "route", "show", "proto", "252"]);
        let hole = format!("blackhole {}", blocks6[h as usize - 1]);
        assert!(ours.contains(&hole), "host{h}: {ours}");
    }
    // Hosts learning every block proves BGP end to end; zebra may still be installing on a
    // loaded machine, so wait for every router's kernel too.
    for r in ["spine1", "tor1", "tor2"] {
        let ns = format!("{name}-{r}");
        let all = || {
            let routes = ip(&ns, &["-6", "route"]);
            blocks6.iter().all(|b| routes.contains(b.as_str()))
        };
        assert!(
            eventually(Duration::from_secs(60), all),
            "{r}: {}",
            ip(&ns, &["-6", "route"])
        );
    }
    let diag = || {
        ["host1", "tor1", "spine1", "tor2", "host3"]
            .map(|n| format!("{n}:\n{}", ip(&format!("{name}-{n}"), &["-6", "route"])))
            .join("\n")
    };
    let from = ctr(1, 1);
    for to in [(2, 1), (3, 1), (4, 2)] {
        let a = &v6[&to];
        assert!(
            eventually(Duration::from_secs(60), || ping(&from, a)),
            "{from} -> host{}-c{} ({a}) over IPv6\n{}",
            to.0,
            to.1,
            diag()
        );
    }
    assert!(
        ping(&ctr(3, 2), &v6[&(1, 1)]),
        "host3-c2 -> host1-c1 over IPv6"
    );
    assert!(
        ping(&ctr(4, 1), &v6[&(2, 2)]),
        "host4-c1 -> host2-c2 over IPv6"
    );
}

#[test]
fn two_racks_converge_and_every_container_reaches_every_other() {
    let Some(lab) = common::example_lab("two-racks", "tr") else {
        return;
    };
    let name = lab.name.clone();

    lab.ok("deploy", &[]);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.lab_dir().join("state.json")).unwrap())
            .unwrap();
    let containers: usize = state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["containers"].as_array().unwrap().len())
        .sum();
    assert_eq!(containers, 8, "two containers on each of four hosts");
    assert_eq!(lab.namespaces().len(), 7 + 8);

    let waited = lab.ok("wait", &["--timeout", "90"]);
    // spine: 2, each tor: 3, each host: 1.
    assert!(
        waited.contains("all 12 BGP sessions established"),
        "{waited}"
    );

    let matrix = lab.ok("pingmatrix", &["--since-deploy"]);
    assert!(
        matrix.contains("full reachability") && !matrix.contains("FAIL"),
        "{matrix}"
    );

    for tor in ["tor1", "tor2"] {
        let ns = format!("{name}-{tor}");
        let holds_all = || {
            let out = Command::new("ip")
                .args(["-n", &ns, "route", "show", "proto", "bgp"])
                .output()
                .unwrap();
            let routes = String::from_utf8_lossy(&out.stdout).into_owned();
            (1..=4).all(|i| routes.contains(&format!("10.244.{i}.0/24")))
        };
        assert!(
            eventually(Duration::from_secs(20), holds_all),
            "{tor} lacks some host block"
        );
    }

    dual_stack_reaches_across_the_racks(&name);

    let pids: Vec<u64> = state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| {
            n["pids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        pids.len(),
        3 * 3 + 4,
        "zebra, bgpd and staticd per router (FRR's image always starts staticd), latticed per host"
    );
    lab.destroy_and_check();
    for p in pids {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let gone = stat.is_empty()
            || stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        assert!(gone, "pid {p} of the lab is still alive");
    }
}
