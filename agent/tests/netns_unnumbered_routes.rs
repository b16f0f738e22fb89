#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: learned routes on an unnumbered underlay, against the real kernel. IPv4 prefixes
//! go via IPv6 next hops (RFC 8950, `RTA_VIA`): link-local ones on their interface, ECMP across
//! two interfaces, a global one from a numbered IPv6 session; what the kernel reports back
//! compares equal to what was programmed (no rewrite at the next resync); a hop on a link that
//! goes down leaves the route; and the kernel refuses a link-local gateway without its device,
//! which is why it is never programmed.

mod common;

use agent::dataplane::{execute, LearnedRoute, LearnedRoutes, Reachability};
use agent::kernel::{Kernel, NetlinkKernel, NextHop, Route, RouteTarget, RTPROT_BGP};
use common::{netns_path, run, Namespaces};
use ipnet::IpNet;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

async fn reach(k: &NetlinkKernel) -> Reachability {
    Reachability::new(&k.links().await.unwrap(), &k.all_addresses().await.unwrap())
}

fn ip_route(ns: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(["-n", ns])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn ipv4_routes_via_ipv6_next_hops_across_interfaces() {
    if !testkit::require_root() {
        return;
    }
    let ns = format!("un-{}", std::process::id());
    let _guard = Namespaces::create(std::slice::from_ref(&ns));
    // Two uplinks with link-local addresses only; one of them also numbered over IPv6.
    for (a, b) in [("up0", "up1"), ("dn0", "dn1")] {
        run(&[
            "ip", "-n", &ns, "link", "add", a, "type", "veth", "peer", "name", b,
        ]);
        run(&["ip", "-n", &ns, "link", "set", a, "up"]);
        run(&["ip", "-n", &ns, "link", "set", b, "up"]);
    }
    run(&[
        "ip",
        "-n",
        &ns,
        "-6",
        "addr",
        "add",
        "fd00:98::1/64",
        "dev",
        "up0",
        "nodad",
    ]);
    let k = NetlinkKernel::in_netns(&netns_path(&ns)).await.unwrap();
    let index = |name: &str| {
        let k = &k;
        let name = name.to_string();
        async move { k.link_by_name(&name).await.unwrap().index }
    };
    let (up0, dn0) = (index("up0").await, index("dn0").await);
    let ll = |addr: &str, i: u32| NextHop {
        gateway: addr.parse().unwrap(),
        ifindex: Some(i),
    };

    let mut t = LearnedRoutes::new();
    let changes = [
        LearnedRoute {
            prefix: net("10.244.2.0/24"),
            next_hops: vec![ll("fe80::a", up0), ll("fe80::b", dn0)],
        },
        LearnedRoute {
            prefix: net("10.244.3.0/24"),
            next_hops: vec!["fd00:98::2".parse().unwrap()],
        },
        LearnedRoute {
            prefix: net("fd00:244:2::/64"),
            next_hops: vec![ll("fe80::a", up0), ll("fe80::b", dn0)],
        },
    ];
    let r = reach(&k).await;
    let ops: Vec<_> = changes.iter().flat_map(|c| t.apply(c, &r)).collect();
    assert_eq!(ops.len(), 3, "{ops:?}");
    execute(&k, &ops).await.unwrap();
    let shown = ip_route(&ns, &["route", "show", "proto", "bgp"]);
    assert!(
        shown.contains("nexthop via inet6 fe80::a dev up0")
            && shown.contains("nexthop via inet6 fe80::b dev dn0")
            && shown.contains("10.244.3.0/24 via inet6 fd00:98::2 dev up0"),
        "{shown}"
    );
    let shown6 = ip_route(&ns, &["-6", "route", "show", "proto", "bgp"]);
    assert!(
        shown6.contains("nexthop via fe80::a dev up0")
            && shown6.contains("nexthop via fe80::b dev dn0"),
        "{shown6}"
    );

    // What the kernel reports compares equal: a resync changes nothing.
    let actual = k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(t.reconcile(&actual, &r, true), [], "{actual:?}");

    // dn0 goes down: the kernel drops that hop itself; a resync programs the survivor alone.
    run(&["ip", "-n", &ns, "link", "set", "dn0", "down"]);
    let r = reach(&k).await;
    let actual = k.routes(RTPROT_BGP).await.unwrap();
    let ops = t.reconcile(&actual, &r, true);
    execute(&k, &ops).await.unwrap();
    let shown = ip_route(&ns, &["route", "show", "proto", "bgp", "10.244.2.0/24"]);
    assert!(
        shown.contains("10.244.2.0/24 via inet6 fe80::a dev up0"),
        "{shown}"
    );
    let actual = k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(t.reconcile(&actual, &r, true), []);

    // A link-local gateway without its device means nothing to the kernel either.
    let no_zone = Route {
        destination: net("10.244.9.0/24"),
        target: RouteTarget::Gateways(vec!["fe80::a".parse().unwrap()]),
        protocol: RTPROT_BGP,
    };
    assert!(k.replace_route(&no_zone).await.is_err());
}
