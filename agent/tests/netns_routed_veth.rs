#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: routed-veth wiring and learned routes through the real kernel, entirely inside
//! namespaces this test creates (`lt-*-<pid>`) and deletes again, also on failure.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use agent::dataplane::{
    attach, detach, ensure_blackhole, execute, prepare_host, AttachSpec, LearnedRoute,
    LearnedRoutes, Reachability, RTPROT_LATTICE,
};
use agent::kernel::{Kernel, KernelError, NetlinkKernel, Route, RTPROT_BGP};
use common::{netns_path, output, ping, run, Namespaces};
use ipnet::IpNet;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn root_ip_forward() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap()
}

fn spec(ns: &str, id: &str, last: u8) -> AttachSpec {
    AttachSpec {
        netns: netns_path(ns),
        container_id: id.into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, last),
        address_v6: None,
        mtu: 1400,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_containers_talk_through_host_routes_and_learned_routes_are_multipath() {
    if !testkit::require_root() {
        return;
    }
    let pid = std::process::id();
    let [host, c1, c2] = ["host", "c1", "c2"].map(|n| format!("lt-{n}-{pid}"));
    let _guard = Namespaces::create(&[host.clone(), c1.clone(), c2.clone()]);
    let root_forward = root_ip_forward();

    let k = NetlinkKernel::in_netns(&netns_path(&host)).await.unwrap();
    prepare_host(&k).await.unwrap();
    assert_eq!(k.read_sysctl("net/ipv4/ip_forward").await.unwrap(), "1");

    let a1 = attach(&k, &spec(&c1, "ctr-one", 1)).await.unwrap();
    let a2 = attach(&k, &spec(&c2, "ctr-two", 2)).await.unwrap();
    // A restarted agent re-attaching a running container changes nothing.
    assert_eq!(attach(&k, &spec(&c2, "ctr-two", 2)).await.unwrap(), a2);
    ensure_blackhole(&k, net("10.244.1.0/24")).await.unwrap();

    assert!(
        ping(&c1, "10.244.1.2"),
        "c1 -> c2 through the host's /32 routes"
    );
    assert!(ping(&c2, "10.244.1.1"), "c2 -> c1");
    assert!(
        !ping(&c1, "10.244.1.9"),
        "unassigned block address is blackholed"
    );
    let ours = run(&["ip", "-n", &host, "route", "show", "proto", "252"]);
    assert!(ours.contains("blackhole 10.244.1.0/24"), "{ours}");
    assert!(
        ours.contains(&format!("10.244.1.1 dev {} scope link", a1.host_ifname)),
        "{ours}"
    );
    let ctr = run(&["ip", "-n", &c1, "route"]);
    assert!(ctr.contains("default via 169.254.1.1 dev eth0"), "{ctr}");
    let neigh = run(&["ip", "-n", &c1, "neigh", "show", "169.254.1.1"]);
    assert!(
        neigh.contains(&a1.host_mac.to_string()) && neigh.contains("PERMANENT"),
        "{neigh}"
    );

    // An uplink whose addresses live only in the test's host namespace.
    run(&[
        "ip", "-n", &host, "link", "add", "up0", "type", "veth", "peer", "name", "up1",
    ]);
    run(&[
        "ip",
        "-n",
        &host,
        "addr",
        "add",
        "10.99.0.1/24",
        "dev",
        "up0",
    ]);
    run(&["ip", "-n", &host, "link", "set", "up0", "up"]);
    run(&["ip", "-n", &host, "link", "set", "up1", "up"]);

    let mut learned = LearnedRoutes::new();
    learned.protect(net("10.244.1.0/24"));
    let (gw2, gw3) = (Ipv4Addr::new(10, 99, 0, 2), Ipv4Addr::new(10, 99, 0, 3));
    // Reachability from the kernel itself: 10.99.0.0/24 is connected on up0.
    let reach = Reachability::new(&k.links().await.unwrap(), &k.all_addresses().await.unwrap());
    let mut learn = |hops: Vec<Ipv4Addr>| {
        learned.apply(
            &LearnedRoute {
                prefix: net("10.244.2.0/24"),
                next_hops: hops.into_iter().map(|h| IpAddr::V4(h).into()).collect(),
            },
            &reach,
        )
    };
    let bgp_routes = || run(&["ip", "-n", &host, "route", "show", "proto", "bgp"]);

    execute(&k, &learn(vec![gw3, gw2])).await.unwrap();
    let shown = bgp_routes();
    assert!(shown.contains("10.244.2.0/24"), "{shown}");
    assert!(shown.contains("nexthop via 10.99.0.2 dev up0"), "{shown}");
    assert!(shown.contains("nexthop via 10.99.0.3 dev up0"), "{shown}");
    let listed = k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].gateways(), [IpAddr::V4(gw2), IpAddr::V4(gw3)]);

    execute(&k, &learn(vec![gw2])).await.unwrap();
    let shown = bgp_routes();
    assert!(
        shown.contains("10.244.2.0/24 via 10.99.0.2 dev up0"),
        "{shown}"
    );
    assert!(!shown.contains("nexthop"), "{shown}");

    execute(&k, &learn(vec![])).await.unwrap();
    assert_eq!(bgp_routes().trim(), "");

    detach(&k, "ctr-one", "eth0").await.unwrap();
    let gone = output(&["ip", "-n", &host, "link", "show", &a1.host_ifname]);
    assert!(!gone.status.success(), "host veth deleted");
    assert!(!output(&["ip", "-n", &c1, "link", "show", "eth0"])
        .status
        .success());
    let ours = run(&["ip", "-n", &host, "route", "show", "proto", "252"]);
    assert!(!ours.contains("10.244.1.1 "), "{ours}");
    assert!(!ping(&c2, "10.244.1.1"));
    detach(&k, "ctr-one", "eth0").await.unwrap();

    assert_eq!(
        root_ip_forward(),
        root_forward,
        "the root namespace was not touched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_replies_map_onto_error_variants() {
    if !testkit::require_root() {
        return;
    }
    let pid = std::process::id();
    let [a, b] = ["ka", "kb"].map(|n| format!("lt-{n}-{pid}"));
    let _guard = Namespaces::create(&[a.clone(), b.clone()]);
    let k = NetlinkKernel::in_netns(&netns_path(&a)).await.unwrap();

    assert!(matches!(
        k.link_by_name("nope0").await,
        Err(KernelError::NotFound { .. })
    ));
    assert!(k
        .delete_route(net("10.7.0.0/16"), RTPROT_BGP)
        .await
        .unwrap_err()
        .is_not_found());
    assert!(k
        .netns(Path::new("/run/netns/lt-absent"))
        .await
        .unwrap_err()
        .is_not_found());
    assert!(k.write_sysctl("kernel/hostname", "x").await.is_err());

    k.create_veth("va", "vb", &netns_path(&b)).await.unwrap();
    let dup = k.create_veth("va", "vc", &netns_path(&b)).await;
    assert!(matches!(dup, Err(KernelError::Exists { .. })), "{dup:?}");
    let va = k.link_by_name("va").await.unwrap();
    let kb = k.netns(&netns_path(&b)).await.unwrap();
    let vb = kb.link_by_name("vb").await.unwrap();
    assert_eq!(
        (va.peer_index, vb.peer_index),
        (Some(vb.index), Some(va.index))
    );
    assert!(va.mac.is_some() && !va.up);

    // A blackhole reads back as one.
    k.replace_route(&Route::blackhole(net("10.8.0.0/16"), RTPROT_LATTICE))
        .await
        .unwrap();
    assert_eq!(
        k.routes(RTPROT_LATTICE).await.unwrap(),
        [Route::blackhole(net("10.8.0.0/16"), RTPROT_LATTICE)]
    );
    k.delete_link(va.index).await.unwrap();
    assert!(kb.link_by_name("vb").await.unwrap_err().is_not_found());
}

