use std::path::{Path, PathBuf};

use super::*;
use crate::kernel::fake::FakeOp;
use crate::kernel::{FakeKernel, RouteTarget};

const C1: &str = "/run/netns/c1";

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn wiring() -> IpvlanWiring {
    IpvlanWiring {
        parent: "eth1".into(),
        mode: IpvlanMode::L3,
        host_address: Ipv4Addr::new(10, 0, 1, 2),
    }
}

fn spec() -> AttachSpec {
    AttachSpec {
        netns: PathBuf::from(C1),
        container_id: "c0ffee".into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, 5),
        address_v6: Some("fd00:244:0:1::5".parse().unwrap()),
        mtu: 9000,
    }
}

async fn world() -> FakeKernel {
    let host = FakeKernel::new();
    host.add_netns(C1);
    host.add_netns("/run/netns/tor");
    host.create_veth("eth1", "x", Path::new("/run/netns/tor"))
        .await
        .unwrap();
    host
}

#[tokio::test]
async fn attach_makes_a_slave_in_the_container_and_routes_through_the_host_slave() {
    let host = world().await;
    attach(&host, &wiring(), &spec()).await.unwrap();
    let h = host.snapshot();
    let parent = h.link("eth1").unwrap().info.clone();
    let hs = h.link(IPVLAN_HOST_IFNAME).unwrap();
    assert_eq!(hs.ipvlan, Some(IpvlanMode::L3));
    assert!(hs.info.up);
    assert_eq!(hs.info.peer_index, Some(parent.index));
    assert!(h.addresses[&hs.info.index].contains(&net("10.0.1.2/32")));
    for dst in ["10.244.1.5/32", "fd00:244:0:1::5/128"] {
        assert_eq!(
            h.routes[&net(dst)],
            Route::device(net(dst), hs.info.index, RTPROT_LATTICE)
        );
    }
    let c = host.snapshot_of(C1).unwrap();
    let eth0 = c.link("eth0").unwrap();
    assert_eq!(eth0.ipvlan, Some(IpvlanMode::L3));
    assert!(eth0.info.up);
    assert_eq!(eth0.info.mtu, 1500, "capped at the parent's MTU");
    for dst in ["0.0.0.0/0", "::/0"] {
        assert_eq!(
            c.routes[&net(dst)].target,
            RouteTarget::Device {
                ifindex: eth0.info.index
            }
        );
    }
    // No MAC games: an L3 slave needs no neighbour entries.
    assert!(c.neighbours.is_empty());

    host.clear_log();
    attach(&host, &wiring(), &spec()).await.unwrap();
    assert!(!host.log().iter().any(|(_, op)| *op == FakeOp::CreateIpvlan));

    detach(&host, &spec()).await.unwrap();
    assert!(host.snapshot_of(C1).unwrap().link("eth0").is_none());
    let h = host.snapshot();
    assert!(!h.routes.contains_key(&net("10.244.1.5/32")));
    assert!(
        h.link(IPVLAN_HOST_IFNAME).is_some(),
        "shared by every container"
    );
    detach(&host, &spec()).await.unwrap();
}

#[tokio::test]
async fn a_kernel_without_ipvlan_or_a_missing_parent_is_refused_cleanly() {
    let host = world().await;
    host.without_ipvlan();
    let err = attach(&host, &wiring(), &spec()).await.unwrap_err();
    assert!(is_unsupported(&err), "{err}");
    let missing = IpvlanWiring {
        parent: "nope0".into(),
        ..wiring()
    };
    let err = ensure_host_slave(&host, &missing).await.unwrap_err();
    assert!(err.to_string().contains("nope0"), "{err}");
    assert!(host.snapshot_of(C1).unwrap().link("eth0").is_none());
}

#[tokio::test]
async fn a_failed_attach_leaves_no_slave_in_the_container() {
    let host = world().await;
    host.fail_next(FakeOp::ReplaceRoute, 2);
    assert!(attach(&host, &wiring(), &spec()).await.is_err());
    let c = host.snapshot_of(C1).unwrap();
    let names: Vec<_> = c.links.values().map(|l| l.info.name.as_str()).collect();
    assert_eq!(names, ["lo"]);
}

