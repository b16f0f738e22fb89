use super::*;
use std::net::Ipv4Addr;

use crate::kernel::{KernelEvent, NextHop, RouteTarget, RTPROT_BGP};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[tokio::test]
async fn veth_peer_lands_in_the_other_namespace_and_dies_with_it() {
    let host = FakeKernel::new();
    host.add_netns("/c1");
    host.create_veth("h0", "p0", Path::new("/c1"))
        .await
        .unwrap();
    let h0 = host.link_by_name("h0").await.unwrap();
    assert!(host.link_by_name("p0").await.unwrap_err().is_not_found());
    let c1 = host.netns(Path::new("/c1")).await.unwrap();
    let p0 = c1.link_by_name("p0").await.unwrap();
    assert_eq!(h0.peer_index, Some(p0.index));
    assert_eq!(p0.peer_index, Some(h0.index));

    c1.replace_route(&Route::device(net("0.0.0.0/0"), p0.index, 4))
        .await
        .unwrap();
    host.delete_link(h0.index).await.unwrap();
    assert!(c1.link_by_name("p0").await.unwrap_err().is_not_found());
    assert!(host.snapshot_of("/c1").unwrap().routes.is_empty());
}

#[tokio::test]
async fn duplicate_names_and_missing_objects_map_to_errors() {
    let host = FakeKernel::new();
    host.add_netns("/c1");
    host.create_veth("h0", "p0", Path::new("/c1"))
        .await
        .unwrap();
    let again = host.create_veth("h0", "p1", Path::new("/c1")).await;
    assert!(matches!(again, Err(KernelError::Exists { .. })));
    assert!(host.delete_link(999).await.unwrap_err().is_not_found());
    assert!(host
        .delete_route(net("10.0.0.0/8"), 4)
        .await
        .unwrap_err()
        .is_not_found());
    assert!(host
        .netns(Path::new("/nope"))
        .await
        .unwrap_err()
        .is_not_found());
    assert!(host
        .write_sysctl("net/ipv4/conf/zz/rp_filter", "1")
        .await
        .is_err());
}

#[tokio::test]
async fn routes_are_replaced_and_listed_by_protocol() {
    let host = FakeKernel::new();
    let dst = net("10.1.0.0/24");
    let a = Ipv4Addr::new(10, 0, 0, 1);
    let b = Ipv4Addr::new(10, 0, 0, 2);
    host.replace_route(&Route::via(dst, &[a], RTPROT_BGP))
        .await
        .unwrap();
    host.replace_route(&Route::via(dst, &[a, b], RTPROT_BGP))
        .await
        .unwrap();
    host.replace_route(&Route::blackhole(net("10.2.0.0/24"), 4))
        .await
        .unwrap();
    let bgp = host.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(bgp.len(), 1);
    assert_eq!(
        bgp[0].target,
        RouteTarget::Gateways(vec![NextHop::via(a), NextHop::via(b)])
    );
    assert_eq!(host.routes(4).await.unwrap().len(), 1);
}

#[tokio::test]
async fn injected_failure_fires_once_on_the_nth_call() {
    let host = FakeKernel::new();
    host.fail_next(FakeOp::WriteSysctl, 2);
    host.write_sysctl("net/ipv4/ip_forward", "1").await.unwrap();
    assert!(host.write_sysctl("net/ipv4/ip_forward", "1").await.is_err());
    host.write_sysctl("net/ipv4/ip_forward", "1").await.unwrap();
    assert_eq!(host.read_sysctl("net/ipv4/ip_forward").await.unwrap(), "1");
}

#[tokio::test]
async fn subscribers_see_link_address_and_route_changes() {
    let host = FakeKernel::new();
    host.add_netns("/c1");
    let mut events = host.subscribe(&[]).await.unwrap();
    host.create_veth("h0", "p0", Path::new("/c1"))
        .await
        .unwrap();
    let h0 = host.link_by_name("h0").await.unwrap();
    let ev = events.try_recv().unwrap();
    assert_eq!(
        ev,
        KernelEvent::Link {
            index: h0.index,
            name: "h0".into(),
            deleted: false
        }
    );
    // Changes inside another namespace are not this subscriber's business.
    let c1 = host.netns(Path::new("/c1")).await.unwrap();
    let p0 = c1.link_by_name("p0").await.unwrap();
    c1.set_link_up(p0.index).await.unwrap();
    assert!(events.try_recv().is_none());

    host.add_address(h0.index, net("fd00::1/64")).await.unwrap();
    assert_eq!(
        events.try_recv().unwrap(),
        KernelEvent::Address { index: h0.index }
    );
    let r = Route::device(net("10.1.0.1/32"), h0.index, 252);
    host.replace_route(&r).await.unwrap();
    assert_eq!(
        events.try_recv().unwrap(),
        KernelEvent::Route {
            destination: net("10.1.0.1/32"),
            protocol: 252,
            deleted: false
        }
    );
    // Deleting the link deletes its address and route too, each notified.
    host.delete_link(h0.index).await.unwrap();
    let mut got = Vec::new();
    while let Some(e) = events.try_recv() {
        got.push(e);
    }
    assert!(got.contains(&KernelEvent::Route {
        destination: net("10.1.0.1/32"),
        protocol: 252,
        deleted: true
    }));
    assert!(got
        .iter()
        .any(|e| matches!(e, KernelEvent::Link { deleted: true, .. })));
    assert_eq!(host.all_addresses().await.unwrap(), []);
}

#[tokio::test]
async fn ipvlan_slaves_land_in_the_target_and_can_be_refused() {
    let host = FakeKernel::new();
    host.add_netns("/c1");
    host.create_veth("up0", "x", Path::new("/c1"))
        .await
        .unwrap();
    let up0 = host.link_by_name("up0").await.unwrap();
    host.create_ipvlan(
        up0.index,
        "eth0",
        crate::kernel::IpvlanMode::L3,
        Some(Path::new("/c1")),
    )
    .await
    .unwrap();
    let c1 = host.snapshot_of("/c1").unwrap();
    let slave = c1.link("eth0").unwrap();
    assert_eq!(slave.info.mac, up0.mac);
    assert_eq!(slave.info.peer_index, Some(up0.index));
    host.without_ipvlan();
    let refused = host
        .create_ipvlan(
            up0.index,
            "eth1",
            crate::kernel::IpvlanMode::L3s,
            Some(Path::new("/c1")),
        )
        .await;
    assert!(matches!(refused, Err(KernelError::Unsupported(_))));
}