/// The kernel runs one dump at a time per netlink socket: concurrent listings through one
/// `NetlinkKernel` (a resync and an API request, say) must all succeed, not meet EBUSY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_dumps_on_one_socket_all_succeed() {
    if !testkit::require_root() {
        return;
    }
    let name = format!("lt-kd-{}", std::process::id());
    let _guard = Namespaces::create(std::slice::from_ref(&name));
    let k = NetlinkKernel::in_netns(&netns_path(&name)).await.unwrap();
    // Enough routes that each dump takes several replies.
    for i in 0..2000u32 {
        let prefix = format!("10.{}.{}.0/24", 100 + i / 256, i % 256);
        k.replace_route(&Route::blackhole(net(&prefix), RTPROT_BGP))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..16 {
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                k.routes(RTPROT_BGP).await.map(|r| r.len())
            } else {
                k.links().await.map(|l| l.len())
            }
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let n = t.await.unwrap().unwrap_or_else(|e| panic!("dump {i}: {e}"));
        assert!(n >= 1, "dump {i} listed nothing");
    }
}

/// `delete_link` returns once the link is unregistered (before the kernel's RCU wait), so by
/// then the veth, its peer in the other namespace and the routes through it must be gone; and
/// deletions from one `NetlinkKernel` run at once, each on its own socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_deletions_leave_nothing_behind_when_they_return() {
    if !testkit::require_root() {
        return;
    }
    let pid = std::process::id();
    let [a, b] = ["dla", "dlb"].map(|n| format!("lt-{n}-{pid}"));
    let _guard = Namespaces::create(&[a.clone(), b.clone()]);
    let k = NetlinkKernel::in_netns(&netns_path(&a)).await.unwrap();
    let kb = k.netns(&netns_path(&b)).await.unwrap();
    let mut links = Vec::new();
    for i in 0..10u8 {
        let (name, peer) = (format!("dl{i}"), format!("dp{i}"));
        k.create_veth(&name, &peer, &netns_path(&b)).await.unwrap();
        let link = k.link_by_name(&name).await.unwrap();
        k.set_link_up(link.index).await.unwrap();
        let dest = net(&format!("10.9.0.{i}/32"));
        k.replace_route(&Route::device(dest, link.index, RTPROT_LATTICE))
            .await
            .unwrap();
        links.push((name, peer, link.index, dest));
    }
    assert_eq!(k.routes(RTPROT_LATTICE).await.unwrap().len(), 10);
    let deletions = links.iter().map(|(name, peer, index, dest)| {
        let (k, kb, b_path) = (k.clone(), kb.clone(), netns_path(&b));
        async move {
            k.delete_link(*index).await.unwrap();
            assert!(k.link_by_name(name).await.unwrap_err().is_not_found());
            assert!(kb.link_by_name(peer).await.unwrap_err().is_not_found());
            let routes = k.routes(RTPROT_LATTICE).await.unwrap();
            assert!(routes.iter().all(|r| r.destination != *dest), "{routes:?}");
            // The name is free again at once.
            k.create_veth(name, peer, &b_path).await.unwrap();
        }
    });
    futures::future::join_all(deletions).await;
    // A refusal comes back as the kernel's error, not as success.
    let gone = k.delete_link(links[0].2).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    let again = k.link_by_name(&links[0].0).await.unwrap();
    k.delete_link(again.index).await.unwrap();
    assert!(k
        .link_by_name(&links[0].0)
        .await
        .unwrap_err()
        .is_not_found());
}