#[tokio::test]
async fn the_reconciler_rewires_a_deleted_host_slave() {
    use crate::dataplane::{diff, ActualState, DesiredState, ReconcileOp, Wiring};
    use crate::kernel::RTPROT_BGP;
    let host = world().await;
    attach(&host, &wiring(), &spec()).await.unwrap();
    let mut d = DesiredState {
        wiring: Wiring::Ipvlan(wiring()),
        ..DesiredState::default()
    };
    d.containers
        .insert(("c0ffee".into(), "eth0".into()), spec());
    let actual = |k: FakeKernel| async move {
        ActualState {
            lattice_routes: k.routes(RTPROT_LATTICE).await.unwrap(),
            bgp_routes: k.routes(RTPROT_BGP).await.unwrap(),
            links: k.links().await.unwrap(),
            addresses: k.all_addresses().await.unwrap(),
            ..ActualState::default()
        }
    };
    assert_eq!(diff(&mut d, &actual(host.clone()).await), []);
    let hs = host.link_by_name(IPVLAN_HOST_IFNAME).await.unwrap();
    host.delete_link(hs.index).await.unwrap();
    let ops = diff(&mut d, &actual(host.clone()).await);
    assert_eq!(ops, [ReconcileOp::Attach(("c0ffee".into(), "eth0".into()))]);
    d.wiring.attach(&host, &spec()).await.unwrap();
    assert_eq!(diff(&mut d, &actual(host.clone()).await), []);
}

#[tokio::test]
async fn a_slave_deleted_inside_the_container_is_seen_from_there_and_rewired() {
    use crate::dataplane::{diff, ActualState, DesiredState, ReconcileOp, Wiring};
    use crate::kernel::RTPROT_BGP;
    let host = world().await;
    let key = ("c0ffee".to_string(), "eth0".to_string());
    let mut d = DesiredState {
        wiring: Wiring::Ipvlan(wiring()),
        ..DesiredState::default()
    };
    d.containers.insert(key.clone(), spec());
    d.wiring.attach(&host, &spec()).await.unwrap();
    // What the reconciler's driver gathers: the host's tables plus the probe of each container.
    let actual = |k: FakeKernel, d: DesiredState| async move {
        let mut down = std::collections::BTreeSet::new();
        for (key, s) in &d.containers {
            if !d.wiring.container_side_ok(&k, s).await.unwrap() {
                down.insert(key.clone());
            }
        }
        ActualState {
            lattice_routes: k.routes(RTPROT_LATTICE).await.unwrap(),
            bgp_routes: k.routes(RTPROT_BGP).await.unwrap(),
            links: k.links().await.unwrap(),
            addresses: k.all_addresses().await.unwrap(),
            container_sides_down: down,
        }
    };
    assert!(d.wiring.probes_container_side());
    let now = actual(host.clone(), d.clone()).await;
    assert_eq!(diff(&mut d, &now), []);

    // Someone deletes eth0 inside the container: the host namespace does not change at all.
    let host_before = host.snapshot();
    let ctr = host.netns(Path::new(C1)).await.unwrap();
    let eth0 = ctr.link_by_name("eth0").await.unwrap();
    ctr.delete_link(eth0.index).await.unwrap();
    assert_eq!(host.snapshot(), host_before);
    let now = actual(host.clone(), d.clone()).await;
    assert_eq!(now.container_sides_down.len(), 1);
    assert_eq!(diff(&mut d, &now), [ReconcileOp::Attach(key.clone())]);

    d.wiring.attach(&host, &spec()).await.unwrap();
    let c = host.snapshot_of(C1).unwrap();
    let eth0 = c.link("eth0").unwrap();
    assert!(eth0.info.up);
    assert!(c.addresses[&eth0.info.index].contains(&net("10.244.1.5/32")));
    assert!(c.routes.contains_key(&net("0.0.0.0/0")));
    let now = actual(host.clone(), d.clone()).await;
    assert_eq!(diff(&mut d, &now), []);

    // A container whose namespace is gone counts as down (the driver then forgets it).
    host.remove_netns(C1);
    let gone = actual(host.clone(), d.clone()).await;
    assert_eq!(diff(&mut d, &gone), [ReconcileOp::Attach(key)]);
}

#[tokio::test]
async fn routed_veth_is_never_probed_inside_the_container() {
    let w = crate::dataplane::Wiring::RoutedVeth;
    assert!(!w.probes_container_side());
    // Not even a namespace to open: the answer comes without asking the kernel.
    let host = FakeKernel::new();
    assert!(w.container_side_ok(&host, &spec()).await.unwrap());
}
