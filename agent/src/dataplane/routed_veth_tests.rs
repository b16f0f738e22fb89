use std::path::Path;

use super::*;
use crate::kernel::fake::FakeOp;
use crate::kernel::FakeKernel;

const C1: &str = "/run/netns/c1";

fn spec() -> AttachSpec {
    AttachSpec {
        netns: PathBuf::from(C1),
        container_id: "c0ffee".into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, 1),
        address_v6: None,
        mtu: 1450,
    }
}

fn world() -> FakeKernel {
    let host = FakeKernel::new();
    host.add_netns(C1);
    host
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[tokio::test]
async fn attach_builds_both_ends() {
    let host = world();
    let info = attach(&host, &spec()).await.unwrap();
    assert_eq!(info.host_ifname, host_ifname("c0ffee", "eth0"));

    let h = host.snapshot();
    let hl = h.link(&info.host_ifname).unwrap().info.clone();
    assert!(hl.up);
    assert_eq!(hl.mtu, 1450);
    assert_eq!(Some(info.host_mac), hl.mac);
    let r = &h.routes[&net("10.244.1.1/32")];
    assert_eq!(
        r,
        &Route::device(net("10.244.1.1/32"), hl.index, RTPROT_LATTICE)
    );
    let key = |leaf: &str| format!("net/ipv4/conf/{}/{leaf}", info.host_ifname);
    assert_eq!(h.sysctls[&key("forwarding")], "1");
    assert_eq!(h.sysctls[&key("rp_filter")], "1");

    let c = host.snapshot_of(C1).unwrap();
    let cl = c.link("eth0").unwrap().info.clone();
    assert!(cl.up && c.link("lo").unwrap().info.up);
    assert_eq!(cl.mtu, 1450);
    assert_eq!(info.container_mac, cl.mac);
    assert_eq!(cl.peer_index, Some(hl.index));
    assert!(c.addresses[&cl.index].contains(&net("10.244.1.1/32")));
    let gw = &c.routes[&net("169.254.1.1/32")];
    assert_eq!(gw.target, RouteTarget::Device { ifindex: cl.index });
    let default = &c.routes[&net("0.0.0.0/0")];
    assert_eq!(
        default.target,
        RouteTarget::Gateways(vec![NextHop {
            gateway: IpAddr::V4(GATEWAY),
            ifindex: Some(cl.index)
        }])
    );
    assert_eq!(
        c.neighbours[&(cl.index, IpAddr::V4(GATEWAY))],
        info.host_mac
    );
}

#[tokio::test]
async fn attach_twice_converges_without_recreating() {
    let host = world();
    let first = attach(&host, &spec()).await.unwrap();
    let (h, c) = (host.snapshot(), host.snapshot_of(C1));
    host.clear_log();
    let second = attach(&host, &spec()).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(host.snapshot(), h);
    assert_eq!(host.snapshot_of(C1), c);
    assert!(!host.log().iter().any(|(_, op)| *op == FakeOp::CreateVeth));
}

#[tokio::test]
async fn attach_restores_a_deleted_host_route() {
    let host = world();
    attach(&host, &spec()).await.unwrap();
    host.delete_route(net("10.244.1.1/32"), RTPROT_LATTICE)
        .await
        .unwrap();
    attach(&host, &spec()).await.unwrap();
    assert!(host.snapshot().routes.contains_key(&net("10.244.1.1/32")));
}

/// Every kernel call attach makes, with how often it makes it.
const STEPS: [(FakeOp, u32); 8] = [
    (FakeOp::CreateVeth, 1),
    (FakeOp::RenameLink, 1),
    (FakeOp::SetLinkMtu, 2),
    (FakeOp::AddAddress, 1),
    (FakeOp::SetLinkUp, 3),
    (FakeOp::ReplaceRoute, 3),
    (FakeOp::AddNeighbour, 1),
    (FakeOp::WriteSysctl, 2),
];

#[tokio::test]
async fn a_failure_at_any_step_leaves_the_host_unchanged() {
    for (op, count) in STEPS {
        for nth in 1..=count {
            let host = world();
            let before = host.snapshot();
            host.fail_next(op, nth);
            let err = attach(&host, &spec()).await;
            assert!(err.is_err(), "{op:?} #{nth} should fail attach");
            assert_eq!(host.snapshot(), before, "{op:?} #{nth}");
            let c = host.snapshot_of(C1).unwrap();
            let names: Vec<_> = c.links.values().map(|l| l.info.name.as_str()).collect();
            assert_eq!(names, ["lo"], "{op:?} #{nth}");
            assert!(c.routes.is_empty() && c.neighbours.is_empty());
        }
    }
}

#[tokio::test]
async fn a_failed_converge_keeps_the_running_container() {
    let host = world();
    attach(&host, &spec()).await.unwrap();
    host.fail_next(FakeOp::ReplaceRoute, 1);
    assert!(attach(&host, &spec()).await.is_err());
    assert!(host.snapshot_of(C1).unwrap().link("eth0").is_some());
}

#[tokio::test]
async fn a_stale_veth_with_our_name_is_replaced() {
    let host = world();
    host.add_netns("/run/netns/old");
    let name = host_ifname("c0ffee", "eth0");
    host.create_veth(&name, "eth0", Path::new("/run/netns/old"))
        .await
        .unwrap();
    attach(&host, &spec()).await.unwrap();
    assert!(host
        .snapshot_of("/run/netns/old")
        .unwrap()
        .link("eth0")
        .is_none());
    assert!(host.snapshot_of(C1).unwrap().link("eth0").is_some());
}

#[tokio::test]
async fn an_existing_foreign_ifname_fails_cleanly() {
    let host = world();
    host.add_netns("/run/netns/x");
    // Something else already owns eth0 inside the container.
    let x = host.netns(Path::new(C1)).await.unwrap();
    x.create_veth("eth0", "other", Path::new("/run/netns/x"))
        .await
        .unwrap();
    let before = host.snapshot();
    assert!(attach(&host, &spec()).await.is_err());
    assert_eq!(host.snapshot(), before);
}

#[tokio::test]
async fn detach_removes_the_veth_and_is_idempotent() {
    let host = world();
    let info = attach(&host, &spec()).await.unwrap();
    detach(&host, "c0ffee", "eth0").await.unwrap();
    let h = host.snapshot();
    assert!(h.link(&info.host_ifname).is_none());
    assert!(h.routes.is_empty());
    assert!(host.snapshot_of(C1).unwrap().link("eth0").is_none());
    detach(&host, "c0ffee", "eth0").await.unwrap();
}

#[tokio::test]
async fn bad_requests_are_rejected_before_touching_the_kernel() {
    let host = world();
    let bad = [
        AttachSpec {
            ifname: "much-too-long-name".into(),
            ..spec()
        },
        AttachSpec {
            ifname: "lo".into(),
            ..spec()
        },
        AttachSpec {
            container_id: String::new(),
            ..spec()
        },
        AttachSpec { mtu: 10, ..spec() },
        AttachSpec {
            address: Ipv4Addr::UNSPECIFIED,
            ..spec()
        },
    ];
    for s in bad {
        assert!(
            matches!(attach(&host, &s).await, Err(DataplaneError::Invalid(_))),
            "{s:?}"
        );
    }
    assert!(host.log().is_empty());
    let missing = AttachSpec {
        netns: "/run/netns/nope".into(),
        ..spec()
    };
    assert!(attach(&host, &missing).await.is_err());
}

#[tokio::test]
async fn ipv6_gets_a_128_a_link_local_gateway_and_fixed_neighbours() {
    let host = world();
    let v6: std::net::Ipv6Addr = "fd00:244:0:1::5".parse().unwrap();
    let s = AttachSpec {
        address_v6: Some(v6),
        ..spec()
    };
    let info = attach(&host, &s).await.unwrap();
    let h = host.snapshot();
    let hl = h.link(&info.host_ifname).unwrap().info.clone();
    assert_eq!(
        h.routes[&net("fd00:244:0:1::5/128")],
        Route::device(net("fd00:244:0:1::5/128"), hl.index, RTPROT_LATTICE)
    );
    let c = host.snapshot_of(C1).unwrap();
    let cl = c.link("eth0").unwrap().info.clone();
    assert_eq!(h.neighbours[&(hl.index, IpAddr::V6(v6))], cl.mac.unwrap());
    assert!(c.addresses[&cl.index].contains(&net("fd00:244:0:1::5/128")));
    assert_eq!(
        c.routes[&net("::/0")].target,
        RouteTarget::Gateways(vec![NextHop {
            gateway: IpAddr::V6(GATEWAY_V6),
            ifindex: Some(cl.index)
        }])
    );
    assert_eq!(
        c.neighbours[&(cl.index, IpAddr::V6(GATEWAY_V6))],
        info.host_mac
    );
    // Link-local or multicast container addresses are refused.
    for bad in ["fe80::5", "ff02::1", "::1"] {
        let s = AttachSpec {
            address_v6: Some(bad.parse().unwrap()),
            ..spec()
        };
        assert!(matches!(
            attach(&host, &s).await,
            Err(DataplaneError::Invalid(_))
        ));
    }
}
