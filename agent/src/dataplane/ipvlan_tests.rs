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
