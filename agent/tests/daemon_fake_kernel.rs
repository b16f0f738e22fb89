#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole daemon, no root: `daemon::run` on a `FakeKernel`, with its API socket in a
//! temporary directory, a manual clock and no metrics, Docker or BGP listener. Driven through
//! the API socket as the CNI plugin and the CLI drive it: attach a container, list it, status,
//! detach; then shut down. The kernel's state is read from the fake.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent::config::Config;
use agent::daemon::{self, Listeners, ManualClock};
use agent::dataplane::{host_ifname, RTPROT_LATTICE};
use agent::kernel::{FakeKernel, RouteTarget};
use api::client::call;
use api::proto::{Reply, Request};
use ipnet::IpNet;

/// The container's namespace: a name in the fake kernel's world, nothing on this host.
const NETNS: &str = "/fake/netns/c1";

fn config(dir: &Path, socket: &Path) -> Config {
    let text = format!(
        "node: {{ name: fake1, asn: 65101, router_id: 10.0.0.1 }}\n\
         cluster: {{ cidr: 10.244.0.0/16 }}\n\
         ipam: {{ state_dir: {}, block: 10.244.1.0/24 }}\n\
         api: {{ socket: {} }}\n\
         metrics: {{ enabled: false }}\n\
         docker: {{ enabled: false }}\n",
        dir.join("state").display(),
        socket.display(),
    );
    Config::from_yaml_str(&text, "fake1.yaml").unwrap()
}

fn host32(a: Ipv4Addr) -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::from(a))
}

/// Ask until latticed answers (it serves the socket once started).
async fn until_up(socket: &Path) -> Reply {
    for _ in 0..200 {
        if let Ok(reply @ Reply::Status(_)) = call(socket, &Request::Status).await {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("latticed did not answer on {}", socket.display());
}

#[tokio::test]
async fn the_whole_daemon_runs_on_the_fake_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let config = config(dir.path(), &socket);
    let kernel = FakeKernel::new();
    kernel.add_netns(NETNS);
    let listeners = Listeners {
        api: agent::api::server::bind(&socket).unwrap(),
        metrics: None,
        docker: None,
        bgp: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(daemon::run(
        config,
        Arc::new(kernel.clone()),
        listeners,
        Arc::new(ManualClock::new(1_000_000)),
        async {
            let _ = stopped.await;
        },
    ));
    until_up(&socket).await;
    let block: IpNet = "10.244.1.0/24".parse().unwrap();
    // Started: the held block is blackholed (proto lattice), the host forwards.
    let host = kernel.snapshot();
    assert!(
        host.routes
            .get(&block)
            .is_some_and(|r| r.target == RouteTarget::Blackhole && r.protocol == RTPROT_LATTICE),
        "{:?}",
        host.routes
    );
    assert_eq!(
        host.sysctls.get("net/ipv4/ip_forward").map(String::as_str),
        Some("1")
    );

    // Attach: the first address of the block, wired as a routed veth.
    let attach = Request::Attach {
        container_id: "c1".into(),
        ifname: "eth0".into(),
        netns: PathBuf::from(NETNS),
        mtu: None,
    };
    let attached = match call(&socket, &attach).await.unwrap() {
        Reply::Attached(a) => a,
        other => panic!("attach: {other:?}"),
    };
    let address = Ipv4Addr::new(10, 244, 1, 0);
    assert_eq!(attached.address, address);
    assert_eq!(attached.host_ifname, host_ifname("c1", "eth0"));
    let host = kernel.snapshot();
    let veth = host.link(&attached.host_ifname).expect("host veth");
    let route = host.routes.get(&host32(address)).expect("container /32");
    assert_eq!(
        route.target,
        RouteTarget::Device {
            ifindex: veth.info.index
        }
    );
    let ctr = kernel.snapshot_of(NETNS).unwrap();
    let eth0 = ctr.link("eth0").expect("eth0 in the container");
    assert!(ctr.addresses[&eth0.info.index].contains(&host32(address)));

    // List and status show it.
    match call(&socket, &Request::List).await.unwrap() {
        Reply::List { attachments } => {
            assert_eq!(attachments.len(), 1, "{attachments:?}");
            assert_eq!(attachments[0].container_id, "c1");
            assert_eq!(attachments[0].address, address);
            assert_eq!(attachments[0].netns, PathBuf::from(NETNS));
        }
        other => panic!("list: {other:?}"),
    }
    match call(&socket, &Request::Status).await.unwrap() {
        Reply::Status(s) => {
            assert_eq!(s.node, "fake1");
            assert_eq!(s.blocks, vec!["10.244.1.0/24".parse().unwrap()]);
            assert_eq!(s.attachments, 1);
            assert!(s.peers.is_empty());
            assert!(s.conflicts.is_empty());
        }
        other => panic!("status: {other:?}"),
    }

    // Detach: the veth, its peer and the /32 go; the address is released.
    let detach = Request::Detach {
        container_id: "c1".into(),
        ifname: "eth0".into(),
    };
    match call(&socket, &detach).await.unwrap() {
        Reply::Detached { released } => assert_eq!(released, Some(address.into())),
        other => panic!("detach: {other:?}"),
    }
    let host = kernel.snapshot();
    assert!(host.link(&attached.host_ifname).is_none());
    assert!(!host.routes.contains_key(&host32(address)));
    assert!(kernel.snapshot_of(NETNS).unwrap().link("eth0").is_none());
    match call(&socket, &Request::List).await.unwrap() {
        Reply::List { attachments } => assert!(attachments.is_empty(), "{attachments:?}"),
        other => panic!("list: {other:?}"),
    }

    // Shutdown: run returns, the socket file goes, kernel routes stay (the block's blackhole).
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("run returns after shutdown")
        .unwrap()
        .unwrap();
    assert!(!socket.exists(), "the API socket is removed");
    assert!(kernel.snapshot().routes.contains_key(&block));
}
