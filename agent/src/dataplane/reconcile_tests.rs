use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::*;
use crate::dataplane::{attach, host_ifname, LearnedRoute};
use crate::kernel::{FakeKernel, Kernel, RTPROT_BGP};

const C1: &str = "/run/netns/c1";

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn spec() -> AttachSpec {
    AttachSpec {
        netns: PathBuf::from(C1),
        container_id: "c0ffee".into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, 5),
        address_v6: Some(Ipv6Addr::new(0xfd00, 0x244, 0, 1, 0, 0, 0, 5)),
        mtu: 1500,
    }
}

async fn actual(k: &FakeKernel) -> ActualState {
    ActualState {
        lattice_routes: k.routes(RTPROT_LATTICE).await.unwrap(),
        bgp_routes: k.routes(RTPROT_BGP).await.unwrap(),
        links: k.links().await.unwrap(),
        addresses: k.all_addresses().await.unwrap(),
        ..ActualState::default()
    }
}

/// Applies ops the way the driver does (attach for containers).
async fn apply(k: &FakeKernel, desired: &DesiredState, ops: &[ReconcileOp]) {
    let mut routes = Vec::new();
    for op in ops {
        match op {
            ReconcileOp::Route(r) => routes.push(r.clone()),
            ReconcileOp::Attach(key) => {
                attach(k, &desired.containers[key]).await.unwrap();
            }
        }
    }
    crate::dataplane::execute(k, &routes).await.unwrap();
}

/// A host with an uplink 10.0.0.1/24 up, one container, two blocks, one ECMP learned route.
async fn world() -> (FakeKernel, DesiredState) {
    let k = FakeKernel::new();
    k.add_netns(C1);
    k.add_netns("/run/netns/tor");
    k.create_veth("up0", "tor0", "/run/netns/tor".as_ref())
        .await
        .unwrap();
    let up0 = k.link_by_name("up0").await.unwrap();
    k.set_link_up(up0.index).await.unwrap();
    k.add_address(up0.index, net("10.0.0.1/24")).await.unwrap();
    let mut d = DesiredState {
        blocks: vec![net("10.244.1.0/24"), net("fd00:244:0:1::/64")],
        ..DesiredState::default()
    };
    d.containers
        .insert(("c0ffee".into(), "eth0".into()), spec());
    let hops = ["10.0.0.2", "10.0.0.3"].map(|h| h.parse().unwrap());
    d.learned.apply(
        &LearnedRoute {
            prefix: net("10.244.2.0/24"),
            next_hops: hops.to_vec(),
        },
        &Reachability::everything(),
    );
    (k, d)
}

/// Runs diff/apply until nothing is left; returns the ops of the first round.
async fn converge(k: &FakeKernel, d: &mut DesiredState) -> Vec<ReconcileOp> {
    let first = diff(d, &actual(k).await);
    apply(k, d, &first).await;
    let second = diff(d, &actual(k).await);
    apply(k, d, &second).await;
    assert_eq!(diff(d, &actual(k).await), [], "converged");
    first
}

#[tokio::test]
async fn from_empty_everything_is_built_once_and_then_nothing_is_done() {
    let (k, mut d) = world().await;
    let first = converge(&k, &mut d).await;
    assert!(first.contains(&ReconcileOp::Attach(("c0ffee".into(), "eth0".into()))));
    let host = k.snapshot();
    assert!(host.routes.contains_key(&net("10.244.1.0/24")));
    assert!(host.routes.contains_key(&net("fd00:244:0:1::/64")));
    assert!(host.routes.contains_key(&net("10.244.1.5/32")));
    assert!(host.routes.contains_key(&net("fd00:244:0:1::5/128")));
    assert_eq!(
        host.routes[&net("10.244.2.0/24")].gateways().len(),
        2,
        "one multipath route"
    );
    k.clear_log();
    assert_eq!(diff(&mut d, &actual(&k).await), []);
    assert!(k.log().is_empty(), "a converged host sees no kernel writes");
}

