use std::net::IpAddr;

use super::*;
use crate::kernel::fake::FakeOp;
use crate::kernel::{FakeKernel, NextHop, RouteTarget};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, last])
}

fn change(prefix: &str, hops: &[IpAddr]) -> LearnedRoute {
    LearnedRoute {
        prefix: net(prefix),
        next_hops: hops.iter().map(|h| NextHop::via(*h)).collect(),
    }
}

/// A change whose next hops may carry an interface (`fe80::1%3`).
fn change_via(prefix: &str, hops: &[&str]) -> LearnedRoute {
    LearnedRoute {
        prefix: net(prefix),
        next_hops: hops.iter().map(|h| h.parse().unwrap()).collect(),
    }
}

fn replace_via(prefix: &str, hops: &[&str]) -> RouteOp {
    let hops: Vec<NextHop> = hops.iter().map(|h| h.parse().unwrap()).collect();
    RouteOp::learned(net(prefix), &hops)
}

fn all() -> Reachability {
    Reachability::everything()
}

fn replace(prefix: &str, hops: &[IpAddr]) -> RouteOp {
    let hops: Vec<NextHop> = hops.iter().map(|h| NextHop::via(*h)).collect();
    RouteOp::learned(net(prefix), &hops)
}

fn delete(prefix: &str) -> RouteOp {
    RouteOp::Delete {
        destination: net(prefix),
        protocol: RTPROT_BGP,
    }
}

#[test]
fn add_replace_multipath_and_withdraw() {
    let mut t = LearnedRoutes::new();
    let p = net("10.244.2.0/24");
    assert_eq!(
        t.apply(&change("10.244.2.0/24", &[ip(2)]), &all()),
        [replace("10.244.2.0/24", &[ip(2)])]
    );
    // A second path: one replace carrying both, sorted and deduplicated.
    assert_eq!(
        t.apply(&change("10.244.2.0/24", &[ip(3), ip(2), ip(3)]), &all()),
        [replace("10.244.2.0/24", &[ip(2), ip(3)])]
    );
    // Same set in another order: nothing to do.
    assert!(t
        .apply(&change("10.244.2.0/24", &[ip(2), ip(3)]), &all())
        .is_empty());
    assert_eq!(
        t.next_hops(p),
        Some(&[NextHop::via(ip(2)), NextHop::via(ip(3))][..])
    );
    assert_eq!(
        t.apply(&change("10.244.2.0/24", &[]), &all()),
        [delete("10.244.2.0/24")]
    );
    assert!(t.apply(&change("10.244.2.0/24", &[]), &all()).is_empty());
    assert!(t.is_empty());
}

#[test]
fn the_multipath_count_follows_installs_withdrawals_and_resyncs() {
    let mut t = LearnedRoutes::new();
    t.apply(&change("10.244.2.0/24", &[ip(2), ip(3)]), &all());
    t.apply(&change("10.244.3.0/24", &[ip(2)]), &all());
    assert_eq!((t.len(), t.multipath_len()), (2, 1));
    t.apply(&change("10.244.3.0/24", &[ip(2), ip(3)]), &all());
    assert_eq!(t.multipath_len(), 2);
    t.apply(&change("10.244.2.0/24", &[ip(3)]), &all());
    t.apply(&change("10.244.3.0/24", &[]), &all());
    assert_eq!((t.len(), t.multipath_len()), (1, 0));
    t.apply(&change("10.244.4.0/24", &[ip(2), ip(4)]), &all());
    t.reconcile(&[], &all(), false);
    assert_eq!((t.len(), t.multipath_len()), (2, 1));
}

#[test]
fn ipv6_routes_and_family_mismatched_hops() {
    let mut t = LearnedRoutes::new();
    let v6hop: IpAddr = "fd00:99::2".parse().unwrap();
    assert_eq!(
        t.apply(&change("fd00:244:0:2::/64", &[v6hop, ip(2)]), &all()),
        [replace("fd00:244:0:2::/64", &[v6hop])],
        "the kernel has no IPv6 route via an IPv4 gateway"
    );
    // RFC 8950: an IPv4 prefix via an IPv6 gateway.
    assert_eq!(
        t.apply(&change("10.244.3.0/24", &[v6hop]), &all()),
        [replace("10.244.3.0/24", &[v6hop])]
    );
}

