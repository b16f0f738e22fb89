//! Root-only end-to-end: dual stack across two racks (spine and ToRs running FRR, one lattice
//! host per rack). Each container gets an IPv4 and an IPv6 address; both families are learned
//! over the IPv4 sessions and installed (`proto bgp`, IPv6 via the ToR's global address), and
//! the containers ping each other over both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::containers::{ip, ping, v6_of};
use common::eventually;

#[test]
fn containers_in_two_racks_reach_each_other_over_ipv4_and_ipv6() {
    let Some(lab) = common::example_lab("dual-stack", "ds") else {
        return;
    };
    let name = lab.name.clone();
    lab.ok("deploy", &[]);
    lab.ok("wait", &["--timeout", "90"]);
    let matrix = lab.ok("pingmatrix", &[]);
    assert!(matrix.contains("full reachability"), "{matrix}");

    let (h1, h2) = (format!("{name}-host1"), format!("{name}-host2"));
    let (c1, c2) = (format!("{name}-host1-c1"), format!("{name}-host2-c1"));
    let a1 = v6_of(&c1).expect("c1 has a global IPv6 address");
    let a2 = v6_of(&c2).expect("c2 has a global IPv6 address");
    assert!(a1.starts_with("fd00:10:244:1:"), "{a1}");
    assert!(a2.starts_with("fd00:10:244:2:"), "{a2}");
    let learned6 =
        |h: &str, block: &str| ip(h, &["-6", "route", "show", "proto", "bgp"]).contains(block);
    assert!(
        eventually(Duration::from_secs(60), || learned6(
            &h1,
            "fd00:10:244:2::/64"
        ) && learned6(
            &h2,
            "fd00:10:244:1::/64"
        )),
        "host1: {}\nhost2: {}",
        ip(&h1, &["-6", "route"]),
        ip(&h2, &["-6", "route"])
    );
    let blackholes = ip(&h1, &["-6", "route", "show", "proto", "252"]);
    assert!(
        blackholes.contains("blackhole fd00:10:244:1::/64"),
        "{blackholes}"
    );
    // The hosts learning each other's block proves BGP end to end; FRR's zebra may still be
    // installing on a loaded machine, so wait for every router's kernel too.
    for r in ["spine1", "tor1", "tor2"] {
        let ns = format!("{name}-{r}");
        let both = || {
            let routes = ip(&ns, &["-6", "route"]);
            routes.contains("fd00:10:244:1::/64") && routes.contains("fd00:10:244:2::/64")
        };
        assert!(
            eventually(Duration::from_secs(60), both),
            "{r}: {}",
            ip(&ns, &["-6", "route"])
        );
    }
    let diag = || {
        ["host1", "tor1", "spine1", "tor2", "host2"]
            .map(|n| format!("{n}:\n{}", ip(&format!("{name}-{n}"), &["-6", "route"])))
            .join("\n")
    };
    assert!(
        eventually(Duration::from_secs(60), || ping(&c1, &a2)),
        "c1 -> c2 over IPv6\n{}",
        diag()
    );
    assert!(ping(&c2, &a1), "c2 -> c1 over IPv6");
    lab.destroy_and_check();
}
