#![allow(clippy::unwrap_used)]
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::*;
use crate::daemon::cleanup::{is_lattice_link, remove_programmed};
use crate::dataplane::host_ifname;
use crate::kernel::FakeKernel;

const C1: &str = "/run/netns/c1";

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn spec() -> AttachSpec {
    AttachSpec {
        netns: PathBuf::from(C1),
        container_id: "c1".into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, 5),
        address_v6: None,
        mtu: 1500,
    }
}

fn timing() -> Timing {
    Timing {
        debounce: Duration::from_millis(100),
        resync: Duration::from_secs(30),
        adopt_window: Duration::from_secs(60),
    }
}

struct Running {
    k: FakeKernel,
    r: Arc<Reconciler>,
    learned: mpsc::Sender<Vec<LearnedRoute>>,
}

async fn start(store: Option<PathBuf>) -> Running {
    let k = FakeKernel::new();
    k.add_netns(C1);
    let r = Arc::new(Reconciler::new(
        Arc::new(k.clone()),
        vec![net("10.244.1.0/24")],
        store,
    ));
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(r.clone().run(rx, timing()));
    settle().await;
    Running { k, r, learned: tx }
}

/// Lets the driver run until it waits for time again.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

async fn wait(d: Duration) {
    tokio::time::sleep(d).await;
    settle().await;
}

/// An uplink `up0` with 10.0.0.1/24 (so 10.0.0.x next hops are reachable), noticed.
async fn uplink(k: &FakeKernel) {
    k.add_netns("/run/netns/tor");
    k.create_veth("up0", "tor0", "/run/netns/tor".as_ref())
        .await
        .unwrap();
    let up0 = k.link_by_name("up0").await.unwrap();
    k.set_link_up(up0.index).await.unwrap();
    k.add_address(up0.index, net("10.0.0.1/24")).await.unwrap();
    wait(Duration::from_millis(150)).await;
}

