//! Root-only end-to-end: the two-racks example with real FRR and latticed, through lattice-lab.
//! Needs the `latticed` binary next to `lattice-lab` (the Makefile builds the workspace first).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::eventually;

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
        assert!(eventually(20, holds_all), "{tor} lacks some host block");
    }

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
        3 * 2 + 4,
        "zebra+bgpd per router, latticed per host"
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