#[test]
fn link_local_gateways_go_with_their_interface_across_interfaces() {
    let link = |index, up| crate::kernel::LinkInfo {
        index,
        name: format!("eth{index}"),
        mac: None,
        mtu: 1500,
        up,
        peer_index: None,
    };
    // No IPv4 (nor global IPv6) address anywhere: only the links' link-local ones.
    let links = [link(1, true), link(2, true), link(3, false)];
    let addrs = [
        (1, net("fe80::1/64")),
        (2, net("fe80::1/64")),
        (3, net("fe80::1/64")),
    ];
    let reach = Reachability::new(&links, &addrs);
    let mut t = LearnedRoutes::new();
    // Two leaves, the same link-local address on both links: two hops, ECMP across interfaces.
    assert_eq!(
        t.apply(
            &change_via("10.244.2.0/24", &["fe80::a%2", "fe80::a%1"]),
            &reach
        ),
        [replace_via("10.244.2.0/24", &["fe80::a%1", "fe80::a%2"])]
    );
    // A global next hop that no connected prefix holds, a link-local one without its
    // interface, one on a down link: left out, each with its reason.
    let bad = ["fd00:99::1", "fe80::b", "fe80::c%3", "fe80::d%9"];
    let reasons: Vec<String> = bad
        .iter()
        .map(|h| reach.why_not(h.parse().unwrap()).unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "next hop fd00:99::1 is not on-link (no up interface has a prefix holding it)",
            "next hop fe80::b has no interface",
            "next hop fe80::c is on eth3, which is down",
            "next hop fe80::d: interface 9 is gone",
        ]
    );
    let mut with_bad = vec!["fe80::a%1"];
    with_bad.extend(bad);
    assert_eq!(
        t.apply(&change_via("10.244.3.0/24", &with_bad), &reach),
        [replace_via("10.244.3.0/24", &["fe80::a%1"])]
    );
    assert!(t
        .apply(&change_via("10.244.4.0/24", &bad), &reach)
        .is_empty());
    // The kernel reports an interface on every hop: a global gateway compares without it, a
    // link-local one with it, so an adopted route is not rewritten.
    let actual = [
        Route {
            destination: net("10.244.2.0/24"),
            target: RouteTarget::Gateways(vec![
                "fe80::a%2".parse().unwrap(),
                "fe80::a%1".parse().unwrap(),
            ]),
            protocol: RTPROT_BGP,
        },
        Route {
            destination: net("10.244.3.0/24"),
            target: RouteTarget::Gateways(vec!["fe80::a%2".parse().unwrap()]),
            protocol: RTPROT_BGP,
        },
    ];
    assert_eq!(
        t.reconcile(&actual, &reach, false),
        [replace_via("10.244.3.0/24", &["fe80::a%1"])]
    );
}

#[tokio::test]
async fn the_kernel_refuses_a_link_local_gateway_without_its_interface() {
    let k = FakeKernel::new();
    let no_zone = replace_via("10.244.2.0/24", &["fe80::a"]);
    assert!(execute(&k, &[no_zone]).await.is_err());
}

#[test]
fn only_reachable_next_hops_are_installed() {
    let link = |index, up| crate::kernel::LinkInfo {
        index,
        name: format!("up{index}"),
        mac: None,
        mtu: 1500,
        up,
        peer_index: None,
    };
    let links = [link(1, true), link(2, false)];
    let addrs = [
        (1, net("10.0.0.1/24")),
        (2, net("10.9.0.1/24")),
        (1, net("10.7.7.7/32")),
    ];
    let reach = Reachability::new(&links, &addrs);
    assert!(reach.reaches(NextHop::via(ip(2))));
    assert!(
        !reach.reaches(NextHop::via(IpAddr::from([10, 9, 0, 2]))),
        "link down"
    );
    assert!(
        !reach.reaches(NextHop::via(IpAddr::from([10, 7, 7, 7]))),
        "a /32 connects nothing"
    );

    let mut t = LearnedRoutes::new();
    let far = IpAddr::from([10, 9, 0, 2]);
    assert_eq!(
        t.apply(&change("10.244.2.0/24", &[ip(2), far]), &reach),
        [replace("10.244.2.0/24", &[ip(2)])]
    );
    // Nothing reachable: no route at all (and no op when there was none), counted.
    assert!(t.apply(&change("10.244.3.0/24", &[far]), &reach).is_empty());
    assert_eq!(t.len(), 1);
    assert_eq!(t.not_installed(), 1);
    // One of this host's own addresses, inside a connected network: never a gateway.
    let own = IpAddr::from([10, 0, 0, 1]);
    assert!(!reach.reaches(NextHop::via(own)));
    assert!(reach
        .why_not(NextHop::via(own))
        .unwrap()
        .contains("this host's own address"));
    assert!(t.apply(&change("10.244.4.0/24", &[own]), &reach).is_empty());
    assert_eq!(t.not_installed(), 2);
    assert!(reach
        .why_not(NextHop::via(far))
        .unwrap()
        .contains("not on-link"));
    for never in ["127.0.0.1", "::1", "224.0.0.5", "0.0.0.0"] {
        let hop = NextHop::via(never.parse::<IpAddr>().unwrap());
        assert!(reach.why_not(hop).unwrap().contains("cannot be a gateway"));
    }
    t.apply(&change("10.244.4.0/24", &[]), &reach);
    assert_eq!(t.not_installed(), 1);
    // The far link comes up: a resync adds the second path and the other prefix.
    let links = [link(1, true), link(2, true)];
    let reach = Reachability::new(&links, &addrs);
    let actual = [Route::via(net("10.244.2.0/24"), &[ip(2)], RTPROT_BGP)];
    let ops = t.reconcile(&actual, &reach, false);
    assert_eq!(
        ops,
        [
            replace("10.244.2.0/24", &[ip(2), far]),
            replace("10.244.3.0/24", &[far]),
        ]
    );
}

