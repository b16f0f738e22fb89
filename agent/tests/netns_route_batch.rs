#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: `Kernel::apply_routes` on netlink (many changes per `sendmsg`, acks only for
//! failures and chunk ends) against the real kernel: every change lands in order across chunk
//! boundaries, and each failure comes back on the index of the change that failed.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use agent::kernel::{Kernel, KernelError, NetlinkKernel, RouteOp, RTPROT_BGP};
use common::{netns_path, run, Namespaces};
use ipnet::{IpNet, Ipv4Net};

fn prefix(i: u32) -> IpNet {
    let [_, _, a, b] = i.to_be_bytes();
    IpNet::V4(Ipv4Net::new(Ipv4Addr::new(16, a, b, 0), 24).unwrap())
}

#[tokio::test]
async fn batched_changes_apply_in_order_and_failures_keep_their_index() {
    if !testkit::require_root() {
        return;
    }
    let ns = format!("rb-{}", std::process::id());
    let _guard = Namespaces::create(std::slice::from_ref(&ns));
    run(&[
        "ip", "-n", &ns, "link", "add", "up0", "type", "veth", "peer", "name", "up1",
    ]);
    run(&["ip", "-n", &ns, "addr", "add", "10.99.0.1/24", "dev", "up0"]);
    run(&["ip", "-n", &ns, "link", "set", "up0", "up"]);
    run(&["ip", "-n", &ns, "link", "set", "up1", "up"]);
    let k = NetlinkKernel::in_netns(&netns_path(&ns)).await.unwrap();
    let hop: IpAddr = "10.99.0.2".parse().unwrap();
    let hop2: IpAddr = "10.99.0.3".parse().unwrap();
    let nowhere: IpAddr = "10.98.0.9".parse().unwrap();

    // 3000 installs (several chunks), with a bad next hop and a missing delete among them, and
    // a later change to an earlier destination (order kept across chunks).
    let mut ops: Vec<RouteOp> = (0..3000)
        .map(|i| RouteOp::learned(prefix(i), &[hop.into()]))
        .collect();
    ops.insert(1, RouteOp::learned(prefix(90_000), &[nowhere.into()]));
    ops.insert(
        2,
        RouteOp::Delete {
            destination: prefix(90_001),
            protocol: RTPROT_BGP,
        },
    );
    ops.push(RouteOp::learned(prefix(5), &[hop.into(), hop2.into()]));
    ops.push(RouteOp::Delete {
        destination: prefix(7),
        protocol: RTPROT_BGP,
    });
    let failed = k.apply_routes(&ops).await.unwrap();
    let idx: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(idx, [1, 2], "{failed:?}");
    assert!(
        matches!(failed[0].1, KernelError::Netlink { .. }),
        "{:?}",
        failed[0].1
    );
    assert!(failed[1].1.is_not_found(), "{:?}", failed[1].1);

    let routes = k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(routes.len(), 2999, "3000 installed, one deleted");
    let five = routes.iter().find(|r| r.destination == prefix(5)).unwrap();
    let gateways = five.gateways();
    assert_eq!(gateways, [hop, hop2], "the later change to 16.0.5.0/24 won");
    assert!(routes.iter().all(|r| r.destination != prefix(7)));

    // And all of it withdrawn in one call.
    let gone: Vec<RouteOp> = routes
        .iter()
        .map(|r| RouteOp::Delete {
            destination: r.destination,
            protocol: RTPROT_BGP,
        })
        .collect();
    assert!(k.apply_routes(&gone).await.unwrap().is_empty());
    assert!(k.routes(RTPROT_BGP).await.unwrap().is_empty());
}