#[tokio::test(start_paused = true)]
async fn a_deleted_route_is_restored_after_the_debounce_not_before_the_next_period() {
    let t = start(None).await;
    assert!(t.k.snapshot().routes.contains_key(&net("10.244.1.0/24")));
    t.r.attach(&spec()).await.unwrap();
    wait(Duration::from_secs(1)).await;
    let resyncs = t.r.stats.resyncs.load(Ordering::Relaxed);

    t.k.delete_route(net("10.244.1.5/32"), RTPROT_LATTICE)
        .await
        .unwrap();
    t.k.delete_route(net("10.244.1.0/24"), RTPROT_LATTICE)
        .await
        .unwrap();
    settle().await;
    assert!(!t.k.snapshot().routes.contains_key(&net("10.244.1.5/32")));
    wait(Duration::from_millis(150)).await;
    let routes = t.k.snapshot().routes;
    assert!(routes.contains_key(&net("10.244.1.5/32")), "repaired");
    assert!(routes.contains_key(&net("10.244.1.0/24")), "repaired");
    // Two deletions, one resync.
    assert_eq!(t.r.stats.resyncs.load(Ordering::Relaxed), resyncs + 1);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_veth_is_rewired_and_our_own_changes_trigger_nothing() {
    let t = start(None).await;
    t.r.attach(&spec()).await.unwrap();
    wait(Duration::from_secs(1)).await;
    let before = t.r.stats.resyncs.load(Ordering::Relaxed);
    // Learned routes in and out: our own writes are not drift.
    let hop = vec!["10.0.0.2".parse().unwrap()];
    let up = |hops: Vec<crate::kernel::NextHop>| {
        vec![LearnedRoute {
            prefix: net("10.244.2.0/24"),
            next_hops: hops,
        }]
    };
    t.learned.send(up(hop)).await.unwrap();
    settle().await;
    // Nothing reachable yet (no uplink address): nothing installed.
    assert!(t.k.routes(RTPROT_BGP).await.unwrap().is_empty());
    t.learned.send(up(vec![])).await.unwrap();
    wait(Duration::from_secs(1)).await;
    assert_eq!(t.r.stats.resyncs.load(Ordering::Relaxed), before);

    let veth = t.k.link_by_name(&host_ifname("c1", "eth0")).await.unwrap();
    t.k.delete_link(veth.index).await.unwrap();
    wait(Duration::from_millis(150)).await;
    let again = t.k.link_by_name(&host_ifname("c1", "eth0")).await.unwrap();
    assert!(again.up);
    assert!(t.k.snapshot_of(C1).unwrap().link("eth0").is_some());
    assert!(t.k.snapshot().routes.contains_key(&net("10.244.1.5/32")));
}

#[tokio::test(start_paused = true)]
async fn learned_routes_follow_reachability_and_stale_ones_go_after_adoption() {
    let t = start(None).await;
    // A route from a previous run.
    t.k.replace_route(&crate::kernel::Route::via(
        net("10.244.9.0/24"),
        &[Ipv4Addr::new(10, 0, 0, 2)],
        RTPROT_BGP,
    ))
    .await
    .unwrap();
    uplink(&t.k).await;
    let batch = vec![LearnedRoute {
        prefix: net("10.244.2.0/24"),
        next_hops: vec!["10.0.0.3".parse().unwrap(), "10.0.0.2".parse().unwrap()],
    }];
    t.learned.send(batch).await.unwrap();
    settle().await;
    let bgp = t.k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(bgp.len(), 2, "the stale one stays during adoption: {bgp:?}");
    wait(Duration::from_secs(61)).await;
    let bgp = t.k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(bgp.len(), 1, "{bgp:?}");
    assert_eq!(bgp[0].gateways().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn echoes_of_our_withdrawals_are_never_drift_but_a_wanted_route_deleted_is() {
    let t = start(None).await;
    uplink(&t.k).await;
    let route = |prefix: &str, hops: Vec<crate::kernel::NextHop>| LearnedRoute {
        prefix: net(prefix),
        next_hops: hops,
    };
    let hop = || vec!["10.0.0.2".parse().unwrap()];
    t.learned
        .send(vec![
            route("10.244.2.0/24", hop()),
            route("10.244.3.0/24", hop()),
        ])
        .await
        .unwrap();
    wait(Duration::from_secs(1)).await;
    assert_eq!(t.k.routes(RTPROT_BGP).await.unwrap().len(), 2);
    let before = t.r.stats.resyncs.load(Ordering::Relaxed);
    t.learned
        .send(vec![route("10.244.2.0/24", vec![])])
        .await
        .unwrap();
    wait(Duration::from_secs(1)).await;
    assert_eq!(
        t.r.stats.resyncs.load(Ordering::Relaxed),
        before,
        "no resync for our own withdrawal"
    );
    // Its echo arriving again, after `own_deletes` forgot it (bounded: the echoes of a full
    // table withdrawn lag by more than its bound): still ours, not drift.
    let echo = |prefix: &str| crate::kernel::KernelEvent::Route {
        destination: net(prefix),
        protocol: RTPROT_BGP,
        deleted: true,
    };
    assert!(!t.r.relevant(&echo("10.244.2.0/24")).await);
    assert!(t.r.relevant(&echo("10.244.3.0/24")).await, "still wanted");
    // Someone deletes a learned route BGP still wants: drift, repaired.
    t.k.delete_route(net("10.244.3.0/24"), RTPROT_BGP)
        .await
        .unwrap();
    wait(Duration::from_millis(150)).await;
    assert_eq!(t.r.stats.resyncs.load(Ordering::Relaxed), before + 1);
    let bgp = t.k.routes(RTPROT_BGP).await.unwrap();
    assert_eq!(bgp.len(), 1, "{bgp:?}");
    assert_eq!(bgp[0].destination, net("10.244.3.0/24"));
}

#[tokio::test(start_paused = true)]
async fn without_events_the_periodic_resync_repairs() {
    let t = start(None).await;
    // Drift that raises no notification the reconciler considers (a same-protocol change).
    t.k.replace_route(&crate::kernel::Route::blackhole(
        net("10.244.1.0/25"),
        RTPROT_LATTICE,
    ))
    .await
    .unwrap();
    wait(Duration::from_secs(5)).await;
    assert!(t.k.snapshot().routes.contains_key(&net("10.244.1.0/25")));
    wait(Duration::from_secs(30)).await;
    assert!(!t.k.snapshot().routes.contains_key(&net("10.244.1.0/25")));
}

#[tokio::test(start_paused = true)]
async fn a_restart_adopts_without_a_single_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join(attachments::FILE);
    let t = start(Some(store.clone())).await;
    t.r.attach(&spec()).await.unwrap();
    wait(Duration::from_secs(1)).await;
    // A second reconciler over the same kernel and records: the restarted latticed.
    t.k.clear_log();
    let r2 = Reconciler::new(
        Arc::new(t.k.clone()),
        vec![net("10.244.1.0/24")],
        Some(store),
    );
    assert_eq!(r2.attachments().await, [spec()]);
    assert_eq!(r2.resync().await.unwrap(), 0);
    assert!(t.k.log().is_empty(), "{:?}", t.k.log());
}

#[tokio::test]
async fn cleanup_removes_our_routes_and_interfaces_only() {
    let k = FakeKernel::new();
    k.add_netns(C1);
    let r = Reconciler::new(Arc::new(k.clone()), vec![net("10.244.1.0/24")], None);
    r.attach(&spec()).await.unwrap();
    r.resync().await.unwrap();
    k.add_netns("/x");
    k.create_veth("eth1", "y", "/x".as_ref()).await.unwrap();
    let eth1 = k.link_by_name("eth1").await.unwrap();
    k.replace_route(&crate::kernel::Route::device(
        net("192.168.0.0/24"),
        eth1.index,
        4,
    ))
    .await
    .unwrap();
    let (routes, links) = remove_programmed(&k).await.unwrap();
    assert_eq!((routes, links), (2, 1));
    let host = k.snapshot();
    assert_eq!(host.routes.len(), 1, "only the foreign route is left");
    assert!(host.link("eth1").is_some());
    assert!(!is_lattice_link("latency0"));
    assert!(is_lattice_link(&host_ifname("a", "b")));
}

#[tokio::test(start_paused = true)]
async fn lost_notifications_force_an_immediate_full_resync() {
    let t = start(None).await;
    t.k.add_netns("/x");
    t.k.create_veth("eth1", "y", "/x".as_ref()).await.unwrap();
    let eth1 = t.k.link_by_name("eth1").await.unwrap();
    settle().await;
    // A burst the subscriber cannot keep up with (it does not run in between): events overflow.
    for i in 0..5000u32 {
        let [_, _, a, b] = i.to_be_bytes();
        let addr = net(&format!("10.50.{a}.{b}/32"));
        t.k.add_address(eth1.index, addr).await.unwrap();
    }
    // This deletion's own notification is lost in the overflow.
    t.k.delete_route(net("10.244.1.0/24"), RTPROT_LATTICE)
        .await
        .unwrap();
    settle().await;
    // No time has passed (no debounce, no period): only the overrun can have caused this.
    assert!(t.k.snapshot().routes.contains_key(&net("10.244.1.0/24")));
}

#[tokio::test(start_paused = true)]
async fn during_a_burst_of_learned_routes_a_resync_waits_for_its_end() {
    let t = start(None).await;
    t.k.add_netns("/x");
    t.k.create_veth("eth1", "y", "/x".as_ref()).await.unwrap();
    let eth1 = t.k.link_by_name("eth1").await.unwrap();
    wait(Duration::from_secs(1)).await;
    let batch = |i: u32| {
        let [_, _, a, b] = i.to_be_bytes();
        vec![LearnedRoute {
            prefix: net(&format!("10.244.{}.{b}/32", 100 + a)),
            next_hops: vec![],
        }]
    };
    t.learned.send(batch(0)).await.unwrap();
    settle().await;
    let before = t.r.stats.resyncs.load(Ordering::Relaxed);
    // Lost notifications in the middle of the burst, a deletion among them.
    for i in 0..5000u32 {
        let [_, _, a, b] = i.to_be_bytes();
        t.k.add_address(eth1.index, net(&format!("10.50.{a}.{b}/32")))
            .await
            .unwrap();
    }
    t.k.delete_route(net("10.244.1.0/24"), RTPROT_LATTICE)
        .await
        .unwrap();
    for i in 1..=20 {
        t.learned.send(batch(i)).await.unwrap();
        wait(Duration::from_millis(50)).await;
    }
    assert_eq!(
        t.r.stats.resyncs.load(Ordering::Relaxed),
        before,
        "no resync while the burst goes on"
    );
    assert!(!t.k.snapshot().routes.contains_key(&net("10.244.1.0/24")));
    // The burst over: one resync repairs what the lost notifications hid.
    wait(Duration::from_millis(200)).await;
    assert_eq!(t.r.stats.resyncs.load(Ordering::Relaxed), before + 1);
    assert!(t.k.snapshot().routes.contains_key(&net("10.244.1.0/24")));
}