#[test]
fn host_bits_are_ignored_and_protected_blocks_skipped() {
    let mut t = LearnedRoutes::new();
    t.protect(net("10.244.1.0/24"));
    assert!(t
        .apply(&change("10.244.1.0/24", &[ip(2)]), &all())
        .is_empty());
    assert!(t
        .apply(&change("10.244.1.7/32", &[ip(2)]), &all())
        .is_empty());
    let ops = t.apply(&change("10.244.2.9/24", &[ip(2)]), &all());
    assert_eq!(ops, [replace("10.244.2.0/24", &[ip(2)])]);
    assert_eq!(t.len(), 1);
}

#[test]
fn reconcile_fixes_differences_and_prunes_only_when_asked() {
    let mut t = LearnedRoutes::new();
    t.apply(&change("10.244.2.0/24", &[ip(2), ip(3)]), &all());
    t.apply(&change("10.244.3.0/24", &[ip(2)]), &all());
    let actual = [
        Route::via(net("10.244.2.0/24"), &[ip(3), ip(2)], RTPROT_BGP),
        Route::via(net("10.244.3.0/24"), &[ip(9)], RTPROT_BGP),
        Route::via(net("10.244.9.0/24"), &[ip(2)], RTPROT_BGP),
        Route::blackhole(net("10.244.1.0/24"), RTPROT_LATTICE),
    ];
    // Adoption window: the stray stays.
    assert_eq!(
        t.reconcile(&actual, &all(), false),
        [replace("10.244.3.0/24", &[ip(2)])]
    );
    assert_eq!(
        t.reconcile(&actual, &all(), true),
        [replace("10.244.3.0/24", &[ip(2)]), delete("10.244.9.0/24")]
    );
}

#[tokio::test]
async fn executor_installs_one_multipath_route_and_removes_it() {
    let k = FakeKernel::new();
    let mut t = LearnedRoutes::new();
    execute(&k, &t.apply(&change("10.244.2.0/24", &[ip(2)]), &all()))
        .await
        .unwrap();
    execute(
        &k,
        &t.apply(&change("10.244.2.0/24", &[ip(2), ip(3)]), &all()),
    )
    .await
    .unwrap();
    let routes = k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(
        routes[0].target,
        RouteTarget::Gateways(vec![NextHop::via(ip(2)), NextHop::via(ip(3))])
    );
    // Replaced in place: never deleted between the two versions.
    assert!(!k.log().iter().any(|(_, op)| *op == FakeOp::DeleteRoute));
    execute(&k, &t.apply(&change("10.244.2.0/24", &[]), &all()))
        .await
        .unwrap();
    assert!(k.routes(RTPROT_BGP).await.unwrap().is_empty());
    // Deleting what is already gone is fine.
    execute(&k, &[delete("10.244.2.0/24")]).await.unwrap();
}

#[tokio::test]
async fn executor_keeps_the_order_of_ops_on_one_destination() {
    let k = FakeKernel::new();
    let mut ops = Vec::new();
    for i in 0..1000u32 {
        let p = format!("10.{}.{}.0/24", 100 + i / 256, i % 256);
        ops.push(replace(&p, &[ip(1)]));
    }
    // The same prefix three times: the last one must win.
    ops.push(replace("10.100.0.0/24", &[ip(2)]));
    ops.push(delete("10.100.1.0/24"));
    ops.push(replace("10.100.0.0/24", &[ip(3)]));
    execute(&k, &ops).await.unwrap();
    let routes = k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(routes.len(), 999);
    let r = routes
        .iter()
        .find(|r| r.destination == net("10.100.0.0/24"))
        .unwrap();
    assert_eq!(r.gateways(), [ip(3)]);
}

#[tokio::test]
async fn executor_tries_every_op_and_reports_the_first_failure() {
    let k = FakeKernel::new();
    k.fail_next(FakeOp::ReplaceRoute, 1);
    let ops = [
        replace("10.244.2.0/24", &[ip(2)]),
        replace("10.244.3.0/24", &[ip(2)]),
    ];
    assert!(execute(&k, &ops).await.is_err());
    let routes = k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(routes.len(), 1);
}

#[tokio::test]
async fn blackhole_and_forwarding() {
    let k = FakeKernel::new();
    ensure_blackhole(&k, net("10.244.1.0/24")).await.unwrap();
    ensure_blackhole(&k, net("10.244.1.0/24")).await.unwrap();
    ensure_blackhole(&k, net("fd00:244:0:1::/64"))
        .await
        .unwrap();
    let ours = k.routes(RTPROT_LATTICE).await.unwrap();
    assert_eq!(
        ours,
        [
            Route::blackhole(net("10.244.1.0/24"), RTPROT_LATTICE),
            Route::blackhole(net("fd00:244:0:1::/64"), RTPROT_LATTICE)
        ]
    );
    prepare_host(&k).await.unwrap();
    assert_eq!(k.read_sysctl("net/ipv4/ip_forward").await.unwrap(), "1");
    assert_eq!(
        k.read_sysctl("net/ipv6/conf/all/forwarding").await.unwrap(),
        "1"
    );
}