#[tokio::test]
async fn deleted_routes_are_the_only_thing_put_back() {
    let (k, mut d) = world().await;
    converge(&k, &mut d).await;
    k.delete_route(net("10.244.1.5/32"), RTPROT_LATTICE)
        .await
        .unwrap();
    k.delete_route(net("10.244.1.0/24"), RTPROT_LATTICE)
        .await
        .unwrap();
    k.delete_route(net("10.244.2.0/24"), RTPROT_BGP)
        .await
        .unwrap();
    let ops = diff(&mut d, &actual(&k).await);
    let veth = k
        .link_by_name(&host_ifname("c0ffee", "eth0"))
        .await
        .unwrap();
    assert_eq!(ops.len(), 3, "{ops:?}");
    assert!(
        ops.contains(&ReconcileOp::Route(RouteOp::Replace(Route::device(
            net("10.244.1.5/32"),
            veth.index,
            RTPROT_LATTICE
        ))))
    );
    assert!(
        ops.contains(&ReconcileOp::Route(RouteOp::Replace(Route::blackhole(
            net("10.244.1.0/24"),
            RTPROT_LATTICE
        ))))
    );
    apply(&k, &d, &ops).await;
    assert_eq!(diff(&mut d, &actual(&k).await), []);
}

#[tokio::test]
async fn a_deleted_veth_is_rewired_and_a_foreign_replacement_undone() {
    let (k, mut d) = world().await;
    converge(&k, &mut d).await;
    let veth = k
        .link_by_name(&host_ifname("c0ffee", "eth0"))
        .await
        .unwrap();
    k.delete_link(veth.index).await.unwrap();
    let ops = diff(&mut d, &actual(&k).await);
    assert_eq!(ops, [ReconcileOp::Attach(("c0ffee".into(), "eth0".into()))]);
    apply(&k, &d, &ops).await;
    // The new veth's routes come with the attach itself.
    assert_eq!(diff(&mut d, &actual(&k).await), []);
    assert!(k.snapshot_of(C1).unwrap().link("eth0").is_some());

    // Someone points a learned prefix elsewhere with another protocol: ours goes back.
    let up0 = k.link_by_name("up0").await.unwrap();
    k.replace_route(&Route::device(net("10.244.2.0/24"), up0.index, 4))
        .await
        .unwrap();
    let ops = diff(&mut d, &actual(&k).await);
    assert_eq!(ops.len(), 1, "{ops:?}");
    apply(&k, &d, &ops).await;
    assert_eq!(k.routes(RTPROT_BGP).await.unwrap().len(), 1);
}

#[tokio::test]
async fn unreachable_next_hops_are_left_out_until_reachable() {
    let (k, mut d) = world().await;
    d.learned.apply(
        &LearnedRoute {
            prefix: net("10.244.3.0/24"),
            next_hops: vec!["10.0.0.2".parse().unwrap(), "10.9.9.9".parse().unwrap()],
        },
        &Reachability::everything(),
    );
    converge(&k, &mut d).await;
    let r = &k.snapshot().routes[&net("10.244.3.0/24")];
    assert_eq!(
        r.gateways(),
        ["10.0.0.2".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[tokio::test]
async fn adoption_keeps_strangers_until_pruning_and_unknown_container_routes() {
    let (k, mut d) = world().await;
    converge(&k, &mut d).await;
    // A learned route of a previous run, a stale blackhole, and a container route of an
    // attachment we have no record of (its veth still exists).
    k.replace_route(&Route::via(
        net("10.244.9.0/24"),
        &[Ipv4Addr::new(10, 0, 0, 2)],
        RTPROT_BGP,
    ))
    .await
    .unwrap();
    k.replace_route(&Route::blackhole(net("10.250.0.0/24"), RTPROT_LATTICE))
        .await
        .unwrap();
    k.add_netns("/run/netns/c2");
    let mut other = spec();
    other.netns = "/run/netns/c2".into();
    other.container_id = "unknown".into();
    other.address = Ipv4Addr::new(10, 244, 1, 6);
    other.address_v6 = None;
    attach(&k, &other).await.unwrap();

    let ops = diff(&mut d, &actual(&k).await);
    assert_eq!(
        ops,
        [ReconcileOp::Route(RouteOp::Delete {
            destination: net("10.250.0.0/24"),
            protocol: RTPROT_LATTICE
        })]
    );
    d.prune_learned = true;
    let ops = diff(&mut d, &actual(&k).await);
    assert!(ops.contains(&ReconcileOp::Route(RouteOp::Delete {
        destination: net("10.244.9.0/24"),
        protocol: RTPROT_BGP
    })));
    assert!(!ops.iter().any(|o| matches!(o, ReconcileOp::Route(RouteOp::Delete { destination, .. }) if *destination == net("10.244.1.6/32"))));
}
