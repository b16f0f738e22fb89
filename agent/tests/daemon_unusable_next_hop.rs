#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole daemon on a `FakeKernel` (no root), with one BGP peer played over loopback by
//! the test kit's byte builders: a best route whose next hop the kernel cannot use (on no
//! connected network) is not installed, and latticed says so (issue 19 item 4): `lattice
//! status` is DEGRADED with the count, `lattice routes` gives the reason; once the peer
//! withdraws it, health is back.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent::config::Config;
use agent::daemon::{self, Listeners, ManualClock};
use agent::kernel::FakeKernel;
use api::client::call;
use api::proto::{NodeStatus, Reply, Request, RouteStatus};
use testkit::bgp::{
    as_path, concat, frame_len, keepalive, next_hop, open, origin_igp, prefix, update, KEEPALIVE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PEER: &str = "127.0.19.41";
const PEER_AS: u32 = 65001;
const PREFIX: &str = "10.244.7.0/24";

fn config(dir: &Path, port: u16) -> Config {
    let text = format!(
        "node: {{ name: nh1, asn: 65101, router_id: 10.0.0.1 }}\n\
         cluster: {{ cidr: 10.244.0.0/16 }}\n\
         ipam: {{ state_dir: {}, block: 10.244.1.0/24 }}\n\
         api: {{ socket: {} }}\n\
         metrics: {{ enabled: false }}\n\
         docker: {{ enabled: false }}\n\
         bgp:\n  peers:\n    - {{ address: {PEER}, port: {port}, asn: {PEER_AS}, connect_retry: 1 }}\n",
        dir.join("state").display(),
        dir.join("api.sock").display(),
    );
    Config::from_yaml_str(&text, "nh1.yaml").unwrap()
}

/// Read one whole BGP message; its type.
async fn read_message(s: &mut TcpStream, buf: &mut Vec<u8>) -> u8 {
    loop {
        if let Some(len) = frame_len(buf) {
            let kind = buf[18];
            buf.drain(..len);
            return kind;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("latticed sent nothing")
            .unwrap();
        assert!(n > 0, "latticed closed the session");
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn status(socket: &Path) -> NodeStatus {
    match call(socket, &Request::Status).await.unwrap() {
        Reply::Status(s) => s,
        other => panic!("status: {other:?}"),
    }
}

async fn route(socket: &Path) -> Option<RouteStatus> {
    match call(socket, &Request::Routes).await.unwrap() {
        Reply::Routes { routes, .. } => routes
            .into_iter()
            .find(|r| r.prefix == PREFIX.parse().unwrap()),
        other => panic!("routes: {other:?}"),
    }
}

/// Ask for the status until `ok` holds (latticed applies routes asynchronously).
async fn status_when(socket: &Path, ok: impl Fn(&NodeStatus) -> bool) -> NodeStatus {
    for _ in 0..400 {
        let s = status(socket).await;
        if ok(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    status(socket).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_best_route_the_kernel_cannot_use_makes_status_degraded_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let peer = TcpListener::bind((PEER, 0)).await.unwrap();
    let config = config(dir.path(), peer.local_addr().unwrap().port());
    let socket = dir.path().join("api.sock");
    let listeners = Listeners {
        api: agent::api::server::bind(&socket).unwrap(),
        metrics: None,
        docker: None,
        bgp: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(daemon::run(
        config,
        Arc::new(FakeKernel::new()),
        listeners,
        Arc::new(ManualClock::new(1_000_000)),
        async {
            let _ = stopped.await;
        },
    ));

    // The peer: OPEN, KEEPALIVE, then a route via 10.99.0.5, which no link of the (fake)
    // host is connected to.
    let (mut s, _) = tokio::time::timeout(Duration::from_secs(20), peer.accept())
        .await
        .expect("latticed never connected")
        .unwrap();
    let mut buf = Vec::new();
    assert_eq!(read_message(&mut s, &mut buf).await, 1, "OPEN first");
    s.write_all(&open(PEER_AS, Ipv4Addr::new(10, 0, 0, 41), 90))
        .await
        .unwrap();
    s.write_all(&keepalive()).await.unwrap();
    while read_message(&mut s, &mut buf).await != KEEPALIVE {}
    let attributes = concat(&[
        &origin_igp(),
        &as_path(&[PEER_AS]),
        &next_hop(Ipv4Addr::new(10, 99, 0, 5)),
    ]);
    s.write_all(&update(&[], &attributes, &prefix(PREFIX)))
        .await
        .unwrap();

    let st = status_when(&socket, |s| s.routes_not_installed > 0).await;
    assert_eq!(st.routes_not_installed, 1, "{st:?}");
    assert!(!api::format::healthy(&st));
    let text = api::format::status(&st);
    assert!(text.contains("1 best route(s) not in the kernel"), "{text}");
    let r = route(&socket).await.expect("the prefix in lattice routes");
    assert!(!r.in_kernel);
    let problem = r.problem.clone().unwrap_or_default();
    assert!(
        problem.contains("next hop 10.99.0.5 is not on-link"),
        "{r:?}"
    );
    assert!(!api::format::routes_healthy(&[r]));

    // Withdrawn: nothing is missing any more.
    s.write_all(&update(&prefix(PREFIX), &[], &[]))
        .await
        .unwrap();
    let st = status_when(&socket, |s| s.routes_not_installed == 0).await;
    assert_eq!(st.routes_not_installed, 0, "{st:?}");
    assert!(route(&socket).await.is_none());

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), daemon)
        .await
        .expect("latticed did not stop")
        .unwrap()
        .unwrap();
}
