#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::path::Path;

use super::*;
use crate::dataplane::{Wiring, GATEWAY};
use crate::kernel::fake::FakeOp;
use crate::kernel::{FakeKernel, IpvlanMode};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn wiring(mode: IpvlanMode) -> Wiring {
    Wiring::Ipvlan(IpvlanWiring {
        parent: "eth1".into(),
        mode,
        host_address: GATEWAY,
    })
}

fn spec() -> EndpointSpec {
    EndpointSpec {
        key: "docker:00c0ffee".into(),
        address: Ipv4Addr::new(10, 244, 1, 5),
        address_v6: Some("fd00:244:0:1::5".parse().unwrap()),
        mtu: 9000,
    }
}

/// A host whose parent eth1 (MTU 1500) leads to a ToR namespace.
async fn world() -> FakeKernel {
    let host = FakeKernel::new();
    host.add_netns("/run/netns/tor");
    host.create_veth("eth1", "x", Path::new("/run/netns/tor"))
        .await
        .unwrap();
    host
}

fn route_via_host_slave(host: &FakeKernel, dst: &str) -> bool {
    let h = host.snapshot();
    let Some(hs) = h.link(IPVLAN_HOST_IFNAME) else {
        return false;
    };
    h.routes.get(&net(dst)) == Some(&Route::device(net(dst), hs.info.index, RTPROT_LATTICE))
}

#[tokio::test]
async fn an_endpoint_is_a_slave_for_docker_to_move_routed_through_the_host_slave() {
    let host = world().await;
    for mode in [IpvlanMode::L3, IpvlanMode::L3s] {
        let name = wiring(mode).attach_endpoint(&host, &spec()).await.unwrap();
        assert_eq!(name, peer_ifname("docker:00c0ffee"));
        let h = host.snapshot();
        let parent = h.link("eth1").unwrap().info.index;
        let slave = h.link(&name).unwrap();
        assert_eq!(slave.ipvlan, Some(mode));
        assert_eq!(slave.info.peer_index, Some(parent));
        assert_eq!(slave.info.mtu, 1500, "capped at the parent's MTU");
        assert!(h
            .addresses
            .get(&slave.info.index)
            .is_none_or(|a| a.is_empty()));
        let hs = h.link(IPVLAN_HOST_IFNAME).unwrap();
        assert!(h.addresses[&hs.info.index].contains(&net("169.254.1.1/32")));
        for dst in ["10.244.1.5/32", "fd00:244:0:1::5/128"] {
            assert!(route_via_host_slave(&host, dst), "{dst}");
        }
    }

    // Docker moved it back at Leave: DeleteEndpoint removes the slave and both routes.
    Wiring::detach_endpoint(&host, "docker:00c0ffee")
        .await
        .unwrap();
    for a in ["10.244.1.5", "fd00:244:0:1::5"] {
        Wiring::unreach_endpoint(&host, a.parse().unwrap())
            .await
            .unwrap();
    }
    let h = host.snapshot();
    assert!(h.link(&peer_ifname("docker:00c0ffee")).is_none());
    assert!(!h.routes.contains_key(&net("10.244.1.5/32")));
    assert!(!h.routes.contains_key(&net("fd00:244:0:1::5/128")));
    assert!(
        h.link(IPVLAN_HOST_IFNAME).is_some(),
        "shared by every slave"
    );
    // Again: nothing left, nothing to fail.
    Wiring::detach_endpoint(&host, "docker:00c0ffee")
        .await
        .unwrap();
    Wiring::unreach_endpoint(&host, "10.244.1.5".parse().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn no_ipvlan_or_no_parent_is_an_error_that_leaves_nothing() {
    let host = world().await;
    host.without_ipvlan();
    let err = wiring(IpvlanMode::L3)
        .attach_endpoint(&host, &spec())
        .await
        .unwrap_err();
    assert!(err.contains("ipvlan"), "{err}");
    let missing = Wiring::Ipvlan(IpvlanWiring {
        parent: "eth9".into(),
        mode: IpvlanMode::L3,
        host_address: GATEWAY,
    });
    let host = world().await;
    let err = missing.attach_endpoint(&host, &spec()).await.unwrap_err();
    assert!(err.contains("\"eth9\" does not exist"), "{err}");
    let err = missing
        .reach_endpoint(&host, "10.244.1.7".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.contains("eth9"), "{err}");
    let h = host.snapshot();
    let names: Vec<_> = h.links.values().map(|l| l.info.name.as_str()).collect();
    assert_eq!(names, ["lo", "eth1"]);
    assert!(h.routes.is_empty());
}

#[tokio::test]
async fn a_failed_attach_removes_the_slave_and_its_routes() {
    let host = world().await;
    // The second route (IPv6) fails: the slave and the IPv4 route must go again.
    host.fail_next(FakeOp::ReplaceRoute, 2);
    let err = wiring(IpvlanMode::L3)
        .attach_endpoint(&host, &spec())
        .await
        .unwrap_err();
    assert!(err.contains("injected"), "{err}");
    let h = host.snapshot();
    assert!(h.link(&peer_ifname("docker:00c0ffee")).is_none());
    assert!(!h.routes.contains_key(&net("10.244.1.5/32")));
}

#[tokio::test]
async fn another_drivers_container_is_reached_through_the_host_slave_and_only_that_route_goes() {
    let host = world().await;
    let w = wiring(IpvlanMode::L3);
    let theirs: IpAddr = "10.244.1.9".parse().unwrap();
    w.reach_endpoint(&host, theirs).await.unwrap();
    assert!(route_via_host_slave(&host, "10.244.1.9/32"));
    // Idempotent, and routed veth has nothing to do.
    w.reach_endpoint(&host, theirs).await.unwrap();
    Wiring::RoutedVeth
        .reach_endpoint(&host, "10.244.1.10".parse().unwrap())
        .await
        .unwrap();
    assert!(!host.snapshot().routes.contains_key(&net("10.244.1.10/32")));

    // A route to the same kind of address out of a veth is someone else's: unreach keeps it.
    let eth1 = host.link_by_name("eth1").await.unwrap().index;
    let veth_route = Route::device(net("10.244.1.11/32"), eth1, RTPROT_LATTICE);
    host.replace_route(&veth_route).await.unwrap();
    Wiring::unreach_endpoint(&host, "10.244.1.11".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        host.snapshot().routes.get(&net("10.244.1.11/32")),
        Some(&veth_route)
    );
    Wiring::unreach_endpoint(&host, theirs).await.unwrap();
    assert!(!host.snapshot().routes.contains_key(&net("10.244.1.9/32")));
}

#[tokio::test]
async fn unreach_without_a_host_slave_does_nothing() {
    let host = world().await;
    Wiring::unreach_endpoint(&host, "10.244.1.9".parse().unwrap())
        .await
        .unwrap();
    assert!(host.snapshot().link(IPVLAN_HOST_IFNAME).is_none());
}
