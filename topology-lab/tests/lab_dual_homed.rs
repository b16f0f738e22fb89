//! Root-only end-to-end: hosts dual-homed to two FRR ToRs get one two-path ECMP route to each
//! other's block, and keep full reachability when one ToR's FRR is stopped (the route drops to
//! the surviving path, replaced in place).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::eventually;

fn bgp_routes(ns: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", ns, "route", "show", "proto", "bgp"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_dual_homed_host_uses_both_tors_and_survives_losing_one() {
    let Some(lab) = common::example_lab("dual-homed", "dh") else {
        return;
    };
    let name = lab.name.clone();
    lab.ok("deploy", &[]);
    // Counted from both ends: 4 sessions, 8 ends.
    let waited = lab.ok("wait", &["--timeout", "90"]);
    assert!(
        waited.contains("all 8 BGP sessions established"),
        "{waited}"
    );

    let (h1, h2) = (format!("{name}-host1"), format!("{name}-host2"));
    let two_paths = |ns: &str, block: &str, a: &str, b: &str| {
        let routes = bgp_routes(ns);
        routes.contains(block)
            && routes.contains(&format!("nexthop via {a} "))
            && routes.contains(&format!("nexthop via {b} "))
    };
    assert!(
        eventually(Duration::from_secs(40), || two_paths(
            &h1,
            "10.244.2.0/24",
            "10.0.11.1",
            "10.0.12.1"
        )),
        "host1: {}",
        bgp_routes(&h1)
    );
    assert!(
        eventually(Duration::from_secs(40), || two_paths(
            &h2,
            "10.244.1.0/24",
            "10.0.21.1",
            "10.0.22.1"
        )),
        "host2: {}",
        bgp_routes(&h2)
    );
    let matrix = lab.ok("pingmatrix", &[]);
    assert!(matrix.contains("full reachability"), "{matrix}");

    // Stop tor1's FRR (its zebra and bgpd: the pids this lab started).
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.lab_dir().join("state.json")).unwrap())
            .unwrap();
    let tor1 = state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "tor1")
        .unwrap();
    for pid in tor1["pids"].as_array().unwrap() {
        let pid = nix::unistd::Pid::from_raw(pid.as_i64().unwrap() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
    let one_path = |ns: &str, block: &str, via: &str| {
        let routes = bgp_routes(ns);
        routes.contains(&format!("{block} via {via} ")) && !routes.contains("nexthop")
    };
    assert!(
        eventually(Duration::from_secs(40), || one_path(
            &h1,
            "10.244.2.0/24",
            "10.0.12.1"
        )),
        "host1 after tor1 stopped: {}",
        bgp_routes(&h1)
    );
    assert!(
        eventually(Duration::from_secs(40), || one_path(
            &h2,
            "10.244.1.0/24",
            "10.0.22.1"
        )),
        "host2 after tor1 stopped: {}",
        bgp_routes(&h2)
    );
    let matrix = lab.ok("pingmatrix", &[]);
    assert!(
        matrix.contains("full reachability") && !matrix.contains("FAIL"),
        "{matrix}"
    );
    lab.destroy_and_check();
}
