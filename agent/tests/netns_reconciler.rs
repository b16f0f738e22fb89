#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: the reconciler against the real kernel, inside namespaces this test creates.
//! Drift made by hand (`ip route del`, `ip link del`, `ip route replace`) is repaired from
//! netlink notifications alone: the periodic resync is set to an hour so it cannot be the one
//! doing it. Containers are dual-stack and ping each other over IPv4 and IPv6.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use agent::daemon::{Reconciler, Timing};
use agent::dataplane::{host_ifname, prepare_host, AttachSpec, LearnedRoute};
use agent::kernel::NetlinkKernel;
use common::{eventually, netns_path, ns, output, ping, run, Namespaces};

/// Generous bound for a repair that normally takes ~100 ms.
const PATIENCE: Duration = Duration::from_secs(10);

fn spec(ctr: &str, id: &str, last: u8) -> AttachSpec {
    AttachSpec {
        netns: netns_path(ctr),
        container_id: id.into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, last),
        address_v6: Some(Ipv6Addr::new(0xfd00, 0x244, 0, 1, 0, 0, 0, u16::from(last))),
        mtu: 1500,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_from_notifications_and_dual_stack_works() {
    if !testkit::require_root() {
        return;
    }
    let pid = std::process::id();
    let [host, c1, c2, tor] = ["host", "c1", "c2", "tor"].map(|n| format!("lr-{n}-{pid}"));
    let _guard = Namespaces::create(&[host.clone(), c1.clone(), c2.clone(), tor.clone()]);
    // An uplink: 10.99.0.1/24 here, the "ToR" end in its own namespace.
    run(&[
        "ip", "-n", &host, "link", "add", "up0", "type", "veth", "peer", "name", "down0", "netns",
        &tor,
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
    run(&[
        "ip",
        "-n",
        &host,
        "-6",
        "addr",
        "add",
        "fd00:99::1/64",
        "dev",
        "up0",
        "nodad",
    ]);
    run(&["ip", "-n", &host, "link", "set", "up0", "up"]);
    run(&["ip", "-n", &tor, "link", "set", "down0", "up"]);

    let k = Arc::new(NetlinkKernel::in_netns(&netns_path(&host)).await.unwrap());
    prepare_host(k.as_ref()).await.unwrap();
    let blocks = vec![
        "10.244.1.0/24".parse().unwrap(),
        "fd00:244:0:1::/64".parse().unwrap(),
    ];
    let r = Arc::new(Reconciler::new(k.clone(), blocks, None));
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let timing = Timing {
        debounce: Duration::from_millis(100),
        resync: Duration::from_secs(3600),
        adopt_window: Duration::from_secs(3600),
    };
    let driver = tokio::spawn(r.clone().run(rx, timing));

    let a1 = spec(&c1, "ctr-one", 5);
    r.attach(&a1).await.unwrap();
    r.attach(&spec(&c2, "ctr-two", 6)).await.unwrap();
    let hops: Vec<IpAddr> = ["10.99.0.2", "10.99.0.3", "10.98.0.9"]
        .iter()
        .map(|h| h.parse().unwrap())
        .collect();
    let hops6: Vec<IpAddr> = ["fd00:99::2", "fd00:99::3"]
        .iter()
        .map(|h| h.parse().unwrap())
        .collect();
    tx.send(vec![
        LearnedRoute {
            prefix: "10.244.2.0/24".parse().unwrap(),
            next_hops: hops.iter().map(|h| (*h).into()).collect(),
        },
        LearnedRoute {
            prefix: "fd00:244:0:2::/64".parse().unwrap(),
            next_hops: hops6.iter().map(|h| (*h).into()).collect(),
        },
    ])
    .await
    .unwrap();

    let routes = |args: &[&str]| {
        let mut all = vec!["ip", "-n", host.as_str()];
        all.extend_from_slice(args);
        run(&all)
    };
    let bgp = || routes(&["route", "show", "proto", "bgp"]);
    assert!(
        eventually(PATIENCE, || bgp().contains("nexthop via 10.99.0.3")),
        "{}",
        bgp()
    );
    assert!(
        !bgp().contains("10.98.0.9"),
        "unreachable hop left out: {}",
        bgp()
    );

    assert!(ping(&c1, "10.244.1.6"), "c1 -> c2 over IPv4");
    assert!(ping(&c1, "fd00:244:0:1::6"), "c1 -> c2 over IPv6");
    let c_routes = ns(&c1, &["ip", "-6", "route"]);
    assert!(
        c_routes.contains("default via fe80::1 dev eth0"),
        "{c_routes}"
    );

    let ours = || routes(&["route", "show", "proto", "252"]);
    let ours6 = || routes(&["-6", "route", "show", "proto", "252"]);
    let veth = host_ifname("ctr-one", "eth0");

    // A container route deleted by hand.
    run(&["ip", "-n", &host, "route", "del", "10.244.1.5/32"]);
    assert!(
        eventually(PATIENCE, || ours().contains("10.244.1.5 dev")),
        "{}",
        ours()
    );
    run(&[
        "ip",
        "-n",
        &host,
        "-6",
        "route",
        "del",
        "fd00:244:0:1::5/128",
    ]);
    assert!(
        eventually(PATIENCE, || ours6().contains("fd00:244:0:1::5 dev")),
        "{}",
        ours6()
    );

    // The blackholes.
    run(&[
        "ip",
        "-n",
        &host,
        "route",
        "del",
        "blackhole",
        "10.244.1.0/24",
    ]);
    run(&[
        "ip",
        "-n",
        &host,
        "-6",
        "route",
        "del",
        "blackhole",
        "fd00:244:0:1::/64",
    ]);
    assert!(
        eventually(PATIENCE, || ours().contains("blackhole 10.244.1.0/24")),
        "{}",
        ours()
    );
    assert!(
        eventually(PATIENCE, || ours6().contains("blackhole fd00:244:0:1::/64")),
        "{}",
        ours6()
    );

    // The learned route pointed elsewhere by another protocol.
    run(&[
        "ip",
        "-n",
        &host,
        "route",
        "replace",
        "10.244.2.0/24",
        "via",
        "10.99.0.7",
    ]);
    assert!(
        eventually(PATIENCE, || bgp().contains("nexthop via 10.99.0.2")),
        "{}",
        routes(&["route"])
    );

    // The host veth itself: the container's interface goes with it and both come back.
    run(&["ip", "-n", &host, "link", "del", &veth]);
    assert!(
        eventually(PATIENCE, || output(&[
            "ip", "-n", &c1, "link", "show", "eth0"
        ])
        .status
        .success()
            && ping(&c1, "10.244.1.6")),
        "c1 rewired"
    );
    assert!(
        ping(&c2, "fd00:244:0:1::5"),
        "c2 -> c1 over IPv6 after the rewire"
    );
    assert!(
        r.stats.resyncs.load(std::sync::atomic::Ordering::Relaxed) >= 5,
        "each repair was a resync triggered by a notification"
    );
    drop(tx);
    let _ = driver.await;
}
