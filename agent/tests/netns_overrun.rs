#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: lost netlink notifications against the real kernel. The reconciler's event
//! socket gets a small receive buffer (`dataplane.netlink_receive_buffer`: 4096 bytes, which the
//! kernel doubles), and a route storm in the host namespace arrives while the reconciler cannot
//! read (the test runs on a single-threaded runtime and blocks it for the storm, as a busy
//! daemon would be). The socket overflows (`ENOBUFS`), so the notification of a container route
//! deleted in the middle of the storm is lost for certain; the route is repaired anyway, by the
//! full resync the overrun forces (the periodic resync is an hour away). The storm is shorter
//! than latticed's internal event queue, so only the kernel's own overrun can be counted.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use agent::daemon::{Reconciler, Timing};
use agent::dataplane::{prepare_host, AttachSpec};
use agent::kernel::NetlinkKernel;
use agent::metrics::Metrics;
use common::{netns_path, run, Namespaces};
// The reconciler shares the test's thread: poll without blocking it.
use testkit::eventually_async as eventually;

const PATIENCE: Duration = Duration::from_secs(20);

/// `lattice_netlink_resyncs_total` as exported.
fn overrun_resyncs(m: &Metrics) -> u64 {
    m.encode()
        .lines()
        .find_map(|l| l.strip_prefix("lattice_netlink_resyncs_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

// Single-threaded on purpose: while `ip -batch` runs (a blocking call) nothing reads the
// event socket.
#[tokio::test]
async fn an_overrun_during_a_route_storm_forces_a_resync_that_repairs() {
    if !testkit::require_root() {
        return;
    }
    let pid = std::process::id();
    let [host, c1] = ["host", "c1"].map(|n| format!("lo-{n}-{pid}"));
    let _guard = Namespaces::create(&[host.clone(), c1.clone()]);
    // A device for the storm's routes.
    run(&[
        "ip", "-n", &host, "link", "add", "storm0", "type", "veth", "peer", "name", "storm1",
    ]);
    run(&["ip", "-n", &host, "link", "set", "storm0", "up"]);
    run(&["ip", "-n", &host, "link", "set", "storm1", "up"]);

    let k = NetlinkKernel::in_netns(&netns_path(&host)).await.unwrap();
    let k = Arc::new(k.with_event_buffer(4096));
    prepare_host(k.as_ref()).await.unwrap();
    let r = Arc::new(Reconciler::new(
        k.clone(),
        vec!["10.244.1.0/24".parse().unwrap()],
        None,
    ));
    let metrics = Arc::new(Metrics::new(None).unwrap());
    r.set_metrics(metrics.clone());
    let (_learned, rx) = tokio::sync::mpsc::channel(8);
    let timing = Timing {
        debounce: Duration::from_millis(100),
        resync: Duration::from_secs(3600),
        adopt_window: Duration::from_secs(3600),
    };
    let driver = tokio::spawn(r.clone().run(rx, timing));
    r.attach(&AttachSpec {
        netns: netns_path(&c1),
        container_id: "storm-ctr".into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, 5),
        address_v6: None,
        mtu: 1500,
    })
    .await
    .unwrap();
    let ours = || run(&["ip", "-n", &host, "route", "show", "proto", "252"]);
    assert!(eventually(PATIENCE, || ours().contains("10.244.1.5 dev")).await);
    // Let the attach's own notifications pass.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = overrun_resyncs(&metrics);

    // 3000 route additions with the container route's deletion in the middle, in one
    // `ip -batch`: far more than an 8 KiB socket buffer holds, fewer than the event queue.
    // Blocking on purpose: the runtime (hence the event reader) is stalled meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("storm.batch");
    let mut lines = Vec::new();
    for i in 0..3000u32 {
        if i == 1500 {
            lines.push("route del 10.244.1.5/32".to_string());
        }
        let [_, _, a, b] = i.to_be_bytes();
        lines.push(format!("route add 10.200.{a}.{b}/32 dev storm0"));
    }
    std::fs::write(&batch, lines.join("\n") + "\n").unwrap();
    run(&["ip", "-n", &host, "-batch", batch.to_str().unwrap()]);

    assert!(
        eventually(PATIENCE, || overrun_resyncs(&metrics) > before).await,
        "no overrun counted: {}",
        metrics.encode()
    );
    assert!(
        eventually(PATIENCE, || ours().contains("10.244.1.5 dev")).await,
        "container route not repaired: {}",
        ours()
    );
    // The storm's routes are someone else's: left alone.
    let storm = run(&["ip", "-n", &host, "route", "show", "dev", "storm0"]);
    assert_eq!(
        storm.lines().filter(|l| l.starts_with("10.200.")).count(),
        3000
    );
    driver.abort();
}
