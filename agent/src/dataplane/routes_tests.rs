use super::*;
use crate::kernel::fake::FakeOp;
use crate::kernel::{FakeKernel, NextHop, RouteTarget};

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, last)
}

fn change(prefix: &str, hops: &[Ipv4Addr]) -> LearnedRoute {
    LearnedRoute {
        prefix: net(prefix),
        next_hops: hops.to_vec(),
    }
}

#[test]
fn add_replace_multipath_and_withdraw() {
    let mut t = LearnedRoutes::new();
    let p = net("10.244.2.0/24");
    assert_eq!(
        t.apply(&change("10.244.2.0/24", &[ip(2)])),
        [RouteOp::Replace {
            prefix: p,
            next_hops: vec![ip(2)]
        }]
    );
    // A second path: one replace carrying both, sorted and deduplicated.
    assert_eq!(
        t.apply(&change("10.244.2.0/24", &[ip(3), ip(2), ip(3)])),
        [RouteOp::Replace {
            prefix: p,
            next_hops: vec![ip(2), ip(3)]
        }]
    );
    // Same set in another order: nothing to do.
    assert!(t
        .apply(&change("10.244.2.0/24", &[ip(2), ip(3)]))
        .is_empty());
    assert_eq!(t.next_hops(p), Some(&[ip(2), ip(3)][..]));
    assert_eq!(
        t.apply(&change("10.244.2.0/24", &[])),
        [RouteOp::Delete { prefix: p }]
    );
    assert!(t.apply(&change("10.244.2.0/24", &[])).is_empty());
    assert!(t.is_empty());
}

#[test]
fn host_bits_are_ignored_and_protected_blocks_skipped() {
    let mut t = LearnedRoutes::new();
    t.protect(net("10.244.1.0/24"));
    assert!(t.apply(&change("10.244.1.0/24", &[ip(2)])).is_empty());
    assert!(t.apply(&change("10.244.1.7/32", &[ip(2)])).is_empty());
    let ops = t.apply(&change("10.244.2.9/24", &[ip(2)]));
    assert_eq!(
        ops,
        [RouteOp::Replace {
            prefix: net("10.244.2.0/24"),
            next_hops: vec![ip(2)]
        }]
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn reconcile_deletes_strays_and_fixes_differences() {
    let mut t = LearnedRoutes::new();
    t.apply(&change("10.244.2.0/24", &[ip(2), ip(3)]));
    t.apply(&change("10.244.3.0/24", &[ip(2)]));
    let actual = [
        Route::via(net("10.244.2.0/24"), &[ip(3), ip(2)], RTPROT_BGP),
        Route::via(net("10.244.3.0/24"), &[ip(9)], RTPROT_BGP),
        Route::via(net("10.244.9.0/24"), &[ip(2)], RTPROT_BGP),
        Route::blackhole(net("10.244.1.0/24"), RTPROT_LATTICE),
    ];
    assert_eq!(
        t.reconcile(&actual),
        [
            RouteOp::Delete {
                prefix: net("10.244.9.0/24")
            },
            RouteOp::Replace {
                prefix: net("10.244.3.0/24"),
                next_hops: vec![ip(2)]
            },
        ]
    );
}

#[tokio::test]
async fn executor_installs_one_multipath_route_and_removes_it() {
    let k = FakeKernel::new();
    let mut t = LearnedRoutes::new();
    let p = net("10.244.2.0/24");
    execute(&k, &t.apply(&change("10.244.2.0/24", &[ip(2)])))
        .await
        .unwrap();
    execute(&k, &t.apply(&change("10.244.2.0/24", &[ip(2), ip(3)])))
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
    execute(&k, &t.apply(&change("10.244.2.0/24", &[])))
        .await
        .unwrap();
    assert!(k.routes(RTPROT_BGP).await.unwrap().is_empty());
    // Deleting what is already gone is fine.
    execute(&k, &[RouteOp::Delete { prefix: p }]).await.unwrap();
}

#[tokio::test]
async fn executor_tries_every_op_and_reports_the_first_failure() {
    let k = FakeKernel::new();
    k.fail_next(FakeOp::ReplaceRoute, 1);
    let ops = [
        RouteOp::Replace {
            prefix: net("10.244.2.0/24"),
            next_hops: vec![ip(2)],
        },
        RouteOp::Replace {
            prefix: net("10.244.3.0/24"),
            next_hops: vec![ip(2)],
        },
    ];
    assert!(execute(&k, &ops).await.is_err());
    let routes = k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].destination, net("10.244.3.0/24"));
}

#[tokio::test]
async fn blackhole_and_forwarding() {
    let k = FakeKernel::new();
    ensure_blackhole(&k, net("10.244.1.0/24")).await.unwrap();
    ensure_blackhole(&k, net("10.244.1.0/24")).await.unwrap();
    let ours = k.routes(RTPROT_LATTICE).await.unwrap();
    assert_eq!(
        ours,
        [Route::blackhole(net("10.244.1.0/24"), RTPROT_LATTICE)]
    );
    prepare_host(&k).await.unwrap();
    assert_eq!(k.read_sysctl("net/ipv4/ip_forward").await.unwrap(), "1");
}
